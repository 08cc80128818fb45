/*-------------------------------------------------------------------------
 *
 * products.c
 *		  The Stores actions with code of their own: creating and updating
 *		  products, setting and adjusting inventory, each in Catalog V1
 *		  (members-stores-bookings.md §4.4) or V3 (§4.7) as the site runs.
 *		  Deleting a product is a row of the action table.
 *
 * The products table's price, sku and description are fields of both
 * catalogs in other places: V1 has priceData.price, sku and description;
 * V3 keeps price and SKU on each variant (an update sends every variant
 * with its id) and the description as plainDescription.
 *
 *-------------------------------------------------------------------------
 */
#include "wix_actions.h"

#define ZERO_VARIANT_ID		"00000000-0000-0000-0000-000000000000"
#define INVENTORY_MAX		99999

/* Catalog V1's price: a JSON number written as the numeric is. */
static void
v1_set_price(json_object *product, Datum price)
{
	char	   *text = wix_numeric_text(price);

	wix_jset(wix_jchild(product, "priceData"), "price",
			 json_object_new_double_s(strtod(text, NULL), text));
}

/* Catalog V3: ask for the product as the products table reads it. */
static void
v3_ask_table_fields(WixActionCall *call, json_object *body)
{
	static const char request[] = "{\"fields\":[" WIX_V3_PRODUCT_FIELDS "]}";
	json_object *parsed = wix_held(call, wix_json_parse(request, strlen(request),
														"fields"));

	wix_jset(body, "fields", json_object_get(wix_json_get(parsed, "fields")));
}

/* wix_create_product: PHYSICAL or DIGITAL, in either case, or NULL. */
void
wix_check_create_product(WixActionCall *call)
{
	const char *type = wix_arg_text(call, "product_type");

	if (type != NULL && pg_strcasecmp(type, "PHYSICAL") != 0 &&
		pg_strcasecmp(type, "DIGITAL") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("product_type must be PHYSICAL or DIGITAL, not %s",
						wix_quoted(type)),
				 errhint("NULL makes a physical product.")));
}

/* Catalog V1's product body: physical products only. */
static void
v1_product_body(WixActionCall *call, json_object *product, Datum price,
				bool digital)
{
	const char *sku = wix_arg_text(call, "sku");
	const char *description = wix_arg_text(call, "description");

	if (digital)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot create a digital product on a site with Stores Catalog V1"),
				 errdetail("Catalog V1's Create Product makes physical products only."),
				 errhint("Create digital products in the Wix dashboard, or pass product_type NULL or PHYSICAL.")));
	wix_jset_string(product, "productType", "physical");
	v1_set_price(product, price);
	if (sku != NULL)
		wix_jset_string(product, "sku", sku);
	wix_jset(product, "visible", json_object_new_boolean(wix_arg_bool(call, "visible")));
	if (description != NULL)
		wix_jset_string(product, "description", description);
}

/*
 * Catalog V3's product body: one variant carries the price and SKU; a
 * physical product and its variant have physical properties.
 */
static void
v3_product_body(WixActionCall *call, json_object *product, Datum price,
				bool digital)
{
	const char *sku = wix_arg_text(call, "sku");
	const char *description = wix_arg_text(call, "description");
	json_object *variants = json_object_new_array();
	json_object *variant = json_object_new_object();

	wix_jset_string(product, "productType", digital ? "DIGITAL" : "PHYSICAL");
	if (!digital)
		wix_jset(product, "physicalProperties", json_object_new_object());
	wix_jset(product, "visible", json_object_new_boolean(wix_arg_bool(call, "visible")));
	if (description != NULL)
		wix_jset_string(product, "plainDescription", description);
	wix_jset(wix_jchild(product, "variantsInfo"), "variants", variants);
	json_object_array_add(variants, variant);
	wix_jset(variant, "choices", json_object_new_array());
	if (sku != NULL)
		wix_jset_string(variant, "sku", sku);
	if (!digital)
		wix_jset(variant, "physicalProperties", json_object_new_object());
	wix_jset(wix_jchild(variant, "price"), "actualPrice", wix_amount_object(price));
}

/* Is the product to create digital (product_type, in any case)? */
static bool
create_digital(WixActionCall *call)
{
	const char *type = wix_arg_text(call, "product_type");

	return type != NULL && pg_strcasecmp(type, "DIGITAL") == 0;
}

