#!/bin/sh
# Setgid proof: a postie installed setgid to the group that may read the
# system file (configure --with-setgid-group=GROUP) reads
# SYSCONFDIR/postie.conf mode 0640 root:GROUP for a user who cannot, and
# for nothing else: not -C, and the group is gone before anything runs.
#
#   tests/setgid.sh BUILDDIR
#
# BUILDDIR is configured with --sysconfdir=ABSOLUTE-DIR (a throwaway etc
# directory this test writes) and --with-setgid-group=GROUP (the group must
# exist). Needs root (chown, chgrp, setpriv to nobody), so not part of
# "make check"; CI runs it. Prints ok / not ok lines, exits 1 on a failure.
set -u
build=${1:?usage: tests/setgid.sh BUILDDIR}
srcdir=$(cd "$(dirname "$0")/.." && pwd)
cd "$build" || exit 1
fails=0
ok() { echo "ok - $1"; }
bad() { echo "not ok - $1"; fails=$((fails + 1)); }

var() { sed -n "s/^$1 = //p" Makefile | head -n 1; }
etc=$(var sysconfdir)
group=$(var SETGID_GROUP)
case $etc in /*) ;; *) echo "not ok - sysconfdir '$etc' is not absolute"; exit 1 ;; esac
[ -n "$group" ] || { echo "not ok - $build is not configured --with-setgid-group"; exit 1; }
[ "$(id -u)" = 0 ] || { echo "not ok - needs root"; exit 1; }
getent group "$group" >/dev/null || { echo "not ok - group $group does not exist"; exit 1; }
nogroup=$(id -g nobody)

tmp=$(mktemp -d) || exit 1
sink_pid=
trap '[ -n "$sink_pid" ] && kill "$sink_pid" 2>/dev/null; rm -rf "$tmp"' EXIT
chmod 755 "$tmp"
mkdir -p "$etc" "$tmp/home"
chmod 755 "$etc"
# Two copies of the built binary: one setgid to the group, one plain.
cp src/postie "$tmp/postie-sg" && cp src/postie "$tmp/postie-plain" || exit 1
chgrp "$group" "$tmp/postie-sg" && chmod 2755 "$tmp/postie-sg" || exit 1
chmod 755 "$tmp/postie-plain"
printf 'Subject: setgid\n\nhello\n' >"$tmp/msg"
chmod 644 "$tmp/msg"
rm -f "$etc/postie.conf" "$etc/msmtprc"

# as_nobody BINARY ARGS...: run as nobody, no supplementary groups, an
# empty home (so the search ends at the system file); status in $rc,
# standard error in $tmp/err.
as_nobody() {
	env -i PATH=/usr/bin:/bin HOME="$tmp/home" \
		setpriv --reuid=nobody --regid="$nogroup" --clear-groups \
		"$@" <"$tmp/msg" >"$tmp/out" 2>"$tmp/err"
	rc=$?
}

# system_file MODE [EXTRA-LINE]: the system file, root:GROUP, pointing at
# port $port on loopback without TLS.
system_file() {
	{
		echo "account default"
		echo "host 127.0.0.1"
		echo "port ${port:-25}"
		echo "tls off"
		echo "from setgid@example.org"
		[ $# -gt 1 ] && echo "$2"
	} >"$etc/postie.conf"
	chown root:"$group" "$etc/postie.conf" && chmod "$1" "$etc/postie.conf"
}

# 1. The setgid binary reads the 0640 system file for nobody and delivers.
python3 "$srcdir/tests/protocol/peer.py" --sink --port-file "$tmp/port" \
	--timeout 20 >"$tmp/sink" 2>&1 &
sink_pid=$!
i=0
while [ ! -s "$tmp/port" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
port=$(cat "$tmp/port" 2>/dev/null)
system_file 640
as_nobody "$tmp/postie-sg" rcpt@example.org
wait "$sink_pid"
sink_rc=$?
sink_pid=
if [ "$rc" = 0 ] && [ "$sink_rc" = 0 ] && grep -q 'RCPT TO:<rcpt@example.org>' "$tmp/sink"; then
	ok "setgid postie reads the 0640 root:$group system file as nobody and delivers"
else
	bad "setgid delivery (postie $rc, sink $sink_rc): $(cat "$tmp/err" "$tmp/sink")"
fi

# 2. The same binary without the setgid bit cannot read it: 66, naming it.
as_nobody "$tmp/postie-plain" rcpt@example.org
if [ "$rc" = 66 ] && grep -q "$etc/postie.conf" "$tmp/err"; then
	ok "without the setgid bit the system file is unreadable (66)"
else
	bad "plain binary: status $rc: $(cat "$tmp/err")"
fi

# 3. -C is never opened with the group, even a file the group may read.
cp "$etc/postie.conf" "$tmp/other.conf"
chown root:"$group" "$tmp/other.conf" && chmod 640 "$tmp/other.conf"
as_nobody "$tmp/postie-sg" -C "$tmp/other.conf" rcpt@example.org
if [ "$rc" = 66 ] && grep -q "$tmp/other.conf" "$tmp/err"; then
	ok "-C FILE is not read with the setgid group (66)"
else
	bad "-C with the group: status $rc: $(cat "$tmp/err")"
fi

# 4. The group is gone for good (real, effective, saved, filesystem) while
#    postie runs: -bs waits on its input, so its ids can be read.
system_file 640
mkfifo "$tmp/fifo"
chmod 666 "$tmp/fifo"
env -i PATH=/usr/bin:/bin HOME="$tmp/home" \
	setpriv --reuid=nobody --regid="$nogroup" --clear-groups \
	"$tmp/postie-sg" -bs <"$tmp/fifo" >"$tmp/out" 2>"$tmp/err" &
bs_pid=$!
exec 9>"$tmp/fifo"
sleep 0.5
gids=$(sed -n 's/^Gid:[[:space:]]*//p' "/proc/$bs_pid/status" | tr -s ' \t' '  ')
echo QUIT >&9
exec 9>&-
wait "$bs_pid"
if [ "$gids" = "$nogroup $nogroup $nogroup $nogroup" ]; then
	ok "the setgid group is given up for good before postie runs (Gid: $gids)"
