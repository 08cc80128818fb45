/*-------------------------------------------------------------------------
 *
 * catalog.c
 *		  The resource catalog: which Wix datasets wix_admin exposes, the
 *		  query endpoint and paging of each, and its standard columns.
 *
 * Everything here is data.  A new Wix dataset is a new WixResource entry;
 * the scan, the option validator and IMPORT FOREIGN SCHEMA read it from
 * these tables.  Paths and bodies follow shared/wix-api/.
 *
 *-------------------------------------------------------------------------
 */
#include "wix_fdw.h"

#include <ctype.h>

#include "nodes/parsenodes.h"
#include "utils/builtins.h"

/* eCommerce Orders: auth-and-orders.md §2 */
static const WixColumnDef order_columns[] = {
	{"id", "text", "id"},
	{"number", "bigint", "number"},
	{"created_date", "timestamptz", "createdDate"},
	{"updated_date", "timestamptz", "updatedDate"},
	{"purchased_date", "timestamptz", "purchasedDate"},
	{"status", "text", "status"},
	{"payment_status", "text", "paymentStatus"},
	{"fulfillment_status", "text", "fulfillmentStatus"},
	{"archived", "boolean", "archived"},
	{"currency", "text", "currency"},
	{"buyer_email", "text", "buyerInfo.email"},
	{"buyer_member_id", "text", "buyerInfo.memberId"},
	{"buyer_contact_id", "text", "buyerInfo.contactId"},
	{"subtotal", "numeric", "priceSummary.subtotal.amount"},
	{"shipping", "numeric", "priceSummary.shipping.amount"},
	{"tax", "numeric", "priceSummary.tax.amount"},
	{"discount", "numeric", "priceSummary.discount.amount"},
	{"total", "numeric", "priceSummary.total.amount"},
	{"balance", "numeric", "balanceSummary.balance.amount"},
	{"channel_type", "text", "channelInfo.type"},
	{"line_items", "jsonb", "lineItems"},
	{"billing_info", "jsonb", "billingInfo"},
	{"shipping_info", "jsonb", "shippingInfo"},
	{"raw", "jsonb", "$"},
	{NULL}
};

/* Filterable and sortable fields of Search Orders (§2.2). */
#define ID_OPS (WIX_OP_EQ | WIX_OP_NE | WIX_OP_IN | WIX_OP_NIN)
#define ALL_OPS (WIX_OP_EQ | WIX_OP_NE | WIX_OP_RANGE | WIX_OP_IN | WIX_OP_NIN | WIX_OP_EXISTS)
#define CMP_OPS (WIX_OP_EQ | WIX_OP_NE | WIX_OP_RANGE)

static const WixFieldDef order_fields[] = {
	{"id", NULL, WIX_WIRE_STRING, ID_OPS},
	{"buyerInfo.contactId", NULL, WIX_WIRE_STRING, ID_OPS},
	{"buyerInfo.memberId", NULL, WIX_WIRE_STRING, ID_OPS},
	{"checkoutId", NULL, WIX_WIRE_STRING, ID_OPS},
	{"status", NULL, WIX_WIRE_ENUM, ID_OPS},
	{"paymentStatus", NULL, WIX_WIRE_ENUM, ID_OPS},
	{"fulfillmentStatus", NULL, WIX_WIRE_ENUM, ID_OPS},
	{"channelInfo.type", NULL, WIX_WIRE_ENUM, ID_OPS},
	{"number", NULL, WIX_WIRE_INT, CMP_OPS | WIX_SORTABLE | WIX_ALWAYS_SET},
	{"updatedDate", NULL, WIX_WIRE_DATE, CMP_OPS | WIX_SORTABLE | WIX_ALWAYS_SET},
	{"createdDate", NULL, WIX_WIRE_DATE, CMP_OPS | WIX_OP_NIN | WIX_SORTABLE | WIX_ALWAYS_SET},
	{"archived", NULL, WIX_WIRE_BOOL, WIX_OP_EQ | WIX_OP_NE | WIX_OP_IN | WIX_OP_EXISTS},
	{"seenByAHuman", NULL, WIX_WIRE_BOOL, WIX_OP_EQ | WIX_OP_NE | WIX_OP_IN | WIX_OP_EXISTS},
	{"buyerInfo.email", NULL, WIX_WIRE_STRING, WIX_OP_EQ | WIX_OP_NE | WIX_OP_IN | WIX_OP_EXISTS | WIX_OP_STARTS},
	{"priceSummary.total.amount", NULL, WIX_WIRE_DECIMAL, ALL_OPS},
	{"taxInfo.totalTax.amount", NULL, WIX_WIRE_DECIMAL, ALL_OPS},
	{"purchasedDate", NULL, WIX_WIRE_DATE, ALL_OPS | WIX_SORTABLE},
	{"billingInfo.contactDetails.firstName", NULL, WIX_WIRE_STRING, ALL_OPS | WIX_OP_STARTS},
	{"billingInfo.contactDetails.lastName", NULL, WIX_WIRE_STRING, ALL_OPS | WIX_OP_STARTS},
	{NULL}
};

