/*
 * trust.c - pick the CA certificates a chain can use out of a PEM bundle
 * (see trust.h for why).
 */
#include "autoconf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "trust.h"
#include "xmalloc.h"

/* A CA certificate's names lie inside its first 512 bytes (Debian's 144:
   at most 489); a block whose names do not is decoded whole (up to this
   bound: larger is no certificate anyone uses). */
#define TRUST_PREFIX 512
#define TRUST_DER_MAX 65536

#define TRUST_TAG_SEQUENCE 0x30
#define TRUST_TAG_INTEGER  0x02
#define TRUST_TAG_VERSION  0xa0 /* [0] EXPLICIT, constructed */

static const char trust_end[] = "-----END ";
static const char *const trust_labels[] = {
	"CERTIFICATE-----",
	"X509 CERTIFICATE-----",
};

/* --- DER ---------------------------------------------------------------- */

struct trust_der {
	const unsigned char *p, *end;
};

/*
 * One TLV at d->p: its tag, where its content starts and how long it is.
 * With clamp, content running past the end is cut to what is there (the
 * outer SEQUENCEs of a certificate's decoded prefix); otherwise it must
 * fit. Advances d->p past the element (or to the end when clamped).
 */
static int
trust_der_next(struct trust_der *d, int clamp, unsigned *tag,
	const unsigned char **start, struct trust_der *content)
{
	const unsigned char *p = d->p;
	size_t len = 0, n, i;

	if (d->end - p < 2 || (p[0] & 0x1f) == 0x1f)
		return -1; /* no high tag numbers in a certificate's frame */
	*start = p;
	*tag = p[0];
	if (p[1] < 0x80) {
		len = p[1];
		p += 2;
	} else {
		n = p[1] & 0x7f;
		if (n == 0 || n > 4 || (size_t)(d->end - p - 2) < n)
			return -1;
		for (i = 0; i < n; i++)
			len = len << 8 | p[2 + i];
		p += 2 + n;
	}
	if ((size_t)(d->end - p) < len) {
		if (!clamp)
			return -1;
		len = (size_t)(d->end - p);
	}
	content->p = p;
	content->end = p + len;
	d->p = p + len;
	return 0;
}

/* The next element must have this tag; *whole spans its TLV bytes. */
static int
trust_der_expect(struct trust_der *d, unsigned want,
	const unsigned char **whole, size_t *whole_len)
{
	struct trust_der content;
	const unsigned char *start;
	unsigned tag;

	if (trust_der_next(d, 0, &tag, &start, &content) < 0 || tag != want)
		return -1;
	if (whole) {
		*whole = start;
		*whole_len = (size_t)(d->p - start);
	}
	return 0;
}

int
trust_cert_names(const unsigned char *der, size_t len, struct trust_names *out)
{
	struct trust_der d = {der, der + len}, cert, tbs;
	const unsigned char *start;
	unsigned tag;

	if (trust_der_next(&d, 1, &tag, &start, &cert) < 0 ||
		tag != TRUST_TAG_SEQUENCE ||
		trust_der_next(&cert, 1, &tag, &start, &tbs) < 0 ||
		tag != TRUST_TAG_SEQUENCE)
		return -1;
	/* version is optional (absent means v1) */
	if (tbs.p < tbs.end && tbs.p[0] == TRUST_TAG_VERSION &&
		trust_der_expect(&tbs, TRUST_TAG_VERSION, NULL, NULL) < 0)
		return -1;
	if (trust_der_expect(&tbs, TRUST_TAG_INTEGER, NULL, NULL) < 0 ||
		trust_der_expect(&tbs, TRUST_TAG_SEQUENCE, NULL, NULL) < 0 ||
		trust_der_expect(&tbs, TRUST_TAG_SEQUENCE, &out->issuer,
			&out->issuer_len) < 0 ||
		trust_der_expect(&tbs, TRUST_TAG_SEQUENCE, NULL, NULL) < 0 ||
		trust_der_expect(&tbs, TRUST_TAG_SEQUENCE, &out->subject,
			&out->subject_len) < 0)
		return -1;
	return 0;
}

/* --- PEM ---------------------------------------------------------------- */

/* base64 (RFC 4648 §4) values; the rest of the alphabet of a PEM body. */
enum { TRUST_B64_SKIP = 64, TRUST_B64_STOP = 65, TRUST_B64_BAD = 66 };

static void
trust_b64_table(unsigned char table[256])
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				       "abcdefghijklmnopqrstuvwxyz0123456789+/";
	unsigned i;

	memset(table, TRUST_B64_BAD, 256);
	for (i = 0; i < 64; i++)
		table[(unsigned char)alphabet[i]] = (unsigned char)i;
	table['\n'] = table['\r'] = table[' '] = table['\t'] = TRUST_B64_SKIP;
	table['='] = table['-'] = TRUST_B64_STOP;
}

