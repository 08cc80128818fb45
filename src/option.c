/*-------------------------------------------------------------------------
 *
 * option.c
 *		  Options of the wix_admin wrapper, servers, user mappings, foreign
 *		  tables and columns: the validator and the typed readers.
 *
 * Secrets (client_secret, api_key) are accepted only in user mappings, whose
 * options PostgreSQL hides from other users in pg_user_mappings.
 *
 *-------------------------------------------------------------------------
 */
#include "wix_admin.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <limits.h>
#include <math.h>

#include "access/reloptions.h"
#include "catalog/pg_foreign_server.h"
#include "catalog/pg_foreign_table.h"
#include "catalog/pg_user_mapping.h"
#include "commands/defrem.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/varlena.h"


typedef struct WixOption
{
	const char *keyword;
	Oid			context;		/* catalog the option belongs to */
} WixOption;

static const WixOption valid_options[] = {
	{"base_url", ForeignServerRelationId},
	{"site_id", ForeignServerRelationId},
	{"account_id", ForeignServerRelationId},
	{"catalog_version", ForeignServerRelationId},
	{"connect_timeout", ForeignServerRelationId},
	{"request_timeout", ForeignServerRelationId},
	{"use_remote_estimate", ForeignServerRelationId},
	{"max_retries", ForeignServerRelationId},
	{"requests_per_minute", ForeignServerRelationId},
	{"max_response_size", ForeignServerRelationId},
	{"max_concurrent_requests", ForeignServerRelationId},
	{"client_id", UserMappingRelationId},
	{"client_secret", UserMappingRelationId},
	{"instance_id", UserMappingRelationId},
	{"api_key", UserMappingRelationId},
	{"resource", ForeignTableRelationId},
	{"rows", ForeignTableRelationId},
	{"use_remote_estimate", ForeignTableRelationId},
	{"path", AttributeRelationId},
	{NULL, InvalidOid}
};

/* GUCs switching each pushdown off, for comparisons and tests */
bool		wix_enable_where_pushdown = true;
bool		wix_enable_order_by_pushdown = true;
bool		wix_enable_limit_pushdown = true;

/* GUC defaults of the request settings a server option may override */
int			wix_max_retries = 5;
int			wix_retry_base_delay_ms = 250;
int			wix_retry_max_delay_ms = 30000;
int			wix_requests_per_minute = 200;
int			wix_connect_timeout_s = 10;
int			wix_request_timeout_s = 60;
int			wix_max_response_size = 64 * 1024 * 1024;
int			wix_max_pages = 100000;
int			wix_max_concurrent_requests = 4;

/* URL prefixes a server not owned by a superuser may use as base_url */
char	   *wix_allowed_base_urls = "";

PG_FUNCTION_INFO_V1(wix_admin_fdw_validator);

void		_PG_init(void);

static bool check_allowed_base_urls(char **newval, void **extra,
									GucSource source);

/*
 * _PG_init
 *		Define wix_admin's configuration parameters (the admin functions'
 *		default server included).
 */
