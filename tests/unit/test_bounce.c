/*
 * test_bounce.c - the delivery status notification: every report is
 * parsed back (header fields, the multipart/report structure, the RFC 3464
 * fields per message and per recipient, the quoted header) rather than
 * compared as text, and checked for the wire rules (CRLF only, lines
 * within 998 octets). Bad input is refused without touching the output.
 */
#include "autoconf.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "bounce.h"
#include "buf.h"
#include "check.h"
#include "message.h"

#define MAX_PARTS 5
#define VALUE_MAX 8192

/* A report taken apart: top header, boundary, body parts. */
struct part {
	const char *hdr; /* the part's header lines, each with CRLF */
	size_t hdr_len;
	const char *body; /* its content, up to the CRLF of the delimiter */
	size_t body_len;
};
struct report {
	const char *hdr;
	size_t hdr_len;
	char boundary[128];
	struct part parts[MAX_PARTS];
	size_t nparts;
	int closed; /* "--B--" CRLF ends the data */
};

static long
find_mem(const char *h, size_t hlen, const char *n, size_t nlen)
{
	size_t i;

	for (i = 0; i + nlen <= hlen; i++)
		if (memcmp(h + i, n, nlen) == 0)
			return (long)i;
	return -1;
}

static size_t
count_mem(const char *h, size_t hlen, const char *n)
{
	size_t c = 0, nlen = strlen(n);
	long at;

	while ((at = find_mem(h, hlen, n, nlen)) >= 0) {
		c++;
		h += at + 1;
		hlen -= (size_t)at + 1;
	}
	return c;
}

/*
 * The value of field name in the header lines h: unfolded (CRLF before
 * a blank removed, the blank kept), leading blanks dropped. Returns how
 * many fields have that name; out gets the first one's value.
 */
static int
field_get(const char *h, size_t len, const char *name, char *out, size_t size)
{
	size_t nlen = strlen(name), i = 0, o, j;
	int found = 0;

	out[0] = '\0';
	while (i < len) {
		if (len - i > nlen && strncasecmp(h + i, name, nlen) == 0 &&
			h[i + nlen] == ':') {
			if (found++ == 0) {
				j = i + nlen + 1;
				while (j < len && h[j] == ' ')
					j++;
				for (o = 0; j < len && o + 1 < size; j++) {
					if (h[j] == '\r' && j + 2 < len &&
						h[j + 1] == '\n' &&
						(h[j + 2] == ' ' ||
							h[j + 2] == '\t')) {
						j++;
						continue;
					}
					if (h[j] == '\r')
						break;
					out[o++] = h[j];
				}
				out[o] = '\0';
			}
		}
		while (i < len && h[i] != '\n')
			i++;
		i++;
	}
	return found;
}

/* Boundary from the top Content-Type, then the parts between the
   delimiter lines of RFC 2046 §5.1.1. */
static int
report_parse(const char *m, size_t len, struct report *r)
{
	char ct[VALUE_MAX], delim[160];
	const char *p, *q, *end = m + len;
	long at;

	memset(r, 0, sizeof(*r));
	at = find_mem(m, len, "\r\n\r\n", 4);
	if (at < 0)
		return -1;
	r->hdr = m;
	r->hdr_len = (size_t)at + 2;
	if (field_get(r->hdr, r->hdr_len, "Content-Type", ct, sizeof(ct)) != 1)
		return -1;
	p = strstr(ct, "boundary=\"");
	if (p == NULL || (q = strchr(p + 10, '"')) == NULL ||
		(size_t)(q - p - 10) >= sizeof(r->boundary))
		return -1;
	memcpy(r->boundary, p + 10, (size_t)(q - p - 10));
	snprintf(delim, sizeof(delim), "\r\n--%s", r->boundary);
	p = m + at + 2; /* keep a CRLF before the first delimiter */
	at = find_mem(p, (size_t)(end - p), delim, strlen(delim));
	while (at >= 0) {
		p += at + strlen(delim);
		if (end - p >= 4 && memcmp(p, "--\r\n", 4) == 0) {
			r->closed = p + 4 == end;
			return 0;
		}
		if (end - p < 2 || memcmp(p, "\r\n", 2) != 0 ||
			r->nparts == MAX_PARTS)
			return -1;
		p += 2;
		at = find_mem(p, (size_t)(end - p), delim, strlen(delim));
		if (at < 0)
			return -1;
		q = p + find_mem(p, (size_t)at + 2, "\r\n\r\n", 4);
		if (q < p)
			q = p - 2; /* no header: the content starts at once */
		r->parts[r->nparts].hdr = p;
		r->parts[r->nparts].hdr_len = (size_t)(q - p + 2);
		r->parts[r->nparts].body = q + 4;
		r->parts[r->nparts].body_len = (size_t)(p + at - (q + 4));
		r->nparts++;
	}
	return -1;
}

