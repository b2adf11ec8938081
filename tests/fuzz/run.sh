#!/bin/sh
# run.sh - build every libFuzzer target in tests/fuzz and run each for a
# bounded time; exit non-zero on any finding.
#
#   sh tests/fuzz/run.sh [BUILD [SECONDS [TARGET...]]]
#
# BUILD: a configured build directory (its autoconf.h is used, and the
#   fuzzer binaries go to BUILD/fuzz, findings to BUILD/fuzz-findings);
#   default ./build when it has been configured, else none (a minimal
#   autoconf.h is generated and everything stays in a temp dir).
# SECONDS: per target, default 60 (libFuzzer's -max_total_time); 0 runs
#   each target over its seed corpus once (the regression inputs), no
#   fuzzing.
# TARGET: fuzz_reply, fuzz_caps, ... (default: every tests/fuzz/fuzz_*.c).
#
# Each target starts from a copy of tests/fuzz/corpus/TARGET in a temp
# work dir (the repository is never written), with TMPDIR inside it.
# One line per target: executions, coverage, findings. A finding prints
# the sanitizer report's head, names the crash file, and the run fails.
# Needs clang with libFuzzer (Debian: clang libclang-rt-14-dev) and the
# build's pkg-config packages. CC overrides the compiler (FUZZ_CC).
set -u

srcdir=$(cd "$(dirname "$0")/../.." && pwd) || exit 1
build=${1-}
seconds=${2:-60}
if [ $# -gt 2 ]; then
	shift 2
else
	set --
fi
if [ -z "$build" ] && [ -f "$srcdir/build/autoconf.h" ]; then
	build=$srcdir/build
fi
if [ -n "$build" ]; then
	build=$(cd "$build" && pwd) || exit 1
fi
case $seconds in
*[!0-9]* | '') echo "run.sh: SECONDS must be a number, not '$seconds'" >&2; exit 2 ;;
esac
cc=${FUZZ_CC:-clang}
jobs=${FUZZ_JOBS:-2}

work=$(mktemp -d "${TMPDIR:-/tmp}/postie-fuzz.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM
if [ -n "$build" ]; then
	bin=$build/fuzz
	findings=$build/fuzz-findings
else
	bin=$work/bin
	findings=$(mktemp -d "${TMPDIR:-/tmp}/postie-fuzz-findings.XXXXXX") || exit 1
fi
mkdir -p "$bin/obj" "$findings" "$work/inc" || exit 1

# --- build -------------------------------------------------------------------
if [ -n "$build" ] && [ -f "$build/autoconf.h" ]; then
	inc=$build
else
	# What src/ takes from configure's autoconf.h: the feature macros.
	inc=$work/inc
	printf '%s\n' '#define _GNU_SOURCE 1' '#define _DEFAULT_SOURCE 1' \
		'#define PACKAGE_VERSION "fuzz"' '#define SYSTEM_TRUST_FILE ""' >"$inc/autoconf.h"
fi
# Makefile.am passes SYSCONFDIR on the command line; a file keeps the
# quotes out of the shell's word splitting.
printf '#define SYSCONFDIR "/nonexistent"\n' >"$work/inc/sysconfdir.h"
pkgs="gnutls libgsasl libidn2"
# shellcheck disable=SC2086
if ! pkg_cflags=$(pkg-config --cflags $pkgs) || ! pkg_libs=$(pkg-config --libs $pkgs); then
	echo "run.sh: pkg-config cannot find $pkgs (Debian: libgnutls28-dev libgsasl-dev libidn2-dev)" >&2
	exit 1
fi
san="-fsanitize=address,undefined -fno-sanitize-recover=all"
# A small spool threshold and stage: the fuzzer's inputs (16 KiB at
# most) then take the spooled paths of message.c as well.
cflags="-std=c11 -g -O1 -fno-omit-frame-pointer $san -Wall -Wextra -Wshadow
	-DMESSAGE_MEM_MAX=2048 -DSPOOL_STAGE=1024
	-Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -Wno-unused-parameter
	-include $work/inc/sysconfdir.h -I$inc -I$srcdir/src $pkg_cflags"

printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n);\nint LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return d == 0 && n > 0; }\n' \
	>"$work/probe.c"
