#!/usr/bin/env bash
# bench/live_server_cost.sh STANZAWATCH [ROUNDS] [FLOODERS] [MESSAGES]
#
# Server CPU per mirrored stanza: the same slixmpp flood (FLOODERS clients x
# MESSAGES groupchat messages into one room with the flooders as occupants,
# tests/live/xmpp_driver.py) against a private server on loopback in each
# configuration, the server's CPU (utime + stime from /proc/PID/stat) taken
# around the flood only (accounts registered and warmed up before):
#   prosody-none     Prosody without any mirror            (baseline)
#   prosody-forward  mod_firewall FORWARD -> component tap  (deploy/prosody/mirror.pfw)
#   prosody-module   mod_stanzawatch.lua  -> socket tap
#   ejabberd-none    ejabberd 23.01 without the module      (if installed)
#   ejabberd-module  mod_stanzawatch.erl  -> socket tap
# A mirror's cost per stanza = (CPU - median baseline CPU) / stanzas the tap
# received. Configurations alternate within each round. Prints one line per
# run and a summary. Loopback only; every process it starts is stopped by pid.
set -euo pipefail
sw=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
rounds=${2:-3}
flooders=${3:-4}
messages=${4:-2500}
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
py=/usr/bin/python3
work=$(mktemp -d "${TMPDIR:-/tmp}/sw-bench-cost.XXXXXX")
pids=()
pdir=""
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	[ -z "$pdir" ] || "$src/deploy/prosody/stop.sh" "$pdir" >/dev/null 2>&1 || true
	rm -rf -- "$work"
}
trap cleanup EXIT
say() { printf 'cost: %s\n' "$*" >&2; }
forget_pid() { local keep=() p; for p in "${pids[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done; pids=("${keep[@]}"); }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
free_port() { "$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

start_sw() { # start_sw YAML
	"$sw" run -c "$1" --incidents /dev/null 2>"$work/sw.err" &
	swpid=$!
	pids+=("$swpid")
}
stop_sw() {
	kill -TERM "$swpid"
	wait "$swpid" || true
	forget_pid "$swpid"
	got=$(sed -n 's/^tap [a-z]* ([a-z]*): .* bytes, \([0-9]*\) stanzas.*/\1/p' "$work/sw.err" | head -1)
}
flood() { # flood PORT: warm-up (registers, joins), then the measured flood
	"$py" "$src/tests/live/xmpp_driver.py" --port "$1" --max-seconds 300 muc-flood --room "r$RANDOM" \
		--flooders "$flooders" --messages 5 --others 0 >/dev/null 2>>"$work/drv.err"
}

run_prosody() { # run_prosody MODE
	local mode=$1 extra="$work/extra.cfg"
	: >"$extra"
	case $mode in
	forward)
		cat >"$extra" <<'CFG'
VirtualHost "a.test"
	modules_enabled = { "firewall" }
	firewall_scripts = { "@SRC@/deploy/prosody/mirror.pfw" }
Component "rooms.a.test" "muc"
	modules_enabled = { "firewall" }
	firewall_scripts = { "@SRC@/deploy/prosody/mirror.pfw" }
Component "watch.a.test"
	component_secret = "watch-secret"
CFG
		;;
	module)
		cat >"$extra" <<'CFG'
Host "*"
plugin_paths = { "@SRC@/deploy/prosody" }
stanzawatch_socket = "unix:@DIR@/tap.sock"
stanzawatch_profile = true
VirtualHost "a.test"
	modules_enabled = { "stanzawatch" }
Component "rooms.a.test" "muc"
	modules_enabled = { "stanzawatch" }
CFG
		;;
	esac
	rm -rf "$work/p"
	SW_PROSODY_DIR="$work/p" SW_PROSODY_EXTRA="$extra" SW_PROSODY_LOG_LEVEL=info \
		"$src/deploy/prosody/start.sh" >"$work/penv" 2>/dev/null
	pdir="$work/p"
	# shellcheck disable=SC1091
	. "$work/penv"
	local pid=$SW_PROSODY_PID c2s=$SW_PROSODY_C2S_PORT
	got=0
	case $mode in
	forward)
		printf 'taps:\n  - {type: component, name: fwd, address: "127.0.0.1:%s", jid: watch.a.test, secret: watch-secret}\n' \
			"$SW_PROSODY_COMPONENT_PORT" >"$work/sw.yaml"
		start_sw "$work/sw.yaml"
		for _ in $(seq 1 100); do grep -q "connected as component" "$work/sw.err" && break; sleep 0.1; done
		;;
	module)
		printf 'taps:\n  - {type: socket, name: mod, listen: "unix:%s/tap.sock"}\n' "$pdir" >"$work/sw.yaml"
		start_sw "$work/sw.yaml"
		for _ in $(seq 1 100); do [ "$(grep -c 'stanzawatch: connected' "$pdir/prosody.log" 2>/dev/null || true)" -ge 2 ] && break; sleep 0.1; done
		;;
	esac
	hook0=$(profile_s)
	measure "$c2s" "$pid"
	[ "$mode" = module ] && sleep 2.5
	hook=$(awk -v a="$hook0" -v b="$(profile_s)" 'BEGIN {printf "%.3f", b - a}')
	[ "$mode" = none ] || stop_sw
	"$src/deploy/prosody/stop.sh" "$pdir" >/dev/null 2>&1
	pdir=""
	printf '%s %s %s %s\n' "prosody-$mode" "$cpu" "$got" "$hook" >>"$work/results"
	say "prosody-$mode: server CPU $cpu s for $((flooders * messages)) flood messages; tap got $got stanzas; module hooks $hook s"
}

