/*
 * smtp.c - the SMTP client state machine (RFC 5321, with PIPELINING
 * RFC 2920, SIZE RFC 1870, 8BITMIME RFC 6152, DSN RFC 3461).
 *
 * Read it as a table: smtp_enter() says what each state sends,
 * smtp_handle() what a reply means in it, smtp_set_state() is the only
 * place the state changes (and -v shows old -> new). The rest is the
 * order of states for a session and a transaction.
 *
 * A session is usable (a QUIT may follow) until it is SMTP_ST_DEAD: the
 * server said 421 or hung up, a wait timed out, the reply stream broke
 * the protocol, or the message data stopped half-way. Then nothing more
 * is sent, least of all an end of data: a half-sent message must never
 * be committed.
 */
#include "autoconf.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "iobuf.h"
#include "log.h"
#include "reply.h"
#include "smtp.h"
#include "xmalloc.h"

#define SMTP_CHUNK           (16 * 1024) /* one read from the message source */
#define SMTP_QUEUE_MAX       (64 * 1024) /* flush data once this much waits */
#define SMTP_QUIT_TIMEOUT_MS 5000        /* QUIT's reply is a courtesy */
#define SMTP_CMD_MAX         4096        /* one command line we build */
#define SMTP_CONTEXT_MAX     600         /* "recipient <...>" for errors */

enum smtp_state {
	SMTP_ST_CONNECTED, /* socket taken over, nothing read yet */
	SMTP_ST_GREETING,  /* waiting for the 220 */
	SMTP_ST_EHLO,
	SMTP_ST_HELO,
	SMTP_ST_READY, /* between transactions */
	SMTP_ST_MAIL,
	SMTP_ST_RCPT,
	SMTP_ST_DATA, /* DATA sent, waiting for 354 */
	SMTP_ST_BODY, /* sending the message data */
	SMTP_ST_DOT,  /* end of data sent, waiting for the verdict */
	SMTP_ST_RSET,
	SMTP_ST_QUIT,
	SMTP_ST_DEAD, /* nothing more may be sent */
	SMTP_ST_COUNT
};

static const char *const smtp_state_names[SMTP_ST_COUNT] = {
	[SMTP_ST_CONNECTED] = "connected",
	[SMTP_ST_GREETING] = "greeting",
	[SMTP_ST_EHLO] = "ehlo",
	[SMTP_ST_HELO] = "helo",
	[SMTP_ST_READY] = "ready",
	[SMTP_ST_MAIL] = "mail",
	[SMTP_ST_RCPT] = "rcpt",
	[SMTP_ST_DATA] = "data",
	[SMTP_ST_BODY] = "body",
	[SMTP_ST_DOT] = "end-of-data",
	[SMTP_ST_RSET] = "rset",
	[SMTP_ST_QUIT] = "quit",
	[SMTP_ST_DEAD] = "dead",
};

/* One transaction in flight. */
struct smtp_txn {
	const struct smtp_envelope *env;
	const struct smtp_source *src;
	int mail_failed; /* MAIL refused: RCPT replies are ignored */
	struct error mail_err;
	size_t refused;      /* recipients refused ... */
	size_t refused_perm; /* ... of them with 5xx */
	int first_code[2];   /* first 4xx, first 5xx refusal code */
	char first_enh[2][16];
};

static void
smtp_set_state(struct smtp_session *s, enum smtp_state st)
{
	/* State changes are for -vv; -v shows the dialogue itself. */
	if (s->state != (int)st && log_verbose() >= 2)
		log_info("smtp: %s -> %s", smtp_state_names[s->state],
			smtp_state_names[st]);
	s->state = (int)st;
}

/* --- sending ------------------------------------------------------------ */

static void
smtp_queue_line(struct smtp_session *s, const char *line, size_t len)
{
	log_transcript('>', line, len);
	iobuf_queue(&s->io, line, len);
	iobuf_queue(&s->io, "\r\n", 2);
}

/* " KEY=VALUE" with the value upper-cased (RFC 3461 NOTIFY and RET
   keywords are case-insensitive; upper case is what servers log). */
