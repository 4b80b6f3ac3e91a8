-- mod_stanzawatch: mirror a host's stanzas to stanzawatch's socket tap, cheaply.
--
-- Load it on each VirtualHost to watch and on its MUC component:
--
--   stanzawatch_socket = "unix:/run/stanzawatch/tap.sock"   -- or "127.0.0.1:5290"
--   VirtualHost "example.org"
--       modules_enabled = { "stanzawatch" }
--   Component "conference.example.org" "muc"
--       modules_enabled = { "stanzawatch" }
--
-- What is mirrored (the same as deploy/prosody/mirror.pfw, without the cost):
--   * pre-message/*, pre-presence/* : what this host's own clients send, before
--     routing (one copy per client stanza; presence fan-out copies that
--     mod_presence re-posts are deduplicated by the tap);
--   * message/*, presence/*         : stanzas delivered to this host (users or
--     rooms) that come from outside the hosts running this module (other
--     hosts of this server, s2s), so nothing is mirrored twice.
--
-- Contract with stanzawatch (include/sw/live.h): one stream per connection,
--   <stream:stream xmlns='jabber:client' xmlns:stream=... node='N' dropped='D'>
-- then per stanza  <w n='SEQ' t='EPOCH_MS'>STANZA</w>  where SEQ counts every
-- stanza this module saw (sent or dropped: gaps tell the tap what was lost),
-- t is the arrival stamp and STANZA is the stanza's compact record (below);
-- n and t are left out while they follow from the previous record (n + 1,
-- the same millisecond), so a flood costs a bare <w> per stanza.
--
-- Record 2 (live/record.h has the grammar): once the tap has sent its hello
-- (<stanzawatch records='2'/>, after our stream header; an older tap never
-- does and keeps getting the records above), a message or presence whose
-- compact record would hold only from, to, type, id and one text (message
-- <body/>, presence <status/>) goes as
--   <m|p [n=..] [t=..] k='K' [i='ID']>TEXT</m|p>
-- where K is a key for the (from, to, type) triple defined on its first use
-- on this connection (d='K' f='..' o='..' y='..' instead of k='K'): about
-- 60 bytes for a typical chat message instead of 160. Why bytes matter:
-- every byte of a Lua string made per stanza (here, the batch's
-- table.concat) is paid for again by Prosody's garbage collector (threshold
-- 105: a cycle per 5% of heap growth): measured ~19 ns per byte in the hook
-- bench, more than building the record. The tap expands record 2 into
-- exactly the stanza text record 1 carries (tests/live/compact_test.sh).
--
-- Compact record: not the whole stanza, only what stanzawatch's parser reads
-- (engine/xml.c): the stanza element with from (written as '' when absent,
-- which the parser reads as absent), to, type and id, the first <body/>
-- and <subject/> of a message, the first <status/> of a presence, the first
-- XEP-0172 <nick/>, every <delay/> (from, stamp) and legacy jabber:x:delay,
-- and the flag elements <x xmlns=muc/> and <x xmlns=jabber:x:conference/>.
-- Other children are left out after checking them against the parser's
-- limits. The whole stanza is serialised (tostring) instead when the record
-- could differ from what the parser makes of the stanza:
--   * a wrapper the parser looks into: <forwarded/>, carbons <sent/> and
--     <received/>, a muc#user <x/> with children (mediated invites);
--   * an element nested stanzawatch_max_depth (32) levels below the stanza,
--     an attribute value of stanzawatch_max_attr_bytes (4096) or more, or a
--     stanza that might serialise to stanzawatch_max_stanza_bytes (262144)
--     (an upper bound: 6 x its text and attribute bytes plus markup): the
--     parser flags such stanzas over-limit, so it must see them whole.
-- Keep those three options at or below the tap's limits.max_depth,
-- max_attr_bytes and max_stanza_bytes (the defaults are equal); then the
-- parser's event from the record equals its event from the whole stanza
-- (tests/live/compact_test.sh checks this on the test captures and a swgen
-- capture). A typical message costs a few table reads, one escape check per
-- unique value (from, to and type hit a cache of values known clean) and
-- its share of one string concatenation per group of records; no
-- serialiser, no per-stanza closure or string.
--
-- Never blocks, never errors, never slows the server beyond its records:
--   * records are batched for up to 10 ms (or 64 KB), then written (one
--     send(2) per batch) straight to the non-blocking socket (flush() below),
--     through Prosody's event loop (net.server) only while the socket is full;
--   * at most stanzawatch_max_pending bytes may wait unsent; beyond that, and
--     while disconnected, stanzas are dropped and counted (logged at most once
--     a minute, reported to the tap in the next stream header);
--   * the connection is re-made quietly with backoff (1 s doubling to 30 s);
--   * a whitespace keepalive every 30 s lets the tap close half-open peers.
-- Building a record and serialising a stanza run inside pcall: a failed
-- record falls back to the whole stanza, a failed serialisation is logged
-- and counted as a drop; nothing propagates to Prosody.

local s_find, s_gsub, t_concat, pairs, type = string.find, string.gsub, table.concat, pairs, type;

local NS_DELAY, NS_LEGACY_DELAY = "urn:xmpp:delay", "jabber:x:delay";
local NS_MUC, NS_MUC_USER = "http://jabber.org/protocol/muc", "http://jabber.org/protocol/muc#user";
local NS_CONFERENCE, NS_NICK = "jabber:x:conference", "http://jabber.org/protocol/nick";
local NS_FORWARD, NS_CARBONS = "urn:xmpp:forward:0", "urn:xmpp:carbons:2";

local esc_map = { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ["'"] = "&apos;", ['"'] = "&quot;" };
-- XML-escape an attribute value (written in '...': & < ' matter) or text
-- (& < and the sequence ]]>). Most values need nothing: plain finds (memchr)
-- are several times cheaper than one character-class pattern.
local function esc_attr(v)
	if s_find(v, "&", 1, true) or s_find(v, "<", 1, true) or s_find(v, "'", 1, true) then
		return (s_gsub(v, "[&<>'\"]", esc_map));
	end
	return v;
end
local function esc_text(v)
	if s_find(v, "&", 1, true) or s_find(v, "<", 1, true) or s_find(v, "]]>", 1, true) then
		return (s_gsub(v, "[&<>]", esc_map));
	end
	return v;
end

-- The direct character data of an element (what the parser captures).
local function text_of(el)
	local n = #el;
	if n == 1 and el.tags[1] == nil then return el[1]; end
	local parts, k = {}, 0;
	for i = 1, n do
		local c = el[i];
		if type(c) == "string" then k = k + 1; parts[k] = c; end
	end
	return t_concat(parts, "", 1, k);
end

-- compact_new(max_depth, max_attr_bytes, max_stanza_bytes[, max_keys]) -> record, reset:
-- record(stanza, nt, buf, n, v2) appends the pieces of one record (with v2
-- and a stanza record 2 can carry: <m/> or <p/>, else <w nt>, the compact
-- message or presence, see "Compact record" above, then "</w>\n") to buf
-- after index n and returns the new n and the bytes appended; or nil,
-- appending nothing, when the whole stanza must be serialised instead.
-- reset() forgets record 2's keys (a new connection, records lost). The pieces are the
-- stanza's own strings and constants: no string is made per stanza unless a
-- value needs escaping (Prosody's GC runs a cycle every 5% of heap growth,
-- so every byte allocated per stanza costs far more than building it).
local function compact_new(max_depth, max_attr, max_stanza, max_keys)
	-- The serialised size of an element is at most 6 x its text and
	-- attribute bytes ("raw": each byte may become an entity) plus markup:
	-- 2 x #name + 5 per element and 24 per attribute (quotes, space, a
	-- namespace prefix). walk(el, level) returns el's raw and markup bytes
	-- with its descendants', or nil when an element reaches max_depth or an
	-- attribute value max_attr. One call per element, the factor 6 applied
	-- once per stanza: this walk is about half of a record's cost.
	local next = next;
	local function walk(el, level)
		if level >= max_depth then return nil; end
		local raw, markup = 0, 2 * #el.name + 5;
		for k, v in next, el.attr do
			local l = #v;
			if l >= max_attr then return nil; end
			raw, markup = raw + #k + l, markup + 24;
		end
		local tags = el.tags;
		local nt, nc = #tags, #el;
		if nt == 0 then
			for i = 1, nc do raw = raw + #el[i]; end -- text only
		elseif nc ~= nt then
			for i = 1, nc do
				local c = el[i];
				if type(c) == "string" then raw = raw + #c; end
			end
		end
		for i = 1, nt do
			local r, m = walk(tags[i], level + 1);
			if not r then return nil; end
			raw, markup = raw + r, markup + m;
		end
		return raw, markup;
	end

	-- from, to and type repeat (a session's own JID, its contacts and rooms,
	-- a few types): values known to need no escaping are remembered in
	-- `clean` (a table lookup instead of three finds), at most CLEAN_MAX of
	-- them; the table is replaced when full. Unique values (id, texts) are
	-- checked every time.
	local CLEAN_MAX = 4096;
	local clean, nclean = {}, 0;
	local function esc_addr(v)
		local e = esc_attr(v);
		if e == v then
			if nclean >= CLEAN_MAX then clean, nclean = {}, 0; end
			clean[v], nclean = true, nclean + 1;
		end
		return e;
	end

	local open_of = { message = "<message from='", presence = "<presence from='" };
	local close_of = { message = "</message></w>\n", presence = "</presence></w>\n" };

	-- a text element: open, escaped text, close
	local function put_text(buf, n, open, el, close)
		local t = esc_text(text_of(el));
		buf[n + 1], buf[n + 2], buf[n + 3] = open, t, close;
		return n + 3, #open + #t + #close;
	end
	-- a <delay/> (or legacy stamp): open, [from], [stamp], "/>"
	local function put_delay(buf, n, open, el)
		local a = el.attr;
		local from, stamp = a.from, a.stamp;
		local bytes = #open + 2;
		n = n + 1; buf[n] = open;
		if from then
			from = esc_attr(from);
			buf[n + 1], buf[n + 2], buf[n + 3] = " from='", from, "'";
			n, bytes = n + 3, bytes + #from + 8;
		end
		if stamp then
			stamp = esc_attr(stamp);
			buf[n + 1], buf[n + 2], buf[n + 3] = " stamp='", stamp, "'";
			n, bytes = n + 3, bytes + #stamp + 9;
		end
		n = n + 1; buf[n] = "/>";
		return n, bytes;
	end

	-- Record 2 (live/record.h): from/to/type as a key of this connection.
	-- keys[from][to or false][type or false] = " k='K'" once K is defined;
	-- at most KEYS keys and KEY_BYTES value bytes, then all are dropped and
	-- K starts again at 1 (the tap replaces a redefined key). reset() on
	-- every new connection and whenever records built may not arrive.
	local KEYS, KEY_BYTES = max_keys or 4096, 256 * 1024;
	local keys, nkeys, key_bytes = {}, 0, 0;
	local function reset()
		keys, nkeys, key_bytes = {}, 0, 0;
	end
	-- the pieces of " d='K' f='..'[ o='..'][ y='..']" (defines and uses K)
	local function define(buf, n, from, to, ty)
		local ef, eo, ey = esc_attr(from), to and esc_attr(to), ty and esc_attr(ty);
		local b = #ef + (eo and #eo or 0) + (ey and #ey or 0) + 16;
		if nkeys >= KEYS or key_bytes + b > KEY_BYTES then reset(); end
		nkeys, key_bytes = nkeys + 1, key_bytes + b;
		local k = tostring(nkeys);
		local d1 = keys[from];
		if not d1 then d1 = {}; keys[from] = d1; end
		local d2 = d1[to or false];
		if not d2 then d2 = {}; d1[to or false] = d2; end
		d2[ty or false] = " k='" .. k .. "'";
		local open = " d='" .. k .. "' f='";
		buf[n + 1], buf[n + 2], buf[n + 3] = open, ef, "'";
		n = n + 3;
		local bytes = #open + #ef + 1;
		if eo then
			buf[n + 1], buf[n + 2], buf[n + 3] = " o='", eo, "'";
			n, bytes = n + 3, bytes + #eo + 5;
		end
		if ey then
			buf[n + 1], buf[n + 2], buf[n + 3] = " y='", ey, "'";
			n, bytes = n + 3, bytes + #ey + 5;
		end
		return n, bytes;
	end

	-- record(stanza, nt, buf, n, v2): nt is the record's n/t attributes
	-- ("", " t='MS'" or " n='SEQ' t='MS'"); v2: the tap reads record 2.
	local function record(s, nt, buf, n, v2)
		local name, attr = s.name, s.attr;
		local open = open_of[name];
		if not open then return nil; end
		local msg = name == "message";
		-- the stanza's own size (walk() without recursing: the loop below
		-- walks its children)
		local raw, markup = 0, 2 * #name + 5;
		for k, v in next, attr do
			local l = #v;
			if l >= max_attr then return nil; end
			raw, markup = raw + #k + l, markup + 24;
		end
		local tags = s.tags;
		local ntags = #tags;
		if #s ~= ntags then
			for i = 1, #s do
				local c = s[i];
				if type(c) == "string" then raw = raw + #c; end
			end
		end
		local body, subject, status, nick, muc, conference, delays;
		if ntags > 0 and max_depth <= 1 then return nil; end
		for i = 1, ntags do
			local c = tags[i];
			-- walk(c, 1) inlined (most children are leaves: no call for them)
			markup = markup + 2 * #c.name + 5;
			for k, v in next, c.attr do
				local l = #v;
				if l >= max_attr then return nil; end
				raw, markup = raw + #k + l, markup + 24;
			end
			local ct = c.tags;
			local nct, ncc = #ct, #c;
			if nct == 0 then
				for j = 1, ncc do raw = raw + #c[j]; end
			else
				if ncc ~= nct then
					for j = 1, ncc do
						local x = c[j];
						if type(x) == "string" then raw = raw + #x; end
					end
				end
				for j = 1, nct do
					local r, m = walk(ct[j], 2);
					if not r then return nil; end
					raw, markup = raw + r, markup + m;
				end
			end
			local cn = c.name;
			if cn == "body" then
				if msg and not body then body = c; end
			elseif cn == "x" then
				local xmlns = c.attr.xmlns;
				if xmlns == NS_MUC then
					muc = true;
				elseif xmlns == NS_MUC_USER then
					if c.tags[1] then return nil; end -- invites: the parser looks inside
				elseif xmlns == NS_CONFERENCE then
					conference = true;
				elseif xmlns == NS_LEGACY_DELAY then
					delays = delays or {};
					delays[#delays + 1] = c;
				end
			elseif cn == "delay" then
				if c.attr.xmlns == NS_DELAY then
					delays = delays or {};
					delays[#delays + 1] = c;
				end
			elseif cn == "status" then
				if not msg and not status then status = c; end
			elseif cn == "subject" then
				if msg and not subject then subject = c; end
			elseif cn == "nick" then
				if c.attr.xmlns == NS_NICK and not nick then nick = c; end
			elseif cn == "forwarded" then
				if msg and c.attr.xmlns == NS_FORWARD then return nil; end
			elseif cn == "sent" or cn == "received" then
				if msg and c.attr.xmlns == NS_CARBONS then return nil; end
			end
		end
		if 6 * raw + markup >= max_stanza then return nil; end

		if v2 and not (subject or nick or muc or conference or delays) then
			-- record 2: <m|p nt (k='K' | d='K' f= o= y=) [i='ID'] (/> | >TEXT</m|p>)
			local from, to, ty = attr.from or "", attr.to, attr.type;
			local d = keys[from];
			if d then d = d[to or false]; end
			if d then d = d[ty or false]; end
			local bytes = #nt + 2;
			buf[n + 1], buf[n + 2] = msg and "<m" or "<p", nt;
			n = n + 2;
			if d then
				n = n + 1; buf[n] = d;
				bytes = bytes + #d;
			else
				local b;
				n, b = define(buf, n, from, to, ty);
				bytes = bytes + b;
			end
			local id, gt, empty = attr.id, ">", "/>";
			if id then
				id = esc_attr(id);
				buf[n + 1], buf[n + 2] = " i='", id;
				n, bytes, gt, empty = n + 2, bytes + #id + 4, "'>", "'/>";
			end
			local t = body or status;
			if t then
				t = esc_text(text_of(t));
				buf[n + 1], buf[n + 2], buf[n + 3] = gt, t, msg and "</m>" or "</p>";
				return n + 3, bytes + #gt + #t + 4;
			end
			buf[n + 1] = empty;
			return n + 1, bytes + #empty;
		end

		-- record 1: <w nt>STANZA</w>
		local head = nt == "" and "<w>" or nil;
		local bytes;
		if head then
			buf[n + 1] = head;
			n, bytes = n + 1, 3;
		else
			buf[n + 1], buf[n + 2], buf[n + 3] = "<w", nt, ">";
			n, bytes = n + 3, #nt + 3;
		end

		-- from is always written ('' when absent: the parser reads an empty
		-- attribute as absent), to, type and id only when present
		local from = attr.from;
		if not from then from = ""; elseif not clean[from] then from = esc_addr(from); end
		buf[n + 1], buf[n + 2] = open, from;
		n = n + 2;
		bytes = bytes + #open + #from + 2;
		local v = attr.to;
		if v then
			if not clean[v] then v = esc_addr(v); end
			buf[n + 1], buf[n + 2] = "' to='", v;
			n, bytes = n + 2, bytes + #v + 6;
		end
		v = attr.type;
		if v then
			if not clean[v] then v = esc_addr(v); end
			buf[n + 1], buf[n + 2] = "' type='", v;
			n, bytes = n + 2, bytes + #v + 8;
		end
		v = attr.id;
		if v then
			v = esc_attr(v);
			buf[n + 1], buf[n + 2] = "' id='", v;
			n, bytes = n + 2, bytes + #v + 6;
		end
		n = n + 1; buf[n] = "'>";
		local b;
		if body then n, b = put_text(buf, n, "<body>", body, "</body>"); bytes = bytes + b; end
		if subject then n, b = put_text(buf, n, "<subject>", subject, "</subject>"); bytes = bytes + b; end
		if status then n, b = put_text(buf, n, "<status>", status, "</status>"); bytes = bytes + b; end
		if nick then
			n, b = put_text(buf, n, "<nick xmlns='http://jabber.org/protocol/nick'>", nick, "</nick>");
			bytes = bytes + b;
		end
		if muc then
			n = n + 1; buf[n] = "<x xmlns='http://jabber.org/protocol/muc'/>";
			bytes = bytes + 43;
		end
		if conference then
			n = n + 1; buf[n] = "<x xmlns='jabber:x:conference'/>";
			bytes = bytes + 32;
		end
		if delays then
			for i = 1, #delays do
				local d = delays[i];
				n, b = put_delay(buf, n, d.name == "delay" and "<delay xmlns='urn:xmpp:delay'"
					or "<x xmlns='jabber:x:delay'", d);
				bytes = bytes + b;
			end
		end
		local close = close_of[name];
		n = n + 1; buf[n] = close;
		return n, bytes + #close;
	end
	return record, reset;
end

-- Outside Prosody (tests/live/compact_check.lua loads this file with Prosody's
-- own Lua and util.stanza): only the record builder.
if not module then
	return { compact_new = compact_new };
end

local server = require "net.server";
local now = require "util.time".now;
local st_tostring = tostring;
local floor = math.floor;

local spec = module:get_option_string("stanzawatch_socket", "unix:/run/stanzawatch/tap.sock");
local max_pending = module:get_option_number("stanzawatch_max_pending", 4 * 1024 * 1024);
local node = module:get_option_string("stanzawatch_node", module.host);
local keepalive = module:get_option_number("stanzawatch_keepalive", 30);
local record, reset_keys = compact_new(module:get_option_number("stanzawatch_max_depth", 32),
	module:get_option_number("stanzawatch_max_attr_bytes", 4096),
	module:get_option_number("stanzawatch_max_stanza_bytes", 262144));

-- Hosts running this module on this server: their traffic is seen at the
-- sender's pre-events, so delivery hooks skip it.
local tapped = module:shared("/*/stanzawatch/hosts");
tapped[module.host] = true;
for _, h in ipairs(module:get_option_array("stanzawatch_local_hosts", {})) do
	tapped[h] = true;
