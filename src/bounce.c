/*
 * bounce.c - compose the RFC 3464 delivery status notification (inside
 * an RFC 6522 multipart/report) for a queued message postie gave up.
 *
 * Everything the caller hands in is checked before a byte is written: a
 * CR or LF in a value would let the failed message's sender (or a server
 * quoted in it) add header fields or MIME parts to the report (header
 * injection), so it is refused, never cleaned up. The three parts are
 * composed into their own buffers first, so that the boundary can be
 * checked against all of their text before it is used.
 */
#include "autoconf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bounce.h"
#include "address.h"
#include "message.h"
#include "xmalloc.h"

/* RFC 5322 §2.1.1: lines SHOULD stay within 78 characters and MUST
   within 998 (both without the CRLF). */
#define FOLD_SOFT 78
#define FOLD_HARD MESSAGE_LINE_MAX

/* RFC 2046 §5.1.1: a boundary has at most 70 characters. */
#define BOUNDARY_MAX 70

#define DATE_MAX 64

/* What bounce_compose works out before it writes anything. */
struct bounce_ctx {
	const struct bounce *b;
	char date_now[DATE_MAX];
	char date_arrival[DATE_MAX];
	char date_last[DATE_MAX]; /* "" when last_attempt is 0 */
	char msgid[MESSAGE_MSGID_MAX];
	char boundary[BOUNDARY_MAX + 1];
	int text_8bit;   /* the text part names a UTF-8 address */
	int header_8bit; /* the quoted header section has 8-bit bytes */
};

/* --- checks -------------------------------------------------------------- */

/* A value that goes into a line of the report: a CR or LF in it would
   end that line early and start whatever follows as a new one. */
static int
check_line(const char *what, const char *s, struct error *err)
{
	if (strpbrk(s, "\r\n") != NULL) {
		error_set(err, ERR_DATA, "bounce: %s holds a line break", what);
		return -1;
	}
	return 0;
}

/* An address: not empty, no control characters, valid UTF-8 (RFC 6531
   allows UTF-8 in both parts). *is_8bit says whether it has any. */
static int
check_address(const char *what, const char *s, int *is_8bit, struct error *err)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len, n;
	uint32_t cp;

	if (s == NULL || *s == '\0') {
		error_set(err, ERR_DATA, "bounce: %s is missing", what);
		return -1;
	}
	if (check_line(what, s, err) < 0)
		return -1;
	*is_8bit = 0;
	for (len = strlen(s); len > 0; p += n, len -= n) {
		n = address_utf8_char((const char *)p, len, &cp);
		if (n == 0 || cp < 0x20 || cp == 0x7f) {
			error_set(err, ERR_DATA,
				"bounce: %s holds a control character or "
				"invalid UTF-8",
				what);
			return -1;
		}
		if (n > 1)
			*is_8bit = 1;
	}
	return 0;
}

/* A host name or queue id: one word of printable ASCII. */
static int
check_word(const char *what, const char *s, struct error *err)
{
	const unsigned char *p;

	if (s == NULL || *s == '\0') {
		error_set(err, ERR_DATA, "bounce: %s is missing", what);
		return -1;
	}
	if (check_line(what, s, err) < 0)
		return -1;
	for (p = (const unsigned char *)s; *p; p++) {
		if (*p <= 0x20 || *p >= 0x7f) {
			error_set(err, ERR_DATA,
				"bounce: %s is not one word of printable "
				"ASCII",
				what);
			return -1;
		}
	}
	return 0;
}

/* Digits at s, at least min and at most max of them; how many, or 0. */
static size_t
span_digits(const char *s, size_t min, size_t max)
{
	size_t n = 0;

	while (n < max && s[n] >= '0' && s[n] <= '9')
		n++;
	return n >= min && !(s[n] >= '0' && s[n] <= '9') ? n : 0;
}

/* Length of the RFC 3463 status-code at s, class 4 or 5 only (the
   action is "failed", RFC 3464 §2.3.3), or 0. */
