#!/usr/bin/env bash
# reporter.replay_live: the real `stanzawatch replay` with reporter.enabled
# against the project's Prosody (deploy/prosody) and a trusted peer component
# (peer.py), loopback only. Checks:
#   1. peer up: every incident of the JSON Lines output reaches the peer as a
#      XEP-0268 report with the same IncidentID, and the spool is empty at exit;
#   2. peer down: the replay ends after --drain-timeout, says what is left, and
#      the reports stay spooled on disk; peer back: the next replay (of an empty
#      capture) delivers them.
# Every process started here is stopped by pid; everything is time-bounded.
# usage: replay_live_test.sh STANZAWATCH SWGEN SOURCE_DIR
set -euo pipefail

sw=$1
swgen=$2
src=$3
name=reporter.replay_live
# shellcheck source=harness.sh
. "$src/tests/reporter/harness.sh"

ids_json() { "$py" -c 'import json,sys; print("\n".join(sorted({json.loads(l)["id"] for l in open(sys.argv[1]) if l.strip()})))' "$1"; }
ids_peer() { awk '$1 == "report" {print $2}' "$1" | sort -u; }

reporter_yaml "$work/sw.yaml" "[{jid: incidents.b.test}]"
"$swgen" --seed 3 --stanzas 20000 --scenarios muc-flood:2,sub-burst:1 --benign none \
	-o "$work/cap.xml" 2>"$work/swgen.err"

# ---- 1. peer up: every JSON incident arrives with its IncidentID ----
start_peer "$work/peer1.out"
timeout 60 "$sw" replay -c "$work/sw.yaml" --no-progress --drain-timeout 30 \
	--incidents "$work/inc1.jsonl" "$work/cap.xml" >"$work/r1.out" 2>"$work/r1.err" ||
	fail "replay exited $?"
ids_json "$work/inc1.jsonl" >"$work/ids1.json"
n=$(wc -l <"$work/ids1.json")
[ "$n" -ge 2 ] || fail "capture gave only $n incident(s)"
ids_peer "$work/peer1.out" >"$work/ids1.peer"
diff "$work/ids1.json" "$work/ids1.peer" >&2 || fail "IncidentIDs at the peer differ from the JSON incidents"
grep -q "report .* incidents.a.test" "$work/peer1.out" || fail "reports not from incidents.a.test"
[ "$(spool_files)" = 0 ] || fail "spool not empty after the drain"
grep -q 'spool empty' "$work/r1.err" || fail "no drain summary in the log"
say "1 ok: $n incidents, each reported to the peer by IncidentID, spool empty"
stop_peer

# ---- 2. peer down: reports stay spooled; next run delivers them ----
"$swgen" --seed 5 --stanzas 20000 --scenarios muc-flood:1,sub-burst:1 --benign none \
	-o "$work/cap2.xml" 2>>"$work/swgen.err"
start=$SECONDS
timeout 60 "$sw" replay -c "$work/sw.yaml" --no-progress --drain-timeout 2 \
	--incidents "$work/inc2.jsonl" "$work/cap2.xml" >"$work/r2.out" 2>"$work/r2.err" ||
	fail "replay with the peer down exited $?"
[ $((SECONDS - start)) -le 20 ] || fail "drain timeout not honoured"
left=$(spool_files)
[ "$left" -ge 1 ] || fail "nothing spooled with the peer down"
grep -q 'not delivered within 2 s' "$work/r2.err" || fail "leftover not logged: $(cat "$work/r2.err")"
start_peer "$work/peer2.out"
printf '<stream:stream xmlns="jabber:server" xmlns:stream="http://etherx.jabber.org/streams">\n</stream:stream>\n' \
	>"$work/empty.xml"
timeout 60 "$sw" replay -c "$work/sw.yaml" --no-progress --drain-timeout 30 \
	--incidents "$work/inc3.jsonl" "$work/empty.xml" >"$work/r3.out" 2>"$work/r3.err" ||
	fail "follow-up replay exited $?"
ids_json "$work/inc2.jsonl" >"$work/ids2.json"
ids_peer "$work/peer2.out" >"$work/ids2.peer"
diff "$work/ids2.json" "$work/ids2.peer" >&2 || fail "spooled reports not delivered by the next run"
[ "$(spool_files)" = 0 ] || fail "spool not empty after the next run"
say "2 ok: peer down: $left report(s) kept in the spool; delivered by the next run"
stop_peer
say "all checks passed"
