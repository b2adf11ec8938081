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
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

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
	else if (c == '@') /* as the last arm, before specials are judged */
		/* NOLINTNEXTLINE(bugprone-branch-clone) */
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
	size_t local_len; /* bytes before the last '@' (all when none) */
	size_t index;
};

/*
 * The length of the local part: a quoted one may hold '@' itself, so it
 * ends at its closing quote; an unquoted one at its '@' (a dot-string
 * has none). Anything malformed falls back to the last '@'.
 */
static size_t
local_part_len(const char *mailbox)
{
	const char *at;
	size_t i = 1;

	if (mailbox[0] == '"') {
		while (mailbox[i] && mailbox[i] != '"')
			i += mailbox[i] == '\\' && mailbox[i + 1] ? 2 : 1;
		if (mailbox[i] == '"' &&
			(mailbox[i + 1] == '@' || mailbox[i + 1] == '\0'))
			return i + 1;
	}
	at = strrchr(mailbox, '@');
	return at ? (size_t)(at - mailbox) : strlen(mailbox);
}

/* Whether a mailbox is qualified: "root" and "\"a@b\"" are not. */
static int
mailbox_has_domain(const char *mailbox)
{
	return mailbox[local_part_len(mailbox)] == '@';
}

/*
 * RFC 5321 §2.4: the local part may be case-sensitive, so it is compared
 * byte for byte; the domain is not. A mailbox without '@' sorts before
 * the same local part with a domain, and never equals it.
 */
static int
dedupe_order(const struct dedupe_key *x, const struct dedupe_key *y)
{
	size_t n = x->local_len < y->local_len ? x->local_len : y->local_len;
	int c = memcmp(x->mailbox, y->mailbox, n);
	const char *dx, *dy;

	if (c)
		return c;
	if (x->local_len != y->local_len)
		return x->local_len < y->local_len ? -1 : 1;
	dx = x->mailbox + x->local_len;
	dy = y->mailbox + y->local_len;
	if (*dx == '\0' || *dy == '\0')
		return (*dx != '\0') - (*dy != '\0');
	return strcasecmp(dx + 1, dy + 1);
}

/* Equal mailboxes sort together, earliest first. */
static int
dedupe_compare(const void *a, const void *b)
{
	const struct dedupe_key *x = a, *y = b;
	int c = dedupe_order(x, y);

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
		keys[i].local_len = local_part_len(l->v[i].mailbox);
		keys[i].index = i;
	}
	qsort(keys, l->n, sizeof(*keys), dedupe_compare);
	for (i = 1; i < l->n; i++)
		if (dedupe_order(&keys[i], &keys[i - 1]) == 0)
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

		if (c < 0x20 || c == 0x7f) {
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
	/* RFC 6531 §3.3: a non-ASCII address is UTF-8; anything else is
	   bytes no server can interpret (and no IDNA can map). */
	i = address_utf8_check(m, strlen(m));
	if (m[i] != '\0') {
		snprintf(why, size, "not UTF-8 (byte 0x%02x at offset %zu)",
			(unsigned char)m[i], i);
		return -1;
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

/* A new "local@domain" from the first local_len bytes of local. */
static char *
mailbox_join(const char *local, size_t local_len, const char *domain)
{
	size_t dlen = strlen(domain);
	char *m = xmalloc(local_len + dlen + 2);

	memcpy(m, local, local_len);
	m[local_len] = '@';
	memcpy(m + local_len + 1, domain, dlen + 1);
	return m;
}

size_t
address_utf8_char(const char *s, size_t len, uint32_t *cp)
{
	const unsigned char *p = (const unsigned char *)s;
	uint32_t c, min;
	size_t n, i;

	if (p[0] < 0x80) {
		n = 1, c = p[0], min = 0;
	} else if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		n = 2, c = p[0] & 0x1fu, min = 0x80;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		n = 3, c = p[0] & 0x0fu, min = 0x800;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4, c = p[0] & 0x07u, min = 0x10000;
	} else {
		return 0;
	}
	if (len < n)
		return 0;
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (p[i] & 0x3fu);
	}
	/* RFC 3629 §3: no overlong forms, no surrogates, nothing past
	   U+10FFFF. */
	if (c < min || (c >= 0xd800 && c <= 0xdfff) || c > 0x10ffff)
		return 0;
	if (cp)
		*cp = c;
	return n;
}

