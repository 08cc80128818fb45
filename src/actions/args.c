/*-------------------------------------------------------------------------
 *
 * args.c
 *		  The arguments of an admin action, by parameter name: read from a
 *		  SQL call or from the JSON object a queued action stores, checked
 *		  against the action's parameter table before anything is sent, and
 *		  written back as JSON when the call is deferred.
 *
 * Ids are checked and percent-encoded for one path segment; text must be
 * non-empty plain text of bounded length; money must be a number; jsonb
 * objects are read as json-c, held by the call's memory context.
 *
 *-------------------------------------------------------------------------
 */
#include "wix_actions.h"

#include "wix_http.h"

#include "catalog/pg_type.h"
#include "mb/pg_wchar.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"

#define WIX_ID_MAX_LEN		200
#define LOG_VALUE_MAX		200

/* The SQL type of a parameter kind. */
static Oid
param_type(WixParamKind kind)
{
	switch (kind)
	{
		case WIX_PARAM_BOOL:
			return BOOLOID;
		case WIX_PARAM_INT:
			return INT4OID;
		case WIX_PARAM_NUMERIC:
		case WIX_PARAM_NON_NEGATIVE:
			return NUMERICOID;
		case WIX_PARAM_TIMESTAMPTZ:
			return TIMESTAMPTZOID;
		case WIX_PARAM_OBJECT:
		case WIX_PARAM_RAW_JSONB:
			return JSONBOID;
		default:
			return TEXTOID;
	}
}

/* The SQL type of the action's parameter i (the server's is name). */
Oid
wix_action_param_type(const WixActionDef *def, int i)
{
	return i < wix_action_nparams(def) ? param_type(def->params[i].kind) : NAMEOID;
}

/*
 * wix_quoted
 *		A string as a double-quoted literal safe for one log line: quotes and
 *		backslashes escaped, control characters as \xNN, clipped at a
 *		character boundary.  NULL gives "-".
 */
char *
wix_quoted(const char *s)
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
 * wix_check_id
 *		A Wix id, checked and percent-encoded for one path segment.
 */
char *
wix_check_id(const char *argname, const char *id)
{
	char	   *problem = id_problem(id);
	char	   *escaped;
	char	   *result;

	if (problem != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 strlen(id) == 0 ?
				 errmsg("%s must not be empty", argname) :
				 errmsg("%s %s is not a valid Wix id", argname, wix_quoted(id)),
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

/* A non-empty text argument of at most maxlen characters. */
static void
check_plain_text(const WixParamDef *param, const char *value)
{
	if (value[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be empty", param->name),
				 param->sql_default == NULL ? 0 :
				 errhint("Pass NULL to leave it out.")));
	if (pg_mbstrlen(value) > param->max_length)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s is longer than %d characters", param->name,
						param->max_length)));
}

/* A jsonb argument that must be an object, as json-c. */
json_object *
wix_object_arg(WixActionCall *call, const char *name, Datum value)
{
	Jsonb	   *jb = DatumGetJsonbP(value);
	char	   *text;

	if (!JB_ROOT_IS_OBJECT(jb) || JB_ROOT_IS_SCALAR(jb))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a JSON object", name)));
	text = JsonbToCString(NULL, &jb->root, VARSIZE(jb));
	return wix_held(call, wix_json_parse(text, strlen(text), name));
}

/* A numeric that must be zero or more (a price), named name. */
void
wix_check_non_negative(const char *name, Datum value)
{
	Numeric		num = DatumGetNumeric(value);

	if (numeric_is_nan(num) || numeric_is_inf(num) ||
		wix_numeric_compare(value, NumericGetDatum(int64_to_numeric(0))) < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be zero or more, not %s", name,
						wix_numeric_text(value))));
}

/* Check one argument and derive what the action reads of it. */
static void
check_arg(WixActionCall *call, const WixParamDef *param, WixArg *arg)
{
	if (arg->isnull)
	{
		if (param->sql_default == NULL || strcmp(param->sql_default, "NULL") != 0)
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s must not be NULL", param->name)));
		return;
	}
	if (param_type(param->kind) == TEXTOID)
		arg->text = TextDatumGetCString(arg->datum);
	if (param->flags & WIX_PARAM_TARGET)
		call->target = arg->text;
	switch (param->kind)
	{
		case WIX_PARAM_ID:
			arg->escaped = wix_check_id(param->name, arg->text);
			break;
		case WIX_PARAM_TEXT:
			check_plain_text(param, arg->text);
			break;
		case WIX_PARAM_NON_NEGATIVE:
			wix_check_non_negative(param->name, arg->datum);
			break;
		case WIX_PARAM_OBJECT:
			arg->json = wix_object_arg(call, param->name, arg->datum);
			break;
		default:
			break;
	}
}

