/*
 * test_queue.c - the durable queue's storage: the entry format round
 * trip, the message read back with and without dot-stuffing at every
 * buffer size, attempt records (and torn ones), unreadable entries,
 * listing, locks, give up / retry / delete, the directory checks, the
 * selection, and the tmp/ cleanup.
 */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "check.h"
#include "queue.h"
#include "xmalloc.h"

static char test_dir[4096];
static char qdir[4200];

static const char msg_dots[] = "Subject: dots\r\n"
			       "From: a@client.test\r\n"
			       "\r\n"
			       ".leading dot\r\n"
			       "mid.dle\r\n"
			       "..two\r\n"
			       ".\r\n"
			       "end\r\n";

/* --- helpers ---------------------------------------------------------- */

struct mem_src {
	const char *p;
	size_t len, off;
};

static ssize_t
mem_read(void *ctx, char *buf, size_t cap, struct error *err)
{
	struct mem_src *m = ctx;
	size_t n = m->len - m->off;

	(void)err;
	if (n > cap)
		n = cap;
	/* short reads on purpose: queue_add must loop */
	if (n > 5)
		n = n / 2;
	memcpy(buf, m->p + m->off, n);
	m->off += n;
	return (ssize_t)n;
}

static void
mem_rewind(void *ctx, int dotstuff)
{
	struct mem_src *m = ctx;

	(void)dotstuff;
	m->off = 0;
}

static void
mem_source(
	struct mem_src *m, struct smtp_source *src, const char *p, size_t len)
{
	m->p = p;
	m->len = len;
	m->off = 0;
	memset(src, 0, sizeof(*src));
	src->read = mem_read;
	src->rewind = mem_rewind;
	src->ctx = m;
	src->size = (off_t)len;
}

/* A plain entry: sender, one or two rcpts, msg. */
static int
add_simple(struct queue *q, const char *sender, const char *rcpt1,
	const char *rcpt2, const char *msg, char *id)
{
	char *rcpts[2];
	struct queue_entry e;
	struct mem_src m;
	struct smtp_source src;
	struct error err;
	int rc;

	memset(&e, 0, sizeof(e));
	rcpts[0] = (char *)rcpt1;
	rcpts[1] = (char *)rcpt2;
	e.account = (char *)"default";
	e.sender = (char *)sender;
	e.rcpts = rcpts;
	e.nrcpts = rcpt2 ? 2 : 1;
	mem_source(&m, &src, msg, strlen(msg));
	error_clear(&err);
	rc = queue_add(q, &e, &src, &err);
	if (rc < 0)
		fprintf(stderr, "queue_add: %s\n", err.text);
	if (id)
		memcpy(id, e.id, sizeof(e.id));
	return rc;
}

static char *
file_slurp(const char *path, size_t *len)
{
	struct buf b;
	int fd = open(path, O_RDONLY);

	buf_init(&b, 1 << 20);
	if (fd >= 0) {
		while (buf_read_fd(&b, fd, 4096) > 0)
			;
		close(fd);
	}
	return buf_detach(&b, len);
}

static void
file_write(const char *path, const char *p, size_t len, int append)
{
	int fd = open(
		path, O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC), 0600);

	if (fd < 0 || write(fd, p, len) != (ssize_t)len)
		fprintf(stderr, "cannot write %s\n", path);
	if (fd >= 0)
		close(fd);
}

static void
entry_path(char *out, size_t size, const char *sub, const char *id)
{
	snprintf(out, size, "%s/%s%s", qdir, sub, id);
}

/* The one entry of the queue (or failed/) with this id, or NULL. */
static const struct queue_entry *
find(const struct queue_entry *v, size_t n, const char *id)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(v[i].id, id) == 0)
			return &v[i];
	return NULL;
}

static size_t
count_dir(const char *sub)
{
	char path[4300];
	struct stat st;
	size_t n = 0;
	FILE *p;
	char cmd[4400], line[256];

	snprintf(path, sizeof(path), "%s/%s", qdir, sub);
	if (stat(path, &st) < 0)
		return 0;
	snprintf(cmd, sizeof(cmd), "ls -A '%s'", path);
	p = popen(cmd, "r");
	while (p && fgets(line, sizeof(line), p))
		n++;
	if (p)
		pclose(p);
	return n;
}

/* Read the whole source at cap bytes a read. */
static char *
read_all(struct smtp_source *src, int dotstuff, size_t cap, size_t *len)
{
	struct buf out;
	struct error err;
	char *chunk = xmalloc(cap);
	ssize_t n;

	buf_init(&out, 1 << 20);
	src->rewind(src->ctx, dotstuff);
	while ((n = src->read(src->ctx, chunk, cap, &err)) > 0) {
		if ((size_t)n > cap)
			break;
		buf_append(&out, chunk, (size_t)n);
	}
	free(chunk);
	return buf_detach(&out, len);
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	chmod(path, 0700);
	return remove(path);
}

