/*
 * trust.h - which CA certificates of a PEM bundle a server's chain can use.
 *
 * Parsing every CA of the system bundle costs ~64 M instructions and
 * 4 MiB on each run (144 certificates on Debian), and a verification
 * looks at one or two of them. GnuTLS finds a chain's trust anchor, and
 * tells whether a chain certificate is itself trusted, by comparing the
 * raw DER names (subject and issuer) byte for byte. So the bundle is
 * scanned here without a full parse: each PEM block's start is decoded
 * only as far as its subject, and the blocks whose subject equals a name
 * of the server's chain are handed to GnuTLS. The verification then
 * reaches the same result as with the whole bundle loaded.
 *
 * Pure: no I/O, no GnuTLS. The chain comes from the server and the bundle
 * from a file: both are read with every length checked.
 */
#ifndef POSTIE_TRUST_H
#define POSTIE_TRUST_H

#include <stddef.h>

#include "buf.h"

/* The names of a certificate, each a whole DER Name (tag and length
   included), pointing into the certificate given. */
struct trust_names {
	const unsigned char *issuer;
	size_t issuer_len;
	const unsigned char *subject;
	size_t subject_len;
};

/*
 * Finds the issuer and subject Names of an X.509 certificate (RFC 5280
 * §4.1: Certificate, TBSCertificate, then version, serialNumber,
 * signature, issuer, validity, subject). der may be only a certificate's
 * first bytes: the names are found when they lie wholly inside. 0 when
 * both were found, -1 for anything else (malformed or cut short).
 */
int trust_cert_names(
	const unsigned char *der, size_t len, struct trust_names *out);

/* How many PEM certificate blocks ("-----BEGIN CERTIFICATE-----" or
   "X509 CERTIFICATE") pem holds. */
size_t trust_pem_count(const char *pem, size_t len);

/*
 * Appends to out every PEM certificate block of pem (its BEGIN and END
 * lines included, followed by a newline) whose subject equals one of the
 * names[0..n-1] (each a whole DER Name, compared byte for byte); returns
 * how many. Blocks that are not a certificate, or whose start does not
 * decode, are skipped: they could not match.
 */
size_t trust_pem_pick(const char *pem, size_t len,
	const unsigned char *const *names, const size_t *name_lens, size_t n,
	struct buf *out);

#endif
