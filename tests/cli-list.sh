#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# What operators reach for, through libvirt's test driver: list (text,
# JSON, names, several hosts, foreign pins), domains by name, ID or UUID,
# plan -c over a host's domains, the stack plan targets by default, and
# coloured diffs.
. "$VDP_SRCDIR/tests/lib.sh"
command -v jq >/dev/null || { echo "1..0 # SKIP jq not installed"; exit 0; }
DEMO="test://$VDP_SRCDIR/examples/demo-host.xml"
DTOPO="$VDP_SRCDIR/examples/topologies/32em64t-2n8c2t-pci-wholeio.xml"
EX="$VDP_SRCDIR/examples/domains"

# ---- list ----------------------------------------------------------------------
run_cmd -c "$DEMO" list
check "list: exit 0" test "$RC" = 0
check "list: a header and a row per domain" test "$(wc -l < "$TMP/out")" = 13
check "list: the header" grep -q '^Id  *Name  *State  *Profile  *Plan  *Drift  *Live$' "$TMP/out"
check "list: a running domain, its ID and state" grep -q '^1  *web01  *running  *-  *-  *untuned  *same$' "$TMP/out"
check "list: a shut-off domain" grep -q '^-  *pg-replica  *shut off  *-  *-  *untuned  *-$' "$TMP/out"
check "list: pins someone else wrote" grep -q '^8  *legacy-app  *running .* foreign pins ' "$TMP/out"
run_cmd -c "$DEMO" list --json
check "list --json: one object per domain" test "$(jq -s length "$TMP/out")" = 12
check "list --json: its fields" jq -e -s --arg u "$DEMO" '.[0] == {"uri": $u, "domain": "api01", "id": 3,
  "uuid": "00005eed-0000-0000-0000-000000000002", "state": "running", "profile": null, "plan": null,
  "drift": "untuned", "live_differs": false}' "$TMP/out"
check "list --json: shut off: no ID, no live settings" \
  jq -e -s '[.[] | select(.state == "shut off")] | length == 4 and all(.id == null and .live_differs == null)' "$TMP/out"
run_cmd -c "$DEMO" list --name --state shutoff
check "list --name --state shutoff: the names" test "$(tr '\n' ' ' < "$TMP/out")" = "ci-runner1 ci-runner2 pg-replica win-desktop "
sed 's/<name>\([a-z0-9-]*\)</<name>b-\1</' "$VDP_SRCDIR/examples/demo-host.xml" > "$TMP/demo2.xml"
run_cmd -c "$DEMO" -c "test://$TMP/demo2.xml" list -q
check "list over two hosts: every row starts with its host" \
  sh -c "test \$(grep -c '^$DEMO  *[0-9-]  *[a-z]' '$TMP/out') = 12 && test \$(grep -c '^test://$TMP/demo2.xml  *[0-9-]  *b-' '$TMP/out') = 12"
run_cmd -c "$DEMO" -c test:///nonexistent/host.xml list --name
check "list --name: a host that fails, on stderr; exit 2" \
  sh -c "test $RC = 2 && test \$(wc -l < '$TMP/out') = 12 && grep -q 'test:///nonexistent/host.xml (host): failed' '$TMP/err'"
run_cmd -c "$DEMO" list web01 nosuch
check "list: a domain the host lacks fails alone" \
  sh -c "test $RC = 2 && grep -q 'web01' '$TMP/out' && grep -q \"nosuch: failed: domain 'nosuch' on '$DEMO'\" '$TMP/out'"

