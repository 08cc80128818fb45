#!/usr/bin/python3
"""Wix REST API emulator (stdlib only) for the wix_admin PostgreSQL extension tests.

Usage: wix_emulator.py [--port 0] [--seed 1] [--orders N] [--members N] [--products N]
                       [--bookings N] [--catalog V1|V3|NONE] [--verbose] ...
The first line printed on stdout is the port number.
See README.md and PROTOCOL_CHOICES.md in this directory.
"""
import argparse
import base64
import collections
import copy
import json
import math
import os
import re
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit, unquote

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import emu_data as D  # noqa: E402
from emu_wql import (F, spec, QueryError, compile_filter, parse_sort, sort_items, first_index,  # noqa: E402
                     jsonable_key, key_from_json, encode_cursor, decode_cursor, filter_names_value,
                     iso_ms, OPS_EQ, ALL_STR, ALL_NUM, ALL_DATE, ALL_BOOL)

# ====================================================================== errors


class ApiError(Exception):
    def __init__(self, status, body, headers=None):
        super().__init__(str(body))
        self.status = status
        self.body = body
        self.headers = headers or {}


def app_error(status, code, message, description=None, data=None):
    return ApiError(status, {"message": message, "details": {"applicationError": {
        "code": code, "description": description or message, "data": data or {}}}})


def validation_error(field, description, rule="VALIDATION", message=None):
    return ApiError(400, {"message": message or description, "details": {"validationError": {"fieldViolations": [
        {"field": field, "description": description, "violatedRule": rule, "data": {}}]}}})


def from_query_error(e):
    return validation_error(e.field, e.description, e.rule, e.message)


def now_iso():
    return iso_ms(int(time.time() * 1000))


_last_now = [0]
_now_lock = threading.Lock()


def unique_now_ms():
    """Wall-clock ms, strictly increasing across calls (keeps created dates distinct)."""
    with _now_lock:
        t = int(time.time() * 1000)
        if t <= _last_now[0]:
            t = _last_now[0] + 1
        _last_now[0] = t
        return t


def new_id():
    return str(uuid.uuid4())


def cents_of(amount, field):
    """Decimal string/number -> integer cents; raises validation error."""
    try:
        if isinstance(amount, bool):
            raise ValueError
        s = str(amount).strip()
        if not re.match(r"^-?\d+(\.\d+)?$", s):
            raise ValueError
        whole, _, frac = s.partition(".")
        if len(frac) > 2 and frac[2:].strip("0"):
            raise ValueError
        v = abs(int(whole)) * 100 + int((frac + "00")[:2])
        return -v if s.startswith("-") else v
    except (ValueError, TypeError):
        raise validation_error(field, "Invalid decimal amount '%s'" % (amount,), "FORMAT")


# ====================================================================== field specs
EQ4 = OPS_EQ
EQ3 = frozenset(("$eq", "$ne", "$in"))
CMP6 = frozenset(("$eq", "$ne", "$gt", "$lt", "$gte", "$lte"))
HAS = frozenset(("$hasSome", "$hasAll"))

ORDER_SPEC = spec(
    F("id", "str", EQ4), F("buyerInfo.contactId", "str", EQ4), F("buyerInfo.memberId", "str", EQ4),
    F("checkoutId", "str", EQ4), F("createdBy.userId", "str", EQ4), F("channelInfo.externalOrderId", "str", EQ4),
    F("status", "enum", EQ4, True), F("paymentStatus", "enum", EQ4, True), F("fulfillmentStatus", "enum", EQ4, True),
    F("channelInfo.type", "enum", EQ4, True), F("shippingInfo.title", "str", EQ4, True),
    F("shippingInfo.region.name", "str", EQ4, True),
    F("number", "num", CMP6, True), F("updatedDate", "date", CMP6, True),
    F("createdDate", "date", CMP6 | {"$nin"}, True),
    F("archived", "bool", ("$eq", "$ne", "$in", "$exists")), F("seenByAHuman", "bool", ("$eq", "$ne", "$in", "$exists")),
    F("imported", "bool", ("$eq", "$ne", "$in", "$exists")),
    F("buyerInfo.email", "str", ("$eq", "$ne", "$in", "$exists", "$startsWith"), True),
    F("priceSummary.total.amount", "num", ALL_NUM, True), F("purchasedDate", "date", ALL_DATE, True),
    F("billingInfo.contactDetails.firstName", "str", ALL_STR, True),
    F("billingInfo.contactDetails.lastName", "str", ALL_STR, True),
    F("businessLocation.id", "str", ALL_STR, True), F("taxInfo.totalTax.amount", "num", ALL_NUM, True),
    F("balanceSummary.authorized.amount", "num", ALL_NUM, True), F("balanceSummary.pending.amount", "num", ALL_NUM, True),
    F("balanceSummary.pendingRefund.amount", "num", ALL_NUM, True),
    F("shippingInfo.logistics.deliveryTime", "str", ALL_STR, True),
    F("lineItems.productName.original", "arr", HAS, True), F("fulfillmentStatusesAggregate.statuses", "arr", HAS, True),
    F("lineItems.catalogReference.appId", "arr", HAS), F("lineItems.catalogReference.catalogItemId", "arr", HAS),
    F("lineItems.locations.id", "arr", HAS), F("appliedDiscounts.coupon.id", "arr", HAS),
)

M_OPS = ("$eq", "$ne", "$exists", "$in", "$hasSome", "$startsWith", "$gt", "$gte", "$lt", "$lte")
MEMBER_SPEC = spec(
    F("id", "str", M_OPS), F("loginEmail", "str", M_OPS), F("status", "enum", M_OPS), F("contactId", "str", M_OPS),
    F("contact.firstName", "str", M_OPS, True), F("contact.lastName", "str", M_OPS, True),
    F("profile.nickname", "str", M_OPS, True), F("profile.slug", "str", M_OPS), F("privacyStatus", "enum", M_OPS),
    F("createdDate", "date", (), True, filterable=False), F("updatedDate", "date", (), True, filterable=False),
    F("lastLoginDate", "date", (), True, filterable=False),
)
MEMBER_SEARCH_FIELDS = ("loginEmail", "contact.firstName", "contact.lastName", "profile.title", "profile.nickname", "profile.slug")

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
)

B_DATE = ("$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin")
BOOKING_SPEC = spec(
    F("id", "str", EQ3, True), F("status", "enum", EQ3), F("paymentStatus", "enum", EQ3),
    F("selectedPaymentOption", "enum", EQ3), F("contactDetails.contactId", "str", EQ3),
    F("contactDetails.email", "str", EQ3), F("externalUserId", "str", EQ3),
    F("createdDate", "date", B_DATE, True), F("startDate", "date", B_DATE, True), F("endDate", "date", B_DATE, True),
    F("updatedDate", "date", B_DATE, True), F("doubleBooked", "bool", ("$eq", "$ne")),
    F("bookedEntity.tags", "arr", HAS),
    F("bookedEntity.item.slot.serviceId", "str", EQ3, path="bookedEntity.slot.serviceId"),
    F("bookedEntity.item.slot.scheduleId", "str", EQ3, path="bookedEntity.slot.scheduleId"),
    F("bookedEntity.item.slot.sessionId", "str", EQ3, path="bookedEntity.slot.sessionId"),
    F("bookedEntity.item.slot.eventId", "str", EQ3, path="bookedEntity.slot.eventId"),
    F("bookedEntity.item.slot.resource.id", "str", EQ3, path="bookedEntity.slot.resource.id"),
    F("bookedEntity.item.schedule.scheduleId", "str", EQ3, path="bookedEntity.schedule.scheduleId"),
    F("bookedEntity.item.schedule.serviceId", "str", EQ3, path="bookedEntity.schedule.serviceId"),
)

# ====================================================================== state


COLL_ALIAS = {"v3s": "v3"}


def dumps(o):
    return json.dumps(o, ensure_ascii=False, separators=(",", ":"))


class State:
    def __init__(self, args):
        self.args = args
        self.lock = threading.RLock()
        self.log_lock = threading.Lock()
        self.seq = 0
        self.log = collections.deque(maxlen=200000)
        self.faults = []
        self.tokens = {}
        self.cursor_store = collections.OrderedDict()
        self.rate_window = collections.deque()
        self.token_ttl = args.token_ttl
        self.rate_limit = args.rate_limit
        self.load()

    # ---------------------------------------------------------------- data
    def load(self):
        a = self.args
        with self.lock:
            self.members = D.gen_members(a.seed, a.members)
            self.v1 = []
            self.v3 = []
            self.inv = []
            if a.catalog == "V1":
                self.v1 = D.gen_products_v1(a.seed, a.products)
                catalog = self.v1
            elif a.catalog == "V3":
                self.v3, self.inv = D.gen_products_v3(a.seed, a.products)
                catalog = self.v3
            else:
                catalog = []
            self.orders, self.txns, self.fuls = D.gen_orders(a.seed, a.orders, self.members, catalog)
            self.bookings, self.services, self.staff = D.gen_bookings(a.seed, a.bookings, self.members)
            self.idx = {}
            for kind, lst in (("orders", self.orders), ("members", self.members), ("v1", self.v1),
                              ("v3", self.v3), ("inv", self.inv), ("bookings", self.bookings)):
                self.idx[kind] = {o["id"]: o for o in lst}
            self.ver = collections.defaultdict(int)
            self.qcache = collections.OrderedDict()
            self.jcache = collections.defaultdict(dict)

    def coll(self, kind):
        return self.idx[kind]

    def touch(self, kind, oid=None):
        """Call after mutating an object (or the collection)."""
        self.ver[kind] += 1
        if oid is not None:
            self.jcache[kind].pop(oid, None)
        else:
            self.jcache[kind].clear()

    def add(self, kind, obj):
        self.idx[kind][obj["id"]] = obj
        self.touch(kind, obj["id"])

    def remove(self, kind, oid):
        self.idx[kind].pop(oid, None)
        self.touch(kind, oid)

    def obj_json(self, kind, obj, variant, proj):
        c = self.jcache[kind].get(obj["id"])
        if c is None:
            c = self.jcache[kind][obj["id"]] = {}
        s = c.get(variant)
        if s is None:
            s = c[variant] = dumps(proj(obj))
        return s

    def sorted_matches(self, kind, filt, sort_raw, extra, pred, sort_fields):
        key = (kind, dumps(filt), dumps(sort_raw), dumps(extra))
        base = COLL_ALIAS.get(kind, kind)
        v = self.ver[base]
        hit = self.qcache.get(key)
        if hit is not None and hit[0] == v:
            self.qcache.move_to_end(key)
            return hit[1], hit[2]
        objs = self.idx[base].values()
        items = [o for o in objs if pred(o)] if pred else list(objs)
        items, keys = sort_items(items, sort_fields)
        self.qcache[key] = (v, items, keys)
        if len(self.qcache) > 64:
            self.qcache.popitem(last=False)
        return items, keys

    # ---------------------------------------------------------------- cursors
    CURSOR_INLINE_MAX = 4000

    def cursor_make(self, obj):
        """Self-contained base64url cursor; big ones (huge filters) are kept server-side."""
        c = encode_cursor(obj)
        if len(c) <= self.CURSOR_INLINE_MAX:
            return c
        ref = encode_cursor({"ref": uuid.uuid4().hex})
        self.cursor_store[ref] = obj
        if len(self.cursor_store) > 20000:
            self.cursor_store.popitem(last=False)
        return ref

    def cursor_load(self, s):
        if s in self.cursor_store:
            return self.cursor_store[s]
        obj = decode_cursor(s)
        if "ref" in obj:
            raise ValueError("expired cursor")
        return obj

    # ---------------------------------------------------------------- tokens
    def mint(self):
        tok = "OauthNG.JWS." + base64.urlsafe_b64encode(os.urandom(48)).decode().rstrip("=")
        ttl = self.token_ttl
        with self.lock:
            self.tokens[tok] = (time.time() + ttl, int(time.time()))
        return tok, ttl

    def token_state(self, tok):
        t = self.tokens.get(tok)
        if t is None:
            return None
        return "valid" if time.time() < t[0] else "expired"