end

local conn;          -- net.server connection, nil while disconnected
local raw;           -- its LuaSocket (flush() writes groups straight to it)
local up = false;    -- connected (header sent)
local v2 = false;    -- the tap said it reads record 2 (its hello)
-- The batch: buf[1 .. nbuf] are the pieces of nrec records (record() above);
-- record k ends at piece rec_end[k] and has rec_bytes[k] bytes. The tables
-- are reused, not cleared (their slots are overwritten by the next batch).
local buf, nbuf, nrec, buf_bytes = {}, 0, 0, 0;
local rec_end, rec_bytes = {}, {};
local hello = "";    -- what the tap sent so far (at most 256 bytes kept)
local pending = 0;   -- bytes written since the last drain
local seq = 0;       -- stanzas seen
local last_seq, last_ms = -1, -1; -- the previous record's on this connection
local sent, dropped = 0, 0;
local dropped_logged = 0;
local last_drop_log = 0;
local backoff = 1;
local reconnect_timer;
local idle_since_ka = true;
local unloading = false;

local m_dropped = module:measure("dropped", "counter");

local connect;

local function schedule_reconnect()
	if unloading or reconnect_timer then return; end
	local delay = backoff;
	backoff = math.min(backoff * 2, 30);
	reconnect_timer = module:add_timer(delay, function ()
		reconnect_timer = nil;
		connect();
	end);
