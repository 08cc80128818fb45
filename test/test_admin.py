"""Admin actions end to end (issue 4): every admin function against the
emulators, for Catalog V1 and V3 and for both auth modes, with the effect
checked through the foreign tables afterwards; server choice, credentials,
privileges, path injection, the audit trail and the trigger example.

Each class works on entities no other test touches (see Pick); the module
resets both emulators to their seed data when it is done.
"""
import json
import os
import re
import subprocess
import unittest

from fixtures import (API_KEY, CLIENT_ID, CLIENT_SECRET, EMULATOR_URL,
                      EMULATOR_V1_URL, KEY, Emulator, create_database, items_of,
                      psql, psql_error, server_sql, standard_servers, wix)
import wixfault

DB = "wix_admin_actions"
emu = Emulator(EMULATOR_URL)
emu_v1 = Emulator(EMULATOR_V1_URL)
ZERO_VARIANT = "00000000-0000-0000-0000-000000000000"

# Strings that must never reach Wix as part of a path.
INJECTIONS = ["../x", "..", ".", "a/../b", "a/b", "x?y=1", "x#frag", "%2F",
              "a%2fb", "%2e%2e", "a b", " ", "", "x\ny", "x\\y", "é"]
API_PATH_INJECTIONS = ["", "ecom/v1/orders", "../ecom/v1/orders",
                       "/ecom/../oauth2/token", "/ecom/v1/./orders",
                       "/a/%2e%2e/b", "/a/%2E%2E/b", "/a%2fb",
                       "http://evil.example/x", "//evil.example/x",
                       "/x#frag", "/x y", "/x\ny", "/x\\y",
                       "/https://evil.example"]


def sql_literal(value):
    if value is None:
        return "NULL"
    return "'" + value.replace("'", "''") + "'"


def query(sql, **kw):
    return psql(sql, db=DB, **kw)


def value(sql):
    rows = query(sql)
    return rows[0][0] if rows else None


def error(sql):
    return psql_error(sql, db=DB)


def run(sql):
    """Run SQL; return (returncode, stdout, stderr) (LOG lines included
    when the script sets client_min_messages)."""
    proc = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-d", DB,
                           "-v", "ON_ERROR_STOP=1"],
                          input=sql, capture_output=True, text=True,
                          timeout=300)
    return proc.returncode, proc.stdout, proc.stderr


def dig(obj, path):
    for key in path.split("."):
        if isinstance(obj, list):
            obj = obj[int(key)]
        elif isinstance(obj, dict) and key in obj:
            obj = obj[key]
        else:
            return None
    return obj


def wix_requests(em, prefix="/"):
    """Requests wix_admin sent to the Wix API, oldest first (not the
    control API, not this suite's own look-ups through wix())."""
    return [r for r in em.requests() if r["path"].startswith(prefix)
            and not r["path"].startswith("/_emulator")
            and r["headers"].get("user-agent", "").startswith("wix_admin")]


class Pick:
    """Entities of the emulators' seed data, each handed out once."""
    taken = set()

    @classmethod
    def one(cls, em, kind, pred, key=None):
        for obj in items_of(em.data(kind), kind):
            if obj["id"] not in cls.taken and pred(obj):
                cls.taken.add(obj["id"])
                return obj
        raise AssertionError("no unused %s left matching the test's needs" % kind)


def payments_of(order_id):
    return wix(emu, "GET", "/ecom/v1/payments/orders/" + order_id)["orderTransactions"]["payments"]


def paid_order(offline=None, shipping=True):
    """An APPROVED, PAID order with one payment (online unless offline),
    with a shipping charge (or none)."""
    def pred(o):
        if o["status"] != "APPROVED" or o["paymentStatus"] != "PAID":
            return False
        charged = "shippingInfo" in o and float(o["priceSummary"]["shipping"]["amount"]) > 0
        if shipping != charged:
            return False
        pays = payments_of(o["id"])
        if len(pays) != 1:
            return False
        is_offline = pays[0]["regularPaymentDetails"]["offlinePayment"]
        return is_offline == bool(offline)
    order = Pick.one(emu, "orders", pred)
    emu.reset_log()  # the look-ups above are not the test's requests
    return order


def setUpModule():
    emu.reset()
    emu_v1.reset()
    # servers emu and emu_v1 with OAuth, emu_key and emu_v1_key with the API key
    create_database(DB, standard_servers() + standard_servers("_key", KEY))


def tearDownModule():
    emu.clear_faults()
    emu_v1.clear_faults()
    emu.reset()
    emu_v1.reset()


