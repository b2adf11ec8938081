/*
 * address.c - RFC 5322 address lists and RFC 5321 envelope mailboxes.
 *
 * The list parser is a recursive descent over (pointer, length) with one
 * position; every read goes through peek() or a loop bounded by len, so no
 * input can make it read past the end. A pre-scan refuses NUL, controls
 * and line breaks that are not folding before anything is parsed; after
 * it, CR and LF are plain blanks to the parser. Nothing recurses on the
 * input's nesting (comments are counted, groups do not nest), so deep
 * input cannot exhaust the stack.
 */
#include "autoconf.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <idn2.h>

#include "address.h"
#include "buf.h"
#include "xmalloc.h"

/* RFC 5321 §4.5.3.1.1-2: the limits a server must accept. */
#define LOCAL_MAX  64
#define DOMAIN_MAX 255
#define LABEL_MAX  63

struct parser {
	const char *s;
	size_t len;
	size_t pos;
	struct error *err;
};

enum item { ITEM_NONE, ITEM_WORD, ITEM_DOT };

/*
 * A run of words and dots with CFWS between them: what comes before '<',
 * ':' or '@' decides whether it was a display name, a group name or a
 * local part, so it is collected both ways at once.
 */
struct words {
	struct buf display; /* as address.h documents for display */
	struct buf local;   /* the local-part content: quotes removed */
	const char *bad;    /* why it cannot be a local part, or NULL */
	size_t bad_off;
	enum item last;
	int overflow; /* local grew past ADDRESS_MAILBOX_MAX */
};