end

local function note_drops()
	local t = now();
	if dropped > dropped_logged and t - last_drop_log >= 60 then
		module:log("warn", "stanzawatch: %d stanza(s) dropped so far (tap %s, %s)",
			dropped, spec, up and "socket full: stanzawatch is slow" or "not connected");
		dropped_logged, last_drop_log = dropped, t;
	end
end

local listeners = {};

function listeners.onconnect(c)
	up = true;
	backoff = 1;
	pending = 0;
	last_seq, last_ms = -1, -1; -- the first record states its number and stamp
	v2, hello = false, "";
	reset_keys();
	raw = c:socket();
	module:log("info", "stanzawatch: connected to %s (%d stanza(s) dropped before)", spec, dropped);
	local header = ("<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
		.. "xmlns:stream='http://etherx.jabber.org/streams' node='%s' dropped='%d'>\n")
		:format((node:gsub("[<>&'\"]", "_")), dropped);
	-- through net.server; records go straight to the socket only after it
	-- drained this (ondrain), so the header is always first
	pending = #header;
	c:write(header);
end

function listeners.onincoming(c, data)
	-- the tap's only words: its hello, once (live/record.h); a tap that
	-- never says it (an older one) gets record 1 only
	if v2 or c ~= conn or type(data) ~= "string" then return; end
	hello = (hello .. data):sub(-256);
	if s_find(hello, "records='2'", 1, true) then
		v2 = true;
		module:log("info", "stanzawatch: %s reads record 2", spec);
	end
