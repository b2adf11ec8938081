#!/bin/sh
# shellcheck disable=SC2015 # "A && B || bad": bad only records why
# The durable queue end to end (issue 6): postie against tests/queue/sink.py,
# each check in a fresh HOME whose default queue dir
# (~/.local/state/postie/queue) it uses. See tests/queue/README.
set -u
: "${POSTIE:?set POSTIE to the built binary}"
: "${POSTIE_SRCDIR:?set POSTIE_SRCDIR to the source tree}"
PY=${PYTHON3:-python3}
SINK=$POSTIE_SRCDIR/tests/queue/sink.py
unset XDG_STATE_HOME XDG_CONFIG_HOME
top=$(mktemp -d) || exit 99
id='' gid='' rc=0
. "$POSTIE_SRCDIR/tests/queue/sink.sh"
trap 'sink_stop; rm -rf "$top"' EXIT
trap 'exit 130' INT TERM HUP

# fresh NAME: a new work dir $w with its own HOME and TMPDIR; $Q is the queue.
fresh() {
	w=$top/$1
	mkdir -p "$w/home" "$w/tmp" || exit 99
	HOME=$w/home TMPDIR=$w/tmp
	export HOME TMPDIR
	Q=$HOME/.local/state/postie/queue
}

start_sink() {
	S=$w/sink
	mkdir -p "$S" || exit 99
	sink_start "$S" "$w/port" "$w/sink.err"
}

