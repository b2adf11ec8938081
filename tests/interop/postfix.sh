#!/bin/bash
# Interop: submit through a real Postfix and check what it delivered.
#
# A private Postfix instance runs from a temporary directory (its own
# config, queue and data directories, its own log file) on 127.0.0.1 at an
# ephemeral port. Every recipient is routed to a pipe(8) transport that runs
# as `nobody` and writes each delivery's envelope and message to files, so the
# checks see exactly what Postfix accepted. Nothing outside the temporary
# directory is touched; a system Postfix, running or not, is left alone.
#
# Environment: POSTIE (the built binary), POSTIE_SRCDIR (source tree),
# POSTIE_REQUIRE_INTEROP=1 turns a missing prerequisite into a failure,
# POSTIE_KEEP_TMP=1 keeps the temporary directory for inspection.
# Exit: 0 every check passed, 1 a check failed, 77 skipped.

# make check runs us with $(SHELL), which is /bin/sh.
if [ -z "${BASH_VERSION:-}" ]; then
	exec bash "$0" "$@"
fi
set -u
export LC_ALL=C
PATH=$PATH:/usr/sbin:/sbin

prereq_missing() {
	if [ "${POSTIE_REQUIRE_INTEROP:-}" = 1 ]; then
		echo "FAIL: prerequisite: $1 (POSTIE_REQUIRE_INTEROP=1)"
		exit 1
	fi
	echo "SKIP: $1"
	exit 77
}

[ -n "${POSTIE:-}" ] && [ -x "$POSTIE" ] ||
	prereq_missing "POSTIE does not name the built binary"
[ "$(id -u)" = 0 ] || prereq_missing "must run as root to start Postfix"
command -v postfix >/dev/null && command -v postconf >/dev/null ||
	prereq_missing "postfix is not installed"
command -v python3 >/dev/null || prereq_missing "python3 is not installed"
id nobody >/dev/null 2>&1 || prereq_missing "no user nobody for the pipe"
getent passwd postfix >/dev/null || prereq_missing "no postfix user"

T=$(mktemp -d /tmp/postie-pf.XXXXXX) || exit 1
# Postfix daemons (user postfix) and the pipe (user nobody) walk into it.
chmod 755 "$T"
ETC=$T/etc SPOOL=$T/spool OUT=$T/out WORK=$T/work LOG=$T/maillog
mkdir "$ETC" "$SPOOL" "$OUT" "$WORK" "$T/home"
chmod 1777 "$OUT"
: >"$LOG"

FAILED=0
STARTED=0
MASTER_PIDS=

pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; FAILED=1; }

# All processes of our instance: the master and its children. Recorded by
# pid so that only what this script started is ever signalled.
instance_pids() {
	local mpid
	mpid=$(sed -n '1s/ //gp' "$SPOOL/pid/master.pid" 2>/dev/null)
	[ -n "$mpid" ] || return 0
	echo "$mpid"
	ps -o pid= --ppid "$mpid" 2>/dev/null
}

stop_postfix() {
	local pids p alive
	[ "$STARTED" = 1 ] || return 0
	STARTED=0
	pids="$MASTER_PIDS $(instance_pids)"
	postfix -c "$ETC" stop >/dev/null 2>&1
	for _ in $(seq 50); do
		alive=
		for p in $pids; do
			kill -0 "$p" 2>/dev/null && alive="$alive $p"
		done
		[ -z "$alive" ] && return 0
		sleep 0.1
	done
	echo "note: killing leftover Postfix processes:$alive"
	kill -9 $alive 2>/dev/null
	return 1
}

cleanup() {
	local rc=$?
	trap - EXIT
	stop_postfix
	if [ "$FAILED" != 0 ] || [ "$rc" != 0 ]; then
		# The debug_peer_list noise left out: the dialogue and the events.
		echo "----- Postfix log ($LOG), SMTP dialogue and events -----"
		pat=': ([<>] |[0-9A-F]{8,}: |warning|error|fatal|panic'
		pat="$pat|(dis)?connect|lost|starting|stopping|daemon)"
		grep -E "$pat" "$LOG" 2>/dev/null
		echo "----- end of Postfix log -----"
	fi
	if [ "${POSTIE_KEEP_TMP:-}" = 1 ]; then
		echo "note: kept $T"
	else
		rm -rf "$T"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

PORT=$(python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])') || exit 1