else
	bad "group ids while running: '$gids' (want $nogroup x4)"
fi

# 5. A system file holding a password: group-readable is accepted,
#    world-readable is refused with the chmod that fixes it.
system_file 640 "password secret"
as_nobody "$tmp/postie-sg" -bv rcpt@example.org
if [ "$rc" = 0 ]; then
	ok "a 0640 root:$group system file with a password is accepted"
else
	bad "0640 with a password: status $rc: $(cat "$tmp/err")"
fi
system_file 644 "password secret"
as_nobody "$tmp/postie-sg" -bv rcpt@example.org
if [ "$rc" = 78 ] && grep -q "chmod 640 $etc/postie.conf" "$tmp/err"; then
	ok "a world-readable system file with a password is refused (78, chmod 640)"
else
	bad "0644 with a password: status $rc: $(cat "$tmp/err")"
fi

# 6. A system file anyone but root may write is refused.
system_file 660
as_nobody "$tmp/postie-sg" -bv rcpt@example.org
if [ "$rc" = 78 ] && grep -q "writable by someone other than root" "$tmp/err"; then
	ok "a group-writable system file is refused (78)"
else
	bad "0660: status $rc: $(cat "$tmp/err")"
fi

# 7. make install gives the installed postie the group and mode 2755.
if make -s install DESTDIR="$tmp/dest" >"$tmp/install.log" 2>&1; then
	inst=$(find "$tmp/dest" -name postie -type f -perm -2000)
	if [ -n "$inst" ] && [ "$(stat -c '%a %G' "$inst")" = "2755 $group" ]; then
		ok "make install: postie is mode 2755, group $group"
	else
		bad "make install: no setgid postie under $tmp/dest"
	fi
else
	bad "make install: $(cat "$tmp/install.log")"
fi

rm -f "$etc/postie.conf" "$tmp/other.conf"
[ "$fails" = 0 ] || exit 1
exit 0
