/*
 * test_address.c - the address-list torture list, the errors, the RFC 5321
 * envelope checks, and a deterministic mutation run that must never crash
 * or read out of bounds (run under ASan).
 */
#include "autoconf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "address.h"
#include "buf.h"
#include "check.h"
#include "xmalloc.h"

struct list_case {
	const char *in;
	const char *want; /* "mailbox [display] {group}, ..." */
};

/* Valid inputs and the mailboxes (display names, groups) they yield. */
static const struct list_case valid[] = {
	/* plain forms */
	{"j@x", "j@x"},
	{"Jane Doe <j@x>", "j@x [Jane Doe]"},
	{"<j@x>", "j@x"},
	{"< j@x >", "j@x"},
	{"<j @ x>", "j@x"},
	{"\"Doe, Jane\" <j@x>", "j@x [\"Doe, Jane\"]"},
	{"\"Jane\"<j@x>", "j@x [\"Jane\"]"},
	{"\"j@x\" <j@x>", "j@x [\"j@x\"]"},
	{"\"Jane  Doe\" <j@x>", "j@x [\"Jane  Doe\"]"},
	{"J@Example.COM", "J@Example.COM"},
	{"a+tag@sub.x.example", "a+tag@sub.x.example"},
	{"!#$%&'*+-/=?^_`{|}~@x", "!#$%&'*+-/=?^_`{|}~@x"},
	{"\t j@x \t", "j@x"},
	/* lists: Debian cron passes "a@x,b@y" as one argument */
	{"a@x,b@y", "a@x, b@y"},
	{"a@x, b@y", "a@x, b@y"},
	{"Jane Doe <j@x>, root", "j@x [Jane Doe], root"},
	{"a@x (one), (two) b@y", "a@x, b@y"},
	/* empty elements (obs-addr-list) and empty input */
	{"a@x,,b@y", "a@x, b@y"},
	{",a@x,", "a@x"},
	{"", ""},
	{",,,", ""},
	{"   ", ""},
	{"(just a comment)", ""},
	/* groups */
	{"Undisclosed recipients:;", ""},
	{"team: a@x, b@y;", "a@x {team}, b@y {team}"},
	{"team: a@x, b@y", "a@x {team}, b@y {team}"},
	{"team: a@x;, c@z", "a@x {team}, c@z"},
	{"Name : a@x;", "a@x {Name}"},
	{"team:;, a@x", "a@x"},
	{"team: ,a@x,,;", "a@x {team}"},
	{"a@x, team: b@y, <c@z>;, d@w", "a@x, b@y {team}, c@z {team}, d@w"},
	/* comments */
	{"j@x (Jane (the) \\) boss)", "j@x"},
	{"j@x(comment),k@y", "j@x, k@y"},
	{"Jane   (x)  Doe <j@x>", "j@x [Jane Doe]"},
	/* folding white space */
	{"Jane\r\n Doe <j@x>", "j@x [Jane Doe]"},
	{"Jane\n\tDoe <j@x>", "j@x [Jane Doe]"},
	{"j@x\r\n ", "j@x"},
	{"\"Jane\r\n Doe\" <j@x>", "j@x [\"Jane Doe\"]"},
	/* encoded words stay as written */
	{"=?utf-8?q?J=C3=A9?= <j@x>", "j@x [=?utf-8?q?J=C3=A9?=]"},
	{"=?utf-8?q?a.b?= <j@x>", "j@x [=?utf-8?q?a.b?=]"},
	/* domain literals */
	{"j@[192.0.2.1]", "j@[192.0.2.1]"},
	{"j@[IPv6:::1]", "j@[IPv6:::1]"},
	{"j@[ 192.0.2.1 ]", "j@[192.0.2.1]"},
	{"<j@[IPv6:2001:db8::1]>", "j@[IPv6:2001:db8::1]"},
	/* quoted local parts: quotes only where RFC 5321 needs them */
	{"\"john doe\"@x", "\"john doe\"@x"},
	{"\"john\"@x", "john@x"},
	{"\"john\".doe@x", "john.doe@x"},
	{"\"a.b\"@x", "a.b@x"},
	{"\".a\"@x", "\".a\"@x"},
	{"\"john..doe\"@x", "\"john..doe\"@x"},
	{"\"a\\\"b\"@x", "\"a\\\"b\"@x"},
	{"\"a\\\\b\"@x", "\"a\\\\b\"@x"},
	{"\"a\\b\"@x", "ab@x"},
	{"\"a b\".c@x", "\"a b.c\"@x"},
	{"<\"john doe\"@x>", "\"john doe\"@x"},
	/* unqualified names */
	{"root", "root"},
	{"www-data", "www-data"},
	{"root, www-data", "root, www-data"},
	{"Root <root>", "root [Root]"},
	{"\"john doe\"", "\"john doe\""},
	/* UTF-8 (RFC 6532) */
	{"j\xc3\xb6rg@ex\xc3\xa4mple.de", "j\xc3\xb6rg@ex\xc3\xa4mple.de"},
	{"J\xc3\xb6rg M\xc3\xbcller <j@x>", "j@x [J\xc3\xb6rg M\xc3\xbcller]"},
	/* obs- forms: routes, CFWS inside local parts and domains */
	{"<@a.example,@b.example:j@x>", "j@x"},
	{"<@a.example:j@x>", "j@x"},
	{"Jane <@a , @b :j@x>", "j@x [Jane]"},
	{"<,@a.example:j@x>", "j@x"},
	{"john . doe@x", "john.doe@x"},
	{"jdoe@test  . example", "jdoe@test.example"},
	{"Joe Q. Public <john.q.public@example.com>",
		"john.q.public@example.com [Joe Q. Public]"},
	/* RFC 5322 Appendix A.1.1 */
	{"John Doe <jdoe@machine.example>", "jdoe@machine.example [John Doe]"},
	{"Michael Jones <mjones@machine.example>",
		"mjones@machine.example [Michael Jones]"},
	/* A.1.2 */
	{"\"Joe Q. Public\" <john.q.public@example.com>",
		"john.q.public@example.com [\"Joe Q. Public\"]"},
	{"Mary Smith <mary@x.test>, jdoe@example.org, Who? <one@y.test>",
		"mary@x.test [Mary Smith], jdoe@example.org, "
		"one@y.test [Who?]"},
	{"<boss@nil.test>, \"Giant; \\\"Big\\\" Box\" "
	 "<sysservices@example.net>",
		"boss@nil.test, sysservices@example.net "
		"[\"Giant; \\\"Big\\\" Box\"]"},
	/* A.1.3 */
	{"A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;",
		"c@a.test [Ed Jones] {A Group}, joe@where.test {A Group}, "
		"jdoe@one.test [John] {A Group}"},
	/* A.5 */
	{"Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>",
		"pete@silly.test [Pete]"},
	{"A Group(Some people)\r\n     :Chris Jones "
	 "<c@(Chris's host.)public.example>,\r\n         joe@example.org,"
	 "\r\n  John <jdoe@one.test> (my dear friend); (the end of the "
	 "group)",
		"c@public.example [Chris Jones] {A Group}, "
		"joe@example.org {A Group}, jdoe@one.test [John] {A Group}"},
	{"(Empty list)(start)Hidden recipients  :(nobody(that I know))  ;", ""},
	/* A.6.1 */
	{"Mary Smith <@node.test:mary@example.net>, , jdoe@test  . example",
		"mary@example.net [Mary Smith], jdoe@test.example"},
	/* A.6.3 */
	{"John Doe <jdoe@machine(comment).  example>",
		"jdoe@machine.example [John Doe]"},
	{"Mary Smith\r\n  \r\n          <mary@example.net>",
		"mary@example.net [Mary Smith]"},
};

