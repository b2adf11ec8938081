#!/bin/sh
# bench/rss.sh - peak resident memory of message intake for a large input.
#
# Usage: bench/rss.sh [TEST_MESSAGE] [BYTES]
#   TEST_MESSAGE  the unit test binary, default ./tests/unit/test_message
#                 (run from a build directory)
#   BYTES         input size, default 1073741824 (1 GiB)
#
# Writes a message of BYTES bytes (LF line ends, every other line starting
# with "." so dot-stuffing works on all of it), then runs
# "TEST_MESSAGE --rss FILE": message_read spools it (memory, then an
# unlinked temp file under $TMPDIR), message_reader streams it dot-stuffed
# to /dev/null, and the program prints getrusage's ru_maxrss. The design
# target is a peak RSS under 16 MiB whatever the size. Input and spool
# live in one temp directory (about 2 x BYTES of disk), removed at exit.
set -eu

bin=${1:-./tests/unit/test_message}
size=${2:-1073741824}
[ -x "$bin" ] || { echo "rss.sh: $bin: not an executable" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/postie-rss.XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM

{
	printf 'From: bench@example.test\nTo: rcpt@example.test\n'
	printf 'Subject: %s bytes\n\n' "$size"
	yes 'The quick brown fox jumps over the lazy dog. 0123456789 abcdefghij
.and a line that starts with a dot, to be stuffed'
} | head -c "$size" >"$work/input"

start=$(date +%s)
TMPDIR=$work "$bin" --rss "$work/input"
end=$(date +%s)
echo "rss.sh: $(($end - $start)) s for $size bytes"