# A port nothing listens on: bound, then closed.
dead_port() {
	"$PY" -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# conf PORT [LINE...]: the config file $w/conf (0600) for the default account.
conf() {
	{
		printf 'account default\nhost 127.0.0.1\nport %s\ntls off\n' "$1"
		printf 'from sender@client.test\ndomain client.test\ntimeout 5\n'
		shift
		for l in "$@"; do printf '%s\n' "$l"; done
	} >"$w/conf"
	chmod 600 "$w/conf"
}

rules() { printf '%s\n' "$1" >"$S/rules.json"; }

# mkmsg FILE SUBJECT: a small message.
mkmsg() { printf 'Subject: %s\n\nbody of %s\n' "$2" "$2" >"$1"; }

# p ARGS...: run postie with the config; stdout in $w/out, stderr in $w/err,
# the exit status in $rc. Standard input is the caller's (redirect it).
p() {
	"$POSTIE" -C "$w/conf" "$@" >"$w/out" 2>"$w/err"
	rc=$?
}

# send SUBJECT ARGS...: postie -i ARGS with a message of that subject.
send() {
	mkmsg "$w/msg" "$1"
	shift
	p -i "$@" <"$w/msg"
}

# The id of the "queued as" line in $w/err.
queued_id() { sed -n 's/^postie: queued as \([0-9a-f]\{16\}\): .*/\1/p' "$w/err"; }

# What -bp says now, in $w/bp.
bp() { "$POSTIE" -C "$w/conf" -bp </dev/null >"$w/bp" 2>&1; }

nmsgs() { find "$S/msgs" -type f ! -name '*.tmp' | wc -l; }
nsessions() { grep -c '^[0-9]* open$' "$S/sessions.log"; }
queue_empty() { bp && [ "$(cat "$w/bp")" = "Mail queue is empty" ]; }
# Entries (files) directly in the queue dir.
nentries() { find "$Q" -maxdepth 1 -type f 2>/dev/null | wc -l; }

# sinkq CMD ARGS: questions about the messages the sink took (see below).
sinkq() {
	"$PY" - "$S" "$@" <<'EOF'
import email, email.policy, os, re, sys
S, cmd, args = sys.argv[1], sys.argv[2], sys.argv[3:]
msgs = []
for name in os.listdir(os.path.join(S, "msgs")):
    if name.endswith(".tmp"):
        continue
    raw = open(os.path.join(S, "msgs", name), "rb").read()
    env, _, data = raw.partition(b"\n\n")
    lines = env.decode("utf-8", "surrogateescape").split("\n")
    m = email.message_from_bytes(data, policy=email.policy.default)
    msgs.append(dict(id=name, session=int(lines[0].split()[1]),
                     mail=lines[1][5:], rcpts=[l[5:] for l in lines[2:]],
                     data=data, msg=m, subject=str(m.get("Subject", ""))))
msgs.sort(key=lambda x: [int(n) for n in x["id"].split("-")])
bad = []
if cmd == "list":
    # id, session, subject, MAIL arguments, RCPT arguments
    for x in msgs:
        print("\t".join([x["id"], str(x["session"]), x["subject"], x["mail"]]
                        + x["rcpts"]))
elif cmd == "unique":
    # exactly N messages, with N distinct subjects
    subj = [x["subject"] for x in msgs]
    dup = sorted(s for s in set(subj) if subj.count(s) > 1)
    if len(msgs) != int(args[0]) or dup:
        bad.append("%d messages, %d distinct; twice or more: %s"
                   % (len(msgs), len(set(subj)), " ".join(dup[:10])))
elif cmd == "data":
    # the message whose subject is args[0] is the file args[1] (LF = CRLF)
    want = open(args[1], "rb").read().replace(b"\n", b"\r\n")
    got = [x["data"] for x in msgs if x["subject"] == args[0]]
    if got != [want]:
        bad.append("want %r, got %r" % (want, got))
elif cmd == "same":
    # exactly two messages, the same bytes
    if len(msgs) != 2 or msgs[0]["data"] != msgs[1]["data"]:
        bad.append("%d messages; %s" % (len(msgs), " / ".join(
            repr(x["data"][:300]) + ("..." if len(x["data"]) > 300 else "")
            for x in msgs)))
        if len(msgs) == 2:
            a, b = msgs[0]["data"], msgs[1]["data"]
            i = next((i for i in range(min(len(a), len(b))) if a[i] != b[i]),
                     min(len(a), len(b)))
            bad.append("sizes %d, %d; first difference at %d: %r / %r"
                       % (len(a), len(b), i, a[i - 40:i + 40], b[i - 40:i + 40]))
elif cmd == "files":
    # subject "files N" went to rN@example.org, for every message
    for x in msgs:
        n = x["subject"].split()[-1]
        if x["rcpts"] != ["TO:<r%s@example.org>" % n]:
            bad.append("%s: %s" % (x["subject"], x["rcpts"]))
elif cmd == "bounce":
    # one bounce of the message with subject args[0] sent to args[1]
    b = [x for x in msgs if x["mail"].startswith("FROM:<>")]
    if len(b) != 1:
        bad.append("%d messages from <>" % len(b))
    for x in b:
        m = x["msg"]
        if not x["rcpts"] or not x["rcpts"][0].startswith(
                "TO:<sender@client.test>") or len(x["rcpts"]) != 1:
            bad.append("bounce recipients %s" % x["rcpts"])
        if m.get_content_type() != "multipart/report" or \
                m.get_param("report-type") != "delivery-status":
            bad.append("bounce Content-Type: %s" % m.get("Content-Type"))
        parts = {p.get_content_type(): p for p in m.iter_parts()} \
            if m.is_multipart() else {}
        h = parts.get("text/rfc822-headers")
        if h is None or "Subject: " + args[0] not in h.as_string():
            bad.append("no text/rfc822-headers part with Subject: " + args[0])
        d = parts.get("message/delivery-status")
        ds = d.as_string() if d is not None else ""
        if not re.search(r"(?im)^Final-Recipient:.*" + re.escape(args[1]), ds) \
                or not re.search(r"(?im)^Action: *failed", ds):
            bad.append("no message/delivery-status part with Action: "
                       "failed for " + args[1])
for b in bad:
    print(b)
sys.exit(1 if bad else 0)
EOF
}

n=0 fails=0
# t DESCRIPTION COMMAND...: one TAP line; a failing COMMAND sets $why.
t() {
	desc=$1
	shift
	n=$((n + 1))
	why=
	if "$@"; then
		echo "ok $n - $desc"
		return
	fi
	echo "not ok $n - $desc"
	fails=$((fails + 1))
	[ -n "$why" ] && printf '%s\n' "$why" | sed 's/^/# /'
	if [ -s "$w/err" ]; then
		echo "# stderr of the last postie (exit $rc):"
		sed 's/^/#   /' "$w/err"
	fi
	if bp; then
		echo "# -bp:"
		sed 's/^/#   /' "$w/bp" | head -20
	fi
}
bad() {
	why=$*
	return 1
}

# --- relay down: queued, exit 0, one line, a whole private entry ----------
c_down_queued() {
	send "down 1" rcpt@example.org
	[ $rc -eq 0 ] || { bad "exit $rc, want 0"; return; }
	[ "$(wc -l <"$w/err")" -eq 1 ] || { bad "want one stderr line"; return; }
	grep -Eq '^postie: queued as [0-9a-f]{16}: .*postie -q' "$w/err" ||
		{ bad "no 'queued as ID: ... postie -q' line"; return; }
	id=$(queued_id)
}
c_down_private() {
	[ -f "$Q/$id" ] || { bad "no entry $Q/$id"; return; }
	case $(ls -ld "$Q/$id") in -rw-------*) ;; *)
		bad "entry mode: $(ls -ld "$Q/$id")"; return ;; esac
	case $(ls -ld "$Q") in drwx------*) ;; *)
		bad "queue dir mode: $(ls -ld "$Q")"; return ;; esac
	[ "$(nentries)" -eq 1 ] || bad "$(nentries) files in the queue dir"
}
c_down_listed() {
	bp || { bad "-bp exit $?"; return; }
	for s in "^$id  *queued .* attempts 1\$" '^  from: <sender@client.test>$' \
		'^  to: <rcpt@example.org>$' '^  last error: .' '^1 queued, 0 failed$'; do
		grep -q "$s" "$w/bp" || { bad "-bp has no line matching '$s'"; return; }
	done
}
# The message as given, with its own Date and Message-ID and a dot line: the
# relay must get exactly these bytes.
c_back_delivers() {
	start_sink
	conf "$PORT"
	p -q </dev/null
	[ $rc -eq 0 ] || { bad "-q exit $rc, want 0"; return; }
	[ "$(nmsgs)" -eq 2 ] || { bad "the sink has $(nmsgs) messages, want 2"; return; }
	why=$(sinkq data "down 2" "$w/full") || return
	[ ! -e "$Q/$id" ] || { bad "the entry is still there"; return; }
	queue_empty || bad "-bp does not say 'Mail queue is empty'"
}
c_back_once() {
	p -q </dev/null
	[ $rc -eq 0 ] || { bad "second -q exit $rc"; return; }
	[ "$(nmsgs)" -eq 2 ] || bad "the sink has $(nmsgs) messages after a second -q"
}
fresh down
conf "$(dead_port)"
t "relay down: exit 0, one 'queued as ID: ... postie -q' line" c_down_queued
t "the entry is a 0600 file in a 0700 queue dir" c_down_private
t "-bp lists the id, sender, recipient, attempts 1 and the last error" c_down_listed
printf '%s\n' 'From: Sender <sender@client.test>' 'To: rcpt@example.org' \
	'Date: Mon, 2 Feb 2026 10:00:00 +0000' 'Message-ID: <down2@client.test>' \
	'Subject: down 2' '' '.leading dot' '..two dots' '.' 'end' >"$w/full"
