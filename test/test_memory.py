"""Memory does not grow with failures (issue 5, requirement 6).

In ONE backend, after a warm-up: 2,000 failing queries (HTTP 500 without
retries, malformed and truncated JSON, a wrongly typed body, a value that
does not convert, a Wix error answering an admin call, a retried 503 that
runs out) grow the backend's memory by less than 5 MB; so do 2,000
successful small scans and admin reads; so do 150 requests cancelled in
flight by statement_timeout.  Measured from /proc/<pid>/status
of pg_backend_pid(): VmRSS, and RssAnon (the backend's private memory,
without the shared buffers it happens to touch).

Runs its own emulator.  About 30 seconds.
"""
import unittest

from fixtures import Emulator, create_database, items_of, server_sql
from wixfault import EmulatorProcess, Session

DB = "wix_memory"
LIMIT_KB = 5 * 1024
ROUNDS = 2000
WARMUP = 200
CANCELS = 150

emu_proc = None
E = None


def status_kb(pid):
    values = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "RssAnon"):
                values[key] = int(rest.split()[0])
    return values


def setUpModule():
    global emu_proc, E
    emu_proc = EmulatorProcess("--orders", "120", "--members", "30", "--products", "10",
                               "--bookings", "10", "--seed", "13")
    E = Emulator(emu_proc.url)
    create_database(DB, server_sql("emu", emu_proc.url, schema="wix"), """
        CREATE FOREIGN TABLE wix.bad_number (id text, n integer OPTIONS (path 'name'))
          SERVER emu OPTIONS (resource 'products');
    """, requests_per_minute=None)


def tearDownModule():
    if emu_proc is not None:
        emu_proc.stop()


# (statement, expected error text) of each failing query; the faults below
# make every one of them fail, every time
FAILING = [
    ("SELECT id FROM wix.orders", "failed with HTTP 500"),
    ("SELECT id FROM wix.members", "truncated JSON in Wix API response"),
    ("SELECT id FROM wix.bookings", 'non-array "extendedBookings"'),
    ("SELECT n FROM wix.bad_number", 'column "n"'),
    ("SELECT wix_api('POST', '/members/v1/members/no-such-member/approve', '{}'::jsonb, 'emu')",
     "failed with HTTP 404"),
    ("SELECT wix_api('GET', '/ecom/v1/orders/retry-me', NULL, 'emu')",
     "failed with HTTP 503 after 2 attempts"),
    ("SELECT wix_api('GET', '/ecom/v1/orders/html-page', NULL, 'emu')",
     "invalid JSON in Wix API response"),
]


def inject_failures():
    E.clear_faults()
    big = 1000000
    E.fault(match="/ecom/v1/orders/search", status=500, times=big)
    E.fault(match="/members/v1/members/query", status=200, body='{"members": [{"id": "x"', times=big)
    E.fault(match="/_api/bookings-reader/v2/extended-bookings/query", status=200,
            body='{"extendedBookings": {"id": 1}}', times=big)
    E.fault(match="/ecom/v1/orders/retry-me", status=503, body="<html>Unavailable</html>",
            headers={"Content-Type": "text/html"}, times=big)
    E.fault(match="/ecom/v1/orders/html-page", status=200, body="<html>Hello</html>",
            headers={"Content-Type": "text/html"}, times=big)


class MemoryTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.s = Session(DB)
        cls.s.run("SET wix_admin.requests_per_minute = 0; SET wix_admin.max_retries = 0;"
                  "SET wix_admin.retry_base_delay = 1; SET wix_admin.retry_max_delay = 1;")
        cls.order = items_of(E.data("orders"), "orders")[0]
        cls.s.run("SELECT count(*) FROM wix.products")   # catalog version, once

    @classmethod
    def tearDownClass(cls):
        cls.s.close()
        E.clear_faults()

    def failing_batch(self, n):
        """n failing statements, round robin; every one must fail."""
        stmts = []
        for i in range(n):
            sql, _ = FAILING[i % len(FAILING)]
            if "retry-me" in sql:
                sql = "SET wix_admin.max_retries = 1; %s; SET wix_admin.max_retries = 0" % sql
            stmts.append(sql + ";")
        res = self.s.run("\n".join(stmts), timeout=600)
        errors = [l for l in res.stderr.splitlines() if l.startswith("ERROR:")]
        self.assertEqual(len(errors), n, res.stderr[-2000:])
        for sql, message in FAILING:
            self.assertIn(message, res.stderr)
        self.assertNotIn("server closed the connection", res.stderr)
        return res

    def succeeding_batch(self, n):
        number = self.order["number"]
        stmts = []
        for i in range(n):
            if i % 2 == 0:
                stmts.append("SELECT id FROM wix.orders WHERE number = %s;" % number)
            else:
                stmts.append("SELECT wix_api('GET', '/ecom/v1/orders/%s', NULL, 'emu')->'order'->>'id';"
                             % self.order["id"])
        res = self.s.run("\n".join(stmts), timeout=600)
        self.assertNotIn("ERROR:", res.stderr)
        self.assertEqual(res.rows, [[self.order["id"]]] * n)
        return res

    def assertGrowth(self, before, after, what):
        for key in ("VmRSS", "RssAnon"):
            grown = after[key] - before[key]
            print("%s: %s %d kB -> %d kB (%+d kB)" % (what, key, before[key], after[key], grown))
            self.assertLess(grown, LIMIT_KB, "%s grew %s by %d kB" % (what, key, grown))

    def test_1_failing_queries(self):
        inject_failures()
        self.failing_batch(WARMUP)
        before = status_kb(self.s.pid)
        self.failing_batch(ROUNDS)
        after = status_kb(self.s.pid)
        self.assertGrowth(before, after, "%d failing queries" % ROUNDS)
        self.assertEqual(self.s.value("SELECT 1"), "1")

    def test_2_successful_scans(self):
        E.clear_faults()
        self.succeeding_batch(WARMUP)
        before = status_kb(self.s.pid)
        self.succeeding_batch(ROUNDS)
        after = status_kb(self.s.pid)
        self.assertGrowth(before, after, "%d successful scans and reads" % ROUNDS)

    def test_3_cancelled_requests(self):
        # statement_timeout aborts a transfer in flight: the longjmp path
        E.clear_faults()
        E.fault(match="/ecom/v1/orders/search", hang_ms=1000, times=1000000)
        sql = ("SET statement_timeout = '30ms'; SELECT id FROM wix.orders;"
               "RESET statement_timeout;")

        def batch(n):
            res = self.s.run("\n".join([sql] * n), timeout=600)
            errors = [l for l in res.stderr.splitlines() if l.startswith("ERROR:")]
            self.assertEqual(len(errors), n, res.stderr[-2000:])
            self.assertIn("canceling statement due to statement timeout", res.stderr)

        batch(20)
        before = status_kb(self.s.pid)
        batch(CANCELS)
        after = status_kb(self.s.pid)
        E.clear_faults()
        self.assertGrowth(before, after, "%d cancelled requests" % CANCELS)
        self.assertEqual(self.s.value("SELECT count(*) > 0 FROM wix.orders"), "t")


if __name__ == "__main__":
    unittest.main(verbosity=2)