# --- the pipe transport: one delivery = ID.env (envelope) + ID.msg --------
cat >"$T/deliver.sh" <<'EOF'
#!/bin/sh
# argv: OUTDIR QUEUE_ID SENDER RECIPIENT...; message on stdin.
out=$1 id=$2 sender=$3
shift 3
tmp=$out/.tmp.$id.$$
{
	printf 'sender=%s\n' "$sender"
	for r in "$@"; do printf 'rcpt=%s\n' "$r"; done
} >"$tmp.env" || exit 75
cat >"$tmp.msg" || exit 75
# The .env file appears last, complete: the test polls for it.
mv "$tmp.msg" "$out/$id.$$.msg" && mv "$tmp.env" "$out/$id.$$.env" || exit 75
EOF
chmod 755 "$T/deliver.sh"

# --- scripted refusals ---------------------------------------------------
cat >"$ETC/access" <<'EOF'
reject.test	550 5.7.1 no
tempfail.test	450 4.7.1 later
EOF

cat >"$ETC/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $SPOOL
data_directory = $T/data
myhostname = server.test
mydomain = server.test
myorigin = server.test
mydestination =
relay_domains =
local_recipient_maps =
alias_maps =
alias_database =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_banner = \$myhostname ESMTP
biff = no
# Mail from loopback must arrive untouched: no header rewriting, no
# headers added for "local" clients.
local_header_rewrite_clients =
# Every recipient goes to the pipe; nothing ever leaves this instance.
transport_maps = static:deliver:sink.test
default_transport = error:5.3.0 test instance delivers nowhere else
relay_transport = error:5.3.0 test instance delivers nowhere else
local_transport = error:5.3.0 test instance delivers nowhere else
virtual_transport = error:5.3.0 test instance delivers nowhere else
smtpd_relay_restrictions = permit_mynetworks, reject
smtpd_recipient_restrictions = check_recipient_access texthash:$ETC/access,
	permit_mynetworks, reject
# A bare LF in the data is refused, so postie must send CRLF throughout.
smtpd_forbid_bare_newline = reject
smtpd_forbid_bare_newline_exclusions =
# No syslog here: log to a file through postlogd.
maillog_file = $LOG
maillog_file_prefixes = $T
# Log the SMTP dialogue, to check the ESMTP parameters pipe(8) cannot see.
debug_peer_list = 127.0.0.1
debug_peer_level = 1
EOF

cat >"$ETC/master.cf" <<EOF
127.0.0.1:$PORT inet n - n - - smtpd
pickup    unix  n - n 60 1 pickup
cleanup   unix  n - n - 0 cleanup
qmgr      unix  n - n 300 1 qmgr
rewrite   unix  - - n - - trivial-rewrite
bounce    unix  - - n - 0 bounce
defer     unix  - - n - 0 bounce
trace     unix  - - n - 0 bounce
verify    unix  - - n - 1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n - - proxymap
showq     unix  n - n - - showq
error     unix  - - n - - error
retry     unix  - - n - - error
discard   unix  - - n - - discard
anvil     unix  - - n - 1 anvil
scache    unix  - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
deliver   unix  - n n - - pipe
  flags= null_sender= user=nobody
  argv=$T/deliver.sh $OUT \${queue_id} \${sender} \${recipient}
EOF

# --- start and wait for the listener --------------------------------------
# Set first: a signal during the start must still stop what got started.
STARTED=1
if ! postfix -c "$ETC" start >"$T/start.log" 2>&1; then
	fail "postfix -c $ETC start"
	cat "$T/start.log"
	exit 1
fi
MASTER_PIDS=$(instance_pids)
pass "private Postfix started on 127.0.0.1:$PORT"

