/*-------------------------------------------------------------------------
 *
 * catalog.c
 *		  The resource catalog: which Wix datasets wix_admin exposes, the
 *		  query endpoint and paging of each, and its standard columns.
 *
 * Everything here is data.  A new Wix dataset is a new WixResource entry;
 * the scan, the option validator and IMPORT FOREIGN SCHEMA (with the
 * comments it puts on tables and columns) read it from these tables.  Paths
 * and bodies follow shared/wix-api/.
 *
 *-------------------------------------------------------------------------
 */
#include "wix_fdw.h"

#include <ctype.h>

/* eCommerce Orders: auth-and-orders.md §2 */
static const WixColumnDef order_columns[] = {
	{"id", "text", "id",
	 "the order's ID"},
	{"number", "bigint", "number",
	 "the order number the buyer and the dashboard see"},
	{"created_date", "timestamptz", "createdDate",
	 "when the order was created"},
	{"updated_date", "timestamptz", "updatedDate",
	 "when the order was last changed"},
	{"purchased_date", "timestamptz", "purchasedDate",
	 "when the order was purchased"},
	{"status", "text", "status",
	 "APPROVED, CANCELED, PENDING or REJECTED (Wix never returns INITIALIZED orders here)"},
	{"payment_status", "text", "paymentStatus",
	 "PAID, NOT_PAID, PARTIALLY_PAID, PENDING, PARTIALLY_REFUNDED, FULLY_REFUNDED, CANCELED, DECLINED, ..."},
	{"fulfillment_status", "text", "fulfillmentStatus",
	 "NOT_FULFILLED, PARTIALLY_FULFILLED or FULFILLED"},
	{"archived", "boolean", "archived",
	 "whether the order is archived in the dashboard"},
	{"currency", "text", "currency",
	 "the order's currency (ISO 4217 code)"},
	{"buyer_email", "text", "buyerInfo.email",
	 "the buyer's email address"},
	{"buyer_member_id", "text", "buyerInfo.memberId",
	 "the buyer's site member ID (members.id); NULL for a visitor"},
	{"buyer_contact_id", "text", "buyerInfo.contactId",
	 "the buyer's CRM contact ID (contacts.id)"},
	{"subtotal", "numeric", "priceSummary.subtotal.amount",
	 "the line items' subtotal"},
	{"shipping", "numeric", "priceSummary.shipping.amount",
	 "the shipping cost"},
	{"tax", "numeric", "priceSummary.tax.amount",
	 "the total tax"},
	{"discount", "numeric", "priceSummary.discount.amount",
	 "the total discount"},
	{"total", "numeric", "priceSummary.total.amount",
	 "the total the buyer pays"},
	{"balance", "numeric", "balanceSummary.balance.amount",
	 "what is still to be paid; negative when more was paid than is due"},
	{"channel_type", "text", "channelInfo.type",
	 "where the order was placed: WEB, POS, EBAY, AMAZON, FACEBOOK, ..."},
	{"line_items", "jsonb", "lineItems",
	 "the order's line items (one row each in order_line_items)"},
	{"billing_info", "jsonb", "billingInfo",
	 "the billing address and contact details"},
	{"shipping_info", "jsonb", "shippingInfo",
	 "the shipping method, destination and cost"},
	{"raw", "jsonb", "$",
	 "the whole order as Wix returns it"},
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
	/* array fields: they filter order_line_items' rows */
	{"lineItems.productName.original", NULL, WIX_WIRE_STRING, WIX_OP_HAS_SOME},
	{"lineItems.catalogReference.catalogItemId", NULL, WIX_WIRE_STRING, WIX_OP_HAS_SOME},
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
	{"id", "text", "id",
	 "the member's ID"},
	{"login_email", "text", "loginEmail",
	 "the email address the member logs in with"},
	{"login_email_verified", "boolean", "loginEmailVerified",
	 "whether the login email address is verified"},
	{"status", "text", "status",
	 "PENDING, APPROVED, BLOCKED, OFFLINE or UNKNOWN"},
	{"privacy_status", "text", "privacyStatus",
	 "PUBLIC or PRIVATE: whether the profile is public"},
	{"activity_status", "text", "activityStatus",
	 "ACTIVE or MUTED"},
	{"contact_id", "text", "contactId",
	 "the member's CRM contact ID (contacts.id)"},
	{"first_name", "text", "contact.firstName",
	 "the member's first name"},
	{"last_name", "text", "contact.lastName",
	 "the member's last name"},
	{"nickname", "text", "profile.nickname",
	 "the profile's nickname, the name shown on the site"},
	{"slug", "text", "profile.slug",
	 "the profile page's URL slug"},
	{"created_date", "timestamptz", "createdDate",
	 "when the member was created"},
	{"updated_date", "timestamptz", "updatedDate",
	 "when the member was last changed"},
	{"last_login_date", "timestamptz", "lastLoginDate",
	 "when the member last logged in"},
	{"contact", "jsonb", "contact",
	 "contact details: names, emails, phones, addresses, birthdate, company"},
	{"profile", "jsonb", "profile",
	 "the profile: nickname, slug, title, photo, cover"},
	{"raw", "jsonb", "$",
	 "the whole member as Wix returns it"},
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
	.get_path = "/members/v1/members/{id}?fieldsets=FULL",
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
	{"description", "text", "description"},
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
	{"id", "text", "id",
	 "the product's ID"},
	{"name", "text", "name",
	 "the product's name"},
	{"slug", "text", "slug",
	 "the product page's URL slug"},
	{"visible", "boolean", "visible",
	 "whether the product is shown on the site"},
	{"product_type", "text", "productType",
	 "PHYSICAL or DIGITAL (Catalog V1: physical or digital)"},
	{"description", "text", "plainDescription",
	 "the product's description (HTML)"},
	{"sku", "text", "variantSummary.minPriceVariant.sku",
	 "the SKU: Catalog V3, of the lowest-priced variant; Catalog V1, of the product"},
	{"price", "numeric", "actualPriceRange.minValue.amount",
	 "the price: Catalog V3, the lowest variant price; Catalog V1, the product's price"},
	{"currency", "text", "currency",
	 "the price's currency (ISO 4217 code)"},
	{"inventory_status", "text", "inventory.availabilityStatus",
	 "IN_STOCK, OUT_OF_STOCK or PARTIALLY_OUT_OF_STOCK"},
	{"quantity", "integer", NULL,
	 "units in stock, when the quantity is tracked"},
	{"numeric_id", "bigint", NULL,
	 "the product's numeric ID"},
	{"revision", "bigint", "revision",
	 "the product's revision, raised by every change"},
	{"created_date", "timestamptz", "createdDate",
	 "when the product was created"},
	{"updated_date", "timestamptz", "updatedDate",
	 "when the product was last changed"},
	{"raw", "jsonb", "$",
	 "the whole product as Wix returns it"},
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
	.extra_body = "{\"fields\":[" WIX_V3_PRODUCT_FIELDS "]}",
	.columns = product_v3_columns,
	.fields = product_v3_fields,
	.max_sort_keys = 5,
	.count_path = "/stores/v3/products/count",
};

