/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The audit trail: every domain applied or reverted, logged to syslog (and so the journal). */
#pragma once

#include <glib.h>

/* Logs one change to a domain through syslog(3), ident "virt-dataplane",
 * facility LOG_USER, priority LOG_NOTICE (LOG_WARNING for @event
 * "failed"), as one line:
 *   EVENT host=URI domain='NAME' plan=HASH changed=KEYS scope=SCOPE[: DETAIL]
 * @event is "applied", "reverted" or "failed"; @plan, @changed (the
 * metadata keys of the elements changed, comma-separated), @scope
 * ("config", "live", "config,live") and @detail may be NULL.  When the
 * environment names a socket in VDP_AUDIT_SOCKET, the line goes there
 * instead, as a syslog datagram in the format syslog(3) sends (for tests:
 * no syslog daemon needed). */
void vdp_audit (const char *event, const char *uri, const char *domain, const char *plan,
                const char *changed, const char *scope, const char *detail);
