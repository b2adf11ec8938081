#!/bin/sh
# The whole test suite with postie and the unit tests under valgrind
# memcheck: any memory error, or any definite or indirect leak, makes the
# process exit 99 and so fails its test. Run it in a configured build
# directory (what `make check-valgrind` does):
#
#   cd build && sh ../tests/valgrind.sh [NAME=VALUE...]
#
# Arguments are passed on to `make check` (e.g. TESTS=tests/protocol/cases.tap).
# Every valgrind report is also kept in valgrind/logs/ and printed at the
# end, so a failure names the process and the stack.
#
# How: postie is replaced, through POSTIE, by valgrind/postie, a script
# that execs valgrind on the real binary. exec, so a test that kills
# postie (queue-crash.sh) kills valgrind's process, and the script is found
# under the names argv[0] dispatch knows (names.sh links mailq,
# newaliases and sendmail to POSTIE): valgrind runs a link of that name in
# valgrind/bin. Unit tests run under valgrind through LOG_COMPILER.
# POSTIE_TIME_FACTOR (default 8) stretches the protocol cases' time
# limits, as valgrind makes postie some 20-50 times slower on CPU.
set -u
build=$(pwd)
[ -x "$build/src/postie" ] && [ -f "$build/Makefile" ] || {
	echo "valgrind.sh: run it in a build directory (no src/postie here)" >&2
	exit 2
}
command -v valgrind >/dev/null 2>&1 || {
	echo "valgrind.sh: valgrind is not installed (Debian: apt-get install valgrind)" >&2
	exit 2
}
srcdir=$(sed -n 's/^abs_top_srcdir = //p' Makefile)
vg=$build/valgrind
rm -rf "$vg" && mkdir -p "$vg/bin" "$vg/logs" || exit 2

# --errors-for-leak-kinds=definite,indirect: memory still reachable at exit
# (GnuTLS's and libgsasl's global state, kept by design until exit) is not
# a leak; anything no pointer reaches any more is. The suppressions file
# holds only library noise, each entry with its reason.
opts="-q --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect
	--errors-for-leak-kinds=definite,indirect --track-origins=yes
	--num-callers=30 --suppressions=$srcdir/tests/valgrind.supp"
for n in postie mailq newaliases sendmail; do
	ln -s "$build/src/postie" "$vg/bin/$n" || exit 2
done
cat >"$vg/postie" <<EOF
#!/bin/sh
exec valgrind $(echo $opts) --log-file='$vg/logs/postie.%p.log' \\
	'$vg/bin/'"\${0##*/}" "\$@"
EOF
chmod +x "$vg/postie" || exit 2
cat >"$vg/unit" <<EOF
#!/bin/sh
exec valgrind $(echo $opts) --log-file='$vg/logs/'"\${1##*/}"'.%p.log' "\$@"
EOF
chmod +x "$vg/unit" || exit 2

factor=${POSTIE_TIME_FACTOR:-8}
# queue-crash.sh kills postie at random instants of a run; under valgrind
# most kills land in valgrind's own start-up, so a few runs do (the
# sanitizer build runs the full count).
crash=${QUEUE_CRASH_ITERATIONS:-20}
start=$(date +%s)
# AM_TESTS_ENVIRONMENT is Makefile.am's with POSTIE replaced.
${MAKE:-make} check LOG_COMPILER="$vg/unit" \
	AM_TESTS_ENVIRONMENT="POSTIE='$vg/postie'; export POSTIE; \
POSTIE_SRCDIR='$srcdir'; export POSTIE_SRCDIR; \
POSTIE_TIME_FACTOR=$factor; export POSTIE_TIME_FACTOR; \
QUEUE_CRASH_ITERATIONS=$crash; export QUEUE_CRASH_ITERATIONS;" \
	"$@"
status=$?
end=$(date +%s)

reports=0
for f in "$vg"/logs/*.log; do
	[ -s "$f" ] || continue
	reports=$((reports + 1))
	echo "=== valgrind: ${f##*/}"
	cat "$f"
done
echo "valgrind.sh: $reports valgrind reports, make check exit $status, $((end - start)) s"
[ "$status" -eq 0 ] && [ "$reports" -eq 0 ]
