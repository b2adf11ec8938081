#!/bin/sh
# shellcheck disable=SC2015 # "A && B || bad": bad only records why
# TLS 1.3 session resumption (issue 7): postie keeps the last verified
# session with a server in ~/.cache/postie/tls/HOST:PORT (0600) and offers
# it on the next connection, which then skips the certificate checks. The
# sink (tests/queue/sink.py with CERT KEY: implicit TLS, one context, so
# its tickets resume) logs "S tls resumed" or "S tls full" per session.
set -u
: "${POSTIE:?set POSTIE to the built binary}"
: "${POSTIE_SRCDIR:?set POSTIE_SRCDIR to the source tree}"
PY=${PYTHON3:-python3}
SINK=$POSTIE_SRCDIR/tests/queue/sink.py
unset XDG_CACHE_HOME
command -v certtool >/dev/null || {
	echo "1..0 # SKIP certtool (gnutls-bin) not installed"
	exit 0
}
top=$(mktemp -d) || exit 99
rc=0
. "$POSTIE_SRCDIR/tests/queue/sink.sh"
trap 'sink_stop; rm -rf "$top"' EXIT
trap 'exit 130' INT TERM HUP

C=$top/certs
sh "$POSTIE_SRCDIR/tests/protocol/certs.sh" "$C" >/dev/null 2>&1 || {
	echo "Bail out! tests/protocol/certs.sh failed"
	exit 99
}
w=$top/w
mkdir -p "$w/home" "$w/tmp" || exit 99
HOME=$w/home TMPDIR=$w/tmp
export HOME TMPDIR
S=$w/sink

# start_sink CERT: the sink with CERT.pem / CERT.key, a new ticket key.
start_sink() {
	sink_start "$S" "$w/port" "$w/sink.err" "$C/$1.pem" "$C/$1.key"
	CACHE=$HOME/.cache/postie/tls/localhost:$PORT
}

# conf [LINE...]: implicit TLS to the sink, the test CA as trust file.
conf() {
	{
		printf 'account default\nhost localhost\nport %s\n' "$PORT"
		printf 'tls on\ntls_starttls off\ntls_trust_file %s\n' "$C/ca.pem"
		printf 'from sender@client.test\ndomain client.test\n'
		printf 'timeout 5\nqueue off\n'
		for l in "$@"; do printf '%s\n' "$l"; done
	} >"$w/conf"
	chmod 600 "$w/conf"
}

# ntls: TLS sessions the sink has logged so far.
ntls() { grep -c '^[0-9]* tls ' "$S/sessions.log" 2>/dev/null; }

# send: one message; exit status in $rc, stderr in $w/err. Returns once
# the sink has logged the session's handshake (a client that gives up on
# the certificate may exit before it does).
send() {
	before=$(ntls)
	printf 'Subject: resume\n\nbody\n' |
		"$POSTIE" -C "$w/conf" -v -i rcpt@example.org >/dev/null 2>"$w/err"
	rc=$?
	i=0
	while [ "$(ntls)" -le "${before:-0}" ] && [ $i -lt 100 ]; do
		i=$((i + 1))
		sleep 0.05
	done
}

# last: how the sink's last TLS session began (resumed, full, failed).
last() { sed -n 's/^[0-9]* tls \([a-z]*\).*/\1/p' "$S/sessions.log" | tail -n 1; }

# expect HOW: one send, exit 0, and the sink saw a HOW handshake.
expect() {
	send
	[ $rc -eq 0 ] || { bad "exit $rc, want 0"; return; }
	[ "$(last)" = "$1" ] || { bad "handshake $(last), want $1"; return; }
}

n=0 fails=0
t() {
	desc=$1
	shift
	n=$((n + 1))
	why=
	if "$@"; then
		echo "ok $n - $desc"
		return
	fi
	echo "not ok $n - $desc"
	fails=$((fails + 1))
	[ -n "$why" ] && printf '%s\n' "$why" | sed 's/^/# /'
	if [ -s "$w/err" ]; then
		echo "# stderr of the last postie (exit $rc):"
		sed 's/^/#   /' "$w/err"
	fi
}
bad() {
	why=$*
	return 1
}

# mode FILE: its permission bits in octal.
mode() { stat -c %a "$1"; }

