/*
 * test_address.c - the address-list torture list, the errors, the RFC 5321
 * envelope checks, and a deterministic mutation run that must never crash
 * or read out of bounds (run under ASan).
 */
#include "autoconf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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

/* Duplicates go, compared case-insensitively; the first keeps its place
   and its spelling; a long list stays fast (sorting, not pairs). */
static void
test_dedupe(void)
{
	static const char text[] = "a@x, B@x, A@X, c@x, b@X, a@x";
	struct address_list l;
	struct error err;
	struct buf big;
	size_t i;

	address_list_init(&l);
	CHECK_INT(address_parse_list(text, sizeof(text) - 1, &l, &err), 0);
	address_list_dedupe(&l);
	CHECK_INT(l.n, 3);
	if (l.n == 3) {
		CHECK_STR(l.v[0].mailbox, "a@x");
		CHECK_STR(l.v[1].mailbox, "B@x");
		CHECK_STR(l.v[2].mailbox, "c@x");
	}
	/* the list still grows correctly after compaction */
	CHECK_INT(address_parse_list("d@x, e@x", 8, &l, &err), 0);
	CHECK_INT(l.n, 5);
	if (l.n == 5)
		CHECK_STR(l.v[4].mailbox, "e@x");
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
	return check_finish();
}
