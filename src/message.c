/*
 * message.c - message intake: spool, normalise, index the header, and
 * stream the wire data back out.
 *
 * Input rules (Postfix sendmail's, with sendmail_fix_line_endings=always,
 * and RFC 5321 §2.3.8: CR and LF only ever as CRLF):
 *
 * - A line ends at its first CR or LF. LF alone, CRLF and any run of CRs
 *   before an LF (PHP's "CR CR LF") are one line ending. A CR that no LF
 *   follows ends the line too, and each further CR of its run ends an
 *   empty line: a bare CR means a line break to some servers and data to
 *   others, and that disagreement is what SMTP smuggling ("\r.\r",
 *   "\n.\r\n", ...) lives on. Every line leaves with CRLF, so the wire data
 *   holds no bare CR or LF and the reader's dot-stuffing sees every line.
 *   The last line gets a CRLF when the input lacks one.
 * - NUL is refused with its offset in the input (RFC 5321 §4.1.1.4 has no
 *   place for it and servers cut lines at it differently).
 * - Leading lines matching ">*From " (an mbox envelope line some callers
 *   pass on) are dropped, as Postfix does; they are never header fields.
 * - Without -i, a line holding only "." (however it ended) ends the
 *   input; nothing after it is read.
 * - A line may hold MESSAGE_LINE_MAX (998) octets before its line ending
 *   (RFC 5322 §2.1.1). Longer is refused (ERR_DATA, with its line number),
 *   never cut or folded: the caller's bytes are not ours to rewrite.
 * - The header section runs to the first empty line (has_separator = 1) or
 *   to the first line that is neither a field ("name:", name of printable
 *   non-':' ASCII, blanks allowed before ':' as RFC 5322 §4.5.3 obs-
 *   syntax) nor a continuation (leading SP/HT after a field). That line
 *   starts the body, and the wire data gets the empty line RFC 5322 §2.1
 *   requires between them (Postfix's cleanup inserts one too), so
 *   has_separator = 0 yet the separator is sent whenever the body is not
 *   empty.
 *
 * Header repair adds fields at the top (after earlier additions, before
 * the input's first field) by appending their text to the stored header
 * and inserting an index entry; a replaced field's entry points at its new
 * text, a removed one is flagged. The wire data is the index in order, so
 * everything not repaired goes out byte for byte.
 *
 * The body stays in memory up to MESSAGE_MEM_MAX, then moves to an
 * unlinked temp file written in SPOOL_STAGE-sized pieces; the memory copy
 * is freed at the switch. Either way it is stored dot-stuffed, as DATA
 * sends it: DATA reads it as it is (or sendfile(2)s it from the temp
 * file), BDAT drops the stuffed dots on the way out. Peak memory is bounded by the read buffer (grows
 * only for long lines), the header cap and the memory threshold.
 */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "fdio.h"
#include "message.h"
#include "xmalloc.h"

#define INTAKE_CHUNK (64 * 1024)  /* one read(2) */
#ifndef SPOOL_STAGE
#define SPOOL_STAGE (256 * 1024) /* one write(2) to the temp file */
#endif
/* A whole line, stuffed, with its CRLF fits in an empty stage. */
_Static_assert(SPOOL_STAGE >= MESSAGE_LINE_MAX + 3, "SPOOL_STAGE too small");
/* A pending line may hold MESSAGE_LINE_MAX bytes (its CRs are counted,
   not kept); one read more goes after it. */
#define INTAKE_BUF_MAX (MESSAGE_LINE_MAX + INTAKE_CHUNK)
/* The largest off_t: no NUL seen yet. */
#define OFF_MAX ((off_t)(((uintmax_t)1 << (sizeof(off_t) * CHAR_BIT - 1)) - 1))

enum intake_phase { PHASE_FROM_, PHASE_HEADER, PHASE_BODY };

enum reader_phase { READ_HEADER, READ_SEPARATOR, READ_BODY, READ_DONE };

struct intake {
	struct message *msg;
	int dot_ends;
	const char *tmpdir;
	struct error *err;
	enum intake_phase phase;
	unsigned long lineno;
	int done;               /* the "." line was seen */
	int kept;               /* any line made it into the message */
	int after_cr;           /* the last line ended at a CR */
	unsigned long cr_extra; /* CRs counted since that CR */
	struct buf headers;     /* capped at MESSAGE_HEADER_MAX */
	size_t fields_cap;
	struct buf body; /* while the body is in memory */
	char *stage;     /* once it is in the temp file */
	size_t stage_len;
	/* Found once per read(2), not once per line: the input offset of
	   the first NUL (OFF_MAX: none yet), and how far from the start the
	   input is all ASCII. */
	off_t nul_at;
	off_t ascii_end;
};

/* The read buffer: bytes [start, b.len) are read but not yet a whole
   line; no CR or LF lies in [start, scan). b.data[0] is input byte
   number base. When cr_known, cr is the index of the first CR at or
   after scan (b.len: none in the buffer), so each line costs one
   memchr for its LF, not two. */
struct inbuf {
	struct buf b;
	size_t start, scan;
	off_t base;
	size_t cr;
	int cr_known;
};

/*
 * Any byte >= 0x80: OR of all bytes, eight at a time (memcpy makes the
 * unaligned load portable; gcc's -O2 does not vectorise the byte loop),
 * which took a third of the CPU of a large ASCII message.
 */
static int
bytes_have_8bit(const char *p, size_t len)
{
	uint64_t acc = 0, w[4];
	unsigned char tail = 0;
	size_t i = 0;

	/* four words a step: one OR chain would wait on itself */
	for (; i + sizeof(w) <= len; i += sizeof(w)) {
		memcpy(w, p + i, sizeof(w));
		acc |= (w[0] | w[1]) | (w[2] | w[3]);
	}
	for (; i + sizeof(w[0]) <= len; i += sizeof(w[0])) {
		memcpy(w, p + i, sizeof(w[0]));
		acc |= w[0];
	}
	for (; i < len; i++)
		tail |= (unsigned char)p[i];
	return (acc & 0x8080808080808080ULL) != 0 || (tail & 0x80) != 0;
}

/* ">*From " at the start of the input: an mbox envelope line. */
static int
is_from_line(const char *p, size_t len)
{
	size_t i = 0;

	while (i < len && p[i] == '>')
		i++;
	return i + 5 <= len && memcmp(p + i, "From ", 5) == 0;
}

/*
 * RFC 5322 §3.6.8 field-name (printable ASCII but ':'), then blanks (obs-
 * optional, §4.5.3), then ':'. Returns the name length, 0 if the line is
 * not a header field.
 */
static size_t
field_name_len(const char *p, size_t len)
{
	size_t n = 0, i;

	while (n < len && p[n] >= 33 && p[n] <= 126 && p[n] != ':')
		n++;
	if (n == 0)
		return 0;
	for (i = n; i < len && (p[i] == ' ' || p[i] == '\t'); i++)
		continue;
	return i < len && p[i] == ':' ? n : 0;
}

static int
write_all(int fd, const char *p, size_t len, struct error *err)
{
	if (fdio_write_all(fd, p, len) == 0)
		return 0;
	error_set(err, ERR_IO, "writing the spool file: %s", strerror(errno));
	return -1;
}

/* --- the temp file ------------------------------------------------------ */

