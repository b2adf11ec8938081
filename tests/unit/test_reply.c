/*
 * test_reply.c - the SMTP reply parser (RFC 5321 §4.2), enhanced status
 * codes (RFC 3463), error text, and EHLO capabilities.
 */
#include "autoconf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "check.h"
#include "iobuf.h"
#include "log.h"
#include "reply.h"

/* Feed lines separated by "\n"; returns the last reply_add_line result. */
static int
feed(struct reply *r, const char *lines, struct error *err)
{
	const char *p = lines;
	int rc = -1;

	reply_reset(r);
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);

		rc = reply_add_line(r, p, len, err);
		if (rc != 0)
			return rc;
		p += len + (nl ? 1 : 0);
	}
	return rc;
}

static void
test_single_line(void)
{
	struct reply r;
	struct error err;

	reply_init(&r);
	/* A plain final line completes the reply. */
	CHECK_INT(feed(&r, "220 mail.example ESMTP ready", &err), 1);
	CHECK_INT(r.code, 220);
	CHECK_STR(r.text.data, "mail.example ESMTP ready");
	CHECK_INT(r.nlines, 1);
	CHECK(r.complete);
	CHECK_STR(r.enhanced, "");

	/* "NNN" alone is a complete reply with no text. */
	CHECK_INT(feed(&r, "250", &err), 1);
	CHECK_INT(r.code, 250);
	CHECK_STR(r.text.data, "");

	/* smtp-sink ends its EHLO reply with an empty "250 " line. */
	CHECK_INT(feed(&r, "250-sink.example\n250 ", &err), 1);
	CHECK_INT(r.nlines, 2);
	CHECK_STR(r.text.data, "sink.example\n");

	/* Every class 2..5 is accepted. */
	CHECK_INT(feed(&r, "354 go ahead", &err), 1);
	CHECK_INT(feed(&r, "421 closing", &err), 1);
	CHECK_INT(feed(&r, "599 odd but valid", &err), 1);
	reply_release(&r);
}

static void
test_multi_line(void)
{
	struct reply r;
	struct error err;

	reply_init(&r);
	/* Continuation lines return 0 until the last one. */
	reply_reset(&r);
	CHECK_INT(reply_add_line(&r, "250-first", 9, &err), 0);
	CHECK(!r.complete);
	CHECK_INT(reply_add_line(&r, "250-second", 10, &err), 0);
	CHECK_INT(reply_add_line(&r, "250 third", 9, &err), 1);
	CHECK_STR(r.text.data, "first\nsecond\nthird");
	CHECK_INT(r.nlines, 3);

	/* A line after a complete reply starts a new one. */
	CHECK_INT(reply_add_line(&r, "221 bye", 7, &err), 1);
	CHECK_INT(r.code, 221);
	CHECK_STR(r.text.data, "bye");
	CHECK_INT(r.nlines, 1);

	/* "250-" with empty text is a valid continuation. */
	CHECK_INT(feed(&r, "250-\n250 x", &err), 1);
	CHECK_STR(r.text.data, "\nx");
	reply_release(&r);
}

static void
test_malformed(void)
{
	struct reply r;
	struct error err;
	static const char *const bad[] = {
		"hello",  /* not numeric */
		"25",     /* short */
		"2x0 ok", /* non-digit inside the code */
		"150 ok", /* 1xx does not exist in SMTP */
		"650 ok", /* 6xx neither */
		"050 ok",
		"250_ok", /* separator neither ' ' nor '-' */
		"250ok",
	};
	size_t i;

	reply_init(&r);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		error_clear(&err);
		CHECK_INT(feed(&r, bad[i], &err), -1);
		CHECK_INT(err.cls, ERR_PROTOCOL);
	}
	/* An empty line is no reply line either. */
	CHECK_INT(reply_add_line(&r, "", 0, &err), -1);
	CHECK_INT(err.cls, ERR_PROTOCOL);
	/* The bad line is quoted (escaped) in the error. */
	CHECK_INT(feed(&r, "hel\rlo", &err), -1);
	CHECK(strstr(err.text, "hel\\rlo") != NULL);

	/* Every line of one reply must carry the same code. */
	CHECK_INT(feed(&r, "250-first\n251 second", &err), -1);
	CHECK_INT(err.cls, ERR_PROTOCOL);
	CHECK(strstr(err.text, "different codes") != NULL);
	reply_release(&r);
}