struct error_case {
	const char *in;
	size_t len; /* 0: strlen(in) */
	const char *want;
};

/* Invalid inputs and the exact error each yields. */
static const struct error_case invalid[] = {
	{"a@x b@y", 0,
		"unexpected 'b' after address (missing ','?) at offset 4"},
	{"Jane <j@x> Doe", 0,
		"unexpected 'D' after address (missing ','?) at offset 11"},
	{"j@x [1]", 0,
		"unexpected '[' after address (missing ','?) at offset 4"},
	{"\"john", 0, "unterminated quoted string opened at offset 0"},
	{"\"a\\", 0, "unterminated quoted string opened at offset 0"},
	{"j@x (comment", 0, "unterminated comment opened at offset 4"},
	{"j@x (a (b)", 0, "unterminated comment opened at offset 4"},
	{"Jane <j@x", 0, "missing '>' for '<' at offset 5"},
	{"<j@x", 0, "missing '>' for '<' at offset 0"},
	{"<j@x, k@y>", 0, "unexpected ',', expected '>' at offset 4"},
	{"j@x>", 0, "unbalanced '>' at offset 3"},
	{"j@x)", 0, "unbalanced ')' at offset 3"},
	{"j@", 0, "empty domain at offset 2"},
	{"j@ (c)", 0, "empty domain at offset 6"},
	{"@x", 0, "empty local part at offset 0"},
	{"Jane <@x>", 0, "source route without an address at offset 8"},
	{"<@a.example j@x>", 0, "unexpected 'j' in source route at offset 12"},
	{"\"\"@x", 0, "empty local part at offset 2"},
	{"j@x.", 0, "empty label in domain at offset 4"},
	{"j@x..y", 0, "empty label in domain at offset 4"},
	{".j@x", 0, "local part starts with '.' at offset 0"},
	{"j.@x", 0, "local part ends with '.' at offset 2"},
	{"j..k@x", 0, "empty word between dots in local part at offset 2"},
	{"a b@x", 0,
		"unquoted space in local part (missing ',' or '<'?) at offset "
		"2"},
	{"Jane Doe", 0,
		"unquoted space in local part (missing ',' or '<'?) at offset "
		"5"},
	{"j@x\r\nBcc: evil@y", 0,
		"line break not followed by white space at offset 4"},
	{"j@x\r\n", 0, "line break not followed by white space at offset 4"},
	{"j@x\n", 0, "line break not followed by white space at offset 3"},
	{"j@x\rk", 0, "CR not followed by LF at offset 3"},
	{"j\0@x", 4, "NUL byte at offset 1"},
	{"j@x\0", 4, "NUL byte at offset 3"},
	{"j\x01@x", 0, "control character 0x01 at offset 1"},
	{"j@x\x7f", 0, "control character 0x7F at offset 3"},
	{"a@x; b@y", 0, "';' outside a group at offset 3"},
	{";", 0, "';' outside a group at offset 0"},
	{"g1: g2: a@x;;", 0, "group inside a group at offset 6"},
	{": a@x;", 0, "group without a name at offset 0"},
	{"<>", 0, "empty address '<>' at offset 0"},
	{"Jane <>", 0, "empty address '<>' at offset 5"},
	{"j@[1.2.3.4", 0, "unterminated domain literal opened at offset 2"},
	{"j@[]", 0, "empty domain literal at offset 2"},
	{"j@[a[b]", 0, "'[' in domain literal at offset 4"},
	{"a\\b@x", 0, "unexpected '\\' at offset 1"},
	{"[j]@x", 0, "unexpected '[' at offset 0"},
	{"\"a\\\r\n b\"@x", 0, "line break after '\\' at offset 3"},
	{"\"a\"b@x", 0, "missing '.' between words in local part at offset 3"},
	{"j@x, \xc3\xa4 b@y", 0,
		"unquoted space in local part (missing ',' or '<'?) at offset "
		"8"},
};

/* "mailbox [display] {group}, ..." for comparison with a table. */
static const char *
render(const struct address_list *l, char *out, size_t size)
{
	size_t i, o = 0;

	out[0] = '\0';
	for (i = 0; i < l->n && o < size; i++) {
		const struct address *a = &l->v[i];
		int n = snprintf(out + o, size - o, "%s%s%s%s%s%s%s",
			i ? ", " : "", a->mailbox, a->display ? " [" : "",
			a->display ? a->display : "", a->display ? "]" : "",
			a->group ? " {" : "", a->group ? a->group : "");
		o += n > 0 ? (size_t)n : 0;
		if (a->group && o < size)
			o += (size_t)snprintf(out + o, size - o, "}");
	}
	return out;
}

/*
 * What every successful parse must give: mailboxes within the cap, free
 * of line breaks, that parse back to themselves (so the quoting is
 * right), and no empty display names.
 */
static int
list_sane(const struct address_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		const struct address *a = &l->v[i];
		struct address again;
		struct error err;
		size_t len = strlen(a->mailbox);
		int same;

		if (len == 0 || len > ADDRESS_MAILBOX_MAX ||
			strpbrk(a->mailbox, "\r\n") ||
			(a->display && a->display[0] == '\0'))
			return 0;
		if (address_parse_one(a->mailbox, len, &again, &err) < 0)
			return 0;
		same = strcmp(again.mailbox, a->mailbox) == 0 && !again.display;
		address_release(&again);
		if (!same)
			return 0;
	}
	return 1;
}

/* Parse from an exact-size heap copy, so ASan sees any over-read. */
static int
parse_exact(
	const char *s, size_t len, struct address_list *l, struct error *err)
{
	char *copy = xmalloc(len ? len : 1);
	int rc;

	memcpy(copy, s, len);
	rc = address_parse_list(copy, len, l, err);
	free(copy);
	return rc;
}

static void
test_valid_list(void)
{
	size_t i;

	for (i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
		struct address_list l;
		struct error err;
		char got[1024];
		int rc;

		address_list_init(&l);
		error_clear(&err);
		rc = parse_exact(valid[i].in, strlen(valid[i].in), &l, &err);
		if (rc < 0)
			fprintf(stderr, "input %zu \"%s\": %s\n", i,
				valid[i].in, err.text);
		CHECK_INT(rc, 0);
		CHECK_STR(render(&l, got, sizeof(got)), valid[i].want);
		CHECK(list_sane(&l));
		address_list_release(&l);
	}
}

static void
test_invalid_list(void)
{
	size_t i;

	for (i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
		const struct error_case *c = &invalid[i];
		size_t len = c->len ? c->len : strlen(c->in);
		struct address_list l;
		struct error err;

		address_list_init(&l);
		error_clear(&err);
		CHECK_INT(parse_exact(c->in, len, &l, &err), -1);
		CHECK_INT(err.cls, ERR_DATA);
		CHECK_STR(err.text, c->want);
		CHECK_INT(l.n, 0);
		address_list_release(&l);
	}
}