end

function listeners.ondrain()
	pending = 0;
end

function listeners.ondisconnect(c, err)
	if c ~= conn then return; end
	if up then
		module:log("info", "stanzawatch: connection to %s lost (%s); reconnecting", spec, tostring(err));
	else
		module:log("debug", "stanzawatch: cannot connect to %s (%s)", spec, tostring(err));
	end
	conn, raw, up, pending, v2 = nil, nil, false, 0, false;
	-- records built for this connection never go to the next one
	dropped = dropped + nrec;
	nbuf, nrec, buf_bytes = 0, 0, 0;
	reset_keys();
	schedule_reconnect();
end

function connect()
	if conn or unloading then return; end
	local ok, err = pcall(function ()
		local path = spec:match("^unix:(.+)$");
		if path then
			local unix = require "socket.unix";
			local sock = (type(unix) == "table" and unix.stream or unix)();
			sock:settimeout(0);
			local cok, cerr = sock:connect(path);
			if not cok then
				sock:close();
				error(cerr or "connect failed");
			end
			-- net.server calls onconnect once the socket is writable
			conn = server.wrapclient(sock, path, 0, listeners, "*a");
		else
			local host, port = spec:match("^%[?([^%]]+)%]?:(%d+)$");
			if not host then error("stanzawatch_socket must be unix:PATH or HOST:PORT"); end
			conn = server.addclient(host, tonumber(port), listeners);
			-- onconnect is called by net.server once the TCP connect completes
		end
	end);
	if not ok or not conn then
		conn, raw, up = nil, nil, false;
		module:log("debug", "stanzawatch: cannot connect to %s: %s", spec, tostring(err));
		schedule_reconnect();
	end
