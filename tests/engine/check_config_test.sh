#!/usr/bin/env bash
# engine.check_config: `stanzawatch check-config` runs every enabled detector's
# setup() (and teardown()): a bad regex in an included rule file and a missing
# classifier model are exit 2 with the reason; a good rule file is "ok"
# (rule files named relative to the config file, run from another directory).
# usage: check_config_test.sh STANZAWATCH SOURCE_DIR
set -euo pipefail
sw=$1
dir=$2/tests/data/conf/check
fail() { printf 'engine.check_config: FAIL: %s\n' "$*" >&2; exit 1; }
run() { # run FIXTURE: sets rc and out (stdout+stderr)
	set +e
	# from another directory: relative rule files resolve against the config's
	out=$(cd / && "$sw" check-config "$dir/$1" 2>&1)
	rc=$?
	set -e
}
run good_rules.yaml
[ "$rc" = 0 ] || fail "good_rules.yaml: exit $rc: $out"
grep -q 'good_rules.yaml: ok' <<<"$out" || fail "good_rules.yaml: $out"
run bad_regex.yaml
[ "$rc" = 2 ] || fail "bad_regex.yaml: exit $rc, expected 2: $out"
grep -q 'detector content' <<<"$out" || fail "bad_regex.yaml: no detector named: $out"
grep -q 'broken_group' <<<"$out" || fail "bad_regex.yaml: rule not named: $out"
! grep -q ': ok' <<<"$out" || fail "bad_regex.yaml: says ok: $out"
run missing_model.yaml
[ "$rc" = 2 ] || fail "missing_model.yaml: exit $rc, expected 2: $out"
grep -q 'detector classifier' <<<"$out" || fail "missing_model.yaml: $out"
grep -q 'stanzawatch-model.bin' <<<"$out" || fail "missing_model.yaml: path not named: $out"
echo "engine.check_config: ok"
