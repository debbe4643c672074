#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Inputs a new user gets wrong: isolated PUs the host does not have, one
# domain given twice, missing input files; each one clear line and the
# documented exit status, before anything is planned.
. "$VDP_SRCDIR/tests/lib.sh"
TOPO="$VDP_SRCDIR/examples/topologies/32em64t-2n8c2t-pci-wholeio.xml"
EX="$VDP_SRCDIR/examples/domains"
DEMO="test://$VDP_SRCDIR/examples/demo-host.xml"

# one_line STATUS PATTERN: the last run exited STATUS, printed nothing on
# standard output and one line matching PATTERN on standard error.
one_line () {
  test "$RC" = "$1" && test ! -s "$TMP/out" && test "$(wc -l < "$TMP/err")" = 1 \
    && grep -q -- "$2" "$TMP/err"
}

# ---- --isolated: PUs the host does not have --------------------------------
run_cmd plan --topology "$TOPO" --file "$EX/web1.xml" --isolated 40-50
check "plan --isolated beyond the topology: exit 2, the PUs named" \
  one_line 2 "^virt-dataplane: --isolated: PUs 40-50 are not on the host (.* has PUs 0-31)$"
run_cmd plan --topology "$TOPO" --file "$EX/web1.xml" --isolated 0-999
check "plan --isolated 0-999: the missing PUs, not a misfit" \
  one_line 2 "^virt-dataplane: --isolated: PUs 32-999 are not on the host"
run_cmd plan -q --topology "$TOPO" --file "$EX/web1.xml" --isolated 0-3
check "plan --isolated within the topology: exit 0" test "$RC" = 0
run_cmd check --topology "$TOPO" --file "$EX/web1.xml" --isolated 31-32
check "check --file --isolated beyond the topology: exit 2" \
  one_line 2 "^virt-dataplane: --isolated: PUs 32 are not on the host"
run_cmd -c "$DEMO" apply --dry-run --all --isolated 30-40
check "apply --isolated beyond the host: the host fails with the PUs named" \
  sh -c "test $RC = 2 && grep -q 'failed: isolated PUs: PUs 32-40 are not on the host' '$TMP/out'"
run_cmd -c "$DEMO" plan --all --isolated 30-40
check "plan -c --isolated beyond the host: exit 2" \
  sh -c "test $RC = 2 && grep -q '^virt-dataplane: --isolated: PUs 32-40 are not on the host' '$TMP/err'"

# ---- one domain given twice --------------------------------------------------
run_cmd plan --topology "$TOPO" --file "$EX/web1.xml" "$EX/web1.xml"
check "plan with a file twice: usage error naming both and the name" \
  one_line 64 "^virt-dataplane plan: '$EX/web1.xml' and '$EX/web1.xml' are one domain: both have the name 'web1'"
run_cmd plan --topology "$TOPO" --file "$EX/web1.xml" --context "$EX/web1.xml"
check "plan with a file as its own context: usage error" \
  one_line 64 "and --context '$EX/web1.xml' are one domain"
sed 's|<name>web1</name>|<name>web1-copy</name>|' "$EX/web1.xml" > "$TMP/copy.xml"
run_cmd plan --topology "$TOPO" --file "$EX/web1.xml" "$TMP/copy.xml"
check "plan with two names of one UUID: usage error naming the UUID" \
  one_line 64 "are one domain: both have the UUID '"
run_cmd check --topology "$TOPO" --file "$EX/web1.xml" "$TMP/copy.xml"
check "check --file with one domain twice: usage error" one_line 64 "are one domain"
run_cmd plan -q --topology "$TOPO" --file "$EX/web1.xml" --context "$EX/db1.xml"
check "plan with distinct domains: exit 0" test "$RC" = 0

# ---- missing input files: status 2 ----------------------------------------
for cmd in list "check --all" "apply --all --dry-run"; do
  # shellcheck disable=SC2086
  run_cmd --hosts /nonexistent/hosts $cmd
  check "--hosts /nonexistent ($cmd): exit 2, the file named" \
    one_line 2 "^virt-dataplane: cannot read --hosts file '/nonexistent/hosts'"
done
run_cmd plan --topology /nonexistent/topology.xml --file "$EX/web1.xml"
check "--topology /nonexistent: exit 2" test "$RC" = 2
run_cmd plan --topology "$TOPO" --file /nonexistent/web1.xml
check "--file /nonexistent: exit 2" test "$RC" = 2
done_testing
