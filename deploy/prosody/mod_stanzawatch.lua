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
-- t is the arrival stamp and STANZA is serialised once with tostring().
--
-- Never blocks, never errors, never slows the server beyond serialising:
--   * stanzas are batched for up to 10 ms (or 64 KB) into one write
--     through Prosody's event loop (net.server);
--   * at most stanzawatch_max_pending bytes may wait unsent; beyond that, and
--     while disconnected, stanzas are dropped and counted (logged at most once
--     a minute, reported to the tap in the next stream header);
--   * the connection is re-made quietly with backoff (1 s doubling to 30 s);
--   * a whitespace keepalive every 30 s lets the tap close half-open peers.
-- Every handler runs inside pcall: a bug here is logged, never propagated.

local server = require "net.server";
local now = require "util.time".now;
local st_tostring = tostring;
local floor = math.floor;

local spec = module:get_option_string("stanzawatch_socket", "unix:/run/stanzawatch/tap.sock");
local max_pending = module:get_option_number("stanzawatch_max_pending", 4 * 1024 * 1024);
local node = module:get_option_string("stanzawatch_node", module.host);
local keepalive = module:get_option_number("stanzawatch_keepalive", 30);

-- Hosts running this module on this server: their traffic is seen at the
-- sender's pre-events, so delivery hooks skip it.
local tapped = module:shared("/*/stanzawatch/hosts");
tapped[module.host] = true;
for _, h in ipairs(module:get_option_array("stanzawatch_local_hosts", {})) do
	tapped[h] = true;
end

local conn;          -- net.server connection, nil while disconnected
local up = false;    -- connected (header sent)
local pending = 0;   -- bytes written since the last drain
local seq = 0;       -- stanzas seen
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
	module:log("info", "stanzawatch: connected to %s (%d stanza(s) dropped before)", spec, dropped);
	c:write(("<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
		.. "xmlns:stream='http://etherx.jabber.org/streams' node='%s' dropped='%d'>\n")
		:format(node:gsub("[<>&'\"]", "_"), dropped));
end

function listeners.onincoming()
	-- the tap never talks; ignore anything it might send
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
	conn, up, pending = nil, false, 0;
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
		conn, up = nil, false;
		module:log("debug", "stanzawatch: cannot connect to %s: %s", spec, tostring(err));
		schedule_reconnect();
	end
end

-- stanzawatch_profile = true: CPU spent in the hooks (os.clock), logged
-- every 2 s at info level (bench/live_server_cost.sh reads it).
local profile = module:get_option_boolean("stanzawatch_profile", false);
local prof_s, prof_n = 0, 0;
local clock = os.clock;

-- Batch: serialised stanzas wait in `buf` for stanzawatch_flush_ms (a timer
-- armed once per batch, default 10 ms) or 64 KB, then go to net.server in
-- one write: one timer and one write per batch, not per stanza.
local flush_s = module:get_option_number("stanzawatch_flush_ms", 10) / 1000;
local buf, nbuf, buf_bytes = {}, 0, 0;
local flush_armed = false;
local t_concat = table.concat;

local function flush()
	flush_armed = false;
	if nbuf == 0 then return; end
	if up and conn then
		local data = t_concat(buf, "", 1, nbuf);
		local ok, err = pcall(conn.write, conn, data);
		if ok then
			pending = pending + #data;
			sent = sent + nbuf;
			idle_since_ka = false;
		else
			dropped = dropped + nbuf;
			module:log("error", "stanzawatch: write: %s", tostring(err));
		end
	else
		dropped = dropped + nbuf; -- the connection went away meanwhile
	end
	for i = 1, nbuf do buf[i] = nil; end
	nbuf, buf_bytes = 0, 0;
end

local function tap(event)
	seq = seq + 1;
	if not up or pending + buf_bytes > max_pending then
		dropped = dropped + 1;
		m_dropped();
		note_drops();
		return;
	end
	local ok, s = pcall(st_tostring, event.stanza);
	if not ok then
		dropped = dropped + 1;
		module:log("error", "stanzawatch: %s", tostring(s));
		return;
	end
	s = "<w n='" .. seq .. "' t='" .. floor(now() * 1000) .. "'>" .. s .. "</w>\n";
	nbuf = nbuf + 1;
	buf[nbuf] = s;
	buf_bytes = buf_bytes + #s;
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
			module:hook("pre-" .. kind .. "/" .. to, function (event) tap(event); end, prio);
		end
	end
end
for _, kind in ipairs({ "message", "presence" }) do
	for _, to in ipairs({ "bare", "full", "host" }) do
		module:hook(kind .. "/" .. to, function (event) tap_incoming(event); end, prio);
	end
end

module:add_timer(keepalive, function ()
	if up and conn and idle_since_ka then
		pcall(function () conn:write(" "); end);
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
	conn, up = nil, false;
	module:log("info", "stanzawatch: unloaded (%d sent, %d dropped)", sent, dropped);
end

-- For tests and operators: `prosodyctl shell` -> module:... is awkward, so the
-- counters also go to the log at debug level on every keepalive tick.
module:add_timer(60, function ()
	module:log("debug", "stanzawatch: %d seen, %d sent, %d dropped, pending %d bytes", seq, sent, dropped, pending);
	return 60;
end);
