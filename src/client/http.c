/*-------------------------------------------------------------------------
 *
 * http.c
 *		  The HTTP transport: per connection, one libcurl multi handle with a
 *		  small pool of easy handles, reused across requests (keep-alive, TLS
 *		  session reuse, HTTP/2 when offered).  A transfer can be started and
 *		  finished later, so several requests are in flight at once while the
 *		  caller works.  Waiting happens in curl_multi_poll slices of at most
 *		  100 ms, so an interrupt aborts a transfer within that time, even one
 *		  stalled with no data flowing.
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

/* Idle easy handles kept for reuse. */
#define POOL_SIZE 8

struct WixHttpClient
{
	CURLM	   *multi;
	CURL	   *idle[POOL_SIZE];
	int			nidle;
};

/* What a transfer writes into, and owns until it is finished. */
typedef struct ResponseSink
{
	WixHttpResponse *response;
	size_t		capacity;
	size_t		max_body_size;
	const WixHttpRequest *request;
} ResponseSink;

struct WixHttpTransfer
{
	CURL	   *easy;
	struct curl_slist *headers;
	char	   *url;
	char	   *body;
	WixHttpRequest request;		/* a copy pointing at the copies above */
	WixHttpResponse response;
	ResponseSink sink;
	bool		done;
};

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
	if (client->multi == NULL)
	{
		free(client);
		return NULL;
	}
	return client;
}

void
wix_http_client_free(WixHttpClient *client)
{
	if (client == NULL)
		return;
	for (int i = 0; i < client->nidle; i++)
		curl_easy_cleanup(client->idle[i]);
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

static void
fail_transfer(WixHttpTransfer *transfer, CURLcode code, const char *message)
{
	transfer->response.curl_code = code;
	snprintf(transfer->response.error, sizeof(transfer->response.error), "%s", message);
	transfer->done = true;
}

/* Release what a transfer holds; the response body stays with the caller. */
static void
free_transfer(WixHttpClient *client, WixHttpTransfer *transfer)
{
	if (transfer->easy != NULL)
	{
		curl_multi_remove_handle(client->multi, transfer->easy);
		/* the handle must not point at memory that is about to go away */
		curl_easy_setopt(transfer->easy, CURLOPT_HTTPHEADER, NULL);
		curl_easy_setopt(transfer->easy, CURLOPT_ERRORBUFFER, NULL);
		if (client->nidle < POOL_SIZE)
			client->idle[client->nidle++] = transfer->easy;
		else
			curl_easy_cleanup(transfer->easy);
	}
	curl_slist_free_all(transfer->headers);
	free(transfer->url);
	free(transfer->body);
	free(transfer);
}

/*
 * wix_http_start
 *		Start a request; it progresses whenever the client is polled or
 *		another transfer is waited for.  The request is copied.  NULL when
 *		memory runs out.
 */
WixHttpTransfer *
wix_http_start(WixHttpClient *client, const WixHttpRequest *request)
{
	WixHttpTransfer *transfer = calloc(1, sizeof(WixHttpTransfer));
	CURL	   *handle;

	if (transfer == NULL)
		return NULL;
	transfer->request = *request;
	transfer->url = strdup(request->url);
	transfer->body = request->body ? strdup(request->body) : NULL;
	transfer->request.url = transfer->url;
	transfer->request.body = transfer->body;
	transfer->request.headers = NULL;
	transfer->sink.response = &transfer->response;
	transfer->sink.max_body_size = request->max_body_size;
	transfer->sink.request = &transfer->request;
	if (transfer->url == NULL || (request->body != NULL && transfer->body == NULL))
	{
		fail_transfer(transfer, CURLE_OUT_OF_MEMORY, "out of memory");
		return transfer;
	}
	for (const char *const *h = request->headers; h != NULL && *h != NULL; h++)
	{
		struct curl_slist *more = curl_slist_append(transfer->headers, *h);

		if (more == NULL)
		{
			fail_transfer(transfer, CURLE_OUT_OF_MEMORY, "out of memory");
			return transfer;
		}
		transfer->headers = more;
	}

	handle = client->nidle > 0 ? client->idle[--client->nidle] : curl_easy_init();
	if (handle == NULL)
	{
		fail_transfer(transfer, CURLE_OUT_OF_MEMORY, "out of memory");
		return transfer;
	}
	transfer->easy = handle;

	/* keeps live connections, DNS and TLS session caches */
	curl_easy_reset(handle);
	curl_easy_setopt(handle, CURLOPT_PRIVATE, transfer);
	curl_easy_setopt(handle, CURLOPT_URL, transfer->url);
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
	curl_easy_setopt(handle, CURLOPT_PIPEWAIT, 1L);
	curl_easy_setopt(handle, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(handle, CURLOPT_CONNECTTIMEOUT_MS, request->connect_timeout_ms);
	curl_easy_setopt(handle, CURLOPT_TIMEOUT_MS, request->timeout_ms);
	curl_easy_setopt(handle, CURLOPT_ERRORBUFFER, transfer->response.error);
	curl_easy_setopt(handle, CURLOPT_HTTPHEADER, transfer->headers);
	curl_easy_setopt(handle, CURLOPT_USERAGENT, "wix_admin/" WIX_ADMIN_VERSION);
	curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, collect_body);
	curl_easy_setopt(handle, CURLOPT_WRITEDATA, &transfer->sink);
	curl_easy_setopt(handle, CURLOPT_HEADERFUNCTION, collect_header);
	curl_easy_setopt(handle, CURLOPT_HEADERDATA, &transfer->sink);
	curl_easy_setopt(handle, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(handle, CURLOPT_XFERINFOFUNCTION, check_abort);
	curl_easy_setopt(handle, CURLOPT_XFERINFODATA, &transfer->sink);

	if (strcmp(request->method, "GET") == 0)
		curl_easy_setopt(handle, CURLOPT_HTTPGET, 1L);
	else
	{
		if (strcmp(request->method, "POST") != 0)
			curl_easy_setopt(handle, CURLOPT_CUSTOMREQUEST, request->method);
		if (transfer->body != NULL || strcmp(request->method, "POST") == 0)
		{
			const char *body = transfer->body ? transfer->body : "";

			curl_easy_setopt(handle, CURLOPT_POSTFIELDS, body);
			curl_easy_setopt(handle, CURLOPT_POSTFIELDSIZE, (long) strlen(body));
		}
	}

	if (curl_multi_add_handle(client->multi, handle) != CURLM_OK)
	{
		fail_transfer(transfer, CURLE_FAILED_INIT, "could not start the transfer");
		return transfer;
	}
	wix_http_poll(client);
	return transfer;
}

/* Record the transfers libcurl reports finished. */
static void
collect_done(WixHttpClient *client)
{
	CURLMsg    *msg;
	int			queued;

	while ((msg = curl_multi_info_read(client->multi, &queued)) != NULL)
	{
		WixHttpTransfer *transfer = NULL;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **) &transfer);
		if (transfer != NULL && !transfer->done)
		{
			transfer->response.curl_code = msg->data.result;
			transfer->done = true;
		}
	}
}

