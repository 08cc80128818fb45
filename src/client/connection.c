/*-------------------------------------------------------------------------
 *
 * connection.c
 *		  Connections to Wix: one per user mapping per backend, holding a
 *		  reusable libcurl handle, the credentials and the cached OAuth access
 *		  token.  Sends requests with authentication, turns interrupts into
 *		  aborted transfers and Wix failures into PostgreSQL errors.
 *
 * Entries are dropped when their server or user mapping changes (syscache
 * invalidation, as postgres_fdw does), so ALTER USER MAPPING takes effect on
 * the next query.  No error, log line or EXPLAIN output built here contains a
 * credential or a token.
 *
 * When the library is preloaded, the rate limiter's bucket is the site's,
 * shared by every backend, and the token the user mapping's, fetched by one
 * backend for all (shared.c); otherwise both are the connection's own.
 *
 *-------------------------------------------------------------------------
 */
#include "wix_client.h"

#include "wix_compat.h"
#include "wix_http.h"

#include <math.h>
#include <time.h>

#include "common/hashfn.h"
#include "common/pg_prng.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "utils/wait_event.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

/* Wix answers 401 once a token has expired; renew it a little before. */
#define TOKEN_RENEW_MARGIN_SECS 300

struct WixConnection
{
	Oid			umid;			/* hash key: user mapping OID */
	bool		valid;			/* false once invalidated */
	uint32		server_hashvalue;
	uint32		mapping_hashvalue;
	MemoryContext cxt;			/* holds the copies below */
	char	   *server_name;
	Oid			serverid;
	Oid			server_owner;
	WixServerOptions server;
	WixUserOptions user;
	bool		plain_http_ok;
	WixHttpClient *http;
	char	   *site_key;		/* whose rate limit: see wix_site_key */
	WixRateBucket bucket;		/* the limiter's, when not the site's */
	WixTokenOwner token_owner;	/* whose shared token */
	uint64		credentials;	/* fingerprint of what a token is issued for */
	char	   *token;			/* OAuth access token, or NULL */
	TimestampTz token_renew_at;
	uint64		token_generation;	/* of the shared token; 0: our own */
	long		last_status;	/* HTTP status of the last exchange, 0 if none */
	char		last_request_id[128];	/* its X-Wix-Request-Id, or "" */
};

/* Site catalog versions, detected once per server per backend. */
typedef struct CatalogCacheEntry
{
	Oid			serverid;		/* hash key */
	WixCatalogVersion catalog;
} CatalogCacheEntry;

static HTAB *connection_cache = NULL;
static HTAB *catalog_cache = NULL;

static void connection_invalidate(Datum arg, int cacheid, uint32 hashvalue);
static WixJsonHolder *send_request(WixConnection *conn, const char *method,
								   const char *path, json_object *body,
								   WixRequestStats *stats, long accept_status,
								   bool may_repeat);
static WixJsonHolder *send_text(WixConnection *conn, const char *method,
								const char *path, char *body_text,
								WixRequestStats *stats, long accept_status,
								bool may_repeat, WixHttpResponse *answer,
								WixPeekHook peek, void *peek_arg);
static void connection_release(WixConnection *conn);

/*
 * credentials_fingerprint
 *		A hash of what an OAuth token is issued for: the credentials and the
 *		base_url.  A shared token with another fingerprint is not used.
 */
static uint64
credentials_fingerprint(const WixServerOptions *server,
						const WixUserOptions *user)
{
	const char *parts[] = {server->base_url, user->client_id,
	user->client_secret, user->instance_id};
	uint64		hash = 0;

	for (int i = 0; i < lengthof(parts); i++)
	{
		const char *part = parts[i] != NULL ? parts[i] : "";

		hash = hash_bytes_extended((const unsigned char *) part,
								   (int) strlen(part), hash);
	}
	return hash;
}

/*
 * wix_get_connection
 *		The connection for a user mapping, created or rebuilt as needed.
 */
