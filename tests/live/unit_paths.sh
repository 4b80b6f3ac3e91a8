#!/usr/bin/env bash
# unit_paths.sh - ctest live.unit_paths: every directory the built-in defaults
# write to (content.cache_dir, reporter.spool_dir and inbound_dir,
# share.state_dir) is writable under the shipped systemd unit, whose
# ProtectSystem=strict makes everything else read-only: it must lie under one
# of the unit's StateDirectory=/CacheDirectory=/RuntimeDirectory=/
# ReadWritePaths= entries, and a ReadWritePaths= directory must be created by
# deploy/systemd/stanzawatch.tmpfiles (checked with systemd-tmpfiles in a
# scratch root when it is installed).
#   unit_paths.sh STANZAWATCH SOURCE_DIR WORK_DIR
set -euo pipefail
sw=$1
src=$2
work=$3
unit=$src/deploy/systemd/stanzawatch.service
tmpf=$src/deploy/systemd/stanzawatch.tmpfiles
"$sw" dump-config | /usr/bin/python3 -c '
import re, sys
unit, tmpf = sys.argv[1], sys.argv[2]
cfg = sys.stdin.read()
want = {}
for key in ("cache_dir", "spool_dir", "inbound_dir", "state_dir"):
    m = re.search(r"^\s+%s: (\S+)$" % key, cfg, re.M)
    if m is None:
        sys.exit("unit_paths: %s missing from dump-config" % key)
    want[key] = m.group(1)
roots = {"StateDirectory": "/var/lib/", "CacheDirectory": "/var/cache/", "RuntimeDirectory": "/run/"}
writable, rw = [], []
for l in open(unit):
    k, _, v = l.strip().partition("=")
    for d in v.split():
        if k in roots:
            writable.append(roots[k] + d)
        elif k == "ReadWritePaths":
            writable.append(d.lstrip("-"))
            rw.append(d.lstrip("-"))
made = [l.split()[1] for l in open(tmpf) if l.startswith("d ")]
bad = 0
for key, path in sorted(want.items()):
    if not any(path == w or path.startswith(w.rstrip("/") + "/") for w in writable):
        print("unit_paths: %s %s is not writable under %s" % (key, path, unit))
        bad = 1
for d in rw:
    if d not in made:
        print("unit_paths: ReadWritePaths=%s is not created by %s" % (d, tmpf))
        bad = 1
print("unit_paths: %s" % ("FAIL" if bad else "ok: " + ", ".join("%s %s" % kv for kv in sorted(want.items()))))
sys.exit(bad)' "$unit" "$tmpf"
if command -v systemd-tmpfiles >/dev/null; then
    root=$work/unit-root
    rm -rf "$root"
    mkdir -p "$root/etc" "$root/var/spool"
    echo "stanzawatch:x:990:990::/var/lib/stanzawatch:/usr/sbin/nologin" >"$root/etc/passwd"
    echo "stanzawatch:x:990:" >"$root/etc/group"
    systemd-tmpfiles --create --root="$root" "$(readlink -f "$tmpf")"
    [ "$(stat -c '%u %a' "$root/var/spool/stanzawatch")" = "990 750" ] ||
        { echo "unit_paths: systemd-tmpfiles did not create /var/spool/stanzawatch for the user"; exit 1; }
    echo "unit_paths: systemd-tmpfiles creates /var/spool/stanzawatch (stanzawatch, 0750)"
fi
