/*-------------------------------------------------------------------------
 *
 * convert.c
 *		  From Wix JSON values to PostgreSQL datums: dotted-path lookup and
 *		  conversion by the column's type.
 *
 * ISO-8601 strings become timestamptz, decimal strings numeric, int64
 * strings bigint, booleans boolean, objects and arrays jsonb; text columns
 * take strings as they are and anything else as JSON text.  A value that
 * does not convert raises an error naming the column, the Wix field and the
 * value.
 *
 *-------------------------------------------------------------------------
 */
#include "wix_admin.h"

#include "catalog/pg_type.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"

/* What a conversion error's context line names. */
typedef struct ConversionContext
{
	WixColumnConverter *conv;
	const char *value;
} ConversionContext;

/*
 * wix_converter_init
 *		Prepare to convert one column's values.  The path "$" is the whole
 *		object; any other path is split at its dots.
 */
void
wix_converter_init(WixColumnConverter *conv, const char *column_name,
				   const char *path, Oid typid, int32 typmod)
{
	Oid			input_func;
	bool		preferred;

	memset(conv, 0, sizeof(*conv));
	conv->column_name = pstrdup(column_name);
	conv->path = pstrdup(path);
	conv->typid = typid;
	conv->typmod = typmod;
	get_type_category_preferred(typid, &conv->category, &preferred);
	getTypeInputInfo(typid, &input_func, &conv->typioparam);
	fmgr_info(input_func, &conv->input);

	if (strcmp(path, "$") != 0)
	{
		char	   *copy = pstrdup(path);
		char	   *segment;
		char	   *saveptr;
		int			max = 1;

		for (const char *c = path; *c; c++)
			max += (*c == '.');
		conv->segments = palloc(sizeof(char *) * max);
		for (segment = strtok_r(copy, ".", &saveptr); segment != NULL;
			 segment = strtok_r(NULL, ".", &saveptr))
			conv->segments[conv->nsegments++] = segment;
	}
}

/*
 * wix_json_path_get
 *		Follow a dotted path; numeric segments index arrays.  NULL when any
 *		step is missing.
 */
json_object *
wix_json_path_get(json_object *obj, char *const *segments, int nsegments)
{
	for (int i = 0; i < nsegments && obj != NULL; i++)
	{
		if (json_object_is_type(obj, json_type_object))
		{
			if (!json_object_object_get_ex(obj, segments[i], &obj))
				return NULL;
		}
		else if (json_object_is_type(obj, json_type_array))
		{
			char	   *end;
			long		index = strtol(segments[i], &end, 10);

			if (*end != '\0' || end == segments[i] || index < 0 ||
				(size_t) index >= json_object_array_length(obj))
				return NULL;
			obj = json_object_array_get_idx(obj, index);
		}
		else
			return NULL;
	}
	return obj;
}

/* Shorten a value for an error message. */
static char *
value_for_message(const char *text)
{
	size_t		len = strlen(text);

	if (len <= 200)
		return pstrdup(text);
	return psprintf("%.*s...", pg_mbcliplen(text, (int) len, 200), text);
}

static void
conversion_error_callback(void *arg)
{
	ConversionContext *context = arg;

	errcontext("column \"%s\", Wix field \"%s\", value %s",
			   context->conv->column_name, context->conv->path,
			   quote_literal_cstr(value_for_message(context->value)));
}

/*
 * push_jsonb
 *		Add a json-c value to a jsonb under construction, without going
 *		through JSON text.  Strings point into the json-c tree, which outlives
 *		the conversion.
 */
