"""The read path end to end: the four foreign tables against the emulator,
row counts, typed values, paging, both auth modes, the token cache and API
errors (issue 2)."""
import datetime
import decimal
import json
import math
import unittest

from fixtures import (API_KEY, CLIENT_ID, CLIENT_SECRET, EMULATOR_BIG_V1_URL,
                      EMULATOR_URL, EMULATOR_V1_URL, KEY, SITE_ID, Emulator,
                      create_database, items_of, new_mapping_sql, psql, psql_error,
                      server_sql)

DB = "wix_read_path"
emu = Emulator(EMULATOR_URL)
emu_v1 = Emulator(EMULATOR_V1_URL)


def parse_ts(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def dig(obj, path):
    for key in path.split("."):
        if not isinstance(obj, dict) or key not in obj:
            return None
        obj = obj[key]
    return obj


def query(sql):
    return psql(sql, db=DB)


def rows_by_id(sql):
    return {row[0]: row for row in query(sql)}


def search_bodies(em, path):
    return [r["body"] for r in em.requests(path)]


class ReadPathTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        create_database(DB)

    def setUp(self):
        emu.reset_log()
        emu_v1.reset_log()

    # -- row counts ------------------------------------------------------

    def test_row_counts_equal_emulator_data(self):
        orders = items_of(emu.data("orders"), "orders")
        visible = [o for o in orders if o.get("status") != "INITIALIZED"]
        self.assertGreater(len(visible), 1000, "needs 1,000+ orders: many pages")
        self.assertTrue(any(o["status"] == "PENDING" for o in visible))
        self.assertTrue(any(o["status"] == "REJECTED" for o in visible))
        self.assertTrue(any(o["status"] == "INITIALIZED" for o in orders))
        expected = {
            "wix.orders": len(visible),
            "wix.members": len(items_of(emu.data("members"), "members")),
            "wix.products": len(items_of(emu.data("products"), "products")),
            "wix.bookings": len(items_of(emu.data("bookings"), "bookings")),
            "wix_v1.products": len(items_of(emu_v1.data("products"), "products")),
        }
        for table, count in expected.items():
            with self.subTest(table=table):
                self.assertEqual(query("SELECT count(*) FROM %s" % table),
                                 [[str(count)]])

    def test_orders_include_pending_and_rejected(self):
        statuses = dict(query("SELECT status, count(*) FROM wix.orders GROUP BY 1"))
        self.assertIn("PENDING", statuses)
        self.assertIn("REJECTED", statuses)
        self.assertNotIn("INITIALIZED", statuses)

    # -- paging ----------------------------------------------------------

    def test_orders_scan_pages_with_cursor_only_follow_ups(self):
        visible = [o for o in items_of(emu.data("orders"), "orders")
                   if o.get("status") != "INITIALIZED"]
        emu.reset_log()
        query("SELECT count(*) FROM wix.orders")
        bodies = search_bodies(emu, "/ecom/v1/orders/search")
        self.assertEqual(len(bodies), math.ceil(len(visible) / 100))
        first = bodies[0]["search"]
        self.assertEqual(first["cursorPaging"], {"limit": 100})
        statuses = first["filter"]["status"]["$in"]
        self.assertIn("PENDING", statuses)
        self.assertIn("REJECTED", statuses)
        for body in bodies[1:]:
            self.assertEqual(list(body.keys()), ["search"])
            self.assertEqual(set(body["search"].keys()), {"cursorPaging"})
            self.assertEqual(body["search"]["cursorPaging"]["limit"], 100)
            self.assertTrue(body["search"]["cursorPaging"]["cursor"])

    def test_members_offset_paging_full_fieldset(self):
        members = items_of(emu.data("members"), "members")
        query("SELECT count(*) FROM wix.members")
        bodies = search_bodies(emu, "/members/v1/members/query")
        self.assertEqual(len(bodies), math.ceil(len(members) / 100))
        # pages after the first are requested in parallel: any order
        self.assertEqual(sorted(b["query"]["paging"]["offset"] for b in bodies),
                         [100 * i for i in range(len(bodies))])
        for body in bodies:
            self.assertEqual(body["fieldsets"], ["FULL"])
            self.assertEqual(body["query"]["paging"]["limit"], 100)
            self.assertIn("sorting", body["query"])

    def test_v1_products_strings_hidden_and_keyset(self):
        query("SELECT count(*) FROM wix_v1.products")
        bodies = search_bodies(emu_v1, "/stores-reader/v1/products/query")
        self.assertGreaterEqual(len(bodies), 1)
        for body in bodies:
            self.assertIs(body["includeHiddenProducts"], True)
            self.assertIsInstance(body["query"]["sort"], str)
            self.assertEqual(json.loads(body["query"]["sort"]), [{"numericId": "asc"}])
        hidden = query("SELECT count(*) FROM wix_v1.products WHERE NOT visible")
        self.assertGreater(int(hidden[0][0]), 0)

    def test_members_pages_fetched_ahead_in_parallel(self):
        members = items_of(emu.data("members"), "members")
        out = psql("SET wix_admin.max_concurrent_requests = 3;"
                   "SELECT count(*), count(DISTINCT id) FROM wix.members", db=DB)
        self.assertEqual(out, [[str(len(members)), str(len(members))]])
        offsets = sorted(b["query"]["paging"]["offset"]
                         for b in search_bodies(emu, "/members/v1/members/query"))
        self.assertEqual(offsets, list(range(0, len(members), 100)))

    def test_v1_keyset_paging_past_the_offset_ceiling(self):
        if not EMULATOR_BIG_V1_URL:
            self.skipTest("WIX_EMULATOR_BIG_V1_URL not set")
        em = Emulator(EMULATOR_BIG_V1_URL)
        products = items_of(em.data("products"), "products")
        self.assertGreater(len(products), 10000)
        psql(server_sql("big_v1", EMULATOR_BIG_V1_URL, KEY, catalog_version="V1") + """
            CREATE FOREIGN TABLE public.big_v1_products (id text, numeric_id bigint)
              SERVER big_v1 OPTIONS (resource 'products');
        """, db=DB)
        em.reset_log()
        out = query("SELECT count(*), count(DISTINCT id), min(numeric_id), max(numeric_id) "
                    "FROM public.big_v1_products")
        ids = sorted(int(p["numericId"]) for p in products)
        self.assertEqual(out, [[str(len(products)), str(len(products)), str(ids[0]), str(ids[-1])]])
        bodies = [r["body"] for r in em.requests("/stores-reader/v1/products/query")]
        self.assertEqual([r["status"] for r in em.requests("/stores-reader/v1/products/query")],
                         [200] * len(bodies))
        offsets = [b["query"]["paging"]["offset"] for b in bodies]
        self.assertLessEqual(max(offsets) + 100, 10000)
        keyset = [json.loads(b["query"]["filter"]) for b in bodies if "filter" in b["query"]]
        self.assertTrue(keyset, "past 10,000 items the scan pages by numericId")
        self.assertEqual(list(keyset[0].keys()), ["numericId"])

    def test_catalog_detected_once_per_server(self):
        psql("SELECT count(*) FROM wix.products; SELECT count(*) FROM wix.products;"
             "SELECT count(*) FROM wix_v1.products; SELECT count(*) FROM wix_v1.products;",
             db=DB)
        self.assertEqual(len(emu.requests("/stores/v3/provision/version")), 1)
        self.assertEqual(len(emu_v1.requests("/stores/v3/provision/version")), 1)
        self.assertEqual(len(emu_v1.requests("/stores/v3/products")), 0)
        self.assertGreater(len(emu.requests("/stores/v3/products/query")), 0)

    def test_limit_stops_fetching(self):
        query("SELECT id FROM wix.orders LIMIT 5")
        self.assertEqual(len(emu.requests("/ecom/v1/orders/search")), 1)

    # -- typed values ----------------------------------------------------

    def test_order_values_match_json(self):
        data = {o["id"]: o for o in items_of(emu.data("orders"), "orders")}
        rows = rows_by_id("""
            SELECT id, number, extract(epoch FROM created_date), payment_status,
                   total, subtotal, buyer_email, archived, line_items, raw,
                   fulfillment_status, currency, billing_info
            FROM wix.orders""")
        self.assertGreater(len(rows), 1000)
        for oid, row in rows.items():
            o = data[oid]
            self.assertEqual(int(row[1]), int(o["number"]))
            self.assertEqual(decimal.Decimal(row[2]),
                             decimal.Decimal(str(parse_ts(o["createdDate"]).timestamp())).quantize(decimal.Decimal("0.000001")))
            self.assertEqual(row[3], o["paymentStatus"])
            self.assertEqual(decimal.Decimal(row[4]),
                             decimal.Decimal(o["priceSummary"]["total"]["amount"]))
            sub = dig(o, "priceSummary.subtotal.amount")
            self.assertEqual(row[5] or None, sub and str(decimal.Decimal(sub)))
            self.assertEqual(row[6] or None, dig(o, "buyerInfo.email"))
            self.assertEqual(row[7] or None,
                             None if "archived" not in o else ("t" if o["archived"] else "f"))
            self.assertEqual(json.loads(row[8]) if row[8] else None, o.get("lineItems"))
            self.assertEqual(json.loads(row[9]), o)
            self.assertEqual(row[10] or None, o.get("fulfillmentStatus"))
            self.assertEqual(row[11] or None, o.get("currency"))
            self.assertEqual(json.loads(row[12]) if row[12] else None, o.get("billingInfo"))

    def test_member_values_match_json(self):
        data = {m["id"]: m for m in items_of(emu.data("members"), "members")}
        rows = rows_by_id("""
            SELECT id, login_email, status, first_name, last_name, nickname,
                   extract(epoch FROM created_date), raw FROM wix.members""")
        self.assertEqual(set(rows), set(data))
        for mid, row in rows.items():
            m = data[mid]
            self.assertEqual(row[1], m["loginEmail"])
            self.assertEqual(row[2], m["status"])
            self.assertNotEqual(row[2], "UNKNOWN")
            self.assertEqual(row[3] or None, dig(m, "contact.firstName"))
            self.assertEqual(row[4] or None, dig(m, "contact.lastName"))
            self.assertEqual(row[5] or None, dig(m, "profile.nickname"))
            self.assertAlmostEqual(float(row[6]), parse_ts(m["createdDate"]).timestamp(), places=3)
            self.assertEqual(json.loads(row[7]), m)

    def test_product_values_match_json_v3(self):
        data = {p["id"]: p for p in items_of(emu.data("products"), "products")}
        rows = rows_by_id("""SELECT id, name, visible, price, product_type,
                                    inventory_status, revision, quantity, sku FROM wix.products""")
        self.assertEqual(set(rows), set(data))
        for pid, row in rows.items():
            p = data[pid]
            self.assertEqual(row[1], p["name"])
            self.assertEqual(row[2], "t" if p.get("visible", True) else "f")
            amount = dig(p, "actualPriceRange.minValue.amount")
            self.assertEqual(row[3] and decimal.Decimal(row[3]),
                             amount and decimal.Decimal(amount))
            self.assertEqual(row[4], p["productType"])
            self.assertEqual(row[5] or None, dig(p, "inventory.availabilityStatus"))
            self.assertEqual(int(row[6]), int(p["revision"]))
            self.assertEqual(row[7], "")
            visible = [v for v in p["variantsInfo"]["variants"] if v.get("visible", True)]
            cheapest = min(visible, key=lambda v: float(v["price"]["actualPrice"]["amount"]),
                           default={})
            self.assertEqual(row[8] or None, cheapest.get("sku") or None)

    def test_product_values_match_json_v1(self):
        data = {p["id"]: p for p in items_of(emu_v1.data("products"), "products")}
        rows = rows_by_id("""SELECT id, name, price, numeric_id, quantity, sku,
                                    extract(epoch FROM updated_date) FROM wix_v1.products""")
        self.assertEqual(set(rows), set(data))
        for pid, row in rows.items():
            p = data[pid]
            self.assertEqual(row[1], p["name"])
            self.assertEqual(decimal.Decimal(row[2]), decimal.Decimal(str(p["priceData"]["price"])))
            self.assertEqual(int(row[3]), int(p["numericId"]))
            q = dig(p, "stock.quantity")
            self.assertEqual(row[4] or None, None if q is None else str(q))
            self.assertEqual(row[5] or None, p.get("sku") or None)
            self.assertAlmostEqual(float(row[6]), parse_ts(p["lastUpdated"]).timestamp(), places=3)

    def test_booking_values_match_json(self):
        data = {b["id"]: b for b in items_of(emu.data("bookings"), "bookings")}
        rows = rows_by_id("""SELECT id, status, revision, total_participants, service_id,
                                    contact_email, extract(epoch FROM start_date), raw
                             FROM wix.bookings""")
        self.assertEqual(set(rows), set(data))
        for bid, row in rows.items():
            b = data[bid]
            self.assertEqual(row[1], b["status"])
            self.assertEqual(int(row[2]), int(b["revision"]))
            tp = b.get("totalParticipants")
            self.assertEqual(row[3] or None, None if tp is None else str(tp))
            self.assertEqual(row[4] or None, dig(b, "bookedEntity.slot.serviceId"))
            self.assertEqual(row[5] or None, dig(b, "contactDetails.email"))
            self.assertAlmostEqual(float(row[6]), parse_ts(b["startDate"]).timestamp(), places=3)
            self.assertEqual(json.loads(row[7]), b)

    def test_custom_table_paths_and_conversion_error(self):
        psql("""
            CREATE FOREIGN TABLE public.order_bits (
              id text,
              payment_status text,
              email text OPTIONS (path 'buyerInfo.email'),
              first_item text OPTIONS (path 'lineItems.0.productName.original'),
              bad_number integer OPTIONS (path 'buyerInfo.email'),
              channel jsonb OPTIONS (path 'channelInfo')
            ) SERVER emu OPTIONS (resource 'orders');""", db=DB)
        data = {o["id"]: o for o in items_of(emu.data("orders"), "orders")}
        rows = rows_by_id("SELECT id, payment_status, email, first_item, channel FROM public.order_bits")
        for oid, row in rows.items():
            o = data[oid]
            self.assertEqual(row[1], o["paymentStatus"])
            self.assertEqual(row[2] or None, dig(o, "buyerInfo.email"))
            items = o.get("lineItems") or []
            self.assertEqual(row[3] or None, items and dig(items[0], "productName.original") or None)
            self.assertEqual(json.loads(row[4]) if row[4] else None, o.get("channelInfo"))
        err = psql_error("SELECT bad_number FROM public.order_bits", db=DB)
        self.assertIn('invalid input syntax for type integer', err)
        self.assertIn('column "bad_number", Wix field "buyerInfo.email", value', err)
        err = psql_error("ALTER FOREIGN TABLE public.order_bits ALTER bad_number "
                         "OPTIONS (SET path 'lineItems'); SELECT bad_number FROM public.order_bits",
                         db=DB)
        self.assertIn('cannot convert Wix field "lineItems" to type integer for column "bad_number"', err)

    # -- auth ------------------------------------------------------------

    def test_api_key_mode(self):
        psql(server_sql("emu_key", mapping=KEY) + """
            CREATE FOREIGN TABLE public.key_members (id text, login_email text)
              SERVER emu_key OPTIONS (resource 'members');
        """, db=DB)
        count = query("SELECT count(*) FROM public.key_members")[0][0]
        self.assertEqual(int(count), len(items_of(emu.data("members"), "members")))
        reqs = emu.requests("/members/v1/members/query")
        self.assertTrue(reqs)
        for r in reqs:
            self.assertEqual(r["headers"].get("authorization"), "api_key")
            self.assertEqual(r["headers"].get("wix-site-id"), SITE_ID)
            self.assertEqual(r["status"], 200)
        self.assertEqual(emu.requests("/oauth2/token"), [])

    def test_oauth_sends_raw_token_without_site_header(self):
        query("SELECT count(*) FROM wix.bookings")
        reqs = emu.requests("/_api/bookings-reader/v2/extended-bookings/query")
        self.assertTrue(reqs)
        for r in reqs:
            self.assertEqual(r["headers"].get("authorization"), "token")
            self.assertNotIn("wix-site-id", r["headers"])

    def test_one_token_for_many_queries(self):
        # a new user mapping: no backend holds a token for it yet
        query(new_mapping_sql("emu"))
        psql("SELECT count(*) FROM wix.members;" * 3 +
             "SELECT count(*) FROM wix.orders; SELECT count(*) FROM wix.bookings;", db=DB)
        tokens = emu.requests("/oauth2/token")
        self.assertEqual(len(tokens), 1)
        body = tokens[0]["body"]
        self.assertEqual(body["grant_type"], "client_credentials")
        self.assertEqual(body["client_id"], CLIENT_ID)
        self.assertNotIn(CLIENT_SECRET, json.dumps(emu.requests()))

    def test_token_renewed_once_after_401(self):
        query(new_mapping_sql("emu"))
        psql("SELECT count(*) FROM wix.members;\n"
             "\\! curl -s -X POST %s/_emulator/tokens/expire >/dev/null\n"
             "SELECT count(*) FROM wix.members;\n" % EMULATOR_URL, db=DB)
        statuses = [(r["path"], r["status"]) for r in emu.requests()]
        self.assertEqual(len([s for s in statuses if s[0] == "/oauth2/token"]), 2)
        self.assertEqual(len([s for s in statuses if s[1] == 401]), 1)

    def test_token_renewed_before_it_expires(self):
        query(new_mapping_sql("emu"))
        emu.config(token_ttl=2)
        try:
            psql("SELECT count(*) FROM wix.bookings; SELECT pg_sleep(1.2);"
                 "SELECT count(*) FROM wix.bookings;", db=DB)
        finally:
            emu.config(token_ttl=14400)
        reqs = emu.requests()
        self.assertEqual(len([r for r in reqs if r["path"] == "/oauth2/token"]), 2)
        self.assertEqual([r for r in reqs if r["status"] == 401], [])

    def test_alter_user_mapping_takes_effect_next_query(self):
        psql(server_sql("emu_alt", mapping=KEY) + """
            CREATE FOREIGN TABLE public.alt_members (id text)
              SERVER emu_alt OPTIONS (resource 'members');
        """, db=DB)
        out = psql("SELECT count(*) > 0 FROM public.alt_members;\n"
                   "ALTER USER MAPPING FOR CURRENT_USER SERVER emu_alt OPTIONS (SET api_key 'IST.wrong');\n"
                   "SELECT count(*) FROM public.alt_members;\n", db=DB, check=False)
        self.assertIn("HTTP 401", out)
        psql("ALTER USER MAPPING FOR CURRENT_USER SERVER emu_alt OPTIONS (SET api_key '%s')"
             % API_KEY, db=DB)

    # -- errors ----------------------------------------------------------

    def test_bad_api_key_error(self):
        psql(server_sql("emu_bad", mapping={"api_key": "IST.not-the-key"}) + """
            CREATE FOREIGN TABLE public.bad_orders (id text)
              SERVER emu_bad OPTIONS (resource 'orders');
        """, db=DB)
        err = psql_error("SELECT * FROM public.bad_orders", db=DB)
        self.assertIn("ERROR:  HV00N: Wix API request POST /ecom/v1/orders/search failed with HTTP 401", err)
        self.assertIn("Wix request id:", err)
        self.assertIn("HINT:  Check the api_key", err)
        self.assertNotIn("IST.not-the-key", err)

    def test_bad_client_secret_error(self):
        psql(server_sql("emu_badsecret",
                        mapping={"client_id": CLIENT_ID, "client_secret": "very-wrong-secret"}) + """
            CREATE FOREIGN TABLE public.badsecret_orders (id text)
              SERVER emu_badsecret OPTIONS (resource 'orders');
        """, db=DB)
        err = psql_error("SELECT * FROM public.badsecret_orders", db=DB)
        self.assertIn("Wix API request POST /oauth2/token failed with HTTP", err)
        self.assertIn("HINT:  Check the client_id and client_secret", err)
        self.assertNotIn("very-wrong-secret", err)

    def test_unreachable_server_error(self):
        psql(server_sql("emu_down", "http://127.0.0.1:9", {"api_key": "k"}, site_id="s",
                        connect_timeout="2") + """
            CREATE FOREIGN TABLE public.down_orders (id text)
              SERVER emu_down OPTIONS (resource 'orders');
        """, db=DB)
        err = psql_error("SELECT * FROM public.down_orders", db=DB)
        self.assertIn("ERROR:  HV00N: could not reach Wix for POST /ecom/v1/orders/search", err)

    def test_api_error_body_reported(self):
        emu.fault(match="/ecom/v1/orders/search", times=1, status=404,
                  body=json.dumps({"message": "Entity not found",
                                   "details": {"applicationError": {"code": "NOT_FOUND"}}}))
        try:
            err = psql_error("SELECT * FROM wix.orders", db=DB)
        finally:
            emu.clear_faults()
        self.assertIn("failed with HTTP 404: Entity not found", err)
        self.assertIn("DETAIL:  Wix error code: NOT_FOUND. Wix request id: ", err)

    def test_validation_error_body_reported(self):
        emu.fault(match="/members/v1/members/query", times=1, status=400,
                  body=json.dumps({"message": "invalid", "details": {"validationError": {
                      "fieldViolations": [{"field": "query.paging.limit",
                                           "description": "must be at most 100"}]}}}))
        try:
            err = psql_error("SELECT * FROM wix.members", db=DB)
        finally:
            emu.clear_faults()
        self.assertIn("ERROR:  HV00L: Wix API request POST /members/v1/members/query failed with HTTP 400: invalid", err)
        self.assertIn("Invalid field query.paging.limit: must be at most 100", err)

    def test_malformed_json_is_an_error(self):
        for body, message in (('{"orders": [', "truncated JSON in Wix API response"),
                              ("<html>oops</html>", "invalid JSON in Wix API response"),
                              ("[]", "is not a JSON object"),
                ('{"orders": [1, 2], "metadata": {"hasNext": false}}', "not an object")):
            with self.subTest(body=body):
                for sql in ("SELECT * FROM wix.orders", "SELECT count(*) FROM wix.orders"):
                    emu.fault(match="/ecom/v1/orders/search", times=1, status=200, body=body)
                    try:
                        err = psql_error(sql, db=DB)
                    finally:
                        emu.clear_faults()
                    self.assertIn(message, err)

    def test_explain_analyze_counts_requests(self):
        out = query("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT * FROM wix.members")
        text = "\n".join(r[0] for r in out)
        n = len(items_of(emu.data("members"), "members"))
        self.assertIn("Wix requests: %d" % (math.ceil(n / 100)), text)
        self.assertIn("Wix rows: %d" % n, text)


if __name__ == "__main__":
    unittest.main(verbosity=2)