# ====================================================================== request plumbing
class Req:
    __slots__ = ("method", "path", "params", "body", "raw", "m", "headers", "state")

    def param(self, name, default=None):
        v = self.params.get(name)
        return v[-1] if v else default

    def params_list(self, name):
        return self.params.get(name, [])


def decode_dot_r(params):
    r = params.get(".r")
    if not r:
        return None
    s = r[-1]
    try:
        return json.loads(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)).decode())
    except Exception:
        raise validation_error(".r", "Malformed .r parameter", "FORMAT")


def body_or_r(req):
    """POST JSON body, or for GET the SDK's base64url `.r` query parameter."""
    if req.method == "GET":
        d = decode_dot_r(req.params)
        return d if isinstance(d, dict) else {}
    return req.body if isinstance(req.body, dict) else {}


def need_obj(d, key, where=None):
    v = d.get(key)
    if v is None:
        return {}
    if not isinstance(v, dict):
        raise validation_error(where or key, "Expected an object", "FORMAT")
    return v


def get_limit(paging, where, default, maximum):
    lim = paging.get("limit")
    if lim is None:
        return default
    if isinstance(lim, bool) or not isinstance(lim, (int, float, str)):
        raise validation_error(where, "limit must be an integer", "FORMAT")
    try:
        lim = int(lim)
    except ValueError:
        raise validation_error(where, "limit must be an integer", "FORMAT")
    if lim > maximum:
        raise validation_error(where, "Must be less than or equal to %d" % maximum, "MAX")
    if lim < 0:
        raise validation_error(where, "Must be greater than or equal to 0", "MIN")
    return lim or default


def get_offset(paging, where):
    off = paging.get("offset", 0)
    if off is None:
        return 0
    try:
        if isinstance(off, bool):
            raise ValueError
        off = int(off)
    except (ValueError, TypeError):
        raise validation_error(where, "offset must be an integer", "FORMAT")
    if off < 0:
        raise validation_error(where, "Must be greater than or equal to 0", "MIN")
    return off


# ====================================================================== generic query engines
def run_cursor_query(st, kind, *, filt, sort_raw, extra, cursor, limit, spec_, max_sort, default_sort,
                     where, pred_factory=None, nf_msg="Field '%s' is not declared as filterable",
                     ns_msg="Field '%s' is not declared as sortable"):
    """Cursor paging. Returns (page, next_cursor, prev_cursor)."""
    direction = "n"
    key = None
    if cursor is not None:
        try:
            c = st.cursor_load(cursor)
            if c.get("k") != kind:
                raise ValueError("kind")
            filt, sort_raw, extra = c.get("f"), c.get("s"), c.get("x")
            direction = c.get("a", "n")
            key = key_from_json(c["key"])
        except Exception:
            raise validation_error(where + ".cursorPaging.cursor", "Invalid cursor", "FORMAT")
    try:
        pred = compile_filter(filt, spec_, "filter", nf_msg)
        sf = parse_sort(sort_raw, spec_, "sort", max_sort, ns_msg)
    except QueryError as e:
        raise from_query_error(e)
    if not sf:
        sf = default_sort
    preds = [p for p in (pred, pred_factory(filt, extra) if pred_factory else None) if p]
    if len(preds) == 2:
        p0, p1 = preds
        full = lambda o: p0(o) and p1(o)  # noqa: E731
    else:
        full = preds[0] if preds else None
    items, keys = st.sorted_matches(kind, filt, sort_raw, extra, full, sf)
    dirs = [d for _, d in sf]
    if key is None:
        start = 0
        end = min(len(items), limit)
    elif direction == "p":
        end = first_index(keys, key, dirs, strict=False)
        start = max(0, end - limit)
    else:
        start = first_index(keys, key, dirs, strict=True)
        end = min(len(items), start + limit)
    page = items[start:end]
    base = {"k": kind, "f": filt, "s": sort_raw, "x": extra}
    nxt = prv = None
    if end < len(items) and page:
        nxt = st.cursor_make(dict(base, a="n", key=jsonable_key(keys[end - 1])))
    if start > 0 and page:
        prv = st.cursor_make(dict(base, a="p", key=jsonable_key(keys[start])))
    return page, nxt, prv


def run_offset_query(st, kind, *, filt, sort_raw, extra, spec_, default_sort, pred_extra=None,
                     max_sort=None, nf_msg="Field '%s' is not declared as filterable",
                     ns_msg="Field '%s' is not declared as sortable", sort_where="sort"):
    try:
        pred = compile_filter(filt, spec_, "filter", nf_msg)
        sf = parse_sort(sort_raw, spec_, sort_where, max_sort, ns_msg)
    except QueryError as e:
        raise from_query_error(e)
    if not sf:
        sf = default_sort
    if pred and pred_extra:
        full = lambda o: pred(o) and pred_extra(o)  # noqa: E731
    else:
        full = pred or pred_extra
    return st.sorted_matches(kind, filt, sort_raw, extra, full, sf)[0]


def join_json(parts):
    return "[" + ",".join(parts) + "]"


class Raw:
    """Pre-serialised JSON body."""
    __slots__ = ("s",)

    def __init__(self, s):
        self.s = s


# ====================================================================== handlers: auth
def h_token(req):
    st = req.state
    b = req.body
    if not isinstance(b, dict):
        raise app_error(400, "INVALID_REQUEST", "invalid_request: expected a JSON object body")

    def g(*names):
        for n in names:
            if n in b and b[n] is not None:
                return b[n]
        return None
    grant = g("grant_type", "grantType")
    cid = g("client_id", "clientId")
    sec = g("client_secret", "clientSecret")
    if grant is None or cid is None or sec is None:
        raise app_error(400, "INVALID_REQUEST", "invalid_request: grant_type, client_id and client_secret are required")
    if grant != "client_credentials":
        raise app_error(400, "UNSUPPORTED_GRANT_TYPE", "unsupported_grant_type: %s" % grant)
    if cid != st.args.client_id or sec != st.args.client_secret:
        raise app_error(401, "INVALID_CLIENT", "invalid_client: client authentication failed")
    tok, ttl = st.mint()
    return {"access_token": tok, "token_type": "Bearer", "expires_in": ttl}


def h_token_info(req):
    st = req.state
    b = req.body if isinstance(req.body, dict) else {}
    tok = b.get("token")
    if not isinstance(tok, str):
        raise validation_error("token", "token is required", "REQUIRED_FIELD")
    t = st.tokens.get(tok)
    if t is None or time.time() >= t[0]:
        return {"active": False}
    return {"active": True, "subjectType": "APP", "subjectId": st.args.client_id, "exp": str(int(t[0])), "iat": str(t[1]),
            "clientId": st.args.client_id, "accountId": st.args.account_id, "siteId": st.args.site_id,
            "instanceId": st.args.instance_id}


# ====================================================================== handlers: orders
def order_visible_factory(filt, extra):
    named = {s for s in ("PENDING", "REJECTED") if filter_names_value(filt, "status", s)}

    def p(o):
        s = o.get("status")
        if s == "INITIALIZED":
            return False
        if s in ("PENDING", "REJECTED") and s not in named:
            return False
        return True
    return p


ORDER_DEFAULT_SORT = [(ORDER_SPEC["createdDate"], True)]


def h_orders_search(req):
    st = req.state
    b = req.body if isinstance(req.body, dict) else {}
    s = need_obj(b, "search")
    if "paging" in s:
        raise validation_error("search.paging", "Offset paging is not supported; use cursorPaging", "OTHER")
    cp = need_obj(s, "cursorPaging", "search.cursorPaging")
    limit = get_limit(cp, "search.cursorPaging.limit", 100, 100)
    cursor = cp.get("cursor") or None
    page, nxt, prv = run_cursor_query(
        st, "orders", filt=s.get("filter"), sort_raw=s.get("sort"), extra=None, cursor=cursor, limit=limit,
        spec_=ORDER_SPEC, max_sort=4, default_sort=ORDER_DEFAULT_SORT, where="search",
        pred_factory=order_visible_factory)
    parts = [st.obj_json("orders", o, "w", lambda x: x) for o in page]
    cur = {}
    if nxt:
        cur["next"] = nxt
    cur["prev"] = prv
    meta = {"count": len(page), "cursors": cur, "hasNext": nxt is not None}
    return Raw('{"orders":%s,"metadata":%s}' % (join_json(parts), dumps(meta)))


def get_order(st, oid):
    o = st.idx["orders"].get(oid)
    if o is None:
        raise app_error(404, "ORDER_NOT_FOUND", "Order %s not found" % oid)
    return o


def h_order_get(req):
    o = get_order(req.state, req.m["id"])
    return Raw('{"order":%s}' % req.state.obj_json("orders", o, "w", lambda x: x))


# ====================================================================== handlers: members
FIELDSET_LEVEL = {"PUBLIC": 1, "EXTENDED": 2, "FULL": 3}


def fieldset_level(fs, where="fieldsets"):
    if fs is None:
        return 1
    if isinstance(fs, str):
        fs = [fs]
    if not isinstance(fs, list):
        raise validation_error(where, "fieldsets must be an array", "FORMAT")
    if len(fs) > 3:
        raise validation_error(where, "At most 3 fieldsets", "MAX_SIZE")
    lvl = 1
    for f in fs:
        if f not in FIELDSET_LEVEL:
            raise validation_error(where, "Unknown fieldset '%s'" % (f,), "VALIDATION")
        lvl = max(lvl, FIELDSET_LEVEL[f])
    return lvl


def member_proj(level):
    def p(m):
        if level >= 3:
            return m
        out = {"id": m["id"]}
        if level >= 2 and "loginEmail" in m:
            out["loginEmail"] = m["loginEmail"]
        for k in ("status", "contactId", "privacyStatus", "activityStatus", "profile", "createdDate", "updatedDate"):
            if k in ("status", "privacyStatus", "activityStatus"):
                out[k] = m.get(k, "UNKNOWN") if level >= 2 else "UNKNOWN"
            elif k in m:
                out[k] = m[k]
        return out
    return p


MEMBER_PROJ = {lvl: member_proj(lvl) for lvl in (1, 2, 3)}
MEMBER_DEFAULT_SORT = [(MEMBER_SPEC["createdDate"], True)]


def member_search_pred(search):
    if search is None:
        return None
    if not isinstance(search, dict):
        raise validation_error("search", "search must be an object", "FORMAT")
    expr = search.get("expression")
    if not isinstance(expr, str) or not (1 <= len(expr) <= 100):
        raise validation_error("search.expression", "expression must be 1..100 characters", "MAX_LENGTH")
    fields = search.get("fields") or ["profile.nickname"]
    if not isinstance(fields, list) or len(fields) > 4:
        raise validation_error("search.fields", "At most 4 search fields", "MAX_SIZE")
    getters = []
    for f in fields:
        if f not in MEMBER_SEARCH_FIELDS:
            raise validation_error("search.fields", "Field '%s' is not searchable" % (f,), "VALIDATION")
        getters.append(F(f, "str", ()).get)
    e = expr.lower()
    return lambda m: any(isinstance(v, str) and e in v.lower() for v in (g(m) for g in getters))


