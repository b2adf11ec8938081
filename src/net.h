/*
 * net.h - name resolution and connecting, with a deadline.
 */
#ifndef POSTIE_NET_H
#define POSTIE_NET_H

#include <stddef.h>

#include "log.h"

struct addrinfo;

/* RFC 8305 §5: the "Connection Attempt Delay" before the next address is
   tried alongside the ones still connecting. */
#define NET_ATTEMPT_DELAY_MS 250

/*
 * Resolve host (name or literal, IPv4 or IPv6) and connect to one of its
 * addresses, racing them as net_connect_addrs does; timeout seconds (0:
 * none) bounds the whole connect, not each address. Returns a connected
 * blocking socket with TCP_NODELAY and close-on-exec set.
 * Errors: ERR_NOHOST (68) when the name does not exist, ERR_TEMP (75) for
 * temporary resolver failure, refused or timed-out connects (naming each
 * address tried).
 */
int net_connect(
	const char *host, unsigned port, unsigned timeout, struct error *err);

/*
 * The connect half of net_connect on an explicit address list (in the
 * resolver's order), exposed for the unit tests; everything else should
 * call net_connect. Fast fallback, RFC 8305 style: the addresses are
 * tried in net_order_addrs order; the next one starts when the previous
 * has not connected within NET_ATTEMPT_DELAY_MS or has failed, without
 * abandoning those still connecting; the first to connect wins and the
 * others are closed. -v logs "connecting to ADDR port P" for each attempt
 * started. port is for messages only (the addresses carry their own).
 * Errors: ERR_TEMP naming every address and why it failed.
 */
int net_connect_addrs(const struct addrinfo *list, unsigned port,
	unsigned timeout, struct error *err);

/*
 * Fill out[0..max) with the addresses of list in the order to try them
 * (RFC 8305 §4): families interleaved, the resolver's first family
 * (which its RFC 6724 sort makes IPv6 where IPv6 is usable) leading, each
 * family keeping its own order. Returns how many were stored. Exposed for
 * the unit tests.
 */
size_t net_order_addrs(
	const struct addrinfo *list, const struct addrinfo **out, size_t max);

/*
 * Ask the kernel to acknowledge at once what arrives on the TCP socket fd
 * from now on, and to send an acknowledgement it is holding back. Call it
 * before each wait for the server's reply; a no-op where TCP_QUICKACK
 * does not exist and on sockets that are not TCP.
 */
void net_quickack(int fd);

/* This host's fully qualified name for EHLO (hostname, canonicalised by
   the resolver when possible), "localhost" if there is none. Static
   storage. */
const char *net_fqdn(void);

#endif
