#!/usr/bin/env bash
# bench/ejabberd_record_bench.sh [OLD_MODULE_FILE] [ITERATIONS] [ROUNDS]
#
# CPU of deploy/ejabberd/mod_stanzawatch.erl's record/1 (the compact record:
# limit checks + fxml serialisation, what the hook adds per stanza besides
# the cast to the writer), paired against an older module in the same VM:
# OLD_MODULE_FILE (default: main's, from git) is compiled renamed to
# mod_stanzawatch_old, both are loaded, and each round times ITERATIONS
# records of each version (order alternating per round) over the same three
# decoded client stanzas as bench/ejabberd_hook_bench.erl (its stanzas/0)
# and bench/prosody_hook_bench.sh (groupchat flood message, chat message
# with receipts/markers/origin-id/chatstate, presence with caps, vcard
# update, show, status, priority). Prints per version the median (min to
# max) ns of VM CPU time per record over ROUNDS rounds (statistics(runtime):
# ms resolution, so ITERATIONS x ~2 us should be well above 1 ms; CPU time,
# so time the VM spends descheduled on a busy machine does not count),
# reductions per record (the VM's count of function calls: repeatable under
# load, but a NIF call counts as one) and the per-round new/old CPU ratio.
# No server, no sockets; the records' sizes are printed (ctest live.compact
# checks what they mean). Exit 77 when ejabberd or erlc is missing.
set -euo pipefail
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
iters=${2:-100000}
rounds=${3:-10}
ej=$(ls -d /usr/lib/x86_64-linux-gnu/ejabberd-*/ 2>/dev/null | head -1 || true)
xmpp_inc=$(ls -d /usr/lib/erlang/lib/p1_xmpp-*/include 2>/dev/null | head -1 || true)
if [ -z "$ej" ] || [ -z "$xmpp_inc" ] || ! command -v erlc >/dev/null; then
	echo "ejabberd_record_bench: ejabberd or erlc not installed" >&2
	exit 77
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/sw-ejrec.XXXXXX")
trap 'rm -rf -- "$work"' EXIT
if [ -n "${1:-}" ]; then
	cp "$1" "$work/old.erl"
else
	git -C "$src" show main:deploy/ejabberd/mod_stanzawatch.erl >"$work/old.erl"
fi
sed 's/^-module(mod_stanzawatch)\./-module(mod_stanzawatch_old)./; s/?MODULE/mod_stanzawatch_old/g' \
	"$work/old.erl" >"$work/mod_stanzawatch_old.erl"
cp "$src/deploy/ejabberd/mod_stanzawatch.erl" "$work/mod_stanzawatch.erl"
mkdir -p "$work/ebin"
erlc -I "$ej/include" -I "$xmpp_inc" -pa "$ej/ebin" -o "$work/ebin" \
	"$work/mod_stanzawatch.erl" "$work/mod_stanzawatch_old.erl" "$src/bench/ejabberd_hook_bench.erl"
echo "ejabberd_record_bench: load average $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores" >&2
cat >"$work/bench.escript" <<'ERL'
%%! -noshell
-mode(compile).
main([Ebin, Iters, Rounds]) ->
    true = code:add_patha(Ebin),
    {ok, _} = application:ensure_all_started(xmpp),
    N = list_to_integer(Iters),
    Pkts = [xmpp:decode(fxml_stream:parse_element(X), <<"jabber:client">>, [ignore_els])
            || X <- ejabberd_hook_bench:stanzas()],
    io:format("record bytes (old -> new): ~p~n",
              [[{byte_size(mod_stanzawatch_old:record(P)), byte_size(mod_stanzawatch:record(P))}
                || P <- Pkts]]),
    Res = [begin
               Order = case R rem 2 of 0 -> [new, old]; 1 -> [old, new] end,
               [{M, run(M, N, Pkts)} || M <- Order]
           end || R <- lists:seq(1, list_to_integer(Rounds))],
    All = lists:append(Res),
    [begin
         Ns = lists:sort([T || {M1, {T, _}} <- All, M1 =:= M]),
         Rd = lists:sort([Rr || {M1, {_, Rr}} <- All, M1 =:= M]),
         io:format("~s: ~.1f ns CPU per record (~.1f to ~.1f), ~.1f reductions per record~n",
                   [M, median(Ns), hd(Ns), lists:last(Ns), median(Rd)])
     end || M <- [old, new]],
    Ratio = lists:sort([Tn / To || Rp <- Res, {new, {Tn, _}} <- Rp, {old, {To, _}} <- Rp]),
    io:format("new/old per round: median ~.3f (~.3f to ~.3f)~n",
              [median(Ratio), hd(Ratio), lists:last(Ratio)]).

%% ns and reductions per record over N records (N / 3 of each stanza)
run(new, N, Pkts) -> run1(mod_stanzawatch, N, Pkts);
run(old, N, Pkts) -> run1(mod_stanzawatch_old, N, Pkts).

run1(M, N, Pkts) ->
    garbage_collect(),
    {reductions, R0} = process_info(self(), reductions),
    {C0, _} = statistics(runtime),
    loop(M, N div 3, Pkts),
    {C1, _} = statistics(runtime),
    {reductions, R1} = process_info(self(), reductions),
    K = (N div 3) * 3,
    {(C1 - C0) * 1.0e6 / K, (R1 - R0) / K}.

loop(_, 0, _) -> ok;
loop(M, I, [A, B, C] = Pkts) ->
    M:record(A), M:record(B), M:record(C),
    loop(M, I - 1, Pkts).

median(L) -> lists:nth((length(L) + 1) div 2, L).

ERL
escript "$work/bench.escript" "$work/ebin" "$iters" "$rounds"
