#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# The man pages are valid POD and document every command and long option the
# programs accept (asked from the programs themselves, not from a list here).
. "$VDP_SRCDIR/tests/lib.sh"
MAN="$VDP_SRCDIR/man"
POD="$MAN/virt-dataplane.pod"

if [ -z "${PODCHECKER:-}" ] || [ "$PODCHECKER" = no ]; then
  echo "1..0 # SKIP podchecker not found (package perl)"
  exit 0
fi

for pod in "$MAN"/*.pod; do
  if "$PODCHECKER" -warnings "$pod" >"$TMP/pc" 2>&1 && ! grep -q WARNING "$TMP/pc"; then
    ok "podchecker $(basename "$pod")"
  else
    not_ok "podchecker $(basename "$pod"): $(grep -E 'ERROR|WARNING' "$TMP/pc" | head -3)"
  fi
done

# documented WORD: the POD mentions B<WORD> (an option or command in bold).
documented () { grep -qF "B<$1>" "$POD"; }

"$VDP_BIN" --list-commands > "$TMP/commands"
check "at least one command listed" test -s "$TMP/commands"
"$VDP_BIN" --list-options > "$TMP/options"
while read -r cmd; do
  check "command '$cmd' has a section" grep -qx "=head2 $cmd" "$POD"
  "$VDP_BIN" "$cmd" --list-options >> "$TMP/options"
done < "$TMP/commands"
sort -u "$TMP/options" > "$TMP/options.u"
while read -r opt; do
  check "option '$opt' documented" documented "$opt"
done < "$TMP/options.u"

# Options the page calls global work as global options: before the command
# name and after it, with every command.
sed -n '/^=head1 GLOBAL OPTIONS/,/^=head1 /s/^=item .*B<\(--[a-z-]*\)>.*/\1/p' "$POD" | sort -u > "$TMP/global"
check "global options found in the page" test "$(wc -l < "$TMP/global")" -ge 10
"$VDP_BIN" --list-options > "$TMP/main-options"
# (a command whose section says "of the global options it takes ..., not
# B<--x>, ..." takes only those: the others must not be offered either)
while read -r cmd; do
  "$VDP_BIN" "$cmd" --list-options > "$TMP/cmd-options"
  sed -n "/^=head2 $cmd\$/,/^=head[12] /p" "$POD" | tr '\n' ' ' \
    | sed -n 's/.*of the global options it takes[^.]*, not \(.*\)(usage.*/\1/p' \
    | grep -o 'B<--[a-z-]*>' | sed 's/B<\(.*\)>/\1/' > "$TMP/not-taken"
  while read -r opt; do
    if grep -qx -- "$opt" "$TMP/not-taken"; then
      check "global '$opt' not offered by '$cmd', as its section says" \
        sh -c "! grep -qx -- '$opt' '$TMP/cmd-options'"
      continue
    fi
    check "global '$opt' before the command and after '$cmd'" \
      sh -c "grep -qx -- '$opt' '$TMP/main-options' && grep -qx -- '$opt' '$TMP/cmd-options'"
  done < "$TMP/global"
done < "$TMP/commands"

# virt-dataplane-blk: every long option of its --help is in its page.
BLK="$VDP_BUILDDIR/src/blk/virt-dataplane-blk"
if [ -x "$BLK" ]; then
  "$BLK" --help | grep -o -- '--[a-z-]*' | sort -u > "$TMP/blkopts"
  while read -r opt; do
    check "virt-dataplane-blk option '$opt' documented" grep -qF "B<$opt>" "$MAN/virt-dataplane-blk.pod"
  done < "$TMP/blkopts"
fi

# And the converse for commands: every =head2 under COMMANDS is a real command.
sed -n '/^=head1 COMMANDS/,/^=head1 /s/^=head2 //p' "$POD" > "$TMP/documented"
while read -r cmd; do
  check "documented command '$cmd' exists" grep -qx "$cmd" "$TMP/commands"
done < "$TMP/documented"

done_testing
