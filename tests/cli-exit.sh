#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# The exit status scripts rely on, the same for every command: 0 done,
# 1 check findings, 2 an input, host or domain failed, 3 changes pending,
# 64 usage error, 130 interrupted; which wins when several apply; and the
# shipped Ansible playbook, which acts on them.
. "$VDP_SRCDIR/tests/lib.sh"
command -v jq >/dev/null || { echo "1..0 # SKIP jq not installed"; exit 0; }
command -v python3 >/dev/null || { echo "1..0 # SKIP python3 not installed"; exit 0; }
DEMO="test://$VDP_SRCDIR/examples/demo-host.xml"
TOPO="$VDP_SRCDIR/examples/topologies/32em64t-2n8c2t-pci-wholeio.xml"
EX="$VDP_SRCDIR/examples/domains"
GONE=test:///nonexistent/host.xml

# expect STATUS DESCRIPTION ARGS...: virt-dataplane ARGS exits with STATUS.
expect () {
  want=$1 desc=$2; shift 2
  run_cmd "$@"
  check "$desc: exit $want" test "$RC" = "$want"
}

# A host with one tuned domain (the XML plan writes, metadata included).
"$VDP_BIN" plan -q --topology "$TOPO" --target libvirt=9.0,qemu=7.2 --xml --file "$EX/web1.xml" \
  | sed 's/<domain /<domain xmlns:test="http:\/\/libvirt.org\/schemas\/domain\/test\/1.0" /' > "$TMP/tuned.xml"
{ echo "<node><cpu><nodes>2</nodes><sockets>1</sockets><cores>8</cores><threads>2</threads><active>32</active></cpu>"
  echo "<memory>67108864</memory>"; cat "$TMP/tuned.xml"; echo "</node>"; } > "$TMP/host.xml"
TUNED="test://$TMP/host.xml"

# ---- 0 ------------------------------------------------------------------------------
expect 0 "topology" topology --topology "$TOPO"
expect 0 "plan" plan --topology "$TOPO" --file "$EX/web1.xml"
expect 0 "plan -c --all (changes shown, none made)" -c "$DEMO" plan --all --diff --topology "$TOPO"
expect 0 "apply" -c "$DEMO" apply --all --topology "$TOPO"
expect 0 "revert of untuned domains" -c "$DEMO" revert --all
expect 0 "revert" -c "$TUNED" revert --all
expect 0 "list" -c "$DEMO" list
expect 0 "status" -c "$DEMO" status web01 --interval 0.1
expect 0 "check, clean" check --topology "$TOPO" --target libvirt=9.0,qemu=7.2 --file "$TMP/tuned.xml"
expect 0 "apply --dry-run, nothing to change" -c "$TUNED" apply --all --dry-run --topology "$TOPO" \
  --target libvirt=9.0,qemu=7.2
check "... unchanged" grep -q "^$TUNED web1: unchanged" "$TMP/out"

# ---- 1 ------------------------------------------------------------------------------
expect 1 "check, findings" -c "$DEMO" check --all --topology "$TOPO"
expect 1 "check --file, findings" check --topology "$TOPO" --file "$EX/web1.xml"

# ---- 2 ------------------------------------------------------------------------------
expect 2 "topology, missing file" topology --topology "$TMP/nonexistent.xml"
expect 2 "plan, missing file" plan --file "$TMP/nonexistent.xml"
expect 2 "plan, bad profile" plan --profile nosuch --file "$EX/web1.xml"
expect 2 "apply, unreachable host" -c "$GONE" apply --all
expect 2 "apply, unknown domain" -c "$DEMO" apply nosuch --topology "$TOPO"
expect 2 "revert, unreachable host" -c "$GONE" revert --all
expect 2 "check, unreachable host" -c "$GONE" check --all
expect 2 "list, unreachable host" -c "$GONE" list
expect 2 "status, a domain not running" -c "$DEMO" status pg-replica
expect 2 "apply --live, a named domain not running" -c "$DEMO" apply pg-replica --live --topology "$TOPO"

# ---- 3 ------------------------------------------------------------------------------
expect 3 "apply --dry-run, changes pending" -c "$DEMO" apply --all --dry-run --topology "$TOPO"
expect 3 "revert --dry-run, changes pending" -c "$TUNED" revert --all --dry-run
check "revert --dry-run: a diff" grep -q '^-  <cputune>' "$TMP/out"