/* The mailbox cap: 512 bytes pass, 513 fail, whatever makes them long. */
static void
test_mailbox_cap(void)
{
	char s[700];
	struct address_list l;
	struct error err;

	address_list_init(&l);
	memset(s, 'a', sizeof(s));
	s[510] = '@';
	s[511] = 'x';
	CHECK_INT(address_parse_list(s, 512, &l, &err), 0);
	CHECK_INT(l.n == 1 ? strlen(l.v[0].mailbox) : 0, 512);
	address_list_release(&l);
	s[511] = 'a';
	s[512] = 'x';
	CHECK_INT(address_parse_list(s, 513, &l, &err), -1);
	CHECK_STR(err.text, "mailbox longer than 512 bytes at offset 511");
	/* 511 content bytes fit; the quotes they need do not */
	memset(s, 'a', sizeof(s));
	s[0] = '"';
	s[1] = ' ';
	s[512] = '"';
	s[513] = '@';
	s[514] = 'x';
	CHECK_INT(address_parse_list(s, 515, &l, &err), -1);
	CHECK_STR(err.text, "mailbox longer than 512 bytes at offset 513");
	memset(s, 'a', 600);
	s[600] = '@';
	s[601] = 'x';
	CHECK_INT(address_parse_list(s, 602, &l, &err), -1);
	CHECK_STR(err.text, "mailbox longer than 512 bytes at offset 600");
	CHECK_INT(l.n, 0);
}

/* Appends to what is there; on error, what is there stays as it was. */
static void
test_list_append_and_rollback(void)
{
	struct address_list l;
	struct error err;
	char got[256];
	size_t i;

	address_list_init(&l);
	CHECK_INT(address_parse_list("a@x", 3, &l, &err), 0);
	CHECK_INT(address_parse_list("b@y, c@z", 8, &l, &err), 0);
	CHECK_STR(render(&l, got, sizeof(got)), "a@x, b@y, c@z");
	CHECK_INT(address_parse_list("d@w, e@v, f@u g", 15, &l, &err), -1);
	CHECK_STR(render(&l, got, sizeof(got)), "a@x, b@y, c@z");
	/* growth past several powers of two keeps every entry */
	for (i = 0; i < 40; i++)
		CHECK_INT(address_parse_list("n@x", 3, &l, &err), 0);
	CHECK_INT(l.n, 43);
	CHECK_STR(l.v[42].mailbox, "n@x");
	CHECK_STR(l.v[2].mailbox, "c@z");
	address_list_release(&l);
	CHECK_INT(l.n, 0);
	CHECK(l.v == NULL);
}

/* (pointer, length): bytes past len are never looked at. */
static void
test_list_length_bound(void)
{
	struct address_list l;
	struct error err;

	address_list_init(&l);
	CHECK_INT(address_parse_list("a@x>>>junk", 3, &l, &err), 0);
	CHECK_STR(l.n == 1 ? l.v[0].mailbox : "", "a@x");
	address_list_release(&l);
	CHECK_INT(address_parse_list("\"ab\"", 3, &l, &err), -1);
	CHECK_STR(err.text, "unterminated quoted string opened at offset 0");
	CHECK_INT(address_parse_list(NULL, 0, &l, &err), 0);
	CHECK_INT(l.n, 0);
}

/* -f "Jane <j@x>": exactly one mailbox. */
static void
test_parse_one(void)
{
	struct address a;
	struct error err;

	CHECK_INT(address_parse_one("Jane <j@x>", 10, &a, &err), 0);
	CHECK_STR(a.mailbox, "j@x");
	CHECK_STR(a.display, "Jane");
	CHECK(a.group == NULL);
	address_release(&a);
	CHECK(a.mailbox == NULL);
	CHECK_INT(address_parse_one("j@x", 3, &a, &err), 0);
	CHECK_STR(a.mailbox, "j@x");
	CHECK(a.display == NULL);
	address_release(&a);
	CHECK_INT(address_parse_one("g: j@x;", 7, &a, &err), 0);
	CHECK_STR(a.group, "g");
	address_release(&a);
	CHECK_INT(address_parse_one("a@x,b@y", 7, &a, &err), -1);
	CHECK_STR(err.text, "more than one address");
	CHECK_INT(address_parse_one(" , ", 3, &a, &err), -1);
	CHECK_STR(err.text, "no address");
	CHECK_INT(address_parse_one("<>", 2, &a, &err), -1);
	CHECK_INT(err.cls, ERR_DATA);
}

static const char *const envelope_ok[] = {
	"j@x",
	"root",
	"www-data",
	"john.doe@example.com",
	"a-b@x-y.example",
	"!#$%&'*+-/=?^_`{|}~@x",
	"\"john doe\"@x",
	"\"a\\\"b\"@x",
	"\"a,b\"@x",
	"\"john..doe\"@x",
	"j@[192.0.2.1]",
	"j@[0.0.0.0]",
	"j@[IPv6:::1]",
	"j@[ipv6:2001:db8::1]",
	"j@[IPv6:::ffff:192.0.2.1]",
	"j\xc3\xb6rg@ex\xc3\xa4mple.de",
	"j@1.2.3.4.example",
	/* exactly at the limits: 64-byte local part, 63-byte label */
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@x",
	"j@aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.x",
};

struct envelope_case {
	const char *in;
	const char *reason;
};

