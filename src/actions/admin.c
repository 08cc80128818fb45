/*-------------------------------------------------------------------------
 *
 * admin.c
 *		  Admin actions as SQL functions: refunding, cancelling, fulfilling
 *		  and archiving orders; creating, approving, blocking and deleting
 *		  members; creating, updating and deleting products and setting or
 *		  adjusting their inventory (Stores Catalog V1 and V3); confirming,
 *		  declining, cancelling and rescheduling bookings; and wix_api() for
 *		  any other call.  Each returns the resulting Wix entity as jsonb.
 *
 * Every function picks its server (the argument, wix_admin.default_server,
 * or the database's only wix_admin server), authenticates with the calling
 * role's own user mapping (or the PUBLIC one), and checks and percent-encodes
 * every id before any request is sent.  Each call leaves an audit trail: one
 * LOG line, written at once so that it survives a rollback, and, when the
 * call succeeds, a row in wix_admin.action_log inserted in the caller's
 * transaction.  The row is inserted as the table's owner (the way foreign
 * key checks run as the table's owner): callers need no privilege on the
 * log and cannot write to it directly.  The functions themselves run as the
 * caller, never SECURITY DEFINER, so the user mapping is always the caller's.
 *
 * With wix_admin.defer_actions on (or through wix_enqueue()), a call checks
 * everything above except the connection, then queues itself (queue.c) and
 * returns the queued action instead; delivery calls the same function again
 * through wix_run_admin_action(), with wix_delivery set, as the role that
 * queued it.  A refund retried after an unknown outcome asks Wix whether
 * it already happened before refunding again.
 *
 * All work memory, json-c objects included (WixJsonHolder), lives in a
 * per-call context, so an error anywhere leaks nothing; no global state is
 * kept apart from the GUC, which makes the functions safe in triggers.
 *
 * Paths and bodies follow shared/wix-api/: auth-and-orders.md §3 (orders,
 * §3.5 refunds through Order Billing, §3.6 fulfillments) and
 * members-stores-bookings.md §3.3 (members), §4.4 and §4.7 (products and
 * inventory, V1 and V3), §5.3 (bookings, with revisions).
 *
 *-------------------------------------------------------------------------
 */
#include "wix_actions.h"
#include "wix_queue.h"

#include "wix_http.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_foreign_server.h"
#include "catalog/pg_language.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "pgtime.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/datetime.h"
#include "utils/jsonb.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/rel.h"
#include "utils/syscache.h"

/* GUC wix_admin.default_server */
char	   *wix_default_server = NULL;

/* GUC wix_admin.defer_actions; wix_enqueue() defers whatever it says */
bool		wix_defer_actions = false;
bool		wix_force_defer = false;

/* The attempt being delivered by queue.c, or NULL: an immediate call */
WixDelivery *wix_delivery = NULL;

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

#define WIX_ID_MAX_LEN		200
#define WIX_API_PATH_MAX	2048
#define LOG_VALUE_MAX		200
#define ZERO_VARIANT_ID		"00000000-0000-0000-0000-000000000000"
#define INVENTORY_MAX		99999

/* One call of an admin function. */
typedef struct WixAction
{
	const char *name;			/* SQL function name */
	char	   *role;			/* the calling role */
	char	   *target;			/* id or path acted on, NULL until known */
	char	   *server_name;	/* NULL until chosen */
	WixConnection *conn;		/* NULL until connected */
	bool		action_sent;	/* the changing request has answered 200 */
	bool		change_sent;	/* the changing request was (maybe) sent */
	Datum		queued;			/* deferred: the queued action's jsonb */
	long		status;			/* HTTP status reported in the audit */
	char	   *request_id;		/* X-Wix-Request-Id reported in the audit */
	char	   *note;			/* what went wrong although the call worked */
	MemoryContext cxt;			/* work memory and json-c holders */
	MemoryContext caller_cxt;
} WixAction;

typedef json_object *(*WixActionFn) (WixAction *act, FunctionCallInfo fcinfo);

/* ---------------------------------------------------------------- *
 * Small helpers: JSON, numbers, quoting
 * ---------------------------------------------------------------- */

/* A new json-c object owned by the action's memory context. */
static json_object *
held(WixAction *act, json_object *obj)
{
	wix_json_hold(act->cxt, obj);
	return obj;
}

static void
jset(json_object *obj, const char *key, json_object *value)
{
	json_object_object_add(obj, key, value);
}

static void
jset_string(json_object *obj, const char *key, const char *value)
{
	json_object_object_add(obj, key, json_object_new_string(value));
}

/* A child object of obj, created when missing. */
static json_object *
jchild(json_object *obj, const char *key)
{
	json_object *child = wix_json_get_type(obj, key, json_type_object);

	if (child == NULL)
	{
		child = json_object_new_object();
		json_object_object_add(obj, key, child);
	}
	return child;
}

/*
 * The member `key` of a Wix answer: the entity.  A 200 answer without it is
 * a malformed answer.
 */
static json_object *
entity(json_object *answer, const char *key, const char *method,
	   const char *path)
{
	json_object *value = wix_json_get_type(answer, key, json_type_object);

	if (value == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("Wix API response to %s %s has no \"%s\" object",
						method, path, key)));
	return value;
}

/*
 * quoted
 *		A string as a double-quoted literal safe for one log line: quotes and
 *		backslashes escaped, control characters as \xNN, clipped at a
 *		character boundary.  NULL gives "-".
 */
static char *
quoted(const char *s)
{
	StringInfoData buf;
	int			len;
	int			clip;

	if (s == NULL)
		return pstrdup("-");
	len = strlen(s);
	clip = pg_mbcliplen(s, len, LOG_VALUE_MAX);
	initStringInfo(&buf);
	appendStringInfoChar(&buf, '"');
	for (int i = 0; i < clip; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if (c == '"' || c == '\\')
			appendStringInfo(&buf, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			appendStringInfo(&buf, "\\x%02x", c);
		else
			appendStringInfoChar(&buf, (char) c);
	}
	if (clip < len)
		appendStringInfoString(&buf, "...");
	appendStringInfoChar(&buf, '"');
	return buf.data;
}

static bool
is_decimal_string(const char *s)
{
	bool		digits = false;

	if (*s == '-')
		s++;
	while (*s >= '0' && *s <= '9')
		s++, digits = true;
	if (*s == '.')
	{
		s++;
		while (*s >= '0' && *s <= '9')
			s++, digits = true;
	}
	return digits && *s == '\0';
}

static Datum
numeric_from_cstring(const char *s)
{
	return DirectFunctionCall3(numeric_in, CStringGetDatum(s),
							   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
}

/*
 * A money amount of a Wix answer as numeric: a decimal string, a Price
 * {"amount": "25.00"} or a JSON number.  NULL when absent.
 */
static Datum
money_at(json_object *obj, const char *key, bool *found)
{
	json_object *value = wix_json_get(obj, key);
	const char *text = NULL;

	*found = false;
	if (value != NULL && json_object_is_type(value, json_type_object))
		value = wix_json_get(value, "amount");
	if (value == NULL)
		return (Datum) 0;
	if (json_object_is_type(value, json_type_string) ||
		json_object_is_type(value, json_type_int) ||
		json_object_is_type(value, json_type_double))
		text = json_object_get_string(value);
	if (text == NULL || !is_decimal_string(text))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
				 errmsg("Wix sent an invalid amount in \"%s\"", key),
				 errdetail("Value: %s.", json_object_to_json_string(value))));
	*found = true;
	return numeric_from_cstring(text);
}

static int
numeric_compare(Datum a, Datum b)
{
	return DatumGetInt32(DirectFunctionCall2(numeric_cmp, a, b));
}

static char *
numeric_text(Datum num)
{
	return DatumGetCString(DirectFunctionCall1(numeric_out, num));
}

/* An amount object {"amount": "<decimal>"} as Order Billing takes it. */
static json_object *
amount_object(Datum num)
{
	json_object *obj = json_object_new_object();

	jset_string(obj, "amount", numeric_text(num));
	return obj;
}


