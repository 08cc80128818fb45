/*-------------------------------------------------------------------------
 *
 * wix_admin.h
 *		  What the start-up file (src/wix_admin.c) offers every subsystem:
 *		  defining a table of integer or boolean settings, and running a
 *		  function in a subtransaction that reports its error.
 *
 *-------------------------------------------------------------------------
 */
#ifndef WIX_ADMIN_H
#define WIX_ADMIN_H

#include "postgres.h"

#include "utils/guc.h"

/* One integer GUC of a subsystem's table of settings. */
typedef struct WixIntSetting
{
	const char *name;			/* "wix_admin.<name>" */
	const char *short_desc;
	const char *long_desc;		/* or NULL */
	int		   *variable;
	int			boot_value;
	int			min_value;
	int			max_value;
	GucContext	context;
	int			flags;			/* GUC_UNIT_* */
} WixIntSetting;

/* One boolean GUC of a subsystem's table of settings. */
typedef struct WixBoolSetting
{
	const char *name;			/* "wix_admin.<name>" */
	const char *short_desc;
	const char *long_desc;		/* or NULL */
	bool	   *variable;
	bool		boot_value;
	GucContext	context;
} WixBoolSetting;

extern void wix_define_int_settings(const WixIntSetting *settings, int count);
extern void wix_define_bool_settings(const WixBoolSetting *settings, int count);
extern ErrorData *wix_in_subtransaction(void (*fn) (void *arg), void *arg);

#endif							/* WIX_ADMIN_H */
