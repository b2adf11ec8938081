/*
 * flush.c - what happens to queued messages: kept after a temporary
 * failure, sent by a queue run or by the next successful send, given up
 * (moved to failed/ with a report to the sender) after a permanent
 * failure or queue_lifetime, listed, deleted and retried by hand.
 *
 * A queue run takes one session per account and sends all of that
 * account's entries through it, each under its lock; reports made on the
 * way (bounces) are queued and sent in the same session.
 */
#include "autoconf.h"

#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "bounce.h"
#include "buf.h"
#include "flush.h"
#include "net.h"
#include "xmalloc.h"

#define QUOTE_MAX 1024
/* The most of a failed message's header a report quotes. */
#define FLUSH_HEADER_MAX (64 * 1024)
/* New sessions a queue run opens for one account after one ended early. */
#define FLUSH_REOPEN_MAX 3

static const char *
quote(char *dst, const char *s)
{
	return log_escape(dst, QUOTE_MAX, s, strlen(s));
}

/* ---- where the queue is ------------------------------------------------ */

static const char *
flush_login(void)
{
	struct passwd *pw = getpwuid(getuid());

	return pw ? pw->pw_name : NULL;
}

/* queue_dir with %U (the login name) and %% expanded. */
static char *
flush_expand_dir(const struct account *acct, struct error *err)
{
	char qn[QUOTE_MAX], qd[QUOTE_MAX];
	const char *p, *user;
	struct buf b;

	buf_init(&b, (size_t)-1);
	for (p = acct->queue_dir; *p; p++) {
		if (*p != '%') {
			buf_addch(&b, *p);
			continue;
		}
		if (p[1] == '%') {
			buf_addch(&b, '%');
		} else if (p[1] == 'U' && (user = flush_login()) != NULL) {
			buf_addstr(&b, user);
		} else {
			error_set(err, ERR_CONFIG,
				"account '%s': queue_dir '%s': only %%U and "
				"%%%% may follow a '%%'",
				quote(qn, acct->name),
				quote(qd, acct->queue_dir));
			buf_release(&b);
			return NULL;
		}
		p++;
	}
	return buf_detach(&b, NULL);
}

char *
flush_queue_dir(const struct account *acct, struct error *err)
{
	const char *xdg = getenv("XDG_STATE_HOME"), *home;
	struct buf b;

	if (acct && acct->queue_dir) {
		char qn[QUOTE_MAX], qd[QUOTE_MAX];

		/* Relative would mean wherever the caller happens to run. */
		if (acct->queue_dir[0] == '/')
			return flush_expand_dir(acct, err);
		error_set(err, ERR_CONFIG,
			"account '%s': queue_dir '%s' must be an absolute path",
			quote(qn, acct->name), quote(qd, acct->queue_dir));
		return NULL;
	}
	buf_init(&b, (size_t)-1);
	if (xdg && xdg[0] == '/') {
		buf_printf(&b, "%s/postie/queue", xdg);
	} else if ((home = config_home()) != NULL) {
		buf_printf(&b, "%s/.local/state/postie/queue", home);
	} else {
		error_set(err, ERR_CONFIG,
			"no home directory for the queue: set queue_dir");
		buf_release(&b);
		return NULL;
	}
	return buf_detach(&b, NULL);
}

int
flush_should_queue(
	const struct account *acct, int override, const struct error *why)
{
	if (why->cls != ERR_TEMP)
		return 0;
	return override > 0 || (override == 0 && acct->queue);
}

/* ---- a message kept ---------------------------------------------------- */

int
flush_enqueue(const struct account *acct, struct queue_entry *e,
	const struct smtp_source *src, const struct error *why,
	const char *name, struct error *err)
{
	char qn[QUOTE_MAX];
	struct queue q;
	char *dir;
	int r;

	dir = flush_queue_dir(acct, err);
	if (!dir)
		return -1;
	r = queue_open(&q, dir, 1, err);
	free(dir);
	if (r < 0)
		return -1;
	e->last_attempt = time(NULL);
	e->last_error = (char *)why->text;
	r = queue_add(&q, e, src, err);
	e->last_error = NULL;
	queue_close(&q);
	if (r < 0)
		return -1;
	fprintf(stderr,
		"postie: %s%squeued as %s: %s; it will be sent by 'postie -q' "
		"or with the next message\n",
		name ? quote(qn, name) : "", name ? ": " : "", e->id,
		why->text);
	return 0;
}

/* ---- a queue run ------------------------------------------------------- */

