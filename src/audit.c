/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The audit trail: every domain applied or reverted, logged to syslog (and so the journal). */
#include <config.h>

#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"

#define IDENT "virt-dataplane"

/* Sends @line to the datagram socket at @path as syslog(3) would send it
 * to /dev/log: "<PRI>Mmm dd hh:mm:ss IDENT[PID]: LINE". */
static void
send_datagram (const char *path, int priority, const char *line)
{
  static GMutex lock;
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  char stamp[32];
  time_t now = time (NULL);
  struct tm tm;
  g_autofree char *msg = NULL;
  int fd;

  if (strlen (path) >= sizeof (addr.sun_path))
    return;
  strcpy (addr.sun_path, path);
  localtime_r (&now, &tm);
  strftime (stamp, sizeof (stamp), "%b %e %H:%M:%S", &tm);
  msg = g_strdup_printf ("<%d>%s %s[%d]: %s", LOG_USER | priority, stamp, IDENT, (int) getpid (),
                         line);
  g_mutex_lock (&lock);
  fd = socket (AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd >= 0) {
    /* best effort, as syslog(3): the change is made whether or not it is logged */
    if (sendto (fd, msg, strlen (msg), 0, (struct sockaddr *) &addr, sizeof (addr)) < 0) {
      /* nothing to do */
    }
    close (fd);
  }
  g_mutex_unlock (&lock);
}

void
vdp_audit (const char *event, const char *uri, const char *domain, const char *plan,
           const char *changed, const char *scope, const char *detail)
{
  static gsize opened;
  int priority = strcmp (event, "failed") == 0 ? LOG_WARNING : LOG_NOTICE;
  g_autofree char *quoted = g_shell_quote (domain ? domain : "");
  g_autoptr (GString) line = g_string_new (NULL);
  const char *sock = g_getenv ("VDP_AUDIT_SOCKET");

  g_string_append_printf (line, "%s host=%s domain=%s", event, uri ? uri : "", quoted);
  if (plan)
    g_string_append_printf (line, " plan=%s", plan);
  if (changed)
    g_string_append_printf (line, " changed=%s", *changed ? changed : "-");
  if (scope)
    g_string_append_printf (line, " scope=%s", scope);
  if (detail)
    g_string_append_printf (line, ": %s", detail);
  if (sock && *sock) {
    send_datagram (sock, priority, line->str);
    return;
  }
  if (g_once_init_enter (&opened)) {
    openlog (IDENT, LOG_PID, LOG_USER);
    g_once_init_leave (&opened, 1);
  }
  syslog (priority, "%s", line->str);
}
