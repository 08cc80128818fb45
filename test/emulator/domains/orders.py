"""eCommerce orders: search (cursor paging), get, cancel and update; their
transactions (list, payment status updates, added payments, refunds) and
fulfillments."""
import collections
import copy

import emu_data as D
from api import (ApiError, app_error, body_obj, cents_of, check_type, entity, need_obj, new_id,
                 stamp, unique_now_ms, validation_error)
from emu_wql import ALL_DATE, ALL_NUM, ALL_STR, F, filter_names_value, iso_ms, spec
from paging import (CMP6, CURSOR, EQ4, HAS, cursor_metadata, cursor_paging, paged_answer,
                    paging_kind, run_cursor_query)

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


# ---------------------------------------------------------------- reads
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
    s = need_obj(body_obj(req), "search")
    paging_kind(s, "search", CURSOR)
    limit, cursor = cursor_paging(s, "search")
    page, nxt, prv = run_cursor_query(
        st, "orders", filt=s.get("filter"), sort_raw=s.get("sort"), extra=None, cursor=cursor, limit=limit,
        spec_=ORDER_SPEC, max_sort=4, default_sort=ORDER_DEFAULT_SORT, where="search",
        pred_factory=order_visible_factory)
    return paged_answer("orders", [st.wire("orders", o) for o in page], "metadata",
                        cursor_metadata(page, nxt, prv, has_next=True))


def get_order(st, oid):
    return st.stored("orders", oid, "ORDER_NOT_FOUND", "Order")


def h_order_get(req):
    o = get_order(req.state, req.m["id"])
    return entity("order", req.state.wire("orders", o))


# ---------------------------------------------------------------- changes: orders, payments and refunds, fulfillments
def deep_merge(dst, src):
    for k, v in src.items():
        if isinstance(v, dict) and isinstance(dst.get(k), dict):
            deep_merge(dst[k], v)
        elif v is None:
            dst.pop(k, None)
        else:
            dst[k] = copy.deepcopy(v)


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
    return entity("order", st.wire("orders", o))


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
    return entity("order", st.wire("orders", o))


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
        set_status(p, "REFUNDED" if ref >= pay_cents(p) else "PARTIALLY_REFUNDED", now)
    for lid, q in li_ref.items():
        lmap[lid]["refundQuantity"] = lmap[lid].get("refundQuantity", 0) + q
    for lid, q in restock.items():
        lmap[lid]["restockQuantity"] = lmap[lid].get("restockQuantity", 0) + q
    t["_state"]["shipping_refunded"] = t["_state"].get("shipping_refunded", 0) + ship_c
    add_activity(o, "ORDER_REFUNDED")
    payments_changed(st, o)
    return {"refund": refund, "orderTransactions": txn_wire(oid, t)}


# ---------------------------------------------------------------- payment status, added payments
PAYMENT_STATUSES = ("APPROVED", "PENDING", "PENDING_MERCHANT", "CANCELED", "DECLINED", "REFUNDED",
                    "PARTIALLY_REFUNDED", "AUTHORIZED", "VOIDED")
SETTLED = ("APPROVED", "PARTIALLY_REFUNDED", "REFUNDED")
# the statuses update-payment-transaction-status may move a payment to, by its status
STATUS_MOVES = {"PENDING": ("APPROVED", "CANCELED", "DECLINED", "VOIDED"),
                "PENDING_MERCHANT": ("APPROVED", "CANCELED", "DECLINED", "VOIDED"),
                "AUTHORIZED": ("APPROVED", "VOIDED")}
PAYMENT_DETAILS = ("regularPaymentDetails", "giftcardPaymentDetails", "membershipPaymentDetails")


def set_status(p, status, now):
    """A payment's status (and the deprecated copy in regularPaymentDetails)."""
    p["status"] = status
    if "regularPaymentDetails" in p:
        p["regularPaymentDetails"]["status"] = status
    p["updatedDate"] = now


def payments_changed(st, o):
    """Recomputes the order's paymentStatus and balanceSummary from its
    payments and refunds (synchronously) and stamps the order."""
    t = order_txn(st, o["id"])
    cur = o.get("currency", "USD")

    def total_of(statuses):
        return sum(pay_cents(p) for p in t["payments"] if p.get("status") in statuses)
    total = cents_of(o["priceSummary"]["total"]["amount"], "total")
    paid = total_of(SETTLED)
    refunded = sum(refunded_cents(t, p["id"]) for p in t["payments"])
    authorized = total_of(("AUTHORIZED",))
    pending = total_of(("PENDING", "PENDING_MERCHANT"))
    if refunded:
        ps = "FULLY_REFUNDED" if refunded >= paid else "PARTIALLY_REFUNDED"
    elif paid and paid >= total:
        ps = "PAID"
    elif paid:
        ps = "PARTIALLY_PAID"
    elif authorized or pending:
        ps = "PENDING"
    else:
        ps = "NOT_PAID"
    o["paymentStatus"] = ps
    o.setdefault("balanceSummary", {}).update(
        balance=D.price(max(0, total - paid), cur), paid=D.price(paid, cur), refunded=D.price(refunded, cur),
        authorized=D.price(authorized, cur), pending=D.price(pending, cur))
    stamp(o)
    st.touch("orders", o["id"])