/*
 * Search hides PENDING and REJECTED orders unless the filter names those
 * statuses, and never returns INITIALIZED ones (§2.2): ask for every status
 * a merchant sees in the dashboard.
 */
#define ORDERS_SEARCH_CALL \
	.catalog = WIX_CATALOG_ANY, \
	.query_path = "/ecom/v1/orders/search", \
	.envelope = "search", \
	.sort_key = "sort", \
	.paging = WIX_PAGING_CURSOR, \
	.max_page_size = 100, \
	.items_key = "orders", \
	.metadata_key = "metadata", \
	.base_filter = "{\"status\":{\"$in\":[\"APPROVED\",\"CANCELED\",\"PENDING\",\"REJECTED\"]}}", \
	.fields = order_fields, \
	.max_sort_keys = 4

static const WixEndpoint orders_search = {
	ORDERS_SEARCH_CALL,
	.columns = order_columns,
};

/* Members: members-stores-bookings.md §3 */
static const WixColumnDef member_columns[] = {
	{"id", "text", "id"},
	{"login_email", "text", "loginEmail"},
	{"login_email_verified", "boolean", "loginEmailVerified"},
	{"status", "text", "status"},
	{"privacy_status", "text", "privacyStatus"},
	{"activity_status", "text", "activityStatus"},
	{"contact_id", "text", "contactId"},
	{"first_name", "text", "contact.firstName"},
	{"last_name", "text", "contact.lastName"},
	{"nickname", "text", "profile.nickname"},
	{"slug", "text", "profile.slug"},
	{"created_date", "timestamptz", "createdDate"},
	{"updated_date", "timestamptz", "updatedDate"},
	{"last_login_date", "timestamptz", "lastLoginDate"},
	{"contact", "jsonb", "contact"},
	{"profile", "jsonb", "profile"},
	{"raw", "jsonb", "$"},
	{NULL}
};

/*
 * Members query (§3.1): dates sort but do not filter.  Members is an offset
 * endpoint, so a pushed sort is repeated on every page.
 */
#define MEMBER_OPS (WIX_OP_EQ | WIX_OP_NE | WIX_OP_IN | WIX_OP_EXISTS | WIX_OP_STARTS)

static const WixFieldDef member_fields[] = {
	{"id", NULL, WIX_WIRE_STRING, MEMBER_OPS},
	{"loginEmail", NULL, WIX_WIRE_STRING, MEMBER_OPS},
	{"status", NULL, WIX_WIRE_ENUM, MEMBER_OPS},
	{"contactId", NULL, WIX_WIRE_STRING, MEMBER_OPS},
	{"contact.firstName", NULL, WIX_WIRE_STRING, MEMBER_OPS},
	{"contact.lastName", NULL, WIX_WIRE_STRING, MEMBER_OPS},
	{"profile.nickname", NULL, WIX_WIRE_STRING, MEMBER_OPS},
	{"profile.slug", NULL, WIX_WIRE_STRING, MEMBER_OPS},
	{"privacyStatus", NULL, WIX_WIRE_ENUM, MEMBER_OPS},
	{"createdDate", NULL, WIX_WIRE_DATE, WIX_SORTABLE | WIX_ALWAYS_SET},
	{"updatedDate", NULL, WIX_WIRE_DATE, WIX_SORTABLE | WIX_ALWAYS_SET},
	{"lastLoginDate", NULL, WIX_WIRE_DATE, WIX_SORTABLE},
	{NULL}
};

