#!/usr/bin/env python3
"""What a user would write instead of wix_admin: a Python standard-library
script (urllib + json) that pages through one Wix endpoint.

    py_client.py orders|members count|rows BASE_URL [--bodies FILE]

The access token comes from the environment (WIX_BENCH_TOKEN), never the
command line.  It sends exactly the bodies wix_admin sends (test/bench/bench.py
checks that against the emulator's request log):

  orders   POST /ecom/v1/orders/search, the status filter wix_admin always
           sends, cursorPaging limit 100, following metadata.cursors.next
           (later pages carry only the cursor, as Wix wants);
  members  POST /members/v1/members/query, fieldsets FULL, sorted by
           createdDate ASC, paging offset/limit 100 up to metadata.total.

"count" counts the items of each page; "rows" also turns each item into a
tuple of the foreign table's columns (dates as datetime, money as Decimal,
nested objects kept), as a user building rows would, and keeps them all.
Prints one JSON line: {"rows": N, "pages": P, "cpu": S}, S being the CPU
time of the paging itself (time.process_time() after the imports, so
without the interpreter's start-up).  --bodies FILE writes the
request bodies sent, one JSON document a line (the curl floor replays them).
"""
import datetime
import decimal
import json
import os
import sys
import time
import urllib.request

LIMIT = 100
ORDER_STATUSES = ["APPROVED", "CANCELED", "PENDING", "REJECTED"]


def orders_body(cursor):
    if cursor is None:
        return {"search": {"filter": {"status": {"$in": ORDER_STATUSES}},
                           "cursorPaging": {"limit": LIMIT}}}
    return {"search": {"cursorPaging": {"limit": LIMIT, "cursor": cursor}}}


def members_body(offset):
    return {"fieldsets": ["FULL"],
            "query": {"sorting": [{"fieldName": "createdDate", "order": "ASC"}],
                      "paging": {"limit": LIMIT, "offset": offset}}}


def get(obj, path):
    for part in path.split("."):
        if not isinstance(obj, dict):
            return None
        obj = obj.get(part)
    return obj


def date(v):
    return datetime.datetime.fromisoformat(v) if v else None


def money(v):
    return decimal.Decimal(v) if v is not None else None


def text(v):
    return v


def integer(v):
    return int(v) if v is not None else None


# the columns of wix.orders and wix.members (README "Tables"), raw last
ORDER_COLUMNS = [
    ("id", text), ("number", integer), ("createdDate", date),
    ("updatedDate", date), ("purchasedDate", date), ("status", text),
    ("paymentStatus", text), ("fulfillmentStatus", text), ("archived", text),
    ("currency", text), ("buyerInfo.email", text), ("buyerInfo.memberId", text),
    ("buyerInfo.contactId", text), ("priceSummary.subtotal.amount", money),
    ("priceSummary.shipping.amount", money), ("priceSummary.tax.amount", money),
    ("priceSummary.discount.amount", money), ("priceSummary.total.amount", money),
    ("balanceSummary.balance.amount", money), ("channelInfo.type", text),
    ("lineItems", text), ("billingInfo", text), ("shippingInfo", text),
]
MEMBER_COLUMNS = [
    ("id", text), ("loginEmail", text), ("loginEmailVerified", text),
    ("status", text), ("privacyStatus", text), ("activityStatus", text),
    ("contactId", text), ("contact.firstName", text), ("contact.lastName", text),
    ("profile.nickname", text), ("profile.slug", text), ("createdDate", date),
    ("updatedDate", date), ("lastLoginDate", date), ("contact", text),
    ("profile", text),
]


def post(url, token, body):
    req = urllib.request.Request(
        url, data=json.dumps(body).encode(), method="POST",
        headers={"Authorization": token, "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as resp:
        return json.loads(resp.read())


def main():
    cpu0 = time.process_time()
    args = sys.argv[1:]
    bodies_file = None
    if "--bodies" in args:
        i = args.index("--bodies")
        bodies_file = args[i + 1]
        del args[i:i + 2]
    resource, mode, base = args
    token = os.environ["WIX_BENCH_TOKEN"]
    sent = []
    rows = []
    count = 0
    pages = 0
    if resource == "orders":
        url = base + "/ecom/v1/orders/search"
        key, columns = "orders", ORDER_COLUMNS
    else:
        url = base + "/members/v1/members/query"
        key, columns = "members", MEMBER_COLUMNS
    cursor = None
    offset = 0
    while True:
        body = orders_body(cursor) if resource == "orders" else members_body(offset)
        if bodies_file:
            sent.append(body)
        page = post(url, token, body)
        pages += 1
        items = page[key]
        count += len(items)
        if mode == "rows":
            for it in items:
                rows.append(tuple(conv(get(it, path)) for path, conv in columns) + (it,))
        meta = page["metadata"]
        if resource == "orders":
            cursor = (meta.get("cursors") or {}).get("next")
            if not cursor:
                break
        else:
            offset += LIMIT
            if not items or offset >= meta["total"]:
                break
    if bodies_file:
        with open(bodies_file, "w") as f:
            for b in sent:
                f.write(json.dumps(b, separators=(",", ":")) + "\n")
    print(json.dumps({"rows": count if mode == "count" else len(rows), "pages": pages,
                      "cpu": time.process_time() - cpu0}))


if __name__ == "__main__":
    main()
