/*-------------------------------------------------------------------------
 *
 * scan.c
 *		  Executing a wix_admin foreign scan: the request plan of its
 *		  endpoint (query pages, GETs by path parameter, batches by parent
 *		  ids), pages requested ahead and read lazily, rows converted from
 *		  each page, and what EXPLAIN shows.
 *
 * A scan asks the resource's endpoint for one page at a time, only when
 * PostgreSQL wants more rows, and converts rows straight from the parsed
 * page; a page's memory is freed as soon as the next one arrives, so memory
 * does not grow with the number of rows.
 *
 *-------------------------------------------------------------------------
 */
#include "wix_fdw.h"

#include "wix_http.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

/* Pages a scan can have in flight at most. */
#define MAX_INFLIGHT 16

/* Rows between two nudges of the transfers in flight. */
#define POLL_EVERY_ROWS 32

/* Wix requests of this backend's finished scans (wix_admin.requests_made()) */
static int64 requests_of_finished_scans = 0;

/* The total Wix reported for the last finished scan's query; -1: none */
static int64 last_scan_total = -1;

PG_FUNCTION_INFO_V1(wix_requests_made);
PG_FUNCTION_INFO_V1(wix_last_scan_total);

/* The state of one foreign scan. */
typedef struct WixScanState
{
	WixConnection *conn;
	const WixResource *resource;
	const WixEndpoint *endpoint;	/* chosen at the first fetch */
	WixColumnPlans *plans;		/* the column plan of each endpoint */
	List	   *retrieved_attrs;
	List	   *remote_conds;
	List	   *param_exprs;
	List	   *param_states;	/* ExprStates of param_exprs */
	List	   *sort_keys;
	Index		varno;
	int			limit;			/* -1: no pushed LIMIT */
	int			offset;
	int			depth;			/* pages to keep in flight */
	bool		fetch_ahead;	/* request a page before its rows are wanted */
	WixColumnConverter **converters;	/* by attnum - 1; NULL = always null */
	int			whole_item_attr;	/* attnum - 1 of a selected jsonb "$"; or -1 */
	WixPager	pager;
	bool		query_started;	/* filter and pager built for this run */
	char	   *request_path;	/* the call's path, parameters filled */
	const char *get_key;		/* a GET call's key holding the items, or
								 * NULL: a paged POST */
	bool		get_done;
	WixPager	parent_pager;	/* batch calls: the scan yielding parent ids */
	List	   *parent_items;	/* ... its items, by id index, while needed */
	int			batch_first;	/* index of the next batch answer's first id */
	int			window_first;	/* the current batch answer's ids: from */
	int			window_n;		/* ... and how many */
	int			held_first;		/* parent items of the current page: from */
	WixRowsPath rows_path;		/* the endpoint's, split */
	json_object **ancestors;	/* rows inside items: nlevels per row, the
								 * element one level up first */
	int			nlevels;
	bool		keep_parents;	/* batch calls: rows read their parent items */
	char	   *sent_filter;	/* for EXPLAIN ANALYZE */
	char	   *sent_sort;
	MemoryContext scan_cxt;		/* converters; lives as long as the scan */
	MemoryContext query_cxt;	/* filter, sort and pager; reset by rescans */
	MemoryContext page_cxt;		/* the current page's JSON */
	MemoryContext row_cxt;		/* the current row's values */
	json_object *items;			/* current page's items, or NULL */
	WixJsonbPage jsonb_page;	/* or the page straight to jsonb */
	size_t		nitems;
	size_t		next_item;
	int64		skipped;		/* rows skipped for a pushed OFFSET */
	int64		returned;		/* rows returned under a pushed LIMIT */
	int64		fetched;		/* rows received in this run */
	int			counted;		/* items of a page counted, not parsed */
	bool		page_outlined;	/* read_page has seen the current page */
	WixPendingRequest *pending[MAX_INFLIGHT];	/* in page order */
	int			npending;
	WixRequestStats stats;
	WixRequestStats run_start;	/* stats when this run began */
	Oid			serverid;		/* for the remembered size of the table */
	Oid			umid;
	int			estimated_requests; /* the planner's, per run */
	int			full_read_requests; /* the planner's, for the whole table */
	/* the guard of a parameterized scan (see guard_trips) */
	ExprState  *copy_qual;		/* the pushed conditions, evaluated here */
	Tuplestorestate *table_copy;	/* the whole table, once read */
	TupleTableSlot *copy_slot;
	int64		lookup_requests;	/* requests before the guard tripped */
	int64		copy_requests;	/* ... and for the copy */
	/* progress NOTICEs (wix_admin.progress_every) */
	char	   *table_name;		/* qualified, for the NOTICEs */
	TimestampTz run_started;
	TimestampTz last_progress;
	void	   *direct_modify;	/* an UPDATE or DELETE this scan feeds
								 * (modify.c), or NULL */
} WixScanState;

/* Are an endpoint's rows inside its items, or batch answers with parents? */
static bool
has_rows_inside(const WixEndpoint *endpoint)
{
	return endpoint->rows_path != NULL || endpoint->batch != NULL;
}

/* The role whose user mapping a scan uses. */
static Oid
scan_user_id(ForeignScanState *node)
{
	Oid			userid = wix_scan_check_as_user(node);

	return OidIsValid(userid) ? userid : GetUserId();
}

/* What substitute_params replaces: each of from by the same place of to. */
typedef struct ParamSubstitution
{
	List	   *from;
	List	   *to;
} ParamSubstitution;

static Node *
substitute_params(Node *node, ParamSubstitution *subst)
{
	ListCell   *from;
	ListCell   *to;

	if (node == NULL)
		return NULL;
	forboth(from, subst->from, to, subst->to)
	{
		if (equal(node, lfirst(from)))
			return copyObject(lfirst(to));
	}
	return expression_tree_mutator(node, substitute_params, subst);
}

/*
 * init_guard
 *		A parameterized scan keeps its pushed conditions ready to evaluate
 *		here, on a copy of the whole table, should its look-ups come to cost
 *		more requests than reading the table (see guard_trips).  In them, the
 *		other side's values become the executor's parameters, as in
 *		fdw_exprs.
 */
static void
init_guard(ForeignScanState *node, WixScanState *state)
{
	ForeignScan *fsplan = (ForeignScan *) node->ss.ps.plan;
	ParamSubstitution subst = {state->param_exprs, fsplan->fdw_exprs};
	List	   *conds;

	if (state->full_read_requests <= 0)
		return;
	for (int i = 0; state->resource->endpoints[i] != NULL; i++)
	{
		/* a table read only with a value in its path has no full read */
		if (wix_path_params(state->resource->endpoints[i]->query_path) != NIL)
			return;
	}
	conds = (List *) substitute_params((Node *) state->remote_conds, &subst);
	fix_opfuncids((Node *) conds);
	state->copy_qual = ExecInitQual(conds, (PlanState *) node);
	state->copy_slot = ExecInitExtraTupleSlot(node->ss.ps.state,
											  RelationGetDescr(node->ss.ss_currentRelation),
											  &TTSOpsMinimalTuple);
}

