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
	const char *mech; /* NULL or "on": choose automatically; else the
			     mechanism to use (upper case) */
	const char *user;
	const char *password; /* password, or the OAuth token for XOAUTH2 /
				 OAUTHBEARER; NULL for EXTERNAL */
	const char *host;     /* server host name (DIGEST-MD5, GSSAPI,
				 OAUTHBEARER) */
	unsigned port;        /* server port, for OAUTHBEARER's "port=";
				 0: not sent */
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
 * SCRAM-SHA-1, PLAIN, LOGIN; EXTERNAL before all of them when a client
 * certificate was sent and the server offers it. CRAM-MD5, DIGEST-MD5,
 * NTLM, GSSAPI, XOAUTH2, OAUTHBEARER only when named. Only mechanisms
 * libgsasl supports (XOAUTH2 and OAUTHBEARER are postie's own). Names
 * compare without case. Returns a static string, or NULL with
 * ERR_UNAVAILABLE: "server offers AUTH X Y, not Z" for a named mechanism
 * not offered, a named -PLUS without channel binding data, a name postie
 * does not know, or nothing to choose automatically.
 */
const char *auth_choose(const char *server_mechs, const struct auth_params *p,
	struct error *err);

/* Whether mech sends an initial response with the AUTH command. */
int auth_has_initial_response(const char *mech);

struct auth; /* opaque */

/* Start a SASL client for mech; the strings of p are copied (the
   password is wiped in auth_finish). Errors: ERR_UNAVAILABLE for a
   mechanism libgsasl does not support, or a -PLUS one without channel
   binding data; ERR_SOFTWARE otherwise. */
int auth_start(struct auth **out, const char *mech, const struct auth_params *p,
	struct error *err);

/*
 * One step: in is the server's base64 challenge (NULL for the initial
 * response), *out a new NUL-terminated base64 response (may be "").
 * Returns 1 when more steps are expected, 0 when the client side is done,
 * -1 on error: ERR_AUTH for a server signature that does not verify
 * (SCRAM) or a server-final "e=" error: send nothing more; ERR_PROTOCOL
 * for a malformed challenge or one after the exchange was complete;
 * ERR_CONFIG when the user or password the mechanism needs is missing.
 * *out may carry the password (PLAIN, LOGIN) or a token: release it with
 * auth_response_free. XOAUTH2 and OAUTHBEARER take one more challenge
 * after the initial response (the server's error report) and answer it
 * as their RFCs require.
 */
int auth_step(struct auth *a, const char *in, char **out, struct error *err);

/* Wipe (explicit_bzero) and free a response from auth_step. NULL is fine. */
void auth_response_free(char *out);

/*
 * Call on the server's 235. -1 with ERR_AUTH when the mechanism
 * authenticates the server too (SCRAM, RFC 5802 §5) and the server has
 * not proven it (it accepted before sending a verifiable server-final
 * message): the peer may be a man in the middle. 0 otherwise.
 */
int auth_check_success(const struct auth *a, struct error *err);

/* Free the session, wiping every secret it held. */
void auth_finish(struct auth *a);

#endif
