/*-------------------------------------------------------------------------
 *
 * queue.c
 *		  Deferred actions: enqueuing them in the caller's transaction,
 *		  delivering committed ones (from the background worker or CALL
 *		  wix_admin.process_queue()), retrying and cancelling them.
 *
 * An action is a row of wix_admin.queue: the action's name, its arguments
 * as a jsonb object keyed by parameter name, the server chosen when it was
 * queued, and the role that queued it.  What an action does is not known
 * here: delivery hands the row to the registered deliverer (the admin
 * actions' runner).  A deferred constraint
 * trigger numbers it (commit_seq) as its transaction commits; delivery
 * follows that order.
 *
 * Delivering one action takes three steps, each its own transaction:
 *
 *	1. claim: lock a due row (FOR UPDATE SKIP LOCKED), take a session
 *	   advisory lock on its id, mark it in_flight and count the attempt.
 *	   The advisory lock outlives the commit: another deliverer that finds
 *	   the row in_flight but cannot take the lock leaves it alone; one that
 *	   can take it knows that the deliverer died (a crash or restart) and
 *	   that the earlier attempt's outcome is unknown.
 *	2. deliver: hand the action and its stored arguments to the deliverer,
 *	   as the enqueuing role (its user mapping, its privileges), in a
 *	   subtransaction; on success mark the row done (the action itself
 *	   writes wix_admin.action_log), on failure roll the
 *	   subtransaction back and mark the row queued again with a later
 *	   next_attempt_at, or failed.
 *	3. release the advisory lock.
 *
 * A transient failure (no answer, 429, 5xx) retries with exponential backoff
 * up to wix_admin.queue_max_attempts; any other failure is permanent.  When
 * the changing request may have reached Wix (a timeout after sending), the
 * row is marked outcome_unknown (WixDelivery.recheck on the next attempt),
 * and actions that can tell whether their change already happened (refunds,
 * booking verbs) check before sending again.
 *
 * Every queue statement runs as the queue table's owner, as the audit row of
 * the actions does (wix_become_table_owner): callers need no privilege on
 * the table.
 *
 *-------------------------------------------------------------------------
 */
#include "wix_queue.h"
#include "wix_admin.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_type.h"
#include "commands/async.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/parsenodes.h"
#include "parser/parse_func.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "utils/acl.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

/* GUCs, defined in wix_queue_define_gucs */
int			wix_queue_max_attempts = 10;
int			wix_queue_retry_delay_ms = 10000;
int			wix_queue_retry_max_delay_ms = 3600000;

#define QUEUE_CLAIM_BATCH	64
#define QUEUE_LOCK_FIELD4	0x5758	/* "WX": our advisory locks */
#define NOTIFY_CHANNEL		"wix_admin_actions"

/* A claimed action. */
typedef struct QueueItem
{
	int64		id;
	char	   *action;
	char	   *args;			/* jsonb as text */
	char	   *server;
	Oid			role;
	Oid			via_table;		/* the foreign table whose DML queued it */
	int			attempts;
	bool		outcome_unknown;
	char	   *memo;
	LOCKTAG		lock;
} QueueItem;

/* Set when this transaction queued an action: wake the worker at commit. */
static bool wake_at_commit = false;

PG_FUNCTION_INFO_V1(wix_process_queue);
PG_FUNCTION_INFO_V1(wix_retry_action);
PG_FUNCTION_INFO_V1(wix_cancel_action);

static bool queue_has_via_table(void);

/* The one deliverer of queued actions (wix_queue_set_deliverer). */
static WixDeliverFn deliverer = NULL;


/* ---------------------------------------------------------------- *
 * Running queue statements as the table's owner
 * ---------------------------------------------------------------- */

/*
 * wix_admin_table
 *		The OID of table relname of schema wix_admin (the extension's own
 *		tables: the queue, the audit log) and its owner.
 */
Oid
wix_admin_table(const char *relname, Oid *owner)
{
	Oid			nspid = get_namespace_oid("wix_admin", true);
	Oid			relid = OidIsValid(nspid) ?
		get_relname_relid(relname, nspid) : InvalidOid;
	HeapTuple	tuple;

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("table wix_admin.%s does not exist", relname),
				 errhint("It is created by CREATE EXTENSION wix_admin; recreate the extension.")));
	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	*owner = ((Form_pg_class) GETSTRUCT(tuple))->relowner;
	ReleaseSysCache(tuple);
	return relid;
}

