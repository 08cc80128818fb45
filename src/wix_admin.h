/*-------------------------------------------------------------------------
 *
 * wix_admin.h
 *		  Shared declarations of the wix_admin foreign data wrapper, grouped
 *		  by the file that defines them.
 *
 * The HTTP transport (http.c) has its own header, wix_http.h, free of
 * PostgreSQL types; everything else meets here.
 *
 *-------------------------------------------------------------------------
 */
#ifndef WIX_ADMIN_H
#define WIX_ADMIN_H

#include "postgres.h"

/*
 * PostgreSQL's SQL function json_object() and json-c's type json_object
 * share a name: hide the function's prototype before json-c is included.
 */
#define json_object pg_sql_json_object
#include "utils/builtins.h"
#undef json_object

#include <json-c/json.h>

#include "fmgr.h"
#include "foreign/foreign.h"
#include "lib/stringinfo.h"
#include "nodes/pathnodes.h"
#include "nodes/pg_list.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#define WIX_DEFAULT_BASE_URL	"https://www.wixapis.com"

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

typedef enum WixCatalogVersion
{
	WIX_CATALOG_ANY = 0,		/* endpoint used whatever the site's catalog */
	WIX_CATALOG_V1,
	WIX_CATALOG_V3
} WixCatalogVersion;

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
 * Options (option.c)
 */
typedef enum WixAuthMode
{
	WIX_AUTH_OAUTH,				/* client_id + client_secret */
	WIX_AUTH_API_KEY			/* api_key + wix-site-id / wix-account-id */
} WixAuthMode;

typedef struct WixServerOptions
{
	char	   *base_url;		/* without a trailing slash */
	char	   *site_id;
	char	   *account_id;
	WixCatalogVersion catalog;	/* WIX_CATALOG_ANY = detect */
	/* request settings; -1 where the GUC decides */
	int			connect_timeout_ms;
	int			request_timeout_ms;
	int			max_retries;
	int			requests_per_minute;
	int			max_response_size;
	int			max_concurrent_requests;
	bool		use_remote_estimate;
} WixServerOptions;

typedef struct WixUserOptions
{
	WixAuthMode mode;
	char	   *client_id;
	char	   *client_secret;
	char	   *instance_id;
	char	   *api_key;
} WixUserOptions;

extern bool wix_enable_where_pushdown;
extern bool wix_enable_order_by_pushdown;
extern bool wix_enable_limit_pushdown;
extern int	wix_max_retries;
extern int	wix_retry_base_delay_ms;
extern int	wix_retry_max_delay_ms;
extern int	wix_requests_per_minute;
extern int	wix_connect_timeout_s;
extern int	wix_request_timeout_s;
extern int	wix_max_response_size;
extern int	wix_max_pages;
extern int	wix_max_concurrent_requests;
extern char *wix_allowed_base_urls;

extern void wix_server_options(ForeignServer *server, WixServerOptions *opts);
extern void wix_user_options(UserMapping *user, WixUserOptions *opts);
extern char *wix_table_resource(Oid foreigntableid);
extern char *wix_column_path_option(Oid foreigntableid, AttrNumber attnum);
extern void wix_table_estimate_options(Oid foreigntableid, double *rows,
									   bool *use_remote_estimate);
extern bool wix_url_is_loopback(const char *url);
extern bool wix_base_url_allowed(const char *url);
extern void wix_check_server_base_url(const char *server_name, Oid owner,
									  const char *base_url);

/*
 * Connections, authentication and requests (connection.c)
 */
typedef struct WixConnection WixConnection;

/* Counters a scan shows in EXPLAIN ANALYZE. */
typedef struct WixRequestStats
{
	int64		requests;
	int64		pages;
	int64		rows;
} WixRequestStats;

typedef struct WixJsonHolder WixJsonHolder;

extern WixConnection *wix_get_connection(UserMapping *user);
extern WixJsonHolder *wix_request(WixConnection *conn, const char *method,
								  const char *path, json_object *body,
								  WixRequestStats *stats);
