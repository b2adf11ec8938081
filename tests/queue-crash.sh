#!/bin/sh
# Crash safety of the queue (issue 6): kill -9 postie at random instants
# while it queues (relay down) and while it flushes (-q, or a send that
# drains the queue) into tests/queue/sink.py, which delays its reply to the
# end of data by 0-20 ms so that kills land there too. After every kill no
# partial entry may be visible; at the end nothing may be lost, and a
# message may arrive twice only when its first delivery was not
# acknowledged (the client sent nothing after the sink's 250 to its end of
# data). QUEUE_CRASH_ITERATIONS (default 400) and QUEUE_CRASH_SEED tune it.
set -u
: "${POSTIE:?set POSTIE to the built binary}"
: "${POSTIE_SRCDIR:?set POSTIE_SRCDIR to the source tree}"
PY=${PYTHON3:-python3}
SINK=$POSTIE_SRCDIR/tests/queue/sink.py
ITER=${QUEUE_CRASH_ITERATIONS:-400}
SEED=${QUEUE_CRASH_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
unset XDG_STATE_HOME XDG_CONFIG_HOME
w=$(mktemp -d) || exit 99
vpid=''
. "$POSTIE_SRCDIR/tests/queue/sink.sh"
cleanup() {
	[ -n "$vpid" ] && kill -9 "$vpid" 2>/dev/null
	sink_stop
	if [ -n "${QUEUE_CRASH_KEEP:-}" ]; then echo "# kept $w"; else rm -rf "$w"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
mkdir -p "$w/home" "$w/tmp" "$w/sink" || exit 99
HOME=$w/home TMPDIR=$w/tmp
export HOME TMPDIR
Q=$HOME/.local/state/postie/queue

echo "1..8"
echo "# seed $SEED (QUEUE_CRASH_SEED=$SEED to repeat the delays)"

sink_start "$w/sink" "$w/port" "$w/sink.err"
reject='"rcpt": {"match": "reject@", "reply": "550 5.1.1 no such user"}'
printf '{"eod_delay": [0, 0.02], %s}\n' "$reject" >"$w/sink/rules.json"

# up.conf reaches the sink; down.conf a port nothing listens on. Both are
# the account "default", so what one queues the other sends.
conf() {
	printf 'account default\nhost 127.0.0.1\nport %s\ntls off\n' "$2" >"$w/$1"
	printf 'from sender@client.test\ndomain client.test\ntimeout 5\n' >>"$w/$1"
	chmod 600 "$w/$1"
}
conf up.conf "$PORT"
conf down.conf "$("$PY" -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"

# The kill delays, one a line, from the seed: 0-40 ms while flushing; while
# queueing, which takes only a few ms, 0 to 1.3 times the median time of
# five queueing runs (timed in a HOME of their own), at most 40 ms.
"$PY" - "$SEED" "$ITER" "$POSTIE" "$w" >"$w/delays" <<'EOF' || exit 99
import os, random, statistics, subprocess, sys, time
seed, iters, postie, w = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
env = dict(os.environ, HOME=os.path.join(w, "timing"))
os.mkdir(env["HOME"])
runs = []
for _ in range(5):
    t = time.monotonic()
    subprocess.run([postie, "-C", os.path.join(w, "down.conf"), "-i",
                    "rcpt@example.org"], input=b"Subject: timing\n\nx\n",
                   env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    runs.append(time.monotonic() - t)
qmax = min(0.040, 1.3 * statistics.median(runs))
sys.stderr.write("# a queueing run takes %.1f ms: kills while queueing at "
                 "0-%.1f ms, while flushing at 0-40 ms\n"
                 % (1000 * statistics.median(runs), 1000 * qmax))
random.seed(seed)
for i in range(iters):
    print("%.4f" % random.uniform(0, qmax if i < iters // 2 else 0.040))
EOF
exec 3<"$w/delays"

# mkmsg KEY: a message of about 20 KB (so that writing it takes a while)
# ending in a line that proves it whole; the key is its subject.
mkmsg() {
	{
		printf 'Subject: %s\nMessage-ID: <%s@crash.test>\n\n' "$1" "$1"
		j=0
		while [ $j -lt 280 ]; do
			j=$((j + 1))
			echo "$1 line $j: the quick brown fox jumps over the lazy dog 0123456789"
		done
		echo "end of $1"
	} >"$w/msg"
}

# queue KEY [RCPT]: queue a message with the relay down; it must exit 0.
# The sink refuses reject@example.org (550): those must be given up.
queue() {
	mkmsg "$1"
	if "$POSTIE" -C "$w/down.conf" -i "${2:-rcpt@example.org}" <"$w/msg" >/dev/null 2>"$w/err"; then
		if [ $# -gt 1 ]; then echo "$1" >>"$w/mustfail"; else echo "$1" >>"$w/must"; fi
	else
		echo "# queueing $1 failed: $(cat "$w/err")"
		badrun=$((badrun + 1))
	fi
}

# victim CONF ARGS...: start postie, kill -9 it after the next delay; the
# exit status in $rc (137 when the kill landed).
victim() {
	c=$1
	shift
	"$POSTIE" -C "$w/$c" "$@" <"$w/msg" >/dev/null 2>"$w/err" &
	vpid=$!
	read -r d <&3
	sleep "$d"
	kill -9 "$vpid" 2>/dev/null
	{ wait "$vpid"; } 2>/dev/null
	rc=$?
	vpid=''
}

# After a kill: -bp reads every file in the queue dir as an entry (none
# unreadable), and lists exactly those files (tmp/ holds no entries).
whole=0
check_queue() {
	if ! "$POSTIE" -C "$w/up.conf" -bp </dev/null >"$w/bp" 2>&1; then
		echo "# after $1: -bp failed: $(cat "$w/bp")"
		return 1
	fi
	files=$(find "$Q" -maxdepth 1 -type f 2>/dev/null | wc -l)
	if grep -q 'unreadable' "$w/bp"; then
		echo "# after $1: an unreadable entry:"
		sed 's/^/#   /' "$w/bp"
		return 1
	fi
	if [ -e "$Q" ] && find "$Q" -maxdepth 1 -type f | grep -qv '/[0-9a-f]\{16\}$'; then
		echo "# after $1: a file in the queue dir that is not an entry:"
		find "$Q" -maxdepth 1 -type f | sed 's/^/#   /'
		return 1
	fi
	listed=$(sed -n 's/^\([0-9]*\) queued, [0-9]* failed$/\1/p' "$w/bp")
	if [ "${listed:-0}" -ne "$files" ]; then
		echo "# after $1: -bp lists ${listed:-0} entries, the queue dir holds $files"
		return 1
	fi
	files=$(find "$Q/failed" -maxdepth 1 -type f 2>/dev/null | wc -l)
	listed=$(sed -n 's/^[0-9]* queued, \([0-9]*\) failed$/\1/p' "$w/bp")
	if [ "${listed:-0}" -ne "$files" ]; then
		echo "# after $1: -bp lists ${listed:-0} failed, failed/ holds $files"
		return 1
	fi
	whole=$((whole + 1))
}

# (a) kill while queueing
half=$((ITER / 2))
badrun=0 broken=0 killa=0 killb=0 it=0 fails=0
: >"$w/must"
: >"$w/mustfail"
while [ $it -lt $half ]; do
	it=$((it + 1))
	mkmsg "qa$it"
	victim down.conf -i rcpt@example.org
	case $rc in
	0) echo "qa$it" >>"$w/must" ;;
	137) killa=$((killa + 1)) ;;
	*)
		echo "# queueing qa$it exited $rc: $(cat "$w/err")"
		badrun=$((badrun + 1))
		;;
	esac
	check_queue "kill $it (queueing)" || broken=$((broken + 1))
done
if [ $broken -eq 0 ] && [ $badrun -eq 0 ]; then
	echo "ok 1 - kill -9 while queueing ($half runs, $killa killed): every entry whole after each kill"
else
	echo "not ok 1 - kill -9 while queueing: $broken broken queue states, $badrun runs failed"
	fails=$((fails + 1))
fi

# (b) kill while flushing: -q, or every third time a send that drains; one
# entry in four is refused, so kills land while giving up too
broken=0 badrun=0
while [ $it -lt "$ITER" ]; do
	it=$((it + 1))
	queue "qb$it"
	[ $((it % 2)) -eq 0 ] && queue "qc$it"
	[ $((it % 4)) -eq 1 ] && queue "qr$it" reject@example.org
	if [ $((it % 3)) -eq 0 ]; then
		mkmsg "sb$it"
		victim up.conf -i rcpt@example.org
		[ $rc -eq 0 ] && echo "sb$it" >>"$w/must"
	else
		victim up.conf -q
	fi
	case $rc in
	0) ;;
	137) killb=$((killb + 1)) ;;
	*)
		echo "# flushing ($it) exited $rc: $(cat "$w/err")"
		badrun=$((badrun + 1))
		;;
	esac
	check_queue "kill $it (flushing)" || broken=$((broken + 1))
