"""Marketing coupons (Coupons V2): query with a JSON-string filter and sort
and offset paging (up to 100 a page; the total as totalResults)."""
from api import body_obj, entity, need_obj
from emu_wql import F, spec
from paging import paged_answer, run_offset_query, string_query

C_STR = ("$eq", "$ne", "$hasSome", "$contains", "$startsWith")
C_BOOL = ("$eq", "$ne")


def scope_fields(name, ops):
    """A scope field, accepted with and without the specification. prefix."""
    return (F(name, "str", ops, True, path="specification." + name), F("specification." + name, "str", ops, True))


COUPON_SPEC = spec(
    F("id", "str", C_STR, True), F("dateCreated", "num", ("$eq", "$ne", "$hasSome", "$lt", "$lte", "$gt", "$gte"), True),
    F("expired", "bool", C_BOOL), F("specification.active", "bool", C_BOOL),
    F("specification.limitedToOneItem", "bool", C_BOOL),
    F("specification.name", "str", C_STR, True), F("specification.code", "str", C_STR, True),
    F("specification.usageLimit", "num", ("$eq", "$ne", "$hasSome"), True),
    *scope_fields("scope.namespace", C_STR), *scope_fields("scope.group.name", C_STR),
    *scope_fields("scope.group.entityId", C_STR),
)
COUPON_DEFAULT_SORT = [(COUPON_SPEC["dateCreated"], True)]


def h_coupons_query(req):
    st = req.state
    filt, sort, limit, offset = string_query(need_obj(body_obj(req), "query"))
    items = run_offset_query(st, "coupons", filt=filt, sort_raw=sort, extra=None, spec_=COUPON_SPEC,
                             default_sort=COUPON_DEFAULT_SORT, sort_where="query.sort")
    page = items[offset:offset + limit]
    return paged_answer("coupons", [st.wire("coupons", c) for c in page], None, None, totalResults=len(items))


def h_coupon_get(req):
    st = req.state
    return entity("coupon", st.wire("coupons", st.stored("coupons", req.m["id"], "COUPON_NOT_FOUND", "Coupon")))
