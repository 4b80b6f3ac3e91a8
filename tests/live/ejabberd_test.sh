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
#      buffer overflows, drops show as sequence gaps after SIGCONT.
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

c2s=$("$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
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
auth_method: internal
auth_password_format: plain
s2s_access: none
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
start_ej() {
	: >"$work/ejabberd.log"
	erl -noinput -noshell -pa "$ej/ebin" -pa "$work/ebin" -mnesia dir "\"$work/db\"" \
		-ejabberd config "\"$work/ejabberd.yml\"" log_path "\"$work/ejabberd.log\"" \
		-s ejabberd >"$work/erl.out" 2>&1 &
	ejpid=$!
	pids+=("$ejpid")
	for _ in $(seq 1 200); do
		grep -q "Start accepting TCP connections" "$work/ejabberd.log" 2>/dev/null && return 0
		kill -0 "$ejpid" 2>/dev/null || break
		sleep 0.1
	done
	return 1
}
stop_ej() {
	kill -TERM "$ejpid" 2>/dev/null || true
	for _ in $(seq 1 100); do kill -0 "$ejpid" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$ejpid" 2>/dev/null || true
	wait "$ejpid" 2>/dev/null || true
	forget_pid "$ejpid"
	ejpid=""
}
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
start_ej || skip "ejabberd cannot start here ($(tail -n 3 "$work/erl.out" "$work/ejabberd.log" 2>/dev/null | tr '\n' ' '))"
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
stop_ej
start_ej || fail "ejabberd did not restart"
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
stop_ej
say "all checks passed"
