/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A stand-in for a QEMU process in tests: threads named as QEMU names them
 * ("CPU n/KVM", "IO iothreadN", workers); writes its pid, then waits to be
 * killed (and exits by itself after a minute). */
#include <config.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static void *
idle (void *name)
{
  pthread_setname_np (pthread_self (), name);
  sleep (60);
  return NULL;
}

int
main (int argc, char **argv)
{
  static const char *const names[] = { "CPU 0/KVM", "CPU 1/KVM", "IO iothread1", "worker" };
  pthread_t t[4];
  FILE *f;

  /* the arguments after PIDFILE are QEMU's, for its command line
   * (-name guest=NAME, -uuid UUID): ignored */
  if (argc < 2) {
    fprintf (stderr, "usage: fake-qemu PIDFILE [QEMU-ARGUMENTS...]\n");
    return 1;
  }
  for (int i = 0; i < 4; i++)
    pthread_create (&t[i], NULL, idle, (void *) names[i]);
  usleep (100000);   /* let the threads name themselves */
  f = fopen (argv[1], "w");
  if (f == NULL)
    return 1;
  fprintf (f, "%d\n", (int) getpid ());
  fclose (f);
  sleep (60);
  return 0;
}
