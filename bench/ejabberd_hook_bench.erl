%%% ejabberd_hook_bench: in-server benchmark of mod_stanzawatch.erl's hook path
%%% (bench/ejabberd_hook_bench.sh starts a private ejabberd with it; not for
%%% production servers).
%%%
%%% Inside the running ejabberd VM, 3 s after mod_stanzawatch on a.test
%%% connected to a real `stanzawatch run` socket tap, it runs the
%%% user_send_packet hook fold of a.test (ejabberd_hooks:run_fold, as a c2s
%%% process does for every stanza a client sends) over the same three
%%% decoded client stanzas as bench/prosody_hook_bench.sh, alternating two
%%% windows per round (order rotated): "on" with the module's hook
%%% registered, "off" with it removed. A window fires STANZAS folds in chunks
%%% of 50 with 5 ms pauses (the module's writer batches and sends meanwhile),
%%% then waits 0.2 s; its CPU is the whole VM's (every thread's
%%% /proc/self/task/*/schedstat, ns). Prints per window
%%%   ejbench: round R mode on|off stanzas N cpu_s S
%%% and "ejbench: done". Threading: one bench process.
-module(ejabberd_hook_bench).
-export([start/0, stanzas/0]). %% stanzas/0: bench/ejabberd_record_bench.sh too

-include("xmpp.hrl").

-define(HOST, <<"a.test">>).

start() ->
    Rounds = list_to_integer(os:getenv("EJBENCH_ROUNDS", "20")),
    N = list_to_integer(os:getenv("EJBENCH_STANZAS", "2000")),
    %% 3 s after connecting: ejabberd's own start-up work is over
    spawn(fun() -> wait_up(600), timer:sleep(3000), run(Rounds, N) end).

wait_up(0) ->
    io:format("ejbench: module never connected~n"), halt(1);
wait_up(K) ->
    case persistent_term:get({mod_stanzawatch, ?HOST}, undefined) of
        {Ref, _, _} ->
            case atomics:get(Ref, 4) of
                1 -> ok;
                _ -> timer:sleep(100), wait_up(K - 1)
            end;
        undefined -> timer:sleep(100), wait_up(K - 1)
    end.

stanzas() ->
    [<<"<message xmlns='jabber:client' from='flooder1@a.test/slix' to='bench@rooms.a.test' "
       "type='groupchat' id='6f1c2e0a9b' xml:lang='en'><body>flood 1234 from flooder1: buy cheap "
       "followers now</body></message>">>,
     <<"<message xmlns='jabber:client' from='alice@a.test/Conversations.x7Yz' to='bob@a.test' "
       "type='chat' id='3f2b1e4c-7a8d-4e2f-9b1c-0d5e6f7a8b9c' xml:lang='en'><body>see you at the "
       "station in 10 min?</body><request xmlns='urn:xmpp:receipts'/><markable "
       "xmlns='urn:xmpp:chat-markers:0'/><origin-id xmlns='urn:xmpp:sid:0' "
       "id='3f2b1e4c-7a8d-4e2f-9b1c-0d5e6f7a8b9c'/><active "
       "xmlns='http://jabber.org/protocol/chatstates'/></message>">>,
     <<"<presence xmlns='jabber:client' from='alice@a.test/Conversations.x7Yz' to='bob@a.test' "
       "id='p7Hk2' xml:lang='en'><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' "
       "node='http://conversations.im' ver='zVzZ0PnJ2s2Xw5gqO7o5oRj8y0s='/><x "
       "xmlns='vcard-temp:x:update'><photo>6b8d7e0f3a2c1b9e8d7f6a5b4c3d2e1f0a9b8c7d</photo></x>"
       "<show>away</show><status>in a meeting</status><priority>0</priority></presence>">>].

run(Rounds, N) ->
    Pkts = list_to_tuple([xmpp:decode(fxml_stream:parse_element(X), ?NS_CLIENT, [ignore_els])
                          || X <- stanzas()]),
    lists:foreach(
      fun(R) ->
              Modes = case R rem 2 of 0 -> [on, off]; 1 -> [off, on] end,
              [window(R, M, N, Pkts) || M <- Modes]
      end, lists:seq(1, Rounds)),
    set_hook(on),
    io:format("ejbench: done~n").

set_hook(on) ->
    ejabberd_hooks:add(user_send_packet, ?HOST, mod_stanzawatch, user_send_packet, 10);
set_hook(off) ->
    ejabberd_hooks:delete(user_send_packet, ?HOST, mod_stanzawatch, user_send_packet, 10).

window(R, Mode, N, Pkts) ->
    set_hook(Mode),
    timer:sleep(50),
    C0 = cpu_ns(),
    fire(0, N, Pkts),
    timer:sleep(200),
    C1 = cpu_ns(),
    io:format("ejbench: round ~B mode ~s stanzas ~B cpu_s ~.6f~n", [R, Mode, N, (C1 - C0) / 1.0e9]).

fire(I, N, _) when I >= N -> ok;
fire(I, N, Pkts) ->
    K = min(50, N - I),
    lists:foreach(
      fun(J) ->
              Pkt = element((I + J) rem tuple_size(Pkts) + 1, Pkts),
              ejabberd_hooks:run_fold(user_send_packet, ?HOST,
                                      {Pkt, #{lserver => ?HOST, jid => xmpp:get_from(Pkt)}}, [])
      end, lists:seq(0, K - 1)),
    timer:sleep(5),
    fire(I + K, N, Pkts).

cpu_ns() ->
    {ok, Tids} = file:list_dir("/proc/self/task"),
    lists:sum([case file:read_file("/proc/self/task/" ++ T ++ "/schedstat") of
                   {ok, B} -> binary_to_integer(hd(binary:split(B, <<" ">>)));
                   _ -> 0
               end || T <- Tids]).
