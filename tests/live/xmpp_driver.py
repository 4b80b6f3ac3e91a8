#!/usr/bin/python3
"""Real XMPP clients (slixmpp) for stanzawatch's live tests and demo.

Subcommands (all against --host:--port, loopback, no DNS):
  muc-flood  F flooders join ROOM@--muc and send M groupchat messages each
             (--rate per second, 0 = flat out) while K members chat slowly
  sub-spam   one account sends presence subscriptions to N JIDs
  chat       U users of a.test/b.test exchange 1:1 and groupchat messages
  steady     U users send groupchat messages at --rate each for --seconds
             (background load for restart tests); prints how many were sent
             and how many echoes came back (the server never stalled);
             --ready-file is written when the sending starts

Accounts are created by in-band registration (XEP-0077) over a raw stream
first (slixmpp 1.8 cannot register before a session). Every subcommand waits
until the server processed what it sent (an XEP-0199 ping round trip), sends
unavailable, disconnects and prints a JSON summary. --max-seconds bounds the
run (exit 3). Adapted from the design of the team's xmpp-lab traffic driver.
"""
import argparse
import asyncio
import json
import random
import sys
import time
import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape

from slixmpp import ClientXMPP
from slixmpp.exceptions import IqError, IqTimeout

STREAM_NS = "http://etherx.jabber.org/streams"
MUC_NS = "http://jabber.org/protocol/muc"


async def register(host, port, jid, password, timeout=10.0):
    user, domain = jid.split("@", 1)
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    parser = ET.XMLPullParser(("start", "end"))
    depth = 0

    async def element():
        nonlocal depth
        while True:
            for ev, el in parser.read_events():
                if ev == "start":
                    depth += 1
                else:
                    depth -= 1
                    if depth == 1:
                        return el
            data = await reader.read(65536)
            if not data:
                raise ConnectionError("server closed the stream registering %s" % jid)
            parser.feed(data)

    async def run():
        writer.write(("<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='%s'"
                      " to='%s' version='1.0'>" % (STREAM_NS, domain)).encode())
        while (await element()).tag != "{%s}features" % STREAM_NS:
            pass
        writer.write(("<iq type='set' id='r1'><query xmlns='jabber:iq:register'><username>%s"
                      "</username><password>%s</password></query></iq>"
                      % (escape(user), escape(password))).encode())
        while True:
            el = await element()
            if el.tag == "{jabber:client}iq" and el.get("id") == "r1":
                return el.get("type")

    try:
        return await asyncio.wait_for(run(), timeout)
    finally:
        writer.close()


async def register_all(a, jids):
    sem = asyncio.Semaphore(8)

    async def one(j):
        async with sem:
            await register(a.host, a.port, j, a.password)
    await asyncio.gather(*(one(j) for j in jids))


class Client(ClientXMPP):
    def __init__(self, jid, a):
        super().__init__(jid + "/t", a.password)
        self.a = a
        self.ready = asyncio.Event()
        self.failed = None
        self.rooms = {}
        self.echoes = 0
        self.auto_authorize = None
        self.auto_subscribe = False
        self.add_event_handler("session_start", lambda _: self.ready.set())
        self.add_event_handler("failed_auth", self._failed)
        self.add_event_handler("message", self._gc)
        self.add_event_handler("presence", self._pres)

    async def get_dns_records(self, domain, port=None):
        host, port = self.address
        return [(host, host, port)]

    def _failed(self, _):
        self.failed = "authentication failed for %s" % self.boundjid.bare
        self.ready.set()

    def _gc(self, msg):
        if msg["type"] != "groupchat":
            return
        r = msg["from"].bare
        if r in self.rooms and msg["from"].resource == self.rooms[r][0]:
            self.echoes += 1

    def _pres(self, p):
        r = p["from"].bare
        if r in self.rooms and p["from"].resource == self.rooms[r][0]:
            self.rooms[r][1].set()

    async def start(self):
        self.connect(address=(self.a.host, self.a.port), force_starttls=False,
                     disable_starttls=True)
        await asyncio.wait_for(self.ready.wait(), 20)
        if self.failed:
            raise RuntimeError(self.failed)
        self.send_presence()

    async def join(self, room, nick):
        ev = asyncio.Event()
        self.rooms[room] = (nick, ev)
        p = self.make_presence(pto="%s/%s" % (room, nick))
        x = ET.Element("{%s}x" % MUC_NS)
        ET.SubElement(x, "{%s}history" % MUC_NS, {"maxstanzas": "0"})
        p.append(x)
        p.send()
        await asyncio.wait_for(ev.wait(), 20)

    async def barrier(self):
        iq = self.make_iq_get(ito=self.boundjid.domain)
        iq.append(ET.Element("{urn:xmpp:ping}ping"))
        await iq.send(timeout=60)

    async def finish(self):
        try:
            await self.barrier()
        except (IqError, IqTimeout):
            pass
        self.send_presence(ptype="unavailable")
        try:
            await asyncio.wait_for(self.disconnect(wait=5), 10)
        except asyncio.TimeoutError:
            self.abort()


