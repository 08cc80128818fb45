/*-------------------------------------------------------------------------
 *
 * check_connection.c
 *		  wix_admin.check_connection(server): a "test connection" button.
 *		  One authenticated request (Get Catalog Version, which takes no
 *		  parameters and also tells the site's Stores catalog; with OAuth a
 *		  token request first unless the backend holds a token), and a jsonb
 *		  report of what was used and what Wix answered.
 *
 * Choosing the server and the USAGE check raise errors as the admin
 * functions do; everything after that (the user mapping, the base_url rule,
 * the network, Wix's answer) is reported as {"ok": false, "error", ...}
 * instead, so a client can show it.  A cancel still cancels.  Neither a
 * credential nor a token ever appears in the report: it is built from the
 * server's options, the authentication mode and wix_admin's own error
 * messages, which never contain them.
 *
 *-------------------------------------------------------------------------
 */
#include "wix_actions.h"
#include "wix_admin.h"
#include "wix_compat.h"

#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/jsonb.h"

PG_FUNCTION_INFO_V1(wix_check_connection);

static const char *
catalog_name(WixCatalogVersion catalog)
{
	switch (catalog)
	{
		case WIX_CATALOG_V1:
			return "V1";
		case WIX_CATALOG_V3:
			return "V3";
		default:
			return "not installed";
	}
}

/* What call_wix works on. */
typedef struct CallWixArgs
{
	ForeignServer *server;
	json_object *report;
} CallWixArgs;

/*
 * call_wix
 *		The checks that may fail without failing the call: connect to the
 *		server with the caller's user mapping and send the one request.  Adds
 *		"auth" and "catalog" to the report.
 */
static void
call_wix(void *arg)
{
	CallWixArgs *args = arg;
	WixConnection *conn = wix_get_connection(wix_user_mapping(GetUserId(),
															  args->server->serverid));
	WixCatalogVersion catalog;

	wix_jset_string(args->report, "auth",
					wix_connection_auth_mode(conn) == WIX_AUTH_API_KEY ?
					"api_key" : "oauth");
	catalog = wix_site_catalog_version(conn, NULL);
	wix_jset_string(args->report, "catalog", catalog_name(catalog));
}

/* Add an error's message, SQLSTATE, detail and hint to report. */
static void
report_error(json_object *report, ErrorData *edata)
{
	wix_jset(report, "ok", json_object_new_boolean(false));
	wix_jset_string(report, "error", edata->message);
	wix_jset_string(report, "sqlstate", unpack_sql_state(edata->sqlerrcode));
	if (edata->detail != NULL)
		wix_jset_string(report, "detail", edata->detail);
	if (edata->hint != NULL)
		wix_jset_string(report, "hint", edata->hint);
}

/*
 * wix_check_connection(server name DEFAULT NULL) RETURNS jsonb
 *		{"ok", "server", "base_url", "site_id" or "account_id", "auth",
 *		"catalog"}, and on failure "error", "sqlstate", "detail", "hint".
 */
Datum
wix_check_connection(PG_FUNCTION_ARGS)
{
	ForeignServer *server;
	WixServerOptions options;
	AclResult	aclresult;
	json_object *report;
	CallWixArgs args;
	ErrorData  *edata;

	server = wix_choose_server(PG_ARGISNULL(0) ? NULL :
							   NameStr(*PG_GETARG_NAME(0)));
	aclresult = object_aclcheck(ForeignServerRelationId, server->serverid,
								GetUserId(), ACL_USAGE);
	if (aclresult != ACLCHECK_OK)
		aclcheck_error(aclresult, OBJECT_FOREIGN_SERVER, server->servername);
	wix_server_options(server, &options);

	report = json_object_new_object();
	(void) wix_json_hold(CurrentMemoryContext, report);
	wix_jset(report, "ok", json_object_new_boolean(true));
	wix_jset_string(report, "server", server->servername);
	wix_jset_string(report, "base_url", options.base_url);
	if (options.site_id != NULL)
		wix_jset_string(report, "site_id", options.site_id);
	else
		wix_jset_string(report, "account_id", options.account_id);

	/* a subtransaction, so that a failure can be reported and not raised */
	args.server = server;
	args.report = report;
	edata = wix_in_subtransaction(call_wix, &args);
	if (edata != NULL)
	{
		if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED)
			ReThrowError(edata);
		report_error(report, edata);
		FreeErrorData(edata);
	}

	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in,
										CStringGetDatum(json_object_to_json_string_ext(report,
																					   JSON_C_TO_STRING_PLAIN))));
}