static int
is_blank(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* RFC 5322 §3.2.3 atext, plus UTF8-non-ascii (RFC 6532 §3.2). */
static int
is_atext(int c)
{
	if (c < 0)
		return 0;
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		(c >= '0' && c <= '9') || c >= 0x80)
		return 1;
	return c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

static int
peek(const struct parser *p)
{
	return p->pos < p->len ? (unsigned char)p->s[p->pos] : -1;
}

/* A byte for an error message: 'x' when printable, else its value. */
static const char *
char_name(int c, char *out, size_t size)
{
	if (c < 0)
		snprintf(out, size, "end of input");
	else if (c > 0x20 && c < 0x7f)
		snprintf(out, size, "'%c'", c);
	else
		snprintf(out, size, "byte 0x%02X", (unsigned)c);
	return out;
}

static int parse_fail(struct parser *p, size_t off, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int
parse_fail(struct parser *p, size_t off, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	error_set(p->err, ERR_DATA, "%s at offset %zu", why, off);
	return -1;
}

static int
fail_unexpected(struct parser *p, const char *where)
{
	char name[16];
	int c = peek(p);

	if (c == ')' || c == '>')
		return parse_fail(p, p->pos, "unbalanced '%c'", c);
	return parse_fail(p, p->pos, "unexpected %s%s",
		char_name(c, name, sizeof(name)), where);
}

static int
fail_too_long(struct parser *p, size_t off)
{
	return parse_fail(
		p, off, "mailbox longer than %d bytes", ADDRESS_MAILBOX_MAX);
}

/*
 * Refuse what no part of the grammar allows, so the parser proper can
 * treat CR and LF as blanks: NUL (it would cut the string for every C
 * consumer), controls, and CR/LF that are not folding (RFC 5322 §2.2.3);
 * a line break not followed by a blank would start a new header field,
 * which is how header injection works.
 */
static int
parse_prescan(struct parser *p)
{
	size_t i;

	for (i = 0; i < p->len; i++) {
		unsigned char c = (unsigned char)p->s[i];
		int next = i + 1 < p->len ? (unsigned char)p->s[i + 1] : -1;

		if (c == '\0')
			return parse_fail(p, i, "NUL byte");
		if (c == '\r' && next != '\n')
			return parse_fail(p, i, "CR not followed by LF");
		if (c == '\n' && next != ' ' && next != '\t')
			return parse_fail(
				p, i, "line break not followed by white space");
		if ((c < 0x20 && c != '\t' && c != '\r' && c != '\n') ||
			c == 0x7f)
			return parse_fail(
				p, i, "control character 0x%02X", (unsigned)c);
	}
	return 0;
}

/* A comment (RFC 5322 §3.2.2), nested ones and quoted-pairs included. */
static int
skip_comment(struct parser *p)
{
	size_t start = p->pos, depth = 0;

	while (p->pos < p->len) {
		char c = p->s[p->pos++];

		if (c == '\\') {
			if (p->pos == p->len)
				break;
			p->pos++;
		} else if (c == '(') {
			depth++;
		} else if (c == ')' && --depth == 0) {
			return 0;
		}
	}
	return parse_fail(p, start, "unterminated comment opened");
}

/* Skip CFWS; *saw (when given) is set if anything was skipped. */
static int
skip_cfws(struct parser *p, int *saw)
{
	for (;;) {
		int c = peek(p);

		if (is_blank(c))
			p->pos++;
		else if (c != '(')
			return 0;
		else if (skip_comment(p) < 0)
			return -1;
		if (saw)
			*saw = 1;
	}
}

static void
words_init(struct words *w, size_t input_len)
{
	/* The display never outgrows the input: a space replaces at least
	   one skipped byte, quotes are copied, not added. */
	buf_init(&w->display, input_len + 1);
	buf_init(&w->local, ADDRESS_MAILBOX_MAX);
	w->bad = NULL;
	w->bad_off = 0;
	w->last = ITEM_NONE;
	w->overflow = 0;
}

static void
words_release(struct words *w)
{
	buf_release(&w->display);
	buf_release(&w->local);
}

static void
words_add(struct words *w, const char *raw, size_t rawlen, const char *val,
	size_t vallen)
{
	(void)buf_append(&w->display, raw, rawlen);
	if (buf_append(&w->local, val, vallen) < 0)
		w->overflow = 1;
}

/* obs-local-part (RFC 5322 §4.4): word *("." word), CFWS allowed. */
static void
words_check_local(struct words *w, enum item kind, size_t off, int saw)
{
	if (w->bad)
		return;
	if (kind == ITEM_WORD && w->last == ITEM_WORD && saw)
		w->bad = "unquoted space in local part (missing ',' or '<'?)";
	else if (kind == ITEM_WORD && w->last == ITEM_WORD)
		w->bad = "missing '.' between words in local part";
	else if (kind == ITEM_DOT && w->last == ITEM_NONE)
		w->bad = "local part starts with '.'";
	else if (kind == ITEM_DOT && w->last == ITEM_DOT)
		w->bad = "empty word between dots in local part";
	if (w->bad)
		w->bad_off = off;
}

/*
 * A quoted string: the display keeps it as written minus the line breaks
 * of folding (RFC 5322 §3.2.4 unfolding); the local part gets its content.
 */
static int
read_quoted(struct parser *p, struct words *w)
{
	size_t start = p->pos++;

	words_add(w, "\"", 1, "", 0);
	while (p->pos < p->len) {
		char c = p->s[p->pos++];

		if (c == '"') {
			words_add(w, "\"", 1, "", 0);
			return 0;
		}
		if (c == '\r' || c == '\n')
			continue;
		if (c == '\\') {
			if (p->pos == p->len)
				break;
			c = p->s[p->pos++];
			if (c == '\r' || c == '\n')
				return parse_fail(
					p, p->pos - 1, "line break after '\\'");
			words_add(w, "\\", 1, "", 0);
		}
		words_add(w, &c, 1, &c, 1);
	}
	return parse_fail(p, start, "unterminated quoted string opened");
}

static size_t
atom_len(const struct parser *p)
{
	size_t n = 0;

	while (p->pos + n < p->len && is_atext((unsigned char)p->s[p->pos + n]))
		n++;
	return n;
}

/*
 * Words, dots and CFWS up to the first other byte (RFC 5322 obs-phrase
 * and obs-local-part). Runs of CFWS between items become one space in the
 * display; comments and surrounding blanks vanish.
 */
static int
words_collect(struct parser *p, struct words *w)
{
	for (;;) {
		int saw = 0, c;
		enum item kind;

		if (skip_cfws(p, &saw) < 0)
			return -1;
		c = peek(p);
		if (c == '"' || is_atext(c))
			kind = ITEM_WORD;
		else if (c == '.')
			kind = ITEM_DOT;
		else
			break;
		if (w->last != ITEM_NONE && saw)
			(void)buf_addch(&w->display, ' ');
		words_check_local(w, kind, p->pos, saw);
		if (c == '"') {
			if (read_quoted(p, w) < 0)
				return -1;
		} else {
			size_t n = kind == ITEM_DOT ? 1 : atom_len(p);

			words_add(w, p->s + p->pos, n, p->s + p->pos, n);
			p->pos += n;
		}
		w->last = kind;
	}
	if (!w->bad && w->last == ITEM_DOT) {
		w->bad = "local part ends with '.'";
		w->bad_off = p->pos;
	}
	return 0;
}

/* RFC 5321 §4.1.2 Dot-string, with UTF-8 atoms (RFC 6531 §3.3). */
static int
is_dot_string(const char *s, size_t len)
{
	size_t i;
	int prev_dot = 1;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '.' && prev_dot)
			return 0;
		if (c != '.' && !is_atext(c))
			return 0;
		prev_dot = c == '.';
	}
	return len > 0 && !prev_dot;
}

