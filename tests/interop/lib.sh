# Shared by the interop tests (sourced, not run): a private Postfix
# instance on 127.0.0.1, the pipe transport that records each delivery, and
# the checks on what was delivered.
#
# The instance runs from a temporary directory $T (its own config, queue and
# data directories, its own log file). Every recipient is routed to a
# pipe(8) transport that runs as `nobody` and writes each delivery's envelope
# and message to files, so the checks see exactly what Postfix accepted.
# Nothing outside $T is touched; a system Postfix, running or not, is left
# alone. Only processes this script started are ever signalled, by pid.
#
# A test sources this file, calls interop_init, appends its own lines to
# $ETC/main.cf and $ETC/master.cf after postfix_write_config, may
# redefine interop_stop_hook (stop its other servers) and
# interop_log_hook (print their logs when something failed), and ends
# with interop_finish.
#
# Environment: POSTIE (the built binary), POSTIE_REQUIRE_INTEROP=1 turns a
# missing prerequisite into a failure, POSTIE_KEEP_TMP=1 keeps $T.

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

# The prerequisites of every interop test: the binary, root, Postfix.
require_postfix() {
	[ -n "${POSTIE:-}" ] && [ -x "$POSTIE" ] ||
		prereq_missing "POSTIE does not name the built binary"
	[ "$(id -u)" = 0 ] || prereq_missing "must run as root to start Postfix"
	command -v postfix >/dev/null && command -v postconf >/dev/null ||
		prereq_missing "postfix is not installed"
	command -v python3 >/dev/null || prereq_missing "python3 is not installed"
	id nobody >/dev/null 2>&1 || prereq_missing "no user nobody for the pipe"
	getent passwd postfix >/dev/null || prereq_missing "no postfix user"
}

FAILED=0
STARTED=0
MASTER_PIDS=

pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; FAILED=1; }

# interop_stop_hook and interop_log_hook (defined below with the
# submission service, which they stop and whose log they print) may be
# redefined by a test that starts other servers: stop them (after Postfix,
# whose daemons may hold connections to them), print their logs after a
# failure.

# interop_init TAG: the temporary directory and the exit trap.
interop_init() {
	T=$(mktemp -d "/tmp/postie-$1.XXXXXX") || exit 1
	# Postfix daemons (user postfix) and the pipe (user nobody) walk into it.
	chmod 755 "$T"
	ETC=$T/etc SPOOL=$T/spool OUT=$T/out WORK=$T/work LOG=$T/maillog
	mkdir "$ETC" "$SPOOL" "$OUT" "$WORK" "$T/home"
	chmod 1777 "$OUT"
	: >"$LOG"
	CONFIG=$WORK/config
	trap interop_cleanup EXIT
	trap 'exit 1' INT TERM HUP
}

# free_ports N: N distinct ephemeral ports on 127.0.0.1, one a line. All
# are bound at once so that they differ; a race with another program
# taking one before Postfix binds it is possible but rare.
free_ports() {
	python3 -c 'import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks:
	s.bind(("127.0.0.1", 0))
for s in socks:
	print(s.getsockname()[1])' "$1"
}

# pid_alive PID: the process exists and is not a zombie (the init of some
# containers reaps late, and kill -0 succeeds on a zombie).
pid_alive() {
	local stat
	stat=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
	case $stat in
	Z*) return 1 ;;
	esac
	return 0
}

# wait_gone PID...: waits up to 5 s for the processes to end, then kills
# what is left. Returns 1 when something had to be killed.
wait_gone() {
	local p alive
	for _ in $(seq 50); do
		alive=
		for p in "$@"; do
			pid_alive "$p" && alive="$alive $p"
		done
		[ -z "$alive" ] && return 0
		sleep 0.1
	done
	echo "note: killing leftover processes:$alive"
	# shellcheck disable=SC2086
	kill -9 $alive 2>/dev/null
	return 1
}

# All processes of our Postfix instance: the master and its children.
instance_pids() {
	local mpid
	mpid=$(sed -n '1s/ //gp' "$SPOOL/pid/master.pid" 2>/dev/null)
	[ -n "$mpid" ] || return 0
	echo "$mpid"
	ps -o pid= --ppid "$mpid" 2>/dev/null
}

stop_postfix() {
	local pids
	[ "$STARTED" = 1 ] || return 0
	STARTED=0
	pids="$MASTER_PIDS $(instance_pids)"
	postfix -c "$ETC" stop >/dev/null 2>&1
	# shellcheck disable=SC2086
	wait_gone $pids
}

