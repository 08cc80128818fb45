"""Reliability under faults (issue 5): every fault the emulator can inject,
and what wix_admin must do about it.

* retries: 429/5xx and dropped connections are retried, the scan returns
  the same rows as a clean run; when retries run out, an ERROR naming the
  last status; Retry-After is honoured; admin actions are retried only when
  Wix cannot have acted;
* rate limit: requests are spaced by a token bucket (the site's, shared by
  all backends, when preloaded; test_shared_limit.py tests the sharing);
* timeouts and cancel: statement_timeout, pg_cancel_backend, request and
  connect timeouts end a hung request quickly, and the session stays usable;
* bad responses: malformed, truncated, HTML, empty, wrongly typed,
  oversized bodies and paging that never ends are clear ERRORs;
* token lifecycle: a token that expires mid-scan is renewed; ALTER USER
  MAPPING / ALTER SERVER take effect on the next query.

The suite runs its own two emulators (one of them only for hung requests,
whose late log entries must not reach the other tests), so it needs only
pg_virtualenv and the installed extension.  About a minute.
"""
import json
import math
import threading
import time
import unittest

import subprocess

from fixtures import (API_KEY, CLIENT_SECRET, KEY, OAUTH, Emulator, create_database,
                      items_of, new_mapping_sql, psql, server_sql)
from wixfault import (Blackhole, EmulatorProcess, Proxy, Result, Session,
                      free_port)

DB = "wix_faults"
SEARCH = "/ecom/v1/orders/search"
MEMBERS_QUERY = "/members/v1/members/query"
TOKEN = "/oauth2/token"
ORDERS_SQL = "SELECT id, number, total, status, payment_status FROM %s.orders ORDER BY id"

# Retries without long waits; the limiter off unless a test is about it.
FAST = {"wix_admin.retry_base_delay": "10", "wix_admin.retry_max_delay": "50",
        "wix_admin.requests_per_minute": "0"}

main_emu = None     # EmulatorProcess: every test but the hung requests
hang_emu = None     # EmulatorProcess: hung requests only
E = None            # control API of main_emu
H = None            # control API of hang_emu
BASELINE = None     # ORDERS_SQL over wix (main_emu) without faults
PAGES = None        # search pages of that scan
MEMBERS = None      # member count of main_emu


def settings_sql(settings):
    return "".join("SET %s = '%s';\n" % (k, v) for k, v in (settings or {}).items())


def once(sql, settings=None, db=DB, timeout=120):
    """Run SQL in a new backend; a Result even when it fails."""
    cmd = ["psql", "-X", "-q", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1",
           "-v", "VERBOSITY=verbose", "-d", db]
    t0 = time.monotonic()
    proc = subprocess.run(cmd, input="\\set VERBOSITY verbose\n" + settings_sql(settings) + sql,
                          capture_output=True, text=True, timeout=timeout)
    elapsed = time.monotonic() - t0
    rows = [line.split("\t") for line in proc.stdout.splitlines() if line != ""]
    return Result(rows, proc.stderr, elapsed)


def ok(sql, settings=None, db=DB):
    res = once(sql, settings, db)
    if res.error:
        raise AssertionError("unexpected error from %s:\n%s" % (sql, res.stderr))
    return res.rows


def inject_on_page(em, path, page, **fault):
    """The fault on the page-th request to path (earlier ones pass)."""
    if page > 1:
        em.fault(match=path, times=page - 1)     # no status: served normally
    em.fault(match=path, **fault)


def by_seq(reqs):
    return sorted(reqs, key=lambda r: r["seq"])


def make_server(name, url, options=None, api_key=False, tables=("orders", "members")):
    """A server on url with a mapping for the current user and its tables
    in a schema of the same name (both replaced when they exist)."""
    psql("DROP SCHEMA IF EXISTS {n} CASCADE;\nDROP SERVER IF EXISTS {n} CASCADE;\n".format(n=name) +
         server_sql(name, url, KEY if api_key else OAUTH, schema=name, tables=tables,
                    **(options or {})), db=DB)


def setUpModule():
    global main_emu, hang_emu, E, H, BASELINE, PAGES, MEMBERS
    main_emu = EmulatorProcess("--orders", "400", "--members", "1150", "--products", "10",
                               "--bookings", "10", "--seed", "7")
    hang_emu = EmulatorProcess("--orders", "150", "--members", "20", "--products", "5",
                               "--bookings", "5", "--seed", "8")
    E = Emulator(main_emu.url)
    H = Emulator(hang_emu.url)
    # the rate limiter keeps its default: the tests set it (FAST) or test it
    create_database(DB, requests_per_minute=None, servers=(
        server_sql("wix", main_emu.url, schema="wix",
                   tables=("orders", "members", "products", "bookings")) +
        server_sql("hang", hang_emu.url, schema="hang", tables=("orders", "members"))))
    visible = [o for o in items_of(E.data("orders"), "orders") if o["status"] != "INITIALIZED"]
    PAGES = math.ceil(len(visible) / 100)
    MEMBERS = len(items_of(E.data("members"), "members"))
    BASELINE = ok(ORDERS_SQL % "wix", FAST)
    assert len(BASELINE) == len(visible) and PAGES >= 4, (len(BASELINE), PAGES)


def tearDownModule():
    for em in (main_emu, hang_emu):
        if em is not None:
            em.stop()


class FaultTestCase(unittest.TestCase):
    def setUp(self):
        for em in (E, H):
            em.clear_faults()
            em.reset_log()
            em.config(token_ttl=14400, rate_limit_per_minute=0)

    tearDown = setUp

    def assertError(self, res, sqlstate, fragment=None):
        """res failed with an ERROR of that SQLSTATE (or one of a tuple),
        whose text holds fragment, and returned no rows."""
        self.assertIsNotNone(res.error, "expected an error, got rows %r" % res.rows[:3])
        states = sqlstate if isinstance(sqlstate, tuple) else (sqlstate,)
        self.assertIn(res.sqlstate, states, res.stderr)
        if fragment:
            self.assertIn(fragment, res.stderr)
        self.assertNotIn("server closed the connection", res.stderr)
        self.assertNotIn("terminated abnormally", res.stderr)


# ----------------------------------------------------------------- retries

