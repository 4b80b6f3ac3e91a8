#!/usr/bin/env bash
# bench/live_server_cost.sh STANZAWATCH [ROUNDS] [FLOODERS] [MESSAGES]
#
# Server CPU per mirrored stanza: the same slixmpp flood (FLOODERS clients x
# MESSAGES groupchat messages into one room with the flooders as occupants,
# tests/live/xmpp_driver.py) against a private server on loopback in each
# configuration, the server's CPU (all its threads, /proc/PID/task/*/schedstat,
# nanoseconds) taken around the flood only (accounts registered and warmed up before):
#   prosody-none     Prosody without any mirror            (baseline)
#   prosody-forward  mod_firewall FORWARD -> component tap  (deploy/prosody/mirror.pfw)
#   prosody-module   mod_stanzawatch.lua  -> socket tap
#   ejabberd-none    ejabberd 23.01 without the module      (if installed)
#   ejabberd-module  mod_stanzawatch.erl  -> socket tap
# Configurations alternate within each round (order rotated every round, so
# no configuration always runs first or last). A mirror's cost per stanza is
# taken per round, paired with that round's own baseline:
#   cost_r = (CPU(mode, round r) - CPU(none, round r)) / stanzas the tap received
# and summarised as the median and min-max over the rounds; the FORWARD /
# module ratio likewise per round (median, min-max). The 1-minute load
# average is recorded before and after every run: on a busy machine the
# spread says how far to trust the medians. Prints one line per run and a
# summary. SW_COST_PROFILE=1 also fills the in-hook column (stanzawatch_profile,
# which itself adds two clock_gettime calls per stanza to the module's cost).
# Loopback only; every process it starts is stopped by pid.
set -euo pipefail
sw=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
rounds=${2:-5}
flooders=${3:-4}
messages=${4:-5000}
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
# CPU of every thread of PID in ns (schedstat's first field: time on a CPU,
# nanosecond resolution; /proc/PID/stat's utime+stime count 10 ms ticks)
cpu_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s += $1} END {printf "%.0f", s}'; }
load1() { cut -d' ' -f1 /proc/loadavg; }
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
VirtualHost "a.test"
	modules_enabled = { "stanzawatch" }
Component "rooms.a.test" "muc"
	modules_enabled = { "stanzawatch" }
CFG
		# the in-hook column: stanzawatch_profile's clock_gettime calls add to
		# the cost measured, so only on request
		if [ "${SW_COST_PROFILE:-0}" = 1 ]; then printf 'Host "*"\nstanzawatch_profile = true\n' >>"$extra"; fi
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
	if [ "$mode" = module ] && [ "${SW_COST_PROFILE:-0}" = 1 ]; then sleep 2.5; fi
	hook=$(awk -v a="$hook0" -v b="$(profile_s)" 'BEGIN {printf "%.3f", b - a}')
	[ "$mode" = none ] || stop_sw
	"$src/deploy/prosody/stop.sh" "$pdir" >/dev/null 2>&1
	pdir=""
	printf '%s %s %s %s %s %s %s\n' "$round" "prosody-$mode" "$cpu" "$got" "$hook" "$la0" "$(load1)" >>"$work/results"
	say "prosody-$mode: server CPU $cpu s for $((flooders * messages)) flood messages; tap got $got stanzas; module hooks $hook s"
}

profile_s() { # CPU seconds in mod_stanzawatch's hooks so far (stanzawatch_profile; both hosts)
	awk '/stanzawatch: profile:/ {v[$4] = $(NF - 4)} END {s = 0; for (k in v) s += v[k]; printf "%.6f", s}' \
		"$pdir/prosody.log" 2>/dev/null || echo 0
}
measure() { # measure C2S_PORT SERVER_PID -> $cpu, $la0 (load before)
	la0=$(load1)
	"$py" "$src/tests/live/xmpp_driver.py" --port "$1" --max-seconds 300 muc-flood --room warm \
		--flooders "$flooders" --messages 5 --others 0 >/dev/null 2>>"$work/drv.err"
	local t0 t1
	t0=$(cpu_ns "$2")
	"$py" "$src/tests/live/xmpp_driver.py" --port "$1" --max-seconds 300 muc-flood --room bench \
		--flooders "$flooders" --messages "$messages" --others 0 >"$work/drv.json" 2>>"$work/drv.err"
	sleep 0.5
	t1=$(cpu_ns "$2")
	cpu=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.4f", (b - a) / 1e9}')
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
	printf '%s %s %s %s %s %s %s\n' "$round" "ejabberd-$mode" "$cpu" "$got" 0 "$la0" "$(load1)" >>"$work/results"
	say "ejabberd-$mode: server CPU $cpu s; tap got $got stanzas"
}

