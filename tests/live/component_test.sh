#!/usr/bin/env bash
# live.component: `stanzawatch run` with a component tap (XEP-0114,
# libstrophe) receiving a real Prosody's mod_firewall FORWARD mirror
# (deploy/prosody/mirror.pfw, prosody-modules), slixmpp clients. Checks:
#   1. a MUC flood and a subscription burst are caught; every client message
#      arrives exactly once (wrapper unwrapped, arrival time as event time);
#   2. Prosody restarted while stanzawatch runs: the tap reconnects (with
#      backoff) and the next flood is caught, nothing delivered twice;
#   3. a second component with the same JID is refused (conflict logged)
#      while the first keeps working.
# Skips (77) when prosody, mod_firewall or slixmpp is missing.
# usage: component_test.sh STANZAWATCH SOURCE_DIR
set -euo pipefail
sw=$1
src=$2
name=live.component
[ -r /usr/lib/prosody/modules/mod_firewall/mod_firewall.lua ] ||
	{ echo "$name: prosody-modules (mod_firewall) not installed: skipping" >&2; exit 77; }
prosody_extra=$(cat <<'CFG'

VirtualHost "a.test"
	modules_enabled = { "firewall" }
	firewall_scripts = { "@SRC@/deploy/prosody/mirror.pfw" }

Component "rooms.a.test" "muc"
	modules_enabled = { "firewall" }
	firewall_scripts = { "@SRC@/deploy/prosody/mirror.pfw" }

Component "watch.a.test"
	component_secret = "watch-secret"
CFG
)
# shellcheck source=../reporter/harness.sh
. "$src/tests/reporter/harness.sh"
c2s=$SW_PROSODY_C2S_PORT
drv=("$py" "$src/tests/live/xmpp_driver.py" --port "$c2s" --max-seconds 90)
tap_name=mirror
cat >"$work/sw.yaml" <<YAML
taps:
  - type: component
    name: mirror
    address: 127.0.0.1:$port
    jid: watch.a.test
    secret: watch-secret
# a subscription burst is a half signal until its grace is over (60 s by
# default): 2 s here, so the spammer is reported while the test runs
detectors:
  sub_burst:
    grace: 2s
YAML
connected() { # connected FILE N: N "connected as component" lines
	for _ in $(seq 1 300); do
		[ "$(grep -c 'connected as component' "$1" || true)" -ge "$2" ] && return 0
		sleep 0.1
	done
	fail "component tap did not connect: $(tail -3 "$1")"
}

# ---- 1. flood and sub-spam through FORWARD ----
start_sw 1
connected "$work/run.1.err" 1
"${drv[@]}" sub-spam --targets 60 >"$work/d2.json" 2>>"$work/drv.err" || fail "sub-spam driver failed"
# the spammer falls silent and nobody answers it: stream time (arrival time)
# moves past its 2 s grace only with other people's traffic (the flood), and
# it must be reported then, not on a stanza of its own
sleep 2.5
"${drv[@]}" muc-flood --flooders 2 --messages 150 --others 2 >"$work/d1.json" 2>>"$work/drv.err" ||
	fail "muc-flood driver failed"
# ---- 3. (while connected) a second component with the same JID is refused ----
cat >"$work/sw2.yaml" <<YAML
taps:
  - {type: component, name: dup, address: 127.0.0.1:$port, jid: watch.a.test, secret: watch-secret}
YAML
"$sw" run -c "$work/sw2.yaml" --incidents /dev/null 2>"$work/dup.err" &
dup=$!
pids+=("$dup")
for _ in $(seq 1 100); do grep -q "conflict" "$work/dup.err" && break; sleep 0.1; done
kill -TERM "$dup"
wait "$dup" || fail "the refused second tap did not exit cleanly"
forget_pid "$dup"
grep -q "conflict" "$work/dup.err" || fail "no conflict logged for a second component: $(cat "$work/dup.err")"
sleep 0.5
stop_sw
has "$work/inc.1.jsonl" muc-flood flooder1@a.test || fail "flooder1 not caught: $(cat "$work/inc.1.jsonl")"
has "$work/inc.1.jsonl" muc-flood flooder2@a.test || fail "flooder2 not caught"
has "$work/inc.1.jsonl" subscription-spam spammer1@a.test || fail "spammer1 not caught"
t1=$(tapline 1)
[ "$(num message "$t1")" = 306 ] || fail "expected 306 messages exactly once: $t1"
say "1 ok: flood and sub-spam caught through FORWARD; 306 messages once; 3 ok: duplicate component refused (conflict)"

# ---- 2. Prosody restart: reconnect with backoff, nothing twice ----
start_sw 2
connected "$work/run.2.err" 1
"$src/deploy/prosody/stop.sh" "$pdir" 2>/dev/null
sleep 1
SW_PROSODY_DIR="$pdir" SW_PROSODY_C2S_PORT="$c2s" SW_PROSODY_COMPONENT_PORT="$port" \
	"$src/deploy/prosody/start.sh" >/dev/null 2>&1 || fail "prosody did not restart"
connected "$work/run.2.err" 2
flood_again 2 "$work/d3.json"
t2=$(tapline 2)
say "2 ok: server restart: reconnected ($(num reconnects "$t2") reconnect attempts), flood caught, 153 messages once"
say "all checks passed"
