/*-------------------------------------------------------------------------
 *
 * mirror.c
 *		  The C side of local mirrors (the rest is PL/pgSQL in the extension
 *		  script; worker.c refreshes them in the background): their
 *		  settings, and the one way to write the mirror registry.
 *
 * wix_admin.mirror_registry is nobody's to write but its owner's.  Mirror
 * functions run as their caller (with the caller's user mapping and
 * privileges on the source), so they record their state through
 * wix_admin.mirror_registry_write(), which lets a role write only the row of
 * a mirror table it owns and does the write as the registry's owner, as
 * the audit log's rows are inserted.  A transaction that registers a mirror
 * or changes its refresh_every wakes the worker when it commits, so that a
 * new mirror's first refresh does not wait for the launcher's sweep.
 *
 * A refresh holds a session-level lock on its mirror from start to end, over
 * the commits of its batches (wix_admin.mirror_lock()).  A refresh that dies
 * of an error it does not catch (a cancel between two batches, say) must
 * not leave its session holding it, blocking the worker and every later
 * refresh: the lock goes with the transaction that failed.
 *
 *-------------------------------------------------------------------------
 */
#include "wix_queue.h"
#include "wix_admin.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_class.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/lock.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/jsonb.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

/* How far back an incremental refresh reads before its watermark (GUC) */
int			wix_mirror_overlap_s = 300;

/* Age of a mirror's last full read after which a due refresh reads all (GUC) */
static int	wix_mirror_full_refresh_every_s = 86400;

/* Whether the background worker refreshes the database's mirrors (GUC) */
bool		wix_refresh_mirrors_in_worker = true;

/* A mirror's schedule changed in this transaction: wake the worker */
static bool wake_at_commit = false;

/*
 * The refresh lock's first key, "WXMR"; the second is the mirror's OID, as
 * pg_advisory_lock(int4, int4) would take it: the mirrors view finds it in
 * pg_locks.
 */
#define MIRROR_LOCK_KEY 0x57584d52

/* The mirror this session is refreshing, whose lock it holds, or 0 */
static Oid	refreshing_mirror = InvalidOid;

static const WixIntSetting mirror_settings[] = {
	{"wix_admin.mirror_overlap",
		"How far before its watermark an incremental mirror refresh reads.",
		"Covers Wix's search-index lag: rows changed shortly before the last refresh are read again.",
	&wix_mirror_overlap_s, 300, 0, 86400 * 7, PGC_USERSET, GUC_UNIT_S},
	{"wix_admin.mirror_full_refresh_every",
		"Age of a mirror's last full read after which its due refresh reads everything.",
		"Such a refresh, by the worker or CALL wix_admin.refresh_mirror(), removes rows Wix no longer returns.",
	&wix_mirror_full_refresh_every_s, 86400, 1, INT_MAX, PGC_USERSET, GUC_UNIT_S},
};

static const WixBoolSetting mirror_bool_settings[] = {
	{"wix_admin.refresh_mirrors_in_worker",
		"Lets the background worker refresh the database's due mirrors.",
		"Off: only CALL wix_admin.refresh_mirror() does.",
	&wix_refresh_mirrors_in_worker, true, PGC_SUSET},
};

PG_FUNCTION_INFO_V1(wix_mirror_registry_write);
PG_FUNCTION_INFO_V1(wix_mirror_full_refresh_every);
PG_FUNCTION_INFO_V1(wix_mirror_lock);
PG_FUNCTION_INFO_V1(wix_mirror_unlock);

static void
refresh_lock_tag(LOCKTAG *tag, Oid mirror)
{
	SET_LOCKTAG_ADVISORY(*tag, MyDatabaseId, MIRROR_LOCK_KEY, (uint32) mirror, 2);
}

/* Release the refresh lock this session holds, if any. */
static void
release_refresh_lock(void)
{
	LOCKTAG		tag;

	if (!OidIsValid(refreshing_mirror))
		return;
	refresh_lock_tag(&tag, refreshing_mirror);
	refreshing_mirror = InvalidOid;
	LockRelease(&tag, ExclusiveLock, true);
}

static void
mirror_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_COMMIT && wake_at_commit)
		wix_worker_wake_mirrors(MyDatabaseId);
	/* a refresh's transaction failed: it is over */
	if (event == XACT_EVENT_ABORT)
		release_refresh_lock();
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PREPARE)
		wake_at_commit = false;
}

/*
 * wix_mirror_define_gucs
 *		The mirrors' settings, and the wake-up at commit.
 */
void
wix_mirror_define_gucs(void)
{
	wix_define_int_settings(mirror_settings, lengthof(mirror_settings));
	wix_define_bool_settings(mirror_bool_settings, lengthof(mirror_bool_settings));
	RegisterXactCallback(mirror_xact_callback, NULL);
}

/*
 * wix_mirror_full_refresh_every
 *		SQL function wix_admin.mirror_full_refresh_every(): the setting as an
 *		interval, for the mirrors view (calling it loads the library, which
 *		defines the setting).
 */
