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
#include "wix_fdw.h"

#include "catalog/pg_type.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"

/* What a conversion error's context line names. */
typedef struct ConversionContext
{
	WixColumnConverter *conv;
	const char *value;
} ConversionContext;

/*
 * wix_converter_init
 *		Prepare to convert one column's values.  The path "$" is the whole
 *		object; any other path is split at its dots.  "a|b" reads b where a
 *		is absent (a field Wix has in two places).
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

	if (strchr(path, '|') != NULL)
	{
		const char *bar = strchr(path, '|');

		conv->fallback = palloc(sizeof(WixColumnConverter));
		wix_converter_init(conv->fallback, column_name, bar + 1, typid, typmod);
		path = pnstrdup(path, bar - path);
	}
	if (strcmp(path, "$") != 0)
	{
		char	   *copy = pstrdup(path);
		char	   *segment;
		char	   *saveptr;
		int			max = 1;

		for (const char *c = path; *c; c++)
			max += (*c == '.');
		conv->segments = palloc(sizeof(char *) * max);
		conv->segment_lengths = palloc(sizeof(int) * max);
		for (segment = strtok_r(copy, ".", &saveptr); segment != NULL;
			 segment = strtok_r(NULL, ".", &saveptr))
		{
			conv->segment_lengths[conv->nsegments] = strlen(segment);
			conv->segments[conv->nsegments++] = segment;
		}
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

/*
 * wix_converter_json_get
 *		The column's value in obj, or in its fallback path; NULL when absent.
 */
json_object *
wix_converter_json_get(const WixColumnConverter *conv, json_object *obj)
{
	json_object *value = wix_json_path_get(obj, conv->segments, conv->nsegments);

	if (value == NULL && conv->fallback != NULL)
		return wix_converter_json_get(conv->fallback, obj);
	return value;
}

static bool jsonb_path_get(JsonbContainer *container,
						   const WixColumnConverter *conv, JsonbValue *result);

/*
 * wix_jsonb_path_get
 *		Follow the column's dotted path (or its fallback) into a jsonb
 *		object, as wix_converter_json_get does into a json-c object; the
 *		path "$" is the whole object.  False when absent or null (json-c
 *		does not tell them apart, so a null reads the fallback too).
 */
bool
wix_jsonb_path_get(Jsonb *jsonb, const WixColumnConverter *conv,
				   JsonbValue *result)
{
	if (conv->nsegments == 0)
	{
		result->type = jbvBinary;
		result->val.binary.data = &jsonb->root;
		result->val.binary.len = VARSIZE(jsonb) - VARHDRSZ;
		return true;
	}
	for (; conv != NULL; conv = conv->fallback)
	{
		if (jsonb_path_get(&jsonb->root, conv, result) && result->type != jbvNull)
			return true;
	}
	return false;
}

