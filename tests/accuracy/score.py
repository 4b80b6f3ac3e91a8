#!/usr/bin/python3
"""score.py - accuracy of stanzawatch incidents against a swgen truth file.

Usage:
  score.py --truth TRUTH.jsonl --incidents INCIDENTS.jsonl [--json OUT]
           [--min-recall R] [--min-recall-content R] [--min-recall-wave R]
           [--max-fp N] [--max-median-latency S]
           [--pending LIST] [--strict] [--report-only]

Truth (one JSON object per scenario instance, written by swgen --truth):
  {scenario, variant, benign, slow, truncated, [class,] offenders:[{jid, kind}],
   acceptable:[{jid, kind}], start_ms, end_ms, ...}
  - offenders of an abuse instance must be reported (recall);
  - acceptable entries may be reported or not (the spam domain of a raid, the
    single accounts of a domain-wide subscription burst, a wave's fresh
    domains, the raiders of a raid-bystanders instance);
  - benign instances list accounts that must not be reported;
  - truncated instances (cut by the capture's end) are ignored entirely.
  - class: "content" (caught by what the lines say), "wave" (many thin
    senders) or "hostile-input" (stanzas over the parser's limits: caught
    only by an incident line of kind hostile-input or naming an over_limit.*
    symbol, so another detector catching the same sender does not count);
    absent = "behaviour". A wave offender also counts as caught when its
    domain is reported and listed as a domain in the same instance.
Incidents: stanzawatch's JSON Lines (any status lines; one offender counts once).

Gates (issue 13's targets are the defaults; each is part of pass/fail):
  recall per abuse scenario   >= --min-recall (0.99) for behaviour and hostile-input,
                              >= --min-recall-content (0.9), --min-recall-wave (0.9);
  slow abuse (truth slow)     caught before its last abusive stanza;
  false-positive offenders    <= --max-fp (0): reported, neither an abuse offender
                              nor acceptable; each is listed with the benign
                              scenarios it acts in ("background" if none);
  burst median latency        <= --max-median-latency (3 s), over the non-slow
                              abuse instances (first abusive stanza -> earliest
                              detected_at of its offenders).
Pending gates: --pending LIST (comma separated; default: the environment's
SW_ACCURACY_PENDING, else PENDING_DEFAULT below) names scenarios whose gates are
reported as PENDING instead of failing: an abuse scenario's recall and lateness,
and the false positives of accounts acting in a pending benign scenario. An
item "latency:S" gates the burst median at S seconds and reports the target as
PENDING when only that is missed. --strict (or SW_ACCURACY_STRICT=1) empties
the list: every target gates. --report-only prints and exits 0.
Exit status: 0 pass, 1 a gate failed, 2 bad input.
"""
import argparse
import datetime
import json
import os
import statistics
import sys

# The 3 s burst median: met on every one of the 341 runs of 2026-12-06's third
# session (tests/accuracy/README.md: 1.7-2.9 s per run, 2.3 s median of runs),
# after 7 of 176 runs of the session before landed at 3.0-3.2 s. About 40% of
# the burst instances cannot be caught in 3 s without reporting look-alikes
# (subscription bursts wait for a refusal or their 60 s grace, rejoin storms
# for a fourth change, a domain's subscription burst for its fourth fresh
# account), so the pooled median sits at the boundary between them and the
# fast scenarios and moves with the mix of a seed. CI runs one fresh seed per
# run: the gate stays at 3.5 s, and a run over 3 s prints PENDING, so a seed
# that lands a few hundredths over the target is reported, not a red build.
# content-slow, thin-wave and every look-alike gate since the accuracy branch
# (0 false positives, recall >= 0.9 over those runs).
PENDING_DEFAULT = "latency:3.5"

RECALL_DEFAULT = {"behaviour": 0.99, "content": 0.9, "wave": 0.9, "hostile-input": 0.99}

# incident kind and detector symbol prefix of class hostile-input (detectors/over_limit.c)
HOSTILE_KIND, HOSTILE_SYMBOL = "hostile-input", "over_limit."


def is_hostile(inc):
    return inc.get("kind") == HOSTILE_KIND or any(
        str(d.get("symbol", "")).startswith(HOSTILE_SYMBOL) for d in inc.get("detectors", []))


def parse_time(s):
    # RFC 3339 with ms, UTC ("2026-01-05T12:00:00.123Z")
    if s.endswith("Z"):
        s = s[:-1] + "+00:00"
    return int(datetime.datetime.fromisoformat(s).timestamp() * 1000 + 0.5)


