/*-------------------------------------------------------------------------
 *
 * wix_fdw.h
 *		  The foreign data wrapper: the resource catalog (catalog.c), IMPORT
 *		  FOREIGN SCHEMA (import.c), table and column options (option.c),
 *		  the column plan (columns.c), pushdown (deparse.c), paging
 *		  (pager.c), value conversion (convert.c, jsonb_text.c), the
 *		  callbacks (fdw.c) and INSERT, UPDATE and DELETE (modify.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef WIX_FDW_H
#define WIX_FDW_H

#include "wix_client.h"
#include "wix_compat.h"

#include "fmgr.h"
#include "foreign/fdwapi.h"
#include "nodes/execnodes.h"
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
	WIX_PAGING_OFFSET,			/* paging {limit, offset} */
	WIX_PAGING_NONE,			/* one answer holds every item */
	WIX_PAGING_QUERY_STRING		/* GET: top-level limit and offset, the sort
								 * (one object under sort_key), the filter
								 * (flat parameters, see WixFieldDef) and
								 * extra_body in the query string, no body;
								 * offset metadata ("total",
								 * "tooManyToCount") */
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
#define WIX_OP_HAS_SOME		0x0080	/* $hasSome: an array field, see below */
#define WIX_SORTABLE		0x0100	/* may be a sort key */
#define WIX_ALWAYS_SET		0x0200	/* never absent: NULL ordering is moot */

/*
 * A field an endpoint can filter or sort by.
 *
 * An array field (WIX_OP_HAS_SOME) has a path through an array of the item
 * ("lineItems.productName.original"): it filters the rows read from that
 * array's elements (WixEndpoint.rows_path), "= x" and "IN (...)" becoming
 * $hasSome, which selects the items having at least one such element; the
 * rows are rechecked here, since the other elements of those items need
 * not match.
 *
 * An endpoint paged in the query string takes its filter as flat
 * parameters instead: each pushed condition is "= x" or "IN (...)" on one
 * field, sent as the repeated parameter filter_path ("orderStatuses").
 */
typedef struct WixFieldDef
{
	const char *path;			/* where it is in the returned object */
	const char *filter_path;	/* its name in filters, when it differs */
	WixWireType type;
	int			ops;
	const char *const *values;	/* the only values Wix accepts in a filter
								 * (it rejects others), NULL-ended; or NULL */
} WixFieldDef;

/* One standard column: its name, SQL type and Wix JSON path. */
typedef struct WixColumnDef
{
	const char *name;
	const char *sql_type;
	const char *path;			/* NULL: this endpoint does not have it */
	const char *description;	/* what it holds, for its COMMENT; given in
								 * the resource's first endpoint only */
} WixColumnDef;

typedef struct WixEndpoint WixEndpoint;

/*
 * A call that reads the items of up to max_ids parents at once (WixEndpoint
 * .batch), such as list-by-ids.  The ids come from a scan of the parent
 * endpoint, which takes the pushed conditions; a scan whose only pushed
 * condition is "= value" or "IN (...)" on the key and that needs no column
 * of the parent items sends those values instead.  Each item's parent item
 * is one level above it (a column "^^number" of a row of an item's array
 * reads the parent order), and the key column filters by parent_id_key.
 */
typedef struct WixBatch
{
	const char *ids_key;		/* body key of the id array: "orderIds" */
	int			max_ids;
	const char *key_field;		/* key of the parent id in this endpoint's items */
	const WixEndpoint *parent;	/* scanned for ids */
	const char *parent_id_key;	/* key of the id in a parent item */
} WixBatch;

struct WixEndpoint
{
	WixCatalogVersion catalog;	/* which Stores catalog it serves */
	const char *method;			/* "GET" or "POST" (NULL) */

