#!/usr/bin/env bash
# share.rtbl: enforcement and sharing with real servers on loopback
# (tests/share/prosody-share.cfg.lua.in: mod_firewall mirror, a pubsub
# component, the MUC with Prosody's own mod_muc_rtbl). Checks:
#   1. a flooder floods room1; the mirror capture replayed by stanzawatch A
#      (reporter + share.rtbl on) publishes SHA-256(flooder@a.test) on
#      pubsub.a.test; Prosody's mod_muc_rtbl refuses the flooder's next join
#      to room2 (forbidden); `stanzawatch retract` lets it back in.
#   2. a whitelist feed (IODEF 2.0 payload, valid against RFC 7970's schema as
#      read back from Prosody) is readable by the listed account and refused
#      to another.
#   3. stanzawatch B consuming A's RTBL (share.sources) opens an incident for
#      the flooder's weak signal that B alone ignores; with Prosody stopped, a
#      restarted B still has the list (persisted) and still does.
# Every process started here is stopped by pid; everything is time-bounded.
# usage: rtbl_test.sh STANZAWATCH SOURCE_DIR
set -euo pipefail

sw=$1
src=$2
name=share.rtbl
export SW_PROSODY_TEMPLATE="$src/tests/share/prosody-share.cfg.lua.in"
# shellcheck source=../reporter/harness.sh
. "$src/tests/reporter/harness.sh"
actor="$src/tests/share/actor.py"
c2s=$SW_PROSODY_C2S_PORT

for u in flooder victim reader; do
	prosodyctl --config "$pdir/prosody.cfg.lua" register "$u" a.test pw >/dev/null
done
prosodyctl --config "$pdir/prosody.cfg.lua" register other b.test pw >/dev/null
act() { timeout 40 "$py" "$actor" "$@" --port "$c2s" 2>>"$work/actor.err"; }

config() { # config FILE COMPONENT SECRET STATE [extra share yaml]
	cat >"$1" <<YAML
reporter:
  enabled: true
  domain: ${2#incidents.}
  admin_jid: admin@${2#incidents.}
  component:
    jid: $2
    secret: $3
    host: 127.0.0.1
    port: $port
  spool_dir: $4/spool
  inbound_dir: $4/inbound
  retry_min: 300ms
  retry_max: 2s
  ack_timeout: 3s
share:
  service: pubsub.a.test
  state_dir: $4/state
$5
YAML
}
mkdir -p "$work/A" "$work/B" "$work/B0"
config "$work/A.yaml" incidents.a.test "$SW_PROSODY_ENGINE_SECRET" "$work/A" "  rtbl:
    enabled: true
    min_score: 1
    ttl: 10m
    subscribers: [rooms.a.test]
  feeds:
    - node: partners
      min_score: 1
      payload: iodef2
      access_model: whitelist
      whitelist: [reader@a.test]
      retract_on_close: false"

# ---- 1. flood -> mirror capture -> replay publishes -> mod_muc_rtbl refuses ----
rm -f "$work/ready"
"$py" "$actor" record --jid watch.a.test --secret "$SW_PROSODY_PEER_SECRET" \
	--port "$port" --out "$work/cap.xml" --ready-file "$work/ready" --max-seconds 100 \
	2>>"$work/actor.err" &
rec=$!
pids+=("$rec")
for _ in $(seq 1 100); do [ -s "$work/ready" ] && break; sleep 0.1; done
[ -s "$work/ready" ] || fail "mirror recorder did not connect"
[ "$(act flood --jid flooder@a.test --room room1@rooms.a.test --nick fl --count 30)" = "sent 30" ] ||
	fail "flood did not run"
sleep 0.5
kill "$rec"; wait "$rec" || true; forget_pid "$rec"
n=$(grep -c 'groupchat' "$work/cap.xml" || true)
[ "$n" -ge 30 ] || fail "mirror captured $n groupchat lines"

# a victim owns room2 (so the flooder's join is a plain join)
"$py" "$actor" join --jid victim@a.test --room room2@rooms.a.test --nick owner --stay 90 \
	--port "$c2s" >"$work/victim.out" 2>>"$work/actor.err" &
pids+=("$!")
for _ in $(seq 1 100); do grep -q joined "$work/victim.out" && break; sleep 0.1; done
grep -q joined "$work/victim.out" || fail "victim could not create room2"
[ "$(act join --jid flooder@a.test --room room2@rooms.a.test --nick fl2)" = "joined" ] ||
	fail "flooder refused from room2 before any listing"

t0=$(date +%s%N)
timeout 60 "$sw" replay -c "$work/A.yaml" --no-progress --drain-timeout 20 \
	--incidents "$work/incA.jsonl" "$work/cap.xml" >/dev/null 2>"$work/A1.err" ||
	fail "replay A exited $?"
grep -q '"offender":"flooder@a.test"' "$work/incA.jsonl" || fail "no incident for the flooder"
grep -q 'RTBL muc_bans_sha256: listed flooder@a.test' "$work/A1.err" || fail "flooder not listed"
grep -q 'spool empty' "$work/A1.err" || fail "publish not acknowledged: $(tail -3 "$work/A1.err")"
hash=$(printf '%s' flooder@a.test | sha256sum | cut -c1-64)
grep -q "$hash" "$work/A/state/published.state" || fail "state lacks $hash"
refused=""
for _ in $(seq 1 20); do
	r=$(act join --jid flooder@a.test --room room2@rooms.a.test --nick fl3)
	[ "$r" = "error forbidden" ] && { refused=1; break; }
	sleep 0.5
done
[ -n "$refused" ] || fail "mod_muc_rtbl did not refuse the flooder (last answer: $r)"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
grep -q 'Blocked user <flooder@a.test>.*RTBL' "$pdir/prosody.log" || fail "Prosody did not log the RTBL block"
[ "$(act join --jid victim@a.test --room room1@rooms.a.test --nick v)" = "joined" ] ||
	fail "an unlisted user was refused"
say "1a ok: flooder listed ($hash), refused by mod_muc_rtbl; replay+refusal ${ms} ms"

# ---- 2. whitelist feed ----
r=$(act items --jid reader@a.test --service pubsub.a.test --node partners --dump "$work/feed.xml")
case "$r" in "items "[1-9]*) ;; *) fail "whitelisted reader got '$r'";; esac
head -n1 "$work/feed.xml" >"$work/feed1.xml"
xmllint --noout --nonet --schema "$src/tests/data/spec/iodef-2.0.xsd" "$work/feed1.xml" 2>"$work/xmllint.err" ||
	fail "feed item is not valid IODEF 2.0: $(cat "$work/xmllint.err")"
