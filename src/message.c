/* STUB: being written; replaced by the real module. */
#include "autoconf.h"

#include "message.h"
int message_read(struct message *msg, int fd, const struct message_opts *opts, struct error *err) { (void)msg; (void)fd; (void)opts; error_set(err, ERR_SOFTWARE, "stub"); return -1; }
void message_release(struct message *msg) { (void)msg; }
long message_find_field(const struct message *msg, const char *name, size_t start) { (void)msg; (void)name; (void)start; return -1; }
char *message_field_value(const struct message *msg, size_t i) { (void)msg; (void)i; return 0; }
size_t message_remove_fields(struct message *msg, const char *name) { (void)msg; (void)name; return 0; }
int message_header_recipients(const struct message *msg, struct address_list *out, struct error *err) { (void)msg; (void)out; error_set(err, ERR_SOFTWARE, "stub"); return -1; }
off_t message_wire_size(const struct message *msg) { (void)msg; return 0; }
void message_reader_init(struct message_reader *r, const struct message *msg, int dotstuff) { (void)r; (void)msg; (void)dotstuff; }
ssize_t message_reader_read(struct message_reader *r, char *buf, size_t cap, struct error *err) { (void)r; (void)buf; (void)cap; error_set(err, ERR_SOFTWARE, "stub"); return -1; }
