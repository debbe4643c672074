#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# CLI tests of "virt-dataplane topology": text and JSON against hwloc's own
# counts for every shared topology, global option placement, bad input.
. "$VDP_SRCDIR/tests/lib.sh"
TOPO="$VDP_SRCDIR/examples/topologies"

command -v jq >/dev/null || { echo "1..0 # SKIP jq not installed"; exit 0; }
command -v hwloc-info >/dev/null || { echo "1..0 # SKIP hwloc-info not installed (package hwloc)"; exit 0; }

# hwloc_count FILE TYPE: what hwloc-info says for that object type.
hwloc_count () {
  hwloc-info -i "$1" 2>/dev/null | sed -n "s/^.*depth [-0-9]*:[[:space:]]*\([0-9]*\) $2 .*/\1/p" | head -n 1
}

for f in "$TOPO"/*.xml; do
  name=$(basename "$f")
  run_cmd topology --json --topology "$f"
  if [ "$RC" -ne 0 ] || [ -s "$TMP/err" ]; then
    not_ok "$name: exit $RC: $(cat "$TMP/err")"
    continue
  fi
  for pair in nodes:NUMANode packages:Package cores:Core pus:PU l3:L3Cache; do
    key=${pair%%:*}; type=${pair#*:}
    want=$(hwloc_count "$f" "$type")
    got=$(jq ".counts.$key" "$TMP/out")
    if [ -z "$want" ]; then
      # hwloc has no such level: we count none either.
      check "$name: no $key" test "$got" = 0
    elif [ "$got" = "$want" ]; then
      ok "$name: $key = $want"
    else
      not_ok "$name: $key = $got, hwloc-info says $want"
    fi
  done
  # Arrays agree with the counts; every PU id is unique.
  check "$name: pus array consistent" \
    test "$(jq '[.pus[] | select(.allowed)] | length' "$TMP/out")" = "$(jq .counts.pus "$TMP/out")"
  check "$name: PU ids unique" \
    test "$(jq '[.pus[].id] | unique | length' "$TMP/out")" = "$(jq '.pus | length' "$TMP/out")"
  check "$name: at least one LLC group" test "$(jq .counts.llc_groups "$TMP/out")" -ge 1
  run_cmd topology --topology "$f"
  check "$name: text view" grep -q "^Node " "$TMP/out"
done

# The 192-PU host from the issue: 24 nodes, 384 PUs, 192 cores, sda/sdb on node 1.
run_cmd --json topology --topology "$TOPO/192em64t-24n8c2t.xml"
check "global --json before the command" test "$RC" = 0
check "192em64t: 24 nodes" test "$(jq .counts.nodes "$TMP/out")" = 24
check "192em64t: 384 PUs" test "$(jq .counts.pus "$TMP/out")" = 384
check "192em64t: 192 cores" test "$(jq .counts.cores "$TMP/out")" = 192
check "192em64t: sda on node 1" test "$(jq '.devices[] | select(.name=="sda") | .node' "$TMP/out")" = 1
check "192em64t: sdb on node 1" test "$(jq '.devices[] | select(.name=="sdb") | .node' "$TMP/out")" = 1
check "192em64t: node 1 lists its devices" \
  test "$(jq -c '.nodes[] | select(.id==1) | .devices' "$TMP/out")" = '["sda","sdb"]'
check "192em64t: SMT siblings of PU 0" \
  test "$(jq -c '.cores[.pus[] | select(.id==0) | .core].pus' "$TMP/out")" = '[0,192]'

run_cmd topology --topology "$TOPO/192em64t-24n8c2t.xml"
check "192em64t text: summary" grep -q "^24 NUMA nodes, 24 packages, 24 L3 groups, 192 cores, 384 PUs$" "$TMP/out"
check "192em64t text: device on node 1" sh -c "sed -n '/^Node 1:/,/^Node 2:/p' '$TMP/out' | grep -q 'device sda'"
check "192em64t text: cores with siblings" grep -q "cores: 0,192 1,193" "$TMP/out"

run_cmd topology --topology "$TOPO/32em64t-2n8c+1mic.xml" --json
check "mic: nvme0n1 on node 0" test "$(jq '.devices[] | select(.name=="nvme0n1") | .node' "$TMP/out")" = 0

run_cmd topology --topology "$TOPO/16em64t-4s2c2t-offlines.xml" --json
check "offline PUs reported" test "$(jq -r .offline "$TMP/out")" = "2,5,13-14"
run_cmd topology --topology "$TOPO/16em64t-4s2c2t-offlines.xml"
check "offline PUs in text" grep -q "^Offline PUs: 2,5,13-14$" "$TMP/out"

run_cmd topology --topology "$TOPO/40intel64-2g2n4c+pci.xml"
check "devices above the nodes listed apart" grep -q "device sda: nodes 0-3" "$TMP/out"

run_cmd topology --topology "$TOPO/2amd64-kvm-guest.xml" -v
check "-v lists every PU" grep -q "^PU   core" "$TMP/out"

# Synthetic descriptions.
run_cmd topology --json --topology "package:2 node:1 l3:1 core:4 pu:2"
check "synthetic: exit 0" test "$RC" = 0
check "synthetic: 2 nodes, 16 PUs, 8 cores, 2 L3" \
  test "$(jq -c '[.counts.nodes,.counts.pus,.counts.cores,.counts.l3]' "$TMP/out")" = "[2,16,8,2]"

# The host itself.
run_cmd topology --json
check "host: exit 0" test "$RC" = 0
check "host: PUs = online CPUs" test "$(jq .counts.pus "$TMP/out")" = "$(getconf _NPROCESSORS_ONLN)"

# Bad input: one line on stderr naming the input, nothing on stdout, exit 2.
printf '<topology version="2.0"><object' > "$TMP/bad.xml"
: > "$TMP/empty.xml"
for spec in "$TMP/missing.xml" "$TMP/bad.xml" "$TMP/empty.xml" "$TMP" "bogus:3" "core:x pu:2"; do
  run_cmd topology --topology "$spec"
  check "bad '$spec': exit 2" test "$RC" = 2
  check "bad '$spec': no output" test ! -s "$TMP/out"
  check "bad '$spec': one line" test "$(wc -l < "$TMP/err")" = 1
  check "bad '$spec': names the input" grep -qF "'$spec'" "$TMP/err"
done
run_cmd topology --json --topology "$TMP/bad.xml"
check "bad file with --json: no output" test ! -s "$TMP/out"

# Usage errors: exit 64, one line.
run_cmd topology --no-such-option
check "unknown option: exit 64" test "$RC" = 64
check "unknown option: one line naming it" sh -c "test \$(wc -l < '$TMP/err') = 1 && grep -q -- '--no-such-option' '$TMP/err'"
run_cmd topology --topology
check "missing argument: exit 64" test "$RC" = 64
run_cmd topology extra
check "extra operand: exit 64" test "$RC" = 64
run_cmd no-such-command
check "unknown command: exit 64" sh -c "test $RC = 64 && grep -q \"unknown command 'no-such-command'\" '$TMP/err'"
run_cmd
check "no command: exit 64" test "$RC" = 64

# Help and version.
run_cmd --help
check "--help: Usage and commands" sh -c "test $RC = 0 && grep -q '^Usage:' '$TMP/out' && grep -q ' topology ' '$TMP/out'"
run_cmd topology --help
check "topology --help" sh -c "test $RC = 0 && grep -q 'virt-dataplane topology' '$TMP/out'"
run_cmd -V
check "-V prints the version" grep -q "^virt-dataplane [0-9]" "$TMP/out"
run_cmd --list-commands
check "--list-commands" grep -qx topology "$TMP/out"

# SMT siblings with commas, as README shows them: "0-1" reads as a range
run_cmd topology --topology "package:1 node:2 core:2 pu:2"
check "synthetic: siblings with commas" sh -c "grep -qx '    cores: 0,1 2,3' '$TMP/out' && grep -qx '    cores: 4,5 6,7' '$TMP/out'"
run_cmd -c "test://$VDP_SRCDIR/examples/demo-host.xml" topology -q
check "libvirt node info: siblings with commas" grep -q "^    cores: 0,1 2,3 " "$TMP/out"

done_testing