void
wixBeginForeignScan(ForeignScanState *node, int eflags)
{
	ForeignScan *fsplan = (ForeignScan *) node->ss.ps.plan;
	List	   *fdw_private = fsplan->fdw_private;
	EState	   *estate = node->ss.ps.state;
	WixScanState *state;
	Oid			tableid = RelationGetRelid(node->ss.ss_currentRelation);
	ForeignTable *table = GetForeignTable(tableid);
	const char *resource = strVal(list_nth(fdw_private, WixPrivateResource));
	UserMapping *user;

	state = palloc0(sizeof(WixScanState));
	node->fdw_state = state;
	state->resource = wix_find_resource(resource);
	if (state->resource == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("unknown Wix resource \"%s\"", resource)));
	state->varno = intVal(list_nth(fdw_private, WixPrivateVarno));
	state->retrieved_attrs = list_nth(fdw_private, WixPrivateRetrievedAttrs);
	state->remote_conds = list_nth(fdw_private, WixPrivateRemoteConds);
	state->param_exprs = list_nth(fdw_private, WixPrivateParamExprs);
	state->sort_keys = list_nth(fdw_private, WixPrivateSortKeys);
	state->limit = intVal(list_nth(fdw_private, WixPrivateLimit));
	state->offset = intVal(list_nth(fdw_private, WixPrivateOffset));
	state->plans = wix_column_plans_from_list(list_nth(fdw_private, WixPrivateColumns),
											  state->resource);
	state->estimated_requests = intVal(list_nth(fdw_private, WixPrivateEstimatedRequests));
	state->full_read_requests = intVal(list_nth(fdw_private, WixPrivateFullReadRequests));
	state->table_name =
		quote_qualified_identifier(get_namespace_name(RelationGetNamespace(node->ss.ss_currentRelation)),
								   RelationGetRelationName(node->ss.ss_currentRelation));

	/* EXPLAIN without ANALYZE sends nothing and needs no connection */
	if (eflags & EXEC_FLAG_EXPLAIN_ONLY)
		return;

	state->param_states = ExecInitExprList(fsplan->fdw_exprs, (PlanState *) node);
	user = wix_user_mapping(scan_user_id(node), table->serverid);
	state->conn = wix_get_connection(user);
	state->serverid = table->serverid;
	state->umid = user->umid;
	state->depth = intVal(list_nth(fdw_private, WixPrivateBounded)) ? 1 :
		Min(MAX_INFLIGHT, wix_connection_concurrency(state->conn));

	/*
	 * Under a LIMIT that Wix does not see (min/max, a filter checked here),
	 * the next page could be one nobody reads: ask for it only when a row of
	 * it is wanted.  A pushed LIMIT's pages are all wanted.
	 */
	state->fetch_ahead = !intVal(list_nth(fdw_private, WixPrivateBounded)) ||
		state->limit >= 0;
	state->scan_cxt = AllocSetContextCreate(estate->es_query_cxt,
											"wix_admin scan",
											ALLOCSET_DEFAULT_SIZES);
	state->query_cxt = AllocSetContextCreate(state->scan_cxt,
											 "wix_admin query",
											 ALLOCSET_SMALL_SIZES);
	state->page_cxt = AllocSetContextCreate(state->scan_cxt,
											"wix_admin page",
											ALLOCSET_DEFAULT_SIZES);
	state->row_cxt = AllocSetContextCreate(state->scan_cxt,
										   "wix_admin row",
										   ALLOCSET_SMALL_SIZES);
	if (state->param_exprs != NIL)
		init_guard(node, state);
}

/*
 * init_converters
 *		The converters of the columns the scan fills, from the column plan
 *		of the endpoint it uses.
 */
static void
init_converters(WixScanState *state, TupleDesc tupdesc)
{
	const WixColumnPlan *plan = wix_column_plan(state->plans, state->endpoint);
	ListCell   *lc;

	state->converters = palloc0(sizeof(WixColumnConverter *) * tupdesc->natts);
	state->whole_item_attr = -1;
	foreach(lc, state->retrieved_attrs)
	{
		Form_pg_attribute attr = TupleDescAttr(tupdesc, lfirst_int(lc) - 1);
		const WixColumn *column = wix_plan_column(plan, attr->attnum);
		WixColumnConverter *conv;

		if (column->path == NULL)
			continue;
		conv = palloc(sizeof(WixColumnConverter));
		wix_converter_init(conv, NameStr(attr->attname),
						   column->path + column->up,
						   attr->atttypid, attr->atttypmod);
		conv->up = column->up;
		state->converters[attr->attnum - 1] = conv;
		if (state->whole_item_attr < 0 && column->up == 0 &&
			strcmp(column->path, "$") == 0 && attr->atttypid == JSONBOID)
			state->whole_item_attr = attr->attnum - 1;
	}
}

/*
 * start_scan
 *		At the first fetch: pick the endpoint (asking Wix for the Stores
 *		catalog when it matters), then prepare the column converters.
 */
static void
start_scan(ForeignScanState *node, WixScanState *state)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(state->scan_cxt);
	WixCatalogVersion catalog = WIX_CATALOG_ANY;

	if (wix_resource_needs_catalog(state->resource))
		catalog = wix_catalog_version(state->conn);
	state->endpoint = wix_resource_endpoint(state->resource, catalog);
	wix_rows_path_split(state->endpoint, &state->rows_path);
	state->nlevels = state->rows_path.depth +
		(state->endpoint->batch != NULL ? 1 : 0);
	init_converters(state, RelationGetDescr(node->ss.ss_currentRelation));
	MemoryContextSwitchTo(oldcxt);
}

/* The deparse context of a scan; values are evaluated unless explain_only. */
static void
deparse_context(ForeignScanState *node, WixScanState *state,
				const WixEndpoint *endpoint, bool explain_only,
				WixDeparseContext *ctx)
{
	int			n = list_length(state->param_exprs);

	memset(ctx, 0, sizeof(*ctx));
	ctx->endpoint = endpoint;
	ctx->columns = wix_column_plan(state->plans, endpoint);
	ctx->relid_index = state->varno;
	ctx->param_exprs = state->param_exprs;
	ctx->explain_only = explain_only;
	ctx->batch_parents = wix_plan_needs_batch_parent(ctx->columns,
													 state->retrieved_attrs);
	if (explain_only || n == 0)
		return;
	ctx->param_values = palloc(sizeof(Datum) * n);
	ctx->param_nulls = palloc(sizeof(bool) * n);
	for (int i = 0; i < n; i++)
		ctx->param_values[i] = ExecEvalExpr(list_nth(state->param_states, i),
											node->ss.ps.ps_ExprContext,
											&ctx->param_nulls[i]);
}

/* The page size: the endpoint's maximum, or limit + offset when smaller. */
static int
page_size(WixScanState *state, const WixEndpoint *endpoint)
{
	if (state->limit >= 0)
		return Min(endpoint->max_page_size, state->limit + state->offset);
	return endpoint->max_page_size;
}

