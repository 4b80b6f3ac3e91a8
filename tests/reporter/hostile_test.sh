#!/usr/bin/env bash
# reporter.hostile: hostile XMPP entities against the live reporter on the
# project's Prosody (deploy/prosody), loopback only. Each check failed before
# the fix it covers (issue 12, "Strangers must not touch reports"):
#   1. impersonation: a 238-byte local part at incidents.b.test.evil.example
#      (a 255-byte cut made it "incidents.b.test") and an account at the domain
#      peer (mallory@incidents.b.test) get <forbidden/>, nothing is stored; a
#      JID the operator lists in the peer's `senders` is accepted;
#   2. spoofed acknowledgements: a stranger that knows the iq ids of reports in
#      flight (from the peer's log: what a guesser of the old predictable ids
#      had) sends results and errors for them: ignored and counted, the reports
#      stay spooled until the real peer answers;
#   3. inquiries honour the peer's send policy: an incident of a kind the peer
#      is not sent is not disclosed (item-not-found, no report);
#   4. peer data cannot forge log lines (a Description with a newline);
#   5. a stranger's flood is answered and counted, but logged once, not per stanza.
# Every process started here is stopped by pid; everything is time-bounded.
# usage: hostile_test.sh SWREPORT_BINARY SOURCE_DIR
set -euo pipefail

swreport=$1
src=$2
name=reporter.hostile
# shellcheck source=harness.sh
. "$src/tests/reporter/harness.sh"
inbound="$work/inbound"
common=(--port "$port" --secret "$SW_PROSODY_ENGINE_SECRET" --spool "$spool" --inbound "$inbound"
	--retry-min 300 --retry-max 1500 --ack-timeout 20000)

# hostile PEER_JID SECRET OUT [peer.py args]: one-shot sender, waits for its answers
hostile() {
	local jid=$1 secret=$2 out=$3; shift 3
	"$py" "$peer_py" --jid "$jid" --secret "$secret" --port "$port" --out "$out" \
		--exit-when-answered --max-seconds 20 "$@" 2>>"$work/peer.err"
}

long=$(printf 'a%.0s' $(seq 1 238))
evil="$long@incidents.b.test.evil.example"

# ---- 1 + 3 + 4: impersonation, inquiry policy, log forging ----
mkdir -p "$work/outbox"
start_peer "$work/peer1.out" --outbox "$work/outbox" --description $'x\nFORGED: error: reporter: owned'
"$swreport" "${common[@]}" --peer incidents.b.test --peer-send muc-flood \
	--peer-sender ops@incidents.b.test --count 2 --prefix pol --seconds 14 \
	>"$work/s1.out" 2>"$work/s1.err" &
s1=$!
pids+=("$s1")
wait_for 10 'grep -q "^report pol-0 " "$work/peer1.out"' || fail "pol-0 (muc-flood) not delivered"
# the reporter sent pol-0 only: pol-1 is subscription-spam, outside the peer's policy
hostile incidents.b.test.evil.example "$SW_PROSODY_ROGUE_SECRET" "$work/evil.out" --from "$evil" \
	--send "report incidents.a.test evil-1" || fail "long-JID impersonator got no answer"
grep -q ' error forbidden$' "$work/evil.out" || fail "long JID at incidents.b.test.evil.example trusted: $(cat "$work/evil.out")"
printf '%s\n' "from=mallory@incidents.b.test report incidents.a.test mallory-1" \
	"from=ops@incidents.b.test report incidents.a.test ops-1" \
	"inquiry incidents.a.test pol-0" "inquiry incidents.a.test pol-1" \
	"request incidents.a.test forge-1" >"$work/outbox/c.tmp"
mv "$work/outbox/c.tmp" "$work/outbox/c.cmd"
wait_for 10 '[ "$(count "^reply " "$work/peer1.out")" -ge 5 ]' || fail "peer's stanzas not all answered"
# answer IID: the reply line of the stanza the peer sent about IID
answer() { local q; q=$(awk -v i="$1" '$1 == "sent" && $5 == i {print $2}' "$work/peer1.out");
	awk -v q="$q" '$1 == "reply" && $2 == q {print $3, $4}' "$work/peer1.out"; }
