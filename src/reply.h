/*
 * reply.h - pure parsers for SMTP replies (RFC 5321 §4.2) and EHLO
 * capabilities. No I/O: lines go in, a struct comes out.
 */
#ifndef POSTIE_REPLY_H
#define POSTIE_REPLY_H

#include <stddef.h>

#include "buf.h"
#include "log.h"

#define REPLY_LINES_MAX 128         /* lines in one multi-line reply */
#define REPLY_TEXT_MAX  (64 * 1024) /* all lines' text together */

struct reply {
	int code;          /* 3-digit code, 0 while empty */
	char enhanced[16]; /* RFC 3463 code from the first line, "" if none */
	struct buf text;   /* each line's text (code, separator and any
			      enhanced code removed), joined by '\n' */
	size_t nlines;
	int complete; /* the last line ("NNN " or "NNN") was seen */
};

void reply_init(struct reply *r);
void reply_reset(struct reply *r);
void reply_release(struct reply *r);

/*
 * Add one line (without CRLF); a line arriving after a complete reply
 * starts a new one. Returns 1 when the reply is complete, 0
 * when more lines follow, -1 with ERR_PROTOCOL for a malformed line (not
 * three digits 2..5 + ' ' / '-' / end), a code that differs from the first
 * line's, more than REPLY_LINES_MAX lines or REPLY_TEXT_MAX text.
 * The empty "250 " last line smtp-sink sends is valid.
 */
int reply_add_line(
	struct reply *r, const char *line, size_t len, struct error *err);

/*
 * The whole reply on one line, as it would be quoted to a user:
 * "550 5.1.1 first line / second line" (code, enhanced code, the lines'
 * text joined by " / "). reply_join appends it raw to out (the server's
 * bytes, to be escaped before display); reply_format writes it escaped
 * with log_escape into dst (truncated with "..." when dst is too small)
 * and returns dst.
 */
void reply_join(const struct reply *r, struct buf *out);
char *reply_format(const struct reply *r, char *dst, size_t size);

/* Fill err from a reply: class given by the caller, text
   "context: server said: CODE text" with the text escaped, smtp_code and
   enhanced copied. */
void reply_to_error(const struct reply *r, enum err_class cls,
	const char *context, struct error *err);

enum caps_flag {
	CAPS_PIPELINING = 1u << 0,
	CAPS_SIZE = 1u << 1,
	CAPS_8BITMIME = 1u << 2,
	CAPS_DSN = 1u << 3,
	CAPS_SMTPUTF8 = 1u << 4,
	CAPS_STARTTLS = 1u << 5,
	CAPS_CHUNKING = 1u << 6,
	CAPS_AUTH = 1u << 7,
	CAPS_ENHANCEDSTATUSCODES = 1u << 8,
	CAPS_BINARYMIME = 1u << 9,
};

struct caps {
	unsigned flags;              /* enum caps_flag */
	unsigned long long size_max; /* SIZE parameter, 0 = no limit given */
	char auth[512];              /* AUTH mechanisms, space-separated, upper
					case ("" if none) */
};

/* Capabilities from a complete 250 EHLO reply (first line = greeting
   name, skipped). caps is cleared first. Keywords are case-insensitive;
   unknown ones are ignored. AUTH mechanisms from "AUTH a b" and the old
   "AUTH=a b" form are merged without duplicates; names that are not
   valid SASL names (RFC 4422 §3.1) are dropped. */
void reply_parse_caps(const struct reply *r, struct caps *caps);

#endif
