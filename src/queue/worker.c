/*-------------------------------------------------------------------------
 *
 * worker.c
 *		  Background workers delivering deferred admin actions and refreshing
 *		  due mirrors: a launcher, and short-lived workers it starts, per
 *		  database at most one of each kind at a time.
 *
 * Registered only when wix_admin is in shared_preload_libraries; without
 * it, CALL wix_admin.process_queue() delivers and CALL
 * wix_admin.refresh_mirror() refreshes (e.g. from pg_cron).
 *
 * The launcher is connected to no database.  It keeps, in shared memory, a
 * slot per database that has (or may have) work, and in it, for each kind
 * of work, "pending" when a committed transaction made some (queued an
 * action, or registered a mirror or changed its refresh_every: the
 * committing backend sets it and the launcher's latch, no polling) and when
 * the next work of that kind is due (a retry, a mirror's next_refresh).
 * For each it starts a worker of that kind, at most wix_admin.max_workers
 * of each kind at once; the worker does everything due, reports when that
 * kind's next work is due, and exits.  Workers do not stay connected, so
 * DROP DATABASE is never blocked for long.
 *
 * Deliveries and refreshes have workers of their own so that a long
 * refresh (minutes, for a first load at Wix's rate limit) never holds up
 * the delivery of actions.  A mirror worker refreshes each due mirror that
 * no session is refreshing, as the mirror's owner (with the owner's user
 * mapping), calling the same procedure as CALL wix_admin.refresh_mirror():
 * in full when its next_full_refresh has come.  A delivering worker also
 * reports when the next mirror is due, which is how mirrors are found after
 * a restart and at each sweep.
 *
 * At start (after a crash or restart too) and every wix_admin.worker_naptime
 * the launcher starts a delivering worker for every database that allows
 * connections: actions queued before the restart, or in transactions
 * committed with COMMIT PREPARED, are delivered then.  A worker finding no
 * wix_admin extension exits at once; wix_admin.deliver_in_worker and
 * wix_admin.refresh_mirrors_in_worker off keep it from that work in its
 * database.
 *
 *-------------------------------------------------------------------------
 */
#include "wix_compat.h"
#include "wix_queue.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_database.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/params.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/lock.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "tcop/pquery.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

/* GUCs, defined in _PG_init (option.c) */
bool		wix_deliver_in_worker = true;
int			wix_max_workers = 2;
int			wix_worker_naptime_s = 300;

#define WIX_WORKER_SLOTS		256
#define LAUNCHER_RETRY_MS		1000

/* The kinds of work, each with workers of its own */
typedef enum WixWorkKind
{
	WORK_DELIVER,				/* deliver queued actions */
	WORK_MIRRORS,				/* refresh due mirrors */
	WORK_KINDS
} WixWorkKind;

static const char *const work_names[WORK_KINDS] = {"delivering", "refreshing mirrors"};

typedef struct WixWork
{
	bool		pending;		/* a commit made work: start a worker */
	TimestampTz next_due;		/* next work due, 0: none */
} WixWork;

typedef struct WixWorkerSlot
{
	Oid			dboid;			/* InvalidOid: free */
	WixWork		work[WORK_KINDS];
} WixWorkerSlot;

typedef struct WixWorkerShared
{
	slock_t		mutex;
	Latch	   *launcher_latch;
	WixWorkerSlot slots[WIX_WORKER_SLOTS];
} WixWorkerShared;

static WixWorkerShared *shared = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

PGDLLEXPORT void wix_launcher_main(Datum arg);
PGDLLEXPORT void wix_worker_main(Datum arg);

static void
wix_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(sizeof(WixWorkerShared)));
}

static void
wix_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	shared = ShmemInitStruct("wix_admin workers", sizeof(WixWorkerShared), &found);
	if (!found)
	{
		memset(shared, 0, sizeof(WixWorkerShared));
		SpinLockInit(&shared->mutex);
	}
	LWLockRelease(AddinShmemInitLock);
}

