#!/usr/bin/env bash
# live.compact: the server modules' compact records make the same events as
# the whole stanzas. Prosody: its own Lua (lua5.4) and libraries parse each
# capture into real util.stanza objects (tests/live/compact_check.lua); every
# message and presence is written whole (tostring) and as the module's
# record. ejabberd (if installed): mod_stanzawatch.erl is compiled here and
# tests/live/compact_check.escript decodes each stanza as ejabberd's c2s does,
# writing xmpp:encode's serialisation and record/1's. sw_compact_events prints
# the parser's events of both streams, which must be identical. Captures: the
# test captures (attacks incl. over-limit stanzas, MUC, mirror copies) and an
# all-scenario swgen capture (no mirror wrappers: a module never sees those)
# with carbons and large stanzas; on it the records must be used for >= 95%
# of the stanzas and be smaller. Exit 77 without Prosody.
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
# the attribute limit at each place the module checks it: a 4097-byte
# attribute (over engine/xml.c's 4096) on the stanza, on a child and on a
# grandchild, and a 4096-byte one (not over: the module falls back to the
# whole stanza from 4096 on, the events must still match), each between
# ordinary messages. (max_stanza_bytes is the splitter's, which
# sw_compact_events does not run: not checked here.) Prosody's module only:
# ejabberd's differs on it (bench/RESULTS.md, branch mod2 addition).
big=$(head -c 4097 /dev/zero | tr '\0' 'a')
edge=$(head -c 4096 /dev/zero | tr '\0' 'b')
{
	echo "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>"
	m="<message from='u@a.test/r' to='room@muc.a.test' type='groupchat' id='m'><body>hi</body></message>"
	for v in "$big" "$edge"; do
		echo "$m<message from='u@a.test/r' to='v@a.test' type='chat' id='a' data='$v'><body>x</body></message>$m"
		echo "<message from='u@a.test/r' to='v@a.test' type='chat' id='c'><body>x</body><thread parent='$v'>t</thread></message>$m"
		echo "<message from='u@a.test/r' to='v@a.test' type='chat' id='g'><body>x</body><html xmlns='http://jabber.org/protocol/xhtml-im'><p style='$v'>x</p></html></message>$m"
	done
	echo "</stream:stream>"
} >"$work/limits.xml"
# ejabberd's module too, when ejabberd and erlc are installed
ej=$(ls -d /usr/lib/x86_64-linux-gnu/ejabberd-*/ 2>/dev/null | head -1 || true)
xmpp_inc=$(ls -d /usr/lib/erlang/lib/p1_xmpp-*/include 2>/dev/null | head -1 || true)
servers=prosody
if [ -n "$ej" ] && [ -n "$xmpp_inc" ] && command -v erlc >/dev/null && command -v escript >/dev/null; then
	mkdir -p "$work/ebin"
	erlc -I "$ej/include" -I "$xmpp_inc" -pa "$ej/ebin" -o "$work/ebin" \
		"$src/deploy/ejabberd/mod_stanzawatch.erl"
	servers="prosody ejabberd"
else
	echo "live.compact: ejabberd/erlc not installed: only the Prosody module checked"
fi
total=0 used=0
for server in $servers; do
for cap in "$src"/tests/data/captures/*.xml "$work/limits.xml" "$work/swgen.xml"; do
	name="$server $(basename "$cap")"
	[ "$server" = ejabberd ] && [ "$cap" = "$work/limits.xml" ] && continue
	if [ "$server" = prosody ]; then
		line=$(lua5.4 "$src/tests/live/compact_check.lua" "$src/deploy/prosody/mod_stanzawatch.lua" \
			"$cap" "$work/full.xml" "$work/compact.xml" 2>"$work/lua.err") ||
			{ cat "$work/lua.err"; echo "live.compact: FAIL: $name: compact_check failed"; exit 1; }
	else
		line=$(escript "$src/tests/live/compact_check.escript" "$work/ebin" \
			"$cap" "$work/full.xml" "$work/compact.xml" 2>"$work/erl.err") ||
			{ cat "$work/erl.err"; echo "live.compact: FAIL: $name: compact_check.escript failed"; exit 1; }
	fi
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
	if [ "${name#* }" = swgen.xml ]; then
		# nearly every generated stanza is ordinary: the record is used and smaller
		[ $((c * 100)) -ge $((st * 95)) ] || { echo "live.compact: FAIL: records for only $c of $st stanzas"; exit 1; }
		[ "$bc" -lt "$bf" ] || { echo "live.compact: FAIL: records not smaller ($bc >= $bf bytes)"; exit 1; }
	fi
done
done
[ "$total" -gt 20000 ] || { echo "live.compact: FAIL: only $total stanzas compared"; exit 1; }
echo "live.compact: ok: $total stanzas, $used as compact records, events identical"