def h_members_query(req, q=None, fieldsets=None):
    st = req.state
    b = body_or_r(req) if q is None else {}
    if q is None:
        q = need_obj(b, "query")
        fieldsets = b.get("fieldsets")
    if "cursorPaging" in q:
        raise validation_error("query.cursorPaging", "Cursor paging is not supported; use paging", "OTHER")
    paging = need_obj(q, "paging", "query.paging")
    limit = get_limit(paging, "query.paging.limit", 100, 100)
    offset = get_offset(paging, "query.paging.offset")
    lvl = fieldset_level(fieldsets)
    sorting = q.get("sorting") if q.get("sorting") is not None else q.get("sort")
    search = b.get("search") if isinstance(b, dict) else None
    items = run_offset_query(st, "members", filt=q.get("filter"), sort_raw=sorting, extra={"search": search},
                             spec_=MEMBER_SPEC, default_sort=MEMBER_DEFAULT_SORT,
                             pred_extra=member_search_pred(search), sort_where="query.sorting")
    page = items[offset:offset + limit]
    proj = MEMBER_PROJ[lvl]
    parts = [st.obj_json("members", m, lvl, proj) for m in page]
    meta = {"count": len(page), "offset": offset, "total": len(items), "tooManyToCount": False}
    return Raw('{"members":%s,"metadata":%s}' % (join_json(parts), dumps(meta)))


def h_members_list(req):
    """GET /members/v1/members (SDK sends .r; flat params also accepted)."""
    d = decode_dot_r(req.params) or {}
    paging = d.get("paging") or {}
    if req.param("paging.limit") is not None:
        paging["limit"] = req.param("paging.limit")
    if req.param("paging.offset") is not None:
        paging["offset"] = req.param("paging.offset")
    fs = d.get("fieldsets") or req.params_list("fieldsets") or None
    q = {"paging": paging}
    if d.get("sorting"):
        q["sorting"] = d["sorting"] if isinstance(d["sorting"], list) else [d["sorting"]]
    return h_members_query(req, q=q, fieldsets=fs)


def get_member(st, mid):
    m = st.idx["members"].get(mid)
    if m is None:
        raise app_error(404, "MEMBER_NOT_FOUND", "Member %s not found" % mid)
    return m


def h_member_get(req):
    st = req.state
    m = get_member(st, req.m["id"])
    fs = req.params_list("fieldsets")
    if not fs:
        d = decode_dot_r(req.params)
        if isinstance(d, dict):
            fs = d.get("fieldsets")
    lvl = fieldset_level(fs or None)
    return Raw('{"member":%s}' % st.obj_json("members", m, lvl, MEMBER_PROJ[lvl]))


# ====================================================================== handlers: products
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


# ---------------------------------------------------------------- V1
def parse_json_string(v, where):
    if v is None or v == "":
        return None
    if not isinstance(v, str):
        raise validation_error(where, "Expected a string.", "FORMAT", message="Expected a string.")
    try:
        return json.loads(v)
    except ValueError:
        raise validation_error(where, "Invalid JSON in %s" % where, "FORMAT")


def v1_sort_normalise(sort):
    """[{"numericId":"asc"}] or [{"fieldName":..,"order":..}] -> [{fieldName, order}]"""
    if sort is None:
        return None
    if isinstance(sort, dict):
        sort = [sort]
    if not isinstance(sort, list):
        raise validation_error("query.sort", "sort must be a JSON array", "FORMAT")
    out = []
    for s in sort:
        if not isinstance(s, dict) or not s:
            raise validation_error("query.sort", "Invalid sort item", "FORMAT")
        if "fieldName" in s:
            order = str(s.get("order", "ASC")).upper()
            out.append({"fieldName": s["fieldName"], "order": order})
        else:
            if len(s) != 1:
                raise validation_error("query.sort", "Invalid sort item", "FORMAT")
            (k, v), = s.items()
            if not isinstance(v, str) or v.lower() not in ("asc", "desc"):
                raise validation_error("query.sort", "Sort order must be 'asc' or 'desc'", "FORMAT")
            out.append({"fieldName": k, "order": v.upper()})
    return out


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
    q = need_obj(b, "query")
    if "cursorPaging" in q:
        raise validation_error("query.cursorPaging", "Cursor paging is not supported; use paging", "OTHER")
    filt = parse_json_string(q.get("filter"), "query.filter")
    sort = v1_sort_normalise(parse_json_string(q.get("sort"), "query.sort"))
    paging = need_obj(q, "paging", "query.paging")
    limit = get_limit(paging, "query.paging.limit", 100, 100)
    offset = get_offset(paging, "query.paging.offset")
    if offset + limit > V1_OFFSET_CEILING:
        raise validation_error("query.paging.offset",
                               "offset + limit must not exceed %d; use a numericId range filter instead" % V1_OFFSET_CEILING,
                               "MAX")
    hidden = b.get("includeHiddenProducts") is True
    variants = b.get("includeVariants") is True
    items = run_offset_query(st, "v1", filt=filt, sort_raw=sort, extra={"h": hidden}, spec_=V1_SPEC,
                             default_sort=V1_DEFAULT_SORT, sort_where="query.sort",
                             pred_extra=None if hidden else (lambda p: p.get("visible", True)))
    page = items[offset:offset + limit]
    parts = [st.obj_json("v1", p, variants, V1_PROJ[variants]) for p in page]
    return Raw('{"products":%s,"metadata":%s,"totalResults":%d}' % (
        join_json(parts), dumps({"items": len(page), "offset": offset}), len(items)))


def get_v1(st, pid):
    p = st.idx["v1"].get(pid)
    if p is None:
        raise app_error(404, "PRODUCT_NOT_FOUND", "Product %s not found" % pid)
    return p


def h_v1_get(req):
    st = req.state
    require_catalog(st, "V1")
    p = get_v1(st, req.m["id"])
    return Raw('{"product":%s}' % st.obj_json("v1", p, True, V1_PROJ[True]))


# ---------------------------------------------------------------- V3
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
    if search is None:
        return None
    if not isinstance(search, dict):
        raise validation_error("search.search", "search must be an object", "FORMAT")
    expr = search.get("expression")
    if expr is None or expr == "":
        return None
    if not isinstance(expr, str):
        raise validation_error("search.search.expression", "expression must be a string", "FORMAT")
    fields = search.get("fields") or ["name"]
    getters = []
    for f in fields:
        if f not in V3_SEARCH_TEXT_FIELDS:
            raise validation_error("search.search.fields", "Field '%s' is not searchable" % (f,), "VALIDATION")
        getters.append(F(f, "str", ()).get)
    words = expr.lower().split()

    def p(o):
        txt = " ".join(v for v in (g(o) for g in getters) if isinstance(v, str)).lower()
        return all(w in txt for w in words)
    return p


V3_DEFAULT_SORT = [(V3_QUERY_SPEC["createdDate"], True)]


def v3_page_response(st, page, nxt, prv, fields):
    proj = v3_proj(fields, False)
    parts = [st.obj_json("v3", p, ("q",) + fields, proj) for p in page]
    cur = {}
    if nxt:
        cur["next"] = nxt
    cur["prev"] = prv
    meta = {"count": len(page), "cursors": cur, "hasNext": nxt is not None}
    return '{"products":%s,"pagingMetadata":%s}' % (join_json(parts), dumps(meta))


def h_v3_query(req):
    st = req.state
    require_catalog(st, "V3")
    b = body_or_r(req)
    q = need_obj(b, "query")
    if "paging" in q:
        raise validation_error("query.paging", "Offset paging is not supported; use cursorPaging", "OTHER")
    fields = v3_fields(b.get("fields"))
    cp = need_obj(q, "cursorPaging", "query.cursorPaging")
    limit = get_limit(cp, "query.cursorPaging.limit", 100, 100)
    page, nxt, prv = run_cursor_query(
        st, "v3", filt=q.get("filter"), sort_raw=q.get("sort"), extra=None, cursor=cp.get("cursor") or None,
        limit=limit, spec_=V3_QUERY_SPEC, max_sort=5, default_sort=V3_DEFAULT_SORT, where="query")
    return Raw(v3_page_response(st, page, nxt, prv, fields))


def h_v3_search(req):
    st = req.state
    require_catalog(st, "V3")
    b = body_or_r(req)
    s = need_obj(b, "search")
    if "paging" in s:
        raise validation_error("search.paging", "Offset paging is not supported; use cursorPaging", "OTHER")
    fields = v3_fields(b.get("fields"))
    cp = need_obj(s, "cursorPaging", "search.cursorPaging")
    limit = get_limit(cp, "search.cursorPaging.limit", 100, 100)
    v3_search_pred(s.get("search"))  # validate even when a cursor is used
    page, nxt, prv = run_cursor_query(
        st, "v3s", filt=s.get("filter"), sort_raw=s.get("sort"), extra={"search": s.get("search")},
        cursor=cp.get("cursor") or None, limit=limit, spec_=V3_SEARCH_SPEC, max_sort=5,
        default_sort=V3_DEFAULT_SORT, where="search",
        pred_factory=lambda f, x: v3_search_pred((x or {}).get("search")))
    return Raw(v3_page_response(st, page, nxt, prv, fields))


def h_v3_count(req):
    st = req.state
    require_catalog(st, "V3")
    b = body_or_r(req)
    sp = v3_search_pred(b.get("search"))
    items = run_offset_query(st, "v3s", filt=b.get("filter"), sort_raw=None, extra={"search": b.get("search")},
                             spec_=V3_SEARCH_SPEC, default_sort=V3_DEFAULT_SORT, pred_extra=sp)
    return {"count": len(items)}


def get_v3(st, pid):
    p = st.idx["v3"].get(pid)
    if p is None:
        raise app_error(404, "PRODUCT_NOT_FOUND", "Product %s not found" % pid)
    return p


def h_v3_get(req):
    st = req.state
    require_catalog(st, "V3")
    p = get_v3(st, req.m["id"])
    fs = req.params_list("fields")
    if not fs:
        d = decode_dot_r(req.params)
        if isinstance(d, dict):
            fs = d.get("fields")
    fields = v3_fields(fs or None)
    return Raw('{"product":%s}' % st.obj_json("v3", p, ("g",) + fields, v3_proj(fields, True)))


# ---------------------------------------------------------------- V3 inventory (read)
INV_DEFAULT_SORT = [(INV_SPEC["createdDate"], False)]


def h_inv_query(req):
    st = req.state
    require_catalog(st, "V3")
    b = body_or_r(req)
    q = need_obj(b, "query")
    if "paging" in q and "cursorPaging" in q:
        raise validation_error("query", "paging and cursorPaging are mutually exclusive", "OTHER")
    if "paging" in q:
        paging = need_obj(q, "paging", "query.paging")
        limit = get_limit(paging, "query.paging.limit", 100, 1000)
        offset = get_offset(paging, "query.paging.offset")
        items = run_offset_query(st, "inv", filt=q.get("filter"), sort_raw=q.get("sort"), extra=None,
                                 spec_=INV_SPEC, default_sort=INV_DEFAULT_SORT)
        page = items[offset:offset + limit]
        meta = {"count": len(page), "offset": offset}
    else:
        cp = need_obj(q, "cursorPaging", "query.cursorPaging")
        limit = get_limit(cp, "query.cursorPaging.limit", 100, 1000)
        page, nxt, prv = run_cursor_query(
            st, "inv", filt=q.get("filter"), sort_raw=q.get("sort"), extra=None, cursor=cp.get("cursor") or None,
            limit=limit, spec_=INV_SPEC, max_sort=None, default_sort=INV_DEFAULT_SORT, where="query")
        cur = {}
        if nxt:
            cur["next"] = nxt
        if prv:
            cur["prev"] = prv
        meta = {"count": len(page), "cursors": cur}
    parts = [st.obj_json("inv", it, "w", lambda x: x) for it in page]
    return Raw('{"inventoryItems":%s,"pagingMetadata":%s}' % (join_json(parts), dumps(meta)))


def get_inv(st, iid):
    it = st.idx["inv"].get(iid)
    if it is None:
        raise app_error(404, "INVENTORY_ITEM_NOT_FOUND", "Inventory item %s not found" % iid)
    return it


