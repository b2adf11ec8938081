#!/bin/sh
# shellcheck disable=SC2016 # the checks are eval'd strings
# argv[0] dispatch: postie called as mailq is -bp, as newaliases is -bi,
# as sendmail (or any other name) delivers. Each name is a symbolic link
# to the built binary in a temp dir, as --enable-sendmail installs them.
set -u
: "${POSTIE:?set POSTIE to the built binary}"
tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT
for n in mailq newaliases sendmail; do
	ln -s "$POSTIE" "$tmp/$n" || exit 99
done
n=0 fails=0
t() {
	n=$((n + 1))
	if eval "$2"; then echo "ok $n - $1"; else echo "not ok $n - $1"; fails=$((fails + 1)); fi
}
echo 1..6
t "mailq prints 'Mail queue is empty', exit 0" \
	'[ "$("$tmp/mailq" </dev/null 2>&1)" = "Mail queue is empty" ]'
t "mailq by a path (/dir/mailq) is mailq too" \
	'[ "$(cd "$tmp" && ./mailq </dev/null 2>&1)" = "Mail queue is empty" ]'
t "newaliases succeeds and prints nothing" \
	'out=$("$tmp/newaliases" </dev/null 2>&1) && [ -z "$out" ]'
t "newaliases -v says there is nothing to do" \
	'"$tmp/newaliases" -v </dev/null 2>&1 | grep -q "^postie: newaliases: nothing to do"'
t "mailq with a recipient is a usage error (64)" \
	'"$tmp/mailq" x@example.org </dev/null >/dev/null 2>&1; [ $? -eq 64 ]'
# sendmail delivers: with no recipients that is a usage error, not a mode.
t "sendmail without recipients asks for them (64)" \
	'"$tmp/sendmail" -C /dev/null </dev/null 2>&1 | grep -q "no recipients given"'
[ $fails -eq 0 ]
