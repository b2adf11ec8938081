/*
 * keyring-none.c - the keyring of a build configured without
 * --with-libsecret: there is none, and the "no password" error says so,
 * so that a user whose password sits in the keyring (msmtp reads it
 * there) learns why it was not found.
 */
#include "autoconf.h"

#include <stdio.h>

#include "keyring.h"

int
keyring_lookup(const char *host, const char *user, char **out, char *why,
	size_t why_size)
{
	(void)host;
	(void)user;
	*out = NULL;
	if (why_size > 0)
		snprintf(why, why_size, "this build has no keyring support");
	return 0;
}

int
keyring_built(void)
{
	return 0;
}
