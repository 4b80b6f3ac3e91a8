%%% mod_stanzawatch: mirror a host's stanzas to stanzawatch's socket tap, cheaply.
%%%
%%% The ejabberd counterpart of deploy/prosody/mod_stanzawatch.lua, same
%%% contract (include/sw/live.h): one stream per connection,
%%%   <stream:stream xmlns='jabber:client' xmlns:stream=... node='N' dropped='D'>
%%% then per stanza <w n='SEQ' t='EPOCH_MS'>STANZA</w>, SEQ counting every
%%% stanza seen (sent or dropped; given by the writer, so a jump is a drop),
%%% t the arrival stamp (taken in the hook), STANZA serialised once.
%%%
%%% Hooks (what deploy/prosody/mod_stanzawatch.lua mirrors: what local
%%% clients send, and what reaches this host or its services from outside):
%%%   user_send_packet      (per host) what this host's clients send
%%%   s2s_receive_packet    (per host) what remote servers send to this host
%%%                         or to a service it serves: ejabberd_s2s_in folds
%%%                         it at host_of_route(To) (ejabberd 23.01), e.g.
%%%                         a.test for rooms.a.test, so a remote occupant's
%%%                         groupchat, presence, private messages and
%%%                         mediated invites to rooms are all seen here
%%%   component_send_packet (global, once for all hosts) what an external
%%%                         component (XEP-0114: bridges, bots) sends to a
%%%                         host running the module or one of its services
%%% Each stanza is mirrored once, under the host its recipient's domain is
%%% routed to. A local user's stanza to a room is mirrored by user_send_packet
%%% on the sender's host; the room's own fan-out is not mirrored. (Earlier
%%% versions used the MUC hooks muc_filter_message/presence for remote
%%% occupants: they run only for groupchat a room accepted and for joins and
%%% leaves, so remote private messages, invites and refused messages to
%%% rooms were never mirrored.) Enable the module on every local vhost
%%% whose users should be watched (users of a vhost without it are not
%%% mirrored, not even at a room of a vhost with it), and on the MUC
%%% service's host.
%%%
%%% Never blocks a c2s/s2s process: the hook serialises the stanza and casts
%%% it to this host's writer process, unless more than max_pending bytes are
%%% waiting there (or the tap is down): then it drops and counts (atomics, no
%%% message). The writer batches what arrives within 10 ms of a batch's first
%%% stanza (or 64 KB) into one gen_tcp:send (earlier it sent whenever its
%%% mailbox was empty: under moderate load that was one send per stanza),
%%% reconnects quietly with backoff (1 s doubling to 30 s), logs drops at most
%%% once a minute and sends a whitespace keepalive every 30 s.
%%%
%%% Build against Debian's ejabberd (headers in its include/ directory):
%%%   erlc -I /usr/lib/x86_64-linux-gnu/ejabberd-23.01-1/include \
%%%        -I /usr/lib/erlang/lib/p1_xmpp-1.6.1/include \
%%%        -pa /usr/lib/x86_64-linux-gnu/ejabberd-23.01-1/ebin mod_stanzawatch.erl
%%% and put mod_stanzawatch.beam on ejabberd's code path (e.g. its ebin/).
%%% ejabberd.yml:
%%%   modules:
%%%     mod_stanzawatch:
%%%       socket: "unix:/run/stanzawatch/tap.sock"   # or "127.0.0.1:5290"
%%%       max_pending: 4194304
-module(mod_stanzawatch).
-behaviour(gen_mod).
-behaviour(gen_server).

-export([start/2, stop/1, reload/3, depends/2, mod_opt_type/1, mod_options/1, mod_doc/0]).
-export([user_send_packet/1, s2s_receive_packet/1, component_send_packet/1]).
-export([record/1]). %% tests/live/compact_check.escript
-export([start_link/2, init/1, handle_call/3, handle_cast/2, handle_info/2, terminate/2,
         code_change/3]).

-include("logger.hrl").
-include("xmpp.hrl").

%% atomics slots
-define(PENDING, 2).
-define(DROPPED, 3).
-define(UP, 4).
-define(SENT, 5).

