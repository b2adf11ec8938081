/*
 * fuzz_trust.c - the certificate name finder and the PEM bundle picker
 * (trust.h). The DER comes from the server's chain, so trust_cert_names
 * meets hostile bytes on every TLS connection. The input is read both as
 * DER and as a PEM bundle; the names it gives are picked from the bundle.
 */
#include "fuzz.h"

#include "buf.h"
#include "trust.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const unsigned char *want[2];
	size_t lens[2], n = 0, picked, count;
	struct trust_names names;
	struct buf out;

	if (trust_cert_names(data, size, &names) == 0) {
		/* both names lie inside the input, in order, each a whole
		   SEQUENCE */
		FUZZ_ASSERT(names.issuer >= data && names.issuer_len >= 2 &&
			    names.issuer + names.issuer_len <= names.subject);
		FUZZ_ASSERT(names.subject + names.subject_len <= data + size);
		FUZZ_ASSERT(names.issuer[0] == 0x30 && names.subject[0] == 0x30);
		want[n] = names.issuer;
		lens[n++] = names.issuer_len;
		want[n] = names.subject;
		lens[n++] = names.subject_len;
	}
	count = trust_pem_count((const char *)data, size);
	buf_init(&out, size + 1);
	picked = trust_pem_pick((const char *)data, size, want, lens, n, &out);
	/* each pick is a block of the input: no more of them, no more bytes */
	FUZZ_ASSERT(picked <= count);
	FUZZ_ASSERT(out.len <= size + 1);
	FUZZ_ASSERT(picked > 0 || out.len == 0);
	buf_release(&out);
	return 0;
}