end

-- stanzawatch_profile = true: CPU spent in the hooks (os.clock), logged
-- every 2 s at info level. A diagnostic: its two os.clock calls per stanza
-- are clock_gettime system calls and add to what they measure (the benches,
-- bench/prosody_hook_bench.sh and live_server_cost.sh, measure from outside).
local profile = module:get_option_boolean("stanzawatch_profile", false);
local prof_s, prof_n = 0, 0;
local clock = os.clock;

-- Batch: records wait in `buf` for stanzawatch_flush_ms (a timer armed once
-- per batch, default 10 ms) or 64 KB: one timer per batch, not per stanza.
local flush_s = module:get_option_number("stanzawatch_flush_ms", 10) / 1000;
local flush_armed = false;
local t_concat = table.concat;
-- Records are joined into strings of at most GROUP bytes (64 KB: a whole
-- batch is normally one string and one send(2)). table.concat grows a heap
-- buffer for such a string (Lua 5.4: allocated outside the GC's accounting
-- and freed when the result is made, so the GC is charged the result's
-- bytes, as with small groups); the bigger groups save the send(2) calls and
-- the tap wake-ups they cause (20-30 per batch in the hook bench with the
-- former 1 KB groups; about -4% of the module's cost there). While net.server holds nothing unsent (pending == 0)
-- each group is written straight to the non-blocking socket; when the
-- socket is full the unsent rest goes to net.server, which sends it when
-- writable (ondrain sets pending back to 0).
local GROUP = 65536;

local function send_batch()
	if not (up and conn) then
		dropped = dropped + nrec; -- the connection went away meanwhile
		nbuf, nrec, buf_bytes = 0, 0, 0;
		return;
	end
	local sock = pending == 0 and raw or nil;
	local first, k = 1, 1;
	while k <= nrec do
		-- the group: records k .. j, at most GROUP bytes (or one record)
		local j, b = k, rec_bytes[k];
		while j < nrec and b + rec_bytes[j + 1] <= GROUP do
			j = j + 1;
			b = b + rec_bytes[j];
		end
		local last = rec_end[j];
		if not sock then
			-- net.server has unsent data: queue the rest of the batch behind it
			local data = t_concat(buf, "", first, nbuf);
			local ok, err = pcall(conn.write, conn, data);
			if ok then
				pending = pending + #data;
				sent = sent + (nrec - k + 1);
			else
				dropped = dropped + (nrec - k + 1);
				reset_keys(); -- the tap may lack definitions now: define again
				module:log("error", "stanzawatch: write: %s", tostring(err));
			end
			break;
		end
		local data = t_concat(buf, "", first, last);
		local ok, err, partial = sock:send(data);
		if ok then
			sent = sent + (j - k + 1);
		elseif err == "timeout" then
			-- socket full: the unsent part goes to net.server, the rest after it
			sent = sent + (j - k + 1);
			partial = partial or 0;
			if partial > 0 then data = data:sub(partial + 1); end
			pending = pending + #data;
			pcall(conn.write, conn, data);
			sock = nil;
		else
			-- closed or broken: ondisconnect follows; the rest is dropped
			dropped = dropped + (nrec - k + 1);
			reset_keys();
			break;
		end
		first, k = last + 1, j + 1;
	end
	idle_since_ka = false;
	nbuf, nrec, buf_bytes = 0, 0, 0;
end

-- Send the batch; a failure (a bug) is logged and the batch counted as
-- dropped, never propagated into the hook or timer that called it.
local function flush()
	flush_armed = false;
	if nrec == 0 then return; end
	local ok, err = pcall(send_batch);
	if not ok then
		module:log("error", "stanzawatch: flush: %s", tostring(err));
		dropped = dropped + nrec;
		reset_keys();
		nbuf, nrec, buf_bytes = 0, 0, 0;
	end
end

-- Numbering and stamps on the wire: a record's start tag carries n='SEQ'
-- only when SEQ is not the previous record's + 1 on this connection (the
-- first after connecting or after a drop), and t='MS' only when the stamp
-- differs from the previous record's; the tap infers the rest. Under load
-- most records start with a bare <w>. (last_seq, last_ms: see the state
-- above; onconnect resets them.)