/* --- the directory ----------------------------------------------------- */

static void
test_open(void)
{
	struct queue q;
	struct error err;
	struct stat st;
	char path[4300];

	/* missing parents are made 0700, with tmp/ and failed/ */
	CHECK_INT(queue_open(&q, qdir, 1, &err), 0);
	snprintf(path, sizeof(path), "%s/a", test_dir);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 07777) == 0700);
	CHECK(stat(qdir, &st) == 0 && (st.st_mode & 07777) == 0700);
	snprintf(path, sizeof(path), "%s/tmp", qdir);
	CHECK(stat(path, &st) == 0 && S_ISDIR(st.st_mode));
	snprintf(path, sizeof(path), "%s/failed", qdir);
	CHECK(stat(path, &st) == 0 && S_ISDIR(st.st_mode));
	queue_close(&q);

	/* create 0: a missing directory is an empty queue, nothing made */
	snprintf(path, sizeof(path), "%s/nope/queue", test_dir);
	CHECK_INT(queue_open(&q, path, 0, &err), 1);
	CHECK_INT(q.dirfd, -1);
	snprintf(path, sizeof(path), "%s/nope", test_dir);
	CHECK(stat(path, &st) < 0 && errno == ENOENT);
	queue_close(&q);

	/* others may enter: refused with the chmod that fixes it */
	snprintf(path, sizeof(path), "%s/open", test_dir);
	mkdir(path, 0700);
	chmod(path, 0755);
	error_clear(&err);
	CHECK_INT(queue_open(&q, path, 1, &err), -1);
	CHECK_INT(err.cls, ERR_CONFIG);
	CHECK(strstr(err.text, "chmod 700") != NULL);
	CHECK_INT(queue_open(&q, path, 0, &err), -1);

	/* a file where the directory should be */
	snprintf(path, sizeof(path), "%s/afile", test_dir);
	file_write(path, "x", 1, 0);
	CHECK_INT(queue_open(&q, path, 1, &err), -1);
	CHECK_INT(err.cls, ERR_CONFIG);
}

/* --- the format -------------------------------------------------------- */

static void
test_round_trip(struct queue *q)
{
	char *rcpts[] = {"bob@example.org", "jörg@bücher.example", "c@x.test"};
	char *ascii[] = {NULL, "jörg@xn--bcher-kva.example", NULL};
	struct queue_entry e, *v;
	const struct queue_entry *g;
	struct mem_src m;
	struct smtp_source src;
	struct error err;
	char idhex[9];
	size_t n;

	memset(&e, 0, sizeof(e));
	e.account = "work";
	e.sender = "ålice@bücher.example";
	e.sender_ascii = "ålice@xn--bcher-kva.example";
	e.rcpts = rcpts;
	e.rcpts_ascii = ascii;
	e.nrcpts = 3;
	e.body = SMTP_BODY_8BITMIME;
	e.dsn_notify = "SUCCESS,FAILURE";
	e.dsn_ret = "HDRS";
	e.dsn_envid = "QQ+2Bx y";
	e.has_8bit = 1;
	e.header_8bit = 1;
	mem_source(&m, &src, msg_dots, strlen(msg_dots));
	src.size = 3; /* a wrong hint: the source is counted */
	CHECK_INT(queue_add(q, &e, &src, &err), 0);
	CHECK_INT(strlen(e.id), QUEUE_ID_LEN);
	CHECK_INT(e.size, strlen(msg_dots));
	snprintf(idhex, sizeof(idhex), "%08llx",
		(unsigned long long)e.created & 0xffffffffULL);
	CHECK(strncmp(e.id, idhex, 8) == 0);
	CHECK(e.created <= time(NULL) && e.created > time(NULL) - 10);

	CHECK_INT(queue_list(q, 0, &v, &n, &err), 0);
	g = find(v, n, e.id);
	CHECK(g != NULL);
	if (g == NULL)
		return;
	CHECK(g->unreadable == NULL);
	CHECK_INT(g->failed, 0);
	CHECK_STR(g->account, "work");
	CHECK_STR(g->sender, "ålice@bücher.example");
	CHECK_STR(g->sender_ascii, "ålice@xn--bcher-kva.example");
	CHECK_INT(g->nrcpts, 3);
	CHECK_STR(g->rcpts[0], "bob@example.org");
	CHECK_STR(g->rcpts[1], "jörg@bücher.example");
	CHECK_STR(g->rcpts[2], "c@x.test");
	CHECK(g->rcpts_ascii[0] == NULL && g->rcpts_ascii[2] == NULL);
	CHECK_STR(g->rcpts_ascii[1], "jörg@xn--bcher-kva.example");
	CHECK_INT(g->body, SMTP_BODY_8BITMIME);
	CHECK_STR(g->dsn_notify, "SUCCESS,FAILURE");
	CHECK_STR(g->dsn_ret, "HDRS");
	CHECK_STR(g->dsn_envid, "QQ+2Bx y");
	CHECK_INT(g->has_8bit, 1);
	CHECK_INT(g->header_8bit, 1);
	CHECK_INT(g->created, e.created);
	CHECK_INT(g->size, strlen(msg_dots));
	CHECK_INT(g->attempts, 0);
	CHECK_INT(g->last_attempt, 0);
	CHECK(g->last_error == NULL);
	CHECK_INT(g->retried, 0);
	CHECK_INT(g->fd, -1);
	queue_entries_release(v, n);
	/* nothing left behind in tmp/ */
	CHECK_INT(count_dir("tmp"), 0);
}