/* The local part in its RFC 5321 form: quoted only when it must be. */
static int
local_emit(struct parser *p, const struct words *w, struct buf *mbox)
{
	size_t i;
	int rc = 0;

	if (w->last == ITEM_NONE)
		return parse_fail(p, p->pos, "empty local part");
	if (w->bad)
		return parse_fail(p, w->bad_off, "%s", w->bad);
	if (w->overflow)
		return fail_too_long(p, p->pos);
	if (w->local.len == 0)
		return parse_fail(p, p->pos, "empty local part");
	if (is_dot_string(w->local.data, w->local.len))
		rc = buf_append(mbox, w->local.data, w->local.len);
	else {
		rc |= buf_addch(mbox, '"');
		for (i = 0; i < w->local.len; i++) {
			char c = w->local.data[i];

			if (c == '"' || c == '\\')
				rc |= buf_addch(mbox, '\\');
			rc |= buf_addch(mbox, c);
		}
		rc |= buf_addch(mbox, '"');
	}
	return rc < 0 ? fail_too_long(p, p->pos) : 0;
}

/* domain-literal (RFC 5322 §3.4.1); FWS inside is dropped. */
static int
parse_literal(struct parser *p, struct buf *mbox)
{
	size_t start = p->pos++, first = mbox->len;
	int rc = buf_addch(mbox, '[');

	while (p->pos < p->len) {
		char c = p->s[p->pos];

		if (c == ']') {
			if (mbox->len == first + 1)
				return parse_fail(
					p, start, "empty domain literal");
			p->pos++;
			rc |= buf_addch(mbox, ']');
			return rc < 0 ? fail_too_long(p, start) : 0;
		}
		if (c == '[' || c == '\\')
			return parse_fail(
				p, p->pos, "'%c' in domain literal", c);
		if (!is_blank((unsigned char)c))
			rc |= buf_addch(mbox, c);
		p->pos++;
	}
	return parse_fail(p, start, "unterminated domain literal opened");
}

/*
 * '@' and the domain: dot-atom, obs-domain (CFWS around the dots) or a
 * domain literal. p->pos is at the '@'.
 */
static int
parse_domain(struct parser *p, struct buf *mbox)
{
	size_t at = p->pos++;

	if (buf_addch(mbox, '@') < 0)
		return fail_too_long(p, at);
	if (skip_cfws(p, NULL) < 0)
		return -1;
	if (peek(p) == '[')
		return parse_literal(p, mbox);
	for (;;) {
		size_t n = atom_len(p);

		if (n == 0 && mbox->data[mbox->len - 1] == '@')
			return parse_fail(p, p->pos, "empty domain");
		if (n == 0)
			return parse_fail(p, p->pos, "empty label in domain");
		if (buf_append(mbox, p->s + p->pos, n) < 0)
			return fail_too_long(p, p->pos);
		p->pos += n;
		if (skip_cfws(p, NULL) < 0)
			return -1;
		if (peek(p) != '.')
			return 0;
		if (buf_addch(mbox, '.') < 0)
			return fail_too_long(p, p->pos);
		p->pos++;
		if (skip_cfws(p, NULL) < 0)
			return -1;
	}
}