async def clients(a, jids):
    cl = [Client(j, a) for j in jids]
    await asyncio.gather(*(c.start() for c in cl))
    return cl


async def paced(n, rate, send):
    t0 = time.monotonic()
    for i in range(n):
        send(i)
        if rate > 0:
            d = t0 + (i + 1) / rate - time.monotonic()
            if d > 0:
                await asyncio.sleep(d)
        elif i % 100 == 99:
            await asyncio.sleep(0)


def jids(prefix, n, domains):
    d = domains.split(",")
    return ["%s%d@%s" % (prefix, i, d[(i - 1) % len(d)]) for i in range(1, n + 1)]


async def cmd_muc_flood(a):
    fl = jids(a.prefix, a.flooders, a.domain)
    ot = jids(a.prefix + "m", a.others, "a.test,b.test")
    await register_all(a, fl + ot)
    room = "%s@%s" % (a.room, a.muc)
    f, o = await clients(a, fl), await clients(a, ot)
    for c in f + o:
        await c.join(room, c.boundjid.user)

    async def flood(c):
        await paced(a.messages, a.rate,
                    lambda i: c.send_message(mto=room, mbody="flood %s %d" % (c.boundjid.user, i),
                                             mtype="groupchat"))

    async def member(c):
        for i in range(3):
            await asyncio.sleep(0.3 + random.random() * 0.4)
            c.send_message(mto=room, mbody="hello from %s (%d)" % (c.boundjid.user, i),
                           mtype="groupchat")
    t0 = time.monotonic()
    await asyncio.gather(*(flood(c) for c in f), *(member(c) for c in o))
    await asyncio.gather(*(c.finish() for c in f + o))
    return {"room": room, "flooders": fl, "members": ot, "flood_messages": a.flooders * a.messages,
            "send_s": round(time.monotonic() - t0, 3)}


async def cmd_sub_spam(a):
    sp = jids(a.prefix, 1, a.domain)[0]
    targets = ["fresh-%08x@%s" % (random.getrandbits(32), a.target_domain) for _ in range(a.targets)]
    await register_all(a, [sp])
    (c,) = await clients(a, [sp])
    await paced(len(targets), a.rate, lambda i: c.send_presence(pto=targets[i], ptype="subscribe"))
    await c.finish()
    return {"spammer": sp, "targets": len(targets)}


async def cmd_chat(a):
    us = jids(a.prefix, a.users, "a.test,b.test")
    await register_all(a, us)
    cl = await clients(a, us)
    room = "%s@%s" % (a.room, a.muc)
    for c in cl:
        await c.join(room, c.boundjid.user)

    async def talk(c):
        for i in range(a.messages):
            await asyncio.sleep(a.interval * (0.5 + random.random()))
            if i % 2:
                peer = random.choice([u for u in us if u != c.boundjid.bare])
                c.send_message(mto=peer, mbody="hi %s (%d)" % (peer, i), mtype="chat")
            else:
                c.send_message(mto=room, mbody="%s says hello (%d)" % (c.boundjid.user, i),
                               mtype="groupchat")
    await asyncio.gather(*(talk(c) for c in cl))
    await asyncio.gather(*(c.finish() for c in cl))
    return {"users": us, "room": room}


