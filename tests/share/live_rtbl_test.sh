#!/usr/bin/env bash
# share.live_rtbl: enforcement through the LIVE path, with real servers on
# loopback. Prosody (tests/share/prosody-share.cfg.lua.in: pubsub component,
# MUC with Prosody's own mod_muc_rtbl subscribed to muc_bans_sha256) loads
# deploy/prosody/mod_stanzawatch.lua, which feeds `stanzawatch run` through
# the socket tap; the daemon's reporter publishes on pubsub.a.test. Checks:
#   1. the flooder joins room2 (allowed), then floods room1; the daemon
#      detects a muc-flood (share.rtbl.kinds: the probe's own joins are
#      presence churn, never listed) and publishes SHA-256(flooder@a.test); a
#      probe (the flooder joining room2 every 150 ms from the flood's start)
#      is refused by mod_muc_rtbl: prints the detection-to-refusal time
#      (daemon log line "listed" seen -> first refused join; an upper bound);
#   2. `stanzawatch retract flooder@a.test` while the daemon runs goes through
#      STATE/control.sock: acknowledged by the service, the daemon's component
#      connection is never replaced (one "incidents.a.test" connection in
#      Prosody's log), and the flooder joins again;
#   3. /metrics (promtool clean when installed) carries the share families:
#      items published/retracted, listed, the consumed list "self" (the
#      daemon also subscribes to its own RTBL) with entries and sync age,
#      XEP-0377 reports accepted/refused;
#   2b. a second `run` on the same state_dir exits 2 before its reporter
#      connects; 2c. a client of another uid is refused (SO_PEERCRED);
#   4. SIGTERM: exit 0, control socket removed.
# Every process started here is stopped by pid; everything is time-bounded.
# usage: live_rtbl_test.sh STANZAWATCH SOURCE_DIR
set -euo pipefail
sw=$1
src=$2
name=share.live_rtbl
export SW_PROSODY_TEMPLATE="$src/tests/share/prosody-share.cfg.lua.in"
prosody_extra=$(cat <<'CFG'

Host "*"
plugin_paths = { "@SRC@/deploy/prosody" }
stanzawatch_socket = "unix:@DIR@/tap.sock"
-- the live tap replaces the mod_firewall mirror of the replay-based test
modules_disabled = { "s2s"; "firewall"; }

VirtualHost "a.test"
	modules_enabled = { "stanzawatch" }

-- the operator's lines: the watched MUC feeds the tap and enforces the RTBL
Component "rooms.a.test" "muc"
	modules_enabled = { "muc_rtbl"; "stanzawatch" }
	muc_rtbl_jid = "pubsub.a.test"
	muc_rtbl_node = "muc_bans_sha256"
CFG
)
# shellcheck source=../reporter/harness.sh
. "$src/tests/reporter/harness.sh"
actor="$src/tests/share/actor.py"
c2s=$SW_PROSODY_C2S_PORT
for u in flooder victim; do
	prosodyctl --config "$pdir/prosody.cfg.lua" register "$u" a.test pw >/dev/null
done
act() { timeout 40 "$py" "$actor" "$@" --port "$c2s" 2>>"$work/actor.err"; }
get() { "$py" -c 'import sys,urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())' "$1"; }
now_ns() { date +%s%N; }
mport=$(free_port)
state="$work/A/state"
mkdir -p "$work/A"
cat >"$work/A.yaml" <<YAML
taps:
  - type: socket
    name: prosody
    listen: unix:$pdir/tap.sock
metrics:
  listen: 127.0.0.1:$mport
# the probe below joins room2 again and again on purpose: that is presence
# churn, which would otherwise open the flooder's incident first (one
# incident per offender, kind presence-flood) and race the flood
detectors:
  presence_churn:
    enabled: false
reporter:
  enabled: true
  domain: a.test
  admin_jid: admin@a.test
  component:
    jid: incidents.a.test
    secret: $SW_PROSODY_ENGINE_SECRET
    host: 127.0.0.1
    port: $port
  spool_dir: $work/A/spool
  inbound_dir: $work/A/inbound
  retry_min: 300ms
  retry_max: 2s
  ack_timeout: 3s
share:
  service: pubsub.a.test
  state_dir: $state
  rtbl:
    enabled: true
    min_score: 1
    # the probe's own joins are presence churn: only a MUC flood lists here
    kinds: [muc-flood]
    ttl: 10m
    subscribers: [rooms.a.test]
  sources:
    - name: self
      service: pubsub.a.test
      node: muc_bans_sha256
      weight: 0.5
YAML

"$sw" run -c "$work/A.yaml" --incidents "$work/inc.jsonl" --pid-file "$work/run.pid" \
	2>"$work/run.err" >/dev/null &
swpid=$!
pids+=("$swpid")
for _ in $(seq 1 150); do
	[ "$(grep -c 'stanzawatch: connected to' "$pdir/prosody.log" || true)" -ge 2 ] &&
		grep -q 'source self: full sync' "$work/run.err" && break
	sleep 0.1
done
[ "$(grep -c 'stanzawatch: connected to' "$pdir/prosody.log" || true)" -ge 2 ] ||
	fail "mod_stanzawatch did not connect to the tap"