WixConnection *
wix_get_connection(UserMapping *user)
{
	WixConnection *conn;
	bool		found;
	ForeignServer *server;
	MemoryContext oldcxt;

	if (connection_cache == NULL)
	{
		HASHCTL		ctl;

		if (!wix_http_global_init())
			ereport(ERROR,
					(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
					 errmsg("could not initialize libcurl")));
		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(WixConnection);
		connection_cache = hash_create("wix_admin connections", 8, &ctl,
									   HASH_ELEM | HASH_BLOBS);
		ctl.entrysize = sizeof(CatalogCacheEntry);
		catalog_cache = hash_create("wix_admin catalog versions", 8, &ctl,
									HASH_ELEM | HASH_BLOBS);
		CacheRegisterSyscacheCallback(FOREIGNSERVEROID,
									  connection_invalidate, (Datum) 0);
		CacheRegisterSyscacheCallback(USERMAPPINGOID,
									  connection_invalidate, (Datum) 0);
	}

	conn = hash_search(connection_cache, &user->umid, HASH_ENTER, &found);
	if (found && conn->valid)
	{
		wix_check_server_base_url(conn->server_name, conn->server_owner,
								  conn->server.base_url);
		return conn;
	}
	if (found)
		connection_release(conn);

	conn->valid = false;
	conn->http = NULL;
	conn->token = NULL;
	conn->token_generation = 0;
	conn->bucket.at = 0;
	conn->last_status = 0;
	conn->last_request_id[0] = '\0';
	conn->cxt = AllocSetContextCreate(CacheMemoryContext,
									  "wix_admin connection",
									  ALLOCSET_SMALL_SIZES);
	oldcxt = MemoryContextSwitchTo(conn->cxt);
	server = GetForeignServer(user->serverid);
	conn->serverid = server->serverid;
	conn->server_owner = server->owner;
	conn->server_name = pstrdup(server->servername);
	wix_server_options(server, &conn->server);
	wix_user_options(user, &conn->user);
	conn->site_key = wix_site_key(&conn->server);
	MemoryContextSwitchTo(oldcxt);
	conn->token_owner.dbid = MyDatabaseId;
	conn->token_owner.umid = user->umid;
	conn->credentials = credentials_fingerprint(&conn->server, &conn->user);

	conn->plain_http_ok = wix_url_is_loopback(conn->server.base_url);
	conn->server_hashvalue = GetSysCacheHashValue1(FOREIGNSERVEROID,
												   ObjectIdGetDatum(server->serverid));
	conn->mapping_hashvalue = GetSysCacheHashValue1(USERMAPPINGOID,
													ObjectIdGetDatum(user->umid));
	conn->http = wix_http_client_new();
	if (conn->http == NULL)
	{
		connection_release(conn);
		hash_search(connection_cache, &user->umid, HASH_REMOVE, NULL);
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OUT_OF_MEMORY),
				 errmsg("could not create a libcurl handle")));
	}
	conn->valid = true;
	wix_check_server_base_url(conn->server_name, conn->server_owner,
							  conn->server.base_url);
	return conn;
}

const char *
wix_connection_server_name(WixConnection *conn)
{
	return conn->server_name;
}

WixAuthMode
wix_connection_auth_mode(WixConnection *conn)
{
	return conn->user.mode;
}

/*
 * wix_connection_last_call
 *		The HTTP status (0 when no answer arrived) and X-Wix-Request-Id ("" if
 *		none) of the connection's most recent exchange, failed ones included:
 *		what an audit line reports after the call returned or raised.
 */
void
wix_connection_last_call(WixConnection *conn, long *status,
						 const char **request_id)
{
	*status = conn->last_status;
	*request_id = conn->last_request_id;
}

/* Forget the token, wiping it first. */
static void
forget_token(WixConnection *conn)
{
	if (conn->token != NULL)
	{
		explicit_bzero(conn->token, strlen(conn->token));
		pfree(conn->token);
		conn->token = NULL;
	}
}

/* Free what an entry holds; the entry itself stays in the hash table. */
static void
connection_release(WixConnection *conn)
{
	forget_token(conn);
	if (conn->user.client_secret != NULL)
		explicit_bzero(conn->user.client_secret, strlen(conn->user.client_secret));
	if (conn->user.api_key != NULL)
		explicit_bzero(conn->user.api_key, strlen(conn->user.api_key));
	wix_http_client_free(conn->http);
	conn->http = NULL;
	if (conn->cxt != NULL)
		MemoryContextDelete(conn->cxt);
	conn->cxt = NULL;
	conn->valid = false;
}

/*
 * connection_invalidate
 *		Syscache callback: a server or user mapping changed.  Entries are only
 *		marked here; wix_get_connection rebuilds them when next asked.
 */
static void
connection_invalidate(Datum arg, int cacheid, uint32 hashvalue)
{
	HASH_SEQ_STATUS scan;
	WixConnection *conn;

	hash_seq_init(&scan, connection_cache);
	while ((conn = hash_seq_search(&scan)) != NULL)
	{
		if (hashvalue == 0 ||
			(cacheid == FOREIGNSERVEROID && conn->server_hashvalue == hashvalue) ||
			(cacheid == USERMAPPINGOID && conn->mapping_hashvalue == hashvalue))
			conn->valid = false;
	}
	if (cacheid == FOREIGNSERVEROID)
	{
		CatalogCacheEntry *entry;

		/* a server's catalog_version option may have changed */
		hash_seq_init(&scan, catalog_cache);
		while ((entry = hash_seq_search(&scan)) != NULL)
			hash_search(catalog_cache, &entry->serverid, HASH_REMOVE, NULL);
	}
}

/* Progress-callback test: has the user cancelled or the server shut down? */
static bool
interrupt_requested(void *arg)
{
	return QueryCancelPending || ProcDiePending;
}

static int
http_error_sqlstate(long status)
{
	if (status == 401 || status == 403)
		return ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION;
	if (status == 429 || status >= 500)
		return ERRCODE_FDW_UNABLE_TO_CREATE_REPLY;
	return ERRCODE_FDW_UNABLE_TO_CREATE_EXECUTION;
}

