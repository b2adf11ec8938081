/* net: fast fallback between addresses (RFC 8305 style), its error line,
   the address order, and TCP_QUICKACK. Loopback only. */
#include "autoconf.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "log.h"
#include "net.h"

#define MAX_FILL 8

/* A loopback address to hand net_connect_addrs, as getaddrinfo would. */
struct addr {
	struct addrinfo ai;
	struct sockaddr_storage ss;
};

/* A listener that cannot complete a handshake: its accept queue is full
   (listen backlog 0, filled by connections never accepted), so Linux
   drops further SYNs and a connect to it hangs, like a dead host. */
struct dead {
	int lfd;
	int fill[MAX_FILL];
	size_t nfill;
	unsigned port;
};

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
addr_set(struct addr *a, int family, unsigned port)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&a->ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&a->ss;

	memset(a, 0, sizeof(*a));
	a->ai.ai_family = family;
	a->ai.ai_socktype = SOCK_STREAM;
	a->ai.ai_protocol = IPPROTO_TCP;
	a->ai.ai_addr = (struct sockaddr *)&a->ss;
	if (family == AF_INET) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((unsigned short)port);
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		a->ai.ai_addrlen = sizeof(*sin);
	} else {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((unsigned short)port);
		sin6->sin6_addr = in6addr_loopback;
		a->ai.ai_addrlen = sizeof(*sin6);
	}
}

static const struct addrinfo *
addr_link(struct addr *a, size_t n)
{
	size_t i;

	for (i = 0; i + 1 < n; i++)
		a[i].ai.ai_next = &a[i + 1].ai;
	a[n - 1].ai.ai_next = NULL;
	return &a[0].ai;
}

static unsigned
sock_port(int fd, int peer)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int r = peer ? getpeername(fd, (struct sockaddr *)&ss, &len)
		     : getsockname(fd, (struct sockaddr *)&ss, &len);

	if (r < 0)
		return 0;
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

/* A TCP socket bound to a loopback port; listening when backlog >= 0.
   Bound but not listening, it answers SYNs with RST: "refused". */
