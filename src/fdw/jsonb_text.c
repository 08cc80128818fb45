/*-------------------------------------------------------------------------
 *
 * jsonb_text.c
 *		  Wix JSON text straight to jsonb, without json-c: the fast path for
 *		  the pages of a scan that selects whole items (or whole rows).
 *
 * Each item of a page is parsed into a JsonbValue tree and converted to
 * jsonb at once; the rest of the answer is checked and dropped.  An
 * endpoint with rows inside its items (rows_path, "lineItems") has each
 * element of that array converted instead, and the item (and any element
 * between) once, for the columns read from there ("^number").  The
 * parser takes strict JSON (RFC 8259) and only what it keeps exactly as
 * the json-c path would.  For anything else (a NUL byte or escaped NUL, a
 * lone surrogate, an integer beyond int64, nesting deeper than json-c's
 * limit, an item or row that is not an object, an array of rows_path that
 * is not one or is missing where it must be there, a malformed text) it
 * declines, and the caller parses the page with json-c, which accepts it
 * or reports what is wrong exactly as before.
 *
 *-------------------------------------------------------------------------
 */
#include "wix_fdw.h"

#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/numeric.h"

/*
 * The deepest nesting json-c's default tokener takes, counting the answer
 * object itself (JSON_TOKENER_DEFAULT_DEPTH is 32, and it rejects the 32nd
 * level).
 */
#define MAX_NESTING 31

/* Objects with at most this many keys are sorted by insertion. */
#define INSERTION_SORT_MAX 16

/* A NUL-terminated JSON text being read. */
typedef struct JsonText
{
	const char *p;
	const char *end;			/* its NUL */
	int			depth;
} JsonText;

static bool parse_value(JsonText *text, JsonbValue *value);

static inline void
skip_space(JsonText *text)
{
	while (*text->p == ' ' || *text->p == '\n' || *text->p == '\r' || *text->p == '\t')
		text->p++;
}

static inline bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Four hex digits at s as a number, or -1. */
static int
hex4(const char *s)
{
	int			result = 0;

	for (int i = 0; i < 4; i++)
	{
		char		c = s[i];
		int			digit;

		if (c >= '0' && c <= '9')
			digit = c - '0';
		else if (c >= 'a' && c <= 'f')
			digit = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			digit = c - 'A' + 10;
		else
			return -1;
		result = result * 16 + digit;
	}
	return result;
}

/*
 * unescape
 *		Decode the escapes of a string's bytes [s, stop) into out, which has
 *		room for them; the decoded length, or -1 to decline.
 */
static int
unescape(const char *s, const char *stop, char *out)
{
	char	   *start = out;

	while (s < stop)
	{
		int			code;

		if (*s != '\\')
		{
			*out++ = *s++;
			continue;
		}
		s++;
		switch (*s++)
		{
			case '"':
			case '\\':
			case '/':
				*out++ = s[-1];
				continue;
			case 'b':
				*out++ = '\b';
				continue;
			case 'f':
				*out++ = '\f';
				continue;
			case 'n':
				*out++ = '\n';
				continue;
			case 'r':
				*out++ = '\r';
				continue;
			case 't':
				*out++ = '\t';
				continue;
			case 'u':
				break;
			default:
				return -1;
		}
		if (stop - s < 4 || (code = hex4(s)) <= 0)
			return -1;			/* short, not hex, or an escaped NUL */
		s += 4;
		if (code >= 0xDC00 && code <= 0xDFFF)
			return -1;			/* a lone low surrogate */
		if (code >= 0xD800 && code <= 0xDBFF)
		{
			int			low;

			if (stop - s < 6 || s[0] != '\\' || s[1] != 'u' ||
				(low = hex4(s + 2)) < 0xDC00 || low > 0xDFFF)
				return -1;		/* a lone high surrogate */
			code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
			s += 6;
		}
		out = (char *) unicode_to_utf8((pg_wchar) code, (unsigned char *) out);
		out += pg_utf_mblen((unsigned char *) out);
	}
	return out - start;
}

