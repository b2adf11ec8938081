/*
 * job.c - from the parsed command line to a submitted message: the
 * configuration and the account, the envelope, the account's from
 * expanded, bare names qualified, the header repaired, the session set
 * up from the account, and the outcome reported and logged. -bv, -S and
 * -bs's per-message relay share the same steps.
 */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
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
#include "flush.h"
#include "job.h"
#include "log.h"
#include "message.h"
#include "net.h"
#include "queue.h"
#include "server.h"
#include "session.h"
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

static int
source_span(void *ctx, int *fd, off_t *off, off_t *len)
{
	return message_reader_span(ctx, fd, off, len);
}

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

/* msg's wire data as smtp_send and queue_add read it; r holds the
   position and must outlive src. */
static void
job_source(struct smtp_source *src, struct message_reader *r,
	const struct message *msg)
{
	message_reader_init(r, msg, 1);
	src->read = source_read;
	src->rewind = source_rewind;
	src->span = source_span;
	src->ctx = r;
	src->size = message_wire_size(msg);
	src->has_8bit = msg->has_8bit;
	src->header_8bit = header_has_8bit(msg);
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
	/* --files: the account's session, kept open across messages; NULL:
	   submit opens its own and drains the queue through it */
	struct session *session;
	const struct error *session_failed; /* --files: the account's session
					       could not be had: this message
					       fails the same way */
	char queued[QUEUE_ID_LEN + 1]; /* the queue id, when it was queued */
	const char *name; /* --files: the file, for the lines about it */
	/* --files: what goes behind the end of data (the next file's
	   commands); NULL: QUIT when nothing queued follows */
	const struct smtp_after *after;
	/* made by submission_ready, read by smtp_send and queue_add; the
	   source points into the reader, the envelope at rcpts */
	struct smtp_envelope senv;
	struct message_reader reader;
	struct smtp_source src;
};

/* What smtp_send and queue_add read, made from sub's envelope and
   message; submission_done frees it. */
static void
submission_ready(struct submission *sub)
{
	struct smtp_envelope *senv = &sub->senv;
	const struct envelope *env = sub->env;

	sub->rcpts = xcalloc(env->rcpts.n, sizeof(*sub->rcpts));
	for (size_t i = 0; i < env->rcpts.n; i++) {
		sub->rcpts[i].addr = env->rcpts.v[i].mailbox;
		sub->rcpts[i].addr_ascii = env->rcpts_ascii[i];
	}
	memset(senv, 0, sizeof(*senv));
	senv->sender = env->sender;
	senv->sender_ascii = env->sender_ascii;
	senv->rcpts = sub->rcpts;
	senv->nrcpts = env->rcpts.n;
	senv->body = sub->opt->body;
	/* -N and -R win over the account's dsn_notify and dsn_return. */
	senv->dsn_notify =
		sub->opt->notify ? sub->opt->notify : sub->acct->dsn_notify;
	senv->dsn_ret = sub->opt->ret ? sub->opt->ret : sub->acct->dsn_return;
	senv->dsn_envid = sub->opt->envid;
	job_source(&sub->src, &sub->reader, sub->msg);
}

static void
submission_done(struct submission *sub)
{
	if (sub->rcpts)
		smtp_rcpts_release(sub->rcpts, sub->senv.nrcpts);
	free(sub->rcpts);
	sub->rcpts = NULL;
	free(sub->final_text);
	sub->final_text = NULL;
}

/*
 * One transaction through sub->session, or through a session of its own
 * that also drains the account's queue once the message is through.
 */
static int
submit(struct submission *sub, struct error *err)
{
	/* cppcheck-suppress uninitvar ; session_start fills own before any
	   use: s is &own only when sub->session is NULL */
	struct session own, *s = sub->session ? sub->session : &own;
	int r = 0;

	if (sub->session_failed) {
		*err = *sub->session_failed;
		return -1;
	}
	if (!sub->session)
		r = session_start(s, sub->acct, err);
	if (r == 0 && sub->session) {
		r = smtp_send(&s->smtp, &sub->senv, &sub->src, sub->after, err);
	} else if (r == 0) {
		/* Alone in its session unless queued mail will follow it:
		   then QUIT goes with the end of data. */
		struct smtp_after after = {0};

		after.quit = !flush_has_queued(sub->acct);
		r = smtp_send(&s->smtp, &sub->senv, &sub->src, &after, err);
	}
	sub->connect_failed = s->connect_failed;
	if (s->have_smtp) {
		sub->final_code = s->smtp.final_code;
		free(sub->final_text);
		sub->final_text =
			s->smtp.final_text ? xstrdup(s->smtp.final_text) : NULL;
		sub->authenticated = s->smtp.authenticated;
	}
	if (!sub->session) {
		if (r == 0)
			flush_drain(s);
		session_end(s);
	}
	return r;
}