/*
 * wix_become_table_owner
 *		Act as the owner of wix_admin.relname (SECURITY_LOCAL_USERID_CHANGE,
 *		as foreign-key checks do, plus sec_flags) so that callers need no
 *		privilege on it; wix_restore_user switches back.
 */
void
wix_become_table_owner(const char *relname, int sec_flags, WixSavedUser *saved)
{
	Oid			owner;

	(void) wix_admin_table(relname, &owner);
	GetUserIdAndSecContext(&saved->userid, &saved->sec_context);
	SetUserIdAndSecContext(owner, saved->sec_context |
						   SECURITY_LOCAL_USERID_CHANGE | sec_flags);
}

void
wix_restore_user(WixSavedUser *saved)
{
	SetUserIdAndSecContext(saved->userid, saved->sec_context);
}

/* Act as the queue's owner: not a restricted operation, for the deferred
 * commit-order trigger. */
static void
become_queue_owner(WixSavedUser *saved)
{
	wix_become_table_owner("queue", 0, saved);
}

/* Run one queue statement; expect rc. */
static void
queue_sql(const char *sql, int nargs, Oid *argtypes, Datum *values,
		  const char *nulls, int expected)
{
	int			rc = SPI_execute_with_args(sql, nargs, argtypes, values, nulls,
										   false, 0);

	if (rc != expected)
		elog(ERROR, "wix_admin queue statement failed: %s",
			 SPI_result_code_string(rc));
}

/* The row's description: {id, state, action, server, target_id, ...}. */
#define DESCRIBE_COLUMNS \
	"jsonb_build_object('id', id, 'state', state, 'action', action, " \
	"'role', role::text, 'server', server, 'target_id', target_id, " \
	"'args', args, 'attempts', attempts, 'last_error', last_error, " \
	"'wix_request_id', wix_request_id)"

/* The jsonb of the first column of the first row, in the caller's context. */
static Datum
first_jsonb(void)
{
	bool		isnull;
	Datum		value;

	if (SPI_processed == 0)
		return (Datum) 0;
	value = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	return isnull ? (Datum) 0 : SPI_datumTransfer(value, false, -1);
}

/* ---------------------------------------------------------------- *
 * Enqueuing
 * ---------------------------------------------------------------- */

/*
 * wix_queue_enqueue
 *		Queue action with its arguments (a JSON object) in the caller's
 *		transaction, to be delivered for server as the current role after
 *		the commit; return the queued row's description as jsonb.
 */
Datum
wix_queue_enqueue(const char *action, const char *args,
				  const char *server_name, const char *target, Oid via_table)
{
	static const char *sql =
		"INSERT INTO wix_admin.queue (role, server, action, args, target_id) "
		"VALUES ($1, $2, $3, $4::jsonb, $5) RETURNING " DESCRIBE_COLUMNS;
	static const char *via_table_sql =
		"INSERT INTO wix_admin.queue (role, server, action, args, target_id, via_table) "
		"VALUES ($1, $2, $3, $4::jsonb, $5, $6) RETURNING " DESCRIBE_COLUMNS;
	Oid			argtypes[6] = {OIDOID, NAMEOID, TEXTOID, TEXTOID, TEXTOID, OIDOID};
	Datum		values[6];
	char		nulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};
	NameData	server;
	WixSavedUser saved;
	Datum		result;

	if (OidIsValid(via_table) && !queue_has_via_table())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("deferred DML needs wix_admin 0.3 or later in this database"),
				 errhint("Run ALTER EXTENSION wix_admin UPDATE.")));
	namestrcpy(&server, server_name);
	values[0] = ObjectIdGetDatum(GetUserId());
	values[1] = NameGetDatum(&server);
	values[2] = CStringGetTextDatum(action);
	values[3] = CStringGetTextDatum(args);
	values[4] = target ? CStringGetTextDatum(target) : (Datum) 0;
	nulls[4] = target ? ' ' : 'n';
	values[5] = ObjectIdGetDatum(via_table);

	become_queue_owner(&saved);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (OidIsValid(via_table))
		queue_sql(via_table_sql, 6, argtypes, values, nulls, SPI_OK_INSERT_RETURNING);
	else
		queue_sql(sql, 5, argtypes, values, nulls, SPI_OK_INSERT_RETURNING);
	result = first_jsonb();
	SPI_finish();
	wix_restore_user(&saved);

	wake_at_commit = true;
	return result;
}