static size_t
status_span(const char *s)
{
	size_t n, m;

	if (s[0] != '4' && s[0] != '5')
		return 0;
	if (s[1] != '.' || (n = span_digits(s + 2, 1, 3)) == 0)
		return 0;
	if (s[2 + n] != '.' || (m = span_digits(s + 3 + n, 1, 3)) == 0)
		return 0;
	return 3 + n + m;
}

/* diagnostic starts with an SMTP reply code (RFC 5321 §4.2). */
static int
diag_is_reply(const char *d)
{
	return d[0] >= '2' && d[0] <= '5' && span_digits(d, 3, 3) == 3 &&
	       (d[3] == '\0' || d[3] == ' ' || d[3] == '-');
}

/*
 * The Status of one recipient: the caller's, else the enhanced code of
 * the reply (RFC 2034 §4: right after the reply code, with the same
 * class), else the default for the kind of failure.
 */
static void
rcpt_status(const struct bounce *b, const struct bounce_rcpt *r, char *out,
	size_t size)
{
	const char *d = r->diagnostic;
	size_t n;

	if (r->status != NULL) {
		snprintf(out, size, "%s", r->status);
		return;
	}
	if (d != NULL && diag_is_reply(d) && (d[3] == ' ' || d[3] == '-') &&
		(n = status_span(d + 4)) > 0 && d[4] == d[0] &&
		(d[4 + n] == '\0' || d[4 + n] == ' ') && n < size) {
		memcpy(out, d + 4, n);
		out[n] = '\0';
		return;
	}
	snprintf(out, size, "%s", b->expired ? "4.4.7" : "5.0.0");
}

static int
check_rcpt(
	const struct bounce_rcpt *r, size_t i, int *is_8bit, struct error *err)
{
	char what[64];

	snprintf(what, sizeof(what), "recipient %zu", i + 1);
	if (check_address(what, r->addr, is_8bit, err) < 0)
		return -1;
	if (r->status != NULL && (status_span(r->status) == 0 ||
					 r->status[status_span(r->status)])) {
		error_set(err, ERR_DATA,
			"bounce: the status of recipient %zu is not a "
			"4.x.x or 5.x.x code",
			i + 1);
		return -1;
	}
	snprintf(what, sizeof(what), "the reply for recipient %zu", i + 1);
	if (r->diagnostic != NULL && check_line(what, r->diagnostic, err) < 0)
		return -1;
	return 0;
}

/*
 * The quoted header section goes in as it is, so it has to be mail
 * already: CRLF lines only (a bare CR or LF could end the part early for
 * some reader), no NUL, no line past 998 octets. Notes 8-bit bytes.
 */
static int
check_header(const char *h, size_t len, int *is_8bit, struct error *err)
{
	size_t i, col = 0;

	*is_8bit = 0;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)h[i];

		if (c == '\r' && i + 1 < len && h[i + 1] == '\n') {
			i++;
			col = 0;
			continue;
		}
		if (c == '\r' || c == '\n' || c == '\0') {
			error_set(err, ERR_DATA,
				"bounce: the original header has a bare CR, "
				"LF or NUL at offset %zu",
				i);
			return -1;
		}
		if (++col > FOLD_HARD) {
			error_set(err, ERR_DATA,
				"bounce: the original header has a line "
				"longer than 998 octets");
			return -1;
		}
		if (c >= 0x80)
			*is_8bit = 1;
	}
	return 0;
}

static int
check_bounce(const struct bounce *b, struct bounce_ctx *c, struct error *err)
{
	int is_8bit;
	size_t i;

	if (check_address("the From address", b->from, &is_8bit, err) < 0 ||
		check_address("the envelope sender", b->to, &is_8bit, err) < 0)
		return -1;
	if (check_word("the reporting MTA", b->reporting_mta, err) < 0 ||
		(b->remote_mta &&
			check_word("the remote MTA", b->remote_mta, err) < 0) ||
		(b->queue_id &&
			check_word("the queue id", b->queue_id, err) < 0) ||
		(b->reason && check_line("the reason", b->reason, err) < 0))
		return -1;
	if (b->nrcpts == 0 || b->rcpts == NULL) {
		error_set(err, ERR_DATA, "bounce: no recipients");
		return -1;
	}
	c->text_8bit = 0;
	for (i = 0; i < b->nrcpts; i++) {
		if (check_rcpt(&b->rcpts[i], i, &is_8bit, err) < 0)
			return -1;
		c->text_8bit |= is_8bit;
	}
	c->header_8bit = 0;
	if (b->header != NULL && b->header_len > 0 &&
		check_header(b->header, b->header_len, &c->header_8bit, err) <
			0)
		return -1;
	return 0;
}