Datum
wix_mirror_full_refresh_every(PG_FUNCTION_ARGS)
{
	Interval   *result = palloc0(sizeof(Interval));

	result->time = (int64) wix_mirror_full_refresh_every_s * USECS_PER_SEC;
	PG_RETURN_INTERVAL_P(result);
}

static Oid table_owner(Oid relid);

/* Error unless the current role has the privileges of the mirror's owner. */
static void
check_mirror_owner(Oid mirror)
{
	if (!has_privs_of_role(GetUserId(), table_owner(mirror)))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("must be owner of table %s to change its mirror", get_rel_name(mirror)),
				 errdetail("Mirrors are refreshed and dropped by their table's owner.")));
}

/*
 * wix_mirror_lock
 *		SQL function wix_admin.mirror_lock(mirror regclass, wait boolean):
 *		take the mirror's refresh lock for this session, waiting for another
 *		session's refresh to end when wait; false when it did not wait and
 *		the lock is taken.  The lock is released by mirror_unlock(), or by
 *		the failure of a transaction.
 */
Datum
wix_mirror_lock(PG_FUNCTION_ARGS)
{
	Oid			mirror = PG_GETARG_OID(0);
	bool		wait = PG_GETARG_BOOL(1);
	LOCKTAG		tag;

	check_mirror_owner(mirror);
	if (OidIsValid(refreshing_mirror))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("this session is already refreshing mirror %s",
						get_rel_name(refreshing_mirror)),
				 errdetail("A session refreshes one mirror at a time.")));
	refresh_lock_tag(&tag, mirror);
	if (LockAcquire(&tag, ExclusiveLock, true, !wait) == LOCKACQUIRE_NOT_AVAIL)
		PG_RETURN_BOOL(false);
	refreshing_mirror = mirror;
	PG_RETURN_BOOL(true);
}

/*
 * wix_mirror_unlock
 *		SQL function wix_admin.mirror_unlock(): release the refresh lock this
 *		session holds.
 */
Datum
wix_mirror_unlock(PG_FUNCTION_ARGS)
{
	release_refresh_lock();
	PG_RETURN_VOID();
}

/* The owner of table relid; an error when there is no such table. */
static Oid
table_owner(Oid relid)
{
	HeapTuple	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Oid			owner;

	if (!HeapTupleIsValid(tuple))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid)));
	owner = ((Form_pg_class) GETSTRUCT(tuple))->relowner;
	ReleaseSysCache(tuple);
	return owner;
}

/*
 * wix_mirror_registry_write
 *		SQL function wix_admin.mirror_registry_write(mirror regclass,
 *		changes jsonb): merge changes (registry columns by name) into the
 *		mirror's row, creating it if needed; NULL changes delete the row.
 *		Only a role with the privileges of the mirror table's owner may; the
 *		row's owner is always that table's owner.
 */
Datum
wix_mirror_registry_write(PG_FUNCTION_ARGS)
{
	static const char *merge_sql =
		"WITH old AS (DELETE FROM wix_admin.mirror_registry WHERE mirror = $1 "
		"             RETURNING to_jsonb(mirror_registry) AS row) "
		"INSERT INTO wix_admin.mirror_registry "
		"SELECT (jsonb_populate_record(NULL::wix_admin.mirror_registry, "
		"          coalesce((SELECT row FROM old), '{}') || $2 "
		"          || jsonb_build_object('mirror', $1, 'owner', $3))).*";
	static const char *delete_sql =
		"DELETE FROM wix_admin.mirror_registry WHERE mirror = $1";
	Oid			mirror;
	Oid			owner;
	Oid			argtypes[3] = {OIDOID, JSONBOID, OIDOID};
	Datum		values[3];
	WixSavedUser saved;
	int			rc;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("the mirror must not be NULL")));
	mirror = PG_GETARG_OID(0);
	owner = table_owner(mirror);
	check_mirror_owner(mirror);

	values[0] = ObjectIdGetDatum(mirror);
	values[1] = PG_ARGISNULL(1) ? (Datum) 0 : PG_GETARG_DATUM(1);
	values[2] = ObjectIdGetDatum(owner);

	wix_become_table_owner("mirror_registry", SECURITY_RESTRICTED_OPERATION, &saved);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (PG_ARGISNULL(1))
		rc = SPI_execute_with_args(delete_sql, 1, argtypes, values, NULL, false, 0);
	else
		rc = SPI_execute_with_args(merge_sql, 3, argtypes, values, NULL, false, 0);
	if (rc != (PG_ARGISNULL(1) ? SPI_OK_DELETE : SPI_OK_INSERT))
		elog(ERROR, "could not write wix_admin.mirror_registry: %s",
			 SPI_result_code_string(rc));
	SPI_finish();
	wix_restore_user(&saved);
	if (!PG_ARGISNULL(1) &&
		DatumGetBool(DirectFunctionCall2(jsonb_exists, PG_GETARG_DATUM(1),
										 CStringGetTextDatum("refresh_every"))))
		wake_at_commit = true;
	PG_RETURN_VOID();
}
