/*
 * test_trust.c - picking a chain's CAs out of a PEM bundle: the names
 * found are GnuTLS's own raw names, byte for byte; the right blocks are
 * picked and no others; hostile DER is refused without reading past it.
 */
#include "autoconf.h"

#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "buf.h"
#include "check.h"
#include "trust.h"

/* Made with certtool (ECDSA P-256): a CA, its twin (the same name, another
   key), an unrelated CA, and a server certificate the CA signed. */
static const char pem_ca[] =
	"-----BEGIN CERTIFICATE-----\n"
	"MIIBpTCCAUygAwIBAgIUM43LstwRgagtiB2GCCx1fXwYh6swCgYIKoZIzj0EAwIw\n"
	"MDEPMA0GA1UEChMGcG9zdGllMR0wGwYDVQQDExRwb3N0aWUgdHJ1c3QgdGVzdCBD\n"
	"QTAgFw0yNjExMjMxODQzMTVaGA8yMTI2MTAzMDE4NDMxNVowMDEPMA0GA1UEChMG\n"
	"cG9zdGllMR0wGwYDVQQDExRwb3N0aWUgdHJ1c3QgdGVzdCBDQTBZMBMGByqGSM49\n"
	"AgEGCCqGSM49AwEHA0IABBC3NAfAMsB1fBu3TYdY0uHAHr5mEWdGBTr7Sk/RusRS\n"
	"0mHEsUtIqKC49H/E9pjv0WG898eaycocssfKJB259V6jQjBAMA8GA1UdEwEB/wQF\n"
	"MAMBAf8wDgYDVR0PAQH/BAQDAgIEMB0GA1UdDgQWBBRML/XWo7g2kOd86ig3DGtH\n"
	"dNoOzjAKBggqhkjOPQQDAgNHADBEAiBNtV4k2XNTpe4+vJbSDMMdxfroASJGrfEf\n"
	"lzzmGw05nAIgTcEKEMGDEJMSIgeSrf/Ft4PKrnyqy6YPxKcbORtkeUE=\n"
	"-----END CERTIFICATE-----\n";

static const char pem_twin[] =
	"-----BEGIN CERTIFICATE-----\n"
	"MIIBpTCCAUygAwIBAgIUfR6izivxvZx2O8UHl80mzJk+gjwwCgYIKoZIzj0EAwIw\n"
	"MDEPMA0GA1UEChMGcG9zdGllMR0wGwYDVQQDExRwb3N0aWUgdHJ1c3QgdGVzdCBD\n"
	"QTAgFw0yNjExMjMxODQzMTVaGA8yMTI2MTAzMDE4NDMxNVowMDEPMA0GA1UEChMG\n"
	"cG9zdGllMR0wGwYDVQQDExRwb3N0aWUgdHJ1c3QgdGVzdCBDQTBZMBMGByqGSM49\n"
	"AgEGCCqGSM49AwEHA0IABCtDXA6a8G6xgp3V52i7j3puszHlZp2pX1PksIF2BsJk\n"
	"n4P9Rk+luisUpXnjgxpAvTidgq0exYICwO28IPCqFyajQjBAMA8GA1UdEwEB/wQF\n"
	"MAMBAf8wDgYDVR0PAQH/BAQDAgIEMB0GA1UdDgQWBBTGTPP81G5gmavKfjq3Hi15\n"
	"z9h2RzAKBggqhkjOPQQDAgNHADBEAiBLR4I51Fmwh4lEJpCBX5FVVsgABbPhqmQw\n"
	"nAhxTGfg0gIgWRQF6RVUrzeCNgng++Eru6e618KeZpOyALynfKJF34w=\n"
	"-----END CERTIFICATE-----\n";

