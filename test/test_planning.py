"""Query planning (issue 14).

ANALYZE (AnalyzeTest): reltuples and the MCVs it stores against the
emulators' data, the estimates that follow from them, the requests it costs
(the emulator's request log: exactly those of SELECT *, every time), the
reservoir when the table is larger than the sample, memory that holds only
the sample, every production table on both catalogs, the skipped table that
needs a condition, database-wide ANALYZE (which leaves foreign tables
alone), progress in pg_stat_progress_analyze and the NOTICE of a long read,
and cancellation.

Uses the shared emulators (the BIG one: 5000 orders) and a private one for
the slowed and hung requests, whose faults and late log entries must not
reach other suites.
"""
import collections
import json
import math
import threading
import time
import unittest

from fixtures import (EMULATOR_BIG_URL, Emulator, create_database, items_of, psql,
                      server_sql, standard_servers)
from wixfault import EmulatorProcess, Session, proc_status_kb

DB = "wix_planning"
VISIBLE = ("APPROVED", "CANCELED", "PENDING", "REJECTED")
SEARCH = "/ecom/v1/orders/search"
TABLES = ["abandoned_checkouts", "booking_services", "bookings", "contacts", "coupons",
          "inventory_items", "members", "order_fulfillments", "order_line_items",
          "order_payments", "order_refunds", "orders", "pricing_plan_orders", "products"]
# the time between two NOTICEs of a long ANALYZE (ANALYZE_NOTICE_INTERVAL_MS)
NOTICE_INTERVAL_S = 10

big = Emulator(EMULATOR_BIG_URL)


def query(sql):
    return psql(sql, db=DB)


def reltuples(table):
    return float(query("SELECT reltuples FROM pg_class WHERE oid = '%s'::regclass" % table)[0][0])


def mcv(table, column):
    """{value: frequency} of the column's most common values in pg_stats."""
    schema, name = table.split(".")
    rows = query("SELECT v, f FROM pg_stats, unnest(most_common_vals::text::text[], "
                 "most_common_freqs) AS u(v, f) WHERE schemaname = '%s' AND tablename = '%s' "
                 "AND attname = '%s'" % (schema, name, column))
    return {v: float(f) for v, f in rows}


def plan_rows(sql):
    return json.loads("".join(r[0] for r in query("EXPLAIN (FORMAT JSON) " + sql)))[0]["Plan"]["Plan Rows"]


def requests(em):
    """What em was asked since its log was reset: (method, path) counts of
    the API calls (not the OAuth token requests: with the library preloaded,
    a token fetched by one backend serves the next ones)."""
    return collections.Counter((r["method"], r["path"]) for r in em.requests()
                               if r["path"] != "/oauth2/token")


class AnalyzeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.slow_proc = EmulatorProcess("--orders", "600", "--members", "5", "--products", "5",
                                        "--bookings", "5", "--seed", "14")
        cls.slow = Emulator(cls.slow_proc.url)
        create_database(DB, servers=standard_servers() +
                        server_sql("big", EMULATOR_BIG_URL, schema="big",
                                   tables=("orders", "order_line_items", "order_payments")) +
                        server_sql("slow", cls.slow_proc.url, schema="slow", tables=("orders",)))
        cls.orders = [o for o in items_of(big.data("orders"), "orders") if o["status"] in VISIBLE]
        cls.slow_count = len([o for o in items_of(cls.slow.data("orders"), "orders")
                              if o["status"] in VISIBLE])

    @classmethod
    def tearDownClass(cls):
        cls.slow_proc.stop()

    def setUp(self):
        big.reset_log()
        self.slow.clear_faults()
        self.slow.reset_log()

    def distribution(self, field):
        counts = collections.Counter(o[field] for o in self.orders)
        return {v: n / len(self.orders) for v, n in counts.items()}

    def test_reltuples_and_mcvs_are_the_tables(self):
        self.assertGreaterEqual(len(self.orders), 4500)
        query("ANALYZE big.orders")
        self.assertEqual(reltuples("big.orders"), len(self.orders))
        # 5000 rows, a 30000-row sample: every row is in it, the MCVs are exact
        for column, field in (("payment_status", "paymentStatus"), ("status", "status")):
            with self.subTest(column=column):
                stored = mcv("big.orders", column)
                expected = self.distribution(field)
                self.assertEqual(set(stored), set(expected))
                for value, freq in expected.items():
                    self.assertAlmostEqual(stored[value], freq, places=4)
        # a unique column is seen as unique
        self.assertEqual(query("SELECT n_distinct FROM pg_stats WHERE schemaname = 'big' "
                               "AND tablename = 'orders' AND attname = 'id'"), [["-1"]])

    def test_estimates_come_from_the_statistics(self):
        query("ANALYZE big.orders")
        for status in ("PAID", "NOT_PAID"):
            with self.subTest(payment_status=status):
                true = len([o for o in self.orders if o["paymentStatus"] == status])
                self.assertGreater(true, 100)
                est = plan_rows("SELECT * FROM big.orders WHERE payment_status = '%s'" % status)
                self.assertLessEqual(abs(est - true), max(2, 0.02 * true), (est, true))
        self.assertEqual(plan_rows("SELECT * FROM big.orders"), len(self.orders))

    def test_costs_the_requests_of_select_star_every_time(self):
        query("SELECT * FROM big.orders")
        select = requests(big)
        self.assertEqual(select[("POST", SEARCH)], math.ceil(len(self.orders) / 100))
        first_search = big.requests(SEARCH)[0]["body"]
        for run in (1, 2):
            with self.subTest(analyze=run):
                big.reset_log()
                query("ANALYZE big.orders")
                self.assertEqual(requests(big), select)
                # nothing pushed: the same search as SELECT *
                self.assertEqual(big.requests(SEARCH)[0]["body"], first_search)
                self.assertEqual(reltuples("big.orders"), len(self.orders))

    def test_rows_inside_items_and_batched_tables(self):
        line_items = sum(len(o["lineItems"]) for o in self.orders)
        self.assertGreater(line_items, len(self.orders))
        query("ANALYZE big.order_line_items")
        self.assertEqual(reltuples("big.order_line_items"), line_items)
        self.assertEqual(requests(big)[("POST", SEARCH)], math.ceil(len(self.orders) / 100))
        big.reset_log()
        payments = int(query("SELECT count(*) FROM big.order_payments")[0][0])
        select = requests(big)
        self.assertGreater(select[("POST", "/ecom/v1/payments/list-by-ids")], 1)
        big.reset_log()
        query("ANALYZE big.order_payments")
        self.assertEqual(reltuples("big.order_payments"), payments)
        self.assertEqual(requests(big), select)

    def test_every_production_table_on_both_catalogs(self):
        for schema in ("wix", "wix_v1"):
            for table in TABLES:
                name = "%s.%s" % (schema, table)
                with self.subTest(table=name):
                    query("ANALYZE " + name)
                    count = int(query("SELECT count(*) FROM " + name)[0][0])
                    self.assertEqual(reltuples(name), count)

    def test_dropped_columns_are_null_in_the_sample(self):
        query("""DROP FOREIGN TABLE IF EXISTS public.orders_dropped;
                 CREATE FOREIGN TABLE public.orders_dropped (id text, gone text,
                   payment_status text, "Number" bigint OPTIONS (path 'number'))
                   SERVER big OPTIONS (resource 'orders');
                 ALTER FOREIGN TABLE public.orders_dropped DROP COLUMN gone;
                 ANALYZE public.orders_dropped;""")
        self.assertEqual(reltuples("public.orders_dropped"), len(self.orders))
        stored = mcv("public.orders_dropped", "payment_status")
        for value, freq in self.distribution("paymentStatus").items():
            self.assertAlmostEqual(stored[value], freq, places=4)
        bounds = query("SELECT histogram_bounds::text::bigint[] FROM pg_stats "
                       "WHERE tablename = 'orders_dropped' AND attname = 'Number'")[0][0]
        numbers = sorted(int(o["number"]) for o in self.orders)
        self.assertEqual(bounds.strip("{}").split(",")[0], str(numbers[0]))
        self.assertEqual(bounds.strip("{}").split(",")[-1], str(numbers[-1]))

    def test_larger_table_than_sample_is_sampled_evenly(self):
        # statistics target 10: a 3000-row sample of ~5000 rows
        s = Session(DB)
        self.addCleanup(s.close)
        res = s.run("SET default_statistics_target = 10; ANALYZE VERBOSE big.orders")
        self.assertIsNone(res.error, res.stderr)
        self.assertIn('"orders": read %d rows from Wix, 3000 rows in sample' % len(self.orders),
                      res.stderr)
        self.assertEqual(reltuples("big.orders"), len(self.orders))
        stored = mcv("big.orders", "payment_status")
        for value, freq in self.distribution("paymentStatus").items():
            if freq > 0.05:
                self.assertAlmostEqual(stored[value], freq, delta=0.03)
        # the sample spans the whole read, not its first 3000 rows
        bounds = [int(r[0]) for r in query(
            "SELECT unnest(histogram_bounds::text::bigint[]) FROM pg_stats "
            "WHERE schemaname = 'big' AND tablename = 'orders' AND attname = 'number'")]
        numbers = sorted(int(o["number"]) for o in self.orders)
        self.assertLessEqual(bounds[0], numbers[len(numbers) // 50])
        self.assertGreaterEqual(bounds[-1], numbers[-len(numbers) // 50])

    def test_memory_holds_only_the_sample(self):
        # statistics target 1: a 300-row sample of ~5000 rows of ~10 kB
        s = Session(DB)
        self.addCleanup(s.close)
        before = proc_status_kb(s.pid, "VmHWM")
        res = s.run("SET default_statistics_target = 1; ANALYZE big.orders")
        self.assertIsNone(res.error, res.stderr)
        self.assertEqual(reltuples("big.orders"), len(self.orders))
        self.assertLess(proc_status_kb(s.pid, "VmHWM") - before, 25 * 1024)

    def test_database_wide_analyze_leaves_wix_alone(self):
        query("ANALYZE")
        self.assertEqual(big.requests(), [])

    def test_table_read_only_with_a_condition_is_skipped(self):
        s = Session(DB)
        self.addCleanup(s.close)
        res = s.run("SET wix_admin.enable_experimental_resources = on;"
                    "DROP FOREIGN TABLE IF EXISTS public.payments_by_order;"
                    "CREATE FOREIGN TABLE public.payments_by_order (order_id text, id text) "
                    "SERVER big OPTIONS (resource 'experimental_order_payments_by_order');"
                    "ANALYZE public.payments_by_order")
        self.assertIsNone(res.error, res.stderr)
        self.assertIn('WARNING:  01000: skipping "payments_by_order" --- '
                      'cannot analyze this foreign table', res.stderr)
        self.assertEqual(big.requests(), [])
        self.assertEqual(reltuples("public.payments_by_order"), -1)

    def progress(self, pid):
        rows = query("SELECT phase, sample_blks_total, sample_blks_scanned, relid::regclass "
                     "FROM pg_stat_progress_analyze WHERE pid = %d" % pid)
        return rows[0] if rows else None

    def test_progress_and_notice_of_a_long_read(self):
        query("ANALYZE slow.orders")
        self.assertEqual(reltuples("slow.orders"), self.slow_count)
        self.assertGreater(self.slow_count, 300)
        # the third page comes after more than the NOTICE interval
        self.slow.fault(match=SEARCH, times=2)
        self.slow.fault(match=SEARCH, delay_ms=NOTICE_INTERVAL_S * 1000 + 500)
        s = Session(DB)
        self.addCleanup(s.close)
        box = {}
        t = threading.Thread(target=lambda: box.setdefault("res", s.run("ANALYZE slow.orders")))
        t.start()
        seen = []
        deadline = time.monotonic() + NOTICE_INTERVAL_S - 1
        while time.monotonic() < deadline and (not seen or seen[-1] is None or
                                               seen[-1][2] != "200"):
            seen.append(self.progress(s.pid))
            time.sleep(0.2)
        t.join(60)
        res = box["res"]
        self.assertIsNone(res.error, res.stderr)
        # while the third page is late: the two pages read, of the rows last counted
        self.assertEqual(seen[-1], ["acquiring sample rows", str(self.slow_count), "200",
                                    "slow.orders"])
        scanned = [int(p[2]) for p in seen if p is not None]
        self.assertEqual(scanned, sorted(scanned))
        self.assertEqual(res.stderr.count("NOTICE:"), 1, res.stderr)
        self.assertIn("NOTICE:  00000: ANALYZE of slow.orders: 201 rows read from Wix so far",
                      res.stderr)
        self.assertEqual(reltuples("slow.orders"), self.slow_count)

    def test_analyze_is_cancellable(self):
        query("ANALYZE slow.orders")
        self.slow.fault(match=SEARCH, times=1)
        self.slow.fault(match=SEARCH, hang_ms=30000)
        s = Session(DB)
        self.addCleanup(s.close)
        box = {}
        t = threading.Thread(target=lambda: box.setdefault("res", s.run("ANALYZE slow.orders")))
        started = time.monotonic()
        t.start()
        while self.progress(s.pid) is None or self.progress(s.pid)[2] != "100":
            self.assertLess(time.monotonic() - started, 10, "ANALYZE did not reach the hang")
            time.sleep(0.1)
        cancelled_at = time.monotonic()
        self.assertEqual(query("SELECT pg_cancel_backend(%d)" % s.pid), [["t"]])
        t.join(30)
        res = box["res"]
        self.assertIn("ERROR:  57014: canceling statement due to user request", res.stderr)
        self.assertLess(started + res.elapsed - cancelled_at, 1.5)
        self.assertEqual(reltuples("slow.orders"), self.slow_count)
        self.assertEqual(s.run("SELECT count(*) FROM slow.orders").rows, [[str(self.slow_count)]])


if __name__ == "__main__":
    unittest.main(verbosity=2)