c_first_full() {
	expect full || return
	[ -f "$CACHE" ] || { bad "no $CACHE"; return; }
	[ "$(mode "$CACHE")" = 600 ] || { bad "$CACHE mode $(mode "$CACHE")"; return; }
	[ "$(mode "$HOME/.cache/postie/tls")" = 700 ] || bad "tls dir mode $(mode "$HOME/.cache/postie/tls")"
	[ "$(mode "$HOME/.cache/postie")" = 700 ] || bad "postie dir mode $(mode "$HOME/.cache/postie")"
}
c_second_resumed() {
	expect resumed || return
	grep -q '^postie: TLS: session resumed' "$w/err" || bad "-v does not say resumed"
	[ "$(ls "$HOME/.cache/postie/tls" | wc -l)" -eq 1 ] || bad "left files: $(ls "$HOME/.cache/postie/tls")"
}
c_again_resumed() { expect resumed; }
c_off() {
	conf "tls_resume off"
	expect full || return
	send
	[ "$(last)" = full ] || bad "resumed with tls_resume off"
	conf
}
c_trust_touched() {
	touch -d '2020-01-01' "$C/ca.pem"
	expect full || return
	expect resumed
}
c_other_trust() {
	conf "tls_trust_file $C/bundle.pem"
	expect full || return
	expect resumed || return
	conf
	expect full
}
c_pin() {
	fp=$(certtool --fingerprint --hash sha256 --infile "$C/server.pem" 2>/dev/null |
		sed 's/../&:/g; s/:$//')
	conf "tls_fingerprint $fp"
	expect full || return
	expect resumed || return
	conf
	expect full
}
c_mode_0644() {
	expect resumed || return
	chmod 644 "$CACHE"
	expect full || return
	[ "$(mode "$CACHE")" = 600 ] || bad "not rewritten 0600: $(mode "$CACHE")"
}
c_garbage() {
	head -c 900 /dev/urandom >"$CACHE"
	expect full || return
	expect resumed
}
c_other_digest() {
	sed '1s/ [0-9a-f]\{64\} / 0000000000000000000000000000000000000000000000000000000000000000 /' \
		"$CACHE" >"$CACHE.x" && mv "$CACHE.x" "$CACHE" && chmod 600 "$CACHE"
	expect full
}
c_too_old() {
	expect resumed || return
	sed '1s/ [0-9]*$/ 1000000000/' "$CACHE" >"$CACHE.x" && mv "$CACHE.x" "$CACHE" &&
		chmod 600 "$CACHE"
	expect full
}
c_symlink() {
	expect resumed || return
	mv "$CACHE" "$w/real" && ln -s "$w/real" "$CACHE"
	expect full || return
	[ ! -L "$CACHE" ] || bad "the link was followed, not replaced"
}
c_xdg() {
	XDG_CACHE_HOME=$w/xdg
	export XDG_CACHE_HOME
	expect full || return
	[ -f "$w/xdg/postie/tls/localhost:$PORT" ] || { bad "not under XDG_CACHE_HOME"; return; }
	expect resumed
	unset XDG_CACHE_HOME
}
# The same port, another server (a new ticket key, a certificate from an
# unknown CA): the old session is offered, refused, and the full check
# runs and fails.
c_other_server() {
	send
	expect resumed || return
	old=$PORT
	start_sink unknown-issuer
	cp "$HOME/.cache/postie/tls/localhost:$old" "$CACHE" && chmod 600 "$CACHE"
	conf
	send
	[ $rc -eq 69 ] || { bad "exit $rc, want 69"; return; }
	[ "$(last)" = full ] || { bad "handshake $(last), want full"; return; }
	grep -q 'server certificate not trusted' "$w/err" || bad "no verification error"
}
c_serverinfo() {
	rm -f "$CACHE"
	"$POSTIE" -C "$w/conf" -S >"$w/out" 2>"$w/err"
	rc=$?
	[ ! -e "$CACHE" ] || bad "-S kept a session"
}

start_sink server
conf
t "first connection: full handshake, session kept 0600 in a 0700 dir" c_first_full
t "second: resumed, -v says so, one file per server" c_second_resumed
t "third: resumed again with the ticket the second one got" c_again_resumed
t "tls_resume off: full handshakes" c_off
t "the trust file changed (mtime): full, then resumed" c_trust_touched
t "another trust file: full; back: full" c_other_trust
t "tls_fingerprint instead of the CA: full, resumed, back to the CA: full" c_pin
t "a kept session others may read is not used, and is replaced 0600" c_mode_0644
t "garbage in the file: full handshake, exit 0" c_garbage
t "a session kept for another check (digest): full" c_other_digest
t "a session verified more than a day ago: full" c_too_old
t "a symbolic link in its place is not followed" c_symlink
t "XDG_CACHE_HOME is used when set" c_xdg
t "-S keeps no session" c_serverinfo
t "another server on the port: the kept session fails, the check runs: 69" c_other_server
sink_stop

c_sink_clean() {
	errs=$(cat "$w/sink.err")
	[ -z "$errs" ] || bad "$errs"
}
t "the sink reported no errors" c_sink_clean

echo "1..$n"
[ $fails -eq 0 ]
