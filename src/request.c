/*-------------------------------------------------------------------------
 *
 * request.c
 *		  Query requests and their pages: builds each page's request body
 *		  from the endpoint's catalog entry (cursor or offset paging, keyset
 *		  past an offset ceiling, filters and sorts as JSON or as JSON
 *		  strings), reads the items and the paging metadata of each answer.
 *		  Also owns parsing of Wix JSON and its lifetime in memory contexts.
 *
 *-------------------------------------------------------------------------
 */
#include "wix_admin.h"

#include <ctype.h>
#include <limits.h>

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

	tok = json_tokener_new();
	if (tok == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	obj = json_tokener_parse_ex(tok, data, (int) len);
	err = json_tokener_get_error(tok);
	consumed = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);

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

/* Parse one of the catalog's constant JSON fragments. */
static json_object *
constant_json(const char *text)
{
	json_object *obj = json_tokener_parse(text);

	if (obj == NULL)
		elog(ERROR, "wix_admin: invalid JSON constant in the resource catalog: %s", text);
	return obj;
}

void
wix_pager_init(WixPager *pager, const WixEndpoint *endpoint, int page_size)
{
	memset(pager, 0, sizeof(*pager));
	pager->endpoint = endpoint;
	pager->page_size = Min(Max(page_size, 1), endpoint->max_page_size);
	pager->total = -1;
	pager->ready = true;
}

/*
 * wix_pager_can_issue
 *		May another page be requested now, before the pages in flight are
 *		read?  Cursor and keyset paging need the previous answer first; offset
 *		paging may run ahead once the total is known, up to the total and
 *		short of the offset ceiling.
 */
bool
wix_pager_can_issue(WixPager *pager)
{
	const WixEndpoint *endpoint = pager->endpoint;

	if (pager->finished)
		return false;
	/* past the page cap, wix_pager_next_body raises the error */
	if (pager->pages + pager->inflight >= wix_max_pages)
		return pager->inflight == 0;
	if (endpoint->paging == WIX_PAGING_CURSOR || pager->keyset_after != NULL)
		return pager->inflight == 0 && pager->ready;
	if (pager->total < 0)
		return pager->inflight == 0;
	if (pager->next_offset >= pager->total)
		return false;
	return endpoint->max_offset == 0 ||
		pager->next_offset + pager->page_size <= endpoint->max_offset;
}

/* The filter of the next page: base filter AND user filter AND keyset. */
static json_object *
page_filter(WixPager *pager)
{
	const WixEndpoint *endpoint = pager->endpoint;
	json_object *parts = json_object_new_array();
	json_object *filter;

	if (endpoint->base_filter != NULL)
		json_object_array_add(parts, constant_json(endpoint->base_filter));
	if (pager->filter != NULL)
	{
		json_object *conjuncts;

		/* splice a pushed AND into ours rather than nest it */
		if (json_object_object_length(pager->filter) == 1 &&
			json_object_object_get_ex(pager->filter, "$and", &conjuncts) &&
			json_object_is_type(conjuncts, json_type_array))
		{
			for (size_t i = 0; i < json_object_array_length(conjuncts); i++)
				json_object_array_add(parts,
									  json_object_get(json_object_array_get_idx(conjuncts, i)));
		}
		else
			json_object_array_add(parts, json_object_get(pager->filter));
	}
	if (pager->keyset_after != NULL)
	{
		json_object *gt = json_object_new_object();
		json_object *cond = json_object_new_object();

		json_object_object_add(gt, "$gt",
							   json_object_new_int64(strtoll(pager->keyset_after, NULL, 10)));
		json_object_object_add(cond, endpoint->keyset_field, gt);
		json_object_array_add(parts, cond);
	}

	switch (json_object_array_length(parts))
	{
		case 0:
			filter = NULL;
			break;
		case 1:
			filter = json_object_get(json_object_array_get_idx(parts, 0));
			break;
		default:
			filter = json_object_new_object();
			json_object_object_add(filter, "$and", json_object_get(parts));
			break;
	}
	json_object_put(parts);
	return filter;
}

