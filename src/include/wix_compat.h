/*-------------------------------------------------------------------------
 *
 * wix_compat.h
 *		  Everything that differs between the PostgreSQL releases wix_admin
 *		  supports (15, 17 and 18): the only place for PG_VERSION_NUM.
 *
 * The rest of the code calls what is here, and nothing here is more than a
 * thin wrapper:
 *
 * - wait events: 17 added named custom wait events (WaitEventExtensionNew):
 *	 there a wait shows as type "Extension" with the event "WixRequest" or
 *	 "WixRateLimit".  Before 17 every extension wait is the one event
 *	 "Extension" of type "Extension".
 * - ACL checks: 16 replaced pg_foreign_server_aclcheck, pg_proc_aclcheck
 *	 and friends by object_aclcheck; on 15 object_aclcheck is defined here
 *	 for the catalogs wix_admin checks.
 * - the role a foreign scan or DML checks permissions as: 16 moved
 *	 checkAsUser from the range table entry to the ForeignScan and
 *	 RTEPermissionInfo (ExecGetResultRelCheckAsUser).
 * - create_foreignscan_path and create_foreign_upper_path: 17 added
 *	 fdw_restrictinfo, 18 disabled_nodes.
 * - PathKey's direction: 18 replaced the btree strategy (pk_strategy) by a
 *	 CompareType (pk_cmptype).
 * - EXPLAIN: 18 moved ExplainState to commands/explain_state.h and the
 *	 ExplainProperty functions to commands/explain_format.h.
 * - PortalRun: 18 dropped its run_once argument.
 *
 *-------------------------------------------------------------------------
 */
#ifndef WIX_COMPAT_H
#define WIX_COMPAT_H

#include "postgres.h"

#include "access/stratnum.h"
#include "catalog/pg_foreign_server_d.h"
#include "catalog/pg_proc_d.h"
#include "commands/explain.h"
#include "miscadmin.h"
#if PG_VERSION_NUM >= 180000
#include "commands/explain_format.h"
#include "commands/explain_state.h"
#endif
#include "nodes/execnodes.h"
#include "nodes/pathnodes.h"
#include "nodes/plannodes.h"
#include "optimizer/pathnode.h"
#include "parser/parsetree.h"
#include "tcop/pquery.h"
#include "utils/acl.h"
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

#if PG_VERSION_NUM < 160000
/* object_aclcheck of 16, for foreign servers and functions */
static inline AclResult
object_aclcheck(Oid classid, Oid objectid, Oid roleid, AclMode mode)
{
	switch (classid)
	{
		case ForeignServerRelationId:
			return pg_foreign_server_aclcheck(objectid, roleid, mode);
		case ProcedureRelationId:
			return pg_proc_aclcheck(objectid, roleid, mode);
	}
	elog(ERROR, "unsupported object class %u", classid);
	pg_unreachable();
}
#endif

/* The role a foreign scan checks permissions as (InvalidOid: the current user). */
static inline Oid
wix_scan_check_as_user(ForeignScanState *node)
{
	ForeignScan *fsplan = (ForeignScan *) node->ss.ps.plan;

#if PG_VERSION_NUM >= 160000
	return fsplan->checkAsUser;
#else
	return exec_rt_fetch(fsplan->scan.scanrelid, node->ss.ps.state)->checkAsUser;
#endif
}

/*
 * The role DML on a foreign table checks permissions as: a view's owner
 * for DML through the view, else the current user.
 */
static inline Oid
wix_result_rel_user_id(ResultRelInfo *rinfo, EState *estate)
{
#if PG_VERSION_NUM >= 160000
	return ExecGetResultRelCheckAsUser(rinfo, estate);
#else
	ResultRelInfo *root = rinfo->ri_RootResultRelInfo ? rinfo->ri_RootResultRelInfo : rinfo;
	Oid			userid = root->ri_RangeTableIndex > 0 ?
		exec_rt_fetch(root->ri_RangeTableIndex, estate)->checkAsUser : InvalidOid;

	return OidIsValid(userid) ? userid : GetUserId();
#endif
}

/* create_foreignscan_path, enabled, with no fdw_outerpath or restrictinfo */
static inline ForeignPath *
wix_create_foreignscan_path(PlannerInfo *root, RelOptInfo *rel, double rows,
							Cost startup, Cost total, List *pathkeys,
							Relids required_outer, List *fdw_private)
{
#if PG_VERSION_NUM >= 180000
	return create_foreignscan_path(root, rel, NULL, rows, 0, startup, total,
								   pathkeys, required_outer, NULL, NIL,
								   fdw_private);
#elif PG_VERSION_NUM >= 170000
	return create_foreignscan_path(root, rel, NULL, rows, startup, total,
								   pathkeys, required_outer, NULL, NIL,
								   fdw_private);
#else
	return create_foreignscan_path(root, rel, NULL, rows, startup, total,
								   pathkeys, required_outer, NULL,
								   fdw_private);
#endif
}

/* create_foreign_upper_path, enabled, with no fdw_outerpath or restrictinfo */
static inline ForeignPath *
wix_create_foreign_upper_path(PlannerInfo *root, RelOptInfo *rel,
							  PathTarget *target, double rows, Cost startup,
							  Cost total, List *pathkeys, List *fdw_private)
{
#if PG_VERSION_NUM >= 180000
	return create_foreign_upper_path(root, rel, target, rows, 0, startup, total,
									 pathkeys, NULL, NIL, fdw_private);
#elif PG_VERSION_NUM >= 170000
	return create_foreign_upper_path(root, rel, target, rows, startup, total,
									 pathkeys, NULL, NIL, fdw_private);
#else
	return create_foreign_upper_path(root, rel, target, rows, startup, total,
									 pathkeys, NULL, fdw_private);
#endif
}

/*
 * Is a pathkey a plain ascending or descending order (not some other
 * operator family's)?  If so, sets *descending.
 */
static inline bool
wix_pathkey_direction(const PathKey *pathkey, bool *descending)
{
#if PG_VERSION_NUM >= 180000
	if (pathkey->pk_cmptype != COMPARE_LT && pathkey->pk_cmptype != COMPARE_GT)
		return false;
	*descending = (pathkey->pk_cmptype == COMPARE_GT);
#else
	if (pathkey->pk_strategy != BTLessStrategyNumber &&
		pathkey->pk_strategy != BTGreaterStrategyNumber)
		return false;
	*descending = (pathkey->pk_strategy == BTGreaterStrategyNumber);
#endif
	return true;
}

/* PortalRun, run to completion at top level */
static inline bool
wix_portal_run(Portal portal, DestReceiver *dest, QueryCompletion *qc)
{
#if PG_VERSION_NUM >= 180000
	return PortalRun(portal, FETCH_ALL, true, dest, dest, qc);
#else
	return PortalRun(portal, FETCH_ALL, true, true, dest, dest, qc);
#endif
}

#endif							/* WIX_COMPAT_H */
