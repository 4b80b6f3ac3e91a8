#!/usr/bin/env bash
# engine.junk_replay: junk between stanzas does not stop a replay. A capture
# with incidents (tests/data/captures/e2e/msg_spam.xml) gets junk glued after
# some stanzas on their own lines (so line numbers stay): top-level text, a
# stray close tag, CDATA, text with '&' and '>'. `stanzawatch replay` must
# report each as file:line:col, count it as malformed, exit 3, and still turn
# every stanza into an event: the incidents equal the clean capture's but for
# their id (derived from event sequence numbers, which count chunks, and junk
# ends a chunk) and the event count is the same.
# usage: junk_replay_test.sh STANZAWATCH SOURCE_DIR WORK_DIR
set -euo pipefail
sw=$1
src=$2
work=$3
fail() { printf 'engine.junk_replay: FAIL: %s\n' "$*" >&2; exit 1; }
mkdir -p "$work"
clean=$src/tests/data/captures/e2e/msg_spam.xml
junk=$work/junk.xml
# stanza lines are 3.. of the capture; junk after the stanzas on lines 4, 7, 10, 13
awk '{ printf "%s", $0
       if (NR == 4) printf "stray text"
       if (NR == 7) printf "</nope>"
       if (NR == 10) printf "<![CDATA[a<b]]>"
       if (NR == 13) printf "x & y > z"
       printf "\n" }' "$clean" >"$junk"
cfg=$src/configs/stanzawatch.yaml
"$sw" replay -c "$cfg" --no-progress -s "$work/clean.json" -o "$work/clean.jsonl" "$clean" \
	2>"$work/clean.err" || fail "clean capture: exit $?: $(cat "$work/clean.err")"
set +e
"$sw" replay -c "$cfg" --no-progress -s "$work/junk.json" -o "$work/junk.jsonl" "$junk" \
	2>"$work/junk.err"
rc=$?
set -e
[ "$rc" = 3 ] || fail "junk capture: exit $rc, expected 3: $(cat "$work/junk.err")"
[ -s "$work/clean.jsonl" ] || fail "no incidents from the clean capture"
noid() { sed 's/^{"id":"[^"]*",//' "$1"; }
[ "$(noid "$work/clean.jsonl")" = "$(noid "$work/junk.jsonl")" ] ||
	fail "incidents differ with junk between stanzas"
for want in "$junk:4:" "$junk:7:" "$junk:10:" "$junk:13:"; do
	grep -qF "$want" "$work/junk.err" || fail "no '$want' report: $(cat "$work/junk.err")"
done
grep -q 'junk.xml:7:[0-9]*: unbalanced close tag' "$work/junk.err" || fail "reason missing"
ev() { grep -o '"events":[0-9]*' "$1" | head -1; }
[ "$(ev "$work/clean.json")" = "$(ev "$work/junk.json")" ] ||
	fail "events: clean $(ev "$work/clean.json"), junk $(ev "$work/junk.json")"
grep -q '"malformed":4,' "$work/junk.json" || fail "malformed count: $(cat "$work/junk.json")"
grep -q '4 malformed stanza(s) skipped' "$work/junk.err" || fail "no summary line"
echo "engine.junk_replay: ok ($(ev "$work/junk.json"))"