static const WixEndpoint members_query = {
	.catalog = WIX_CATALOG_ANY,
	.query_path = "/members/v1/members/query",
	.envelope = "query",
	.sort_key = "sorting",
	.paging = WIX_PAGING_OFFSET,
	.max_page_size = 100,
	.items_key = "members",
	.metadata_key = "metadata",
	.extra_body = "{\"fieldsets\":[\"FULL\"]}",
	/* a stable order keeps offset pages from skipping or repeating rows */
	.default_sort = "[{\"fieldName\":\"createdDate\",\"order\":\"ASC\"}]",
	.columns = member_columns,
	.fields = member_fields,
	.max_sort_keys = 3,
	.get_path = "/members/v1/members/%s?fieldsets=FULL",
	.get_item_key = "member",
	.total_path = "metadata.total",
};

/*
 * Orders and products have Get calls too, but their answers are not what
 * the query returns (Get Order also finds INITIALIZED orders; Get Product
 * adds variants), so "id = x" is a one-request filter there.
 */

/* Stores products, Catalog V1: §4.2-4.3 */
static const WixColumnDef product_v1_columns[] = {
	{"id", "text", "id"},
	{"name", "text", "name"},
	{"slug", "text", "slug"},
	{"visible", "boolean", "visible"},
	{"product_type", "text", "productType"},
	{"sku", "text", "sku"},
	{"price", "numeric", "priceData.price"},
	{"currency", "text", "priceData.currency"},
	{"inventory_status", "text", "stock.inventoryStatus"},
	{"quantity", "integer", "stock.quantity"},
	{"numeric_id", "bigint", "numericId"},
	{"revision", "bigint", NULL},
	{"created_date", "timestamptz", "createdDate"},
	{"updated_date", "timestamptz", "lastUpdated"},
	{"raw", "jsonb", "$"},
	{NULL}
};

/*
 * Catalog V1 filters (§4.2).  Sorts are not pushed: V1 pages by numericId
 * past its offset ceiling, which needs its own sort.
 */
#define V1_STRING_OPS (WIX_OP_EQ | WIX_OP_NE | WIX_OP_IN | WIX_OP_EXISTS | WIX_OP_STARTS)

static const WixFieldDef product_v1_fields[] = {
	{"id", NULL, WIX_WIRE_STRING, V1_STRING_OPS},
	{"name", NULL, WIX_WIRE_STRING, V1_STRING_OPS},
	{"slug", NULL, WIX_WIRE_STRING, V1_STRING_OPS},
	{"sku", NULL, WIX_WIRE_STRING, V1_STRING_OPS},
	{"productType", NULL, WIX_WIRE_STRING, WIX_OP_EQ | WIX_OP_NE | WIX_OP_IN | WIX_OP_EXISTS},
	{"priceData.price", NULL, WIX_WIRE_NUMBER, CMP_OPS | WIX_OP_IN | WIX_OP_EXISTS},
	{"numericId", NULL, WIX_WIRE_INT, CMP_OPS | WIX_OP_IN | WIX_OP_EXISTS},
	{"lastUpdated", NULL, WIX_WIRE_DATE, CMP_OPS | WIX_OP_EXISTS},
	{"createdDate", NULL, WIX_WIRE_DATE, CMP_OPS | WIX_OP_EXISTS},
	{"visible", NULL, WIX_WIRE_BOOL, WIX_OP_EQ | WIX_OP_NE | WIX_OP_EXISTS},
	{NULL}
};

/*
 * Offset paging stops near 10,000 items: past that, page by numericId
 * (§4.2).  Hidden products are silently dropped unless asked for.
 */
static const WixEndpoint products_v1_query = {
	.catalog = WIX_CATALOG_V1,
	.query_path = "/stores-reader/v1/products/query",
	.envelope = "query",
	.sort_key = "sort",
	.query_as_strings = true,
	.paging = WIX_PAGING_OFFSET,
	.max_page_size = 100,
	.max_offset = 10000,
	.keyset_field = "numericId",
	.items_key = "products",
	.metadata_key = "metadata",
	.extra_body = "{\"includeVariants\":false,\"includeHiddenProducts\":true}",
	.default_sort = "[{\"numericId\":\"asc\"}]",
	.columns = product_v1_columns,
	.fields = product_v1_fields,
	.max_sort_keys = 0,
	.total_path = "totalResults",
};

