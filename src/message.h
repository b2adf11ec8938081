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
 * On the way in (Postfix sendmail's rules, sendmail_fix_line_endings =
 * always): a line ends at LF; every CR directly before the LF is dropped
 * and the line gets one CRLF, so LF, CRLF, PHP's CR CR LF and mixtures all
 * become CRLF. A CR anywhere else is data and kept. A final CRLF is added
 * when missing. Leading mbox lines matching ">*From " are dropped. Without
 * -i, a line holding only "." (also ".\r") ends the input and nothing
 * after it is read. A line may hold MESSAGE_LINE_MAX bytes before its line
 * ending; longer is ERR_DATA naming the line. 8-bit and NUL bytes are
 * noted. The header section (up to the first empty line, or the first
 * line that is neither a header field nor a continuation) is kept in
 * memory, capped at MESSAGE_HEADER_MAX, and indexed by field. When the
 * header ends at a non-field line (has_separator = 0), that line starts
 * the body and the wire data gets the empty line RFC 5322 requires before
 * a non-empty body, as Postfix's cleanup does.
 * Knows nothing of the network.
 */
#ifndef POSTIE_MESSAGE_H
#define POSTIE_MESSAGE_H

#include <stddef.h>
#include <sys/types.h>

#include "address.h"
#include "log.h"

#define MESSAGE_MEM_MAX    (1024 * 1024) /* spool to a file past this */
#define MESSAGE_HEADER_MAX (1024 * 1024) /* whole header section */
#define MESSAGE_LINE_MAX   (1024 * 1024) /* one input line, refused past */

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

	/* The body (after the separator), CRLF-normalised. */
	char *body_mem; /* while it fits in memory, else NULL */
	size_t body_mem_len;
	int body_fd; /* unlinked temp file once past MESSAGE_MEM_MAX, or -1 */
	off_t body_len;

	int has_8bit;    /* any byte >= 0x80 in the wire data: the body or a
			    header field not removed */
	int body_8bit;   /* any byte >= 0x80 in the body */
	int has_nul;     /* any NUL byte */
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
 * "." or only "From " lines); ERR_DATA (65) for a header section or line
 * past its cap; ERR_IO (74) for read or temp-file write errors;
 * ERR_CANTCREAT (73) when the temp file cannot be made.
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

#endif
