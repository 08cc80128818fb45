"""The tables of issue 13 (order line items, payments, refunds, fulfillments,
abandoned checkouts, contacts, inventory items, coupons, booking services,
pricing-plan orders),
each a catalog entry: values against the emulator's JSON, the requests each
scan costs (from the emulator's request log), pushdown of the parent order's
columns into the orders search, LIMIT, EXPLAIN VERBOSE and the errors for a
malformed nested array.  Private emulators, so that the request log is ours
and the sizes give several pages."""
import datetime
import json
import math
import unittest
import urllib.error
from decimal import Decimal

from fixtures import Emulator, create_database, items_of, psql, psql_error, server_sql, wix
from wixfault import EmulatorProcess

DB = "wix_analyst_tables"
VISIBLE = ("APPROVED", "CANCELED", "PENDING", "REJECTED")
TABLES = ["abandoned_checkouts", "booking_services", "bookings", "contacts", "coupons",
          "inventory_items", "members", "order_fulfillments", "order_line_items",
          "order_payments", "order_refunds", "orders", "pricing_plan_orders", "products"]


def query(sql):
    return psql("SET timezone = 'UTC';\n" + sql, db=DB)


def ts(value):
    """An ISO date or epoch-ms value as PostgreSQL prints a timestamptz (UTC)."""
    if value is None:
        return ""
    if isinstance(value, (int, float)) or str(value).isdigit():
        d = datetime.datetime.fromtimestamp(int(value) / 1000, datetime.timezone.utc)
    else:
        d = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    text = d.strftime("%Y-%m-%d %H:%M:%S")
    if d.microsecond:
        text += ("%.6f" % (d.microsecond / 1e6))[1:].rstrip("0")
    return text + "+00"


def num(value):
    """Money as a Decimal, None for absent."""
    return None if value in (None, "") else Decimal(str(value))


def get(obj, path):
    for key in path.split("."):
        if not isinstance(obj, dict) or key not in obj:
            return None
        obj = obj[key]
    return obj


