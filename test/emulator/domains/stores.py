"""Wix Stores, both catalogs: the catalog version; Catalog V1 products
(query with a JSON-string filter and offset paging up to 10,000, get,
create, update, delete) and their inventory (query, update, increment,
decrement); Catalog V3 products (query, search, count: cursor paging; get,
create, update, delete) and inventory items (query: cursor or offset
paging; search, count; get, update, bulk increment and decrement)."""
import copy
import json

import emu_data as D
from api import (app_error, bulk_results, body_obj, body_or_r, bump, cents_of, check_type, dumps, entity, list_param,
                 need_obj, new_id, stamp, unique_now_ms, unique_slug, validation_error)
from emu_wql import ALL_BOOL, ALL_DATE, ALL_NUM, ALL_STR, F, iso_ms, spec
from paging import (CURSOR, HAS, PREV_IF_ANY, cursor_metadata, cursor_paging, either_paged_query,
                    paged_answer, paging_kind, run_cursor_query, run_offset_query, run_search, string_query,
                    text_search_pred)

V1_STR = ("$eq", "$ne", "$in", "$gt", "$gte", "$lt", "$lte", "$startsWith", "$exists")
V1_NUM = ("$eq", "$ne", "$in", "$gt", "$gte", "$lt", "$lte", "$exists")
V1_SPEC = spec(
    F("id", "str", V1_STR, True), F("name", "str", V1_STR, True), F("slug", "str", V1_STR, True),
    F("description", "str", V1_STR), F("sku", "str", V1_STR, True),
    F("productType", "enum", ("$eq", "$ne", "$in", "$exists"), True),
    F("priceData.price", "num", V1_NUM, True), F("price", "num", (), True, path="priceData.price", filterable=False),
    F("numericId", "num", V1_NUM, True), F("lastUpdated", "date", V1_NUM, True), F("createdDate", "date", V1_NUM),
    F("collectionIds", "arr", ("$hasSome", "$hasAll")), F("visible", "bool", ("$eq", "$ne", "$exists")),
)

V3_QUERY_SPEC = spec(
    F("createdDate", "date", ALL_DATE, True), F("updatedDate", "date", ALL_DATE, True),
    F("slug", "str", ALL_STR, True), F("visible", "bool", ALL_BOOL, True),
    F("id", "str", ALL_STR), F("handle", "str", ALL_STR), F("options.id", "arr", HAS),
)
V3_VARIANT_SUB = spec(F("sku", "str", ALL_STR), F("visible", "bool", ALL_BOOL), F("barcode", "str", ALL_STR),
                      F("price.actualPrice.amount", "num", ALL_NUM), F("id", "str", ALL_STR))
V3_SEARCH_SPEC = spec(
    F("createdDate", "date", ALL_DATE, True), F("updatedDate", "date", ALL_DATE, True), F("name", "str", ALL_STR, True),
    F("actualPriceRange.minValue.amount", "num", ALL_NUM, True), F("actualPriceRange.maxValue.amount", "num", ALL_NUM, True),
    F("minVariantPriceInfo.sku", "str", ALL_STR, True),
    F("id", "str", ALL_STR), F("handle", "str", ALL_STR), F("slug", "str", ALL_STR), F("visible", "bool", ALL_BOOL),
    F("productType", "enum", ALL_BOOL), F("brand.name", "str", ALL_STR), F("ribbon.name", "str", ALL_STR),
    F("inventory.availabilityStatus", "enum", ALL_BOOL), F("mainCategoryId", "str", ALL_STR),
    F("variantsInfo.variants", "objarr", ("$matchItems", "$isEmpty", "$exists"), sub=V3_VARIANT_SUB),
)
V3_SEARCH_TEXT_FIELDS = ("name", "slug", "plainDescription", "brand.name", "ribbon.name", "minVariantPriceInfo.sku")
V3_REQUESTED_FIELDS = ("URL", "CURRENCY", "INFO_SECTION", "MERCHANT_DATA", "PLAIN_DESCRIPTION", "INFO_SECTION_PLAIN_DESCRIPTION",
                       "SUBSCRIPTION_PRICES_INFO", "BREADCRUMBS_INFO", "WEIGHT_MEASUREMENT_UNIT_INFO",
                       "VARIANT_OPTION_CHOICE_NAMES", "MEDIA_ITEMS_INFO", "DESCRIPTION", "DIRECT_CATEGORIES_INFO",
                       "ALL_CATEGORIES_INFO", "INFO_SECTION_DESCRIPTION", "THUMBNAIL", "PRODUCT_CHOICES_MEDIA_REFERENCES",
                       "PRODUCT_CHOICES_DISPLAY_IMAGE", "MIN_PRICE_VARIANT", "DISCOUNT_INFO")
V3_FIELD_KEYS = {"CURRENCY": "currency", "URL": "url", "PLAIN_DESCRIPTION": "plainDescription",
                 "DESCRIPTION": "description", "MERCHANT_DATA": "costRange",
                 "DIRECT_CATEGORIES_INFO": "directCategoriesInfo", "ALL_CATEGORIES_INFO": "allCategoriesInfo"}
V3_EXTRA_KEYS = ("currency", "url", "plainDescription", "description", "costRange", "directCategoriesInfo",
                 "allCategoriesInfo", "minVariantPriceInfo")