p -i rcpt@example.org <"$w/full"
t "relay back: -q delivers both exactly as queued, the queue is empty" \
	c_back_delivers
t "a second -q sends nothing more" c_back_once
sink_stop

# --- the next message drains the queue in its session ----------------------
c_drain() {
	conf "$(dead_port)"
	send "drain 1" a@example.org && send "drain 2" b@example.org
	[ "$(nentries)" -eq 2 ] || { bad "$(nentries) entries queued, want 2"; return; }
	start_sink
	conf "$PORT"
	send "drain 3" c@example.org
	[ $rc -eq 0 ] || { bad "send exit $rc"; return; }
	[ "$(nmsgs)" -eq 3 ] || { bad "the sink has $(nmsgs) messages, want 3"; return; }
	[ "$(nsessions)" -eq 1 ] || { bad "$(nsessions) sessions, want 1"; return; }
	[ "$(nentries)" -eq 0 ] || bad "$(nentries) entries left"
}
sink_stop
fresh drain
t "an ordinary send takes two queued entries along in its one session" c_drain

# --- 4xx at each step: queued; 5xx: not queued, its exit status -----------
# c_reply STAGE REPLY WANT_EXIT QUEUED(0|1)
c_reply() {
	fresh "reply-$1-$3"
	conf "$PORT"
	rules "{\"$1\": \"$2\"}"
	send "reply $1" rcpt@example.org
	[ $rc -eq "$3" ] || { bad "exit $rc, want $3"; return; }
	if [ "$4" = 1 ]; then
		grep -q '^postie: queued as ' "$w/err" || { bad "no 'queued as'"; return; }
		[ "$(nentries)" -eq 1 ] || { bad "$(nentries) entries"; return; }
		bp
		grep -q "last error: .*${2%% *}" "$w/bp" || bad "-bp shows no ${2%% *}"
	else
		! grep -q 'queued' "$w/err" || { bad "stderr says queued"; return; }
		[ "$(nentries)" -eq 0 ] || { bad "$(nentries) entries"; return; }
		queue_empty || bad "-bp does not say 'Mail queue is empty'"
	fi
}
fresh replies
start_sink
for st in mail rcpt data eod; do
	t "451 at $st: queued, exit 0" c_reply $st "451 4.3.0 try later" 0 1
