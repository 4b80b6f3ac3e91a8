#!/usr/bin/env python3
"""tests/live/s2s_peer.py - a minimal remote XMPP server for live.ejabberd:
the domain 'localhost' peering with a local ejabberd over server-to-server
dialback (XEP-0220) on loopback, so that a room can have an occupant from
another server. Not a general server: it accepts every dialback key (it is
the test's own peer), answers ejabberd's verification and outgoing streams,
and discards what ejabberd delivers to it.

  s2s_peer.py --s2s-port P (ejabberd's s2s listener) --listen-port L
              (ejabberd's outgoing_s2s_port) --room ROOM@MUC --nick N
              --messages M [--user remote1] [--max-seconds S]
              [--outsider K] [--pms K] [--invites K]
              [--component-port P --component DOMAIN --secret S
               --component-to JID[,JID...] --component-messages K]

Sends K groupchat messages to ROOM before joining it (--outsider: refused,
the room does not exist yet), joins ROOM as USER@localhost, sends M
groupchat messages, K private messages to its own occupant ROOM/N (--pms)
and K mediated invitations (--invites: a normal message to ROOM with a
muc#user <invite/>), leaves, and prints a JSON summary. With
--component-port it then also plays the external component DOMAIN
(XEP-0114, ejabberd's ejabberd_service listener on P, secret S), sending K
chat messages to each of the JIDs. Loopback only; every socket is closed
at exit.
"""
import hashlib
import argparse
import asyncio
import json
import sys
import xml.etree.ElementTree as ET

STREAM = "http://etherx.jabber.org/streams"
DB = "jabber:server:dialback"
HDR = ("<?xml version='1.0'?><stream:stream xmlns='jabber:server' "
       "xmlns:stream='%s' xmlns:db='%s' from='%%s' to='%%s' version='1.0'%%s>" % (STREAM, DB))


class Stream:
    """One XML stream read from an asyncio reader: yields depth-1 elements."""

    def __init__(self, reader):
        self.r = reader
        self.p = ET.XMLPullParser(events=("start", "end"))
        self.depth = 0
        self.root = None

    async def next(self):
        while True:
            for ev, el in self.p.read_events():
                if ev == "start":
                    self.depth += 1
                    if self.depth == 1:
                        self.root = el
                        return el
                else:
                    self.depth -= 1
                    if self.depth == 1:
                        self.root.remove(el)
                        return el
            data = await self.r.read(65536)
            if not data:
                return None
            self.p.feed(data)


async def serve_in(reader, writer, seen):
    """ejabberd's outgoing streams to 'localhost': header, features, then
    every db:verify / db:result is answered valid; stanzas are discarded."""
    st = Stream(reader)
    try:
        while True:
            el = await st.next()
            if el is None:
                break
            if el.tag == "{%s}stream" % STREAM:
                frm = el.get("to", "localhost")
                writer.write((HDR % (frm, el.get("from", ""), " id='peer%d'" % len(seen))).encode()
                             + b"<stream:features/>")
            elif el.tag in ("{%s}verify" % DB, "{%s}result" % DB):
                name = "verify" if el.tag.endswith("verify") else "result"
                idattr = " id='%s'" % el.get("id") if el.get("id") else ""
                writer.write(("<db:%s xmlns:db='%s' from='%s' to='%s'%s type='valid'/>" % (
                    name, DB, el.get("to"), el.get("from"), idattr)).encode())
            else:
                seen.append(el.tag)
            await writer.drain()
    except (ConnectionError, ET.ParseError):
        pass
    writer.close()