/* The exact bytes on disk, as the man page describes them. */
static void
test_null_sender_format(struct queue *q)
{
	char id[QUEUE_ID_LEN + 1], path[4300], want[512];
	struct queue_entry *v;
	const struct queue_entry *g;
	struct error err;
	struct stat st;
	size_t n, len;
	char *file, *tail;

	CHECK_INT(add_simple(q, "", "x@y.test", NULL, "A: b\r\n\r\nhi\r\n", id),
		0);
	entry_path(path, sizeof(path), "", id);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 07777) == 0600);
	file = file_slurp(path, &len);
	snprintf(want, sizeof(want), "postie-queue 1\nid %s\ncreated ", id);
	CHECK(strncmp(file, want, strlen(want)) == 0);
	tail = strchr(file + strlen(want), '\n');
	CHECK(tail != NULL &&
		strcmp(tail, "\naccount default\nsender <>\nrcpt <x@y.test>\n"
			     "8bit 0\nheader-8bit 0\nsize 12\n\n"
			     "A: b\r\n\r\nhi\r\n") == 0);
	CHECK(strlen(file) == len);
	free(file);

	CHECK_INT(queue_list(q, 0, &v, &n, &err), 0);
	g = find(v, n, id);
	CHECK(g != NULL && g->sender && g->sender[0] == '\0');
	CHECK(g != NULL && g->sender_ascii == NULL && g->dsn_notify == NULL &&
		g->dsn_ret == NULL && g->dsn_envid == NULL &&
		g->body == SMTP_BODY_DEFAULT && g->rcpts_ascii[0] == NULL);
	queue_entries_release(v, n);
}

static void
test_refuse_line_breaks(struct queue *q)
{
	struct queue_entry e;
	struct mem_src m;
	struct smtp_source src;
	struct error err;
	char *bad[] = {"ok@x.test", "evil@x.test>\nrcpt <more@x.test"};
	size_t before = count_dir("");

	memset(&e, 0, sizeof(e));
	e.account = "default";
	e.sender = "a@x.test";
	e.rcpts = bad;
	e.nrcpts = 2;
	mem_source(&m, &src, "x\r\n", 3);
	CHECK_INT(queue_add(q, &e, &src, &err), -1);
	CHECK_INT(err.cls, ERR_DATA);
	CHECK_INT(e.id[0], '\0');
	e.nrcpts = 1;
	e.account = "a\rb";
	CHECK_INT(queue_add(q, &e, &src, &err), -1);
	CHECK_INT(err.cls, ERR_DATA);
	e.account = "default";
	e.dsn_envid = "x\ny";
	CHECK_INT(queue_add(q, &e, &src, &err), -1);
	CHECK_INT(err.cls, ERR_DATA);
	/* nothing written anywhere */
	CHECK_INT(count_dir(""), before);
	CHECK_INT(count_dir("tmp"), 0);
}

static ssize_t
broken_read(void *ctx, char *buf, size_t cap, struct error *err)
{
	(void)ctx;
	(void)buf;
	(void)cap;
	error_set(err, ERR_IO, "spool read failed");
	return -1;
}