done
t "554 at mail: not queued, exit 69" c_reply mail "554 5.7.1 no" 69 0
t "550 at rcpt: not queued, exit 67" c_reply rcpt "550 5.1.1 no such user" 67 0
t "554 at data: not queued, exit 69" c_reply data "554 5.5.0 no" 69 0
t "554 at eod: not queued, exit 69" c_reply eod "554 5.6.0 no" 69 0

# --- queue off -----------------------------------------------------------
c_noqueue() {
	send "noqueue" "$@" rcpt@example.org
	[ $rc -eq 75 ] || { bad "exit $rc, want 75"; return; }
	[ "$(nentries)" -eq 0 ] || { bad "$(nentries) entries"; return; }
	! grep -q 'queued as' "$w/err" || bad "stderr says queued"
}
fresh noqueue
conf "$(dead_port)"
t "--no-queue, relay down: exit 75, nothing queued" c_noqueue --no-queue
fresh queueoff
conf "$(dead_port)" "queue off"
t "queue off, relay down: exit 75, nothing queued" c_noqueue
c_queue_on() {
	send "queue on" --queue rcpt@example.org
	[ $rc -eq 0 ] && [ "$(nentries)" -eq 1 ] || bad "exit $rc, $(nentries) entries"
}
t "queue off with --queue: queued, exit 0" c_queue_on
sink_stop

# --- hang-ups and timeouts are temporary too ------------------------------
# c_hangup STAGE: the sink hangs up there: queued; then -q delivers it once.
c_hangup() {
	fresh "hangup-$1"
	start_sink
	conf "$PORT"
	rules "{\"close_at\": \"$1\"}"
	send "hangup $1" rcpt@example.org
	[ $rc -eq 0 ] && [ -n "$(queued_id)" ] || { bad "exit $rc, not queued"; return; }
	rules '{}'
	p -q </dev/null
	[ $rc -eq 0 ] || { bad "-q exit $rc"; return; }
	[ "$(nmsgs)" -eq 1 ] && [ "$(nentries)" -eq 0 ] ||
		bad "$(nmsgs) delivered, $(nentries) entries left"
	sink_stop
}
t "the server hangs up instead of greeting: queued, then -q delivers it once" \
	c_hangup greeting
t "the server hangs up after the data: queued, then -q delivers it once" \
	c_hangup eod
c_timeout() {
	fresh timeout
	start_sink
	conf "$PORT" "timeout 1"
	rules '{"eod_delay": 3}'
	send "timeout" rcpt@example.org
	[ $rc -eq 0 ] && [ -n "$(queued_id)" ] || bad "exit $rc, not queued"
	sink_stop
}
t "no reply to the end of data within the timeout: queued, exit 0" c_timeout

# --- where the queue is, and a queue others may enter ---------------------
c_where() {
	conf "$(dead_port)"
	XDG_STATE_HOME=$w/state
	export XDG_STATE_HOME
	send "xdg" rcpt@example.org
	unset XDG_STATE_HOME
	[ "$(find "$w/state/postie/queue" -maxdepth 1 -type f | wc -l)" -eq 1 ] ||
		{ bad "not in \$XDG_STATE_HOME/postie/queue"; return; }
	conf "$(dead_port)" "queue_dir ~/spool/q"
	send "queue_dir" rcpt@example.org
	[ "$(find "$HOME/spool/q" -maxdepth 1 -type f | wc -l)" -eq 1 ] ||
		{ bad "not in queue_dir ~/spool/q"; return; }
	case $(ls -ld "$HOME/spool/q") in drwx------*) ;; *)
		bad "queue_dir mode: $(ls -ld "$HOME/spool/q")" ;; esac
}
fresh where
t "the queue is \$XDG_STATE_HOME/postie/queue, or queue_dir (~/ expanded)" c_where
c_private() {
	conf "$(dead_port)"
	send "private 1" rcpt@example.org
	chmod 755 "$Q" || return
	send "private 2" rcpt@example.org
	[ $rc -eq 75 ] || { bad "send: exit $rc, want 75"; return; }
	grep -q '^postie: cannot queue the message: ' "$w/err" ||
		{ bad "no 'cannot queue the message' line"; return; }
	[ "$(nentries)" -eq 1 ] || { bad "$(nentries) entries"; return; }
	p -q </dev/null
	[ $rc -eq 78 ] || bad "-q: exit $rc, want 78"
}
fresh private
t "a queue dir others may enter: exit 75 'cannot queue', -q exits 78" c_private
chmod 700 "$Q"

