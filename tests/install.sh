#!/bin/sh
# shellcheck disable=SC2317 # run() is called from eval'd checks
# Install proof: "make install DESTDIR=..." in a configured build dir puts
# postie and its manual pages in place (and, configured with
# --enable-sendmail, the sendmail, /usr/lib/sendmail, mailq and
# newaliases links to it); the installed names pick their mode by argv[0];
# "make uninstall DESTDIR=..." removes every file and link again.
#
#   tests/install.sh BUILDDIR
#
# Not part of "make check" (it runs make install in the tree under test);
# CI calls it after the build. Prints TAP-like lines, exits non-zero on the
# first failure.
set -u
build=${1:?usage: tests/install.sh BUILDDIR}
cd "$build" || exit 1
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp" "$tmp.log"' EXIT
fails=0

ok() { echo "ok - $1"; }
bad() { echo "not ok - $1"; fails=$((fails + 1)); }
check() { if eval "$2"; then ok "$1"; else bad "$1"; fi; }

# The configured directories, as make sees them (no DESTDIR).
var() { sed -n "s/^$1 = //p" Makefile | head -n 1; }
prefix=$(var prefix)
with_sendmail=no
# Configured with --enable-sendmail: the hook's link commands are live
# (automake comments them out otherwise).
grep -q "^	\$(LN_S) '\$(bindir)/postie'" Makefile && with_sendmail=yes
make -s install DESTDIR="$tmp" >"$tmp.log" 2>&1 || { cat "$tmp.log"; bad "make install"; exit 1; }
ok "make install DESTDIR=$tmp"
rm -f "$tmp.log"

bindir=$(make -s -f Makefile -f - print-bindir <<'EOF'
print-bindir: ; @echo '$(bindir)'
EOF
)
sbindir=$(make -s -f Makefile -f - print-sbindir <<'EOF'
print-sbindir: ; @echo '$(sbindir)'
EOF
)
mandir=$(make -s -f Makefile -f - print-mandir <<'EOF'
print-mandir: ; @echo '$(mandir)'
EOF
)
check "postie in bindir ($bindir)" "test -x '$tmp$bindir/postie'"
check "postie(1) installed" "test -f '$tmp$mandir/man1/postie.1'"
check "postie.conf(5) installed" "test -f '$tmp$mandir/man5/postie.conf.5'"

# The installed binary runs, and by each of its names picks the mode.
run() { "$@" </dev/null 2>&1; }
check "postie --version" "run '$tmp$bindir/postie' --version | grep -q '^postie '"
if [ "$with_sendmail" = yes ]; then
	for link in "$sbindir/sendmail" "$prefix/lib/sendmail" "$bindir/mailq" \
		"$bindir/newaliases"; do
		check "$link -> $bindir/postie" \
			"test -L '$tmp$link' && test \"\$(readlink '$tmp$link')\" = '$bindir/postie'"
	done
	# The links point to the final location; run the staged binary by
	# each name through a private link of the same name.
	mkdir "$tmp/names"
	for n in sendmail mailq newaliases; do
		ln -s "$tmp$bindir/postie" "$tmp/names/$n"
	done
	check "mailq says the queue is empty" \
		"test \"\$(run '$tmp/names/mailq')\" = 'Mail queue is empty'"
	check "newaliases succeeds silently" \
		"test -z \"\$(run '$tmp/names/newaliases')\""
	check "newaliases -v says why" \
		"run '$tmp/names/newaliases' -v | grep -q 'nothing to do'"
	check "sendmail -bd is refused (64)" \
		"run '$tmp/names/sendmail' -bd >/dev/null; test \$? -eq 64"
else
	check "no sendmail link without --enable-sendmail" "test ! -e '$tmp$sbindir/sendmail'"
fi

make -s uninstall DESTDIR="$tmp" >/dev/null 2>&1 || bad "make uninstall"
rm -rf "$tmp/names"
left=$(find "$tmp" ! -type d)
check "make uninstall leaves nothing" "test -z '$left'"
[ -z "$left" ] || echo "$left" | sed 's/^/#   left: /'

[ $fails -eq 0 ] && echo "# install: all passed" && exit 0
echo "# install: $fails failed"
exit 1
