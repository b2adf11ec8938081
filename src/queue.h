/*
 * queue.h - the durable queue: messages that could not be submitted now,
 * kept on disk until a later run sends them or gives them up.
 *
 * The queue directory (queue_dir; mode 0700, made with any missing
 * parents) holds:
 *   ID         one entry a file (0600): the envelope, then the message
 *   tmp/ID     an entry being written, flock()ed by its writer
 *   failed/ID  entries given up (a permanent failure, or expired)
 * An entry appears under its name only whole: it is written to tmp/,
 * fsync()ed, rename()d into place and the directory fsync()ed, so a crash
 * at any instant leaves no entry or a whole one. After that only attempt
 * records are appended to it (see queue.c for the format); a record cut
 * short by a crash is ignored when read.
 *
 * Whoever sends an entry holds flock(LOCK_EX) on it and checks, once it
 * has the lock, that the name still leads to the file it opened: two
 * flushers never send one entry twice, and a flusher never sends an entry
 * that another has just delivered and removed.
 *
 * Knows the envelope and the bytes, not SMTP sessions or the config.
 */
#ifndef POSTIE_QUEUE_H
#define POSTIE_QUEUE_H

#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "buf.h"
#include "log.h"
#include "smtp.h"

/* An id: 16 hex digits, the time queued (8 for the seconds, 5 for the
   microseconds) and 3 random: ids sort by age. */
#define QUEUE_ID_LEN 16
/* The longest last-error text kept in a record (longer is cut). */
#define QUEUE_ERROR_MAX 512

struct queue {
	char *dir; /* the queue directory (owned) */
	int dirfd; /* open on dir, for the *at() calls and fsync */
};

struct queue_entry {
	char id[QUEUE_ID_LEN + 1];
	int failed;         /* 1: in failed/ */
	char *account;      /* the account it goes through */
	char *sender;       /* "" = the null sender <> */
	char *sender_ascii; /* NULL = sender */
	char **rcpts;       /* nrcpts recipients, as given */
	char **rcpts_ascii; /* each NULL = rcpts[i] */
	size_t nrcpts;
	enum smtp_body body;
	char *dsn_notify; /* NULL = none */
	char *dsn_ret;    /* NULL = none */
	char *dsn_envid;  /* NULL = none */
	time_t created;
	off_t size;      /* message bytes: CRLF lines, not dot-stuffed */
	int has_8bit;    /* as struct smtp_source's */
	int header_8bit; /* as struct smtp_source's */
	/* from the attempt records */
	unsigned attempts;
	time_t last_attempt; /* 0: never tried */
	char *last_error;    /* escaped, one line; NULL = none */
	time_t retried;      /* last moved back from failed/ by hand; 0 = never
				(a queue run may count the lifetime from here) */
	/* an entry that could not be read: why (the rest may be empty); the
	   entry is listed, never sent, never removed by a flush */
	char *unreadable;
	/* while locked (queue_lock); -1 otherwise */
	int fd;
	off_t data_off; /* where the message starts in the file */
};

/*
 * Open (and make, with missing parents, mode 0700) the queue directory
 * and its tmp/ and failed/. Refuses a queue directory that is not a
 * directory, is not owned by the real user, or that group or others may
 * enter (the messages are private): ERR_CONFIG with the chmod that fixes
 * it. create 0: do not make anything; a missing directory is then not an
 * error but an empty queue (returns 1, q left closed). Returns 0, 1 or
 * -1: ERR_CANTCREAT when it cannot be made, ERR_OS when it cannot be
 * opened.
 */
int queue_open(struct queue *q, const char *dir, int create, struct error *err);
void queue_close(struct queue *q);

/*
 * Write a new entry: e's envelope fields (account, sender, rcpts, body,
 * dsn_*, has_8bit, header_8bit; created is set to now) and the message
 * read from src with src->rewind(ctx, 0) first (no dot-stuffing) to its
 * end; e->size is set to the bytes read. The entry is whole on disk
 * (fsync, rename, fsync of the directory) before this returns; e->id is
 * filled. src->size is a hint: when it is not the byte count, the
 * source is read a second time. With e->last_error set, the entry is
 * written with one attempt record (e->last_attempt, e->last_error): the
 * failure that queued it. Errors: ERR_DATA for a CR, LF or NUL in
 * an envelope string or an envelope past its cap (16 MiB: thousands of
 * recipients), ERR_CANTCREAT / ERR_IO (disk full, ...) with nothing left
 * behind, or src's error. With e->id preset (QUEUE_ID_LEN hex digits;
 * else it must be empty) that id is used, and when an entry already has
 * it (queued, failed or being written) nothing is written and 1 is
 * returned: an entry derived from another is made once however often
 * that is tried.
 */
