/*
 * server.c - the server side of SMTP for -bs (see server.h for the wire
 * behaviour).
 *
 * Input is read through one buffer with a poll() deadline per line and
 * never made non-blocking (the descriptors are our caller's). Replies
 * are queued and written just before the server would wait for input, so
 * a pipelined group (RFC 2920) is answered in one write, and never held
 * while the server blocks. The message data goes to an unlinked temp
 * file, so memory does not grow with the message.
 */
#include "autoconf.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "address.h"
#include "buf.h"
#include "server.h"
#include "xmalloc.h"

#define SRV_INBUF     8192
#define SRV_OUT_FLUSH 4096 /* write queued replies past this */
/* A raw data line before its LF: a stuffing dot, 998 octets, a CR. */
#define SRV_DATA_RAW  (SERVER_LINE_MAX + 2)
#define SRV_CMD_RAW   (SERVER_CMD_MAX - 1) /* with its CR, without LF */
#define SRV_SPOOL_BUF (64 * 1024)
#define SRV_ENVID_MAX 100 /* RFC 3461 §4.4 */

/* srv_getline results beside -1 (error) */
enum { SRV_EOF = 0, SRV_LINE = 1, SRV_LONG = 2 };
/* command handler results beside -1 (error) */
enum { SRV_GO_ON = 0, SRV_QUIT = 1 };

struct server {
	const struct server_params *p;
	int in_fd, out_fd;
	struct error *err;
	char in[SRV_INBUF];
	size_t in_start, in_end;
	int dropping;     /* discarding the rest of an over-long line */
	int dropped_cr;   /* the last byte dropped was a CR */
	int read_timeout; /* the client went quiet: 421 is due */
	struct buf out;   /* queued replies */
	int greeted;      /* 1 after HELO, 2 after EHLO */
	int in_mail;      /* a MAIL was accepted */
	char *sender;
	enum server_body body;
	char *ret, *envid;
	struct server_rcpt *rcpts;
	size_t nrcpts;
};

/* The transaction forgotten (RSET, EHLO, after DATA). */
static void
srv_reset(struct server *s)
{
	for (size_t i = 0; i < s->nrcpts; i++) {
		free((char *)s->rcpts[i].addr);
		free((char *)s->rcpts[i].notify);
		free((char *)s->rcpts[i].orcpt);
	}
	free(s->rcpts);
	free(s->sender);
	free(s->ret);
	free(s->envid);
	s->rcpts = NULL;
	s->nrcpts = 0;
	s->sender = s->ret = s->envid = NULL;
	s->body = SERVER_BODY_NONE;
	s->in_mail = 0;
}

static const char *
srv_host(const struct server *s)
{
	return s->p->hostname && s->p->hostname[0] ? s->p->hostname
						   : "localhost";
}