INV_SPEC = spec(
    F("id", "str", ALL_STR), F("locationId", "str", ALL_STR), F("variantId", "str", ALL_STR),
    F("productId", "str", ALL_STR, True), F("quantity", "num", ALL_NUM, True), F("inStock", "bool", ALL_BOOL, True),
    F("trackQuantity", "bool", ALL_BOOL, True), F("availabilityStatus", "enum", ALL_BOOL, True),
    F("createdDate", "date", ALL_DATE, True), F("updatedDate", "date", ALL_DATE, True),
    F("product.name", "str", ALL_STR, True), F("product.variantSku", "str", ALL_STR, True),
    F("product.variantName", "str", ALL_STR, True), F("product.variantBarcode", "str", ALL_STR, True),
    F("product.brand.id", "str", ALL_STR, True), F("preorderInfo.enabled", "bool", ALL_BOOL, True),
    F("product.directCategoryIds", "arr", HAS, True),
)
INV_SEARCH_TEXT_FIELDS = ("product.name", "product.variantName", "product.variantSku", "product.variantBarcode")


def require_catalog(st, want):
    cat = st.args.catalog
    if cat == "NONE":
        raise app_error(428, "REQUIRED_APP_NOT_INSTALLED", "Wix Stores app is not installed for site")
    if cat != want:
        raise app_error(428, "CATALOG_VERSION_MISMATCH",
                        "FAILED_PRECONDITION: this site uses catalog %s; %s endpoints are not available" % (cat, want))


def h_catalog_version(req):
    cat = req.state.args.catalog
    return {"catalogVersion": {"V1": "V1_CATALOG", "V3": "V3_CATALOG"}.get(cat, "STORES_NOT_INSTALLED")}


# ---------------------------------------------------------------- V1 reads
V1_DEFAULT_SORT = [(V1_SPEC["lastUpdated"], True)]
V1_OFFSET_CEILING = 10000


def v1_proj(include_variants):
    def p(prod):
        if include_variants:
            return prod
        return {k: v for k, v in prod.items() if k != "variants"}
    return p


V1_PROJ = {True: v1_proj(True), False: v1_proj(False)}


def h_v1_query(req):
    st = req.state
    require_catalog(st, "V1")
    b = req.body if isinstance(req.body, dict) else {}
    filt, sort, limit, offset = string_query(need_obj(b, "query"), V1_OFFSET_CEILING)
    hidden = b.get("includeHiddenProducts") is True
    variants = b.get("includeVariants") is True
    items = run_offset_query(st, "v1", filt=filt, sort_raw=sort, extra={"h": hidden}, spec_=V1_SPEC,
                             default_sort=V1_DEFAULT_SORT, sort_where="query.sort",
                             pred_extra=None if hidden else (lambda p: p.get("visible", True)))
    page = items[offset:offset + limit]
    return paged_answer("products", [st.obj_json("v1", p, variants, V1_PROJ[variants]) for p in page],
                        "metadata", {"items": len(page), "offset": offset}, totalResults=len(items))


INV1_EQ = ("$eq", "$ne", "$in", "$nin")
INV1_SPEC = spec(
    F("id", "str", INV1_EQ), F("productId", "str", INV1_EQ, True), F("externalId", "str", INV1_EQ),
    F("numericId", "num", V1_NUM, True), F("lastUpdated", "date", V1_NUM, True),
    F("trackQuantity", "bool", ("$eq", "$ne")),
)
INV1_DEFAULT_SORT = [(INV1_SPEC["numericId"], False)]


def h_v1_inventory_query(req):
    """Catalog V1 Query Inventory: one item per product, read from the
    products (so product and inventory changes show at once)."""
    st = req.state
    require_catalog(st, "V1")
    filt, sort, limit, offset = string_query(need_obj(body_obj(req), "query"), V1_OFFSET_CEILING)
    items = run_offset_query(st, "inv1", filt=filt, sort_raw=sort, extra=None, spec_=INV1_SPEC,
                             default_sort=INV1_DEFAULT_SORT, sort_where="query.sort")
    page = items[offset:offset + limit]
    return paged_answer("inventoryItems", [dumps(it) for it in page], "metadata",
                        {"items": len(page), "offset": offset}, totalResults=len(items))


def get_v1(st, pid):
    return st.stored("v1", pid, "PRODUCT_NOT_FOUND", "Product")


def h_v1_get(req):
    st = req.state
    require_catalog(st, "V1")
    p = get_v1(st, req.m["id"])
    return entity("product", st.obj_json("v1", p, True, V1_PROJ[True]))


# ---------------------------------------------------------------- V3 reads
def v3_fields(fields, where="fields"):
    if fields is None:
        return ()
    if isinstance(fields, str):
        fields = [fields]
    if not isinstance(fields, list) or len(fields) > 100:
        raise validation_error(where, "fields must be an array of at most 100 values", "MAX_SIZE")
    for f in fields:
        if f not in V3_REQUESTED_FIELDS:
            raise validation_error(where, "Unknown requested field '%s'" % (f,), "VALIDATION")
    return tuple(sorted(set(fields)))