/* Stores products, Catalog V3: §4.5-4.6 */
static const WixColumnDef product_v3_columns[] = {
	{"id", "text", "id"},
	{"name", "text", "name"},
	{"slug", "text", "slug"},
	{"visible", "boolean", "visible"},
	{"product_type", "text", "productType"},
	{"sku", "text", "variantSummary.minPriceVariant.sku"},
	{"price", "numeric", "actualPriceRange.minValue.amount"},
	{"currency", "text", "currency"},
	{"inventory_status", "text", "inventory.availabilityStatus"},
	{"quantity", "integer", NULL},
	{"numeric_id", "bigint", NULL},
	{"revision", "bigint", "revision"},
	{"created_date", "timestamptz", "createdDate"},
	{"updated_date", "timestamptz", "updatedDate"},
	{"raw", "jsonb", "$"},
	{NULL}
};

/* Catalog V3 Query Products declares few fields (§4.5). */
static const WixFieldDef product_v3_fields[] = {
	{"id", NULL, WIX_WIRE_STRING, ALL_OPS | WIX_OP_STARTS},
	{"slug", NULL, WIX_WIRE_STRING, ALL_OPS | WIX_OP_STARTS},
	{"visible", NULL, WIX_WIRE_BOOL, WIX_OP_EQ | WIX_OP_NE | WIX_OP_IN | WIX_OP_NIN | WIX_OP_EXISTS},
	{"createdDate", NULL, WIX_WIRE_DATE, ALL_OPS | WIX_SORTABLE | WIX_ALWAYS_SET},
	{"updatedDate", NULL, WIX_WIRE_DATE, ALL_OPS | WIX_SORTABLE | WIX_ALWAYS_SET},
	{NULL}
};

static const WixEndpoint products_v3_query = {
	.catalog = WIX_CATALOG_V3,
	.query_path = "/stores/v3/products/query",
	.envelope = "query",
	.sort_key = "sort",
	.paging = WIX_PAGING_CURSOR,
	.max_page_size = 100,
	.items_key = "products",
	.metadata_key = "pagingMetadata",
	.extra_body = "{\"fields\":[\"CURRENCY\",\"MIN_PRICE_VARIANT\"]}",
	.columns = product_v3_columns,
	.fields = product_v3_fields,
	.max_sort_keys = 5,
	.count_path = "/stores/v3/products/count",
};

/* Bookings, through Query Extended Bookings: §5.1-5.2 */
static const WixColumnDef booking_columns[] = {
	{"id", "text", "id"},
	{"status", "text", "status"},
	{"payment_status", "text", "paymentStatus"},
	{"selected_payment_option", "text", "selectedPaymentOption"},
	{"start_date", "timestamptz", "startDate"},
	{"end_date", "timestamptz", "endDate"},
	{"title", "text", "bookedEntity.title"},
	{"service_id", "text", "bookedEntity.slot.serviceId"},
	{"contact_id", "text", "contactDetails.contactId"},
	{"contact_email", "text", "contactDetails.email"},
	{"first_name", "text", "contactDetails.firstName"},
	{"last_name", "text", "contactDetails.lastName"},
	{"total_participants", "integer", "totalParticipants"},
	{"revision", "bigint", "revision"},
	{"created_date", "timestamptz", "createdDate"},
	{"updated_date", "timestamptz", "updatedDate"},
	{"raw", "jsonb", "$"},
	{NULL}
};

/*
 * Supported filters of Query Extended Bookings (§5.1).  Slot ids are
 * filtered by their oneof path "bookedEntity.item.slot.*", not by the path
 * they have in the returned JSON.
 */
#define BOOKING_OPS (WIX_OP_EQ | WIX_OP_NE | WIX_OP_IN)

