/*-------------------------------------------------------------------------
 *
 * settings.c
 *		  What a connection to Wix is configured by: the request settings
 *		  (GUCs, which server options override), the options of servers and
 *		  user mappings as typed structs, which user mapping a role uses, and
 *		  which base URLs a server may send requests to.
 *
 * A server's base_url may lead away from https://www.wixapis.com only when
 * a superuser owns the server or the URL is under a prefix of the
 * superuser-only wix_admin.allowed_base_urls; otherwise any role with USAGE
 * on the wrapper could make the database server call internal services.
 *
 *-------------------------------------------------------------------------
 */
#include "wix_client.h"
#include "wix_admin.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <limits.h>
#include <math.h>

#include "catalog/pg_user_mapping.h"
#include "commands/defrem.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/syscache.h"
#include "utils/varlena.h"

/* GUC defaults of the request settings a server option may override */
int			wix_max_retries = 5;
int			wix_retry_base_delay_ms = 250;
int			wix_retry_max_delay_ms = 30000;
int			wix_requests_per_minute = 200;
int			wix_connect_timeout_s = 10;
int			wix_request_timeout_s = 60;
int			wix_max_response_size = 64 * 1024 * 1024;
int			wix_max_concurrent_requests = 4;

/* URL prefixes a server not owned by a superuser may use as base_url */
char	   *wix_allowed_base_urls = "";

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

static bool check_allowed_base_urls(char **newval, void **extra,
									GucSource source);

static const WixIntSetting request_settings[] = {
	{"wix_admin.max_retries",
		"Retries of a Wix request that failed with 429, 5xx or a dropped connection.",
		"Changing admin actions are retried only when Wix cannot have acted.",
	&wix_max_retries, 5, 0, 100, PGC_USERSET, 0},
	{"wix_admin.retry_base_delay",
		"First wait before a retry; it doubles with each attempt, with jitter.", NULL,
	&wix_retry_base_delay_ms, 250, 1, 600000, PGC_USERSET, GUC_UNIT_MS},
	{"wix_admin.retry_max_delay",
		"Longest wait before a retry, Retry-After included.", NULL,
	&wix_retry_max_delay_ms, 30000, 1, 3600000, PGC_USERSET, GUC_UNIT_MS},
	{"wix_admin.requests_per_minute",
		"Most requests a backend sends to one Wix site in any minute (0: no limit).",
		"Wix allows about 200 per minute per site.",
	&wix_requests_per_minute, 200, 0, 1000000, PGC_USERSET, 0},
	{"wix_admin.connect_timeout", "Time allowed to connect to Wix.", NULL,
	&wix_connect_timeout_s, 10, 1, 3600, PGC_USERSET, GUC_UNIT_S},
	{"wix_admin.request_timeout", "Time allowed for one whole Wix request.", NULL,
	&wix_request_timeout_s, 60, 1, 3600, PGC_USERSET, GUC_UNIT_S},
	{"wix_admin.max_response_size", "Largest Wix response body accepted.", NULL,
	&wix_max_response_size, 64 * 1024 * 1024, 1024, INT_MAX, PGC_USERSET, GUC_UNIT_BYTE},
	{"wix_admin.max_concurrent_requests",
		"Pages of an offset-paged scan requested ahead, in parallel.",
		"A query with LIMIT requests at most one page ahead.",
	&wix_max_concurrent_requests, 4, 1, 16, PGC_USERSET, 0},
};


/*
 * wix_client_define_gucs
 *		The request settings and the base URLs servers may use.
 */
void
wix_client_define_gucs(void)
{
	wix_define_int_settings(request_settings, lengthof(request_settings));
	DefineCustomStringVariable("wix_admin.allowed_base_urls",
							   "URL prefixes that servers not owned by a superuser may use as base_url.",
							   "Comma-separated, such as 'https://wix-proxy.example.com/'. Empty: only https://www.wixapis.com.",
							   &wix_allowed_base_urls, "",
							   PGC_SUSET, GUC_LIST_INPUT,
							   check_allowed_base_urls, NULL, NULL);
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
void
wix_check_base_url(const char *url)
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

/* Parse a non-negative cost option. */
static double
parse_cost(const char *name, const char *value)
{
	char	   *end;
	double		cost = strtod(value, &end);

	if (end == value || *end != '\0' || !(cost >= 0) || cost > 1e9)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("invalid value for option \"%s\": \"%s\"", name, value),
				 errhint("Give a number from 0 to 1e9, such as '1000'.")));
	return cost;
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

/* A string option's value, which must not be empty. */
static char *
nonempty_value(DefElem *def)
{
	char	   *value = defGetString(def);

	if (value[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("option \"%s\" must not be empty", def->defname)));
	return value;
}