/* Wall-clock time in a time zone, without zone, as Wix slot dates are. */
static char *
iso_local(TimestampTz ts, pg_tz *zone)
{
	struct pg_tm tm;
	fsec_t		fsec;
	int			tz;

	if (TIMESTAMP_NOT_FINITE(ts) ||
		timestamp2tm(ts, &tz, &tm, &fsec, NULL, zone) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range")));
	return psprintf("%04d-%02d-%02dT%02d:%02d:%02d",
					tm.tm_year, tm.tm_mon, tm.tm_mday,
					tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static TimestampTz
parse_wix_timestamp(const char *text, const char *field)
{
	if (text == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("Wix booking has no %s", field)));
	return DatumGetTimestampTz(DirectFunctionCall3(timestamptz_in,
												   CStringGetDatum(text),
												   ObjectIdGetDatum(InvalidOid),
												   Int32GetDatum(-1)));
}

/* ---------------------------------------------------------------- *
 * Arguments: NULL checks, ids, paths
 * ---------------------------------------------------------------- */

static void
require_arg(FunctionCallInfo fcinfo, int argno, const char *argname)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be NULL", argname)));
}

static bool
bool_arg(FunctionCallInfo fcinfo, int argno, const char *argname)
{
	require_arg(fcinfo, argno, argname);
	return PG_GETARG_BOOL(argno);
}

static bool
is_id_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		(c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
		c == ':' || c == '~';
}

/* Why s is not an id, or NULL when it is one. */
static char *
id_problem(const char *s)
{
	size_t		len = strlen(s);

	if (len == 0)
		return pstrdup("It is empty.");
	if (len > WIX_ID_MAX_LEN)
		return psprintf("It is longer than %d characters.", WIX_ID_MAX_LEN);
	if (strspn(s, ".") == len)
		return pstrdup("It is a relative path segment.");
	for (const char *p = s; *p; p++)
	{
		unsigned char c = (unsigned char) *p;

		if (is_id_char(c))
			continue;
		if (c == ' ')
			return pstrdup("It contains a space.");
		if (c == '/' || c == '?' || c == '#' || c == '%' || c == '\\' ||
			c == '&' || c == '=' || c == '+' || c == '@')
			return psprintf("It contains \"%c\".", c);
		if (c < 0x20 || c == 0x7f)
			return psprintf("It contains the control character \\x%02x.", c);
		if (c >= 0x80)
			return pstrdup("It contains a non-ASCII character.");
		return psprintf("It contains \"%c\".", c);
	}
	return NULL;
}

/*
 * id_arg
 *		A Wix id argument, checked and percent-encoded for one path segment.
 *		*raw, if given, gets it as passed (for the audit).
 */
static char *
check_id(const char *argname, const char *id)
{
	char	   *problem = id_problem(id);
	char	   *escaped;
	char	   *result;

	if (problem != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 strlen(id) == 0 ?
				 errmsg("%s must not be empty", argname) :
				 errmsg("%s %s is not a valid Wix id", argname, quoted(id)),
				 strlen(id) == 0 ? 0 : errdetail("%s", problem),
				 errhint("A Wix id is a GUID such as 3f1c6a2e-9d1b-4c53-a0e2-7b5f0c2d9a11: letters, digits, \"-\", \"_\", \".\", \":\" and \"~\" only.")));

	escaped = wix_http_escape_path_segment(id);
	if (escaped == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	result = pstrdup(escaped);
	free(escaped);
	return result;
}

static char *
id_arg(WixAction *act, FunctionCallInfo fcinfo, int argno,
	   const char *argname, bool is_target, char **raw)
{
	char	   *id;

	require_arg(fcinfo, argno, argname);
	id = text_to_cstring(PG_GETARG_TEXT_PP(argno));
	if (is_target)
		act->target = id;
	if (raw != NULL)
		*raw = id;
	return check_id(argname, id);
}

/* An optional id (variant_id): NULL stays NULL. */
static char *
optional_id_arg(FunctionCallInfo fcinfo, int argno, const char *argname,
				char **raw)
{
	*raw = NULL;
	if (PG_ARGISNULL(argno))
		return NULL;
	*raw = text_to_cstring(PG_GETARG_TEXT_PP(argno));
	return check_id(argname, *raw);
}

/* A non-empty text argument without control characters. */
static char *
plain_text_arg(FunctionCallInfo fcinfo, int argno, const char *argname,
			   bool required, int maxlen)
{
	char	   *value;

	if (!required && PG_ARGISNULL(argno))
		return NULL;
	require_arg(fcinfo, argno, argname);
	value = text_to_cstring(PG_GETARG_TEXT_PP(argno));
	if (value[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be empty", argname),
				 required ? 0 : errhint("Pass NULL to leave it out.")));
	if (pg_mbstrlen(value) > maxlen)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s is longer than %d characters", argname, maxlen)));
	return value;
}

/*
 * check_api_path
 *		A wix_api path: relative to base_url, starting with "/", no scheme or
 *		host, no fragment, no ".." segment (plain or percent-encoded), no
 *		white space, control characters or backslashes.  A query string is
 *		allowed.
 */
static void
check_api_path(const char *path)
{
	const char *problem = NULL;
	size_t		len = strlen(path);
	size_t		pathlen = strcspn(path, "?");

	if (len == 0)
		problem = "It is empty.";
	else if (path[0] != '/')
		problem = "It does not start with \"/\".";
	else if (len > WIX_API_PATH_MAX)
		problem = "It is too long.";
	else if (path[1] == '/' || strstr(path, "://") != NULL)
		problem = "It names a scheme or a host; a path is relative to the server's base_url.";
	else if (strchr(path, '#') != NULL)
		problem = "It contains a fragment (\"#\").";
	else
	{
		for (const char *p = path; *p; p++)
		{
			unsigned char c = (unsigned char) *p;

			if (c <= 0x20 || c == 0x7f)
				problem = c == ' ' ? "It contains a space." :
					"It contains white space or a control character.";
			else if (c == '\\')
				problem = "It contains a backslash.";
			if (problem)
				break;
		}
	}
	if (problem == NULL)
	{
		/* dot segments, also percent-encoded, and encoded slashes */
		char	   *copy = pnstrdup(path, pathlen);
		char	   *segment;
		char	   *saveptr = NULL;

		for (char *p = copy; *p; p++)
		{
			if (p[0] == '%' && p[1] != '\0' && p[2] != '\0' &&
				(pg_strncasecmp(p, "%2e", 3) == 0 ||
				 pg_strncasecmp(p, "%2f", 3) == 0 ||
				 pg_strncasecmp(p, "%5c", 3) == 0))
			{
				problem = "It contains a percent-encoded \".\", \"/\" or \"\\\".";
				break;
			}
		}
		for (segment = strtok_r(copy, "/", &saveptr);
			 problem == NULL && segment != NULL;
			 segment = strtok_r(NULL, "/", &saveptr))
		{
			if (strcmp(segment, "..") == 0 || strcmp(segment, ".") == 0)
				problem = "It contains a \".\" or \"..\" segment.";
		}
		pfree(copy);
	}
	if (problem != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 len == 0 ? errmsg("path must not be empty") :
				 errmsg("path %s is not a valid Wix API path", quoted(path)),
				 errdetail("%s", problem),
				 errhint("Give the path relative to the server's base_url, such as '/ecom/v1/orders/<id>'.")));
}

/* ---------------------------------------------------------------- *
 * Server, credentials, privileges
 * ---------------------------------------------------------------- */

/* Is the wrapper wix_admin's (its handler is our C function)? */
static bool
is_wix_fdw(Oid fdwid)
{
	ForeignDataWrapper *fdw = GetForeignDataWrapper(fdwid);
	HeapTuple	tuple;
	bool		ours = false;

	if (!OidIsValid(fdw->fdwhandler))
		return false;
	tuple = SearchSysCache1(PROCOID, ObjectIdGetDatum(fdw->fdwhandler));
	if (!HeapTupleIsValid(tuple))
		return false;
	if (((Form_pg_proc) GETSTRUCT(tuple))->prolang == ClanguageId)
	{
		bool		isnull;
		Datum		src = SysCacheGetAttr(PROCOID, tuple, Anum_pg_proc_prosrc, &isnull);
		Datum		bin;

		if (!isnull && strcmp(TextDatumGetCString(src), "wix_admin_fdw_handler") == 0)
		{
			bin = SysCacheGetAttr(PROCOID, tuple, Anum_pg_proc_probin, &isnull);
			if (!isnull)
			{
				char	   *probin = TextDatumGetCString(bin);
				size_t		len = strlen(probin);

				/* "$libdir/wix_admin", or a path ending in that file */
				ours = len >= 9 && strcmp(probin + len - 9, "wix_admin") == 0 &&
					(len == 9 || probin[len - 10] == '/');
			}
		}
	}
	ReleaseSysCache(tuple);
	return ours;
}

static int
compare_names(const ListCell *a, const ListCell *b)
{
	return strcmp(lfirst(a), lfirst(b));
}

/* The names of every wix_admin server of the database. */
static List *
wix_server_names(void)
{
	Relation	rel = table_open(ForeignServerRelationId, AccessShareLock);
	SysScanDesc scan = systable_beginscan(rel, InvalidOid, false, NULL, 0, NULL);
	HeapTuple	tuple;
	List	   *names = NIL;

	while (HeapTupleIsValid(tuple = systable_getnext(scan)))
	{
		Form_pg_foreign_server form = (Form_pg_foreign_server) GETSTRUCT(tuple);

		if (is_wix_fdw(form->srvfdw))
			names = lappend(names, pstrdup(NameStr(form->srvname)));
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	list_sort(names, compare_names);
	return names;
}

static char *
join_names(List *names)
{
	StringInfoData buf;
	ListCell   *cell;

	initStringInfo(&buf);
	foreach(cell, names)
		appendStringInfo(&buf, "%s%s", buf.len > 0 ? ", " : "",
						 quote_identifier(lfirst(cell)));
	return buf.data;
}

/*
 * choose_server
 *		The server argument; else wix_admin.default_server; else the only
 *		wix_admin server of the database.
 */
static ForeignServer *
choose_server(FunctionCallInfo fcinfo)
{
	int			argno = PG_NARGS() - 1;
	const char *name = NULL;
	bool		from_guc = false;
	ForeignServer *server;

	if (!PG_ARGISNULL(argno))
		name = NameStr(*PG_GETARG_NAME(argno));
	else if (wix_default_server != NULL && wix_default_server[0] != '\0')
	{
		name = wix_default_server;
		from_guc = true;
	}

	if (name == NULL)
	{
		List	   *names = wix_server_names();

		if (list_length(names) == 1)
			name = linitial(names);
		else if (names == NIL)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("there is no wix_admin server in this database"),
					 errhint("Create one with CREATE SERVER ... FOREIGN DATA WRAPPER wix_admin OPTIONS (site_id '...').")));
		else
			ereport(ERROR,
					(errcode(ERRCODE_AMBIGUOUS_PARAMETER),
					 errmsg("there are %d wix_admin servers in this database; choose one",
							list_length(names)),
					 errdetail("The servers are %s.", join_names(names)),
					 errhint("Pass server => '%s', or SET wix_admin.default_server = '%s'.",
							 (char *) linitial(names), (char *) linitial(names))));
	}

	server = GetForeignServerByName(name, true);
	if (server == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("server \"%s\" does not exist", name),
				 from_guc ? errdetail("It is named by wix_admin.default_server.") : 0,
				 errhint("The wix_admin servers are: %s.",
						 wix_server_names() != NIL ? join_names(wix_server_names()) : "(none)")));
	if (!is_wix_fdw(server->fdwid))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("server \"%s\" is not a wix_admin server", name),
				 errdetail("Its foreign data wrapper is \"%s\".",
						   GetForeignDataWrapper(server->fdwid)->fdwname)));
	return server;
}

