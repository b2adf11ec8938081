#!/bin/bash
# Interop: real programs that call sendmail, pointed at postie, submitting
# through a real Postfix with Dovecot SASL (STARTTLS, AUTH), and checks of
# the delivered envelope, header and body.
#
# The submission service is lib.sh's (submission_start). postie gets one
# account file for it, header repair at its defaults, and a wrapper
# `sendmail` script that runs "$POSTIE -C CONFIG ARGS..." with its own
# HOME; each caller is told to use that wrapper the way its users would:
#   PHP mail()        php -d sendmail_path="WRAPPER -t -i", a Bcc: in the
#                     additional headers, -f as the fifth argument
#   git send-email    sendemail.sendmailcmd, then --sendmail-cmd with
#                     --envelope-sender
#   bsd-mailx         `set sendmail=WRAPPER` in MAILRC, `mail -s`
#   Debian cron       its exact argv and message (tests/protocol/CALLERS.md),
#                     a bare recipient mapped by the aliases file
#   mutt              batch mode, `set sendmail`, use_envelope_from
#   Symfony Mailer    -bs: a scripted client talking as its SendmailTransport
#                     does, two messages in one session
# What each one passes is recorded in $WORK/argv.log (printed on failure).
#
# Environment: POSTIE (the built binary), POSTIE_REQUIRE_INTEROP=1 turns a
# missing prerequisite into a failure, POSTIE_KEEP_TMP=1 keeps the temporary
# directory for inspection.
# Exit: 0 every check passed, 1 a check failed, 77 skipped.

# make check runs us with $(SHELL), which is /bin/sh.
if [ -z "${BASH_VERSION:-}" ]; then
	exec bash "$0" "$@"
fi
# shellcheck source=tests/interop/lib.sh
. "$(dirname "$0")/lib.sh" || exit 1

require_submission
command -v php >/dev/null || prereq_missing "php-cli is not installed"
command -v git >/dev/null || prereq_missing "git is not installed"
[ -x "$(git --exec-path)/git-send-email" ] ||
	prereq_missing "git send-email is not installed (git-email)"
[ -x /usr/bin/bsd-mailx ] || prereq_missing "bsd-mailx is not installed"
command -v mutt >/dev/null || prereq_missing "mutt is not installed"
interop_init callers
submission_start

# --- postie as the callers' sendmail ----------------------------------------
cat >"$WORK/aliases" <<'EOF'
root: admin@example.org
EOF
CONFIG=$WORK/postie.conf
cat >"$CONFIG" <<EOF
account default
host localhost
port $SUB_PORT
tls on
tls_trust_file $CERTS/ca.pem
user $USER_NAME
password $PASSWORD
domain client.test
timeout 10
from alice@example.org
maildomain example.org
aliases $WORK/aliases
EOF
chmod 600 "$CONFIG"

mkdir "$WORK/bin"
WRAPPER=$WORK/bin/sendmail
cat >"$WRAPPER" <<EOF
#!/bin/sh
# What the caller passed, for the log of a failed run.
printf '%s:' "\${CALLER:-?}" >>"$WORK/argv.log"
printf ' [%s]' "\$@" >>"$WORK/argv.log"
echo >>"$WORK/argv.log"
HOME=$T/home
export HOME
exec "$POSTIE" -C "$CONFIG" "\$@"
EOF
chmod 755 "$WRAPPER"
: >"$WORK/argv.log"

# Callers run with a HOME of their own, nothing from this machine's config.
CALLER_HOME=$T/home
export GIT_CONFIG_NOSYSTEM=1 EMAIL='' MAILRC=/dev/null

# run_caller NAME INPUT COMMAND...: runs the caller, sets RC; its stdout
# and stderr (postie's included) in NAME.err.
run_caller() {
	local name=$1 input=$2
	shift 2
	CALLER=$name HOME=$CALLER_HOME timeout 30 "$@" <"$input" \
		>"$WORK/$name.err" 2>&1
	RC=$?
}