/* Bookings, through Query Extended Bookings: §5.1-5.2 */
static const WixColumnDef booking_columns[] = {
	{"id", "text", "id",
	 "the booking's ID"},
	{"status", "text", "status",
	 "CREATED, CONFIRMED, PENDING, WAITING_LIST, DECLINED or CANCELED"},
	{"payment_status", "text", "paymentStatus",
	 "NOT_PAID, PAID, PARTIALLY_PAID, REFUNDED, EXEMPT, FAILED or UNDEFINED"},
	{"selected_payment_option", "text", "selectedPaymentOption",
	 "how the customer chose to pay: ONLINE, OFFLINE, MEMBERSHIP, MEMBERSHIP_OFFLINE or UNDEFINED"},
	{"start_date", "timestamptz", "startDate",
	 "when the booked session starts"},
	{"end_date", "timestamptz", "endDate",
	 "when the booked session ends"},
	{"title", "text", "bookedEntity.title",
	 "the title of what was booked, usually the service's name"},
	{"service_id", "text", "bookedEntity.slot.serviceId",
	 "the booked service's ID (booking_services.id)"},
	{"contact_id", "text", "contactDetails.contactId",
	 "the customer's CRM contact ID (contacts.id)"},
	{"contact_email", "text", "contactDetails.email",
	 "the customer's email address"},
	{"first_name", "text", "contactDetails.firstName",
	 "the customer's first name"},
	{"last_name", "text", "contactDetails.lastName",
	 "the customer's last name"},
	{"total_participants", "integer", "totalParticipants",
	 "how many people the booking is for"},
	{"revision", "bigint", "revision",
	 "the booking's revision, raised by every change"},
	{"created_date", "timestamptz", "createdDate",
	 "when the booking was made"},
	{"updated_date", "timestamptz", "updatedDate",
	 "when the booking was last changed"},
	{"raw", "jsonb", "$",
	 "the whole booking as Wix returns it"},
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

/* Order line items: one row per lineItems[] element, no extra call (breadth.md §2) */
static const WixColumnDef order_line_item_columns[] = {
	{"order_id", "text", "^id",
	 "the order's ID (orders.id)"},
	{"line_item_id", "text", "id",
	 "the line item's ID, unique within its order"},
	{"order_number", "bigint", "^number",
	 "the order's number"},
	{"order_created_date", "timestamptz", "^createdDate",
	 "when the order was created"},
	{"order_updated_date", "timestamptz", "^updatedDate",
	 "when the order, its line items included, was last changed"},
	{"product_name", "text", "productName.original",
	 "the product's name at the time of purchase"},
	{"catalog_item_id", "text", "catalogReference.catalogItemId",
	 "the catalog item's ID: the product ID for Stores items, the service ID for Bookings"},
	{"variant_id", "text", "catalogReference.options.variantId",
	 "the product variant's ID"},
	{"sku", "text", "physicalProperties.sku",
	 "the item's SKU"},
	{"item_type", "text", "itemType.preset",
	 "PHYSICAL, DIGITAL, GIFT_CARD, SERVICE or UNRECOGNISED"},
	{"quantity", "integer", "quantity",
	 "units ordered"},
	{"unit_price", "numeric", "price.amount",
	 "the price of one unit, after the line item's discounts"},
	{"total_price_before_tax", "numeric", "totalPriceBeforeTax.amount",
	 "the line's total before tax, after discounts"},
	{"total_price_after_tax", "numeric", "totalPriceAfterTax.amount",
	 "the line's total after tax"},
	{"total_discount", "numeric", "totalDiscount.amount",
	 "the line's discount"},
	{"tax_amount", "numeric", "taxInfo.taxAmount.amount",
	 "the line's tax"},
	{"currency", "text", "^currency",
	 "the order's currency (ISO 4217 code)"},
	{"raw", "jsonb", "$",
	 "the whole line item as Wix returns it"},
	{NULL}
};

static const WixEndpoint order_line_items_search = {
	ORDERS_SEARCH_CALL,
	.rows_path = "lineItems",
	.columns = order_line_item_columns,
};

/*
 * Order transactions and fulfillments (§3-4): no call lists them for a
 * whole site, so the orders a search yields are read 100 a request; the
 * order's own columns come from the search ("^^number").  Their filters go
 * to that search; "order_id = x" alone is one Get call.
 */
static const WixBatch order_ids_batch = {
	.ids_key = "orderIds",
	.max_ids = 100,
	.key_field = "orderId",
	.parent = &orders_search,
	.parent_id_key = "id",
};

static const WixFieldDef no_fields[] = {{NULL}};

#define ORDER_BATCH_CALL(path, items) \
	.catalog = WIX_CATALOG_ANY, \
	.query_path = path, \
	.paging = WIX_PAGING_NONE, \
	.max_page_size = 100, \
	.items_key = items, \
	.batch = &order_ids_batch, \
	.fields = no_fields

/* The order a row of a list-by-ids item belongs to, as the first columns. */
#define ORDER_BATCH_COLUMNS \
	{"order_id", "text", "^orderId", \
	 "the order's ID (orders.id)"}, \
	{"order_number", "bigint", "^^number", \
	 "the order's number"}, \
	{"order_created_date", "timestamptz", "^^createdDate", \
	 "when the order was created"}, \
	{"order_updated_date", "timestamptz", "^^updatedDate", \
	 "when the order, its payments and fulfillments included, was last changed"}

static const WixColumnDef order_payment_columns[] = {
	ORDER_BATCH_COLUMNS,
	{"payment_id", "text", "id",
	 "the payment's ID"},
	{"created_date", "timestamptz", "createdDate",
	 "when the payment was made"},
	{"updated_date", "timestamptz", "updatedDate",
	 "when the payment was last changed"},
	{"amount", "numeric", "amount.amount",
	 "the amount paid"},
	{"status", "text", "status",
	 "APPROVED, PENDING, PENDING_MERCHANT, AUTHORIZED, DECLINED, CANCELED, VOIDED, REFUNDED or PARTIALLY_REFUNDED"},
	{"offline", "boolean", "regularPaymentDetails.offlinePayment",
	 "whether the payment is offline (cash, bank transfer, ...)"},
	{"payment_method", "text", "regularPaymentDetails.paymentMethod",
	 "the payment method, such as CreditCard, PayPal or Offline"},
	{"provider_transaction_id", "text", "regularPaymentDetails.providerTransactionId",
	 "the payment provider's transaction ID; none for offline payments"},
	{"gift_card", "jsonb", "giftcardPaymentDetails",
	 "the gift card's details, for a gift card payment"},
	{"raw", "jsonb", "$",
	 "the whole payment as Wix returns it"},
	{NULL}
};

static const WixEndpoint order_payments_by_ids = {
	ORDER_BATCH_CALL("/ecom/v1/payments/list-by-ids", "orderTransactions"),
	.rows_path = "payments?",
	.columns = order_payment_columns,
	.get_path = "/ecom/v1/payments/orders/{id}",
	.get_item_key = "orderTransactions",
};

/* One row per refunds[].transactions[] element: a refund of one payment. */
static const WixColumnDef order_refund_columns[] = {
	{"order_id", "text", "^^orderId",
	 "the order's ID (orders.id)"},
	{"order_number", "bigint", "^^^number",
	 "the order's number"},
	{"order_created_date", "timestamptz", "^^^createdDate",
	 "when the order was created"},
	{"order_updated_date", "timestamptz", "^^^updatedDate",
	 "when the order, its refunds included, was last changed"},
	{"refund_id", "text", "^id",
	 "the refund's ID"},
	{"payment_id", "text", "paymentId",
	 "the refunded payment's ID (order_payments.payment_id)"},
	{"created_date", "timestamptz", "^createdDate",
	 "when the refund was made"},
	{"amount", "numeric", "amount.amount",
	 "the amount refunded from this payment"},
	{"refund_status", "text", "refundStatus",
	 "PENDING, STARTED, SCHEDULED, SUCCEEDED or FAILED"},
	{"external_refund", "boolean", "externalRefund",
	 "whether the refund was made outside Wix and only recorded"},
	{"reason", "text", "^details.reason",
	 "the reason given for the refund"},
	{"raw", "jsonb", "$",
	 "this payment's part of the refund as Wix returns it"},
	{NULL}
};

static const WixEndpoint order_refunds_by_ids = {
	ORDER_BATCH_CALL("/ecom/v1/payments/list-by-ids", "orderTransactions"),
	.rows_path = "refunds?.transactions",
	.columns = order_refund_columns,
	.get_path = "/ecom/v1/payments/orders/{id}",
	.get_item_key = "orderTransactions",
};

static const WixColumnDef order_fulfillment_columns[] = {
	ORDER_BATCH_COLUMNS,
	{"fulfillment_id", "text", "id",
	 "the fulfillment's ID"},
	{"created_date", "timestamptz", "createdDate",
	 "when the fulfillment was created"},
	{"tracking_number", "text", "trackingInfo.trackingNumber",
	 "the shipment's tracking number"},
	{"shipping_provider", "text", "trackingInfo.shippingProvider",
	 "the carrier: fedex, ups, usps, dhl, canadaPost or another name"},
	{"tracking_link", "text", "trackingInfo.trackingLink",
	 "the shipment's tracking URL"},
	{"line_items", "jsonb", "lineItems",
	 "the order's line items and quantities this fulfillment covers"},
	{"raw", "jsonb", "$",
	 "the whole fulfillment as Wix returns it"},
	{NULL}
};

static const WixEndpoint order_fulfillments_by_ids = {
	ORDER_BATCH_CALL("/ecom/v1/fulfillments/list-by-ids", "ordersWithFulfillments"),
	.rows_path = "fulfillments?",
	.columns = order_fulfillment_columns,
	.get_path = "/ecom/v1/fulfillments/orders/{id}",
	.get_item_key = "orderWithFulfillments",
};

/* Abandoned checkouts (§5.1): cursor paging in "metadata" */
static const WixColumnDef abandoned_checkout_columns[] = {
	{"id", "text", "id",
	 "the abandoned checkout's ID"},
	{"created_date", "timestamptz", "createdDate",
	 "when the checkout was abandoned"},
	{"updated_date", "timestamptz", "updatedDate",
	 "when it was last changed"},
	{"status", "text", "status",
	 "ABANDONED, or RECOVERED once the buyer completed the purchase"},
	{"buyer_email", "text", "buyerInfo.email",
	 "the buyer's email address"},
	{"contact_id", "text", "buyerInfo.contactId",
	 "the buyer's CRM contact ID (contacts.id)"},
	{"member_id", "text", "buyerInfo.memberId",
	 "the buyer's site member ID (members.id); NULL for a visitor"},
	{"total", "numeric", "totalPrice.amount",
	 "the checkout's total price"},
	{"currency", "text", "currency",
	 "the checkout's currency (ISO 4217 code)"},
	{"checkout_url", "text", "checkoutUrl",
	 "the link that takes the buyer back to the checkout"},
	{"line_items", "jsonb", "lineItems",
	 "the items in the checkout"},
	{"raw", "jsonb", "$",
	 "the whole abandoned checkout as Wix returns it"},
	{NULL}
};

#define CHECKOUT_OPS (WIX_OP_EQ | WIX_OP_NE | WIX_OP_IN | WIX_OP_EXISTS | WIX_SORTABLE)

static const WixFieldDef abandoned_checkout_fields[] = {
	{"id", NULL, WIX_WIRE_STRING, CHECKOUT_OPS | WIX_OP_STARTS},
	{"status", NULL, WIX_WIRE_ENUM, CHECKOUT_OPS},
	{"buyerInfo.email", NULL, WIX_WIRE_STRING, CHECKOUT_OPS | WIX_OP_STARTS},
	{"buyerInfo.contactId", NULL, WIX_WIRE_STRING, CHECKOUT_OPS},
	{"buyerInfo.memberId", NULL, WIX_WIRE_STRING, CHECKOUT_OPS},
	{"createdDate", NULL, WIX_WIRE_DATE, CHECKOUT_OPS | WIX_OP_RANGE | WIX_ALWAYS_SET},
	{"updatedDate", NULL, WIX_WIRE_DATE, CHECKOUT_OPS | WIX_OP_RANGE | WIX_ALWAYS_SET},
	{NULL}
};

/* Default limit and sort are unconfirmed: always send both. */
static const WixEndpoint abandoned_checkouts_query = {
	.catalog = WIX_CATALOG_ANY,
	.query_path = "/ecom/v1/abandoned-checkout/query",
	.envelope = "query",
	.sort_key = "sort",
	.paging = WIX_PAGING_CURSOR,
	.max_page_size = 100,
	.items_key = "abandonedCheckouts",
	.metadata_key = "metadata",
	.default_sort = "[{\"fieldName\":\"createdDate\",\"order\":\"ASC\"}]",
	.columns = abandoned_checkout_columns,
	.fields = abandoned_checkout_fields,
	.max_sort_keys = 3,
};

/* CRM contacts (§6): offset paging, up to 1000 a page, one sort key */
static const WixColumnDef contact_columns[] = {
	{"id", "text", "id",
	 "the contact's ID"},
	{"first_name", "text", "info.name.first",
	 "the contact's first name"},
	{"last_name", "text", "info.name.last",
	 "the contact's last name"},
	{"primary_email", "text", "primaryInfo.email",
	 "the contact's primary email address"},
	{"primary_phone", "text", "primaryInfo.phone",
	 "the contact's primary phone number"},
	{"company", "text", "info.company",
	 "the contact's company"},
	{"created_date", "timestamptz", "createdDate",
	 "when the contact was created"},
	{"updated_date", "timestamptz", "updatedDate",
	 "when the contact was last changed"},
	{"last_activity_date", "timestamptz", "lastActivity.activityDate",
	 "when the contact last did something (a login, a purchase, a form, ...)"},
	{"labels", "jsonb", "info.labelKeys.items",
	 "the keys of the contact's labels, such as custom.vip"},
	{"raw", "jsonb", "$",
	 "the whole contact as Wix returns it"},
	{NULL}
};

#define CONTACT_TEXT_OPS (WIX_OP_EQ | WIX_OP_NE | WIX_OP_IN | WIX_OP_EXISTS | WIX_OP_STARTS)

static const WixFieldDef contact_fields[] = {
	{"id", NULL, WIX_WIRE_STRING, WIX_OP_EQ | WIX_OP_NE | WIX_OP_IN | WIX_OP_EXISTS},
	{"createdDate", NULL, WIX_WIRE_DATE, CMP_OPS | WIX_SORTABLE | WIX_ALWAYS_SET},
	{"updatedDate", NULL, WIX_WIRE_DATE, CMP_OPS | WIX_ALWAYS_SET},
	{"lastActivity.activityDate", NULL, WIX_WIRE_DATE, CMP_OPS | WIX_SORTABLE},
	{"info.company", NULL, WIX_WIRE_STRING, CONTACT_TEXT_OPS | WIX_SORTABLE},
	{"info.name.first", NULL, WIX_WIRE_STRING, CONTACT_TEXT_OPS | WIX_SORTABLE},
	{"info.name.last", NULL, WIX_WIRE_STRING, CONTACT_TEXT_OPS | WIX_SORTABLE},
	{"primaryInfo.email", NULL, WIX_WIRE_STRING, CONTACT_TEXT_OPS | WIX_SORTABLE},
	{"primaryInfo.phone", NULL, WIX_WIRE_STRING, CONTACT_TEXT_OPS},
	{NULL}
};

/* The REST doc and the SDK disagree on the default sort: always send one. */
static const WixEndpoint contacts_query = {
	.catalog = WIX_CATALOG_ANY,
	.query_path = "/contacts/v4/contacts/query",
	.envelope = "query",
	.sort_key = "sort",
	.paging = WIX_PAGING_OFFSET,
	.max_page_size = 1000,
	.items_key = "contacts",
	.metadata_key = "pagingMetadata",
	.default_sort = "[{\"fieldName\":\"createdDate\",\"order\":\"ASC\"}]",
	.columns = contact_columns,
	.fields = contact_fields,
	.max_sort_keys = 1,
	.total_path = "pagingMetadata.total",
};

/*
 * Stores inventory (§7): one row per variant.  Catalog V1 has one item per
 * product with a variants[] array; Catalog V3 one item per variant.
 */
static const WixColumnDef inventory_v3_columns[] = {
	{"id", "text", "id",
	 "the inventory item's ID"},
	{"product_id", "text", "productId",
	 "the product's ID (products.id)"},
	{"variant_id", "text", "variantId",
	 "the product variant's ID"},
	{"track_quantity", "boolean", "trackQuantity",
	 "whether stock is counted in units (quantity) rather than only in or out of stock"},
	{"quantity", "integer", "quantity",
	 "units in stock, when the quantity is tracked"},
	{"in_stock", "boolean", "inStock",
	 "whether the variant is in stock"},
	{"availability_status", "text", "availabilityStatus",
	 "IN_STOCK, OUT_OF_STOCK or PREORDER"},
	{"updated_date", "timestamptz", "updatedDate",
	 "when the inventory was last changed"},
	{"raw", "jsonb", "$",
	 "the whole inventory item (Catalog V1: the variant) as Wix returns it"},
	{NULL}
};

static const WixFieldDef inventory_v3_fields[] = {
	{"id", NULL, WIX_WIRE_STRING, ALL_OPS},
	{"variantId", NULL, WIX_WIRE_STRING, ALL_OPS},
	{"productId", NULL, WIX_WIRE_STRING, ALL_OPS | WIX_SORTABLE},
	{"trackQuantity", NULL, WIX_WIRE_BOOL, ALL_OPS | WIX_SORTABLE},
	{"inStock", NULL, WIX_WIRE_BOOL, ALL_OPS | WIX_SORTABLE},
	{"availabilityStatus", NULL, WIX_WIRE_ENUM, ALL_OPS | WIX_SORTABLE},
	{"quantity", NULL, WIX_WIRE_INT, ALL_OPS | WIX_SORTABLE},
	{"updatedDate", NULL, WIX_WIRE_DATE, ALL_OPS | WIX_SORTABLE | WIX_ALWAYS_SET},
	{NULL}
};

static const WixEndpoint inventory_v3_query = {
	.catalog = WIX_CATALOG_V3,
	.query_path = "/stores/v3/inventory-items/query",
	.envelope = "query",
	.sort_key = "sort",
	.paging = WIX_PAGING_CURSOR,
	.max_page_size = 1000,
	.items_key = "inventoryItems",
	.metadata_key = "pagingMetadata",
	.default_sort = "[{\"fieldName\":\"createdDate\",\"order\":\"ASC\"}]",
	.columns = inventory_v3_columns,
	.fields = inventory_v3_fields,
	.max_sort_keys = 10,
};

static const WixColumnDef inventory_v1_columns[] = {
	{"id", "text", "^id"},
	{"product_id", "text", "^productId"},
	{"variant_id", "text", "variantId"},
	{"track_quantity", "boolean", "^trackQuantity"},
	{"quantity", "integer", "quantity"},
	{"in_stock", "boolean", "inStock"},
	{"availability_status", "text", NULL},
	{"updated_date", "timestamptz", "^lastUpdated"},
	{"raw", "jsonb", "$"},
	{NULL}
};

/* The SDK declares no V1 inventory filters; public code uses these. */
static const WixFieldDef inventory_v1_fields[] = {
	{"id", NULL, WIX_WIRE_STRING, ID_OPS},
	{"productId", NULL, WIX_WIRE_STRING, ID_OPS},
	{"lastUpdated", NULL, WIX_WIRE_DATE, CMP_OPS},
	{NULL}
};

/* Like V1 products: offset paging up to 10,000, then by numericId. */
static const WixEndpoint inventory_v1_query = {
	.catalog = WIX_CATALOG_V1,
	.query_path = "/stores-reader/v2/inventoryItems/query",
	.envelope = "query",
	.sort_key = "sort",
	.query_as_strings = true,
	.paging = WIX_PAGING_OFFSET,
	.max_page_size = 100,
	.max_offset = 10000,
	.keyset_field = "numericId",
	.items_key = "inventoryItems",
	.metadata_key = "metadata",
	.rows_path = "variants",
	.default_sort = "[{\"numericId\":\"asc\"}]",
	.columns = inventory_v1_columns,
	.fields = inventory_v1_fields,
	.total_path = "totalResults",
};

/* Coupons V2 (§8): V1-style string filter and sort, epoch-millisecond dates */
static const WixColumnDef coupon_columns[] = {
	{"id", "text", "id",
	 "the coupon's ID"},
	{"code", "text", "specification.code",
	 "the code buyers enter at checkout"},
	{"name", "text", "specification.name",
	 "the coupon's name"},
	{"type", "text", "specification.type",
	 "the kind of discount: money off, percent off, free shipping, fixed price or buy X get Y"},
	{"amount_off", "numeric", "specification.moneyOffAmount",
	 "the amount off, for a money-off coupon"},
	{"percent_off", "numeric", "specification.percentOffRate",
	 "the percentage off, for a percent-off coupon"},
	{"start_date", "timestamptz", "specification.startTime",
	 "when the coupon becomes valid"},
	{"expiration_date", "timestamptz", "specification.expirationTime",
	 "when the coupon expires"},
	{"active", "boolean", "specification.active",
	 "whether the coupon can be used"},
	{"times_used", "integer", "numberOfUsages",
	 "how many times the coupon has been used"},
	{"usage_limit", "integer", "specification.usageLimit",
	 "how many times the coupon may be used in all"},
	{"raw", "jsonb", "$",
	 "the whole coupon as Wix returns it"},
	{NULL}
};

/* Documented operators; dates filter in epoch ms, which is not pushed. */
#define COUPON_TEXT_OPS (WIX_OP_EQ | WIX_OP_NE | WIX_OP_STARTS)

static const WixFieldDef coupon_fields[] = {
	{"id", NULL, WIX_WIRE_STRING, COUPON_TEXT_OPS},
	{"specification.code", NULL, WIX_WIRE_STRING, COUPON_TEXT_OPS},
	{"specification.name", NULL, WIX_WIRE_STRING, COUPON_TEXT_OPS},
	{"specification.active", NULL, WIX_WIRE_BOOL, WIX_OP_EQ | WIX_OP_NE},
	{NULL}
};

static const WixEndpoint coupons_query = {
	.catalog = WIX_CATALOG_ANY,
	.query_path = "/stores/v2/coupons/query",
	.envelope = "query",
	.sort_key = "sort",
	.query_as_strings = true,
	.paging = WIX_PAGING_OFFSET,
	.max_page_size = 100,
	.items_key = "coupons",
	.default_sort = "[{\"dateCreated\":\"asc\"}]",
	.columns = coupon_columns,
	.fields = coupon_fields,
	.total_path = "totalResults",
};

/* Bookings services (§10): offset paging, money as {value, currency} */
static const WixColumnDef service_columns[] = {
	{"id", "text", "id",
	 "the service's ID"},
	{"name", "text", "name",
	 "the service's name"},
	{"type", "text", "type",
	 "APPOINTMENT, CLASS or COURSE"},
	{"category_name", "text", "category.name",
	 "the service's category"},
	{"price", "numeric", "payment.fixed.price.value",
	 "the service's fixed price"},
	{"currency", "text", "payment.fixed.price.currency",
	 "the price's currency (ISO 4217 code)"},
	{"online_booking", "boolean", "onlineBooking.enabled",
	 "whether customers can book the service online"},
	{"hidden", "boolean", "hidden",
	 "whether the service is hidden from the site"},
	{"created_date", "timestamptz", "createdDate",
	 "when the service was created"},
	{"updated_date", "timestamptz", "updatedDate",
	 "when the service was last changed"},
	{"raw", "jsonb", "$",
	 "the whole service as Wix returns it"},
	{NULL}
};

/* Dates are the default sort but not in the filter spec: not pushed. */
static const WixFieldDef service_fields[] = {
	{"id", NULL, WIX_WIRE_STRING, ALL_OPS | WIX_OP_STARTS | WIX_SORTABLE},
	{"name", NULL, WIX_WIRE_STRING, ALL_OPS | WIX_OP_STARTS | WIX_SORTABLE},
	{"type", NULL, WIX_WIRE_ENUM, ALL_OPS | WIX_SORTABLE},
	{"category.name", NULL, WIX_WIRE_STRING, ALL_OPS | WIX_OP_STARTS | WIX_SORTABLE},
	{"hidden", NULL, WIX_WIRE_BOOL, ALL_OPS | WIX_SORTABLE},
	{"onlineBooking.enabled", NULL, WIX_WIRE_BOOL, ALL_OPS | WIX_SORTABLE},
	{NULL}
};

static const WixEndpoint services_query = {
	.catalog = WIX_CATALOG_ANY,
	.query_path = "/_api/bookings/v2/services/query",
	.envelope = "query",
	.sort_key = "sort",
	.paging = WIX_PAGING_OFFSET,
	.max_page_size = 100,
	.items_key = "services",
	.metadata_key = "pagingMetadata",
	.default_sort = "[{\"fieldName\":\"createdDate\",\"order\":\"ASC\"}]",
	.columns = service_columns,
	.fields = service_fields,
	.max_sort_keys = 3,
	.total_path = "pagingMetadata.total",
	.count_path = "/_api/bookings/v2/services/count",
};

/*
 * Pricing-plan orders (§9): GET, limit and offset in the query string, up
 * to 50 a page; no WQL filter, only flat parameters (status, plan and
 * buyer).  Wix sorts by createdDate DESC unless told.
 * The price is the first price of the pricing, or the deprecated flat
 * priceDetails (still returned) where an order has no pricing prices.
 */
static const WixColumnDef plan_order_columns[] = {
	{"id", "text", "id",
	 "the pricing-plan order's ID"},
	{"plan_id", "text", "planId",
	 "the plan's ID"},
	{"plan_name", "text", "planName",
	 "the plan's name at the time of purchase"},
	{"buyer_member_id", "text", "buyer.memberId",
	 "the buyer's site member ID (members.id)"},
	{"buyer_contact_id", "text", "buyer.contactId",
	 "the buyer's CRM contact ID (contacts.id)"},
	{"status", "text", "status",
	 "DRAFT, PENDING, ACTIVE, PAUSED, ENDED or CANCELED"},
	{"created_date", "timestamptz", "createdDate",
	 "when the order was created"},
	{"start_date", "timestamptz", "startDate",
	 "when the plan starts"},
	{"end_date", "timestamptz", "endDate",
	 "when the plan ends; NULL for a plan valid until canceled"},
	{"price", "numeric", "pricing.prices.0.price.total|priceDetails.total",
	 "the total price of the plan's first pricing period"},
	{"currency", "text", "pricing.prices.0.price.currency|priceDetails.currency",
	 "the price's currency (ISO 4217 code)"},
	{"raw", "jsonb", "$",
	 "the whole pricing-plan order as Wix returns it"},
	{NULL}
};

/* The statuses orderStatuses takes: the enum but its UNDEFINED placeholder */
static const char *const plan_order_statuses[] = {
	"DRAFT", "PENDING", "ACTIVE", "PAUSED", "ENDED", "CANCELED", NULL
};

/* Filters are the flat parameters of §9: one list of values each. */
static const WixFieldDef plan_order_fields[] = {
	{"status", "orderStatuses", WIX_WIRE_ENUM, WIX_OP_EQ | WIX_OP_IN, plan_order_statuses},
	{"planId", "planIds", WIX_WIRE_STRING, WIX_OP_EQ | WIX_OP_IN},
	{"buyer.memberId", "buyerIds", WIX_WIRE_STRING, WIX_OP_EQ | WIX_OP_IN},
	{"createdDate", NULL, WIX_WIRE_DATE, WIX_SORTABLE | WIX_ALWAYS_SET},
	{NULL}
};

static const WixEndpoint plan_orders_list = {
	.catalog = WIX_CATALOG_ANY,
	.method = "GET",
	.query_path = "/pricing-plans/v2/orders",
	.sort_key = "sorting",
	.paging = WIX_PAGING_QUERY_STRING,
	.max_page_size = 50,
	.items_key = "orders",
	.metadata_key = "pagingMetadata",
	.default_sort = "[{\"fieldName\":\"createdDate\",\"order\":\"DESC\"}]",
	.columns = plan_order_columns,
	.fields = plan_order_fields,
	.max_sort_keys = 1,
};

/*
 * Experimental resource: a form of endpoint no production table uses, for
 * tests.  Only wix_admin.enable_experimental_resources (superuser) makes it
 * valid, and IMPORT FOREIGN SCHEMA never creates it.
 */
static const WixColumnDef order_payment_by_order_columns[] = {
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
	.rows_path = "payments?",
	.columns = order_payment_by_order_columns,
	.fields = order_payment_fields,
};

static const WixEndpoint *const orders_endpoints[] = {&orders_search, NULL};
static const WixEndpoint *const members_endpoints[] = {&members_query, NULL};
static const WixEndpoint *const products_endpoints[] = {&products_v3_query, &products_v1_query, NULL};
static const WixEndpoint *const bookings_endpoints[] = {&bookings_query, NULL};
static const WixEndpoint *const line_items_endpoints[] = {&order_line_items_search, NULL};
static const WixEndpoint *const payments_endpoints[] = {&order_payments_by_ids, NULL};
static const WixEndpoint *const refunds_endpoints[] = {&order_refunds_by_ids, NULL};
static const WixEndpoint *const fulfillments_endpoints[] = {&order_fulfillments_by_ids, NULL};
static const WixEndpoint *const checkouts_endpoints[] = {&abandoned_checkouts_query, NULL};
static const WixEndpoint *const contacts_endpoints[] = {&contacts_query, NULL};
static const WixEndpoint *const inventory_endpoints[] = {&inventory_v3_query, &inventory_v1_query, NULL};
static const WixEndpoint *const coupons_endpoints[] = {&coupons_query, NULL};
static const WixEndpoint *const services_endpoints[] = {&services_query, NULL};
static const WixEndpoint *const plan_orders_endpoints[] = {&plan_orders_list, NULL};
static const WixEndpoint *const payments_get_endpoints[] = {&order_payments_get, NULL};

static const WixResource orders_resource = {"orders", "eCommerce orders", orders_endpoints};
static const WixResource members_resource = {"members", "site members", members_endpoints};
static const WixResource products_resource = {"products", "Stores products (Catalog V1 or V3)", products_endpoints};
static const WixResource bookings_resource = {"bookings", "Bookings (extended bookings)", bookings_endpoints};
static const WixResource line_items_resource = {"order_line_items", "line items of eCommerce orders", line_items_endpoints};
static const WixResource payments_resource = {"order_payments", "payments of eCommerce orders", payments_endpoints};
static const WixResource refunds_resource = {"order_refunds", "refunds of eCommerce orders, per payment", refunds_endpoints};
static const WixResource fulfillments_resource = {"order_fulfillments", "fulfillments of eCommerce orders", fulfillments_endpoints};
static const WixResource checkouts_resource = {"abandoned_checkouts", "abandoned eCommerce checkouts", checkouts_endpoints};
static const WixResource contacts_resource = {"contacts", "CRM contacts", contacts_endpoints};
static const WixResource inventory_resource = {"inventory_items", "Stores inventory, per variant (Catalog V1 or V3)", inventory_endpoints};
static const WixResource coupons_resource = {"coupons", "coupons", coupons_endpoints};
static const WixResource services_resource = {"booking_services", "Bookings services", services_endpoints};
static const WixResource plan_orders_resource = {"pricing_plan_orders", "pricing-plan orders", plan_orders_endpoints};
static const WixResource payments_get_resource = {"experimental_order_payments_by_order", "one order's payments", payments_get_endpoints, true};

static const WixResource *const resources[] = {
	&orders_resource,
	&members_resource,
	&products_resource,
	&bookings_resource,
	&line_items_resource,
	&payments_resource,
	&refunds_resource,
	&fulfillments_resource,
	&checkouts_resource,
	&contacts_resource,
	&inventory_resource,
	&coupons_resource,
	&services_resource,
	&plan_orders_resource,
	&payments_get_resource,
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
	return endpoint->envelope != NULL || wix_endpoint_in_query_string(endpoint);
}

/*
 * wix_endpoint_in_query_string
 *		Is the endpoint a GET query whose paging and sort are query string
 *		parameters?
 */
bool
wix_endpoint_in_query_string(const WixEndpoint *endpoint)
{
	return endpoint->paging == WIX_PAGING_QUERY_STRING;
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