static const struct envelope_case envelope_bad[] = {
	{"", "empty address"},
	{"a@x> SIZE=1", "contains '>'"},
	{"<a@x>", "contains '<'"},
	{"\"a<b\"@x", "contains '<'"},
	{"a b@x", "unquoted space in local part"},
	{"a@x\r\nRSET", "contains CR"},
	{"a@x\n", "contains LF"},
	{"a\x01@x", "contains a control character"},
	{"a\x7f@x", "contains a control character"},
	/* RFC 6531: 8-bit bytes must be UTF-8 (Latin-1, a cut sequence, an
	   overlong '<', a surrogate, past U+10FFFF) */
	{"j\xfcrgen@x", "not UTF-8 (byte 0xfc at offset 1)"},
	{"j\xc3@x", "not UTF-8 (byte 0xc3 at offset 1)"},
	{"a\xc0\xbc@x", "not UTF-8 (byte 0xc0 at offset 1)"},
	{"a@x\xed\xa0\x80", "not UTF-8 (byte 0xed at offset 3)"},
	{"a@x\xf4\x90\x80\x80", "not UTF-8 (byte 0xf4 at offset 3)"},
	{"a@x\xe2\x82", "not UTF-8 (byte 0xe2 at offset 3)"},
	{"\"a\tb\"@x", "contains a control character"},
	{"a,b@x", "',' not allowed in an unquoted local part"},
	{"a(b)@x", "'(' not allowed in an unquoted local part"},
	{"a\"b@x", "'\"' not allowed in an unquoted local part"},
	{"@x", "empty local part"},
	{"\"\"@x", "empty local part"},
	{".a@x", "local part starts with '.'"},
	{"a..b@x", "'..' in local part"},
	{"a.@x", "local part ends with '.'"},
	{"\"ab@x", "unterminated quoted string"},
	{"\"a b\"x@y", "'x' after quoted local part"},
	{"\"a\\\xc3\xa4\"@x", "bad quoted pair in local part"},
	{"a@", "empty domain"},
	{"a@x..y", "empty label in domain"},
	{"a@x.", "empty label in domain"},
	{"a@-x.y", "domain label starts or ends with '-'"},
	{"a@x-.y", "domain label starts or ends with '-'"},
	{"a@x_y", "'_' not allowed in domain"},
	{"a@b@c", "'@' not allowed in domain"},
	{"a@x y", "' ' not allowed in domain"},
	{"a@[1.2.3]", "invalid IPv4 address literal"},
	{"a@[1.2.3.256]", "invalid IPv4 address literal"},
	{"a@[1.2.3.0004]", "invalid IPv4 address literal"},
	{"a@[1.2.3.4.]", "invalid IPv4 address literal"},
	{"a@[IPv6:xyz]", "invalid IPv6 address literal"},
	{"a@[IPv6:1.2.3.4]", "invalid IPv6 address literal"},
	{"a@[foo:bar]", "unknown address literal tag"},
	{"a@[1.2.3.4", "address literal without ']' at the end"},
	{"a@[1.2.3.4]x", "address literal without ']' at the end"},
	/* one past the limits: 65-byte local part, 64-byte label */
	{"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@x",
		"local part longer than 64 bytes"},
	{"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		"local part longer than 64 bytes"},
	{"j@aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.x",
		"domain label longer than 63 bytes"},
};

static void
test_envelope(void)
{
	size_t i;
	struct error err;
	char want[1200], esc[256], domain[300];

	for (i = 0; i < sizeof(envelope_ok) / sizeof(envelope_ok[0]); i++) {
		error_clear(&err);
		if (address_check_envelope(envelope_ok[i], &err) < 0)
			fprintf(stderr, "%s\n", err.text);
		CHECK_INT(err.cls, ERR_NONE);
	}
	for (i = 0; i < sizeof(envelope_bad) / sizeof(envelope_bad[0]); i++) {
		const struct envelope_case *c = &envelope_bad[i];

		log_escape(esc, sizeof(esc), c->in, strlen(c->in));
		snprintf(want, sizeof(want), "invalid address '%s': %s", esc,
			c->reason);
		CHECK_INT(address_check_envelope(c->in, &err), -1);
		CHECK_INT(err.cls, ERR_DATA);
		CHECK_STR(err.text, want);
	}
	/* address_utf8_check: the offset of the first bad byte, or len */
	CHECK_INT((int)address_utf8_check("ab", 2), 2);
	CHECK_INT((int)address_utf8_check("\xc3\xa4\xe2\x82\xac", 5), 5);
	CHECK_INT((int)address_utf8_check("\xf0\x9f\x98\x80x\xff", 6), 5);
	CHECK_INT((int)address_utf8_check("a\xe2\x82\xac", 3), 1);
	CHECK_INT((int)address_utf8_check("\xe0\x80\x80", 3), 0);
	/* the address is shown escaped, so the error line stays one line */
	CHECK_INT(address_check_envelope("a@x\r\nRSET", &err), -1);
	CHECK_STR(err.text, "invalid address 'a@x\\r\\nRSET': contains CR");
	/* domain: 255 bytes pass, 256 fail */
	memset(domain, 0, sizeof(domain));
	memcpy(domain, "j@", 2);
	for (i = 0; i < 4; i++) {
		memset(domain + 2 + i * 64, 'a', 63);
		domain[2 + i * 64 + 63] = '.';
	}
	domain[2 + 255] = '\0'; /* 3 * 64 + 63 labels and dots = 255 */
	CHECK_INT(address_check_envelope(domain, &err), 0);
	domain[2 + 255] = 'b';
	domain[2 + 256] = '\0';
	CHECK_INT(address_check_envelope(domain, &err), -1);
	CHECK(strstr(err.text, ": domain longer than 255 bytes") != NULL);
}

/* What the parser produces from well-formed input passes the envelope. */
static void
test_parse_then_envelope(void)
{
	static const char in[] = "Jane <\"john doe\"@x>, \"a\"@[IPv6:::1], "
				 "root, t: <@r.example:b.c@d.e>;";
	struct address_list l;
	struct error err;
	size_t i;

	address_list_init(&l);
	CHECK_INT(address_parse_list(in, sizeof(in) - 1, &l, &err), 0);
	CHECK_INT(l.n, 4);
	for (i = 0; i < l.n; i++)
		CHECK_INT(address_check_envelope(l.v[i].mailbox, &err), 0);
	address_list_release(&l);
}

static uint32_t
rng_next(uint32_t *state)
{
	*state = *state * 1664525u + 1013904223u;
	return *state >> 8;
}

/* Insert, replace or delete a few bytes, biased to the grammar's specials. */
static size_t
mutate(char *s, size_t len, size_t size, uint32_t *rng)
{
	static const char alphabet[] = "\"()<>[]:;@\\,. \t\r\nax\x80\xc3\0";
	int k, edits = 1 + (int)(rng_next(rng) % 4);

	for (k = 0; k < edits; k++) {
		size_t at = len ? rng_next(rng) % (len + 1) : 0;
		char c = alphabet[rng_next(rng) % (sizeof(alphabet) - 1)];

		switch (rng_next(rng) % 3) {
		case 0:
			if (len + 1 >= size)
				break;
			memmove(s + at + 1, s + at, len - at);
			s[at] = c;
			len++;
			break;
		case 1:
			if (at < len)
				s[at] = c;
			break;
		default:
			if (at < len) {
				memmove(s + at, s + at + 1, len - at - 1);
				len--;
			}
		}
	}
	return len;
}

/*
 * Every prefix of every case, then 30000 mutations: no crash, no read
 * past len (exact-size copies under ASan), errors always ERR_DATA with a
 * list left empty, successes always sane.
 */
static void
test_robustness(void)
{
	size_t nvalid = sizeof(valid) / sizeof(valid[0]);
	size_t ncases = nvalid + sizeof(invalid) / sizeof(invalid[0]);
	uint32_t rng = 12345;
	int bad = 0, i;
	size_t c, n;

	for (i = -(int)ncases; i < 30000; i++) {
		char s[600];
		size_t len;

		c = (size_t)(i < 0 ? i + (int)ncases
				   : (int)(rng_next(&rng) % ncases));
		len = c < nvalid ? strlen(valid[c].in)
				 : (invalid[c - nvalid].len
						   ? invalid[c - nvalid].len
						   : strlen(invalid[c - nvalid]
								     .in));
		memcpy(s, c < nvalid ? valid[c].in : invalid[c - nvalid].in,
			len);
		if (i >= 0)
			len = mutate(s, len, sizeof(s), &rng);
		for (n = i < 0 ? 0 : len; n <= len; n++) {
			struct address_list l;
			struct error err;

			address_list_init(&l);
			if (parse_exact(s, n, &l, &err) < 0)
				bad += err.cls != ERR_DATA || l.n != 0;
			else
				bad += !list_sane(&l);
			address_list_release(&l);
		}
	}
	CHECK_INT(bad, 0);
}

/* Duplicates go: the local part compared exactly (RFC 5321 §2.4), the
   domain case-insensitively; the first keeps its place and its spelling;
   a long list stays fast (sorting, not pairs). */
static void
test_dedupe(void)
{
	static const char text[] = "a@x, B@x, A@X, c@x, b@X, a@X, b@x";
	static const char mixed[] = "root, root@x, Root, root, \"a@b\"@x, "
				    "\"a@b\"@X, \"A@b\"@x";
	struct address_list l;
	struct error err;
	struct buf big;
	size_t i;

	address_list_init(&l);
	CHECK_INT(address_parse_list(text, sizeof(text) - 1, &l, &err), 0);
	address_list_dedupe(&l);
	CHECK_INT(l.n, 5);
	if (l.n == 5) {
		CHECK_STR(l.v[0].mailbox, "a@x");
		CHECK_STR(l.v[1].mailbox, "B@x");
		CHECK_STR(l.v[2].mailbox, "A@X");
		CHECK_STR(l.v[3].mailbox, "c@x");
		CHECK_STR(l.v[4].mailbox, "b@X");
	}
	address_list_release(&l);
	/* a bare name is not its qualified form; a quoted '@' belongs to
	   the local part (the last '@' starts the domain) */
	i = 0;
	if (address_parse_list(mixed, sizeof(mixed) - 1, &l, &err) < 0)
		fprintf(stderr, "mixed: %s\n", err.text);
	else
		i = l.n;
	CHECK_INT(i, 7);
	address_list_dedupe(&l);
	CHECK_INT(l.n, 5);
	if (l.n == 5) {
		CHECK_STR(l.v[0].mailbox, "root");
		CHECK_STR(l.v[1].mailbox, "root@x");
		CHECK_STR(l.v[2].mailbox, "Root");
		CHECK_STR(l.v[3].mailbox, "\"a@b\"@x");
		CHECK_STR(l.v[4].mailbox, "\"A@b\"@x");
	}
	address_list_release(&l);
	CHECK_INT(address_parse_list(text, sizeof(text) - 1, &l, &err), 0);
	address_list_dedupe(&l);
	/* the list still grows correctly after compaction */
	CHECK_INT(address_parse_list("d@x, e@x", 8, &l, &err), 0);
	CHECK_INT(l.n, 7);
	if (l.n == 7)
		CHECK_STR(l.v[6].mailbox, "e@x");
	address_list_release(&l);

	/* 100,000 addresses, each twice: 50,000 remain, in order */
	buf_init(&big, (size_t)-1);
	for (i = 0; i < 100000; i++)
		buf_printf(&big, "%su%zu@x", i ? "," : "", i % 50000);
	CHECK_INT(address_parse_list(big.data, big.len, &l, &err), 0);
	address_list_dedupe(&l);
	CHECK_INT(l.n, 50000);
	if (l.n == 50000)
		CHECK_STR(l.v[49999].mailbox, "u49999@x");
	address_list_release(&l);
	buf_release(&big);
	address_list_dedupe(&l); /* empty: nothing to do */
	CHECK_INT(l.n, 0);
}

/* Host names for DNS, SNI and the certificate check: A-labels. */
static void
test_idna(void)
{
	struct error err;
	char *out = NULL;

	/* ASCII is copied as written, literals too */
	CHECK_INT(address_idna_to_ascii("Mail.Example.org", &out, &err), 0);
	CHECK_STR(out, "Mail.Example.org");
	free(out);
	CHECK_INT(address_idna_to_ascii("127.0.0.1", &out, &err), 0);
	CHECK_STR(out, "127.0.0.1");
	free(out);
	/* UTF-8 labels become A-labels; upper case is mapped (UTS #46) */
	CHECK_INT(address_idna_to_ascii("b\xc3\xbc"
					"cher.example",
			  &out, &err),
		0);
	CHECK_STR(out, "xn--bcher-kva.example");
	free(out);
	CHECK_INT(address_idna_to_ascii("smtp.B\xc3\x9c"
					"CHER.example",
			  &out, &err),
		0);
	CHECK_STR(out, "smtp.xn--bcher-kva.example");
	free(out);
	/* IDNA 2008 is non-transitional: sharp s stays itself */
	CHECK_INT(address_idna_to_ascii("fa\xc3\x9f"
					".de",
			  &out, &err),
		0);
	CHECK_STR(out, "xn--fa-hia.de");
	free(out);
	/* not UTF-8: refused, the name escaped in the message */
	out = NULL;
	CHECK_INT(address_idna_to_ascii("b\xfc"
					"cher.example",
			  &out, &err),
		-1);
	CHECK_INT(err.cls, ERR_DATA);
	CHECK(strncmp(err.text,
		      "'b\\xfccher.example': not a valid "
		      "international domain name (",
		      56) == 0);
	CHECK(out == NULL);
}

/* Envelope domains for a server without SMTPUTF8: A-labels, local part
   untouched; broken IDNs refused before connecting. */
static void
test_domain_to_ascii(void)
{
	static const char *const ok[][2] = {
		{"user@b\xc3\xbc"
		 "cher.example",
			"user@xn--bcher-kva.example"},
		/* upper-case Unicode is mapped (UTS #46), the local part kept
		 */
		{"J\xc3\xb6rg@B\xc3\x9c"
		 "CHER.Example",
			"J\xc3\xb6rg@xn--bcher-kva.example"},
		{"j@fa\xc3\x9f.de", "j@xn--fa-hia.de"},
		{"\"a@b\"@b\xc3\xbc"
		 "cher.example",
			"\"a@b\"@xn--bcher-kva.example"},
		/* ASCII keeps its spelling; valid A-labels pass */
		{"Jane@Example.COM", "Jane@Example.COM"},
		{"j@xn--bcher-kva.example", "j@xn--bcher-kva.example"},
		{"j@XN--BCHER-KVA.example", "j@XN--BCHER-KVA.example"},
		{"j@[192.0.2.1]", "j@[192.0.2.1]"},
		{"root", "root"},
		{"\"a@b\"", "\"a@b\""},
		{"\xc3\xa4@x.example", "\xc3\xa4@x.example"},
	};
	static const char *const bad[][2] = {
		{"j@a..b",
			"'j@a..b': invalid domain name 'a..b' (empty label)"},
		{"j@b\xc3\xbc"
		 "cher.",
			"'j@b\\xc3\\xbccher.': invalid domain name "
			"'b\\xc3\\xbccher.' (empty label)"},
		{"j@.x", "'j@.x': invalid domain name '.x' (empty label)"},
		{"j@xn--zz", "'j@xn--zz': invalid domain name 'xn--zz' ("},
		{"j@mail.xn--zz.example", "'j@mail.xn--zz.example': invalid "},
		{"j@\xe2\x98\x83.example", "'j@\\xe2\\x98\\x83.example': "
					   "invalid domain name"},
		{"j@b\xfc"
		 "cher.example",
			"'j@b\\xfccher.example': invalid domain name"},
	};
	struct error err;
	char *out;
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		out = NULL;
		CHECK_INT(address_domain_to_ascii(ok[i][0], &out, &err), 0);
		CHECK_STR(out, ok[i][1]);
		free(out);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		out = (char *)"unset";
		error_clear(&err);
		CHECK_INT(address_domain_to_ascii(bad[i][0], &out, &err), -1);
		CHECK(out == NULL);
		CHECK_INT(err.cls, ERR_DATA);
		if (strncmp(err.text, bad[i][1], strlen(bad[i][1])) != 0)
			fprintf(stderr, "bad %zu: got \"%s\"\n", i, err.text);
		CHECK(strncmp(err.text, bad[i][1], strlen(bad[i][1])) == 0);
	}
	/* libidn2's reason is part of the message */
	CHECK_INT(address_domain_to_ascii("j@xn--zz", &out, &err), -1);
	CHECK(strstr(err.text, "punycode") != NULL);
}