-record(st, {host, spec, node, sock = undefined, q = [], qbytes = 0, backoff = 1000,
             ref, max_pending, logged_drops = 0, last_log = 0, idle = true, n = 0, seen = 0,
             armed = false}).

%% A batch is sent FLUSH_MS after its first stanza, or at BATCH_BYTES.
-define(FLUSH_MS, 10).
-define(BATCH_BYTES, 65536).

%%% ---------------------------------------------------------------- gen_mod

start(Host, Opts) ->
    Spec = gen_mod:get_opt(socket, Opts),
    Max = gen_mod:get_opt(max_pending, Opts),
    Node = case gen_mod:get_opt(node, Opts) of undefined -> Host; N -> N end,
    Ref = atomics:new(5, [{signed, true}]),
    persistent_term:put({?MODULE, Host}, {Ref, Max, proc(Host)}),
    ejabberd_hooks:add(user_send_packet, Host, ?MODULE, user_send_packet, 10),
    ejabberd_hooks:add(s2s_receive_packet, Host, ?MODULE, s2s_receive_packet, 10),
    %% global: added once however many hosts run the module (ejabberd_hooks
    %% ignores a second add of the same hook)
    ejabberd_hooks:add(component_send_packet, ?MODULE, component_send_packet, 10),
    Child = #{id => proc(Host), start => {?MODULE, start_link, [Host, {Spec, Node, Ref, Max}]},
              restart => transient, shutdown => 2000, type => worker, modules => [?MODULE]},
    case supervisor:start_child(ejabberd_gen_mod_sup, Child) of
        {ok, _} -> ok;
        {error, {already_started, _}} -> ok;
        Err -> Err
    end.

stop(Host) ->
    ejabberd_hooks:delete(user_send_packet, Host, ?MODULE, user_send_packet, 10),
    ejabberd_hooks:delete(s2s_receive_packet, Host, ?MODULE, s2s_receive_packet, 10),
    case gen_mod:is_loaded_elsewhere(Host, ?MODULE) of
        true -> ok;
        false -> ejabberd_hooks:delete(component_send_packet, ?MODULE, component_send_packet, 10)
    end,
    _ = supervisor:terminate_child(ejabberd_gen_mod_sup, proc(Host)),
    _ = supervisor:delete_child(ejabberd_gen_mod_sup, proc(Host)),
    persistent_term:erase({?MODULE, Host}),
    ok.

reload(Host, NewOpts, _OldOpts) ->
    stop(Host),
    start(Host, NewOpts).

depends(_Host, _Opts) -> [].

mod_opt_type(socket) -> econf:binary();
mod_opt_type(max_pending) -> econf:pos_int();
mod_opt_type(node) -> econf:either(undefined, econf:binary()).

mod_options(_Host) ->
    [{socket, <<"unix:/run/stanzawatch/tap.sock">>}, {max_pending, 4194304}, {node, undefined}].

mod_doc() ->
    #{desc => ["Mirror message and presence stanzas to stanzawatch's socket tap "
               "(never blocks; drops and counts when stanzawatch is slow or down)."]}.

proc(Host) -> gen_mod:get_module_proc(Host, ?MODULE).

%%% ------------------------------------------------------------------ hooks

