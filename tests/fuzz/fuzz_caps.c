/*
 * fuzz_caps.c - the EHLO capability parser (reply_parse_caps): each input
 * line becomes one line of a 250 reply, so the fuzzer works on keywords
 * and parameters (AUTH lists, SIZE numbers) rather than reply syntax.
 */
#include "fuzz.h"

#include "buf.h"
#include "log.h"
#include "reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size, *nl;
	struct reply r;
	struct error err;
	struct caps caps;
	struct buf line;
	size_t len, i;
	int rc = 0;

	reply_init(&r);
	buf_init(&line, 2 * REPLY_TEXT_MAX);
	rc = reply_add_line(&r, "250-mx.example.org greets you", 29, &err);
	FUZZ_ASSERT(rc == 0);
	while (p < end && rc == 0) {
		nl = memchr(p, '\n', (size_t)(end - p));
		len = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
		buf_reset(&line);
		buf_append(&line, nl != NULL ? "250-" : "250 ", 4);
		buf_append(&line, p, len);
		rc = reply_add_line(&r, line.data, line.len, &err);
		p = nl != NULL ? nl + 1 : end;
	}
	if (rc == 0)
		rc = reply_add_line(&r, "250 OK", 6, &err);
	if (rc == 1) {
		reply_parse_caps(&r, &caps);
		FUZZ_ASSERT(strlen(caps.auth) < sizeof(caps.auth));
		/* mechanisms are upper case SASL names, space-separated */
		for (i = 0; caps.auth[i] != '\0'; i++)
			FUZZ_ASSERT(
				(caps.auth[i] >= 'A' && caps.auth[i] <= 'Z') ||
				(caps.auth[i] >= '0' && caps.auth[i] <= '9') ||
				caps.auth[i] == '-' || caps.auth[i] == '_' ||
				caps.auth[i] == ' ');
		FUZZ_ASSERT(caps.auth[0] != ' ');
		FUZZ_ASSERT(i == 0 || caps.auth[i - 1] != ' ');
		FUZZ_ASSERT(strstr(caps.auth, "  ") == NULL);
	}
	buf_release(&line);
	reply_release(&r);
	return 0;
}
