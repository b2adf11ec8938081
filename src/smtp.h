/*
 * smtp.h - the SMTP client state machine.
 *
 * Gets a connected socket, a filled parameter struct and, per message, an
 * envelope and a message source; returns an outcome in struct error.
 * Never sees argv or the config file and never prints (the -v transcript
 * goes through log.h).
 *
 * All or nothing: if any recipient is refused, the transaction is reset
 * (RSET), nothing is delivered, and each refused recipient's reply is left
 * in its struct smtp_rcpt for the caller to report.
 */
#ifndef POSTIE_SMTP_H
#define POSTIE_SMTP_H

#include <stddef.h>
#include <sys/types.h>

#include "auth.h"
#include "buf.h"
#include "iobuf.h"
#include "log.h"
#include "reply.h"
#include "tls.h"

enum smtp_tls {
	SMTP_TLS_NONE = 0, /* plain SMTP ("tls off") */
	SMTP_TLS_STARTTLS, /* RFC 3207, required: never falls back */
	SMTP_TLS_IMPLICIT, /* RFC 8314: TLS from the first byte (465) */
};

struct smtp_params {
	const char *helo_name; /* EHLO / HELO argument */
	unsigned timeout;      /* seconds, for every read and write (0: none) */
	enum smtp_tls tls_mode;
	const struct tls_params *tls;   /* with a TLS mode; else NULL */
	const struct auth_params *auth; /* NULL: no AUTH. Its strings (the
					   password) stay the caller's;
					   smtp fills in the channel
					   binding and client_cert itself */
	int auth_unverified; /* 1: AUTH may run over a connection that is
				not verified TLS ("auth_plaintext on") */
};

enum smtp_body {
	SMTP_BODY_DEFAULT = 0, /* no BODY= unless the data has 8-bit bytes */
	SMTP_BODY_7BIT,        /* -B 7BIT: BODY=7BIT when 8BITMIME offered */
	SMTP_BODY_8BITMIME,    /* -B 8BITMIME or 8-bit data: BODY=8BITMIME */
};

struct smtp_rcpt {
	const char *addr;       /* as given: may hold UTF-8 (RFC 6531) */
	const char *addr_ascii; /* addr with its domain in A-labels, for a
				   server without SMTPUTF8; NULL = addr */
	/* filled by smtp_send: the RCPT reply. Must start 0 / NULL (calloc):
	   smtp_send frees what an earlier call left. */
	int code;    /* 0 if not answered (or MAIL was refused) */
	char *reply; /* the whole reply on one line, escaped, code included:
			"550 5.1.1 no such user" (owned; freed by
			smtp_rcpts_release), NULL if not answered */
};

/*
 * The message data, produced on demand in CRLF form. read fills up to cap
 * bytes, dot-stuffed when dotstuff is 1; 0 at the end, -1 with err set.
 * rewind starts over (for a second transaction in one session).
 */
struct smtp_source {
	ssize_t (*read)(void *ctx, char *buf, size_t cap, struct error *err);
	void (*rewind)(void *ctx, int dotstuff);
	/* Optional (NULL: none): when the rest of the data is bytes [*off,
	   *off + *len) of file fd as they go on the wire (whole lines),
	   move past them and return 1, the caller then sending them itself
	   (sendfile(2) on a plain socket); else 0. Asked before each read. */
	int (*span)(void *ctx, int *fd, off_t *off, off_t *len);
	void *ctx;
	off_t size; /* wire size, for SIZE= and the local size check */
	int has_8bit;
	int header_8bit; /* bytes >= 0x80 in the header section that is
			    sent: UTF-8 headers need SMTPUTF8 (RFC 6532 §3) */
};

/*
 * International mail (RFC 6531): when anything in the envelope or the
 * header is not ASCII and the server offers SMTPUTF8, MAIL carries
 * SMTPUTF8 and every address goes as given. Otherwise the A-label forms
 * (sender_ascii, rcpts[i].addr_ascii) are sent; if one of them still has
 * a non-ASCII local part, or the header has 8-bit bytes, the message
 * cannot go: ERR_DATA before MAIL. smtp never converts a domain itself
 * (the caller has libidn2's answers).
 *
 * DSN (RFC 3461): when any of NOTIFY, RET, ENVID is asked for (which
 * needs DSN offered), each RCPT also carries ORCPT=rfc822;ADDR (§4.2,
 * xtext), ADDR being the address as sent; a recipient sent in UTF-8 gets
 * no ORCPT (the utf-8 address type of RFC 6533 is not implemented, and
 * ORCPT is optional).
 */
