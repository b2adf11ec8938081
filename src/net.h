/*
 * net.h - name resolution and connecting, with a deadline.
 */
#ifndef POSTIE_NET_H
#define POSTIE_NET_H

#include "log.h"

/*
 * Resolve host (name or literal, IPv4 or IPv6) and try every address in
 * turn until one connects, each within timeout seconds. Returns a connected
 * blocking socket with TCP_NODELAY and close-on-exec set.
 * Errors: ERR_NOHOST (68) when the name does not exist, ERR_TEMP (75) for
 * temporary resolver failure, refused or timed-out connects (naming each
 * address tried).
 */
int net_connect(
	const char *host, unsigned port, unsigned timeout, struct error *err);

/* This host's fully qualified name for EHLO (hostname, canonicalised by
   the resolver when possible), "localhost" if there is none. Static
   storage. */
const char *net_fqdn(void);

#endif