def h_inv_get(req):
    st = req.state
    require_catalog(st, "V3")
    it = get_inv(st, req.m["id"])
    return Raw('{"inventoryItem":%s}' % st.obj_json("inv", it, "w", lambda x: x))


# ====================================================================== handlers: bookings
BOOKING_DEFAULT_SORT = [(BOOKING_SPEC["id"], False)]
ACTIVE_BOOKING = ("CREATED", "CONFIRMED", "PENDING", "WAITING_LIST")


def allowed_actions(b):
    active = b.get("status") in ACTIVE_BOOKING
    return {"cancel": active, "reschedule": active, "bookAgain": b.get("status") in ("CONFIRMED", "CANCELED", "DECLINED")}


def xb_parts(st, page, with_actions):
    out = []
    for b in page:
        bj = st.obj_json("bookings", b, "w", lambda x: x)
        if with_actions:
            out.append('{"booking":%s,"allowedActions":%s}' % (bj, dumps(allowed_actions(b))))
        else:
            out.append('{"booking":%s}' % bj)
    return out


def h_xb_query(req):
    st = req.state
    b = body_or_r(req)
    q = need_obj(b, "query")
    with_actions = b.get("withBookingAllowedActions") is True
    if "paging" in q and "cursorPaging" in q:
        raise validation_error("query", "paging and cursorPaging are mutually exclusive", "OTHER")
    if "paging" in q:
        paging = need_obj(q, "paging", "query.paging")
        limit = get_limit(paging, "query.paging.limit", 50, 100)
        offset = get_offset(paging, "query.paging.offset")
        items = run_offset_query(st, "bookings", filt=q.get("filter"), sort_raw=q.get("sort"), extra=None,
                                 spec_=BOOKING_SPEC, default_sort=BOOKING_DEFAULT_SORT)
        page = items[offset:offset + limit]
        meta = {"count": len(page), "offset": offset, "total": len(items), "tooManyToCount": False}
    else:
        cp = need_obj(q, "cursorPaging", "query.cursorPaging")
        limit = get_limit(cp, "query.cursorPaging.limit", 50, 100)
        page, nxt, _prv = run_cursor_query(
            st, "bookings", filt=q.get("filter"), sort_raw=q.get("sort"), extra=None, cursor=cp.get("cursor") or None,
            limit=limit, spec_=BOOKING_SPEC, max_sort=None, default_sort=BOOKING_DEFAULT_SORT, where="query")
        meta = {"count": len(page), "cursors": {"next": nxt} if nxt else {}}
    return Raw('{"extendedBookings":%s,"pagingMetadata":%s}' % (join_json(xb_parts(st, page, with_actions)), dumps(meta)))


def h_xb_count(req):
    st = req.state
    b = body_or_r(req)
    items = run_offset_query(st, "bookings", filt=b.get("filter"), sort_raw=None, extra=None,
                             spec_=BOOKING_SPEC, default_sort=BOOKING_DEFAULT_SORT)
    return {"count": len(items)}


# ====================================================================== phase 2: admin actions
def body_obj(req):
    return req.body if isinstance(req.body, dict) else {}


def check_type(v, types, field, what):
    if v is None:
        return
    tt = types if isinstance(types, tuple) else (types,)
    if (isinstance(v, bool) and bool not in tt) or not isinstance(v, tt):
        raise validation_error(field, "Expected %s" % what, "FORMAT")


def deep_merge(dst, src):
    for k, v in src.items():
        if isinstance(v, dict) and isinstance(dst.get(k), dict):
            deep_merge(dst[k], v)
        elif v is None:
            dst.pop(k, None)
        else:
            dst[k] = copy.deepcopy(v)


def stamp(obj, key="updatedDate"):
    obj[key] = iso_ms(unique_now_ms())


# ---------------------------------------------------------------- orders
def order_txn(st, oid):
    return st.txns.setdefault(oid, {"payments": [], "refunds": [], "_state": {"shipping_refunded": 0}})


def txn_wire(oid, t):
    return {"orderId": oid, "payments": t["payments"], "refunds": t["refunds"]}


def add_activity(o, typ):
    o.setdefault("activities", []).append({"id": new_id(), "createdDate": iso_ms(unique_now_ms()), "type": typ})


def h_order_cancel(req):
    st = req.state
    o = get_order(st, req.m["id"])
    b = body_obj(req)
    check_type(b.get("sendOrderCanceledEmail"), bool, "sendOrderCanceledEmail", "a boolean")
    check_type(b.get("restockAllItems"), bool, "restockAllItems", "a boolean")
    check_type(b.get("customMessage"), str, "customMessage", "a string")
    if o["status"] == "PENDING":
        raise app_error(428, "ORDER_IS_PENDING", "Order %s is pending and cannot be canceled" % o["id"])
    if o["status"] == "REJECTED":
        raise app_error(428, "ORDER_IS_REJECTED", "Order %s is rejected and cannot be canceled" % o["id"])
    if any(p.get("status") == "AUTHORIZED" for p in order_txn(st, o["id"])["payments"]):
        raise app_error(428, "ORDER_HAS_AUTHORIZED_TRANSACTION",
                        "Order %s has an authorized transaction; void or capture it first" % o["id"])
    if o["status"] != "CANCELED":
        o["status"] = "CANCELED"
        stamp(o)
        add_activity(o, "ORDER_CANCELED")
        st.touch("orders", o["id"])
    return Raw('{"order":%s}' % st.obj_json("orders", o, "w", lambda x: x))


ORDER_UPDATABLE_SIMPLE = ("buyerLanguage", "attributionSource", "extendedFields")


def h_order_update(req):
    st = req.state
    o = get_order(st, req.m["id"])
    b = body_obj(req)
    u = b.get("order")
    if not isinstance(u, dict):
        raise validation_error("order", "order is required", "REQUIRED_FIELD")
    if u.get("id") not in (None, o["id"]):
        raise validation_error("order.id", "order.id does not match the path", "VALIDATION")
    if o["status"] == "PENDING":
        raise app_error(428, "ORDER_IS_PENDING", "Order %s is pending and cannot be updated" % o["id"])
    if o["status"] == "REJECTED":
        raise app_error(428, "ORDER_IS_REJECTED", "Order %s is rejected and cannot be updated" % o["id"])
    for k in ("archived", "seenByAHuman"):
        if k in u:
            check_type(u[k], bool, "order." + k, "a boolean")
    if "weightUnit" in u and u["weightUnit"] not in ("KG", "LB", "UNSPECIFIED_WEIGHT_UNIT"):
        raise validation_error("order.weightUnit", "Invalid weightUnit", "VALIDATION")
    for k in ("billingInfo", "recipientInfo", "buyerInfo"):
        if k in u and not isinstance(u[k], dict):
            raise validation_error("order." + k, "Expected an object", "FORMAT")
    changed = False
    for k in ("archived", "seenByAHuman", "weightUnit") + ORDER_UPDATABLE_SIMPLE:
        if k in u:
            if u[k] is None:
                o.pop(k, None)
            else:
                o[k] = copy.deepcopy(u[k])
            changed = True
    if isinstance(u.get("buyerInfo"), dict) and "email" in u["buyerInfo"]:
        check_type(u["buyerInfo"]["email"], str, "order.buyerInfo.email", "a string")
        o.setdefault("buyerInfo", {})["email"] = u["buyerInfo"]["email"]
        changed = True
    for k in ("billingInfo", "recipientInfo"):
        if isinstance(u.get(k), dict):
            deep_merge(o.setdefault(k, {}), u[k])
            changed = True
    dest = (((u.get("shippingInfo") or {}).get("logistics") or {}).get("shippingDestination"))
    if isinstance(dest, dict) and "shippingInfo" in o:
        deep_merge(o["shippingInfo"].setdefault("logistics", {}).setdefault("shippingDestination", {}), dest)
        changed = True
    if changed:
        stamp(o)
        st.touch("orders", o["id"])
    return Raw('{"order":%s}' % st.obj_json("orders", o, "w", lambda x: x))


def h_order_payments(req):
    st = req.state
    o = get_order(st, req.m["orderId"])
    return {"orderTransactions": txn_wire(o["id"], order_txn(st, o["id"]))}


def h_payments_by_ids(req):
    st = req.state
    ids = body_obj(req).get("orderIds")
    if not isinstance(ids, list) or not ids or len(ids) > 100:
        raise validation_error("orderIds", "orderIds must contain 1..100 ids", "MAX_SIZE")
    out = []
    for oid in ids:
        if isinstance(oid, str) and oid in st.idx["orders"]:
            out.append(txn_wire(oid, order_txn(st, oid)))
    return {"orderTransactions": out}


def pay_cents(p):
    return cents_of(p["amount"]["amount"], "amount")


def refunded_cents(t, pid):
    tot = 0
    for r in t["refunds"]:
        for x in r.get("transactions", []):
            if x.get("paymentId") == pid and x.get("refundStatus") != "FAILED":
                tot += cents_of(x["amount"]["amount"], "amount")
    return tot


def classify_payment(o, p, refunded):
    """-> (kind, reason, paid, avail) kind in refundable|manual|non"""
    paid = pay_cents(p) if p.get("status") in ("APPROVED", "PARTIALLY_REFUNDED", "REFUNDED") else 0
    avail = max(0, paid - refunded)
    if o["status"] == "PENDING":
        return "non", "ORDER_IS_PENDING", paid, avail
    if o["status"] == "REJECTED":
        return "non", "ORDER_IS_REJECTED", paid, avail
    if paid == 0:
        return "non", "NOT_PAID", paid, avail
    if avail == 0:
        return "non", "ALREADY_REFUNDED", paid, avail
    if p.get("refundDisabled"):
        return "non", "FORBIDDEN", paid, avail
    if (p.get("regularPaymentDetails") or {}).get("offlinePayment"):
        return "manual", "OFFLINE", paid, avail
    return "refundable", None, paid, avail


def refundability(st, o):
    t = order_txn(st, o["id"])
    cur = o.get("currency", "USD")
    pays = []
    tp = tr = tm = 0
    for p in t["payments"]:
        ref = refunded_cents(t, p["id"])
        kind, reason, paid, avail = classify_payment(o, p, ref)
        mx = avail if kind != "non" else 0
        tp += paid
        tr += ref
        tm += mx
        rd = p.get("regularPaymentDetails") or {}
        e = {"payment": {"paymentId": p["id"], "paymentMethod": rd.get("paymentMethod"), "offlinePayment": bool(rd.get("offlinePayment")),
                         "monetary": {"paid": D.price(paid, cur), "refunded": D.price(ref, cur), "refundPending": D.price(0, cur),
                                      "maxRefund": D.price(mx, cur)}}}
        if kind == "refundable":
            e["refundable"] = True
        elif kind == "manual":
            e["manuallyRefundable"] = {"reason": reason}
            e["providerLink"] = "https://manage.wix.com/dashboard/%s/payments" % st.args.site_id
        else:
            e["nonRefundable"] = {"reason": reason}
        pays.append(e)
    lis = [{"lineItemId": li["id"], "originalQuantity": li["quantity"], "refundedQuantity": li.get("refundQuantity", 0),
            "availableRefundQuantity": li["quantity"] - li.get("refundQuantity", 0)} for li in o["lineItems"]]
    out = {"payments": pays,
           "paymentsSummary": {"monetary": {"paid": D.price(tp, cur), "refunded": D.price(tr, cur),
                                            "refundPending": D.price(0, cur), "maxRefund": D.price(tm, cur)}},
           "lineItems": lis, "additionalFees": []}
    if "shippingInfo" in o:
        amt = cents_of(o["priceSummary"]["shipping"]["amount"], "shipping")
        done = t["_state"].get("shipping_refunded", 0)
        out["shipping"] = {"amount": D.price(amt, cur), "refundedAmount": D.price(done, cur),
                           "availableRefundAmount": D.price(max(0, amt - done), cur)}
    return out