interop_cleanup() {
	local rc=$? pat
	trap - EXIT
	stop_postfix
	interop_stop_hook
	if [ "$FAILED" != 0 ] || [ "$rc" != 0 ]; then
		# The debug_peer_list noise left out: the dialogue and the events.
		echo "----- Postfix log ($LOG), SMTP dialogue and events -----"
		pat=': ([<>] |[0-9A-F]{8,}: |warning|error|fatal|panic'
		pat="$pat|(dis)?connect|lost|starting|stopping|daemon)"
		pat="$pat|TLS connection established|sasl_method|authentication failed"
		grep -E "$pat" "$LOG" 2>/dev/null
		echo "----- end of Postfix log -----"
		interop_log_hook
	fi
	if [ "${POSTIE_KEEP_TMP:-}" = 1 ]; then
		echo "note: kept $T"
	else
		rm -rf "$T"
	fi
	exit "$rc"
}

# postfix_write_config: the pipe transport, main.cf and master.cf with
# every service but the smtpd listeners, which the test appends.
postfix_write_config() {
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
# A bare LF in the data is refused, so postie must send CRLF throughout.
smtpd_forbid_bare_newline = reject
smtpd_forbid_bare_newline_exclusions =
# No syslog here: log to a file through postlogd.
maillog_file = $LOG
maillog_file_prefixes = $T
# Log the SMTP dialogue, to check what pipe(8) cannot see.
debug_peer_list = 127.0.0.1
debug_peer_level = 1
EOF

	cat >"$ETC/master.cf" <<EOF
pickup    unix  n - n 60 1 pickup
cleanup   unix  n - n - 0 cleanup
qmgr      unix  n - n 300 1 qmgr
tlsmgr    unix  - - n 1000? 1 tlsmgr
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
}

port_open() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# wait_port PORT: true once something listens there (10 s at most).
wait_port() {
	for _ in $(seq 100); do
		port_open "$1" && return 0
		sleep 0.1
	done
	return 1
}

# start_postfix PORT...: starts the instance and waits for its listeners.
start_postfix() {
	local port
	# Set first: a signal during the start must still stop what got started.
	STARTED=1
	if ! postfix -c "$ETC" start >"$T/start.log" 2>&1; then
		fail "postfix -c $ETC start"
		cat "$T/start.log"
		exit 1
	fi
	MASTER_PIDS=$(instance_pids)
	pass "private Postfix started on 127.0.0.1 port(s) $*"
	for port in "$@"; do
		if ! wait_port "$port"; then
			fail "Postfix listens on 127.0.0.1:$port within 10 s"
			exit 1
		fi
	done
}

# run_postie NAME INPUT ARGS...: runs postie with $CONFIG, sets RC; stderr
# in NAME.err.
run_postie() {
	local name=$1 input=$2
	shift 2
	HOME=$T/home timeout 20 "$POSTIE" -C "$CONFIG" "$@" \
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
	# shellcheck disable=SC2086
	got_senders=$(cat $envs | sed -n 's/^sender=//p' | sort -u)
	if [ "$got_senders" = "$sender" ]; then
		pass "$name: envelope sender is <$sender>"
	else
		fail "$name: envelope sender: want <$sender>, got <$got_senders>"
	fi
	# shellcheck disable=SC2086
	got_rcpts=$(cat $envs | sed -n 's/^rcpt=//p' | sort)
	want_rcpts=$(printf '%s\n' "$@" | sort)
	if [ "$got_rcpts" = "$want_rcpts" ]; then
		pass "$name: envelope recipients are exactly $*"
	else
		# shellcheck disable=SC2086
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

log_size() {
	stat -c %s "$LOG"
}

# interop_finish: stops Postfix (a check of its own) and the rest, prints
# postie's stderr of every run when something failed, and exits.
# check_queue_empty: nothing was left in Postfix's queue (no bounce, no
# deferred delivery).
check_queue_empty() {
	local queued
	queued=$(find "$SPOOL/incoming" "$SPOOL/active" "$SPOOL/deferred" \
		"$SPOOL/hold" "$SPOOL/maildrop" -type f 2>/dev/null | wc -l)
	if [ "$queued" = 0 ]; then
		pass "Postfix queue is empty"
	else
		fail "Postfix queue is empty: $queued file(s) left"
	fi
}

interop_finish() {
	local f
	if stop_postfix; then
		pass "private Postfix stopped, no process left"
	else
		fail "private Postfix stopped, no process left"
	fi
	interop_stop_hook
	[ "$FAILED" = 0 ] && exit 0
	echo "postie's stderr from each run (the -v transcript where -v was given):"
	for f in "$WORK"/*.err; do
		[ -s "$f" ] || continue
		echo "== ${f##*/}"
		cat -v "$f"
	done
	exit 1
}