/*
 * wix_create_product(name, price, sku, visible, description, product_type,
 *					  server)
 */
json_object *
wix_run_create_product(WixActionCall *call)
{
	Datum		price = wix_arg(call, "price")->datum;
	bool		digital = create_digital(call);
	json_object *body = wix_held(call, json_object_new_object());
	json_object *product = wix_jchild(body, "product");
	const char *path;
	json_object *created;
	const char *id;

	wix_jset_string(product, "name", wix_arg_text(call, "name"));
	if (wix_site_uses_catalog_v1(call))
	{
		path = "/stores/v1/products";
		v1_product_body(call, product, price, digital);
	}
	else
	{
		path = "/stores/v3/products";
		v3_product_body(call, product, price, digital);
		v3_ask_table_fields(call, body);
	}
	created = wix_entity(wix_action_send(call, "POST", path, body, 0, NULL),
						 "product", "POST", path);
	id = wix_json_get_string(created, "id");
	if (id != NULL)
		call->target = pstrdup(id);
	return created;
}

/* One product of Catalog V3's bulk create: the product, as created alone. */
json_object *
wix_create_product_item(WixActionCall *call)
{
	json_object *product = json_object_new_object();

	wix_jset_string(product, "name", wix_arg_text(call, "name"));
	v3_product_body(call, product, wix_arg(call, "price")->datum,
					create_digital(call));
	return product;
}

/*
 * The price changes names, as numeric: a JSON number or a decimal string,
 * zero or more.  *found: whether changes names one.
 */
static Datum
changes_price(json_object *changes, bool *found)
{
	json_object *value;
	const char *text;
	Datum		price;

	*found = json_object_object_get_ex(changes, "price", &value);
	if (!*found)
		return (Datum) 0;
	text = wix_decimal_text(value);
	if (text == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("changes has a \"price\" that is not a number"),
				 errdetail("Value: %s.", json_object_to_json_string(value)),
				 errhint("For example '{\"price\": 9.90}'.")));
	price = wix_numeric_from_cstring(text);
	wix_check_non_negative("price", price);
	return price;
}

/* Does changes name the price or the SKU, which Catalog V3 keeps per variant? */
static bool
changes_variant(json_object *changes)
{
	return json_object_object_get_ex(changes, "price", NULL) ||
		json_object_object_get_ex(changes, "sku", NULL);
}

/*
 * wix_update_product: changes name a field, and no other product's id; the
 * products table's price is a price, its sku a string.
 */
void
wix_check_update_product(WixActionCall *call)
{
	json_object *changes = wix_arg(call, "changes")->json;
	const char *given_id = wix_json_get_string(changes, "id");
	json_object *sku;
	bool		found;

	if (json_object_object_length(changes) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("changes must name at least one field"),
				 errhint("For example '{\"name\": \"Big mug\"}'.")));
	if (wix_json_get(changes, "id") != NULL &&
		(given_id == NULL || strcmp(given_id, wix_arg_text(call, "product_id")) != 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("changes has an \"id\" other than product_id"),
				 errhint("Leave \"id\" out of changes.")));
	(void) changes_price(changes, &found);
	if (json_object_object_get_ex(changes, "sku", &sku) &&
		!json_object_is_type(sku, json_type_string))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("changes has a \"sku\" that is not a string"),
				 errdetail("Value: %s.", json_object_to_json_string(sku))));
}

/*
 * Catalog V3: the product's one variant with the price and SKU changes
 * names, as the whole variantsInfo of the update (V3 takes all variants or
 * none).  A product with several variants has no one price to set.
 */