class ActionsBase:
    """Every admin function against the emulators.  Subclasses choose the
    servers (auth mode) and the schemas of their foreign tables."""
    SERVER = SERVER_V1 = SCHEMA = SCHEMA_V1 = None
    AUTH = None

    def setUp(self):
        emu.clear_faults()
        emu_v1.clear_faults()
        emu.reset_log()
        emu_v1.reset_log()

    def call(self, fn, *args, server=None, **named):
        parts = [sql_literal(a) if isinstance(a, str) or a is None else str(a)
                 for a in args]
        parts += ["%s => %s" % (k, sql_literal(v) if isinstance(v, str) or v is None
                                 else str(v).lower() if isinstance(v, bool) else str(v))
                  for k, v in named.items()]
        parts.append("server => %s" % sql_literal(server or self.SERVER))
        return json.loads(value("SELECT %s(%s)" % (fn, ", ".join(parts))))

    def assert_auth_mode(self, em):
        kinds = {r["headers"]["authorization"] for r in wix_requests(em)
                 if r["path"] != "/oauth2/token"}
        self.assertEqual(kinds, {"api_key" if self.AUTH == "api_key" else "token"})

    # -- orders ------------------------------------------------------------

    def test_refund_full(self):
        order = paid_order()
        result = self.call("wix_refund", order["id"], reason="damaged")
        self.assertIn("refund", result)
        self.assertEqual(value("SELECT payment_status FROM %s.orders WHERE id = '%s'"
                               % (self.SCHEMA, order["id"])), "FULLY_REFUNDED")
        paths = [r["path"] for r in wix_requests(emu, "/ecom/v1/order-billing")]
        self.assertEqual(paths, ["/ecom/v1/order-billing/get-order-refundability",
                                 "/ecom/v1/order-billing/refund-payments"])
        body = wix_requests(emu, "/ecom/v1/order-billing/refund-payments")[0]["body"]
        pay = payments_of(order["id"])[0]
        self.assertEqual(body["orderId"], order["id"])
        self.assertEqual(body["paymentRefunds"],
                         [{"paymentId": pay["id"],
                           "amount": {"amount": pay["amount"]["amount"]},
                           "externalRefund": False}])
        expected_items = [{"lineItemId": li["id"], "quantity": li["quantity"]}
                          for li in order["lineItems"]]
        self.assertEqual(body["refundItems"]["lineItems"], expected_items)
        self.assertEqual(body["refundItems"]["shipping"],
                         {"amount": {"amount": order["priceSummary"]["shipping"]["amount"]}})
        self.assertEqual(body["sideEffects"]["restock"]["lineItems"], expected_items)
        self.assertEqual(body["sideEffects"]["notifications"], {"sendCustomerEmail": False})
        self.assertEqual(body["customerReason"], "damaged")
        self.assert_auth_mode(emu)

    # wix_mark_order_paid (breadth.md §3.2)

    def order_with_payments(self, pred):
        """An APPROVED order, of the emulator's seed, whose payments match."""
        order = Pick.one(emu, "orders", lambda o: o["status"] == "APPROVED" and pred(o))
        emu.reset_log()
        return order

    def mark_paid_paths(self):
        return [(r["method"], r["path"]) for r in wix_requests(emu, "/ecom/v1/")]

    def assert_marked_paid_once(self, order):
        """The order is PAID through the foreign table; a second call sends
        no change and says alreadyPaid."""
        self.assertEqual(value("SELECT payment_status FROM %s.orders WHERE id = '%s'"
                               % (self.SCHEMA, order["id"])), "PAID")
        emu.reset_log()
        again = self.call("wix_mark_order_paid", order["id"])
        self.assertTrue(again["alreadyPaid"])
        self.assertEqual(again["orderId"], order["id"])
        self.assertEqual([m for m, _ in self.mark_paid_paths()], ["GET", "GET"])

    def test_mark_order_paid_approves_pending_offline_payment(self):
        def pending_offline(o):
            pays = payments_of(o["id"]) if o["paymentStatus"] == "PENDING" else []
            return len(pays) == 1 and pays[0]["status"] == "PENDING" and \
                pays[0]["regularPaymentDetails"]["offlinePayment"]
        order = self.order_with_payments(pending_offline)
        pay = payments_of(order["id"])[0]
        emu.reset_log()
        result = self.call("wix_mark_order_paid", order["id"])
        self.assertEqual([p["status"] for p in result["payments"]], ["APPROVED"])
        self.assertEqual(self.mark_paid_paths(),
                         [("GET", "/ecom/v1/payments/orders/" + order["id"]),
                          ("POST", "/ecom/v1/payments/%s/orders/%s/update-payment-transaction-status"
                           % (pay["id"], order["id"]))])
        body = wix_requests(emu, "/ecom/v1/payments/" + pay["id"])[0]["body"]
        self.assertEqual(body, {"paymentId": pay["id"], "orderId": order["id"], "status": "APPROVED"})
        self.assertEqual(value("SELECT outcome FROM wix_admin.action_log WHERE action = "
                               "'wix_mark_order_paid' AND target_id = '%s'" % order["id"]), "success")
        self.assert_marked_paid_once(order)
        self.assert_auth_mode(emu)

    def test_mark_order_paid_records_the_balance(self):
        for status, paid in (("NOT_PAID", 0), ("PARTIALLY_PAID", None)):
            with self.subTest(payment_status=status):
                order = self.order_with_payments(lambda o, s=status: o["paymentStatus"] == s)
                before = payments_of(order["id"])
                approved = sum(float(p["amount"]["amount"]) for p in before
                               if p["status"] == "APPROVED")
                if paid is not None:
                    self.assertEqual(approved, paid)
                total = float(order["priceSummary"]["total"]["amount"])
                emu.reset_log()
                result = self.call("wix_mark_order_paid", order["id"])
                self.assertEqual([m for m, _ in self.mark_paid_paths()], ["GET", "GET", "POST"])
                add = wix_requests(emu, "/ecom/v1/payments/orders/%s/add-payment" % order["id"])
                self.assertEqual(len(add), 1)
                sent = add[0]["body"]["payments"][0]
                self.assertAlmostEqual(float(sent["amount"]["amount"]), total - approved, places=2)
                self.assertEqual(sent["regularPaymentDetails"],
                                 {"offlinePayment": True, "status": "APPROVED", "paymentMethod": "Offline"})
                self.assertEqual(len(result["payments"]), len(before) + 1)
                self.assert_marked_paid_once(order)

    def test_mark_order_paid_unknown_order(self):
        err = error("SELECT wix_mark_order_paid('3f1c6a2e-0000-4c53-a0e2-00000000d0d0', '%s')"
                    % self.SERVER)
        self.assertIn("404", err)
        self.assertEqual([m for m, _ in self.mark_paid_paths()], ["GET"])

    def test_refund_offline_payment_is_external(self):
        order = paid_order(offline=True)
        self.call("wix_refund", order["id"], restock=False, notify_customer=True)
        body = wix_requests(emu, "/ecom/v1/order-billing/refund-payments")[0]["body"]
        self.assertTrue(body["paymentRefunds"][0]["externalRefund"])
        self.assertNotIn("restock", body["sideEffects"])
        self.assertEqual(body["sideEffects"]["notifications"], {"sendCustomerEmail": True})
        self.assertEqual(value("SELECT payment_status FROM %s.orders WHERE id = '%s'"
                               % (self.SCHEMA, order["id"])), "FULLY_REFUNDED")

    def test_refund_partial(self):
        order = paid_order()
        self.call("wix_refund", order["id"], "1.50")
        body = wix_requests(emu, "/ecom/v1/order-billing/refund-payments")[0]["body"]
        self.assertEqual(body["paymentRefunds"][0]["amount"], {"amount": "1.50"})
        self.assertNotIn("refundItems", body)
        self.assertEqual(value("SELECT payment_status FROM %s.orders WHERE id = '%s'"
                               % (self.SCHEMA, order["id"])), "PARTIALLY_REFUNDED")
        # the rest, in full: what is left of the payment
        self.call("wix_refund", order["id"])
        body = wix_requests(emu, "/ecom/v1/order-billing/refund-payments")[1]["body"]
        total = float(payments_of(order["id"])[0]["amount"]["amount"])
        self.assertAlmostEqual(float(body["paymentRefunds"][0]["amount"]["amount"]),
                               total - 1.5, places=2)
        self.assertEqual(value("SELECT payment_status FROM %s.orders WHERE id = '%s'"
                               % (self.SCHEMA, order["id"])), "FULLY_REFUNDED")

    def test_refund_amount_exceeds_refundable(self):
        order = paid_order()
        err = error("SELECT wix_refund('%s', 1000000, server => '%s')"
                    % (order["id"], self.SERVER))
        self.assertRegex(err, r"refund amount 1000000 exceeds the [0-9.]+ that order %s has left to refund"
                         % order["id"])
        self.assertEqual(wix_requests(emu, "/ecom/v1/order-billing/refund-payments"), [])
        self.assertEqual(value("SELECT payment_status FROM %s.orders WHERE id = '%s'"
                               % (self.SCHEMA, order["id"])), "PAID")

    def test_refund_invalid_amount(self):
        for amount in ("0", "-5", "'NaN'::numeric", "'Infinity'::numeric"):
            with self.subTest(amount=amount):
                err = error("SELECT wix_refund('%s', %s, server => '%s')"
                            % ("3f1c6a2e-9d1b-4c53-a0e2-7b5f0c2d9a11", amount, self.SERVER))
                self.assertIn("refund amount must be greater than zero", err)
        self.assertEqual(wix_requests(emu), [])

    def test_refund_not_refundable(self):
        order = Pick.one(emu, "orders", lambda o: o["status"] == "APPROVED"
                         and o["paymentStatus"] == "NOT_PAID")
        err = error("SELECT wix_refund('%s', server => '%s')" % (order["id"], self.SERVER))
        self.assertIn("order %s has nothing to refund" % order["id"], err)
        self.assertRegex(err, r"DETAIL:  Wix (says: payment \S+ is not refundable \(NOT_PAID\)"
                              r"|lists no payments for this order)")
        self.assertEqual(wix_requests(emu, "/ecom/v1/order-billing/refund-payments"), [])

    def test_refund_unknown_order(self):
        err = error("SELECT wix_refund('3f1c6a2e-0000-4c53-a0e2-7b5f0c2d9a11', server => '%s')"
                    % self.SERVER)
        self.assertIn("failed with HTTP 404", err)
        self.assertIn("Wix request id: ", err)
        self.assertIn("HINT:  Check the id", err)

    def test_refund_retries_reads_not_the_refund(self):
        """A 503 on the refundability read is retried; a 503 on
        refund-payments is not (Wix may have refunded): the error says so."""
        order = paid_order()
        emu.fault(match="/ecom/v1/order-billing/get-order-refundability", status=503, times=1)
        query("SET wix_admin.retry_base_delay = 1; SELECT wix_refund('%s', 1, server => '%s')"
              % (order["id"], self.SERVER))
        self.assertEqual(len(wix_requests(emu, "/ecom/v1/order-billing/get-order-refundability")), 2)
        emu.reset_log()
        emu.fault(match="/ecom/v1/order-billing/refund-payments", status=503, times=1)
        err = error("SET wix_admin.retry_base_delay = 1; SELECT wix_refund('%s', 1, server => '%s')"
                    % (order["id"], self.SERVER))
        self.assertIn("failed with HTTP 503", err)
        self.assertEqual(len(wix_requests(emu, "/ecom/v1/order-billing/refund-payments")), 1)
        self.assertEqual(query("SELECT count(*) FROM wix_admin.action_log WHERE target_id = '%s'"
                               % order["id"]), [["1"]])

    def test_cancel_order(self):
        order = Pick.one(emu, "orders", lambda o: o["status"] == "APPROVED"
                         and o["paymentStatus"] == "NOT_PAID")
        result = self.call("wix_cancel_order", order["id"])
        self.assertEqual(result["id"], order["id"])
        self.assertEqual(result["status"], "CANCELED")
        self.assertEqual(value("SELECT status FROM %s.orders WHERE id = '%s'"
                               % (self.SCHEMA, order["id"])), "CANCELED")
        req = wix_requests(emu, "/ecom/v1/orders/%s/cancel" % order["id"])[0]
        self.assertEqual(req["body"], {"sendOrderCanceledEmail": False, "restockAllItems": True})

    def test_cancel_pending_order_is_refused(self):
        order = Pick.one(emu, "orders", lambda o: o["status"] == "PENDING")
        err = error("SELECT wix_cancel_order('%s', server => '%s')" % (order["id"], self.SERVER))
        self.assertIn("failed with HTTP 428", err)
        self.assertIn("Wix error code: ORDER_IS_PENDING", err)

    def test_fulfill_order(self):
        order = Pick.one(emu, "orders", lambda o: o["status"] == "APPROVED"
                         and o["fulfillmentStatus"] == "NOT_FULFILLED"
                         and len(o["lineItems"]) >= 2)
        result = self.call("wix_fulfill_order", order["id"], "1Z999AA10123456784", "ups")
        self.assertIn("fulfillmentId", result)
        self.assertEqual(value("SELECT fulfillment_status FROM %s.orders WHERE id = '%s'"
                               % (self.SCHEMA, order["id"])), "FULFILLED")
        body = wix_requests(emu, "/ecom/v1/fulfillments/orders/%s/create-fulfillment"
                            % order["id"])[0]["body"]
        self.assertEqual(body["fulfillment"]["lineItems"],
                         [{"id": li["id"], "quantity": li["quantity"]} for li in order["lineItems"]])
        self.assertEqual(body["fulfillment"]["trackingInfo"],
                         {"trackingNumber": "1Z999AA10123456784", "shippingProvider": "ups"})
        err = error("SELECT wix_fulfill_order('%s', server => '%s')" % (order["id"], self.SERVER))
        self.assertIn("order %s has nothing left to fulfill" % order["id"], err)

    def test_fulfill_order_partially_fulfilled(self):
        order = Pick.one(emu, "orders", lambda o: o["fulfillmentStatus"] == "PARTIALLY_FULFILLED")
        before = wix(emu, "GET", "/ecom/v1/fulfillments/orders/" + order["id"])
        done = {}
        for f in before["orderWithFulfillments"]["fulfillments"]:
            for li in f["lineItems"]:
                done[li["id"]] = done.get(li["id"], 0) + li["quantity"]
        emu.reset_log()
        self.call("wix_fulfill_order", order["id"], "TRK-%s" % order["id"][:8], "Acme Post",
                  "https://track.example/%s" % order["id"][:8])
        body = wix_requests(emu, "/ecom/v1/fulfillments/orders/%s/create-fulfillment"
                            % order["id"])[0]["body"]
        self.assertEqual(body["fulfillment"]["lineItems"],
                         [{"id": li["id"], "quantity": li["quantity"] - done.get(li["id"], 0)}
                          for li in order["lineItems"] if li["quantity"] > done.get(li["id"], 0)])
        self.assertEqual(value("SELECT fulfillment_status FROM %s.orders WHERE id = '%s'"
                               % (self.SCHEMA, order["id"])), "FULFILLED")

    def test_fulfill_order_without_tracking(self):
        order = Pick.one(emu, "orders", lambda o: o["status"] == "APPROVED"
                         and o["fulfillmentStatus"] == "NOT_FULFILLED")
        self.call("wix_fulfill_order", order["id"])
        body = wix_requests(emu, "/ecom/v1/fulfillments/orders/%s/create-fulfillment"
                            % order["id"])[0]["body"]
        self.assertEqual(body["fulfillment"]["customInfo"], {"fieldsData": {}})
        self.assertEqual(value("SELECT fulfillment_status FROM %s.orders WHERE id = '%s'"
                               % (self.SCHEMA, order["id"])), "FULFILLED")

    def test_fulfill_order_tracking_arguments(self):
        err = error("SELECT wix_fulfill_order('abc', '1Z', server => '%s')" % self.SERVER)
        self.assertIn("tracking_number needs a shipping_provider", err)
        err = error("SELECT wix_fulfill_order('abc', NULL, 'ups', server => '%s')" % self.SERVER)
        self.assertIn("need a tracking_number", err)
        self.assertEqual(wix_requests(emu), [])

    def test_archive_order(self):
        order = Pick.one(emu, "orders", lambda o: o["status"] == "APPROVED" and not o["archived"])
        result = self.call("wix_archive_order", order["id"])
        self.assertTrue(result["archived"])
        self.assertEqual(value("SELECT archived FROM %s.orders WHERE id = '%s'"
                               % (self.SCHEMA, order["id"])), "t")
        req = wix_requests(emu, "/ecom/v1/orders/" + order["id"])[0]
        self.assertEqual((req["method"], req["body"]),
                         ("PATCH", {"order": {"id": order["id"], "archived": True}}))
        self.call("wix_archive_order", order["id"], False)
        self.assertEqual(value("SELECT archived FROM %s.orders WHERE id = '%s'"
                               % (self.SCHEMA, order["id"])), "f")

    # -- members -----------------------------------------------------------

    def test_member_lifecycle(self):
        email = "new.member.%s@example.com" % self.AUTH
        member = self.call("wix_create_member", email, "Zoë", "O'Hara", "zoe")
        self.assertEqual(member["loginEmail"], email)
        self.assertEqual(query("SELECT first_name, last_name, nickname FROM %s.members WHERE id = '%s'"
                               % (self.SCHEMA, member["id"])), [["Zoë", "O'Hara", "zoe"]])
        req = wix_requests(emu, "/members/v1/members")[0]
        self.assertEqual(req["body"], {"member": {"loginEmail": email,
                                                  "contact": {"firstName": "Zoë", "lastName": "O'Hara"},
                                                  "profile": {"nickname": "zoe"}}})
        self.assertEqual(self.call("wix_block_member", member["id"])["status"], "BLOCKED")
        self.assertEqual(value("SELECT status FROM %s.members WHERE id = '%s'"
                               % (self.SCHEMA, member["id"])), "BLOCKED")
        self.assertEqual(self.call("wix_approve_member", member["id"])["status"], "APPROVED")
        deleted = self.call("wix_delete_member", member["id"])
        self.assertEqual(deleted, {"id": member["id"], "deleted": True})
        self.assertEqual(value("SELECT count(*) FROM %s.members WHERE id = '%s'"
                               % (self.SCHEMA, member["id"])), "0")
        err = error("SELECT wix_approve_member('%s', server => '%s')" % (member["id"], self.SERVER))
        self.assertIn("failed with HTTP 404", err)

    def test_approve_pending_member(self):
        member = Pick.one(emu, "members", lambda m: m["status"] == "PENDING")
        self.assertEqual(value("SELECT status FROM %s.members WHERE id = '%s'"
                               % (self.SCHEMA, member["id"])), "PENDING")
        result = self.call("wix_approve_member", member["id"])
        self.assertEqual(result["status"], "APPROVED")
        self.assertEqual(value("SELECT status FROM %s.members WHERE id = '%s'"
                               % (self.SCHEMA, member["id"])), "APPROVED")
        req = wix_requests(emu, "/members/v1/members/%s/approve" % member["id"])[0]
        self.assertEqual((req["method"], req["body"]), ("POST", {}))
        self.assert_auth_mode(emu)

    def test_create_member_bad_email(self):
        for email in ("", "no-at-sign", "@example.com", "a@", "a b@example.com"):
            with self.subTest(email=email):
                err = error("SELECT wix_create_member(%s, server => '%s')"
                            % (sql_literal(email), self.SERVER))
                self.assertRegex(err, "login_email (must not be empty|.* is not an email address)")
        self.assertEqual(wix_requests(emu), [])

    # -- products ----------------------------------------------------------

    def test_product_lifecycle_v3(self):
        product = self.call("wix_create_product", "Blue mug %s" % self.AUTH, "12.50", "MUG-%s" % self.AUTH,
                            description="<p>Blue</p>")
        self.assertEqual(query("SELECT name, price, visible, revision FROM %s.products WHERE id = '%s'"
                               % (self.SCHEMA, product["id"])),
                         [["Blue mug %s" % self.AUTH, "12.50", "t", "1"]])
        self.assertEqual(product["variantsInfo"]["variants"][0]["sku"], "MUG-%s" % self.AUTH)
        body = [r for r in wix_requests(emu, "/stores/v3/products")
                if (r["method"], r["path"]) == ("POST", "/stores/v3/products")][0]["body"]
        self.assertEqual(body["product"]["productType"], "PHYSICAL")
        self.assertEqual(body["product"]["variantsInfo"]["variants"][0]["price"],
                         {"actualPrice": {"amount": "12.50"}})
        updated = self.call("wix_update_product", product["id"], '{"name": "Big mug %s"}' % self.AUTH)
        self.assertEqual(updated["revision"], "2")
        self.assertEqual(query("SELECT name, revision FROM %s.products WHERE id = '%s'"
                               % (self.SCHEMA, product["id"])), [["Big mug %s" % self.AUTH, "2"]])
        patch = [r for r in wix_requests(emu, "/stores/v3/products/" + product["id"])
                 if r["method"] == "PATCH"][0]
        # the fields of the products table's scan: the answer reads the same
        self.assertEqual(patch["body"], {"product": {"name": "Big mug %s" % self.AUTH,
                                                     "id": product["id"], "revision": "1"},
                                         "fields": ["CURRENCY", "MIN_PRICE_VARIANT", "PLAIN_DESCRIPTION"]})
        self.assertEqual(self.call("wix_delete_product", product["id"]),
                         {"id": product["id"], "deleted": True})
        self.assertEqual(value("SELECT count(*) FROM %s.products WHERE id = '%s'"
                               % (self.SCHEMA, product["id"])), "0")

    def test_product_lifecycle_v1(self):
        product = self.call("wix_create_product", "Green mug %s" % self.AUTH, "9.90", "GM-%s" % self.AUTH,
                            visible=False, server=self.SERVER_V1)
        self.assertEqual(query("SELECT name, price, sku, visible, product_type FROM %s.products WHERE id = '%s'"
                               % (self.SCHEMA_V1, product["id"])),
                         [["Green mug %s" % self.AUTH, "9.9", "GM-%s" % self.AUTH, "f", "physical"]])
        body = [r for r in wix_requests(emu_v1, "/stores/v1/products")
                if (r["method"], r["path"]) == ("POST", "/stores/v1/products")][0]["body"]
        self.assertEqual(body["product"]["priceData"], {"price": 9.90})
        self.call("wix_update_product", product["id"], '{"priceData": {"price": 7.5}}',
                  server=self.SERVER_V1)
        self.assertEqual(value("SELECT price FROM %s.products WHERE id = '%s'"
                               % (self.SCHEMA_V1, product["id"])), "7.5")
        self.assertEqual(self.call("wix_delete_product", product["id"], server=self.SERVER_V1),
                         {"id": product["id"], "deleted": True})
        self.assertEqual(value("SELECT count(*) FROM %s.products WHERE id = '%s'"
                               % (self.SCHEMA_V1, product["id"])), "0")
        self.assert_auth_mode(emu_v1)

    def test_update_product_stale_revision(self):
        product = self.call("wix_create_product", "Stale %s" % self.AUTH, 3)
        self.call("wix_update_product", product["id"], '{"name": "Fresh %s"}' % self.AUTH)
        emu.reset_log()
        err = error("""SELECT wix_update_product('%s', '{"name": "X", "revision": "1"}', server => '%s')"""
                    % (product["id"], self.SERVER))
        self.assertIn("failed with HTTP 409", err)
        self.assertIn("REVISION_MISMATCH", err)
        self.assertEqual(len([r for r in wix_requests(emu) if r["method"] == "PATCH"]), 1)
        self.assertEqual(value("SELECT name FROM %s.products WHERE id = '%s'"
                               % (self.SCHEMA, product["id"])), "Fresh %s" % self.AUTH)

    def test_update_product_retries_a_revision_conflict_once(self):
        product = self.call("wix_create_product", "Conflict %s" % self.AUTH, 3)
        emu.reset_log()
        emu.fault(match="/stores/v3/products/" + product["id"], method="PATCH", status=409, times=1,
                  body={"message": "revision mismatch",
                        "details": {"applicationError": {"code": "REVISION_MISMATCH"}}})
        self.call("wix_update_product", product["id"], '{"name": "Resolved %s"}' % self.AUTH)
        methods = [r["method"] for r in wix_requests(emu, "/stores/v3/products/" + product["id"])]
        self.assertEqual(methods, ["GET", "PATCH", "GET", "PATCH"])
        self.assertEqual(value("SELECT name FROM %s.products WHERE id = '%s'"
                               % (self.SCHEMA, product["id"])), "Resolved %s" % self.AUTH)
        self.assertEqual(query("SELECT outcome, error FROM wix_admin.action_log "
                               "WHERE action = 'wix_update_product' AND target_id = '%s'" % product["id"]),
                         [["success", "revision conflict (HTTP 409) on the first attempt; "
                                      "re-read the revision and retried once"]])

    def test_update_product_table_columns_v3(self):
        product = self.call("wix_create_product", "Column mug %s" % self.AUTH, 5, "CM-%s" % self.AUTH)
        variant = product["variantsInfo"]["variants"][0]
        emu.reset_log()
        updated = self.call("wix_update_product", product["id"],
                            '{"price": "6.25", "sku": "CM2-%s", "description": "<p>Tall</p>", "visible": false}'
                            % self.AUTH)
        patch = [r for r in wix_requests(emu, "/stores/v3/products/" + product["id"]) if r["method"] == "PATCH"]
        self.assertEqual(len(patch), 1)
        sent = patch[0]["body"]["product"]
        self.assertEqual(sorted(sent), ["id", "plainDescription", "revision", "variantsInfo", "visible"])
        self.assertEqual([(v["id"], v["sku"], v["price"]["actualPrice"]) for v in sent["variantsInfo"]["variants"]],
                         [(variant["id"], "CM2-%s" % self.AUTH, {"amount": "6.25"})])
        self.assertEqual((updated["plainDescription"], updated["variantSummary"]["minPriceVariant"]["sku"]),
                         ("<p>Tall</p>", "CM2-%s" % self.AUTH))
        self.assertEqual(query("SELECT price, sku, description, visible FROM %s.products WHERE id = '%s'"
                               % (self.SCHEMA, product["id"])),
                         [["6.25", "CM2-%s" % self.AUTH, "<p>Tall</p>", "f"]])
        # Wix's own rich-content description is a field as given
        rich = '{"nodes": [{"type": "PARAGRAPH", "id": "p1", "nodes": []}]}'
        self.call("wix_update_product", product["id"], '{"description": %s}' % rich)
        sent = [r for r in wix_requests(emu, "/stores/v3/products/" + product["id"])
                if r["method"] == "PATCH"][-1]["body"]["product"]
        self.assertEqual(sent["description"], json.loads(rich))
        self.assertNotIn("plainDescription", sent)

    def test_update_product_table_columns_v1(self):
        product = self.call("wix_create_product", "Column cup %s" % self.AUTH, 5, server=self.SERVER_V1)
        emu_v1.reset_log()
        self.call("wix_update_product", product["id"],
                  '{"price": 6.5, "sku": "CC-%s", "description": "<p>Short</p>"}' % self.AUTH,
                  server=self.SERVER_V1)
        patch = [r for r in wix_requests(emu_v1, "/stores/v1/products/" + product["id"])]
        self.assertEqual([(r["method"], r["body"]) for r in patch],
                         [("PATCH", {"product": {"sku": "CC-%s" % self.AUTH, "description": "<p>Short</p>",
                                                 "priceData": {"price": 6.5}}})])
        self.assertEqual(query("SELECT price, sku, description FROM %s.products WHERE id = '%s'"
                               % (self.SCHEMA_V1, product["id"])),
                         [["6.5", "CC-%s" % self.AUTH, "<p>Short</p>"]])

    def test_create_product_types(self):
        product = self.call("wix_create_product", "Song %s" % self.AUTH, 1, product_type="Digital")
        self.assertEqual(product["productType"], "DIGITAL")
        self.assertEqual(value("SELECT product_type FROM %s.products WHERE id = '%s'"
                               % (self.SCHEMA, product["id"])), "DIGITAL")
        emu_v1.reset_log()
        err = error("SELECT wix_create_product('Song', 1, product_type => 'digital', server => '%s')"
                    % self.SERVER_V1)
        self.assertIn("cannot create a digital product on a site with Stores Catalog V1", err)
        # the token and which catalog the site runs, nothing else
        self.assertEqual([r["path"] for r in wix_requests(emu_v1)
                          if r["path"] not in ("/oauth2/token", "/stores/v3/provision/version")], [])
        err = error("SELECT wix_create_product('Song', 1, product_type => 'gift', server => '%s')" % self.SERVER)
        self.assertIn('product_type must be PHYSICAL or DIGITAL, not "gift"', err)

    def test_update_product_bad_changes(self):
        for changes, message in (("'[]'", "changes must be a JSON object"),
                                 ("'{}'", "changes must name at least one field"),
                                 ("'{\"id\": \"other\"}'", "changes has an \"id\" other than product_id"),
                                 ("'{\"price\": -1}'", "price must be zero or more, not -1"),
                                 ("'{\"price\": \"cheap\"}'", "changes has a \"price\" that is not a number"),
                                 ("'{\"price\": null}'", "changes has a \"price\" that is not a number"),
                                 ("'{\"sku\": 5}'", "changes has a \"sku\" that is not a string"),
                                 ("NULL", "changes must not be NULL")):
            with self.subTest(changes=changes):
                err = error("SELECT wix_update_product('abc', %s, server => '%s')" % (changes, self.SERVER))
                self.assertIn(message, err)
        self.assertEqual(wix_requests(emu), [])

    # -- inventory ---------------------------------------------------------

    def test_set_and_adjust_inventory_v1(self):
        product = Pick.one(emu_v1, "products", lambda p: not p.get("manageVariants"))
        result = self.call("wix_set_inventory", product["id"], 42, server=self.SERVER_V1)
        self.assertEqual(result["id"], product["id"])
        self.assertEqual(value("SELECT quantity FROM %s.products WHERE id = '%s'"
                               % (self.SCHEMA_V1, product["id"])), "42")
        patch = wix_requests(emu_v1, "/stores/v2/inventoryItems/product/" + product["id"])[0]
        self.assertEqual((patch["method"], patch["body"]),
                         ("PATCH", {"inventoryItem": {"trackQuantity": True, "variants": [
                             {"variantId": ZERO_VARIANT, "quantity": 42}]}}))
        self.call("wix_adjust_inventory", product["id"], 5, server=self.SERVER_V1)
        self.call("wix_adjust_inventory", product["id"], -7, server=self.SERVER_V1)
        self.assertEqual(value("SELECT quantity FROM %s.products WHERE id = '%s'"
                               % (self.SCHEMA_V1, product["id"])), "40")
        inc = wix_requests(emu_v1, "/stores/v2/inventoryItems/increment")[0]["body"]
        self.assertEqual(inc, {"incrementData": [{"productId": product["id"], "variantId": ZERO_VARIANT,
                                                  "incrementBy": 5}]})
        dec = wix_requests(emu_v1, "/stores/v2/inventoryItems/decrement")[0]["body"]
        self.assertEqual(dec, {"decrementData": [{"productId": product["id"], "variantId": ZERO_VARIANT,
                                                  "decrementBy": 7, "preorderRequest": False}]})
        err = error("SELECT wix_adjust_inventory('%s', -41, server => '%s')"
                    % (product["id"], self.SERVER_V1))
        self.assertIn("failed with HTTP 428", err)
        self.assertEqual(value("SELECT quantity FROM %s.products WHERE id = '%s'"
                               % (self.SCHEMA_V1, product["id"])), "40")

    def test_set_inventory_v1_product_with_variants(self):
        product = Pick.one(emu_v1, "products", lambda p: p.get("manageVariants")
                           and len(p.get("variants") or []) > 1)
        err = error("SELECT wix_set_inventory('%s', 3, server => '%s')" % (product["id"], self.SERVER_V1))
        self.assertIn("product %s has variants: pass variant_id" % product["id"], err)
        variant = product["variants"][1]["id"]
        result = self.call("wix_set_inventory", product["id"], 3, variant, server=self.SERVER_V1)
        got = [v for v in result["variants"] if v["id"] == variant][0]
        self.assertEqual(got["stock"]["quantity"], 3)

    def test_set_and_adjust_inventory_v3(self):
        product = Pick.one(emu, "products", lambda p: p.get("variantSummary", {}).get("variantCount", 1) == 1)
        result = self.call("wix_set_inventory", product["id"], 17)
        self.assertEqual(result["productId"], product["id"])
        self.assertEqual(result["quantity"], 17)
        item_id = result["id"]
        seen = self.call("wix_api", "GET", "/stores/v3/inventory-items/" + item_id)
        self.assertEqual(seen["inventoryItem"]["quantity"], 17)
        self.assertEqual(value("SELECT inventory_status FROM %s.products WHERE id = '%s'"
                               % (self.SCHEMA, product["id"])), "IN_STOCK")
        query_req = wix_requests(emu, "/stores/v3/inventory-items/query")[0]["body"]
        self.assertEqual(query_req["query"]["filter"], {"productId": product["id"]})
        patch = wix_requests(emu, "/stores/v3/inventory-items/" + item_id)[0]
        self.assertEqual(patch["method"], "PATCH")
        self.assertEqual(patch["body"]["inventoryItem"]["quantity"], 17)
        self.assertRegex(patch["body"]["inventoryItem"]["revision"], r"^\d+$")
        self.assertEqual(patch["body"]["reason"], "MANUAL")
        after = self.call("wix_adjust_inventory", product["id"], 3)
        self.assertEqual(after["quantity"], 20)
        after = self.call("wix_adjust_inventory", product["id"], -20)
        self.assertEqual(after["quantity"], 0)
        self.assertEqual(value("SELECT inventory_status FROM %s.products WHERE id = '%s'"
                               % (self.SCHEMA, product["id"])), "OUT_OF_STOCK")
        err = error("SELECT wix_adjust_inventory('%s', -1, server => '%s')" % (product["id"], self.SERVER))
        self.assertIn("Wix could not decrement the inventory of product %s" % product["id"], err)
        self.assertIn("INSUFFICIENT_INVENTORY", err)
        dec = wix_requests(emu, "/stores/v3/bulk/inventory-items/decrement")[0]["body"]
        self.assertEqual(dec["decrementData"][0]["decrementBy"], 20)
        self.assertTrue(dec["restrictInventory"])

    def test_set_inventory_v3_needs_variant_for_several_items(self):
        product = Pick.one(emu, "products", lambda p: p.get("variantSummary", {}).get("variantCount", 1) > 1)
        err = error("SELECT wix_set_inventory('%s', 1, server => '%s')" % (product["id"], self.SERVER))
        self.assertRegex(err, "product %s has [0-9]+ inventory items: pass variant_id" % product["id"])
        variant = wix(emu, "GET", "/stores/v3/products/" + product["id"])["product"]["variantsInfo"]["variants"][0]["id"]
        result = self.call("wix_set_inventory", product["id"], 4, variant)
        self.assertEqual((result["variantId"], result["quantity"]), (variant, 4))

    def test_set_inventory_v3_retries_a_revision_conflict_once(self):
        product = Pick.one(emu, "products", lambda p: p.get("variantSummary", {}).get("variantCount", 1) == 1)
        emu.fault(match="/stores/v3/inventory-items/", method="PATCH", status=409, times=1)
        self.assertEqual(self.call("wix_set_inventory", product["id"], 8)["quantity"], 8)
        self.assertEqual(len(wix_requests(emu, "/stores/v3/inventory-items/query")), 2)

    def test_set_in_stock_v3(self):
        product = Pick.one(emu, "products", lambda p: p.get("variantSummary", {}).get("variantCount", 1) == 1)
        result = self.call("wix_set_in_stock", product["id"], False)
        self.assertEqual((result["productId"], result["inStock"], result["trackQuantity"]),
                         (product["id"], False, False))
        patch = [r for r in wix_requests(emu, "/stores/v3/inventory-items/") if r["method"] == "PATCH"][0]
        self.assertEqual(patch["body"], {"inventoryItem": {"id": result["id"], "revision": patch["body"]
                                                           ["inventoryItem"]["revision"], "inStock": False},
                                         "reason": "MANUAL"})
        self.assertEqual(value("SELECT inventory_status FROM %s.products WHERE id = '%s'"
                               % (self.SCHEMA, product["id"])), "OUT_OF_STOCK")
        # a quantity set afterwards tracks it again
        self.assertEqual(self.call("wix_set_inventory", product["id"], 2)["trackQuantity"], True)

    def test_set_in_stock_v1(self):
        product = Pick.one(emu_v1, "products", lambda p: not p.get("manageVariants"))
        result = self.call("wix_set_in_stock", product["id"], True, server=self.SERVER_V1)
        self.assertEqual(result["id"], product["id"])
        patch = wix_requests(emu_v1, "/stores/v2/inventoryItems/product/" + product["id"])[0]
        self.assertEqual((patch["method"], patch["body"]),
                         ("PATCH", {"inventoryItem": {"trackQuantity": False, "variants": [
                             {"variantId": ZERO_VARIANT, "inStock": True}]}}))
        self.assertEqual(result["variants"][0]["stock"], {"trackQuantity": False, "inStock": True})
        err = error("SELECT wix_set_in_stock('%s', NULL, server => '%s')" % (product["id"], self.SERVER_V1))
        self.assertIn("in_stock must not be NULL", err)

    def test_inventory_bad_arguments(self):
        for call, message in (("wix_set_inventory('p', -1", "quantity must be between 0 and 99999, not -1"),
                              ("wix_set_inventory('p', 100000", "quantity must be between 0 and 99999"),
                              ("wix_set_inventory('p', NULL", "quantity must not be NULL"),
                              ("wix_adjust_inventory('p', 0", "not zero, not 0"),
                              ("wix_adjust_inventory('p', NULL", "delta must not be NULL"),
                              ("wix_set_inventory('p', 1, '../v'", 'variant_id "../v" is not a valid Wix id')):
            with self.subTest(call=call):
                self.assertIn(message, error("SELECT %s, server => '%s')" % (call, self.SERVER)))
        self.assertEqual(wix_requests(emu), [])

    # -- bookings ----------------------------------------------------------

    def booking(self, status, slot=True):
        return Pick.one(emu, "bookings", lambda b: b["status"] == status
                        and ("slot" in b["bookedEntity"]) == slot)

    def test_cancel_booking(self):
        booking = self.booking("CONFIRMED")
        before = int(value("SELECT revision FROM %s.bookings WHERE id = '%s'" % (self.SCHEMA, booking["id"])))
        emu.reset_log()
        result = self.call("wix_cancel_booking", booking["id"], True)
        self.assertEqual(result["status"], "CANCELED")
        self.assertEqual(query("SELECT status, revision FROM %s.bookings WHERE id = '%s'"
                               % (self.SCHEMA, booking["id"])), [["CANCELED", str(before + 1)]])
        read = wix_requests(emu, "/_api/bookings-reader/v2/extended-bookings/query")[0]["body"]
        self.assertEqual(read["query"]["filter"], {"id": booking["id"]})
        req = wix_requests(emu, "/_api/bookings-service/v2/bookings/%s/cancel" % booking["id"])[0]
        self.assertEqual(req["body"], {"revision": str(before),
                                       "participantNotification": {"notifyParticipants": True}})
        self.assert_auth_mode(emu)

    def test_confirm_and_decline_booking(self):
        booking = self.booking("PENDING")
        self.assertEqual(self.call("wix_confirm_booking", booking["id"])["status"], "CONFIRMED")
        self.assertEqual(value("SELECT status FROM %s.bookings WHERE id = '%s'"
                               % (self.SCHEMA, booking["id"])), "CONFIRMED")
        other = self.booking("PENDING")
        self.assertEqual(self.call("wix_decline_booking", other["id"])["status"], "DECLINED")
        self.assertEqual(value("SELECT status FROM %s.bookings WHERE id = '%s'"
                               % (self.SCHEMA, other["id"])), "DECLINED")
        err = error("SELECT wix_confirm_booking('%s', server => '%s')" % (other["id"], self.SERVER))
        self.assertIn("FAILED_CONFIRMING_NON_PENDING_BOOKING", err)

    def test_reschedule_booking(self):
        booking = self.booking("CONFIRMED")
        length = query("SELECT end_date - start_date FROM %s.bookings WHERE id = '%s'"
                       % (self.SCHEMA, booking["id"]))[0][0]
        result = self.call("wix_reschedule_booking", booking["id"], "2026-03-02 09:15:00+00")
        self.assertEqual(result["startDate"], "2026-03-02T09:15:00.000Z")
        rows = query("SET timezone = 'UTC'; SELECT start_date, end_date - start_date FROM %s.bookings "
                     "WHERE id = '%s'" % (self.SCHEMA, booking["id"]))
        self.assertEqual(rows, [["2026-03-02 09:15:00+00", length]])
        slot = wix_requests(emu, "/_api/bookings-service/v2/bookings/%s/reschedule"
                            % booking["id"])[0]["body"]["slot"]
        self.assertEqual(slot["serviceId"], booking["bookedEntity"]["slot"]["serviceId"])
        self.assertNotIn("Z", slot["startDate"])  # wall-clock time in the slot's zone
        self.call("wix_reschedule_booking", booking["id"], "2026-03-03 10:00:00+00",
                  "2026-03-03 12:30:00+00")
        self.assertEqual(query("SET timezone = 'UTC'; SELECT start_date, end_date FROM %s.bookings "
                               "WHERE id = '%s'" % (self.SCHEMA, booking["id"])),
                         [["2026-03-03 10:00:00+00", "2026-03-03 12:30:00+00"]])
        err = error("SELECT wix_reschedule_booking('%s', '2026-03-03 10:00+00', '2026-03-03 09:00+00', "
                    "server => '%s')" % (booking["id"], self.SERVER))
        self.assertIn("end_date must be later than start_date", err)

    def test_reschedule_course_booking_is_refused(self):
        booking = self.booking("CONFIRMED", slot=False)
        err = error("SELECT wix_reschedule_booking('%s', now(), server => '%s')" % (booking["id"], self.SERVER))
        self.assertIn("is not for a single slot and cannot be rescheduled", err)
        self.assertEqual(wix_requests(emu, "/_api/bookings-service"), [])

    def test_booking_revision_conflict_retried_once(self):
        booking = self.booking("CONFIRMED")
        emu.fault(match="/_api/bookings-service/v2/bookings/%s/cancel" % booking["id"],
                  method="POST", status=409, times=1,
                  body={"message": "Booking revision mismatch",
                        "details": {"applicationError": {"code": "REVISION_MISMATCH"}}})
        self.assertEqual(self.call("wix_cancel_booking", booking["id"])["status"], "CANCELED")
        self.assertEqual(len(wix_requests(emu, "/_api/bookings-reader")), 2)
        self.assertEqual(len(wix_requests(emu, "/_api/bookings-service")), 2)

    def test_booking_revision_conflict_twice_is_an_error(self):
        booking = self.booking("CONFIRMED")
        emu.fault(match="/_api/bookings-service/v2/bookings/%s/cancel" % booking["id"],
                  method="POST", status=409, times=2,
                  body={"message": "Booking revision mismatch",
                        "details": {"applicationError": {"code": "REVISION_MISMATCH"}}})
        err = error("SELECT wix_cancel_booking('%s', server => '%s')" % (booking["id"], self.SERVER))
        self.assertIn("failed with HTTP 409: Booking revision mismatch", err)
        self.assertIn("Wix error code: REVISION_MISMATCH", err)
        self.assertEqual(len(wix_requests(emu, "/_api/bookings-service")), 2)
        self.assertEqual(value("SELECT status FROM %s.bookings WHERE id = '%s'"
                               % (self.SCHEMA, booking["id"])), "CONFIRMED")

    def test_unknown_booking(self):
        err = error("SELECT wix_confirm_booking('3f1c6a2e-0000-4c53-a0e2-7b5f0c2d9a11', server => '%s')"
                    % self.SERVER)
        self.assertIn("booking 3f1c6a2e-0000-4c53-a0e2-7b5f0c2d9a11 not found", err)
        self.assertEqual(wix_requests(emu, "/_api/bookings-service"), [])

    # -- wix_api -----------------------------------------------------------

    def test_wix_api(self):
        order = Pick.one(emu, "orders", lambda o: o["status"] == "APPROVED")
        got = self.call("wix_api", "get", "/ecom/v1/orders/" + order["id"])
        self.assertEqual(got["order"]["id"], order["id"])
        found = self.call("wix_api", "POST", "/members/v1/members/query",
                          '{"query": {"paging": {"limit": 2}}}')
        self.assertEqual(len(found["members"]), 2)
        v1 = self.call("wix_api", "GET", "/stores/v3/provision/version", server=self.SERVER_V1)
        self.assertEqual(v1, {"catalogVersion": "V1_CATALOG"})
        err = error("SELECT wix_api('GET', '/ecom/v1/orders/x', '{}', server => '%s')" % self.SERVER)
        self.assertIn("a GET request takes no body", err)
        err = error("SELECT wix_api('TRACE', '/x', server => '%s')" % self.SERVER)
        self.assertIn("method \"TRACE\" is not supported", err)
        err = error("SELECT wix_api('POST', '/x', '[1]', server => '%s')" % self.SERVER)
        self.assertIn("body must be a JSON object", err)
        err = error("SELECT wix_api('GET', '/no/such/endpoint', server => '%s')" % self.SERVER)
        self.assertIn("failed with HTTP 404", err)