/* Add filter or sort to the envelope, as JSON or as a JSON string. */
static void
add_query_part(json_object *envelope, const char *key, json_object *value,
			   bool as_string)
{
	if (value == NULL)
		return;
	if (as_string)
	{
		json_object *text = json_object_new_string(
												   json_object_to_json_string_ext(value, JSON_C_TO_STRING_PLAIN));

		json_object_put(value);
		value = text;
	}
	json_object_object_add(envelope, key, value);
}

/*
 * wix_pager_next_body
 *		The request body for the next page, held by CurrentMemoryContext, or
 *		NULL when the last page has been read.  Follow-up pages of cursor
 *		endpoints send only {limit, cursor}: the cursor carries filter and
 *		sort.
 */
json_object *
wix_pager_next_body(WixPager *pager)
{
	const WixEndpoint *endpoint = pager->endpoint;
	json_object *body;
	json_object *envelope;
	json_object *paging;

	if (pager->finished)
		return NULL;
	if (pager->pages >= wix_max_pages)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("Wix API paging for %s did not end after %d pages",
						endpoint->query_path, pager->pages),
				 errhint("wix_admin.max_pages sets the limit.")));
	envelope = json_object_new_object();
	paging = json_object_new_object();

	body = endpoint->extra_body ? constant_json(endpoint->extra_body) :
		json_object_new_object();
	json_object_object_add(paging, "limit", json_object_new_int(pager->page_size));

	if (endpoint->paging == WIX_PAGING_CURSOR && pager->cursor != NULL)
	{
		json_object_object_add(paging, "cursor", json_object_new_string(pager->cursor));
		json_object_object_add(envelope, "cursorPaging", paging);
	}
	else
	{
		add_query_part(envelope, "filter", page_filter(pager),
					   endpoint->query_as_strings);
		add_query_part(envelope, endpoint->sort_key,
					   pager->sort ? json_object_get(pager->sort) :
					   endpoint->default_sort ? constant_json(endpoint->default_sort) : NULL,
					   endpoint->query_as_strings);
		if (endpoint->paging == WIX_PAGING_OFFSET)
		{
			json_object_object_add(paging, "offset",
								   json_object_new_int(pager->keyset_after ? 0 : pager->next_offset));
			json_object_object_add(envelope, "paging", paging);
			if (pager->keyset_after == NULL)
				pager->next_offset += pager->page_size;
		}
		else
			json_object_object_add(envelope, "cursorPaging", paging);
	}
	json_object_object_add(body, endpoint->envelope, envelope);
	pager->started = true;
	pager->ready = false;
	pager->inflight++;
	(void) wix_json_hold(CurrentMemoryContext, body);
	return body;
}

/* A member of an object, if it has the wanted type. */
static json_object *
member_of_type(json_object *obj, const char *key, json_type type)
{
	json_object *value;

	if (obj != NULL && json_object_is_type(obj, json_type_object) &&
		json_object_object_get_ex(obj, key, &value) &&
		json_object_is_type(value, type))
		return value;
	return NULL;
}

/*
 * apply_cursor_metadata
 *		Take the next cursor from a cursor endpoint's paging metadata, or
 *		note the last page.
 */
static void
apply_cursor_metadata(WixPager *pager, json_object *metadata)
{
	const WixEndpoint *endpoint = pager->endpoint;
	json_object *has_next = metadata ?
		member_of_type(metadata, "hasNext", json_type_boolean) : NULL;
	json_object *next = member_of_type(member_of_type(metadata, "cursors",
													  json_type_object),
									   "next", json_type_string);
	const char *cursor = next ? json_object_get_string(next) : NULL;

	if (has_next != NULL && !json_object_get_boolean(has_next))
		pager->finished = true;
	else if (cursor == NULL || cursor[0] == '\0')
	{
		/* more pages announced, but no way to ask for them */
		if (has_next != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("Wix API response to %s says more pages follow but has no cursor",
							endpoint->query_path)));
		pager->finished = true;
	}
	else
	{
		if (pager->cursor != NULL && strcmp(pager->cursor, cursor) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("Wix API returned the same cursor twice for %s",
							endpoint->query_path),
					 errdetail("Paging would never end.")));
		if (pager->cursor != NULL)
			pfree(pager->cursor);
		pager->cursor = pstrdup(cursor);
		pager->ready = true;
	}
}

