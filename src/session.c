/*
 * session.c - from an account to an open SMTP session: the parameters,
 * the password, the connection, and the session's end.
 */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "address.h"
#include "net.h"
#include "secret.h"
#include "session.h"
#include "xmalloc.h"

#define QUOTE_MAX 1024

/* Names from the configuration in an error line: escaped, as server
   text is. dst holds QUOTE_MAX. */
static const char *
quote(char *dst, const char *s)
{
	return log_escape(dst, QUOTE_MAX, s, strlen(s));
}

/*
 * Port 465 means implicit TLS (RFC 8314 §3.3), as does tls_starttls off;
 * every other port STARTTLS. Without a port: 587 (submission), 465 for
 * implicit TLS, 25 in clear.
 */
static enum smtp_tls
account_tls_mode(const struct account *acct)
{
	if (!acct->tls)
		return SMTP_TLS_NONE;
	if (acct->port == 465 || !acct->tls_starttls)
		return SMTP_TLS_IMPLICIT;
	return SMTP_TLS_STARTTLS;
}

static unsigned
account_port(const struct account *acct)
{
	if (acct->port)
		return acct->port;
	switch (account_tls_mode(acct)) {
	case SMTP_TLS_NONE:
		return 25;
	case SMTP_TLS_IMPLICIT:
		return 465;
	default:
		return 587;
	}
}

/* DNS, SNI and the certificate check all want the A-label form. */
static int
setup_name(const struct account *acct, const char *key, const char *name,
	char **out, struct error *err)
{
	char q[QUOTE_MAX];

	if (address_idna_to_ascii(name, out, err) == 0)
		return 0;
	err->cls = ERR_CONFIG;
	error_prefix(err, "account '%s': %s", quote(q, acct->name), key);
	return -1;
}

/*
 * Where the last TLS 1.3 session with this server is kept:
 * $XDG_CACHE_HOME/postie/tls/HOST:PORT (~/.cache by default). NULL with
 * tls_resume off, without a home, or for a host that is no file name.
 */
static char *
setup_session_file(const struct session *s)
{
	const char *xdg = getenv("XDG_CACHE_HOME"), *home = config_home();
	struct buf b;

	if (!s->acct->tls_resume || strchr(s->host, '/') || s->host[0] == '.')
		return NULL;
	buf_init(&b, (size_t)-1);
	if (xdg && xdg[0] == '/')
		buf_printf(&b, "%s/postie/tls/%s:%u", xdg, s->host, s->port);
	else if (home)
		buf_printf(&b, "%s/.cache/postie/tls/%s:%u", home, s->host,
			s->port);
	else
		return NULL;
	return buf_detach(&b, NULL);
}

static void
setup_tls(struct session *s, int serverinfo)
{
	const struct account *acct = s->acct;
	char q[QUOTE_MAX];

	s->tls.host = s->tls_host;
	s->tls.trust_file = acct->tls_trust_file;
	s->tls.fingerprint = acct->tls_fingerprint;
	s->tls.certcheck = acct->tls_certcheck;
	s->tls.priorities = acct->tls_priorities;
	s->tls.cert_file = acct->tls_cert_file;
	s->tls.key_file = acct->tls_key_file;
	s->tls.timeout = acct->timeout;
	s->tls.report_only = serverinfo;
	s->session_file = setup_session_file(s);
	s->tls.session_file = s->session_file;
	s->params.tls = &s->tls;
	/* Said on every run, so an unverified account is never forgotten. */
	if (!acct->tls_certcheck)
		fprintf(stderr,
			"postie: warning: account '%s': tls_certcheck off: "
			"the server is not verified\n",
			quote(q, acct->name));
}

/*
 * Credentials cross only a verified TLS connection unless the account
 * says auth_plaintext on: tls off, or tls_certcheck off, would hand
 * them to whoever sits on the path, and a loopback host is no
 * exception (a local relay can be a man in the middle too). EXTERNAL
 * sends no secret. The password is looked up before connecting, so a
 * failing passwordeval or an empty prompt costs no connection.
 */