/* --- line output ---------------------------------------------------------- */

/* Where to break the line s[0..len) (len > room) so that the first piece
   has at most room bytes, ending on a non-blank before a blank; 0 if
   there is no such place within limit bytes. */
static size_t
fold_point(const char *s, size_t len, size_t room, size_t limit)
{
	size_t k;

	for (k = room; k >= 1; k--)
		if ((s[k] == ' ' || s[k] == '\t') && s[k - 1] != ' ' &&
			s[k - 1] != '\t')
			return k;
	for (k = room + 1; k < len && k <= limit; k++)
		if ((s[k] == ' ' || s[k] == '\t') && s[k - 1] != ' ' &&
			s[k - 1] != '\t')
			return k;
	return 0;
}

/*
 * Append the logical line s[0..len) with CRLF, broken into lines of at
 * most 78 octets where blanks allow and never more than 998. field: a
 * header field, folded before a blank (RFC 5322 §2.2.3; unfolding gives
 * the value back), and a run without blanks that must be broken gets CRLF
 * SP. Otherwise prose: the blank at a break is dropped.
 */
static int
add_folded(struct buf *out, const char *s, size_t len, int field)
{
	size_t pos = 0, col = 0, k;

	while (len - pos + col > FOLD_SOFT) {
		k = fold_point(
			s + pos, len - pos, FOLD_SOFT - col, FOLD_HARD - col);
		if (k == 0 && len - pos + col <= FOLD_HARD)
			break;
		if (k == 0)
			k = FOLD_HARD - col;
		if (buf_append(out, s + pos, k) < 0 ||
			buf_append(out, "\r\n", 2) < 0)
			return -1;
		pos += k;
		col = 0;
		if (!field && (s[pos] == ' ' || s[pos] == '\t'))
			pos++;
		else if (field && s[pos] != ' ' && s[pos] != '\t') {
			if (buf_addch(out, ' ') < 0)
				return -1;
			col = 1;
		}
	}
	if (buf_append(out, s + pos, len - pos) < 0 ||
		buf_append(out, "\r\n", 2) < 0)
		return -1;
	return 0;
}

