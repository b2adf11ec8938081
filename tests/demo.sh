#!/bin/sh
# The README's demo: the real postie binary submits a message to a
# throwaway SMTP server on 127.0.0.1 (an ephemeral port) and this script
# prints what that server received. Run it from the build directory, or set
# POSTIE to the binary.
set -eu
srcdir=$(cd "$(dirname "$0")/.." && pwd)
postie=${POSTIE:-./src/postie}
[ -x "$postie" ] || { echo "demo: no postie binary at $postie (build first)" >&2; exit 1; }

work=$(mktemp -d)
sink_pid=
cleanup() {
	[ -n "$sink_pid" ] && kill "$sink_pid" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

python3 "$srcdir/tests/protocol/peer.py" --sink --port-file "$work/port" \
	--timeout 20 >"$work/received" &
sink_pid=$!
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.1; done
[ -s "$work/port" ] || { echo "demo: the sink did not start" >&2; exit 1; }

cat >"$work/config" <<CONF
account default
host 127.0.0.1
port $(cat "$work/port")
tls off
domain demo.invalid
from cron@demo.invalid
timeout 10
CONF
chmod 600 "$work/config"

echo "== postie -C config -v 'Jane <jane@example.org>,bob@example.org' < message"
rc=0
printf 'From: cron@demo.invalid\nTo: Jane <jane@example.org>, bob@example.org\nSubject: hello from postie\n\nA line.\n.A line that starts with a dot.\n' |
	HOME=$work "$postie" -C "$work/config" -v 'Jane <jane@example.org>,bob@example.org' 2>&1 || rc=$?
echo "== postie exited $rc"
wait "$sink_pid"
sink_pid=
echo "== what the server received:"
cat "$work/received"
exit "$rc"