def v3_proj(fields, with_variants):
    keep = set(V3_FIELD_KEYS[f] for f in fields if f in V3_FIELD_KEYS)
    if "MIN_PRICE_VARIANT" in fields:
        keep.add("minVariantPriceInfo")

    def p(prod):
        out = {}
        for k, v in prod.items():
            if k in V3_EXTRA_KEYS and k not in keep:
                continue
            if k == "variantsInfo" and not with_variants:
                continue
            if k == "costRange" and "costRange" not in keep:
                continue
            out[k] = v
        if "MIN_PRICE_VARIANT" in fields:
            # SDK V3Product: variantSummary.minPriceVariant, the visible
            # variant with the lowest actualPrice (ties: variant order)
            visible = [v for v in (prod.get("variantsInfo") or {}).get("variants", [])
                       if v.get("visible", True)]
            summary = dict(out.get("variantSummary") or {})
            if visible:
                summary["minPriceVariant"] = min(
                    visible, key=lambda v: float(v["price"]["actualPrice"]["amount"]))
            out["variantSummary"] = summary
        return out
    return p


def v3_search_pred(search):
    return text_search_pred(search, V3_SEARCH_TEXT_FIELDS, ["name"], "search.search")


V3_DEFAULT_SORT = [(V3_QUERY_SPEC["createdDate"], True)]


def v3_page_response(st, page, nxt, prv, fields):
    proj = v3_proj(fields, False)
    return paged_answer("products", [st.obj_json("v3", p, ("q",) + fields, proj) for p in page],
                        "pagingMetadata", cursor_metadata(page, nxt, prv, has_next=True))


def h_v3_query(req):
    st = req.state
    require_catalog(st, "V3")
    b = body_or_r(req)
    q = need_obj(b, "query")
    paging_kind(q, "query", CURSOR)
    fields = v3_fields(b.get("fields"))
    limit, cursor = cursor_paging(q, "query")
    page, nxt, prv = run_cursor_query(
        st, "v3", filt=q.get("filter"), sort_raw=q.get("sort"), extra=None, cursor=cursor,
        limit=limit, spec_=V3_QUERY_SPEC, max_sort=5, default_sort=V3_DEFAULT_SORT, where="query")
    return v3_page_response(st, page, nxt, prv, fields)


def h_v3_search(req):
    st = req.state
    require_catalog(st, "V3")
    b = body_or_r(req)
    fields = v3_fields(b.get("fields"))
    page, nxt, prv = run_search(st, "v3s", need_obj(b, "search"), spec_=V3_SEARCH_SPEC,
                                searchable=V3_SEARCH_TEXT_FIELDS, default_fields=["name"],
                                default_sort=V3_DEFAULT_SORT, max_sort=5)
    return v3_page_response(st, page, nxt, prv, fields)


def h_v3_count(req):
    st = req.state
    require_catalog(st, "V3")
    b = body_or_r(req)
    sp = v3_search_pred(b.get("search"))
    items = run_offset_query(st, "v3s", filt=b.get("filter"), sort_raw=None, extra={"search": b.get("search")},
                             spec_=V3_SEARCH_SPEC, default_sort=V3_DEFAULT_SORT, pred_extra=sp)
    return {"count": len(items)}


def get_v3(st, pid):
    return st.stored("v3", pid, "PRODUCT_NOT_FOUND", "Product")


def h_v3_get(req):
    st = req.state
    require_catalog(st, "V3")
    p = get_v3(st, req.m["id"])
    fields = v3_fields(list_param(req, "fields") or None)
    return entity("product", st.obj_json("v3", p, ("g",) + fields, v3_proj(fields, True)))


# ---------------------------------------------------------------- V3 inventory reads
INV_DEFAULT_SORT = [(INV_SPEC["createdDate"], False)]


def h_inv_query(req):
    st = req.state
    require_catalog(st, "V3")
    b = body_or_r(req)
    q = need_obj(b, "query")
    page, meta = either_paged_query(st, "inv", q, spec_=INV_SPEC, default_sort=INV_DEFAULT_SORT,
                                    default=100, maximum=1000, prev=PREV_IF_ANY, with_total=False)
    return paged_answer("inventoryItems", [st.wire("inv", it) for it in page], "pagingMetadata", meta)


INV_SEARCH_DEFAULT_SORT = [(INV_SPEC["createdDate"], True)]


def inv_search_pred(search):
    return text_search_pred(search, INV_SEARCH_TEXT_FIELDS, INV_SEARCH_TEXT_FIELDS, "search.search")


def h_inv_search(req):
    st = req.state
    require_catalog(st, "V3")
    page, nxt, prv = run_search(st, "invs", need_obj(body_or_r(req), "search"), spec_=INV_SPEC,
                                searchable=INV_SEARCH_TEXT_FIELDS, default_fields=INV_SEARCH_TEXT_FIELDS,
                                default_sort=INV_SEARCH_DEFAULT_SORT, max_sort=10, maximum=1000)
    return paged_answer("inventoryItems", [st.wire("inv", it) for it in page], "pagingMetadata",
                        cursor_metadata(page, nxt, prv, prev=PREV_IF_ANY, has_next=True))


def h_inv_count(req):
    st = req.state
    require_catalog(st, "V3")
    b = body_or_r(req)
    items = run_offset_query(st, "invs", filt=b.get("filter"), sort_raw=None, extra={"search": b.get("search")},
                             spec_=INV_SPEC, default_sort=INV_SEARCH_DEFAULT_SORT,
                             pred_extra=inv_search_pred(b.get("search")))
    return {"count": len(items)}


def get_inv(st, iid):
    return st.stored("inv", iid, "INVENTORY_ITEM_NOT_FOUND", "Inventory item")


