/*
 * message.c - message intake: spool, normalise, index the header, and
 * stream the wire data back out.
 *
 * Input rules (Postfix sendmail's, with sendmail_fix_line_endings=always):
 *
 * - A line ends at LF. Every CR directly before that LF is dropped and the
 *   line gets one CRLF: "LF", "CRLF" and PHP's "CR CR LF" all become CRLF.
 *   A CR anywhere else in a line is data and kept as it is: rewriting it
 *   would change a body the caller may have signed, and the server is the
 *   one to judge it. The last line gets a CRLF when the input lacks one
 *   (its trailing CRs are dropped like any other line's).
 * - Leading lines matching ">*From " (an mbox envelope line some callers
 *   pass on) are dropped, as Postfix does; they are never header fields.
 * - Without -i, a line holding only "." (after the CR rule: ".\r" too)
 *   ends the input; nothing after it is read.
 * - A line may hold MESSAGE_LINE_MAX bytes before its line ending. Longer
 *   is refused (ERR_DATA, with its line number), never cut.
 * - The header section runs to the first empty line (has_separator = 1) or
 *   to the first line that is neither a field ("name:", name of printable
 *   non-':' ASCII, blanks allowed before ':' as RFC 5322 §4.5.3 obs-
 *   syntax) nor a continuation (leading SP/HT after a field). That line
 *   starts the body, and the wire data gets the empty line RFC 5322 §2.1
 *   requires between them (Postfix's cleanup inserts one too), so
 *   has_separator = 0 yet the separator is sent whenever the body is not
 *   empty.
 *
 * The body stays in memory up to MESSAGE_MEM_MAX, then moves to an
 * unlinked temp file written in SPOOL_STAGE-sized pieces; the memory copy
 * is freed at the switch. Peak memory is bounded by the read buffer (grows
 * only for long lines), the header cap and the memory threshold.
 */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "buf.h"
#include "message.h"
#include "xmalloc.h"

#define INTAKE_CHUNK (64 * 1024)  /* one read(2) */
#define SPOOL_STAGE  (256 * 1024) /* one write(2) to the temp file */
/* A pending line may hold MESSAGE_LINE_MAX bytes plus "\r\r" of PHP's
   line ending before its LF arrives; one read more goes after it. */
#define INTAKE_PENDING_MAX (MESSAGE_LINE_MAX + 2)
#define INTAKE_BUF_MAX     (INTAKE_PENDING_MAX + INTAKE_CHUNK)
/* The reader stops refilling from the temp file once less than this is
   free and something is already in the caller's buffer. */
#define READER_MIN_FILL 1024

enum intake_phase { PHASE_FROM_, PHASE_HEADER, PHASE_BODY };

enum reader_phase { READ_HEADER, READ_SEPARATOR, READ_BODY, READ_DONE };

struct intake {
	struct message *msg;
	int dot_ends;
	const char *tmpdir;
	struct error *err;
	enum intake_phase phase;
	unsigned long lineno;
	int done;           /* the "." line was seen */
	int kept;           /* any line made it into the message */
	struct buf headers; /* capped at MESSAGE_HEADER_MAX */
	size_t fields_cap;
	struct buf body; /* while the body is in memory */
	char *stage;     /* once it is in the temp file */
	size_t stage_len;
};

/* The read buffer: bytes [start, b.len) are read but not yet a whole
   line; no LF lies in [start, scan). */
struct inbuf {
	struct buf b;
	size_t start, scan;
};

/* OR of all bytes, so the compiler can vectorise the 8-bit scan. */
static int
bytes_have_8bit(const char *p, size_t len)
{
	unsigned char acc = 0;
	size_t i;

	for (i = 0; i < len; i++)
		acc |= (unsigned char)p[i];
	return (acc & 0x80) != 0;
}

/* ">*From " at the start of the input: an mbox envelope line. */
static int
is_from_line(const char *p, size_t len)
{
	size_t i = 0;

	while (i < len && p[i] == '>')
		i++;
	return len - i >= 5 && memcmp(p + i, "From ", 5) == 0;
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
	ssize_t n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			error_set(err, ERR_IO, "writing the spool file: %s",
				strerror(errno));
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
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
	in->msg->body_len += (off_t)len;
	if (in->msg->body_fd < 0) {
		if (buf_append(&in->body, p, len) == 0)
			return 0;
		if (spool_switch(in) < 0)
			return -1;
	}
	return spool_put(in, p, len);
}

/* --- one line at a time ------------------------------------------------- */

static int
body_line(struct intake *in, const char *p, size_t len)
{
	in->phase = PHASE_BODY;
	if (!in->msg->body_8bit && bytes_have_8bit(p, len))
		in->msg->body_8bit = in->msg->has_8bit = 1;
	if (body_put(in, p, len) < 0)
		return -1;
	return body_put(in, "\r\n", 2);
}

