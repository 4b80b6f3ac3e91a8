#!/usr/bin/env bash
# reporter.signals: one test per signal with the live reporter on, against the
# project's Prosody and a trusted peer (loopback only). `stanzawatch replay -`
# reads a FIFO that we keep open (an idle live source). Checks:
#   SIGHUP  (via `stanzawatch reload`): the process survives (it died when the
#           reporter thread started before signals were blocked) and the reload
#           reaches the reporter: the peer removed from the config is no longer
#           trusted (<forbidden/>) and gets no further reports;
#   SIGUSR1 prints statistics and survives; SIGPIPE is ignored;
#   SIGINT  with stdin idle: exits 0 within a second (it hung until the pipe
#           closed); the removed peer got nothing after the reload;
#   SIGTERM with stdin idle and the peer configured: exits 0 within a second;
#           the incidents it closes because it stops are written locally but
#           peers are not told they ended (no EndTime report), and what was
#           spooled is delivered by the next run.
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

# ---- SIGHUP (reload), SIGUSR1, SIGPIPE, SIGINT on one process ----
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
stop_in_time INT
exec 3>&-
[ "$st" = 0 ] || fail "SIGINT: exit status $st: $(tail -n 5 "$work/a.err")"
[ "$ms" -le 1500 ] || fail "SIGINT with stdin idle took $ms ms"
after=$(count "^report " "$work/peer.out")
[ "$after" = "$before" ] || fail "$((after - before)) report(s) sent to the removed peer after the reload"
say "SIGINT ok: stdin idle, exit 0 in $ms ms; the removed peer got nothing more"
stop_peer

# ---- SIGTERM with the peer configured: stop within a second; closes forced by
# the stop are written locally but peers are not told the incidents ended ----
conf "$work/sw.yaml" '[{jid: incidents.b.test}]'
rm -f "$work/peer2.out"
start_peer "$work/peer2.out"
start_sw b
cat "$work/cap-open.xml" >&3
wait_for 20 '[ "$(count "^report " "$work/peer2.out")" -ge 1 ]' || fail "no report reached the peer"
sleep 0.5
stop_in_time TERM
exec 3>&-
[ "$st" = 0 ] || fail "SIGTERM: exit status $st: $(tail -n 5 "$work/b.err")"
[ "$ms" -le 1500 ] || fail "SIGTERM with stdin idle took $ms ms"
grep -q 'closed at the stop were not reported closed to peers' "$work/b.err" ||
	fail "no closes withheld at the stop: $(grep -i 'stop' "$work/b.err")"
# the next run delivers whatever the stop left in the spool
printf '<stream:stream xmlns="jabber:server" xmlns:stream="http://etherx.jabber.org/streams">\n</stream:stream>\n' \
	>"$work/empty.xml"
timeout 60 "$sw" replay -c "$work/sw.yaml" --no-progress --drain-timeout 20 \
	--incidents "$work/b2.jsonl" "$work/empty.xml" >"$work/b2.out" 2>"$work/b2.err" ||
	fail "follow-up replay exited $?"
[ "$(spool_files)" = 0 ] || fail "spool not empty after the follow-up run"
# locally closed (JSON) vs told closed (the peer saw EndTime): the stop's closes are missing
"$py" - "$work/b.jsonl" "$work/peer2.out" <<'PY' || fail "peers were told that incidents closed by the stop ended"
import json, sys
closed_json = {json.loads(l)["id"] for l in open(sys.argv[1])
               if l.strip() and json.loads(l)["status"] == "closed"}
told = {l.split()[1] for l in open(sys.argv[2]) if l.startswith("closed ")}
withheld = closed_json - told
print("closed locally %d, told peers %d, withheld %d" % (len(closed_json), len(told), len(withheld)),
      file=sys.stderr)
sys.exit(0 if told <= closed_json and withheld else 1)
PY
say "SIGTERM ok: stdin idle, exit 0 in $ms ms; closes forced by the stop not told to peers; spool delivered by the next run"
stop_peer
say "all checks passed"
