/*-------------------------------------------------------------------------
 *
 * wix_client.h
 *		  The Wix client: server and user-mapping settings (settings.c), and
 *		  connections that authenticate, rate-limit, retry and report Wix's
 *		  errors (connection.c) over the libcurl transport (http.c,
 *		  wix_http.h), sharing rate limits and tokens between backends when
 *		  preloaded (shared.c).  The foreign data wrapper and the admin actions both
 *		  talk to Wix only through this header.
 *
 *-------------------------------------------------------------------------
 */
#ifndef WIX_CLIENT_H
#define WIX_CLIENT_H

#include "wix_json.h"

#include "foreign/foreign.h"
#include "lib/stringinfo.h"
#include "nodes/pg_list.h"
#include "utils/timestamp.h"

#define WIX_DEFAULT_BASE_URL	"https://www.wixapis.com"

/* Which Stores catalog a site runs (members-stores-bookings.md §4). */
typedef enum WixCatalogVersion
{
	WIX_CATALOG_ANY = 0,		/* endpoint used whatever the site's catalog */
	WIX_CATALOG_V1,
	WIX_CATALOG_V3
} WixCatalogVersion;

/*
 * The requested fields (§4.5) with which Catalog V3 returns a product as the
 * products table reads it: its currency, its lowest-priced variant (sku) and
 * its plain description.  The query asks for them, and so do the product
 * actions, whose answers RETURNING converts.
 */
#define WIX_V3_PRODUCT_FIELDS \
	"\"CURRENCY\",\"MIN_PRICE_VARIANT\",\"PLAIN_DESCRIPTION\""

/*
 * Settings (settings.c)
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
	double		request_cost;	/* planner's cost of a request; -1: GUC */
} WixServerOptions;

typedef struct WixUserOptions
{
	WixAuthMode mode;
	char	   *client_id;
	char	   *client_secret;
	char	   *instance_id;
	char	   *api_key;
} WixUserOptions;

extern int	wix_max_retries;
extern int	wix_retry_base_delay_ms;
extern int	wix_retry_max_delay_ms;
extern int	wix_requests_per_minute;
extern int	wix_connect_timeout_s;
extern int	wix_request_timeout_s;
extern int	wix_max_response_size;
extern int	wix_max_concurrent_requests;
extern char *wix_allowed_base_urls;

extern void wix_client_define_gucs(void);
extern void wix_server_options(ForeignServer *server, WixServerOptions *opts);
extern void wix_user_options(UserMapping *user, WixUserOptions *opts);
extern Oid	wix_user_mapping_id(Oid userid, Oid serverid);
extern UserMapping *wix_user_mapping(Oid userid, Oid serverid);
extern void wix_check_server_option(DefElem *def);
extern void wix_check_base_url(const char *url);
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
	double		rate_limit_wait_ms; /* time spent waiting for the rate limiter */
} WixRequestStats;

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
extern WixCatalogVersion wix_site_catalog_version(WixConnection *conn,
												  WixRequestStats *stats);

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
extern WixAuthMode wix_connection_auth_mode(WixConnection *conn);

/*
 * Rate limits and OAuth tokens shared by all backends when the library is
 * preloaded (shared.c); the connection's own otherwise
 */

/* A token bucket of the rate limiter. */
typedef struct WixRateBucket
{
	double		tokens;			/* requests it may send now; < 0: reserved */
	TimestampTz at;				/* when tokens was computed; 0: new, full */
} WixRateBucket;

/* Whose shared access token: a user mapping of a database. */
typedef struct WixTokenOwner
{
	Oid			dbid;
	Oid			umid;
} WixTokenOwner;

typedef enum WixSharedTokenState
{
	WIX_TOKEN_NOT_SHARED,		/* nothing shared: use the connection's own */
	WIX_TOKEN_FOUND,			/* a copy of the shared token */
	WIX_TOKEN_FETCH_IT			/* none: the caller fetches it for everyone */
} WixSharedTokenState;

extern void wix_client_shared_init(void);
extern char *wix_site_key(const WixServerOptions *server);
extern long wix_rate_reserve(WixRateBucket *own, const char *site,
							 int per_minute);
extern WixSharedTokenState wix_shared_token_get(const WixTokenOwner *owner,
												uint64 credentials,
												MemoryContext cxt,
												char **token,
												TimestampTz *renew_at,
												uint64 *generation);
extern uint64 wix_shared_token_put(const WixTokenOwner *owner,
								   uint64 credentials, const char *token,
								   TimestampTz renew_at);
extern void wix_shared_token_abandon(int code, Datum arg);
extern void wix_shared_token_rejected(const WixTokenOwner *owner,
									  uint64 generation);

#endif							/* WIX_CLIENT_H */