grep -q 'flooder@a.test' "$work/feed1.xml" || fail "feed item does not name the flooder"
r2=$(act items --jid other@b.test --service pubsub.a.test --node partners)
case "$r2" in "error forbidden"|"error not-authorized"|"error not-allowed") ;; *) fail "outsider got '$r2'";; esac
say "2 ok: whitelist feed (IODEF 2.0, schema-valid): reader@a.test '$r', other@b.test '$r2'"

"$sw" retract -c "$work/A.yaml" --drain-timeout 20 flooder@a.test >"$work/retract.out" 2>"$work/retract.err" ||
	fail "retract exited $?: $(tail -3 "$work/retract.err")"
ok=""
for _ in $(seq 1 20); do
	r=$(act join --jid flooder@a.test --room room2@rooms.a.test --nick fl4)
	[ "$r" = "joined" ] && { ok=1; break; }
	sleep 0.5
done
[ -n "$ok" ] || fail "flooder still refused after retract (last answer: $r)"
grep -q "$hash" "$work/A/state/published.state" && fail "retracted entry still in the state"
say "1b ok: stanzawatch retract let the flooder back in"

# ---- 3. B consumes A's RTBL ----
act flood --jid flooder@a.test --room room1@rooms.a.test --nick fl --count 1 >/dev/null || true
"$sw" replay -c "$work/A.yaml" --no-progress --drain-timeout 20 --incidents /dev/null \
	"$work/cap.xml" 2>"$work/A2.err" >/dev/null || fail "replay A (relist) exited $?"
grep -q 'listed flooder@a.test' "$work/A2.err" || fail "flooder not listed again"
# B's capture: three spam lines from the flooder, a weak content signal only
{ head -n1 "$work/cap.xml"; awk '/groupchat/ && n < 3 {print; n++}' "$work/cap.xml"; echo '</stream:stream>'; } >"$work/weak.xml"
config "$work/B0.yaml" incidents.b.test "$SW_PROSODY_ROGUE_SECRET" "$work/B0" ""
config "$work/B.yaml" incidents.b.test "$SW_PROSODY_ROGUE_SECRET" "$work/B" "  sources:
    - name: a
      service: pubsub.a.test
      weight: 1.0"
for f in B0 B; do # B also runs the default content rules: a URL shortener is a weak signal
	cat >>"$work/$f.yaml" <<YAML
detectors:
  content:
    rule_files: [$src/configs/rules/default.yaml]
    cache_dir: $work/$f/hscache
YAML
done
"$sw" replay -c "$work/B0.yaml" --no-progress --incidents "$work/incB0.jsonl" "$work/weak.xml" \
	2>"$work/B0.err" >/dev/null || fail "replay B0 exited $?"
if grep -q '"offender":"flooder@a.test"' "$work/incB0.jsonl"; then
	fail "B alone already reports the weak signal: the test could not show the listing"