static const char *
http_error_hint(long status, WixAuthMode mode)
{
	switch (status)
	{
		case 401:
			return mode == WIX_AUTH_API_KEY ?
				"Check the api_key of the user mapping and the server's site_id." :
				"Check the client_id and client_secret of the user mapping.";
		case 403:
			return "The credentials lack a permission this call needs: grant it to the API key or app in the Wix dashboard.";
		case 404:
			return "Check the id, and that the server's site_id and base_url point at the right site.";
		case 429:
			return "Wix allows about 200 requests per minute per site; wait and try again.";
		default:
			return status >= 500 ? "Wix could not answer now; try again later." : NULL;
	}
}

/*
 * report_wix_error
 *		Raise the error of a non-200 answer.  Wix sends either
 *		details.applicationError {code, description} or
 *		details.validationError.fieldViolations[], or only a message, or
 *		nothing at all; take whatever is there.  Frees *response first.
 */
static void
report_wix_error(WixConnection *conn, const char *method, const char *path,
				 WixHttpResponse *response, const char *hint_override,
				 int attempts, bool not_retried)
{
	json_object *body = NULL;
	json_object *details;
	const char *message = NULL;
	const char *code = NULL;
	char	   *field_detail = NULL;
	char	   *message_copy;
	long		status = response->status;
	char		request_id[sizeof(response->request_id)];
	const char *hint = hint_override ? hint_override :
		http_error_hint(status, conn->user.mode);

	if (response->body != NULL)
	{
		json_tokener *tok = json_tokener_new();

		if (tok != NULL)
		{
			body = json_tokener_parse_ex(tok, response->body, (int) response->body_len);
			json_tokener_free(tok);
		}
	}
	message = wix_json_get_string(body, "message");
	details = wix_json_get_type(body, "details", json_type_object);
	code = wix_json_get_string(wix_json_get_type(details, "applicationError", json_type_object), "code");
	if (code == NULL)
	{
		json_object *validation = wix_json_get_type(details, "validationError", json_type_object);
		json_object *violations;

		if (validation != NULL &&
			json_object_object_get_ex(validation, "fieldViolations", &violations) &&
			json_object_is_type(violations, json_type_array) &&
			json_object_array_length(violations) > 0)
		{
			json_object *first = json_object_array_get_idx(violations, 0);
			const char *field = wix_json_get_string(first, "field");
			const char *description = wix_json_get_string(first, "description");

			field_detail = psprintf("Invalid field %s: %s",
									field ? field : "(unnamed)",
									description ? description : "(no description)");
		}
	}
	if (code == NULL)
		code = wix_json_get_string(wix_json_get_type(details, "applicationError", json_type_object), "description");
	message_copy = pstrdup(message != NULL ? message :
						   body != NULL ? "(no message)" :
						   response->body_len > 0 ? "(the error body is not JSON)" :
						   "(empty error body)");
	code = code ? pstrdup(code) : NULL;
	strlcpy(request_id, response->request_id, sizeof(request_id));
	json_object_put(body);
	wix_http_response_free(response);

	{
		StringInfoData detail;

		initStringInfo(&detail);
		if (code != NULL)
			appendStringInfo(&detail, "Wix error code: %s. ", code);
		appendStringInfo(&detail, "Wix request id: %s.",
						 request_id[0] ? request_id : "(none)");
		if (field_detail != NULL)
			appendStringInfo(&detail, " %s.", field_detail);
		if (not_retried)
			appendStringInfoString(&detail, " The request changes data; not retried because Wix may have acted.");
		ereport(ERROR,
				(errcode(http_error_sqlstate(status)),
				 attempts > 1 ?
				 errmsg("Wix API request %s %s failed with HTTP %ld after %d attempts: %s",
						method, path, status, attempts, message_copy) :
				 errmsg("Wix API request %s %s failed with HTTP %ld: %s",
						method, path, status, message_copy),
				 errdetail_internal("%s", detail.data),
				 hint ? errhint("%s", hint) : 0));
	}
}

/* A request setting: the server's option, else the GUC. */
static int
setting(int server_value, int guc_value)
{
	return server_value >= 0 ? server_value : guc_value;
}

/*
 * wait_ms
 *		Sleep on the latch, so that a cancel or a shutdown interrupts the wait,
 *		showing event in pg_stat_activity.
 */
static void
wait_ms(long ms, WixWaitEvent event)
{
	TimestampTz end = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), ms);

	for (;;)
	{
		long		left = (end - GetCurrentTimestamp()) / 1000;

		if (left <= 0)
			break;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 left, wix_wait_event_info(event));
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
}

/*
 * rate_limit
 *		Wait for the token bucket: at most requests_per_minute requests in
 *		any 60 seconds, a burst of them at once (shared.c), so that a long
 *		scan stays under Wix's limit instead of bouncing off 429s.  The
 *		bucket is the site's when the library is preloaded, else the
 *		connection's.  The time spent waiting is added to stats (when
 *		given), for EXPLAIN ANALYZE.
 */
static void
rate_limit(WixConnection *conn, WixRequestStats *stats)
{
	int			per_minute = setting(conn->server.requests_per_minute,
									 wix_requests_per_minute);
	long		ms;
	TimestampTz start;

	if (per_minute <= 0)
		return;
	ms = wix_rate_reserve(&conn->bucket, conn->site_key, per_minute);
	if (ms <= 0)
		return;
	elog(DEBUG1, "wix_admin: rate limit: waiting %ld ms", ms);
	start = GetCurrentTimestamp();
	wait_ms(ms, WIX_WAIT_RATE_LIMIT);
	if (stats != NULL)
		stats->rate_limit_wait_ms += (GetCurrentTimestamp() - start) / 1000.0;
}

