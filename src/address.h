/*
 * address.h - RFC 5322 address lists and RFC 5321 envelope mailboxes.
 *
 * One parser serves every place an address comes from: recipient
 * arguments (Debian cron passes "a@x,b@y" in one word), -t headers, From:
 * and later the aliases file. It understands display names, quoted
 * strings, nested comments, groups (empty ones too), folding whitespace,
 * obs- forms (route addresses "<@a,@b:u@d>", "Name :" spacing), and keeps
 * encoded words intact. Pure: no I/O.
 */
#ifndef POSTIE_ADDRESS_H
#define POSTIE_ADDRESS_H

#include <stddef.h>
#include <stdint.h>

#include "log.h"

#define ADDRESS_MAILBOX_MAX 512 /* > RFC 5321's 64 + 1 + 255 path */

struct address {
	char *display; /* display name as written, NULL if none: comments
			  dropped, each run of blanks and folding made one
			  space, quoted strings kept with their quotes and
			  backslashes (so it can go back into a header);
			  encoded words are not decoded */
	char *mailbox; /* the envelope form "local@domain", or "local" when
			  unqualified; quoted local parts keep their quotes
			  only where RFC 5321 needs them */
	char *group;   /* name of the group it was listed in (written as
			  display is), or NULL */
};

/*
 * The parser grows v to the next power of two (from 4) as n reaches one,
 * so the capacity follows from n: code that resizes v itself must not
 * hand the list to address_parse_list again.
 */
struct address_list {
	struct address *v;
	size_t n;
};

/* An empty list. */
void address_list_init(struct address_list *l);
/* Free every address and the array; the list is then empty. */
void address_list_release(struct address_list *l);
/* Free the strings of one address and set them to NULL. */
void address_release(struct address *a);
/*
 * Drop every address whose mailbox already stood earlier in the list; the
 * first keeps its place and its spelling. Two mailboxes are the same when
 * their local parts (up to the last '@') are byte for byte equal and their
 * domains are equal ignoring ASCII case: RFC 5321 §2.4 lets the receiving
 * host treat "Bob" and "bob" as different mailboxes, while domains are
 * case-insensitive. An unqualified name differs from every qualified one.
 * O(n log n), so a header naming 100,000 recipients costs milliseconds.
 */
void address_list_dedupe(struct address_list *l);

/*
 * Parse len bytes of an RFC 5322 address-list (a header field body,
 * unfolded or not, or a command-line argument) and append each mailbox to
 * out. Groups contribute their members (an empty group contributes none).
 * s need not be NUL-terminated; no byte past s[len - 1] is read.
 *
 * Accepted beyond RFC 5322 §3.4 proper, as its obs- forms (§4.4) and
 * practice require: empty list elements ("a@x,,b@y", leading and trailing
 * commas; an empty or all-comma input appends nothing and succeeds),
 * CFWS between the words and dots of local parts and domains, '.' in
 * display names ("Joe Q. Public <j@x>"), source routes (dropped), blanks
 * before ':' in group names, a group left open at the end of input (the
 * ';' is then implied), unqualified mailboxes ("root": mailbox without
 * '@', the caller qualifies it), UTF-8 anywhere atext is allowed
 * (RFC 6532), line breaks as LF + WSP as well as CRLF + WSP.
 *
 * mailbox is the RFC 5321 form: the local part unquoted when its content
 * is a dot-string ("john"@x -> john@x), else quoted with '"' and '\'
 * escaped; CFWS dropped; domain literals kept with their brackets. It is
 * at most ADDRESS_MAILBOX_MAX bytes. Syntax that RFC 5322 allows but
 * RFC 5321 does not (a domain "a_b", a tab in a quoted local part) is left
 * to address_check_envelope.
 *
 * Refused: NUL and control characters other than HTAB anywhere, CR or LF
 * not followed by a blank (so a field body must come without its final
 * line ending), unterminated comments, quoted strings, domain literals and
 * '<', stray ')' '>' ';' and other specials, empty local parts or domains,
 * words without '.' between them in a local part ("a b@x"), a second
 * address without ',' ("a@x b@y"), nested groups, "<>".
 * Errors: ERR_DATA, "reason at offset N" (N counts bytes from 0); out is
 * left as it was (addresses appended before the error are removed).
 */
int address_parse_list(
	const char *s, size_t len, struct address_list *out, struct error *err);

