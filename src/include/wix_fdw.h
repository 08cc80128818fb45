/*-------------------------------------------------------------------------
 *
 * wix_fdw.h
 *		  The foreign data wrapper: the resource catalog (catalog.c), table
 *		  and column options (option.c), pushdown (deparse.c), paging
 *		  (pager.c), value conversion (convert.c, jsonb_text.c) and the
 *		  callbacks (fdw.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef WIX_FDW_H
#define WIX_FDW_H

#include "wix_client.h"

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "nodes/pathnodes.h"
#include "utils/jsonb.h"

/*
 * Resource catalog (catalog.c)
 *
 * Every Wix dataset the wrapper can scan is one WixResource; a resource may
 * have several WixEndpoints (Stores products: Catalog V1 and V3), one of
 * which is chosen per site.  Adding a dataset is a table entry in catalog.c.
 */
typedef enum WixPaging
{
	WIX_PAGING_CURSOR,			/* cursorPaging {limit, cursor} */
	WIX_PAGING_OFFSET			/* paging {limit, offset} */
} WixPaging;

/* How Wix encodes and compares a filterable field's values. */
typedef enum WixWireType
{
	WIX_WIRE_STRING,			/* compared exactly; no pushed ranges or sorts */
	WIX_WIRE_ENUM,				/* upper-case strings */
	WIX_WIRE_DATE,				/* ISO-8601 UTC strings, millisecond precision */
	WIX_WIRE_INT,				/* integers (JSON numbers or int64 strings) */
	WIX_WIRE_NUMBER,			/* JSON numbers compared as floats */
	WIX_WIRE_DECIMAL,			/* money: decimal strings */
	WIX_WIRE_BOOL
} WixWireType;

/* Operators a field accepts, and whether it sorts (WixFieldDef.ops). */
#define WIX_OP_EQ			0x0001	/* $eq */
#define WIX_OP_NE			0x0002	/* $ne */
#define WIX_OP_RANGE		0x0004	/* $gt $gte $lt $lte */
#define WIX_OP_IN			0x0008	/* $in */
#define WIX_OP_NIN			0x0010	/* $nin */
#define WIX_OP_EXISTS		0x0020	/* $exists */
#define WIX_OP_STARTS		0x0040	/* $startsWith (case-insensitive) */
#define WIX_SORTABLE		0x0100	/* may be a sort key */
#define WIX_ALWAYS_SET		0x0200	/* never absent: NULL ordering is moot */

/* A field an endpoint can filter or sort by. */
typedef struct WixFieldDef
{
	const char *path;			/* where it is in the returned object */
	const char *filter_path;	/* its name in filters, when it differs */
	WixWireType type;
	int			ops;
} WixFieldDef;

/* One standard column: its name, SQL type and Wix JSON path. */
typedef struct WixColumnDef
{
	const char *name;
	const char *sql_type;
	const char *path;			/* NULL: this endpoint does not have it */
} WixColumnDef;

typedef struct WixEndpoint
{
	WixCatalogVersion catalog;	/* which Stores catalog it serves */
	const char *query_path;		/* POST path of the query/search call */
	const char *envelope;		/* body key holding filter/sort/paging */
	const char *sort_key;		/* "sort" or "sorting" */
	bool		query_as_strings;	/* filter and sort sent as JSON strings */
	WixPaging	paging;
	int			max_page_size;
	int			max_offset;		/* offset ceiling, 0 if none */
	const char *keyset_field;	/* field to page by past max_offset */
	const char *items_key;		/* response array holding the items */
	const char *item_root;		/* key of the entity inside an item, or NULL */
	const char *metadata_key;	/* response object holding paging metadata */
	const char *extra_body;		/* JSON object merged into every request */
	const char *base_filter;	/* JSON filter always sent, or NULL */
	const char *default_sort;	/* JSON sort array sent, or NULL */
	const WixColumnDef *columns;	/* standard columns, NULL-name ended */
	const WixFieldDef *fields;	/* filterable/sortable, NULL-path ended */
	int			max_sort_keys;
	/* the Get call answering "id = x" with the same object, or NULL */
	const char *get_path;		/* with one %s for the escaped id */
	const char *get_item_key;	/* the answer's key holding the item */
	/* remote row counts: a count call taking {"filter"}, or a query's total */
	const char *count_path;
	const char *total_path;		/* dotted path of the total in a query answer */
} WixEndpoint;

typedef struct WixResource
{
	const char *name;			/* "orders": table option resource */
	const char *description;
	const WixEndpoint *const *endpoints;	/* NULL ended */
} WixResource;

extern const WixResource *wix_find_resource(const char *name);
extern const WixResource *const *wix_all_resources(void);
extern const char *wix_resource_names(void);
extern const WixEndpoint *wix_resource_endpoint(const WixResource *resource,
												WixCatalogVersion catalog);
extern bool wix_resource_needs_catalog(const WixResource *resource);
extern const char *wix_endpoint_column_path(const WixEndpoint *endpoint,
											const char *column_name,
											bool *found);
extern char *wix_default_path(const char *column_name);
extern const WixFieldDef *wix_endpoint_field(const WixEndpoint *endpoint,
											 const char *path);
extern List *wix_import_statements(const char *server_name,
								   ImportForeignSchemaStmt *stmt);
extern const char *wix_column_path(Oid relid, AttrNumber attnum,
								   const WixEndpoint *endpoint);

/*
 * Options of foreign tables and columns, and the wrapper's settings
 * (option.c)
 */
extern bool wix_enable_where_pushdown;
extern bool wix_enable_order_by_pushdown;
extern bool wix_enable_limit_pushdown;
extern int	wix_max_pages;