# ---- domains by name, ID or UUID, as virsh ---------------------------------------
run_cmd -c "$DEMO" list --name 1 00005eed-0000-0000-0000-000000000004 redis01
check "list: by ID, UUID and name" test "$(tr '\n' ' ' < "$TMP/out")" = "pg-replica redis01 web01 "
run_cmd -c "$DEMO" apply 2 web02 00005eed-0000-0000-0000-000000000001 --dry-run --topology "$DTOPO" -q
check "apply: one domain named three ways, once" test "$(grep -c "^$DEMO web02: would-change" "$TMP/out")" = 1
run_cmd -c "$DEMO" check 00005eed-0000-0000-0000-00000000000b --topology "$DTOPO"
check "check by UUID" grep -q "^$DEMO legacy-app: " "$TMP/out"
run_cmd -c "$DEMO" status 1 --interval 0.1 --json
check "status by ID" jq -e '.domain == "web01"' "$TMP/out"
run_cmd -c "$DEMO" revert 5 --dry-run
check "revert by ID" grep -q "^$DEMO redis01: not-tuned" "$TMP/out"

# ---- plan -c: a host's domains, planned together ---------------------------------
run_cmd -c "$DEMO" plan --all --diff --topology "$DTOPO"
check "plan -c --all --diff: exit 0 (plan only shows)" test "$RC" = 0
check "plan -c --all --diff: a diff per domain, named after it" \
  sh -c "test \$(grep -c '^+++ b/' '$TMP/out') = 12 && grep -q '^--- a/web01$' '$TMP/out'"
check "plan -c: the stack is the host's, on stderr" grep -q "^virt-dataplane: plan: for the stack of host '$DEMO'" "$TMP/err"
run_cmd -c "$DEMO" apply --all --dry-run --topology "$DTOPO" -q
# apply adds its record of what it wrote (vdp:applied) to the metadata
grep '^+' "$TMP/out" | grep -v '^+++' | grep -v '<vdp:applied ' | sort > "$TMP/apply-adds"
run_cmd -c "$DEMO" plan --all --diff --topology "$DTOPO" -q
grep '^+' "$TMP/out" | grep -v '^+++' | sort > "$TMP/plan-adds"
check "plan -c --all: what apply --all would write" cmp -s "$TMP/apply-adds" "$TMP/plan-adds"
run_cmd -c "$DEMO" --state running plan --json --topology "$DTOPO"
check "plan -c --state running: the 8 running domains" test "$(jq '.domains | length' "$TMP/out")" = 8
run_cmd -c "$DEMO" plan 1 redis01 --json --topology "$DTOPO"
check "plan -c by ID and name" test "$(jq -c '[.domains[].name]' "$TMP/out")" = '["redis01","web01"]'
run_cmd -c "$DEMO" plan --all --xml --output-dir "$TMP/tuned" --topology "$DTOPO" -q
check "plan -c --xml --output-dir: DOMAIN.xml each" test "$(ls "$TMP/tuned" | tr '\n' ' ')" = "api01.xml ci-runner1.xml ci-runner2.xml fileserver.xml kafka01.xml legacy-app.xml pg-primary.xml pg-replica.xml redis01.xml web01.xml web02.xml win-desktop.xml "
run_cmd -c "$DEMO" plan --all --xml --topology "$DTOPO"
check "plan -c --all --xml without --output-dir: usage error" test "$RC" = 64
run_cmd plan --all
check "plan --all without -c: usage error" sh -c "test $RC = 64 && grep -q 'needs a libvirt connection' '$TMP/err'"
run_cmd -c "$DEMO" plan --all --file "$EX/web1.xml"
check "plan --all with --file: usage error" test "$RC" = 64

