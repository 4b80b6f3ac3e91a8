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
py=/usr/bin/python3
say() { printf '%s: %s\n' "$name" "$*" >&2; }
skip() { say "$*: skipping"; exit 77; }
ej=$(ls -d /usr/lib/x86_64-linux-gnu/ejabberd-*/ /usr/lib/*/ejabberd-*/ 2>/dev/null | head -1 || true)
[ -n "$ej" ] && [ -d "$ej/ebin" ] || skip "ejabberd not installed"
command -v erlc >/dev/null && command -v erl >/dev/null || skip "erlang-dev (erlc) not installed"
xmpp_inc=$(ls -d /usr/lib/erlang/lib/p1_xmpp-*/include 2>/dev/null | head -1 || true)
[ -n "$xmpp_inc" ] || skip "erlang-p1-xmpp headers not found"
"$py" -c 'import slixmpp' 2>/dev/null || skip "python3-slixmpp missing"

work=$(mktemp -d "${TMPDIR:-/tmp}/sw-live-ejabberd.XXXXXX")
pids=()
swpid=""
ejpid=""
cleanup() {
	local st=$?
	if [ -n "$swpid" ]; then kill -CONT "$swpid" 2>/dev/null || true; fi
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	if [ "$st" = 0 ] || [ "$st" = 77 ]; then rm -rf -- "$work"; else
		say "FAILED; scratch kept in $work"; tail -n 20 "$work/ejabberd.log" "$work"/run.*.err >&2 2>/dev/null || true
	fi
}
trap cleanup EXIT
fail() { say "FAIL: $*"; exit 1; }
forget_pid() { local keep=() p; for p in "${pids[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done; pids=("${keep[@]}"); }

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
# the spammer falls silent right after its burst: no 60 s grace before the full signal
detectors:
  sub_burst:
    grace: 0s
taps:
  - type: socket
    name: ejabberd
    listen: unix:$work/tap.sock
YAML
start_sw() {
	"$sw" run -c "$work/sw.yaml" --incidents "$work/inc.$1.jsonl" 2>"$work/run.$1.err" &
	swpid=$!
	pids+=("$swpid")
	for _ in $(seq 1 100); do [ -S "$work/tap.sock" ] && break; sleep 0.05; done
}
stop_sw() {
	kill -TERM "$swpid"
	wait "$swpid" || fail "run exited $? after SIGTERM"
	forget_pid "$swpid"
	swpid=""
}
connected() { # connected N: N "connected to" lines in this ejabberd's log
	for _ in $(seq 1 350); do
		[ "$(grep -c 'stanzawatch .*: connected to' "$work/ejabberd.log" || true)" -ge "$1" ] && return 0
		sleep 0.1
	done
	fail "module did not connect ($1 expected)"
}
drv=("$py" "$src/tests/live/xmpp_driver.py" --port "$c2s" --max-seconds 90)
tapline() { grep "^tap ejabberd " "$work/run.$1.err" || fail "no tap stats in run.$1.err"; }
num() { sed -n "s/.*[ (]\([0-9][0-9]*\) $1.*/\1/p" <<<"$2"; }
has() {
	"$py" -c 'import json,sys; sys.exit(0 if any(j["kind"]==sys.argv[2] and j["offender"]==sys.argv[3] and j["status"]=="open" for j in map(json.loads, open(sys.argv[1]))) else 1)' "$@"
}
echoed_all() {
	"$py" -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if d["echoed"]==d["sent"] and d["echo_lag_s"]<3 else 1)' "$1"
}

# ---- 1. flood and sub-spam through the ejabberd module ----
start_sw 1
start_ej || skip "ejabberd cannot start here ($(tail -n 3 "$work/erl.out" "$work/ejabberd.log" 2>/dev/null | tr '\n' ' '))"
connected 2
"${drv[@]}" muc-flood --flooders 2 --messages 150 --others 2 >"$work/d1.json" 2>>"$work/drv.err" ||
	fail "muc-flood driver failed: $(tail -2 "$work/drv.err")"
"${drv[@]}" sub-spam --targets 60 >"$work/d2.json" 2>>"$work/drv.err" || fail "sub-spam driver failed"
sleep 0.5
stop_sw
has "$work/inc.1.jsonl" muc-flood flooder1@a.test || fail "flooder1 not caught: $(cat "$work/inc.1.jsonl")"
has "$work/inc.1.jsonl" muc-flood flooder2@a.test || fail "flooder2 not caught"
has "$work/inc.1.jsonl" subscription-spam spammer1@a.test || fail "spammer1 not caught"
t1=$(tapline 1)
[ "$(num message "$t1")" = 306 ] || fail "expected 306 messages exactly once: $t1"
[ "$(num gaps "$t1")" = 0 ] || fail "gaps without drops: $t1"
say "1 ok: flood and sub-spam caught through ejabberd; 306 messages once, 0 gaps"

# ---- 2. stanzawatch killed and restarted under load ----
start_sw 2
connected 4
"${drv[@]}" steady --users 2 --rate 25 --seconds 8 >"$work/d3.json" 2>>"$work/drv.err" &
dpid=$!
pids+=("$dpid")
sleep 2
kill -KILL "$swpid"
wait "$swpid" 2>/dev/null || true
forget_pid "$swpid"
sleep 2
start_sw 3
wait "$dpid" || fail "steady driver failed"
forget_pid "$dpid"
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
"${drv[@]}" muc-flood --room flood2 --prefix again --flooders 1 --messages 150 --others 1 \
	>"$work/d4.json" 2>>"$work/drv.err" || fail "second flood failed"
sleep 0.5
stop_sw
has "$work/inc.4.jsonl" muc-flood again1@a.test || fail "flood after the server restart not caught"
t4=$(tapline 4)
[ "$(num message "$t4")" = 153 ] || fail "expected 153 messages exactly once: $t4"
say "3 ok: server restart: reconnected ($(num connections "$t4") connections), flood caught, 153 once"

# ---- 4. slow consumer ----
start_sw 5
connected 4
"${drv[@]}" steady --room slow --prefix slow --users 2 --rate 40 --seconds 6 --pad 3000 \
	>"$work/d5.json" 2>>"$work/drv.err" &
dpid=$!
pids+=("$dpid")
sleep 1
kill -STOP "$swpid"
wait "$dpid" || fail "steady driver failed while stanzawatch was stopped"
forget_pid "$dpid"
kill -CONT "$swpid"
"${drv[@]}" steady --room slow --prefix after --users 1 --rate 10 --seconds 1 \
	>"$work/d6.json" 2>>"$work/drv.err" || fail "driver after SIGCONT failed"
sleep 0.5
stop_sw
echoed_all "$work/d5.json" || fail "server stalled by a slow consumer: $(cat "$work/d5.json")"
t5=$(tapline 5)
gaps=$(num gaps "$t5")
[ -n "$gaps" ] && [ "$gaps" -gt 0 ] || fail "overflow drops not seen as gaps: $t5"
say "4 ok: slow consumer: server unharmed, $gaps stanzas dropped by the module, counted as gaps"
stop_ej
say "all checks passed"
