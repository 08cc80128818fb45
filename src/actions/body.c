/*-------------------------------------------------------------------------
 *
 * body.c
 *		  Building the JSON bodies the admin actions send and reading Wix's
 *		  answers: members set along dotted paths, the entity of an answer,
 *		  deletes' results, and money amounts as numeric.
 *
 * Objects built here are owned by their parent; the top-level body is held
 * by the call's memory context (wix_held), so an error leaks nothing.
 *
 *-------------------------------------------------------------------------
 */
#include "wix_actions.h"

#include "utils/numeric.h"

void
wix_jset(json_object *obj, const char *key, json_object *value)
{
	json_object_object_add(obj, key, value);
}

void
wix_jset_string(json_object *obj, const char *key, const char *value)
{
	json_object_object_add(obj, key, json_object_new_string(value));
}

/* A child object of obj, created when missing. */
json_object *
wix_jchild(json_object *obj, const char *key)
{
	json_object *child = wix_json_get_type(obj, key, json_type_object);

	if (child == NULL)
	{
		child = json_object_new_object();
		json_object_object_add(obj, key, child);
	}
	return child;
}

/* Set the member at a dotted path ("member.contact.firstName"). */
void
wix_jset_path(json_object *obj, const char *dotted_path, json_object *value)
{
	char	   *path = pstrdup(dotted_path);
	char	   *key = path;
	char	   *dot;

	while ((dot = strchr(key, '.')) != NULL)
	{
		*dot = '\0';
		obj = wix_jchild(obj, key);
		key = dot + 1;
	}
	wix_jset(obj, key, value);
	pfree(path);
}

/*
 * wix_entity
 *		The member `key` of a Wix answer: the entity.  A 200 answer without
 *		it is a malformed answer.
 */
json_object *
wix_entity(json_object *answer, const char *key, const char *method,
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

/* Deletes answer {}: return the id and "deleted": true with it. */
json_object *
wix_deleted(WixActionCall *call, json_object *answer, const char *id)
{
	json_object *result = wix_held(call, json_object_new_object());

	json_object_object_foreach(answer, key, value)
		wix_jset(result, key, json_object_get(value));
	wix_jset_string(result, "id", id);
	wix_jset(result, "deleted", json_object_new_boolean(true));
	return result;
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

Datum
wix_numeric_from_cstring(const char *s)
{
	return DirectFunctionCall3(numeric_in, CStringGetDatum(s),
							   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
}

/* A JSON number or decimal string as its decimal text, or NULL. */
const char *
wix_decimal_text(json_object *value)
{
	const char *text;

	if (!json_object_is_type(value, json_type_string) &&
		!json_object_is_type(value, json_type_int) &&
		!json_object_is_type(value, json_type_double))
		return NULL;
	text = json_object_get_string(value);
	return is_decimal_string(text) ? text : NULL;
}

/*
 * wix_money_at
 *		A money amount of a Wix answer as numeric: a decimal string, a Price
 *		{"amount": "25.00"} or a JSON number.  *found is false when absent.
 */
Datum
wix_money_at(json_object *obj, const char *key, bool *found)
{
	json_object *value = wix_json_get(obj, key);
	const char *text;

	*found = false;
	if (value != NULL && json_object_is_type(value, json_type_object))
		value = wix_json_get(value, "amount");
	if (value == NULL)
		return (Datum) 0;
	text = wix_decimal_text(value);
	if (text == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
				 errmsg("Wix sent an invalid amount in \"%s\"", key),
				 errdetail("Value: %s.", json_object_to_json_string(value))));
	*found = true;
	return wix_numeric_from_cstring(text);
}

int
wix_numeric_compare(Datum a, Datum b)
{
	return DatumGetInt32(DirectFunctionCall2(numeric_cmp, a, b));
}

char *
wix_numeric_text(Datum num)
{
	return DatumGetCString(DirectFunctionCall1(numeric_out, num));
}

/* An amount object {"amount": "<decimal>"} as Order Billing takes it. */
json_object *
wix_amount_object(Datum num)
{
	json_object *obj = json_object_new_object();

	wix_jset_string(obj, "amount", wix_numeric_text(num));
	return obj;
}
