-- mod_stanzawatch_bench.lua: in-server benchmark of the mirror's hook path
-- (bench/prosody_hook_bench.sh loads it; not for production servers).
--
-- Inside a real Prosody, with Prosody's own Lua, util.stanza objects parsed
-- by util.xmppstream and the hosts' real event dispatch, it fires the same
-- client stanzas as pre-message/pre-presence events on each host of
-- swbench_hosts in turn: one host runs mod_stanzawatch.lua (connected to a
-- real `stanzawatch run` socket tap), one mod_firewall's FORWARD rule (the
-- copy routed to a real component tap), one neither (the baseline). A
-- stopper at priority 0.05 (below both mirrors, 10000 and 0.1, above the
-- server's own handlers) ends each bench event, so what differs between the
-- hosts is only the mirror. A round fires swbench_stanzas events per host in
-- chunks of swbench_chunk from timers (the event loop runs in between:
-- the module's batched flush and socket writes, FORWARD's routing and the
-- component stream all happen in the window), then waits swbench_settle
-- seconds; the window's process CPU (os.clock) is logged per host:
--   swbench: round R host H stanzas N cpu_s S
-- The host order rotates every round. Threading: Prosody's one thread.
local xmppstream = require "util.xmppstream";
local clock = os.clock;

local order = module:get_option_array("swbench_hosts", { "a.test", "b.test", "c.test" });
local rounds = module:get_option_number("swbench_rounds", 20);
local per_round = module:get_option_number("swbench_stanzas", 2000);
local chunk = module:get_option_number("swbench_chunk", 50);
local settle = module:get_option_number("swbench_settle", 0.2);
local tick = module:get_option_number("swbench_tick", 0.005);
local file = module:get_option_string("swbench_file");
local start_after = module:get_option_number("swbench_start_after", 3);

-- the stanzas of FILE (a stream; @HOST@ replaced by the host), parsed by Prosody
local function load_stanzas(host)
	local text = assert(io.open(file)):read("a"):gsub("@HOST@", host);
	local list = {};
	local session = { notopen = true };
	local stream = xmppstream.new(session, {
		stream_ns = "http://etherx.jabber.org/streams",
		default_ns = "jabber:client",
		streamopened = function (s) s.notopen = nil; end,
		handlestanza = function (_, st) list[#list + 1] = st; end,
		error = function (_, e) error("swbench: " .. tostring(e)); end,
	}, 1024 * 1024);
	assert(stream:feed(text));
	return list;
end

local per_host = {};
-- (at start: hosts declared after this one exist by then)
local function setup()
	for _, h in ipairs(order) do
		local list = load_stanzas(h);
		local names = {};
		for i, st in ipairs(list) do
			names[i] = "pre-" .. st.name .. (st.attr.to and st.attr.to:find("/", 1, true) and "/full" or "/bare");
		end
		per_host[h] = {
			list = list, names = names,
			session = { type = "c2s", host = h, username = "bench", resource = "r",
				full_jid = "bench@" .. h .. "/r", swbench = true },
		};
	end

	-- ends bench events after the mirrors ran, on every benched host
	for _, h in ipairs(order) do
		local events = prosody.hosts[h].events;
		for _, kind in ipairs({ "message", "presence" }) do
			for _, to in ipairs({ "bare", "full" }) do
				events.add_handler("pre-" .. kind .. "/" .. to, function (event)
					if event.origin.swbench then return true; end
				end, 0.05);
			end
		end
	end
end

local round, idx, host, fired, c0 = 0, 0, nil, 0, 0;

local function next_host()
	idx = idx + 1;
	if idx > #order then
		round, idx = round + 1, 1;
		if round > rounds then
			module:log("info", "swbench: done");
			return nil;
		end
	end
	host = order[(idx + round - 2) % #order + 1];
	fired = 0;
	c0 = clock();
	return tick;
end

local function step()
	if fired >= per_round then
		-- settled: close this host's window
		module:log("info", "swbench: round %d host %s stanzas %d cpu_s %.6f", round, host, fired, clock() - c0);
		return next_host();
	end
	local ph = per_host[host];
	local fire, list, names, session = prosody.hosts[host].events.fire_event, ph.list, ph.names, ph.session;
	local n = #list;
	for _ = 1, chunk do
		local i = fired % n + 1;
		fire(names[i], { origin = session, stanza = list[i] });
		fired = fired + 1;
	end
	if fired >= per_round then return settle; end
	return tick;
end

module:add_timer(start_after, function ()
	setup();
	module:log("info", "swbench: start: %d rounds x %d stanzas x %d hosts", rounds, per_round, #order);
	round, idx = 1, 0;
	next_host();
	module:add_timer(tick, step);
end);
