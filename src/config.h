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
enum config_key {
	CONFIG_HOST = 1u << 0,
	CONFIG_PORT = 1u << 1,
	CONFIG_FROM = 1u << 2,
	CONFIG_DOMAIN = 1u << 3,
	CONFIG_TIMEOUT = 1u << 4,
	CONFIG_TLS = 1u << 5,
	CONFIG_TLS_STARTTLS = 1u << 6,
	CONFIG_AUTH = 1u << 7,
	CONFIG_USER = 1u << 8,
	CONFIG_PASSWORD = 1u << 9,
	CONFIG_PASSWORDEVAL = 1u << 10,
	CONFIG_LOGFILE = 1u << 11,
	CONFIG_SYSLOG = 1u << 12,
	CONFIG_TLS_TRUST_FILE = 1u << 13,
	CONFIG_TLS_FINGERPRINT = 1u << 14,
	CONFIG_TLS_CERTCHECK = 1u << 15,
	CONFIG_TLS_HOST_OVERRIDE = 1u << 16,
	CONFIG_TLS_PRIORITIES = 1u << 17,
	CONFIG_TLS_CERT_FILE = 1u << 18,
	CONFIG_TLS_KEY_FILE = 1u << 19,
	CONFIG_AUTH_PLAINTEXT = 1u << 20,
};

#define CONFIG_TIMEOUT_DEFAULT 60
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
	unsigned set;       /* enum config_key bits given for this account */
	char *file;         /* where the account was defined, for messages */
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
 * that fixes it).
 */
int config_load(struct config *cfg, const char *path, struct error *err);
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