/* The wait before retry number "attempt" (1, 2, ...): doubling, jittered. */
static long
backoff_ms(int attempt)
{
	double		ms = wix_retry_base_delay_ms * pow(2.0, Min(attempt - 1, 20));

	ms = Min(ms, wix_retry_max_delay_ms);
	return (long) (ms / 2 + pg_prng_double(&pg_global_prng_state) * ms / 2);
}

/* Retry-After in milliseconds (seconds or an HTTP date), or -1. */
static long
retry_after_ms(const WixHttpResponse *response)
{
	const char *value = response->retry_after;
	char	   *end;
	long		seconds;
	time_t		when;

	if (value[0] == '\0')
		return -1;
	seconds = strtol(value, &end, 10);
	if (end != value && *end == '\0' && seconds >= 0)
		return Min(seconds * 1000, (long) wix_retry_max_delay_ms);
	when = curl_getdate(value, NULL);
	if (when < 0)
		return -1;
	return Min(Max(0, (long) (when - time(NULL)) * 1000), (long) wix_retry_max_delay_ms);
}

static bool
retryable_status(long status)
{
	return status == 429 || status == 500 || status == 502 ||
		status == 503 || status == 504;
}

/* Transport failures worth another try: the connection, not the request. */
static bool
retryable_transport(CURLcode code)
{
	switch (code)
	{
		case CURLE_COULDNT_CONNECT:
		case CURLE_COULDNT_RESOLVE_HOST:
		case CURLE_SEND_ERROR:
		case CURLE_RECV_ERROR:
		case CURLE_GOT_NOTHING:
		case CURLE_PARTIAL_FILE:
		case CURLE_SSL_CONNECT_ERROR:
		case CURLE_HTTP2:
		case CURLE_HTTP2_STREAM:
			return true;
		default:
			return false;
	}
}

/*
 * request_for
 *		Fill *request for the connection's URL, settings and interrupt check;
 *		returns the palloc'd URL it points to.
 */
static char *
request_for(WixConnection *conn, const char *method, const char *path,
			const char *body, const char *const *headers,
			WixHttpRequest *request)
{
	char	   *url = psprintf("%s%s", conn->server.base_url, path);

	memset(request, 0, sizeof(*request));
	request->method = method;
	request->url = url;
	request->body = body;
	request->headers = headers;
	request->allow_plain_http = conn->plain_http_ok;
	request->connect_timeout_ms = setting(conn->server.connect_timeout_ms,
										  wix_connect_timeout_s * 1000);
	request->timeout_ms = setting(conn->server.request_timeout_ms,
								  wix_request_timeout_s * 1000);
	request->max_body_size = setting(conn->server.max_response_size,
									 wix_max_response_size);
	request->should_abort = interrupt_requested;
	return url;
}

/*
 * perform_once
 *		Send one request.  Only an interrupt raises an error here; the caller
 *		owns *response afterwards.
 */
static void
perform_once(WixConnection *conn, const char *method, const char *path,
			 const char *body, const char *const *headers,
			 WixHttpResponse *response)
{
	WixHttpRequest request;
	char	   *url = request_for(conn, method, path, body, headers, &request);

	elog(DEBUG1, "wix_admin: %s %s", method, path);
	conn->last_status = 0;
	conn->last_request_id[0] = '\0';
	pgstat_report_wait_start(wix_wait_event_info(WIX_WAIT_REQUEST));
	wix_http_perform(conn->http, &request, response);
	pgstat_report_wait_end();
	pfree(url);
	conn->last_status = response->status;
	strlcpy(conn->last_request_id, response->request_id,
			sizeof(conn->last_request_id));

	if (response->aborted)
	{
		wix_http_response_free(response);
		CHECK_FOR_INTERRUPTS();
		ereport(ERROR,
				(errcode(ERRCODE_QUERY_CANCELED),
				 errmsg("canceling Wix API request %s %s", method, path)));
	}
	if (response->curl_code == CURLE_OK)
		elog(DEBUG1, "wix_admin: HTTP %ld, Wix request id %s",
			 response->status, response->request_id);
}

/* Raise the error of a transport failure; frees *response. */
static void
report_transport_error(WixConnection *conn, const char *method,
					   const char *path, WixHttpResponse *response,
					   int attempts, bool not_retried)
{
	CURLcode	code = response->curl_code;
	bool		too_large = response->body_too_large;
	char		errbuf[CURL_ERROR_SIZE];
	char	   *tries = attempts > 1 ? psprintf(" after %d attempts", attempts) : "";

	strlcpy(errbuf, response->error, sizeof(errbuf));
	wix_http_response_free(response);

	if (too_large)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("Wix API response to %s %s exceeds %d bytes",
						method, path, setting(conn->server.max_response_size,
											  wix_max_response_size)),
				 errhint("The server option max_response_size or wix_admin.max_response_size sets the limit.")));
	if (code == CURLE_OPERATION_TIMEDOUT)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
				 errmsg("Wix API request %s %s timed out%s", method, path, tries),
				 errdetail("%s", errbuf),
				 errhint("The server options connect_timeout and request_timeout, else wix_admin.connect_timeout and wix_admin.request_timeout, set the limits.")));
	ereport(ERROR,
			(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
			 errmsg("could not reach Wix for %s %s%s: %s", method, path, tries, errbuf),
			 not_retried ?
			 errdetail("The request changes data and may have reached Wix; not retried because Wix may have acted.") : 0,
			 errhint("Check the server's base_url and the network.")));
}

