/* Throwaway tests for server.c: scripted client input, recorded output. */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "buf.h"
#include "server.h"
#include "xmalloc.h"

struct fake {
	int calls;
	char sender[256];
	char rcpts[1024];
	char notify[64], ret[16], envid[128], orcpt[256];
	int body, bit8;
	struct buf data;
	long long data_len;
	struct server_reply reply; /* what to answer */
	int fail;
};

static int
fake_deliver(void *ctx, const struct server_mail *m, struct server_reply *out,
	struct error *err)
{
	struct fake *f = ctx;
	char tmp[4096];
	ssize_t n;

	f->calls++;
	snprintf(f->sender, sizeof(f->sender), "%s", m->sender);
	f->rcpts[0] = 0;
	for (size_t i = 0; i < m->nrcpts; i++) {
		size_t l = strlen(f->rcpts);
		snprintf(f->rcpts + l, sizeof(f->rcpts) - l, "%s%s",
			i ? "," : "", m->rcpts[i].addr);
	}
	snprintf(f->notify, sizeof(f->notify), "%s",
		m->notify ? m->notify : "-");
	snprintf(f->ret, sizeof(f->ret), "%s", m->ret ? m->ret : "-");
	snprintf(f->envid, sizeof(f->envid), "%s", m->envid ? m->envid : "-");
	snprintf(f->orcpt, sizeof(f->orcpt), "%s",
		m->rcpts[0].orcpt ? m->rcpts[0].orcpt : "-");
	f->body = m->body;
	f->bit8 = m->data_8bit;
	f->data_len = (long long)m->data_len;
	buf_reset(&f->data);
	CHECK(lseek(m->data_fd, 0, SEEK_CUR) == 0);
	while ((n = read(m->data_fd, tmp, sizeof(tmp))) > 0)
		buf_append(&f->data, tmp, (size_t)n);
	*out = f->reply;
	if (f->fail) {
		error_set(err, ERR_CONFIG, "fake failure");
		return -1;
	}
	return 0;
}

static int
tmpfile_with(const char *s, size_t len)
{
	char path[] = "/tmp/test_server.XXXXXX";
	int fd = mkstemp(path);
	unlink(path);
	if (write(fd, s, len) != (ssize_t)len)
		abort();
	lseek(fd, 0, SEEK_SET);
	return fd;
}

/* Run a whole scripted (pipelined) session; output into out. */
static int
run_script(const char *in, size_t inlen, struct server_params *p,
	struct buf *out, struct error *err)
{
	int ifd = tmpfile_with(in, inlen), ofd = tmpfile_with("", 0), r;
	char tmp[4096];
	ssize_t n;

	error_clear(err);
	r = server_run(ifd, ofd, p, err);
	lseek(ofd, 0, SEEK_SET);
	buf_reset(out);
	while ((n = read(ofd, tmp, sizeof(tmp))) > 0)
		buf_append(out, tmp, (size_t)n);
	close(ifd);
	close(ofd);
	return r;
}

static struct fake F;
static struct server_params P;
static struct buf OUT;
static struct error E;

static void
setup(void)
{
	buf_reset(&F.data);
	struct buf keep = F.data;
	memset(&F, 0, sizeof(F));
	F.data = keep;
	F.reply.code = 250;
	snprintf(F.reply.enhanced, sizeof(F.reply.enhanced), "2.0.0");
	snprintf(F.reply.text, sizeof(F.reply.text), "Ok: queued as ABC");
	memset(&P, 0, sizeof(P));
	P.hostname = "host.example";
	P.deliver = fake_deliver;
	P.ctx = &F;
	P.timeout = 5;
}

static int
script(const char *in)
{
	return run_script(in, strlen(in), &P, &OUT, &E);
}

#define EHLO_REPLY                                                             \
	"220 host.example ESMTP "                                              \
	"postie\r\n250-host.example\r\n250-PIPELINING\r\n250-SIZE\r\n250-"     \
	"8BITMIME\r\n250 ENHANCEDSTATUSCODES\r\n"

