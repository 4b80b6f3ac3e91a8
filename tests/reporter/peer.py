#!/usr/bin/python3
"""XEP-0268 peer stand-in for stanzawatch's reporter integration test.

Connects to the test Prosody (deploy/prosody) as an XEP-0114 component,
answers every XEP-0268 <report/> iq set with an empty result (optionally after
--ack-delay seconds) and appends one line per event to --out:

    report <IncidentID> <from>            a report arrived (and was acknowledged)
    closed <IncidentID>                   ...and it says the incident ended (EndTime)
    response <IncidentID> <action>        a response arrived (and was acknowledged)
    reply <our iq id> <type> <condition>  the answer to an iq we sent

It can send XEP-0268 stanzas: --send "KIND TO INCIDENT_ID" (repeatable, sent
once connected) and, while running, every line of each DIR/*.cmd file that
appears in --outbox DIR (renamed *.done). KIND is report, inquiry, request or
response; "raw XML" sends XML as is (a hostile entity's forged iq result);
"from=JID KIND TO INCIDENT_ID" sends as JID.
Hostile-entity options: --from JID sends as another JID of the component's
domain (Prosody allows any local part), --description TEXT puts TEXT (may hold
newlines) into the Incident, --ids-out FILE records "IQID INCIDENTID" of each
report received (what an eavesdropper or guesser would know). Ends on SIGTERM/SIGINT, --max-seconds, or with --exit-when-answered
once every iq it sent got an answer. Loopback only: no DNS lookups.
Run with /usr/bin/python3 (Debian's python3-slixmpp).
"""
import argparse
import asyncio
import logging
import os
import signal
import sys
import time
import xml.etree.ElementTree as ET

from slixmpp.componentxmpp import ComponentXMPP
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath

INC = "urn:xmpp:incident:2"
IODEF = "urn:ietf:params:xml:ns:iodef-1.0"
STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"
PURPOSE = {"report": "reporting", "inquiry": "traceback", "request": "mitigation",
           "response": "mitigation"}
IQTYPE = {"report": "set", "inquiry": "get", "request": "get", "response": "set"}


def incident(kind, iid, domain, desc=None):
    from xml.sax.saxutils import escape
    desc = escape(desc) if desc else "test %s from peer.py" % kind
    return ("<{k} xmlns='{ns}'><Incident xmlns='{io}' purpose='{p}' lang='en'>"
            "<IncidentID name='{d}'>{i}</IncidentID>"
            "<ReportTime>2026-01-01T00:00:00Z</ReportTime>"
            "<Description lang='en'>{desc}</Description>"
            "<Assessment><Impact lang='en' severity='medium' type='dos'/></Assessment>"
            "<Contact role='creator' type='organization'><AdditionalData dtype='xml'>"
            "<jid xmlns='urn:xmpp:jid:0'>admin@{d}</jid></AdditionalData></Contact>"
            "<EventData><Flow><System category='source'><Node>"
            "<Address category='ext-value' ext-category='xmpp'>bad@{d}</Address>"
            "<Counter type='message'>5</Counter></Node></System></Flow>"
            "<Expectation action='block-host'/></EventData>"
            "</Incident></{k}>").format(k=kind, ns=INC, io=IODEF, p=PURPOSE[kind], d=domain, i=iid,
                                        desc=desc)


