#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# A libvirt host that stops answering, for the tests of --timeout.
#
#   silent-host.py silent SOCKET
#       listens on the UNIX socket SOCKET, accepts every connection and
#       never says anything (a host that never answers the handshake);
#   silent-host.py stall SOCKET TARGET PROC
#       relays each connection to the libvirt socket TARGET until the client
#       calls remote procedure PROC (273: virConnectListAllDomains), then
#       relays nothing more, either way, keepalive included, and keeps the
#       connection open (a host that stops answering once connected).
# Writes "ready" on stdout once it listens; runs until killed.
import socket
import struct
import sys
import threading

REMOTE_PROGRAM = 0x20008086


def relay(src, dst, state, watch_proc):
    buf = b''
    while True:
        data = src.recv(65536)
        if not data or state['stalled']:
            if not data:
                return
            continue
        if watch_proc is not None:
            buf += data
            while len(buf) >= 16:
                length = struct.unpack('>I', buf[:4])[0]
                if len(buf) < length:
                    break
                prog, _, proc = struct.unpack('>III', buf[4:16])
                if prog == REMOTE_PROGRAM and proc == watch_proc:
                    state['stalled'] = True
                buf = buf[length:]
            if state['stalled']:
                continue
        dst.sendall(data)


def main():
    mode, path = sys.argv[1], sys.argv[2]
    server = socket.socket(socket.AF_UNIX)
    server.bind(path)
    server.listen(16)
    print('ready', flush=True)
    held = []
    while True:
        conn, _ = server.accept()
        held.append(conn)
        if mode == 'silent':
            continue
        upstream = socket.socket(socket.AF_UNIX)
        upstream.connect(sys.argv[3])
        held.append(upstream)
        state = {'stalled': False}
        threading.Thread(target=relay, args=(conn, upstream, state, int(sys.argv[4])),
                         daemon=True).start()
        threading.Thread(target=relay, args=(upstream, conn, state, None), daemon=True).start()


main()