void
_PG_init(void)
{
	DefineCustomBoolVariable("wix_admin.enable_where_pushdown",
							 "Sends WHERE conditions to Wix where Wix can evaluate them.",
							 NULL, &wix_enable_where_pushdown, true,
							 PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomBoolVariable("wix_admin.enable_order_by_pushdown",
							 "Lets Wix sort rows where it can sort by the ORDER BY keys.",
							 NULL, &wix_enable_order_by_pushdown, true,
							 PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomBoolVariable("wix_admin.enable_limit_pushdown",
							 "Sends LIMIT to Wix as the page size when Wix evaluates the whole query.",
							 NULL, &wix_enable_limit_pushdown, true,
							 PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("wix_admin.default_server",
							   "The wix_admin server the admin functions use when none is given.",
							   "Empty: the only wix_admin server of the database.",
							   &wix_default_server, "",
							   PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("wix_admin.max_retries",
							"Retries of a Wix request that failed with 429, 5xx or a dropped connection.",
							"Changing admin actions are retried only when Wix cannot have acted.",
							&wix_max_retries, 5, 0, 100,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("wix_admin.retry_base_delay",
							"First wait before a retry; it doubles with each attempt, with jitter.",
							NULL, &wix_retry_base_delay_ms, 250, 1, 600000,
							PGC_USERSET, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("wix_admin.retry_max_delay",
							"Longest wait before a retry, Retry-After included.",
							NULL, &wix_retry_max_delay_ms, 30000, 1, 3600000,
							PGC_USERSET, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("wix_admin.requests_per_minute",
							"Most requests a backend sends to one Wix site in any minute (0: no limit).",
							"Wix allows about 200 per minute per site.",
							&wix_requests_per_minute, 200, 0, 1000000,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("wix_admin.connect_timeout",
							"Time allowed to connect to Wix.",
							NULL, &wix_connect_timeout_s, 10, 1, 3600,
							PGC_USERSET, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("wix_admin.request_timeout",
							"Time allowed for one whole Wix request.",
							NULL, &wix_request_timeout_s, 60, 1, 3600,
							PGC_USERSET, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("wix_admin.max_response_size",
							"Largest Wix response body accepted.",
							NULL, &wix_max_response_size, 64 * 1024 * 1024, 1024, INT_MAX,
							PGC_USERSET, GUC_UNIT_BYTE, NULL, NULL, NULL);
	DefineCustomIntVariable("wix_admin.max_pages",
							"Most pages one scan reads before it gives up on paging that never ends.",
							NULL, &wix_max_pages, 100000, 1, INT_MAX,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("wix_admin.max_concurrent_requests",
							"Pages of an offset-paged scan requested ahead, in parallel.",
							"A query with LIMIT requests at most one page ahead.",
							&wix_max_concurrent_requests, 4, 1, 16,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("wix_admin.allowed_base_urls",
							   "URL prefixes that servers not owned by a superuser may use as base_url.",
							   "Comma-separated, such as 'https://wix-proxy.example.com/'. Empty: only https://www.wixapis.com.",
							   &wix_allowed_base_urls, "",
							   PGC_SUSET, GUC_LIST_INPUT,
							   check_allowed_base_urls, NULL, NULL);
	DefineCustomBoolVariable("wix_admin.defer_actions",
							 "Queues admin actions until the transaction commits instead of calling Wix at once.",
							 "A background worker or CALL wix_admin.process_queue() delivers them.",
							 &wix_defer_actions, false,
							 PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("wix_admin.queue_max_attempts",
							"Most attempts at delivering a queued action that fails transiently.",
							NULL, &wix_queue_max_attempts, 10, 1, 1000,
							PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("wix_admin.queue_retry_delay",
							"Wait before the second attempt at a queued action; it doubles with each attempt.",
							NULL, &wix_queue_retry_delay_ms, 10000, 1, 86400000,
							PGC_SUSET, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("wix_admin.queue_retry_max_delay",
							"Longest wait between attempts at a queued action.",
							NULL, &wix_queue_retry_max_delay_ms, 3600000, 1, 86400000,
							PGC_SUSET, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomBoolVariable("wix_admin.deliver_in_worker",
							 "Lets the background worker deliver the database's queued actions.",
							 "Off: only CALL wix_admin.process_queue() does.",
							 &wix_deliver_in_worker, true,
							 PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("wix_admin.max_workers",
							"Most background workers delivering queued actions at once, one per database.",
							NULL, &wix_max_workers, 2, 1, 64,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("wix_admin.worker_naptime",
							"Time between the launcher's sweeps of every database for queued actions.",
							"Commits wake the workers at once; the sweep is a safety net.",
							&wix_worker_naptime_s, 300, 1, 86400,
							PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);
#if PG_VERSION_NUM >= 150000
	MarkGUCPrefixReserved("wix_admin");
#else
	EmitWarningsOnPlaceholders("wix_admin");
#endif

	wix_queue_init();
	wix_worker_init();
}

static bool
is_valid_option(const char *keyword, Oid context)
{
	for (const WixOption *opt = valid_options; opt->keyword; opt++)
	{
		if (context == opt->context && strcmp(opt->keyword, keyword) == 0)
			return true;
	}
	return false;
}

static char *
valid_option_list(Oid context)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (const WixOption *opt = valid_options; opt->keyword; opt++)
	{
		if (context == opt->context)
			appendStringInfo(&buf, "%s%s", buf.len > 0 ? ", " : "",
							 opt->keyword);
	}
	return buf.data;
}

/*
 * wix_url_is_loopback
 *		Is the URL's host this machine (localhost, 127.0.0.0/8, ::1)?
 */
bool
wix_url_is_loopback(const char *url)
{
	CURLU	   *parsed = curl_url();
	char	   *host = NULL;
	bool		loopback = false;

	if (parsed == NULL)
		return false;
	if (curl_url_set(parsed, CURLUPART_URL, url, 0) == CURLUE_OK &&
		curl_url_get(parsed, CURLUPART_HOST, &host, 0) == CURLUE_OK)
	{
		struct in_addr addr4;

		if (pg_strcasecmp(host, "localhost") == 0 || strcmp(host, "[::1]") == 0)
			loopback = true;
		else if (inet_pton(AF_INET, host, &addr4) == 1)
			loopback = (ntohl(addr4.s_addr) >> 24) == 127;
	}
	curl_free(host);
	curl_url_cleanup(parsed);
	return loopback;
}

/*
 * check_base_url
 *		https with any host, or http to a loopback host (the emulator).
 */
static void
check_base_url(const char *url)
{
	CURLU	   *parsed = curl_url();
	char	   *scheme = NULL;
	char	   *query = NULL;
	bool		ok;

	if (parsed == NULL)
		ereport(ERROR, (errcode(ERRCODE_FDW_OUT_OF_MEMORY),
						errmsg("out of memory")));
	ok = curl_url_set(parsed, CURLUPART_URL, url, 0) == CURLUE_OK &&
		curl_url_get(parsed, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK;
	if (ok)
		ok = curl_url_get(parsed, CURLUPART_QUERY, &query, 0) == CURLUE_NO_QUERY;
	if (ok && strcmp(scheme, "https") != 0 &&
		!(strcmp(scheme, "http") == 0 && wix_url_is_loopback(url)))
	{
		curl_free(scheme);
		curl_free(query);
		curl_url_cleanup(parsed);
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
				 errmsg("base_url must use https"),
				 errdetail("Plain http is accepted only for loopback hosts (localhost, 127.0.0.1, [::1])."),
				 errhint("Use the default, https://www.wixapis.com, for a real Wix site.")));
	}
	curl_free(scheme);
	curl_free(query);
	curl_url_cleanup(parsed);
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("invalid base_url \"%s\"", url),
				 errhint("Give an absolute URL without a query string, such as https://www.wixapis.com.")));
}

/* Where a URL sends requests: the parts a base_url prefix is matched on. */
typedef struct WixUrlParts
{
	char	   *scheme;
	char	   *host;
	char	   *port;			/* the scheme's default when not given */
	char	   *path;			/* without trailing slashes: "" for the root */
	bool		has_userinfo;
	bool		has_query_or_fragment;
} WixUrlParts;

/*
 * split_url
 *		Parse an absolute http(s) URL into palloc'd parts, dot segments
 *		resolved as libcurl resolves them when it sends a request.  False
 *		when url is not one.
 */
static bool
split_url(const char *url, WixUrlParts *parts)
{
	CURLU	   *parsed = curl_url();
	char	   *scheme = NULL,
			   *host = NULL,
			   *port = NULL,
			   *path = NULL,
			   *extra = NULL;
	bool		ok;

	if (parsed == NULL)
		return false;
	ok = curl_url_set(parsed, CURLUPART_URL, url, 0) == CURLUE_OK &&
		curl_url_get(parsed, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
		curl_url_get(parsed, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
		curl_url_get(parsed, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK &&
		curl_url_get(parsed, CURLUPART_PATH, &path, 0) == CURLUE_OK &&
		(pg_strcasecmp(scheme, "https") == 0 || pg_strcasecmp(scheme, "http") == 0);
	if (ok)
	{
		size_t		len = strlen(path);

		while (len > 0 && path[len - 1] == '/')
			path[--len] = '\0';
		parts->scheme = pstrdup(scheme);
		parts->host = pstrdup(host);
		parts->port = pstrdup(port);
		parts->path = pstrdup(path);
		parts->has_userinfo =
			curl_url_get(parsed, CURLUPART_USER, &extra, 0) == CURLUE_OK;
		curl_free(extra);
		extra = NULL;
		parts->has_query_or_fragment =
			curl_url_get(parsed, CURLUPART_QUERY, &extra, 0) == CURLUE_OK;
		curl_free(extra);
		extra = NULL;
		parts->has_query_or_fragment |=
			curl_url_get(parsed, CURLUPART_FRAGMENT, &extra, 0) == CURLUE_OK;
		curl_free(extra);
	}
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_free(path);
	curl_url_cleanup(parsed);
	return ok;
}

/*
 * url_is_under_prefix
 *		Does url send its requests to prefix's scheme, host and port, at or
 *		below prefix's path (whole segments: "/wix" covers "/wix/v1", not
 *		"/wixer")?  A URL with user information or a percent-encoded ".",
 *		"/" or "\" in its path is under no prefix.
 */
static bool
url_is_under_prefix(const WixUrlParts *url, const WixUrlParts *prefix)
{
	size_t		prefix_len = strlen(prefix->path);

	if (url->has_userinfo ||
		pg_strcasecmp(url->scheme, prefix->scheme) != 0 ||
		pg_strcasecmp(url->host, prefix->host) != 0 ||
		strcmp(url->port, prefix->port) != 0)
		return false;
	for (const char *p = url->path; (p = strchr(p, '%')) != NULL; p++)
	{
		if (pg_strncasecmp(p, "%2e", 3) == 0 ||
			pg_strncasecmp(p, "%2f", 3) == 0 ||
			pg_strncasecmp(p, "%5c", 3) == 0)
			return false;
	}
	return strncmp(url->path, prefix->path, prefix_len) == 0 &&
		(url->path[prefix_len] == '\0' || url->path[prefix_len] == '/');
}

/*
 * check_allowed_base_urls
 *		GUC check hook of wix_admin.allowed_base_urls: a comma-separated list
 *		of absolute http(s) URLs without user information, query or fragment.
 */
static bool
check_allowed_base_urls(char **newval, void **extra, GucSource source)
{
	char	   *copy = pstrdup(*newval);
	List	   *prefixes;
	ListCell   *cell;

	if (!SplitGUCList(copy, ',', &prefixes))
	{
		GUC_check_errdetail("List syntax is invalid.");
		return false;
	}
	foreach(cell, prefixes)
	{
		const char *prefix = lfirst(cell);
		WixUrlParts parts;

		if (!split_url(prefix, &parts) || parts.has_userinfo ||
			parts.has_query_or_fragment)
		{
			GUC_check_errdetail("\"%s\" is not an absolute http or https URL without user name, query or fragment.",
								prefix);
			return false;
		}
	}
	return true;
}

/*
 * wix_base_url_allowed
 *		May a server that no superuser owns send requests to url?  Yes for
 *		Wix's own https://www.wixapis.com and for URLs under a prefix of
 *		wix_admin.allowed_base_urls.
 */
bool
wix_base_url_allowed(const char *url)
{
	WixUrlParts url_parts;
	WixUrlParts prefix_parts;
	char	   *copy;
	List	   *prefixes;
	ListCell   *cell;

	if (!split_url(url, &url_parts))
		return false;
	if (split_url(WIX_DEFAULT_BASE_URL, &prefix_parts) &&
		url_is_under_prefix(&url_parts, &prefix_parts))
		return true;
	copy = pstrdup(wix_allowed_base_urls);
	if (!SplitGUCList(copy, ',', &prefixes))
		return false;
	foreach(cell, prefixes)
	{
		if (split_url(lfirst(cell), &prefix_parts) &&
			url_is_under_prefix(&url_parts, &prefix_parts))
			return true;
	}
	return false;
}

/*
 * wix_check_server_base_url
 *		Refuse to send requests for a server whose base_url leads away from
 *		Wix unless a superuser owns the server or the URL is allowed: an
 *		ordinary role must not make the database server call hosts of its
 *		choosing.  Checked on every use, so a change of owner or of
 *		wix_admin.allowed_base_urls takes effect at once.
 */
void
wix_check_server_base_url(const char *server_name, Oid owner,
						  const char *base_url)
{
	if (strcmp(base_url, WIX_DEFAULT_BASE_URL) == 0 || superuser_arg(owner) ||
		wix_base_url_allowed(base_url))
		return;
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("wix_admin server \"%s\" may not send requests to its base_url \"%s\"",
					server_name, base_url),
			 errdetail("The server's owner, %s, is not a superuser, and the URL is neither %s nor under a prefix listed in wix_admin.allowed_base_urls.",
					   GetUserNameFromId(owner, false), WIX_DEFAULT_BASE_URL),
			 errhint("The owner can return the server to Wix with ALTER SERVER %s OPTIONS (DROP base_url); a superuser can add the URL's prefix to wix_admin.allowed_base_urls or take ownership of the server.",
					 quote_identifier(server_name))));
}

/* Parse a timeout in seconds (fractions allowed) into milliseconds. */
static int
parse_timeout_ms(const char *name, const char *value)
{
	char	   *end;
	double		seconds = strtod(value, &end);

	if (end == value || *end != '\0' || !(seconds > 0) || seconds > 3600)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("invalid value for option \"%s\": \"%s\"", name, value),
				 errhint("Give a number of seconds between 0 and 3600, such as '30' or '0.5'.")));
	return (int) ceil(seconds * 1000.0);
}

/* Parse a non-negative whole number option. */
static int
parse_count(const char *name, const char *value)
{
	char	   *end;
	long		n = strtol(value, &end, 10);

	if (end == value || *end != '\0' || n < 0 || n > INT_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("invalid value for option \"%s\": \"%s\"", name, value),
				 errhint("Give a whole number from 0 to %d.", INT_MAX)));
	return (int) n;
}

static WixCatalogVersion
parse_catalog_version(const char *value)
{
	if (pg_strcasecmp(value, "auto") == 0)
		return WIX_CATALOG_ANY;
	if (pg_strcasecmp(value, "V1") == 0)
		return WIX_CATALOG_V1;
	if (pg_strcasecmp(value, "V3") == 0)
		return WIX_CATALOG_V3;
	ereport(ERROR,
			(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
			 errmsg("invalid value for option \"catalog_version\": \"%s\"", value),
			 errhint("Valid values are auto, V1 and V3.")));
	return WIX_CATALOG_ANY;		/* keep compiler quiet */
}

static void
check_path(const char *path)
{
	size_t		len = strlen(path);

	if (strcmp(path, "$") == 0)
		return;
	if (len == 0 || path[0] == '.' || path[len - 1] == '.' ||
		strstr(path, "..") != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("invalid path \"%s\"", path),
				 errhint("A path is a dotted list of Wix JSON keys, such as 'priceSummary.total.amount', or '$' for the whole object.")));
}

/*
 * wix_admin_fdw_validator
 *		Check the options of CREATE/ALTER on the wrapper, a server, a user
 *		mapping, a foreign table or a column.  PostgreSQL passes the complete
 *		resulting option list, so required combinations are checked here.
 */
Datum
wix_admin_fdw_validator(PG_FUNCTION_ARGS)
{
	List	   *options = untransformRelOptions(PG_GETARG_DATUM(0));
	Oid			catalog = PG_GETARG_OID(1);
	ListCell   *cell;
	bool		has_site = false,
				has_account = false,
				has_client_id = false,
				has_client_secret = false,
				has_api_key = false,
				has_resource = false;

	foreach(cell, options)
	{
		DefElem    *def = lfirst_node(DefElem, cell);
		char	   *value = defGetString(def);

		if (catalog == ForeignServerRelationId &&
			(strcmp(def->defname, "client_secret") == 0 ||
			 strcmp(def->defname, "api_key") == 0 ||
			 strcmp(def->defname, "client_id") == 0))
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
					 errmsg("option \"%s\" is not allowed on a server", def->defname),
					 errdetail("Server options are readable by every user; credentials belong in a user mapping."),
					 errhint("Use CREATE USER MAPPING FOR ... SERVER ... OPTIONS (%s '...').",
							 def->defname)));

		if (!is_valid_option(def->defname, catalog))
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
					 errmsg("invalid option \"%s\"", def->defname),
					 valid_option_list(catalog)[0] != '\0' ?
					 errhint("Valid options in this context are: %s",
							 valid_option_list(catalog)) :
					 errhint("There are no valid options in this context.")));

		if (strcmp(def->defname, "base_url") == 0)
		{
			check_base_url(value);
			if (!superuser() && !wix_base_url_allowed(value))
				ereport(ERROR,
						(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
						 errmsg("permission denied to set option \"base_url\" to \"%s\"", value),
						 errdetail("Only a superuser may point a wix_admin server at a URL other than %s, unless the URL is under a prefix listed in wix_admin.allowed_base_urls.",
								   WIX_DEFAULT_BASE_URL),
						 errhint("Leave base_url out to use Wix, or ask a superuser to add the URL's prefix to wix_admin.allowed_base_urls.")));
		}
		else if (strcmp(def->defname, "connect_timeout") == 0 ||
				 strcmp(def->defname, "request_timeout") == 0)
			(void) parse_timeout_ms(def->defname, value);
		else if (strcmp(def->defname, "catalog_version") == 0)
			(void) parse_catalog_version(value);
		else if (strcmp(def->defname, "use_remote_estimate") == 0)
			(void) defGetBoolean(def);
		else if (strcmp(def->defname, "max_retries") == 0 ||
				 strcmp(def->defname, "requests_per_minute") == 0 ||
				 strcmp(def->defname, "max_response_size") == 0 ||
				 strcmp(def->defname, "max_concurrent_requests") == 0)
			(void) parse_count(def->defname, value);
		else if (strcmp(def->defname, "rows") == 0)
		{
			char	   *end;
			double		rows = strtod(value, &end);

			if (end == value || *end != '\0' || !(rows >= 0) || rows > 1e12)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
						 errmsg("invalid value for option \"rows\": \"%s\"", value),
						 errhint("Give the table's approximate number of rows, such as '5000'.")));
		}
		else if (strcmp(def->defname, "resource") == 0)
		{
			if (wix_find_resource(value) == NULL)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
						 errmsg("unknown Wix resource \"%s\"", value),
						 errhint("Valid resources are: %s.", wix_resource_names())));
			has_resource = true;
		}
		else if (strcmp(def->defname, "path") == 0)
			check_path(value);
		else if (value[0] == '\0')
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
					 errmsg("option \"%s\" must not be empty", def->defname)));

		has_site |= strcmp(def->defname, "site_id") == 0;
		has_account |= strcmp(def->defname, "account_id") == 0;
		has_client_id |= strcmp(def->defname, "client_id") == 0;
		has_client_secret |= strcmp(def->defname, "client_secret") == 0;
		has_api_key |= strcmp(def->defname, "api_key") == 0;
	}

	if (catalog == ForeignServerRelationId && has_site == has_account)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 has_site ?
				 errmsg("options \"site_id\" and \"account_id\" cannot both be set") :
				 errmsg("a wix_admin server needs option \"site_id\""),
				 has_site ? 0 :
				 errhint("Copy the site ID from the site's dashboard URL: https://manage.wix.com/dashboard/<site id>/...")));

	if (catalog == UserMappingRelationId)
	{
		bool		oauth = has_client_id || has_client_secret;

		if (oauth && has_api_key)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
					 errmsg("a user mapping takes either client_id and client_secret or api_key, not both")));
		if (!oauth && !has_api_key)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
					 errmsg("a wix_admin user mapping needs credentials"),
					 errhint("Give OPTIONS (client_id '...', client_secret '...') for an OAuth app, or OPTIONS (api_key '...') for an API key.")));
		if (oauth && !(has_client_id && has_client_secret))
			ereport(ERROR,
					(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
					 errmsg("option \"%s\" is required with \"%s\"",
							has_client_id ? "client_secret" : "client_id",
							has_client_id ? "client_id" : "client_secret")));
	}

	if (catalog == ForeignTableRelationId && !has_resource)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("a wix_admin foreign table needs option \"resource\""),
				 errhint("Valid resources are: %s.", wix_resource_names())));

	PG_RETURN_VOID();
}