/* The OID of wix_admin.action_log and its owner. */
static Oid
action_log_relid(Oid *owner)
{
	Oid			nspid = get_namespace_oid("wix_admin", true);
	Oid			relid = OidIsValid(nspid) ?
		get_relname_relid("action_log", nspid) : InvalidOid;
	HeapTuple	tuple;

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("table wix_admin.action_log does not exist"),
				 errdetail("Admin actions record themselves in it; without it none runs."),
				 errhint("It is created by CREATE EXTENSION wix_admin; recreate the extension.")));
	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	*owner = ((Form_pg_class) GETSTRUCT(tuple))->relowner;
	ReleaseSysCache(tuple);
	return relid;
}

/*
 * connect_action
 *		Everything a call needs before its first request: the server, USAGE
 *		on it, the caller's user mapping, a transaction that can write the
 *		audit row.  Nothing has been sent to Wix when this fails.
 *
 *		When actions are deferred, the checked call is queued instead
 *		(act->queued) and false is returned: the caller returns NULL at once.
 */
static bool
connect_action(WixAction *act, FunctionCallInfo fcinfo)
{
	ForeignServer *server;
	AclResult	aclresult;
	Oid			userid = GetUserId();
	Oid			owner;
	UserMapping *user;

	PreventCommandIfReadOnly(psprintf("%s()", act->name));
	PreventCommandIfParallelMode(psprintf("%s()", act->name));
	(void) action_log_relid(&owner);

	server = choose_server(fcinfo);
	act->server_name = pstrdup(server->servername);

	aclresult = pg_foreign_server_aclcheck(server->serverid, userid, ACL_USAGE);
	if (aclresult != ACLCHECK_OK)
		aclcheck_error(aclresult, OBJECT_FOREIGN_SERVER, server->servername);

	if (!SearchSysCacheExists2(USERMAPPINGUSERSERVER, ObjectIdGetDatum(userid),
							   ObjectIdGetDatum(server->serverid)) &&
		!SearchSysCacheExists2(USERMAPPINGUSERSERVER, ObjectIdGetDatum(InvalidOid),
							   ObjectIdGetDatum(server->serverid)))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("role \"%s\" has no user mapping for server \"%s\"",
						act->role, server->servername),
				 errdetail("Admin functions call Wix with the credentials of the calling role's user mapping, or of the PUBLIC one."),
				 errhint("CREATE USER MAPPING FOR %s SERVER %s OPTIONS (api_key '...'), or OPTIONS (client_id '...', client_secret '...').",
						 quote_identifier(act->role),
						 quote_identifier(server->servername))));
	if ((wix_defer_actions || wix_force_defer) && wix_delivery == NULL)
	{
		MemoryContext oldcxt = MemoryContextSwitchTo(act->caller_cxt);

		act->queued = wix_queue_enqueue(act->name, fcinfo, act->server_name,
										act->target);
		MemoryContextSwitchTo(oldcxt);
		return false;
	}
	user = GetUserMapping(userid, server->serverid);
	act->conn = wix_get_connection(user);
	return true;
}

/* ---------------------------------------------------------------- *
 * Requests and the audit trail
 * ---------------------------------------------------------------- */

/* Remember the status and request id of the connection's last answer. */
static void
note_last_call(WixAction *act)
{
	long		status;
	const char *request_id;

	wix_connection_last_call(act->conn, &status, &request_id);
	act->status = status;
	act->request_id = request_id[0] != '\0' ? pstrdup(request_id) : NULL;
}

/*
 * call
 *		One request.  A changing request (is_action) sets what the audit
 *		reports; reads only do so until the change has been sent.  Reads are
 *		retried on transient failures, changes only when Wix cannot have
 *		acted (connection.c).  An answer with status accept_status (0: none)
 *		is returned instead of raised; *status tells which it was.
 */
static json_object *
call(WixAction *act, const char *method, const char *path, json_object *body,
	 bool is_action, long accept_status, long *status)
{
	WixJsonHolder *answer;
	long		got;
	const char *request_id;

	if (is_action)
		act->change_sent = true;
	/* reads (POST queries too) may be retried; changes only where safe */
	if (!is_action && accept_status == 0)
		answer = wix_request(act->conn, method, path, body, NULL);
	else
		answer = wix_request_ext(act->conn, method, path, body, NULL, accept_status);
	wix_connection_last_call(act->conn, &got, &request_id);
	if (is_action || !act->action_sent)
	{
		act->status = got;
		act->request_id = request_id[0] != '\0' ? pstrdup(request_id) : NULL;
	}
	if (is_action && got == 200)
		act->action_sent = true;
	if (status != NULL)
		*status = got;
	if (answer->obj == NULL)
		answer->obj = json_object_new_object();
	return answer->obj;
}

static json_object *
request(WixAction *act, const char *method, const char *path,
		json_object *body)
{
	return call(act, method, path, body, false, 0, NULL);
}

static json_object *
action_request(WixAction *act, const char *method, const char *path,
			   json_object *body)
{
	return call(act, method, path, body, true, 0, NULL);
}

/* One LOG line per call: who did what where, and how it went. */
static void
audit_line(WixAction *act, const char *error)
{
	ereport(LOG,
			(errmsg("wix_admin audit: role=%s server=%s action=%s target=%s http_status=%s wix_request_id=%s outcome=%s%s%s",
					quoted(act->role), quoted(act->server_name), act->name,
					quoted(act->target),
					act->status > 0 ? psprintf("%ld", act->status) : "-",
					act->request_id ? quoted(act->request_id) : "-",
					error ? "error" : act->queued ? "queued" : "success",
					error || act->note ? " error=" : "",
					error ? quoted(error) : act->note ? quoted(act->note) : ""),
			 errhidestmt(true),
			 errhidecontext(true)));
}

/*
 * audit_row
 *		Insert the call into wix_admin.action_log, in the caller's
 *		transaction, as the table's owner (SECURITY_LOCAL_USERID_CHANGE, as
 *		foreign-key checks do) so that callers need no privilege on it.
 */
static void
audit_row(WixAction *act)
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
	Oid			owner;
	Oid			save_userid;
	int			save_sec_context;
	int			rc;

	(void) action_log_relid(&owner);
	namestrcpy(&role, act->role);
	namestrcpy(&server, act->server_name ? act->server_name : "");
	values[0] = NameGetDatum(&role);
	values[1] = NameGetDatum(&server);
	values[2] = CStringGetTextDatum(act->name);
	values[3] = act->target ? CStringGetTextDatum(act->target) : (Datum) 0;
	nulls[3] = act->target ? ' ' : 'n';
	values[4] = Int32GetDatum((int32) act->status);
	nulls[4] = act->status > 0 ? ' ' : 'n';
	values[5] = act->request_id ? CStringGetTextDatum(act->request_id) : (Datum) 0;
	nulls[5] = act->request_id ? ' ' : 'n';
	values[6] = act->note ? CStringGetTextDatum(act->note) : (Datum) 0;
	nulls[6] = act->note ? ' ' : 'n';

	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(owner, save_sec_context |
						   SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	rc = SPI_execute_with_args(sql, 7, argtypes, values, nulls, false, 0);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "could not insert into wix_admin.action_log: %s",
			 SPI_result_code_string(rc));
	SPI_finish();
	SetUserIdAndSecContext(save_userid, save_sec_context);
}

static Datum
json_to_jsonb(WixAction *act, json_object *value)
{
	const char *text = json_object_to_json_string_ext(value,
													  JSON_C_TO_STRING_PLAIN |
													  JSON_C_TO_STRING_NOSLASHESCAPE);
	MemoryContext oldcxt = MemoryContextSwitchTo(act->caller_cxt);
	Datum		result = DirectFunctionCall1(jsonb_in, CStringGetDatum(text));

	MemoryContextSwitchTo(oldcxt);
	return result;
}

/*
 * report_delivery
 *		Tell queue.c, delivering this call, how its last request went.
 */
static void
report_delivery(WixAction *act)
{
	if (wix_delivery == NULL)
		return;
	wix_delivery->change_sent = act->change_sent;
	wix_delivery->status = act->status;
	wix_delivery->request_id = act->request_id ?
		MemoryContextStrdup(wix_delivery->cxt, act->request_id) : NULL;
}

/*
 * run_action
 *		Run one admin function: its work in a memory context of its own, the
 *		audit line whatever happens, the audit row when it succeeded.  A
 *		deferred call returns the queued action and leaves no audit row: its
 *		delivery will.
 */
static Datum
run_action(FunctionCallInfo fcinfo, const char *name, WixActionFn fn)
{
	MemoryContext caller_cxt = CurrentMemoryContext;
	WixAction  *act = palloc0(sizeof(WixAction));
	Datum		result;

	act->name = name;
	act->role = GetUserNameFromId(GetUserId(), false);
	act->caller_cxt = caller_cxt;
	act->cxt = AllocSetContextCreate(caller_cxt, "wix_admin action",
									 ALLOCSET_DEFAULT_SIZES);

	PG_TRY();
	{
		json_object *value;

		MemoryContextSwitchTo(act->cxt);
		value = fn(act, fcinfo);
		result = value != NULL ? json_to_jsonb(act, value) : act->queued;
		if (act->target != NULL)
			act->target = MemoryContextStrdup(caller_cxt, act->target);
		if (act->request_id != NULL)
			act->request_id = MemoryContextStrdup(caller_cxt, act->request_id);
		if (act->note != NULL)
			act->note = MemoryContextStrdup(caller_cxt, act->note);
		if (act->server_name != NULL)
			act->server_name = MemoryContextStrdup(caller_cxt, act->server_name);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(caller_cxt);
		edata = CopyErrorData();
		FlushErrorState();
		if (act->conn != NULL && !act->action_sent)
			note_last_call(act);
		report_delivery(act);
		audit_line(act, edata->message);
		ReThrowError(edata);
	}
	PG_END_TRY();

	MemoryContextSwitchTo(caller_cxt);
	MemoryContextDelete(act->cxt);
	audit_line(act, NULL);
	if (act->queued == (Datum) 0)
	{
		report_delivery(act);
		audit_row(act);
	}
	PG_RETURN_DATUM(result);
}