static void
test_caps_limits(void)
{
	struct reply r;
	struct error err;
	char line[REPLY_TEXT_MAX / 8];
	int rc = 0;
	size_t i;

	reply_init(&r);
	/* REPLY_LINES_MAX lines are fine, one more is refused. */
	reply_reset(&r);
	for (i = 0; i < REPLY_LINES_MAX - 1; i++)
		rc = reply_add_line(&r, "250-x", 5, &err);
	CHECK_INT(rc, 0);
	CHECK_INT(reply_add_line(&r, "250 x", 5, &err), 1);
	reply_reset(&r);
	for (i = 0; i < REPLY_LINES_MAX && rc == 0; i++)
		rc = reply_add_line(&r, "250-x", 5, &err);
	CHECK_INT(rc, 0);
	CHECK_INT(reply_add_line(&r, "250 x", 5, &err), -1);
	CHECK_INT(err.cls, ERR_PROTOCOL);

	/* Text past REPLY_TEXT_MAX is refused, not cut. */
	memcpy(line, "250-", 4);
	memset(line + 4, 'a', sizeof(line) - 4);
	reply_reset(&r);
	rc = 0;
	for (i = 0; i < 8 && rc == 0; i++)
		rc = reply_add_line(&r, line, sizeof(line), &err);
	CHECK_INT(rc, 0);
	CHECK_INT(reply_add_line(&r, line, sizeof(line), &err), -1);
	CHECK_INT(err.cls, ERR_PROTOCOL);
	CHECK(strstr(err.text, "longer than") != NULL);
	reply_release(&r);
}

static void
test_enhanced(void)
{
	struct reply r;
	struct error err;

	reply_init(&r);
	/* RFC 3463 code kept apart and removed from the text. */
	CHECK_INT(feed(&r, "550 5.1.1 <a@b>: no such user", &err), 1);
	CHECK_STR(r.enhanced, "5.1.1");
	CHECK_STR(r.text.data, "<a@b>: no such user");

	/* Three-digit subject and detail are allowed. */
	CHECK_INT(feed(&r, "451 4.123.456 later", &err), 1);
	CHECK_STR(r.enhanced, "4.123.456");
	CHECK_STR(r.text.data, "later");

	/* A code alone on the line. */
	CHECK_INT(feed(&r, "250 2.0.0", &err), 1);
	CHECK_STR(r.enhanced, "2.0.0");
	CHECK_STR(r.text.data, "");

	/* Class must match the reply's first digit. */
	CHECK_INT(feed(&r, "250 5.1.1 odd", &err), 1);
	CHECK_STR(r.enhanced, "");
	CHECK_STR(r.text.data, "5.1.1 odd");

	/* Not a code: four digits, missing part, no blank after. */
	CHECK_INT(feed(&r, "250 2.1234.0 x", &err), 1);
	CHECK_STR(r.enhanced, "");
	CHECK_INT(feed(&r, "250 2.0 x", &err), 1);
	CHECK_STR(r.enhanced, "");
	CHECK_INT(feed(&r, "220 2.0.0.1 host", &err), 1);
	CHECK_STR(r.enhanced, "");
	CHECK_STR(r.text.data, "2.0.0.1 host");

	/* Postfix repeats the code on every line: removed from each. */
	CHECK_INT(feed(&r, "550-5.7.1 first\n550 5.7.1 second", &err), 1);
	CHECK_STR(r.enhanced, "5.7.1");
	CHECK_STR(r.text.data, "first\nsecond");
	/* A different code on a later line is text. */
	CHECK_INT(feed(&r, "550-5.7.1 first\n550 5.1.1 second", &err), 1);
	CHECK_STR(r.text.data, "first\n5.1.1 second");
	reply_release(&r);
}

