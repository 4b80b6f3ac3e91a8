#!/usr/bin/env bash
# live.prosody: `stanzawatch run` behind a real Prosody (deploy/prosody) that
# loads deploy/prosody/mod_stanzawatch.lua on a.test and rooms.a.test, with
# real slixmpp clients (tests/live/xmpp_driver.py). Loopback only. Checks:
#   1. a MUC flood and a subscription burst are caught through the socket tap;
#      every message the clients sent arrives exactly once (no duplicates);
#   2. stanzawatch killed (SIGKILL) and restarted while clients chat: the
#      server never stalls (every message echoed, bounded lag), the module
#      counts what it dropped meanwhile and reports it to the new process;
#   3. Prosody restarted while stanzawatch runs: the module reconnects, the
#      next flood is caught, and nothing is delivered twice;
#   4. slow consumer: stanzawatch stopped (SIGSTOP) under load: the server
#      goes on, the module's bounded buffer overflows and drops are counted
#      (module log, and as sequence gaps at the tap after SIGCONT).
# Every process started here is stopped by pid; everything is time-bounded.
# usage: prosody_test.sh STANZAWATCH SOURCE_DIR
set -euo pipefail
sw=$1
src=$2
name=live.prosody
prosody_extra=$(cat <<'CFG'

Host "*"
plugin_paths = { "@SRC@/deploy/prosody" }
stanzawatch_socket = "unix:@DIR@/tap.sock"
-- small, so that test 4 overflows it quickly
stanzawatch_max_pending = 65536

VirtualHost "a.test"
	modules_enabled = { "stanzawatch" }

Component "rooms.a.test" "muc"
	modules_enabled = { "stanzawatch" }
CFG
)
# shellcheck source=../reporter/harness.sh
. "$src/tests/reporter/harness.sh"
c2s=$SW_PROSODY_C2S_PORT
drv=("$py" "$src/tests/live/xmpp_driver.py" --port "$c2s" --max-seconds 90)
tap_name=prosody
tap_sock="$pdir/tap.sock"
# a stopped stanzawatch (test 4) must be continued before the harness stops it
fail() {
	if [ -n "$swpid" ]; then kill -CONT "$swpid" 2>/dev/null || true; fi
	say "FAIL: $*"
	exit 1
}

cat >"$work/sw.yaml" <<YAML
taps:
  - type: socket
    name: prosody
    listen: unix:$pdir/tap.sock
# a subscription burst is a half signal until its grace is over (60 s by
# default): 2 s here, so the spammer is reported while the test runs
detectors:
  sub_burst:
    grace: 2s
YAML
connected() { # connected N: N "connected" lines in the Prosody log (one per host)
	local want=$1
	for _ in $(seq 1 150); do
		[ "$(grep -c 'stanzawatch: connected to' "$pdir/prosody.log" || true)" -ge "$want" ] && return 0
		sleep 0.1
	done
	fail "module did not connect ($want expected): $(grep stanzawatch "$pdir/prosody.log" | tail -3)"
}

# ---- 1. flood and subscription burst caught, nothing duplicated ----
start_sw 1
connected 2
flood_and_spam 1
t1=$(tapline 1)
# 300 flood + 2 members x 3 groupchat messages, each seen once (sender's host)
[ "$(num message "$t1")" = 306 ] || fail "expected 306 messages exactly once: $t1"
[ "$(num "dropped (queue" "$t1")" = 0 ] || fail "drops at the tap: $t1"
say "1 ok: flood and sub-spam caught; 306 messages each mirrored once; $(wc -l <"$work/inc.1.jsonl") incident lines"

# ---- 2. stanzawatch killed and restarted while the server runs ----
start_sw 2
connected 4
kill_restart_sw 3 "$work/d3.json"
connected 6
sleep 0.5
stop_sw
echoed_all "$work/d3.json" || fail "server stalled while stanzawatch was down: $(cat "$work/d3.json")"
t3=$(tapline 3)
pd=$(num "dropped by the server module" "$t3")
[ -n "$pd" ] && [ "$pd" -gt 0 ] || fail "module drops not reported to the restarted tap: $t3"
grep -q "stanzawatch: connected to .* ([1-9][0-9]* stanza(s) dropped before)" "$pdir/prosody.log" ||
	fail "module did not log its drops"
# the tap's hello switched the module to record 2 (live/record.h), on each connection
[ "$(grep -c 'stanzawatch: .* reads record 2' "$pdir/prosody.log" || true)" -ge 6 ] ||
	fail "module never switched to record 2: $(grep -c 'reads record 2' "$pdir/prosody.log" || true) times"
say "2 ok: SIGKILL + restart under load: $(sed 's/.*"sent": \([0-9]*\).*"echoed": \([0-9]*\).*/\1 sent, \2 echoed/' "$work/d3.json"), lag $(sed 's/.*"echo_lag_s": \([0-9.]*\).*/\1/' "$work/d3.json") s; module dropped $pd meanwhile"

# ---- 3. Prosody restarted while stanzawatch runs ----
start_sw 4
connected 8
"$src/deploy/prosody/stop.sh" "$pdir" 2>/dev/null
SW_PROSODY_DIR="$pdir" SW_PROSODY_C2S_PORT="$c2s" SW_PROSODY_COMPONENT_PORT="$port" \
	"$src/deploy/prosody/start.sh" >/dev/null 2>&1 || fail "prosody did not restart"
connected 2 # the log starts anew
flood_again 4 "$work/d4.json"
t4=$(tapline 4)
[ "$(num connections "$t4")" = 4 ] || fail "expected 2 + 2 connections (before/after restart): $t4"
say "3 ok: server restart: module reconnected, flood caught, 153 messages each once"

# ---- 4. slow consumer: the module's bounded buffer overflows, server unharmed ----
start_sw 5
connected 4
stall_sw "$work/d5.json" "$work/d6.json"
echoed_all "$work/d5.json" || fail "server stalled by a slow consumer: $(cat "$work/d5.json")"
grep -q "stanzawatch: [0-9]* stanza(s) dropped so far .*socket full" "$pdir/prosody.log" ||
	fail "module did not report an overflow: $(grep stanzawatch "$pdir/prosody.log" | tail -3)"
t5=$(tapline 5)
gaps=$(num gaps "$t5")
[ -n "$gaps" ] && [ "$gaps" -gt 0 ] || fail "overflow drops not seen as gaps at the tap: $t5"
say "4 ok: slow consumer: server unharmed ($(sed 's/.*"sent": \([0-9]*\).*"echoed": \([0-9]*\).*/\1 sent, \2 echoed/' "$work/d5.json")), $gaps stanzas dropped by the module, counted as gaps"
say "all checks passed"
