/*
 * message.h - message intake: spool the whole input, normalise it, scan
 * its header, and hand it out again as wire data.
 *
 * The whole input is read before any connection is opened, so a slow or
 * dying producer never holds a session open or yields half a message. It
 * is kept in memory up to MESSAGE_MEM_MAX bytes, past that in an unlinked
 * temp file under $TMPDIR (default /tmp): peak memory does not grow with
 * the message.
 *
 * On the way in (RFC 5321 §2.3.8, §4.5.2; the SMTP smuggling sequences
 * of late 2023 in mind): a line ends at its first CR or LF. An LF ends
 * it; a CR followed by LF, or by more CRs and then an LF, ends it once
 * (so LF, CRLF and PHP's CR CR LF are one line ending each); a CR not
 * followed (after any further CRs) by an LF ends the line, and each
 * further CR of that run ends an empty line ("a\r\rb" is "a", "", "b";
 * "a\r" at the very end is "a"). Every line then goes out with CRLF, so
 * the wire data holds no bare CR or LF, every "." line in it is stuffed,
 * and nothing but the final ".\r\n" can end the data. A final CRLF is
 * added when missing. Leading mbox lines matching ">*From " are dropped.
 * Without -i, a line holding only "." (however it ended: "\n.\n",
 * "\r.\r", ".\r\r\n") ends the input and nothing after it is read. A NUL
 * byte is refused: ERR_DATA "NUL byte at offset N of the input" (N from 0,
 * counted in the input as read, dropped lines included). A line longer
 * than MESSAGE_LINE_MAX (998) octets without its line ending is refused:
 * ERR_DATA "line N is longer than 998 octets (RFC 5322 section 2.1.1)"
 * (N from 1, counting every input line as the rules above split them;
 * error texts stay ASCII for the terminal and the log). 8-bit bytes
 * are noted. The header section (up to the first empty line, or the first
 * line that is neither a header field nor a continuation) is kept in
 * memory, capped at MESSAGE_HEADER_MAX, and indexed by field. When the
 * header ends at a non-field line (has_separator = 0), that line starts
 * the body and the wire data gets the empty line RFC 5322 requires before
 * a non-empty body, as Postfix's cleanup does.
 *
 * Header repair (message_set_from, _date, _msgid, _to_undisclosed,
 * message_qualify_fields, ...) adds fields at the top of the header, after
 * any added before them and before the input's first field, and leaves
 * every other byte of the message as it was: a field that is replaced or
 * removed is left out of the wire data, the rest is sent byte for byte.
 * has_8bit and message_wire_size follow every change.
 *
 * Knows nothing of the network.
 */
#ifndef POSTIE_MESSAGE_H
#define POSTIE_MESSAGE_H

#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "address.h"
#include "log.h"

/* Spool to a file past this. The fuzz build makes it small (run.sh), so
   the spooled path meets the fuzzer's short inputs too. */
#ifndef MESSAGE_MEM_MAX
#define MESSAGE_MEM_MAX (1024 * 1024)
#endif
#define MESSAGE_HEADER_MAX (1024 * 1024) /* whole header section */
/* Octets in one line without its CRLF (RFC 5322 §2.1.1); refused past. */
#define MESSAGE_LINE_MAX 998
/* The stored header may grow past MESSAGE_HEADER_MAX as fields are added
   and rewritten (old versions stay stored), up to this. */
#define MESSAGE_HEADER_STORE_MAX (3 * MESSAGE_HEADER_MAX)
#define MESSAGE_MSGID_MAX        320 /* "<...@domain>" and its NUL */

struct message_field {
	size_t off;      /* offset of the field's first byte in headers */
	size_t len;      /* whole field incl. continuation lines and CRLF */
	size_t name_len; /* bytes before the ':' (trailing blanks excluded) */
	int removed;     /* 1: left out of the wire data (Bcc:) */
};

struct message {
	char *headers; /* header section in CRLF form, without the empty
			  separator line */
	size_t headers_len;
	struct message_field *fields;
	size_t nfields;
	int has_separator; /* the input had an empty line after the header */

