/*-------------------------------------------------------------------------
 *
 * api.c
 *		  wix_api(method, path, body, server): any other Wix call, relative to
 *		  the server's base_url, with the same server choice, credentials,
 *		  retries and audit as every admin action.
 *
 *-------------------------------------------------------------------------
 */
#include "wix_actions.h"

#define WIX_API_PATH_MAX	2048

/*
 * check_api_path
 *		A wix_api path: relative to base_url, starting with "/", no scheme or
 *		host, no fragment, no ".." segment (plain or percent-encoded), no
 *		white space, control characters or backslashes.  A query string is
 *		allowed.
 */
static void
check_api_path(const char *path)
{
	const char *problem = NULL;
	size_t		len = strlen(path);
	size_t		pathlen = strcspn(path, "?");

	if (len == 0)
		problem = "It is empty.";
	else if (path[0] != '/')
		problem = "It does not start with \"/\".";
	else if (len > WIX_API_PATH_MAX)
		problem = "It is too long.";
	else if (path[1] == '/' || strstr(path, "://") != NULL)
		problem = "It names a scheme or a host; a path is relative to the server's base_url.";
	else if (strchr(path, '#') != NULL)
		problem = "It contains a fragment (\"#\").";
	else
	{
		for (const char *p = path; *p; p++)
		{
			unsigned char c = (unsigned char) *p;

			if (c <= 0x20 || c == 0x7f)
				problem = c == ' ' ? "It contains a space." :
					"It contains white space or a control character.";
			else if (c == '\\')
				problem = "It contains a backslash.";
			if (problem)
				break;
		}
	}
	if (problem == NULL)
	{
		/* dot segments, also percent-encoded, and encoded slashes */
		char	   *copy = pnstrdup(path, pathlen);
		char	   *segment;
		char	   *saveptr = NULL;

		for (char *p = copy; *p; p++)
		{
			if (p[0] == '%' && p[1] != '\0' && p[2] != '\0' &&
				(pg_strncasecmp(p, "%2e", 3) == 0 ||
				 pg_strncasecmp(p, "%2f", 3) == 0 ||
				 pg_strncasecmp(p, "%5c", 3) == 0))
			{
				problem = "It contains a percent-encoded \".\", \"/\" or \"\\\".";
				break;
			}
		}
		for (segment = strtok_r(copy, "/", &saveptr);
			 problem == NULL && segment != NULL;
			 segment = strtok_r(NULL, "/", &saveptr))
		{
			if (strcmp(segment, "..") == 0 || strcmp(segment, ".") == 0)
				problem = "It contains a \".\" or \"..\" segment.";
		}
		pfree(copy);
	}
	if (problem != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 len == 0 ? errmsg("path must not be empty") :
				 errmsg("path %s is not a valid Wix API path", wix_quoted(path)),
				 errdetail("%s", problem),
				 errhint("Give the path relative to the server's base_url, such as '/ecom/v1/orders/<id>'.")));
}

/*
 * wix_check_api
 *		The method one Wix takes (normalised to upper case), a path relative
 *		to base_url, and a body object only with methods that take one.
 */
void
wix_check_api(WixActionCall *call)
{
	static const char *const methods[] = {"GET", "POST", "PATCH", "PUT", "DELETE", NULL};
	WixArg	   *method = wix_arg(call, "method");
	const char *path = wix_arg_text(call, "path");
	WixArg	   *body = wix_arg(call, "body");
	const char *given = method->text;

	method->text = NULL;
	for (const char *const *m = methods; *m; m++)
	{
		if (pg_strcasecmp(given, *m) == 0)
			method->text = pstrdup(*m);
	}
	if (method->text == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("method %s is not supported", wix_quoted(given)),
				 errhint("Use GET, POST, PATCH, PUT or DELETE.")));
	call->target = psprintf("%s %s", method->text, path);
	check_api_path(path);
	if (body->isnull)
		return;
	body->json = wix_object_arg(call, "body", body->datum);
	if (strcmp(method->text, "GET") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a GET request takes no body"),
				 errhint("Put GET parameters in the path's query string.")));
}

/* Send the call as given; the answer is the result. */
json_object *
wix_run_api(WixActionCall *call)
{
	return wix_action_send(call, wix_arg_text(call, "method"),
						   wix_arg_text(call, "path"), wix_arg(call, "body")->json,
						   0, NULL);
}
