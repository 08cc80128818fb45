/*-------------------------------------------------------------------------
 *
 * import.c
 *		  IMPORT FOREIGN SCHEMA wix: a CREATE FOREIGN TABLE statement per
 *		  resource of the catalog, and a COMMENT on each table it creates and
 *		  on each of its columns, so that BI tools show what they hold.
 *
 * PostgreSQL runs only CREATE FOREIGN TABLE statements for an FDW's import
 * (ImportForeignSchema refuses any other), each as a subcommand through
 * ProcessUtility.  So the comments come from a ProcessUtility hook: when a
 * subcommand is one of the statements wix_import_statements returned (the
 * very same string, which PostgreSQL passes as the query string) and it
 * succeeded, the hook comments the new table from the catalog's data.  The
 * statements are remembered only while the import's memory lives.  The
 * hook is installed by _PG_init, which runs before the first subcommand
 * even when the import itself loads the library.
 *
 *-------------------------------------------------------------------------
 */
#include "wix_fdw.h"

#include <ctype.h>

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "commands/comment.h"
#include "commands/defrem.h"
#include "tcop/utility.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

static ProcessUtility_hook_type prev_process_utility = NULL;

/* The statements of the import running now, or NIL. */
static List *import_commands = NIL;

/* Memory-context callback: the import's statements are gone. */
static void
forget_import_commands(void *arg)
{
	if (import_commands == (List *) arg)
		import_commands = NIL;
}

/*
 * column_path_for_import
 *		The path IMPORT FOREIGN SCHEMA writes for a standard column: the one
 *		every endpoint of the resource agrees on, unless it is the default
 *		anyway.  NULL when no option is needed (the scan then takes the path
 *		of the site's endpoint).
 */
static const char *
column_path_for_import(const WixResource *resource, const char *column_name)
{
	const char *path = NULL;

	for (int i = 0; resource->endpoints[i] != NULL; i++)
	{
		bool		found;
		const char *p = wix_endpoint_column_path(resource->endpoints[i],
												 column_name, &found);

		if (p == NULL || (path != NULL && strcmp(p, path) != 0))
			return NULL;
		path = p;
	}
	if (path != NULL && strcmp(path, wix_default_path(column_name)) == 0)
		return NULL;
	return path;
}

/*
 * wix_import_statements
 *		CREATE FOREIGN TABLE statements for IMPORT FOREIGN SCHEMA wix.  No
 *		option value of the server or user mapping is ever copied into them.
 *		LIMIT TO / EXCEPT filtering is left to the core code.  The list is
 *		remembered for the hook until CurrentMemoryContext, which holds it,
 *		goes away.
 */
List *
wix_import_statements(const char *server_name, ImportForeignSchemaStmt *stmt)
{
	const WixResource *const *resources = wix_all_resources();
	List	   *commands = NIL;
	MemoryContextCallback *callback;

	for (int i = 0; resources[i] != NULL; i++)
	{
		const WixResource *resource = resources[i];
		const WixEndpoint *first = resource->endpoints[0];
		StringInfoData buf;

		if (resource->experimental)
			continue;
		initStringInfo(&buf);
		appendStringInfo(&buf, "CREATE FOREIGN TABLE %s (\n",
						 quote_identifier(resource->name));
		for (const WixColumnDef *col = first->columns; col->name != NULL; col++)
		{
			const char *path = column_path_for_import(resource, col->name);

			appendStringInfo(&buf, "  %s %s", quote_identifier(col->name),
							 col->sql_type);
			if (path != NULL)
				appendStringInfo(&buf, " OPTIONS (path %s)",
								 quote_literal_cstr(path));
			appendStringInfoString(&buf, (col + 1)->name != NULL ? ",\n" : "\n");
		}
		appendStringInfo(&buf, ") SERVER %s OPTIONS (resource %s)",
						 quote_identifier(server_name),
						 quote_literal_cstr(resource->name));
		commands = lappend(commands, buf.data);
	}

	import_commands = commands;
	callback = palloc0(sizeof(MemoryContextCallback));
	callback->func = forget_import_commands;
	callback->arg = commands;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, callback);
	return commands;
}

/*
 * field_text
 *		A column path as the Wix field it reads: "^" levels resolved against
 *		the endpoint's rows_path ("lineItems[].productName.original" for a
 *		line item's column, "id" for its order's), a batch call's parent
 *		items as elements of the parent's answer ("orders[].number"), array
 *		indexes in brackets, "a|b" as "a, else b".  The whole item ("$") is
 *		its array ("lineItems[]"), or "" for an item of the answer.
 */
static char *
field_text(const WixEndpoint *endpoint, const char *path)
{
	const char *field;
	int			level;
	char	   *rows;
	char	   *rows_end;
	StringInfoData prefix;
	StringInfoData buf;

	for (field = path; *field == '^'; field++)
		;
	level = wix_rows_depth(endpoint) - (int) (field - path);

	/* the arrays above the field, each "key[]." */
	initStringInfo(&prefix);
	if (level < 0)
		appendStringInfo(&prefix, "%s[].", endpoint->batch->parent->items_key);
	rows = pstrdup(endpoint->rows_path != NULL ? endpoint->rows_path : "");
	for (char *key = strtok_r(rows, ".", &rows_end);
		 key != NULL && level-- > 0;
		 key = strtok_r(NULL, ".", &rows_end))
		appendStringInfo(&prefix, "%.*s[].", (int) strcspn(key, "?"), key);
	if (strcmp(field, "$") == 0)
	{
		if (prefix.len > 0)
			prefix.data[--prefix.len] = '\0';
		return prefix.data;
	}

	initStringInfo(&buf);
	appendStringInfoString(&buf, prefix.data);
	for (const char *p = field; *p != '\0'; p++)
	{
		if (*p == '|')
			appendStringInfo(&buf, ", else %s", prefix.data);
		else if (p > field && p[-1] == '.' && isdigit((unsigned char) *p))
		{
			/* "prices.0.price" reads "prices[0].price" */
			int			digits = strspn(p, "0123456789");

			buf.data[--buf.len] = '\0';	/* the dot */
			appendStringInfo(&buf, "[%.*s]", digits, p);
			p += digits - 1;
		}
		else
			appendStringInfoChar(&buf, *p);
	}
	return buf.data;
}