	/* The body (after the separator), CRLF-normalised and stored
	   dot-stuffed (RFC 5321 §4.5.2: a line starting with "." has one
	   more), as DATA sends it. */
	char *body_mem; /* while it fits in memory, else NULL */
	size_t body_mem_len; /* stored bytes: body_len + body_dots */
	int body_fd; /* unlinked temp file once past MESSAGE_MEM_MAX, or -1;
			it holds body_len + body_dots bytes */
	off_t body_len;  /* the body unstuffed: its share of the wire size */
	off_t body_dots; /* lines starting with ".": dots added in storage */

	size_t nadded; /* fields[0..nadded) were added by the repair
			  functions */

	int has_8bit;    /* any byte >= 0x80 in the wire data: the body or a
			    header field not removed */
	int body_8bit;   /* any byte >= 0x80 in the body */
	off_t input_len; /* bytes read from the input (with any read past
			    the "." line in the same read(2)) */
};

struct message_opts {
	int dot_ends;       /* 1 without -i/-oi: a lone "." line ends input */
	const char *tmpdir; /* NULL = $TMPDIR or /tmp */
};

/*
 * Read the whole message from fd into msg (read(2) in 64 KiB pieces).
 * opts may be NULL (= -i, default temp dir). On failure msg is left
 * released; message_release may still be called. Errors: ERR_NOINPUT (66,
 * "no message on standard input") when no line is left (zero bytes, only
 * "." or only "From " lines); ERR_DATA (65) for a NUL byte, a line over
 * 998 octets or a header section past its cap (texts above); ERR_IO (74)
 * for read or temp-file write errors; ERR_CANTCREAT (73) when the temp
 * file cannot be made.
 */
int message_read(struct message *msg, int fd, const struct message_opts *opts,
	struct error *err);
/* Free everything and close the temp file; msg is then empty. */
void message_release(struct message *msg);

/* Index of the next field named name (ASCII case-insensitive) at or
   after start, or -1. Removed fields are still found. */
long message_find_field(
	const struct message *msg, const char *name, size_t start);
/*
 * The field body (after "Name:") of field i, unfolded (CRLF before
 * whitespace removed), blanks after the ':' and the final CRLF dropped, in
 * a new string the caller frees; NULL when i is out of range.
 */
char *message_field_value(const struct message *msg, size_t i);
/* Leave every field with this name (ASCII case-insensitive, continuation
   lines included) out of the wire data, and update has_8bit to what is
   still sent; returns how many matched. */
size_t message_remove_fields(struct message *msg, const char *name);

/*
 * -t: the recipients named in the header. When any Resent- field exists
 * (RFC 5322 §3.6.6), Resent-To, Resent-Cc and Resent-Bcc; otherwise To,
 * Cc and Bcc, in header order. Removed fields count too, so -t may read
 * Bcc before or after it is hidden. Appended to out. Errors: ERR_DATA
 * from the address parser, prefixed "Cc header: ".
 */
int message_header_recipients(
	const struct message *msg, struct address_list *out, struct error *err);

/*
 * Parse every field named name (ASCII case-insensitive) that is still
 * sent (removed fields are skipped) as an address list and append its
 * mailboxes to out, in header order: message_header_addresses(msg,
 * "From", &l, err) gives the From: address for "from %F" and
 * --read-envelope-from (l.v[0].mailbox; l.n == 0 when there is none).
 * Errors: ERR_DATA from the address parser, prefixed "NAME header: ".
 */
int message_header_addresses(const struct message *msg, const char *name,
	struct address_list *out, struct error *err);

/* --- header repair --------------------------------------------------------
 * Each function below changes msg in place and keeps has_8bit and the wire
 * size right; field indexes shift by one for every field added (added
 * fields go at index nadded, ahead of the input's fields). The functions
 * that repair return 1 when they changed the header, 0 when there was
 * nothing to do, -1 with err set. On -1 the message is as it was (but
 * for message_qualify_fields: fields before the one that failed stay
 * qualified; the caller gives up on the message anyway). Added
 * values are checked: a CR, LF or NUL in one (a header injection) is
 * ERR_DATA, never sent.
 */

