/*-------------------------------------------------------------------------
 *
 * pager.c
 *		  Requests and their pages: builds each page's request body from the
 *		  endpoint's catalog entry (cursor or offset paging, keyset past an
 *		  offset ceiling, filters and sorts as JSON or as JSON strings, no
 *		  paging, batches of parent ids, or a GET's query string), fills
 *		  path parameters, and reads the items and the paging metadata of
 *		  each answer.
 *
 *-------------------------------------------------------------------------
 */
#include "wix_fdw.h"

#include "wix_http.h"

#include <ctype.h>
#include <limits.h>

#include "utils/memutils.h"

/* Parse one of the catalog's constant JSON fragments. */
static json_object *
constant_json(const char *text)
{
	json_object *obj = wix_json_parse_fragment(text, text + strlen(text));

	if (obj == NULL)
		elog(ERROR, "wix_admin: invalid JSON constant in the resource catalog: %s", text);
	return obj;
}

/*
 * wix_escape_value
 *		A value for a path or query string, percent-encoded, palloc'd.
 */
char *
wix_escape_value(const char *value)
{
	char	   *escaped = wix_http_escape_path_segment(value);
	char	   *result;

	if (escaped == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	result = pstrdup(escaped);
	free(escaped);
	return result;
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
	if (endpoint->batch != NULL)
	{
		int			left = list_length(pager->ids) - pager->next_id;

		return left >= endpoint->batch->max_ids ||
			(pager->ids_complete && left > 0);
	}
	if (endpoint->paging == WIX_PAGING_NONE)
		return !pager->started;
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

/* A batch call's body: the next ids, up to max_ids. */
static json_object *
batch_body(WixPager *pager, json_object *body)
{
	const WixBatch *batch = pager->endpoint->batch;
	json_object *ids = json_object_new_array();

	for (int n = 0; n < batch->max_ids && pager->next_id < list_length(pager->ids); n++)
		json_object_array_add(ids,
							  json_object_new_string(list_nth(pager->ids, pager->next_id++)));
	json_object_object_add(body, batch->ids_key, ids);
	return body;
}

/* The offset of the next page, which advances next_offset. */
static json_object *
next_offset_value(WixPager *pager)
{
	int			offset = pager->keyset_after ? 0 : pager->next_offset;

	if (pager->keyset_after == NULL)
		pager->next_offset += pager->page_size;
	return json_object_new_int(offset);
}

/*
 * query_string_request
 *		A GET query's parameters, as the object wix_query_string_path
 *		encodes: limit and offset at the top, then the sort as one object
 *		(Wix takes a single sorting there), the filter's parameters, then
 *		extra_body's parameters.
 */
static json_object *
query_string_request(WixPager *pager, json_object *extra)
{
	const WixEndpoint *endpoint = pager->endpoint;
	json_object *request = json_object_new_object();
	json_object *sort = pager->sort ? json_object_get(pager->sort) :
		endpoint->default_sort ? constant_json(endpoint->default_sort) : NULL;

	json_object_object_add(request, "limit", json_object_new_int(pager->page_size));
	json_object_object_add(request, "offset", next_offset_value(pager));
	if (json_object_is_type(sort, json_type_array) &&
		json_object_array_length(sort) > 0)
		json_object_object_add(request, endpoint->sort_key,
							   json_object_get(json_object_array_get_idx(sort, 0)));
	json_object_put(sort);
	if (pager->filter != NULL)
	{
		json_object_object_foreach(pager->filter, key, value)
			json_object_object_add(request, key, json_object_get(value));
	}
	{
		json_object_object_foreach(extra, key, value)
			json_object_object_add(request, key, json_object_get(value));
	}
	json_object_put(extra);
	return request;
}

/*
 * query_body
 *		A query call's body: filter, sort and paging in the envelope.
 *		Follow-up pages of cursor endpoints send only {limit, cursor}: the
 *		cursor carries filter and sort.
 */
static json_object *
query_body(WixPager *pager, json_object *body)
{
	const WixEndpoint *endpoint = pager->endpoint;
	json_object *envelope = json_object_new_object();
	json_object *paging = json_object_new_object();

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
			json_object_object_add(paging, "offset", next_offset_value(pager));
			json_object_object_add(envelope, "paging", paging);
		}
		else if (endpoint->paging == WIX_PAGING_CURSOR)
			json_object_object_add(envelope, "cursorPaging", paging);
		else
			json_object_put(paging);
	}
	json_object_object_add(body, endpoint->envelope, envelope);
	return body;
}

