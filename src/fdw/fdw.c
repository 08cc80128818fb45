/*-------------------------------------------------------------------------
 *
 * fdw.c
 *		  The foreign-data wrapper's handler and its planning callbacks:
 *		  sizes and estimates, paths (parameterized, sorted, limited), the
 *		  plan with its fdw_private, and IMPORT FOREIGN SCHEMA.  The scan
 *		  itself and EXPLAIN are in scan.c, INSERT, UPDATE and DELETE in
 *		  modify.c.
 *
 *-------------------------------------------------------------------------
 */
#include "wix_fdw.h"

#include <math.h>

#include "access/htup_details.h"
#include "access/table.h"
#include "foreign/fdwapi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "optimizer/paths.h"
#include "optimizer/planmain.h"
#include "optimizer/restrictinfo.h"
#include "optimizer/cost.h"
#include "utils/lsyscache.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/rel.h"


/* Rows of a table nothing tells the size of. */
#define DEFAULT_ROWS_ESTIMATE	1000
/* Converting a row Wix sent, per row. */
#define ROW_COST				0.01

/* Indexes of the fdw_private list of a ForeignPath. */
enum WixPathPrivate
{
	WixPathSortKeys,			/* IntList, as above */
	WixPathLimit,				/* Integer, final paths only */
	WixPathOffset				/* Integer, final paths only */
};

PG_FUNCTION_INFO_V1(wix_admin_fdw_handler);

/*
 * remote_estimate
 *		use_remote_estimate: how many rows Wix holds that pass the pushed
 *		conditions (values not known at plan time left out), from the
 *		endpoint's count call or query total.  -1 when it cannot tell.
 */
static double
remote_estimate(PlannerInfo *root, RelOptInfo *baserel, WixRelInfo *info,
				Oid serverid)
{
	Oid			userid = OidIsValid(baserel->userid) ? baserel->userid : GetUserId();
	WixConnection *conn = wix_get_connection(wix_user_mapping(userid, serverid));
	WixCatalogVersion catalog = WIX_CATALOG_ANY;
	WixDeparseContext ctx;
	json_object *filter;
	List	   *conds = NIL;
	ListCell   *lc;
	bool		never_true;

	if (wix_resource_needs_catalog(info->resource))
		catalog = wix_catalog_version(conn);
	memset(&ctx, 0, sizeof(ctx));
	ctx.endpoint = wix_resource_endpoint(info->resource, catalog);
	ctx.columns = wix_column_plan(info->all_plans, ctx.endpoint);
	ctx.relid_index = baserel->relid;
	ctx.plan_time = true;
	foreach(lc, info->remote_conds)
		conds = lappend(conds, lfirst_node(RestrictInfo, lc)->clause);
	filter = wix_deparse_filter(conds, &ctx, &never_true);
	if (never_true)
		return 0;
	if (filter != NULL)
		(void) wix_json_hold(CurrentMemoryContext, filter);
	return wix_remote_count(conn, ctx.endpoint, filter);
}

/*
 * rows_per_request
 *		Rows a request brings, when no read of the table was remembered: a
 *		full page of the smallest of the endpoints' pages; half that for a
 *		batch call, whose parent pages are requests too.
 */
static double
rows_per_request(WixRelInfo *info)
{
	double		rows = INT_MAX;

	for (int i = 0; info->endpoints[i] != NULL; i++)
	{
		const WixEndpoint *endpoint = info->endpoints[i];
		double		page = Max(1, endpoint->max_page_size);

		rows = Min(rows, endpoint->batch != NULL ? Max(1.0, page / 2) : page);
	}
	return rows;
}

/*
 * table_size
 *		How many rows the table holds, and how many rows a request brings,
 *		by the precedence README documents: the "rows" option, then ANALYZE
 *		(baserel->tuples from reltuples), then the size remembered from the
 *		last read to the end, then a remote count (use_remote_estimate, with
 *		the pushed conditions: *counted is set then), then 1000 rows.
 */