static int
setup_auth(struct session *s, struct error *err)
{
	const struct account *acct = s->acct;
	int external = acct->auth && strcmp(acct->auth, "EXTERNAL") == 0;
	int verified = acct->tls && acct->tls_certcheck;
	struct secret_query sq = {0};
	char q[QUOTE_MAX];

	if (!verified && !external && !acct->auth_plaintext) {
		error_set(err, ERR_CONFIG,
			"account '%s': the password would cross an "
			"unverified connection; use TLS with verification, "
			"or set 'auth_plaintext on'",
			quote(q, acct->name));
		return -1;
	}
	if (!external && !acct->user) {
		error_set(err, ERR_CONFIG,
			"account '%s': authentication is on but no 'user' "
			"is set",
			quote(q, acct->name));
		return -1;
	}
	sq.host = acct->host;
	sq.port = s->port;
	sq.user = acct->user;
	sq.password = acct->password;
	sq.passwordeval = acct->passwordeval;
	sq.account = acct->name;
	if (!external && secret_lookup(&sq, &s->password, err) < 0)
		return -1;
	s->auth.mech = acct->auth;
	s->auth.user = acct->user;
	s->auth.password = s->password;
	s->auth.host = s->host;
	s->auth.port = s->port;
	s->params.auth = &s->auth;
	s->params.auth_unverified = acct->auth_plaintext || external;
	return 0;
}

/* Fill s for acct; serverinfo: no AUTH, and a certificate that fails
   the check is still shown. */
static int
setup_session(struct session *s, const struct account *acct, int serverinfo,
	struct error *err)
{
	memset(s, 0, sizeof(*s));
	s->acct = acct;
	s->params.helo_name = acct->domain ? acct->domain : net_fqdn();
	s->params.timeout = acct->timeout;
	s->params.tls_mode = account_tls_mode(acct);
	s->port = account_port(acct);
	if (setup_name(acct, "host", acct->host, &s->host, err) < 0)
		return -1;
	if (acct->tls_host_override) {
		if (setup_name(acct, "tls_host_override",
			    acct->tls_host_override, &s->tls_host, err) < 0)
			return -1;
	} else {
		s->tls_host = xstrdup(s->host);
	}
	if (acct->tls)
		setup_tls(s, serverinfo);
	if (!serverinfo && config_auth_enabled(acct))
		return setup_auth(s, err);
	return 0;
}

/* Once AUTH is over the password has no use: it does not stay in memory
   while the messages go out. */
static void
session_forget_password(struct session *s)
{
	secret_free(s->password);
	s->password = NULL;
	s->auth.password = NULL;
}

int
session_start(struct session *s, const struct account *acct, struct error *err)
{
	int fd, r;

	if (setup_session(s, acct, 0, err) < 0)
		return -1;
	fd = net_connect(s->host, s->port, acct->timeout, err);
	if (fd < 0) {
		s->connect_failed = 1;
		return -1;
	}
	r = smtp_open(&s->smtp, fd, &s->params, err);
	s->have_smtp = 1;
	session_forget_password(s);
	return r;
}

void
session_end(struct session *s)
{
	/* smtp_quit knows whether the session still allows a QUIT (not
	   after a 421, a timeout, an aborted DATA or a server whose SCRAM
	   signature failed). */
	if (s->have_smtp) {
		smtp_quit(&s->smtp);
		smtp_close(&s->smtp);
		s->have_smtp = 0;
	}
	session_forget_password(s);
	free(s->host);
	free(s->tls_host);
	free(s->session_file);
	s->host = s->tls_host = s->session_file = NULL;
}

static const char *
tls_mode_name(enum smtp_tls mode)
{
	switch (mode) {
	case SMTP_TLS_NONE:
		return "no TLS";
	case SMTP_TLS_IMPLICIT:
		return "implicit TLS";
	default:
		return "STARTTLS";
	}
}

int
session_serverinfo(
	const struct account *acct, struct buf *out, struct error *err)
{
	struct session s;
	int fd, r = -1;

	if (setup_session(&s, acct, 1, err) < 0)
		goto out;
	buf_printf(out, "server: %s port %u (%s)\n", s.host, s.port,
		tls_mode_name(s.params.tls_mode));
	fd = net_connect(s.host, s.port, acct->timeout, err);
	if (fd < 0)
		goto out;
	r = smtp_serverinfo(&s.smtp, fd, &s.params, out, err);
	s.have_smtp = 1;
out:
	session_end(&s);
	return r;
}