/* The local part collected in w, then "@domain" if one follows. */
static int
mailbox_finish(struct parser *p, const struct words *w, struct buf *mbox)
{
	if (local_emit(p, w, mbox) < 0)
		return -1;
	if (peek(p) == '@')
		return parse_domain(p, mbox);
	return 0;
}

/*
 * obs-route (RFC 5322 §4.4): "@a.example,@b.example:" before the
 * addr-spec. RFC 5321 §4.1.1.3 says to ignore source routes, so the
 * domains are checked and dropped.
 */
static int
skip_route(struct parser *p)
{
	struct buf scratch;
	size_t domains = 0;
	int rc = -1;

	buf_init(&scratch, p->len + 1);
	for (;;) {
		int c;

		if (skip_cfws(p, NULL) < 0)
			break;
		c = peek(p);
		if (c == ',') {
			p->pos++;
		} else if (c == '@') {
			buf_reset(&scratch);
			if (parse_domain(p, &scratch) < 0)
				break;
			domains++;
		} else if (c == ':' && domains > 0) {
			p->pos++;
			rc = 0;
			break;
		} else if (c == '>') {
			parse_fail(
				p, p->pos, "source route without an address");
			break;
		} else {
			fail_unexpected(p, " in source route");
			break;
		}
	}
	buf_release(&scratch);
	return rc;
}

/*
 * Append one address. The array grows to the next power of two whenever
 * n reaches one (from 4), so the capacity needs no field of its own.
 */
static void
list_add(struct address_list *l, const char *display, const char *mailbox,
	const char *group)
{
	struct address *a;

	if (l->n == 0 || (l->n >= 4 && (l->n & (l->n - 1)) == 0))
		l->v = xreallocarray(l->v, l->n ? l->n * 2 : 4, sizeof(*l->v));
	a = &l->v[l->n++];
	a->display = display && *display ? xstrdup(display) : NULL;
	a->mailbox = xstrdup(mailbox);
	a->group = group ? xstrdup(group) : NULL;
}

/* Drop addresses appended after the first n. */
static void
list_truncate(struct address_list *l, size_t n)
{
	while (l->n > n)
		address_release(&l->v[--l->n]);
	if (l->n == 0) {
		free(l->v);
		l->v = NULL;
	}
}

/* name-addr / angle-addr: p->pos is at '<'; w holds the display name. */
static int
parse_angle(struct parser *p, const struct words *w, struct address_list *out,
	const char *group)
{
	struct words local;
	struct buf mbox;
	size_t open = p->pos++;
	int rc = -1, c;

	words_init(&local, p->len);
	buf_init(&mbox, ADDRESS_MAILBOX_MAX);
	if (skip_cfws(p, NULL) < 0)
		goto done;
	c = peek(p);
	if (c == '>') {
		parse_fail(p, open, "empty address '<>'");
		goto done;
	}
	if ((c == '@' || c == ',') && skip_route(p) < 0)
		goto done;
	if (words_collect(p, &local) < 0 ||
		mailbox_finish(p, &local, &mbox) < 0)
		goto done;
	if (skip_cfws(p, NULL) < 0)
		goto done;
	if (peek(p) != '>') {
		if (peek(p) < 0)
			parse_fail(p, open, "missing '>' for '<'");
		else
			fail_unexpected(p, ", expected '>'");
		goto done;
	}
	p->pos++;
	list_add(out, w->display.data, mbox.data, group);
	rc = 0;
done:
	buf_release(&mbox);
	words_release(&local);
	return rc;
}

/* An addr-spec or unqualified name whose local part is already in w. */
static int
parse_bare(struct parser *p, const struct words *w, struct address_list *out,
	const char *group)
{
	struct buf mbox;
	int rc;

	buf_init(&mbox, ADDRESS_MAILBOX_MAX);
	rc = mailbox_finish(p, w, &mbox);
	if (rc == 0)
		list_add(out, NULL, mbox.data, group);
	buf_release(&mbox);
	return rc;
}

static int parse_elements(
	struct parser *p, struct address_list *out, const char *group);