done
if [ $broken -eq 0 ] && [ $badrun -eq 0 ]; then
	echo "ok 2 - kill -9 while flushing ($((ITER - half)) runs, $killb killed): every entry whole after each kill"
else
	echo "not ok 2 - kill -9 while flushing: $broken broken queue states, $badrun runs failed"
	fails=$((fails + 1))
fi

# A clean run sends the rest.
printf '{%s}\n' "$reject" >"$w/sink/rules.json"
if "$POSTIE" -C "$w/up.conf" -q </dev/null >/dev/null 2>"$w/err" &&
	"$POSTIE" -C "$w/up.conf" -bp </dev/null >"$w/bp" 2>&1 &&
	! grep -q unreadable "$w/bp" &&
	tail -n 1 "$w/bp" | grep -Eq '^(Mail queue is empty|0 queued, [0-9]+ failed)$'; then
	echo "ok 3 - a final -q empties the queue"
else
	echo "not ok 3 - a final -q empties the queue"
	fails=$((fails + 1))
	sed 's/^/# /' "$w/err" "$w/bp" | head -40
fi

# Let the sink see every session end (and settle every acknowledgement).
i=0
while [ "$(grep -c ' open$' "$w/sink/sessions.log")" -ne \
	"$(grep -c ' close$' "$w/sink/sessions.log")" ] && [ $i -lt 100 ]; do
	i=$((i + 1))
	sleep 0.1