def h_inv_get(req):
    st = req.state
    require_catalog(st, "V3")
    it = get_inv(st, req.m["id"])
    return entity("inventoryItem", st.wire("inv", it))


# ---------------------------------------------------------------- V1 changes (products, inventory)
def v1_set_price(p, price_v, discount=None):
    cur = p.get("priceData", {}).get("currency", "USD")
    disc = discount if discount is not None else p.get("discount", {"type": "NONE", "value": 0.0})
    v = float(price_v)
    if disc.get("type") == "PERCENT":
        dp = round(v * (100 - float(disc.get("value", 0))) / 100.0, 2)
    elif disc.get("type") == "AMOUNT":
        dp = round(max(0.0, v - float(disc.get("value", 0))), 2)
    else:
        dp = v
    sym = D.CURRENCIES.get(cur, "")
    pd = {"currency": cur, "price": v, "discountedPrice": dp, "formatted": {"price": sym + "%.2f" % v, "discountedPrice": sym + "%.2f" % dp}}
    p["priceData"] = pd
    p["price"] = dict(pd)
    p["priceRange"] = {"minValue": v, "maxValue": v}
    p["discount"] = disc
    for var in p.get("variants", []):
        var.setdefault("variant", {})["priceData"] = dict(pd)


def v1_validate_fields(u, creating):
    if creating or "name" in u:
        n = u.get("name")
        if not isinstance(n, str) or not (1 <= len(n) <= 80):
            raise validation_error("product.name", "name must be 1..80 characters", "MAX_LENGTH" if isinstance(n, str) and n else "REQUIRED_FIELD")
    if "sku" in u:
        check_type(u["sku"], str, "product.sku", "a string")
        if u["sku"] is not None and len(u["sku"]) > 40:
            raise validation_error("product.sku", "sku must be at most 40 characters", "MAX_LENGTH")
    if "description" in u:
        check_type(u["description"], str, "product.description", "a string")
        if u["description"] is not None and len(u["description"]) > 8000:
            raise validation_error("product.description", "description must be at most 8000 characters", "MAX_LENGTH")
    for k in ("visible",):
        if k in u:
            check_type(u[k], bool, "product." + k, "a boolean")
    if "weight" in u:
        check_type(u["weight"], (int, float), "product.weight", "a number")
    pd = u.get("priceData")
    if creating and not (isinstance(pd, dict) and pd.get("price") is not None):
        raise validation_error("product.priceData.price", "priceData.price is required", "REQUIRED_FIELD")
    if pd is not None:
        if not isinstance(pd, dict):
            raise validation_error("product.priceData", "Expected an object", "FORMAT")
        pr = pd.get("price")
        if pr is not None and (isinstance(pr, bool) or not isinstance(pr, (int, float)) or pr < 0):
            raise validation_error("product.priceData.price", "price must be a non-negative number", "FORMAT")
    d = u.get("discount")
    if d is not None and (not isinstance(d, dict) or d.get("type", "NONE") not in ("NONE", "AMOUNT", "PERCENT")):
        raise validation_error("product.discount", "Invalid discount", "VALIDATION")


def v1_apply(st, p, u):
    for k in ("name", "description", "visible", "weight", "ribbon", "brand"):
        if k in u:
            if u[k] is None:
                p.pop(k, None)
            else:
                p[k] = u[k]
    if "sku" in u and not p.get("manageVariants"):
        p["sku"] = u["sku"] or ""
        for var in p.get("variants", []):
            var.setdefault("variant", {})["sku"] = p["sku"]
    if "slug" in u and isinstance(u["slug"], str) and u["slug"]:
        p["slug"] = u["slug"]
    disc = None
    if isinstance(u.get("discount"), dict):
        disc = {"type": u["discount"].get("type", "NONE"), "value": float(u["discount"].get("value", 0) or 0)}
    pr = (u.get("priceData") or {}).get("price")
    if pr is not None or disc is not None:
        v1_set_price(p, pr if pr is not None else p["priceData"]["price"], disc)


def h_v1_create(req):
    st = req.state
    require_catalog(st, "V1")
    u = body_obj(req).get("product")
    if not isinstance(u, dict):
        raise validation_error("product", "product is required", "REQUIRED_FIELD")
    v1_validate_fields(u, True)
    pt = u.get("productType", "physical")
    if pt != "physical":
        raise validation_error("product.productType", "Only physical products can be created through the API", "VALIDATION")
    t = unique_now_ms()
    now = iso_ms(t)
    slugs = set(x["slug"] for x in st.idx["v1"].values())
    slug = unique_slug(slugs, u.get("slug") or D.slugify(u["name"]))
    p = {"id": new_id(), "name": u["name"], "slug": slug, "visible": True, "productType": "physical",
         "description": "", "sku": "", "stock": {"trackInventory": False},
         "discount": {"type": "NONE", "value": 0.0}, "manageVariants": False, "productOptions": [],
         "collectionIds": [D.ALL_PRODUCTS_COLLECTION],
         "media": {"items": []}, "numericId": str(t * 1000), "inventoryItemId": new_id(),
         "productPageUrl": {"base": D.SITE_URL + "/", "path": "/product-page/" + slug},
         "customTextFields": [], "createdDate": now, "lastUpdated": now,
         "priceData": {"currency": "USD", "price": 0.0}}
    p["variants"] = [{"id": D.DEFAULT_VARIANT_ID, "choices": {}, "variant": {"sku": "", "visible": True, "weight": 0},
                      "stock": {"trackQuantity": False, "inStock": True}}]
    v1_apply(st, p, {k: v for k, v in u.items() if k != "slug"})
    if "weight" in p:
        p["variants"][0]["variant"]["weight"] = p["weight"]
    D.v1_stock_summary(p)
    st.add("v1", p)
    return entity("product", st.obj_json("v1", p, True, V1_PROJ[True]))


