/*
 * job.c - from the parsed command line to a submitted message: the
 * configuration and the account, the envelope, the account's from
 * expanded, bare names qualified, the header repaired, the session set
 * up from the account, and the outcome reported and logged. -bv, -S and
 * -bs's per-message relay share the same steps.
 */
#include "autoconf.h"

#include <errno.h>
#include <pwd.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "address.h"
#include "buf.h"
#include "config.h"
#include "job.h"
#include "log.h"
#include "message.h"
#include "net.h"
#include "secret.h"
#include "server.h"
#include "smtp.h"
#include "xmalloc.h"

/*
 * Text from argv, the configuration or the message quoted in an error
 * line goes through here: escaped as server text is, so a control or
 * 8-bit byte never reaches the user's terminal raw. dst holds QUOTE_MAX.
 */
#define QUOTE_MAX 1024

static const char *
quote(char *dst, const char *s)
{
	return log_escape(dst, QUOTE_MAX, s, strlen(s));
}

struct envelope {
	char *sender;       /* "" for the null sender; NULL until decided */
	char *sender_ascii; /* sender with A-labels, NULL when the same */
	struct address_list rcpts;
	char **rcpts_ascii; /* rcpts.n entries: A-label forms, NULL = same */
};

/* Bytes that would let an argument smuggle a new command or parameter
   onto the wire (RFC 5321 §4.1.2 allows none of them in a path). */
static int
check_argument(const char *what, const char *arg, struct error *err)
{
	char q[QUOTE_MAX];

	if (strpbrk(arg, "\r\n") == NULL)
		return 0;
	error_set(err, ERR_DATA, "%s '%s': contains a line break", what,
		quote(q, arg));
	return -1;
}

static int
envelope_args(struct envelope *env, const struct options *o, struct error *err)
{
	for (int i = 0; i < o->nrcpts; i++) {
		char q[QUOTE_MAX];

		if (check_argument("recipient", o->rcpts[i], err) < 0)
			return -1;
		if (address_parse_list(o->rcpts[i], strlen(o->rcpts[i]),
			    &env->rcpts, err) < 0) {
			error_prefix(
				err, "recipient '%s'", quote(q, o->rcpts[i]));
			return -1;
		}
	}
	return 0;
}

/* -f takes "addr", "Name <addr>", "<addr>", or "<>" / "" (null sender). */
static int
envelope_sender(struct envelope *env, const char *arg, struct error *err)
{
	struct address a;

	if (check_argument("sender", arg, err) < 0)
		return -1;
	if (arg[0] == '\0' || strcmp(arg, "<>") == 0) {
		env->sender = xstrdup("");
		return 0;
	}
	if (address_parse_one(arg, strlen(arg), &a, err) < 0) {
		char q[QUOTE_MAX];

		error_prefix(err, "sender '%s'", quote(q, arg));
		return -1;
	}
	env->sender = xstrdup(a.mailbox);
	address_release(&a);
	return 0;
}

static int
envelope_check(const struct envelope *env, struct error *err)
{
	/* -bv decides no sender: sender NULL. */
	if (env->sender && env->sender[0] &&
		address_check_envelope(env->sender, err) < 0) {
		error_prefix(err, "sender");
		return -1;
	}
	for (size_t i = 0; i < env->rcpts.n; i++) {
		if (address_check_envelope(env->rcpts.v[i].mailbox, err) < 0) {
			error_prefix(err, "recipient");
			return -1;
		}
	}
	return 0;
}

/*
 * As Postfix's allow_min_user = no: an address that starts with '-' is
 * an option that came after the first operand ("postie a@x -oi"), or an
 * attempt to pass one to a program further down the line. Checked as
 * given, before "-oi" could be qualified into "-oi@example.org".
 */
static int
envelope_check_dash(const struct envelope *env, struct error *err)
{
	for (size_t i = 0; i < env->rcpts.n; i++) {
		const char *m = env->rcpts.v[i].mailbox;
		char q[QUOTE_MAX];

		if (m[0] == '-') {
			error_set(err, ERR_DATA,
				"recipient '%s': starts with '-' "
				"(options must come before the recipients)",
				quote(q, m));
			return -1;
		}
	}
	return 0;
}

/* The A-label form of m, or NULL when it is m itself. */
static int
envelope_ascii(const char *m, char **out, struct error *err)
{
	if (address_domain_to_ascii(m, out, err) < 0)
		return -1;
	if (strcmp(*out, m) == 0) {
		free(*out);
		*out = NULL;
	}
	return 0;
}

/*
 * RFC 5890: every domain gets its A-label form now, so an invalid IDN is
 * refused (65) before any connection; which form goes on the wire is the
 * session's choice (SMTPUTF8 offered or not).
 */
static int
envelope_idna(struct envelope *env, struct error *err)
{
	if (env->sender && env->sender[0] &&
		envelope_ascii(env->sender, &env->sender_ascii, err) < 0) {
		error_prefix(err, "sender");
		return -1;
	}
	env->rcpts_ascii = xcalloc(env->rcpts.n, sizeof(*env->rcpts_ascii));
	for (size_t i = 0; i < env->rcpts.n; i++)
		if (envelope_ascii(env->rcpts.v[i].mailbox,
			    &env->rcpts_ascii[i], err) < 0) {
			error_prefix(err, "recipient");
			return -1;
		}
	return 0;
}

static void
envelope_release(struct envelope *env)
{
	if (env->rcpts_ascii)
		for (size_t i = 0; i < env->rcpts.n; i++)
			free(env->rcpts_ascii[i]);
	free(env->rcpts_ascii);
	free(env->sender);
	free(env->sender_ascii);
	address_list_release(&env->rcpts);
}