profile_s() { # CPU seconds in mod_stanzawatch's hooks so far (stanzawatch_profile; both hosts)
	awk '/stanzawatch: profile:/ {v[$4] = $(NF - 4)} END {s = 0; for (k in v) s += v[k]; printf "%.6f", s}' \
		"$pdir/prosody.log" 2>/dev/null || echo 0
}
measure() { # measure C2S_PORT SERVER_PID -> $cpu
	"$py" "$src/tests/live/xmpp_driver.py" --port "$1" --max-seconds 300 muc-flood --room warm \
		--flooders "$flooders" --messages 5 --others 0 >/dev/null 2>>"$work/drv.err"
	local t0 t1
	t0=$(cpu_ticks "$2")
	"$py" "$src/tests/live/xmpp_driver.py" --port "$1" --max-seconds 300 muc-flood --room bench \
		--flooders "$flooders" --messages "$messages" --others 0 >"$work/drv.json" 2>>"$work/drv.err"
	sleep 0.5
	t1=$(cpu_ticks "$2")
	cpu=$(awk -v a="$t0" -v b="$t1" -v hz="$hz" 'BEGIN {printf "%.2f", (b - a) / hz}')
}

ej=$(ls -d /usr/lib/x86_64-linux-gnu/ejabberd-*/ 2>/dev/null | head -1 || true)
xmpp_inc=$(ls -d /usr/lib/erlang/lib/p1_xmpp-*/include 2>/dev/null | head -1 || true)
have_ej=0
if [ -n "$ej" ] && [ -n "$xmpp_inc" ] && command -v erlc >/dev/null; then
	mkdir -p "$work/ebin"
	erlc -I "$ej/include" -I "$xmpp_inc" -pa "$ej/ebin" -o "$work/ebin" \
		"$src/deploy/ejabberd/mod_stanzawatch.erl" && have_ej=1