/* The SMTPUTF8 decision: a non-ASCII local part cannot be converted. */
static void
test_ascii_checks(void)
{
	CHECK_INT(address_is_ascii(""), 1);
	CHECK_INT(address_is_ascii("j@example.org"), 1);
	CHECK_INT(address_is_ascii("j@b\xc3\xbc"
				   "cher.example"),
		0);
	CHECK_INT(address_is_ascii("\x7f"), 1);
	CHECK_INT(address_local_is_ascii("j@b\xc3\xbc"
					 "cher.example"),
		1);
	CHECK_INT(address_local_is_ascii("j\xc3\xb6rg@x.example"), 0);
	CHECK_INT(address_local_is_ascii("\xc3\xa4"), 0);
	CHECK_INT(address_local_is_ascii("root"), 1);
	CHECK_INT(address_local_is_ascii("\"\xc3\xa4@\"@x"), 0);
}

#define ALIAS_PATH "/etc/aliases"

static int
aliases_from(struct aliases *a, const char *text, struct error *err)
{
	error_clear(err);
	return aliases_parse(a, ALIAS_PATH, text, strlen(text), err);
}

/* Parse in, expand it, render the result (or "ERR: text") into got. */
static const char *
expand(const struct aliases *a, const char *maildomain, const char *in,
	char *got, size_t size)
{
	struct address_list l;
	struct error err;

	address_list_init(&l);
	error_clear(&err);
	if (address_parse_list(in, strlen(in), &l, &err) < 0 ||
		address_expand(a, maildomain, &l, &err) < 0)
		snprintf(got, size, "ERR %d: %.400s", log_exit_code(err.cls),
			err.text);
	else
		render(&l, got, size);
	address_list_release(&l);
	return got;
}

