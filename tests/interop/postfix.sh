#!/bin/bash
# Interop: submit through a real Postfix and check what it delivered.
#
# A private Postfix instance (lib.sh) runs on 127.0.0.1 at an ephemeral
# port and records every delivery's envelope and message in files, so the
# checks see exactly what Postfix accepted. Plain SMTP here (tls off):
# refusals, dot-stuffing, -t and Bcc, 8-bit data, the null sender,
# international mail (EAI with SMTPUTF8, IDN as A-labels without it) and
# a Debian cron mail repaired with aliases and maildomain.
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
# PORT offers SMTPUTF8; PORT2 is the same server without it.
ports=$(free_ports 2) || exit 1
PORT=$(sed -n 1p <<<"$ports") PORT2=$(sed -n 2p <<<"$ports")

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
# RFC 6531: SMTPUTF8 offered, and UTF-8 addresses refused without it, so
# an EAI delivery proves postie asked for it.
cat >>"$ETC/main.cf" <<EOF
smtputf8_enable = yes
strict_smtputf8 = yes
EOF
cat >>"$ETC/master.cf" <<EOF
127.0.0.1:$PORT inet n - n - - smtpd
127.0.0.1:$PORT2 inet n - n - - smtpd
  -o smtputf8_enable=no
EOF
start_postfix "$PORT" "$PORT2"

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
# Exit codes are what these checks prove; the queue has its own section.
queue off
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

# --- international mail ---------------------------------------------------
# smtp_cmd_logged OFFSET VERB: the last VERB command (MAIL, RCPT) Postfix
# logged after OFFSET, as the client sent it.
smtp_cmd_logged() {
	log_since "$1" |
		sed -n "s/.*: < [^ ]*\[127\.0\.0\.1\]: \($2 .*\)/\1/Ip" |
		tail -n 1
}

# EAI (RFC 6531): a UTF-8 local part at a Unicode domain, a UTF-8 Subject.
# Postfix (strict_smtputf8) takes the UTF-8 address only with SMTPUTF8 on
# MAIL; the envelope and every byte must arrive as sent.
eai_rcpt=$(printf 'j\303\266rg@b\303\274cher.example')
{
	printf 'From: sender@client.test\nTo: %s\n' "$eai_rcpt"
	printf 'Subject: Gr\303\274\303\237e \342\200\224 EAI\n'
	printf 'MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n'
	printf 'Content-Transfer-Encoding: 8bit\n'
	printf 'Message-ID: <eai@client.test>\n\n'
	printf 'K\303\266ln, \346\235\261\344\272\254, \320\234\320\276\321\201\320\272\320\262\320\260.\n'
} >"$WORK/eai.msg"
off=$(log_size)
run_postie eai "$WORK/eai.msg" -v -i -f sender@client.test "$eai_rcpt"
check_exit eai 0
check_delivery eai "<eai@client.test>" sender@client.test "$WORK/eai.msg" \
	"$eai_rcpt"
if [ "$RC" = 0 ]; then
	mail=$(smtp_cmd_logged "$off" MAIL)
	if printf '%s\n' "$mail" | grep -qi ' SMTPUTF8\( \|$\)'; then
		pass "eai: MAIL carries SMTPUTF8"
	else
		fail "eai: MAIL carries SMTPUTF8: ${mail:-(not logged)}"
	fi
	rcpt=$(smtp_cmd_logged "$off" RCPT)
	if [ "$rcpt" = "RCPT TO:<$eai_rcpt>" ]; then
		pass "eai: RCPT names the address in UTF-8, not in A-labels"
	else
		fail "eai: RCPT names the address in UTF-8: ${rcpt:-(not logged)}"
	fi
fi

# IDN only (RFC 5890): an ASCII local part at a Unicode domain, to the
# service without SMTPUTF8: the domain must go as its A-label.
sed "s/^port .*/port $PORT2/" "$CONFIG" >"$WORK/config-ascii"
chmod 600 "$WORK/config-ascii"
idn_rcpt=$(printf 'user@b\303\274cher.example')
cat >"$WORK/idn.msg" <<'MSG'
From: sender@client.test
To: user@xn--bcher-kva.example
Subject: interop IDN without SMTPUTF8
Message-ID: <idn@client.test>

