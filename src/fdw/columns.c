/*-------------------------------------------------------------------------
 *
 * columns.c
 *		  The column plan: for every column of a foreign table and every
 *		  endpoint of its resource, the Wix path the column reads, how many
 *		  levels above the row ("^") it is read, and the field Wix filters
 *		  and sorts it by.
 *
 * The plan is built once, at planning time, from the column options (the
 * only catalog look-ups), and travels in the ForeignScan's fdw_private.
 * Pushdown, deparsing, EXPLAIN and the scan's converters read it; none of
 * them looks a column up again, and building it asks Wix nothing.
 *
 *-------------------------------------------------------------------------
 */
#include "wix_fdw.h"

#include "access/table.h"
#include "commands/defrem.h"
#include "foreign/foreign.h"
#include "utils/rel.h"

/*
 * column_path_option
 *		The "path" option of a column, or NULL.
 */
static char *
column_path_option(Oid relid, AttrNumber attnum)
{
	List	   *options = GetForeignColumnOptions(relid, attnum);
	ListCell   *cell;

	foreach(cell, options)
	{
		DefElem    *def = lfirst_node(DefElem, cell);

		if (strcmp(def->defname, "path") == 0)
			return defGetString(def);
	}
	return NULL;
}

/*
 * wix_rows_depth
 *		How many arrays down an endpoint's rows are: 0 when each item is a
 *		row, 1 for "lineItems", 2 for "refunds.transactions".
 */
int
wix_rows_depth(const WixEndpoint *endpoint)
{
	int			depth = 0;

	if (endpoint->rows_path == NULL)
		return 0;
	for (const char *p = endpoint->rows_path; p != NULL; p = strchr(p + 1, '.'))
		depth++;
	return depth;
}

/*
 * wix_rows_path_split
 *		An endpoint's rows_path as its keys, each marked optional when it
 *		ends in "?"; depth 0 when each item is a row.
 */
void
wix_rows_path_split(const WixEndpoint *endpoint, WixRowsPath *path)
{
	char	   *copy;
	char	   *saveptr;

	memset(path, 0, sizeof(*path));
	if (endpoint->rows_path == NULL)
		return;
	copy = pstrdup(endpoint->rows_path);
	for (char *key = strtok_r(copy, ".", &saveptr); key != NULL;
		 key = strtok_r(NULL, ".", &saveptr))
	{
		size_t		len = strlen(key);

		if (path->depth == WIX_MAX_ROW_LEVELS)
			elog(ERROR, "wix_admin: rows_path %s is too deep", endpoint->rows_path);
		path->optional[path->depth] = (len > 0 && key[len - 1] == '?');
		if (path->optional[path->depth])
			key[len - 1] = '\0';
		path->keys[path->depth++] = key;
	}
}

/*
 * array_field
 *		The array field (WIX_OP_HAS_SOME) filtering a column read "up" levels
 *		above a row inside items: its path is the column's under the arrays
 *		of rows_path it is in ("lineItems.productName.original").
 */
static const WixFieldDef *
array_field(const WixEndpoint *endpoint, const char *path, int up)
{
	StringInfoData full;
	WixRowsPath rows;
	const WixFieldDef *field;

	/* the keys without their "?" ("refunds?" may be absent: "refunds") */
	wix_rows_path_split(endpoint, &rows);
	initStringInfo(&full);
	for (int level = 0; level < rows.depth - up; level++)
		appendStringInfo(&full, "%s.", rows.keys[level]);
	appendStringInfoString(&full, path);
	field = wix_endpoint_field(endpoint, full.data);
	pfree(full.data);
	return field != NULL && (field->ops & WIX_OP_HAS_SOME) ? field : NULL;
}

/*
 * column_field
 *		The field a column read "up" levels above the row filters and sorts
 *		by.  The item's own fields are filterable, and the array fields of
 *		the arrays a row is in; through a batch call only the parent items'
 *		fields (the parent query takes the filter), and the item's key as the
 *		parent's id.
 */
static const WixFieldDef *
column_field(const WixEndpoint *endpoint, const char *path, int up)
{
	const WixBatch *batch = endpoint->batch;
	int			item_level = wix_rows_depth(endpoint);

	if (batch == NULL && up < item_level)
		return array_field(endpoint, path, up);
	if (batch == NULL)
	{
		const WixFieldDef *field = wix_endpoint_field(endpoint, path);

		/* an array field is not one value of the item */
		return up == item_level && field != NULL &&
			!(field->ops & WIX_OP_HAS_SOME) ? field : NULL;
	}
	if (up == item_level && strcmp(path, batch->key_field) == 0)
		return wix_endpoint_field(batch->parent, batch->parent_id_key);
	if (up == item_level + 1)
		return wix_endpoint_field(batch->parent, path);
	return NULL;
}

/*
 * set_column
 *		A column's entry for the path it reads on an endpoint.
 */
static void
set_column(WixColumn *column, const WixEndpoint *endpoint, const char *path)
{
	column->path = path;
	column->up = 0;
	while (path != NULL && path[column->up] == '^')
		column->up++;
	column->field = path ? column_field(endpoint, path + column->up, column->up) : NULL;
}

/*
 * wix_plan_needs_batch_parent
 *		Does a batch call need its parent items for these columns (attnums)?
 */