/* Block i (0 = per-message) of a delivery-status content: the blank line
   separated groups of RFC 3464 §2.1. */
static int
ds_block(const struct part *ds, size_t i, const char **b, size_t *blen)
{
	const char *p = ds->body, *end = ds->body + ds->body_len;
	long at;

	for (;;) {
		at = find_mem(p, (size_t)(end - p), "\r\n\r\n", 4);
		if (i == 0) {
			*b = p;
			*blen = at < 0 ? (size_t)(end - p) : (size_t)at + 2;
			return 0;
		}
		if (at < 0)
			return -1;
		p += at + 4;
		i--;
	}
}

/* The wire rules: CRLF line ends only, no line over 998 octets. */
static void
check_wire(const struct buf *out)
{
	size_t i, col = 0, longest = 0, bare = 0;

	for (i = 0; i < out->len; i++) {
		if (out->data[i] == '\r' && i + 1 < out->len &&
			out->data[i + 1] == '\n') {
			i++;
			col = 0;
			continue;
		}
		if (out->data[i] == '\r' || out->data[i] == '\n')
			bare++;
		if (++col > longest)
			longest = col;
	}
	CHECK_INT(bare, 0);
	CHECK(longest <= 998);
	CHECK(out->len >= 2 &&
		memcmp(out->data + out->len - 2, "\r\n", 2) == 0);
}

static const char orig_header[] =
	"Received: from client by relay; Tue, 2 Jan 2024 15:04:05 +0000\r\n"
	"From: Sender <sender@client.test>\r\n"
	"To: nouser@example.org,\r\n"
	"\tother@example.org\r\n"
	"Subject: quarterly report\r\n"
	"Message-ID: <abc@client.test>\r\n";

static struct bounce_rcpt two_rcpts[] = {
	{"nouser@example.org", NULL, "550 5.1.1 no such user"},
	{"other@example.org", NULL, NULL},
};

static void
bounce_sample(struct bounce *b)
{
	memset(b, 0, sizeof(*b));
	b->from = "MAILER-DAEMON@host.client.test";
	b->to = "sender@client.test";
	b->reporting_mta = "host.client.test";
	b->remote_mta = "mx.example.org";
	b->queue_id = "6741f3a29c1d07e4";
	b->arrival = 1704207845;
	b->last_attempt = 1704207845 + 3600;
	b->now = 1704207845 + 3700;
	b->reason = "the server refused the recipients";
	b->rcpts = two_rcpts;
	b->nrcpts = 2;
	b->header = orig_header;
	b->header_len = sizeof(orig_header) - 1;
	b->msgid_domain = "host.client.test";
}

static int
compose(const struct bounce *b, struct buf *out, struct report *r)
{
	struct error err;

	error_clear(&err);
	buf_init(out, 1024 * 1024);
	if (bounce_compose(b, out, &err) < 0) {
		fprintf(stderr, "bounce_compose: %s\n", err.text);
		return -1;
	}
	check_wire(out);
	if (report_parse(out->data, out->len, r) < 0) {
		fprintf(stderr, "cannot parse the report:\n%s\n", out->data);
		return -1;
	}
	return 0;
}

#define CHECK_FIELD(h, len, name, want)                                        \
	do {                                                                   \
		CHECK_INT(field_get(h, len, name, v, sizeof(v)), 1);           \
		CHECK_STR(v, want);                                            \
	} while (0)

/* The report's own header: who it is from and to, that it is an
   automatic reply, and a multipart/report of delivery-status. */
