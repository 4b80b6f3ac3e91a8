#!/usr/bin/env bash
# bench/live_tap.sh STANZAWATCH SWGEN [RATES_MB_S] [SECONDS]
#
# 1. Sustained throughput of the socket tap: `stanzawatch run` with one unix
#    socket tap; a paced sender (one connection) streams a swgen capture (its
#    body repeated) at each rate for SECONDS; reports stanzas/s received and
#    the tap's queue drops (fail open: drops instead of back-pressure).
# 2. Arrival-to-incident latency: the capture with its <delay/> stamps
#    removed (so event time = arrival time, as for a live mirror) sent at
#    ~20k stanzas/s; `run` prints the p50/p99 of (incident output time -
#    arrival of the stanza that crossed the threshold) at exit.
# Loopback only; stops what it starts by pid.
set -euo pipefail
sw=$1
swgen=$2
rates=${3:-"25 50 100 150"}
secs=${4:-5}
py=/usr/bin/python3
work=$(mktemp -d "${TMPDIR:-/tmp}/sw-bench-tap.XXXXXX")
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf -- "$work"
}
trap cleanup EXIT
"$swgen" --seed 3 --stanzas 200000 --duration 3600 --scenarios all --benign all -o "$work/cap.xml" 2>/dev/null
printf 'taps:\n  - {type: socket, name: bench, listen: "unix:%s/tap.sock"}\n' "$work" >"$work/sw.yaml"
cat >"$work/pace.py" <<'PY'
import socket, sys, time
path, cap, rate, dur = sys.argv[1], sys.argv[2], float(sys.argv[3]) * 1e6, float(sys.argv[4])
data = open(cap, "rb").read()
hdr = data[:data.index(b">") + 1]
body = data[len(hdr):data.rindex(b"</stream")]
s = socket.socket(socket.AF_UNIX)
s.connect(path)
s.sendall(hdr)
t0 = time.time(); sent = 0; i = 0; piece = 65536
while True:
    el = time.time() - t0
    if el >= dur:
        break
    if sent > rate * el:
        time.sleep(0.0005)
        continue
    chunk = body[i:i + piece]
    i += piece
    if i >= len(body):
        i = 0
    s.sendall(chunk)
    sent += len(chunk)
el = time.time() - t0
print("%.1f %.2f" % (sent / 1e6, el))
s.close()
PY
run_once() { # run_once CAPTURE RATE SECONDS -> prints "MB sec stanzas drops latency-line"
	"$sw" run -c "$work/sw.yaml" --incidents /dev/null 2>"$work/run.err" &
	local p=$!
	pids+=("$p")
	for _ in $(seq 1 100); do [ -S "$work/tap.sock" ] && break; sleep 0.05; done
	local out
	out=$("$py" "$work/pace.py" "$work/tap.sock" "$1" "$2" "$3")
	sleep 1
	kill -TERM "$p"
	wait "$p" || true
	local line
	line=$(grep "^tap bench " "$work/run.err")
	st=$(sed -n 's/.* bytes, \([0-9]*\) stanzas.*/\1/p' <<<"$line")
	dr=$(sed -n 's/.* \([0-9]*\) dropped (queue full).*/\1/p' <<<"$line")
	lat=$(grep "^incident latency" "$work/run.err" || true)
	echo "$out $st $dr"
}
echo "| offered MB/s | sent MB in s | stanzas received | stanzas/s | dropped (queue full) |"
echo "|---|---|---|---|---|"
for r in $rates; do
	read -r mb sec st dr < <(run_once "$work/cap.xml" "$r" "$secs")
	echo "| $r | $mb in $sec | $st | $(awk -v a="$st" -v b="$sec" 'BEGIN {printf "%.0f", a / b}') | $dr ($(awk -v a="$dr" -v b="$st" 'BEGIN {printf "%.2f", b ? 100 * a / b : 0}')%) |"
done
sed -E "s#<delay xmlns='urn:xmpp:delay' stamp='[^']*'/>##g" "$work/cap.xml" >"$work/nostamp.xml"
mbps=$("$py" -c 'import os,sys; n=sum(1 for l in open(sys.argv[1],"rb") if l.startswith((b"<message",b"<presence",b"<iq"))); print("%.2f" % (os.path.getsize(sys.argv[1]) / n * 20000 / 1e6))' "$work/nostamp.xml")
read -r mb sec st dr < <(run_once "$work/nostamp.xml" "$mbps" 10)
echo
echo "latency at ~20k stanzas/s ($mb MB in $sec s, $st stanzas, $dr dropped): $(grep '^incident latency' "$work/run.err")"