def h_v1_update(req):
    st = req.state
    require_catalog(st, "V1")
    p = get_v1(st, req.m["id"])
    u = body_obj(req).get("product")
    if not isinstance(u, dict):
        raise validation_error("product", "product is required", "REQUIRED_FIELD")
    if u.get("id") not in (None, p["id"]):
        raise validation_error("product.id", "product.id does not match the path", "VALIDATION")
    v1_validate_fields(u, False)
    if "productType" in u and u["productType"] != p["productType"]:
        raise validation_error("product.productType", "productType cannot be changed", "VALIDATION")
    v1_apply(st, p, u)
    stamp(p, "lastUpdated")
    st.touch("v1", p["id"])
    return entity("product", st.obj_json("v1", p, True, V1_PROJ[True]))


def h_v1_delete(req):
    st = req.state
    require_catalog(st, "V1")
    p = get_v1(st, req.m["id"])
    st.remove("v1", p["id"])
    return {}


def h_v1_inventory_patch(req):
    st = req.state
    require_catalog(st, "V1")
    p = get_v1(st, req.m["productId"])
    it = body_obj(req).get("inventoryItem")
    if not isinstance(it, dict):
        raise validation_error("inventoryItem", "inventoryItem is required", "REQUIRED_FIELD")
    track = it.get("trackQuantity") is True  # omitted == false (applies to all variants)
    vmap = {v["id"]: v for v in p["variants"]}
    upd = {}
    for i, x in enumerate(it.get("variants") or []):
        vid = x.get("variantId") if isinstance(x, dict) else None
        if vid not in vmap:
            raise app_error(404, "VARIANT_NOT_FOUND", "Variant %s not found in product %s" % (vid, p["id"]))
        if track:
            q = x.get("quantity")
            if isinstance(q, bool) or not isinstance(q, int) or not (0 <= q <= 99999):
                raise validation_error("inventoryItem.variants[%d].quantity" % i, "quantity (0..99999) is required when trackQuantity is true",
                                       "REQUIRED_FIELD")
            upd[vid] = {"trackQuantity": True, "quantity": q, "inStock": q > 0}
        else:
            s = x.get("inStock")
            if not isinstance(s, bool):
                raise validation_error("inventoryItem.variants[%d].inStock" % i, "inStock is required when trackQuantity is false",
                                       "REQUIRED_FIELD")
            upd[vid] = {"trackQuantity": False, "inStock": s}
    for v in p["variants"]:
        if v["id"] in upd:
            v["stock"] = upd[v["id"]]
        else:
            old = v["stock"]
            if track and not old.get("trackQuantity"):
                v["stock"] = {"trackQuantity": True, "quantity": 0, "inStock": False}
            elif not track and old.get("trackQuantity"):
                v["stock"] = {"trackQuantity": False, "inStock": old.get("quantity", 0) > 0}
    p["stock"]["trackInventory"] = track
    D.v1_stock_summary(p)
    stamp(p, "lastUpdated")
    st.touch("v1", p["id"])
    return {}


def v1_inventory_delta(req, key, by_key, sign):
    st = req.state
    require_catalog(st, "V1")
    data = body_obj(req).get(key)
    if not isinstance(data, list) or not (1 <= len(data) <= 300):
        raise validation_error(key, "%s must contain 1..300 items" % key, "MAX_SIZE")
    inv_idx = {p["inventoryItemId"]: p for p in st.idx["v1"].values()}
    plan = []
    for i, x in enumerate(data):
        if not isinstance(x, dict):
            raise validation_error("%s[%d]" % (key, i), "Expected an object", "FORMAT")
        if x.get("productId") is not None:
            p = st.idx["v1"].get(x["productId"])
        else:
            p = inv_idx.get(x.get("inventoryId"))
        if p is None:
            raise app_error(404, "PRODUCT_NOT_FOUND", "Product %s not found" % (x.get("productId") or x.get("inventoryId")))
        vid = x.get("variantId") or D.DEFAULT_VARIANT_ID
        v = next((v for v in p["variants"] if v["id"] == vid), None)
        if v is None:
            raise app_error(404, "VARIANT_NOT_FOUND", "Variant %s not found in product %s" % (vid, p["id"]))
        n = x.get(by_key)
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise validation_error("%s[%d].%s" % (key, i, by_key), "%s must be a positive integer" % by_key, "MIN")
        if not v["stock"].get("trackQuantity"):
            raise app_error(428, "INVENTORY_NOT_TRACKED", "Variant %s of product %s does not track quantity" % (vid, p["id"]))
        plan.append((p, v, n * sign))
    # check totals before applying (atomic)
    totals = {}
    for p, v, d in plan:
        k = (p["id"], v["id"])
        totals[k] = totals.get(k, v["stock"].get("quantity", 0)) + d
        if totals[k] < 0:
            raise app_error(428, "INSUFFICIENT_INVENTORY", "Not enough stock for variant %s of product %s" % (v["id"], p["id"]))
        if totals[k] > 99999:
            raise validation_error(key, "quantity would exceed 99999", "MAX")
    for p, v, d in plan:
        v["stock"]["quantity"] = v["stock"].get("quantity", 0) + d
        v["stock"]["inStock"] = v["stock"]["quantity"] > 0
        D.v1_stock_summary(p)
        stamp(p, "lastUpdated")
        st.touch("v1", p["id"])
    return {}