/*
 * request_path
 *		The endpoint's path with its "{field}" parameters filled from the
 *		pushed "column = value" conditions (planning made sure there are
 *		some).  NULL when a value is NULL, so no row can match; at EXPLAIN
 *		time a value not known yet stays a placeholder.
 */
static char *
request_path(WixScanState *state, WixDeparseContext *ctx,
			 const WixEndpoint *endpoint)
{
	List	   *names = wix_path_params(endpoint->query_path);
	List	   *values = NIL;
	ListCell   *lc;

	foreach(lc, names)
	{
		List	   *value;

		if (!wix_key_values(state->remote_conds, ctx, strVal(lfirst(lc)),
							false, &value))
			elog(ERROR, "wix_admin: no condition gives path parameter %s",
				 strVal(lfirst(lc)));
		if (value == NIL && !ctx->explain_only)
			return NULL;
		values = lappend(values, value != NIL ? linitial(value) : NULL);
	}
	return names != NIL ? wix_fill_path(endpoint->query_path, names, values) :
		pstrdup(endpoint->query_path);
}

/*
 * plan_call
 *		Which call this run makes: the endpoint's Get call for "id = x", a
 *		GET with its path filled, or the endpoint's paged query (POST, or GET
 *		paged in the query string).  False when no row can match.
 */
static bool
plan_call(WixScanState *state, WixDeparseContext *ctx)
{
	const WixEndpoint *endpoint = state->endpoint;
	char	   *id;

	state->get_done = false;
	state->get_key = NULL;
	if (wix_id_lookup(state->remote_conds, ctx, &id))
	{
		state->request_path = wix_fill_path(endpoint->get_path,
											wix_path_params(endpoint->get_path),
											list_make1(id));
		state->get_key = endpoint->get_item_key;
		return id != NULL;
	}
	state->request_path = request_path(state, ctx, endpoint);
	if (endpoint->method != NULL && strcmp(endpoint->method, "GET") == 0 &&
		!wix_endpoint_in_query_string(endpoint))
		state->get_key = endpoint->items_key;
	return state->request_path != NULL;
}

/* Put back the parent items a batch scan still holds (a reset callback). */
static void
release_parent_items(void *arg)
{
	WixScanState *state = arg;
	ListCell   *lc;

	foreach(lc, state->parent_items)
		json_object_put(lfirst(lc));
	state->parent_items = NIL;
}

/*
 * begin_batch
 *		The parent ids of a batch call: the values of the only pushed
 *		condition when it is "= value" or "IN (...)" on the key and the scan
 *		needs no column of the parent items; else from a scan of the parent
 *		endpoint, page by page, that takes the pushed filter.
 */
static void
begin_batch(WixScanState *state, WixDeparseContext *ctx, json_object *filter)
{
	const WixBatch *batch = state->endpoint->batch;
	List	   *ids;
	MemoryContextCallback *callback;

	state->batch_first = state->held_first = state->window_n = 0;
	state->parent_items = NIL;
	state->keep_parents = ctx->batch_parents;
	if (!ctx->batch_parents && list_length(state->remote_conds) == 1 &&
		wix_key_values(state->remote_conds, ctx, batch->parent_id_key, true, &ids))
	{
		state->pager.ids = ids;
		state->pager.ids_complete = true;
		state->pager.finished |= (ids == NIL);
		return;
	}
	wix_pager_init(&state->parent_pager, batch->parent, batch->max_ids);
	state->parent_pager.filter = filter;
	state->pager.ids_complete = state->pager.finished;
	callback = palloc0(sizeof(MemoryContextCallback));
	callback->func = release_parent_items;
	callback->arg = state;
	MemoryContextRegisterResetCallback(state->query_cxt, callback);
}

/*
 * begin_query
 *		Build the filter and sort with this run's parameter values, and the
 *		pager.  A filter no row can pass, or LIMIT 0, sends no request.
 */
static void
begin_query(ForeignScanState *node, WixScanState *state)
{
	MemoryContext oldcxt;
	WixDeparseContext ctx;
	json_object *filter;
	json_object *sort;
	bool		never_true;
	bool		never_true_filter;

	/* abandons the previous run's requests still in flight */
	MemoryContextReset(state->page_cxt);
	MemoryContextReset(state->query_cxt);
	state->npending = 0;
	state->items = NULL;
	state->nitems = state->next_item = 0;
	state->skipped = state->returned = state->fetched = 0;
	state->run_start = state->stats;
	state->run_started = state->last_progress = GetCurrentTimestamp();

	oldcxt = MemoryContextSwitchTo(state->query_cxt);
	deparse_context(node, state, state->endpoint, false, &ctx);
	never_true = !plan_call(state, &ctx);
	filter = wix_deparse_filter(state->remote_conds, &ctx, &never_true_filter);
	never_true |= never_true_filter;
	sort = wix_deparse_sort(state->sort_keys, &ctx);
	if (filter != NULL)
		(void) wix_json_hold(state->query_cxt, filter);
	if (sort != NULL)
		(void) wix_json_hold(state->query_cxt, sort);

	wix_pager_init(&state->pager, state->endpoint, page_size(state, state->endpoint));
	state->pager.filter = filter;
	state->pager.sort = sort;
	state->pager.finished = never_true || state->limit == 0;
	if (state->endpoint->batch != NULL)
		begin_batch(state, &ctx, filter);
	if (state->sent_filter == NULL)
	{
		/* EXPLAIN ANALYZE shows the first run's request */
		MemoryContextSwitchTo(state->scan_cxt);
		state->sent_filter = never_true ? "(none: no row can match, nothing sent)" :
			filter ? pstrdup(json_object_to_json_string_ext(filter, JSON_C_TO_STRING_PLAIN)) : NULL;
		state->sent_sort = sort ?
			pstrdup(json_object_to_json_string_ext(sort, JSON_C_TO_STRING_PLAIN)) : NULL;
	}
	MemoryContextSwitchTo(oldcxt);
	state->query_started = true;
}

/*
 * issue_requests
 *		Keep up to depth pages in flight: the next cursor page as soon as its
 *		cursor is known, offset pages ahead once the total is known.  Nothing
 *		more once a pushed LIMIT is covered.
 */
static void
issue_requests(WixScanState *state)
{
	while (state->npending < state->depth &&
		   wix_pager_can_issue(&state->pager) &&
		   !(state->limit >= 0 && state->fetched >= state->limit + state->offset))
	{
		MemoryContext oldcxt = MemoryContextSwitchTo(state->page_cxt);
		json_object *body = wix_pager_next_body(&state->pager);
		const char *path = state->request_path;

		if (wix_endpoint_in_query_string(state->endpoint))
		{
			/* a GET: the page's parameters go in the query string */
			path = wix_query_string_path(path, body);
			body = NULL;
		}
		MemoryContextSwitchTo(state->query_cxt);
		state->pending[state->npending++] =
			wix_request_start(state->conn, path, body, &state->stats);
		MemoryContextSwitchTo(oldcxt);
	}
}