class OAuthActionsTest(ActionsBase, unittest.TestCase):
    SERVER, SERVER_V1, SCHEMA, SCHEMA_V1, AUTH = "emu", "emu_v1", "wix", "wix_v1", "oauth"


class ApiKeyActionsTest(ActionsBase, unittest.TestCase):
    SERVER, SERVER_V1, SCHEMA, SCHEMA_V1, AUTH = "emu_key", "emu_v1_key", "wix_key", "wix_v1_key", "api_key"


ID_CALLS = [
    # (function, SQL arguments with %s for the id)
    ("wix_refund", "%s"), ("wix_cancel_order", "%s"), ("wix_fulfill_order", "%s"),
    ("wix_archive_order", "%s"), ("wix_mark_order_paid", "%s"),
    ("wix_approve_member", "%s"), ("wix_block_member", "%s"),
    ("wix_delete_member", "%s"), ("wix_update_product", "%s, '{\"name\": \"x\"}'"),
    ("wix_delete_product", "%s"), ("wix_set_inventory", "%s, 1"), ("wix_adjust_inventory", "%s, 1"),
    ("wix_set_in_stock", "%s, true"), ("wix_set_in_stock", "'p', true, %s"),
    ("wix_set_inventory", "'p', 1, %s"), ("wix_adjust_inventory", "'p', 1, %s"),
    ("wix_confirm_booking", "%s"), ("wix_decline_booking", "%s"), ("wix_cancel_booking", "%s"),
    ("wix_reschedule_booking", "%s, now()"),
]