user_send_packet({Pkt, #{lserver := Host}} = Acc) ->
    tap(Host, Pkt),
    Acc;
user_send_packet(Acc) ->
    Acc.

s2s_receive_packet({Pkt, _State} = Acc) ->
    tap_routed(Pkt),
    Acc;
s2s_receive_packet(Acc) ->
    Acc.

component_send_packet({Pkt, _State} = Acc) ->
    tap_routed(Pkt),
    Acc;
component_send_packet(Acc) ->
    Acc.

%% Under the host the recipient's domain is routed to: the domain itself
%% for a vhost (one persistent_term read, the usual case), else its route's
%% server host (an ets read: rooms.a.test -> a.test); nothing when the
%% domain is not routed here or its host does not run the module.
tap_routed(Pkt) when is_record(Pkt, message); is_record(Pkt, presence) ->
    try xmpp:get_to(Pkt) of
        #jid{lserver = To} ->
            case persistent_term:get({?MODULE, To}, undefined) of
                undefined -> tap(ejabberd_router:host_of_route(To), Pkt);
                Conf -> tap_conf(Conf, Pkt)
            end;
        _ -> ok
    catch _:_ -> ok
    end;
tap_routed(_Pkt) ->
    ok.

tap(Host, Pkt) when is_record(Pkt, message); is_record(Pkt, presence) ->
    tap_conf(persistent_term:get({?MODULE, Host}, undefined), Pkt);
tap(_Host, _Pkt) ->
    ok.

tap_conf(undefined, _Pkt) ->
    ok;
tap_conf({Ref, Max, Proc}, Pkt) ->
    try
        case atomics:get(Ref, ?UP) =:= 1 andalso atomics:get(Ref, ?PENDING) =< Max of
            true ->
                T = erlang:system_time(millisecond),
                Bin = record(Pkt),
                atomics:add(Ref, ?PENDING, byte_size(Bin)),
                gen_server:cast(Proc, {stanza, T, Bin});
            false ->
                atomics:add(Ref, ?DROPPED, 1)
        end
    catch _:_ ->
        atomics:add(Ref, ?DROPPED, 1)
    end.

%%% --------------------------------------------------------- compact record

%% The stanza as stanzawatch's parser (engine/xml.c) needs it, the same
%% record deploy/prosody/mod_stanzawatch.lua writes: from, to, type, id (an
%% absent one as ''), the first body/subject (message) or status (presence),
%% the first XEP-0172 nick, every delay (from, stamp), the MUC and
%% conference x flags. Serialised by fxml's NIF (escaping included); no
%% xmpp:encode of the whole stanza, the costliest step before.
%%
%% The whole stanza (xmpp:encode) instead when the record could make a
%% different event than it (tests/live/compact_test.sh checks both):
%%  - a wrapper the parser looks into (forwarded, carbons, a muc#user x with
%%    children) or a decoded child record in sub_els;
%%  - an undecoded <body/>, <subject/> or <status/> in sub_els (one in a
%%    foreign namespace): xmpp:encode writes sub_els before the decoded
%%    texts and the parser takes the first element of that name;
%%  - a limit (the parser's defaults: keep stanzawatch's limits at or above
%%    these): an element 32 levels below the stanza, an attribute value of
%%    4096 bytes or more anywhere xmpp:encode writes one (the stanza's
%%    xml:lang; every body, subject and status's xml:lang, not only the
%%    first's; the thread's parent; any attribute of any sub_els element),
%%    or a stanza that might serialise to 262144 bytes (a bound: 6 x every
%%    attribute, text and element name byte xmpp:encode writes, plus
%%    markup). Texts over the parser's text limit need no check: the record
%%    keeps the texts the parser reads whole.
%% A decoded message holds, besides sub_els: lang, subject, body, thread
%% (xmpp_codec.hrl); a presence: lang, show (an atom), status, priority.
-define(MAX_DEPTH, 32).
-define(MAX_ATTR, 4096).
-define(MAX_STANZA, 262144).

record(Pkt) ->
    try compact(Pkt) of
        El -> fxml:element_to_binary(El)
    catch throw:whole ->
        fxml:element_to_binary(xmpp:encode(Pkt))
    end.

compact(#message{from = F, to = T, type = Ty, id = Id, lang = L, body = B, subject = Sj,
                 thread = Th, sub_els = Els}) ->
    Kids = scan(Els, 0, [], false),
    Size = attr(L) + thread(Th) + texts(B, texts(Sj, 0)),
    Text = first(<<"body">>, B, first(<<"subject">>, Sj, [])),
    el(<<"message">>, F, T, atom_to_binary(Ty), Id, Size, Text, Kids);
compact(#presence{from = F, to = T, type = Ty, id = Id, lang = L, status = St, priority = P,
                  sub_els = Els}) ->
    Kids = scan(Els, 0, [], false),
    %% show is an atom (at most 4 bytes); a priority beyond XMPP's -128..127
    %% is sent whole rather than bounded by its digits (xmpp accepts any
    %% integer: a 262144-digit one would pass the size bound; live.compact
    %% leaves that case out, converting such an integer takes seconds)
    is_integer(P) andalso (P > 127 orelse P < -128) andalso throw(whole),
    Size = attr(L) + texts(St, 0) + 64,
    Type = case Ty of available -> <<>>; _ -> atom_to_binary(Ty) end,
    el(<<"presence">>, F, T, Type, Id, Size, first(<<"status">>, St, []), Kids).