/* Paging of the parent scan: its outline, before its items are parsed. */
static bool
advance_parent(const char *body, size_t len, void *arg)
{
	WixScanState *state = arg;
	WixPageOutline outline;
	MemoryContext oldcxt;

	if (!wix_page_outline(state->parent_pager.endpoint, body, len, &outline))
		return false;
	oldcxt = MemoryContextSwitchTo(state->query_cxt);
	wix_pager_advance(&state->parent_pager, &outline);
	MemoryContextSwitchTo(oldcxt);
	return false;				/* the ids are read from the parsed items */
}

/*
 * fetch_parent_page
 *		The next page of a batch call's parent scan: its items' ids join the
 *		ids to send.
 */
static void
fetch_parent_page(WixScanState *state)
{
	const WixBatch *batch = state->endpoint->batch;
	WixPager   *parent = &state->parent_pager;
	MemoryContext oldcxt = MemoryContextSwitchTo(state->page_cxt);
	int			pages = parent->pages;
	json_object *body = wix_pager_next_body(parent);
	WixPendingRequest *pending;
	WixJsonHolder *answer;
	json_object *items;

	MemoryContextSwitchTo(state->query_cxt);
	pending = wix_request_start(state->conn, batch->parent->query_path, body,
								&state->stats);
	MemoryContextSwitchTo(state->page_cxt);
	answer = wix_request_finish(pending, advance_parent, state);
	if (parent->pages == pages || answer->obj == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("invalid JSON in Wix API response to %s",
						batch->parent->query_path)));
	MemoryContextSwitchTo(state->query_cxt);
	if (json_object_object_get_ex(answer->obj, batch->parent->items_key, &items) &&
		json_object_is_type(items, json_type_array))
	{
		for (size_t i = 0; i < json_object_array_length(items); i++)
		{
			json_object *id = wix_json_get_type(json_object_array_get_idx(items, i),
												batch->parent_id_key,
												json_type_string);

			/* an item without its key would drop its rows silently */
			if (id == NULL)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_ERROR),
						 errmsg("Wix API response to %s holds an item without a string \"%s\"",
								batch->parent->query_path, batch->parent_id_key)));
			state->pager.ids = lappend(state->pager.ids,
									   pstrdup(json_object_get_string(id)));
			if (state->keep_parents)
				state->parent_items = lappend(state->parent_items,
											  json_object_get(json_object_array_get_idx(items, i)));
		}
	}
	state->pager.ids_complete = parent->finished;
	MemoryContextSwitchTo(oldcxt);
}

/*
 * feed_batch_ids
 *		Read the parent scan until a full batch of ids waits, or it ends.
 */
static void
feed_batch_ids(WixScanState *state)
{
	WixPager   *pager = &state->pager;

	while (!pager->ids_complete &&
		   list_length(pager->ids) - pager->next_id < state->endpoint->batch->max_ids)
		fetch_parent_page(state);
}

/*
 * fetch_get
 *		A GET call (the Get call for "id = x", or an endpoint read by GET):
 *		its items are the array or the one object under get_key; none on
 *		404.
 */
static bool
fetch_get(WixScanState *state)
{
	MemoryContext oldcxt;
	WixJsonHolder *answer;
	long		status;
	const char *request_id;
	json_object *items;

	state->get_done = true;
	oldcxt = MemoryContextSwitchTo(state->page_cxt);
	answer = wix_request_ext(state->conn, "GET", state->request_path, NULL,
							 &state->stats, 404);
	MemoryContextSwitchTo(oldcxt);
	wix_connection_last_call(state->conn, &status, &request_id);
	state->stats.pages++;
	if (status == 404 || answer->obj == NULL ||
		!json_object_object_get_ex(answer->obj, state->get_key, &items))
		return false;
	if (!json_object_is_type(items, json_type_array))
	{
		/* a one-item page */
		json_object *item = items;

		items = json_object_new_array();
		json_object_array_add(items, json_object_get(item));
		(void) wix_json_hold(state->page_cxt, items);
	}
	state->items = items;
	state->nitems = json_object_array_length(items);
	state->fetched = state->nitems;
	return true;
}

static json_object *json_item(WixScanState *state, size_t index);

/* The rows of one page being gathered (see flatten_rows). */
typedef struct RowCollector
{
	WixScanState *state;
	const WixRowsPath *path;
	json_object *chain[WIX_MAX_ROW_LEVELS + 1];	/* the item, then elements
												 * down */
	json_object *parent;		/* the item's batch parent item, or NULL */
	json_object *rows;
	json_object **ancestors;
	size_t		nrows;
	size_t		allocated;
} RowCollector;

/* One row, with its ancestors: the element one level up first. */
static void
add_row(RowCollector *rc, json_object *row)
{
	int			nlevels = rc->state->nlevels;

	if (rc->nrows == rc->allocated)
	{
		rc->allocated = Max(64, rc->allocated * 2);
		rc->ancestors = rc->ancestors ?
			repalloc(rc->ancestors, sizeof(json_object *) * rc->allocated * nlevels) :
			palloc(sizeof(json_object *) * rc->allocated * nlevels);
	}
	json_object_array_add(rc->rows, json_object_get(row));
	for (int up = 1; up <= nlevels; up++)
		rc->ancestors[rc->nrows * nlevels + up - 1] =
			up <= rc->path->depth ? rc->chain[rc->path->depth - up] : rc->parent;
	rc->nrows++;
}

/*
 * collect_rows
 *		The rows under an element at a level of rows_path.  A value that is
 *		not an array of objects is an error, and so is a missing one unless
 *		rows_path marks it as one Wix may leave out when empty ("refunds?"):
 *		leaving its rows out would return a short result that looks complete.
 */
static void
collect_rows(RowCollector *rc, json_object *node, int level)
{
	const char *query_path = rc->state->endpoint->query_path;
	const char *key = rc->path->keys[level];
	json_object *elements = NULL;

	rc->chain[level] = node;
	if (level == rc->path->depth)
	{
		add_row(rc, node);
		return;
	}
	if (rc->path->optional[level] &&
		(!json_object_object_get_ex(node, key, &elements) || elements == NULL))
		return;					/* absent or null: empty */
	if (!json_object_object_get_ex(node, key, &elements) ||
		!json_object_is_type(elements, json_type_array))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("Wix API response to %s has an item without the array \"%s\"",
						query_path, key),
				 elements == NULL ?
				 errdetail("The key \"%s\" is missing.", key) :
				 errdetail("Its value is a JSON %s.",
						   json_type_to_name(json_object_get_type(elements)))));
	for (size_t j = 0; j < json_object_array_length(elements); j++)
	{
		json_object *element = json_object_array_get_idx(elements, j);

		if (!json_object_is_type(element, json_type_object))
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("Wix API response to %s has a \"%s\" element that is not an object",
							query_path, key)));
		collect_rows(rc, element, level + 1);
	}
}

/*
 * batch_parent
 *		The parent item of a batch answer's item, found by its key among the
 *		ids of the request it answers; NULL when parent items are not kept.
 */
static json_object *
batch_parent(WixScanState *state, json_object *item, int first, int n)
{
	json_object *key;

	if (n == 0 || state->parent_items == NIL)
		return NULL;
	key = wix_json_get_type(item, state->endpoint->batch->key_field,
							json_type_string);
	if (key == NULL)
		return NULL;
	for (int i = first; i < first + n; i++)
	{
		if (strcmp(list_nth(state->pager.ids, i), json_object_get_string(key)) == 0)
			return list_nth(state->parent_items, i);
	}
	return NULL;
}

