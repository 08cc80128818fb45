/*-------------------------------------------------------------------------
 *
 * runtime.c
 *		  The runner of the admin actions: the call lifecycle (arguments,
 *		  server, deferral, the Wix calls, the audit trail, errors), the
 *		  generic sending of an action that is a row of the action table, the
 *		  revision loop, and the four ways in: the SQL functions
 *		  (wix_action_call), wix_enqueue(), delivery from the queue, and DML
 *		  on foreign tables (wix_action_run_dml).
 *
 * Every call leaves an audit trail: one LOG line, written at once so that
 * it survives a rollback, and, when the call succeeds, a row in
 * wix_admin.action_log inserted in the caller's transaction as the table's
 * owner (callers need no privilege on the log and cannot write to it).  The
 * functions run as the caller, never SECURITY DEFINER, so the user mapping
 * is always the caller's.
 *
 * All work memory, json-c objects included, lives in a per-call context, so
 * an error anywhere leaks nothing; no state outlives a call apart from the
 * GUCs, which makes the functions safe in triggers.
 *
 *-------------------------------------------------------------------------
 */
#include "wix_actions.h"
#include "wix_compat.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "parser/parse_func.h"
#include "utils/acl.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

/* GUC wix_admin.default_server */
char	   *wix_default_server = NULL;

/* GUC wix_admin.defer_actions; wix_enqueue() defers whatever it says */
bool		wix_defer_actions = false;

PG_FUNCTION_INFO_V1(wix_action_call);
PG_FUNCTION_INFO_V1(wix_enqueue);

static Datum deliver_queued(const char *action, const char *args,
							const char *server, Oid via_table,
							WixDelivery *delivery);

/*
 * wix_actions_define_gucs
 *		The admin functions' default server and deferral.
 */
