#!/usr/bin/python3
"""XMPP actors for stanzawatch's share tests (tests/share/*.sh), loopback only.

    actor.py record --jid watch.a.test --secret S --port P --out CAP --ready-file F
        component: writes every stanza it receives (the mod_firewall mirror)
        as a capture (<stream:stream> header, one stanza per line, footer on
        SIGTERM) for `stanzawatch replay`.
    actor.py flood --jid U --password PW --port P --room R --count N [--interval S]
        client: joins room R and sends N groupchat lines, then leaves.
    actor.py join --jid U --password PW --port P --room R [--stay S]
        client: tries to join R; prints 'joined' or 'error CONDITION'.
    actor.py probe --jid U --password PW --port P --room R --until ANSWER [--interval S]
        client: joins R (then leaves) again and again with a new nick every S
        seconds; prints "EPOCH_NS ANSWER" whenever the answer changes and stops
        once it is ANSWER ('joined' or 'error forbidden'), or at --max-seconds.
    actor.py publish --jid U --password PW --port P --service S --node N --count C
        client: creates node N (open, max_items C) if needed and publishes C
        RTBL items (id = SHA-256 of spamI@x.test), 100 in flight at a time;
        prints 'published C' or 'error CONDITION'.
    actor.py block --jid U --password PW --port P --target T
        client: XEP-0191 block of T with a XEP-0377 spam report; prints
        'blocked' or 'error CONDITION'.
    actor.py items --jid U --password PW --port P --service S --node N [--dump F]
        client: pubsub items get; prints 'items N' or 'error CONDITION'; with
        --dump, each item's payload goes to F, one per line.
Exit status 0 when the XMPP exchange ran (whatever its answer), 1 otherwise.
Run with /usr/bin/python3 (Debian's python3-slixmpp).
"""
import argparse
import asyncio
import hashlib
import logging
import signal
import sys
import time
import xml.etree.ElementTree as ET

from slixmpp import ClientXMPP
from slixmpp.componentxmpp import ComponentXMPP
from slixmpp.exceptions import IqError, IqTimeout, PresenceError

HEADER = ("<stream:stream xmlns='jabber:component:accept' "
          "xmlns:stream='http://etherx.jabber.org/streams' from='watch.a.test'>\n")


class Recorder(ComponentXMPP):
    def __init__(self, a):
        super().__init__(a.jid, a.secret, "127.0.0.1", a.port)
        self.a = a
        self.out = open(a.out, "w", encoding="utf-8")
        self.out.write(HEADER)
        self.out.flush()
        self.add_event_handler("session_start", self.ready)
        self.add_filter("in", self.got)  # every stanza, whatever slixmpp makes of it

    def ready(self, _):
        if self.a.ready_file:
            with open(self.a.ready_file, "w") as f:
                f.write("ready\n")

    def got(self, st):
        if st.name in ("message", "presence"):
            self.out.write(str(st).replace("\n", "&#10;") + "\n")
            self.out.flush()
        return st

    def finish(self):
        self.out.write("</stream:stream>\n")
        self.out.close()