/*
 * Add "name: value" at the top, folded before spaces so that lines stay
 * within 78 characters where the value allows (a run without spaces
 * stays whole; unfolding gives the value back exactly). value may hold
 * any bytes but CR, LF and NUL; it is not encoded. Returns 0 or -1:
 * ERR_DATA for an invalid name (printable ASCII but ':', at most 78
 * bytes), a line break in value, a value over 64 KiB or a line still over
 * 998 octets, or the stored header past MESSAGE_HEADER_STORE_MAX.
 */
int message_add_field(struct message *msg, const char *name, const char *value,
	struct error *err);

/*
 * Replace field i (index as message_find_field gives) whole with text:
 * "Name: value" as it goes on the wire, folded only with CRLF + SP/HT,
 * WITHOUT the final CRLF (added here). The field keeps its place and its
 * removed flag. Returns 0 or -1: ERR_DATA when text has no valid field
 * name, a NUL, a CR or LF that is not folding, a continuation line of
 * blanks only, or a line over 998 octets; ERR_SOFTWARE when i is out of
 * range.
 */
int message_replace_field(
	struct message *msg, size_t i, const char *text, struct error *err);

/* set_from_header: off (never touch From:), auto (add one when there is
   none), on (replace any From: with ours). */
enum message_from_mode { MESSAGE_FROM_OFF, MESSAGE_FROM_AUTO, MESSAGE_FROM_ON };

/*
 * set_from_header: with auto, add "From: " when no From: field is sent;
 * with on, add it and remove every other From: field; off does nothing.
 * address is the envelope sender, "local@domain" (qualify it first); it
 * must not hold blanks, controls or "<>(),;:[]" outside a quoted local
 * part. display (UTF-8, NULL or "" for none; from -F or from_full_name)
 * goes in as it is when it is atoms separated by single spaces ("Cron
 * Daemon"), as a quoted string when it is other ASCII ("Joe Q. Public" ->
 * "\"Joe Q. Public\"", '"' and '\' escaped), and as RFC 2047 encoded
 * words "=?UTF-8?Q?...?=" (or ?B? when that is shorter), at most 75
 * characters each and split between characters, when it has 8-bit or
 * control characters. The field is "From: display <address>" or "From:
 * address". Returns 1 (added), 0 (nothing to do), -1: ERR_DATA for an
 * unusable address, a display name with CR or LF, invalid UTF-8, or either
 * longer than 4096 bytes.
 */
int message_set_from(struct message *msg, enum message_from_mode mode,
	const char *display, const char *address, struct error *err);

/*
 * now as an RFC 5322 §3.3 date-time in the local time zone (TZ), with
 * English day and month names whatever the locale: "Tue, 2 Jan 2024
 * 15:04:05 +0100". Returns 0, or -1 with ERR_SOFTWARE when the time
 * cannot be converted or out (64 bytes are enough) is too small.
 */
int message_format_date(time_t now, char *out, size_t size, struct error *err);
/* set_date_header auto: add "Date: " + message_format_date(now) when no
   Date: field is sent. Returns 1, 0 or -1 (errors as above, or the
   header store cap, ERR_DATA). */
int message_set_date(struct message *msg, time_t now, struct error *err);

/*
 * A new unique Message-ID, RFC 5322 §3.6.4:
 * "<YYYYMMDDhhmmss.PID.RANDOM@domain>", the time now in UTC, the process
 * id, and 64 random bits from getrandom(2) (else /dev/urandom) as 16 hex
 * digits. domain (the sender's or the account's domain; give the A-label
 * form unless the message goes with SMTPUTF8) must be a dot-atom or a
 * [literal]. out needs MESSAGE_MSGID_MAX bytes. Returns 0 or -1: ERR_DATA
 * for an invalid domain, ERR_OS when no random bytes can be had,
 * ERR_SOFTWARE when out is too small.
 */
int message_make_msgid(const char *domain, time_t now, char *out, size_t size,
	struct error *err);
/* set_msgid_header auto: add "Message-ID: " + message_make_msgid(...)
   when no Message-ID: field is sent. Returns 1, 0 or -1 as above. */
int message_set_msgid(
	struct message *msg, const char *domain, time_t now, struct error *err);

