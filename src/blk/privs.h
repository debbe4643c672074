/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Dropping root: the backend serves as the user and group QEMU runs as. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Resolves --user and --group (names or numbers; without --group, the
 * user's primary group) into @uid and @gid.  Returns 0, or -1 with a
 * one-line message in @err. */
int blk_privs_resolve (const char *user, const char *group, uid_t *uid, gid_t *gid, char *err,
                       size_t errlen);

/* Becomes @uid/@gid with no supplementary groups and no way back (every
 * thread of the process; no new privileges through exec).  @socket_path,
 * when not NULL, is given to them first so that they may still remove it.
 * Returns 0, or -1 with a one-line message in @err. */
int blk_privs_drop (uid_t uid, gid_t gid, const char *socket_path, char *err, size_t errlen);