The envelope domain went as an A-label.
MSG
off=$(log_size)
CONFIG=$WORK/config-ascii run_postie idn "$WORK/idn.msg" -v -i \
	-f sender@client.test "$idn_rcpt"
check_exit idn 0
check_delivery idn "<idn@client.test>" sender@client.test "$WORK/idn.msg" \
	user@xn--bcher-kva.example
if [ "$RC" = 0 ]; then
	mail=$(smtp_cmd_logged "$off" MAIL)
	if [ -n "$mail" ] && ! printf '%s\n' "$mail" | grep -qi 'SMTPUTF8'; then
		pass "idn: MAIL without SMTPUTF8 (not offered)"
	else
		fail "idn: MAIL without SMTPUTF8: ${mail:-(not logged)}"
	fi
fi

# The EAI address cannot go without SMTPUTF8: exit 65, and before any
# envelope is sent.
sed 's/<eai@/<eai-refused@/' "$WORK/eai.msg" >"$WORK/eai-refused.msg"
off=$(log_size)
CONFIG=$WORK/config-ascii run_postie eai-refused "$WORK/eai-refused.msg" \
	-i -f sender@client.test "$eai_rcpt"
check_exit eai-refused 65
if grep -qi 'SMTPUTF8' "$WORK/eai-refused.err"; then
	pass "eai-refused: stderr says SMTPUTF8 is needed"
else
	fail "eai-refused: stderr says SMTPUTF8 is needed"
	show_stderr eai-refused
fi
sleep 0.5
if [ -z "$(smtp_cmd_logged "$off" MAIL)" ]; then
	pass "eai-refused: no MAIL command sent"
else
	fail "eai-refused: no MAIL command sent: $(smtp_cmd_logged "$off" MAIL)"
fi

# --- Debian cron, bare names repaired (aliases, maildomain) ---------------
# Exactly what Debian cron 3.0pl1 runs and writes (tests/protocol/
# CALLERS.md), header repair at its defaults. postie.conf(5): a bare name
# whose alias is one address shows that address, in the envelope and in
# From:/To: (every other byte of the field kept); Date: and Message-ID: are
# added at the top, in that order; the rest arrives byte for byte.
cat >"$WORK/aliases" <<'EOF'
root: admin@example.org
EOF
cat >"$WORK/config-cron" <<EOF
account default
host 127.0.0.1
port $PORT
tls off
domain client.test
timeout 10
from root
maildomain example.org
aliases $WORK/aliases
EOF
chmod 600 "$WORK/config-cron"
{
	printf 'From: root (Cron Daemon)\nTo: root\n'
	printf 'Subject: Cron <root@host> true\nMIME-Version: 1.0\n'
	printf 'Content-Type: text/plain; charset=UTF-8\n'
	printf 'Content-Transfer-Encoding: 8bit\n'
	printf 'X-Cron-Env: <SHELL=/bin/sh>\nX-Cron-Env: <HOME=/root>\n'
	printf 'X-Cron-Env: <PATH=/usr/bin:/bin>\nX-Cron-Env: <LOGNAME=root>\n\n'
	printf 'job output \342\234\223 (interop-cron)\n'
} >"$WORK/cron.in"
# Expected without the two added fields (checked by pattern below).
sed -e 's/^From: root (Cron Daemon)$/From: admin@example.org (Cron Daemon)/' \
	-e 's/^To: root$/To: admin@example.org/' "$WORK/cron.in" \
	>"$WORK/cron.rest"
CONFIG=$WORK/config-cron run_postie cron "$WORK/cron.in" \
	-FCronDaemon -i -B8BITMIME -oem root
check_exit cron 0
cron_marker='(interop-cron)'
if [ "$RC" = 0 ] && wait_delivery "$cron_marker" 1; then
	got=$(deliveries_of "$cron_marker" | head -n 1)
	strip_received "${got%.env}.msg" >"$WORK/cron.got"
	date_re='^Date: (Mon|Tue|Wed|Thu|Fri|Sat|Sun), [0-9]{1,2} '
	date_re+='(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [0-9]{4} '
	date_re+='[0-9]{2}:[0-9]{2}:[0-9]{2} [+-][0-9]{4}$'
	if sed -n 1p "$WORK/cron.got" | grep -Eq "$date_re"; then
		pass "cron: Date: added as the first field"
	else
		fail "cron: Date: added as the first field: $(sed -n 1p "$WORK/cron.got")"
	fi
	if sed -n 2p "$WORK/cron.got" |
		grep -Eq '^Message-ID: <[^<>@ ]+@example\.org>$'; then
		pass "cron: Message-ID: added second, in the sender's domain"
	else
		fail "cron: Message-ID: added second: $(sed -n 2p "$WORK/cron.got")"
	fi
	# The rest (From/To qualified in place) byte for byte, and the
	# envelope, through the common check.
	{ head -n 2 "$WORK/cron.got"; cat "$WORK/cron.rest"; } >"$WORK/cron.msg"