class RetryTest(FaultTestCase):

    def test_retryable_statuses_mid_scan_give_the_same_rows(self):
        for status in (429, 500, 502, 503, 504):
            with self.subTest(status=status):
                self.setUp()
                inject_on_page(E, SEARCH, 3, status=status, times=2)
                self.assertEqual(ok(ORDERS_SQL % "wix", FAST), BASELINE)
                log = by_seq(E.requests(SEARCH))
                self.assertEqual([r["status"] for r in log],
                                 [200, 200, status, status] + [200] * (PAGES - 2))
                # the failed page is asked again with the same cursor
                self.assertEqual(log[2]["body"], log[3]["body"])
                self.assertEqual(log[3]["body"], log[4]["body"])

    def test_retry_after_is_honoured(self):
        for status in (429, 503):
            with self.subTest(status=status):
                self.setUp()
                s = Session(DB)
                try:
                    s.run(settings_sql(FAST) + "SET wix_admin.retry_max_delay = '30s';")
                    self.assertEqual(s.value("SELECT count(*) FROM wix.orders"), str(len(BASELINE)))
                    # without Retry-After the retry comes after ~10 ms
                    inject_on_page(E, SEARCH, 2, status=status, times=1)
                    quick = s.run("SELECT count(*) FROM wix.orders")
                    self.assertEqual(quick.rows, [[str(len(BASELINE))]], quick.stderr)
                    self.assertLess(quick.elapsed, 0.9)
                    inject_on_page(E, SEARCH, 2, status=status, times=1,
                                   headers={"Retry-After": "1"})
                    slow = s.run(ORDERS_SQL % "wix")
                    self.assertEqual(slow.rows, BASELINE, slow.stderr)
                    self.assertGreaterEqual(slow.elapsed, 1.0)
                    self.assertLess(slow.elapsed, 5.0)
                finally:
                    s.close()

    def test_retry_after_is_capped_by_retry_max_delay(self):
        inject_on_page(E, SEARCH, 2, status=429, times=1, headers={"Retry-After": "3600"})
        res = once(ORDERS_SQL % "wix", dict(FAST, **{"wix_admin.retry_max_delay": "200"}))
        self.assertEqual(res.rows, BASELINE, res.stderr)
        self.assertLess(res.elapsed, 5.0)

    def test_retries_run_out_with_the_default_limit(self):
        E.fault(match=SEARCH, status=503, times=20)
        res = once(ORDERS_SQL % "wix", FAST)
        self.assertError(res, "HV00M", "ERROR:  HV00M: Wix API request POST %s failed with "
                         "HTTP 503 after 6 attempts: " % SEARCH)
        self.assertEqual(len(E.requests(SEARCH)), 6)

    def test_retries_run_out_for_each_status(self):
        for status in (429, 500, 502, 504):
            with self.subTest(status=status):
                self.setUp()
                inject_on_page(E, SEARCH, 2, status=status, times=20)
                res = once(ORDERS_SQL % "wix", dict(FAST, **{"wix_admin.max_retries": "2"}))
                self.assertError(res, "HV00M", "Wix API request POST %s failed with HTTP %d "
                                 "after 3 attempts" % (SEARCH, status))
                self.assertEqual([r["status"] for r in by_seq(E.requests(SEARCH))],
                                 [200, status, status, status])

    def test_error_names_the_last_status(self):
        for status in (500, 502, 429, 504):
            E.fault(match=SEARCH, status=status, times=1)
        res = once(ORDERS_SQL % "wix", dict(FAST, **{"wix_admin.max_retries": "3"}))
        self.assertError(res, "HV00M", "failed with HTTP 504 after 4 attempts")

    def test_server_option_max_retries_beats_the_guc(self):
        make_server("retry1", main_emu.url, {"max_retries": "1"})
        E.fault(match=SEARCH, status=503, times=20)
        res = once(ORDERS_SQL % "retry1", dict(FAST, **{"wix_admin.max_retries": "5"}))
        self.assertError(res, "HV00M", "failed with HTTP 503 after 2 attempts")
        self.assertEqual(len(E.requests(SEARCH)), 2)
        psql("ALTER SERVER retry1 OPTIONS (SET max_retries '0')", db=DB)
        E.reset_log()
        res = once(ORDERS_SQL % "retry1", FAST)
        self.assertError(res, "HV00M", "failed with HTTP 503: ")
        self.assertEqual(len(E.requests(SEARCH)), 1)

    def test_guc_max_retries_zero(self):
        E.fault(match=SEARCH, status=502, times=20)
        res = once(ORDERS_SQL % "wix", dict(FAST, **{"wix_admin.max_retries": "0"}))
        self.assertError(res, "HV00M", "failed with HTTP 502: ")
        self.assertEqual(len(E.requests(SEARCH)), 1)

    def test_client_errors_are_not_retried(self):
        for status, sqlstate in ((400, "HV00L"), (404, "HV00L"), (409, "HV00L"), (403, "HV00N")):
            with self.subTest(status=status):
                self.setUp()
                E.fault(match=SEARCH, status=status, times=5)
                res = once(ORDERS_SQL % "wix", FAST)
                self.assertError(res, sqlstate, "failed with HTTP %d: " % status)
                self.assertEqual(len(E.requests(SEARCH)), 1)

    def test_connection_refused_is_retried(self):
        make_server("late", "http://127.0.0.1:1", api_key=True)
        proxy = Proxy(main_emu.port, delay=0.8)
        try:
            psql("ALTER SERVER late OPTIONS (SET base_url '%s')" % proxy.url, db=DB)
            res = once(ORDERS_SQL % "late",
                       {"wix_admin.retry_base_delay": "100", "wix_admin.retry_max_delay": "300",
                        "wix_admin.max_retries": "30", "wix_admin.requests_per_minute": "0"})
        finally:
            proxy.close()
        self.assertIsNone(res.error, res.stderr)
        self.assertEqual(res.rows, BASELINE)
        self.assertGreater(res.elapsed, 0.5)
        self.assertEqual(len(E.requests(SEARCH)), PAGES)

    def test_connection_refused_runs_out(self):
        make_server("dead", "http://127.0.0.1:%d" % free_port(), api_key=True)
        res = once(ORDERS_SQL % "dead", dict(FAST, **{"wix_admin.max_retries": "2"}))
        self.assertError(res, "HV00N", "could not reach Wix for POST %s after 3 attempts" % SEARCH)

    def test_connection_reset_is_retried_for_reads(self):
        proxy = Proxy(main_emu.port, reset_first=2)
        try:
            make_server("flaky", proxy.url, api_key=True)
            res = once(ORDERS_SQL % "flaky", FAST)
        finally:
            proxy.close()
        self.assertIsNone(res.error, res.stderr)
        self.assertEqual(res.rows, BASELINE)
        self.assertEqual(proxy.reset_requests, 2)


# ----------------------------------------------------------------- admin actions

class AdminRetryTest(FaultTestCase):

    @classmethod
    def setUpClass(cls):
        members = items_of(E.data("members"), "members")
        cls.members = [m["id"] for m in members
                       if m.get("loginEmail") != "owner@wix-emulator.test"]
        cls.order = items_of(E.data("orders"), "orders")[0]["id"]
        cls.next_member = 0

    def member(self):
        type(self).next_member += 1
        return self.members[self.next_member]

    def approve_path(self, mid):
        return "/members/v1/members/%s/approve" % mid

    def assertNotRetried(self, res, status):
        self.assertError(res, "HV00M", "failed with HTTP %d: " % status)
        detail = [l for l in res.stderr.splitlines() if l.startswith("DETAIL:")]
        self.assertTrue(detail, res.stderr)
        self.assertRegex(detail[0], r"; not retried because Wix may have acted\.?$")

    def test_admin_429_is_retried(self):
        mid = self.member()
        E.fault(match=self.approve_path(mid), status=429, times=2)
        rows = ok("SELECT wix_approve_member('%s', server => 'wix')->>'status'" % mid, FAST)
        self.assertEqual(rows, [["APPROVED"]])
        self.assertEqual([r["status"] for r in by_seq(E.requests(self.approve_path(mid)))],
                         [429, 429, 200])

    def test_admin_5xx_is_not_retried(self):
        for status in (500, 502, 503, 504):
            with self.subTest(status=status):
                self.setUp()
                mid = self.member()
                E.fault(match=self.approve_path(mid), status=status, times=5)
                res = once("SELECT wix_approve_member('%s', server => 'wix')" % mid, FAST)
                self.assertNotRetried(res, status)
                self.assertEqual(len(E.requests(self.approve_path(mid))), 1)

    def test_wix_api_post_503_is_not_retried(self):
        mid = self.member()
        E.fault(match=self.approve_path(mid), status=503, times=5)
        res = once("SELECT wix_api('POST', '%s', '{}'::jsonb, 'wix')" % self.approve_path(mid), FAST)
        self.assertNotRetried(res, 503)
        self.assertEqual(len(E.requests(self.approve_path(mid))), 1)

    def test_wix_api_post_429_is_retried(self):
        mid = self.member()
        E.fault(match=self.approve_path(mid), status=429, times=1)
        rows = ok("SELECT wix_api('POST', '%s', '{}'::jsonb, 'wix')->'member'->>'status'"
                  % self.approve_path(mid), FAST)
        self.assertEqual(rows, [["APPROVED"]])
        self.assertEqual(len(E.requests(self.approve_path(mid))), 2)

    def test_wix_api_get_is_retried_like_a_read(self):
        path = "/ecom/v1/orders/%s" % self.order
        E.fault(match=path, status=503, times=2)
        rows = ok("SELECT wix_api('GET', '%s', NULL, 'wix')->'order'->>'id'" % path, FAST)
        self.assertEqual(rows, [[self.order]])
        self.assertEqual([r["status"] for r in by_seq(E.requests(path))], [503, 503, 200])

    def test_admin_connection_refused_is_retried(self):
        mid = self.member()
        make_server("late_admin", "http://127.0.0.1:1", api_key=True)
        proxy = Proxy(main_emu.port, delay=0.8)
        try:
            psql("ALTER SERVER late_admin OPTIONS (SET base_url '%s')" % proxy.url, db=DB)
            res = once("SELECT wix_approve_member('%s', server => 'late_admin')->>'status'" % mid,
                       {"wix_admin.retry_base_delay": "100", "wix_admin.retry_max_delay": "300",
                        "wix_admin.max_retries": "30"})
        finally:
            proxy.close()
        self.assertIsNone(res.error, res.stderr)
        self.assertEqual(res.rows, [["APPROVED"]])
        self.assertEqual(len(E.requests(self.approve_path(mid))), 1)

    def test_admin_connection_reset_after_sending_is_not_retried(self):
        mid = self.member()
        proxy = Proxy(main_emu.port, reset_first=1)
        try:
            make_server("reset_admin", proxy.url, api_key=True)
            res = once("SELECT wix_approve_member('%s', server => 'reset_admin')" % mid, FAST)
        finally:
            proxy.close()
        self.assertError(res, "HV00N", "could not reach Wix for POST %s" % self.approve_path(mid))
        self.assertIn("not retried because Wix may have acted", res.stderr)
        self.assertEqual(proxy.reset_requests, 1)
        self.assertEqual(proxy.connections, 1)


