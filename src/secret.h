/*
 * secret.h - where the password comes from: the account's password key,
 * passwordeval (a command; its exit status is checked, the first line of
 * its output is the password), ~/.netrc and SYSCONFDIR/netrc by host and
 * user, a prompt on /dev/tty when one can be opened, and (when built with
 * libsecret) the freedesktop keyring. Secrets are wiped with
 * secret_free; they never appear in -v output, logs or error messages.
 */
#ifndef POSTIE_SECRET_H
#define POSTIE_SECRET_H

#include <stddef.h>

#include "log.h"

struct secret_query {
	const char *host;
	unsigned port;
	const char *user;
	const char *password;     /* literal from the config, or NULL */
	const char *passwordeval; /* command, or NULL */
	const char *account;      /* account name, for messages */
};

/*
 * Find the password, in the order above; *out is a new string to release
 * with secret_free. Errors: ERR_CONFIG when passwordeval fails (its exit
 * status named, never its output) or nothing yields a password, ERR_OS
 * when the command cannot be run.
 */
int secret_lookup(const struct secret_query *q, char **out, struct error *err);

/* Wipe (explicit_bzero) and free. NULL is fine. */
void secret_free(char *s);

#endif