/*
 * flatten_rows
 *		An endpoint with rows inside items, or a batch call: the current
 *		page's rows, each with its ancestors up to the item and, for a batch
 *		call, the item's parent item.
 */
static void
flatten_rows(WixScanState *state)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(state->page_cxt);
	RowCollector rc = {state, &state->rows_path};

	rc.rows = json_object_new_array();
	(void) wix_json_hold(state->page_cxt, rc.rows);
	for (size_t i = 0; i < state->nitems; i++)
	{
		json_object *item = json_item(state, i);

		rc.parent = batch_parent(state, item, state->window_first, state->window_n);
		collect_rows(&rc, item, 0);
	}
	MemoryContextSwitchTo(oldcxt);
	state->items = rc.rows;
	state->ancestors = rc.ancestors;
	state->nitems = rc.nrows;
}

/* Put back the parent items of the batch answer being left. */
static void
drop_held_parents(WixScanState *state)
{
	for (int i = state->held_first;
		 i < state->batch_first && i < list_length(state->parent_items); i++)
	{
		json_object_put(list_nth(state->parent_items, i));
		list_nth_cell(state->parent_items, i)->ptr_value = NULL;
	}
	state->held_first = state->batch_first;
}

/*
 * read_page_as_jsonb
 *		A scan that selects whole items reads a page straight into jsonb
 *		(the other columns are then read from it), from a copy of the body
 *		kept in the page's context for a column that needs json-c's spelling
 *		of a value.  False when the body is left to json-c.
 */
static bool
read_page_as_jsonb(WixScanState *state, const char *body, size_t len)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(state->page_cxt);
	char	   *copy = palloc(len + 1);
	bool		parsed;

	memcpy(copy, body, len);
	copy[len] = '\0';
	parsed = wix_jsonb_page_parse(copy, len, state->endpoint->items_key,
								  state->endpoint->item_root, &state->rows_path,
								  &state->jsonb_page);
	if (parsed)
		elog(DEBUG2, "wix_admin: %d items read straight into jsonb, %d rows",
			 state->jsonb_page.nitems, state->jsonb_page.nrows);
	else
	{
		elog(DEBUG2, "wix_admin: page left to json-c");
		pfree(copy);
	}
	MemoryContextSwitchTo(oldcxt);
	return parsed;
}

/*
 * read_page
 *		A page has arrived: work out the next page from the paging metadata
 *		in its raw body and, when the scan fetches ahead, request it, so that
 *		the round trip overlaps parsing and reading this page.  A scan that
 *		needs no column (count(*)) of items that are its rows only counts
 *		them: true then, and the page is never parsed.  One that selects
 *		whole rows parses it straight into jsonb when it can (true then too),
 *		unless it is a batch call (its rows read their parent items from
 *		json-c).
 */
static bool
read_page(const char *body, size_t len, void *arg)
{
	WixScanState *state = arg;
	WixPageOutline outline;
	MemoryContext oldcxt;

	if (!wix_page_outline(state->endpoint, body, len, &outline))
		return false;			/* not one JSON object: the parser says why */
	/* the pager keeps its cursor across pages */
	oldcxt = MemoryContextSwitchTo(state->query_cxt);
	wix_pager_advance(&state->pager, &outline);
	MemoryContextSwitchTo(oldcxt);
	state->page_outlined = true;
	state->fetched += outline.nitems;
	if (state->fetch_ahead)
		issue_requests(state);
	if (state->endpoint->batch != NULL)
		return false;			/* rows and parents come from json-c */
	if (state->retrieved_attrs != NIL)
		return state->whole_item_attr >= 0 &&
			read_page_as_jsonb(state, body, len);
	if (state->endpoint->rows_path != NULL)
		return false;			/* counting rows inside items parses them */
	if (outline.scalar_items)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("Wix API response to %s holds an item that is not an object",
						state->endpoint->query_path)));
	state->counted = outline.nitems;
	return true;
}

/*
 * report_progress
 *		Every wix_admin.progress_every, a NOTICE on a long run: the rows so
 *		far, their rate and, where Wix counted them (one row per item), the
 *		time left.
 */
static void
report_progress(WixScanState *state)
{
	TimestampTz now;
	double		seconds;
	int64		rows = state->stats.rows - state->run_start.rows;
	double		rate;

	if (wix_progress_every_s <= 0)
		return;
	now = GetCurrentTimestamp();
	if (!TimestampDifferenceExceeds(state->last_progress, now,
									wix_progress_every_s * 1000))
		return;
	state->last_progress = now;
	seconds = Max((double) (now - state->run_started) / USECS_PER_SEC, 0.001);
	rate = rows / seconds;
	if (state->pager.total > 0 && rate > 0 && !has_rows_inside(state->endpoint))
		ereport(NOTICE,
				(errmsg("reading %s from Wix: %lld of %lld rows (%.0f a second), about %.0f s left",
						state->table_name, (long long) rows, (long long) state->pager.total,
						rate, Max(state->pager.total - rows, 0) / rate)));
	else
		ereport(NOTICE,
				(errmsg("reading %s from Wix: %lld rows so far (%.0f a second)",
						state->table_name, (long long) rows, rate)));
}

/*
 * fetch_page
 *		Replace the current page with the next one, and request the pages
 *		after it.  False when there is none.
 */
static bool fetch_posted_page(WixScanState *state);

static bool
fetch_page(WixScanState *state)
{
	/* frees the previous page's JSON through its reset callback */
	MemoryContextReset(state->page_cxt);
	state->items = NULL;
	memset(&state->jsonb_page, 0, sizeof(state->jsonb_page));
	state->ancestors = NULL;
	state->nitems = state->next_item = 0;
	drop_held_parents(state);

	if (state->get_key != NULL)
	{
		if (state->get_done || state->pager.finished || !fetch_get(state))
			return false;
	}
	else if (!fetch_posted_page(state))
		return false;
	else if (state->endpoint->batch != NULL)
	{
		/* batch answers come in request order, all but the last full */
		state->window_first = state->batch_first;
		state->window_n = Min(state->endpoint->batch->max_ids,
							  list_length(state->pager.ids) - state->batch_first);
		state->batch_first += state->window_n;
	}
	if (has_rows_inside(state->endpoint) && state->items != NULL)
		flatten_rows(state);
	report_progress(state);
	return true;
}

/*
 * fetch_posted_page
 *		The next page of the POST calls in flight, requesting more first.
 */