static void
smtp_add_upper(struct buf *b, const char *key, const char *val)
{
	buf_printf(b, " %s=", key);
	for (; *val; val++)
		buf_addch(b, (char)toupper((unsigned char)*val));
}

/* RFC 3461 §4: ENVID is xtext, '+' and '=' and anything outside 33..126
   as "+XX", so no value can end or extend the command. */
static void
smtp_add_xtext(struct buf *b, const char *key, const char *val)
{
	buf_printf(b, " %s=", key);
	for (; *val; val++) {
		unsigned char c = (unsigned char)*val;

		if (c < 33 || c > 126 || c == '+' || c == '=')
			buf_printf(b, "+%02X", c);
		else
			buf_addch(b, (char)c);
	}
}

/* MAIL FROM and its parameters, in the order behaviour.md fixes. */
static void
smtp_build_mail(
	const struct smtp_session *s, const struct smtp_txn *t, struct buf *cmd)
{
	const struct smtp_envelope *env = t->env;
	unsigned flags = s->caps.flags;

	buf_printf(cmd, "MAIL FROM:<%s>", env->sender);
	if (flags & CAPS_SIZE)
		buf_printf(cmd, " SIZE=%lld", (long long)t->src->size);
	if ((flags & CAPS_8BITMIME) &&
		(t->src->has_8bit || env->body == SMTP_BODY_8BITMIME))
		buf_addstr(cmd, " BODY=8BITMIME");
	else if ((flags & CAPS_8BITMIME) && env->body == SMTP_BODY_7BIT)
		buf_addstr(cmd, " BODY=7BIT");
	if (env->dsn_ret)
		smtp_add_upper(cmd, "RET", env->dsn_ret);
	if (env->dsn_envid)
		smtp_add_xtext(cmd, "ENVID", env->dsn_envid);
}

static void
smtp_build_rcpt(const struct smtp_txn *t, size_t i, struct buf *cmd)
{
	buf_printf(cmd, "RCPT TO:<%s>", t->env->rcpts[i].addr);
	if (t->env->dsn_notify)
		smtp_add_upper(cmd, "NOTIFY", t->env->dsn_notify);
}

/* What each state sends on entry; rcpt picks the recipient for RCPT. */
static void
smtp_enter(struct smtp_session *s, const struct smtp_txn *t, enum smtp_state st,
	size_t rcpt)
{
	struct buf cmd;

	buf_init(&cmd, SMTP_CMD_MAX);
	smtp_set_state(s, st);
	switch (st) {
	case SMTP_ST_EHLO:
		buf_printf(&cmd, "EHLO %s", s->params->helo_name);
		break;
	case SMTP_ST_HELO:
		buf_printf(&cmd, "HELO %s", s->params->helo_name);
		break;
	case SMTP_ST_MAIL:
		smtp_build_mail(s, t, &cmd);
		break;
	case SMTP_ST_RCPT:
		smtp_build_rcpt(t, rcpt, &cmd);
		break;
	case SMTP_ST_DATA:
		buf_addstr(&cmd, "DATA");
		break;
	case SMTP_ST_DOT:
		buf_addstr(&cmd, ".");
		break;
	case SMTP_ST_RSET:
		buf_addstr(&cmd, "RSET");
		break;
	case SMTP_ST_QUIT:
		buf_addstr(&cmd, "QUIT");
		break;
	default:
		break; /* waiting states send nothing */
	}
	if (cmd.len)
		smtp_queue_line(s, cmd.data, cmd.len);
	buf_release(&cmd);
}

static int
smtp_flush(struct smtp_session *s, const char *context, struct error *err)
{
	if (iobuf_flush(&s->io, err) == 0)
		return 0;
	error_prefix(err, "%s", context);
	smtp_set_state(s, SMTP_ST_DEAD);
	return -1;
}

/* --- receiving ---------------------------------------------------------- */

/*
 * After the reply to a lone command nothing may wait unread: RFC 5321
 * §4.1.1 lets a server speak only when spoken to, and a server that runs
 * ahead would have its next lines taken as answers to commands it has
 * not seen (reply smuggling). Such bytes end the session.
 */