def h_refundability(req):
    st = req.state
    oid = body_obj(req).get("orderId")
    if not isinstance(oid, str) or not oid:
        raise validation_error("orderId", "orderId is required", "REQUIRED_FIELD")
    return refundability(st, get_order(st, oid))


def _qty(v, field, code, msg):
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise app_error(400, code, msg, data={"field": field})
    return v


def h_refund_payments(req):
    st = req.state
    b = body_obj(req)
    oid = b.get("orderId")
    if not isinstance(oid, str) or not oid:
        raise validation_error("orderId", "orderId is required", "REQUIRED_FIELD")
    o = get_order(st, oid)
    t = order_txn(st, oid)
    cur = o.get("currency", "USD")
    prs = b.get("paymentRefunds")
    if not isinstance(prs, list) or not (1 <= len(prs) <= 50):
        raise validation_error("paymentRefunds", "paymentRefunds must contain 1..50 items", "MAX_SIZE" if isinstance(prs, list) and prs else "REQUIRED_FIELD")
    pays = {p["id"]: p for p in t["payments"]}
    want = collections.OrderedDict()
    ext = {}
    for i, pr in enumerate(prs):
        if not isinstance(pr, dict) or not isinstance(pr.get("paymentId"), str):
            raise validation_error("paymentRefunds[%d].paymentId" % i, "paymentId is required", "REQUIRED_FIELD")
        pid = pr["paymentId"]
        if pid not in pays:
            raise app_error(404, "PAYMENT_NOT_FOUND", "Payment %s not found in order %s" % (pid, oid), data={"paymentId": pid})
        amt = pr.get("amount")
        amt = amt.get("amount") if isinstance(amt, dict) else amt
        if amt is None:
            raise app_error(400, "INVALID_PAYMENT_REFUND_AMOUNT", "Refund amount is required for payment %s" % pid, data={"paymentId": pid})
        try:
            c = cents_of(amt, "paymentRefunds[%d].amount" % i)
        except ApiError:
            raise app_error(400, "INVALID_PAYMENT_REFUND_AMOUNT", "Invalid refund amount '%s'" % (amt,), data={"paymentId": pid})
        if c <= 0:
            raise app_error(400, "INVALID_PAYMENT_REFUND_AMOUNT", "Refund amount must be positive", data={"paymentId": pid})
        want[pid] = want.get(pid, 0) + c
        ext[pid] = bool(pr.get("externalRefund"))
    for pid, c in want.items():
        p = pays[pid]
        kind, reason, paid, avail = classify_payment(o, p, refunded_cents(t, pid))
        if kind == "non" or (kind == "manual" and not ext[pid]):
            raise app_error(428, "PAYMENT_NOT_REFUNDABLE", "Payment %s is not refundable (%s)" % (pid, reason or "MANUAL_REFUND_ONLY"),
                            data={"paymentId": pid, "nonRefundableReason": reason if kind == "non" else "UNKNOWN_REASON"})
        if c > avail:
            raise app_error(400, "INVALID_PAYMENT_REFUND_AMOUNT",
                            "Refund amount %s exceeds the refundable amount %s of payment %s" % (D.money_str(c), D.money_str(avail), pid),
                            data={"paymentId": pid})
    ri = b.get("refundItems") or {}
    if not isinstance(ri, dict):
        raise validation_error("refundItems", "Expected an object", "FORMAT")
    lmap = {li["id"]: li for li in o["lineItems"]}
    li_ref = collections.OrderedDict()
    for i, x in enumerate(ri.get("lineItems") or []):
        lid = x.get("lineItemId") if isinstance(x, dict) else None
        if lid not in lmap:
            raise app_error(404, "LINE_ITEM_NOT_FOUND", "Line item %s not found in order %s" % (lid, oid), data={"lineItemId": lid})
        q = _qty(x.get("quantity"), "refundItems.lineItems[%d].quantity" % i, "INVALID_LINE_ITEM_REFUND_QUANTITY",
                 "Invalid refund quantity for line item %s" % lid)
        li_ref[lid] = li_ref.get(lid, 0) + q
        li = lmap[lid]
        if li_ref[lid] > li["quantity"] - li.get("refundQuantity", 0):
            raise app_error(400, "INVALID_LINE_ITEM_REFUND_QUANTITY",
                            "Refund quantity %d exceeds the refundable quantity %d of line item %s"
                            % (li_ref[lid], li["quantity"] - li.get("refundQuantity", 0), lid), data={"lineItemId": lid})
    ship_c = 0
    sh = ri.get("shipping")
    if sh is not None:
        if "shippingInfo" not in o:
            raise app_error(404, "SHIPPING_NOT_FOUND", "Order %s has no shipping" % oid)
        a = sh.get("amount") if isinstance(sh, dict) else None
        a = a.get("amount") if isinstance(a, dict) else a
        try:
            ship_c = cents_of(a, "refundItems.shipping.amount")
        except ApiError:
            raise app_error(400, "INVALID_SHIPPING_REFUND_AMOUNT", "Invalid shipping refund amount '%s'" % (a,))
        total_ship = cents_of(o["priceSummary"]["shipping"]["amount"], "shipping")
        avail = total_ship - t["_state"].get("shipping_refunded", 0)
        if ship_c < 0 or ship_c > avail:
            raise app_error(400, "INVALID_SHIPPING_REFUND_AMOUNT",
                            "Shipping refund %s must be between 0 and %s" % (D.money_str(ship_c), D.money_str(avail)))
    for x in ri.get("additionalFees") or []:
        fid = x.get("additionalFeeId") if isinstance(x, dict) else None
        raise app_error(404, "ADDITIONAL_FEE_NOT_FOUND", "Additional fee %s not found in order %s" % (fid, oid))
    se = b.get("sideEffects") or {}
    restock = collections.OrderedDict()
    for i, x in enumerate(((se.get("restock") or {}).get("lineItems") or []) if isinstance(se, dict) else []):
        lid = x.get("lineItemId") if isinstance(x, dict) else None
        if lid not in lmap:
            raise app_error(404, "LINE_ITEM_NOT_FOUND", "Line item %s not found in order %s" % (lid, oid), data={"lineItemId": lid})
        q = _qty(x.get("quantity"), "sideEffects.restock.lineItems[%d].quantity" % i, "INVALID_LINE_ITEM_RESTOCK_QUANTITY",
                 "Invalid restock quantity for line item %s" % lid)
        restock[lid] = restock.get(lid, 0) + q
        li = lmap[lid]
        if restock[lid] > li["quantity"] - li.get("restockQuantity", 0):
            raise app_error(400, "INVALID_LINE_ITEM_RESTOCK_QUANTITY", "Restock quantity exceeds the ordered quantity of line item %s" % lid,
                            data={"lineItemId": lid})
    # ---- apply
    now = iso_ms(unique_now_ms())
    txs = []
    total = 0
    for pid, c in want.items():
        total += c
        txs.append({"paymentId": pid, "amount": D.price(c, cur), "refundStatus": "SUCCEEDED", "externalRefund": ext[pid]})
    refund = {"id": new_id(), "createdDate": now, "transactions": txs,
              "details": {"items": [{"lineItemId": k, "quantity": v} for k, v in li_ref.items()],
                          "shippingIncluded": ship_c > 0},
              "summary": {"requestedRefund": D.price(total, cur), "pendingRefund": D.price(0, cur), "refunded": D.price(total, cur),
                          "failedRefundAmount": D.price(0, cur), "pending": False}}
    if isinstance(b.get("customerReason"), str):
        refund["details"]["reason"] = b["customerReason"]
    t["refunds"].append(refund)
    for pid in want:
        p = pays[pid]
        ref = refunded_cents(t, pid)
        p["status"] = "REFUNDED" if ref >= pay_cents(p) else "PARTIALLY_REFUNDED"
        p.setdefault("regularPaymentDetails", {})["status"] = p["status"]
        p["updatedDate"] = now
    for lid, q in li_ref.items():
        lmap[lid]["refundQuantity"] = lmap[lid].get("refundQuantity", 0) + q
    for lid, q in restock.items():
        lmap[lid]["restockQuantity"] = lmap[lid].get("restockQuantity", 0) + q
    t["_state"]["shipping_refunded"] = t["_state"].get("shipping_refunded", 0) + ship_c
    paid_all = sum(pay_cents(p) for p in t["payments"] if p.get("status") in ("APPROVED", "PARTIALLY_REFUNDED", "REFUNDED"))
    ref_all = sum(refunded_cents(t, p["id"]) for p in t["payments"])
    o["paymentStatus"] = "FULLY_REFUNDED" if ref_all >= paid_all else "PARTIALLY_REFUNDED"
    bs = o.setdefault("balanceSummary", {})
    bs["refunded"] = D.price(ref_all, cur)
    o["updatedDate"] = now
    add_activity(o, "ORDER_REFUNDED")
    st.touch("orders", oid)
    return {"refund": refund, "orderTransactions": txn_wire(oid, t)}


def fulfillments_wire(st, oid):
    return {"orderId": oid, "fulfillments": st.fuls.setdefault(oid, [])}


def h_fulfillments_list(req):
    st = req.state
    o = get_order(st, req.m["orderId"])
    return {"orderWithFulfillments": fulfillments_wire(st, o["id"])}


def h_fulfillments_by_ids(req):
    st = req.state
    ids = body_obj(req).get("orderIds")
    if not isinstance(ids, list) or not ids or len(ids) > 100:
        raise validation_error("orderIds", "orderIds must contain 1..100 ids", "MAX_SIZE")
    return {"ordersWithFulfillments": [fulfillments_wire(st, i) for i in ids if isinstance(i, str) and i in st.idx["orders"]]}


FUL_STATUSES = ("Pending", "Accepted", "Ready", "In_Delivery", "Fulfilled")