/* At commit of a transaction that queued something, wake its worker. */
static void
queue_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
			if (wake_at_commit)
				wix_worker_wake(MyDatabaseId);
			wake_at_commit = false;
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PREPARE:
			wake_at_commit = false;
			break;
		default:
			break;
	}
}

static const WixIntSetting queue_settings[] = {
	{"wix_admin.queue_max_attempts",
		"Most attempts at delivering a queued action that fails transiently.", NULL,
	&wix_queue_max_attempts, 10, 1, 1000, PGC_SUSET, 0},
	{"wix_admin.queue_retry_delay",
		"Wait before the second attempt at a queued action; it doubles with each attempt.", NULL,
	&wix_queue_retry_delay_ms, 10000, 1, 86400000, PGC_SUSET, GUC_UNIT_MS},
	{"wix_admin.queue_retry_max_delay",
		"Longest wait between attempts at a queued action.", NULL,
	&wix_queue_retry_max_delay_ms, 3600000, 1, 86400000, PGC_SUSET, GUC_UNIT_MS},
	{"wix_admin.max_workers",
		"Most background workers of each kind (delivering queued actions, refreshing mirrors) at once, one per database.", NULL,
	&wix_max_workers, 2, 1, 64, PGC_SIGHUP, 0},
	{"wix_admin.worker_naptime",
		"Time between the launcher's sweeps of every database for queued actions.",
		"Commits wake the workers at once; the sweep is a safety net.",
	&wix_worker_naptime_s, 300, 1, 86400, PGC_SIGHUP, GUC_UNIT_S},
};


/*
 * wix_queue_define_gucs
 *		The queue's and the workers' settings.
 */
void
wix_queue_define_gucs(void)
{
	wix_define_int_settings(queue_settings, lengthof(queue_settings));
	DefineCustomBoolVariable("wix_admin.deliver_in_worker",
							 "Lets the background worker deliver the database's queued actions.",
							 "Off: only CALL wix_admin.process_queue() does.",
							 &wix_deliver_in_worker, true,
							 PGC_SUSET, 0, NULL, NULL, NULL);
}

/*
 * wix_queue_set_deliverer
 *		Name the function that carries out queued actions (the admin
 *		actions' runner registers itself at load time).
 */
void
wix_queue_set_deliverer(WixDeliverFn deliver)
{
	deliverer = deliver;
}

/*
 * wix_queue_init
 *		From _PG_init: wake the worker when a transaction that queued commits,
 *		and (when preloaded) register the launcher.
 */
void
wix_queue_init(void)
{
	RegisterXactCallback(queue_xact_callback, NULL);
	wix_worker_init();
}

/* ---------------------------------------------------------------- *
 * Delivering
 * ---------------------------------------------------------------- */

/* Each step of a delivery is a transaction of its own. */
static void
step_begin(bool in_procedure)
{
	if (!in_procedure)
	{
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
	}
	PushActiveSnapshot(GetTransactionSnapshot());
}

static void
step_end(bool in_procedure)
{
	PopActiveSnapshot();
	if (in_procedure)
		SPI_commit();
	else
	{
		SPI_finish();
		CommitTransactionCommand();
	}
}

static char *
copy_text(HeapTuple tuple, TupleDesc desc, int col, MemoryContext cxt)
{
	char	   *value = SPI_getvalue(tuple, desc, col);

	return value ? MemoryContextStrdup(cxt, value) : NULL;
}

/*
 * queue_has_via_table
 *		Has the queue the column via_table (0.3 on)?  A database not yet
 *		updated has the older queue, which this library still serves.
 */
static bool
queue_has_via_table(void)
{
	Oid			queue = get_relname_relid("queue", get_namespace_oid("wix_admin", false));

	return OidIsValid(queue) && get_attnum(queue, "via_table") != InvalidAttrNumber;
}

/*
 * claim
 *		Lock the first due action in commit order that nobody is delivering,
 *		mark it in flight and count the attempt.  False: nothing is due.
 */