def h_v1_increment(req):
    return v1_inventory_delta(req, "incrementData", "incrementBy", 1)


def h_v1_decrement(req):
    return v1_inventory_delta(req, "decrementData", "decrementBy", -1)


# ---------------------------------------------------------------- V3 changes (products, inventory items)
def check_revision(obj, rev, where, kind):
    if rev is None or rev == "":
        raise validation_error(where, "revision is required", "REQUIRED_FIELD")
    if str(rev) != obj["revision"]:
        raise app_error(409, "REVISION_MISMATCH",
                        "%s revision mismatch: sent %s, current is %s" % (kind, rev, obj["revision"]),
                        data={"currentRevision": obj["revision"]})


def v3_items_of(st, pid):
    return {it["variantId"]: it for it in st.idx["inv"].values() if it["productId"] == pid}


def v3_validate_variants(u, ptype, where="product.variantsInfo.variants"):
    vs = (u.get("variantsInfo") or {}).get("variants")
    if not isinstance(vs, list) or not vs:
        raise validation_error(where, "At least one variant is required", "REQUIRED_FIELD")
    if not u.get("options") and (len(vs) != 1 or vs[0].get("choices")):
        raise validation_error(where, "A product without options must have exactly one variant with empty choices", "VALIDATION")
    for i, v in enumerate(vs):
        if not isinstance(v, dict):
            raise validation_error("%s[%d]" % (where, i), "Expected an object", "FORMAT")
        a = ((v.get("price") or {}).get("actualPrice") or {}).get("amount")
        if a is None:
            raise validation_error("%s[%d].price.actualPrice.amount" % (where, i), "actualPrice is required", "REQUIRED_FIELD")
        if cents_of(a, "%s[%d].price.actualPrice.amount" % (where, i)) < 0:
            raise validation_error("%s[%d].price.actualPrice.amount" % (where, i), "price must not be negative", "MIN")
    return vs


def v3_build_variant(v, ptype, cur, old=None):
    out = copy.deepcopy(old) if old else {}
    out["id"] = (old or {}).get("id") or v.get("id") or new_id()
    out["visible"] = v.get("visible", out.get("visible", True))
    out["choices"] = copy.deepcopy(v.get("choices") or [])
    for k in ("sku", "barcode"):
        if k in v:
            out[k] = v[k]
    pr = v["price"]
    out["price"] = {"actualPrice": D.price(cents_of(pr["actualPrice"]["amount"], "price"), cur)}
    if isinstance(pr.get("compareAtPrice"), dict) and pr["compareAtPrice"].get("amount") is not None:
        out["price"]["compareAtPrice"] = D.price(cents_of(pr["compareAtPrice"]["amount"], "compareAtPrice"), cur)
    if ptype == "PHYSICAL":
        out["physicalProperties"] = copy.deepcopy(v.get("physicalProperties") or out.get("physicalProperties") or {})
    return out


V3_SIMPLE = ("name", "visible", "visibleInPos", "plainDescription", "description", "brand", "ribbon", "mainCategoryId",
             "physicalProperties", "options", "modifiers", "tags", "extendedFields")


def v3_validate_common(u, creating):
    if creating or "name" in u:
        n = u.get("name")
        if not isinstance(n, str) or not (1 <= len(n) <= 80):
            raise validation_error("product.name", "name must be 1..80 characters", "REQUIRED_FIELD")
    for k in ("visible", "visibleInPos"):
        if k in u:
            check_type(u[k], bool, "product." + k, "a boolean")
    if "slug" in u:
        check_type(u["slug"], str, "product.slug", "a string")


def v3_product_response(st, p, fields):
    return entity("product", st.obj_json("v3", p, ("g",) + fields, v3_proj(fields, True)))


def h_v3_create(req):
    st = req.state
    require_catalog(st, "V3")
    b = body_obj(req)
    u = b.get("product")
    if not isinstance(u, dict):
        raise validation_error("product", "product is required", "REQUIRED_FIELD")
    fields = v3_fields(b.get("fields"))
    return v3_product_response(st, v3_create(st, u), fields)