static void
table_size(PlannerInfo *root, RelOptInfo *baserel, WixRelInfo *info,
		   Oid serverid, bool use_remote_estimate, bool *counted)
{
	Oid			userid = OidIsValid(baserel->userid) ? baserel->userid : GetUserId();
	double		option_rows;
	double		remembered_rows;
	double		remembered_requests;
	bool		remembered;

	*counted = false;
	wix_table_estimate_options(info->relid, &option_rows, &use_remote_estimate);
	remembered = wix_size_recall(serverid, wix_user_mapping_id(userid, serverid),
								 info->resource->name, &remembered_rows,
								 &remembered_requests);
	info->rows_per_request = remembered && remembered_requests > 0 ?
		Max(1.0, remembered_rows / remembered_requests) : rows_per_request(info);
	if (option_rows >= 0)
		info->table_rows = option_rows;
	else if (baserel->tuples >= 0)
		info->table_rows = baserel->tuples;
	else if (remembered)
		info->table_rows = remembered_rows;
	else if (use_remote_estimate &&
			 (info->table_rows = remote_estimate(root, baserel, info, serverid)) >= 0)
		*counted = true;
	else
		info->table_rows = DEFAULT_ROWS_ESTIMATE;
}

/*
 * wixGetForeignRelSize
 *		Pick the endpoints a scan may use and split the conditions into those
 *		Wix evaluates and those checked here (approximate ones are both).
 *		baserel->tuples becomes the rows Wix sends, baserel->rows those
 *		left after the local conditions.
 */
static void
wixGetForeignRelSize(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid)
{
	WixRelInfo *info = palloc0(sizeof(WixRelInfo));
	ForeignTable *table = GetForeignTable(foreigntableid);
	WixServerOptions server;
	List	   *all_clauses = NIL;
	List	   *remote_clauses = NIL;
	ListCell   *lc;
	int			n = 0;
	bool		counted;
	bool		analyzed;

	info->relid = foreigntableid;
	info->resource = wix_find_resource(wix_table_resource(foreigntableid));
	if (info->resource == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("foreign table \"%s\" names an unknown Wix resource",
						get_rel_name(foreigntableid))));
	wix_server_options(GetForeignServer(table->serverid), &server);
	info->catalog = server.catalog;
	info->request_cost = server.request_cost >= 0 ? server.request_cost :
		wix_request_cost;
	info->all_plans = wix_column_plans_build(foreigntableid, info->resource);
	for (int i = 0; info->resource->endpoints[i] != NULL; i++)
	{
		const WixEndpoint *endpoint = info->resource->endpoints[i];

		if (info->catalog == WIX_CATALOG_ANY || endpoint->catalog == WIX_CATALOG_ANY ||
			endpoint->catalog == info->catalog)
		{
			info->plans[n] = wix_column_plan(info->all_plans, endpoint);
			info->endpoints[n++] = endpoint;
		}
	}
	baserel->fdw_private = info;
	analyzed = baserel->tuples >= 0;

	foreach(lc, baserel->baserestrictinfo)
	{
		RestrictInfo *rinfo = lfirst_node(RestrictInfo, lc);
		bool		exact;

		all_clauses = lappend(all_clauses, rinfo);
		/* the selectivity PostgreSQL caches for it, when it has no statistics */
		if (!analyzed)
		{
			double		selectivity = wix_enum_selectivity(root, baserel, info,
														   rinfo->clause);

			if (selectivity >= 0)
				rinfo->norm_selec = selectivity;
		}
		if (wix_enable_where_pushdown &&
			wix_is_pushable_cond(root, baserel, info, rinfo->clause, &exact))
		{
			info->remote_conds = lappend(info->remote_conds, rinfo);
			remote_clauses = lappend(remote_clauses, rinfo);
			if (!exact)
				info->local_conds = lappend(info->local_conds, rinfo);
		}
		else
			info->local_conds = lappend(info->local_conds, rinfo);
	}
	table_size(root, baserel, info, table->serverid, server.use_remote_estimate,
			   &counted);
	if (counted)
	{
		/* Wix counted the rows passing the pushed conditions */
		List	   *local_only = list_difference_ptr(info->local_conds,
													 info->remote_conds);

		baserel->tuples = clamp_row_est(info->table_rows);
		baserel->rows = clamp_row_est(info->table_rows *
									  clauselist_selectivity(root, local_only,
															 baserel->relid,
															 JOIN_INNER, NULL));
	}
	else
	{
		baserel->tuples = clamp_row_est(info->table_rows *
										clauselist_selectivity(root, remote_clauses,
															   baserel->relid,
															   JOIN_INNER, NULL));
		baserel->rows = clamp_row_est(info->table_rows *
									  clauselist_selectivity(root, all_clauses,
															 baserel->relid,
															 JOIN_INNER, NULL));
	}
}