static bool
claim(QueueItem *item, MemoryContext cxt)
{
	static const char *due_sql =
		"SELECT id FROM wix_admin.queue "
		"WHERE state IN ('queued', 'in_flight') AND commit_seq IS NOT NULL "
		"AND next_attempt_at <= clock_timestamp() "
		"ORDER BY commit_seq LIMIT " CppAsString2(QUEUE_CLAIM_BATCH) " "
		"FOR UPDATE SKIP LOCKED";
#define MARK_SQL(more_columns) \
		"UPDATE wix_admin.queue SET " \
		"outcome_unknown = outcome_unknown OR state = 'in_flight', " \
		"state = 'in_flight', attempts = attempts + 1, " \
		"started_at = clock_timestamp() " \
		"WHERE id = $1 " \
		"RETURNING action, args::text, server, role::oid, attempts, " \
		"outcome_unknown, memo" more_columns
	static const char *mark_sql = MARK_SQL("");
	static const char *mark_via_table_sql = MARK_SQL(", via_table::oid");
	bool		has_via_table = queue_has_via_table();
	uint64		ncandidates;
	int64	   *candidates;
	bool		found = false;

	queue_sql(due_sql, 0, NULL, NULL, NULL, SPI_OK_SELECT);
	ncandidates = SPI_processed;
	candidates = palloc(sizeof(int64) * (ncandidates + 1));
	for (uint64 i = 0; i < ncandidates; i++)
	{
		bool		isnull;

		candidates[i] = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i],
													SPI_tuptable->tupdesc, 1,
													&isnull));
	}

	for (uint64 i = 0; i < ncandidates && !found; i++)
	{
		Oid			argtypes[1] = {INT8OID};
		Datum		values[1];
		HeapTuple	tuple;
		TupleDesc	desc;
		bool		isnull;

		SET_LOCKTAG_ADVISORY(item->lock, MyDatabaseId,
							 (uint32) (candidates[i] >> 32),
							 (uint32) candidates[i], QUEUE_LOCK_FIELD4);
		if (LockAcquire(&item->lock, ExclusiveLock, true, true) ==
			LOCKACQUIRE_NOT_AVAIL)
			continue;			/* being delivered by someone alive */

		values[0] = Int64GetDatum(candidates[i]);
		queue_sql(has_via_table ? mark_via_table_sql : mark_sql, 1, argtypes, values,
				  NULL, SPI_OK_UPDATE_RETURNING);
		tuple = SPI_tuptable->vals[0];
		desc = SPI_tuptable->tupdesc;
		item->id = candidates[i];
		item->action = copy_text(tuple, desc, 1, cxt);
		item->args = copy_text(tuple, desc, 2, cxt);
		item->server = copy_text(tuple, desc, 3, cxt);
		item->role = DatumGetObjectId(SPI_getbinval(tuple, desc, 4, &isnull));
		item->attempts = DatumGetInt32(SPI_getbinval(tuple, desc, 5, &isnull));
		item->outcome_unknown = DatumGetBool(SPI_getbinval(tuple, desc, 6, &isnull));
		item->memo = copy_text(tuple, desc, 7, cxt);
		item->via_table = InvalidOid;
		if (has_via_table)
		{
			Datum		via_table = SPI_getbinval(tuple, desc, 8, &isnull);

			item->via_table = isnull ? InvalidOid : DatumGetObjectId(via_table);
		}
		found = true;
	}
	pfree(candidates);
	return found;
}

/* Is a failure worth another attempt later? */
static bool
is_transient(ErrorData *edata, WixDelivery *delivery)
{
	if (delivery->status == 429 || delivery->status >= 500)
		return true;
	if (delivery->status >= 400)
		return false;
	switch (edata->sqlerrcode)
	{
		case ERRCODE_FDW_ERROR:
		case ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION:
		case ERRCODE_FDW_UNABLE_TO_CREATE_REPLY:
		case ERRCODE_CONNECTION_FAILURE:
		case ERRCODE_QUERY_CANCELED:
		case ERRCODE_OUT_OF_MEMORY:
			return delivery->status == 0;
		default:
			return false;
	}
}

static void
notify_finished(int64 id, const char *state)
{
	Async_Notify(NOTIFY_CHANNEL,
				 psprintf("{\"id\": " INT64_FORMAT ", \"state\": \"%s\"}", id, state));
}

/*
 * deliver_as_role
 *		Hand the queued action to the deliverer as the role that queued it.
 */
