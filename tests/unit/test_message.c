/*
 * test_message.c - message intake: normalisation, the "." line, header
 * scan, spooling to a temp file, Bcc removal, -t recipients, and the wire
 * data reader with and without dot-stuffing at every buffer size.
 *
 * "test_message --rss FILE" is the bench mode bench/rss.sh uses: read FILE
 * as a message (with -i semantics), stream it dot-stuffed to /dev/null and
 * print the peak RSS.
 */
#include "autoconf.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "check.h"
#include "message.h"
#include "xmalloc.h"

static char test_dir[] = "/tmp/test_message.XXXXXX";

static const size_t caps[] = {2, 3, 7, 65536};
#define NCAPS (sizeof(caps) / sizeof(caps[0]))

#define CHECK_MEM(got, glen, want, wlen)                                       \
	check_mem(__LINE__, #got, got, glen, want, wlen)

static void
check_mem(int line, const char *what, const char *got, size_t glen,
	const char *want, size_t wlen)
{
	char g[300], w[300];

	if (got != NULL && glen == wlen && memcmp(got, want, wlen) == 0) {
		check_passed++;
		return;
	}
	check_failed++;
	log_escape(g, sizeof(g), got ? got : "", got ? glen : 0);
	log_escape(w, sizeof(w), want, wlen);
	fprintf(stderr,
		"%s:%d: FAIL: %s (%zu bytes, want %zu): got \"%s\", "
		"want \"%s\"\n",
		__FILE__, line, what, glen, wlen, g, w);
}

static void
write_all(int fd, const char *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			perror("write");
			exit(2);
		}
		p += n;
		len -= (size_t)n;
	}
}

/* Feed the input from an unlinked temp file. */
static int
read_file_input(const char *in, size_t len, int dot_ends, const char *tmpdir,
	struct message *m, struct error *err)
{
	struct message_opts opts = {dot_ends, tmpdir};
	char path[256];
	int fd, rc;

	snprintf(path, sizeof(path), "%s/in.XXXXXX", test_dir);
	fd = mkstemp(path);
	if (fd < 0) {
		perror("mkstemp");
		exit(2);
	}
	unlink(path);
	write_all(fd, in, len);
	lseek(fd, 0, SEEK_SET);
	rc = message_read(m, fd, &opts, err);
	close(fd);
	return rc;
}

static int
read_input(const char *in, size_t len, int dot_ends, struct message *m,
	struct error *err)
{
	return read_file_input(in, len, dot_ends, test_dir, m, err);
}

/* Feed the input through a pipe from a child writing piece bytes at a
   time; tiny pieces are paced so every read(2) sees a short count. */
static int
read_pipe_input(const char *in, size_t len, size_t piece, int dot_ends,
	struct message *m, struct error *err)
{
	struct message_opts opts = {dot_ends, test_dir};
	int fds[2], rc, status;
	pid_t pid;
	size_t n;

	if (pipe(fds) < 0) {
		perror("pipe");
		exit(2);
	}
	pid = fork();
	if (pid == 0) {
		close(fds[0]);
		for (; len > 0; in += n, len -= n) {
			n = len < piece ? len : piece;
			write_all(fds[1], in, n);
			if (piece < 16)
				usleep(300);
		}
		_exit(0);
	}
	close(fds[1]);
	rc = message_read(m, fds[0], &opts, err);
	close(fds[0]);
	waitpid(pid, &status, 0);
	return rc;
}

/* The whole wire data, read cap bytes at a time. */
static char *
wire(const struct message *m, int dotstuff, size_t cap, size_t *lenp)
{
	struct message_reader r;
	struct error err;
	struct buf out;
	char *chunk = xmalloc(cap);
	ssize_t n;
	int too_big = 0;

	buf_init(&out, (size_t)1 << 30);
	message_reader_init(&r, m, dotstuff);
	while ((n = message_reader_read(&r, chunk, cap, &err)) > 0) {
		if ((size_t)n > cap)
			too_big = 1;
		buf_append(&out, chunk, (size_t)n);
	}
	CHECK(n == 0);
	CHECK(!too_big);
	free(chunk);
	return buf_detach(&out, lenp);
}

/* The wire data, unstuffed and stuffed, at every cap; and the wire size
   is the unstuffed length. */
static void
check_wire_at(int line, const struct message *m, const char *want, size_t wlen,
	const char *stuffed, size_t slen)
{
	size_t i, len;
	char *got;

	for (i = 0; i < NCAPS; i++) {
		got = wire(m, 0, caps[i], &len);
		check_mem(line, "plain wire", got, len, want, wlen);
		free(got);
		got = wire(m, 1, caps[i], &len);
		check_mem(line, "stuffed wire", got, len, stuffed, slen);
		free(got);
	}
	CHECK_INT(message_wire_size(m), wlen);
}

/* Read in (a string), then check_wire_at. */
static void
check_through_at(int line, const char *in, int dot_ends, const char *want,
	const char *stuffed)
{
	struct message m;
	struct error err;

	if (read_input(in, strlen(in), dot_ends, &m, &err) < 0) {
		check_failed++;
		fprintf(stderr, "%s:%d: FAIL: message_read: %s\n", __FILE__,
			line, err.text);
		return;
	}
	check_passed++;
	check_wire_at(line, &m, want, strlen(want), stuffed, strlen(stuffed));
	message_release(&m);
}

#define CHECK_LIT(got, glen, lit) CHECK_MEM(got, glen, lit, sizeof(lit) - 1)

#define check_through(in, dot_ends, want, stuffed)                             \
	check_through_at(__LINE__, in, dot_ends, want, stuffed)

static void
test_line_endings(void)
{
	static const char want[] =
		"To: a@x\r\nSubject: hi\r\n\r\nline 1\r\nline 2\r\n";

	/* LF, CRLF, PHP's CRLF header + LF body, and CR CR LF all become
	   CRLF. */
	check_through(
		"To: a@x\nSubject: hi\n\nline 1\nline 2\n", 1, want, want);
	check_through("To: a@x\r\nSubject: hi\r\n\r\nline 1\r\nline 2\r\n", 1,
		want, want);
	check_through("To: a@x\r\nSubject: hi\r\n\r\nline 1\nline 2\n", 1, want,
		want);
	check_through("To: a@x\r\r\nSubject: hi\r\r\n\r\r\nline 1\r\r\n"
		      "line 2\r\n",
		1, want, want);
	/* A bare CR ends a line like a bare LF (RFC 5321 §2.3.8). */
	check_through("A: b\n\nx\ry\n", 1, "A: b\r\n\r\nx\r\ny\r\n",
		"A: b\r\n\r\nx\r\ny\r\n");
	/* A missing final newline is added; a final lone CR is a line end. */
	check_through("A: b\n\nlast", 1, "A: b\r\n\r\nlast\r\n",
		"A: b\r\n\r\nlast\r\n");
	check_through("A: b\n\nlast\r", 1, "A: b\r\n\r\nlast\r\n",
		"A: b\r\n\r\nlast\r\n");
}

static void
test_dot_line(void)
{
	struct message m;
	struct error err;
	int fds[2];
	static const char in[] = "A: b\n\nx\n.\nnot read\n";

	/* Without -i a lone "." (also ".\r") ends the input. */
	check_through("A: b\n\none\n.\ntwo\n", 1, "A: b\r\n\r\none\r\n",
		"A: b\r\n\r\none\r\n");
	check_through("A: b\r\n\r\none\r\n.\r\ntwo\r\n", 1,
		"A: b\r\n\r\none\r\n", "A: b\r\n\r\none\r\n");
	check_through("A: b\n.\nB: c\n", 1, "A: b\r\n", "A: b\r\n");
	/* ".." and ". x" do not end it. */
	check_through("A: b\n\n..\n. x\nz\n", 1,
		"A: b\r\n\r\n..\r\n. x\r\nz\r\n",
		"A: b\r\n\r\n...\r\n.. x\r\nz\r\n");
	/* With -i the "." line is data. */
	check_through("A: b\n\none\n.\ntwo\n", 0,
		"A: b\r\n\r\none\r\n.\r\ntwo\r\n",
		"A: b\r\n\r\none\r\n..\r\ntwo\r\n");

	/* After the "." line nothing more is read: the write end stays open
	   and message_read must still return (alarm turns a hang into a
	   failure). */
	if (pipe(fds) < 0)
		return;
	write_all(fds[1], in, sizeof(in) - 1);
	alarm(20);
	{
		struct message_opts opts = {1, test_dir};

		CHECK_INT(message_read(&m, fds[0], &opts, &err), 0);
	}
	alarm(0);
	CHECK_INT(m.body_len, 3);
	CHECK_INT(m.input_len, sizeof(in) - 1);
	message_release(&m);
	close(fds[0]);
	close(fds[1]);
}

static void
test_dotstuff(void)
{
	/* Dot lines at the start, middle and end of the body, and a header
	   field whose line starts with '.'. */
	check_through("A: b\n\n.\nmid\n.x\n..\nend\n.", 0,
		"A: b\r\n\r\n.\r\nmid\r\n.x\r\n..\r\nend\r\n.\r\n",
		"A: b\r\n\r\n..\r\nmid\r\n..x\r\n...\r\nend\r\n..\r\n");
	check_through(".hdr: v\nA: b\n\nx\n", 1, ".hdr: v\r\nA: b\r\n\r\nx\r\n",
		"..hdr: v\r\nA: b\r\n\r\nx\r\n");
	/* A '.' inside a line is left alone. */
	check_through("A: b\n\nx.y\n x. .\n", 1, "A: b\r\n\r\nx.y\r\n x. .\r\n",
		"A: b\r\n\r\nx.y\r\n x. .\r\n");
	/* The body's first line right after the inserted separator. */
	check_through(".\n", 0, "\r\n.\r\n", "\r\n..\r\n");
}

static void
test_pipe_pieces(void)
{
	static const char in[] = "To: a@x\r\r\nSubject: s\r\n continued\n\n"
				 "body\r\n.x\n..\r\n.\nafter\n";
	static const char want[] = "To: a@x\r\nSubject: s\r\n continued\r\n"
				   "\r\nbody\r\n.x\r\n..\r\n";
	static const char stuffed[] = "To: a@x\r\nSubject: s\r\n continued\r\n"
				      "\r\nbody\r\n..x\r\n...\r\n";
	static const size_t pieces[] = {1, 2, 3, 5, 4096};
	struct message m;
	struct error err;
	size_t i;

	/* CR and LF, "." and its LF, arriving in different reads. */
	for (i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++) {
		CHECK_INT(read_pipe_input(
				  in, sizeof(in) - 1, pieces[i], 1, &m, &err),
			0);
		check_wire_at(__LINE__, &m, want, sizeof(want) - 1, stuffed,
			sizeof(stuffed) - 1);
		CHECK_INT(m.nfields, 2);
		message_release(&m);
	}
}

/* A deterministic mix of line lengths, endings and dot lines. */
static unsigned long rng_state = 12345;

static unsigned long
rng(void)
{
	rng_state = rng_state * 6364136223846793005UL + 1442695040888963407UL;
	return rng_state >> 33;
}

