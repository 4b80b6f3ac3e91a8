#!/usr/bin/env bash
# live.metrics: `stanzawatch run` with metrics: {listen: 127.0.0.1:PORT}.
#   1. /metrics passes `promtool check metrics` (Debian's prometheus package)
#      and has every family the issue lists, with the tap's stanza counter
#      equal to what was sent (a swgen capture over the socket tap);
#   2. a real prometheus (private config and storage, loopback) scrapes it
#      and a PromQL query returns that stanza count.
# Skips (77) when prometheus/promtool are not installed.
# usage: metrics_test.sh STANZAWATCH SWGEN
set -euo pipefail
sw=$1
swgen=$2
name=live.metrics
# shellcheck source=harness.sh
. "$(dirname "$0")/harness.sh"
command -v promtool >/dev/null && command -v prometheus >/dev/null ||
	skip "prometheus/promtool not installed"
mport=$(free_port)
pport=$(free_port)
get() { "$py" -c 'import sys,urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())' "$1"; }

"$swgen" --seed 3 --stanzas 20000 --scenarios muc-flood:2,sub-burst:1 --benign none \
	-o "$work/cap.xml" 2>/dev/null
n=$(grep -c '^<\(message\|presence\|iq\)' "$work/cap.xml" || true)
cat >"$work/sw.yaml" <<YAML
taps:
  - type: socket
    name: main
    listen: unix:$work/tap.sock
metrics:
  listen: 127.0.0.1:$mport
YAML
"$sw" run -c "$work/sw.yaml" --incidents "$work/inc.jsonl" 2>"$work/run.err" &
swpid=$!
pids+=("$swpid")
for _ in $(seq 1 100); do [ -S "$work/tap.sock" ] && break; sleep 0.05; done
"$py" -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(open(sys.argv[2],"rb").read()); s.close()' \
	"$work/tap.sock" "$work/cap.xml"
for _ in $(seq 1 100); do
	get "http://127.0.0.1:$mport/metrics" >"$work/m.txt" 2>/dev/null || true
	grep -q "stanzawatch_pipeline_bytes_total [1-9]" "$work/m.txt" && break
	sleep 0.1
done

# ---- 1. promtool, families, values ----
promtool check metrics <"$work/m.txt" >"$work/promtool.out" 2>&1 || fail "promtool: $(cat "$work/promtool.out")"
[ ! -s "$work/promtool.out" ] || fail "promtool lint: $(cat "$work/promtool.out")"
for f in stanzawatch_build_info stanzawatch_tap_stanzas_total stanzawatch_tap_bytes_total \
	stanzawatch_parse_errors_total stanzawatch_stanzas_skipped_total stanzawatch_tap_queue_depth_blocks \
	stanzawatch_tap_dropped_total stanzawatch_detector_events_total stanzawatch_detector_hits_total \
	stanzawatch_detector_keys stanzawatch_detector_evictions_total stanzawatch_detector_memory_bytes \
	stanzawatch_incidents_total stanzawatch_reloads_total stanzawatch_incident_latency_seconds; do
	grep -q "^# TYPE $f " "$work/m.txt" || fail "family $f missing"
done
got=$(awk '/^stanzawatch_tap_stanzas_total\{tap="main"/ {s += $2} END {print s}' "$work/m.txt")
[ "$got" = "$n" ] || fail "tap stanzas $got, sent $n"
grep -q '^stanzawatch_incidents_total{kind="muc-flood",status="opened"} [1-9]' "$work/m.txt" ||
	fail "no muc-flood incident counted"
say "1 ok: promtool clean, $(grep -c '^# TYPE' "$work/m.txt") families, tap stanzas = $n"

# ---- 2. a real prometheus scrapes it ----
cat >"$work/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: stanzawatch
    static_configs:
      - targets: ["127.0.0.1:$mport"]
YAML
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
	--web.listen-address="127.0.0.1:$pport" --log.level=warn 2>"$work/prometheus.err" &
pids+=($!)
q="http://127.0.0.1:$pport/api/v1/query?query=sum(stanzawatch_tap_stanzas_total)"
val=""
for _ in $(seq 1 300); do
	val=$(get "$q" 2>/dev/null | "$py" -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "")' 2>/dev/null || true)
	[ "$val" = "$n" ] && break
	sleep 0.1
done
[ "$val" = "$n" ] || fail "prometheus query returned '$val', expected $n"
say "2 ok: prometheus scraped /metrics; sum(stanzawatch_tap_stanzas_total) = $val"
kill -TERM "$swpid"
wait "$swpid" || fail "run exited $?"
say "all checks passed"
