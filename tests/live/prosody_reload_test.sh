#!/usr/bin/env bash
# live.prosody_reload: SIGHUP tap changes behind a real Prosody that loads
# deploy/prosody/mod_stanzawatch.lua (a.test and rooms.a.test), with real
# slixmpp clients chatting (tests/live/xmpp_driver.py). Loopback only.
#   1. under a steady client load, a reload changes the socket tap the module
#      writes to (restart on the same unix path: the listener is handed over)
#      and adds a second socket tap: the server never stalls (every message
#      echoed, bounded lag), the module reconnects to the restarted tap, and
#      every message the clients sent reaches the pipeline once, except what
#      the module itself reports it dropped while reconnecting (counted);
#   2. a reload that removes the tap the module writes to and puts it back
#      under another name on another path is refused when that path is not
#      usable, and nothing changes (the module stays connected);
#   3. a flood after the reloads is caught through the restarted tap;
#   4. (with mod_firewall) a changed component tap (FORWARD mirror) restarts:
#      the old session ends before the new one logs in (no <conflict/>),
#      and the next flood arrives through it exactly once.
# Every process started here is stopped by pid; everything is time-bounded.
# usage: prosody_reload_test.sh STANZAWATCH SOURCE_DIR
set -euo pipefail
sw=$1
src=$2
name=live.prosody_reload
# with prosody-modules' mod_firewall, the FORWARD mirror to a component tap too
fw="" fwmod="" fwscript=""
if [ -r /usr/lib/prosody/modules/mod_firewall/mod_firewall.lua ]; then
	fw=1
	fwmod=', "firewall"'
	fwscript='	firewall_scripts = { "@SRC@/deploy/prosody/mirror.pfw" }'
fi
prosody_extra=$(cat <<CFG

Host "*"
plugin_paths = { "@SRC@/deploy/prosody" }
stanzawatch_socket = "unix:@DIR@/tap.sock"

VirtualHost "a.test"
	modules_enabled = { "stanzawatch"$fwmod }
$fwscript

Component "rooms.a.test" "muc"
	modules_enabled = { "stanzawatch"$fwmod }
$fwscript

Component "watch.a.test"
	component_secret = "watch-secret"
CFG
)
# shellcheck source=../reporter/harness.sh
. "$src/tests/reporter/harness.sh"
c2s=$SW_PROSODY_C2S_PORT
drv=("$py" "$src/tests/live/xmpp_driver.py" --port "$c2s" --max-seconds 90)
tap_name=prosody
tap_sock="$pdir/tap.sock"
connected() { # connected N: N "connected" lines in the Prosody log (one per host)
	local want=$1
	for _ in $(seq 1 150); do
		[ "$(grep -c 'stanzawatch: connected to' "$pdir/prosody.log" || true)" -ge "$want" ] && return 0
		sleep 0.1
	done
	fail "module did not connect ($want expected): $(grep stanzawatch "$pdir/prosody.log" | tail -3)"
}
reloads() { grep -c "pipeline: reload" "$work/run.1.err" || true; }
hup() {
	local before
	before=$(reloads)
	kill -HUP "$swpid"
	wait_for 20 '[ "$(reloads)" -gt "$before" ]' || fail "SIGHUP not handled"
}
conf() { # conf QUEUE [EXTRA TAP]
	cat >"$work/sw.yaml" <<YAML
taps:
  - {type: socket, name: prosody, listen: 'unix:$pdir/tap.sock', queue: $1}
${2:-}
YAML
}
conf 8MB
start_sw 1
connected 2

# ---- 1. restart the module's tap (and add one) under a steady load ----
# The reload comes 1 s into the sending, not at a fixed time after the start:
# on a loaded machine the clients may still be logging in and joining 2 s
# after the start, and the module then drops (and counts) their presences
# too while it reconnects, which the message count below cannot tell apart.
"${drv[@]}" steady --users 2 --rate 25 --seconds 6 --ready-file "$work/d1.ready" \
	>"$work/d1.json" 2>>"$work/drv.err" &
dpid=$!
pids+=("$dpid")
wait_for 60 '[ -s "$work/d1.ready" ] || ! kill -0 "$dpid" 2>/dev/null' || fail "steady clients did not join"
[ -s "$work/d1.ready" ] || fail "steady driver failed before sending: $(tail -2 "$work/drv.err")"
sleep 1
conf 16MB "  - {type: socket, name: extra, listen: '127.0.0.1:$(free_port)'}"
hup
grep -q "pipeline: reloaded" "$work/run.1.err" || fail "reload refused: $(grep reload "$work/run.1.err")"
grep -q "tap: prosody: settings changed by the reload: restarting" "$work/run.1.err" || fail "tap not restarted"
grep -q "tap: extra: added by the reload" "$work/run.1.err" || fail "tap not added"
connected 4 # both hosts reconnected to the restarted tap
wait "$dpid" || fail "steady driver failed"
forget_pid "$dpid"
echoed_all "$work/d1.json" || fail "server stalled while the tap restarted: $(cat "$work/d1.json")"
say "1 ok: tap restarted under load, module reconnected, $(sed 's/.*"sent": \([0-9]*\).*"echoed": \([0-9]*\).*/\1 sent, \2 echoed/' "$work/d1.json")"