# ----------------------------------------------------------------- rate limit

class ArrivalRecorder:
    """Polls the emulator's request log and notes when each request shows up
    (the log has no timestamps; entries appear when the answer is sent)."""

    def __init__(self, em):
        self.em = em
        self.times = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._poll, daemon=True)
        self.thread.start()

    def _poll(self):
        while not self.stop.is_set():
            now = time.monotonic()
            for r in self.em.requests():
                self.times.setdefault(r["seq"], now)
            time.sleep(0.03)

    def finish(self):
        self.stop.set()
        self.thread.join()
        now = time.monotonic()
        for r in self.em.requests():
            self.times.setdefault(r["seq"], now)
        return [self.times[k] for k in sorted(self.times)]


class RateLimitTest(FaultTestCase):
    PAGES = None

    def scan_members(self, table, settings):
        rec = ArrivalRecorder(E)
        res = once("SELECT count(*) FROM %s.members" % table, settings)
        arrivals = rec.finish()
        self.assertEqual(res.rows, [[str(MEMBERS)]], res.stderr)
        return res, arrivals

    def assertSpaced(self, arrivals, per_minute, burst=10, slack=0.25):
        """No more than burst + per_minute * t / 60 requests in any t seconds."""
        gap = 60.0 / per_minute
        for i in range(len(arrivals)):
            for j in range(i + 1, len(arrivals)):
                self.assertGreaterEqual(arrivals[j] - arrivals[i], (j - i - burst) * gap - slack,
                                        "requests %d..%d came too fast" % (i, j))

    def test_requests_per_minute_spaces_a_long_scan(self):
        pages = math.ceil(MEMBERS / 100)
        self.assertGreaterEqual(pages + 1, 12, "needs more requests than the burst")
        E.config(rate_limit_per_minute=60)
        psql(new_mapping_sql("wix"), db=DB)     # so that the scan asks for a token
        res, arrivals = self.scan_members("wix", {"wix_admin.requests_per_minute": "60"})
        self.assertEqual(len(arrivals), pages + 1)        # the token and the pages
        self.assertSpaced(arrivals, 60)
        self.assertGreaterEqual(res.elapsed, (pages + 1 - 10) * 1.0 - 0.25)
        self.assertEqual([r for r in E.requests() if r["status"] == 429], [])

    def test_no_limit_is_not_spaced(self):
        res, _ = self.scan_members("wix", {"wix_admin.requests_per_minute": "0"})
        self.assertLess(res.elapsed, 2.0)

    def test_server_option_requests_per_minute_beats_the_guc(self):
        make_server("slow", main_emu.url, {"requests_per_minute": "60"})
        res, arrivals = self.scan_members("slow", {"wix_admin.requests_per_minute": "0"})
        self.assertSpaced(arrivals, 60)
        self.assertGreaterEqual(res.elapsed, (len(arrivals) - 10) * 1.0 - 0.25)

    def test_rate_limited_scan_errors_instead_of_short_result(self):
        E.config(rate_limit_per_minute=5)
        res = once("SELECT count(*) FROM wix.members",
                   {"wix_admin.requests_per_minute": "0", "wix_admin.max_retries": "1",
                    "wix_admin.retry_base_delay": "10", "wix_admin.retry_max_delay": "100"})
        self.assertError(res, "HV00M", "failed with HTTP 429 after 2 attempts")


# ----------------------------------------------------------------- timeouts, cancel

class TimeoutCancelTest(FaultTestCase):
    COUNT = None

    @classmethod
    def setUpClass(cls):
        cls.COUNT = str(len([o for o in items_of(H.data("orders"), "orders")
                             if o["status"] != "INITIALIZED"]))

    def session(self):
        s = Session(DB)
        self.addCleanup(s.close)
        s.run(settings_sql(FAST))
        self.assertEqual(s.value("SELECT count(*) FROM hang.orders"), self.COUNT)
        return s

    def assertUsable(self, s):
        res = s.run("RESET statement_timeout; SELECT count(*) FROM hang.orders")
        self.assertIsNone(res.error, res.stderr)
        self.assertEqual(res.rows, [[self.COUNT]])

    def test_statement_timeout_interrupts_a_hung_request(self):
        s = self.session()
        H.fault(match=SEARCH, times=1, hang_ms=30000)
        res = s.run("SET statement_timeout = '1s'; SELECT count(*) FROM hang.orders")
        self.assertError(res, "57014", "canceling statement due to statement timeout")
        self.assertLess(res.elapsed, 2.0)
        self.assertUsable(s)

    def test_pg_cancel_backend_interrupts_a_hung_request(self):
        s = self.session()
        H.fault(match=SEARCH, times=1, hang_ms=30000)
        box = {}
        t = threading.Thread(target=lambda: box.setdefault(
            "res", s.run("SELECT count(*) FROM hang.orders")))
        started = time.monotonic()
        t.start()
        time.sleep(0.5)
        cancelled_at = time.monotonic()
        self.assertEqual(psql("SELECT pg_cancel_backend(%d)" % s.pid, db=DB), [["t"]])
        t.join(30)
        res = box["res"]
        self.assertError(res, "57014", "canceling statement due to user request")
        self.assertLess(started + res.elapsed - cancelled_at, 1.5)
        self.assertUsable(s)

    def test_cancel_interrupts_the_retry_wait(self):
        cases = (("Retry-After", {"headers": {"Retry-After": "30"}},
                  "SET wix_admin.retry_max_delay = '60s';"),
                 ("backoff", {}, "SET wix_admin.retry_base_delay = '20s'; "
                                 "SET wix_admin.retry_max_delay = '60s';"))
        for name, fault, setting in cases:
            with self.subTest(wait=name):
                s = self.session()
                H.fault(match=SEARCH, status=503, times=20, **fault)
                res = s.run(setting + "SET statement_timeout = '1s'; SELECT count(*) FROM hang.orders")
                self.assertError(res, "57014", "canceling statement due to statement timeout")
                self.assertLess(res.elapsed, 2.0)
                H.clear_faults()
                self.assertUsable(s)

    def test_cancel_interrupts_the_rate_limit_wait(self):
        s = Session(DB)
        self.addCleanup(s.close)
        res = s.run("SET wix_admin.requests_per_minute = 2; SET statement_timeout = '1s';"
                    "SELECT count(*) FROM hang.orders")
        self.assertError(res, "57014", "canceling statement due to statement timeout")
        self.assertLess(res.elapsed, 2.0)

    def test_server_request_timeout(self):
        make_server("hang_t1", hang_emu.url, {"request_timeout": "1"})
        H.fault(match=SEARCH, times=10, hang_ms=30000)
        res = once("SELECT count(*) FROM hang_t1.orders", FAST)
        self.assertError(res, "HV00N", "Wix API request POST %s timed out" % SEARCH)
        self.assertGreater(res.elapsed, 0.9)
        self.assertLess(res.elapsed, 1.9)     # one timeout, not retried

    def test_guc_request_timeout_without_server_option(self):
        H.fault(match=SEARCH, times=10, hang_ms=30000)
        res = once("SELECT count(*) FROM hang.orders",
                   dict(FAST, **{"wix_admin.request_timeout": "1"}))
        self.assertError(res, "HV00N", "Wix API request POST %s timed out" % SEARCH)
        self.assertGreater(res.elapsed, 0.9)
        self.assertLess(res.elapsed, 1.9)     # one timeout, not retried

    def test_server_request_timeout_beats_the_guc(self):
        make_server("hang_t2", hang_emu.url, {"request_timeout": "2"})
        H.fault(match=SEARCH, times=10, hang_ms=30000)
        res = once("SELECT count(*) FROM hang_t2.orders",
                   dict(FAST, **{"wix_admin.request_timeout": "1"}))
        self.assertError(res, "HV00N", "timed out")
        self.assertGreater(res.elapsed, 1.8)
        self.assertLess(res.elapsed, 2.9)

    def test_connect_timeout(self):
        hole = Blackhole()
        try:
            make_server("hole", hole.url, api_key=True)
            make_server("hole1", hole.url, {"connect_timeout": "1"}, api_key=True)
            for table, settings in (("hole", {"wix_admin.connect_timeout": "1"}),
                                    ("hole1", {"wix_admin.connect_timeout": "30"})):
                with self.subTest(server=table):
                    res = once("SELECT count(*) FROM %s.orders" % table,
                               dict(FAST, **settings, **{"wix_admin.max_retries": "0"}))
                    self.assertError(res, "HV00N", "Wix API request POST %s timed out" % SEARCH)
                    self.assertLess(res.elapsed, 2.5)
        finally:
            hole.close()