# ---- 64 -----------------------------------------------------------------------------
expect 64 "no command" --json
expect 64 "unknown command" frobnicate
for cmd in topology plan apply revert check list status; do
  expect 64 "$cmd: unknown option" "$cmd" --bogus
  check "$cmd: one line on stderr, nothing on stdout" sh -c "test \$(wc -l < '$TMP/err') = 1 && test ! -s '$TMP/out'"
  expect 64 "$cmd: missing option argument" "$cmd" --timeout
done
expect 64 "apply: nothing named" -c "$DEMO" apply
expect 64 "apply: --all and names" -c "$DEMO" apply --all web01
expect 64 "-j out of range" -j 999 list
expect 64 "--timeout not a number" --timeout soon list
expect 64 "a misspelled global option" --conect "$DEMO" apply --all

# ---- which wins ---------------------------------------------------------------------------
expect 64 "usage before anything runs" -c "$GONE" apply --all --bogus
expect 2 "an error before changes pending" -c "$GONE" -c "$DEMO" apply --all --dry-run --topology "$TOPO"
check "... the good host still done" test "$(grep -c ': would-change' "$TMP/out")" = 12
expect 2 "an error before findings" -c "$GONE" -c "$DEMO" check --all --topology "$TOPO"
python3 "$VDP_SRCDIR/tests/silent-host.py" silent "$TMP/silent.sock" > "$TMP/silent.out" &
SPID=$!
trap 'kill $SPID 2>/dev/null; rm -rf "$TMP"' EXIT
i=0; while ! grep -q ready "$TMP/silent.out" && [ $i -lt 300 ]; do i=$((i + 1)); sleep 0.1; done
RC=0
python3 "$VDP_SRCDIR/tests/interrupt.py" "$TMP/out" "$VDP_BIN" --timeout 0 -c "$GONE" \
  -c "qemu+unix:///system?socket=$TMP/silent.sock" apply --all --dry-run 2> "$TMP/err" || RC=$?
check "interrupted before an error: exit 130" test "$RC" = 130
check "... after the failed host's line" grep -q "^$GONE (host): failed" "$TMP/out"

# ---- the Ansible playbook -----------------------------------------------------------------
PLAYBOOK="$VDP_SRCDIR/examples/ansible/virt-dataplane.yml"
if command -v ansible-playbook >/dev/null; then
  export ANSIBLE_LOCAL_TEMP="$TMP/ansible-local" ANSIBLE_HOME="$TMP/ansible-home" ANSIBLE_NOCOLOR=1
  check "playbook: syntax" ansible-playbook -i "$VDP_SRCDIR/examples/ansible/inventory.ini" \
    --syntax-check "$PLAYBOOK"
  printf '[kvm_hosts]\nlocalhost ansible_connection=local ansible_python_interpreter=%s\n' \
    "$(command -v python3)" > "$TMP/inventory"
  # play PREFIX CONNECT_JSON: runs the playbook on this machine against CONNECT_JSON
  play () {
    RC=0
    ansible-playbook -i "$TMP/inventory" "$PLAYBOOK" -e ansible_become=false -e "vdp_bin=$VDP_BIN" \
      -e "{\"vdp_connect\": $2}" > "$TMP/$1.out" 2>&1 || RC=$?
  }
  play ok "[\"-c\", \"$DEMO\", \"--topology\", \"$TOPO\"]"
  check "playbook: runs through (check 1, dry run 3, apply 0)" \
    sh -c "test $RC = 0 && grep -q 'changed: \[localhost\]' '$TMP/ok.out' && grep -q 'TASK \[Audit again\]' '$TMP/ok.out'"
  check "playbook: the findings shown with their host" grep -q "\"msg\": \"$DEMO api01: warning VDP002" "$TMP/ok.out"
  play usage "[\"--conect\", \"$DEMO\"]"
  check "playbook: a misspelled option (64) stops it before apply" \
    sh -c "test $RC != 0 && grep -q '\"rc\": 64' '$TMP/usage.out' && ! grep -q 'TASK \[Tune the domains\]' '$TMP/usage.out'"
  play gone "[\"-c\", \"$GONE\"]"
  check "playbook: an unreachable host (2) stops it before apply" \
    sh -c "test $RC != 0 && grep -q '\"rc\": 2' '$TMP/gone.out' && ! grep -q 'TASK \[Tune the domains\]' '$TMP/gone.out'"
else
  # without Ansible, the playbook is at least valid YAML with the tasks it needs
  check "playbook: valid YAML, its tasks" python3 -c '
import sys, yaml
play = yaml.safe_load(open(sys.argv[1]))[0]
names = [t["name"] for t in play["tasks"]]
assert "See what apply would change" in names and "Tune the domains" in names, names
' "$PLAYBOOK"
fi
done_testing
