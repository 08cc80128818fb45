"""Bookings: extended bookings (query: cursor or offset paging; count),
the booking actions confirm, decline, cancel and reschedule, and services
(Services V2: query with offset paging, count, get)."""
import copy

import emu_data as D
from api import app_error, body_obj, body_or_r, bump, dumps, entity, need_obj, validation_error
from emu_wql import ALL_BOOL, ALL_DATE, ALL_STR, F, iso_ms, spec
from paging import (EQ3, HAS, OFFSET, PREV_NEVER, either_paged_query, offset_metadata, offset_paging,
                    paged_answer, paging_kind, run_offset_query)

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


# ---------------------------------------------------------------- reads
BOOKING_DEFAULT_SORT = [(BOOKING_SPEC["id"], False)]
ACTIVE_BOOKING = ("CREATED", "CONFIRMED", "PENDING", "WAITING_LIST")


def allowed_actions(b):
    active = b.get("status") in ACTIVE_BOOKING
    return {"cancel": active, "reschedule": active, "bookAgain": b.get("status") in ("CONFIRMED", "CANCELED", "DECLINED")}


def xb_parts(st, page, with_actions):
    out = []
    for b in page:
        bj = st.wire("bookings", b)
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
    page, meta = either_paged_query(st, "bookings", q, spec_=BOOKING_SPEC, default_sort=BOOKING_DEFAULT_SORT,
                                    default=50, maximum=100, prev=PREV_NEVER, with_total=True)
    return paged_answer("extendedBookings", xb_parts(st, page, with_actions), "pagingMetadata", meta)


def h_xb_count(req):
    st = req.state
    b = body_or_r(req)
    items = run_offset_query(st, "bookings", filt=b.get("filter"), sort_raw=None, extra=None,
                             spec_=BOOKING_SPEC, default_sort=BOOKING_DEFAULT_SORT)
    return {"count": len(items)}


# ---------------------------------------------------------------- changes: confirm, decline, cancel, reschedule
BOOKING_PAYMENT_STATUSES = ("UNDEFINED", "NOT_PAID", "PAID", "PARTIALLY_PAID", "REFUNDED", "EXEMPT", "FAILED")


def get_booking(st, bid):
    return st.stored("bookings", bid, "BOOKING_NOT_FOUND", "Booking")


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
    return entity("booking", st.wire("bookings", b))


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


# ---------------------------------------------------------------- services
SERVICE_SPEC = spec(
    *(F(name, "str", ALL_STR, True) for name in ("id", "appId", "category.id", "category.name", "description", "form.id",
                                                 "mainSlug.name", "name", "tagLine")),
    F("type", "enum", ALL_STR, True),
    *(F(name, "bool", ALL_BOOL, True) for name in ("hidden", "onlineBooking.enabled", "payment.options.inPerson",
                                                   "payment.options.online", "payment.options.pricingPlan")),
    *(F(name, "date", ALL_DATE, True) for name in ("schedule.firstSessionStart", "schedule.lastSessionEnd",
                                                   "createdDate", "updatedDate")),
    *(F(name, "arr", HAS) for name in ("locations.business.id", "serviceResources.resourceIds.values",
                                       "staffMemberIds", "supportedSlugs.name")),
)
SERVICE_DEFAULT_SORT = [(SERVICE_SPEC["createdDate"], False)]
CONDITIONAL_FIELDS = ("STAFF_MEMBER_DETAILS", "RESOURCE_TYPE_DETAILS", "DISCOUNT_INFO_DETAILS", "RESOURCE_DETAILS")


def services_matching(st, filt, sort=None):
    return run_offset_query(st, "services", filt=filt, sort_raw=sort, extra=None, spec_=SERVICE_SPEC,
                            default_sort=SERVICE_DEFAULT_SORT, max_sort=50, sort_where="query.sort")


def h_services_query(req):
    st = req.state
    b = body_obj(req)
    q = need_obj(b, "query")
    paging_kind(q, "query", OFFSET)
    limit, offset = offset_paging(q, "query")
    cf = b.get("conditionalFields") or []
    if not isinstance(cf, list) or len(cf) > 5 or any(f not in CONDITIONAL_FIELDS for f in cf):
        raise validation_error("conditionalFields", "conditionalFields: at most 5 of %s" % ", ".join(CONDITIONAL_FIELDS),
                               "VALIDATION")
    items = services_matching(st, q.get("filter"), q.get("sort"))
    page = items[offset:offset + limit]
    return paged_answer("services", [st.wire("services", s) for s in page], "pagingMetadata",
                        offset_metadata(page, offset, total=len(items)))


def h_services_count(req):
    return {"count": len(services_matching(req.state, body_obj(req).get("filter")))}


def h_service_get(req):
    st = req.state
    return entity("service", st.wire("services", st.stored("services", req.m["serviceId"], "SERVICE_NOT_FOUND", "Service")))