/* The Wix requests a run that receives fetched rows makes: at least one. */
static double
requests_for(WixRelInfo *info, double fetched)
{
	/* rows_per_request may come from a division: 29.000000001 is 29 */
	return Max(1.0, ceil(fetched / info->rows_per_request - 1e-6));
}

/*
 * scan_cost
 *		Cost of fetching rows: each request at request_cost, which dwarfs the
 *		rest, and a little per row.  The first request is the startup cost.
 */
static void
scan_cost(WixRelInfo *info, double fetched, double returned, Cost *startup,
		  Cost *total)
{
	*startup = info->request_cost;
	*total = requests_for(info, fetched) * info->request_cost +
		fetched * ROW_COST + returned * cpu_tuple_cost;
}

/*
 * sort_keys_for
 *		The (attnum, descending) pairs that let Wix sort by the pathkeys, or
 *		NIL (with *ok false) when it cannot.
 */
static List *
sort_keys_for(List *pathkeys, RelOptInfo *baserel, WixRelInfo *info, bool *ok)
{
	List	   *keys = NIL;
	ListCell   *lc;

	*ok = wix_enable_order_by_pushdown && pathkeys != NIL;
	for (int i = 0; *ok && info->endpoints[i] != NULL; i++)
		*ok = list_length(pathkeys) <= info->endpoints[i]->max_sort_keys;
	if (!*ok)
		return NIL;
	foreach(lc, pathkeys)
	{
		AttrNumber	attnum;
		bool		descending;

		if (!wix_pathkey_sort(lfirst(lc), baserel, info, &attnum, &descending))
		{
			*ok = false;
			return NIL;
		}
		keys = lappend_int(keys, attnum);
		keys = lappend_int(keys, descending);
	}
	return keys;
}

/* State of the search for join clauses (see add_parameterized_paths). */
typedef struct JoinColumnSearch
{
	List	   *used_ecs;		/* equivalence classes already taken */
} JoinColumnSearch;

/* generate_implied_equalities_for_column callback: a column of ours, once. */
static bool
ec_member_is_our_column(PlannerInfo *root, RelOptInfo *rel,
						EquivalenceClass *ec, EquivalenceMember *em, void *arg)
{
	JoinColumnSearch *search = arg;
	Expr	   *expr = em->em_expr;

	while (IsA(expr, RelabelType))
		expr = ((RelabelType *) expr)->arg;
	if (!IsA(expr, Var) || ((Var *) expr)->varno != rel->relid ||
		((Var *) expr)->varattno <= 0 || list_member_ptr(search->used_ecs, ec))
		return false;
	search->used_ecs = lappend(search->used_ecs, ec);
	return true;
}

/*
 * add_parameterized_paths
 *		For joins such as orders.buyer_member_id = members.id: a scan that
 *		sends the other side's value as a filter, one request per outer row,
 *		so a nested loop fetches only the rows it needs.  The planner picks it
 *		only when that costs fewer requests than reading the whole table.
 */
static void
add_parameterized_paths(PlannerInfo *root, RelOptInfo *baserel, WixRelInfo *info)
{
	JoinColumnSearch search = {NIL};
	List	   *clauses = NIL;
	ListCell   *lc;

	if (!wix_enable_where_pushdown)
		return;
	for (;;)
	{
		List	   *found = generate_implied_equalities_for_column(root, baserel,
																	ec_member_is_our_column,
																	&search,
																	baserel->lateral_referencers);

		if (found == NIL)
			break;
		clauses = list_concat(clauses, found);
	}
	foreach(lc, baserel->joininfo)
	{
		RestrictInfo *rinfo = lfirst_node(RestrictInfo, lc);

		if (!join_clause_is_movable_to(rinfo, baserel))
			continue;
		clauses = lappend(clauses, rinfo);
	}

	foreach(lc, clauses)
	{
		RestrictInfo *rinfo = lfirst_node(RestrictInfo, lc);
		Relids		required_outer;
		ParamPathInfo *param_info;
		bool		exact;
		Cost		startup_cost;
		Cost		total_cost;

		if (!wix_is_pushable_cond(root, baserel, info, rinfo->clause, &exact))
			continue;
		required_outer = bms_union(bms_difference(rinfo->clause_relids, baserel->relids),
								   baserel->lateral_relids);
		if (bms_is_empty(required_outer))
			continue;
		param_info = get_baserel_parampathinfo(root, baserel, required_outer);
		scan_cost(info, param_info->ppi_rows, param_info->ppi_rows,
				  &startup_cost, &total_cost);
		add_path(baserel, (Path *)
				 wix_create_foreignscan_path(root, baserel, param_info->ppi_rows,
											 startup_cost, total_cost, NIL,
											 required_outer, NIL));
	}
}

