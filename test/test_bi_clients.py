"""What BI clients see (issue 14, parts 5 and 6): waiting for Wix or for the
rate limiter is visible in pg_stat_activity and EXPLAIN ANALYZE; IMPORT
FOREIGN SCHEMA comments tables and columns; wix_admin.check_connection()
tells the truth about a server; a role without a user mapping is told how
to create one; min/max and ORDER BY ... LIMIT cost only the requests they
need.

Request counts come from the emulators' request logs.  Hung requests go to
a private emulator, so that their late log entries reach no other test.
"""
import datetime
import json
import math
import threading
import time
import unittest

from fixtures import (API_KEY, CLIENT_ID, EMULATOR_URL, EMULATOR_V1_URL, KEY, OAUTH,
                      SITE_ID, Emulator, create_database, create_login_role, items_of,
                      new_mapping_sql, psql, psql_error, server_sql)
from wixfault import EmulatorProcess, Session, free_port

DB = "wix_bi_clients"
ROLE = "wix_bi_analyst"
SEARCH = "/ecom/v1/orders/search"
MEMBERS_QUERY = "/members/v1/members/query"
PRODUCTS_V3_QUERY = "/stores/v3/products/query"
PRODUCTS_V1_QUERY = "/stores-reader/v1/products/query"
VERSION = "/stores/v3/provision/version"
TOKEN = "/oauth2/token"

emu = Emulator(EMULATOR_URL)
emu_v1 = Emulator(EMULATOR_V1_URL)
hang_emu = None     # EmulatorProcess: hung requests only
H = None            # its control API


def query(sql, **kw):
    return psql(sql, db=DB, **kw)


def setUpModule():
    global hang_emu, H
    hang_emu = EmulatorProcess("--orders", "150", "--members", "20", "--products", "5",
                               "--bookings", "5", "--seed", "9")
    H = Emulator(hang_emu.url)
    create_database(DB, sql=server_sql("hang", hang_emu.url, schema="hang",
                                       tables=("orders",)) +
                    server_sql("emu_v3", EMULATOR_URL, schema="wix_v3",
                               tables=("products",), catalog_version="V3"))
    create_login_role(ROLE)
    query("GRANT USAGE ON SCHEMA wix, wix_admin TO {r};"
          "GRANT SELECT ON ALL TABLES IN SCHEMA wix TO {r};".format(r=ROLE))


def tearDownModule():
    if hang_emu is not None:
        hang_emu.stop()


def visible_orders():
    return [o for o in items_of(emu.data("orders"), "orders") if o["status"] != "INITIALIZED"]


