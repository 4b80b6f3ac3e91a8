# tests/reporter/harness.sh - shared harness of the XMPP integration tests
# (prosody_test.sh, replay_live_test.sh), sourced after setting:
#   name  the ctest name, prefixes every message
#   src   the source directory
# It creates a scratch dir ($work), starts the project's Prosody on loopback
# (deploy/prosody, its env sourced: SW_PROSODY_*), and stops everything it and
# the test started on exit, by pid ($pids). A missing prosody or slixmpp skips
# the test (exit 77). Provides: say, fail, forget_pid, start_peer, stop_peer,
# spool_files, count, wait_for, reporter_yaml, and $py, $peer_py, $work, $pdir,
# $port, $spool, $peer_pid.
py=/usr/bin/python3
peer_py="$src/tests/reporter/peer.py"
work=$(mktemp -d "${TMPDIR:-/tmp}/sw-$name.XXXXXX")
pids=()
pdir=""
peer_pid=""

say() { printf '%s: %s\n' "$name" "$*" >&2; }
cleanup() {
	local st=$?
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	if [ -n "$pdir" ]; then "$src/deploy/prosody/stop.sh" "$pdir" || true; fi
	if [ "$st" = 0 ]; then
		[ -n "${SW_KEEP:-}" ] || rm -rf -- "$work" "$pdir"
	else
		say "FAILED; scratch kept in $work (prosody dir $pdir)"
		tail -n 20 "$pdir/prosody.log" "$work"/*.err >&2 2>/dev/null || true
	fi
}
trap cleanup EXIT
fail() { say "FAIL: $*"; exit 1; }
forget_pid() { # drop $1 from pids
	local keep=() p
	for p in "${pids[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
	pids=("${keep[@]}")
}

command -v prosody >/dev/null || { say "prosody not installed: skipping"; exit 77; }
"$py" -c 'import slixmpp' 2>/dev/null || { say "python3-slixmpp missing: skipping"; exit 77; }

SW_PROSODY_DIR="$work/prosody" "$src/deploy/prosody/start.sh" >"$work/env"
# shellcheck disable=SC1091
. "$work/env"
pdir=$SW_PROSODY_DIR
port=$SW_PROSODY_COMPONENT_PORT
spool="$work/spool"

start_peer() { # start_peer OUTFILE [extra args]: background trusted peer, waits until connected
	local out=$1; shift
	rm -f "$work/ready"
	"$py" "$peer_py" --jid incidents.b.test --secret "$SW_PROSODY_PEER_SECRET" --port "$port" \
		--out "$out" --ready-file "$work/ready" --max-seconds 200 "$@" 2>>"$work/peer.err" &
	peer_pid=$!
	pids+=("$peer_pid")
	for _ in $(seq 1 150); do
		[ -s "$work/ready" ] && return 0
		sleep 0.1
	done
	fail "peer did not connect"
}
stop_peer() {
	kill "$peer_pid" 2>/dev/null || true
	wait "$peer_pid" 2>/dev/null || true
	forget_pid "$peer_pid"
}
spool_files() { # records in the spool's batch files (spool.c format "R <seq> ...")
	find "$spool" -maxdepth 1 -name '*.spl' -exec cat {} + 2>/dev/null |
		grep -c '^R [0-9a-f]\{16\} [0-9a-f]\{16\} ' || true
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
# reporter_yaml FILE PEERS [EXTRA]: a stanzawatch config with the live reporter
# on, as component incidents.a.test of this Prosody; PEERS is the YAML flow list
# of reporter.peers, EXTRA (optional) more top-level YAML before it.
reporter_yaml() {
	cat >"$1" <<YAML
${3:-}
reporter:
  enabled: true
  domain: a.test
  admin_jid: admin@a.test
  mode: component
  component:
    jid: incidents.a.test
    secret: $SW_PROSODY_ENGINE_SECRET
    host: 127.0.0.1
    port: $SW_PROSODY_COMPONENT_PORT
  spool_dir: $work/spool
  inbound_dir: $work/inbound
  retry_min: 300ms
  retry_max: 2s
  ack_timeout: 3s
  peers: $2
YAML
}
