#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Safe by default, through the real QEMU driver in-process (qemu:///embed,
# whose definitions persist between runs): hand edits refused unless
# --force, list telling tuned from drifted, SIGINT in the middle of a
# fleet run leaving every domain applied with its line or untouched, the
# audit trail, a running TCG guest tuned config-only (told, and found by
# check) then live, and reverted live; --live on a shut-off domain.  And
# without libvirt: bounded inputs, --output-dir over its inputs, global
# options anywhere.
. "$VDP_SRCDIR/tests/lib.sh"
command -v jq >/dev/null || { echo "1..0 # SKIP jq not installed"; exit 0; }
command -v python3 >/dev/null || { echo "1..0 # SKIP python3 not installed"; exit 0; }
EX="$VDP_SRCDIR/examples/domains"
TOPO="$VDP_SRCDIR/examples/topologies/32em64t-2n8c2t-pci-wholeio.xml"

# ---- bounded inputs: one line, exit 2, no minutes of work --------------------------
for t in 'node:99999 pu:2' 'node:1000000 core:1000000 pu:1000000' 'package:4 node:300 pu:4'; do
  RC=0
  timeout 30 "$VDP_BIN" topology --topology "$t" > "$TMP/out" 2> "$TMP/err" || RC=$?
  check "synthetic '$t': refused, one line" \
    sh -c "test $RC = 2 && test \$(wc -l < '$TMP/err') = 1 && grep -q 'more than the 8192 PUs or 1024 nodes allowed' '$TMP/err'"
done
run_cmd topology --topology 'node:16 core:16 pu:2' --json
check "synthetic of 512 PUs: accepted" test "$(jq .counts.pus "$TMP/out")" = 512
run_cmd plan --topology 'node:2 core:2 pu:2' --file "$EX/web1.xml" --target newest -q
check "synthetic within the bounds: planned" test "$RC" = 0
# a domain file of 17 MiB (a comment pads it: the size alone refuses it)
{ sed -n '1,/<\/devices>/p' "$EX/web1.xml" | head -n -1
  head -c $((17 * 1024 * 1024)) /dev/zero | tr '\0' 'x' | sed 's/^/<!-- /; s/$/ -->/'
  echo '</devices></domain>'; } > "$TMP/huge.xml"
run_cmd plan --file "$TMP/huge.xml"
check "a 17 MiB domain file: refused, naming it" \
  sh -c "test $RC = 2 && test \$(wc -l < '$TMP/err') = 1 && grep -q \"domain file '$TMP/huge.xml' is 17.0 MiB: more than the 16.0 MiB allowed\" '$TMP/err'"
rm -f "$TMP/huge.xml"
python3 - "$TMP/disks.xml" <<'PY'
import string, sys
def name(i):  # vda ... vdz, vdaa ...: libvirt's disk names
    s = ''
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        s = string.ascii_lowercase[r] + s
    return 'vd' + s
with open(sys.argv[1], 'w') as f:
    f.write("<domain type='kvm'><name>disks</name><memory>1048576</memory><vcpu>2</vcpu>"
            "<os><type arch='x86_64'>hvm</type></os><devices>\n")
    for i in range(300):
        f.write("<disk type='file' device='disk'><source file='/img/%d.raw'/>"
                "<target dev='%s' bus='virtio'/></disk>\n" % (i, name(i)))
    f.write("</devices></domain>\n")
PY
run_cmd check --file "$TMP/disks.xml"
check "300 disks: refused, naming the domain" \
  sh -c "test $RC = 2 && grep -q \"domain '$TMP/disks.xml' has 300 disks: more than the 256 allowed\" '$TMP/err'"
{ echo "<node><cpu><nodes>2</nodes><sockets>1</sockets><cores>8</cores><threads>2</threads><active>32</active></cpu><memory>67108864</memory>"
  sed 's/<domain type=.kvm.>/<domain type="kvm">/' "$TMP/disks.xml"; sed -n '/<domain/,/<\/domain>/p' "$EX/web1.xml"; echo "</node>"; } > "$TMP/host.xml"