static void
test_to_error(void)
{
	struct reply r;
	struct error err;
	struct buf b;
	char out[64];

	reply_init(&r);
	/* One line: context, code, enhanced code, text. */
	feed(&r, "550 5.1.1 no such user", &err);
	reply_to_error(&r, ERR_RCPT, "recipient <a@b>", &err);
	CHECK_STR(err.text,
		"recipient <a@b>: server said: 550 5.1.1 no such user");
	CHECK_INT(err.cls, ERR_RCPT);
	CHECK_INT(err.smtp_code, 550);
	CHECK_STR(err.enhanced, "5.1.1");

	/* Multi-line joined on one line; control bytes escaped. */
	feed(&r, "554-go\raway\n554 bad \x01 host", &err);
	reply_to_error(&r, ERR_UNAVAILABLE, "greeting", &err);
	CHECK_STR(err.text,
		"greeting: server said: 554 go\\raway / bad \\x01 host");
	CHECK_STR(err.enhanced, "");

	/* No text: nothing dangles after the code. */
	feed(&r, "421", &err);
	reply_to_error(&r, ERR_TEMP, "DATA", &err);
	CHECK_STR(err.text, "DATA: server said: 421");

	/* reply_join is raw, reply_format escaped and bounded. */
	feed(&r, "250-2.0.0 a\x7f\n250 2.0.0 b", &err);
	buf_init(&b, 1024);
	reply_join(&r, &b);
	CHECK_STR(b.data, "250 2.0.0 a\x7f / b");
	buf_release(&b);
	CHECK_STR(reply_format(&r, out, sizeof(out)), "250 2.0.0 a\\x7f / b");
	feed(&r,
		"250 0123456789012345678901234567890123456789"
		"0123456789012345678901234567890123456789",
		&err);
	reply_format(&r, out, sizeof(out));
	CHECK_INT(strlen(out), sizeof(out) - 1);
	CHECK(strcmp(out + strlen(out) - 3, "...") == 0);
	reply_release(&r);
}

