/*
 * fuzz_server.c - the -bs command reader (server_run): the input is what
 * the client sends, read from a memory file, so the session ends when the
 * input does (a client that hangs up). Each accepted message is read back
 * through message_read, as main's deliver callback does, and answered
 * with a reply chosen by the input's first byte. The replies written must
 * be whole lines, each "NNN" + ' ' or '-' + text + CRLF.
 */
#include "fuzz.h"

#include "log.h"
#include "message.h"
#include "server.h"

struct fuzz_server {
	unsigned flags;
	unsigned calls;
};

static int
fuzz_deliver(void *ctx, const struct server_mail *mail,
	struct server_reply *out, struct error *err)
{
	static const int codes[] = {250, 451, 554, 421, 0, 199, 250, 250};
	struct fuzz_server *f = ctx;
	struct message_opts opts = {0, fuzz_dir()};
	struct message msg;
	size_t i;

	f->calls++;
	FUZZ_ASSERT(mail->nrcpts >= 1);
	FUZZ_ASSERT(mail->sender != NULL);
	for (i = 0; i < mail->nrcpts; i++)
		FUZZ_ASSERT(mail->rcpts[i].addr != NULL &&
			    strpbrk(mail->rcpts[i].addr, "\r\n<>") == NULL);
	FUZZ_ASSERT(lseek(mail->data_fd, 0, SEEK_CUR) == 0);
	memset(&msg, 0, sizeof(msg));
	msg.body_fd = -1;
	message_read(&msg, mail->data_fd, &opts, err);
	message_release(&msg);
	out->code = codes[(f->flags >> 1) & 7];
	snprintf(out->enhanced, sizeof(out->enhanced), "%s",
		f->flags & 0x10 ? "2.0.0" : "9.9");
	snprintf(out->text, sizeof(out->text), "queued\r\nas \x01X");
	if ((f->flags & 0x20) && f->calls > 1) {
		error_set(err, ERR_CONFIG, "fuzz: refusing");
		return -1;
	}
	return 0;
}

/* Every reply line is NNN, then ' ' or '-', printable text, CRLF. */
static void
fuzz_server_check_output(int fd)
{
	struct stat st;
	char *out, *p, *end, *nl;
	size_t i;

	FUZZ_ASSERT(fstat(fd, &st) == 0);
	out = malloc((size_t)st.st_size + 1);
	FUZZ_ASSERT(out != NULL);
	FUZZ_ASSERT(pread(fd, out, (size_t)st.st_size, 0) == st.st_size);
	end = out + st.st_size;
	for (p = out; p < end; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(end - p));
		FUZZ_ASSERT(nl != NULL && nl - p >= 5 && nl[-1] == '\r');
		FUZZ_ASSERT(p[0] >= '2' && p[0] <= '5');
		FUZZ_ASSERT(p[1] >= '0' && p[1] <= '9' && p[2] >= '0' &&
			    p[2] <= '9');
		FUZZ_ASSERT(p[3] == ' ' || p[3] == '-');
		FUZZ_ASSERT(nl - p <= 512);
		for (i = 4; p + i < nl - 1; i++)
			FUZZ_ASSERT(p[i] >= 0x20 && p[i] < 0x7f);
	}
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_server f = {0, 0};
	struct server_params p;
	struct error err;
	int in, out;

	if (size < 1)
		return 0;
	f.flags = data[0];
	memset(&p, 0, sizeof(p));
	p.hostname = "fuzz.example";
	p.timeout = 5;
	p.size_max = f.flags & 0x40 ? 300 : 0;
	p.rcpt_max = f.flags & 0x80 ? 2 : 0;
	p.dsn = f.flags & 1;
	p.tmpdir = fuzz_dir();
	p.deliver = fuzz_deliver;
	p.ctx = &f;
	in = fuzz_memfd(data + 1, size - 1);
	out = memfd_create("fuzz-out", MFD_CLOEXEC);
	FUZZ_ASSERT(out >= 0);
	error_clear(&err);
	server_run(in, out, &p, &err);
	fuzz_server_check_output(out);
	close(in);
	close(out);
	return 0;
}
