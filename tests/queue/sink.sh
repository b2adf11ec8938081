# sink.sh - sourced by the shell tests that talk to sink.py (queue.sh,
# queue-crash.sh, tls-resume.sh): starting and stopping it. Needs PY and
# SINK (the python and sink.py to run).

sinkpid=''

# sink_start DIR PORTFILE ERRLOG [CERT KEY]: sink.py on DIR in the
# background; returns once it listens, with its port in $PORT (or bails
# out of the TAP run).
sink_start() {
	sink_stop
	rm -f "$2"
	"$PY" "$SINK" "$1" "$2" ${4:+"$4" "$5"} </dev/null >/dev/null 2>>"$3" &
	sinkpid=$!
	_i=0
	while [ ! -s "$2" ]; do
		_i=$((_i + 1))
		if [ $_i -gt 200 ]; then
			echo "Bail out! the sink did not start: $(cat "$3")"
			exit 99
		fi
		sleep 0.05
	done
	PORT=$(cat "$2")
}

sink_stop() {
	if [ -n "$sinkpid" ]; then
		kill "$sinkpid" 2>/dev/null
		wait "$sinkpid" 2>/dev/null
		sinkpid=
	fi
}
