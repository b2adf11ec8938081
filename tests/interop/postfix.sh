#!/bin/bash
# Interop: submit through a real Postfix and check what it delivered.
#
# A private Postfix instance (lib.sh) runs on 127.0.0.1 at an ephemeral
# port and records every delivery's envelope and message in files, so the
# checks see exactly what Postfix accepted. Plain SMTP here (tls off):
# refusals, dot-stuffing, -t and Bcc, 8-bit data, the null sender.
#
# Environment: POSTIE (the built binary), POSTIE_SRCDIR (source tree),
# POSTIE_REQUIRE_INTEROP=1 turns a missing prerequisite into a failure,
# POSTIE_KEEP_TMP=1 keeps the temporary directory for inspection.
# Exit: 0 every check passed, 1 a check failed, 77 skipped.

# make check runs us with $(SHELL), which is /bin/sh.
if [ -z "${BASH_VERSION:-}" ]; then
	exec bash "$0" "$@"
fi
# shellcheck source=tests/interop/lib.sh
. "$(dirname "$0")/lib.sh" || exit 1

require_postfix
interop_init pf
PORT=$(free_ports 1) || exit 1

postfix_write_config
# --- scripted refusals ---------------------------------------------------
cat >"$ETC/access" <<'EOF'
reject.test	550 5.7.1 no
tempfail.test	450 4.7.1 later
EOF
cat >>"$ETC/main.cf" <<EOF
smtpd_relay_restrictions = permit_mynetworks, reject
smtpd_recipient_restrictions = check_recipient_access texthash:$ETC/access,
	permit_mynetworks, reject
EOF
echo "127.0.0.1:$PORT inet n - n - - smtpd" >>"$ETC/master.cf"
start_postfix "$PORT"

# --- submission helpers ---------------------------------------------------
cat >"$CONFIG" <<EOF
account default
host 127.0.0.1
port $PORT
tls off
domain client.test
timeout 10
# These checks want the delivered message to be the input byte for byte;
# header repair has cases of its own.
set_from_header off
set_date_header off
set_msgid_header off
set_to_header off
EOF
chmod 600 "$CONFIG"

# check_mail_cmd NAME LOG-OFFSET EXPECTED-MSG 8BIT: the MAIL command Postfix
# received carries SIZE = the data's size with CRLF line ends, before
# dot-stuffing, and BODY=8BITMIME exactly when the data is 8-bit.
check_mail_cmd() {
	local name=$1 off=$2 expect=$3 eight=$4 mail size
	[ "$RC" = 0 ] || return 0
	mail=$(log_since "$off" |
		sed -n 's/.*: < [^ ]*\[127\.0\.0\.1\]: \([Mm][Aa][Ii][Ll] .*\)/\1/p' |
		tail -n 1)
	if [ -z "$mail" ]; then
		fail "$name: Postfix logged the MAIL command"
		return
	fi
	size=$(($(wc -c <"$expect") + $(wc -l <"$expect")))
	if printf '%s\n' "$mail" | grep -qi " SIZE=$size\( \|\$\)"; then
		pass "$name: MAIL carries SIZE=$size"
	else
		fail "$name: MAIL lacks SIZE=$size: $mail"
	fi
	if printf '%s\n' "$mail" | grep -qi ' BODY=8BITMIME'; then
		[ "$eight" = 1 ] && pass "$name: MAIL carries BODY=8BITMIME" ||
			fail "$name: BODY=8BITMIME on 7-bit data: $mail"
	else
		[ "$eight" = 1 ] && fail "$name: MAIL lacks BODY=8BITMIME: $mail" ||
			pass "$name: no BODY=8BITMIME on 7-bit data"
	fi
}

# --- refused recipients: nothing may be delivered -------------------------
# Each transaction also names an acceptable recipient, so a client that
# went on to DATA after a refusal would get the message delivered.
for refusal in reject.test:67:550:5.7.1:no tempfail.test:75:450:4.7.1:later; do
	IFS=: read -r domain want code ext text <<<"$refusal"
	name=refused-${domain%%.*}
	cat >"$WORK/$name.msg" <<MSG
From: sender@client.test
To: ok@example.org, no@$domain
Subject: must not be delivered
Message-ID: <$name@client.test>

This message must not be delivered.
MSG
	run_postie "$name" "$WORK/$name.msg" -i -f sender@client.test \
		ok@example.org "no@$domain"
	check_exit "$name" "$want"
	if grep -qF "no@$domain" "$WORK/$name.err"; then
		pass "$name: stderr names the refused recipient"
	else
		fail "$name: stderr names the refused recipient no@$domain"
		show_stderr "$name"
	fi
	said="$code $ext <no@$domain>: Recipient address rejected: $text"
	if grep -qF -- "$said" "$WORK/$name.err" &&
		! grep -qF -- "$code $said" "$WORK/$name.err"; then
		pass "$name: stderr quotes Postfix's reply once: $said"
	else
		fail "$name: stderr quotes Postfix's reply once: $said"
		show_stderr "$name"
	fi
done

# --- plain submission, argument recipients, dot-stuffing ------------------
# With -i a lone "." is data; every line starting with "." must arrive with
# exactly the dots it had, so the client's stuffing and Postfix's
# unstuffing must agree.
cat >"$WORK/plain.msg" <<'MSG'
From: Sender <sender@client.test>
To: rcpt1@example.org
Cc: Two <rcpt2@example.net>
Subject: interop plain
Date: Mon, 23 Nov 2026 12:00:00 +0000
Message-ID: <plain@client.test>