static Datum
deliver_as_role(QueueItem *item, WixDelivery *delivery)
{
	Oid			save_userid;
	int			save_sec_context;
	Datum		result;

	if (deliverer == NULL)
		elog(ERROR, "wix_admin: no deliverer of queued actions is registered");
	if (GetUserNameFromId(item->role, true) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("the role that queued the action no longer exists")));

	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(item->role, save_sec_context | SECURITY_LOCAL_USERID_CHANGE);
	PG_TRY();
	{
		result = deliverer(item->action, item->args, item->server,
						   item->via_table, delivery);
	}
	PG_FINALLY();
	{
		SetUserIdAndSecContext(save_userid, save_sec_context);
	}
	PG_END_TRY();
	return result;
}

/* Mark a delivered action done, with the last answer's status and id. */
static void
record_done(QueueItem *item, WixDelivery *delivery, Datum result)
{
	static const char *done_sql =
		"UPDATE wix_admin.queue SET state = 'done', finished_at = clock_timestamp(), "
		"http_status = $2, wix_request_id = $3, result = $4, last_error = NULL "
		"WHERE id = $1";
	Oid			argtypes[4] = {INT8OID, INT4OID, TEXTOID, JSONBOID};
	Datum		values[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};
	WixSavedUser saved;

	values[0] = Int64GetDatum(item->id);
	values[1] = Int32GetDatum((int32) delivery->status);
	nulls[1] = delivery->status > 0 ? ' ' : 'n';
	values[2] = delivery->request_id ? CStringGetTextDatum(delivery->request_id) : (Datum) 0;
	nulls[2] = delivery->request_id ? ' ' : 'n';
	values[3] = result;
	become_queue_owner(&saved);
	queue_sql(done_sql, 4, argtypes, values, nulls, SPI_OK_UPDATE);
	wix_restore_user(&saved);
	notify_finished(item->id, "done");
}

/*
 * record_failure
 *		A failed attempt: queued again after a backoff when the failure is
 *		transient and attempts are left, else failed.  A transient failure
 *		after the change may have been sent marks the outcome unknown.
 */
static void
record_failure(QueueItem *item, WixDelivery *delivery, ErrorData *edata)
{
	static const char *failed_sql =
		"UPDATE wix_admin.queue SET "
		"state = CASE WHEN $2 THEN 'queued' ELSE 'failed' END, "
		"finished_at = CASE WHEN $2 THEN NULL ELSE clock_timestamp() END, "
		"next_attempt_at = clock_timestamp() + $3 * interval '1 millisecond', "
		"http_status = $4, wix_request_id = $5, last_error = $6, "
		"outcome_unknown = outcome_unknown OR $7, "
		"memo = CASE WHEN outcome_unknown THEN memo ELSE $8 END "
		"WHERE id = $1";
	bool		transient = is_transient(edata, delivery);
	bool		again = transient && item->attempts < wix_queue_max_attempts;
	int64		delay = wix_queue_retry_delay_ms;
	Oid			argtypes[8] = {INT8OID, BOOLOID, INT8OID, INT4OID, TEXTOID,
	TEXTOID, BOOLOID, TEXTOID};
	Datum		values[8];
	char		nulls[8] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};
	char	   *error;
	WixSavedUser saved;

	for (int i = 1; i < item->attempts && delay < wix_queue_retry_max_delay_ms; i++)
		delay *= 2;
	delay = Min(delay, (int64) wix_queue_retry_max_delay_ms);
	error = edata->detail ?
		psprintf("%s (%s)", edata->message, edata->detail) :
		pstrdup(edata->message);
	if (transient && !again)
		error = psprintf("%s; gave up after %d attempts", error, item->attempts);

	values[0] = Int64GetDatum(item->id);
	values[1] = BoolGetDatum(again);
	values[2] = Int64GetDatum(delay);
	values[3] = Int32GetDatum((int32) delivery->status);
	nulls[3] = delivery->status > 0 ? ' ' : 'n';
	values[4] = delivery->request_id ? CStringGetTextDatum(delivery->request_id) : (Datum) 0;
	nulls[4] = delivery->request_id ? ' ' : 'n';
	values[5] = CStringGetTextDatum(error);
	values[6] = BoolGetDatum(transient && delivery->change_sent);
	values[7] = delivery->memo_out ? CStringGetTextDatum(delivery->memo_out) : (Datum) 0;
	nulls[7] = delivery->memo_out ? ' ' : 'n';
	become_queue_owner(&saved);
	queue_sql(failed_sql, 8, argtypes, values, nulls, SPI_OK_UPDATE);
	wix_restore_user(&saved);
	if (!again)
		notify_finished(item->id, "failed");
	ereport(again ? LOG : WARNING,
			(errmsg("wix_admin: queued action " INT64_FORMAT " (%s) %s: %s",
					item->id, item->action,
					again ? "will be retried" : "failed", error)));
}

