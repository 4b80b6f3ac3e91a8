#!/usr/bin/env bash
# engine.mmap_replay: a regular capture given by path is replayed from a map
# of the file (engine/capmap.c), anything else with read(). Checks:
#  - the same output mapped and read (a pipe via <(cat), stdin): incidents
#    cmp-identical, stats counters equal, several captures in a row;
#  - an empty file, one under a page, one whose size is a page multiple and
#    one that is not (no byte past the end is read): same as read(); a
#    regular file mmap refuses (sysfs, ENODEV) is read();
#  - a capture truncated while being replayed (SW_DEBUG_TAP_STOP_AT stops
#    the process at the view covering that byte; the test truncates the file
#    and lets it go on): once inside the view being split (the SIGBUS path:
#    zero pages, the flag) and once past it (the size check before the next
#    view). No crash; exit 1 with "FILE: shrank to N bytes while being read";
#    stats "truncated":1; the incidents of what came before equal those of
#    replaying the cut file through a pipe (which ends mid-stanza, exit 1).
# usage: mmap_replay_test.sh STANZAWATCH SWGEN SOURCE_DIR WORK_DIR
set -euo pipefail
sw=$1
swgen=$2
src=$3
work=$4
fail() { printf 'engine.mmap_replay: FAIL: %s\n' "$*" >&2; exit 1; }
rm -rf "$work"
mkdir -p "$work"
cfg=$src/configs/stanzawatch.yaml
cap=$work/g.xml
"$swgen" --seed 7 --stanzas 30000 -o "$cap" 2>/dev/null
# counters of a stats JSON, without timings and the capture names
counters() {
	python3 -c '
import json, sys
def flat(o, p=""):
    if isinstance(o, dict):
        for k, v in o.items():
            yield from flat(v, p + "." + k)
    elif isinstance(o, list):
        for i, v in enumerate(o):
            yield from flat(v, "%s[%d]" % (p, i))
    elif isinstance(o, int) and not isinstance(o, bool):
        if not any(s in p for s in ("wall_s", "per_s", "queue_waits", "mb", "mem")):
            print(p, o)
' <"$1"
}
# replay NAME EXPECTED_RC ARGS...: output in $work/NAME.{inc,json,err}
replay() {
	local name=$1 want=$2 rc=0
	shift 2
	"$sw" replay -c "$cfg" -t 2 -p 2 --no-progress --incidents "$work/$name.inc" \
		-s "$work/$name.json" "$@" 2>"$work/$name.err" || rc=$?
	[ "$rc" = "$want" ] || fail "$name: exit $rc, expected $want: $(tail -5 "$work/$name.err")"
	! grep -qiE 'sanitizer|bus error|segmentation' "$work/$name.err" ||
		fail "$name: $(cat "$work/$name.err")"
}
same() { # same A B: A (mapped) and B (read) agree
	cmp "$work/$1.inc" "$work/$2.inc" || fail "$1: incidents differ from $2"
	[ "$(counters "$work/$1.json")" = "$(counters "$work/$2.json")" ] ||
		fail "$1: stats differ from $2: $(diff <(counters "$work/$1.json") <(counters "$work/$2.json"))"
}

# 1. mapped vs pipe vs stdin; several captures in a row
replay map 0 "$cap"
[ -s "$work/map.inc" ] || fail "no incidents from the generated capture"
replay pipe 0 <(cat "$cap")
same map pipe
replay stdin 0 - <"$cap"
same map stdin
small=$src/tests/data/captures/e2e/msg_spam.xml
replay map3 0 "$cap" "$small" "$cap"
replay pipe3 0 <(cat "$cap") <(cat "$small") <(cat "$cap")
same map3 pipe3
replay mix 0 "$small" - "$cap" <"$cap" # mapped, read(), mapped
replay mix_pipe 0 <(cat "$small") <(cat "$cap") <(cat "$cap")
same mix mix_pipe

