/*-------------------------------------------------------------------------
 *
 * wix_actions.h
 *		  Admin actions as SQL functions (actions/).
 *
 * Each action is one row of the action table (registry.c): its SQL name and
 * named parameters, its Wix call, the body it sends, the entity it returns
 * and its flags.  The runner (runtime.c) owns everything an action shares:
 * argument checks, server choice, credentials, deferral to the queue, the
 * audit trail and errors.  Simple verbs (approve, block, archive, confirm,
 * ...) are rows with no code of their own; refunds, fulfilment, products,
 * inventory, rescheduling and wix_api() add small functions (orders.c,
 * products.c, bookings.c, api.c).  Every action SQL function is the C
 * function wix_action_call, which finds its row by the function's name.
 *
 *-------------------------------------------------------------------------
 */
#ifndef WIX_ACTIONS_H
#define WIX_ACTIONS_H

#include "wix_client.h"
#include "wix_queue.h"

#include "fmgr.h"

#define WIX_ACTION_MAX_PARAMS	6	/* the server parameter excluded */

/* How a parameter is typed and checked before anything is sent. */
typedef enum WixParamKind
{
	WIX_PARAM_ID,				/* text: a Wix id, percent-encoded for paths */
	WIX_PARAM_TEXT,				/* text: non-empty plain text, max_length */
	WIX_PARAM_RAW_TEXT,			/* text: left to the action's own checks */
	WIX_PARAM_BOOL,
	WIX_PARAM_INT,
	WIX_PARAM_NUMERIC,
	WIX_PARAM_NON_NEGATIVE,		/* numeric, zero or more */
	WIX_PARAM_TIMESTAMPTZ,
	WIX_PARAM_OBJECT,			/* jsonb: a JSON object, read as json-c */
	WIX_PARAM_RAW_JSONB			/* jsonb: left to the action's own checks */
} WixParamKind;

/* WixParamDef.flags */
#define WIX_PARAM_TARGET		0x01	/* the id acted on, for the audit */

typedef struct WixParamDef
{
	const char *name;
	WixParamKind kind;
	const char *sql_default;	/* NULL: none (required); "NULL": nullable */
	int			max_length;		/* WIX_PARAM_TEXT: most characters */
	int			flags;
} WixParamDef;

/* One argument of a call, checked. */
typedef struct WixArg
{
	bool		isnull;
	Datum		datum;			/* as passed */
	char	   *text;			/* text kinds: the string as passed */
	char	   *escaped;		/* WIX_PARAM_ID: one percent-encoded segment */
	json_object *json;			/* WIX_PARAM_OBJECT: the object */
} WixArg;

/* A member of the body a row sends, taken from a parameter. */
typedef struct WixBodyField
{
	const char *json_path;		/* dotted, objects created as needed */
	const char *param;			/* NULL arguments are left out */
} WixBodyField;

#define WIX_ACTION_MAX_BODY_FIELDS	4

typedef struct WixActionCall WixActionCall;
typedef struct WixActionDef WixActionDef;

typedef void (*WixActionCheckFn) (WixActionCall *call);
typedef json_object *(*WixActionRunFn) (WixActionCall *call);
typedef json_object *(*WixCurrentFn) (WixActionCall *call);
typedef void (*WixBodyFn) (WixActionCall *call, json_object *body,
						   json_object *current);

/* WixActionDef.flags */
#define WIX_ACTION_DELETE		0x01	/* answers {}: return {id, deleted} */
#define WIX_ACTION_TARGET_FROM_RESULT	0x02	/* the audit's target: the new id */

/*
 * The bulk call of an action, where Wix has one (breadth.md §13): one
 * request for up to max_items calls, item building each call's entry of
 * the body's items_key array; Wix answers each entry in
 * {"results": [{"itemMetadata": {"id", "originalIndex", "success",
 * "error": {"code", "description"}}}]}.  DML sends rows in it
 * (wix_action_run_dml_bulk); a function call is always a single call.
 */
typedef json_object *(*WixBulkItemFn) (WixActionCall *call);

typedef struct WixBulkDef
{
	const char *path;
	const char *items_key;
	int			max_items;
	bool		catalog_v3_only;	/* a Stores call Catalog V1 lacks */
	bool		takes_return_entity;	/* the body has "returnEntity" */
	WixBulkItemFn item;			/* NULL: the call cannot go in bulk */
} WixBulkDef;

/*
 * An admin action.  A row with run == NULL is sent by the runner: method
 * and path (with {param} replaced by the escaped id), a body built from
 * body fields and build_body, and the answer's result_key entity.  With
 * read_current, the entity is read first and its revision sent; a revision
 * conflict (HTTP 409) reads it again and tries once more, and a delivery
 * after an unknown outcome sends nothing when the entity's status already
 * is done_status.
 */