fi
run_ejabberd() { # run_ejabberd MODE
	local mode=$1 c2s
	c2s=$(free_port)
	rm -rf "$work/ejdb"
	{
		printf 'loglevel: info\nhosts:\n  - a.test\n  - b.test\n'
		printf 'listen:\n  -\n    port: %s\n    ip: "127.0.0.1"\n    module: ejabberd_c2s\n    access: c2s\n    starttls_required: false\n' "$c2s"
		printf 'auth_method: internal\nauth_password_format: plain\ns2s_access: none\nregistration_timeout: infinity\n'
		printf 'access_rules:\n  c2s:\n    allow: all\n  register:\n    allow: all\n  muc_create:\n    allow: all\nshaper_rules: {}\n'
		printf 'modules:\n  mod_disco: {}\n  mod_ping: {}\n  mod_roster: {}\n'
		printf '  mod_register:\n    ip_access: all\n    access: register\n'
		printf '  mod_muc:\n    host: "rooms.@HOST@"\n    access_create: muc_create\n'
		[ "$mode" = none ] || printf '  mod_stanzawatch:\n    socket: "unix:%s/tap.sock"\n' "$work"
	} >"$work/ejabberd.yml"
	if [ "$mode" = module ]; then
		printf 'taps:\n  - {type: socket, name: mod, listen: "unix:%s/tap.sock"}\n' "$work" >"$work/sw.yaml"
		start_sw "$work/sw.yaml"
		sleep 0.3
	fi
	: >"$work/ejabberd.log"
	erl -noinput -noshell -pa "$ej/ebin" -pa "$work/ebin" -mnesia dir "\"$work/ejdb\"" \
		-ejabberd config "\"$work/ejabberd.yml\"" log_path "\"$work/ejabberd.log\"" -s ejabberd \
		>"$work/erl.out" 2>&1 &
	local ejpid=$!
	pids+=("$ejpid")
	for _ in $(seq 1 200); do grep -q "Start accepting" "$work/ejabberd.log" 2>/dev/null && break; sleep 0.1; done
	sleep 1
	got=0
	measure "$c2s" "$ejpid"
	[ "$mode" = none ] || stop_sw
	kill -TERM "$ejpid"
	wait "$ejpid" 2>/dev/null || true
	forget_pid "$ejpid"
	printf '%s %s %s %s\n' "ejabberd-$mode" "$cpu" "$got" 0 >>"$work/results"
	say "ejabberd-$mode: server CPU $cpu s; tap got $got stanzas"
}

: >"$work/results"
for r in $(seq 1 "$rounds"); do
	say "round $r/$rounds"
	for m in none forward module; do run_prosody "$m"; done
	if [ "$have_ej" = 1 ]; then for m in none module; do run_ejabberd "$m"; done; fi
done
"$py" - "$work/results" "$flooders" "$messages" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
n = int(sys.argv[2]) * int(sys.argv[3])
by = {}
hooks = {}
for name, cpu, got, hook in rows:
    by.setdefault(name, []).append((float(cpu), int(got)))
    hooks.setdefault(name, []).append(float(hook))
print("| configuration | runs | server CPU s (median, min-max) | stanzas at the tap | mirror cost per stanza (CPU difference to none) | in-hook CPU per stanza |")
print("|---|---|---|---|---|---|")
for server in ("prosody", "ejabberd"):
    base = by.get(server + "-none")
    if not base:
        continue
    b = statistics.median(c for c, _ in base)
    for mode in ("none", "forward", "module"):
        rs = by.get("%s-%s" % (server, mode))
        if not rs:
            continue
        cpus = [c for c, _ in rs]
        med = statistics.median(cpus)
        got = statistics.median(g for _, g in rs)
        cost = "-" if mode == "none" or not got else "%.1f us" % ((med - b) / got * 1e6)
        hk = statistics.median(hooks["%s-%s" % (server, mode)])
        hook = "%.1f us" % (hk / got * 1e6) if hk > 0 and got else "-"
        print("| %s-%s | %d | %.2f (%.2f-%.2f) | %d | %s | %s |" % (server, mode, len(rs), med,
              min(cpus), max(cpus), got, cost, hook))
print("\n%d flood messages per run (%s flooders x %s), one room" % (n, sys.argv[2], sys.argv[3]))
PY
