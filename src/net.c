/*
 * net.c - name resolution and connecting with one deadline for the whole
 * connect.
 *
 * A name may resolve to several addresses (IPv6 and IPv4, several hosts).
 * They race, RFC 8305 style: when one has not connected after 250 ms the
 * next starts beside it, so a dead first address costs a quarter second,
 * not the whole timeout. When all fail the error names every address and
 * why, so "connection refused on ::1, timed out on 192.0.2.1" is visible
 * in one line.
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
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "net.h"
#include "xmalloc.h"

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

/* One address of a connect race. */
struct net_attempt {
	const struct addrinfo *ai;
	int fd;          /* while connecting; -1 before, after and on failure */
	int why;         /* errno of the failure, 0 while there is none */
	long long start; /* monotonic ms when started */
	long long end;   /* monotonic ms when it failed */
};

/* The race: the addresses in try order and what is in flight. */
struct net_race {
	struct net_attempt *a;
	size_t n;
	size_t next;          /* first attempt not started yet */
	size_t pending;       /* attempts connecting now */
	long long deadline;   /* of the whole connect; 0 = none */
	long long next_start; /* when the next attempt may start */
	struct pollfd *pfd;   /* scratch for net_race_wait, n entries */
	size_t *pfd_attempt;  /* which attempt each pfd entry is */
	unsigned port;
};

static long long
net_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
net_addr_string(const struct addrinfo *ai, char *addr, size_t size)
{
	if (getnameinfo(ai->ai_addr, ai->ai_addrlen, addr, (socklen_t)size,
		    NULL, 0, NI_NUMERICHOST) != 0)
		snprintf(addr, size, "?");
}

/* From ai on, the first address of family (same) or of another one. */
static const struct addrinfo *
net_skip(const struct addrinfo *ai, int family, int same)
{
	while (ai && (ai->ai_family == family) != same)
		ai = ai->ai_next;
	return ai;
}

size_t
net_order_addrs(
	const struct addrinfo *list, const struct addrinfo **out, size_t max)
{
	const struct addrinfo *mine, *other;
	size_t n = 0;
	int first;

	if (!list)
		return 0;
	/* Two cursors, one per family; take from them in turn until both
	   run out (or the other family never appears). */
	first = list->ai_family;
	mine = list;
	other = net_skip(list, first, 0);
	while ((mine || other) && n < max) {
		if (mine) {
			out[n++] = mine;
			mine = net_skip(mine->ai_next, first, 1);
		}
		if (other && n < max) {
			out[n++] = other;
			other = net_skip(other->ai_next, first, 0);
		}
	}
	return n;
}

/* A failed attempt: closed, its reason kept for the error line. */
static void
net_attempt_fail(struct net_race *r, struct net_attempt *at, int e)
{
	if (at->fd >= 0) {
		close(at->fd);
		r->pending--;
	}
	at->fd = -1;
	at->why = e;
	at->end = net_now_ms();
	/* RFC 8305 §5: a failure starts the next attempt at once. */
	r->next_start = at->end;
}

/* Start the next attempt: 1 connected already (the winner is r->next -
   1), 0 connecting, -1 failed at once (noted). */
static int
net_race_start(struct net_race *r, long long now)
{
	struct net_attempt *at = &r->a[r->next++];
	const struct addrinfo *ai = at->ai;
	char addr[NI_MAXHOST];

	net_addr_string(ai, addr, sizeof(addr));
	log_info("connecting to %s port %u", addr, r->port);
	at->start = now;
	at->fd = socket(ai->ai_family,
		ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
		ai->ai_protocol);
	if (at->fd < 0) {
		net_attempt_fail(r, at, errno);
		return -1;
	}
	r->pending++;
	if (connect(at->fd, ai->ai_addr, ai->ai_addrlen) == 0)
		return 1;
	/* EINTR: the connect carries on in the background, like
	   EINPROGRESS (POSIX connect(2)). */
	if (errno != EINPROGRESS && errno != EINTR) {
		net_attempt_fail(r, at, errno);
		return -1;
	}
	r->next_start = at->start + NET_ATTEMPT_DELAY_MS;
	return 0;
}

/* How long poll may sleep: until the deadline or the next start. */
static int
net_race_wait_ms(const struct net_race *r, long long now)
{
	long long until = r->deadline;

	if (r->next < r->n && (until == 0 || r->next_start < until))
		until = r->next_start;
	if (until == 0)
		return -1;
	if (until <= now)
		return 0;
	return until - now > INT_MAX ? INT_MAX : (int)(until - now);
}

/* Collect the outcome of one finished connect: 1 connected, 0 failed. */
static int
net_race_settle(struct net_race *r, struct net_attempt *at)
{
	int soerr = 0;
	socklen_t slen = sizeof(soerr);

	if (getsockopt(at->fd, SOL_SOCKET, SO_ERROR, &soerr, &slen) < 0)
		soerr = errno;
	if (soerr == 0)
		return 1;
	net_attempt_fail(r, at, soerr);
	return 0;
}

/* Wait for the connects in flight until one finishes, the next start or
   the deadline. Returns the index of a connected attempt, else -1 (the
   ones that failed are noted and closed). */