#define WIX_ADMIN_FUNCTION(sqlname, impl) \
	PG_FUNCTION_INFO_V1(sqlname); \
	Datum \
	sqlname(PG_FUNCTION_ARGS) \
	{ \
		return run_action(fcinfo, #sqlname, impl); \
	}

/* ---------------------------------------------------------------- *
 * Orders (auth-and-orders.md §3)
 * ---------------------------------------------------------------- */

/* A refundable payment of get-order-refundability. */
typedef struct RefundablePayment
{
	const char *payment_id;
	Datum		max_refund;
	bool		external;		/* manuallyRefundable: record the refund only */
} RefundablePayment;

/*
 * refund_already_done
 *		A deferred refund being delivered: note how much the order has had
 *		refunded before this attempt sends anything.  When an earlier
 *		attempt's outcome is unknown (a timeout after sending), decide from
 *		the refundability whether it happened: more refunded than before that
 *		attempt means it did; without that figure (a crash), a full refund
 *		with nothing left did, and a partial one cannot be told.  Returns the
 *		result to report instead of refunding again, or NULL to go on.
 */
static json_object *
refund_already_done(WixAction *act, json_object *answer, const char *raw_id,
					bool full, int nrefundable)
{
	bool		found;
	Datum		refunded = money_at(wix_json_get(wix_json_get(answer, "paymentsSummary"), "monetary"),
									"refunded", &found);
	bool		done;
	json_object *result;

	wix_delivery->memo_out = found ?
		MemoryContextStrdup(wix_delivery->cxt, numeric_text(refunded)) : NULL;
	if (!wix_delivery->recheck)
		return NULL;
	if (wix_delivery->memo_in != NULL && found)
		done = numeric_compare(refunded,
							   numeric_from_cstring(wix_delivery->memo_in)) > 0;
	else if (full)
		done = (nrefundable == 0);
	else
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the outcome of an earlier attempt to refund order %s is unknown",
						raw_id),
				 errdetail("wix_admin stopped while the refund was being sent, and Wix cannot tell whether a partial refund happened."),
				 errhint("Check the order's refunds in Wix; wix_admin.retry_action() sends the refund again.")));
	if (!done)
		return NULL;
	act->note = psprintf("an earlier attempt whose outcome was unknown had refunded the order (refunded now: %s%s%s); not sent again",
						 found ? numeric_text(refunded) : "unknown",
						 wix_delivery->memo_in ? ", before: " : "",
						 wix_delivery->memo_in ? wix_delivery->memo_in : "");
	result = held(act, json_object_new_object());
	jset(result, "alreadyRefunded", json_object_new_boolean(true));
	jset_string(result, "orderId", raw_id);
	jset(result, "refundability", json_object_get(answer));
	return result;
}

/*
 * wix_refund(order_id, amount, reason, restock, notify_customer, server)
 *		§3.5: get-order-refundability, then one refund-payments call.  A full
 *		refund (amount NULL) refunds every refundable payment's maxRefund,
 *		every line item's available quantity and the available shipping; a
 *		partial one spreads amount over the payments, refunding no items.
 */
static json_object *
do_refund(WixAction *act, FunctionCallInfo fcinfo)
{
	char	   *raw_id;
	bool		full;
	Datum		amount;
	char	   *reason;
	bool		restock;
	bool		notify;
	Datum		zero = NumericGetDatum(int64_to_numeric(0));
	json_object *body;
	json_object *answer;
	json_object *payments;
	json_object *line_items;
	RefundablePayment *refundable;
	int			nrefundable = 0;
	Datum		total = zero;
	StringInfoData why_not;
	json_object *payment_refunds;
	json_object *refund_items = NULL;
	json_object *restock_items = NULL;
	json_object *side_effects;
	json_object *transactions;

	(void) id_arg(act, fcinfo, 0, "order_id", true, &raw_id);
	full = PG_ARGISNULL(1);
	amount = full ? (Datum) 0 : PG_GETARG_DATUM(1);
	reason = plain_text_arg(fcinfo, 2, "reason", false, 1000);
	restock = bool_arg(fcinfo, 3, "restock");
	notify = bool_arg(fcinfo, 4, "notify_customer");
	if (!full)
	{
		Numeric		num = DatumGetNumeric(amount);

		if (numeric_is_nan(num) || numeric_is_inf(num) ||
			numeric_compare(amount, zero) <= 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("refund amount must be greater than zero, not %s",
							numeric_text(amount)),
					 errhint("Pass amount => NULL for a full refund.")));
	}

	if (!connect_action(act, fcinfo))
		return NULL;

	body = held(act, json_object_new_object());
	jset_string(body, "orderId", raw_id);
	answer = request(act, "POST", "/ecom/v1/order-billing/get-order-refundability", body);

	payments = wix_json_get_type(answer, "payments", json_type_array);
	initStringInfo(&why_not);
	refundable = palloc0(sizeof(RefundablePayment) *
						 (payments ? json_object_array_length(payments) + 1 : 1));
	for (size_t i = 0; payments && i < json_object_array_length(payments); i++)
	{
		json_object *item = json_object_array_get_idx(payments, i);
		json_object *payment = wix_json_get(item, "payment");
		const char *payment_id = wix_json_get_string(payment, "paymentId");
		json_object *refundable_flag = wix_json_get_type(item, "refundable", json_type_boolean);
		json_object *manual = wix_json_get(item, "manuallyRefundable");
		json_object *non = wix_json_get(item, "nonRefundable");
		bool		found;
		Datum		max_refund;

		if (payment_id == NULL)
			continue;
		max_refund = money_at(wix_json_get(payment, "monetary"), "maxRefund", &found);
		if (!(refundable_flag && json_object_get_boolean(refundable_flag)) &&
			manual == NULL)
		{
			const char *reason_text = wix_json_get_string(non, "reason");

			appendStringInfo(&why_not, "%spayment %s is not refundable (%s)",
							 why_not.len ? "; " : "", payment_id,
							 reason_text ? reason_text : "no reason given");
			continue;
		}
		if (!found || numeric_compare(max_refund, zero) <= 0)
		{
			appendStringInfo(&why_not, "%spayment %s has nothing left to refund",
							 why_not.len ? "; " : "", payment_id);
			continue;
		}
		refundable[nrefundable].payment_id = payment_id;
		refundable[nrefundable].max_refund = max_refund;
		refundable[nrefundable].external = (manual != NULL);
		nrefundable++;
		total = DirectFunctionCall2(numeric_add, total, max_refund);
	}

	if (wix_delivery != NULL)
	{
		json_object *already = refund_already_done(act, answer, raw_id, full,
												   nrefundable);

		if (already != NULL)
			return already;
	}
	if (nrefundable == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("order %s has nothing to refund", raw_id),
				 why_not.len > 0 ?
				 errdetail("Wix says: %s.", why_not.data) :
				 errdetail("Wix lists no payments for this order."),
				 errhint("Check the order's payment_status; only paid orders can be refunded.")));
	if (!full && numeric_compare(amount, total) > 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("refund amount %s exceeds the %s that order %s has left to refund",
						numeric_text(amount), numeric_text(total), raw_id),
				 errhint("Pass an amount up to %s, or NULL for a full refund.",
						 numeric_text(total))));

	body = held(act, json_object_new_object());
	jset_string(body, "orderId", raw_id);
	payment_refunds = json_object_new_array();
	jset(body, "paymentRefunds", payment_refunds);
	{
		Datum		left = full ? (Datum) 0 : amount;

		for (int i = 0; i < nrefundable; i++)
		{
			json_object *refund = json_object_new_object();
			Datum		part = refundable[i].max_refund;

			if (!full)
			{
				if (numeric_compare(left, zero) <= 0)
				{
					json_object_put(refund);
					break;
				}
				if (numeric_compare(left, part) < 0)
					part = left;
				left = DirectFunctionCall2(numeric_sub, left, part);
			}
			json_object_array_add(payment_refunds, refund);
			jset_string(refund, "paymentId", refundable[i].payment_id);
			jset(refund, "amount", amount_object(part));
			jset(refund, "externalRefund",
				 json_object_new_boolean(refundable[i].external));
		}
	}

	if (full)
	{
		json_object *shipping = wix_json_get(answer, "shipping");
		bool		found;
		Datum		shipping_amount = money_at(shipping, "availableRefundAmount", &found);
		json_object *available;

		refund_items = json_object_new_object();
		jset(body, "refundItems", refund_items);
		restock_items = json_object_new_array();
		line_items = json_object_new_array();
		jset(refund_items, "lineItems", line_items);
		available = wix_json_get_type(answer, "lineItems", json_type_array);
		for (size_t i = 0; available && i < json_object_array_length(available); i++)
		{
			json_object *item = json_object_array_get_idx(available, i);
			const char *line_item_id = wix_json_get_string(item, "lineItemId");
			int64		quantity;
			json_object *entry;

			if (line_item_id == NULL ||
				!wix_json_get_int64(item, "availableRefundQuantity", &quantity) ||
				quantity <= 0)
				continue;
			entry = json_object_new_object();
			json_object_array_add(line_items, entry);
			jset_string(entry, "lineItemId", line_item_id);
			jset(entry, "quantity", json_object_new_int64(quantity));
			json_object_array_add(restock_items, json_object_get(entry));
		}
		if (found && numeric_compare(shipping_amount, zero) > 0)
		{
			json_object *ship = json_object_new_object();

			jset(refund_items, "shipping", ship);
			jset(ship, "amount", amount_object(shipping_amount));
		}
	}

	side_effects = json_object_new_object();
	jset(body, "sideEffects", side_effects);
	if (restock_items != NULL)
	{
		if (restock && json_object_array_length(restock_items) > 0)
			jset(jchild(side_effects, "restock"), "lineItems", restock_items);
		else
			json_object_put(restock_items);
	}
	jset(jchild(side_effects, "notifications"), "sendCustomerEmail",
		 json_object_new_boolean(notify));
	if (reason != NULL)
		jset_string(body, "customerReason", reason);

	answer = action_request(act, "POST", "/ecom/v1/order-billing/refund-payments", body);

	/* a 200 answer may still report a failed refund transaction */
	transactions = wix_json_get_type(wix_json_get(answer, "refund"), "transactions", json_type_array);
	for (size_t i = 0; transactions && i < json_object_array_length(transactions); i++)
	{
		json_object *txn = json_object_array_get_idx(transactions, i);
		const char *state = wix_json_get_string(txn, "refundStatus");

		if (state != NULL && strcmp(state, "FAILED") == 0)
		{
			const char *payment_id = wix_json_get_string(txn, "paymentId");

			act->note = psprintf("%s%sWix reports the refund of payment %s as FAILED",
								 act->note ? act->note : "", act->note ? "; " : "",
								 payment_id ? payment_id : "(unknown)");
			ereport(WARNING,
					(errmsg("Wix reports the refund of payment %s of order %s as FAILED",
							payment_id ? payment_id : "(unknown)", raw_id),
					 errhint("See the order's payments in the Wix dashboard.")));
		}
	}
	return answer;
}