local nt_ms, nt_t = -1, ""; -- the last " t='MS'" made (one string per ms)
local function tap(event)
	seq = seq + 1;
	if not up or pending + buf_bytes > max_pending then
		dropped = dropped + 1;
		m_dropped();
		note_drops();
		return;
	end
	local stanza = event.stanza;
	local ms = floor(now() * 1000);
	local nt;
	if seq ~= last_seq + 1 then
		nt = " n='" .. seq .. "' t='" .. ms .. "'";
	elseif ms ~= last_ms then
		if ms ~= nt_ms then nt_ms, nt_t = ms, " t='" .. ms .. "'"; end
		nt = nt_t;
	else
		nt = "";
	end
	local ok, n, bytes = pcall(record, stanza, nt, buf, nbuf, v2);
	if ok and n then
		nbuf = n;
	else
		-- unusual: serialise the whole stanza (and say why if the record failed)
		if not ok then
			module:log("debug", "stanzawatch: record: %s", tostring(n));
			reset_keys(); -- it may have defined a key it did not write
		end
		local s;
		ok, s = pcall(st_tostring, stanza);
		if not ok then
			dropped = dropped + 1;
			module:log("error", "stanzawatch: %s", tostring(s));
			return;
		end
		buf[nbuf + 1], buf[nbuf + 2], buf[nbuf + 3], buf[nbuf + 4], buf[nbuf + 5] = "<w", nt, ">", s, "</w>\n";
		nbuf = nbuf + 5;
		bytes = #nt + #s + 8;
	end
	last_seq, last_ms = seq, ms;
	nrec = nrec + 1;
	rec_end[nrec], rec_bytes[nrec] = nbuf, bytes;
	buf_bytes = buf_bytes + bytes;
	if buf_bytes >= 65536 then
		flush();
	elseif not flush_armed then
		flush_armed = true;
		module:add_timer(flush_s, flush);
	end