static int
smtp_check_unsolicited(
	struct smtp_session *s, const char *context, struct error *err)
{
	if (iobuf_buffered(&s->io) == 0)
		return 0;
	error_set(err, ERR_PROTOCOL,
		"%s: unexpected bytes from the server "
		"after its reply",
		context);
	smtp_set_state(s, SMTP_ST_DEAD);
	return -1;
}

/* Read one whole reply into s->reply within one timeout; with single,
   it answers a lone command and must be all there is. */
static int
smtp_read_reply(struct smtp_session *s, const char *context, int single,
	struct error *err)
{
	const char *line;
	size_t len;
	int r;

	reply_reset(&s->reply);
	iobuf_start_deadline(&s->io);
	do {
		r = iobuf_getline(&s->io, &line, &len, err);
		if (r == 0) {
			log_transcript('<', line, len);
			r = reply_add_line(&s->reply, line, len, err);
		}
	} while (r == 0);
	iobuf_clear_deadline(&s->io);
	if (r < 0) {
		error_prefix(err, "%s", context);
		smtp_set_state(s, SMTP_ST_DEAD);
		return -1;
	}
	return single ? smtp_check_unsolicited(s, context, err) : 0;
}

/* Keep the reply that decided the outcome, for the log line. */
static void
smtp_keep_final(struct smtp_session *s)
{
	struct buf joined;

	buf_init(&joined, (size_t)-1);
	reply_join(&s->reply, &joined);
	free(s->final_text);
	s->final_text = buf_detach(&joined, NULL);
	s->final_code = s->reply.code;
}

/*
 * What a reply means when a reply of class want (2 or 3) is success:
 * 0 then; else -1 with err filled: 4xx temporary, 5xx the class perm,
 * anything the command cannot get (354 to MAIL, 250 to DATA) a protocol
 * error. 421 (RFC 5321 §3.8: the server is closing) and protocol errors
 * end the session.
 */
static int
smtp_judge(struct smtp_session *s, int want, enum err_class perm,
	const char *context, struct error *err)
{
	int cls = s->reply.code / 100;
	char ctx[SMTP_CONTEXT_MAX + 32];

	if (cls == want)
		return 0;
	smtp_keep_final(s);
	if (cls == 4) {
		reply_to_error(&s->reply, ERR_TEMP, context, err);
	} else if (cls == 5) {
		reply_to_error(&s->reply, perm, context, err);
	} else {
		snprintf(ctx, sizeof(ctx), "%s: unexpected reply", context);
		reply_to_error(&s->reply, ERR_PROTOCOL, ctx, err);
		smtp_set_state(s, SMTP_ST_DEAD);
	}
	if (s->reply.code == 421)
		smtp_set_state(s, SMTP_ST_DEAD);
	return -1;
}

static int
smtp_dead(const struct smtp_session *s)
{
	return s->state == SMTP_ST_DEAD;
}

/* --- what replies mean -------------------------------------------------- */

static void
smtp_context(const struct smtp_txn *t, enum smtp_state st, size_t rcpt,
	char *ctx, size_t size)
{
	char esc[SMTP_CONTEXT_MAX - 32];
	const char *addr =
		st == SMTP_ST_MAIL ? t->env->sender : t->env->rcpts[rcpt].addr;

	log_escape(esc, sizeof(esc), addr, strlen(addr));
	if (st == SMTP_ST_MAIL)
		snprintf(ctx, size, "MAIL FROM:<%s>", esc);
	else
		snprintf(ctx, size, "recipient <%s>", esc);
}

static int
smtp_on_greeting(struct smtp_session *s, struct error *err)
{
	if (smtp_judge(s, 2, ERR_UNAVAILABLE, "greeting", err) == 0)
		return 0;
	/* A 4xx greeting means "not now": the server expects no QUIT. */
	if (s->reply.code / 100 == 4)
		smtp_set_state(s, SMTP_ST_DEAD);
	return -1;
}

/* 1: EHLO refused with 5xx, try HELO (RFC 5321 §3.2). */
static int
smtp_on_ehlo(struct smtp_session *s, struct error *err)
{
	int code = s->reply.code;

	if (code / 100 == 5)
		return 1;
	if (smtp_judge(s, 2, ERR_UNAVAILABLE, "EHLO", err) < 0)
		return -1;
	reply_parse_caps(&s->reply, &s->caps);
	s->esmtp = 1;
	return 0;
}