# --- what goes in comes out: DSN and BODY parameters ---------------------
# The MAIL and RCPT lines (SIZE aside) of a direct send and of the same
# message queued and then flushed.
envelope() {
	sinkq list | awk -F'\t' -v s="$1" '$3 == s { $1 = $2 = $3 = ""; print }' |
		sed 's/ SIZE=[0-9]*//'
}
c_params() {
	start_sink
	conf "$PORT"
	set -- -N failure,delay -R hdrs -V env42 -B 8BITMIME -f owner@client.test
	printf 'Subject: params\n\ncaf\303\251\n' >"$w/m8"
	p -i "$@" rcpt@example.org <"$w/m8"
	[ $rc -eq 0 ] || { bad "direct send: exit $rc"; return; }
	direct=$(envelope params)
	conf "$(dead_port)"
	p -i "$@" rcpt@example.org <"$w/m8"
	[ -n "$(queued_id)" ] || { bad "not queued"; return; }
	conf "$PORT"
	p -q </dev/null
	queued=$(envelope params | sed 1d)
	[ -n "$direct" ] && [ "$direct" = "$queued" ] ||
		bad "direct: $direct" "queued: $queued"
	case $direct in *ENVID=env42*BODY=8BITMIME* | *BODY=8BITMIME*ENVID=env42*) ;; *)
		bad "direct: $direct" ;; esac
}
fresh params
t "sender, DSN (NOTIFY, RET, ENVID) and BODY survive the queue" c_params
sink_stop

# --- the queue delivers the bytes a direct send delivers -------------------
# c_same FILE: FILE sent directly, then queued and flushed: the sink gets the
# same bytes twice (the input has its own Date and Message-ID).
c_same() {
	start_sink
	conf "$PORT"
	p -i rcpt@example.org <"$1"
	[ $rc -eq 0 ] || { bad "direct send: exit $rc"; return; }
	conf "$(dead_port)"
	p -i rcpt@example.org <"$1"
	[ -n "$(queued_id)" ] || { bad "not queued"; return; }
	conf "$PORT"
	p -q </dev/null
	[ $rc -eq 0 ] || { bad "-q: exit $rc"; return; }
	why=$(sinkq same) || return
	sink_stop
}
fresh same-dots
# ~300 KB of lines that start with dots, of every length around the reads'
# buffer sizes, and a line of a lone dot.
"$PY" -c 'import sys
w = sys.stdout.write
w("Subject: dots\nDate: Mon, 2 Feb 2026 10:00:00 +0000\n"
  "Message-ID: <dots@client.test>\n\n.\n")
for i in range(3000):
    w("." * (1 + i % 7) + "x" * (i % 181) + "\n")
w(".\nend")' >"$w/dots"
t "a 300 KB message of dot lines, no final newline: the same bytes queued" \
	c_same "$w/dots"
fresh same-crlf
printf 'Subject: crlf\r\nDate: Mon, 2 Feb 2026 10:00:00 +0000\r\nMessage-ID: <crlf@client.test>\r\n\r\nline\r\n.\r\n\r\n' >"$w/crlf"
t "a CRLF message: the same bytes queued" c_same "$w/crlf"
fresh same-8bit
printf 'Subject: =?utf-8?q?caf=C3=A9?=\nDate: Mon, 2 Feb 2026 10:00:00 +0000\nMessage-ID: <8bit@client.test>\n\ncaf\303\251 \342\202\254\n' >"$w/8bit"
t "an 8-bit message: the same bytes queued" c_same "$w/8bit"

