#!/usr/bin/env bash
# live.compact: the server modules' compact records make the same events as
# the whole stanzas. Prosody: its own Lua (lua5.4) and libraries parse each
# capture into real util.stanza objects (tests/live/compact_check.lua); every
# message and presence is written whole (tostring) and as the module's
# record. ejabberd (if installed): mod_stanzawatch.erl is compiled here and
# tests/live/compact_check.escript decodes each stanza as ejabberd's c2s does,
# writing xmpp:encode's serialisation and record/1's. sw_compact_events prints
# the parser's events of both streams, which must be identical. Captures: the
# test captures (attacks incl. over-limit stanzas, MUC, mirror copies), two
# generated here for both modules (limits.xml: every limit at every place a
# module must check it; fields.xml: escaping, types, foreign-namespace
# texts; see below) and an all-scenario swgen capture (no mirror wrappers: a module never sees those)
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
# as a module sees live traffic: without the recorder's own <delay/> stamps
sed -E "s#<delay xmlns='urn:xmpp:delay' stamp='[^']*'/>##g" "$work/swgen.xml" >"$work/swgen-live.xml"
# limits.xml: the parser's limits at each place a module must check them,
# each case between ordinary messages. Attributes: a 4097-byte value (over
# engine/xml.c's 4096) and a 4096-byte one (not over: the modules fall back
# to the whole stanza from 4096 on, the events must still match) on the
# stanza, on a child and a grandchild, and on every attribute ejabberd
# decodes into a record field rather than sub_els (xml:lang of the stanza,
# of the first and a later body/subject/status; thread's parent) or keeps
# in its record (delay from, x, nick). Texts: 65537 and 65536 bytes (the
# parser's max_text_bytes is 65536) in the first body, subject, status and
# nick. Depth: elements 31, 32 and 33 levels below the stanza (over from
# 32). Size (max_stanza_bytes is the splitter's, which sw_compact_events
# does not run; compact_check.escript checks instead that a stanza whose
# whole serialisation is over 262144 bytes is sent whole): a later body's,
# a thread's and a nick's text, and 300 children with 1000-byte names.
# (Not a 262144-digit presence priority, which ejabberd's module also
# sends whole: converting it costs xmpp seconds of CPU.)
big=$(head -c 4097 /dev/zero | tr '\0' 'a')
edge=$(head -c 4096 /dev/zero | tr '\0' 'b')
tbig=$(head -c 65537 /dev/zero | tr '\0' 'c')
tedge=$(head -c 65536 /dev/zero | tr '\0' 'd')
huge=$(head -c 270000 /dev/zero | tr '\0' 'e')
# xml:lang values must be language tags (xmpp:decode rejects others):
# en-abcdefg-...: 4097 and 4096 bytes
lbig=en$(printf -- '-abcdefg%.0s' {1..511})-abcdef
ledge=${lbig%f}
nest() { # nest N: N nested elements in a foreign namespace
	local i o="<n0 xmlns='urn:deep'>" c='</n0>'
	for ((i = 1; i < $1; i++)); do o+="<n$i>"; c="</n$i>$c"; done
	printf '%s' "${o}x$c"
}
{
	echo "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>"
	m="<message from='u@a.test/r' to='room@muc.a.test' type='groupchat' id='m'><body>hi</body></message>"
	h="from='u@a.test/r' to='v@a.test'"
	for v in "$big" "$edge"; do
		l=$lbig
		[ "$v" = "$big" ] || l=$ledge
		echo "$m<message $h type='chat' id='a' data='$v'><body>x</body></message>$m"
		echo "<message $h type='chat' id='c'><body>x</body><thread parent='$v'>t</thread></message>$m"
		echo "<message $h type='chat' id='g'><body>x</body><html xmlns='http://jabber.org/protocol/xhtml-im'><p style='$v'>x</p></html></message>$m"
		echo "<message $h type='chat' id='l' xml:lang='$l'><body>x</body></message>$m"
		echo "<message $h type='chat' id='b1'><body xml:lang='$l'>x</body></message>$m"
		echo "<message $h type='chat' id='b2'><body>x</body><body xml:lang='$l'>y</body></message>$m"
		echo "<message $h type='chat' id='s1'><subject xml:lang='$l'>s</subject><body>x</body></message>$m"
		echo "<message $h type='chat' id='s2'><subject>s</subject><subject xml:lang='$l'>t</subject></message>$m"
		echo "<message $h type='chat' id='t'><body>x</body><thread>$v</thread></message>$m"
		echo "<message $h type='chat' id='x'><body>x</body><x xmlns='jabber:x:conference' jid='r@muc.a.test' reason='$v'/></message>$m"
		echo "<message $h type='chat' id='o'><body>x</body><x xmlns='jabber:x:oob' url='$v'><desc>d</desc></x></message>$m"
		echo "<message $h type='chat' id='d'><body>x</body><delay xmlns='urn:xmpp:delay' from='$v' stamp='2026-01-01T00:00:00Z'/></message>$m"
		echo "<message $h type='chat' id='k'><body>x</body><nick xmlns='http://jabber.org/protocol/nick' note='$v'>n</nick></message>$m"
		echo "<presence $h id='p1' xml:lang='$l'><status>s</status></presence>$m"
		echo "<presence $h id='p2'><status xml:lang='$l'>s</status></presence>$m"
		echo "<presence $h id='p3'><status>s</status><status xml:lang='$l'>t</status></presence>$m"
		echo "<presence $h id='p4'><x xmlns='http://jabber.org/protocol/muc'><password>$v</password></x><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='$v' ver='v'/></presence>$m"
	done
	for v in "$tbig" "$tedge"; do
		echo "<message $h type='chat' id='tb'><body>$v</body></message>$m"
		echo "<message $h type='headline' id='ts'><subject>$v</subject><body>x</body></message>$m"
		echo "<presence $h id='tp'><status>$v</status></presence>$m"
		echo "<message $h type='chat' id='tn'><body>x</body><nick xmlns='http://jabber.org/protocol/nick'>$v</nick></message>$m"
	done
	for k in 31 32 33; do
		echo "<message $h type='chat' id='n$k'><body>x</body>$(nest $k)</message>$m"
		echo "<presence $h id='n$k'>$(nest $k)</presence>$m"
	done
	echo "<message $h type='chat' id='z1'><body>x</body><body xml:lang='en'>$huge</body></message>$m"
	echo "<message $h type='chat' id='z2'><body>x</body><thread>$huge</thread></message>$m"
	echo "<message $h type='chat' id='z3'><body>x</body><nick xmlns='http://jabber.org/protocol/nick'>$huge</nick></message>$m"
	long=$(head -c 1000 /dev/zero | tr '\0' 'f')
	printf "<message $h type='chat' id='z4'><body>x</body><x xmlns='urn:names'>"
	for ((i = 0; i < 300; i++)); do printf '<%s/>' "$long"; done
	echo "</x></message>$m"
	echo "</stream:stream>"
} >"$work/limits.xml"
# fields.xml: what a module must read or write as the parser does, beyond
# limits: values needing escaping (quotes, ampersands, <, >, ]]>, non-ASCII)
# in from, id, body, subject, status, nick and delay; messages without a
# type and of every type; every presence type; a MUC private message and
# a groupchat message with and without muc#user content; a <body/>,
# <subject/> or <status/> in a foreign namespace before or after the real
# one (the parser takes the first element of that name, whatever its
# namespace; ejabberd decodes only the jabber:client one and xmpp:encode
# writes the foreign one first); several delays, legacy delay and nicks.
{
	echo "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>"
	e="a&amp;b &apos;q&apos; &quot;d&quot; &lt;t&gt; ]]&gt; \u00e9\u4e2d\U0001f600"
	e=$(printf "$e")
	h="from='u@a.test/r&amp;&apos;&quot;\u00e9' to='v@a.test'"
	h=$(printf "$h")
	echo "<message $h type='chat' id='$e'><body>$e</body><subject>$e</subject><nick xmlns='http://jabber.org/protocol/nick'>$e</nick><delay xmlns='urn:xmpp:delay' from='$e' stamp='2026-01-01T00:00:00Z'/></message>"
	echo "<presence $h id='$e'><status>$e</status><nick xmlns='http://jabber.org/protocol/nick'>$e</nick></presence>"
	echo "<message from='u@a.test/r' to='v@a.test' id='nt'><body>no type</body></message>"
	for t in normal chat groupchat headline error; do
		echo "<message from='u@a.test/r' to='room@muc.a.test' type='$t' id='t$t'><body>$t</body></message>"
	done
	echo "<presence from='u@a.test/r' id='pa'/>"
	for t in unavailable subscribe subscribed unsubscribe unsubscribed probe error; do
		echo "<presence from='u@a.test/r' to='v@a.test' type='$t' id='p$t'><status>$t</status></presence>"
	done
	echo "<presence from='u@a.test/r' to='room@muc.a.test/nick' id='j'><x xmlns='http://jabber.org/protocol/muc'><history maxstanzas='0'/></x><show>away</show><priority>5</priority></presence>"
	echo "<presence from='u@a.test/r' to='v@a.test' id='pr'><priority>1000</priority></presence>"
	echo "<message from='u@a.test/r' to='room@muc.a.test/other' type='chat' id='pm'><body>private</body><x xmlns='http://jabber.org/protocol/muc#user'/></message>"
	echo "<message from='room@muc.a.test/nick' to='u@a.test/r' type='chat' id='pm2'><body>private</body><x xmlns='http://jabber.org/protocol/muc#user'/></message>"
	echo "<message from='u@a.test/r' to='room@muc.a.test' type='groupchat' id='gc'><body>hi</body><x xmlns='http://jabber.org/protocol/muc#user'><invite to='w@a.test'/></x></message>"
	echo "<message from='u@a.test/r' to='v@a.test' type='chat' id='fb'><body xmlns='urn:other'>foreign</body><body>real</body></message>"
	echo "<message from='u@a.test/r' to='v@a.test' type='chat' id='fb2'><body>real</body><body xmlns='urn:other'>foreign</body></message>"
	echo "<message from='u@a.test/r' to='v@a.test' type='chat' id='fs'><subject xmlns='urn:other'>foreign</subject><subject>real</subject></message>"
	echo "<presence from='u@a.test/r' to='v@a.test' id='fp'><status xmlns='urn:other'>foreign</status><status>real</status></presence>"
	echo "<message from='u@a.test/r' to='v@a.test' type='chat' id='st'><body>x</body><status>in a message</status></message>"
	echo "<message from='room@muc.a.test/n' to='u@a.test/r' type='groupchat' id='dl'><body>x</body><delay xmlns='urn:xmpp:delay' from='room@muc.a.test' stamp='2026-01-01T00:00:00Z'/><x xmlns='jabber:x:delay' from='room@muc.a.test' stamp='20260101T00:00:00'/><delay xmlns='urn:xmpp:delay' stamp='2026-01-02T00:00:00Z'/><nick xmlns='http://jabber.org/protocol/nick'>one</nick><nick xmlns='http://jabber.org/protocol/nick'>two</nick></message>"
	echo "</stream:stream>"
} >"$work/fields.xml"
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
# Prosody's module writes record 1 (<w>) to an older tap and record 2
# (<m>/<p> with keys, live/record.h) to a tap that says hello: both are
# checked, record 2 through the tap's own unwrapping (sw_compact_events
# --records), once more with 7 keys so the module's key reset is exercised.
for server in $servers prosody-r2 prosody-r2k7; do
for cap in "$src"/tests/data/captures/*.xml "$work/limits.xml" "$work/fields.xml" "$work/swgen.xml" "$work/swgen-live.xml"; do
	name="$server $(basename "$cap")"
	[ "$server" = ejabberd ] && [ "$cap" = "$work/swgen-live.xml" ] && continue
	rec=""
	case $server in
	prosody-r2) rec="--records" fmt="2" ;;
	prosody-r2k7) rec="--records" fmt="2 7" ;;
	*) fmt="1" ;;
	esac
	if [ "${server%%-*}" = prosody ]; then
		# shellcheck disable=SC2086 # fmt: the record format [and key count]
		line=$(lua5.4 "$src/tests/live/compact_check.lua" "$src/deploy/prosody/mod_stanzawatch.lua" \
			"$cap" "$work/full.xml" "$work/compact.xml" $fmt 2>"$work/lua.err") ||
			{ cat "$work/lua.err"; echo "live.compact: FAIL: $name: compact_check failed"; exit 1; }
	else
		line=$(escript "$src/tests/live/compact_check.escript" "$work/ebin" \
			"$cap" "$work/full.xml" "$work/compact.xml" 2>"$work/erl.err") ||
			{ cat "$work/erl.err"; echo "live.compact: FAIL: $name: compact_check.escript failed"; exit 1; }
	fi
	"$events" "$work/full.xml" >"$work/full.ev"
	# shellcheck disable=SC2086 # rec: empty or --records
	"$events" $rec "$work/compact.xml" >"$work/compact.ev"
	if ! cmp -s "$work/full.ev" "$work/compact.ev"; then
		diff "$work/full.ev" "$work/compact.ev" | head -6 || true
		echo "live.compact: FAIL: $name: events differ ($line)"
		exit 1
	fi
	n=$(grep -c '^kind=' "$work/full.ev" || true)
	echo "live.compact: $name: $n events identical; $line"
	read -r _ st _ c _ _ _ bf _ bc <<<"$line"
	case "$cap" in "$work"/limits.xml | "$work"/fields.xml)
		# every generated stanza parsed and decoded (a parser stops at
		# its first error and compares only what it parsed so far)
		want=$(grep -o "<message \|<presence " "$cap" | wc -l)
		[ "$st" -eq "$want" ] || { echo "live.compact: FAIL: $name: $st of $want stanzas compared"; exit 1; }
		;;
	esac
	total=$((total + st))
	used=$((used + c))
	if [ "${name#* }" = swgen.xml ]; then
		# nearly every generated stanza is ordinary: the record is used and smaller
		[ $((c * 100)) -ge $((st * 95)) ] || { echo "live.compact: FAIL: records for only $c of $st stanzas"; exit 1; }
		[ "$bc" -lt "$bf" ] || { echo "live.compact: FAIL: records not smaller ($bc >= $bf bytes)"; exit 1; }
	fi
	if [ "${name#* }" = swgen-live.xml ] && [ -n "$rec" ]; then
		# record 2 for nearly every live stanza, and fewer bytes than record 1
		r2=$(grep -c "^<[mp] " "$work/compact.xml" || true)
		echo "live.compact: $name: $r2 record 2 of $st stanzas"
		[ $((r2 * 100)) -ge $((st * 90)) ] || { echo "live.compact: FAIL: record 2 for only $r2 of $st stanzas"; exit 1; }
		[ "$server" != prosody-r2 ] || [ $((bc * 100)) -le $((bf * 75)) ] ||
			{ echo "live.compact: FAIL: record 2 not smaller ($bc vs $bf bytes)"; exit 1; }
	fi
done
done
[ "$total" -gt 20000 ] || { echo "live.compact: FAIL: only $total stanzas compared"; exit 1; }
echo "live.compact: ok: $total stanzas, $used as compact records, events identical"