run_cmd -c "test://$TMP/host.xml" apply --all --dry-run --topology "$TOPO" -q
check "a host's domain of 300 disks fails alone" \
  sh -c "test $RC = 2 && grep -q 'disks: failed: domain .disks. has 300 disks' '$TMP/out' && grep -q 'web1: would-change' '$TMP/out'"

# ---- plan --output-dir never writes over its inputs -------------------------------
mkdir -p "$TMP/in" "$TMP/other"
cp "$EX/web1.xml" "$EX/db1.xml" "$TMP/in/"
cp "$EX/web1.xml" "$TMP/other/web1.xml"
cp -r "$TMP/in" "$TMP/in.orig"
run_cmd plan --topology "$TOPO" --xml --output-dir "$TMP/in" --file "$TMP/in/web1.xml" --file "$TMP/in/db1.xml"
check "--output-dir = the inputs' directory: usage error, naming the input" \
  sh -c "test $RC = 64 && grep -q \"would overwrite the input '$TMP/in/web1.xml'\" '$TMP/err'"
ln -s "$TMP/in" "$TMP/link"
run_cmd plan --topology "$TOPO" --xml --output-dir "$TMP/link" --file "$TMP/in/db1.xml"
check "--output-dir through a symbolic link to them: refused too" test "$RC" = 64
run_cmd plan --topology "$TOPO" --xml --output-dir "$TMP/out-dir" --file "$TMP/in/web1.xml" --file "$TMP/other/web1.xml"
check "two inputs of one name: refused, nothing written" sh -c "test $RC = 64 && test ! -e '$TMP/out-dir'"
check "the inputs unchanged" diff -r "$TMP/in.orig" "$TMP/in"

# ---- global options anywhere ------------------------------------------------------------
DEMO="test://$VDP_SRCDIR/examples/demo-host.xml"
for args in "--state running list --name" "list --state running --name" \
            "--timeout 5 -c $DEMO list --name --state running" "list --name --timeout 5 --state running"; do
  # shellcheck disable=SC2086
  run_cmd -c "$DEMO" $args
  check "'$args': the 8 running domains" sh -c "test $RC = 0 && test \$(wc -l < '$TMP/out') = 8"
done
run_cmd -c "$DEMO" --state running check --topology "$TOPO" -q
check "--state before check" sh -c "test $RC = 1 && ! grep -q 'ci-runner1:' '$TMP/out'"
run_cmd -c "$DEMO" revert --dry-run --state shutoff
check "--state after revert" test "$(grep -c ': not-tuned' "$TMP/out")" = 4
run_cmd topology --state running
check "--state with topology: usage error" sh -c "test $RC = 64 && grep -q 'takes none by state' '$TMP/err'"
run_cmd -c "$DEMO" status web01 --state running
check "--state with status: usage error" test "$RC" = 64
run_cmd list --list-commands
check "--list-commands after a command" grep -qx list "$TMP/out"

# ---- the real QEMU driver, embedded ---------------------------------------------------
if [ "$(id -u)" != 0 ] || ! command -v qemu-system-x86_64 >/dev/null || ! command -v virsh >/dev/null \
   || ! getent passwd libvirt-qemu >/dev/null; then
  skip_test "qemu:///embed needs root, QEMU, virsh and the libvirt-qemu user"
  done_testing
  exit
