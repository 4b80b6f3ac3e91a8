#!/usr/bin/env bash
# reporter.signals: one test per signal with the live reporter on, against the
# project's Prosody and a trusted peer (loopback only). `stanzawatch replay -`
# reads a FIFO that we keep open (an idle live source). Checks:
#   SIGHUP  (via `stanzawatch reload`): the process survives (it died when the
#           reporter thread started before signals were blocked) and the reload
#           reaches the reporter: the peer removed from the config is no longer
#           trusted (<forbidden/>) and gets no further reports;
#   SIGUSR1 prints statistics and survives; SIGPIPE is ignored;
#   SIGTERM with stdin idle: exits 0 within a second (it hung until the pipe
#           closed), open incidents are not reported "closed", and what was
#           spooled is delivered by the next run;
#   SIGINT  with stdin idle: the same stop within a second.
# Every process started here is stopped by pid; everything is time-bounded.
# usage: signals_test.sh STANZAWATCH SWGEN SOURCE_DIR
set -euo pipefail

sw=$1
swgen=$2
src=$3
name=reporter.signals
# shellcheck source=harness.sh
. "$src/tests/reporter/harness.sh"

alive() { kill -0 "$1" 2>/dev/null; }
conf() { # conf FILE PEERS: small batches, so a short capture yields incidents early
	reporter_yaml "$1" "$2" $'engine:\n  batch_bytes: 64KB'
}
# now_ms: wall clock in ms
now_ms() { date +%s%3N; }

conf "$work/sw.yaml" '[{jid: incidents.b.test}]'
"$swgen" --seed 3 --stanzas 20000 --scenarios muc-flood:2,sub-burst:1 --benign none \
	-o "$work/cap.xml" 2>"$work/swgen.err"
head -n -1 "$work/cap.xml" >"$work/cap-open.xml" # no </stream:stream>: the stream stays open
tail -n 1 "$work/cap.xml" | grep -q '</stream:stream>' || fail "capture does not end with the stream close"

# start_sw TAG: stanzawatch replay reading FIFO $work/TAG.fifo, kept open on fd 3
start_sw() {
	local tag=$1
	rm -f "$work/$tag.fifo"
	mkfifo "$work/$tag.fifo"
	"$sw" replay -c "$work/sw.yaml" --no-progress --pid-file "$work/$tag.pid" --drain-timeout 5 \
		--incidents "$work/$tag.jsonl" - <"$work/$tag.fifo" >"$work/$tag.out" 2>"$work/$tag.err" &
	sw_pid=$!
	pids+=("$sw_pid")
	exec 3>"$work/$tag.fifo"
}
# stop_in_time SIGNAL: send it, wait for the exit; sets $st (exit status) and $ms (time taken)
stop_in_time() {
	local t0
	t0=$(now_ms)
	kill "-$1" "$sw_pid"
	st=0
	wait "$sw_pid" || st=$?
	forget_pid "$sw_pid"
	ms=$(($(now_ms) - t0))
}

# ---- SIGHUP, SIGUSR1, SIGPIPE, SIGTERM on one process ----
mkdir -p "$work/outbox"
start_peer "$work/peer.out" --outbox "$work/outbox"
start_sw a
cat "$work/cap-open.xml" >&3
wait_for 20 '[ "$(count "^report " "$work/peer.out")" -ge 1 ]' || fail "no report reached the peer"
conf "$work/sw.yaml" '[]' # the peer is removed
"$sw" reload --pid-file "$work/a.pid" >/dev/null || fail "stanzawatch reload failed"
wait_for 5 'grep -q "configuration reloaded: 0 peer" "$work/a.err"' || { alive "$sw_pid" || fail "SIGHUP killed the process"; fail "reload did not reach the reporter: $(cat "$work/a.err")"; }
alive "$sw_pid" || fail "SIGHUP killed the process"
sleep 0.5
before=$(count "^report " "$work/peer.out")
echo "report incidents.a.test after-reload-1" >"$work/outbox/r.tmp"
mv "$work/outbox/r.tmp" "$work/outbox/r.cmd"
wait_for 10 '[ "$(count "^reply " "$work/peer.out")" -ge 1 ]' || fail "peer's report after the reload not answered"
grep -q '^reply .* error forbidden$' "$work/peer.out" || fail "removed peer still trusted: $(grep '^reply' "$work/peer.out")"
say "SIGHUP ok: survived; reload reached the reporter; the removed peer is refused"
kill -USR1 "$sw_pid"
wait_for 5 'grep -q "stanzas" "$work/a.err"' || fail "SIGUSR1 printed no statistics"
alive "$sw_pid" || fail "SIGUSR1 killed the process"
kill -PIPE "$sw_pid"
sleep 0.3
alive "$sw_pid" || fail "SIGPIPE killed the process"
say "SIGUSR1 ok: statistics printed; SIGPIPE ok: ignored"
stop_in_time TERM
exec 3>&-
[ "$st" = 0 ] || fail "SIGTERM: exit status $st: $(tail -n 5 "$work/a.err")"
[ "$ms" -le 1500 ] || fail "SIGTERM with stdin idle took $ms ms"
grep -q 'open incidents are left open' "$work/a.err" || fail "no stop notice in the log"
# no incident was closed because of the stop: some were still open at the end
"$py" - "$work/a.jsonl" <<'PY' || fail "SIGTERM reported every open incident as closed"
import json, sys
last = {}
for l in open(sys.argv[1]):
    if l.strip():
        o = json.loads(l)
        last[o["id"]] = o["status"]
sys.exit(0 if any(s != "closed" for s in last.values()) else 1)
PY
after=$(count "^report " "$work/peer.out")
[ "$after" = "$before" ] || fail "$((after - before)) report(s) sent to the removed peer after the reload"
say "SIGTERM ok: stdin idle, exit 0 in $ms ms; open incidents not closed; removed peer got nothing more"

# the reports spooled for the removed peer stay; with the peer back, the next run sends them
held=$(spool_files)
conf "$work/sw.yaml" '[{jid: incidents.b.test}]'
printf '<stream:stream xmlns="jabber:server" xmlns:stream="http://etherx.jabber.org/streams">\n</stream:stream>\n' \
	>"$work/empty.xml"
timeout 60 "$sw" replay -c "$work/sw.yaml" --no-progress --drain-timeout 20 \
	--incidents "$work/b.jsonl" "$work/empty.xml" >"$work/b.out" 2>"$work/b.err" ||
	fail "follow-up replay exited $?"
[ "$(spool_files)" = 0 ] || fail "spool not empty after the follow-up run"
say "next run ok: $held report(s) kept aside for the removed peer, delivered once it was back"
stop_peer

# ---- SIGINT with stdin idle ----
start_sw c
printf '<stream:stream xmlns="jabber:server" xmlns:stream="http://etherx.jabber.org/streams">\n' >&3
sleep 1
stop_in_time INT
exec 3>&-
[ "$st" = 0 ] || fail "SIGINT: exit status $st"
[ "$ms" -le 1500 ] || fail "SIGINT with stdin idle took $ms ms"
say "SIGINT ok: stdin idle, exit 0 in $ms ms"
say "all checks passed"
