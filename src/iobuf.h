/*
 * iobuf.h - buffered line I/O over a swappable back end, with hard caps
 * and deadlines.
 *
 * The back end is two functions (read, write) and a context: the plain
 * socket by default; STARTTLS swaps in the TLS record layer and nothing
 * above notices. Every wait goes through poll() against a deadline, so a
 * peer that drips one byte a second cannot hold postie past its timeout.
 * Output is queued and leaves in one write per flush: a pipelined command
 * group is one write, one TCP segment, later one TLS record.
 */
#ifndef POSTIE_IOBUF_H
#define POSTIE_IOBUF_H

#include <stddef.h>
#include <sys/types.h>

#include "buf.h"
#include "log.h"

#define IOBUF_LINE_MAX 4096 /* one input line incl. CRLF */

struct iobuf_backend {
	/* Like read(2)/write(2): bytes moved, 0 at EOF (read), -1 with errno;
	   EAGAIN when the call would block. */
	ssize_t (*read)(void *ctx, void *buf, size_t len);
	ssize_t (*write)(void *ctx, const void *buf, size_t len);
	/* Bytes the back end already holds decrypted (TLS), so poll() would
	   wrongly wait; NULL for plain sockets. */
	size_t (*pending)(void *ctx);
	/* Words for the last failure the back end reported as EPROTO (a TLS
	   alert, a bad record), or NULL; NULL for plain sockets. */
	const char *(*last_error)(void *ctx);
	void *ctx;
};

struct iobuf {
	int fd; /* non-blocking socket */
	struct iobuf_backend be;
	char in[IOBUF_LINE_MAX * 2];
	size_t in_start;       /* first unread byte */
	size_t in_end;         /* one past the last buffered byte */
	struct buf out;        /* queued output */
	int timeout_ms;        /* for each operation that starts a wait */
	long long deadline_ms; /* monotonic; 0 = none set (use timeout_ms) */
};

/* Take over fd (made non-blocking) with the plain back end. timeout in
   seconds (0: wait forever). The plain back end writes with
   send(MSG_NOSIGNAL), so a peer hanging up is ERR_TEMP, never SIGPIPE. */
void iobuf_init(struct iobuf *io, int fd, unsigned timeout);
/* Replace the back end (NULL: back to plain fd). */
void iobuf_set_backend(struct iobuf *io, const struct iobuf_backend *be);
/* Start a deadline now + timeout covering every read and flush until
   cleared: the timeout bounds a whole reply, not each byte. Without one,
   each read or flush gets a fresh timeout of its own. */
void iobuf_start_deadline(struct iobuf *io);
void iobuf_clear_deadline(struct iobuf *io);

/*
 * Read one line. *line points into the buffer (valid until the next call)
 * and excludes the CRLF (a bare LF is also accepted as the end). Errors:
 * ERR_TEMP for timeout, the peer closing ("connection closed by server")
 * and the connection failing (reset, unreachable, TCP timeout: like a
 * failed connect, worth trying again later), ERR_PROTOCOL for a line
 * longer than IOBUF_LINE_MAX, ERR_OS if poll() fails, ERR_IO for other
 * read errors.
 */
int iobuf_getline(
	struct iobuf *io, const char **line, size_t *len, struct error *err);
/* Bytes received but not yet consumed (here or held by the back end). */
size_t iobuf_buffered(const struct iobuf *io);
/* 1 when input (or end of file) is waiting right now: buffered here,
   held by the back end, or readable on the socket; never blocks. Lets
   a writer notice a server that answered or hung up early (mid-DATA). */
int iobuf_readable(struct iobuf *io);

/* Queue bytes for the next flush (memory is capped only by the caller). */
void iobuf_queue(struct iobuf *io, const void *p, size_t len);
void iobuf_queuef(struct iobuf *io, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Bytes queued and not yet written. */
size_t iobuf_queued(const struct iobuf *io);
/* Write everything queued: one back-end write when it takes it all,
   else poll() for room until the deadline. The queue is empty afterwards
   (on failure too). Errors as iobuf_getline: ERR_TEMP (timeout, peer
   gone, connection failed), ERR_OS, ERR_IO. */
int iobuf_flush(struct iobuf *io, struct error *err);

/*
 * Like iobuf_flush, but returns 1 as soon as the peer has sent something
 * (or hung up) before everything is written, leaving the rest queued.
 * For the message data: a server that refuses mid-DATA is heard at once,
 * not after the timeout spent waiting for it to read.
 */
int iobuf_flush_watch(struct iobuf *io, struct error *err);

/*
 * Like iobuf_queue then iobuf_flush_watch, without copying p when nothing
 * is queued: p[0..len) goes straight to the back end. Returns 0 when all
 * of it is written, 1 when the peer spoke first (what is left of p stays
 * queued), -1 on errors as iobuf_flush.
 */
int iobuf_write_watch(
	struct iobuf *io, const void *p, size_t len, struct error *err);

/* 1 when the plain socket back end is in place, so file data can go by
   iobuf_sendfile_watch (the TLS back end must see every byte). */
int iobuf_can_sendfile(const struct iobuf *io);
/*
 * Flush what is queued, then send len bytes of fd from offset off with
 * sendfile(2) (no copy through user space), watching like
 * iobuf_flush_watch: 1 as soon as the peer has sent something (or hung
 * up), the rest unsent. Each wait gets the timeout afresh after progress
 * (or the running deadline). Only with the plain back end
 * (iobuf_can_sendfile). A file sendfile refuses (EINVAL, ENOSYS: a file
 * system without splice) is read and written instead. Errors as
 * iobuf_flush, and ERR_IO when fd has fewer bytes than len.
 */
int iobuf_sendfile_watch(
	struct iobuf *io, int fd, off_t off, off_t len, struct error *err);

/* Free buffers; closes nothing (the fd belongs to the caller). */
void iobuf_release(struct iobuf *io);

#endif
