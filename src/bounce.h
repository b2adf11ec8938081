/*
 * bounce.h - the delivery status notification postie sends to the
 * envelope sender when it gives up a queued message (a permanent failure
 * in a queue flush, or the entry stayed past queue_lifetime).
 *
 * The report is an RFC 6522 multipart/report; report-type=delivery-status
 * with three parts: a short text for people, the RFC 3464
 * message/delivery-status (one block per message, one per recipient), and
 * the failed message's header section as text/rfc822-headers, byte for
 * byte. This module only composes the bytes; the caller queues and sends
 * them with the null envelope sender <> (RFC 5321 §4.5.5, so that a
 * bounce can never bounce) to b->to, and never bounces a message whose
 * sender was already null.
 *
 * Knows nothing of the queue or the network.
 */
#ifndef POSTIE_BOUNCE_H
#define POSTIE_BOUNCE_H

#include <stddef.h>
#include <time.h>

#include "buf.h"
#include "log.h"

/* One recipient the message was not delivered to. */
struct bounce_rcpt {
	/* The recipient as given to the server: "Final-Recipient: rfc822;
	   ADDR". An address with UTF-8 goes as "utf-8; ..." in the 7-bit
	   xtext form of RFC 6533 §3 ("\x{E9}" for U+00E9), since
	   message/delivery-status stays US-ASCII. Required; valid UTF-8,
	   no control characters. */
	const char *addr;
	/* RFC 3463 enhanced status, "5.1.1" (class 4 or 5: the action is
	   always "failed"). NULL = derive it: the enhanced code that follows
	   the reply code in diagnostic ("550 5.1.1 ...") when there is one
	   of class 4 or 5, else 4.4.7 when the entry expired, else 5.0.0. */
	const char *status;
	/* The server's reply on one line, "550 5.1.1 no such user", or NULL
	   when there was none. It goes in as "Diagnostic-Code: smtp; ..."
	   when it starts with a reply code, else as "X-Postie; ..." (a
	   connect failure of an expired entry is not an SMTP reply). Bytes
	   outside printable ASCII are escaped as log_escape does; a long
	   reply is folded (RFC 5322 §2.2.3) to keep lines within 998
	   octets, a run without blanks broken with CRLF SP. */
	const char *diagnostic;
};

struct bounce {
	/* Our address for "From: Mail Delivery System <from>". Required. */
	const char *from;
	/* The failed message's envelope sender, "To: <to>". Required, not
	   empty (the null sender gets no bounce); UTF-8 allowed. */
	const char *to;
	/* This host's name, "Reporting-MTA: dns; NAME". Required: printable
	   ASCII without blanks (give the A-label form). */
	const char *reporting_mta;
	/* The server that refused it, "Remote-MTA: dns; NAME" in every
	   recipient block; NULL when unknown. Same syntax as reporting_mta. */
	const char *remote_mta;
	/* The queue entry, "X-Postie-Queue-ID: ID" in the per-message block
	   and named in the text; NULL for none. Printable ASCII, no blanks. */
	const char *queue_id;
	time_t arrival;      /* when it was queued: "Arrival-Date: " */
	time_t last_attempt; /* "Last-Attempt-Date: " per recipient; 0 = omit */
	time_t now;          /* the report's Date: and its Message-ID */
	/* 1: given up because it stayed too long (queue_lifetime): the text
	   says how long it waited, and status defaults to 4.4.7 (RFC 3463
	   "delivery time expired"). 0: a permanent failure. */
	int expired;
	/* One line for people: why it was given up ("the server refused
	   the recipients"); NULL for none. No CR or LF; other bytes outside
	   printable ASCII are escaped. */
	const char *reason;
	/* The recipients it failed for; at least one. */
	const struct bounce_rcpt *rcpts;
	size_t nrcpts;
	/* The failed message's header section: CRLF lines (the final CRLF
	   is added if missing), no bare CR or LF, no NUL, no line over 998
	   octets; NULL or header_len 0 = none (the third part is then left
	   out, which RFC 6522 §3 allows). Copied as it is, 8-bit bytes
	   included (see bounce_scan_8bit). */
	const char *header;
	size_t header_len;
	/* The domain of the report's Message-ID (message_make_msgid). */
	const char *msgid_domain;
};

/*
 * Compose the whole report message into out (appended): header fields
 * From, To, Subject "Undelivered Mail Returned to Sender", Date,
 * Message-ID, Auto-Submitted: auto-replied (RFC 3834 §5), MIME-Version
 * and Content-Type multipart/report, then the parts. Every line ends with
 * CRLF and has at most 998 octets; the data ends with CRLF after the
 * closing boundary. The boundary holds the Message-ID's 64 random bits
 * and is checked against every part's text. Returns 0, or -1 with out as
 * it was and err set: ERR_DATA for bad input (a CR or LF in a value, a
 * missing field, an invalid status, address or header section; the text
 * names the field), ERR_OS when no random bytes can be had, ERR_SOFTWARE
 * when out's cap is hit.
 */
int bounce_compose(const struct bounce *b, struct buf *out, struct error *err);

/*
 * For the queue entry and smtp_source of a composed report: has_8bit is
 * 1 when any byte of msg is >= 0x80 (the report must go with
 * BODY=8BITMIME), header_8bit when one is in its header section (a UTF-8
 * From or To: it needs SMTPUTF8, RFC 6532 §3). A report is 8-bit when an
 * address in it is UTF-8 or the quoted header section has 8-bit bytes.
 */
void bounce_scan_8bit(
	const char *msg, size_t len, int *has_8bit, int *header_8bit);

#endif