/*
 * wixGetForeignPaths
 *		An unsorted scan, a scan Wix sorts when it can sort by the query's
 *		ORDER BY, and scans parameterized by join clauses.
 */
static void
wixGetForeignPaths(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid)
{
	WixRelInfo *info = baserel->fdw_private;
	Cost		startup_cost;
	Cost		total_cost;
	List	   *sort_keys;
	bool		sortable;

	scan_cost(info, baserel->tuples, baserel->rows, &startup_cost, &total_cost);
	add_path(baserel, (Path *)
			 wix_create_foreignscan_path(root, baserel, baserel->rows,
										 startup_cost, total_cost, NIL, NULL,
										 NIL));

	sort_keys = sort_keys_for(root->query_pathkeys, baserel, info, &sortable);
	if (sortable)
		add_path(baserel, (Path *)
				 wix_create_foreignscan_path(root, baserel, baserel->rows,
											 startup_cost, total_cost * 1.001,
											 root->query_pathkeys, NULL,
											 list_make1(sort_keys)));
	add_parameterized_paths(root, baserel, info);
}

/* Is this one of our plain foreign-table rels? */
static WixRelInfo *
base_rel_info(RelOptInfo *rel)
{
	if (rel->reloptkind != RELOPT_BASEREL || rel->fdw_private == NULL)
		return NULL;
	return (WixRelInfo *) rel->fdw_private;
}

/* A non-negative int8 Const LIMIT/OFFSET value, or -1. */
static int64
limit_value(Node *node)
{
	Const	   *c = (Const *) node;

	if (node == NULL)
		return 0;
	if (!IsA(node, Const) || c->consttype != INT8OID)
		return -1;
	if (c->constisnull)
		return 0;
	return DatumGetInt64(c->constvalue) >= 0 ? DatumGetInt64(c->constvalue) : -1;
}

/*
 * wixGetForeignUpperPaths
 *		Push LIMIT/OFFSET (UPPERREL_FINAL) when Wix evaluates every condition
 *		exactly and, with an ORDER BY, sorts the rows itself: the first page
 *		then asks for just limit + offset rows.  The ORDERED stage only notes
 *		which base rel is below it.
 */
