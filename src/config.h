/*
 * config.h - the configuration file: msmtp's grammar and key names.
 *
 *   # comment
 *   defaults
 *   key value
 *   account NAME [: PARENT[,PARENT...]]
 *   key value
 *   account default : NAME
 *
 * "defaults" settings apply to every account defined after them; an account
 * inherits from its parents in order, then sets its own keys. Values may be
 * double-quoted (with \" and \\ escapes) to keep spaces; lines have no
 * length limit. Knows nothing of sockets or SMTP: it yields filled
 * struct account values that main turns into session parameters.
 */
#ifndef POSTIE_CONFIG_H
#define POSTIE_CONFIG_H

#include <stddef.h>

#include "log.h"

/* Bits of struct account.set: which keys were given (for inheritance). */
#define CONFIG_HOST                   (1ull << 0)
#define CONFIG_PORT                   (1ull << 1)
#define CONFIG_FROM                   (1ull << 2)
#define CONFIG_DOMAIN                 (1ull << 3)
#define CONFIG_TIMEOUT                (1ull << 4)
#define CONFIG_TLS                    (1ull << 5)
#define CONFIG_TLS_STARTTLS           (1ull << 6)
#define CONFIG_AUTH                   (1ull << 7)
#define CONFIG_USER                   (1ull << 8)
#define CONFIG_PASSWORD               (1ull << 9)
#define CONFIG_PASSWORDEVAL           (1ull << 10)
#define CONFIG_LOGFILE                (1ull << 11)
#define CONFIG_SYSLOG                 (1ull << 12)
#define CONFIG_TLS_TRUST_FILE         (1ull << 13)
#define CONFIG_TLS_FINGERPRINT        (1ull << 14)
#define CONFIG_TLS_CERTCHECK          (1ull << 15)
#define CONFIG_TLS_HOST_OVERRIDE      (1ull << 16)
#define CONFIG_TLS_PRIORITIES         (1ull << 17)
#define CONFIG_TLS_CERT_FILE          (1ull << 18)
#define CONFIG_TLS_KEY_FILE           (1ull << 19)
#define CONFIG_AUTH_PLAINTEXT         (1ull << 20)
#define CONFIG_ALIASES                (1ull << 21)
#define CONFIG_MAILDOMAIN             (1ull << 22)
#define CONFIG_FROM_FULL_NAME         (1ull << 23)
#define CONFIG_SET_FROM_HEADER        (1ull << 24)
#define CONFIG_SET_DATE_HEADER        (1ull << 25)
#define CONFIG_SET_MSGID_HEADER       (1ull << 26)
#define CONFIG_SET_TO_HEADER          (1ull << 27)
#define CONFIG_REMOVE_BCC_HEADERS     (1ull << 28)
#define CONFIG_UNDISCLOSED_RECIPIENTS (1ull << 29)
#define CONFIG_ALLOW_FROM_OVERRIDE    (1ull << 30)
#define CONFIG_DSN_NOTIFY             (1ull << 31)
#define CONFIG_DSN_RETURN             (1ull << 32)
#define CONFIG_QUEUE                  (1ull << 33)
#define CONFIG_QUEUE_DIR              (1ull << 34)
#define CONFIG_QUEUE_LIFETIME         (1ull << 35)
#define CONFIG_TLS_RESUME             (1ull << 36)

/* The values of set_from_header (auto|on|off) and of the auto|off keys. */
enum config_mode {
	CONFIG_MODE_OFF = 0,
	CONFIG_MODE_AUTO,
	CONFIG_MODE_ON,
};

#define CONFIG_TIMEOUT_DEFAULT 60
/* queue_lifetime: 5 days by default (as Postfix's maximal_queue_lifetime),
   a year at most. */
#define CONFIG_LIFETIME_DEFAULT (5u * 86400u)
#define CONFIG_LIFETIME_MAX     (365u * 86400u)
/* The largest configuration file read (the only bound on a line's length). */
#define CONFIG_FILE_MAX (1024u * 1024u)
/* How many candidate files config_load searches at most. */
#define CONFIG_SEARCH_MAX 8