/*
 * wix_check_args
 *		Check every argument of the call in parameter order, then the
 *		action's own checks across them.
 */
void
wix_check_args(WixActionCall *call)
{
	const WixActionDef *def = call->def;

	for (int i = 0; def->params[i].name != NULL; i++)
		check_arg(call, &def->params[i], &call->args[i]);
	if (def->check != NULL)
		def->check(call);
}

/* A JSON value as a datum of type typid (NULL for JSON null). */
static Datum
json_arg_datum(json_object *value, Oid typid, const char *name, bool *isnull)
{
	Oid			typinput;
	Oid			typioparam;
	const char *text;

	*isnull = (value == NULL || json_object_is_type(value, json_type_null));
	if (*isnull)
		return (Datum) 0;
	if (typid == JSONBOID)
		return DirectFunctionCall1(jsonb_in,
								   CStringGetDatum(json_object_to_json_string_ext(value,
																				  JSON_C_TO_STRING_PLAIN)));
	if (json_object_is_type(value, json_type_object) ||
		json_object_is_type(value, json_type_array) ||
		(typid == TEXTOID && !json_object_is_type(value, json_type_string)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("argument \"%s\" must be a JSON %s", name,
						typid == TEXTOID ? "string" : "scalar")));
	text = json_object_get_string(value);
	getTypeInputInfo(typid, &typinput, &typioparam);
	return OidInputFunctionCall(typinput, (char *) text, typioparam, -1);
}

/* A parameter's SQL default as a datum. */
static void
default_arg(const WixParamDef *param, WixArg *arg)
{
	Oid			typinput;
	Oid			typioparam;

	arg->isnull = strcmp(param->sql_default, "NULL") == 0;
	arg->datum = (Datum) 0;
	if (arg->isnull)
		return;
	getTypeInputInfo(param_type(param->kind), &typinput, &typioparam);
	arg->datum = OidInputFunctionCall(typinput, (char *) param->sql_default,
									  typioparam, -1);
}

/*
 * wix_args_from_fcinfo
 *		The arguments of a SQL call of the action's function, the server
 *		last.  The function of an earlier version of the extension may lack
 *		parameters added since (wix_action_takes_nargs), which take their
 *		defaults.
 */
void
wix_args_from_fcinfo(WixActionCall *call, FunctionCallInfo fcinfo)
{
	int			n = wix_action_nparams(call->def);
	int			server = PG_NARGS() - 1;

	for (int i = 0; i < n; i++)
	{
		if (i >= server)
			default_arg(&call->def->params[i], &call->args[i]);
		else
		{
			call->args[i].isnull = PG_ARGISNULL(i);
			call->args[i].datum = PG_ARGISNULL(i) ? (Datum) 0 : PG_GETARG_DATUM(i);
		}
	}
	call->server_arg = PG_ARGISNULL(server) ? NULL :
		pstrdup(NameStr(*PG_GETARG_NAME(server)));
}

/* Refuse keys of args that are no parameter of the action. */
static void
check_arg_names(const WixActionDef *def, json_object *args, int known)
{
	StringInfoData names;

	if (known >= json_object_object_length(args))
		return;
	initStringInfo(&names);
	for (int i = 0; def->params[i].name != NULL; i++)
		appendStringInfo(&names, "%s%s", i ? ", " : "", def->params[i].name);
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("args has a key that %s does not take", def->name),
			 errdetail("It takes %s, and server as its own argument.", names.data)));
}

/*
 * wix_args_from_json
 *		The arguments of a queued action or of wix_enqueue(): a JSON object
 *		keyed by parameter name, defaults for those left out.
 */
void
wix_args_from_json(WixActionCall *call, const char *args_text,
				   const char *server)
{
	const WixActionDef *def = call->def;
	json_object *args = wix_held(call, wix_json_parse(args_text, strlen(args_text),
													  "args"));
	int			known = 0;

	for (int i = 0; def->params[i].name != NULL; i++)
	{
		const WixParamDef *param = &def->params[i];
		json_object *value;

		if (json_object_object_get_ex(args, param->name, &value))
		{
			known++;
			call->args[i].datum = json_arg_datum(value, param_type(param->kind),
												 param->name, &call->args[i].isnull);
		}
		else if (param->sql_default == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("args has no \"%s\", which %s requires",
							param->name, def->name)));
		else
			default_arg(param, &call->args[i]);
	}
	check_arg_names(def, args, known);
	call->server_arg = server != NULL ? pstrdup(server) : NULL;
}

