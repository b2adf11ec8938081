#!/bin/sh
# The bash completion (completion/postie): options, account names for -a
# from the configuration in use, and -C's file taking precedence; the zsh
# one is syntax-checked when zsh is installed.
set -u
srcdir=${POSTIE_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
command -v bash >/dev/null || { echo "SKIP: no bash"; exit 77; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf 'defaults\ntls off\naccount work\nhost a\naccount home : work\naccount default : work\n' >"$work/.postierc"
printf 'account other\nhost b\n' >"$work/other.conf"

HOME=$work XDG_CONFIG_HOME=$work/none bash -c '
. "$1/completion/postie"
fail=0
check() { # check WANT WORDS...: completing the last word offers WANT
	want=$1; shift
	COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=()
	_postie
	case " ${COMPREPLY[*]} " in
	*" $want "*) echo "PASS: $* -> $want" ;;
	*) echo "FAIL: $* -> want $want, got: ${COMPREPLY[*]}"; fail=1 ;;
	esac
}
check work postie -a ""
check home postie -a h
check default postie -a ""
check other postie -C "$2" -a ""
check --serverinfo postie --ser
check 8BITMIME postie -B 8
check hdrs postie -R h
check -bv postie -b
exit $fail
' sh "$srcdir" "$work/other.conf" || exit 1

if command -v zsh >/dev/null; then
	zsh -n "$srcdir/completion/_postie" || { echo "FAIL: zsh -n _postie"; exit 1; }
	echo "PASS: zsh -n _postie"
fi