static bool
fetch_posted_page(WixScanState *state)
{
	MemoryContext oldcxt;
	WixPendingRequest *head;
	WixJsonHolder *answer;
	json_object *items;

	if (state->endpoint->batch != NULL)
		feed_batch_ids(state);
	issue_requests(state);
	if (state->npending == 0)
		return false;

	oldcxt = MemoryContextSwitchTo(state->page_cxt);
	/* the head request leaves the queue before read_page refills it */
	head = state->pending[0];
	state->npending--;
	memmove(state->pending, state->pending + 1,
			sizeof(WixPendingRequest *) * state->npending);
	state->page_outlined = false;
	answer = wix_request_finish(head, read_page, state);
	MemoryContextSwitchTo(oldcxt);
	state->stats.pages++;
	if (!state->page_outlined)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("invalid JSON in Wix API response to %s",
						state->endpoint->query_path)));

	if (state->jsonb_page.rows != NULL)
		state->nitems = state->jsonb_page.nrows;
	else if (answer->obj == NULL)
		state->nitems = state->counted; /* counted, not parsed */
	else if (json_object_object_get_ex(answer->obj, state->endpoint->items_key, &items) &&
			 json_object_is_type(items, json_type_array) &&
			 json_object_array_length(items) > 0)
	{
		state->items = items;
		state->nitems = json_object_array_length(items);
	}
	return true;
}

/*
 * json_item
 *		The current page's item at index as json-c (within item_root).  A
 *		page read straight into jsonb parses the item's text for it, held by
 *		the row's context.
 */
static json_object *
json_item(WixScanState *state, size_t index)
{
	const WixEndpoint *endpoint = state->endpoint;
	json_object *item;

	if (state->jsonb_page.rows != NULL)
	{
		item = wix_json_parse(state->jsonb_page.texts[index],
							  state->jsonb_page.lengths[index],
							  endpoint->query_path);
		(void) wix_json_hold(state->row_cxt, item);
	}
	else
		item = json_object_array_get_idx(state->items, index);
	if (endpoint->item_root != NULL && state->ancestors == NULL &&
		!json_object_object_get_ex(item, endpoint->item_root, &item))
		item = NULL;
	if (item == NULL || !json_object_is_type(item, json_type_object))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("Wix API response to %s holds an item that is not an object",
						endpoint->query_path)));
	return item;
}

/*
 * json_row
 *		The row at index as json-c, with its ancestors (NULL: none).  A row
 *		read straight into jsonb is found again in its item, parsed by
 *		json_item.
 */
static json_object *
json_row(WixScanState *state, size_t index, json_object ***ancestors)
{
	const WixRowsPath *path = &state->rows_path;
	json_object *chain[WIX_MAX_ROW_LEVELS + 1];
	const int  *place;

	if (state->jsonb_page.rows == NULL)
	{
		*ancestors = state->ancestors != NULL ?
			&state->ancestors[index * state->nlevels] : NULL;
		return json_item(state, index);
	}
	place = state->jsonb_page.rows[index].place;
	chain[0] = json_item(state, place[0]);
	for (int level = 0; level < path->depth; level++)
	{
		json_object *elements;

		if (!json_object_object_get_ex(chain[level], path->keys[level], &elements) ||
			!json_object_is_type(elements, json_type_array) ||
			(chain[level + 1] = json_object_array_get_idx(elements,
														  place[level + 1])) == NULL)
			elog(ERROR, "wix_admin: json-c does not find row %zu of a page", index);
	}
	*ancestors = palloc(sizeof(json_object *) * WIX_MAX_ROW_LEVELS);
	for (int up = 1; up <= path->depth; up++)
		(*ancestors)[up - 1] = chain[path->depth - up];
	return chain[path->depth];
}

/* The row, or the element up levels above it (NULL: none). */
static json_object *
row_level(WixScanState *state, json_object *row, json_object **ancestors, int up)
{
	if (up == 0)
		return row;
	if (ancestors == NULL || up > state->nlevels)
		return NULL;
	return ancestors[up - 1];
}

/*
 * jsonb_level
 *		A row read straight into jsonb, or the element up levels above it
 *		(NULL: none).
 */
static Jsonb *
jsonb_level(WixScanState *state, WixJsonbRow *row, int up)
{
	if (up == 0)
		return row->jsonb;
	if (up > state->nlevels)
		return NULL;
	return row->ancestors[up - 1];
}

/* Fill the slot from the current page's row at index. */
static void
store_item(ForeignScanState *node, WixScanState *state, size_t index)
{
	TupleTableSlot *slot = node->ss.ss_ScanTupleSlot;
	TupleDesc	tupdesc = slot->tts_tupleDescriptor;
	MemoryContext oldcxt;
	ListCell   *lc;
	WixJsonbRow *jsonb_row = NULL;
	json_object *row = NULL;
	json_object **ancestors = NULL;
	Jsonb	   *whole = NULL;

	ExecClearTuple(slot);
	memset(slot->tts_isnull, true, sizeof(bool) * tupdesc->natts);
	MemoryContextReset(state->row_cxt);
	oldcxt = MemoryContextSwitchTo(state->row_cxt);

	/*
	 * The whole row as jsonb, when selected, comes first: the other columns
	 * are then read from it (a row read straight into jsonb: from it or the
	 * elements above it, as jsonb too), and nested objects are copied rather
	 * than built again.
	 */
	if (state->jsonb_page.rows != NULL)
	{
		jsonb_row = &state->jsonb_page.rows[index];
		whole = jsonb_row->jsonb;
	}
	else
		row = json_row(state, index, &ancestors);
	if (state->whole_item_attr >= 0)
	{
		int			attr = state->whole_item_attr;

		if (whole == NULL)
		{
			slot->tts_values[attr] = wix_convert_value(state->converters[attr], row,
													   &slot->tts_isnull[attr]);
			whole = DatumGetJsonbP(slot->tts_values[attr]);
		}
		else
		{
			slot->tts_values[attr] = JsonbPGetDatum(whole);
			slot->tts_isnull[attr] = false;
		}
	}
	foreach(lc, state->retrieved_attrs)
	{
		int			attr = lfirst_int(lc) - 1;
		WixColumnConverter *conv = state->converters[attr];
		JsonbValue	value;

		if (conv == NULL || attr == state->whole_item_attr)
			continue;
		if (jsonb_row != NULL || (whole != NULL && conv->up == 0))
		{
			Jsonb	   *level = jsonb_row != NULL ?
				jsonb_level(state, jsonb_row, conv->up) : whole;

			if (level == NULL || !wix_jsonb_path_get(level, conv, &value))
				continue;		/* absent or null: NULL */
			if (wix_convert_jsonb_value(conv, &value, &slot->tts_values[attr],
										&slot->tts_isnull[attr]))
				continue;
		}
		if (row == NULL)
			row = json_row(state, index, &ancestors);
		slot->tts_values[attr] =
			wix_convert_value(conv,
							  wix_converter_json_get(conv,
													 row_level(state, row, ancestors, conv->up)),
							  &slot->tts_isnull[attr]);
	}
	MemoryContextSwitchTo(oldcxt);
	ExecStoreVirtualTuple(slot);
}

/*
 * remember_complete_read
 *		A run that read the table to the end with nothing narrowing it tells
 *		the planner the table's size, and what reading it costs (sizes.c).
 */
static void
remember_complete_read(WixScanState *state)
{
	if (state->remote_conds != NIL || state->limit >= 0 || state->offset > 0 ||
		state->get_key != NULL)
		return;
	wix_size_remember(state->serverid, state->umid, state->resource->name,
					  (double) (state->stats.rows - state->run_start.rows),
					  (double) (state->stats.requests - state->run_start.requests));
}