static void
v3_set_variant(WixActionCall *call, json_object *current, json_object *product)
{
	json_object *changes = wix_arg(call, "changes")->json;
	json_object *variants = wix_json_get_type(wix_json_get(current, "variantsInfo"),
											  "variants", json_type_array);
	size_t		n = variants ? json_object_array_length(variants) : 0;
	json_object *variant;
	json_object *sku;
	json_object *sent;
	bool		found;
	Datum		price = changes_price(changes, &found);

	if (n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("Wix product %s has no variants", wix_arg_text(call, "product_id"))));
	if (n > 1)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot set one price or SKU for product %s: it has %zu variants",
						wix_arg_text(call, "product_id"), n),
				 errdetail("Catalog V3 keeps the price and SKU on each variant, and an update sends every variant."),
				 errhint("Pass wix_update_product() changes with \"variantsInfo\": {\"variants\": [...]}, every variant with its id, price and SKU.")));
	variant = json_object_array_get_idx(variants, 0);
	if (found)
		wix_jset(wix_jchild(variant, "price"), "actualPrice", wix_amount_object(price));
	if (json_object_object_get_ex(changes, "sku", &sku))
		wix_jset(variant, "sku", json_object_get(sku));
	sent = json_object_new_array();
	json_object_array_add(sent, json_object_get(variant));
	wix_jset(wix_jchild(product, "variantsInfo"), "variants", sent);
}

/*
 * Catalog V3: the product as Wix has it now, read for its revision; its
 * variant changed into the update when changes names a price or SKU.
 */
static json_object *
v3_current_product(WixActionCall *call, json_object *product)
{
	char	   *path = wix_expand_path(call, "/stores/v3/products/{product_id}");
	json_object *current = wix_entity(wix_action_read(call, "GET", path, NULL),
									  "product", "GET", path);

	if (changes_variant(wix_arg(call, "changes")->json))
		v3_set_variant(call, current, product);
	return current;
}

/*
 * One attempt of a V3 product update: the changes with the current
 * revision.  The first sends the revision DML read the row with, if any,
 * unless the product must be read for its variant anyway.
 */
static void
prepare_product_update(WixActionCall *call, int attempt, void *arg,
					   WixAttempt *out)
{
	json_object *body = arg;
	json_object *product = wix_json_get(body, "product");
	int64		revision;

	out->body = body;
	out->path = wix_expand_path(call, "/stores/v3/products/{product_id}");
	if (attempt == 0 && call->revision != NULL &&
		!changes_variant(wix_arg(call, "changes")->json))
	{
		wix_jset_string(product, "revision", call->revision);
		return;
	}
	if (!wix_json_get_int64(v3_current_product(call, product), "revision", &revision))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("Wix product has no revision")));
	wix_jset_string(product, "revision", psprintf(INT64_FORMAT, revision));
}

/*
 * The update's product, in body: changes, with the products table's price,
 * sku and description where the site's catalog keeps them (V3's variant:
 * added by v3_set_variant once the product is read).
 */
static json_object *
product_update(WixActionCall *call, json_object *body, bool v1)
{
	json_object *changes = wix_arg(call, "changes")->json;
	json_object *product = wix_jchild(body, "product");
	json_object *description = wix_json_get_type(changes, "description",
												 json_type_string);
	bool		found;
	Datum		price = changes_price(changes, &found);

	json_object_object_foreach(changes, key, value)
		wix_jset(product, key, json_object_get(value));
	json_object_object_del(product, "price");
	if (v1)
	{
		if (found)
			v1_set_price(product, price);
		return product;
	}
	if (changes_variant(changes) && wix_json_get(changes, "variantsInfo") != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("changes has \"variantsInfo\" and a price or SKU of the product"),
				 errdetail("Catalog V3 keeps the price and SKU on the variants."),
				 errhint("Put them in the variants of variantsInfo.")));
	json_object_object_del(product, "sku");
	/* a string is the table's HTML; V3's own description is rich content */
	if (description != NULL)
	{
		json_object_object_del(product, "description");
		wix_jset(product, "plainDescription", json_object_get(description));
	}
	wix_jset_string(product, "id", wix_arg_text(call, "product_id"));
	return product;
}

/*
 * wix_update_product(product_id, changes, server)
 *		V1: PATCH with the changes.  V3: PATCH with the changes, the id and
 *		the current revision, read first; a revision conflict re-reads it and
 *		tries once more.  A revision in changes is sent as given and not
 *		retried: optimistic concurrency chosen by the caller.
 */