/*
 * parse_string
 *		The string at text->p (its opening quote).  Without escapes the value
 *		points into the text, which outlives the conversion to jsonb.
 */
static bool
parse_string(JsonText *text, JsonbValue *value)
{
	const char *start = text->p + 1;
	const char *after = wix_json_string_end(text->p, text->end);
	const char *stop;

	if (after == NULL)
		return false;
	stop = after - 1;			/* the closing quote */

	value->type = jbvString;
	if (memchr(start, '\\', stop - start) == NULL)
	{
		value->val.string.val = (char *) start;
		value->val.string.len = stop - start;
	}
	else
	{
		char	   *out = palloc(stop - start);
		int			len = unescape(start, stop, out);

		if (len < 0)
			return false;
		value->val.string.val = out;
		value->val.string.len = len;
	}
	text->p = stop + 1;
	return true;
}

/*
 * parse_number
 *		A JSON number as numeric, as Wix wrote it; integers of up to 18
 *		digits without numeric_in.
 */
static bool
parse_number(JsonText *text, JsonbValue *value)
{
	const char *start = text->p;
	const char *s = start;
	bool		negative = (*s == '-');
	bool		integral = true;
	int64		integer = 0;
	size_t		len;

	if (negative)
		s++;
	if (*s == '0')
		s++;
	else if (*s >= '1' && *s <= '9')
	{
		while (is_digit(*s))
			s++;
	}
	else
		return false;
	if (*s == '.')
	{
		integral = false;
		if (!is_digit(*++s))
			return false;
		while (is_digit(*s))
			s++;
	}
	if (*s == 'e' || *s == 'E')
	{
		integral = false;
		s++;
		if (*s == '+' || *s == '-')
			s++;
		if (!is_digit(*s))
			return false;
		while (is_digit(*s))
			s++;
	}
	len = s - start;
	text->p = s;

	value->type = jbvNumeric;
	if (integral)
	{
		/* json-c clamps integers beyond int64: leave those to it */
		if (len - negative > 18)
			return false;
		for (const char *d = start + negative; d < s; d++)
			integer = integer * 10 + (*d - '0');
		value->val.numeric = int64_to_numeric(negative ? -integer : integer);
	}
	else
		value->val.numeric =
			DatumGetNumeric(DirectFunctionCall3(numeric_in,
												CStringGetDatum(pnstrdup(start, len)),
												ObjectIdGetDatum(InvalidOid),
												Int32GetDatum(-1)));
	return true;
}

/* jsonb's key order: shorter first, then bytewise; a later duplicate first. */
static int
compare_pairs(const void *a, const void *b)
{
	const JsonbPair *pa = a;
	const JsonbPair *pb = b;
	int			result;

	if (pa->key.val.string.len != pb->key.val.string.len)
		return pa->key.val.string.len < pb->key.val.string.len ? -1 : 1;
	result = memcmp(pa->key.val.string.val, pb->key.val.string.val,
					pa->key.val.string.len);
	if (result != 0)
		return result;
	return pa->order > pb->order ? -1 : 1;
}

/*
 * sort_pairs
 *		Put an object's keys in jsonb's order and drop duplicates, the last
 *		one of a key winning (as jsonb_in and json-c do); the pairs left.
 */
static int
sort_pairs(JsonbPair *pairs, int npairs)
{
	int			kept = 1;

	if (npairs <= INSERTION_SORT_MAX)
	{
		for (int i = 1; i < npairs; i++)
		{
			JsonbPair	pair = pairs[i];
			int			j = i;

			for (; j > 0 && compare_pairs(&pairs[j - 1], &pair) > 0; j--)
				pairs[j] = pairs[j - 1];
			pairs[j] = pair;
		}
	}
	else
		qsort(pairs, npairs, sizeof(JsonbPair), compare_pairs);

	for (int i = 1; i < npairs; i++)
	{
		if (pairs[i].key.val.string.len == pairs[kept - 1].key.val.string.len &&
			memcmp(pairs[i].key.val.string.val, pairs[kept - 1].key.val.string.val,
				   pairs[i].key.val.string.len) == 0)
			continue;
		pairs[kept++] = pairs[i];
	}
	return npairs == 0 ? 0 : kept;
}