void
wix_actions_define_gucs(void)
{
	DefineCustomStringVariable("wix_admin.default_server",
							   "The wix_admin server the admin functions use when none is given.",
							   "Empty: the only wix_admin server of the database.",
							   &wix_default_server, "",
							   PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomBoolVariable("wix_admin.defer_actions",
							 "Queues admin actions until the transaction commits instead of calling Wix at once.",
							 "A background worker or CALL wix_admin.process_queue() delivers them.",
							 &wix_defer_actions, false,
							 PGC_USERSET, 0, NULL, NULL, NULL);
}

/* From _PG_init: deliver what the queue holds. */
void
wix_actions_init(void)
{
	wix_queue_set_deliverer(deliver_queued);
}

/* A new json-c object owned by the call's memory context. */
json_object *
wix_held(WixActionCall *call, json_object *obj)
{
	wix_json_hold(call->cxt, obj);
	return obj;
}

/* ---------------------------------------------------------------- *
 * Requests
 * ---------------------------------------------------------------- */

/*
 * send_request
 *		One request.  A changing request (is_change) sets what the audit
 *		reports; reads only do so until the change has been sent.  Reads are
 *		retried on transient failures, changes only when Wix cannot have
 *		acted (connection.c).  An answer with status accept_status (0: none)
 *		is returned instead of raised; *status tells which it was.
 */
static json_object *
send_request(WixActionCall *call, const char *method, const char *path,
			 json_object *body, bool is_change, long accept_status,
			 long *status)
{
	WixJsonHolder *answer;
	long		got;
	const char *request_id;

	if (is_change)
		call->change_sent = true;
	/* reads (POST queries too) may be retried; changes only where safe */
	if (!is_change && accept_status == 0)
		answer = wix_request(call->conn, method, path, body, NULL);
	else
		answer = wix_request_ext(call->conn, method, path, body, NULL, accept_status);
	wix_connection_last_call(call->conn, &got, &request_id);
	if (is_change || !call->action_sent)
	{
		call->status = got;
		call->request_id = request_id[0] != '\0' ? pstrdup(request_id) : NULL;
	}
	if (is_change && got == 200)
		call->action_sent = true;
	if (status != NULL)
		*status = got;
	if (answer->obj == NULL)
		answer->obj = json_object_new_object();
	return answer->obj;
}

/* A request that changes nothing at Wix (a Get, a query). */
json_object *
wix_action_read(WixActionCall *call, const char *method, const char *path,
				json_object *body)
{
	return send_request(call, method, path, body, false, 0, NULL);
}

/* The request that makes the action's change. */
json_object *
wix_action_send(WixActionCall *call, const char *method, const char *path,
				json_object *body, long accept_status, long *status)
{
	return send_request(call, method, path, body, true, accept_status, status);
}

/* Does the site run Stores Catalog V1 (asked once per backend)? */
bool
wix_site_uses_catalog_v1(WixActionCall *call)
{
	return wix_catalog_version(call->conn) == WIX_CATALOG_V1;
}

/*
 * wix_send_with_revision
 *		A change of a revisioned entity: prepare reads the entity and builds
 *		the body with its current revision; on a revision conflict (HTTP 409)
 *		it is read again and sent once more.  prepare may instead report the
 *		change as already done (out->done), and nothing is sent.
 */
json_object *
wix_send_with_revision(WixActionCall *call, const char *method,
					   const char *result_key, WixAttemptFn prepare, void *arg)
{
	for (int attempt = 0;; attempt++)
	{
		WixAttempt	out = {0};
		long		status;
		json_object *answer;

		prepare(call, attempt, arg, &out);
		if (out.done != NULL)
			return out.done;
		answer = wix_action_send(call, method, out.path, out.body,
								 attempt == 0 ? 409 : 0, &status);
		if (status == 200)
			return result_key ? wix_entity(answer, result_key, method, out.path) :
				answer;
		call->note = pstrdup("revision conflict (HTTP 409) on the first attempt; re-read the revision and retried once");
	}
}

/* ---------------------------------------------------------------- *
 * Actions that are rows of the table
 * ---------------------------------------------------------------- */

/* The row's path, Catalog V1's when the site runs it. */
static char *
row_path(WixActionCall *call)
{
	const WixActionDef *def = call->def;

	if (def->path_v1 != NULL && wix_site_uses_catalog_v1(call))
		return wix_expand_path(call, def->path_v1);
	return wix_expand_path(call, def->path);
}

/* The row's body: its fields from the arguments, then build_body's part. */
static json_object *
row_body(WixActionCall *call, json_object *current)
{
	const WixActionDef *def = call->def;
	json_object *body;

	if (strcmp(def->method, "DELETE") == 0)
		return NULL;
	body = wix_held(call, json_object_new_object());
	for (const WixBodyField *field = def->body; field->json_path; field++)
	{
		WixArg	   *arg = wix_arg(call, field->param);

		if (arg->isnull)
			continue;
		wix_jset_path(body, field->json_path,
					  arg->text != NULL ? json_object_new_string(arg->text) :
					  json_object_new_boolean(DatumGetBool(arg->datum)));
	}
	if (def->build_body != NULL)
		def->build_body(call, body, current);
	return body;
}

/* The target id as passed: what a delete reports as deleted. */
static const char *
target_arg_text(WixActionCall *call)
{
	for (int i = 0; call->def->params[i].name != NULL; i++)
	{
		if (call->def->params[i].flags & WIX_PARAM_TARGET)
			return call->args[i].text;
	}
	return NULL;
}

/*
 * One attempt of a revisioned row: read the entity, stop when a delivery
 * after an unknown outcome finds it done already, else send its revision.
 */
static void
prepare_row_attempt(WixActionCall *call, int attempt, void *arg,
					WixAttempt *out)
{
	const WixActionDef *def = call->def;
	json_object *current = def->read_current(call);
	const char *status = wix_json_get_string(current, "status");
	int64		revision;

	if (attempt == 0 && def->done_status != NULL && call->delivery != NULL &&
		call->delivery->recheck && status != NULL &&
		strcmp(status, def->done_status) == 0)
	{
		call->note = psprintf("an earlier attempt whose outcome was unknown had made the %s %s; not sent again",
							  def->result_key, def->done_status);
		out->done = current;
		return;
	}
	if (!wix_json_get_int64(current, "revision", &revision))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("Wix %s %s has no revision", def->result_key,
						target_arg_text(call))));
	out->body = row_body(call, current);
	wix_jset(out->body, "revision",
			 json_object_new_string(psprintf(INT64_FORMAT, revision)));
	out->path = row_path(call);
}