/* A claimed action and its attempt, for deliver_attempt. */
typedef struct DeliverArgs
{
	QueueItem  *item;
	WixDelivery *delivery;
} DeliverArgs;

/* The attempt and its success recorded (in deliver's subtransaction). */
static void
deliver_attempt(void *arg)
{
	DeliverArgs *args = arg;

	record_done(args->item, args->delivery,
				deliver_as_role(args->item, args->delivery));
}

/*
 * deliver
 *		One attempt at a claimed action, in a subtransaction, and its
 *		outcome recorded.  True when it is done.
 */
static bool
deliver(QueueItem *item)
{
	WixDelivery delivery;
	DeliverArgs args = {item, &delivery};
	ErrorData  *edata;

	memset(&delivery, 0, sizeof(delivery));
	delivery.recheck = item->outcome_unknown;
	delivery.memo_in = item->memo;
	delivery.cxt = CurrentMemoryContext;

	edata = wix_in_subtransaction(deliver_attempt, &args);
	if (edata == NULL)
		return true;
	record_failure(item, &delivery, edata);
	FreeErrorData(edata);
	return false;
}

/*
 * wix_queue_process
 *		Deliver due actions of this database in commit order, at most max
 *		(-1: all), each in transactions of its own.  In a procedure (CALL
 *		wix_admin.process_queue()) through nonatomic SPI, else (the worker)
 *		with plain transactions.  *next_due, if given, gets the time the next
 *		waiting retry is due, or 0.  Returns the actions attempted.
 */
int
wix_queue_process(int max, bool in_procedure, TimestampTz *next_due)
{
	MemoryContext cxt = AllocSetContextCreate(TopMemoryContext,
											  "wix_admin queue",
											  ALLOCSET_DEFAULT_SIZES);
	int			processed = 0;

	while (max < 0 || processed < max)
	{
		QueueItem	item;
		WixSavedUser	saved;
		bool		found;

		CHECK_FOR_INTERRUPTS();
		MemoryContextReset(cxt);
		step_begin(in_procedure);
		become_queue_owner(&saved);
		found = claim(&item, cxt);
		wix_restore_user(&saved);
		step_end(in_procedure);
		if (!found)
			break;

		step_begin(in_procedure);
		PG_TRY();
		{
			(void) deliver(&item);
			step_end(in_procedure);
		}
		PG_FINALLY();
		{
			LockRelease(&item.lock, ExclusiveLock, true);
		}
		PG_END_TRY();
		processed++;
	}

	if (next_due != NULL)
	{
		WixSavedUser	saved;
		bool		isnull;
		Datum		value;

		step_begin(in_procedure);
		become_queue_owner(&saved);
		queue_sql("SELECT min(next_attempt_at) FROM wix_admin.queue "
				  "WHERE state IN ('queued', 'in_flight') AND commit_seq IS NOT NULL",
				  0, NULL, NULL, NULL, SPI_OK_SELECT);
		value = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		*next_due = isnull ? 0 : DatumGetTimestampTz(value);
		wix_restore_user(&saved);
		step_end(in_procedure);
	}
	MemoryContextDelete(cxt);
	return processed;
}

/*
 * CALL wix_admin.process_queue(max integer DEFAULT NULL)
 *		Deliver due actions from this session, committing after each, for
 *		sites without the background worker (e.g. scheduled with pg_cron).
 */