static const char pem_other[] =
	"-----BEGIN CERTIFICATE-----\n"
	"MIIBejCCASCgAwIBAgIUbYnVkcO7iEjiSFZavFoSfrAP52cwCgYIKoZIzj0EAwIw\n"
	"GjEYMBYGA1UEAxMPcG9zdGllIG90aGVyIENBMCAXDTI2MTEyMzE4NDMxNVoYDzIx\n"
	"MjYxMDMwMTg0MzE1WjAaMRgwFgYDVQQDEw9wb3N0aWUgb3RoZXIgQ0EwWTATBgcq\n"
	"hkjOPQIBBggqhkjOPQMBBwNCAASHBdL5GUQkYzQFN0ovdTvijV1BpN6mACSz0wme\n"
	"GEt/HrqqDtH2PZEweYcf4t5cLasO0lo239+7pBTwkaeRw8yRo0IwQDAPBgNVHRMB\n"
	"Af8EBTADAQH/MA4GA1UdDwEB/wQEAwICBDAdBgNVHQ4EFgQUzKN6K308RkHOChzd\n"
	"SLMKLl4t578wCgYIKoZIzj0EAwIDSAAwRQIhAO3NHKpKB4qU0GXN+ew7UB777xzy\n"
	"z+M5fiCb5h3lyU08AiApV4InUzvcqIOQMX8kJDuUhw7lCcyQg5VAXplx8rocjQ==\n"
	"-----END CERTIFICATE-----\n";

static const char pem_leaf[] =
	"-----BEGIN CERTIFICATE-----\n"
	"MIIB3DCCAYGgAwIBAgIUH/PVlfvzuVZEML6BMnxZ38jDsEswCgYIKoZIzj0EAwIw\n"
	"MDEPMA0GA1UEChMGcG9zdGllMR0wGwYDVQQDExRwb3N0aWUgdHJ1c3QgdGVzdCBD\n"
	"QTAgFw0yNjExMjMxODQzMTVaGA8yMTI2MTAzMDE4NDMxNVowFzEVMBMGA1UEAxMM\n"
	"bGVhZi5leGFtcGxlMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEK7P+7zgNbsK4\n"
	"iddzWm+in4Y2RzDgTUWXO4DyQSZ0uhvmKrf+bg+YELItfVHlpzpN+u5V6AhZWrVj\n"
	"OTm2zbbRr6OBjzCBjDAMBgNVHRMBAf8EAjAAMBcGA1UdEQQQMA6CDGxlYWYuZXhh\n"
	"bXBsZTATBgNVHSUEDDAKBggrBgEFBQcDATAOBgNVHQ8BAf8EBAMCB4AwHQYDVR0O\n"
	"BBYEFI4ogaM7BUpC3fL/EgTakrg3hLZSMB8GA1UdIwQYMBaAFEwv9dajuDaQ53zq\n"
	"KDcMa0d02g7OMAoGCCqGSM49BAMCA0kAMEYCIQDgksnSKf2ZHz8GbRoE1RbTI4Dn\n"
	"QQvuQr/lrNBFqzLuqwIhAK9H6rwVrwt9Pb/bXg0z7Vu7XDWUz/D+gCIjwRJ2JQPb\n"
	"-----END CERTIFICATE-----\n";
static gnutls_datum_t
der_of(const char *pem)
{
	gnutls_datum_t in = {(unsigned char *)pem, (unsigned)strlen(pem)};
	gnutls_datum_t out = {NULL, 0};

	if (gnutls_pem_base64_decode2("CERTIFICATE", &in, &out) < 0)
		abort();
	return out;
}

