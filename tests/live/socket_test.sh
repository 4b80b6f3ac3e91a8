#!/usr/bin/env bash
# live.socket: `stanzawatch run` with two socket taps (unix and TCP on a free
# loopback port), no XMPP server. The captures are all mirror copies (swgen
# --mirror-fraction 1): a live tap dates events by the mirror wrapper's
# stamp, never by a stamp on a plain stanza (its sender wrote that), so only
# such captures replay and stream alike. Capture A goes as a plain stream in 64 KB
# pieces over the unix socket, then capture B (later stamps) as <w n t>
# records (with a sequence gap and a module drop count) over TCP: the
# incidents (kind, offender, status) must equal `stanzawatch replay A B`.
# Then A again on both at once, with text between some stanzas (several
# connections into one pipeline: every stanza counted, none dropped, the junk
# reported and skipped), a junk peer, a hung peer (idle timeout) and
# one connection too many. SIGTERM must drain and exit 0, removing the pid
# file and the socket; the counters must show the gap, the module's drops,
# the junk, the idle closes and the refusal.
# usage: socket_test.sh STANZAWATCH SWGEN
set -euo pipefail
sw=$1
swgen=$2
name=live.socket
# shellcheck source=harness.sh
. "$(dirname "$0")/harness.sh"
swpid=""
port=$(free_port)

"$swgen" --seed 3 --stanzas 20000 --scenarios muc-flood:2,sub-burst:1 --benign none --mirror-fraction 1 \
	-o "$work/cap.xml" 2>/dev/null
"$swgen" --seed 5 --stanzas 20000 --scenarios muc-flood:1,presence-churn:1 --benign none --mirror-fraction 1 \
	--start 2026-01-05T12:30:00Z -o "$work/cap2.xml" 2>/dev/null
"$sw" replay -q --incidents "$work/replay.jsonl" "$work/cap.xml" "$work/cap2.xml"

cat >"$work/sw.yaml" <<YAML
taps:
  - type: socket
    name: unix
    listen: unix:$work/tap.sock
    # room for both captures: a slow (sanitizer) build must not drop here
    queue: 64MB
  - type: socket
    name: tcp
    listen: 127.0.0.1:$port
    queue: 64MB
    max_connections: 2
    idle_timeout: 1s
YAML
start_run() { # start_run OUT ERR
	"$sw" run -c "$work/sw.yaml" --incidents "$1" --pid-file "$work/pid" 2>"$2" &
	swpid=$!
	pids+=("$swpid")
	for _ in $(seq 1 100); do [ -S "$work/tap.sock" ] && [ -s "$work/pid" ] && break; sleep 0.05; done
	[ -S "$work/tap.sock" ] || fail "unix socket not created"
}
stop_run() {
	kill -TERM "$swpid"
	wait "$swpid" || fail "run exited $? after SIGTERM"
	forget_pid "$swpid"
	swpid=""
	[ ! -e "$work/pid" ] || fail "pid file left behind"
	[ ! -e "$work/tap.sock" ] || fail "unix socket left behind"
}
start_run "$work/live1.jsonl" "$work/run1.err"

"$py" - "$work" "$port" <<'PY' || fail "feeder failed"
import socket, sys, threading, time
work, port = sys.argv[1], int(sys.argv[2])
hdr = b"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'"
def plain(path, delay=0):
    data = open(path, "rb").read()
    s = socket.socket(socket.AF_UNIX); s.connect(work + "/tap.sock")
    for i in range(0, len(data), 65536):   # in pieces: stanzas cut across reads
        s.sendall(data[i:i + 65536])
    time.sleep(delay)
    s.close()
def wrapped(path, gap=True):
    lines = [l for l in open(path, "rb").read().split(b"\n")[1:]
             if l.startswith(b"<") and not l.startswith(b"</stream")]
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(hdr + b" node='n1' dropped='7'>")
    out, n = [], 0
    for l in lines:
        n += 1
        if gap and n == 50:
            n += 3                          # three stanzas the module numbered but lost
        out.append(b"<w n='%d' t='%d'>%s</w>\n" % (n, int(time.time() * 1000), l))
    blob = b"".join(out)
    for i in range(0, len(blob), 7000):
        s.sendall(blob[i:i + 7000])
    time.sleep(0.5)
    s.close()