/*
 * set_to_header auto: add "To: undisclosed-recipients:;" (an empty group,
 * RFC 5322 §3.4) when no To:, Cc: or Bcc: field is sent; call it after
 * Bcc removal, so a message that named its recipients only in Bcc gets
 * one. Returns 1, 0 or -1 (ERR_DATA: the header store cap).
 */
int message_set_to_undisclosed(struct message *msg, struct error *err);
/*
 * undisclosed_recipients on (msmtp's key): remove every To:, Cc: and Bcc:
 * field from the wire data and add "To: undisclosed-recipients:;". Read
 * the -t recipients before (message_header_recipients still sees removed
 * fields). Returns 1 or -1 (ERR_DATA: the header store cap).
 */
int message_undisclosed_recipients(struct message *msg, struct error *err);

/*
 * The caller's qualification of one bare mailbox ("root", the parser's
 * mailbox form, no '@' outside quotes): a new string holding one
 * addr-spec ("root@example.org"), which message_qualify_fields frees; or
 * NULL with err set (the error message_qualify_fields then returns).
 */
typedef char *message_qualify_fn(
	const char *bare, void *ctx, struct error *err);

/*
 * Qualify the bare names in the address fields that are sent (From,
 * Sender, Reply-To, To, Cc, Bcc and their Resent- forms): each field is
 * parsed with address_parse_list; one that names a bare mailbox is
 * rewritten with qualify(bare, ctx, err)'s result in place of each bare
 * addr-spec, every other byte kept (display names, comments, folding,
 * groups): "From: root (Cron Daemon)" -> "From: root@example.org (Cron
 * Daemon)", "To: Admin <root>" -> "To: Admin <root@example.org>". Only
 * if the field cannot be read that way (the parser and the scan here do
 * not agree on its mailboxes) is it written anew from the parsed list,
 * "Name: a@x, Display <b@x>, Group: c@x;", losing comments and empty
 * groups. Fields without bare names, and fields the parser refuses, stay
 * byte for byte. Returns the number of fields rewritten, or -1: qualify's
 * error, or ERR_DATA for a replacement that cannot go into a header or a
 * line that grows past 998 octets, prefixed "NAME header: ".
 */
int message_qualify_fields(struct message *msg, message_qualify_fn *qualify,
	void *ctx, struct error *err);

/* Size of the wire data (header fields not removed, separator, body),
   before dot-stuffing: exactly what an unstuffed reader produces. The
   separator counts when the input had one or the body is not empty. */
off_t message_wire_size(const struct message *msg);

/*
 * Reading the wire data back out, in chunks, with or without dot-stuffing
 * (RFC 5321 §4.5.2: a line starting with "." gets another "."; needed for
 * DATA, not for BDAT). The data always ends with CRLF; the terminating
 * ".\r\n" is not part of it.
 */
struct message_reader {
	const struct message *msg;
	int dotstuff;
	int phase;    /* header, separator, body, done */
	size_t field; /* next header field */
	size_t off;   /* offset within the current piece */
	off_t body_off;
	int at_line_start;
};

/* Start reading msg's wire data from its first byte; r holds no resources
   and msg must outlive it. dotstuff: 1 for DATA, 0 for BDAT. */
void message_reader_init(
	struct message_reader *r, const struct message *msg, int dotstuff);
/*
 * Fill up to cap bytes; returns the count, 0 at the end, -1 on a temp
 * file read error (ERR_IO) or cap < 2 (ERR_SOFTWARE). A spooled body is
 * read with pread(2) a buffer at a time, never whole. To start over (a
 * second transaction), call message_reader_init again.
 */
ssize_t message_reader_read(
	struct message_reader *r, char *buf, size_t cap, struct error *err);

/*
 * When the rest of the wire data is a range of the spool file as it is
 * (a spooled body, read for DATA, or for BDAT when no line was stuffed):
 * set *fd, *off and *len (> 0) to it, move r past it (the caller sends
 * those bytes itself, e.g. with sendfile(2)) and return 1. Otherwise 0,
 * and r is unchanged. message_reader_read returns short where a span
 * starts, so that a caller can ask after each read; one that never asks
 * just reads on. The range ends with CRLF; fd stays the message's.
 */
int message_reader_span(
	struct message_reader *r, int *fd, off_t *off, off_t *len);

#endif
