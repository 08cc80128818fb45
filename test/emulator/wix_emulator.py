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
import socket
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
                     iso_ms, OPS_EQ, OPS_RANGE, ALL_STR, ALL_NUM, ALL_DATE, ALL_BOOL)

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
        v = self.ver[kind]
        hit = self.qcache.get(key)
        if hit is not None and hit[0] == v:
            self.qcache.move_to_end(key)
            return hit[1], hit[2]
        objs = self.idx[kind].values()
        items = [o for o in objs if pred(o)] if pred else list(objs)
        items, keys = sort_items(items, sort_fields)
        self.qcache[key] = (v, items, keys)
        if len(self.qcache) > 64:
            self.qcache.popitem(last=False)
        return items, keys

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
            c = decode_cursor(cursor)
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
        nxt = encode_cursor(dict(base, a="n", key=jsonable_key(keys[end - 1])))
    if start > 0 and page:
        prv = encode_cursor(dict(base, a="p", key=jsonable_key(keys[start])))
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
        if "MERCHANT_DATA" not in fields and with_variants and "variantsInfo" in out:
            pass
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


# ====================================================================== routes
ROUTES = []  # (method, regex, handler, auth)


def route(method, pattern, auth=True):
    rx = re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern) + "$")

    def deco(fn):
        ROUTES.append((method, rx, fn, auth))
        return fn
    return deco


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
    try:
        import emu_admin
        emu_admin.register(R)
    except ImportError:
        pass


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
                 "truncate": bool(b.get("truncate", False)), "hang_ms": int(b.get("hang_ms", 0))}
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
            self.send(status, obj)
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
            return raw.decode("utf-8", "replace")
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
            req.m = {k: unquote(v) for k, v in mm.groupdict().items()}
            req.headers = self.headers
            req.state = st
            with st.lock:
                result = fn(req)
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