static JsonbValue *
push_jsonb(JsonbParseState **state, json_object *value, JsonbIteratorToken token)
{
	JsonbValue	scalar;

	check_stack_depth();
	switch (json_object_get_type(value))
	{
		case json_type_object:
			{
				struct json_object_iterator it = json_object_iter_begin(value);
				struct json_object_iterator end = json_object_iter_end(value);

				pushJsonbValue(state, WJB_BEGIN_OBJECT, NULL);
				for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it))
				{
					JsonbValue	k;

					k.type = jbvString;
					k.val.string.val = (char *) json_object_iter_peek_name(&it);
					k.val.string.len = strlen(k.val.string.val);
					pushJsonbValue(state, WJB_KEY, &k);
					push_jsonb(state, json_object_iter_peek_value(&it), WJB_VALUE);
				}
				return pushJsonbValue(state, WJB_END_OBJECT, NULL);
			}
		case json_type_array:
			pushJsonbValue(state, WJB_BEGIN_ARRAY, NULL);
			for (size_t i = 0; i < json_object_array_length(value); i++)
				push_jsonb(state, json_object_array_get_idx(value, i), WJB_ELEM);
			return pushJsonbValue(state, WJB_END_ARRAY, NULL);
		case json_type_null:
			scalar.type = jbvNull;
			break;
		case json_type_boolean:
			scalar.type = jbvBool;
			scalar.val.boolean = json_object_get_boolean(value);
			break;
		case json_type_string:
			scalar.type = jbvString;
			scalar.val.string.val = (char *) json_object_get_string(value);
			scalar.val.string.len = json_object_get_string_len(value);
			break;
		case json_type_int:
		case json_type_double:
			/* the number as Wix wrote it */
			scalar.type = jbvNumeric;
			scalar.val.numeric =
				DatumGetNumeric(DirectFunctionCall3(numeric_in,
													CStringGetDatum(json_object_get_string(value)),
													ObjectIdGetDatum(InvalidOid),
													Int32GetDatum(-1)));
			break;
	}
	return pushJsonbValue(state, token, &scalar);
}

/*
 * wix_iso_utc
 *		A timestamptz as Wix writes it: ISO-8601 in UTC with milliseconds
 *		(or microseconds), whatever DateStyle and TimeZone say.
 */
char *
wix_iso_utc(TimestampTz ts, bool microseconds)
{
	struct pg_tm tm;
	fsec_t		fsec;

	if (TIMESTAMP_NOT_FINITE(ts) ||
		timestamp2tm(ts, NULL, &tm, &fsec, NULL, NULL) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range for Wix")));
	if (microseconds)
		return psprintf("%04d-%02d-%02dT%02d:%02d:%02d.%06dZ",
						tm.tm_year, tm.tm_mon, tm.tm_mday,
						tm.tm_hour, tm.tm_min, tm.tm_sec, (int) fsec);
	return psprintf("%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
					tm.tm_year, tm.tm_mon, tm.tm_mday,
					tm.tm_hour, tm.tm_min, tm.tm_sec, (int) (fsec / 1000));
}

/*
 * wix_convert_value
 *		Convert one JSON value (NULL = absent) for the column.
 */
Datum
wix_convert_value(WixColumnConverter *conv, json_object *value, bool *isnull)
{
	json_type	type = json_object_get_type(value);
	const char *text;
	ErrorContextCallback errcallback;
	ConversionContext context;
	Datum		result;

	*isnull = false;
	if (value == NULL || type == json_type_null)
	{
		*isnull = true;
		return (Datum) 0;
	}

	if (conv->typid == JSONBOID &&
		(type == json_type_object || type == json_type_array))
	{
		JsonbParseState *state = NULL;

		return JsonbPGetDatum(JsonbValueToJsonb(push_jsonb(&state, value, WJB_ELEM)));
	}
	if (conv->typid == JSONBOID || conv->typid == JSONOID)
		text = json_object_to_json_string_ext(value, JSON_C_TO_STRING_PLAIN);
	else if (type == json_type_string)
		text = json_object_get_string(value);
	else if (conv->category == TYPCATEGORY_STRING)
		text = json_object_to_json_string_ext(value, JSON_C_TO_STRING_PLAIN);
	else if ((type == json_type_object || type == json_type_array) ||
			 (type == json_type_boolean) != (conv->typid == BOOLOID))
	{
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
				 errmsg("cannot convert Wix field \"%s\" to type %s for column \"%s\"",
						conv->path, format_type_be(conv->typid), conv->column_name),
				 errdetail("The value is %s.",
						   value_for_message(json_object_to_json_string_ext(value, JSON_C_TO_STRING_PLAIN)))));
		text = NULL;			/* keep compiler quiet */
	}
	else
		text = json_object_get_string(value);	/* number or boolean */

	if (conv->typid == TEXTOID)
		return PointerGetDatum(cstring_to_text(text));

	context.conv = conv;
	context.value = text;
	errcallback.callback = conversion_error_callback;
	errcallback.arg = &context;
	errcallback.previous = error_context_stack;
	error_context_stack = &errcallback;
	result = InputFunctionCall(&conv->input, (char *) text,
							   conv->typioparam, conv->typmod);
	error_context_stack = errcallback.previous;
	return result;
}