/* Send an action that is a row of the table: one change, maybe revisioned. */
static json_object *
run_row(WixActionCall *call)
{
	const WixActionDef *def = call->def;
	char	   *path;
	json_object *answer;
	json_object *result;
	const char *id;

	if (def->read_current != NULL)
		return wix_send_with_revision(call, def->method, def->result_key,
									  prepare_row_attempt, NULL);
	path = row_path(call);
	answer = wix_action_send(call, def->method, path, row_body(call, NULL), 0, NULL);
	if (def->flags & WIX_ACTION_DELETE)
		return wix_deleted(call, answer, target_arg_text(call));
	result = def->result_key ?
		wix_entity(answer, def->result_key, def->method, path) : answer;
	id = wix_json_get_string(result, "id");
	if ((def->flags & WIX_ACTION_TARGET_FROM_RESULT) && id != NULL)
		call->target = pstrdup(id);
	return result;
}

/* ---------------------------------------------------------------- *
 * The audit trail
 * ---------------------------------------------------------------- */

/* One LOG line per call: who did what where, and how it went. */
static void
audit_line(WixActionCall *call, const char *error)
{
	ereport(LOG,
			(errmsg("wix_admin audit: role=%s server=%s action=%s target=%s http_status=%s wix_request_id=%s outcome=%s%s%s",
					wix_quoted(call->role), wix_quoted(call->server_name),
					call->def->name, wix_quoted(call->target),
					call->status > 0 ? psprintf("%ld", call->status) : "-",
					call->request_id ? wix_quoted(call->request_id) : "-",
					error ? "error" : call->queued ? "queued" : "success",
					error || call->note ? " error=" : "",
					error ? wix_quoted(error) : call->note ? wix_quoted(call->note) : ""),
			 errhidestmt(true),
			 errhidecontext(true)));
}

/*
 * audit_row
 *		Insert the call into wix_admin.action_log, in the caller's
 *		transaction, as the table's owner so that callers need no privilege
 *		on it.
 */
static void
audit_row(WixActionCall *call)
{
	static const char *sql =
		"INSERT INTO wix_admin.action_log "
		"(role, server, action, target_id, http_status, wix_request_id, outcome, error) "
		"VALUES ($1, $2, $3, $4, $5, $6, 'success', $7)";
	Oid			argtypes[7] = {NAMEOID, NAMEOID, TEXTOID, TEXTOID, INT4OID, TEXTOID, TEXTOID};
	Datum		values[7];
	char		nulls[7] = {' ', ' ', ' ', ' ', ' ', ' ', ' '};
	NameData	role;
	NameData	server;
	WixSavedUser saved;
	int			rc;

	namestrcpy(&role, call->role);
	namestrcpy(&server, call->server_name ? call->server_name : "");
	values[0] = NameGetDatum(&role);
	values[1] = NameGetDatum(&server);
	values[2] = CStringGetTextDatum(call->def->name);
	values[3] = call->target ? CStringGetTextDatum(call->target) : (Datum) 0;
	nulls[3] = call->target ? ' ' : 'n';
	values[4] = Int32GetDatum((int32) call->status);
	nulls[4] = call->status > 0 ? ' ' : 'n';
	values[5] = call->request_id ? CStringGetTextDatum(call->request_id) : (Datum) 0;
	nulls[5] = call->request_id ? ' ' : 'n';
	values[6] = call->note ? CStringGetTextDatum(call->note) : (Datum) 0;
	nulls[6] = call->note ? ' ' : 'n';

	wix_become_table_owner("action_log", SECURITY_RESTRICTED_OPERATION, &saved);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	rc = SPI_execute_with_args(sql, 7, argtypes, values, nulls, false, 0);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "could not insert into wix_admin.action_log: %s",
			 SPI_result_code_string(rc));
	SPI_finish();
	wix_restore_user(&saved);
}

