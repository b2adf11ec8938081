/* STUB: being written; replaced by the real module. */
#include "autoconf.h"

#include "tls.h"
int tls_start(struct tls **out, int fd, const struct tls_params *p, struct error *err) { (void)out; (void)fd; (void)p; error_set(err, ERR_SOFTWARE, "stub"); return -1; }
void tls_backend(struct tls *t, struct iobuf_backend *be) { (void)t; (void)be; }
int tls_verified(const struct tls *t) { (void)t; return 0; }
const char *tls_verify_error(const struct tls *t) { (void)t; return 0; }
int tls_client_cert_sent(const struct tls *t) { (void)t; return 0; }
int tls_channel_binding(struct tls *t, const char **type, unsigned char **data, size_t *len, struct error *err) { (void)t; (void)type; (void)data; (void)len; error_set(err, ERR_SOFTWARE, "stub"); return -1; }
void tls_describe(struct tls *t, struct buf *out) { (void)t; (void)out; }
void tls_close(struct tls *t) { (void)t; }