/*
 * wix_pager_next_body
 *		The request body for the next page, held by CurrentMemoryContext, or
 *		NULL when the last page has been read.  For an endpoint paged in the
 *		query string, the parameters to encode with wix_query_string_path.
 */
json_object *
wix_pager_next_body(WixPager *pager)
{
	const WixEndpoint *endpoint = pager->endpoint;
	json_object *body;

	if (pager->finished)
		return NULL;
	if (pager->pages >= wix_max_pages)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("Wix API paging for %s did not end after %d pages",
						endpoint->query_path, pager->pages),
				 errhint("wix_admin.max_pages sets the limit.")));
	body = endpoint->extra_body ? constant_json(endpoint->extra_body) :
		json_object_new_object();
	if (endpoint->batch != NULL)
		body = batch_body(pager, body);
	else if (wix_endpoint_in_query_string(endpoint))
		body = query_string_request(pager, body);
	else if (wix_endpoint_is_query(endpoint))
		body = query_body(pager, body);
	pager->started = true;
	pager->ready = false;
	pager->inflight++;
	(void) wix_json_hold(CurrentMemoryContext, body);
	return body;
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
		wix_json_get_type(metadata, "hasNext", json_type_boolean) : NULL;
	json_object *next = wix_json_get_type(wix_json_get_type(metadata, "cursors",
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


static inline bool
json_space(char c)
{
	return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

/* The index of the key the string at p (ending before after) is, or -1. */
static inline int
key_index_of(const char *p, const char *after, const char *const *keys,
			 int nkeys)
{
	size_t		keylen = after - p - 2;
	int			found = -1;

	for (int i = 0; i < nkeys; i++)
		if (strlen(keys[i]) == keylen && memcmp(p + 1, keys[i], keylen) == 0)
			found = i;
	return found;
}

/* An element of the items array starts at p with c: count it. */
static inline void
note_element(WixPageOutline *outline, const char *p, char c)
{
	outline->nitems++;
	outline->last_item = p;
	outline->last_item_end = NULL;
	if (c != '{')
		outline->scalar_items = true;
}

/* The items array starts: a repeated key means the last one counts. */
static inline void
open_items(WixPageOutline *outline)
{
	outline->nitems = 0;
	outline->scalar_items = false;
	outline->last_item = outline->last_item_end = NULL;
}

/* Is there nothing but white space from p to end? */
static inline bool
only_space_left(const char *p, const char *end)
{
	while (p < end && json_space(*p))
		p++;
	return p == end;
}

/*
 * scan_object
 *		One pass over a JSON object text without parsing it: true when it is
 *		one object, balanced as far as brackets and strings go, with nothing
 *		after it.  values[i] is set to where the value of the top-level key
 *		keys[i] starts (NULL when absent).  When outline is given and keys[0]
 *		holds an array, its elements are counted there, with the last one.
 */
static bool
scan_object(const char *text, size_t len, const char *const *keys, int nkeys,
			const char **values, WixPageOutline *outline)
{
	const char *p = text;
	const char *end = text + len;
	int			depth = 0;
	bool		expect_key = false; /* depth 1: the next string is a key */
	int			key_index = -1; /* depth 1: the key just read is keys[i] */
	bool		in_array = false;	/* inside the array value of keys[0] */
	bool		expect_element = false;

	for (int i = 0; i < nkeys; i++)
		values[i] = NULL;
	while (p < end && json_space(*p))
		p++;
	if (p >= end || *p != '{')
		return false;
	for (; p < end; p++)
	{
		char		c = *p;

		if (expect_element && !json_space(c))
		{
			expect_element = false;
			if (c != ']')
				note_element(outline, p, c);
		}
		switch (c)
		{
			case '"':
				{
					const char *after = wix_json_string_end(p, end);

					if (after == NULL)
						return false;
					if (depth == 1 && expect_key)
					{
						int			found = key_index_of(p, after, keys, nkeys);

						expect_key = false;
						if (found >= 0)
							key_index = found;
					}
					p = after - 1;
					break;
				}
			case ':':
				if (depth == 1 && key_index >= 0)
				{
					const char *value = p + 1;

					while (value < end && json_space(*value))
						value++;
					values[key_index] = value;
					key_index = -1;
				}
				break;
			case ',':
				if (depth == 1)
					expect_key = true;
				else if (in_array && depth == 2)
					expect_element = true;
				break;
			case '{':
			case '[':
				if (depth == 0)
					expect_key = true;
				else if (depth == 1 && outline != NULL && c == '[' &&
						 p == values[0])
				{
					open_items(outline);
					in_array = expect_element = true;
				}
				depth++;
				break;
			case '}':
			case ']':
				if (--depth < 0)
					return false;
				if (in_array && depth == 2 && c == '}')
					outline->last_item_end = p + 1;
				else if (in_array && depth == 1)
					in_array = false;
				else if (depth == 0)
					return only_space_left(p + 1, end);
				break;
		}
	}
	return false;
}

/*
 * wix_page_outline
 *		Read what paging needs from a query answer's raw body in one pass,
 *		without parsing it: where the items array and the paging metadata
 *		are, and how many items there are.  False when the body is not one
 *		JSON object (a parser then says what is wrong with it).
 */
bool
wix_page_outline(const WixEndpoint *endpoint, const char *body, size_t len,
				 WixPageOutline *outline)
{
	/* an endpoint without paging metadata: a key no answer has */
	const char *keys[3] = {endpoint->items_key,
		endpoint->metadata_key ? endpoint->metadata_key : "", "totalResults"};
	const char *values[3];

	memset(outline, 0, sizeof(*outline));
	if (body == NULL || !scan_object(body, len, keys, 3, values, outline))
		return false;
	outline->items = values[0];
	outline->metadata = values[1];
	outline->total_results = values[2];
	outline->end = body + len;
	if (outline->items != NULL && *outline->items != '[')
	{
		if (strncmp(outline->items, "null", 4) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("Wix API response to %s has a non-array \"%s\"",
							endpoint->query_path, endpoint->items_key)));
		outline->items = NULL;	/* as absent */
	}
	if (outline->items != NULL && outline->nitems > 0 &&
		outline->last_item_end == NULL && !outline->scalar_items)
		return false;			/* cannot happen in a balanced object */
	return true;
}

/*
 * advance_offset
 *		Offset paging after a page of nitems: the total, whether this was the
 *		last page, and past an offset ceiling the key to continue after.
 */
static void
advance_offset(WixPager *pager, const WixPageOutline *outline,
			   json_object *metadata)
{
	const WixEndpoint *endpoint = pager->endpoint;
	json_object *total = wix_json_get_type(metadata, "total", json_type_int);
	json_object *total_results = NULL;
	int			nitems = outline->nitems;

	if (total == NULL && outline->total_results != NULL)
		total = total_results = wix_json_parse_fragment(outline->total_results, outline->end);
	/* a total Wix gave up counting is no bound: read until a short page */
	if (json_object_is_type(total, json_type_int) && pager->keyset_after == NULL &&
		!json_object_get_boolean(wix_json_get_type(metadata, "tooManyToCount",
												   json_type_boolean)))
		pager->total = json_object_get_int64(total);
	json_object_put(total_results);

	if (nitems < pager->page_size ||
		(pager->total >= 0 && pager->keyset_after == NULL &&
		 pager->offset + (int64) nitems >= pager->total))
		pager->finished = true;
	else
	{
		if (pager->keyset_after == NULL)
			pager->offset += nitems;
		if (pager->keyset_after != NULL ||
			(endpoint->max_offset > 0 &&
			 pager->offset + pager->page_size > endpoint->max_offset))
		{
			/* past the offset ceiling: continue after the last key seen */
			const char *value = NULL;
			json_object *key = NULL;

			if (outline->last_item_end != NULL &&
				scan_object(outline->last_item,
							outline->last_item_end - outline->last_item,
							&endpoint->keyset_field, 1, &value, NULL) &&
				value != NULL)
				key = wix_json_parse_fragment(value, outline->last_item_end);
			if (key == NULL || json_object_is_type(key, json_type_null) ||
				json_object_is_type(key, json_type_object) ||
				json_object_is_type(key, json_type_array))
			{
				json_object_put(key);
				ereport(ERROR,
						(errcode(ERRCODE_FDW_ERROR),
						 errmsg("Wix API item has no \"%s\" to page by",
								endpoint->keyset_field)));
			}
			if (pager->keyset_after != NULL)
				pfree(pager->keyset_after);
			pager->keyset_after = pstrdup(json_object_get_string(key));
			json_object_put(key);
			pager->ready = true;
		}
	}
}

/*
 * wix_pager_advance
 *		A page has arrived (its outline read from the raw body): work out the
 *		next page from its paging metadata, before the page is parsed, so
 *		that the next request overlaps parsing and reading this one.
 */
void
wix_pager_advance(WixPager *pager, const WixPageOutline *outline)
{
	json_object *metadata = NULL;

	pager->pages++;
	if (pager->inflight > 0)
		pager->inflight--;
	if (outline->metadata != NULL)
		metadata = wix_json_parse_fragment(outline->metadata, outline->end);
	PG_TRY();
	{
		if (pager->endpoint->batch != NULL)
			pager->finished = pager->ids_complete &&
				pager->next_id >= list_length(pager->ids);
		else if (pager->endpoint->paging == WIX_PAGING_NONE)
			pager->finished = true;
		else if (pager->endpoint->paging == WIX_PAGING_CURSOR)
			apply_cursor_metadata(pager, json_object_is_type(metadata, json_type_object) ?
								  metadata : NULL);
		else
			advance_offset(pager, outline, metadata);
	}
	PG_FINALLY();
	{
		json_object_put(metadata);
	}
	PG_END_TRY();
}

/*
 * wix_path_params
 *		The fields named by "{field}" in a catalog path, once each.
 */
List *
wix_path_params(const char *path)
{
	List	   *names = NIL;
	const char *p = path;

	while ((p = strchr(p, '{')) != NULL)
	{
		const char *close = strchr(p, '}');
		char	   *name;

		if (close == NULL)
			elog(ERROR, "wix_admin: unclosed parameter in catalog path %s",
				 path);
		name = pnstrdup(p + 1, close - p - 1);
		if (!list_member(names, makeString(name)))
			names = lappend(names, makeString(name));
		p = close + 1;
	}
	return names;
}

/*
 * wix_fill_path
 *		A catalog path with each "{field}" replaced by the escaped value of
 *		the same position in values (a List of C strings parallel to
 *		wix_path_params); a NULL value keeps the placeholder, for EXPLAIN.
 */
char *
wix_fill_path(const char *path, List *names, List *values)
{
	StringInfoData buf;
	const char *p = path;
	const char *open;

	initStringInfo(&buf);
	while ((open = strchr(p, '{')) != NULL)
	{
		const char *close = strchr(open, '}');
		char	   *name = pnstrdup(open + 1, close - open - 1);
		ListCell   *n;
		ListCell   *v;

		appendBinaryStringInfo(&buf, p, open - p);
		forboth(n, names, v, values)
		{
			if (strcmp(strVal(lfirst(n)), name) != 0)
				continue;
			if (lfirst(v) == NULL)
				break;
			appendStringInfoString(&buf, wix_escape_value(lfirst(v)));
			name = NULL;
			break;
		}
		if (name != NULL)
			appendBinaryStringInfo(&buf, open, close + 1 - open);
		p = close + 1;
	}
	appendStringInfoString(&buf, p);
	return buf.data;
}

/* Append one parameter (arrays repeat the key, objects nest as key.sub). */
static void
append_query_param(StringInfo buf, const char *key, json_object *value)
{
	if (json_object_is_type(value, json_type_array))
	{
		for (size_t i = 0; i < json_object_array_length(value); i++)
			append_query_param(buf, key, json_object_array_get_idx(value, i));
	}
	else if (json_object_is_type(value, json_type_object))
	{
		json_object_object_foreach(value, sub, subvalue)
			append_query_param(buf, psprintf("%s.%s", key, sub), subvalue);
	}
	else if (value != NULL)
		appendStringInfo(buf, "%c%s=%s", strchr(buf->data, '?') ? '&' : '?',
						 key, wix_escape_value(json_object_get_string(value)));
}

/*
 * wix_query_string_path
 *		path with the parameters of request in its query string, encoded as
 *		the Wix SDK does for GET calls: flat "key=value", an array repeats
 *		its key, a nested object's keys are dotted ("sorting.order=DESC").
 */
char *
wix_query_string_path(const char *path, json_object *request)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoString(&buf, path);
	{
		json_object_object_foreach(request, key, value)
			append_query_param(&buf, key, value);
	}
	return buf.data;
}