struct smtp_envelope {
	const char *sender;       /* "" = null sender <> */
	const char *sender_ascii; /* sender with an A-label domain; NULL =
				     sender */
	struct smtp_rcpt *rcpts;
	size_t nrcpts;
	enum smtp_body body;
	const char *dsn_notify; /* -N: NOTIFY= for every RCPT, NULL = none */
	const char *dsn_ret;    /* -R: RET=FULL|HDRS, NULL = none */
	const char *dsn_envid;  /* -V: ENVID=, NULL = none */
};

struct smtp_sasl; /* an AUTH exchange in progress (smtp.c) */
struct smtp_txn;  /* a transaction in flight (smtp.c) */

struct smtp_session {
	struct iobuf io;
	struct caps caps; /* of the last EHLO: after STARTTLS only the
			     second EHLO's (RFC 3207 §4.2) */
	const struct smtp_params *params;
	int state;                /* enum smtp_state in smtp.c */
	int esmtp;                /* 1 after EHLO succeeded, 0 after HELO */
	struct tls *tls;          /* the TLS session once it is up, else NULL */
	struct smtp_sasl *sasl;   /* during AUTH, and from smtp_open to the
				     first transaction when AUTH rides in its
				     pipelined group */
	struct smtp_txn *pending; /* the next message's commands, sent with
				     the last end of data, replies unread */
	int authenticated;        /* 1 after AUTH succeeded (235) */
	struct reply reply;       /* the last reply read */
	int final_code;           /* code of the reply that decided the last
				     outcome (end of data, or the refusal), for
				     the log line; 0 if none */
	char *final_text; /* that reply on one line, "250 2.0.0 Ok: queued",
			     NOT escaped (owned; may be NULL) */
};

/*
 * Lifetime: smtp_open, then smtp_send for each message, then always
 * smtp_quit and smtp_close, whatever failed on the way: smtp_quit knows
 * when no QUIT may be sent (421, 4xx greeting, timeout, hang-up, protocol
 * error, data cut off mid-way) and then does nothing.
 *
 * -v: every command and reply line goes to log_transcript ('>' / '<');
 * the message data is not shown, its end is shown as "> .". With -vv,
 * state changes also show, as log_info lines "smtp: OLD -> NEW".
 */

/*
 * Open the session: with SMTP_TLS_IMPLICIT the TLS handshake first; the
 * greeting; EHLO (HELO when EHLO is refused with 5xx); with
 * SMTP_TLS_STARTTLS then STARTTLS, the handshake, and EHLO again with
 * everything learned before TLS forgotten; with p->auth, AUTH -- or,
 * when the mechanism is PLAIN or EXTERNAL and the server offers
 * PIPELINING, AUTH with its initial response is made ready and goes in
 * the first transaction's group (RFC 4954 §4 allows it), a round trip
 * saved; its refusal is then that smtp_send's error (ERR_AUTH). Either
 * way the password is not needed after this returns.
 * s takes over fd for reading and writing (smtp_close closes it), even
 * when this fails. Error texts: "greeting: ...", "EHLO: ...", "HELO: ...",
 * "STARTTLS: ...", "AUTH: ...", and the TLS module's own.
 * Errors: ERR_TEMP (a 4xx greeting, EHLO, HELO, STARTTLS or AUTH (454); a
 * timeout; the server hanging up or the connection failing),
 * ERR_UNAVAILABLE (5xx greeting, STARTTLS; EHLO and then HELO refused with
 * 5xx; STARTTLS or AUTH not offered, or no common mechanism; every
 * certificate verification failure), ERR_PROTOCOL (a malformed reply, a
 * reply code the command cannot get, bytes after a reply that nobody
 * asked for; bytes behind STARTTLS's 220: response injection), ERR_AUTH
 * (AUTH refused: 535 and other 5xx; a SCRAM server signature that does
 * not verify, after which nothing more is sent), ERR_CONFIG (credentials
 * over a connection that is not verified TLS without auth_unverified;
 * TLS files), ERR_OS or ERR_IO (local failures, from iobuf).
 *
 * -v: AUTH lines are shown as "AUTH MECH <hidden>" and "<hidden>".
 */