/* The bytes GnuTLS itself compares when it looks for an anchor. */
static void
test_names_are_gnutls_names(const char *pem)
{
	gnutls_datum_t der = der_of(pem), issuer, subject;
	struct trust_names names;
	gnutls_x509_crt_t crt;

	CHECK(gnutls_x509_crt_init(&crt) == 0);
	CHECK(gnutls_x509_crt_import(crt, &der, GNUTLS_X509_FMT_DER) == 0);
	CHECK(gnutls_x509_crt_get_raw_issuer_dn(crt, &issuer) == 0);
	CHECK(gnutls_x509_crt_get_raw_dn(crt, &subject) == 0);
	CHECK_INT(trust_cert_names(der.data, der.size, &names), 0);
	CHECK(names.issuer_len == issuer.size &&
		memcmp(names.issuer, issuer.data, issuer.size) == 0);
	CHECK(names.subject_len == subject.size &&
		memcmp(names.subject, subject.data, subject.size) == 0);
	gnutls_free(issuer.data);
	gnutls_free(subject.data);
	gnutls_x509_crt_deinit(crt);
	gnutls_free(der.data);
}

/* A prefix gives the names exactly when it holds the whole subject. */
static void
test_prefixes(void)
{
	gnutls_datum_t der = der_of(pem_leaf);
	struct trust_names names;
	size_t need, n;
	int bad = 0;

	CHECK_INT(trust_cert_names(der.data, der.size, &names), 0);
	need = (size_t)(names.subject + names.subject_len - der.data);
	CHECK(need > 40 && need < der.size);
	for (n = 0; n <= der.size; n++)
		if ((trust_cert_names(der.data, n, &names) == 0) != (n >= need))
			bad++;
	CHECK_INT(bad, 0);
	gnutls_free(der.data);
}

/* Hand-made frames: a version 1 certificate (no version field) is read;
   anything malformed is refused and nothing is read past the end. */
static void
test_hostile_der(void)
{
	static const unsigned char v1[] = {0x30, 0x10, 0x30, 0x0e, 0x02, 0x01,
		0x01, 0x30, 0x00, 0x30, 0x01, 0x41, 0x30, 0x00, 0x30, 0x02,
		0x42, 0x43};
	unsigned char bad[sizeof(v1)];
	struct trust_names names;
	size_t i;

	CHECK_INT(trust_cert_names(v1, sizeof(v1), &names), 0);
	CHECK(names.issuer == v1 + 9 && names.issuer_len == 3);
	CHECK(names.subject == v1 + 14 && names.subject_len == 4);
	CHECK_INT(trust_cert_names(v1, 0, &names), -1);
	CHECK_INT(trust_cert_names(v1, 1, &names), -1);
	/* each byte of the frame changed to each of these: never a read
	   past the copy (ASan), and a broken tag is refused */
	for (i = 0; i < 16; i++) {
		static const unsigned char subst[] = {0x00, 0x1f, 0x3f, 0x80,
			0x81, 0x84, 0x85, 0xff};
		size_t k;

		for (k = 0; k < sizeof(subst); k++) {
			memcpy(bad, v1, sizeof(v1));
			bad[i] = subst[k];
			(void)trust_cert_names(bad, sizeof(bad), &names);
		}
	}
	memcpy(bad, v1, sizeof(v1));
	bad[4] = 0x04; /* serial not an INTEGER */
	CHECK_INT(trust_cert_names(bad, sizeof(bad), &names), -1);
	memcpy(bad, v1, sizeof(v1));
	bad[0] = 0x3f; /* high tag number form */
	CHECK_INT(trust_cert_names(bad, sizeof(bad), &names), -1);
	memcpy(bad, v1, sizeof(v1));
	bad[10] = 0x80; /* indefinite length for the issuer */
	CHECK_INT(trust_cert_names(bad, sizeof(bad), &names), -1);
	memcpy(bad, v1, sizeof(v1));
	bad[10] = 0x05; /* issuer runs past the TBS */
	CHECK_INT(trust_cert_names(bad, sizeof(bad), &names), -1);
	memcpy(bad, v1, sizeof(v1));
	bad[1] = 0x85; /* a length of five octets */
	CHECK_INT(trust_cert_names(bad, sizeof(bad), &names), -1);
}

