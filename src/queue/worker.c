/*-------------------------------------------------------------------------
 *
 * worker.c
 *		  Background workers delivering deferred admin actions: a launcher,
 *		  and short-lived workers it starts, one per database at a time.
 *
 * Registered only when wix_admin is in shared_preload_libraries; without
 * it, CALL wix_admin.process_queue() delivers (e.g. from pg_cron).
 *
 * The launcher is connected to no database.  It keeps, in shared memory, a
 * slot per database that has (or may have) work: "pending" when a
 * transaction that queued an action committed there (the committing backend
 * sets it and the launcher's latch: no polling), and the time the next
 * retry is due.  For each such database it starts a worker, at most
 * wix_admin.max_workers at once; the worker delivers everything due, reports
 * when the next retry is due, and exits.  Workers do not stay connected, so
 * DROP DATABASE is never blocked for long.
 *
 * At start (after a crash or restart too) and every wix_admin.worker_naptime
 * the launcher starts a worker for every database that allows connections:
 * actions queued before the restart, or in transactions committed with
 * COMMIT PREPARED, are delivered then.  A worker finding no wix_admin
 * extension, or wix_admin.deliver_in_worker off for its database, exits at
 * once.
 *
 *-------------------------------------------------------------------------
 */
#include "wix_queue.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_database.h"
#include "commands/extension.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "tcop/tcopprot.h"
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

typedef struct WixWorkerSlot
{
	Oid			dboid;			/* InvalidOid: free */
	bool		pending;		/* a commit queued work: start a worker */
	bool		running;		/* a worker is delivering (launcher only) */
	TimestampTz next_due;		/* next retry, 0: none */
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

/*
 * wix_worker_wake
 *		A transaction of database dboid that queued actions committed: have
 *		a worker deliver them.  Does nothing without the launcher.
 */
void
wix_worker_wake(Oid dboid)
{
	Latch	   *latch;
	WixWorkerSlot *slot;

	if (shared == NULL)
		return;
	SpinLockAcquire(&shared->mutex);
	slot = slot_for(dboid);
	if (slot != NULL)
		slot->pending = true;
	latch = shared->launcher_latch;
	SpinLockRelease(&shared->mutex);
	/* all slots used: the launcher's naptime sweep will come */
	if (latch != NULL)
		SetLatch(latch);
}

/* A worker reports when its database's next retry is due. */
static void
report_next_due(Oid dboid, TimestampTz next_due)
{
	WixWorkerSlot *slot;

	SpinLockAcquire(&shared->mutex);
	slot = slot_for(dboid);
	if (slot != NULL)
		slot->next_due = next_due;
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
start_worker(Oid dboid)
{
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "wix_admin");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "wix_worker_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "wix_admin worker for database %u", dboid);
	snprintf(worker.bgw_type, BGW_MAXLEN, "wix_admin worker");
	worker.bgw_main_arg = ObjectIdGetDatum(dboid);
	worker.bgw_notify_pid = MyProcPid;
	if (!RegisterDynamicBackgroundWorker(&worker, &handle))
		return NULL;
	return handle;
}

/*
 * launcher_round
 *		Start the workers needed now; return how long to sleep.
 */
static long
launcher_round(BackgroundWorkerHandle **handles)
{
	TimestampTz now = GetCurrentTimestamp();
	long		sleep_ms = (long) wix_worker_naptime_s * 1000;
	int			running = 0;

	for (int i = 0; i < WIX_WORKER_SLOTS; i++)
	{
		pid_t		pid;

		if (handles[i] != NULL &&
			GetBackgroundWorkerPid(handles[i], &pid) == BGWH_STOPPED)
		{
			pfree(handles[i]);
			handles[i] = NULL;
		}
		if (handles[i] != NULL)
			running++;
	}

	for (int i = 0; i < WIX_WORKER_SLOTS; i++)
	{
		WixWorkerSlot *slot = &shared->slots[i];
		Oid			dboid = InvalidOid;
		bool		due;

		if (handles[i] != NULL)
			continue;
		SpinLockAcquire(&shared->mutex);
		slot->running = false;
		due = slot->dboid != InvalidOid &&
			(slot->pending || (slot->next_due != 0 && slot->next_due <= now));
		if (due && running < wix_max_workers)
		{
			dboid = slot->dboid;
			slot->pending = false;
			slot->next_due = 0;
			slot->running = true;
		}
		else if (slot->dboid != InvalidOid && !due && slot->next_due == 0)
			slot->dboid = InvalidOid;	/* nothing to do there: free it */
		else if (slot->dboid != InvalidOid && !due)
		{
			long		secs;
			int			usecs;

			TimestampDifference(now, slot->next_due, &secs, &usecs);
			sleep_ms = Min(sleep_ms, secs * 1000 + usecs / 1000 + 1);
		}
		SpinLockRelease(&shared->mutex);

		if (due && !OidIsValid(dboid))
			sleep_ms = Min(sleep_ms, LAUNCHER_RETRY_MS);	/* too many running */
		if (!OidIsValid(dboid))
			continue;
		handles[i] = start_worker(dboid);
		if (handles[i] == NULL)
		{
			/* no free background worker slot: try again soon */
			SpinLockAcquire(&shared->mutex);
			slot->pending = true;
			slot->running = false;
			SpinLockRelease(&shared->mutex);
			sleep_ms = Min(sleep_ms, LAUNCHER_RETRY_MS);
		}
		else
			running++;
	}
	return Max(sleep_ms, 1);
}

void
wix_launcher_main(Datum arg)
{
	BackgroundWorkerHandle **handles;
	TimestampTz last_sweep;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	pgstat_report_appname("wix_admin launcher");

	MemoryContextSwitchTo(AllocSetContextCreate(TopMemoryContext,
												"wix_admin launcher",
												ALLOCSET_DEFAULT_SIZES));
	handles = palloc0(sizeof(BackgroundWorkerHandle *) * WIX_WORKER_SLOTS);
	SpinLockAcquire(&shared->mutex);
	shared->launcher_latch = MyLatch;
	for (int i = 0; i < WIX_WORKER_SLOTS; i++)
		shared->slots[i].running = false;
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
 * wix_worker_main
 *		Deliver what is due in one database, report the next retry, exit.
 */
void
wix_worker_main(Datum arg)
{
	Oid			dboid = DatumGetObjectId(arg);
	TimestampTz next_due = 0;
	bool		ready;

	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, 0);
	pgstat_report_appname("wix_admin worker");

	StartTransactionCommand();
	ready = wix_deliver_in_worker &&
		OidIsValid(get_extension_oid("wix_admin", true)) &&
		OidIsValid(get_namespace_oid("wix_admin", true)) &&
		OidIsValid(get_relname_relid("queue", get_namespace_oid("wix_admin", true)));
	CommitTransactionCommand();

	if (ready)
	{
		pgstat_report_activity(STATE_RUNNING, "delivering wix_admin actions");
		(void) wix_queue_process(-1, false, &next_due);
		pgstat_report_activity(STATE_IDLE, NULL);
	}
	report_next_due(dboid, next_due);
	proc_exit(0);
}
