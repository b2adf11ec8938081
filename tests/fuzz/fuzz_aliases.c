/*
 * fuzz_aliases.c - the aliases file (aliases_parse) and its expansion:
 * every name the input defines (the word before each ':' at the start of
 * a line), plus a few fixed ones, is expanded with address_expand and
 * qualified for a header with address_qualify_name, as -t and the header
 * repair do.
 */
#include "fuzz.h"

#include "address.h"
#include "log.h"

#define FUZZ_NAMES_MAX 32

/* Append the bare name at p[0..len) when it could be one. */
static void
fuzz_aliases_add_name(struct address_list *l, const char *p, size_t len)
{
	struct error err;
	char *name;

	if (len == 0 || len > 64 || l->n >= FUZZ_NAMES_MAX)
		return;
	name = fuzz_strndup((const uint8_t *)p, len);
	/* through the parser, so the list is one address_parse_list made */
	if (strpbrk(name, " \t\r\n,:;<>()\"@[]\\") != NULL ||
		address_parse_list(name, len, l, &err) < 0) {
		free(name);
		return;
	}
	free(name);
}

static void
fuzz_aliases_names(struct address_list *l, const char *s, size_t len)
{
	const char *p = s, *end = s + len, *nl, *colon;

	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			nl = end;
		colon = memchr(p, ':', (size_t)(nl - p));
		if (colon != NULL && p[0] != ' ' && p[0] != '\t')
			fuzz_aliases_add_name(l, p, (size_t)(colon - p));
		p = nl + 1;
	}
	fuzz_aliases_add_name(l, "root", 4);
	fuzz_aliases_add_name(l, "nobody-defines-this", 19);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct aliases a;
	struct address_list l;
	struct error err;
	char *q;
	size_t i, n;

	if (aliases_parse(&a, "fuzz-aliases", (const char *)data, size, &err) <
		0) {
		FUZZ_ASSERT(a.n == 0);
		aliases_release(&a);
		return 0;
	}
	address_list_init(&l);
	fuzz_aliases_names(&l, (const char *)data, size);
	n = l.n;
	for (i = 0; i < n; i++) {
		if (address_qualify_name(&a, size & 1 ? "example.org" : NULL,
			    l.v[i].mailbox, &q, &err) == 0) {
			FUZZ_ASSERT(q != NULL);
			free(q);
		}
	}
	if (address_expand(&a, "example.org", &l, &err) == 0) {
		for (i = 0; i < l.n; i++)
			FUZZ_ASSERT(strchr(l.v[i].mailbox, '@') != NULL ||
				    l.v[i].mailbox[0] == '"');
		address_list_dedupe(&l);
	} else {
		FUZZ_ASSERT(l.n == n);
	}
	address_list_release(&l);
	aliases_release(&a);
	return 0;
}
