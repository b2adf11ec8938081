/*
 * reply.c - SMTP reply lines (RFC 5321 §4.2) and EHLO capabilities
 * (RFC 5321 §4.1.1.1), parsed without any I/O.
 *
 * Everything here reads bytes a server chose, so every length is checked
 * against a stated cap and nothing is trusted to be printable.
 */
#include "autoconf.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "log.h"
#include "reply.h"

void
reply_init(struct reply *r)
{
	r->code = 0;
	r->enhanced[0] = '\0';
	buf_init(&r->text, REPLY_TEXT_MAX);
	r->nlines = 0;
	r->complete = 0;
}

void
reply_reset(struct reply *r)
{
	r->code = 0;
	r->enhanced[0] = '\0';
	buf_reset(&r->text);
	r->nlines = 0;
	r->complete = 0;
}

void
reply_release(struct reply *r)
{
	buf_release(&r->text);
	reply_init(r);
}

/* 1..3 digits, as RFC 3463 §2 allows for subject and detail. */
static size_t
reply_scan_digits(const char *p, size_t len, size_t max)
{
	size_t n = 0;

	while (n < len && n < max && isdigit((unsigned char)p[n]))
		n++;
	if (n < len && isdigit((unsigned char)p[n]))
		return 0; /* more digits than allowed */
	return n;
}

/*
 * Length of an RFC 3463 code "class.subject.detail" at the start of text,
 * including the blank after it, or 0. The class must agree with the
 * reply's first digit (§3: 2.X.X only on 2yz replies), so a greeting
 * naming a host like "2.example" is not mistaken for one.
 */
static size_t
reply_scan_enhanced(const char *text, size_t len, int code)
{
	size_t n, i = 0;

	if (len < 5 || text[0] != (char)('0' + code / 100) || text[1] != '.')
		return 0;
	i = 2;
	if ((n = reply_scan_digits(text + i, len - i, 3)) == 0)
		return 0;
	i += n;
	if (i >= len || text[i] != '.')
		return 0;
	i++;
	if ((n = reply_scan_digits(text + i, len - i, 3)) == 0)
		return 0;
	i += n;
	if (i == len)
		return i;
	if (text[i] != ' ')
		return 0;
	return i + 1;
}

/* Drop a leading enhanced code: the first line's is kept in r->enhanced;
   later lines repeating the same one (Postfix does) lose it as well. */
static void
reply_strip_enhanced(struct reply *r, const char **text, size_t *len)
{
	size_t n = reply_scan_enhanced(*text, *len, r->code);
	size_t elen;

	if (n == 0)
		return;
	elen = (*text)[n - 1] == ' ' ? n - 1 : n;
	if (r->nlines == 0) {
		if (elen >= sizeof(r->enhanced))
			return;
		memcpy(r->enhanced, *text, elen);
		r->enhanced[elen] = '\0';
	} else if (strlen(r->enhanced) != elen ||
		   memcmp(r->enhanced, *text, elen) != 0) {
		return;
	}
	*text += n;
	*len -= n;
}

/* "NNN" with NNN in 200..599; RFC 5321 §4.2 allows nothing else here
   (1yz replies do not exist in SMTP). */
static int
reply_parse_code(const char *line, size_t len)
{
	if (len < 3 || line[0] < '2' || line[0] > '5' ||
		!isdigit((unsigned char)line[1]) ||
		!isdigit((unsigned char)line[2]))
		return -1;
	return (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
}

static int
reply_check_line(struct reply *r, const char *line, size_t len, int code,
	struct error *err)
{
	char esc[64];

	if (code < 0 || (len > 3 && line[3] != ' ' && line[3] != '-')) {
		log_escape(esc, sizeof(esc), line, len < 40 ? len : 40);
		error_set(
			err, ERR_PROTOCOL, "malformed reply line \"%s\"", esc);
		return -1;
	}
	if (r->nlines > 0 && code != r->code) {
		error_set(err, ERR_PROTOCOL,
			"reply lines with different codes (%d, then %d)",
			r->code, code);
		return -1;
	}
	if (r->nlines >= REPLY_LINES_MAX) {
		error_set(err, ERR_PROTOCOL, "reply longer than %d lines",
			REPLY_LINES_MAX);
		return -1;
	}
	return 0;
}

int
reply_add_line(struct reply *r, const char *line, size_t len, struct error *err)
{
	int code = reply_parse_code(line, len);
	const char *text = len > 4 ? line + 4 : line + len;
	size_t tlen = len > 4 ? len - 4 : 0;

	if (r->complete)
		reply_reset(r);
	if (reply_check_line(r, line, len, code, err) < 0)
		return -1;
	r->code = code;
	reply_strip_enhanced(r, &text, &tlen);
	if ((r->nlines > 0 && buf_addch(&r->text, '\n') < 0) ||
		buf_append(&r->text, text, tlen) < 0) {
		error_set(err, ERR_PROTOCOL, "reply longer than %d bytes",
			REPLY_TEXT_MAX);
		return -1;
	}
	r->nlines++;
	r->complete = len == 3 || line[3] == ' ';
	return r->complete;
}

void
reply_join(const struct reply *r, struct buf *out)
{
	const char *p = r->text.data, *end = p + r->text.len;

	buf_printf(out, "%03d", r->code);
	if (r->enhanced[0])
		buf_printf(out, " %s", r->enhanced);
	if (r->text.len == 0)
		return;
	buf_addch(out, ' ');
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);

		buf_append(out, p, n);
		if (!nl)
			break;
		buf_addstr(out, " / ");
		p = nl + 1;
	}
}

