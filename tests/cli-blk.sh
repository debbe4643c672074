#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# virt-dataplane-blk as a program: QEMU's backend conventions, option
# errors, a listening socket, and a clean exit on SIGTERM.
. "$VDP_SRCDIR/tests/lib.sh"
command -v jq >/dev/null || { echo "1..0 # SKIP jq not installed"; exit 0; }
BLK="$VDP_BUILDDIR/src/blk/virt-dataplane-blk"

blk () { RC=0; "$BLK" "$@" >"$TMP/out" 2>"$TMP/err" || RC=$?; }

blk --print-capabilities
check "capabilities: type block" test "$(jq -r .type "$TMP/out")" = block
check "capabilities: read-only and blk-file" test "$(jq -c .features "$TMP/out")" = '["read-only","blk-file"]'

# The QEMU descriptor installed under $(datadir)/qemu/vhost-user/
DESC="$VDP_BUILDDIR/data/50-virt-dataplane-blk.json"
check "descriptor: type block" test "$(jq -r .type "$DESC")" = block
check "descriptor: names the installed program" sh -c "jq -r .binary '$DESC' | grep -q '/libexec/virt-dataplane-blk\$'"

truncate -s 8M "$TMP/disk.raw"
for args in "--socket-path $TMP/s" "--blk-file $TMP/disk.raw" \
    "--blk-file $TMP/disk.raw --socket-path $TMP/s --fd 3" \
    "--blk-file $TMP/disk.raw --socket-path $TMP/s --num-queues 0" \
    "--blk-file $TMP/disk.raw --socket-path $TMP/s --threads 3 --num-queues 2" \
    "--blk-file $TMP/disk.raw --socket-path $TMP/s --threads 2 --cpus 1" \
    "--blk-file $TMP/disk.raw --socket-path $TMP/s --threads 2 --queue-map 0,1:9 --num-queues 4" \
    "--blk-file $TMP/disk.raw --socket-path $TMP/s --serial 123456789012345678901" \
    "--blk-file $TMP/disk.raw --socket-path $TMP/s --log-level loud" \
    "--blk-file $TMP/disk.raw --socket-path $TMP/s --threads 2 --num-queues 4 --queue-map 0,1:1,2,3" \
    "--blk-file $TMP/disk.raw --socket-path $TMP/s --threads 2 --num-queues 4 --queue-map 0:1,2" \
    "--blk-file $TMP/disk.raw --socket-path $TMP/s --cpus 0-x" \
    "--blk-file $TMP/disk.raw --socket-path $TMP/s --client-timeout 0" \
    "--blk-file $TMP/disk.raw --socket-path $TMP/s --client-timeout 3601" \
    "--blk-file null:1000 --socket-path $TMP/s" \
    "--blk-file $TMP/missing.raw --socket-path $TMP/s" \
    "--blk-file $TMP --socket-path $TMP/s" \
    "--nonsense"; do
  # shellcheck disable=SC2086
  blk $args
  check "bad '$args': exit 1, one line" sh -c "test $RC = 1 && test \$(wc -l < '$TMP/err') = 1 && test ! -s '$TMP/out'"
done

# --fd: a listening socket handed over (QEMU's convention), here as fd 0
blk --blk-file "$TMP/disk.raw" --fd 0 </dev/null
check "--fd that is no listening socket: exit 1, one line" \
  sh -c "test $RC = 1 && test \$(wc -l < '$TMP/err') = 1 && grep -q 'not a listening socket' '$TMP/err'"
perl -MIO::Socket::UNIX -MFcntl -e '
  my $s = IO::Socket::UNIX->new (Type => SOCK_STREAM (), Local => shift, Listen => 1) or die "$!";
  fcntl ($s, F_SETFD, 0); open (STDIN, "<&", $s) or die "$!"; exec @ARGV' \
  "$TMP/fd.sock" "$BLK" --blk-file "$TMP/disk.raw" --fd 0 --log-level info 2>"$TMP/fd.err" &
PID=$!
i=0; while ! grep -q serving "$TMP/fd.err" && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
"$VDP_BUILDDIR/tests/vdp-blk-client" --socket "$TMP/fd.sock" functional >"$TMP/fd.out" 2>&1 || true
kill -TERM $PID; wait $PID || true
check "--fd: serves a front-end on the socket it was given" grep -q "^flush *status=0" "$TMP/fd.out"

# Serve: the socket appears; SIGTERM ends it cleanly and removes it.
"$BLK" --blk-file "$TMP/disk.raw" --socket-path "$TMP/vhost.sock" --num-queues 4 \
  --threads 2 --cpus 0:0 --queue-map 0,2:1,3 --log-level info 2>"$TMP/serve.err" &
PID=$!
i=0; while [ ! -S "$TMP/vhost.sock" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
check "listening socket created" test -S "$TMP/vhost.sock"
kill -TERM $PID
RC=0; wait $PID || RC=$?
check "SIGTERM: exit 0" test "$RC" = 0
check "SIGTERM: socket removed" test ! -e "$TMP/vhost.sock"
check "logged what it served" grep -q "serving '$TMP/disk.raw' (8388608 bytes" "$TMP/serve.err"
check "polls by default as QEMU's IOThreads do" grep -q "with 2 threads, polling up to 32768 ns" "$TMP/serve.err"
done_testing