# --- accounts ----------------------------------------------------------
# conf2 PORT: the accounts default and other (another sender), same relay.
conf2() {
	conf "$1"
	printf 'account other\nhost 127.0.0.1\nport %s\ntls off\n' "$1" >>"$w/conf"
	printf 'from other@client.test\ndomain client.test\ntimeout 5\n' >>"$w/conf"
}
c_accounts() {
	conf2 "$(dead_port)"
	send "acct d1" rcpt@example.org && send "acct d2" rcpt@example.org
	send "acct o1" -a other rcpt@example.org && send "acct o2" -a other rcpt@example.org
	[ "$(nentries)" -eq 4 ] || { bad "$(nentries) entries"; return; }
	start_sink
	conf2 "$PORT"
	p -q </dev/null
	[ $rc -eq 0 ] || { bad "-q exit $rc"; return; }
	[ "$(nsessions)" -eq 2 ] || { bad "$(nsessions) sessions, want 2"; return; }
	# one session per account: a session's messages share the sender
	[ "$(sinkq list | cut -f2,4 | sort -u | wc -l)" -eq 2 ] ||
		bad "sessions mix the accounts: $(sinkq list | cut -f2-4)"
}
fresh accounts
t "-q over two accounts: one session each, all four delivered" c_accounts
sink_stop
c_gone() {
	conf2 "$(dead_port)"
	send "gone" -a other rcpt@example.org
	gid=$(queued_id)
	start_sink
	conf "$PORT"
	p -q </dev/null
	[ $rc -eq 78 ] || { bad "-q exit $rc, want 78"; return; }
	[ -f "$Q/$gid" ] && [ "$(nmsgs)" -eq 0 ] || bad "sent, or not left queued"
}
fresh gone
t "an entry whose account is gone from the config: -q exits 78, it stays" c_gone
sink_stop

# --- -q with nothing to do ------------------------------------------------
c_nothing() {
	start_sink
	conf "$PORT"
	p -q </dev/null
	[ $rc -eq 0 ] && [ ! -s "$w/err" ] || { bad "exit $rc"; return; }
	send "nothing" rcpt@example.org
	p -q </dev/null
	[ $rc -eq 0 ] && [ ! -s "$w/err" ] || { bad "second -q exit $rc"; return; }
	[ "$(nsessions)" -eq 1 ] || bad "$(nsessions) sessions, want 1 (the send)"
}
fresh nothing
t "-q with nothing queued: exit 0, silent, no connection" c_nothing
sink_stop

# --- permanent failure in a flush: failed/ and a bounce -------------------
# c_giveup LINE: queue "giveup" with the relay down (conf LINE), then -q.
c_giveup() {
	conf "$(dead_port)" "$@"
	send "giveup $w" rcpt@example.org
	gid=$(queued_id)
	[ -n "$gid" ] || { bad "not queued"; return; }
	[ "$*" = "" ] || sleep 2
	start_sink
	conf "$PORT" "$@"
	rules '{"rcpt": {"match": "rcpt@example.org", "reply": "550 5.1.1 no such user"}}'
	p -q </dev/null
	[ $rc -eq 0 ] || { bad "-q exit $rc, want 0 (given up)"; return; }
	grep -q "^postie: $gid: given up: " "$w/err" ||
		{ bad "no 'postie: $gid: given up: ' line"; return; }
	[ -f "$Q/failed/$gid" ] && [ ! -e "$Q/$gid" ] ||
		{ bad "$gid is not in failed/"; return; }
	bp
	grep -q "^$gid  *failed " "$w/bp" || { bad "-bp does not show it failed"; return; }
	grep -q '^0 queued, 1 failed$' "$w/bp" || { bad "-bp count"; return; }
	why=$(sinkq bounce "giveup $w" rcpt@example.org) || return
	[ "$(nsessions)" -eq 1 ] || bad "$(nsessions) sessions, want 1 (the bounce rides along)"
}
sink_stop
fresh giveup
t "5xx during -q: failed/, exit 0, a multipart/report bounce to the sender" c_giveup
sink_stop
fresh expire
c_expire() {
	c_giveup "queue_lifetime 1s" || return
	# given up without an attempt: the relay got the bounce only
	[ "$(nmsgs)" -eq 1 ] || { bad "the sink has $(nmsgs) messages, want the bounce"; return; }
	! grep -q '^[0-9]*< RCPT TO:<rcpt@example.org>' "$S/sessions.log" ||
		bad "the expired entry was attempted"
}
t "queue_lifetime 1s: expired after 2 s, failed/ and a bounce, not attempted" c_expire

