#!/usr/bin/env bash
# share.rsm_ejabberd: a consumed list larger than one page is read whole with
# XEP-0059 RSM paging, from a real pubsub service that pages: Debian's
# ejabberd (23.01) as a plain `erl -s ejabberd` in a private directory
# (config, Mnesia, logs), no Erlang distribution, loopback ports only.
# (Prosody 0.12's pubsub ignores RSM on items and answers with the whole node
# at once; share.rtbl_prosody and share.live_rtbl cover that path.) Checks:
#   1. a client publishes 2500 RTBL items on pubsub.a.test/big;
#   2. stanzawatch (component incidents.a.test, share.sources: big) syncs
#      them: "2500 items read in 3 RSM pages", "full sync, 2500 entries",
#      and source-big.list holds 2500 ids.
# Skips (77) without ejabberd or slixmpp, or when ejabberd cannot start here.
# Every process is stopped by pid. usage: rsm_ejabberd_test.sh STANZAWATCH SOURCE_DIR
set -euo pipefail
sw=$1
src=$2
name=share.rsm_ejabberd
# shellcheck source=../live/harness.sh
. "$src/tests/live/harness.sh"
ej=$(ls -d /usr/lib/x86_64-linux-gnu/ejabberd-*/ /usr/lib/*/ejabberd-*/ 2>/dev/null | head -1 || true)
[ -n "$ej" ] && [ -d "$ej/ebin" ] || skip "ejabberd not installed"
command -v erl >/dev/null || skip "erlang not installed"
"$py" -c 'import slixmpp' 2>/dev/null || skip "python3-slixmpp missing"

c2s=$(free_port)
comp=$(free_port)
while [ "$comp" = "$c2s" ]; do comp=$(free_port); done
n=2500

cat >"$work/ejabberd.yml" <<YAML
# loopback test server: plaintext, open registration; never for production
loglevel: info
hosts:
  - a.test
listen:
  -
    port: $c2s
    ip: "127.0.0.1"
    module: ejabberd_c2s
    access: c2s
    starttls_required: false
  -
    port: $comp
    ip: "127.0.0.1"
    module: ejabberd_service
    hosts:
      incidents.a.test:
        password: engine-secret
auth_method: internal
auth_password_format: plain
s2s_access: none
acl:
  loopback:
    ip:
      - 127.0.0.0/8
access_rules:
  c2s:
    allow: all
  register:
    allow: all
  pubsub_createnode:
    allow: all
shaper_rules: {}
modules:
  mod_disco: {}
  mod_roster: {}
  mod_register:
    ip_access: all
    access: register
  mod_pubsub:
    host: "pubsub.@HOST@"
    access_createnode: pubsub_createnode
    plugins: ["flat"]
    max_items_node: 100000
    default_node_config:
      max_items: 100000
      access_model: open
YAML
ej_start || skip "ejabberd did not start here ($(tail -2 "$work/erl.out" 2>/dev/null))"
sleep 0.5

# ---- 1. publish a list larger than one page ----
"$py" - "$c2s" "$src/tests/live" <<'PY' >"$work/reg.out" 2>"$work/reg.err" || fail "registration failed: $(cat "$work/reg.err")"
import asyncio, sys
sys.path.insert(0, sys.argv[2])
from xmpp_driver import register  # in-band registration over a raw stream
r = asyncio.get_event_loop().run_until_complete(register("127.0.0.1", int(sys.argv[1]), "pub@a.test", "pw"))
sys.exit(0 if r == "result" else 1)
PY
t0=$(date +%s%N)
r=$(timeout 90 "$py" "$src/tests/share/actor.py" publish --jid pub@a.test --service pubsub.a.test \
	--node big --count "$n" --port "$c2s" --max-seconds 80 2>"$work/actor.err") || true
[ "$r" = "published $n" ] || fail "publish: '$r' $(tail -3 "$work/actor.err")"
say "1 ok: $n items published on pubsub.a.test/big in $(( ($(date +%s%N) - t0) / 1000000 )) ms"

# ---- 2. stanzawatch reads them in pages ----
cat >"$work/sw.yaml" <<YAML
reporter:
  enabled: true
  domain: a.test
  admin_jid: admin@a.test
  component:
    jid: incidents.a.test
    secret: engine-secret
    host: 127.0.0.1
    port: $comp
  spool_dir: $work/spool
  inbound_dir: $work/inbound
share:
  service: pubsub.a.test
  state_dir: $work/state
  sources:
    - name: big
      service: pubsub.a.test
      node: big
      weight: 1.0
YAML
printf '%s\n</stream:stream>\n' "<stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams' from='watch.a.test'>" >"$work/empty.xml"
t0=$(date +%s%N)
timeout 60 "$sw" replay -c "$work/sw.yaml" --no-progress --drain-timeout 30 --incidents /dev/null \
	"$work/empty.xml" >/dev/null 2>"$work/sw.err" || fail "replay exited $?"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
grep -q "source big: $n items read in 3 RSM pages" "$work/sw.err" ||
	fail "not paged: $(grep share "$work/sw.err" | tail -5)"
grep -q "source big: full sync, $n entries" "$work/sw.err" || fail "list incomplete: $(grep 'full sync' "$work/sw.err")"
got=$(tail -n +2 "$work/state/source-big.list" | sort -u | wc -l)
[ "$got" = "$n" ] || fail "source-big.list holds $got ids"
want=$("$py" -c 'import hashlib,sys; print(hashlib.sha256(b"spam2499@x.test").hexdigest())')
grep -q "$want" "$work/state/source-big.list" || fail "the last published item is missing"
say "2 ok: ejabberd paged the items get (RSM): $n entries in 3 pages, persisted; replay incl. connect ${ms} ms"
say "all checks passed"