	/*
	 * The path of the call.  A "{field}" in it (path or query string) is
	 * filled from a required "column = value" condition on that field.
	 */
	const char *query_path;
	const char *envelope;		/* body key holding filter/sort/paging, or
								 * NULL: the call takes no filter (unless
								 * paged in the query string) */
	const char *sort_key;		/* "sort" or "sorting" */
	bool		query_as_strings;	/* filter and sort sent as JSON strings */
	WixPaging	paging;
	int			max_page_size;
	int			max_offset;		/* offset ceiling, 0 if none */
	const char *keyset_field;	/* field to page by past max_offset */
	const char *items_key;		/* response array holding the items */
	bool		single_item;	/* ... or object holding the only item */
	const char *item_root;		/* key of the entity inside an item, or NULL */
	const char *rows_path;		/* one row per element of this array of an
								 * item, or of arrays in its elements
								 * ("refunds.transactions"); a key ending in
								 * "?" may be absent (Wix may leave out an
								 * empty array), any other must be there; a
								 * column "^key" reads the element one level
								 * up, "^^key" two levels up; NULL: one row
								 * per item */
	const WixBatch *batch;		/* reads items by parent ids, or NULL */
	const char *metadata_key;	/* response object holding paging metadata */
	const char *extra_body;		/* JSON object merged into every request */
	const char *base_filter;	/* JSON filter always sent, or NULL */
	const char *default_sort;	/* JSON sort array sent, or NULL */
	const WixColumnDef *columns;	/* standard columns, NULL-name ended */
	const WixFieldDef *fields;	/* filterable/sortable, NULL-path ended */
	int			max_sort_keys;
	/*
	 * The Get call answering "column = x" with the same object, or NULL: its
	 * path has one "{field}", the field the column filters by.
	 */
	const char *get_path;
	const char *get_item_key;	/* the answer's key holding the item */
	/* remote row counts: a count call taking {"filter"}, or a query's total */
	const char *count_path;
	const char *total_path;		/* dotted path of the total in a query answer */
};

typedef struct WixResource
{
	const char *name;			/* "orders": table option resource */
	const char *description;
	const WixEndpoint *const *endpoints;	/* NULL ended */
	bool		experimental;	/* for tests only: needs the superuser-only
								 * wix_admin.enable_experimental_resources */
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
extern bool wix_endpoint_is_query(const WixEndpoint *endpoint);
extern bool wix_endpoint_in_query_string(const WixEndpoint *endpoint);

/*
 * IMPORT FOREIGN SCHEMA (import.c): the CREATE FOREIGN TABLE statements, and
 * the comments on the tables they create
 */
extern void wix_import_init(void);
extern List *wix_import_statements(const char *server_name,
								   ImportForeignSchemaStmt *stmt);

/*
 * The column plan (columns.c): built at planning time, carried in
 * fdw_private, read by deparsing, EXPLAIN and the converters.
 */
typedef struct WixColumn
{
	const char *path;			/* Wix path, or NULL: the endpoint lacks it */
	int			up;				/* leading "^"s: levels above the row */
	const WixFieldDef *field;	/* how Wix filters and sorts it, or NULL */
} WixColumn;

typedef struct WixColumnPlan
{
	const WixEndpoint *endpoint;
	int			natts;
	WixColumn  *columns;		/* by attnum - 1; dropped columns: no path */
} WixColumnPlan;

/* One plan per endpoint of the resource, in the resource's order. */
typedef struct WixColumnPlans
{
	int			nplans;
	WixColumnPlan *plans;
} WixColumnPlans;

extern WixColumnPlans *wix_column_plans_build(Oid relid,
											  const WixResource *resource);
extern List *wix_column_plans_to_list(const WixColumnPlans *plans);
extern WixColumnPlans *wix_column_plans_from_list(List *list,
												  const WixResource *resource);
extern const WixColumnPlan *wix_column_plan(const WixColumnPlans *plans,
											const WixEndpoint *endpoint);
extern const WixColumn *wix_plan_column(const WixColumnPlan *plan,
										AttrNumber attnum);
extern int	wix_rows_depth(const WixEndpoint *endpoint);
extern bool wix_plan_needs_batch_parent(const WixColumnPlan *plan,
										List *attrs);

/* Arrays down to an endpoint's rows at most ("refunds.transactions": 2). */
#define WIX_MAX_ROW_LEVELS 4

/* An endpoint's rows_path, split at its dots. */
typedef struct WixRowsPath
{
	int			depth;			/* 0: each item is a row */
	char	   *keys[WIX_MAX_ROW_LEVELS];
	bool		optional[WIX_MAX_ROW_LEVELS];	/* "key?": absent or null is
												 * empty */
} WixRowsPath;

extern void wix_rows_path_split(const WixEndpoint *endpoint,
								WixRowsPath *path);

/*
 * Options of foreign tables and columns, and the wrapper's settings
 * (option.c)
 */
extern bool wix_enable_where_pushdown;
extern bool wix_enable_order_by_pushdown;
extern bool wix_enable_limit_pushdown;
extern bool wix_enable_experimental_resources;
extern int	wix_max_pages;
extern int	wix_progress_every_s;

extern double wix_request_cost;

extern void wix_fdw_define_gucs(void);
extern char *wix_table_resource(Oid foreigntableid);
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
	/* batch calls: the parent ids (C strings), the next one to send */
	List	   *ids;
	int			next_id;
	bool		ids_complete;	/* no more ids will come */
} WixPager;

extern void wix_pager_init(WixPager *pager, const WixEndpoint *endpoint,
						   int page_size);