/* Follow one dotted path into a jsonb container. */
static bool
jsonb_path_get(JsonbContainer *container, const WixColumnConverter *conv,
			   JsonbValue *result)
{
	for (int i = 0; i < conv->nsegments; i++)
	{
		if (i > 0)
		{
			if (result->type != jbvBinary)
				return false;
			container = result->val.binary.data;
		}
		if (JsonContainerIsObject(container))
		{
			if (getKeyJsonValueFromContainer(container, conv->segments[i],
											 conv->segment_lengths[i],
											 result) == NULL)
				return false;
		}
		else if (JsonContainerIsArray(container) && !JsonContainerIsScalar(container))
		{
			char	   *end;
			long		index = strtol(conv->segments[i], &end, 10);
			JsonbValue *element;

			if (*end != '\0' || end == conv->segments[i] || index < 0 ||
				index > PG_UINT32_MAX ||
				(element = getIthJsonbValueFromContainer(container, (uint32) index)) == NULL)
				return false;
			*result = *element;
		}
		else
			return false;
	}
	return true;
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
 * epoch_ms_timestamp
 *		Epoch milliseconds (a JSON number, or an int64 in a string), the form
 *		of Coupons dates: true with the timestamp, false for any other text.
 */
static bool
epoch_ms_timestamp(const char *text, TimestampTz *result)
{
	const char *digits = text[0] == '-' ? text + 1 : text;
	size_t		n = strspn(digits, "0123456789");
	int64		ms;

	/* up to 15 digits: no overflow, years far beyond any date Wix sends */
	if (n == 0 || n > 15 || digits[n] != '\0')
		return false;
	ms = strtoll(text, NULL, 10);
	*result = (ms - (int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY * 1000) * 1000;
	return IS_VALID_TIMESTAMP(*result);
}

/* The column's input function on a value's text, naming both on error. */
static Datum
convert_text(WixColumnConverter *conv, const char *text)
{
	ErrorContextCallback errcallback;
	ConversionContext context;
	Datum		result;
	TimestampTz timestamp;

	if (conv->typid == TIMESTAMPTZOID && epoch_ms_timestamp(text, &timestamp))
		return TimestampTzGetDatum(timestamp);

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

/* Two digits at s, or -1. */
static inline int
two_digits(const char *s)
{
	if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9')
		return -1;
	return (s[0] - '0') * 10 + (s[1] - '0');
}

/*
 * iso_utc_timestamp
 *		A fast path for the form Wix writes dates in,
 *		"2024-05-01T10:20:30.123Z" (up to six fraction digits): true with the
 *		timestamp timestamptz_in would give, false for any other form (then
 *		timestamptz_in decides).
 */
static bool
iso_utc_timestamp(const char *s, int len, TimestampTz *result)
{
	int			century;
	int			year;
	int			month;
	int			day;
	int			hour;
	int			minute;
	int			second;
	int64		fraction = 0;
	int			digits = 0;

	if (len < 20 || len > 27 || s[4] != '-' || s[7] != '-' || s[10] != 'T' ||
		s[13] != ':' || s[16] != ':' || s[len - 1] != 'Z')
		return false;
	century = two_digits(s);
	year = two_digits(s + 2);
	month = two_digits(s + 5);
	day = two_digits(s + 8);
	hour = two_digits(s + 11);
	minute = two_digits(s + 14);
	second = two_digits(s + 17);
	if (century < 0 || year < 0 || month < 1 || month > 12 || day < 1 ||
		hour < 0 || hour > 23 || minute < 0 || minute > 59 ||
		second < 0 || second > 59)
		return false;
	year += century * 100;
	if (year < 1 || day > day_tab[isleap(year)][month - 1])
		return false;
	if (len > 20)
	{
		if (s[19] != '.' || len == 21)
			return false;
		for (int i = 20; i < len - 1; i++, digits++)
		{
			if (s[i] < '0' || s[i] > '9')
				return false;
			fraction = fraction * 10 + (s[i] - '0');
		}
		for (; digits < 6; digits++)
			fraction *= 10;
	}
	*result = (((int64) (date2j(year, month, day) - POSTGRES_EPOCH_JDATE) * SECS_PER_DAY +
				hour * SECS_PER_HOUR + minute * SECS_PER_MINUTE + second) * USECS_PER_SEC) +
		fraction;
	return IS_VALID_TIMESTAMP(*result);
}

/* A JSON string's value (len bytes, not terminated) for the column. */
static Datum
convert_string(WixColumnConverter *conv, const char *value, int len)
{
	TimestampTz timestamp;

	/* json-c strings end at an escaped NUL */
	len = strnlen(value, len);
	if (conv->typid == TEXTOID)
		return PointerGetDatum(cstring_to_text_with_len(value, len));
	if (conv->typid == TIMESTAMPTZOID && conv->typmod < 0 &&
		iso_utc_timestamp(value, len, &timestamp))
		return TimestampTzGetDatum(timestamp);
	return convert_text(conv, pnstrdup(value, len));
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
		return convert_string(conv, json_object_get_string(value),
							  json_object_get_string_len(value));
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
	return convert_text(conv, text);
}

/*
 * wix_convert_jsonb_value
 *		Convert a value found in an item's jsonb (the whole-item column,
 *		already built) when that gives exactly what wix_convert_value gives
 *		for the same JSON value: jsonb values, strings, and numbers and
 *		booleans into types that are not text.  False otherwise (a number,
 *		boolean, object or array for a text or json column, spelled by json-c,
 *		or a value that does not convert and whose error wix_convert_value
 *		reports).
 */
bool
wix_convert_jsonb_value(WixColumnConverter *conv, JsonbValue *value,
						Datum *result, bool *isnull)
{
	*isnull = false;
	if (value->type == jbvNull)
	{
		*isnull = true;
		return true;
	}
	if (conv->typid == JSONBOID)
	{
		/* a container is copied as it is; a scalar becomes a scalar jsonb */
		*result = JsonbPGetDatum(JsonbValueToJsonb(value));
		return true;
	}
	if (conv->typid == JSONOID)
		return false;
	switch (value->type)
	{
		case jbvString:
			*result = convert_string(conv, value->val.string.val, value->val.string.len);
			return true;
		case jbvNumeric:
			if (conv->category == TYPCATEGORY_STRING || conv->typid == BOOLOID)
				return false;
			if (conv->typid == NUMERICOID && conv->typmod < 0)
				*result = PointerGetDatum(DatumGetNumericCopy(NumericGetDatum(value->val.numeric)));
			else
				*result = convert_text(conv,
									   DatumGetCString(DirectFunctionCall1(numeric_out,
																		   NumericGetDatum(value->val.numeric))));
			return true;
		case jbvBool:
			if (conv->typid != BOOLOID)
				return false;
			*result = BoolGetDatum(value->val.boolean);
			return true;
		default:
			return false;
	}
}