# delivered NAME MARKER SENDER RCPT...: the caller exited 0, the message
# carrying MARKER reached exactly RCPT... from SENDER; its first delivered
# copy, Received: stripped, is split into NAME.hdr and NAME.body. Returns 1
# when there is nothing to check further.
delivered() {
	local name=$1 marker=$2 sender=$3 envs got_s got_r want_r env
	shift 3
	if [ "$RC" = 0 ]; then
		pass "$name: the caller exits 0"
	else
		fail "$name: the caller exits 0, not $RC"
		sed 's/^/    output: /' "$WORK/$name.err"
		return 1
	fi
	if ! wait_delivery "$marker" "$#"; then
		fail "$name: delivered to $# recipient(s)"
		return 1
	fi
	envs=$(deliveries_of "$marker")
	# shellcheck disable=SC2086
	got_s=$(cat $envs | sed -n 's/^sender=//p' | sort -u)
	# shellcheck disable=SC2086
	got_r=$(cat $envs | sed -n 's/^rcpt=//p' | sort)
	want_r=$(printf '%s\n' "$@" | sort)
	if [ "$got_s" = "$sender" ]; then
		pass "$name: envelope sender is <$sender>"
	else
		fail "$name: envelope sender: want <$sender>, got <$got_s>"
	fi
	if [ "$got_r" = "$want_r" ]; then
		pass "$name: envelope recipients are exactly $*"
	else
		fail "$name: envelope recipients: want [$(tr '\n' ' ' <<<"$want_r")]," \
			"got [$(tr '\n' ' ' <<<"$got_r")]"
	fi
	env=$(echo "$envs" | head -n 1)
	if ! strip_received "${env%.env}.msg" >"$WORK/$name.got"; then
		fail "$name: delivered message starts with Postfix's Received:"
		return 1
	fi
	awk '/^$/ { exit } { print }' "$WORK/$name.got" >"$WORK/$name.hdr"
	sed '1,/^$/d' "$WORK/$name.got" >"$WORK/$name.body"
	return 0
}

show_header() {
	sed 's/^/    header: /' "$WORK/$1.hdr" | cat -v
}

# has NAME ERE WHAT: a header line matches ERE (case-sensitive: the
# spelling is part of what is checked).
has() {
	if grep -Eq -- "$2" "$WORK/$1.hdr"; then
		pass "$1: header: $3"
	else
		fail "$1: header: $3 (/$2/)"
		show_header "$1"
	fi
}

# lacks NAME ERE WHAT: no header line matches ERE (case-insensitive).
lacks() {
	if grep -Eiq -- "$2" "$WORK/$1.hdr"; then
		fail "$1: header: $3: $(grep -Ei -- "$2" "$WORK/$1.hdr")"
	else
		pass "$1: header: $3"
	fi
}

# once NAME FIELD: exactly one FIELD: line (the caller's or postie's,
# never both).
once() {
	local n
	n=$(grep -ic "^$2:" "$WORK/$1.hdr")
	if [ "$n" = 1 ]; then
		pass "$1: header: exactly one $2:"
	else
		fail "$1: header: exactly one $2:, got $n"
		show_header "$1"
	fi
}

# body_is NAME EXPECTED-FILE
body_is() {
	if cmp -s "$2" "$WORK/$1.body"; then
		pass "$1: body arrives byte for byte"
	else
		fail "$1: body differs:"
		diff -u "$2" "$WORK/$1.body" | sed 's/^/    /' | cat -v | head -30
	fi
}

# argv_is NAME ARGS...: what the caller passed its sendmail, each argument
# in brackets (tests/protocol/CALLERS.md): the wrapper was used, as
# documented.
argv_is() {
	local name=$1 got want
	shift
	got=$(sed -n "s/^$name: //p" "$WORK/argv.log")
	want=$(printf ' [%s]' "$@")
	if [ "$got" = "${want# }" ]; then
		pass "$name: argv $got"
	else
		fail "$name: argv: want ${want# }, got ${got:-nothing}"
	fi
}

DATE_RE='^Date: (Mon|Tue|Wed|Thu|Fri|Sat|Sun), [0-9]{1,2} '
DATE_RE+='(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [0-9]{4} '
DATE_RE+='[0-9]{2}:[0-9]{2}:[0-9]{2} [+-][0-9]{4}$'

# added_by_postie NAME MSGID-DOMAIN: Date: and Message-ID: that the caller
# left out, added once.
added_by_postie() {
	has "$1" "$DATE_RE" "Date: added"
	has "$1" "^Message-ID: <[^<>@ ]+@${2//./\\.}>\$" \
		"Message-ID: added in $2"
	once "$1" Date
	once "$1" Message-ID
}

