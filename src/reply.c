/* STUB: being written; replaced by the real module. */
#include "autoconf.h"

#include "reply.h"
void reply_init(struct reply *r) { (void)r; }
void reply_reset(struct reply *r) { (void)r; }
void reply_release(struct reply *r) { (void)r; }
int reply_add_line(struct reply *r, const char *line, size_t len, struct error *err) { (void)r; (void)line; (void)len; error_set(err, ERR_SOFTWARE, "stub"); return -1; }
void reply_to_error(const struct reply *r, enum err_class cls, const char *context, struct error *err) { (void)r; (void)context; error_set(err, cls, "stub"); }
void reply_parse_caps(const struct reply *r, struct caps *caps) { (void)r; (void)caps; }
