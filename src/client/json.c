/*-------------------------------------------------------------------------
 *
 * json.c
 *		  Wix JSON as every part of wix_admin reads it: parsing a response
 *		  body (malformed, truncated and non-object bodies are errors), json-c
 *		  objects owned by a memory context so that an ereport(ERROR) longjmp
 *		  leaks nothing, typed member look-ups, string scanning of raw bodies,
 *		  and timestamps written as Wix writes them.
 *
 *-------------------------------------------------------------------------
 */
#include "wix_json.h"

#include <errno.h>
#include <limits.h>

#include "pgtime.h"
#include "utils/datetime.h"
#include "utils/memutils.h"

/* Memory-context callback: free a held json-c object. */
static void
release_json(void *arg)
{
	WixJsonHolder *holder = arg;

	if (holder->obj != NULL)
		json_object_put(holder->obj);
	holder->obj = NULL;
}

/*
 * wix_json_hold
 *		Tie a json-c object (malloc'd) to a memory context: it is freed when
 *		the context is reset or deleted, or earlier by wix_json_release.
 */
WixJsonHolder *
wix_json_hold(MemoryContext cxt, json_object *obj)
{
	WixJsonHolder *holder = MemoryContextAllocZero(cxt, sizeof(WixJsonHolder));

	holder->obj = obj;
	holder->callback.func = release_json;
	holder->callback.arg = holder;
	MemoryContextRegisterResetCallback(cxt, &holder->callback);
	return holder;
}

void
wix_json_release(WixJsonHolder *holder)
{
	release_json(holder);
}

/*
 * The backend's JSON tokener, reset for a new text: one allocation for the
 * life of the backend rather than one per answer.
 */
static json_tokener *
backend_tokener(void)
{
	static json_tokener *tokener = NULL;

	if (tokener == NULL)
	{
		tokener = json_tokener_new();
		if (tokener == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_OUT_OF_MEMORY),
					 errmsg("out of memory")));
	}
	json_tokener_reset(tokener);
	return tokener;
}

/*
 * wix_json_parse
 *		Parse a whole response body as one JSON object.  Malformed, truncated,
 *		empty or non-object bodies are errors; nothing is leaked.
 */
json_object *
wix_json_parse(const char *data, size_t len, const char *what)
{
	json_tokener *tok;
	json_object *obj;
	enum json_tokener_error err;
	size_t		consumed;

	if (data == NULL || len == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("empty Wix API response to %s", what)));
	if (len > INT_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("Wix API response to %s is too large", what)));

	tok = backend_tokener();
	obj = json_tokener_parse_ex(tok, data, (int) len);
	err = json_tokener_get_error(tok);
	consumed = json_tokener_get_parse_end(tok);
	json_tokener_reset(tok);

	while (err == json_tokener_success && consumed < len &&
		   (data[consumed] == ' ' || data[consumed] == '\n' ||
			data[consumed] == '\r' || data[consumed] == '\t'))
		consumed++;

	if (err != json_tokener_success || consumed != len ||
		!json_object_is_type(obj, json_type_object))
	{
		bool		truncated = (err == json_tokener_continue);
		bool		not_object = (err == json_tokener_success && consumed == len);

		json_object_put(obj);
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 truncated ?
				 errmsg("truncated JSON in Wix API response to %s", what) :
				 not_object ?
				 errmsg("Wix API response to %s is not a JSON object", what) :
				 errmsg("invalid JSON in Wix API response to %s", what),
				 errdetail("%zu bytes received; %s.", len,
						   truncated ? "the body ends in the middle of a value" :
						   not_object ? "expected an object" :
						   err != json_tokener_success ? json_tokener_error_desc(err) :
						   "unexpected data after the JSON value")));
	}
	return obj;
}

/*
 * wix_json_parse_fragment
 *		The JSON value that starts at text, parsed to its end; NULL if it is
 *		not one.
 */
json_object *
wix_json_parse_fragment(const char *text, const char *end)
{
	json_tokener *tok = backend_tokener();
	json_object *obj;

	obj = json_tokener_parse_ex(tok, text, (int) Min(end - text, INT_MAX));
	if (json_tokener_get_error(tok) != json_tokener_success)
	{
		json_object_put(obj);
		obj = NULL;
	}
	json_tokener_reset(tok);
	return obj;
}

/*
 * wix_json_string_end
 *		The position after the JSON string whose opening quote is at p, or
 *		NULL when it does not end.  A quote preceded by an odd run of
 *		backslashes is escaped.
 */
const char *
wix_json_string_end(const char *p, const char *end)
{
	for (p++;;)
	{
		const char *quote = memchr(p, '"', end - p);
		const char *run;

		if (quote == NULL)
			return NULL;
		for (run = quote; run > p && run[-1] == '\\'; run--)
			;
		if (((quote - run) & 1) == 0)
			return quote + 1;
		p = quote + 1;
	}
}

/*
 * wix_json_get
 *		The member key of obj, or NULL when obj is no object or the member is
 *		absent or null.
 */
json_object *
wix_json_get(json_object *obj, const char *key)
{
	json_object *value;

	if (obj != NULL && json_object_is_type(obj, json_type_object) &&
		json_object_object_get_ex(obj, key, &value) &&
		!json_object_is_type(value, json_type_null))
		return value;
	return NULL;
}

/* The member key of obj when it has the given type, else NULL. */
json_object *
wix_json_get_type(json_object *obj, const char *key, json_type type)
{
	json_object *value = wix_json_get(obj, key);

	return value != NULL && json_object_is_type(value, type) ? value : NULL;
}

/* The string member key of obj, or NULL. */
const char *
wix_json_get_string(json_object *obj, const char *key)
{
	json_object *value = wix_json_get_type(obj, key, json_type_string);

	return value != NULL ? json_object_get_string(value) : NULL;
}

/* An integer member; JSON numbers and int64 strings alike. */
bool
wix_json_get_int64(json_object *obj, const char *key, int64 *result)
{
	json_object *value = wix_json_get(obj, key);

	if (value == NULL)
		return false;
	if (json_object_is_type(value, json_type_int))
	{
		*result = json_object_get_int64(value);
		return true;
	}
	if (json_object_is_type(value, json_type_string))
	{
		const char *text = json_object_get_string(value);
		char	   *end;

		errno = 0;
		*result = strtoll(text, &end, 10);
		return text[0] != '\0' && *end == '\0' && errno == 0;
	}
	return false;
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