extern bool wix_pager_can_issue(WixPager *pager);
extern json_object *wix_pager_next_body(WixPager *pager);
extern List *wix_path_params(const char *path);
extern char *wix_escape_value(const char *value);
extern char *wix_fill_path(const char *path, List *names, List *values);
extern char *wix_query_string_path(const char *path, json_object *request);

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
	const WixColumnPlan *plans[4];	/* the column plan of each */
	WixColumnPlans *all_plans;	/* of every endpoint, for fdw_private */
	WixCatalogVersion catalog;	/* forced by the server, or ANY */
	List	   *remote_conds;	/* RestrictInfos sent to Wix */
	List	   *local_conds;	/* RestrictInfos checked here (incl. rechecks) */
	double		table_rows;		/* rows the whole table holds (estimated) */
	double		rows_per_request;	/* rows a request brings (estimated) */
	double		request_cost;	/* the planner's price of a request */
	/* set on the ORDERED upper rel: the base rel below it */
	struct RelOptInfo *ordered_input;
} WixRelInfo;

/* What run-time deparsing needs. */
typedef struct WixDeparseContext
{
	const WixEndpoint *endpoint;
	const WixColumnPlan *columns;	/* the endpoint's column plan */
	Index		relid_index;	/* its range-table index in the conditions */
	List	   *param_exprs;	/* the non-constant values, as planned */
	Datum	   *param_values;	/* ... and their values */
	bool	   *param_nulls;
	bool		explain_only;	/* show placeholders for unknown values */
	bool		plan_time;		/* leave out conditions on unknown values */
	bool		batch_parents;	/* a batch call needs its parent items */
} WixDeparseContext;

extern bool wix_is_pushable_cond(PlannerInfo *root, RelOptInfo *baserel,
								 WixRelInfo *info, Expr *expr, bool *exact);

/* Values an enum field is taken to have, for estimates without statistics */
#define WIX_ENUM_VALUES 5
extern double wix_enum_selectivity(PlannerInfo *root, RelOptInfo *baserel,
								   WixRelInfo *info, Expr *expr);
extern List *wix_collect_param_values(PlannerInfo *root, Index relid,
									  List *conds);
extern bool wix_pathkey_sort(PathKey *pathkey, RelOptInfo *baserel,
							 WixRelInfo *info, AttrNumber *attnum,
							 bool *descending);
extern json_object *wix_deparse_filter(List *conds, WixDeparseContext *ctx,
									   bool *never_true);
extern json_object *wix_deparse_sort(List *sort_keys, WixDeparseContext *ctx);
extern bool wix_id_lookup(List *conds, WixDeparseContext *ctx, char **id);
extern bool wix_key_values(List *conds, WixDeparseContext *ctx,
						   const char *field_path, bool in_list, List **values);
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
	int			up;				/* levels above the row it is read from */
	Oid			typid;
	int32		typmod;
	Oid			typioparam;
	FmgrInfo	input;
	char		category;		/* TYPCATEGORY_* of typid */
	struct WixColumnConverter *fallback;	/* "a|b": b, read when a is
											 * absent; or NULL */
} WixColumnConverter;

extern void wix_converter_init(WixColumnConverter *conv,
							   const char *column_name, const char *path,
							   Oid typid, int32 typmod);
extern json_object *wix_json_path_get(json_object *obj,
									  char *const *segments, int nsegments);
extern json_object *wix_converter_json_get(const WixColumnConverter *conv,
										   json_object *obj);
extern Datum wix_convert_value(WixColumnConverter *conv, json_object *value,
							   bool *isnull);
extern bool wix_jsonb_path_get(Jsonb *jsonb, const WixColumnConverter *conv,
							   JsonbValue *result);
extern bool wix_convert_jsonb_value(WixColumnConverter *conv, JsonbValue *value,
									Datum *result, bool *isnull);

/*
 * Query answers straight to jsonb, without json-c (jsonb_text.c)
 */

/* A row of a page read straight into jsonb. */
typedef struct WixJsonbRow
{
	Jsonb	   *jsonb;			/* the item (its item_root value), or the
								 * element of rows_path */
	/* rows inside items: the elements above, one level up first */
	Jsonb	   *ancestors[WIX_MAX_ROW_LEVELS];
	/* where it is: its item's index, then its index in each array down */
	int			place[WIX_MAX_ROW_LEVELS + 1];
} WixJsonbRow;

typedef struct WixJsonbPage
{
	int			nitems;
	const char **texts;			/* each item's JSON text in the body */
	int		   *lengths;
	int			nrows;
	WixJsonbRow *rows;
} WixJsonbPage;