int smtp_open(struct smtp_session *s, int fd, const struct smtp_params *p,
	struct error *err);

/*
 * --serverinfo: as smtp_open without AUTH, appending what it learns to
 * out as printable lines: the greeting, the capabilities before TLS, the
 * TLS session (tls_describe), the certificate check, the capabilities
 * after TLS. p->tls should have report_only set, so that a certificate
 * that fails verification is still described. Then 0 when the server was
 * verified (or tls is off), else -1 with ERR_UNAVAILABLE and the reason;
 * either way the session still takes a QUIT. Other errors as smtp_open.
 */
int smtp_serverinfo(struct smtp_session *s, int fd, const struct smtp_params *p,
	struct buf *out, struct error *err);

/*
 * What smtp_send sends behind a message's end of data (with PIPELINING
 * only; without, nothing). quit: the session ends with this message, so
 * QUIT goes in the same write and its reply is read too. env and src:
 * the next message, whose MAIL, RCPTs (and DATA) go in the same write;
 * the caller's next smtp_send on the session must be for exactly these
 * env and src pointers. Neither: nothing goes with it.
 */
struct smtp_after {
	int quit;
	const struct smtp_envelope *env;
	const struct smtp_source *src;
};

/*
 * One transaction: MAIL, every RCPT and DATA (one write with
 * PIPELINING, RFC 2920; with AUTH PLAIN or EXTERNAL before them when
 * smtp_open left AUTH to the first transaction), the data, end of data;
 * with CHUNKING (RFC 3030) MAIL and the RCPTs, then BDAT n LAST and the
 * data undotted. after (NULL: nothing) says what goes with the end of
 * data. 0 when the server accepted the message (final
 * 2xx; bytes behind that reply end the session, as anywhere, but do not
 * undo the success: the server has the message, and a retry would
 * deliver it twice). Error texts are one line, server text escaped:
 * "MAIL FROM:<x>: server said: 451 ...", "recipient <x>: ..." (the
 * session ended at that RCPT), "DATA: ...", "end of data: ...",
 * "during data: ..." (the server spoke, hung up or stopped reading before
 * the end: ERR_TEMP, no end of data was sent), and for refused recipients
 * "2 of 3 recipients refused; nothing was sent" with each recipient's
 * reply in rcpts[i] (code >= 400) for the caller to print.
 * Errors (DESIGN.md's table):
 *   before MAIL, nothing sent: ERR_USAGE (no recipients), ERR_DATA (a
 *   line break in the envelope; 8-bit data and no 8BITMIME),
 *   ERR_UNAVAILABLE (larger than the server's SIZE; DSN asked for and
 *   not offered);
 *   replies: any 4xx ERR_TEMP; 5xx to MAIL, DATA or the end of data
 *   ERR_UNAVAILABLE; recipients refused: ERR_RCPT when any refusal was
 *   5xx, else ERR_TEMP;
 *   ERR_TEMP, ERR_PROTOCOL, ERR_OS, ERR_IO as for smtp_open;
 *   a source read error: the source's class.
 * After a refused envelope RSET has been sent; after a refused DATA or end
 * of data no transaction is open. Either way the session stays usable
 * unless it ended (421, timeout, hang-up, protocol error, data cut off).
 */
int smtp_send(struct smtp_session *s, const struct smtp_envelope *env,
	const struct smtp_source *src, const struct smtp_after *after,
	struct error *err);

/*
 * Whether the session can take another transaction now: open, and not
 * ended by what happened since (421, timeout, hang-up, protocol error,
 * data cut off). A refused message leaves it ready.
 */
int smtp_ready(const struct smtp_session *s);

/* QUIT and wait up to 5 s (or the timeout, if shorter) for its reply;
   best effort, errors ignored; nothing when the session is unusable. */
void smtp_quit(struct smtp_session *s);
/* End TLS (close_notify), close the socket, free everything. */
void smtp_close(struct smtp_session *s);

/* The first recipient smtp_send left refused (code >= 400, its reply
   kept), or NULL: what a one-line report of a refusal names. */
const struct smtp_rcpt *smtp_first_refused(
	const struct smtp_rcpt *rcpts, size_t n);

/* Free the reply strings smtp_send left in rcpts. */
void smtp_rcpts_release(struct smtp_rcpt *rcpts, size_t n);

#endif