/* The run's next row from Wix, or an empty slot at its end. */
static TupleTableSlot *
next_remote_row(ForeignScanState *node, WixScanState *state)
{
	for (;;)
	{
		if (state->limit >= 0 && state->returned >= state->limit)
			return ExecClearTuple(node->ss.ss_ScanTupleSlot);
		while (state->next_item >= state->nitems)
		{
			if (!fetch_page(state))
			{
				remember_complete_read(state);
				return ExecClearTuple(node->ss.ss_ScanTupleSlot);
			}
		}
		if (state->skipped < state->offset)
		{
			/* a pushed OFFSET: skip without converting */
			state->next_item++;
			state->skipped++;
			continue;
		}
		if (state->items == NULL && state->jsonb_page.rows == NULL)
		{
			/* a counted page: no column is needed */
			ExecStoreAllNullTuple(node->ss.ss_ScanTupleSlot);
			state->next_item++;
		}
		else
			store_item(node, state, state->next_item++);
		state->stats.rows++;
		if (state->npending > 0 && state->stats.rows % POLL_EVERY_ROWS == 0)
			wix_connection_poll(state->conn);
		state->returned++;
		return node->ss.ss_ScanTupleSlot;
	}
}

/*
 * guard_trips
 *		Has a parameterized scan sent more requests for its look-ups than
 *		reading the whole table would take?  A bad estimate of the rows on
 *		the other side of a join must not spend the site's rate limit on one
 *		look-up per row: from then on the scan works on a copy of the table.
 */
static bool
guard_trips(WixScanState *state)
{
	return state->copy_qual != NULL && state->table_copy == NULL &&
		state->stats.requests > state->full_read_requests;
}

/*
 * read_table_copy
 *		Read the whole table once, with no condition, into a tuplestore (in
 *		memory up to work_mem, then on disk); each later run of the scan
 *		evaluates the pushed conditions on it.
 */
static void
read_table_copy(ForeignScanState *node, WixScanState *state)
{
	List	   *conds = state->remote_conds;
	MemoryContext oldcxt = MemoryContextSwitchTo(state->scan_cxt);
	TupleTableSlot *slot;

	state->lookup_requests = state->stats.requests;
	elog(DEBUG1, "wix_admin: %lld look-ups of %s cost more requests than reading it (%d); reading it once",
		 (long long) state->lookup_requests, state->resource->name,
		 state->full_read_requests);
	state->table_copy = tuplestore_begin_heap(true, false, work_mem);
	MemoryContextSwitchTo(oldcxt);
	state->remote_conds = NIL;
	PG_TRY();
	{
		begin_query(node, state);
		for (;;)
		{
			/* TupIsNull evaluates its argument twice */
			slot = next_remote_row(node, state);
			if (TupIsNull(slot))
				break;
			tuplestore_puttupleslot(state->table_copy, slot);
		}
	}
	PG_FINALLY();
	{
		state->remote_conds = conds;
	}
	PG_END_TRY();
	state->copy_requests = state->stats.requests - state->lookup_requests;
}

/* The run's next row of the table copy that passes the pushed conditions. */
static TupleTableSlot *
next_copied_row(ForeignScanState *node, WixScanState *state)
{
	ExprContext *econtext = node->ss.ps.ps_ExprContext;

	while (tuplestore_gettupleslot(state->table_copy, true, false,
								   state->copy_slot))
	{
		CHECK_FOR_INTERRUPTS();
		ResetExprContext(econtext);
		econtext->ecxt_scantuple = state->copy_slot;
		if (ExecQual(state->copy_qual, econtext))
			return ExecCopySlot(node->ss.ss_ScanTupleSlot, state->copy_slot);
	}
	return ExecClearTuple(node->ss.ss_ScanTupleSlot);
}

TupleTableSlot *
wixIterateForeignScan(ForeignScanState *node)
{
	WixScanState *state = node->fdw_state;

	/* a pushed LIMIT 0 needs nothing from Wix, not even its catalog */
	if (state->limit == 0)
		return ExecClearTuple(node->ss.ss_ScanTupleSlot);
	if (state->endpoint == NULL)
		start_scan(node, state);
	if (!state->query_started)
	{
		if (guard_trips(state))
			read_table_copy(node, state);
		if (state->table_copy != NULL)
		{
			tuplestore_rescan(state->table_copy);
			state->query_started = true;
		}
		else
			begin_query(node, state);
	}
	if (state->table_copy != NULL)
		return next_copied_row(node, state);
	return next_remote_row(node, state);
}

/* Start over; parameters may have new values, so the filter is rebuilt. */
void
wixReScanForeignScan(ForeignScanState *node)
{
	WixScanState *state = node->fdw_state;

	state->query_started = false;
}

void
wixEndForeignScan(ForeignScanState *node)
{
	WixScanState *state = node->fdw_state;

	if (state != NULL)
	{
		requests_of_finished_scans += state->stats.requests;
		last_scan_total = state->query_started && state->pager.endpoint != NULL ?
			state->pager.total : -1;
	}

	/* free the last page now rather than at the end of the query */
	if (state != NULL && state->table_copy != NULL)
	{
		tuplestore_end(state->table_copy);
		state->table_copy = NULL;
	}
	if (state != NULL && state->scan_cxt != NULL)
	{
		MemoryContextDelete(state->scan_cxt);
		state->scan_cxt = state->query_cxt = state->page_cxt = state->row_cxt = NULL;
	}
}

/*
 * wix_scan_direct_modify
 *		The state of the UPDATE or DELETE a scan feeds (modify.c), which
 *		ForeignScanState.fdw_state, the scan's, cannot hold itself.
 */
void *
wix_scan_direct_modify(ForeignScanState *node)
{
	return ((WixScanState *) node->fdw_state)->direct_modify;
}

void
wix_scan_set_direct_modify(ForeignScanState *node, void *direct_modify)
{
	((WixScanState *) node->fdw_state)->direct_modify = direct_modify;
}

/*
 * wix_requests_made
 *		SQL function wix_admin.requests_made(): the Wix requests this
 *		backend's finished foreign scans have sent, so that a caller can
 *		count what a piece of work cost (a mirror refresh records it).
 */
Datum
wix_requests_made(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64(requests_of_finished_scans);
}

/*
 * wix_last_scan_total
 *		SQL function wix_admin.last_scan_total(): how many items Wix said
 *		matched the query of this backend's last finished foreign scan
 *		(whatever the scan's LIMIT), or NULL when Wix did not say.  A mirror
 *		refresh shows it as its expected total.
 */
Datum
wix_last_scan_total(PG_FUNCTION_ARGS)
{
	if (last_scan_total < 0)
		PG_RETURN_NULL();
	PG_RETURN_INT64(last_scan_total);
}

/*
 * explain_query
 *		EXPLAIN lines of a query call: its path, the filter and sort sent,
 *		page size and, with VERBOSE, the first request's body.  ctx gives the
 *		columns the conditions are deparsed with; a batch call's parent query
 *		(label " (parent)") takes the batch's pushed conditions.
 */