fi
check_delivery cron "$cron_marker" admin@example.org "$WORK/cron.msg" \
	admin@example.org

# --- the queue: kept while Postfix is out of reach, sent by -q ------------
# The same account, first pointed at a port nothing listens on: queued
# (exit 0, one line); then postie -q with the real config delivers each
# queued message exactly once and leaves postie's queue empty.
DOWN=$WORK/down.conf
sed -e "s/^port .*/port $(free_ports 1)/" -e 's/^queue off$/queue on/' \
	"$CONFIG" >"$DOWN"
chmod 600 "$DOWN"
for name in queued-a queued-b; do
	printf 'From: sender@client.test\nTo: %s@example.org\nSubject: kept\nMessage-ID: <%s@client.test>\n\nWaited for the relay.\n' \
		"$name" "$name" >"$WORK/$name.msg"
	HOME=$T/home timeout 20 "$POSTIE" -C "$DOWN" -i -f sender@client.test \
		"$name@example.org" <"$WORK/$name.msg" >/dev/null 2>"$WORK/$name.err"
	RC=$?
	check_exit "$name: relay down, queued" 0
	if grep -Eq "^postie: queued as [0-9a-f]{16}: cannot connect" \
		"$WORK/$name.err" && [ "$(wc -l <"$WORK/$name.err")" = 1 ]; then
		pass "$name: one stderr line names the queue id and the reason"
	else
		fail "$name: one stderr line names the queue id and the reason"
		show_stderr "$name"
	fi
done
HOME=$T/home "$POSTIE" -C "$CONFIG" -bp >"$WORK/mailq.out" 2>&1
if grep -q '^2 queued, 0 failed$' "$WORK/mailq.out" &&
	grep -q 'last error: cannot connect' "$WORK/mailq.out"; then
	pass "mailq lists both with the reason"
else
	fail "mailq lists both with the reason:"
	sed 's/^/    /' "$WORK/mailq.out"
fi
run_postie queue-run /dev/null -q
check_exit "postie -q" 0
check_delivery queued-a "<queued-a@client.test>" sender@client.test \
	"$WORK/queued-a.msg" queued-a@example.org
check_delivery queued-b "<queued-b@client.test>" sender@client.test \
	"$WORK/queued-b.msg" queued-b@example.org
if [ "$(HOME=$T/home "$POSTIE" -C "$CONFIG" -bp 2>&1)" = "Mail queue is empty" ]; then
	pass "postie's queue is empty after -q"
else
	fail "postie's queue is empty after -q"
fi

# --- afterwards: nothing else delivered, nothing left queued --------------
# The refused messages went first; anything they left would have been
# delivered before the later ones.
for name in refused-reject refused-tempfail eai-refused; do
	if [ -n "$(deliveries_of "<$name@client.test>")" ]; then
		fail "$name: nothing delivered"
	else
		pass "$name: nothing delivered"
	fi
done
# 2 + 5 + 1 + 1 + 1 + 1 + 1 + 2 (queued) recipients above, each delivered
# once, nothing else.
n=$(cat "$OUT"/*.env 2>/dev/null | grep -c '^rcpt=')
others=$(grep -L -e '<plain@' -e '<bcc@' -e '<8bit@' -e '<null@' \
	-e '<eai@' -e '<idn@' -e "$cron_marker" -e '<queued-' \
	"$OUT"/*.msg 2>/dev/null)
if [ "$n" = 14 ] && [ -z "$others" ]; then
	pass "no other deliveries (bounces, duplicates)"
else
	fail "no other deliveries: $n recipient deliveries, others: $others"
fi
check_queue_empty

interop_finish
