#!/usr/bin/env bash
# live.reload: SIGHUP reloads under live load lose no event. `stanzawatch run`
# with a socket tap takes a swgen capture paced over ~3 s while the test
# sends SIGHUP six times (one of them with a broken config, which must be
# refused while the running config stays); at the end every stanza the tap
# queued (received - presence fan-out copies - queue drops) was parsed by the
# pipeline, the reload counters say 5 ok / 1 failed, and the run exits 0.
# Labelled threads: run it in the TSan build too.
# usage: reload_test.sh STANZAWATCH SWGEN
set -euo pipefail
sw=$1
swgen=$2
name=live.reload
# shellcheck source=harness.sh
. "$(dirname "$0")/harness.sh"
swpid=""
"$swgen" --seed 11 --stanzas 40000 --scenarios muc-flood:2,sub-burst:1 --benign none \
	-o "$work/cap.xml" 2>/dev/null
cat >"$work/sw.yaml" <<YAML
taps:
  - type: socket
    name: main
    listen: unix:$work/tap.sock
detectors:
  muc_flood:
    enabled: true
YAML
cp "$work/sw.yaml" "$work/good.yaml"
TSAN_OPTIONS=${TSAN_OPTIONS:-} "$sw" run -c "$work/sw.yaml" --incidents "$work/inc.jsonl" 2>"$work/run.err" &
swpid=$!
pids+=("$swpid")
for _ in $(seq 1 200); do [ -S "$work/tap.sock" ] && break; sleep 0.05; done
[ -S "$work/tap.sock" ] || fail "tap socket not created"
"$py" - "$work/tap.sock" "$work/cap.xml" <<'PY' &
import socket, sys, time
data = open(sys.argv[2], "rb").read()
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
n = 48
step = len(data) // n + 1
for i in range(0, len(data), step):       # ~3 s
    s.sendall(data[i:i + step]); time.sleep(0.06)
time.sleep(0.3); s.close()
PY
feeder=$!
reloads() { grep -c "pipeline: reload" "$work/run.err" || true; }
for i in 1 2 3 4 5 6; do
	sleep 0.4
	if [ "$i" = 4 ]; then printf 'detectors:\n  muc_flood:\n    threshold_typo: 1\n' >"$work/sw.yaml"; fi
	before=$(reloads)
	kill -HUP "$swpid"
	# one signal at a time: two pending SIGHUPs would merge into one
	for _ in $(seq 1 100); do [ "$(reloads)" -gt "$before" ] && break; sleep 0.05; done
	if [ "$i" = 4 ]; then cp "$work/good.yaml" "$work/sw.yaml"; fi
done
wait "$feeder" || fail "feeder failed"
sleep 1
kill -TERM "$swpid"
wait "$swpid" || fail "run exited $?"
forget_pid "$swpid"
swpid=""
grep -q "reloads 5 (failed 1)" "$work/run.err" || fail "reload counters: $(grep reloads "$work/run.err")"
grep -q "reload failed, keeping the running config" "$work/run.err" || fail "broken config not refused"
t=$(grep "^tap main " "$work/run.err")
num() { sed -n "s/.*[ (]\([0-9][0-9]*\) $1.*/\1/p" <<<"$2"; }
got=$(num stanzas "$t"); dd=$(num "fan-out" "$t"); dr=$(num "dropped (queue" "$t")
parsed=$(sed -n 's/^stanzawatch: .* in .*, \([0-9]*\) stanzas (.*/\1/p' "$work/run.err")
[ "$parsed" = "$((got - dd - dr))" ] || fail "tap queued $((got - dd - dr)) stanzas, pipeline parsed $parsed"
grep -q '"kind":"muc-flood"' "$work/inc.jsonl" || fail "no muc-flood incident across the reloads"
say "ok: 6 SIGHUPs under load (5 ok, 1 refused), $parsed of $parsed queued stanzas parsed, incidents written"
