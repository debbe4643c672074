#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# The bash completion offers the program's commands and a command's options.
. "$VDP_SRCDIR/tests/lib.sh"
command -v bash >/dev/null || { echo "1..0 # SKIP bash not installed"; exit 0; }

# complete WORDS...: the completions bash offers for the last word.
complete_words () {
  bash -c '
    . "$VDP_SRCDIR/data/virt-dataplane.bash-completion"
    COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
    _virt_dataplane
    printf "%s\n" "${COMPREPLY[@]}"' complete "$@"
}

complete_words "$VDP_BIN" to > "$TMP/c1"
check "command names complete" grep -qx topology "$TMP/c1"
complete_words "$VDP_BIN" topology --js > "$TMP/c2"
check "command options complete" grep -qx -- --json "$TMP/c2"
complete_words "$VDP_BIN" --ver > "$TMP/c3"
check "global options complete" grep -qx -- --version "$TMP/c3"
complete_words "$VDP_BIN" --topology "$VDP_SRCDIR/examples/topologies/192em64t" > "$TMP/c4"
check "--topology completes file names" grep -q "192em64t-24n8c2t.xml" "$TMP/c4"
complete_words "$VDP_BIN" --hosts "$VDP_SRCDIR/examples/topologies/192em64t" > "$TMP/c5"
check "--hosts completes file names" grep -q "192em64t-24n8c2t.xml" "$TMP/c5"
complete_words "$VDP_BIN" --hosts fleet to > "$TMP/c6"
check "the word after --hosts is not the command" grep -qx topology "$TMP/c6"
done_testing
