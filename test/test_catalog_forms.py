"""Forms of catalog entry (issue "Structure for growth", part 5): rows from
an array inside each item with the item's columns (order_line_items), a GET
with a path and query-string parameter from a required condition and no
paging (the experimental resource, which only the superuser-only
wix_admin.enable_experimental_resources makes valid), and a batch call keyed
by parent ids, from a pushed condition or from a scan of the parent resource
(order_payments).  Row values and the requests the emulator logged."""
import math
import unittest

from fixtures import EMULATOR_URL, Emulator, create_database, items_of, psql, psql_error

DB = "wix_catalog_forms"
emu = Emulator(EMULATOR_URL)
ON = "SET wix_admin.enable_experimental_resources = on;\n"
VISIBLE = ("APPROVED", "CANCELED", "PENDING", "REJECTED")


def query(sql):
    return psql(ON + sql, db=DB)


def paths(prefix):
    return emu.requests(prefix)


class CatalogFormsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        create_database(DB)
        query("""
            CREATE FOREIGN TABLE line_items (order_id text, order_number bigint,
              order_created_date timestamptz, id text OPTIONS (path 'id'), product_name text,
              quantity integer, price numeric OPTIONS (path 'price.amount'), raw jsonb)
              SERVER emu OPTIONS (resource 'order_line_items');
            CREATE FOREIGN TABLE payments_by_order (order_id text, id text,
              amount numeric, raw jsonb)
              SERVER emu OPTIONS (resource 'experimental_order_payments_by_order');
            CREATE FOREIGN TABLE payments (order_id text, id text OPTIONS (path 'id'),
              amount numeric OPTIONS (path 'amount.amount'), raw jsonb)
              SERVER emu OPTIONS (resource 'order_payments');
        """)
        cls.orders = [o for o in items_of(emu.data("orders"), "orders")
                      if o["status"] in VISIBLE]
        cls.order_ids = sorted(o["id"] for o in cls.orders)

    def setUp(self):
        emu.reset_log()

    def test_experimental_resources_need_the_setting(self):
        err = psql_error("""CREATE FOREIGN TABLE t (id text) SERVER emu
                            OPTIONS (resource 'experimental_order_payments_by_order');""", db=DB)
        self.assertIn('unknown Wix resource "experimental_order_payments_by_order"', err)
        self.assertNotIn("experimental", err.split("HINT")[1])
        tables = psql("SELECT foreign_table_name FROM information_schema.foreign_tables "
                      "WHERE foreign_table_schema = 'wix' ORDER BY 1", db=DB)
        self.assertEqual(tables, [[t] for t in sorted([
            "abandoned_checkouts", "booking_services", "bookings", "contacts", "coupons",
            "inventory_items", "members", "order_fulfillments", "order_line_items",
            "order_payments", "order_refunds", "orders", "pricing_plan_orders", "products"])])
        err = psql_error("SELECT count(*) FROM payments_by_order", db=DB)
        self.assertIn("unknown Wix resource", err)

    def test_rows_inside_items_cost_no_extra_request(self):
        rows = query("SELECT order_id, order_number, id, product_name, quantity, price "
                     "FROM line_items")
        searches = len(paths("/ecom/v1/orders/search"))
        expected = sorted([o["id"], str(o["number"]), li["id"], li["productName"]["original"],
                           str(li["quantity"]), li["price"]["amount"]]
                          for o in self.orders for li in o["lineItems"])
        self.assertEqual(sorted(rows), expected)
        self.assertGreater(len(rows), len(self.orders))
        emu.reset_log()
        query("SELECT id FROM wix.orders")
        self.assertEqual(searches, len(paths("/ecom/v1/orders/search")))
        self.assertEqual(len([r for r in emu.requests() if not r["path"].startswith("/oauth2/")]),
                         searches)
        # count(*) counts rows, not items
        self.assertEqual(query("SELECT count(*) FROM line_items"), [[str(len(expected))]])

    def test_rows_inside_items_filter_by_item_columns(self):
        order = self.orders[3]
        number = int(order["number"])
        rows = query("SELECT order_id, id, raw->>'id' FROM line_items "
                     "WHERE order_number = %d ORDER BY id LIMIT 50" % number)
        self.assertEqual(rows, [[order["id"], li["id"], li["id"]]
                                for li in sorted(order["lineItems"], key=lambda x: x["id"])])
        sent = paths("/ecom/v1/orders/search")
        self.assertEqual(len(sent), 1)
        self.assertIn({"number": {"$eq": number}}, sent[0]["body"]["search"]["filter"]["$and"])
        # a LIMIT is not a page size: pages hold orders, rows are line items
        self.assertEqual(sent[0]["body"]["search"]["cursorPaging"], {"limit": 100})

    def test_get_with_path_parameter_sends_one_request_per_value(self):
        for order_id in self.order_ids[:3]:
            emu.reset_log()
            rows = query("SELECT order_id, id, amount = (raw->'amount'->>'amount')::numeric "
                         "FROM payments_by_order WHERE order_id = '%s' ORDER BY id" % order_id)
            sent = paths("/ecom/v1/payments/")
            self.assertEqual(len(sent), 1)
            self.assertEqual(sent[0]["method"], "GET")
            self.assertEqual(sent[0]["path"], "/ecom/v1/payments/orders/" + order_id)
            self.assertEqual(sent[0]["query"], {"orderId": [order_id]})
            for row in rows:
                self.assertEqual(row[0], order_id)
                self.assertEqual(row[2], "t")
            batch = query("SELECT order_id, id, amount FROM payments "
                          "WHERE order_id = '%s' ORDER BY id" % order_id)
            self.assertEqual([r[:2] for r in rows], [r[:2] for r in batch])
        # an order with payments: the form returns rows at all
        some = query("SELECT count(*) FROM payments_by_order WHERE order_id = '%s'"
                     % query("SELECT order_id FROM payments LIMIT 1")[0][0])
        self.assertGreater(int(some[0][0]), 0)

    def test_get_without_its_condition_errors(self):
        for where in ("", "WHERE order_id IN ('a', 'b')", "WHERE id = 'x'"):
            err = psql_error(ON + "SELECT * FROM payments_by_order " + where, db=DB)
            self.assertIn("HV00L", err)
            self.assertIn('foreign table "payments_by_order" can only be read with a '
                          'condition order_id = value', err)
            self.assertIn("HINT:  Add WHERE order_id = '...' to the query, or join on order_id.", err)
        self.assertEqual([r for r in emu.requests() if not r["path"].startswith("/oauth2/")], [])
        # a NULL value matches nothing and sends nothing
        self.assertEqual(query("SELECT * FROM payments_by_order WHERE order_id = NULL"), [])
        self.assertEqual([r for r in emu.requests() if not r["path"].startswith("/oauth2/")], [])

    def test_explain_shows_the_filled_path(self):
        plan = "\n".join(r[0] for r in query(
            "EXPLAIN SELECT * FROM payments_by_order WHERE order_id = 'a/b'"))
        self.assertIn("Wix request: GET /ecom/v1/payments/orders/a%2Fb?orderId=a%2Fb", plan)
        plan = "\n".join(r[0] for r in query("EXPLAIN SELECT * FROM payments"))
        self.assertIn("Wix request: POST /ecom/v1/payments/list-by-ids", plan)
        self.assertIn("Wix ids: from POST /ecom/v1/orders/search, up to 100 a request", plan)

    def test_batch_reads_ids_from_the_parent_scan(self):
        rows = query("SELECT order_id, id, amount FROM payments ORDER BY order_id, id")
        batches = paths("/ecom/v1/payments/list-by-ids")
        n = len(self.order_ids)
        self.assertEqual(len(batches), math.ceil(n / 100))
        sent_ids = [i for b in batches for i in b["body"]["orderIds"]]
        self.assertTrue(all(len(b["body"]["orderIds"]) <= 100 for b in batches))
        self.assertEqual(sorted(sent_ids), self.order_ids)
        self.assertEqual(len(paths("/ecom/v1/orders/search")), math.ceil(n / 100))
        self.assertGreater(len(rows), 0)
        self.assertTrue(set(r[0] for r in rows) <= set(self.order_ids))
        # the same rows as one GET per order, for a few orders
        for order_id in sorted(set(r[0] for r in rows))[:3]:
            one = query("SELECT order_id, id, amount FROM payments_by_order "
                        "WHERE order_id = '%s' ORDER BY id" % order_id)
            self.assertEqual(one, [r for r in rows if r[0] == order_id])

    def test_batch_reads_ids_from_an_in_condition(self):
        ids = self.order_ids[:250] + ["no-such-order", self.order_ids[0]]
        rows = query("SELECT order_id, id FROM payments WHERE order_id IN (%s) ORDER BY 1, 2"
                     % ", ".join("'%s'" % i for i in ids))
        batches = paths("/ecom/v1/payments/list-by-ids")
        # batch calls run concurrently: the log has them in any order
        self.assertEqual(sorted(len(b["body"]["orderIds"]) for b in batches), [51, 100, 100])
        self.assertEqual(paths("/ecom/v1/orders/search"), [])
        emu.reset_log()
        everything = query("SELECT order_id, id FROM payments ORDER BY 1, 2")
        self.assertEqual(rows, [r for r in everything if r[0] in set(ids)])
        emu.reset_log()
        query("SELECT * FROM payments WHERE order_id = '%s'" % ids[0])
        self.assertEqual(len(paths("/ecom/")), 1)


if __name__ == "__main__":
    unittest.main(verbosity=2)
