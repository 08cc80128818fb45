/*-------------------------------------------------------------------------
 *
 * wix_fdw.c
 *		  The foreign-data wrapper callbacks of wix_admin: planning, the
 *		  paged scan, EXPLAIN and IMPORT FOREIGN SCHEMA.
 *
 * A scan asks the resource's query endpoint for one page at a time, only
 * when PostgreSQL wants more rows, and converts rows straight from the
 * parsed page; a page's memory is freed as soon as the next one arrives, so
 * memory does not grow with the number of rows.
 *
 *-------------------------------------------------------------------------
 */
#include "wix_admin.h"

#include <math.h>

#include "access/htup_details.h"
#include "access/table.h"
#include "commands/explain.h"
#include "foreign/fdwapi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "optimizer/planmain.h"
#include "optimizer/restrictinfo.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/rel.h"

PG_MODULE_MAGIC;

/* Planner estimates until remote estimates exist. */
#define DEFAULT_ROWS_ESTIMATE	1000
#define REQUEST_COST			100.0	/* one round trip to Wix */
#define ROW_COST				0.01

/* Indexes of the fdw_private list of a ForeignScan. */
enum WixScanPrivate
{
	WixPrivateResource,			/* String: the resource name */
	WixPrivateRetrievedAttrs	/* IntList: attnums the scan fills */
};

typedef struct WixScanState
{
	WixConnection *conn;
	const WixResource *resource;
	const WixEndpoint *endpoint;	/* chosen at the first fetch */
	List	   *retrieved_attrs;
	WixColumnConverter **converters;	/* by attnum - 1; NULL = always null */
	WixPager	pager;
	MemoryContext scan_cxt;		/* pager state, converters */
	MemoryContext page_cxt;		/* the current page's JSON */
	MemoryContext row_cxt;		/* the current row's values */
	json_object *items;			/* current page's items, or NULL */
	size_t		nitems;
	size_t		next_item;
	WixRequestStats stats;
} WixScanState;

PG_FUNCTION_INFO_V1(wix_admin_fdw_handler);

static void
wixGetForeignRelSize(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid)
{
	baserel->rows = DEFAULT_ROWS_ESTIMATE;
	baserel->fdw_private = wix_table_resource(foreigntableid);
}

static void
wixGetForeignPaths(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid)
{
	double		pages = ceil(baserel->rows / 100.0);
	Cost		startup_cost = REQUEST_COST;
	Cost		total_cost = startup_cost + pages * REQUEST_COST +
		baserel->rows * (ROW_COST + cpu_tuple_cost);

	add_path(baserel, (Path *)
			 create_foreignscan_path(root, baserel, NULL, baserel->rows,
									 startup_cost, total_cost,
									 NIL, NULL, NULL, NIL));
}

/*
 * retrieved_attrs
 *		The columns a scan must fill: those in the target list and in the
 *		conditions evaluated locally.  A whole-row reference needs them all.
 */
static List *
retrieved_attrs(RelOptInfo *baserel, List *local_exprs, Relation rel)
{
	Bitmapset  *attrs = NULL;
	List	   *result = NIL;
	TupleDesc	tupdesc = RelationGetDescr(rel);
	bool		whole_row;

	pull_varattnos((Node *) baserel->reltarget->exprs, baserel->relid, &attrs);
	pull_varattnos((Node *) local_exprs, baserel->relid, &attrs);
	whole_row = bms_is_member(0 - FirstLowInvalidHeapAttributeNumber, attrs);

	for (int i = 1; i <= tupdesc->natts; i++)
	{
		if (TupleDescAttr(tupdesc, i - 1)->attisdropped)
			continue;
		if (whole_row ||
			bms_is_member(i - FirstLowInvalidHeapAttributeNumber, attrs))
			result = lappend_int(result, i);
	}
	return result;
}

static ForeignScan *
wixGetForeignPlan(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid,
				  ForeignPath *best_path, List *tlist, List *scan_clauses,
				  Plan *outer_plan)
{
	List	   *local_exprs = extract_actual_clauses(scan_clauses, false);
	Relation	rel = table_open(foreigntableid, NoLock);
	List	   *attrs = retrieved_attrs(baserel, local_exprs, rel);
	List	   *fdw_private;

	table_close(rel, NoLock);
	fdw_private = list_make2(makeString(baserel->fdw_private), attrs);

	return make_foreignscan(tlist, local_exprs, baserel->relid,
							NIL, fdw_private, NIL, NIL, outer_plan);
}

/* The role whose user mapping a scan uses. */
static Oid
scan_user_id(ForeignScanState *node)
{
	ForeignScan *fsplan = (ForeignScan *) node->ss.ps.plan;

#if PG_VERSION_NUM >= 160000
	return OidIsValid(fsplan->checkAsUser) ? fsplan->checkAsUser : GetUserId();
#else
	RangeTblEntry *rte = exec_rt_fetch(fsplan->scan.scanrelid,
									   node->ss.ps.state);

	return OidIsValid(rte->checkAsUser) ? rte->checkAsUser : GetUserId();
#endif
}

