/*
 * iobuf.c - buffered line I/O with caps and deadlines over a swappable
 * back end.
 *
 * Every byte goes through io->be, so the TLS record layer can replace the
 * plain socket without anything here changing. Waiting is always poll()
 * against a CLOCK_MONOTONIC deadline: no alarm(), no blocking read that a
 * silent server could hold forever.
 */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "fdio.h"
#include "iobuf.h"
#include "log.h"
#include "net.h"

/* One sendfile(2) call at most: between them, a look for the server
   having spoken, as between the flushes of buffered data. */
#define IOBUF_SENDFILE_STEP (1024 * 1024)
#define IOBUF_COPY_CHUNK    (64 * 1024)

static ssize_t
iobuf_plain_read(void *ctx, void *p, size_t len)
{
	return read((int)(intptr_t)ctx, p, len);
}

/* send(MSG_NOSIGNAL): a server that hangs up mid-write must give us EPIPE
   to report, not a SIGPIPE that kills postie before it can say why. */
static ssize_t
iobuf_plain_write(void *ctx, const void *p, size_t len)
{
	return send((int)(intptr_t)ctx, p, len, MSG_NOSIGNAL);
}

/*
 * A failed read or write of the connection. When the network or the
 * server broke it (hang-up, reset, route lost, TCP gave up), that is a
 * connection failure like a refused connect: ERR_TEMP, try again later.
 * Anything else is a local I/O error.
 */
static int
iobuf_io_error(
	const struct iobuf *io, int errnum, const char *op, struct error *err)
{
	const char *why;

	switch (errnum) {
	case EPROTO:
		/* The server broke TLS (an alert, a bad record): its doing,
		   not a local I/O error. */
		why = io->be.last_error ? io->be.last_error(io->be.ctx) : NULL;
		error_set(err, ERR_PROTOCOL, "%s: %s", op,
			why ? why : strerror(errnum));
		break;
	case EPIPE:
		error_set(err, ERR_TEMP, "connection closed by server");
		break;
	case ECONNRESET:
		error_set(err, ERR_TEMP, "connection reset by server");
		break;
	case ETIMEDOUT:
	case EHOSTUNREACH:
	case EHOSTDOWN:
	case ENETUNREACH:
	case ENETDOWN:
	case ENETRESET:
	case ECONNABORTED:
		error_set(
			err, ERR_TEMP, "connection lost: %s", strerror(errnum));
		break;
	default:
		error_set(err, ERR_IO, "%s error: %s", op, strerror(errnum));
		break;
	}
	return -1;
}

static long long
iobuf_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
iobuf_init(struct iobuf *io, int fd, unsigned timeout)
{
	int flags = fcntl(fd, F_GETFL);

	if (flags >= 0)
		fcntl(fd, F_SETFL, flags | O_NONBLOCK);
	io->fd = fd;
	iobuf_set_backend(io, NULL);
	io->in_start = 0;
	io->in_end = 0;
	buf_init(&io->out, (size_t)-1);
	io->timeout_ms =
		timeout > INT_MAX / 1000 ? INT_MAX : (int)timeout * 1000;
	io->deadline_ms = 0;
}

void
iobuf_set_backend(struct iobuf *io, const struct iobuf_backend *be)
{
	if (be) {
		io->be = *be;
		return;
	}
	io->be.read = iobuf_plain_read;
	io->be.write = iobuf_plain_write;
	io->be.pending = NULL;
	io->be.last_error = NULL;
	/* The descriptor itself travels in ctx (an exact intptr_t round
	   trip): a pointer to io->fd would dangle once io is copied. */
	/* NOLINTNEXTLINE(performance-no-int-to-ptr) */
	io->be.ctx = (void *)(intptr_t)io->fd;
}

void
iobuf_start_deadline(struct iobuf *io)
{
	io->deadline_ms = io->timeout_ms ? iobuf_now_ms() + io->timeout_ms : 0;
}

void
iobuf_clear_deadline(struct iobuf *io)
{
	io->deadline_ms = 0;
}

/* The deadline for an operation starting now: the caller's, if one is
   running, else a fresh timeout; 0 = wait forever (timeout 0). */
static long long
iobuf_op_deadline(const struct iobuf *io)
{
	if (io->deadline_ms)
		return io->deadline_ms;
	return io->timeout_ms ? iobuf_now_ms() + io->timeout_ms : 0;
}

