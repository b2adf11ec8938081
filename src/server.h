/*
 * server.h - the server side of SMTP, spoken to our own caller on a pair
 * of descriptors (-bs: standard input and output), as Alpine, Symfony
 * Mailer and Laravel use sendmail.
 *
 * server_run answers one session: greeting, EHLO/HELO, any number of
 * MAIL/RCPT/DATA transactions, RSET, NOOP, VRFY, QUIT. Each message is
 * handed to the caller's deliver callback after its final "." and BEFORE
 * the final reply, and the reply the callback fills in is what the client
 * gets: the upstream server's 250, 4xx or 5xx.
 *
 * Wire behaviour (RFC 5321, RFC 1870 SIZE, RFC 6152 8BITMIME, RFC 2920
 * PIPELINING, RFC 2034 ENHANCEDSTATUSCODES, RFC 3461 DSN when p->dsn):
 *   - EHLO offers PIPELINING, 8BITMIME, ENHANCEDSTATUSCODES, SIZE [N]
 *     and DSN when enabled; never SMTPUTF8, STARTTLS, AUTH or CHUNKING
 *     (those get 502).
 *   - A command line may be SERVER_CMD_MAX octets with its CRLF; a bare LF
 *     also ends one. Longer: 500 5.5.2, the rest of the line discarded.
 *   - In DATA a line ends at LF (a CR before it is dropped), is
 *     dot-unstuffed (RFC 5321 §4.5.2) and goes to the spool with CRLF.
 *     Only "\r\n.\r\n" ends the data (§4.1.1.4): a "." line that ends
 *     with a bare LF, or follows a line that did, is content (the SMTP
 *     smuggling sequences of 2023 cannot end a message early here). A
 *     lone "." line that does not end the data is kept as "." (stuffing
 *     never makes one). A line over SERVER_LINE_MAX octets after unstuffing
 * (RFC 5322 §2.1.1) or a message past size_max makes the rest be read and
 * discarded, then 500 5.5.2 or 552 5.3.4; the callback is not called.
 *   - Addresses must be in angle brackets; a source route is dropped
 *     (§4.1.1.3); each is checked with address_check_envelope; non-ASCII
 *     addresses get 553 5.6.7 (no SMTPUTF8). Unqualified names ("root",
 *     "<postmaster>") are accepted and passed on as they are.
 *   - Replies are queued and written when the server would wait for
 *     input (or before the callback runs), so a pipelined group is
 *     answered in one write.
 *
 * Knows nothing of argv, the config or the upstream session.
 */
#ifndef POSTIE_SERVER_H
#define POSTIE_SERVER_H

#include <stddef.h>
#include <sys/types.h>

#include "log.h"

#define SERVER_CMD_MAX   1000 /* command line with CRLF (§4.5.3.1.4: 512) */
#define SERVER_LINE_MAX  998  /* data line without CRLF, after unstuffing */
#define SERVER_RCPT_MAX  1000 /* default recipients per message */
#define SERVER_TIMEOUT   300  /* default seconds to wait for one line */
#define SERVER_PARAM_MAX 500  /* ENVID and ORCPT, decoded (RFC 3461) */

enum server_body {
	SERVER_BODY_NONE = 0, /* no BODY= given */
	SERVER_BODY_7BIT,
	SERVER_BODY_8BITMIME,
};

struct server_rcpt {
	const char *addr;   /* as the client wrote it, without brackets */
	const char *notify; /* NOTIFY= value, upper case, or NULL */
	const char *orcpt;  /* ORCPT= decoded from xtext ("rfc822;a@b"), or
			       NULL */
};

/* One accepted transaction; every pointer stays valid only during the
   deliver call. */
struct server_mail {
	const char *sender; /* "" for the null sender <> */
	enum server_body body;
	const char *ret;    /* RET= "FULL" or "HDRS", or NULL */
	const char *envid;  /* ENVID= decoded from xtext, or NULL */
	const char *notify; /* the NOTIFY= every recipient has (they all
			       have the same one: see server_run), or NULL */
	const struct server_rcpt *rcpts;
	size_t nrcpts; /* >= 1 */
	/* The message: an unlinked temp file positioned at 0, holding the
	   data unstuffed, every line ended by CRLF, without the final "."
	   line. Read it with message_read and dot_ends = 0 (a "." line in
	   it is content). Owned by the server: do not close it. */
	int data_fd;
	off_t data_len;
	int data_8bit; /* a byte >= 0x80 in the data */
};

/* The reply for the end of data, as the client will get it. */
struct server_reply {
	int code;          /* 200..599; anything else is sent as 451 */
	char enhanced[16]; /* "2.0.0"; "" or invalid: CLASS.0.0 is sent */
	char text[512];    /* one line; control bytes are escaped and it is
			      cut to fit a reply line */
};

struct server_params {
	const char *hostname;        /* in the greeting and EHLO reply */
	unsigned timeout;            /* seconds per line; 0 = SERVER_TIMEOUT */
	unsigned long long size_max; /* message bytes (unstuffed, CRLF);
					0 = no limit */
	size_t rcpt_max;             /* 0 = SERVER_RCPT_MAX */
	int dsn;                     /* 1: offer DSN, accept its parameters */
	const char *tmpdir;          /* spool directory; NULL = $TMPDIR or
					/tmp */
	/*
	 * Called once per message after its final "."; fills out. Returns 0,
	 * or -1 with err set to end the session once out has been sent (a
	 * failure that would refuse every later message too). A reply left
	 * with code 0 is sent as "451 4.3.0 local error".
	 */
	int (*deliver)(void *ctx, const struct server_mail *mail,
		struct server_reply *out, struct error *err);
	void *ctx;
};

/*
 * Answer one SMTP session: read commands from in_fd, write replies to
 * out_fd (neither is closed nor made non-blocking). Returns 0 after QUIT
 * or when the client hangs up (mid-DATA too: that message is dropped and
 * not delivered). SIGPIPE is ignored while it runs (restored before it
 * returns), so a client that goes away is an error, not a signal.
 * Errors: ERR_TEMP after a timeout (421 4.4.2 sent first), ERR_IO when a
 * read or write fails, ERR_OS when poll fails, and whatever the
 * callback set when it returned -1. Per-message trouble is a reply, not
 * an error: no spool file (DATA gets 451 4.3.0), a spool write failure
 * (452 4.3.1). A 421 from the callback ends the session (RFC 5321 §3.8)
 * and server_run returns 0.
 */
int server_run(int in_fd, int out_fd, const struct server_params *p,
	struct error *err);

#endif