def h_fulfillment_create(req):
    st = req.state
    o = get_order(st, req.m["orderId"])
    f = body_obj(req).get("fulfillment")
    if not isinstance(f, dict):
        raise validation_error("fulfillment", "fulfillment is required", "REQUIRED_FIELD")
    lis = f.get("lineItems")
    if not isinstance(lis, list) or not lis:
        raise validation_error("fulfillment.lineItems", "At least one line item is required", "REQUIRED_FIELD")
    fls = st.fuls.setdefault(o["id"], [])
    done = {}
    for x in fls:
        for li in x.get("lineItems", []):
            done[li["id"]] = done.get(li["id"], 0) + int(li.get("quantity", 0))
    lmap = {li["id"]: li for li in o["lineItems"]}
    out_lis = []
    for i, x in enumerate(lis):
        lid = x.get("id") if isinstance(x, dict) else None
        if lid not in lmap:
            raise validation_error("fulfillment.lineItems[%d].id" % i, "Line item %s does not exist in order %s" % (lid, o["id"]))
        remaining = lmap[lid]["quantity"] - done.get(lid, 0)
        q = x.get("quantity")
        if q is None:
            q = remaining
        if isinstance(q, bool) or not isinstance(q, int) or q < 1 or q > remaining:
            raise validation_error("fulfillment.lineItems[%d].quantity" % i,
                                   "Quantity %s exceeds the unfulfilled quantity %d of line item %s" % (q, remaining, lid), "MAX")
        done[lid] = done.get(lid, 0) + q
        out_lis.append({"id": lid, "quantity": q})
    ti, ci = f.get("trackingInfo"), f.get("customInfo")
    if (ti is None) == (ci is None):
        raise validation_error("fulfillment.trackingInfo", "Exactly one of trackingInfo or customInfo is required", "REQUIRED_FIELD")
    new = {"id": new_id(), "createdDate": iso_ms(unique_now_ms()), "lineItems": out_lis}
    if ti is not None:
        if not isinstance(ti, dict) or not isinstance(ti.get("trackingNumber"), str) or not ti["trackingNumber"] \
                or not isinstance(ti.get("shippingProvider"), str) or not ti["shippingProvider"]:
            raise validation_error("fulfillment.trackingInfo", "trackingNumber and shippingProvider are required", "REQUIRED_FIELD")
        for x in fls:
            if (x.get("trackingInfo") or {}).get("trackingNumber") == ti["trackingNumber"]:
                raise app_error(409, "TRACKING_NUMBER_ALREADY_EXISTS",
                                "Tracking number %s already exists for order %s" % (ti["trackingNumber"], o["id"]))
        link = ti.get("trackingLink") or D.tracking_link(ti["shippingProvider"], ti["trackingNumber"])
        if not link:
            raise validation_error("fulfillment.trackingInfo.trackingLink", "trackingLink is required for custom shipping providers",
                                   "REQUIRED_FIELD")
        new["trackingInfo"] = {"trackingNumber": ti["trackingNumber"], "shippingProvider": ti["shippingProvider"], "trackingLink": link}
    else:
        if not isinstance(ci, dict):
            raise validation_error("fulfillment.customInfo", "Expected an object", "FORMAT")
        new["customInfo"] = copy.deepcopy(ci)
    if f.get("status") is not None:
        if f["status"] not in FUL_STATUSES:
            raise validation_error("fulfillment.status", "Invalid status", "VALIDATION")
        new["status"] = f["status"]
    if f.get("completed") is not None:
        check_type(f["completed"], bool, "fulfillment.completed", "a boolean")
        new["completed"] = f["completed"]
    fls.append(new)
    o["fulfillmentStatus"] = D.fulfillment_status(o, fls)
    stamp(o)
    st.touch("orders", o["id"])
    return {"orderWithFulfillments": fulfillments_wire(st, o["id"]), "fulfillmentId": new["id"]}


def h_fulfillment_delete(req):
    st = req.state
    o = get_order(st, req.m["orderId"])
    fls = st.fuls.setdefault(o["id"], [])
    for x in fls:
        if x["id"] == req.m["fid"]:
            fls.remove(x)
            break
    else:
        raise app_error(404, "FULFILLMENT_NOT_FOUND", "Fulfillment %s not found in order %s" % (req.m["fid"], o["id"]))
    o["fulfillmentStatus"] = D.fulfillment_status(o, fls)
    stamp(o)
    st.touch("orders", o["id"])
    return {"orderWithFulfillments": fulfillments_wire(st, o["id"])}


# ---------------------------------------------------------------- members
CONTACT_STR = ("firstName", "lastName", "birthdate", "company", "jobTitle")
CONTACT_ARR = ("phones", "emails", "addresses")


def apply_member_fields(st, m, u, where="member"):
    c = u.get("contact")
    if c is not None:
        if not isinstance(c, dict):
            raise validation_error(where + ".contact", "Expected an object", "FORMAT")
        mc = m.setdefault("contact", {})
        for k in CONTACT_STR:
            if k in c:
                check_type(c[k], str, "%s.contact.%s" % (where, k), "a string")
                if c[k] in ("", None):
                    mc.pop(k, None)
                else:
                    mc[k] = c[k]
        for k in CONTACT_ARR:
            if k in c:
                if not isinstance(c[k], list):
                    raise validation_error("%s.contact.%s" % (where, k), "Expected an array", "FORMAT")
                if c[k]:
                    mc[k] = copy.deepcopy(c[k])
        if "customFields" in c and isinstance(c["customFields"], dict):
            mc["customFields"] = copy.deepcopy(c["customFields"])
    p = u.get("profile")
    if p is not None:
        if not isinstance(p, dict):
            raise validation_error(where + ".profile", "Expected an object", "FORMAT")
        mp = m.setdefault("profile", {})
        for k in ("nickname", "title"):
            if k in p:
                check_type(p[k], str, "%s.profile.%s" % (where, k), "a string")
                if p[k] in ("", None):
                    mp.pop(k, None)
                else:
                    mp[k] = p[k]
        for k in ("photo", "cover"):
            if k in p:
                if p[k] is None or p[k] == {}:
                    mp.pop(k, None)
                elif isinstance(p[k], dict):
                    mp[k] = copy.deepcopy(p[k])
    if "privacyStatus" in u:
        if u["privacyStatus"] not in ("PUBLIC", "PRIVATE"):
            raise validation_error(where + ".privacyStatus", "privacyStatus must be PUBLIC or PRIVATE", "VALIDATION")
        m["privacyStatus"] = u["privacyStatus"]


def unique_slug(existing, base):
    slug = base
    n = 1
    while slug in existing:
        n += 1
        slug = "%s-%d" % (base, n)
    return slug


def member_full(st, m):
    return Raw('{"member":%s}' % st.obj_json("members", m, 3, MEMBER_PROJ[3]))


def h_member_create(req):
    st = req.state
    u = body_obj(req).get("member")
    if not isinstance(u, dict):
        raise validation_error("member", "member is required", "REQUIRED_FIELD")
    email = u.get("loginEmail")
    if not isinstance(email, str) or not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", email):
        raise validation_error("member.loginEmail", "A valid loginEmail is required", "REQUIRED_FIELD" if email is None else "FORMAT")
    low = email.lower()
    if any(x.get("loginEmail", "").lower() == low for x in st.idx["members"].values()):
        raise app_error(409, "ALREADY_EXISTS", "Already exists", "A member with loginEmail %s already exists" % email)
    now = iso_ms(unique_now_ms())
    m = {"id": new_id(), "loginEmail": email, "loginEmailVerified": False, "status": "APPROVED", "contactId": new_id(),
         "privacyStatus": "PUBLIC", "activityStatus": "ACTIVE", "contact": {}, "profile": {}, "createdDate": now, "updatedDate": now}
    apply_member_fields(st, m, u)
    c = m["contact"]
    if "nickname" not in m["profile"]:
        nick = " ".join(x for x in (c.get("firstName"), c.get("lastName")) if x) or email.split("@")[0]
        m["profile"]["nickname"] = nick
    slugs = set(x.get("profile", {}).get("slug") for x in st.idx["members"].values())
    m["profile"]["slug"] = unique_slug(slugs, D.slugify(m["profile"]["nickname"]))
    if not c.get("emails"):
        c["emails"] = [email]
    st.add("members", m)
    return member_full(st, m)


def h_member_update(req):
    st = req.state
    m = get_member(st, req.m["id"])
    u = body_obj(req).get("member")
    if not isinstance(u, dict):
        raise validation_error("member", "member is required", "REQUIRED_FIELD")
    if u.get("id") not in (None, m["id"]):
        raise validation_error("member.id", "member.id does not match the path", "VALIDATION")
    if "loginEmail" in u and u["loginEmail"] != m.get("loginEmail"):
        raise validation_error("member.loginEmail", "loginEmail is immutable", "VALIDATION")
    apply_member_fields(st, m, u)
    stamp(m)
    st.touch("members", m["id"])
    return member_full(st, m)


def h_member_approve(req):
    st = req.state
    m = get_member(st, req.m["id"])
    if m.get("status") != "APPROVED":
        m["status"] = "APPROVED"
        stamp(m)
        st.touch("members", m["id"])
    return member_full(st, m)


def h_member_block(req):
    st = req.state
    m = get_member(st, req.m["id"])
    if m.get("loginEmail") == D.OWNER_EMAIL:
        raise app_error(428, "OWNER_MEMBER_BLOCK_FORBIDDEN", "The site owner's member cannot be blocked")
    if m.get("status") != "BLOCKED":
        m["status"] = "BLOCKED"
        stamp(m)
        st.touch("members", m["id"])
    return member_full(st, m)


def h_member_delete(req):
    st = req.state
    m = get_member(st, req.m["id"])
    if m.get("loginEmail") == D.OWNER_EMAIL:
        raise ApiError(400, {"message": "The site owner's member cannot be deleted", "details": {"validationError": {"fieldViolations": [
            {"field": "id", "description": "The site owner's member cannot be deleted", "violatedRule": "OTHER",
             "ruleName": "OWNER_OR_CONTRIBUTOR_MEMBER_DELETE_FORBIDDEN", "data": {}}]}}})
    st.remove("members", m["id"])
    return {}


# ---------------------------------------------------------------- products V1
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
    return Raw('{"product":%s}' % st.obj_json("v1", p, True, V1_PROJ[True]))


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
    return Raw('{"product":%s}' % st.obj_json("v1", p, True, V1_PROJ[True]))


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


# ---------------------------------------------------------------- products V3
def check_revision(obj, rev, where, kind):
    if rev is None or rev == "":
        raise validation_error(where, "revision is required", "REQUIRED_FIELD")
    if str(rev) != obj["revision"]:
        raise app_error(409, "REVISION_MISMATCH",
                        "%s revision mismatch: sent %s, current is %s" % (kind, rev, obj["revision"]),
                        data={"currentRevision": obj["revision"]})


def bump(obj):
    obj["revision"] = str(int(obj["revision"]) + 1)
    stamp(obj)


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
    return Raw('{"product":%s}' % st.obj_json("v3", p, ("g",) + fields, v3_proj(fields, True)))


def h_v3_create(req):
    st = req.state
    require_catalog(st, "V3")
    b = body_obj(req)
    u = b.get("product")
    if not isinstance(u, dict):
        raise validation_error("product", "product is required", "REQUIRED_FIELD")
    fields = v3_fields(b.get("fields"))
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
    return v3_product_response(st, p, fields)


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
    return v3_product_response(st, p, fields)


def h_v3_delete(req):
    st = req.state
    require_catalog(st, "V3")
    p = get_v3(st, req.m["id"])
    for it in list(v3_items_of(st, p["id"]).values()):
        st.remove("inv", it["id"])
    st.remove("v3", p["id"])
    st.touch("v3s")
    return {}


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
    return Raw('{"inventoryItem":%s}' % st.obj_json("inv", it, "w", lambda x: x))


def v3_bulk_delta(req, key, by_key, sign):
    st = req.state
    require_catalog(st, "V3")
    b = body_obj(req)
    data = b.get(key)
    if not isinstance(data, list) or not (1 <= len(data) <= 300):
        raise validation_error(key, "%s must contain 1..300 items" % key, "MAX_SIZE")
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


# ---------------------------------------------------------------- bookings
BOOKING_PAYMENT_STATUSES = ("UNDEFINED", "NOT_PAID", "PAID", "PARTIALLY_PAID", "REFUNDED", "EXEMPT", "FAILED")


def get_booking(st, bid):
    b = st.idx["bookings"].get(bid)
    if b is None:
        raise app_error(404, "BOOKING_NOT_FOUND", "Booking %s not found" % bid)
    return b


def booking_revision(b, body):
    rev = body.get("revision")
    if rev is None or rev == "":
        raise app_error(409, "REVISION_MISMATCH", "revision is required (current revision is %s)" % b["revision"],
                        data={"currentRevision": b["revision"]})
    if str(rev) != b["revision"]:
        raise app_error(409, "REVISION_MISMATCH", "Booking revision mismatch: sent %s, current is %s" % (rev, b["revision"]),
                        data={"currentRevision": b["revision"]})


def booking_done(st, b):
    bump(b)
    st.touch("bookings", b["id"])
    return Raw('{"booking":%s}' % st.obj_json("bookings", b, "w", lambda x: x))


def booking_payment_status(b, body):
    ps = body.get("paymentStatus")
    if ps is not None:
        if ps not in BOOKING_PAYMENT_STATUSES:
            raise validation_error("paymentStatus", "Invalid paymentStatus", "VALIDATION")
        b["paymentStatus"] = ps