class SafetyTest(unittest.TestCase):
    """Inputs, servers, credentials and privileges: errors before any request."""

    def setUp(self):
        emu.clear_faults()
        emu.reset_log()
        emu_v1.reset_log()

    def assert_no_requests(self):
        self.assertEqual(wix_requests(emu), [])
        self.assertEqual(wix_requests(emu_v1), [])

    def test_injection_strings_never_reach_wix(self):
        for fn, args in ID_CALLS:
            for bad in INJECTIONS:
                with self.subTest(fn=fn, id=bad):
                    sql = "SELECT %s(%s, server => 'emu')" % (fn, args % sql_literal(bad))
                    err = error(sql)
                    self.assertRegex(err, r"(must not be empty|is not a valid Wix id)")
                    self.assertIn("HINT:  A Wix id is a GUID", err)
        self.assert_no_requests()

    def test_null_ids_are_rejected(self):
        for fn, args in ID_CALLS:
            if args.startswith("'p'"):
                continue  # variant_id: NULL means "no variant"
            with self.subTest(fn=fn):
                err = error("SELECT %s(%s, server => 'emu')" % (fn, args % "NULL"))
                self.assertRegex(err, r"ERROR:  (22004: )?\w+_id must not be NULL")
        self.assertIn("path must not be NULL", error("SELECT wix_api('GET', NULL, server => 'emu')"))
        self.assertIn("method must not be NULL", error("SELECT wix_api(NULL, '/x', server => 'emu')"))
        self.assertIn("login_email must not be NULL", error("SELECT wix_create_member(NULL, server => 'emu')"))
        self.assertIn("restock must not be NULL",
                      error("SELECT wix_cancel_order('abc', NULL, server => 'emu')"))
        self.assert_no_requests()

    def test_error_messages_name_the_problem(self):
        self.assertIn('order_id "../x" is not a valid Wix id\nDETAIL:  It contains "/".',
                      error("SELECT wix_refund('../x', server => 'emu')"))
        self.assertIn('DETAIL:  It contains "?".', error("SELECT wix_refund('x?y', server => 'emu')"))
        self.assertIn('DETAIL:  It contains "#".', error("SELECT wix_refund('x#y', server => 'emu')"))
        self.assertIn('DETAIL:  It contains "%".', error("SELECT wix_refund('%2F', server => 'emu')"))
        self.assertIn("DETAIL:  It contains a space.", error("SELECT wix_refund('a b', server => 'emu')"))
        self.assertIn("order_id must not be empty", error("SELECT wix_refund('', server => 'emu')"))
        self.assertIn("DETAIL:  It is a relative path segment.", error("SELECT wix_refund('..', server => 'emu')"))
        self.assertIn('"x\\x0ay"', error("SELECT wix_refund(E'x\\ny', server => 'emu')"))
        self.assert_no_requests()

    def test_api_path_injections_never_reach_wix(self):
        for path in API_PATH_INJECTIONS:
            with self.subTest(path=path):
                err = error("SELECT wix_api('GET', %s, server => 'emu')" % sql_literal(path))
                self.assertRegex(err, r"(path must not be empty|is not a valid Wix API path)")
        self.assert_no_requests()

    def test_server_choice(self):
        # two servers here: the argument or the GUC must choose
        err = error("SELECT wix_approve_member('abc')")
        self.assertIn("wix_admin servers in this database; choose one", err)
        self.assertIn("DETAIL:  The servers are emu, emu_key, emu_v1, emu_v1_key.", err)
        self.assertIn("HINT:  Pass server => 'emu', or SET wix_admin.default_server = 'emu'.", err)
        err = error("SET wix_admin.default_server = 'nope'; SELECT wix_approve_member('abc')")
        self.assertIn('server "nope" does not exist', err)
        self.assertIn("DETAIL:  It is named by wix_admin.default_server.", err)
        err = error("SELECT wix_approve_member('abc', 'nope')")
        self.assertIn('server "nope" does not exist', err)
        self.assert_no_requests()
        member = Pick.one(emu, "members", lambda m: m["status"] == "APPROVED")
        rows = query("SET wix_admin.default_server = 'emu'; SELECT wix_block_member('%s')->>'status'"
                     % member["id"])
        self.assertEqual(rows, [["BLOCKED"]])
        # the argument wins over the GUC
        rows = query("SET wix_admin.default_server = 'nope'; "
                     "SELECT wix_approve_member('%s', 'emu_key')->>'status'" % member["id"])
        self.assertEqual(rows, [["APPROVED"]])
        self.assertEqual(query("SELECT server FROM wix_admin.action_log WHERE target_id = '%s' ORDER BY id"
                               % member["id"]), [["emu"], ["emu_key"]])

    def test_not_a_wix_admin_server(self):
        query("CREATE FOREIGN DATA WRAPPER other_fdw; CREATE SERVER other FOREIGN DATA WRAPPER other_fdw;")
        try:
            err = error("SELECT wix_approve_member('abc', 'other')")
            self.assertIn('server "other" is not a wix_admin server', err)
            self.assertIn('DETAIL:  Its foreign data wrapper is "other_fdw".', err)
        finally:
            query("DROP FOREIGN DATA WRAPPER other_fdw CASCADE;")

    def test_only_server_is_the_default(self):
        db = "wix_admin_single"
        psql("DROP DATABASE IF EXISTS %s;" % db)
        psql("CREATE DATABASE %s;" % db)
        try:
            err = psql_error("CREATE EXTENSION wix_admin; SELECT wix_approve_member('abc');", db=db)
            self.assertIn("there is no wix_admin server in this database", err)
            self.assertIn("HINT:  Create one with CREATE SERVER", err)
            member = Pick.one(emu, "members", lambda m: m["status"] == "APPROVED")
            rows = psql(server_sql("solo", mapping=KEY) + """
                SELECT wix_block_member('{member}')->>'status';
                SELECT server, action, target_id, http_status, outcome FROM wix_admin.action_log;
            """.format(member=member["id"]), db=db)
            self.assertEqual(rows, [["BLOCKED"], ["solo", "wix_block_member", member["id"], "200", "success"]])
        finally:
            psql("DROP DATABASE IF EXISTS %s;" % db)

    def test_privileges_mapping_and_grants(self):
        query("""
            DROP ROLE IF EXISTS regress_wix_nobody;
            DROP ROLE IF EXISTS regress_wix_clerk;
            CREATE ROLE regress_wix_nobody;
            CREATE ROLE regress_wix_clerk;
            GRANT USAGE ON FOREIGN SERVER emu TO regress_wix_nobody, regress_wix_clerk;
        """)
        try:
            # PUBLIC has no EXECUTE on any admin function
            rows = query("""
                SELECT p.proname FROM pg_proc p
                 WHERE p.proname ~ '^wix_(api|refund|cancel|fulfill|archive|mark|create|approve|block|delete|update|set|adjust|confirm|decline|reschedule|enqueue)'
                   AND has_function_privilege('regress_wix_nobody', p.oid, 'EXECUTE')""")
            self.assertEqual(rows, [])
            # the 20 admin functions and wix_enqueue
            self.assertEqual(value("SELECT count(*) FROM pg_proc WHERE proname ~ '^wix_' "
                                   "AND proname NOT LIKE 'wix_admin_fdw%'"), "21")
            err = error("SET ROLE regress_wix_nobody; SELECT wix_approve_member('abc', 'emu')")
            self.assertIn("permission denied for function wix_approve_member", err)
            # EXECUTE granted, but no user mapping for the role
            query("GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO regress_wix_clerk;")
            err = error("SET ROLE regress_wix_clerk; SELECT wix_approve_member('abc', 'emu')")
            self.assertIn('role "regress_wix_clerk" has no user mapping for server "emu"', err)
            self.assertIn("HINT:  CREATE USER MAPPING FOR regress_wix_clerk SERVER emu", err)
            # no USAGE on the server
            err = error("SET ROLE regress_wix_clerk; SELECT wix_approve_member('abc', 'emu_key')")
            self.assertIn("permission denied for foreign server emu_key", err)
            self.assert_no_requests()
            # with its own mapping it acts, with its own credentials
            query("CREATE USER MAPPING FOR regress_wix_clerk SERVER emu OPTIONS (api_key '%s');" % API_KEY)
            member = Pick.one(emu, "members", lambda m: m["status"] == "APPROVED")
            rows = query("SET ROLE regress_wix_clerk; SELECT wix_block_member('%s', 'emu')->>'status'"
                         % member["id"])
            self.assertEqual(rows, [["BLOCKED"]])
            self.assertEqual({r["headers"]["authorization"] for r in wix_requests(emu)}, {"api_key"})
            self.assertEqual(query("SELECT role, action FROM wix_admin.action_log WHERE target_id = '%s'"
                                   % member["id"]), [["regress_wix_clerk", "wix_block_member"]])
            # the log is not the caller's to write or read
            err = error("SET ROLE regress_wix_clerk; INSERT INTO wix_admin.action_log "
                        "(role, server, action, outcome) VALUES ('x', 'emu', 'forged', 'success')")
            self.assertIn("permission denied for schema wix_admin", err)
            query("GRANT USAGE ON SCHEMA wix_admin TO regress_wix_clerk;")
            err = error("SET ROLE regress_wix_clerk; INSERT INTO wix_admin.action_log "
                        "(role, server, action, outcome) VALUES ('x', 'emu', 'forged', 'success')")
            self.assertIn("permission denied for table action_log", err)
            # a PUBLIC mapping serves roles without their own
            query("DROP USER MAPPING FOR regress_wix_clerk SERVER emu;"
                  "CREATE USER MAPPING FOR PUBLIC SERVER emu OPTIONS (api_key '%s');" % API_KEY)
            rows = query("SET ROLE regress_wix_clerk; SELECT wix_approve_member('%s', 'emu')->>'status'"
                         % member["id"])
            self.assertEqual(rows, [["APPROVED"]])
        finally:
            query("""
                DROP USER MAPPING IF EXISTS FOR PUBLIC SERVER emu;
                DROP USER MAPPING IF EXISTS FOR regress_wix_clerk SERVER emu;
                REVOKE ALL ON ALL FUNCTIONS IN SCHEMA public FROM regress_wix_clerk;
                REVOKE ALL ON SCHEMA wix_admin FROM regress_wix_clerk;
                REVOKE ALL ON FOREIGN SERVER emu FROM regress_wix_nobody, regress_wix_clerk;
                DROP ROLE regress_wix_nobody;
                DROP ROLE regress_wix_clerk;
            """)

    def test_read_only_transaction(self):
        err = error("BEGIN READ ONLY; SELECT wix_approve_member('abc', 'emu');")
        self.assertIn("cannot execute wix_approve_member() in a read-only transaction", err)
        self.assert_no_requests()