/*
 * Parse len bytes that must hold exactly one mailbox, in any form
 * address_parse_list accepts ("j@x", "<j@x>", "Jane <j@x>", a group with
 * one member): for -f and From:. On success out owns its strings (free
 * with address_release). The null sender "<>" is an error here: callers
 * that allow it test for it first.
 * Errors: ERR_DATA as address_parse_list, or "no address" / "more than
 * one address".
 */
int address_parse_one(
	const char *s, size_t len, struct address *out, struct error *err);

/*
 * Check one envelope mailbox for use in MAIL FROM / RCPT TO (RFC 5321
 * §4.1.2): no CR, LF, NUL, '<', '>', unquoted spaces or other controls,
 * local part <= 64 and domain <= 255 octets, a syntactically valid domain
 * when present. "" (the null sender) is not a mailbox; callers handle it.
 * Local-part = Dot-string / Quoted-string; Domain = labels of letters,
 * digits and inner '-', each <= 63 octets, or an address literal
 * ([IPv4], [IPv6:...]). Bytes >= 0x80 are allowed in atoms, quoted strings
 * and labels: whether SMTPUTF8 (or IDNA) is needed is decided later.
 * '<' and '>' are refused even inside a quoted local part, so no server
 * that parses the path naively can be led to end it early. A mailbox
 * without '@' is accepted (an unqualified name, qualified later).
 * Errors: ERR_DATA, "invalid address 'ESCAPED': reason".
 */
int address_check_envelope(const char *mailbox, struct error *err);

/*
 * A domain name in its ASCII form for DNS, SNI and the certificate check
 * (IDNA 2008, RFC 5891, with UTS #46 non-transitional mapping): a name
 * that is all ASCII is copied unchanged, one with UTF-8 labels becomes
 * A-labels ("bücher.example" -> "xn--bcher-kva.example"). *out is a new
 * string for the caller to free.
 * Errors: ERR_DATA, "'NAME': not a valid international domain name
 * (reason)", for bytes that are not UTF-8 or a name IDNA 2008 refuses.
 */
int address_idna_to_ascii(const char *in, char **out, struct error *err);

/*
 * The ASCII form of a mailbox's domain for an envelope going to a server
 * without SMTPUTF8 (RFC 5890, RFC 6531 §3.2): the domain after the last
 * '@' becomes A-labels (IDNA 2008 with UTS #46 non-transitional mapping,
 * so "J@B\u00dcCHER.example" -> "J@xn--bcher-kva.example"); the local part
 * is kept byte for byte (a non-ASCII local part needs SMTPUTF8, which is
 * the caller's decision: see address_local_is_ascii). An all-ASCII domain
 * is kept as written, but its A-labels ("xn--...") are checked, so a
 * forged or broken one is refused before connecting. Address literals
 * ("[192.0.2.1]") and names without '@' are copied unchanged. *out is a
 * new string for the caller to free.
 * Errors: ERR_DATA, "'MAILBOX': invalid domain name 'DOMAIN' (REASON)",
 * REASON being "empty label" ("a..b", a trailing '.') or libidn2's words
 * ("string contains invalid punycode data" for "xn--zz").
 */
int address_domain_to_ascii(const char *mailbox, char **out, struct error *err);

/* 1 when every byte of the NUL-terminated s is ASCII (< 0x80), else 0. */
int address_is_ascii(const char *s);

/*
 * The offset of the first byte of the len bytes at s that does not begin
 * a well-formed UTF-8 character (RFC 3629: no overlong forms, no
 * surrogates, nothing past U+10FFFF, no character cut at the end), or len
 * when all of them are UTF-8. ASCII is UTF-8.
 */
size_t address_utf8_check(const char *s, size_t len);

/*
 * The well-formed UTF-8 character (as address_utf8_check takes them) at
 * the start of the len > 0 bytes at s: its length in bytes, its code
 * point in *cp when cp is not NULL; 0 when there is none.
 */
size_t address_utf8_char(const char *s, size_t len, uint32_t *cp);

/*
 * 1 when the local part of mailbox (everything before its last '@', or
 * all of it when it has none) is ASCII, else 0. A non-ASCII local part
 * cannot be converted: it needs SMTPUTF8 (RFC 6531 §3.4).
 */
int address_local_is_ascii(const char *mailbox);

/* --- aliases ------------------------------------------------------------ */

#define ALIASES_FILE_MAX   (4 * 1024 * 1024) /* bytes in an aliases file */
#define ALIASES_ENTRY_MAX  (64 * 1024) /* bytes in one entry's address list */
#define ALIASES_DEPTH_MAX  16          /* aliases nested in one expansion */
#define ALIASES_EXPAND_MAX 10000 /* addresses aliases may produce per call */