int
main(void)
{
	buf_init(&F.data, (size_t)-1);
	buf_init(&OUT, (size_t)-1);

	/* a full conversation, pipelined, with dot-unstuffing */
	setup();
	CHECK_INT(script("EHLO client\r\nMAIL FROM:<a@example.org> "
			 "BODY=8BITMIME SIZE=100\r\n"
			 "RCPT TO:<b@example.net>\r\nRCPT "
			 "TO:<c@example.net>\r\nDATA\r\n"
			 "Subject: x\r\n\r\n..leading "
			 "dot\r\n...\r\nend\r\n.\r\nQUIT\r\n"),
		0);
	CHECK_STR(OUT.data,
		EHLO_REPLY "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n"
			   "354 End data with <CR><LF>.<CR><LF>\r\n250 2.0.0 "
			   "Ok: queued as ABC\r\n"
			   "221 2.0.0 host.example closing connection\r\n");
	CHECK_INT(F.calls, 1);
	CHECK_STR(F.sender, "a@example.org");
	CHECK_STR(F.rcpts, "b@example.net,c@example.net");
	CHECK_STR(
		F.data.data, "Subject: x\r\n\r\n.leading dot\r\n..\r\nend\r\n");
	CHECK_INT(F.data_len, (long long)F.data.len);
	CHECK_INT(F.body, SERVER_BODY_8BITMIME);

	/* bare LF: normalised in data; "\n.\n" and ".\n" do not end data */
	setup();
	CHECK_INT(script("HELO c\nMAIL FROM:<>\nRCPT TO:<root>\nDATA\n"
			 "a\nb\r\n.\nc\n.\r\nd\r\n\r\n.\r\nQUIT\n"),
		0);
	CHECK_INT(F.calls, 1);
	CHECK_STR(F.sender, "");
	CHECK_STR(F.rcpts, "root");
	CHECK_STR(F.data.data, "a\r\nb\r\n.\r\nc\r\n.\r\nd\r\n\r\n");

	/* upstream 4xx passed through; RSET; second message in the session */
	setup();
	F.reply.code = 451;
	snprintf(F.reply.enhanced, 16, "4.7.1");
	snprintf(F.reply.text, sizeof(F.reply.text),
		"upstream: greylisted\r\nx");
	CHECK_INT(script("EHLO c\r\nMAIL FROM:<a@x>\r\nRCPT "
			 "TO:<b@y>\r\nDATA\r\nhi\r\n.\r\n"
			 "MAIL FROM:<a@x>\r\nRSET\r\nMAIL FROM:<c@x>\r\nRCPT "
			 "TO:<d@y>\r\nDATA\r\nho\r\n.\r\nQUIT\r\n"),
		0);
	CHECK(strstr(OUT.data, "\r\n451 4.7.1 upstream: "
			       "greylisted\\r\\nx\r\n250 2.1.0 Ok\r\n250 2.0.0 "
			       "Ok\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 ") !=
		NULL);
	CHECK_INT(F.calls, 2);
	CHECK_STR(F.sender, "c@x");
	CHECK_STR(F.rcpts, "d@y");
	CHECK_STR(F.data.data, "ho\r\n");

	/* a bad enhanced code or code from the callback is made valid */
	setup();
	F.reply.code = 554;
	snprintf(F.reply.enhanced, 16, "4.1.1");
	CHECK_INT(script("EHLO c\r\nMAIL FROM:<a@x>\r\nRCPT "
			 "TO:<b@y>\r\nDATA\r\nhi\r\n.\r\n"),
		0);
	CHECK(strstr(OUT.data, "\r\n554 5.0.0 Ok: queued as ABC\r\n") != NULL);
	setup();
	F.reply.code = 0;
	CHECK_INT(script("EHLO c\r\nMAIL FROM:<a@x>\r\nRCPT "
			 "TO:<b@y>\r\nDATA\r\nhi\r\n.\r\n"),
		0);
	CHECK(strstr(OUT.data, "\r\n451 4.3.0 local error") != NULL);

	/* callback -1: reply sent, session ends with its error */
	setup();
	F.fail = 1;
	F.reply.code = 421;
	snprintf(F.reply.enhanced, 16, "4.3.0");
	CHECK_INT(script("EHLO c\r\nMAIL FROM:<a@x>\r\nRCPT "
			 "TO:<b@y>\r\nDATA\r\nhi\r\n.\r\nNOOP\r\n"),
		-1);
	CHECK_INT(E.cls, ERR_CONFIG);
	CHECK(strstr(OUT.data, "\r\n421 4.3.0 Ok: queued as ABC\r\n") != NULL);
	CHECK(strstr(OUT.data, "2.0.0 Ok\r\n") == NULL);
	/* a 421 reply without -1 ends the session too, return 0 */
	setup();
	F.reply.code = 421;
	snprintf(F.reply.enhanced, 16, "4.4.2");
	CHECK_INT(script("EHLO c\r\nMAIL FROM:<a@x>\r\nRCPT "
			 "TO:<b@y>\r\nDATA\r\nhi\r\n.\r\nNOOP\r\n"),
		0);
	CHECK(strstr(OUT.data, "250 2.0.0 Ok\r\n") == NULL);

	/* bad sequence 503, syntax 501, unknown 500, not offered 502 */
	setup();
	CHECK_INT(script("MAIL FROM:<a@x>\r\nEHLO\r\nEHLO c\r\nRCPT "
			 "TO:<b@y>\r\nDATA\r\n"
			 "MAIL FROM:a@x\r\nMAIL TO:<a@x>\r\nMAIL "
			 "FROM:<a@x>\r\nMAIL FROM:<a@x>\r\n"
			 "RCPT TO:<>\r\nRCPT TO:<a "
			 "b@y>\r\nDATA\r\nFOO\r\nSTARTTLS\r\nVRFY root\r\n"
			 "NOOP hi\r\nRSET x\r\nQUIT now\r\nQUIT\r\n"),
		0);
	CHECK_STR(OUT.data,
		"220 host.example ESMTP postie\r\n"
		"503 5.5.1 Error: send HELO/EHLO first\r\n"
		"501 Syntax: EHLO hostname\r\n"
		"250-host.example\r\n250-PIPELINING\r\n250-SIZE\r\n250-"
		"8BITMIME\r\n250 ENHANCEDSTATUSCODES\r\n"
		"503 5.5.1 Error: need MAIL command\r\n"
		"503 5.5.1 Error: need MAIL command\r\n"
		"501 5.1.7 Error: bad sender address syntax\r\n"
		"501 5.5.4 Syntax: MAIL FROM: <address>\r\n"
		"250 2.1.0 Ok\r\n"
		"503 5.5.1 Error: nested MAIL command\r\n"
		"501 5.1.3 Error: bad recipient address syntax\r\n"
		"501 5.1.3 Error: bad recipient address syntax\r\n"
		"554 5.5.1 Error: no valid recipients\r\n"
		"500 5.5.2 Error: command not recognized\r\n"
		"502 5.5.1 Error: command not implemented\r\n"
		"252 2.5.0 Cannot VRFY user, but will accept message and "
		"attempt delivery\r\n"
		"250 2.0.0 Ok\r\n"
		"501 5.5.4 Syntax: RSET\r\n"
		"501 5.5.4 Syntax: QUIT\r\n"
		"221 2.0.0 host.example closing connection\r\n");
	CHECK_INT(F.calls, 0);

	/* parameters: unknown 555, after HELO 555, SIZE over the limit 552,
	   non-ASCII 553, source route dropped, space after colon */
	setup();
	P.size_max = 1000;
	CHECK_INT(
		script("EHLO c\r\nMAIL FROM:<a@x> FOO=1\r\nMAIL FROM:<a@x> "
		       "SIZE=1001\r\n"
		       "MAIL FROM:<a@x> SIZE=-1\r\nMAIL FROM:<a@x> "
		       "BODY=BINARYMIME\r\n"
		       "MAIL FROM:<a@x> RET=FULL\r\nMAIL FROM:<\xc3\xa9@x>\r\n"
		       "MAIL FROM: <@r1,@r2:a@x> SIZE=1000\r\nRCPT TO:<b@y> "
		       "NOTIFY=NEVER\r\n"
		       "HELO c\r\nMAIL FROM:<a@x> SIZE=10\r\n"),
		0);
	CHECK(strstr(OUT.data, "250-SIZE 1000\r\n") != NULL);
	CHECK(strstr(OUT.data,
		      "\r\n555 5.5.4 Error: unsupported parameter FOO\r\n"
		      "552 5.3.4 Error: message exceeds fixed size limit of "
		      "1000 bytes\r\n"
		      "501 5.5.4 Error: bad SIZE parameter\r\n"
		      "501 5.5.4 Error: BODY is 7BIT or 8BITMIME\r\n"
		      "555 5.5.4 Error: unsupported parameter RET\r\n"
		      "553 5.6.7 Error: non-ASCII address, and SMTPUTF8 is not "
		      "offered\r\n"
		      "250 2.1.0 Ok\r\n"
		      "555 5.5.4 Error: unsupported parameter NOTIFY\r\n"
		      "250 host.example\r\n"
		      "555 5.5.4 Error: no parameters after HELO\r\n") != NULL);

	/* DSN: offered; RET, ENVID (xtext), NOTIFY, ORCPT passed; differing
	 * NOTIFY 452 */
	setup();
	P.dsn = 1;
	CHECK_INT(
		script("EHLO c\r\nMAIL FROM:<a@x> RET=hdrs ENVID=id+2Bx+3D1\r\n"
		       "RCPT TO:<b@y> NOTIFY=success,failure "
		       "ORCPT=rfc822;b+2B1@y\r\n"
		       "RCPT TO:<c@y>\r\nRCPT TO:<d@y> NOTIFY=NEVER\r\nRCPT "
		       "TO:<e@y> NOTIFY=SUCCESS,FAILURE\r\n"
		       "RCPT TO:<f@y> NOTIFY=SOMETIMES\r\nRCPT TO:<f@y> "
		       "ORCPT=x\r\n"
		       "DATA\r\n.\r\n"),
		0);
	CHECK(strstr(OUT.data, "250-DSN\r\n") != NULL);
	CHECK(strstr(OUT.data,
		      "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"
		      "452 4.5.3 Error: NOTIFY differs from the other "
		      "recipients; send this one in another message\r\n"
		      "452 4.5.3 Error: NOTIFY differs from the other "
		      "recipients; send this one in another message\r\n"
		      "250 2.1.5 Ok\r\n501 5.5.4 Error: bad NOTIFY "
		      "parameter\r\n501 5.5.4 Error: bad ORCPT "
		      "parameter\r\n354 ") != NULL);
	CHECK_STR(F.rcpts, "b@y,e@y");
	CHECK_STR(F.ret, "HDRS");
	CHECK_STR(F.envid, "id+x=1");
	CHECK_STR(F.notify, "SUCCESS,FAILURE");
	CHECK_STR(F.orcpt, "rfc822;b+1@y");
	CHECK_STR(F.data.data, "");

	/* too many recipients: 452 4.5.3 */
	setup();
	P.rcpt_max = 2;
	CHECK_INT(script("EHLO c\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nRCPT "
			 "TO:<c@y>\r\nRCPT TO:<d@y>\r\n"),
		0);
	CHECK(strstr(OUT.data, "250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n452 4.5.3 "
			       "Error: too many recipients\r\n") != NULL);

	/* data line too long: the rest is read, 500 5.5.2, no delivery,
	   and the session goes on; 998 octets (+ a stuffing dot) pass */
	{
		struct buf in;
		buf_init(&in, (size_t)-1);
		buf_addstr(&in, "EHLO c\r\nMAIL FROM:<a@x>\r\nRCPT "
				"TO:<b@y>\r\nDATA\r\nx\r\n");
		for (int i = 0; i < 999; i++)
			buf_addch(&in, 'y');
		buf_addstr(&in, "\r\n.\r\nMAIL FROM:<a@x>\r\nRCPT "
				"TO:<b@y>\r\nDATA\r\n.");
		for (int i = 0; i < 998; i++)
			buf_addch(&in, 'z');
		buf_addstr(&in, "\r\n.\r\nQUIT\r\n");
		setup();
		CHECK_INT(run_script(in.data, in.len, &P, &OUT, &E), 0);
		CHECK(strstr(OUT.data, "\r\n500 5.5.2 Error: line longer than "
				       "998 octets (RFC 5322 section "
				       "2.1.1)\r\n250 2.1.0 Ok\r\n") != NULL);
		CHECK_INT(F.calls, 1);
		CHECK_INT(F.data.len, 1000);
		/* far too long (past the input buffer), then a "." after it */
		buf_reset(&in);
		buf_addstr(&in, "EHLO c\r\nMAIL FROM:<a@x>\r\nRCPT "
				"TO:<b@y>\r\nDATA\r\n");
		for (int i = 0; i < 20000; i++)
			buf_addch(&in, 'y');
		buf_addstr(&in, "\n.\r\nstill data\r\n.\r\nQUIT\r\n");
		setup();
		CHECK_INT(run_script(in.data, in.len, &P, &OUT, &E), 0);
		CHECK(strstr(OUT.data,
			      "354 End data with <CR><LF>.<CR><LF>\r\n500 "
			      "5.5.2 Error: line longer") != NULL);
		CHECK(strstr(OUT.data, "221 2.0.0") != NULL);
		CHECK(strstr(OUT.data, "command not recognized") == NULL);
		CHECK_INT(F.calls, 0);
		/* command line too long: 500, the rest of it dropped */
		buf_reset(&in);
		buf_addstr(&in, "EHLO c\r\nNOOP ");
		for (int i = 0; i < 5000; i++)
			buf_addch(&in, 'n');
		buf_addstr(&in, "\r\nNOOP\r\n");
		setup();
		CHECK_INT(run_script(in.data, in.len, &P, &OUT, &E), 0);
		CHECK(strstr(OUT.data,
			      "ENHANCEDSTATUSCODES\r\n500 5.5.2 Error: line "
			      "too long\r\n250 2.0.0 Ok\r\n") != NULL);
		/* oversize: 552 5.3.4 after the data, no delivery */
		buf_reset(&in);
		buf_addstr(&in, "EHLO c\r\nMAIL FROM:<a@x>\r\nRCPT "
				"TO:<b@y>\r\nDATA\r\n");
		for (int i = 0; i < 300; i++)
			buf_addstr(&in,
				"0123456789012345678901234567890123456789\r\n");
		buf_addstr(&in, ".\r\nNOOP\r\n");
		setup();
		P.size_max = 10000;
		CHECK_INT(run_script(in.data, in.len, &P, &OUT, &E), 0);
		CHECK(strstr(OUT.data,
			      "354 End data with <CR><LF>.<CR><LF>\r\n552 "
			      "5.3.4 Error: message exceeds fixed size limit "
			      "of 10000 bytes\r\n250 2.0.0 Ok\r\n") != NULL);
		CHECK_INT(F.calls, 0);
		/* exactly at the limit passes */
		buf_reset(&in);
		buf_addstr(&in, "EHLO c\r\nMAIL FROM:<a@x>\r\nRCPT "
				"TO:<b@y>\r\nDATA\r\n");
		for (int i = 0; i < 250; i++)
			buf_addstr(&in,
				"01234567890123456789012345678901234567\r\n");
		buf_addstr(&in, ".\r\n");
		setup();
		P.size_max = 10000;
		CHECK_INT(run_script(in.data, in.len, &P, &OUT, &E), 0);
		CHECK_INT(F.calls, 1);
		CHECK_INT(F.data_len, 10000);
		buf_release(&in);
	}

	/* EOF mid-DATA: nothing delivered, return 0; 8-bit noted */
	setup();
	CHECK_INT(script("EHLO c\r\nMAIL FROM:<a@x>\r\nRCPT "
			 "TO:<b@y>\r\nDATA\r\nhalf\r\n"),
		0);
	CHECK_INT(F.calls, 0);
	setup();
	CHECK_INT(script("EHLO c\r\nMAIL FROM:<a@x>\r\nRCPT "
			 "TO:<b@y>\r\nDATA\r\n\xc3\xa9\r\n.\r\n"),
		0);
	CHECK_INT(F.bit8, 1);
	CHECK_INT(F.body, SERVER_BODY_NONE);
	/* NUL in a command */
	setup();
	CHECK_INT(run_script("NOOP\0x\r\n", 8, &P, &OUT, &E), 0);
	CHECK(strstr(OUT.data, "500 5.5.2 Error: NUL byte in command") != NULL);
	/* no spool directory: 451 to DATA, session goes on */
	setup();
	P.tmpdir = "/nonexistent-dir";
	CHECK_INT(script("EHLO c\r\nMAIL FROM:<a@x>\r\nRCPT "
			 "TO:<b@y>\r\nDATA\r\nNOOP\r\n"),
		0);
	CHECK(strstr(OUT.data,
		      "451 4.3.0 Error: cannot create a spool file: No such "
		      "file or directory\r\n250 2.0.0 Ok\r\n") != NULL);

	/* interactive over a socketpair: the greeting and each reply come
	   before the server blocks; timeout gives 421 and ERR_TEMP */
	{
		int sv[2];
		char rb[4096];
		ssize_t n;
		pid_t pid;
		int st;

		socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
		setup();
		P.timeout = 1;
		pid = fork();
		if (pid == 0) {
			close(sv[0]);
			int r = server_run(sv[1], sv[1], &P, &E);
			_exit(r == -1 && E.cls == ERR_TEMP ? 7 : 1);
		}
		close(sv[1]);
		n = read(sv[0], rb, sizeof(rb) - 1);
		rb[n > 0 ? n : 0] = 0;
		CHECK_STR(rb, "220 host.example ESMTP postie\r\n");
		CHECK(write(sv[0], "NOOP\r\n", 6) == 6);
		n = read(sv[0], rb, sizeof(rb) - 1);
		rb[n > 0 ? n : 0] = 0;
		CHECK_STR(rb, "250 2.0.0 Ok\r\n");
		n = read(sv[0], rb, sizeof(rb) - 1); /* after 1 s */
		rb[n > 0 ? n : 0] = 0;
		CHECK_STR(rb,
			"421 4.4.2 host.example Error: timeout exceeded\r\n");
		waitpid(pid, &st, 0);
		CHECK_INT(WEXITSTATUS(st), 7);
		close(sv[0]);
	}
	/* a client that hangs up before reading: ERR_IO, no SIGPIPE */
	{
		int pp[2], ip[2];
		struct error e;
		pipe(pp);
		pipe(ip);
		close(pp[0]);
		CHECK(write(ip[1], "NOOP\r\n", 6) == 6);
		close(ip[1]);
		setup();
		error_clear(&e);
		CHECK_INT(server_run(ip[0], pp[1], &P, &e), -1);
		CHECK_INT(e.cls, ERR_IO);
		close(pp[1]);
		close(ip[0]);
		struct sigaction sa;
		sigaction(SIGPIPE, NULL, &sa);
		CHECK(sa.sa_handler == SIG_DFL);
	}
	buf_release(&F.data);
	buf_release(&OUT);
	return check_finish();
}
