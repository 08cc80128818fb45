"""Pricing-plan orders: the admin list (GET, flat query parameters or the
SDK's .r, top-level limit/offset up to 50 a page, one sorting object, no
WQL), get and mark-as-paid of offline orders."""
import copy

from api import app_error, decode_dot_r, entity, list_param, stamp, validation_error
from emu_wql import F, spec
from paging import EQ4, get_limit, get_offset, offset_metadata, paged_answer, run_offset_query

PLAN_ORDER_SPEC = spec(
    F("status", "enum", EQ4), F("lastPaymentStatus", "enum", EQ4), F("planId", "str", EQ4),
    F("buyer.memberId", "str", EQ4), F("autoRenewCanceled", "bool", EQ4),
    F("createdDate", "date", (), True), F("endDate", "date", (), True),
)
PLAN_ORDER_DEFAULT_SORT = [(PLAN_ORDER_SPEC["createdDate"], True)]
ORDER_STATUSES = ("UNDEFINED", "DRAFT", "PENDING", "ACTIVE", "PAUSED", "ENDED", "CANCELED")
PAYMENT_STATUSES = ("UNDEFINED", "PAID", "REFUNDED", "FAILED", "UNPAID", "PENDING", "NOT_APPLICABLE")
# list parameter -> (filtered field, allowed values or None)
LIST_FILTERS = {"orderStatuses": ("status", ORDER_STATUSES), "paymentStatuses": ("lastPaymentStatus", PAYMENT_STATUSES),
                "planIds": ("planId", None), "buyerIds": ("buyer.memberId", None)}


def scalar(req, dotted, r):
    """A flat parameter (sorting.fieldName) or the same field of .r."""
    v = req.param(dotted)
    if v is None:
        for k in dotted.split("."):
            r = r.get(k) if isinstance(r, dict) else None
        v = r
    return v


def field_set(req, r):
    fs = scalar(req, "fieldSet", r) or "BASIC"
    if fs not in ("BASIC", "FULL"):
        raise validation_error("fieldSet", "fieldSet must be BASIC or FULL", "VALIDATION")
    return fs


def order_json(st, o, fs):
    if fs == "FULL":
        return st.wire("plan-orders", o)

    def basic(o):
        b = copy.deepcopy(o)
        b["formData"].pop("submissionData", None)
        return b
    return st.obj_json("plan-orders", o, "basic", basic)


def list_filter(req, r):
    conds = []
    for name, (field, allowed) in LIST_FILTERS.items():
        values = list_param(req, name)
        if values:
            bad = [v for v in values if allowed is not None and v not in allowed]
            if bad:
                raise validation_error(name, "Invalid value '%s'" % bad[0], "VALIDATION")
            conds.append({field: {"$in": list(values)}})
    arc = scalar(req, "autoRenewCanceled", r)
    if arc is not None:
        if str(arc).lower() not in ("true", "false"):
            raise validation_error("autoRenewCanceled", "autoRenewCanceled must be a boolean", "FORMAT")
        conds.append({"autoRenewCanceled": str(arc).lower() == "true"})
    return {"$and": conds} if conds else None


def h_plan_orders_list(req):
    st = req.state
    r = decode_dot_r(req.params) or {}
    paging = {"limit": scalar(req, "limit", r), "offset": scalar(req, "offset", r)}
    limit = get_limit(paging, "limit", 50, 50)
    offset = get_offset(paging, "offset")
    fs = field_set(req, r)
    field = scalar(req, "sorting.fieldName", r)
    sort = [{"fieldName": field, "order": scalar(req, "sorting.order", r) or "ASC"}] if field else None
    items = run_offset_query(st, "plan-orders", filt=list_filter(req, r), sort_raw=sort, extra=None,
                             spec_=PLAN_ORDER_SPEC, default_sort=PLAN_ORDER_DEFAULT_SORT, sort_where="sorting")
    page = items[offset:offset + limit]
    return paged_answer("orders", [order_json(st, o, fs) for o in page], "pagingMetadata",
                        offset_metadata(page, offset, total=len(items)))


def get_plan_order(st, oid):
    return st.stored("plan-orders", oid, "ORDER_NOT_FOUND", "Order")


def h_plan_order_get(req):
    st = req.state
    o = get_plan_order(st, req.m["id"])
    return entity("order", order_json(st, o, field_set(req, decode_dot_r(req.params) or {})))


def h_plan_order_mark_paid(req):
    """An offline order not yet paid becomes PAID; a PENDING or DRAFT one ACTIVE."""
    st = req.state
    o = get_plan_order(st, req.m["id"])
    if o["type"] != "OFFLINE":
        raise app_error(428, "ORDER_NOT_OFFLINE", "Order %s is not an offline order" % o["id"])
    if o["lastPaymentStatus"] in ("PAID", "NOT_APPLICABLE"):
        raise app_error(428, "ORDER_ALREADY_PAID", "Order %s is already paid" % o["id"])
    o["lastPaymentStatus"] = "PAID"
    if o["status"] in ("PENDING", "DRAFT"):
        o["status"] = "ACTIVE"
    stamp(o)
    st.touch("plan-orders", o["id"])
    return {}
