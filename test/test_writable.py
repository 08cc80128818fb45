"""Writable foreign tables (issue 17): INSERT, UPDATE and DELETE of the
wix_admin foreign tables become the admin actions the functions make, through
the same runner.  Each statement's effect is checked in the emulator's state
and its request log; refused columns, values and statement kinds send
nothing; privileges are the foreign table's.

Each test works on entities no other test touches (see Pick); the module
resets both emulators to their seed data when it is done.
"""
import unittest

from fixtures import (API_KEY, EMULATOR_URL, EMULATOR_V1_URL, Emulator,
                      create_database, items_of, psql, psql_error, wix)

DB = "wix_admin_writable"
emu = Emulator(EMULATOR_URL)
emu_v1 = Emulator(EMULATOR_V1_URL)


def query(sql, **kw):
    return psql(sql, db=DB, **kw)


def value(sql):
    rows = query(sql)
    return rows[0][0] if rows else None


def error(sql, user=None):
    return psql_error(sql, db=DB, user=user)


def wix_requests(em, prefix="/"):
    """Requests wix_admin sent to the Wix API, oldest first."""
    return [r for r in em.requests() if r["path"].startswith(prefix)
            and not r["path"].startswith("/_emulator")
            and r["headers"].get("user-agent", "").startswith("wix_admin")]


def wix_requests_made(em):
    """(method, path) of every request wix_admin sent to the API, reads
    included (OAuth token requests, whose timing is the token's, left out)."""
    return [(r["method"], r["path"]) for r in wix_requests(em) if not r["path"].startswith("/oauth2/")]


def verbose_plan(sql):
    """EXPLAIN (VERBOSE, COSTS OFF) of sql, as one string."""
    return "\n".join(r[0] for r in query("EXPLAIN (VERBOSE, COSTS OFF) " + sql))


def changes(em):
    """wix_admin's requests that change something (not queries, not reads)."""
    return [(r["method"], r["path"]) for r in wix_requests(em)
            if r["method"] in ("PATCH", "DELETE", "PUT")
            or (r["method"] == "POST" and not r["path"].endswith("/query")
                and not r["path"].endswith("/search")
                and "/provision/" not in r["path"]
                and not r["path"].startswith("/oauth2/"))]


class Pick:
    """Entities of the emulators' seed data, each handed out once."""
    taken = set()

    @classmethod
    def some(cls, em, kind, pred, n):
        found = []
        for obj in items_of(em.data(kind), kind):
            if obj["id"] not in cls.taken and pred(obj):
                cls.taken.add(obj["id"])
                found.append(obj)
                if len(found) == n:
                    return found
        raise AssertionError("no unused %s left matching the test's needs" % kind)

    @classmethod
    def one(cls, em, kind, pred):
        return cls.some(em, kind, pred, 1)[0]


def unarchived_orders(n):
    return Pick.some(emu, "orders", lambda o: o["status"] == "APPROVED" and not o["archived"], n)


def member(em, status):
    return Pick.one(em, "members", lambda m: m["status"] == status)


def order_of(order_id):
    return wix(emu, "GET", "/ecom/v1/orders/" + order_id)["order"]


def approved_orders(pred, n=1):
    return Pick.some(emu, "orders", lambda o: o["status"] == "APPROVED" and pred(o), n)


def bookings(status, n=1):
    return Pick.some(emu, "bookings", lambda b: b["status"] == status, n)


def booking_of(booking_id):
    """The booking as the emulator holds it (Wix's state, not a scan)."""
    return next(b for b in items_of(emu.data("bookings"), "bookings") if b["id"] == booking_id)


def setUpModule():
    emu.reset()
    emu_v1.reset()
    create_database(DB, sql="ALTER DATABASE %s SET wix_admin.deliver_in_worker = off;" % DB)


def tearDownModule():
    emu.clear_faults()
    emu.reset()
    emu_v1.reset()