# --- PHP mail(): sendmail_path "-t -i", Bcc, -f as the fifth argument -----
# PHP writes the header with CRLF, the body as given, then one more CRLF.
cat >"$WORK/php.php" <<'EOF'
<?php
$ok = mail("rcpt@example.org", "php mail() test",
	"body line (php-marker)\n.\nlast line\n",
	"From: a@example.org\r\nBcc: hidden@example.org",
	"-fbounce@example.org");
exit($ok ? 0 : 1);
EOF
run_caller php /dev/null php -n -d "sendmail_path=$WRAPPER -t -i" \
	"$WORK/php.php"
argv_is php -t -i -fbounce@example.org
if delivered php '(php-marker)' bounce@example.org rcpt@example.org \
	hidden@example.org; then
	lacks php '^Bcc:' "no Bcc:"
	has php '^From: a@example\.org$' "From: as given"
	has php '^To: rcpt@example\.org$' "To: as given"
	has php '^Subject: php mail\(\) test$' "Subject: as given"
	added_by_postie php example.org
	printf 'body line (php-marker)\n.\nlast line\n\n' >"$WORK/php.want"
	body_is php "$WORK/php.want"
fi

# --- git send-email -----------------------------------------------------------
REPO=$T/repo
git_quiet() {
	HOME=$CALLER_HOME git -C "$REPO" "$@" >>"$WORK/git-setup.log" 2>&1
}
mkdir "$REPO"
if git_quiet init -q && git_quiet config user.name "A U Thor" &&
	git_quiet config user.email author@example.org &&
	printf 'first\n' >"$REPO/file.txt" && git_quiet add file.txt &&
	git_quiet commit -q -m "Initial commit" &&
	printf 'first\nsecond (git-marker)\n' >"$REPO/file.txt" &&
	git_quiet commit -q -a -m "Add a second line" \
		-m "The body of the commit message." &&
	git_quiet format-patch -q -1 -o "$T/patches"; then
	PATCH=$(ls "$T"/patches/*.patch)
	pass "git: a patch made in a temporary repository"
else
	fail "git: a patch made in a temporary repository"
	cat "$WORK/git-setup.log"
	PATCH=
fi

# check_git NAME SENDER: the patch as delivered.
check_git() {
	delivered "$1" "$(basename "$PATCH")-$1" "$2" rcpt@example.org || return
	has "$1" '^Subject: \[PATCH\] Add a second line$' \
		"Subject: [PATCH] Add a second line"
	has "$1" '^From: A U Thor <author@example\.org>$' "From: the author"
	has "$1" '^To: rcpt@example\.org$' "To: as given"
	has "$1" '^X-Mailer: git-send-email ' "X-Mailer: git-send-email"
	# git's own Date: and Message-Id: are kept, not doubled.
	once "$1" Date
	once "$1" Message-ID
	has "$1" '^Message-Id: <[^<>@ ]+@[^<>@ ]+>$' \
		"git's Message-Id: kept as spelled"
	has "$1" "^In-Reply-To: <$(basename "$PATCH")-$1@example\\.org>\$" \
		"In-Reply-To: as given"
	# The body is the patch file's, from the first empty line on.
	sed '1,/^$/d' "$PATCH" >"$WORK/$1.want"
	body_is "$1" "$WORK/$1.want"
}

if [ -n "$PATCH" ]; then
	# git chooses the Message-ID; a unique In-Reply-To marks each run.
	run_caller git-config /dev/null git -C "$REPO" \
		-c "sendemail.sendmailcmd=$WRAPPER" send-email --quiet \
		--confirm=never --suppress-cc=all --no-annotate \
		--from="A U Thor <author@example.org>" --to=rcpt@example.org \
		--in-reply-to="<$(basename "$PATCH")-git-config@example.org>" \
		"$PATCH"
	argv_is git-config -i rcpt@example.org
	check_git git-config alice@example.org
	run_caller git-envelope /dev/null git -C "$REPO" send-email --quiet \
		--sendmail-cmd="$WRAPPER" --envelope-sender=env@example.org \
		--confirm=never --suppress-cc=all --no-annotate \
		--from="A U Thor <author@example.org>" --to=rcpt@example.org \
		--in-reply-to="<$(basename "$PATCH")-git-envelope@example.org>" \
		"$PATCH"
	argv_is git-envelope -f env@example.org -i rcpt@example.org
	check_git git-envelope env@example.org
fi

# --- bsd-mailx: mail -s, no From:, no Date:, no Message-ID: -------------------
printf 'set sendmail=%s\n' "$WRAPPER" >"$WORK/mailrc"
printf 'mailx body (mailx-marker)\nsecond line\n' >"$WORK/mailx.in"
MAILRC=$WORK/mailrc run_caller mailx "$WORK/mailx.in" /usr/bin/bsd-mailx \
	-s "mailx subject" rcpt@example.org
argv_is mailx -i -t
if delivered mailx '(mailx-marker)' alice@example.org rcpt@example.org; then
	has mailx '^From: alice@example\.org$' "From: added, the envelope sender"
	has mailx '^To: rcpt@example\.org$' "To: as given"
	has mailx '^Subject: mailx subject$' "Subject: as given"
	added_by_postie mailx example.org
	once mailx From
	body_is mailx "$WORK/mailx.in"
fi

# --- Debian cron: its argv and message, root through the aliases -------------
{
	printf 'From: root (Cron Daemon)\nTo: root\n'
	printf 'Subject: Cron <root@host> echo job\nMIME-Version: 1.0\n'
	printf 'Content-Type: text/plain; charset=UTF-8\n'
	printf 'Content-Transfer-Encoding: 8bit\n'
	printf 'X-Cron-Env: <SHELL=/bin/sh>\nX-Cron-Env: <HOME=/root>\n'
	printf 'X-Cron-Env: <PATH=/usr/bin:/bin>\nX-Cron-Env: <LOGNAME=root>\n\n'
} >"$WORK/cron.in"
printf 'job output \342\234\223 (cron-marker)\n' >"$WORK/cron.want"
cat "$WORK/cron.want" >>"$WORK/cron.in"
run_caller cron "$WORK/cron.in" "$WRAPPER" -FCronDaemon -i -B8BITMIME \
	-oem root
argv_is cron -FCronDaemon -i -B8BITMIME -oem root
if delivered cron '(cron-marker)' alice@example.org admin@example.org; then
	has cron '^From: admin@example\.org \(Cron Daemon\)$' \
		"From: root qualified through the aliases, comment kept"
	has cron '^To: admin@example\.org$' "To: root qualified"
	has cron '^Subject: Cron <root@host> echo job$' "Subject: as given"
	has cron '^Content-Transfer-Encoding: 8bit$' "8bit CTE kept"
	if [ "$(grep -c '^X-Cron-Env: ' "$WORK/cron.hdr")" = 4 ]; then
		pass "cron: header: the four X-Cron-Env: lines kept"
	else
		fail "cron: header: the four X-Cron-Env: lines kept"
	fi
	added_by_postie cron example.org
	body_is cron "$WORK/cron.want"
fi

# --- mutt in batch mode -------------------------------------------------------
cat >"$WORK/muttrc" <<EOF
set sendmail="$WRAPPER"
set from="Mutt User <mutt@example.org>"
set use_envelope_from=yes
set hostname=client.test
set charset=utf-8
set send_charset=us-ascii:utf-8
set record=""
set folder="$T/home/Mail"
set spoolfile="$T/home/Mail/inbox"
EOF
mkdir -p "$T/home/Mail"
printf 'mutt body (mutt-marker)\nsecond line\n' >"$WORK/mutt.in"
run_caller mutt "$WORK/mutt.in" mutt -n -F "$WORK/muttrc" \
	-s "mutt subject" rcpt@example.org
argv_is mutt -f mutt@example.org -- rcpt@example.org
if delivered mutt '(mutt-marker)' mutt@example.org rcpt@example.org; then
	has mutt '^From: Mutt User <mutt@example\.org>$' "From: mutt's"
	has mutt '^To: rcpt@example\.org$' "To: as given"
	has mutt '^Subject: mutt subject$' "Subject: as given"
	has mutt '^Message-ID: <[^<>@ ]+@client\.test>$' \
		"mutt's Message-ID: kept"
	once mutt Date
	once mutt Message-ID
	once mutt From
	body_is mutt "$WORK/mutt.in"
fi

# --- Symfony Mailer's -bs conversation ----------------------------------------
# A scripted client that talks to "WRAPPER -bs" the way SMTP libraries in
# -bs mode do (Symfony Mailer's SendmailTransport runs its SMTP client over
# the process's pipes): EHLO with its local domain, one command at a time
# (the pipelined form is tests/protocol/bs-pipelined.case), dot-stuffing,
# RSET between two messages of one session, QUIT.
# Each reply's code goes to bs.replies as STEP CODE (the greeting and EHLO
# lines whole); the client stops at the first unexpected code, as Symfony
# throws, and exits with postie's status (99: the conversation broke).
cat >"$WORK/symfony.py" <<'EOF'
import signal, subprocess, sys

wrapper, log_path = sys.argv[1], sys.argv[2]
log = open(log_path, "w")
proc = subprocess.Popen([wrapper, "-bs"], stdin=subprocess.PIPE,
                        stdout=subprocess.PIPE)


def broke(why):
    print("symfony client: " + why, file=sys.stderr)
    proc.kill()
    proc.wait()
    sys.exit(99)


signal.signal(signal.SIGALRM, lambda *_: broke("no reply within 25 s"))
signal.alarm(25)


def reply(step, want, whole=False):
    lines = []
    while True:
        line = proc.stdout.readline()
        if not line.endswith(b"\r\n"):
            broke("%s: reply line not ended by CRLF: %r" % (step, line))
        line = line[:-2].decode("ascii", "replace")
        lines.append(line)
        if whole:
            log.write("%s-line %s\n" % (step, line))
        if len(line) < 4 or line[3] != "-":
            break
    code = lines[-1][:3]
    log.write("%s %s\n" % (step, code))
    log.flush()
    if code != want:
        send("QUIT")
        broke("%s: want %s, got %s" % (step, want, " / ".join(lines)))


def send(line):
    proc.stdin.write(line.encode("utf-8") + b"\r\n")
    proc.stdin.flush()


def message(n, sender, rcpts, header, body):
    send("MAIL FROM:<%s>" % sender)
    reply("mail%d" % n, "250")
    for i, r in enumerate(rcpts):
        send("RCPT TO:<%s>" % r)
        reply("rcpt%d.%d" % (n, i + 1), "250")
    send("DATA")
    reply("data%d" % n, "354")
    # Symfony's SmtpTransport: CRLF line ends, a leading "." doubled.
    for line in header + [""] + body:
        send("." + line if line.startswith(".") else line)
    send(".")
    reply("end%d" % n, "250")


reply("greeting", "220", whole=True)
send("EHLO [127.0.0.1]")
reply("ehlo", "250", whole=True)
message(1, "symfony@example.org", ["rcpt@example.org"], [
    "From: Symfony App <symfony@example.org>",
    "To: rcpt@example.org",
    "Subject: symfony -bs one",
    "Date: Thu, 05 Jun 2025 10:00:00 +0000",
    "Message-ID: <8d3c2e1f0a9b@example.org>",
    "MIME-Version: 1.0",
    "Content-Type: text/plain; charset=utf-8",
    "Content-Transfer-Encoding: quoted-printable",
], ["first message (bs1-marker)", ".a line that starts with a dot",
    ".", "..two dots", "last line"])
send("RSET")
reply("rset", "250")
# Symfony puts Bcc recipients in the envelope only.
message(2, "symfony@example.org", ["rcpt@example.org", "hidden@example.org"], [
    "From: Symfony App <symfony@example.org>",
    "To: rcpt@example.org",
    "Subject: symfony -bs two",
    "Date: Thu, 05 Jun 2025 10:00:01 +0000",
    "Message-ID: <7e6f5a4b3c2d@example.org>",
    "MIME-Version: 1.0",
    "Content-Type: text/plain; charset=utf-8",
    "Content-Transfer-Encoding: quoted-printable",
], ["second message (bs2-marker)", ".", "end"])
send("QUIT")
reply("quit", "221")
proc.stdin.close()
rest = proc.stdout.read()
if rest:
    broke("output after 221: %r" % rest)
sys.exit(proc.wait())
EOF
# The interpreter itself: a pyenv shim would look in the caller's HOME.
PYTHON=$(python3 -c 'import sys; print(sys.executable)')
run_caller bs /dev/null "$PYTHON" "$WORK/symfony.py" "$WRAPPER" \
	"$WORK/bs.replies"
argv_is bs -bs
if [ "$RC" = 0 ]; then
	pass "bs: postie exits 0 after QUIT"
else
	fail "bs: postie exits 0 after QUIT, not $RC (99: the client broke off)"
fi
# bs_reply STEP CODE: the client saw CODE as the reply to STEP.
bs_reply() {
	local got
	got=$(sed -n "s/^$1 //p" "$WORK/bs.replies")
	if [ "$got" = "$2" ]; then
		pass "bs: $1 answered $2"
	else
		fail "bs: $1 answered $2, got ${got:-nothing}"
	fi
}
for step in greeting:220 ehlo:250 mail1:250 rcpt1.1:250 data1:354 \
	end1:250 rset:250 mail2:250 rcpt2.1:250 rcpt2.2:250 data2:354 \
	end2:250 quit:221; do
	bs_reply "${step%:*}" "${step#*:}"
done
if grep -q '^greeting-line 220 client\.test ' "$WORK/bs.replies" &&
	grep -q '^ehlo-line 250-client\.test$' "$WORK/bs.replies" &&
	[ "$(grep -c '^ehlo-line 250' "$WORK/bs.replies")" -gt 1 ]; then
	pass "bs: greeting and multi-line EHLO reply name client.test"
else
	fail "bs: greeting and multi-line EHLO reply name client.test"
	sed -n 's/^\(greeting\|ehlo\)-line /    /p' "$WORK/bs.replies"
fi
# bs_header NAME SUBJECT MSGID: the header arrives as the client sent it.
bs_header() {
	printf '%s\n' "From: Symfony App <symfony@example.org>" \
		"To: rcpt@example.org" "Subject: $2" "Date: $3" \
		"Message-ID: <$4@example.org>" "MIME-Version: 1.0" \
		"Content-Type: text/plain; charset=utf-8" \
		"Content-Transfer-Encoding: quoted-printable" >"$WORK/$1.want-hdr"
	if cmp -s "$WORK/$1.want-hdr" "$WORK/$1.hdr"; then
		pass "$1: header arrives as sent"
	else
		fail "$1: header differs:"
		diff -u "$WORK/$1.want-hdr" "$WORK/$1.hdr" | sed 's/^/    /' |
			cat -v
	fi
}
if delivered bs1 '(bs1-marker)' symfony@example.org rcpt@example.org; then
	bs_header bs1 "symfony -bs one" "Thu, 05 Jun 2025 10:00:00 +0000" \
		8d3c2e1f0a9b
	printf '%s\n' "first message (bs1-marker)" \
		".a line that starts with a dot" "." "..two dots" "last line" \
		>"$WORK/bs1.want"
	body_is bs1 "$WORK/bs1.want"
fi
if delivered bs2 '(bs2-marker)' symfony@example.org rcpt@example.org \
	hidden@example.org; then
	bs_header bs2 "symfony -bs two" "Thu, 05 Jun 2025 10:00:01 +0000" \
		7e6f5a4b3c2d
	printf '%s\n' "second message (bs2-marker)" "." "end" >"$WORK/bs2.want"
	body_is bs2 "$WORK/bs2.want"
fi

# --- afterwards ---------------------------------------------------------------
# Every caller's submission went through STARTTLS and AUTH as alice: eight
# connections (one per message of the -bs session), each logged by the
# submission service with its TLS session and its SASL login.
n_tls=$(grep -cE 'postfix/submission/smtpd\[[0-9]+\]: .*TLS connection established from localhost' "$LOG")
n_auth=$(grep -cE "postfix/submission/smtpd\[[0-9]+\]: [0-9A-F]+: client=localhost\[127\.0\.0\.1\], sasl_method=[-A-Z0-9]+, sasl_username=$USER_NAME\$" "$LOG")
if [ "$n_tls" = 8 ] && [ "$n_auth" = 8 ]; then
	pass "Postfix logs eight TLS sessions and eight AUTH logins as $USER_NAME"
else
	fail "Postfix logs eight TLS sessions ($n_tls) and AUTH logins ($n_auth)"
fi
if [ "$FAILED" != 0 ]; then
	echo "what each caller passed to its sendmail:"
	sed 's/^/    /' "$WORK/argv.log"
fi
sleep 0.3
check_queue_empty

interop_finish
