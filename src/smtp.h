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
	unsigned timeout;      /* seconds, for every read and write */
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
	off_t size;    /* wire size, for SIZE= and the local size check */
	int has_8bit;
};

struct smtp_envelope {
	const char *sender;    /* "" = null sender <> */
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
 * the message data is not shown, its end is shown as "> .". State changes
 * show as log_info lines "smtp: OLD -> NEW".
 */

/*
 * Read the greeting and say EHLO (HELO when EHLO is refused with 5xx).
 * s takes over fd for reading and writing (smtp_close closes it).
 * Errors: ERR_TEMP (4xx greeting, timeout, close), ERR_UNAVAILABLE (5xx
 * greeting, EHLO and HELO refused), ERR_PROTOCOL (malformed reply, bytes
 * after a final reply that nobody asked for).
 */
int smtp_open(struct smtp_session *s, int fd, const struct smtp_params *p,
	struct error *err);

/*
 * One transaction: MAIL, every RCPT (one write with PIPELINING), DATA,
 * the data, end of data. 0 when the server accepted the message (final
 * 2xx). Error texts are one line: "MAIL FROM:<x>: server said: 451 ...",
 * "DATA: ...", "end of data: ...", "during data: ..." (the server spoke
 * or hung up before the end: ERR_TEMP, nothing committed), and for
 * refused recipients "2 of 3 recipients refused; nothing was sent" with
 * each recipient's reply in rcpts[i] (code >= 400) for the caller to
 * print. Reply texts in err are escaped. Errors: per DESIGN.md (4xx -> ERR_TEMP, refused recipient 5xx ->
 * ERR_RCPT, other 5xx -> ERR_UNAVAILABLE, message too large for the
 * server's SIZE -> ERR_UNAVAILABLE before MAIL, 8-bit data without 8BITMIME
 * or DSN requested without DSN -> ERR_DATA / ERR_UNAVAILABLE before MAIL,
 * source read error -> the source's class). After a failure that left the
 * session usable the transaction has been reset.
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