el(Name, F, T, Type, Id, Size, Text, {KidsSize, Out}) ->
    From = jid_bin(F),
    To = jid_bin(T),
    Body = byte_size(From) + byte_size(To) + byte_size(Id) + Size + KidsSize,
    (byte_size(From) >= ?MAX_ATTR orelse byte_size(To) >= ?MAX_ATTR orelse
     byte_size(Id) >= ?MAX_ATTR orelse 6 * Body + 512 >= ?MAX_STANZA) andalso throw(whole),
    #xmlel{name = Name,
           attrs = [{<<"from">>, From}, {<<"to">>, To}, {<<"type">>, Type}, {<<"id">>, Id}],
           children = Text ++ lists:reverse(Out)}.

%% jid:encode's result in one binary construction (it makes up to three)
jid_bin(undefined) -> <<>>;
jid_bin(#jid{user = U, server = S, resource = R}) when is_binary(U), is_binary(S), is_binary(R) ->
    case {U, R} of
        {<<>>, <<>>} -> S;
        {<<>>, _} -> <<S/binary, $/, R/binary>>;
        {_, <<>>} -> <<U/binary, $@, S/binary>>;
        _ -> <<U/binary, $@, S/binary, $/, R/binary>>
    end;
jid_bin(J) -> jid:encode(J).

%% an attribute value xmpp:encode writes: its bytes; throws at the limit
attr(V) ->
    byte_size(V) >= ?MAX_ATTR andalso throw(whole),
    byte_size(V).

thread(undefined) -> 0;
thread(#message_thread{parent = P, data = D}) -> attr(P) + byte_size(D) + 24.

%% bytes of a list of #text{} (xml:lang and data, 16 for the markup) plus S
texts([], S) -> S;
texts([#text{lang = L, data = D} | Rest], S) -> texts(Rest, S + attr(L) + byte_size(D) + 16).

%% the first of a text list as an element before Acc (the parser reads only
%% the first; its xml:lang is not read)
first(_, [], Acc) -> Acc;
first(Name, [#text{data = D} | _], Acc) -> [#xmlel{name = Name, children = [{xmlcdata, D}]} | Acc].

%% Children (sub_els): {size bound, what the record keeps (reversed)};
%% Nick: the first nick was kept.
scan([], Size, Out, _Nick) -> {Size, Out};
scan([#xmlel{name = N, attrs = A, children = C} = El | Rest], Size0, Out, Nick) ->
    Size = Size0 + bound(El, 1),
    Xmlns = case lists:keyfind(<<"xmlns">>, 1, A) of {_, V} -> V; false -> <<>> end,
    case {N, Xmlns} of
        {<<"delay">>, ?NS_DELAY} -> scan(Rest, Size, [delay(N, Xmlns, A) | Out], Nick);
        {<<"x">>, <<"jabber:x:delay">>} -> scan(Rest, Size, [delay(N, Xmlns, A) | Out], Nick);
        {<<"x">>, ?NS_MUC} -> scan(Rest, Size, [flag(N, Xmlns) | Out], Nick);
        {<<"x">>, <<"jabber:x:conference">>} -> scan(Rest, Size, [flag(N, Xmlns) | Out], Nick);
        {<<"x">>, ?NS_MUC_USER} -> has_el(C) andalso throw(whole), scan(Rest, Size, Out, Nick);
        {<<"nick">>, ?NS_NICK} when not Nick ->
            K = #xmlel{name = N, attrs = [{<<"xmlns">>, Xmlns}],
                       children = [{xmlcdata, fxml:get_cdata(C)}]},
            scan(Rest, Size, [K | Out], true);
        {<<"forwarded">>, ?NS_FORWARD} -> throw(whole);
        {<<"sent">>, ?NS_CARBONS_2} -> throw(whole);
        {<<"received">>, ?NS_CARBONS_2} -> throw(whole);
        {<<"body">>, _} -> throw(whole);
        {<<"subject">>, _} -> throw(whole);
        {<<"status">>, _} -> throw(whole);
        _ -> scan(Rest, Size, Out, Nick)
    end;
scan([_Decoded | _], _, _, _) ->
    throw(whole).

flag(N, Xmlns) -> #xmlel{name = N, attrs = [{<<"xmlns">>, Xmlns}]}.

delay(N, Xmlns, A) ->
    #xmlel{name = N, attrs = [{<<"xmlns">>, Xmlns} | [KV || {K, _} = KV <- A,
                                                            K =:= <<"from">> orelse K =:= <<"stamp">>]]}.

has_el(C) -> lists:any(fun(X) -> is_record(X, xmlel) end, C).

%% bytes bound of an element and its descendants (name, attributes, text);
%% throws at a limit
bound(#xmlel{name = N, attrs = A, children = C}, Level) ->
    Level >= ?MAX_DEPTH andalso throw(whole),
    bound_attrs(A, bound_kids(C, Level, 8 + byte_size(N))).

bound_attrs([], S) -> S;
bound_attrs([{K, V} | Rest], S) ->
    byte_size(V) >= ?MAX_ATTR andalso throw(whole),
    bound_attrs(Rest, S + byte_size(K) + byte_size(V) + 4).

bound_kids([], _, S) -> S;
bound_kids([#xmlel{} = E | Rest], Level, S) -> bound_kids(Rest, Level, S + bound(E, Level + 1));
bound_kids([{xmlcdata, D} | Rest], Level, S) -> bound_kids(Rest, Level, S + byte_size(D));
bound_kids([_ | Rest], Level, S) -> bound_kids(Rest, Level, S).

%%% ----------------------------------------------------------------- writer

start_link(Host, Args) ->
    gen_server:start_link({local, proc(Host)}, ?MODULE, {Host, Args}, []).

init({Host, {Spec, Node, Ref, Max}}) ->
    process_flag(trap_exit, true),
    self() ! connect,
    erlang:send_after(30000, self(), keepalive),
    {ok, #st{host = Host, spec = Spec, node = Node, ref = Ref, max_pending = Max}}.

handle_call(_Req, _From, S) ->
    {reply, ok, S}.

%% The sequence number is given here, in arrival order at the writer (c2s
%% processes race to it): each stanza gets the next number plus the drops
%% counted since the previous one, so the tap's gaps equal our drops.
handle_cast({stanza, T, Bin}, #st{q = Q, qbytes = B, n = N, seen = Seen, ref = Ref} = S) ->
    D = atomics:get(Ref, ?DROPPED),
    N1 = N + 1 + (D - Seen),
    W = [<<"<w n='">>, integer_to_binary(N1), <<"' t='">>, integer_to_binary(T), <<"'>">>, Bin,
         <<"</w>\n">>],
    S1 = S#st{q = [W | Q], qbytes = B + byte_size(Bin), n = N1, seen = D},
    if S1#st.qbytes >= ?BATCH_BYTES -> {noreply, flush(S1)};
       S1#st.armed -> {noreply, S1};
       true ->
            erlang:send_after(?FLUSH_MS, self(), flush),
            {noreply, S1#st{armed = true}}
    end;
handle_cast(_Msg, S) ->
    {noreply, S}.

%% the batch timer: one gen_tcp:send for everything queued since
handle_info(flush, S) ->
    {noreply, flush(S#st{armed = false})};
handle_info(connect, #st{sock = undefined} = S) ->
    {noreply, connect(S)};
handle_info(keepalive, #st{sock = Sock, idle = Idle} = S) ->
    erlang:send_after(30000, self(), keepalive),
    S1 = case Sock =/= undefined andalso Idle of
             true -> send(S, <<" ">>);
             false -> S
         end,
    {noreply, log_drops(S1#st{idle = true})};
handle_info({tcp_closed, Sock}, #st{sock = Sock} = S) ->
    {noreply, down(S, closed)};
handle_info({tcp_error, Sock, Why}, #st{sock = Sock} = S) ->
    {noreply, down(S, Why)};
handle_info({tcp, _Sock, _Data}, S) ->
    {noreply, S};
handle_info(_Info, S) ->
    {noreply, S}.

terminate(_Reason, #st{sock = Sock, ref = Ref}) ->
    atomics:put(Ref, ?UP, 0),
    case Sock of undefined -> ok; _ -> gen_tcp:close(Sock) end.

code_change(_Old, S, _Extra) ->
    {ok, S}.

address(<<"unix:", Path/binary>>) ->
    {ok, {local, binary_to_list(Path)}, 0};
address(Spec) ->
    case binary:split(Spec, <<":">>, [trim_all]) of
        [H, P] ->
            case inet:parse_address(binary_to_list(H)) of
                {ok, IP} -> {ok, IP, binary_to_integer(P)};
                _ -> error
            end;
        _ -> error
    end.

connect(#st{spec = Spec, ref = Ref, node = Node, host = Host} = S) ->
    Res = case address(Spec) of
              {ok, Addr, Port} ->
                  gen_tcp:connect(Addr, Port, [binary, {active, true}, {packet, raw},
                                               {send_timeout, 30000}, {send_timeout_close, true}],
                                  5000);
              error -> {error, bad_socket_option}
          end,
    case Res of
        {ok, Sock} ->
            Dropped = atomics:get(Ref, ?DROPPED),
            Hdr = iolist_to_binary(
                    [<<"<?xml version='1.0'?><stream:stream xmlns='jabber:client' ">>,
                     <<"xmlns:stream='http://etherx.jabber.org/streams' node='">>,
                     fxml:crypt(Node), <<"' dropped='">>, integer_to_binary(Dropped), <<"'>\n">>]),
            case gen_tcp:send(Sock, Hdr) of
                ok ->
                    ?INFO_MSG("stanzawatch ~ts: connected to ~ts (~B stanza(s) dropped before)",
                              [Host, Spec, Dropped]),
                    atomics:put(Ref, ?PENDING, 0),
                    atomics:put(Ref, ?UP, 1),
                    S#st{sock = Sock, backoff = 1000, q = [], qbytes = 0};
                {error, _} ->
                    gen_tcp:close(Sock),
                    retry(S)
            end;
        {error, Why} ->
            ?DEBUG("stanzawatch ~ts: cannot connect to ~ts: ~p", [Host, Spec, Why]),
            retry(S)
    end.

retry(#st{backoff = Back} = S) ->
    erlang:send_after(Back, self(), connect),
    S#st{sock = undefined, backoff = min(Back * 2, 30000)}.

down(#st{host = Host, spec = Spec, ref = Ref, q = Q} = S, Why) ->
    ?INFO_MSG("stanzawatch ~ts: connection to ~ts lost (~p); reconnecting", [Host, Spec, Why]),
    atomics:put(Ref, ?UP, 0),
    atomics:add(Ref, ?DROPPED, length(Q)),
    atomics:put(Ref, ?PENDING, 0),
    retry(S#st{sock = undefined, q = [], qbytes = 0}).

flush(#st{q = []} = S) ->
    S;
flush(#st{sock = undefined, q = Q, ref = Ref} = S) ->
    atomics:add(Ref, ?DROPPED, length(Q)),
    atomics:put(Ref, ?PENDING, 0),
    S#st{q = [], qbytes = 0};
flush(#st{q = Q, qbytes = B, ref = Ref} = S) ->
    S1 = send(S, lists:reverse(Q)),
    atomics:sub(Ref, ?PENDING, B),
    atomics:add(Ref, ?SENT, length(Q)),
    S1#st{q = [], qbytes = 0, idle = false}.

send(#st{sock = Sock} = S, Data) ->
    case gen_tcp:send(Sock, Data) of
        ok -> S;
        {error, Why} -> down(S, Why)
    end.

log_drops(#st{ref = Ref, logged_drops = L, last_log = T, host = Host, spec = Spec} = S) ->
    D = atomics:get(Ref, ?DROPPED),
    Now = erlang:monotonic_time(second),
    case D > L andalso Now - T >= 60 of
        true ->
            ?WARNING_MSG("stanzawatch ~ts: ~B stanza(s) dropped so far (tap ~ts)", [Host, D, Spec]),
            S#st{logged_drops = D, last_log = Now};
        false -> S
    end.