WIX_ADMIN_FUNCTION(wix_refund, do_refund)

/* wix_cancel_order(order_id, restock, notify_customer, server): §3.1 */
static json_object *
do_cancel_order(WixAction *act, FunctionCallInfo fcinfo)
{
	char	   *order_id = id_arg(act, fcinfo, 0, "order_id", true, NULL);
	bool		restock = bool_arg(fcinfo, 1, "restock");
	bool		notify = bool_arg(fcinfo, 2, "notify_customer");
	char	   *path = psprintf("/ecom/v1/orders/%s/cancel", order_id);
	json_object *body;

	if (!connect_action(act, fcinfo))
		return NULL;
	body = held(act, json_object_new_object());
	jset(body, "sendOrderCanceledEmail", json_object_new_boolean(notify));
	jset(body, "restockAllItems", json_object_new_boolean(restock));
	return entity(action_request(act, "POST", path, body), "order", "POST", path);
}

WIX_ADMIN_FUNCTION(wix_cancel_order, do_cancel_order)

/* wix_archive_order(order_id, archived, server): §3.2, Update Order */
static json_object *
do_archive_order(WixAction *act, FunctionCallInfo fcinfo)
{
	char	   *raw_id;
	char	   *order_id = id_arg(act, fcinfo, 0, "order_id", true, &raw_id);
	bool		archived = bool_arg(fcinfo, 1, "archived");
	char	   *path = psprintf("/ecom/v1/orders/%s", order_id);
	json_object *body;
	json_object *order;

	if (!connect_action(act, fcinfo))
		return NULL;
	body = held(act, json_object_new_object());
	order = jchild(body, "order");
	jset_string(order, "id", raw_id);
	jset(order, "archived", json_object_new_boolean(archived));
	return entity(action_request(act, "PATCH", path, body), "order", "PATCH", path);
}

WIX_ADMIN_FUNCTION(wix_archive_order, do_archive_order)

/*
 * wix_fulfill_order(order_id, tracking_number, shipping_provider,
 *					 tracking_link, server)
 *		§3.6: one fulfillment with the quantity of every line item that the
 *		order's fulfillments do not cover yet.
 */
static json_object *
do_fulfill_order(WixAction *act, FunctionCallInfo fcinfo)
{
	char	   *order_id = id_arg(act, fcinfo, 0, "order_id", true, NULL);
	char	   *tracking_number = plain_text_arg(fcinfo, 1, "tracking_number", false, 100);
	char	   *provider = plain_text_arg(fcinfo, 2, "shipping_provider", false, 100);
	char	   *link = plain_text_arg(fcinfo, 3, "tracking_link", false, 2000);
	char	   *order_path = psprintf("/ecom/v1/orders/%s", order_id);
	char	   *list_path = psprintf("/ecom/v1/fulfillments/orders/%s", order_id);
	char	   *path = psprintf("/ecom/v1/fulfillments/orders/%s/create-fulfillment", order_id);
	json_object *order;
	json_object *order_items;
	json_object *fulfillments;
	json_object *body;
	json_object *fulfillment;
	json_object *items;

	if (tracking_number == NULL && (provider != NULL || link != NULL))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("shipping_provider and tracking_link need a tracking_number")));
	if (tracking_number != NULL && provider == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("tracking_number needs a shipping_provider"),
				 errhint("Wix knows fedex, ups, usps, dhl and canadaPost; any other provider needs a tracking_link too.")));

	if (!connect_action(act, fcinfo))
		return NULL;
	order = entity(request(act, "GET", order_path, NULL), "order", "GET", order_path);
	order_items = wix_json_get_type(order, "lineItems", json_type_array);
	fulfillments = wix_json_get_type(wix_json_get(request(act, "GET", list_path, NULL),
								  "orderWithFulfillments"),
							 "fulfillments", json_type_array);

	body = held(act, json_object_new_object());
	fulfillment = jchild(body, "fulfillment");
	items = json_object_new_array();
	jset(fulfillment, "lineItems", items);
	for (size_t i = 0; order_items && i < json_object_array_length(order_items); i++)
	{
		json_object *line = json_object_array_get_idx(order_items, i);
		const char *line_id = wix_json_get_string(line, "id");
		int64		quantity = 0;
		int64		done = 0;

		if (line_id == NULL || !wix_json_get_int64(line, "quantity", &quantity))
			continue;
		for (size_t f = 0; fulfillments && f < json_object_array_length(fulfillments); f++)
		{
			json_object *done_items = wix_json_get_type(json_object_array_get_idx(fulfillments, f),
												"lineItems", json_type_array);

			for (size_t k = 0; done_items && k < json_object_array_length(done_items); k++)
			{
				json_object *done_item = json_object_array_get_idx(done_items, k);
				const char *done_id = wix_json_get_string(done_item, "id");
				int64		n;

				if (done_id != NULL && strcmp(done_id, line_id) == 0 &&
					wix_json_get_int64(done_item, "quantity", &n))
					done += n;
			}
		}
		if (quantity > done)
		{
			json_object *entry = json_object_new_object();

			json_object_array_add(items, entry);
			jset_string(entry, "id", line_id);
			jset(entry, "quantity", json_object_new_int64(quantity - done));
		}
	}
	if (json_object_array_length(items) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("order %s has nothing left to fulfill", act->target),
				 errdetail("Its fulfillments cover every line item.")));

	if (tracking_number != NULL)
	{
		json_object *tracking = jchild(fulfillment, "trackingInfo");

		jset_string(tracking, "trackingNumber", tracking_number);
		jset_string(tracking, "shippingProvider", provider);
		if (link != NULL)
			jset_string(tracking, "trackingLink", link);
	}
	else
	{
		/* Wix takes trackingInfo or customInfo: no tracking, no fields */
		jset(jchild(fulfillment, "customInfo"), "fieldsData", json_object_new_object());
	}
	return action_request(act, "POST", path, body);
}

WIX_ADMIN_FUNCTION(wix_fulfill_order, do_fulfill_order)

/* ---------------------------------------------------------------- *
 * Members (members-stores-bookings.md §3.3)
 * ---------------------------------------------------------------- */

static json_object *
do_create_member(WixAction *act, FunctionCallInfo fcinfo)
{
	char	   *email = plain_text_arg(fcinfo, 0, "login_email", true, 254);
	char	   *first = plain_text_arg(fcinfo, 1, "first_name", false, 100);
	char	   *last = plain_text_arg(fcinfo, 2, "last_name", false, 100);
	char	   *nickname = plain_text_arg(fcinfo, 3, "nickname", false, 100);
	const char *at = strchr(email, '@');
	json_object *body;
	json_object *member;
	json_object *created;
	const char *id;

	if (at == NULL || at == email || at[1] == '\0' || strchr(at + 1, '@') != NULL ||
		strpbrk(email, " \t\r\n") != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("login_email %s is not an email address", quoted(email))));

	if (!connect_action(act, fcinfo))
		return NULL;
	body = held(act, json_object_new_object());
	member = jchild(body, "member");
	jset_string(member, "loginEmail", email);
	if (first != NULL || last != NULL)
	{
		json_object *contact = jchild(member, "contact");

		if (first != NULL)
			jset_string(contact, "firstName", first);
		if (last != NULL)
			jset_string(contact, "lastName", last);
	}
	if (nickname != NULL)
		jset_string(jchild(member, "profile"), "nickname", nickname);
	created = entity(action_request(act, "POST", "/members/v1/members", body),
					 "member", "POST", "/members/v1/members");
	id = wix_json_get_string(created, "id");
	if (id != NULL)
		act->target = pstrdup(id);
	return created;
}

WIX_ADMIN_FUNCTION(wix_create_member, do_create_member)

/* approve and block: POST .../{id}/<verb> with an empty body */
static json_object *
member_verb(WixAction *act, FunctionCallInfo fcinfo, const char *verb)
{
	char	   *member_id = id_arg(act, fcinfo, 0, "member_id", true, NULL);
	char	   *path = psprintf("/members/v1/members/%s/%s", member_id, verb);

	if (!connect_action(act, fcinfo))
		return NULL;
	return entity(action_request(act, "POST", path,
								 held(act, json_object_new_object())),
				  "member", "POST", path);
}

static json_object *
do_approve_member(WixAction *act, FunctionCallInfo fcinfo)
{
	return member_verb(act, fcinfo, "approve");
}

