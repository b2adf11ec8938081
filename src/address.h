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
 * Drop every address whose mailbox (compared case-insensitively) already
 * stood earlier in the list; the first keeps its place. O(n log n), so a
 * header naming 100,000 recipients costs milliseconds, not minutes.
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

#endif
