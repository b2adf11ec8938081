/*
 * buf.h - the one growable byte buffer, with a hard size cap.
 *
 * Invariants: after buf_init, b->data is never NULL and is always
 * NUL-terminated at b->data[b->len] (the NUL is not counted in len), so
 * b->data can be handed to C string functions when the content has no NUL.
 * b->len never exceeds b->max: an append that would pass the cap fails with
 * -1 and leaves the buffer unchanged. Every buffer that holds bytes from
 * outside (a server, a file, the caller) has a cap; that is how postie keeps
 * memory bounded.
 */
#ifndef POSTIE_BUF_H
#define POSTIE_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <sys/types.h>

struct buf {
	char *data;
	size_t len;
	size_t cap; /* allocated bytes, including room for the NUL */
	size_t max; /* most bytes len may reach */
};

/* An empty buffer that may grow to max bytes; allocates nothing yet. */
void buf_init(struct buf *b, size_t max);
/* Free the storage; the buffer is then empty and may be reused. */
void buf_release(struct buf *b);
/* Forget the content, keep the storage. */
void buf_reset(struct buf *b);
/* Hand the storage (NUL-terminated) to the caller; the buffer is empty. */
char *buf_detach(struct buf *b, size_t *len);

/* Append; 0 on success, -1 (buffer unchanged) if the cap would be passed. */
int buf_append(struct buf *b, const void *p, size_t len);
int buf_addstr(struct buf *b, const char *s);
int buf_addch(struct buf *b, char c);
int buf_printf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
/* Drop the first n bytes (n <= len), moving the rest to the front. */
void buf_consume(struct buf *b, size_t n);

/*
 * Append what one read(2) of fd returns: at most want (> 0) bytes, fewer
 * when the cap leaves less room; EINTR is retried. Returns the bytes
 * added, 0 at end of file, or -1 with errno set: the read's error, or
 * EFBIG when the buffer is at its cap and fd still has data (one byte of
 * it is then consumed and lost, to tell that apart from end of file).
 */
ssize_t buf_read_fd(struct buf *b, int fd, size_t want);

#endif