/*
 * wix_http_poll
 *		Move every transfer of the client along, without waiting.
 */
void
wix_http_poll(WixHttpClient *client)
{
	int			running;

	(void) curl_multi_perform(client->multi, &running);
	collect_done(client);
}

/*
 * wix_http_finish
 *		Wait for a transfer (others progress meanwhile), fill *response and
 *		free the transfer.  Never fails loudly: the caller reads curl_code,
 *		status and the flags of *response.
 */
void
wix_http_finish(WixHttpClient *client, WixHttpTransfer *transfer,
				WixHttpResponse *response)
{
	const WixHttpRequest *request = &transfer->request;
	long		sent = 0;

	while (!transfer->done)
	{
		int			running;
		CURLMcode	mc = curl_multi_perform(client->multi, &running);

		collect_done(client);
		if (transfer->done)
			break;
		if (mc == CURLM_OK)
			mc = curl_multi_poll(client->multi, NULL, 0, POLL_SLICE_MS, NULL);
		if (mc != CURLM_OK)
		{
			fail_transfer(transfer, CURLE_FAILED_INIT, curl_multi_strerror(mc));
			break;
		}
		if (request->should_abort != NULL && request->should_abort(request->abort_arg))
		{
			transfer->response.aborted = true;
			fail_transfer(transfer, CURLE_ABORTED_BY_CALLBACK, "aborted");
			break;
		}
	}

	*response = transfer->response;
	if (transfer->easy != NULL &&
		curl_easy_getinfo(transfer->easy, CURLINFO_REQUEST_SIZE, &sent) == CURLE_OK)
		response->request_sent = sent > 0;
	if (response->curl_code == CURLE_OK && transfer->easy != NULL)
		curl_easy_getinfo(transfer->easy, CURLINFO_RESPONSE_CODE, &response->status);
	else if (response->error[0] == '\0')
		snprintf(response->error, sizeof(response->error), "%s",
				 curl_easy_strerror(response->curl_code));
	free_transfer(client, transfer);
}

/*
 * wix_http_cancel
 *		Abandon a transfer and free everything it holds.
 */
void
wix_http_cancel(WixHttpClient *client, WixHttpTransfer *transfer)
{
	free(transfer->response.body);
	free_transfer(client, transfer);
}

/*
 * wix_http_perform
 *		Send one request and wait for its answer.
 */
void
wix_http_perform(WixHttpClient *client, const WixHttpRequest *request,
				 WixHttpResponse *response)
{
	WixHttpTransfer *transfer = wix_http_start(client, request);

	if (transfer == NULL)
	{
		memset(response, 0, sizeof(*response));
		response->curl_code = CURLE_OUT_OF_MEMORY;
		snprintf(response->error, sizeof(response->error), "out of memory");
		return;
	}
	wix_http_finish(client, transfer, response);
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
