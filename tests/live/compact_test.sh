#!/usr/bin/env bash
# live.compact: deploy/prosody/mod_stanzawatch.lua's compact records make the
# same events as the whole stanzas. Prosody's own Lua (lua5.4) and libraries
# parse each capture into real util.stanza objects (tests/live/compact_check.lua);
# every message and presence is written whole (tostring) and as the module's
# record; sw_compact_events prints the parser's events of both streams, which
# must be identical. Captures: the test captures (attacks incl. over-limit
# stanzas, MUC, mirror copies) and an all-scenario swgen capture (no mirror
# wrappers: a module never sees those) with carbons and large stanzas. Also checks that the records are actually used (not
# only the whole-stanza fallback) and smaller. Exit 77 without Prosody.
# usage: compact_test.sh SW_COMPACT_EVENTS SWGEN SOURCE_DIR
set -euo pipefail
events=$1
swgen=$2
src=$3
if ! command -v lua5.4 >/dev/null || [ ! -f /usr/lib/prosody/util/xmppstream.lua ]; then
	echo "live.compact: Prosody (lua5.4, /usr/lib/prosody) not installed: skipped"
	exit 77
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/sw-compact.XXXXXX")
trap 'rm -rf -- "$work"' EXIT
export LUA_PATH="/usr/lib/prosody/?.lua;;" LUA_CPATH="/usr/lib/prosody/?.so;;"
"$swgen" --seed 11 --stanzas 20000 --scenarios all --benign all --mirror-fraction 0 --carbons 0.05 -o "$work/swgen.xml" 2>/dev/null
total=0 used=0
for cap in "$src"/tests/data/captures/*.xml "$work/swgen.xml"; do
	name=$(basename "$cap")
	line=$(lua5.4 "$src/tests/live/compact_check.lua" "$src/deploy/prosody/mod_stanzawatch.lua" \
		"$cap" "$work/full.xml" "$work/compact.xml" 2>"$work/lua.err") ||
		{ cat "$work/lua.err"; echo "live.compact: FAIL: $name: compact_check failed"; exit 1; }
	"$events" "$work/full.xml" >"$work/full.ev"
	"$events" "$work/compact.xml" >"$work/compact.ev"
	if ! cmp -s "$work/full.ev" "$work/compact.ev"; then
		diff "$work/full.ev" "$work/compact.ev" | head -6 || true
		echo "live.compact: FAIL: $name: events differ ($line)"
		exit 1
	fi
	n=$(grep -c '^kind=' "$work/full.ev" || true)
	echo "live.compact: $name: $n events identical; $line"
	read -r _ st _ c _ _ _ bf _ bc <<<"$line"
	total=$((total + st))
	used=$((used + c))
	if [ "$name" = swgen.xml ]; then
		# nearly every generated stanza is ordinary: the record is used and smaller
		[ $((c * 100)) -ge $((st * 95)) ] || { echo "live.compact: FAIL: records for only $c of $st stanzas"; exit 1; }
		[ "$bc" -lt "$bf" ] || { echo "live.compact: FAIL: records not smaller ($bc >= $bf bytes)"; exit 1; }
	fi
done
[ "$total" -gt 20000 ] || { echo "live.compact: FAIL: only $total stanzas compared"; exit 1; }
echo "live.compact: ok: $total stanzas, $used as compact records, events identical"
