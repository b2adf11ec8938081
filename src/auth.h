/*
 * auth.h - SASL (RFC 4954 AUTH) through libgsasl: the only part of postie
 * that includes gsasl.h. Knows nothing of sockets: smtp.c carries the
 * base64 strings between the server and auth_step.
 */
#ifndef POSTIE_AUTH_H
#define POSTIE_AUTH_H

#include <stddef.h>

#include "log.h"

struct auth_params {
	const char *mech;     /* NULL or "on": choose automatically; else the
				 mechanism to use (upper case) */
	const char *user;
	const char *password; /* password, or the OAuth token for XOAUTH2 /
				 OAUTHBEARER; NULL for EXTERNAL */
	const char *host;     /* server host name (DIGEST-MD5, GSSAPI,
				 OAUTHBEARER) */
	int client_cert;      /* 1: a client certificate was sent (EXTERNAL
				 possible) */
	/* Channel binding for SCRAM-*-PLUS, from tls_channel_binding; NULL
	   when not on TLS. */
	const char *cb_type;
	const unsigned char *cb_data;
	size_t cb_len;
};

/*
 * The mechanism to use, given the server's AUTH list (space-separated,
 * upper case). Automatic choice, strongest first: SCRAM-SHA-256-PLUS,
 * SCRAM-SHA-1-PLUS (only with channel binding data), SCRAM-SHA-256,
 * SCRAM-SHA-1, PLAIN, LOGIN; EXTERNAL when a client certificate was sent
 * and the server offers it. CRAM-MD5, DIGEST-MD5, NTLM, GSSAPI, XOAUTH2,
 * OAUTHBEARER only when named. Returns a static string, or NULL with
 * ERR_UNAVAILABLE naming what the server offers.
 */
const char *auth_choose(const char *server_mechs, const struct auth_params *p,
	struct error *err);

/* Whether mech sends an initial response with the AUTH command. */
int auth_has_initial_response(const char *mech);

struct auth; /* opaque */

/* Start a SASL client for mech. Errors: ERR_UNAVAILABLE for a mechanism
   libgsasl does not support; ERR_SOFTWARE otherwise. */
int auth_start(struct auth **out, const char *mech, const struct auth_params *p,
	struct error *err);

/*
 * One step: in is the server's base64 challenge (NULL for the initial
 * response), *out a new NUL-terminated base64 response (may be "").
 * Returns 1 when more steps are expected, 0 when the client side is done,
 * -1 on error: ERR_AUTH for a server signature that does not verify
 * (SCRAM), a malformed challenge (ERR_PROTOCOL).
 */
int auth_step(struct auth *a, const char *in, char **out, struct error *err);

/* Free the session, wiping every secret it held. */
void auth_finish(struct auth *a);

#endif