/* The aliases file grammar: comments, blanks, continuations across
   them, CRLF, case-insensitive names, groups, display names. */
static void
test_aliases_grammar(void)
{
	static const char text[] =
		"# system aliases\n"
		"\n"
		"root: admin@example.org\n"
		"Staff : Ann <ann@example.org>, bob,\n"
		"  carol@example.org,\n"
		"   # a comment inside does not end the entry\n"
		"\n"
		"\tdave@example.org\r\n"
		"bob: bob@example.net\n"
		"postmaster:root\n"
		"  \n"
		"team: ops: x@example.org, y@example.org;\n"
		"dotted.name: (comment) d@example.org";
	struct aliases a;
	struct error err;
	char got[512];

	CHECK_INT(aliases_from(&a, text, &err), 0);
	CHECK_INT(a.n, 6);
	CHECK_STR(a.path, ALIAS_PATH);
	CHECK(a.fallback == NULL);
	CHECK_STR(expand(&a, NULL, "root", got, sizeof(got)),
		"admin@example.org");
	CHECK_STR(expand(&a, NULL, "STAFF", got, sizeof(got)),
		"ann@example.org [Ann], bob@example.net, carol@example.org, "
		"dave@example.org");
	CHECK_STR(expand(&a, NULL, "postmaster", got, sizeof(got)),
		"admin@example.org");
	CHECK_STR(expand(&a, NULL, "team", got, sizeof(got)),
		"x@example.org, y@example.org");
	CHECK_STR(expand(&a, NULL, "Dotted.Name", got, sizeof(got)),
		"d@example.org");
	/* qualified addresses are left alone, whatever their local part */
	CHECK_STR(
		expand(&a, NULL, "Root@Example.org, root@x", got, sizeof(got)),
		"Root@Example.org, root@x");
	/* order kept, duplicates kept (dedupe is the caller's next step),
	   groups of the replaced address carried over */
	CHECK_STR(expand(&a, NULL, "x@y, root, z@w, admin@example.org", got,
			  sizeof(got)),
		"x@y, admin@example.org, z@w, admin@example.org");
	CHECK_STR(expand(&a, NULL, "g: root, q@x;", got, sizeof(got)),
		"admin@example.org {g}, q@x {g}");
	aliases_release(&a);
	CHECK_INT(a.n, 0);
	CHECK(a.path == NULL && a.v == NULL);
	/* an empty file and a file of comments are valid and alias nothing */
	CHECK_INT(aliases_from(&a, "", &err), 0);
	CHECK_INT(a.n, 0);
	aliases_release(&a);
	CHECK_INT(aliases_from(&a, "# nothing\n\n  # here\n", &err), 0);
	CHECK_STR(expand(&a, "example.org", "root", got, sizeof(got)),
		"root@example.org");
	aliases_release(&a);
}

struct alias_error_case {
	const char *text;
	size_t len; /* 0: strlen(text) */
	const char *want;
};

/* Each grammar error, with the line where the entry starts. */
static void
test_aliases_errors(void)
{
	static const struct alias_error_case cases[] = {
		{"root admin@x\n", 0,
			ALIAS_PATH ":1: expected 'name: address, ...'"},
		{"a: x@y\n\n# c\nb x@y\n", 0,
			ALIAS_PATH ":4: expected 'name: address, ...'"},
		{"a b: x@y\n", 0, ALIAS_PATH ":1: invalid alias name 'a b'"},
		{"a@b: x@y\n", 0, ALIAS_PATH ":1: invalid alias name 'a@b'"},
		{": x@y\n", 0, ALIAS_PATH ":1: invalid alias name ''"},
		{"\"a\": x@y\n", 0,
			ALIAS_PATH ":1: invalid alias name '\"a\"'"},
		{"  x@y\n", 0,
			ALIAS_PATH ":1: continuation line without an alias "
				   "before it"},
		{"# c\n\tx@y\n", 0,
			ALIAS_PATH ":2: continuation line without an alias "
				   "before it"},
		{"a:\n", 0, ALIAS_PATH ":1: alias 'a' has no addresses"},
		{"a: ,, (none)\nb: x@y\n", 0,
			ALIAS_PATH ":1: alias 'a' has no addresses"},
		{"a: x@y\nb: x@y y@z\n", 0,
			ALIAS_PATH ":2: alias 'b': unexpected 'y' after "
				   "address (missing ','?) at offset 5"},
		{"a: x@y\nb: x@y,\n  (unclosed\nc: z@w\n", 0,
			ALIAS_PATH ":2: alias 'b': unterminated comment "
				   "opened at offset 6"},
		{"a: x@y\nb: c@d\nA: e@f\n", 0,
			ALIAS_PATH ":3: alias 'A' already defined on line 1"},
		{"a: |/usr/bin/procmail\n", 0,
			ALIAS_PATH
			":1: alias 'a': pipes and files need a local "
			"delivery agent; postie only sends mail"},
		{"a: x@y, /var/mail/a\n", 0,
			ALIAS_PATH
			":1: alias 'a': pipes and files need a local "
			"delivery agent; postie only sends mail"},
		{"list: :include:/etc/list\n", 0,
			ALIAS_PATH ":1: alias 'list': :include: needs a local "
				   "delivery agent; postie only sends mail"},
		{"a: x@b_c\n", 0,
			ALIAS_PATH ":1: alias 'a': invalid address 'x@b_c': "
				   "'_' not allowed in domain"},
		{"a: x@y\nb: z\0@w\n", 13, ALIAS_PATH ":2: NUL byte"},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct aliases a;
		struct error err;
		size_t len =
			cases[i].len ? cases[i].len : strlen(cases[i].text);

		error_clear(&err);
		CHECK_INT(
			aliases_parse(&a, ALIAS_PATH, cases[i].text, len, &err),
			-1);
		CHECK_INT(err.cls, ERR_CONFIG);
		CHECK_STR(err.text, cases[i].want);
		/* a failed parse leaves nothing to free */
		CHECK(a.n == 0 && a.v == NULL && a.path == NULL);
		aliases_release(&a);
	}
}