json_object *
wix_run_update_product(WixActionCall *call)
{
	bool		v1 = wix_site_uses_catalog_v1(call);
	json_object *body = wix_held(call, json_object_new_object());
	json_object *product = product_update(call, body, v1);
	char	   *path;

	if (v1)
		path = wix_expand_path(call, "/stores/v1/products/{product_id}");
	else
	{
		path = wix_expand_path(call, "/stores/v3/products/{product_id}");
		v3_ask_table_fields(call, body);
		if (wix_json_get(product, "revision") == NULL)
			return wix_send_with_revision(call, "PATCH", "product",
										  prepare_product_update, body);
		if (changes_variant(wix_arg(call, "changes")->json))
			(void) v3_current_product(call, product);
	}
	return wix_entity(wix_action_send(call, "PATCH", path, body, 0, NULL),
					  "product", "PATCH", path);
}

/*
 * One product of Catalog V3's bulk update: {"product": the update's product
 * with the revision DML read the row with}.  NULL (sent alone) without a
 * revision, or when the product must be read first for its variant (a
 * price or SKU).  A stale revision is refused by Wix for that product
 * only, which is then sent alone.
 */
json_object *
wix_update_product_item(WixActionCall *call)
{
	json_object *changes = wix_arg(call, "changes")->json;
	json_object *item;

	if (call->revision == NULL || wix_json_get(changes, "revision") != NULL ||
		changes_variant(changes))
		return NULL;
	item = json_object_new_object();
	wix_jset_string(product_update(call, item, false), "revision", call->revision);
	return item;
}

/*
 * V1: the variant whose inventory changes.  A product without variant_id
 * must have no variants of its own; its inventory is the all-zero variant.
 */
static const char *
v1_variant(WixActionCall *call)
{
	const char *variant_id = wix_arg_text(call, "variant_id");
	char	   *path;
	json_object *product;
	json_object *manage;
	json_object *variants;
	StringInfoData ids;

	if (variant_id != NULL)
		return variant_id;
	path = wix_expand_path(call, "/stores-reader/v1/products/{product_id}");
	product = wix_entity(wix_action_read(call, "GET", path, NULL), "product", "GET", path);
	manage = wix_json_get_type(product, "manageVariants", json_type_boolean);
	if (manage == NULL || !json_object_get_boolean(manage))
		return ZERO_VARIANT_ID;

	variants = wix_json_get_type(product, "variants", json_type_array);
	initStringInfo(&ids);
	for (size_t i = 0; variants && i < json_object_array_length(variants) && i < 10; i++)
	{
		const char *id = wix_json_get_string(json_object_array_get_idx(variants, i), "id");

		if (id != NULL)
			appendStringInfo(&ids, "%s%s", ids.len ? ", " : "", id);
	}
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("product %s has variants: pass variant_id",
					wix_arg_text(call, "product_id")),
			 ids.len > 0 ? errdetail("Its variants include %s.", ids.data) : 0));
	return NULL;				/* keep compiler quiet */
}

/* V1: the product after an inventory change, as Wix now shows it. */
static json_object *
v1_product(WixActionCall *call)
{
	char	   *path = wix_expand_path(call, "/stores-reader/v1/products/{product_id}");

	return wix_entity(wix_action_read(call, "GET", path, NULL), "product", "GET", path);
}

/* Refuse a product (variant) with several inventory items, naming them. */
static void
several_inventory_items(WixActionCall *call, json_object *items, size_t n)
{
	const char *product_id = wix_arg_text(call, "product_id");
	const char *variant_id = wix_arg_text(call, "variant_id");
	StringInfoData ids;

	initStringInfo(&ids);
	for (size_t i = 0; i < n && i < 10; i++)
	{
		const char *id = wix_json_get_string(json_object_array_get_idx(items, i), "variantId");

		appendStringInfo(&ids, "%s%s", ids.len ? ", " : "", id ? id : "(none)");
	}
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 variant_id ?
			 errmsg("variant %s of product %s has %zu inventory items (one per location)",
					variant_id, product_id, n) :
			 errmsg("product %s has %zu inventory items: pass variant_id",
					product_id, n),
			 errdetail("Variant ids: %s.", ids.data),
			 variant_id ?
			 errhint("Use wix_api() with the inventory item of the location.") : 0));
}

/*
 * V3: the inventory item of a product (and variant): query by productId.
 * A product with several items needs variant_id.
 */