class WritableTest(unittest.TestCase):

    def setUp(self):
        emu.clear_faults()
        emu.reset_log()
        emu_v1.reset_log()

    # -- UPDATE wix.orders SET archived = true ---------------------------------

    def test_update_archives_orders(self):
        a, b = unarchived_orders(2)
        emu.reset_log()
        query("UPDATE wix.orders SET archived = true WHERE id IN ('%s', '%s')" % (a["id"], b["id"]))
        self.assertTrue(order_of(a["id"])["archived"])
        self.assertTrue(order_of(b["id"])["archived"])
        patches = [r for r in wix_requests(emu) if r["method"] == "PATCH"]
        self.assertEqual(sorted((r["path"], r["body"]["order"]["archived"]) for r in patches),
                         sorted([("/ecom/v1/orders/" + a["id"], True),
                                 ("/ecom/v1/orders/" + b["id"], True)]))
        self.assertEqual(query("SELECT action, outcome FROM wix_admin.action_log WHERE target_id IN ('%s', '%s')"
                               % (a["id"], b["id"])),
                         [["wix_archive_order", "success"]] * 2)

    def test_update_returning_is_the_order_wix_answered(self):
        order, = unarchived_orders(1)
        rows = query("UPDATE wix.orders SET archived = true WHERE id = '%s' "
                     "RETURNING id, archived, updated_date IS NOT NULL, total" % order["id"])
        self.assertEqual(rows, [[order["id"], "t", "t", order["priceSummary"]["total"]["amount"]]])

    def test_update_with_a_column_set_of_ones_own(self):
        order, = unarchived_orders(1)
        query("""CREATE FOREIGN TABLE my_orders (
                   order_id text OPTIONS (path 'id'),
                   is_archived boolean OPTIONS (path 'archived'),
                   total numeric OPTIONS (path 'priceSummary.total.amount')
                 ) SERVER emu OPTIONS (resource 'orders');""")
        try:
            rows = query("UPDATE my_orders SET is_archived = true WHERE order_id = '%s' "
                         "RETURNING order_id, is_archived" % order["id"])
            self.assertEqual(rows, [[order["id"], "t"]])
            self.assertTrue(order_of(order["id"])["archived"])
        finally:
            query("DROP FOREIGN TABLE my_orders;")

    def test_table_without_id_column_cannot_update(self):
        query("CREATE FOREIGN TABLE no_id (archived boolean) SERVER emu OPTIONS (resource 'orders');")
        try:
            err = error("UPDATE no_id SET archived = true")
            self.assertIn('foreign table "no_id" has no id column', err)
            self.assertIn("HINT:  Add a column id text, or a column with OPTIONS (path 'id').", err)
        finally:
            query("DROP FOREIGN TABLE no_id;")

    def test_refused_columns_values_and_kinds_send_nothing(self):
        order, = unarchived_orders(1)
        emu.reset_log()
        err = error("UPDATE wix.orders SET total = 1 WHERE id = '%s'" % order["id"])
        self.assertIn("0A000", err)
        self.assertIn('cannot update column "total" of foreign table "orders"', err)
        self.assertIn('DETAIL:  An UPDATE of Wix resource "orders" can set archived (to true), '
                      'status (to CANCELED), payment_status (to PAID), '
                      'fulfillment_status (to FULFILLED).', err)
        self.assertIn("HINT:  Other changes need an admin function", err)
        err = error("UPDATE wix.orders SET archived = false WHERE id = '%s'" % order["id"])
        self.assertIn("22023", err)
        self.assertIn('cannot set column "archived" of foreign table "orders" to \'f\'', err)
        err = error("UPDATE wix.orders SET archived = NULL WHERE id = '%s'" % order["id"])
        self.assertIn('"archived" of foreign table "orders" to NULL', err)
        err = error("DELETE FROM wix.orders WHERE id = '%s'" % order["id"])
        self.assertIn('cannot delete from foreign table "orders"', err)
        self.assertIn('DETAIL:  Wix resource "orders" allows UPDATE of archived (to true), '
                      'status (to CANCELED), payment_status (to PAID), '
                      'fulfillment_status (to FULFILLED).', err)
        err = error("INSERT INTO wix.orders (id) VALUES ('x')")
        self.assertIn('cannot insert into foreign table "orders"', err)
        err = error("UPDATE wix.coupons SET name = 'x' WHERE id = 'y'")
        self.assertIn('cannot update foreign table "coupons"', err)
        self.assertIn('allows no INSERT, UPDATE or DELETE', err)
        self.assertFalse(order_of(order["id"])["archived"])
        self.assertEqual(changes(emu), [])

    def test_is_updatable(self):
        rows = query("""SELECT table_name, is_insertable_into FROM information_schema.tables
                         WHERE table_schema = 'wix' AND table_name IN ('orders', 'members', 'products', 'coupons')
                         ORDER BY 1""")
        self.assertEqual(rows, [["coupons", "NO"], ["members", "YES"], ["orders", "NO"],
                                ["products", "YES"]])
        self.assertEqual(value("SELECT pg_relation_is_updatable('wix.orders'::regclass, false)"),
                         "4")  # 1 << CMD_UPDATE: UPDATE only

    def test_explain_verbose_shows_the_wix_calls(self):
        plan = verbose_plan("UPDATE wix.orders SET archived = true WHERE id = 'x'")
        self.assertIn("Wix calls: archived = true: wix_archive_order(): PATCH /ecom/v1/orders/{order_id}", plan)
        plan = verbose_plan("DELETE FROM wix.products WHERE id = 'x'")
        self.assertIn("Foreign Delete on wix.products", plan)
        self.assertIn("Wix calls: up to 100 rows a request: wix_delete_product(): "
                      "POST /stores/v3/bulk/products/delete (Catalog V1: each row alone), "
                      "each row: wix_delete_product(): DELETE /stores/v3/products/{product_id} "
                      "(Catalog V1: /stores/v1/products/{product_id})", plan)
        plan = verbose_plan("UPDATE wix.members SET status = 'x' WHERE id = 'x'")
        self.assertIn("status = APPROVED: wix_approve_member(): POST /members/v1/members/{member_id}/approve", plan)
        self.assertIn("status = BLOCKED: wix_block_member(): POST /members/v1/members/{member_id}/block", plan)
        plan = verbose_plan("UPDATE wix.inventory_items SET in_stock = true WHERE id = 'x'")
        self.assertIn("Wix calls: in_stock = any: wix_set_in_stock()", plan)
        plan = verbose_plan("UPDATE wix.products SET price = 1, sku = 'x' WHERE id = 'x'")
        self.assertIn("price = any: wix_update_product()", plan)
        self.assertIn("sku = any: wix_update_product()", plan)
        self.assertEqual(changes(emu), [])

    def test_failure_mid_statement_says_how_many_rows_wix_changed(self):
        orders = unarchived_orders(3)
        ids = [o["id"] for o in orders]
        emu.reset_log()
        emu.fault(match="/ecom/v1/orders/", method="PATCH", status=400, times=1, after=2)
        err = error("UPDATE wix.orders SET archived = true WHERE id IN (%s)"
                    % ", ".join("'%s'" % i for i in ids))
        self.assertIn("Wix had already changed 2 rows of this statement; those changes "
                      "stay made (see the wix_admin audit lines in the server log).", err)
        self.assertEqual(sorted(order_of(i)["archived"] for i in ids), [False, True, True])
        # the transaction rolled back: no action_log rows
        self.assertEqual(value("SELECT count(*) FROM wix_admin.action_log WHERE target_id IN (%s)"
                               % ", ".join("'%s'" % i for i in ids)), "0")

    # -- UPDATE wix.orders SET status / payment_status / fulfillment_status -------

    def test_update_cancels_orders(self):
        a, b = approved_orders(lambda o: o["paymentStatus"] == "NOT_PAID", 2)
        emu.reset_log()
        rows = query("UPDATE wix.orders SET status = 'CANCELED' WHERE id IN ('%s', '%s') "
                     "RETURNING id, status" % (a["id"], b["id"]))
        self.assertEqual(sorted(rows), sorted([[a["id"], "CANCELED"], [b["id"], "CANCELED"]]))
        self.assertEqual(order_of(a["id"])["status"], "CANCELED")
        self.assertEqual(order_of(b["id"])["status"], "CANCELED")
        self.assertEqual(sorted(changes(emu)),
                         sorted([("POST", "/ecom/v1/orders/%s/cancel" % a["id"]),
                                 ("POST", "/ecom/v1/orders/%s/cancel" % b["id"])]))
        self.assertEqual([r["body"] for r in wix_requests(emu, "/ecom/v1/orders/" + a["id"])],
                         [{"sendOrderCanceledEmail": False, "restockAllItems": True}])
        self.assertEqual(query("SELECT action, outcome FROM wix_admin.action_log WHERE target_id IN ('%s', '%s')"
                               % (a["id"], b["id"])), [["wix_cancel_order", "success"]] * 2)
        # a pending order: Wix refuses, the statement fails, nothing is logged
        pending, = Pick.some(emu, "orders", lambda o: o["status"] == "PENDING", 1)
        err = error("UPDATE wix.orders SET status = 'CANCELED' WHERE id = '%s'" % pending["id"])
        self.assertIn("Wix error code: ORDER_IS_PENDING", err)
        self.assertEqual(order_of(pending["id"])["status"], "PENDING")

    def test_update_marks_orders_paid(self):
        order, = approved_orders(lambda o: o["paymentStatus"] == "NOT_PAID")
        emu.reset_log()
        err = error("UPDATE wix.orders SET payment_status = 'PAID' WHERE id = '%s' RETURNING id"
                    % order["id"])
        self.assertIn('UPDATE ... RETURNING is not supported when setting column "payment_status" '
                      'of foreign table "orders"', err)
        self.assertIn("DETAIL:  Setting payment_status to PAID makes wix_mark_order_paid(), which Wix "
                      "answers with another entity than the orders row.", err)
        self.assertIn("HINT:  SELECT the rows after the UPDATE, or call wix_mark_order_paid()", err)
        self.assertEqual(wix_requests(emu), [])
        query("UPDATE wix.orders SET payment_status = 'PAID' WHERE id = '%s'" % order["id"])
        self.assertEqual(order_of(order["id"])["paymentStatus"], "PAID")
        self.assertEqual([(r["method"], r["path"]) for r in wix_requests(emu, "/ecom/v1/payments/")],
                         [("GET", "/ecom/v1/payments/orders/" + order["id"]),
                          ("POST", "/ecom/v1/payments/orders/%s/add-payment" % order["id"])])
        self.assertEqual(changes(emu), [("POST", "/ecom/v1/payments/orders/%s/add-payment" % order["id"])])
        self.assertEqual(value("SELECT payment_status FROM wix.orders WHERE id = '%s'" % order["id"]), "PAID")
        self.assertEqual(query("SELECT action, outcome FROM wix_admin.action_log WHERE target_id = '%s'"
                               % order["id"]), [["wix_mark_order_paid", "success"]])
        err = error("UPDATE wix.orders SET payment_status = 'REFUNDED' WHERE id = '%s'" % order["id"])
        self.assertIn('cannot set column "payment_status" of foreign table "orders" to \'REFUNDED\'', err)

    def test_update_fulfills_orders(self):
        order, = approved_orders(lambda o: o["fulfillmentStatus"] == "NOT_FULFILLED")
        emu.reset_log()
        query("UPDATE wix.orders SET fulfillment_status = 'FULFILLED' WHERE id = '%s'" % order["id"])
        self.assertEqual(order_of(order["id"])["fulfillmentStatus"], "FULFILLED")
        path = "/ecom/v1/fulfillments/orders/%s/create-fulfillment" % order["id"]
        self.assertEqual(changes(emu), [("POST", path)])
        body = wix_requests(emu, path)[0]["body"]["fulfillment"]
        self.assertEqual(body["lineItems"], [{"id": li["id"], "quantity": li["quantity"]}
                                             for li in order["lineItems"]])
        self.assertEqual(body["customInfo"], {"fieldsData": {}})
        self.assertEqual(value("SELECT fulfillment_status FROM wix.orders WHERE id = '%s'" % order["id"]),
                         "FULFILLED")
        # once fulfilled, there is nothing left: the runner refuses, nothing is sent
        emu.reset_log()
        err = error("UPDATE wix.orders SET fulfillment_status = 'FULFILLED' WHERE id = '%s'" % order["id"])
        self.assertIn("order %s has nothing left to fulfill" % order["id"], err)
        self.assertEqual(changes(emu), [])
        err = error("UPDATE wix.orders SET fulfillment_status = 'FULFILLED' WHERE id = '%s' RETURNING id"
                    % order["id"])
        self.assertIn('setting column "fulfillment_status"', err)

    # -- UPDATE wix.bookings SET status --------------------------------------------

    def test_update_booking_status(self):
        confirm, decline = bookings("PENDING", 2)
        cancel, = bookings("CONFIRMED")
        base = "/_api/bookings-service/v2/bookings/"
        for booking, status, verb in ((confirm, "CONFIRMED", "confirm"), (decline, "DECLINED", "decline"),
                                      (cancel, "CANCELED", "cancel")):
            with self.subTest(status=status):
                revision = int(booking_of(booking["id"])["revision"])
                emu.reset_log()
                rows = query("UPDATE wix.bookings SET status = '%s' WHERE id = '%s' RETURNING id, status, revision"
                             % (status, booking["id"]))
                self.assertEqual(rows, [[booking["id"], status, str(revision + 1)]])
                self.assertEqual(booking_of(booking["id"])["status"], status)
                self.assertEqual(changes(emu), [("POST", base + booking["id"] + "/" + verb)])
                self.assertEqual(wix_requests(emu, base)[0]["body"],
                                 {"revision": str(revision),
                                  "participantNotification": {"notifyParticipants": False}})
                # the scan, then the runner's read of the current revision
                self.assertEqual(len(wix_requests(emu, "/_api/bookings-reader/v2/extended-bookings/query")), 2)
        self.assertEqual(query("SELECT action FROM wix_admin.action_log WHERE target_id IN ('%s', '%s', '%s') "
                               "ORDER BY id" % (confirm["id"], decline["id"], cancel["id"])),
                         [["wix_confirm_booking"], ["wix_decline_booking"], ["wix_cancel_booking"]])
        emu.reset_log()
        err = error("UPDATE wix.bookings SET status = 'PENDING' WHERE id = '%s'" % cancel["id"])
        self.assertIn('DETAIL:  An UPDATE of Wix resource "bookings" can set '
                      'status (to CONFIRMED or DECLINED or CANCELED), start_date (to any value but NULL), '
                      'end_date (to any value but NULL).', err)
        err = error("UPDATE wix.bookings SET title = 'x' WHERE id = '%s'" % cancel["id"])
        self.assertIn('cannot update column "title" of foreign table "bookings"', err)
        self.assertEqual(changes(emu), [])

    def test_update_booking_dates_reschedules(self):
        booking = Pick.one(emu, "bookings", lambda b: b["status"] == "CONFIRMED" and "slot" in b["bookedEntity"])
        path = "/_api/bookings-service/v2/bookings/%s/reschedule" % booking["id"]
        select = ("SET timezone = 'UTC'; SELECT start_date, end_date FROM wix.bookings WHERE id = '%s'"
                  % booking["id"])
        # both dates: one reschedule with both
        emu.reset_log()
        rows = query("SET timezone = 'UTC'; UPDATE wix.bookings SET start_date = '2026-03-02 09:00+00', "
                     "end_date = '2026-03-02 10:30+00' WHERE id = '%s' RETURNING start_date, end_date"
                     % booking["id"])
        self.assertEqual(rows, [["2026-03-02 09:00:00+00", "2026-03-02 10:30:00+00"]])
        self.assertEqual(changes(emu), [("POST", path)])
        self.assertEqual(booking_of(booking["id"])["startDate"], "2026-03-02T09:00:00.000Z")
        self.assertEqual(booking_of(booking["id"])["endDate"], "2026-03-02T10:30:00.000Z")
        self.assertEqual(query(select), [["2026-03-02 09:00:00+00", "2026-03-02 10:30:00+00"]])
        # end_date alone: the start as read, the new end
        emu.reset_log()
        query("UPDATE wix.bookings SET end_date = '2026-03-02 11:00+00' WHERE id = '%s'" % booking["id"])
        self.assertEqual(changes(emu), [("POST", path)])
        self.assertEqual(query(select), [["2026-03-02 09:00:00+00", "2026-03-02 11:00:00+00"]])
        # start_date alone: the end as read, so a start after it is refused before anything is sent
        emu.reset_log()
        err = error("UPDATE wix.bookings SET start_date = '2026-03-02 12:00+00' WHERE id = '%s'" % booking["id"])
        self.assertIn("end_date must be later than start_date", err)
        self.assertEqual(changes(emu), [])
        query("UPDATE wix.bookings SET start_date = '2026-03-02 10:00+00' WHERE id = '%s'" % booking["id"])
        self.assertEqual(query(select), [["2026-03-02 10:00:00+00", "2026-03-02 11:00:00+00"]])
        self.assertEqual(query("SELECT count(*) FROM wix_admin.action_log WHERE action = 'wix_reschedule_booking' "
                               "AND target_id = '%s'" % booking["id"]), [["3"]])

    # -- UPDATE inventory_items SET quantity --------------------------------------

    def test_update_inventory_quantity_v3(self):
        product = Pick.one(emu, "products", lambda p: p.get("variantSummary", {}).get("variantCount", 1) == 1)
        item_id, variant_id = query("SELECT id, variant_id FROM wix.inventory_items WHERE product_id = '%s'"
                                    % product["id"])[0]
        emu.reset_log()
        query("UPDATE wix.inventory_items SET quantity = 11 WHERE product_id = '%s'" % product["id"])
        self.assertEqual(wix(emu, "GET", "/stores/v3/inventory-items/" + item_id)["inventoryItem"]["quantity"], 11)
        self.assertEqual(changes(emu), [("PATCH", "/stores/v3/inventory-items/" + item_id)])
        patch = wix_requests(emu, "/stores/v3/inventory-items/" + item_id)[0]["body"]
        self.assertEqual(patch["inventoryItem"]["quantity"], 11)
        self.assertEqual(patch["reason"], "MANUAL")
        # the runner finds the item by the row's product and variant, as read by the scan
        runner_query = wix_requests(emu, "/stores/v3/inventory-items/query")[-1]["body"]
        self.assertEqual(runner_query["query"]["filter"], {"productId": product["id"], "variantId": variant_id})
        self.assertEqual(len(wix_requests(emu, "/stores/v3/inventory-items/query")), 2)
        self.assertEqual(value("SELECT quantity FROM wix.inventory_items WHERE id = '%s'" % item_id), "11")
        self.assertEqual(query("SELECT action, outcome FROM wix_admin.action_log WHERE target_id = '%s'"
                               % product["id"]), [["wix_set_inventory", "success"]])

        emu.reset_log()
        err = error("UPDATE wix.inventory_items SET quantity = -1 WHERE id = '%s'" % item_id)
        self.assertIn("quantity must be between 0 and", err)
        err = error("UPDATE wix.inventory_items SET quantity = NULL WHERE id = '%s'" % item_id)
        self.assertIn('cannot set column "quantity" of foreign table "inventory_items" to NULL', err)
        self.assertIn("can set quantity (to any value but NULL)", err)
        err = error("UPDATE wix.inventory_items SET quantity = 3 WHERE id = '%s' RETURNING quantity" % item_id)
        self.assertIn('UPDATE ... RETURNING is not supported when setting column "quantity"', err)
        self.assertIn("DETAIL:  Setting quantity makes wix_set_inventory()", err)
        err = error("UPDATE wix.inventory_items SET track_quantity = false WHERE id = '%s'" % item_id)
        self.assertIn('cannot update column "track_quantity" of foreign table "inventory_items"', err)
        self.assertIn("can set quantity (to any value but NULL), in_stock (to any value but NULL)", err)
        self.assertEqual(changes(emu), [])
        self.assertEqual(wix(emu, "GET", "/stores/v3/inventory-items/" + item_id)["inventoryItem"]["quantity"], 11)

    def test_update_inventory_quantity_v1(self):
        product = Pick.one(emu_v1, "products", lambda p: p.get("manageVariants")
                           and len(p.get("variants") or []) > 1)
        rows = query("SELECT variant_id FROM wix_v1.inventory_items WHERE product_id = '%s' ORDER BY variant_id"
                     % product["id"])
        self.assertGreater(len(rows), 1)
        variant = rows[0][0]
        emu_v1.reset_log()
        query("UPDATE wix_v1.inventory_items SET quantity = 9 WHERE product_id = '%s' AND variant_id = '%s'"
              % (product["id"], variant))
        path = "/stores/v2/inventoryItems/product/" + product["id"]
        self.assertEqual(changes(emu_v1), [("PATCH", path)])
        self.assertEqual(wix_requests(emu_v1, path)[0]["body"],
                         {"inventoryItem": {"trackQuantity": True, "variants": [
                             {"variantId": variant, "quantity": 9}]}})
        got = wix(emu_v1, "GET", "/stores-reader/v1/products/" + product["id"])["product"]
        self.assertEqual([v["stock"]["quantity"] for v in got["variants"] if v["id"] == variant], [9])
        self.assertEqual(value("SELECT quantity FROM wix_v1.inventory_items WHERE product_id = '%s' "
                               "AND variant_id = '%s'" % (product["id"], variant)), "9")

    def test_explain_verbose_shows_any_value_rules(self):
        plan = verbose_plan("UPDATE wix.inventory_items SET quantity = 1 WHERE id = 'x'")
        self.assertIn("Wix calls: quantity = any: wix_set_inventory()", plan)

    # -- row triggers ---------------------------------------------------------------

    def test_before_row_trigger_changes_or_rejects_rows(self):
        keep, rejected, changed = bookings("PENDING", 3)
        query("""
            CREATE FUNCTION booking_policy() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              IF OLD.id = '%s' THEN RETURN NULL; END IF;      -- rejected: never sent
              IF OLD.id = '%s' THEN NEW.status := 'DECLINED'; END IF;
              RETURN NEW;
            END $$;
            CREATE TRIGGER booking_policy BEFORE UPDATE ON wix.bookings
              FOR EACH ROW EXECUTE FUNCTION booking_policy();
        """ % (rejected["id"], changed["id"]))
        try:
            emu.reset_log()
            rows = query("UPDATE wix.bookings SET status = 'CONFIRMED' WHERE id IN ('%s', '%s', '%s') "
                         "RETURNING id, status" % (keep["id"], rejected["id"], changed["id"]))
            self.assertEqual(sorted(rows), sorted([[keep["id"], "CONFIRMED"], [changed["id"], "DECLINED"]]))
            base = "/_api/bookings-service/v2/bookings/"
            self.assertEqual(sorted(changes(emu)), sorted([("POST", base + keep["id"] + "/confirm"),
                                                           ("POST", base + changed["id"] + "/decline")]))
            self.assertEqual(booking_of(keep["id"])["status"], "CONFIRMED")
            self.assertEqual(booking_of(changed["id"])["status"], "DECLINED")
            self.assertEqual(booking_of(rejected["id"])["status"], "PENDING")
        finally:
            query("DROP TRIGGER booking_policy ON wix.bookings; DROP FUNCTION booking_policy();")

    def test_after_row_triggers_log_locally(self):
        a, b = unarchived_orders(2)
        product = self.created_product(emu, "Logged product")
        query("""
            CREATE TABLE dml_log (op text, id text, old_value text, new_value text);
            CREATE FUNCTION log_dml() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              IF TG_OP = 'UPDATE' THEN
                INSERT INTO dml_log VALUES (TG_OP, NEW.id, OLD.archived::text, NEW.archived::text);
              ELSE
                INSERT INTO dml_log VALUES (TG_OP, OLD.id, OLD.name, NULL);
              END IF;
              RETURN NULL;
            END $$;
            CREATE TRIGGER log_orders AFTER UPDATE ON wix.orders FOR EACH ROW EXECUTE FUNCTION log_dml();
            CREATE TRIGGER log_products AFTER DELETE ON wix.products FOR EACH ROW EXECUTE FUNCTION log_dml();
        """)
        try:
            emu.reset_log()
            query("UPDATE wix.orders SET archived = true WHERE id IN ('%s', '%s')" % (a["id"], b["id"]))
            query("DELETE FROM wix.products WHERE id = '%s'" % product["id"])
            self.assertEqual(sorted(query("SELECT op, id, old_value, new_value FROM dml_log")),
                             sorted([["UPDATE", a["id"], "false", "true"],
                                     ["UPDATE", b["id"], "false", "true"],
                                     ["DELETE", product["id"], "Logged product", ""]]))
            self.assertTrue(order_of(a["id"])["archived"])
            self.assertEqual(len(changes(emu)), 3)
            # a failing row rolls back the statement and the log rows with it
            c, = unarchived_orders(1)
            emu.reset_log()
            emu.fault(match="/ecom/v1/orders/", method="PATCH", status=400, times=1)
            error("UPDATE wix.orders SET archived = true WHERE id = '%s'" % c["id"])
            self.assertEqual(value("SELECT count(*) FROM dml_log WHERE id = '%s'" % c["id"]), "0")
        finally:
            query("DROP TRIGGER log_orders ON wix.orders; DROP TRIGGER log_products ON wix.products; "
                  "DROP FUNCTION log_dml(); DROP TABLE dml_log;")

    # -- DELETE FROM wix.products ------------------------------------------------

    def created_product(self, em, name):
        if em is emu:
            body = {"product": {"name": name, "productType": "PHYSICAL",
                                "physicalProperties": {},
                                "variantsInfo": {"variants": [{"price": {"actualPrice": {"amount": "3.00"}},
                                                               "choices": []}]}}}
            return wix(em, "POST", "/stores/v3/products", body)["product"]
        body = {"product": {"name": name, "productType": "physical",
                            "priceData": {"price": 3.0}}}
        return wix(em, "POST", "/stores/v1/products", body)["product"]

    def test_delete_returning_gives_the_rows_as_read(self):
        for em, schema in ((emu, "wix"), (emu_v1, "wix_v1")):
            with self.subTest(schema=schema):
                product = self.created_product(em, "Returned %s" % schema)
                em.reset_log()
                rows = query("DELETE FROM %s.products WHERE id = '%s' RETURNING id, name, price, visible"
                             % (schema, product["id"]))
                self.assertEqual([(i, n, float(p), v) for i, n, p, v in rows],
                                 [(product["id"], "Returned %s" % schema, 3.0, "t")])
                # one row at a time (no bulk with RETURNING)
                self.assertEqual([m for m, p in changes(em)], ["DELETE"])
                self.assertEqual(value("SELECT count(*) FROM %s.products WHERE id = '%s'"
                                       % (schema, product["id"])), "0")
        member_row = member(emu, "APPROVED")
        rows = query("DELETE FROM wix.members WHERE id = '%s' RETURNING login_email" % member_row["id"])
        self.assertEqual(rows, [[member_row["loginEmail"]]])

    def test_delete_products_both_catalogs(self):
        for em, schema, base in ((emu, "wix", "/stores/v3/products/"),
                                 (emu_v1, "wix_v1", "/stores/v1/products/")):
            with self.subTest(schema=schema):
                product = self.created_product(em, "Doomed %s" % schema)
                em.reset_log()
                query("DELETE FROM %s.products WHERE id = '%s'" % (schema, product["id"]))
                if em is emu:
                    # Catalog V3: in its bulk delete (BulkModifyTest)
                    self.assertEqual(changes(em), [("POST", "/stores/v3/bulk/products/delete")])
                    self.assertEqual(wix_requests(em, "/stores/v3/bulk/")[0]["body"], {"productIds": [product["id"]]})
                else:
                    self.assertEqual(changes(em), [("DELETE", base + product["id"])])
                self.assertEqual(value("SELECT count(*) FROM %s.products WHERE id = '%s'"
                                       % (schema, product["id"])), "0")
                self.assertEqual(query("SELECT action, server FROM wix_admin.action_log WHERE target_id = '%s'"
                                       % product["id"]),
                                 [["wix_delete_product", "emu" if em is emu else "emu_v1"]])

    # -- INSERT INTO products ------------------------------------------------------

    def test_insert_products_both_catalogs(self):
        for em, schema, path, get in ((emu, "wix", "/stores/v3/products", "/stores/v3/products/"),
                                      (emu_v1, "wix_v1", "/stores/v1/products", "/stores-reader/v1/products/")):
            with self.subTest(schema=schema):
                em.reset_log()
                rows = query("INSERT INTO %s.products (name, price, sku) VALUES ('DML lamp %s', 12.5, 'DML-%s') "
                             "RETURNING id, name, price, visible" % (schema, schema, schema.upper()))
                new_id, name, price, visible = rows[0]
                self.assertEqual((name, float(price), visible), ("DML lamp %s" % schema, 12.5, "t"))
                self.assertEqual(changes(em), [("POST", path)])
                got = wix(em, "GET", get + new_id)["product"]
                self.assertEqual(got["name"], "DML lamp %s" % schema)
                self.assertIn("DML-%s" % schema.upper(), str(wix_requests(em, path)[0]["body"]))
                self.assertEqual(query("SELECT action, target_id FROM wix_admin.action_log "
                                       "WHERE action = 'wix_create_product' AND target_id = '%s'" % new_id),
                                 [["wix_create_product", new_id]])
                self.assertEqual(value("SELECT name FROM %s.products WHERE id = '%s'" % (schema, new_id)),
                                 "DML lamp %s" % schema)
                query("DELETE FROM %s.products WHERE id = '%s'" % (schema, new_id))
        emu.reset_log()
        err = error("INSERT INTO wix.products (name, price, slug) VALUES ('x', 1, 'x')")
        self.assertIn('cannot set column "slug" in an INSERT into foreign table "products"', err)
        err = error("INSERT INTO wix.products (name) VALUES ('x')")
        self.assertIn("price", err)
        self.assertEqual(changes(emu), [])

    def test_update_products_one_patch_of_the_columns_set(self):
        for em, schema, path in ((emu, "wix", "/stores/v3/products/"), (emu_v1, "wix_v1", "/stores/v1/products/")):
            with self.subTest(schema=schema):
                product = self.created_product(em, "Renamed %s" % schema)
                em.reset_log()
                rows = query("UPDATE %s.products SET name = 'Renamed again', visible = false WHERE id = '%s' "
                             "RETURNING name, visible" % (schema, product["id"]))
                self.assertEqual(rows, [["Renamed again", "f"]])
                self.assertEqual(changes(em), [("PATCH", path + product["id"])])
                body = wix_requests(em, path + product["id"])[-1]["body"]["product"]
                self.assertEqual((body["name"], body["visible"]), ("Renamed again", False))
                if em is emu:
                    # V3: the id and the revision the row was read with
                    self.assertEqual(body["id"], product["id"])
                    self.assertEqual(body["revision"], product["revision"])
                    self.assertEqual([m for m, p in wix_requests_made(em) if p == path + product["id"]], ["PATCH"])
                    got = wix(em, "GET", path + product["id"])["product"]
                else:
                    self.assertEqual(set(body), {"name", "visible"})
                    got = wix(em, "GET", "/stores-reader/v1/products/" + product["id"])["product"]
                self.assertEqual((got["name"], got["visible"]), ("Renamed again", False))
                em.reset_log()
                query("UPDATE %s.products SET visible = true WHERE id = '%s'" % (schema, product["id"]))
                if em is emu:
                    # without RETURNING, in Catalog V3's bulk update (BulkModifyTest)
                    body = wix_requests(em, "/stores/v3/bulk/products/update")[-1]["body"]["products"][0]["product"]
                else:
                    body = wix_requests(em, path + product["id"])[-1]["body"]["product"]
                self.assertNotIn("name", body)
                self.assertTrue(body["visible"])
                self.assertEqual(value("SELECT visible FROM %s.products WHERE id = '%s'" % (schema, product["id"])),
                                 "t")
                query("DELETE FROM %s.products WHERE id = '%s'" % (schema, product["id"]))
        err = error("UPDATE wix.products SET slug = 'x' WHERE id = 'x'")
        self.assertIn('cannot update column "slug" of foreign table "products"', err)
        self.assertIn("can set name (to any value but NULL), visible (to any value but NULL), "
                      "price (to any value but NULL), sku (to any value but NULL), "
                      "description (to any value but NULL)", err)

    # -- products: description, product_type, price, sku (issue 17's last cells) --

    def test_insert_products_description_and_type_v3(self):
        emu.reset_log()
        rows = query("INSERT INTO wix.products (name, price, sku, description, product_type) "
                     "VALUES ('DML e-book', 4.5, 'EBOOK-1', '<p>An e-book</p>', 'digital') "
                     "RETURNING id, product_type, description, sku, price, currency")
        new_id = rows[0][0]
        self.assertEqual(rows[0][1:], ["DIGITAL", "<p>An e-book</p>", "EBOOK-1", "4.50", "USD"])
        self.assertEqual(changes(emu), [("POST", "/stores/v3/products")])
        body = wix_requests(emu, "/stores/v3/products")[-1]["body"]
        self.assertEqual(body["product"]["productType"], "DIGITAL")
        self.assertNotIn("physicalProperties", body["product"])
        self.assertEqual(body["product"]["plainDescription"], "<p>An e-book</p>")
        self.assertEqual(body["product"]["variantsInfo"]["variants"],
                         [{"choices": [], "sku": "EBOOK-1", "price": {"actualPrice": {"amount": "4.5"}}}])
        got = wix(emu, "GET", "/stores/v3/products/%s?fields=PLAIN_DESCRIPTION" % new_id)["product"]
        self.assertEqual((got["productType"], got["plainDescription"]), ("DIGITAL", "<p>An e-book</p>"))
        # the round trip: SELECT reads the description back
        self.assertEqual(query("SELECT description, product_type FROM wix.products WHERE id = '%s'" % new_id),
                         [["<p>An e-book</p>", "DIGITAL"]])
        # no product_type: physical, with its physical properties
        rows = query("INSERT INTO wix.products (name, price, description) VALUES ('DML box', 2, '<p>Box</p>') "
                     "RETURNING id, product_type")
        self.assertEqual(rows[0][1], "PHYSICAL")
        body = wix_requests(emu, "/stores/v3/products")[-1]["body"]["product"]
        self.assertEqual((body["productType"], body["physicalProperties"],
                          body["variantsInfo"]["variants"][0]["physicalProperties"]), ("PHYSICAL", {}, {}))
        for product_id in (new_id, rows[0][0]):
            query("DELETE FROM wix.products WHERE id = '%s'" % product_id)

    def test_insert_products_description_and_type_v1(self):
        emu_v1.reset_log()
        rows = query("INSERT INTO wix_v1.products (name, price, description, product_type) "
                     "VALUES ('DML v1 lamp', 8, '<p>A lamp</p>', 'PHYSICAL') RETURNING id, description, product_type")
        new_id = rows[0][0]
        self.assertEqual(rows[0][1:], ["<p>A lamp</p>", "physical"])
        self.assertEqual(changes(emu_v1), [("POST", "/stores/v1/products")])
        body = wix_requests(emu_v1, "/stores/v1/products")[-1]["body"]["product"]
        self.assertEqual((body["productType"], body["description"]), ("physical", "<p>A lamp</p>"))
        got = wix(emu_v1, "GET", "/stores-reader/v1/products/" + new_id)["product"]
        self.assertEqual(got["description"], "<p>A lamp</p>")
        self.assertEqual(value("SELECT description FROM wix_v1.products WHERE id = '%s'" % new_id),
                         "<p>A lamp</p>")
        query("DELETE FROM wix_v1.products WHERE id = '%s'" % new_id)
        # Catalog V1 creates physical products only: refused before anything is sent
        emu_v1.reset_log()
        err = error("INSERT INTO wix_v1.products (name, price, product_type) VALUES ('DML v1 song', 1, 'DIGITAL')")
        self.assertIn("0A000", err)
        self.assertIn("cannot create a digital product on a site with Stores Catalog V1", err)
        self.assertIn("DETAIL:  Catalog V1's Create Product makes physical products only.", err)
        self.assertEqual(self.calls(emu_v1), [])     # only which catalog the site runs
        self.assertFalse([p for p in items_of(emu_v1.data("products"), "products") if p["name"] == "DML v1 song"])
        emu_v1.reset_log()
        err = error("INSERT INTO wix_v1.products (name, price, product_type) VALUES ('DML v1 x', 1, 'service')")
        self.assertIn("22023", err)
        self.assertIn('product_type must be PHYSICAL or DIGITAL, not "service"', err)
        self.assertEqual(wix_requests(emu_v1), [])

    def calls(self, em):
        """wix_admin's requests, the catalog version probe left out."""
        return [(r["method"], r["path"]) for r in wix_requests(em) if "/provision/" not in r["path"]]

    def update_sends(self, em, sql, calls):
        """Run the UPDATE sql, check that wix_admin sent calls (the catalog
        probe aside); its rows and the product of the last call's body."""
        em.reset_log()
        rows = query(sql)
        self.assertEqual(self.calls(em), calls)
        return rows, wix_requests(em, calls[-1][1])[-1]["body"]["product"]

    def test_update_products_price_sku_description_v1(self):
        product = self.created_product(emu_v1, "DML v1 priced")
        path = "/stores/v1/products/" + product["id"]
        # one request for the three columns: the scan's query, then one PATCH
        calls = [("POST", "/stores-reader/v1/products/query"), ("PATCH", path)]
        rows, body = self.update_sends(
            emu_v1, "UPDATE wix_v1.products SET name = 'DML v1 repriced', price = 4.25, visible = false "
            "WHERE id = '%s' RETURNING name, price, visible" % product["id"], calls)
        self.assertEqual(rows, [["DML v1 repriced", "4.25", "f"]])
        self.assertEqual(body, {"name": "DML v1 repriced", "visible": False, "priceData": {"price": 4.25}})
        got = wix(emu_v1, "GET", "/stores-reader/v1/products/" + product["id"])["product"]
        self.assertEqual((got["name"], got["priceData"]["price"], got["visible"]), ("DML v1 repriced", 4.25, False))
        rows, body = self.update_sends(
            emu_v1, "UPDATE wix_v1.products SET sku = 'V1-NEW', description = '<p>New</p>' WHERE id = '%s'"
            % product["id"], calls)
        self.assertEqual(body, {"sku": "V1-NEW", "description": "<p>New</p>"})
        self.assertEqual(query("SELECT sku, description, price FROM wix_v1.products WHERE id = '%s'" % product["id"]),
                         [["V1-NEW", "<p>New</p>", "4.25"]])
        # a negative price is refused before anything is sent
        emu_v1.reset_log()
        err = error("UPDATE wix_v1.products SET price = -1 WHERE id = '%s'" % product["id"])
        self.assertIn("price must be zero or more, not -1", err)
        self.assertEqual(changes(emu_v1), [])
        query("DELETE FROM wix_v1.products WHERE id = '%s'" % product["id"])

    def test_update_products_price_sku_description_v3(self):
        product = self.created_product(emu, "DML v3 priced")
        variant_id = product["variantsInfo"]["variants"][0]["id"]
        path = "/stores/v3/products/" + product["id"]
        # the scan's query, the runner's read of the revision and variant, one PATCH
        calls = [("POST", "/stores/v3/products/query"), ("GET", path), ("PATCH", path)]
        rows, body = self.update_sends(
            emu, "UPDATE wix.products SET name = 'DML v3 repriced', price = 7.5, visible = false "
            "WHERE id = '%s' RETURNING name, price, visible" % product["id"], calls)
        self.assertEqual(rows, [["DML v3 repriced", "7.50", "f"]])
        self.assertEqual((body["name"], body["visible"], body["id"]), ("DML v3 repriced", False, product["id"]))
        self.assertNotIn("price", body)
        self.assertEqual([(v["id"], v["price"]["actualPrice"]) for v in body["variantsInfo"]["variants"]],
                         [(variant_id, {"amount": "7.5"})])
        got = wix(emu, "GET", path)["product"]
        self.assertEqual((got["name"], got["visible"], got["variantsInfo"]["variants"][0]["id"],
                          got["variantsInfo"]["variants"][0]["price"]["actualPrice"]["amount"]),
                         ("DML v3 repriced", False, variant_id, "7.50"))
        rows, body = self.update_sends(
            emu, "UPDATE wix.products SET sku = 'V3-NEW', description = '<p>Fresh</p>' WHERE id = '%s' "
            "RETURNING sku, description, price" % product["id"], calls)
        self.assertEqual(rows, [["V3-NEW", "<p>Fresh</p>", "7.50"]])
        self.assertEqual(body["plainDescription"], "<p>Fresh</p>")
        self.assertNotIn("description", body)
        self.assertNotIn("sku", body)
        self.assertEqual([(v["id"], v["sku"], v["price"]["actualPrice"]["amount"])
                          for v in body["variantsInfo"]["variants"]], [(variant_id, "V3-NEW", "7.50")])
        got = wix(emu, "GET", path + "?fields=PLAIN_DESCRIPTION")["product"]
        self.assertEqual((got["plainDescription"], got["variantsInfo"]["variants"][0]["sku"]),
                         ("<p>Fresh</p>", "V3-NEW"))
        self.assertEqual(query("SELECT sku, description, price FROM wix.products WHERE id = '%s'" % product["id"]),
                         [["V3-NEW", "<p>Fresh</p>", "7.50"]])
        self.assertEqual(query("SELECT action, outcome FROM wix_admin.action_log WHERE target_id = '%s' "
                               "AND action = 'wix_update_product'" % product["id"]),
                         [["wix_update_product", "success"]] * 2)
        query("DELETE FROM wix.products WHERE id = '%s'" % product["id"])

    def test_update_price_of_a_product_with_several_variants_is_refused(self):
        product = Pick.one(emu, "products", lambda p: p.get("variantSummary", {}).get("variantCount", 1) > 1)
        path = "/stores/v3/products/" + product["id"]
        before = wix(emu, "GET", path)["product"]
        emu.reset_log()
        for sql in ("UPDATE wix.products SET price = 1 WHERE id = '%s'",
                    "UPDATE wix.products SET name = 'DML not renamed', sku = 'ONE' WHERE id = '%s'"):
            with self.subTest(sql=sql):
                err = error(sql % product["id"])
                self.assertIn("0A000", err)
                self.assertIn("cannot set one price or SKU for product %s: it has %d variants"
                              % (product["id"], len(before["variantsInfo"]["variants"])), err)
                self.assertIn("DETAIL:  Catalog V3 keeps the price and SKU on each variant", err)
                self.assertIn('HINT:  Pass wix_update_product() changes with "variantsInfo"', err)
        self.assertEqual(changes(emu), [])
        self.assertEqual([r["method"] for r in wix_requests(emu, path)], ["GET", "GET"])
        after = wix(emu, "GET", path)["product"]
        self.assertEqual((after["name"], after["revision"], after["variantsInfo"]),
                         (before["name"], before["revision"], before["variantsInfo"]))
        # its name alone still goes through
        query("UPDATE wix.products SET name = 'DML renamed' WHERE id = '%s'" % product["id"])
        self.assertEqual(wix(emu, "GET", path)["product"]["name"], "DML renamed")

    # -- UPDATE inventory_items SET in_stock ------------------------------------------

    def test_update_inventory_in_stock_v3(self):
        product = Pick.one(emu, "products", lambda p: p.get("variantSummary", {}).get("variantCount", 1) == 1)
        item_id, variant_id = query("SELECT id, variant_id FROM wix.inventory_items WHERE product_id = '%s'"
                                    % product["id"])[0]
        item_path = "/stores/v3/inventory-items/" + item_id
        for in_stock in (False, True):
            with self.subTest(in_stock=in_stock):
                revision = wix(emu, "GET", item_path)["inventoryItem"]["revision"]
                emu.reset_log()
                query("UPDATE wix.inventory_items SET in_stock = %s WHERE product_id = '%s'"
                      % (str(in_stock).lower(), product["id"]))
                self.assertEqual(self.calls(emu), [("POST", "/stores/v3/inventory-items/query"),
                                                   ("POST", "/stores/v3/inventory-items/query"),
                                                   ("PATCH", item_path)])
                self.assertEqual(wix_requests(emu, item_path)[0]["body"],
                                 {"inventoryItem": {"id": item_id, "revision": revision, "inStock": in_stock},
                                  "reason": "MANUAL"})
                runner_query = wix_requests(emu, "/stores/v3/inventory-items/query")[-1]["body"]
                self.assertEqual(runner_query["query"]["filter"], {"productId": product["id"], "variantId": variant_id})
                item = wix(emu, "GET", item_path)["inventoryItem"]
                self.assertEqual((item["inStock"], item["trackQuantity"], "quantity" in item),
                                 (in_stock, False, False))
                self.assertEqual(query("SELECT in_stock, track_quantity, quantity FROM wix.inventory_items "
                                       "WHERE id = '%s'" % item_id), [["t" if in_stock else "f", "f", ""]])
        self.assertEqual(query("SELECT action, outcome FROM wix_admin.action_log WHERE target_id = '%s'"
                               % product["id"]), [["wix_set_in_stock", "success"]] * 2)
        emu.reset_log()
        err = error("UPDATE wix.inventory_items SET in_stock = NULL WHERE id = '%s'" % item_id)
        self.assertIn('cannot set column "in_stock" of foreign table "inventory_items" to NULL', err)
        err = error("UPDATE wix.inventory_items SET in_stock = true WHERE id = '%s' RETURNING in_stock" % item_id)
        self.assertIn('UPDATE ... RETURNING is not supported when setting column "in_stock"', err)
        self.assertEqual(changes(emu), [])

    def test_update_inventory_in_stock_v1(self):
        product = Pick.one(emu_v1, "products", lambda p: p.get("manageVariants")
                           and len(p.get("variants") or []) > 1)
        variant = sorted(v["id"] for v in product["variants"])[0]
        path = "/stores/v2/inventoryItems/product/" + product["id"]
        emu_v1.reset_log()
        query("UPDATE wix_v1.inventory_items SET in_stock = false WHERE product_id = '%s' AND variant_id = '%s'"
              % (product["id"], variant))
        self.assertEqual(self.calls(emu_v1), [("POST", "/stores-reader/v2/inventoryItems/query"), ("PATCH", path),
                                              ("GET", "/stores-reader/v1/products/" + product["id"])])
        self.assertEqual(wix_requests(emu_v1, path)[0]["body"],
                         {"inventoryItem": {"trackQuantity": False, "variants": [
                             {"variantId": variant, "inStock": False}]}})
        got = wix(emu_v1, "GET", "/stores-reader/v1/products/" + product["id"])["product"]
        self.assertEqual([v["stock"] for v in got["variants"] if v["id"] == variant],
                         [{"trackQuantity": False, "inStock": False}])
        self.assertEqual(query("SELECT in_stock, track_quantity FROM wix_v1.inventory_items "
                               "WHERE product_id = '%s' AND variant_id = '%s'" % (product["id"], variant)),
                         [["f", "f"]])
        self.assertEqual(query("SELECT action FROM wix_admin.action_log WHERE target_id = '%s'" % product["id"]),
                         [["wix_set_in_stock"]])

    def test_quantity_and_in_stock_together_are_refused(self):
        for schema, em in (("wix", emu), ("wix_v1", emu_v1)):
            with self.subTest(schema=schema):
                em.reset_log()
                err = error("UPDATE %s.inventory_items SET quantity = 5, in_stock = true WHERE id = 'x'" % schema)
                self.assertIn("0A000", err)
                self.assertIn('cannot set columns "quantity" and "in_stock" of foreign table "inventory_items" '
                              'in one UPDATE', err)
                self.assertIn("DETAIL:  Setting quantity makes wix_set_inventory() and setting in_stock makes "
                              "wix_set_in_stock(); Wix takes one of these changes at a time", err)
                # refused while planning: not even the scan reaches Wix
                self.assertEqual(wix_requests(em), [])

    # -- members -------------------------------------------------------------------

    def test_members_status_insert_and_delete(self):
        pending = member(emu, "PENDING")
        rows = query("UPDATE wix.members SET status = 'APPROVED' WHERE id = '%s' RETURNING status"
                     % pending["id"])
        self.assertEqual(rows, [["APPROVED"]])
        query("UPDATE wix.members SET status = 'BLOCKED' WHERE id = '%s'" % pending["id"])
        self.assertEqual(value("SELECT status FROM wix.members WHERE id = '%s'" % pending["id"]), "BLOCKED")
        err = error("UPDATE wix.members SET status = 'PENDING' WHERE id = '%s'" % pending["id"])
        self.assertIn("can set status (to APPROVED or BLOCKED)", err)

        emu.reset_log()
        rows = query("INSERT INTO wix.members (login_email, first_name, nickname) "
                     "VALUES ('dml.member@example.com', 'Ada', 'ada') "
                     "RETURNING id IS NOT NULL, login_email, first_name, last_name, status")
        self.assertEqual(rows[0][:4], ["t", "dml.member@example.com", "Ada", ""])
        created = [r for r in wix_requests(emu, "/members/v1/members") if r["method"] == "POST"
                   and r["path"] == "/members/v1/members"]
        self.assertEqual(created[0]["body"], {"member": {"loginEmail": "dml.member@example.com",
                                                         "contact": {"firstName": "Ada"},
                                                         "profile": {"nickname": "ada"}}})
        err = error("INSERT INTO wix.members (login_email, status) VALUES ('x@example.com', 'BLOCKED')")
        self.assertIn('cannot set column "status" in an INSERT into foreign table "members"', err)
        new_id = value("SELECT id FROM wix.members WHERE login_email = 'dml.member@example.com'")
        query("DELETE FROM wix.members WHERE id = '%s'" % new_id)
        self.assertEqual(value("SELECT count(*) FROM wix.members WHERE id = '%s'" % new_id), "0")

    # -- privileges ------------------------------------------------------------------

    def test_privileges_are_the_tables(self):
        order, = unarchived_orders(1)
        query("""
            CREATE ROLE regress_wix_writer;
            GRANT USAGE ON SCHEMA wix TO regress_wix_writer;
            GRANT SELECT ON wix.orders TO regress_wix_writer;
            CREATE USER MAPPING FOR regress_wix_writer SERVER emu OPTIONS (api_key '%s');
        """ % API_KEY)
        try:
            emu.reset_log()
            err = error("SET ROLE regress_wix_writer; UPDATE wix.orders SET archived = true WHERE id = '%s'"
                        % order["id"])
            self.assertIn("permission denied for foreign table orders", err)
            self.assertEqual(changes(emu), [])
            # UPDATE on the table is enough: no EXECUTE on wix_archive_order, no USAGE on the server
            query("GRANT UPDATE ON wix.orders TO regress_wix_writer;")
            query("SET ROLE regress_wix_writer; UPDATE wix.orders SET archived = true WHERE id = '%s'"
                  % order["id"])
            self.assertTrue(order_of(order["id"])["archived"])
            self.assertEqual({r["headers"]["authorization"] for r in wix_requests(emu)
                              if r["method"] == "PATCH"}, {"api_key"})
            self.assertEqual(query("SELECT role, action FROM wix_admin.action_log WHERE target_id = '%s'"
                                   % order["id"]), [["regress_wix_writer", "wix_archive_order"]])
        finally:
            query("""
                DROP USER MAPPING IF EXISTS FOR regress_wix_writer SERVER emu;
                REVOKE ALL ON wix.orders FROM regress_wix_writer;
                REVOKE ALL ON SCHEMA wix FROM regress_wix_writer;
                DROP ROLE regress_wix_writer;
            """)

    def test_dml_through_a_view_uses_the_view_owners_user_mapping(self):
        # as a scan does: the role PostgreSQL checks the table's privileges as
        order, = unarchived_orders(1)
        query("""
            CREATE ROLE regress_wix_owner;
            CREATE ROLE regress_wix_viewer;
            GRANT USAGE ON SCHEMA wix TO regress_wix_owner;
            GRANT SELECT, UPDATE ON wix.orders TO regress_wix_owner;
            CREATE USER MAPPING FOR regress_wix_owner SERVER emu OPTIONS (api_key '%s');
            CREATE VIEW order_flags AS SELECT id, archived FROM wix.orders;
            ALTER VIEW order_flags OWNER TO regress_wix_owner;
            GRANT SELECT, UPDATE ON order_flags TO regress_wix_viewer;
        """ % API_KEY)
        try:
            emu.reset_log()
            query("SET ROLE regress_wix_viewer; UPDATE order_flags SET archived = true WHERE id = '%s'"
                  % order["id"])
            self.assertTrue(order_of(order["id"])["archived"])
            self.assertEqual({r["headers"]["authorization"] for r in wix_requests(emu)}, {"api_key"})
            self.assertEqual(query("SELECT role, action FROM wix_admin.action_log WHERE target_id = '%s'"
                                   % order["id"]), [["regress_wix_viewer", "wix_archive_order"]])
        finally:
            query("""
                DROP VIEW order_flags;
                DROP USER MAPPING IF EXISTS FOR regress_wix_owner SERVER emu;
                REVOKE ALL ON wix.orders FROM regress_wix_owner;
                REVOKE ALL ON SCHEMA wix FROM regress_wix_owner;
                DROP ROLE regress_wix_owner;
                DROP ROLE regress_wix_viewer;
            """)

    # -- deferred mode ----------------------------------------------------------------

    def test_deferred_dml_needs_the_tables_grant_at_delivery_not_execute(self):
        kept, revoked = unarchived_orders(2)
        query("""
            CREATE ROLE regress_wix_later;
            GRANT USAGE ON SCHEMA wix TO regress_wix_later;
            GRANT SELECT, UPDATE ON wix.orders TO regress_wix_later;
            CREATE USER MAPPING FOR regress_wix_later SERVER emu OPTIONS (api_key '%s');
        """ % API_KEY)
        try:
            emu.reset_log()
            for order in (kept, revoked):
                query("SET ROLE regress_wix_later; BEGIN; SET LOCAL wix_admin.defer_actions = on; "
                      "UPDATE wix.orders SET archived = true WHERE id = '%s'; COMMIT;" % order["id"])
            self.assertEqual(query("SELECT via_table::text FROM wix_admin.actions WHERE target_id = '%s'"
                                   % kept["id"]), [["wix.orders"]])
            # delivered although the role may not EXECUTE wix_archive_order ...
            query("CALL wix_admin.process_queue(1);")
            self.assertTrue(order_of(kept["id"])["archived"])
            self.assertEqual(changes(emu), [("PATCH", "/ecom/v1/orders/" + kept["id"])])
            # ... and refused once the table's grant is gone
            query("REVOKE UPDATE ON wix.orders FROM regress_wix_later; CALL wix_admin.process_queue();")
            self.assertEqual(query("SELECT state, last_error FROM wix_admin.actions WHERE target_id = '%s'"
                                   % revoked["id"]),
                             [["failed", 'role "regress_wix_later" may no longer update foreign table "orders"']])
            self.assertFalse(order_of(revoked["id"])["archived"])
        finally:
            query("""
                DELETE FROM wix_admin.queue WHERE role = 'regress_wix_later'::regrole;
                DROP USER MAPPING IF EXISTS FOR regress_wix_later SERVER emu;
                REVOKE ALL ON wix.orders FROM regress_wix_later;
                REVOKE ALL ON SCHEMA wix FROM regress_wix_later;
                DROP ROLE regress_wix_later;
            """)

    def test_deferred_update_sends_after_commit_only(self):
        rolled_back, committed = unarchived_orders(2)
        emu.reset_log()
        query("BEGIN; SET LOCAL wix_admin.defer_actions = on; "
              "UPDATE wix.orders SET archived = true WHERE id = '%s'; ROLLBACK;" % rolled_back["id"])
        query("BEGIN; SET LOCAL wix_admin.defer_actions = on; "
              "UPDATE wix.orders SET archived = true WHERE id = '%s'; COMMIT;" % committed["id"])
        self.assertEqual(changes(emu), [])
        self.assertEqual(query("SELECT action, state, args->>'order_id' FROM wix_admin.actions "
                               "WHERE target_id IN ('%s', '%s')" % (rolled_back["id"], committed["id"])),
                         [["wix_archive_order", "queued", committed["id"]]])
        query("CALL wix_admin.process_queue();")
        self.assertTrue(order_of(committed["id"])["archived"])
        self.assertFalse(order_of(rolled_back["id"])["archived"])
        err = error("SET wix_admin.defer_actions = on; "
                    "UPDATE wix.orders SET archived = true WHERE id = '%s' RETURNING id"
                    % rolled_back["id"])
        self.assertIn("RETURNING is not available when wix_admin.defer_actions is on", err)



