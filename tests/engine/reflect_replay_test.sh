#!/usr/bin/env bash
# engine.reflect_replay: engine.skip_reflections leaves MUC reflections out of
# parsing without changing what is found. A swgen capture (busy rooms: a
# fifth of its stanzas are reflections) is replayed with the shipped config
# (skip_reflections: true) and with it off; the incidents must be the same
# but for their ids (derived from event sequence numbers), the stanza count
# the same, and the events fewer by exactly the reflections counted.
# usage: reflect_replay_test.sh STANZAWATCH SWGEN SOURCE_DIR WORK_DIR
set -euo pipefail
sw=$1
gen=$2
src=$3
work=$4
fail() { printf 'engine.reflect_replay: FAIL: %s\n' "$*" >&2; exit 1; }
mkdir -p "$work"
cap=$work/cap.xml
"$gen" --seed 29 --stanzas 120000 -o "$cap" 2>/dev/null
cfg=$src/configs/stanzawatch.yaml
grep -q '^  skip_reflections: true$' "$cfg" || fail "shipped config lacks skip_reflections: true"
# (a copy of the whole directory: rule files and model are relative to the config)
rm -rf "$work/cfg"
cp -r "$src/configs" "$work/cfg"
sed -i 's/^  skip_reflections: true$/  skip_reflections: false/' "$work/cfg/stanzawatch.yaml"
grep -q "^  skip_reflections: false$" "$work/cfg/stanzawatch.yaml" || fail "could not make the off config"
run() { # run NAME CONFIG
	"$sw" replay -c "$2" --no-progress -s "$work/$1.json" -o "$work/$1.jsonl" "$cap" \
		2>"$work/$1.err" || fail "$1: exit $?: $(cat "$work/$1.err")"
}
run on "$cfg"
run off "$work/cfg/stanzawatch.yaml"
[ -s "$work/on.jsonl" ] || fail "no incidents"
noid() { sed 's/^{"id":"[^"]*",//' "$1"; }
[ "$(noid "$work/on.jsonl")" = "$(noid "$work/off.jsonl")" ] ||
	fail "incidents differ with skip_reflections on: $(diff <(noid "$work/on.jsonl") <(noid "$work/off.jsonl") | head -5)"
num() { grep -o "\"$1\":[0-9]*" "$2" | head -1 | cut -d: -f2; }
refl=$(num reflections_skipped "$work/on.json")
[ "$(num reflections_skipped "$work/off.json")" = 0 ] || fail "reflections skipped with it off"
[ "$refl" -gt 10000 ] || fail "only $refl reflections skipped"
[ "$(num stanzas "$work/on.json")" = "$(num stanzas "$work/off.json")" ] || fail "stanza counts differ"
ev_on=$(num events "$work/on.json")
ev_off=$(num events "$work/off.json")
[ $((ev_off - ev_on)) = "$refl" ] || fail "events $ev_off - $ev_on != reflections $refl"
grep -q "MUC reflections not parsed $refl" "$work/on.err" || fail "not in the printed statistics"
echo "engine.reflect_replay: ok ($refl of $(num stanzas "$work/on.json") stanzas left unparsed, $(wc -l <"$work/on.jsonl") incidents)"