def update_payment_status(st, oid, pid, status):
    """Moves payment pid of order oid to status; the same status is a no-op."""
    o = get_order(st, oid)
    p = next((x for x in order_txn(st, oid)["payments"] if x["id"] == pid), None)
    if p is None:
        raise app_error(404, "PAYMENT_NOT_FOUND", "Payment %s not found in order %s" % (pid, oid), data={"paymentId": pid})
    if p["status"] != status:
        if status not in STATUS_MOVES.get(p["status"], ()):
            raise app_error(428, "STATUS_NOT_ALLOWED", "Payment %s cannot change from %s to %s" % (pid, p["status"], status),
                            data={"paymentId": pid})
        set_status(p, status, iso_ms(unique_now_ms()))
        payments_changed(st, o)
    return p


def payment_status_arg(b):
    status = b.get("status")
    if status is None:
        raise validation_error("status", "status is required", "REQUIRED_FIELD")
    if status not in PAYMENT_STATUSES:
        raise validation_error("status", "Invalid status '%s'" % (status,), "VALIDATION")
    return status


def h_payment_status_update(req):
    st = req.state
    oid = req.m["orderId"]
    update_payment_status(st, oid, req.m["paymentId"], payment_status_arg(body_obj(req)))
    return {"orderTransactions": txn_wire(oid, order_txn(st, oid))}


def h_payment_status_bulk(req):
    st = req.state
    b = body_obj(req)
    ids = b.get("paymentAndOrderIds")
    if not isinstance(ids, list) or not 1 <= len(ids) <= 300:
        raise validation_error("paymentAndOrderIds", "paymentAndOrderIds must contain 1..300 items", "MAX_SIZE")
    status = payment_status_arg(b)
    results = []
    for i, x in enumerate(ids):
        x = x if isinstance(x, dict) else {}
        meta = {"id": x.get("paymentId"), "originalIndex": i, "success": True}
        r = {"itemMetadata": meta}
        try:
            p = update_payment_status(st, str(x.get("orderId")), str(x.get("paymentId")), status)
            if b.get("returnFullEntity") is True:
                r["item"] = p
        except ApiError as e:
            err = e.body["details"]["applicationError"]
            meta.update(success=False, error={"code": err["code"], "description": err["description"]})
        results.append(r)
    ok = sum(r["itemMetadata"]["success"] for r in results)
    return {"results": results,
            "bulkActionMetadata": {"totalSuccesses": ok, "totalFailures": len(results) - ok, "undetailedFailures": 0}}


def new_payment(x, where, cur, known_ptx):
    """A payment recorded by add-payment from its request form x."""
    if not isinstance(x, dict):
        raise validation_error(where, "Expected an object", "FORMAT")
    amt = x.get("amount")
    amt = amt.get("amount") if isinstance(amt, dict) else None
    if amt is None:
        raise validation_error(where + ".amount.amount", "amount is required", "REQUIRED_FIELD")
    c = cents_of(amt, where + ".amount.amount")
    if c < 0:
        raise validation_error(where + ".amount.amount", "Must be greater than or equal to 0", "MIN")
    kinds = [k for k in PAYMENT_DETAILS if x.get(k) is not None]
    if len(kinds) > 1:
        raise validation_error(where, "Only one of %s may be set" % ", ".join(PAYMENT_DETAILS), "VALIDATION")
    kind = kinds[0] if kinds else "regularPaymentDetails"
    details = copy.deepcopy(x.get(kind) or {"offlinePayment": True, "paymentMethod": "Offline"})
    if not isinstance(details, dict):
        raise validation_error(where + "." + kind, "Expected an object", "FORMAT")
    status = x.get("status") or details.get("status") or "APPROVED"
    if status not in PAYMENT_STATUSES:
        raise validation_error(where + ".status", "Invalid status '%s'" % (status,), "VALIDATION")
    ptx = details.get("providerTransactionId")
    if ptx is not None and ptx in known_ptx:
        raise app_error(409, "DUPLICATE_PROVIDER_TRANSACTION_ID", "A payment with providerTransactionId %s already exists" % ptx)
    known_ptx.add(ptx)
    now = iso_ms(unique_now_ms())
    created = x.get("createdDate") if isinstance(x.get("createdDate"), str) else now
    p = {"id": new_id(), "createdDate": created, "updatedDate": now, "amount": D.price(c, cur),
         "refundDisabled": bool(x.get("refundDisabled")), "status": status, kind: details}
    if kind == "regularPaymentDetails":
        details["status"] = status
    return p


def h_add_payments(req):
    st = req.state
    o = get_order(st, req.m["orderId"])
    pays = body_obj(req).get("payments")
    if not isinstance(pays, list) or not 1 <= len(pays) <= 50:
        raise validation_error("payments", "payments must contain 1..50 items", "MAX_SIZE" if pays else "REQUIRED_FIELD")
    t = order_txn(st, o["id"])
    known = {(p.get("regularPaymentDetails") or {}).get("providerTransactionId") for p in t["payments"]} - {None}
    new = [new_payment(x, "payments[%d]" % i, o.get("currency", "USD"), known) for i, x in enumerate(pays)]
    t["payments"].extend(new)
    payments_changed(st, o)
    return {"orderTransactions": txn_wire(o["id"], t), "paymentsIds": [p["id"] for p in new]}


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