def bulk_bodies(em):
    """The products of each bulk create request wix_admin sent."""
    return [r["body"]["products"] for r in wix_requests(em, "/stores/v3/bulk/products/create")]


def products_of(em, prefix):
    """The emulator's products whose names start with prefix."""
    return [p for p in items_of(em.data("products"), "products") if p["name"].startswith(prefix)]


class BulkTest(unittest.TestCase):
    """A test class whose products are no other test's to pick."""

    @staticmethod
    def product_ids():
        return {p["id"] for em in (emu, emu_v1) for p in items_of(em.data("products"), "products")}

    @classmethod
    def setUpClass(cls):
        cls.seeded = cls.product_ids()

    @classmethod
    def tearDownClass(cls):
        Pick.taken.update(cls.product_ids() - cls.seeded)

    def setUp(self):
        emu.clear_faults()
        emu.reset_log()
        emu_v1.reset_log()

    def tearDown(self):
        emu.clear_faults()


class BulkInsertTest(BulkTest):
    """INSERT into products goes to Catalog V3's bulk create, 100 rows a
    request, where no row must be answered or seen alone."""

    def logged(self, prefix):
        return value("SELECT count(DISTINCT target_id) FROM wix_admin.action_log "
                     "WHERE action = 'wix_create_product' AND target_id IN "
                     "(SELECT id FROM wix.products WHERE name LIKE '%s%%')" % prefix)

    def test_250_rows_are_3_requests_on_v3_and_250_on_v1(self):
        insert = ("INSERT INTO %s.products (name, price, sku, visible) "
                  "SELECT 'Bulk %s ' || g, g / 4.0, 'BLK-%s-' || g, g %% 2 = 0 FROM generate_series(1, 250) g")
        query(insert % ("wix", "v3", "v3"))
        self.assertEqual(changes(emu), [("POST", "/stores/v3/bulk/products/create")] * 3)
        bodies = bulk_bodies(emu)
        self.assertEqual([len(b) for b in bodies], [100, 100, 50])
        first = bodies[0][0]
        self.assertEqual((first["name"], first["productType"], first["visible"]), ("Bulk v3 1", "PHYSICAL", False))
        self.assertEqual(first["variantsInfo"]["variants"][0]["sku"], "BLK-v3-1")
        self.assertEqual(first["variantsInfo"]["variants"][0]["price"]["actualPrice"]["amount"], "0.25000000000000000000")
        made = [p for p in items_of(emu.data("products"), "products") if p["name"].startswith("Bulk v3 ")]
        self.assertEqual(len(made), 250)
        self.assertEqual(value("SELECT count(*) FROM wix.products WHERE name LIKE 'Bulk v3 %' AND visible"), "125")
        self.assertEqual(value("SELECT price FROM wix.products WHERE name = 'Bulk v3 250'"), "62.50")
        self.assertEqual(self.logged("Bulk v3 "), "250")
        # Catalog V1 has no bulk create: each row alone
        query(insert % ("wix_v1", "v1", "v1"))
        self.assertEqual(changes(emu_v1), [("POST", "/stores/v1/products")] * 250)
        self.assertEqual(value("SELECT count(*) FROM wix_v1.products WHERE name LIKE 'Bulk v1 %'"), "250")

    def test_rows_wix_refuses_are_sent_again_alone(self):
        def refused(i):
            return {"itemMetadata": {"originalIndex": i, "success": False,
                                     "error": {"code": "SKU_TAKEN", "description": "SKU already in use"}}}
        # Wix made rows 1 and 3 (the fault answers for it: nothing is made at
        # the emulator) and refused row 2, which is then sent alone and made
        ids = ["11111111-1111-4111-8111-11111111111%d" % i for i in (1, 3)]
        emu.fault(match="/stores/v3/bulk/products/create", status=200, times=1,
                  body={"results": [{"itemMetadata": {"id": ids[0], "originalIndex": 0, "success": True}},
                                    refused(1),
                                    {"itemMetadata": {"id": ids[1], "originalIndex": 2, "success": True}}],
                        "bulkActionMetadata": {"totalSuccesses": 2, "totalFailures": 1, "undetailedFailures": 0}})
        query("INSERT INTO wix.products (name, price) SELECT 'Refused ' || g, 1 FROM generate_series(1, 3) g")
        self.assertEqual(changes(emu), [("POST", "/stores/v3/bulk/products/create"), ("POST", "/stores/v3/products")])
        self.assertEqual(wix_requests(emu, "/stores/v3/products")[-1]["body"]["product"]["name"], "Refused 2")
        self.assertEqual(value("SELECT count(*) FROM wix.products WHERE name LIKE 'Refused %'"), "1")
        self.assertEqual(value("SELECT count(*) FROM wix_admin.action_log WHERE target_id IN ('%s', '%s')" % tuple(ids)),
                         "2")
        # refused again alone: the statement fails, saying what Wix made
        emu.reset_log()
        emu.fault(match="/stores/v3/bulk/products/create", status=200, times=1,
                  body={"results": [{"itemMetadata": {"id": ids[0], "originalIndex": 0, "success": True}}, refused(1)],
                        "bulkActionMetadata": {"totalSuccesses": 1, "totalFailures": 1, "undetailedFailures": 0}})
        emu.fault(match="/stores/v3/products", method="POST", status=400, times=1)
        err = error("INSERT INTO wix.products (name, price) SELECT 'Twice ' || g, 1 FROM generate_series(1, 2) g")
        self.assertIn("Wix had already changed 1 row of this statement", err)
        self.assertEqual(changes(emu), [("POST", "/stores/v3/bulk/products/create"), ("POST", "/stores/v3/products")])
        # a failed bulk request: the rows of earlier requests are counted
        emu.reset_log()
        emu.fault(match="/stores/v3/bulk/products/create", status=400, times=1, after=1)
        err = error("INSERT INTO wix.products (name, price) SELECT 'Second ' || g, 1 FROM generate_series(1, 150) g")
        self.assertIn("Wix had already changed 100 rows of this statement", err)
        self.assertEqual(value("SELECT count(*) FROM wix.products WHERE name LIKE 'Second %'"), "100")
        # a row our checks refuse stops the batch before anything is sent
        emu.reset_log()
        err = error("INSERT INTO wix.products (name, price) VALUES ('fine', 1), ('bad', -1)")
        self.assertIn("price", err)
        self.assertEqual(changes(emu), [])

    def test_rows_answered_or_seen_alone_are_sent_alone(self):
        rows = query("INSERT INTO wix.products (name, price) SELECT 'Alone ' || g, g FROM generate_series(1, 3) g "
                     "RETURNING name")
        self.assertEqual(sorted(r[0] for r in rows), ["Alone 1", "Alone 2", "Alone 3"])
        self.assertEqual(changes(emu), [("POST", "/stores/v3/products")] * 3)
        emu.reset_log()
        query("""
            CREATE TABLE IF NOT EXISTS product_log (name text);
            CREATE OR REPLACE FUNCTION log_product() RETURNS trigger LANGUAGE plpgsql AS
              $$BEGIN INSERT INTO product_log VALUES (NEW.name); RETURN NEW; END$$;
            CREATE TRIGGER log_product AFTER INSERT ON wix.products FOR EACH ROW EXECUTE FUNCTION log_product();
            INSERT INTO wix.products (name, price) SELECT 'Logged ' || g, g FROM generate_series(1, 2) g;
            DROP TRIGGER log_product ON wix.products;
        """)
        self.assertEqual(changes(emu), [("POST", "/stores/v3/products")] * 2)
        self.assertEqual(value("SELECT count(*) FROM product_log WHERE name LIKE 'Logged %'"), "2")
        emu.reset_log()
        query("BEGIN; SET LOCAL wix_admin.defer_actions = on; "
              "INSERT INTO wix.products (name, price) SELECT 'Deferred ' || g, g FROM generate_series(1, 2) g; "
              "COMMIT; CALL wix_admin.process_queue();")
        self.assertEqual(changes(emu), [("POST", "/stores/v3/products")] * 2)

    def test_copy_from_creates_products(self):
        query("COPY wix.products (name, price, sku) FROM PROGRAM "
              "'printf \"Copied 1\\t3.5\\tCP-1\\nCopied 2\\t4\\t\\\\N\\n\"'")
        self.assertEqual(query("SELECT name, price, sku FROM wix.products WHERE name LIKE 'Copied %' ORDER BY name"),
                         [["Copied 1", "3.50", "CP-1"], ["Copied 2", "4.00", ""]])
        # PostgreSQL 16 and later batch COPY into foreign tables as INSERT does
        batched = int(value("SHOW server_version_num")) >= 160000
        self.assertEqual(changes(emu), [("POST", "/stores/v3/bulk/products/create")] if batched
                         else [("POST", "/stores/v3/products")] * 2)
        err = error("COPY wix.orders (id) FROM PROGRAM 'echo x'")
        self.assertIn('foreign table "orders" does not allow inserts', err)

    def test_explain_verbose_shows_the_bulk_call(self):
        plan = "\n".join(r[0] for r in query(
            "EXPLAIN (VERBOSE, COSTS OFF) INSERT INTO wix.products (name, price) "
            "SELECT 'x' || g, g FROM generate_series(1, 3) g"))
        self.assertIn("Wix calls: up to 100 rows a request: wix_create_product(): "
                      "POST /stores/v3/bulk/products/create (Catalog V1: each row alone), "
                      "each row: wix_create_product()", plan)
        plan = "\n".join(r[0] for r in query(
            "EXPLAIN (VERBOSE, COSTS OFF) INSERT INTO wix.products (name, price) VALUES ('x', 1) RETURNING id"))
        self.assertNotIn("up to 100 rows", plan)
        self.assertEqual(changes(emu), [])