[ "$(answer mallory-1)" = "error forbidden" ] || fail "account at a domain peer trusted: $(answer mallory-1)"
[ "$(answer ops-1)" = "result -" ] || fail "JID listed in senders refused: $(answer ops-1)"
[ "$(answer pol-0)" = "result -" ] || fail "inquiry for pol-0: $(answer pol-0)"
[ "$(answer pol-1)" = "error item-not-found" ] || fail "inquiry for pol-1 (outside the send policy) answered: $(answer pol-1)"
[ "$(answer forge-1)" = "result -" ] || fail "request: $(answer forge-1)"
wait "$s1" || true
forget_pid "$s1"
[ "$(count '^report pol-1 ' "$work/peer1.out")" = 0 ] || fail "pol-1 disclosed to a peer whose policy excludes it"
! ls "$inbound" | grep -q 'evil\|mallory' || fail "an impersonator's report was stored"
ls "$inbound" | grep -q 'report-ops-1' || fail "listed sender's report not stored"
grep -q 'FORGED' "$work/s1.err" || fail "the request with the forged description was not logged"
! grep -q '^FORGED' "$work/s1.err" || fail "peer data forged a log line"
say "1/3/4 ok: long-JID and account-at-domain impersonators forbidden, listed sender trusted; policy-excluded incident not disclosed; peer newline escaped in the log"
stop_peer

# ---- 2: spoofed acknowledgements ----
rm -f "$work/ids"
rm -rf "$work/outbox" && mkdir -p "$work/outbox"
# The real acks come 15 s after each report (under the 20 s ack timeout), so
# the forged ones below land well before them even on a loaded machine: with
# 8 s, a run at load 11-15 once saw a real ack before the spool count.
start_peer "$work/peer2.out" --ack-delay 15 --ids-out "$work/ids" --outbox "$work/outbox"
"$swreport" "${common[@]}" --peer incidents.b.test --count 3 --prefix ack --until-empty --seconds 40 \
	>"$work/s2.out" 2>"$work/s2.err" &
s2=$!
pids+=("$s2")
wait_for 10 '[ "$(wc -l <"$work/ids" 2>/dev/null || echo 0)" -ge 3 ]' || fail "reports not in flight"
args=()
while read -r id _; do
	args+=(--send "raw <iq type='result' id='$id' from='rogue.b.test' to='incidents.a.test'/>")
	args+=(--send "raw <iq type='error' id='$id' from='rogue.b.test' to='incidents.a.test'><error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>")
done <"$work/ids"
"$py" "$peer_py" --jid rogue.b.test --secret "$SW_PROSODY_ROGUE_SECRET" --port "$port" \
	--out "$work/rogue2.out" --max-seconds 2 "${args[@]}" 2>>"$work/peer.err" || true
# the same ids from an account at the peer's domain (through the peer's own connection)
while read -r id _; do
	echo "raw <iq type='result' id='$id' from='mallory@incidents.b.test' to='incidents.a.test'/>"
done <"$work/ids" >"$work/outbox/m.tmp"
mv "$work/outbox/m.tmp" "$work/outbox/m.cmd"
wait_for 5 '[ "$(count "^sent raw" "$work/peer2.out")" -ge 3 ]' || fail "peer did not send the forged results"
sleep 1
left=$(spool_files)
[ "$left" = 3 ] || fail "forged results removed spooled reports ($left of 3 left)"
wait "$s2" || fail "reports not delivered after the forged acks: $(cat "$work/s2.out")"
forget_pid "$s2"
grep -q 'acked=3 ' "$work/s2.out" || fail "expected 3 real acks: $(cat "$work/s2.out")"
grep -Eq 'spoofed=(9|[1-9][0-9])' "$work/s2.out" || fail "forged answers not counted: $(cat "$work/s2.out")"
say "2 ok: 9 forged results/errors for reports in flight ignored and counted; delivered on the peer's own results"
stop_peer

# ---- 5: a stranger's flood: every stanza refused, one warning line ----
"$swreport" "${common[@]}" --peer incidents.b.test --seconds 8 >"$work/s5.out" 2>"$work/s5.err" &
s5=$!
pids+=("$s5")
sleep 1
args=()
for i in $(seq 1 15); do args+=(--send "report incidents.a.test flood-$i"); done
hostile rogue.b.test "$SW_PROSODY_ROGUE_SECRET" "$work/rogue5.out" "${args[@]}" || fail "flood not answered"
wait "$s5" || true
forget_pid "$s5"
[ "$(count ' error forbidden$' "$work/rogue5.out")" = 15 ] || fail "flood not refused"
grep -q 'in_forbidden=15 ' "$work/s5.out" || fail "flood not counted: $(cat "$work/s5.out")"
lines=$(count 'untrusted sender' "$work/s5.err")
[ "$lines" -le 2 ] || fail "$lines warning lines for one stranger's 15 stanzas"
say "5 ok: 15 stanzas from a stranger refused and counted, $lines warning line(s)"
say "all checks passed"