/*
 * Walking a container's members: what follows its opening bracket or a
 * member (a comma, read: MEMBER_NEXT; its closing bracket, read:
 * MEMBER_END; anything else: MEMBER_BAD).
 */
typedef enum MemberFollows
{
	MEMBER_NEXT,
	MEMBER_END,
	MEMBER_BAD
} MemberFollows;

static MemberFollows
open_container(JsonText *text, char close)
{
	text->p++;
	skip_space(text);
	if (*text->p != close)
		return MEMBER_NEXT;
	text->p++;
	return MEMBER_END;
}

static MemberFollows
next_member(JsonText *text, char close)
{
	skip_space(text);
	if (*text->p == close)
	{
		text->p++;
		return MEMBER_END;
	}
	if (*text->p != ',')
		return MEMBER_BAD;
	text->p++;
	skip_space(text);
	return MEMBER_NEXT;
}

/* An object member's key and its colon. */
static bool
read_key(JsonText *text, JsonbValue *key)
{
	if (*text->p != '"' || !parse_string(text, key))
		return false;
	skip_space(text);
	if (*text->p != ':')
		return false;
	text->p++;
	skip_space(text);
	return true;
}

/* An array of n elements with room for one more, doubled when full. */
static inline void *
room_for_one(void *array, int n, int *capacity, Size size)
{
	if (n < *capacity)
		return array;
	*capacity *= 2;
	return repalloc(array, size * *capacity);
}

static bool
parse_object(JsonText *text, JsonbValue *value)
{
	int			capacity = 8;
	int			npairs = 0;
	JsonbPair  *pairs = palloc(sizeof(JsonbPair) * capacity);
	MemberFollows follows;

	for (follows = open_container(text, '}'); follows == MEMBER_NEXT;
		 follows = next_member(text, '}'))
	{
		pairs = room_for_one(pairs, npairs, &capacity, sizeof(JsonbPair));
		if (!read_key(text, &pairs[npairs].key) ||
			!parse_value(text, &pairs[npairs].value))
			return false;
		pairs[npairs].order = npairs;
		npairs++;
	}
	if (follows == MEMBER_BAD)
		return false;
	value->type = jbvObject;
	value->val.object.nPairs = sort_pairs(pairs, npairs);
	value->val.object.pairs = pairs;
	return true;
}

static bool
parse_array(JsonText *text, JsonbValue *value)
{
	int			capacity = 8;
	int			nelems = 0;
	JsonbValue *elems = palloc(sizeof(JsonbValue) * capacity);
	MemberFollows follows;

	for (follows = open_container(text, ']'); follows == MEMBER_NEXT;
		 follows = next_member(text, ']'))
	{
		elems = room_for_one(elems, nelems, &capacity, sizeof(JsonbValue));
		if (!parse_value(text, &elems[nelems++]))
			return false;
	}
	if (follows == MEMBER_BAD)
		return false;
	value->type = jbvArray;
	value->val.array.nElems = nelems;
	value->val.array.elems = elems;
	value->val.array.rawScalar = false;
	return true;
}

/* The literal word at text->p, if it is there. */
static bool
parse_literal(JsonText *text, const char *word, size_t len)
{
	if (strncmp(text->p, word, len) != 0)
		return false;
	text->p += len;
	return true;
}

/* The value at text->p (no space before it). */
static bool
parse_value(JsonText *text, JsonbValue *value)
{
	bool		ok;

	switch (*text->p)
	{
		case '"':
			return parse_string(text, value);
		case '{':
		case '[':
			if (++text->depth > MAX_NESTING)
				return false;
			ok = (*text->p == '{') ? parse_object(text, value) : parse_array(text, value);
			text->depth--;
			return ok;
		case 't':
			value->type = jbvBool;
			value->val.boolean = true;
			return parse_literal(text, "true", 4);
		case 'f':
			value->type = jbvBool;
			value->val.boolean = false;
			return parse_literal(text, "false", 5);
		case 'n':
			value->type = jbvNull;
			return parse_literal(text, "null", 4);
		default:
			return parse_number(text, value);
	}
}

