#!/bin/bash
# seeds.sh - the multi-seed accuracy evaluation behind README.md's table:
# for each SEED:STANZAS:SECONDS, generate the labelled capture with swgen
# (every scenario and look-alike), replay it with the shipped default config
# (configs/stanzawatch.yaml with its rules and model, as run.sh does) and
# score it with score.py --strict; then print one markdown table row per run
# and a summary line.
#   seeds.sh SWGEN STANZAWATCH SOURCE_DIR WORK_DIR SEED:STANZAS:SECONDS...
# One run at a time under nice; each run's truth, incidents, score and
# score.json stay in WORK_DIR/SEED (the capture is deleted: up to 1 GB at 2M).
set -euo pipefail
swgen=$1
sw=$2
src=$3
work=$4
shift 4
mkdir -p "$work"
specs=()
for spec in "$@"; do
    IFS=: read -r seed stanzas secs <<<"$spec"
    d=$work/$seed
    mkdir -p "$d"
    cp "$src/configs/stanzawatch.yaml" "$d/stanzawatch.yaml"
    rm -rf "$d/rules" "$d/models"
    cp -r "$src/configs/rules" "$src/configs/models" "$d/"
    nice "$swgen" --seed "$seed" --stanzas "$stanzas" --duration "$secs" \
        --truth "$d/truth.jsonl" -o "$d/capture.xml" 2>"$d/swgen.log"
    nice "$sw" replay -c "$d/stanzawatch.yaml" --incidents "$d/incidents.jsonl" \
        "$d/capture.xml" >"$d/replay.log" 2>&1
    /usr/bin/python3 "$src/tests/accuracy/score.py" --truth "$d/truth.jsonl" \
        --incidents "$d/incidents.jsonl" --strict --report-only --json "$d/score.json" \
        >"$d/score.txt"
    rm -f "$d/capture.xml"
    specs+=("$spec")
done
/usr/bin/python3 - "$work" "${specs[@]}" <<'EOF'
import json, sys
work = sys.argv[1]
print("| seed | stanzas / stream | behaviour recall (lowest scenario) | hostile-input | "
      "content (caught/offenders) | wave (caught/offenders) | FP accounts | burst median s | "
      "strict gates |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
fp_total, lat = 0, []
for spec in sys.argv[2:]:
    seed, st, du = spec.split(":")
    s = json.load(open("%s/%s/score.json" % (work, seed)))
    cls = {}
    for sc in s["scenarios"].values():
        c = cls.setdefault(sc["class"], [0, 0, 1.0])
        c[0] += sc["caught"]
        c[1] += sc["offenders"]
        c[2] = min(c[2], sc["recall"])
    def low(k):
        return "%.3f" % cls[k][2] if k in cls else "-"
    def ratio(k):
        if k not in cls:
            return "-"
        a, b, _ = cls[k]
        return "%d/%d %.3f" % (a, b, a / b if b else 1.0)
    fp = len(s["false_positives"]) + len(s.get("false_positives_pending", []))
    fp_total += fp
    lat.append(s["latency_median_s"])
    print("| %s | %dk / %g h | %s | %s | %s | %s | %d | %.1f | %s |" % (
        seed, int(st) // 1000, int(du) / 3600, low("behaviour"), low("hostile-input"),
        ratio("content"), ratio("wave"), fp, s["latency_median_s"],
        "ok" if s["ok"] else "; ".join(s["failed"])))
lat.sort()
print()
print("%d runs: %d false-positive accounts; burst median latency %.1f-%.1f s (median of runs "
      "%.1f s, <= 3 s in %d)" % (len(lat), fp_total, lat[0], lat[-1], lat[len(lat) // 2],
                                 sum(1 for x in lat if x <= 3.0)))
EOF