/* One entry may not grow past its cap through continuation lines. */
static void
test_aliases_entry_cap(void)
{
	struct aliases a;
	struct error err;
	struct buf text;
	int i;

	buf_init(&text, (size_t)-1);
	buf_addstr(&text, "big: a@x\n");
	for (i = 0; i < 3000; i++)
		buf_addstr(&text, "  , someone.with.a.long.name@x.example\n");
	CHECK_INT(aliases_parse(&a, ALIAS_PATH, text.data, text.len, &err), -1);
	CHECK_STR(err.text, ALIAS_PATH ":1: alias 'big' is longer than 65536 "
				       "bytes");
	buf_release(&text);
}

/* Names that point to names, default:, and qualification. */
static void
test_aliases_expand(void)
{
	struct aliases a;
	struct error err;
	char got[512];

	/* recursion: a target without '@' is expanded again */
	CHECK_INT(aliases_from(&a, "a: b, first@x\nb: c, x@y\nc: z@w\n", &err),
		0);
	CHECK_STR(expand(&a, NULL, "a", got, sizeof(got)), "z@w, x@y, first@x");
	/* a name no alias claims is qualified, inside an alias too */
	CHECK_STR(expand(&a, "example.org", "a, nobody, Jane <www-data>", got,
			  sizeof(got)),
		"z@w, x@y, first@x, nobody@example.org, "
		"www-data@example.org [Jane]");
	aliases_release(&a);
	CHECK_INT(aliases_from(&a, "a: b\nb: lost\n", &err), 0);
	CHECK_STR(expand(&a, "example.org", "a", got, sizeof(got)),
		"lost@example.org");
	aliases_release(&a);

	/* default: catches unknown names, not known or qualified ones */
	CHECK_INT(
		aliases_from(&a,
			"root: r@x\nDEFAULT: catch@x\nops: root, temp\n", &err),
		0);
	CHECK(a.fallback != NULL);
	CHECK_STR(expand(&a, "example.org", "nobody, root, q@y", got,
			  sizeof(got)),
		"catch@x, r@x, q@y");
	CHECK_STR(expand(&a, NULL, "ops", got, sizeof(got)), "r@x, catch@x");
	aliases_release(&a);
	/* a bare name inside default: is qualified, not looped */
	CHECK_INT(aliases_from(&a, "default: postmaster, copy@x\n", &err), 0);
	CHECK_STR(expand(&a, "example.org", "nobody", got, sizeof(got)),
		"postmaster@example.org, copy@x");
	CHECK_STR(expand(&a, NULL, "nobody", got, sizeof(got)),
		"ERR 65: cannot qualify 'postmaster': no alias, and no "
		"maildomain (set maildomain or from)");
	aliases_release(&a);
	CHECK_INT(aliases_from(
			  &a, "default: postmaster\npostmaster: pm@x\n", &err),
		0);
	CHECK_STR(expand(&a, NULL, "nobody", got, sizeof(got)), "pm@x");
	aliases_release(&a);
}

/* Loops are reported with the cycle; chains and fan-out are capped. */
static void
test_aliases_loops(void)
{
	struct aliases a;
	struct error err;
	struct buf text;
	char got[512];
	int i;

	CHECK_INT(aliases_from(&a, "a: b\nb: a\nx: y@z, a\n", &err), 0);
	CHECK_STR(expand(&a, NULL, "a", got, sizeof(got)),
		"ERR 78: aliases " ALIAS_PATH ": loop: a -> b -> a");
	CHECK_STR(expand(&a, NULL, "x", got, sizeof(got)),
		"ERR 78: aliases " ALIAS_PATH ": loop: a -> b -> a");
	CHECK_STR(expand(&a, NULL, "B", got, sizeof(got)),
		"ERR 78: aliases " ALIAS_PATH ": loop: b -> a -> b");
	aliases_release(&a);
	CHECK_INT(aliases_from(&a, "Self: x@y, self\n", &err), 0);
	CHECK_STR(expand(&a, NULL, "self", got, sizeof(got)),
		"ERR 78: aliases " ALIAS_PATH ": loop: Self -> Self");
	aliases_release(&a);
	/* an alias named twice on one level is no loop */
	CHECK_INT(aliases_from(&a, "a: b, b\nb: x@y\n", &err), 0);
	CHECK_STR(expand(&a, NULL, "a, b", got, sizeof(got)), "x@y, x@y, x@y");
	aliases_release(&a);

	/* 16 aliases deep is fine, 17 is not */
	buf_init(&text, (size_t)-1);
	for (i = 0; i < 16; i++)
		buf_printf(&text, "n%d: n%d\n", i, i + 1);
	buf_addstr(&text, "n16: end@x\n");
	CHECK_INT(aliases_from(&a, text.data, &err), 0);
	CHECK_STR(expand(&a, NULL, "n1", got, sizeof(got)), "end@x");
	CHECK_STR(expand(&a, NULL, "n0", got, sizeof(got)),
		"ERR 78: aliases " ALIAS_PATH ": 'n0' nests more than 16 "
		"aliases deep");
	aliases_release(&a);

	/* 10^5 addresses from five levels of ten: refused, quickly */
	buf_reset(&text);
	for (i = 0; i < 5; i++) {
		int j;

		buf_printf(&text, "l%d: ", i);
		for (j = 0; j < 10; j++)
			if (i < 4)
				buf_printf(
					&text, "%sl%d", j ? ", " : "", i + 1);
			else
				buf_printf(&text, "%su%d@x", j ? ", " : "", j);
		buf_addch(&text, '\n');
	}
	CHECK_INT(aliases_from(&a, text.data, &err), 0);
	CHECK_STR(expand(&a, NULL, "l1", got, sizeof(got)) + 0, got);
	CHECK(strncmp(got, "ERR", 3) != 0); /* 10^4: at the cap, fine */
	CHECK_STR(expand(&a, NULL, "l0", got, sizeof(got)),
		"ERR 78: aliases " ALIAS_PATH ": aliases give more than 10000 "
		"addresses");
	aliases_release(&a);
	buf_release(&text);
}