struct WixActionDef
{
	const char *name;			/* the SQL function */
	WixParamDef params[WIX_ACTION_MAX_PARAMS + 1];	/* {NULL} ended */
	WixActionCheckFn check;		/* checks across arguments, or NULL */
	const char *method;
	const char *path;
	const char *path_v1;		/* Stores Catalog V1's path, when it differs */
	WixBodyField body[WIX_ACTION_MAX_BODY_FIELDS + 1];
	WixBodyFn build_body;		/* adds to the body, or NULL */
	const char *result_key;		/* the entity in the answer; NULL: all */
	int			flags;
	WixCurrentFn read_current;	/* revisioned entities, or NULL */
	const char *done_status;
	WixActionRunFn run;			/* an action with code of its own */
	const WixBulkDef *bulk;		/* its bulk call, or NULL */
};

/* One call of an admin action. */
struct WixActionCall
{
	const WixActionDef *def;
	WixArg		args[WIX_ACTION_MAX_PARAMS];
	char	   *server_arg;		/* the server argument, or NULL */
	bool		defer;			/* queue instead of calling Wix */
	Oid			via_table;		/* made by DML: the foreign table, whose
								 * privileges the executor checked; they
								 * stand for EXECUTE and USAGE on the
								 * server */
	const char *revision;		/* DML: the entity's revision as the row was
								 * read, or NULL */
	Oid			mapping_user;	/* DML: the role whose user mapping it
								 * uses (a view's owner through a view), or
								 * InvalidOid: the current user */
	WixDelivery *delivery;		/* the queue's attempt, or NULL: immediate */
	char	   *role;			/* the calling role */
	char	   *target;			/* id or path acted on, NULL until known */
	char	   *server_name;	/* NULL until chosen */
	WixConnection *conn;		/* NULL until connected */
	bool		action_sent;	/* the changing request has answered 200 */
	bool		change_sent;	/* the changing request was (maybe) sent */
	Datum		queued;			/* deferred: the queued action's jsonb */
	long		status;			/* HTTP status reported in the audit */
	char	   *request_id;		/* X-Wix-Request-Id reported in the audit */
	char	   *note;			/* what went wrong although the call worked */
	MemoryContext cxt;			/* work memory and json-c holders */
	MemoryContext caller_cxt;
};

/*
 * DML on foreign tables (fdw/modify.c).  Which action an INSERT, UPDATE or
 * DELETE of a resource's table makes is a rule of the DML table
 * (registry.c): a statement kind and, for UPDATE, a standard column set to
 * a value (or to any value).  Its bindings fill the action's parameters
 * from the row: its Wix id, a column of the new row (for UPDATE: its new
 * value when set, else as read), members of a jsonb object made of the
 * columns the statement sets, or a constant; a parameter left unbound, or
 * bound to a NULL, takes its SQL default.
 */
typedef enum WixDmlKind
{
	WIX_DML_INSERT,
	WIX_DML_UPDATE,
	WIX_DML_DELETE
} WixDmlKind;

typedef enum WixBindSource
{
	WIX_BIND_ID,				/* the row's Wix id */
	WIX_BIND_COLUMN,			/* a standard column of the new row */
	WIX_BIND_MEMBER,			/* a member of a jsonb object parameter:
								 * a column the statement sets */
	WIX_BIND_CONST				/* a constant, as SQL text */
} WixBindSource;

typedef struct WixDmlBinding
{
	const char *param;			/* the action's parameter */
	WixBindSource source;
	const char *value;			/* the column, or the constant's text */
	const char *member;			/* WIX_BIND_MEMBER: the member's name */
} WixDmlBinding;

typedef struct WixDmlRule
{
	const char *resource;		/* the table's resource option */
	WixDmlKind kind;
	const char *column;			/* UPDATE: the standard column set */
	const char *value;			/* ... to this value, as SQL text; NULL:
								 * to any value but NULL */
	const char *action;			/* the action row it makes */
	WixDmlBinding bind[WIX_ACTION_MAX_PARAMS + 1];	/* {NULL} ended */
	int			flags;
} WixDmlRule;

/* WixDmlRule.flags */
#define WIX_DML_ANSWER_NOT_ROW	0x01	/* the action answers with another
										 * entity: no RETURNING */
#define WIX_DML_EXCLUSIVE		0x02	/* not with another exclusive rule's
										 * column in one UPDATE */

/* Where a DML statement's actions go (fdw/modify.c). */
typedef struct WixDmlTarget
{
	Oid			table;			/* the foreign table */
	const char *server;			/* ... its server */
	Oid			mapping_user;	/* WixActionCall.mapping_user */
	bool		defer;			/* queued until COMMIT */
} WixDmlTarget;

/* registry.c: the action table and the DML table */
extern const WixActionDef *wix_find_action(const char *name);
extern const WixActionDef *wix_action_defs(int *count);
extern int	wix_action_nparams(const WixActionDef *def);
extern bool wix_action_takes_nargs(const WixActionDef *def, int nargs);
extern int	wix_action_param_index(const WixActionDef *def, const char *name);
extern const WixDmlRule *wix_dml_rules(int *count);

/* runtime.c, args.c, server.c: settings, arguments, server, requests */
extern char *wix_default_server;	/* GUC wix_admin.default_server */
extern bool wix_defer_actions;	/* GUC wix_admin.defer_actions */