/*
 * wix_args_from_values
 *		The arguments of a call made by DML on a foreign table: a datum per
 *		parameter, in its SQL type; a NULL one takes the parameter's SQL
 *		default, as a column left out of an INSERT does.
 */
void
wix_args_from_values(WixActionCall *call, const Datum *values,
					 const bool *nulls, const char *server)
{
	const WixActionDef *def = call->def;

	for (int i = 0; def->params[i].name != NULL; i++)
	{
		if (!nulls[i])
		{
			call->args[i].isnull = false;
			call->args[i].datum = values[i];
		}
		else if (def->params[i].sql_default != NULL)
			default_arg(&def->params[i], &call->args[i]);
		else
			call->args[i].isnull = true;	/* check_arg refuses it */
	}
	call->server_arg = pstrdup(server);
}

/* One argument as a JSON value. */
static void
append_json_arg(StringInfo buf, Oid type, Datum value)
{
	switch (type)
	{
		case BOOLOID:
			appendStringInfoString(buf, DatumGetBool(value) ? "true" : "false");
			break;
		case INT4OID:
			appendStringInfo(buf, "%d", DatumGetInt32(value));
			break;
		case NUMERICOID:
			{
				/* NaN and infinities are not JSON numbers: keep them strings */
				char	   *text = wix_numeric_text(value);

				if (strspn(text, "-0123456789.") == strlen(text))
					appendStringInfoString(buf, text);
				else
					escape_json(buf, text);
			}
			break;
		case TIMESTAMPTZOID:
			escape_json(buf, wix_iso_utc(DatumGetTimestampTz(value), true));
			break;
		case JSONBOID:
			{
				Jsonb	   *jb = DatumGetJsonbP(value);

				appendStringInfoString(buf, JsonbToCString(NULL, &jb->root,
														   VARSIZE(jb)));
			}
			break;
		default:
			escape_json(buf, TextDatumGetCString(value));
			break;
	}
}

/*
 * wix_args_json
 *		The call's arguments, server left out, as a JSON object keyed by
 *		parameter name: what the queue stores.
 */
char *
wix_args_json(WixActionCall *call)
{
	const WixActionDef *def = call->def;
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	for (int i = 0; def->params[i].name != NULL; i++)
	{
		if (i > 0)
			appendStringInfoString(&buf, ", ");
		escape_json(&buf, def->params[i].name);
		appendStringInfoString(&buf, ": ");
		if (call->args[i].isnull)
			appendStringInfoString(&buf, "null");
		else
			append_json_arg(&buf, param_type(def->params[i].kind),
							call->args[i].datum);
	}
	appendStringInfoChar(&buf, '}');
	return buf.data;
}

/* The argument of parameter name (a programming error if there is none). */
WixArg *
wix_arg(WixActionCall *call, const char *name)
{
	for (int i = 0; call->def->params[i].name != NULL; i++)
	{
		if (strcmp(call->def->params[i].name, name) == 0)
			return &call->args[i];
	}
	elog(ERROR, "wix_admin action %s has no parameter \"%s\"", call->def->name, name);
	return NULL;				/* keep compiler quiet */
}

/* A text argument as passed, or NULL. */
const char *
wix_arg_text(WixActionCall *call, const char *name)
{
	return wix_arg(call, name)->text;
}

bool
wix_arg_bool(WixActionCall *call, const char *name)
{
	return DatumGetBool(wix_arg(call, name)->datum);
}

/*
 * wix_expand_path
 *		A path template with each {param} replaced by that id argument,
 *		percent-encoded.
 */
char *
wix_expand_path(WixActionCall *call, const char *template)
{
	StringInfoData buf;
	const char *p = template;

	initStringInfo(&buf);
	while (*p)
	{
		const char *close;

		if (*p != '{' || (close = strchr(p, '}')) == NULL)
		{
			appendStringInfoChar(&buf, *p++);
			continue;
		}
		appendStringInfoString(&buf,
							   wix_arg(call, pnstrdup(p + 1, close - p - 1))->escaped);
		p = close + 1;
	}
	return buf.data;
}