def v3_create(st, u):
    """A new V3 product from the create body's product u; raises ApiError."""
    v3_validate_common(u, True)
    pt = u.get("productType")
    if pt not in ("PHYSICAL", "DIGITAL"):
        raise validation_error("product.productType", "productType must be PHYSICAL or DIGITAL", "REQUIRED_FIELD")
    if pt == "PHYSICAL" and not isinstance(u.get("physicalProperties"), dict):
        raise validation_error("product.physicalProperties", "physicalProperties is required for PHYSICAL products", "REQUIRED_FIELD")
    vs = v3_validate_variants(u, pt)
    now = iso_ms(unique_now_ms())
    slugs = set(x["slug"] for x in st.idx["v3"].values())
    slug = unique_slug(slugs, u.get("slug") or D.slugify(u["name"]))
    p = {"id": new_id(), "revision": "1", "createdDate": now, "updatedDate": now, "name": u["name"], "slug": slug,
         "handle": "Stores_Handle_%s" % new_id()[:8], "visible": True, "visibleInPos": True, "productType": pt,
         "inventory": {"preorderStatus": "DISABLED"}, "currency": "USD",
         "url": {"relativePath": "/product-page/" + slug, "url": D.SITE_URL + "/product-page/" + slug},
         "options": [], "modifiers": []}
    for k in V3_SIMPLE:
        if k in u and k != "name":
            p[k] = copy.deepcopy(u[k])
    p["variantsInfo"] = {"variants": [v3_build_variant(v, pt, "USD") for v in vs]}
    items = {}
    for v in p["variantsInfo"]["variants"]:
        it = D.new_inventory_item(new_id(), p, v, now, in_stock=True)
        items[v["id"]] = it
        st.add("inv", it)
    D.v3_recompute(p, items)
    st.add("v3", p)
    st.touch("v3s")
    return p


def h_v3_update(req):
    st = req.state
    require_catalog(st, "V3")
    p = get_v3(st, req.m["id"])
    b = body_obj(req)
    u = b.get("product")
    if not isinstance(u, dict):
        raise validation_error("product", "product is required", "REQUIRED_FIELD")
    fields = v3_fields(b.get("fields"))
    if u.get("id") not in (None, p["id"]):
        raise validation_error("product.id", "product.id does not match the path", "VALIDATION")
    return v3_product_response(st, v3_update(st, p, u), fields)


def v3_update(st, p, u):
    """Product p changed by the update body's product u; raises ApiError."""
    check_revision(p, u.get("revision"), "product.revision", "Product")
    v3_validate_common(u, False)
    if "productType" in u and u["productType"] != p["productType"]:
        raise validation_error("product.productType", "productType is immutable", "VALIDATION")
    items = v3_items_of(st, p["id"])
    if "variantsInfo" in u:
        merged = dict(u)
        merged.setdefault("options", p.get("options"))
        vs = v3_validate_variants(merged, p["productType"])
        old = {v["id"]: v for v in p["variantsInfo"]["variants"]}
        newvs = [v3_build_variant(v, p["productType"], p.get("currency", "USD"), old.get(v.get("id"))) for v in vs]
        keep = set(v["id"] for v in newvs)
        for vid, it in list(items.items()):
            if vid not in keep:
                st.remove("inv", it["id"])
                del items[vid]
        for v in newvs:
            if v["id"] not in items:
                it = D.new_inventory_item(new_id(), p, v, iso_ms(unique_now_ms()), in_stock=True)
                items[v["id"]] = it
                st.add("inv", it)
        p["variantsInfo"] = {"variants": newvs}
    for k in V3_SIMPLE:
        if k in u:
            if u[k] is None:
                p.pop(k, None)
            else:
                p[k] = copy.deepcopy(u[k])
    if u.get("slug"):
        p["slug"] = u["slug"]
        p["url"] = {"relativePath": "/product-page/" + p["slug"], "url": D.SITE_URL + "/product-page/" + p["slug"]}
    D.v3_recompute(p, items)
    for it in items.values():
        it["product"]["name"] = p["name"]
        st.touch("inv", it["id"])
    bump(p)
    st.touch("v3", p["id"])
    st.touch("v3s")
    return p


def h_v3_delete(req):
    st = req.state
    require_catalog(st, "V3")
    v3_delete(st, get_v3(st, req.m["id"]))
    return {}


def v3_delete(st, p):
    for it in list(v3_items_of(st, p["id"]).values()):
        st.remove("inv", it["id"])
    st.remove("v3", p["id"])
    st.touch("v3s")


def v3_bulk_request(req, key, most):
    """(state, body, entries) of a V3 bulk call: 1..most entries in body[key], else 400."""
    st = req.state
    require_catalog(st, "V3")
    b = body_obj(req)
    data = b.get(key)
    if not isinstance(data, list) or not (1 <= len(data) <= most):
        raise validation_error(key, "%s must contain 1..%d items" % (key, most), "MAX_SIZE")
    return st, b, data


def v3_bulk(req, key, one, wire):
    """A V3 bulk products call: 1..100 entries of body[key], each done by one(st, entry) -> product
    (breadth.md §13)."""
    st, b, data = v3_bulk_request(req, key, 100)
    fields = v3_fields(b.get("fields")) if wire else ()
    item = None
    if b.get("returnEntity") is True:
        def item(p):
            return json.loads(st.obj_json("v3", p, ("g",) + fields, v3_proj(fields, True)))
    return bulk_results(data, lambda x: one(st, x), item)


def bulk_create_one(st, x):
    if not isinstance(x, dict):
        raise validation_error("products", "Expected an object", "FORMAT")
    return v3_create(st, x)


def bulk_update_one(st, x):
    u = x.get("product") if isinstance(x, dict) else None
    if not isinstance(u, dict) or not isinstance(u.get("id"), str):
        raise validation_error("products.product.id", "product.id is required", "REQUIRED_FIELD")
    p = st.idx["v3"].get(u["id"])
    if p is None:
        raise app_error(404, "PRODUCT_NOT_FOUND", "Product %s not found" % u["id"])
    return v3_update(st, p, u)