static json_object *
v3_inventory_item(WixActionCall *call)
{
	const char *product_id = wix_arg_text(call, "product_id");
	const char *variant_id = wix_arg_text(call, "variant_id");
	json_object *body = wix_held(call, json_object_new_object());
	json_object *query = wix_jchild(body, "query");
	json_object *filter = wix_jchild(query, "filter");
	json_object *items;
	size_t		n;

	wix_jset_string(filter, "productId", product_id);
	if (variant_id != NULL)
		wix_jset_string(filter, "variantId", variant_id);
	wix_jset(wix_jchild(query, "cursorPaging"), "limit", json_object_new_int(100));
	items = wix_json_get_type(wix_action_read(call, "POST", "/stores/v3/inventory-items/query", body),
							  "inventoryItems", json_type_array);
	n = items ? json_object_array_length(items) : 0;
	if (n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_UNABLE_TO_CREATE_EXECUTION),
				 variant_id ?
				 errmsg("product %s has no inventory item for variant %s",
						product_id, variant_id) :
				 errmsg("product %s has no inventory item", product_id),
				 errhint("Check the product id (and variant id), and that the server's site_id points at the right site.")));
	if (n > 1)
		several_inventory_items(call, items, n);
	return json_object_array_get_idx(items, 0);
}

/* wix_set_inventory: a quantity Wix accepts. */
void
wix_check_set_inventory(WixActionCall *call)
{
	int32		quantity = DatumGetInt32(wix_arg(call, "quantity")->datum);

	if (quantity < 0 || quantity > INVENTORY_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("quantity must be between 0 and %d, not %d",
						INVENTORY_MAX, quantity)));
}

/*
 * What wix_set_inventory and wix_set_in_stock set, which Wix takes one at a
 * time: the quantity (tracking it from then on), or whether the variant is
 * in stock (not tracking a quantity).
 */
static bool
sets_quantity(WixActionCall *call)
{
	return wix_action_param_index(call->def, "quantity") >= 0;
}

static void
set_stock(WixActionCall *call, json_object *obj)
{
	if (sets_quantity(call))
		wix_jset(obj, "quantity",
				 json_object_new_int(DatumGetInt32(wix_arg(call, "quantity")->datum)));
	else
		wix_jset(obj, "inStock", json_object_new_boolean(wix_arg_bool(call, "in_stock")));
}

/* One attempt of a V3 inventory change: the item's current revision. */
static void
prepare_inventory_update(WixActionCall *call, int attempt, void *arg,
						 WixAttempt *out)
{
	json_object *item = v3_inventory_item(call);
	const char *item_id = wix_json_get_string(item, "id");
	int64		revision;
	json_object *update;

	if (item_id == NULL || !wix_json_get_int64(item, "revision", &revision))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("Wix inventory item of product %s has no id or revision",
						wix_arg_text(call, "product_id"))));
	out->path = psprintf("/stores/v3/inventory-items/%s",
						 wix_check_id("inventory item id", item_id));
	out->body = wix_held(call, json_object_new_object());
	update = wix_jchild(out->body, "inventoryItem");
	wix_jset_string(update, "id", item_id);
	wix_jset(update, "revision", json_object_new_string(psprintf(INT64_FORMAT, revision)));
	set_stock(call, update);
	wix_jset_string(out->body, "reason", "MANUAL");
}

/*
 * wix_set_inventory(product_id, quantity, variant_id, server) and
 * wix_set_in_stock(product_id, in_stock, variant_id, server)
 *		V3: the inventory item, updated with its current revision.  V1: the
 *		product's inventory, whose trackQuantity holds for all its variants.
 */
json_object *
wix_run_set_stock(WixActionCall *call)
{
	json_object *body;
	json_object *item;
	json_object *entry;
	json_object *variants;

	if (!wix_site_uses_catalog_v1(call))
		return wix_send_with_revision(call, "PATCH", "inventoryItem",
									  prepare_inventory_update, NULL);

	body = wix_held(call, json_object_new_object());
	item = wix_jchild(body, "inventoryItem");
	variants = json_object_new_array();
	entry = json_object_new_object();
	/* trackQuantity always: omitted means false, for every variant */
	wix_jset(item, "trackQuantity", json_object_new_boolean(sets_quantity(call)));
	wix_jset(item, "variants", variants);
	json_object_array_add(variants, entry);
	wix_jset_string(entry, "variantId", v1_variant(call));
	set_stock(call, entry);
	(void) wix_action_send(call, "PATCH",
						   wix_expand_path(call, "/stores/v2/inventoryItems/product/{product_id}"),
						   body, 0, NULL);
	return v1_product(call);
}