static void
make_random(size_t size, struct buf *in, struct buf *want, struct buf *stuffed)
{
	static const char alphabet[] = "abc .\t\x80";
	static const char *const endings[] = {"\n", "\r\n", "\r\r\n", "\r"};
	char line[400];
	size_t len, i, e;
	int after_cr = 0;

	buf_append(in, "A: b\n\n", 6);
	buf_append(want, "A: b\r\n\r\n", 8);
	buf_append(stuffed, "A: b\r\n\r\n", 8);
	while (in->len < size) {
		len = rng() % (rng() % 8 == 0 ? sizeof(line) : 12);
		for (i = 0; i < len; i++)
			line[i] = alphabet[rng() % (sizeof(alphabet) - 1)];
		/* after a bare CR, an empty line ending in LF would join it
		   into one line ending: only another CR keeps it a line */
		e = after_cr && len == 0 ? 3 : rng() % 4;
		after_cr = e == 3;
		buf_append(in, line, len);
		buf_addstr(in, endings[e]);
		buf_append(want, line, len);
		buf_append(want, "\r\n", 2);
		if (len > 0 && line[0] == '.')
			buf_addch(stuffed, '.');
		buf_append(stuffed, line, len);
		buf_append(stuffed, "\r\n", 2);
	}
}

static void
check_random(size_t size, size_t piece, int in_file)
{
	struct buf in, want, stuffed;
	struct message m;
	struct error err;

	buf_init(&in, (size_t)1 << 30);
	buf_init(&want, (size_t)1 << 30);
	buf_init(&stuffed, (size_t)1 << 30);
	make_random(size, &in, &want, &stuffed);
	CHECK_INT(read_pipe_input(in.data, in.len, piece, 0, &m, &err), 0);
	CHECK_INT(m.body_fd >= 0, in_file);
	CHECK_INT(m.has_8bit, 1);
	CHECK_INT(m.input_len, in.len);
	check_wire_at(
		__LINE__, &m, want.data, want.len, stuffed.data, stuffed.len);
	message_release(&m);
	buf_release(&in);
	buf_release(&want);
	buf_release(&stuffed);
}

static void
test_chunk_boundaries(void)
{
	/* Lines split across 64 KiB reads and odd pipe writes, in memory
	   and in the temp file. */
	check_random(300 * 1024, 10007, 0);
	check_random(1300 * 1024, 65536, 1);
}

static void
test_8bit(void)
{
	struct message m;
	struct error err;

	CHECK_INT(
		read_input("Subject: caf\xc3\xa9\n\nx\n", 18, 1, &m, &err), 0);
	CHECK_INT(m.has_8bit, 1);
	message_release(&m);
	CHECK_INT(read_input("A: b\n\nplain\n", 12, 1, &m, &err), 0);
	CHECK_INT(m.has_8bit, 0);
	message_release(&m);
	CHECK_INT(read_input("A: b\n\nbody \xff\n", 13, 1, &m, &err), 0);
	CHECK_INT(m.has_8bit, 1);
	message_release(&m);
	/* What follows the "." line is not part of the message. */
	CHECK_INT(read_input("A: b\n\nx\n.\n\xff\n", 12, 1, &m, &err), 0);
	CHECK_INT(m.has_8bit, 0);
	message_release(&m);
}

/* has_8bit describes what is sent: 8-bit bytes only in a removed Bcc
   field no longer ask for 8BITMIME; anywhere else they still do. */
static void
test_8bit_removed_field(void)
{
	struct message m;
	struct error err;
	static const char bcc[] = "To: a@x\nBcc: J\xc3\xb6rg <j@x>\n\nplain\n";
	static const char body[] = "Bcc: J\xc3\xb6rg <j@x>\n\nb\xc3\xb6"
				   "dy\n";
	static const char kept[] =
		"Bcc: J\xc3\xb6rg <j@x>\nTo: \xc3\xa9 <a@x>\n\nx\n";
	static const char first[] = "Bcc: J\xc3\xb6rg <j@x>\nb\xc3\xb6"
				    "dy\n";

	CHECK_INT(read_input(bcc, sizeof(bcc) - 1, 1, &m, &err), 0);
	CHECK_INT(m.has_8bit, 1);
	CHECK_INT(message_remove_fields(&m, "Bcc"), 1);
	CHECK_INT(m.has_8bit, 0);
	message_release(&m);
	CHECK_INT(read_input(body, sizeof(body) - 1, 1, &m, &err), 0);
	CHECK_INT(message_remove_fields(&m, "Bcc"), 1);
	CHECK_INT(m.has_8bit, 1);
	message_release(&m);
	CHECK_INT(read_input(kept, sizeof(kept) - 1, 1, &m, &err), 0);
	CHECK_INT(message_remove_fields(&m, "Bcc"), 1);
	CHECK_INT(m.has_8bit, 1);
	message_release(&m);
	/* the line that ended the header (no separator) is body */
	CHECK_INT(read_input(first, sizeof(first) - 1, 1, &m, &err), 0);
	CHECK_INT(message_remove_fields(&m, "Bcc"), 1);
	CHECK_INT(m.has_8bit, 1);
	message_release(&m);
}

static void
test_empty_input(void)
{
	struct message m;
	struct error err;

	error_clear(&err);
	CHECK_INT(read_input("", 0, 1, &m, &err), -1);
	CHECK_INT(err.cls, ERR_NOINPUT);
	CHECK_STR(err.text, "no message on standard input");
	CHECK_INT(m.body_fd, -1);
	message_release(&m); /* harmless after a failure */
	error_clear(&err);
	CHECK_INT(read_input(".\n", 2, 1, &m, &err), -1);
	CHECK_INT(err.cls, ERR_NOINPUT);
	error_clear(&err);
	CHECK_INT(read_input("From x@y Mon Jan  1 00:00:00 2024\n",
			  strlen("From x@y Mon Jan  1 00:00:00 2024\n"), 0, &m,
			  &err),
		-1);
	CHECK_INT(err.cls, ERR_NOINPUT);
	/* An empty line is a message (empty header, empty body). */
	check_through("\n", 1, "\r\n", "\r\n");
}

static void
test_header_only_and_no_separator(void)
{
	struct message m;
	struct error err;

	/* Header only: no separator is invented. */
	CHECK_INT(read_input("Subject: x\n", 11, 1, &m, &err), 0);
	CHECK_INT(m.has_separator, 0);
	CHECK_INT(m.nfields, 1);
	CHECK_INT(m.body_len, 0);
	message_release(&m);
	check_through("Subject: x\n", 1, "Subject: x\r\n", "Subject: x\r\n");
	check_through("Subject: x\n\n", 1, "Subject: x\r\n\r\n",
		"Subject: x\r\n\r\n");

	/* The header ends at a line that is not a field: that line starts
	   the body and the empty line is inserted. */
	CHECK_INT(read_input("Subject: x\nThis is the body\nmore\n", 33, 1, &m,
			  &err),
		0);
	CHECK_INT(m.has_separator, 0);
	CHECK_INT(m.nfields, 1);
	CHECK_INT(m.body_len, 24);
	message_release(&m);
	check_through("Subject: x\nThis is the body\nmore\n", 1,
		"Subject: x\r\n\r\nThis is the body\r\nmore\r\n",
		"Subject: x\r\n\r\nThis is the body\r\nmore\r\n");
	check_through("Hello world\nA: b\n", 1, "\r\nHello world\r\nA: b\r\n",
		"\r\nHello world\r\nA: b\r\n");
	/* A continuation line with no field before it is body. */
	check_through(
		" x\nA: b\n", 1, "\r\n x\r\nA: b\r\n", "\r\n x\r\nA: b\r\n");
	/* An empty field name is not a field. */
	check_through(": x\n", 1, "\r\n: x\r\n", "\r\n: x\r\n");
}

static void
test_from_line(void)
{
	/* Leading mbox "From " lines (also ">From ") are dropped; a later
	   one is body. */
	check_through("From someone@x Mon Jan  1 00:00:00 2024\n>From again\n"
		      "Subject: s\n\nFrom me\n",
		1, "Subject: s\r\n\r\nFrom me\r\n",
		"Subject: s\r\n\r\nFrom me\r\n");
	check_through("Subject: s\nFrom x\n", 1, "Subject: s\r\n\r\nFrom x\r\n",
		"Subject: s\r\n\r\nFrom x\r\n");
}

static void
test_fields(void)
{
	static const char in[] =
		"Subject: one\n two\n\tthree\nTo:   a@x\n"
		"X-Fold:\n folded\nX-Empty:\nKeywords : k\n\nb\n";
	struct message m;
	struct error err;
	char *v;

	CHECK_INT(read_input(in, sizeof(in) - 1, 1, &m, &err), 0);
	CHECK_INT(m.nfields, 5);
	CHECK_INT(
		m.fields[0].len, strlen("Subject: one\r\n two\r\n\tthree\r\n"));
	CHECK_INT(m.fields[0].name_len, 7);
	CHECK_INT(m.fields[4].name_len, 8); /* "Keywords :" obs- form */
	CHECK_INT(message_find_field(&m, "subject", 0), 0);
	CHECK_INT(message_find_field(&m, "TO", 0), 1);
	CHECK_INT(message_find_field(&m, "To", 2), -1);
	CHECK_INT(message_find_field(&m, "Cc", 0), -1);
	CHECK_INT(message_find_field(&m, "Subjec", 0), -1);
	CHECK_INT(message_find_field(&m, "Keywords", 0), 4);

	/* Unfolded, leading blanks and the final CRLF gone. */
	v = message_field_value(&m, 0);
	CHECK_STR(v, "one two\tthree");
	free(v);
	v = message_field_value(&m, 1);
	CHECK_STR(v, "a@x");
	free(v);
	v = message_field_value(&m, 2);
	CHECK_STR(v, "folded");
	free(v);
	v = message_field_value(&m, 3);
	CHECK_STR(v, "");
	free(v);
	v = message_field_value(&m, 4);
	CHECK_STR(v, "k");
	free(v);
	CHECK(message_field_value(&m, 5) == NULL);
	message_release(&m);
}

static void
check_error_at(int line, const char *in, size_t len, enum err_class cls,
	const char *text_part)
{
	struct message m;
	struct error err;

	error_clear(&err);
	if (read_input(in, len, 1, &m, &err) == 0) {
		check_failed++;
		fprintf(stderr, "%s:%d: FAIL: no error\n", __FILE__, line);
		message_release(&m);
		return;
	}
	if (err.cls == cls && strstr(err.text, text_part) != NULL) {
		check_passed++;
		return;
	}
	check_failed++;
	fprintf(stderr, "%s:%d: FAIL: error %d \"%s\", want %d with \"%s\"\n",
		__FILE__, line, (int)err.cls, err.text, (int)cls, text_part);
}

static void
test_caps(void)
{
	struct buf in;
	struct message m;
	struct error err;
	size_t i;
	char field[1100];

	/* The header section is capped; just under the cap is fine. */
	buf_init(&in, (size_t)1 << 30);
	memset(field, 'a', sizeof(field));
	for (i = 0; i < 1000; i++) {
		buf_printf(&in, "X-Fill-%04zu: ", i);
		buf_append(&in, field, 980);
		buf_addch(&in, '\n');
	}
	CHECK_INT(read_input(in.data, in.len, 1, &m, &err), 0);
	CHECK_INT(m.nfields, 1000);
	message_release(&m);
	for (; i < 1100; i++) {
		buf_printf(&in, "X-Fill-%04zu: ", i);
		buf_append(&in, field, 980);
		buf_addch(&in, '\n');
	}
	buf_addstr(&in, "\nbody\n");
	check_error_at(__LINE__, in.data, in.len, ERR_DATA, "header section");

	/* One line may hold 998 octets (RFC 5322 §2.1.1), not more; the
	   error names the line. */
	CHECK_INT(MESSAGE_LINE_MAX, 998);
	buf_reset(&in);
	buf_addstr(&in, "A: b\n\n");
	for (i = 0; i < MESSAGE_LINE_MAX; i++)
		buf_addch(&in, 'x');
	buf_addstr(&in, "\r\r\n");
	CHECK_INT(read_input(in.data, in.len, 1, &m, &err), 0);
	CHECK_INT(m.body_len, MESSAGE_LINE_MAX + 2);
	message_release(&m);
	in.len -= 3;
	buf_addstr(&in, "x\nshort\n");
	check_error_at(__LINE__, in.data, in.len, ERR_DATA,
		"line 3 is longer than 998 octets (RFC 5322 section 2.1.1)");
	/* ... also when it is the last line, without LF. */
	in.len -= 7;
	check_error_at(__LINE__, in.data, in.len, ERR_DATA,
		"line 3 is longer than 998 octets (RFC 5322 section 2.1.1)");
	/* ... and in the header. */
	in.data[0] = 'X';
	in.data[1] = ':';
	in.data[4] = 'y';
	in.data[5] = 'y';
	check_error_at(__LINE__, in.data, in.len, ERR_DATA, "line 1 is longer");
	buf_release(&in);
}

