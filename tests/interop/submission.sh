#!/bin/bash
# Interop: authenticated submission over TLS through a real Postfix with
# Dovecot SASL, and checks of what Postfix delivered.
#
# A private Dovecot runs only its auth service (no IMAP, no POP3, no inet
# listener): a passwd-file with alice's {PLAIN} password, so that every
# mechanism it knows can be served (CRAM-MD5 and SCRAM need the plain
# password). A private Postfix (lib.sh) asks it through a unix socket in
# the temporary directory and listens on two ephemeral 127.0.0.1 ports: a
# submission service that requires STARTTLS before AUTH and AUTH before
# relaying, and the same with implicit TLS (wrappermode). The server
# certificate (DNS localhost, IP 127.0.0.1) and its CA are made here with
# certtool. python3's smtplib first proves the harness (what each port
# offers; a delivery with STARTTLS and AUTH), then postie submits with each
# mechanism the server offers, with implicit TLS, to the IP address, with a
# pinned fingerprint; a wrong password and a wrong fingerprint deliver
# nothing.
#
# Environment: POSTIE (the built binary), POSTIE_REQUIRE_INTEROP=1 turns a
# missing prerequisite into a failure, POSTIE_KEEP_TMP=1 keeps the temporary
# directory for inspection.
# Exit: 0 every check passed, 1 a check failed, 77 skipped.

# make check runs us with $(SHELL), which is /bin/sh.
if [ -z "${BASH_VERSION:-}" ]; then
	exec bash "$0" "$@"
fi
# shellcheck source=tests/interop/lib.sh
. "$(dirname "$0")/lib.sh" || exit 1

require_submission
interop_init sub
submission_start

# --- the harness proven with python3's smtplib ------------------------------
cat >"$T/probe.py" <<'EOF'
"""probe.py caps PORT CA starttls|implicit: prints what the server offers
before and after TLS; probe.py send PORT CA USER PASSWORD MESSAGE-FILE:
submits the file with STARTTLS and smtplib's own AUTH choice."""
import smtplib, ssl, sys

def mechs(s):
    return " ".join(sorted(s.esmtp_features.get("auth", "").split())) or "-"

mode, port, ca = sys.argv[1], int(sys.argv[2]), sys.argv[3]
ctx = ssl.create_default_context(cafile=ca)
if mode == "caps" and sys.argv[4] == "implicit":
    s = smtplib.SMTP_SSL("localhost", port, context=ctx, timeout=10)
    s.ehlo("probe.test")
else:
    s = smtplib.SMTP("localhost", port, timeout=10)
    s.ehlo("probe.test")
    print("before-tls-auth", mechs(s))
    print("starttls", "yes" if s.has_extn("starttls") else "no")
    s.starttls(context=ctx)
    s.ehlo("probe.test")
print("tls", s.sock.version())
print("auth", mechs(s))
if mode == "send":
    s.login(sys.argv[4], sys.argv[5])
    with open(sys.argv[6], "rb") as f:
        data = f.read().replace(b"\n", b"\r\n")
    s.sendmail("probe@client.test", ["rcpt@example.org"], data)
s.quit()
EOF

probe() {
	timeout 20 python3 "$T/probe.py" "$@" 2>&1
}

caps=$(probe caps "$SUB_PORT" "$CERTS/ca.pem" starttls)
echo "$caps" | sed 's/^/    submission: /'
if echo "$caps" | grep -qx 'before-tls-auth -' &&
	echo "$caps" | grep -qx 'starttls yes'; then
	pass "submission port offers STARTTLS and no AUTH before TLS"
else
	fail "submission port offers STARTTLS and no AUTH before TLS"
fi
MECHS=$(echo "$caps" | sed -n 's/^auth //p')
if [[ " $MECHS " == *" PLAIN "* && " $MECHS " == *" LOGIN "* ]]; then
	pass "submission port offers AUTH after STARTTLS: $MECHS"
else
	fail "submission port offers AUTH PLAIN and LOGIN after STARTTLS:" \
		"${MECHS:-nothing}"