/* Without an alias: maildomain, else a clear error; l stays as it was. */
static void
test_qualify(void)
{
	struct address_list l;
	struct aliases a;
	struct error err;
	char got[512];

	CHECK_STR(expand(NULL, "example.org",
			  "root, Cron Daemon <root>, j@x, \"john doe\"", got,
			  sizeof(got)),
		"root@example.org, root@example.org [Cron Daemon], j@x, "
		"\"john doe\"@example.org");
	/* a quoted '@' does not make a name qualified */
	CHECK_STR(expand(NULL, "example.org", "\"a@b\", \"a@b\"@x", got,
			  sizeof(got)),
		"\"a@b\"@example.org, \"a@b\"@x");
	CHECK_STR(expand(NULL, NULL, "j@x, root", got, sizeof(got)),
		"ERR 65: cannot qualify 'root': no alias, and no maildomain "
		"(set maildomain or from)");
	CHECK_STR(expand(NULL, "", "Logwatch", got, sizeof(got)),
		"ERR 65: cannot qualify 'Logwatch': no alias, and no "
		"maildomain (set maildomain or from)");
	CHECK_STR(expand(NULL, NULL, "j@x, k@y", got, sizeof(got)), "j@x, k@y");
	CHECK_INT(aliases_from(&a, "root: admin@x\n", &err), 0);
	CHECK_STR(expand(&a, NULL, "root, www-data", got, sizeof(got)),
		"ERR 65: cannot qualify 'www-data': no alias, and no "
		"maildomain (set maildomain or from)");
	/* on error the list is untouched */
	address_list_init(&l);
	CHECK_INT(address_parse_list("root, www-data", 14, &l, &err), 0);
	CHECK_INT(address_expand(&a, NULL, &l, &err), -1);
	CHECK_INT(l.n, 2);
	if (l.n == 2) {
		CHECK_STR(l.v[0].mailbox, "root");
		CHECK_STR(l.v[1].mailbox, "www-data");
	}
	/* expansion then dedupe: one copy each */
	CHECK_INT(address_parse_list(", admin@x, Root", 15, &l, &err), 0);
	CHECK_INT(address_expand(&a, "example.org", &l, &err), 0);
	address_list_dedupe(&l);
	CHECK_STR(
		render(&l, got, sizeof(got)), "admin@x, www-data@example.org");
	address_list_release(&l);
	aliases_release(&a);
}

static void
qualify_check(const struct aliases *a, const char *maildomain, const char *name,
	const char *want)
{
	struct error err;
	char *out = NULL;
	char got[512];

	error_clear(&err);
	if (address_qualify_name(a, maildomain, name, &out, &err) < 0) {
		snprintf(got, sizeof(got), "ERR %d: %.400s",
			log_exit_code(err.cls), err.text);
		CHECK(out == NULL);
	} else {
		snprintf(got, sizeof(got), "%s", out);
	}
	CHECK_STR(got, want);
	free(out);
}

/* Headers get one mailbox per bare name: the alias's only address,
   else name@maildomain. */
static void
test_qualify_name(void)
{
	struct aliases a;
	struct error err;

	CHECK_INT(aliases_from(&a,
			  "root: admin@x\nstaff: a@x, b@x\nsame: a@x, a@X\n"
			  "via: root\nloop: loop\n",
			  &err),
		0);
	qualify_check(&a, "example.org", "root", "admin@x");
	qualify_check(&a, NULL, "Root", "admin@x");
	qualify_check(&a, "example.org", "via", "admin@x");
	qualify_check(&a, NULL, "same", "a@x");
	qualify_check(&a, "example.org", "staff", "staff@example.org");
	qualify_check(&a, NULL, "staff",
		"ERR 65: cannot qualify 'staff' for a header: its alias gives "
		"2 addresses, and no maildomain (set maildomain or from)");
	qualify_check(&a, "example.org", "nobody", "nobody@example.org");
	qualify_check(&a, NULL, "nobody",
		"ERR 65: cannot qualify 'nobody': no alias, and no maildomain "
		"(set maildomain or from)");
	qualify_check(&a, NULL, "j@x", "j@x");
	qualify_check(&a, "example.org", "loop",
		"ERR 78: aliases " ALIAS_PATH ": loop: loop -> loop");
	aliases_release(&a);
	qualify_check(NULL, "example.org", "Logwatch", "Logwatch@example.org");
	CHECK_INT(aliases_from(&a, "default: catch@x\n", &err), 0);
	qualify_check(&a, "example.org", "nobody", "catch@x");
	aliases_release(&a);
}

/* The file itself: read whole, missing and oversized files named. */
static void
test_aliases_load(void)
{
	char path[] = "/tmp/postie-aliases-XXXXXX";
	static const char text[] = "root: admin@example.org\n";
	struct aliases a;
	struct error err;
	char got[256], want[512];
	FILE *f;
	int fd, i;

	fd = mkstemp(path);
	CHECK(fd >= 0);
	if (fd < 0)
		return;
	CHECK_INT(write(fd, text, sizeof(text) - 1), sizeof(text) - 1);
	CHECK_INT(aliases_load(&a, path, &err), 0);
	CHECK_STR(a.path, path);
	CHECK_STR(expand(&a, NULL, "root", got, sizeof(got)),
		"admin@example.org");
	aliases_release(&a);
	/* a line error names the file */
	CHECK_INT(write(fd, "oops\n", 5), 5);
	CHECK_INT(aliases_load(&a, path, &err), -1);
	snprintf(want, sizeof(want), "%s:2: expected 'name: address, ...'",
		path);
	CHECK_STR(err.text, want);
	/* past the cap */
	f = fdopen(fd, "w");
	for (i = 0; f && i < ALIASES_FILE_MAX / 32 + 1; i++)
		fputs("# 32 bytes of comment .........\n", f);
	if (f)
		fclose(f);
	else
		close(fd);
	CHECK_INT(aliases_load(&a, path, &err), -1);
	CHECK_INT(err.cls, ERR_CONFIG);
	snprintf(want, sizeof(want),
		"aliases file '%s' is larger than %d bytes", path,
		ALIASES_FILE_MAX);
	CHECK_STR(err.text, want);
	unlink(path);
	/* missing */
	CHECK_INT(aliases_load(&a, path, &err), -1);
	CHECK_INT(err.cls, ERR_CONFIG);
	snprintf(want, sizeof(want),
		"cannot open aliases file '%s': No such file or directory",
		path);
	CHECK_STR(err.text, want);
	CHECK(a.n == 0 && a.path == NULL);
	aliases_release(&a);
}

int
main(void)
{
	test_idna();
	test_valid_list();
	test_invalid_list();
	test_mailbox_cap();
	test_list_append_and_rollback();
	test_list_length_bound();
	test_parse_one();
	test_envelope();
	test_parse_then_envelope();
	test_robustness();
	test_dedupe();
	test_domain_to_ascii();
	test_ascii_checks();
	test_aliases_grammar();
	test_aliases_errors();
	test_aliases_entry_cap();
	test_aliases_expand();
	test_aliases_loops();
	test_qualify();
	test_qualify_name();
	test_aliases_load();
	return check_finish();
}