/*
 * top_level_value
 *		Where the value of a top-level key of a JSON object text starts, found
 *		without parsing the rest (strings and nesting are skipped); NULL when
 *		the key is not there.
 */
static const char *
top_level_value(const char *text, size_t len, const char *key)
{
	size_t		keylen = strlen(key);
	int			depth = 0;

	for (size_t i = 0; i < len; i++)
	{
		char		c = text[i];

		if (c == '"')
		{
			size_t		start = ++i;

			while (i < len && text[i] != '"')
				i += (text[i] == '\\') ? 2 : 1;
			if (i >= len)
				return NULL;
			if (depth == 1 && i - start == keylen &&
				memcmp(text + start, key, keylen) == 0)
			{
				size_t		j = i + 1;

				while (j < len && isspace((unsigned char) text[j]))
					j++;
				if (j < len && text[j] == ':')
				{
					for (j++; j < len && isspace((unsigned char) text[j]); j++)
						;
					return j < len ? text + j : NULL;
				}
			}
		}
		else if (c == '{' || c == '[')
			depth++;
		else if (c == '}' || c == ']')
			depth--;
	}
	return NULL;
}

/*
 * balanced_object
 *		Is the text one JSON object as far as brackets and strings go, with
 *		nothing after it?  A cheap check for answers that are not parsed.
 */
static bool
balanced_object(const char *text, size_t len)
{
	int			depth = 0;
	size_t		i = 0;

	while (i < len && isspace((unsigned char) text[i]))
		i++;
	if (i >= len || text[i] != '{')
		return false;
	for (; i < len; i++)
	{
		char		c = text[i];

		if (c == '"')
		{
			for (i++; i < len && text[i] != '"'; i += (text[i] == '\\') ? 2 : 1)
				;
			if (i >= len)
				return false;
		}
		else if (c == '{' || c == '[')
			depth++;
		else if (c == '}' || c == ']')
		{
			if (--depth < 0)
				return false;
			if (depth == 0)
			{
				for (i++; i < len && isspace((unsigned char) text[i]); i++)
					;
				return i == len;
			}
		}
	}
	return false;
}

/*
 * wix_count_items
 *		How many objects the top-level items array of a raw answer holds,
 *		counted without parsing them: 0 when the array is absent, -1 when the
 *		answer is not that simple (then it must be parsed).
 */
int
wix_count_items(const char *body, size_t len, const char *items_key)
{
	const char *value = top_level_value(body, len, items_key);
	const char *end = body + len;
	int			depth = 0;
	int			count = 0;

	if (!balanced_object(body, len))
		return -1;
	if (value == NULL)
		return 0;				/* Wix omits empty arrays */
	if (*value != '[')
		return -1;
	for (const char *p = value; p < end; p++)
	{
		char		c = *p;

		if (c == '"')
		{
			for (p++; p < end && *p != '"'; p += (*p == '\\') ? 2 : 1)
				;
			if (p >= end)
				return -1;
		}
		else if (c == '{' || c == '[')
		{
			if (depth == 1)
			{
				if (c != '{')
					return -1;
				count++;
			}
			depth++;
		}
		else if (c == '}' || c == ']')
		{
			if (--depth == 0)
				return count;
		}
		else if (depth == 1 && !isspace((unsigned char) c) && c != ',')
			return -1;			/* a scalar item */
	}
	return -1;
}