class Client(ClientXMPP):
    def __init__(self, a):
        super().__init__(a.jid, a.password)
        self.a = a
        self.result = None
        self.register_plugin("xep_0045")
        self.register_plugin("xep_0060")
        self["feature_mechanisms"].unencrypted_plain = True
        self.add_event_handler("session_start", self.start)
        self.add_event_handler("failed_auth", lambda _: self.done("error not-authorized"))

    def done(self, line):
        self.result = line
        if line:
            print(line, flush=True)
        self.disconnect(wait=1.0)

    async def join(self, room, nick):
        """Join @room as @nick: 'joined', or 'error COND' from the room's error presence."""
        fut = asyncio.get_event_loop().create_future()

        def on_presence(p):
            if p["from"].bare == room and p["from"].resource == nick and not fut.done():
                fut.set_result("error %s" % p["error"]["condition"]
                               if p["type"] == "error" else "joined")
        self.add_event_handler("presence", on_presence)
        pres = self.make_presence(pto="%s/%s" % (room, nick))
        pres.append(ET.fromstring("<x xmlns='http://jabber.org/protocol/muc'>"
                                  "<history maxstanzas='0'/></x>"))
        pres.send()
        try:
            return await asyncio.wait_for(fut, 10)
        finally:
            self.del_event_handler("presence", on_presence)

    async def start(self, _):
        self.send_presence()
        try:
            if self.a.cmd == "flood":
                await self["xep_0045"].join_muc_wait(self.a.room, self.a.nick, timeout=10,
                                                     maxstanzas=0)
                for i in range(self.a.count):
                    self.send_message(mto=self.a.room, mtype="groupchat",
                                      mbody="BUY CHEAP FOLLOWERS NOW https://bit.ly/f%d" % i)
                    await asyncio.sleep(self.a.interval)
                self.done("sent %d" % self.a.count)
            elif self.a.cmd == "join":
                answer = await self.join(self.a.room, self.a.nick)
                if answer != "joined":
                    self.done(answer)
                    return
                print("joined", flush=True)
                await asyncio.sleep(self.a.stay)
                self.done("")
            elif self.a.cmd == "probe":
                last, i = None, 0
                while True:
                    i += 1
                    nick = "%s%d" % (self.a.nick, i)
                    answer = await self.join(self.a.room, nick)
                    if answer != last:
                        print("%d %s" % (time.time_ns(), answer), flush=True)
                        last = answer
                    if answer == "joined":
                        self.send_presence(pto="%s/%s" % (self.a.room, nick), ptype="unavailable")
                    if answer == self.a.until:
                        self.done("")
                        return
                    await asyncio.sleep(self.a.interval)
            elif self.a.cmd == "publish":
                ps = self["xep_0060"]
                try:
                    await ps.create_node(self.a.service, self.a.node, timeout=10)
                except IqError as e:
                    if e.iq["error"]["condition"] != "conflict":
                        raise
                done = 0
                while done < self.a.count:
                    batch = []
                    for i in range(done, min(done + 100, self.a.count)):
                        hid = hashlib.sha256(("spam%d@x.test" % i).encode()).hexdigest()
                        item = ET.fromstring("<report xmlns='urn:xmpp:reporting:1' "
                                             "reason='urn:xmpp:reporting:spam'/>")
                        batch.append(ps.publish(self.a.service, self.a.node, id=hid,
                                                payload=item, timeout=30))
                    await asyncio.gather(*batch)
                    done += len(batch)
                self.done("published %d" % done)
            elif self.a.cmd == "block":
                iq = self.make_iq_set()
                iq.append(ET.fromstring(
                    "<block xmlns='urn:xmpp:blocking'><item jid='%s'>"
                    "<report xmlns='urn:xmpp:reporting:1' reason='urn:xmpp:reporting:spam'>"
                    "<text xml:lang='en'>spam links in the lobby</text></report>"
                    "</item></block>" % self.a.target))
                await iq.send(timeout=10)
                self.done("blocked")
            elif self.a.cmd == "items":
                r = await self["xep_0060"].get_items(self.a.service, self.a.node, timeout=10)
                items = list(r["pubsub"]["items"])
                if self.a.dump:
                    with open(self.a.dump, "w", encoding="utf-8") as f:
                        for it in items:
                            f.write(ET.tostring(it.xml[0], encoding="unicode") + "\n")
                self.done("items %d" % len(items))
        except PresenceError as e:
            self.done("error %s" % e.presence["error"]["condition"])
        except IqError as e:
            self.done("error %s" % e.iq["error"]["condition"])
        except (IqTimeout, asyncio.TimeoutError):
            self.done("error timeout")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("cmd", choices=["record", "flood", "join", "items", "block", "probe", "publish"])
    p.add_argument("--until", default="error forbidden", help="probe: stop at this answer")
    p.add_argument("--target", help="block: the JID blocked and reported")
    p.add_argument("--jid", required=True)
    p.add_argument("--password", default="pw")
    p.add_argument("--secret", default="")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--out")
    p.add_argument("--ready-file")
    p.add_argument("--room")
    p.add_argument("--nick", default="actor")
    p.add_argument("--count", type=int, default=30)
    p.add_argument("--interval", type=float, default=0.05)
    p.add_argument("--stay", type=float, default=0.0)
    p.add_argument("--service")
    p.add_argument("--node")
    p.add_argument("--dump", help="items: write each item's payload here, one per line")
    p.add_argument("--max-seconds", type=float, default=60)
    a = p.parse_args()
    logging.basicConfig(level=logging.DEBUG if __import__("os").environ.get("SW_ACTOR_DEBUG") else logging.ERROR)
    loop = asyncio.get_event_loop()
    if a.cmd == "record":
        x = Recorder(a)
        x.connect()
    else:
        x = Client(a)
        x.connect(("127.0.0.1", a.port), force_starttls=False, disable_starttls=True)
    stop = asyncio.Event()
    for s in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(s, stop.set)
    x.add_event_handler("disconnected", lambda _: stop.set())

    async def run():
        try:
            await asyncio.wait_for(stop.wait(), a.max_seconds)
        except asyncio.TimeoutError:
            pass

    loop.run_until_complete(run())
    if a.cmd == "record":
        x.finish()
        x.disconnect(wait=0.5)
        return 0
    if x.result is None:
        print("error no-answer", flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