/* The value of key in a parsed object, or NULL. */
static JsonbValue *
object_member(JsonbValue *object, const char *key)
{
	size_t		len = strlen(key);

	for (int i = 0; i < object->val.object.nPairs; i++)
	{
		JsonbPair  *pair = &object->val.object.pairs[i];

		if (pair->key.val.string.len == len &&
			memcmp(pair->key.val.string.val, key, len) == 0)
			return &pair->value;
	}
	return NULL;
}

/* The rows of a page being gathered. */
typedef struct PageRows
{
	const WixRowsPath *path;	/* depth 0: the items are the rows */
	WixJsonbPage *page;
	int			capacity;		/* of page->rows */
	JsonbValue *chain[WIX_MAX_ROW_LEVELS + 1];	/* the item, then elements
												 * down */
	Jsonb	   *chain_jsonb[WIX_MAX_ROW_LEVELS];	/* ... as jsonb, once a row
													 * below needs it */
	int			place[WIX_MAX_ROW_LEVELS + 1];	/* the item's index, then the
												 * elements' */
} PageRows;

/*
 * add_row
 *		One row: node as jsonb, with its place and the elements above it as
 *		jsonb (each converted once, for the first row below it).
 */
static void
add_row(PageRows *rows, JsonbValue *node)
{
	int			depth = rows->path->depth;
	WixJsonbRow *row;

	rows->page->rows = room_for_one(rows->page->rows, rows->page->nrows,
									&rows->capacity, sizeof(WixJsonbRow));
	row = &rows->page->rows[rows->page->nrows++];
	row->jsonb = JsonbValueToJsonb(node);
	for (int up = 1; up <= depth; up++)
	{
		int			level = depth - up;

		if (rows->chain_jsonb[level] == NULL)
			rows->chain_jsonb[level] = JsonbValueToJsonb(rows->chain[level]);
		row->ancestors[up - 1] = rows->chain_jsonb[level];
	}
	memcpy(row->place, rows->place, sizeof(int) * (depth + 1));
}

/*
 * collect_rows
 *		The rows under a node at a level of rows_path, found as scan.c finds
 *		them in json-c; false to decline where that reports an error (the
 *		array missing or not an array, an element that is not an object).
 */
static bool
collect_rows(PageRows *rows, JsonbValue *node, int level)
{
	const WixRowsPath *path = rows->path;
	JsonbValue *elements;

	rows->chain[level] = node;
	if (level == path->depth)
	{
		add_row(rows, node);
		return true;
	}
	rows->chain_jsonb[level] = NULL;
	elements = object_member(node, path->keys[level]);
	if (path->optional[level] && (elements == NULL || elements->type == jbvNull))
		return true;
	if (elements == NULL || elements->type != jbvArray)
		return false;
	for (int i = 0; i < elements->val.array.nElems; i++)
	{
		if (elements->val.array.elems[i].type != jbvObject)
			return false;
		rows->place[level + 1] = i;
		if (!collect_rows(rows, &elements->val.array.elems[i], level + 1))
			return false;
	}
	return true;
}

/*
 * parse_items
 *		The items array at text->p: each element an object (item_root's
 *		value, when given, an object too), its rows converted to jsonb in
 *		result_cxt, the trees built in scratch_cxt.
 */
