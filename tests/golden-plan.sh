#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Golden plan tests: each tests/data/plan/<case>/ holds "args" (plan options,
# one per line; @TOPOLOGIES@ and @EXAMPLES@ are expanded, other paths are
# relative to the case) and the expected outputs: expected.xml (or
# expected/<file> with several domains), expected.txt (the explanation),
# expected.err (warnings) and expected.rc when not 0 (2 with an explanation:
# some domains do not fit, the others are planned).  Every generated XML
# must validate against the newest libvirt schema, and for libvirt 9.0
# targets against Debian's.  Planning the generated XML again must give it
# back unchanged.  VDP_REGENERATE=1 rewrites the expected files.
# A case without --target is planned for the newest stack (--target newest),
# not this machine's; the explanation's first line, which says the stack and
# why, is checked apart and left out of expected.txt.
. "$VDP_SRCDIR/tests/lib.sh"
DATA="$VDP_SRCDIR/tests/data/plan"
RNG="$VDP_SRCDIR/tests/data/libvirt-schemas/domain.rng"
RNG90=/usr/share/libvirt/schemas/domain.rng
command -v xmllint >/dev/null || { echo "1..0 # SKIP xmllint not installed (package libxml2-utils)"; exit 0; }

# args_of CASE: the case's arguments, one per line, expanded.
args_of () {
  sed -e "s|@TOPOLOGIES@|$VDP_SRCDIR/examples/topologies|g" -e "s|@EXAMPLES@|$VDP_SRCDIR/examples/domains|g" "$1/args"
  grep -qx -- '--target' "$1/args" || printf -- '--target\nnewest\n'
}

# plan CASE EXTRA...: runs plan in the case directory with its args.
plan_case () {
  dir=$1; shift
  args_of "$dir" > "$TMP/args"
  run_args "$dir" "$TMP/args" "$@"
}

# run_args DIR ARGFILE EXTRA...: plan with the lines of ARGFILE as arguments,
# output paths under the saved topologies shown as @TOPOLOGIES@.
run_args () {
  ( cd "$1" && f=$2 && shift 2 && while IFS= read -r a; do set -- "$@" "$a"; done < "$f" \
      && exec "$VDP_BIN" plan "$@" ) 2> "$TMP/raw-err"
  rc_=$?
  sed "s|$VDP_SRCDIR/examples/topologies|@TOPOLOGIES@|g" "$TMP/raw-err" >&2
  return $rc_
}


count=0
for dir in "$DATA"/*/; do
  dir=${dir%/}
  name=$(basename "$dir")
  count=$((count + 1))
  rc_want=0
  [ -f "$dir/expected.rc" ] && rc_want=$(cat "$dir/expected.rc")

  rc=0
  plan_case "$dir" > "$TMP/txt0" 2> "$TMP/err" || rc=$?
  if [ -s "$TMP/txt0" ]; then
    check "$name: the explanation starts with the stack" sh -c "head -1 '$TMP/txt0' | grep -q '^Stack: libvirt [0-9.]*, QEMU [0-9.]* (--target '"
    sed '1,2d' "$TMP/txt0" > "$TMP/txt"
  else
    cp "$TMP/txt0" "$TMP/txt"
  fi
  if [ "${VDP_REGENERATE:-}" = 1 ]; then
    cp "$TMP/txt" "$dir/expected.txt"
    cp "$TMP/err" "$dir/expected.err"
    if [ "$rc" -ne 0 ]; then echo "$rc" > "$dir/expected.rc"; else rm -f "$dir/expected.rc"; fi
    rc_want=$rc
  fi
  check "$name: exit status $rc_want" test "$rc" = "$rc_want"
  check "$name: explanation as expected" cmp -s "$TMP/txt" "$dir/expected.txt"
  check "$name: warnings as expected" cmp -s "$TMP/err" "$dir/expected.err"
  if [ "$rc_want" != 0 ] && [ ! -s "$dir/expected.txt" ]; then
    check "$name: error is one line" test "$(wc -l < "$TMP/err")" = 1
    check "$name: nothing on stdout" test ! -s "$TMP/txt"
    continue
  fi
  if [ "$rc_want" != 0 ]; then
    # misfits: each named on stderr, each explained, the others planned
    check "$name: every misfit named on stderr" test "$(grep -c 'does not fit' "$TMP/err")" -ge 1
    check "$name: misfits explained" test "$(grep -c 'NOT PLANNED' "$TMP/txt")" = "$(grep -c 'does not fit' "$TMP/err")"
  fi

  # the tuned XML: one file on stdout, several in a directory
  nfiles=$(awk 'prev == "--file" { n++ } { prev = $0 } END { print n + 0 }' "$TMP/args")
  [ "$nfiles" = 1 ] && [ "$rc_want" != 0 ] && continue    # the one domain does not fit
  rm -rf "$TMP/xml"; mkdir -p "$TMP/xml"
  if [ "$nfiles" -gt 1 ]; then
    rc=0; plan_case "$dir" -q --xml --output-dir "$TMP/xml" 2>/dev/null || rc=$?
    [ "$rc" = "$rc_want" ] || not_ok "$name: --xml --output-dir failed"
    if [ "${VDP_REGENERATE:-}" = 1 ]; then rm -rf "$dir/expected"; cp -r "$TMP/xml" "$dir/expected"; fi
    check "$name: tuned XML as expected" diff -r "$TMP/xml" "$dir/expected"
  else
    rc=0; plan_case "$dir" -q --xml > "$TMP/xml/out.xml" 2>/dev/null || rc=$?
    [ "$rc" = "$rc_want" ] || not_ok "$name: --xml failed"
    [ "${VDP_REGENERATE:-}" = 1 ] && cp "$TMP/xml/out.xml" "$dir/expected.xml"
    check "$name: tuned XML as expected" cmp -s "$TMP/xml/out.xml" "$dir/expected.xml"
  fi
  for x in "$TMP"/xml/*; do
    check "$name: $(basename "$x") valid (newest schema)" xmllint --noout --relaxng "$RNG" "$x" 2>/dev/null
    if grep -qx -- '--target' "$TMP/args" && grep -q '^libvirt=9\.' "$TMP/args"; then
      if [ -f "$RNG90" ]; then
        check "$name: $(basename "$x") valid (libvirt 9.0 schema)" xmllint --noout --relaxng "$RNG90" "$x" 2>/dev/null
      else
        skip_test "$name: libvirt 9.0 schema missing (package libvirt0)"
      fi
    fi
  done

  # a second run over the tuned XML changes nothing
  mkdir -p "$TMP/again"; rm -rf "$TMP/again"/*
  sed -e '/^--file$/,+1d' "$TMP/args" > "$TMP/args2"
  for x in "$TMP"/xml/*; do printf -- '--file\n%s\n' "$x" >> "$TMP/args2"; done
  rc=0; run_args "$dir" "$TMP/args2" -q --xml --output-dir "$TMP/again" 2>/dev/null || rc=$?
  [ "$rc" = 0 ] || not_ok "$name: second run failed ($rc)"
  check "$name: second run changes nothing" diff -r "$TMP/xml" "$TMP/again"
done
check "at least 25 golden cases" test "$count" -ge 25
done_testing