# shellcheck disable=SC2086
if ! $cc -fsanitize=fuzzer $san "$work/probe.c" -o "$work/probe" >"$work/probe.log" 2>&1; then
	cat "$work/probe.log" >&2
	echo "run.sh: '$cc' cannot build libFuzzer targets (Debian: clang libclang-rt-14-dev)" >&2
	exit 1
fi

# The program's modules as one archive (all but main and the libsecret
# keyring): each target links what it uses. Instrumented for coverage.
for f in "$srcdir"/src/*.c; do
	case ${f##*/} in main.c | keyring.c) continue ;; esac
	echo "$f"
done >"$work/sources"
# shellcheck disable=SC2016
if ! xargs -P "$jobs" -I{} sh -c '
	o="$1/obj/$(basename "$2" .c).o"
	$3 $4 -fsanitize=fuzzer-no-link -c "$2" -o "$o" || { echo "run.sh: cannot compile $2" >&2; exit 255; }
' sh "$bin" {} "$cc" "$cflags" <"$work/sources"; then
	exit 1
fi
rm -f "$bin/libpostie-fuzz.a"
ar rcs "$bin/libpostie-fuzz.a" "$bin"/obj/*.o || exit 1

if [ $# -eq 0 ]; then
	for f in "$srcdir"/tests/fuzz/fuzz_*.c; do
		t=${f##*/}
		set -- "$@" "${t%.c}"
	done
fi
for t in "$@"; do
	[ -f "$srcdir/tests/fuzz/$t.c" ] || { echo "run.sh: no target $t" >&2; exit 2; }
	# shellcheck disable=SC2086
	$cc $cflags -fsanitize=fuzzer -I"$srcdir/tests/fuzz" "$srcdir/tests/fuzz/$t.c" \
		"$bin/libpostie-fuzz.a" $pkg_libs -o "$bin/$t" || {
		echo "run.sh: cannot build $t" >&2
		exit 1
	}
done

# --- run ---------------------------------------------------------------------
status=0
for t in "$@"; do
	corpus=$work/corpus/$t
	mkdir -p "$corpus" "$work/tmp/$t" || exit 1
	if [ -d "$srcdir/tests/fuzz/corpus/$t" ]; then
		cp "$srcdir/tests/fuzz/corpus/$t"/* "$corpus/" 2>/dev/null
	fi
	# Inputs up to 16 KiB: enough for lines past 998 octets and replies
	# past their caps, small enough to keep the rate high.
	if [ "$seconds" -eq 0 ]; then
		limit=-runs=0
	else
		limit=-max_total_time=$seconds
	fi
	rm -f "$findings/$t-"*
	log=$work/$t.log
	(cd "$work/tmp/$t" && TMPDIR=$work/tmp/$t \
		ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
		"$bin/$t" "$limit" -timeout=30 -rss_limit_mb=2048 -max_len=16384 \
		-print_final_stats=1 -artifact_prefix="$findings/$t-" "$corpus" \
		>"$log" 2>&1)
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | sed 's/cov: //')
	units=$(find "$corpus" -type f | wc -l)
	crashes=0
	for c in "$findings/$t-"*; do
		[ -f "$c" ] && crashes=$((crashes + 1))
	done
	if [ "$rc" -ne 0 ] && [ "$crashes" -eq 0 ]; then
		crashes=1
	fi
	printf '%-14s %10s execs  cov: %-5s corpus: %-5s findings: %s\n' \
		"$t" "${execs:-?}" "${cov:-?}" "$units" "$crashes"
	if [ "$crashes" -ne 0 ]; then
		status=1
		# the report's first lines: what, where (stack), summary
		grep -E 'ERROR|runtime error|invariant failed|deadly signal|^ *#[0-9]+ |SUMMARY' \
			"$log" | head -n 30 | sed 's/^/    /'
		named=0
		for c in "$findings/$t-"*; do
			[ -f "$c" ] || continue
			named=1
			echo "FAIL: $t: crash file $c (reproduce: $bin/$t $c)"
		done
		if [ "$named" -eq 0 ]; then
			echo "FAIL: $t: exit $rc without a crash file; the log ends:"
			tail -n 5 "$log" | sed 's/^/    /'
		fi
	fi
done
if [ "$status" -eq 0 ] && [ -z "$build" ]; then
	rmdir "$findings" 2>/dev/null
fi
exit $status
