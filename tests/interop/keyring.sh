#!/bin/bash
# Interop: passwords from the freedesktop keyring (configure
# --with-libsecret) through a real gnome-keyring-daemon.
#
# The script runs itself again under dbus-run-session (a private session
# bus that ends with it), starts gnome-keyring-daemon there with a new
# login keyring unlocked by a throwaway password, in a temporary HOME and
# XDG directories, and stores entries with secret-tool exactly as msmtp's
# manual tells users to. Then:
#   - tests/unit/test_keyring live: keyring_lookup finds msmtp's entries
#     (and the older libgnome-keyring ones), misses the rest, and comes in
#     secret_lookup's order (after password, passwordeval and netrc, which
#     when they answer leave libsecret unloaded);
#   - test_keyring nobus / badbus: no bus, or a dead one, is passed over
#     with the reason in the "no password" error;
#   - postie itself authenticates (AUTH PLAIN over STARTTLS, against the
#     scripted peer run by cases.tap) with the password from the keyring,
#     and without an entry exits 78 naming the user.
# libsecret or GLib printing anything on stderr is a failure too.
#
# A build without --with-libsecret checks that its keyring says "this build
# has no keyring support" and reports SKIP.
#
# Environment: POSTIE (the built binary; test_keyring is found beside it in
# the build tree), POSTIE_SRCDIR, POSTIE_REQUIRE_KEYRING=1 turns a skip
# (no libsecret in the build, a package missing) into a failure (CI's
# --with-libsecret build sets it), POSTIE_KEEP_TMP=1 keeps the directory.
# Exit: 0 every check passed, 1 a check failed, 77 skipped.

if [ -z "${BASH_VERSION:-}" ]; then
	exec bash "$0" "$@"
fi
set -u
export LC_ALL=C

skip() {
	if [ "${POSTIE_REQUIRE_KEYRING:-}" = 1 ]; then
		echo "FAIL: $1 (POSTIE_REQUIRE_KEYRING=1)"
		exit 1
	fi
	echo "SKIP: $1"
	exit 77
}

FAILED=0
pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; FAILED=1; }

# run_unit NAME MODE [ENV...]: test_keyring MODE, without a controlling
# terminal (so secret_lookup cannot prompt), stderr kept.
run_unit() {
	local name=$1 mode=$2 rc
	shift 2
	env "$@" setsid -w "$UNIT" "$mode" >"$T/$name.out" 2>"$T/$name.err"
	rc=$?
	if [ "$rc" = 0 ] && ! [ -s "$T/$name.err" ]; then
		pass "$name: $(tail -n 1 "$T/$name.out")"
	else
		fail "$name: test_keyring $mode exited $rc"
		sed 's/^/    /' "$T/$name.out" "$T/$name.err"
	fi
}

# --- outside the session bus ----------------------------------------------
if [ "${1:-}" != --inside ]; then
	[ -n "${POSTIE:-}" ] && [ -x "$POSTIE" ] ||
		skip "POSTIE does not name the built binary"
	UNIT=$(dirname "$POSTIE")/../tests/unit/test_keyring
	[ -x "$UNIT" ] || skip "$UNIT is not built (make check builds it)"
	if ! "$UNIT" built; then
		T=$(mktemp -d /tmp/postie-keyring.XXXXXX) || exit 1
		run_unit no-libsecret stub
		rm -rf "$T"
		[ "$FAILED" = 0 ] || exit 1
		skip "this build has no libsecret (configure --with-libsecret)"
	fi
	for tool in dbus-run-session:dbus-daemon dbus-send:dbus-bin \
		gnome-keyring-daemon:gnome-keyring \
		secret-tool:libsecret-tools setsid:util-linux python3:python3 \
		certtool:gnutls-bin; do
		command -v "${tool%%:*}" >/dev/null ||
			skip "${tool%%:*} not found (Debian package ${tool#*:})"
	done
	UNIT=$(cd "$(dirname "$UNIT")" && pwd)/test_keyring
	export UNIT
	# dbus-daemon complains on stderr that it cannot raise its fd limit
	# when not root; that line is not ours.
	exec dbus-run-session -- bash "$0" --inside 2> >(grep -v 'fd limit' >&2)
fi