/* Tell the queue, delivering this call, how its last request went. */
static void
report_delivery(WixActionCall *call)
{
	WixDelivery *delivery = call->delivery;

	if (delivery == NULL)
		return;
	delivery->change_sent = call->change_sent;
	delivery->status = call->status;
	delivery->request_id = call->request_id ?
		MemoryContextStrdup(delivery->cxt, call->request_id) : NULL;
}

/* ---------------------------------------------------------------- *
 * The call lifecycle
 * ---------------------------------------------------------------- */

static Datum
json_to_jsonb(WixActionCall *call, json_object *value)
{
	const char *text = json_object_to_json_string_ext(value,
													  JSON_C_TO_STRING_PLAIN |
													  JSON_C_TO_STRING_NOSLASHESCAPE);
	MemoryContext oldcxt = MemoryContextSwitchTo(call->caller_cxt);
	Datum		result = DirectFunctionCall1(jsonb_in, CStringGetDatum(text));

	MemoryContextSwitchTo(oldcxt);
	return result;
}

/* The call's checks, server and Wix calls; NULL when it was queued. */
static json_object *
perform(WixActionCall *call)
{
	wix_check_args(call);
	if (!wix_connect_action(call))
		return NULL;
	return call->def->run != NULL ? call->def->run(call) : run_row(call);
}

/* Keep what the audit needs when the call's context goes. */
static void
keep_audit_fields(WixActionCall *call)
{
	MemoryContext cxt = call->caller_cxt;

	if (call->target != NULL)
		call->target = MemoryContextStrdup(cxt, call->target);
	if (call->request_id != NULL)
		call->request_id = MemoryContextStrdup(cxt, call->request_id);
	if (call->note != NULL)
		call->note = MemoryContextStrdup(cxt, call->note);
	if (call->server_name != NULL)
		call->server_name = MemoryContextStrdup(cxt, call->server_name);
}

/*
 * run_call
 *		Run one admin action whose arguments read_args fills: its work in a
 *		memory context of its own, the audit line whatever happens, the
 *		audit row when it succeeded.  A deferred call returns the queued
 *		action and leaves no audit row: its delivery will.
 */
static Datum
run_call(WixActionCall *call, void (*read_args) (WixActionCall *call, void *arg),
		 void *arg)
{
	Datum		result;

	call->role = GetUserNameFromId(GetUserId(), false);
	call->caller_cxt = CurrentMemoryContext;
	call->cxt = AllocSetContextCreate(call->caller_cxt, "wix_admin action",
									  ALLOCSET_DEFAULT_SIZES);
	PG_TRY();
	{
		json_object *value;

		MemoryContextSwitchTo(call->cxt);
		read_args(call, arg);
		value = perform(call);
		result = value != NULL ? json_to_jsonb(call, value) : call->queued;
		keep_audit_fields(call);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(call->caller_cxt);
		edata = CopyErrorData();
		FlushErrorState();
		if (call->conn != NULL && !call->action_sent)
		{
			const char *request_id;

			wix_connection_last_call(call->conn, &call->status, &request_id);
			call->request_id = request_id[0] != '\0' ? pstrdup(request_id) : NULL;
		}
		report_delivery(call);
		audit_line(call, edata->message);
		ReThrowError(edata);
	}
	PG_END_TRY();

	MemoryContextSwitchTo(call->caller_cxt);
	MemoryContextDelete(call->cxt);
	audit_line(call, NULL);
	if (call->queued == (Datum) 0)
	{
		report_delivery(call);
		audit_row(call);
	}
	return result;
}