async def cmd_steady(a):
    us = jids(a.prefix, a.users, a.domain)
    await register_all(a, us)
    cl = await clients(a, us)
    room = "%s@%s" % (a.room, a.muc)
    for c in cl:
        await c.join(room, c.boundjid.user)
    if a.ready_file:
        # logged in and joined: from here on the load is messages only
        with open(a.ready_file, "w") as f:
            f.write("sending\n")
    n = int(a.seconds * a.rate)
    t0 = time.monotonic()
    await asyncio.gather(*(paced(n, a.rate, lambda i, c=c: c.send_message(
        mto=room, mbody="steady %s %d %s" % (c.boundjid.user, i, "x" * a.pad), mtype="groupchat"))
        for c in cl))
    # the server kept serving: every message comes back to its sender
    deadline = time.monotonic() + 30
    while any(c.echoes < n for c in cl) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    echoed = sum(c.echoes for c in cl)
    lag = round(time.monotonic() - t0 - a.seconds, 3)
    await asyncio.gather(*(c.finish() for c in cl))
    return {"sent": n * len(cl), "echoed": echoed, "echo_lag_s": lag}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--password", default="test-pass")
    p.add_argument("--muc", default="rooms.a.test")
    p.add_argument("--max-seconds", type=float, default=120)
    p.add_argument("--seed", type=int, default=1)
    sub = p.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("muc-flood")
    f.add_argument("--room", default="flood")
    f.add_argument("--flooders", type=int, default=1)
    f.add_argument("--messages", type=int, default=200)
    f.add_argument("--rate", type=float, default=0)
    f.add_argument("--others", type=int, default=2)
    f.add_argument("--domain", default="a.test")
    f.add_argument("--prefix", default="flooder")
    s = sub.add_parser("sub-spam")
    s.add_argument("--targets", type=int, default=60)
    s.add_argument("--target-domain", default="a.test")
    s.add_argument("--rate", type=float, default=0)
    s.add_argument("--domain", default="a.test")
    s.add_argument("--prefix", default="spammer")
    c = sub.add_parser("chat")
    c.add_argument("--users", type=int, default=4)
    c.add_argument("--messages", type=int, default=6)
    c.add_argument("--interval", type=float, default=0.3)
    c.add_argument("--room", default="lobby")
    c.add_argument("--prefix", default="chat")
    st = sub.add_parser("steady")
    st.add_argument("--users", type=int, default=2)
    st.add_argument("--rate", type=float, default=20)
    st.add_argument("--seconds", type=float, default=10)
    st.add_argument("--room", default="steady")
    st.add_argument("--domain", default="a.test")
    st.add_argument("--prefix", default="steady")
    st.add_argument("--pad", type=int, default=0, help="extra body bytes per message")
    st.add_argument("--ready-file", help="written once every user has joined, as sending starts")
    a = p.parse_args()
    random.seed(a.seed)
    cmd = {"muc-flood": cmd_muc_flood, "sub-spam": cmd_sub_spam, "chat": cmd_chat,
           "steady": cmd_steady}[a.cmd]
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    t0 = time.monotonic()
    try:
        out = loop.run_until_complete(asyncio.wait_for(cmd(a), a.max_seconds))
    except asyncio.TimeoutError:
        print("xmpp_driver: aborted after --max-seconds", file=sys.stderr)
        return 3
    except (RuntimeError, ConnectionError, OSError, IqError, IqTimeout) as e:
        print("xmpp_driver: error: %s" % e, file=sys.stderr)
        return 1
    finally:
        pend = [t for t in asyncio.all_tasks(loop) if not t.done()]
        for t in pend:
            t.cancel()
        if pend:
            loop.run_until_complete(asyncio.gather(*pend, return_exceptions=True))
        loop.close()
    out["command"] = a.cmd
    out["elapsed_s"] = round(time.monotonic() - t0, 3)
    out["cpu_s"] = round(time.process_time(), 3)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
