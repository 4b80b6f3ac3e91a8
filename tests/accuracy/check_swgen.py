#!/usr/bin/python3
"""check_swgen.py - properties of swgen's output (ctest accuracy.swgen).

  check_swgen.py SWGEN WORKDIR

- same seed and options -> byte-identical capture and truth; another seed differs;
- the capture is well-formed XML (expat via ElementTree, streamed);
- every stanza has exactly one XEP-0203 stamp, ms precision, never decreasing,
  some equal; the mirror fraction is near --mirror-fraction;
- MUC reflections (from room/nick) and fan-out copies (same id) are present;
- every abuse offender of the truth file sends stanzas in the capture, and
  every abuse instance's start_ms is the stamp of one of its offenders' stanzas;
- --scenarios none --benign none gives no instance; a bad name is refused;
- the first twenty scenarios alone give the bytes the generator gave before it
  moved to swgen/ (GOLDEN: seed 11, commit f40be02's bench/gen.c), and adding
  the isolated ones (issue 13) only inserts stanzas and truth lines: the
  first-twenty capture is a subsequence of the full one, its truth a prefix;
  likewise the capture of every scenario before over-limit (GEN_OWN_IDS: the
  later ones do not even shift the older isolated ones' ids);
- content, wave and over-limit instances carry their class in the truth file;
- over-limit stanzas cross a limit (attribute > 4096 bytes, nesting > 32,
  a JID part > 1023 bytes, body > 64 KB) and the large-stanzas look-alike's
  accounts send at most two such stanzas each (fewer than over_limit's max 3).
"""
import hashlib
import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

# scenarios of the generator before issue 13 (not isolated)
LEGACY_ABUSE = ("muc-flood,muc-raid,room-spam,sub-burst,sub-burst-domain,sub-slow,msg-spam,"
                "presence-churn")
LEGACY_BENIGN = ("active-person,goal-burst,news-bot,new-user-contacts,long-paste,flaky-phone,"
                 "server-announce,returning-person,moderator,bridge-bot,room-hopper,helpdesk")
# every scenario before over-limit (the isolated ones sharing one id counter);
# those from over-limit on (GEN_OWN_IDS) change no byte of these when added
SHARED_ABUSE = LEGACY_ABUSE + ",content-slow,thin-wave"
SHARED_BENIGN = LEGACY_BENIGN + (",link-share,spam-warning,topic-talk,rss-bot,price-bot,"
                                 "contact-import,raid-bystanders,presence-flap")
# sha256 of capture and truth of seed 11 (run() sizes) with the legacy lists, as
# written by bench/gen.c at commit f40be02; a deliberate change of the legacy
# output updates these (and says so in its commit).
GOLDEN = ("fa7bcce46099b56ec51398d9ba189eb7fa96a6359cd9c6a44a1fc4f7f8530c7b",
          "e990364d87ab872aaad3d4444cadc9be681412de0c680e47520a7030c4a531a6")
STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def over_limit(st):
    """the limits (configs/stanzawatch.yaml limits:, engine/xml.c) stanza @st crosses"""
    why = set()

    def walk(el, d):
        if d > 32:
            why.add("depth")
        if any(len(v) > 4096 for v in el.attrib.values()):
            why.add("attr")
        for c in el:
            walk(c, d + 1)
    walk(st, 1)
    for a in ("from", "to"):
        j = st.get(a, "")
        local, _, rest = j.partition("@") if "@" in j else ("", "", j)
        dom, _, res = rest.partition("/")
        if max(len(local), len(dom), len(res)) > 1023:
            why.add("jid")
    body = st.find("{jabber:client}body")
    if body is None:
        body = st.find("{jabber:server}body")
    if body is not None and len(body.text or "") > 65536:
        why.add("text")
    return why


def run(swgen, out, truth, seed, extra=()):
    cmd = [swgen, "--seed", str(seed), "--stanzas", "40000", "--duration", "7200",
           "--truth", truth, "-o", out, *extra]
    subprocess.run(cmd, check=True, stderr=subprocess.DEVNULL)


def fail(msg):
    print("check_swgen: FAIL:", msg)
    sys.exit(1)


