#!/bin/sh
# Static analysis of src/*.c: cppcheck and clang-tidy (configured by
# .clang-tidy at the top of the tree), each with the build's autoconf.h
# and the libraries' include flags. Any warning from either fails (exit 1).
# Run it in a configured build directory:
#
#   cd build && sh ../tests/lint.sh [cppcheck|clang-tidy]
#
# Debian packages: cppcheck, clang-tidy. A false positive is silenced at
# its line with a reason ("cppcheck-suppress id" or "NOLINT(check)").
set -u
build=$(pwd)
[ -f "$build/autoconf.h" ] && [ -f "$build/Makefile" ] || {
	echo "lint.sh: run it in a configured build directory (no autoconf.h here)" >&2
	exit 2
}
srcdir=$(sed -n 's/^abs_top_srcdir = //p' Makefile)
which=${1:-all}

# What the Makefile compiles with: the build's defines and the libraries'
# -I flags (libsecret's only where its headers are, for keyring.c).
pkgs="gnutls libgsasl libidn2"
sources=$(ls "$srcdir"/src/*.c)
if pkg-config --exists libsecret-1 2>/dev/null; then
	pkgs="$pkgs libsecret-1"
else
	sources=$(echo "$sources" | grep -v '/keyring\.c$')
fi
# shellcheck disable=SC2086
incs=$(pkg-config --cflags-only-I $pkgs) || exit 2
defs="-DHAVE_CONFIG_H -DSYSCONFDIR=\"/etc\""
status=0

# cppcheck: warning, style, performance and portability, inconclusive
# findings too. Suppressed everywhere, and why:
#  variableScope: declarations at the top of a block are our style
#    (KNF), not a defect.
#  redundantContinue: "continue;" marks an empty loop body on purpose.
#  getpwuidCalled, readdirCalled, localtimeCalled: postie has one thread;
#    glibc deprecates readdir_r, and the _r forms only add buffer sizing.
#  missingIncludeSystem: cppcheck reads its own library models
#    (--library) rather than the system headers.
#  unmatchedSuppression: keeps an inline suppression that no longer fires
#    in some configuration from being an error itself.
if [ "$which" = all ] || [ "$which" = cppcheck ]; then
	# shellcheck disable=SC2086
	out=$(cppcheck -q --std=c11 --library=posix --library=gnu \
		--enable=warning,style,performance,portability --inconclusive \
		--inline-suppr --error-exitcode=1 \
		--suppress=variableScope --suppress=redundantContinue \
		--suppress=getpwuidCalled --suppress=readdirCalled \
		--suppress=localtimeCalled --suppress=missingIncludeSystem \
		--suppress=unmatchedSuppression \
		--template='{file}:{line}: {severity}: {message} [{id}]' \
		-D__GNUC__ -D__linux__ -D__x86_64__ $defs -I"$build" -I"$srcdir/src" \
		$sources 2>&1)
	rc=$?
	[ -n "$out" ] && echo "$out"
	if [ $rc -ne 0 ] || [ -n "$out" ]; then
		echo "lint.sh: cppcheck: findings above"
		status=1
	else
		echo "lint.sh: cppcheck: clean"
	fi
fi

# clang-tidy: the checks and their reasons are in .clang-tidy. One file
# a process (two at a time): clang-tidy 14 given several files carries
# state from one to the next and then reports every va_list as
# uninitialized. Its "N warnings generated" chatter (system headers) is
# not a finding; a line "file:line:col: warning|error:" is.
if [ "$which" = all ] || [ "$which" = clang-tidy ]; then
	log=$(mktemp) || exit 2
	LINT_TIDY_CONFIG="$srcdir/.clang-tidy"
	LINT_FLAGS="-std=c11 $defs -I$build -I$srcdir/src $incs"
	export LINT_TIDY_CONFIG LINT_FLAGS
	# shellcheck disable=SC2016
	echo "$sources" | xargs -n 1 -P 2 sh -c \
		'clang-tidy -quiet --config-file="$LINT_TIDY_CONFIG" "$1" -- $LINT_FLAGS' sh \
		>"$log" 2>&1
	if grep -q '^[^ ]*:[0-9]*:[0-9]*: \(warning\|error\):' "$log"; then
		grep -v '^[0-9]* warnings\? \(and [0-9]* errors\? \)\?generated\.$' "$log" |
			grep -v '^Suppressed [0-9]* warnings\|^Use -header-filter\|^Error while processing'
		echo "lint.sh: clang-tidy: findings above"
		status=1
	else
		echo "lint.sh: clang-tidy: clean"
	fi
	rm -f "$log"
fi
exit $status
