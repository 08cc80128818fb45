/*-------------------------------------------------------------------------
 *
 * option.c
 *		  Options of the wix_admin wrapper, servers, user mappings, foreign
 *		  tables and columns: the validator (server values are checked by
 *		  settings.c, which reads them), the foreign table and column option
 *		  readers, and the wrapper's own settings (pushdown switches, page
 *		  limit).
 *
 * Secrets (client_secret, api_key) are accepted only in user mappings, whose
 * options PostgreSQL hides from other users in pg_user_mappings.
 *
 *-------------------------------------------------------------------------
 */
#include "wix_fdw.h"
#include "wix_admin.h"

#include "access/reloptions.h"
#include "catalog/pg_foreign_server.h"
#include "catalog/pg_foreign_table.h"
#include "catalog/pg_user_mapping.h"
#include "commands/defrem.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"


typedef struct WixOption
{
	const char *keyword;
	Oid			context;		/* catalog the option belongs to */
} WixOption;

static const WixOption valid_options[] = {
	{"base_url", ForeignServerRelationId},
	{"site_id", ForeignServerRelationId},
	{"account_id", ForeignServerRelationId},
	{"catalog_version", ForeignServerRelationId},
	{"connect_timeout", ForeignServerRelationId},
	{"request_timeout", ForeignServerRelationId},
	{"use_remote_estimate", ForeignServerRelationId},
	{"max_retries", ForeignServerRelationId},
	{"requests_per_minute", ForeignServerRelationId},
	{"max_response_size", ForeignServerRelationId},
	{"max_concurrent_requests", ForeignServerRelationId},
	{"request_cost", ForeignServerRelationId},
	{"client_id", UserMappingRelationId},
	{"client_secret", UserMappingRelationId},
	{"instance_id", UserMappingRelationId},
	{"api_key", UserMappingRelationId},
	{"resource", ForeignTableRelationId},
	{"rows", ForeignTableRelationId},
	{"use_remote_estimate", ForeignTableRelationId},
	{"path", AttributeRelationId},
	{NULL, InvalidOid}
};

/* GUCs switching each pushdown off, for comparisons and tests */
bool		wix_enable_where_pushdown = true;
bool		wix_enable_order_by_pushdown = true;
bool		wix_enable_limit_pushdown = true;

/* Test-only resources of the catalog (superuser-only GUC) */
bool		wix_enable_experimental_resources = false;

/* Most pages one scan reads (GUC wix_admin.max_pages) */
int			wix_max_pages = 100000;
int			wix_progress_every_s = 0;

/*
 * The planner's price of one Wix request (GUC wix_admin.request_cost, and
 * the server option request_cost): a round trip, and a share of the site's
 * rate limit that every other session of the site then lacks.  Reading a
 * row locally costs cpu_tuple_cost (0.01), so the default makes one request
 * weigh as much as handling 100,000 rows here.
 */
double		wix_request_cost = 1000.0;

PG_FUNCTION_INFO_V1(wix_admin_fdw_validator);

static const WixBoolSetting fdw_switches[] = {
	{"wix_admin.enable_where_pushdown",
		"Sends WHERE conditions to Wix where Wix can evaluate them.", NULL,
	&wix_enable_where_pushdown, true, PGC_USERSET},
	{"wix_admin.enable_order_by_pushdown",
		"Lets Wix sort rows where it can sort by the ORDER BY keys.", NULL,
	&wix_enable_order_by_pushdown, true, PGC_USERSET},
	{"wix_admin.enable_limit_pushdown",
		"Sends LIMIT to Wix as the page size when Wix evaluates the whole query.", NULL,
	&wix_enable_limit_pushdown, true, PGC_USERSET},
	{"wix_admin.enable_experimental_resources",
		"Accepts the catalog's experimental resources, which exist for tests.", NULL,
	&wix_enable_experimental_resources, false, PGC_SUSET},
};