extern WixJsonHolder *wix_request_ext(WixConnection *conn, const char *method,
									  const char *path, json_object *body,
									  WixRequestStats *stats,
									  long accept_status);
extern void wix_connection_last_call(WixConnection *conn, long *status,
									 const char **request_id);
extern WixCatalogVersion wix_catalog_version(WixConnection *conn);

typedef struct WixPendingRequest WixPendingRequest;

extern WixPendingRequest *wix_request_start(WixConnection *conn,
											const char *path,
											json_object *body,
											WixRequestStats *stats);
/* Sees a raw 200 body first; true when the caller needs no parsed answer. */
typedef bool (*WixPeekHook) (const char *body, size_t len, void *arg);

extern WixJsonHolder *wix_request_finish(WixPendingRequest *pending,
										 WixPeekHook peek, void *peek_arg);
extern void wix_connection_poll(WixConnection *conn);
extern int	wix_connection_concurrency(WixConnection *conn);
extern const char *wix_connection_server_name(WixConnection *conn);

/*
 * json-c objects owned by a memory context (request.c): released when the
 * context is reset or deleted, so an ereport(ERROR) longjmp leaks nothing.
 */
struct WixJsonHolder
{
	json_object *obj;			/* NULL once released */
	MemoryContextCallback callback;
};

extern WixJsonHolder *wix_json_hold(MemoryContext cxt, json_object *obj);
extern void wix_json_release(WixJsonHolder *holder);
extern json_object *wix_json_parse(const char *data, size_t len,
								   const char *what);

/*
 * Building query requests and walking their pages (request.c)
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

extern const char *wix_json_string_end(const char *p, const char *end);
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
extern char *wix_iso_utc(TimestampTz ts, bool microseconds);

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

/*
 * Admin actions as SQL functions (admin.c): refunds, fulfilment, members,
 * products, inventory, bookings and wix_api(), with their server choice,
 * input checks and audit trail.
 */
extern char *wix_default_server;	/* GUC wix_admin.default_server */

/*
 * Deferred admin actions (queue.c, worker.c, and the hooks in admin.c)
 *
 * With wix_admin.defer_actions on, an admin function checks its arguments,
 * server and credentials, then enqueues itself (wix_queue_enqueue) instead
 * of calling Wix.  Delivery runs the same admin function again with the
 * stored arguments (wix_run_admin_action) as the enqueuing role, with
 * wix_delivery describing the attempt.
 */
extern bool wix_defer_actions;	/* GUC wix_admin.defer_actions */
extern int	wix_queue_max_attempts;
extern int	wix_queue_retry_delay_ms;
extern int	wix_queue_retry_max_delay_ms;
extern bool wix_deliver_in_worker;
extern int	wix_max_workers;
extern int	wix_worker_naptime_s;

/* One delivery attempt, as admin.c reports it back to queue.c. */
typedef struct WixDelivery
{
	bool		recheck;		/* an earlier attempt's outcome is unknown */
	const char *memo_in;		/* what the action noted before that attempt */
	char	   *memo_out;		/* noted before this attempt's change */
	bool		change_sent;	/* the changing request was (maybe) sent */
	long		status;			/* HTTP status of the last answer, 0: none */
	char	   *request_id;		/* its X-Wix-Request-Id, or NULL */
	MemoryContext cxt;			/* where the strings above live */
} WixDelivery;

extern WixDelivery *wix_delivery;	/* set while queue.c delivers */
extern bool wix_force_defer;	/* set while wix_enqueue() runs */

/* admin.c */
extern Datum wix_run_admin_action(FunctionCallInfo fcinfo, const char *name);

/* queue.c */
extern Datum wix_queue_enqueue(const char *action, FunctionCallInfo fcinfo,
							   const char *server_name, const char *target);
extern int	wix_queue_process(int max, bool in_procedure,
							  TimestampTz *next_due);
extern void wix_queue_init(void);

/* worker.c */
extern void wix_worker_init(void);
extern void wix_worker_wake(Oid dboid);

#endif							/* WIX_ADMIN_H */