/*
 * wix_server_options
 *		Read a server's options, with defaults filled in, copied into
 *		CurrentMemoryContext.
 */
void
wix_server_options(ForeignServer *server, WixServerOptions *opts)
{
	ListCell   *cell;

	memset(opts, 0, sizeof(*opts));
	opts->base_url = WIX_DEFAULT_BASE_URL;
	opts->catalog = WIX_CATALOG_ANY;
	/* -1: the GUC's value when the request is sent */
	opts->connect_timeout_ms = -1;
	opts->request_timeout_ms = -1;
	opts->max_retries = -1;
	opts->requests_per_minute = -1;
	opts->max_response_size = -1;
	opts->max_concurrent_requests = -1;

	foreach(cell, server->options)
	{
		DefElem    *def = lfirst_node(DefElem, cell);
		char	   *value = pstrdup(defGetString(def));

		if (strcmp(def->defname, "base_url") == 0)
		{
			char	   *url = value;
			size_t		len = strlen(url);

			while (len > 0 && url[len - 1] == '/')
				url[--len] = '\0';
			opts->base_url = url;
		}
		else if (strcmp(def->defname, "site_id") == 0)
			opts->site_id = value;
		else if (strcmp(def->defname, "account_id") == 0)
			opts->account_id = value;
		else if (strcmp(def->defname, "catalog_version") == 0)
			opts->catalog = parse_catalog_version(value);
		else if (strcmp(def->defname, "connect_timeout") == 0)
			opts->connect_timeout_ms = parse_timeout_ms(def->defname, value);
		else if (strcmp(def->defname, "request_timeout") == 0)
			opts->request_timeout_ms = parse_timeout_ms(def->defname, value);
		else if (strcmp(def->defname, "use_remote_estimate") == 0)
			opts->use_remote_estimate = defGetBoolean(def);
		else if (strcmp(def->defname, "max_retries") == 0)
			opts->max_retries = parse_count(def->defname, value);
		else if (strcmp(def->defname, "requests_per_minute") == 0)
			opts->requests_per_minute = parse_count(def->defname, value);
		else if (strcmp(def->defname, "max_response_size") == 0)
			opts->max_response_size = parse_count(def->defname, value);
		else if (strcmp(def->defname, "max_concurrent_requests") == 0)
			opts->max_concurrent_requests = parse_count(def->defname, value);
	}
}