/*
 * group (RFC 5322 §3.4): p->pos is at ':'. A missing ';' at the end of
 * input closes the group: the RFC requires it, but "team: a@x" as an
 * argument has only one meaning.
 */
static int
parse_group(struct parser *p, const struct words *name,
	struct address_list *out, const char *outer)
{
	if (outer)
		return parse_fail(p, p->pos, "group inside a group");
	if (name->last == ITEM_NONE)
		return parse_fail(p, p->pos, "group without a name");
	p->pos++;
	if (parse_elements(p, out, name->display.data) < 0)
		return -1;
	if (peek(p) == ';')
		p->pos++;
	return 0;
}

/* One list element: a mailbox, a group, or nothing (obs-addr-list). */
static int
parse_element(struct parser *p, struct address_list *out, const char *group)
{
	struct words w;
	int rc = -1, c;

	words_init(&w, p->len);
	if (words_collect(p, &w) < 0)
		goto done;
	c = peek(p);
	if (c == '<')
		rc = parse_angle(p, &w, out, group);
	else if (c == ':')
		rc = parse_group(p, &w, out, group);
	else if (c == '@')
		rc = parse_bare(p, &w, out, group);
	else if (c == ';' && !group)
		rc = parse_fail(p, p->pos, "';' outside a group");
	else if (c != -1 && c != ',' && c != ';')
		rc = fail_unexpected(p, "");
	else if (w.last == ITEM_NONE)
		rc = 0;
	else
		rc = parse_bare(p, &w, out, group);
done:
	words_release(&w);
	return rc;
}

/*
 * Elements separated by ',' up to the end of input or, inside a group,
 * up to its ';' (left for the caller).
 */
static int
parse_elements(struct parser *p, struct address_list *out, const char *group)
{
	for (;;) {
		int c;

		if (parse_element(p, out, group) < 0 || skip_cfws(p, NULL) < 0)
			return -1;
		c = peek(p);
		if (c == ',')
			p->pos++;
		else if (c == -1 || (group && c == ';'))
			return 0;
		else if (c == ';')
			return parse_fail(p, p->pos, "';' outside a group");
		else
			return fail_unexpected(
				p, " after address (missing ','?)");
	}
}

void
address_list_init(struct address_list *l)
{
	l->v = NULL;
	l->n = 0;
}

void
address_release(struct address *a)
{
	free(a->display);
	free(a->mailbox);
	free(a->group);
	a->display = a->mailbox = a->group = NULL;
}

void
address_list_release(struct address_list *l)
{
	list_truncate(l, 0);
}

struct dedupe_key {
	const char *mailbox;
	size_t index;
};

/* Equal mailboxes sort together, earliest first. */
static int
dedupe_compare(const void *a, const void *b)
{
	const struct dedupe_key *x = a, *y = b;
	int c = strcasecmp(x->mailbox, y->mailbox);

	if (c)
		return c;
	return (x->index > y->index) - (x->index < y->index);
}

void
address_list_dedupe(struct address_list *l)
{
	struct dedupe_key *keys;
	char *drop;
	size_t i, kept = 0;

	if (l->n < 2)
		return;
	keys = xcalloc(l->n, sizeof(*keys));
	drop = xcalloc(l->n, 1);
	for (i = 0; i < l->n; i++) {
		keys[i].mailbox = l->v[i].mailbox;
		keys[i].index = i;
	}
	qsort(keys, l->n, sizeof(*keys), dedupe_compare);
	for (i = 1; i < l->n; i++)
		if (strcasecmp(keys[i].mailbox, keys[i - 1].mailbox) == 0)
			drop[keys[i].index] = 1;
	/* Compacting in place keeps n a count the growth rule still fits:
	   the array is only ever larger than list_add needs. */
	for (i = 0; i < l->n; i++) {
		if (drop[i])
			address_release(&l->v[i]);
		else
			l->v[kept++] = l->v[i];
	}
	l->n = kept;
	free(keys);
	free(drop);
}

int
address_parse_list(
	const char *s, size_t len, struct address_list *out, struct error *err)
{
	struct parser p = {s, len, 0, err};
	size_t before = out->n;

	if (parse_prescan(&p) < 0 || parse_elements(&p, out, NULL) < 0) {
		list_truncate(out, before);
		return -1;
	}
	return 0;
}