def key(jid, kind):
    return (jid.lower(), kind)


def domain_of(jid):
    return jid.split("@", 1)[1].lower() if "@" in jid else jid.lower()


def fmt(x, w=8):
    return f"{x:>{w}.1f}" if x == x else f"{'-':>{w}}"


def load_incidents(path):
    """earliest detected_at per (offender, kind), with the incident kind;
    every detected_at per (offender, kind), sorted; and those of the lines
    that are hostile input (is_hostile)"""
    reported, times, hostile, n_lines = {}, {}, {}, 0
    with open(path, encoding="utf-8", errors="replace") as f:
        for ln, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            n_lines += 1
            try:
                inc = json.loads(line)
                k = key(inc["offender"], inc["offender_kind"])
                t = parse_time(inc["detected_at"])
            except (ValueError, KeyError) as e:
                raise ValueError(f"{path}:{ln}: bad incident line: {e}")
            if k not in reported or t < reported[k][0]:
                reported[k] = (t, inc.get("kind", ""))
            times.setdefault(k, set()).add(t)
            if is_hostile(inc):
                hostile.setdefault(k, set()).add(t)
    return (reported, {k: sorted(v) for k, v in times.items()},
            {k: sorted(v) for k, v in hostile.items()}, n_lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--truth", required=True)
    ap.add_argument("--incidents", required=True)
    ap.add_argument("--min-recall", type=float, default=RECALL_DEFAULT["behaviour"],
                    help="behaviour and hostile-input scenarios")
    ap.add_argument("--min-recall-content", type=float, default=RECALL_DEFAULT["content"])
    ap.add_argument("--min-recall-wave", type=float, default=RECALL_DEFAULT["wave"])
    ap.add_argument("--max-fp", type=int, default=0)
    ap.add_argument("--max-median-latency", type=float, default=3.0)
    ap.add_argument("--pending", default=None,
                    help="scenarios (and latency:S) whose gates do not fail yet")
    ap.add_argument("--strict", action="store_true", help="no pending gates")
    ap.add_argument("--report-only", action="store_true", help="print, always exit 0")
    ap.add_argument("--json", help="write the summary as JSON to this file")
    args = ap.parse_args()

    strict = args.strict or os.environ.get("SW_ACCURACY_STRICT", "") not in ("", "0")
    plist = args.pending if args.pending is not None else \
        os.environ.get("SW_ACCURACY_PENDING", PENDING_DEFAULT)
    pending, latency_gate = set(), args.max_median_latency
    if not strict:
        for item in filter(None, (x.strip() for x in plist.split(","))):
            if item.startswith("latency:"):
                latency_gate = max(latency_gate, float(item.split(":", 1)[1]))
            else:
                pending.add(item)
    min_recall = {"behaviour": args.min_recall, "content": args.min_recall_content,
                  "wave": args.min_recall_wave, "hostile-input": args.min_recall}

    truth = []
    with open(args.truth, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line:
                truth.append(json.loads(line))
    try:
        reported, times, hostile, n_lines = load_incidents(args.incidents)
    except ValueError as e:
        print(f"score: {e}", file=sys.stderr)
        return 2

    abuse, acceptable, benign_of = set(), set(), {}
    for tr in truth:
        if tr.get("truncated"):
            for o in tr["offenders"] + tr.get("acceptable", []):
                acceptable.add(key(o["jid"], o["kind"]))  # cut short: neither way
            continue
        for o in tr["offenders"]:
            k = key(o["jid"], o["kind"])
            if tr["benign"]:
                benign_of.setdefault(k, [])
                if tr["scenario"] not in benign_of[k]:
                    benign_of[k].append(tr["scenario"])
            else:
                abuse.add(k)
        for o in tr.get("acceptable", []):
            acceptable.add(key(o["jid"], o["kind"]))

    failed, pend = [], []  # gate descriptions

    # --- abuse: recall and latency per scenario ---
    per = {}
    all_lat = []
    for tr in truth:
        if tr["benign"] or tr.get("truncated"):
            continue
        cls = tr.get("class", "behaviour")
        s = per.setdefault(tr["scenario"], {"instances": 0, "offenders": 0, "caught": 0,
                                            "latency": [], "missed": [], "late": 0,
                                            "slow": bool(tr.get("slow")), "class": cls})
        s["instances"] += 1
        doms = {o["jid"].lower() for o in tr["offenders"] + tr.get("acceptable", [])
                if o["kind"] == "domain"}
        first = None

        def when(k):
            """the detection that counts: the earliest; for content and wave
            offenders (long-lived accounts, shared domains) the earliest at or
            after the instance's start, so an unrelated earlier report does not
            count as catching it; for hostile-input offenders the earliest
            report as hostile input"""
            if cls == "hostile-input":
                return hostile[k][0] if k in hostile else None
            if k not in times:
                return None
            if cls == "behaviour":
                return times[k][0]
            return next((t for t in times[k] if t >= tr["start_ms"]), None)

        for o in tr["offenders"]:
            k = key(o["jid"], o["kind"])
            s["offenders"] += 1
            t = when(k)
            if t is None and cls == "wave" and o["kind"] == "account":
                dk = key(domain_of(o["jid"]), "domain")
                if dk[0] in doms:
                    t = when(dk)  # rolled up to its wave domain
            if t is not None:
                s["caught"] += 1
                first = t if first is None else min(first, t)
            else:
                s["missed"].append(f"{o['jid']} ({tr['variant']}, size {tr.get('size')})")
        if first is not None:
            lat = (first - tr["start_ms"]) / 1000.0
            s["latency"].append(lat)
            if s["slow"]:
                if first > tr["end_ms"]:
                    s["late"] += 1
            else:
                all_lat.append(lat)

    print(f"{'abuse scenario':<18} {'class':<13} {'inst':>4} {'caught':>9} {'recall':>6} "
          f"{'target':>6} {'lat med':>8} {'lat max':>8}  gate")
    summary = {"scenarios": {}, "benign": {}}
    for name in sorted(per, key=lambda n: (per[n]["class"] != "behaviour", n)):
        s = per[name]
        recall = s["caught"] / s["offenders"] if s["offenders"] else 1.0
        target = min_recall[s["class"]]
        med = statistics.median(s["latency"]) if s["latency"] else float("nan")
        mx = max(s["latency"]) if s["latency"] else float("nan")
        problems = []
        if recall < target:
            problems.append(f"recall {recall:.3f} < {target}")
        if s["late"] > 0:
            problems.append(f"{s['late']} caught after the abuse ended")
        gate = "ok"
        if problems:
            if name in pending:
                gate = "PENDING (" + "; ".join(problems) + ")"
                pend.append(f"{name}: " + "; ".join(problems))
            else:
                gate = "FAIL (" + "; ".join(problems) + ")"
                failed.append(f"{name}: " + "; ".join(problems))
        slow = " slow" if s["slow"] else ""
        print(f"{name:<18} {s['class']:<13} {s['instances']:>4} {s['caught']:>4}/{s['offenders']:<4} "
              f"{recall:>6.3f} {target:>6.2f} {fmt(med)} {fmt(mx)}  {gate}{slow}")
        for m in s["missed"][:5]:
            print(f"    missed {m}")
        if len(s["missed"]) > 5:
            print(f"    missed ... and {len(s['missed']) - 5} more")
        summary["scenarios"][name] = {
            "instances": s["instances"], "offenders": s["offenders"], "caught": s["caught"],
            "recall": recall, "target": target, "class": s["class"], "slow": s["slow"],
            "late": s["late"], "latency_median_s": med, "latency_max_s": mx,
            "gate": gate.split(" ")[0], "pending": name in pending}

    # --- false positives ---
    fps = []
    true_rep = 0
    for k in sorted(reported):
        if k in abuse or k in acceptable:
            true_rep += 1
            continue
        where = benign_of.get(k, [])
        is_pending = any(w in pending for w in where)
        fps.append((k, where, reported[k][1], is_pending))
    gating_fps = [f for f in fps if not f[3]]
    pending_fps = [f for f in fps if f[3]]

    # --- benign look-alikes: actors and how many were reported ---
    ben = {}
    for tr in truth:
        if not tr["benign"] or tr.get("truncated"):
            continue
        b = ben.setdefault(tr["scenario"], {"instances": 0, "actors": set()})
        b["instances"] += 1
        b["actors"].update(key(o["jid"], o["kind"]) for o in tr["offenders"])
    gating_keys = {f[0] for f in gating_fps}
    pending_keys = {f[0] for f in pending_fps}
    print()
    print(f"{'benign look-alike':<18} {'inst':>4} {'actors':>6} {'reported':>8}  gate")
    for name in sorted(ben):
        b = ben[name]
        rep = sorted(b["actors"] & (gating_keys | pending_keys))
        # an actor who also acts in a pending look-alike counts as pending there
        gate = "FAIL" if b["actors"] & gating_keys else "PENDING" if rep else "ok"
        if gate == "PENDING" and name not in pending:
            gate += " (actors shared with a pending look-alike)"
        print(f"{name:<18} {b['instances']:>4} {len(b['actors']):>6} {len(rep):>8}  {gate}")
        summary["benign"][name] = {"instances": b["instances"], "actors": len(b["actors"]),
                                   "reported": len(rep), "pending": name in pending,
                                   "gate": gate.split(" ")[0]}

    n_rep = len(reported)
    precision = true_rep / n_rep if n_rep else 1.0
    print()
    print(f"incident lines {n_lines}, distinct offenders reported {n_rep}, "
          f"false positives {len(fps)} ({len(gating_fps)} gating, {len(pending_fps)} in pending "
          f"look-alikes), precision {precision:.3f}")
    # a domain reported while benign accounts of it acted (a label only: gates unchanged)
    near = {}
    for tr in truth:
        if not tr["benign"] or tr.get("truncated"):
            continue
        for o in tr["offenders"]:
            near.setdefault(domain_of(o["jid"]), []).append(
                (tr["start_ms"] - 60000, tr["end_ms"] + 120000, tr["scenario"]))
    for (jid, kind), where, ikind, is_p in gating_fps[:30] + pending_fps[:30]:
        w = ", ".join(where) if where else "background"
        if not where and kind == "domain":
            t = reported[(jid, kind)][0]
            close = sorted({sc for lo, hi, sc in near.get(jid, []) if lo <= t <= hi})
            if close:
                w = "background, while " + ", ".join(close) + " acted on it"
        print(f"    FP {jid} ({kind}) as {ikind}: {w}{'  [pending]' if is_p else ''}")
    if len(gating_fps) > args.max_fp:
        failed.append(f"{len(gating_fps)} false positives > {args.max_fp}")
    if pending_fps:
        pend.append(f"{len(pending_fps)} false positives in pending look-alikes")

    # --- burst latency ---
    med_all = statistics.median(all_lat) if all_lat else float("nan")
    max_all = max(all_lat) if all_lat else float("nan")
    lat_note = ""
    if not (med_all <= latency_gate):
        failed.append(f"burst median latency {med_all:.1f} s > {latency_gate} s")
        lat_note = "FAIL"
    elif not (med_all <= args.max_median_latency):
        pend.append(f"burst median latency {med_all:.1f} s > target {args.max_median_latency} s "
                    f"(gated at {latency_gate} s)")
        lat_note = f"PENDING (target {args.max_median_latency} s, gated at {latency_gate} s)"
    else:
        lat_note = "ok"
    print(f"latency of burst scenarios: median {med_all:.1f} s (target <= "
          f"{args.max_median_latency} s), max {max_all:.1f} s  {lat_note}")
    if n_lines == 0 and per:
        print("HINT: no incident at all. Every swgen stanza carries a XEP-0203 stamp (event time), "
              "so its events have SW_F_DELAYED: a detector must not skip SW_F_DELAYED "
              "(history/offline copies are SW_F_HISTORY). See the detector stats above.")
    if not per:
        failed.append("no abuse scenario in the truth file")

    ok = not failed
    summary.update({
        "false_positives": [f"{j} ({k}): {', '.join(w) or 'background'}"
                            for (j, k), w, _, p in fps if not p],
        "false_positives_pending": [f"{j} ({k}): {', '.join(w)}" for (j, k), w, _, p in fps if p],
        "precision": precision, "latency_median_s": med_all, "latency_max_s": max_all,
        "latency_target_s": args.max_median_latency, "latency_gate_s": latency_gate,
        "failed": failed, "pending": pend, "strict": strict, "ok": ok})
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(summary, f, indent=1, sort_keys=True)
    for p in pend:
        print(f"PENDING: {p}")
    for p in failed:
        print(f"FAIL: {p}")
    print(("accuracy: PASS" if ok else "accuracy: FAIL")
          + (" (strict)" if strict else f" ({len(pend)} pending gates; SW_ACCURACY_STRICT=1 "
             "gates them all)" if pend else ""))
    return 0 if ok or args.report_only else 1


if __name__ == "__main__":
    sys.exit(main())