/* The source fails mid-way: its error, and no file anywhere. */
static void
test_source_error(struct queue *q)
{
	char *rcpts[] = {"b@y.test"};
	struct queue_entry e;
	struct mem_src m;
	struct smtp_source src;
	struct error err;
	size_t before = count_dir("");

	memset(&e, 0, sizeof(e));
	e.account = "default";
	e.sender = "a@x.test";
	e.rcpts = rcpts;
	e.nrcpts = 1;
	mem_source(&m, &src, "x\r\n", 3);
	src.read = broken_read;
	error_clear(&err);
	CHECK_INT(queue_add(q, &e, &src, &err), -1);
	CHECK_INT(err.cls, ERR_IO);
	CHECK_STR(err.text, "spool read failed");
	CHECK_INT(count_dir(""), before);
	CHECK_INT(count_dir("tmp"), 0);
}

/* --- reading the message back ----------------------------------------- */

static char *
stuffed(const char *in, size_t *len)
{
	struct buf b;
	int sol = 1;

	buf_init(&b, 1 << 20);
	for (; *in; in++) {
		if (sol && *in == '.')
			buf_addch(&b, '.');
		buf_addch(&b, *in);
		sol = *in == '\n';
	}
	return buf_detach(&b, len);
}

static void
test_reader(struct queue *q)
{
	static const size_t caps[] = {2, 3, 7, 16, 4096, 65536};
	char id[QUEUE_ID_LEN + 1];
	struct queue_entry e;
	struct queue_reader r;
	struct smtp_source src;
	struct error err;
	struct buf hdr;
	size_t i, len, slen;
	char *got, *want = stuffed(msg_dots, &slen);

	CHECK_INT(add_simple(q, "a@x.test", "b@y.test", NULL, msg_dots, id), 0);
	CHECK_INT(queue_lock(q, id, &e, &err), 1);
	queue_source(&e, &r, &src);
	CHECK_INT(src.size, strlen(msg_dots));
	CHECK_INT(src.has_8bit, 0);
	for (i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		got = read_all(&src, 0, caps[i], &len);
		CHECK(len == strlen(msg_dots) &&
			memcmp(got, msg_dots, len) == 0);
		free(got);
		got = read_all(&src, 1, caps[i], &len);
		CHECK(len == slen && memcmp(got, want, len) == 0);
		if (len != slen || memcmp(got, want, len) != 0)
			fprintf(stderr, "cap %zu: got [%.*s]\n", caps[i],
				(int)len, got);
		free(got);
	}
	free(want);

	/* the header for a bounce: whole lines, without the empty one */
	buf_init(&hdr, 4096);
	CHECK_INT(queue_read_header(&e, &hdr, 4096, &err), 0);
	CHECK_STR(hdr.data, "Subject: dots\r\nFrom: a@client.test\r\n");
	buf_reset(&hdr);
	CHECK_INT(queue_read_header(&e, &hdr, 20, &err), 0);
	CHECK_STR(hdr.data, "Subject: dots\r\n");
	buf_reset(&hdr);
	CHECK_INT(queue_read_header(&e, &hdr, 5, &err), 0);
	CHECK_STR(hdr.data, "");
	buf_release(&hdr);
	queue_unlock(&e);
	CHECK_INT(e.fd, -1);
}

/* --- records ------------------------------------------------------------ */

static const struct queue_entry *
list_one(struct queue *q, int failed, const char *id, struct queue_entry **v,
	size_t *n)
{
	struct error err;

	if (queue_list(q, failed, v, n, &err) < 0) {
		*v = NULL;
		*n = 0;
	}
	return find(*v, *n, id);
}