/*
 * Keep the message that failed for now (why) in the queue, when the
 * account and the command line allow: 1 queued (the run succeeds), 0 not
 * to be queued, -1 the queue could not take it (err says why, after why
 * has been said).
 */
static int
submission_queue(
	struct submission *sub, const struct error *why, struct error *err)
{
	const struct smtp_envelope *senv = &sub->senv;
	struct queue_entry e = {0};
	char **rcpts, **ascii;
	int r;

	if (!flush_should_queue(sub->acct, sub->opt->queue, why))
		return 0;
	rcpts = xcalloc(senv->nrcpts, sizeof(*rcpts));
	ascii = xcalloc(senv->nrcpts, sizeof(*ascii));
	for (size_t i = 0; i < senv->nrcpts; i++) {
		rcpts[i] = (char *)senv->rcpts[i].addr;
		ascii[i] = (char *)senv->rcpts[i].addr_ascii;
	}
	e.account = sub->acct->name;
	e.sender = (char *)senv->sender;
	e.sender_ascii = (char *)senv->sender_ascii;
	e.rcpts = rcpts;
	e.rcpts_ascii = ascii;
	e.nrcpts = senv->nrcpts;
	e.body = senv->body;
	e.dsn_notify = (char *)senv->dsn_notify;
	e.dsn_ret = (char *)senv->dsn_ret;
	e.dsn_envid = (char *)senv->dsn_envid;
	e.has_8bit = sub->src.has_8bit;
	e.header_8bit = sub->src.header_8bit;
	r = flush_enqueue(sub->acct, &e, &sub->src, why, sub->name, err);
	if (r == 0)
		memcpy(sub->queued, e.id, sizeof(sub->queued));
	free(rcpts);
	free(ascii);
	return r < 0 ? -1 : 1;
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
	char *from;             /* the account's from, % expanded and qualified;
				   NULL when unset or a pattern */
	char *maildomain;       /* qualifies bare names; NULL: none */
	int input_fd;           /* where the message is read: standard
				   input, or a --files file */
	const char *input_name; /* for errors: NULL = "standard input" */
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
	if (message_read(&job->msg, job->input_fd, &mopts, err) < 0) {
		char q[QUOTE_MAX];

		error_prefix(err, "%s",
			job->input_name ? quote(q, job->input_name)
					: "standard input");
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
 * Whether the account can give the envelope sender, from being its from
 * (as written, or expanded): not when that is a pattern ("from
 * *@example.org" chooses the account for any sender there; it is no
 * address to send from), nor when there is none. ERR_CONFIG saying so.
 */
static int
job_from_usable(const struct job *job, const char *from, struct error *err)
{
	const struct account *acct = job->acct;
	char qname[QUOTE_MAX], qpath[QUOTE_MAX];

	if (acct->from && is_pattern(acct->from)) {
		error_set(err, ERR_CONFIG,
			"no envelope sender: account '%s' "
			"has the pattern from '%s'; use -f",
			quote(qname, acct->name), quote(qpath, acct->from));
		return -1;
	}
	if (!from || !from[0]) {
		error_set(err, ERR_CONFIG,
			"no envelope sender: use -f, or set "
			"'from' in account '%s' of %s",
			quote(qname, acct->name), quote(qpath, job->cfg.path));
		return -1;
	}
	return 0;
}

/*
 * The envelope sender: -f, else the From: header with
 * --read-envelope-from, else the account's from (expanded), qualified
 * when bare. The null sender stays "".
 */
static int
job_sender(struct job *job, struct error *err)
{
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
	if (job_from_usable(job, job->from, err) < 0)
		return -1;
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
 * After a failed submission: a temporary failure is queued when the
 * account allows (then the run succeeds: 0); otherwise each refused
 * recipient is named and -1 returned with err as it was. A queue that
 * cannot take the message is said first, then err stands.
 */
static int
deliver_failed(struct submission *sub, struct error *err)
{
	const struct smtp_rcpt *refused =
		smtp_first_refused(sub->rcpts, sub->env->rcpts.n);
	struct error qerr, why = *err;
	char q[QUOTE_MAX];

	/* The queue's line names the first refusal, not only the count. */
	if (refused)
		error_set(&why, err->cls, "recipient <%s>: server said: %s",
			quote(q, refused->addr), refused->reply);
	error_clear(&qerr);
	switch (submission_queue(sub, &why, &qerr)) {
	case 1:
		error_clear(err);
		return 0;
	case -1:
		fprintf(stderr, "postie: cannot queue the message: %s\n",
			qerr.text);
		break;
	default:
		break;
	}
	report_refused(sub->rcpts, sub->env->rcpts.n);
	return -1;
}

/*
 * Submit sub's acct, env, msg and opt (made ready here unless
 * submission_ready already ran), then name each refused recipient and
 * write the log line; a temporary failure may be queued instead.
 * sub->final_code, final_text and connect_failed say how it went; the
 * caller ends with submission_done.
 */
static int
deliver(struct submission *sub, struct error *err)
{
	int r;

	if (!sub->rcpts)
		submission_ready(sub);
	r = submit(sub, err);
	log_outcome(sub, err);
	if (r < 0)
		r = deliver_failed(sub, err);
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
	if (job->env.sender || job->opt->read_envelope_from)
		return 0;
	return job_from_usable(job, job->acct->from, err);
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
	job->input_fd = STDIN_FILENO;
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
	submission_done(&sub);
out:
	job_release(&job);
	return r;
}

/* --files: one account's session, opened at its first message. */
struct files_session {
	const struct account *acct;
	struct session s;
	struct error failed; /* why it could not be had (cls ERR_NONE: it
				was); the account's later files fail so too */
	int sent;            /* a message went through it: drain the queue */
	int queued;          /* one of this run's was queued: the server said
				"later", so the queue waits for a later run */
};

struct files_run {
	struct files_session **v; /* each on its own: a session holds
				     pointers into itself */
	size_t n;
	struct error worst; /* the first permanent failure, else the first */
	size_t nfailed;
};

/*
 * The session for acct: the one this run has (opened again, once, when
 * the server ended it), or a new one. NULL when it cannot be had; *why
 * then says why for the message.
 */
static struct files_session *
files_session(struct files_run *run, const struct account *acct)
{
	struct files_session *fs = NULL;

	for (size_t i = 0; i < run->n && !fs; i++)
		if (run->v[i]->acct == acct)
			fs = run->v[i];
	if (fs && fs->failed.cls == ERR_NONE && smtp_ready(&fs->s.smtp))
		return fs;
	if (fs && fs->failed.cls != ERR_NONE)
		return fs;
	if (fs) {
		session_end(&fs->s);
	} else {
		/* an array of pointers: sizeof(*v) is a pointer's size */
		/* NOLINTNEXTLINE(bugprone-sizeof-expression) */
		run->v = xreallocarray(run->v, run->n + 1, sizeof(*run->v));
		fs = xcalloc(1, sizeof(*fs));
		run->v[run->n++] = fs;
		fs->acct = acct;
	}
	error_clear(&fs->failed);
	if (session_start(&fs->s, acct, &fs->failed) < 0 &&
		fs->failed.cls == ERR_NONE)
		error_set(&fs->failed, ERR_SOFTWARE, "session failed");
	return fs;
}

static void
files_note(struct files_run *run, const char *path, const struct error *err)
{
	char q[QUOTE_MAX];

	fprintf(stderr, "postie: %s: %s\n", quote(q, path), err->text);
	run->nfailed++;
	if (run->worst.cls == ERR_NONE ||
		(run->worst.cls == ERR_TEMP && err->cls != ERR_TEMP))
		run->worst = *err;
}

/* One file in flight: its message and envelope, its submission. */
struct files_msg {
	struct job job; /* the run's configuration, shared (have_cfg 0) */
	struct submission sub;
	struct files_session *fs;
	const char *path;
	int ready;
};

/* Read path and make it ready as -t makes a message, its account's
   session opened (or opened again) for it. */
static int
files_prepare(struct files_run *run, struct files_msg *m, const char *path,
	struct error *err)
{
	struct job *job = &m->job;
	int fd, r;

	job_forget_message(job);
	if (envelope_options(&job->env, job->opt, err) < 0)
		return -1;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		error_set(err, ERR_NOINPUT, "%s", strerror(errno));
		return -1;
	}
	job->input_fd = fd;
	job->input_name = path;
	r = job_read_message(job, err);
	close(fd);
	job->input_fd = -1;
	if (r < 0 || job_choose(job, err) < 0 || job_prepare(job, err) < 0)
		return -1;
	m->fs = files_session(run, job->acct);
	memset(&m->sub, 0, sizeof(m->sub));
	m->sub.acct = job->acct;
	m->sub.env = &job->env;
	m->sub.msg = &job->msg;
	m->sub.opt = job->opt;
	m->sub.session = &m->fs->s;
	m->sub.name = path;
	submission_ready(&m->sub);
	m->path = path;
	m->ready = 1;
	return 0;
}

/* The next file that can be made ready, from files[*i] on; the ones that
   cannot are reported. */
static void
files_next(
	struct files_run *run, struct files_msg *m, char **files, int n, int *i)
{
	m->ready = 0;
	while (!m->ready && *i < n) {
		struct error err;

		error_clear(&err);
		if (files_prepare(run, m, files[*i], &err) < 0)
			files_note(run, files[*i], &err);
		++*i;
	}
}

/*
 * Send m; next (ready or not) is the file after it: when it goes through
 * the same session, its commands ride with m's end of data (one round
 * trip a message); when nothing follows at all, QUIT does.
 */
static void
files_send(struct files_run *run, struct files_msg *m, struct files_msg *next)
{
	struct files_session *fs = m->fs;
	struct smtp_after after = {0};
	struct error err;

	error_clear(&err);
	/* A session that ended since m was made ready is opened again. */
	if (fs->failed.cls == ERR_NONE && !smtp_ready(&fs->s.smtp))
		fs = files_session(run, m->job.acct);
	m->sub.session_failed = fs->failed.cls != ERR_NONE ? &fs->failed : NULL;
	if (next->ready && next->fs == fs) {
		after.env = &next->sub.senv;
		after.src = &next->sub.src;
	} else if (!next->ready && run->n == 1) {
		after.quit = !flush_has_queued(m->job.acct);
	}
	m->sub.after = &after;
	if (deliver(&m->sub, &err) < 0)
		files_note(run, m->path, &err);
	else if (m->sub.queued[0])
		fs->queued = 1;
	else
		fs->sent = 1;
	submission_done(&m->sub);
	m->ready = 0;
}

int
job_send_files(const struct options *opt, struct error *err)
{
	struct files_run run = {0};
	struct files_msg m[2], *cur = &m[0], *next = &m[1], *t;
	struct options fo = *opt;
	int r = -1, i = 0;

	/* Each file is one whole message, its recipients in its header. */
	fo.read_headers = 1;
	fo.to_eof = 1;
	fo.rcpts = NULL;
	fo.nrcpts = 0;
	error_clear(&run.worst);
	if (opt->nrcpts == 0) {
		error_set(err, ERR_USAGE, "--files: no files given");
		return -1;
	}
	memset(m, 0, sizeof(m));
	for (int k = 0; k < 2; k++) {
		m[k].job.opt = &fo;
		m[k].job.input_fd = -1;
		address_list_init(&m[k].job.env.rcpts);
	}
	if (config_load(&m[0].job.cfg, fo.config, err) < 0)
		goto out;
	m[0].job.have_cfg = 1;
	m[1].job.cfg = m[0].job.cfg;
	files_next(&run, cur, opt->rcpts, opt->nrcpts, &i);
	while (cur->ready) {
		files_next(&run, next, opt->rcpts, opt->nrcpts, &i);
		files_send(&run, cur, next);
		t = cur;
		cur = next;
		next = t;
	}
	for (size_t k = 0; k < run.n; k++) {
		struct files_session *fs = run.v[k];

		if (fs->sent && !fs->queued && fs->failed.cls == ERR_NONE &&
			smtp_ready(&fs->s.smtp))
			flush_drain(&fs->s);
		session_end(&fs->s);
		free(fs);
	}
	r = 0;
	if (run.nfailed > 0) {
		error_set(err, run.worst.cls,
			"--files: %zu of %d messages failed", run.nfailed,
			opt->nrcpts);
		r = -1;
	}
out:
	free(run.v);
	job_release(&m[1].job);
	job_release(&m[0].job);
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

/*
 * -S: what the server says about itself and its certificate, shown even
 * when the check fails (that is when a user needs to see it); the failed
 * check still exits 69.
 */
int
job_serverinfo(const struct options *opt, struct error *err)
{
	struct job job;
	struct buf out;
	int r = -1;

	buf_init(&out, (size_t)-1);
	if (job_start(&job, opt, err) == 0) {
		r = session_serverinfo(job.acct, &out, err);
		fwrite(out.data, 1, out.len, stdout);
		if (fflush(stdout) != 0 && r == 0) {
			error_set(err, ERR_IO, "standard output: write error");
			r = -1;
		}
	}
	buf_release(&out);
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
	if (r == 0 && sub->queued[0]) {
		/* Kept for later: the caller may forget it, as after any
		   250 (postie -q or the next message sends it). */
		out->code = 250;
		snprintf(out->enhanced, sizeof(out->enhanced), "2.0.0");
		snprintf(out->text, sizeof(out->text),
			"postie: queued as %s for a later attempt",
			sub->queued);
		return;
	}
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
	submission_done(&sub);
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
	job.input_fd = -1;
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
