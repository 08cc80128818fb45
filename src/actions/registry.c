/*-------------------------------------------------------------------------
 *
 * registry.c
 *		  The action table: every admin action, its SQL parameters, its Wix
 *		  call and body, the entity it returns.  Adding an action is a row
 *		  here plus its CREATE FUNCTION ... AS 'MODULE_PATHNAME',
 *		  'wix_action_call' (and REVOKE) in the extension script; the
 *		  regression test "actions" checks that both agree through
 *		  wix_admin.action_signatures().
 *
 * Paths and bodies follow shared/wix-api/: auth-and-orders.md §3 (orders,
 * §3.5 refunds through Order Billing, §3.6 fulfillments), breadth.md §3.2
 * (marking an order paid through its transactions) and
 * members-stores-bookings.md §3.3 (members), §4.4 and §4.7 (products and
 * inventory, V1 and V3), §5.3 (bookings, with revisions).
 *
 *-------------------------------------------------------------------------
 */
#include "wix_actions.h"

#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

/* Parameter shorthands: required, or with the SQL default given. */
#define ID(n)			{n, WIX_PARAM_ID, NULL, 0, 0}
#define TARGET_ID(n)	{n, WIX_PARAM_ID, NULL, 0, WIX_PARAM_TARGET}
#define OPT_ID(n)		{n, WIX_PARAM_ID, "NULL", 0, 0}
#define TEXT(n, len)	{n, WIX_PARAM_TEXT, NULL, len, 0}
#define OPT_TEXT(n, len) {n, WIX_PARAM_TEXT, "NULL", len, 0}
#define BOOL(n, d)		{n, WIX_PARAM_BOOL, d, 0, 0}

/*
 * confirm, decline and cancel a booking: the verb's path with the booking's
 * revision and notifyParticipants; done when the booking has the status.
 */
#define BOOKING_VERB(sqlname, verb, status) \
	{.name = sqlname, \
		.params = {TARGET_ID("booking_id"), BOOL("notify", "false")}, \
		.method = "POST",.path = "/_api/bookings-service/v2/bookings/{booking_id}/" verb, \
		.body = {{"participantNotification.notifyParticipants", "notify"}}, \
		.result_key = "booking", \
	.read_current = wix_read_booking,.done_status = status}

/* Catalog V3's bulk product calls (breadth.md §13) */
static const WixBulkDef products_bulk_create = {
	.path = "/stores/v3/bulk/products/create",.items_key = "products",
	.max_items = 100,.catalog_v3_only = true,.takes_return_entity = true,
	.item = wix_create_product_item
};
static const WixBulkDef products_bulk_update = {
	.path = "/stores/v3/bulk/products/update",.items_key = "products",
	.max_items = 100,.catalog_v3_only = true,.takes_return_entity = true,
	.item = wix_update_product_item
};
static const WixBulkDef products_bulk_delete = {
	.path = "/stores/v3/bulk/products/delete",.items_key = "productIds",
	.max_items = 100,.catalog_v3_only = true,.item = wix_target_id_item
};

/* Bulk Delete Members (members-stores-bookings.md §3.3) */
static const WixBulkDef members_bulk_delete = {
	.path = "/members/v1/members/bulk/delete",.items_key = "memberIds",
	.max_items = 100,.item = wix_target_id_item
};