static void
test_caps(void)
{
	struct reply r;
	struct error err;
	struct caps caps;

	reply_init(&r);
	/* Every keyword we know, in mixed case; unknown ones ignored. */
	feed(&r,
		"250-mail.example Hello SIZE PIPELINING\n"
		"250-pipelining\n250-Size 10240000\n250-8BITMIME\n"
		"250-DSN\n250-SMTPUTF8\n250-STARTTLS\n250-CHUNKING\n"
		"250-BINARYMIME\n250-ENHANCEDSTATUSCODES\n250-XFOO bar\n"
		"250 AUTH PLAIN login",
		&err);
	reply_parse_caps(&r, &caps);
	CHECK_INT(caps.flags, CAPS_PIPELINING | CAPS_SIZE | CAPS_8BITMIME |
				      CAPS_DSN | CAPS_SMTPUTF8 | CAPS_STARTTLS |
				      CAPS_CHUNKING | CAPS_BINARYMIME |
				      CAPS_ENHANCEDSTATUSCODES | CAPS_AUTH);
	CHECK_INT(caps.size_max, 10240000);
	CHECK_STR(caps.auth, "PLAIN LOGIN");

	/* The greeting line is not a keyword list. */
	feed(&r, "250-PIPELINING SIZE 10\n250 HELP", &err);
	reply_parse_caps(&r, &caps);
	CHECK_INT(caps.flags, 0);
	feed(&r, "250 PIPELINING", &err);
	reply_parse_caps(&r, &caps);
	CHECK_INT(caps.flags, 0);

	/* SIZE without a number (or with junk) means no stated limit. */
	feed(&r, "250-x\n250 SIZE", &err);
	reply_parse_caps(&r, &caps);
	CHECK_INT(caps.flags, CAPS_SIZE);
	CHECK_INT(caps.size_max, 0);
	feed(&r, "250-x\n250 SIZE 12ab", &err);
	reply_parse_caps(&r, &caps);
	CHECK_INT(caps.size_max, 0);
	feed(&r, "250-x\n250 SIZE 99999999999999999999999", &err);
	reply_parse_caps(&r, &caps);
	CHECK_INT(caps.size_max, 0);
	/* Keywords are whole words: SIZEX, PIPELININGS are unknown. */
	feed(&r, "250-x\n250-SIZEX 5\n250 PIPELININGS", &err);
	reply_parse_caps(&r, &caps);
	CHECK_INT(caps.flags, 0);

	/* Old "AUTH=" form merges with the real one, without duplicates. */
	feed(&r, "250-x\n250-AUTH=LOGIN PLAIN\n250 AUTH plain CRAM-MD5 login",
		&err);
	reply_parse_caps(&r, &caps);
	CHECK(caps.flags & CAPS_AUTH);
	CHECK_STR(caps.auth, "LOGIN PLAIN CRAM-MD5");
	/* A mechanism that is a prefix of another is still its own. */
	feed(&r, "250-x\n250 AUTH SCRAM-SHA-1-PLUS SCRAM-SHA-1", &err);
	reply_parse_caps(&r, &caps);
	CHECK_STR(caps.auth, "SCRAM-SHA-1-PLUS SCRAM-SHA-1");
	/* Invalid names are dropped; AUTH with none left is no AUTH. */
	feed(&r, "250-x\n250 AUTH pl\x01in ABCDEFGHIJKLMNOPQRSTU", &err);
	reply_parse_caps(&r, &caps);
	CHECK_INT(caps.flags & CAPS_AUTH, 0);
	CHECK_STR(caps.auth, "");

	/* caps is cleared: nothing leaks from an earlier EHLO (STARTTLS). */
	feed(&r, "250-x\n250 8BITMIME", &err);
	reply_parse_caps(&r, &caps);
	CHECK_INT(caps.flags, CAPS_8BITMIME);
	CHECK_STR(caps.auth, "");

	/* smtp-sink's empty last line is harmless. */
	feed(&r, "250-sink\n250-PIPELINING\n250 ", &err);
	reply_parse_caps(&r, &caps);
	CHECK_INT(caps.flags, CAPS_PIPELINING);
	reply_release(&r);
}

static void
test_caps_auth_cap(void)
{
	struct reply r;
	struct error err;
	struct caps caps;
	struct buf line;
	int i;

	/* Hundreds of mechanisms never overflow caps.auth. */
	reply_init(&r);
	buf_init(&line, 8192);
	buf_addstr(&line, "250 AUTH");
	for (i = 0; i < 300; i++)
		buf_printf(&line, " MECH-%d", i);
	reply_reset(&r);
	reply_add_line(&r, "250-x", 5, &err);
	CHECK_INT(reply_add_line(&r, line.data, line.len, &err), 1);
	reply_parse_caps(&r, &caps);
	CHECK(strlen(caps.auth) < sizeof(caps.auth));
	CHECK(strncmp(caps.auth, "MECH-0 MECH-1 ", 14) == 0);
	buf_release(&line);
	reply_release(&r);
}

/* --- reply lines as they come off the socket (iobuf) ------------------ */

static void
peer_write(int fd, const char *s, size_t len)
{
	if (write(fd, s, len) != (ssize_t)len)
		abort();
}

