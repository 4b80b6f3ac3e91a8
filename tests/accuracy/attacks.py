#!/usr/bin/python3
"""attacks.py - one ctest per trick of issue 12 "senders must not blind or steer
detection": replay a crafted capture (tests/data/captures/attack_*.xml, written
by make_attacks.py, which says what each contains) and check who is reported.

    attacks.py CASE STANZAWATCH SOURCE_DIR WORK_DIR

Every case failed on the code before the fix it tests (the incidents or the
exit status differed; see each capture's comment). Exit 0 = pass.
"""
import json
import os
import resource
import subprocess
import sys

LOC = "a" * 238


def replay(sw, src, work, name, conf=None):
    cap = os.path.join(src, "tests", "data", "captures", "attack_%s.xml" % name)
    inc = os.path.join(work, name + ".jsonl")
    stats = os.path.join(work, name + ".stats.json")
    cmd = [sw, "replay", "--threads", "2", "--incidents", inc, "--stats-json", stats]
    if conf:
        cmd += ["-c", os.path.join(src, "tests", "data", "conf", conf)]
    p = subprocess.run(cmd + [cap], stderr=subprocess.PIPE, text=True)
    incs = [json.loads(l) for l in open(inc)] if os.path.exists(inc) else []
    st = json.load(open(stats)) if os.path.exists(stats) else {}
    return p.returncode, p.stderr, incs, st


def offenders(incs):
    return {i["offender"] for i in incs}


def symbols(incs, who):
    return {c["symbol"] for i in incs if i["offender"] == who for c in i["detectors"]}


def check(cond, what):
    print(("ok:   " if cond else "FAIL: ") + what)
    return cond


def case_future_stamp(sw, src, work):
    rc, err, incs, st = replay(sw, src, work, "future_stamp")
    return all([check(rc == 0, "exit 0 (got %d)" % rc),
                check(offenders(incs) == set(), "nobody reported (got %s)" % offenders(incs)),
                check(st.get("time_clamped") == 1,
                      "the lone far-future stamp clamped (time_clamped %s)"
                      % st.get("time_clamped"))])


def case_forged_history(sw, src, work):
    rc, err, incs, st = replay(sw, src, work, "forged_history")
    return all([check(rc == 0, "exit 0 (got %d)" % rc),
                check(offenders(incs) == {"flooder@b.test"},
                      "the flooder with a forged room delay, and only it, reported (got %s)"
                      % offenders(incs))])


def case_over_limit(sw, src, work):
    rc, err, incs, st = replay(sw, src, work, "over_limit")
    want = {"deep@b.test", "attr@b.test", "probe@b.test"}
    return all([check(rc == 0, "exit 0 (got %d)" % rc),
                check(offenders(incs) == want, "over-limit senders reported (got %s)"
                      % offenders(incs)),
                check("muc_flood.rate_short" in symbols(incs, "deep@b.test"),
                      "deep nesting flood counted by muc_flood"),
                check("muc_flood.rate_short" in symbols(incs, "attr@b.test"),
                      "big attribute flood counted by muc_flood"),
                check(symbols(incs, "probe@b.test") == {"over_limit.repeat"},
                      "repeated over-limit stanzas alone are a signal (over_limit.repeat)"),
                check(st.get("over_limit", 0) >= 56, "minimal events counted (over_limit %s)"
                      % st.get("over_limit"))])


def case_malformed(sw, src, work):
    rc, err, incs, st = replay(sw, src, work, "malformed")
    return all([check(rc == 3, "exit 3: finished, malformed stanzas skipped (got %d)" % rc),
                check("attack_malformed.xml:9:" in err and "evil" in err,
                      "the bad stanza reported as file:line:col"),
                check(offenders(incs) == {"flooder@b.test"},
                      "the flood after it reported (got %s)" % offenders(incs)),
                check(st.get("malformed") == 1, "counted (malformed %s)" % st.get("malformed"))])


def case_room_whitelist(sw, src, work):
    rc, err, incs, st = replay(sw, src, work, "room_whitelist")
    return all([check(rc == 0, "exit 0 (got %d)" % rc),
                check("spammer@evil.test" in offenders(incs),
                      "a groupchat 'to' an account does not whitelist it (got %s)"
                      % offenders(incs)),
                check(offenders(incs) <= {"spammer@evil.test", "accomplice@b.test"},
                      "nobody else reported")])


def case_framing(sw, src, work):
    rc, err, incs, st = replay(sw, src, work, "framing")
    full = LOC + "@innocent.example.evil.test"
    return all([check(rc == 0, "exit 0 (got %d)" % rc),
                check(offenders(incs) == {full}, "the whole JID is the offender (got %s)"
                      % {o[-40:] for o in offenders(incs)})])