static const WixFieldDef booking_fields[] = {
	{"id", NULL, WIX_WIRE_STRING, BOOKING_OPS},
	{"status", NULL, WIX_WIRE_ENUM, BOOKING_OPS},
	{"paymentStatus", NULL, WIX_WIRE_ENUM, BOOKING_OPS},
	{"selectedPaymentOption", NULL, WIX_WIRE_ENUM, BOOKING_OPS},
	{"contactDetails.contactId", NULL, WIX_WIRE_STRING, BOOKING_OPS},
	{"contactDetails.email", NULL, WIX_WIRE_STRING, BOOKING_OPS},
	{"createdDate", NULL, WIX_WIRE_DATE, CMP_OPS | WIX_OP_IN | WIX_OP_NIN | WIX_SORTABLE | WIX_ALWAYS_SET},
	{"updatedDate", NULL, WIX_WIRE_DATE, CMP_OPS | WIX_OP_IN | WIX_OP_NIN | WIX_SORTABLE | WIX_ALWAYS_SET},
	{"startDate", NULL, WIX_WIRE_DATE, CMP_OPS | WIX_OP_IN | WIX_OP_NIN | WIX_SORTABLE},
	{"endDate", NULL, WIX_WIRE_DATE, CMP_OPS | WIX_OP_IN | WIX_OP_NIN | WIX_SORTABLE},
	{"bookedEntity.slot.serviceId", "bookedEntity.item.slot.serviceId", WIX_WIRE_STRING, BOOKING_OPS},
	{"bookedEntity.slot.scheduleId", "bookedEntity.item.slot.scheduleId", WIX_WIRE_STRING, BOOKING_OPS},
	{NULL}
};

/* The REST and SDK docs disagree on the default sort: always send one. */
static const WixEndpoint bookings_query = {
	.catalog = WIX_CATALOG_ANY,
	.query_path = "/_api/bookings-reader/v2/extended-bookings/query",
	.envelope = "query",
	.sort_key = "sort",
	.paging = WIX_PAGING_CURSOR,
	.max_page_size = 100,
	.items_key = "extendedBookings",
	.item_root = "booking",
	.metadata_key = "pagingMetadata",
	.extra_body = "{\"withBookingAllowedActions\":false,\"withBookingAttendanceInfo\":false}",
	.default_sort = "[{\"fieldName\":\"createdDate\",\"order\":\"ASC\"}]",
	.columns = booking_columns,
	.fields = booking_fields,
	.max_sort_keys = 4,
	.count_path = "/_api/bookings-reader/v2/extended-bookings/count",
};

/*
 * Experimental resources: forms of endpoint no production table uses yet,
 * for tests.  Only wix_admin.enable_experimental_resources (superuser)
 * makes them valid, and IMPORT FOREIGN SCHEMA never creates them.  Wire
 * facts: breadth.md §2-3.
 */

/* One row per line item of each order, with the order's columns ("^..."). */
static const WixColumnDef order_line_item_columns[] = {
	{"order_id", "text", "^id"},
	{"order_number", "bigint", "^number"},
	{"order_created_date", "timestamptz", "^createdDate"},
	{"id", "text", "id"},
	{"product_name", "text", "productName.original"},
	{"quantity", "integer", "quantity"},
	{"price", "numeric", "price.amount"},
	{"raw", "jsonb", "$"},
	{NULL}
};

static const WixEndpoint order_line_items_search = {
	ORDERS_SEARCH_CALL,
	.rows_path = "lineItems",
	.columns = order_line_item_columns,
};

/* Order transactions: one row per payment, with the order id. */
static const WixColumnDef order_payment_columns[] = {
	{"order_id", "text", "^orderId"},
	{"id", "text", "id"},
	{"created_date", "timestamptz", "createdDate"},
	{"amount", "numeric", "amount.amount"},
	{"raw", "jsonb", "$"},
	{NULL}
};

static const WixFieldDef order_payment_fields[] = {
	{"orderId", NULL, WIX_WIRE_STRING, WIX_OP_EQ | WIX_OP_IN},
	{NULL}
};

/* One order's transactions: GET, the order id in the path and the query. */
static const WixEndpoint order_payments_get = {
	.catalog = WIX_CATALOG_ANY,
	.method = "GET",
	.query_path = "/ecom/v1/payments/orders/{orderId}?orderId={orderId}",
	.paging = WIX_PAGING_NONE,
	.max_page_size = 1,
	.items_key = "orderTransactions",
	.single_item = true,
	.rows_path = "payments",
	.columns = order_payment_columns,
	.fields = order_payment_fields,
};