static int
smtp_on_helo(struct smtp_session *s, struct error *err)
{
	if (smtp_judge(s, 2, ERR_UNAVAILABLE, "HELO", err) < 0)
		return -1;
	memset(&s->caps, 0, sizeof(s->caps));
	s->esmtp = 0;
	return 0;
}

/* A refused MAIL is not fatal yet: pipelined RCPT replies still have to
   be read, then RSET. */
static int
smtp_on_mail(struct smtp_session *s, struct smtp_txn *t, const char *ctx,
	struct error *err)
{
	if (smtp_judge(s, 2, ERR_UNAVAILABLE, ctx, err) == 0)
		return 0;
	if (smtp_dead(s))
		return -1;
	t->mail_failed = 1;
	t->mail_err = *err;
	return 0;
}

static int
smtp_on_rcpt(struct smtp_session *s, struct smtp_txn *t, size_t i,
	const char *ctx, struct error *err)
{
	struct smtp_rcpt *r = &t->env->rcpts[i];
	char said[ERROR_TEXT_MAX];
	int perm;

	if (t->mail_failed) {
		/* Answers to RCPTs sent behind a refused MAIL say nothing
		   about the recipients; only a 421 still ends the session,
		   and MAIL's refusal stays the reason given. */
		if (s->reply.code == 421)
			smtp_set_state(s, SMTP_ST_DEAD);
		*err = t->mail_err;
		return smtp_dead(s) ? -1 : 0;
	}
	if (smtp_judge(s, 2, ERR_RCPT, ctx, err) < 0 && smtp_dead(s))
		return -1; /* the session ended; this is no refusal */
	r->code = s->reply.code;
	r->reply = xstrdup(reply_format(&s->reply, said, sizeof(said)));
	if (r->code / 100 == 2)
		return 0;
	perm = r->code / 100 == 5;
	t->refused++;
	t->refused_perm += (size_t)perm;
	if (t->first_code[perm] == 0) {
		t->first_code[perm] = r->code;
		memcpy(t->first_enh[perm], s->reply.enhanced,
			sizeof(t->first_enh[perm]));
	}
	return 0;
}

static int
smtp_on_data(struct smtp_session *s, struct error *err)
{
	if (smtp_judge(s, 3, ERR_UNAVAILABLE, "DATA", err) == 0)
		return 0;
	if (!smtp_dead(s))
		smtp_set_state(s, SMTP_ST_READY); /* the transaction is over */
	return -1;
}

static int
smtp_on_dot(struct smtp_session *s, struct error *err)
{
	if (smtp_judge(s, 2, ERR_UNAVAILABLE, "end of data", err) < 0) {
		if (!smtp_dead(s))
			smtp_set_state(s, SMTP_ST_READY);
		return -1;
	}
	smtp_keep_final(s);
	smtp_set_state(s, SMTP_ST_READY);
	return 0;
}

/* What a reply means, by the state of the command it answers (with
   PIPELINING that is not s->state, which has moved on to the last one). */
static int
smtp_handle(struct smtp_session *s, enum smtp_state st, struct smtp_txn *t,
	size_t rcpt, const char *ctx, struct error *err)
{
	switch (st) {
	case SMTP_ST_GREETING:
		return smtp_on_greeting(s, err);
	case SMTP_ST_EHLO:
		return smtp_on_ehlo(s, err);
	case SMTP_ST_HELO:
		return smtp_on_helo(s, err);
	case SMTP_ST_MAIL:
		return smtp_on_mail(s, t, ctx, err);
	case SMTP_ST_RCPT:
		return smtp_on_rcpt(s, t, rcpt, ctx, err);
	case SMTP_ST_DATA:
		return smtp_on_data(s, err);
	case SMTP_ST_DOT:
		return smtp_on_dot(s, err);
	default:
		error_set(err, ERR_SOFTWARE, "smtp: reply in state %s",
			smtp_state_names[st]);
		return -1;
	}
}

/* --- session ------------------------------------------------------------ */

/* Send the command of state st alone and read its reply; single as for
   smtp_read_reply. */
