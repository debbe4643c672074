#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# The documentation's commands work: every command of examples/README.md
# runs, with the status it gives ("# exit N"; else 0), and
# README.md's "Reading a plan" sample is what its command prints.
. "$VDP_SRCDIR/tests/lib.sh"
command -v bash >/dev/null || { echo "1..0 # SKIP bash not installed"; exit 0; }
command -v python3 >/dev/null || { echo "1..0 # SKIP python3 not installed"; exit 0; }
command -v jq >/dev/null || { echo "1..0 # SKIP jq not installed"; exit 0; }

# The sh blocks of examples/README.md, one command per line (continuations
# joined), each run from the source tree with this build's program.
python3 - "$VDP_SRCDIR/examples/README.md" > "$TMP/commands" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
for block in re.findall(r"```sh\n(.*?)```", text, re.S):
    for cmd in re.sub(r"\\\n\s*", "", block).splitlines():
        cmd = cmd.strip()
        if cmd and not cmd.startswith("#"):
            print(cmd)
PY
check "examples/README.md has commands" test -s "$TMP/commands"
assign=
while IFS= read -r cmd; do
  case $cmd in
    *=*" "*|*" "*) ;;
    *=*) assign="$assign$cmd
"; continue ;;    # T=..., H=...: for the commands after them
  esac
  case $cmd in
    lstopo*)
      command -v lstopo >/dev/null || { skip_test "$cmd: lstopo not installed"; continue; }
      cmd="${cmd%%>*}> '$TMP/myhost.xml'" ;;
  esac
  # the status the README gives ("# exit N: ..."), else 0
  want=$(echo "$cmd" | sed -n 's/.*# exit \([0-9]*\).*/\1/p')
  want=${want:-0}
  rc=0
  (cd "$VDP_SRCDIR" && bash -o pipefail -c "$assign$(echo "$cmd" | sed "s|\./src/virt-dataplane|'$VDP_BIN'|g")" \
     > "$TMP/out" 2> "$TMP/err") || rc=$?
  check "examples/README.md: '$cmd': exit $want$( [ "$rc" = "$want" ] || echo " (got $rc: $(tail -1 "$TMP/err"))")" \
    test "$rc" = "$want"
done < "$TMP/commands"

# README.md's "Reading a plan": the command after "$ ", then the lines it
# prints, in order; "..." alone skips lines, inside a line it stands for
# anything.
python3 - "$VDP_SRCDIR/README.md" "$VDP_BIN" "$VDP_SRCDIR" > "$TMP/sample" 2>&1 <<'PY'
import re, shlex, subprocess, sys
readme, prog, srcdir = sys.argv[1:4]
text = open(readme).read()
block = re.search(r"## Reading a plan\n\n```\n(.*?)```", text, re.S).group(1)
lines = block.split("\n")
cmd = lines.pop(0)
assert cmd.startswith("$ "), "the sample starts with its command"
cmd = cmd[2:]
while cmd.endswith("\\"):
    cmd = cmd[:-1] + lines.pop(0).strip()
args = shlex.split(cmd)
assert args[0] == "./src/virt-dataplane"
out = subprocess.run([prog] + args[1:] + ["-q"], cwd=srcdir, capture_output=True,
                     text=True)
if out.returncode != 0:
    print("exit %d: %s" % (out.returncode, out.stderr))
    sys.exit(1)
got = out.stdout.split("\n")
pos = 0
for want in lines:
    if want.strip() in ("", "..."):
        continue
    rx = re.compile("^" + ".*".join(re.escape(p) for p in want.split("...")) + "$")
    while pos < len(got) and not rx.match(got[pos]):
        pos += 1
    if pos == len(got):
        print("not printed (in this order): " + want)
        sys.exit(1)
    pos += 1
PY
check "README.md: the 'Reading a plan' sample is what its command prints$(head -c 300 "$TMP/sample" | tr '\n' ' ' | sed 's/^./: &/')" test ! -s "$TMP/sample"
done_testing