bool
wix_plan_needs_batch_parent(const WixColumnPlan *plan, List *attrs)
{
	ListCell   *lc;

	if (plan->endpoint->batch == NULL)
		return false;
	foreach(lc, attrs)
	{
		const WixColumn *column = wix_plan_column(plan, lfirst_int(lc));

		if (column->path != NULL && column->up > wix_rows_depth(plan->endpoint))
			return true;
	}
	return false;
}

/*
 * endpoint_path
 *		A column's path on an endpoint: its "path" option; else, for a
 *		standard column of the resource, the endpoint's path (NULL when that
 *		endpoint lacks the field); else its name in camelCase.
 */
static const char *
endpoint_path(const WixEndpoint *endpoint, const char *option,
			  const char *name)
{
	const char *path;
	bool		standard;

	if (option != NULL)
		return option;
	path = wix_endpoint_column_path(endpoint, name, &standard);
	return standard ? path : wix_default_path(name);
}

static int
endpoint_count(const WixResource *resource)
{
	int			n = 0;

	while (resource->endpoints[n] != NULL)
		n++;
	return n;
}

/*
 * wix_column_plans_build
 *		The column plan of a foreign table for each endpoint of its
 *		resource, in CurrentMemoryContext.
 */
WixColumnPlans *
wix_column_plans_build(Oid relid, const WixResource *resource)
{
	WixColumnPlans *plans = palloc(sizeof(WixColumnPlans));
	Relation	rel = table_open(relid, NoLock);
	TupleDesc	tupdesc = RelationGetDescr(rel);

	plans->nplans = endpoint_count(resource);
	plans->plans = palloc(sizeof(WixColumnPlan) * plans->nplans);
	for (int e = 0; e < plans->nplans; e++)
	{
		plans->plans[e].endpoint = resource->endpoints[e];
		plans->plans[e].natts = tupdesc->natts;
		plans->plans[e].columns = palloc0(sizeof(WixColumn) * tupdesc->natts);
	}
	for (int i = 0; i < tupdesc->natts; i++)
	{
		Form_pg_attribute attr = TupleDescAttr(tupdesc, i);
		char	   *option;

		if (attr->attisdropped)
			continue;
		option = column_path_option(relid, attr->attnum);
		for (int e = 0; e < plans->nplans; e++)
			set_column(&plans->plans[e].columns[i], resource->endpoints[e],
					   endpoint_path(resource->endpoints[e], option,
									 NameStr(attr->attname)));
	}
	table_close(rel, NoLock);
	return plans;
}

/*
 * wix_column_plans_to_list
 *		The plans as a List for fdw_private: per endpoint, a List of String
 *		paths by attnum, "" for none.
 */
List *
wix_column_plans_to_list(const WixColumnPlans *plans)
{
	List	   *result = NIL;

	for (int e = 0; e < plans->nplans; e++)
	{
		const WixColumnPlan *plan = &plans->plans[e];
		List	   *paths = NIL;

		for (int i = 0; i < plan->natts; i++)
			paths = lappend(paths, makeString(pstrdup(plan->columns[i].path ?
													  plan->columns[i].path : "")));
		result = lappend(result, paths);
	}
	return result;
}

/*
 * wix_column_plans_from_list
 *		The plans of a ForeignScan's fdw_private again, for its resource.
 */
WixColumnPlans *
wix_column_plans_from_list(List *list, const WixResource *resource)
{
	WixColumnPlans *plans = palloc(sizeof(WixColumnPlans));
	ListCell   *lc;
	int			e = 0;

	plans->nplans = list_length(list);
	plans->plans = palloc(sizeof(WixColumnPlan) * plans->nplans);
	if (plans->nplans != endpoint_count(resource))
		elog(ERROR, "wix_admin: column plan does not match resource \"%s\"",
			 resource->name);
	foreach(lc, list)
	{
		WixColumnPlan *plan = &plans->plans[e];
		List	   *paths = lfirst(lc);

		plan->endpoint = resource->endpoints[e++];
		plan->natts = list_length(paths);
		plan->columns = palloc0(sizeof(WixColumn) * plan->natts);
		for (int i = 0; i < plan->natts; i++)
		{
			char	   *path = strVal(list_nth(paths, i));

			set_column(&plan->columns[i], plan->endpoint,
					   path[0] != '\0' ? path : NULL);
		}
	}
	return plans;
}

/*
 * wix_column_plan
 *		The plan of one endpoint of the resource.
 */
const WixColumnPlan *
wix_column_plan(const WixColumnPlans *plans, const WixEndpoint *endpoint)
{
	for (int e = 0; e < plans->nplans; e++)
	{
		if (plans->plans[e].endpoint == endpoint)
			return &plans->plans[e];
	}
	elog(ERROR, "wix_admin: no column plan for endpoint %s", endpoint->query_path);
	return NULL;				/* keep compiler quiet */
}

/*
 * wix_plan_column
 *		A column of the plan by attribute number.
 */
const WixColumn *
wix_plan_column(const WixColumnPlan *plan, AttrNumber attnum)
{
	Assert(attnum > 0 && attnum <= plan->natts);
	return &plan->columns[attnum - 1];
}