static void
wixBeginForeignScan(ForeignScanState *node, int eflags)
{
	ForeignScan *fsplan = (ForeignScan *) node->ss.ps.plan;
	EState	   *estate = node->ss.ps.state;
	WixScanState *state;
	Oid			tableid = RelationGetRelid(node->ss.ss_currentRelation);
	ForeignTable *table = GetForeignTable(tableid);

	state = palloc0(sizeof(WixScanState));
	node->fdw_state = state;
	state->resource = wix_find_resource(strVal(list_nth(fsplan->fdw_private,
														WixPrivateResource)));
	if (state->resource == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("unknown Wix resource \"%s\"",
						strVal(list_nth(fsplan->fdw_private, WixPrivateResource)))));
	state->retrieved_attrs = list_nth(fsplan->fdw_private,
									  WixPrivateRetrievedAttrs);

	/* EXPLAIN without ANALYZE sends nothing and needs no connection */
	if (eflags & EXEC_FLAG_EXPLAIN_ONLY)
		return;

	state->conn = wix_get_connection(GetUserMapping(scan_user_id(node),
													table->serverid));
	state->scan_cxt = AllocSetContextCreate(estate->es_query_cxt,
											"wix_admin scan",
											ALLOCSET_DEFAULT_SIZES);
	state->page_cxt = AllocSetContextCreate(state->scan_cxt,
											"wix_admin page",
											ALLOCSET_DEFAULT_SIZES);
	state->row_cxt = AllocSetContextCreate(state->scan_cxt,
										   "wix_admin row",
										   ALLOCSET_SMALL_SIZES);
}

/*
 * column_path
 *		A column's Wix path: its "path" option; else, for a standard column
 *		of the resource, the endpoint's path (NULL when that endpoint lacks
 *		the field); else its name in camelCase.
 */
static const char *
column_path(Oid tableid, Form_pg_attribute attr, const WixEndpoint *endpoint)
{
	const char *path = wix_column_path_option(tableid, attr->attnum);
	bool		standard;

	if (path != NULL)
		return path;
	path = wix_endpoint_column_path(endpoint, NameStr(attr->attname), &standard);
	if (standard)
		return path;
	return wix_default_path(NameStr(attr->attname));
}

/*
 * start_scan
 *		At the first fetch: pick the endpoint (asking Wix for the Stores
 *		catalog when it matters) and prepare the column converters.
 */
static void
start_scan(ForeignScanState *node, WixScanState *state)
{
	Relation	rel = node->ss.ss_currentRelation;
	TupleDesc	tupdesc = RelationGetDescr(rel);
	MemoryContext oldcxt = MemoryContextSwitchTo(state->scan_cxt);
	WixCatalogVersion catalog = WIX_CATALOG_ANY;
	ListCell   *lc;

	if (wix_resource_needs_catalog(state->resource))
		catalog = wix_catalog_version(state->conn);
	state->endpoint = wix_resource_endpoint(state->resource, catalog);

	state->converters = palloc0(sizeof(WixColumnConverter *) * tupdesc->natts);
	foreach(lc, state->retrieved_attrs)
	{
		Form_pg_attribute attr = TupleDescAttr(tupdesc, lfirst_int(lc) - 1);
		const char *path = column_path(RelationGetRelid(rel), attr,
									   state->endpoint);

		if (path == NULL)
			continue;
		state->converters[attr->attnum - 1] = palloc(sizeof(WixColumnConverter));
		wix_converter_init(state->converters[attr->attnum - 1],
						   NameStr(attr->attname), path,
						   attr->atttypid, attr->atttypmod);
	}
	wix_pager_init(&state->pager, state->endpoint,
				   state->endpoint->max_page_size);
	MemoryContextSwitchTo(oldcxt);
}

/*
 * fetch_page
 *		Replace the current page with the next one.  False when there is none.
 */
static bool
fetch_page(WixScanState *state)
{
	MemoryContext oldcxt;
	json_object *body;
	WixJsonHolder *answer;
	json_object *items;

	/* frees the previous page's JSON through its reset callback */
	MemoryContextReset(state->page_cxt);
	state->items = NULL;
	state->nitems = state->next_item = 0;

	oldcxt = MemoryContextSwitchTo(state->page_cxt);
	body = wix_pager_next_body(&state->pager);
	if (body == NULL)
	{
		MemoryContextSwitchTo(oldcxt);
		return false;
	}
	answer = wix_request(state->conn, "POST", state->endpoint->query_path,
						 body, &state->stats);
	state->stats.pages++;

	/* the pager keeps its cursor across pages */
	MemoryContextSwitchTo(state->scan_cxt);
	items = wix_pager_take_items(&state->pager, answer->obj);
	MemoryContextSwitchTo(oldcxt);

	if (items != NULL)
	{
		state->items = items;
		state->nitems = json_object_array_length(items);
	}
	return true;
}

