# tests/reporter/harness.sh - shared harness of the XMPP integration tests
# (prosody_test.sh, replay_live_test.sh, ...), sourced after setting:
#   name  the ctest name, prefixes every message
#   src   the source directory
# On top of tests/live/harness.sh (scratch dir $work, processes stopped by pid
# on exit; say, fail, forget_pid, count, wait_for, free_port, $py) it starts
# the project's Prosody on loopback (deploy/prosody, its env sourced:
# SW_PROSODY_*) and stops it on exit. A missing prosody or slixmpp skips the
# test (exit 77). Provides also: start_peer, stop_peer, spool_files,
# reporter_yaml, and $peer_py, $pdir, $port, $spool, $peer_pid. Set
# prosody_extra to more Prosody configuration (deploy/prosody/start.sh's
# SW_PROSODY_EXTRA, with @DIR@ and @SRC@); it is kept as $work/extra.cfg.
# shellcheck source=../live/harness.sh
. "$src/tests/live/harness.sh"
peer_py="$src/tests/reporter/peer.py"
pdir=""
peer_pid=""

harness_exit_hook() { # STATUS: stop Prosody; its dir goes with $work on success
	if [ -n "$pdir" ]; then "$src/deploy/prosody/stop.sh" "$pdir" || true; fi
	if [ "$1" = 0 ] || [ "$1" = 77 ]; then
		[ -n "${SW_KEEP:-}" ] || [ -z "$pdir" ] || rm -rf -- "$pdir"
	else
		say "prosody dir $pdir"
		tail -n 20 "$pdir/prosody.log" >&2 2>/dev/null || true
	fi
}

command -v prosody >/dev/null || { say "prosody not installed: skipping"; exit 77; }
"$py" -c 'import slixmpp' 2>/dev/null || { say "python3-slixmpp missing: skipping"; exit 77; }

if [ -n "${prosody_extra:-}" ]; then # kept in $work: a restart (start.sh) reads it again
	printf '%s\n' "$prosody_extra" >"$work/extra.cfg"
	export SW_PROSODY_EXTRA="$work/extra.cfg"
fi
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
