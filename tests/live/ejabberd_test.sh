#!/usr/bin/env bash
# live.ejabberd: `stanzawatch run` behind a real ejabberd (Debian's 23.01) on
# loopback running deploy/ejabberd/mod_stanzawatch.erl, compiled here with
# erlc against the package's headers; real slixmpp clients. ejabberd runs as
# a plain `erl -s ejabberd` in a private directory (config, Mnesia, logs), no
# Erlang distribution (no epmd), c2s on a free port. Checks:
#   1. a MUC flood and a subscription burst are caught; every message once;
#   2. stanzawatch killed (SIGKILL) and restarted under load: the server never
#      stalls (every message echoed), the module's drops reach the new tap;
#   3. ejabberd restarted while stanzawatch runs: reconnect, flood caught,
#      nothing twice;
#   4. slow consumer (SIGSTOP): the server goes on, the module's bounded
#      buffer overflows, drops show as sequence gaps after SIGCONT;
#   5. a room flood from a remote occupant: tests/live/s2s_peer.py plays the
#      server 'localhost' over s2s dialback (ejabberd's outgoing_s2s_port is
#      its listener), sends groupchat to a room on rooms.a.test before it
#      exists, joins it, floods it, sends private messages to an occupant
#      and mediated invitations, leaves; then plays the external component
#      bot.a.test (XEP-0114) sending chat messages to a user and the room.
#      The flood is caught, and every one of those messages reaches the tap
#      once, as the Prosody module mirrors them (s2s_receive_packet folded
#      at the room's server host, component_send_packet; the MUC hooks used
#      before saw only the accepted groupchat).
# Skips (77) when ejabberd, erlang-dev (erlc) or slixmpp is missing, or when
# ejabberd cannot start here. Every process is stopped by pid.
# usage: ejabberd_test.sh STANZAWATCH SOURCE_DIR
set -euo pipefail
sw=$1
src=$2
name=live.ejabberd
# shellcheck source=harness.sh
. "$src/tests/live/harness.sh"
ej=$(ls -d /usr/lib/x86_64-linux-gnu/ejabberd-*/ /usr/lib/*/ejabberd-*/ 2>/dev/null | head -1 || true)
[ -n "$ej" ] && [ -d "$ej/ebin" ] || skip "ejabberd not installed"
command -v erlc >/dev/null && command -v erl >/dev/null || skip "erlang-dev (erlc) not installed"
xmpp_inc=$(ls -d /usr/lib/erlang/lib/p1_xmpp-*/include 2>/dev/null | head -1 || true)
[ -n "$xmpp_inc" ] || skip "erlang-p1-xmpp headers not found"
"$py" -c 'import slixmpp' 2>/dev/null || skip "python3-slixmpp missing"

ejpid=""
tap_name=ejabberd
tap_sock="$work/tap.sock"

# ---- build the module against the package's headers ----
mkdir -p "$work/ebin"
erlc -Werror -I "$ej/include" -I "$xmpp_inc" -pa "$ej/ebin" -o "$work/ebin" \
	"$src/deploy/ejabberd/mod_stanzawatch.erl" 2>"$work/erlc.err" || fail "erlc: $(cat "$work/erlc.err")"

c2s=$(free_port)
s2s=$(free_port)
s2s_peer=$(free_port)
comp=$(free_port)
cat >"$work/ejabberd.yml" <<YAML
# loopback test server: plaintext, open registration; never for production
loglevel: info
hosts:
  - a.test
  - b.test
listen:
  -
    port: $c2s
    ip: "127.0.0.1"
    module: ejabberd_c2s
    max_stanza_size: 262144
    access: c2s
    starttls_required: false
  -
    port: $s2s
    ip: "127.0.0.1"
    module: ejabberd_s2s_in
  -
    port: $comp
    ip: "127.0.0.1"
    module: ejabberd_service
    hosts:
      bot.a.test:
        password: "sw-test"
# s2s only with the test's peer 'localhost' (tests/live/s2s_peer.py) on loopback
outgoing_s2s_port: $s2s_peer
outgoing_s2s_families: [ipv4]
s2s_use_starttls: false
auth_method: internal
auth_password_format: plain
s2s_access: all
registration_timeout: infinity
acl:
  loopback:
    ip:
      - 127.0.0.0/8