/* Fill the slot from one Wix item. */
static void
store_item(ForeignScanState *node, WixScanState *state, json_object *item)
{
	TupleTableSlot *slot = node->ss.ss_ScanTupleSlot;
	TupleDesc	tupdesc = slot->tts_tupleDescriptor;
	const WixEndpoint *endpoint = state->endpoint;
	MemoryContext oldcxt;
	ListCell   *lc;

	if (endpoint->item_root != NULL &&
		!json_object_object_get_ex(item, endpoint->item_root, &item))
		item = NULL;
	if (item == NULL || !json_object_is_type(item, json_type_object))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("Wix API response to %s holds an item that is not an object",
						endpoint->query_path)));

	ExecClearTuple(slot);
	memset(slot->tts_isnull, true, sizeof(bool) * tupdesc->natts);
	MemoryContextReset(state->row_cxt);
	oldcxt = MemoryContextSwitchTo(state->row_cxt);
	foreach(lc, state->retrieved_attrs)
	{
		int			index = lfirst_int(lc) - 1;
		WixColumnConverter *conv = state->converters[index];

		if (conv == NULL)
			continue;
		slot->tts_values[index] =
			wix_convert_value(conv,
							  wix_json_path_get(item, conv->segments, conv->nsegments),
							  &slot->tts_isnull[index]);
	}
	MemoryContextSwitchTo(oldcxt);
	ExecStoreVirtualTuple(slot);
}

static TupleTableSlot *
wixIterateForeignScan(ForeignScanState *node)
{
	WixScanState *state = node->fdw_state;

	if (state->endpoint == NULL)
		start_scan(node, state);

	while (state->next_item >= state->nitems)
	{
		if (!fetch_page(state))
			return ExecClearTuple(node->ss.ss_ScanTupleSlot);
	}
	store_item(node, state,
			   json_object_array_get_idx(state->items, state->next_item++));
	state->stats.rows++;
	return node->ss.ss_ScanTupleSlot;
}

static void
wixReScanForeignScan(ForeignScanState *node)
{
	WixScanState *state = node->fdw_state;

	if (state->endpoint == NULL)
		return;
	MemoryContextReset(state->page_cxt);
	state->items = NULL;
	state->nitems = state->next_item = 0;
	wix_pager_init(&state->pager, state->endpoint, state->pager.page_size);
}

static void
wixEndForeignScan(ForeignScanState *node)
{
	WixScanState *state = node->fdw_state;

	/* free the last page now rather than at the end of the query */
	if (state != NULL && state->scan_cxt != NULL)
	{
		MemoryContextDelete(state->scan_cxt);
		state->scan_cxt = state->page_cxt = state->row_cxt = NULL;
	}
}

static void
wixExplainForeignScan(ForeignScanState *node, ExplainState *es)
{
	WixScanState *state = node->fdw_state;
	const WixEndpoint *endpoint = state->endpoint;

	ExplainPropertyText("Wix resource", state->resource->name, es);
	if (endpoint == NULL && !wix_resource_needs_catalog(state->resource))
		endpoint = wix_resource_endpoint(state->resource, WIX_CATALOG_ANY);

	if (endpoint != NULL)
	{
		WixPager	pager;
		json_object *body;

		ExplainPropertyText("Wix request",
							psprintf("POST %s", endpoint->query_path), es);
		if (es->verbose)
		{
			wix_pager_init(&pager, endpoint, endpoint->max_page_size);
			body = wix_pager_next_body(&pager);
			ExplainPropertyText("Wix request body",
								json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN),
								es);
		}
	}
	else
		ExplainPropertyText("Wix request",
							"chosen by the site's Stores catalog (V1 or V3) when the scan starts",
							es);

	if (es->analyze)
	{
		ExplainPropertyInteger("Wix requests", NULL, state->stats.requests, es);
		ExplainPropertyInteger("Wix pages", NULL, state->stats.pages, es);
		ExplainPropertyInteger("Wix rows", NULL, state->stats.rows, es);
	}
}

static List *
wixImportForeignSchema(ImportForeignSchemaStmt *stmt, Oid serverOid)
{
	ForeignServer *server = GetForeignServer(serverOid);

	if (strcmp(stmt->remote_schema, "wix") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_SCHEMA_NOT_FOUND),
				 errmsg("Wix has no schema \"%s\"", stmt->remote_schema),
				 errhint("Use IMPORT FOREIGN SCHEMA wix FROM SERVER %s INTO ...; it holds the tables %s.",
						 quote_identifier(server->servername),
						 wix_resource_names())));
	return wix_import_statements(server->servername, stmt);
}

Datum
wix_admin_fdw_handler(PG_FUNCTION_ARGS)
{
	FdwRoutine *routine = makeNode(FdwRoutine);

	routine->GetForeignRelSize = wixGetForeignRelSize;
	routine->GetForeignPaths = wixGetForeignPaths;
	routine->GetForeignPlan = wixGetForeignPlan;
	routine->BeginForeignScan = wixBeginForeignScan;
	routine->IterateForeignScan = wixIterateForeignScan;
	routine->ReScanForeignScan = wixReScanForeignScan;
	routine->EndForeignScan = wixEndForeignScan;
	routine->ExplainForeignScan = wixExplainForeignScan;
	routine->ImportForeignSchema = wixImportForeignSchema;

	PG_RETURN_POINTER(routine);
}