extern void wix_actions_define_gucs(void);
extern void wix_actions_init(void);
extern Datum wix_action_run_dml(const WixActionDef *def, const Datum *values,
								const bool *nulls, const char *revision,
								const WixDmlTarget *target);
extern int	wix_action_bulk_size(const WixActionDef *def);
extern json_object *wix_target_id_item(WixActionCall *call);
extern int	wix_action_run_dml_bulk(const WixActionDef *def, int nrows,
									Datum **values, bool **nulls,
									const char *const *revisions,
									const WixDmlTarget *target,
									bool *refused);
extern void wix_check_args(WixActionCall *call);
extern void wix_args_from_fcinfo(WixActionCall *call, FunctionCallInfo fcinfo);
extern void wix_args_from_json(WixActionCall *call, const char *args_text,
							   const char *server);
extern void wix_args_from_values(WixActionCall *call, const Datum *values,
								 const bool *nulls, const char *server);
extern char *wix_args_json(WixActionCall *call);
extern Oid	wix_action_param_type(const WixActionDef *def, int i);
extern void wix_check_non_negative(const char *name, Datum value);
extern json_object *wix_object_arg(WixActionCall *call, const char *name,
								   Datum value);
extern ForeignServer *wix_choose_server(const char *name);
extern bool wix_connect_action(WixActionCall *call);
extern WixArg *wix_arg(WixActionCall *call, const char *name);
extern const char *wix_arg_text(WixActionCall *call, const char *name);
extern bool wix_arg_bool(WixActionCall *call, const char *name);
extern char *wix_expand_path(WixActionCall *call, const char *template);
extern char *wix_check_id(const char *argname, const char *id);
extern char *wix_quoted(const char *s);
extern json_object *wix_held(WixActionCall *call, json_object *obj);
extern json_object *wix_action_read(WixActionCall *call, const char *method,
									const char *path, json_object *body);
extern json_object *wix_action_send(WixActionCall *call, const char *method,
									const char *path, json_object *body,
									long accept_status, long *status);
extern bool wix_site_uses_catalog_v1(WixActionCall *call);

/*
 * One attempt of a revisioned change: the body with the entity's current
 * revision, and its path; or done, the result to report without sending.
 */
typedef struct WixAttempt
{
	json_object *body;
	char	   *path;
	json_object *done;
} WixAttempt;
typedef void (*WixAttemptFn) (WixActionCall *call, int attempt, void *arg,
							  WixAttempt *out);

extern json_object *wix_send_with_revision(WixActionCall *call,
										   const char *method,
										   const char *result_key,
										   WixAttemptFn prepare, void *arg);

/* body.c: building bodies and reading answers */
extern void wix_jset(json_object *obj, const char *key, json_object *value);
extern void wix_jset_string(json_object *obj, const char *key,
							const char *value);
extern json_object *wix_jchild(json_object *obj, const char *key);
extern void wix_jset_path(json_object *obj, const char *dotted_path,
						  json_object *value);
extern json_object *wix_entity(json_object *answer, const char *key,
							   const char *method, const char *path);
extern json_object *wix_deleted(WixActionCall *call, json_object *answer,
								const char *id);
extern const char *wix_decimal_text(json_object *value);
extern Datum wix_money_at(json_object *obj, const char *key, bool *found);
extern int	wix_numeric_compare(Datum a, Datum b);
extern char *wix_numeric_text(Datum num);
extern Datum wix_numeric_from_cstring(const char *s);
extern json_object *wix_amount_object(Datum num);

/* The actions with code of their own, by Wix domain. */
extern void wix_check_refund(WixActionCall *call);
extern json_object *wix_run_refund(WixActionCall *call);
extern void wix_check_fulfill(WixActionCall *call);
extern json_object *wix_run_fulfill(WixActionCall *call);
extern json_object *wix_run_mark_order_paid(WixActionCall *call);
extern void wix_check_create_member(WixActionCall *call);
extern void wix_check_create_product(WixActionCall *call);
extern void wix_check_update_product(WixActionCall *call);
extern json_object *wix_run_create_product(WixActionCall *call);
extern json_object *wix_create_product_item(WixActionCall *call);
extern json_object *wix_update_product_item(WixActionCall *call);
extern json_object *wix_run_update_product(WixActionCall *call);
extern void wix_check_set_inventory(WixActionCall *call);
extern json_object *wix_run_set_stock(WixActionCall *call);
extern void wix_check_adjust_inventory(WixActionCall *call);
extern json_object *wix_run_adjust_inventory(WixActionCall *call);
extern json_object *wix_read_booking(WixActionCall *call);
extern void wix_check_reschedule(WixActionCall *call);
extern void wix_reschedule_body(WixActionCall *call, json_object *body,
								json_object *current);
extern void wix_check_api(WixActionCall *call);
extern json_object *wix_run_api(WixActionCall *call);

#endif							/* WIX_ACTIONS_H */