static const WixActionDef actions[] = {
	/* orders (auth-and-orders.md §3) */
	{.name = "wix_refund",
		.params = {TARGET_ID("order_id"), {"amount", WIX_PARAM_NUMERIC, "NULL"},
			OPT_TEXT("reason", 1000), BOOL("restock", "true"),
		BOOL("notify_customer", "false")},
	.check = wix_check_refund,.run = wix_run_refund},
	{.name = "wix_cancel_order",
		.params = {TARGET_ID("order_id"), BOOL("restock", "true"),
		BOOL("notify_customer", "false")},
		.method = "POST",.path = "/ecom/v1/orders/{order_id}/cancel",
		.body = {{"sendOrderCanceledEmail", "notify_customer"},
		{"restockAllItems", "restock"}},
	.result_key = "order"},
	{.name = "wix_fulfill_order",
		.params = {TARGET_ID("order_id"), OPT_TEXT("tracking_number", 100),
			OPT_TEXT("shipping_provider", 100), OPT_TEXT("tracking_link", 2000)},
	.check = wix_check_fulfill,.run = wix_run_fulfill},
	{.name = "wix_archive_order",
		.params = {TARGET_ID("order_id"), BOOL("archived", "true")},
		.method = "PATCH",.path = "/ecom/v1/orders/{order_id}",
		.body = {{"order.id", "order_id"}, {"order.archived", "archived"}},
	.result_key = "order"},
	{.name = "wix_mark_order_paid",
		.params = {TARGET_ID("order_id")},
	.run = wix_run_mark_order_paid},

	/* members (members-stores-bookings.md §3.3) */
	{.name = "wix_create_member",
		.params = {TEXT("login_email", 254), OPT_TEXT("first_name", 100),
		OPT_TEXT("last_name", 100), OPT_TEXT("nickname", 100)},
		.check = wix_check_create_member,
		.method = "POST",.path = "/members/v1/members",
		.body = {{"member.loginEmail", "login_email"},
			{"member.contact.firstName", "first_name"},
			{"member.contact.lastName", "last_name"},
		{"member.profile.nickname", "nickname"}},
	.result_key = "member",.flags = WIX_ACTION_TARGET_FROM_RESULT},
	{.name = "wix_approve_member",
		.params = {TARGET_ID("member_id")},
		.method = "POST",.path = "/members/v1/members/{member_id}/approve",
	.result_key = "member"},
	{.name = "wix_block_member",
		.params = {TARGET_ID("member_id")},
		.method = "POST",.path = "/members/v1/members/{member_id}/block",
	.result_key = "member"},
	{.name = "wix_delete_member",
		.params = {TARGET_ID("member_id")},
		.method = "DELETE",.path = "/members/v1/members/{member_id}",
	.flags = WIX_ACTION_DELETE,.bulk = &members_bulk_delete},

	/* products and inventory (§4.4 Catalog V1, §4.7 Catalog V3) */
	{.name = "wix_create_product",
		.params = {TEXT("name", 80), {"price", WIX_PARAM_NON_NEGATIVE, NULL},
			OPT_TEXT("sku", 40), BOOL("visible", "true"),
		OPT_TEXT("description", 8000), OPT_TEXT("product_type", 20)},
		.check = wix_check_create_product,.run = wix_run_create_product,
	.bulk = &products_bulk_create},
	{.name = "wix_update_product",
		.params = {TARGET_ID("product_id"), {"changes", WIX_PARAM_OBJECT, NULL}},
	.check = wix_check_update_product,.run = wix_run_update_product,
	.bulk = &products_bulk_update},
	{.name = "wix_delete_product",
		.params = {TARGET_ID("product_id")},
		.method = "DELETE",.path = "/stores/v3/products/{product_id}",
		.path_v1 = "/stores/v1/products/{product_id}",
	.flags = WIX_ACTION_DELETE,.bulk = &products_bulk_delete},
	{.name = "wix_set_inventory",
		.params = {TARGET_ID("product_id"), {"quantity", WIX_PARAM_INT, NULL},
		OPT_ID("variant_id")},
	.check = wix_check_set_inventory,.run = wix_run_set_stock},
	{.name = "wix_set_in_stock",
		.params = {TARGET_ID("product_id"), {"in_stock", WIX_PARAM_BOOL, NULL},
		OPT_ID("variant_id")},
	.run = wix_run_set_stock},
	{.name = "wix_adjust_inventory",
		.params = {TARGET_ID("product_id"), {"delta", WIX_PARAM_INT, NULL},
		OPT_ID("variant_id")},
	.check = wix_check_adjust_inventory,.run = wix_run_adjust_inventory},

	/* bookings (§5.3): every change sends the booking's current revision */
	BOOKING_VERB("wix_confirm_booking", "confirm", "CONFIRMED"),
	BOOKING_VERB("wix_decline_booking", "decline", "DECLINED"),
	BOOKING_VERB("wix_cancel_booking", "cancel", "CANCELED"),
	{.name = "wix_reschedule_booking",
		.params = {TARGET_ID("booking_id"), {"start_date", WIX_PARAM_TIMESTAMPTZ, NULL},
		{"end_date", WIX_PARAM_TIMESTAMPTZ, "NULL"}},
		.check = wix_check_reschedule,
		.method = "POST",.path = "/_api/bookings-service/v2/bookings/{booking_id}/reschedule",
		.build_body = wix_reschedule_body,.result_key = "booking",
	.read_current = wix_read_booking},

	/* any other call, relative to the server's base_url */
	{.name = "wix_api",
		.params = {{"method", WIX_PARAM_RAW_TEXT, NULL}, {"path", WIX_PARAM_RAW_TEXT, NULL},
		{"body", WIX_PARAM_RAW_JSONB, "NULL"}},
	.check = wix_check_api,.run = wix_run_api},
};