int queue_add(struct queue *q, struct queue_entry *e,
	const struct smtp_source *src, struct error *err);

/*
 * Read every entry's envelope and attempt records, queued (failed 0) or
 * failed/ (failed 1), without locking, sorted by id; an entry that cannot
 * be parsed is returned with unreadable set. *out is a new array of *n
 * entries (queue_entries_release frees it). Files in tmp/ are not
 * entries. ERR_OS when the directory cannot be read.
 */
int queue_list(const struct queue *q, int failed, struct queue_entry **out,
	size_t *n, struct error *err);
void queue_entries_release(struct queue_entry *v, size_t n);
void queue_entry_release(struct queue_entry *e);

/*
 * Open and lock the queued entry id (not failed/) for sending, and read
 * it into e (which owns the fd until queue_unlock). Returns 1 locked; 0
 * when another process holds it or it is gone (delivered or given up by
 * another flusher meanwhile); -1 with err set: unreadable (ERR_DATA,
 * e->unreadable set too) or a system error.
 */
int queue_lock(const struct queue *q, const char *id, struct queue_entry *e,
	struct error *err);
/* Release the lock and everything e holds. */
void queue_unlock(struct queue_entry *e);

/*
 * A source for smtp_send reading a locked entry's message: rewind(ctx,
 * dotstuff) starts over (dot-stuffing on the fly for DATA), size,
 * has_8bit and header_8bit come from the entry. r is the source's state;
 * it and e must outlive the source.
 */
struct queue_reader {
	const struct queue_entry *e;
	off_t off; /* bytes of the message consumed */
	int dotstuff;
	int at_line_start;
	char pending; /* a '.' owed before the next byte, or 0 */
};
void queue_source(
	struct queue_entry *e, struct queue_reader *r, struct smtp_source *src);

/*
 * The message's header section of a locked entry as stored (CRLF lines,
 * without the empty line that ends it), at most max bytes (cut at a line
 * end): what a bounce quotes. Appended to out. ERR_IO on read errors.
 */
int queue_read_header(const struct queue_entry *e, struct buf *out, size_t max,
	struct error *err);

/*
 * Record an attempt that failed for now on a locked entry: when and why
 * (text escaped and cut to QUEUE_ERROR_MAX), appended and fsync()ed;
 * e->attempts, last_attempt, last_error follow. ERR_IO on failure.
 */
int queue_note_attempt(
	struct queue_entry *e, time_t when, const char *why, struct error *err);

/* Delivered: remove the locked entry (then fsync the directory) and
   unlock it. ERR_OS on failure (the entry is then unlocked but stays). */
int queue_remove(
	const struct queue *q, struct queue_entry *e, struct error *err);

/*
 * Given up: record why (as queue_note_attempt), move the locked entry to
 * failed/ (rename, both directories fsync()ed) and unlock it.
 */
int queue_give_up(const struct queue *q, struct queue_entry *e, time_t when,
	const char *why, struct error *err);

/*
 * By hand (--queue-delete, --queue-retry): id names a queued or failed
 * entry (the whole id). Delete removes it; retry moves a failed entry
 * back to the queue (its attempts kept) and does nothing to a queued
 * one. Both lock the entry first. Errors: ERR_USAGE when no entry has
 * that id, ERR_TEMP when it is being sent right now, ERR_OS.
 */
int queue_delete(const struct queue *q, const char *id, struct error *err);
int queue_retry(const struct queue *q, const char *id, struct error *err);

/*
 * Remove files in tmp/ left by writers that died (their lock is free)
 * and older than a minute. Best effort, no errors.
 */
void queue_clean_tmp(const struct queue *q);

/*
 * Which entries a queue run takes (-qI, -qR, -qS; NULL = any): id holds
 * the substring, a recipient holds rcpt, the sender holds sender (ASCII
 * case-insensitive for the addresses). Unreadable entries never match.
 */
struct queue_select {
	const char *id;
	const char *rcpt;
	const char *sender;
};
int queue_match(const struct queue_entry *e, const struct queue_select *sel);

#endif
