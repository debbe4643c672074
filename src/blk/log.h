/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The backend's log: one line per event on stderr, filtered by level. */
#pragma once

enum blk_log_level { BLK_LOG_ERROR, BLK_LOG_WARNING, BLK_LOG_INFO, BLK_LOG_DEBUG, BLK_LOG_LAST };

extern int blk_log_level;
extern const char *const blk_log_names[BLK_LOG_LAST];

void blk_log (int level, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));
