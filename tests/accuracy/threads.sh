#!/bin/bash
# threads.sh - ctest accuracy.threads: the incident output of a generated
# capture (all scenarios, the shipped default config) must be
# byte-identical for --threads 1, 2 and 3 (issue 2's output contract).
#   threads.sh SWGEN STANZAWATCH SOURCE_DIR WORK_DIR
set -euo pipefail
swgen=$1
sw=$2
src=$3
work=$4
seed=${SW_ACCURACY_SEED:-4242}
mkdir -p "$work"
cp "$src/configs/stanzawatch.yaml" "$work/stanzawatch.yaml" # rooms.a.test found by muc.service_prefixes
# the files it names relative to itself: the shipped rules and model
rm -rf "$work/rules" "$work/models"
cp -r "$src/configs/rules" "$src/configs/models" "$work/"
"$swgen" --seed "$seed" --stanzas 100000 --duration 14400 -o "$work/capture.xml"
for t in 1 2 3; do
    "$sw" replay -c "$work/stanzawatch.yaml" --threads "$t" --incidents "$work/inc$t.jsonl" \
        "$work/capture.xml" 2>/dev/null
done
n=$(wc -l < "$work/inc1.jsonl")
echo "threads: seed $seed, $n incident lines with --threads 1"
rc=0
for t in 2 3; do
    if ! cmp -s "$work/inc1.jsonl" "$work/inc$t.jsonl"; then
        echo "threads: --threads $t output differs from --threads 1:"
        diff "$work/inc1.jsonl" "$work/inc$t.jsonl" | head -4 | cut -c1-400
        rc=1
    fi
done
[ "$n" -gt 0 ] || { echo "threads: no incidents at all: nothing was compared"; rc=1; }
exit $rc
