#!/usr/bin/env escript
%%! -noshell
-mode(compile).
%% compact_check.escript EBIN_DIR CAPTURE FULL_OUT COMPACT_OUT
%%
%% The ejabberd side of tests/live/compact_test.sh: parses CAPTURE with fxml's
%% stream parser, decodes each message and presence the way ejabberd's c2s
%% does (xmpp:decode with ignore_els: children stay #xmlel{}) and writes the
%% stanza as the module wrote it before (fxml:element_to_binary(xmpp:encode))
%% to FULL_OUT and mod_stanzawatch:record/1 (from EBIN_DIR, compiled by the
%% test) to COMPACT_OUT. Stanzas xmpp:decode rejects are skipped (ejabberd
%% would bounce them). Prints "stanzas N compact C whole W bytes_full BF
%% bytes_compact BC" (whole: the module fell back to xmpp:encode). Fails
%% (exit 1) when a stanza whose whole serialisation is over the parser's
%% default max_stanza_bytes (262144) got a record: the tap flags such a
%% stanza over-limit only when it arrives whole, and sw_compact_events (no
%% splitter) cannot see that.
main([Ebin, Capture, FullOut, CompactOut]) ->
    true = code:add_patha(Ebin),
    {ok, _} = application:ensure_all_started(xmpp),
    {ok, Data0} = file:read_file(Capture),
    Data = re:replace(Data0, "<!--.*?-->", "", [global, dotall, {return, binary}]),
    S0 = fxml_stream:new(self(), infinity),
    S1 = fxml_stream:parse(S0, Data),
    fxml_stream:close(S1),
    Hdr = <<"<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
            "xmlns:stream='http://etherx.jabber.org/streams'>\n">>,
    {N, C, W, Full, Compact} = collect(0, 0, 0, [], []),
    ok = file:write_file(FullOut, [Hdr, lists:reverse(Full), <<"</stream:stream>\n">>]),
    ok = file:write_file(CompactOut, [Hdr, lists:reverse(Compact), <<"</stream:stream>\n">>]),
    io:format("stanzas ~B compact ~B whole ~B bytes_full ~B bytes_compact ~B~n",
              [N, C, W, iolist_size(Full), iolist_size(Compact)]),
    get(oversize) =:= true andalso halt(1, [{flush, true}]).

collect(N, C, W, Full, Compact) ->
    receive
        {'$gen_event', {xmlstreamelement, {xmlel, Name, _, _} = El}}
          when Name =:= <<"message">>; Name =:= <<"presence">> ->
            try xmpp:decode(El, <<"jabber:client">>, [ignore_els]) of
                Pkt ->
                    F = fxml:element_to_binary(xmpp:encode(Pkt)),
                    R = mod_stanzawatch:record(Pkt),
                    Whole = R =:= F,
                    byte_size(F) > 262144 andalso not Whole andalso
                        begin
                            io:format(standard_error, "compact_check: a ~B-byte stanza (id '~ts') "
                                      "got a ~B-byte record: over max_stanza_bytes, must be whole~n",
                                      [byte_size(F), xmpp:get_id(Pkt), byte_size(R)]),
                            put(oversize, true)
                        end,
                    collect(N + 1, C + b2i(not Whole), W + b2i(Whole), [[F, $\n] | Full],
                            [[R, $\n] | Compact])
            catch _:_ -> collect(N, C, W, Full, Compact)
            end;
        {'$gen_event', _} -> collect(N, C, W, Full, Compact)
    after 0 -> {N, C, W, Full, Compact}
    end.

b2i(true) -> 1;
b2i(false) -> 0.