static int
smtp_command(struct smtp_session *s, enum smtp_state st, const char *context,
	int single, struct error *err)
{
	smtp_enter(s, NULL, st, 0);
	if (smtp_flush(s, context, err) < 0)
		return -1;
	return smtp_read_reply(s, context, single, err);
}

/* Send the command of state st alone and judge its reply. */
static int
smtp_step(struct smtp_session *s, enum smtp_state st, const char *context,
	struct error *err)
{
	if (smtp_command(s, st, context, 1, err) < 0)
		return -1;
	return smtp_handle(s, st, NULL, 0, context, err);
}

static int
smtp_hello(struct smtp_session *s, struct error *err)
{
	int r = smtp_step(s, SMTP_ST_EHLO, "EHLO", err);

	if (r == 1)
		r = smtp_step(s, SMTP_ST_HELO, "HELO", err);
	if (r < 0)
		return -1;
	smtp_set_state(s, SMTP_ST_READY);
	return 0;
}

int
smtp_open(struct smtp_session *s, int fd, const struct smtp_params *p,
	struct error *err)
{
	memset(&s->caps, 0, sizeof(s->caps));
	s->params = p;
	s->state = SMTP_ST_CONNECTED;
	s->esmtp = 0;
	s->final_code = 0;
	s->final_text = NULL;
	reply_init(&s->reply);
	iobuf_init(&s->io, fd, p->timeout);

	smtp_set_state(s, SMTP_ST_GREETING);
	if (smtp_read_reply(s, "greeting", 1, err) < 0 ||
		smtp_on_greeting(s, err) < 0)
		return -1;
	return smtp_hello(s, err);
}

/* RSET after a refused envelope (RFC 5321 §4.1.1.5); its outcome does
   not change the error already found, but 421 or silence ends the
   session. */
static void
smtp_reset(struct smtp_session *s)
{
	struct error ignored;

	if (smtp_command(s, SMTP_ST_RSET, "RSET", 1, &ignored) < 0)
		return;
	if (s->reply.code == 421)
		smtp_set_state(s, SMTP_ST_DEAD);
	else
		smtp_set_state(s, SMTP_ST_READY);
}

void
smtp_quit(struct smtp_session *s)
{
	struct error ignored;

	if (s->state == SMTP_ST_DEAD || s->state == SMTP_ST_QUIT ||
		s->state == SMTP_ST_CONNECTED)
		return;
	if (s->io.timeout_ms == 0 || s->io.timeout_ms > SMTP_QUIT_TIMEOUT_MS)
		s->io.timeout_ms = SMTP_QUIT_TIMEOUT_MS;
	smtp_command(s, SMTP_ST_QUIT, "QUIT", 0, &ignored);
	smtp_set_state(s, SMTP_ST_DEAD);
}

void
smtp_close(struct smtp_session *s)
{
	if (s->io.fd >= 0)
		close(s->io.fd);
	s->io.fd = -1;
	iobuf_release(&s->io);
	reply_release(&s->reply);
	free(s->final_text);
	s->final_text = NULL;
	s->state = SMTP_ST_DEAD;
}

void
smtp_rcpts_release(struct smtp_rcpt *rcpts, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(rcpts[i].reply);
		rcpts[i].reply = NULL;
		rcpts[i].code = 0;
	}
}

/* --- transaction -------------------------------------------------------- */

/* CR or LF in anything that goes on a command line would let the caller's
   data inject commands; main refuses these earlier, this is the backstop. */
static int
smtp_check_envelope(const struct smtp_envelope *env, struct error *err)
{
	const char *fields[] = {env->sender, env->dsn_notify, env->dsn_ret};
	size_t i;

	if (env->nrcpts == 0) {
		error_set(err, ERR_USAGE, "no recipients");
		return -1;
	}
	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (fields[i] && strpbrk(fields[i], "\r\n")) {
			error_set(err, ERR_DATA, "line break in the envelope");
			return -1;
		}
	for (i = 0; i < env->nrcpts; i++)
		if (strpbrk(env->rcpts[i].addr, "\r\n")) {
			error_set(err, ERR_DATA, "line break in a recipient");
			return -1;
		}
	return 0;
}

/* What the server announced it cannot take, refused before MAIL so
   nothing is half-sent (behaviour.md step 3, in its order). */
