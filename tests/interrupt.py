#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# Interrupts a command in the middle of its output, whatever its speed:
#
#   interrupt.py OUTFILE COMMAND [ARG]...
#
# runs COMMAND with its standard output into a pipe of one page (4 KiB):
# once the pipe is full the command blocks writing its next line, so it is
# stopped in the middle of a run of more than a page of lines.  When the
# first line has come, SIGINT is sent; then everything it writes is copied
# to OUTFILE, and this exits with the command's exit status.
import fcntl
import os
import signal
import subprocess
import sys

F_SETPIPE_SZ = 1031

out_path, argv = sys.argv[1], sys.argv[2:]
r, w = os.pipe()
fcntl.fcntl(w, F_SETPIPE_SZ, 4096)
proc = subprocess.Popen(argv, stdout=w)
os.close(w)
reader = os.fdopen(r, 'rb')
with open(out_path, 'wb') as out:
    first = reader.readline()
    out.write(first)
    # the command now blocks on a full pipe, or goes on until it does
    proc.send_signal(signal.SIGINT)
    out.write(reader.read())
sys.exit(proc.wait())