fi
caps=$(probe caps "$SMTPS_PORT" "$CERTS/ca.pem" implicit)
echo "$caps" | sed 's/^/    submissions: /'
if echo "$caps" | grep -q '^auth .*PLAIN'; then
	pass "implicit-TLS port offers AUTH: ${caps##*auth }"
else
	fail "implicit-TLS port speaks TLS at once and offers AUTH"
fi

cat >"$WORK/probe.msg" <<'MSG'
From: probe@client.test
To: rcpt@example.org
Subject: harness probe
Message-ID: <probe@client.test>

Sent by python3 smtplib with STARTTLS and AUTH.
MSG
RC=0
out=$(probe send "$SUB_PORT" "$CERTS/ca.pem" "$USER_NAME" "$PASSWORD" \
	"$WORK/probe.msg") || RC=$?
if [ "$RC" = 0 ] && wait_delivery "<probe@client.test>" 1; then
	pass "harness: python3 smtplib delivers with STARTTLS and AUTH"
else
	fail "harness: python3 smtplib delivers with STARTTLS and AUTH"
	echo "$out" | sed 's/^/    /'
	# Nothing below could mean anything.
	exit 1
fi

# --- postie -----------------------------------------------------------------
# write_config NAME KEY-VALUE-LINES...: CONFIG becomes an account file with
# the common settings, then the given lines.
write_config() {
	local name=$1
	shift
	CONFIG=$WORK/$name.conf
	{
		# The message must arrive byte for byte: no header repair.
		printf '%s\n' "account default" "domain client.test" "timeout 10" \
			"set_from_header off" "set_date_header off" \
			"set_msgid_header off" "set_to_header off" \
			"queue off" "user $USER_NAME"
		printf '%s\n' "$@"
	} >"$CONFIG"
	chmod 600 "$CONFIG"
}

# make_msg NAME: a message with a Message-ID of its own, in NAME.msg; dot
# lines and long lines so that the data crosses TLS records as it must.
make_msg() {
	{
		printf 'From: Alice <alice@client.test>\nTo: rcpt1@example.org\n'
		printf 'Cc: rcpt2@example.net\nSubject: interop %s\n' "$1"
		printf 'Message-ID: <%s@client.test>\n\n' "$1"
		printf 'Submitted through %s.\n.\n..\n.leading dot\n' "$1"
		if [ "${2:-}" = big ]; then
			for i in $(seq 3000); do
				printf 'line %05d %s\n' "$i" \
					'The quick brown fox jumps over the lazy dog, again and again.'
			done
		fi
		printf 'Last line.\n'
	} >"$WORK/$1.msg"
}

# wait_log OFFSET ERE: the Postfix log after OFFSET matches (postlogd
# writes a moment after the event).
wait_log() {
	for _ in $(seq 30); do
		log_since "$1" | grep -qE -- "$2" && return 0
		sleep 0.1
	done
	return 1
}

# check_server_side NAME OFFSET SERVICE MECH: Postfix's log shows a TLS
# session on SERVICE and AUTH with MECH as alice; the Received: field
# says ESMTPSA (RFC 3848: TLS and AUTH) and names the TLS version.
check_server_side() {
	local name=$1 off=$2 service=$3 mech=$4 env received
	[ "$RC" = 0 ] || return 0
	if wait_log "$off" "postfix/$service/smtpd\[[0-9]+\]: .*TLS connection established from localhost\[127\.0\.0\.1\]: TLSv1\.[23]"; then
		pass "$name: Postfix ($service) logs a TLS session"
	else
		fail "$name: Postfix ($service) logs a TLS session"
	fi
	if wait_log "$off" "postfix/$service/smtpd\[[0-9]+\]: [0-9A-F]+: client=localhost\[127\.0\.0\.1\], sasl_method=$mech, sasl_username=$USER_NAME\$"; then
		pass "$name: Postfix logs AUTH $mech as $USER_NAME"
	else
		fail "$name: Postfix logs AUTH $mech as $USER_NAME: $(log_since "$off" |
			grep -o 'sasl_method=.*')"
	fi
	env=$(deliveries_of "<$name@client.test>" | head -n 1)
	[ -n "$env" ] || return 0
	received=$(awk 'NR > 1 && /^[^ \t]/ { exit } { print }' "${env%.env}.msg")
	if echo "$received" | grep -q 'using TLSv1\.[23] with cipher' &&
		echo "$received" | grep -q ' with ESMTPSA id '; then
		pass "$name: Received: says ESMTPSA, using TLS"
	else
		fail "$name: Received: says ESMTPSA, using TLS:"
		echo "$received" | sed 's/^/    /'
	fi
}