def main():
    swgen, work = sys.argv[1], sys.argv[2]
    os.makedirs(work, exist_ok=True)
    a, b, c = (os.path.join(work, n) for n in ("a.xml", "b.xml", "c.xml"))
    ta, tb, tc = (os.path.join(work, n) for n in ("a.jsonl", "b.jsonl", "c.jsonl"))
    run(swgen, a, ta, 11)
    run(swgen, b, tb, 11)
    run(swgen, c, tc, 12)
    if open(a, "rb").read() != open(b, "rb").read() or open(ta).read() != open(tb).read():
        fail("same seed gave different output")
    if open(a, "rb").read() == open(c, "rb").read():
        fail("different seeds gave the same capture")

    D = "{urn:xmpp:delay}delay"
    F = "{urn:xmpp:forward:0}forwarded"
    n = wrapped = refl = 0
    last = ""
    equal = 0
    ids = {}
    senders = {}
    messages = {}  # bare sender -> messages sent
    over = {}  # bare sender -> the limits each of its over-limit stanzas crossed
    depth = 0
    for ev, el in ET.iterparse(a, events=("start", "end")):
        if ev == "start":
            depth += 1
            continue
        depth -= 1
        if depth != 1:
            continue
        n += 1
        inner = el
        fw = el.find(F)
        if fw is not None:
            wrapped += 1
            stamps = fw.findall(D)
            inner = [x for x in fw if x.tag != D][0]
        else:
            stamps = el.findall(D)
        if len(stamps) != 1 or not STAMP.match(stamps[0].get("stamp", "")):
            fail(f"stanza {n}: bad or missing delay stamp")
        s = stamps[0].get("stamp")
        if s < last:
            fail(f"stanza {n}: stamp {s} goes back from {last}")
        equal += s == last
        last = s
        frm = inner.get("from", "")
        if "@rooms.a.test/" in frm:
            refl += 1
        key = (frm, inner.get("id"))
        ids[key] = ids.get(key, 0) + 1
        bare = frm.split("/")[0].lower()
        senders.setdefault(bare, []).append(s)
        if inner.tag.endswith("}message"):
            messages[bare] = messages.get(bare, 0) + 1
        why = over_limit(inner)
        if why:
            over.setdefault(bare, []).append(why)
        el.clear()
    frac = wrapped / n
    print(f"stanzas {n}, wrapped {frac:.3f}, reflections {refl}, equal stamps {equal}")
    if not 0.25 < frac < 0.35:
        fail(f"mirror fraction {frac} not near 0.3")
    if refl == 0 or equal == 0 or max(ids.values()) < 3:
        fail("no reflections, no equal stamps or no fan-out copies")

    import datetime

    def ms(s):
        return int(datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp() * 1000 + .5)

    truth = [json.loads(l) for l in open(ta)]
    kinds = {t["scenario"] for t in truth}
    if len(kinds) < 28:
        fail(f"only {len(kinds)} scenario types in the truth file")
    for t in truth:
        if t["benign"] or t["truncated"]:
            continue
        starts = []
        for o in t["offenders"] + t["acceptable"]:
            if o["kind"] == "account":
                if o["jid"].lower() not in senders:
                    if o in t["offenders"]:
                        fail(f"{t['scenario']}: offender {o['jid']} never sends")
                    continue
                starts += [ms(x) for x in senders[o["jid"].lower()]]
        if t["start_ms"] not in starts:
            fail(f"{t['scenario']}: start_ms {t['start_ms']} is no offender stanza")
    # the legacy scenarios alone: golden bytes; with the isolated ones: inserted only
    d, td = os.path.join(work, "legacy.xml"), os.path.join(work, "legacy.jsonl")
    run(swgen, d, td, 11, ["--scenarios", LEGACY_ABUSE, "--benign", LEGACY_BENIGN])
    got = (hashlib.sha256(open(d, "rb").read()).hexdigest(),
           hashlib.sha256(open(td, "rb").read()).hexdigest())
    if got != GOLDEN:
        fail(f"legacy scenarios of seed 11 no longer give the golden bytes: {got}")
    full = open(a, "rb").read().split(b"\n")

    def subsequence(what, cap, tru):
        old = open(cap, "rb").read().split(b"\n")
        i = 0
        for line in full:
            if i < len(old) and line == old[i]:
                i += 1
        if i != len(old):
            fail(f"{what} capture is not a subsequence of the full one (line {i + 1})")
        if not open(ta).read().startswith(open(tru).read()):
            fail(f"{what} truth is not a prefix of the full one")
        return old
    old = subsequence("legacy", d, td)
    e, te = os.path.join(work, "shared.xml"), os.path.join(work, "shared.jsonl")
    run(swgen, e, te, 11, ["--scenarios", SHARED_ABUSE, "--benign", SHARED_BENIGN])
    subsequence("pre-over-limit", e, te)
    for t in truth:
        want = {"content-slow": "content", "thin-wave": "wave",
                "over-limit": "hostile-input"}.get(t["scenario"])
        if t.get("class") != want:
            fail(f"{t['scenario']}: class {t.get('class')} (want {want})")
    why_all = set()
    for t in truth:
        if t["truncated"] or t["scenario"] not in ("over-limit", "large-stanzas"):
            continue
        for o in t["offenders"]:
            j = o["jid"].lower()
            ov = over.get(j, [])
            why_all.update(*ov)
            if t["scenario"] == "over-limit" and (len(ov) != messages.get(j) or len(ov) < 4):
                fail(f"over-limit: {j} sent {messages.get(j)} messages, {len(ov)} over a limit")
            if t["scenario"] == "large-stanzas" and len(ov) > 2:
                fail(f"large-stanzas: {j} sent {len(ov)} over-limit stanzas (at most 2)")
    if "over-limit" in kinds and not {"attr", "depth"} <= why_all:
        fail(f"over-limit instances crossed only {sorted(why_all)}")
    print(f"over-limit stanzas cross: {', '.join(sorted(why_all))}")
    print(f"legacy bytes golden; full capture inserts {len(open(a, 'rb').read().split(chr(10).encode())) - len(old)} lines")

    run(swgen, c, tc, 13, ["--scenarios", "none", "--benign", "none"])
    if open(tc).read() != "":
        fail("--scenarios none --benign none still wrote instances")
    r = subprocess.run([swgen, "--seed", "1", "--stanzas", "10", "--scenarios", "nope",
                        "-o", c], stderr=subprocess.DEVNULL)
    if r.returncode == 0:
        fail("an unknown scenario name was accepted")
    print("check_swgen: PASS")


if __name__ == "__main__":
    main()
