#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# Writes seed inputs for fuzz/fuzz-blk's message mode into DIR: device
# starts as QEMU 7.2 makes them (memory by SET_MEM_TABLE or ADD_MEM_REG,
# an inflight region, a dirty log, rings with eventfd kicks), some with
# their memfds shrunk after they were mapped.  See fuzz/README.md.
# Usage: fuzz/make-seeds.py DIR
import os
import struct
import sys

MEM = 64 << 10
UVA = 0x7e0000000000
# descriptor kinds and memfd sizes, as fuzz-blk.c reads the control byte
NONE, MEMFD, TWO, PIPE, EVENTFD, FULL_EVENTFD, SOCKET, DEVNULL = range(8)
SIZE_4K, SIZE_MEM, SIZE_1M, SIZE_16K, SIZE_MEM_LESS, SIZE_2MEM = 1, 2, 3, 4, 5, 6
SHRINK = 0x40


def rec(request, payload=b"", kind=NONE, size=0, flags=1, ctl_extra=0):
    ctl = kind | (size << 3) | ctl_extra
    return bytes([ctl]) + struct.pack("<III", request, flags, len(payload)) + payload


def u64(v):
    return struct.pack("<Q", v)


def region(gpa, size, uva, offset):
    return struct.pack("<QQQQ", gpa, size, uva, offset)


def vring(index, num):
    return struct.pack("<II", index, num)


def start(slots, inflight=False, log=False, shrink_after=None, ring_size=16, kick=EVENTFD,
          mem_size=SIZE_MEM):
    out = [rec(2, u64((1 << 32) | (1 << 30) | (1 << 28) | (1 << 29)))]       # SET_FEATURES
    if inflight:
        stride = (16 + 16 * ring_size + 63) // 64 * 64
        out.append(rec(32, struct.pack("<QQHHI", stride, 0, 1, ring_size, 0), MEMFD, SIZE_MEM))
    if slots:
        out.append(rec(37, u64(0) + region(0, MEM, UVA, 0), MEMFD, mem_size, flags=9))
    else:
        out.append(rec(5, struct.pack("<II", 1, 0) + region(0, MEM, UVA, 0), MEMFD, mem_size))
    if log:
        out.append(rec(6, struct.pack("<QQ", 8, 0), MEMFD, SIZE_4K))
    out.append(rec(8, vring(0, ring_size)))                                    # SET_VRING_NUM
    out.append(rec(10, vring(0, 0)))                                           # SET_VRING_BASE
    # rings in the upper half of guest memory: a shrink to half takes them
    out.append(rec(9, struct.pack("<IIQQQQ", 0, 1 if log else 0, UVA + 0x4000, UVA + 0x9000,
                                  UVA + 0x8000, 0x9000)))                      # SET_VRING_ADDR
    out.append(rec(13, u64(0), EVENTFD))                                       # SET_VRING_CALL
    out.append(rec(12, u64(0), kick, ctl_extra=SHRINK if shrink_after == "kick" else 0))
    out.append(rec(18, vring(0, 1), ctl_extra=SHRINK if shrink_after == "enable" else 0))
    return b"\0" + b"".join(out)


def main():
    d = sys.argv[1]
    os.makedirs(d, exist_ok=True)
    seeds = {
        "mem-table": start(False),
        "mem-slots": start(True),
        "inflight": start(True, inflight=True),
        "log": start(False, log=True),
        "shrink-at-kick": start(True, shrink_after="kick"),
        "shrink-at-enable": start(False, inflight=True, shrink_after="enable"),
        "short-file": start(True, mem_size=SIZE_MEM_LESS),
        "ring-1024": start(True, inflight=True, ring_size=1024),
        "kick-pipe": start(True, kick=PIPE),
        "kick-full-eventfd": start(False, kick=FULL_EVENTFD),
    }
    for name, data in seeds.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)


main()