grep -q 'source self: full sync' "$work/run.err" || fail "daemon did not set up share: $(tail -5 "$work/run.err")"
[ -S "$state/control.sock" ] || fail "no control socket in $state"
[ "$(stat -c %a "$state/control.sock")" = 600 ] || fail "control socket is not 0600"

# ---- 1. flood -> live detection -> publish -> mod_muc_rtbl refuses ----
"$py" "$actor" join --jid victim@a.test --room room2@rooms.a.test --nick owner --stay 100 \
	--port "$c2s" >"$work/victim.out" 2>>"$work/actor.err" &
pids+=("$!")
for _ in $(seq 1 100); do grep -q joined "$work/victim.out" && break; sleep 0.1; done
grep -q joined "$work/victim.out" || fail "victim could not create room2"
[ "$(act join --jid flooder@a.test/first --room room2@rooms.a.test --nick first)" = joined ] ||
	fail "flooder refused from room2 before any listing"
t_flood=$(now_ns)
[ "$(act flood --jid flooder@a.test/flood --room room1@rooms.a.test --nick fl --count 40)" = "sent 40" ] ||
	fail "flood did not run" &
fpid=$!
# the flooder tries room2 again and again (new nick every 150 ms) until refused
"$py" "$actor" probe --jid flooder@a.test/probe --room room2@rooms.a.test --nick p \
	--until 'error forbidden' --interval 0.15 --max-seconds 60 --port "$c2s" \
	>"$work/probe1.out" 2>>"$work/actor.err" &
probe=$!
pids+=("$probe")
t_detect=""
for _ in $(seq 1 400); do
	if grep -q 'RTBL muc_bans_sha256: listed flooder@a.test' "$work/run.err"; then
		t_detect=$(now_ns)
		break
	fi
	sleep 0.02
done
[ -n "$t_detect" ] || fail "daemon did not list the flooder: $(grep -E 'share|incident' "$work/run.err" | tail -5)"
wait "$fpid" || fail "flood failed"
wait "$probe" || fail "probe never refused: $(cat "$work/probe1.out")"
forget_pid "$probe"
t_refused=$(awk '$2 == "error" && $3 == "forbidden" {print $1; exit}' "$work/probe1.out")
[ -n "$t_refused" ] || fail "no refusal in the probe output"
grep -q 'Blocked user <flooder@a.test>.*RTBL' "$pdir/prosody.log" || fail "Prosody did not log the RTBL block"
"$py" -c 'import json,sys; sys.exit(0 if any(j["kind"]=="muc-flood" and j["offender"]=="flooder@a.test" for j in map(json.loads, open(sys.argv[1]))) else 1)' \
	"$work/inc.jsonl" || fail "no muc-flood incident for the flooder: $(cut -c1-200 "$work/inc.jsonl")"
hash=$(printf '%s' flooder@a.test | sha256sum | cut -c1-64)
grep -q "$hash" "$state/published.state" || fail "state lacks $hash"
d_ms=$(( (t_refused - t_detect) / 1000000 ))
[ "$d_ms" -lt 5000 ] || fail "refusal took ${d_ms} ms after detection (> 5 s)"
say "1 ok: live flood detected and listed ($hash); mod_muc_rtbl refused the flooder's join at most ${d_ms} ms after the daemon logged the listing ($(( (t_refused - t_flood) / 1000000 )) ms after the flood started, 40 lines at 20/s; probe every 150 ms)"

# ---- 3a. metrics while listed ----
metrics() {
	get "http://127.0.0.1:$mport/metrics" >"$work/m$1.txt" || fail "GET /metrics"
	if command -v promtool >/dev/null; then
		promtool check metrics <"$work/m$1.txt" >"$work/promtool$1.out" 2>&1 ||
			fail "promtool: $(cat "$work/promtool$1.out")"
		[ ! -s "$work/promtool$1.out" ] || fail "promtool lint: $(cat "$work/promtool$1.out")"
	fi
}
val() { awk -v k="$1" '$1 == k {print $2}' "$work/m$2.txt"; }
for _ in $(seq 1 50); do # the item event reaches our own subscription
	metrics 1
	[ "$(val 'stanzawatch_share_source_entries{source="self"}' 1)" = 1 ] && break
	sleep 0.1
done
[ "$(val 'stanzawatch_share_items_total{action="published"}' 1)" -ge 1 ] || fail "published counter"
[ "$(val stanzawatch_share_listed 1)" = 1 ] || fail "listed gauge: $(grep share_listed "$work/m1.txt")"
[ "$(val 'stanzawatch_share_source_entries{source="self"}' 1)" = 1 ] ||
	fail "own list not consumed: $(grep source_entries "$work/m1.txt")"
age=$(val 'stanzawatch_share_source_sync_age_seconds{source="self"}' 1)
[ -n "$age" ] || fail "no sync age"
for f in 'stanzawatch_share_reports_total{outcome="accepted"}' 'stanzawatch_share_reports_total{outcome="refused"}' \
	'stanzawatch_share_source_last_sync_timestamp_seconds{source="self"}' stanzawatch_share_expired_total; do
	[ -n "$(val "$f" 1)" ] || fail "missing $f"
