#!/usr/bin/python3
"""make_attacks.py - write the crafted captures of issue 12 ("senders must not
blind or steer detection") into tests/data/captures/attack_*.xml.

    make_attacks.py OUT_DIR

The captures are checked in; this script documents how each was made and
rewrites them byte for byte (no randomness). Each is a small stream in the
format swgen writes (one stanza per line, the recorder's XEP-0203 stamp as the
last child of every stanza) with a little benign room and chat traffic around
the attack; tests/accuracy/attacks.py says what stanzawatch must report on
each (and what the code before the fixes did instead).
"""
import os
import sys
from datetime import datetime, timedelta, timezone

T0 = datetime(2026, 11, 29, 10, 0, 0, tzinfo=timezone.utc)
HDR = ("<?xml version='1.0'?>\n<stream:stream xmlns='jabber:server' "
       "xmlns:stream='http://etherx.jabber.org/streams'>\n")
END = "</stream:stream>\n"
ROOM = "lobby@rooms.a.test"


def stamp(ms):
    t = T0 + timedelta(milliseconds=ms)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (t.microsecond // 1000)


def rec(ms):
    """The recorder's stamp (last child, no from)."""
    return "<delay xmlns='urn:xmpp:delay' stamp='%s'/>" % stamp(ms)


# Varied small talk (near-duplicate lines would rightly look like a repeat flood).
TALK = [
    "morning all", "did the nightly build pass?", "coffee machine is broken again",
    "who broke the staging server", "I'll look at the ticket after lunch",
    "anyone going to the meetup on thursday?", "the new release notes are up",
    "my train was late, sorry", "can someone review my patch", "works for me here",
    "that sounds like a cache problem", "let me reboot and try once more",
    "the wiki page is out of date", "great talk yesterday", "which branch is that on",
    "ok merged it", "weather is lovely today", "I'm off for the weekend, bye",
    "did you try turning it off and on", "the logs say permission denied",
    "fixed, thanks a lot", "is the VPN down for anyone else", "see you tomorrow",
    "lunch in ten minutes?", "I have a question about the API", "no idea, ask Mia",
    "the printer on floor two jams", "can't reproduce it", "nice catch", "meeting moved to 3",
]


def talk(i):
    return TALK[i % len(TALK)]


class Cap:
    def __init__(self, comment):
        self.lines = []  # (ms, order, text)
        self.comment = comment
        self.n = 0

    def add(self, ms, text):
        self.lines.append((ms, self.n, text))
        self.n += 1

    def gc(self, ms, frm, body, to=ROOM, extra="", stamped=True, sid=None):
        sid = sid or "g%d" % self.n
        self.add(ms, "<message from='%s' to='%s' type='groupchat' id='%s'><body>%s</body>%s%s"
                 "</message>" % (frm, to, sid, body, extra, rec(ms) if stamped else ""))

    def chat(self, ms, frm, to, body, extra="", stamped=True):
        self.add(ms, "<message from='%s' to='%s' type='chat' id='c%d'><body>%s</body>%s%s"
                 "</message>" % (frm, to, self.n, body, extra, rec(ms) if stamped else ""))

    def background(self, minutes=10, stamped=True):
        """Two regulars talking in the lobby and a 1:1 chat, every ~20-30 s."""
        for i in range(minutes * 3):
            self.gc(i * 20000 + 1000, "alice@a.test/pc", talk(2 * i), stamped=stamped)
            self.gc(i * 20000 + 9000, "bob@b.test/m", talk(2 * i + 7), stamped=stamped)
            if i % 2 == 0:
                self.chat(i * 20000 + 15000, "carol@a.test/x", "dave@a.test", talk(i + 3),
                          stamped=stamped)

    def flood(self, ms, frm, n=25, every=300, extra="", body="BUY CHEAP FOLLOWERS NOW #%d",
              to=ROOM):
        for i in range(n):
            self.gc(ms + i * every, frm, body % i, extra=extra, to=to)

    def write(self, path):
        self.lines.sort()
        with open(path, "w") as f:
            f.write(HDR)
            f.write("<!-- %s -->\n" % self.comment.replace("--", "-"))
            for _, _, t in self.lines:
                f.write(t + "\n")
            f.write(END)


def future_stamp():
    c = Cap("attack_future_stamp.xml (issue 12, time is the recorder's): mallory puts "
            "<delay stamp='2999-01-01'/> into its own chat (the recorder's stamp follows), "
            "then one line carries only such a stamp (a capture line without the "
            "recorder's); calm@b.test posts one line every 25 s. Must: calm is not "
            "reported, the lone far-future stamp is clamped (stats time_clamped 1). "
            "Before: stream time froze at 2999 and calm (and the regulars) were flooders.")
    c.background()
    c.chat(30000, "mallory@b.test/r", "bob@b.test", "hi",
           extra="<delay xmlns='urn:xmpp:delay' stamp='2999-01-01T00:00:00Z'/>")
    c.add(40000, "<message from='mallory@b.test/r' to='bob@b.test' type='chat' id='m2'>"
          "<body>hi again</body><delay xmlns='urn:xmpp:delay' stamp='2999-01-01T00:00:00Z'/>"
          "</message>")
    for i in range(20):
        c.gc(60000 + i * 25000, "calm@b.test/r", talk(3 * i + 1) + "!")
    return c


def forged_history():
    c = Cap("attack_forged_history.xml (issue 12/13, history is only what the room or "
            "server re-delivers): flooder@b.test sends 25 lines in 7.2 s to the lobby, "
            "each with <delay from='lobby@rooms.a.test'/> it added itself. Also real "
            "re-deliveries: the room's history to a joining occupant (25 reflections with "
            "the room's delay) and carol's offline messages from her server (delay "
            "from='a.test'). Must: flooder@b.test reported, nobody else. Before: the "
            "forged delay made the flood MUC history, which every rate detector skips.")
    c.background()
    forged = "<delay xmlns='urn:xmpp:delay' from='%s' stamp='2026-11-29T09:00:00Z'/>" % ROOM
    c.flood(120000, "flooder@b.test/r", extra=forged)
    for i in range(25):
        c.add(200000 + i * 20, "<message from='%s/old%d' to='erin@a.test/w' type='groupchat' "
              "id='h%d'><body>history line %d</body><delay xmlns='urn:xmpp:delay' from='%s' "
              "stamp='2026-11-29T08:%02d:00Z'/>%s</message>" % (ROOM, i % 3, i, i, ROOM, i,
                                                                rec(200000 + i * 20)))
    for i in range(25):
        c.add(300000 + i * 20, "<message from='frank@b.test/r' to='carol@a.test' type='chat' "
              "id='o%d'><body>offline note %d</body><delay xmlns='urn:xmpp:delay' "
              "from='a.test' stamp='2026-11-29T07:%02d:00Z'/>%s</message>"
              % (i, i, i, rec(300000 + i * 20)))
    return c


def over_limit():
    c = Cap("attack_over_limit.xml (issue 12, limits must not make stanzas invisible): "
            "deep@b.test floods the lobby with 25 lines each carrying a foreign child "
            "nested 33 levels deep, attr@b.test with a 4,200-byte attribute on a foreign "
            "child, and probe@b.test sends 6 such stanzas to 6 people over 5 minutes. "
            "Must: deep and attr reported (muc_flood and over_limit.repeat), probe "
            "reported by over_limit.repeat alone. Before: every one of these stanzas was "
            "dropped (counted), nothing reported.")
    c.background()
    deep = "<x xmlns='urn:example:nest'>" + "<x>" * 32 + "</x>" * 32 + "</x>"
    big = "<x xmlns='urn:example:blob' data='%s'/>" % ("A" * 4200)
    c.flood(120000, "deep@b.test/r", extra=deep)
    c.flood(240000, "attr@b.test/r", extra=big)
    for i in range(6):
        c.chat(300000 + i * 50000, "probe@b.test/r", "target%d@a.test" % i, "hello", extra=big)
    return c


def malformed():
    c = Cap("attack_malformed.xml (issue 12, one malformed stanza must not stop the "
            "stream): line 10 has an undefined entity; flooder@b.test floods the lobby "
            "afterwards. Must: the bad stanza reported as file:line:col and skipped, "
            "flooder reported, exit status 3. Before: exit 1 at the bad stanza, nothing "
            "after it analysed.")
    c.background(minutes=6)
    c.add(30500, "<message from='eve@b.test/r' to='bob@b.test' type='chat' id='bad'>"
          "<body>&evil;</body>%s</message>" % rec(30500))
    c.flood(120000, "flooder@b.test/r")
    return c


def room_whitelist():
    c = Cap("attack_room_whitelist.xml (issue 12, nobody whitelists themselves): "
            "accomplice@b.test sends 20 groupchat lines 'to' the plain account "
            "spammer@evil.test (so a muc_flood hit names it as a room), then "
            "spammer@evil.test floods the lobby. Must: spammer@evil.test reported. "
            "Before: any JID seen as a hit's room was never reported again.")
    c.background()
    c.flood(60000, "accomplice@b.test/r", n=20, body="protect %d", to="spammer@evil.test")
    c.flood(180000, "spammer@evil.test/r")
    return c


def framing():
    loc = "a" * 238
    c = Cap("attack_framing.xml (issue 12, never truncate an identity): a flood from a "
            "238-byte localpart at innocent.example.evil.test. Must: the offender is the "
            "whole JID. Before: cut at 255 bytes, it read as an account at "
            "innocent.example.")
    c.background()
    c.flood(120000, "%s@innocent.example.evil.test/r" % loc)
    return c


def saturation():
    c = Cap("attack_saturation.xml (issue 12, saturation), replayed with "
            "tests/data/conf/attack_saturation.yaml (12 content rules bait01..bait12): "
            "bait@b.test sends one message matching all 12 rules (filling the 12 symbol "
            "slots), then floods the lobby. Unstamped (arrival time) so the content "
            "detector runs on it on every branch. Must: bait@b.test reported. Before: "
            "the flood's muc_flood hits found no free slot and were dropped.")
    c.background(minutes=1, stamped=False)
    words = " ".join("bait%02d" % i for i in range(1, 13))
    c.chat(5000, "bait@b.test/r", "dave@a.test", "have a look: " + words, stamped=False)
    for i in range(25):
        c.gc(6000 + i, "bait@b.test/r", "BUY CHEAP FOLLOWERS NOW #%d" % i, stamped=False)
    return c


def main():
    out = sys.argv[1]
    for name, fn in [("future_stamp", future_stamp), ("forged_history", forged_history),
                     ("over_limit", over_limit), ("malformed", malformed),
                     ("room_whitelist", room_whitelist), ("framing", framing),
                     ("saturation", saturation)]:
        fn().write(os.path.join(out, "attack_%s.xml" % name))


if __name__ == "__main__":
    main()