/* The action named name, or an error naming the actions there are. */
static const WixActionDef *
action_by_name(const char *name)
{
	const WixActionDef *def = wix_find_action(name);
	StringInfoData names;
	int			count;
	const WixActionDef *defs;

	if (def != NULL)
		return def;
	defs = wix_action_defs(&count);
	initStringInfo(&names);
	for (int i = 0; i < count; i++)
		appendStringInfo(&names, "%s%s", i ? ", " : "", defs[i].name);
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("\"%s\" is not a wix_admin admin action", name),
			 errhint("The actions are %s.", names.data)));
	return NULL;				/* keep compiler quiet */
}

/* The schema of the wix_admin extension. */
static Oid
extension_schema(void)
{
	Oid			extoid = get_extension_oid("wix_admin", false);
	Relation	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tuple;
	Oid			nspid = InvalidOid;

	ScanKeyInit(&key, Anum_pg_extension_oid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(extoid));
	scan = systable_beginscan(rel, ExtensionOidIndexId, true, NULL, 1, &key);
	tuple = systable_getnext(scan);
	if (HeapTupleIsValid(tuple))
		nspid = ((Form_pg_extension) GETSTRUCT(tuple))->extnamespace;
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	if (!OidIsValid(nspid))
		elog(ERROR, "cache lookup failed for extension %u", extoid);
	return nspid;
}

/*
 * The OID of the action's SQL function, in the extension's schema: its own,
 * or an earlier version's lacking the parameters added since.
 */
static Oid
action_function(const WixActionDef *def)
{
	List	   *name = list_make2(makeString(get_namespace_name(extension_schema())),
								  makeString(pstrdup(def->name)));
	Oid			argtypes[WIX_ACTION_MAX_PARAMS + 1];

	for (int nargs = wix_action_nparams(def) + 1;
		 wix_action_takes_nargs(def, nargs); nargs--)
	{
		Oid			fn;

		for (int i = 0; i < nargs - 1; i++)
			argtypes[i] = wix_action_param_type(def, i);
		argtypes[nargs - 1] = NAMEOID;
		fn = LookupFuncName(name, nargs, argtypes, true);
		if (OidIsValid(fn))
			return fn;
	}
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_FUNCTION),
			 errmsg("the wix_admin extension has no function %s", def->name),
			 errhint("ALTER EXTENSION wix_admin UPDATE creates the functions of the installed library.")));
	return InvalidOid;			/* keep compiler quiet */
}

/* EXECUTE on the action's function, which wix_enqueue and delivery need. */
static void
check_execute(const WixActionDef *def, bool delivering)
{
	AclResult	aclresult = object_aclcheck(ProcedureRelationId,
												action_function(def),
												GetUserId(), ACL_EXECUTE);

	if (aclresult == ACLCHECK_OK)
		return;
	if (delivering)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("role \"%s\" may no longer execute %s",
						GetUserNameFromId(GetUserId(), false), def->name)));
	aclcheck_error(aclresult, OBJECT_FUNCTION, def->name);
}

/* ---------------------------------------------------------------- *
 * The ways in
 * ---------------------------------------------------------------- */

static void
read_fcinfo_args(WixActionCall *call, void *arg)
{
	wix_args_from_fcinfo(call, (FunctionCallInfo) arg);
}

/* The queued arguments: {args text, server}. */
typedef struct JsonArgs
{
	const char *args;
	const char *server;
} JsonArgs;

static void
read_json_args(WixActionCall *call, void *arg)
{
	JsonArgs   *json = arg;

	wix_args_from_json(call, json->args, json->server);
}

/*
 * wix_action_call
 *		The C function of every admin action's SQL function: the action is
 *		the row named like the function.
 */
