/* STUB: being written; replaced by the real module. */
#include "autoconf.h"

#include "auth.h"
const char *auth_choose(const char *server_mechs, const struct auth_params *p, struct error *err) { (void)server_mechs; (void)p; error_set(err, ERR_SOFTWARE, "stub"); return 0; }
int auth_has_initial_response(const char *mech) { (void)mech; return 0; }
int auth_start(struct auth **out, const char *mech, const struct auth_params *p, struct error *err) { (void)out; (void)mech; (void)p; error_set(err, ERR_SOFTWARE, "stub"); return -1; }
int auth_step(struct auth *a, const char *in, char **out, struct error *err) { (void)a; (void)in; (void)out; error_set(err, ERR_SOFTWARE, "stub"); return -1; }
void auth_finish(struct auth *a) { (void)a; }