c_stays() {
	conf "$(dead_port)"
	send "stays" rcpt@example.org
	sid=$(queued_id)
	start_sink
	conf "$PORT"
	rules '{"rcpt": "452 4.2.2 mailbox full"}'
	p -q </dev/null
	[ $rc -eq 75 ] || { bad "-q exit $rc, want 75"; return; }
	tail -n 1 "$w/err" | grep -Eq '^postie: -q: 1 (entry stays|entries stay) in the queue$' ||
		{ bad "last stderr line: $(tail -n 1 "$w/err")"; return; }
	bp
	grep -q "^$sid  *queued .* attempts 2\$" "$w/bp" &&
		grep -q '^  last error: .*452 4.2.2 mailbox full' "$w/bp" ||
		{ bad "-bp: not attempts 2 with the 452"; return; }
	[ "$(nmsgs)" -eq 0 ] && [ -f "$Q/$sid" ] || bad "delivered or moved"
}
sink_stop
fresh stays
t "4xx during -q: stays queued, attempts 2, exit 75 with the count line" c_stays
c_cut() {
	conf "$(dead_port)"
	for i in 1 2 3 4 5; do send "cut $i" rcpt@example.org; done
	start_sink
	conf "$PORT"
	rules '{"close_after": 2}'
	p -q </dev/null
	[ $rc -eq 75 ] || { bad "-q exit $rc, want 75"; return; }
	# The session ends at the third entry (kept, with the error); the
	# run opens a new one for the two it did not reach.
	[ "$(nmsgs)" -eq 4 ] && [ "$(nentries)" -eq 1 ] ||
		{ bad "$(nmsgs) delivered, $(nentries) left; want 4 and 1"; return; }
	rules '{}'
	p -q </dev/null
	[ $rc -eq 0 ] || { bad "second -q exit $rc"; return; }
	why=$(sinkq unique 5) || return
	[ "$(nentries)" -eq 0 ] || bad "$(nentries) left"
}
sink_stop
fresh cut
t "the relay hangs up after 2 of 5: a new session takes the 2 not reached, the one cut stays (exit 75); the next -q sends it" c_cut
c_nullsender() {
	conf "$(dead_port)"
	send "null" -f '<>' rcpt@example.org
	nid=$(queued_id)
	start_sink
	conf "$PORT"
	rules '{"rcpt": "550 5.1.1 no such user"}'
	p -q </dev/null
	[ $rc -eq 0 ] || { bad "-q exit $rc"; return; }
	[ -f "$Q/failed/$nid" ] || { bad "not in failed/"; return; }
	[ "$(nmsgs)" -eq 0 ] || bad "the sink got $(nmsgs) messages (a bounce of a bounce?)"
}
sink_stop
fresh nullsender
t "a message from <> given up: failed/, no report" c_nullsender

# --- -qI, -qR, -qS -------------------------------------------------------
sink_stop
fresh select
conf "$(dead_port)"
send "sel A" alpha@example.org
idA=$(queued_id)
send "sel B" -f other@client.test beta@example.org
send "sel C" -f third@client.test gamma@example.org
start_sink
conf "$PORT"
# c_sel FLAG SUBJECT NUMBER_DELIVERED
c_sel() {
	p "$1" </dev/null
	[ $rc -eq 0 ] || { bad "exit $rc"; return; }
	[ "$(nmsgs)" -eq "$3" ] || { bad "the sink has $(nmsgs) messages, want $3"; return; }
	sinkq list | grep -q "	sel $2	" || { bad "sel $2 not delivered"; return; }
	[ "$(nentries)" -eq $((3 - $3)) ] || bad "$(nentries) entries left"
}
t "-qI<random part of an id> sends only that entry" c_sel "-qI${idA#????????}" A 1
t "-qR<recipient, other case> sends only that entry" c_sel -qRBETA@Example B 2
t "-qS<sender part> sends only that entry" c_sel -qSthird@ C 3

# --- --queue-delete, --queue-retry --------------------------------------
c_delete() {
	conf "$(dead_port)"
	send "del 1" rcpt@example.org
	d1=$(queued_id)
	send "del 2" rcpt@example.org
	p --queue-delete "$d1" </dev/null
	[ $rc -eq 0 ] || { bad "exit $rc"; return; }
	[ ! -e "$Q/$d1" ] && [ "$(nentries)" -eq 1 ] || { bad "not deleted"; return; }
	bp
	! grep -q "$d1" "$w/bp" || { bad "-bp still lists it"; return; }
	p --queue-delete "$d1" </dev/null
	[ $rc -eq 64 ] || bad "deleting it again: exit $rc, want 64"
}
sink_stop
fresh delete
t "--queue-delete ID removes that entry only; an unknown id exits 64" c_delete
c_retry() {
	c_giveup || return
	rules '{}'
	p --queue-retry "$gid" </dev/null
	[ $rc -eq 0 ] || { bad "exit $rc"; return; }
	sinkq list | grep -q "	giveup $w	.*TO:<rcpt@example.org>" ||
		{ bad "not delivered"; return; }
	[ ! -e "$Q/failed/$gid" ] && [ "$(nentries)" -eq 0 ] || { bad "not removed"; return; }
	queue_empty || bad "-bp does not say 'Mail queue is empty'"
}
sink_stop
fresh retry
t "--queue-retry ID on a failed entry delivers it" c_retry