Datum
wix_action_call(PG_FUNCTION_ARGS)
{
	const WixActionDef *def = fcinfo->flinfo->fn_extra;
	WixActionCall call = {0};

	if (def == NULL)
	{
		char	   *name = get_func_name(fcinfo->flinfo->fn_oid);

		def = name != NULL ? wix_find_action(name) : NULL;
		if (def == NULL || !wix_action_takes_nargs(def, PG_NARGS()))
			elog(ERROR, "function %s is not a wix_admin admin action",
				 name ? name : "(unknown)");
		fcinfo->flinfo->fn_extra = (void *) def;
	}
	call.def = def;
	call.defer = wix_defer_actions;
	PG_RETURN_DATUM(run_call(&call, read_fcinfo_args, fcinfo));
}

/*
 * wix_enqueue(action text, args jsonb, server name DEFAULT NULL)
 *		Queue an admin action whatever wix_admin.defer_actions says, checked
 *		as a direct call is.  The caller needs EXECUTE on the action's
 *		function too.
 */
Datum
wix_enqueue(PG_FUNCTION_ARGS)
{
	WixActionCall call = {0};
	Jsonb	   *args;
	JsonArgs	json;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be NULL", PG_ARGISNULL(0) ? "action" : "args")));
	call.def = action_by_name(text_to_cstring(PG_GETARG_TEXT_PP(0)));
	check_execute(call.def, false);
	args = PG_GETARG_JSONB_P(1);
	if (!JB_ROOT_IS_OBJECT(args) || JB_ROOT_IS_SCALAR(args))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("args must be a JSON object"),
				 errhint("For example '{\"order_id\": \"3f1c6a2e-9d1b-4c53-a0e2-7b5f0c2d9a11\"}'.")));
	json.args = JsonbToCString(NULL, &args->root, VARSIZE(args));
	json.server = PG_ARGISNULL(2) ? NULL : NameStr(*PG_GETARG_NAME(2));
	call.defer = true;
	PG_RETURN_DATUM(run_call(&call, read_json_args, &json));
}

/* The arguments DML binds: {values, nulls, server}. */
typedef struct ValueArgs
{
	const Datum *values;
	const bool *nulls;
	const char *server;
} ValueArgs;

static void
read_value_args(WixActionCall *call, void *arg)
{
	ValueArgs  *args = arg;

	wix_args_from_values(call, args->values, args->nulls, args->server);
}

/*
 * wix_action_run_dml
 *		An action made by an INSERT, UPDATE or DELETE of a foreign table
 *		(fdw/modify.c): the call its SQL function makes, with the arguments
 *		the row binds (by parameter), sent to target (the table's server,
 *		with the user mapping of the role DML checks permissions as, queued
 *		when deferred); revision is the entity's as the row was read, or
 *		NULL.  The executor has checked the table's privileges; they stand
 *		for EXECUTE on the function and USAGE on the server.  Returns Wix's
 *		entity as jsonb, or the queued action.
 */
Datum
wix_action_run_dml(const WixActionDef *def, const Datum *values,
				   const bool *nulls, const char *revision,
				   const WixDmlTarget *target)
{
	WixActionCall call = {0};
	ValueArgs	args = {values, nulls, target->server};

	call.def = def;
	call.revision = revision;
	call.mapping_user = target->mapping_user;
	call.defer = target->defer;
	call.via_table = target->table;
	return run_call(&call, read_value_args, &args);
}

/*
 * wix_action_bulk_size
 *		How many rows of def DML may send in one request: its bulk call's
 *		items, or 1.
 */
int
wix_action_bulk_size(const WixActionDef *def)
{
	return def->bulk != NULL ? def->bulk->max_items : 1;
}

/* A bulk call's item that is the id acted on (bulk deletes). */
json_object *
wix_target_id_item(WixActionCall *call)
{
	return json_object_new_string(target_arg_text(call));
}

/* The bulk answer's result for item i, or NULL. */
static json_object *
bulk_result(json_object *results, int i)
{
	size_t		count = results ? json_object_array_length(results) : 0;

	for (size_t k = 0; k < count; k++)
	{
		json_object *result = json_object_array_get_idx(results, k);
		int64		index;

		if (!wix_json_get_int64(wix_json_get(result, "itemMetadata"), "originalIndex",
								&index))
			index = (int64) k;	/* tolerated: Wix answers in order */
		if (index == i)
			return result;
	}
	return NULL;
}

