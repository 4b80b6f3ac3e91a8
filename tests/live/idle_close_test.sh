#!/usr/bin/env bash
# live.idle_close: the live clock. `stanzawatch run` behind a real Prosody
# with deploy/prosody/mod_stanzawatch.lua; a slixmpp client floods a room
# and then everything falls silent (no stanza reaches the tap). With
# aggregate.close_after 3s the flood's incident must be written "closed"
# while stanzawatch still runs, i.e. stream time moved on with the wall clock
# (engine/reader.c CLOCK chunks, engine/worker.c), not only at SIGTERM's
# final flush; a subscription spammer that falls silent must be reported
# while running too (sub_burst settles its grace in timer() on stream time).
# Without the live clock this fails: on an idle server stream time stands
# still. The reporter sends to a real peer (tests/reporter/
# peer.py as incidents.b.test) and /metrics must show the per-peer report
# counters: spooled = sent = acked for that peer (open and closed revisions),
# nothing pending; the second configured peer (a domain no server serves)
# gets the same reports spooled, error replies counted as failed, none
# acked, some pending; promtool clean. Every process started here is
# stopped by pid.
# usage: idle_close_test.sh STANZAWATCH SOURCE_DIR
set -euo pipefail
sw=$1
src=$2
name=live.idle_close
prosody_extra=$(cat <<'CFG'

Host "*"
plugin_paths = { "@SRC@/deploy/prosody" }
stanzawatch_socket = "unix:@DIR@/tap.sock"

VirtualHost "a.test"
	modules_enabled = { "stanzawatch" }

Component "rooms.a.test" "muc"
	modules_enabled = { "stanzawatch" }
CFG
)
# shellcheck source=../reporter/harness.sh
. "$src/tests/reporter/harness.sh"
c2s=$SW_PROSODY_C2S_PORT
mport=$(free_port)
get() { "$py" -c 'import sys,urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())' "$1"; }
start_peer "$work/peer.out"

reporter_yaml "$work/sw.yaml" "[{jid: incidents.b.test}, {jid: nobody.c.test}]" "taps:
  - type: socket
    name: prosody
    listen: unix:$pdir/tap.sock
detectors:
  sub_burst:
    grace: 2s
aggregate:
  close_after: 3s
  update_interval: 1s
metrics:
  listen: 127.0.0.1:$mport"
"$sw" run -c "$work/sw.yaml" --incidents "$work/inc.jsonl" 2>"$work/run.err" &
swpid=$!
pids+=("$swpid")
for _ in $(seq 1 100); do [ -S "$pdir/tap.sock" ] && break; sleep 0.05; done
[ -S "$pdir/tap.sock" ] || fail "tap socket not created"
for _ in $(seq 1 150); do
	[ "$(grep -c 'stanzawatch: connected to' "$pdir/prosody.log" || true)" -ge 2 ] && break
	sleep 0.1
done
"$py" "$src/tests/live/xmpp_driver.py" --port "$c2s" --max-seconds 60 \
	muc-flood --flooders 1 --messages 150 --others 1 >"$work/d1.json" 2>>"$work/drv.err" ||
	fail "muc-flood driver failed"
# a subscription spammer that falls silent: sub_burst settles its 2 s grace in
# timer() on stream time, which only the live clock moves now
"$py" "$src/tests/live/xmpp_driver.py" --port "$c2s" --max-seconds 60 sub-spam --targets 60 \
	>"$work/d2.json" 2>>"$work/drv.err" || fail "sub-spam driver failed"
quiet_from=$(date +%s.%N)
status() { # status STATUS [KIND OFFENDER]: the incident has a line with STATUS
	"$py" -c 'import json,sys; sys.exit(0 if any(j["kind"]==sys.argv[3] and j["offender"]==sys.argv[4] and j["status"]==sys.argv[2] for j in map(json.loads, open(sys.argv[1]))) else 1)' \
		"$work/inc.jsonl" "$1" "${2:-muc-flood}" "${3:-flooder1@a.test}"
}
closed=""
for _ in $(seq 1 200); do # up to 20 s of silence; close_after is 3 s of stream time
	if status closed && status open subscription-spam spammer1@a.test; then closed=$(date +%s.%N); break; fi
	sleep 0.1
done
status open || fail "flood not caught: $(cat "$work/inc.jsonl")"
status open subscription-spam spammer1@a.test ||
	fail "silent subscription spammer not reported while running (sub_burst's timer needs stream time to move): $(cat "$work/inc.jsonl")"
[ -n "$closed" ] || fail "incident not closed after 20 s of silence (stream time stood still): $(cat "$work/inc.jsonl")"
kill -0 "$swpid" || fail "stanzawatch is not running"
after=$("$py" -c "import sys; print('%.1f' % (float(sys.argv[2]) - float(sys.argv[1])))" "$quiet_from" "$closed")
say "ok: muc-flood incident closed and the silent subscription spammer reported ${after} s after the server fell silent (close_after 3s, grace 2s), while running"

# per-peer report counters: both revisions (open, closed) acked by the real peer
pr() { # pr PEER STATE: value of stanzawatch_peer_reports_total (or _pending when STATE = pending)
	if [ "$2" = pending ]; then
		sed -n "s/^stanzawatch_peer_reports_pending{peer=\"$1\"} \([0-9]*\)$/\1/p" "$work/m.txt"
	else
		sed -n "s/^stanzawatch_peer_reports_total{peer=\"$1\",state=\"$2\"} \([0-9]*\)$/\1/p" "$work/m.txt"
	fi
}
for _ in $(seq 1 100); do
	get "http://127.0.0.1:$mport/metrics" >"$work/m.txt" 2>/dev/null || true
	sp=$(pr incidents.b.test spooled)
	[ -n "$sp" ] && [ "$sp" -ge 2 ] && [ "$(pr incidents.b.test acked)" = "$sp" ] && break
	sleep 0.1
done
promtool check metrics <"$work/m.txt" >"$work/promtool.out" 2>&1 || fail "promtool: $(cat "$work/promtool.out")"
[ ! -s "$work/promtool.out" ] || fail "promtool lint: $(cat "$work/promtool.out")"
b=incidents.b.test c=nobody.c.test
sp=$(pr $b spooled)
[ -n "$sp" ] && [ "$sp" -ge 2 ] || fail "peer $b: spooled '$sp', expected >= 2 (open + closed): $(grep peer_reports "$work/m.txt")"
[ "$(pr $b sent)" = "$sp" ] && [ "$(pr $b acked)" = "$sp" ] && [ "$(pr $b failed)" = 0 ] &&
	[ "$(pr $b pending)" = 0 ] || fail "peer $b: expected sent = acked = $sp, 0 failed/pending: $(grep peer_reports "$work/m.txt")"
# no such server: Prosody answers each report with an error, retried with backoff
[ "$(pr $c spooled)" = "$sp" ] && [ "$(pr $c acked)" = 0 ] && [ "$(pr $c failed)" -ge 1 ] &&
	[ "$(pr $c sent)" -ge "$(pr $c failed)" ] && [ "$(pr $c pending)" -ge 1 ] ||
	fail "peer $c: expected $sp spooled, none acked, failed > 0, some pending: $(grep peer_reports "$work/m.txt")"
grep -q "^report " "$work/peer.out" || fail "the peer got no report"
kill -TERM "$swpid"
wait "$swpid" || fail "run exited $? after SIGTERM"
forget_pid "$swpid"
say "ok: per-peer metrics: $b spooled = sent = acked = $sp; $c $(pr $c sent) sent (its error replies: $(pr $c failed) failed), $(pr $c pending) pending; promtool clean"
