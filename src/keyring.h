/*
 * keyring.h - the freedesktop Secret Service (GNOME Keyring, KeePassXC,
 * KWallet) as a password source, one step of secret_lookup.
 *
 * Two implementations, chosen by configure: keyring.c (--with-libsecret)
 * loads libsecret with dlopen only when a look-up is made, so a run that
 * finds its password elsewhere, or needs none, loads no GLib; keyring-none.c
 * (the default) has no keyring and says so.
 *
 * Entries are msmtp's, so passwords stored for msmtp work unchanged: the
 * attributes host, service ("smtp") and user, stored for example with
 *   secret-tool store --label=msmtp host smtp.example.org service smtp \
 *       user joe.user
 * and, as msmtp also reads them, entries of the older libgnome-keyring
 * network schema (server, protocol "smtp", user).
 */
#ifndef POSTIE_KEYRING_H
#define POSTIE_KEYRING_H

#include <stddef.h>

/*
 * Look up the SMTP password of user at host. Returns 1 with *out set (a new
 * string; release with secret_free), or 0 with *out NULL when there is
 * none: then why (why_size bytes, always NUL-terminated when why_size > 0)
 * is "" when the keyring was asked and has no entry, or says in words why
 * it could not be asked (this build has no keyring support; no D-Bus
 * session bus; libsecret cannot be loaded; the Secret Service's own error,
 * escaped). Never fails harder than that: a keyring that cannot be reached
 * leaves the next source (the terminal prompt) to try. A NULL host or user
 * is 0 with why "". Nothing is printed; the password is never in why.
 */
int keyring_lookup(const char *host, const char *user, char **out, char *why,
	size_t why_size);

/* 1 when this build can consult the keyring (--with-libsecret), else 0. */
int keyring_built(void);

#endif