extern void wix_fdw_define_gucs(void);
extern char *wix_table_resource(Oid foreigntableid);
extern char *wix_column_path_option(Oid foreigntableid, AttrNumber attnum);
extern void wix_table_estimate_options(Oid foreigntableid, double *rows,
									   bool *use_remote_estimate);

/*
 * Building query requests and walking their pages (pager.c)
 */
typedef struct WixPager
{
	const WixEndpoint *endpoint;
	json_object *filter;		/* pushed filter, or NULL: base filter only */
	json_object *sort;			/* pushed sort, or NULL: the default sort */
	int			page_size;
	bool		started;
	bool		finished;
	char	   *cursor;			/* palloc'd next cursor */
	int			offset;			/* offset of the next page to read */
	int			next_offset;	/* offset of the next page to request */
	int64		total;			/* items in all, once Wix said; else -1 */
	int			inflight;		/* pages requested but not read yet */
	bool		ready;			/* the next cursor or key is known */
	char	   *keyset_after;	/* last keyset value seen, or NULL */
	int			pages;			/* pages read so far */
} WixPager;

extern void wix_pager_init(WixPager *pager, const WixEndpoint *endpoint,
						   int page_size);
extern bool wix_pager_can_issue(WixPager *pager);
extern json_object *wix_pager_next_body(WixPager *pager);

/* What paging needs of a query answer, read from its raw body. */
typedef struct WixPageOutline
{
	const char *items;			/* the items array, or NULL when absent */
	int			nitems;			/* its elements */
	bool		scalar_items;	/* one of them is not an object */
	const char *last_item;		/* the last element, and where it ends */
	const char *last_item_end;
	const char *metadata;		/* the paging metadata value, or NULL */
	const char *total_results;	/* top-level "totalResults" (Catalog V1) */
	const char *end;			/* the end of the body */
} WixPageOutline;

extern bool wix_page_outline(const WixEndpoint *endpoint, const char *body,
							 size_t len, WixPageOutline *outline);
extern void wix_pager_advance(WixPager *pager, const WixPageOutline *outline);

/*
 * Pushing conditions and sorts to Wix (deparse.c)
 */

/* Planner state of a foreign table (RelOptInfo.fdw_private). */
typedef struct WixRelInfo
{
	Oid			relid;
	const WixResource *resource;
	/* the endpoints a scan may use; pushdown must suit them all */
	const WixEndpoint *endpoints[4];
	WixCatalogVersion catalog;	/* forced by the server, or ANY */
	List	   *remote_conds;	/* RestrictInfos sent to Wix */
	List	   *local_conds;	/* RestrictInfos checked here (incl. rechecks) */
	/* set on the ORDERED upper rel: the base rel below it */
	struct RelOptInfo *ordered_input;
} WixRelInfo;

/* What run-time deparsing needs. */
typedef struct WixDeparseContext
{
	const WixEndpoint *endpoint;
	Oid			relid;			/* the foreign table */
	Index		relid_index;	/* its range-table index in the conditions */
	List	   *param_exprs;	/* the non-constant values, as planned */
	Datum	   *param_values;	/* ... and their values */
	bool	   *param_nulls;
	bool		explain_only;	/* show placeholders for unknown values */
	bool		plan_time;		/* leave out conditions on unknown values */
} WixDeparseContext;

extern bool wix_is_pushable_cond(PlannerInfo *root, RelOptInfo *baserel,
								 WixRelInfo *info, Expr *expr, bool *exact);
extern List *wix_collect_param_values(PlannerInfo *root, Index relid,
									  List *conds);
extern bool wix_pathkey_sort(PathKey *pathkey, RelOptInfo *baserel,
							 WixRelInfo *info, AttrNumber *attnum,
							 bool *descending);
extern json_object *wix_deparse_filter(List *conds, WixDeparseContext *ctx,
									   bool *never_true);
extern json_object *wix_deparse_sort(List *sort_keys, WixDeparseContext *ctx);
extern bool wix_id_lookup(List *conds, WixDeparseContext *ctx, char **id);
extern double wix_remote_count(WixConnection *conn, const WixEndpoint *endpoint,
							   json_object *filter);

/*
 * Converting Wix JSON values to PostgreSQL datums (convert.c)
 */
typedef struct WixColumnConverter
{
	char	   *column_name;
	char	   *path;			/* as given, for messages */
	char	  **segments;		/* path split at dots */
	int		   *segment_lengths;
	int			nsegments;		/* 0 = the whole object */
	Oid			typid;
	int32		typmod;
	Oid			typioparam;
	FmgrInfo	input;
	char		category;		/* TYPCATEGORY_* of typid */
} WixColumnConverter;

extern void wix_converter_init(WixColumnConverter *conv,
							   const char *column_name, const char *path,
							   Oid typid, int32 typmod);
extern json_object *wix_json_path_get(json_object *obj,
									  char *const *segments, int nsegments);
extern Datum wix_convert_value(WixColumnConverter *conv, json_object *value,
							   bool *isnull);
extern bool wix_jsonb_path_get(JsonbContainer *container,
							   const WixColumnConverter *conv,
							   JsonbValue *result);
extern bool wix_convert_jsonb_value(WixColumnConverter *conv, JsonbValue *value,
									Datum *result, bool *isnull);

/*
 * Query answers straight to jsonb, without json-c (jsonb_text.c)
 */
typedef struct WixJsonbPage
{
	int			nitems;
	Jsonb	  **items;			/* each item (its item_root value) as jsonb */
	const char **texts;			/* each item's JSON text in the body */
	int		   *lengths;
} WixJsonbPage;

extern bool wix_jsonb_page_parse(const char *body, size_t len,
								 const char *items_key, const char *item_root,
								 WixJsonbPage *page);

#endif							/* WIX_FDW_H */