/*
 * exchange
 *		Send a request, through the rate limiter, retrying 429, 500, 502, 503,
 *		504 and dropped connections with exponential backoff and jitter (or
 *		Retry-After), up to max_retries times.  A request that changes data
 *		(may_repeat false) is retried only when Wix cannot have acted on it:
 *		a 429, or a failure before the request was sent.  Returns the final
 *		HTTP answer, which may still be an error; raises for transport
 *		failures.  With answered, *response already holds the first answer.
 *		*attempts counts on from its value.
 */
static void
exchange(WixConnection *conn, const char *method, const char *path,
		 const char *body, const char *const *headers, bool may_repeat,
		 WixRequestStats *stats, WixHttpResponse *response, int *attempts,
		 bool answered)
{
	int			max_retries = setting(conn->server.max_retries, wix_max_retries);

	for (;;)
	{
		long		delay;

		/* the first answer may have come from a request started earlier */
		if (!answered)
		{
			rate_limit(conn, stats);
			perform_once(conn, method, path, body, headers, response);
			if (stats != NULL)
				stats->requests++;
		}
		answered = false;
		(*attempts)++;

		if (response->curl_code != CURLE_OK)
		{
			bool		safe = may_repeat || !response->request_sent;

			if (!retryable_transport(response->curl_code) || !safe ||
				*attempts > max_retries)
				report_transport_error(conn, method, path, response, *attempts,
									   !safe && retryable_transport(response->curl_code));
			delay = backoff_ms(*attempts);
		}
		else if (retryable_status(response->status))
		{
			if (*attempts > max_retries || !(may_repeat || response->status == 429))
				return;
			delay = retry_after_ms(response);
			if (delay < 0)
				delay = backoff_ms(*attempts);
		}
		else
			return;

		elog(DEBUG1, "wix_admin: %s %s failed (%s); retry %d of %d in %ld ms",
			 method, path,
			 response->curl_code != CURLE_OK ? response->error :
			 psprintf("HTTP %ld", response->status),
			 *attempts, max_retries, delay);
		wix_http_response_free(response);
		wait_ms(delay, WIX_WAIT_REQUEST);
	}
}

/*
 * fetch_token
 *		Exchange the OAuth client credentials for an access token (Create
 *		Access Token, auth-and-orders.md §1.1).  The request body holds the
 *		client secret: it is wiped as soon as it is sent and never logged.
 */
static void
fetch_token(WixConnection *conn)
{
	json_object *request = json_object_new_object();
	const char *headers[] = {"Content-Type: application/json",
	"Accept: application/json", "Expect:", NULL};
	WixHttpResponse response;
	char	   *body;
	json_object *answer = NULL;
	json_object *value;
	const char *token = NULL;
	double		expires_in = 14400;
	int			attempts = 0;

	json_object_object_add(request, "grant_type",
						   json_object_new_string("client_credentials"));
	json_object_object_add(request, "client_id",
						   json_object_new_string(conn->user.client_id));
	json_object_object_add(request, "client_secret",
						   json_object_new_string(conn->user.client_secret));
	if (conn->user.instance_id != NULL)
		json_object_object_add(request, "instance_id",
							   json_object_new_string(conn->user.instance_id));
	body = pstrdup(json_object_to_json_string_ext(request, JSON_C_TO_STRING_PLAIN));
	{
		/* wipe json-c's copies of the secret */
		json_object *secret;

		json_object_object_get_ex(request, "client_secret", &secret);
		explicit_bzero((char *) json_object_get_string(secret),
					   json_object_get_string_len(secret));
		explicit_bzero((char *) json_object_to_json_string_ext(request, JSON_C_TO_STRING_PLAIN),
					   strlen(body));
		json_object_put(request);
	}

	PG_TRY();
	{
		exchange(conn, "POST", "/oauth2/token", body, headers, true, NULL,
				 &response, &attempts, false);
	}
	PG_FINALLY();
	{
		explicit_bzero(body, strlen(body));
		pfree(body);
	}
	PG_END_TRY();

	if (response.status != 200)
		report_wix_error(conn, "POST", "/oauth2/token", &response,
						 response.status >= 500 || response.status == 429 ? NULL :
						 "Check the client_id and client_secret of the user mapping.",
						 attempts, false);

	if (response.body != NULL)
	{
		json_tokener *tok = json_tokener_new();

		if (tok != NULL)
		{
			answer = json_tokener_parse_ex(tok, response.body, (int) response.body_len);
			json_tokener_free(tok);
		}
	}
	token = wix_json_get_string(answer, "access_token");
	if (answer != NULL && json_object_object_get_ex(answer, "expires_in", &value) &&
		(json_object_is_type(value, json_type_int) ||
		 json_object_is_type(value, json_type_double) ||
		 json_object_is_type(value, json_type_string)))
		expires_in = json_object_get_double(value);

	if (token == NULL || token[0] == '\0' || expires_in <= 0)
	{
		json_object_put(answer);
		if (response.body != NULL)
			explicit_bzero(response.body, response.body_len);
		wix_http_response_free(&response);
		ereport(ERROR,
				(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
				 errmsg("Wix OAuth token response has no usable access_token and expires_in")));
	}

	forget_token(conn);
	conn->token = MemoryContextStrdup(conn->cxt, token);
	{
		double		margin = Min(TOKEN_RENEW_MARGIN_SECS, expires_in / 2);

		conn->token_renew_at = GetCurrentTimestamp() +
			(TimestampTz) ((expires_in - margin) * USECS_PER_SEC);
	}
	explicit_bzero((char *) token, strlen(token));
	json_object_put(answer);
	explicit_bzero(response.body, response.body_len);
	wix_http_response_free(&response);
	elog(DEBUG1, "wix_admin: obtained an access token for server \"%s\", valid %.0f s",
		 conn->server_name, expires_in);
}

