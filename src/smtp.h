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

#include "iobuf.h"
#include "log.h"
#include "reply.h"

struct smtp_params {
	const char *helo_name; /* EHLO / HELO argument */
	unsigned timeout;      /* seconds, for every read and write (0: none) */
};

enum smtp_body {
	SMTP_BODY_DEFAULT = 0, /* no BODY= unless the data has 8-bit bytes */
	SMTP_BODY_7BIT,        /* -B 7BIT: BODY=7BIT when 8BITMIME offered */
	SMTP_BODY_8BITMIME,    /* -B 8BITMIME or 8-bit data: BODY=8BITMIME */
};

struct smtp_rcpt {
	const char *addr;
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
	void *ctx;
	off_t size; /* wire size, for SIZE= and the local size check */
	int has_8bit;
};

struct smtp_envelope {
	const char *sender; /* "" = null sender <> */
	struct smtp_rcpt *rcpts;
	size_t nrcpts;
	enum smtp_body body;
	const char *dsn_notify; /* -N: NOTIFY= for every RCPT, NULL = none */
	const char *dsn_ret;    /* -R: RET=FULL|HDRS, NULL = none */
	const char *dsn_envid;  /* -V: ENVID=, NULL = none */
};

struct smtp_session {
	struct iobuf io;
	struct caps caps;
	const struct smtp_params *params;
	int state;          /* enum smtp_state in smtp.c */
	int esmtp;          /* 1 after EHLO succeeded, 0 after HELO */
	struct reply reply; /* the last reply read */
	int final_code;     /* code of the reply that decided the last
			       outcome (end of data, or the refusal), for
			       the log line; 0 if none */
	char *final_text;   /* that reply on one line, "250 2.0.0 Ok: queued",
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
 * Read the greeting and say EHLO (HELO when EHLO is refused with 5xx).
 * s takes over fd for reading and writing (smtp_close closes it), even
 * when this fails. Error texts: "greeting: ...", "EHLO: ...", "HELO: ...".
 * Errors: ERR_TEMP (a 4xx greeting, EHLO or HELO; a timeout; the server
 * hanging up or the connection failing), ERR_UNAVAILABLE (5xx greeting;
 * EHLO and then HELO refused with 5xx), ERR_PROTOCOL (a malformed reply,
 * a reply code the command cannot get, bytes after a reply that nobody
 * asked for), ERR_OS or ERR_IO (local failures, from iobuf).
 */
int smtp_open(struct smtp_session *s, int fd, const struct smtp_params *p,
	struct error *err);

/*
 * One transaction: MAIL, every RCPT (one write with PIPELINING), DATA,
 * the data, end of data. 0 when the server accepted the message (final
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
	const struct smtp_source *src, struct error *err);

/* QUIT and wait up to 5 s (or the timeout, if shorter) for its reply;
   best effort, errors ignored; nothing when the session is unusable. */
void smtp_quit(struct smtp_session *s);
/* Close the socket, free everything. */
void smtp_close(struct smtp_session *s);

/* Free the reply strings smtp_send left in rcpts. */
void smtp_rcpts_release(struct smtp_rcpt *rcpts, size_t n);

#endif