done

"$PY" - "$w/sink" "$w" "$Q" "$ITER" "$killa" "$killb" <<'EOF' ||
import email, email.policy, os, re, sys
S, w, Q, iters, killa, killb = sys.argv[1:]
must = open(os.path.join(w, "must")).read().split()
mustfail = open(os.path.join(w, "mustfail")).read().split()
acks = {}
for line in open(os.path.join(S, "acks")) if os.path.exists(
        os.path.join(S, "acks")) else []:
    mid, st = line.split()
    acks[mid] = st
got, reports, byid, broken = {}, {}, {}, []
for name in os.listdir(os.path.join(S, "msgs")):
    if name.endswith(".tmp"):
        continue
    raw = open(os.path.join(S, "msgs", name), "rb").read()
    env, _, data = raw.partition(b"\n\n")
    if re.search(rb"(?m)^mail FROM:<>( |$)", env):
        # a report: key it by the Subject in its text/rfc822-headers part
        m = email.message_from_bytes(data, policy=email.policy.default)
        h = [p for p in m.walk()
             if p.get_content_type() == "text/rfc822-headers"]
        k = re.search(r"(?m)^Subject: (\S+)", h[0].as_string()) if h else None
        key = k.group(1) if k else "?"
        reports.setdefault(key, set()).add(m.get("Message-ID"))
        # one report (its Message-ID) twice: as for any message
        byid.setdefault("report %s for %s" % (m.get("Message-ID"), key),
                        []).append(name)
        continue
    data = data.decode()
    head, _, body = data.partition("\r\n\r\n")
    key = [l[9:] for l in head.split("\r\n") if l.startswith("Subject: ")]
    key = key[0] if key else "?"
    # whole: 280 numbered lines and the last one
    lines = body.split("\r\n")
    if len(lines) != 282 or lines[-2] != "end of " + key or \
            any(not l.startswith("%s line %d:" % (key, i + 1))
                for i, l in enumerate(lines[:280])):
        broken.append(name + " (" + key + ")")
    got.setdefault(key, []).append(name)