static void
test_top_header(void)
{
	struct bounce b;
	struct buf out;
	struct report r;
	struct error err;
	char v[VALUE_MAX], date[64];
	const char *h;
	size_t n;

	bounce_sample(&b);
	CHECK_INT(compose(&b, &out, &r), 0);
	h = r.hdr;
	n = r.hdr_len;
	CHECK_FIELD(h, n, "From",
		"Mail Delivery System <MAILER-DAEMON@host.client.test>");
	CHECK_FIELD(h, n, "To", "<sender@client.test>");
	CHECK_FIELD(h, n, "Subject", "Undelivered Mail Returned to Sender");
	CHECK_INT(message_format_date(b.now, date, sizeof(date), &err), 0);
	CHECK_FIELD(h, n, "Date", date);
	CHECK_INT(field_get(h, n, "Message-ID", v, sizeof(v)), 1);
	CHECK(v[0] == '<' && strlen(v) > 20 &&
		strcmp(v + strlen(v) - 18, "@host.client.test>") == 0);
	CHECK_FIELD(h, n, "Auto-Submitted", "auto-replied");
	CHECK_FIELD(h, n, "MIME-Version", "1.0");
	CHECK_INT(field_get(h, n, "Content-Type", v, sizeof(v)), 1);
	CHECK(strncmp(v, "multipart/report;", 17) == 0);
	CHECK(strstr(v, "report-type=delivery-status") != NULL);
	/* all 7-bit: no transfer encoding claimed */
	CHECK_INT(
		field_get(h, n, "Content-Transfer-Encoding", v, sizeof(v)), 0);
	buf_release(&out);
}

/* Three parts in the order RFC 6522 §3 wants, the boundary only where a
   delimiter goes, and the data ending with the close delimiter + CRLF. */
static void
test_structure(void)
{
	struct bounce b;
	struct buf out;
	struct report r;
	char v[VALUE_MAX], delim[160];
	size_t i;

	bounce_sample(&b);
	CHECK_INT(compose(&b, &out, &r), 0);
	CHECK_INT(r.nparts, 3);
	CHECK(r.closed);
	CHECK(strlen(r.boundary) >= 20 && strlen(r.boundary) <= 70);
	/* three delimiters and the close one; nowhere else */
	snprintf(delim, sizeof(delim), "--%s", r.boundary);
	CHECK_INT(count_mem(out.data, out.len, delim), 4);
	CHECK_INT(count_mem(out.data, out.len, r.boundary), 5); /* + header */
	for (i = 0; i < r.nparts; i++) {
		CHECK(find_mem(r.parts[i].body, r.parts[i].body_len, r.boundary,
			      strlen(r.boundary)) < 0);
		/* the CRLF before a delimiter is the delimiter's: the
		   content keeps its own last line ending */
		CHECK(r.parts[i].body_len >= 2 &&
			memcmp(r.parts[i].body + r.parts[i].body_len - 2,
				"\r\n", 2) == 0);
	}
	CHECK_FIELD(r.parts[0].hdr, r.parts[0].hdr_len, "Content-Type",
		"text/plain; charset=us-ascii");
	CHECK_FIELD(r.parts[1].hdr, r.parts[1].hdr_len, "Content-Type",
		"message/delivery-status");
	CHECK_FIELD(r.parts[2].hdr, r.parts[2].hdr_len, "Content-Type",
		"text/rfc822-headers");
	buf_release(&out);
}

/* RFC 3464 fields: the per-message block, then one block per recipient;
   the status comes from the reply's enhanced code, else 5.0.0. */
static void
test_delivery_status(void)
{
	struct bounce b;
	struct buf out;
	struct report r;
	struct error err;
	char v[VALUE_MAX], date[64];
	const char *blk;
	size_t n;

	bounce_sample(&b);
	CHECK_INT(compose(&b, &out, &r), 0);
	CHECK_INT(ds_block(&r.parts[1], 0, &blk, &n), 0);
	CHECK_FIELD(blk, n, "Reporting-MTA", "dns; host.client.test");
	CHECK_FIELD(blk, n, "X-Postie-Queue-ID", "6741f3a29c1d07e4");
	CHECK_INT(message_format_date(b.arrival, date, sizeof(date), &err), 0);
	CHECK_FIELD(blk, n, "Arrival-Date", date);
	CHECK_INT(field_get(blk, n, "Final-Recipient", v, sizeof(v)), 0);

	CHECK_INT(ds_block(&r.parts[1], 1, &blk, &n), 0);
	CHECK_FIELD(blk, n, "Final-Recipient", "rfc822; nouser@example.org");
	CHECK_FIELD(blk, n, "Action", "failed");
	CHECK_FIELD(blk, n, "Status", "5.1.1");
	CHECK_FIELD(blk, n, "Remote-MTA", "dns; mx.example.org");
	CHECK_FIELD(blk, n, "Diagnostic-Code", "smtp; 550 5.1.1 no such user");
	CHECK_INT(message_format_date(b.last_attempt, date, sizeof(date), &err),
		0);
	CHECK_FIELD(blk, n, "Last-Attempt-Date", date);
	CHECK_INT(field_get(blk, n, "Reporting-MTA", v, sizeof(v)), 0);

	CHECK_INT(ds_block(&r.parts[1], 2, &blk, &n), 0);
	CHECK_FIELD(blk, n, "Final-Recipient", "rfc822; other@example.org");
	CHECK_FIELD(blk, n, "Action", "failed");
	CHECK_FIELD(blk, n, "Status", "5.0.0");
	CHECK_INT(field_get(blk, n, "Diagnostic-Code", v, sizeof(v)), 0);
	CHECK_INT(ds_block(&r.parts[1], 3, &blk, &n), -1);
	buf_release(&out);

	/* no remote MTA and no last attempt known: the fields are left out */
	b.remote_mta = NULL;
	b.last_attempt = 0;
	CHECK_INT(compose(&b, &out, &r), 0);
	CHECK_INT(ds_block(&r.parts[1], 1, &blk, &n), 0);
	CHECK_INT(field_get(blk, n, "Remote-MTA", v, sizeof(v)), 0);
	CHECK_INT(field_get(blk, n, "Last-Attempt-Date", v, sizeof(v)), 0);
	buf_release(&out);
}

