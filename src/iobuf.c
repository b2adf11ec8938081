/* STUB: being written; replaced by the real module. */
#include "autoconf.h"

#include "iobuf.h"
void iobuf_init(struct iobuf *io, int fd, unsigned timeout) { (void)io; (void)fd; (void)timeout; }
void iobuf_set_backend(struct iobuf *io, const struct iobuf_backend *be) { (void)io; (void)be; }
void iobuf_start_deadline(struct iobuf *io) { (void)io; }
void iobuf_clear_deadline(struct iobuf *io) { (void)io; }
int iobuf_getline(struct iobuf *io, const char **line, size_t *len, struct error *err) { (void)io; (void)line; (void)len; error_set(err, ERR_SOFTWARE, "stub"); return -1; }
size_t iobuf_buffered(const struct iobuf *io) { (void)io; return 0; }
void iobuf_queue(struct iobuf *io, const void *p, size_t len) { (void)io; (void)p; (void)len; }
void iobuf_queuef(struct iobuf *io, const char *fmt, ...) { (void)io; (void)fmt; }
size_t iobuf_queued(const struct iobuf *io) { (void)io; return 0; }
int iobuf_flush(struct iobuf *io, struct error *err) { (void)io; error_set(err, ERR_SOFTWARE, "stub"); return -1; }
void iobuf_release(struct iobuf *io) { (void)io; }
