/*-------------------------------------------------------------------------
 *
 * wix_admin.c
 *		  Start-up of the wix_admin library: the module magic, and _PG_init,
 *		  which lets each subsystem define its own settings and hooks; the
 *		  definition of a subsystem's tables of settings; and subtransactions
 *		  whose error is returned rather than raised.
 *
 * Subsystems, each with its header in src/include:
 *		client/   settings, connections and the HTTP transport (wix_client.h)
 *		fdw/      the foreign data wrapper (wix_fdw.h)
 *		actions/  admin actions as SQL functions (wix_actions.h)
 *		queue/    deferred actions and their background workers (wix_queue.h)
 *
 *-------------------------------------------------------------------------
 */
#include "wix_admin.h"
#include "wix_actions.h"
#include "wix_client.h"
#include "wix_fdw.h"
#include "wix_queue.h"

#include "access/xact.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/resowner.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

void
_PG_init(void)
{
	wix_client_define_gucs();
	wix_fdw_define_gucs();
	wix_actions_define_gucs();
	wix_queue_define_gucs();
	wix_mirror_define_gucs();
	MarkGUCPrefixReserved("wix_admin");
	wix_queue_init();
	wix_sizes_init();
	wix_client_shared_init();
	wix_actions_init();
	wix_import_init();
}

/* Define each integer setting of a subsystem's table. */
void
wix_define_int_settings(const WixIntSetting *settings, int count)
{
	for (int i = 0; i < count; i++)
		DefineCustomIntVariable(settings[i].name, settings[i].short_desc,
								settings[i].long_desc, settings[i].variable,
								settings[i].boot_value, settings[i].min_value,
								settings[i].max_value, settings[i].context,
								settings[i].flags, NULL, NULL, NULL);
}

/* Define each boolean setting of a subsystem's table. */
void
wix_define_bool_settings(const WixBoolSetting *settings, int count)
{
	for (int i = 0; i < count; i++)
		DefineCustomBoolVariable(settings[i].name, settings[i].short_desc,
								 settings[i].long_desc, settings[i].variable,
								 settings[i].boot_value, settings[i].context,
								 0, NULL, NULL, NULL);
}

/*
 * wix_in_subtransaction
 *		Run fn(arg) in a subtransaction.  NULL when it returned (the
 *		subtransaction is committed); else its error, copied into the
 *		caller's memory context, with the subtransaction rolled back and the
 *		error state cleared.  Either way the caller's memory context and
 *		resource owner are current again.
 */
ErrorData *
wix_in_subtransaction(void (*fn) (void *arg), void *arg)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	ErrorData  *edata = NULL;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		fn(arg);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
	}
	PG_END_TRY();
	return edata;
}