/*
 * apply_server_option
 *		Check one server option's value and store it in opts (strings copied
 *		into CurrentMemoryContext).  False when def is no server option.
 */
static bool
apply_server_option(WixServerOptions *opts, DefElem *def)
{
	const char *name = def->defname;

	if (strcmp(name, "base_url") == 0)
	{
		char	   *url = pstrdup(defGetString(def));
		size_t		len = strlen(url);

		wix_check_base_url(url);
		while (len > 0 && url[len - 1] == '/')
			url[--len] = '\0';
		opts->base_url = url;
	}
	else if (strcmp(name, "site_id") == 0)
		opts->site_id = pstrdup(nonempty_value(def));
	else if (strcmp(name, "account_id") == 0)
		opts->account_id = pstrdup(nonempty_value(def));
	else if (strcmp(name, "catalog_version") == 0)
		opts->catalog = parse_catalog_version(defGetString(def));
	else if (strcmp(name, "connect_timeout") == 0)
		opts->connect_timeout_ms = parse_timeout_ms(name, defGetString(def));
	else if (strcmp(name, "request_timeout") == 0)
		opts->request_timeout_ms = parse_timeout_ms(name, defGetString(def));
	else if (strcmp(name, "use_remote_estimate") == 0)
		opts->use_remote_estimate = defGetBoolean(def);
	else if (strcmp(name, "max_retries") == 0)
		opts->max_retries = parse_count(name, defGetString(def));
	else if (strcmp(name, "requests_per_minute") == 0)
		opts->requests_per_minute = parse_count(name, defGetString(def));
	else if (strcmp(name, "max_response_size") == 0)
		opts->max_response_size = parse_count(name, defGetString(def));
	else if (strcmp(name, "max_concurrent_requests") == 0)
		opts->max_concurrent_requests = parse_count(name, defGetString(def));
	else if (strcmp(name, "request_cost") == 0)
		opts->request_cost = parse_cost(name, defGetString(def));
	else
		return false;
	return true;
}

/*
 * wix_check_server_option
 *		The validator's check of one option of CREATE/ALTER SERVER: its value,
 *		and for base_url whether the current role may set it.
 */
void
wix_check_server_option(DefElem *def)
{
	WixServerOptions scratch;

	if (!apply_server_option(&scratch, def))
		elog(ERROR, "unexpected wix_admin server option \"%s\"", def->defname);
	if (strcmp(def->defname, "base_url") == 0 && !superuser() &&
		!wix_base_url_allowed(defGetString(def)))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to set option \"base_url\" to \"%s\"",
						defGetString(def)),
				 errdetail("Only a superuser may point a wix_admin server at a URL other than %s, unless the URL is under a prefix listed in wix_admin.allowed_base_urls.",
						   WIX_DEFAULT_BASE_URL),
				 errhint("Leave base_url out to use Wix, or ask a superuser to add the URL's prefix to wix_admin.allowed_base_urls.")));
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
	opts->request_cost = -1;

	foreach(cell, server->options)
		(void) apply_server_option(opts, lfirst_node(DefElem, cell));
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
 * wix_user_mapping_id
 *		The user mapping a role uses on a server (its own, else the PUBLIC
 *		one), or InvalidOid; unlike GetUserMapping it raises nothing, so
 *		planning works before the mapping exists.
 */
Oid
wix_user_mapping_id(Oid userid, Oid serverid)
{
	Oid			umid = GetSysCacheOid2(USERMAPPINGUSERSERVER,
									   Anum_pg_user_mapping_oid,
									   ObjectIdGetDatum(userid),
									   ObjectIdGetDatum(serverid));

	if (!OidIsValid(umid))
		umid = GetSysCacheOid2(USERMAPPINGUSERSERVER, Anum_pg_user_mapping_oid,
							   ObjectIdGetDatum(InvalidOid),
							   ObjectIdGetDatum(serverid));
	return umid;
}

/*
 * wix_user_mapping
 *		The user mapping whose credentials a role uses on a server.  Without
 *		one, an error whose hint is the statement that creates one
 *		(PostgreSQL's own error has no hint).
 */
UserMapping *
wix_user_mapping(Oid userid, Oid serverid)
{
	if (!OidIsValid(wix_user_mapping_id(userid, serverid)))
	{
		char	   *role = GetUserNameFromId(userid, false);
		char	   *server = GetForeignServer(serverid)->servername;

		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("role \"%s\" has no user mapping for server \"%s\"",
						role, server),
				 errdetail("wix_admin calls Wix with the credentials of the role's user mapping for the server, or of the PUBLIC one."),
				 errhint("CREATE USER MAPPING FOR %s SERVER %s OPTIONS (api_key '...'), or OPTIONS (client_id '...', client_secret '...').",
						 quote_identifier(role), quote_identifier(server))));
	}
	return GetUserMapping(userid, serverid);
}
