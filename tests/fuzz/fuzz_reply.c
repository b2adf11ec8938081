/*
 * fuzz_reply.c - the SMTP reply parser (reply.h): the input is what a
 * server sends, split into lines at LF (a CR before it dropped, as iobuf
 * does). Every complete reply is formatted, joined and turned into an
 * error, as smtp.c does with a refusal.
 */
#include "fuzz.h"

#include "buf.h"
#include "log.h"
#include "reply.h"

static void
fuzz_reply_use(const struct reply *r)
{
	struct buf joined;
	struct error err;
	struct caps caps;
	char shown[600];

	FUZZ_ASSERT(r->code >= 200 && r->code <= 599);
	FUZZ_ASSERT(r->nlines >= 1 && r->nlines <= REPLY_LINES_MAX);
	FUZZ_ASSERT(r->text.len <= REPLY_TEXT_MAX);
	FUZZ_ASSERT(strlen(r->enhanced) < sizeof(r->enhanced));
	buf_init(&joined, 4 * REPLY_TEXT_MAX);
	reply_join(r, &joined);
	buf_release(&joined);
	reply_format(r, shown, sizeof(shown));
	FUZZ_ASSERT(strlen(shown) < sizeof(shown));
	reply_format(r, shown, 8);
	reply_to_error(r, ERR_TEMP, "MAIL FROM:<a@b>", &err);
	FUZZ_ASSERT(err.smtp_code == r->code);
	reply_parse_caps(r, &caps);
	FUZZ_ASSERT(strlen(caps.auth) < sizeof(caps.auth));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size, *nl;
	struct reply r;
	struct error err;
	size_t len;
	int rc;

	reply_init(&r);
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		len = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
		if (len > 0 && p[len - 1] == '\r')
			len--;
		rc = reply_add_line(&r, p, len, &err);
		if (rc < 0) {
			FUZZ_ASSERT(err.cls == ERR_PROTOCOL);
			break;
		}
		if (rc == 1)
			fuzz_reply_use(&r);
		p = nl != NULL ? nl + 1 : end;
	}
	reply_release(&r);
	return 0;
}