async def main(a):
    seen = []
    srv = await asyncio.start_server(lambda r, w: serve_in(r, w, seen), "127.0.0.1", a.listen_port)
    muc = a.room.split("@", 1)[1]
    me = "%s@localhost/peer" % a.user
    reader, writer = await asyncio.open_connection("127.0.0.1", a.s2s_port)
    st = Stream(reader)
    writer.write((HDR % ("localhost", muc, "")).encode())
    await writer.drain()
    ok = False
    while not ok:
        el = await st.next()
        if el is None:
            raise SystemExit("ejabberd closed the s2s stream")
        if el.tag == "{%s}features" % STREAM:
            writer.write(("<db:result xmlns:db='%s' from='localhost' to='%s'>key-%s</db:result>"
                          % (DB, muc, a.user)).encode())
            await writer.drain()
        elif el.tag == "{%s}result" % DB:
            if el.get("type") != "valid":
                raise SystemExit("dialback refused: %s" % ET.tostring(el))
            ok = True
        elif el.tag == "{%s}error" % STREAM:
            raise SystemExit("stream error: %s" % ET.tostring(el))
    for i in range(a.outsider):
        writer.write(("<message from='%s' to='%s' type='groupchat' id='o%d'><body>outsider "
                      "%s %d</body></message>" % (me, a.room, i, a.user, i)).encode())
    writer.write(("<presence from='%s' to='%s/%s'><x xmlns='http://jabber.org/protocol/muc'>"
                  "<history maxstanzas='0'/></x></presence>" % (me, a.room, a.nick)).encode())
    await writer.drain()
    await asyncio.sleep(1.0)  # the room is created and the join answered over our peer stream
    for i in range(a.messages):
        writer.write(("<message from='%s' to='%s' type='groupchat' id='r%d'><body>remote flood "
                      "%s %d</body></message>" % (me, a.room, i, a.user, i)).encode())
        if i % 20 == 19:
            await writer.drain()
            await asyncio.sleep(0.01)
    for i in range(a.pms):
        writer.write(("<message from='%s' to='%s/%s' type='chat' id='p%d'><body>private "
                      "%s %d</body></message>" % (me, a.room, a.nick, i, a.user, i)).encode())
    for i in range(a.invites):
        writer.write(("<message from='%s' to='%s' id='i%d'><x xmlns='http://jabber.org/protocol/"
                      "muc#user'><invite to='invitee%d@%s'><reason>join %d</reason></invite></x>"
                      "</message>" % (me, a.room, i, i, a.room.split("@", 1)[1].split(".", 1)[1],
                                      i)).encode())
    await writer.drain()
    writer.write(("<presence from='%s' to='%s/%s' type='unavailable'/>"
                  % (me, a.room, a.nick)).encode())
    await writer.drain()
    await asyncio.sleep(1.0)  # let ejabberd deliver before the stream ends
    writer.write(b"</stream:stream>")
    await writer.drain()
    writer.close()
    srv.close()
    await srv.wait_closed()
    res = {"room": a.room, "sender": me, "messages": a.messages, "outsider": a.outsider,
           "pms": a.pms, "invites": a.invites, "delivered_to_peer": len(seen)}
    if a.component_port:
        res["component_messages"] = await component(a)
    return res


async def component(a):
    """XEP-0114: connect as a.component, handshake, send a.component_messages
    chat messages to each of a.component_to; returns how many were sent."""
    reader, writer = await asyncio.open_connection("127.0.0.1", a.component_port)
    st = Stream(reader)
    writer.write(("<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept' "
                  "xmlns:stream='%s' to='%s'>" % (STREAM, a.component)).encode())
    await writer.drain()
    el = await st.next()
    if el is None or el.get("id") is None:
        raise SystemExit("component: no stream header")
    digest = hashlib.sha1((el.get("id") + a.secret).encode()).hexdigest()
    writer.write(("<handshake>%s</handshake>" % digest).encode())
    await writer.drain()
    el = await st.next()
    if el is None or not el.tag.endswith("handshake"):
        raise SystemExit("component: handshake refused: %s" % (el is not None and ET.tostring(el)))
    n = 0
    for to in a.component_to.split(","):
        for i in range(a.component_messages):
            writer.write(("<message from='bot@%s' to='%s' type='chat' id='c%d'><body>bridged "
                          "%d</body></message>" % (a.component, to, n, i)).encode())
            n += 1
    await writer.drain()
    await asyncio.sleep(1.0)
    writer.write(b"</stream:stream>")
    await writer.drain()
    writer.close()
    return n


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--s2s-port", type=int, required=True)
    p.add_argument("--listen-port", type=int, required=True)
    p.add_argument("--room", required=True)
    p.add_argument("--nick", default="remote")
    p.add_argument("--user", default="remote1")
    p.add_argument("--messages", type=int, default=150)
    p.add_argument("--max-seconds", type=float, default=60)
    p.add_argument("--outsider", type=int, default=0)
    p.add_argument("--pms", type=int, default=0)
    p.add_argument("--invites", type=int, default=0)
    p.add_argument("--component-port", type=int, default=0)
    p.add_argument("--component", default="bot.a.test")
    p.add_argument("--secret", default="")
    p.add_argument("--component-to", default="")
    p.add_argument("--component-messages", type=int, default=0)
    a = p.parse_args()
    try:
        res = asyncio.run(asyncio.wait_for(main(a), a.max_seconds))
    except asyncio.TimeoutError:
        sys.exit("s2s_peer: timed out")
    print(json.dumps(res))