static void
test_iobuf_lines(void)
{
	struct iobuf io;
	struct error err;
	const char *line;
	size_t len;
	int sv[2];
	char big[IOBUF_LINE_MAX + 2];

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		abort();
	iobuf_init(&io, sv[0], 2);
	/* CRLF and bare LF both end a line; neither is returned. */
	peer_write(sv[1], "250-a\r\n250 b\n220", 16);
	CHECK_INT(iobuf_getline(&io, &line, &len, &err), 0);
	CHECK_INT(len, 5);
	CHECK(memcmp(line, "250-a", 5) == 0);
	/* What waits unread is visible (the trailing-bytes check). */
	CHECK_INT(iobuf_buffered(&io), 9);
	CHECK_INT(iobuf_getline(&io, &line, &len, &err), 0);
	CHECK_INT(len, 5);
	CHECK(memcmp(line, "250 b", 5) == 0);
	CHECK_INT(iobuf_buffered(&io), 3);
	/* A line split across reads is joined. */
	peer_write(sv[1], " ok\r\n", 5);
	CHECK_INT(iobuf_getline(&io, &line, &len, &err), 0);
	CHECK_INT(len, 6);
	CHECK(memcmp(line, "220 ok", 6) == 0);
	CHECK_INT(iobuf_buffered(&io), 0);

	/* IOBUF_LINE_MAX bytes including CRLF pass; one more does not. */
	memset(big, 'a', sizeof(big));
	big[IOBUF_LINE_MAX - 2] = '\r';
	big[IOBUF_LINE_MAX - 1] = '\n';
	peer_write(sv[1], big, IOBUF_LINE_MAX);
	CHECK_INT(iobuf_getline(&io, &line, &len, &err), 0);
	CHECK_INT(len, IOBUF_LINE_MAX - 2);
	big[IOBUF_LINE_MAX - 2] = 'a';
	big[IOBUF_LINE_MAX - 1] = '\r';
	big[IOBUF_LINE_MAX] = '\n';
	peer_write(sv[1], big, IOBUF_LINE_MAX + 1);
	CHECK_INT(iobuf_getline(&io, &line, &len, &err), -1);
	CHECK_INT(err.cls, ERR_PROTOCOL);
	CHECK_STR(err.text, "reply line longer than 4096 bytes");
	iobuf_release(&io);
	close(sv[0]);
	close(sv[1]);
}

static void
test_iobuf_failures(void)
{
	struct iobuf io;
	struct error err;
	const char *line;
	size_t len;
	int sv[2];

	/* Silence past the timeout is a temporary failure. */
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		abort();
	iobuf_init(&io, sv[0], 1);
	peer_write(sv[1], "250 partial", 11);
	CHECK_INT(iobuf_getline(&io, &line, &len, &err), -1);
	CHECK_INT(err.cls, ERR_TEMP);
	CHECK_STR(err.text, "timed out after 1 s waiting for the server");

	/* The peer closing, even mid-line, is a temporary failure. */
	close(sv[1]);
	CHECK_INT(iobuf_getline(&io, &line, &len, &err), -1);
	CHECK_INT(err.cls, ERR_TEMP);
	CHECK_STR(err.text, "connection closed by server");

	/* Writing to a closed peer reports, it does not raise SIGPIPE. */
	iobuf_queuef(&io, "QUIT\r\n");
	CHECK_INT(iobuf_queued(&io), 6);
	CHECK_INT(iobuf_flush(&io, &err), -1);
	CHECK_INT(err.cls, ERR_TEMP);
	CHECK_INT(iobuf_queued(&io), 0);
	iobuf_release(&io);
	close(sv[0]);
}

/* A back end whose every call fails with the errno in ctx. */
static ssize_t
failing_read(void *ctx, void *p, size_t len)
{
	(void)p, (void)len;
	errno = *(int *)ctx;
	return -1;
}

static ssize_t
failing_write(void *ctx, const void *p, size_t len)
{
	(void)p, (void)len;
	errno = *(int *)ctx;
	return -1;
}

static const char *
fake_tls_error(void *ctx)
{
	(void)ctx;
	return "TLS: the server sent the alert 'X'";
}