port_open() {
	(exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null
}
listening=0
for _ in $(seq 100); do
	port_open && listening=1 && break
	sleep 0.1
done
if [ "$listening" != 1 ]; then
	fail "Postfix listens on 127.0.0.1:$PORT within 10 s"
	exit 1
fi

# --- submission helpers ---------------------------------------------------
cat >"$WORK/config" <<EOF
account default
host 127.0.0.1
port $PORT
tls off
domain client.test
timeout 10
EOF
chmod 600 "$WORK/config"

# run_postie NAME INPUT ARGS...: runs postie, sets RC; stderr in NAME.err.
run_postie() {
	local name=$1 input=$2
	shift 2
	HOME=$T/home timeout 20 "$POSTIE" -C "$WORK/config" "$@" \
		<"$input" >"$WORK/$name.out" 2>"$WORK/$name.err"
	RC=$?
}

show_stderr() {
	sed 's/^/    stderr: /' "$WORK/$1.err"
}

# Deliveries whose message holds the marker (a Message-ID), as .env paths.
deliveries_of() {
	local f
	for f in "$OUT"/*.msg; do
		[ -e "$f" ] || continue
		grep -qF -- "$1" "$f" && echo "${f%.msg}.env"
	done
}

# wait_delivery MARKER COUNT: waits until COUNT recipients of the message
# carrying MARKER have been delivered. Delivery takes well under a second;
# after one wait ran out, later waits are short so a broken run ends soon.
WAIT_TENTHS=200
wait_delivery() {
	local n
	for _ in $(seq "$WAIT_TENTHS"); do
		n=$(deliveries_of "$1" | xargs -r cat 2>/dev/null | grep -c '^rcpt=')
		[ "$n" -ge "$2" ] && return 0
		sleep 0.1
	done
	WAIT_TENTHS=20
	return 1
}

# The delivered message minus the one Received: field Postfix prepends
# (with its continuation lines).
strip_received() {
	awk 'NR == 1 { if ($0 !~ /^Received: /) { bad = 1 } else { skip = 1; next } }
	     skip && /^[ \t]/ { next }
	     { skip = 0; print }
	     END { exit bad }' "$1"
}

# check_delivery NAME MARKER SENDER EXPECTED-MSG RCPT...
check_delivery() {
	local name=$1 marker=$2 sender=$3 expect=$4 env envs limit
	local got_senders got_rcpts want_rcpts
	shift 4
	if [ "$RC" != 0 ]; then
		fail "$name: delivery not checked: the submission failed"
		return
	fi
	limit=$((WAIT_TENTHS / 10))
	if ! wait_delivery "$marker" "$#"; then
		fail "$name: delivered to $# recipient(s) within $limit s"
		return
	fi
	envs=$(deliveries_of "$marker")
	got_senders=$(cat $envs | sed -n 's/^sender=//p' | sort -u)
	if [ "$got_senders" = "$sender" ]; then
		pass "$name: envelope sender is <$sender>"
	else
		fail "$name: envelope sender: want <$sender>, got <$got_senders>"
	fi
	got_rcpts=$(cat $envs | sed -n 's/^rcpt=//p' | sort)
	want_rcpts=$(printf '%s\n' "$@" | sort)
	if [ "$got_rcpts" = "$want_rcpts" ]; then
		pass "$name: envelope recipients are exactly $*"
	else
		fail "$name: envelope recipients: want [$(echo $want_rcpts)]," \
			"got [$(echo $got_rcpts)]"
	fi
	for env in $envs; do
		if ! strip_received "${env%.env}.msg" >"$WORK/$name.got"; then
			fail "$name: delivered message starts with Postfix's Received:"
		elif cmp -s "$expect" "$WORK/$name.got"; then
			pass "$name: delivered header and body equal the input" \
				"($(basename "${env%.env}"))"
		else
			fail "$name: delivered message differs from the input:"
			diff -u "$expect" "$WORK/$name.got" | sed 's/^/    /' |
				cat -v | head -40
		fi
	done
}

check_exit() {
	local name=$1 want=$2
	if [ "$RC" = "$want" ]; then
		pass "$name: exit code $want"
	else
		fail "$name: exit code: want $want, got $RC"
		show_stderr "$name"
	fi
}

# log_since OFFSET: the Postfix log written after byte OFFSET.
log_since() {
	tail -c +"$(($1 + 1))" "$LOG"
}

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

if stop_postfix; then
	pass "private Postfix stopped, no process left"
else
	fail "private Postfix stopped, no process left"
fi

if [ "$FAILED" = 0 ]; then
	exit 0
fi
echo "postie's stderr from each run (the -v transcript where -v was given):"
for f in "$WORK"/*.err; do
	[ -s "$f" ] || continue
	echo "== ${f##*/}"
	cat -v "$f"
done
exit 1