static int
bound_socket(int family, unsigned port, int backlog)
{
	struct addr a;
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0)
		return -1;
	if (family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	addr_set(&a, family, port);
	if (bind(fd, a.ai.ai_addr, a.ai.ai_addrlen) < 0 ||
		(backlog >= 0 && listen(fd, backlog) < 0)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* 1 when a non-blocking connect to 127.0.0.1:port completes in ms. */
static int
connects_within(int fd, unsigned port, int ms)
{
	struct addr a;
	struct pollfd pfd = {.fd = fd, .events = POLLOUT};

	addr_set(&a, AF_INET, port);
	if (connect(fd, a.ai.ai_addr, a.ai.ai_addrlen) == 0)
		return 1;
	if (errno != EINPROGRESS)
		return 0;
	return poll(&pfd, 1, ms) == 1;
}

/* Fill the accept queue until a connect hangs for 100 ms: that last
   connect proves the trick works on this kernel. 0 on success. */
static int
dead_open(struct dead *d)
{
	int fd;

	d->nfill = 0;
	d->lfd = bound_socket(AF_INET, 0, 0);
	if (d->lfd < 0)
		return -1;
	d->port = sock_port(d->lfd, 0);
	while (d->nfill < MAX_FILL) {
		fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		if (fd < 0)
			return -1;
		d->fill[d->nfill++] = fd;
		if (!connects_within(fd, d->port, 100))
			return 0;
	}
	return -1;
}

static void
dead_close(struct dead *d)
{
	size_t i;

	for (i = 0; i < d->nfill; i++)
		close(d->fill[i]);
	close(d->lfd);
}

static int
count_fds(void)
{
	DIR *dir = opendir("/proc/self/fd");
	int n = 0;

	if (!dir)
		return -1;
	while (readdir(dir))
		n++;
	closedir(dir);
	return n;
}

/* A dead first address costs the attempt delay, not the timeout: the
   second starts at 250 ms and wins; the first is closed; the winner is
   blocking and has TCP_NODELAY. */
static void
test_dead_first(void)
{
	struct dead d;
	struct addr a[2];
	struct error err;
	int good, fd, fds, flags, nodelay = 0;
	socklen_t len = sizeof(nodelay);
	long long t0, ms;

	CHECK_INT(dead_open(&d), 0);
	good = bound_socket(AF_INET, 0, 16);
	CHECK(good >= 0);
	addr_set(&a[0], AF_INET, d.port);
	addr_set(&a[1], AF_INET, sock_port(good, 0));
	fds = count_fds();
	t0 = now_ms();
	fd = net_connect_addrs(addr_link(a, 2), d.port, 5, &err);
	ms = now_ms() - t0;
	printf("dead first address: connected to the second in %lld ms\n", ms);
	CHECK(fd >= 0);
	CHECK(ms >= NET_ATTEMPT_DELAY_MS);
	CHECK(ms < 1000);
	CHECK_INT(sock_port(fd, 1), sock_port(good, 0));
	CHECK_INT(count_fds(), fds + 1);
	flags = fcntl(fd, F_GETFL);
	CHECK(flags >= 0 && !(flags & O_NONBLOCK));
	getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &nodelay, &len);
	CHECK(nodelay != 0);
	close(fd);
	close(good);
	dead_close(&d);
}

/* A refused first address starts the next at once, not after 250 ms. */
static void
test_refused_first(void)
{
	struct addr a[2];
	struct error err;
	int refused, good, fd;
	long long t0, ms;

	refused = bound_socket(AF_INET, 0, -1);
	good = bound_socket(AF_INET, 0, 16);
	CHECK(refused >= 0 && good >= 0);
	addr_set(&a[0], AF_INET, sock_port(refused, 0));
	addr_set(&a[1], AF_INET, sock_port(good, 0));
	t0 = now_ms();
	fd = net_connect_addrs(addr_link(a, 2), 25, 5, &err);
	ms = now_ms() - t0;
	printf("refused first address: connected to the second in %lld ms\n",
		ms);
	CHECK(fd >= 0);
	CHECK(ms < 100);
	CHECK_INT(sock_port(fd, 1), sock_port(good, 0));
	close(fd);
	close(refused);
	close(good);
}

/* A refusal while an earlier attempt is still connecting starts the next
   at once too: dead, refused, good connects at about 250 ms, not 500. */
static void
test_refused_behind_dead(void)
{
	struct dead d;
	struct addr a[3];
	struct error err;
	int refused, good, fd;
	long long t0, ms;

	CHECK_INT(dead_open(&d), 0);
	refused = bound_socket(AF_INET, 0, -1);
	good = bound_socket(AF_INET, 0, 16);
	CHECK(refused >= 0 && good >= 0);
	addr_set(&a[0], AF_INET, d.port);
	addr_set(&a[1], AF_INET, sock_port(refused, 0));
	addr_set(&a[2], AF_INET, sock_port(good, 0));
	t0 = now_ms();
	fd = net_connect_addrs(addr_link(a, 3), 25, 5, &err);
	ms = now_ms() - t0;
	printf("dead, refused, good: connected to the third in %lld ms\n", ms);
	CHECK(fd >= 0);
	CHECK(ms >= NET_ATTEMPT_DELAY_MS && ms < 2 * NET_ATTEMPT_DELAY_MS - 50);
	CHECK_INT(sock_port(fd, 1), sock_port(good, 0));
	close(fd);
	close(refused);
	close(good);
	dead_close(&d);
}

/* All refused: ERR_TEMP, one line naming each address and why, in the
   order tried. */
static void
test_all_refused(void)
{
	struct addr a[2];
	struct error err;
	char want[200];
	int r4, r6;
	unsigned port;

	r4 = bound_socket(AF_INET, 0, -1);
	CHECK(r4 >= 0);
	port = sock_port(r4, 0);
	r6 = bound_socket(AF_INET6, port, -1);
	if (r6 < 0) {
		printf("all refused: no ::1 here, skipped\n");
		close(r4);
		return;
	}
	addr_set(&a[0], AF_INET, port);
	addr_set(&a[1], AF_INET6, port);
	error_clear(&err);
	CHECK_INT(net_connect_addrs(addr_link(a, 2), port, 5, &err), -1);
	CHECK_INT(err.cls, ERR_TEMP);
	snprintf(want, sizeof(want),
		"cannot connect to 127.0.0.1 port %u: Connection refused; "
		"::1 port %u: Connection refused",
		port, port);
	CHECK_STR(err.text, want);
	close(r4);
	close(r6);
}

/* All dead: the timeout bounds the whole connect (about 1 s, not 1 s per
   address) and each address says how long it had. */
static void
test_all_dead(void)
{
	struct dead d1, d2;
	struct addr a[2];
	struct error err;
	char want[200];
	long long t0, ms;
	int fds;

	CHECK_INT(dead_open(&d1), 0);
	CHECK_INT(dead_open(&d2), 0);
	addr_set(&a[0], AF_INET, d1.port);
	addr_set(&a[1], AF_INET, d2.port);
	error_clear(&err);
	fds = count_fds();
	t0 = now_ms();
	CHECK_INT(net_connect_addrs(addr_link(a, 2), 25, 1, &err), -1);
	ms = now_ms() - t0;
	printf("all dead, timeout 1 s: gave up after %lld ms\n", ms);
	CHECK(ms >= 1000 && ms < 1500);
	CHECK_INT(count_fds(), fds);
	CHECK_INT(err.cls, ERR_TEMP);
	snprintf(want, sizeof(want),
		"cannot connect to 127.0.0.1 port 25: timed out after 1 s; "
		"127.0.0.1 port 25: timed out after 0.7");
	CHECK(strncmp(err.text, want, strlen(want)) == 0);
	if (strncmp(err.text, want, strlen(want)) != 0)
		fprintf(stderr, "got: %s\n", err.text);
	dead_close(&d1);
	dead_close(&d2);
}

/* RFC 8305 §4: families interleaved, the resolver's first family
   leading, each family in its own order; max is respected. */
static void
test_order(void)
{
	struct addr a[5];
	const struct addrinfo *out[5];
	unsigned i;

	addr_set(&a[0], AF_INET6, 1);
	addr_set(&a[1], AF_INET6, 2);
	addr_set(&a[2], AF_INET, 3);
	addr_set(&a[3], AF_INET, 4);
	addr_set(&a[4], AF_INET, 5);
	CHECK_INT(net_order_addrs(addr_link(a, 5), out, 5), 5);
	CHECK(out[0] == &a[0].ai && out[1] == &a[2].ai);
	CHECK(out[2] == &a[1].ai && out[3] == &a[3].ai);
	CHECK(out[4] == &a[4].ai);
	CHECK_INT(net_order_addrs(addr_link(a, 5), out, 3), 3);
	CHECK(out[0] == &a[0].ai && out[1] == &a[2].ai && out[2] == &a[1].ai);

	/* IPv4 first from the resolver (no usable IPv6 here): kept first. */
	addr_set(&a[0], AF_INET, 1);
	addr_set(&a[1], AF_INET, 2);
	addr_set(&a[2], AF_INET6, 3);
	CHECK_INT(net_order_addrs(addr_link(a, 3), out, 5), 3);
	CHECK(out[0] == &a[0].ai && out[1] == &a[2].ai && out[2] == &a[1].ai);

	/* One family: the resolver's order untouched. */
	for (i = 0; i < 4; i++)
		addr_set(&a[i], AF_INET, i);
	CHECK_INT(net_order_addrs(addr_link(a, 4), out, 5), 4);
	for (i = 0; i < 4; i++)
		CHECK(out[i] == &a[i].ai);
	CHECK_INT(net_order_addrs(NULL, out, 5), 0);
}

/* net_connect end to end on a literal; then net_quickack puts a socket
   the kernel had put in delayed-ACK (pingpong) mode back in quick-ACK. */
static void
test_connect_and_quickack(void)
{
	struct error err;
	int good, fd, zero = 0, v = 0;
	socklen_t len = sizeof(v);

	good = bound_socket(AF_INET, 0, 16);
	CHECK(good >= 0);
	fd = net_connect("127.0.0.1", sock_port(good, 0), 5, &err);
	CHECK(fd >= 0);
	if (fd < 0) {
		close(good);
		return;
	}
	CHECK_INT(sock_port(fd, 1), sock_port(good, 0));
#ifdef TCP_QUICKACK
	setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &zero, sizeof(zero));
	getsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &v, &len);
	CHECK_INT(v, 0);
	net_quickack(fd);
	getsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &v, &len);
	CHECK_INT(v, 1);
#else
	(void)zero;
#endif
	close(fd);
	close(good);
}

int
main(void)
{
	test_order();
	test_refused_first();
	test_all_refused();
	test_dead_first();
	test_refused_behind_dead();
	test_all_dead();
	test_connect_and_quickack();
	return check_finish();
}
