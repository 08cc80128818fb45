"""Plans that respect Wix's rate limit (issue 14, parts 2-4): sizes
remembered from reads to the end, costs in Wix requests (request_cost),
the estimate EXPLAIN shows, enum conditions estimated without statistics,
and the guard that stops a parameterized scan from spending more requests
on look-ups than a read of its table.

The joins of the issue, on a private emulator with 3,000 orders and 800
members, with the emulator's request log as the judge."""
import re
import unittest

from fixtures import Emulator, create_database, psql, psql_error, server_sql
from wixfault import EmulatorProcess

DB = "wix_planning_costs"

ORDERS_BY_PAID = ("SELECT count(*) FROM wix.orders o JOIN wix.members m "
                  "ON m.id = o.buyer_member_id WHERE o.payment_status = 'PAID'")
MEMBERS_BY_APPROVED = ("SELECT count(*) FROM wix.members m JOIN wix.orders o "
                       "ON o.buyer_member_id = m.id WHERE m.status = 'APPROVED'")
# ... and their mirror images: the filter on the other side of the join
ORDERS_BY_APPROVED = ("SELECT count(*) FROM wix.orders o JOIN wix.members m "
                      "ON m.id = o.buyer_member_id WHERE m.status = 'APPROVED'")
MEMBERS_BY_PAID = ("SELECT count(*) FROM wix.members m JOIN wix.orders o "
                   "ON o.buyer_member_id = m.id WHERE o.payment_status = 'PAID'")
JOINS = (ORDERS_BY_PAID, MEMBERS_BY_APPROVED, ORDERS_BY_APPROVED, MEMBERS_BY_PAID)


def query(sql):
    """Run sql; its output as text, one line per row."""
    rows = psql("SET wix_admin.requests_per_minute = 0;\n" + sql, db=DB)
    return "\n".join("\t".join(row) for row in rows)


def plan(sql):
    return query("EXPLAIN " + sql)


def estimated_rows(sql):
    """The row estimate of the plan's top node."""
    return int(re.search(r"rows=(\d+)", plan(sql)).group(1))


def estimated_requests(sql):
    """Every "Wix requests (estimated)" of the plan, in plan order."""
    return [int(n) for n in re.findall(r"Wix requests \(estimated\): (\d+)", plan(sql))]


