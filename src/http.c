/*-------------------------------------------------------------------------
 *
 * http.c
 *		  The HTTP transport: per connection, one libcurl easy handle driven
 *		  by a multi handle and reused across requests (keep-alive, TLS
 *		  session reuse).  Waiting happens in curl_multi_poll slices of at
 *		  most 100 ms, so an interrupt aborts a transfer within that time,
 *		  even one stalled with no data flowing.
 *
 * This file includes no PostgreSQL header and never raises an error: every
 * outcome is reported in a WixHttpResponse, and all memory it allocates is
 * malloc'd and freed by wix_http_response_free, so the caller can free it
 * before it reports an error.  Only http and https are allowed, redirects are
 * never followed (they would carry the Authorization header elsewhere), and
 * TLS certificates and host names are always verified.
 *
 *-------------------------------------------------------------------------
 */
#include "wix_http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Longest wait before should_abort is asked again. */
#define POLL_SLICE_MS 100

struct WixHttpClient
{
	CURLM	   *multi;
	CURL	   *easy;
};

typedef struct ResponseSink
{
	WixHttpResponse *response;
	size_t		capacity;
	size_t		max_body_size;
	const WixHttpRequest *request;
} ResponseSink;

bool
wix_http_global_init(void)
{
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
}

WixHttpClient *
wix_http_client_new(void)
{
	WixHttpClient *client = calloc(1, sizeof(WixHttpClient));

	if (client == NULL)
		return NULL;
	client->multi = curl_multi_init();
	client->easy = curl_easy_init();
	if (client->multi == NULL || client->easy == NULL)
	{
		wix_http_client_free(client);
		return NULL;
	}
	return client;
}

void
wix_http_client_free(WixHttpClient *client)
{
	if (client == NULL)
		return;
	if (client->easy != NULL)
		curl_easy_cleanup(client->easy);
	if (client->multi != NULL)
		curl_multi_cleanup(client->multi);
	free(client);
}

/* libcurl write callback: grow the malloc'd body, up to the size cap. */
static size_t
collect_body(char *data, size_t size, size_t nmemb, void *arg)
{
	ResponseSink *sink = arg;
	WixHttpResponse *response = sink->response;
	size_t		len = size * nmemb;

	if (response->body_len + len > sink->max_body_size)
	{
		response->body_too_large = true;
		return 0;				/* makes libcurl fail with CURLE_WRITE_ERROR */
	}
	if (response->body_len + len + 1 > sink->capacity)
	{
		size_t		capacity = sink->capacity ? sink->capacity : 16384;
		char	   *body;

		while (capacity < response->body_len + len + 1)
			capacity *= 2;
		body = realloc(response->body, capacity);
		if (body == NULL)
			return 0;
		response->body = body;
		sink->capacity = capacity;
	}
	memcpy(response->body + response->body_len, data, len);
	response->body_len += len;
	response->body[response->body_len] = '\0';
	return len;
}

/* Copy a header's value, trimmed, if the line is "name: value". */
static void
take_header(const char *line, size_t len, const char *name,
			char *dest, size_t destsize)
{
	size_t		namelen = strlen(name);
	size_t		n;

	if (len <= namelen + 1 || strncasecmp(line, name, namelen) != 0 ||
		line[namelen] != ':')
		return;
	line += namelen + 1;
	len -= namelen + 1;
	while (len > 0 && (*line == ' ' || *line == '\t'))
		line++, len--;
	while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == '\n' ||
					   line[len - 1] == ' '))
		len--;
	n = len < destsize - 1 ? len : destsize - 1;
	memcpy(dest, line, n);
	dest[n] = '\0';
}

/* libcurl header callback: keep the headers wix_admin reports or obeys. */
static size_t
collect_header(char *data, size_t size, size_t nmemb, void *arg)
{
	ResponseSink *sink = arg;
	WixHttpResponse *response = sink->response;
	size_t		len = size * nmemb;

	take_header(data, len, "X-Wix-Request-Id", response->request_id,
				sizeof(response->request_id));
	take_header(data, len, "Retry-After", response->retry_after,
				sizeof(response->retry_after));
	return len;
}

/* libcurl progress callback: a non-zero return aborts the transfer. */
static int
check_abort(void *arg, curl_off_t dltotal, curl_off_t dlnow,
			curl_off_t ultotal, curl_off_t ulnow)
{
	ResponseSink *sink = arg;
	const WixHttpRequest *request = sink->request;

	if (request->should_abort != NULL && request->should_abort(request->abort_arg))
	{
		sink->response->aborted = true;
		return 1;
	}
	return 0;
}

/*
 * wix_http_perform
 *		Send one request and collect the answer.  Never fails loudly: the
 *		caller reads curl_code, status and the flags of *response.
 */
