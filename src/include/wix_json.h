/*-------------------------------------------------------------------------
 *
 * wix_json.h
 *		  Wix JSON (client/json.c): parsing response bodies, json-c objects
 *		  owned by memory contexts, typed member look-ups, and timestamps as
 *		  Wix writes them.  Every other wix_admin header builds on this one.
 *
 *-------------------------------------------------------------------------
 */
#ifndef WIX_JSON_H
#define WIX_JSON_H

#include "postgres.h"

/*
 * PostgreSQL's SQL function json_object() and json-c's type json_object
 * share a name: hide the function's prototype before json-c is included.
 */
#define json_object pg_sql_json_object
#include "utils/builtins.h"
#undef json_object

#include <json-c/json.h>

#include "utils/timestamp.h"

/*
 * json-c objects owned by a memory context: released when the context is
 * reset or deleted, so an ereport(ERROR) longjmp leaks nothing.
 */
typedef struct WixJsonHolder
{
	json_object *obj;			/* NULL once released */
	MemoryContextCallback callback;
} WixJsonHolder;

extern WixJsonHolder *wix_json_hold(MemoryContext cxt, json_object *obj);
extern void wix_json_release(WixJsonHolder *holder);
extern json_object *wix_json_parse(const char *data, size_t len,
								   const char *what);
extern json_object *wix_json_parse_fragment(const char *text, const char *end);

/* Members of an object; absent, null or of another type: NULL / false. */
extern json_object *wix_json_get(json_object *obj, const char *key);
extern json_object *wix_json_get_type(json_object *obj, const char *key,
									  json_type type);
extern const char *wix_json_get_string(json_object *obj, const char *key);
extern bool wix_json_get_int64(json_object *obj, const char *key,
							   int64 *result);

extern const char *wix_json_string_end(const char *p, const char *end);
extern char *wix_iso_utc(TimestampTz ts, bool microseconds);

#endif							/* WIX_JSON_H */