# --- authenticated submission: Postfix + Dovecot SASL, TLS --------------------
# Shared by submission.sh and callers.sh. A private Dovecot runs only its
# auth service (no IMAP, no POP3, no inet listener): a passwd-file with
# alice's {PLAIN} password, so that every mechanism it knows can be served
# (CRAM-MD5 and SCRAM need the plain password). The private Postfix asks it
# through a unix socket in $T and listens on two ephemeral 127.0.0.1 ports:
# $SUB_PORT, which requires STARTTLS before AUTH and AUTH before relaying,
# and $SMTPS_PORT, the same with implicit TLS (wrappermode). The server
# certificate (DNS localhost, IP 127.0.0.1) and its CA ($CERTS/ca.pem) are
# made with certtool; $FINGERPRINT is its SHA-256 as AA:BB:...
#
# A test calls require_submission instead of require_postfix, then
# interop_init, then submission_start; the default hooks below stop
# Dovecot and print its log.

USER_NAME=alice
PASSWORD='Rabbit-hole.42'
DOVE_STARTED=0
DOVE_PIDS=

require_submission() {
	require_postfix
	command -v dovecot >/dev/null ||
		prereq_missing "dovecot-core is not installed"
	command -v certtool >/dev/null ||
		prereq_missing "gnutls-bin is not installed"
	getent passwd dovecot >/dev/null && getent passwd dovenull >/dev/null ||
		prereq_missing "no dovecot or dovenull user (dovecot-core)"
}

# certtool_quiet ARGS...: certtool with its output kept for a failure.
certtool_quiet() {
	certtool --no-text "$@" >>"$CERTS/certtool.log" 2>&1
}

# make_certs: a CA, and a server certificate it signed.
make_certs() {
	local k
	for k in ca server; do
		certtool_quiet --generate-privkey --key-type=ecdsa \
			--outfile "$CERTS/$k.key" || return 1
	done
	printf '%s\n' 'cn = "postie interop CA"' ca cert_signing_key \
		'expiration_days = 2' >"$CERTS/ca.tmpl"
	printf '%s\n' 'cn = "localhost"' 'dns_name = "localhost"' \
		'ip_address = "127.0.0.1"' tls_www_server signing_key \
		'expiration_days = 2' >"$CERTS/server.tmpl"
	certtool_quiet --generate-self-signed --load-privkey "$CERTS/ca.key" \
		--template "$CERTS/ca.tmpl" --outfile "$CERTS/ca.pem" &&
		certtool_quiet --generate-certificate \
			--load-privkey "$CERTS/server.key" \
			--load-ca-certificate "$CERTS/ca.pem" \
			--load-ca-privkey "$CERTS/ca.key" \
			--template "$CERTS/server.tmpl" --outfile "$CERTS/server.pem"
}

