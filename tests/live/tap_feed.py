#!/usr/bin/python3
"""tests/live/tap_feed.py - one socket-tap client for live.tap_reload.

  tap_feed.py ADDR PREFIX --steady SECONDS   groupchat messages every 5 ms
                                            until SECONDS pass or STOPFILE appears
  tap_feed.py ADDR PREFIX --burst N          N messages at once, then wait for EOF

ADDR is unix:PATH or HOST:PORT (loopback). Every stanza is a distinct
<message> (no presence: nothing is deduplicated). Prints one JSON line:
{"sent": n, "closed_by_peer": bool, "error": str|null} - a steady feeder
that saw its connection closed or reset reports it, a burst feeder reports
whether stanzawatch closed the connection (it waits up to --wait seconds).
Writes "sent" to --marker once everything was handed to the kernel.
"""
import argparse
import json
import os
import socket
import time

HDR = (b"<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
       b"xmlns:stream='http://etherx.jabber.org/streams'>\n")


def stanza(prefix, i):
    return ("<message from='%s%d@a.test/r' to='room%s@rooms.a.test' type='groupchat' "
            "id='%s-%d'><body>hello %d from %s</body></message>\n"
            % (prefix, i % 7, prefix, prefix, i, i, prefix)).encode()


def connect(addr):
    if addr.startswith("unix:"):
        s = socket.socket(socket.AF_UNIX)
        s.connect(addr[5:])
    else:
        host, port = addr.rsplit(":", 1)
        s = socket.create_connection((host, int(port)), timeout=5)
    return s


def eof(s):
    """True once the peer closed: the tap's hello (the only bytes it sends,
    live/record.h) is read and ignored; blocks as the socket's timeout says."""
    while s.recv(4096) != b"":
        pass  # BlockingIOError or socket.timeout ends the wait
    return True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("addr")
    ap.add_argument("prefix")
    ap.add_argument("--steady", type=float)
    ap.add_argument("--burst", type=int)
    ap.add_argument("--stopfile")
    ap.add_argument("--marker")
    ap.add_argument("--wait", type=float, default=20)
    a = ap.parse_args()
    s = connect(a.addr)
    s.sendall(HDR)
    sent, closed, err = 0, False, None
    try:
        if a.steady is not None:
            end = time.time() + a.steady
            while time.time() < end and not (a.stopfile and os.path.exists(a.stopfile)):
                s.sendall(stanza(a.prefix, sent))
                sent += 1
                time.sleep(0.005)
            time.sleep(0.2)
            # did stanzawatch close us meanwhile? (a clean close reads as EOF)
            s.setblocking(False)
            try:
                closed = eof(s)
            except BlockingIOError:
                closed = False
        else:
            s.sendall(b"".join(stanza(a.prefix, i) for i in range(a.burst)))
            sent = a.burst
            if a.marker:
                with open(a.marker, "w") as f:
                    f.write("sent\n")
            s.settimeout(a.wait)
            try:
                closed = eof(s)
            except socket.timeout:
                closed = False
    except OSError as e:  # EPIPE / ECONNRESET: the connection was taken away
        err = "%s: %s" % (type(e).__name__, e)
        closed = True
    s.close()
    print(json.dumps({"sent": sent, "closed_by_peer": closed, "error": err}))


main()