fi
# libvirt's QEMU driver probes QEMU again (seconds) whenever its cached
# host CPU data differ, and on this kind of machine one CPUID leaf says which
# CPU the process runs on: the embedded driver's processes stay on CPU 0,
# and plan on this machine's topology saved beforehand (hwloc would see
# only CPU 0 allowed).
HERE="$TMP/here.xml"
"$VDP_BIN" topology --xml > "$HERE"
command -v taskset >/dev/null && taskset -pc 0 $$ >/dev/null
emb () { run_cmd -c "$URI" --topology "$HERE" "$@"; }
ROOT=$(mktemp -d /tmp/vdps-XXXXXX)
URI="qemu:///embed?root=$ROOT"
AUDIT_PID=
cleanup () {
  virsh -q -c "$URI" destroy g1 >/dev/null 2>&1
  [ -s "$ROOT/run/qemu/g1.pid" ] && kill "$(cat "$ROOT/run/qemu/g1.pid")" 2>/dev/null
  [ -n "$AUDIT_PID" ] && kill "$AUDIT_PID" 2>/dev/null
  rm -rf "$ROOT" "$TMP"
}
trap cleanup EXIT
mkdir -p "$ROOT/etc"
printf 'user = "root"\ngroup = "root"\nsecurity_driver = "none"\nstdio_handler = "file"\n' > "$ROOT/etc/qemu.conf"
vsh () { virsh -q -c "$URI" "$@" 2>>"$TMP/virsh.err"; }
# dump_all SUFFIX: every domain's persistent XML in $TMP/DOMAIN.SUFFIX, in
# one virsh run (each run of the embedded driver takes a while to start)
dump_all () {
  vsh list --all --name > "$TMP/names"
  sed 's/^/dumpxml --inactive /' "$TMP/names" | vsh > "$TMP/all.xml"
  awk -v dir="$TMP" -v suffix="$1" 'NR == FNR { name[++n] = $0; next }
    /^virsh # / { next } /^<domain/ { f = dir "/" name[++k] "." suffix } f { print > f }' \
    "$TMP/names" "$TMP/all.xml"
}
# domain NAME [MiB]: the shut-off guests are small, so that 48 of them fit
# on a machine whose node has a few GiB (each counts about 80 MiB more for
# QEMU itself); g1, booted, has 128 MiB
domain () {
  cat <<XML
<domain type='qemu'><name>$1</name><memory unit='MiB'>${2:-8}</memory><vcpu placement='static'>2</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os><features><acpi/></features>
  <devices><emulator>$(command -v qemu-system-x86_64)</emulator>
    <disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='$ROOT/$1.raw'/>
      <target dev='vda' bus='virtio'/></disk><memballoon model='none'/></devices></domain>
XML
}
N=48
i=1
: > "$TMP/define"
while [ $i -le $N ]; do
  d=$(printf 'd%02d' $i); domain "$d" > "$TMP/$d.xml"; echo "define $TMP/$d.xml" >> "$TMP/define"; i=$((i + 1))
done
domain g1 128 > "$TMP/g1.xml"; truncate -s 4M "$ROOT/g1.raw"; echo "define $TMP/g1.xml" >> "$TMP/define"
vsh < "$TMP/define" > /dev/null
dump_all before
check "$N + 1 domains defined" test "$(grep -c . "$TMP/names")" = $((N + 1))

# the audit trail, to a socket of the test's own
python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind(sys.argv[1])
print("ready", flush=True)
with open(sys.argv[2], "a") as log:
    while True:
        log.write(s.recv(65536).decode() + "\n"); log.flush()
' "$TMP/audit.sock" "$TMP/audit.log" > "$TMP/audit.ready" &
AUDIT_PID=$!
i=0; while ! grep -q ready "$TMP/audit.ready" && [ $i -lt 300 ]; do i=$((i + 1)); sleep 0.1; done
export VDP_AUDIT_SOCKET="$TMP/audit.sock"

# ---- SIGINT in the middle of a fleet run -------------------------------------------------
# its JSON lines go to a pipe of 4 KiB that is read once the first line is
# there: the run blocks when it is full, and SIGINT comes mid-run
RC=0
python3 "$VDP_SRCDIR/tests/interrupt.py" "$TMP/sigint.json" "$VDP_BIN" -c "$URI" --topology "$HERE" -j 2 apply \
  --state shutoff --json 2> "$TMP/sigint.err" || RC=$?
