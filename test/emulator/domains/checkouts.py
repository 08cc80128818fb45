"""eCommerce abandoned checkouts: query (cursor or offset paging, paging
under "metadata"), search (cursor paging, filter, sort and free text,
paging under "pagingMetadata") and get."""
from api import body_obj, entity, need_obj
from emu_wql import ALL_DATE, ALL_STR, F, spec
from paging import EQ4, HAS, PREV_IF_ANY, cursor_metadata, either_paged_query, paged_answer, run_search

AC_OPS = ("$eq", "$ne", "$exists", "$in", "$hasSome")
AC_RANGE = AC_OPS + ("$gt", "$lt", "$lte", "$gte")
AC_QUERY_SPEC = spec(
    F("id", "str", AC_RANGE + ("$startsWith",), True), F("createdDate", "date", AC_RANGE, True),
    F("updatedDate", "date", AC_RANGE, True), F("status", "enum", AC_OPS, True),
    F("buyerInfo.contactId", "str", AC_RANGE + ("$startsWith",), True),
    F("buyerInfo.email", "str", AC_RANGE + ("$startsWith",), True),
    F("buyerInfo.memberId", "str", AC_RANGE + ("$startsWith",), True),
    F("buyerInfo.userId", "str", AC_RANGE + ("$startsWith",), True),
    F("buyerInfo.visitorId", "str", AC_RANGE + ("$startsWith",), True),
)
AC_SEARCH_SPEC = spec(
    F("id", "str", EQ4), F("status", "enum", EQ4), F("buyerInfo.contactId", "str", EQ4),
    F("buyerInfo.email", "str", EQ4), F("buyerInfo.memberId", "str", EQ4), F("buyerInfo.userId", "str", EQ4),
    F("buyerInfo.visitorId", "str", EQ4),
    F("createdDate", "date", ALL_DATE, True), F("updatedDate", "date", ALL_DATE, True),
    F("contactDetails.firstName", "str", ALL_STR), F("contactDetails.lastName", "str", ALL_STR),
    F("activities.type", "arr", HAS), F("appliedDiscounts.coupon.code", "arr", HAS),
)
AC_SEARCHABLE = ("buyerInfo.email", "contactDetails.firstName", "contactDetails.lastName")
AC_DEFAULT_SORT = [(AC_QUERY_SPEC["createdDate"], True)]


def h_checkouts_query(req):
    st = req.state
    q = need_obj(body_obj(req), "query")
    page, meta = either_paged_query(st, "checkouts", q, spec_=AC_QUERY_SPEC, default_sort=AC_DEFAULT_SORT,
                                    default=100, maximum=100, prev=PREV_IF_ANY, with_total=True)
    return paged_answer("abandonedCheckouts", [st.wire("checkouts", a) for a in page], "metadata", meta)


def h_checkouts_search(req):
    st = req.state
    page, nxt, prv = run_search(st, "checkouts", need_obj(body_obj(req), "search"), spec_=AC_SEARCH_SPEC,
                                searchable=AC_SEARCHABLE, default_fields=AC_SEARCHABLE,
                                default_sort=AC_DEFAULT_SORT, max_sort=4)
    return paged_answer("abandonedCheckouts", [st.wire("checkouts", a) for a in page], "pagingMetadata",
                        cursor_metadata(page, nxt, prv, prev=PREV_IF_ANY))


def h_checkout_get(req):
    st = req.state
    a = st.stored("checkouts", req.m["id"], "ABANDONED_CHECKOUT_NOT_FOUND", "Abandoned checkout")
    return entity("abandonedCheckout", st.wire("checkouts", a))
