/*
 * fuzz_queue.c - the queue entry reader: the input is written as an entry
 * file in a private queue directory (queued, then failed/), and read the
 * ways a queue run does: queue_list, queue_lock, the message through
 * queue_source with and without dot-stuffing, queue_read_header,
 * queue_match, an attempt record appended. An entry that locks must give
 * back exactly its size in message bytes.
 */
#include "fuzz.h"

#include <fcntl.h>

#include "buf.h"
#include "log.h"
#include "queue.h"
#include "smtp.h"

#define FUZZ_ID "0123456789abcdef"

static struct queue fuzz_q;

static void
fuzz_queue_close(void)
{
	queue_close(&fuzz_q);
}

static void
fuzz_queue_write(const char *sub, const uint8_t *data, size_t size)
{
	char path[4200];
	int fd;

	snprintf(path, sizeof(path), "%s%s%s", sub, *sub ? "/" : "", FUZZ_ID);
	fd = openat(fuzz_q.dirfd, path,
		O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	FUZZ_ASSERT(fd >= 0);
	FUZZ_ASSERT(size == 0 || write(fd, data, size) == (ssize_t)size);
	close(fd);
}

static void
fuzz_queue_list(int failed)
{
	struct queue_entry *v = NULL;
	struct queue_select sel = {"0123", "example", "a"};
	struct error err;
	size_t n = 0, i;

	if (queue_list(&fuzz_q, failed, &v, &n, &err) == 0) {
		FUZZ_ASSERT(n == 1);
		for (i = 0; i < n; i++)
			queue_match(&v[i], &sel);
		queue_entries_release(v, n);
	}
}

static off_t
fuzz_queue_read(struct smtp_source *src, int dotstuff)
{
	struct error err;
	char chunk[777];
	ssize_t n;
	off_t total = 0;

	src->rewind(src->ctx, dotstuff);
	while ((n = src->read(src->ctx, chunk, sizeof(chunk), &err)) > 0)
		total += n;
	FUZZ_ASSERT(n == 0 || err.cls != ERR_NONE);
	return n == 0 ? total : -1;
}

static void
fuzz_queue_lock(void)
{
	struct queue_entry e;
	struct queue_reader r;
	struct smtp_source src;
	struct error err;
	struct buf hdr;
	off_t got;

	memset(&e, 0, sizeof(e));
	e.fd = -1;
	if (queue_lock(&fuzz_q, FUZZ_ID, &e, &err) != 1) {
		queue_entry_release(&e);
		return;
	}
	queue_source(&e, &r, &src);
	got = fuzz_queue_read(&src, 0);
	FUZZ_ASSERT(got == -1 || got == e.size);
	fuzz_queue_read(&src, 1);
	buf_init(&hdr, 1024 * 1024);
	queue_read_header(&e, &hdr, 64 * 1024, &err);
	buf_release(&hdr);
	queue_note_attempt(&e, 1700000000, "451 4.3.0 try\r\nagain", &err);
	queue_unlock(&e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct error err;
	char qdir[4200];

	if (fuzz_q.dir == NULL) {
		snprintf(qdir, sizeof(qdir), "%s/queue", fuzz_dir());
		FUZZ_ASSERT(queue_open(&fuzz_q, qdir, 1, &err) == 0);
		atexit(fuzz_queue_close);
	}
	fuzz_queue_write("", data, size);
	fuzz_queue_list(0);
	fuzz_queue_lock();
	unlinkat(fuzz_q.dirfd, FUZZ_ID, 0);
	fuzz_queue_write("failed", data, size);
	fuzz_queue_list(1);
	unlinkat(fuzz_q.dirfd, "failed/" FUZZ_ID, 0);
	return 0;
}
