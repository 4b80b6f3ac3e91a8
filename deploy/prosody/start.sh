#!/usr/bin/env bash
# Start a private Prosody for stanzawatch's reporter tests on 127.0.0.1.
#
# Usage:  eval "$(deploy/prosody/start.sh)"     # exports SW_PROSODY_* lines
#         SW_PROSODY_DIR=/scratch deploy/prosody/start.sh
#
# Everything (config, data, pid file, log) lives in $SW_PROSODY_DIR (a new
# mktemp -d directory when unset). Ports are free ones chosen by the kernel
# unless SW_PROSODY_C2S_PORT / SW_PROSODY_COMPONENT_PORT are given. Progress
# goes to stderr, `export NAME=value` lines to stdout (also in DIR/env).
# Stop with deploy/prosody/stop.sh DIR: only the pid in DIR's pid file is
# signalled, never anything by name.
#
# SW_PROSODY_EXTRA=FILE appends FILE (with @DIR@ and @SRC@, the source tree,
# filled in) to the generated config: the live tests load mod_stanzawatch or
# mod_firewall that way.
#
# Components: incidents.a.test (the engine), incidents.b.test (trusted peer),
# rogue.b.test (untrusted); secrets engine-secret / peer-secret / rogue-secret
# unless SW_PROSODY_{ENGINE,PEER,ROGUE}_SECRET are set.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
say() { printf 'sw-prosody: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

command -v prosody >/dev/null || die "prosody is not installed"
# another template with the same placeholders (+ @TEMPLATE_DIR@, its directory) may be given
template=$(cd "$(dirname "${SW_PROSODY_TEMPLATE:-$here/prosody.cfg.lua.in}")" && pwd)/$(basename "${SW_PROSODY_TEMPLATE:-prosody.cfg.lua.in}")
timeout=${SW_PROSODY_START_TIMEOUT:-20}
log_level=${SW_PROSODY_LOG_LEVEL:-info}
engine_secret=${SW_PROSODY_ENGINE_SECRET:-engine-secret}
peer_secret=${SW_PROSODY_PEER_SECRET:-peer-secret}
rogue_secret=${SW_PROSODY_ROGUE_SECRET:-rogue-secret}
for s in "$engine_secret" "$peer_secret" "$rogue_secret"; do
	[[ "$s" =~ ^[A-Za-z0-9._-]+$ ]] || die "secrets may only use [A-Za-z0-9._-]"
done
case "$log_level" in debug|info|warn|error) ;; *) die "bad SW_PROSODY_LOG_LEVEL";; esac

free_port() {  # ask the kernel for a free loopback port
	/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
c2s_port=${SW_PROSODY_C2S_PORT:-$(free_port)}
component_port=${SW_PROSODY_COMPONENT_PORT:-$(free_port)}
while [ "$component_port" = "$c2s_port" ]; do component_port=$(free_port); done

if [ -n "${SW_PROSODY_DIR:-}" ]; then
	mkdir -p "$SW_PROSODY_DIR"
	dir=$(cd "$SW_PROSODY_DIR" && pwd)
else
	dir=$(mktemp -d "${TMPDIR:-/tmp}/sw-prosody.XXXXXX")
	trap 'st=$?; [ "$st" = 0 ] || rm -rf -- "$dir"' EXIT
fi
config="$dir/prosody.cfg.lua"
pidfile="$dir/prosody.pid"
logfile="$dir/prosody.log"

ours() { [ -n "$1" ] && [ -r "/proc/$1/cmdline" ] && tr '\0' ' ' <"/proc/$1/cmdline" | grep -qF -- "$config"; }
if [ -s "$pidfile" ] && ours "$(tr -dc 0-9 <"$pidfile")"; then
	die "an instance already runs in $dir"
fi
rm -f "$pidfile"
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in "$c2s_port" "$component_port"; do
	port_open "$p" && die "127.0.0.1:$p is in use"
done

mkdir -p "$dir/data" "$dir/certs"
sed -e "s|@DIR@|$dir|g" -e "s|@C2S_PORT@|$c2s_port|g" -e "s|@COMPONENT_PORT@|$component_port|g" \
    -e "s|@ENGINE_SECRET@|$engine_secret|g" -e "s|@PEER_SECRET@|$peer_secret|g" \
    -e "s|@ROGUE_SECRET@|$rogue_secret|g" -e "s|@LOG_LEVEL@|$log_level|g" \
    -e "s|@TEMPLATE_DIR@|$(dirname "$template")|g" "$template" >"$config"
if [ -n "${SW_PROSODY_EXTRA:-}" ]; then
	# extra config (the live tests: plugin_paths, mod_stanzawatch, mod_firewall),
	# appended with the same placeholders filled in
	[ -r "$SW_PROSODY_EXTRA" ] || die "SW_PROSODY_EXTRA: cannot read $SW_PROSODY_EXTRA"
	sed -e "s|@DIR@|$dir|g" -e "s|@SRC@|$(cd "$here/../.." && pwd)|g" "$SW_PROSODY_EXTRA" >>"$config"
fi
grep -q '@[A-Z_]*@' "$config" && die "unsubstituted placeholder in $config"

: >"$logfile"
setsid prosody --config "$config" -F >"$dir/prosody.stdout" 2>&1 </dev/null &
pid=$!
echo "$pid" >"$dir/starter.pid"

fail() {
	kill "$pid" 2>/dev/null || true
	say "error: $*"; tail -n 30 "$logfile" "$dir/prosody.stdout" >&2 || true
	exit 1
}
deadline=$((SECONDS + timeout))
until port_open "$c2s_port" && port_open "$component_port" && [ -s "$pidfile" ]; do
	if ! kill -0 "$pid" 2>/dev/null; then
		# setsid may have forked: then the pid file names the server
		if [ -s "$pidfile" ] && ours "$(cat "$pidfile")"; then pid=$(cat "$pidfile"); else fail "prosody exited"; fi
	fi
	grep -q 'Failed to open server port' "$logfile" && fail "prosody could not bind a port"
	[ "$SECONDS" -lt "$deadline" ] || fail "ports not open after ${timeout}s"
	sleep 0.1
done
pid=$(cat "$pidfile")
ours "$pid" || fail "pid file names $pid, which is not our prosody"
rm -f "$dir/starter.pid"
say "prosody pid $pid, c2s 127.0.0.1:$c2s_port, components 127.0.0.1:$component_port, dir $dir"
cat >"$dir/env" <<ENV
export SW_PROSODY_DIR='$dir'
export SW_PROSODY_PID='$pid'
export SW_PROSODY_C2S_PORT='$c2s_port'
export SW_PROSODY_COMPONENT_PORT='$component_port'
export SW_PROSODY_ENGINE_SECRET='$engine_secret'
export SW_PROSODY_PEER_SECRET='$peer_secret'
export SW_PROSODY_ROGUE_SECRET='$rogue_secret'
ENV
cat "$dir/env"
