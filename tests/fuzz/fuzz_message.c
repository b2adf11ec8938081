/*
 * fuzz_message.c - message intake: the line normaliser and header scanner
 * (message_read from a memory file), the header functions, the header
 * repair main applies, and the wire reader, with the promises message.h
 * makes checked on the output: the unstuffed data is exactly
 * message_wire_size bytes, holds no bare CR or LF and no line over 998
 * octets, ends with CRLF, has_8bit says whether it holds 8-bit bytes, and
 * with dot-stuffing no line is a lone ".".
 *
 * The first input byte chooses: bit 0 dot_ends (no -i), bit 1 the header
 * repair, bit 2 undisclosed_recipients, bits 3-4 set_from_header, bits
 * 5-7 the reader's buffer size. The rest is the message.
 */
#include "fuzz.h"

#include "address.h"
#include "buf.h"
#include "log.h"
#include "message.h"

#define FUZZ_NOW 1700000000

static char *
fuzz_qualify(const char *bare, void *ctx, struct error *err)
{
	struct buf b;

	(void)ctx;
	(void)err;
	buf_init(&b, 4096);
	buf_printf(&b, "%s@example.org", bare);
	return buf_detach(&b, NULL);
}

static void
fuzz_message_headers(struct message *msg)
{
	struct address_list l;
	struct error err;
	size_t i;
	char *v;

	for (i = 0; i < msg->nfields; i++) {
		v = message_field_value(msg, i);
		FUZZ_ASSERT(v != NULL);
		free(v);
	}
	FUZZ_ASSERT(message_field_value(msg, msg->nfields) == NULL);
	message_find_field(msg, "to", 0);
	address_list_init(&l);
	message_header_recipients(msg, &l, &err);
	message_header_addresses(msg, "From", &l, &err);
	address_list_release(&l);
}

static void
fuzz_message_repair(struct message *msg, unsigned flags)
{
	static const enum message_from_mode modes[] = {MESSAGE_FROM_OFF,
		MESSAGE_FROM_AUTO, MESSAGE_FROM_ON, MESSAGE_FROM_AUTO};
	struct error err;
	char *v;

	message_qualify_fields(msg, fuzz_qualify, NULL, &err);
	message_set_from(msg, modes[(flags >> 3) & 3],
		flags & 0x20 ? "J\xc3\xb6rg Q. Public" : "Cron Daemon",
		"root@example.org", &err);
	message_set_date(msg, FUZZ_NOW, &err);
	message_set_msgid(msg, "example.org", FUZZ_NOW, &err);
	if (flags & 4)
		message_undisclosed_recipients(msg, &err);
	message_remove_fields(msg, "Bcc");
	message_set_to_undisclosed(msg, &err);
	if (msg->nfields > msg->nadded) {
		/* a field's own value back in: the folding round trip */
		v = message_field_value(msg, msg->nadded);
		message_add_field(msg, "X-Copy", v, &err);
		free(v);
		message_replace_field(
			msg, msg->nfields - 1, "Subject: replaced\r\n x", &err);
	}
}

static void
fuzz_message_check(const struct message *msg, int dotstuff, size_t cap)
{
	struct message_reader r;
	struct error err;
	struct buf out;
	char chunk[4096];
	ssize_t n;
	size_t i, line = 0;
	int has8 = 0;

	buf_init(&out, 64 * 1024 * 1024);
	message_reader_init(&r, msg, dotstuff);
	while ((n = message_reader_read(&r, chunk, cap, &err)) > 0) {
		FUZZ_ASSERT((size_t)n <= cap);
		FUZZ_ASSERT(buf_append(&out, chunk, (size_t)n) == 0);
	}
	FUZZ_ASSERT(n == 0);
	if (!dotstuff)
		FUZZ_ASSERT((off_t)out.len == message_wire_size(msg));
	FUZZ_ASSERT(out.len == 0 ||
		    (out.len >= 2 &&
			    memcmp(out.data + out.len - 2, "\r\n", 2) == 0));
	for (i = 0; i < out.len; i++) {
		unsigned char c = (unsigned char)out.data[i];

		has8 |= c >= 0x80;
		if (c == '\r')
			FUZZ_ASSERT(i + 1 < out.len && out.data[i + 1] == '\n');
		if (c == '\n') {
			FUZZ_ASSERT(i > 0 && out.data[i - 1] == '\r');
			FUZZ_ASSERT(i - 1 - line <=
				    (size_t)(MESSAGE_LINE_MAX + dotstuff));
			if (dotstuff)
				FUZZ_ASSERT(!(i - 1 - line == 1 &&
					      out.data[line] == '.'));
			line = i + 1;
		}
	}
	FUZZ_ASSERT(has8 == (msg->has_8bit != 0));
	buf_release(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t caps[] = {2, 3, 7, 64, 512, 1000, 4096, 4096};
	struct message_opts opts;
	struct message msg;
	struct error err;
	unsigned flags;
	int fd;

	if (size < 1)
		return 0;
	flags = data[0];
	opts.dot_ends = flags & 1;
	opts.tmpdir = fuzz_dir();
	fd = fuzz_memfd(data + 1, size - 1);
	memset(&msg, 0, sizeof(msg));
	msg.body_fd = -1;
	if (message_read(&msg, fd, &opts, &err) == 0) {
		fuzz_message_headers(&msg);
		fuzz_message_check(&msg, 0, caps[flags >> 5]);
		if (flags & 2) {
			fuzz_message_repair(&msg, flags);
			fuzz_message_headers(&msg);
			fuzz_message_check(&msg, 0, caps[flags >> 5]);
		}
		fuzz_message_check(&msg, 1, caps[flags >> 5]);
	}
	message_release(&msg);
	close(fd);
	return 0;
}
