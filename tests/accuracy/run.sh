#!/bin/bash
# run.sh - the accuracy ctest (accuracy.default): generate a labelled capture
# on a fresh seed, replay it with the shipped default config and score it.
#   run.sh SWGEN STANZAWATCH SOURCE_DIR WORK_DIR
# Environment: SW_ACCURACY_SEED pins the seed (printed on every run so a
# failure reproduces), SW_ACCURACY_STANZAS / SW_ACCURACY_DURATION (seconds of
# stream time) change the size. The capture, truth, incidents and score stay
# in WORK_DIR for inspection. Gates (score.py): issue 13's targets, except the
# pending ones (score.py PENDING_DEFAULT, or SW_ACCURACY_PENDING=LIST);
# SW_ACCURACY_STRICT=1 gates every target (see README.md).
# Size: 400k stanzas over 8 h gives ~60 burst-scenario instances, so the median
# latency the test bounds is a stable estimate rather than a draw from ~30
# instances (at 200k/4 h a CI seed, 971975761, sat at 5.2 s while 12 other seeds
# gave 2.6-4.1 s; at 400k/8 h 20 seeds, that one included, gave 2.7-4.5 s, 0 false
# positives, recall 1.000).
set -euo pipefail
swgen=$1
sw=$2
src=$3
work=$4
seed=${SW_ACCURACY_SEED:-$(( ($(date +%s) * 32768 + RANDOM) % 1000000007 ))}
stanzas=${SW_ACCURACY_STANZAS:-400000}
duration=${SW_ACCURACY_DURATION:-28800}
echo "accuracy: seed $seed, $stanzas stanzas over $duration s (rerun: SW_ACCURACY_SEED=$seed)"
mkdir -p "$work"
# The shipped default config as it is: swgen's MUC service (rooms.a.test) is
# found by muc.service_prefixes, with muc.services left empty.
cp "$src/configs/stanzawatch.yaml" "$work/stanzawatch.yaml"
# the files it names relative to itself: the shipped rules and model
rm -rf "$work/rules" "$work/models"
cp -r "$src/configs/rules" "$src/configs/models" "$work/"
grep -q '^  services: \[\]$' "$work/stanzawatch.yaml" || {
    echo "accuracy: the shipped config no longer has muc.services: []" >&2
    exit 1
}
"$swgen" --seed "$seed" --stanzas "$stanzas" --duration "$duration" \
    --truth "$work/truth.jsonl" -o "$work/capture.xml"
"$sw" replay -c "$work/stanzawatch.yaml" --incidents "$work/incidents.jsonl" \
    "$work/capture.xml"
# every scenario (swgen's default); issue 13's targets, pending gates per env
/usr/bin/python3 "$src/tests/accuracy/score.py" --truth "$work/truth.jsonl" \
    --incidents "$work/incidents.jsonl" --json "$work/score.json"