def h_booking_confirm(req):
    st = req.state
    b = get_booking(st, req.m["id"])
    body = body_obj(req)
    booking_revision(b, body)
    if b["status"] not in ("PENDING", "CREATED", "WAITING_LIST"):
        raise app_error(428, "FAILED_CONFIRMING_NON_PENDING_BOOKING",
                        "Booking %s is %s; only PENDING, CREATED or WAITING_LIST bookings can be confirmed" % (b["id"], b["status"]))
    booking_payment_status(b, body)
    if isinstance(body.get("doubleBooked"), bool):
        if body["doubleBooked"]:
            b["doubleBooked"] = True
        else:
            b.pop("doubleBooked", None)
    b["status"] = "CONFIRMED"
    return booking_done(st, b)


def h_booking_decline(req):
    st = req.state
    b = get_booking(st, req.m["id"])
    body = body_obj(req)
    booking_revision(b, body)
    if b["status"] not in ("PENDING", "CREATED", "WAITING_LIST"):
        raise app_error(428, "FAILED_DECLINE_NON_PENDING_BOOKING",
                        "Booking %s is %s; only PENDING, CREATED or WAITING_LIST bookings can be declined" % (b["id"], b["status"]))
    booking_payment_status(b, body)
    b["status"] = "DECLINED"
    return booking_done(st, b)


def h_booking_cancel(req):
    st = req.state
    b = get_booking(st, req.m["id"])
    body = body_obj(req)
    booking_revision(b, body)
    if b["status"] not in ACTIVE_BOOKING:
        raise app_error(428, "INVALID_BOOKING_STATUS", "Booking %s is %s and cannot be canceled" % (b["id"], b["status"]))
    b["status"] = "CANCELED"
    return booking_done(st, b)


def local_to_utc_ms(s, tz, field):
    import datetime as dt
    try:
        d = dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
    except (ValueError, AttributeError, TypeError):
        raise validation_error(field, "Invalid date '%s'" % (s,), "FORMAT")
    if d.tzinfo is None:
        try:
            from zoneinfo import ZoneInfo
            d = d.replace(tzinfo=ZoneInfo(tz or "UTC"))
        except Exception:
            raise validation_error("slot.timezone", "Unknown timezone '%s'" % (tz,), "VALIDATION")
    return int(d.timestamp() * 1000)


def h_booking_reschedule(req):
    st = req.state
    b = get_booking(st, req.m["id"])
    body = body_obj(req)
    booking_revision(b, body)
    if b["status"] not in ACTIVE_BOOKING:
        raise app_error(428, "INVALID_BOOKING_STATUS", "Booking %s is %s and cannot be rescheduled" % (b["id"], b["status"]))
    slot = body.get("slot")
    if not isinstance(slot, dict):
        raise validation_error("slot", "slot is required", "REQUIRED_FIELD")
    cur = (b.get("bookedEntity") or {}).get("slot")
    if cur is None:
        raise validation_error("slot", "Only slot (appointment/class) bookings can be rescheduled", "VALIDATION")
    for k in ("startDate", "endDate"):
        if not isinstance(slot.get(k), str):
            raise validation_error("slot." + k, "slot.%s is required" % k, "REQUIRED_FIELD")
    tz = slot.get("timezone") or cur.get("timezone") or "UTC"
    s = local_to_utc_ms(slot["startDate"], tz, "slot.startDate")
    e = local_to_utc_ms(slot["endDate"], tz, "slot.endDate")
    if e <= s:
        raise validation_error("slot.endDate", "endDate must be after startDate", "VALIDATION")
    tp = body.get("totalParticipants")
    if tp is not None and (isinstance(tp, bool) or not isinstance(tp, int) or tp < 1):
        raise validation_error("totalParticipants", "totalParticipants must be >= 1", "MIN")
    for k in ("serviceId", "scheduleId", "eventId"):
        if isinstance(slot.get(k), str) and slot[k]:
            cur[k] = slot[k]
    if isinstance(slot.get("resource"), dict) and slot["resource"].get("id"):
        res = cur.setdefault("resource", {})
        if res.get("id") != slot["resource"]["id"]:
            cur["resource"] = copy.deepcopy(slot["resource"])
    if isinstance(slot.get("location"), dict):
        cur["location"] = copy.deepcopy(slot["location"])
    cur["timezone"] = tz
    cur["startDate"] = D.local_iso(s, tz)
    cur["endDate"] = D.local_iso(e, tz)
    b["startDate"] = iso_ms(s)
    b["endDate"] = iso_ms(e)
    if tp is not None:
        b["totalParticipants"] = tp
    return booking_done(st, b)


def add_admin_routes(R):
    R("POST", "/ecom/v1/orders/{id}/cancel", h_order_cancel)
    R("PATCH", "/ecom/v1/orders/{id}", h_order_update)
    R("GET", "/ecom/v1/payments/orders/{orderId}", h_order_payments)
    R("POST", "/ecom/v1/payments/list-by-ids", h_payments_by_ids)
    R("POST", "/ecom/v1/order-billing/get-order-refundability", h_refundability)
    R("POST", "/ecom/v1/order-billing/refund-payments", h_refund_payments)
    R("GET", "/ecom/v1/fulfillments/orders/{orderId}", h_fulfillments_list)
    R("POST", "/ecom/v1/fulfillments/list-by-ids", h_fulfillments_by_ids)
    R("POST", "/ecom/v1/fulfillments/orders/{orderId}/create-fulfillment", h_fulfillment_create)
    R("DELETE", "/ecom/v1/fulfillments/{fid}/orders/{orderId}", h_fulfillment_delete)
    R("POST", "/members/v1/members", h_member_create)
    R("PATCH", "/members/v1/members/{id}", h_member_update)
    R("DELETE", "/members/v1/members/{id}", h_member_delete)
    R("POST", "/members/v1/members/{id}/approve", h_member_approve)
    R("POST", "/members/v1/members/{id}/block", h_member_block)
    R("POST", "/stores/v1/products", h_v1_create)
    R("PATCH", "/stores/v1/products/{id}", h_v1_update)
    R("DELETE", "/stores/v1/products/{id}", h_v1_delete)
    R("PATCH", "/stores/v2/inventoryItems/product/{productId}", h_v1_inventory_patch)
    R("POST", "/stores/v2/inventoryItems/increment", h_v1_increment)
    R("POST", "/stores/v2/inventoryItems/decrement", h_v1_decrement)
    R("POST", "/stores/v3/products", h_v3_create)
    R("PATCH", "/stores/v3/products/{id}", h_v3_update)
    R("DELETE", "/stores/v3/products/{id}", h_v3_delete)
    R("PATCH", "/stores/v3/inventory-items/{id}", h_inv_update)
    R("POST", "/stores/v3/bulk/inventory-items/increment", h_inv_increment)
    R("POST", "/stores/v3/bulk/inventory-items/decrement", h_inv_decrement)
    R("POST", "/_api/bookings-service/v2/bookings/{id}/confirm", h_booking_confirm)
    R("POST", "/_api/bookings-service/v2/bookings/{id}/decline", h_booking_decline)
    R("POST", "/_api/bookings-service/v2/bookings/{id}/cancel", h_booking_cancel)
    R("POST", "/_api/bookings-service/v2/bookings/{id}/reschedule", h_booking_reschedule)


# ====================================================================== routes
ROUTES = []  # (method, regex, handler, auth)


def add_routes():
    r = ROUTES.append

    def R(method, pattern, fn, auth=True):
        rx = re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern) + "$")
        r((method, rx, fn, auth))
    R("POST", "/oauth2/token", h_token, auth=False)
    R("POST", "/oauth2/token-info", h_token_info, auth=False)
    R("POST", "/ecom/v1/orders/search", h_orders_search)
    R("GET", "/ecom/v1/orders/{id}", h_order_get)
    R("POST", "/members/v1/members/query", h_members_query)
    R("GET", "/members/v1/members", h_members_list)
    R("GET", "/members/v1/members/{id}", h_member_get)
    R("GET", "/stores/v3/provision/version", h_catalog_version)
    R("POST", "/stores-reader/v1/products/query", h_v1_query)
    R("GET", "/stores-reader/v1/products/{id}", h_v1_get)
    for m in ("GET", "POST"):
        R(m, "/stores/v3/products/query", h_v3_query)
        R(m, "/stores/v3/products/search", h_v3_search)
        R(m, "/stores/v3/products/count", h_v3_count)
        R(m, "/stores/v3/inventory-items/query", h_inv_query)
    R("GET", "/stores/v3/products/{id}", h_v3_get)
    R("GET", "/stores/v3/inventory-items/{id}", h_inv_get)
    R("POST", "/_api/bookings-reader/v2/extended-bookings/query", h_xb_query)
    R("POST", "/_api/bookings-reader/v2/extended-bookings/count", h_xb_count)
    add_admin_routes(R)


# ====================================================================== control API
def control(st, method, path, params, body):
    """Returns (status, obj)."""
    p = path[len("/_emulator"):]
    if p in ("", "/", "/health") and method == "GET":
        return 200, {"ok": True, "catalog": st.args.catalog}
    if p == "/requests" and method == "GET":
        since = params.get("since", [None])[-1]
        with st.log_lock:
            reqs = list(st.log)
        if since is not None:
            try:
                s = int(since)
                reqs = [x for x in reqs if x["seq"] > s]
            except ValueError:
                pass
        return 200, {"requests": reqs}
    if p == "/requests/reset" and method == "POST":
        with st.log_lock:
            st.log.clear()
        return 200, {}
    m = re.match(r"^/data/([\w-]+)$", p)
    if m and method == "GET":
        kind = m.group(1)
        with st.lock:
            if kind == "orders":
                objs = st.idx["orders"].values()
            elif kind == "members":
                objs = st.idx["members"].values()
            elif kind == "bookings":
                objs = st.idx["bookings"].values()
            elif kind == "products":
                objs = st.idx["v1" if st.args.catalog == "V1" else "v3"].values()
            elif kind == "inventory-items":
                objs = st.idx["inv"].values()
            else:
                return 404, {"message": "unknown data kind %s" % kind}
            return 200, {kind: copy.deepcopy(sorted(objs, key=lambda o: o["id"]))}
    if p == "/tokens/expire" and method == "POST":
        with st.lock:
            for k in list(st.tokens):
                st.tokens[k] = (0, st.tokens[k][1])
        return 200, {"expired": len(st.tokens)}
    if p == "/config":
        if method == "POST":
            b = body if isinstance(body, dict) else {}
            with st.lock:
                if "token_ttl" in b:
                    st.token_ttl = int(b["token_ttl"])
                if "rate_limit_per_minute" in b:
                    st.rate_limit = int(b["rate_limit_per_minute"])
                    st.rate_window.clear()
        return 200, {"token_ttl": st.token_ttl, "rate_limit_per_minute": st.rate_limit,
                     "site_id": st.args.site_id, "account_id": st.args.account_id, "catalog": st.args.catalog}
    if p == "/faults":
        if method == "GET":
            with st.lock:
                return 200, {"faults": copy.deepcopy(st.faults)}
        if method == "DELETE":
            with st.lock:
                st.faults.clear()
            return 200, {}
        if method == "POST":
            b = body if isinstance(body, dict) else None
            if not b or not isinstance(b.get("match"), str):
                return 400, {"message": "fault needs a 'match' path prefix"}
            f = {"match": b["match"], "method": (b.get("method") or None), "times": int(b.get("times", 1)),
                 "status": int(b["status"]) if b.get("status") is not None else None,
                 "body": b.get("body"), "headers": b.get("headers") or {}, "delay_ms": int(b.get("delay_ms", 0)),
                 "truncate": bool(b.get("truncate", False)), "hang_ms": int(b.get("hang_ms", 0)),
                 "delay_after_apply_ms": int(b.get("delay_after_apply_ms", 0))}
            if f["method"]:
                f["method"] = f["method"].upper()
            with st.lock:
                st.faults.append(f)
            return 200, {"fault": f}
    if p == "/reset" and method == "POST":
        st.load()
        with st.lock:
            st.faults.clear()
            st.tokens.clear()
            st.cursor_store.clear()
            st.rate_window.clear()
            st.token_ttl = st.args.token_ttl
            st.rate_limit = st.args.rate_limit
        with st.log_lock:
            st.log.clear()
        return 200, {}
    return 404, {"message": "unknown control endpoint"}