/*
 * Binding shorthands: the row's id, a column of the new row, a member of a
 * jsonb object (a column set), a constant.
 */
#define BIND_ID(p)			{p, WIX_BIND_ID, NULL}
#define BIND_COLUMN(p, c)	{p, WIX_BIND_COLUMN, c}
#define BIND_MEMBER(p, c, m) {p, WIX_BIND_MEMBER, c, m}
#define BIND_CONST(p, v)	{p, WIX_BIND_CONST, v}

/*
 * An UPDATE of a product: every column set, of name, visible, price, sku
 * and description, is a member of one wix_update_product() changes object,
 * so the columns an UPDATE sets make one call per row.
 */
#define PRODUCT_UPDATE(column) \
	{"products", WIX_DML_UPDATE, column, NULL, "wix_update_product", \
		{BIND_ID("product_id"), BIND_MEMBER("changes", "name", "name"), \
			BIND_MEMBER("changes", "visible", "visible"), \
			BIND_MEMBER("changes", "price", "price"), \
			BIND_MEMBER("changes", "sku", "sku"), \
	BIND_MEMBER("changes", "description", "description")}}

/*
 * The DML table: which action an INSERT, UPDATE or DELETE of a resource's
 * foreign table makes (README "Writable tables").  Columns are standard
 * columns (catalog.c); a table of one's own maps a column to one by its Wix
 * path.  An UPDATE rule with no value takes any value but NULL.  An UPDATE
 * setting several columns makes one action per column, in column order;
 * rules of the same action with the same bindings make it once per row.
 * WIX_DML_ANSWER_NOT_ROW marks an action whose answer is not the resource's
 * entity (transactions, a fulfillment, a V1 product): RETURNING is refused.
 * WIX_DML_EXCLUSIVE marks rules whose changes Wix takes one at a time (an
 * inventory item's quantity or in-stock status): an UPDATE setting columns
 * of two of them is refused.
 */
static const WixDmlRule dml_rules[] = {
	{"orders", WIX_DML_UPDATE, "archived", "true", "wix_archive_order",
	{BIND_ID("order_id"), BIND_CONST("archived", "true")}},
	{"orders", WIX_DML_UPDATE, "status", "CANCELED", "wix_cancel_order",
	{BIND_ID("order_id")}},
	{"orders", WIX_DML_UPDATE, "payment_status", "PAID", "wix_mark_order_paid",
	{BIND_ID("order_id")}, WIX_DML_ANSWER_NOT_ROW},
	{"orders", WIX_DML_UPDATE, "fulfillment_status", "FULFILLED", "wix_fulfill_order",
	{BIND_ID("order_id")}, WIX_DML_ANSWER_NOT_ROW},
	{"members", WIX_DML_INSERT, NULL, NULL, "wix_create_member",
		{BIND_COLUMN("login_email", "login_email"),
			BIND_COLUMN("first_name", "first_name"),
			BIND_COLUMN("last_name", "last_name"),
	BIND_COLUMN("nickname", "nickname")}},
	{"members", WIX_DML_UPDATE, "status", "APPROVED", "wix_approve_member",
	{BIND_ID("member_id")}},
	{"members", WIX_DML_UPDATE, "status", "BLOCKED", "wix_block_member",
	{BIND_ID("member_id")}},
	{"members", WIX_DML_DELETE, NULL, NULL, "wix_delete_member",
	{BIND_ID("member_id")}},
	{"products", WIX_DML_INSERT, NULL, NULL, "wix_create_product",
		{BIND_COLUMN("name", "name"), BIND_COLUMN("price", "price"),
			BIND_COLUMN("sku", "sku"), BIND_COLUMN("visible", "visible"),
			BIND_COLUMN("description", "description"),
	BIND_COLUMN("product_type", "product_type")}},
	PRODUCT_UPDATE("name"),
	PRODUCT_UPDATE("visible"),
	PRODUCT_UPDATE("price"),
	PRODUCT_UPDATE("sku"),
	PRODUCT_UPDATE("description"),
	{"products", WIX_DML_DELETE, NULL, NULL, "wix_delete_product",
	{BIND_ID("product_id")}},
	{"inventory_items", WIX_DML_UPDATE, "quantity", NULL, "wix_set_inventory",
		{BIND_COLUMN("product_id", "product_id"), BIND_COLUMN("quantity", "quantity"),
		BIND_COLUMN("variant_id", "variant_id")},
	WIX_DML_ANSWER_NOT_ROW | WIX_DML_EXCLUSIVE},
	{"inventory_items", WIX_DML_UPDATE, "in_stock", NULL, "wix_set_in_stock",
		{BIND_COLUMN("product_id", "product_id"), BIND_COLUMN("in_stock", "in_stock"),
		BIND_COLUMN("variant_id", "variant_id")},
	WIX_DML_ANSWER_NOT_ROW | WIX_DML_EXCLUSIVE},
	{"bookings", WIX_DML_UPDATE, "status", "CONFIRMED", "wix_confirm_booking",
	{BIND_ID("booking_id")}},
	{"bookings", WIX_DML_UPDATE, "status", "DECLINED", "wix_decline_booking",
	{BIND_ID("booking_id")}},
	{"bookings", WIX_DML_UPDATE, "status", "CANCELED", "wix_cancel_booking",
	{BIND_ID("booking_id")}},
	{"bookings", WIX_DML_UPDATE, "start_date", NULL, "wix_reschedule_booking",
		{BIND_ID("booking_id"), BIND_COLUMN("start_date", "start_date"),
	BIND_COLUMN("end_date", "end_date")}},
	{"bookings", WIX_DML_UPDATE, "end_date", NULL, "wix_reschedule_booking",
		{BIND_ID("booking_id"), BIND_COLUMN("start_date", "start_date"),
	BIND_COLUMN("end_date", "end_date")}},
};