access_rules:
  c2s:
    allow: all
  register:
    allow: all
  muc_create:
    allow: all
shaper_rules: {}
modules:
  mod_disco: {}
  mod_s2s_dialback: {}
  mod_ping: {}
  mod_roster: {}
  mod_register:
    ip_access: all
    access: register
  mod_muc:
    host: "rooms.@HOST@"
    access_create: muc_create
  mod_stanzawatch:
    socket: "unix:$work/tap.sock"
    max_pending: 65536
YAML
cat >"$work/sw.yaml" <<YAML
taps:
  - type: socket
    name: ejabberd
    listen: unix:$work/tap.sock
# a subscription burst is a half signal until its grace is over (60 s by
# default): 2 s here, so the spammer is reported while the test runs
detectors:
  sub_burst:
    grace: 2s
YAML
connected() { # connected N: N "connected to" lines in this ejabberd's log
	for _ in $(seq 1 350); do
		[ "$(grep -c 'stanzawatch .*: connected to' "$work/ejabberd.log" || true)" -ge "$1" ] && return 0
		sleep 0.1
	done
	fail "module did not connect ($1 expected)"
}
drv=("$py" "$src/tests/live/xmpp_driver.py" --port "$c2s" --max-seconds 90)

# ---- 1. flood and sub-spam through the ejabberd module ----
start_sw 1
ej_start "$work/ebin" || skip "ejabberd cannot start here ($(tail -n 3 "$work/erl.out" "$work/ejabberd.log" 2>/dev/null | tr '\n' ' '))"
connected 2
flood_and_spam 1
t1=$(tapline 1)
[ "$(num message "$t1")" = 306 ] || fail "expected 306 messages exactly once: $t1"
[ "$(num gaps "$t1")" = 0 ] || fail "gaps without drops: $t1"
say "1 ok: flood and sub-spam caught through ejabberd; 306 messages once, 0 gaps"

# ---- 2. stanzawatch killed and restarted under load ----
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
say "2 ok: SIGKILL + restart under load: all echoed; module dropped $pd meanwhile, reported"

# ---- 3. ejabberd restarted while stanzawatch runs ----
start_sw 4
ej_stop
ej_start "$work/ebin" || fail "ejabberd did not restart"
connected 2
flood_again 4 "$work/d4.json"
t4=$(tapline 4)
say "3 ok: server restart: reconnected ($(num connections "$t4") connections), flood caught, 153 once"

# ---- 4. slow consumer ----
start_sw 5
connected 4
stall_sw "$work/d5.json" "$work/d6.json"
echoed_all "$work/d5.json" || fail "server stalled by a slow consumer: $(cat "$work/d5.json")"
t5=$(tapline 5)
gaps=$(num gaps "$t5")
[ -n "$gaps" ] && [ "$gaps" -gt 0 ] || fail "overflow drops not seen as gaps: $t5"
say "4 ok: slow consumer: server unharmed, $gaps stanzas dropped by the module, counted as gaps"

# ---- 5. a room flood from a remote (s2s) occupant: the MUC hooks ----
start_sw 6
connected 6
"$py" "$src/tests/live/s2s_peer.py" --s2s-port "$s2s" --listen-port "$s2s_peer" \
	--room rflood@rooms.a.test --nick remote --user remote1 --messages 150 --max-seconds 60 \
	--outsider 5 --pms 10 --invites 10 --component-port "$comp" --component bot.a.test \
	--secret sw-test --component-to victim@a.test,rflood@rooms.a.test --component-messages 10 \
	>"$work/d7.json" 2>>"$work/drv.err" || fail "s2s peer failed: $(tail -3 "$work/drv.err")"
sleep 0.5
stop_sw
has "$work/inc.6.jsonl" muc-flood remote1@localhost ||
	fail "remote occupant's flood not caught: $(cat "$work/inc.6.jsonl") $(tapline 6)"
t6=$(tapline 6)
# 5 outsider + 150 groupchat + 10 private + 10 invitations over s2s, 2 x 10
# from the component
[ "$(num message "$t6")" = 195 ] || fail "expected the 195 remote and component messages exactly once: $t6"
say "5 ok: room flood from remote1@localhost over s2s caught; its 195 s2s and component messages (refused groupchat, private, invitations, to a user and a room) once ($(cat "$work/d7.json"))"
ej_stop
say "all checks passed"
