#!/usr/bin/env bash
# reporter.peer_metrics: per-peer report outcomes in /metrics against the
# project's Prosody (loopback). `stanzawatch run` (socket tap, metrics on, the
# live reporter as incidents.a.test, ack_timeout 1s) gets a swgen capture with
# incidents; its two peers misbehave differently:
#   incidents.b.test  connected (tests/reporter/peer.py) but answers every
#                     report only after 30 s: each send times out;
#   rogue.b.test      not connected: Prosody answers with an error (failed).
# /metrics must attribute them per peer: stanzawatch_peer_reports_total
# {peer="incidents.b.test",state="timeout"} >= 1 with failed 0, rogue.b.test
# failed >= 1 with timeout 0, the per-peer timeouts summing to the total
# stanzawatch_reports_total{state="timeout"}, and promtool clean.
# Skips (77) without prosody, slixmpp or promtool.
# usage: peer_metrics_test.sh STANZAWATCH SWGEN SOURCE_DIR
set -euo pipefail
sw=$1
swgen=$2
src=$3
name=reporter.peer_metrics
command -v promtool >/dev/null || { echo "$name: promtool not installed: skipping" >&2; exit 77; }
# shellcheck source=harness.sh
. "$src/tests/reporter/harness.sh"

mport=$(free_port)
get() { "$py" -c 'import sys,urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())' "$1"; }
"$swgen" --seed 3 --stanzas 20000 --scenarios muc-flood:2,sub-burst:1 --benign none \
	-o "$work/cap.xml" 2>/dev/null
reporter_yaml "$work/sw.yaml" '[{jid: incidents.b.test}, {jid: rogue.b.test}]' "taps:
  - {type: socket, name: main, listen: 'unix:$work/tap.sock'}
metrics:
  listen: 127.0.0.1:$mport"
sed -i 's/^  ack_timeout: 3s$/  ack_timeout: 1s/' "$work/sw.yaml"
grep -q '^  ack_timeout: 1s$' "$work/sw.yaml" || fail "could not set ack_timeout"
start_peer "$work/peer.out" --ack-delay 30

"$sw" run -c "$work/sw.yaml" --incidents "$work/inc.jsonl" --drain-timeout 0 2>"$work/run.err" &
swpid=$!
pids+=("$swpid")
wait_for 10 '[ -S "$work/tap.sock" ]' || fail "tap socket not created"
"$py" -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(open(sys.argv[2],"rb").read()); s.close()' \
	"$work/tap.sock" "$work/cap.xml"

pv() { sed -n "s/^stanzawatch_peer_reports_total{peer=\"$1\",state=\"$2\"} \([0-9]*\)$/\1/p" "$work/m.txt"; }
ok() { get "http://127.0.0.1:$mport/metrics" >"$work/m.txt" 2>/dev/null &&
	[ "$(pv incidents.b.test timeout)" -ge 1 ] 2>/dev/null && [ "$(pv rogue.b.test failed)" -ge 1 ] 2>/dev/null; }
wait_for 40 ok || fail "no per-peer timeout/failure after 40 s: $(grep -h 'peer_reports\|reports_total' "$work/m.txt")"
promtool check metrics <"$work/m.txt" >"$work/promtool.out" 2>&1 || fail "promtool: $(cat "$work/promtool.out")"
[ ! -s "$work/promtool.out" ] || fail "promtool lint: $(cat "$work/promtool.out")"
grep -q '^# HELP stanzawatch_peer_reports_total .*timeout' "$work/m.txt" || fail "HELP does not explain timeout"
[ "$(pv incidents.b.test failed)" = 0 ] || fail "silent peer counted as failed: $(grep peer_reports "$work/m.txt")"
[ "$(pv rogue.b.test timeout)" = 0 ] || fail "refusing peer counted as timeout: $(grep peer_reports "$work/m.txt")"
[ "$(pv incidents.b.test acked)" = 0 ] || fail "late answers must not count as acks"
total=$(sed -n 's/^stanzawatch_reports_total{state="timeout"} \([0-9]*\)$/\1/p' "$work/m.txt")
sum=$(($(pv incidents.b.test timeout) + $(pv rogue.b.test timeout)))
[ "$sum" = "$total" ] || fail "per-peer timeouts sum to $sum, total says $total"
say "ok: incidents.b.test timeout $(pv incidents.b.test timeout) (failed 0), rogue.b.test failed $(pv rogue.b.test failed) (timeout 0), total timeouts $total, promtool clean"
kill -TERM "$swpid"
wait "$swpid" || fail "run exited $?"
forget_pid "$swpid"
stop_peer