/* Many orders' transactions: 100 order ids a request, from orders search. */
static const WixBatch order_ids_batch = {
	.ids_key = "orderIds",
	.max_ids = 100,
	.key_field = "orderId",
	.parent = &orders_search,
	.parent_id_key = "id",
};

static const WixEndpoint order_payments_by_ids = {
	.catalog = WIX_CATALOG_ANY,
	.query_path = "/ecom/v1/payments/list-by-ids",
	.paging = WIX_PAGING_NONE,
	.max_page_size = 100,
	.items_key = "orderTransactions",
	.rows_path = "payments",
	.batch = &order_ids_batch,
	.columns = order_payment_columns,
	.fields = order_payment_fields,
};

static const WixEndpoint *const orders_endpoints[] = {&orders_search, NULL};
static const WixEndpoint *const members_endpoints[] = {&members_query, NULL};
static const WixEndpoint *const products_endpoints[] = {&products_v3_query, &products_v1_query, NULL};
static const WixEndpoint *const bookings_endpoints[] = {&bookings_query, NULL};
static const WixEndpoint *const line_items_endpoints[] = {&order_line_items_search, NULL};
static const WixEndpoint *const payments_get_endpoints[] = {&order_payments_get, NULL};
static const WixEndpoint *const payments_endpoints[] = {&order_payments_by_ids, NULL};

static const WixResource orders_resource = {"orders", "eCommerce orders", orders_endpoints};
static const WixResource members_resource = {"members", "site members", members_endpoints};
static const WixResource products_resource = {"products", "Stores products (Catalog V1 or V3)", products_endpoints};
static const WixResource bookings_resource = {"bookings", "Bookings (extended bookings)", bookings_endpoints};
static const WixResource line_items_resource = {"experimental_order_line_items", "order line items", line_items_endpoints, true};
static const WixResource payments_get_resource = {"experimental_order_payments_by_order", "one order's payments", payments_get_endpoints, true};
static const WixResource payments_resource = {"experimental_order_payments", "orders' payments, by order ids", payments_endpoints, true};

static const WixResource *const resources[] = {
	&orders_resource,
	&members_resource,
	&products_resource,
	&bookings_resource,
	&line_items_resource,
	&payments_get_resource,
	&payments_resource,
	NULL
};

const WixResource *const *
wix_all_resources(void)
{
	return resources;
}

/* May this resource be used now? */
static bool
resource_enabled(const WixResource *resource)
{
	return !resource->experimental || wix_enable_experimental_resources;
}

/*
 * wix_find_resource
 *		The resource named by a foreign table's "resource" option, or NULL
 *		(also for an experimental one while they are not enabled).
 */
const WixResource *
wix_find_resource(const char *name)
{
	for (int i = 0; resources[i] != NULL; i++)
	{
		if (strcmp(resources[i]->name, name) == 0)
			return resource_enabled(resources[i]) ? resources[i] : NULL;
	}
	return NULL;
}

/*
 * wix_endpoint_is_query
 *		Does the endpoint take a filter, sort and paging (a query call), or
 *		only ids or path parameters?
 */
bool
wix_endpoint_is_query(const WixEndpoint *endpoint)
{
	return endpoint->envelope != NULL;
}

/*
 * wix_resource_names
 *		"orders, members, products, bookings", for hints.
 */
const char *
wix_resource_names(void)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (int i = 0; resources[i] != NULL; i++)
	{
		if (!resources[i]->experimental)
			appendStringInfo(&buf, "%s%s", buf.len > 0 ? ", " : "",
							 resources[i]->name);
	}
	return buf.data;
}

/*
 * wix_resource_needs_catalog
 *		Does choosing this resource's endpoint depend on the site's Stores
 *		catalog version?
 */
bool
wix_resource_needs_catalog(const WixResource *resource)
{
	for (int i = 0; resource->endpoints[i] != NULL; i++)
	{
		if (resource->endpoints[i]->catalog != WIX_CATALOG_ANY)
			return true;
	}
	return false;
}

/*
 * wix_resource_endpoint
 *		The endpoint that serves a site with the given catalog version.
 */