/* Status: the caller's wins; a reply's enhanced code only when it has
   the reply's class; a diagnostic that is no SMTP reply is X-Postie. */
static void
test_status_choice(void)
{
	struct bounce_rcpt rc[] = {
		{"a@example.org", "5.2.2", "550 5.1.1 full"},
		{"b@example.org", NULL, "550 4.1.1 odd class"},
		{"c@example.org", NULL, "554 no enhanced code"},
		{"d@example.org", NULL, "connect to mx.example.org: refused"},
		{"e@example.org", NULL, "552-5.3.4 message too big"},
	};
	static const char *const want_status[] = {
		"5.2.2", "5.0.0", "5.0.0", "5.0.0", "5.3.4"};
	struct bounce b;
	struct buf out;
	struct report r;
	char v[VALUE_MAX];
	const char *blk;
	size_t n, i;

	bounce_sample(&b);
	b.rcpts = rc;
	b.nrcpts = 5;
	CHECK_INT(compose(&b, &out, &r), 0);
	for (i = 0; i < 5; i++) {
		CHECK_INT(ds_block(&r.parts[1], i + 1, &blk, &n), 0);
		CHECK_FIELD(blk, n, "Status", want_status[i]);
	}
	CHECK_INT(ds_block(&r.parts[1], 4, &blk, &n), 0);
	CHECK_FIELD(blk, n, "Diagnostic-Code",
		"X-Postie; connect to mx.example.org: refused");
	CHECK_INT(ds_block(&r.parts[1], 3, &blk, &n), 0);
	CHECK_FIELD(blk, n, "Diagnostic-Code", "smtp; 554 no enhanced code");
	buf_release(&out);
}

/* Expired: 4.4.7 by default, a 4xx reply's own code when there is one,
   and the text says how long the message waited. */
static void
test_expired(void)
{
	struct bounce_rcpt rc[] = {
		{"a@example.org", NULL, NULL},
		{"b@example.org", NULL, "451 4.3.0 try later"},
	};
	struct bounce b;
	struct buf out;
	struct report r;
	char v[VALUE_MAX];
	const char *blk;
	size_t n;

	bounce_sample(&b);
	b.rcpts = rc;
	b.expired = 1;
	b.now = b.arrival + 5 * 86400 + 120;
	CHECK_INT(compose(&b, &out, &r), 0);
	CHECK_INT(ds_block(&r.parts[1], 1, &blk, &n), 0);
	CHECK_FIELD(blk, n, "Status", "4.4.7");
	CHECK_FIELD(blk, n, "Action", "failed");
	CHECK_INT(ds_block(&r.parts[1], 2, &blk, &n), 0);
	CHECK_FIELD(blk, n, "Status", "4.3.0");
	CHECK(find_mem(r.parts[0].body, r.parts[0].body_len, "5 days 2 minutes",
		      16) >= 0);
	buf_release(&out);

	/* not expired: the same rcpt without a reply is 5.0.0 */
	b.expired = 0;
	CHECK_INT(compose(&b, &out, &r), 0);
	CHECK_INT(ds_block(&r.parts[1], 1, &blk, &n), 0);
	CHECK_FIELD(blk, n, "Status", "5.0.0");
	CHECK(find_mem(r.parts[0].body, r.parts[0].body_len, "days", 4) < 0);
	buf_release(&out);
}

/* The text for people names each recipient with the server's reply,
   the reason, the queue id and says the header follows. */