def bulk_delete_one(st, pid):
    p = st.idx["v3"].get(pid) if isinstance(pid, str) else None
    if p is None:
        raise app_error(404, "PRODUCT_NOT_FOUND", "Product %s not found" % (pid,))
    v3_delete(st, p)
    return {"id": pid}


def h_v3_bulk_create(req):
    return v3_bulk(req, "products", bulk_create_one, True)


def h_v3_bulk_update(req):
    return v3_bulk(req, "products", bulk_update_one, True)


def h_v3_bulk_delete(req):
    return v3_bulk(req, "productIds", bulk_delete_one, False)


def inv_set_qty(it, quantity=None, in_stock=None):
    if quantity is not None:
        it["quantity"] = quantity
        it["trackQuantity"] = True
        it.pop("inStock", None)
        it["availabilityStatus"] = "IN_STOCK" if quantity > 0 else "OUT_OF_STOCK"
    else:
        it["inStock"] = in_stock
        it["trackQuantity"] = False
        it.pop("quantity", None)
        it["availabilityStatus"] = "IN_STOCK" if in_stock else "OUT_OF_STOCK"


def inv_changed(st, it):
    bump(it)
    st.touch("inv", it["id"])
    p = st.idx["v3"].get(it["productId"])
    if p is not None:
        D.v3_recompute(p, v3_items_of(st, p["id"]))
        st.touch("v3", p["id"])
        st.touch("v3s")


def h_inv_update(req):
    st = req.state
    require_catalog(st, "V3")
    it = get_inv(st, req.m["id"])
    b = body_obj(req)
    u = b.get("inventoryItem")
    if not isinstance(u, dict):
        raise validation_error("inventoryItem", "inventoryItem is required", "REQUIRED_FIELD")
    if u.get("id") not in (None, it["id"]):
        raise validation_error("inventoryItem.id", "inventoryItem.id does not match the path", "VALIDATION")
    if b.get("reason") is not None and b["reason"] not in ("UNKNOWN", "ORDER", "MANUAL", "REVERT_INVENTORY_CHANGE"):
        raise validation_error("reason", "Invalid reason", "VALIDATION")
    check_revision(it, u.get("revision"), "inventoryItem.revision", "Inventory item")
    if "quantity" in u and "inStock" in u:
        raise validation_error("inventoryItem.quantity", "quantity and inStock are mutually exclusive", "VALIDATION")
    if "quantity" in u:
        q = u["quantity"]
        if isinstance(q, bool) or not isinstance(q, int) or not (-99999 <= q <= 99999):
            raise validation_error("inventoryItem.quantity", "quantity must be an integer in -99999..99999", "FORMAT")
        inv_set_qty(it, quantity=q)
    elif "inStock" in u:
        check_type(u["inStock"], bool, "inventoryItem.inStock", "a boolean")
        inv_set_qty(it, in_stock=u["inStock"])
    if isinstance(u.get("preorderInfo"), dict):
        it["preorderInfo"] = copy.deepcopy(u["preorderInfo"])
    inv_changed(st, it)
    return entity("inventoryItem", st.wire("inv", it))


def v3_bulk_delta(req, key, by_key, sign):
    st, b, data = v3_bulk_request(req, key, 300)
    for i, x in enumerate(data):
        n = x.get(by_key) if isinstance(x, dict) else None
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise validation_error("%s[%d].%s" % (key, i, by_key), "%s must be a positive integer" % by_key, "MIN")
        if not isinstance(x.get("inventoryItemId"), str):
            raise validation_error("%s[%d].inventoryItemId" % (key, i), "inventoryItemId is required", "REQUIRED_FIELD")
    restrict = b.get("restrictInventory", True) is not False
    ret = b.get("returnEntity") is True
    results = []
    ok = bad = 0
    for i, x in enumerate(data):
        iid = x["inventoryItemId"]
        it = st.idx["inv"].get(iid)
        meta = {"id": iid, "originalIndex": i, "success": False}
        err = None
        if it is None:
            err = ("INVENTORY_ITEM_NOT_FOUND", "Inventory item %s not found" % iid)
        elif not it.get("trackQuantity"):
            err = ("INVENTORY_ITEM_NOT_TRACKING_QUANTITY", "Inventory item %s does not track quantity" % iid)
        else:
            newq = it["quantity"] + sign * x[by_key]
            if sign < 0 and restrict and newq < 0:
                err = ("INSUFFICIENT_INVENTORY", "Inventory item %s has only %d in stock" % (iid, it["quantity"]))
            elif not (-99999 <= newq <= 99999):
                err = ("QUANTITY_OUT_OF_RANGE", "Resulting quantity out of range")
        entry = {"itemMetadata": meta}
        if err:
            meta["error"] = {"code": err[0], "description": err[1]}
            bad += 1
        else:
            inv_set_qty(it, quantity=newq)
            inv_changed(st, it)
            meta["success"] = True
            ok += 1
            if ret:
                entry["item"] = copy.deepcopy(it)
        results.append(entry)
    return {"results": results, "bulkActionMetadata": {"totalSuccesses": ok, "totalFailures": bad, "undetailedFailures": 0}}


def h_inv_increment(req):
    return v3_bulk_delta(req, "incrementData", "incrementBy", 1)


def h_inv_decrement(req):
    return v3_bulk_delta(req, "decrementData", "decrementBy", -1)
