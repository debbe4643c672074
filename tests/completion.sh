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

# after -c URI and -j N: the command, then the domains of that host
DEMO="test://$VDP_SRCDIR/examples/demo-host.xml"
complete_words "$VDP_BIN" -c "$DEMO" -j 4 ap > "$TMP/c7"
check "after -c URI -j N: the command" grep -qx apply "$TMP/c7"
complete_words "$VDP_BIN" -c "$DEMO" -j 4 apply w > "$TMP/c8"
check "domain names from the connection" test "$(tr '\n' ' ' < "$TMP/c8")" = "web01 web02 win-desktop "
complete_words "$VDP_BIN" -j 2 apply --dry-run -c "$DEMO" --profile latency "" > "$TMP/c9"
check "domain names, -c after the command" test "$(wc -l < "$TMP/c9")" = 12
complete_words "$VDP_BIN" --connect = "$DEMO" list p > "$TMP/c10"
check "domain names, --connect=URI" test "$(tr '\n' ' ' < "$TMP/c10")" = "pg-primary pg-replica "
printf '%s\n' "$DEMO" > "$TMP/fleet"
complete_words "$VDP_BIN" --hosts "$TMP/fleet" status r > "$TMP/c11"
check "domain names of the hosts of --hosts" grep -qx redis01 "$TMP/c11"

# files and option values
complete_words "$VDP_BIN" plan --file "$VDP_SRCDIR/examples/domains/we" > "$TMP/c12"
check "--file completes files" grep -q "examples/domains/web1.xml$" "$TMP/c12"
complete_words "$VDP_BIN" check --file "$VDP_SRCDIR/examples/domains/web1.xml" "$VDP_SRCDIR/examples/domains/db" > "$TMP/c13"
check "more files after --file" grep -q "examples/domains/db1.xml$" "$TMP/c13"
complete_words "$VDP_BIN" apply --profile l > "$TMP/c14"
check "--profile: the profiles" grep -qx latency "$TMP/c14"
complete_words "$VDP_BIN" --color a > "$TMP/c15"
check "--color: its values" test "$(tr '\n' ' ' < "$TMP/c15")" = "auto always "
complete_words "$VDP_BIN" list --color = n > "$TMP/c16"
check "--color=: its values" grep -qx never "$TMP/c16"
complete_words "$VDP_BIN" -c "$DEMO" --state "" > "$TMP/c17"
check "--state: its values" test "$(tr '\n' ' ' < "$TMP/c17")" = "running shutoff "
complete_words "$VDP_BIN" plan --target n > "$TMP/c18"
check "--target: newest" grep -qx newest "$TMP/c18"
complete_words "$VDP_BIN" -c "$DEMO" list --na > "$TMP/c19"
check "list's options" grep -qx -- --name "$TMP/c19"
complete_words "$VDP_BIN" -c "$DEMO" apply --backend "" > "$TMP/c20"
check "--backend: its values, not domains" test "$(tr '\n' ' ' < "$TMP/c20")" = "qemu vhost-user "
complete_words "$VDP_BIN" hook --exec-backend "$VDP_SRCDIR/examples/topologies/192em64t" > "$TMP/c21"
check "--exec-backend completes file names" grep -q "192em64t-24n8c2t.xml" "$TMP/c21"

# every option of every command's --help: offered (--list-options), and
# when it takes a value, known to the completion as taking one (else its
# value would be read as the command or a domain)
argopts=$(sed -n 's/^ *local argopts="\(.*\)"$/\1/p' "$VDP_SRCDIR/data/virt-dataplane.bash-completion")
for cmd in $("$VDP_BIN" --list-commands); do
  "$VDP_BIN" "$cmd" --list-options > "$TMP/lo"
  "$VDP_BIN" "$cmd" --help | sed -n 's/^ *\(-[a-zA-Z], \)\{0,1\}\(--[a-z-]*\)\( [^ ].*\)\{0,1\}$/\2\3/p' > "$TMP/help"
  missing='' novalue=''
  while read -r opt rest; do
    grep -qx -- "$opt" "$TMP/lo" || missing="$missing $opt"
    case $rest in
      '<'*|[a-z]*'|'*|[a-z]*=*) case " $argopts " in *" $opt "*) ;; *) novalue="$novalue $opt" ;; esac ;;
    esac
  done < "$TMP/help"
  check "$cmd: every --help option is offered${missing:+ (missing:$missing)}" test -z "$missing"
  check "$cmd: options with a value take one in the completion${novalue:+ (not:$novalue)}" test -z "$novalue"
done
done_testing