/*
 * Decodes the base64 of [p, end) into out until out holds max bytes or the
 * text ends ('=', the '-' of the END line, or the end); line breaks and
 * blanks are skipped. Returns the bytes written, or -1 for a character
 * that is not base64.
 */
static long
trust_b64_decode(const unsigned char table[256], const char *p,
	const char *end, unsigned char *out, size_t max)
{
	uint32_t acc = 0;
	size_t n = 0;
	int bits = 0;

	for (; p < end && n < max; p++) {
		unsigned v = table[(unsigned char)*p];

		if (v >= TRUST_B64_SKIP) {
			if (v == TRUST_B64_SKIP)
				continue;
			if (v == TRUST_B64_STOP)
				break;
			return -1;
		}
		acc = acc << 6 | v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[n++] = (unsigned char)(acc >> bits);
		}
	}
	return (long)n;
}

/* Where text starts at p, or NULL. Base64 has no '-': the dashes of the
   BEGIN and END lines are found with memchr, fast over the bodies. */
static const char *
trust_find(const char *p, const char *end, const char *text, size_t len)
{
	const char *q;

	while ((q = memchr(p, text[0], (size_t)(end - p))) != NULL) {
		if ((size_t)(end - q) >= len && memcmp(q, text, len) == 0)
			return q;
		p = q + 1;
	}
	return NULL;
}

/* The next certificate block at or after p: its BEGIN line's start, the
   base64 after it, and the end of its END line (0 when there is none). */
static int
trust_pem_next(const char *p, const char *end, const char **block,
	const char **body, const char **after)
{
	static const char begin[] = "-----BEGIN ";
	const char *hit, *stop, *nl;
	size_t i, l;

	for (;;) {
		hit = trust_find(p, end, begin, sizeof(begin) - 1);
		if (!hit)
			return 0;
		for (i = 0; i < sizeof(trust_labels) / sizeof(trust_labels[0]);
			i++) {
			l = strlen(trust_labels[i]);
			if ((size_t)(end - hit) - (sizeof(begin) - 1) >= l &&
				memcmp(hit + sizeof(begin) - 1,
					trust_labels[i], l) == 0)
				break;
		}
		if (i < sizeof(trust_labels) / sizeof(trust_labels[0]))
			break;
		p = hit + 1;
	}
	*block = hit;
	*body = hit + sizeof(begin) - 1 + l;
	stop = trust_find(*body, end, trust_end, sizeof(trust_end) - 1);
	if (!stop)
		return 0;
	nl = memchr(stop, '\n', (size_t)(end - stop));
	*after = nl ? nl + 1 : end;
	return 1;
}

size_t
trust_pem_count(const char *pem, size_t len)
{
	const char *p = pem, *end = pem + len, *block, *body, *after;
	size_t count = 0;

	while (trust_pem_next(p, end, &block, &body, &after)) {
		count++;
		p = after;
	}
	return count;
}

/* The subject of the block's certificate: from its first bytes, or from
   all of it when they do not reach that far. */
static int
trust_pem_subject(const unsigned char table[256], const char *body,
	const char *end, unsigned char *der, struct trust_names *names)
{
	long n = trust_b64_decode(table, body, end, der, TRUST_PREFIX);

	if (n < 0)
		return -1;
	if (trust_cert_names(der, (size_t)n, names) == 0)
		return 0;
	if (n < TRUST_PREFIX)
		return -1;
	n = trust_b64_decode(table, body, end, der, TRUST_DER_MAX);
	if (n < 0)
		return -1;
	return trust_cert_names(der, (size_t)n, names);
}

static int
trust_name_wanted(const struct trust_names *names,
	const unsigned char *const *want, const size_t *want_lens, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (want_lens[i] == names->subject_len &&
			memcmp(want[i], names->subject, want_lens[i]) == 0)
			return 1;
	return 0;
}

size_t
trust_pem_pick(const char *pem, size_t len,
	const unsigned char *const *names, const size_t *name_lens, size_t n,
	struct buf *out)
{
	unsigned char *der = xmalloc(TRUST_DER_MAX), table[256];
	const char *p = pem, *end = pem + len, *block, *body, *after;
	struct trust_names cert;
	size_t picked = 0;

	trust_b64_table(table);
	while (trust_pem_next(p, end, &block, &body, &after)) {
		p = after;
		if (trust_pem_subject(table, body, after, der, &cert) < 0 ||
			!trust_name_wanted(&cert, names, name_lens, n))
			continue;
		if (buf_append(out, block, (size_t)(after - block)) < 0 ||
			(after[-1] != '\n' && buf_addch(out, '\n') < 0))
			break;
		picked++;
	}
	free(der);
	return picked;
}