/* Wait until fd is ready for events or the deadline passes: 0 ready,
   1 when POLLIN was asked for and input (or a hang-up) is there. */
static int
iobuf_wait(
	struct iobuf *io, short events, long long deadline, struct error *err)
{
	struct pollfd pfd = {.fd = io->fd, .events = events};
	long long left;
	int r;

	for (;;) {
		left = deadline ? deadline - iobuf_now_ms() : -1;
		if (deadline && left <= 0)
			break;
		r = poll(&pfd, 1, left > INT_MAX ? INT_MAX : (int)left);
		if (r > 0 && (events & POLLIN) &&
			(pfd.revents & (POLLIN | POLLHUP | POLLERR)))
			return 1;
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR) {
			error_set(err, ERR_OS, "poll: %s", strerror(errno));
			return -1;
		}
	}
	error_set(err, ERR_TEMP, "timed out after %d s %s",
		io->timeout_ms / 1000,
		events == POLLIN ? "waiting for the server"
				 : "sending to the server");
	return -1;
}

/* Read what the back end has into the free end of io->in. */
static int
iobuf_fill(struct iobuf *io, long long deadline, struct error *err)
{
	ssize_t n;

	for (;;) {
		n = io->be.read(io->be.ctx, io->in + io->in_end,
			sizeof(io->in) - io->in_end);
		if (n > 0) {
			io->in_end += (size_t)n;
			return 0;
		}
		if (n == 0) {
			error_set(err, ERR_TEMP, "connection closed by server");
			return -1;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return iobuf_io_error(io, errno, "read", err);
		if (io->be.pending && io->be.pending(io->be.ctx) > 0)
			continue;
		/* A reply may come in two segments, the server's Nagle
		   holding the second until we ACK the first: see
		   net_quickack. Here for both back ends, as both wait here. */
		net_quickack(io->fd);
		if (iobuf_wait(io, POLLIN, deadline, err) < 0)
			return -1;
	}
}

int
iobuf_getline(
	struct iobuf *io, const char **line, size_t *len, struct error *err)
{
	long long deadline = iobuf_op_deadline(io);
	size_t scanned = io->in_start, n;
	char *lf;

	for (;;) {
		lf = memchr(io->in + scanned, '\n', io->in_end - scanned);
		if (lf)
			break;
		if (io->in_end - io->in_start >= IOBUF_LINE_MAX)
			goto toolong;
		if (io->in_start > 0) {
			/* Room for a whole line: compact before reading. */
			memmove(io->in, io->in + io->in_start,
				io->in_end - io->in_start);
			io->in_end -= io->in_start;
			io->in_start = 0;
		}
		scanned = io->in_end;
		if (iobuf_fill(io, deadline, err) < 0)
			return -1;
	}
	n = (size_t)(lf - (io->in + io->in_start)) + 1;
	if (n > IOBUF_LINE_MAX)
		goto toolong;
	*line = io->in + io->in_start;
	*len = n - 1;
	if (*len > 0 && (*line)[*len - 1] == '\r')
		(*len)--;
	io->in_start += n;
	if (io->in_start == io->in_end)
		io->in_start = io->in_end = 0;
	return 0;
toolong:
	error_set(err, ERR_PROTOCOL, "reply line longer than %d bytes",
		IOBUF_LINE_MAX);
	return -1;
}

size_t
iobuf_buffered(const struct iobuf *io)
{
	size_t held = io->be.pending ? io->be.pending(io->be.ctx) : 0;

	return io->in_end - io->in_start + held;
}

int
iobuf_readable(struct iobuf *io)
{
	struct pollfd pfd = {.fd = io->fd, .events = POLLIN};

	if (iobuf_buffered(io) > 0)
		return 1;
	return poll(&pfd, 1, 0) > 0;
}

void
iobuf_queue(struct iobuf *io, const void *p, size_t len)
{
	buf_append(&io->out, p, len);
}

void
iobuf_queuef(struct iobuf *io, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	buf_vprintf(&io->out, fmt, ap);
	va_end(ap);
}

size_t
iobuf_queued(const struct iobuf *io)
{
	return io->out.len;
}

/*
 * Write p[0..len) through the back end, waiting for room until the
 * deadline; with POLLIN in events, stop and return 1 when the peer has
 * sent something (or hung up) first. *done: the bytes written.
 */
static int
iobuf_write_events(struct iobuf *io, const char *p, size_t len, short events,
	size_t *done, struct error *err)
{
	long long deadline = iobuf_op_deadline(io);
	size_t off = 0;
	ssize_t n;
	int r = 0;

	while (off < len) {
		n = io->be.write(io->be.ctx, p + off, len - off);
		if (n > 0) {
			off += (size_t)n;
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if ((r = iobuf_wait(io, events, deadline, err)) != 0)
				break;
		} else {
			r = iobuf_io_error(
				io, n < 0 ? errno : EPIPE, "write", err);
			break;
		}
	}
	*done = off;
	return r;
}

static int
iobuf_flush_events(struct iobuf *io, short events, struct error *err)
{
	size_t off;
	int r = iobuf_write_events(
		io, io->out.data, io->out.len, events, &off, err);

	if (r == 1) {
		buf_consume(&io->out, off); /* the rest waits for the caller */
		return 1;
	}
	/* On failure the rest is dropped too: the connection is unusable and
	   a later QUIT must not drag half a command group behind it. */
	buf_reset(&io->out);
	return r;
}

int
iobuf_flush(struct iobuf *io, struct error *err)
{
	return iobuf_flush_events(io, POLLOUT, err);
}

int
iobuf_flush_watch(struct iobuf *io, struct error *err)
{
	if (iobuf_readable(io))
		return 1;
	return iobuf_flush_events(io, POLLOUT | POLLIN, err);
}

int
iobuf_write_watch(
	struct iobuf *io, const void *p, size_t len, struct error *err)
{
	size_t done;
	int r;

	/* Something queued (a BDAT line, the header): one write for both
	   is worth one copy. */
	if (io->out.len > 0 || iobuf_readable(io)) {
		iobuf_queue(io, p, len);
		return iobuf_flush_watch(io, err);
	}
	r = iobuf_write_events(io, p, len, POLLOUT | POLLIN, &done, err);
	if (r == 1)
		iobuf_queue(io, (const char *)p + done, len - done);
	return r;
}

int
iobuf_can_sendfile(const struct iobuf *io)
{
	return io->be.write == iobuf_plain_write;
}

/*
 * The copy sendfile(2) would have saved, for a file it refuses (EINVAL:
 * a file system without splice; ENOSYS): pread and a watched write, a
 * chunk at a time.
 */
static int
iobuf_copy_watch(
	struct iobuf *io, int fd, off_t off, off_t len, struct error *err)
{
	char chunk[IOBUF_COPY_CHUNK];
	ssize_t n;
	int r;

	while (len > 0) {
		n = fdio_pread(fd, chunk,
			len > (off_t)sizeof(chunk) ? sizeof(chunk) : (size_t)len,
			off);
		if (n <= 0) {
			error_set(err, ERR_IO, "reading the spool file: %s",
				n < 0 ? strerror(errno) : "file shrank");
			return -1;
		}
		if ((r = iobuf_write_watch(io, chunk, (size_t)n, err)) != 0)
			return r;
		off += n;
		len -= n;
	}
	return 0;
}

int
iobuf_sendfile_watch(
	struct iobuf *io, int fd, off_t off, off_t len, struct error *err)
{
	long long deadline = 0;
	ssize_t n;
	int r;

	if ((r = iobuf_flush_watch(io, err)) != 0)
		return r;
	while (len > 0) {
		if (deadline == 0 && iobuf_readable(io))
			return 1;
		if (deadline == 0)
			deadline = iobuf_op_deadline(io);
		n = sendfile(io->fd, fd, &off,
			len > IOBUF_SENDFILE_STEP ? IOBUF_SENDFILE_STEP
						  : (size_t)len);
		if (n > 0) {
			len -= n;
			deadline = 0; /* progress: the wait starts afresh */
		} else if (n == 0) {
			error_set(err, ERR_IO, "sending the spool file: %s",
				"file shrank");
			return -1;
		} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
			if ((r = iobuf_wait(io, POLLOUT | POLLIN, deadline,
				     err)) != 0)
				return r;
		} else if (errno == EINVAL || errno == ENOSYS) {
			return iobuf_copy_watch(io, fd, off, len, err);
		} else if (errno != EINTR) {
			return iobuf_io_error(io, errno, "write", err);
		}
	}
	return 0;
}

void
iobuf_release(struct iobuf *io)
{
	buf_release(&io->out);
	io->in_start = io->in_end = 0;
}