/*
 * obtain_token
 *		Give the connection a usable access token: the user mapping's shared
 *		one when the library is preloaded (fetched here for every backend when
 *		there is none, or waited for while another backend fetches it), else
 *		one of its own.
 */
static void
obtain_token(WixConnection *conn)
{
	char	   *token;
	TimestampTz renew_at;

	switch (wix_shared_token_get(&conn->token_owner, conn->credentials,
								 conn->cxt, &token, &renew_at,
								 &conn->token_generation))
	{
		case WIX_TOKEN_FOUND:
			forget_token(conn);
			conn->token = token;
			conn->token_renew_at = renew_at;
			break;
		case WIX_TOKEN_NOT_SHARED:
			fetch_token(conn);
			conn->token_generation = 0;
			break;
		case WIX_TOKEN_FETCH_IT:
			PG_ENSURE_ERROR_CLEANUP(wix_shared_token_abandon,
									PointerGetDatum(&conn->token_owner));
			{
				fetch_token(conn);
			}
			PG_END_ENSURE_ERROR_CLEANUP(wix_shared_token_abandon,
										PointerGetDatum(&conn->token_owner));
			conn->token_generation =
				wix_shared_token_put(&conn->token_owner, conn->credentials,
									 conn->token, conn->token_renew_at);
			break;
	}
}

/*
 * wix_request
 *		Send an authenticated request that only reads (a query, a search, a
 *		count) and return the parsed 200 answer, held by CurrentMemoryContext.
 *		Failures Wix reports as transient are retried; a 401 with an OAuth
 *		token renews the token and tries once more.
 */
WixJsonHolder *
wix_request(WixConnection *conn, const char *method, const char *path,
			json_object *body, WixRequestStats *stats)
{
	return send_request(conn, method, path, body, stats, 0, true);
}

/*
 * wix_request_ext
 *		A request that may change data: retried only when Wix cannot have
 *		acted on it (GETs are retried like reads).  An answer with HTTP status
 *		accept_status (e.g. 409, a revision conflict the caller retries) is
 *		returned rather than raised: its body, when it is a JSON object, else
 *		a holder of NULL.  wix_connection_last_call tells the status.
 */
WixJsonHolder *
wix_request_ext(WixConnection *conn, const char *method, const char *path,
				json_object *body, WixRequestStats *stats, long accept_status)
{
	return send_request(conn, method, path, body, stats, accept_status,
						strcmp(method, "GET") == 0);
}

/* The body of wix_request and wix_request_ext. */
static WixJsonHolder *
send_request(WixConnection *conn, const char *method, const char *path,
			 json_object *body, WixRequestStats *stats, long accept_status,
			 bool may_repeat)
{
	char	   *body_text = NULL;

	if (body != NULL)
	{
		body_text = pstrdup(json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN));
		elog(DEBUG2, "wix_admin: request body %s", body_text);
	}
	return send_text(conn, method, path, body_text, stats, accept_status,
					 may_repeat, NULL, NULL, NULL);
}

/*
 * auth_headers
 *		The headers of an authenticated request, after renewing the OAuth
 *		token when it is about to expire.  *auth_header and *site_header are
 *		palloc'd; the caller wipes and frees them.
 */
static void
auth_headers(WixConnection *conn, bool has_body, const char *headers[6],
			 char **auth_header, char **site_header)
{
	int			n = 0;

	if (conn->user.mode == WIX_AUTH_OAUTH &&
		(conn->token == NULL || GetCurrentTimestamp() >= conn->token_renew_at))
		obtain_token(conn);

	*auth_header = psprintf("Authorization: %s",
							conn->user.mode == WIX_AUTH_OAUTH ?
							conn->token : conn->user.api_key);
	*site_header = NULL;
	headers[n++] = *auth_header;
	if (conn->user.mode == WIX_AUTH_API_KEY)
	{
		*site_header = conn->server.site_id != NULL ?
			psprintf("wix-site-id: %s", conn->server.site_id) :
			psprintf("wix-account-id: %s", conn->server.account_id);
		headers[n++] = *site_header;
	}
	headers[n++] = "Accept: application/json";
	if (has_body)
		headers[n++] = "Content-Type: application/json";
	headers[n++] = "Expect:";
	headers[n] = NULL;
}