static void
test_attempts(struct queue *q)
{
	char id[QUEUE_ID_LEN + 1], path[4300], longwhy[2000];
	struct queue_entry e, *v;
	const struct queue_entry *g;
	struct error err;
	size_t n;

	CHECK_INT(add_simple(q, "a@x.test", "b@y.test", NULL, "x\r\n", id), 0);
	CHECK_INT(queue_lock(q, id, &e, &err), 1);
	CHECK_INT(queue_note_attempt(&e, 1000, "451 4.3.0 try\r\nlater", &err),
		0);
	CHECK_INT(e.attempts, 1);
	CHECK_INT(e.last_attempt, 1000);
	CHECK_STR(e.last_error, "451 4.3.0 try\\r\\nlater");
	CHECK_INT(queue_note_attempt(&e, 2000, "452 full", &err), 0);
	queue_unlock(&e);

	g = list_one(q, 0, id, &v, &n);
	CHECK(g && g->attempts == 2 && g->last_attempt == 2000);
	CHECK(g && g->last_error && strcmp(g->last_error, "452 full") == 0);
	queue_entries_release(v, n);

	/* a torn record (a crash mid-append) is ignored ... */
	entry_path(path, sizeof(path), "", id);
	file_write(path, "attempt 17", 10, 1);
	g = list_one(q, 0, id, &v, &n);
	CHECK(g && g->unreadable == NULL && g->attempts == 2);
	queue_entries_release(v, n);
	/* ... and cut off by the next append, so that one counts */
	memset(longwhy, 'z', sizeof(longwhy) - 1);
	longwhy[sizeof(longwhy) - 1] = '\0';
	CHECK_INT(queue_lock(q, id, &e, &err), 1);
	CHECK_INT(queue_note_attempt(&e, 3000, longwhy, &err), 0);
	CHECK(e.last_error && strlen(e.last_error) <= QUEUE_ERROR_MAX);
	queue_unlock(&e);
	g = list_one(q, 0, id, &v, &n);
	CHECK(g && g->attempts == 3 && g->last_attempt == 3000);
	CHECK(g && g->last_error && strlen(g->last_error) <= QUEUE_ERROR_MAX &&
		g->last_error[0] == 'z');
	queue_entries_release(v, n);

	/* NUL bytes left by a crash: ignored, and so is what follows */
	file_write(path, "\0\0\0\0attempt 18 y\n", 17, 1);
	g = list_one(q, 0, id, &v, &n);
	CHECK(g && g->unreadable == NULL && g->attempts == 3);
	queue_entries_release(v, n);
	CHECK_INT(queue_lock(q, id, &e, &err), 1);
	CHECK_INT(queue_note_attempt(&e, 4000, "421 bye", &err), 0);
	queue_unlock(&e);
	g = list_one(q, 0, id, &v, &n);
	CHECK(g && g->attempts == 4 && g->last_error &&
		strcmp(g->last_error, "421 bye") == 0);
	queue_entries_release(v, n);
}

/* --- unreadable entries ------------------------------------------------- */

static void
write_entry(const char *id, const char *version, const char *extra,
	const char *file_id, long size_delta)
{
	char path[4300], text[1024];
	const char *msg = "A: b\r\n\r\nbody\r\n";
	int n;

	n = snprintf(text, sizeof(text),
		"postie-queue %s\nid %s\ncreated 1700000000\naccount default\n"
		"sender <a@x.test>\nrcpt <b@y.test>\n%s8bit 0\nheader-8bit 0\n"
		"size %ld\n\n%s",
		version, file_id, extra, (long)strlen(msg) + size_delta, msg);
	entry_path(path, sizeof(path), "", id);
	file_write(path, text, (size_t)n, 0);
}

static void
check_unreadable(
	const struct queue_entry *v, size_t n, const char *id, const char *why)
{
	const struct queue_entry *g = find(v, n, id);

	CHECK(g != NULL);
	if (g == NULL)
		return;
	CHECK(g->unreadable != NULL && strstr(g->unreadable, why) != NULL);
	if (g->unreadable == NULL || strstr(g->unreadable, why) == NULL)
		fprintf(stderr, "%s: unreadable: %s, want %s\n", id,
			g->unreadable ? g->unreadable : "(null)", why);
	CHECK_INT(queue_match(g, NULL), 0);
}

static void
test_unreadable(struct queue *q)
{
	static const char *const ids[] = {"00000000000000a1",
		"00000000000000a2", "00000000000000a3", "00000000000000a4",
		"00000000000000a5", "00000000000000a6", "00000000000000a7"};
	struct queue_entry *v, e;
	const struct queue_entry *g;
	struct error err;
	size_t n, i;

	write_entry(ids[0], "1", "colour red\n", ids[0], 0);
	write_entry(ids[1], "2", "", ids[1], 0);
	write_entry(ids[2], "1", "", ids[2], 5); /* file shorter than size */
	write_entry(ids[3], "1", "", "00000000000000ff", 0);
	write_entry(ids[4], "1", "size 3\n", ids[4], 0);
	write_entry(ids[5], "1", "rcpt-ascii <c@d.test>\nrcpt-ascii <e@f>\n",
		ids[5], 0);
	write_entry(ids[6], "1", "", ids[6], 0); /* the control: readable */
	CHECK_INT(queue_list(q, 0, &v, &n, &err), 0);
	check_unreadable(v, n, ids[0], "unknown key 'colour'");
	check_unreadable(v, n, ids[1], "version 2");
	check_unreadable(v, n, ids[2], "truncated");
	check_unreadable(v, n, ids[3], "does not match");
	check_unreadable(v, n, ids[4], "twice");
	check_unreadable(v, n, ids[5], "rcpt-ascii");
	g = find(v, n, ids[6]);
	CHECK(g && g->unreadable == NULL && g->size == 14 &&
		g->created == 1700000000 && queue_match(g, NULL) == 1);
	/* sorted by id */
	for (i = 1; i < n; i++)
		CHECK(strcmp(v[i - 1].id, v[i].id) < 0);
	queue_entries_release(v, n);

	/* locking one for sending: refused, with the reason */
	CHECK_INT(queue_lock(q, ids[0], &e, &err), -1);
	CHECK_INT(err.cls, ERR_DATA);
	CHECK(e.unreadable != NULL && strstr(err.text, "unknown key") != NULL);
	CHECK_INT(e.fd, -1);
	queue_entry_release(&e);
	/* but it can be deleted by hand */
	for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
		CHECK_INT(queue_delete(q, ids[i], &err), 0);
}

