/*
 * session.h - an SMTP session with an account's server: the parameters
 * the account gives (TLS mode and port, the names in A-label form, the
 * TLS and AUTH parameters, the password), the connection, the greeting,
 * EHLO, TLS and AUTH. A send, a queue run and -S all start here, so an
 * account means the same server, checks and credentials to each.
 */
#ifndef POSTIE_SESSION_H
#define POSTIE_SESSION_H

#include "auth.h"
#include "buf.h"
#include "config.h"
#include "log.h"
#include "smtp.h"
#include "tls.h"

struct session {
	const struct account *acct;
	struct smtp_session smtp;
	int have_smtp;      /* smtp_open was called: session_end quits and
			       closes it */
	int connect_failed; /* no connection at all (name or connect) */
	/* what the account gives, for the session's lifetime */
	struct smtp_params params;
	struct tls_params tls;
	struct auth_params auth;
	unsigned port;
	char *host;     /* the account's host, A-labels (owned) */
	char *tls_host; /* tls_host_override or host, A-labels (owned) */
	char *session_file; /* tls_params.session_file (owned), or NULL */
	char *password; /* secret_lookup's, or NULL (owned, a secret);
			   wiped as soon as AUTH is over */
};

/*
 * Connect to acct's server and open the session: TLS, EHLO, AUTH as the
 * account says. The password is looked up first (a failing passwordeval
 * costs no connection) and wiped once AUTH is over. s is zeroed here;
 * call session_end whatever this returns. Errors: ERR_CONFIG (a bad
 * host name, credentials over an unverified connection, no user),
 * secret_lookup's, net_connect's (connect_failed set) and smtp_open's.
 */
int session_start(
	struct session *s, const struct account *acct, struct error *err);

/* QUIT when the session allows one, close, wipe and free everything. */
void session_end(struct session *s);

/*
 * -S: connect, append the server's greeting, capabilities and TLS
 * certificate to out as printable lines (even a certificate that fails
 * the check), QUIT. No AUTH. 0, or -1 with err: the failed check
 * (ERR_UNAVAILABLE) after it is described, or what session_start says.
 */
int session_serverinfo(
	const struct account *acct, struct buf *out, struct error *err);

#endif
