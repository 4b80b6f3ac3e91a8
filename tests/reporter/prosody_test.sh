#!/usr/bin/env bash
# reporter.prosody: the live XEP-0268 reporter against a real Prosody on
# loopback (deploy/prosody). Checks, in order:
#   1. reports reach the trusted peer component and are answered (spool empties);
#   2. inbound: a trusted peer's report and request are stored and answered,
#      an inquiry for a known incident gets a result and then a fresh report,
#      an unknown one item-not-found; an untrusted sender gets <forbidden/> and
#      nothing of it is stored;
#   3. peer down -> spool grows -> peer up -> every report delivered exactly
#      once by IncidentID;
#   4. kill -9 of the sending process while reports are in flight, restart:
#      every report arrives (duplicates allowed: same IncidentID);
#   5. a peer over its inbound rate gets resource-constraint; client-account
#      mode delivers too;
#   6. the server goes away and comes back: reconnect, spooled reports and a
#      <response/> delivered once each.
# Every process started here is stopped by pid; everything is time-bounded.
# usage: prosody_test.sh SWREPORT_BINARY SOURCE_DIR
set -euo pipefail

swreport=$1
src=$2
name=reporter.prosody
# shellcheck source=harness.sh
. "$src/tests/reporter/harness.sh"
inbound="$work/inbound"
common=(--port "$port" --secret "$SW_PROSODY_ENGINE_SECRET" --spool "$spool" --inbound "$inbound"
	--peer incidents.b.test --retry-min 300 --retry-max 1500 --ack-timeout 3000)


# ---- 1. delivery and acknowledgement ----
out="$work/peer.out"
start_peer "$out"
timeout 60 "$swreport" "${common[@]}" --count 5 --prefix deliver --until-empty --seconds 30 \
	>"$work/s1.out" 2>"$work/s1.err" || fail "reports not all acknowledged: $(cat "$work/s1.out")"
for i in 0 1 2 3 4; do
	[ "$(count "^report deliver-$i incidents.a.test\$" "$out")" = 1 ] || fail "deliver-$i not received once"
done
grep -q 'acked=5' "$work/s1.out" || fail "expected 5 acks: $(cat "$work/s1.out")"
[ "$(spool_files)" = 0 ] || fail "spool not empty"
say "1 ok: 5 reports delivered and acknowledged, spool empty"

# ---- 2. inbound: trusted report/request/inquiry, untrusted forbidden ----
"$swreport" "${common[@]}" --count 2 --prefix ask --seconds 12 --log "$work/inbound.log" \
	>"$work/s2.out" 2>"$work/s2.err" &
s2=$!
pids+=("$s2")
wait_for 10 'grep -q "^report ask-1 " "$out"' || fail "ask reports not delivered"
mkdir -p "$work/outbox"
printf '%s\n' "report incidents.a.test peer-77" "request incidents.a.test peer-77" \
	"inquiry incidents.a.test ask-0" "inquiry incidents.a.test nosuch-9" >"$work/outbox/c.tmp"
stop_peer
start_peer "$out" --outbox "$work/outbox"
mv "$work/outbox/c.tmp" "$work/outbox/c.cmd"
wait_for 10 '[ "$(count "^reply " "$out")" -ge 4 ]' || fail "peer's stanzas not all answered"
"$py" "$peer_py" --jid rogue.b.test --secret "$SW_PROSODY_ROGUE_SECRET" --port "$port" \
	--out "$work/rogue.out" --send "report incidents.a.test rogue-1" \
	--send "inquiry incidents.a.test ask-0" --exit-when-answered --max-seconds 20 \
	2>>"$work/peer.err" || fail "rogue peer got no answer"
wait "$s2" || true
forget_pid "$s2"
replies=$(grep '^reply ' "$out")
[ "$(grep -c ' result -$' <<<"$replies")" = 3 ] || fail "expected 3 results: $replies"
grep -q ' error item-not-found$' <<<"$replies" || fail "unknown inquiry not item-not-found: $replies"
wait_for 10 '[ "$(count "^report ask-0 " "$out")" = 2 ]' || fail "inquiry did not produce a second report"
[ "$(count ' error forbidden$' "$work/rogue.out")" = 2 ] || fail "rogue not refused: $(cat "$work/rogue.out")"
ls "$inbound" | grep -q 'incidents.b.test-report-peer-77' || fail "trusted report not stored"
ls "$inbound" | grep -q 'incidents.b.test-request-peer-77' || fail "request not stored"
! grep -rq 'rogue' "$inbound" || fail "untrusted stanza stored"
grep -q '"peer":"incidents.b.test","from":"incidents.b.test","kind":"report"' "$inbound/inbound.jsonl" ||
	fail "inbound JSON line missing"
grep -q '"kind":"request"' "$work/inbound.log" || fail "request not in the JSON Lines log"
grep -q 'in_forbidden=2' "$work/s2.out" || fail "forbidden counter: $(cat "$work/s2.out")"
grep -q 'operator decision needed' "$work/s2.err" || fail "request not surfaced in the log"
say "2 ok: trusted report/request stored, inquiry answered, unknown item-not-found, untrusted forbidden"

# ---- 3. peer down: spool grows; peer back: exactly once each ----
stop_peer
timeout 30 "$swreport" "${common[@]}" --count 6 --prefix down --seconds 3 >"$work/s3.out" 2>"$work/s3.err" || true
n=$(spool_files)
[ "$n" = 6 ] || fail "expected 6 spooled reports while the peer is down, found $n"
grep -q 'acked=0' "$work/s3.out" || fail "something was acked with the peer down: $(cat "$work/s3.out")"
out3="$work/peer3.out"
start_peer "$out3"
timeout 60 "$swreport" "${common[@]}" --count 0 --until-empty --seconds 30 >"$work/s3b.out" 2>"$work/s3b.err" ||
	fail "spool did not drain after the peer returned"