First line.
.
..
.leading dot
...three dots
 .space then dot
.
MSG
off=$(stat -c %s "$LOG")
run_postie plain "$WORK/plain.msg" -i -f sender@client.test \
	rcpt1@example.org "Two <rcpt2@example.net>"
check_exit plain 0
if [ -s "$WORK/plain.err" ]; then
	fail "plain: nothing on stderr without -v"
	show_stderr plain
else
	pass "plain: nothing on stderr without -v"
fi
check_delivery plain "<plain@client.test>" sender@client.test \
	"$WORK/plain.msg" rcpt1@example.org rcpt2@example.net
check_mail_cmd plain "$off" "$WORK/plain.msg" 0

# --- -t: recipients from To/Cc/Bcc, Bcc removed ---------------------------
# Without -i the lone "." ends the input: what follows is not the message.
cat >"$WORK/bcc.in" <<'MSG'
From: sender@client.test
To: Alice <alice@example.org>, rcpt1@example.org
Bcc: Hidden <hidden@example.com>,
	secret@example.com
Cc: bob@example.net
Subject: interop -t
Message-ID: <bcc@client.test>

Body of the -t message.
..two dots
.
NOT PART OF THE MESSAGE: the input ended at the lone dot above.
MSG
# What must arrive: no Bcc field (nor its continuation), nothing after ".".
sed -e '/^Bcc:/,/^[^ \t]/{/^Bcc:/d;/^[ \t]/d;}' -e '/^\.$/,$d' \
	"$WORK/bcc.in" >"$WORK/bcc.msg"
off=$(stat -c %s "$LOG")
run_postie bcc "$WORK/bcc.in" -v -t -f sender@client.test
check_exit bcc 0
check_delivery bcc "<bcc@client.test>" sender@client.test "$WORK/bcc.msg" \
	alice@example.org rcpt1@example.org bob@example.net \
	hidden@example.com secret@example.com
bcc_msgs=$(deliveries_of "<bcc@client.test>" | sed 's/\.env$/.msg/')
if [ -z "$bcc_msgs" ] || grep -qi -e '^bcc:' -e 'secret@' $bcc_msgs; then
	fail "bcc: no Bcc field in the delivered message"
else
	pass "bcc: no Bcc field in the delivered message"
fi
check_mail_cmd bcc "$off" "$WORK/bcc.msg" 0

# --- 8-bit body -------------------------------------------------------------
{
	printf 'From: sender@client.test\nTo: rcpt1@example.org\n'
	printf 'Subject: interop 8bit\nMIME-Version: 1.0\n'
	printf 'Content-Type: text/plain; charset=utf-8\n'
	printf 'Content-Transfer-Encoding: 8bit\n'
	printf 'Message-ID: <8bit@client.test>\n\n'
	printf 'Gr\303\274\303\237e aus K\303\266ln \342\200\224 UTF-8.\n'
	printf 'Raw high bytes: \351\377\200\n'
	printf '.\303\251 after a dot\n'
} >"$WORK/8bit.msg"
off=$(stat -c %s "$LOG")
run_postie 8bit "$WORK/8bit.msg" -v -i -f sender@client.test rcpt1@example.org
check_exit 8bit 0
check_delivery 8bit "<8bit@client.test>" sender@client.test \
	"$WORK/8bit.msg" rcpt1@example.org
check_mail_cmd 8bit "$off" "$WORK/8bit.msg" 1

# --- null sender ----------------------------------------------------------
cat >"$WORK/null.msg" <<'MSG'
From: Mail Delivery System <mailer-daemon@client.test>
To: rcpt1@example.org
Subject: interop null sender
Message-ID: <null@client.test>

Sent with MAIL FROM:<>.
MSG
run_postie null "$WORK/null.msg" -v -i -f '<>' rcpt1@example.org
check_exit null 0
check_delivery null "<null@client.test>" "" "$WORK/null.msg" rcpt1@example.org

# --- afterwards: nothing else delivered, nothing left queued --------------
# The refused messages went first; anything they left would have been
# delivered before the later ones.
for name in refused-reject refused-tempfail; do
	if [ -n "$(deliveries_of "<$name@client.test>")" ]; then
		fail "$name: nothing delivered"
	else
		pass "$name: nothing delivered"
	fi
done
# 2 + 5 + 1 + 1 recipients above, each delivered once, nothing else.
n=$(cat "$OUT"/*.env 2>/dev/null | grep -c '^rcpt=')
others=$(grep -L -e '<plain@' -e '<bcc@' -e '<8bit@' -e '<null@' \
	"$OUT"/*.msg 2>/dev/null)
if [ "$n" = 9 ] && [ -z "$others" ]; then
	pass "no other deliveries (bounces, duplicates)"
else
	fail "no other deliveries: $n recipient deliveries, others: $others"
fi
queued=$(find "$SPOOL/incoming" "$SPOOL/active" "$SPOOL/deferred" \
	"$SPOOL/hold" "$SPOOL/maildrop" -type f 2>/dev/null | wc -l)
if [ "$queued" = 0 ]; then
	pass "Postfix queue is empty"
else
	fail "Postfix queue is empty: $queued file(s) left"
fi

interop_finish
