/*-------------------------------------------------------------------------
 *
 * wix_compat.h
 *		  The wait events a backend shows in pg_stat_activity while it waits
 *		  for Wix, across PostgreSQL versions.
 *
 * PostgreSQL 17 added named custom wait events (WaitEventExtensionNew):
 * there a wait shows as type "Extension" with the event "WixRequest" or
 * "WixRateLimit".  Before 17 every extension wait is the one event
 * "Extension" of type "Extension".
 *
 *-------------------------------------------------------------------------
 */
#ifndef WIX_COMPAT_H
#define WIX_COMPAT_H

#include "postgres.h"

#include "utils/wait_event.h"

/* What a backend waits for. */
typedef enum WixWaitEvent
{
	WIX_WAIT_REQUEST,			/* an answer from Wix, a retry's backoff, or
								 * another backend's token request */
	WIX_WAIT_RATE_LIMIT			/* the rate limiter (requests_per_minute) */
} WixWaitEvent;

/* The wait_event_info to report for a WixWaitEvent. */
static inline uint32
wix_wait_event_info(WixWaitEvent event)
{
#if PG_VERSION_NUM >= 170000
	static const char *const names[] = {"WixRequest", "WixRateLimit"};
	static uint32 infos[lengthof(names)];

	if (infos[event] == 0)
		infos[event] = WaitEventExtensionNew(names[event]);
	return infos[event];
#else
	return PG_WAIT_EXTENSION;
#endif
}

#endif							/* WIX_COMPAT_H */