def parse_ts(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def server_version_num():
    return int(query("SHOW server_version_num")[0][0])


class BiTestCase(unittest.TestCase):
    def setUp(self):
        for em in (emu, emu_v1, H):
            em.clear_faults()
            em.reset_log()

    def paths(self, em=None):
        return [r["method"] + " " + r["path"] for r in (em or emu).requests()]


# -- 5. visible waiting ----------------------------------------------------------

class WaitingTest(BiTestCase):
    def test_hung_request_shows_as_an_extension_wait(self):
        s = Session(DB)
        self.addCleanup(s.close)
        s.run("SET wix_admin.requests_per_minute = 0")
        self.assertEqual(s.value("SELECT count(*) > 0 FROM hang.orders"), "t")  # token, catalog
        H.fault(match=SEARCH, times=1, hang_ms=3000)
        box = {}
        t = threading.Thread(target=lambda: box.setdefault(
            "res", s.run("SELECT count(*) FROM hang.orders")))
        t.start()
        seen = []
        deadline = time.monotonic() + 2.5
        while time.monotonic() < deadline:
            seen = query("SELECT wait_event_type, wait_event, state FROM pg_stat_activity "
                         "WHERE pid = %d" % s.pid)
            if seen and seen[0][0] == "Extension":
                break
            time.sleep(0.1)
        t.join(30)
        self.assertEqual(seen[0][0], "Extension", seen)
        self.assertEqual(seen[0][2], "active")
        self.assertEqual(seen[0][1], "WixRequest" if server_version_num() >= 170000
                         else "Extension")
        self.assertIsNone(box["res"].error, box["res"].stderr)
        visible = [o for o in items_of(H.data("orders"), "orders")
                   if o["status"] != "INITIALIZED"]
        self.assertEqual(box["res"].rows, [[str(len(visible))]])
        # after the answer the backend waits for its client again
        self.assertEqual(query("SELECT wait_event_type FROM pg_stat_activity "
                               "WHERE pid = %d" % s.pid), [["Client"]])

    def test_a_hung_request_stays_cancellable(self):
        s = Session(DB)
        self.addCleanup(s.close)
        H.fault(match=SEARCH, times=1, hang_ms=20000)
        res = s.run("SET wix_admin.requests_per_minute = 0; SET statement_timeout = '1s';"
                    "SELECT count(*) FROM hang.orders")
        self.assertIn("57014", res.error or "", res.stderr)
        self.assertLess(res.elapsed, 2.0)

    def explain_analyze(self, requests_per_minute, options="ANALYZE"):
        """EXPLAIN of a full orders scan in a new backend; its limiter has
        at most a full bucket of 10 requests (the site's when preloaded)."""
        out = query("SET wix_admin.requests_per_minute = %d;\n"
                    "EXPLAIN (%s, COSTS OFF) SELECT count(*) FROM wix.orders"
                    % (requests_per_minute, options))
        return "\n".join(r[0] for r in out)

    def test_explain_analyze_shows_the_rate_limit_wait(self):
        pages = math.ceil(len(visible_orders()) / 100)
        # token + pages: more than the burst of 10, so some requests wait
        self.assertGreater(pages + 1, 10)
        t0 = time.monotonic()
        text = self.explain_analyze(60)     # after the burst, one per 1.2 s
        elapsed = time.monotonic() - t0
        self.assertIn("Wix requests: %d" % pages, text)
        line = [ln for ln in text.splitlines() if "Wix rate limit wait:" in ln]
        self.assertEqual(len(line), 1, text)
        waited = float(line[0].split(":")[1].strip().split()[0])
        self.assertTrue(line[0].rstrip().endswith(" ms"), line)
        # the scan's own pages past the burst waited about 1.2 s each (the
        # token request waits, if at all, outside the scan's counters)
        self.assertGreater(waited, 1000 * (pages - 10) * 0.8)
        self.assertLess(waited / 1000, elapsed)

    def test_no_rate_limit_line_without_a_wait_or_without_timing(self):
        text = self.explain_analyze(0)
        self.assertIn("Wix requests:", text)
        self.assertNotIn("rate limit", text)
        text = self.explain_analyze(60, "ANALYZE, TIMING OFF, SUMMARY OFF")
        self.assertIn("Wix requests:", text)
        self.assertNotIn("rate limit", text)
        out = query("SET wix_admin.requests_per_minute = 0;\n"
                    "EXPLAIN (ANALYZE, FORMAT JSON) SELECT count(*) FROM wix.members")
        plan = json.loads("\n".join(r[0] for r in out))[0]["Plan"]["Plans"][0]
        self.assertEqual(plan["Wix rate limit wait"], 0)


# -- 6. comments from IMPORT FOREIGN SCHEMA ------------------------------------

def table_comment(table):
    return query("SELECT obj_description('%s'::regclass, 'pg_class')" % table)[0][0]


def column_comment(table, column):
    return query("SELECT col_description('{t}'::regclass, attnum) FROM pg_attribute "
                 "WHERE attrelid = '{t}'::regclass AND attname = '{c}'"
                 .format(t=table, c=column))[0][0]


class ImportCommentTest(BiTestCase):
    def test_tables_have_their_resource_and_call(self):
        self.assertEqual(table_comment("wix.orders"),
                         "eCommerce orders (Wix POST /ecom/v1/orders/search)")
        self.assertEqual(table_comment("wix.products"),
                         "Stores products (Catalog V1 or V3) (Wix POST /stores/v3/products/query "
                         "on Catalog V3, POST /stores-reader/v1/products/query on Catalog V1)")
        self.assertEqual(table_comment("wix.order_payments"),
                         "payments of eCommerce orders (Wix POST /ecom/v1/payments/list-by-ids, "
                         "for the orders of POST /ecom/v1/orders/search)")
        self.assertEqual(table_comment("wix.pricing_plan_orders"),
                         "pricing-plan orders (Wix GET /pricing-plans/v2/orders)")

    def test_columns_name_the_wix_field_and_its_meaning(self):
        cases = {
            ("wix.orders", "total"): "Wix field priceSummary.total.amount: the total the buyer pays",
            ("wix.orders", "raw"): "Wix object: the whole order as Wix returns it",
            ("wix.order_line_items", "product_name"):
                "Wix field lineItems[].productName.original: the product's name at the time of purchase",
            ("wix.order_line_items", "order_id"): "Wix field id: the order's ID (orders.id)",
            ("wix.order_line_items", "raw"):
                "Wix object lineItems[]: the whole line item as Wix returns it",
            ("wix.order_refunds", "amount"):
                "Wix field refunds[].transactions[].amount.amount: the amount refunded from this payment",
            ("wix.order_refunds", "reason"):
                "Wix field refunds[].details.reason: the reason given for the refund",
            ("wix.order_payments", "order_number"): "Wix field orders[].number: the order's number",
            ("wix.order_payments", "order_id"): "Wix field orderId: the order's ID (orders.id)",
            ("wix.products", "price"):
                "Wix field actualPriceRange.minValue.amount (Catalog V3), priceData.price "
                "(Catalog V1): the price: Catalog V3, the lowest variant price; Catalog V1, "
                "the product's price",
            ("wix.products", "numeric_id"):
                "Wix field numericId (Catalog V1 only): the product's numeric ID",
            ("wix.products", "revision"):
                "Wix field revision (Catalog V3 only): the product's revision, raised by every change",
            ("wix.products", "name"): "Wix field name: the product's name",
            ("wix.inventory_items", "raw"):
                "Wix object inventoryItems[] (Catalog V3), variants[] (Catalog V1): the whole "
                "inventory item (Catalog V1: the variant) as Wix returns it",
            ("wix.pricing_plan_orders", "price"):
                "Wix field pricing.prices[0].price.total, else priceDetails.total: the total "
                "price of the plan's first pricing period",
            ("wix.bookings", "service_id"):
                "Wix field bookedEntity.slot.serviceId: the booked service's ID (booking_services.id)",
        }
        for (table, column), comment in cases.items():
            with self.subTest(table=table, column=column):
                self.assertEqual(column_comment(table, column), comment)

    def test_every_imported_table_and_column_has_a_comment(self):
        missing = query("""
            SELECT c.relname, a.attname
              FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0
             WHERE c.relnamespace IN ('wix'::regnamespace, 'wix_v1'::regnamespace)
               AND (col_description(c.oid, a.attnum) IS NULL
                    OR obj_description(c.oid, 'pg_class') IS NULL)""")
        self.assertEqual(missing, [])
        self.assertEqual(query("SELECT count(*) FROM pg_class "
                               "WHERE relnamespace = 'wix'::regnamespace"), [["14"]])
        # both schemas hold the same comments: they come from the catalog
        self.assertEqual(query("""
            SELECT count(*) FROM pg_description d1
              JOIN pg_class c1 ON c1.oid = d1.objoid AND d1.classoid = 'pg_class'::regclass
              JOIN pg_class c2 ON c2.relname = c1.relname
                              AND c2.relnamespace = 'wix_v1'::regnamespace
              LEFT JOIN pg_description d2 ON d2.objoid = c2.oid AND d2.objsubid = d1.objsubid
             WHERE c1.relnamespace = 'wix'::regnamespace
               AND d2.description IS DISTINCT FROM d1.description"""), [["0"]])

    def test_limit_to_and_except(self):
        query("DROP SCHEMA IF EXISTS bi_some, bi_but CASCADE; CREATE SCHEMA bi_some;"
              "CREATE SCHEMA bi_but;"
              "IMPORT FOREIGN SCHEMA wix LIMIT TO (orders, members) FROM SERVER emu INTO bi_some;"
              "IMPORT FOREIGN SCHEMA wix EXCEPT (orders) FROM SERVER emu INTO bi_but;")
        self.assertEqual(query("SELECT relname, obj_description(oid, 'pg_class') FROM pg_class "
                               "WHERE relnamespace = 'bi_some'::regnamespace ORDER BY 1"),
                         [["members", "site members (Wix POST /members/v1/members/query)"],
                          ["orders", "eCommerce orders (Wix POST /ecom/v1/orders/search)"]])
        self.assertEqual(column_comment("bi_some.members", "login_email"),
                         "Wix field loginEmail: the email address the member logs in with")
        self.assertEqual(query("SELECT count(*), count(obj_description(oid, 'pg_class')) "
                               "FROM pg_class WHERE relnamespace = 'bi_but'::regnamespace"),
                         [["13", "13"]])

    def test_only_imports_are_commented(self):
        query("DROP FOREIGN TABLE IF EXISTS public.own_orders;"
              "CREATE FOREIGN TABLE public.own_orders (id text, total numeric) "
              "SERVER emu OPTIONS (resource 'orders')")
        self.assertEqual(query("SELECT count(*) FROM pg_description "
                               "WHERE objoid = 'public.own_orders'::regclass"), [["0"]])

    def test_rolled_back_and_repeated_imports(self):
        query("DROP SCHEMA IF EXISTS bi_tx1, bi_tx2 CASCADE; CREATE SCHEMA bi_tx1;"
              "CREATE SCHEMA bi_tx2;")
        query("BEGIN; IMPORT FOREIGN SCHEMA wix LIMIT TO (orders) FROM SERVER emu INTO bi_tx1;"
              "ROLLBACK;")
        self.assertEqual(query("SELECT count(*) FROM pg_class "
                               "WHERE relnamespace = 'bi_tx1'::regnamespace"), [["0"]])
        # two imports in one statement each comment their own tables
        query("DO $$ BEGIN "
              "IMPORT FOREIGN SCHEMA wix LIMIT TO (orders) FROM SERVER emu INTO bi_tx1; "
              "IMPORT FOREIGN SCHEMA wix LIMIT TO (coupons) FROM SERVER emu_v1 INTO bi_tx2; "
              "END $$")
        self.assertEqual(table_comment("bi_tx1.orders"),
                         "eCommerce orders (Wix POST /ecom/v1/orders/search)")
        self.assertEqual(column_comment("bi_tx2.coupons", "code"),
                         "Wix field specification.code: the code buyers enter at checkout")


# -- 6. check_connection -----------------------------------------------------------

def check(server=None, user=None, settings=""):
    arg = "" if server is None else "'%s'" % server
    out = psql(settings + "SELECT wix_admin.check_connection(%s)" % arg, db=DB, user=user)
    return json.loads(out[-1][0])


class CheckConnectionTest(BiTestCase):
    @classmethod
    def setUpClass(cls):
        query("DROP SERVER IF EXISTS cc_key, cc_badsecret, cc_badkey, cc_down CASCADE;" +
              server_sql("cc_key", mapping=KEY) +
              server_sql("cc_badsecret", mapping={"client_id": CLIENT_ID,
                                                  "client_secret": "not-the-secret"}) +
              server_sql("cc_badkey", mapping={"api_key": "IST.not-the-key"}) +
              server_sql("cc_down", "http://127.0.0.1:%d" % free_port(), KEY,
                         connect_timeout="2"))

    def test_oauth(self):
        query(new_mapping_sql("emu"))
        self.assertEqual(check("emu"), {
            "ok": True, "server": "emu", "auth": "oauth", "site_id": SITE_ID,
            "catalog": "V3", "base_url": EMULATOR_URL})
        # no token for a new user mapping yet: the token request, then the call
        self.assertEqual(self.paths(), ["POST " + TOKEN, "GET " + VERSION])
        emu.reset_log()
        # a new backend takes the user mapping's token from shared memory
        # (the suites run with the library preloaded): one request per check
        out = query("SELECT wix_admin.check_connection('emu');"
                    "SELECT wix_admin.check_connection('emu')")
        self.assertEqual([json.loads(r[0])["ok"] for r in out], [True, True])
        self.assertEqual(self.paths(), ["GET " + VERSION, "GET " + VERSION])

    def test_api_key_and_catalog_v1(self):
        self.assertEqual(check("cc_key"), {
            "ok": True, "server": "cc_key", "auth": "api_key", "site_id": SITE_ID,
            "catalog": "V3", "base_url": EMULATOR_URL})
        reqs = emu.requests()
        self.assertEqual([(r["path"], r["headers"]["authorization"]) for r in reqs],
                         [(VERSION, "api_key")])
        self.assertEqual(check("emu_v1")["catalog"], "V1")

    def test_bad_client_secret(self):
        result = check("cc_badsecret")
        self.assertEqual(result["ok"], False)
        self.assertEqual(result["auth"], "oauth")
        self.assertEqual(result["sqlstate"], "HV00N")
        self.assertIn("Wix API request POST /oauth2/token failed with HTTP 401", result["error"])
        self.assertIn("Check the client_id and client_secret", result["hint"])
        self.assertNotIn("catalog", result)
        self.assertNotIn("not-the-secret", json.dumps(result))
        self.assertEqual(self.paths(), ["POST " + TOKEN])

    def test_bad_api_key(self):
        result = check("cc_badkey")
        self.assertEqual((result["ok"], result["auth"], result["sqlstate"]),
                         (False, "api_key", "HV00N"))
        self.assertIn("GET %s failed with HTTP 401" % VERSION, result["error"])
        self.assertIn("Wix request id:", result["detail"])
        self.assertIn("Check the api_key", result["hint"])
        self.assertNotIn("IST.not-the-key", json.dumps(result))
        self.assertEqual(self.paths(), ["GET " + VERSION])

    def test_unreachable_host(self):
        t0 = time.monotonic()
        result = check("cc_down", settings="SET wix_admin.max_retries = 0;")
        self.assertLess(time.monotonic() - t0, 10)
        self.assertEqual((result["ok"], result["sqlstate"]), (False, "HV00N"))
        self.assertIn("could not reach Wix for GET %s" % VERSION, result["error"])
        self.assertIn("base_url", result["hint"])

    def test_a_failure_does_not_abort_the_transaction(self):
        out = query("BEGIN; SELECT wix_admin.check_connection('cc_badkey') ->> 'ok';"
                    "SELECT 42; COMMIT;")
        self.assertEqual(out, [["false"], ["42"]])

    def test_cancel_is_not_swallowed(self):
        query("DROP SERVER IF EXISTS cc_hang CASCADE;" + server_sql("cc_hang", hang_emu.url, KEY))
        H.fault(match=VERSION, times=1, hang_ms=20000)
        err = psql_error("SET statement_timeout = '1s'; "
                         "SELECT wix_admin.check_connection('cc_hang')", db=DB)
        self.assertIn("57014", err)

    def test_role_without_mapping(self):
        query("GRANT USAGE ON FOREIGN SERVER emu TO %s" % ROLE)
        result = check("emu", user=ROLE)
        self.assertEqual((result["ok"], result["sqlstate"]), (False, "42704"))
        self.assertEqual(result["error"],
                         'role "%s" has no user mapping for server "emu"' % ROLE)
        self.assertIn("CREATE USER MAPPING FOR %s SERVER emu OPTIONS" % ROLE, result["hint"])
        self.assertNotIn("auth", result)
        self.assertEqual(emu.requests(), [])

    def test_needs_usage_on_the_server(self):
        err = psql_error("SELECT wix_admin.check_connection('cc_key')", db=DB, user=ROLE)
        self.assertIn("permission denied for foreign server cc_key", err)

    def test_server_choice(self):
        err = psql_error("SELECT wix_admin.check_connection()", db=DB)
        self.assertIn("wix_admin servers in this database; choose one", err)
        err = psql_error("SELECT wix_admin.check_connection('nosuch')", db=DB)
        self.assertIn('server "nosuch" does not exist', err)
        result = check(settings="SET wix_admin.default_server = 'cc_key';")
        self.assertEqual((result["ok"], result["server"]), (True, "cc_key"))


# -- 6. a role without a user mapping ----------------------------------------------

class MissingMappingTest(BiTestCase):
    def test_scan_error_names_the_statement_that_fixes_it(self):
        err = psql_error("SELECT count(*) FROM wix.orders", db=DB, user=ROLE)
        self.assertIn('ERROR:  42704: role "%s" has no user mapping for server "emu"' % ROLE,
                      err)
        self.assertIn("HINT:  CREATE USER MAPPING FOR %s SERVER emu OPTIONS (api_key '...'), "
                      "or OPTIONS (client_id '...', client_secret '...')." % ROLE, err)
        self.assertEqual(emu.requests(), [])

    def test_explain_needs_no_mapping(self):
        out = psql("EXPLAIN SELECT * FROM wix.orders", db=DB, user=ROLE)
        self.assertIn("Wix resource: orders", "\n".join(r[0] for r in out))

    def test_public_mapping_is_used(self):
        query("DROP SERVER IF EXISTS cc_public CASCADE;" +
              server_sql("cc_public", mapping=None) +
              "CREATE USER MAPPING FOR PUBLIC SERVER cc_public OPTIONS (api_key '%s');"
              "DROP FOREIGN TABLE IF EXISTS public.public_members;"
              "CREATE FOREIGN TABLE public.public_members (id text) "
              "SERVER cc_public OPTIONS (resource 'members');"
              "GRANT SELECT ON public.public_members TO %s;" % (API_KEY, ROLE))
        out = psql("SELECT count(*) FROM public.public_members", db=DB, user=ROLE)
        self.assertEqual(out, [[str(len(items_of(emu.data("members"), "members")))]])


# -- 6. min/max and ORDER BY ... LIMIT: only the requests they need ------------------

class SortedLimitTest(BiTestCase):
    def requests_of(self, sql, em, path, db=DB):
        """Rows of sql in a new backend, and the bodies of its requests to path."""
        em.reset_log()
        rows = psql("SET wix_admin.requests_per_minute = 0;" + sql, db=db)
        return rows, [r["body"] for r in em.requests(path)]

    def test_orders_order_by_limit_is_one_request(self):
        newest = max(visible_orders(), key=lambda o: parse_ts(o["createdDate"]))
        rows, bodies = self.requests_of(
            "SELECT id FROM wix.orders ORDER BY created_date DESC LIMIT 1", emu, SEARCH)
        self.assertEqual(rows, [[newest["id"]]])
        self.assertEqual(len(bodies), 1)
        self.assertEqual(bodies[0]["search"]["cursorPaging"], {"limit": 1})
        self.assertEqual(bodies[0]["search"]["sort"],
                         [{"fieldName": "createdDate", "order": "DESC"}])

    def test_orders_min_max_one_request_each(self):
        dates = sorted(parse_ts(o["createdDate"]) for o in visible_orders())
        for agg, expected, order in (("max", dates[-1], "DESC"), ("min", dates[0], "ASC")):
            with self.subTest(agg=agg):
                rows, bodies = self.requests_of(
                    "SELECT %s(created_date) = '%s'::timestamptz FROM wix.orders"
                    % (agg, expected.isoformat()), emu, SEARCH)
                self.assertEqual(rows, [["t"]])
                self.assertEqual(len(bodies), 1, bodies)
                self.assertEqual(bodies[0]["search"]["sort"],
                                 [{"fieldName": "createdDate", "order": order}])
        rows, bodies = self.requests_of(
            "SELECT min(created_date) < max(created_date) FROM wix.orders", emu, SEARCH)
        self.assertEqual((rows, len(bodies)), ([["t"]], 2))
        plan = "\n".join(r[0] for r in query(
            "EXPLAIN (COSTS OFF) SELECT max(created_date) FROM wix.orders"))
        self.assertIn("InitPlan", plan)
        self.assertIn("Limit", plan)
        self.assertIn('Wix sort: [{"fieldName":"createdDate","order":"DESC"}]', plan)

    def test_members_min_max_and_limit(self):
        members = items_of(emu.data("members"), "members")
        newest = sorted(members, key=lambda m: parse_ts(m["createdDate"]), reverse=True)
        rows, bodies = self.requests_of(
            "SELECT id FROM wix.members ORDER BY created_date DESC LIMIT 3", emu, MEMBERS_QUERY)
        self.assertEqual(rows, [[m["id"]] for m in newest[:3]])
        self.assertEqual(len(bodies), 1)
        self.assertEqual(bodies[0]["query"]["paging"], {"limit": 3, "offset": 0})
        rows, bodies = self.requests_of(
            "SELECT max(created_date) = '%s'::timestamptz FROM wix.members"
            % newest[0]["createdDate"], emu, MEMBERS_QUERY)
        self.assertEqual((rows, len(bodies)), ([["t"]], 1))

    def test_products_v3_max_is_one_request(self):
        products = items_of(emu.data("products"), "products")
        newest = max((p["createdDate"] for p in products), key=parse_ts)
        sql = "SELECT max(created_date) = '%s'::timestamptz FROM %s.products"
        # the server says Catalog V3: Wix sorts, and no catalog request is sent
        rows, bodies = self.requests_of(sql % (newest, "wix_v3"), emu, PRODUCTS_V3_QUERY)
        self.assertEqual((rows, len(bodies)), ([["t"]], 1))
        self.assertEqual(bodies[0]["query"]["sort"],
                         [{"fieldName": "createdDate", "order": "DESC"}])
        self.assertEqual(emu.requests(VERSION), [])
        # catalog_version auto: the plan must also suit Catalog V1, which
        # cannot sort, so every page is read
        rows, bodies = self.requests_of(sql % (newest, "wix"), emu, PRODUCTS_V3_QUERY)
        self.assertEqual((rows, len(bodies)), ([["t"]], math.ceil(len(products) / 100)))

    def test_products_v1_cannot_sort_so_reads_every_page(self):
        products = items_of(emu_v1.data("products"), "products")
        newest = max((p["createdDate"] for p in products), key=parse_ts)
        rows, bodies = self.requests_of(
            "SELECT max(created_date) = '%s'::timestamptz FROM wix_v1.products" % newest,
            emu_v1, PRODUCTS_V1_QUERY)
        self.assertEqual(rows, [["t"]])
        self.assertEqual(len(bodies), math.ceil(len(products) / 100))

    def test_limit_over_a_local_filter_fetches_no_page_ahead(self):
        # the first page (newest 100 orders) holds enough matches
        first_page = sorted(visible_orders(), key=lambda o: parse_ts(o["createdDate"]),
                            reverse=True)[:100]
        matches = [int(o["number"]) for o in first_page if int(o["number"]) % 7 == 3]
        self.assertGreaterEqual(len(matches), 2)
        rows, bodies = self.requests_of(
            "SELECT number FROM wix.orders WHERE number % 7 = 3 LIMIT 2", emu, SEARCH)
        self.assertEqual(len(rows), 2)
        self.assertTrue({int(r[0]) for r in rows} <= set(matches))
        self.assertEqual(len(bodies), 1)
        # without a LIMIT the scan still fetches ahead and reads every page
        rows, bodies = self.requests_of(
            "SELECT count(*) FROM wix.orders WHERE number % 7 = 3", emu, SEARCH)
        self.assertEqual(len(bodies), math.ceil(len(visible_orders()) / 100))


if __name__ == "__main__":
    unittest.main(verbosity=2)