# ----------------------------------------------------------------- bad responses

def fake_orders(n, prefix="fake"):
    return [{"id": "%s-%d" % (prefix, i), "number": str(900000 + i), "status": "APPROVED"}
            for i in range(n)]


class BadResponseTest(FaultTestCase):
    """Each bad answer is an ERROR with a clear message, no rows, and the
    same session's next queries work."""

    @classmethod
    def setUpClass(cls):
        cls.s = Session(DB)
        cls.s.run(settings_sql(FAST) + "SET wix_admin.max_retries = 1;")

    @classmethod
    def tearDownClass(cls):
        cls.s.close()

    def check(self, sql, sqlstates, fragment=None):
        res = self.s.run(sql)
        self.assertError(res, sqlstates, fragment)
        E.clear_faults()
        after = self.s.run("SELECT 1; SELECT count(*) FROM wix.orders")
        self.assertIsNone(after.error, after.stderr)
        self.assertEqual(after.rows, [["1"], [str(len(BASELINE))]])
        return res

    def test_malformed_json(self):
        cases = (('{"orders": [', "truncated JSON in Wix API response to %s" % SEARCH),
                 ('{"orders": [}', "invalid JSON in Wix API response to %s" % SEARCH),
                 ('Service temporarily unavailable', "invalid JSON in Wix API response"),
                 ('{"orders": []} {"orders": []}', "invalid JSON in Wix API response"),
                 ('[]', "is not a JSON object"),
                 ('"orders"', "is not a JSON object"))
        # json-c's errors, whether or not the whole item (raw) is selected
        for body, message in cases:
            for sql in ("SELECT id FROM wix.orders", "SELECT raw FROM wix.orders"):
                with self.subTest(body=body, sql=sql):
                    inject_on_page(E, SEARCH, 2, status=200, body=body, times=1)
                    self.check(sql, "HV000", message)

    def test_truncated_body(self):
        # the connection drops mid-body: retried (a read), then an error
        E.fault(match=SEARCH, truncate=True, times=10)
        self.check("SELECT id FROM wix.orders", ("HV000", "HV00N"))
        E.fault(match=SEARCH, status=200, body=json.dumps({"orders": fake_orders(50)}),
                truncate=True, times=10)
        self.check("SELECT id FROM wix.orders", ("HV000", "HV00N"))
        # once only: the retry gets the whole page, the rows are right
        inject_on_page(E, SEARCH, 2, truncate=True, times=1)
        res = self.s.run(ORDERS_SQL % "wix")
        self.assertIsNone(res.error, res.stderr)
        self.assertEqual(res.rows, BASELINE)

    def test_html_error_pages(self):
        html = ("<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head>"
                "<body><h1>Bad Gateway</h1><p>upstream error</p></body></html>")
        headers = {"Content-Type": "text/html"}
        inject_on_page(E, SEARCH, 2, status=200, body=html, headers=headers, times=1)
        self.check("SELECT id FROM wix.orders", "HV000", "invalid JSON in Wix API response to %s" % SEARCH)
        E.fault(match=SEARCH, status=502, body=html, headers=headers, times=10)
        self.check("SELECT id FROM wix.orders", "HV00M", "failed with HTTP 502 after 2 attempts")
        # a passing HTML 502 is retried like any 502
        inject_on_page(E, SEARCH, 2, status=502, body=html, headers=headers, times=1)
        res = self.s.run(ORDERS_SQL % "wix")
        self.assertEqual(res.rows, BASELINE, res.stderr)

    def test_empty_body(self):
        inject_on_page(E, SEARCH, 2, status=200, body="", times=1)
        self.check("SELECT id FROM wix.orders", "HV000", "empty Wix API response to %s" % SEARCH)
        E.fault(match=SEARCH, status=503, body="", times=10)
        self.check("SELECT id FROM wix.orders", "HV00M", "failed with HTTP 503 after 2 attempts")

    def test_wrong_json_types(self):
        cases = (({"orders": {}}, "HV000", 'non-array "orders"'),
                 ({"orders": "none"}, "HV000", 'non-array "orders"'),
                 ({"orders": [1, 2]}, "HV000", "not an object"),
                 ({"orders": [None]}, "HV000", "not an object"),
                 # hasNext says more, but there is no usable cursor: not the end
                 ({"orders": fake_orders(100), "metadata": {"count": 100, "hasNext": True,
                                                            "cursors": {"next": 5}}}, "HV000", None),
                 ({"orders": fake_orders(100), "metadata": {"count": 100, "hasNext": True,
                                                            "cursors": "abc"}}, "HV000", None))
        for body, sqlstate, message in cases:
            for sql in ("SELECT id FROM wix.orders", "SELECT raw FROM wix.orders"):
                with self.subTest(body=json.dumps(body)[:80], sql=sql):
                    E.fault(match=SEARCH, status=200, body=json.dumps(body), times=1)
                    self.check(sql, sqlstate, message)
        # a value of the wrong type for its column
        body = {"orders": [{"id": "x", "number": {}}], "metadata": {"hasNext": False}}
        E.fault(match=SEARCH, status=200, body=json.dumps(body), times=1)
        self.check("SELECT number FROM wix.orders", "HV004", 'column "number"')
        body = {"orders": [{"id": "x", "createdDate": [1]}], "metadata": {"hasNext": False}}
        E.fault(match=SEARCH, status=200, body=json.dumps(body), times=1)
        self.check("SELECT created_date FROM wix.orders", "HV004", 'column "created_date"')

    def test_date_forms(self):
        """Dates convert exactly as PostgreSQL's timestamptz input does, in
        Wix's own form (a fast path) and any other, whether the whole item
        (raw) is selected or not."""
        forms = ["2024-02-29T23:59:59Z", "2024-05-01T10:20:30.1Z",
                 "2024-05-01T10:20:30.123Z", "2024-05-01T10:20:30.123456Z",
                 "2024-05-01T10:20:30.1234567Z", "2024-05-01T12:20:30.5+02:00",
                 "1999-12-31T23:59:59.999Z", "0099-01-01T00:00:00Z",
                 "2024-05-01 10:20:30Z", "2024-05-01T10:20:30.Z"]
        orders = [{"id": "d-%d" % i, "number": str(i), "status": "APPROVED", "createdDate": f}
                  for i, f in enumerate(forms)]
        body = json.dumps({"orders": orders, "metadata": {"hasNext": False}})
        expected = [self.s.value("SET TimeZone = 'UTC'; SELECT %s::timestamptz"
                                 % ("'" + f + "'")) for f in forms]
        for sql in ("SELECT created_date FROM wix.orders",
                    "SELECT created_date, raw FROM wix.orders"):
            with self.subTest(sql=sql):
                E.fault(match=SEARCH, status=200, body=body, times=1)
                res = self.s.run("SET TimeZone = 'UTC'; " + sql)
                self.assertIsNone(res.error, res.stderr)
                self.assertEqual([r[0] for r in res.rows], expected)
        # impossible dates are errors naming the column, on both paths
        for bad in ("2023-02-29T00:00:00Z", "2024-13-01T00:00:00Z", "2024-05-01T24:00:01Z"):
            for sql in ("SELECT created_date FROM wix.orders",
                        "SELECT created_date, raw FROM wix.orders"):
                with self.subTest(bad=bad, sql=sql):
                    body = {"orders": [{"id": "x", "createdDate": bad}],
                            "metadata": {"hasNext": False}}
                    E.fault(match=SEARCH, status=200, body=json.dumps(body), times=1)
                    self.check(sql, ("22008", "22007"), 'column "created_date"')

    def test_body_over_the_server_size_cap(self):
        make_server("small", main_emu.url, {"max_response_size": "10000"})
        res = self.s.run("SELECT id FROM small.orders")
        self.assertError(res, "HV000", "Wix API response to POST %s exceeds 10000 bytes" % SEARCH)
        self.assertEqual(len(E.requests(SEARCH)), 1)
        # a one-order page fits
        res = self.s.run("SELECT id FROM small.orders ORDER BY created_date DESC LIMIT 1")
        self.assertIsNone(res.error, res.stderr)
        self.assertEqual(len(res.rows), 1)
        self.assertEqual(self.s.value("SELECT 1"), "1")

    def test_body_over_the_guc_size_cap(self):
        res = self.s.run("SET wix_admin.max_response_size = 10000; SELECT id FROM wix.orders")
        self.assertError(res, "HV000", "Wix API response to POST %s exceeds 10000 bytes" % SEARCH)
        res = self.s.run("SET wix_admin.max_response_size = '2MB'; " + ORDERS_SQL % "wix")
        self.assertEqual(res.rows, BASELINE, res.stderr)
        self.s.run("RESET wix_admin.max_response_size")

    def test_the_same_cursor_forever(self):
        body = {"orders": fake_orders(3), "metadata": {"count": 3, "hasNext": True,
                                                       "cursors": {"next": "same-cursor"}}}
        E.fault(match=SEARCH, status=200, body=json.dumps(body), times=50)
        res = self.check("SELECT id FROM wix.orders", "HV000")
        self.assertTrue("returned the same cursor twice" in res.stderr or
                        "did not end after" in res.stderr, res.stderr)

    def test_new_cursors_forever_hit_max_pages(self):
        for i in range(12):
            body = {"orders": fake_orders(3, "p%d" % i),
                    "metadata": {"count": 3, "hasNext": True, "cursors": {"next": "cursor-%d" % i}}}
            E.fault(match=SEARCH, status=200, body=json.dumps(body), times=1)
        res = self.s.run("SET wix_admin.max_pages = 5; SELECT id FROM wix.orders")
        self.assertError(res, "HV000", "Wix API paging for %s did not end after 5 pages" % SEARCH)
        self.assertLessEqual(len(E.requests(SEARCH)), 6)
        self.s.run("RESET wix_admin.max_pages")

    def test_offset_paging_forever_hits_max_pages(self):
        body = {"members": [{"id": "m-%d" % i} for i in range(100)],
                "metadata": {"count": 100, "offset": 0, "total": 10000000}}
        E.fault(match=MEMBERS_QUERY, status=200, body=json.dumps(body), times=20)
        res = self.s.run("SET wix_admin.max_pages = 5; SELECT id FROM wix.members")
        self.s.run("RESET wix_admin.max_pages")
        self.assertError(res, "HV000", "Wix API paging for %s did not end after 5 pages"
                         % MEMBERS_QUERY)
        self.assertLessEqual(len(E.requests(MEMBERS_QUERY)), 6)

    def test_max_pages_boundary(self):
        res = self.s.run("SET wix_admin.max_pages = %d; " % PAGES + ORDERS_SQL % "wix")
        self.assertEqual(res.rows, BASELINE, res.stderr)
        res = self.s.run("SET wix_admin.max_pages = %d; " % (PAGES - 1) + ORDERS_SQL % "wix")
        self.s.run("RESET wix_admin.max_pages")
        self.assertError(res, "HV000", "did not end after %d pages" % (PAGES - 1))


