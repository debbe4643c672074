/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Memory the front-end shares and may take back (a memfd it shrinks): a SIGBUS
 * there jumps back to the thread's guard instead of killing the process. */
#pragma once

#include <setjmp.h>
#include <stddef.h>

/* Installs the SIGBUS handler; call once, before any thread touches
 * front-end memory.  Returns 0, or -1 with errno set.  Faults outside
 * watched memory, or in a thread without a guard, still end the process
 * (through the handler that was installed before). */
int blk_fault_init (void);

/* Watches [@addr, @addr + @len) (a mapping of a front-end's file); returns
 * 0, or -1 when the table is full.  blk_fault_unwatch before unmapping. */
int blk_fault_watch (const void *addr, size_t len);
void blk_fault_unwatch (const void *addr);

/* From now on a SIGBUS of the calling thread in watched memory returns
 * from sigsetjmp (@env, 0) with 1; blk_fault_disarm ends that.  The jump
 * leaves whatever the thread was doing half done: the caller undoes it. */
void blk_fault_arm (sigjmp_buf *env);
void blk_fault_disarm (void);

/* The address of the calling thread's last fault in watched memory. */
void *blk_fault_addr (void);