def case_saturation(sw, src, work):
    rc, err, incs, st = replay(sw, src, work, "saturation", conf="attack_saturation.yaml")
    return all([check(rc == 0, "exit 0 (got %d)" % rc),
                check(offenders(incs) == {"bait@b.test"}, "the baiting flooder reported (got %s)"
                      % offenders(incs)),
                check("muc_flood.rate_short" in symbols(incs, "bait@b.test"),
                      "the flood's strong symbol got a slot")])


def case_oversize(sw, src, work):
    """Stanzas over limits.max_stanza_bytes (a 255 KB c2s message becomes a
    256+ KB mirror copy): 25 of 300 KB flood the lobby (12 plain and stamped,
    13 mirror copies with the mirror's stamp), plus one of 2 MB and one just
    over the limit. Generated here (10 MB). Before: all skipped, only counted."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import make_attacks as m
    c = m.Cap("oversize: see attacks.py case_oversize")
    c.background()
    pad = "P" * 300000
    for i in range(12):
        c.gc(120000 + i * 300, "big@b.test/r", "flood %d %s" % (i, pad))
    for i in range(13):
        ms = 124000 + i * 300
        c.add(ms, "<message from='a.test' to='watch.a.test'><forwarded xmlns='urn:xmpp:forward:0'>"
              "<delay xmlns='urn:xmpp:delay' stamp='%s'/><message xmlns='jabber:client' "
              "from='big@b.test/r' to='%s' type='groupchat' id='w%d'><body>w %d %s</body>"
              "</message></forwarded></message>" % (m.stamp(ms), m.ROOM, i, i, pad))
    c.add(126000, "<message from='huge@b.test/r' to='v@a.test' type='chat' id='h'><body>%s</body>"
          "%s</message>" % ("H" * 2000000, m.rec(126000)))
    c.add(126500, "<message from='edge@b.test/r' to='v@a.test' type='chat' id='e'><body>%s</body>"
          "%s</message>" % ("E" * (262144 + 100), m.rec(126500)))
    cap = os.path.join(work, "oversize.xml")
    c.write(cap)
    inc = os.path.join(work, "oversize.jsonl")
    stats = os.path.join(work, "oversize.stats.json")
    p = subprocess.run([sw, "replay", "--threads", "2", "--incidents", inc, "--stats-json", stats,
                        cap], stderr=subprocess.PIPE, text=True)
    os.unlink(cap)
    incs = [json.loads(l) for l in open(inc)] if os.path.exists(inc) else []
    st = json.load(open(stats)) if os.path.exists(stats) else {}
    t = [i["detected_at"] for i in incs if i["offender"] == "big@b.test"]
    return all([check(p.returncode == 0, "exit 0 (got %d)" % p.returncode),
                check(offenders(incs) == {"big@b.test"}, "the oversize flooder reported (got %s)"
                      % offenders(incs)),
                check("muc_flood.rate_short" in symbols(incs, "big@b.test"),
                      "its oversize lines counted by muc_flood"),
                check(t != [] and t[0].startswith("2026-11-29T10:02"),
                      "dated by the recorder's / mirror's stamps (%s)" % t[:1]),
                check(st.get("over_limit") == 27, "27 minimal events (over_limit %s)"
                      % st.get("over_limit"))])


def case_batch_memory(sw, src, work):
    """12 MB of tiny <iq/>: parser batches must stay capped (508-549 MB before)."""
    cap = os.path.join(work, "tiny_iq.xml")
    with open(cap, "w") as f:
        f.write("<stream:stream xmlns='jabber:server' "
                "xmlns:stream='http://etherx.jabber.org/streams'>\n")
        f.write("<iq/>\n" * 2000000)
        f.write("</stream:stream>\n")
    p = subprocess.run([sw, "replay", "--threads", "2", "--incidents", os.devnull, cap],
                       stderr=subprocess.PIPE, text=True)
    rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
    os.unlink(cap)
    return all([check(p.returncode == 0, "exit 0 (got %d)" % p.returncode),
                check("iq 2000000" in p.stderr, "every <iq/> parsed"),
                check(rss_mb < 200, "peak RSS %.0f MB < 200 MB" % rss_mb)])


def main():
    case, sw, src, work = sys.argv[1:5]
    os.makedirs(work, exist_ok=True)
    fn = globals().get("case_" + case)
    if fn is None:
        print("attacks.py: unknown case %s" % case)
        return 2
    return 0 if fn(sw, src, work) else 1


if __name__ == "__main__":
    sys.exit(main())