ORDER_COLUMNS = ("id, number, created_date, updated_date, purchased_date, status, "
                 "payment_status, fulfillment_status, archived, currency, buyer_email, "
                 "buyer_member_id, buyer_contact_id, subtotal, shipping, tax, discount, "
                 "total, balance, channel_type, line_items, billing_info, shipping_info")


class OrdersPageTestCase(FaultTestCase):
    """A session of its own, and orders search answers of one page."""

    @classmethod
    def setUpClass(cls):
        cls.s = Session(DB)
        cls.s.run(settings_sql(FAST))

    @classmethod
    def tearDownClass(cls):
        cls.s.close()

    def page(self, orders):
        return '{"orders":[%s],"metadata":{"count":%d,"hasNext":false}}' % (
            ",".join(orders), len(orders))


class WholeItemPathTest(OrdersPageTestCase):
    """A scan that selects raw reads each page straight into jsonb (its own
    parser, no json-c); every other scan goes through json-c.  Both give the
    same values, and raw is exactly what PostgreSQL's jsonb input makes of
    the item's text; what the fast parser declines goes to json-c."""

    # item texts as Wix could send them, spelled out by hand
    TRICKY = [
        '{"id":"a-escapes","number":"1","status":"APPROVED","buyerInfo":{"email":'
        '"q\\"b\\\\s\\/ \\b\\f\\n\\r\\t \\u00e9\\u20AC\\ud83d\\ude00 é€😀"}}',
        '{ "id" : "b-space" ,\n\t"number" : "2" , "status":"APPROVED" ,\r\n'
        ' "lineItems" : [ ] , "billingInfo" : { } , "currency" : "" }',
        '{"id":"c-numbers","number":3,"status":"APPROVED","archived":false,'
        '"priceSummary":{"total":{"amount":"1.50"},"tax":{"amount":"0"}},'
        '"lineItems":[0,-0,1.50,-12.5e3,1E+2,123456789012345678,-123456789012345678,'
        '0.1,1e-7,2.5E-3]}',
        '{"id":"d-duplicates","number":"4","status":"PENDING","status":"APPROVED",'
        '"billingInfo":{"a":1,"a":{"b":2},"a":[3]}}',
        '{"id":"e-many-keys","number":"5","status":"APPROVED","shippingInfo":{'
        + ",".join('"k%02d":%d' % (39 - i, i) for i in range(40))
        + ',"":"empty key","kk":"x","k":"y","k05":"again"}}',
        '{"id":"f-nested","number":"6","status":"APPROVED","lineItems":'
        '[{"a":[[[]]],"b":{"c":{"d":[true,false,null,{}]}}}],"archived":true}',
        '{"id":"g-deep","number":"7","status":"APPROVED","lineItems":'
        + "[" * 28 + "1" + "]" * 28 + "}",     # with the page, json-c's limit
    ]
    # what the fast parser leaves to json-c: an escaped NUL, a lone
    # surrogate, an integer beyond int64
    DECLINED = [
        '{"id":"h-nul","number":"8","status":"APPROVED","lineItems":["x\\u0000y"]}',
        '{"id":"i-surrogate","number":"9","status":"APPROVED","lineItems":["\\ud800x"]}',
        '{"id":"j-bigint","number":"10","status":"APPROVED","lineItems":[12345678901234567890]}',
    ]

    def scan(self, items, sql):
        E.fault(match=SEARCH, status=200, body=self.page(items), times=1)
        res = self.s.run(sql)
        self.assertIsNone(res.error, res.stderr)
        self.assertEqual(len(res.rows), len(items), sql)
        return res.rows

    def test_raw_is_what_jsonb_input_makes_of_the_item(self):
        rows = self.scan(self.TRICKY, "SELECT id, raw FROM wix.orders ORDER BY id")
        for (order_id, raw), text in zip(rows, self.TRICKY):
            with self.subTest(id=order_id):
                expected = self.s.value("SELECT %s::jsonb" % quote(text))
                self.assertEqual(raw, expected)

    def test_both_paths_give_the_same_columns(self):
        items = self.TRICKY       # one declined item sends the whole page to json-c
        json_c = self.scan(items, "SELECT to_jsonb(t) FROM (SELECT %s FROM wix.orders) t "
                                  "ORDER BY t.id" % ORDER_COLUMNS)
        whole = self.scan(items, "SELECT to_jsonb(t) - 'raw' FROM (SELECT %s, raw "
                                 "FROM wix.orders) t ORDER BY t.id" % ORDER_COLUMNS)
        self.assertEqual(whole, json_c)
        # spot checks: strings unescaped, money as written, the last duplicate wins
        rows = {r["id"]: r for r in (json.loads(w[0], parse_float=str) for w in whole)}
        self.assertEqual(rows["a-escapes"]["buyer_email"],
                         'q"b\\s/ \b\f\n\r\t \u00e9\u20ac\U0001F600 \u00e9\u20ac\U0001F600')
        self.assertEqual(rows["c-numbers"]["total"], "1.50")
        self.assertEqual(rows["c-numbers"]["line_items"][:6], [0, 0, "1.50", -12500, 100,
                                                              123456789012345678])
        self.assertEqual(rows["d-duplicates"]["status"], "APPROVED")
        self.assertEqual(rows["d-duplicates"]["billing_info"], {"a": [3]})
        self.assertEqual(rows["e-many-keys"]["shipping_info"]["k05"], "again")
        self.assertEqual(len(rows["e-many-keys"]["shipping_info"]), 43)

    def test_which_pages_take_the_fast_path(self):
        debug = "SET client_min_messages = debug2; "
        for items, sql, message in (
                (self.TRICKY, "SELECT raw FROM wix.orders",
                 "%d items read straight into jsonb" % len(self.TRICKY)),
                (self.TRICKY[:2] + self.DECLINED[:1], "SELECT raw FROM wix.orders",
                 "page left to json-c"),
                (self.TRICKY, "SELECT id FROM wix.orders", None)):
            with self.subTest(sql=sql, items=len(items)):
                E.fault(match=SEARCH, status=200, body=self.page(items), times=1)
                res = self.s.run(debug + sql + "; RESET client_min_messages")
                self.assertIsNone(res.error, res.stderr)
                if message:
                    self.assertIn(message, res.stderr)
                else:
                    self.assertNotIn("jsonb", res.stderr)
                    self.assertNotIn("json-c", res.stderr)

    def test_declined_items_read_as_json_c_reads_them(self):
        json_c = self.scan(self.DECLINED, "SELECT id, line_items FROM wix.orders ORDER BY id")
        whole = self.scan(self.DECLINED,
                          "SELECT id, line_items, raw -> 'lineItems' FROM wix.orders ORDER BY id")
        self.assertEqual([r[:2] for r in whole], json_c)
        self.assertEqual([r[1] for r in whole], [r[2] for r in whole])
        self.assertEqual(json_c[2][1], "[12345678901234567890]")

    def test_nesting_beyond_json_c_is_an_error_on_both_paths(self):
        deep = ('{"id":"too-deep","lineItems":' + "[" * 29 + "1" + "]" * 29 + "}")
        for sql in ("SELECT id FROM wix.orders", "SELECT raw FROM wix.orders"):
            with self.subTest(sql=sql):
                E.fault(match=SEARCH, status=200, body=self.page([deep]), times=1)
                self.assertError(self.s.run(sql), "HV000", "nesting too deep")

    def test_text_columns_spell_values_as_json_c(self):
        """A column that needs json-c's spelling of a value (a number,
        boolean or object into text) parses that item's text with json-c."""
        psql("""
            DROP FOREIGN TABLE IF EXISTS wix.orders_spelled;
            CREATE FOREIGN TABLE wix.orders_spelled (
              id text, number text, archived text,
              line_items text OPTIONS (path 'lineItems'),
              items_json json OPTIONS (path 'lineItems'),
              whole jsonb OPTIONS (path '$'),
              raw jsonb OPTIONS (path '$')
            ) SERVER wix OPTIONS (resource 'orders');""", db=DB)
        items = self.TRICKY[2:3] + self.TRICKY[5:6]
        json_c = self.scan(items, "SELECT id, number, archived, line_items, items_json "
                                  "FROM wix.orders_spelled ORDER BY id")
        whole = self.scan(items, "SELECT id, number, archived, line_items, items_json, whole, "
                                 "raw FROM wix.orders_spelled ORDER BY id")
        self.assertEqual([r[:-2] for r in whole], json_c)
        # a second "$" column is the whole item too
        self.assertEqual([r[-1] for r in whole], [r[-2] for r in whole])
        self.assertEqual(json_c[0][1:3], ["3", "false"])
        self.assertTrue(json_c[0][3].startswith("[0,0,1.50,-12.5e3,1E+2,"), json_c[0][3])

    def test_bookings_items_under_their_root(self):
        bookings = [{"booking": {"id": "bk-%d" % i, "status": "CONFIRMED",
                                 "startDate": "2024-05-01T10:00:00Z",
                                 "totalParticipants": i, "revision": str(i)},
                     "allowedActions": {"cancel": True}} for i in range(3)]
        path = "/_api/bookings-reader/v2/extended-bookings/query"
        body = json.dumps({"extendedBookings": bookings,
                           "pagingMetadata": {"count": 3, "hasNext": False}})
        E.fault(match=path, status=200, body=body, times=1)
        res = self.s.run("SELECT id, total_participants, revision, raw FROM wix.bookings ORDER BY id")
        self.assertIsNone(res.error, res.stderr)
        self.assertEqual([r[:3] for r in res.rows], [["bk-%d" % i, str(i), str(i)] for i in range(3)])
        for row, b in zip(res.rows, bookings):
            self.assertEqual(row[3], self.s.value("SELECT %s::jsonb" % quote(json.dumps(b["booking"]))))
        # an item without its root is not an object to read
        body = json.dumps({"extendedBookings": [{"allowedActions": {}}],
                           "pagingMetadata": {"count": 1, "hasNext": False}})
        for sql in ("SELECT id FROM wix.bookings", "SELECT raw FROM wix.bookings"):
            with self.subTest(sql=sql):
                E.fault(match=path, status=200, body=body, times=1)
                self.assertError(self.s.run(sql), "HV000", "holds an item that is not an object")