static json_object *
do_block_member(WixAction *act, FunctionCallInfo fcinfo)
{
	return member_verb(act, fcinfo, "block");
}

WIX_ADMIN_FUNCTION(wix_approve_member, do_approve_member)
WIX_ADMIN_FUNCTION(wix_block_member, do_block_member)

/* Deletes answer {}: return the id and "deleted": true with it. */
static json_object *
deleted(WixAction *act, json_object *answer, const char *id)
{
	json_object *result = held(act, json_object_new_object());

	json_object_object_foreach(answer, key, value)
		jset(result, key, json_object_get(value));
	jset_string(result, "id", id);
	jset(result, "deleted", json_object_new_boolean(true));
	return result;
}

static json_object *
do_delete_member(WixAction *act, FunctionCallInfo fcinfo)
{
	char	   *raw_id;
	char	   *member_id = id_arg(act, fcinfo, 0, "member_id", true, &raw_id);
	char	   *path = psprintf("/members/v1/members/%s", member_id);

	if (!connect_action(act, fcinfo))
		return NULL;
	return deleted(act, action_request(act, "DELETE", path, NULL), raw_id);
}

WIX_ADMIN_FUNCTION(wix_delete_member, do_delete_member)

/* ---------------------------------------------------------------- *
 * Products (§4.4 Catalog V1, §4.7 Catalog V3)
 * ---------------------------------------------------------------- */

static Datum
price_arg(FunctionCallInfo fcinfo, int argno)
{
	Datum		price;
	Numeric		num;

	require_arg(fcinfo, argno, "price");
	price = PG_GETARG_DATUM(argno);
	num = DatumGetNumeric(price);
	if (numeric_is_nan(num) || numeric_is_inf(num) ||
		numeric_compare(price, NumericGetDatum(int64_to_numeric(0))) < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("price must be zero or more, not %s", numeric_text(price))));
	return price;
}

/* A jsonb argument that must be a non-empty object, as json-c. */
static json_object *
jsonb_object_arg(WixAction *act, FunctionCallInfo fcinfo, int argno,
				 const char *argname, bool required)
{
	Jsonb	   *jb;
	char	   *text;
	json_object *obj;

	if (!required && PG_ARGISNULL(argno))
		return NULL;
	require_arg(fcinfo, argno, argname);
	jb = PG_GETARG_JSONB_P(argno);
	if (!JB_ROOT_IS_OBJECT(jb) || JB_ROOT_IS_SCALAR(jb))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a JSON object", argname)));
	text = JsonbToCString(NULL, &jb->root, VARSIZE(jb));
	obj = held(act, wix_json_parse(text, strlen(text), argname));
	return obj;
}

static json_object *
do_create_product(WixAction *act, FunctionCallInfo fcinfo)
{
	char	   *name = plain_text_arg(fcinfo, 0, "name", true, 80);
	Datum		price = price_arg(fcinfo, 1);
	char	   *sku = plain_text_arg(fcinfo, 2, "sku", false, 40);
	bool		visible = bool_arg(fcinfo, 3, "visible");
	char	   *description = plain_text_arg(fcinfo, 4, "description", false, 8000);
	char	   *price_text = numeric_text(price);
	json_object *body;
	json_object *product;
	json_object *created;
	const char *path;
	const char *id;

	if (!connect_action(act, fcinfo))
		return NULL;
	body = held(act, json_object_new_object());
	product = jchild(body, "product");
	jset_string(product, "name", name);
	if (wix_catalog_version(act->conn) == WIX_CATALOG_V1)
	{
		path = "/stores/v1/products";
		jset_string(product, "productType", "physical");
		jset(jchild(product, "priceData"), "price",
			 json_object_new_double_s(strtod(price_text, NULL), price_text));
		if (sku != NULL)
			jset_string(product, "sku", sku);
		jset(product, "visible", json_object_new_boolean(visible));
		if (description != NULL)
			jset_string(product, "description", description);
	}
	else
	{
		json_object *variants;
		json_object *variant;

		path = "/stores/v3/products";
		jset_string(product, "productType", "PHYSICAL");
		jset(product, "physicalProperties", json_object_new_object());
		jset(product, "visible", json_object_new_boolean(visible));
		if (description != NULL)
			jset_string(product, "plainDescription", description);
		variants = json_object_new_array();
		jset(jchild(product, "variantsInfo"), "variants", variants);
		variant = json_object_new_object();
		json_object_array_add(variants, variant);
		jset(variant, "choices", json_object_new_array());
		if (sku != NULL)
			jset_string(variant, "sku", sku);
		jset(variant, "physicalProperties", json_object_new_object());
		jset_string(jchild(jchild(variant, "price"), "actualPrice"), "amount",
					price_text);
		jset(body, "fields", json_object_new_array());
	}
	created = entity(action_request(act, "POST", path, body), "product", "POST", path);
	id = wix_json_get_string(created, "id");
	if (id != NULL)
		act->target = pstrdup(id);
	return created;
}

WIX_ADMIN_FUNCTION(wix_create_product, do_create_product)

/* The current revision of a V3 product. */
static char *
v3_product_revision(WixAction *act, const char *product_path)
{
	json_object *product = entity(request(act, "GET", product_path, NULL),
								  "product", "GET", product_path);
	int64		revision;

	if (!wix_json_get_int64(product, "revision", &revision))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("Wix product has no revision")));
	return psprintf(INT64_FORMAT, revision);
}

/*
 * wix_update_product(product_id, changes, server)
 *		V1: PATCH with the changes.  V3: PATCH with the changes, the id and
 *		the current revision, read first; a revision conflict re-reads it and
 *		tries once more.  A revision in changes is sent as given and not
 *		retried: optimistic concurrency chosen by the caller.
 */
static json_object *
do_update_product(WixAction *act, FunctionCallInfo fcinfo)
{
	char	   *raw_id;
	char	   *product_id = id_arg(act, fcinfo, 0, "product_id", true, &raw_id);
	json_object *changes = jsonb_object_arg(act, fcinfo, 1, "changes", true);
	const char *given_id = wix_json_get_string(changes, "id");
	bool		given_revision = wix_json_get(changes, "revision") != NULL;
	char	   *path;
	json_object *body;
	json_object *product;
	json_object *answer;

	if (json_object_object_length(changes) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("changes must name at least one field"),
				 errhint("For example '{\"name\": \"Big mug\"}'.")));
	if (wix_json_get(changes, "id") != NULL &&
		(given_id == NULL || strcmp(given_id, raw_id) != 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("changes has an \"id\" other than product_id"),
				 errhint("Leave \"id\" out of changes.")));

	if (!connect_action(act, fcinfo))
		return NULL;
	body = held(act, json_object_new_object());
	product = json_object_get(changes);
	jset(body, "product", product);

	if (wix_catalog_version(act->conn) == WIX_CATALOG_V1)
	{
		path = psprintf("/stores/v1/products/%s", product_id);
		return entity(action_request(act, "PATCH", path, body), "product", "PATCH", path);
	}

	path = psprintf("/stores/v3/products/%s", product_id);
	jset_string(product, "id", raw_id);
	if (given_revision)
		return entity(action_request(act, "PATCH", path, body), "product", "PATCH", path);

	for (int attempt = 0;; attempt++)
	{
		long		status;

		jset_string(product, "revision", v3_product_revision(act, path));
		answer = call(act, "PATCH", path, body, true, attempt == 0 ? 409 : 0, &status);
		if (status == 200)
			return entity(answer, "product", "PATCH", path);
		act->note = pstrdup("revision conflict (HTTP 409) on the first attempt; re-read the revision and retried once");
	}
}

WIX_ADMIN_FUNCTION(wix_update_product, do_update_product)

static json_object *
do_delete_product(WixAction *act, FunctionCallInfo fcinfo)
{
	char	   *raw_id;
	char	   *product_id = id_arg(act, fcinfo, 0, "product_id", true, &raw_id);
	char	   *path;

	if (!connect_action(act, fcinfo))
		return NULL;
	path = psprintf(wix_catalog_version(act->conn) == WIX_CATALOG_V1 ?
					"/stores/v1/products/%s" : "/stores/v3/products/%s",
					product_id);
	return deleted(act, action_request(act, "DELETE", path, NULL), raw_id);
}

WIX_ADMIN_FUNCTION(wix_delete_product, do_delete_product)

/* ---------------------------------------------------------------- *
 * Inventory (§4.4 V1 inventoryItems, §4.7 V3 inventory-items)
 * ---------------------------------------------------------------- */

/*
 * V1: a product without variant_id must have no variants of its own; its
 * inventory is the all-zero variant.
 */
static const char *
v1_variant(WixAction *act, const char *product_id, const char *raw_product_id,
		   const char *raw_variant_id)
{
	char	   *path;
	json_object *product;
	json_object *manage;

	if (raw_variant_id != NULL)
		return raw_variant_id;
	path = psprintf("/stores-reader/v1/products/%s", product_id);
	product = entity(request(act, "GET", path, NULL), "product", "GET", path);
	manage = wix_json_get_type(product, "manageVariants", json_type_boolean);
	if (manage != NULL && json_object_get_boolean(manage))
	{
		json_object *variants = wix_json_get_type(product, "variants", json_type_array);
		StringInfoData ids;

		initStringInfo(&ids);
		for (size_t i = 0; variants && i < json_object_array_length(variants) && i < 10; i++)
		{
			const char *id = wix_json_get_string(json_object_array_get_idx(variants, i), "id");

			if (id != NULL)
				appendStringInfo(&ids, "%s%s", ids.len ? ", " : "", id);
		}
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("product %s has variants: pass variant_id", raw_product_id),
				 ids.len > 0 ? errdetail("Its variants include %s.", ids.data) : 0));
	}
	return ZERO_VARIANT_ID;
}

/* V1: the product after an inventory change, as Wix now shows it. */
static json_object *
v1_product(WixAction *act, const char *product_id)
{
	char	   *path = psprintf("/stores-reader/v1/products/%s", product_id);

	return entity(request(act, "GET", path, NULL), "product", "GET", path);
}

