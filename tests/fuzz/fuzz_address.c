/*
 * fuzz_address.c - RFC 5322 address lists (address_parse_list,
 * address_parse_one) and what the envelope does with each mailbox: the
 * RFC 5321 check, IDNA, dedupe.
 */
#include "fuzz.h"

#include "address.h"
#include "log.h"

static void
fuzz_address_mailbox(const struct address *a)
{
	struct address again = {NULL, NULL, NULL};
	struct error err;
	char *ascii = NULL;

	FUZZ_ASSERT(a->mailbox != NULL);
	FUZZ_ASSERT(strlen(a->mailbox) <= ADDRESS_MAILBOX_MAX);
	/* the parser refuses controls: none may come out */
	FUZZ_ASSERT(strpbrk(a->mailbox, "\r\n") == NULL);
	/* the envelope form is itself an address the parser reads back
	   unchanged (main re-parses what it stored: -f, queue, aliases) */
	if (address_parse_one(a->mailbox, strlen(a->mailbox), &again, &err) ==
		0)
		FUZZ_ASSERT(strcmp(again.mailbox, a->mailbox) == 0);
	else
		fprintf(stderr, "not re-parsed: [%s]: %s\n", a->mailbox,
			err.text);
	address_release(&again);
	address_check_envelope(a->mailbox, &err);
	address_is_ascii(a->mailbox);
	address_local_is_ascii(a->mailbox);
	if (address_domain_to_ascii(a->mailbox, &ascii, &err) == 0) {
		FUZZ_ASSERT(ascii != NULL);
		free(ascii);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct address_list l;
	struct address one;
	struct error err;
	char *s, *ascii = NULL;
	size_t i, n;

	address_list_init(&l);
	if (address_parse_list((const char *)data, size, &l, &err) == 0) {
		n = l.n;
		for (i = 0; i < l.n; i++)
			fuzz_address_mailbox(&l.v[i]);
		address_list_dedupe(&l);
		FUZZ_ASSERT(l.n <= n);
	} else {
		FUZZ_ASSERT(err.cls == ERR_DATA && l.n == 0);
	}
	address_list_release(&l);

	memset(&one, 0, sizeof(one));
	if (address_parse_one((const char *)data, size, &one, &err) == 0)
		fuzz_address_mailbox(&one);
	address_release(&one);

	/* the raw text as a domain (tls_host_override, -f domains) */
	s = fuzz_strndup(data, size);
	if (strlen(s) == size) {
		address_check_envelope(s, &err);
		if (address_idna_to_ascii(s, &ascii, &err) == 0)
			free(ascii);
	}
	free(s);
	return 0;
}