struct alias_entry; /* private to address.c */

/*
 * An aliases file (the `aliases FILE` key), msmtp's and sendmail's format:
 *
 *   # comment (a line whose first non-blank byte is '#')
 *   root: admin@example.org
 *   staff: Ann <ann@example.org>, bob,
 *     carol@example.org          (a line starting with a blank continues
 *                                 the entry before it, across blank and
 *                                 comment lines)
 *   default: postmaster@example.org
 *
 * The name before ':' is an unqualified local part (atext and '.', no
 * '@'), compared case-insensitively; what follows is an address list in
 * the form address_parse_list accepts. "default" is the catch-all for
 * names no line defines. Empty lines are skipped; CRLF line ends are fine.
 */
struct aliases {
	char *path;            /* for messages; NULL when empty */
	struct alias_entry *v; /* sorted by name, case-insensitively */
	size_t n;
	const struct alias_entry *fallback; /* the "default:" entry, or NULL */
};

/* An empty set of aliases (no file): every lookup misses. */
void aliases_init(struct aliases *a);

/*
 * Read and parse the aliases file at path into a (which need not be
 * initialised). On failure a is left empty, so aliases_release is always
 * safe. Errors: ERR_CONFIG "cannot open aliases file 'PATH': strerror" (a
 * missing file too), "aliases file 'PATH' is larger than N bytes", the
 * aliases_parse errors; ERR_IO "cannot read aliases file 'PATH': ...".
 */
int aliases_load(struct aliases *a, const char *path, struct error *err);

/*
 * Parse len bytes of aliases-file text (need not be NUL-terminated);
 * path only names the file in messages. aliases_load is this plus the
 * reading. Errors, all ERR_CONFIG "PATH:LINE: what", LINE being where the
 * entry starts: a NUL byte, a line without ':', an invalid name, a
 * continuation line before any entry, an entry with no addresses or over
 * ALIASES_ENTRY_MAX bytes, an address list that does not parse (the
 * parser's reason follows), a target that address_check_envelope refuses,
 * pipes ("|cmd"), files ("/path") and ":include:" (those need a local
 * delivery agent, which postie is not), and a name defined twice.
 */
int aliases_parse(struct aliases *a, const char *path, const char *text,
	size_t len, struct error *err);

/* Free everything; a is then empty (as after aliases_init). */
void aliases_release(struct aliases *a);

/*
 * Replace every unqualified mailbox (no '@') in l by what it stands for,
 * in place, keeping the order (duplicates stay: call address_list_dedupe
 * afterwards). For each bare name, in turn:
 *   1. an alias of that name: its addresses, each bare one expanded again
 *      by these same rules (so an alias can name another);
 *   2. else the "default:" alias, if the file has one; bare names inside
 *      the default's expansion skip this step (so "default: postmaster"
 *      with no postmaster alias means postmaster@maildomain, not a loop);
 *   3. else name@maildomain ("root" -> "root@example.org").
 * Qualified addresses are left alone, however they are spelled. a may be
 * NULL (no aliases file), maildomain NULL or "" (none: main passes the
 * domain of the account's from when maildomain is not set). Expanded
 * addresses carry the display name written in the aliases file and the
 * group of the address they replace.
 * Errors: ERR_CONFIG "aliases PATH: loop: a -> b -> a" (the cycle, names as
 * the file spells them), "aliases PATH: 'a' nests more than 16 aliases
 * deep", "aliases PATH: aliases give more than 10000 addresses";
 * ERR_DATA "cannot qualify 'root': no alias, and no maildomain (set
 * maildomain or from)". On error l is unchanged.
 */
int address_expand(const struct aliases *a, const char *maildomain,
	struct address_list *l, struct error *err);

/*
 * The mailbox to write in a To:/Cc:/From: header in place of the bare
 * name (message.c's header repair). A header shows one mailbox per name,
 * so: when the name's full expansion (address_expand rules, duplicates
 * removed) is exactly one address, that address ("root: admin@x" turns
 * "To: root" into "To: admin@x", the envelope's recipient); otherwise
 * (a list alias, or no alias) name@maildomain, as the message's author
 * would have written it had they been asked. A name that already has '@'
 * is returned as it is. *out is a new string for the caller to free.
 * Errors: those of address_expand; ERR_DATA "cannot qualify 'NAME' for a
 * header: its alias gives N addresses, and no maildomain (set maildomain
 * or from)".
 */
int address_qualify_name(const struct aliases *a, const char *maildomain,
	const char *name, char **out, struct error *err);

#endif
