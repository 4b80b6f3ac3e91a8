#!/usr/bin/python3
"""score.py - accuracy of stanzawatch incidents against a swgen truth file.

Usage:
  score.py --truth TRUTH.jsonl --incidents INCIDENTS.jsonl
           [--min-recall R] [--max-fp N] [--max-median-latency S] [--json OUT]

Truth (one JSON object per scenario instance, written by swgen --truth):
  {scenario, variant, benign, truncated, offenders:[{jid, kind}],
   acceptable:[{jid, kind}], start_ms, end_ms, ...}
  - offenders of an abuse instance must be reported (recall);
  - acceptable entries may be reported or not (e.g. the spam domain of a raid,
    the single accounts of a domain-wide subscription burst);
  - benign instances list accounts that must not be reported;
  - truncated instances (cut by the capture's end) are ignored entirely.
Incidents: stanzawatch's JSON Lines (any status lines; one offender counts once).

Prints, per scenario: instances, offenders caught / offenders (recall), and
detection latency (stream seconds from the instance's first abusive stanza to
the earliest detected_at among its offenders' incidents; median and max).
Latency bounds: the overall median (--max-median-latency) is taken over the
burst scenarios (truth "slow": false); abuse that is slow by definition
(sub-slow over hours, msg-spam over minutes to hours, room-spam one message
per room) is instead required to be caught before the instance's last abusive
stanza ("late" counts instances caught after it), and its latency is printed.
Then false-positive offenders (reported, but neither an abuse offender nor
acceptable), naming the benign scenario they belong to if any, precision
(distinct reported offenders that are true / all distinct reported offenders),
and the overall median / max latency. With --min-recall / --max-fp /
--max-median-latency it exits 1 when a bound is violated (every scenario's
recall must reach --min-recall).
"""
import argparse
import datetime
import json
import statistics
import sys


def parse_time(s):
    # RFC 3339 with ms, UTC ("2026-01-05T12:00:00.123Z")
    if s.endswith("Z"):
        s = s[:-1] + "+00:00"
    return int(datetime.datetime.fromisoformat(s).timestamp() * 1000 + 0.5)


def key(jid, kind):
    return (jid.lower(), kind)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--truth", required=True)
    ap.add_argument("--incidents", required=True)
    ap.add_argument("--min-recall", type=float)
    ap.add_argument("--max-fp", type=int)
    ap.add_argument("--max-median-latency", type=float)
    ap.add_argument("--json", help="write the summary as JSON to this file")
    args = ap.parse_args()

    truth = []
    with open(args.truth, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line:
                truth.append(json.loads(line))

    # earliest detected_at per (offender, kind)
    reported = {}
    n_lines = 0
    with open(args.incidents, encoding="utf-8", errors="replace") as f:
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
                print(f"score: {args.incidents}:{ln}: bad incident line: {e}", file=sys.stderr)
                return 2
            if k not in reported or t < reported[k][0]:
                reported[k] = (t, inc.get("kind", ""))

    abuse, acceptable, benign_of = set(), set(), {}
    for tr in truth:
        if tr.get("truncated"):
            for o in tr["offenders"] + tr.get("acceptable", []):
                acceptable.add(key(o["jid"], o["kind"]))  # cut short: neither way
            continue
        for o in tr["offenders"]:
            k = key(o["jid"], o["kind"])
            if tr["benign"]:
                benign_of.setdefault(k, tr["scenario"])
            else:
                abuse.add(k)
        for o in tr.get("acceptable", []):
            acceptable.add(key(o["jid"], o["kind"]))

    per = {}
    all_lat = []
    for tr in truth:
        if tr["benign"] or tr.get("truncated"):
            continue
        s = per.setdefault(tr["scenario"], {"instances": 0, "offenders": 0, "caught": 0,
                                            "latency": [], "missed": [], "late": 0,
                                            "slow": bool(tr.get("slow"))})
        s["instances"] += 1
        first = None
        for o in tr["offenders"]:
            k = key(o["jid"], o["kind"])
            s["offenders"] += 1
            if k in reported:
                s["caught"] += 1
                t = reported[k][0]
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

    fps = []
    true_rep = 0
    for k in sorted(reported):
        if k in abuse or k in acceptable:
            true_rep += 1
        else:
            fps.append((k, benign_of.get(k, "background"), reported[k][1]))

    ok = True
    print(f"{'scenario':<18} {'inst':>4} {'caught':>7} {'recall':>7} {'lat med':>8} {'lat max':>8}"
          "  (slow: late)")
    summary = {"scenarios": {}}
    for name in sorted(per):
        s = per[name]
        recall = s["caught"] / s["offenders"] if s["offenders"] else 1.0
        med = statistics.median(s["latency"]) if s["latency"] else float("nan")
        mx = max(s["latency"]) if s["latency"] else float("nan")
        flag = f"  slow: {s['late']} late" if s["slow"] else ""
        if args.min_recall is not None and recall < args.min_recall:
            flag += "  <-- recall"
            ok = False
        if args.max_median_latency is not None and s["late"] > 0:
            flag += "  <-- caught after the abuse ended"
            ok = False
        print(f"{name:<18} {s['instances']:>4} {s['caught']:>3}/{s['offenders']:<3} "
              f"{recall:>7.3f} {med:>8.1f} {mx:>8.1f}{flag}")
        for m in s["missed"][:5]:
            print(f"    missed {m}")
        summary["scenarios"][name] = {"instances": s["instances"], "offenders": s["offenders"],
                                      "caught": s["caught"], "recall": recall,
                                      "slow": s["slow"], "late": s["late"],
                                      "latency_median_s": med, "latency_max_s": mx}
    n_rep = len(reported)
    precision = true_rep / n_rep if n_rep else 1.0
    med_all = statistics.median(all_lat) if all_lat else float("nan")
    max_all = max(all_lat) if all_lat else float("nan")
    print(f"incident lines {n_lines}, distinct offenders reported {n_rep}, "
          f"false positives {len(fps)}, precision {precision:.3f}")
    print(f"latency of burst scenarios: median {med_all:.1f} s, max {max_all:.1f} s")
    for (jid, kind), where, ikind in fps[:30]:
        print(f"    FP {jid} ({kind}) as {ikind}: {where}")
    if args.max_fp is not None and len(fps) > args.max_fp:
        print(f"FAIL: {len(fps)} false positives > {args.max_fp}")
        ok = False
    if args.max_median_latency is not None and not (med_all <= args.max_median_latency):
        print(f"FAIL: median latency {med_all:.1f} s > {args.max_median_latency} s")
        ok = False
    if n_lines == 0 and per:
        print("HINT: no incident at all. Every swgen stanza carries a XEP-0203 stamp (event time), "
              "so its events have SW_F_DELAYED: a detector must not skip SW_F_DELAYED "
              "(history/offline copies are SW_F_HISTORY). See the detector stats above.")
    if args.min_recall is not None and not per:
        print("FAIL: no abuse scenario in the truth file")
        ok = False
    summary.update({"false_positives": [f"{j} ({k})" for (j, k), _, _ in fps],
                    "precision": precision, "latency_median_s": med_all,
                    "latency_max_s": max_all, "ok": ok})
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(summary, f, indent=1, sort_keys=True)
    print("accuracy: PASS" if ok else "accuracy: FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