PG_FUNCTION_INFO_V1(wix_action_signatures);

const WixDmlRule *
wix_dml_rules(int *count)
{
	*count = lengthof(dml_rules);
	return dml_rules;
}

/* The index of the action's parameter name, or -1. */
int
wix_action_param_index(const WixActionDef *def, const char *name)
{
	for (int i = 0; def->params[i].name != NULL; i++)
	{
		if (strcmp(def->params[i].name, name) == 0)
			return i;
	}
	return -1;
}

const WixActionDef *
wix_action_defs(int *count)
{
	*count = lengthof(actions);
	return actions;
}

const WixActionDef *
wix_find_action(const char *name)
{
	for (int i = 0; i < lengthof(actions); i++)
	{
		if (strcmp(actions[i].name, name) == 0)
			return &actions[i];
	}
	return NULL;
}

/* The action's parameters, the server excluded. */
int
wix_action_nparams(const WixActionDef *def)
{
	int			n = 0;

	while (n < WIX_ACTION_MAX_PARAMS && def->params[n].name != NULL)
		n++;
	return n;
}

/*
 * Does a SQL function of the action with nargs arguments, the server last,
 * serve it?  Its own, or that of an earlier version of the extension, which
 * lacks the parameters added since: they come last, with defaults.
 */
bool
wix_action_takes_nargs(const WixActionDef *def, int nargs)
{
	int			n = wix_action_nparams(def);

	if (nargs < 1 || nargs > n + 1)
		return false;
	for (int i = nargs - 1; i < n; i++)
	{
		if (def->params[i].sql_default == NULL)
			return false;
	}
	return true;
}

/*
 * An action's parameter list as pg_get_function_arguments() writes it:
 * "order_id text, amount numeric DEFAULT NULL::numeric, ...".
 */
static char *
signature_text(const WixActionDef *def)
{
	StringInfoData buf;
	int			n = wix_action_nparams(def);

	initStringInfo(&buf);
	for (int i = 0; i <= n; i++)
	{
		const char *name = i < n ? def->params[i].name : "server";
		const char *dflt = i < n ? def->params[i].sql_default : "NULL";
		char	   *type = format_type_be(wix_action_param_type(def, i));

		appendStringInfo(&buf, "%s%s %s", i ? ", " : "", name, type);
		if (dflt != NULL && strcmp(dflt, "NULL") == 0)
			appendStringInfo(&buf, " DEFAULT NULL::%s", type);
		else if (dflt != NULL)
			appendStringInfo(&buf, " DEFAULT %s", dflt);
	}
	return buf.data;
}

/*
 * wix_admin.action_signatures() RETURNS TABLE (action text, arguments text)
 *		The action table as SQL signatures, for the regression test that
 *		compares it with pg_proc and for documentation.
 */
Datum
wix_action_signatures(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	InitMaterializedSRF(fcinfo, 0);
	for (int i = 0; i < lengthof(actions); i++)
	{
		Datum		values[2];
		bool		nulls[2] = {false, false};

		values[0] = CStringGetTextDatum(actions[i].name);
		values[1] = CStringGetTextDatum(signature_text(&actions[i]));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