plain(work + "/cap.xml", 1.0)                 # A, processed before B starts
wrapped(work + "/cap2.xml")                   # B
PY
stop_run
"$py" - "$work" <<'PY' || fail "incidents differ from replay"
import json, sys
w = sys.argv[1]
key = lambda f: sorted((j["kind"], j["offender"], j["status"]) for j in map(json.loads, open(f)))
live, rep = key(w + "/live1.jsonl"), key(w + "/replay.jsonl")
if len(rep) < 6:
    sys.exit("replay gave only %d incident lines" % len(rep))
if live != rep:
    print("live", live, "\nreplay", rep, file=sys.stderr); sys.exit(1)
PY
t1=$(grep "^tap tcp " "$work/run1.err") || fail "no stats line for tap tcp"
echo "$t1" | grep -q " 3 gaps" || fail "gap not counted: $t1"
echo "$t1" | grep -q "7 dropped by the server module" || fail "module drops not reported: $t1"
say "phase 1 ok: $(wc -l <"$work/live1.jsonl") incident lines, same as replay A B"
start_run "$work/live.jsonl" "$work/run.err"
"$py" - "$work" "$port" <<'PY' || fail "feeder 2 failed"
import socket, sys, threading, time
work, port = sys.argv[1], int(sys.argv[2])
hdr = b"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'"
data = open(work + "/cap.xml", "rb").read()
# junk between stanzas (text after the first 3 top-level message ends) is
# skipped with the connection kept: every stanza must still be counted
data = data.replace(b"</message>\n", b"</message> stray & text\n", 3)
def send(s):
    for i in range(0, len(data), 50000):
        s.sendall(data[i:i + 50000])
    time.sleep(0.3); s.close()
u = socket.socket(socket.AF_UNIX); u.connect(work + "/tap.sock")
t = socket.create_connection(("127.0.0.1", port))
a = threading.Thread(target=send, args=(u,)); b = threading.Thread(target=send, args=(t,))
a.start(); b.start(); a.join(); b.join()
# junk, then a hung peer (header and half a stanza, then silence), then one too many
j = socket.create_connection(("127.0.0.1", port)); j.sendall(b"GET / HTTP/1.0\r\n\r\n"); time.sleep(0.3); j.close()
h = socket.create_connection(("127.0.0.1", port)); h.sendall(hdr + b"><message from='x@a.test/r' to='y@a.test'><bo")
k = socket.create_connection(("127.0.0.1", port)); time.sleep(0.3)
k2 = socket.create_connection(("127.0.0.1", port)); time.sleep(0.3)   # third: refused
time.sleep(2.5)                               # idle_timeout 1s closes h and k
k.close(); k2.close(); h.close()
PY
stop_run
line() { grep "^tap $1 " "$work/run.err" || fail "no stats line for tap $1"; }
u=$(line unix); t=$(line tcp)
na=$(grep -c '^<\(message\|presence\|iq\)' "$work/cap.xml" || true)
echo "$u" | grep -q " $na stanzas" || fail "unix tap: expected $na stanzas: $u"
echo "$t" | grep -q " $na stanzas" || fail "tcp tap: expected $na stanzas (the hung peer's half stanza is not one): $t"
echo "$t" | grep -q "1 closed on junk" || fail "junk peer not counted: $t"
nj=$(grep -c ': text at the top level of the stream: junk between stanzas skipped' "$work/run.err" || true)
[ "$nj" = 6 ] || fail "junk between stanzas: $nj reports, expected 6 (3 per connection)"
echo "$t" | grep -qE "[12] idle" || fail "hung peer not closed: $t"
echo "$t" | grep -q "1 refused" || fail "max_connections not enforced: $t"
echo "$u" | grep -q "0 dropped (queue full)" || fail "unexpected drops: $u"
say "phase 2 ok: two connections at once, every stanza counted; $t"