static size_t
dir_entries(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	size_t n = 0;

	if (d == NULL)
		return (size_t)-1;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

static void
test_spool_file(void)
{
	struct buf in, want, stuffed;
	struct message m;
	struct error err;
	size_t i;

	/* Past MESSAGE_MEM_MAX the body is in an unlinked temp file. */
	buf_init(&in, (size_t)1 << 30);
	buf_init(&want, (size_t)1 << 30);
	buf_init(&stuffed, (size_t)1 << 30);
	buf_addstr(&in, "Subject: big\n\n");
	buf_addstr(&want, "Subject: big\r\n\r\n");
	buf_addstr(&stuffed, "Subject: big\r\n\r\n");
	for (i = 0; want.len < MESSAGE_MEM_MAX + 100000; i++) {
		buf_printf(&in, "%sline %zu\n", i % 7 ? "" : ".", i);
		buf_printf(&want, "%sline %zu\r\n", i % 7 ? "" : ".", i);
		buf_printf(&stuffed, "%sline %zu\r\n", i % 7 ? "" : "..", i);
	}
	CHECK_INT(read_input(in.data, in.len, 0, &m, &err), 0);
	CHECK(m.body_fd >= 0);
	CHECK(m.body_mem == NULL);
	CHECK_INT(m.body_len, want.len - 16);
	/* only our own input file's name was ever there, and it too is
	   unlinked */
	CHECK_INT(dir_entries(test_dir), 0);
	check_wire_at(
		__LINE__, &m, want.data, want.len, stuffed.data, stuffed.len);
	message_release(&m);

	/* The temp file cannot be made: ERR_CANTCREAT, in opts->tmpdir or
	   else $TMPDIR. */
	CHECK_INT(read_file_input(
			  in.data, in.len, 0, "/nonexistent-dir", &m, &err),
		-1);
	CHECK_INT(err.cls, ERR_CANTCREAT);
	CHECK(strstr(err.text, "/nonexistent-dir") != NULL);
	setenv("TMPDIR", "/nonexistent-tmpdir", 1);
	CHECK_INT(read_file_input(in.data, in.len, 0, NULL, &m, &err), -1);
	CHECK_INT(err.cls, ERR_CANTCREAT);
	CHECK(strstr(err.text, "/nonexistent-tmpdir") != NULL);
	unsetenv("TMPDIR");
	buf_release(&in);
	buf_release(&want);
	buf_release(&stuffed);
}

/* A spooled body's lines take a fast loop up to each CR: CRLF and lone
   CR line ends, 8-bit bytes, a NUL and an overlong line far into a
   spooled body get what they get in memory. */
static void
test_spool_mixed(void)
{
	struct buf in, want, stuffed;
	unsigned long lines = 2; /* Subject and the empty line */
	struct message m;
	struct error err;
	char msg[128];
	size_t i, nul_at;

	buf_init(&in, (size_t)1 << 30);
	buf_init(&want, (size_t)1 << 30);
	buf_init(&stuffed, (size_t)1 << 30);
	buf_addstr(&in, "Subject: mixed\n\n");
	buf_addstr(&want, "Subject: mixed\r\n\r\n");
	buf_addstr(&stuffed, "Subject: mixed\r\n\r\n");
	for (i = 0; want.len < MESSAGE_MEM_MAX + 200000; i++, lines++) {
		static const char *const ends[] = {"\n", "\r\n", "\r"};
		const char *dot = i % 3 ? "" : ".";

		buf_printf(&in, "%sline %zu%s", dot, i, ends[i % 3]);
		buf_printf(&want, "%sline %zu\r\n", dot, i);
		buf_printf(&stuffed, "%s%sline %zu\r\n", dot, dot, i);
	}
	buf_addstr(&in, "end\n");
	buf_addstr(&want, "end\r\n");
	buf_addstr(&stuffed, "end\r\n");
	lines++;
	/* all ASCII so far, then one 8-bit line */
	CHECK_INT(read_input(in.data, in.len, 0, &m, &err), 0);
	CHECK(m.body_fd >= 0);
	CHECK_INT(m.body_8bit, 0);
	message_release(&m);
	buf_addstr(&in, "caf\xc3\xa9\n");
	buf_addstr(&want, "caf\xc3\xa9\r\n");
	buf_addstr(&stuffed, "caf\xc3\xa9\r\n");
	CHECK_INT(read_input(in.data, in.len, 0, &m, &err), 0);
	CHECK(m.body_fd >= 0);
	CHECK_INT(m.body_8bit, 1);
	CHECK_INT(m.body_len, want.len - 18); /* the header */
	check_wire_at(
		__LINE__, &m, want.data, want.len, stuffed.data, stuffed.len);
	message_release(&m);
	lines++;

	/* an overlong line: its number; then a NUL: its offset */
	buf_printf(&in, "%0*d\n", MESSAGE_LINE_MAX + 1, 7);
	CHECK_INT(read_input(in.data, in.len, 0, &m, &err), -1);
	snprintf(msg, sizeof(msg), "line %lu is longer than", lines + 1);
	CHECK_STR(strstr(err.text, msg) ? msg : err.text, msg);
	in.len -= MESSAGE_LINE_MAX + 2;
	nul_at = in.len + 3;
	buf_append(&in, "abc\0def\n", 8);
	CHECK_INT(read_input(in.data, in.len, 0, &m, &err), -1);
	snprintf(msg, sizeof(msg), "NUL byte at offset %zu of", nul_at);
	CHECK(strstr(err.text, msg) != NULL);
	buf_release(&in);
	buf_release(&want);
	buf_release(&stuffed);
}

/* The stuffed wire data of m as a reader gives it with spans taken
   where offered, reading cap bytes between them: what smtp sends. */
static char *
wire_spans(const struct message *m, int dotstuff, size_t cap, size_t *lenp,
	int *spans)
{
	struct message_reader r;
	struct error err;
	struct buf out;
	char *chunk = xmalloc(cap);
	off_t off, len;
	ssize_t n;
	int fd;

	buf_init(&out, (size_t)1 << 30);
	message_reader_init(&r, m, dotstuff);
	*spans = 0;
	for (;;) {
		if (message_reader_span(&r, &fd, &off, &len) == 1) {
			size_t at = out.len;

			(*spans)++;
			CHECK(fd == m->body_fd);
			CHECK(len > 0);
			for (off_t i = 0; i < len; i += (off_t)n) {
				n = pread(fd, chunk,
					len - i < (off_t)cap ? (size_t)(len - i)
							     : cap,
					off + i);
				CHECK(n > 0);
				if (n <= 0)
					break;
				buf_append(&out, chunk, (size_t)n);
			}
			CHECK_INT(out.len - at, len);
		}
		n = message_reader_read(&r, chunk, cap, &err);
		CHECK(n >= 0);
		if (n <= 0)
			break;
		buf_append(&out, chunk, (size_t)n);
	}
	free(chunk);
	return buf_detach(&out, lenp);
}

static void
test_spool_span(void)
{
	static const char head[] = "Subject: big\r\n\r\n";
	struct buf in, want, stuffed;
	struct message_reader r;
	struct message m;
	struct error err;
	char chunk[4096];
	size_t i, len, dots = 0;
	off_t off, slen;
	char *got;
	int fd, spans;

	/* The spool holds the body dot-stuffed, as DATA sends it, and
	   body_len stays the unstuffed (wire size) length. */
	buf_init(&in, (size_t)1 << 30);
	buf_init(&want, (size_t)1 << 30);
	buf_init(&stuffed, (size_t)1 << 30);
	buf_addstr(&in, "Subject: big\n\n");
	buf_addstr(&want, head);
	buf_addstr(&stuffed, head);
	for (i = 0; want.len < MESSAGE_MEM_MAX + 300000; i++) {
		buf_printf(&in, "%sline %zu\n", i % 5 ? "" : ".", i);
		buf_printf(&want, "%sline %zu\r\n", i % 5 ? "" : ".", i);
		buf_printf(&stuffed, "%sline %zu\r\n", i % 5 ? "" : "..", i);
		dots += i % 5 == 0;
	}
	CHECK_INT(read_input(in.data, in.len, 0, &m, &err), 0);
	CHECK(m.body_fd >= 0);
	CHECK_INT(m.body_dots, dots);
	CHECK_INT(m.body_len, want.len - (sizeof(head) - 1));
	CHECK_INT(lseek(m.body_fd, 0, SEEK_END),
		stuffed.len - (sizeof(head) - 1));

	/* DATA: the read stops where the body starts, the rest is one
	   span of the spool file; with spans taken or not, byte-exact. */
	message_reader_init(&r, &m, 1);
	CHECK_INT(message_reader_span(&r, &fd, &off, &slen), 0);
	CHECK_INT(message_reader_read(&r, chunk, sizeof(chunk), &err),
		sizeof(head) - 1);
	CHECK_INT(message_reader_span(&r, &fd, &off, &slen), 1);
	CHECK_INT(off, 0);
	CHECK_INT(slen, stuffed.len - (sizeof(head) - 1));
	CHECK_INT(message_reader_read(&r, chunk, sizeof(chunk), &err), 0);
	CHECK_INT(message_reader_span(&r, &fd, &off, &slen), 0);
	for (i = 0; i < NCAPS; i++) {
		got = wire_spans(&m, 1, caps[i], &len, &spans);
		CHECK_MEM(got, len, stuffed.data, stuffed.len);
		CHECK_INT(spans, 1);
		free(got);
	}
	/* a span from the middle of the body: the rest of it */
	message_reader_init(&r, &m, 1);
	CHECK_INT(message_reader_read(&r, chunk, sizeof(chunk), &err),
		sizeof(head) - 1);
	CHECK_INT(message_reader_read(&r, chunk, 100, &err), 100);
	CHECK_INT(message_reader_span(&r, &fd, &off, &slen), 1);
	CHECK_INT(off, 100);
	CHECK_INT(slen, stuffed.len - (sizeof(head) - 1) - 100);

	/* BDAT with stuffed lines: no span, the dots come off on reading */
	for (i = 0; i < NCAPS; i++) {
		got = wire_spans(&m, 0, caps[i], &len, &spans);
		CHECK_MEM(got, len, want.data, want.len);
		CHECK_INT(spans, 0);
		free(got);
	}
	message_release(&m);

	/* BDAT without a dot line: the spool is the wire data, one span */
	buf_reset(&in);
	buf_reset(&want);
	buf_addstr(&in, "Subject: big\n\n");
	buf_addstr(&want, head);
	for (i = 0; want.len < MESSAGE_MEM_MAX + 300000; i++) {
		buf_printf(&in, "line %zu\n", i);
		buf_printf(&want, "line %zu\r\n", i);
	}
	CHECK_INT(read_input(in.data, in.len, 0, &m, &err), 0);
	CHECK_INT(m.body_dots, 0);
	got = wire_spans(&m, 0, 65536, &len, &spans);
	CHECK_MEM(got, len, want.data, want.len);
	CHECK_INT(spans, 1);
	free(got);
	message_release(&m);

	/* A body in memory offers no span. */
	CHECK_INT(read_input("A: b\n\n.x\ny\n", 11, 0, &m, &err), 0);
	CHECK(m.body_fd < 0);
	got = wire_spans(&m, 1, 65536, &len, &spans);
	CHECK_LIT(got, len, "A: b\r\n\r\n..x\r\ny\r\n");
	CHECK_INT(spans, 0);
	free(got);
	message_release(&m);
	buf_release(&in);
	buf_release(&want);
	buf_release(&stuffed);
}

/* 8-bit bytes are looked for once per read, not per line: one far into
   the input still counts, unless it is not part of the message. */
static void
test_8bit_far(void)
{
	struct buf in;
	struct message m;
	struct error err;
	size_t i;

	buf_init(&in, (size_t)1 << 24);
	buf_addstr(&in, "A: b\n\n");
	for (i = 0; in.len < 300000; i++)
		buf_addstr(&in, "0123456789abcdef0123456789abcdef012345678\n");
	buf_addstr(&in, "caf\xc3\xa9\n");
	CHECK_INT(read_input(in.data, in.len, 1, &m, &err), 0);
	CHECK_INT(m.body_8bit, 1);
	CHECK_INT(m.has_8bit, 1);
	message_release(&m);
	/* after the "." line: not the message's */
	in.len -= 6;
	buf_addstr(&in, ".\ncaf\xc3\xa9\n");
	CHECK_INT(read_input(in.data, in.len, 1, &m, &err), 0);
	CHECK_INT(m.has_8bit, 0);
	message_release(&m);
	/* in a dropped "From " line only */
	CHECK_INT(read_input("From a\xff b\nA: b\n\nx\n", 18, 1, &m, &err),
		0);
	CHECK_INT(m.has_8bit, 0);
	message_release(&m);
	buf_release(&in);
}

/* A CR far into an LF-only input, after the reads that found none. */
static void
test_cr_far(void)
{
	struct buf in, want, stuffed;
	struct message m;
	struct error err;
	size_t i;
	static const size_t pieces[] = {4096, 65536, 100000};

	buf_init(&in, (size_t)1 << 24);
	buf_init(&want, (size_t)1 << 24);
	buf_init(&stuffed, (size_t)1 << 24);
	buf_addstr(&in, "A: b\n\n");
	buf_addstr(&want, "A: b\r\n\r\n");
	buf_addstr(&stuffed, "A: b\r\n\r\n");
	for (i = 0; in.len < 200000; i++) {
		buf_addstr(&in, ".0123456789abcdef0123456789abcdef01234567\n");
		buf_addstr(&want, ".0123456789abcdef0123456789abcdef01234567\r\n");
		buf_addstr(&stuffed, "..0123456789abcdef0123456789abcdef01234567\r\n");
	}
	buf_addstr(&in, "x\ry\r\r\nz\n.w\rend");
	buf_addstr(&want, "x\r\ny\r\nz\r\n.w\r\nend\r\n");
	buf_addstr(&stuffed, "x\r\ny\r\nz\r\n..w\r\nend\r\n");
	for (i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++) {
		CHECK_INT(read_pipe_input(in.data, in.len, pieces[i], 0, &m, &err),
			0);
		check_wire_at(__LINE__, &m, want.data, want.len, stuffed.data,
			stuffed.len);
		message_release(&m);
	}
	buf_release(&in);
	buf_release(&want);
	buf_release(&stuffed);
}

static void
test_bcc_removal(void)
{
	static const char in[] = "Bcc: first@x\nTo: a@x\nBcc: b@y,\n c@z\n"
				 "Subject: s\nbcc: d@w\n\nbody\n";
	static const char want[] = "To: a@x\r\nSubject: s\r\n\r\nbody\r\n";
	struct message m;
	struct error err;
	size_t len;
	char *got;

	CHECK_INT(read_input(in, sizeof(in) - 1, 1, &m, &err), 0);
	CHECK_INT(message_remove_fields(&m, "Bcc"), 3);
	/* folded continuation lines go with their field */
	check_wire_at(
		__LINE__, &m, want, sizeof(want) - 1, want, sizeof(want) - 1);
	CHECK_INT(message_find_field(&m, "bcc", 0), 0); /* still indexed */
	message_release(&m);

	/* Bcc as the last field before the separator. */
	CHECK_INT(read_input("To: a@x\nBcc: b@y\n\nx\n", 20, 1, &m, &err), 0);
	CHECK_INT(message_remove_fields(&m, "BCC"), 1);
	got = wire(&m, 1, 7, &len);
	CHECK_MEM(got, len, "To: a@x\r\n\r\nx\r\n", 14);
	free(got);
	CHECK_INT(message_remove_fields(&m, "Resent-Bcc"), 0);
	message_release(&m);
}

static void
check_rcpts_at(int line, const char *in, const char *want)
{
	struct address_list l;
	struct message m;
	struct error err;
	struct buf got;
	size_t i;

	address_list_init(&l);
	buf_init(&got, 4096);
	error_clear(&err);
	CHECK_INT(read_input(in, strlen(in), 1, &m, &err), 0);
	if (message_header_recipients(&m, &l, &err) < 0)
		buf_printf(&got, "error: %s", err.text);
	for (i = 0; i < l.n; i++)
		buf_printf(&got, "%s%s", i ? " " : "", l.v[i].mailbox);
	if (strcmp(got.data, want) == 0) {
		check_passed++;
	} else {
		check_failed++;
		fprintf(stderr, "%s:%d: FAIL: recipients \"%s\", want \"%s\"\n",
			__FILE__, line, got.data, want);
	}
	buf_release(&got);
	address_list_release(&l);
	message_release(&m);
}

#define check_rcpts(in, want) check_rcpts_at(__LINE__, in, want)

static void
test_header_recipients(void)
{
	/* To, Cc, Bcc in header order, folded fields too. */
	check_rcpts("To: a@x, B <b@x>\nSubject: s\nCc: c@x\nBcc: d@x,\n e@x\n"
		    "\nbody\n",
		"a@x b@x c@x d@x e@x");
	/* Any Resent- field: only Resent-To/Cc/Bcc count (RFC 5322
	   §3.6.6). */
	check_rcpts("To: a@x\nResent-From: r@x\nResent-To: e@x\nResent-Cc: "
		    "f@x\nCc: c@x\nresent-bcc: g@x\n\nb\n",
		"e@x f@x g@x");
	check_rcpts(
		"To: a@x\nResent-Date: Mon, 1 Jan 2024 00:00:00 +0000\n\nb\n",
		"");
}

static void
check_rcpt_error_prefix(void)
{
	struct address_list l;
	struct message m;
	struct error err;

	address_list_init(&l);
	CHECK_INT(read_input("Cc: <c@x\n\nb\n", 12, 1, &m, &err), 0);
	CHECK_INT(message_header_recipients(&m, &l, &err), -1);
	CHECK_INT(err.cls, ERR_DATA);
	CHECK(strncmp(err.text, "Cc header: ", 11) == 0);
	address_list_release(&l);
	message_release(&m);
}

static void
test_reader_small_cap(void)
{
	struct message m;
	struct message_reader r;
	struct error err;
	char b[1];

	/* A buffer under 2 bytes is a caller bug, reported, not looped on. */
	CHECK_INT(read_input("A: b\n\nx\n", 8, 1, &m, &err), 0);
	message_reader_init(&r, &m, 1);
	CHECK_INT(message_reader_read(&r, b, 1, &err), -1);
	CHECK_INT(err.cls, ERR_SOFTWARE);
	message_release(&m);
}

/* --- line rules (RFC 5321 §2.3.8, §4.5.2) ------------------------------- */

static void
test_bare_cr(void)
{
	/* A bare CR ends a line; a run of CRs before an LF is one line
	   ending; a run not ended by LF is one line ending per CR. */
	check_through("A: b\r\rB: c\r\rbody\rmore\r", 0,
		"A: b\r\n\r\nB: c\r\n\r\nbody\r\nmore\r\n",
		"A: b\r\n\r\nB: c\r\n\r\nbody\r\nmore\r\n");
	check_through("A: b\n\nx\r\r\r\ny\n", 0, "A: b\r\n\r\nx\r\ny\r\n",
		"A: b\r\n\r\nx\r\ny\r\n");
	check_through("A: b\n\nx\r\r\ry\n", 0, "A: b\r\n\r\nx\r\n\r\n\r\ny\r\n",
		"A: b\r\n\r\nx\r\n\r\n\r\ny\r\n");
	/* CR then LF in the next read is still one line ending, and CRs
	   at the very end: the first ends the line, each other one an
	   empty line. */
	check_through("A: b\n\nx\r\r", 0, "A: b\r\n\r\nx\r\n\r\n",
		"A: b\r\n\r\nx\r\n\r\n");
	/* a CR in a header field: the field ends there, and what follows
	   is a field of its own or the body */
	check_through("Subject: a\rBcc: x@y\n\nb\n", 0,
		"Subject: a\r\nBcc: x@y\r\n\r\nb\r\n",
		"Subject: a\r\nBcc: x@y\r\n\r\nb\r\n");
	/* "\r" + SP continues a field like "\n" + SP */
	check_through("Subject: a\r b\n\nc\n", 0,
		"Subject: a\r\n b\r\n\r\nc\r\n",
		"Subject: a\r\n b\r\n\r\nc\r\n");
}

static void
test_bare_cr_pieces(void)
{
	static const char in[] = "A: b\r\rx\r\r\r\ny\r\r\rz\r\n.\r\r.\rend\r\r";
	static const char want[] = "A: b\r\n\r\nx\r\ny\r\n\r\n\r\nz\r\n.\r\n"
				   "\r\n.\r\nend\r\n\r\n";
	static const char stuffed[] = "A: b\r\n\r\nx\r\ny\r\n\r\n\r\nz\r\n"
				      "..\r\n\r\n..\r\nend\r\n\r\n";
	static const size_t pieces[] = {1, 2, 3, 4096};
	struct message m;
	struct error err;
	size_t i;

	/* CR runs split across reads at every point. */
	for (i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++) {
		CHECK_INT(read_pipe_input(
				  in, sizeof(in) - 1, pieces[i], 0, &m, &err),
			0);
		check_wire_at(__LINE__, &m, want, sizeof(want) - 1, stuffed,
			sizeof(stuffed) - 1);
		message_release(&m);
	}
}

static void
check_error_exact_at(int line, const char *in, size_t len, int dot_ends,
	enum err_class cls, const char *text)
{
	struct message m;
	struct error err;

	error_clear(&err);
	if (read_input(in, len, dot_ends, &m, &err) == 0) {
		check_failed++;
		fprintf(stderr, "%s:%d: FAIL: no error\n", __FILE__, line);
		message_release(&m);
		return;
	}
	if (err.cls == cls && strcmp(err.text, text) == 0) {
		check_passed++;
		return;
	}
	check_failed++;
	fprintf(stderr, "%s:%d: FAIL: error %d \"%s\", want %d \"%s\"\n",
		__FILE__, line, (int)err.cls, err.text, (int)cls, text);
}

#define check_error_exact(in, len, dot_ends, cls, text)                        \
	check_error_exact_at(__LINE__, in, len, dot_ends, cls, text)
#define check_error_lit(lit, cls, text)                                        \
	check_error_exact_at(__LINE__, lit, sizeof(lit) - 1, 0, cls, text)

static void
test_nul_refused(void)
{
	struct buf in;
	char want[100];
	size_t i;

	/* Refused with its offset in the input as read (from 0), dropped
	   "From " lines and CRs counted. */
	check_error_lit("A: b\n\nx\0y\n", ERR_DATA,
		"NUL byte at offset 7 of the input");
	check_error_lit("From x@y\r\r\nA: b\0\n\nx\n", ERR_DATA,
		"NUL byte at offset 15 of the input");
	check_error_lit("\0", ERR_DATA, "NUL byte at offset 0 of the input");
	/* RFC 6532: 8-bit header bytes must be UTF-8; the body may hold any */
	check_error_lit("A: caf\xe9\n\nx\n", ERR_DATA,
		"header line 1 is not UTF-8 (byte 0xe9 at offset 6); other "
		"charsets need RFC 2047 encoded words");
	check_error_lit("A: b\n c\xc3\n\nx\n", ERR_DATA,
		"header line 2 is not UTF-8 (byte 0xc3 at offset 2); other "
		"charsets need RFC 2047 encoded words");
	/* in the last line without LF, and after a bare CR */
	check_error_lit("A: b\n\nx\ry\0", ERR_DATA,
		"NUL byte at offset 9 of the input");
	/* the smuggling form "\r\n\0.\r\n" */
	check_error_lit("A: b\r\n\r\nx\r\n\0.\r\nMAIL FROM:<a@b>\r\n", ERR_DATA,
		"NUL byte at offset 11 of the input");
	/* after the "." line (without -i) nothing is read, NUL or not */
	check_through_at(__LINE__, "A: b\n\nx\n.\n\0\n", 1, "A: b\r\n\r\nx\r\n",
		"A: b\r\n\r\nx\r\n");
	/* far into the input, past several reads */
	buf_init(&in, (size_t)1 << 24);
	buf_addstr(&in, "A: b\n\n");
	for (i = 0; in.len < 200000; i++)
		buf_addstr(&in, "0123456789abcdef0123456789abcdef012345678\n");
	buf_addstr(&in, "abc");
	snprintf(want, sizeof(want), "NUL byte at offset %zu of the input",
		in.len);
	CHECK(in.len > 200000);
	buf_addch(&in, '\0');
	buf_addstr(&in, "more\n");
	check_error_exact(in.data, in.len, 0, ERR_DATA, want);
	buf_release(&in);
}

static void
test_line_998(void)
{
	char line[1200];
	struct buf in;
	struct message m;
	struct error err;

	memset(line, 'x', sizeof(line));
	buf_init(&in, 1 << 20);
	/* exactly 998 octets before each kind of line ending is fine */
	buf_addstr(&in, "A: b\n\n");
	buf_append(&in, line, 998);
	buf_addstr(&in, "\r");
	buf_append(&in, line, 998);
	buf_addstr(&in, "\r\r\n");
	buf_append(&in, line, 998);
	CHECK_INT(read_input(in.data, in.len, 0, &m, &err), 0);
	CHECK_INT(m.body_len, 3 * 1000);
	message_release(&m);
	/* 999 is refused with the line number, counted as the line
	   rules split the input (a bare CR ends a line) */
	buf_addstr(&in, "x");
	check_error_exact(in.data, in.len, 0, ERR_DATA,
		"line 5 is longer than 998 octets (RFC 5322 section 2.1.1)");
	buf_reset(&in);
	buf_addstr(&in, "From x\nA: b\r\r");
	buf_append(&in, line, 999);
	buf_addstr(&in, "\n");
	check_error_exact(in.data, in.len, 0, ERR_DATA,
		"line 4 is longer than 998 octets (RFC 5322 section 2.1.1)");
	/* in the header, and far longer than a read */
	buf_reset(&in);
	buf_addstr(&in, "Subject: ");
	while (in.len < 300000)
		buf_append(&in, line, sizeof(line));
	check_error_exact(in.data, in.len, 0, ERR_DATA,
		"line 1 is longer than 998 octets (RFC 5322 section 2.1.1)");
	/* the dropped mbox line counts too */
	buf_reset(&in);
	buf_addstr(&in, "From ");
	buf_append(&in, line, 994);
	buf_addstr(&in, "\nA: b\n");
	check_error_exact(in.data, in.len, 0, ERR_DATA,
		"line 1 is longer than 998 octets (RFC 5322 section 2.1.1)");
	buf_release(&in);
}

/* The wire data (stuffed) is safe to send before ".\r\n": every CR and
   LF is part of a CRLF, it ends with CRLF, and no line is a lone ".". */
static int
wire_is_safe(const char *w, size_t len)
{
	size_t i;

	if (len < 2 || w[len - 2] != '\r' || w[len - 1] != '\n')
		return 0;
	for (i = 0; i < len; i++) {
		if (w[i] == '\r' && (i + 1 == len || w[i + 1] != '\n'))
			return 0;
		if (w[i] == '\n' && (i == 0 || w[i - 1] != '\r'))
			return 0;
		if (w[i] == '.' && (i == 0 || w[i - 1] == '\n') &&
			i + 1 < len && w[i + 1] == '\r')
			return 0;
	}
	return 1;
}

/* A small input through a pipe, written whole before the read: the
   cheapest way to feed the many inputs below. */
static int
read_small(const char *in, size_t len, int dot_ends, struct message *m,
	struct error *err)
{
	struct message_opts opts = {dot_ends, test_dir};
	int fds[2], rc;

	if (pipe(fds) < 0) {
		perror("pipe");
		exit(2);
	}
	write_all(fds[1], in, len);
	close(fds[1]);
	rc = message_read(m, fds[0], &opts, err);
	close(fds[0]);
	return rc;
}

/* in read with and without -i never yields an unstuffed "." line, a
   bare CR or LF, or a wire size other than the data's; returns 1 if
   so (a failure is printed once). */
static int
check_smuggle_one(const char *in, size_t len)
{
	struct message m;
	struct error err;
	char *w, *plain, esc[200];
	size_t wlen, plen;
	int dot_ends, ok = 1;

	for (dot_ends = 0; dot_ends <= 1 && ok; dot_ends++) {
		if (read_small(in, len, dot_ends, &m, &err) < 0) {
			/* no message left: nothing is sent */
			ok = err.cls == ERR_NOINPUT;
			if (!ok)
				fprintf(stderr, "%s: FAIL: %s\n", __FILE__,
					err.text);
			continue;
		}
		w = wire(&m, 1, 65536, &wlen);
		plain = wire(&m, 0, 3, &plen);
		ok = wire_is_safe(w, wlen) &&
		     (off_t)plen == message_wire_size(&m) &&
		     (plen < 2 || (plain[plen - 2] == '\r' &&
					  plain[plen - 1] == '\n'));
		if (!ok)
			fprintf(stderr,
				"%s: FAIL: smuggling input \"%s\" (-i %d)\n",
				__FILE__, log_escape(esc, sizeof(esc), in, len),
				!dot_ends);
		free(w);
		free(plain);
		message_release(&m);
	}
	return ok;
}

static void
test_smuggling_exhaustive(void)
{
	static const char alphabet[] = "\r\n.x";
	static const char *const prefixes[] = {"", "A: b\r\n\r\n", "A: b\n"};
	char in[32];
	size_t p, plen, len, k, idx, total, bad = 0, count = 0;

	/* Every string of CR, LF, '.' and 'x' up to 7 long, alone, after
	   a header and inside one. */
	for (p = 0; p < sizeof(prefixes) / sizeof(prefixes[0]); p++) {
		plen = strlen(prefixes[p]);
		memcpy(in, prefixes[p], plen);
		for (len = 1, total = 4; len <= 7; len++, total *= 4) {
			for (idx = 0; idx < total; idx++) {
				size_t v = idx;

				for (k = 0; k < len; k++, v /= 4)
					in[plen + k] = alphabet[v % 4];
				if (!check_smuggle_one(in, plen + len))
					bad++;
				count++;
			}
		}
	}
	CHECK_INT(bad, 0);
	CHECK(count > 60000);
}

static void
test_smuggling_named(void)
{
	/* The end-of-data variants of the SMTP smuggling reports (SEC
	   Consult, December 2023), between two body lines, with -i: each
	   becomes a stuffed ".." line between CRLF line endings. */
	static const char *const seqs[] = {"\n.\n", "\n.\r\n", "\r\n.\n",
		"\r.\r", "\r.\r\n", "\r\n.\r", "\n.\r", "\r.\n", "\n.\r\r\n",
		"\r\r\n.\r\r\n"};
	struct buf in;
	size_t i;

	buf_init(&in, 4096);
	for (i = 0; i < sizeof(seqs) / sizeof(seqs[0]); i++) {
		buf_reset(&in);
		buf_printf(
			&in, "A: b\r\n\r\nx%sMAIL FROM:<evil@x>\r\n", seqs[i]);
		check_through_at(__LINE__, in.data, 0,
			"A: b\r\n\r\nx\r\n.\r\nMAIL FROM:<evil@x>\r\n",
			"A: b\r\n\r\nx\r\n..\r\nMAIL FROM:<evil@x>\r\n");
		/* without -i the "." line ends the input there: nothing of
		   the smuggled command is read */
		check_through_at(__LINE__, in.data, 1, "A: b\r\n\r\nx\r\n",
			"A: b\r\n\r\nx\r\n");
	}
	/* ".\r\r\n" at the start of the body, and "\n.\r\ry": the extra
	   CR is an empty line of its own */
	check_through("A: b\n\n.\r\r\ny\n", 0, "A: b\r\n\r\n.\r\ny\r\n",
		"A: b\r\n\r\n..\r\ny\r\n");
	check_through("A: b\n\nx\n.\r\ry\n", 0,
		"A: b\r\n\r\nx\r\n.\r\n\r\ny\r\n",
		"A: b\r\n\r\nx\r\n..\r\n\r\ny\r\n");
	buf_release(&in);
}

/* --- header repair: golden input -> output pairs ---------------------- */

/* has_8bit says whether the wire data holds a byte >= 0x80. */
static void
check_8bit_at(int line, const struct message *m)
{
	size_t len, i;
	char *w = wire(m, 0, 65536, &len);
	int any = 0;

	for (i = 0; i < len; i++)
		any |= (unsigned char)w[i] >= 0x80;
	free(w);
	if (any == m->has_8bit) {
		check_passed++;
		return;
	}
	check_failed++;
	fprintf(stderr, "%s:%d: FAIL: has_8bit %d, wire says %d\n", __FILE__,
		line, m->has_8bit, any);
}

/* Read in with -i, let repair change it (returns < 0 to fail), then the
   wire data must be want exactly, at every buffer size, with the wire
   size and has_8bit to match. */
static void
check_repair_at(int line, const char *in,
	int (*repair)(struct message *, struct error *), const char *want)
{
	struct message m;
	struct error err;
	size_t len = strlen(want), i, slen = 0;
	char *stuffed = xmalloc(2 * len + 1);

	if (read_input(in, strlen(in), 0, &m, &err) < 0) {
		check_failed++;
		fprintf(stderr, "%s:%d: FAIL: read: %s\n", __FILE__, line,
			err.text);
		free(stuffed);
		return;
	}
	error_clear(&err);
	if (repair(&m, &err) < 0) {
		check_failed++;
		fprintf(stderr, "%s:%d: FAIL: repair: %s\n", __FILE__, line,
			err.text);
	}
	for (i = 0; i < len; i++) {
		if (want[i] == '.' && (i == 0 || want[i - 1] == '\n'))
			stuffed[slen++] = '.';
		stuffed[slen++] = want[i];
	}
	check_wire_at(line, &m, want, len, stuffed, slen);
	check_8bit_at(line, &m);
	free(stuffed);
	message_release(&m);
}

#define check_repair(in, repair, want)                                         \
	check_repair_at(__LINE__, in, repair, want)

/* 2023-11-14 22:13:20 UTC */
#define NOW ((time_t)1700000000)

static char *
qualify_example(const char *bare, void *ctx, struct error *err)
{
	struct buf b;
	size_t len;

	(void)ctx;
	if (strcmp(bare, "nobody-here") == 0) {
		error_set(err, ERR_DATA, "cannot qualify '%s': set maildomain",
			bare);
		return NULL;
	}
	buf_init(&b, 1024);
	buf_printf(&b, "%s@example.org", bare);
	return buf_detach(&b, &len);
}

static int
repair_cron(struct message *m, struct error *err)
{
	int n;

	n = message_qualify_fields(m, qualify_example, NULL, err);
	CHECK_INT(n, 2);
	if (n < 0)
		return -1;
	CHECK_INT(message_set_from(
			  m, MESSAGE_FROM_AUTO, NULL, "root@example.org", err),
		0);
	CHECK_INT(message_set_date(m, NOW, err), 1);
	CHECK_INT(message_remove_fields(m, "Bcc"), 0);
	CHECK_INT(message_set_to_undisclosed(m, err), 0);
	return 0;
}

static void
test_repair_cron(void)
{
	/* Debian cron: From with a comment, bare To, no Date. */
	setenv("TZ", "UTC", 1);
	tzset();
	check_repair("From: root (Cron Daemon)\nTo: root\n"
		     "Subject: Cron <root@host> /usr/local/bin/job\n"
		     "MIME-Version: 1.0\n"
		     "Content-Type: text/plain; charset=UTF-8\n"
		     "Content-Transfer-Encoding: 8bit\n"
		     "X-Cron-Env: <SHELL=/bin/sh>\n\n"
		     "job output\n",
		repair_cron,
		"Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n"
		"From: root@example.org (Cron Daemon)\r\n"
		"To: root@example.org\r\n"
		"Subject: Cron <root@host> /usr/local/bin/job\r\n"
		"MIME-Version: 1.0\r\n"
		"Content-Type: text/plain; charset=UTF-8\r\n"
		"Content-Transfer-Encoding: 8bit\r\n"
		"X-Cron-Env: <SHELL=/bin/sh>\r\n\r\n"
		"job output\r\n");
}

static int
repair_mailx(struct message *m, struct error *err)
{
	CHECK_INT(message_qualify_fields(m, qualify_example, NULL, err), 0);
	CHECK_INT(message_set_from(m, MESSAGE_FROM_AUTO, "Jane Doe",
			  "jane@example.org", err),
		1);
	CHECK_INT(message_set_date(m, NOW, err), 1);
	return 0;
}

static void
test_repair_mailx(void)
{
	/* bsd-mailx: no From, Date or Message-ID (the Message-ID is
	   checked by pattern in test_msgid). */
	check_repair("To: friend@example.com\nSubject: hello\n\nhi there\n",
		repair_mailx,
		"From: Jane Doe <jane@example.org>\r\n"
		"Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n"
		"To: friend@example.com\r\nSubject: hello\r\n\r\nhi there\r\n");
}

static int
repair_php(struct message *m, struct error *err)
{
	CHECK_INT(message_remove_fields(m, "Bcc"), 1);
	CHECK_INT(message_remove_fields(m, "Resent-Bcc"), 0);
	CHECK_INT(message_set_to_undisclosed(m, err), 0);
	CHECK_INT(
		message_set_from(m, MESSAGE_FROM_AUTO, NULL, "www-data@x", err),
		0);
	return 0;
}

static void
test_repair_php(void)
{
	/* PHP mail(): CRLF headers (one with CR CR LF), LF body, Bcc
	   passed through. */
	check_repair("To: a@example.com\r\nSubject: Order\r\n"
		     "From: shop@example.com\r\r\n"
		     "Bcc: hidden@example.com,\r\n other@example.com\r\n"
		     "\r\nline 1\nline 2\n.\nend",
		repair_php,
		"To: a@example.com\r\nSubject: Order\r\n"
		"From: shop@example.com\r\n\r\n"
		"line 1\r\nline 2\r\n.\r\nend\r\n");
}

static int
repair_logwatch(struct message *m, struct error *err)
{
	CHECK_INT(message_qualify_fields(m, qualify_example, NULL, err), 2);
	CHECK_INT(message_set_date(m, NOW, err), 0);
	return 0;
}

static void
test_repair_logwatch(void)
{
	/* logwatch: a bare "From: Logwatch", bare To, its own Date. */
	check_repair("To: root\nFrom: Logwatch\n"
		     "Subject: Logwatch for host (Linux)\n"
		     "Date: Mon, 13 Nov 2023 06:25:02 +0100\n\n body\n",
		repair_logwatch,
		"To: root@example.org\r\nFrom: Logwatch@example.org\r\n"
		"Subject: Logwatch for host (Linux)\r\n"
		"Date: Mon, 13 Nov 2023 06:25:02 +0100\r\n\r\n body\r\n");
}

static int
repair_qualify(struct message *m, struct error *err)
{
	CHECK_INT(message_qualify_fields(m, qualify_example, NULL, err), 3);
	return 0;
}

static void
test_repair_qualify(void)
{
	/* Only the bare addr-specs change: display names, comments,
	   folding, groups (empty ones too), qualified mailboxes and the
	   fields without bare names stay byte for byte. */
	check_repair("To: Admin <root>, a@x (keep),\n"
		     "  \"Quoted, Name\" <postmaster>, (c) bob (d)\n"
		     "Cc: team: carl, d@y;, undisclosed:;\n"
		     "Reply-To: r@x\n"
		     "Resent-To: <@relay.example:op>\n"
		     "Subject: root\n\nroot\n",
		repair_qualify,
		"To: Admin <root@example.org>, a@x (keep),\r\n"
		"  \"Quoted, Name\" <postmaster@example.org>, (c) "
		"bob@example.org (d)\r\n"
		"Cc: team: carl@example.org, d@y;, undisclosed:;\r\n"
		"Reply-To: r@x\r\n"
		"Resent-To: <@relay.example:op@example.org>\r\n"
		"Subject: root\r\n\r\nroot\r\n");
}

static void
test_qualify_errors(void)
{
	struct message m;
	struct error err;
	static const char in[] = "From: ok@x\nTo: a@x, nobody-here\n\nb\n";
	static const char bad[] = "To: <root\nCc: root\n\nb\n";
	size_t len;
	char *w;

	/* The callback's error comes back, prefixed with the field name;
	   nothing is changed. */
	CHECK_INT(read_input(in, sizeof(in) - 1, 0, &m, &err), 0);
	CHECK_INT(message_qualify_fields(&m, qualify_example, NULL, &err), -1);
	CHECK_INT(err.cls, ERR_DATA);
	CHECK_STR(err.text,
		"To header: cannot qualify 'nobody-here': set maildomain");
	w = wire(&m, 0, 100, &len);
	CHECK_LIT(w, len, "From: ok@x\r\nTo: a@x, nobody-here\r\n\r\nb\r\n");
	free(w);
	message_release(&m);
	/* A field the parser refuses is left alone; the next is still
	   qualified. */
	CHECK_INT(read_input(bad, sizeof(bad) - 1, 0, &m, &err), 0);
	CHECK_INT(message_qualify_fields(&m, qualify_example, NULL, &err), 1);
	w = wire(&m, 0, 100, &len);
	CHECK_LIT(w, len, "To: <root\r\nCc: root@example.org\r\n\r\nb\r\n");
	free(w);
	message_release(&m);
}

/* 100 bare names on one 900-octet line: qualified, the field passes
   998 octets, so it is folded anew instead of refused. */
static void
test_qualify_refolds(void)
{
	struct message m;
	struct error err;
	struct buf in;
	size_t len, i, line;
	char *w;

	buf_init(&in, 1 << 20);
	buf_addstr(&in, "To: ");
	for (i = 0; i < 100; i++)
		buf_printf(&in, "%su%03zu", i ? ", " : "", i);
	buf_addstr(&in, "\n\nbody\n");
	CHECK_INT(read_input(in.data, in.len, 0, &m, &err), 0);
	CHECK_INT(message_qualify_fields(&m, qualify_example, NULL, &err), 1);
	w = wire(&m, 0, 65536, &len);
	CHECK(w != NULL && strstr(w, "u000@example.org, u001@example.org") &&
		strstr(w, "u099@example.org\r\n\r\nbody\r\n"));
	for (i = 0, line = 0; w && i < len; i++, line++) {
		if (w[i] == '\n')
			line = 0;
		if (line > 998)
			break;
	}
	CHECK(i == len);
	free(w);
	message_release(&m);
	buf_release(&in);
}

/* A From: built from display name and address, as the wire shows it. */
static void
check_from_at(int line, const char *display, const char *want)
{
	struct message m;
	struct error err;
	char *w, esc[400];
	size_t len;
	int rc;

	CHECK_INT(read_input("To: a@x\n\nb\n", 11, 0, &m, &err), 0);
	rc = message_set_from(&m, MESSAGE_FROM_AUTO, display, "me@x", &err);
	w = wire(&m, 0, 65536, &len);
	if (rc == 1 && len == strlen(want) + 14 &&
		memcmp(w, want, len - 14) == 0 &&
		strcmp(w + len - 14, "To: a@x\r\n\r\nb\r\n") == 0) {
		check_passed++;
	} else {
		check_failed++;
		fprintf(stderr, "%s:%d: FAIL: rc %d, got \"%s\"\n", __FILE__,
			line, rc, log_escape(esc, sizeof(esc), w, len));
	}
	free(w);
	CHECK_INT(m.has_8bit, 0);
	message_release(&m);
}

#define check_from(display, want) check_from_at(__LINE__, display, want)

static void
test_from_display(void)
{
	/* atoms as they are; other ASCII quoted; 8-bit as RFC 2047 words,
	   Q when no longer than B */
	check_from(NULL, "From: me@x\r\n");
	check_from("", "From: me@x\r\n");
	check_from("Cron Daemon", "From: Cron Daemon <me@x>\r\n");
	check_from("Joe Q. Public", "From: \"Joe Q. Public\" <me@x>\r\n");
	check_from("Say \"hi\" \\o/",
		"From: \"Say \\\"hi\\\" \\\\o/\" <me@x>\r\n");
	check_from(" lead", "From: \" lead\" <me@x>\r\n");
	check_from("Ann-Kristin Wei\xc3\x9f",
		"From: =?UTF-8?Q?Ann-Kristin_Wei=C3=9F?= <me@x>\r\n");
	check_from("J\xc3\xb6rg M\xc3\xbcller",
		"From: =?UTF-8?B?SsO2cmcgTcO8bGxlcg==?= <me@x>\r\n");
	check_from("\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",
		"From: =?UTF-8?B?5pel5pys6Kqe?= <me@x>\r\n");
	check_from("tab\there", "From: =?UTF-8?Q?tab=09here?= <me@x>\r\n");
	/* a long name: words of at most 75 characters, split between
	   characters (22 two-byte characters each), folded between
	   words */
	check_from("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
		   "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
		   "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
		   "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9",
		"From: "
		"=?UTF-8?B?w6nDqcOpw6nDqcOpw6nDqcOpw6nDqcOpw6nDqcOpw6nDqcOp"
		"w6nDqcOpw6k=?=\r\n"
		" =?UTF-8?B?w6nDqcOp?= <me@x>\r\n");
}

static void
test_from_modes(void)
{
	struct message m;
	struct error err;
	static const char in[] = "To: a@x\nFrom: Foreign \xc3\xa9 <f@other>\n"
				 "from: second@other\n\nb\n";
	static const char want[] = "From: Me <me@x>\r\nTo: a@x\r\n\r\nb\r\n";
	char *w;
	size_t len;

	/* off never touches it; auto keeps the caller's */
	CHECK_INT(read_input(in, sizeof(in) - 1, 0, &m, &err), 0);
	CHECK_INT(
		message_set_from(&m, MESSAGE_FROM_OFF, "Me", "me@x", &err), 0);
	CHECK_INT(
		message_set_from(&m, MESSAGE_FROM_AUTO, "Me", "me@x", &err), 0);
	CHECK_INT(m.has_8bit, 1);
	/* on replaces every From: with ours at the top; the 8-bit name
	   went with it */
	CHECK_INT(message_set_from(&m, MESSAGE_FROM_ON, "Me", "me@x", &err), 1);
	check_wire_at(
		__LINE__, &m, want, sizeof(want) - 1, want, sizeof(want) - 1);
	CHECK_INT(m.has_8bit, 0);
	CHECK_INT(message_find_field(&m, "From", 0), 0);
	/* auto after on: ours is there */
	CHECK_INT(message_set_from(&m, MESSAGE_FROM_AUTO, "X", "x@x", &err), 0);
	message_release(&m);

	/* refused: header injection through the name or the address, bad
	   UTF-8; the message is unchanged */
	CHECK_INT(read_input("To: a@x\n\nb\n", 11, 0, &m, &err), 0);
	CHECK_INT(message_set_from(&m, MESSAGE_FROM_AUTO, "Me\r\nBcc: v@x",
			  "me@x", &err),
		-1);
	CHECK_INT(err.cls, ERR_DATA);
	CHECK_STR(err.text, "display name contains a line break");
	CHECK_INT(message_set_from(&m, MESSAGE_FROM_AUTO, "Me",
			  "me@x>\r\nBcc: v@x", &err),
		-1);
	CHECK_STR(err.text, "From address 'me@x>\\r\\nBcc: v@x' cannot go "
			    "into a header");
	CHECK_INT(message_set_from(&m, MESSAGE_FROM_AUTO, "Me", "a b@x", &err),
		-1);
	CHECK_INT(message_set_from(&m, MESSAGE_FROM_AUTO, "Me", "", &err), -1);
	CHECK_INT(
		message_set_from(&m, MESSAGE_FROM_AUTO, "\xc3(", "me@x", &err),
		-1);
	CHECK_STR(err.text, "display name is not valid UTF-8");
	CHECK_INT(message_set_from(
			  &m, MESSAGE_FROM_AUTO, "\xed\xa0\x80", "me@x", &err),
		-1); /* a surrogate */
	CHECK_INT(m.nfields, 1);
	/* a quoted local part is fine */
	CHECK_INT(message_set_from(
			  &m, MESSAGE_FROM_AUTO, NULL, "\"john doe\"@x", &err),
		1);
	w = wire(&m, 0, 100, &len);
	CHECK_LIT(w, len, "From: \"john doe\"@x\r\nTo: a@x\r\n\r\nb\r\n");
	free(w);
	message_release(&m);

	/* an 8-bit address (SMTPUTF8) makes has_8bit */
	CHECK_INT(read_input("To: a@x\n\nb\n", 11, 0, &m, &err), 0);
	CHECK_INT(message_set_from(
			  &m, MESSAGE_FROM_AUTO, NULL, "j\xc3\xb6rg@x", &err),
		1);
	CHECK_INT(m.has_8bit, 1);
	check_8bit_at(__LINE__, &m);
	message_release(&m);
}

static void
check_date_at(int line, const char *tz, time_t t, const char *want)
{
	char out[64];
	struct error err;

	setenv("TZ", tz, 1);
	tzset();
	if (message_format_date(t, out, sizeof(out), &err) < 0)
		snprintf(out, sizeof(out), "error: %.50s", err.text);
	if (strcmp(out, want) == 0) {
		check_passed++;
		return;
	}
	check_failed++;
	fprintf(stderr, "%s:%d: FAIL: date \"%s\", want \"%s\"\n", __FILE__,
		line, out, want);
}

static void
test_date(void)
{
	struct message m;
	struct error err;
	char small[10];

	/* RFC 5322 §3.3, the local zone's offset, English names */
	check_date_at(__LINE__, "UTC", NOW, "Tue, 14 Nov 2023 22:13:20 +0000");
	check_date_at(__LINE__, "EST5", NOW, "Tue, 14 Nov 2023 17:13:20 -0500");
	check_date_at(
		__LINE__, "IST-5:30", NOW, "Wed, 15 Nov 2023 03:43:20 +0530");
	check_date_at(
		__LINE__, "NST3:30", NOW, "Tue, 14 Nov 2023 18:43:20 -0330");
	check_date_at(__LINE__, "UTC", 0, "Thu, 1 Jan 1970 00:00:00 +0000");
	check_date_at(
		__LINE__, "UTC", 951782400, "Tue, 29 Feb 2000 00:00:00 +0000");
	CHECK_INT(message_format_date(NOW, small, sizeof(small), &err), -1);
	CHECK_INT(err.cls, ERR_SOFTWARE);
	setenv("TZ", "UTC", 1);
	tzset();

	/* added only when missing (a removed one does not count) */
	CHECK_INT(read_input("date: x\n\nb\n", 11, 0, &m, &err), 0);
	CHECK_INT(message_set_date(&m, NOW, &err), 0);
	CHECK_INT(message_remove_fields(&m, "Date"), 1);
	CHECK_INT(message_set_date(&m, NOW, &err), 1);
	check_wire_at(__LINE__, &m,
		"Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n"
		"\r\nb\r\n",
		44, "Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n\r\nb\r\n", 44);
	message_release(&m);
}

/* "<YYYYMMDDhhmmss.PID.16hex@domain>" */
static int
msgid_matches(const char *id, const char *stamp, const char *domain)
{
	char pid[32];
	size_t n, i;

	snprintf(pid, sizeof(pid), ".%ld.", (long)getpid());
	n = strlen(stamp);
	if (id[0] != '<' || strncmp(id + 1, stamp, n) != 0)
		return 0;
	id += 1 + n;
	if (strncmp(id, pid, strlen(pid)) != 0)
		return 0;
	id += strlen(pid);
	for (i = 0; i < 16; i++)
		if (!strchr("0123456789abcdef", id[i]) || id[i] == '\0')
			return 0;
	id += 16;
	return id[0] == '@' && strncmp(id + 1, domain, strlen(domain)) == 0 &&
	       strcmp(id + 1 + strlen(domain), ">") == 0;
}

static void
test_msgid(void)
{
	struct message m;
	struct error err;
	char a[MESSAGE_MSGID_MAX], b[MESSAGE_MSGID_MAX], *v;

	CHECK_INT(
		message_make_msgid("example.org", NOW, a, sizeof(a), &err), 0);
	CHECK(msgid_matches(a, "20231114221320", "example.org"));
	CHECK_INT(
		message_make_msgid("example.org", NOW, b, sizeof(b), &err), 0);
	CHECK(strcmp(a, b) != 0); /* 64 random bits apart */
	CHECK_INT(
		message_make_msgid("[192.0.2.1]", NOW, b, sizeof(b), &err), 0);
	CHECK(msgid_matches(b, "20231114221320", "[192.0.2.1]"));
	/* domains that would break the field */
	CHECK_INT(message_make_msgid("", NOW, b, sizeof(b), &err), -1);
	CHECK_INT(err.cls, ERR_DATA);
	CHECK_INT(message_make_msgid("a..b", NOW, b, sizeof(b), &err), -1);
	CHECK_INT(message_make_msgid("a>b", NOW, b, sizeof(b), &err), -1);
	CHECK_INT(
		message_make_msgid("x\r\nBcc: y", NOW, b, sizeof(b), &err), -1);
	CHECK_STR(err.text, "Message-ID domain 'x\\r\\nBcc: y' is not a valid "
			    "domain");
	CHECK_INT(message_make_msgid(NULL, NOW, b, sizeof(b), &err), -1);

	/* bsd-mailx: added at the top, after From and Date */
	CHECK_INT(read_input("To: a@x\n\nb\n", 11, 0, &m, &err), 0);
	CHECK_INT(
		message_set_from(&m, MESSAGE_FROM_AUTO, NULL, "me@x", &err), 1);
	CHECK_INT(message_set_date(&m, NOW, &err), 1);
	CHECK_INT(message_set_msgid(&m, "example.org", NOW, &err), 1);
	CHECK_INT(message_find_field(&m, "Message-ID", 0), 2);
	CHECK_INT(message_find_field(&m, "To", 0), 3);
	CHECK_INT(m.nadded, 3);
	v = message_field_value(&m, 2);
	CHECK(msgid_matches(v, "20231114221320", "example.org"));
	free(v);
	CHECK_INT(message_set_msgid(&m, "example.org", NOW, &err), 0);
	CHECK_INT(message_wire_size(&m),
		(off_t)(strlen("From: me@x\r\n") +
			strlen("Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n") +
			strlen("Message-ID: \r\n") + strlen(a) +
			strlen("To: a@x\r\n\r\nb\r\n")));
	message_release(&m);
}

static int
repair_undisclosed_auto(struct message *m, struct error *err)
{
	CHECK_INT(message_remove_fields(m, "Bcc"), 1);
	return message_set_to_undisclosed(m, err) == 1 ? 0 : -1;
}

static int
repair_undisclosed_on(struct message *m, struct error *err)
{
	return message_undisclosed_recipients(m, err) == 1 ? 0 : -1;
}

static int
repair_undisclosed_added(struct message *m, struct error *err)
{
	return message_set_to_undisclosed(m, err) == 1 ? 0 : -1;
}

static int
repair_undisclosed_cc(struct message *m, struct error *err)
{
	return message_set_to_undisclosed(m, err) == 0 ? 0 : -1;
}

static void
test_undisclosed(void)
{
	/* set_to_header auto: recipients only in Bcc, which went */
	check_repair("Subject: s\nBcc: a@x\n\nb\n", repair_undisclosed_auto,
		"To: undisclosed-recipients:;\r\nSubject: s\r\n\r\nb\r\n");
	check_repair("Subject: s\n\nb\n", repair_undisclosed_added,
		"To: undisclosed-recipients:;\r\nSubject: s\r\n\r\nb\r\n");
	/* a Cc (or To, or a Bcc still sent) is enough */
	check_repair("Cc: c@x\n\nb\n", repair_undisclosed_cc,
		"Cc: c@x\r\n\r\nb\r\n");
	/* undisclosed_recipients on: To, Cc and Bcc all go */
	check_repair(
		"To: a@x,\n b@x\nCc: \xc3\xa9 <c@x>\nSubject: s\nbcc: d@x\n"
		"\nb\n",
		repair_undisclosed_on,
		"To: undisclosed-recipients:;\r\nSubject: s\r\n\r\nb\r\n");
}

static void
test_add_field(void)
{
	struct message m;
	struct error err;
	char *w, *v, long_value[400];
	size_t len, i, start;
	static const char words[] =
		"one two three four five six seven eight nine ten eleven "
		"twelve thirteen fourteen fifteen sixteen seventeen eighteen";

	/* folded before a space so lines stay within 78; unfolding gives
	   the value back */
	CHECK_INT(read_input("To: a@x\n\nb\n", 11, 0, &m, &err), 0);
	CHECK_INT(message_add_field(&m, "X-Long", words, &err), 0);
	w = wire(&m, 0, 65536, &len);
	CHECK_LIT(w, len,
		"X-Long: one two three four five six seven eight nine ten "
		"eleven twelve\r\n"
		" thirteen fourteen fifteen sixteen seventeen eighteen\r\n"
		"To: a@x\r\n\r\nb\r\n");
	free(w);
	v = message_field_value(&m, 0);
	CHECK_STR(v, words);
	free(v);
	/* a second one goes after the first, before the input's fields */
	CHECK_INT(message_add_field(&m, "X-Empty", "", &err), 0);
	CHECK_INT(message_find_field(&m, "X-Empty", 0), 1);
	CHECK_INT(message_find_field(&m, "To", 0), 2);
	/* a word longer than a line stays whole, up to 998 octets */
	memset(long_value, 'w', sizeof(long_value));
	long_value[sizeof(long_value) - 1] = '\0';
	long_value[10] = ' ';
	CHECK_INT(message_add_field(&m, "X-Word", long_value, &err), 0);
	v = message_field_value(&m, 2);
	CHECK_STR(v, long_value);
	free(v);
	/* every line of every field within 998, all within 78 but the
	   unbreakable one */
	w = wire(&m, 0, 65536, &len);
	for (i = start = 0; i < len; i++) {
		if (w[i] != '\n')
			continue;
		CHECK(i - start - 1 <= 78 || i - start - 1 == 389);
		start = i + 1;
	}
	free(w);
	check_8bit_at(__LINE__, &m);

	/* refused: line breaks (header injection), bad names, a line that
	   cannot be folded under 998 */
	CHECK_INT(message_add_field(&m, "X-A", "v\r\nBcc: evil@x", &err), -1);
	CHECK_INT(err.cls, ERR_DATA);
	CHECK_STR(err.text, "X-A header field value contains a line break");
	CHECK_INT(message_add_field(&m, "X-A", "v\nx", &err), -1);
	CHECK_INT(message_add_field(&m, "X-A", "v\r", &err), -1);
	CHECK_INT(message_add_field(&m, "X:A", "v", &err), -1);
	CHECK_STR(err.text, "invalid header field name");
	CHECK_INT(message_add_field(&m, "X A", "v", &err), -1);
	CHECK_INT(message_add_field(&m, "", "v", &err), -1);
	{
		char huge[1100];

		memset(huge, 'h', sizeof(huge));
		huge[sizeof(huge) - 1] = '\0';
		CHECK_INT(message_add_field(&m, "X-Huge", huge, &err), -1);
		CHECK_STR(err.text,
			"X-Huge header field has a line longer than 998 "
			"octets");
	}
	CHECK_INT(m.nfields, 4);
	/* 8-bit values are taken as they are, and counted */
	CHECK_INT(m.has_8bit, 0);
	CHECK_INT(message_add_field(&m, "X-Name", "J\xc3\xb6rg", &err), 0);
	CHECK_INT(m.has_8bit, 1);
	check_8bit_at(__LINE__, &m);
	message_release(&m);
}

static void
test_replace_field(void)
{
	struct message m;
	struct error err;
	static const char in[] =
		"From: root\nSubject: caf\xc3\xa9\nTo: a@x\n\nb\n";
	char *w;
	size_t len;

	CHECK_INT(read_input(in, sizeof(in) - 1, 0, &m, &err), 0);
	CHECK_INT(m.has_8bit, 1);
	/* whole, in place; the 8-bit subject replaced by ASCII */
	CHECK_INT(message_replace_field(
			  &m, 1, "Subject: =?UTF-8?Q?caf=C3=A9?=", &err),
		0);
	CHECK_INT(m.has_8bit, 0);
	CHECK_INT(message_replace_field(&m, 0,
			  "From: root@example.org,\r\n\tsecond@example.org",
			  &err),
		0);
	w = wire(&m, 0, 65536, &len);
	CHECK_LIT(w, len,
		"From: root@example.org,\r\n\tsecond@example.org\r\n"
		"Subject: =?UTF-8?Q?caf=C3=A9?=\r\nTo: a@x\r\n\r\nb\r\n");
	free(w);
	CHECK_INT(message_wire_size(&m), 92);
	CHECK_INT(m.fields[0].name_len, 4);
	/* refused: anything that is not folding, a blank continuation
	   line (some parsers end the header there), no name */
	CHECK_INT(message_replace_field(&m, 2, "To: a@x\nBcc: v@x", &err), -1);
	CHECK_INT(err.cls, ERR_DATA);
	CHECK_STR(err.text, "To header field has a line break that is not "
			    "folding");
	CHECK_INT(
		message_replace_field(&m, 2, "To: a@x\r\nBcc: v@x", &err), -1);
	CHECK_INT(message_replace_field(&m, 2, "To: a@x\rb", &err), -1);
	CHECK_INT(message_replace_field(&m, 2, "To: a@x\r\n", &err), -1);
	CHECK_INT(message_replace_field(&m, 2, "To: a@x\r\n \r\n b", &err), -1);
	CHECK_STR(err.text, "To header field has a blank continuation line");
	CHECK_INT(message_replace_field(&m, 2, "To: a@x\r\n ", &err), -1);
	CHECK_INT(message_replace_field(&m, 2, "no colon", &err), -1);
	CHECK_STR(err.text, "header field has no valid name");
	CHECK_INT(message_replace_field(&m, 9, "To: x", &err), -1);
	CHECK_INT(err.cls, ERR_SOFTWARE);
	w = wire(&m, 0, 65536, &len);
	CHECK_INT(len, 92);
	free(w);
	message_release(&m);
}

static void
test_header_addresses(void)
{
	struct address_list l;
	struct message m;
	struct error err;
	static const char in[] = "From: Jane <jane@x>\nTo: a@x\n\nb\n";

	/* the From: address, for "from %F" and --read-envelope-from */
	address_list_init(&l);
	CHECK_INT(read_input(in, sizeof(in) - 1, 0, &m, &err), 0);
	CHECK_INT(message_header_addresses(&m, "from", &l, &err), 0);
	CHECK_INT(l.n, 1);
	if (l.n == 1)
		CHECK_STR(l.v[0].mailbox, "jane@x");
	address_list_release(&l);
	/* a removed field is not read; the one that replaced it is */
	CHECK_INT(message_set_from(&m, MESSAGE_FROM_ON, NULL, "me@y", &err), 1);
	CHECK_INT(message_header_addresses(&m, "From", &l, &err), 0);
	CHECK_INT(l.n, 1);
	if (l.n == 1)
		CHECK_STR(l.v[0].mailbox, "me@y");
	address_list_release(&l);
	CHECK_INT(message_header_addresses(&m, "Sender", &l, &err), 0);
	CHECK_INT(l.n, 0);
	message_release(&m);
	/* a parse error names the field */
	CHECK_INT(read_input("From: <a@x\n\nb\n", 14, 0, &m, &err), 0);
	CHECK_INT(message_header_addresses(&m, "From", &l, &err), -1);
	CHECK_INT(err.cls, ERR_DATA);
	CHECK(strncmp(err.text, "From header: ", 13) == 0);
	address_list_release(&l);
	message_release(&m);
}

/* Repairs on a message whose body is in the temp file, and on one that
   has no header at all: the body is sent untouched after the added
   fields. */
static void
test_repair_spooled(void)
{
	struct buf in, want;
	struct message m;
	struct error err;
	size_t i;
	char *w;
	size_t len;

	buf_init(&in, (size_t)1 << 30);
	buf_init(&want, (size_t)1 << 30);
	buf_addstr(&in, "To: root\n\n");
	buf_addstr(&want, "Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n"
			  "To: root@example.org\r\n\r\n");
	for (i = 0; want.len < MESSAGE_MEM_MAX + 5000; i++) {
		buf_printf(&in, "line %zu\n", i);
		buf_printf(&want, "line %zu\r\n", i);
	}
	CHECK_INT(read_input(in.data, in.len, 0, &m, &err), 0);
	CHECK(m.body_fd >= 0);
	CHECK_INT(message_qualify_fields(&m, qualify_example, NULL, &err), 1);
	CHECK_INT(message_set_date(&m, NOW, &err), 1);
	w = wire(&m, 0, 65536, &len);
	CHECK_MEM(w, len > 200 ? 200 : len, want.data, 200);
	CHECK(len == want.len && memcmp(w, want.data, len) == 0);
	CHECK_INT(message_wire_size(&m), want.len);
	free(w);
	message_release(&m);
	buf_release(&in);
	buf_release(&want);

	/* no header: the separator is sent after the added field */
	CHECK_INT(read_input("Hello\n", 6, 0, &m, &err), 0);
	CHECK_INT(message_set_date(&m, NOW, &err), 1);
	check_wire_at(__LINE__, &m,
		"Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n\r\nHello\r\n", 48,
		"Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n\r\nHello\r\n", 48);
	message_release(&m);
}

/* bench/rss.sh: spool FILE, stream it dot-stuffed to /dev/null, print
   the peak RSS. */
static int
rss_mode(const char *path)
{
	struct message_opts opts = {0, NULL};
	struct message_reader r;
	struct message m;
	struct error err;
	struct rusage ru;
	static char chunk[65536];
	long long out = 0;
	ssize_t n;
	int fd, null;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	null = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (fd < 0 || null < 0) {
		perror(path);
		return 2;
	}
	if (message_read(&m, fd, &opts, &err) < 0) {
		fprintf(stderr, "message_read: %s\n", err.text);
		return 1;
	}
	close(fd);
	message_reader_init(&r, &m, 1);
	while ((n = message_reader_read(&r, chunk, sizeof(chunk), &err)) > 0) {
		write_all(null, chunk, (size_t)n);
		out += n;
	}
	if (n < 0) {
		fprintf(stderr, "message_reader_read: %s\n", err.text);
		return 1;
	}
	getrusage(RUSAGE_SELF, &ru);
	printf("input %lld bytes, wire size %lld, dot-stuffed %lld bytes, "
	       "spooled to %s, peak RSS %ld KiB\n",
		(long long)m.input_len, (long long)message_wire_size(&m), out,
		m.body_fd >= 0 ? "temp file" : "memory", ru.ru_maxrss);
	message_release(&m);
	close(null);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--rss") == 0)
		return rss_mode(argv[2]);
	if (mkdtemp(test_dir) == NULL) {
		perror("mkdtemp");
		return 2;
	}
	unsetenv("TMPDIR");
	test_line_endings();
	test_dot_line();
	test_dotstuff();
	test_pipe_pieces();
	test_chunk_boundaries();
	test_8bit();
	test_8bit_removed_field();
	test_empty_input();
	test_header_only_and_no_separator();
	test_from_line();
	test_fields();
	test_caps();
	test_spool_file();
	test_spool_mixed();
	test_spool_span();
	test_8bit_far();
	test_cr_far();
	test_bcc_removal();
	test_header_recipients();
	check_rcpt_error_prefix();
	test_reader_small_cap();
	test_bare_cr();
	test_bare_cr_pieces();
	test_nul_refused();
	test_line_998();
	test_smuggling_exhaustive();
	test_smuggling_named();
	test_repair_cron();
	test_repair_mailx();
	test_repair_php();
	test_repair_logwatch();
	test_repair_qualify();
	test_qualify_errors();
	test_qualify_refolds();
	test_from_display();
	test_from_modes();
	test_date();
	test_msgid();
	test_undisclosed();
	test_add_field();
	test_replace_field();
	test_header_addresses();
	test_repair_spooled();
	rmdir(test_dir);
	return check_finish();
}
