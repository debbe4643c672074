/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The threads of a QEMU process from /proc: names, CPUs, CPU time, affinity. */
#pragma once

#include <glib.h>

typedef enum {
  VDP_THREAD_VCPU,          /* "CPU n/KVM", "CPU n/TCG" */
  VDP_THREAD_IOTHREAD,      /* "IO iothreadN" */
  VDP_THREAD_EMULATOR,      /* the main thread */
  VDP_THREAD_OTHER,         /* workers, RCU, VNC, ... (pinned with the emulator) */
  VDP_THREAD_LAST
} VdpThreadKind;

struct vdp_thread {
  int tid;
  char *name;
  VdpThreadKind kind;
  int index;                /* vCPU number or IOThread id; -1 otherwise */
  int cpu;                  /* the CPU it last ran on */
  guint64 ticks;            /* user + system time, clock ticks */
  char *allowed;            /* Cpus_allowed_list: its effective pin */
  double cpu_percent;       /* over the sampling interval */
};

/* Classifies a thread name the way QEMU names its threads. */
VdpThreadKind vdp_thread_classify (const char *name, int pid, int tid, int *index);

/* Reads every thread of process @pid; returns a GArray of struct
 * vdp_thread (free with vdp_threads_free), or NULL with @error set. */
GArray *vdp_threads_read (int pid, GError **error);

/* Fills in the CPU% of each thread of @after from its CPU time in
 * @before, @seconds earlier. */
void vdp_threads_rate (const GArray *before, GArray *after, double seconds);

void vdp_threads_free (GArray *threads);
