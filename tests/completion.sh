#!/bin/sh
# The bash completion (completion/postie): options, account names for -a
# from the configuration in use, and -C's file taking precedence, the queue
# options, queue ids from "postie -bp" (a stub here) and --files' operands
# as file names; the zsh one is syntax-checked when zsh is installed.
set -u
srcdir=${POSTIE_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
command -v bash >/dev/null || { echo "SKIP: no bash"; exit 77; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf 'defaults\ntls off\naccount work\nhost a\naccount home : work\naccount default : work\n' >"$work/.postierc"
printf 'account other\nhost b\n' >"$work/other.conf"
: >"$work/msg.eml"

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
check --files postie --fi
check --no-queue postie --no
check --queue-delete postie --queue-d
check --queue-retry postie --queue-r
check -qR postie -q
# A stub for the command being completed: what "postie -bp" prints (with
# -C FILE, another queue), so the ids are parsed from the real format.
stubconf=$2
postie() {
	case "$*" in
	"-C $stubconf -bp") printf "%s\n" "0123456789abcdef  failed  9 bytes  age 1d  attempts 3" ;;
	-bp) printf "%s\n" "6b045dbdf03828ff  queued  188 bytes  age 12m  attempts 2" \
		"  from: <cron@client.test>" "  to: <abcdef0123456789@example.org>" \
		"" "1 queued, 0 failed" ;;
	esac
}
check 6b045dbdf03828ff postie --queue-delete ""
check 6b045dbdf03828ff postie --queue-retry 6b
check 0123456789abcdef postie -C "$2" --queue-retry ""
check 6b045dbdf03828ff postie --queue-delete = ""
check --queue-retry=6b045dbdf03828ff postie --queue-retry=6
nocheck() { # nocheck UNWANTED WORDS...: completing the last word does not offer it
	unwanted=$1; shift
	COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=()
	_postie
	case " ${COMPREPLY[*]} " in
	*" $unwanted "*) echo "FAIL: $* -> offers $unwanted: ${COMPREPLY[*]}"; fail=1 ;;
	*) echo "PASS: $* -> not $unwanted" ;;
	esac
}
# Only the ids of entry lines, not a recipient that looks like one.
nocheck abcdef0123456789 postie --queue-delete ""
check "$3" postie --files "${3%.eml}"
exit $fail
' sh "$srcdir" "$work/other.conf" "$work/msg.eml" || exit 1

if command -v zsh >/dev/null; then
	zsh -n "$srcdir/completion/_postie" || { echo "FAIL: zsh -n _postie"; exit 1; }
	echo "PASS: zsh -n _postie"
fi