static void
test_iobuf_network_errors(void)
{
	static const int temporary[] = {ECONNRESET, ETIMEDOUT, EHOSTUNREACH,
		ENETUNREACH, ENETDOWN, ECONNABORTED, EPIPE};
	struct iobuf io;
	struct error err;
	struct iobuf_backend be = {.read = failing_read, .write = failing_write};
	const char *line;
	size_t len, i;
	int sv[2], e;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		abort();
	iobuf_init(&io, sv[0], 2);
	be.ctx = &e;
	iobuf_set_backend(&io, &be);
	/* A connection that fails under us (the server's host gone, a
	   route lost, a TCP retransmission timeout) is "try again later",
	   75, like every other connection failure, not a local I/O error. */
	for (i = 0; i < sizeof(temporary) / sizeof(temporary[0]); i++) {
		e = temporary[i];
		CHECK_INT(iobuf_getline(&io, &line, &len, &err), -1);
		CHECK_INT(err.cls, ERR_TEMP);
		iobuf_queue(&io, "QUIT\r\n", 6);
		CHECK_INT(iobuf_flush(&io, &err), -1);
		CHECK_INT(err.cls, ERR_TEMP);
	}
	/* A TLS failure (an alert, a bad record) is the server breaking
	   the protocol, in the back end's words when it has them. */
	e = EPROTO;
	CHECK_INT(iobuf_getline(&io, &line, &len, &err), -1);
	CHECK_INT(err.cls, ERR_PROTOCOL);
	be.last_error = fake_tls_error;
	iobuf_set_backend(&io, &be);
	CHECK_INT(iobuf_getline(&io, &line, &len, &err), -1);
	CHECK_INT(err.cls, ERR_PROTOCOL);
	CHECK_STR(err.text, "read: TLS: the server sent the alert 'X'");
	iobuf_queue(&io, "QUIT\r\n", 6);
	CHECK_INT(iobuf_flush(&io, &err), -1);
	CHECK_INT(err.cls, ERR_PROTOCOL);
	be.last_error = NULL;
	iobuf_set_backend(&io, &be);
	/* What is not the network stays a local I/O error. */
	e = EFAULT;
	CHECK_INT(iobuf_getline(&io, &line, &len, &err), -1);
	CHECK_INT(err.cls, ERR_IO);
	iobuf_queue(&io, "QUIT\r\n", 6);
	CHECK_INT(iobuf_flush(&io, &err), -1);
	CHECK_INT(err.cls, ERR_IO);
	iobuf_release(&io);
	close(sv[0]);
	close(sv[1]);
}

static void
test_iobuf_flush(void)
{
	struct iobuf io;
	struct error err;
	char got[64];
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		abort();
	iobuf_init(&io, sv[0], 2);
	/* Queued commands leave together in one flush. */
	iobuf_queue(&io, "MAIL FROM:<>\r\n", 14);
	iobuf_queuef(&io, "RCPT TO:<%s>\r\n", "a@b");
	CHECK_INT(iobuf_flush(&io, &err), 0);
	CHECK_INT(iobuf_queued(&io), 0);
	CHECK_INT(read(sv[1], got, sizeof(got)), 29);
	CHECK(memcmp(got, "MAIL FROM:<>\r\nRCPT TO:<a@b>\r\n", 29) == 0);

	/* A watching flush stops when the peer has spoken first. */
	peer_write(sv[1], "554 stop\r\n", 10);
	CHECK(iobuf_readable(&io));
	iobuf_queue(&io, "data\r\n", 6);
	CHECK_INT(iobuf_flush_watch(&io, &err), 1);
	CHECK_INT(iobuf_queued(&io), 6);
	iobuf_release(&io);
	close(sv[0]);
	close(sv[1]);
}

int
main(void)
{
	test_single_line();
	test_multi_line();
	test_malformed();
	test_caps_limits();
	test_enhanced();
	test_to_error();
	test_caps();
	test_caps_auth_cap();
	test_iobuf_lines();
	test_iobuf_failures();
	test_iobuf_network_errors();
	test_iobuf_flush();
	return check_finish();
}