static long
net_race_wait(struct net_race *r)
{
	size_t i, k = 0;
	int ready, e;

	for (i = 0; i < r->next; i++) {
		if (r->a[i].fd < 0)
			continue;
		r->pfd[k].fd = r->a[i].fd;
		r->pfd[k].events = POLLOUT;
		r->pfd[k].revents = 0;
		r->pfd_attempt[k++] = i;
	}
	ready = poll(r->pfd, k, net_race_wait_ms(r, net_now_ms()));
	if (ready < 0 && errno != EINTR) {
		/* Only ENOMEM in practice: every attempt is lost to it. */
		e = errno;
		for (i = 0; i < k; i++)
			net_attempt_fail(r, &r->a[r->pfd_attempt[i]], e);
		return -1;
	}
	for (i = 0; ready > 0 && i < k; i++) {
		if (r->pfd[i].revents == 0)
			continue;
		if (net_race_settle(r, &r->a[r->pfd_attempt[i]]))
			return (long)r->pfd_attempt[i];
	}
	return -1;
}

/* Run the race to its end: the index of the winner or -1. */
static long
net_race_run(struct net_race *r, unsigned timeout)
{
	long long now = net_now_ms();
	long win;
	size_t i;

	r->deadline = timeout ? now + (long long)timeout * 1000 : 0;
	for (;; now = net_now_ms()) {
		if (r->deadline && now >= r->deadline)
			break;
		if (r->next < r->n &&
			(r->pending == 0 || now >= r->next_start)) {
			if (net_race_start(r, now) == 1)
				return (long)r->next - 1;
			continue;
		}
		if (r->pending == 0)
			return -1; /* every address failed */
		if ((win = net_race_wait(r)) >= 0)
			return win;
	}
	for (i = 0; i < r->next; i++) {
		if (r->a[i].fd < 0)
			continue;
		net_attempt_fail(r, &r->a[i], ETIMEDOUT);
		r->a[i].end = r->deadline;
	}
	return -1;
}

/* "ADDR port P: reason; ..." in try order. A timeout says how long that
   address had: later starters had less than the whole timeout. */
static void
net_race_error(const struct net_race *r, struct error *err)
{
	struct buf why;
	char addr[NI_MAXHOST];
	const struct net_attempt *at;
	long long ms;
	size_t i;

	buf_init(&why, ERROR_TEXT_MAX);
	for (i = 0; i < r->n; i++) {
		at = &r->a[i];
		net_addr_string(at->ai, addr, sizeof(addr));
		buf_printf(
			&why, "%s%s port %u: ", i ? "; " : "", addr, r->port);
		ms = at->end - at->start;
		if (i >= r->next)
			buf_addstr(&why, "not tried before the timeout");
		else if (at->why == ETIMEDOUT && ms % 1000 == 0)
			buf_printf(&why, "timed out after %lld s", ms / 1000);
		else if (at->why == ETIMEDOUT)
			buf_printf(&why, "timed out after %lld.%03lld s",
				ms / 1000, ms % 1000);
		else
			buf_addstr(&why, strerror(at->why));
	}
	error_set(err, ERR_TEMP, "cannot connect to %s", why.data);
	buf_release(&why);
}

/* The winner: the others closed; no Nagle, blocking. */
static int
net_race_finish(struct net_race *r, size_t win)
{
	int fd = r->a[win].fd, one = 1, flags;
	size_t i;

	for (i = 0; i < r->next; i++)
		if (i != win && r->a[i].fd >= 0)
			close(r->a[i].fd);
	/* No Nagle: a command group is one write and must leave at once. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	flags = fcntl(fd, F_GETFL);
	if (flags >= 0)
		fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
	return fd;
}

int
net_connect_addrs(const struct addrinfo *list, unsigned port, unsigned timeout,
	struct error *err)
{
	const struct addrinfo *ai, **order;
	struct net_race r;
	size_t i;
	long win;
	int fd = -1;

	memset(&r, 0, sizeof(r));
	for (ai = list; ai; ai = ai->ai_next)
		r.n++;
	/* an array of pointers: sizeof(*order) is a pointer's size */
	/* NOLINTNEXTLINE(bugprone-sizeof-expression) */
	order = xcalloc(r.n + 1, sizeof(*order));
	r.a = xcalloc(r.n + 1, sizeof(*r.a));
	r.pfd = xcalloc(r.n + 1, sizeof(*r.pfd));
	r.pfd_attempt = xcalloc(r.n + 1, sizeof(*r.pfd_attempt));
	r.n = net_order_addrs(list, order, r.n);
	for (i = 0; i < r.n; i++) {
		r.a[i].ai = order[i];
		r.a[i].fd = -1;
	}
	r.port = port;
	win = net_race_run(&r, timeout);
	if (win >= 0)
		fd = net_race_finish(&r, (size_t)win);
	else
		net_race_error(&r, err);
	free(order);
	free(r.a);
	free(r.pfd);
	free(r.pfd_attempt);
	return fd;
}

int
net_connect(
	const char *host, unsigned port, unsigned timeout, struct error *err)
{
	struct addrinfo hints, *res = NULL;
	char service[16];
	int rc, fd;

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
	fd = net_connect_addrs(res, port, timeout, err);
	freeaddrinfo(res);
	return fd;
}

/* TCP_QUICKACK because Linux leaves quick-ACK mode by itself: once we
   answer each segment with data of our own it decides the exchange is
   interactive and delays ACKs (up to 40 ms) to ride on our next write.
   When a server splits a reply in two segments (Postfix: the TLS 1.3
   session ticket, then the EHLO reply) its Nagle holds the second until
   the first is acknowledged, and we hold that ACK: a stall per reply.
   Setting it before each wait sends a held ACK now and acknowledges what
   arrives next at once; it costs one syscall per wait. */
#ifdef TCP_QUICKACK
void
net_quickack(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
}
#else
void
net_quickack(int fd)
{
	(void)fd;
}
#endif

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
