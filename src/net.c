/* STUB: being written; replaced by the real module. */
#include "autoconf.h"

#include "net.h"
int net_connect(const char *host, unsigned port, unsigned timeout, struct error *err) { (void)host; (void)port; (void)timeout; error_set(err, ERR_SOFTWARE, "stub"); return -1; }
const char *net_fqdn(void) { return "localhost"; }