for i in 0 1 2 3 4 5; do
	[ "$(count "^report down-$i " "$out3")" = 1 ] || fail "down-$i delivered $(count "^report down-$i " "$out3") times"
done
say "3 ok: 6 reports spooled while the peer was down, each delivered exactly once after"
stop_peer

# ---- 4. kill -9 mid-flight, restart: nothing lost ----
out4="$work/peer4.out"
start_peer "$out4" --ack-delay 0.3
# not under timeout(1): the pid must be the sender itself (it bounds itself with --seconds)
"$swreport" "${common[@]}" --count 30 --prefix kill --until-empty --seconds 40 \
	>"$work/s4.out" 2>"$work/s4.err" &
s4=$!
pids+=("$s4")
wait_for 20 'grep -q "^spooled 30" "$work/s4.out"' || fail "sender did not spool"
wait_for 20 '[ "$(count "^report kill-" "$out4")" -ge 3 ]' || fail "nothing in flight"
kill -KILL "$s4"
wait "$s4" 2>/dev/null || true
forget_pid "$s4"
left=$(spool_files)
got=$(grep '^report kill-' "$out4" | awk '{print $2}' | sort -u | wc -l)
say "killed sender with $left reports spooled, $got distinct delivered"
[ "$left" -gt 0 ] || fail "kill came too late to test anything (spool empty)"
timeout 60 "$swreport" "${common[@]}" --count 0 --until-empty --seconds 40 >"$work/s4b.out" 2>"$work/s4b.err" ||
	fail "restarted sender did not drain the spool"
for i in $(seq 0 29); do
	[ "$(count "^report kill-$i " "$out4")" -ge 1 ] || fail "kill-$i lost"
done
dups=$(grep '^report kill-' "$out4" | awk '{print $2}' | sort | uniq -d | wc -l)
say "4 ok: all 30 reports delivered after kill -9 and restart ($dups duplicate(s), harmless)"
stop_peer

# ---- 5. per-peer inbound rate limit; client-account mode ----
out5="$work/peer5.out"
rm -rf "$work/outbox" && mkdir -p "$work/outbox"
start_peer "$out5" --outbox "$work/outbox"
"$swreport" "${common[@]}" --count 0 --rate 2 --seconds 8 >"$work/s5.out" 2>"$work/s5.err" &
s5=$!
pids+=("$s5")
wait_for 10 'grep -q "^connected" "$work/s5.out"' || fail "rate-limit sender did not connect"
printf '%s\n' "report incidents.a.test rl-1" "report incidents.a.test rl-2" \
	"report incidents.a.test rl-3" "report incidents.a.test rl-4" >"$work/outbox/r.tmp"
mv "$work/outbox/r.tmp" "$work/outbox/r.cmd"
wait_for 10 '[ "$(count "^reply " "$out5")" -ge 4 ]' || fail "rate-limited stanzas not answered"
[ "$(count ' result -$' "$out5")" = 2 ] || fail "burst of 2 not accepted: $(cat "$out5")"
[ "$(count ' error resource-constraint$' "$out5")" = 2 ] || fail "over-rate not refused: $(cat "$out5")"
wait "$s5" || true
forget_pid "$s5"
grep -q 'in_rate_limited=2' "$work/s5.out" || fail "rate-limit counter: $(cat "$work/s5.out")"
say "5a ok: peer rate limit 2/min: 2 accepted, 2 refused with resource-constraint"

prosodyctl --config "$pdir/prosody.cfg.lua" register reporter a.test client-pass >/dev/null 2>&1 ||
	fail "cannot register the client account"
timeout 60 "$swreport" --client reporter@a.test --password client-pass --client-port "$SW_PROSODY_C2S_PORT" \
	--spool "$work/spool-client" --inbound "$inbound" --peer incidents.b.test --count 3 --prefix client \
	--until-empty --seconds 30 >"$work/s6.out" 2>"$work/s6.err" || fail "client mode: $(cat "$work/s6.out")"
for i in 0 1 2; do
	grep -q "^report client-$i reporter@a.test/" "$out5" || fail "client-$i not delivered from the account"
done
say "5b ok: client-account mode delivered 3 reports"
stop_peer

# ---- 6. the server itself goes away: spool, reconnect, deliver ----
"$src/deploy/prosody/stop.sh" "$pdir"
"$swreport" "${common[@]}" --count 4 --prefix srv --respond "b.test peer-77 investigate" \
	--until-empty --seconds 60 >"$work/s7.out" 2>"$work/s7.err" &
s7=$!
pids+=("$s7")
wait_for 10 'grep -q "^spooled 4" "$work/s7.out"' || fail "not spooled with the server down"
sleep 2
SW_PROSODY_DIR="$pdir" SW_PROSODY_C2S_PORT="$SW_PROSODY_C2S_PORT" SW_PROSODY_COMPONENT_PORT="$port" \
	"$src/deploy/prosody/start.sh" >/dev/null || fail "prosody did not restart on the same ports"
out7="$work/peer7.out"
start_peer "$out7"
wait "$s7" || fail "reports spooled while the server was down were not delivered: $(cat "$work/s7.out")"
forget_pid "$s7"
for i in 0 1 2 3; do
	[ "$(count "^report srv-$i " "$out7")" = 1 ] || fail "srv-$i not delivered exactly once"
done
[ "$(count "^response peer-77 investigate\$" "$out7")" = 1 ] || fail "response not delivered once"
say "6 ok: server down then back: reconnected, 4 spooled reports and 1 response delivered once each"
stop_peer
say "all checks passed"