# 2. sizes: empty, under a page, a page multiple, not a multiple
: >"$work/empty.xml"
replay empty_map 1 "$work/empty.xml" # "no stream header", as read() says
grep -qF "$work/empty.xml:1:1: no stream header" "$work/empty_map.err" || fail "empty: $(cat "$work/empty_map.err")"
replay empty_pipe 1 <(cat "$work/empty.xml")
same empty_map empty_pipe
head -c 3000 "$small" | sed -n '1,/<\/message>/p' >"$work/tiny.xml"
[ "$(stat -c %s "$work/tiny.xml")" -lt 4096 ] || fail "tiny.xml is not under a page"
replay tiny_map 0 "$work/tiny.xml"
replay tiny_pipe 0 <(cat "$work/tiny.xml")
same tiny_map tiny_pipe
pg=$(getconf PAGESIZE)
sz=$(stat -c %s "$small")
for pad in $(((sz + pg - 1) / pg * pg - sz)) $(((sz + pg - 1) / pg * pg - sz + 1)); do
	{ cat "$small"; head -c "$pad" /dev/zero | tr '\0' '\n'; } >"$work/pad.xml"
	replay pad_map 0 "$work/pad.xml"
	replay pad_pipe 0 <(cat "$work/pad.xml")
	same pad_map pad_pipe
done
[ $(($(stat -c %s "$work/pad.xml") % pg)) = 1 ] || fail "pad.xml is not a page multiple + 1"

# a regular file that cannot be mapped (sysfs: ENODEV) falls back to read()
thp=/sys/kernel/mm/transparent_hugepage/enabled
if [ -r "$thp" ] && [ -f "$thp" ]; then
	replay nomap 1 "$thp"
	grep -qF "$thp:1:1: text before the stream header" "$work/nomap.err" ||
		fail "nomap: not read(): $(grep -v '^ ' "$work/nomap.err")"
fi

# 3. truncated while being replayed: STOP_AT byte, cut at CUT
truncated() {
	local name=$1 stop=$2 cut=$3 pid rc=0 i
	cp "$cap" "$work/$name.xml"
	SW_DEBUG_TAP_STOP_AT=$stop "$sw" replay -c "$cfg" -t 2 -p 2 --no-progress \
		--incidents "$work/$name.inc" -s "$work/$name.json" "$work/$name.xml" \
		2>"$work/$name.err" &
	pid=$!
	for i in $(seq 600); do
		grep -q '^State:.*T' "/proc/$pid/status" 2>/dev/null && break
		sleep 0.05
	done
	grep -q '^State:.*T' "/proc/$pid/status" || fail "$name: never stopped at byte $stop"
	truncate -s "$cut" "$work/$name.xml"
	kill -CONT "$pid"
	wait "$pid" || rc=$?
	[ "$rc" = 1 ] || fail "$name: exit $rc, expected 1: $(tail -5 "$work/$name.err")"
	! grep -qiE 'sanitizer|bus error|segmentation' "$work/$name.err" ||
		fail "$name: $(cat "$work/$name.err")"
	grep -qF "$work/$name.xml: shrank to $cut bytes while being read" "$work/$name.err" ||
		fail "$name: no 'shrank' error: $(tail -5 "$work/$name.err")"
	grep -q '"truncated":1,' "$work/$name.json" || fail "$name: not counted: $(cat "$work/$name.json")"
	if [ "$name" = sigbus ]; then
		grep -q 'SIGBUS past its end' "$work/$name.err" || fail "$name: the SIGBUS path was not taken"
	else
		! grep -q 'SIGBUS' "$work/$name.err" || fail "$name: a SIGBUS where the size check should stop"
	fi
	# what was read before: as if the capture had ended there (read(), mid-stanza)
	head -c "$cut" "$cap" >"$work/$name.cut.xml"
	rc=0
	"$sw" replay -c "$cfg" -t 2 -p 2 --no-progress --incidents "$work/$name.ref.inc" \
		-s "$work/$name.ref.json" <(cat "$work/$name.cut.xml") 2>"$work/$name.ref.err" || rc=$?
	[ "$rc" = 1 ] || fail "$name: reference exit $rc: $(tail -3 "$work/$name.ref.err")"
	[ -s "$work/$name.inc" ] || fail "$name: no incidents before the cut"
	cmp "$work/$name.inc" "$work/$name.ref.inc" || fail "$name: incidents differ from the cut file's"
	[ "$(counters "$work/$name.json" | grep -v '^.truncated ')" = "$(counters "$work/$name.ref.json")" ] ||
		fail "$name: stats differ from the cut file's: $(diff <(counters "$work/$name.json") <(counters "$work/$name.ref.json"))"
}
mb=1048576
truncated sigbus $((5 * mb + 1000)) $((5 * mb + 3333)) # inside the view being split
truncated size $((5 * mb + 1000)) $((7 * mb + 3333))   # past it: the next view's size check
echo "engine.mmap_replay: ok"