fi
grep -qE 'aggregator: hits [1-9]' "$work/B0.err" || fail "no weak signal (hit) in B's capture"
empty="$work/empty.xml"
printf '%s\n</stream:stream>\n' "$(head -n1 "$work/cap.xml")" >"$empty"
"$sw" replay -c "$work/B.yaml" --no-progress --drain-timeout 20 --incidents /dev/null "$empty" \
	2>"$work/B1.err" >/dev/null || fail "replay B (sync) exited $?"
grep -q 'source a: full sync, 1 entries' "$work/B1.err" || fail "B did not sync A's list: $(grep share "$work/B1.err")"
"$sw" replay -c "$work/B.yaml" --no-progress --drain-timeout 5 --incidents "$work/incB.jsonl" "$work/weak.xml" \
	2>"$work/B2.err" >/dev/null || fail "replay B exited $?"
grep '"offender":"flooder@a.test"' "$work/incB.jsonl" | grep -q 'share.listed' ||
	fail "B's incident lacks the share.listed symbol"
say "3a ok: B alone: no incident; B consuming A's RTBL: incident with share.listed"
# ---- 4. XEP-0377 in: users' block+report, forwarded by Prosody, weigh in B ----
config "$work/B4.yaml" incidents.b.test "$SW_PROSODY_ROGUE_SECRET" "$work/B4" "  reports_from: [a.test, incidents.a.test]
  report_weight: 0.5"
cat >>"$work/B4.yaml" <<YAML
detectors:
  content:
    rule_files: [$src/configs/rules/default.yaml]
    cache_dir: $work/B4/hscache
YAML
mkdir -p "$work/B4"
mkfifo "$work/in.fifo"
"$sw" replay -c "$work/B4.yaml" --no-progress --drain-timeout 2 --incidents "$work/incB4.jsonl" - \
	<"$work/in.fifo" >/dev/null 2>"$work/B4.err" &
b4=$!
pids+=("$b4")
exec 7>"$work/in.fifo"
for _ in $(seq 1 100); do grep -q 'connected as incidents.b.test' "$work/B4.err" && break; sleep 0.1; done
grep -q 'connected as incidents.b.test' "$work/B4.err" || fail "B4 did not connect"
for u in reader victim; do
	[ "$(act block --jid $u@a.test --target flooder@a.test)" = "blocked" ] || fail "$u could not block+report"
done
for _ in $(seq 1 100); do
	[ "$(grep -c 'XEP-0377 report' "$work/B4.err")" -ge 2 ] && break; sleep 0.1
done
grep -q 'XEP-0377 report (urn:xmpp:reporting:spam) on flooder@a.test by victim@a.test, forwarded by a.test: 2 live' \
	"$work/B4.err" || fail "B4 did not take both reports: $(grep share "$work/B4.err")"
# XEP-0377 out: A sends its incidents to peer B as XEP-0191 block + XEP-0377 report
sed 's/^  ack_timeout: 3s$/  ack_timeout: 3s\n  peers:\n    - jid: incidents.b.test\n      format: xep0377/' \
	"$work/A.yaml" >"$work/A5.yaml"
timeout 60 "$sw" replay -c "$work/A5.yaml" --no-progress --drain-timeout 20 --incidents /dev/null \
	"$work/cap.xml" >/dev/null 2>"$work/A5.err" || fail "replay A5 exited $?"
grep -q 'spool empty' "$work/A5.err" || fail "B did not acknowledge A's XEP-0377 report: $(tail -3 "$work/A5.err")"
grep -q 'XEP-0377 report (urn:xmpp:reporting:abuse) on flooder@a.test by incidents.a.test, forwarded by incidents.a.test' \
	"$work/B4.err" || fail "B4 did not take A's XEP-0377 report"
cat "$work/weak.xml" >&7
exec 7>&-
wait "$b4" || fail "replay B4 exited $?"
forget_pid "$b4"
grep '"offender":"flooder@a.test"' "$work/incB4.jsonl" | grep -q 'share.listed' ||
	fail "two spam reports did not lift the weak signal"
say "4 ok: two users' XEP-0191 block+report forwarded by Prosody and A's XEP-0377 peer report (format xep0377) lift the flooder's weak signal in B"

"$src/deploy/prosody/stop.sh" "$pdir" >/dev/null 2>&1
"$sw" replay -c "$work/B.yaml" --no-progress --drain-timeout 1 --incidents "$work/incB3.jsonl" "$work/weak.xml" \
	2>"$work/B3.err" >/dev/null || fail "replay B with the source down exited $?"
grep -q 'source a: 1 entries loaded' "$work/B3.err" || fail "list not loaded from disk"
grep -Eq 'source a: 1 entries, last full sync [0-9]+ s ago' "$work/B3.err" || fail "no list size/sync age stats line"
grep '"offender":"flooder@a.test"' "$work/incB3.jsonl" | grep -q 'share.listed' ||
	fail "with the source down the listing was lost"
say "3b ok: source down: B restarted with its persisted list, still raises the flooder"
say "all checks passed"