const WixEndpoint *
wix_resource_endpoint(const WixResource *resource, WixCatalogVersion catalog)
{
	for (int i = 0; resource->endpoints[i] != NULL; i++)
	{
		const WixEndpoint *endpoint = resource->endpoints[i];

		if (endpoint->catalog == WIX_CATALOG_ANY || endpoint->catalog == catalog)
			return endpoint;
	}
	return resource->endpoints[0];
}

/*
 * wix_endpoint_column_path
 *		The Wix path of a standard column, or NULL when the endpoint does not
 *		provide that column.  *found tells whether the name is a standard
 *		column at all.
 */
const char *
wix_endpoint_column_path(const WixEndpoint *endpoint, const char *column_name,
						 bool *found)
{
	for (const WixColumnDef *col = endpoint->columns; col->name != NULL; col++)
	{
		if (strcmp(col->name, column_name) == 0)
		{
			*found = true;
			return col->path;
		}
	}
	*found = false;
	return NULL;
}

/*
 * wix_endpoint_field
 *		The filterable or sortable field at a path, or NULL.
 */
const WixFieldDef *
wix_endpoint_field(const WixEndpoint *endpoint, const char *path)
{
	for (const WixFieldDef *field = endpoint->fields; field->path != NULL; field++)
	{
		if (strcmp(field->path, path) == 0)
			return field;
	}
	return NULL;
}

/*
 * wix_default_path
 *		A column's path when nothing else names one: its name in camelCase
 *		("payment_status" -> "paymentStatus").
 */
char *
wix_default_path(const char *column_name)
{
	char	   *path = palloc(strlen(column_name) + 1);
	char	   *out = path;
	bool		upper_next = false;

	for (const char *c = column_name; *c; c++)
	{
		if (*c == '_' && out != path)
		{
			upper_next = true;
			continue;
		}
		*out++ = upper_next ? pg_toupper((unsigned char) *c) : *c;
		upper_next = false;
	}
	*out = '\0';
	return path;
}

/*
 * column_path_for_import
 *		The path IMPORT FOREIGN SCHEMA writes for a standard column: the one
 *		every endpoint of the resource agrees on, unless it is the default
 *		anyway.  NULL when no option is needed (the scan then takes the path
 *		of the site's endpoint).
 */
static const char *
column_path_for_import(const WixResource *resource, const char *column_name)
{
	const char *path = NULL;

	for (int i = 0; resource->endpoints[i] != NULL; i++)
	{
		bool		found;
		const char *p = wix_endpoint_column_path(resource->endpoints[i],
												 column_name, &found);

		if (p == NULL || (path != NULL && strcmp(p, path) != 0))
			return NULL;
		path = p;
	}
	if (path != NULL && strcmp(path, wix_default_path(column_name)) == 0)
		return NULL;
	return path;
}

/*
 * wix_import_statements
 *		CREATE FOREIGN TABLE statements for IMPORT FOREIGN SCHEMA wix.  No
 *		option value of the server or user mapping is ever copied into them.
 *		LIMIT TO / EXCEPT filtering is left to the core code.
 */
List *
wix_import_statements(const char *server_name, ImportForeignSchemaStmt *stmt)
{
	List	   *commands = NIL;

	for (int i = 0; resources[i] != NULL; i++)
	{
		const WixResource *resource = resources[i];
		const WixEndpoint *first = resource->endpoints[0];
		StringInfoData buf;

		if (resource->experimental)
			continue;
		initStringInfo(&buf);
		appendStringInfo(&buf, "CREATE FOREIGN TABLE %s (\n",
						 quote_identifier(resource->name));
		for (const WixColumnDef *col = first->columns; col->name != NULL; col++)
		{
			const char *path = column_path_for_import(resource, col->name);

			appendStringInfo(&buf, "  %s %s", quote_identifier(col->name),
							 col->sql_type);
			if (path != NULL)
				appendStringInfo(&buf, " OPTIONS (path %s)",
								 quote_literal_cstr(path));
			appendStringInfoString(&buf, (col + 1)->name != NULL ? ",\n" : "\n");
		}
		appendStringInfo(&buf, ") SERVER %s OPTIONS (resource %s)",
						 quote_identifier(server_name),
						 quote_literal_cstr(resource->name));
		commands = lappend(commands, buf.data);
	}
	return commands;
}
