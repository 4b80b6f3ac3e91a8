#!/usr/bin/env bash
# bench/prosody_hook_bench.sh STANZAWATCH [ROUNDS] [STANZAS] [MODULE_FILE]
#
# Server CPU per mirrored stanza measured inside one real Prosody, without
# clients: bench/mod_stanzawatch_bench.lua fires the same three client
# stanzas (a groupchat flood message, a chat message with receipts/markers/
# origin-id/chat state, a presence with caps, vCard hash, show, status,
# priority) as pre-* events on three hosts in turn, ROUNDS rounds of STANZAS
# per host (host order rotated each round):
#   a.test  MODULE_FILE (default deploy/prosody/mod_stanzawatch.lua) -> a real
#           `stanzawatch run` socket tap
#   c.test  mod_firewall FORWARD (deploy/prosody/mirror.pfw for c.test) -> the
#           same stanzawatch's component tap
#   b.test  neither (baseline)
# Each host's window (firing in chunks of 50 from 5 ms timers, plus 0.2 s for
# the batched writes and routing to finish) is the Prosody process's CPU
# (os.clock). Per round: cost = (CPU(host) - CPU(b.test)) / STANZAS, paired;
# printed as median (min to max) over the rounds, and the FORWARD / module
# ratio per round. The stanzas each tap received are checked (nothing lost).
# MODULE_FILE lets the same bench run an older module (e.g. from git show).
# Loopback only; every process it starts is stopped by pid.
set -euo pipefail
sw=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
rounds=${2:-20}
stanzas=${3:-2000}
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
modfile=$(realpath "${4:-$src/deploy/prosody/mod_stanzawatch.lua}")
py=/usr/bin/python3
work=$(mktemp -d "${TMPDIR:-/tmp}/sw-hookbench.XXXXXX")
swpid=""
pdir=""
cleanup() {
	[ -z "$swpid" ] || { kill "$swpid" 2>/dev/null || true; wait "$swpid" 2>/dev/null || true; }
	[ -z "$pdir" ] || "$src/deploy/prosody/stop.sh" "$pdir" >/dev/null 2>&1 || true
	[ -n "${SW_KEEP:-}" ] || rm -rf -- "$work"
}
trap cleanup EXIT
say() { printf 'hookbench: %s\n' "$*" >&2; }

mkdir -p "$work/mod"
cp "$modfile" "$work/mod/mod_stanzawatch.lua"
sed -e 's/a\.test/c.test/g' "$src/deploy/prosody/mirror.pfw" >"$work/c.pfw"
cat >"$work/stanzas.xml" <<'XML'
<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>
<message from='flooder1@@HOST@/slix' to='bench@rooms.@HOST@' type='groupchat' id='6f1c2e0a9b' xml:lang='en'><body>flood 1234 from flooder1: buy cheap followers now</body></message>
<message from='alice@@HOST@/Conversations.x7Yz' to='bob@@HOST@' type='chat' id='3f2b1e4c-7a8d-4e2f-9b1c-0d5e6f7a8b9c' xml:lang='en'><body>see you at the station in 10 min?</body><request xmlns='urn:xmpp:receipts'/><markable xmlns='urn:xmpp:chat-markers:0'/><origin-id xmlns='urn:xmpp:sid:0' id='3f2b1e4c-7a8d-4e2f-9b1c-0d5e6f7a8b9c'/><active xmlns='http://jabber.org/protocol/chatstates'/></message>
<presence from='alice@@HOST@/Conversations.x7Yz' to='bob@@HOST@' id='p7Hk2' xml:lang='en'><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='http://conversations.im' ver='zVzZ0PnJ2s2Xw5gqO7o5oRj8y0s='/><x xmlns='vcard-temp:x:update'><photo>6b8d7e0f3a2c1b9e8d7f6a5b4c3d2e1f0a9b8c7d</photo></x><show>away</show><status>in a meeting</status><priority>0</priority></presence>
</stream:stream>
XML
cat >"$work/extra.cfg" <<CFG
Host "*"
plugin_paths = { "$work/mod", "@SRC@/bench" }
stanzawatch_socket = "unix:@DIR@/tap.sock"
swbench_file = "$work/stanzas.xml"
swbench_rounds = $rounds
swbench_stanzas = $stanzas
swbench_start_after = 4
VirtualHost "a.test"
	modules_enabled = { "stanzawatch" }
