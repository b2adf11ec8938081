/* STUB: being written; replaced by the real module. */
#include "autoconf.h"

#include "config.h"
int config_load(struct config *cfg, const char *path, struct error *err) { (void)cfg; (void)path; error_set(err, ERR_SOFTWARE, "stub"); return -1; }
int config_parse(struct config *cfg, const char *name, const char *text, size_t len, struct error *err) { (void)cfg; (void)name; (void)text; (void)len; error_set(err, ERR_SOFTWARE, "stub"); return -1; }
void config_release(struct config *cfg) { (void)cfg; }
const struct account *config_choose(const struct config *cfg, const char *name, const char *sender, struct error *err) { (void)cfg; (void)name; (void)sender; error_set(err, ERR_SOFTWARE, "stub"); return 0; }
int config_check_account(const struct account *acct, struct error *err) { (void)acct; error_set(err, ERR_SOFTWARE, "stub"); return -1; }
