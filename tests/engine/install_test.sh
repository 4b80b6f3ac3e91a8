#!/usr/bin/env bash
# engine.install: the shipped rules and model are found by the built-in
# defaults (no -c) from an installed binary, and from the build tree.
#   1. `cmake --install BUILD --prefix TMP`, then TMP/bin/stanzawatch
#      dump-config (run from /): the content rule file and the classifier
#      model resolve to TMP/etc/stanzawatch/... (relative to the binary), and
#      check-config of the installed stanzawatch.yaml and the defaults both
#      compile the rules and load the model (exit 0);
#      the installed systemd unit's ExecStart names that binary and config;
#   2. BUILD/stanzawatch dump-config resolves them to SOURCE/configs/.
# usage: install_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)
fail() { printf 'engine.install: FAIL: %s\n' "$*" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
sw=$tmp/prefix/bin/stanzawatch
etc=$(cd "$tmp/prefix/etc/stanzawatch" && pwd -P)
[ -f "$etc/rules/default.yaml" ] || fail "rules not installed"
[ -f "$etc/models/chat.swnb" ] || fail "model not installed"
out=$(cd / && "$sw" dump-config)
grep -qF -- "- \"$etc/rules/default.yaml\"" <<<"$out" || grep -qF -- "- $etc/rules/default.yaml" <<<"$out" ||
	fail "installed binary: rule file not at $etc: $(grep -A2 rule_files <<<"$out")"
grep -qF "$etc/models/chat.swnb" <<<"$out" || fail "installed binary: model not at $etc: $(grep 'model:' <<<"$out")"
(cd / && "$sw" check-config "$etc/stanzawatch.yaml" >/dev/null 2>&1) || fail "check-config of the installed config"
# the installed systemd unit starts the installed binary with the installed config
unit=$tmp/prefix/lib/systemd/system/stanzawatch.service
read -r exe _ c cfgfile _ < <(sed -n 's/^ExecStart=//p' "$unit")
[ "$exe" = "$tmp/prefix/bin/stanzawatch" ] && [ -x "$exe" ] || fail "unit: ExecStart=$exe is not the installed binary"
[ "$c" = "-c" ] && [ -f "$cfgfile" ] && [ "$(cd "$(dirname "$cfgfile")" && pwd -P)" = "$etc" ] ||
	fail "unit: ExecStart config $cfgfile is not the installed $etc/stanzawatch.yaml"
out=$(cd / && "$build/stanzawatch" dump-config)
cfg=$(cd "$src/configs" && pwd -P)
grep -qF "$cfg/models/chat.swnb" <<<"$out" || fail "build tree: model not at $cfg: $(grep 'model:' <<<"$out")"
echo "engine.install: ok (installed: $etc; build tree: $cfg)"