/* What one run has done, for its report and exit code. */
struct flush_run {
	int quiet;        /* a drain: say nothing without -v */
	size_t tried;     /* entries taken */
	size_t kept;      /* left in the queue after a temporary failure */
	struct error bad; /* the worst problem that is not an entry's own
			     temporary failure (ERR_NONE: none) */
	char **fresh;     /* reports queued during the run, still to send */
	size_t nfresh;
	char **untried; /* entries whose session ended before their turn */
	size_t nuntried;
	int quit; /* QUIT goes with the last message's end of data */
};

static void flush_say(const struct flush_run *run, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
flush_say(const struct flush_run *run, const char *fmt, ...)
{
	va_list ap;

	if (run->quiet && log_verbose() == 0)
		return;
	va_start(ap, fmt);
	fputs("postie: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static void
flush_note_bad(struct flush_run *run, const struct error *err)
{
	if (run->bad.cls == ERR_NONE)
		run->bad = *err;
}

/* The log line for an entry's attempt (the account's logfile, syslog). */
static void
flush_log(const struct session *s, const struct queue_entry *e,
	const struct error *outcome)
{
	const struct account *acct = s->acct;
	struct log_record rec = {0};
	struct error lerr;

	if (!acct->logfile && !acct->syslog)
		return;
	rec.host = acct->host;
	rec.tls = acct->tls;
	rec.auth = s->have_smtp && s->smtp.authenticated;
	rec.user = acct->user;
	rec.from = e->sender;
	rec.rcpts = (const char *const *)e->rcpts;
	rec.nrcpts = e->nrcpts;
	rec.mailsize = (long long)e->size;
	rec.outcome = outcome;
	rec.smtp_code = s->have_smtp ? s->smtp.final_code : 0;
	rec.smtp_text = s->have_smtp ? s->smtp.final_text : NULL;
	error_clear(&lerr);
	if (log_write_record(&rec, acct->logfile, acct->syslog, &lerr) < 0)
		fprintf(stderr, "postie: %s\n", lerr.text);
}

/* A report in memory as a source for queue_add (no dot-stuffing). */
struct flush_mem {
	const char *data;
	size_t len, off;
};

static ssize_t
flush_mem_read(void *ctx, char *buf, size_t cap, struct error *err)
{
	struct flush_mem *m = ctx;
	size_t n = m->len - m->off < cap ? m->len - m->off : cap;

	(void)err;
	memcpy(buf, m->data + m->off, n);
	m->off += n;
	return (ssize_t)n;
}

static void
flush_mem_rewind(void *ctx, int dotstuff)
{
	struct flush_mem *m = ctx;

	(void)dotstuff; /* queue_add reads without */
	m->off = 0;
}

static const char *
domain_or_fqdn(const char *addr, const struct account *acct)
{
	const char *at = strrchr(addr, '@');

	if (at && at[1])
		return at + 1;
	return acct->domain ? acct->domain : net_fqdn();
}

/*
 * The id of the report on entry id: the same time a microsecond later,
 * the same random digits. Derived, so that giving the entry up again
 * (after a crash between the report and the move to failed/) finds the
 * report already made; later, so that a queue run takes the entry before
 * its report and never sends a report whose entry it then reports again.
 */
static void
flush_report_id(const char *id, char *out)
{
	char usec[6];
	unsigned long n;

	memcpy(usec, id + 8, 5);
	usec[5] = '\0';
	n = strtoul(usec, NULL, 16);
	memcpy(out, id, QUEUE_ID_LEN + 1);
	/* Microseconds stop at 999999 (0xf423f): +1 stays in 5 digits.
	   snprintf's NUL lands on the first random digit: put it back. */
	snprintf(out + 8, 6, "%05lx", n + 1);
	out[13] = id[13];
}

/*
 * The report on a given-up entry, queued with the null sender to the
 * entry's sender through the same account; its id joins run->fresh so
 * the run sends it too.
 */
static int
flush_bounce(struct flush_run *run, const struct session *s,
	const struct queue *q, const struct queue_entry *e,
	const struct smtp_rcpt *replies, const char *reason, int expired,
	struct error *err)
{
	struct bounce_rcpt *br = xcalloc(e->nrcpts, sizeof(*br));
	struct queue_entry be = {0};
	struct smtp_source src = {0};
	struct bounce b = {0};
	struct flush_mem mem = {0};
	struct buf header, out;
	char *rcpt[1], *rcpt_ascii[1];
	int r = -1;

	buf_init(&header, FLUSH_HEADER_MAX);
	buf_init(&out, (size_t)-1);
	if (queue_read_header(e, &header, FLUSH_HEADER_MAX, err) < 0)
		goto out;
	for (size_t i = 0; i < e->nrcpts; i++) {
		br[i].addr = e->rcpts[i];
		if (replies && replies[i].reply && replies[i].code >= 500)
			br[i].diagnostic = replies[i].reply;
		else if (!expired && s->have_smtp && s->smtp.final_code >= 500)
			br[i].diagnostic = s->smtp.final_text;
	}
	b.from = e->sender;
	b.to = e->sender;
	b.reporting_mta = s->acct->domain ? s->acct->domain : net_fqdn();
	b.remote_mta = expired ? NULL : s->acct->host;
	b.queue_id = e->id;
	b.arrival = e->created;
	b.last_attempt = e->last_attempt;
	b.now = time(NULL);
	b.expired = expired;
	b.reason = reason;
	b.rcpts = br;
	b.nrcpts = e->nrcpts;
	b.header = header.data;
	b.header_len = header.len;
	b.msgid_domain = domain_or_fqdn(e->sender, s->acct);
	if (bounce_compose(&b, &out, err) < 0)
		goto out;
	mem.data = out.data;
	mem.len = out.len;
	src.read = flush_mem_read;
	src.rewind = flush_mem_rewind;
	src.ctx = &mem;
	src.size = (off_t)out.len;
	bounce_scan_8bit(out.data, out.len, &src.has_8bit, &src.header_8bit);
	flush_report_id(e->id, be.id);
	be.account = e->account;
	be.sender = "";
	rcpt[0] = e->sender;
	rcpt_ascii[0] = e->sender_ascii;
	be.rcpts = rcpt;
	be.rcpts_ascii = rcpt_ascii;
	be.nrcpts = 1;
	be.has_8bit = src.has_8bit;
	be.header_8bit = src.header_8bit;
	/* 1: a crash after the report was queued and before the entry
	   moved left it there; it is not made twice. */
	if (queue_add((struct queue *)q, &be, &src, err) < 0)
		goto out;
	run->fresh =
		xreallocarray(run->fresh, run->nfresh + 1, sizeof(*run->fresh));
	run->fresh[run->nfresh++] = xstrdup(be.id);
	r = 0;
out:
	buf_release(&header);
	buf_release(&out);
	free(br);
	return r;
}

/*
 * Give e up: the report first (a crash between the two then leaves the
 * entry queued and the report with it, never the entry gone unreported),
 * then the move to failed/. e is unlocked after.
 */
static void
flush_give_up(struct flush_run *run, const struct session *s,
	const struct queue *q, struct queue_entry *e,
	const struct smtp_rcpt *replies, const char *reason, int expired)
{
	char qs[QUOTE_MAX], id[QUEUE_ID_LEN + 1], *to = NULL;
	struct error err;

	error_clear(&err);
	memcpy(id, e->id, sizeof(id));
	if (e->sender[0])
		to = xstrdup(e->sender); /* e is released by the move */
	if (to && flush_bounce(run, s, q, e, replies, reason, expired, &err) <
			  0) {
		flush_say(run, "%s: cannot queue the report to <%s>: %s", id,
			quote(qs, to), err.text);
		free(to);
		to = NULL;
	}
	if (queue_give_up(q, e, time(NULL), reason, &err) < 0) {
		flush_say(run, "%s: %s", id, err.text);
		flush_note_bad(run, &err);
	} else if (to) {
		flush_say(run, "%s: given up: %s; a report went to <%s>", id,
			reason, quote(qs, to));
	} else {
		flush_say(run, "%s: given up: %s", id, reason);
	}
	free(to);
}

/* Past queue_lifetime, counted from when it was queued, or from when it
   was last moved back from failed/ by hand (--queue-retry). */
static int
flush_expired(const struct queue_entry *e, const struct account *acct)
{
	time_t since = e->retried > e->created ? e->retried : e->created;

	return time(NULL) - since > (time_t)acct->queue_lifetime;
}

static void
flush_expire(struct flush_run *run, const struct session *s,
	const struct queue *q, struct queue_entry *e)
{
	char reason[QUEUE_ERROR_MAX + 128];

	snprintf(reason, sizeof(reason),
		"not delivered within queue_lifetime (%u s)%s%.*s",
		s->acct->queue_lifetime, e->last_error ? "; last error: " : "",
		QUEUE_ERROR_MAX, e->last_error ? e->last_error : "");
	flush_give_up(run, s, q, e, NULL, reason, 1);
}

/* A failure of the message itself, that a later attempt cannot mend. */
static int
flush_permanent(const struct error *err)
{
	return err->cls == ERR_RCPT || err->cls == ERR_UNAVAILABLE ||
	       err->cls == ERR_DATA || err->cls == ERR_USAGE;
}

/* The entry's envelope for smtp_send; rcpts is calloc'ed by the caller. */
static void
flush_envelope(const struct queue_entry *e, struct smtp_envelope *env,
	struct smtp_rcpt *rcpts)
{
	memset(env, 0, sizeof(*env));
	env->sender = e->sender;
	env->sender_ascii = e->sender_ascii;
	for (size_t i = 0; i < e->nrcpts; i++) {
		rcpts[i].addr = e->rcpts[i];
		rcpts[i].addr_ascii = e->rcpts_ascii[i];
	}
	env->rcpts = rcpts;
	env->nrcpts = e->nrcpts;
	env->body = e->body;
	env->dsn_notify = e->dsn_notify;
	env->dsn_ret = e->dsn_ret;
	env->dsn_envid = e->dsn_envid;
}

/* Leave e in the queue after a temporary failure, with the attempt
   recorded; e is unlocked after. */
static void
flush_keep(
	struct flush_run *run, struct queue_entry *e, const struct error *why)
{
	struct error err;

	error_clear(&err);
	run->kept++;
	if (queue_note_attempt(e, time(NULL), why->text, &err) < 0) {
		flush_say(run, "%s: %s", e->id, err.text);
		flush_note_bad(run, &err);
	}
	/* Said with -v only: a queue run over an unreachable server is not
	   news, and cron would mail it every time (-q's last line says how
	   many stay). */
	if (log_verbose() > 0)
		flush_say(run, "%s: stays queued (attempt %u): %s", e->id,
			e->attempts, why->text);
	queue_unlock(e);
}

/* A refusal of recipients is told by the first one refused, in the
   server's words, not only by the count. */
static void
flush_first_refusal(struct error *err, const struct smtp_rcpt *rcpts, size_t n)
{
	const struct smtp_rcpt *r = smtp_first_refused(rcpts, n);
	char q[QUOTE_MAX];

	if (r)
		error_set(err, err->cls, "recipient <%s>: server said: %s",
			quote(q, r->addr), r->reply);
}

/*
 * A locked entry made ready to send: the envelope and source smtp_send
 * reads. Allocated whole (the source points into it), so that the next
 * entry can be ready, its commands pipelined, while one is sent.
 */
struct flush_msg {
	struct queue_entry e;
	struct smtp_rcpt *rcpts;
	size_t nrcpts;
	struct smtp_envelope env;
	struct queue_reader reader;
	struct smtp_source src;
};

static struct flush_msg *
flush_msg_new(const struct queue_entry *e)
{
	struct flush_msg *m = xcalloc(1, sizeof(*m));

	m->e = *e; /* the lock goes with the descriptor */
	m->nrcpts = e->nrcpts;
	m->rcpts = xcalloc(m->nrcpts, sizeof(*m->rcpts));
	flush_envelope(&m->e, &m->env, m->rcpts);
	queue_source(&m->e, &m->reader, &m->src);
	return m;
}

static void
flush_msg_free(struct flush_msg *m)
{
	smtp_rcpts_release(m->rcpts, m->nrcpts);
	free(m->rcpts);
	free(m);
}

/* Not tried: the session ended before its turn. It is unlocked with no
   record (there is nothing new to say) and left for another session. */
static void
flush_untried(struct flush_run *run, struct queue_entry *e)
{
	run->untried = xreallocarray(
		run->untried, run->nuntried + 1, sizeof(*run->untried));
	run->untried[run->nuntried++] = xstrdup(e->id);
	queue_unlock(e);
}

/*
 * Send m through s, with after behind its end of data; then the entry
 * is removed, given up or kept. m is freed.
 */
static void
flush_send(struct flush_run *run, struct session *s, const struct queue *q,
	struct flush_msg *m, const struct smtp_after *after)
{
	struct queue_entry *e = &m->e;
	char id[QUEUE_ID_LEN + 1];
	struct error err;

	error_clear(&err);
	memcpy(id, e->id, sizeof(id));
	if (!s->have_smtp || !smtp_ready(&s->smtp)) {
		flush_untried(run, e);
	} else if (smtp_send(&s->smtp, &m->env, &m->src, after, &err) == 0) {
		flush_log(s, e, &err);
		/* Removed before anything more is read or sent: a crash in
		   between leaves a copy whose acceptance the server never
		   saw acknowledged, the only case in which one goes twice. */
		if (queue_remove(q, e, &err) < 0) {
			flush_say(run, "%s: sent, but %s", id, err.text);
			flush_note_bad(run, &err);
		} else if (log_verbose() > 0) {
			flush_say(run, "%s: sent", id);
		}
	} else {
		flush_log(s, e, &err);
		flush_first_refusal(&err, m->rcpts, m->nrcpts);
		if (flush_permanent(&err))
			flush_give_up(run, s, q, e, m->rcpts, err.text, 0);
		else
			flush_keep(run, e, &err);
	}
	flush_msg_free(m);
}

/*
 * Lock entry id and make it ready for s: NULL when it is not to be sent
 * now -- held by another run or gone, unreadable, expired (given up
 * here), or the session is not there (kept with why when it could not
 * be had, else left untried).
 */
static struct flush_msg *
flush_take(struct flush_run *run, struct session *s, const struct queue *q,
	const char *id, const struct error *why)
{
	struct queue_entry e;
	struct error lerr;
	int r;

	error_clear(&lerr);
	r = queue_lock(q, id, &e, &lerr);
	if (r <= 0) {
		if (r < 0)
			flush_say(run, "%s: %s", id, lerr.text);
		queue_entry_release(&e);
		return NULL;
	}
	if (flush_expired(&e, s->acct)) {
		run->tried++;
		flush_expire(run, s, q, &e);
	} else if (s->have_smtp && smtp_ready(&s->smtp)) {
		run->tried++;
		return flush_msg_new(&e);
	} else if (why->cls != ERR_NONE) {
		run->tried++;
		flush_keep(run, &e, why); /* the session could not be had */
	} else {
		flush_untried(run, &e);
	}
	return NULL;
}

/* The ids (sorted, as listed) of v's entries through account name that
   sel takes: a new NULL-terminated array. */
static size_t
flush_pick(const struct queue_entry *v, size_t n, const char *name,
	const struct queue_select *sel, char ***ids)
{
	size_t k = 0;

	*ids = xcalloc(n + 1, sizeof(**ids));
	for (size_t i = 0; i < n; i++)
		if (!v[i].unreadable && strcmp(v[i].account, name) == 0 &&
			queue_match(&v[i], sel))
			(*ids)[k++] = xstrdup(v[i].id);
	return k;
}

static void
flush_free_ids(char **ids, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
}

/*
 * Every id, each message's commands pipelined with the previous one's
 * end of data (RFC 2920: one round trip a message), QUIT with the last
 * when run->quit says so; then the reports queued meanwhile (a report
 * goes with the null sender and is never reported on).
 */
static void
flush_ids(struct flush_run *run, struct session *s, const struct queue *q,
	char **ids, size_t n, const struct error *why)
{
	struct flush_msg *cur = NULL, *next;
	size_t i = 0;

	while (cur || i < n) {
		struct smtp_after after = {0};

		if (!cur) {
			cur = flush_take(run, s, q, ids[i++], why);
			continue;
		}
		next = NULL;
		while (!next && i < n)
			next = flush_take(run, s, q, ids[i++], why);
		if (next) {
			after.env = &next->env;
			after.src = &next->src;
		} else {
			after.quit = run->quit;
		}
		flush_send(run, s, q, cur, &after);
		cur = next;
	}
	while (run->nfresh > 0) {
		char **fresh = run->fresh;
		size_t nfresh = run->nfresh;

		run->fresh = NULL;
		run->nfresh = 0;
		flush_ids(run, s, q, fresh, nfresh, why);
		flush_free_ids(fresh, nfresh);
	}
}

int
flush_has_queued(const struct account *acct)
{
	struct queue_entry *v;
	struct error err;
	struct queue q;
	size_t n = 0;
	char *dir;
	int found = 0;

	error_clear(&err);
	dir = flush_queue_dir(acct, &err);
	if (!dir)
		return 0;
	if (queue_open(&q, dir, 0, &err) == 0) {
		if (queue_list(&q, 0, &v, &n, &err) == 0) {
			for (size_t i = 0; i < n && !found; i++)
				found = !v[i].unreadable &&
					strcmp(v[i].account, acct->name) == 0;
			queue_entries_release(v, n);
		}
		queue_close(&q);
	}
	free(dir);
	return found;
}

void
flush_drain(struct session *s)
{
	struct flush_run run = {0};
	struct queue_select sel = {0};
	struct queue_entry *v;
	struct error err;
	struct queue q;
	char *dir, **ids;
	size_t n, k;

	error_clear(&err);
	error_clear(&run.bad);
	run.quiet = 1;
	run.quit = 1;
	dir = flush_queue_dir(s->acct, &err);
	if (!dir)
		return;
	if (queue_open(&q, dir, 0, &err) == 0) {
		if (queue_list(&q, 0, &v, &n, &err) == 0) {
			k = flush_pick(v, n, s->acct->name, &sel, &ids);
			queue_entries_release(v, n);
			error_clear(&err);
			flush_ids(&run, s, &q, ids, k, &err);
			flush_free_ids(ids, k);
		}
		queue_close(&q);
	}
	/* What the session did not reach waits for the next one. */
	flush_free_ids(run.untried, run.nuntried);
	free(dir);
}

/* One account's entries in dir: one session for all of them. */
static void
flush_account(struct flush_run *run, const struct account *acct,
	const struct queue *q, char **ids, size_t n)
{
	struct session s;
	struct error err;
	int opened, again = 0;

	memset(&s, 0, sizeof(s));
	error_clear(&err);
	opened = config_check_account(acct, &err) == 0 &&
		 session_start(&s, acct, &err) == 0;
	if (!opened) {
		if (err.cls != ERR_TEMP)
			flush_note_bad(run, &err);
		flush_say(run, "account '%s': %s", acct->name, err.text);
	}
	flush_ids(run, &s, q, ids, n, &err);
	/* A session that ended early (a partial refusal after DATA's 354
	   can only be undone by hanging up; a report queued after QUIT went)
	   leaves entries untried: a new session takes them, a few times. */
	while (opened && run->nuntried > 0 && again++ < FLUSH_REOPEN_MAX) {
		char **left = run->untried;
		size_t nleft = run->nuntried;

		run->untried = NULL;
		run->nuntried = 0;
		session_end(&s);
		error_clear(&err);
		opened = session_start(&s, acct, &err) == 0;
		if (!opened)
			flush_say(
				run, "account '%s': %s", acct->name, err.text);
		flush_ids(run, &s, q, left, nleft, &err);
		flush_free_ids(left, nleft);
	}
	run->kept += run->nuntried;
	flush_free_ids(run->untried, run->nuntried);
	run->untried = NULL;
	run->nuntried = 0;
	session_end(&s);
}

/* The account named name in cfg, or NULL. */
static const struct account *
flush_find_account(const struct config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->naccounts; i++)
		if (strcmp(cfg->accounts[i].name, name) == 0)
			return &cfg->accounts[i];
	return NULL;
}

/* Whether an entry before v[i] that sel takes has v[i]'s account. */
static int
flush_seen(
	const struct queue_entry *v, size_t i, const struct queue_select *sel)
{
	for (size_t j = 0; j < i; j++)
		if (!v[j].unreadable &&
			strcmp(v[j].account, v[i].account) == 0 &&
			queue_match(&v[j], sel))
			return 1;
	return 0;
}

/* Every queued entry in q that sel takes, account by account. */
static void
flush_dir(struct flush_run *run, const struct config *cfg,
	const struct queue *q, const struct queue_select *sel)
{
	struct queue_entry *v;
	struct error err;
	char qs[QUOTE_MAX];
	size_t n;

	error_clear(&err);
	queue_clean_tmp(q);
	if (queue_list(q, 0, &v, &n, &err) < 0) {
		flush_say(run, "%s", err.text);
		flush_note_bad(run, &err);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const struct account *acct;
		char **ids;
		size_t k;

		if (v[i].unreadable) {
			flush_say(run, "%s: unreadable, left alone: %s",
				v[i].id, v[i].unreadable);
			continue;
		}
		/* The first entry of each account starts its session. */
		if (!queue_match(&v[i], sel) || flush_seen(v, i, sel))
			continue;
		acct = flush_find_account(cfg, v[i].account);
		k = flush_pick(v, n, v[i].account, sel, &ids);
		if (!acct) {
			error_set(&err, ERR_CONFIG,
				"%s: account '%s' is not in %s; left in the "
				"queue",
				v[i].id, quote(qs, v[i].account), cfg->path);
			flush_say(run, "%s", err.text);
			flush_note_bad(run, &err);
			run->kept += k;
		} else {
			flush_account(run, acct, q, ids, k);
		}
		flush_free_ids(ids, k);
	}
	queue_entries_release(v, n);
}

/* ---- the modes --------------------------------------------------------- */

/* -q without a configuration file: 0 when dir holds no entry, else the
   configuration error, naming how many wait. */
static int
flush_waiting(const char *dir, struct error *err)
{
	struct queue_entry *v;
	struct queue q;
	size_t n = 0;

	if (queue_open(&q, dir, 0, err) != 0)
		return err->cls == ERR_NONE ? 0 : -1;
	if (queue_list(&q, 0, &v, &n, err) == 0)
		queue_entries_release(v, n);
	queue_close(&q);
	if (n == 0)
		return err->cls == ERR_NONE ? 0 : -1;
	error_set(err, ERR_CONFIG,
		"-q: %zu %s in %s, but there is no configuration file to "
		"send %s with",
		n, n == 1 ? "entry waits" : "entries wait", dir,
		n == 1 ? "it" : "them");
	return -1;
}

/*
 * The queue directories to look in: each account's (usually one for all),
 * or the default when there is no configuration to read (mailq on a
 * machine where only the system file exists, or none). A new array.
 */
static size_t
flush_dirs(const struct config *cfg, char ***dirs, struct error *err)
{
	size_t n = 0;
	char *d;

	*dirs = xcalloc(cfg ? cfg->naccounts + 1 : 1, sizeof(**dirs));
	for (size_t i = 0; cfg && i < cfg->naccounts; i++) {
		size_t k;

		d = flush_queue_dir(&cfg->accounts[i], err);
		if (!d)
			goto fail;
		for (k = 0; k < n && strcmp((*dirs)[k], d) != 0; k++)
			;
		if (k < n)
			free(d);
		else
			(*dirs)[n++] = d;
	}
	if (n == 0) {
		d = flush_queue_dir(NULL, err);
		if (!d)
			goto fail;
		(*dirs)[n++] = d;
	}
	return n;
fail:
	flush_free_ids(*dirs, n);
	*dirs = NULL;
	return (size_t)-1;
}

/* The configuration and the queue directories; without a configuration
   file (not with a broken one), the default directory and cfg->path
   NULL. */
static size_t
flush_start(const struct options *opt, struct config *cfg, char ***dirs,
	struct error *err)
{
	memset(cfg, 0, sizeof(*cfg));
	if (config_load(cfg, opt->config, err) == 0)
		return flush_dirs(cfg, dirs, err);
	/* A broken file is reported; no file at all is no queue_dir. */
	if (!config_none_found(err))
		return (size_t)-1;
	error_clear(err);
	return flush_dirs(NULL, dirs, err);
}

int
flush_run(const struct options *opt, struct error *err)
{
	struct queue_select sel = {
		opt->queue_id, opt->queue_rcpt, opt->queue_sender};
	struct flush_run run = {.quit = 1};
	struct config cfg;
	struct queue q;
	char **dirs;
	size_t n;
	int r;

	error_clear(&run.bad);
	n = flush_start(opt, &cfg, &dirs, err);
	if (n == (size_t)-1) {
		config_release(&cfg);
		return -1;
	}
	/* No configuration: an empty queue is nothing to do (a timer for a
	   user who never set postie up); entries need an account. */
	if (!cfg.path) {
		r = flush_waiting(dirs[0], err);
		flush_free_ids(dirs, n);
		return r;
	}
	for (size_t i = 0; i < n; i++) {
		r = queue_open(&q, dirs[i], 0, err);
		if (r < 0) {
			flush_say(&run, "%s", err->text);
			flush_note_bad(&run, err);
			error_clear(err);
		}
		if (r != 0)
			continue;
		flush_dir(&run, &cfg, &q, &sel);
		queue_close(&q);
	}
	flush_free_ids(dirs, n);
	config_release(&cfg);
	if (run.tried == 0 && log_verbose() > 0)
		flush_say(&run, "-q: nothing queued%s",
			sel.id || sel.rcpt || sel.sender ? " that -qI, -qR or "
							   "-qS selects"
							 : "");
	if (run.kept == 0 && run.bad.cls == ERR_NONE)
		return 0;
	error_set(err, run.bad.cls != ERR_NONE ? run.bad.cls : ERR_TEMP,
		"-q: %zu %s in the queue", run.kept,
		run.kept == 1 ? "entry stays" : "entries stay");
	return -1;
}

/* "12m": how long ago, in the largest unit that fits. */
static void
flush_age(char *out, size_t size, time_t since)
{
	long long a = (long long)(time(NULL) - since);

	if (a < 0)
		a = 0;
	if (a < 60)
		snprintf(out, size, "%llds", a);
	else if (a < 3600)
		snprintf(out, size, "%lldm", a / 60);
	else if (a < 86400)
		snprintf(out, size, "%lldh", a / 3600);
	else
		snprintf(out, size, "%lldd", a / 86400);
}

static void
flush_print_entry(struct buf *out, const struct queue_entry *e)
{
	char age[32], q[QUOTE_MAX];

	if (e->unreadable) {
		buf_printf(out, "%s  unreadable\n  error: %s\n", e->id,
			e->unreadable);
		return;
	}
	flush_age(age, sizeof(age), e->created);
	buf_printf(out, "%s  %s  %lld bytes  age %s  attempts %u\n", e->id,
		e->failed ? "failed" : "queued", (long long)e->size, age,
		e->attempts);
	buf_printf(out, "  from: <%s>\n", quote(q, e->sender));
	for (size_t i = 0; i < e->nrcpts; i++)
		buf_printf(out, "  to: <%s>\n", quote(q, e->rcpts[i]));
	if (e->last_error)
		buf_printf(out, "  last error: %s\n", e->last_error);
}

/* One directory's entries, queued or failed, appended to out. */
static int
flush_list_dir(const char *dir, int failed, struct buf *out, size_t *count,
	struct error *err)
{
	struct queue_entry *v;
	struct queue q;
	size_t n;
	int r;

	r = queue_open(&q, dir, 0, err);
	if (r != 0)
		return r < 0 ? -1 : 0;
	r = queue_list(&q, failed, &v, &n, err);
	queue_close(&q);
	if (r < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (out->len > 0)
			buf_addch(out, '\n');
		flush_print_entry(out, &v[i]);
	}
	*count += n;
	queue_entries_release(v, n);
	return 0;
}

int
flush_list(const struct options *opt, struct error *err)
{
	size_t n, queued = 0, failed = 0;
	struct config cfg;
	struct buf out;
	char **dirs;
	int r = 0;

	n = flush_start(opt, &cfg, &dirs, err);
	if (n == (size_t)-1) {
		config_release(&cfg);
		return -1;
	}
	buf_init(&out, (size_t)-1);
	for (size_t i = 0; i < n && r == 0; i++)
		r = flush_list_dir(dirs[i], 0, &out, &queued, err);
	for (size_t i = 0; i < n && r == 0; i++)
		r = flush_list_dir(dirs[i], 1, &out, &failed, err);
	if (r == 0 && queued + failed == 0)
		buf_addstr(&out, "Mail queue is empty\n");
	else if (r == 0)
		buf_printf(&out, "\n%zu queued, %zu failed\n", queued, failed);
	if (r == 0 && (fwrite(out.data, 1, out.len, stdout) != out.len ||
			      fflush(stdout) != 0)) {
		error_set(err, ERR_IO, "standard output: write error");
		r = -1;
	}
	buf_release(&out);
	flush_free_ids(dirs, n);
	config_release(&cfg);
	return r;
}

/* --queue-delete and --queue-retry: the first directory that has id. */
static int
flush_by_hand(const struct options *opt,
	int (*act)(const struct queue *, const char *, struct error *),
	struct error *err)
{
	struct config cfg;
	struct queue q;
	char **dirs, qs[QUOTE_MAX];
	size_t n;
	int r = -1;

	n = flush_start(opt, &cfg, &dirs, err);
	if (n == (size_t)-1) {
		config_release(&cfg);
		return -1;
	}
	error_set(err, ERR_USAGE, "%s: no queued or failed entry '%s'",
		opt->mode_name, quote(qs, opt->queue_id));
	for (size_t i = 0; i < n && r < 0 && err->cls == ERR_USAGE; i++) {
		struct error e;

		error_clear(&e);
		if (queue_open(&q, dirs[i], 0, &e) != 0) {
			if (e.cls != ERR_NONE)
				*err = e;
			continue;
		}
		r = act(&q, opt->queue_id, &e);
		queue_close(&q);
		if (r < 0 && e.cls != ERR_USAGE)
			*err = e;
	}
	flush_free_ids(dirs, n);
	config_release(&cfg);
	return r;
}

int
flush_delete(const struct options *opt, struct error *err)
{
	return flush_by_hand(opt, queue_delete, err);
}

int
flush_retry(const struct options *opt, struct error *err)
{
	struct options o = *opt;

	if (flush_by_hand(opt, queue_retry, err) < 0)
		return -1;
	o.queue_rcpt = o.queue_sender = NULL;
	return flush_run(&o, err);
}