void
wix_http_perform(WixHttpClient *client, const WixHttpRequest *request,
				 WixHttpResponse *response)
{
	CURL	   *handle = client->easy;
	struct curl_slist *headers = NULL;
	ResponseSink sink;
	int			running = 1;
	CURLMsg    *msg;
	int			queued;
	long		sent = 0;

	memset(response, 0, sizeof(*response));
	sink.response = response;
	sink.capacity = 0;
	sink.max_body_size = request->max_body_size;
	sink.request = request;

	for (const char *const *h = request->headers; h != NULL && *h != NULL; h++)
	{
		struct curl_slist *more = curl_slist_append(headers, *h);

		if (more == NULL)
		{
			curl_slist_free_all(headers);
			response->curl_code = CURLE_OUT_OF_MEMORY;
			snprintf(response->error, sizeof(response->error), "out of memory");
			return;
		}
		headers = more;
	}

	/* keeps live connections, DNS and TLS session caches */
	curl_easy_reset(handle);
	curl_easy_setopt(handle, CURLOPT_URL, request->url);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(handle, CURLOPT_PROTOCOLS_STR,
					 request->allow_plain_http ? "http,https" : "https");
#else
	curl_easy_setopt(handle, CURLOPT_PROTOCOLS,
					 request->allow_plain_http ? (long) (CURLPROTO_HTTP | CURLPROTO_HTTPS) : (long) CURLPROTO_HTTPS);
#endif
	curl_easy_setopt(handle, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(handle, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(handle, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(handle, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(handle, CURLOPT_HTTP_VERSION, (long) CURL_HTTP_VERSION_2TLS);
	curl_easy_setopt(handle, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(handle, CURLOPT_CONNECTTIMEOUT_MS, request->connect_timeout_ms);
	curl_easy_setopt(handle, CURLOPT_TIMEOUT_MS, request->timeout_ms);
	curl_easy_setopt(handle, CURLOPT_ERRORBUFFER, response->error);
	curl_easy_setopt(handle, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(handle, CURLOPT_USERAGENT, "wix_admin/0.1");
	curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, collect_body);
	curl_easy_setopt(handle, CURLOPT_WRITEDATA, &sink);
	curl_easy_setopt(handle, CURLOPT_HEADERFUNCTION, collect_header);
	curl_easy_setopt(handle, CURLOPT_HEADERDATA, &sink);
	curl_easy_setopt(handle, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(handle, CURLOPT_XFERINFOFUNCTION, check_abort);
	curl_easy_setopt(handle, CURLOPT_XFERINFODATA, &sink);

	if (strcmp(request->method, "GET") == 0)
		curl_easy_setopt(handle, CURLOPT_HTTPGET, 1L);
	else
	{
		if (strcmp(request->method, "POST") != 0)
			curl_easy_setopt(handle, CURLOPT_CUSTOMREQUEST, request->method);
		if (request->body != NULL || strcmp(request->method, "POST") == 0)
		{
			const char *body = request->body ? request->body : "";

			curl_easy_setopt(handle, CURLOPT_POSTFIELDS, body);
			curl_easy_setopt(handle, CURLOPT_POSTFIELDSIZE, (long) strlen(body));
		}
	}

	response->curl_code = CURLE_OK;
	if (curl_multi_add_handle(client->multi, handle) != CURLM_OK)
	{
		response->curl_code = CURLE_FAILED_INIT;
		snprintf(response->error, sizeof(response->error),
				 "could not start the transfer");
	}
	else
	{
		while (running > 0)
		{
			CURLMcode	mc = curl_multi_perform(client->multi, &running);

			if (mc == CURLM_OK && running > 0)
				mc = curl_multi_poll(client->multi, NULL, 0, POLL_SLICE_MS, NULL);
			if (mc != CURLM_OK)
			{
				response->curl_code = CURLE_FAILED_INIT;
				snprintf(response->error, sizeof(response->error), "%s",
						 curl_multi_strerror(mc));
				break;
			}
			if (running > 0 && request->should_abort != NULL &&
				request->should_abort(request->abort_arg))
			{
				response->aborted = true;
				response->curl_code = CURLE_ABORTED_BY_CALLBACK;
				break;
			}
		}
		while ((msg = curl_multi_info_read(client->multi, &queued)) != NULL)
		{
			if (msg->msg == CURLMSG_DONE && msg->easy_handle == handle &&
				!response->aborted)
				response->curl_code = msg->data.result;
		}
		curl_multi_remove_handle(client->multi, handle);
	}

	if (curl_easy_getinfo(handle, CURLINFO_REQUEST_SIZE, &sent) == CURLE_OK)
		response->request_sent = sent > 0;
	if (response->curl_code == CURLE_OK)
		curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &response->status);
	else if (response->error[0] == '\0')
		snprintf(response->error, sizeof(response->error), "%s",
				 curl_easy_strerror(response->curl_code));

	/* the handle must not point at memory that is about to go away */
	curl_easy_setopt(handle, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(handle, CURLOPT_ERRORBUFFER, NULL);
	curl_slist_free_all(headers);
}

void
wix_http_response_free(WixHttpResponse *response)
{
	free(response->body);
	response->body = NULL;
	response->body_len = 0;
}

/*
 * wix_http_escape_path_segment
 *		Percent-encode an id for use as one path segment; malloc'd result,
 *		NULL on allocation failure.
 */
char *
wix_http_escape_path_segment(const char *segment)
{
	char	   *escaped = curl_easy_escape(NULL, segment, 0);
	char	   *copy;

	if (escaped == NULL)
		return NULL;
	copy = strdup(escaped);
	curl_free(escaped);
	return copy;
}
