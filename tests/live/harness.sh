# tests/live/harness.sh - base of the shell integration tests, sourced after
# setting name (the ctest name, prefixes every message). tests/live/*.sh source
# it directly; tests/reporter/harness.sh builds the Prosody harness on it.
# It creates a scratch dir ($work); on exit it stops every process in $pids
# (the test's own, by pid: call forget_pid once the test has waited for one),
# runs harness_exit_hook STATUS if the sourcing script defined it, removes
# $work on success or skip (exit 0 or 77; unless SW_KEEP is set) and on
# failure keeps it and shows the tail of $work/*.err and $work/*.log.
# Provides: say, fail, skip, forget_pid, count, wait_for, free_port; $py,
# $work, $pids; for the tests of `stanzawatch run` ($sw, $work/sw.yaml):
# start_sw, stop_sw, tapline, num, has, flood_and_spam, kill_restart_sw,
# flood_again, stall_sw, echoed_all; $swpid, $tap_name, $tap_sock.
py=/usr/bin/python3
work=$(mktemp -d "${TMPDIR:-/tmp}/sw-$name.XXXXXX")
pids=()

say() { printf '%s: %s\n' "$name" "$*" >&2; }
harness_cleanup() {
	local st=$?
	# SIGCONT after SIGTERM: a process the test stopped (SIGSTOP) must not hang the wait
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; kill -CONT "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	if declare -F harness_exit_hook >/dev/null; then harness_exit_hook "$st"; fi
	if [ "$st" = 0 ] || [ "$st" = 77 ]; then
		[ -n "${SW_KEEP:-}" ] || rm -rf -- "$work"
	else
		say "FAILED; scratch kept in $work"
		tail -n 30 "$work"/*.err "$work"/*.log >&2 2>/dev/null || true
	fi
}
trap harness_cleanup EXIT
fail() { say "FAIL: $*"; exit 1; }
skip() { say "$*: skipping"; exit 77; }
forget_pid() { # drop $1 from pids
	local keep=() p
	for p in "${pids[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
	pids=("${keep[@]}")
}
count() { grep -c -- "$1" "$2" 2>/dev/null || true; }
wait_for() { # wait_for SECONDS 'shell condition': poll until it holds (re-evaluated)
	local t=$1; shift
	for _ in $(seq 1 $((t * 10))); do
		eval "$1" && return 0
		sleep 0.1
	done
	return 1
}
free_port() { # a TCP port free on 127.0.0.1 right now
	"$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# ---- `stanzawatch run` under test: $sw the binary, config $work/sw.yaml ----
# $tap_name: the tap whose stats tapline reads; $tap_sock (if set): the socket
# tap's path, which start_sw waits for.
swpid=""
tap_name=""
tap_sock=""
ej_start() { # ej_start [extra code dirs]: ejabberd ($ej) with $work/ejabberd.yml, db in $work/db;
	# sets $ejpid; returns 1 unless it accepts TCP connections within 30 s
	local pa=() d
	for d in "$@"; do pa+=(-pa "$d"); done
	: >"$work/ejabberd.log"
	erl -noinput -noshell -pa "$ej/ebin" "${pa[@]}" -mnesia dir "\"$work/db\"" \
		-ejabberd config "\"$work/ejabberd.yml\"" log_path "\"$work/ejabberd.log\"" \
		-s ejabberd >"$work/erl.out" 2>&1 &
	ejpid=$!
	pids+=("$ejpid")
	for _ in $(seq 1 300); do
		grep -q "Start accepting TCP connections" "$work/ejabberd.log" 2>/dev/null && return 0
		kill -0 "$ejpid" 2>/dev/null || break
		sleep 0.1
	done
	return 1
}
ej_stop() { # SIGTERM, then SIGKILL after 10 s
	kill -TERM "$ejpid" 2>/dev/null || true
	for _ in $(seq 1 100); do kill -0 "$ejpid" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$ejpid" 2>/dev/null || true
	wait "$ejpid" 2>/dev/null || true
	forget_pid "$ejpid"
	ejpid=""
}
start_sw() { # start_sw N: incidents in inc.N.jsonl, log in run.N.err
	"$sw" run -c "$work/sw.yaml" --incidents "$work/inc.$1.jsonl" 2>"$work/run.$1.err" &
	swpid=$!
	pids+=("$swpid")
	if [ -n "$tap_sock" ]; then
		for _ in $(seq 1 100); do [ -S "$tap_sock" ] && break; sleep 0.05; done
		[ -S "$tap_sock" ] || fail "tap socket not created"
	fi
}
stop_sw() { # SIGTERM: drain and exit 0
	kill -TERM "$swpid"
	wait "$swpid" || fail "run exited $? after SIGTERM"
	forget_pid "$swpid"
	swpid=""
}
tapline() { # tapline N: the stats line of tap $tap_name in run.N.err
	grep "^tap $tap_name " "$work/run.$1.err" || fail "no tap stats in run.$1.err"
}
num() { sed -n "s/.*[ (]\([0-9][0-9]*\) $1.*/\1/p" <<<"$2"; } # num LABEL LINE: the count before LABEL
has() { # has FILE KIND OFFENDER: an opened incident of KIND against OFFENDER
	"$py" -c 'import json,sys; sys.exit(0 if any(j["kind"]==sys.argv[2] and j["offender"]==sys.argv[3] and j["status"]=="open" for j in map(json.loads, open(sys.argv[1]))) else 1)' "$@"
}
kill_restart_sw() { # kill_restart_sw N OUT: under a steady client load (${drv[@]} steady, its
	# report in OUT) SIGKILL the run and start it again as run N; returns when the load is over
	local ready="$2.ready"
	rm -f "$ready"
	"${drv[@]}" steady --users 2 --rate 25 --seconds 8 --ready-file "$ready" >"$2" 2>>"$work/drv.err" &
	local dpid=$!
	pids+=("$dpid")
	# 1 s into the sending (a fixed delay from the start may still be in the logins under load)
	wait_for 60 '[ -s "$ready" ] || ! kill -0 "$dpid" 2>/dev/null' || fail "steady clients did not join"
	[ -s "$ready" ] || fail "steady driver failed before sending: $(tail -2 "$work/drv.err")"
	sleep 1
	kill -KILL "$swpid"
	wait "$swpid" 2>/dev/null || true
	forget_pid "$swpid"
	sleep 2
	start_sw "$1"
	wait "$dpid" || fail "steady driver failed"
	forget_pid "$dpid"
}
flood_again() { # flood_again N OUT: after a server restart, a flood (again1, room flood2) is
	# caught by run N, which is stopped, and its tap saw 150 + 3 messages each once
	"${drv[@]}" muc-flood --room flood2 --prefix again --flooders 1 --messages 150 --others 1 \
		>"$2" 2>>"$work/drv.err" || fail "second flood failed"
	sleep 0.5
	stop_sw
	has "$work/inc.$1.jsonl" muc-flood again1@a.test || fail "flood after the server restart not caught"
	local t
	t=$(tapline "$1")
	[ "$(num message "$t")" = 153 ] || fail "expected 150 + 3 messages exactly once: $t"
}
stall_sw() { # stall_sw LOAD AFTER: a padded steady load (report in LOAD) while the run is
	# SIGSTOPped, then SIGCONT and a short load (AFTER) whose sequence numbers reveal what the
	# server module dropped; the run is stopped
	"${drv[@]}" steady --room slow --prefix slow --users 2 --rate 40 --seconds 6 --pad 3000 \
		>"$1" 2>>"$work/drv.err" &
	local dpid=$!
	pids+=("$dpid")
	sleep 1
	kill -STOP "$swpid"
	wait "$dpid" || fail "steady driver failed while stanzawatch was stopped"
	forget_pid "$dpid"
	kill -CONT "$swpid"
	"${drv[@]}" steady --room slow --prefix after --users 1 --rate 10 --seconds 1 \
		>"$2" 2>>"$work/drv.err" || fail "driver after SIGCONT failed"
	sleep 0.5
	stop_sw
}
echoed_all() { # echoed_all LOAD: every message of the load came back, none more than 3 s late
	"$py" -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if d["echoed"]==d["sent"] and d["echo_lag_s"]<3 else 1)' "$1"
}
flood_and_spam() { # flood_and_spam N: a subscription burst (spammer1, report d2.json), then a
	# room flood (flooder1/2, d1.json); run N is stopped and must have opened all three
	"${drv[@]}" sub-spam --targets 60 >"$work/d2.json" 2>>"$work/drv.err" || fail "sub-spam driver failed"
	# the spammer falls silent and nobody answers it: stream time (arrival time)
	# moves past its 2 s grace only with other people's traffic (the flood), and
	# it must be reported then, not on a stanza of its own
	sleep 2.5
	"${drv[@]}" muc-flood --flooders 2 --messages 150 --others 2 >"$work/d1.json" 2>>"$work/drv.err" ||
		fail "muc-flood driver failed: $(tail -2 "$work/drv.err")"
	sleep 0.5
	stop_sw
	has "$work/inc.$1.jsonl" muc-flood flooder1@a.test || fail "flooder1 not caught: $(cat "$work/inc.$1.jsonl")"
	has "$work/inc.$1.jsonl" muc-flood flooder2@a.test || fail "flooder2 not caught"
	has "$work/inc.$1.jsonl" subscription-spam spammer1@a.test || fail "spammer1 not caught"
}