/*
 * wix_worker_init
 *		From _PG_init: when loaded by shared_preload_libraries, ask for the
 *		shared memory and register the launcher.
 */
void
wix_worker_init(void)
{
	BackgroundWorker worker;

	if (!process_shared_preload_libraries_in_progress)
		return;

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = wix_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = wix_shmem_startup;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = 5;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "wix_admin");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "wix_launcher_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "wix_admin launcher");
	snprintf(worker.bgw_type, BGW_MAXLEN, "wix_admin launcher");
	RegisterBackgroundWorker(&worker);
}

/* The slot of a database, taken if needed; NULL when all are used.  Locked. */
static WixWorkerSlot *
slot_for(Oid dboid)
{
	WixWorkerSlot *free_slot = NULL;

	for (int i = 0; i < WIX_WORKER_SLOTS; i++)
	{
		if (shared->slots[i].dboid == dboid)
			return &shared->slots[i];
		if (free_slot == NULL && shared->slots[i].dboid == InvalidOid)
			free_slot = &shared->slots[i];
	}
	if (free_slot != NULL)
	{
		memset(free_slot, 0, sizeof(WixWorkerSlot));
		free_slot->dboid = dboid;
	}
	return free_slot;
}

/* Have a worker of that kind look at database dboid now. */
static void
wake(Oid dboid, WixWorkKind kind)
{
	Latch	   *latch;
	WixWorkerSlot *slot;

	if (shared == NULL)
		return;
	SpinLockAcquire(&shared->mutex);
	slot = slot_for(dboid);
	if (slot != NULL)
		slot->work[kind].pending = true;
	latch = shared->launcher_latch;
	SpinLockRelease(&shared->mutex);
	/* all slots used: the launcher's naptime sweep will come */
	if (latch != NULL)
		SetLatch(latch);
}

/*
 * wix_worker_wake
 *		A transaction of database dboid that queued actions committed: have
 *		a worker deliver them.  Does nothing without the launcher.
 */
void
wix_worker_wake(Oid dboid)
{
	wake(dboid, WORK_DELIVER);
}

/*
 * wix_worker_wake_mirrors
 *		A transaction of database dboid that registered a mirror or changed
 *		when one is refreshed committed: have a worker look at the mirrors.
 */
void
wix_worker_wake_mirrors(Oid dboid)
{
	wake(dboid, WORK_MIRRORS);
}

/* A worker reports when its database's next work of a kind is due. */
static void
report_next_due(Oid dboid, WixWorkKind kind, TimestampTz next_due)
{
	WixWorkerSlot *slot;

	SpinLockAcquire(&shared->mutex);
	slot = slot_for(dboid);
	if (slot != NULL)
		slot->work[kind].next_due = next_due;
	SpinLockRelease(&shared->mutex);
}

/* Every database that allows connections gets a pending slot. */
static void
wake_all_databases(void)
{
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tuple;
	List	   *dboids = NIL;
	ListCell   *cell;
	MemoryContext launcher_cxt = CurrentMemoryContext;

	StartTransactionCommand();
	(void) GetTransactionSnapshot();
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while (HeapTupleIsValid(tuple = heap_getnext(scan, ForwardScanDirection)))
	{
		Form_pg_database db = (Form_pg_database) GETSTRUCT(tuple);

		/* the list outlives the transaction */
		if (db->datallowconn && !db->datistemplate)
		{
			MemoryContext oldcxt = MemoryContextSwitchTo(launcher_cxt);

			dboids = lappend_oid(dboids, db->oid);
			MemoryContextSwitchTo(oldcxt);
		}
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	CommitTransactionCommand();
	MemoryContextSwitchTo(launcher_cxt);

	foreach(cell, dboids)
		wix_worker_wake(lfirst_oid(cell));
	list_free(dboids);
}

static BackgroundWorkerHandle *
start_worker(Oid dboid, WixWorkKind kind)
{
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "wix_admin");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "wix_worker_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "wix_admin worker %s in database %u",
			 work_names[kind], dboid);
	snprintf(worker.bgw_type, BGW_MAXLEN, "wix_admin worker");
	worker.bgw_main_arg = ObjectIdGetDatum(dboid);
	worker.bgw_extra[0] = (char) kind;
	worker.bgw_notify_pid = MyProcPid;
	if (!RegisterDynamicBackgroundWorker(&worker, &handle))
		return NULL;
	return handle;
}