# --- inside: a private bus, a private keyring -------------------------------
T=$(mktemp -d /tmp/postie-keyring.XXXXXX) || exit 1
chmod 700 "$T"
KEYRING_PID=
cleanup() {
	local rc=$?
	trap - EXIT
	if [ -n "$KEYRING_PID" ]; then
		kill "$KEYRING_PID" 2>/dev/null
		wait "$KEYRING_PID" 2>/dev/null
	fi
	if [ "$FAILED" != 0 ] && [ -s "$T/daemon.log" ]; then
		echo "----- gnome-keyring-daemon -----"
		cat "$T/daemon.log"
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

export HOME=$T/home XDG_DATA_HOME=$T/data XDG_CONFIG_HOME=$T/config
export XDG_RUNTIME_DIR=$T/run XDG_CACHE_HOME=$T/cache
mkdir -m 700 "$HOME" "$XDG_DATA_HOME" "$XDG_CONFIG_HOME" "$XDG_RUNTIME_DIR" \
	"$XDG_CACHE_HOME"

# --unlock reads the new login keyring's password on stdin; --foreground
# keeps its pid ours to stop.
printf 'throwaway' | gnome-keyring-daemon --foreground --unlock \
	--components=secrets >"$T/daemon.log" 2>&1 &
KEYRING_PID=$!
secrets_owned() {
	dbus-send --session --print-reply --dest=org.freedesktop.DBus \
		/org/freedesktop/DBus org.freedesktop.DBus.NameHasOwner \
		string:org.freedesktop.secrets 2>/dev/null | grep -q 'boolean true'
}
for _ in $(seq 100); do
	secrets_owned && break
	kill -0 "$KEYRING_PID" 2>/dev/null || break
	sleep 0.1
done
if ! secrets_owned; then
	fail "gnome-keyring-daemon owns org.freedesktop.secrets within 10 s"
	exit 1
fi
pass "gnome-keyring-daemon started, login keyring unlocked"

# store PASSWORD ATTRIBUTES...: what a user types (secret-tool reads the
# password on stdin).
store() {
	local pw=$1
	shift
	if printf '%s' "$pw" | secret-tool store --label=postie-test "$@" \
		2>"$T/store.err"; then
		pass "secret-tool store $*"
	else
		fail "secret-tool store $*: $(cat "$T/store.err")"
	fi
}
# The entries test_keyring.c expects (keep in step with its header).
store "Alice's keyring pw ü \"q\"" host 127.0.0.1 service smtp user alice
store "imap only" host 127.0.0.1 service imap user carol
store bob-old-libgnome-keyring-pw xdg:schema org.gnome.keyring.NetworkPassword \
	server 127.0.0.1 protocol smtp user bob
# For postie itself: the host its config names.
store 'Kr-pw.7 z' host localhost service smtp user alice

run_unit keyring-lookup live
run_unit keyring-no-bus nobus -u DBUS_SESSION_BUS_ADDRESS -u XDG_RUNTIME_DIR
run_unit keyring-dead-bus badbus \
	DBUS_SESSION_BUS_ADDRESS="unix:path=$T/no-such-socket"

# --- postie itself, against the scripted peer --------------------------------
# cases.tap runs the cases under POSTIE_SRCDIR/tests/protocol: a directory
# of our own holds just these two, so the suite's cases are not touched.
SRC=${POSTIE_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
mkdir -p "$T/src/tests/protocol"
ln -s "$SRC/tests/protocol/certs.sh" "$T/src/tests/protocol/certs.sh"
cat >"$T/src/tests/protocol/keyring-auth.case" <<EOF
# AUTH PLAIN with the password from the keyring (msmtp's entry)
args: -i rcpt@example.org
config-set:
    host localhost
    tls on
    tls_trust_file {certs}/ca.pem
    user alice
env:
    DBUS_SESSION_BUS_ADDRESS=$DBUS_SESSION_BUS_ADDRESS
input:
    Subject: hi
script:
    S: 220 peer.test ESMTP
    C: EHLO client.test
    S: 250-peer.test
    S: 250 STARTTLS
    C: STARTTLS
    S: 220 2.0.0 ready to start TLS
    tls server
    C: EHLO client.test
    S: 250-peer.test
    S: 250 AUTH PLAIN
    C: AUTH PLAIN {b64:\0alice\0Kr-pw.7 z}
    S: 235 2.7.0 Authentication successful
    C: MAIL FROM:<sender@client.test>
    S: 250 2.1.0 ok
    C: RCPT TO:<rcpt@example.org>
    S: 250 2.1.5 ok
    C: DATA
    S: 354 go ahead
    C: Subject: hi
    C: .
    S: 250 2.0.0 queued
    C: QUIT
    S: 221 bye
never-clear: Kr-pw.7 z
stderr-not: .
exit: 0
EOF
cat >"$T/src/tests/protocol/keyring-no-entry.case" <<EOF
# No keyring entry for bob: exit 78 before connecting, naming the user
args: -i rcpt@example.org
config-set:
    host localhost
    tls on
    tls_trust_file {certs}/ca.pem
    user bob
env:
    DBUS_SESSION_BUS_ADDRESS=$DBUS_SESSION_BUS_ADDRESS
input:
    Subject: hi
script: none
exit: 78
stderr: ^postie: account 'default': no password for bob at localhost \(.*or a keyring entry\)
stderr-not: Kr-pw
EOF
POSTIE_SRCDIR=$T/src python3 "$SRC/tests/protocol/cases.tap" keyring \
	>"$T/cases.out" 2>&1
while IFS= read -r line; do
	case $line in
	"ok "*"# SKIP"*) fail "postie: ${line#ok [0-9] - }" ;;
	"ok "*) pass "postie: ${line#ok [0-9] - }" ;;
	"not ok "*) fail "postie: ${line#not ok [0-9] - }" ;;
	"# "*) echo "    $line" ;;
	esac
done <"$T/cases.out"
[ "$(grep -c '^ok ' "$T/cases.out")" = 2 ] ||
	fail "postie: both keyring cases ran and passed (see above)"

[ "$FAILED" = 0 ] && exit 0
exit 1