class Peer(ComponentXMPP):
    def __init__(self, a):
        super().__init__(a.jid, a.secret, "127.0.0.1", a.port)
        self.a = a
        self.out = open(a.out, "a", encoding="utf-8")
        self.awaiting = set()
        self.n = 0
        self.done = asyncio.Event()
        self.connected_once = False
        self.register_handler(Callback("iq-all", MatchXPath("{%s}iq" % self.default_ns), self.on_iq))
        self.add_event_handler("session_start", self.on_start)
        self.add_event_handler("disconnected", lambda _: self.done.set())

    async def get_dns_records(self, domain, port=None):
        host, port = self.address
        return [(host, host, port)]

    def line(self, text):
        self.out.write(text + "\n")
        self.out.flush()

    def send_cmd(self, cmd):
        if cmd.startswith("raw "):
            self.send_raw(cmd[4:])
            self.line("sent raw")
            return
        parts = cmd.split()
        sender = self.a.sender or self.boundjid.bare
        if parts and parts[0].startswith("from="):
            sender = parts.pop(0)[5:]
        if len(parts) != 3 or parts[0] not in PURPOSE:
            logging.error("bad command %r", cmd)
            return
        kind, to, iid = parts
        self.n += 1
        qid = "peer-%d-%d" % (os.getpid(), self.n)
        self.awaiting.add(qid)
        # an inquiry asks about the other side's incident: IncidentID@name is theirs
        domain = (to if kind == "inquiry" else self.boundjid.bare).split(".", 1)[-1]
        self.send_raw("<iq type='%s' id='%s' from='%s' to='%s'>%s</iq>" % (
            IQTYPE[kind], qid, sender, to,
            incident(kind, iid, domain, self.a.description)))
        self.line("sent %s %s %s %s" % (qid, kind, to, iid))

    def on_start(self, _):
        self.connected_once = True
        logging.info("connected as %s", self.boundjid)
        for c in self.a.send or ():
            self.send_cmd(c)
        if self.a.ready_file:
            with open(self.a.ready_file, "w") as f:
                f.write("%d\n" % os.getpid())

    def on_iq(self, iq):
        t = iq["type"]
        if t in ("result", "error"):
            if iq["id"] in self.awaiting:
                self.awaiting.discard(iq["id"])
                cond = "-"
                err = iq.xml.find("{%s}error" % self.default_ns)
                if err is not None:
                    for c in err:
                        if c.tag.startswith("{%s}" % STANZAS):
                            cond = c.tag.split("}")[1]
                self.line("reply %s %s %s" % (iq["id"], t, cond))
                if self.a.exit_when_answered and not self.awaiting:
                    self.done.set()
            return
        rsp = iq.xml.find("{%s}response" % INC)
        if t == "set" and rsp is not None:
            iid = rsp.find(".//{%s}IncidentID" % IODEF)
            hi = rsp.find(".//{%s}HistoryItem" % IODEF)
            self.line("response %s %s" % (iid.text if iid is not None else "?",
                                          hi.get("action") if hi is not None else "?"))
            iq.reply(clear=True).send()
            return
        rep = iq.xml.find("{%s}report" % INC)
        if t == "set" and rep is not None:
            iid = rep.find(".//{%s}IncidentID" % IODEF)
            self.line("report %s %s" % (iid.text if iid is not None else "?", iq["from"]))
            if rep.find(".//{%s}EndTime" % IODEF) is not None:
                self.line("closed %s" % (iid.text if iid is not None else "?"))
            if self.a.ids_out:
                with open(self.a.ids_out, "a") as f:
                    f.write("%s %s\n" % (iq["id"], iid.text if iid is not None else "?"))
            reply = iq.reply(clear=True)
            if self.a.ack_delay > 0:
                self.loop.call_later(self.a.ack_delay, reply.send)
            else:
                reply.send()
            return
        reply = iq.reply(clear=True)
        reply.error()
        reply["error"]["type"] = "cancel"
        reply["error"]["condition"] = "feature-not-implemented"
        reply.send()


async def run(a):
    p = Peer(a)
    loop = asyncio.get_running_loop()
    for s in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(s, p.done.set)
    p.connect()
    start = time.time()

    async def watchdog():
        while not p.done.is_set():
            await asyncio.sleep(0.1)
            if a.outbox and p.connected_once:
                for name in sorted(os.listdir(a.outbox)):
                    if name.endswith(".cmd"):
                        path = os.path.join(a.outbox, name)
                        with open(path) as f:
                            for c in f:
                                if c.strip():
                                    p.send_cmd(c.strip())
                        os.replace(path, path[:-4] + ".done")
            if time.time() - start > a.max_seconds:
                break
            if not p.connected_once and time.time() - start > 15:
                logging.error("not connected after 15 s")
                break
        p.done.set()

    wd = asyncio.ensure_future(watchdog())
    await p.done.wait()
    wd.cancel()
    if p.transport:
        p.disconnect(wait=0.5)
        try:
            await asyncio.wait_for(p.disconnected, 3)
        except Exception:
            pass
    p.out.close()
    if not p.connected_once:
        return 2
    return 4 if a.exit_when_answered and p.awaiting else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--jid", required=True)
    ap.add_argument("--secret", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--send", action="append")
    ap.add_argument("--outbox")
    ap.add_argument("--ack-delay", type=float, default=0.0)
    ap.add_argument("--ready-file")
    ap.add_argument("--exit-when-answered", action="store_true")
    ap.add_argument("--max-seconds", type=float, default=120)
    ap.add_argument("--from", dest="sender")
    ap.add_argument("--description")
    ap.add_argument("--ids-out")
    a = ap.parse_args()
    logging.basicConfig(level=logging.WARNING, format="peer[%(process)d] %(levelname)s %(message)s")
    return asyncio.get_event_loop().run_until_complete(run(a))


if __name__ == "__main__":
    sys.exit(main())