static void srv_reply(struct server *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Queue one reply line; fmt has no CRLF. */
static void
srv_reply(struct server *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	buf_vprintf(&s->out, fmt, ap);
	va_end(ap);
	buf_addstr(&s->out, "\r\n");
}

static long long
srv_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for fd until deadline: 1 ready, 0 timed out, -1 (ERR_OS). */
static int
srv_wait(struct server *s, int fd, short events, long long deadline)
{
	struct pollfd pfd = {.fd = fd, .events = events};
	long long left;
	int r;

	for (;;) {
		left = deadline - srv_now_ms();
		if (left <= 0)
			return 0;
		r = poll(&pfd, 1, left > 1000000000 ? 1000000000 : (int)left);
		if (r > 0)
			return 1;
		if (r < 0 && errno != EINTR) {
			error_set(s->err, ERR_OS, "poll: %s", strerror(errno));
			return -1;
		}
	}
}

static long long
srv_deadline(const struct server *s)
{
	unsigned t = s->p->timeout ? s->p->timeout : SERVER_TIMEOUT;

	return srv_now_ms() + (long long)t * 1000;
}

static int
srv_timed_out(struct server *s)
{
	error_set(s->err, ERR_TEMP, "-bs: the client sent nothing for %u s",
		s->p->timeout ? s->p->timeout : SERVER_TIMEOUT);
	return -1;
}

/*
 * Write every queued reply. Writes of at most PIPE_BUF after poll() says
 * there is room, so a client that stops reading cannot hold us past the
 * timeout.
 */
static int
srv_flush(struct server *s)
{
	long long deadline = srv_deadline(s);
	size_t off = 0, n;
	ssize_t w;
	int r = 0;

	while (off < s->out.len) {
		r = srv_wait(s, s->out_fd, POLLOUT, deadline);
		if (r <= 0) {
			r = r == 0 ? srv_timed_out(s) : -1;
			break;
		}
		n = s->out.len - off < 4096 ? s->out.len - off : 4096;
		w = write(s->out_fd, s->out.data + off, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			error_set(s->err, ERR_IO, "-bs: standard output: %s",
				w < 0 ? strerror(errno) : "write failed");
			r = -1;
			break;
		}
		off += (size_t)w;
		r = 0;
	}
	buf_reset(&s->out);
	return r;
}

/* Flush, then read more input: bytes read, 0 at EOF, -1 on error. */
static ssize_t
srv_fill(struct server *s, long long deadline)
{
	ssize_t n;
	int r;

	if (s->out.len && srv_flush(s) < 0)
		return -1;
	if (s->in_start > 0) {
		memmove(s->in, s->in + s->in_start, s->in_end - s->in_start);
		s->in_end -= s->in_start;
		s->in_start = 0;
	}
	for (;;) {
		r = srv_wait(s, s->in_fd, POLLIN, deadline);
		if (r == 0)
			s->read_timeout = 1;
		if (r <= 0)
			return r == 0 ? srv_timed_out(s) : -1;
		n = read(
			s->in_fd, s->in + s->in_end, sizeof(s->in) - s->in_end);
		if (n >= 0)
			break;
		if (errno != EINTR && errno != EAGAIN) {
			error_set(s->err, ERR_IO, "-bs: standard input: %s",
				strerror(errno));
			return -1;
		}
	}
	s->in_end += (size_t)n;
	return n;
}

/* Take the line ending at lf out of the buffer. */
static int
srv_take_line(struct server *s, const char *lf, size_t max, const char **line,
	size_t *len, int *crlf)
{
	size_t n = (size_t)(lf - (s->in + s->in_start));
	int was_dropping = s->dropping;

	*line = s->in + s->in_start;
	*crlf = n > 0 ? (*line)[n - 1] == '\r' : was_dropping && s->dropped_cr;
	s->in_start += n + 1;
	s->dropping = 0;
	if (was_dropping || n > max)
		return SRV_LONG;
	*len = *crlf && n > 0 ? n - 1 : n;
	return SRV_LINE;
}

/*
 * One line, ended by LF; *crlf says whether a CR came before it (the CR
 * is not in *len). A line of more than max octets before its LF is read
 * to its end and dropped: SRV_LONG. SRV_EOF at end of input (a last
 * unfinished line is dropped too), -1 on error or timeout.
 */
static int
srv_getline(
	struct server *s, size_t max, const char **line, size_t *len, int *crlf)
{
	long long deadline = srv_deadline(s);
	char *lf;
	ssize_t n;

	for (;;) {
		lf = memchr(s->in + s->in_start, '\n', s->in_end - s->in_start);
		if (lf)
			return srv_take_line(s, lf, max, line, len, crlf);
		if (s->in_end > s->in_start &&
			(s->dropping || s->in_end - s->in_start > max)) {
			s->dropping = 1;
			s->dropped_cr = s->in[s->in_end - 1] == '\r';
			s->in_start = s->in_end;
		}
		n = srv_fill(s, deadline);
		if (n <= 0)
			return n < 0 ? -1 : SRV_EOF;
	}
}

/* --- spool ------------------------------------------------------------ */

struct srv_spool {
	int fd;
	struct buf pending;
	off_t len;
	int has_8bit;
	int failed; /* a write failed: the message cannot be delivered */
};

static int
srv_spool_open(struct srv_spool *sp, const char *tmpdir)
{
	const char *dir = tmpdir ? tmpdir : getenv("TMPDIR");
	char path[4096];
	int n;

	memset(sp, 0, sizeof(*sp));
	buf_init(&sp->pending, SRV_SPOOL_BUF + SERVER_LINE_MAX + 2);
	if (!dir || !dir[0])
		dir = "/tmp";
	n = snprintf(path, sizeof(path), "%s/postie-bs.XXXXXX", dir);
	sp->fd = n > 0 && (size_t)n < sizeof(path) ? mkostemp(path, O_CLOEXEC)
						   : -1;
	if (sp->fd < 0)
		return -1;
	/* Nothing to clean up later, whatever happens to us. */
	unlink(path);
	return 0;
}

static void
srv_spool_write(struct srv_spool *sp)
{
	size_t off = 0;
	ssize_t w;

	while (!sp->failed && off < sp->pending.len) {
		w = write(
			sp->fd, sp->pending.data + off, sp->pending.len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			sp->failed = 1;
		else
			off += (size_t)w;
	}
	buf_reset(&sp->pending);
}

static void
srv_spool_add(struct srv_spool *sp, const char *line, size_t len)
{
	for (size_t i = 0; i < len && !sp->has_8bit; i++)
		if ((unsigned char)line[i] >= 0x80)
			sp->has_8bit = 1;
	buf_append(&sp->pending, line, len);
	buf_append(&sp->pending, "\r\n", 2);
	sp->len += (off_t)len + 2;
	if (sp->pending.len >= SRV_SPOOL_BUF)
		srv_spool_write(sp);
}

/* Written out and rewound: 0, or -1 when the spool failed. */
static int
srv_spool_finish(struct srv_spool *sp)
{
	srv_spool_write(sp);
	if (!sp->failed && lseek(sp->fd, 0, SEEK_SET) != 0)
		sp->failed = 1;
	return sp->failed ? -1 : 0;
}

static void
srv_spool_close(struct srv_spool *sp)
{
	if (sp->fd >= 0)
		close(sp->fd);
	buf_release(&sp->pending);
}

/* --- DATA --------------------------------------------------------------- */

/* What went wrong with the data, once read to its end. */
enum srv_data_fault { SRV_DATA_OK, SRV_DATA_LONG, SRV_DATA_BIG };

/*
 * Read the data to "\r\n.\r\n" (RFC 5321 §4.1.1.4: the "." line must
 * follow a CRLF and end with one; anything else is content, so a client
 * that lets "\n.\n" through unstuffed cannot end the message early).
 * Returns SRV_LINE at the end, SRV_EOF, or -1.
 */
static int
srv_data_read(struct server *s, struct srv_spool *sp, enum srv_data_fault *f)
{
	unsigned long long max = s->p->size_max;
	const char *line;
	size_t len;
	int crlf, prev_crlf = 1, r;

	*f = SRV_DATA_OK;
	for (;;) {
		r = srv_getline(s, SRV_DATA_RAW, &line, &len, &crlf);
		if (r == SRV_EOF || r < 0)
			return r;
		if (r == SRV_LINE && prev_crlf && crlf && len == 1 &&
			line[0] == '.')
			return SRV_LINE;
		prev_crlf = crlf;
		/* §4.5.2; a lone "." that did not end the data was never
		   stuffed (stuffing makes ".."), so it stays. */
		if (r == SRV_LINE && len > 1 && line[0] == '.') {
			line++;
			len--;
		}
		if (r == SRV_LONG || len > SERVER_LINE_MAX)
			*f = *f ? *f : SRV_DATA_LONG;
		else if (max && (unsigned long long)sp->len + len + 2 > max)
			*f = *f ? *f : SRV_DATA_BIG;
		if (*f == SRV_DATA_OK)
			srv_spool_add(sp, line, len);
	}
}

/* "C.0.0" unless enh is a valid RFC 3463 code of the same class. */
static void
srv_enhanced(int code, const char *enh, char *out, size_t size)
{
	const char *p;
	int parts = 0, digits;

	if (enh[0] - '0' == code / 100 && enh[1] == '.') {
		for (p = enh + 2; parts < 2; parts++) {
			for (digits = 0; isdigit((unsigned char)*p); p++)
				digits++;
			if (digits < 1 || digits > 3 ||
				*p != (parts == 0 ? '.' : '\0'))
				break;
			p += parts == 0;
		}
	}
	if (parts == 2)
		snprintf(out, size, "%s", enh);
	else
		snprintf(out, size, "%d.0.0", code / 100);
}

/* Queue the callback's reply, made safe for the wire. */
static void
srv_reply_final(struct server *s, const struct server_reply *r)
{
	char enh[16], text[400];
	int code = r->code;

	if (code < 200 || code > 599) {
		srv_reply(
			s, "451 4.3.0 local error: no reply for this message");
		return;
	}
	srv_enhanced(code, r->enhanced, enh, sizeof(enh));
	log_escape(
		text, sizeof(text), r->text, strnlen(r->text, sizeof(r->text)));
	srv_reply(s, "%d %s %s", code, enh, text[0] ? text : "-");
}

/* Hand a complete message to the callback; its reply goes out. */
static int
srv_data_deliver(struct server *s, struct srv_spool *sp)
{
	struct server_mail m = {0};
	struct server_reply rep = {0};
	int r;

	m.sender = s->sender;
	m.body = s->body;
	m.ret = s->ret;
	m.envid = s->envid;
	m.notify = s->rcpts[0].notify;
	m.rcpts = s->rcpts;
	m.nrcpts = s->nrcpts;
	m.data_fd = sp->fd;
	m.data_len = sp->len;
	m.data_8bit = sp->has_8bit;
	/* The client may wait long for the upstream: nothing may sit in
	   our queue meanwhile. */
	if (srv_flush(s) < 0)
		return -1;
	r = s->p->deliver(s->p->ctx, &m, &rep, s->err);
	srv_reply_final(s, &rep);
	if (r < 0)
		return -1;
	return rep.code == 421 ? SRV_QUIT : SRV_GO_ON;
}

static int
srv_data_body(struct server *s, struct srv_spool *sp)
{
	enum srv_data_fault f;
	int r;

	srv_reply(s, "354 End data with <CR><LF>.<CR><LF>");
	r = srv_data_read(s, sp, &f);
	if (r < 0)
		return -1;
	if (r == SRV_EOF)
		return SRV_QUIT; /* the client left: nothing is delivered */
	if (f == SRV_DATA_LONG)
		srv_reply(s,
			"500 5.5.2 Error: line longer than %d octets "
			"(RFC 5322 section 2.1.1)",
			SERVER_LINE_MAX);
	else if (f == SRV_DATA_BIG)
		srv_reply(s,
			"552 5.3.4 Error: message exceeds fixed size "
			"limit of %llu bytes",
			s->p->size_max);
	else if (srv_spool_finish(sp) < 0)
		srv_reply(s, "452 4.3.1 Error: cannot write the message "
			     "to the spool");
	else
		return srv_data_deliver(s, sp);
	return SRV_GO_ON;
}

static int
cmd_data(struct server *s, const char *arg)
{
	struct srv_spool sp;
	int r;

	if (arg[0])
		srv_reply(s, "501 5.5.4 Syntax: DATA");
	else if (!s->in_mail)
		srv_reply(s, "503 5.5.1 Error: need MAIL command");
	else if (s->nrcpts == 0)
		srv_reply(s, "554 5.5.1 Error: no valid recipients");
	else if (srv_spool_open(&sp, s->p->tmpdir) < 0) {
		srv_reply(s, "451 4.3.0 Error: cannot create a spool file: %s",
			strerror(errno));
		srv_spool_close(&sp);
	} else {
		r = srv_data_body(s, &sp);
		srv_spool_close(&sp);
		srv_reset(s);
		return r;
	}
	return SRV_GO_ON;
}

/* --- MAIL, RCPT --------------------------------------------------------- */

/*
 * "<path>" at *pp (RFC 5321 §4.1.2) into out: the mailbox without
 * brackets and without a source route (§4.1.1.3, ignored). *pp moves
 * past the '>'. 0, or -1 for bad syntax.
 */
static int
srv_parse_path(const char **pp, char *out, size_t size)
{
	const char *p = *pp, *q;
	int inq = 0;

	if (*p++ != '<')
		return -1;
	if (*p == '@') { /* "@a,@b:user@c" */
		q = strchr(p, ':');
		if (!q || memchr(p, '>', (size_t)(q - p)))
			return -1;
		p = q + 1;
	}
	for (q = p; *q && (inq || *q != '>'); q++) {
		if (*q == '\\' && q[1])
			q++;
		else if (*q == '"')
			inq = !inq;
	}
	if (*q != '>' || (size_t)(q - p) >= size || (q[1] && q[1] != ' '))
		return -1;
	memcpy(out, p, (size_t)(q - p));
	out[q - p] = '\0';
	*pp = q + 1;
	return 0;
}

/*
 * "FROM:" / "TO:" then the path: 0 with the mailbox in out and *rest at
 * the parameters, else -1 with the reply queued.
 */
static int
srv_path_arg(struct server *s, const char *arg, const char *kw, char *out,
	size_t size, const char **rest)
{
	const char *p = arg;
	size_t n = strlen(kw);
	struct error e;
	int is_from = kw[0] == 'F';

	if (strncasecmp(p, kw, n) != 0) {
		srv_reply(s, "501 5.5.4 Syntax: %s <address>",
			is_from ? "MAIL FROM:" : "RCPT TO:");
		return -1;
	}
	for (p += n; *p == ' '; p++)
		;
	error_clear(&e);
	if (srv_parse_path(&p, out, size) < 0 || (!out[0] && !is_from) ||
		(out[0] && address_is_ascii(out) &&
			address_check_envelope(out, &e) < 0)) {
		srv_reply(s, "501 %s Error: bad %s address syntax",
			is_from ? "5.1.7" : "5.1.3",
			is_from ? "sender" : "recipient");
		return -1;
	}
	if (!address_is_ascii(out)) {
		srv_reply(s, "553 5.6.7 Error: non-ASCII address, and "
			     "SMTPUTF8 is not offered");
		return -1;
	}
	*rest = p;
	return 0;
}

/* Next " KEY[=VALUE]" at *pp: 1 with key and value (NULL if none) copied
   out, 0 at the end, -1 for bad syntax (RFC 5321 §4.1.2 esmtp-param). */
static int
srv_next_param(const char **pp, char *key, size_t ksize, char **val)
{
	const char *p = *pp, *k, *e;

	*val = NULL;
	while (*p == ' ')
		p++;
	if (!*p)
		return 0;
	for (k = p; isalnum((unsigned char)*p) || (*p == '-' && p > k); p++)
		;
	if (p == k || (size_t)(p - k) >= ksize ||
		(*p && *p != ' ' && *p != '='))
		return -1;
	memcpy(key, k, (size_t)(p - k));
	key[p - k] = '\0';
	if (*p == '=') {
		for (e = ++p; *p > 32 && *p < 127 && *p != '='; p++)
			;
		if (p == e || (*p && *p != ' '))
			return -1;
		*val = xstrndup(e, (size_t)(p - e));
	}
	*pp = p;
	return 1;
}

/* RFC 3461 §4 xtext, decoded; only printable ASCII may come out. NULL
   when it is not valid or decodes longer than max. */
static char *
srv_xtext_decode(const char *in, size_t max)
{
	static const char hex[] = "0123456789ABCDEF";
	struct buf b;
	const char *h1, *h2;
	int c;

	buf_init(&b, max);
	for (; *in; in++) {
		c = (unsigned char)*in;
		if (c == '+') {
			if (!in[1] || !in[2] || !(h1 = strchr(hex, in[1])) ||
				!(h2 = strchr(hex, in[2])))
				goto bad;
			c = (int)((h1 - hex) * 16 + (h2 - hex));
			in += 2;
		}
		if (c < 32 || c > 126 || buf_addch(&b, (char)c) < 0)
			goto bad;
	}
	return buf_detach(&b, NULL);
bad:
	buf_release(&b);
	return NULL;
}

/* NOTIFY=NEVER or a list of SUCCESS, FAILURE, DELAY (RFC 3461 §4.1). */
static int
srv_notify_valid(char *v)
{
	char *p, *end;
	size_t n;

	for (p = v; *p; p++)
		*p = (char)toupper((unsigned char)*p);
	if (strcmp(v, "NEVER") == 0)
		return 1;
	for (p = v;; p = end + 1) {
		end = strchr(p, ',');
		n = end ? (size_t)(end - p) : strlen(p);
		if (!((n == 7 && !strncmp(p, "SUCCESS", 7)) ||
			    (n == 7 && !strncmp(p, "FAILURE", 7)) ||
			    (n == 5 && !strncmp(p, "DELAY", 5))))
			return 0;
		if (!end)
			return 1;
	}
}

/* Keep *slot = val once: 0, or -1 with 501 queued (val freed). */
static int
srv_param_once(struct server *s, char **slot, char *val, const char *key)
{
	if (*slot) {
		srv_reply(s, "501 5.5.4 Error: duplicate %s parameter", key);
		free(val);
		return -1;
	}
	*slot = val;
	return 0;
}

/* A parameter handler: 0 kept, -1 with the reply queued; val (NULL
   when the parameter has no value) is the handler's to keep or free. */
typedef int (*srv_param_fn)(
	struct server *s, void *ctx, const char *key, char *val);

/* Every parameter after a path: 0, or -1 with the reply queued. */
static int
srv_params(struct server *s, const char *p, srv_param_fn fn, void *ctx)
{
	char key[32], *val;
	int r;

	while ((r = srv_next_param(&p, key, sizeof(key), &val)) > 0) {
		if (s->greeted != 2) { /* RFC 5321 §4.1.2: only after EHLO */
			free(val);
			srv_reply(s, "555 5.5.4 Error: no parameters after "
				     "HELO");
			return -1;
		}
		if (fn(s, ctx, key, val) < 0)
			return -1;
	}
	if (r < 0)
		srv_reply(s, "501 5.5.4 Error: bad parameter syntax");
	return r;
}

/* One MAIL parameter (srv_param_fn). */
static int
srv_mail_param(struct server *s, void *ctx, const char *key, char *val)
{
	unsigned long long max = s->p->size_max, n;
	char *end;

	(void)ctx;
	if (!strcasecmp(key, "SIZE") && val) {
		errno = 0;
		n = strtoull(val, &end, 10);
		if (*end || errno || !isdigit((unsigned char)val[0])) {
			free(val);
			srv_reply(s, "501 5.5.4 Error: bad SIZE parameter");
			return -1;
		}
		free(val);
		if (max && n > max) {
			srv_reply(s,
				"552 5.3.4 Error: message exceeds fixed "
				"size limit of %llu bytes",
				max);
			return -1;
		}
		return 0;
	}
	if (!strcasecmp(key, "BODY") && val && !s->body) {
		s->body = !strcasecmp(val, "7BIT")       ? SERVER_BODY_7BIT
			  : !strcasecmp(val, "8BITMIME") ? SERVER_BODY_8BITMIME
							 : SERVER_BODY_NONE;
		free(val);
		if (s->body)
			return 0;
		srv_reply(s, "501 5.5.4 Error: BODY is 7BIT or 8BITMIME");
		return -1;
	}
	if (s->p->dsn && !strcasecmp(key, "RET") && val &&
		(!strcasecmp(val, "FULL") || !strcasecmp(val, "HDRS"))) {
		for (end = val; *end; end++)
			*end = (char)toupper((unsigned char)*end);
		return srv_param_once(s, &s->ret, val, key);
	}
	if (s->p->dsn && !strcasecmp(key, "ENVID") && val) {
		end = srv_xtext_decode(val, SRV_ENVID_MAX);
		free(val);
		if (end)
			return srv_param_once(s, &s->envid, end, key);
		srv_reply(s, "501 5.5.4 Error: bad ENVID parameter");
		return -1;
	}
	free(val);
	srv_reply(s, "555 5.5.4 Error: unsupported parameter %s", key);
	return -1;
}

static int
cmd_mail(struct server *s, const char *arg)
{
	char addr[SERVER_CMD_MAX];
	const char *p;

	if (!s->greeted)
		srv_reply(s, "503 5.5.1 Error: send HELO/EHLO first");
	else if (s->in_mail)
		srv_reply(s, "503 5.5.1 Error: nested MAIL command");
	else if (srv_path_arg(s, arg, "FROM:", addr, sizeof(addr), &p) == 0) {
		if (srv_params(s, p, srv_mail_param, NULL) < 0) {
			srv_reset(s);
			return SRV_GO_ON;
		}
		s->sender = xstrdup(addr);
		s->in_mail = 1;
		srv_reply(s, "250 2.1.0 Ok");
	}
	return SRV_GO_ON;
}

/* One RCPT parameter (srv_param_fn), into the struct server_rcpt ctx. */
static int
srv_rcpt_param(struct server *s, void *ctx, const char *key, char *val)
{
	struct server_rcpt *rc = ctx;
	char *d;

	if (s->p->dsn && val && !strcasecmp(key, "NOTIFY")) {
		if (srv_notify_valid(val))
			return srv_param_once(
				s, (char **)&rc->notify, val, key);
		free(val);
		srv_reply(s, "501 5.5.4 Error: bad NOTIFY parameter");
		return -1;
	}
	if (s->p->dsn && val && !strcasecmp(key, "ORCPT")) {
		d = srv_xtext_decode(val, SERVER_PARAM_MAX);
		free(val);
		if (d && strchr(d, ';') && strchr(d, ';') != d)
			return srv_param_once(s, (char **)&rc->orcpt, d, key);
		free(d);
		srv_reply(s, "501 5.5.4 Error: bad ORCPT parameter");
		return -1;
	}
	free(val);
	srv_reply(s, "555 5.5.4 Error: unsupported parameter %s", key);
	return -1;
}

/*
 * The smtp module sends one NOTIFY for a whole message, so recipients
 * that ask for different ones cannot share it. 452 (RFC 5321 §4.5.3.1.10)
 * makes a client send this recipient in a later transaction.
 */
static int
srv_notify_differs(const struct server *s, const char *notify)
{
	const char *first;

	if (s->nrcpts == 0)
		return 0;
	first = s->rcpts[0].notify;
	if (!first || !notify)
		return first != notify;
	return strcmp(first, notify) != 0;
}

static void
srv_rcpt_release(struct server_rcpt *rc)
{
	free((char *)rc->notify);
	free((char *)rc->orcpt);
}

static void
srv_rcpt_add(struct server *s, const char *arg)
{
	char addr[SERVER_CMD_MAX];
	struct server_rcpt rc = {0};
	const char *p;

	if (srv_path_arg(s, arg, "TO:", addr, sizeof(addr), &p) < 0)
		return;
	if (srv_params(s, p, srv_rcpt_param, &rc) < 0) {
		srv_rcpt_release(&rc);
		return;
	}
	if (srv_notify_differs(s, rc.notify)) {
		srv_reply(s, "452 4.5.3 Error: NOTIFY differs from the other "
			     "recipients; send this one in another message");
		srv_rcpt_release(&rc);
		return;
	}
	rc.addr = xstrdup(addr);
	s->rcpts = xreallocarray(s->rcpts, s->nrcpts + 1, sizeof(*s->rcpts));
	s->rcpts[s->nrcpts++] = rc;
	srv_reply(s, "250 2.1.5 Ok");
}

static int
cmd_rcpt(struct server *s, const char *arg)
{
	size_t max = s->p->rcpt_max ? s->p->rcpt_max : SERVER_RCPT_MAX;

	if (!s->in_mail)
		srv_reply(s, "503 5.5.1 Error: need MAIL command");
	else if (s->nrcpts >= max)
		srv_reply(s, "452 4.5.3 Error: too many recipients");
	else
		srv_rcpt_add(s, arg);
	return SRV_GO_ON;
}

/* --- the other commands ------------------------------------------------- */

static int
cmd_helo(struct server *s, const char *arg, int ehlo)
{
	if (!arg[0]) {
		srv_reply(s, "501 Syntax: %s hostname", ehlo ? "EHLO" : "HELO");
		return SRV_GO_ON;
	}
	srv_reset(s); /* RFC 5321 §4.1.4 */
	s->greeted = ehlo ? 2 : 1;
	if (!ehlo) {
		srv_reply(s, "250 %s", srv_host(s));
		return SRV_GO_ON;
	}
	srv_reply(s, "250-%s", srv_host(s));
	srv_reply(s, "250-PIPELINING");
	if (s->p->size_max)
		srv_reply(s, "250-SIZE %llu", s->p->size_max);
	else
		srv_reply(s, "250-SIZE");
	srv_reply(s, "250-8BITMIME");
	if (s->p->dsn)
		srv_reply(s, "250-DSN");
	srv_reply(s, "250 ENHANCEDSTATUSCODES");
	return SRV_GO_ON;
}

static int
cmd_ehlo(struct server *s, const char *arg)
{
	return cmd_helo(s, arg, 1);
}

static int
cmd_helo1(struct server *s, const char *arg)
{
	return cmd_helo(s, arg, 0);
}

static int
cmd_rset(struct server *s, const char *arg)
{
	if (arg[0]) {
		srv_reply(s, "501 5.5.4 Syntax: RSET");
		return SRV_GO_ON;
	}
	srv_reset(s);
	srv_reply(s, "250 2.0.0 Ok");
	return SRV_GO_ON;
}

static int
cmd_noop(struct server *s, const char *arg)
{
	(void)arg;
	srv_reply(s, "250 2.0.0 Ok");
	return SRV_GO_ON;
}

static int
cmd_quit(struct server *s, const char *arg)
{
	if (arg[0]) {
		srv_reply(s, "501 5.5.4 Syntax: QUIT");
		return SRV_GO_ON;
	}
	srv_reply(s, "221 2.0.0 %s closing connection", srv_host(s));
	return SRV_QUIT;
}

/* RFC 5321 §3.5.3: 252 when we will not verify but will try. */
static int
cmd_vrfy(struct server *s, const char *arg)
{
	if (!arg[0])
		srv_reply(s, "501 5.5.4 Syntax: VRFY address");
	else
		srv_reply(s, "252 2.5.0 Cannot VRFY user, but will accept "
			     "message and attempt delivery");
	return SRV_GO_ON;
}

static int
cmd_help(struct server *s, const char *arg)
{
	(void)arg;
	srv_reply(s, "214 2.0.0 Commands: EHLO HELO MAIL RCPT DATA RSET "
		     "NOOP VRFY QUIT");
	return SRV_GO_ON;
}

/* Known, not offered (EXPN, STARTTLS, AUTH, BDAT, ...). */
static int
cmd_not_offered(struct server *s, const char *arg)
{
	(void)arg;
	srv_reply(s, "502 5.5.1 Error: command not implemented");
	return SRV_GO_ON;
}

static const struct srv_cmd {
	const char *name;
	int (*fn)(struct server *s, const char *arg);
} srv_cmds[] = {
	{"EHLO", cmd_ehlo},
	{"HELO", cmd_helo1},
	{"MAIL", cmd_mail},
	{"RCPT", cmd_rcpt},
	{"DATA", cmd_data},
	{"RSET", cmd_rset},
	{"NOOP", cmd_noop},
	{"QUIT", cmd_quit},
	{"VRFY", cmd_vrfy},
	{"HELP", cmd_help},
	{"EXPN", cmd_not_offered},
	{"STARTTLS", cmd_not_offered},
	{"AUTH", cmd_not_offered},
	{"BDAT", cmd_not_offered},
	{"ETRN", cmd_not_offered},
	{"TURN", cmd_not_offered},
};

/* One command line (NUL-terminated, no CRLF). */
static int
srv_command(struct server *s, const char *line, size_t len)
{
	size_t n = strcspn(line, " ");
	const char *arg = line + n;

	if (strlen(line) != len) {
		srv_reply(s, "500 5.5.2 Error: NUL byte in command");
		return SRV_GO_ON;
	}
	while (*arg == ' ')
		arg++;
	for (size_t i = 0; i < sizeof(srv_cmds) / sizeof(srv_cmds[0]); i++)
		if (strlen(srv_cmds[i].name) == n &&
			strncasecmp(line, srv_cmds[i].name, n) == 0)
			return srv_cmds[i].fn(s, arg);
	srv_reply(s, "500 5.5.2 Error: command not recognized");
	return SRV_GO_ON;
}

static int
srv_loop(struct server *s)
{
	char cmd[SERVER_CMD_MAX];
	const char *line;
	size_t len;
	int crlf, r;

	srv_reply(s, "220 %s ESMTP postie", srv_host(s));
	for (;;) {
		r = srv_getline(s, SRV_CMD_RAW, &line, &len, &crlf);
		if (r <= 0)
			return r;
		if (r == SRV_LONG || len > SERVER_CMD_MAX - 2) {
			srv_reply(s, "500 5.5.2 Error: line too long");
			continue;
		}
		while (len > 0 && line[len - 1] == ' ')
			len--; /* trailing blanks some clients send */
		memcpy(cmd, line, len);
		cmd[len] = '\0';
		r = srv_command(s, cmd, len);
		if (r != SRV_GO_ON)
			return r < 0 ? -1 : 0;
		if (s->out.len >= SRV_OUT_FLUSH && srv_flush(s) < 0)
			return -1;
	}
}

int
server_run(
	int in_fd, int out_fd, const struct server_params *p, struct error *err)
{
	struct sigaction ign = {0}, old;
	struct server *s = xcalloc(1, sizeof(*s));
	int r;

	s->p = p;
	s->in_fd = in_fd;
	s->out_fd = out_fd;
	s->err = err;
	buf_init(&s->out, (size_t)-1);
	ign.sa_handler = SIG_IGN;
	sigemptyset(&ign.sa_mask);
	sigaction(SIGPIPE, &ign, &old);
	r = srv_loop(s);
	if (r < 0 && s->read_timeout)
		srv_reply(
			s, "421 4.4.2 %s Error: timeout exceeded", srv_host(s));
	if (s->out.len && srv_flush(s) < 0 && r == 0)
		r = -1;
	sigaction(SIGPIPE, &old, NULL);
	srv_reset(s);
	buf_release(&s->out);
	free(s);
	return r;
}