jq -r '"\(.uri) \(.domain): \(.result) (plan \(.plan))"' "$TMP/sigint.json" > "$TMP/sigint.out"
applied=$(grep -c ': applied' "$TMP/sigint.out")
diag "interrupted after $applied of $((N + 1)) domains"
check "SIGINT mid-run: exit 130" test "$RC" = 130
check "SIGINT mid-run: some domains not started" test "$applied" -lt $((N + 1))
check "SIGINT mid-run: no domain failed" sh -c "! grep -q ': failed' '$TMP/sigint.out'"
half=0 untouched=0 missing=0
dump_all now
for d in $(cat "$TMP/names"); do
  if grep -q "^$URI $d: applied (plan " "$TMP/sigint.out"; then
    plan=$(sed -n "s/^.* $d: applied (plan \([0-9a-f]*\)).*/\1/p" "$TMP/sigint.out")
    grep -q "plan=\"$plan\"" "$TMP/$d.now" && grep -q "<vcpupin " "$TMP/$d.now" || half=$((half + 1))
  elif cmp -s "$TMP/$d.before" "$TMP/$d.now"; then
    untouched=$((untouched + 1))
  else
    missing=$((missing + 1))
  fi
done
check "SIGINT: every domain with an 'applied' line holds its plan" test "$half" = 0
check "SIGINT: every domain without a line is untouched" test "$missing" = 0
check "SIGINT: the domains not started are the others" test "$untouched" = $((N + 1 - applied))
check "SIGINT: the lines in name order" sh -c "cut -d' ' -f2 '$TMP/sigint.out' | sort -c"
check "SIGINT: the summary counts the domains not started" \
  grep -q "; interrupted: $((N + 1 - applied)) domains not started" "$TMP/sigint.err"
check "audit: one line per domain applied" test "$(grep -c ' applied host=' "$TMP/audit.log")" = "$applied"
check "audit: the syslog format, ident, facility user, notice" \
  grep -q "^<13>[A-Z][a-z][a-z] [ 0-9][0-9] [0-9:]* virt-dataplane\[[0-9]*\]: applied host=$URI domain='d01' plan=[0-9a-f]* changed=cputune,disk/vda/driver,[a-z/,]* scope=config$" "$TMP/audit.log"
emb apply --state shutoff -q
check "the rest applied after" test "$(grep -c ': applied' "$TMP/out")" = $((N + 1 - applied))

# ---- hand edits: refused, listed, kept -------------------------------------------------
emb list d01 d02
check "list: tuned, with its profile and plan" grep -q "^-  *d01  *shut off  *balanced  *[0-9a-f]\{16\}  *tuned  *-$" "$TMP/out"
vsh vcpupin --config d01 0 0 > /dev/null
vsh dumpxml --inactive d01 > "$TMP/d01.edited"
emb list d01 --json
check "list: a hand edit is drift" jq -e '.drift == "drifted"' "$TMP/out"
emb apply d01 d02 --profile density
check "apply over a hand edit: exit 2" test "$RC" = 2
check "apply: refused, listing what would be lost" \
  grep -q "^$URI d01: refused: changed by hand since the last apply; apply would lose: vcpupin 0 is '0' now, '[0-9,-]*' applied (apply --force to do it anyway)$" "$TMP/out"
check "apply: the other domain done" grep -q "^$URI d02: applied" "$TMP/out"
vsh dumpxml --inactive d01 > "$TMP/d01.after"
check "apply: the hand edit kept" cmp -s "$TMP/d01.edited" "$TMP/d01.after"
emb apply d01 --profile density --dry-run
check "apply --dry-run: refused too, exit 2" sh -c "test $RC = 2 && grep -q 'd01: refused' '$TMP/out'"
emb revert d01
check "revert over a hand edit: refused" sh -c "test $RC = 2 && grep -q \"d01: refused: .*revert would lose: vcpupin 0 is '0' now\" '$TMP/out'"
emb apply d01 --profile density --force
check "apply --force: applied" sh -c "test $RC = 0 && grep -q 'd01: applied' '$TMP/out'"
emb list d01 --json
check "list: tuned again, with the new profile" jq -e '.drift == "tuned" and .profile == "density"' "$TMP/out"
emb revert d01
vsh dumpxml --inactive d01 > "$TMP/d01.reverted"
check "revert: the definition before any apply" sh -c "test $RC = 0 && cmp -s '$TMP/d01.reverted' '$TMP/d01.before'"
check "audit: reverted, the plan undone" grep -q "virt-dataplane\[[0-9]*\]: reverted host=$URI domain='d01' plan=[0-9a-f]\{16\} changed=[a-z/,]* scope=config$" "$TMP/audit.log"
emb list d01
check "list: untuned after revert" grep -q " d01 .* untuned " "$TMP/out"

