/*
 * flush.h - the queue as a user meets it: a message kept after a
 * temporary failure, queue runs (-q, and the drain that rides on every
 * successful send), bounces for what is given up, the listing (-bp,
 * mailq), and entries deleted or retried by hand. queue.c keeps the
 * bytes; this file decides what happens to them.
 */
#ifndef POSTIE_FLUSH_H
#define POSTIE_FLUSH_H

#include "config.h"
#include "job.h"
#include "log.h"
#include "queue.h"
#include "session.h"
#include "smtp.h"

/*
 * acct's queue directory as a new string: queue_dir with %U (the login
 * name) expanded, or $XDG_STATE_HOME/postie/queue, or
 * ~/.local/state/postie/queue. ERR_CONFIG when neither is possible (no
 * home).
 */
char *flush_queue_dir(const struct account *acct, struct error *err);

/*
 * Whether a message that failed with why is to be queued: a temporary
 * failure (ERR_TEMP), with the queue on for acct (override: 1 --queue,
 * -1 --no-queue, 0 the account's queue key).
 */
int flush_should_queue(
	const struct account *acct, int override, const struct error *why);

/*
 * Keep a message that could not go now: e's envelope fields (account,
 * sender, rcpts, ascii forms, body, dsn_*, 8-bit flags) and src's data
 * become an entry with one attempt recorded (why), and stderr gets one
 * line: "postie: queued as ID: WHY; it will be sent by 'postie -q' or
 * with the next message" ("postie: NAME: queued as ..." when the message
 * has a name: --files). Returns 0 (the run may succeed), or -1 when the
 * queue cannot take it (err set; the caller reports why as well).
 */
int flush_enqueue(const struct account *acct, struct queue_entry *e,
	const struct smtp_source *src, const struct error *why,
	const char *name, struct error *err);

/* Whether acct has entries waiting (a send then keeps its session open
   for them instead of sending QUIT with its end of data). */
int flush_has_queued(const struct account *acct);

/*
 * After a message went through s: send acct's queued entries over the
 * same session (those another process holds are left). Quiet but for -v:
 * what happens is recorded in the entries and the log.
 */
void flush_drain(struct session *s);

/* -q, -qI, -qR, -qS, --queue-retry's run: see postie(1). */
int flush_run(const struct options *opt, struct error *err);
/* -bp, mailq: the listing on standard output. */
int flush_list(const struct options *opt, struct error *err);
/* --queue-delete ID */
int flush_delete(const struct options *opt, struct error *err);
/* --queue-retry ID: a failed entry back into the queue, then sent. */
int flush_retry(const struct options *opt, struct error *err);

#endif