static char *
relabel(const char *pem, const char *label)
{
	struct buf b;
	const char *p = pem, *hit;

	buf_init(&b, 4096);
	while ((hit = strstr(p, "CERTIFICATE-----")) != NULL) {
		const char *dash = hit;

		while (dash > p && dash[-1] != ' ')
			dash--;
		buf_append(&b, p, (size_t)(dash - p));
		buf_addstr(&b, label);
		buf_addstr(&b, "CERTIFICATE-----");
		p = hit + strlen("CERTIFICATE-----");
	}
	buf_addstr(&b, p);
	return buf_detach(&b, NULL);
}

static const char key_block[] = "-----BEGIN PRIVATE KEY-----\n"
				"MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n"
				"-----END PRIVATE KEY-----\n";

static size_t
pick_by(const char *bundle, const char *pem, int issuer, struct buf *out)
{
	gnutls_datum_t der = der_of(pem);
	struct trust_names names;
	const unsigned char *want[1];
	size_t len[1], n;

	CHECK_INT(trust_cert_names(der.data, der.size, &names), 0);
	want[0] = issuer ? names.issuer : names.subject;
	len[0] = issuer ? names.issuer_len : names.subject_len;
	buf_reset(out);
	n = trust_pem_pick(bundle, strlen(bundle), want, len, 1, out);
	gnutls_free(der.data);
	return n;
}

/* What GnuTLS makes of the leaf with just these CAs. */
static unsigned
verify_with(const struct buf *cas)
{
	gnutls_datum_t der = der_of(pem_leaf);
	gnutls_datum_t mem = {(unsigned char *)cas->data, (unsigned)cas->len};
	gnutls_x509_trust_list_t list;
	gnutls_x509_crt_t crt;
	unsigned status = ~0u;

	CHECK(gnutls_x509_trust_list_init(&list, 0) == 0);
	CHECK(gnutls_x509_crt_init(&crt) == 0);
	CHECK(gnutls_x509_crt_import(crt, &der, GNUTLS_X509_FMT_DER) == 0);
	if (cas->len > 0)
		CHECK(gnutls_x509_trust_list_add_trust_mem(list, &mem, NULL,
			      GNUTLS_X509_FMT_PEM, 0, 0) > 0);
	CHECK(gnutls_x509_trust_list_verify_crt2(list, &crt, 1, NULL, 0, 0,
		      &status, NULL) == 0);
	gnutls_x509_crt_deinit(crt);
	gnutls_x509_trust_list_deinit(list, 1);
	gnutls_free(der.data);
	return status;
}

static void
test_pick(void)
{
	char *x509_twin = relabel(pem_twin, "X509 ");
	struct buf bundle, out, want;

	buf_init(&bundle, 65536);
	buf_init(&out, 65536);
	buf_init(&want, 65536);
	buf_addstr(&bundle, pem_other);
	buf_addstr(&bundle, "# comments and a key between blocks\n");
	buf_addstr(&bundle, pem_ca);
	buf_addstr(&bundle, key_block);
	buf_addstr(&bundle, x509_twin);
	CHECK_INT(trust_pem_count(bundle.data, bundle.len), 3);

	/* the leaf's issuer: the CA and its twin, verbatim, in file order */
	CHECK_INT(pick_by(bundle.data, pem_leaf, 1, &out), 2);
	buf_addstr(&want, pem_ca);
	buf_addstr(&want, x509_twin);
	CHECK_STR(out.data, want.data);
	CHECK_INT(verify_with(&out), 0);
	/* the twin alone has the name but not the key */
	CHECK_INT(pick_by(x509_twin, pem_leaf, 1, &out), 1);
	CHECK(verify_with(&out) != 0);
	CHECK_INT(pick_by(bundle.data, pem_other, 0, &out), 1);
	CHECK_STR(out.data, pem_other);
	/* a name no CA has: nothing, so verification finds no signer */
	CHECK_INT(pick_by(bundle.data, pem_leaf, 0, &out), 0);
	CHECK_INT(out.len, 0);
	CHECK(verify_with(&out) & GNUTLS_CERT_SIGNER_NOT_FOUND);
	/* a last block without its newline gets one */
	buf_reset(&bundle);
	buf_addstr(&bundle, pem_ca);
	bundle.data[--bundle.len] = '\0';
	CHECK_INT(pick_by(bundle.data, pem_leaf, 1, &out), 1);
	CHECK_STR(out.data, pem_ca);
	/* a BEGIN with no END is no block */
	buf_reset(&bundle);
	buf_addstr(&bundle, pem_ca);
	buf_append(&bundle, pem_twin, 200);
	CHECK_INT(trust_pem_count(bundle.data, bundle.len), 1);
	CHECK_INT(pick_by(bundle.data, pem_leaf, 1, &out), 1);
	CHECK_STR(out.data, pem_ca);
	free(x509_twin);
	buf_release(&bundle);
	buf_release(&out);
	buf_release(&want);
}