int
address_parse_one(
	const char *s, size_t len, struct address *out, struct error *err)
{
	struct address_list l;
	int rc = -1;

	address_list_init(&l);
	if (address_parse_list(s, len, &l, err) < 0)
		goto done;
	if (l.n != 1) {
		error_set(err, ERR_DATA, "%s",
			l.n ? "more than one address" : "no address");
		goto done;
	}
	*out = l.v[0];
	l.n = 0;
	rc = 0;
done:
	address_list_release(&l);
	return rc;
}

/* --- RFC 5321 envelope checks ------------------------------------------ */

/* Quoted-string (RFC 5321 §4.1.2, RFC 6531 §3.3); returns its length. */
static size_t
envelope_quoted(const char *m, char *why, size_t size)
{
	size_t i = 1;

	for (;;) {
		unsigned char c = (unsigned char)m[i++];

		if (c == '\0') {
			snprintf(why, size, "unterminated quoted string");
			return 0;
		}
		if (c == '"')
			break;
		if (c == '\\' && ((unsigned char)m[i] < 0x20 ||
					 (unsigned char)m[i] > 0x7e)) {
			snprintf(why, size, "bad quoted pair in local part");
			return 0;
		}
		if (c == '\\')
			i++;
	}
	if (i == 2) {
		snprintf(why, size, "empty local part");
		return 0;
	}
	if (m[i] != '\0' && m[i] != '@') {
		snprintf(why, size, "'%c' after quoted local part", m[i]);
		return 0;
	}
	return i;
}

/* Dot-string; returns its length, 0 with why set when invalid. */
static size_t
envelope_dot_string(const char *m, char *why, size_t size)
{
	size_t i;
	int prev_dot = 1;

	for (i = 0; m[i] != '\0' && m[i] != '@'; i++) {
		unsigned char c = (unsigned char)m[i];

		if (c == '.' && prev_dot) {
			snprintf(why, size, "%s",
				i ? "'..' in local part"
				  : "local part starts with '.'");
			return 0;
		}
		if (c == ' ') {
			snprintf(why, size, "unquoted space in local part");
			return 0;
		}
		if (c != '.' && !is_atext(c)) {
			snprintf(why, size,
				"'%c' not allowed in an unquoted "
				"local part",
				c);
			return 0;
		}
		prev_dot = c == '.';
	}
	if (i == 0)
		snprintf(why, size, "empty local part");
	else if (prev_dot)
		snprintf(why, size, "local part ends with '.'");
	return prev_dot ? 0 : i;
}

/* IPv4-address-literal: four Snum of 1-3 digits, each <= 255. */
static int
envelope_ipv4(const char *s, size_t len)
{
	size_t i = 0;
	int part;

	for (part = 0; part < 4; part++) {
		unsigned value = 0, digits = 0;

		if (part > 0 && (i >= len || s[i++] != '.'))
			return 0;
		while (i < len && s[i] >= '0' && s[i] <= '9' && digits < 4) {
			value = value * 10 + (unsigned)(s[i++] - '0');
			digits++;
		}
		if (digits == 0 || digits > 3 || value > 255)
			return 0;
	}
	return i == len;
}

/* address-literal (RFC 5321 §4.1.3): d points at '['. */
static int
envelope_literal(const char *d, char *why, size_t size)
{
	size_t len = strlen(d);
	char ip6[64];
	unsigned char bin[16];

	if (len < 2 || d[len - 1] != ']') {
		snprintf(why, size, "address literal without ']' at the end");
		return -1;
	}
	d++;
	len -= 2;
	if (len >= 5 && strncasecmp(d, "IPv6:", 5) == 0) {
		if (len - 5 < sizeof(ip6)) {
			memcpy(ip6, d + 5, len - 5);
			ip6[len - 5] = '\0';
			if (inet_pton(AF_INET6, ip6, bin) == 1)
				return 0;
		}
		snprintf(why, size, "invalid IPv6 address literal");
		return -1;
	}
	if (memchr(d, ':', len)) {
		snprintf(why, size, "unknown address literal tag");
		return -1;
	}
	if (envelope_ipv4(d, len))
		return 0;
	snprintf(why, size, "invalid IPv4 address literal");
	return -1;
}

