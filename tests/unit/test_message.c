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
	/* A CR inside a line is data. */
	check_through("A: b\n\nx\ry\n", 1, "A: b\r\n\r\nx\ry\r\n",
		"A: b\r\n\r\nx\ry\r\n");
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
	static const char alphabet[] = "abc .\r\t\x80";
	static const char *const endings[] = {"\n", "\r\n", "\r\r\n"};
	char line[400];
	size_t len, i;

	buf_append(in, "A: b\n\n", 6);
	buf_append(want, "A: b\r\n\r\n", 8);
	buf_append(stuffed, "A: b\r\n\r\n", 8);
	while (in->len < size) {
		len = rng() % (rng() % 8 == 0 ? sizeof(line) : 12);
		for (i = 0; i < len; i++)
			line[i] = alphabet[rng() % (sizeof(alphabet) - 1)];
		while (len > 0 && line[len - 1] == '\r')
			len--;
		buf_append(in, line, len);
		buf_addstr(in, endings[rng() % 3]);
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
	static const char nul[] = "A: b\n\nx\0y\n";

	CHECK_INT(
		read_input("Subject: caf\xc3\xa9\n\nx\n", 18, 1, &m, &err), 0);
	CHECK_INT(m.has_8bit, 1);
	CHECK_INT(m.has_nul, 0);
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
	/* NUL is noted and carried through. */
	CHECK_INT(read_input(nul, sizeof(nul) - 1, 1, &m, &err), 0);
	CHECK_INT(m.has_nul, 1);
	CHECK_INT(m.has_8bit, 0);
	check_wire_at(__LINE__, &m, "A: b\r\n\r\nx\0y\r\n", 13,
		"A: b\r\n\r\nx\0y\r\n", 13);
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
		buf_append(&in, field, 1000);
		buf_addch(&in, '\n');
	}
	CHECK_INT(read_input(in.data, in.len, 1, &m, &err), 0);
	CHECK_INT(m.nfields, 1000);
	message_release(&m);
	for (; i < 1100; i++) {
		buf_printf(&in, "X-Fill-%04zu: ", i);
		buf_append(&in, field, 1000);
		buf_addch(&in, '\n');
	}
	buf_addstr(&in, "\nbody\n");
	check_error_at(__LINE__, in.data, in.len, ERR_DATA, "header section");

	/* One line may hold MESSAGE_LINE_MAX bytes, not more; the error
	   names the line. */
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
	check_error_at(__LINE__, in.data, in.len, ERR_DATA, "line 3 is longer");
	/* ... also when it is the last line, without LF. */
	in.len -= 7;
	check_error_at(__LINE__, in.data, in.len, ERR_DATA, "line 3 is longer");
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
	test_bcc_removal();
	test_header_recipients();
	check_rcpt_error_prefix();
	test_reader_small_cap();
	rmdir(test_dir);
	return check_finish();
}