/*
 * launcher_round
 *		Start the workers needed now, handles[kind][slot] being those
 *		running; return how long to sleep.
 */
static long
launcher_round(BackgroundWorkerHandle **handles[WORK_KINDS])
{
	TimestampTz now = GetCurrentTimestamp();
	long		sleep_ms = (long) wix_worker_naptime_s * 1000;
	int			running[WORK_KINDS] = {0};

	for (int kind = 0; kind < WORK_KINDS; kind++)
		for (int i = 0; i < WIX_WORKER_SLOTS; i++)
		{
			pid_t		pid;

			if (handles[kind][i] != NULL &&
				GetBackgroundWorkerPid(handles[kind][i], &pid) == BGWH_STOPPED)
			{
				pfree(handles[kind][i]);
				handles[kind][i] = NULL;
			}
			if (handles[kind][i] != NULL)
				running[kind]++;
		}

	for (int i = 0; i < WIX_WORKER_SLOTS; i++)
	{
		WixWorkerSlot *slot = &shared->slots[i];
		bool		busy = false;

		for (int kind = 0; kind < WORK_KINDS; kind++)
		{
			WixWork    *work = &slot->work[kind];
			Oid			dboid = InvalidOid;
			bool		due;

			if (handles[kind][i] != NULL)
			{
				busy = true;
				continue;
			}
			SpinLockAcquire(&shared->mutex);
			due = slot->dboid != InvalidOid &&
				(work->pending || (work->next_due != 0 && work->next_due <= now));
			if (due && running[kind] < wix_max_workers)
			{
				dboid = slot->dboid;
				work->pending = false;
				work->next_due = 0;
			}
			else if (slot->dboid != InvalidOid && work->next_due != 0)
			{
				long		secs;
				int			usecs;

				busy = true;
				TimestampDifference(now, work->next_due, &secs, &usecs);
				sleep_ms = Min(sleep_ms, secs * 1000 + usecs / 1000 + 1);
			}
			busy |= due;
			SpinLockRelease(&shared->mutex);

			if (due && !OidIsValid(dboid))
				sleep_ms = Min(sleep_ms, LAUNCHER_RETRY_MS);	/* too many running */
			if (!OidIsValid(dboid))
				continue;
			handles[kind][i] = start_worker(dboid, kind);
			if (handles[kind][i] == NULL)
			{
				/* no free background worker slot: try again soon */
				SpinLockAcquire(&shared->mutex);
				work->pending = true;
				SpinLockRelease(&shared->mutex);
				sleep_ms = Min(sleep_ms, LAUNCHER_RETRY_MS);
			}
			else
				running[kind]++;
		}

		/* nothing to do there: free it */
		SpinLockAcquire(&shared->mutex);
		for (int kind = 0; kind < WORK_KINDS; kind++)
			busy |= slot->work[kind].pending || slot->work[kind].next_due != 0;
		if (!busy)
			slot->dboid = InvalidOid;
		SpinLockRelease(&shared->mutex);
	}
	return Max(sleep_ms, 1);
}