VirtualHost "b.test"
	modules_enabled = { "stanzawatch_bench" }
VirtualHost "c.test"
	modules_enabled = { "firewall" }
	firewall_scripts = { "$work/c.pfw" }
Component "watch.c.test"
	component_secret = "watch-secret"
CFG
SW_PROSODY_DIR="$work/p" SW_PROSODY_EXTRA="$work/extra.cfg" SW_PROSODY_LOG_LEVEL=info \
	"$src/deploy/prosody/start.sh" >"$work/penv" 2>/dev/null
pdir="$work/p"
# shellcheck disable=SC1091
. "$work/penv"
printf 'taps:\n  - {type: socket, name: mod, listen: "unix:%s/tap.sock"}\n  - {type: component, name: fwd, address: "127.0.0.1:%s", jid: watch.c.test, secret: watch-secret}\n' \
	"$pdir" "$SW_PROSODY_COMPONENT_PORT" >"$work/sw.yaml"
"$sw" run -c "$work/sw.yaml" --incidents /dev/null 2>"$work/sw.err" &
swpid=$!
say "load average $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores; module $modfile"
for _ in $(seq 1 $((150 + rounds * 40))); do
	grep -q "swbench: done" "$pdir/prosody.log" 2>/dev/null && break
	sleep 0.2
done
grep -q "swbench: done" "$pdir/prosody.log" || { tail -20 "$pdir/prosody.log" >&2; say "FAIL: bench did not finish"; exit 1; }
grep -q "stanzawatch: connected to" "$pdir/prosody.log" || { say "FAIL: module never connected"; exit 1; }
la1=$(cut -d' ' -f1 /proc/loadavg)
kill -TERM "$swpid"
wait "$swpid" || true
swpid=""
grep '^tap ' "$work/sw.err" >&2 || true
mod_got=$(sed -n 's/^tap mod (socket): .* bytes, \([0-9]*\) stanzas.*/\1/p' "$work/sw.err")
fwd_got=$(sed -n 's/^tap fwd (component): .* bytes, \([0-9]*\) stanzas.*/\1/p' "$work/sw.err")
"$py" - "$pdir/prosody.log" "$rounds" "$stanzas" "${mod_got:-0}" "${fwd_got:-0}" "$la1" <<'PY'
import re, statistics, sys
log, rounds, n, mod_got, fwd_got, la1 = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
cpu = {}
for l in open(log):
    m = re.search(r"swbench: round (\d+) host (\S+) stanzas (\d+) cpu_s ([0-9.]+)", l)
    if m:
        cpu[(int(m.group(1)), m.group(2))] = float(m.group(4))
rs = sorted({r for r, _ in cpu})
def spread(v):
    return "%.2f us (%.2f to %.2f)" % (statistics.median(v), min(v), max(v))
base = [cpu[(r, "b.test")] / n * 1e6 for r in rs]
mod = [(cpu[(r, "a.test")] - cpu[(r, "b.test")]) / n * 1e6 for r in rs]
fwd = [(cpu[(r, "c.test")] - cpu[(r, "b.test")]) / n * 1e6 for r in rs]
print("rounds %d x %d stanzas per host; load average at the end %s" % (len(rs), n, la1))
print("baseline window (dispatch + stopper + idle loop) per stanza: %s" % spread(base))
print("mod_stanzawatch.lua, extra server CPU per mirrored stanza: %s" % spread(mod))
print("mod_firewall FORWARD, extra server CPU per mirrored stanza: %s" % spread(fwd))
ratios = [f / m for f, m in zip(fwd, mod) if m > 0]
if ratios:
    print("FORWARD / module per round: median %.1fx (%.1fx to %.1fx); ratio of the medians %.1fx" % (
        statistics.median(ratios), min(ratios), max(ratios), statistics.median(fwd) / statistics.median(mod)))
print("stanzas at the taps: socket %d, component %d (fired per mirror: %d)" % (mod_got, fwd_got, len(rs) * n))
if mod_got < len(rs) * n:
    print("FAIL: the socket tap got fewer stanzas than the module was given")
    sys.exit(1)
PY