# ---- plan's stack: this machine's installed libvirt and QEMU ----------------------
if command -v qemu-system-x86_64 >/dev/null && [ "$(uname -m)" = x86_64 ]; then
  qv=$(qemu-system-x86_64 --version | sed -n 's/^QEMU emulator version \([0-9.]*\).*/\1/p')
  lv=$(pkg-config --modversion libvirt)
  run_cmd plan --topology "$DTOPO" --file "$EX/web1.xml"
  check "plan: the installed stack, said in the header" \
    sh -c "head -1 '$TMP/out' | grep -qx 'Stack: libvirt $lv, QEMU $qv (installed on this machine; --target newest for the newest)'"
  check "plan: the domain planned for it" grep -q "target libvirt $lv, QEMU $qv;" "$TMP/out"
  run_cmd plan --topology "$VDP_SRCDIR/examples/topologies/96em64t-4n4d3ca2co.xml" --file "$EX/db1.xml" --xml -q
  if pkg-config --atleast-version=10.0.0 libvirt; then
    skip_test "this libvirt keeps disk IOThread mappings"
  else
    check "plan --xml for this libvirt: no mapping it would drop" sh -c "! grep -q '<iothread id=' '$TMP/out' && grep -q 'iothread=\"1\"' '$TMP/out'"
    check "plan --xml for this libvirt: valid for its schema" xmllint --noout --relaxng /usr/share/libvirt/schemas/domain.rng "$TMP/out"
  fi
else
  skip_test "no qemu-system-x86_64 on an x86_64 machine"
fi
run_cmd plan --topology "$DTOPO" --file "$EX/web1.xml" --target newest
check "--target newest: the newest stack" \
  sh -c "head -1 '$TMP/out' | grep -qx 'Stack: libvirt 12.7.0, QEMU 10.2.0 (--target newest)'"
RC=0
env PATH=/nonexistent "$VDP_BIN" plan --topology "$DTOPO" --file "$EX/web1.xml" > "$TMP/out" 2>/dev/null || RC=$?
check "no QEMU installed: the newest, saying why" \
  sh -c "test $RC = 0 && head -1 '$TMP/out' | grep -qx 'Stack: libvirt 12.7.0, QEMU 10.2.0 (the newest: no QEMU installed on this machine)'"
run_cmd plan --topology "$DTOPO" --file "$EX/web1.xml" --target newest --json
check "plan --json: target_origin" jq -e '.target_origin == "libvirt 12.7.0, QEMU 10.2.0 (--target newest)"' "$TMP/out"

# ---- coloured diffs -----------------------------------------------------------------
ESC=$(printf '\033')
run_cmd --color=always plan --topology "$DTOPO" --file "$EX/web1.xml" --diff
check "--color=always: added lines green, headers bold" \
  sh -c "grep -q '^${ESC}\[32m+' '$TMP/out' && grep -q '^${ESC}\[1m+++ b/web1.xml' '$TMP/out'"
run_cmd plan --topology "$DTOPO" --file "$EX/web1.xml" --diff --color never
check "--color never: none" sh -c "! grep -q '$ESC' '$TMP/out'"
run_cmd plan --topology "$DTOPO" --file "$EX/web1.xml" --diff
check "--color auto, not a terminal: none" sh -c "! grep -q '$ESC' '$TMP/out'"
run_cmd -c "$DEMO" --color always apply web01 --dry-run --topology "$DTOPO" -q
check "--color: dry-run diffs too" grep -q "^${ESC}\[31m-" "$TMP/out"
run_cmd -c "$DEMO" --color always apply web01 --dry-run --topology "$DTOPO" -q --json
check "--color: never in JSON" sh -c "! grep -q '$ESC' '$TMP/out'"
if script -qec true /dev/null >/dev/null 2>&1; then
  TERM=xterm script -qec "'$VDP_BIN' plan --topology '$DTOPO' --file '$EX/web1.xml' --diff" /dev/null > "$TMP/tty" 2>&1
  check "--color auto on a terminal: coloured" grep -q "${ESC}\[32m+" "$TMP/tty"
  NO_COLOR=1 TERM=xterm script -qec "'$VDP_BIN' plan --topology '$DTOPO' --file '$EX/web1.xml' --diff" /dev/null > "$TMP/tty" 2>&1
  check "NO_COLOR: not coloured" sh -c "! grep -q '${ESC}\[32m' '$TMP/tty'"
else
  skip_test "script(1) cannot run here"
fi
run_cmd --color=sometimes list
check "--color=sometimes: usage error" test "$RC" = 64
done_testing