/*
 * send_bulk
 *		One bulk request for the n calls, through calls[0]'s connection,
 *		with the item of every call that can go in bulk.  Every call sent
 *		gets the request's status and id, and its item's outcome: the new
 *		id as target, or refused[i] with Wix's reason as its note; a call
 *		left out is refused[i] too.  Returns how many items Wix made.
 */
static int
send_bulk(WixActionCall *calls, int n, bool *refused)
{
	const WixBulkDef *bulk = calls[0].def->bulk;
	json_object *body = wix_held(&calls[0], json_object_new_object());
	json_object *items = json_object_new_array();
	int		   *item_index = palloc(sizeof(int) * n);
	int			nitems = 0;
	json_object *results;
	int			made = 0;

	wix_jset(body, bulk->items_key, items);
	if (bulk->takes_return_entity)
		wix_jset(body, "returnEntity", json_object_new_boolean(false));
	for (int i = 0; i < n; i++)
	{
		json_object *item = bulk->item(&calls[i]);

		item_index[i] = item != NULL ? nitems++ : -1;
		refused[i] = item == NULL;
		calls[i].change_sent = item != NULL;	/* for the audit */
		if (item != NULL)
			json_object_array_add(items, item);
	}
	if (nitems == 0)
		return 0;
	results = wix_json_get_type(wix_action_send(&calls[0], "POST", bulk->path, body, 0, NULL),
								"results", json_type_array);
	for (int i = 0; i < n; i++)
	{
		json_object *meta;
		json_object *success;
		json_object *error;
		const char *code;
		const char *description;
		const char *id;

		if (item_index[i] < 0)
			continue;
		meta = wix_json_get(bulk_result(results, item_index[i]), "itemMetadata");
		success = wix_json_get_type(meta, "success", json_type_boolean);
		error = wix_json_get(meta, "error");
		code = wix_json_get_string(error, "code");
		description = wix_json_get_string(error, "description");
		id = wix_json_get_string(meta, "id");
		calls[i].status = calls[0].status;
		calls[i].request_id = calls[0].request_id;
		refused[i] = meta == NULL || (success != NULL && !json_object_get_boolean(success));
		if (!refused[i])
		{
			calls[i].action_sent = true;
			if (id != NULL)
				calls[i].target = pstrdup(id);
			made++;
		}
		else if (meta == NULL)
			calls[i].note = pstrdup("Wix's answer has no result for this row");
		else
			calls[i].note = psprintf("Wix refused this row (%s: %s)",
									 code ? code : "no code",
									 description ? description : "no description");
	}
	return made;
}

/*
 * wix_action_run_dml_bulk
 *		Rows of one action made by DML (fdw/modify.c), sent in the action's
 *		bulk call: every row's arguments read and checked as a single
 *		call's are, before anything is sent; one request for them all; an
 *		audit line for every row and an audit row for every row Wix made.
 *		Wix answers each row: refused[i] tells the rows it did not act on,
 *		and those that cannot go in bulk (WixBulkDef.item), which the
 *		caller sends alone (a revision read anew, Wix's error in full).
 *		revisions, when not NULL, are the rows' revisions as read, sent
 *		with them where the call takes one.  Returns the rows Wix made, or -1, having sent
 *		nothing, where the site has no bulk call for the action (Catalog
 *		V1): the caller then sends every row alone.
 */
