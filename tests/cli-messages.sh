#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# What a new user reads: one line per error, naming the file once, with
# the real reason; nothing from libxml2 beside it; a reader that stops
# reading ends the output quietly; plan and apply warn alike.
. "$VDP_SRCDIR/tests/lib.sh"
TOPO="$VDP_SRCDIR/examples/topologies/32em64t-2n8c2t-pci-wholeio.xml"
EX="$VDP_SRCDIR/examples/domains"
DEMO="test://$VDP_SRCDIR/examples/demo-host.xml"

# ---- libxml2 prints nothing of its own ---------------------------------------
run_cmd -c test:///nonexistent/host.xml list
check "a test URI without its file: no libxml2 'I/O warning' line" \
  sh -c "! grep -q 'I/O warning' '$TMP/err' && ! grep -q 'external entity' '$TMP/out' '$TMP/err'"
check "a test URI without its file: one failed line for the host" \
  sh -c "test $RC = 2 && grep -q \"failed: cannot connect to 'test:///nonexistent/host.xml'\" '$TMP/out'"

# ---- file names in messages, once -------------------------------------------
run_cmd hook --exec-backend /nonexistent/backend.conf
check "hook --exec-backend without its file: the file named" \
  sh -c "test $RC = 2 && test \"\$(cat '$TMP/err')\" = \"virt-dataplane: cannot read backend settings '/nonexistent/backend.conf': No such file or directory\""
run_cmd plan --topology "$TOPO" --file "$EX/web1.xml" --profile /nonexistent/p.conf
check "--profile without its file: the file named once" \
  sh -c "test $RC = 2 && test \"\$(cat '$TMP/err')\" = \"virt-dataplane: cannot read profile '/nonexistent/p.conf': No such file or directory\""
printf '# a profile\n\npool_cap=2\n[profile]\n' > "$TMP/nogroup.conf"
run_cmd plan --topology "$TOPO" --file "$EX/web1.xml" --profile "$TMP/nogroup.conf"
check "a profile without a group first: the file, the line and the key" \
  sh -c "test $RC = 2 && test \"\$(cat '$TMP/err')\" = \"virt-dataplane: $TMP/nogroup.conf:3: 'pool_cap=2' comes before any group (a profile starts with [profile])\""

# ---- a reader that stops reading ------------------------------------------
# the reader (:) is gone before anything is written: every write fails
for args in "-c $DEMO list" "-c $DEMO apply --all --dry-run -q" "plan -q --topology $TOPO --file $EX/web1.xml"; do
  # shellcheck disable=SC2086
  { sleep 1; "$VDP_BIN" $args 2> "$TMP/err"; echo $? > "$TMP/rc"; } | :
  check "closed pipe ($args): nothing on standard error" test ! -s "$TMP/err"
  check "closed pipe ($args): exit 2 (the lines are lost)" test "$(cat "$TMP/rc")" = 2
done

# ---- plan and apply warn alike ----------------------------------------------
run_cmd -c "$DEMO" apply --all --dry-run
check "apply: the overcommit warning names the host once" \
  sh -c "grep -q '^virt-dataplane: warning: $DEMO: overcommitted vCPUs: 48 vCPUs of all its domains on 32 usable PUs (1.50 per PU)$' '$TMP/err' && ! grep -q '$DEMO: $DEMO' '$TMP/err'"
run_cmd -c "$DEMO" plan --all
check "plan: the same overcommit warning" \
  grep -q "^virt-dataplane: warning: $DEMO: overcommitted vCPUs: 48 vCPUs of all its domains on 32 usable PUs (1.50 per PU)$" "$TMP/err"
run_cmd plan --topology "$TOPO" --file "$EX/web1.xml"
check "no overcommit warning when the vCPUs fit" sh -c "test $RC = 0 && ! grep -q overcommitted '$TMP/err'"

# ---- libvirt's reason, not 'no error' -------------------------------------
"$VDP_BIN" plan -q --topology "$TOPO" --target libvirt=9.0,qemu=7.2 --xml --file "$EX/web1.xml" \
  | sed 's/<domain /<domain xmlns:test="http:\/\/libvirt.org\/schemas\/domain\/test\/1.0" /' > "$TMP/tuned.xml"
{ echo "<node><cpu><nodes>2</nodes><sockets>1</sockets><cores>8</cores><threads>2</threads><active>32</active></cpu>"
  echo "<memory>67108864</memory>"; cat "$TMP/tuned.xml"; echo "</node>"; } > "$TMP/host.xml"
run_cmd -c "test://$TMP/host.xml" revert --live web1
check "revert --live that libvirt refuses: libvirt's reason" \
  sh -c "grep -q 'web1: failed: remove IOThread 1 from .web1.: .*cannot remove IOThread 1' '$TMP/out' && ! grep -q 'no error' '$TMP/out'"

# ---- check's fix hints ------------------------------------------------------
run_cmd check --topology "$TOPO" --file "$EX/scsi1.xml"
check "VDP002 on a virtio-scsi controller: the controller's driver iothread" \
  grep -q "VDP002 controller scsi 0: .*(fix: .*the virtio-scsi controller <driver iothread=>" "$TMP/out"
sed 's|</vcpu>|&<cputune><vcpupin vcpu="0" cpuset="40"/></cputune>|' "$EX/web1.xml" > "$TMP/pin40.xml"
run_cmd check --topology "$TOPO" --file "$TMP/pin40.xml"
check "VDP018: apply --force, since apply keeps pins it did not write" \
  grep -q "VDP018 vcpu 0: .*(fix: .*virt-dataplane apply --force" "$TMP/out"
done_testing
