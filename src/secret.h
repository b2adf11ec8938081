/*
 * secret.h - where the password comes from: the account's password key,
 * passwordeval (a command; its exit status is checked, the first line of
 * its output is the password), ~/.netrc and SYSCONFDIR/netrc by host and
 * user, (when built with libsecret) the freedesktop keyring, and a prompt
 * on /dev/tty when one can be opened. Secrets are wiped with
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
 * Find the password, first found wins: the password key; passwordeval
 * (run as /bin/sh -c COMMAND like msmtp, stdin /dev/null, stderr
 * inherited, all its output read up to 1 MiB, the first line without
 * CR/LF); ~/.netrc; SYSCONFDIR/netrc; the keyring (keyring.h; a build
 * without --with-libsecret has none, and a keyring that cannot be reached
 * is passed over, its reason added to the "no password" error); a prompt
 * on /dev/tty when it can be opened. *out is
 * a new string to release with secret_free. Errors: ERR_CONFIG when
 * passwordeval fails (its exit status or signal named, never its output),
 * prints an empty first line or more than 1 MiB, when ~/.netrc is not
 * private, or when nothing yields a password; ERR_OS when the command
 * cannot be run; ERR_IO when reading the terminal fails.
 */
int secret_lookup(const struct secret_query *q, char **out, struct error *err);

/* Wipe (explicit_bzero) and free. NULL is fine. */
void secret_free(char *s);

/*
 * The steps secret_lookup takes, exported for the tests. Each returns 1
 * with *out set (release with secret_free), 0 when it has no password,
 * or -1 with err set.
 */

/*
 * Look q->host and q->user up in the netrc file at path (netrc(5):
 * whitespace-separated "machine H login U password P" entries, a final
 * "default" entry, "macdef" bodies skipped, no quoting). The first
 * "machine" entry matching the host (case-insensitive) and the user wins,
 * else the first matching "default"; an entry without login fits any
 * user. A missing or unreadable file is 0. private_file (~/.netrc): a
 * matching file that group or others can read, or that another user owns,
 * is ERR_CONFIG. Files over 1 MiB are ERR_CONFIG.
 */
int secret_from_netrc(const char *path, int private_file,
	const struct secret_query *q, char **out, struct error *err);

/*
 * Prompt "password for USER at HOST: " on the terminal at tty (secret_lookup
 * uses "/dev/tty") with echo off, and read one line. 0 when tty cannot be
 * opened or is not a terminal, or the answer is empty; ERR_IO when
 * reading fails.
 */
int secret_prompt_tty(const char *tty, const struct secret_query *q, char **out,
	struct error *err);

#endif