submission_certs() {
	if ! make_certs; then
		fail "certificates made with certtool"
		cat "$CERTS/certtool.log"
		exit 1
	fi
	# The pin: SHA-256 of the server certificate (DER), as AA:BB:...
	FINGERPRINT=$(python3 -c 'import hashlib, ssl, sys
der = ssl.PEM_cert_to_DER_cert(open(sys.argv[1]).read())
h = hashlib.sha256(der).hexdigest().upper()
print(":".join(h[i:i + 2] for i in range(0, len(h), 2)))' "$CERTS/server.pem") ||
		exit 1
	pass "certificates made (server SHA-256 $FINGERPRINT)"
}

dovecot_pids() {
	local mpid
	mpid=$(cat "$DOVE/run/master.pid" 2>/dev/null)
	[ -n "$mpid" ] || return 0
	echo "$mpid"
	ps -o pid= --ppid "$mpid" 2>/dev/null
}

stop_dovecot() {
	local mpid pids
	[ "$DOVE_STARTED" = 1 ] || return 0
	DOVE_STARTED=0
	mpid=$(cat "$DOVE/run/master.pid" 2>/dev/null)
	pids="$DOVE_PIDS $(dovecot_pids)"
	# The master stops its children; signalled too, they log errors.
	[ -n "$mpid" ] && kill "$mpid" 2>/dev/null
	# shellcheck disable=SC2086
	wait_gone $pids
}

# The default hooks: nothing to do unless submission_start ran.
interop_stop_hook() {
	[ "$DOVE_STARTED" = 1 ] || return 0
	if stop_dovecot; then
		pass "private Dovecot stopped, no process left"
	else
		fail "private Dovecot stopped, no process left"
	fi
}
interop_log_hook() {
	[ -n "${DOVE_LOG:-}" ] || return 0
	echo "----- Dovecot log ($DOVE_LOG) -----"
	cat "$DOVE_LOG" 2>/dev/null
	echo "----- end of Dovecot log -----"
}

# submission_dovecot: the auth service only.
submission_dovecot() {
	printf '%s:{PLAIN}%s\n' "$USER_NAME" "$PASSWORD" >"$DOVE/passwd"
	chgrp dovecot "$DOVE/passwd" && chmod 640 "$DOVE/passwd"
	cat >"$DOVE/dovecot.conf" <<EOF
# Only what the test needs: Postfix's SASL backend, on a unix socket.
base_dir = $DOVE/run
state_dir = $DOVE/state
instance_name = postie-interop-$$
log_path = $DOVE_LOG
protocols = none
listen = 127.0.0.1
ssl = no
# Postfix has already required TLS before it passes AUTH on.
disable_plaintext_auth = no
auth_mechanisms = plain login cram-md5 scram-sha-1 scram-sha-256
# A failed login answers at once: the test needs no brute-force brake.
auth_failure_delay = 0
auth_verbose = yes
default_internal_user = dovecot
default_login_user = dovenull
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $DOVE/passwd
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=/nonexistent
}
service auth {
  unix_listener $SASL/auth {
    mode = 0660
    user = postfix
    group = postfix
  }
}
EOF
	mkdir "$DOVE/run" "$DOVE/state"
	DOVE_STARTED=1
	if ! dovecot -c "$DOVE/dovecot.conf" </dev/null >"$DOVE/start.log" 2>&1; then
		fail "dovecot -c $DOVE/dovecot.conf"
		cat "$DOVE/start.log"
		exit 1
	fi
	for _ in $(seq 100); do
		[ -S "$SASL/auth" ] && [ -s "$DOVE/run/master.pid" ] && break
		sleep 0.1
	done
	DOVE_PIDS=$(dovecot_pids)
	if [ -S "$SASL/auth" ]; then
		pass "private Dovecot started, auth socket $SASL/auth"
	else
		fail "Dovecot makes its auth socket within 10 s"
		exit 1
	fi
}

# submission_postfix: submission (STARTTLS) and submissions (implicit TLS).
submission_postfix() {
	local opts
	postfix_write_config
	cat >>"$ETC/main.cf" <<EOF
smtpd_tls_cert_file = $CERTS/server.pem
smtpd_tls_key_file = $CERTS/server.key
smtpd_tls_loglevel = 1
# The Received: field names the TLS version and cipher.
smtpd_tls_received_header = yes
# Nobody relays without AUTH, loopback included.
smtpd_relay_restrictions = permit_sasl_authenticated, reject
smtpd_recipient_restrictions = permit_sasl_authenticated, reject
EOF
	# Both services: TLS required, AUTH only over TLS, through Dovecot.
	opts="-o smtpd_tls_security_level=encrypt -o smtpd_tls_auth_only=yes"
	opts="$opts -o smtpd_sasl_auth_enable=yes -o smtpd_sasl_type=dovecot"
	opts="$opts -o smtpd_sasl_path=$SASL/auth"
	opts="$opts -o smtpd_recipient_restrictions=permit_sasl_authenticated,reject"
	cat >>"$ETC/master.cf" <<EOF
127.0.0.1:$SUB_PORT inet n - n - - smtpd
  -o syslog_name=postfix/submission $opts
127.0.0.1:$SMTPS_PORT inet n - n - - smtpd
  -o syslog_name=postfix/submissions -o smtpd_tls_wrappermode=yes $opts
EOF
	start_postfix "$SUB_PORT" "$SMTPS_PORT"
}

# submission_start: certificates, Dovecot, Postfix; after interop_init.
submission_start() {
	CERTS=$T/certs DOVE=$T/dovecot SASL=$T/sasl
	DOVE_LOG=$T/dovecot.log
	mkdir "$CERTS" "$DOVE" "$SASL"
	{ read -r SUB_PORT && read -r SMTPS_PORT; } < <(free_ports 2)
	[ -n "${SMTPS_PORT:-}" ] || exit 1
	submission_certs
	submission_dovecot
	submission_postfix
}