size_t
address_utf8_check(const char *s, size_t len)
{
	size_t i = 0, n;

	while (i < len) {
		n = address_utf8_char(s + i, len - i, NULL);
		if (n == 0)
			return i;
		i += n;
	}
	return len;
}

int
address_is_ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			return 0;
	return 1;
}

int
address_local_is_ascii(const char *mailbox)
{
	size_t i, n = local_part_len(mailbox);

	for (i = 0; i < n; i++)
		if ((unsigned char)mailbox[i] >= 0x80)
			return 0;
	return 1;
}

/*
 * Whether an all-ASCII domain needs libidn2 to look at it: only when a
 * label claims to be an A-label (RFC 5890 §2.3.2.1), which a sender could
 * forge to smuggle a name IDNA 2008 forbids.
 */
static int
domain_has_alabel(const char *d)
{
	for (;;) {
		if (strncasecmp(d, "xn--", 4) == 0)
			return 1;
		d = strchr(d, '.');
		if (!d)
			return 0;
		d++;
	}
}

/* libidn2 passes "a..b" and "a." through untouched; the envelope may not. */
static int
domain_has_empty_label(const char *d)
{
	size_t len = strlen(d);

	return len == 0 || d[0] == '.' || d[len - 1] == '.' ||
	       strstr(d, "..") != NULL;
}

static int
domain_fail(const char *mailbox, const char *domain, const char *why,
	struct error *err)
{
	char esc[256], desc[256];

	log_escape(esc, sizeof(esc), mailbox, strlen(mailbox));
	log_escape(desc, sizeof(desc), domain, strlen(domain));
	error_set(err, ERR_DATA, "'%s': invalid domain name '%s' (%s)", esc,
		desc, why);
	return -1;
}

int
address_domain_to_ascii(const char *mailbox, char **out, struct error *err)
{
	size_t local = local_part_len(mailbox);
	const char *domain = mailbox + local + 1;
	char *ace = NULL;
	int r;

	*out = NULL;
	if (mailbox[local] == '\0' || domain[0] == '[') {
		*out = xstrdup(mailbox);
		return 0;
	}
	if (domain_has_empty_label(domain))
		return domain_fail(mailbox, domain, "empty label", err);
	if (address_is_ascii(domain) && !domain_has_alabel(domain)) {
		*out = xstrdup(mailbox);
		return 0;
	}
	r = idn2_to_ascii_8z(
		domain, &ace, IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT);
	if (r != IDN2_OK)
		return domain_fail(mailbox, domain, idn2_strerror(r), err);
	/* A checked all-ASCII name keeps its spelling; only U-labels change. */
	*out = mailbox_join(
		mailbox, local, address_is_ascii(domain) ? domain : ace);
	idn2_free(ace);
	return 0;
}

/* --- aliases ------------------------------------------------------------ */

struct alias_entry {
	char *name;
	size_t line; /* where the entry starts, for messages */
	struct address_list targets;
};

/* The entry being read: its name line, and its text across continuations. */
struct alias_reader {
	struct aliases *a;
	const char *path;
	struct error *err;
	char *name; /* NULL before the first entry */
	size_t line;
	struct buf value;
};

void
aliases_init(struct aliases *a)
{
	a->path = NULL;
	a->v = NULL;
	a->n = 0;
	a->fallback = NULL;
}

void
aliases_release(struct aliases *a)
{
	size_t i;

	for (i = 0; i < a->n; i++) {
		free(a->v[i].name);
		address_list_release(&a->v[i].targets);
	}
	free(a->v);
	free(a->path);
	aliases_init(a);
}