static void
free_auth_headers(char *auth_header, char *site_header)
{
	explicit_bzero(auth_header, strlen(auth_header));
	pfree(auth_header);
	if (site_header)
		pfree(site_header);
}

/*
 * send_text
 *		send_request with the body as text; frees body_text.  A non-NULL
 *		answer is the first attempt's answer, already received.  peek, when
 *		given, sees a 200 answer's raw body before it is parsed.
 */
static WixJsonHolder *
send_text(WixConnection *conn, const char *method, const char *path,
		  char *body_text, WixRequestStats *stats, long accept_status,
		  bool may_repeat, WixHttpResponse *answer, WixPeekHook peek,
		  void *peek_arg)
{
	WixHttpResponse response;
	WixJsonHolder *holder;
	bool		renewed = false;
	int			attempts = 0;

	if (answer != NULL)
		response = *answer;

	for (;;)
	{
		const char *headers[6];
		char	   *auth_header;
		char	   *site_header;

		auth_headers(conn, body_text != NULL, headers, &auth_header, &site_header);

		PG_TRY();
		{
			exchange(conn, method, path, body_text, headers, may_repeat, stats,
					 &response, &attempts, answer != NULL);
		}
		PG_FINALLY();
		{
			free_auth_headers(auth_header, site_header);
		}
		PG_END_TRY();
		answer = NULL;

		if (response.status == 401 && conn->user.mode == WIX_AUTH_OAUTH && !renewed)
		{
			/* the token expired early or was revoked: get a new one, once */
			wix_http_response_free(&response);
			wix_shared_token_rejected(&conn->token_owner, conn->token_generation);
			forget_token(conn);
			renewed = true;
			continue;
		}
		break;
	}

	if (response.status != 200 && accept_status != 0 &&
		response.status == accept_status)
	{
		json_object *parsed = NULL;

		if (response.body != NULL && response.body_len > 0)
		{
			json_tokener *tok = json_tokener_new();

			if (tok != NULL)
			{
				parsed = json_tokener_parse_ex(tok, response.body,
											   (int) response.body_len);
				json_tokener_free(tok);
			}
			if (parsed != NULL && !json_object_is_type(parsed, json_type_object))
			{
				json_object_put(parsed);
				parsed = NULL;
			}
		}
		wix_http_response_free(&response);
		if (body_text != NULL)
			pfree((char *) body_text);
		return wix_json_hold(CurrentMemoryContext, parsed);
	}

	if (response.status != 200)
		report_wix_error(conn, method, path, &response, NULL, attempts,
						 !may_repeat && retryable_status(response.status) &&
						 response.status != 429);

	PG_TRY();
	{
		json_object *parsed;

		if (peek != NULL && peek(response.body, response.body_len, peek_arg))
			parsed = NULL;		/* the caller read what it needed */
		else
			parsed = wix_json_parse(response.body, response.body_len, path);

		holder = wix_json_hold(CurrentMemoryContext, parsed);
	}
	PG_FINALLY();
	{
		wix_http_response_free(&response);
	}
	PG_END_TRY();
	if (body_text != NULL)
		pfree((char *) body_text);
	return holder;
}

/* A read started with wix_request_start. */
struct WixPendingRequest
{
	WixConnection *conn;
	WixHttpTransfer *transfer;	/* NULL once finished or cancelled */
	WixHttpClient *http;		/* the client the transfer belongs to */
	const char *method;			/* "POST", or "GET" without a body */
	char	   *path;
	char	   *body_text;		/* NULL for a GET */
	WixRequestStats *stats;
	MemoryContextCallback cancel;
};

/* Memory-context callback: abandon a transfer nobody will finish. */
static void
cancel_pending(void *arg)
{
	WixPendingRequest *pending = arg;

	if (pending->transfer != NULL)
		wix_http_cancel(pending->http, pending->transfer);
	pending->transfer = NULL;
}

/*
 * wix_request_start
 *		Start a read (POST with a JSON body, or GET when body is NULL: its
 *		parameters are in path's query string) and return at once; its answer
 *		is collected by wix_request_finish.  Meanwhile the caller works and
 *		the transfer progresses, so page k+1 is on its way while page k is
 *		read.  An unfinished request is abandoned when CurrentMemoryContext
 *		is reset.
 */
