/*-------------------------------------------------------------------------
 *
 * members.c
 *		  What the member actions need beyond their rows in the action table
 *		  (members-stores-bookings.md §3.3): the check of a new member's
 *		  login e-mail.  Creating, approving, blocking and deleting members
 *		  are rows.
 *
 *-------------------------------------------------------------------------
 */
#include "wix_actions.h"

/* wix_create_member: login_email looks like one address. */
void
wix_check_create_member(WixActionCall *call)
{
	const char *email = wix_arg_text(call, "login_email");
	const char *at = strchr(email, '@');

	if (at == NULL || at == email || at[1] == '\0' || strchr(at + 1, '@') != NULL ||
		strpbrk(email, " \t\r\n") != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("login_email %s is not an email address", wix_quoted(email))));
}