static void
test_human_text(void)
{
	struct bounce b;
	struct buf out;
	struct report r;
	const char *t;
	size_t n;

	bounce_sample(&b);
	CHECK_INT(compose(&b, &out, &r), 0);
	t = r.parts[0].body;
	n = r.parts[0].body_len;
	CHECK(find_mem(t, n,
		      "<nouser@example.org>: the server replied: 550 "
		      "5.1.1 no such user",
		      63) >= 0);
	CHECK(find_mem(t, n, "<other@example.org>: no reply", 29) >= 0);
	CHECK(find_mem(t, n, "the server refused the recipients", 33) >= 0);
	CHECK(find_mem(t, n, "6741f3a29c1d07e4", 16) >= 0);
	CHECK(find_mem(t, n, "header of your message follows", 30) >= 0);
	buf_release(&out);

	/* without a header section there is no third part to announce */
	b.header = NULL;
	b.header_len = 0;
	CHECK_INT(compose(&b, &out, &r), 0);
	CHECK_INT(r.nparts, 2);
	CHECK(r.closed);
	CHECK(find_mem(r.parts[0].body, r.parts[0].body_len, "follows", 7) < 0);
	buf_release(&out);
}

/* The original header is quoted byte for byte, 8-bit bytes included;
   the parts that carry them say 8bit, and the 8-bit scan finds them. */
static void
test_header_quoted(void)
{
	static const char h8[] = "Subject: Gr\xc3\xbc\xc3\x9f"
				 "e\r\nFrom: a@b.example\r\n";
	struct bounce b;
	struct buf out;
	struct report r;
	char v[VALUE_MAX];
	int has8, hdr8;

	bounce_sample(&b);
	CHECK_INT(compose(&b, &out, &r), 0);
	CHECK_INT(r.parts[2].body_len, sizeof(orig_header) - 1);
	CHECK(memcmp(r.parts[2].body, orig_header, sizeof(orig_header) - 1) ==
		0);
	bounce_scan_8bit(out.data, out.len, &has8, &hdr8);
	CHECK_INT(has8, 0);
	CHECK_INT(hdr8, 0);
	buf_release(&out);

	b.header = h8;
	b.header_len = sizeof(h8) - 1;
	CHECK_INT(compose(&b, &out, &r), 0);
	CHECK_INT(r.parts[2].body_len, sizeof(h8) - 1);
	CHECK(memcmp(r.parts[2].body, h8, sizeof(h8) - 1) == 0);
	CHECK_FIELD(r.parts[2].hdr, r.parts[2].hdr_len,
		"Content-Transfer-Encoding", "8bit");
	CHECK_FIELD(r.hdr, r.hdr_len, "Content-Transfer-Encoding", "8bit");
	bounce_scan_8bit(out.data, out.len, &has8, &hdr8);
	CHECK_INT(has8, 1);
	CHECK_INT(hdr8, 0);
	buf_release(&out);

	/* a header without its last CRLF gets one, nothing else changes */
	b.header = "Subject: x";
	b.header_len = 10;
	CHECK_INT(compose(&b, &out, &r), 0);
	CHECK_INT(r.parts[2].body_len, 12);
	CHECK(memcmp(r.parts[2].body, "Subject: x\r\n", 12) == 0);
	buf_release(&out);
}

/* A 2000-byte reply: every line stays within 998 octets and unfolding
   gives the reply back (with blanks), or all of its characters (one run
   without blanks, broken where it had to be). */
static void
test_long_diagnostic(void)
{
	struct bounce_rcpt rc[1];
	struct bounce b;
	struct buf out;
	struct report r;
	char diag[2048], v[VALUE_MAX], want[VALUE_MAX], *p, *q;
	const char *blk;
	size_t n, i;

	bounce_sample(&b);
	b.rcpts = rc;
	b.nrcpts = 1;
	rc[0].addr = "a@example.org";
	rc[0].status = NULL;
	rc[0].diagnostic = diag;

	/* words */
	memcpy(diag, "550 5.7.1 ", 10);
	for (i = 10; i < 2000; i++)
		diag[i] = i % 7 == 0 ? ' ' : (char)('a' + i % 26);
	diag[2000] = '\0';
	CHECK_INT(compose(&b, &out, &r), 0); /* check_wire: lines <= 998 */
	CHECK_INT(ds_block(&r.parts[1], 1, &blk, &n), 0);
	CHECK_INT(field_get(blk, n, "Diagnostic-Code", v, sizeof(v)), 1);
	snprintf(want, sizeof(want), "smtp; %s", diag);
	CHECK_STR(v, want);
	CHECK_FIELD(blk, n, "Status", "5.7.1");
	buf_release(&out);

	/* one run: cut, and the text still has every character */
	memset(diag + 10, 'Z', 1990);
	CHECK_INT(compose(&b, &out, &r), 0);
	CHECK_INT(ds_block(&r.parts[1], 1, &blk, &n), 0);
	CHECK_INT(field_get(blk, n, "Diagnostic-Code", v, sizeof(v)), 1);
	for (p = q = v; *p; p++)
		if (*p != ' ')
			*q++ = *p;
	*q = '\0';
	snprintf(want, sizeof(want), "smtp;550%s", diag + 4);
	for (p = q = want; *p; p++)
		if (*p != ' ')
			*q++ = *p;
	*q = '\0';
	CHECK_STR(v, want);
	CHECK_INT(count_mem(r.parts[0].body, r.parts[0].body_len, "Z"), 1990);
	buf_release(&out);
}

