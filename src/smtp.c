/* STUB: being written; replaced by the real module. */
#include "autoconf.h"

#include "smtp.h"
int smtp_open(struct smtp_session *s, int fd, const struct smtp_params *p, struct error *err) { (void)s; (void)fd; (void)p; error_set(err, ERR_SOFTWARE, "stub"); return -1; }
int smtp_send(struct smtp_session *s, const struct smtp_envelope *env, const struct smtp_source *src, struct error *err) { (void)s; (void)env; (void)src; error_set(err, ERR_SOFTWARE, "stub"); return -1; }
void smtp_quit(struct smtp_session *s) { (void)s; }
void smtp_close(struct smtp_session *s) { (void)s; }
void smtp_rcpts_release(struct smtp_rcpt *rcpts, size_t n) { (void)rcpts; (void)n; }