/* --- listing ------------------------------------------------------------ */

static void
test_list(struct queue *q)
{
	char id[3][QUEUE_ID_LEN + 1], path[4300];
	struct queue_entry *v;
	struct error err;
	size_t n, i, before;

	CHECK_INT(queue_list(q, 0, &v, &n, &err), 0);
	before = n;
	queue_entries_release(v, n);
	for (i = 0; i < 3; i++)
		CHECK_INT(add_simple(q, "a@x.test", "b@y.test", NULL, "m\r\n",
				  id[i]),
			0);
	/* a writer's file in tmp/ and a stray file are not entries */
	entry_path(path, sizeof(path), "tmp/", "ffffffffffffffff");
	file_write(path, "x", 1, 0);
	entry_path(path, sizeof(path), "", "README");
	file_write(path, "x", 1, 0);
	CHECK_INT(queue_list(q, 0, &v, &n, &err), 0);
	CHECK_INT(n, before + 3);
	for (i = 1; i < n; i++)
		CHECK(strcmp(v[i - 1].id, v[i].id) < 0);
	CHECK(find(v, n, "ffffffffffffffff") == NULL);
	for (i = 0; i < 3; i++)
		CHECK(find(v, n, id[i]) != NULL);
	queue_entries_release(v, n);
	unlink(path);
	entry_path(path, sizeof(path), "tmp/", "ffffffffffffffff");
	unlink(path);
	for (i = 0; i < 3; i++)
		CHECK_INT(queue_delete(q, id[i], &err), 0);
}

/* --- locks -------------------------------------------------------------- */

static void
test_locks(struct queue *q)
{
	char id[QUEUE_ID_LEN + 1], path[4300];
	struct queue_entry a, b;
	struct error err;
	struct stat st;

	CHECK_INT(add_simple(q, "a@x.test", "b@y.test", NULL, "m\r\n", id), 0);
	/* flock is per open file description: two opens in one process
	   stand for two flushers */
	CHECK_INT(queue_lock(q, id, &a, &err), 1);
	CHECK_INT(queue_lock(q, id, &b, &err), 0);
	CHECK_INT(b.fd, -1);
	queue_entry_release(&b);
	/* by hand while it is being sent: try later */
	CHECK_INT(queue_delete(q, id, &err), -1);
	CHECK_INT(err.cls, ERR_TEMP);
	CHECK_INT(queue_retry(q, id, &err), -1);
	CHECK_INT(err.cls, ERR_TEMP);
	queue_unlock(&a);
	CHECK_INT(queue_lock(q, id, &b, &err), 1);
	CHECK_INT(queue_remove(q, &b, &err), 0);
	CHECK_INT(b.fd, -1);
	entry_path(path, sizeof(path), "", id);
	CHECK(stat(path, &st) < 0 && errno == ENOENT);
	/* delivered by another flusher: gone */
	CHECK_INT(queue_lock(q, id, &a, &err), 0);
	queue_entry_release(&a);
	/* not an id at all: never a path outside the queue */
	CHECK_INT(queue_lock(q, "../../etc/passwd", &a, &err), -1);
	queue_entry_release(&a);
}

/* --- give up, retry, delete -------------------------------------------- */

