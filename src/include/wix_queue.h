/*-------------------------------------------------------------------------
 *
 * wix_queue.h
 *		  Deferred work (queue/): a queue of named actions with JSON
 *		  arguments, delivered after their transaction commits (queue.c) by
 *		  background workers or CALL wix_admin.process_queue() (worker.c).
 *
 * The queue knows nothing of what an action does: it stores {action, args}
 * and hands each due row to the one deliverer registered with it
 * (wix_queue_set_deliverer), as the role that queued it.
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

/* One delivery attempt: what the queue knows, what the deliverer reports. */
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

/* Carries out one queued action; returns its result as jsonb. */
typedef Datum (*WixDeliverFn) (const char *action, const char *args,
							   const char *server, Oid via_table,
							   WixDelivery *delivery);

/* queue.c */
extern void wix_queue_define_gucs(void);
extern void wix_queue_init(void);
extern void wix_queue_set_deliverer(WixDeliverFn deliver);
extern Datum wix_queue_enqueue(const char *action, const char *args,
							   const char *server_name, const char *target,
							   Oid via_table);
extern int	wix_queue_process(int max, bool in_procedure,
							  TimestampTz *next_due);

/* Acting on a table of schema wix_admin as its owner (queue.c). */
typedef struct WixSavedUser
{
	Oid			userid;
	int			sec_context;
} WixSavedUser;

extern Oid	wix_admin_table(const char *relname, Oid *owner);
extern void wix_become_table_owner(const char *relname, int sec_flags,
								   WixSavedUser *saved);
extern void wix_restore_user(WixSavedUser *saved);

/* mirror.c */
extern int	wix_mirror_overlap_s;
extern bool wix_refresh_mirrors_in_worker;
extern void wix_mirror_define_gucs(void);

/* worker.c */
extern void wix_worker_init(void);
extern void wix_worker_wake(Oid dboid);
extern void wix_worker_wake_mirrors(Oid dboid);

#endif							/* WIX_QUEUE_H */