/* A block that is not base64 is skipped; the next one still counts. */
static void
test_pick_bad_base64(void)
{
	struct buf bundle, out;

	buf_init(&bundle, 65536);
	buf_init(&out, 65536);
	buf_addstr(&bundle, "-----BEGIN CERTIFICATE-----\nMIIB*pTCC\n"
			    "-----END CERTIFICATE-----\n");
	buf_addstr(&bundle, pem_ca);
	CHECK_INT(trust_pem_count(bundle.data, bundle.len), 2);
	CHECK_INT(pick_by(bundle.data, pem_leaf, 1, &out), 1);
	CHECK_STR(out.data, pem_ca);
	buf_release(&bundle);
	buf_release(&out);
}

/* Names past the first 512 bytes: the block is decoded whole. */
static void
test_pick_long_names(void)
{
	enum { ISSUER = 900 };
	unsigned char der[ISSUER + 32];
	static const unsigned char subject[] = {0x30, 0x03, 0x31, 0x01, 0x00};
	const unsigned char *want[1] = {subject};
	size_t len[1] = {sizeof(subject)}, n = 0, tbs;
	gnutls_datum_t in, pem = {NULL, 0};
	struct buf out;

	/* Certificate { TBS { INTEGER, SEQ {}, issuer, SEQ {}, subject } } */
	tbs = 3 + 2 + (4 + ISSUER) + 2 + sizeof(subject);
	der[n++] = 0x30, der[n++] = 0x82;
	der[n++] = (unsigned char)((tbs + 4) >> 8);
	der[n++] = (unsigned char)(tbs + 4);
	der[n++] = 0x30, der[n++] = 0x82;
	der[n++] = (unsigned char)(tbs >> 8), der[n++] = (unsigned char)tbs;
	der[n++] = 0x02, der[n++] = 0x01, der[n++] = 0x07;
	der[n++] = 0x30, der[n++] = 0x00;
	der[n++] = 0x30, der[n++] = 0x82;
	der[n++] = ISSUER >> 8, der[n++] = ISSUER & 0xff;
	memset(der + n, 0x41, ISSUER);
	n += ISSUER;
	der[n++] = 0x30, der[n++] = 0x00;
	memcpy(der + n, subject, sizeof(subject));
	n += sizeof(subject);
	in.data = der;
	in.size = (unsigned)n;
	CHECK(gnutls_pem_base64_encode2("CERTIFICATE", &in, &pem) == 0);
	buf_init(&out, 65536);
	CHECK_INT(trust_pem_pick((const char *)pem.data, pem.size, want, len,
			  1, &out),
		1);
	CHECK_INT(out.len, pem.size);
	gnutls_free(pem.data);
	buf_release(&out);
}

int
main(void)
{
	test_names_are_gnutls_names(pem_leaf);
	test_names_are_gnutls_names(pem_ca);
	test_prefixes();
	test_hostile_der();
	test_pick();
	test_pick_bad_base64();
	test_pick_long_names();
	return check_finish();
}