static void
test_give_up_retry_delete(struct queue *q)
{
	char id[QUEUE_ID_LEN + 1];
	struct queue_entry e, *v;
	const struct queue_entry *g;
	struct error err;
	size_t n;

	CHECK_INT(add_simple(q, "a@x.test", "b@y.test", NULL, "m\r\n", id), 0);
	CHECK_INT(queue_lock(q, id, &e, &err), 1);
	CHECK_INT(queue_note_attempt(&e, 1000, "451 later", &err), 0);
	CHECK_INT(
		queue_give_up(q, &e, 5000, "550 5.1.1 no such user", &err), 0);
	CHECK_INT(e.fd, -1);
	g = list_one(q, 0, id, &v, &n);
	CHECK(g == NULL);
	queue_entries_release(v, n);
	g = list_one(q, 1, id, &v, &n);
	CHECK(g && g->failed == 1 && g->attempts == 1);
	CHECK(g && g->last_error &&
		strcmp(g->last_error, "550 5.1.1 no such user") == 0);
	queue_entries_release(v, n);
	/* a failed entry is not sent */
	CHECK_INT(queue_lock(q, id, &e, &err), 0);
	queue_entry_release(&e);

	/* retry: back in the queue, attempts kept, the time noted */
	CHECK_INT(queue_retry(q, id, &err), 0);
	g = list_one(q, 0, id, &v, &n);
	CHECK(g && g->failed == 0 && g->attempts == 1 && g->retried > 0);
	queue_entries_release(v, n);
	g = list_one(q, 1, id, &v, &n);
	CHECK(g == NULL);
	queue_entries_release(v, n);
	/* retry of a queued one does nothing */
	CHECK_INT(queue_retry(q, id, &err), 0);
	g = list_one(q, 0, id, &v, &n);
	CHECK(g != NULL);
	queue_entries_release(v, n);
	error_clear(&err);
	CHECK_INT(queue_retry(q, "0123456789abcdef", &err), -1);
	CHECK_INT(err.cls, ERR_USAGE);

	/* delete: queued and failed */
	CHECK_INT(queue_delete(q, id, &err), 0);
	g = list_one(q, 0, id, &v, &n);
	CHECK(g == NULL);
	queue_entries_release(v, n);
	CHECK_INT(queue_delete(q, id, &err), -1);
	CHECK_INT(err.cls, ERR_USAGE);
	CHECK_INT(queue_delete(q, "../tmp", &err), -1);
	CHECK_INT(err.cls, ERR_USAGE);
	CHECK_INT(add_simple(q, "a@x.test", "b@y.test", NULL, "m\r\n", id), 0);
	CHECK_INT(queue_lock(q, id, &e, &err), 1);
	CHECK_INT(queue_give_up(q, &e, 5000, "expired", &err), 0);
	CHECK_INT(queue_delete(q, id, &err), 0);
	g = list_one(q, 1, id, &v, &n);
	CHECK(g == NULL);
	queue_entries_release(v, n);
}

/* --- selection ---------------------------------------------------------- */

/* A preset id: used as given; an id already taken (queued or failed) is
   not written again (1), so a report is made once. */
static void
test_preset_id(struct queue *q)
{
	static const char want[] = "00000001000010fa";
	char *rcpts[1] = {(char *)"b@y.test"};
	struct queue_entry e, *v;
	struct mem_src m;
	struct smtp_source src;
	struct error err;
	size_t n;

	memset(&e, 0, sizeof(e));
	e.account = (char *)"default";
	e.sender = (char *)"";
	e.rcpts = rcpts;
	e.nrcpts = 1;
	memcpy(e.id, want, sizeof(want));
	mem_source(&m, &src, "first\r\n", 7);
	error_clear(&err);
	CHECK_INT(queue_add(q, &e, &src, &err), 0);
	CHECK_STR(e.id, want);
	mem_source(&m, &src, "second\r\n", 8);
	CHECK_INT(queue_add(q, &e, &src, &err), 1);
	CHECK(list_one(q, 0, want, &v, &n) != NULL);
	CHECK(v && find(v, n, want) && find(v, n, want)->size == 7);
	queue_entries_release(v, n);
	/* taken in failed/ counts too */
	CHECK_INT(queue_lock(q, want, &e, &err), 1);
	CHECK_INT(queue_give_up(q, &e, 1, "given up", &err), 0);
	memset(&e, 0, sizeof(e));
	e.account = (char *)"default";
	e.sender = (char *)"";
	e.rcpts = rcpts;
	e.nrcpts = 1;
	memcpy(e.id, want, sizeof(want));
	mem_source(&m, &src, "third\r\n", 7);
	CHECK_INT(queue_add(q, &e, &src, &err), 1);
	CHECK(list_one(q, 0, want, &v, &n) == NULL);
	queue_entries_release(v, n);
	/* a tmp/ file left by a writer that died is no entry: the id is
	   written (the report a crash interrupted is made after all) */
	{
		static const char stale[] = "00000001000020fa";
		char path[sizeof(qdir) + 32];

		memcpy(e.id, stale, sizeof(stale));
		snprintf(path, sizeof(path), "%s/tmp/%s", qdir, stale);
		file_write(path, "half", 4, 0);
		mem_source(&m, &src, "whole\r\n", 7);
		CHECK_INT(queue_add(q, &e, &src, &err), 0);
		CHECK(list_one(q, 0, stale, &v, &n) != NULL);
		queue_entries_release(v, n);
		CHECK_INT(queue_delete(q, stale, &err), 0);
	}
	/* not an id: refused */
	memcpy(e.id, "../../etc/passwd", QUEUE_ID_LEN + 1);
	CHECK_INT(queue_add(q, &e, &src, &err), -1);
	CHECK_INT(queue_delete(q, want, &err), 0);
}