: >"$work/results"
say "start: load average $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores"
for round in $(seq 1 "$rounds"); do
	say "round $round/$rounds"
	# rotate the order: none/forward/module, forward/module/none, module/none/forward, ...
	pm=(none forward module)
	for i in 0 1 2; do run_prosody "${pm[$(((i + round - 1) % 3))]}"; done
	if [ "$have_ej" = 1 ]; then
		em=(none module)
		for i in 0 1; do run_ejabberd "${em[$(((i + round - 1) % 2))]}"; done
	fi
done
say "end: load average $(cut -d' ' -f1-3 /proc/loadavg)"
"$py" - "$work/results" "$flooders" "$messages" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
n = int(sys.argv[2]) * int(sys.argv[3])
run = {}  # (round, config) -> (cpu, got, hook, load_before, load_after)
for rnd, name, cpu, got, hook, la0, la1 in rows:
    run[(int(rnd), name)] = (float(cpu), int(got), float(hook), float(la0), float(la1))
rounds = sorted({r for r, _ in run})
def spread(v, fmt):
    return (fmt + " (" + fmt + " to " + fmt + ")") % (statistics.median(v), min(v), max(v))
loads = [x for v in run.values() for x in v[3:5]]
print("| configuration | runs | server CPU s, median (min to max) | stanzas at the tap | "
      "cost per mirrored stanza, paired per round: median (min to max) | in-hook CPU per stanza |")
print("|---|---|---|---|---|---|")
costs = {}
for server in ("prosody", "ejabberd"):
    for mode in ("none", "forward", "module"):
        name = "%s-%s" % (server, mode)
        rs = [r for r in rounds if (r, name) in run]
        if not rs:
            continue
        cpus = [run[(r, name)][0] for r in rs]
        got = statistics.median(run[(r, name)][1] for r in rs)
        cost, hook = "-", "-"
        if mode != "none":
            c = [(run[(r, name)][0] - run[(r, server + "-none")][0]) / run[(r, name)][1] * 1e6
                 for r in rs if (r, server + "-none") in run and run[(r, name)][1] > 0]
            if c:
                costs[name] = dict(zip([r for r in rs if (r, server + "-none") in run], c))
                cost = spread(c, "%.1f") + " us"
            hk = [run[(r, name)][2] / run[(r, name)][1] * 1e6 for r in rs
                  if run[(r, name)][2] > 0 and run[(r, name)][1] > 0]
            if hk:
                hook = spread(hk, "%.1f") + " us"
        print("| %s | %d | %s | %d | %s | %s |" % (name, len(rs), spread(cpus, "%.2f"), got, cost, hook))
f, m = costs.get("prosody-forward", {}), costs.get("prosody-module", {})
ratios = [f[r] / m[r] for r in f if r in m and m[r] > 0]
print()
for name in sorted(costs):
    print("%s paired cost per round (us): %s" % (name, ", ".join(
        "r%d %.1f" % (r, costs[name][r]) for r in sorted(costs[name]))))
fm, mm = [statistics.median(x.values()) for x in (f, m)] if f and m else (0, 0)
if mm > 0:
    print("ratio of the medians (Prosody FORWARD / module): %.1fx" % (fm / mm))
if ratios:
    print("FORWARD / module cost ratio (Prosody), per round: median %.1fx, min %.1fx, max %.1fx "
          "(%d rounds; rounds where the module's paired difference was <= 0: %d)" % (
              statistics.median(ratios), min(ratios), max(ratios), len(ratios),
              sum(1 for r in m if m[r] <= 0)))
print("%d flood messages per run (%s flooders x %s), one room; load average (1 min) over the "
      "runs: median %.1f, min %.1f, max %.1f" % (n, sys.argv[2], sys.argv[3],
                                                  statistics.median(loads), min(loads), max(loads)))
PY