static int
spool_create(const char *tmpdir, struct error *err)
{
	char path[PATH_MAX];
	const char *dir = tmpdir;
	int fd, n;

	if (dir == NULL || *dir == '\0')
		dir = getenv("TMPDIR");
	if (dir == NULL || *dir == '\0')
		dir = "/tmp";
	n = snprintf(path, sizeof(path), "%s/postie.XXXXXX", dir);
	if (n < 0 || (size_t)n >= sizeof(path)) {
		error_set(err, ERR_CANTCREAT, "temp directory name too long");
		return -1;
	}
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0) {
		error_set(err, ERR_CANTCREAT,
			"cannot create a temp file in %s: %s", dir,
			strerror(errno));
		return -1;
	}
	/* Unlinked at once: nobody else can open the message, and nothing
	   is left behind however postie ends. */
	if (unlink(path) < 0) {
		error_set(err, ERR_CANTCREAT, "cannot unlink %s: %s", path,
			strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* Move the in-memory body to a new temp file and free the memory copy. */
static int
spool_switch(struct intake *in)
{
	int fd = spool_create(in->tmpdir, in->err);

	if (fd < 0)
		return -1;
	in->msg->body_fd = fd;
	if (write_all(fd, in->body.data, in->body.len, in->err) < 0)
		return -1;
	buf_release(&in->body);
	in->stage = xmalloc(SPOOL_STAGE);
	in->stage_len = 0;
	return 0;
}

static int
spool_flush(struct intake *in)
{
	if (in->stage_len == 0)
		return 0;
	if (write_all(in->msg->body_fd, in->stage, in->stage_len, in->err) < 0)
		return -1;
	in->stage_len = 0;
	return 0;
}

static int
spool_put(struct intake *in, const char *p, size_t len)
{
	if (in->stage_len + len > SPOOL_STAGE && spool_flush(in) < 0)
		return -1;
	if (len >= SPOOL_STAGE)
		return write_all(in->msg->body_fd, p, len, in->err);
	memcpy(in->stage + in->stage_len, p, len);
	in->stage_len += len;
	return 0;
}

static int
body_put(struct intake *in, const char *p, size_t len)
{
	if (in->msg->body_fd < 0) {
		if (buf_append(&in->body, p, len) == 0)
			return 0;
		if (spool_switch(in) < 0)
			return -1;
	}
	return spool_put(in, p, len);
}

/* --- one line at a time ------------------------------------------------- */

/*
 * The body is stored as DATA sends it: CRLF line ends and each line that
 * starts with "." stuffed (RFC 5321 §4.5.2), so the wire data for DATA
 * is the stored bytes as they are and can leave the spool by sendfile(2).
 * body_len counts the unstuffed bytes (the wire size, BDAT's count);
 * body_dots the dots added.
 */
/* A body line's 8-bit bytes; only past what the read's scan found ASCII. */
static void
body_scan_8bit(struct intake *in, const char *p, size_t len, off_t off)
{
	struct message *msg = in->msg;

	if (!msg->body_8bit && off + (off_t)len > in->ascii_end &&
		bytes_have_8bit(p, len))
		msg->body_8bit = msg->has_8bit = 1;
}

/* Spooled: the line, stuffed, and its CRLF into the stage in one step
   (the caller made room: len + 3 bytes). */
static void
body_stage_line(struct intake *in, const char *p, size_t len, size_t dot)
{
	char *d = in->stage + in->stage_len;

	d[0] = '.';
	memcpy(d + dot, p, len);
	d[dot + len] = '\r';
	d[dot + len + 1] = '\n';
	in->stage_len += dot + len + 2;
	in->msg->body_len += (off_t)len + 2;
}

static int
body_line(struct intake *in, const char *p, size_t len, off_t off)
{
	struct message *msg = in->msg;
	size_t dot = len > 0 && p[0] == '.';

	in->phase = PHASE_BODY;
	body_scan_8bit(in, p, len, off);
	msg->body_dots += (off_t)dot;
	if (msg->body_fd >= 0 && in->stage_len + len + 3 <= SPOOL_STAGE) {
		body_stage_line(in, p, len, dot);
		return 0;
	}
	msg->body_len += (off_t)len + 2;
	if ((dot && body_put(in, ".", 1) < 0) || body_put(in, p, len) < 0)
		return -1;
	return body_put(in, "\r\n", 2);
}

/*
 * RFC 6532 §3.2: 8-bit bytes in a header field are UTF-8 and nothing
 * else; SMTPUTF8 would otherwise vouch for bytes in an unknown charset
 * that the server and the reader then decode each their own way.
 */
static int
header_check_utf8(struct intake *in, const char *p, size_t len)
{
	size_t bad = address_utf8_check(p, len);

	if (bad == len)
		return 0;
	error_set(in->err, ERR_DATA,
		"header line %lu is not UTF-8 (byte 0x%02x at offset %zu); "
		"other charsets need RFC 2047 encoded words",
		in->lineno, (unsigned char)p[bad], bad);
	return -1;
}

static int
header_append(struct intake *in, const char *p, size_t len)
{
	if (bytes_have_8bit(p, len)) {
		if (header_check_utf8(in, p, len) < 0)
			return -1;
		in->msg->has_8bit = 1;
	}
	/* A half-appended line is harmless: the error ends the intake. */
	if (buf_append(&in->headers, p, len) < 0 ||
		buf_append(&in->headers, "\r\n", 2) < 0) {
		error_set(in->err, ERR_DATA,
			"header section is longer than %d bytes (line %lu)",
			MESSAGE_HEADER_MAX, in->lineno);
		return -1;
	}
	return 0;
}

static int
header_line(struct intake *in, const char *p, size_t len, off_t off)
{
	struct message *msg = in->msg;
	struct message_field *f;
	size_t name_len;

	if (len == 0) {
		msg->has_separator = 1;
		in->phase = PHASE_BODY;
		return 0;
	}
	if ((p[0] == ' ' || p[0] == '\t') && msg->nfields > 0) {
		if (header_append(in, p, len) < 0)
			return -1;
		msg->fields[msg->nfields - 1].len += len + 2;
		return 0;
	}
	name_len = field_name_len(p, len);
	if (name_len == 0)
		return body_line(in, p, len, off);
	if (msg->nfields == in->fields_cap) {
		in->fields_cap = in->fields_cap ? in->fields_cap * 2 : 16;
		msg->fields = xreallocarray(
			msg->fields, in->fields_cap, sizeof(*msg->fields));
	}
	f = &msg->fields[msg->nfields];
	f->off = in->headers.len;
	f->len = len + 2;
	f->name_len = name_len;
	f->removed = 0;
	if (header_append(in, p, len) < 0)
		return -1;
	msg->nfields++;
	return 0;
}

static int
line_too_long(struct intake *in, unsigned long lineno)
{
	error_set(in->err, ERR_DATA,
		"line %lu is longer than %d octets (RFC 5322 section 2.1.1)",
		lineno, MESSAGE_LINE_MAX);
	return -1;
}

/* One input line without its line ending; off is where it starts in the
   input, for the NUL error. */
static int
intake_line(struct intake *in, const char *p, size_t len, off_t off)
{
	in->lineno++;
	/* RFC 5321 §4.1.1.4 has no place for NUL, and servers split or cut
	   lines at it differently: refused, never passed on. nul_at is the
	   first NUL read, and lines come in order: the first line reaching
	   past it holds it. */
	if (off + (off_t)len > in->nul_at) {
		error_set(in->err, ERR_DATA,
			"NUL byte at offset %lld of the input",
			(long long)in->nul_at);
		return -1;
	}
	if (len > MESSAGE_LINE_MAX)
		return line_too_long(in, in->lineno);
	if (in->phase == PHASE_FROM_) {
		if (is_from_line(p, len))
			return 0;
		in->phase = PHASE_HEADER;
	}
	if (in->dot_ends && len == 1 && p[0] == '.') {
		in->done = 1;
		return 0;
	}
	in->kept = 1;
	if (in->phase == PHASE_HEADER)
		return header_line(in, p, len, off);
	return body_line(in, p, len, off);
}

/* Each CR of a run that no LF ends is a line ending of its own. */
static int
intake_cr_lines(struct intake *in)
{
	for (; in->cr_extra > 0 && !in->done; in->cr_extra--)
		if (intake_line(in, "", 0, 0) < 0)
			return -1;
	in->cr_extra = 0;
	return 0;
}

/*
 * After a CR that ended a line: count the CRs that follow. An LF after
 * them makes the whole run and the LF one line ending (PHP's CR CR LF);
 * any other byte makes every further CR an empty line. The CRs are
 * consumed as they are counted, so a long run costs no buffer.
 */
static int
intake_cr_run(struct intake *in, struct inbuf *ib)
{
	const char *d = ib->b.data;

	while (ib->scan < ib->b.len && d[ib->scan] == '\r') {
		in->cr_extra++;
		ib->scan++;
	}
	ib->start = ib->scan;
	if (ib->scan == ib->b.len)
		return 0; /* the run may go on in the next read */
	if (d[ib->scan] == '\n') {
		in->cr_extra = 0;
		ib->start = ++ib->scan;
	}
	in->after_cr = 0;
	return intake_cr_lines(in);
}

/* Hand every complete line in the read buffer to intake_line: a line
   ends at its first CR or LF. */
/*
 * The spooled body's whole lines before the next CR, in one loop: the
 * common case of a large message (LF line ends), a line costing one
 * memchr and one copy into the stage, as body_line would stage it. A line
 * past the first NUL or too long is left where it is, for intake_line to
 * refuse.
 */
static int
intake_body_run(struct intake *in, struct inbuf *ib)
{
	const char *data = ib->b.data, *p = data + ib->start;
	const char *stop = data + ib->cr, *lf;
	size_t len, dot;
	off_t off;

	while ((lf = memchr(p, '\n', (size_t)(stop - p))) != NULL) {
		len = (size_t)(lf - p);
		off = ib->base + (off_t)(p - data);
		if (off + (off_t)len > in->nul_at || len > MESSAGE_LINE_MAX)
			break;
		if (in->stage_len + len + 3 > SPOOL_STAGE &&
			spool_flush(in) < 0)
			return -1;
		in->lineno++;
		body_scan_8bit(in, p, len, off);
		dot = len > 0 && p[0] == '.';
		in->msg->body_dots += (off_t)dot;
		body_stage_line(in, p, len, dot);
		p = lf + 1;
	}
	ib->start = ib->scan = (size_t)(p - data);
	return 0;
}

static int
intake_lines(struct intake *in, struct inbuf *ib)
{
	const char *data = ib->b.data, *p, *lf, *cr, *end;
	size_t n;

	while (!in->done && ib->scan < ib->b.len) {
		if (in->after_cr) {
			if (intake_cr_run(in, ib) < 0)
				return -1;
			continue;
		}
		p = data + ib->scan;
		if (!ib->cr_known || ib->cr < ib->scan) {
			cr = memchr(p, '\r', ib->b.len - ib->scan);
			ib->cr = cr != NULL ? (size_t)(cr - data) : ib->b.len;
			ib->cr_known = 1;
		}
		/* A spooled body (no "." end) at a line start: the fast way
		   first, up to the next CR or line it cannot take. */
		if (in->phase == PHASE_BODY && in->msg->body_fd >= 0 &&
			!in->dot_ends && ib->start == ib->scan) {
			if (intake_body_run(in, ib) < 0)
				return -1;
			p = data + ib->scan;
		}
		n = ib->cr - ib->scan;
		lf = memchr(p, '\n', n);
		cr = lf == NULL && ib->cr < ib->b.len ? data + ib->cr : NULL;
		end = cr != NULL ? cr : lf;
		if (end == NULL) {
			ib->scan = ib->b.len;
			break;
		}
		if (intake_line(in, data + ib->start,
			    (size_t)(end - (data + ib->start)),
			    ib->base + (off_t)ib->start) < 0)
			return -1;
		ib->start = ib->scan = (size_t)(end - data) + 1;
		in->after_cr = cr != NULL;
	}
	/* Refused as soon as it is too long: the buffer never holds more
	   than one line and one read. */
	if (!in->done && ib->b.len - ib->start > MESSAGE_LINE_MAX)
		return line_too_long(in, in->lineno + 1);
	return 0;
}

/* Move the pending line to the front: the buffer then grows only for a
   long line, never with the message. */
static void
inbuf_shift(struct inbuf *ib)
{
	if (ib->start == 0)
		return;
	buf_consume(&ib->b, ib->start);
	ib->base += (off_t)ib->start;
	ib->scan -= ib->start;
	if (ib->cr_known && ib->cr >= ib->start)
		ib->cr -= ib->start;
	else
		ib->cr_known = 0;
	ib->start = 0;
}

/* What a read(2) brought, scanned whole once: the first NUL, whether
   it is all ASCII, and whether the CR search must look again. */
static void
intake_scan_read(struct intake *in, struct inbuf *ib, size_t n)
{
	size_t from = ib->b.len - n;
	off_t at = ib->base + (off_t)from;
	const char *nul;

	if (in->nul_at == OFF_MAX) {
		nul = memchr(ib->b.data + from, '\0', n);
		if (nul != NULL)
			in->nul_at = at + (off_t)(nul - (ib->b.data + from));
	}
	if (in->ascii_end == at && !bytes_have_8bit(ib->b.data + from, n))
		in->ascii_end = at + (off_t)n;
	/* "none in the buffer" was about the bytes before these */
	if (ib->cr_known && ib->cr == from)
		ib->cr_known = 0;
}

/* At the end of the input: the CRs or the line still pending. */
static int
intake_last(struct intake *in, struct inbuf *ib)
{
	if (in->done)
		return 0;
	if (in->after_cr)
		return intake_cr_lines(in);
	if (ib->b.len > ib->start)
		return intake_line(in, ib->b.data + ib->start,
			ib->b.len - ib->start, ib->base + (off_t)ib->start);
	return 0;
}

static int
intake_run(struct intake *in, int fd)
{
	struct inbuf ib = {.start = 0, .scan = 0, .base = 0, .cr_known = 0};
	ssize_t n;
	int rc = -1;

	buf_init(&ib.b, INTAKE_BUF_MAX);
	for (;;) {
		inbuf_shift(&ib);
		n = buf_read_fd(&ib.b, fd, INTAKE_CHUNK);
		if (n < 0) {
			error_set(in->err, ERR_IO, "reading the message: %s",
				strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		in->msg->input_len += n;
		intake_scan_read(in, &ib, (size_t)n);
		if (intake_lines(in, &ib) < 0)
			goto out;
		if (in->done)
			break;
	}
	if (intake_last(in, &ib) < 0)
		goto out;
	rc = 0;
out:
	buf_release(&ib.b);
	return rc;
}

static int
intake_finish(struct intake *in)
{
	struct message *msg = in->msg;

	if (!in->kept) {
		error_set(in->err, ERR_NOINPUT, "no message on standard input");
		return -1;
	}
	if (msg->body_fd >= 0) {
		if (spool_flush(in) < 0)
			return -1;
	} else {
		msg->body_mem = buf_detach(&in->body, &msg->body_mem_len);
	}
	msg->headers = buf_detach(&in->headers, &msg->headers_len);
	return 0;
}

static void
message_init(struct message *msg)
{
	memset(msg, 0, sizeof(*msg));
	msg->body_fd = -1;
}

int
message_read(struct message *msg, int fd, const struct message_opts *opts,
	struct error *err)
{
	struct intake in;
	int rc;

	message_init(msg);
	memset(&in, 0, sizeof(in));
	in.msg = msg;
	in.dot_ends = opts ? opts->dot_ends : 0;
	in.tmpdir = opts ? opts->tmpdir : NULL;
	in.err = err;
	in.phase = PHASE_FROM_;
	in.nul_at = OFF_MAX;
	buf_init(&in.headers, MESSAGE_HEADER_MAX);
	buf_init(&in.body, MESSAGE_MEM_MAX);

	rc = intake_run(&in, fd);
	if (rc == 0)
		rc = intake_finish(&in);
	buf_release(&in.headers);
	buf_release(&in.body);
	free(in.stage);
	if (rc < 0)
		message_release(msg);
	return rc;
}

void
message_release(struct message *msg)
{
	free(msg->headers);
	free(msg->fields);
	free(msg->body_mem);
	if (msg->body_fd >= 0)
		close(msg->body_fd);
	message_init(msg);
}

/* --- the header --------------------------------------------------------- */

static const char *
field_name(const struct message *msg, size_t i)
{
	return msg->headers + msg->fields[i].off;
}

static int
field_is(const struct message *msg, size_t i, const char *name)
{
	size_t len = strlen(name);

	return msg->fields[i].name_len == len &&
	       strncasecmp(field_name(msg, i), name, len) == 0;
}

long
message_find_field(const struct message *msg, const char *name, size_t start)
{
	size_t i;

	for (i = start; i < msg->nfields; i++)
		if (field_is(msg, i, name))
			return (long)i;
	return -1;
}

/*
 * Field i's body unfolded (RFC 5322 §2.2.3: a CRLF before WSP is
 * removed), without the blanks after ':' and without the final CRLF.
 * Returns a new NUL-terminated string; *lenp gets its length, which
 * counts any NUL the field holds.
 */
static char *
field_unfold(const struct message *msg, size_t i, size_t *lenp)
{
	const struct message_field *f = &msg->fields[i];
	const char *p = msg->headers + f->off, *end = p + f->len;
	char *out;
	size_t n = 0;

	p = (const char *)memchr(p + f->name_len, ':', f->len - f->name_len) +
	    1;
	if (end - p >= 2 && end[-2] == '\r' && end[-1] == '\n')
		end -= 2;
	out = xmalloc((size_t)(end - p) + 1);
	for (; p < end; p++) {
		if (p[0] == '\r' && end - p >= 3 && p[1] == '\n' &&
			(p[2] == ' ' || p[2] == '\t')) {
			p++;
			continue;
		}
		if (n == 0 && (*p == ' ' || *p == '\t'))
			continue;
		out[n++] = *p;
	}
	out[n] = '\0';
	*lenp = n;
	return out;
}

char *
message_field_value(const struct message *msg, size_t i)
{
	size_t len;

	if (i >= msg->nfields)
		return NULL;
	return field_unfold(msg, i, &len);
}

/* Any byte >= 0x80 in the data that will be sent. */
static int
message_sends_8bit(const struct message *msg)
{
	const struct message_field *f;
	size_t i;

	if (msg->body_8bit)
		return 1;
	for (i = 0; i < msg->nfields; i++) {
		f = &msg->fields[i];
		if (!f->removed &&
			bytes_have_8bit(msg->headers + f->off, f->len))
			return 1;
	}
	return 0;
}

size_t
message_remove_fields(struct message *msg, const char *name)
{
	size_t i, n = 0;

	for (i = 0; i < msg->nfields; i++) {
		if (field_is(msg, i, name)) {
			msg->fields[i].removed = 1;
			n++;
		}
	}
	/* A UTF-8 name in a removed Bcc must not ask for 8BITMIME, or
	   fail on a server without it (RFC 6152 is about what is sent). */
	if (n > 0 && msg->has_8bit)
		msg->has_8bit = message_sends_8bit(msg);
	return n;
}

static int
message_has_resent(const struct message *msg)
{
	size_t i;

	for (i = 0; i < msg->nfields; i++)
		if (msg->fields[i].name_len >= 7 &&
			strncasecmp(field_name(msg, i), "Resent-", 7) == 0)
			return 1;
	return 0;
}

int
message_header_recipients(
	const struct message *msg, struct address_list *out, struct error *err)
{
	static const char *const plain[] = {"To", "Cc", "Bcc"};
	static const char *const resent[] = {
		"Resent-To", "Resent-Cc", "Resent-Bcc"};
	const char *const *names = message_has_resent(msg) ? resent : plain;
	size_t i, len;
	char *value;
	int rc;

	/* Header order, removed fields included: -t reads Bcc before the
	   caller hides it from the wire. */
	for (i = 0; i < msg->nfields; i++) {
		if (!field_is(msg, i, names[0]) &&
			!field_is(msg, i, names[1]) &&
			!field_is(msg, i, names[2]))
			continue;
		value = field_unfold(msg, i, &len);
		rc = address_parse_list(value, len, out, err);
		free(value);
		if (rc < 0) {
			error_prefix(err, "%.*s header",
				(int)msg->fields[i].name_len,
				field_name(msg, i));
			return -1;
		}
	}
	return 0;
}

int
message_header_addresses(const struct message *msg, const char *name,
	struct address_list *out, struct error *err)
{
	size_t i, len;
	char *value;
	int rc;

	for (i = 0; i < msg->nfields; i++) {
		if (msg->fields[i].removed || !field_is(msg, i, name))
			continue;
		value = field_unfold(msg, i, &len);
		rc = address_parse_list(value, len, out, err);
		free(value);
		if (rc < 0) {
			error_prefix(err, "%s header", name);
			return -1;
		}
	}
	return 0;
}

/* --- header repair ------------------------------------------------------ */

/* RFC 5322 §2.1.1: lines SHOULD be at most 78 characters. */
#define FOLD_AT 78
/* The longest value message_add_field takes. */
#define FIELD_VALUE_MAX (64 * 1024)

static int
field_present(const struct message *msg, const char *name)
{
	size_t i;

	for (i = 0; i < msg->nfields; i++)
		if (!msg->fields[i].removed && field_is(msg, i, name))
			return 1;
	return 0;
}

static size_t
field_mark_removed(struct message *msg, const char *name, size_t keep)
{
	size_t i, n = 0;

	for (i = 0; i < msg->nfields; i++) {
		if (i != keep && !msg->fields[i].removed &&
			field_is(msg, i, name)) {
			msg->fields[i].removed = 1;
			n++;
		}
	}
	return n;
}

/* A line of the field that holds only blanks: some parsers take it for
   the empty line that ends the header. */
static int
line_is_blank(const char *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] != ' ' && p[i] != '\t')
			return 0;
	return 1;
}

/* "CRLF WSP" at p: folding (RFC 5322 §2.2.3). */
static int
is_fold(const char *p, size_t len)
{
	return len >= 3 && p[0] == '\r' && p[1] == '\n' &&
	       (p[2] == ' ' || p[2] == '\t');
}

/*
 * A whole field as it goes on the wire, without its final CRLF: a field
 * name, ':', and lines joined by CRLF + WSP only. No NUL, no other CR or
 * LF (a header injection, or a second end of header), no blank
 * continuation line, no line over MESSAGE_LINE_MAX. Returns the name
 * length, 0 with err set when the text is refused.
 */
static size_t
field_check(const char *text, size_t len, struct error *err)
{
	size_t name_len = field_name_len(text, len), start = 0, i;
	const char *why = NULL;

	for (i = 0; name_len > 0 && why == NULL && i <= len; i++) {
		if (i < len && text[i] == '\0')
			why = "contains NUL";
		else if (i < len && text[i] != '\r' && text[i] != '\n')
			continue;
		else if (i - start > MESSAGE_LINE_MAX)
			why = "has a line longer than 998 octets";
		else if (start > 0 && line_is_blank(text + start, i - start))
			why = "has a blank continuation line";
		else if (i < len && !is_fold(text + i, len - i))
			why = "has a line break that is not folding";
		else
			start = ++i + 1;
	}
	if (name_len == 0)
		error_set(err, ERR_DATA, "header field has no valid name");
	else if (why != NULL)
		error_set(err, ERR_DATA, "%.*s header field %s", (int)name_len,
			text, why);
	return why == NULL ? name_len : 0;
}

/* Recompute has_8bit after the fields changed. */
static void
message_update_8bit(struct message *msg)
{
	msg->has_8bit = message_sends_8bit(msg);
}

/*
 * Append text and a CRLF to the stored header; *off gets where it
 * starts. Replaced and removed fields stay stored, so the store may grow
 * past MESSAGE_HEADER_MAX, up to MESSAGE_HEADER_STORE_MAX.
 */
static int
header_store(struct message *msg, const char *text, size_t len, size_t *off,
	struct error *err)
{
	if (len + 2 > MESSAGE_HEADER_STORE_MAX - msg->headers_len) {
		error_set(err, ERR_DATA,
			"header section would grow past %d bytes",
			MESSAGE_HEADER_STORE_MAX);
		return -1;
	}
	msg->headers =
		xreallocarray(msg->headers, msg->headers_len + len + 3, 1);
	memcpy(msg->headers + msg->headers_len, text, len);
	memcpy(msg->headers + msg->headers_len + len, "\r\n", 3);
	*off = msg->headers_len;
	msg->headers_len += len + 2;
	return 0;
}

/* Insert a checked field (text without its CRLF) after the fields added
   before it, ahead of the input's own. Returns its index or -1. */
static long
field_insert(struct message *msg, const char *text, size_t len, size_t name_len,
	struct error *err)
{
	struct message_field *f;
	size_t off, at = msg->nadded;

	if (header_store(msg, text, len, &off, err) < 0)
		return -1;
	msg->fields = xreallocarray(
		msg->fields, msg->nfields + 1, sizeof(*msg->fields));
	memmove(msg->fields + at + 1, msg->fields + at,
		(msg->nfields - at) * sizeof(*msg->fields));
	f = &msg->fields[at];
	f->off = off;
	f->len = len + 2;
	f->name_len = name_len;
	f->removed = 0;
	msg->nfields++;
	msg->nadded++;
	message_update_8bit(msg);
	return (long)at;
}

/* A space at i may become "CRLF SP": it ends a run of non-blanks, lies
   past min (not right after "Name:"), and non-blanks follow it (last is
   the end of the value without its trailing blanks). */
static int
fold_point(const char *s, size_t i, size_t min, size_t last)
{
	return s[i] == ' ' && s[i - 1] != ' ' && s[i - 1] != '\t' && i > min &&
	       i < last;
}

/*
 * "Name: value" folded (RFC 5322 §2.2.3) before a space wherever a line
 * would pass FOLD_AT: at the last such space that keeps the line within
 * it, else at the first one after. Never right after "Name:", never
 * leaving a line of blanks only; a run without spaces stays whole.
 * Unfolding gives back s exactly.
 */
static void
field_fold(const char *s, size_t len, size_t min, struct buf *out)
{
	size_t start = 0, brk, i, last = len;

	while (last > 0 && (s[last - 1] == ' ' || s[last - 1] == '\t'))
		last--;
	while (len - start > FOLD_AT) {
		brk = 0;
		for (i = start + 1; i < last; i++) {
			if (!fold_point(s, i, min, last))
				continue;
			if (i - start > FOLD_AT) {
				if (brk == 0)
					brk = i;
				break;
			}
			brk = i;
		}
		if (brk == 0)
			break;
		buf_append(out, s + start, brk - start);
		buf_append(out, "\r\n", 2);
		start = brk;
	}
	buf_append(out, s + start, len - start);
}

/* RFC 5322 §3.6.8: printable ASCII but ':'. */
static int
name_is_valid(const char *name)
{
	const unsigned char *p = (const unsigned char *)name;

	if (*p == '\0' || strlen(name) > FOLD_AT)
		return 0;
	for (; *p != '\0'; p++)
		if (*p < 33 || *p > 126 || *p == ':')
			return 0;
	return 1;
}

/* "Name: value", folded and checked, into out. */
static int
field_build(
	const char *name, const char *value, struct buf *out, struct error *err)
{
	struct buf line;
	size_t vlen = strlen(value);
	int rc = 0;

	if (!name_is_valid(name)) {
		error_set(err, ERR_DATA, "invalid header field name");
		return -1;
	}
	if (vlen > FIELD_VALUE_MAX) {
		error_set(err, ERR_DATA, "%s header field is too long", name);
		return -1;
	}
	if (strpbrk(value, "\r\n") != NULL) {
		error_set(err, ERR_DATA,
			"%s header field value contains a line break", name);
		return -1;
	}
	buf_init(&line, 2 * FIELD_VALUE_MAX);
	buf_printf(&line, "%s:%s%s", name, vlen ? " " : "", value);
	field_fold(line.data, line.len, strlen(name) + 1, out);
	if (field_check(out->data, out->len, err) == 0)
		rc = -1;
	buf_release(&line);
	return rc;
}

/* Big enough for any field field_build makes: folding adds 2 bytes per
   FOLD_AT / 2 at most. */
#define FIELD_BUILD_MAX (4 * FIELD_VALUE_MAX)

/* Add "name: value" at the top; returns the new field's index or -1. */
static long
field_add(struct message *msg, const char *name, const char *value,
	struct error *err)
{
	struct buf text;
	long at = -1;

	buf_init(&text, FIELD_BUILD_MAX);
	if (field_build(name, value, &text, err) == 0)
		at = field_insert(msg, text.data, text.len, strlen(name), err);
	buf_release(&text);
	return at;
}

int
message_add_field(struct message *msg, const char *name, const char *value,
	struct error *err)
{
	return field_add(msg, name, value, err) < 0 ? -1 : 0;
}

int
message_replace_field(
	struct message *msg, size_t i, const char *text, struct error *err)
{
	size_t len = strlen(text), name_len, off;

	if (i >= msg->nfields) {
		error_set(
			err, ERR_SOFTWARE, "no header field %zu to replace", i);
		return -1;
	}
	name_len = field_check(text, len, err);
	if (name_len == 0 || header_store(msg, text, len, &off, err) < 0)
		return -1;
	msg->fields[i].off = off;
	msg->fields[i].len = len + 2;
	msg->fields[i].name_len = name_len;
	message_update_8bit(msg);
	return 0;
}

/* --- From: -------------------------------------------------------------- */

/* RFC 2047 §5 (3): what may stand for itself in a Q-encoded word in a
   phrase; a space becomes '_', the rest =XX. */
static int
q_plain(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || strchr("!*+-/", c) != NULL;
}

static size_t
q_len(const unsigned char *p, size_t len)
{
	size_t i, n = 0;

	for (i = 0; i < len; i++)
		n += q_plain(p[i]) || p[i] == ' ' ? 1 : 3;
	return n;
}

static void
q_put(struct buf *out, const unsigned char *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (q_plain(p[i]))
			buf_addch(out, (char)p[i]);
		else if (p[i] == ' ')
			buf_addch(out, '_');
		else
			buf_printf(out, "=%02X", p[i]);
	}
}

static void
b64_put(struct buf *out, const unsigned char *p, size_t len)
{
	static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				  "abcdefghijklmnopqrstuvwxyz0123456789+/";
	unsigned long v;
	size_t i, k;
	char q[4];

	for (i = 0; i < len; i += 3) {
		v = (unsigned long)p[i] << 16;
		if (i + 1 < len)
			v |= (unsigned long)p[i + 1] << 8;
		if (i + 2 < len)
			v |= p[i + 2];
		for (k = 0; k < 4; k++)
			q[k] = abc[(v >> (18 - 6 * k)) & 0x3f];
		if (i + 1 >= len)
			q[2] = '=';
		if (i + 2 >= len)
			q[3] = '=';
		buf_append(out, q, 4);
	}
}

/* RFC 2047 §2: an encoded word is at most 75 characters, 12 of them
   "=?UTF-8?Q?" and "?=". */
#define EW_PAYLOAD_MAX (75 - 12)

/*
 * s as RFC 2047 encoded words (UTF-8, Q when that is no longer than B),
 * each within 75 characters and split only between characters (§5 (3)),
 * separated by spaces, which decoders drop between encoded words.
 */
static void
phrase_encode(const unsigned char *s, size_t len, struct buf *out)
{
	int q = q_len(s, len) <= (len + 2) / 3 * 4;
	size_t start = 0, end, n, cost;

	while (start < len) {
		for (end = start; end < len; end += n) {
			n = address_utf8_char(
				(const char *)s + end, len - end, NULL);
			cost = q ? q_len(s + start, end + n - start)
				 : (end + n - start + 2) / 3 * 4;
			if (cost > EW_PAYLOAD_MAX)
				break;
		}
		buf_printf(
			out, "%s=?UTF-8?%c?", start ? " " : "", q ? 'Q' : 'B');
		if (q)
			q_put(out, s + start, end - start);
		else
			b64_put(out, s + start, end - start);
		buf_addstr(out, "?=");
		start = end;
	}
}

/* RFC 5322 §3.2.3 atext, ASCII part. */
static int
is_atext(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') ||
	       (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* Atoms separated by single spaces: a phrase that needs no quotes. */
static int
is_plain_phrase(const unsigned char *s, size_t len)
{
	size_t i;

	if (len == 0 || s[0] == ' ' || s[len - 1] == ' ')
		return 0;
	for (i = 0; i < len; i++)
		if (!is_atext(s[i]) && !(s[i] == ' ' && s[i - 1] != ' '))
			return 0;
	return 1;
}

/* Bytes that have no place in a quoted string: controls and 8-bit. */
static int
needs_encoding(const unsigned char *s, size_t len, struct error *err)
{
	size_t i, n;
	int enc = 0;

	for (i = 0; i < len; i += n) {
		n = address_utf8_char((const char *)s + i, len - i, NULL);
		if (n == 0) {
			error_set(err, ERR_DATA,
				"display name is not valid UTF-8");
			return -1;
		}
		if (n > 1 || s[i] < 0x20 || s[i] == 0x7f)
			enc = 1;
	}
	return enc;
}

/*
 * A display name as an RFC 5322 phrase: atoms as they are, other ASCII
 * as a quoted string ('"' and '\' escaped), anything with 8-bit or
 * control characters as RFC 2047 encoded words, since without SMTPUTF8
 * a header must stay ASCII.
 */
static int
display_phrase(const char *display, struct buf *out, struct error *err)
{
	const unsigned char *s = (const unsigned char *)display;
	size_t len = strlen(display), i;
	int enc;

	if (strpbrk(display, "\r\n") != NULL) {
		error_set(err, ERR_DATA, "display name contains a line break");
		return -1;
	}
	enc = needs_encoding(s, len, err);
	if (enc < 0)
		return -1;
	if (enc) {
		phrase_encode(s, len, out);
	} else if (is_plain_phrase(s, len)) {
		buf_append(out, s, len);
	} else {
		buf_addch(out, '"');
		for (i = 0; i < len; i++) {
			if (s[i] == '"' || s[i] == '\\')
				buf_addch(out, '\\');
			buf_addch(out, (char)s[i]);
		}
		buf_addch(out, '"');
	}
	return 0;
}

/*
 * An address that can stand between '<' and '>' without changing what
 * the field means: no blanks or specials that end it, outside a quoted
 * local part; never a CR, LF or other control.
 */
static int
mailbox_is_safe(const char *mailbox)
{
	const unsigned char *p = (const unsigned char *)mailbox;
	int quoted = 0;

	if (*p == '\0')
		return 0;
	for (; *p != '\0'; p++) {
		if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
			return 0;
		if (quoted && *p == '\\' && p[1] >= 0x20)
			p++;
		else if (*p == '"')
			quoted = !quoted;
		else if (!quoted && (*p <= ' ' || strchr("<>(),;:[]", *p)))
			return 0;
	}
	return !quoted;
}

static int
mailbox_check_safe(const char *what, const char *mailbox, struct error *err)
{
	char esc[256];

	if (mailbox_is_safe(mailbox))
		return 0;
	error_set(err, ERR_DATA, "%s '%s' cannot go into a header", what,
		log_escape(esc, sizeof(esc), mailbox, strlen(mailbox)));
	return -1;
}

/* Q-encoding triples a byte at most, so the From value stays well under
   FIELD_VALUE_MAX. */
#define DISPLAY_MAX 4096

int
message_set_from(struct message *msg, enum message_from_mode mode,
	const char *display, const char *address, struct error *err)
{
	struct buf value;
	long at;

	if (mode == MESSAGE_FROM_OFF ||
		(mode == MESSAGE_FROM_AUTO && field_present(msg, "From")))
		return 0;
	if (mailbox_check_safe("From address", address, err) < 0)
		return -1;
	/* so the value below fits its buffer whatever the encoding */
	if ((display != NULL && strlen(display) > DISPLAY_MAX) ||
		strlen(address) > DISPLAY_MAX) {
		error_set(err, ERR_DATA,
			"From display name or address is "
			"longer than %d bytes",
			DISPLAY_MAX);
		return -1;
	}
	buf_init(&value, FIELD_VALUE_MAX);
	if (display != NULL && *display != '\0') {
		if (display_phrase(display, &value, err) < 0) {
			buf_release(&value);
			return -1;
		}
		buf_printf(&value, " <%s>", address);
	} else {
		buf_addstr(&value, address);
	}
	at = field_add(msg, "From", value.data, err);
	buf_release(&value);
	if (at < 0)
		return -1;
	/* on: the caller's From goes, and ours stands at the top */
	if (field_mark_removed(msg, "From", (size_t)at) > 0)
		message_update_8bit(msg);
	return 1;
}

/* --- Date:, Message-ID:, To: -------------------------------------------- */

/* RFC 5322 §3.3 day and month names, never the locale's. */
static const char *const day_names[] = {
	"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char *const month_names[] = {"Jan", "Feb", "Mar", "Apr", "May",
	"Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

int
message_format_date(time_t now, char *out, size_t size, struct error *err)
{
	struct tm tm;
	long off, n;

	if (localtime_r(&now, &tm) == NULL || tm.tm_wday < 0 ||
		tm.tm_wday > 6 || tm.tm_mon < 0 || tm.tm_mon > 11) {
		error_set(err, ERR_SOFTWARE, "cannot convert the time %lld",
			(long long)now);
		return -1;
	}
	off = tm.tm_gmtoff / 60;
	n = snprintf(out, size, "%s, %d %s %04d %02d:%02d:%02d %c%02ld%02ld",
		day_names[tm.tm_wday], tm.tm_mday, month_names[tm.tm_mon],
		tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec,
		off < 0 ? '-' : '+', labs(off) / 60, labs(off) % 60);
	if (n < 0 || (size_t)n >= size) {
		error_set(err, ERR_SOFTWARE, "date buffer too small");
		return -1;
	}
	return 0;
}

int
message_set_date(struct message *msg, time_t now, struct error *err)
{
	char date[64];

	if (field_present(msg, "Date"))
		return 0;
	if (message_format_date(now, date, sizeof(date), err) < 0 ||
		field_add(msg, "Date", date, err) < 0)
		return -1;
	return 1;
}

/* 64 bits from the kernel's generator: Message-IDs must not collide
   across hosts and processes (RFC 5322 §3.6.4). */
static int
random_u64(unsigned long long *out, struct error *err)
{
	unsigned char b[8];
	size_t i;

	if (fdio_random(b, sizeof(b)) < 0) {
		error_set(err, ERR_OS, "no random bytes for the Message-ID");
		return -1;
	}
	*out = 0;
	for (i = 0; i < sizeof(b); i++)
		*out = *out << 8 | b[i];
	return 0;
}

/* RFC 5322 §3.6.4 id-right: dot-atom-text or a no-fold-literal; UTF-8
   atoms too (RFC 6532), for SMTPUTF8 messages. */
static int
msgid_domain_is_valid(const char *d)
{
	const unsigned char *p = (const unsigned char *)d;
	size_t len = strlen(d), i;

	if (len == 0 || len > 255)
		return 0;
	if (p[0] == '[') {
		for (i = 1; i + 1 < len; i++)
			if (p[i] < 33 || p[i] > 126 || strchr("[]\\", p[i]))
				return 0;
		return len >= 2 && p[len - 1] == ']';
	}
	if (p[0] == '.' || p[len - 1] == '.')
		return 0;
	for (i = 0; i < len; i++)
		if (!(is_atext(p[i]) || p[i] >= 0x80 ||
			    (p[i] == '.' && p[i + 1] != '.')))
			return 0;
	return 1;
}

int
message_make_msgid(const char *domain, time_t now, char *out, size_t size,
	struct error *err)
{
	unsigned long long r;
	struct tm tm;
	char esc[300];
	int n;

	if (domain == NULL || !msgid_domain_is_valid(domain)) {
		error_set(err, ERR_DATA,
			"Message-ID domain '%s' is not a valid domain",
			domain ? log_escape(esc, sizeof(esc), domain,
					 strlen(domain))
			       : "");
		return -1;
	}
	if (gmtime_r(&now, &tm) == NULL) {
		error_set(err, ERR_SOFTWARE, "cannot convert the time %lld",
			(long long)now);
		return -1;
	}
	if (random_u64(&r, err) < 0)
		return -1;
	n = snprintf(out, size, "<%04d%02d%02d%02d%02d%02d.%ld.%016llx@%s>",
		tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		tm.tm_min, tm.tm_sec, (long)getpid(), r, domain);
	if (n < 0 || (size_t)n >= size) {
		error_set(err, ERR_SOFTWARE, "Message-ID buffer too small");
		return -1;
	}
	return 0;
}

int
message_set_msgid(
	struct message *msg, const char *domain, time_t now, struct error *err)
{
	char id[MESSAGE_MSGID_MAX];

	if (field_present(msg, "Message-ID"))
		return 0;
	if (message_make_msgid(domain, now, id, sizeof(id), err) < 0 ||
		field_add(msg, "Message-ID", id, err) < 0)
		return -1;
	return 1;
}

/* The group syntax of RFC 5322 §3.4 with no members: names nobody. */
static const char undisclosed[] = "undisclosed-recipients:;";

int
message_set_to_undisclosed(struct message *msg, struct error *err)
{
	if (field_present(msg, "To") || field_present(msg, "Cc") ||
		field_present(msg, "Bcc"))
		return 0;
	return field_add(msg, "To", undisclosed, err) < 0 ? -1 : 1;
}

int
message_undisclosed_recipients(struct message *msg, struct error *err)
{
	long at = field_add(msg, "To", undisclosed, err);

	if (at < 0)
		return -1;
	field_mark_removed(msg, "To", (size_t)at);
	field_mark_removed(msg, "Cc", (size_t)at);
	field_mark_removed(msg, "Bcc", (size_t)at);
	message_update_8bit(msg);
	return 1;
}

/* --- bare names in address fields ------------------------------------- */

/* The address fields whose bare names are qualified. */
static const char *const address_fields[] = {"From", "Sender", "Reply-To", "To",
	"Cc", "Bcc", "Resent-From", "Resent-Sender", "Resent-To", "Resent-Cc",
	"Resent-Bcc"};

/* No '@' outside a quoted local part: an unqualified name. */
static int
mailbox_is_bare(const char *m)
{
	int quoted = 0;

	for (; *m != '\0'; m++) {
		if (quoted && *m == '\\' && m[1] != '\0')
			m++;
		else if (*m == '"')
			quoted = !quoted;
		else if (!quoted && *m == '@')
			return 0;
	}
	return 1;
}

/* Index after the comment, quoted string or domain literal opening at
   p[i] (close is its closing character); '\' quotes the next byte. */
static size_t
skip_delimited(const char *p, size_t len, size_t i, char close)
{
	int depth = 0;
	char open = p[i];

	for (; i < len; i++) {
		if (p[i] == '\\')
			i++;
		else if (p[i] == open && (open == '(' || depth == 0))
			depth++;
		else if (p[i] == close && --depth == 0)
			return i + 1;
	}
	return len;
}

/* Where one mailbox's addr-spec lies in the field (offsets into it),
   and whether it has an '@' outside quotes. */
struct span {
	size_t start, end;
	int at;
};

/* The addr-spec spans of a field body in address-list order. */
struct span_scan {
	struct span *v;
	size_t n, cap;
	/* the element being read */
	struct span cur;   /* tokens outside <> */
	struct span inner; /* tokens inside <> */
	int angle, had_angle;
};

static void
scan_token(struct span_scan *sc, size_t start, size_t end, int at)
{
	struct span *s = sc->angle ? &sc->inner : &sc->cur;

	if (s->end == 0)
		s->start = start;
	s->end = end;
	s->at |= at;
}

/* End of a list element: its addr-spec, if it had one, is recorded. */
static void
scan_element(struct span_scan *sc)
{
	struct span s = sc->had_angle ? sc->inner : sc->cur;

	if (s.end != 0) {
		if (sc->n == sc->cap) {
			sc->cap = sc->cap ? 2 * sc->cap : 8;
			sc->v = xreallocarray(sc->v, sc->cap, sizeof(*sc->v));
		}
		sc->v[sc->n++] = s;
	}
	memset(&sc->cur, 0, sizeof(sc->cur));
	memset(&sc->inner, 0, sizeof(sc->inner));
	sc->angle = sc->had_angle = 0;
}

/* One special character of the address-list grammar at p[i]. */
static void
scan_special(struct span_scan *sc, char c, size_t i)
{
	switch (c) {
	case '<':
		sc->angle = sc->had_angle = 1;
		break;
	case '>':
		sc->angle = 0;
		break;
	case ':': /* a group's name, or inside <> the end of a route */
		if (sc->angle)
			memset(&sc->inner, 0, sizeof(sc->inner));
		else
			memset(&sc->cur, 0, sizeof(sc->cur));
		break;
	case ',': /* inside <> it separates route domains */
		if (!sc->angle)
			scan_element(sc);
		break;
	case ';':
		scan_element(sc);
		break;
	default: /* '@' */
		scan_token(sc, i, i + 1, 1);
		break;
	}
}

static int
lex_is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* What ends an atom; '.' does not (dot-atoms and obs-local-part). */
static int
lex_is_special(char c)
{
	return c != '\0' && c != '.' && strchr("()\"[]<>:,;@", c) != NULL;
}

/*
 * A lexical pass over an address-list that address_parse_list accepted,
 * to find where each mailbox's addr-spec stands in the raw field, so a
 * bare name can be replaced in place and every other byte (comments,
 * display names, folding, empty groups) kept. Offsets are into p, which
 * starts at the field's first byte; body is where the value starts.
 */
static void
scan_spans(const char *p, size_t len, size_t body, struct span_scan *sc)
{
	size_t i = body, j;

	memset(sc, 0, sizeof(*sc));
	while (i < len) {
		if (lex_is_blank(p[i])) {
			i++;
		} else if (p[i] == '(') {
			i = skip_delimited(p, len, i, ')');
		} else if (p[i] == '"' || p[i] == '[') {
			j = skip_delimited(p, len, i, p[i] == '"' ? '"' : ']');
			scan_token(sc, i, j, 0);
			i = j;
		} else if (p[i] != '\0' && strchr("<>:,;@", p[i]) != NULL) {
			scan_special(sc, p[i], i);
			i++;
		} else {
			for (j = i + 1; j < len && !lex_is_blank(p[j]) &&
					!lex_is_special(p[j]);
				j++)
				continue;
			scan_token(sc, i, j, 0);
			i = j;
		}
	}
	scan_element(sc);
}

/* The spans line up with the parser's mailboxes, bare where they are. */
static int
spans_match(const struct span_scan *sc, const struct address_list *l)
{
	size_t k;

	if (sc->n != l->n)
		return 0;
	for (k = 0; k < l->n; k++)
		if ((sc->v[k].at == 0) != mailbox_is_bare(l->v[k].mailbox))
			return 0;
	return 1;
}

/* The caller's replacement for one bare name, checked; NULL on error. */
static char *
qualify_one(const char *bare, message_qualify_fn *qualify, void *ctx,
	struct error *err)
{
	char *repl = qualify(bare, ctx, err);

	if (repl != NULL &&
		mailbox_check_safe("qualified address", repl, err) < 0) {
		free(repl);
		return NULL;
	}
	return repl;
}

/* Field text (len bytes, no CRLF) with each bare addr-spec span replaced
   in place. */
static int
qualify_splice(const char *p, size_t len, const struct span_scan *sc,
	const struct address_list *l, message_qualify_fn *qualify, void *ctx,
	struct buf *out, struct error *err)
{
	size_t k, last = 0;
	char *repl;

	for (k = 0; k < sc->n; k++) {
		if (sc->v[k].at)
			continue;
		repl = qualify_one(l->v[k].mailbox, qualify, ctx, err);
		if (repl == NULL)
			return -1;
		buf_append(out, p + last, sc->v[k].start - last);
		buf_addstr(out, repl);
		free(repl);
		last = sc->v[k].end;
	}
	buf_append(out, p + last, len - last);
	return 0;
}

/*
 * The field written anew from the parsed list, for a list the lexical
 * pass reads differently from the parser: "Name: a, Display <b>, G: c,
 * d;" with the bare names replaced. Comments and empty groups are lost.
 */
static int
qualify_rewrite(const char *p, size_t name_len, const struct address_list *l,
	message_qualify_fn *qualify, void *ctx, struct buf *out,
	struct error *err)
{
	struct buf line;
	const char *g, *prev = NULL;
	char *repl;
	size_t k;
	int rc = 0;

	buf_init(&line, MESSAGE_HEADER_STORE_MAX);
	buf_printf(&line, "%.*s:", (int)name_len, p);
	for (k = 0; k < l->n && rc == 0; k++, prev = g) {
		g = l->v[k].group;
		if (prev != NULL && (g == NULL || strcmp(g, prev) != 0))
			buf_addch(&line, ';');
		buf_addstr(&line, k ? ", " : " ");
		if (g != NULL && (prev == NULL || strcmp(g, prev) != 0))
			buf_printf(&line, "%s: ", g);
		repl = mailbox_is_bare(l->v[k].mailbox)
			       ? qualify_one(l->v[k].mailbox, qualify, ctx, err)
			       : xstrdup(l->v[k].mailbox);
		if (repl == NULL)
			rc = -1;
		else if (l->v[k].display != NULL)
			buf_printf(&line, "%s <%s>", l->v[k].display, repl);
		else
			buf_addstr(&line, repl);
		free(repl);
	}
	if (prev != NULL)
		buf_addch(&line, ';');
	if (rc == 0)
		field_fold(line.data, line.len, name_len + 1, out);
	buf_release(&line);
	return rc;
}

/* Whether field text (folded with CRLF, no final CRLF) has a line over
   MESSAGE_LINE_MAX octets. */
static int
text_has_long_line(const char *p, size_t len)
{
	const char *end = p + len, *nl;

	while ((nl = memmem(p, (size_t)(end - p), "\r\n", 2)) != NULL) {
		if ((size_t)(nl - p) > MESSAGE_LINE_MAX)
			return 1;
		p = nl + 2;
	}
	return (size_t)(end - p) > MESSAGE_LINE_MAX;
}

/* Field i rewritten when it names a bare mailbox: 1 if it was, 0 if
   not (or if it does not parse: then it is left as it is), -1. */
static int
qualify_field(struct message *msg, size_t i, message_qualify_fn *qualify,
	void *ctx, struct error *err)
{
	const struct message_field *f = &msg->fields[i];
	const char *p = msg->headers + f->off;
	size_t len = f->len - 2, body, k;
	struct address_list l;
	struct span_scan sc = {0};
	struct error perr = {0};
	struct buf out;
	int rc = 0;

	body = (size_t)((const char *)memchr(p + f->name_len, ':', len) - p) +
	       1;
	address_list_init(&l);
	buf_init(&out, MESSAGE_HEADER_STORE_MAX);
	if (address_parse_list(p + body, len - body, &l, &perr) < 0)
		goto out;
	for (k = 0; k < l.n && !mailbox_is_bare(l.v[k].mailbox); k++)
		continue;
	if (k == l.n)
		goto out;
	scan_spans(p, len, body, &sc);
	rc = spans_match(&sc, &l)
		     ? qualify_splice(p, len, &sc, &l, qualify, ctx, &out, err)
		     : qualify_rewrite(
			       p, f->name_len, &l, qualify, ctx, &out, err);
	/* A long line of bare names can grow past RFC 5322's 998 octets
	   once qualified: the input was valid, so fold it anew rather than
	   refuse it. */
	if (rc == 0 && text_has_long_line(out.data, out.len)) {
		buf_reset(&out);
		rc = qualify_rewrite(
			p, f->name_len, &l, qualify, ctx, &out, err);
	}
	/* the buffer may move as the field is stored: p is not used after */
	if (rc == 0 && message_replace_field(msg, i, out.data, err) < 0)
		rc = -1;
	if (rc == 0)
		rc = 1;
out:
	free(sc.v);
	buf_release(&out);
	address_list_release(&l);
	return rc;
}

int
message_qualify_fields(struct message *msg, message_qualify_fn *qualify,
	void *ctx, struct error *err)
{
	size_t i, k, n = 0;
	int rc;

	for (i = 0; i < msg->nfields; i++) {
		if (msg->fields[i].removed)
			continue;
		for (k = 0;
			k < sizeof(address_fields) / sizeof(*address_fields);
			k++)
			if (field_is(msg, i, address_fields[k]))
				break;
		if (k == sizeof(address_fields) / sizeof(*address_fields))
			continue;
		rc = qualify_field(msg, i, qualify, ctx, err);
		if (rc < 0) {
			error_prefix(err, "%.*s header",
				(int)msg->fields[i].name_len,
				field_name(msg, i));
			return -1;
		}
		n += (size_t)rc;
	}
	return (int)n;
}

/* RFC 5322 §2.1: an empty line before any body, even when the input had
   none (the header ended at a line that was not a field). */
static int
message_sends_separator(const struct message *msg)
{
	return msg->has_separator || msg->body_len > 0;
}

off_t
message_wire_size(const struct message *msg)
{
	off_t size = 0;
	size_t i;

	for (i = 0; i < msg->nfields; i++)
		if (!msg->fields[i].removed)
			size += (off_t)msg->fields[i].len;
	if (message_sends_separator(msg))
		size += 2;
	return size + msg->body_len;
}

/* --- the wire data ------------------------------------------------------ */

void
message_reader_init(
	struct message_reader *r, const struct message *msg, int dotstuff)
{
	memset(r, 0, sizeof(*r));
	r->msg = msg;
	r->dotstuff = dotstuff;
	r->phase = READ_HEADER;
	r->at_line_start = 1;
}

/*
 * Copy from src (len bytes) to out[*pos..cap), dot-stuffing when asked
 * (RFC 5321 §4.5.2). Returns the bytes of src used. src may lie inside
 * out past *pos (memmove), as long as the output cannot overtake it.
 * The state (at the start of a line, a stuffed '.' already sent) lives in
 * r, so pieces and calls may split anywhere.
 */
static size_t
reader_copy(struct message_reader *r, const char *src, size_t len, char *out,
	size_t cap, size_t *pos)
{
	const char *lf;
	size_t used = 0, n;

	while (used < len && *pos < cap) {
		if (r->dotstuff && r->at_line_start && src[used] == '.') {
			out[(*pos)++] = '.';
			r->at_line_start = 0;
			continue;
		}
		n = len - used;
		lf = r->dotstuff ? memchr(src + used, '\n', n) : NULL;
		if (lf != NULL)
			n = (size_t)(lf - (src + used)) + 1;
		if (n > cap - *pos)
			n = cap - *pos;
		memmove(out + *pos, src + used, n);
		*pos += n;
		used += n;
		r->at_line_start = lf != NULL && src + used == lf + 1;
	}
	return used;
}

static void
reader_header(struct message_reader *r, char *out, size_t cap, size_t *pos)
{
	const struct message *msg = r->msg;
	const struct message_field *f;

	while (r->field < msg->nfields && msg->fields[r->field].removed)
		r->field++;
	if (r->field == msg->nfields) {
		r->phase = READ_SEPARATOR;
		r->off = 0;
		return;
	}
	f = &msg->fields[r->field];
	r->off += reader_copy(r, msg->headers + f->off + r->off,
		f->len - r->off, out, cap, pos);
	if (r->off == f->len) {
		r->field++;
		r->off = 0;
	}
}

static void
reader_separator(struct message_reader *r, char *out, size_t cap, size_t *pos)
{
	if (message_sends_separator(r->msg))
		r->off += reader_copy(
			r, &"\r\n"[r->off], 2 - r->off, out, cap, pos);
	else
		r->off = 2;
	if (r->off == 2) {
		r->phase = READ_BODY;
		r->at_line_start = 1; /* for reader_unstuff */
	}
}

/* The body as stored: dot-stuffed, so one byte more per stuffed line. */
static off_t
body_stored_len(const struct message *msg)
{
	return msg->body_len + msg->body_dots;
}

/* The stored body is the wire data as it is: always for DATA, and for
   BDAT when no line had to be stuffed. */
static int
reader_verbatim(const struct message_reader *r)
{
	return r->dotstuff || r->msg->body_dots == 0;
}

/*
 * BDAT sends the data unstuffed: drop the "." that storage added to each
 * line starting with one, in place in p[0..len). Returns the new length;
 * r->at_line_start carries the state across pieces split anywhere.
 */
static size_t
reader_unstuff(struct message_reader *r, char *p, size_t len)
{
	size_t i = 0, o = 0, n;
	const char *lf;

	while (i < len) {
		if (r->at_line_start && p[i] == '.') {
			i++; /* the stored line is "..": keep the second */
			r->at_line_start = 0;
			continue;
		}
		lf = memchr(p + i, '\n', len - i);
		n = lf != NULL ? (size_t)(lf - (p + i)) + 1 : len - i;
		memmove(p + o, p + i, n);
		o += n;
		i += n;
		r->at_line_start = lf != NULL;
	}
	return o;
}

/*
 * The stored body into out[*pos..cap): a spooled one with pread(2), never
 * more than the caller's room at a time. Returns 0, or -1 on a read
 * error.
 */
static int
reader_body(struct message_reader *r, char *out, size_t cap, size_t *pos,
	struct error *err)
{
	const struct message *msg = r->msg;
	off_t left = body_stored_len(msg) - r->body_off;
	size_t want = cap - *pos;
	ssize_t n;

	if ((off_t)want > left)
		want = (size_t)left;
	if (want == 0) {
		n = 0;
	} else if (msg->body_fd < 0) {
		memcpy(out + *pos, msg->body_mem + r->body_off, want);
		n = (ssize_t)want;
	} else {
		n = fdio_pread(msg->body_fd, out + *pos, want, r->body_off);
		if (n <= 0) {
			error_set(err, ERR_IO, "reading the spool file: %s",
				n < 0 ? strerror(errno) : "file shrank");
			return -1;
		}
	}
	r->body_off += n;
	*pos += reader_verbatim(r)
		? (size_t)n
		: reader_unstuff(r, out + *pos, (size_t)n);
	if (r->body_off == body_stored_len(msg))
		r->phase = READ_DONE;
	return 0;
}

/* The rest of the body can go by sendfile(2): spooled, and on the
   wire as stored. */
static int
reader_can_span(const struct message_reader *r)
{
	return r->phase == READ_BODY && r->msg->body_fd >= 0 &&
	       reader_verbatim(r) && r->body_off < body_stored_len(r->msg);
}

int
message_reader_span(
	struct message_reader *r, int *fd, off_t *off, off_t *len)
{
	if (!reader_can_span(r))
		return 0;
	*fd = r->msg->body_fd;
	*off = r->body_off;
	*len = body_stored_len(r->msg) - r->body_off;
	r->body_off += *len;
	r->phase = READ_DONE;
	return 1;
}

ssize_t
message_reader_read(
	struct message_reader *r, char *buf, size_t cap, struct error *err)
{
	size_t pos = 0;
	int rc = 0;

	if (cap < 2) {
		error_set(err, ERR_SOFTWARE,
			"message reader: buffer of %zu "
			"bytes is too small",
			cap);
		return -1;
	}
	if (cap > SSIZE_MAX)
		cap = SSIZE_MAX;
	while (pos < cap && r->phase != READ_DONE && rc == 0) {
		switch (r->phase) {
		case READ_HEADER:
			reader_header(r, buf, cap, &pos);
			break;
		case READ_SEPARATOR:
			reader_separator(r, buf, cap, &pos);
			break;
		default:
			/* Stop where a span could take over (the caller
			   asks for it next, or reads on). */
			if (pos > 0 && r->body_off == 0 && reader_can_span(r))
				return (ssize_t)pos;
			rc = reader_body(r, buf, cap, &pos, err);
			break;
		}
	}
	return rc < 0 ? -1 : (ssize_t)pos;
}