WixPendingRequest *
wix_request_start(WixConnection *conn, const char *path, json_object *body,
				  WixRequestStats *stats)
{
	WixPendingRequest *pending = palloc0(sizeof(WixPendingRequest));
	WixHttpRequest request;
	const char *headers[6];
	char	   *auth_header;
	char	   *site_header;
	char	   *url;

	pending->conn = conn;
	pending->http = conn->http;
	pending->path = pstrdup(path);
	pending->method = body != NULL ? "POST" : "GET";
	pending->body_text = body != NULL ?
		pstrdup(json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN)) : NULL;
	pending->stats = stats;
	pending->cancel.func = cancel_pending;
	pending->cancel.arg = pending;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, &pending->cancel);
	if (body != NULL)
		elog(DEBUG2, "wix_admin: request body %s", pending->body_text);

	rate_limit(conn, stats);
	auth_headers(conn, body != NULL, headers, &auth_header, &site_header);
	url = request_for(conn, pending->method, path, pending->body_text, headers,
					  &request);

	elog(DEBUG1, "wix_admin: %s %s (started)", pending->method, path);
	pending->transfer = wix_http_start(conn->http, &request);
	free_auth_headers(auth_header, site_header);
	pfree(url);
	if (pending->transfer == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	if (stats != NULL)
		stats->requests++;
	return pending;
}

/*
 * wix_request_finish
 *		Wait for a started read and return its parsed answer, held by
 *		CurrentMemoryContext.  The answer counts as the first attempt of the
 *		synchronous path, which retries, renews the token and reports errors
 *		exactly as wix_request does.  peek sees the raw body of the final 200
 *		answer before it is parsed; when it returns true the answer is not
 *		parsed and the holder holds NULL.
 */
WixJsonHolder *
wix_request_finish(WixPendingRequest *pending, WixPeekHook peek, void *peek_arg)
{
	WixConnection *conn = pending->conn;
	WixHttpResponse response;

	pgstat_report_wait_start(wix_wait_event_info(WIX_WAIT_REQUEST));
	wix_http_finish(pending->http, pending->transfer, &response);
	pgstat_report_wait_end();
	pending->transfer = NULL;
	conn->last_status = response.status;
	strlcpy(conn->last_request_id, response.request_id,
			sizeof(conn->last_request_id));

	if (response.aborted)
	{
		wix_http_response_free(&response);
		CHECK_FOR_INTERRUPTS();
		ereport(ERROR,
				(errcode(ERRCODE_QUERY_CANCELED),
				 errmsg("canceling Wix API request %s %s", pending->method,
						pending->path)));
	}
	/* retries, token renewal and errors as for wix_request */
	return send_text(conn, pending->method, pending->path,
					 pending->body_text ? pstrdup(pending->body_text) : NULL,
					 pending->stats, 0, true, &response, peek, peek_arg);
}

/*
 * wix_connection_concurrency
 *		How many pages a scan may have in flight on this connection.
 */
int
wix_connection_concurrency(WixConnection *conn)
{
	return Min(16, Max(1, setting(conn->server.max_concurrent_requests,
								  wix_max_concurrent_requests)));
}

/*
 * wix_connection_poll
 *		Move the connection's transfers along without waiting.
 */
void
wix_connection_poll(WixConnection *conn)
{
	wix_http_poll(conn->http);
}

/*
 * wix_site_catalog_version
 *		Ask Wix now which Stores catalog the site runs (Get Catalog Version,
 *		one GET without parameters): V1, V3, or WIX_CATALOG_ANY when Wix
 *		Stores is not installed.
 */
WixCatalogVersion
wix_site_catalog_version(WixConnection *conn, WixRequestStats *stats)
{
	WixJsonHolder *answer;
	json_object *version;
	WixCatalogVersion catalog = WIX_CATALOG_ANY;

	answer = wix_request(conn, "GET", "/stores/v3/provision/version", NULL, stats);
	version = answer->obj;
	if (json_object_is_type(version, json_type_object) &&
		json_object_object_get_ex(version, "catalogVersion", &version) &&
		json_object_is_type(version, json_type_string))
	{
		const char *name = json_object_get_string(version);

		if (strcmp(name, "V1_CATALOG") == 0)
			catalog = WIX_CATALOG_V1;
		else if (strcmp(name, "V3_CATALOG") == 0)
			catalog = WIX_CATALOG_V3;
		else if (strcmp(name, "STORES_NOT_INSTALLED") != 0)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("unknown Wix Stores catalog version \"%s\"", name),
					 errhint("Set the server option catalog_version to V1 or V3.")));
	}
	else
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("Wix catalog version response has no catalogVersion"),
				 errhint("Set the server option catalog_version to V1 or V3.")));
	wix_json_release(answer);
	return catalog;
}

/*
 * wix_catalog_version
 *		The site's Stores catalog (V1 or V3): the server option when set,
 *		otherwise asked of Wix once per server per backend.
 */
WixCatalogVersion
wix_catalog_version(WixConnection *conn)
{
	CatalogCacheEntry *entry;
	WixCatalogVersion catalog;
	bool		found;

	if (conn->server.catalog != WIX_CATALOG_ANY)
		return conn->server.catalog;

	entry = hash_search(catalog_cache, &conn->serverid, HASH_FIND, &found);
	if (found)
		return entry->catalog;

	catalog = wix_site_catalog_version(conn, NULL);
	if (catalog == WIX_CATALOG_ANY)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_TABLE_NOT_FOUND),
				 errmsg("Wix Stores is not installed on the site of server \"%s\"",
						conn->server_name),
				 errhint("Add the Wix Stores app to the site to query its products.")));

	entry = hash_search(catalog_cache, &conn->serverid, HASH_ENTER, &found);
	entry->catalog = catalog;
	return catalog;
}