done

# ---- 2. retract through the running daemon ----
t0=$(now_ns)
"$sw" retract -c "$work/A.yaml" --drain-timeout 10 flooder@a.test >"$work/retract.out" 2>"$work/retract.err" ||
	fail "retract exited $?: $(cat "$work/retract.err")"
r_ms=$(( ($(now_ns) - t0) / 1000000 ))
grep -q 'retracted by the running daemon, acknowledged' "$work/retract.out" ||
	fail "retract did not go through the daemon: $(cat "$work/retract.out" "$work/retract.err")"
grep -q 'control: retract flooder@a.test' "$work/run.err" || fail "daemon did not log the request"
"$py" "$actor" probe --jid flooder@a.test/probe2 --room room2@rooms.a.test --nick q \
	--until joined --interval 0.15 --max-seconds 20 --port "$c2s" >"$work/probe2.out" 2>>"$work/actor.err" ||
	fail "flooder still refused after retract: $(cat "$work/probe2.out")"
t_back=$(awk '$2 == "joined" {print $1; exit}' "$work/probe2.out")
b_ms=$(( (t_back - t0) / 1000000 ))
grep -q "$hash" "$state/published.state" && fail "retracted entry still in the state"
grep -qi 'conflict\|replaced' "$pdir/prosody.log" && fail "a second component connection conflicted: $(grep -i 'conflict\|replaced' "$pdir/prosody.log" | head -3)"
kill -0 "$swpid" || fail "daemon died"
say "2 ok: retract via control.sock acknowledged in ${r_ms} ms; flooder joined again ${b_ms} ms after the command started; no component conflict"

# ---- 2b. a second daemon on the same state_dir is refused before it connects ----
rc=0
timeout 20 "$sw" run -c "$work/A.yaml" --incidents /dev/null 2>"$work/run2.err" >/dev/null || rc=$?
[ "$rc" = 2 ] && grep -q 'another stanzawatch runs on share.state_dir' "$work/run2.err" ||
	fail "second daemon not refused (exit $rc): $(tail -3 "$work/run2.err")"
grep -q 'reporter: disconnected' "$work/run.err" && fail "the first daemon's connection was disturbed"
# ---- 2c. only our uid (or root) may use the socket: SO_PEERCRED, beside the 0700 dir ----
if command -v setpriv >/dev/null && [ "$(id -u)" = 0 ]; then
	chmod 711 "$work" "$work/A" "$state"
	chmod 666 "$state/control.sock"
	# the daemon answers a stranger at once and closes: the send may find the socket shut
	r=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$py" -c 'import socket,sys
s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
try: s.sendall(b"ping\n")
except OSError: pass
print(s.recv(100).decode().strip())' \
		"$state/control.sock" 2>&1) || true
	chmod 700 "$work" "$work/A" "$state"
	chmod 600 "$state/control.sock"
	[ "$r" = "error forbidden" ] || fail "uid 65534 got '$r' from the control socket"
	r=$("$py" -c 'import socket,sys
s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(b"ping\n"); print(s.recv(100).decode().strip())' "$state/control.sock")
	[ "$r" = pong ] || fail "ping got '$r'"
	say "2b/c ok: a second run on the same state_dir exits 2 before connecting; uid 65534 refused (SO_PEERCRED), owner gets pong"
else
	say "2b ok: a second run on the same state_dir exits 2 before connecting (2c skipped: not root)"
fi

# ---- 3b. metrics after the retraction ----
for _ in $(seq 1 50); do
	metrics 2
	[ "$(val 'stanzawatch_share_source_entries{source="self"}' 2)" = 0 ] && break
	sleep 0.1
done
[ "$(val 'stanzawatch_share_items_total{action="retracted"}' 2)" -ge 1 ] || fail "retracted counter"
[ "$(val stanzawatch_share_listed 2)" = 0 ] || fail "listed gauge after retract"
[ "$(val 'stanzawatch_share_source_entries{source="self"}' 2)" = 0 ] || fail "own list still has the entry"
say "3 ok: /metrics share families$(command -v promtool >/dev/null && echo ' (promtool clean)'): published $(val 'stanzawatch_share_items_total{action="published"}' 2), retracted $(val 'stanzawatch_share_items_total{action="retracted"}' 2), source self entries 1 -> 0, sync age ${age} s"

# ---- 4. stop ----
kill -TERM "$swpid"
wait "$swpid" || fail "run exited $? after SIGTERM"
forget_pid "$swpid"
[ ! -e "$state/control.sock" ] || fail "control socket left behind"
# with no daemon, retract works alone again (its own component connection)
"$sw" retract -c "$work/A.yaml" --drain-timeout 10 flooder@a.test >"$work/retract2.out" 2>"$work/retract2.err" ||
	fail "stand-alone retract exited $?: $(tail -3 "$work/retract2.err")"
grep -q 'by the running daemon' "$work/retract2.out" && fail "stand-alone retract claims a daemon"
say "4 ok: SIGTERM exit 0, control socket removed; stand-alone retract still works"
say "all checks passed"