static void
test_match(struct queue *q)
{
	char id[QUEUE_ID_LEN + 1], up[8];
	struct queue_entry e;
	struct queue_select sel;
	struct error err;
	size_t i;

	CHECK_INT(add_simple(q, "Alice@Example.org", "bob@example.net",
			  "carol@EXAMPLE.com", "m\r\n", id),
		0);
	CHECK_INT(queue_lock(q, id, &e, &err), 1);
	CHECK_INT(queue_match(&e, NULL), 1);
	memset(&sel, 0, sizeof(sel));
	CHECK_INT(queue_match(&e, &sel), 1);
	for (i = 0; i < 6; i++) /* id digits, as typed in upper case */
		up[i] = (char)(e.id[10 + i] >= 'a' ? e.id[10 + i] - 32
						   : e.id[10 + i]);
	up[6] = '\0';
	sel.id = up;
	CHECK_INT(queue_match(&e, &sel), 1);
	sel.id = "zz";
	CHECK_INT(queue_match(&e, &sel), 0);
	sel.id = NULL;
	sel.rcpt = "CAROL@example";
	CHECK_INT(queue_match(&e, &sel), 1);
	sel.rcpt = "dave";
	CHECK_INT(queue_match(&e, &sel), 0);
	sel.rcpt = NULL;
	sel.sender = "alice@EXAMPLE";
	CHECK_INT(queue_match(&e, &sel), 1);
	sel.sender = "bob";
	CHECK_INT(queue_match(&e, &sel), 0);
	sel.sender = "example.org";
	sel.rcpt = "bob@";
	CHECK_INT(queue_match(&e, &sel), 1);
	sel.rcpt = "nobody";
	CHECK_INT(queue_match(&e, &sel), 0);
	CHECK_INT(queue_remove(q, &e, &err), 0);
}

/* --- tmp/ cleanup -------------------------------------------------------- */

static void
test_clean_tmp(struct queue *q)
{
	struct timespec old[2];
	char dead[4300], held[4300], young[4300];
	struct stat st;
	int fd;

	entry_path(dead, sizeof(dead), "tmp/", "1111111111111111");
	entry_path(held, sizeof(held), "tmp/", "2222222222222222");
	entry_path(young, sizeof(young), "tmp/", "3333333333333333");
	file_write(dead, "x", 1, 0);
	file_write(held, "x", 1, 0);
	file_write(young, "x", 1, 0);
	old[0].tv_sec = old[1].tv_sec = time(NULL) - 120;
	old[0].tv_nsec = old[1].tv_nsec = 0;
	CHECK(utimensat(AT_FDCWD, dead, old, 0) == 0);
	CHECK(utimensat(AT_FDCWD, held, old, 0) == 0);
	/* a writer still at work holds its lock */
	fd = open(held, O_RDONLY);
	CHECK(fd >= 0 && flock(fd, LOCK_EX) == 0);
	queue_clean_tmp(q);
	CHECK(stat(dead, &st) < 0 && errno == ENOENT);
	CHECK(stat(held, &st) == 0);
	CHECK(stat(young, &st) == 0);
	close(fd);
	unlink(held);
	unlink(young);
}

int
main(void)
{
	const char *tmp = getenv("TMPDIR");
	struct queue q;
	struct error err;

	snprintf(test_dir, sizeof(test_dir), "%s/test_queue.XXXXXX",
		tmp && *tmp ? tmp : "/tmp");
	if (mkdtemp(test_dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(qdir, sizeof(qdir), "%s/a/b/queue", test_dir);
	umask(022);
	test_open();
	if (queue_open(&q, qdir, 1, &err) < 0) {
		fprintf(stderr, "queue_open: %s\n", err.text);
		return 1;
	}
	test_round_trip(&q);
	test_null_sender_format(&q);
	test_refuse_line_breaks(&q);
	test_source_error(&q);
	test_reader(&q);
	test_attempts(&q);
	test_unreadable(&q);
	test_list(&q);
	test_locks(&q);
	test_give_up_retry_delete(&q);
	test_match(&q);
	test_preset_id(&q);
	test_clean_tmp(&q);
	queue_close(&q);
	nftw(test_dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return check_finish();
}
