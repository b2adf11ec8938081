/*
 * net.c - name resolution and connecting with a deadline per address.
 *
 * A name may resolve to several addresses (IPv6 and IPv4, several hosts);
 * each is tried in the resolver's order, each with the full timeout, and
 * when all fail the error names every address and why, so "connection
 * refused on ::1, timed out on 192.0.2.1" is visible in one line.
 */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "net.h"

#define NET_HOST_MAX 256

/* Map a getaddrinfo failure to a class: a name that does not exist is
   permanent (68), a resolver that could not answer is temporary (75). */
static void
net_resolve_error(const char *host, int rc, struct error *err)
{
	char esc[NET_HOST_MAX];

	log_escape(esc, sizeof(esc), host, strlen(host));
	if (rc == EAI_NONAME || rc == EAI_NODATA || rc == EAI_ADDRFAMILY)
		error_set(err, ERR_NOHOST, "host %s: unknown", esc);
	else if (rc == EAI_AGAIN)
		error_set(err, ERR_TEMP,
			"host %s: temporary failure in name resolution", esc);
	else if (rc == EAI_SYSTEM)
		error_set(err, ERR_TEMP, "host %s: %s", esc, strerror(errno));
	else
		error_set(err, ERR_TEMP, "host %s: %s", esc, gai_strerror(rc));
}

/* Wait for a non-blocking connect; 0 or an errno value. */
static int
net_wait_connect(int fd, unsigned timeout)
{
	struct pollfd pfd = {.fd = fd, .events = POLLOUT};
	int ms = timeout == 0               ? -1
		 : timeout > INT_MAX / 1000 ? INT_MAX
					    : (int)timeout * 1000;
	int r, soerr = 0;
	socklen_t slen = sizeof(soerr);

	/* EINTR restarts the full wait: only a signal storm could stretch
	   it, and postie installs no handlers that would cause one. */
	while ((r = poll(&pfd, 1, ms)) < 0 && errno == EINTR)
		;
	if (r < 0)
		return errno;
	if (r == 0)
		return ETIMEDOUT;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &slen) < 0)
		return errno;
	return soerr;
}

/* One address: a connected blocking socket, or -1 with *why set. */
static int
net_try(const struct addrinfo *ai, unsigned timeout, int *why)
{
	int fd, one = 1, e = 0, flags;

	fd = socket(ai->ai_family,
		ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
		ai->ai_protocol);
	if (fd < 0) {
		*why = errno;
		return -1;
	}
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		e = errno == EINPROGRESS || errno == EINTR
			    ? net_wait_connect(fd, timeout)
			    : errno;
	}
	if (e != 0) {
		close(fd);
		*why = e;
		return -1;
	}
	/* No Nagle: a command group is one write and must leave at once. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	flags = fcntl(fd, F_GETFL);
	if (flags >= 0)
		fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
	return fd;
}

static void
net_addr_string(const struct addrinfo *ai, char *addr, size_t size)
{
	if (getnameinfo(ai->ai_addr, ai->ai_addrlen, addr, (socklen_t)size,
		    NULL, 0, NI_NUMERICHOST) != 0)
		snprintf(addr, size, "?");
}

/* "ADDR port P: reason" for the error line; ETIMEDOUT says how long. */
static void
net_note_failure(struct buf *why, const char *addr, unsigned port,
	unsigned timeout, int e)
{
	buf_printf(why, "%s%s port %u: ", why->len ? "; " : "", addr, port);
	if (e == ETIMEDOUT)
		buf_printf(why, "timed out after %u s", timeout);
	else
		buf_addstr(why, strerror(e));
}

int
net_connect(
	const char *host, unsigned port, unsigned timeout, struct error *err)
{
	struct addrinfo hints, *res = NULL, *ai;
	struct buf why;
	char service[16], addr[NI_MAXHOST];
	int rc, fd = -1, e = 0;

	/* No AI_ADDRCONFIG: on a host with only loopback configured it
	   would hide 127.0.0.1 and ::1, which are exactly what we want. */
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	snprintf(service, sizeof(service), "%u", port);
	rc = getaddrinfo(host, service, &hints, &res);
	if (rc != 0) {
		net_resolve_error(host, rc, err);
		return -1;
	}
	buf_init(&why, ERROR_TEXT_MAX);
	for (ai = res; ai && fd < 0; ai = ai->ai_next) {
		net_addr_string(ai, addr, sizeof(addr));
		log_info("connecting to %s port %u", addr, port);
		fd = net_try(ai, timeout, &e);
		if (fd < 0)
			net_note_failure(&why, addr, port, timeout, e);
	}
	if (fd < 0)
		error_set(err, ERR_TEMP, "cannot connect to %s", why.data);
	buf_release(&why);
	freeaddrinfo(res);
	return fd;
}

/* A name we can put after EHLO: letters, digits, '-', '.', '_' only, so
   a strange hostname cannot break the command line. */
static int
net_name_ok(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n < NET_HOST_MAX &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			 "0123456789-._") == n;
}

const char *
net_fqdn(void)
{
	static char name[NET_HOST_MAX];
	struct addrinfo hints, *res = NULL;

	if (name[0])
		return name;
	if (gethostname(name, sizeof(name) - 1) != 0 || !net_name_ok(name)) {
		snprintf(name, sizeof(name), "localhost");
		return name;
	}
	if (strchr(name, '.'))
		return name;
	memset(&hints, 0, sizeof(hints));
	hints.ai_flags = AI_CANONNAME;
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(name, NULL, &hints, &res) == 0 && res->ai_canonname &&
		strchr(res->ai_canonname, '.') &&
		net_name_ok(res->ai_canonname))
		snprintf(name, sizeof(name), "%s", res->ai_canonname);
	if (res)
		freeaddrinfo(res);
	return name;
}
