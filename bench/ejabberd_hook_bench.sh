#!/usr/bin/env bash
# bench/ejabberd_hook_bench.sh STANZAWATCH [ROUNDS] [STANZAS] [MODULE_FILE]
#
# Server CPU per mirrored stanza of deploy/ejabberd/mod_stanzawatch.erl,
# measured inside one private ejabberd 23.01 (Debian) on loopback, without
# clients: bench/ejabberd_hook_bench.erl runs a.test's user_send_packet hook
# fold over the same three client stanzas as bench/prosody_hook_bench.sh,
# alternating windows with the module's hook registered and removed (paired
# per round, order rotated), the module connected to a real `stanzawatch
# run` socket tap. Per round: cost = (CPU(on) - CPU(off)) / STANZAS, where
# CPU is every VM thread's schedstat time over the window (firing plus the
# writer's batches and sends); printed as median (min to max). ejabberd has
# no FORWARD rule to compare with. MODULE_FILE (default
# deploy/ejabberd/mod_stanzawatch.erl) lets it run an older module. Loopback only; every process it starts is
# stopped by pid. Exit 77 when ejabberd or erlc is missing.
set -euo pipefail
sw=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
rounds=${2:-20}
stanzas=${3:-2000}
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
modfile=$(realpath "${4:-$src/deploy/ejabberd/mod_stanzawatch.erl}")
py=/usr/bin/python3
ej=$(ls -d /usr/lib/x86_64-linux-gnu/ejabberd-*/ 2>/dev/null | head -1 || true)
xmpp_inc=$(ls -d /usr/lib/erlang/lib/p1_xmpp-*/include 2>/dev/null | head -1 || true)
if [ -z "$ej" ] || [ -z "$xmpp_inc" ] || ! command -v erlc >/dev/null; then
	echo "ejabberd_hook_bench: ejabberd or erlc not installed" >&2
	exit 77
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/sw-ejbench.XXXXXX")
swpid="" ejpid=""
cleanup() {
	[ -z "$ejpid" ] || { kill "$ejpid" 2>/dev/null || true; wait "$ejpid" 2>/dev/null || true; }
	[ -z "$swpid" ] || { kill "$swpid" 2>/dev/null || true; wait "$swpid" 2>/dev/null || true; }
	rm -rf -- "$work"
}
trap cleanup EXIT
say() { printf 'ejbench: %s\n' "$*" >&2; }
mkdir -p "$work/ebin" "$work/src"
cp "$modfile" "$work/src/mod_stanzawatch.erl"
erlc -I "$ej/include" -I "$xmpp_inc" -pa "$ej/ebin" -o "$work/ebin" \
	"$work/src/mod_stanzawatch.erl" "$src/bench/ejabberd_hook_bench.erl"
c2s=$("$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
{
	printf 'loglevel: warning\nhosts:\n  - a.test\n  - b.test\n'
	printf 'listen:\n  -\n    port: %s\n    ip: "127.0.0.1"\n    module: ejabberd_c2s\n' "$c2s"
	printf 'auth_method: internal\ns2s_access: none\nshaper_rules: {}\n'
	printf 'modules:\n  mod_stanzawatch:\n    socket: "unix:%s/tap.sock"\n' "$work"
} >"$work/ejabberd.yml"
printf 'taps:\n  - {type: socket, name: mod, listen: "unix:%s/tap.sock"}\n' "$work" >"$work/sw.yaml"
"$sw" run -c "$work/sw.yaml" --incidents /dev/null 2>"$work/sw.err" &
swpid=$!
sleep 0.3
say "load average $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores"
EJBENCH_ROUNDS=$rounds EJBENCH_STANZAS=$stanzas \
	erl -noinput -noshell -pa "$ej/ebin" -pa "$work/ebin" -mnesia dir "\"$work/db\"" \
	-ejabberd config "\"$work/ejabberd.yml\"" log_path "\"$work/ejabberd.log\"" \
	-s ejabberd -s ejabberd_hook_bench >"$work/erl.out" 2>&1 &
ejpid=$!
for _ in $(seq 1 $((300 + rounds * 40))); do
	grep -q "ejbench: done\|never connected" "$work/erl.out" 2>/dev/null && break
	sleep 0.2
done
grep -q "ejbench: done" "$work/erl.out" || { tail -20 "$work/erl.out" >&2; say "FAIL: bench did not finish"; exit 1; }
la1=$(cut -d' ' -f1 /proc/loadavg)
kill -TERM "$ejpid"; wait "$ejpid" 2>/dev/null || true; ejpid=""
kill -TERM "$swpid"; wait "$swpid" || true; swpid=""
grep '^tap ' "$work/sw.err" >&2 || true
got=$(sed -n 's/^tap mod (socket): .* bytes, \([0-9]*\) stanzas.*/\1/p' "$work/sw.err")
"$py" - "$work/erl.out" "$stanzas" "${got:-0}" "$la1" <<'PY'
import re, statistics, sys
out, n, got, la1 = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
cpu = {}
for l in open(out):
    m = re.search(r"ejbench: round (\d+) mode (on|off) stanzas \d+ cpu_s ([0-9.]+)", l)
    if m:
        cpu[(int(m.group(1)), m.group(2))] = float(m.group(3))
rs = sorted({r for r, _ in cpu if (r, "on") in cpu and (r, "off") in cpu})
cost = [(cpu[(r, "on")] - cpu[(r, "off")]) / n * 1e6 for r in rs]
base = [cpu[(r, "off")] / n * 1e6 for r in rs]
s = lambda v: "%.2f us (%.2f to %.2f)" % (statistics.median(v), min(v), max(v))
print("rounds %d x %d stanzas per window; load average at the end %s" % (len(rs), n, la1))
print("baseline window (hook fold without the module + idle VM) per stanza: %s" % s(base))
print("mod_stanzawatch.erl, extra server CPU per mirrored stanza: %s" % s(cost))
print("stanzas at the tap: %d (fired with the module: %d)" % (got, len(rs) * n))
if got < len(rs) * n:
    print("FAIL: the socket tap got fewer stanzas than the module was given")
    sys.exit(1)
PY