struct account {
	char *name;
	char *host;           /* NULL until set; required to send */
	unsigned port;        /* 0 = default: 587 with STARTTLS, 465 implicit,
				 25 with tls off */
	char *from;           /* envelope sender, NULL if not set */
	char *domain;         /* EHLO argument, NULL = this host's FQDN */
	unsigned timeout;     /* seconds for every read and write; default 60 */
	int tls;              /* 1 (default) or 0 after "tls off" */
	int tls_starttls;     /* 1 (default): STARTTLS; 0: implicit TLS */
	char *tls_trust_file; /* PEM CA file, NULL = the system store
				 ("system" in the file means NULL) */
	char *tls_fingerprint;   /* pinned certificate as written, checked
				    with tls_fingerprint_parse: 32 (SHA-256)
				    or 20 (SHA-1) bytes; NULL if not set */
	int tls_certcheck;       /* 1 (default); 0 after "tls_certcheck off" */
	char *tls_host_override; /* name to verify and send as SNI, NULL =
				    host */
	char *tls_priorities;    /* GnuTLS priority string, NULL = default */
	char *tls_cert_file;     /* client certificate (PEM), NULL = none */
	char *tls_key_file;      /* its key, NULL = none */
	int tls_resume;          /* 1 (default): resume the last verified
				    TLS 1.3 session with this server; 0
				    after "tls_resume off" */
	char *auth; /* NULL = on when user is set; "on", "off", or a
		       mechanism name in upper case */
	char *user;
	char *password;     /* a literal password from the file, or NULL */
	char *passwordeval; /* a command whose output is the password, or NULL
			     */
	int auth_plaintext; /* 1: credentials may cross a connection that is
			       not verified TLS; 0 (default) */
	char *logfile;      /* NULL = none, "-" = stderr */
	char *syslog;       /* NULL = off, "on" = LOG_MAIL, or "LOG_xxx" */
	/* Addresses and header repair (postie.conf(5) has the whole story). */
	char *from_full_name;   /* display name of an added From:, NULL none */
	char *aliases;          /* aliases file, "~/" expanded; NULL = none */
	char *maildomain;       /* qualifies bare names; NULL = the domain of
				   from (after its % expansion) */
	int set_from_header;    /* enum config_mode; CONFIG_MODE_AUTO */
	int set_date_header;    /* CONFIG_MODE_AUTO (default) or _OFF */
	int set_msgid_header;   /* CONFIG_MODE_AUTO (default) or _OFF */
	int set_to_header;      /* CONFIG_MODE_AUTO (default) or _OFF */
	int remove_bcc_headers; /* 1 (default): Bcc:, Resent-Bcc: never
				   sent */
	int undisclosed_recipients; /* 0 (default); 1: To/Cc/Bcc replaced by
				       "To: undisclosed-recipients:;" */
	int allow_from_override;    /* 1 (default); 0: -f must name from */
	char *dsn_notify; /* default for -N, checked as -N is; NULL = none
			     ("off" in the file) */
	char *dsn_return; /* default for -R: "full" or "hdrs", NULL = none */
	/* The queue (postie.conf(5), "THE QUEUE"). */
	int queue;               /* 1 (default): keep a message that failed
				    for now; 0 after "queue off" */
	char *queue_dir;         /* as written, "~/" expanded; NULL = the
				    default ($XDG_STATE_HOME/postie/queue);
				    %U is the caller's to expand */
	unsigned queue_lifetime; /* seconds; CONFIG_LIFETIME_DEFAULT */
	unsigned long long set;  /* CONFIG_xxx bits given for this account */
	char *file; /* where the account was defined, for messages */
	unsigned line;
};

struct config {
	struct account *accounts; /* in file order */
	size_t naccounts;
	char *path;                 /* the file read */
	const struct account *dflt; /* "account default" (or the account
				       named "default"), NULL if none */
};

/*
 * Find and read the configuration. path non-NULL (-C FILE) reads exactly
 * that file. NULL searches, first match wins:
 *   $XDG_CONFIG_HOME/postie/config (~/.config/postie/config), ~/.postierc,
 *   ~/.msmtprc, $XDG_CONFIG_HOME/msmtp/config,
 *   then the system file SYSCONFDIR/postie.conf, SYSCONFDIR/msmtprc.
 * On success cfg owns everything (config_release frees it).
 * Errors: ERR_NOINPUT (66) for an -C file that does not exist or cannot be
 * read (or a directory), and for a searched file that exists but cannot
 * be read; ERR_CONFIG (78) for "file:line: what" grammar errors, an
 * unknown key, a bad value, no file found, a file larger than
 * CONFIG_FILE_MAX, a file others may write, or a file holding a literal
 * password that group or others can read (the message gives the chmod
 * that fixes it). The system file (SYSCONFDIR/postie.conf or msmtprc,
 * reached by the search) has its own rule: refused unless owned by root
 * and writable by no one else; with a password it may be readable by its
 * group but not by others ("chmod 640").
 */