# check_quiet NAME: a run without -v that worked printed nothing.
check_quiet() {
	[ "$RC" = 0 ] || return 0
	if [ -s "$WORK/$1.err" ]; then
		fail "$1: nothing on stderr without -v"
		show_stderr "$1"
	else
		pass "$1: nothing on stderr without -v"
	fi
}

# hex_of TEXT: the hex digits only, lower case: fingerprints compared
# whatever their colons and case.
hex_of() {
	printf '%s' "$1" | tr -cd '0-9A-Fa-f' | tr 'A-F' 'a-f'
}

# submit NAME SERVICE MECH CONFIG-LINES...: one submission that must
# deliver; MECH is what Postfix must log (the forced or the chosen one).
submit() {
	local name=$1 service=$2 mech=$3 off
	shift 3
	write_config "$name" "$@"
	off=$(log_size)
	run_postie "$name" "$WORK/$name.msg" -i -f alice@client.test \
		rcpt1@example.org rcpt2@example.net
	check_exit "$name" 0
	check_quiet "$name"
	check_delivery "$name" "<$name@client.test>" alice@client.test \
		"$WORK/$name.msg" rcpt1@example.org rcpt2@example.net
	check_server_side "$name" "$off" "$service" "$mech"
}

STARTTLS_ACCOUNT=("host localhost" "port $SUB_PORT" "tls on"
	"tls_trust_file $CERTS/ca.pem" "password $PASSWORD")

# Automatic choice: the strongest both have. Dovecot has no SCRAM-*-PLUS
# here, so SCRAM-SHA-256 when offered. A large body crosses many records.
want=PLAIN
for m in SCRAM-SHA-1 SCRAM-SHA-256; do
	case " $MECHS " in *" $m "*) want=$m ;; esac
done
make_msg starttls-auto big
submit starttls-auto submission "$want" "${STARTTLS_ACCOUNT[@]}"

# Every mechanism the server offers, forced with `auth MECH`.
for m in $MECHS; do
	name=starttls-${m,,}
	make_msg "$name"
	submit "$name" submission "$m" "${STARTTLS_ACCOUNT[@]}" "auth $m"
done

# The IP SAN: host 127.0.0.1 is checked against the certificate's
# iPAddress, not a DNS name.
make_msg starttls-ip
submit starttls-ip submission "$want" "host 127.0.0.1" "port $SUB_PORT" \
	"tls on" "tls_trust_file $CERTS/ca.pem" "password $PASSWORD"

# Implicit TLS: TLS before the greeting.
make_msg implicit
submit implicit submissions "$want" "host localhost" "port $SMTPS_PORT" \
	"tls on" "tls_starttls off" "tls_trust_file $CERTS/ca.pem" \
	"password $PASSWORD"

# The certificate pinned by its SHA-256 fingerprint instead of a CA.
make_msg fingerprint
submit fingerprint submission "$want" "host localhost" "port $SUB_PORT" \
	"tls on" "tls_fingerprint $FINGERPRINT" "password $PASSWORD"

# --serverinfo: what a user pins comes from here, so it must name the
# certificate's fingerprint, and the AUTH offered after STARTTLS.
write_config serverinfo "${STARTTLS_ACCOUNT[@]}"
run_postie serverinfo /dev/null -S
check_exit serverinfo 0
if [[ $(hex_of "$(cat "$WORK/serverinfo.out")") == *$(hex_of "$FINGERPRINT")* ]] &&
	grep -q 'SCRAM-SHA-256' "$WORK/serverinfo.out" &&
	grep -qw 'verified' "$WORK/serverinfo.out"; then
	pass "serverinfo: -S shows the SHA-256, \"verified\" and the AUTH list"