# ====================================================================== HTTP
STATUS_TEXT = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
               405: "Method Not Allowed", 409: "Conflict", 428: "Precondition Required", 429: "Too Many Requests",
               500: "Internal Server Error", 501: "Not Implemented", 502: "Bad Gateway", 503: "Service Unavailable",
               504: "Gateway Timeout"}
DEFAULT_FAULT_CODES = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
                       409: "ALREADY_EXISTS", 428: "FAILED_PRECONDITION", 429: "RESOURCE_EXHAUSTED",
                       500: "INTERNAL", 501: "UNIMPLEMENTED", 502: "UNAVAILABLE", 503: "UNAVAILABLE",
                       504: "DEADLINE_EXCEEDED"}


def fault_body(status):
    code = DEFAULT_FAULT_CODES.get(status, "UNKNOWN")
    return {"message": "%s: injected fault" % code,
            "details": {"applicationError": {"code": code, "description": "Injected by the emulator", "data": {}}}}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "WixEmulator/1.0"
    sys_version = ""
    disable_nagle_algorithm = True
    state = None  # set on the class

    def log_message(self, fmt, *a):
        if self.state.args.verbose:
            sys.stderr.write("%s %s\n" % (self.address_string(), fmt % a))

    def do_GET(self):
        self.dispatch()

    do_POST = do_PATCH = do_PUT = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    # -------------------------------------------------------------- io
    def read_body(self):
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            chunks = []
            while True:
                line = self.rfile.readline(65537)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while True:
                        t = self.rfile.readline(65537)
                        if t in (b"\r\n", b"\n", b""):
                            break
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline(65537)
            return b"".join(chunks)
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def send(self, status, payload, headers=None, truncate=False, req_id=None):
        if isinstance(payload, Raw):
            data = payload.s.encode("utf-8")
        elif isinstance(payload, bytes):
            data = payload
        elif isinstance(payload, str):
            data = payload.encode("utf-8")
        else:
            data = dumps(payload).encode("utf-8")
        hdrs = {"Content-Type": "application/json"}
        if headers:
            hdrs.update(headers)
        if req_id:
            hdrs["X-Wix-Request-Id"] = req_id
        clen = len(data)
        if truncate:
            clen = len(data) + 1024 if data else 1024
            data = data[: len(data) // 2]
            self.close_connection = True
        lines = ["HTTP/1.1 %d %s" % (status, STATUS_TEXT.get(status, "Status"))]
        for k, v in hdrs.items():
            if k.lower() == "content-length":
                continue
            lines.append("%s: %s" % (k, v))
        lines.append("Content-Length: %d" % clen)
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")
        try:
            if self.command == "HEAD":
                self.wfile.write(head)
            else:
                self.wfile.write(head + data)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        if self.state.args.verbose:
            sys.stderr.write("%s %s -> %d (%d bytes)\n" % (self.command, self.path, status, len(data)))

    # -------------------------------------------------------------- dispatch
    def dispatch(self):
        st = self.state
        try:
            raw = self.read_body()
        except Exception:
            self.close_connection = True
            return
        u = urlsplit(self.path)
        path = unquote(u.path)
        params = parse_qs(u.query, keep_blank_values=True)
        method = self.command
        if path == "/_emulator" or path.startswith("/_emulator/"):
            body = None
            if raw:
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
            try:
                status, obj = control(st, method, path, params, body)
            except Exception as e:  # pragma: no cover
                status, obj = 500, {"message": "control error: %s" % e}
            self.send(status, obj, req_id=str(uuid.uuid4()))
            return
        req_id = "%s" % uuid.uuid4()
        with st.log_lock:
            st.seq += 1
            seq = st.seq
        entry = {"seq": seq, "method": method, "path": path, "query": params,
                 "headers": self.log_headers(path), "body": self.log_body(raw, path), "status": None}
        status, payload, extra_headers, truncate = self.process(st, method, path, params, raw, req_id)
        entry["status"] = status
        with st.log_lock:
            st.log.append(entry)
        self.send(status, payload, extra_headers, truncate, req_id)

    def log_headers(self, path):
        h = {}
        for k, v in self.headers.items():
            h[k.lower()] = v
        h["authorization"] = self.auth_kind()
        return h

    def log_body(self, raw, path):
        if not raw:
            return None
        try:
            b = json.loads(raw)
        except ValueError:
            return re.sub(r"(?i)(client_?secret=)[^&\s]*", r"\1***", raw.decode("utf-8", "replace"))
        if isinstance(b, dict):
            for k in ("client_secret", "clientSecret"):
                if k in b:
                    b[k] = "***"
            if path.startswith("/oauth2/token-info") and "token" in b:
                b["token"] = "***"
        return b

    def raw_auth(self):
        a = self.headers.get("Authorization")
        if a is None:
            return None
        a = a.strip()
        if a[:7].lower() == "bearer ":
            a = a[7:].strip()
        return a

    def auth_kind(self):
        a = self.raw_auth()
        if a is None:
            return "missing"
        if a in self.state.tokens:
            return "token"
        if a == self.state.args.api_key:
            return "api_key"
        return "invalid"

    def check_auth(self, st):
        a = self.raw_auth()
        if a is None or a == "":
            raise app_error(401, "UNAUTHENTICATED", "UNAUTHENTICATED: Missing Authorization header")
        ts = st.token_state(a)
        if ts == "valid":
            return
        if ts == "expired":
            raise app_error(401, "UNAUTHENTICATED", "UNAUTHENTICATED: token expired")
        if a == st.args.api_key:
            site = self.headers.get("wix-site-id")
            acct = self.headers.get("wix-account-id")
            if site is not None and acct is not None:
                raise app_error(400, "INVALID_ARGUMENT",
                                "INVALID_ARGUMENT: send exactly one of wix-site-id or wix-account-id, not both")
            if site is None:
                raise app_error(403, "PERMISSION_DENIED",
                                "PERMISSION_DENIED: a site-level API called with an API key requires the wix-site-id header")
            if site.strip() != st.args.site_id:
                raise app_error(403, "PERMISSION_DENIED", "PERMISSION_DENIED: API key has no access to site %s" % site.strip())
            return
        raise app_error(401, "UNAUTHENTICATED", "UNAUTHENTICATED: invalid access token or API key")

    def process(self, st, method, path, params, raw, req_id):
        """Returns (status, payload, headers, truncate)."""
        extra_headers = {}
        truncate = False
        fault = None
        with st.lock:
            for f in st.faults:
                if path.startswith(f["match"]) and (not f["method"] or f["method"] == method):
                    fault = dict(f)
                    f["times"] -= 1
                    if f["times"] <= 0:
                        st.faults.remove(f)
                    break
        if fault:
            wait = (fault["delay_ms"] + fault["hang_ms"]) / 1000.0
            if wait > 0:
                time.sleep(wait)
            extra_headers.update({str(k): str(v) for k, v in fault["headers"].items()})
            truncate = fault["truncate"]
            if fault["status"]:
                payload = fault["body"] if fault["body"] is not None else fault_body(fault["status"])
                return fault["status"], payload, extra_headers, truncate
        # rate limit (per instance, sliding 60 s window)
        if st.rate_limit > 0:
            with st.lock:
                now = time.monotonic()
                w = st.rate_window
                while w and w[0] <= now - 60:
                    w.popleft()
                if len(w) >= st.rate_limit:
                    retry = max(1, int(math.ceil(60 - (now - w[0]))))
                    extra_headers["Retry-After"] = str(retry)
                    return 429, {"message": "RESOURCE_EXHAUSTED: rate limit of %d requests per minute exceeded" % st.rate_limit,
                                 "details": {"applicationError": {"code": "RESOURCE_EXHAUSTED",
                                                                  "description": "Too many requests", "data": {}}}}, \
                        extra_headers, truncate
                w.append(now)
        target = None
        path_matched = False
        for m_, rx, fn, auth in ROUTES:
            mm = rx.match(path)
            if mm:
                path_matched = True
                if m_ == method:
                    target = (fn, auth, mm)
                    break
        if target is None:
            if path_matched:
                return 404, {"message": "NOT_FOUND: method %s is not supported on %s" % (method, path),
                             "details": {"applicationError": {"code": "NOT_FOUND", "description": "No such endpoint",
                                                              "data": {}}}}, extra_headers, truncate
            return 404, {"message": "Entity not found", "details": {"applicationError": {
                "code": "NOT_FOUND", "description": "No such endpoint: %s" % path, "data": {}}}}, extra_headers, truncate
        fn, auth, mm = target
        try:
            if auth:
                self.check_auth(st)
            body = None
            if raw:
                try:
                    body = json.loads(raw)
                except ValueError:
                    raise validation_error("body", "Request body is not valid JSON", "FORMAT",
                                           message="INVALID_ARGUMENT: request body is not valid JSON")
            req = Req()
            req.method, req.path, req.params, req.body, req.raw = method, path, params, body, raw
            req.m = mm.groupdict()
            req.headers = self.headers
            req.state = st
            with st.lock:
                result = fn(req)
            if fault and fault.get("delay_after_apply_ms"):
                # the change is done; only the answer is late (a timeout after Wix acted)
                time.sleep(fault["delay_after_apply_ms"] / 1000.0)
            if isinstance(result, tuple):
                return result[0], result[1], extra_headers, truncate
            return 200, result, extra_headers, truncate
        except ApiError as e:
            extra_headers.update(e.headers)
            return e.status, e.body, extra_headers, truncate
        except Exception as e:  # internal bug -> 500 with standard body
            if st.args.verbose:
                import traceback
                traceback.print_exc()
            return 500, {"message": "INTERNAL: %s" % e.__class__.__name__,
                         "details": {"applicationError": {"code": "INTERNAL", "description": str(e), "data": {}}}}, \
                extra_headers, truncate


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description="Wix REST API emulator")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--orders", type=int, default=1200)
    ap.add_argument("--members", type=int, default=250)
    ap.add_argument("--products", type=int, default=150)
    ap.add_argument("--bookings", type=int, default=180)
    ap.add_argument("--catalog", type=str.upper, choices=("V1", "V3", "NONE"), default="V3")
    ap.add_argument("--site-id", default="5e2f6a3b-1c4d-4e5f-8a9b-0c1d2e3f4a5b")
    ap.add_argument("--client-id", default="wix-emulator-app")
    ap.add_argument("--client-secret", default="wix-emulator-secret")
    ap.add_argument("--api-key", default="IST.wix-emulator-api-key")
    ap.add_argument("--account-id", default="7b1e0c2d-0000-4000-8000-00000000acc1")
    ap.add_argument("--instance-id", default="3c4d5e6f-0000-4000-8000-0000000000i1")
    ap.add_argument("--token-ttl", type=int, default=14400)
    ap.add_argument("--rate-limit", type=int, default=0)
    ap.add_argument("--verbose", action="store_true")
    a = ap.parse_args(argv)
    a.catalog = a.catalog.upper()
    return a


def main(argv=None):
    args = parse_args(argv)
    add_routes()
    st = State(args)
    Handler.state = st
    srv = Server(("127.0.0.1", args.port), Handler)
    sys.stdout.write("%d\n" % srv.server_address[1])
    sys.stdout.flush()
    try:
        srv.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        srv.server_close()


if __name__ == "__main__":
    main()