static int
smtp_check_message(const struct smtp_session *s,
	const struct smtp_envelope *env, const struct smtp_source *src,
	struct error *err)
{
	unsigned flags = s->caps.flags;

	if ((flags & CAPS_SIZE) && s->caps.size_max > 0 &&
		(unsigned long long)src->size > s->caps.size_max) {
		error_set(err, ERR_UNAVAILABLE,
			"message of %lld bytes exceeds the server's limit of "
			"%llu bytes",
			(long long)src->size, s->caps.size_max);
		return -1;
	}
	if (src->has_8bit && !(flags & CAPS_8BITMIME)) {
		error_set(err, ERR_DATA,
			"message has 8-bit data and the "
			"server does not offer 8BITMIME");
		return -1;
	}
	if ((env->dsn_notify || env->dsn_ret || env->dsn_envid) &&
		!(flags & CAPS_DSN)) {
		error_set(err, ERR_UNAVAILABLE, "server does not offer DSN");
		return -1;
	}
	return 0;
}

/*
 * Commands first .. first+n-1 of the envelope (0 = MAIL, i = RCPT i-1)
 * in one write, then their replies in order. Bytes after the last reply
 * are an error; between replies they are the next reply (RFC 2920 §3.1).
 */
static int
smtp_round(struct smtp_session *s, struct smtp_txn *t, size_t first, size_t n,
	struct error *err)
{
	char ctx[SMTP_CONTEXT_MAX];
	size_t i;

	for (i = first; i < first + n; i++)
		smtp_enter(s, t, i == 0 ? SMTP_ST_MAIL : SMTP_ST_RCPT,
			i ? i - 1 : 0);
	smtp_context(t, first == 0 ? SMTP_ST_MAIL : SMTP_ST_RCPT,
		first ? first - 1 : 0, ctx, sizeof(ctx));
	if (smtp_flush(s, ctx, err) < 0)
		return -1;
	for (i = first; i < first + n; i++) {
		enum smtp_state st = i == 0 ? SMTP_ST_MAIL : SMTP_ST_RCPT;

		smtp_context(t, st, i ? i - 1 : 0, ctx, sizeof(ctx));
		if (smtp_read_reply(s, ctx, i == first + n - 1, err) < 0 ||
			smtp_handle(s, st, t, i ? i - 1 : 0, ctx, err) < 0)
			return -1;
	}
	return 0;
}

/* All or nothing: one refused recipient stops the whole message. */
static void
smtp_refusal_error(const struct smtp_txn *t, struct error *err)
{
	int perm = t->refused_perm > 0;

	error_set(err, perm ? ERR_RCPT : ERR_TEMP,
		"%zu of %zu recipient%s refused; nothing was sent", t->refused,
		t->env->nrcpts, t->env->nrcpts == 1 ? "" : "s");
	err->smtp_code = t->first_code[perm];
	memcpy(err->enhanced, t->first_enh[perm], sizeof(err->enhanced));
}

static int
smtp_envelope(struct smtp_session *s, struct smtp_txn *t, struct error *err)
{
	size_t total = 1 + t->env->nrcpts, i, group;

	/* RFC 2920 §3.1: MAIL and RCPTs may share one write; DATA waits
	   for their replies, so a refusal still stops the message. */
	group = (s->caps.flags & CAPS_PIPELINING) ? total : 1;
	for (i = 0; i < total && !t->mail_failed; i += group)
		if (smtp_round(s, t, i, total - i < group ? total - i : group,
			    err) < 0)
			return -1;
	if (!t->mail_failed && t->refused == 0)
		return 0;
	if (t->mail_failed)
		*err = t->mail_err;
	else
		smtp_refusal_error(t, err);
	smtp_reset(s);
	return -1;
}

/* --- message data ------------------------------------------------------- */

/* The server spoke (or hung up) while we were still sending data: read
   what it said for the error; the transaction cannot be finished. */
static int
smtp_early_reply(struct smtp_session *s, struct error *err)
{
	if (smtp_read_reply(s, "during data", 0, err) == 0) {
		smtp_keep_final(s);
		reply_to_error(&s->reply, ERR_TEMP, "during data", err);
	}
	smtp_set_state(s, SMTP_ST_DEAD);
	return -1;
}

