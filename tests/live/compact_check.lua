-- compact_check.lua MODULE CAPTURE FULL_OUT COMPACT_OUT [RECORD [KEYS]]
--
-- Run with Prosody's own Lua and libraries (tests/live/compact_test.sh sets
-- LUA_PATH/LUA_CPATH to /usr/lib/prosody): parses CAPTURE (an XMPP stream
-- file) with Prosody's util.xmppstream into real util.stanza objects and, for
-- every message and presence, writes the whole stanza (tostring, what the
-- module sent before) to FULL_OUT and the record mod_stanzawatch.lua builds
-- (MODULE loaded outside Prosody returns its record builder) to COMPACT_OUT,
-- both as streams stanzawatch's parser reads. RECORD 2 (default 1): the
-- records as the module writes them to a tap that said hello (record 2 where
-- it can, live/record.h), for `sw_compact_events --records`, with at most
-- KEYS record-2 keys (default the module's 4096; small: its key reset is
-- exercised). Prints "stanzas N compact C
-- whole W bytes_full BF bytes_compact BC" (whole: the module fell back to
-- tostring). Comments are removed first. A capture Prosody's parser rejects stops at its first error
-- (reported; what was parsed so far is compared).
local modfile, capture, full_out, compact_out, recfmt, nkeys = ...;
local v2 = recfmt == "2";
local xmppstream = require "util.xmppstream";

local mod = assert(loadfile(modfile))();
local record = mod.compact_new(32, 4096, 262144, tonumber(nkeys));

local header = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
	.. "xmlns:stream='http://etherx.jabber.org/streams'>\n";
local ff = assert(io.open(full_out, "w"));
local fc = assert(io.open(compact_out, "w"));
ff:write(header);
fc:write(header);
local n, nc, nw, bf, bc = 0, 0, 0, 0, 0;

local session = { notopen = true };
local callbacks = {
	stream_ns = "http://etherx.jabber.org/streams",
	default_ns = "jabber:server",
	streamopened = function (s) s.notopen = nil; end,
	streamclosed = function () end,
	error = function (_, err, data)
		io.stderr:write(("compact_check: %s: parser: %s %s\n"):format(capture, tostring(err), tostring(data)));
	end,
	handlestanza = function (_, stanza)
		if stanza.name ~= "message" and stanza.name ~= "presence" then return; end
		n = n + 1;
		local whole = tostring(stanza);
		local pieces = {};
		local k, bytes = record(stanza, "", pieces, 0, v2);
		local r;
		if k then
			r = table.concat(pieces, "", 1, k);
			assert(#r == bytes, "record() miscounted its bytes");
			if not v2 then
				r = assert(r:match("^<w>(.*)</w>\n$"), "record without its <w/> wrapper");
			end
			nc = nc + 1;
		else
			r = v2 and "<w>" .. whole .. "</w>" or whole;
			nw = nw + 1;
		end
		ff:write(whole, "\n");
		fc:write(r, "\n");
		bf, bc = bf + #whole, bc + #r;
	end,
};
-- the capture's own default namespace (jabber:client or jabber:server)
local data = assert(io.open(capture)):read("a");
if data:match("<stream:stream[^>]-xmlns='jabber:client'") or data:match('<stream:stream[^>]-xmlns="jabber:client"') then
	callbacks.default_ns = "jabber:client";
end
-- XMPP forbids comments (Prosody's parser rejects them); the captures use them as notes
data = data:gsub("<!%-%-.-%-%->", "");
local stream = xmppstream.new(session, callbacks, 64 * 1024 * 1024);
local ok, err = stream:feed(data);
if not ok then
	io.stderr:write(("compact_check: %s: stopped: %s\n"):format(capture, tostring(err)));
end
ff:write("</stream:stream>\n");
fc:write("</stream:stream>\n");
ff:close();
fc:close();
print(("stanzas %d compact %d whole %d bytes_full %d bytes_compact %d"):format(n, nc, nw, bf, bc));
