#!/bin/bash
# run.sh - the accuracy ctest (accuracy.default): generate a labelled capture
# on a fresh seed, replay it with the shipped default config and score it.
#   run.sh SWGEN STANZAWATCH SOURCE_DIR WORK_DIR
# Environment: SW_ACCURACY_SEED pins the seed (printed on every run so a
# failure reproduces), SW_ACCURACY_STANZAS / SW_ACCURACY_DURATION (seconds of
# stream time) change the size. The capture, truth, incidents and score stay
# in WORK_DIR for inspection.
set -euo pipefail
swgen=$1
sw=$2
src=$3
work=$4
seed=${SW_ACCURACY_SEED:-$(( ($(date +%s) * 32768 + RANDOM) % 1000000007 ))}
stanzas=${SW_ACCURACY_STANZAS:-200000}
duration=${SW_ACCURACY_DURATION:-14400}
echo "accuracy: seed $seed, $stanzas stanzas over $duration s (rerun: SW_ACCURACY_SEED=$seed)"
mkdir -p "$work"
# The shipped default config as it is: swgen's MUC service (rooms.a.test) is
# found by muc.service_prefixes, with muc.services left empty.
cp "$src/configs/stanzawatch.yaml" "$work/stanzawatch.yaml"
grep -q '^  services: \[\]$' "$work/stanzawatch.yaml" || {
    echo "accuracy: the shipped config no longer has muc.services: []" >&2
    exit 1
}
"$swgen" --seed "$seed" --stanzas "$stanzas" --duration "$duration" \
    --truth "$work/truth.jsonl" -o "$work/capture.xml"
"$sw" replay -c "$work/stanzawatch.yaml" --incidents "$work/incidents.jsonl" \
    "$work/capture.xml"
/usr/bin/python3 "$src/tests/accuracy/score.py" --truth "$work/truth.jsonl" \
    --incidents "$work/incidents.jsonl" --json "$work/score.json" \
    --min-recall 0.99 --max-fp 0 --max-median-latency 5