# ---- 2. refused: the tap moved to a path that cannot be a socket ----
mkdir -p "$work/notasocket.sock"
before_conn=$(grep -c 'stanzawatch: connected to' "$pdir/prosody.log" || true)
cat >"$work/sw.yaml" <<YAML
taps:
  - {type: socket, name: moved, listen: 'unix:$work/notasocket.sock'}
YAML
hup
grep -q "reload failed, keeping the running config: tap moved: .*notasocket.sock exists and is not a socket" "$work/run.1.err" ||
	fail "bad reload not refused clearly: $(grep reload "$work/run.1.err" | tail -1)"
[ -S "$pdir/tap.sock" ] || fail "refused reload removed the running tap's socket"
conf 16MB "  - {type: socket, name: extra, listen: '127.0.0.1:$(free_port)'}"
say "2 ok: refused as a whole, the module's tap untouched"

# ---- 3. a flood after the reloads is caught, counts add up ----
"${drv[@]}" muc-flood --room flood2 --prefix again --flooders 1 --messages 150 --others 1 \
	>"$work/d2.json" 2>>"$work/drv.err" || fail "flood failed"
sleep 0.5
[ "$(grep -c 'stanzawatch: connected to' "$pdir/prosody.log" || true)" = "$before_conn" ] ||
	fail "the module reconnected after the refused reload"
stop_sw
has "$work/inc.1.jsonl" muc-flood again1@a.test || fail "flood after the reloads not caught"
t=$(tapline 1)
sent=$("$py" -c 'import json,sys; print(json.load(open(sys.argv[1]))["sent"])' "$work/d1.json")
got=$(num message "$t")
pd=$(num "dropped by the server module" "$t") # all stanzas; only messages while the load ran
[ "$((got + pd))" = "$((sent + 153))" ] ||
	fail "clients sent $((sent + 153)) messages; tap saw $got, module reported $pd dropped: $t"
[ "$(num connections "$t")" -ge 4 ] || fail "counters not carried over the restart: $t"
grep -q "reloads 1 (failed 1)" "$work/run.1.err" || fail "reload counters: $(grep reloads "$work/run.1.err")"
say "ok: $got messages through the tap + $pd the module dropped while reconnecting = $((sent + 153)) sent; flood caught after the reloads"

# ---- 4. a component tap restarted by a reload ----
if [ -z "$fw" ]; then
	say "4 skipped: prosody-modules (mod_firewall) not installed"
	exit 0
fi
comp() { # comp DEDUP
	cat >"$work/sw.yaml" <<YAML
taps:
  - {type: socket, name: prosody, listen: 'unix:$pdir/tap.sock'}
  - {type: component, name: mirror, address: '127.0.0.1:$port', jid: watch.a.test, secret: watch-secret, dedup_window: $1}
YAML
}
comp 2s
start_sw 2
wait_for 30 '[ "$(count "connected as component" "$work/run.2.err")" -ge 1 ]' || fail "component tap did not connect"
comp 3s
before=$(count "pipeline: reload" "$work/run.2.err")
kill -HUP "$swpid"
wait_for 20 '[ "$(count "pipeline: reload" "$work/run.2.err")" -gt "$before" ]' || fail "SIGHUP not handled"
grep -q "tap: mirror: settings changed by the reload: restarting" "$work/run.2.err" || fail "component tap not restarted"
! grep -q "tap: prosody: settings changed" "$work/run.2.err" || fail "unchanged socket tap restarted"
wait_for 30 '[ "$(count "connected as component" "$work/run.2.err")" -ge 2 ]' || fail "restarted component tap did not log in"
"${drv[@]}" muc-flood --room flood3 --prefix third --flooders 1 --messages 150 --others 1 \
	>"$work/d3.json" 2>>"$work/drv.err" || fail "third flood failed"
sleep 0.5
stop_sw
! grep -qi "conflict" "$work/run.2.err" || fail "the new component session met the old one: $(grep -i conflict "$work/run.2.err")"
grep -q "tap: mirror: disconnected (tap stopping)" "$work/run.2.err" || fail "the old component session did not end as a stop"
! grep -q "tap: mirror: disconnected (error" "$work/run.2.err" || fail "a reload restart logged as a connection error"
has "$work/inc.2.jsonl" muc-flood third1@a.test || fail "flood after the component restart not caught"
tap_name=mirror
t=$(tapline 2)
[ "$(num message "$t")" = 153 ] || fail "expected 150 + 3 messages once through the restarted mirror: $t"
[ "$(num connections "$t")" = 2 ] || fail "component counters not carried over: $t"
say "4 ok: component tap restarted without a conflict; 153 messages once through it"