static bool
parse_items(JsonText *text, const char *item_root, const WixRowsPath *path,
			MemoryContext result_cxt, MemoryContext scratch_cxt,
			WixJsonbPage *page)
{
	int			capacity = 128;
	PageRows	rows = {path, page, capacity};
	MemberFollows follows;

	page->nitems = page->nrows = 0;
	page->texts = MemoryContextAlloc(result_cxt, sizeof(const char *) * capacity);
	page->lengths = MemoryContextAlloc(result_cxt, sizeof(int) * capacity);
	page->rows = MemoryContextAlloc(result_cxt, sizeof(WixJsonbRow) * capacity);

	text->depth++;				/* the items array */
	for (follows = open_container(text, ']'); follows == MEMBER_NEXT;
		 follows = next_member(text, ']'))
	{
		const char *start = text->p;
		JsonbValue	item;
		JsonbValue *object = &item;
		bool		ok;

		if (*start != '{' || !parse_value(text, &item))
			return false;
		if (item_root != NULL &&
			((object = object_member(&item, item_root)) == NULL ||
			 object->type != jbvObject))
			return false;
		if (page->nitems == capacity)
		{
			capacity *= 2;
			page->texts = repalloc(page->texts, sizeof(const char *) * capacity);
			page->lengths = repalloc(page->lengths, sizeof(int) * capacity);
		}
		page->texts[page->nitems] = start;
		page->lengths[page->nitems] = text->p - start;
		MemoryContextSwitchTo(result_cxt);
		rows.place[0] = page->nitems++;
		ok = collect_rows(&rows, object, 0);
		MemoryContextSwitchTo(scratch_cxt);
		MemoryContextReset(scratch_cxt);
		if (!ok)
			return false;
	}
	text->depth--;
	return follows == MEMBER_END;
}

/*
 * parse_answer
 *		The query answer at text->p: one object with nothing after it, its
 *		items_key array parsed into page (the last one, if repeated).
 */
static bool
parse_answer(JsonText *text, const char *items_key, const char *item_root,
			 const WixRowsPath *path, MemoryContext result_cxt,
			 MemoryContext scratch_cxt, WixJsonbPage *page)
{
	size_t		key_len = strlen(items_key);
	MemberFollows follows;

	skip_space(text);
	if (*text->p != '{')
		return false;
	for (follows = open_container(text, '}'); follows == MEMBER_NEXT;
		 follows = next_member(text, '}'))
	{
		JsonbValue	key;
		JsonbValue	value;

		if (!read_key(text, &key))
			return false;
		if (key.val.string.len == key_len &&
			memcmp(key.val.string.val, items_key, key_len) == 0)
		{
			if (*text->p != '[' ||
				!parse_items(text, item_root, path, result_cxt, scratch_cxt,
							 page))
				return false;
		}
		else if (!parse_value(text, &value))
			return false;
		MemoryContextReset(scratch_cxt);
	}
	skip_space(text);
	return follows == MEMBER_END && *text->p == '\0';
}

/*
 * wix_jsonb_page_parse
 *		Every row of a query answer (body, len bytes, NUL-terminated) as
 *		jsonb in CurrentMemoryContext: each item, or each element the
 *		endpoint's rows_path (path) reaches in it, with where each item's
 *		text lies in body.  False when the parser declines the body: the page
 *		then goes to json-c.  An answer without the items array has no rows.
 */
bool
wix_jsonb_page_parse(const char *body, size_t len, const char *items_key,
					 const char *item_root, const WixRowsPath *path,
					 WixJsonbPage *page)
{
	MemoryContext result_cxt = CurrentMemoryContext;
	MemoryContext scratch_cxt;
	JsonText	text;
	bool		ok;

	memset(page, 0, sizeof(*page));
	if (memchr(body, '\0', len) != NULL)
		return false;
	scratch_cxt = AllocSetContextCreate(result_cxt, "wix_admin item parse",
										ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(scratch_cxt);
	text.p = body;
	text.end = body + len;
	text.depth = 1;				/* the answer object */
	ok = parse_answer(&text, items_key, item_root, path, result_cxt,
					  scratch_cxt, page);
	MemoryContextSwitchTo(result_cxt);
	MemoryContextDelete(scratch_cxt);
	if (!ok)
		memset(page, 0, sizeof(*page));
	return ok;
}