LINE_ITEM_COLUMNS = ("order_id, line_item_id, order_number, order_created_date, product_name, "
                     "quantity, unit_price, currency, number_text, quantity_text, extra, "
                     "extra_text, options, options_text, options_json, order_total, "
                     "first_item_id, archived, archived_text, buyer, buyer_text, contact, "
                     "variant_or_id, order_raw, above_order")


class WholeRowPathTest(OrdersPageTestCase):
    """Rows inside items (order_line_items): a scan that selects raw reads
    each page straight into jsonb too, one jsonb per line item, the order's
    columns read from its parsed tree.  Both paths give the same values, raw
    is what jsonb input makes of the line item's text, and what the fast
    parser declines (or reports as an error) goes to json-c."""

    # orders as Wix could send them, spelled out by hand: escapes, numbers
    # as written, nested and duplicate keys, many keys, an order without
    # line items, the order's number as a JSON number and as a string
    ORDERS = [
        '{"id":"a-\\u00e9sc\\"apes","number":1,"createdDate":"2024-05-01T10:20:30.123Z",'
        '"currency":"EU\\u0052","status":"APPROVED","archived":false,'
        '"buyerInfo":{"email":"x@y","contactId":null},"priceSummary":{"total":{"amount":"1.50"}},'
        '"lineItems":[{"id":"a1","productName":{"original":"q\\"b\\\\s\\/ \\b\\f\\n\\r\\t '
        '\\u00e9\\u20AC\\ud83d\\ude00 \u00e9\u20ac"},"quantity":2,"price":{"amount":"10.50"},'
        '"catalogReference":{"catalogItemId":"c1","options":{"variantId":"v1","a":[[[]]],'
        '"b":{"c":[true,false,null,{}]}}},"extra":-12.5e3},'
        '{"id":"a2-first","quantity":3,"extra":123456789012345678,"id":"a2"}]}',
        '{ "id" : "b-space" ,\n\t"number" : "2" , "createdDate":"2024-05-02T00:00:00Z",\r\n'
        ' "currency":"USD", "archived" : true, "buyerInfo":{"contactId":"ct-9"},'
        ' "lineItems" : [ { "id" : "b1" , "extra" : -0 } , {"id":"b2","extra":1E+2,'
        '"catalogReference":{"options":{"variantId":null}}},'
        ' {"id":"b3","extra":0.1,"quantity":null,"catalogReference":{"options":[1,2.50]}} ] }',
        '{"id":"c-none","number":"3","status":"APPROVED","lineItems":[]}',
        '{"id":"d-many-keys","number":"4","lineItems":[{"id":"d1",'
        + ",".join('"k%02d":%d' % (39 - i, i) for i in range(40))
        + ',"":"empty key","k05":"again","extra":2.5E-3}]}',
    ]
    ROWS = 6
    # a line item the fast parser leaves to json-c: an escaped NUL
    DECLINED = ('{"id":"e-nul","number":"5","lineItems":[{"id":"e1","productName":'
                '{"original":"x\\u0000y"}},'
                '{"id":"e2","extra":12345678901234567890}]}')

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        psql("""
            DROP FOREIGN TABLE IF EXISTS wix.line_items_spelled;
            CREATE FOREIGN TABLE wix.line_items_spelled (
              order_id text, line_item_id text, order_number bigint,
              order_created_date timestamptz, product_name text, quantity integer,
              unit_price numeric, currency text,
              number_text text OPTIONS (path '^number'),
              quantity_text text OPTIONS (path 'quantity'),
              extra numeric OPTIONS (path 'extra'),
              extra_text text OPTIONS (path 'extra'),
              options jsonb OPTIONS (path 'catalogReference.options'),
              options_text text OPTIONS (path 'catalogReference.options'),
              options_json json OPTIONS (path 'catalogReference.options'),
              order_total numeric OPTIONS (path '^priceSummary.total.amount'),
              first_item_id text OPTIONS (path '^lineItems.0.id'),
              archived boolean OPTIONS (path '^archived'),
              archived_text text OPTIONS (path '^archived'),
              buyer jsonb OPTIONS (path '^buyerInfo'),
              buyer_text text OPTIONS (path '^buyerInfo'),
              contact text OPTIONS (path '^buyerInfo.contactId|buyerInfo.email'),
              variant_or_id text OPTIONS (path 'catalogReference.options.variantId|id'),
              order_raw jsonb OPTIONS (path '^$'),
              above_order text OPTIONS (path '^^id'),
              raw jsonb OPTIONS (path '$')
            ) SERVER wix OPTIONS (resource 'order_line_items');""", db=DB)

    def scan(self, orders, sql, debug=False):
        """Rows of sql over a page of orders, and what the scan logged."""
        E.fault(match=SEARCH, status=200, body=self.page(orders), times=1)
        if debug:
            sql = "SET client_min_messages = debug2; %s; RESET client_min_messages" % sql
        res = self.s.run(sql)
        self.assertIsNone(res.error, res.stderr)
        return res.rows, res.stderr

    def both_paths(self, orders):
        """The rows of the json-c path and of the scan selecting raw (its raw
        left out), and what the latter logged."""
        json_c, _ = self.scan(orders, "SELECT to_jsonb(t) FROM (SELECT %s FROM "
                                      "wix.line_items_spelled) t ORDER BY t.line_item_id"
                              % LINE_ITEM_COLUMNS)
        whole, log = self.scan(orders, "SELECT to_jsonb(t) - 'raw' FROM (SELECT %s, raw FROM "
                                       "wix.line_items_spelled) t ORDER BY t.line_item_id"
                               % LINE_ITEM_COLUMNS, debug=True)
        return json_c, whole, log

    def test_both_paths_give_the_same_columns(self):
        json_c, whole, log = self.both_paths(self.ORDERS)
        self.assertIn("%d items read straight into jsonb, %d rows"
                      % (len(self.ORDERS), self.ROWS), log)
        self.assertEqual(len(json_c), self.ROWS)
        self.assertEqual(whole, json_c)
        # spot checks: strings unescaped, numbers as written, json-c's
        # spelling in text columns, the order's columns from its level
        rows = {r["line_item_id"]: r for r in (json.loads(w[0], parse_float=str) for w in whole)}
        self.assertEqual(sorted(rows), ["a1", "a2", "b1", "b2", "b3", "d1"])
        a1, a2, b1, b3 = rows["a1"], rows["a2"], rows["b1"], rows["b3"]
        self.assertEqual(a1["order_id"], 'a-\u00e9sc"apes')
        self.assertEqual(a1["product_name"],
                         'q"b\\s/ \b\f\n\r\t \u00e9\u20ac\U0001F600 \u00e9\u20ac')
        self.assertEqual(a1["currency"], "EUR")
        self.assertEqual((a1["order_number"], a1["number_text"], b1["number_text"]), (1, "1", "2"))
        self.assertEqual((a1["extra"], a1["extra_text"]), (-12500, "-12.5e3"))
        self.assertEqual((a2["extra"], a2["quantity_text"]), (123456789012345678, "3"))
        self.assertEqual((b1["extra"], rows["b2"]["extra_text"], b3["extra"]), (0, "1E+2", "0.1"))
        self.assertEqual(rows["d1"]["extra"], "0.0025")
        self.assertEqual(a1["options"], {"variantId": "v1", "a": [[[]]],
                                         "b": {"c": [True, False, None, {}]}})
        self.assertEqual(b3["options_text"], "[1,2.50]")
        self.assertEqual((a1["order_total"], a1["first_item_id"], b3["first_item_id"]),
                         ("1.50", "a1", "b1"))
        self.assertEqual((a1["archived"], a1["archived_text"], b1["archived_text"]),
                         (False, "false", "true"))
        # a null is absent to json-c: "a|b" reads b
        self.assertEqual((a1["contact"], b1["contact"]), ("x@y", "ct-9"))
        self.assertEqual([rows[i]["variant_or_id"] for i in ("a1", "b2", "b3")],
                         ["v1", "b2", "b3"])
        self.assertEqual(a1["buyer"], {"email": "x@y", "contactId": None})
        self.assertEqual(a1["order_raw"]["lineItems"][1]["id"], "a2")
        self.assertIsNone(a1["above_order"])
        self.assertIsNone(b3["quantity"])

    def test_raw_is_what_jsonb_input_makes_of_the_line_item(self):
        rows, _ = self.scan(self.ORDERS, "SELECT line_item_id, raw FROM wix.line_items_spelled "
                                         "ORDER BY line_item_id")
        self.assertEqual(len(rows), self.ROWS)
        for line_item_id, raw in rows:
            with self.subTest(id=line_item_id):
                order = next(o for o in self.ORDERS if ('"%s"' % line_item_id) in o)
                expected = self.s.value("SELECT elem FROM jsonb_array_elements(%s::jsonb -> "
                                        "'lineItems') elem WHERE elem ->> 'id' = %s"
                                        % (quote(order), quote(line_item_id)))
                self.assertEqual(raw, expected)

    def test_a_declined_page_reads_as_json_c_reads_it(self):
        orders = self.ORDERS[:2] + [self.DECLINED]
        json_c, whole, log = self.both_paths(orders)
        self.assertIn("page left to json-c", log)
        self.assertNotIn("read straight into jsonb", log)
        self.assertEqual(len(json_c), 7)
        self.assertEqual(whole, json_c)
        rows = {r["line_item_id"]: r for r in (json.loads(w[0]) for w in whole)}
        self.assertEqual(rows["e1"]["product_name"], "x")    # json-c ends it at the NUL
        self.assertEqual(rows["e2"]["extra_text"], "12345678901234567890")

    def test_malformed_line_items_are_the_json_c_errors(self):
        """What collect_rows reports, the fast parser leaves to json-c: the
        same error whether raw is selected or not."""
        for line_items, message, detail in (
                ("", 'has an item without the array "lineItems"',
                 'The key "lineItems" is missing.'),
                (',"lineItems":null', 'has an item without the array "lineItems"',
                 'The key "lineItems" is missing.'),
                (',"lineItems":{"id":"x"}', 'has an item without the array "lineItems"',
                 "Its value is a JSON object."),
                (',"lineItems":[{"id":"x"},"y"]',
                 'has a "lineItems" element that is not an object', None)):
            order = '{"id":"o","number":"1"%s}' % line_items
            errors = []
            for sql in ("SELECT line_item_id FROM wix.line_items_spelled",
                        "SELECT raw FROM wix.line_items_spelled"):
                with self.subTest(sql=sql, line_items=line_items):
                    E.fault(match=SEARCH, status=200, body=self.page(self.ORDERS[:1] + [order]),
                            times=1)
                    res = self.s.run(sql)
                    self.assertError(res, "HV000", "Wix API response to %s %s" % (SEARCH, message))
                    if detail:
                        self.assertIn("DETAIL:  " + detail, res.stderr)
                    errors.append([l for l in res.stderr.splitlines()
                                   if l.startswith(("ERROR:", "DETAIL:"))])
            self.assertEqual(errors[0], errors[1])


