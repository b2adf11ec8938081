/* STUB: being written; replaced by the real module. */
#include "autoconf.h"

#include "address.h"
void address_list_init(struct address_list *l) { l->v = 0; l->n = 0; }
void address_list_release(struct address_list *l) { (void)l; }
int address_parse_list(const char *s, size_t len, struct address_list *out, struct error *err) { (void)s; (void)len; (void)out; error_set(err, ERR_SOFTWARE, "stub"); return -1; }
int address_check_envelope(const char *mailbox, struct error *err) { (void)mailbox; error_set(err, ERR_SOFTWARE, "stub"); return -1; }