class PlanningCosts(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.proc = EmulatorProcess("--orders", "3000", "--members", "800",
                                   "--products", "5", "--bookings", "5")
        cls.emu = Emulator(cls.proc.url)

    @classmethod
    def tearDownClass(cls):
        cls.proc.stop()

    def setUp(self):
        # a new server each test: nothing remembered for it yet
        create_database(DB, servers=server_sql("emu", self.proc.url, schema="wix"))
        self.emu.reset_log()

    def requests(self, sql):
        """Run sql; the number of Wix API requests it made."""
        self.emu.reset_log()
        out = query(sql)
        return out, len([r for r in self.emu.requests() if "/oauth" not in r["path"]])

    def full_read(self, table):
        out, n = self.requests("SELECT count(*) FROM wix.%s" % table)
        return int(out.split()[-1]), n

    # -- remembered sizes -------------------------------------------------

    def test_size_remembered_from_a_read_to_the_end(self):
        self.assertEqual(estimated_rows("SELECT * FROM wix.orders"), 1000)
        rows, requests = self.full_read("orders")
        self.assertGreater(requests, 20)
        # another backend plans with what the read saw: rows, and requests
        self.assertEqual(estimated_rows("SELECT * FROM wix.orders"), rows)
        self.assertEqual(estimated_requests("SELECT * FROM wix.orders"), [requests])
        # and the estimate is what a scan costs
        _, again = self.requests("SELECT * FROM wix.orders")
        self.assertEqual(again, requests)

    def test_child_and_batched_tables_remember_their_requests(self):
        for table in ("order_line_items", "order_payments"):
            rows, requests = self.full_read(table)
            self.assertEqual(estimated_rows("SELECT * FROM wix.%s" % table), rows, table)
            self.assertEqual(estimated_requests("SELECT * FROM wix.%s" % table),
                             [requests], table)
        # payments: the orders pages and one list-by-ids per 100 orders
        _, orders_requests = self.full_read("orders")
        self.assertEqual(estimated_requests("SELECT * FROM wix.order_payments"),
                         [2 * orders_requests])

    def test_narrowed_reads_are_not_remembered(self):
        query("SELECT count(*) FROM wix.orders WHERE payment_status = 'PAID';\n"
              "SELECT * FROM wix.orders ORDER BY created_date LIMIT 150 OFFSET 20;\n"
              "SELECT * FROM wix.orders LIMIT 250;")
        self.assertEqual(estimated_rows("SELECT * FROM wix.orders"), 1000)

    def test_rows_option_comes_first(self):
        self.full_read("orders")
        query("ALTER FOREIGN TABLE wix.orders OPTIONS (ADD rows '12345');")
        self.assertEqual(estimated_rows("SELECT * FROM wix.orders"), 12345)

    def test_sizes_are_per_server(self):
        rows, _ = self.full_read("orders")
        psql(server_sql("emu2", self.proc.url, schema="wix2"), db=DB)
        self.assertEqual(estimated_rows("SELECT * FROM wix.orders"), rows)
        self.assertEqual(estimated_rows("SELECT * FROM wix2.orders"), 1000)

    # -- the joins of the issue -------------------------------------------

    def assert_join_costs_full_scans(self, sql, limit):
        text = plan(sql)
        self.assertIn("Hash Join", text)
        self.assertNotIn("Nested Loop", text)
        out, n = self.requests(sql)
        self.assertLessEqual(n, limit, "%s: %d requests" % (sql, n))
        return int(out.split()[-1])

    def test_joins_with_remembered_sizes(self):
        _, orders_requests = self.full_read("orders")
        _, members_requests = self.full_read("members")
        full_scans = orders_requests + members_requests
        for sql in JOINS:
            self.assert_join_costs_full_scans(sql, full_scans)

    def test_joins_with_nothing_known(self):
        # default sizes: an enum condition keeps a fifth of the rows, not 1/200
        _, orders_requests = self.full_read("orders")
        _, members_requests = self.full_read("members")
        create_database(DB, servers=server_sql("emu", self.proc.url, schema="wix"))
        self.assertEqual(estimated_rows("SELECT * FROM wix.members WHERE status = 'APPROVED'"),
                         200)
        self.assertEqual(estimated_rows(
            "SELECT * FROM wix.members WHERE status IN ('APPROVED', 'BLOCKED')"), 400)
        for sql in JOINS:
            self.assert_join_costs_full_scans(sql, orders_requests + members_requests)

    def test_joins_with_analyze(self):
        _, orders_requests = self.full_read("orders")
        _, members_requests = self.full_read("members")
        create_database(DB, servers=server_sql("emu", self.proc.url, schema="wix"))
        # ANALYZE reads each table once, like a scan
        _, n = self.requests("ANALYZE wix.orders;\nANALYZE wix.members;")
        self.assertEqual(n, orders_requests + members_requests)
        paid = int(query("SELECT count(*) FROM wix.orders WHERE payment_status = 'PAID'"))
        estimate = estimated_rows("SELECT * FROM wix.orders WHERE payment_status = 'PAID'")
        self.assertLess(abs(estimate - paid), 0.03 * paid)
        for sql in JOINS:
            self.assert_join_costs_full_scans(sql, orders_requests + members_requests)

    # -- request_cost -----------------------------------------------------

    def test_request_cost_decides_between_look_ups_and_a_read(self):
        self.full_read("orders")
        self.full_read("members")
        self.assertIn("Hash Join", plan(MEMBERS_BY_APPROVED))
        # requests for free: one look-up per approved member looks cheaper
        self.assertIn("Nested Loop",
                      query("SET wix_admin.request_cost = 0;\nEXPLAIN " + MEMBERS_BY_APPROVED))
        # the server's option overrides the setting
        query("ALTER SERVER emu OPTIONS (ADD request_cost '0');")
        self.assertIn("Nested Loop", plan(MEMBERS_BY_APPROVED))
        query("ALTER SERVER emu OPTIONS (SET request_cost '5000');")
        self.assertIn("Hash Join",
                      query("SET wix_admin.request_cost = 0;\nEXPLAIN " + MEMBERS_BY_APPROVED))

    def test_request_cost_values_are_checked(self):
        for bad in ("-1", "lots", "1e12", ""):
            err = psql_error("ALTER SERVER emu OPTIONS (ADD request_cost '%s');" % bad, db=DB)
            self.assertIn('invalid value for option "request_cost"', err)
        err = psql_error("SET wix_admin.request_cost = -5;", db=DB)
        self.assertIn("-5 is outside the valid range", err)

    # -- the guard ----------------------------------------------------------

    def test_guard_bounds_a_forced_nested_loop(self):
        expected = self.assert_join_costs_full_scans(MEMBERS_BY_APPROVED, 10 ** 6)
        _, orders_requests = self.full_read("orders")
        _, members_requests = self.full_read("members")
        forced = ("SET enable_hashjoin = off;\nSET enable_mergejoin = off;\n"
                  "SET enable_material = off;\n")
        text = query(forced + "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) " + MEMBERS_BY_APPROVED)
        self.assertIn("Nested Loop", text)
        guard = re.search(r"Wix guard: after (\d+) look-up requests, the table was read "
                          r"once \((\d+) requests\)", text)
        self.assertIsNotNone(guard, text)
        look_ups, read = int(guard.group(1)), int(guard.group(2))
        self.assertEqual(look_ups, orders_requests + 1)
        self.assertEqual(read, orders_requests)
        # the same answer, for at most one read plus the look-ups before it
        out, n = self.requests(forced + MEMBERS_BY_APPROVED)
        self.assertEqual(int(out.split()[-1]), expected)
        self.assertLessEqual(n, members_requests + 2 * orders_requests + 1)

    def test_guard_keeps_other_conditions(self):
        """The copy is filtered by every pushed condition, join value and
        constant alike, with the same rows as a plan without the guard."""
        sql = ("SELECT m.id, o.number FROM wix.members m JOIN wix.orders o "
               "ON o.buyer_member_id = m.id AND o.payment_status = 'PAID' "
               "WHERE m.status = 'APPROVED' ORDER BY 1, 2")
        expected = query(sql)
        forced = ("SET enable_hashjoin = off;\nSET enable_mergejoin = off;\n"
                  "SET enable_material = off;\n")
        self.assertIn("Nested Loop", query(forced + "EXPLAIN " + sql))
        self.assertEqual(query(forced + sql), expected)
        self.assertGreater(len(expected.splitlines()), 50)


if __name__ == "__main__":
    unittest.main(verbosity=2)