def quote(text):
    return "'" + text.replace("'", "''") + "'"

# ----------------------------------------------------------------- tokens, ALTER

class TokenLifecycleTest(FaultTestCase):
    def setUp(self):
        super().setUp()
        # a new user mapping: the scan asks for the first token too
        psql(new_mapping_sql("wix"), db=DB)

    def test_401_mid_scan_renews_the_token(self):
        inject_on_page(E, SEARCH, 3, status=401, times=1,
                       body=json.dumps({"message": "UNAUTHENTICATED: token expired",
                                        "details": {"applicationError": {"code": "UNAUTHENTICATED"}}}))
        self.assertEqual(ok(ORDERS_SQL % "wix", FAST), BASELINE)
        self.assertEqual(len(E.requests(TOKEN)), 2)
        self.assertEqual([r["status"] for r in by_seq(E.requests(SEARCH))].count(401), 1)

    def test_token_revoked_mid_scan(self):
        E.fault(match=SEARCH, times=PAGES, delay_ms=400)
        timer = threading.Timer(0.9, E.expire_tokens)
        timer.start()
        try:
            rows = ok(ORDERS_SQL % "wix", FAST)
        finally:
            timer.cancel()
        self.assertEqual(rows, BASELINE)
        self.assertEqual(len(E.requests(TOKEN)), 2)
        self.assertEqual([r["status"] for r in E.requests(SEARCH)].count(401), 1)

    def test_token_expiring_during_a_long_scan(self):
        E.config(token_ttl=2)
        E.fault(match=SEARCH, times=PAGES + 2, delay_ms=800)
        res = once(ORDERS_SQL % "wix", FAST)
        self.assertIsNone(res.error, res.stderr)
        self.assertEqual(res.rows, BASELINE)
        self.assertGreater(res.elapsed, 2.5)
        self.assertGreaterEqual(len(E.requests(TOKEN)), 2)

    def test_alter_user_mapping_takes_effect_on_the_next_query(self):
        make_server("um", main_emu.url)
        s = Session(DB)
        self.addCleanup(s.close)
        s.run(settings_sql(FAST))
        self.assertEqual(s.value("SELECT count(*) FROM um.orders"), str(len(BASELINE)))
        psql("ALTER USER MAPPING FOR CURRENT_USER SERVER um OPTIONS (SET client_secret 'not-it')",
             db=DB)
        res = s.run("SELECT count(*) FROM um.orders")
        self.assertError(res, "HV00N", "Wix API request POST /oauth2/token failed with HTTP")
        psql("ALTER USER MAPPING FOR CURRENT_USER SERVER um OPTIONS (SET client_secret '%s')"
             % CLIENT_SECRET, db=DB)
        self.assertEqual(s.value("SELECT count(*) FROM um.orders"), str(len(BASELINE)))
        # to an API key
        psql("ALTER USER MAPPING FOR CURRENT_USER SERVER um OPTIONS "
             "(DROP client_id, DROP client_secret, ADD api_key '%s')" % API_KEY, db=DB)
        E.reset_log()
        self.assertEqual(s.value("SELECT count(*) FROM um.orders"), str(len(BASELINE)))
        self.assertEqual({r["headers"]["authorization"] for r in E.requests(SEARCH)}, {"api_key"})

    def test_alter_server_takes_effect_on_the_next_query(self):
        make_server("sv", main_emu.url)
        s = Session(DB)
        self.addCleanup(s.close)
        s.run(settings_sql(FAST))
        self.assertEqual(s.value("SELECT count(*) FROM sv.orders"), str(len(BASELINE)))
        psql("ALTER SERVER sv OPTIONS (SET base_url '%s')" % hang_emu.url, db=DB)
        hang_count = len([o for o in items_of(H.data("orders"), "orders")
                          if o["status"] != "INITIALIZED"])
        self.assertEqual(s.value("SELECT count(*) FROM sv.orders"), str(hang_count))
        self.assertTrue(H.requests(SEARCH))
        psql("ALTER SERVER sv OPTIONS (SET base_url '%s')" % main_emu.url, db=DB)
        # a retry setting changed by ALTER SERVER applies at once
        E.fault(match=SEARCH, status=503, times=1)
        self.assertEqual(s.value("SELECT count(*) FROM sv.orders"), str(len(BASELINE)))
        psql("ALTER SERVER sv OPTIONS (ADD max_retries '0')", db=DB)
        E.fault(match=SEARCH, status=503, times=1)
        res = s.run("SELECT count(*) FROM sv.orders")
        self.assertError(res, "HV00M", "failed with HTTP 503: ")


if __name__ == "__main__":
    unittest.main(verbosity=2)
