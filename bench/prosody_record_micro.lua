-- bench/prosody_record_micro.lua MODULE [RECORD [N [HEAPMB [noconcat]]]]
--
-- The Prosody module's record builder alone, outside Prosody, repeatable
-- under callgrind: with Prosody's own Lua and util.stanza
-- (LUA_PATH="/usr/lib/prosody/?.lua;;" LUA_CPATH="/usr/lib/prosody/?.so;;"
-- lua5.4 bench/prosody_record_micro.lua deploy/prosody/mod_stanzawatch.lua 2),
-- builds N (default 300000) records (RECORD 1 or 2, default 2: live/record.h)
-- of bench/prosody_hook_bench.sh's three stanzas into one batch table and
-- joins it every 64 KB as the module does (unless "noconcat"), with
-- Prosody's GC settings (incremental, threshold 105, speed 500) over a heap
-- of HEAPMB (default 4) MB of small tables, and prints the CPU per stanza.
-- What it leaves out (hooks, timers, send(2), Prosody's real heap) the
-- in-server bench measures. Threading: none. Used for bench/RESULTS.md
-- (branch prosody10).
local modfile, recfmt, n_arg, heap_arg, mode = ...;
local N = tonumber(n_arg or "300000");
local heapmb = tonumber(heap_arg or "4");
local v2 = (recfmt or "2") == "2";
local concat_on = mode ~= "noconcat";
local xmppstream = require "util.xmppstream";
local mod = assert(loadfile(modfile))();
local record = mod.compact_new(32, 4096, 262144);
local text = [[<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>
<message from='flooder1@a.test/slix' to='bench@rooms.a.test' type='groupchat' id='6f1c2e0a9b' xml:lang='en'><body>flood 1234 from flooder1: buy cheap followers now</body></message>
<message from='alice@a.test/Conversations.x7Yz' to='bob@a.test' type='chat' id='3f2b1e4c-7a8d-4e2f-9b1c-0d5e6f7a8b9c' xml:lang='en'><body>see you at the station in 10 min?</body><request xmlns='urn:xmpp:receipts'/><markable xmlns='urn:xmpp:chat-markers:0'/><origin-id xmlns='urn:xmpp:sid:0' id='3f2b1e4c-7a8d-4e2f-9b1c-0d5e6f7a8b9c'/><active xmlns='http://jabber.org/protocol/chatstates'/></message>
<presence from='alice@a.test/Conversations.x7Yz' to='bob@a.test' id='p7Hk2' xml:lang='en'><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='http://conversations.im' ver='zVzZ0PnJ2s2Xw5gqO7o5oRj8y0s='/><x xmlns='vcard-temp:x:update'><photo>6b8d7e0f3a2c1b9e8d7f6a5b4c3d2e1f0a9b8c7d</photo></x><show>away</show><status>in a meeting</status><priority>0</priority></presence>
</stream:stream>]]
local list = {}
local session = { notopen = true };
local stream = xmppstream.new(session, {
	stream_ns = "http://etherx.jabber.org/streams", default_ns = "jabber:client",
	streamopened = function (s) s.notopen = nil; end,
	handlestanza = function (_, st) list[#list + 1] = st; end,
	error = function (_, e) error(tostring(e)); end,
}, 1024 * 1024);
assert(stream:feed(text));
-- a heap for the GC to mark: HEAPMB MB of small tables
local keep = {}
for i = 1, heapmb * 1024 * 1024 / 64 do keep[i] = { i } end
collectgarbage("collect")
collectgarbage("incremental", 105, 500)
local buf, nbuf = {}, 0
local clock = os.clock
local concat = table.concat
local c0 = clock()
local bytes = 0
for i = 1, N do
	local st = list[i % 3 + 1]
	local n, b = record(st, "", buf, nbuf, v2)
	nbuf = n; bytes = bytes + b
	if bytes >= 65536 then
		if concat_on then local _ = concat(buf, "", 1, nbuf); end
		nbuf, bytes = 0, 0
	end
end
local t = clock() - c0
print(("record %d, %d stanzas, heap %.0f KB%s: %.3f us per stanza"):format(v2 and 2 or 1, N,
	collectgarbage("count"), concat_on and "" or ", no concat", t / N * 1e6));
assert(#keep >= 0);