static void
wixGetForeignUpperPaths(PlannerInfo *root, UpperRelationKind stage,
						RelOptInfo *input_rel, RelOptInfo *output_rel,
						void *extra)
{
	Query	   *parse = root->parse;
	RelOptInfo *baserel = input_rel;
	WixRelInfo *info;
	List	   *pathkeys = NIL;
	List	   *sort_keys = NIL;
	int64		limit;
	int64		offset;
	double		rows;
	Cost		startup_cost;
	Cost		total_cost;

	if (stage == UPPERREL_ORDERED)
	{
		if (base_rel_info(input_rel) != NULL)
		{
			WixRelInfo *marker = palloc0(sizeof(WixRelInfo));

			marker->ordered_input = input_rel;
			output_rel->fdw_private = marker;
		}
		return;
	}
	if (stage != UPPERREL_FINAL || !wix_enable_limit_pushdown ||
		!((FinalPathExtraData *) extra)->limit_needed ||
		parse->commandType != CMD_SELECT || parse->rowMarks ||
		parse->hasTargetSRFs || parse->limitCount == NULL ||
		parse->limitOption != LIMIT_OPTION_COUNT)
		return;

	if (input_rel->reloptkind == RELOPT_UPPER_REL)
	{
		WixRelInfo *marker = input_rel->fdw_private;
		bool		sortable;

		if (marker == NULL || marker->ordered_input == NULL)
			return;
		baserel = marker->ordered_input;
		pathkeys = root->sort_pathkeys;
		sort_keys = sort_keys_for(pathkeys, baserel, base_rel_info(baserel), &sortable);
		if (!sortable)
			return;
	}
	info = base_rel_info(baserel);
	if (info == NULL || info->local_conds != NIL)
		return;
	/* a page of n items must be n rows, and paged by a query */
	for (int i = 0; info->endpoints[i] != NULL; i++)
	{
		if (info->endpoints[i]->rows_path != NULL ||
			!wix_endpoint_is_query(info->endpoints[i]))
			return;
	}

	limit = limit_value(parse->limitCount);
	offset = limit_value(parse->limitOffset);
	if (limit < 0 || offset < 0 || limit + offset > INT_MAX)
		return;

	rows = Min(baserel->rows, (double) limit);
	scan_cost(info, Min(baserel->tuples, (double) (limit + offset)), rows,
			  &startup_cost, &total_cost);
	add_path(output_rel, (Path *)
			 wix_create_foreign_upper_path(root, baserel,
										   root->upper_targets[UPPERREL_FINAL],
										   rows, startup_cost, total_cost,
										   pathkeys,
										   list_make3(sort_keys,
													  makeInteger((int) limit),
													  makeInteger((int) offset))));
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

/* The name of the column whose field is field_path, for messages. */
static const char *
column_of_field(WixRelInfo *info, const WixColumnPlan *plan,
				const char *field_path)
{
	for (int i = 0; i < plan->natts; i++)
	{
		const WixFieldDef *field = plan->columns[i].field;

		if (field != NULL && strcmp(field->path, field_path) == 0)
			return get_attname(info->relid, i + 1, false);
	}
	return field_path;
}

/*
 * check_path_conditions
 *		An endpoint with "{field}" in its path is read only with a pushed
 *		"column = value" condition giving each: without one there is no
 *		call to make, and the scan must not quietly return nothing.
 */
static void
check_path_conditions(RelOptInfo *baserel, WixRelInfo *info, List *remote_exprs)
{
	for (int i = 0; info->endpoints[i] != NULL; i++)
	{
		const WixEndpoint *endpoint = info->endpoints[i];
		WixDeparseContext ctx;
		ListCell   *lc;

		memset(&ctx, 0, sizeof(ctx));
		ctx.endpoint = endpoint;
		ctx.columns = info->plans[i];
		ctx.relid_index = baserel->relid;
		ctx.plan_time = true;
		foreach(lc, wix_path_params(endpoint->query_path))
		{
			const char *field = strVal(lfirst(lc));
			const char *column = column_of_field(info, info->plans[i], field);
			List	   *values;

			if (!wix_key_values(remote_exprs, &ctx, field, false, &values))
				ereport(ERROR,
						(errcode(ERRCODE_FDW_UNABLE_TO_CREATE_EXECUTION),
						 errmsg("foreign table \"%s\" can only be read with a condition %s = value",
								get_rel_name(info->relid), quote_identifier(column)),
						 errdetail("Wix reads resource \"%s\" with %s %s, which needs the value of %s.",
								   info->resource->name,
								   endpoint->method ? endpoint->method : "POST",
								   endpoint->query_path, field),
						 errhint("Add WHERE %s = '...' to the query, or join on %s.",
								 quote_identifier(column), quote_identifier(column))));
		}
	}
}

static ForeignScan *
wixGetForeignPlan(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid,
				  ForeignPath *best_path, List *tlist, List *scan_clauses,
				  Plan *outer_plan)
{
	WixRelInfo *info = baserel->fdw_private;
	List	   *remote_exprs = NIL;
	List	   *local_exprs = NIL;
	List	   *param_exprs;
	List	   *path_private = best_path->fdw_private;
	List	   *sort_keys = NIL;
	int			limit = -1;
	int			offset = 0;
	Relation	rel;
	List	   *attrs;
	List	   *fdw_private;
	ListCell   *lc;
	double		fetched;

	foreach(lc, scan_clauses)
	{
		RestrictInfo *rinfo = lfirst_node(RestrictInfo, lc);
		bool		exact = false;

		if (rinfo->pseudoconstant)
			continue;
		if (list_member_ptr(info->remote_conds, rinfo))
		{
			remote_exprs = lappend(remote_exprs, rinfo->clause);
			exact = !list_member_ptr(info->local_conds, rinfo);
		}
		else if (!list_member_ptr(info->local_conds, rinfo) &&
				 wix_enable_where_pushdown &&
				 wix_is_pushable_cond(root, baserel, info, rinfo->clause, &exact))
			remote_exprs = lappend(remote_exprs, rinfo->clause);	/* a join clause */
		if (!exact)
			local_exprs = lappend(local_exprs, rinfo->clause);
	}
	param_exprs = wix_collect_param_values(root, baserel->relid, remote_exprs);
	check_path_conditions(baserel, info, remote_exprs);

	if (path_private != NIL)
	{
		sort_keys = list_nth(path_private, WixPathSortKeys);
		if (list_length(path_private) > WixPathLimit)
		{
			limit = intVal(list_nth(path_private, WixPathLimit));
			offset = intVal(list_nth(path_private, WixPathOffset));
		}
	}

	/*
	 * A parameterized scan may have to evaluate its pushed conditions here
	 * (the guard of scan.c), so it fills their columns too.
	 */
	rel = table_open(foreigntableid, NoLock);
	attrs = retrieved_attrs(baserel,
							param_exprs != NIL ?
							list_concat_copy(local_exprs, remote_exprs) : local_exprs,
							rel);
	table_close(rel, NoLock);

	if (best_path->path.param_info != NULL)
		fetched = best_path->path.param_info->ppi_rows;
	else if (limit >= 0)
		fetched = Min(baserel->tuples, (double) limit + offset);
	else
		fetched = baserel->tuples;

	fdw_private = list_make5(makeString((char *) info->resource->name),
							 makeInteger(baserel->relid), attrs, remote_exprs,
							 copyObject(param_exprs));
	fdw_private = lappend(fdw_private, sort_keys);
	fdw_private = lappend(fdw_private, makeInteger(limit));
	fdw_private = lappend(fdw_private, makeInteger(offset));
	/* under a LIMIT, fetching far ahead would waste requests */
	fdw_private = lappend(fdw_private,
						  makeInteger(limit >= 0 || root->parse->limitCount != NULL ||
									  root->limit_tuples >= 0));
	fdw_private = lappend(fdw_private, wix_column_plans_to_list(info->all_plans));
	fdw_private = lappend(fdw_private,
						  makeInteger((int) Min(requests_for(info, fetched), INT_MAX)));
	fdw_private = lappend(fdw_private,
						  makeInteger((int) Min(requests_for(info, info->table_rows),
												INT_MAX)));

	return make_foreignscan(tlist, local_exprs, baserel->relid, param_exprs,
							fdw_private, NIL, NIL, outer_plan);
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
	routine->GetForeignUpperPaths = wixGetForeignUpperPaths;
	routine->BeginForeignScan = wixBeginForeignScan;
	routine->IterateForeignScan = wixIterateForeignScan;
	routine->ReScanForeignScan = wixReScanForeignScan;
	routine->EndForeignScan = wixEndForeignScan;
	routine->ExplainForeignScan = wixExplainForeignScan;
	routine->AnalyzeForeignTable = wixAnalyzeForeignTable;
	routine->ImportForeignSchema = wixImportForeignSchema;
	routine->AddForeignUpdateTargets = wixAddForeignUpdateTargets;
	routine->PlanForeignModify = wixPlanForeignModify;
	routine->BeginForeignModify = wixBeginForeignModify;
	routine->ExecForeignInsert = wixExecForeignInsert;
	routine->ExecForeignUpdate = wixExecForeignUpdate;
	routine->ExecForeignDelete = wixExecForeignDelete;
	routine->EndForeignModify = wixEndForeignModify;
	routine->BeginForeignInsert = wixBeginForeignInsert;
	routine->EndForeignInsert = wixEndForeignModify;
	routine->GetForeignModifyBatchSize = wixGetForeignModifyBatchSize;
	routine->ExecForeignBatchInsert = wixExecForeignBatchInsert;
	routine->PlanDirectModify = wixPlanDirectModify;
	routine->BeginDirectModify = wixBeginDirectModify;
	routine->IterateDirectModify = wixIterateDirectModify;
	routine->EndDirectModify = wixEndDirectModify;
	routine->ExplainDirectModify = wixExplainDirectModify;
	routine->IsForeignRelUpdatable = wixIsForeignRelUpdatable;
	routine->ExplainForeignModify = wixExplainForeignModify;

	PG_RETURN_POINTER(routine);
}