def server_log_path():
    """The server log of the test cluster (wixfault.server_log_path: the
    logging collector's file, or the one pg_lsclusters shows), when this
    process can read it."""
    try:
        path = wixfault.server_log_path()
    except RuntimeError:
        return None
    return path if os.access(path, os.R_OK) else None


class AuditTest(unittest.TestCase):
    """The LOG line (immediate, survives a rollback) and the action_log row
    (transactional)."""

    def setUp(self):
        emu.clear_faults()
        emu.reset_log()

    def test_success_row_and_log_line(self):
        member = Pick.one(emu, "members", lambda m: m["status"] == "APPROVED")
        code, out, err = run("SET client_min_messages = log; SELECT wix_block_member('%s', 'emu') IS NOT NULL;"
                             % member["id"])
        self.assertEqual(code, 0, err)
        lines = [l for l in err.splitlines() if "wix_admin audit:" in l]
        self.assertEqual(len(lines), 1, err)
        self.assertRegex(lines[0], r'^LOG:  wix_admin audit: role="\w+" server="emu" action=wix_block_member '
                                   r'target="%s" http_status=200 wix_request_id="[0-9a-f-]{36}" outcome=success$'
                         % member["id"])
        request_id = re.search(r'wix_request_id="([^"]+)"', lines[0]).group(1)
        rows = query("SELECT role = current_user, server, action, target_id, http_status, wix_request_id, "
                     "outcome, error IS NULL, at <= clock_timestamp() FROM wix_admin.action_log "
                     "WHERE target_id = '%s'" % member["id"])
        self.assertEqual(rows, [["t", "emu", "wix_block_member", member["id"], "200", request_id,
                                 "success", "t", "t"]])
        for secret in (CLIENT_SECRET, API_KEY):
            self.assertNotIn(secret, err)

    def test_rollback_keeps_the_log_line_not_the_row(self):
        order = Pick.one(emu, "orders", lambda o: o["status"] == "APPROVED" and not o["archived"])
        marker = order["id"]
        log_path = server_log_path()
        log_start = os.path.getsize(log_path) if log_path else 0
        code, out, err = run("SET client_min_messages = log; BEGIN; SELECT wix_archive_order('%s', server => 'emu') IS NOT NULL; "
                             "ROLLBACK;" % marker)
        self.assertEqual(code, 0, err)
        self.assertIn('action=wix_archive_order target="%s" http_status=200' % marker, err)
        # the row went with the transaction; the action happened at Wix all the same
        self.assertEqual(value("SELECT count(*) FROM wix_admin.action_log WHERE target_id = '%s'" % marker), "0")
        self.assertEqual(value("SELECT archived FROM wix.orders WHERE id = '%s'" % marker), "t")
        if log_path is not None:
            with open(log_path, errors="replace") as f:
                f.seek(log_start)
                logged = [l for l in f if "wix_admin audit:" in l and marker in l]
            self.assertEqual(len(logged), 1, logged)
            for secret in (CLIENT_SECRET, API_KEY):
                self.assertNotIn(secret, logged[0])

    def test_failure_log_line(self):
        code, out, err = run("SET client_min_messages = log; "
                             "SELECT wix_approve_member('3f1c6a2e-0000-4c53-a0e2-00000000dead', 'emu');")
        self.assertNotEqual(code, 0)
        line = [l for l in err.splitlines() if "wix_admin audit:" in l][0]
        self.assertIn('target="3f1c6a2e-0000-4c53-a0e2-00000000dead" http_status=404 wix_request_id="', line)
        self.assertIn('outcome=error error="Wix API request POST /members/v1/members/'
                      '3f1c6a2e-0000-4c53-a0e2-00000000dead/approve failed with HTTP 404', line)
        self.assertEqual(value("SELECT count(*) FROM wix_admin.action_log "
                               "WHERE target_id = '3f1c6a2e-0000-4c53-a0e2-00000000dead'"), "0")

    def test_rejected_input_is_logged_on_one_line(self):
        code, out, err = run("SET client_min_messages = log; SELECT wix_refund(E'x\\n\"LOG:  forged', server => 'emu');")
        self.assertNotEqual(code, 0)
        lines = [l for l in err.splitlines() if "wix_admin audit:" in l]
        self.assertEqual(len(lines), 1, err)
        self.assertIn('target="x\\x0a\\"LOG:  forged" http_status=- wix_request_id=- outcome=error', lines[0])
        self.assertNotIn("\nLOG:  forged", err)
        self.assertEqual(wix_requests(emu), [])

    def test_token_failure_reports_its_status(self):
        secret = "s3cr3t-not-the-right-one"
        query(server_sql("emu_bad", mapping={"client_id": CLIENT_ID, "client_secret": secret}))
        try:
            code, out, err = run("SET client_min_messages = log; SELECT wix_approve_member('abc', 'emu_bad');")
            self.assertNotEqual(code, 0)
            line = [l for l in err.splitlines() if "wix_admin audit:" in l][0]
            self.assertIn('server="emu_bad" action=wix_approve_member target="abc" http_status=401', line)
            self.assertIn("POST /oauth2/token failed with HTTP 401", line)
            self.assertNotIn(secret, err)
        finally:
            query("DROP SERVER emu_bad CASCADE;")


