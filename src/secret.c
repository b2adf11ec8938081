/* STUB: being written; replaced by the real module. */
#include "autoconf.h"

#include "secret.h"
int secret_lookup(const struct secret_query *q, char **out, struct error *err) { (void)q; (void)out; error_set(err, ERR_SOFTWARE, "stub"); return -1; }
void secret_free(char *s) { (void)s; }