/* "Catalog V1" or "Catalog V3": which sites an endpoint serves. */
static const char *
catalog_label(const WixEndpoint *endpoint)
{
	return endpoint->catalog == WIX_CATALOG_V1 ? "Catalog V1" : "Catalog V3";
}

/*
 * column_comment
 *		"Wix field <field>: <description>" ("Wix object" for the whole
 *		item), naming the field on each catalog where the resource's
 *		endpoints differ.
 */
static char *
column_comment(const WixResource *resource, const WixColumnDef *column)
{
	StringInfoData fields;		/* "x (Catalog V3), y (Catalog V1)" */
	StringInfoData buf;
	const char *first = NULL;
	bool		all_same = true;
	bool		whole = false;
	int			with = 0;
	int			without = 0;

	initStringInfo(&fields);
	for (int i = 0; resource->endpoints[i] != NULL; i++)
	{
		const WixEndpoint *endpoint = resource->endpoints[i];
		bool		found;
		const char *path = wix_endpoint_column_path(endpoint, column->name, &found);
		char	   *field;

		if (path == NULL)
		{
			without++;
			continue;
		}
		field = field_text(endpoint, path);
		whole = strcmp(path, "$") == 0;
		if (first != NULL && strcmp(first, field) != 0)
			all_same = false;
		if (first == NULL)
			first = field;
		appendStringInfo(&fields, "%s%s (%s", with++ > 0 ? "), " : "",
						 field[0] != '\0' ? field : psprintf("%s[]", endpoint->items_key),
						 catalog_label(endpoint));
	}

	initStringInfo(&buf);
	appendStringInfoString(&buf, whole ? "Wix object" : "Wix field");
	if (without == 0 && all_same)
		appendStringInfo(&buf, "%s%s", first[0] != '\0' ? " " : "", first);
	else
		appendStringInfo(&buf, " %s%s)", fields.data, with == 1 ? " only" : "");
	appendStringInfo(&buf, ": %s", column->description);
	return buf.data;
}

/*
 * table_comment
 *		The resource's description and the call that reads it, on each
 *		catalog where they differ, and for a batch call the query its ids
 *		come from.
 */
static char *
table_comment(const WixResource *resource)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfo(&buf, "%s (Wix ", resource->description);
	for (int i = 0; resource->endpoints[i] != NULL; i++)
	{
		const WixEndpoint *endpoint = resource->endpoints[i];

		appendStringInfo(&buf, "%s%s %s", i > 0 ? ", " : "",
						 endpoint->method ? endpoint->method : "POST",
						 endpoint->query_path);
		if (endpoint->catalog != WIX_CATALOG_ANY)
			appendStringInfo(&buf, " on %s", catalog_label(endpoint));
		if (endpoint->batch != NULL)
			appendStringInfo(&buf, ", for the orders of POST %s",
							 endpoint->batch->parent->query_path);
	}
	appendStringInfoChar(&buf, ')');
	return buf.data;
}

/* Comment the table an import statement created, and its columns. */
static void
comment_imported_table(CreateForeignTableStmt *stmt)
{
	const WixResource *resource = NULL;
	ListCell   *lc;
	Oid			relid;

	foreach(lc, stmt->options)
	{
		DefElem    *def = lfirst_node(DefElem, lc);

		if (strcmp(def->defname, "resource") == 0)
			resource = wix_find_resource(defGetString(def));
	}
	if (resource == NULL)
		return;

	CommandCounterIncrement();
	relid = RangeVarGetRelid(stmt->base.relation, NoLock, false);
	CreateComments(relid, RelationRelationId, 0, table_comment(resource));
	for (const WixColumnDef *col = resource->endpoints[0]->columns;
		 col->name != NULL; col++)
	{
		AttrNumber	attnum = get_attnum(relid, col->name);

		if (attnum != InvalidAttrNumber && col->description != NULL)
			CreateComments(relid, RelationRelationId, attnum,
						   column_comment(resource, col));
	}
}

/*
 * wix_process_utility
 *		After a statement of a wix_admin import has created its table, add
 *		the comments.
 */
static void
wix_process_utility(PlannedStmt *pstmt, const char *queryString,
					bool readOnlyTree, ProcessUtilityContext context,
					ParamListInfo params, QueryEnvironment *queryEnv,
					DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *parsetree = pstmt->utilityStmt;
	bool		imported = context == PROCESS_UTILITY_SUBCOMMAND &&
		IsA(parsetree, CreateForeignTableStmt) &&
		list_member_ptr(import_commands, queryString);

	if (prev_process_utility != NULL)
		prev_process_utility(pstmt, queryString, readOnlyTree, context,
							 params, queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context,
								params, queryEnv, dest, qc);
	if (imported)
		comment_imported_table((CreateForeignTableStmt *) parsetree);
}

/* From _PG_init. */
void
wix_import_init(void)
{
	prev_process_utility = ProcessUtility_hook;
	ProcessUtility_hook = wix_process_utility;
}