static const WixIntSetting fdw_limits[] = {
	{"wix_admin.max_pages",
		"Most pages one scan reads before it gives up on paging that never ends.", NULL,
	&wix_max_pages, 100000, 1, INT_MAX, PGC_USERSET, 0},
	{"wix_admin.progress_every",
		"Reports a long scan's progress as a NOTICE this often; 0: never.",
		"CALL wix_admin.refresh_mirror sets it to 10 s for its full reads.",
	&wix_progress_every_s, 0, 0, INT_MAX, PGC_USERSET, GUC_UNIT_S},
};

/*
 * wix_fdw_define_gucs
 *		The foreign data wrapper's settings: pushdown switches, the page
 *		limit of a scan and the experimental resources.
 */
void
wix_fdw_define_gucs(void)
{
	wix_define_bool_settings(fdw_switches, lengthof(fdw_switches));
	wix_define_int_settings(fdw_limits, lengthof(fdw_limits));
	DefineCustomRealVariable("wix_admin.request_cost",
							 "Planner's cost of one Wix request.",
							 "A server's request_cost option overrides it.",
							 &wix_request_cost, 1000.0, 0.0, 1e9,
							 PGC_USERSET, 0, NULL, NULL, NULL);
}

static bool
is_valid_option(const char *keyword, Oid context)
{
	for (const WixOption *opt = valid_options; opt->keyword; opt++)
	{
		if (context == opt->context && strcmp(opt->keyword, keyword) == 0)
			return true;
	}
	return false;
}

static char *
valid_option_list(Oid context)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (const WixOption *opt = valid_options; opt->keyword; opt++)
	{
		if (context == opt->context)
			appendStringInfo(&buf, "%s%s", buf.len > 0 ? ", " : "",
							 opt->keyword);
	}
	return buf.data;
}

static void
check_path(const char *path)
{
	size_t		len = strlen(path);

	if (strcmp(path, "$") == 0)
		return;
	if (len == 0 || path[0] == '.' || path[len - 1] == '.' ||
		strstr(path, "..") != NULL || path[0] == '|' || path[len - 1] == '|' ||
		strstr(path, "||") != NULL || strstr(path, ".|") != NULL ||
		strstr(path, "|.") != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("invalid path \"%s\"", path),
				 errhint("A path is a dotted list of Wix JSON keys, such as 'priceSummary.total.amount', or '$' for the whole object.")));
}

/* Refuse credentials on a server and options unknown in their context. */
static void
check_option_name(DefElem *def, Oid catalog)
{
	if (catalog == ForeignServerRelationId &&
		(strcmp(def->defname, "client_secret") == 0 ||
		 strcmp(def->defname, "api_key") == 0 ||
		 strcmp(def->defname, "client_id") == 0))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
				 errmsg("option \"%s\" is not allowed on a server", def->defname),
				 errdetail("Server options are readable by every user; credentials belong in a user mapping."),
				 errhint("Use CREATE USER MAPPING FOR ... SERVER ... OPTIONS (%s '...').",
						 def->defname)));

	if (!is_valid_option(def->defname, catalog))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
				 errmsg("invalid option \"%s\"", def->defname),
				 valid_option_list(catalog)[0] != '\0' ?
				 errhint("Valid options in this context are: %s",
						 valid_option_list(catalog)) :
				 errhint("There are no valid options in this context.")));
}

/* The value of an option of a user mapping, a foreign table or a column. */
static void
check_option_value(DefElem *def)
{
	char	   *value = defGetString(def);

	if (strcmp(def->defname, "use_remote_estimate") == 0)
		(void) defGetBoolean(def);
	else if (strcmp(def->defname, "rows") == 0)
	{
		char	   *end;
		double		rows = strtod(value, &end);

		if (end == value || *end != '\0' || !(rows >= 0) || rows > 1e12)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
					 errmsg("invalid value for option \"rows\": \"%s\"", value),
					 errhint("Give the table's approximate number of rows, such as '5000'.")));
	}
	else if (strcmp(def->defname, "resource") == 0)
	{
		if (wix_find_resource(value) == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
					 errmsg("unknown Wix resource \"%s\"", value),
					 errhint("Valid resources are: %s.", wix_resource_names())));
	}
	else if (strcmp(def->defname, "path") == 0)
		check_path(value);
	else if (value[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("option \"%s\" must not be empty", def->defname)));
}