static int alias_fail(const struct alias_reader *r, size_t line,
	const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int
alias_fail(const struct alias_reader *r, size_t line, const char *fmt, ...)
{
	char why[ERROR_TEXT_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	error_set(r->err, ERR_CONFIG, "%s:%zu: %s", r->path, line, why);
	return -1;
}

/*
 * Targets a sendmail aliases file may hold but only a local delivery
 * agent can honour; sending them on as addresses would mail "|cmd@domain".
 */
static int
alias_check_targets(const struct alias_reader *r, const struct address_list *l)
{
	struct error e;
	size_t i;

	if (l->n == 0)
		return alias_fail(
			r, r->line, "alias '%s' has no addresses", r->name);
	for (i = 0; i < l->n; i++) {
		const char *m = l->v[i].mailbox;

		if (m[0] == '|' || m[0] == '/')
			return alias_fail(r, r->line,
				"alias '%s': pipes and files need a local "
				"delivery agent; postie only sends mail",
				r->name);
		if (address_check_envelope(m, &e) < 0)
			return alias_fail(
				r, r->line, "alias '%s': %s", r->name, e.text);
	}
	return 0;
}

/* The entry read so far, if any, parsed and added to the set. */
static int
alias_finish(struct alias_reader *r)
{
	struct address_list l;
	struct alias_entry *e;
	struct error pe;

	if (!r->name)
		return 0;
	address_list_init(&l);
	if (strstr(r->value.data, ":include:"))
		return alias_fail(r, r->line,
			"alias '%s': :include: needs a local delivery agent; "
			"postie only sends mail",
			r->name);
	if (address_parse_list(r->value.data, r->value.len, &l, &pe) < 0)
		return alias_fail(
			r, r->line, "alias '%s': %s", r->name, pe.text);
	if (alias_check_targets(r, &l) < 0) {
		address_list_release(&l);
		return -1;
	}
	r->a->v = xreallocarray(r->a->v, r->a->n + 1, sizeof(*r->a->v));
	e = &r->a->v[r->a->n++];
	e->name = r->name;
	e->line = r->line;
	e->targets = l;
	r->name = NULL;
	return 0;
}

/* An alias name is what it replaces: an unquoted, unqualified local part. */
static int
alias_name_valid(const char *s, size_t len)
{
	return len > 0 && len <= LOCAL_MAX && is_dot_string(s, len);
}

static int
alias_append(struct alias_reader *r, const char *s, size_t len)
{
	if (buf_append(&r->value, s, len) == 0)
		return 0;
	return alias_fail(r, r->line, "alias '%s' is longer than %d bytes",
		r->name, ALIASES_ENTRY_MAX);
}

/* "name: addresses" starts an entry. */
static int
alias_start(struct alias_reader *r, const char *s, size_t len, size_t line)
{
	const char *colon = memchr(s, ':', len);
	size_t n;
	char esc[128];

	if (alias_finish(r) < 0)
		return -1;
	if (!colon)
		return alias_fail(r, line, "expected 'name: address, ...'");
	for (n = (size_t)(colon - s); n > 0 && is_blank(s[n - 1]); n--)
		;
	if (!alias_name_valid(s, n))
		return alias_fail(r, line, "invalid alias name '%s'",
			log_escape(esc, sizeof(esc), s, n));
	r->name = xstrndup(s, n);
	r->line = line;
	buf_reset(&r->value);
	return alias_append(r, colon + 1, len - (size_t)(colon - s) - 1);
}

/*
 * One line, without its line end. A line that starts with a blank
 * continues the entry before it (RFC 5322 folding, as sendmail reads
 * aliases); comments and blank lines in between do not end the entry.
 */
static int
alias_line(struct alias_reader *r, const char *s, size_t len, size_t line)
{
	size_t i = 0;

	if (len > 0 && s[len - 1] == '\r')
		len--;
	if (memchr(s, '\0', len))
		return alias_fail(r, line, "NUL byte");
	while (i < len && (s[i] == ' ' || s[i] == '\t'))
		i++;
	if (i == len || s[i] == '#')
		return 0;
	if (i == 0)
		return alias_start(r, s, len, line);
	if (!r->name)
		return alias_fail(r, line,
			"continuation line without an alias before it");
	/* A space, not the line break, joins the lines: the parser would
	   take a lone LF before a blank as folding anyway. */
	if (alias_append(r, " ", 1) < 0)
		return -1;
	return alias_append(r, s + i, len - i);
}

static int
alias_compare(const void *x, const void *y)
{
	const struct alias_entry *a = x, *b = y;

	return strcasecmp(a->name, b->name);
}

/* Sort for lookups, refuse a name defined twice, find "default". */
static int
alias_index(struct alias_reader *r)
{
	struct aliases *a = r->a;
	size_t i;

	if (a->n == 0)
		return 0;
	qsort(a->v, a->n, sizeof(*a->v), alias_compare);
	for (i = 1; i < a->n; i++) {
		const struct alias_entry *x = &a->v[i - 1], *y = &a->v[i];
		const struct alias_entry *later = x->line > y->line ? x : y;

		if (strcasecmp(x->name, y->name) == 0)
			return alias_fail(r, later->line,
				"alias '%s' already defined on line %zu",
				later->name, (later == x ? y : x)->line);
	}
	for (i = 0; i < a->n; i++)
		if (strcasecmp(a->v[i].name, "default") == 0)
			a->fallback = &a->v[i];
	return 0;
}

int
aliases_parse(struct aliases *a, const char *path, const char *text, size_t len,
	struct error *err)
{
	struct alias_reader r = {a, path, err, NULL, 0, {0}};
	size_t pos = 0, line = 1;
	int rc = -1;

	aliases_init(a);
	a->path = xstrdup(path);
	buf_init(&r.value, ALIASES_ENTRY_MAX);
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;

		if (alias_line(&r, text + pos, n, line) < 0)
			goto done;
		pos += n + (nl != NULL);
		line++;
	}
	if (alias_finish(&r) < 0 || alias_index(&r) < 0)
		goto done;
	rc = 0;
done:
	free(r.name);
	buf_release(&r.value);
	if (rc < 0)
		aliases_release(a);
	return rc;
}

/* The whole file, capped: it is parsed in memory. */
static int
alias_read(const char *path, struct buf *text, struct error *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc = 0;
	ssize_t got;

	if (fd < 0) {
		error_set(err, ERR_CONFIG, "cannot open aliases file '%s': %s",
			path, strerror(errno));
		return -1;
	}
	do
		got = buf_read_fd(text, fd, 65536);
	while (got > 0);
	if (got < 0 && errno == EFBIG) {
		error_set(err, ERR_CONFIG,
			"aliases file '%s' is larger than %d bytes", path,
			ALIASES_FILE_MAX);
		rc = -1;
	} else if (got < 0) {
		error_set(err, ERR_IO, "cannot read aliases file '%s': %s",
			path, strerror(errno));
		rc = -1;
	}
	close(fd);
	return rc;
}

int
aliases_load(struct aliases *a, const char *path, struct error *err)
{
	struct buf text;
	int rc = -1;

	aliases_init(a);
	buf_init(&text, ALIASES_FILE_MAX);
	if (alias_read(path, &text, err) == 0)
		rc = aliases_parse(a, path, text.data, text.len, err);
	buf_release(&text);
	return rc;
}

/* --- alias expansion ---------------------------------------------------- */

struct expansion {
	const struct aliases *a;
	const char *maildomain; /* NULL when none */
	struct address_list *out;
	const struct alias_entry *chain[ALIASES_DEPTH_MAX];
	size_t depth;
	size_t produced; /* addresses that came out of aliases */
	struct error *err;
};

static const struct alias_entry *
alias_find(const struct aliases *a, const char *name)
{
	struct alias_entry key = {0};

	if (!a || a->n == 0)
		return NULL;
	key.name = (char *)name;
	return bsearch(&key, a->v, a->n, sizeof(*a->v), alias_compare);
}

/* "aliases PATH: loop: a -> b -> a", from where the cycle starts. */
static int
expand_fail_loop(struct expansion *x, const struct alias_entry *again)
{
	struct buf msg;
	size_t i = 0;

	while (x->chain[i] != again)
		i++;
	buf_init(&msg, ERROR_TEXT_MAX / 2);
	for (; i < x->depth; i++)
		(void)buf_printf(&msg, "%s -> ", x->chain[i]->name);
	(void)buf_addstr(&msg, again->name);
	error_set(x->err, ERR_CONFIG, "aliases %s: loop: %s", x->a->path,
		msg.data);
	buf_release(&msg);
	return -1;
}

static int
expand_fail_unqualified(struct expansion *x, const char *name)
{
	char esc[256];

	log_escape(esc, sizeof(esc), name, strlen(name));
	error_set(x->err, ERR_DATA,
		"cannot qualify '%s': no alias, and no maildomain (set "
		"maildomain or from)",
		esc);
	return -1;
}

static int
expand_add(struct expansion *x, const char *display, const char *mailbox,
	const char *group)
{
	if (x->depth > 0 && ++x->produced > ALIASES_EXPAND_MAX) {
		error_set(x->err, ERR_CONFIG,
			"aliases %s: aliases give more than %d addresses",
			x->a->path, ALIASES_EXPAND_MAX);
		return -1;
	}
	list_add(x->out, display, mailbox, group);
	return 0;
}

/* name@maildomain, for a name no alias claims. */
static int
expand_qualify(struct expansion *x, const struct address *in, const char *group)
{
	char *m;
	int rc;

	if (!x->maildomain)
		return expand_fail_unqualified(x, in->mailbox);
	m = mailbox_join(in->mailbox, strlen(in->mailbox), x->maildomain);
	rc = expand_add(x, in->display, m, group);
	free(m);
	return rc;
}

static int expand_entry(struct expansion *x, const struct alias_entry *e,
	const char *group, int in_default);

/* One address of the input or of an alias: kept, expanded or qualified. */
static int
expand_address(struct expansion *x, const struct address *in, const char *group,
	int in_default)
{
	const struct alias_entry *e;

	if (mailbox_has_domain(in->mailbox))
		return expand_add(x, in->display, in->mailbox, group);
	e = alias_find(x->a, in->mailbox);
	if (!e && !in_default && x->a && x->a->fallback) {
		e = x->a->fallback;
		in_default = 1;
	}
	if (!e)
		return expand_qualify(x, in, group);
	return expand_entry(x, e, group, in_default);
}

static int
expand_entry(struct expansion *x, const struct alias_entry *e,
	const char *group, int in_default)
{
	size_t i;

	for (i = 0; i < x->depth; i++)
		if (x->chain[i] == e)
			return expand_fail_loop(x, e);
	if (x->depth == ALIASES_DEPTH_MAX) {
		error_set(x->err, ERR_CONFIG,
			"aliases %s: '%s' nests more than %d aliases deep",
			x->a->path, x->chain[0]->name, ALIASES_DEPTH_MAX);
		return -1;
	}
	x->chain[x->depth++] = e;
	for (i = 0; i < e->targets.n; i++) {
		const struct address *t = &e->targets.v[i];

		if (expand_address(x, t, group, in_default) < 0)
			return -1;
	}
	x->depth--;
	return 0;
}

int
address_expand(const struct aliases *a, const char *maildomain,
	struct address_list *l, struct error *err)
{
	struct address_list out;
	struct expansion x;
	size_t i;

	address_list_init(&out);
	memset(&x, 0, sizeof(x));
	x.a = a;
	x.maildomain = maildomain && *maildomain ? maildomain : NULL;
	x.out = &out;
	x.err = err;
	for (i = 0; i < l->n; i++) {
		x.depth = 0;
		if (expand_address(&x, &l->v[i], l->v[i].group, 0) < 0) {
			address_list_release(&out);
			return -1;
		}
	}
	address_list_release(l);
	*l = out;
	return 0;
}

int
address_qualify_name(const struct aliases *a, const char *maildomain,
	const char *name, char **out, struct error *err)
{
	struct address_list l;
	char esc[256];
	int rc = -1;

	*out = NULL;
	if (mailbox_has_domain(name)) {
		*out = xstrdup(name);
		return 0;
	}
	address_list_init(&l);
	list_add(&l, NULL, name, NULL);
	if (address_expand(a, maildomain, &l, err) < 0)
		goto done;
	address_list_dedupe(&l);
	rc = 0;
	if (l.n == 1) {
		/* dedupe keeps the first of equal addresses: v[0] lives */
		/* NOLINTNEXTLINE(clang-analyzer-unix.Malloc) */
		*out = xstrdup(l.v[0].mailbox);
	} else if (maildomain && *maildomain) {
		*out = mailbox_join(name, strlen(name), maildomain);
	} else {
		log_escape(esc, sizeof(esc), name, strlen(name));
		error_set(err, ERR_DATA,
			"cannot qualify '%s' for a header: its alias gives %zu "
			"addresses, and no maildomain (set maildomain or from)",
			esc, l.n);
		rc = -1;
	}
done:
	address_list_release(&l);
	return rc;
}