/*
 * V3: the inventory item of a product (and variant): query by productId.
 * A product with several items needs variant_id.
 */
static json_object *
v3_inventory_item(WixAction *act, const char *raw_product_id,
				  const char *raw_variant_id)
{
	json_object *body = held(act, json_object_new_object());
	json_object *query = jchild(body, "query");
	json_object *filter = jchild(query, "filter");
	json_object *items;
	size_t		n;

	jset_string(filter, "productId", raw_product_id);
	if (raw_variant_id != NULL)
		jset_string(filter, "variantId", raw_variant_id);
	jset(jchild(query, "cursorPaging"), "limit", json_object_new_int(100));
	items = wix_json_get_type(request(act, "POST", "/stores/v3/inventory-items/query", body),
					  "inventoryItems", json_type_array);
	n = items ? json_object_array_length(items) : 0;
	if (n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_UNABLE_TO_CREATE_EXECUTION),
				 raw_variant_id ?
				 errmsg("product %s has no inventory item for variant %s",
						raw_product_id, raw_variant_id) :
				 errmsg("product %s has no inventory item", raw_product_id),
				 errhint("Check the product id (and variant id), and that the server's site_id points at the right site.")));
	if (n > 1)
	{
		StringInfoData ids;

		initStringInfo(&ids);
		for (size_t i = 0; i < n && i < 10; i++)
		{
			const char *id = wix_json_get_string(json_object_array_get_idx(items, i), "variantId");

			appendStringInfo(&ids, "%s%s", ids.len ? ", " : "", id ? id : "(none)");
		}
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 raw_variant_id ?
				 errmsg("variant %s of product %s has %zu inventory items (one per location)",
						raw_variant_id, raw_product_id, n) :
				 errmsg("product %s has %zu inventory items: pass variant_id",
						raw_product_id, n),
				 errdetail("Variant ids: %s.", ids.data),
				 raw_variant_id ?
				 errhint("Use wix_api() with the inventory item of the location.") : 0));
	}
	return json_object_array_get_idx(items, 0);
}

/* wix_set_inventory(product_id, quantity, variant_id, server) */
static json_object *
do_set_inventory(WixAction *act, FunctionCallInfo fcinfo)
{
	char	   *raw_id;
	char	   *product_id = id_arg(act, fcinfo, 0, "product_id", true, &raw_id);
	int32		quantity;
	char	   *raw_variant;

	require_arg(fcinfo, 1, "quantity");
	quantity = PG_GETARG_INT32(1);
	(void) optional_id_arg(fcinfo, 2, "variant_id", &raw_variant);
	if (quantity < 0 || quantity > INVENTORY_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("quantity must be between 0 and %d, not %d",
						INVENTORY_MAX, quantity)));

	if (!connect_action(act, fcinfo))
		return NULL;
	if (wix_catalog_version(act->conn) == WIX_CATALOG_V1)
	{
		char	   *path = psprintf("/stores/v2/inventoryItems/product/%s", product_id);
		const char *variant = v1_variant(act, product_id, raw_id, raw_variant);
		json_object *body = held(act, json_object_new_object());
		json_object *item = jchild(body, "inventoryItem");
		json_object *variants = json_object_new_array();
		json_object *entry = json_object_new_object();

		/* trackQuantity always: omitted means false, for every variant */
		jset(item, "trackQuantity", json_object_new_boolean(true));
		jset(item, "variants", variants);
		json_object_array_add(variants, entry);
		jset_string(entry, "variantId", variant);
		jset(entry, "quantity", json_object_new_int(quantity));
		(void) action_request(act, "PATCH", path, body);
		return v1_product(act, product_id);
	}

	for (int attempt = 0;; attempt++)
	{
		json_object *item = v3_inventory_item(act, raw_id, raw_variant);
		const char *item_id = wix_json_get_string(item, "id");
		int64		revision;
		json_object *body;
		json_object *update;
		char	   *path;
		long		status;
		json_object *answer;

		if (item_id == NULL || !wix_json_get_int64(item, "revision", &revision))
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("Wix inventory item of product %s has no id or revision", raw_id)));
		path = psprintf("/stores/v3/inventory-items/%s", check_id("inventory item id", item_id));
		body = held(act, json_object_new_object());
		update = jchild(body, "inventoryItem");
		jset_string(update, "id", item_id);
		jset(update, "revision", json_object_new_string(psprintf(INT64_FORMAT, revision)));
		jset(update, "quantity", json_object_new_int(quantity));
		jset_string(body, "reason", "MANUAL");
		answer = call(act, "PATCH", path, body, true, attempt == 0 ? 409 : 0, &status);
		if (status == 200)
			return entity(answer, "inventoryItem", "PATCH", path);
		act->note = pstrdup("revision conflict (HTTP 409) on the first attempt; re-read the revision and retried once");
	}
}

WIX_ADMIN_FUNCTION(wix_set_inventory, do_set_inventory)

/* wix_adjust_inventory(product_id, delta, variant_id, server) */
static json_object *
do_adjust_inventory(WixAction *act, FunctionCallInfo fcinfo)
{
	char	   *raw_id;
	char	   *product_id = id_arg(act, fcinfo, 0, "product_id", true, &raw_id);
	int32		delta;
	char	   *raw_variant;
	bool		up;
	const char *verb;
	json_object *body;
	json_object *data;
	json_object *entry;

	require_arg(fcinfo, 1, "delta");
	delta = PG_GETARG_INT32(1);
	(void) optional_id_arg(fcinfo, 2, "variant_id", &raw_variant);
	if (delta == 0 || delta < -INVENTORY_MAX || delta > INVENTORY_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("delta must be between -%d and %d and not zero, not %d",
						INVENTORY_MAX, INVENTORY_MAX, delta)));
	up = delta > 0;
	verb = up ? "increment" : "decrement";

	if (!connect_action(act, fcinfo))
		return NULL;
	body = held(act, json_object_new_object());
	data = json_object_new_array();
	jset(body, up ? "incrementData" : "decrementData", data);
	entry = json_object_new_object();
	json_object_array_add(data, entry);

	if (wix_catalog_version(act->conn) == WIX_CATALOG_V1)
	{
		const char *variant = v1_variant(act, product_id, raw_id, raw_variant);

		jset_string(entry, "productId", raw_id);
		jset_string(entry, "variantId", variant);
		jset(entry, up ? "incrementBy" : "decrementBy",
			 json_object_new_int(up ? delta : -delta));
		if (!up)
			jset(entry, "preorderRequest", json_object_new_boolean(false));
		(void) action_request(act, "POST",
							  psprintf("/stores/v2/inventoryItems/%s", verb), body);
		return v1_product(act, product_id);
	}
	else
	{
		json_object *item = v3_inventory_item(act, raw_id, raw_variant);
		const char *item_id = wix_json_get_string(item, "id");
		char	   *path = psprintf("/stores/v3/bulk/inventory-items/%s", verb);
		json_object *answer;
		json_object *results;
		json_object *result;
		json_object *meta;
		json_object *success;

		if (item_id == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("Wix inventory item of product %s has no id", raw_id)));
		jset_string(entry, "inventoryItemId", item_id);
		jset(entry, up ? "incrementBy" : "decrementBy",
			 json_object_new_int(up ? delta : -delta));
		if (!up)
		{
			jset(entry, "preorderRequest", json_object_new_boolean(false));
			jset(body, "restrictInventory", json_object_new_boolean(true));
		}
		jset(body, "returnEntity", json_object_new_boolean(true));
		jset_string(body, "reason", "MANUAL");
		answer = action_request(act, "POST", path, body);

		results = wix_json_get_type(answer, "results", json_type_array);
		result = results && json_object_array_length(results) > 0 ?
			json_object_array_get_idx(results, 0) : NULL;
		meta = wix_json_get(result, "itemMetadata");
		success = wix_json_get_type(meta, "success", json_type_boolean);
		if (success != NULL && !json_object_get_boolean(success))
		{
			json_object *error = wix_json_get(meta, "error");
			const char *code = wix_json_get_string(error, "code");
			const char *description = wix_json_get_string(error, "description");

			ereport(ERROR,
					(errcode(ERRCODE_FDW_UNABLE_TO_CREATE_EXECUTION),
					 errmsg("Wix could not %s the inventory of product %s: %s",
							verb, raw_id, description ? description : "(no description)"),
					 errdetail("Wix error code: %s. Wix request id: %s.",
							   code ? code : "(none)",
							   act->request_id ? act->request_id : "(none)"),
					 !up ? errhint("Wix does not decrement below zero.") : 0));
		}
		if (wix_json_get_type(result, "item", json_type_object) != NULL)
			return wix_json_get(result, "item");
		{
			char	   *item_path = psprintf("/stores/v3/inventory-items/%s",
											 check_id("inventory item id", item_id));

			return entity(request(act, "GET", item_path, NULL),
						  "inventoryItem", "GET", item_path);
		}
	}
}

WIX_ADMIN_FUNCTION(wix_adjust_inventory, do_adjust_inventory)

/* ---------------------------------------------------------------- *
 * Bookings (§5.3): every change sends the booking's current revision
 * ---------------------------------------------------------------- */

/* The booking, read through the extended-bookings query filtered by id. */
static json_object *
read_booking(WixAction *act, const char *raw_id)
{
	json_object *body = held(act, json_object_new_object());
	json_object *query = jchild(body, "query");
	json_object *found;
	json_object *booking;

	jset_string(jchild(query, "filter"), "id", raw_id);
	jset(jchild(query, "cursorPaging"), "limit", json_object_new_int(1));
	found = wix_json_get_type(request(act, "POST",
							  "/_api/bookings-reader/v2/extended-bookings/query",
							  body),
					  "extendedBookings", json_type_array);
	booking = found && json_object_array_length(found) > 0 ?
		wix_json_get_type(json_object_array_get_idx(found, 0), "booking", json_type_object) :
		NULL;
	if (booking == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_UNABLE_TO_CREATE_EXECUTION),
				 errmsg("booking %s not found", raw_id),
				 errhint("Check the id, and that the server's site_id and base_url point at the right site.")));
	return booking;
}

