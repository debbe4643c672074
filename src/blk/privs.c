/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Dropping root: the backend serves as the user and group QEMU runs as. */
#include <config.h>

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "privs.h"

static bool
number (const char *s, unsigned long *out)
{
  char *end;

  if (*s < '0' || *s > '9')
    return false;
  errno = 0;
  *out = strtoul (s, &end, 10);
  return errno == 0 && *end == '\0' && *out < 0xffffffffUL;
}

int
blk_privs_resolve (const char *user, const char *group, uid_t *uid, gid_t *gid, char *err,
                   size_t errlen)
{
  struct passwd *pw = NULL;
  unsigned long n;

  if (number (user, &n)) {
    *uid = (uid_t) n;
    if (group == NULL)
      pw = getpwuid (*uid);
  } else {
    pw = getpwnam (user);
    if (pw == NULL) {
      snprintf (err, errlen, "--user '%s': no such user", user);
      return -1;
    }
    *uid = pw->pw_uid;
  }
  if (group == NULL) {
    if (pw == NULL) {
      snprintf (err, errlen, "--user '%s' has no entry to take a group from: give --group", user);
      return -1;
    }
    *gid = pw->pw_gid;
  } else if (number (group, &n)) {
    *gid = (gid_t) n;
  } else {
    struct group *gr = getgrnam (group);
    if (gr == NULL) {
      snprintf (err, errlen, "--group '%s': no such group", group);
      return -1;
    }
    *gid = gr->gr_gid;
  }
  return 0;
}

int
blk_privs_drop (uid_t uid, gid_t gid, const char *socket_path, char *err, size_t errlen)
{
  uid_t r, e, s;

  if (socket_path && chown (socket_path, uid, gid) < 0) {
    snprintf (err, errlen, "cannot give '%s' to %u:%u: %s", socket_path, (unsigned) uid,
              (unsigned) gid, strerror (errno));
    return -1;
  }
  /* glibc applies each of these to every thread of the process */
  if (setgroups (0, NULL) < 0 && errno != EPERM) {
    snprintf (err, errlen, "cannot drop supplementary groups: %s", strerror (errno));
    return -1;
  }
  if (setresgid (gid, gid, gid) < 0 || setresuid (uid, uid, uid) < 0) {
    snprintf (err, errlen, "cannot become %u:%u: %s", (unsigned) uid, (unsigned) gid,
              strerror (errno));
    return -1;
  }
  if (getresuid (&r, &e, &s) < 0 || r != uid || e != uid || s != uid
      || (uid != 0 && setuid (0) == 0)) {
    snprintf (err, errlen, "still able to regain privileges after becoming %u:%u",
              (unsigned) uid, (unsigned) gid);
    return -1;
  }
  prctl (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
  return 0;
}