else
	fail "serverinfo: -S shows the SHA-256, \"verified\" and the AUTH list"
	sed 's/^/    stdout: /' "$WORK/serverinfo.out"
	show_stderr serverinfo
fi

# A -v run: the transcript hides what AUTH carries.
b64=$(printf '\0%s\0%s' "$USER_NAME" "$PASSWORD" | base64 -w0)
make_msg verbose
write_config verbose "${STARTTLS_ACCOUNT[@]}" "auth PLAIN"
run_postie verbose "$WORK/verbose.msg" -v -i -f alice@client.test \
	rcpt1@example.org
check_exit verbose 0
if grep -q 'AUTH PLAIN' "$WORK/verbose.err" &&
	! grep -qF -e "$PASSWORD" -e "$b64" "$WORK/verbose.err"; then
	pass "verbose: -v shows AUTH PLAIN, not the password nor its base64"
else
	fail "verbose: -v shows AUTH PLAIN, not the password nor its base64"
	show_stderr verbose
fi

# --- failures: nothing may be delivered -----------------------------------
# A wrong pin: both fingerprints differ in the last hex digit.
last=${FINGERPRINT: -1}
case $last in 0) flip=1 ;; *) flip=0 ;; esac
wrong_fp=$(echo "${FINGERPRINT%?}$flip" | tr -d :)
make_msg wrong-fingerprint
write_config wrong-fingerprint "host localhost" "port $SUB_PORT" "tls on" \
	"tls_fingerprint $wrong_fp" "password $PASSWORD"
off=$(log_size)
run_postie wrong-fingerprint "$WORK/wrong-fingerprint.msg" -i \
	-f alice@client.test rcpt1@example.org
check_exit wrong-fingerprint 69
got_hex=$(hex_of "$(cat "$WORK/wrong-fingerprint.err")")
if [[ $got_hex == *$(hex_of "$FINGERPRINT")* &&
	$got_hex == *$(hex_of "$wrong_fp")* ]]; then
	pass "wrong-fingerprint: stderr shows both fingerprints"
else
	fail "wrong-fingerprint: stderr shows both fingerprints"
	show_stderr wrong-fingerprint
fi
if wait_log "$off" 'postfix/submission/smtpd.*: (disconnect|lost connection)'; then
	if log_since "$off" | grep -q 'sasl_method='; then
		fail "wrong-fingerprint: no AUTH was attempted"
	else
		pass "wrong-fingerprint: no AUTH was attempted"
	fi
fi

# Last: Dovecot may slow down later logins from this address after a
# failure.
make_msg wrong-password
write_config wrong-password "${STARTTLS_ACCOUNT[@]/#password */password ${PASSWORD}x}"
off=$(log_size)
run_postie wrong-password "$WORK/wrong-password.msg" -i -f alice@client.test \
	rcpt1@example.org
check_exit wrong-password 77
if grep -q '535' "$WORK/wrong-password.err"; then
	pass "wrong-password: stderr quotes the server's 535"
else
	fail "wrong-password: stderr quotes the server's 535"
	show_stderr wrong-password
fi
if wait_log "$off" 'authentication failed'; then
	pass "wrong-password: Postfix logs the failed AUTH"
else
	fail "wrong-password: Postfix logs the failed AUTH"
fi
if grep -qF "${PASSWORD}x" "$WORK/wrong-password.err"; then
	fail "wrong-password: the password is not on stderr"
else
	pass "wrong-password: the password is not on stderr"
fi

# The messages that went through were delivered long before now.
sleep 0.5
for name in wrong-fingerprint wrong-password; do
	if [ -n "$(deliveries_of "<$name@client.test>")" ]; then
		fail "$name: nothing delivered"
	else
		pass "$name: nothing delivered"
	fi
done
check_queue_empty

interop_finish