typedef void (*BookingBodyFn) (json_object *body, json_object *booking,
							   void *arg);

/*
 * booking_action
 *		Read the booking's revision, send the change with it; on a revision
 *		conflict (HTTP 409) re-read and try once more.  A deferred change
 *		delivered again after an unknown outcome is not sent when the
 *		booking already has done_status (if given): it happened.
 */
static json_object *
booking_action(WixAction *act, const char *raw_id, const char *path,
			   BookingBodyFn build, void *arg, const char *done_status)
{
	for (int attempt = 0;; attempt++)
	{
		json_object *booking = read_booking(act, raw_id);
		json_object *body = held(act, json_object_new_object());
		int64		revision;
		long		status;
		json_object *answer;
		const char *booking_status = wix_json_get_string(booking, "status");

		if (attempt == 0 && done_status != NULL && wix_delivery != NULL &&
			wix_delivery->recheck && booking_status != NULL &&
			strcmp(booking_status, done_status) == 0)
		{
			act->note = psprintf("an earlier attempt whose outcome was unknown had made the booking %s; not sent again",
								 done_status);
			return booking;
		}

		if (!wix_json_get_int64(booking, "revision", &revision))
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("Wix booking %s has no revision", raw_id)));
		jset(body, "revision", json_object_new_string(psprintf(INT64_FORMAT, revision)));
		build(body, booking, arg);
		answer = call(act, "POST", path, body, true, attempt == 0 ? 409 : 0, &status);
		if (status == 200)
			return entity(answer, "booking", "POST", path);
		act->note = pstrdup("revision conflict (HTTP 409) on the first attempt; re-read the revision and retried once");
	}
}

static void
notify_body(json_object *body, json_object *booking, void *arg)
{
	jset(jchild(body, "participantNotification"), "notifyParticipants",
		 json_object_new_boolean(*(bool *) arg));
}

/* confirm, decline and cancel: (booking_id, notify, server) */
static json_object *
booking_verb(WixAction *act, FunctionCallInfo fcinfo, const char *verb,
			 const char *done_status)
{
	char	   *raw_id;
	char	   *booking_id = id_arg(act, fcinfo, 0, "booking_id", true, &raw_id);
	bool		notify = bool_arg(fcinfo, 1, "notify");

	if (!connect_action(act, fcinfo))
		return NULL;
	return booking_action(act, raw_id,
						  psprintf("/_api/bookings-service/v2/bookings/%s/%s",
								   booking_id, verb),
						  notify_body, &notify, done_status);
}

static json_object *
do_confirm_booking(WixAction *act, FunctionCallInfo fcinfo)
{
	return booking_verb(act, fcinfo, "confirm", "CONFIRMED");
}

static json_object *
do_decline_booking(WixAction *act, FunctionCallInfo fcinfo)
{
	return booking_verb(act, fcinfo, "decline", "DECLINED");
}

static json_object *
do_cancel_booking(WixAction *act, FunctionCallInfo fcinfo)
{
	return booking_verb(act, fcinfo, "cancel", "CANCELED");
}

WIX_ADMIN_FUNCTION(wix_confirm_booking, do_confirm_booking)
WIX_ADMIN_FUNCTION(wix_decline_booking, do_decline_booking)
WIX_ADMIN_FUNCTION(wix_cancel_booking, do_cancel_booking)

typedef struct RescheduleArgs
{
	const char *raw_id;
	TimestampTz start;
	bool		has_end;
	TimestampTz end;
} RescheduleArgs;

/*
 * The booking's slot with new dates: wall-clock times in the slot's time
 * zone, as Wix writes them; without end_date the booking keeps its length.
 */
static void
reschedule_body(json_object *body, json_object *booking, void *arg)
{
	RescheduleArgs *args = arg;
	json_object *slot = wix_json_get_type(wix_json_get(booking, "bookedEntity"), "slot", json_type_object);
	json_object *new_slot;
	const char *zone_name;
	pg_tz	   *zone = NULL;
	TimestampTz end = args->end;

	if (slot == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("booking %s is not for a single slot and cannot be rescheduled",
						args->raw_id),
				 errdetail("Course bookings book a whole schedule.")));
	if (!args->has_end)
		end = args->start +
			(parse_wix_timestamp(wix_json_get_string(booking, "endDate"), "endDate") -
			 parse_wix_timestamp(wix_json_get_string(booking, "startDate"), "startDate"));
	if (end <= args->start)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("end_date must be later than start_date")));

	zone_name = wix_json_get_string(slot, "timezone");
	if (zone_name != NULL)
		zone = pg_tzset(zone_name);

	new_slot = json_object_new_object();
	jset(body, "slot", new_slot);
	{
		json_object_object_foreach(slot, key, value)
			jset(new_slot, key, json_object_get(value));
	}
	if (zone != NULL)
	{
		jset_string(new_slot, "startDate", iso_local(args->start, zone));
		jset_string(new_slot, "endDate", iso_local(end, zone));
	}
	else
	{
		jset_string(new_slot, "startDate", wix_iso_utc(args->start, false));
		jset_string(new_slot, "endDate", wix_iso_utc(end, false));
	}
}

/* wix_reschedule_booking(booking_id, start_date, end_date, server) */
static json_object *
do_reschedule_booking(WixAction *act, FunctionCallInfo fcinfo)
{
	char	   *raw_id;
	char	   *booking_id = id_arg(act, fcinfo, 0, "booking_id", true, &raw_id);
	RescheduleArgs args;

	require_arg(fcinfo, 1, "start_date");
	args.raw_id = raw_id;
	args.start = PG_GETARG_TIMESTAMPTZ(1);
	args.has_end = !PG_ARGISNULL(2);
	args.end = args.has_end ? PG_GETARG_TIMESTAMPTZ(2) : 0;
	if (TIMESTAMP_NOT_FINITE(args.start) ||
		(args.has_end && TIMESTAMP_NOT_FINITE(args.end)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("start_date and end_date must be finite")));
	if (args.has_end && args.end <= args.start)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("end_date must be later than start_date")));

	if (!connect_action(act, fcinfo))
		return NULL;
	return booking_action(act, raw_id,
						  psprintf("/_api/bookings-service/v2/bookings/%s/reschedule",
								   booking_id),
						  reschedule_body, &args, NULL);
}

WIX_ADMIN_FUNCTION(wix_reschedule_booking, do_reschedule_booking)

/* ---------------------------------------------------------------- *
 * wix_api(method, path, body, server): any other call
 * ---------------------------------------------------------------- */

static json_object *
do_api(WixAction *act, FunctionCallInfo fcinfo)
{
	static const char *const methods[] = {"GET", "POST", "PATCH", "PUT", "DELETE", NULL};
	char	   *method = NULL;
	char	   *given;
	char	   *path;
	json_object *body;

	require_arg(fcinfo, 0, "method");
	given = text_to_cstring(PG_GETARG_TEXT_PP(0));
	for (const char *const *m = methods; *m; m++)
	{
		if (pg_strcasecmp(given, *m) == 0)
			method = pstrdup(*m);
	}
	if (method == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("method %s is not supported", quoted(given)),
				 errhint("Use GET, POST, PATCH, PUT or DELETE.")));
	require_arg(fcinfo, 1, "path");
	path = text_to_cstring(PG_GETARG_TEXT_PP(1));
	act->target = psprintf("%s %s", method, path);
	check_api_path(path);
	body = jsonb_object_arg(act, fcinfo, 2, "body", false);
	if (body != NULL && strcmp(method, "GET") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a GET request takes no body"),
				 errhint("Put GET parameters in the path's query string.")));

	if (!connect_action(act, fcinfo))
		return NULL;
	return action_request(act, method, path, body);
}

WIX_ADMIN_FUNCTION(wix_api, do_api)

/* ---------------------------------------------------------------- *
 * Delivery of deferred actions (queue.c)
 * ---------------------------------------------------------------- */

typedef struct WixActionEntry
{
	const char *name;
	WixActionFn fn;
} WixActionEntry;

static const WixActionEntry admin_actions[] = {
	{"wix_refund", do_refund},
	{"wix_cancel_order", do_cancel_order},
	{"wix_fulfill_order", do_fulfill_order},
	{"wix_archive_order", do_archive_order},
	{"wix_create_member", do_create_member},
	{"wix_approve_member", do_approve_member},
	{"wix_block_member", do_block_member},
	{"wix_delete_member", do_delete_member},
	{"wix_create_product", do_create_product},
	{"wix_update_product", do_update_product},
	{"wix_delete_product", do_delete_product},
	{"wix_set_inventory", do_set_inventory},
	{"wix_adjust_inventory", do_adjust_inventory},
	{"wix_confirm_booking", do_confirm_booking},
	{"wix_decline_booking", do_decline_booking},
	{"wix_cancel_booking", do_cancel_booking},
	{"wix_reschedule_booking", do_reschedule_booking},
	{"wix_api", do_api},
	{NULL, NULL}
};

/*
 * wix_run_admin_action
 *		Run the admin function `name` with the arguments of fcinfo, exactly as
 *		a SQL call of it would: wix_enqueue() queues through it, and queue.c
 *		delivers through it.
 */
Datum
wix_run_admin_action(FunctionCallInfo fcinfo, const char *name)
{
	for (const WixActionEntry *entry = admin_actions; entry->name; entry++)
	{
		if (strcmp(entry->name, name) == 0)
			return run_action(fcinfo, entry->name, entry->fn);
	}
	elog(ERROR, "unknown wix_admin action \"%s\"", name);
	return (Datum) 0;			/* keep compiler quiet */
}