class TriggerTest(unittest.TestCase):
    """The README's trigger example, and errors inside triggers."""

    TRIGGER = """
        CREATE TABLE IF NOT EXISTS refund_requests (
          order_id text PRIMARY KEY,
          status   text NOT NULL DEFAULT 'open',
          refund   jsonb
        );
        CREATE OR REPLACE FUNCTION refund_requested() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
          IF NEW.status = 'refund_requested'
             AND OLD.status IS DISTINCT FROM 'refund_requested' THEN
            PERFORM wix_refund(NEW.order_id, reason => 'refund requested',
                               server => 'emu');
          END IF;
          RETURN NULL;
        END $$;
        CREATE OR REPLACE TRIGGER refund_requested
          AFTER UPDATE OF status ON refund_requests
          FOR EACH ROW EXECUTE FUNCTION refund_requested();
    """

    def setUp(self):
        emu.clear_faults()
        emu.reset_log()
        query(self.TRIGGER)

    def test_trigger_refunds_the_order(self):
        order = paid_order()
        emu.reset_log()
        query("INSERT INTO refund_requests (order_id) VALUES ('%s')" % order["id"])
        self.assertEqual(wix_requests(emu), [])
        query("UPDATE refund_requests SET status = 'refund_requested' WHERE order_id = '%s'" % order["id"])
        self.assertEqual(value("SELECT payment_status FROM wix.orders WHERE id = '%s'" % order["id"]),
                         "FULLY_REFUNDED")
        self.assertEqual(query("SELECT action, outcome FROM wix_admin.action_log WHERE target_id = '%s'"
                               % order["id"]), [["wix_refund", "success"]])
        # unrelated updates do not call Wix again
        emu.reset_log()
        query("UPDATE refund_requests SET refund = '{}' WHERE order_id = '%s'" % order["id"])
        query("UPDATE refund_requests SET status = 'refund_requested' WHERE order_id = '%s'" % order["id"])
        self.assertEqual(wix_requests(emu), [])

    def test_failing_trigger_rolls_back_the_update(self):
        order = Pick.one(emu, "orders", lambda o: o["status"] == "APPROVED" and o["paymentStatus"] == "NOT_PAID")
        query("INSERT INTO refund_requests (order_id) VALUES ('%s')" % order["id"])
        err = error("UPDATE refund_requests SET status = 'refund_requested' WHERE order_id = '%s'" % order["id"])
        self.assertIn("order %s has nothing to refund" % order["id"], err)
        self.assertEqual(value("SELECT status FROM refund_requests WHERE order_id = '%s'" % order["id"]), "open")

    def test_errors_caught_in_plpgsql_leave_the_session_usable(self):
        """An error inside an EXCEPTION block: the subtransaction rolls back,
        later calls in the same transaction and session work."""
        good = paid_order()
        rows = query("""
            DO $$
            DECLARE n int := 0;
            BEGIN
              FOR i IN 1..5 LOOP
                BEGIN
                  PERFORM wix_refund('3f1c6a2e-0000-4c53-a0e2-00000000beef', server => 'emu');
                EXCEPTION WHEN OTHERS THEN
                  n := n + 1;
                END;
              END LOOP;
              RAISE NOTICE 'caught %', n;
            END $$;
            SELECT wix_refund('%s', server => 'emu')->'refund'->>'id' IS NOT NULL;
            SELECT count(*) FROM wix_admin.action_log WHERE target_id = '3f1c6a2e-0000-4c53-a0e2-00000000beef';
        """.replace("%s", good["id"]))
        self.assertEqual(rows, [["t"], ["0"]])
        self.assertEqual(value("SELECT payment_status FROM wix.orders WHERE id = '%s'" % good["id"]),
                         "FULLY_REFUNDED")


if __name__ == "__main__":
    unittest.main(verbosity=2)