Datum
wix_process_queue(PG_FUNCTION_ARGS)
{
	int			max = PG_ARGISNULL(0) ? -1 : PG_GETARG_INT32(0);

	if (fcinfo->context == NULL || !IsA(fcinfo->context, CallContext) ||
		((CallContext *) fcinfo->context)->atomic)
		ereport(ERROR,
				(errcode(ERRCODE_ACTIVE_SQL_TRANSACTION),
				 errmsg("wix_admin.process_queue() cannot run inside a transaction block"),
				 errdetail("It commits after each action it delivers."),
				 errhint("CALL it on its own, outside BEGIN ... COMMIT.")));
	if (max < 0 && !PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max must not be negative")));

	if (SPI_connect_ext(SPI_OPT_NONATOMIC) != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/* the CALL's own snapshot is released by the first commit */
	(void) wix_queue_process(max, true, NULL);
	SPI_finish();
	PG_RETURN_VOID();
}

/* ---------------------------------------------------------------- *
 * Retrying and cancelling
 * ---------------------------------------------------------------- */

/*
 * lock_action
 *		Lock action id's row for a change by the current role, which must be
 *		a member of the role that queued it (or a superuser).  Returns its
 *		state.
 */
static char *
lock_action(int64 id, WixSavedUser *saved)
{
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(id)};
	Oid			role;
	bool		isnull;
	char	   *state;

	queue_sql("SELECT role::oid, state FROM wix_admin.queue WHERE id = $1 FOR UPDATE",
			  1, argtypes, values, NULL, SPI_OK_SELECT);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("wix_admin action " INT64_FORMAT " does not exist", id)));
	role = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0],
										  SPI_tuptable->tupdesc, 1, &isnull));
	state = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	if (!has_privs_of_role(saved->userid, role))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for wix_admin action " INT64_FORMAT, id),
				 errdetail("Only members of the role that queued an action may retry or cancel it.")));
	return state;
}

/* Is action id being delivered by a live process right now? */
static bool
being_delivered(int64 id)
{
	LOCKTAG		tag;

	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, (uint32) (id >> 32), (uint32) id,
						 QUEUE_LOCK_FIELD4);
	if (LockAcquire(&tag, ExclusiveLock, false, true) == LOCKACQUIRE_NOT_AVAIL)
		return true;
	LockRelease(&tag, ExclusiveLock, false);
	return false;
}

static Datum
change_action(int64 id, bool cancel)
{
	static const char *retry_sql =
		"UPDATE wix_admin.queue SET state = 'queued', attempts = 0, "
		"next_attempt_at = clock_timestamp(), finished_at = NULL, "
		"outcome_unknown = false, memo = NULL "
		"WHERE id = $1 RETURNING " DESCRIBE_COLUMNS;
	static const char *cancel_sql =
		"UPDATE wix_admin.queue SET state = 'cancelled', "
		"finished_at = clock_timestamp() "
		"WHERE id = $1 RETURNING " DESCRIBE_COLUMNS;
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(id)};
	WixSavedUser	saved;
	char	   *state;
	Datum		result;

	PreventCommandIfReadOnly(cancel ? "wix_admin.cancel_action()" : "wix_admin.retry_action()");
	become_queue_owner(&saved);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	state = lock_action(id, &saved);
	if (strcmp(state, "done") == 0 ||
		(cancel && strcmp(state, "cancelled") == 0) ||
		(!cancel && strcmp(state, "in_flight") == 0 && being_delivered(id)) ||
		(cancel && strcmp(state, "in_flight") == 0 && being_delivered(id)))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("wix_admin action " INT64_FORMAT " is %s",
						id, strcmp(state, "in_flight") == 0 ? "being delivered" : state),
				 strcmp(state, "in_flight") == 0 ?
				 errhint("Wait until the attempt ends.") : 0));
	queue_sql(cancel ? cancel_sql : retry_sql, 1, argtypes, values, NULL,
			  SPI_OK_UPDATE_RETURNING);
	result = first_jsonb();
	SPI_finish();
	wix_restore_user(&saved);
	if (cancel)
		notify_finished(id, "cancelled");
	else
		wake_at_commit = true;
	PG_RETURN_DATUM(result);
}

/*
 * wix_admin.retry_action(id)
 *		Queue a failed or cancelled action again, due now, with a fresh count
 *		of attempts; a waiting one becomes due now.  An unknown outcome is
 *		forgotten: retrying says "send it again".
 */
Datum
wix_retry_action(PG_FUNCTION_ARGS)
{
	return change_action(PG_GETARG_INT64(0), false);
}

/*
 * wix_admin.cancel_action(id)
 *		Cancel an action not delivered yet (or failed).
 */
Datum
wix_cancel_action(PG_FUNCTION_ARGS)
{
	return change_action(PG_GETARG_INT64(0), true);
}
