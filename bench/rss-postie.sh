#!/bin/sh
# bench/rss-postie.sh - peak resident memory of the real postie binary
# submitting a large message over SMTP.
#
# Usage: bench/rss-postie.sh [POSTIE] [BYTES]
#   POSTIE  the binary, default ./src/postie (run from a build directory)
#   BYTES   body size, default 1073741824 (1 GiB)
#
# Starts Postfix's smtp-sink (package postfix; it discards what it gets) on
# an ephemeral 127.0.0.1 port, pipes a message of BYTES bytes into
# "postie -i" through a pipe, as callers do, and prints postie's peak RSS:
# VmHWM from /proc, read until it exits (getrusage would also count the
# copy of the python parent the child was before exec). The design target is under 16 MiB
# whatever the size. Needs about BYTES of free space in $TMPDIR for the
# spool and must run as root (smtp-sink -u nobody).
set -eu

postie=${1:-./src/postie}
size=${2:-1073741824}
[ -x "$postie" ] || { echo "rss-postie.sh: $postie: not an executable" >&2; exit 2; }
command -v smtp-sink >/dev/null || { echo "rss-postie.sh: smtp-sink (package postfix) not found" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/postie-rss.XXXXXX")
sink=
cleanup() {
	[ -n "$sink" ] && kill "$sink" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
smtp-sink -u nobody "127.0.0.1:$port" 10 &
sink=$!
printf 'account default\nhost 127.0.0.1\nport %s\ntls off\ndomain bench.test\nfrom bench@bench.test\ntimeout 60\n' \
	"$port" >"$work/config"
chmod 600 "$work/config"
sleep 0.5

python3 - "$postie" "$work/config" "$size" "$work" <<'PY'
import os, subprocess, sys, threading, time
postie, config, size, work = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
line = b'The quick brown fox jumps over the lazy dog. 0123456789 abcdefghij\n.and a dotted line\n'
env = dict(os.environ, HOME=work, TMPDIR=work)
start = time.monotonic()
p = subprocess.Popen([postie, '-C', config, '-i', 'rcpt@bench.test'], stdin=subprocess.PIPE, env=env)
peak = [0]
def watch():
    while p.poll() is None:
        try:
            with open('/proc/%d/status' % p.pid) as f:
                for l in f:
                    if l.startswith('VmHWM:'):
                        peak[0] = max(peak[0], int(l.split()[1]))
        except (OSError, ValueError):
            pass
        time.sleep(0.02)
t = threading.Thread(target=watch)
t.start()
p.stdin.write(b'Subject: %d bytes\n\n' % size)
chunk = line * (65536 // len(line))
left = size
while left > 0:
    n = min(left, len(chunk))
    p.stdin.write(chunk[:n])
    left -= n
p.stdin.close()
rc = p.wait()
t.join()
secs = time.monotonic() - start
print('rss-postie.sh: %d bytes through postie: exit %d, %.1f s, peak RSS %d KiB' % (size, rc, secs, peak[0]))
sys.exit(rc)
PY
