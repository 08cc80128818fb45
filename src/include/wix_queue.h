/*-------------------------------------------------------------------------
 *
 * wix_queue.h
 *		  Deferred admin actions (queue/): the queue of actions to deliver
 *		  after their transaction commits (queue.c), and the launcher and
 *		  per-database background workers that deliver them (worker.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef WIX_QUEUE_H
#define WIX_QUEUE_H

#include "wix_json.h"

#include "fmgr.h"

extern int	wix_queue_max_attempts;
extern int	wix_queue_retry_delay_ms;
extern int	wix_queue_retry_max_delay_ms;
extern bool wix_deliver_in_worker;
extern int	wix_max_workers;
extern int	wix_worker_naptime_s;

/* One delivery attempt, as admin.c reports it back to queue.c. */
typedef struct WixDelivery
{
	bool		recheck;		/* an earlier attempt's outcome is unknown */
	const char *memo_in;		/* what the action noted before that attempt */
	char	   *memo_out;		/* noted before this attempt's change */
	bool		change_sent;	/* the changing request was (maybe) sent */
	long		status;			/* HTTP status of the last answer, 0: none */
	char	   *request_id;		/* its X-Wix-Request-Id, or NULL */
	MemoryContext cxt;			/* where the strings above live */
} WixDelivery;

extern WixDelivery *wix_delivery;	/* set while queue.c delivers */
/* queue.c */
extern Datum wix_queue_enqueue(const char *action, FunctionCallInfo fcinfo,
							   const char *server_name, const char *target);
extern int	wix_queue_process(int max, bool in_procedure,
							  TimestampTz *next_due);
extern void wix_queue_init(void);

/* worker.c */
extern void wix_worker_init(void);
extern void wix_worker_wake(Oid dboid);

extern void wix_queue_define_gucs(void);

#endif							/* WIX_QUEUE_H */