static void
explain_query(WixScanState *state, WixDeparseContext *ctx,
			  const WixEndpoint *endpoint, const char *label, bool ran,
			  ExplainState *es)
{
	bool		parent = (endpoint != ctx->endpoint);
	int			size = parent ? ctx->endpoint->batch->max_ids : page_size(state, endpoint);
	bool		never_true = false;
	json_object *filter = wix_deparse_filter(state->remote_conds, ctx, &never_true);
	json_object *sort = parent ? NULL : wix_deparse_sort(state->sort_keys, ctx);

	if (filter != NULL)
		(void) wix_json_hold(CurrentMemoryContext, filter);
	if (sort != NULL)
		(void) wix_json_hold(CurrentMemoryContext, sort);
	ExplainPropertyText(psprintf("Wix request%s", label),
						psprintf("%s %s", endpoint->method ? endpoint->method : "POST",
								 endpoint->query_path), es);
	if (ran)
	{
		if (state->sent_filter != NULL)
			ExplainPropertyText("Wix filter", state->sent_filter, es);
		if (state->sent_sort != NULL)
			ExplainPropertyText("Wix sort", state->sent_sort, es);
	}
	else
	{
		if (never_true)
			ExplainPropertyText("Wix filter", "(none: no row can match, nothing sent)", es);
		else if (filter != NULL)
			ExplainPropertyText("Wix filter",
								json_object_to_json_string_ext(filter, JSON_C_TO_STRING_PLAIN), es);
		if (sort != NULL)
			ExplainPropertyText("Wix sort",
								json_object_to_json_string_ext(sort, JSON_C_TO_STRING_PLAIN), es);
	}
	ExplainPropertyInteger("Wix page size", NULL, size, es);
	if (!parent && state->limit >= 0)
		ExplainPropertyInteger("Wix limit", NULL, state->limit, es);
	if (!parent && state->offset > 0)
		ExplainPropertyText("Wix offset",
							psprintf("%d (rows skipped here)", state->offset), es);

	if (es->verbose && !ran)
	{
		WixPager	pager;
		json_object *body;

		wix_pager_init(&pager, endpoint, size);
		pager.filter = filter;
		pager.sort = sort;
		body = wix_pager_next_body(&pager);
		if (wix_endpoint_in_query_string(endpoint))
			ExplainPropertyText(psprintf("Wix request path%s", label),
								wix_query_string_path(endpoint->query_path, body),
								es);
		else
			ExplainPropertyText(psprintf("Wix request body%s", label),
								json_object_to_json_string_ext(body,
															   JSON_C_TO_STRING_PLAIN),
								es);
	}
}

/*
 * explain_call
 *		EXPLAIN lines of a call that takes no query: its path and, for a batch
 *		call, where the ids come from (the condition, or the parent query).
 */
static void
explain_call(WixScanState *state, WixDeparseContext *ctx,
			 const WixEndpoint *endpoint, const char *label, bool ran,
			 ExplainState *es)
{
	const WixBatch *batch = endpoint->batch;
	List	   *ids;

	ExplainPropertyText(psprintf("Wix request%s", label),
						psprintf("%s %s", endpoint->method ? endpoint->method : "POST",
								 request_path(state, ctx, endpoint)),
						es);
	if (batch == NULL)
		return;
	if (!ctx->batch_parents && list_length(state->remote_conds) == 1 &&
		wix_key_values(state->remote_conds, ctx, batch->parent_id_key, true, &ids))
	{
		ExplainPropertyText("Wix ids",
							psprintf("from the condition on %s, up to %d a request",
									 batch->key_field, batch->max_ids), es);
		return;
	}
	ExplainPropertyText("Wix ids",
						psprintf("from POST %s, up to %d a request",
								 batch->parent->query_path, batch->max_ids), es);
	explain_query(state, ctx, batch->parent, psprintf("%s (parent)", label),
				  ran, es);
}

/* EXPLAIN lines of one endpoint's requests. */
static void
explain_endpoint(ForeignScanState *node, WixScanState *state,
				 const WixEndpoint *endpoint, const char *label,
				 ExplainState *es)
{
	WixDeparseContext ctx;
	char	   *get_id;
	bool		ran = state->endpoint == endpoint &&
		(state->sent_filter != NULL || state->query_started);

	deparse_context(node, state, endpoint, true, &ctx);
	if (wix_id_lookup(state->remote_conds, &ctx, &get_id))
	{
		ExplainPropertyText(psprintf("Wix request%s", label),
							psprintf("GET %s",
									 wix_fill_path(endpoint->get_path,
												   wix_path_params(endpoint->get_path),
												   list_make1(get_id))),
							es);
		return;
	}
	if (wix_endpoint_is_query(endpoint))
		explain_query(state, &ctx, endpoint, label, ran, es);
	else
		explain_call(state, &ctx, endpoint, label, ran, es);
}

void
wixExplainForeignScan(ForeignScanState *node, ExplainState *es)
{
	WixScanState *state = node->fdw_state;
	const WixResource *resource = state->resource;

	ExplainPropertyText("Wix resource", resource->name, es);
	if (state->endpoint != NULL)
		explain_endpoint(node, state, state->endpoint, "", es);
	else if (!wix_resource_needs_catalog(resource))
		explain_endpoint(node, state, resource->endpoints[0], "", es);
	else
	{
		ForeignTable *table = GetForeignTable(RelationGetRelid(node->ss.ss_currentRelation));
		WixServerOptions server;

		wix_server_options(GetForeignServer(table->serverid), &server);
		if (server.catalog != WIX_CATALOG_ANY)
			explain_endpoint(node, state,
							 wix_resource_endpoint(resource, server.catalog), "", es);
		else
		{
			/* the site's catalog decides when the scan starts */
			for (int i = 0; resource->endpoints[i] != NULL; i++)
				explain_endpoint(node, state, resource->endpoints[i],
								 resource->endpoints[i]->catalog == WIX_CATALOG_V1 ?
								 " (Catalog V1)" : " (Catalog V3)", es);
		}
	}

	ExplainPropertyInteger("Wix requests (estimated)", NULL,
						   state->estimated_requests, es);
	if (es->analyze)
	{
		if (state->table_copy != NULL)
			ExplainPropertyText("Wix guard",
								psprintf("after %lld look-up requests, the table was read once (%lld requests) and the rest evaluated here",
										 (long long) state->lookup_requests,
										 (long long) state->copy_requests), es);
		ExplainPropertyInteger("Wix requests", NULL, state->stats.requests, es);
		ExplainPropertyInteger("Wix pages", NULL, state->stats.pages, es);
		ExplainPropertyInteger("Wix rows", NULL, state->stats.rows, es);
		/* a time, so only with TIMING; in text only when the limiter held it */
		if (es->timing &&
			(state->stats.rate_limit_wait_ms > 0 || es->format != EXPLAIN_FORMAT_TEXT))
			ExplainPropertyFloat("Wix rate limit wait", "ms",
								 state->stats.rate_limit_wait_ms, 3, es);
	}
}
