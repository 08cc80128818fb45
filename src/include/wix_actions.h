/*-------------------------------------------------------------------------
 *
 * wix_actions.h
 *		  Admin actions as SQL functions (actions/): refunds, fulfilment,
 *		  members, products, inventory, bookings and wix_api(), with their
 *		  server choice, input checks and audit trail.
 *
 *-------------------------------------------------------------------------
 */
#ifndef WIX_ACTIONS_H
#define WIX_ACTIONS_H

#include "wix_client.h"

#include "fmgr.h"

extern char *wix_default_server;	/* GUC wix_admin.default_server */
extern bool wix_defer_actions;	/* GUC wix_admin.defer_actions */
extern bool wix_force_defer;	/* set while wix_enqueue() runs */

extern void wix_actions_define_gucs(void);
extern Datum wix_run_admin_action(FunctionCallInfo fcinfo, const char *name);

#endif							/* WIX_ACTIONS_H */