static int add_vline(struct buf *out, int field, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

static int
add_vline(struct buf *out, int field, const char *fmt, va_list ap)
{
	struct buf line;
	int r;

	buf_init(&line, out->max);
	r = buf_vprintf(&line, fmt, ap);
	if (r == 0)
		r = add_folded(out, line.data, line.len, field);
	buf_release(&line);
	return r;
}

/* One header field (or delivery-status field), folded. */
static int add_field(struct buf *out, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int
add_field(struct buf *out, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = add_vline(out, 1, fmt, ap);
	va_end(ap);
	return r;
}

/* One paragraph of the text for people, wrapped. */
static int add_text(struct buf *out, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int
add_text(struct buf *out, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = add_vline(out, 0, fmt, ap);
	va_end(ap);
	return r;
}

/* A copy of s that is printable ASCII: s itself when it is (a server
   reply postie already escaped stays as it is), else log_escape's form.
   The caller frees it. */
static char *
escape_text(const char *s)
{
	const unsigned char *p;
	size_t len = strlen(s);
	char *e;

	for (p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p > 0x7e)
			break;
	if (*p == '\0')
		return xstrdup(s);
	e = xmalloc(4 * len + 1);
	return log_escape(e, 4 * len + 1, s, len);
}

/* --- the parts ------------------------------------------------------------ */

/* "5 days", "2 days 3 hours", "45 minutes": the two largest units. */
static void
format_span(time_t seconds, char *out, size_t size)
{
	static const struct {
		long long secs;
		const char *name;
	} units[] = {
		{86400, "day"}, {3600, "hour"}, {60, "minute"}, {1, "second"}};
	long long left = seconds > 0 ? (long long)seconds : 0, n;
	size_t i, o = 0, used = 0;

	out[0] = '\0';
	for (i = 0; i < 4 && used < 2 && o < size; i++) {
		n = left / units[i].secs;
		left %= units[i].secs;
		if (n == 0 && !(i == 3 && used == 0))
			continue;
		o += (size_t)snprintf(out + o, size - o, "%s%lld %s%s",
			used ? " " : "", n, units[i].name, n == 1 ? "" : "s");
		used++;
	}
}

/* One recipient of the text: the address and what the server said. */
static int
text_rcpt(struct buf *out, const struct bounce_rcpt *r)
{
	char *diag;
	int ret;

	if (r->diagnostic == NULL)
		return add_text(out, "<%s>: no reply from the server", r->addr);
	diag = escape_text(r->diagnostic);
	ret = add_text(out, "<%s>: %s%s", r->addr,
		diag_is_reply(diag) ? "the server replied: " : "", diag);
	free(diag);
	return ret;
}

static int
compose_text(const struct bounce_ctx *c, struct buf *out)
{
	const struct bounce *b = c->b;
	char span[64], *reason;
	size_t i;
	int r;

	format_span(b->now - b->arrival, span, sizeof(span));
	if (b->expired)
		r = add_text(out,
			"postie at %s could not deliver your message: it "
			"stayed in the queue for %s without being "
			"delivered, and has been given up.",
			b->reporting_mta, span);
	else
		r = add_text(out,
			"postie at %s could not deliver your message: it "
			"failed permanently, and has been given up.",
			b->reporting_mta);
	if (r == 0 && b->reason) {
		reason = escape_text(b->reason);
		r = buf_addstr(out, "\r\n") ||
		    add_text(out, "Reason: %s", reason);
		free(reason);
	}
	r = r || buf_addstr(out, "\r\nIt was not delivered to:\r\n\r\n");
	for (i = 0; r == 0 && i < b->nrcpts; i++)
		r = text_rcpt(out, &b->rcpts[i]);
	r = r || buf_addstr(out, "\r\n");
	r = r ||
	    add_text(out, "It was queued%s%s on %s and given up on %s.",
		    b->queue_id ? " as " : "", b->queue_id ? b->queue_id : "",
		    c->date_arrival, c->date_now);
	if (b->header && b->header_len)
		r = r || buf_addstr(out, "\r\nThe header of your message "
					 "follows.\r\n");
	return r ? -1 : 0;
}

/*
 * "Final-Recipient: TYPE; ADDR". RFC 6533 §3: a UTF-8 address keeps
 * message/delivery-status 7-bit as utf-8-addr-xtext, every character that
 * is not a QCHAR (SP, '\', '+', '=', non-ASCII) as \x{HEX}.
 */
static int
add_final_recipient(struct buf *out, const char *addr)
{
	const unsigned char *p = (const unsigned char *)addr;
	size_t len = strlen(addr), n;
	uint32_t cp;
	struct buf x;
	int r = 0;

	if (address_is_ascii(addr))
		return add_field(out, "Final-Recipient: rfc822; %s", addr);
	buf_init(&x, out->max);
	for (; r == 0 && len > 0; p += n, len -= n) {
		n = address_utf8_char(
			(const char *)p, len, &cp); /* checked: never 0 */
		if (cp > 0x20 && cp < 0x7f && cp != '\\' && cp != '+' &&
			cp != '=')
			r = buf_append(&x, p, n);
		else
			r = buf_printf(&x, "\\x{%02X}", (unsigned)cp);
	}
	r = r || add_field(out, "Final-Recipient: utf-8; %s", x.data);
	buf_release(&x);
	return r ? -1 : 0;
}

/* One per-recipient block of RFC 3464 §2.3, preceded by its blank line. */
static int
status_rcpt(const struct bounce_ctx *c, const struct bounce_rcpt *r,
	struct buf *out)
{
	char status[16], *diag;
	int ret;

	rcpt_status(c->b, r, status, sizeof(status));
	ret = buf_addstr(out, "\r\n");
	ret = ret || add_final_recipient(out, r->addr);
	ret = ret || add_field(out, "Action: failed");
	ret = ret || add_field(out, "Status: %s", status);
	if (c->b->remote_mta)
		ret = ret ||
		      add_field(out, "Remote-MTA: dns; %s", c->b->remote_mta);
	if (r->diagnostic) {
		diag = escape_text(r->diagnostic);
		ret = ret ||
		      add_field(out, "Diagnostic-Code: %s; %s",
			      diag_is_reply(diag) ? "smtp" : "X-Postie", diag);
		free(diag);
	}
	if (c->date_last[0])
		ret = ret ||
		      add_field(out, "Last-Attempt-Date: %s", c->date_last);
	return ret ? -1 : 0;
}

static int
compose_status(const struct bounce_ctx *c, struct buf *out)
{
	const struct bounce *b = c->b;
	size_t i;
	int r;

	/* RFC 3464 §2.2: extension fields (ours) after the standard ones. */
	r = add_field(out, "Reporting-MTA: dns; %s", b->reporting_mta);
	r = r || add_field(out, "Arrival-Date: %s", c->date_arrival);
	if (b->queue_id)
		r = r || add_field(out, "X-Postie-Queue-ID: %s", b->queue_id);
	for (i = 0; r == 0 && i < b->nrcpts; i++)
		r = status_rcpt(c, &b->rcpts[i], out);
	return r ? -1 : 0;
}

static int
compose_headers_part(const struct bounce *b, struct buf *out)
{
	if (buf_append(out, b->header, b->header_len) < 0)
		return -1;
	if (b->header_len < 2 ||
		memcmp(b->header + b->header_len - 2, "\r\n", 2) != 0)
		return buf_addstr(out, "\r\n");
	return 0;
}

/* --- assembly ------------------------------------------------------------- */

/* memmem(3) without _GNU_SOURCE. */
static int
contains(const struct buf *hay, const char *needle)
{
	size_t n = strlen(needle), i;

	for (i = 0; i + n <= hay->len; i++)
		if (hay->data[i] == needle[0] &&
			memcmp(hay->data + i, needle, n) == 0)
			return 1;
	return 0;
}

/*
 * RFC 2046 §5.1.1: the boundary must not occur in any part. It is built
 * from the Message-ID's time, pid and 64 random bits, so nobody can write
 * it into a message in advance; it is still checked, and a counter added
 * until no part holds it.
 */
static void
choose_boundary(struct bounce_ctx *c, const struct buf *parts, size_t nparts)
{
	const char *at = strchr(c->msgid, '@');
	int local = at ? (int)(at - c->msgid - 1) : 0, clash;
	unsigned n = 0;
	size_t i;

	if (local > 40)
		local = 40;
	do {
		snprintf(c->boundary, sizeof(c->boundary), "=_postie.%.*s.%u",
			local, c->msgid + 1, n++);
		clash = 0;
		for (i = 0; i < nparts; i++)
			clash |= contains(&parts[i], c->boundary);
	} while (clash);
}

static int
compose_top(const struct bounce_ctx *c, struct buf *out)
{
	const struct bounce *b = c->b;
	int r, eight = c->text_8bit || c->header_8bit;

	r = add_field(out, "From: Mail Delivery System <%s>", b->from);
	r = r || add_field(out, "To: <%s>", b->to);
	r = r || add_field(out, "Subject: Undelivered Mail Returned to Sender");
	r = r || add_field(out, "Date: %s", c->date_now);
	r = r || add_field(out, "Message-ID: %s", c->msgid);
	r = r || add_field(out, "Auto-Submitted: auto-replied");
	r = r || add_field(out, "MIME-Version: 1.0");
	/* written whole: the boundary is short and must not be folded */
	r = r ||
	    buf_printf(out,
		    "Content-Type: multipart/report; "
		    "report-type=delivery-status;\r\n\tboundary=\"%s\"\r\n",
		    c->boundary);
	/* RFC 2045 §6.4: a multipart holding an 8bit part is 8bit too. */
	if (eight)
		r = r || add_field(out, "Content-Transfer-Encoding: 8bit");
	r = r || buf_addstr(out, "\r\nThis is a MIME-encapsulated delivery "
				 "status notification.\r\n");
	return r ? -1 : 0;
}

/* One body part: delimiter, its header, a blank line, its content. The
   content ends with CRLF, and the CRLF before the next delimiter belongs
   to the delimiter (RFC 2046 §5.1.1), hence the extra one. */
static int
add_part(const struct bounce_ctx *c, struct buf *out, const char *type,
	int eight, const struct buf *content)
{
	int r;

	r = buf_printf(
		out, "\r\n--%s\r\nContent-Type: %s\r\n", c->boundary, type);
	if (eight)
		r = r || buf_addstr(out, "Content-Transfer-Encoding: 8bit\r\n");
	r = r || buf_addstr(out, "\r\n");
	r = r || buf_append(out, content->data, content->len);
	return r ? -1 : 0;
}

static int
compose_message(struct bounce_ctx *c, struct buf *out)
{
	struct buf parts[3];
	size_t i, nparts = c->b->header && c->b->header_len ? 3 : 2;
	int r;

	for (i = 0; i < 3; i++)
		buf_init(&parts[i], out->max);
	r = compose_text(c, &parts[0]);
	r = r || compose_status(c, &parts[1]);
	if (nparts == 3)
		r = r || compose_headers_part(c->b, &parts[2]);
	if (r == 0)
		choose_boundary(c, parts, nparts);
	r = r || compose_top(c, out);
	r = r || add_part(c, out,
			 c->text_8bit ? "text/plain; charset=utf-8"
				      : "text/plain; charset=us-ascii",
			 c->text_8bit, &parts[0]);
	r = r || add_part(c, out, "message/delivery-status", 0, &parts[1]);
	if (nparts == 3)
		r = r || add_part(c, out, "text/rfc822-headers", c->header_8bit,
				 &parts[2]);
	r = r || buf_printf(out, "\r\n--%s--\r\n", c->boundary);
	for (i = 0; i < 3; i++)
		buf_release(&parts[i]);
	return r ? -1 : 0;
}

int
bounce_compose(const struct bounce *b, struct buf *out, struct error *err)
{
	struct bounce_ctx c;
	size_t len0 = out->len;

	memset(&c, 0, sizeof(c));
	c.b = b;
	if (check_bounce(b, &c, err) < 0)
		return -1;
	if (message_format_date(b->now, c.date_now, DATE_MAX, err) < 0 ||
		message_format_date(b->arrival, c.date_arrival, DATE_MAX, err) <
			0 ||
		(b->last_attempt && message_format_date(b->last_attempt,
					    c.date_last, DATE_MAX, err) < 0) ||
		message_make_msgid(b->msgid_domain, b->now, c.msgid,
			sizeof(c.msgid), err) < 0) {
		error_prefix(err, "bounce");
		return -1;
	}
	if (compose_message(&c, out) < 0) {
		out->len = len0;
		out->data[len0] = '\0';
		error_set(err, ERR_SOFTWARE,
			"bounce: the report does not fit in %zu bytes",
			out->max);
		return -1;
	}
	return 0;
}

void
bounce_scan_8bit(const char *msg, size_t len, int *has_8bit, int *header_8bit)
{
	size_t i, end = len;

	*has_8bit = *header_8bit = 0;
	for (i = 0; i + 4 <= len; i++)
		if (memcmp(msg + i, "\r\n\r\n", 4) == 0) {
			end = i + 2;
			break;
		}
	for (i = 0; i < len; i++)
		if ((unsigned char)msg[i] >= 0x80) {
			*has_8bit = 1;
			*header_8bit = i < end;
			return;
		}
}
