#!/usr/bin/env bash
# live.tap_reload: SIGHUP applies `taps:` and `metrics.listen` changes to a
# running `stanzawatch run`, with real sockets on loopback and a steady
# client on a tap that stays unchanged throughout. Three reloads:
#   1. refused (a new tap's port is taken, plus tap b removed and metrics
#      moved): nothing changes - b still open, metrics still on the old port;
#      refused too: an invalid reporter peer (checked with the taps, not
#      later alone by the reporter) - the tap added with it does not start;
#   2. refused by a detector setting while tap c's change was prepared (its
#      listener taken over): c goes on listening on its path and counting;
#   3. accepted: tap b removed right after a 20000-stanza burst reached it
#      (its connection is closed and every stanza is still processed), tap c
#      changed (restarted on the same unix path, its client closed, counters
#      carried on), tap d added, metrics moved to a new port (the old closed).
# Throughout, tap a's client never loses its connection (1 connection at the
# end) and every stanza sent by every client is parsed by the pipeline (or
# counted as dropped by a full queue, which only a slow sanitizer build sees).
# Labelled threads: the TSan build runs it too.
# usage: tap_reload_test.sh STANZAWATCH
set -euo pipefail
sw=$1
name=live.tap_reload
# shellcheck source=harness.sh
. "$(dirname "$0")/harness.sh"
feed="$(dirname "$0")/tap_feed.py"
pb=$(free_port) pd=$(free_port) m1=$(free_port) m2=$(free_port)
while [ "$m2" = "$m1" ] || [ "$pd" = "$pb" ]; do m2=$(free_port); pd=$(free_port); done
get() { "$py" -c 'import sys,urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())' "$1"; }
refused() { ! get "http://127.0.0.1:$1/metrics" >/dev/null 2>&1; }
# a port held by another process: a tap that wants it cannot bind
"$py" -c 'import socket,time; s=socket.socket(); s.bind(("127.0.0.1",0)); s.listen(1); print(s.getsockname()[1], flush=True); time.sleep(600)' >"$work/busy.port" &
pids+=($!)
wait_for 5 '[ -s "$work/busy.port" ]' || fail "no busy port"
pe=$(cat "$work/busy.port")

# a reporter whose server is down (reports stay spooled): its peers are
# part of what a reload checks before anything changes
rport=$(free_port)
reporter() { # reporter PEER_JID
	printf 'reporter:\n  enabled: true\n  mode: component\n  component: {jid: incidents.localhost, secret: s, host: 127.0.0.1, port: %s}\n  spool_dir: %s\n  inbound_dir: %s\n  peers:\n    - jid: %s\n' \
		"$rport" "$work/spool" "$work/inbound" "$1"
}
conf() { # conf FILE TAPS METRICS_PORT [EXTRA] [PEER]
	printf 'taps:\n%s\nmetrics:\n  listen: 127.0.0.1:%s\n%s\n%s\n' "$2" "$3" "${4:-}" "$(reporter "${5:-peer.test}")" >"$1"
}
ta="  - {type: socket, name: a, listen: 'unix:$work/a.sock', queue: 64MB}"
tb="  - {type: socket, name: b, listen: '127.0.0.1:$pb', queue: 64MB}"
tc="  - {type: socket, name: c, listen: 'unix:$work/c.sock'}"
tc2="  - {type: socket, name: c, listen: 'unix:$work/c.sock', idle_timeout: 4m}"
td="  - {type: socket, name: d, listen: '127.0.0.1:$pd'}"
te="  - {type: socket, name: e, listen: '127.0.0.1:$pe'}"
conf "$work/sw.yaml" "$ta
$tb
$tc" "$m1"
TSAN_OPTIONS=${TSAN_OPTIONS:-} "$sw" run -c "$work/sw.yaml" --incidents "$work/inc.jsonl" --drain-timeout 0 2>"$work/run.err" &
swpid=$!
pids+=("$swpid")
wait_for 20 '[ -S "$work/a.sock" ] && [ -S "$work/c.sock" ] && get "http://127.0.0.1:$m1/metrics" >/dev/null 2>&1' ||
	fail "run did not come up"
reloads() { grep -c "pipeline: reload" "$work/run.err" || true; }
hup() { # one SIGHUP, wait until it was handled
	local before
	before=$(reloads)
	kill -HUP "$swpid"
	wait_for 20 '[ "$(reloads)" -gt "$before" ]' || fail "SIGHUP not handled"
}
bg() { # bg OUT ARGS...: a feeder in the background
	local out=$1; shift
	"$py" "$feed" "$@" >"$work/$out.json" 2>>"$work/feed.err" &
	pids+=($!)
	eval "pid_$out=$!"
}
sent() { "$py" -c 'import json,sys; print(json.load(open(sys.argv[1]))["sent"])' "$work/$1.json"; }
closed() { "$py" -c 'import json,sys; d=json.load(open(sys.argv[1])); print("yes" if d["closed_by_peer"] else "no", d["error"])' "$work/$1.json"; }
openconns() { get "http://127.0.0.1:$1/metrics" | sed -n "s/^stanzawatch_tap_connections_open{tap=\"$2\"} //p"; }

bg fa "unix:$work/a.sock" a --steady 60 --stopfile "$work/stop-a"
bg fc1 "unix:$work/c.sock" c --burst 3000 --marker "$work/fc1.sent" --wait 60
bg fb "127.0.0.1:$pb" b --burst 10 --marker "$work/fb0.sent" --wait 60
wait_for 10 '[ -e "$work/fc1.sent" ] && [ -e "$work/fb0.sent" ]' || fail "feeders did not connect"
sleep 0.5