# ---- a running guest: config only is told and checked, then live, then reverted live -----
emb apply d03 --live
check "--live on a shut-off domain: an error, as in virsh" \
  sh -c "test $RC = 2 && grep -q \"d03: failed: domain is not running: --live needs a running guest\" '$TMP/out'"
emb revert d03 --live
check "revert --live on a shut-off domain: an error too" sh -c "test $RC = 2 && grep -q 'd03: failed: domain is not running' '$TMP/out'"
emb revert g1 -q
vsh start g1 > /dev/null
PID=$(cat "$ROOT/run/qemu/g1.pid")
emb check g1
check "running guest, untuned: no live finding" sh -c "! grep -q VDP019 '$TMP/out'"
emb apply g1
check "config-only apply of a running guest: said on its line" \
  grep -q "^$URI g1: applied (plan [0-9a-f]*): config; the running guest keeps its old settings until it restarts$" "$TMP/out"
check "... and in a warning with host and domain" \
  grep -q "^virt-dataplane: warning: $URI: g1: the running guest keeps its old settings until it restarts" "$TMP/err"
emb check g1
check "check: live differs from the definition (VDP019)" \
  sh -c "test $RC = 1 && grep -q \"^$URI g1: warning VDP019 domain: the running guest differs from its definition: .*vcpupin 0 is '' live, '[0-9,-]*' in the definition\" '$TMP/out'"
emb list g1 --json
check "list: live differs" jq -e '.live_differs == true and .state == "running"' "$TMP/out"
emb apply g1 --live
check "apply --live: the running guest pinned" sh -c "test $RC = 0 && grep -q 'g1: applied (plan [0-9a-f]*): live$' '$TMP/out'"
check "apply --live: an IOThread added" sh -c "grep -lx 'IO iothread1' /proc/$PID/task/*/comm >/dev/null"
tid=$(grep -l "^CPU 0/" /proc/$PID/task/*/comm | head -1 | xargs dirname)
allowed () { sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' "$tid/status"; }
vsh dumpxml --inactive g1 > "$TMP/g1.tuned"
planned=$(sed -n "s/.*<vcpupin vcpu=.0. cpuset=.\([0-9,-]*\)'.*/\1/p" "$TMP/g1.tuned")
check "apply --live: vCPU 0's thread where the plan says ($planned)" test "$(allowed)" = "$planned"
emb check g1
check "check: the pins agree now; the disk's IOThread waits for a restart" \
  sh -c "grep -q \"g1: warning VDP019 .*disk vda iothread is '' live, '1' in the definition\" '$TMP/out' && ! grep -q 'VDP019 .*vcpupin' '$TMP/out'"
# a live pin by hand, which revert --live undoes too
vsh vcpupin g1 0 0 --live > /dev/null
check "vCPU 0 pinned to PU 0 by hand" test "$(allowed)" = 0
emb revert g1 --config --live
check "revert --config --live: exit 0" sh -c "test $RC = 0 && grep -q 'g1: reverted: config and live$' '$TMP/out'"
check "revert --live: the IOThread apply added removed" sh -c "! grep -lx 'IO iothread1' /proc/$PID/task/*/comm >/dev/null 2>&1"
check "revert --live: vCPU 0 back on every CPU" test "$(allowed)" = "0-$(($(getconf _NPROCESSORS_ONLN) - 1))"
vsh dumpxml --inactive g1 > "$TMP/g1.reverted"
check "revert --live: the definition as before" cmp -s "$TMP/g1.reverted" "$TMP/g1.before"
check "audit: the live revert" grep -q "reverted host=$URI domain='g1' plan=[0-9a-f]* changed=[a-z/,]* scope=config,live$" "$TMP/audit.log"
done_testing