char *
reply_format(const struct reply *r, char *dst, size_t size)
{
	struct buf joined;

	buf_init(&joined, (size_t)-1);
	reply_join(r, &joined);
	log_escape(dst, size, joined.data, joined.len);
	buf_release(&joined);
	return dst;
}

void
reply_to_error(const struct reply *r, enum err_class cls, const char *context,
	struct error *err)
{
	char said[ERROR_TEXT_MAX];

	reply_format(r, said, sizeof(said));
	if (context && context[0])
		error_set(err, cls, "%s: server said: %s", context, said);
	else
		error_set(err, cls, "server said: %s", said);
	err->smtp_code = r->code;
	memcpy(err->enhanced, r->enhanced, sizeof(err->enhanced));
}

/* RFC 4422 §3.1: SASL mechanism names are 1..20 of [A-Z0-9-_]. Anything
   else is dropped so it never reaches a command line or the log. */
static int
reply_valid_mech(const char *p, size_t len)
{
	size_t i;

	if (len == 0 || len > 20)
		return 0;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)toupper((unsigned char)p[i]);

		if (!isupper(c) && !isdigit(c) && c != '-' && c != '_')
			return 0;
	}
	return 1;
}

/* Add one mechanism to the space-separated list, upper-cased, once. */
static void
reply_add_mech(struct caps *caps, const char *p, size_t len)
{
	char mech[21];
	size_t have = strlen(caps->auth), i;
	const char *q;

	if (!reply_valid_mech(p, len))
		return;
	for (i = 0; i < len; i++)
		mech[i] = (char)toupper((unsigned char)p[i]);
	mech[len] = '\0';
	for (q = caps->auth; (q = strstr(q, mech)) != NULL; q += len)
		if ((q == caps->auth || q[-1] == ' ') &&
			(q[len] == ' ' || q[len] == '\0'))
			return;
	if (have + (have ? 1 : 0) + len + 1 > sizeof(caps->auth))
		return; /* past the cap: the list is long enough to choose from
			 */
	if (have)
		caps->auth[have++] = ' ';
	memcpy(caps->auth + have, mech, len + 1);
}

/* Every blank-separated word of p[0..len) as a mechanism. */
static void
reply_add_mechs(struct caps *caps, const char *p, size_t len)
{
	size_t i = 0, start;

	while (i < len) {
		while (i < len && p[i] == ' ')
			i++;
		start = i;
		while (i < len && p[i] != ' ')
			i++;
		if (i > start)
			reply_add_mech(caps, p + start, i - start);
	}
	caps->flags |= caps->auth[0] ? CAPS_AUTH : 0;
}

/* SIZE's optional argument (RFC 1870 §4); junk or absent means no
   limit announced, which is how 0 reads. */
static unsigned long long
reply_parse_size(const char *p, size_t len)
{
	char num[24];
	char *end;
	unsigned long long v;

	if (len == 0 || len >= sizeof(num) || !isdigit((unsigned char)p[0]))
		return 0;
	memcpy(num, p, len);
	num[len] = '\0';
	errno = 0;
	v = strtoull(num, &end, 10);
	if (errno != 0 || *end != '\0')
		return 0;
	return v;
}

static const struct {
	const char *name;
	unsigned flag;
} reply_keywords[] = {
	{"PIPELINING", CAPS_PIPELINING},
	{"SIZE", CAPS_SIZE},
	{"8BITMIME", CAPS_8BITMIME},
	{"DSN", CAPS_DSN},
	{"SMTPUTF8", CAPS_SMTPUTF8},
	{"STARTTLS", CAPS_STARTTLS},
	{"CHUNKING", CAPS_CHUNKING},
	{"BINARYMIME", CAPS_BINARYMIME},
	{"ENHANCEDSTATUSCODES", CAPS_ENHANCEDSTATUSCODES},
};

/* One EHLO line: keyword, then blank-separated parameters. */
static void
reply_parse_cap_line(struct caps *caps, const char *p, size_t len)
{
	size_t klen = 0, i;
	const char *args;
	size_t alen;

	while (klen < len && p[klen] != ' ' && p[klen] != '=')
		klen++;
	args = p + klen + (klen < len ? 1 : 0);
	alen = len - (size_t)(args - p);
	if (klen == 4 && strncasecmp(p, "AUTH", 4) == 0) {
		/* "AUTH=LOGIN PLAIN": the pre-RFC 4954 form some servers
		   still send beside the real one; both lists merge. */
		reply_add_mechs(caps, args, alen);
		return;
	}
	if (klen < len && p[klen] == '=')
		return;
	for (i = 0; i < sizeof(reply_keywords) / sizeof(reply_keywords[0]);
		i++) {
		if (strlen(reply_keywords[i].name) == klen &&
			strncasecmp(p, reply_keywords[i].name, klen) == 0)
			caps->flags |= reply_keywords[i].flag;
	}
	if (klen == 4 && strncasecmp(p, "SIZE", 4) == 0)
		caps->size_max = reply_parse_size(args, alen);
}

void
reply_parse_caps(const struct reply *r, struct caps *caps)
{
	const char *p = r->text.data, *end = p + r->text.len, *nl;

	memset(caps, 0, sizeof(*caps));
	/* The first line is the server's name and greeting, not a keyword. */
	nl = memchr(p, '\n', r->text.len);
	if (!nl)
		return;
	for (p = nl + 1; p < end; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			nl = end;
		reply_parse_cap_line(caps, p, (size_t)(nl - p));
	}
}