/* wix_adjust_inventory: a non-zero delta Wix accepts. */
void
wix_check_adjust_inventory(WixActionCall *call)
{
	int32		delta = DatumGetInt32(wix_arg(call, "delta")->datum);

	if (delta == 0 || delta < -INVENTORY_MAX || delta > INVENTORY_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("delta must be between -%d and %d and not zero, not %d",
						INVENTORY_MAX, INVENTORY_MAX, delta)));
}

/* V3: report a bulk change's failed item as Wix describes it. */
static void
check_bulk_result(WixActionCall *call, json_object *result, bool up)
{
	json_object *meta = wix_json_get(result, "itemMetadata");
	json_object *success = wix_json_get_type(meta, "success", json_type_boolean);
	json_object *error;
	const char *code;
	const char *description;

	if (success == NULL || json_object_get_boolean(success))
		return;
	error = wix_json_get(meta, "error");
	code = wix_json_get_string(error, "code");
	description = wix_json_get_string(error, "description");
	ereport(ERROR,
			(errcode(ERRCODE_FDW_UNABLE_TO_CREATE_EXECUTION),
			 errmsg("Wix could not %s the inventory of product %s: %s",
					up ? "increment" : "decrement", wix_arg_text(call, "product_id"),
					description ? description : "(no description)"),
			 errdetail("Wix error code: %s. Wix request id: %s.",
					   code ? code : "(none)",
					   call->request_id ? call->request_id : "(none)"),
			 !up ? errhint("Wix does not decrement below zero.") : 0));
}

/* V3: increment or decrement the product's inventory item in bulk. */
static json_object *
v3_adjust(WixActionCall *call, json_object *body, json_object *entry, bool up)
{
	const char *item_id = wix_json_get_string(v3_inventory_item(call), "id");
	json_object *results;
	json_object *result;
	char	   *item_path;

	if (item_id == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("Wix inventory item of product %s has no id",
						wix_arg_text(call, "product_id"))));
	wix_jset_string(entry, "inventoryItemId", item_id);
	if (!up)
		wix_jset(body, "restrictInventory", json_object_new_boolean(true));
	wix_jset(body, "returnEntity", json_object_new_boolean(true));
	wix_jset_string(body, "reason", "MANUAL");
	results = wix_json_get_type(wix_action_send(call, "POST",
												psprintf("/stores/v3/bulk/inventory-items/%s",
														 up ? "increment" : "decrement"),
												body, 0, NULL),
								"results", json_type_array);
	result = results && json_object_array_length(results) > 0 ?
		json_object_array_get_idx(results, 0) : NULL;
	check_bulk_result(call, result, up);
	if (wix_json_get_type(result, "item", json_type_object) != NULL)
		return wix_json_get(result, "item");
	item_path = psprintf("/stores/v3/inventory-items/%s",
						 wix_check_id("inventory item id", item_id));
	return wix_entity(wix_action_read(call, "GET", item_path, NULL),
					  "inventoryItem", "GET", item_path);
}

/* wix_adjust_inventory(product_id, delta, variant_id, server) */
json_object *
wix_run_adjust_inventory(WixActionCall *call)
{
	int32		delta = DatumGetInt32(wix_arg(call, "delta")->datum);
	bool		up = delta > 0;
	json_object *body = wix_held(call, json_object_new_object());
	json_object *data = json_object_new_array();
	json_object *entry = json_object_new_object();

	wix_jset(body, up ? "incrementData" : "decrementData", data);
	json_object_array_add(data, entry);
	wix_jset(entry, up ? "incrementBy" : "decrementBy",
			 json_object_new_int(up ? delta : -delta));
	if (!up)
		wix_jset(entry, "preorderRequest", json_object_new_boolean(false));
	if (!wix_site_uses_catalog_v1(call))
		return v3_adjust(call, body, entry, up);

	wix_jset_string(entry, "productId", wix_arg_text(call, "product_id"));
	wix_jset_string(entry, "variantId", v1_variant(call));
	(void) wix_action_send(call, "POST",
						   psprintf("/stores/v2/inventoryItems/%s",
									up ? "increment" : "decrement"),
						   body, 0, NULL);
	return v1_product(call);
}