int
wix_action_run_dml_bulk(const WixActionDef *def, int nrows, Datum **values,
						bool **nulls, const char *const *revisions,
						const WixDmlTarget *target, bool *refused)
{
	WixActionCall *calls = palloc0(sizeof(WixActionCall) * nrows);
	MemoryContext caller_cxt = CurrentMemoryContext;
	MemoryContext cxt = AllocSetContextCreate(caller_cxt, "wix_admin bulk action",
											  ALLOCSET_DEFAULT_SIZES);
	char	   *role = GetUserNameFromId(GetUserId(), false);
	volatile int nread = 0;
	volatile bool sent = false;
	int			made = -1;

	Assert(def->bulk != NULL && nrows <= def->bulk->max_items);
	PG_TRY();
	{
		MemoryContextSwitchTo(cxt);
		for (int i = 0; i < nrows; i++)
		{
			calls[i].def = def;
			calls[i].via_table = target->table;
			calls[i].revision = revisions ? revisions[i] : NULL;
			calls[i].mapping_user = target->mapping_user;
			calls[i].role = role;
			calls[i].caller_cxt = caller_cxt;
			calls[i].cxt = cxt;
			nread = i + 1;
			wix_args_from_values(&calls[i], values[i], nulls[i], target->server);
			wix_check_args(&calls[i]);
		}
		(void) wix_connect_action(&calls[0]);
		if (!(def->bulk->catalog_v3_only && wix_site_uses_catalog_v1(&calls[0])))
		{
			sent = true;
			for (int i = 1; i < nrows; i++)
			{
				calls[i].conn = calls[0].conn;
				calls[i].server_name = calls[0].server_name;
			}
			made = send_bulk(calls, nrows, refused);
			for (int i = 0; i < nrows; i++)
			{
				if (!calls[i].change_sent)
					continue;	/* not in the request: sent alone */
				audit_line(&calls[i], refused[i] ? calls[i].note : NULL);
				if (!refused[i])
					audit_row(&calls[i]);
			}
		}
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(caller_cxt);
		edata = CopyErrorData();
		FlushErrorState();
		/* every row of a failed request, or the row whose checks failed */
		for (int i = sent ? 0 : nread - 1; i >= 0 && i < nread; i++)
		{
			if (!sent || calls[i].change_sent)
				audit_line(&calls[i], edata->message);
		}
		ReThrowError(edata);
	}
	PG_END_TRY();
	MemoryContextSwitchTo(caller_cxt);
	MemoryContextDelete(cxt);
	return made;
}

/*
 * check_table_privilege
 *		At the delivery of an action DML queued: the role may still change
 *		the foreign table as the DML did (a statement kind whose rule makes
 *		the action), which stands for EXECUTE on the action's function.
 */
static void
check_table_privilege(const WixActionDef *def, Oid table)
{
	static const AclMode modes[] = {ACL_INSERT, ACL_UPDATE, ACL_DELETE};
	static const char *const verbs[] = {"insert into", "update", "delete from"};
	int			count;
	const WixDmlRule *rules = wix_dml_rules(&count);
	char	   *name = get_rel_name(table);
	int			kind = -1;

	if (name == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("the foreign table whose change queued %s no longer exists",
						def->name)));
	for (int i = 0; i < count; i++)
	{
		if (strcmp(rules[i].action, def->name) != 0)
			continue;
		kind = rules[i].kind;
		if (pg_class_aclcheck(table, GetUserId(), modes[kind]) == ACLCHECK_OK)
			return;
	}
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("role \"%s\" may no longer %s foreign table \"%s\"",
					GetUserNameFromId(GetUserId(), false),
					kind >= 0 ? verbs[kind] : "change", name)));
}

/*
 * The queue's deliverer: run a queued action as a direct call would.  An
 * action DML queued (via_table) is checked against the table's privileges,
 * as the statement was; one a function queued, against EXECUTE.
 */
static Datum
deliver_queued(const char *action, const char *args, const char *server,
			   Oid via_table, WixDelivery *delivery)
{
	WixActionCall call = {0};
	JsonArgs	json = {args, server};

	call.def = action_by_name(action);
	if (OidIsValid(via_table))
		check_table_privilege(call.def, via_table);
	else
		check_execute(call.def, true);
	call.via_table = via_table;
	call.delivery = delivery;
	return run_call(&call, read_json_args, &json);
}