def text(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "t" if value else "f"
    return str(value)


class AnalystTablesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.proc = EmulatorProcess("--catalog", "V3", "--contacts", "1200", "--checkouts", "250",
                                   "--coupons", "150", "--services", "130")
        cls.proc_v1 = EmulatorProcess("--catalog", "V1", "--products", "150",
                                      "--orders", "5", "--members", "5", "--bookings", "5")
        cls.emu = Emulator(cls.proc.url)
        cls.emu_v1 = Emulator(cls.proc_v1.url)
        create_database(DB, servers=server_sql("emu", cls.proc.url, schema="wix") +
                        server_sql("emu_v1", cls.proc_v1.url, schema="wix_v1",
                                   tables=["inventory_items"]))
        cls.orders = sorted((o for o in items_of(cls.emu.data("orders"), "orders")
                             if o["status"] in VISIBLE), key=lambda o: o["id"])
        cls.by_id = {o["id"]: o for o in cls.orders}
        ids = [o["id"] for o in cls.orders]
        cls.transactions = []
        cls.fulfillments = []
        for i in range(0, len(ids), 100):
            body = {"orderIds": ids[i:i + 100]}
            cls.transactions += wix(cls.emu, "POST", "/ecom/v1/payments/list-by-ids",
                                    body)["orderTransactions"]
            cls.fulfillments += wix(cls.emu, "POST", "/ecom/v1/fulfillments/list-by-ids",
                                    body)["ordersWithFulfillments"]

    @classmethod
    def tearDownClass(cls):
        cls.proc.stop()
        cls.proc_v1.stop()

    def setUp(self):
        self.emu.clear_faults()
        self.emu.reset_log()

    def sent(self, prefix=None):
        return [r for r in self.emu.requests(prefix) if not r["path"].startswith("/oauth2/")]

    def orders_pages(self, n=None):
        return math.ceil((len(self.orders) if n is None else n) / 100)

    # -- IMPORT FOREIGN SCHEMA ---------------------------------------------------

    def test_import_creates_every_table(self):
        tables = query("SELECT foreign_table_name FROM information_schema.foreign_tables "
                       "WHERE foreign_table_schema = 'wix' ORDER BY 1")
        self.assertEqual(tables, [[t] for t in TABLES])
        query("CREATE SCHEMA IF NOT EXISTS lim; CREATE SCHEMA IF NOT EXISTS exc;"
              "IMPORT FOREIGN SCHEMA wix LIMIT TO (order_refunds, coupons) FROM SERVER emu INTO lim;"
              "IMPORT FOREIGN SCHEMA wix EXCEPT (order_refunds, coupons) FROM SERVER emu INTO exc;")
        self.assertEqual(query("SELECT foreign_table_name FROM information_schema.foreign_tables "
                               "WHERE foreign_table_schema = 'lim' ORDER BY 1"),
                         [["coupons"], ["order_refunds"]])
        self.assertEqual(len(query("SELECT 1 FROM information_schema.foreign_tables "
                                   "WHERE foreign_table_schema = 'exc'")), len(TABLES) - 2)
        # every new table has raw jsonb
        for table in TABLES:
            self.assertEqual(query("SELECT data_type FROM information_schema.columns WHERE "
                                   "table_schema = 'wix' AND table_name = '%s' AND "
                                   "column_name = 'raw'" % table), [["jsonb"]])

    # -- order_line_items ------------------------------------------------------------

    LINE_ITEM_COLUMNS = ("order_id, line_item_id, order_number, order_created_date, "
                         "product_name, catalog_item_id, variant_id, sku, item_type, quantity, "
                         "unit_price, total_price_before_tax, total_price_after_tax, "
                         "total_discount, tax_amount, currency")

    def test_line_items_values_cost_only_the_orders_pages(self):
        expected = []
        for o in self.orders:
            for li in o["lineItems"]:
                expected.append([o["id"], li["id"], str(o["number"]), ts(o["createdDate"]),
                                 text(get(li, "productName.original")),
                                 text(get(li, "catalogReference.catalogItemId")),
                                 text(get(li, "catalogReference.options.variantId")),
                                 text(get(li, "physicalProperties.sku")),
                                 text(get(li, "itemType.preset")), str(li["quantity"]),
                                 num(get(li, "price.amount")),
                                 num(get(li, "totalPriceBeforeTax.amount")),
                                 num(get(li, "totalPriceAfterTax.amount")),
                                 num(get(li, "totalDiscount.amount")),
                                 num(get(li, "taxInfo.taxAmount.amount")), o["currency"]])
        key = lambda r: (r[0], r[1])
        # json-c reads the pages; with raw they go straight into jsonb
        for select in (self.LINE_ITEM_COLUMNS, self.LINE_ITEM_COLUMNS + ", raw"):
            with self.subTest(select=select):
                self.emu.reset_log()
                rows = query("SELECT %s FROM wix.order_line_items" % select)
                self.assertEqual(len(self.sent()), self.orders_pages())
                self.assertEqual(len(self.sent("/ecom/v1/orders/search")), self.orders_pages())
                got = [r[:10] + [num(v) for v in r[10:15]] + r[15:16] for r in rows]
                self.assertEqual(sorted(got, key=key), sorted(expected, key=key))
                self.assertGreater(len(rows), len(self.orders))
        raw = {(r[0], r[1]): json.loads(r[16]) for r in rows}
        self.assertEqual(raw, {(o["id"], li["id"]): li for o in self.orders for li in o["lineItems"]})

    def test_line_items_limit_counts_rows(self):
        rows = query("SELECT order_id, line_item_id FROM wix.order_line_items LIMIT 3")
        self.assertEqual(len(rows), 3)
        # a LIMIT of rows inside items is not pushed: the first orders page,
        # and at most the one page a scan requests ahead
        sent = self.sent()
        self.assertLessEqual(len(sent), 2)
        self.assertEqual(sent[0]["body"]["search"]["cursorPaging"], {"limit": 100})

    def pushed_and_local(self, sql):
        """The rows of sql with pushdown, and with every condition evaluated
        here; the request log holds the first run's requests only."""
        local = query("SET wix_admin.enable_where_pushdown = off;\n" + sql)
        self.emu.reset_log()
        return query(sql), local

    def line_items(self, where):
        return self.pushed_and_local(
            "SELECT order_id, line_item_id, product_name, catalog_item_id "
            "FROM wix.order_line_items WHERE %s ORDER BY 1, 2" % where)

    def line_items_expected(self, keep):
        return sorted([o["id"], li["id"], text(get(li, "productName.original")),
                       text(get(li, "catalogReference.catalogItemId"))]
                      for o in self.orders for li in o["lineItems"] if keep(o, li))

    def search_filters(self):
        return [r["body"]["search"]["filter"] for r in self.sent("/ecom/v1/orders/search")
                if "filter" in r["body"]["search"]]

    def test_line_item_conditions_select_orders_and_are_rechecked(self):
        """product_name / catalog_item_id "= x" and IN (...) go into the
        orders search as $hasSome, which selects the orders having such a
        line: only their pages are read, and each row is rechecked here (the
        orders' other lines do not match)."""
        counts = {}
        for o in self.orders:
            for name in {li["productName"]["original"] for li in o["lineItems"]}:
                counts[name] = counts.get(name, 0) + 1
        rare = min(counts, key=counts.get)
        having = [o for o in self.orders
                  if any(li["productName"]["original"] == rare for li in o["lineItems"])]
        # the recheck matters: those orders have other lines too
        self.assertTrue(any(li["productName"]["original"] != rare
                            for o in having for li in o["lineItems"]))
        rows, local = self.line_items("product_name = '%s'" % rare.replace("'", "''"))
        self.assertEqual(rows, self.line_items_expected(
            lambda o, li: li["productName"]["original"] == rare))
        self.assertEqual(rows, local)
        self.assertEqual(len(self.sent("/ecom/v1/orders/search")),
                         self.orders_pages(len(having)))
        self.assertLess(self.orders_pages(len(having)), self.orders_pages())
        self.assertIn({"lineItems.productName.original": {"$hasSome": [rare]}},
                      self.search_filters()[0]["$and"])

        # IN (...) on the catalog item, ANDed with the order's date
        ids = sorted({get(li, "catalogReference.catalogItemId") for o in self.orders
                      for li in o["lineItems"]} - {None})[:2]
        since = sorted(o["createdDate"] for o in self.orders)[len(self.orders) // 2]
        rows, local = self.line_items("catalog_item_id IN ('%s', '%s') AND order_created_date "
                                      ">= '%s'" % (ids[0], ids[1], since))
        self.assertEqual(rows, self.line_items_expected(
            lambda o, li: get(li, "catalogReference.catalogItemId") in ids and
            o["createdDate"] >= since))
        self.assertEqual(rows, local)
        sent = self.search_filters()[0]["$and"]
        self.assertIn({"lineItems.catalogReference.catalogItemId": {"$hasSome": ids}}, sent)
        self.assertIn({"createdDate": {"$gte": since}}, sent)

        # OR with an order column: the orders matching either, rechecked
        number = int(self.orders[0]["number"])
        rows, local = self.line_items("product_name = '%s' OR order_number = %d"
                                      % (rare.replace("'", "''"), number))
        self.assertEqual(rows, self.line_items_expected(
            lambda o, li: li["productName"]["original"] == rare or int(o["number"]) == number))
        self.assertEqual(rows, local)
        self.assertIn({"$or": [{"lineItems.productName.original": {"$hasSome": [rare]}},
                               {"number": {"$eq": number}}]},
                      self.search_filters()[0]["$and"])

    def test_line_item_conditions_wix_cannot_answer_stay_local(self):
        """$hasSome answers "some line matches": <>, NOT, LIKE and IS NULL on
        a line's column are not sent (their negation or prefix would lose
        orders), only checked here."""
        name = self.orders[0]["lineItems"][0]["productName"]["original"]
        literal = name.replace("'", "''")
        for where in ("product_name <> '%s'" % literal, "NOT (product_name = '%s')" % literal,
                      "product_name LIKE 'a%%'", "catalog_item_id IS NULL",
                      "product_name NOT IN ('%s')" % literal):
            with self.subTest(where=where):
                rows, local = self.line_items(where)
                self.assertEqual(rows, local)
                self.assertEqual(list(self.search_filters()[0].keys()), ["status"])

    def test_explain_shows_line_item_filter_and_recheck(self):
        plan = "\n".join(r[0] for r in query(
            "EXPLAIN (VERBOSE, COSTS OFF) SELECT line_item_id FROM wix.order_line_items "
            "WHERE product_name IN ('Mug', 'Tee') AND order_number > 10"))
        self.assertIn('Wix filter: {"$and":[{"lineItems.productName.original":'
                      '{"$hasSome":["Mug","Tee"]}},{"number":{"$gt":10}}]}', plan)
        self.assertIn("Filter: (order_line_items.product_name = ANY "
                      "('{Mug,Tee}'::text[]))", plan)
        self.assertNotIn("order_number > 10", plan)  # exact: not rechecked
        self.assertIn('Wix request body: {"search":{"filter":{"$and":[{"status":', plan)
        self.assertEqual(self.sent(), [])

    # -- order_payments, order_refunds, order_fulfillments ---------------------------

    def payments_expected(self, orders):
        rows = []
        for t in self.transactions:
            if t["orderId"] not in orders:
                continue
            o = self.by_id[t["orderId"]]
            for p in t["payments"]:
                rows.append([o["id"], str(o["number"]), ts(o["createdDate"]), p["id"],
                             ts(p.get("createdDate")), ts(p.get("updatedDate")),
                             num(get(p, "amount.amount")), text(p.get("status")),
                             text(get(p, "regularPaymentDetails.offlinePayment")),
                             text(get(p, "regularPaymentDetails.paymentMethod")),
                             text(get(p, "regularPaymentDetails.providerTransactionId")),
                             p.get("giftcardPaymentDetails")])
        return sorted(rows, key=lambda r: r[3])

    PAYMENT_COLUMNS = ("order_id, order_number, order_created_date, payment_id, created_date, "
                       "updated_date, amount, status, offline, payment_method, "
                       "provider_transaction_id, gift_card")

    def payment_rows(self, where=""):
        rows = query("SELECT %s FROM wix.order_payments %s ORDER BY payment_id"
                     % (self.PAYMENT_COLUMNS, where))
        return [r[:6] + [num(r[6])] + r[7:11] + [json.loads(r[11]) if r[11] else None]
                for r in rows]

    def test_payments_values_and_requests(self):
        rows = self.payment_rows()
        n = len(self.orders)
        self.assertEqual(len(self.sent("/ecom/v1/orders/search")), self.orders_pages())
        batches = self.sent("/ecom/v1/payments/list-by-ids")
        self.assertEqual(len(batches), math.ceil(n / 100))
        self.assertEqual(len(self.sent()), self.orders_pages() + math.ceil(n / 100))
        self.assertEqual(rows, self.payments_expected(self.by_id))
        self.assertTrue(any(r[11] is not None for r in rows))    # gift cards
        self.assertTrue(any(r[8] == "t" for r in rows))          # offline

    def test_refunds_values(self):
        rows = query("SELECT order_id, order_number, order_created_date, refund_id, payment_id, "
                     "created_date, amount, refund_status, external_refund, reason "
                     "FROM wix.order_refunds")
        expected = []
        for t in self.transactions:
            o = self.by_id[t["orderId"]]
            for r in t["refunds"]:
                for x in r["transactions"]:
                    expected.append([o["id"], str(o["number"]), ts(o["createdDate"]), r["id"],
                                     x["paymentId"], ts(r.get("createdDate")),
                                     num(get(x, "amount.amount")), text(x.get("refundStatus")),
                                     text(x.get("externalRefund")),
                                     text(get(r, "details.reason"))])
        got = [r[:6] + [num(r[6])] + r[7:] for r in rows]
        key = lambda r: (r[3], r[4])
        self.assertGreater(len(expected), 0)
        self.assertEqual(sorted(got, key=key), sorted(expected, key=key))
        self.assertEqual(len(self.sent("/ecom/v1/payments/list-by-ids")),
                         math.ceil(len(self.orders) / 100))

    def test_fulfillments_values(self):
        rows = query("SELECT order_id, order_number, order_created_date, fulfillment_id, "
                     "created_date, tracking_number, shipping_provider, tracking_link, "
                     "line_items FROM wix.order_fulfillments")
        expected = []
        for f in self.fulfillments:
            o = self.by_id[f["orderId"]]
            for x in f["fulfillments"]:
                expected.append([o["id"], str(o["number"]), ts(o["createdDate"]), x["id"],
                                 ts(x.get("createdDate")),
                                 text(get(x, "trackingInfo.trackingNumber")),
                                 text(get(x, "trackingInfo.shippingProvider")),
                                 text(get(x, "trackingInfo.trackingLink")), x["lineItems"]])
        got = [r[:8] + [json.loads(r[8])] for r in rows]
        key = lambda r: r[3]
        self.assertGreater(len(expected), 0)
        self.assertEqual(sorted(got, key=key), sorted(expected, key=key))
        self.assertEqual(len(self.sent("/ecom/v1/fulfillments/list-by-ids")),
                         math.ceil(len(self.orders) / 100))

    def test_order_id_alone_is_one_get(self):
        order = next(t["orderId"] for t in self.transactions if len(t["payments"]) > 1)
        for table, prefix in (("order_payments", "/ecom/v1/payments/orders/"),
                              ("order_fulfillments", "/ecom/v1/fulfillments/orders/"),
                              ("order_refunds", "/ecom/v1/payments/orders/")):
            self.emu.reset_log()
            rows = query("SELECT order_id, raw FROM wix.%s WHERE order_id = '%s'" % (table, order))
            sent = self.sent()
            self.assertEqual(len(sent), 1, table)
            self.assertEqual((sent[0]["method"], sent[0]["path"]), ("GET", prefix + order))
            self.assertTrue(all(r[0] == order for r in rows))
        self.emu.reset_log()
        rows = query("SELECT payment_id FROM wix.order_payments WHERE order_id = '%s' "
                     "ORDER BY 1" % order)
        self.assertEqual(rows, [[r[3]] for r in self.payments_expected({order})])
        self.assertGreater(len(rows), 1)
        # an unknown order: Wix answers 404, no rows
        self.assertEqual(query("SELECT * FROM wix.order_payments WHERE order_id = 'nope'"), [])
        # the order's own columns need the orders search: one search, one batch
        self.emu.reset_log()
        rows = query("SELECT order_number FROM wix.order_payments WHERE order_id = '%s'" % order)
        self.assertEqual(set(r[0] for r in rows), {str(self.by_id[order]["number"])})
        self.assertEqual([r["path"] for r in self.sent()],
                         ["/ecom/v1/orders/search", "/ecom/v1/payments/list-by-ids"])

    def test_order_id_in_list_reads_by_ids(self):
        ids = sorted(self.by_id)[:150]
        rows = query("SELECT order_id, payment_id FROM wix.order_payments WHERE order_id IN (%s)"
                     % ", ".join("'%s'" % i for i in ids))
        self.assertEqual(self.sent("/ecom/v1/orders/search"), [])
        self.assertEqual(sorted(len(b["body"]["orderIds"])
                                for b in self.sent("/ecom/v1/payments/list-by-ids")), [50, 100])
        self.assertEqual(sorted(r[1] for r in rows),
                         [r[3] for r in self.payments_expected(set(ids))])

    def test_parent_columns_are_pushed_into_the_orders_search(self):
        dates = sorted(o["createdDate"] for o in self.orders)
        since = dates[len(dates) * 3 // 4]
        chosen = {o["id"] for o in self.orders if o["createdDate"] >= since}
        rows = self.payment_rows("WHERE order_created_date >= '%s'" % since)
        searches = self.sent("/ecom/v1/orders/search")
        self.assertEqual(len(searches), self.orders_pages(len(chosen)))
        self.assertIn({"createdDate": {"$gte": since}},
                      searches[0]["body"]["search"]["filter"]["$and"])
        self.assertEqual(len(self.sent("/ecom/v1/payments/list-by-ids")),
                         math.ceil(len(chosen) / 100))
        self.assertEqual(rows, self.payments_expected(chosen))
        # order_number, and order_id IN (...) with another condition
        ids = sorted(chosen)[:5]
        self.emu.reset_log()
        rows = query("SELECT DISTINCT order_id FROM wix.order_fulfillments WHERE order_id IN (%s) "
                     "AND order_number > 0" % ", ".join("'%s'" % i for i in ids))
        search = self.sent("/ecom/v1/orders/search")[0]["body"]["search"]["filter"]["$and"]
        self.assertIn({"id": {"$in": ids}}, search)
        self.assertIn({"number": {"$gt": 0}}, search)
        self.assertTrue({r[0] for r in rows} <= set(ids))

    def test_limit_counts_rows_not_orders(self):
        rows = query("SELECT payment_id FROM wix.order_payments LIMIT 3")
        self.assertEqual(len(rows), 3)
        self.assertEqual(len(self.sent("/ecom/v1/orders/search")), 1)
        self.assertEqual(len(self.sent("/ecom/v1/payments/list-by-ids")), 1)

    def test_explain_verbose_shows_parent_and_batch_requests(self):
        plan = "\n".join(r[0] for r in query(
            "EXPLAIN VERBOSE SELECT * FROM wix.order_payments "
            "WHERE order_created_date >= '2025-01-01Z'"))
        self.assertIn("Wix request: POST /ecom/v1/payments/list-by-ids", plan)
        self.assertIn("Wix ids: from POST /ecom/v1/orders/search, up to 100 a request", plan)
        self.assertIn("Wix request (parent): POST /ecom/v1/orders/search", plan)
        self.assertIn('Wix filter: {"createdDate":{"$gte":"2025-01-01T00:00:00.000Z"}}', plan)
        self.assertIn("Wix request body (parent): ", plan)
        plan = "\n".join(r[0] for r in query(
            "EXPLAIN VERBOSE SELECT payment_id FROM wix.order_payments WHERE order_id = 'a/b'"))
        self.assertIn("Wix request: GET /ecom/v1/payments/orders/a%2Fb", plan)
        self.assertEqual(self.sent(), [])

    def test_malformed_nested_array_is_an_error(self):
        order = sorted(self.by_id)[0]
        # payments, refunds and fulfillments may be left out when empty
        # (rows_path "payments?"): no rows, no error
        for body in ({"orderTransactions": [{"orderId": order}]},
                     {"orderTransactions": [{"orderId": order, "payments": None}]}):
            self.emu.fault(match="/ecom/v1/payments/list-by-ids", status=200,
                           body=json.dumps(body), times=1)
            self.assertEqual(query("SELECT count(*) FROM wix.order_payments "
                                   "WHERE order_id IN ('%s', 'x')" % order), [["0"]])
        self.emu.fault(match="/ecom/v1/payments/list-by-ids", status=200, times=1,
                       body=json.dumps({"orderTransactions": [{"orderId": order, "payments": {}}]}))
        err = psql_error("SELECT * FROM wix.order_payments WHERE order_id IN ('%s', 'x')"
                         % order, db=DB)
        self.assertIn('Wix API response to /ecom/v1/payments/list-by-ids has an item '
                      'without the array "payments"', err)
        self.assertIn("Its value is a JSON object.", err)
        # an order without its id would lose its payments silently: an error
        self.emu.fault(match="/ecom/v1/orders/search", status=200, times=1,
                       body=json.dumps({"orders": [{"number": "1", "lineItems": []}],
                                        "metadata": {}}))
        err = psql_error("SELECT * FROM wix.order_payments", db=DB)
        self.assertIn('Wix API response to /ecom/v1/orders/search holds an item without '
                      'a string "id"', err)
        # an order's lineItems are never empty: missing is an error
        self.emu.fault(match="/ecom/v1/orders/search", status=200, times=1,
                       body=json.dumps({"orders": [{"id": "o", "number": "1"}], "metadata": {}}))
        err = psql_error("SELECT * FROM wix.order_line_items", db=DB)
        self.assertIn('without the array "lineItems"', err)
        self.assertIn('The key "lineItems" is missing.', err)
        self.emu.fault(match="/ecom/v1/payments/list-by-ids", status=200, times=1,
                       body=json.dumps({"orderTransactions": [
                           {"orderId": order, "payments": [], "refunds": [{"id": "r"}]}]}))
        err = psql_error("SELECT * FROM wix.order_refunds WHERE order_id IN ('%s', 'x')"
                         % order, db=DB)
        self.assertIn('without the array "transactions"', err)
        self.emu.fault(match="/ecom/v1/orders/search", status=200, times=1,
                       body=json.dumps({"orders": [{"id": "o", "number": "1", "lineItems": [1]}],
                                        "metadata": {}}))
        err = psql_error("SELECT * FROM wix.order_line_items", db=DB)
        self.assertIn('has a "lineItems" element that is not an object', err)

    # -- query tables ------------------------------------------------------------------

    def check_table(self, table, kind, key, columns, path, pages=None):
        """Rows of table equal the emulator's objects of kind (column: JSON path,
        converted by its SQL type); pages: the requests expected."""
        data = items_of(self.emu.data(kind), key)
        rows = query("SELECT %s FROM wix.%s ORDER BY id" % (", ".join(c for c, _, _ in columns),
                                                            table))
        expected = []
        for item in sorted(data, key=lambda x: x["id"]):
            row = []
            for _, jpath, kind_ in columns:
                v = get(item, jpath)
                row.append(ts(v) if kind_ == "ts" else num(v) if kind_ == "num" else
                           v if kind_ == "json" else text(v))
            expected.append(row)
        got = [[ts_or(r, c) for r, c in zip(row, columns)] for row in rows]
        self.assertEqual(len(got), len(expected))
        self.assertEqual(got, expected)
        sent = self.sent(path)
        if pages is not None:
            self.assertEqual(len(sent), pages)
        return sent

    def test_abandoned_checkouts(self):
        sent = self.check_table("abandoned_checkouts", "abandoned-checkouts", "abandoned-checkouts", [
            ("id", "id", "t"), ("created_date", "createdDate", "ts"),
            ("updated_date", "updatedDate", "ts"), ("status", "status", "t"),
            ("buyer_email", "buyerInfo.email", "t"), ("contact_id", "buyerInfo.contactId", "t"),
            ("member_id", "buyerInfo.memberId", "t"), ("total", "totalPrice.amount", "num"),
            ("currency", "currency", "t"), ("checkout_url", "checkoutUrl", "t"),
            ("line_items", "lineItems", "json")], "/ecom/v1/abandoned-checkout/query", pages=3)
        self.assertIn("cursor", sent[1]["body"]["query"]["cursorPaging"])
        self.emu.reset_log()
        rows = query("SELECT count(*) FROM wix.abandoned_checkouts WHERE status = 'RECOVERED'")
        self.assertEqual(self.sent()[0]["body"]["query"]["filter"], {"status": {"$eq": "RECOVERED"}})
        self.assertEqual(rows, [[str(sum(1 for c in items_of(self.emu.data("abandoned-checkouts"),
                                                             "abandoned-checkouts")
                                         if c["status"] == "RECOVERED"))]])

    def test_contacts_pages_of_1000(self):
        sent = self.check_table("contacts", "contacts", "contacts", [
            ("id", "id", "t"), ("first_name", "info.name.first", "t"),
            ("last_name", "info.name.last", "t"), ("primary_email", "primaryInfo.email", "t"),
            ("primary_phone", "primaryInfo.phone", "t"), ("company", "info.company", "t"),
            ("created_date", "createdDate", "ts"), ("updated_date", "updatedDate", "ts"),
            ("last_activity_date", "lastActivity.activityDate", "ts"),
            ("labels", "info.labelKeys.items", "json")], "/contacts/v4/contacts/query", pages=2)
        self.assertEqual(sent[0]["body"]["query"]["paging"], {"limit": 1000, "offset": 0})
        self.emu.reset_log()
        query("SELECT id FROM wix.contacts WHERE first_name = 'Zoë' ORDER BY created_date DESC")
        body = self.sent()[0]["body"]["query"]
        self.assertEqual(body["filter"], {"info.name.first": {"$eq": "Zoë"}})
        self.assertEqual(body["sort"], [{"fieldName": "createdDate", "order": "DESC"}])

    def test_coupons_epoch_dates_and_float_money(self):
        self.check_table("coupons", "coupons", "coupons", [
            ("id", "id", "t"), ("code", "specification.code", "t"),
            ("name", "specification.name", "t"), ("type", "specification.type", "t"),
            ("amount_off", "specification.moneyOffAmount", "num"),
            ("percent_off", "specification.percentOffRate", "num"),
            ("start_date", "specification.startTime", "ts"),
            ("expiration_date", "specification.expirationTime", "ts"),
            ("active", "specification.active", "t"), ("times_used", "numberOfUsages", "t"),
            ("usage_limit", "specification.usageLimit", "t")], "/stores/v2/coupons/query", pages=2)
        self.emu.reset_log()
        query("SELECT id FROM wix.coupons WHERE active")
        self.assertEqual(json.loads(self.sent()[0]["body"]["query"]["filter"]),
                         {"specification.active": {"$eq": True}})

    def test_booking_services(self):
        self.check_table("booking_services", "services", "services", [
            ("id", "id", "t"), ("name", "name", "t"), ("type", "type", "t"),
            ("category_name", "category.name", "t"), ("price", "payment.fixed.price.value", "num"),
            ("currency", "payment.fixed.price.currency", "t"),
            ("online_booking", "onlineBooking.enabled", "t"), ("hidden", "hidden", "t"),
            ("created_date", "createdDate", "ts"), ("updated_date", "updatedDate", "ts")],
            "/_api/bookings/v2/services/query", pages=2)

    def test_inventory_items_v3(self):
        self.check_table("inventory_items", "inventory-items", "inventory-items", [
            ("id", "id", "t"), ("product_id", "productId", "t"), ("variant_id", "variantId", "t"),
            ("track_quantity", "trackQuantity", "t"), ("quantity", "quantity", "t"),
            ("in_stock", "inStock", "t"), ("availability_status", "availabilityStatus", "t"),
            ("updated_date", "updatedDate", "ts")], "/stores/v3/inventory-items/query")

    def test_inventory_items_v1_one_row_per_variant(self):
        data = items_of(self.emu_v1.data("inventory"), "inventory")
        expected = [[i["id"], i["productId"], v["variantId"], text(i.get("trackQuantity")),
                     text(v.get("quantity")), text(v.get("inStock")), "", ts(i.get("lastUpdated"))]
                    for i in data for v in i["variants"]]
        # json-c reads the pages; with raw they go straight into jsonb
        for raw in ("", ", raw"):
            with self.subTest(raw=raw):
                self.emu_v1.reset_log()
                rows = query("SELECT id, product_id, variant_id, track_quantity, quantity, "
                             "in_stock, availability_status, updated_date%s "
                             "FROM wix_v1.inventory_items" % raw)
                self.assertEqual(sorted(r[:8] for r in rows), sorted(expected))
                sent = [r for r in self.emu_v1.requests("/stores-reader/v2/inventoryItems/query")]
                self.assertEqual(len(sent), math.ceil(len(data) / 100))
                self.assertEqual(sent[0]["body"]["query"]["sort"], '[{"numericId":"asc"}]')
        raw = {(r[0], r[2]): json.loads(r[8]) for r in rows}
        self.assertEqual(raw, {(i["id"], v["variantId"]): v for i in data for v in i["variants"]})
        self.assertEqual(len(raw), len(expected))


    # -- pricing_plan_orders: a GET paged in its query string -----------------------

    def plan_orders(self):
        return items_of(self.emu.data("plan-orders"), "plan-orders")

    def test_pricing_plan_orders_values_and_query_string_pages(self):
        data = self.plan_orders()
        self.assertGreater(len(data), 100)
        rows = query("SELECT id, plan_id, plan_name, buyer_member_id, buyer_contact_id, status, "
                     "created_date, start_date, end_date, price, currency, raw "
                     "FROM wix.pricing_plan_orders ORDER BY id")
        expected = []
        for o in sorted(data, key=lambda x: x["id"]):
            price = o["pricing"]["prices"][0]["price"]
            raw = json.loads(json.dumps(o))
            raw["formData"].pop("submissionData", None)  # fieldSet BASIC
            expected.append([o["id"], o["planId"], o["planName"], o["buyer"]["memberId"],
                             o["buyer"]["contactId"], o["status"], ts(o["createdDate"]),
                             ts(o["startDate"]), ts(o.get("endDate")), num(price["total"]),
                             price["currency"], raw])
        got = [r[:9] + [num(r[9]), r[10], json.loads(r[11])] for r in rows]
        self.assertEqual(len(got), len(expected))
        self.assertEqual(got, expected)
        sent = self.sent()
        pages = math.ceil(len(data) / 50)
        self.assertEqual(len(sent), pages)
        self.assertEqual(sorted(int(r["query"]["offset"][0]) for r in sent),
                         [50 * i for i in range(pages)])
        for r in sent:
            self.assertEqual(r["method"], "GET")
            self.assertEqual(r["path"], "/pricing-plans/v2/orders")
            self.assertEqual(r["query"]["limit"], ["50"])
            self.assertEqual(r["query"]["sorting.fieldName"], ["createdDate"])
            self.assertEqual(r["query"]["sorting.order"], ["DESC"])
            self.assertFalse(r.get("body"))

    def test_pricing_plan_orders_limit_and_order_by(self):
        data = self.plan_orders()
        rows = query("SELECT id FROM wix.pricing_plan_orders LIMIT 10")
        self.assertEqual(len(rows), 10)
        sent = self.sent()
        self.assertEqual(len(sent), 1)
        self.assertEqual(sent[0]["query"]["limit"], ["10"])
        self.assertEqual(sent[0]["query"]["offset"], ["0"])
        self.emu.reset_log()
        sql = "SELECT id, created_date FROM wix.pricing_plan_orders ORDER BY created_date LIMIT 60"
        rows = query(sql)
        sent = self.sent()
        self.assertEqual([r["query"]["sorting.order"] for r in sent], [["ASC"], ["ASC"]])
        self.assertEqual([r["query"]["limit"] for r in sent], [["50"], ["50"]])
        local = query("SET wix_admin.enable_order_by_pushdown = off;\n" + sql)
        self.assertEqual(rows, local)
        first = sorted(data, key=lambda o: o["createdDate"])[:60]
        self.assertEqual(rows, [[o["id"], ts(o["createdDate"])] for o in first])

    def test_pricing_plan_orders_explain_shows_query_string(self):
        plan = "\n".join(r[0] for r in query(
            "EXPLAIN (VERBOSE, COSTS OFF) SELECT id FROM wix.pricing_plan_orders"))
        self.assertIn("Wix request: GET /pricing-plans/v2/orders", plan)
        self.assertIn("Wix request path: /pricing-plans/v2/orders?limit=50&offset=0"
                      "&sorting.fieldName=createdDate&sorting.order=DESC", plan)
        self.assertEqual(self.sent(), [])

    def plan_order_rows(self, where):
        return self.pushed_and_local(
            "SELECT id, plan_id, buyer_member_id, status FROM wix.pricing_plan_orders "
            "WHERE %s ORDER BY id" % where)

    def plan_orders_expected(self, keep):
        return sorted([o["id"], o["planId"], o["buyer"]["memberId"], o["status"]]
                      for o in self.plan_orders() if keep(o))

    def test_pricing_plan_orders_filters_as_query_parameters(self):
        """status, plan_id and buyer_member_id "= x" / IN (...) are the list's
        flat parameters (orderStatuses, planIds, buyerIds, repeated), exact:
        not rechecked, so a LIMIT is pushed too; paging past 50 keeps them."""
        statuses = ("ACTIVE", "CANCELED")
        rows, local = self.plan_order_rows("status IN %s" % (statuses,))
        expected = self.plan_orders_expected(lambda o: o["status"] in statuses)
        self.assertGreater(len(expected), 50)
        self.assertEqual(rows, expected)
        self.assertEqual(rows, local)
        sent = self.sent()
        self.assertEqual(len(sent), math.ceil(len(expected) / 50))
        self.assertEqual(sorted(int(r["query"]["offset"][0]) for r in sent),
                         [50 * i for i in range(len(sent))])
        for r in sent:
            self.assertEqual(r["query"]["orderStatuses"], list(statuses))
        # plan and buyer, ANDed; one status twice: the values both allow
        order = next(o for o in self.plan_orders() if o["status"] == "ACTIVE")
        rows, local = self.plan_order_rows(
            "plan_id = '%s' AND buyer_member_id IN ('%s', 'x') AND status IN ('ACTIVE', 'ENDED') "
            "AND status IN ('ACTIVE', 'PAUSED')" % (order["planId"], order["buyer"]["memberId"]))
        self.assertEqual(rows, self.plan_orders_expected(
            lambda o: o["planId"] == order["planId"] and o["status"] == "ACTIVE" and
            o["buyer"]["memberId"] == order["buyer"]["memberId"]))
        self.assertIn([order["id"], order["planId"], order["buyer"]["memberId"], "ACTIVE"], rows)
        self.assertEqual(rows, local)
        (sent,) = self.sent()
        self.assertEqual({k: v for k, v in sent["query"].items()
                          if k in ("planIds", "buyerIds", "orderStatuses")},
                         {"planIds": [order["planId"]],
                          "buyerIds": [order["buyer"]["memberId"], "x"],
                          "orderStatuses": ["ACTIVE"]})
        # exact: with Wix's sort, the LIMIT is the page size
        self.emu.reset_log()
        rows = query("SELECT id FROM wix.pricing_plan_orders WHERE status = 'PAUSED' "
                     "ORDER BY created_date DESC LIMIT 3")
        paused = sorted((o for o in self.plan_orders() if o["status"] == "PAUSED"),
                        key=lambda o: o["createdDate"], reverse=True)
        self.assertEqual(rows, [[o["id"]] for o in paused[:3]])
        self.assertEqual([(r["query"]["limit"], r["query"]["orderStatuses"]) for r in self.sent()],
                         [(["3"], ["PAUSED"])])

    def test_pricing_plan_orders_ids_are_percent_encoded(self):
        odd = "a b&planIds=x/?#%41"
        rows, local = self.plan_order_rows("plan_id = '%s'" % odd)
        self.assertEqual(rows, [])
        self.assertEqual(rows, local)
        self.assertEqual([r["query"].get("planIds") for r in self.sent()], [[odd]])

    def test_pricing_plan_orders_values_wix_refuses_are_checked_here(self):
        """Wix answers 400 to an orderStatuses value outside its enum, and an
        empty parameter would read as none: such a condition is not sent,
        PostgreSQL checks it (no row has that status); two conditions no
        value satisfies send nothing."""
        with self.assertRaises(urllib.error.HTTPError) as refused:
            wix(self.emu, "GET", "/pricing-plans/v2/orders?orderStatuses=BOGUS")
        self.assertEqual(refused.exception.code, 400)
        for where in ("status = 'BOGUS'", "status IN ('ACTIVE', 'active')",
                      "status = 'UNDEFINED'", "plan_id = ''", "buyer_member_id IN ('', 'x')"):
            with self.subTest(where=where):
                rows, local = self.plan_order_rows(where)
                self.assertEqual(rows, local)
                sent = self.sent()
                self.assertEqual(len(sent), math.ceil(len(self.plan_orders()) / 50))
                for r in sent:
                    self.assertFalse({"orderStatuses", "planIds", "buyerIds"} & set(r["query"]))
        self.assertEqual(self.plan_order_rows("status = 'BOGUS'")[0], [])
        plan = "\n".join(r[0] for r in query(
            "EXPLAIN (COSTS OFF) SELECT id FROM wix.pricing_plan_orders WHERE status = 'BOGUS'"))
        self.assertIn("Filter: (status = 'BOGUS'::text)", plan)
        self.assertNotIn("Wix filter", plan)
        rows, _ = self.plan_order_rows("status = 'ACTIVE' AND status = 'PAUSED'")
        self.assertEqual(rows, [])
        self.assertEqual(self.sent(), [])

    def test_pricing_plan_orders_run_time_values(self):
        """A generic plan's $1 is sent when Wix takes it, else left out; the
        condition is rechecked here either way."""
        out = query("SET plan_cache_mode = force_generic_plan;\n"
                    "PREPARE q(text) AS SELECT count(*) FROM wix.pricing_plan_orders "
                    "WHERE status = $1;\n"
                    "EXECUTE q('ENDED');\nEXECUTE q('BOGUS');\n"
                    "EXPLAIN (COSTS OFF) EXECUTE q('ENDED');")
        ended = len([o for o in self.plan_orders() if o["status"] == "ENDED"])
        self.assertEqual([r[0] for r in out[:2]], [str(ended), "0"])
        plan = "\n".join(r[0] for r in out[2:])
        self.assertIn('Wix filter: {"orderStatuses":["$1"]}', plan)
        self.assertIn("Filter: (status = $1)", plan)
        sent = self.sent()
        self.assertEqual(sent[0]["query"]["orderStatuses"], ["ENDED"])
        self.assertEqual([r for r in sent if "orderStatuses" in r["query"]], sent[:1])
        # $1 and a list on one parameter: the values both allow
        plan_id = self.plan_orders()[0]["planId"]
        self.emu.reset_log()
        out = query("SET plan_cache_mode = force_generic_plan;\n"
                    "PREPARE p(text) AS SELECT count(*) FROM wix.pricing_plan_orders "
                    "WHERE plan_id = $1 AND plan_id IN ('%s', 'b');\n"
                    "EXECUTE p('%s');\nEXPLAIN (COSTS OFF) EXECUTE p('b');" % (plan_id, plan_id))
        self.assertEqual(out[0], [str(len([o for o in self.plan_orders()
                                           if o["planId"] == plan_id]))])
        shown = [json.loads(r[0].split("Wix filter: ", 1)[1]) for r in out[1:]
                 if "Wix filter: " in r[0]]
        self.assertEqual([sorted(f["planIds"]) for f in shown], [sorted(["$1", plan_id, "b"])])
        self.assertEqual({tuple(r["query"]["planIds"]) for r in self.sent()}, {(plan_id,)})

    def test_pricing_plan_orders_explain_shows_parameters(self):
        plan = "\n".join(r[0] for r in query(
            "EXPLAIN (VERBOSE, COSTS OFF) SELECT id FROM wix.pricing_plan_orders "
            "WHERE status IN ('ACTIVE', 'PAUSED') AND plan_id = 'p 1'"))
        self.assertIn('Wix filter: {"orderStatuses":["ACTIVE","PAUSED"],"planIds":["p 1"]}', plan)
        self.assertIn("Wix request path: /pricing-plans/v2/orders?limit=50&offset=0"
                      "&sorting.fieldName=createdDate&sorting.order=DESC"
                      "&orderStatuses=ACTIVE&orderStatuses=PAUSED&planIds=p%201", plan)
        self.assertNotIn("Filter:", plan)
        self.assertEqual(self.sent(), [])

    # -- joins -------------------------------------------------------------------------

    def test_join_orders_to_payments_is_batched(self):
        """orders JOIN order_payments on the order id, filtered on the
        orders' date: the payments come in batches of 100 orders, never one
        request per order."""
        since = "2025-06-01T00:00:00.000Z"
        picked = {o["id"] for o in self.orders if o["createdDate"] >= since}
        expected = sum(len(t.get("payments") or []) for t in self.transactions
                       if t["orderId"] in picked)
        self.assertGreater(len(picked), 100)
        rows = query("SELECT count(*) FROM wix.orders o JOIN wix.order_payments p "
                     "ON p.order_id = o.id WHERE o.created_date >= '%s'" % since)
        self.assertEqual(int(rows[0][0]), expected)
        self.assertEqual(self.sent("/ecom/v1/payments/orders/"), [])
        self.assertLessEqual(len(self.sent("/ecom/v1/payments/list-by-ids")),
                             self.orders_pages())
        self.assertLessEqual(len(self.sent()), 3 * self.orders_pages())


def ts_or(value, column):
    """A row value in the form check_table's expected rows use."""
    kind = column[2]
    if kind == "num":
        return num(value)
    if kind == "json":
        return json.loads(value) if value else None
    return value


if __name__ == "__main__":
    unittest.main(verbosity=2)