end

-- Stanzas delivered here from a sender not on a tapped host.
local function tap_incoming(event)
	local origin = event.origin;
	local t = origin and origin.type;
	if (t == "c2s" or t == "local" or t == "component") and tapped[origin.host or ""] then
		return;
	end
	tap(event);
end

if profile then
	local inner, inner_flush = tap, flush;
	tap = function (event)
		local c0 = clock();
		inner(event);
		prof_s, prof_n = prof_s + (clock() - c0), prof_n + 1;
	end
	flush = function ()
		local c0 = clock();
		inner_flush();
		prof_s = prof_s + (clock() - c0);
	end
	module:add_timer(2, function ()
		module:log("info", "stanzawatch: profile: %d stanzas, %.6f s CPU in hooks", prof_n, prof_s);
		return 2;
	end);
end

-- Observe only: high priority, never return a value (routing goes on).
local prio = 10000;
if module:get_host_type() == "local" then
	for _, kind in ipairs({ "message", "presence" }) do
		for _, to in ipairs({ "bare", "full", "host" }) do
			module:hook("pre-" .. kind .. "/" .. to, tap, prio);
		end
	end
end
for _, kind in ipairs({ "message", "presence" }) do
	for _, to in ipairs({ "bare", "full", "host" }) do
		module:hook(kind .. "/" .. to, tap_incoming, prio);
	end
end

module:add_timer(keepalive, function ()
	if up and conn and idle_since_ka then
		pcall(function ()
			if pending == 0 and raw then raw:send(" "); else conn:write(" "); end
		end);
	end
	idle_since_ka = true;
	note_drops();
	return keepalive;
end);

function module.load()
	connect();
end

function module.unload()
	unloading = true;
	tapped[module.host] = nil;
	if conn then
		pcall(function () conn:close(); end);
	end
	conn, raw, up = nil, nil, false;
	module:log("info", "stanzawatch: unloaded (%d sent, %d dropped)", sent, dropped);
end

-- For tests and operators: `prosodyctl shell` -> module:... is awkward, so the
-- counters also go to the log at debug level on every keepalive tick.
module:add_timer(60, function ()
	module:log("debug", "stanzawatch: %d seen, %d sent, %d dropped, pending %d bytes", seq, sent, dropped, pending);
	return 60;
end);
