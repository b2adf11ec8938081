#!/bin/sh
# Makes the certificates of the TLS protocol cases with certtool (gnutls-bin)
# into DIR, from fixed templates. ECDSA P-256 keys: quick to generate.
#
#   sh tests/protocol/certs.sh DIR
#
# DIR/NAME.pem (certificate) and DIR/NAME.key (its key), for NAME:
#   ca              the test CA (cases trust it with tls_trust_file)
#   unknown-ca      a second CA that no case trusts
#   server          CN localhost, SAN DNS:localhost and IP 127.0.0.1, by ca
#   wrong-name      SAN DNS:wrong.example and DNS:other.example, by ca
#   cn-only         CN=localhost and no subjectAltName, by ca
#   expired         localhost, valid 2020-01-01 .. 2021-01-01, by ca
#   not-yet-valid   localhost, valid from 2090-01-01, by ca
#   self-signed     localhost, signed by its own key
#   unknown-issuer  localhost, by unknown-ca
#   idn             SAN DNS:xn--bcher-kva.example (bücher.example), by ca
#   client          a client certificate (CN postie test client), by ca
#   inter           an intermediate CA, by ca
#   server-inter    localhost, by inter: the .pem holds it and inter's
#   ca-twin         a CA with ca's name and another key
#   bundle          (.pem only) unknown-ca, ca-twin, the system's CAs when
#                   /etc/ssl/certs/ca-certificates.crt exists, then ca
# Exit status 0 when every file was made; certtool's messages on failure.
set -eu

dir=$1
mkdir -p "$dir"
cd "$dir"

key() {
	certtool --no-text --generate-privkey --key-type=ecdsa --curve=secp256r1 \
		--outfile "$1.key" >/dev/null 2>&1
}

# tmpl NAME LINES...: a template file NAME.tmpl
tmpl() {
	name=$1
	shift
	printf '%s\n' "$@" >"$name.tmpl"
}

# ca NAME CN
ca() {
	key "$1"
	tmpl "$1" "cn = \"$2\"" "ca" "cert_signing_key" \
		"expiration_days = 3650"
	certtool --no-text --generate-self-signed --load-privkey "$1.key" \
		--template "$1.tmpl" --outfile "$1.pem" >/dev/null 2>&1
}

# leaf NAME ISSUER TEMPLATE-LINES...: a certificate signed by ISSUER
# ("self" for a self-signed one)
leaf() {
	name=$1
	issuer=$2
	shift 2
	key "$name"
	tmpl "$name" "$@"
	if [ "$issuer" = self ]; then
		certtool --no-text --generate-self-signed --load-privkey "$name.key" \
			--template "$name.tmpl" --outfile "$name.pem" \
			>/dev/null 2>&1
	else
		certtool --no-text --generate-certificate --load-privkey "$name.key" \
			--load-ca-certificate "$issuer.pem" \
			--load-ca-privkey "$issuer.key" \
			--template "$name.tmpl" --outfile "$name.pem" \
			>/dev/null 2>&1
	fi
}

server_usage='tls_www_server
signing_key
encryption_key'
localhost='cn = "localhost"
dns_name = "localhost"
ip_address = "127.0.0.1"'

ca ca "postie test CA"
ca unknown-ca "postie unknown CA"
leaf server ca "$localhost" "$server_usage" "expiration_days = 3650"
leaf wrong-name ca 'cn = "wrong.example"' 'dns_name = "wrong.example"' \
	'dns_name = "other.example"' "$server_usage" "expiration_days = 3650"
leaf expired ca "$localhost" "$server_usage" \
	'activation_date = "2020-01-01 00:00:00"' \
	'expiration_date = "2021-01-01 00:00:00"'
leaf not-yet-valid ca "$localhost" "$server_usage" \
	'activation_date = "2090-01-01 00:00:00"' \
	'expiration_date = "2091-01-01 00:00:00"'
leaf self-signed self "$localhost" "$server_usage" "expiration_days = 3650"
leaf unknown-issuer unknown-ca "$localhost" "$server_usage" \
	"expiration_days = 3650"
leaf idn ca 'cn = "xn--bcher-kva.example"' \
	'dns_name = "xn--bcher-kva.example"' "$server_usage" \
	"expiration_days = 3650"
leaf cn-only ca 'cn = "localhost"' "$server_usage" "expiration_days = 3650"
leaf client ca 'cn = "postie test client"' 'tls_www_client' 'signing_key' \
	"expiration_days = 3650"
# An intermediate CA under ca; the server sends its certificate and the
# intermediate's (server-inter.pem is that chain).
leaf inter ca 'cn = "postie test intermediate CA"' 'ca' 'cert_signing_key' \
	"expiration_days = 3650"
leaf server-inter-leaf inter "$localhost" "$server_usage" \
	"expiration_days = 3650"
cat server-inter-leaf.pem inter.pem >server-inter.pem
cp server-inter-leaf.key server-inter.key
# The test CA's name with another key: found by name, fails the signature.
ca ca-twin "postie test CA"
# A bundle like the system's: many CAs, the twin first, the test CA last.
{
	cat unknown-ca.pem ca-twin.pem
	if [ -r /etc/ssl/certs/ca-certificates.crt ]; then
		cat /etc/ssl/certs/ca-certificates.crt
	fi
	cat ca.pem
} >bundle.pem
rm -f ./*.tmpl