extern bool wix_jsonb_page_parse(const char *body, size_t len,
								 const char *items_key, const char *item_root,
								 const WixRowsPath *path,
								 WixJsonbPage *page);

/*
 * Remembered table sizes (sizes.c)
 */
extern void wix_sizes_init(void);
extern void wix_size_remember(Oid serverid, Oid umid, const char *resource,
							  double rows, double requests);
extern bool wix_size_recall(Oid serverid, Oid umid, const char *resource,
							double *rows, double *requests);

/*
 * Planning and the scan (fdw.c, scan.c)
 */
/* Indexes of the fdw_private list of a ForeignScan. */
enum WixScanPrivate
{
	WixPrivateResource,			/* String: the resource name */
	WixPrivateVarno,			/* Integer: the rel's index in the conditions */
	WixPrivateRetrievedAttrs,	/* IntList: attnums the scan fills */
	WixPrivateRemoteConds,		/* List of Expr: conditions sent to Wix */
	WixPrivateParamExprs,		/* List of Expr: their non-constant values */
	WixPrivateSortKeys,			/* IntList: (attnum, descending) pairs */
	WixPrivateLimit,			/* Integer: rows to return, -1 for all */
	WixPrivateOffset,			/* Integer: rows to skip first */
	WixPrivateBounded,			/* Integer: a LIMIT may stop the scan early */
	WixPrivateColumns,			/* List: the column plans (columns.c) */
	WixPrivateEstimatedRequests,	/* Integer: requests a run should make */
	WixPrivateFullReadRequests	/* Integer: ... a read of the whole table */
};

extern void wixBeginForeignScan(ForeignScanState *node, int eflags);
extern TupleTableSlot *wixIterateForeignScan(ForeignScanState *node);
extern void wixReScanForeignScan(ForeignScanState *node);
extern void wixEndForeignScan(ForeignScanState *node);
extern void *wix_scan_direct_modify(ForeignScanState *node);
extern void wix_scan_set_direct_modify(ForeignScanState *node,
									   void *direct_modify);
extern void wixExplainForeignScan(ForeignScanState *node, ExplainState *es);

/*
 * INSERT, UPDATE and DELETE as admin actions (modify.c)
 */
extern void wixAddForeignUpdateTargets(PlannerInfo *root, Index rtindex,
									   RangeTblEntry *target_rte,
									   Relation target_relation);
extern List *wixPlanForeignModify(PlannerInfo *root, ModifyTable *plan,
								  Index resultRelation, int subplan_index);
extern void wixBeginForeignModify(ModifyTableState *mtstate,
								  ResultRelInfo *rinfo, List *fdw_private,
								  int subplan_index, int eflags);
extern TupleTableSlot *wixExecForeignInsert(EState *estate, ResultRelInfo *rinfo,
											TupleTableSlot *slot,
											TupleTableSlot *planSlot);
extern TupleTableSlot *wixExecForeignUpdate(EState *estate, ResultRelInfo *rinfo,
											TupleTableSlot *slot,
											TupleTableSlot *planSlot);
extern TupleTableSlot *wixExecForeignDelete(EState *estate, ResultRelInfo *rinfo,
											TupleTableSlot *slot,
											TupleTableSlot *planSlot);
extern void wixEndForeignModify(EState *estate, ResultRelInfo *rinfo);
extern void wixBeginForeignInsert(ModifyTableState *mtstate,
								  ResultRelInfo *rinfo);
extern int	wixGetForeignModifyBatchSize(ResultRelInfo *rinfo);
extern bool wixPlanDirectModify(PlannerInfo *root, ModifyTable *plan,
								Index resultRelation, int subplan_index);
extern void wixBeginDirectModify(ForeignScanState *node, int eflags);
extern TupleTableSlot *wixIterateDirectModify(ForeignScanState *node);
extern void wixEndDirectModify(ForeignScanState *node);
extern void wixExplainDirectModify(ForeignScanState *node,
								   ExplainState *es);
extern TupleTableSlot **wixExecForeignBatchInsert(EState *estate,
												  ResultRelInfo *rinfo,
												  TupleTableSlot **slots,
												  TupleTableSlot **planSlots,
												  int *numSlots);
extern int	wixIsForeignRelUpdatable(Relation rel);
extern void wixExplainForeignModify(ModifyTableState *mtstate,
									ResultRelInfo *rinfo, List *fdw_private,
									int subplan_index, ExplainState *es);

/*
 * ANALYZE: one full read of the table, sampled (analyze.c)
 */
extern bool wixAnalyzeForeignTable(Relation rel, AcquireSampleRowsFunc *func,
								   BlockNumber *totalpages);

#endif							/* WIX_FDW_H */