/* One sub-domain: Let-dig [Ldh-str], UTF-8 bytes allowed (U-labels). */
static int
envelope_label(const char *l, size_t len, char *why, size_t size)
{
	size_t i;

	if (len == 0) {
		snprintf(why, size, "empty label in domain");
		return -1;
	}
	if (len > LABEL_MAX) {
		snprintf(why, size, "domain label longer than %d bytes",
			LABEL_MAX);
		return -1;
	}
	if (l[0] == '-' || l[len - 1] == '-') {
		snprintf(why, size, "domain label starts or ends with '-'");
		return -1;
	}
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)l[i];

		if (c != '-' &&
			(c < 0x80 && !(c >= '0' && c <= '9') &&
				!((c | 0x20) >= 'a' && (c | 0x20) <= 'z'))) {
			snprintf(why, size, "'%c' not allowed in domain", c);
			return -1;
		}
	}
	return 0;
}

static int
envelope_domain(const char *d, char *why, size_t size)
{
	size_t len = strlen(d);

	if (len == 0) {
		snprintf(why, size, "empty domain");
		return -1;
	}
	if (d[0] == '[')
		return envelope_literal(d, why, size);
	if (len > DOMAIN_MAX) {
		snprintf(why, size, "domain longer than %d bytes", DOMAIN_MAX);
		return -1;
	}
	for (;;) {
		const char *dot = strchr(d, '.');
		size_t n = dot ? (size_t)(dot - d) : strlen(d);

		if (envelope_label(d, n, why, size) < 0)
			return -1;
		if (!dot)
			return 0;
		d = dot + 1;
	}
}

/* The first reason m is not an RFC 5321 Mailbox, or 0 if it is one. */
static int
envelope_problem(const char *m, char *why, size_t size)
{
	size_t i, local;

	if (m[0] == '\0') {
		snprintf(why, size, "empty address");
		return -1;
	}
	for (i = 0; m[i] != '\0'; i++) {
		unsigned char c = (unsigned char)m[i];

		if (c == '\r' || c == '\n' || c < 0x20 || c == 0x7f) {
			snprintf(why, size, "%s",
				c == '\r'   ? "contains CR"
				: c == '\n' ? "contains LF"
					    : "contains a control character");
			return -1;
		}
		if (c == '<' || c == '>') {
			snprintf(why, size, "contains '%c'", c);
			return -1;
		}
	}
	local = m[0] == '"' ? envelope_quoted(m, why, size)
			    : envelope_dot_string(m, why, size);
	if (local == 0)
		return -1;
	if (local > LOCAL_MAX) {
		snprintf(why, size, "local part longer than %d bytes",
			LOCAL_MAX);
		return -1;
	}
	if (m[local] == '\0')
		return 0;
	return envelope_domain(m + local + 1, why, size);
}

int
address_check_envelope(const char *mailbox, struct error *err)
{
	char why[128], esc[256];

	if (envelope_problem(mailbox, why, sizeof(why)) == 0)
		return 0;
	log_escape(esc, sizeof(esc), mailbox, strlen(mailbox));
	error_set(err, ERR_DATA, "invalid address '%s': %s", esc, why);
	return -1;
}

int
address_idna_to_ascii(const char *in, char **out, struct error *err)
{
	char esc[256], *ace = NULL;
	const char *p;
	int r;

	for (p = in; *p && (unsigned char)*p < 0x80; p++)
		;
	if (*p == '\0') {
		*out = xstrdup(in);
		return 0;
	}
	r = idn2_to_ascii_8z(in, &ace, IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT);
	if (r != IDN2_OK) {
		log_escape(esc, sizeof(esc), in, strlen(in));
		error_set(err, ERR_DATA,
			"'%s': not a valid international domain name (%s)", esc,
			idn2_strerror(r));
		return -1;
	}
	/* libidn2's memory goes back to libidn2; ours is xmalloc'd. */
	*out = xstrdup(ace);
	idn2_free(ace);
	return 0;
}