void
wix_launcher_main(Datum arg)
{
	BackgroundWorkerHandle **handles[WORK_KINDS];
	TimestampTz last_sweep;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	pgstat_report_appname("wix_admin launcher");

	MemoryContextSwitchTo(AllocSetContextCreate(TopMemoryContext,
												"wix_admin launcher",
												ALLOCSET_DEFAULT_SIZES));
	for (int kind = 0; kind < WORK_KINDS; kind++)
		handles[kind] = palloc0(sizeof(BackgroundWorkerHandle *) * WIX_WORKER_SLOTS);
	SpinLockAcquire(&shared->mutex);
	shared->launcher_latch = MyLatch;
	SpinLockRelease(&shared->mutex);

	wake_all_databases();
	last_sweep = GetCurrentTimestamp();

	for (;;)
	{
		long		sleep_ms;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		if (TimestampDifferenceExceeds(last_sweep, GetCurrentTimestamp(),
									   wix_worker_naptime_s * 1000))
		{
			wake_all_databases();
			last_sweep = GetCurrentTimestamp();
		}
		sleep_ms = launcher_round(handles);
		(void) WaitLatch(MyLatch,
						 WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 sleep_ms, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/*
 * next_mirror_due
 *		When the database's next mirror refresh is due, 0: none.  A mirror
 *		another session is refreshing is looked at again in 10 seconds.
 */
static TimestampTz
next_mirror_due(void)
{
	TimestampTz due = 0;
	bool		isnull;
	Datum		value;

	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute("SELECT min(greatest(next_refresh, CASE WHEN state = 'running' "
					"THEN now() + interval '10 seconds' END)) FROM wix_admin.mirrors",
					true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read wix_admin.mirrors");
	value = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (!isnull)
		due = DatumGetTimestampTz(value);
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	return due;
}

/*
 * refresh_as_owner
 *		CALL wix_admin.refresh_one_mirror(mirror, full, false) as the role
 *		owner, in its own transactions (the procedure commits per batch).
 *		A failure the procedure does not record itself (it records those of
 *		reading Wix) is logged and recorded here, so that the mirror waits
 *		for its next due time.
 */
static void
refresh_as_owner(Oid mirror, Oid owner, bool full)
{
	MemoryContext cxt = CurrentMemoryContext;
	Oid			saved_userid;
	int			saved_sec_context;

	GetUserIdAndSecContext(&saved_userid, &saved_sec_context);
	PG_TRY();
	{
		static const char *sql = "CALL wix_admin.refresh_one_mirror($1, $2, false)";
		Oid			types[2] = {REGCLASSOID, BOOLOID};
		ParamListInfo params;
		List	   *plans;
		Portal		portal;
		QueryCompletion qc;

		/*
		 * A portal run at top level, as a client's CALL is: the procedure's
		 * COMMITs need one.  What the portal holds outlives them.
		 */
		StartTransactionCommand();
		SetUserIdAndSecContext(owner, saved_sec_context | SECURITY_LOCAL_USERID_CHANGE);
		MemoryContextSwitchTo(cxt);
		params = makeParamList(2);
		params->params[0] = (ParamExternData) {ObjectIdGetDatum(mirror), false,
		PARAM_FLAG_CONST, REGCLASSOID};
		params->params[1] = (ParamExternData) {BoolGetDatum(full), false,
		PARAM_FLAG_CONST, BOOLOID};
		plans = pg_plan_queries(pg_analyze_and_rewrite_fixedparams(linitial_node(RawStmt, pg_parse_query(sql)),
																   sql, types, 2, NULL),
								sql, CURSOR_OPT_PARALLEL_OK, NULL);
		portal = CreatePortal("", true, true);
		portal->visible = false;
		PortalDefineQuery(portal, NULL, sql, CMDTAG_CALL, plans, NULL);
		PortalStart(portal, params, 0, InvalidSnapshot);
		(void) wix_portal_run(portal, None_Receiver, &qc);
		PortalDrop(portal, false);
		SetUserIdAndSecContext(saved_userid, saved_sec_context);
		CommitTransactionCommand();
	}
	PG_CATCH();
	{
		ErrorData  *error;
		Datum		values[2];

		SetUserIdAndSecContext(saved_userid, saved_sec_context);
		MemoryContextSwitchTo(cxt);
		error = CopyErrorData();
		EmitErrorReport();
		FlushErrorState();
		AbortCurrentTransaction();
		/* the procedure's lock on the mirror, if the error left it held */
		LockReleaseSession(USER_LOCKMETHOD);

		StartTransactionCommand();
		PushActiveSnapshot(GetTransactionSnapshot());
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		values[0] = ObjectIdGetDatum(mirror);
		values[1] = CStringGetTextDatum(error->message);
		if (SPI_execute_with_args("UPDATE wix_admin.mirror_registry "
								  "SET last_finished = now(), last_error = $2 "
								  "WHERE mirror = $1", 2,
								  (Oid[]) {OIDOID, TEXTOID}, values, NULL,
								  false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "could not write wix_admin.mirror_registry");
		SPI_finish();
		PopActiveSnapshot();
		CommitTransactionCommand();
		FreeErrorData(error);
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
}

/*
 * refresh_due_mirrors
 *		Refresh, each as its owner, the due mirrors no session is
 *		refreshing, oldest due first.
 */
static void
refresh_due_mirrors(void)
{
	MemoryContext cxt = CurrentMemoryContext;
	int			n;
	Oid		   *mirrors;
	Oid		   *owners;
	bool	   *full;

	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute("SELECT mirror::oid, owner::oid, coalesce(next_full_refresh <= now(), false) "
					"FROM wix_admin.mirrors WHERE next_refresh <= now() AND state <> 'running' "
					"ORDER BY next_refresh", true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read wix_admin.mirrors");
	n = (int) SPI_processed;
	mirrors = MemoryContextAlloc(cxt, sizeof(Oid) * Max(n, 1));
	owners = MemoryContextAlloc(cxt, sizeof(Oid) * Max(n, 1));
	full = MemoryContextAlloc(cxt, sizeof(bool) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		HeapTuple	tuple = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;

		mirrors[i] = DatumGetObjectId(SPI_getbinval(tuple, desc, 1, &isnull));
		owners[i] = DatumGetObjectId(SPI_getbinval(tuple, desc, 2, &isnull));
		full[i] = DatumGetBool(SPI_getbinval(tuple, desc, 3, &isnull));
	}
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	MemoryContextSwitchTo(cxt);

	for (int i = 0; i < n; i++)
	{
		char		activity[64];

		snprintf(activity, sizeof(activity), "refreshing wix_admin mirror %u", mirrors[i]);
		pgstat_report_activity(STATE_RUNNING, activity);
		refresh_as_owner(mirrors[i], owners[i], full[i]);
	}
}

/*
 * wix_worker_main
 *		Do the work of one kind that is due in one database, report when
 *		the next is due, exit.
 */
void
wix_worker_main(Datum arg)
{
	Oid			dboid = DatumGetObjectId(arg);
	WixWorkKind kind = (WixWorkKind) MyBgworkerEntry->bgw_extra[0];
	TimestampTz next_due = 0;
	bool		installed;

	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, 0);
	pgstat_report_appname("wix_admin worker");

	StartTransactionCommand();
	installed = OidIsValid(get_extension_oid("wix_admin", true)) &&
		OidIsValid(get_namespace_oid("wix_admin", true)) &&
		OidIsValid(get_relname_relid("queue", get_namespace_oid("wix_admin", true)));
	CommitTransactionCommand();

	if (installed && kind == WORK_DELIVER && wix_deliver_in_worker)
	{
		pgstat_report_activity(STATE_RUNNING, "delivering wix_admin actions");
		(void) wix_queue_process(-1, false, &next_due);
	}
	if (kind == WORK_DELIVER)
		report_next_due(dboid, WORK_DELIVER, next_due);

	next_due = 0;
	if (installed && wix_refresh_mirrors_in_worker)
	{
		if (kind == WORK_MIRRORS)
			refresh_due_mirrors();
		next_due = next_mirror_due();
	}
	pgstat_report_activity(STATE_IDLE, NULL);
	report_next_due(dboid, WORK_MIRRORS, next_due);
	proc_exit(0);
}
