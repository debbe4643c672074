/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* SIGINT for fleet commands: a flag that stops new transactions, never a transaction halfway. */
#include <config.h>

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "util/interrupt.h"

static volatile sig_atomic_t interrupted;
static char message[256];
static size_t message_len;

static void
on_sigint (int sig)
{
  int saved = errno;

  if (!interrupted && message_len) {
    ssize_t n = write (STDERR_FILENO, message, message_len);
    (void) n;
  }
  interrupted = 1;
  errno = saved;
}

void
vdp_interrupt_catch (const char *prog)
{
  struct sigaction sa;

  /* written from the handler as is: formatted here */
  g_snprintf (message, sizeof (message), "\n%s: interrupted: finishing the transactions "
              "already started, starting no more\n", prog);
  message_len = strlen (message);
  memset (&sa, 0, sizeof (sa));
  sa.sa_handler = on_sigint;
  sigemptyset (&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction (SIGINT, &sa, NULL);
}

gboolean
vdp_interrupted (void)
{
  return interrupted != 0;
}

void
vdp_interrupt_raise (void)
{
  interrupted = 1;
}
