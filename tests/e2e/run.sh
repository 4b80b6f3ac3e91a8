#!/usr/bin/env bash
# tests/e2e/run.sh - one end-to-end test per detector: replay each capture of
# tests/data/captures/e2e/ (written by gen_captures.py) through
# `stanzawatch replay` (1, 2 and 4 worker threads: routing must not change
# what is found) with the shipped configs/stanzawatch.yaml and require
# every symbol expect.txt lists for it in its incidents (a capture listed with
# no symbols must open no incident at all). So a detector that silently stops
# firing on real stanzas (a flag that hides events, a default that loads no
# rules, a routing change) fails CI, which unit tests on hand-built events
# cannot show. Also requires that every registered detector, and every symbol
# the detectors declare (the built-in aggregate.symbols; patterns such as
# content.* excepted), is listed for some capture.
#   run.sh STANZAWATCH SOURCE_DIR WORK_DIR
set -euo pipefail
sw=$1
src=$2
work=$3
dir=$src/tests/data/captures/e2e
mkdir -p "$work"
fail=0
covered=" "
listed=" "
while read -r name syms; do
    case "$name" in ''|'#'*) continue ;; esac
    for threads in 1 2 4; do
    out=$work/$name.t$threads.jsonl
    if ! "$sw" replay -q -c "$src/configs/stanzawatch.yaml" -t $threads -o "$out" "$dir/$name.xml" 2>"$work/$name.log"; then
        echo "e2e $name (-t $threads): replay failed: $(tail -n 3 "$work/$name.log")"
        fail=1
        continue
    fi
    got=$(/usr/bin/python3 -c '
import json, sys
s = set()
for l in open(sys.argv[1]):
    if l.strip():
        s.update(d["symbol"] for d in json.loads(l).get("detectors", []))
print(" ".join(sorted(s)))' "$out")
    if [ -z "$syms" ]; then
        if [ -s "$out" ]; then
            echo "e2e $name (-t $threads): expected no incident, got: $got"
            fail=1
        else
            echo "e2e $name (-t $threads): ok (no incident)"
        fi
        continue
    fi
    bad=0
    for s in $syms; do
        covered="$covered${s%%.*} "
        listed="$listed$s "
        if ! grep -qw -- "$s" <<<"$got"; then
            echo "e2e $name (-t $threads): missing $s (incidents had: ${got:-nothing})"
            bad=1
            fail=1
        fi
    done
    [ "$bad" = 1 ] || echo "e2e $name (-t $threads): ok ($syms)"
    done
done <"$dir/expect.txt"
# every registered detector must have an e2e capture
for det in $("$sw" dump-config | /usr/bin/python3 -c '
import sys
lines = sys.stdin.read().split("\n")
i = lines.index("detectors:")
for l in lines[i + 1:]:
    if l and not l.startswith(" "):
        break
    if l.startswith("  ") and not l.startswith("   ") and l.rstrip().endswith(":"):
        print(l.strip()[:-1])'); do
    if [[ "$covered" != *" $det "* ]]; then
        echo "e2e: detector $det has no end-to-end capture in $dir/expect.txt"
        fail=1
    fi
done
# every symbol a detector declares must be expected from some capture
for sym in $("$sw" dump-config | /usr/bin/python3 -c '
import sys
for l in sys.stdin:
    l = l.strip()
    if l.startswith("- symbol: ") and "*" not in l:
        print(l[len("- symbol: "):].strip("\x22"))'); do
    if [[ "$listed" != *" $sym "* ]]; then
        echo "e2e: symbol $sym has no end-to-end capture in $dir/expect.txt"
        fail=1
    fi
done
if [ "$fail" = 0 ]; then
    echo "e2e: every detector fired on its capture, every declared symbol is covered"
fi
exit $fail