lost = [k for k in must if k not in got]
failed = set()
for name in os.listdir(os.path.join(Q, "failed")):
    k = re.search(rb"(?m)^Subject: (\S+)",
                  open(os.path.join(Q, "failed", name), "rb").read())
    failed.add(k.group(1).decode() if k else "?")
unreported = [k for k in mustfail
              if k not in failed or k not in reports or k in got]
dups, bad = 0, []
for key, names in list(got.items()) + list(byid.items()):
    names.sort(key=lambda n: [int(x) for x in n.split("-")])
    dups += len(names) - 1
    for n in names[:-1]:
        if acks.get(n) != "unacked":
            bad.append("%s: %s then %s (%s)" % (key, n, names[-1],
                                                acks.get(n, "no ack record")))
print("# iterations %s, kills while queueing %s, while flushing %s, "
      "duplicates %d (%s)" % (iters, killa, killb, dups,
                              "all after an unacknowledged end of data"
                              if not bad else "%d acknowledged" % len(bad)))
print("# %d messages exited 0 (must arrive), %d distinct arrived, %d lost"
      % (len(must), len(got), len(lost)))
print("%s 4 - no message lost" % ("not ok" if lost else "ok"))
for k in lost[:20]:
    print("#   lost: " + k)
print("%s 5 - a message arrives twice only after an unacknowledged end of data"
      % ("not ok" if bad else "ok"))
for b in bad[:20]:
    print("#   " + b)
print("%s 6 - every message arrives whole" % ("not ok" if broken else "ok"))
for b in broken[:20]:
    print("#   cut: " + b)
extra = {k: len(v) - 1 for k, v in reports.items() if len(v) > 1}
print("# %d refused entries exited 0: %d in failed/, %d reported (%d reports)"
      % (len(mustfail), len([k for k in mustfail if k in failed]),
         len([k for k in mustfail if k in reports]),
         sum(len(v) for v in byid.values())))
print("%s 7 - every refused entry is in failed/ and reported to its sender"
      % ("not ok" if unreported else "ok"))
for k in unreported[:20]:
    print("#   %s: %s, %s" % (k, "in failed/" if k in failed else "not in failed/",
                             "reported" if k in reports else "no report"))
# A kill after the report is queued and before the entry moves to failed/
# makes the next run give it up again (the report goes first, so that a
# crash never loses one); the report's id is derived from the entry's, so
# the second attempt finds it made and makes no other.
print("%s 8 - a given-up entry is reported once (one report Message-ID)"
      % ("not ok" if extra else "ok"))
for k, n in sorted(extra.items())[:20]:
    print("#   %s: %d reports" % (k, n + 1))
sys.exit(1 if lost or bad or broken or unreported or extra else 0)
EOF
	fails=$((fails + 1))
if [ -s "$w/sink.err" ]; then
	echo "# the sink reported errors:"
	sed 's/^/#   /' "$w/sink.err" | head -40
	fails=$((fails + 1))
fi
[ $fails -eq 0 ]
