/*
 * smtp.c - the SMTP client state machine (RFC 5321, with PIPELINING
 * RFC 2920, SIZE RFC 1870, 8BITMIME RFC 6152, DSN RFC 3461, STARTTLS
 * RFC 3207, AUTH RFC 4954).
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
 *
 * TLS is not a branch in the protocol: STARTTLS (or implicit TLS) swaps
 * the iobuf back end for the TLS record layer and everything above reads
 * and writes as before.
 */
#include "autoconf.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "buf.h"
#include "iobuf.h"
#include "log.h"
#include "reply.h"
#include "smtp.h"
#include "tls.h"
#include "xmalloc.h"

#define SMTP_CHUNK           (64 * 1024) /* one read from the message source */
#define SMTP_QUEUE_MAX       (64 * 1024) /* flush data once this much waits */
#define SMTP_QUIT_TIMEOUT_MS 5000        /* QUIT's reply is a courtesy */
#define SMTP_CMD_MAX         4096        /* one command line we build */
#define SMTP_CONTEXT_MAX     600         /* "recipient <...>" for errors */

enum smtp_state {
	SMTP_ST_CONNECTED, /* socket taken over, nothing read yet */
	SMTP_ST_GREETING,  /* waiting for the 220 */
	SMTP_ST_EHLO,
	SMTP_ST_HELO,
	SMTP_ST_STARTTLS,  /* STARTTLS sent, waiting for the 220 */
	SMTP_ST_TLS,       /* the TLS handshake */
	SMTP_ST_AUTH,      /* "AUTH MECH [initial-response]" sent */
	SMTP_ST_AUTH_STEP, /* a response to a 334 challenge sent */
	SMTP_ST_READY,     /* between transactions */
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
	[SMTP_ST_STARTTLS] = "starttls",
	[SMTP_ST_TLS] = "tls",
	[SMTP_ST_AUTH] = "auth",
	[SMTP_ST_AUTH_STEP] = "auth-step",
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

/* The AUTH exchange in progress (s->sasl while it runs). */
struct smtp_sasl {
	struct auth *auth;
	const char *mech;
	char *response; /* the next client line in base64 (a secret: wiped),
			   NULL when there is none yet */
};

/* One transaction in flight. */
struct smtp_txn {
	const struct smtp_envelope *env;
	const struct smtp_source *src;
	int utf8;        /* MAIL ... SMTPUTF8: addresses go as given */
	int with_auth;   /* the deferred AUTH leads the group */
	int with_data;   /* DATA ends the group (PIPELINING, no CHUNKING) */
	int bdat;        /* CHUNKING: BDAT n LAST, the data undotted */
	int auth_failed; /* the pipelined AUTH was refused */
	int mail_failed; /* MAIL refused: RCPT replies are ignored */
	int data_failed; /* the pipelined DATA was refused */
	int data_open;   /* DATA got 354: the server waits for data */
	struct error first_err; /* AUTH's, MAIL's or DATA's refusal */
	size_t refused;         /* recipients refused ... */
	size_t refused_perm;    /* ... of them with 5xx */
	int first_code[2];      /* first 4xx, first 5xx refusal code */
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

/*
 * Queue a command and its CRLF in one append: had the output queue to
 * grow for the CRLF after the line, the block it left would keep a copy
 * of an AUTH line's credentials in freed memory, never wiped. -v shows
 * the line, or shown instead when that is non-NULL (AUTH lines).
 */
static void
smtp_queue_line(
	struct smtp_session *s, const char *line, size_t len, const char *shown)
{
	if (shown)
		log_transcript('>', shown, strlen(shown));
	else
		log_transcript('>', line, len);
	iobuf_queuef(&s->io, "%.*s\r\n", (int)len, line);
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

/* RFC 3461 §4: ENVID and ORCPT are xtext, '+' and '=' and anything
   outside 33..126 as "+XX", so no value can end or extend the command. */
static void
smtp_xtext(struct buf *b, const char *val)
{
	for (; *val; val++) {
		unsigned char c = (unsigned char)*val;

		if (c < 33 || c > 126 || c == '+' || c == '=')
			buf_printf(b, "+%02X", c);
		else
			buf_addch(b, (char)c);
	}
}

static void
smtp_add_xtext(struct buf *b, const char *key, const char *val)
{
	buf_printf(b, " %s=", key);
	smtp_xtext(b, val);
}

static int
smtp_is_ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			return 0;
	return 1;
}

/* The addresses as they go on the wire: as given with SMTPUTF8, else the
   A-label forms. */
static const char *
smtp_sender(const struct smtp_txn *t)
{
	const struct smtp_envelope *env = t->env;

	return t->utf8 || !env->sender_ascii ? env->sender : env->sender_ascii;
}

static const char *
smtp_rcpt_addr(const struct smtp_txn *t, size_t i)
{
	const struct smtp_rcpt *r = &t->env->rcpts[i];

	return t->utf8 || !r->addr_ascii ? r->addr : r->addr_ascii;
}

static int
smtp_dsn_asked(const struct smtp_envelope *env)
{
	return env->dsn_notify || env->dsn_ret || env->dsn_envid;
}

/* MAIL FROM and its parameters, in the order behaviour.md fixes;
   SMTPUTF8 (RFC 6531 §3.4) after BODY. */
static void
smtp_build_mail(
	const struct smtp_session *s, const struct smtp_txn *t, struct buf *cmd)
{
	/* cppcheck-suppress ctunullpointer ; t is NULL only in the states
	   before MAIL (smtp_build_cmd) */
	const struct smtp_envelope *env = t->env;
	unsigned flags = s->caps.flags;

	buf_printf(cmd, "MAIL FROM:<%s>", smtp_sender(t));
	if (flags & CAPS_SIZE)
		buf_printf(cmd, " SIZE=%lld", (long long)t->src->size);
	if ((flags & CAPS_8BITMIME) &&
		(t->src->has_8bit || env->body == SMTP_BODY_8BITMIME))
		buf_addstr(cmd, " BODY=8BITMIME");
	else if ((flags & CAPS_8BITMIME) && env->body == SMTP_BODY_7BIT)
		buf_addstr(cmd, " BODY=7BIT");
	if (t->utf8)
		buf_addstr(cmd, " SMTPUTF8");
	if (env->dsn_ret)
		smtp_add_upper(cmd, "RET", env->dsn_ret);
	if (env->dsn_envid)
		smtp_add_xtext(cmd, "ENVID", env->dsn_envid);
}

/* RCPT TO, NOTIFY, and with any DSN request the ORCPT of RFC 3461 §4.2,
   so a DSN names the address as it was submitted. */
static void
smtp_build_rcpt(const struct smtp_txn *t, size_t i, struct buf *cmd)
{
	const char *addr = smtp_rcpt_addr(t, i);

	buf_printf(cmd, "RCPT TO:<%s>", addr);
	if (t->env->dsn_notify)
		smtp_add_upper(cmd, "NOTIFY", t->env->dsn_notify);
	if (smtp_dsn_asked(t->env) && smtp_is_ascii(addr)) {
		buf_addstr(cmd, " ORCPT=rfc822;");
		smtp_xtext(cmd, addr);
	}
}

/*
 * RFC 4954 §4: "AUTH MECH", or with an initial response "AUTH MECH resp"
 * ("=" for an empty one). The -v line never shows the response. No cap:
 * a SASL response may be longer than any command we build (GSSAPI).
 */
static int
smtp_build_auth(const struct smtp_sasl *sasl, struct buf *cmd)
{
	buf_printf(cmd, "AUTH %s", sasl->mech);
	if (!sasl->response)
		return 0;
	buf_printf(cmd, " %s", sasl->response[0] ? sasl->response : "=");
	return 1;
}

/* What each state sends on entry; rcpt picks the recipient for RCPT. */
static void
smtp_enter(struct smtp_session *s, const struct smtp_txn *t, enum smtp_state st,
	size_t rcpt)
{
	char shown[64];
	const char *hide = NULL;
	struct buf cmd;

	buf_init(&cmd, st == SMTP_ST_AUTH || st == SMTP_ST_AUTH_STEP
			       ? (size_t)-1
			       : SMTP_CMD_MAX);
	smtp_set_state(s, st);
	switch (st) {
	case SMTP_ST_EHLO:
		buf_printf(&cmd, "EHLO %s", s->params->helo_name);
		break;
	case SMTP_ST_HELO:
		buf_printf(&cmd, "HELO %s", s->params->helo_name);
		break;
	case SMTP_ST_STARTTLS:
		buf_addstr(&cmd, "STARTTLS");
		break;
	case SMTP_ST_AUTH:
		if (smtp_build_auth(s->sasl, &cmd)) {
			snprintf(shown, sizeof(shown), "AUTH %s <hidden>",
				s->sasl->mech);
			hide = shown;
		}
		break;
	case SMTP_ST_AUTH_STEP:
		buf_addstr(&cmd, s->sasl->response);
		hide = "<hidden>";
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
	/* An empty AUTH response is a line too (RFC 4954 §4). */
	if (cmd.len || st == SMTP_ST_AUTH_STEP)
		smtp_queue_line(s, cmd.data, cmd.len, hide);
	if (hide)
		explicit_bzero(cmd.data, cmd.len);
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

/* Replace the pending AUTH response, wiping the old one. */
static void
smtp_sasl_set_response(struct smtp_sasl *sasl, char *response)
{
	auth_response_free(sasl->response);
	sasl->response = response;
}

/* --- what replies mean -------------------------------------------------- */

static void
smtp_context(const struct smtp_txn *t, enum smtp_state st, size_t rcpt,
	char *ctx, size_t size)
{
	char esc[SMTP_CONTEXT_MAX - 32];
	const char *addr =
		st == SMTP_ST_MAIL ? smtp_sender(t) : smtp_rcpt_addr(t, rcpt);

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

/*
 * RFC 3207 §5: bytes that came with the 220 were sent in clear before
 * TLS began, yet would be read as the first replies inside it: answers
 * an attacker injected (the STARTTLS command injection of CVE-2011-0411,
 * seen from the client side). They end the session, without QUIT.
 */
static int
smtp_on_starttls(struct smtp_session *s, struct error *err)
{
	if (s->reply.code / 100 == 2 && iobuf_buffered(&s->io) > 0) {
		error_set(err, ERR_PROTOCOL,
			"bytes after STARTTLS's 220 (response injection)");
		smtp_set_state(s, SMTP_ST_DEAD);
		return -1;
	}
	if (smtp_check_unsolicited(s, "STARTTLS", err) < 0)
		return -1;
	return smtp_judge(s, 2, ERR_UNAVAILABLE, "STARTTLS", err);
}

/*
 * A 334 challenge (RFC 4954 §4): one line of base64 for auth_step, whose
 * answer becomes the next line. 1: send it. A failing step ends the
 * session with nothing more sent, not even "*": when a SCRAM server's
 * signature does not verify, the peer is not the server that knows the
 * password, and it gets no further word (RFC 5802 §5).
 */
static int
smtp_on_challenge(struct smtp_session *s, const char *ctx, struct error *err)
{
	struct smtp_sasl *sasl = s->sasl;
	char *out = NULL;
	int r;

	if (s->reply.nlines != 1) {
		error_set(err, ERR_PROTOCOL,
			"%s: a challenge of %zu lines (one is allowed)", ctx,
			s->reply.nlines);
		smtp_set_state(s, SMTP_ST_DEAD);
		return -1;
	}
	/* auth_step reads a C string: a NUL would cut the challenge short
	   and "334 \0garbage" would pass as an empty, valid one. Base64
	   never holds a NUL. */
	if (s->reply.text.len > 0 &&
		memchr(s->reply.text.data, '\0', s->reply.text.len)) {
		error_set(err, ERR_PROTOCOL,
			"%s: the server's challenge is not valid base64", ctx);
		smtp_set_state(s, SMTP_ST_DEAD);
		return -1;
	}
	/* auth.c's texts name the mechanism themselves. */
	r = auth_step(sasl->auth, s->reply.text.data, &out, err);
	if (r < 0) {
		smtp_set_state(s, SMTP_ST_DEAD);
		return -1;
	}
	smtp_sasl_set_response(sasl, out);
	return 1;
}

/* 0: authenticated; 1: a challenge was answered, send the answer. */
static int
smtp_on_auth(struct smtp_session *s, const char *ctx, struct error *err)
{
	if (s->reply.code == 334)
		return smtp_on_challenge(s, ctx, err);
	/* 535 and the other 5xx (534 too weak, 538 encryption required)
	   are refusals of these credentials; 454 and 4xx are temporary. */
	if (smtp_judge(s, 2, ERR_AUTH, ctx, err) < 0)
		return -1;
	/* SCRAM authenticates the server too: a success before its
	   signature was checked would accept a server that never knew the
	   password; such a peer gets no further word. */
	if (auth_check_success(s->sasl->auth, err) < 0) {
		smtp_set_state(s, SMTP_ST_DEAD);
		return -1;
	}
	s->authenticated = 1;
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
	if (!t->auth_failed)
		t->first_err = *err;
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
		*err = t->first_err;
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
	case SMTP_ST_STARTTLS:
		return smtp_on_starttls(s, err);
	case SMTP_ST_AUTH:
	case SMTP_ST_AUTH_STEP:
		return smtp_on_auth(s, ctx, err);
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
	return r < 0 ? -1 : 0;
}

static int
smtp_greet(struct smtp_session *s, struct error *err)
{
	smtp_set_state(s, SMTP_ST_GREETING);
	if (smtp_read_reply(s, "greeting", 1, err) < 0)
		return -1;
	return smtp_on_greeting(s, err);
}

/*
 * The handshake, then the back end swap: from here every byte goes
 * through TLS. A failed handshake leaves nothing to say QUIT over.
 * Everything learned in clear is forgotten (RFC 3207 §4.2).
 */
static int
smtp_tls(struct smtp_session *s, struct error *err)
{
	struct iobuf_backend be;

	smtp_set_state(s, SMTP_ST_TLS);
	if (tls_start(&s->tls, s->io.fd, s->params->tls, err) < 0) {
		s->tls = NULL;
		smtp_set_state(s, SMTP_ST_DEAD);
		return -1;
	}
	tls_backend(s->tls, &be);
	iobuf_set_backend(&s->io, &be);
	memset(&s->caps, 0, sizeof(s->caps));
	s->esmtp = 0;
	return 0;
}

/* STARTTLS is required in this mode: not offered or refused ends the
   attempt, never a fall back to clear text. */
static int
smtp_starttls(struct smtp_session *s, struct error *err)
{
	if (!(s->caps.flags & CAPS_STARTTLS)) {
		error_set(
			err, ERR_UNAVAILABLE, "server does not offer STARTTLS");
		return -1;
	}
	if (smtp_command(s, SMTP_ST_STARTTLS, "STARTTLS", 0, err) < 0 ||
		smtp_handle(s, SMTP_ST_STARTTLS, NULL, 0, "STARTTLS", err) < 0)
		return -1;
	return smtp_tls(s, err);
}

/* Credentials go only where main allowed them; this is the backstop
   for a connection that did not end up verified. */
static int
smtp_auth_allowed(const struct smtp_session *s, struct error *err)
{
	if (s->params->auth_unverified || (s->tls && tls_verified(s->tls)))
		return 0;
	error_set(err, ERR_CONFIG,
		"AUTH: the connection is not verified TLS; credentials are "
		"not sent over it");
	return -1;
}

/* What TLS adds to the parameters: channel binding for SCRAM-*-PLUS
   (none when it cannot be had: then no -PLUS is chosen), and whether a
   client certificate went out (EXTERNAL). *cb is the caller's to free. */
static void
smtp_auth_tls(
	struct smtp_session *s, struct auth_params *ap, unsigned char **cb)
{
	struct error ignored;
	const char *type;
	size_t len;

	ap->cb_type = NULL;
	ap->cb_data = NULL;
	ap->cb_len = 0;
	ap->client_cert = 0;
	*cb = NULL;
	if (!s->tls)
		return;
	ap->client_cert = tls_client_cert_sent(s->tls);
	if (tls_channel_binding(s->tls, &type, cb, &len, &ignored) == 0) {
		ap->cb_type = type;
		ap->cb_data = *cb;
		ap->cb_len = len;
	}
}

static void
smtp_sasl_free(struct smtp_session *s)
{
	struct smtp_sasl *sasl = s->sasl;

	if (!sasl)
		return;
	if (sasl->auth)
		auth_finish(sasl->auth);
	smtp_sasl_set_response(sasl, NULL);
	free(sasl);
	s->sasl = NULL;
}

/* The exchange: AUTH (with the initial response when the mechanism has
   one), then one line per 334 until the verdict. */
static int
smtp_sasl_run(struct smtp_session *s, struct error *err)
{
	char ctx[64];
	int r;

	snprintf(ctx, sizeof(ctx), "AUTH %s", s->sasl->mech);
	smtp_enter(s, NULL, SMTP_ST_AUTH, 0);
	for (;;) {
		r = smtp_flush(s, ctx, err);
		/* The output queue keeps what it sent until overwritten: the
		   credentials must not outlive their line. */
		explicit_bzero(s->io.out.data, s->io.out.cap);
		if (r < 0 || smtp_read_reply(s, ctx, 1, err) < 0)
			return -1;
		r = smtp_handle(s, SMTP_ST_AUTH, NULL, 0, ctx, err);
		if (r <= 0)
			return r;
		smtp_enter(s, NULL, SMTP_ST_AUTH_STEP, 0);
	}
}

/*
 * RFC 4954 §4: a mechanism whose client side is all in the initial
 * response (PLAIN, EXTERNAL) may go in a pipelined group with the
 * commands after it; nothing needs answering in between.
 */
static int
smtp_auth_pipelined(const struct smtp_session *s)
{
	const char *m = s->sasl->mech;

	return (s->caps.flags & CAPS_PIPELINING) && s->sasl->response &&
	       (strcmp(m, "PLAIN") == 0 || strcmp(m, "EXTERNAL") == 0);
}

/* RFC 4954 after the (last) EHLO: offered, a mechanism both sides
   have, then the exchange now, or made ready for the first
   transaction's group (s->sasl stays). */
static int
smtp_authenticate(struct smtp_session *s, struct error *err)
{
	struct auth_params ap = *s->params->auth;
	struct smtp_sasl *sasl;
	unsigned char *cb;
	char *out = NULL;
	int r = -1;

	if (smtp_auth_allowed(s, err) < 0)
		return -1;
	if (!(s->caps.flags & CAPS_AUTH) || s->caps.auth[0] == '\0') {
		error_set(err, ERR_UNAVAILABLE, "server does not offer AUTH");
		return -1;
	}
	smtp_auth_tls(s, &ap, &cb);
	sasl = s->sasl = xcalloc(1, sizeof(*sasl));
	sasl->mech = auth_choose(s->caps.auth, &ap, err);
	if (!sasl->mech || auth_start(&sasl->auth, sasl->mech, &ap, err) < 0)
		goto out;
	if (auth_has_initial_response(sasl->mech)) {
		if (auth_step(sasl->auth, NULL, &out, err) < 0)
			goto out;
		smtp_sasl_set_response(sasl, out);
	}
	if (smtp_auth_pipelined(s)) {
		free(cb);
		return 0;
	}
	r = smtp_sasl_run(s, err);
out:
	smtp_sasl_free(s);
	free(cb);
	return r;
}

static void
smtp_session_init(struct smtp_session *s, int fd, const struct smtp_params *p)
{
	memset(&s->caps, 0, sizeof(s->caps));
	s->params = p;
	s->state = SMTP_ST_CONNECTED;
	s->esmtp = 0;
	s->tls = NULL;
	s->sasl = NULL;
	s->pending = NULL;
	s->authenticated = 0;
	s->final_code = 0;
	s->final_text = NULL;
	reply_init(&s->reply);
	iobuf_init(&s->io, fd, p->timeout);
}

/* --- serverinfo: what the session learns, as lines for a person ------- */

static void
smtp_info_reply(struct smtp_session *s, struct buf *info, const char *label)
{
	char text[ERROR_TEXT_MAX];

	if (info)
		buf_printf(info, "%s: %s\n", label,
			reply_format(&s->reply, text, sizeof(text)));
}

/* The EHLO reply's lines after the first (the server's name). */
static void
smtp_info_caps(struct smtp_session *s, struct buf *info, const char *label)
{
	const char *p, *nl;
	char esc[IOBUF_LINE_MAX * 4];

	if (!info)
		return;
	if (!s->esmtp) {
		buf_printf(info, "%s: none (EHLO refused, HELO accepted)\n",
			label);
		return;
	}
	buf_printf(info, "%s:\n", label);
	p = memchr(s->reply.text.data, '\n', s->reply.text.len);
	while (p) {
		p++;
		nl = memchr(p, '\n',
			s->reply.text.len - (size_t)(p - s->reply.text.data));
		log_escape(esc, sizeof(esc), p,
			nl ? (size_t)(nl - p)
			   : s->reply.text.len -
					(size_t)(p - s->reply.text.data));
		buf_printf(info, "  %s\n", esc);
		p = nl;
	}
}

static void
smtp_info_tls(struct smtp_session *s, struct buf *info)
{
	const char *why;

	if (!info)
		return;
	buf_addstr(info, "TLS:\n");
	tls_describe(s->tls, info);
	if (info->len && info->data[info->len - 1] != '\n')
		buf_addch(info, '\n');
	why = tls_verify_error(s->tls);
	if (why)
		buf_printf(info, "certificate check: FAILED: %s\n", why);
	else if (tls_verified(s->tls))
		buf_addstr(info, "certificate check: verified\n");
	else
		buf_addstr(info, "certificate check: off (tls_certcheck off): "
				 "NOT verified\n");
}

/* Up to the last EHLO: TLS first (implicit), or after the first EHLO
   (STARTTLS) followed by the second EHLO. info (NULL: none) collects what
   --serverinfo shows. */
static int
smtp_connect(struct smtp_session *s, struct buf *info, struct error *err)
{
	enum smtp_tls mode = s->params->tls_mode;

	if (mode == SMTP_TLS_IMPLICIT) {
		if (smtp_tls(s, err) < 0)
			return -1;
		smtp_info_tls(s, info);
	}
	if (smtp_greet(s, err) < 0)
		return -1;
	smtp_info_reply(s, info, "greeting");
	if (smtp_hello(s, err) < 0)
		return -1;
	smtp_info_caps(s, info,
		mode == SMTP_TLS_STARTTLS ? "capabilities before TLS"
					  : "capabilities");
	if (mode != SMTP_TLS_STARTTLS)
		return 0;
	if (smtp_starttls(s, err) < 0)
		return -1;
	smtp_info_tls(s, info);
	if (smtp_hello(s, err) < 0)
		return -1;
	smtp_info_caps(s, info, "capabilities after TLS");
	return 0;
}

int
smtp_open(struct smtp_session *s, int fd, const struct smtp_params *p,
	struct error *err)
{
	smtp_session_init(s, fd, p);
	if (smtp_connect(s, NULL, err) < 0)
		return -1;
	if (p->auth && smtp_authenticate(s, err) < 0)
		return -1;
	smtp_set_state(s, SMTP_ST_READY);
	return 0;
}

int
smtp_serverinfo(struct smtp_session *s, int fd, const struct smtp_params *p,
	struct buf *out, struct error *err)
{
	const char *why;

	smtp_session_init(s, fd, p);
	if (smtp_connect(s, out, err) < 0)
		return -1;
	smtp_set_state(s, SMTP_ST_READY);
	why = s->tls ? tls_verify_error(s->tls) : NULL;
	if (why) {
		error_set(err, ERR_UNAVAILABLE, "%s", why);
		return -1;
	}
	return 0;
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

int
smtp_ready(const struct smtp_session *s)
{
	return s->state == SMTP_ST_READY;
}

void
smtp_quit(struct smtp_session *s)
{
	struct error ignored;

	if (s->state == SMTP_ST_DEAD || s->state == SMTP_ST_QUIT ||
		s->state == SMTP_ST_CONNECTED)
		return;
	/* A message's commands went out with the last end of data and it
	   was never sent: the server may be waiting for its data, where a
	   QUIT would be content. Closing aborts it (RFC 5321 §3.8). */
	if (s->pending) {
		smtp_set_state(s, SMTP_ST_DEAD);
		return;
	}
	if (s->io.timeout_ms == 0 || s->io.timeout_ms > SMTP_QUIT_TIMEOUT_MS)
		s->io.timeout_ms = SMTP_QUIT_TIMEOUT_MS;
	smtp_command(s, SMTP_ST_QUIT, "QUIT", 0, &ignored);
	smtp_set_state(s, SMTP_ST_DEAD);
}

void
smtp_close(struct smtp_session *s)
{
	if (s->tls)
		tls_close(s->tls);
	s->tls = NULL;
	if (s->io.fd >= 0)
		close(s->io.fd);
	s->io.fd = -1;
	iobuf_release(&s->io);
	reply_release(&s->reply);
	free(s->final_text);
	s->final_text = NULL;
	smtp_sasl_free(s);
	free(s->pending);
	s->pending = NULL;
	s->state = SMTP_ST_DEAD;
}

const struct smtp_rcpt *
smtp_first_refused(const struct smtp_rcpt *rcpts, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (rcpts[i].reply && rcpts[i].code >= 400)
			return &rcpts[i];
	return NULL;
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
	const char *fields[] = {
		env->sender, env->sender_ascii, env->dsn_notify, env->dsn_ret};
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
		if (strpbrk(env->rcpts[i].addr, "\r\n") ||
			(env->rcpts[i].addr_ascii &&
				strpbrk(env->rcpts[i].addr_ascii, "\r\n"))) {
			error_set(err, ERR_DATA, "line break in a recipient");
			return -1;
		}
	return 0;
}

static int
smtp_check_size(const struct smtp_session *s, const struct smtp_source *src,
	struct error *err)
{
	if ((s->caps.flags & CAPS_SIZE) && s->caps.size_max > 0 &&
		(unsigned long long)src->size > s->caps.size_max) {
		error_set(err, ERR_UNAVAILABLE,
			"message of %lld bytes exceeds the server's limit of "
			"%llu bytes",
			(long long)src->size, s->caps.size_max);
		return -1;
	}
	return 0;
}

/*
 * Whether the transaction needs SMTPUTF8 (RFC 6531): what cannot go
 * without it is a UTF-8 header (RFC 6532) or a local part that is still
 * not ASCII in the A-label form. Names it in why (for the error), or
 * returns 0.
 */
static int
smtp_utf8_needed(const struct smtp_envelope *env, const struct smtp_source *src,
	char *why, size_t size)
{
	const char *a;
	char esc[SMTP_CONTEXT_MAX];
	size_t i;

	if (src->header_8bit) {
		snprintf(why, size, "non-ASCII in the header");
		return 1;
	}
	a = env->sender_ascii ? env->sender_ascii : env->sender;
	for (i = 0; i <= env->nrcpts; i++) {
		if (i > 0)
			a = env->rcpts[i - 1].addr_ascii
				    ? env->rcpts[i - 1].addr_ascii
				    : env->rcpts[i - 1].addr;
		if (smtp_is_ascii(a))
			continue;
		log_escape(esc, sizeof(esc), a, strlen(a));
		snprintf(why, size, "non-ASCII local part in <%s>", esc);
		return 1;
	}
	return 0;
}

/* Any UTF-8 in the envelope or header, even what A-labels could carry. */
static int
smtp_utf8_wanted(const struct smtp_envelope *env)
{
	size_t i;

	if (!smtp_is_ascii(env->sender))
		return 1;
	for (i = 0; i < env->nrcpts; i++)
		if (!smtp_is_ascii(env->rcpts[i].addr))
			return 1;
	return 0;
}

/* RFC 6531 §3.4: SMTPUTF8 when there is UTF-8 and the server offers it;
   without it, A-labels where they do, and an error where they do not. */
static int
smtp_choose_utf8(
	const struct smtp_session *s, struct smtp_txn *t, struct error *err)
{
	char why[SMTP_CONTEXT_MAX + 32];
	int needed = smtp_utf8_needed(t->env, t->src, why, sizeof(why));

	if (!needed && !smtp_utf8_wanted(t->env))
		return 0;
	if (s->caps.flags & CAPS_SMTPUTF8) {
		t->utf8 = 1;
		return 0;
	}
	if (!needed)
		return 0;
	error_set(err, ERR_DATA,
		"message needs SMTPUTF8 (%s) and the server does not offer it",
		why);
	return -1;
}

/* What the server announced it cannot take, refused before MAIL so
   nothing is half-sent (behaviour.md step 3, in its order). */
static int
smtp_check_message(const struct smtp_session *s,
	const struct smtp_envelope *env, const struct smtp_source *src,
	struct error *err)
{
	unsigned flags = s->caps.flags;

	if (src->has_8bit && !(flags & CAPS_8BITMIME)) {
		error_set(err, ERR_DATA,
			"message has 8-bit data and the "
			"server does not offer 8BITMIME");
		return -1;
	}
	if (smtp_dsn_asked(env) && !(flags & CAPS_DSN)) {
		error_set(err, ERR_UNAVAILABLE, "server does not offer DSN");
		return -1;
	}
	return 0;
}

/*
 * Without PIPELINING: commands first .. first+n-1 of the envelope (0 =
 * MAIL, i = RCPT i-1) one at a time, each reply read before the next.
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

/*
 * Queue t's group for one write (RFC 2920): the AUTH smtp_open left for
 * the first transaction, MAIL, every RCPT, and DATA unless the data goes
 * by BDAT (RFC 3030), which waits for the envelope's replies.
 */
static void
smtp_group_queue(struct smtp_session *s, struct smtp_txn *t)
{
	size_t i;

	t->with_auth = s->sasl != NULL;
	t->bdat = (s->caps.flags & CAPS_CHUNKING) != 0;
	t->with_data = !t->bdat;
	if (t->with_auth) {
		smtp_enter(s, t, SMTP_ST_AUTH, 0);
		/* The line is queued; the secret need not wait with it. */
		smtp_sasl_set_response(s->sasl, NULL);
	}
	smtp_enter(s, t, SMTP_ST_MAIL, 0);
	for (i = 0; i < t->env->nrcpts; i++)
		smtp_enter(s, t, SMTP_ST_RCPT, i);
	if (t->with_data)
		smtp_enter(s, t, SMTP_ST_DATA, 0);
}

/*
 * The pipelined AUTH's reply. A 334 cannot be answered here (the lines
 * behind AUTH would be taken as the answer): the server broke RFC 4954
 * for a mechanism that said everything at once. A refusal is the
 * transaction's error; the MAIL behind it is refused too.
 */
static int
smtp_on_group_auth(struct smtp_session *s, struct smtp_txn *t, const char *ctx,
	struct error *err)
{
	int r;

	if (s->reply.code == 334) {
		error_set(err, ERR_PROTOCOL,
			"%s: a challenge after the initial response", ctx);
		smtp_set_state(s, SMTP_ST_DEAD);
		return -1;
	}
	r = smtp_on_auth(s, ctx, err);
	smtp_sasl_free(s);
	if (r == 0 || smtp_dead(s))
		return r;
	t->auth_failed = 1;
	t->first_err = *err;
	return 0;
}

/* The pipelined DATA's reply: 354, or a refusal that names the reason
   only when the envelope had none. */
static int
smtp_on_group_data(
	struct smtp_session *s, struct smtp_txn *t, struct error *err)
{
	if (s->reply.code == 354) {
		t->data_open = 1;
		return 0;
	}
	if (smtp_judge(s, 3, ERR_UNAVAILABLE, "DATA", err) < 0 && smtp_dead(s))
		return -1;
	if (!t->auth_failed && !t->mail_failed && t->refused == 0) {
		t->data_failed = 1;
		t->first_err = *err;
	}
	return 0;
}

/* The group's replies, in the order of its commands. */
static int
smtp_group_read(struct smtp_session *s, struct smtp_txn *t, struct error *err)
{
	size_t n = t->env->nrcpts, i;
	char ctx[SMTP_CONTEXT_MAX];

	if (t->with_auth) {
		snprintf(ctx, sizeof(ctx), "AUTH %s",
			s->sasl ? s->sasl->mech : "");
		if (smtp_read_reply(s, ctx, 0, err) < 0 ||
			smtp_on_group_auth(s, t, ctx, err) < 0)
			return -1;
	}
	smtp_context(t, SMTP_ST_MAIL, 0, ctx, sizeof(ctx));
	if (smtp_read_reply(s, ctx, n == 0 && !t->with_data, err) < 0 ||
		smtp_on_mail(s, t, ctx, err) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		smtp_context(t, SMTP_ST_RCPT, i, ctx, sizeof(ctx));
		if (smtp_read_reply(s, ctx, i == n - 1 && !t->with_data, err) <
				0 ||
			smtp_on_rcpt(s, t, i, ctx, err) < 0)
			return -1;
	}
	if (t->with_data && (smtp_read_reply(s, "DATA", 1, err) < 0 ||
				    smtp_on_group_data(s, t, err) < 0))
		return -1;
	return 0;
}

/*
 * After the envelope's replies: 0 when the data may go. Otherwise the
 * reason in err, and the transaction undone: RSET, or, when DATA was
 * already accepted (354) for the recipients that were, the session
 * ended, which is the one way left to send none of it (RFC 5321 §3.8).
 */
static int
smtp_verdict(struct smtp_session *s, struct smtp_txn *t, struct error *err)
{
	if (!t->auth_failed && !t->mail_failed && !t->data_failed &&
		t->refused == 0)
		return 0;
	if (t->refused && !t->mail_failed && !t->auth_failed)
		smtp_refusal_error(t, err);
	else
		*err = t->first_err;
	if (t->data_open)
		smtp_set_state(s, SMTP_ST_DEAD);
	else if (!t->auth_failed)
		smtp_reset(s);
	else
		smtp_set_state(s, SMTP_ST_READY);
	return -1;
}

/* MAIL and the RCPTs (and DATA) as the server allows: one write with
   PIPELINING, else one command at a time. */
static int
smtp_envelope(struct smtp_session *s, struct smtp_txn *t, struct error *err)
{
	size_t total = 1 + t->env->nrcpts, i;
	int r;

	if (s->caps.flags & CAPS_PIPELINING) {
		smtp_group_queue(s, t);
		r = smtp_flush(s, "MAIL FROM", err);
		if (t->with_auth)
			explicit_bzero(s->io.out.data, s->io.out.cap);
		if (r < 0 || smtp_group_read(s, t, err) < 0)
			return -1;
		return smtp_verdict(s, t, err);
	}
	t->bdat = (s->caps.flags & CAPS_CHUNKING) != 0;
	for (i = 0; i < total && !t->mail_failed; i++)
		if (smtp_round(s, t, i, 1, err) < 0)
			return -1;
	return smtp_verdict(s, t, err);
}

/* --- message data ------------------------------------------------------- */

/* The server spoke (or hung up) while we were still sending data: read
   what it said for the error; the transaction cannot be finished. */
static int
smtp_early_reply(struct smtp_session *s, struct error *err)
{
	if (smtp_read_reply(s, "during data", 0, err) == 0) {
		smtp_keep_final(s);
		/* A 5xx refuses the message for good (a size or content
		   limit hit mid-way): retrying it would be refused again. */
		reply_to_error(&s->reply,
			s->reply.code / 100 == 5 ? ERR_UNAVAILABLE : ERR_TEMP,
			"during data", err);
	}
	smtp_set_state(s, SMTP_ST_DEAD);
	return -1;
}

/* What a watched write of the data returned (iobuf_flush_watch's 0, 1
   or -1), as smtp_send_body goes on with it. */
static int
smtp_data_written(struct smtp_session *s, int r, struct error *err)
{
	if (r == 1)
		return smtp_early_reply(s, err);
	if (r < 0) {
		error_prefix(err, "during data");
		smtp_set_state(s, SMTP_ST_DEAD);
	}
	return r;
}

/*
 * Where the source has the rest of the data as a file range and the
 * socket is plain: sendfile(2) it, no copy through postie. 1 when sent,
 * 0 when the data must be read, -1 on errors.
 */
static int
smtp_send_span(struct smtp_session *s, const struct smtp_source *src,
	long long *total, struct error *err)
{
	off_t off, len;
	int fd;

	if (src->span == NULL || !iobuf_can_sendfile(&s->io) ||
		src->span(src->ctx, &fd, &off, &len) != 1)
		return 0;
	*total += len;
	if (smtp_data_written(s,
		    iobuf_sendfile_watch(&s->io, fd, off, len, err), err) < 0)
		return -1;
	return 1;
}

/*
 * Stream the data (dot-stuffed for DATA, as it is for BDAT), never
 * holding more than about SMTP_QUEUE_MAX + SMTP_CHUNK bytes of it: full
 * chunks go straight from the read buffer to the socket, a spooled
 * body by sendfile(2) when the source offers it. Every write watches
 * for the server, so one that speaks or hangs up mid-way is heard before
 * the end of data can follow. A short tail stays queued for the end of
 * data's write.
 */
static int
smtp_send_body(
	struct smtp_session *s, const struct smtp_txn *t, struct error *err)
{
	const struct smtp_source *src = t->src;
	char *chunk = xmalloc(SMTP_CHUNK);
	char tail[2] = {'\r', '\n'};
	long long total = 0;
	ssize_t n;
	int r = -1, w;

	src->rewind(src->ctx, !t->bdat);
	for (;;) {
		if ((w = smtp_send_span(s, src, &total, err)) < 0)
			goto out;
		if (w == 1) {
			/* a span is whole lines: it ends with CRLF */
			tail[0] = '\r';
			tail[1] = '\n';
		}
		if ((n = src->read(src->ctx, chunk, SMTP_CHUNK, err)) <= 0)
			break;
		total += n;
		if (n >= 2)
			tail[0] = chunk[n - 2];
		else
			tail[0] = tail[1];
		tail[1] = chunk[n - 1];
		if (iobuf_queued(&s->io) + (size_t)n < SMTP_QUEUE_MAX)
			iobuf_queue(&s->io, chunk, (size_t)n);
		else if (smtp_data_written(s,
				 iobuf_write_watch(&s->io, chunk, (size_t)n,
					 err),
				 err) < 0)
			goto out;
	}
	if (n < 0)
		goto out;
	if (t->bdat && total != (long long)src->size) {
		/* BDAT announced the size: the server counts on it. */
		error_set(err, ERR_SOFTWARE,
			"message data of %lld bytes, %lld announced", total,
			(long long)src->size);
		goto out;
	}
	/* RFC 5321 §4.1.1.4: the end of data is CRLF "." CRLF; the source
	   promises the final CRLF, this keeps a broken one from gluing the
	   dot onto the last line. */
	if (!t->bdat && (tail[0] != '\r' || tail[1] != '\n'))
		iobuf_queue(&s->io, "\r\n", 2);
	r = 0;
out:
	free(chunk);
	return r;
}

/*
 * What goes in the end of data's write, with PIPELINING: QUIT, or the
 * next message's group (returned, for s->pending) when it passes the
 * checks that would refuse it before MAIL; *quit says which.
 */
static struct smtp_txn *
smtp_queue_after(
	struct smtp_session *s, const struct smtp_after *after, int *quit)
{
	struct smtp_txn *next;
	struct error ignored;

	*quit = 0;
	if (!after || !(s->caps.flags & CAPS_PIPELINING))
		return NULL;
	if (after->quit) {
		smtp_enter(s, NULL, SMTP_ST_QUIT, 0);
		*quit = 1;
		return NULL;
	}
	if (!after->env)
		return NULL;
	next = xcalloc(1, sizeof(*next));
	next->env = after->env;
	next->src = after->src;
	if (smtp_check_envelope(next->env, &ignored) < 0 ||
		smtp_check_size(s, next->src, &ignored) < 0 ||
		smtp_choose_utf8(s, next, &ignored) < 0 ||
		smtp_check_message(s, next->env, next->src, &ignored) < 0) {
		free(next); /* its own smtp_send will say why */
		return NULL;
	}
	smtp_group_queue(s, next);
	return next;
}

/*
 * The end of data (and what goes with it) and the verdict. A 2xx here is
 * the moment the server takes the message (RFC 5321 §4.1.1.4): bytes
 * behind it end the session, unless they answer what went with it, but
 * must not turn a delivered message into a failure that a caller would
 * retry, delivering it twice.
 */
static int
smtp_end_data(struct smtp_session *s, int pipelined, struct error *err)
{
	const char *ctx = "end of data";

	if (smtp_flush(s, ctx, err) < 0 || smtp_read_reply(s, ctx, 0, err) < 0)
		return -1;
	if (s->reply.code / 100 != 2 && !pipelined &&
		smtp_check_unsolicited(s, ctx, err) < 0)
		return -1;
	if (smtp_handle(s, SMTP_ST_DOT, NULL, 0, ctx, err) < 0)
		return -1;
	if (!pipelined && iobuf_buffered(&s->io) > 0) {
		log_info("smtp: unexpected bytes after the message was "
			 "accepted; ending the session");
		smtp_set_state(s, SMTP_ST_DEAD);
	}
	return 0;
}

/* The reply to a QUIT that went with the end of data: a courtesy. */
static void
smtp_read_quit(struct smtp_session *s)
{
	struct error ignored;

	if (!smtp_dead(s)) {
		if (s->io.timeout_ms == 0 ||
			s->io.timeout_ms > SMTP_QUIT_TIMEOUT_MS)
			s->io.timeout_ms = SMTP_QUIT_TIMEOUT_MS;
		smtp_read_reply(s, "QUIT", 0, &ignored);
	}
	smtp_set_state(s, SMTP_ST_DEAD);
}

static int
smtp_data(struct smtp_session *s, struct smtp_txn *t,
	const struct smtp_after *after, struct error *err)
{
	struct smtp_txn *next;
	char line[64];
	int quit, r;

	if (!t->with_data && !t->bdat &&
		smtp_step(s, SMTP_ST_DATA, "DATA", err) < 0)
		return -1;
	smtp_set_state(s, SMTP_ST_BODY);
	if (t->bdat) {
		snprintf(line, sizeof(line), "BDAT %lld LAST",
			(long long)t->src->size);
		smtp_queue_line(s, line, strlen(line), NULL);
	}
	if (smtp_send_body(s, t, err) < 0) {
		smtp_set_state(s, SMTP_ST_DEAD);
		return -1;
	}
	/* Last look: the server may have spoken since the last flush. */
	if (iobuf_readable(&s->io))
		return smtp_early_reply(s, err);
	if (t->bdat)
		smtp_set_state(s, SMTP_ST_DOT);
	else
		smtp_enter(s, NULL, SMTP_ST_DOT, 0);
	next = smtp_queue_after(s, after, &quit);
	r = smtp_end_data(s, quit || next, err);
	if (quit)
		smtp_read_quit(s);
	if (next && smtp_dead(s))
		free(next);
	else if (next)
		s->pending = next;
	return r;
}

int
smtp_send(struct smtp_session *s, const struct smtp_envelope *env,
	const struct smtp_source *src, const struct smtp_after *after,
	struct error *err)
{
	struct smtp_txn local, *t = s->pending;
	int r = -1;

	s->pending = NULL;
	if (s->state != SMTP_ST_READY) {
		error_set(
			err, ERR_TEMP, "the SMTP session is no longer usable");
		goto out;
	}
	smtp_rcpts_release(env->rcpts, env->nrcpts);
	if (t && (t->env != env || t->src != src)) {
		error_set(err, ERR_SOFTWARE,
			"smtp_send: not the message whose commands were sent");
		smtp_set_state(s, SMTP_ST_DEAD);
		goto out;
	}
	if (t) {
		/* Its commands went with the last end of data. */
		if (smtp_group_read(s, t, err) < 0 ||
			smtp_verdict(s, t, err) < 0)
			goto out;
	} else {
		t = &local;
		memset(t, 0, sizeof(*t));
		t->env = env;
		t->src = src;
		/* The size limit is the first refusal, as behaviour.md
		   orders. */
		if (smtp_check_envelope(env, err) < 0 ||
			smtp_check_size(s, src, err) < 0 ||
			smtp_choose_utf8(s, t, err) < 0 ||
			smtp_check_message(s, env, src, err) < 0 ||
			smtp_envelope(s, t, err) < 0)
			goto out;
	}
	r = smtp_data(s, t, after, err);
out:
	if (t != &local)
		free(t);
	return r;
}