/* Server text with control or 8-bit bytes is escaped: the
   delivery-status part stays printable ASCII. */
static void
test_diagnostic_escaped(void)
{
	struct bounce_rcpt rc[] = {{"a@example.org", NULL,
		"550 5.1.1 \x1b[31mno\tsuch \xff user"}};
	struct bounce b;
	struct buf out;
	struct report r;
	char v[VALUE_MAX];
	const char *blk;
	size_t n;
	int has8, hdr8;

	bounce_sample(&b);
	b.rcpts = rc;
	b.nrcpts = 1;
	CHECK_INT(compose(&b, &out, &r), 0);
	CHECK_INT(ds_block(&r.parts[1], 1, &blk, &n), 0);
	CHECK_FIELD(blk, n, "Diagnostic-Code",
		"smtp; 550 5.1.1 \\x1b[31mno\\tsuch \\xff user");
	bounce_scan_8bit(out.data, out.len, &has8, &hdr8);
	CHECK_INT(has8, 0);
	buf_release(&out);
}

/* A UTF-8 recipient (RFC 6533): "utf-8;" with the 7-bit xtext form in
   the delivery-status; the text shows it as it is, as UTF-8. */
static void
test_utf8_recipient(void)
{
	struct bounce_rcpt rc[] = {
		{"j\xc3\xb6rg+x=y@b\xc3\xbc"
		 "cher.example",
			NULL, "550 5.1.1 no"},
	};
	struct bounce b;
	struct buf out;
	struct report r;
	char v[VALUE_MAX];
	const char *blk;
	size_t n, i;
	int has8, hdr8, ds8 = 0;

	bounce_sample(&b);
	b.rcpts = rc;
	b.nrcpts = 1;
	CHECK_INT(compose(&b, &out, &r), 0);
	CHECK_INT(ds_block(&r.parts[1], 1, &blk, &n), 0);
	CHECK_FIELD(blk, n, "Final-Recipient",
		"utf-8; j\\x{F6}rg\\x{2B}x\\x{3D}y@b\\x{FC}cher.example");
	for (i = 0; i < r.parts[1].body_len; i++)
		ds8 |= (unsigned char)r.parts[1].body[i] >= 0x80;
	CHECK_INT(ds8, 0);
	CHECK_FIELD(r.parts[0].hdr, r.parts[0].hdr_len, "Content-Type",
		"text/plain; charset=utf-8");
	CHECK_FIELD(r.parts[0].hdr, r.parts[0].hdr_len,
		"Content-Transfer-Encoding", "8bit");
	CHECK(find_mem(r.parts[0].body, r.parts[0].body_len, rc[0].addr,
		      strlen(rc[0].addr)) >= 0);
	bounce_scan_8bit(out.data, out.len, &has8, &hdr8);
	CHECK_INT(has8, 1);
	CHECK_INT(hdr8, 0);
	buf_release(&out);

	/* a UTF-8 envelope sender puts 8-bit into the report's header */
	b.to = "j\xc3\xb6rg@client.test";
	CHECK_INT(compose(&b, &out, &r), 0);
	bounce_scan_8bit(out.data, out.len, &has8, &hdr8);
	CHECK_INT(hdr8, 1);
	buf_release(&out);
}

/* Refused input: ERR_DATA (with text in its message), and out keeps what
   it had. */