# --- two queue runs at once over 100 entries ------------------------------
c_concurrent() {
	conf "$(dead_port)"
	i=0
	while [ $i -lt 100 ]; do
		i=$((i + 1))
		send "conc $i" "rcpt$i@example.org" || return
		[ $rc -eq 0 ] || { bad "queueing $i: exit $rc"; return; }
	done
	[ "$(nentries)" -eq 100 ] || { bad "$(nentries) entries, want 100"; return; }
	start_sink
	conf "$PORT"
	"$POSTIE" -C "$w/conf" -q </dev/null >/dev/null 2>"$w/err1" &
	p1=$!
	"$POSTIE" -C "$w/conf" -q </dev/null >/dev/null 2>"$w/err2" &
	p2=$!
	wait $p1
	rc1=$?
	wait $p2
	rc2=$?
	[ $rc1 -eq 0 ] && [ $rc2 -eq 0 ] || { bad "exits $rc1 and $rc2: $(cat "$w/err1" "$w/err2")"; return; }
	why=$(sinkq unique 100) || return
	[ "$(nentries)" -eq 0 ] || bad "$(nentries) entries left"
}
sink_stop
fresh concurrent
t "two -q at once over 100 entries: each delivered exactly once" c_concurrent
sink_stop

# --- --files: 100 messages, one session ---------------------------------
fresh files
mkdir "$w/f" || exit 99
i=100
while [ $i -lt 200 ]; do
	i=$((i + 1))
	printf 'To: r%s@example.org\nSubject: files %s\n\nbody %s\n' $i $i $i >"$w/f/f$i"
done
c_files() {
	p --files "$w"/f/f* </dev/null
	[ $rc -eq 0 ] || { bad "exit $rc"; return; }
	why=$(sinkq unique 100) || return
	why=$(sinkq files) || return
	[ "$(nsessions)" -eq 1 ] || bad "$(nsessions) sessions, want 1"
}
c_files_refused() {
	rm -rf "$S"
	start_sink
	conf "$PORT"
	rules '{"rcpt": {"match": "r142@", "reply": "550 5.1.1 no such user"}}'
	p --files "$w"/f/f* </dev/null
	[ $rc -eq 67 ] || { bad "exit $rc, want 67"; return; }
	why=$(sinkq unique 99) || return
	! sinkq list | grep -q "	files 142	" || { bad "files 142 delivered"; return; }
	grep -q "^postie: $w/f/f142: " "$w/err" || { bad "stderr does not name f142"; return; }
	[ "$(grep -c '^postie: .*/f/f' "$w/err")" -eq 1 ] || { bad "stderr names other files"; return; }
	[ "$(nsessions)" -eq 1 ] || { bad "$(nsessions) sessions, want 1"; return; }
	[ "$(nentries)" -eq 0 ] || bad "$(nentries) entries queued"
}
c_files_temp() {
	start_sink
	conf "$PORT"
	rules '{"rcpt": {"match": "r150@", "reply": "451 4.3.0 try later"}}'
	p --files "$w"/f/f* </dev/null
	[ $rc -eq 0 ] || { bad "exit $rc, want 0"; return; }
	why=$(sinkq unique 99) || return
	grep -q "^postie: $w/f/f150: queued as [0-9a-f]\{16\}: " "$w/err" ||
		{ bad "no 'FILE: queued as' line"; return; }
	[ "$(nentries)" -eq 1 ] || { bad "$(nentries) entries queued"; return; }
	bp
	grep -q '^  to: <r150@example.org>$' "$w/bp" || bad "not the file of r150"
}
start_sink
conf "$PORT"
t "--files with 100 files: 100 messages in one session, exit 0" c_files
sink_stop
t "--files, one recipient refused: the other 99 arrive, exit 67, the file named" \
	c_files_refused
fresh files-temp
mv "$top/files/f" "$w/f" || exit 99
t "--files, one recipient 451: queued, the other 99 arrive, exit 0" c_files_temp
sink_stop

# The sink itself must not have failed (a traceback would be its bug, or
# postie sending what it cannot parse).
c_sink_clean() {
	errs=$(cat "$top"/*/sink.err)
	[ -z "$errs" ] || bad "$errs"
}
t "the sink reported no errors" c_sink_clean

echo "1..$n"
[ $fails -eq 0 ]