/* ------------------------------------------------------------------ */

static ssize_t
source_read(void *ctx, char *buf, size_t cap, struct error *err)
{
	return message_reader_read(ctx, buf, cap, err);
}

static void
source_rewind(void *ctx, int dotstuff)
{
	struct message_reader *r = ctx;

	message_reader_init(r, r->msg, dotstuff);
}

/* ------------------------------------------------------------------ */

/*
 * Everything a session needs that main derives from the account: the
 * TLS mode and port, the names in A-label form, the TLS and AUTH
 * parameters, and the password (wiped by setup_release).
 */
struct setup {
	struct smtp_params params;
	struct tls_params tls;
	struct auth_params auth;
	unsigned port;
	char *host;     /* the account's host, A-labels (owned) */
	char *tls_host; /* tls_host_override or host, A-labels (owned) */
	char *password; /* secret_lookup's, or NULL (owned, a secret) */
};

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

static void
setup_tls(struct setup *su, const struct account *acct, int serverinfo)
{
	char q[QUOTE_MAX];

	su->tls.host = su->tls_host;
	su->tls.trust_file = acct->tls_trust_file;
	su->tls.fingerprint = acct->tls_fingerprint;
	su->tls.certcheck = acct->tls_certcheck;
	su->tls.priorities = acct->tls_priorities;
	su->tls.cert_file = acct->tls_cert_file;
	su->tls.key_file = acct->tls_key_file;
	su->tls.timeout = acct->timeout;
	su->tls.report_only = serverinfo;
	su->params.tls = &su->tls;
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
setup_auth(struct setup *su, const struct account *acct, struct error *err)
{
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
	sq.port = su->port;
	sq.user = acct->user;
	sq.password = acct->password;
	sq.passwordeval = acct->passwordeval;
	sq.account = acct->name;
	if (!external && secret_lookup(&sq, &su->password, err) < 0)
		return -1;
	su->auth.mech = acct->auth;
	su->auth.user = acct->user;
	su->auth.password = su->password;
	su->auth.host = su->host;
	su->auth.port = su->port;
	su->params.auth = &su->auth;
	su->params.auth_unverified = acct->auth_plaintext || external;
	return 0;
}

/* Fill su for acct; serverinfo: no AUTH, and a certificate that fails
   the check is still shown. */
static int
setup_session(struct setup *su, const struct account *acct, int serverinfo,
	struct error *err)
{
	memset(su, 0, sizeof(*su));
	su->params.helo_name = acct->domain ? acct->domain : net_fqdn();
	su->params.timeout = acct->timeout;
	su->params.tls_mode = account_tls_mode(acct);
	su->port = account_port(acct);
	if (setup_name(acct, "host", acct->host, &su->host, err) < 0)
		return -1;
	if (acct->tls_host_override) {
		if (setup_name(acct, "tls_host_override",
			    acct->tls_host_override, &su->tls_host, err) < 0)
			return -1;
	} else {
		su->tls_host = xstrdup(su->host);
	}
	if (acct->tls)
		setup_tls(su, acct, serverinfo);
	if (!serverinfo && config_auth_enabled(acct))
		return setup_auth(su, acct, err);
	return 0;
}

/* Once AUTH is over the password has no use: it does not stay in memory
   while the message goes out. */
static void
setup_forget_password(struct setup *su)
{
	secret_free(su->password);
	su->password = NULL;
	su->auth.password = NULL;
}

static void
setup_release(struct setup *su)
{
	setup_forget_password(su);
	free(su->host);
	free(su->tls_host);
	memset(su, 0, sizeof(*su));
}

/* Name each refused recipient with the server's words. */
static void
report_refused(const struct smtp_rcpt *r, size_t n)
{
	char q[QUOTE_MAX];

	for (size_t i = 0; i < n; i++)
		if (r[i].reply && r[i].code >= 400)
			fprintf(stderr,
				"postie: recipient <%s>: server said: "
				"%s\n",
				quote(q, r[i].addr), r[i].reply);
}

struct submission {
	const struct account *acct;
	struct envelope *env;
	struct message *msg;
	const struct options *opt;
	struct smtp_rcpt *rcpts;
	int final_code;
	char *final_text;
	int authenticated;
	int connect_failed; /* net_connect failed: no session at all */
};

/* 8-bit bytes in the header fields that are sent (RFC 6532 UTF-8). */
static int
header_has_8bit(const struct message *msg)
{
	for (size_t i = 0; i < msg->nfields; i++) {
		const struct message_field *f = &msg->fields[i];

		if (f->removed)
			continue;
		for (size_t k = 0; k < f->len; k++)
			if ((unsigned char)msg->headers[f->off + k] >= 0x80)
				return 1;
	}
	return 0;
}

static int
submit(struct submission *sub, struct error *err)
{
	struct smtp_envelope senv = {0};
	struct smtp_session s;
	struct message_reader reader;
	struct smtp_source src = {0};
	struct setup su;
	int fd, r = -1;

	if (setup_session(&su, sub->acct, 0, err) < 0)
		goto out;
	senv.sender = sub->env->sender;
	senv.sender_ascii = sub->env->sender_ascii;
	senv.rcpts = sub->rcpts;
	senv.nrcpts = sub->env->rcpts.n;
	senv.body = sub->opt->body;
	/* -N and -R win over the account's dsn_notify and dsn_return. */
	senv.dsn_notify =
		sub->opt->notify ? sub->opt->notify : sub->acct->dsn_notify;
	senv.dsn_ret = sub->opt->ret ? sub->opt->ret : sub->acct->dsn_return;
	senv.dsn_envid = sub->opt->envid;
	message_reader_init(&reader, sub->msg, 1);
	src.read = source_read;
	src.rewind = source_rewind;
	src.ctx = &reader;
	src.size = message_wire_size(sub->msg);
	src.has_8bit = sub->msg->has_8bit;
	src.header_8bit = header_has_8bit(sub->msg);

	fd = net_connect(su.host, su.port, sub->acct->timeout, err);
	if (fd < 0) {
		sub->connect_failed = 1;
		goto out;
	}
	/* smtp_quit knows whether the session still allows a QUIT (not
	   after a 421, a timeout, an aborted DATA or a server whose SCRAM
	   signature failed). */
	r = smtp_open(&s, fd, &su.params, err);
	setup_forget_password(&su);
	if (r == 0)
		r = smtp_send(&s, &senv, &src, err);
	smtp_quit(&s);
	sub->final_code = s.final_code;
	sub->final_text = s.final_text ? xstrdup(s.final_text) : NULL;
	sub->authenticated = s.authenticated;
	smtp_close(&s);
out:
	setup_release(&su);
	return r;
}

static void
log_outcome(const struct submission *sub, const struct error *err)
{
	struct log_record rec = {0};
	const char **rcpts;
	struct error lerr;

	if (!sub->acct || (!sub->acct->logfile && !sub->acct->syslog))
		return;
	rcpts = xcalloc(sub->env->rcpts.n + 1, sizeof(*rcpts));
	for (size_t i = 0; i < sub->env->rcpts.n; i++)
		rcpts[i] = sub->env->rcpts.v[i].mailbox;
	rec.host = sub->acct->host;
	rec.tls = sub->acct->tls;
	rec.auth = sub->authenticated;
	rec.user = sub->acct->user;
	rec.from = sub->env->sender;
	rec.rcpts = rcpts;
	rec.nrcpts = sub->env->rcpts.n;
	rec.mailsize = (long long)message_wire_size(sub->msg);
	rec.outcome = err;
	rec.smtp_code = sub->final_code;
	rec.smtp_text = sub->final_text;
	error_clear(&lerr);
	if (log_write_record(
		    &rec, sub->acct->logfile, sub->acct->syslog, &lerr) < 0)
		fprintf(stderr, "postie: %s\n", lerr.text);
	free(rcpts);
}

/* The envelope the command line gives: -f and the recipient arguments. */
static int
envelope_options(
	struct envelope *env, const struct options *opt, struct error *err)
{
	if (opt->sender && envelope_sender(env, opt->sender, err) < 0)
		return -1;
	if (envelope_args(env, opt, err) < 0)
		return -1;
	if (env->rcpts.n == 0 && !opt->read_headers && !opt->serverinfo) {
		error_set(err, ERR_USAGE,
			"no recipients given (name them as "
			"arguments, or use -t to read them from the header)");
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------ */

/*
 * One run: the configuration and the chosen account, the aliases, the
 * spooled message and the envelope, and what qualifies bare names.
 */
struct job {
	const struct options *opt;
	struct config cfg;
	const struct account *acct;
	struct aliases aliases;
	struct message msg;
	struct envelope env;
	int have_cfg, have_msg, have_aliases;
	char *from;       /* the account's from, % expanded and qualified;
			     NULL when unset or a pattern */
	char *maildomain; /* qualifies bare names; NULL: none */
};

#define MAILNAME_PATH "/etc/mailname"

static int
is_pattern(const char *s)
{
	return strpbrk(s, "*?") != NULL;
}

/* %M: the first line of /etc/mailname, Debian's name for the mail domain. */
static int
expand_mailname(struct buf *b, struct error *err)
{
	char line[512];
	FILE *f = fopen(MAILNAME_PATH, "re");
	size_t n;

	if (!f) {
		error_set(err, ERR_CONFIG, "from: %%M: cannot read %s: %s",
			MAILNAME_PATH, strerror(errno));
		return -1;
	}
	if (!fgets(line, sizeof(line), f))
		line[0] = '\0';
	fclose(f);
	n = strcspn(line, "\r\n \t");
	if (n == 0) {
		error_set(err, ERR_CONFIG, "from: %%M: %s is empty",
			MAILNAME_PATH);
		return -1;
	}
	buf_append(b, line, n);
	return 0;
}

/* %U: the login name of the real user (not $USER, which anyone sets). */
static int
expand_user(struct buf *b, struct error *err)
{
	struct passwd *pw = getpwuid(getuid());

	if (!pw || !pw->pw_name || !pw->pw_name[0]) {
		error_set(err, ERR_CONFIG,
			"from: %%U: no user name for uid %lu",
			(unsigned long)getuid());
		return -1;
	}
	buf_addstr(b, pw->pw_name);
	return 0;
}

static int
expand_host(struct buf *b, struct error *err)
{
	char host[256];

	if (gethostname(host, sizeof(host)) < 0) {
		error_set(err, ERR_OS, "from: %%H: gethostname: %s",
			strerror(errno));
		return -1;
	}
	host[sizeof(host) - 1] = '\0';
	buf_addstr(b, host);
	return 0;
}

/* %F: the first address of the From: header; msg NULL: not known yet. */
static int
expand_header_from(struct buf *b, const struct message *msg, int *unknown,
	struct error *err)
{
	struct address_list l;
	int r = -1;

	if (!msg) {
		*unknown = 1;
		return 0;
	}
	address_list_init(&l);
	if (message_header_addresses(msg, "From", &l, err) < 0)
		goto out;
	if (l.n == 0) {
		error_set(err, ERR_DATA,
			"from %%F: the message has no From: header");
		goto out;
	}
	buf_addstr(b, l.v[0].mailbox);
	r = 0;
out:
	address_list_release(&l);
	return r;
}

static int
expand_one(struct buf *b, char c, const struct message *msg, int *unknown,
	struct error *err)
{
	switch (c) {
	case '%':
		buf_addch(b, '%');
		return 0;
	case 'U':
		return expand_user(b, err);
	case 'H':
		return expand_host(b, err);
	case 'C':
		buf_addstr(b, net_fqdn());
		return 0;
	case 'M':
		return expand_mailname(b, err);
	case 'F':
		return expand_header_from(b, msg, unknown, err);
	default:
		error_set(err, ERR_CONFIG,
			"from: unknown '%%%c' (use %%U, %%H, %%C, %%M, %%F or "
			"%%%%)",
			c >= ' ' && c < 0x7f ? c : '?');
		return -1;
	}
}

/*
 * The account's from with %U (login name), %H (host name), %C (canonical
 * host name), %M (/etc/mailname), %F (the From: header's address) and %%
 * expanded. msg NULL: a from with %F cannot be known yet, *out is NULL.
 */
static int
expand_from(const char *from, const struct message *msg, char **out,
	struct error *err)
{
	struct buf b;
	int unknown = 0;

	*out = NULL;
	/* Bounded by its parts (a config value, a header, a host name); the
	   envelope check then refuses an address that is too long. */
	buf_init(&b, (size_t)-1);
	for (const char *p = from; *p; p++) {
		if (*p != '%') {
			buf_addch(&b, *p);
			continue;
		}
		if (expand_one(&b, p[1], msg, &unknown, err) < 0) {
			buf_release(&b);
			return -1;
		}
		if (p[1])
			p++;
	}
	if (unknown) {
		buf_release(&b);
		return 0;
	}
	*out = buf_detach(&b, NULL);
	return 0;
}

/* Account choice by sender sees each from expanded; errors match nothing. */
static char *
choose_expand(const struct account *acct, void *ctx)
{
	struct job *job = ctx;
	struct error err;
	char *out;

	error_clear(&err);
	if (expand_from(acct->from, job->have_msg ? &job->msg : NULL, &out,
		    &err) < 0)
		return NULL;
	return out;
}

static int
job_read_message(struct job *job, struct error *err)
{
	struct message_opts mopts = {0};

	mopts.dot_ends = !job->opt->to_eof;
	job->have_msg = 1;
	if (message_read(&job->msg, STDIN_FILENO, &mopts, err) < 0) {
		error_prefix(err, "standard input");
		return -1;
	}
	return 0;
}

static const char *
domain_of(const char *mailbox)
{
	const char *at = strrchr(mailbox, '@');

	return at && at[1] ? at + 1 : NULL;
}

/* The bare name's address for the envelope sender and the headers: one
   mailbox, its alias when that is one address (address_qualify_name). */
static int
job_qualify(
	const struct job *job, const char *name, char **out, struct error *err)
{
	return address_qualify_name(job->have_aliases ? &job->aliases : NULL,
		job->maildomain, name, out, err);
}

/*
 * An address postie writes into the header: its domain in A-labels, so a
 * Unicode maildomain or sender does not by itself make the message need
 * SMTPUTF8 (RFC 6532); a UTF-8 local part stays (it needs SMTPUTF8 in the
 * envelope anyway). A new string.
 */
static char *
header_address(const char *m, struct error *err)
{
	char *ascii;

	if (address_domain_to_ascii(m, &ascii, err) < 0)
		return NULL;
	if (address_local_is_ascii(ascii))
		return ascii;
	free(ascii);
	return xstrdup(m);
}

static char *
job_qualify_header(const char *bare, void *ctx, struct error *err)
{
	char *out, *h;

	if (job_qualify(ctx, bare, &out, err) < 0)
		return NULL;
	h = header_address(out, err);
	free(out);
	return h;
}

/*
 * The account's from expanded, and the domain for bare names: maildomain,
 * else the domain of that from ("*@example.org" gives one too), after
 * which a bare from ("%U") is qualified itself.
 */
static int
job_expand_account_from(struct job *job, struct error *err)
{
	const struct account *acct = job->acct;
	const char *dom;
	char *from = NULL;
	int r = 0;

	/* -bv without -t reads no message: a from of %F is then unknown. */
	if (acct->from &&
		expand_from(acct->from, job->have_msg ? &job->msg : NULL, &from,
			err) < 0)
		return -1;
	dom = from ? domain_of(from) : NULL;
	if (acct->maildomain)
		job->maildomain = xstrdup(acct->maildomain);
	else if (dom && !is_pattern(dom))
		job->maildomain = xstrdup(dom);
	/* A pattern chooses the account; it is no address to send from. */
	if (from && !is_pattern(from)) {
		if (from[0] && !strchr(from, '@')) {
			r = job_qualify(job, from, &job->from, err);
		} else {
			job->from = from;
			from = NULL;
		}
	}
	free(from);
	return r;
}

/*
 * A from that cannot be expanded or qualified matters only where it is
 * used: as the sender, or to pin one. With -f (or From: read for the
 * sender) and no pin, it only loses its domain for bare names.
 */
static int
job_account_from(struct job *job, struct error *err)
{
	const struct options *opt = job->opt;
	char q[QUOTE_MAX];

	if (job_expand_account_from(job, err) == 0)
		return 0;
	if ((opt->sender || opt->read_envelope_from) &&
		job->acct->allow_from_override) {
		error_clear(err);
		return 0;
	}
	error_prefix(err, "account '%s'", quote(q, job->acct->name));
	return -1;
}

static int
job_load_aliases(struct job *job, struct error *err)
{
	if (!job->acct->aliases)
		return 0;
	job->have_aliases = 1;
	return aliases_load(&job->aliases, job->acct->aliases, err);
}

/* --read-envelope-from (or no -f and a from of %F): From:'s address. */
static int
job_header_sender(struct job *job, struct error *err)
{
	struct address_list l;
	int r = -1;

	address_list_init(&l);
	if (message_header_addresses(&job->msg, "From", &l, err) < 0)
		goto out;
	if (l.n == 0) {
		error_set(err, ERR_DATA,
			"--read-envelope-from: the message has no "
			"From: header");
		goto out;
	}
	job->env.sender = xstrdup(l.v[0].mailbox);
	r = 0;
out:
	address_list_release(&l);
	return r;
}

/*
 * allow_from_override off: the sender the caller chose (-f, or From: with
 * --read-envelope-from) must be the account's from, or match its pattern;
 * otherwise any local user could send as anyone through the account.
 */
static int
job_check_pinned(const struct job *job, struct error *err)
{
	const struct account *acct = job->acct;
	char *pin = NULL;
	char qa[QUOTE_MAX], qp[QUOTE_MAX], qs[QUOTE_MAX];
	int ok;

	if (acct->allow_from_override || !acct->from)
		return 0;
	if (expand_from(acct->from, &job->msg, &pin, err) < 0)
		return -1;
	ok = job->env.sender[0] &&
	     ((job->from &&
		      config_sender_matches(job->from, job->env.sender)) ||
		     config_sender_matches(pin, job->env.sender));
	if (!ok)
		error_set(err, ERR_CONFIG,
			"account '%s' pins the sender to '%s' "
			"(allow_from_override off): sender '%s' not allowed",
			quote(qa, acct->name),
			quote(qp, job->from ? job->from : pin),
			quote(qs, job->env.sender[0] ? job->env.sender : "<>"));
	free(pin);
	return ok ? 0 : -1;
}

/*
 * The envelope sender: -f, else the From: header with
 * --read-envelope-from, else the account's from (expanded), qualified
 * when bare. The null sender stays "".
 */
static int
job_sender(struct job *job, struct error *err)
{
	char qname[QUOTE_MAX], qpath[QUOTE_MAX];
	const struct account *acct = job->acct;
	char *q;

	if (!job->env.sender && job->opt->read_envelope_from &&
		job_header_sender(job, err) < 0)
		return -1;
	if (job->env.sender) {
		if (job->env.sender[0] && !strchr(job->env.sender, '@')) {
			if (job_qualify(job, job->env.sender, &q, err) < 0) {
				error_prefix(err, "sender");
				return -1;
			}
			free(job->env.sender);
			job->env.sender = q;
		}
		return job_check_pinned(job, err);
	}
	/* "from *@example.org" chooses the account for any sender there;
	   it is no address to send from. */
	if (acct->from && is_pattern(acct->from)) {
		error_set(err, ERR_CONFIG,
			"no envelope sender: account '%s' "
			"has the pattern from '%s'; use -f",
			quote(qname, acct->name), quote(qpath, acct->from));
		return -1;
	}
	if (!job->from || !job->from[0]) {
		error_set(err, ERR_CONFIG,
			"no envelope sender: use -f, or set "
			"'from' in account '%s' of %s",
			quote(qname, acct->name), quote(qpath, job->cfg.path));
		return -1;
	}
	return envelope_sender(&job->env, job->from, err);
}

/*
 * The recipients: the arguments, with -t the header's too, bare names
 * through the aliases or qualified, each once.
 */
static int
job_recipients(struct job *job, struct error *err)
{
	struct envelope *env = &job->env;

	if (job->opt->read_headers &&
		message_header_recipients(&job->msg, &env->rcpts, err) < 0)
		return -1;
	if (envelope_check_dash(env, err) < 0)
		return -1;
	if (address_expand(job->have_aliases ? &job->aliases : NULL,
		    job->maildomain, &env->rcpts, err) < 0)
		return -1;
	address_list_dedupe(&env->rcpts);
	if (env->rcpts.n == 0) {
		error_set(err, ERR_USAGE,
			"no recipients: none given as "
			"arguments and none in the To:, Cc: or Bcc: header");
		return -1;
	}
	return envelope_check(env, err);
}

/* The Message-ID's domain: the sender's, else maildomain, else this
   host's name; in A-labels, which every server takes. */
static int
job_msgid_domain(const struct job *job, char **out, struct error *err)
{
	const char *dom = domain_of(job->env.sender);

	if (!dom)
		dom = job->maildomain ? job->maildomain : net_fqdn();
	if (dom[0] == '[') {
		*out = xstrdup(dom);
		return 0;
	}
	return address_idna_to_ascii(dom, out, err);
}

/* The From: to add: -F or from_full_name, and the envelope sender (for
   the null sender the account's from; with neither, none is added). */
static int
job_set_from(struct job *job, struct error *err)
{
	const struct account *acct = job->acct;
	const char *from = job->env.sender[0] ? job->env.sender : job->from;
	const char *name =
		job->opt->fullname ? job->opt->fullname : acct->from_full_name;
	enum message_from_mode mode = MESSAGE_FROM_OFF;
	char *addr;
	int r;

	if (acct->set_from_header == CONFIG_MODE_AUTO)
		mode = MESSAGE_FROM_AUTO;
	else if (acct->set_from_header == CONFIG_MODE_ON)
		mode = MESSAGE_FROM_ON;
	if (!from || mode == MESSAGE_FROM_OFF)
		return 0;
	addr = header_address(from, err);
	r = addr ? message_set_from(&job->msg, mode, name, addr, err) : -1;
	free(addr);
	if (r < 0) {
		error_prefix(err, "From header");
		return -1;
	}
	return 0;
}

/*
 * Header repair, in this order (postie.conf(5)): Bcc removed, To/Cc
 * replaced for undisclosed_recipients, bare names qualified, then To:,
 * From:, Date:, Message-ID: added where missing, each on top.
 */
static int
job_repair(struct job *job, struct error *err)
{
	const struct account *acct = job->acct;
	struct message *msg = &job->msg;
	time_t now = time(NULL);
	char *dom = NULL;
	int r = -1;

	if (acct->remove_bcc_headers) {
		message_remove_fields(msg, "Bcc");
		message_remove_fields(msg, "Resent-Bcc");
	}
	if (acct->undisclosed_recipients &&
		message_undisclosed_recipients(msg, err) < 0)
		goto out;
	if (message_qualify_fields(msg, job_qualify_header, job, err) < 0)
		goto out;
	if (acct->set_to_header == CONFIG_MODE_AUTO &&
		message_set_to_undisclosed(msg, err) < 0)
		goto out;
	if (job_set_from(job, err) < 0)
		goto out;
	if (acct->set_date_header == CONFIG_MODE_AUTO &&
		message_set_date(msg, now, err) < 0)
		goto out;
	if (acct->set_msgid_header == CONFIG_MODE_AUTO &&
		(job_msgid_domain(job, &dom, err) < 0 ||
			message_set_msgid(msg, dom, now, err) < 0))
		goto out;
	r = 0;
out:
	free(dom);
	return r;
}

/*
 * Submit sub's acct, env, msg and opt, then name each refused recipient
 * and write the log line. sub->final_code, final_text (the caller frees
 * it) and connect_failed say how it went.
 */
static int
deliver(struct submission *sub, struct error *err)
{
	struct envelope *env = sub->env;
	int r;

	sub->rcpts = xcalloc(env->rcpts.n, sizeof(*sub->rcpts));
	for (size_t i = 0; i < env->rcpts.n; i++) {
		sub->rcpts[i].addr = env->rcpts.v[i].mailbox;
		sub->rcpts[i].addr_ascii = env->rcpts_ascii[i];
	}
	r = submit(sub, err);
	if (r < 0)
		report_refused(sub->rcpts, env->rcpts.n);
	log_outcome(sub, err);
	smtp_rcpts_release(sub->rcpts, env->rcpts.n);
	free(sub->rcpts);
	sub->rcpts = NULL;
	return r;
}

/*
 * No sender can come from anywhere: said before the input is read, as a
 * configuration error (job_sender says the same for a from that expands
 * to nothing).
 */
static int
job_sender_possible(const struct job *job, struct error *err)
{
	const struct account *acct = job->acct;
	char qname[QUOTE_MAX], qpath[QUOTE_MAX];

	if (job->env.sender || job->opt->read_envelope_from)
		return 0;
	if (acct->from && is_pattern(acct->from)) {
		error_set(err, ERR_CONFIG,
			"no envelope sender: account '%s' "
			"has the pattern from '%s'; use -f",
			quote(qname, acct->name), quote(qpath, acct->from));
		return -1;
	}
	if (!acct->from) {
		error_set(err, ERR_CONFIG,
			"no envelope sender: use -f, or set "
			"'from' in account '%s' of %s",
			quote(qname, acct->name), quote(qpath, job->cfg.path));
		return -1;
	}
	return 0;
}

/*
 * The account: by -a, else the first whose from (expanded) matches the
 * sender, else the default. The sender is -f, or with
 * --read-envelope-from the From: header, for which the message is read
 * first.
 */
static int
job_choose(struct job *job, struct error *err)
{
	const struct options *opt = job->opt;
	struct address_list l;
	struct error ignored;
	const char *hint = job->env.sender;

	address_list_init(&l);
	if (!hint && opt->read_envelope_from && !opt->serverinfo) {
		if (job_read_message(job, err) < 0)
			return -1;
		/* A From: that does not parse is reported by job_sender. */
		error_clear(&ignored);
		if (message_header_addresses(&job->msg, "From", &l, &ignored) ==
				0 &&
			l.n > 0)
			hint = l.v[0].mailbox;
	}
	job->acct = config_choose_expanded(
		&job->cfg, opt->account, hint, choose_expand, job, err);
	address_list_release(&l);
	if (!job->acct || config_check_account(job->acct, err) < 0)
		return -1;
	return 0;
}

/* The per-message half of a job dropped: the next -bs message starts
   from the configuration and the account alone. */
static void
job_forget_message(struct job *job)
{
	if (job->have_msg)
		message_release(&job->msg);
	if (job->have_aliases)
		aliases_release(&job->aliases);
	envelope_release(&job->env);
	free(job->from);
	free(job->maildomain);
	memset(&job->msg, 0, sizeof(job->msg));
	memset(&job->env, 0, sizeof(job->env));
	address_list_init(&job->env.rcpts);
	job->have_msg = job->have_aliases = 0;
	job->from = job->maildomain = NULL;
}

static void
job_release(struct job *job)
{
	job_forget_message(job);
	if (job->have_cfg)
		config_release(&job->cfg);
}

/*
 * The message read, made ready: sender, recipients, A-labels, header
 * repair (a send and each -bs message alike).
 */
static int
job_prepare_message(struct job *job, struct error *err)
{
	if (job_load_aliases(job, err) < 0 || job_account_from(job, err) < 0 ||
		job_sender(job, err) < 0 || job_recipients(job, err) < 0 ||
		envelope_idna(&job->env, err) < 0)
		return -1;
	return job_repair(job, err);
}

/* The message made ready: sender, recipients, A-labels, header repair. */
static int
job_prepare(struct job *job, struct error *err)
{
	if (job_sender_possible(job, err) < 0)
		return -1;
	if (!job->have_msg && job_read_message(job, err) < 0)
		return -1;
	return job_prepare_message(job, err);
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

/*
 * -S: connect, show what the server says about itself and its
 * certificate (even one that fails the check: that is when a user needs
 * to see it), QUIT. No message, no AUTH. A failed check still exits 69.
 */
static int
job_show_server(const struct account *acct, struct error *err)
{
	struct smtp_session s;
	struct setup su;
	struct buf out;
	int fd, r = -1;

	buf_init(&out, (size_t)-1);
	if (setup_session(&su, acct, 1, err) < 0)
		goto out;
	buf_printf(&out, "server: %s port %u (%s)\n", su.host, su.port,
		tls_mode_name(su.params.tls_mode));
	fd = net_connect(su.host, su.port, acct->timeout, err);
	if (fd < 0)
		goto out;
	r = smtp_serverinfo(&s, fd, &su.params, &out, err);
	smtp_quit(&s);
	smtp_close(&s);
out:
	fwrite(out.data, 1, out.len, stdout);
	if (fflush(stdout) != 0 && r == 0) {
		error_set(err, ERR_IO, "standard output: write error");
		r = -1;
	}
	buf_release(&out);
	setup_release(&su);
	return r;
}

/*
 * -bv: the recipients as a message would be sent to them (aliases,
 * maildomain, -t's header recipients, IDNA checked), one a line on
 * standard output; nothing connects. The message is read only for -t or
 * --read-envelope-from, the modes that need its header.
 */
static int
job_print_recipients(struct job *job, struct error *err)
{
	struct buf out;
	int r = -1;

	if (!job->have_msg && job->opt->read_headers &&
		job_read_message(job, err) < 0)
		return -1;
	if (job_load_aliases(job, err) < 0 || job_account_from(job, err) < 0 ||
		job_recipients(job, err) < 0 ||
		envelope_idna(&job->env, err) < 0)
		return -1;
	buf_init(&out, (size_t)-1);
	for (size_t i = 0; i < job->env.rcpts.n; i++)
		buf_printf(&out, "%s\n", job->env.rcpts.v[i].mailbox);
	if (fwrite(out.data, 1, out.len, stdout) != out.len ||
		fflush(stdout) != 0)
		error_set(err, ERR_IO, "standard output: write error");
	else
		r = 0;
	buf_release(&out);
	return r;
}

/*
 * What every mode but -bs does first: the envelope the command line
 * gives, the configuration, the account. job is zeroed here; the caller
 * releases it with job_release whatever this returns.
 */
static int
job_start(struct job *job, const struct options *opt, struct error *err)
{
	memset(job, 0, sizeof(*job));
	job->opt = opt;
	address_list_init(&job->env.rcpts);
	if (envelope_options(&job->env, opt, err) < 0)
		return -1;
	if (config_load(&job->cfg, opt->config, err) < 0)
		return -1;
	job->have_cfg = 1;
	return job_choose(job, err);
}

int
job_send(const struct options *opt, struct error *err)
{
	struct submission sub = {0};
	struct job job;
	int r = -1;

	if (job_start(&job, opt, err) < 0 || job_prepare(&job, err) < 0)
		goto out;
	sub.acct = job.acct;
	sub.env = &job.env;
	sub.msg = &job.msg;
	sub.opt = opt;
	r = deliver(&sub, err);
	free(sub.final_text);
out:
	job_release(&job);
	return r;
}

int
job_verify(const struct options *opt, struct error *err)
{
	struct job job;
	int r = -1;

	if (job_start(&job, opt, err) == 0)
		r = job_print_recipients(&job, err);
	job_release(&job);
	return r;
}

int
job_serverinfo(const struct options *opt, struct error *err)
{
	struct job job;
	int r = -1;

	if (job_start(&job, opt, err) == 0)
		r = job_show_server(job.acct, err);
	job_release(&job);
	return r;
}

/* ------------------------------------------------------------------ */

/*
 * -bs: the largest message a caller may hand over (unstuffed, CRLF
 * lines), offered in EHLO's SIZE. Above what providers take (25 to 50
 * MB), so their refusal is the one the caller sees, and small enough
 * that a runaway caller cannot fill the spool directory.
 */
#define BS_SIZE_MAX (64ULL * 1024 * 1024)
/* Seconds per command line: RFC 5321 §4.5.3.2.7's server timeout. */
#define BS_TIMEOUT 300

/* One transaction's options: its MAIL and RCPT parameters win over -B,
   -N, -R and -V; the header is never read for the envelope. */
static void
bs_options(struct options *mo, const struct options *opt,
	const struct server_mail *m)
{
	*mo = *opt;
	mo->sender = m->sender;
	mo->read_headers = 0;
	mo->read_envelope_from = 0;
	if (m->body == SERVER_BODY_7BIT)
		mo->body = SMTP_BODY_7BIT;
	else if (m->body == SERVER_BODY_8BITMIME)
		mo->body = SMTP_BODY_8BITMIME;
	if (m->notify)
		mo->notify = m->notify;
	if (m->ret)
		mo->ret = m->ret;
	if (m->envid)
		mo->envid = m->envid;
}

/* The envelope and the message of one transaction, made ready as a
   send's are (qualification, aliases, pinning, IDNA, header repair). */
static int
bs_prepare(struct job *job, const struct server_mail *m, struct error *err)
{
	struct message_opts mopts = {0};
	char q[QUOTE_MAX];

	if (envelope_sender(&job->env, m->sender, err) < 0)
		return -1;
	for (size_t i = 0; i < m->nrcpts; i++)
		if (address_parse_list(m->rcpts[i].addr,
			    strlen(m->rcpts[i].addr), &job->env.rcpts,
			    err) < 0) {
			error_prefix(err, "recipient '%s'",
				quote(q, m->rcpts[i].addr));
			return -1;
		}
	mopts.dot_ends = 0; /* the server ended the data; "." is content */
	job->have_msg = 1;
	if (message_read(&job->msg, m->data_fd, &mopts, err) < 0)
		return -1;
	return job_prepare_message(job, err);
}

/*
 * The upstream's reply ("250 2.0.0 Ok: queued", as smtp keeps it) split
 * into out's enhanced code and text; the server checks the enhanced code
 * and sends CLASS.0.0 for one that is not.
 */
static void
bs_reply_text(struct server_reply *out, const char *reply)
{
	const char *p = reply ? reply : "";
	size_t n;

	p += strspn(p, "0123456789");
	p += strspn(p, " -");
	n = strspn(p, "0123456789.");
	if (n > 0 && n < sizeof(out->enhanced) && strchr(p, '.') &&
		(p[n] == ' ' || p[n] == '\0')) {
		memcpy(out->enhanced, p, n);
		out->enhanced[n] = '\0';
		p += n;
		p += strspn(p, " ");
	}
	snprintf(out->text, sizeof(out->text), "%s", p[0] ? p : "Ok");
}

/*
 * The end-of-data reply: the upstream's 250, or its 4xx/5xx refusal; a
 * message or address that cannot be sent as it is (ERR_DATA) is 554;
 * anything else local (configuration, password, a connection that failed
 * or broke) is 451, so the caller keeps the message and tries later. A
 * 421 becomes 451: the upstream's session ended, the caller's has not.
 */
static void
bs_reply(struct server_reply *out, int r, const struct submission *sub,
	const struct error *err)
{
	if (r == 0) {
		bs_reply_text(out, sub->final_text);
		out->code = 250;
		snprintf(out->enhanced, sizeof(out->enhanced), "2.0.0");
		return;
	}
	if (sub->final_code >= 400 && sub->final_code < 600 &&
		err->cls != ERR_AUTH && err->cls != ERR_CONFIG) {
		bs_reply_text(out, sub->final_text);
		out->code = sub->final_code == 421 ? 451 : sub->final_code;
		return;
	}
	if (err->cls == ERR_DATA) {
		/* The message or an address cannot be sent as it is (an
		   invalid IDN, UTF-8 the server cannot take): retrying will
		   not help, so the caller should bounce it, not keep it. */
		out->code = 554;
		snprintf(out->enhanced, sizeof(out->enhanced), "5.6.0");
	} else {
		out->code = 451;
		snprintf(out->enhanced, sizeof(out->enhanced), "%s",
			sub->connect_failed ? "4.4.1" : "4.3.0");
	}
	/* err->text is cut to fit the reply line. */
	snprintf(out->text, sizeof(out->text), "postie: %.480s", err->text);
}

/* server_run's callback: relay one message, answer with the outcome. */
static int
bs_deliver(void *ctx, const struct server_mail *m, struct server_reply *out,
	struct error *serr)
{
	struct job *job = ctx;
	const struct options *opt = job->opt;
	struct submission sub = {0};
	struct options mo;
	struct error err;
	int r;

	(void)serr;
	error_clear(&err);
	bs_options(&mo, opt, m);
	job->opt = &mo;
	r = bs_prepare(job, m, &err);
	if (r == 0) {
		sub.acct = job->acct;
		sub.env = &job->env;
		sub.msg = &job->msg;
		sub.opt = &mo;
		r = deliver(&sub, &err);
	}
	if (r < 0)
		fprintf(stderr, "postie: %s\n", err.text);
	bs_reply(out, r, &sub, &err);
	free(sub.final_text);
	job->opt = opt;
	job_forget_message(job);
	return 0;
}

/*
 * -bs: the account is chosen once (-a, -f, the default), then each
 * message the caller sends is relayed upstream before its final reply.
 */
int
job_smtp(const struct options *opt, struct error *err)
{
	struct server_params p = {0};
	struct options co = *opt;
	struct job job;
	int r = -1;

	memset(&job, 0, sizeof(job));
	/* Standard input is the SMTP session: nothing reads it ahead. */
	co.read_envelope_from = 0;
	co.read_headers = 0;
	job.opt = &co;
	address_list_init(&job.env.rcpts);
	if (opt->sender && envelope_sender(&job.env, opt->sender, err) < 0)
		goto out;
	if (config_load(&job.cfg, opt->config, err) < 0)
		goto out;
	job.have_cfg = 1;
	if (job_choose(&job, err) < 0)
		goto out;
	/* -f chose the account; each message's sender is its MAIL FROM. */
	job_forget_message(&job);
	p.hostname = job.acct->domain ? job.acct->domain : net_fqdn();
	p.timeout = BS_TIMEOUT;
	p.size_max = BS_SIZE_MAX;
	p.dsn = 1;
	p.deliver = bs_deliver;
	p.ctx = &job;
	r = server_run(STDIN_FILENO, STDOUT_FILENO, &p, err);
out:
	job_release(&job);
	return r;
}