static int
smtp_flush_data(struct smtp_session *s, struct error *err)
{
	int r = iobuf_flush_watch(&s->io, err);

	if (r == 1)
		return smtp_early_reply(s, err);
	if (r < 0) {
		error_prefix(err, "during data");
		smtp_set_state(s, SMTP_ST_DEAD);
	}
	return r;
}

/* Stream the dot-stuffed data through the output queue, never holding
   more than about SMTP_QUEUE_MAX + SMTP_CHUNK bytes of it. Every flush,
   the tail's too, watches for the server, so one that speaks or hangs up
   mid-way is heard before the end of data can follow. */
static int
smtp_send_body(struct smtp_session *s, const struct smtp_source *src,
	struct error *err)
{
	char *chunk = xmalloc(SMTP_CHUNK);
	char tail[2] = {'\r', '\n'};
	ssize_t n;
	int r = -1;

	src->rewind(src->ctx, 1);
	while ((n = src->read(src->ctx, chunk, SMTP_CHUNK, err)) > 0) {
		iobuf_queue(&s->io, chunk, (size_t)n);
		tail[0] = n >= 2 ? chunk[n - 2] : tail[1];
		tail[1] = chunk[n - 1];
		if (iobuf_queued(&s->io) >= SMTP_QUEUE_MAX &&
			smtp_flush_data(s, err) < 0)
			goto out;
	}
	if (n < 0)
		goto out;
	/* RFC 5321 §4.1.1.4: the end of data is CRLF "." CRLF; the source
	   promises the final CRLF, this keeps a broken one from gluing the
	   dot onto the last line. */
	if (tail[0] != '\r' || tail[1] != '\n')
		iobuf_queue(&s->io, "\r\n", 2);
	r = smtp_flush_data(s, err);
out:
	free(chunk);
	return r;
}

/*
 * The end of data and the verdict. A 2xx here is the moment the server
 * takes the message (RFC 5321 §4.1.1.4): bytes behind it still end the
 * session, but must not turn a delivered message into a failure that a
 * caller would retry, delivering it twice.
 */
static int
smtp_end_data(struct smtp_session *s, struct error *err)
{
	const char *ctx = "end of data";

	if (smtp_command(s, SMTP_ST_DOT, ctx, 0, err) < 0)
		return -1;
	if (s->reply.code / 100 != 2 && smtp_check_unsolicited(s, ctx, err) < 0)
		return -1;
	if (smtp_handle(s, SMTP_ST_DOT, NULL, 0, ctx, err) < 0)
		return -1;
	if (iobuf_buffered(&s->io) > 0) {
		log_info("smtp: unexpected bytes after the message was "
			 "accepted; ending the session");
		smtp_set_state(s, SMTP_ST_DEAD);
	}
	return 0;
}

static int
smtp_data(struct smtp_session *s, struct smtp_txn *t, struct error *err)
{
	if (smtp_step(s, SMTP_ST_DATA, "DATA", err) < 0)
		return -1;
	smtp_set_state(s, SMTP_ST_BODY);
	if (smtp_send_body(s, t->src, err) < 0) {
		smtp_set_state(s, SMTP_ST_DEAD);
		return -1;
	}
	/* Last look: the server may have spoken since the data's tail. */
	if (iobuf_readable(&s->io))
		return smtp_early_reply(s, err);
	return smtp_end_data(s, err);
}

int
smtp_send(struct smtp_session *s, const struct smtp_envelope *env,
	const struct smtp_source *src, struct error *err)
{
	struct smtp_txn t;

	if (s->state != SMTP_ST_READY) {
		error_set(
			err, ERR_TEMP, "the SMTP session is no longer usable");
		return -1;
	}
	smtp_rcpts_release(env->rcpts, env->nrcpts);
	if (smtp_check_envelope(env, err) < 0 ||
		smtp_check_message(s, env, src, err) < 0)
		return -1;
	memset(&t, 0, sizeof(t));
	t.env = env;
	t.src = src;
	if (smtp_envelope(s, &t, err) < 0)
		return -1;
	return smtp_data(s, &t, err);
}
