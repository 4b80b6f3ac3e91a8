#!/usr/bin/env bash
# Stop the Prosody started by deploy/prosody/start.sh in DIR (default
# $SW_PROSODY_DIR). Signals only the pid in DIR/prosody.pid, and only while
# that process's command line names DIR's config (SIGTERM, SIGKILL after 10 s).
# SW_PROSODY_KEEP=0 also deletes DIR.
set -euo pipefail
say() { printf 'sw-prosody: %s\n' "$*" >&2; }
dir=${1:-${SW_PROSODY_DIR:-}}
[ -n "$dir" ] && [ -d "$dir" ] || { say "usage: stop.sh DIR"; exit 1; }
dir=$(cd "$dir" && pwd)
config="$dir/prosody.cfg.lua"
pid=""
[ -s "$dir/prosody.pid" ] && pid=$(tr -dc 0-9 <"$dir/prosody.pid")
ours() { [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$config"; }
if ours; then
	kill -TERM "$pid"
	for _ in $(seq 1 100); do ours || break; sleep 0.1; done
	if ours; then say "pid $pid ignored SIGTERM, sending SIGKILL"; kill -KILL "$pid" || true; fi
	say "stopped prosody pid $pid"
else
	say "no running instance in $dir"
fi
rm -f "$dir/prosody.pid"
if [ "${SW_PROSODY_KEEP:-1}" = 0 ]; then rm -rf -- "$dir"; fi