/*
 * wix_pager_peek
 *		Read the next cursor from a cursor endpoint's raw answer before the
 *		whole page is parsed, so that the next page can be requested while
 *		this one is parsed and read.  True when it did; wix_pager_take_items
 *		then skips the metadata.
 */
bool
wix_pager_peek(WixPager *pager, const char *body, size_t len)
{
	const char *value;
	json_tokener *tok;
	json_object *metadata;

	if (pager->endpoint->paging != WIX_PAGING_CURSOR || body == NULL)
		return false;
	value = top_level_value(body, len, pager->endpoint->metadata_key);
	if (value == NULL || *value != '{')
		return false;
	tok = json_tokener_new();
	if (tok == NULL)
		return false;
	metadata = json_tokener_parse_ex(tok, value, (int) (len - (value - body)));
	json_tokener_free(tok);
	if (metadata == NULL || !json_object_is_type(metadata, json_type_object))
	{
		json_object_put(metadata);
		return false;
	}
	PG_TRY();
	{
		apply_cursor_metadata(pager, metadata);
	}
	PG_FINALLY();
	{
		json_object_put(metadata);
	}
	PG_END_TRY();
	pager->peeked = true;
	pager->pages++;
	if (pager->inflight > 0)
		pager->inflight--;
	return true;
}

/*
 * wix_pager_take_items
 *		Read one page's answer: return its items array (owned by the
 *		response; NULL when the page is empty) and work out the next page.
 */
json_object *
wix_pager_take_items(WixPager *pager, json_object *response)
{
	const WixEndpoint *endpoint = pager->endpoint;
	json_object *items;
	json_object *metadata;
	size_t		nitems = 0;

	if (json_object_object_get_ex(response, endpoint->items_key, &items) &&
		!json_object_is_type(items, json_type_null))
	{
		if (!json_object_is_type(items, json_type_array))
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("Wix API response to %s has a non-array \"%s\"",
							endpoint->query_path, endpoint->items_key)));
		nitems = json_object_array_length(items);
	}
	else
		items = NULL;			/* Wix omits empty arrays */

	/* a peeked page was counted when its metadata was read */
	if (!pager->peeked)
	{
		pager->pages++;
		if (pager->inflight > 0)
			pager->inflight--;
	}
	metadata = member_of_type(response, endpoint->metadata_key, json_type_object);

	if (endpoint->paging == WIX_PAGING_CURSOR)
	{
		/* wix_pager_peek may have read the same metadata already */
		if (pager->peeked)
			pager->peeked = false;
		else
			apply_cursor_metadata(pager, metadata);
	}
	else
	{
		json_object *total = member_of_type(metadata, "total", json_type_int);

		if (total == NULL)
			total = member_of_type(response, "totalResults", json_type_int);
		if (total != NULL && pager->keyset_after == NULL)
			pager->total = json_object_get_int64(total);

		if (nitems < (size_t) pager->page_size ||
			(pager->total >= 0 && pager->keyset_after == NULL &&
			 pager->offset + (int64) nitems >= pager->total))
			pager->finished = true;
		else
		{
			if (pager->keyset_after == NULL)
				pager->offset += (int) nitems;
			if (pager->keyset_after != NULL ||
				(endpoint->max_offset > 0 &&
				 pager->offset + pager->page_size > endpoint->max_offset))
			{
				/* past the offset ceiling: continue after the last key seen */
				json_object *last = json_object_array_get_idx(items, nitems - 1);
				json_object *key;

				if (!json_object_object_get_ex(last, endpoint->keyset_field, &key) ||
					json_object_is_type(key, json_type_null))
					ereport(ERROR,
							(errcode(ERRCODE_FDW_ERROR),
							 errmsg("Wix API item has no \"%s\" to page by",
									endpoint->keyset_field)));
				if (pager->keyset_after != NULL)
					pfree(pager->keyset_after);
				pager->keyset_after = pstrdup(json_object_get_string(key));
				pager->ready = true;
			}
		}
	}
	return nitems > 0 ? items : NULL;
}