class BulkModifyTest(BulkTest):
    """UPDATE and DELETE of Catalog V3 products go to its bulk calls, 100
    rows a request: the scan reads the rows and sends them (direct modify)."""

    def test_250_rows_are_3_requests_on_v3_and_each_row_alone_on_v1(self):
        query("INSERT INTO wix.products (name, price) SELECT 'Upd ' || g, 1 FROM generate_series(1, 250) g")
        emu.reset_log()
        query("UPDATE wix.products SET visible = false, name = name || ' (old)' WHERE name LIKE 'Upd %'")
        self.assertEqual(changes(emu), [("POST", "/stores/v3/bulk/products/update")] * 3)
        bodies = [r["body"] for r in wix_requests(emu, "/stores/v3/bulk/products/update")]
        self.assertEqual([len(b["products"]) for b in bodies], [100, 100, 50])
        self.assertFalse(bodies[0]["returnEntity"])
        first = bodies[0]["products"][0]["product"]
        self.assertEqual(set(first), {"id", "revision", "name", "visible"})
        self.assertEqual((first["revision"], first["visible"]), ("1", False))
        self.assertTrue(first["name"].endswith(" (old)"))
        made = products_of(emu, "Upd ")
        self.assertEqual(len(made), 250)
        self.assertEqual({(p["visible"], p["revision"], p["name"].endswith(" (old)")) for p in made},
                         {(False, "2", True)})
        # besides the site's catalog and the scan's pages, nothing is read
        # (a batch goes as soon as the scan has read its rows)
        pages = -(-len(items_of(emu.data("products"), "products")) // 100)
        self.assertEqual(sorted(wix_requests_made(emu)),
                         sorted([("GET", "/stores/v3/provision/version")]
                                + [("POST", "/stores/v3/products/query")] * pages
                                + [("POST", "/stores/v3/bulk/products/update")] * 3))
        self.assertEqual(value("SELECT count(*) FROM wix_admin.action_log WHERE action = 'wix_update_product' "
                               "AND target_id IN (SELECT id FROM wix.products WHERE name LIKE 'Upd %')"), "250")
        emu.reset_log()
        rows = query("DELETE FROM wix.products WHERE name LIKE 'Upd %'; SELECT count(*) FROM wix.products "
                     "WHERE name LIKE 'Upd %'")
        self.assertEqual(rows, [["0"]])
        self.assertEqual(changes(emu), [("POST", "/stores/v3/bulk/products/delete")] * 3)
        self.assertEqual(products_of(emu, "Upd "), [])
        # Catalog V1 has no bulk calls: each row alone
        query("INSERT INTO wix_v1.products (name, price) SELECT 'Upd1 ' || g, 1 FROM generate_series(1, 5) g")
        emu_v1.reset_log()
        query("UPDATE wix_v1.products SET visible = false WHERE name LIKE 'Upd1 %'")
        self.assertEqual([m for m, p in changes(emu_v1)], ["PATCH"] * 5)
        self.assertEqual({p["visible"] for p in products_of(emu_v1, "Upd1 ")}, {False})
        emu_v1.reset_log()
        query("DELETE FROM wix_v1.products WHERE name LIKE 'Upd1 %'")
        self.assertEqual([m for m, p in changes(emu_v1)], ["DELETE"] * 5)
        self.assertEqual(products_of(emu_v1, "Upd1 "), [])

    def test_a_row_wix_refuses_is_sent_alone_with_its_revision_read_again(self):
        rows = query("INSERT INTO wix.products (name, price) SELECT 'Conflict ' || g, 1 "
                     "FROM generate_series(1, 3) g RETURNING id, name")
        ids = dict((name, pid) for pid, name in rows)
        emu.reset_log()
        # Wix makes rows 1 and 3 and refuses row 2 (a stale revision) ...
        emu.fault(match="/stores/v3/bulk/products/update", status=200, times=1, body={
            "results": [{"itemMetadata": {"id": ids["Conflict 1"], "originalIndex": 0, "success": True}},
                        {"itemMetadata": {"id": ids["Conflict 2"], "originalIndex": 1, "success": False,
                                          "error": {"code": "REVISION_MISMATCH", "description": "stale"}}},
                        {"itemMetadata": {"id": ids["Conflict 3"], "originalIndex": 2, "success": True}}],
            "bulkActionMetadata": {"totalSuccesses": 2, "totalFailures": 1, "undetailedFailures": 0}})
        # ... and alone, its revision is stale again once: read it, send again
        emu.fault(match="/stores/v3/products/" + ids["Conflict 2"], method="PATCH", status=409, times=1)
        query("UPDATE wix.products SET visible = false WHERE name LIKE 'Conflict %'")
        alone = "/stores/v3/products/" + ids["Conflict 2"]
        self.assertEqual([r for r in wix_requests_made(emu) if not r[1].endswith("/query")],
                         [("GET", "/stores/v3/provision/version"), ("POST", "/stores/v3/bulk/products/update"), ("PATCH", alone), ("GET", alone),
                          ("PATCH", alone)])
        patches = [r["body"]["product"] for r in wix_requests(emu, alone) if r["method"] == "PATCH"]
        self.assertEqual([p["revision"] for p in patches], ["1", "1"])   # as read, then as read again
        self.assertFalse(wix(emu, "GET", alone)["product"]["visible"])
        self.assertEqual(query("SELECT target_id, error FROM wix_admin.action_log WHERE target_id IN ('%s', '%s', '%s') "
                               "AND action = 'wix_update_product' ORDER BY id" % tuple(ids[n] for n in ("Conflict 1", "Conflict 2", "Conflict 3"))),
                         [[ids["Conflict 1"], ""], [ids["Conflict 3"], ""],
                          [ids["Conflict 2"], "revision conflict (HTTP 409) on the first attempt; "
                                              "re-read the revision and retried once"]])

    def test_members_delete_in_bulk(self):
        query("INSERT INTO wix.members (login_email) "
              "SELECT 'bulk.gone.' || g || '@example.com' FROM generate_series(1, 150) g")
        emu.reset_log()
        query("DELETE FROM wix.members WHERE login_email LIKE 'bulk.gone.%'")
        self.assertEqual(changes(emu), [("POST", "/members/v1/members/bulk/delete")] * 2)
        bodies = [r["body"] for r in wix_requests(emu, "/members/v1/members/bulk/delete")]
        self.assertEqual([len(b["memberIds"]) for b in bodies], [100, 50])
        self.assertEqual(set(bodies[0]), {"memberIds"})
        self.assertEqual([m for m in items_of(emu.data("members"), "members")
                          if m["loginEmail"].startswith("bulk.gone.")], [])
        self.assertEqual(value("SELECT count(*) FROM wix_admin.action_log WHERE action = 'wix_delete_member' "
                               "AND target_id IN (%s)" % ", ".join("'%s'" % i for b in bodies for i in b["memberIds"])),
                         "150")
        plan = verbose_plan("DELETE FROM wix.members WHERE id = 'x'")
        self.assertIn("Wix calls: up to 100 rows a request: wix_delete_member(): "
                      "POST /members/v1/members/bulk/delete, "
                      "each row: wix_delete_member(): DELETE /members/v1/members/{member_id}", plan)

    def test_explain_and_when_rows_go_alone(self):
        plan = "\n".join(r[0] for r in query(
            "EXPLAIN (VERBOSE, COSTS OFF) UPDATE wix.products SET visible = false WHERE name LIKE 'x%'"))
        self.assertIn("Foreign Update on wix.products", plan)
        self.assertIn("Wix calls: up to 100 rows a request: wix_update_product(): "
                      "POST /stores/v3/bulk/products/update (Catalog V1: each row alone), "
                      "visible = any: wix_update_product()", plan)
        self.assertIn("Filter: (products.name ~~ 'x%'::text)", plan)
        # RETURNING, row triggers and joins keep the row-by-row plan
        for sql in ("UPDATE wix.products SET visible = false WHERE name LIKE 'x%' RETURNING id",
                    "UPDATE wix.products p SET visible = false FROM (VALUES ('x'), ('y')) v(n) WHERE p.name = v.n"):
            plan = "\n".join(r[0] for r in query("EXPLAIN (VERBOSE, COSTS OFF) " + sql))
            self.assertNotIn("Foreign Update", plan, sql)
            self.assertIn("Wix calls: visible = any: wix_update_product()", plan, sql)
        self.assertEqual(changes(emu), [])

    def test_deferred_rows_are_queued_one_by_one(self):
        query("INSERT INTO wix.products (name, price) SELECT 'Later ' || g, 1 FROM generate_series(1, 2) g")
        emu.reset_log()
        query("BEGIN; SET LOCAL wix_admin.defer_actions = on; "
              "UPDATE wix.products SET visible = false WHERE name LIKE 'Later %'; COMMIT;")
        self.assertEqual(changes(emu), [])
        self.assertEqual(value("SELECT count(*) FROM wix_admin.actions WHERE action = 'wix_update_product' "
                               "AND state = 'queued'"), "2")
        query("CALL wix_admin.process_queue();")
        self.assertEqual({p["visible"] for p in products_of(emu, "Later ")}, {False})

if __name__ == "__main__":
    unittest.main()
