/*-------------------------------------------------------------------------
 *
 * wix_http.h
 *		  The HTTP transport of wix_admin: plain libcurl, no PostgreSQL
 *		  headers, never longjmps.  connection.c glues it to PostgreSQL's
 *		  interrupts and error reporting.
 *
 *-------------------------------------------------------------------------
 */
#ifndef WIX_HTTP_H
#define WIX_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include <curl/curl.h>

typedef struct WixHttpRequest
{
	const char *method;			/* GET, POST, PATCH, DELETE */
	const char *url;
	const char *body;			/* NULL: no body */
	const char *const *headers; /* "Name: value", NULL ended */
	bool		allow_plain_http;	/* only ever true for loopback hosts */
	long		connect_timeout_ms;
	long		timeout_ms;
	size_t		max_body_size;
	/* polled while waiting; returning true aborts the transfer */
	bool		(*should_abort) (void *arg);
	void	   *abort_arg;
} WixHttpRequest;

typedef struct WixHttpResponse
{
	long		status;			/* 0 when no HTTP answer arrived */
	char	   *body;			/* malloc'd, NUL terminated; free with
								 * wix_http_response_free */
	size_t		body_len;
	bool		body_too_large;
	bool		aborted;		/* should_abort said so */
	bool		request_sent;	/* any byte of the request went out */
	CURLcode	curl_code;
	char		request_id[128];	/* X-Wix-Request-Id */
	char		retry_after[64];	/* Retry-After */
	char		error[CURL_ERROR_SIZE];
} WixHttpResponse;

/* One connection's transport: a multi handle and its easy handles. */
typedef struct WixHttpClient WixHttpClient;

/* A request in flight (malloc'd; finish or cancel it exactly once). */
typedef struct WixHttpTransfer WixHttpTransfer;

extern bool wix_http_global_init(void);
extern WixHttpClient *wix_http_client_new(void);
extern void wix_http_client_free(WixHttpClient *client);
extern void wix_http_perform(WixHttpClient *client,
							 const WixHttpRequest *request,
							 WixHttpResponse *response);
extern WixHttpTransfer *wix_http_start(WixHttpClient *client,
									   const WixHttpRequest *request);
extern void wix_http_poll(WixHttpClient *client);
extern void wix_http_finish(WixHttpClient *client, WixHttpTransfer *transfer,
							WixHttpResponse *response);
extern void wix_http_cancel(WixHttpClient *client, WixHttpTransfer *transfer);
extern void wix_http_response_free(WixHttpResponse *response);
extern char *wix_http_escape_path_segment(const char *segment);

#endif							/* WIX_HTTP_H */
