/*
 * tls.h - the TLS session: the only part of postie that includes GnuTLS.
 *
 * tls_start runs the handshake on a connected socket (after STARTTLS's 220,
 * or right after connect for implicit TLS) within a deadline, verifies the
 * server as the parameters say, and then provides an iobuf back end, so
 * nothing above this module knows whether the bytes are encrypted.
 *
 * Verification (RFC 8314, RFC 9525): by default the system trust store and
 * the host name (DNS-ID in subjectAltName; an IP SAN for a literal address;
 * IDN host names compared as A-labels), TLS 1.2 at least, SNI sent for
 * names. A pinned fingerprint replaces the CA check. Every failure says why
 * in words: expired, not yet valid, wrong name (and the names the
 * certificate has), unknown issuer, fingerprint mismatch (both shown).
 */
#ifndef POSTIE_TLS_H
#define POSTIE_TLS_H

#include <stddef.h>

#include "buf.h"
#include "iobuf.h"
#include "log.h"

struct tls_params {
	const char *host;        /* name to verify and send as SNI: the
				    account's host, or tls_host_override.
				    IDNs as A-labels (the caller converts:
				    libidn2 lives in address); an IP
				    literal without brackets (checked
				    against IP SANs, no SNI); a trailing
				    dot is ignored. NULL only when no name
				    check will be made */
	const char *trust_file;  /* PEM CA file; NULL = the system store */
	const char *fingerprint; /* pinned server certificate as
				    tls_fingerprint_parse reads it: SHA-256
				    (or SHA-1: accepted with a deprecation
				    warning on stderr), NULL */
	int certcheck;           /* 1 (default); 0 = tls_certcheck off */
	const char *priorities;  /* GnuTLS priority string, NULL = default
				    with TLS 1.2 minimum */
	const char *cert_file;   /* client certificate (PEM), NULL = none */
	const char *key_file;    /* its key, NULL = none */
	unsigned timeout;        /* seconds for the whole handshake */
	int report_only;         /* --serverinfo: a verification failure
				    does not fail tls_start; it is kept for
				    tls_verify_error */
	const char *session_file; /* where this server's last verified TLS
				     1.3 session is kept (0600, directories
				     made 0700): offered again to skip the
				     certificate checks, replaced by each
				     connection's new ticket. NULL = none.
				     Not with report_only, certcheck 0 or a
				     client certificate */
};

struct tls; /* opaque */

/* Bytes of the longest fingerprint (SHA-256). */
#define TLS_FINGERPRINT_MAX 32

/*
 * A certificate fingerprint as tls_params.fingerprint (the tls_fingerprint
 * key) is written: hex pairs in either case, every pair separated by one
 * colon or none at all ("AB:CD:.." as certtool and --serverinfo print it,
 * or "abcd.."). Fills out and returns 32 (SHA-256) or 20 (SHA-1); 0 for
 * anything else, MD5 included. Pure: the configuration checks the key
 * with it when the file is read.
 */
size_t tls_fingerprint_parse(const char *s, unsigned char *out);

/*
 * Handshake over fd (non-blocking or not; left non-blocking) and verify.
 * On success *out is a session that owns nothing of fd (the caller still
 * closes it, after tls_close). The CA file (tls_trust_file, or the system
 * bundle) is read only when a CA check will use it (not with a fingerprint
 * or certcheck 0), and of it only the CAs the server's chain names are
 * parsed (trust.h). A SHA-1
 * fingerprint that matches prints "postie: warning: SHA-1 fingerprints
 * are deprecated; use SHA-256: .." on stderr. On failure *out is NULL
 * and nothing is left to free.
 * Errors: ERR_UNAVAILABLE (69) for every verification failure, for a
 * handshake the server refuses (alert) and for a server that does not
 * speak TLS at all (plain SMTP on the port); ERR_TEMP for timeout or the
 * connection closing; ERR_CONFIG for an unreadable trust/cert/key file or
 * a bad priority string or fingerprint syntax; ERR_SOFTWARE for a host
 * name that is not ASCII (not converted to an A-label).
 */
int tls_start(struct tls **out, int fd, const struct tls_params *p,
	struct error *err);

/* The iobuf back end reading and writing through this session: one TLS
   record (at most 16 KiB) per write; errno EAGAIN when the socket would
   block, after which the same bytes must be offered again (iobuf_flush
   does); EPROTO for a TLS failure (see tls_last_error). */
void tls_backend(struct tls *t, struct iobuf_backend *be);

/* 1 when the server was verified (CA + name, or fingerprint); 0 when
   tls_certcheck off let an unverified server through. */
int tls_verified(const struct tls *t);

/* With report_only: why verification failed (the same words tls_start
   would have used), or NULL when it succeeded. */
const char *tls_verify_error(const struct tls *t);

/*
 * After the back end failed with errno EPROTO (iobuf then says "read
 * error: Protocol error"): what went wrong in words, e.g. "TLS: the
 * server sent the alert 'Certificate is required'" (TLS 1.3 servers
 * refuse a missing client certificate only after the handshake).
 * NULL when the record layer has not failed.
 */
const char *tls_last_error(const struct tls *t);

/* 1 when a client certificate was sent (for SASL EXTERNAL). */
int tls_client_cert_sent(const struct tls *t);

/*
 * Channel binding data for SCRAM-*-PLUS (RFC 5929, RFC 9266):
 * "tls-exporter" on TLS 1.3, "tls-unique" on TLS 1.2. *type is static
 * text; *data is owned by the caller (free). -1 (ERR_SOFTWARE) when the
 * session cannot provide it.
 */
int tls_channel_binding(struct tls *t, const char **type, unsigned char **data,
	size_t *len, struct error *err);

/*
 * For --serverinfo: protocol version, cipher, and for each certificate of
 * the chain its subject, issuer, validity, SHA-256 fingerprint and
 * subjectAltNames, as text lines appended to out.
 */
void tls_describe(struct tls *t, struct buf *out);

/* Send close_notify (best effort, at most 1 s) and free the session;
   call before closing fd. NULL is ignored. */
void tls_close(struct tls *t);

#endif