# ---- 1. refused: a tap on a taken port (b removed, metrics moved in the same file) ----
conf "$work/sw.yaml" "$ta
$tc
$te" "$m2"
hup
grep -q "reload failed, keeping the running config: .*tap e: listen 127.0.0.1:$pe: Address already in use" "$work/run.err" ||
	fail "bad tap not refused clearly: $(grep reload "$work/run.err")"
[ "$(openconns "$m1" b)" = 1 ] || fail "refused reload touched tap b (or metrics moved)"
refused "$m2" || fail "refused reload opened the new metrics port"
say "1 ok: refused as a whole (taken port), tap b and metrics on $m1 unchanged"

# ---- 1b. refused: an invalid reporter peer, with tap d added in the same file ----
conf "$work/sw.yaml" "$ta
$tb
$tc
$td" "$m1" "" "peer.test/resource"
hup
grep -q "reload failed, keeping the running config: reporter.peers\[0\].jid is empty or invalid" "$work/run.err" ||
	fail "invalid reporter peer not refused with the reload: $(grep reload "$work/run.err" | tail -1)"
! "$py" -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2)' "$pd" 2>/dev/null ||
	fail "tap d listens although the reload was refused"
say "1b ok: an invalid reporter peer refuses the reload, tap d not started"

# ---- 2. refused by a detector setting after tap c's change was prepared ----
conf "$work/sw.yaml" "$ta
$tb
$tc2" "$m1" "detectors:
  content:
    rule_files: [$work/missing-rules.yaml]"
hup
grep -q "reload failed, keeping the running config: detector content: .*missing-rules.yaml" "$work/run.err" ||
	fail "bad detector setting not refused: $(grep reload "$work/run.err" | tail -1)"
[ -S "$work/c.sock" ] || fail "aborted reload removed tap c's socket"
"$py" "$feed" "unix:$work/c.sock" q --burst 100 --wait 0.3 >"$work/fq.json" 2>>"$work/feed.err" ||
	fail "tap c does not accept after the refused reload"
[ "$(closed fq)" = "no None" ] || fail "tap c closed its client: $(closed fq)"
say "2 ok: refused by the detectors; tap c still listens on its path"

# ---- 3. accepted: b removed right after a burst, c changed, d added, metrics moved ----
rm -f "$work/fb.sent"
bg fb2 "127.0.0.1:$pb" b2 --burst 20000 --marker "$work/fb.sent" --wait 60
wait_for 10 '[ -e "$work/fb.sent" ]' || fail "burst feeder did not send"
conf "$work/sw.yaml" "$ta
$tc2
$td" "$m2"
hup
grep -q "pipeline: reloaded" "$work/run.err" || fail "good reload not applied: $(grep reload "$work/run.err" | tail -2)"
for l in "tap: b: removed by the reload" "tap: c: settings changed by the reload: restarting" \
	"tap: d: added by the reload" "run: metrics: now serving /metrics on 127.0.0.1:$m2"; do
	grep -q "$l" "$work/run.err" || fail "no log line '$l'"
done
wait "$pid_fb2" "$pid_fb" "$pid_fc1" || fail "a feeder failed"
[ "$(closed fb2)" = "yes None" ] && [ "$(closed fb)" = "yes None" ] || fail "removed tap b did not close its clients cleanly: $(closed fb2)"
[ "$(closed fc1)" = "yes None" ] || fail "restarted tap c did not close its client: $(closed fc1)"
refused "$m1" || fail "old metrics port still open"
get "http://127.0.0.1:$m2/metrics" >"$work/m.txt" || fail "new metrics port not serving"
grep -q '^stanzawatch_tap_connections_open{tap="d"} 0' "$work/m.txt" || fail "tap d not in /metrics"
! grep -q 'tap="b"' "$work/m.txt" || fail "removed tap b still in /metrics"
"$py" "$feed" "unix:$work/c.sock" c2 --burst 500 --wait 0.3 >"$work/fc2.json" 2>>"$work/feed.err" ||
	fail "restarted tap c does not accept"
"$py" "$feed" "127.0.0.1:$pd" d --burst 700 --wait 0.3 >"$work/fd.json" 2>>"$work/feed.err" ||
	fail "added tap d does not accept"
say "3 ok: b removed, c restarted on its path, d added, metrics moved to $m2"

touch "$work/stop-a"
wait "$pid_fa" || fail "steady feeder failed"
[ "$(closed fa)" = "no None" ] || fail "unchanged tap a lost its client: $(closed fa)"
sleep 0.5
kill -TERM "$swpid"
wait "$swpid" || fail "run exited $?"
forget_pid "$swpid"
total=0
for f in fa fb fb2 fc1 fq fc2 fd; do total=$((total + $(sent $f))); done
parsed=$(sed -n 's/^stanzawatch: .* in .*, \([0-9]*\) stanzas (.*/\1/p' "$work/run.err")
# a queue full (a slow sanitizer build) drops and counts: dropped, not lost
drops=$(awk '/^tap / && match($0, /, [0-9]+ dropped \(queue full\)/) {s += substr($0, RSTART + 2) + 0} END {print s + 0}' "$work/run.err")
[ "$((parsed + drops))" = "$total" ] ||
	fail "clients sent $total stanzas, the pipeline parsed $parsed, queues dropped $drops"
tap_name=a
grep -q "^tap a (socket): 1 connections " "$work/run.err" || fail "tap a: $(grep '^tap a ' "$work/run.err")"
grep -q "^tap c (socket): 3 connections " "$work/run.err" || fail "tap c counters not carried over: $(grep '^tap c ' "$work/run.err")"
grep -q "reloads 1 (failed 3)" "$work/run.err" || fail "reload counters: $(grep reloads "$work/run.err")"
say "ok: $parsed of $total stanzas parsed ($drops dropped by a full queue, counted) across 4 reloads; tap a kept its one connection ($(sent fa) stanzas)"