static void
expect_refused_text(const struct bounce *b, const char *why, const char *text)
{
	struct buf out;
	struct error err;

	buf_init(&out, 1024 * 1024);
	buf_addstr(&out, "kept");
	error_clear(&err);
	if (bounce_compose(b, &out, &err) != -1 || err.cls != ERR_DATA ||
		(text && strstr(err.text, text) == NULL)) {
		check_failed++;
		fprintf(stderr, "%s:%d: FAIL: not refused: %s\n", __FILE__,
			__LINE__, why);
	} else {
		check_passed++;
	}
	CHECK_INT(out.len, 4);
	CHECK_STR(out.data, "kept");
	buf_release(&out);
}

static void
expect_refused(const struct bounce *b, const char *why)
{
	expect_refused_text(b, why, NULL);
}

/* A CR or LF in any value would inject header fields or MIME parts. */
static void
test_injection_refused(void)
{
	struct bounce_rcpt rc[2];
	struct bounce b;

	bounce_sample(&b);
	b.from = "a@b\r\nBcc: victim@example.org";
	expect_refused_text(&b, "CRLF in from", "line break");
	bounce_sample(&b);
	b.to = "a@b\nX: y";
	expect_refused_text(&b, "LF in to", "line break");
	bounce_sample(&b);
	b.reason = "why\r\n\r\n--fake boundary";
	expect_refused_text(&b, "CRLF in reason", "line break");
	bounce_sample(&b);
	b.reporting_mta = "host\rX";
	expect_refused_text(&b, "CR in reporting_mta", "line break");
	bounce_sample(&b);
	b.remote_mta = "mx\n";
	expect_refused_text(&b, "LF in remote_mta", "line break");
	bounce_sample(&b);
	b.queue_id = "id\r\n";
	expect_refused_text(&b, "CRLF in queue_id", "line break");
	bounce_sample(&b);
	b.header = "A: b\nC: d\r\n";
	b.header_len = strlen(b.header);
	expect_refused(&b, "bare LF in header");
	b.header = "A: b\rC: d\r\n";
	expect_refused(&b, "bare CR in header");

	memcpy(rc, two_rcpts, sizeof(rc));
	bounce_sample(&b);
	b.rcpts = rc;
	rc[1].diagnostic = "550 5.1.1 x\r\nAction: delivered";
	expect_refused_text(&b, "CRLF in diagnostic", "line break");
	memcpy(rc, two_rcpts, sizeof(rc));
	rc[0].addr = "a@b\r\nFinal-Recipient: rfc822; c@d";
	expect_refused_text(&b, "CRLF in recipient", "line break");
}

/* Other bad input: missing fields, bad status, invalid UTF-8, nothing
   to report, the null sender, an unusable Message-ID domain. */
static void
test_bad_input_refused(void)
{
	struct bounce_rcpt rc[2];
	struct bounce b;
	char longline[1100];

	memcpy(rc, two_rcpts, sizeof(rc));
	bounce_sample(&b);
	b.rcpts = rc;
	rc[0].status = "2.0.0";
	expect_refused(&b, "status class 2");
	rc[0].status = "5.1";
	expect_refused(&b, "status 5.1");
	rc[0].status = "5.1.1 x";
	expect_refused(&b, "status with text");
	rc[0].status = "5.1234.1";
	expect_refused(&b, "status with a 4-digit subject");
	memcpy(rc, two_rcpts, sizeof(rc));
	rc[0].addr = "a\xff@example.org";
	expect_refused(&b, "invalid UTF-8 recipient");
	rc[0].addr = "a\x01@example.org";
	expect_refused(&b, "control character in recipient");
	rc[0].addr = "";
	expect_refused(&b, "empty recipient");

	bounce_sample(&b);
	b.nrcpts = 0;
	expect_refused(&b, "no recipients");
	bounce_sample(&b);
	b.to = "";
	expect_refused(&b, "null sender");
	bounce_sample(&b);
	b.reporting_mta = "two words";
	expect_refused(&b, "blank in reporting_mta");
	bounce_sample(&b);
	b.msgid_domain = "no domain";
	expect_refused(&b, "bad Message-ID domain");
	bounce_sample(&b);
	memcpy(longline, "X: ", 3);
	memset(longline + 3, 'a', 1000);
	memcpy(longline + 1003, "\r\n", 2);
	b.header = longline;
	b.header_len = 1005;
	expect_refused(&b, "header line over 998");
}

/* The cap on out is kept at every size: the report is whole, or
   ERR_SOFTWARE and out as it was. */