int config_load(struct config *cfg, const char *path, struct error *err);

/* The caller's home directory: $HOME, else the password database's; NULL
   when neither is an absolute path. */
const char *config_home(void);
/*
 * Setgid support; call before anything else in main(). When the effective
 * group differs from the real one (postie installed setgid to the group
 * that may read the system file), open SYSCONFDIR/postie.conf, else
 * SYSCONFDIR/msmtprc, read-only with that group, then give the group up
 * for good (real, effective and saved group ids all set to the real one).
 * config_load uses the opened file only when its search ends at that
 * system file, and closes it otherwise (-C, or a user file found first).
 * Not setgid: does nothing. Errors: ERR_OS (71) when the group cannot be
 * given up; the caller must then exit.
 */
int config_open_system(struct error *err);
/*
 * The candidate files config_load searches, in order, for the given $HOME,
 * $XDG_CONFIG_HOME and system directory (each may be NULL; an empty home
 * or a relative xdg is ignored, and xdg defaults to home/.config). Stores
 * at most max newly allocated paths (the caller frees each) and returns how
 * many.
 */
size_t config_search_list(char **paths, size_t max, const char *home,
	const char *xdg, const char *sysdir);
/*
 * Load the first of paths that exists. A file that exists but cannot be
 * read is an error (ERR_NOINPUT), not a reason to try the next one. None
 * exists: ERR_CONFIG "no configuration file found (looked in ...)".
 */
int config_load_first(struct config *cfg, char *const *paths, size_t npaths,
	struct error *err);
/* Whether err is config_load's "no configuration file found": the modes
   that can do without one (mailq, -q on an empty queue) tell it apart
   from a file that is there but broken. */
int config_none_found(const struct error *err);
/*
 * Parse text as if read from a file named name (for tests). No mode
 * checks. On failure cfg is left empty (config_release is harmless).
 */
int config_parse(struct config *cfg, const char *name, const char *text,
	size_t len, struct error *err);
/* Free every account (secrets wiped first); cfg is then empty. */
void config_release(struct config *cfg);

/*
 * Choose the account: by name when name is non-NULL (ERR_CONFIG if there
 * is none), else the first account whose from matches sender (case-
 * insensitive; exact, glob with * and ?, or user+tag@domain matching
 * user@domain), else the default account. ERR_CONFIG when nothing fits.
 */
const struct account *config_choose(const struct config *cfg, const char *name,
	const char *sender, struct error *err);

/*
 * The account's from as the caller wants it matched: a new string (the
 * caller's expansion of %U, %H, ...), or NULL for "matches no sender".
 */
typedef char *config_from_fn(const struct account *acct, void *ctx);

/*
 * config_choose, with each account's from passed through expand before it
 * is matched against sender (config stays pure: main knows what %U and
 * %H mean). expand NULL matches the froms as written.
 */
const struct account *config_choose_expanded(const struct config *cfg,
	const char *name, const char *sender, config_from_fn *expand, void *ctx,
	struct error *err);

/*
 * Whether sender matches an account's from as config_choose matches it:
 * ASCII case-insensitive, exactly or as a glob (* and ?), or with its
 * "+tag" removed ("a+x@d" matches from "a@d"). For allow_from_override.
 */
int config_sender_matches(const char *from, const char *sender);

/*
 * Check a DSN NOTIFY list (RFC 3461 §4.1): "never" alone, or one or more
 * of success, failure, delay, comma-separated, any case. For -N and
 * dsn_notify alike. Errors: ERR_CONFIG "'X' is not one of never,
 * success, failure, delay" or "give never alone, or any of success,
 * failure, delay" (the caller prefixes the key or flag).
 */
int config_check_notify(const char *s, struct error *err);

/* Check a DSN RET value (RFC 3461 §4.3): full or hdrs, any case.
   Errors: ERR_CONFIG "must be full or hdrs, not 'X'". */
int config_check_return(const char *s, struct error *err);

/*
 * Refuse an account that cannot be used as written: no host, a client
 * certificate without its key (or a key without its certificate), or
 * TLS with tls_fingerprint and tls_certcheck off (the pin would be
 * ignored).
 * ERR_CONFIG naming the account and file:line.
 */
int config_check_account(const struct account *acct, struct error *err);

/*
 * Whether the account authenticates: user set and auth not "off", or auth
 * "on" or a mechanism name.
 */
int config_auth_enabled(const struct account *acct);

#endif