static int
header_append(struct intake *in, const char *p, size_t len)
{
	/* A half-appended line is harmless: the error ends the intake. */
	if (buf_append(&in->headers, p, len) < 0 ||
		buf_append(&in->headers, "\r\n", 2) < 0) {
		error_set(in->err, ERR_DATA,
			"header section is longer than %d bytes (line %lu)",
			MESSAGE_HEADER_MAX, in->lineno);
		return -1;
	}
	if (!in->msg->has_8bit && bytes_have_8bit(p, len))
		in->msg->has_8bit = 1;
	return 0;
}

static int
header_line(struct intake *in, const char *p, size_t len)
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
		return body_line(in, p, len);
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

/* One input line without its LF. */
static int
intake_line(struct intake *in, const char *p, size_t len)
{
	in->lineno++;
	while (len > 0 && p[len - 1] == '\r')
		len--;
	if (len > MESSAGE_LINE_MAX) {
		error_set(in->err, ERR_DATA, "line %lu is longer than %d bytes",
			in->lineno, MESSAGE_LINE_MAX);
		return -1;
	}
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
	if (!in->msg->has_nul && memchr(p, '\0', len) != NULL)
		in->msg->has_nul = 1;
	if (in->phase == PHASE_HEADER)
		return header_line(in, p, len);
	return body_line(in, p, len);
}

/* Hand every complete line in the read buffer to intake_line. */
static int
intake_lines(struct intake *in, struct inbuf *ib)
{
	char *data = ib->b.data, *lf;

	while (!in->done) {
		lf = memchr(data + ib->scan, '\n', ib->b.len - ib->scan);
		if (lf == NULL) {
			ib->scan = ib->b.len;
			break;
		}
		if (intake_line(in, data + ib->start,
			    (size_t)(lf - (data + ib->start))) < 0)
			return -1;
		ib->start = ib->scan = (size_t)(lf - data) + 1;
	}
	if (!in->done && ib->b.len - ib->start > INTAKE_PENDING_MAX) {
		error_set(in->err, ERR_DATA, "line %lu is longer than %d bytes",
			in->lineno + 1, MESSAGE_LINE_MAX);
		return -1;
	}
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
	ib->scan -= ib->start;
	ib->start = 0;
}

static int
intake_run(struct intake *in, int fd)
{
	struct inbuf ib = {.start = 0, .scan = 0};
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
		if (intake_lines(in, &ib) < 0)
			goto out;
		if (in->done)
			break;
	}
	/* A last line without LF. */
	if (!in->done && ib.b.len > ib.start &&
		intake_line(in, ib.b.data + ib.start, ib.b.len - ib.start) < 0)
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
	if (r->off == 2)
		r->phase = READ_BODY;
}

static ssize_t
pread_retry(int fd, char *p, size_t len, off_t off)
{
	ssize_t n;

	do
		n = pread(fd, p, len, off);
	while (n < 0 && errno == EINTR);
	return n;
}

/*
 * From the temp file, never more than the caller's buffer at a time.
 * Dot-stuffed data may double, so half of the free room is read into the
 * end of out and stuffed forward in place. Returns 1 to stop filling, 0
 * to go on, -1 on error.
 */
static int
reader_body_file(struct message_reader *r, char *out, size_t cap, size_t *pos,
	struct error *err)
{
	size_t room = cap - *pos, want;
	off_t left = r->msg->body_len - r->body_off;
	char *dst;
	ssize_t n;

	want = r->dotstuff ? room / 2 : room;
	if ((off_t)want > left)
		want = (size_t)left;
	if (want == 0 || (r->dotstuff && *pos > 0 && room < READER_MIN_FILL))
		return 1;
	dst = r->dotstuff ? out + cap - want : out + *pos;
	n = pread_retry(r->msg->body_fd, dst, want, r->body_off);
	if (n <= 0) {
		error_set(err, ERR_IO, "reading the spool file: %s",
			n < 0 ? strerror(errno) : "file shrank");
		return -1;
	}
	if (r->dotstuff)
		/* all of it, as want <= room / 2; were it not, the rest is
		   read again next time */
		n = (ssize_t)reader_copy(r, dst, (size_t)n, out, cap, pos);
	else
		*pos += (size_t)n;
	r->body_off += n;
	return 0;
}

static int
reader_body(struct message_reader *r, char *out, size_t cap, size_t *pos,
	struct error *err)
{
	const struct message *msg = r->msg;
	int rc = 0;

	if (r->body_off < msg->body_len) {
		if (msg->body_fd >= 0)
			rc = reader_body_file(r, out, cap, pos, err);
		else
			r->body_off += (off_t)reader_copy(r,
				msg->body_mem + r->body_off,
				msg->body_mem_len - (size_t)r->body_off, out,
				cap, pos);
	}
	if (rc >= 0 && r->body_off == msg->body_len)
		r->phase = READ_DONE;
	return rc;
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
			rc = reader_body(r, buf, cap, &pos, err);
			break;
		}
	}
	return rc < 0 ? -1 : (ssize_t)pos;
}
