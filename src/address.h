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
	char *display; /* display name as written (comments dropped), NULL
	                  if none */
	char *mailbox; /* the envelope form "local@domain", or "local" when
	                  unqualified; quoted local parts keep their quotes
	                  only where RFC 5321 needs them */
	char *group;   /* name of the group it was listed in, or NULL */
};

struct address_list {
	struct address *v;
	size_t n;
};

void address_list_init(struct address_list *l);
void address_list_release(struct address_list *l);

/*
 * Parse len bytes of an RFC 5322 address-list (a header field body,
 * unfolded or not, or a command-line argument) and append each mailbox to
 * out. Groups contribute their members (an empty group contributes none).
 * Errors: ERR_DATA with what and where ("expected '>' at offset 12").
 */
int address_parse_list(const char *s, size_t len, struct address_list *out,
	struct error *err);

/*
 * Check one envelope mailbox for use in MAIL FROM / RCPT TO (RFC 5321
 * §4.1.2): no CR, LF, NUL, '<', '>', unquoted spaces or other controls,
 * local part <= 64 and domain <= 255 octets, a syntactically valid domain
 * when present. "" (the null sender) is not a mailbox; callers handle it.
 * Errors: ERR_DATA naming the address (escaped) and the reason.
 */
int address_check_envelope(const char *mailbox, struct error *err);

#endif