/*
 * wix_user_options
 *		Read a user mapping's credentials, copied into CurrentMemoryContext.
 */
void
wix_user_options(UserMapping *user, WixUserOptions *opts)
{
	ListCell   *cell;

	memset(opts, 0, sizeof(*opts));
	foreach(cell, user->options)
	{
		DefElem    *def = lfirst_node(DefElem, cell);
		char	   *value = pstrdup(defGetString(def));

		if (strcmp(def->defname, "client_id") == 0)
			opts->client_id = value;
		else if (strcmp(def->defname, "client_secret") == 0)
			opts->client_secret = value;
		else if (strcmp(def->defname, "instance_id") == 0)
			opts->instance_id = value;
		else if (strcmp(def->defname, "api_key") == 0)
			opts->api_key = value;
	}
	opts->mode = opts->api_key != NULL ? WIX_AUTH_API_KEY : WIX_AUTH_OAUTH;
}

/*
 * wix_table_resource
 *		The "resource" option of a foreign table.
 */
char *
wix_table_resource(Oid foreigntableid)
{
	ForeignTable *table = GetForeignTable(foreigntableid);
	ListCell   *cell;

	foreach(cell, table->options)
	{
		DefElem    *def = lfirst_node(DefElem, cell);

		if (strcmp(def->defname, "resource") == 0)
			return defGetString(def);
	}
	ereport(ERROR,
			(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
			 errmsg("foreign table \"%s\" has no option \"resource\"",
					get_rel_name(foreigntableid))));
	return NULL;				/* keep compiler quiet */
}

/*
 * wix_table_estimate_options
 *		A foreign table's "rows" (-1 when unset) and "use_remote_estimate"
 *		(which overrides the server's when set).
 */
void
wix_table_estimate_options(Oid foreigntableid, double *rows,
						   bool *use_remote_estimate)
{
	ForeignTable *table = GetForeignTable(foreigntableid);
	ListCell   *cell;

	*rows = -1;
	foreach(cell, table->options)
	{
		DefElem    *def = lfirst_node(DefElem, cell);

		if (strcmp(def->defname, "rows") == 0)
			*rows = strtod(defGetString(def), NULL);
		else if (strcmp(def->defname, "use_remote_estimate") == 0)
			*use_remote_estimate = defGetBoolean(def);
	}
}

/*
 * wix_column_path_option
 *		The "path" option of a column, or NULL.
 */
char *
wix_column_path_option(Oid foreigntableid, AttrNumber attnum)
{
	List	   *options = GetForeignColumnOptions(foreigntableid, attnum);
	ListCell   *cell;

	foreach(cell, options)
	{
		DefElem    *def = lfirst_node(DefElem, cell);

		if (strcmp(def->defname, "path") == 0)
			return defGetString(def);
	}
	return NULL;
}