/* Is the option named in the list? */
static bool
has_option(List *options, const char *name)
{
	ListCell   *cell;

	foreach(cell, options)
	{
		if (strcmp(lfirst_node(DefElem, cell)->defname, name) == 0)
			return true;
	}
	return false;
}

/* The options each object needs, and those that exclude each other. */
static void
check_required_options(List *options, Oid catalog)
{
	bool		has_site = has_option(options, "site_id");
	bool		has_client_id = has_option(options, "client_id");
	bool		has_client_secret = has_option(options, "client_secret");
	bool		has_api_key = has_option(options, "api_key");
	bool		oauth = has_client_id || has_client_secret;

	if (catalog == ForeignServerRelationId &&
		has_site == has_option(options, "account_id"))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 has_site ?
				 errmsg("options \"site_id\" and \"account_id\" cannot both be set") :
				 errmsg("a wix_admin server needs option \"site_id\""),
				 has_site ? 0 :
				 errhint("Copy the site ID from the site's dashboard URL: https://manage.wix.com/dashboard/<site id>/...")));

	if (catalog == UserMappingRelationId)
	{
		if (oauth && has_api_key)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
					 errmsg("a user mapping takes either client_id and client_secret or api_key, not both")));
		if (!oauth && !has_api_key)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
					 errmsg("a wix_admin user mapping needs credentials"),
					 errhint("Give OPTIONS (client_id '...', client_secret '...') for an OAuth app, or OPTIONS (api_key '...') for an API key.")));
		if (oauth && !(has_client_id && has_client_secret))
			ereport(ERROR,
					(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
					 errmsg("option \"%s\" is required with \"%s\"",
							has_client_id ? "client_secret" : "client_id",
							has_client_id ? "client_id" : "client_secret")));
	}

	if (catalog == ForeignTableRelationId && !has_option(options, "resource"))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("a wix_admin foreign table needs option \"resource\""),
				 errhint("Valid resources are: %s.", wix_resource_names())));
}

/*
 * wix_admin_fdw_validator
 *		Check the options of CREATE/ALTER on the wrapper, a server, a user
 *		mapping, a foreign table or a column.  PostgreSQL passes the complete
 *		resulting option list, so required combinations are checked here.
 */
Datum
wix_admin_fdw_validator(PG_FUNCTION_ARGS)
{
	List	   *options = untransformRelOptions(PG_GETARG_DATUM(0));
	Oid			catalog = PG_GETARG_OID(1);
	ListCell   *cell;

	foreach(cell, options)
	{
		DefElem    *def = lfirst_node(DefElem, cell);

		check_option_name(def, catalog);
		if (catalog == ForeignServerRelationId)
			wix_check_server_option(def);
		else
			check_option_value(def);
	}
	check_required_options(options, catalog);
	PG_RETURN_VOID();
}

/*
 * wix_table_resource
 *		The "resource" option of a foreign table.
 */
char *
wix_table_resource(Oid foreigntableid)
{
	ForeignTable *table = GetForeignTable(foreigntableid);
	ListCell   *cell;

	foreach(cell, table->options)
	{
		DefElem    *def = lfirst_node(DefElem, cell);

		if (strcmp(def->defname, "resource") == 0)
			return defGetString(def);
	}
	ereport(ERROR,
			(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
			 errmsg("foreign table \"%s\" has no option \"resource\"",
					get_rel_name(foreigntableid))));
	return NULL;				/* keep compiler quiet */
}

/*
 * wix_table_estimate_options
 *		A foreign table's "rows" (-1 when unset) and "use_remote_estimate"
 *		(which overrides the server's when set).
 */
void
wix_table_estimate_options(Oid foreigntableid, double *rows,
						   bool *use_remote_estimate)
{
	ForeignTable *table = GetForeignTable(foreigntableid);
	ListCell   *cell;

	*rows = -1;
	foreach(cell, table->options)
	{
		DefElem    *def = lfirst_node(DefElem, cell);

		if (strcmp(def->defname, "rows") == 0)
			*rows = strtod(defGetString(def), NULL);
		else if (strcmp(def->defname, "use_remote_estimate") == 0)
			*use_remote_estimate = defGetBoolean(def);
	}
}
