/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* SIGINT for fleet commands: a flag that stops new transactions, never a transaction halfway. */
#pragma once

#include <glib.h>

/* Catches SIGINT from now on: the first sets the flag vdp_interrupted()
 * reads and says on stderr (as @prog) that running transactions are being
 * finished; the process goes on until the command ends.  Idempotent. */
void vdp_interrupt_catch (const char *prog);

/* Whether SIGINT arrived since vdp_interrupt_catch(). */
gboolean vdp_interrupted (void);

/* For tests: sets the flag as SIGINT would (without the message). */
void vdp_interrupt_raise (void);