static void
test_cap(void)
{
	struct bounce b;
	struct buf out;
	struct error err;
	size_t max, ok = 0, refused = 0;
	int r;

	bounce_sample(&b);
	for (max = 4; max < 4000; max += 3) {
		buf_init(&out, max);
		buf_addstr(&out, "kept");
		error_clear(&err);
		r = bounce_compose(&b, &out, &err);
		if (r == 0) {
			ok++;
			CHECK(out.len > 4 && memcmp(out.data, "kept", 4) == 0);
		} else {
			refused++;
			CHECK_INT(err.cls, ERR_SOFTWARE);
			CHECK_INT(out.len, 4);
			CHECK_STR(out.data, "kept");
		}
		buf_release(&out);
	}
	CHECK(ok > 0 && refused > 0);
}

/*
 * The test's own getrandom(2), found before the C library's: while
 * fixed_random is set, message_make_msgid's 64 random bits (and so the
 * boundary) are known in advance, as an attacker would need them.
 */
static int fixed_random;
static unsigned char counter_random;

ssize_t
getrandom(void *buf, size_t len, unsigned int flags)
{
	(void)flags;
	memset(buf, fixed_random ? 0x5a : ++counter_random, len);
	return (ssize_t)len;
}

/* A header that holds the boundary the report would use gets another
   one: RFC 2046 §5.1.1, the boundary must not occur in any part. */
static void
test_boundary_clash(void)
{
	struct bounce b;
	struct buf out;
	struct report r;
	struct tm tm;
	char hdr[512], guess[128];
	size_t i;

	bounce_sample(&b);
	gmtime_r(&b.now, &tm);
	snprintf(guess, sizeof(guess),
		"=_postie.%04d%02d%02d%02d%02d%02d.%ld.5a5a5a5a5a5a5a5a",
		tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		tm.tm_min, tm.tm_sec, (long)getpid());
	snprintf(hdr, sizeof(hdr), "Subject: --%s.0\r\nX-Trap: %s.1--\r\n",
		guess, guess);
	b.header = hdr;
	b.header_len = strlen(hdr);
	fixed_random = 1;
	CHECK_INT(compose(&b, &out, &r), 0);
	fixed_random = 0;
	CHECK_INT(r.nparts, 3);
	CHECK(r.closed);
	CHECK(strncmp(r.boundary, guess, strlen(guess)) == 0);
	CHECK_STR(r.boundary + strlen(guess), ".2");
	for (i = 0; i < r.nparts; i++)
		CHECK(find_mem(r.parts[i].body, r.parts[i].body_len, r.boundary,
			      strlen(r.boundary)) < 0);
	CHECK_INT(r.parts[2].body_len, strlen(hdr));
	CHECK(memcmp(r.parts[2].body, hdr, strlen(hdr)) == 0);
	buf_release(&out);
}

/* Long prose folds to 78 columns in the text part. */
static void
test_text_wrapped(void)
{
	struct bounce b;
	struct buf out;
	struct report r;
	char reason[400];
	size_t i, col = 0, longest = 0;

	bounce_sample(&b);
	for (i = 0; i < sizeof(reason) - 1; i++)
		reason[i] = i % 9 == 8 ? ' ' : 'r';
	reason[sizeof(reason) - 1] = '\0';
	b.reason = reason;
	CHECK_INT(compose(&b, &out, &r), 0);
	for (i = 0; i < r.parts[0].body_len; i++) {
		if (r.parts[0].body[i] == '\r')
			col = 0;
		else if (r.parts[0].body[i] != '\n' && ++col > longest)
			longest = col;
	}
	CHECK(longest <= 78);
	buf_release(&out);
}

int
main(int argc, char **argv)
{
	struct bounce b;
	struct buf out;
	struct error err;
	FILE *f;

	/* "test_bounce --write FILE": a sample report for a by-hand check
	   with another parser (python3's email package). */
	if (argc == 3 && strcmp(argv[1], "--write") == 0) {
		bounce_sample(&b);
		buf_init(&out, 1024 * 1024);
		if (bounce_compose(&b, &out, &err) < 0 ||
			(f = fopen(argv[2], "wb")) == NULL)
			return 1;
		fwrite(out.data, 1, out.len, f);
		fclose(f);
		buf_release(&out);
		return 0;
	}
	setenv("TZ", "UTC", 1);
	tzset();
	test_top_header();
	test_structure();
	test_delivery_status();
	test_status_choice();
	test_expired();
	test_human_text();
	test_header_quoted();
	test_long_diagnostic();
	test_diagnostic_escaped();
	test_utf8_recipient();
	test_injection_refused();
	test_bad_input_refused();
	test_cap();
	test_text_wrapped();
	test_boundary_clash();
	return check_finish();
}
