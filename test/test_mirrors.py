"""Local mirrors (issue 15): create_mirror, refresh_mirror (incremental by
updated_date, full reads, resuming after a failure), wix_admin.mirrors and
its progress, concurrent refreshes, privileges, a refresh killed,
terminated, canceled or racing changes, and (preloaded) the background
worker refreshing due mirrors as their owners, on a private emulator with
1,200 orders and 300 members, with the emulator's request log as the
judge."""
import math
import os
import re
import signal
import subprocess
import time
import unittest

from fixtures import (Emulator, PsqlError, create_database, create_login_role, psql,
                      psql_error, server_sql, wix)
from wixfault import EmulatorProcess

DB = "wix_mirrors"
ORDERS_SEARCH = "/ecom/v1/orders/search"


def query(sql, user=None):
    return psql(sql, db=DB, user=user)


def value(sql, user=None):
    return query(sql, user)[0][0]


def differing_rows(mirror, source):
    """Rows in one of the two tables and not in the other."""
    return int(value("SELECT count(*) FROM ((TABLE %s EXCEPT ALL TABLE %s) UNION ALL "
                     "(TABLE %s EXCEPT ALL TABLE %s)) d" % (mirror, source, source, mirror)))


def mirror_status(mirror):
    """The mirror's row of wix_admin.mirrors, as a dict of text."""
    cols = ["state", "rows", "last_requests", "last_changed", "last_error",
            "incremental_by", "watermark"]
    row = query("SELECT %s FROM wix_admin.mirrors WHERE mirror = '%s'::regclass"
                % (", ".join(cols), mirror))[0]
    return dict(zip(cols, row))


def wait_for(condition, what, timeout=20):
    """Poll condition() until it is true."""
    deadline = time.time() + timeout
    while not condition():
        if time.time() > deadline:
            raise AssertionError("%s: not within %d s" % (what, timeout))
        time.sleep(0.2)


def psql_session():
    """psql in the background, reading SQL from its stdin."""
    return subprocess.Popen(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", DB],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


class EmulatorSiteCase(unittest.TestCase):
    """A private emulator of EMULATOR_ARGS (Catalog V3) for the class, and
    for each test a new database with server "emu" imported into wix."""
    EMULATOR_ARGS = ()

    @classmethod
    def setUpClass(cls):
        cls.proc = EmulatorProcess(*cls.EMULATOR_ARGS, "--bookings", "5", "--catalog", "V3")
        cls.emu = Emulator(cls.proc.url)

    @classmethod
    def tearDownClass(cls):
        cls.proc.stop()

    def setUp(self):
        self.emu.reset()
        create_database(DB, servers=server_sql("emu", self.proc.url, schema="wix",
                                               catalog_version="V3"))


class Mirrors(EmulatorSiteCase):
    EMULATOR_ARGS = ("--orders", "1200", "--members", "300", "--products", "60")

    def setUp(self):
        super().setUp()
        # these tests refresh when they say so; MirrorWorker lets the worker
        psql("ALTER DATABASE %s SET wix_admin.refresh_mirrors_in_worker = off" % DB)

    def wix_requests(self, prefix="/"):
        return len([r for r in self.emu.requests(prefix) if "/oauth" not in r["path"]])

    def slow_refresh(self, mirror):
        """CALL refresh_mirror(mirror) in the background, Wix answering each
        orders page after the first batch's 10 in 2 s, once that batch is
        committed: the session and its backend's pid."""
        self.emu.fault(match=ORDERS_SEARCH, after=10, delay_ms=2000, times=1000)
        session = psql_session()
        session.stdin.write("SELECT pg_backend_pid();\nCALL wix_admin.refresh_mirror('%s');\n"
                            % mirror)
        session.stdin.close()
        pid = int(session.stdout.readline())
        wait_for(lambda: query("SELECT state, progress_rows FROM wix_admin.mirrors "
                               "WHERE mirror = '%s'::regclass" % mirror)[0] == ["running", "1000"],
                 "the first batch")
        return session, pid

    def finish(self, session):
        """Wait for a background session; its stderr."""
        session.wait(timeout=60)
        err = session.stderr.read()
        session.stdout.close()
        session.stderr.close()
        return err

    def refresh(self, mirror="NULL", full=False):
        """CALL refresh_mirror; the Wix requests it made."""
        self.emu.reset_log()
        query("CALL wix_admin.refresh_mirror(%s%s)"
              % (mirror if mirror == "NULL" else "'%s'" % mirror, ", full => true" if full else ""))
        return self.wix_requests()

    # -- first load --------------------------------------------------------

    def test_first_refresh_holds_the_foreign_tables_rows(self):
        for table in ("orders", "members", "order_line_items", "coupons"):
            self.assertEqual(value("SELECT wix_admin.create_mirror('wix.%s')" % table),
                             "wix_mirror." + table)
        # created, not loaded: every mirror is due
        self.assertEqual(value("SELECT count(*) FROM wix_mirror.orders"), "0")
        self.refresh()
        for table in ("orders", "members", "order_line_items", "coupons"):
            self.assertEqual(differing_rows("wix_mirror." + table, "wix." + table), 0, table)
            status = mirror_status("wix_mirror." + table)
            self.assertEqual(status["state"], "idle", table)
            self.assertEqual(status["rows"], value("SELECT count(*) FROM wix.%s" % table))
        self.assertGreater(int(value("SELECT count(*) FROM wix_mirror.orders")), 1000)
        self.assertEqual(mirror_status("wix_mirror.orders")["incremental_by"], "updated_date")
        self.assertEqual(mirror_status("wix_mirror.order_line_items")["incremental_by"],
                         "order_updated_date")
        self.assertEqual(mirror_status("wix_mirror.coupons")["incremental_by"], "")
        # keys and date indexes
        self.assertEqual(value("SELECT pg_get_constraintdef(oid) FROM pg_constraint "
                               "WHERE conrelid = 'wix_mirror.order_line_items'::regclass "
                               "AND contype = 'p'"), "PRIMARY KEY (order_id, line_item_id)")
        self.assertEqual(value("SELECT string_agg(a.attname, ',' ORDER BY a.attname) "
                               "FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
                               "AND a.attnum = i.indkey[0] WHERE i.indrelid = "
                               "'wix_mirror.orders'::regclass AND NOT i.indisprimary"),
                         "created_date,purchased_date,updated_date")
        # Wix JSON is compressed with lz4 (Debian's PostgreSQL has it), not pglz
        self.assertEqual(value("SELECT string_agg(attname || '=' || attcompression::text, ',' "
                               "ORDER BY attname) FROM pg_attribute WHERE attrelid = "
                               "'wix_mirror.orders'::regclass AND atttypid = 'jsonb'::regtype"),
                         "billing_info=l,line_items=l,raw=l,shipping_info=l")
        # nothing is due any more
        self.assertEqual(self.refresh(), 0)

    def test_every_resource_mirrors_its_foreign_table(self):
        """Every table IMPORT FOREIGN SCHEMA makes: the first refresh and an
        incremental one after it hold the foreign table's rows."""
        tables = [r[0] for r in query("SELECT c.relname FROM pg_class c JOIN pg_foreign_table f "
                                      "ON f.ftrelid = c.oid WHERE c.relnamespace = 'wix'::regnamespace "
                                      "ORDER BY 1")]
        self.assertEqual(len(tables), int(value("SELECT count(*) FROM wix_admin.mirror_keys")))
        for table in tables:
            query("SELECT wix_admin.create_mirror('wix.%s')" % table)
        self.refresh()
        for table in tables:
            self.assertEqual(differing_rows("wix_mirror." + table, "wix." + table), 0, table)
            self.assertGreater(int(value("SELECT count(*) FROM wix_mirror.%s" % table)), 0, table)
        for table in tables:
            self.refresh("wix_mirror." + table)
            self.assertEqual(differing_rows("wix_mirror." + table, "wix." + table), 0, table)
            self.assertEqual(mirror_status("wix_mirror." + table)["state"], "idle", table)
        # how each is refreshed: what Wix filters and sorts (README, "BI at scale")
        self.assertEqual(dict(query("SELECT resource, coalesce(incremental_read, 'full') "
                                    "FROM wix_admin.mirrors")),
                         {"abandoned_checkouts": "batches", "booking_services": "full",
                          "bookings": "batches", "contacts": "all_changed", "coupons": "full",
                          "inventory_items": "batches", "members": "newest_first",
                          "order_fulfillments": "all_changed", "order_line_items": "batches",
                          "order_payments": "all_changed", "order_refunds": "all_changed",
                          "orders": "batches", "pricing_plan_orders": "full", "products": "batches"})

    # -- incremental refreshes ---------------------------------------------

    def test_incremental_refresh_reads_what_changed(self):
        query("SELECT wix_admin.create_mirror('wix.orders')")
        self.refresh("wix_mirror.orders")
        # no change: one request
        self.assertEqual(self.refresh("wix_mirror.orders"), 1)
        self.assertEqual(mirror_status("wix_mirror.orders")["last_requests"], "1")
        self.assertEqual(mirror_status("wix_mirror.orders")["last_changed"], "0")
        # k changes: about ceil(k/100) + 1
        k = 150
        ids = [r[0] for r in query("SELECT id FROM wix.orders WHERE status IN ('APPROVED', 'CANCELED') "
                                   "AND NOT archived ORDER BY created_date LIMIT %d" % k)]
        self.assertEqual(len(ids), k)
        for order_id in ids:
            wix(self.emu, "PATCH", "/ecom/v1/orders/" + order_id, {"order": {"archived": True}})
        requests = self.refresh("wix_mirror.orders")
        self.assertLessEqual(requests, math.ceil(k / 100) + 1)
        self.assertEqual(self.wix_requests(ORDERS_SEARCH), requests)
        status = mirror_status("wix_mirror.orders")
        self.assertEqual(status["last_changed"], str(k))
        self.assertEqual(status["last_requests"], str(requests))
        self.assertEqual(differing_rows("wix_mirror.orders", "wix.orders"), 0)
        # the filter, sort and limit went to Wix
        body = self.emu.requests(ORDERS_SEARCH)[0]["body"]
        self.assertIn("updatedDate", str(body))

    # -- rows of orders' lists -------------------------------------------------

    CHILDREN = ("order_line_items", "order_payments", "order_refunds", "order_fulfillments")

    def test_child_tables_replace_the_rows_of_changed_orders(self):
        for table in self.CHILDREN:
            query("SELECT wix_admin.create_mirror('wix.%s')" % table)
        self.refresh()
        for table in self.CHILDREN:
            self.assertEqual(differing_rows("wix_mirror." + table, "wix." + table), 0, table)
            self.assertEqual(mirror_status("wix_mirror." + table)["incremental_by"],
                             "order_updated_date", table)
        # line items come inside the orders Wix sorts: in batches; the
        # others come by list-by-ids, which is not sorted: all at once
        self.assertEqual(query("SELECT mirror, incremental_read, parent_key FROM wix_admin.mirrors "
                               "ORDER BY mirror::text"),
                         [["wix_mirror.order_fulfillments", "all_changed", "order_id"],
                          ["wix_mirror.order_line_items", "batches", "order_id"],
                          ["wix_mirror.order_payments", "all_changed", "order_id"],
                          ["wix_mirror.order_refunds", "all_changed", "order_id"]])
        # no change: one orders page; and the list-by-ids call for the
        # orders in the overlap
        self.assertEqual(self.refresh("wix_mirror.order_line_items"), 1)
        self.assertLessEqual(self.refresh("wix_mirror.order_payments"), 2)

        # k orders changed; a fulfillment added to one, one of two removed from another
        k = 120
        ids = [r[0] for r in query("SELECT id FROM wix.orders WHERE NOT archived "
                                   "AND status IN ('APPROVED', 'CANCELED') "
                                   "ORDER BY created_date LIMIT %d" % k)]
        for order_id in ids:
            wix(self.emu, "PATCH", "/ecom/v1/orders/" + order_id, {"order": {"archived": True}})
        order_id, removed = query("SELECT order_id, min(fulfillment_id) FROM wix.order_fulfillments "
                                  "GROUP BY order_id HAVING count(*) >= 2 LIMIT 1")[0]
        wix(self.emu, "DELETE", "/ecom/v1/fulfillments/%s/orders/%s" % (removed, order_id))
        unfulfilled, line_item = query(
            "SELECT order_id, line_item_id FROM wix.order_line_items WHERE order_id IN "
            "(SELECT id FROM wix.orders WHERE fulfillment_status = 'NOT_FULFILLED' "
            " AND status = 'APPROVED') AND item_type = 'PHYSICAL' LIMIT 1")[0]
        added = wix(self.emu, "POST", "/ecom/v1/fulfillments/orders/%s/create-fulfillment" % unfulfilled,
                    {"fulfillment": {"lineItems": [{"id": line_item, "quantity": 1}],
                                     "trackingInfo": {"trackingNumber": "MIRROR-1",
                                                      "shippingProvider": "ups"}}})["fulfillmentId"]
        pages = math.ceil((k + 2) / 100)
        for table in self.CHILDREN:
            requests = self.refresh("wix_mirror." + table)
            orders_pages = self.wix_requests(ORDERS_SEARCH)
            self.assertLessEqual(orders_pages, pages + 1, table)
            # the list-by-ids calls: for the changed orders only
            self.assertLessEqual(requests - orders_pages, 0 if table == "order_line_items"
                                 else pages + 1, table)
            self.assertEqual(differing_rows("wix_mirror." + table, "wix." + table), 0, table)
            self.assertGreater(int(mirror_status("wix_mirror." + table)["last_changed"]), 0)
        self.assertEqual(value("SELECT count(*) FROM wix_mirror.order_fulfillments "
                               "WHERE fulfillment_id = '%s'" % removed), "0")
        self.assertEqual(value("SELECT order_id FROM wix_mirror.order_fulfillments "
                               "WHERE fulfillment_id = '%s'" % added), unfulfilled)
        self.assertEqual(value("SELECT count(DISTINCT order_id) FROM wix_mirror.order_line_items "
                               "WHERE order_id IN ('%s')" % "', '".join(ids)), str(k))

    def test_members_are_read_newest_first_down_to_the_watermark(self):
        """Wix sorts members by updatedDate but cannot filter by it: an
        incremental refresh reads pages newest first until one reaches the
        watermark."""
        query("SELECT wix_admin.create_mirror('wix.members')")
        self.assertEqual(query("SELECT incremental_by, incremental_read FROM wix_admin.mirrors"),
                         [["updated_date", "newest_first"]])
        self.assertEqual(self.refresh("wix_mirror.members"), 3)    # the first: full
        self.assertEqual(self.refresh("wix_mirror.members"), 1)    # no change: a page
        for k in (5, 150):
            ids = [r[0] for r in query("SELECT id FROM wix.members ORDER BY updated_date "
                                       "LIMIT %d" % k)]
            for member_id in ids:
                wix(self.emu, "PATCH", "/members/v1/members/" + member_id,
                    {"member": {"profile": {"nickname": "changed %d" % k}}})
            requests = self.refresh("wix_mirror.members")
            self.assertLessEqual(requests, math.ceil(k / 100) + 1, k)
            self.assertEqual(value("SELECT count(*) FROM wix_mirror.members "
                                   "WHERE nickname = 'changed %d'" % k), str(k))
            self.assertEqual(differing_rows("wix_mirror.members", "wix.members"), 0, k)
            body = self.emu.requests("/members/v1/members/query")[0]["body"]
            self.assertEqual(body["query"]["sorting"], [{"fieldName": "updatedDate", "order": "DESC"}])
        self.assertEqual(mirror_status("wix_mirror.members")["watermark"],
                         value("SELECT max(updated_date) FROM wix.members"))

    def test_full_refresh_removes_deleted_rows(self):
        query("SELECT wix_admin.create_mirror('wix.products')")
        self.assertEqual(mirror_status("wix_mirror.products")["incremental_by"], "updated_date")
        self.refresh("wix_mirror.products")
        gone = value("SELECT id FROM wix_mirror.products ORDER BY id LIMIT 1")
        wix(self.emu, "DELETE", "/stores/v3/products/" + gone)
        self.refresh("wix_mirror.products")
        self.assertEqual(value("SELECT count(*) FROM wix_mirror.products WHERE id = '%s'" % gone), "1")
        self.refresh("wix_mirror.products", full=True)
        self.assertEqual(value("SELECT count(*) FROM wix_mirror.products WHERE id = '%s'" % gone), "0")
        self.assertEqual(differing_rows("wix_mirror.products", "wix.products"), 0)
        self.assertNotEqual(value("SELECT last_full_refresh FROM wix_admin.mirrors"), "")

    # -- failures ------------------------------------------------------------

    def test_failing_page_keeps_the_committed_batches(self):
        query("ALTER SERVER emu OPTIONS (ADD max_retries '0');"
              "SELECT wix_admin.create_mirror('wix.orders')")
        # the first batch is 10 pages of 100; page 12 fails
        self.emu.fault(match=ORDERS_SEARCH, after=11, status=503)
        err = psql_error("CALL wix_admin.refresh_mirror('wix_mirror.orders')", db=DB)
        self.assertIn("refresh of mirror wix_mirror.orders failed", err)
        self.assertIn("HTTP 503", err)
        status = mirror_status("wix_mirror.orders")
        self.assertEqual(status["state"], "failed")
        self.assertIn("HTTP 503", status["last_error"])
        self.assertEqual(value("SELECT count(*) FROM wix_mirror.orders"), "1000")
        self.assertEqual(status["watermark"],
                         value("SELECT max(updated_date) FROM wix_mirror.orders"))
        # the next refresh resumes: no row missing or duplicated
        self.refresh("wix_mirror.orders")
        self.assertEqual(differing_rows("wix_mirror.orders", "wix.orders"), 0)
        status = mirror_status("wix_mirror.orders")
        self.assertEqual((status["state"], status["last_error"]), ("idle", ""))

    def test_killed_refresh_then_refresh_is_consistent(self):
        query("SELECT wix_admin.create_mirror('wix.orders')")
        # a restart needs the cluster of run_in_cluster.sh (pg_virtualenv)
        restart = ["pg_ctlcluster", os.environ.get("PGVERSION", ""), "regress", "restart",
                   "-m", "fast"] if "PG_CLUSTER_CONF_ROOT" in os.environ else None
        for kill in ("terminate", "kill -9", "restart") if restart else ("terminate", "kill -9"):
            # empty, as if new
            query("DELETE FROM wix_mirror.orders;"
                  "SELECT wix_admin.mirror_registry_write('wix_mirror.orders', "
                  "'{\"watermark\": null}')")
            session, pid = self.slow_refresh("wix_mirror.orders")
            if kill == "terminate":
                self.assertEqual(value("SELECT pg_terminate_backend(%d)" % pid), "t")
            elif kill == "restart":
                started = value("SELECT pg_postmaster_start_time()")
                subprocess.run(restart, check=True, capture_output=True)
                self.assertNotEqual(value("SELECT pg_postmaster_start_time()"), started)
            else:
                os.kill(pid, signal.SIGKILL)
            self.finish(session)
            self.assertNotEqual(session.returncode, 0, kill)
            self.emu.clear_faults()
            # after kill -9 the server reinitializes: wait for it
            wait_for(lambda: self.server_up(), "the server back")
            self.assertEqual(value("SELECT count(*) FROM wix_mirror.orders"), "1000", kill)
            self.assertEqual(mirror_status("wix_mirror.orders")["state"], "idle", kill)
            self.refresh("wix_mirror.orders")
            self.assertEqual(differing_rows("wix_mirror.orders", "wix.orders"), 0, kill)

    def server_up(self):
        try:
            return value("SELECT 1") == "1"
        except PsqlError:
            return False

    def test_canceled_refresh_keeps_its_committed_batches(self):
        query("SELECT wix_admin.create_mirror('wix.orders')")
        session, pid = self.slow_refresh("wix_mirror.orders")
        self.assertEqual(value("SELECT pg_cancel_backend(%d)" % pid), "t")
        err = self.finish(session)
        self.assertIn("refresh of mirror wix_mirror.orders failed: "
                      "canceling statement due to user request", err)
        self.emu.clear_faults()
        status = mirror_status("wix_mirror.orders")
        self.assertEqual(status["state"], "failed")
        self.assertIn("canceling statement", status["last_error"])
        self.assertEqual(value("SELECT count(*) FROM wix_mirror.orders"), "1000")
        self.assertEqual(status["watermark"],
                         value("SELECT max(updated_date) FROM wix_mirror.orders"))
        self.refresh("wix_mirror.orders")
        status = mirror_status("wix_mirror.orders")
        self.assertEqual((status["state"], status["last_error"]), ("idle", ""))
        self.assertEqual(differing_rows("wix_mirror.orders", "wix.orders"), 0)

    def test_changes_during_a_refresh_are_not_lost(self):
        query("SELECT wix_admin.create_mirror('wix.orders')")
        session, _ = self.slow_refresh("wix_mirror.orders")
        # one order the refresh has read, one it has not
        read = value("SELECT id FROM wix_mirror.orders WHERE NOT archived "
                     "ORDER BY updated_date LIMIT 1")
        unread = value("SELECT id FROM wix.orders WHERE NOT archived AND id NOT IN "
                       "(SELECT id FROM wix_mirror.orders) ORDER BY updated_date LIMIT 1")
        for order_id in (read, unread):
            wix(self.emu, "PATCH", "/ecom/v1/orders/" + order_id, {"order": {"archived": True}})
        self.assertNotIn("ERROR", self.finish(session))
        self.assertEqual(session.returncode, 0)
        self.emu.clear_faults()
        self.refresh("wix_mirror.orders")
        self.assertEqual(value("SELECT string_agg(archived::text, ',') FROM wix_mirror.orders "
                               "WHERE id IN ('%s', '%s')" % (read, unread)), "true,true")
        self.assertEqual(differing_rows("wix_mirror.orders", "wix.orders"), 0)

    def test_progress_while_running(self):
        query("SELECT wix_admin.create_mirror('wix.orders');"
              "SELECT wix_admin.create_mirror('wix.members')")
        # another session sees the first batch, committed, while it runs
        session, _ = self.slow_refresh("wix_mirror.orders")
        pages, total = query("SELECT progress_pages, progress_total FROM wix_admin.mirrors "
                             "WHERE mirror = 'wix_mirror.orders'::regclass")[0]
        self.assertEqual((pages, total), ("10", ""))    # Wix gives no total of orders
        self.assertNotIn("ERROR", self.finish(session))
        self.emu.clear_faults()
        # at the end: every page, and every row (some twice: the overlap)
        pages, rows, requests = query("SELECT progress_pages, progress_rows, last_requests "
                                      "FROM wix_admin.mirrors "
                                      "WHERE mirror = 'wix_mirror.orders'::regclass")[0]
        self.assertEqual(pages, requests)
        self.assertGreater(int(pages), 10)
        self.assertGreaterEqual(int(rows), int(value("SELECT count(*) FROM wix.orders")))
        # members: Wix reports the total
        self.refresh("wix_mirror.members")
        self.assertEqual(query("SELECT progress_rows, progress_total FROM wix_admin.mirrors "
                               "WHERE mirror = 'wix_mirror.members'::regclass")[0],
                         ["300", "300"])

    def test_a_failed_transaction_releases_the_refresh_lock(self):
        """A refresh that dies of an error it does not catch (here: a
        transaction holding the lock fails) leaves no lock in a session that
        lives on."""
        query("SELECT wix_admin.create_mirror('wix.coupons')")
        session = subprocess.Popen(["psql", "-X", "-q", "-A", "-t", "-d", DB],
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
        try:
            session.stdin.write("BEGIN;\nSELECT wix_admin.mirror_lock('wix_mirror.coupons', false);\n")
            session.stdin.flush()
            self.assertEqual(session.stdout.readline().strip(), "t")
            self.assertEqual(mirror_status("wix_mirror.coupons")["state"], "running")
            skipped = subprocess.run(["psql", "-X", "-q", "-d", DB, "-c",
                                      "CALL wix_admin.refresh_mirror()"],
                                     capture_output=True, text=True)
            self.assertIn("wix_mirror.coupons is being refreshed by another session: skipped",
                          skipped.stderr)
            session.stdin.write("SELECT 1/0;\nROLLBACK;\nSELECT 'alive';\n")
            session.stdin.flush()
            self.assertEqual(session.stdout.readline().strip(), "alive")
            self.assertEqual(mirror_status("wix_mirror.coupons")["state"], "idle")
            self.assertGreater(self.refresh("wix_mirror.coupons"), 0)
            self.assertEqual(differing_rows("wix_mirror.coupons", "wix.coupons"), 0)
        finally:
            session.stdin.close()
            session.wait(timeout=20)
            session.stdout.close()
            session.stderr.close()

    def test_progress_notices(self):
        """wix_admin.progress_every: NOTICEs from a long scan (a full refresh
        sets 10 s), with the time left where Wix counts the rows."""
        query("SELECT wix_admin.create_mirror('wix.orders')")
        self.emu.fault(match=ORDERS_SEARCH, delay_ms=400, times=1000)
        out = subprocess.run(["psql", "-X", "-q", "-d", DB, "-c", "SET wix_admin.progress_every = '1s'",
                              "-c", "CALL wix_admin.refresh_mirror('wix_mirror.orders', full => true)"],
                             capture_output=True, text=True)
        self.assertEqual(out.returncode, 0, out.stderr)
        counts = [int(n) for n in re.findall(r"NOTICE:  reading wix\.orders from Wix: (\d+) rows so far "
                                             r"\(\d+ a second\)", out.stderr)]
        self.assertGreaterEqual(len(counts), 2, out.stderr)
        self.assertEqual(counts, sorted(counts))
        self.assertEqual(differing_rows("wix_mirror.orders", "wix.orders"), 0)
        self.emu.clear_faults()
        self.emu.fault(match="/members/v1/members", delay_ms=1500, times=10)
        out = subprocess.run(["psql", "-X", "-q", "-d", DB, "-c", "SET wix_admin.progress_every = '1s'",
                              "-c", "SELECT count(*) FROM wix.members"],
                             capture_output=True, text=True)
        self.assertRegex(out.stderr, r"NOTICE:  reading wix\.members from Wix: 100 of 300 rows "
                                     r"\(\d+ a second\), about \d+ s left")

    # -- concurrency ---------------------------------------------------------

    def test_two_concurrent_refreshes(self):
        query("SELECT wix_admin.create_mirror('wix.orders')")
        self.emu.fault(match=ORDERS_SEARCH, delay_ms=3000)
        first = psql_session()
        first.stdin.write("LISTEN wix_admin_mirror;\nCALL wix_admin.refresh_mirror('wix_mirror.orders');\n")
        first.stdin.close()
        deadline = time.time() + 10
        while mirror_status("wix_mirror.orders")["state"] != "running":
            self.assertLess(time.time(), deadline)
            time.sleep(0.1)
        # every due mirror: skipped; this one by name: waits for it
        skipped = subprocess.run(["psql", "-X", "-q", "-d", DB, "-c",
                                  "CALL wix_admin.refresh_mirror()"],
                                 capture_output=True, text=True)
        self.assertIn("mirror wix_mirror.orders is being refreshed by another session: skipped",
                      skipped.stderr)
        waited = subprocess.run(["psql", "-X", "-q", "-d", DB, "-c",
                                 "CALL wix_admin.refresh_mirror('wix_mirror.orders')"],
                                capture_output=True, text=True)
        self.assertIn("being refreshed by another session: waiting for it", waited.stderr)
        out = first.stdout.read()
        first.wait(timeout=60)
        first.stdout.close()
        first.stderr.close()
        self.assertEqual(first.returncode, 0)
        self.assertIn('"wix_admin_mirror" with payload "{"state": "idle", '
                      '"mirror": "wix_mirror.orders"}"', out)
        self.assertEqual(differing_rows("wix_mirror.orders", "wix.orders"), 0)
        self.assertEqual(mirror_status("wix_mirror.orders")["state"], "idle")

    # -- privileges ----------------------------------------------------------

    def test_privileges(self):
        create_login_role("mirror_analyst")
        create_login_role("mirror_other")
        query("GRANT USAGE ON SCHEMA wix, wix_admin TO mirror_analyst, mirror_other;"
              "GRANT USAGE ON FOREIGN SERVER emu TO mirror_analyst;"
              "GRANT SELECT ON wix.coupons TO mirror_analyst;"
              "CREATE SCHEMA analyst_data AUTHORIZATION mirror_analyst;"
              "CREATE USER MAPPING FOR mirror_analyst SERVER emu OPTIONS (api_key 'IST.wix-emulator-api-key');")
        err = psql_error("SELECT wix_admin.create_mirror('wix.orders', target_schema => 'analyst_data')",
                         db=DB, user="mirror_analyst")
        self.assertIn("permission denied for table wix.orders", err)
        self.assertEqual(value("SELECT wix_admin.create_mirror('wix.coupons', "
                               "target_schema => 'analyst_data')", user="mirror_analyst"),
                         "analyst_data.coupons")
        query("CALL wix_admin.refresh_mirror('analyst_data.coupons')", user="mirror_analyst")
        self.assertEqual(differing_rows("analyst_data.coupons", "wix.coupons"), 0)
        self.assertEqual(value("SELECT relowner::regrole FROM pg_class "
                               "WHERE oid = 'analyst_data.coupons'::regclass"), "mirror_analyst")
        # the registry: nobody else's to write, not even the mirror's owner directly
        for user in ("mirror_analyst", "mirror_other"):
            err = psql_error("UPDATE wix_admin.mirror_registry SET last_error = 'x'", db=DB, user=user)
            self.assertIn("permission denied for table mirror_registry", err)
        mirror_oid = value("SELECT 'analyst_data.coupons'::regclass::oid")
        err = psql_error("SELECT wix_admin.mirror_registry_write(%s, '{\"last_error\": \"x\"}')"
                         % mirror_oid, db=DB, user="mirror_other")
        self.assertIn("must be owner of table coupons", err)
        err = psql_error("SELECT wix_admin.mirror_lock(%s, false)" % mirror_oid, db=DB,
                         user="mirror_other")
        self.assertIn("must be owner of table coupons", err)
        err = psql_error("CALL wix_admin.refresh_mirror(%s)" % mirror_oid, db=DB,
                         user="mirror_other")
        self.assertIn("analyst_data.coupons is not a mirror", err)
        self.assertEqual(query("SELECT mirror FROM wix_admin.mirrors", user="mirror_other"), [])
        query("SELECT wix_admin.drop_mirror('analyst_data.coupons')", user="mirror_analyst")
        self.assertEqual(value("SELECT count(*) FROM wix_admin.mirror_registry"), "0")
        self.assertEqual(value("SELECT to_regclass('analyst_data.coupons') IS NULL"), "t")


class MirrorWorker(EmulatorSiteCase):
    """The background worker refreshes due mirrors (needs preloading)."""
    EMULATOR_ARGS = ("--orders", "300", "--members", "50", "--products", "30")

    @classmethod
    def setUpClass(cls):
        if psql("SELECT current_setting('shared_preload_libraries') ~ 'wix_admin'")[0][0] != "t":
            raise unittest.SkipTest("the worker runs only with shared_preload_libraries")
        super().setUpClass()

    def setUp(self):
        super().setUp()
        create_login_role("mirror_owner")
        query("GRANT USAGE ON SCHEMA wix, wix_admin TO mirror_owner;"
              "GRANT USAGE ON FOREIGN SERVER emu TO mirror_owner;"
              "GRANT SELECT ON wix.orders, wix.members, wix.products TO mirror_owner;"
              "CREATE SCHEMA owner_data AUTHORIZATION mirror_owner;"
              "CREATE USER MAPPING FOR mirror_owner SERVER emu "
              "OPTIONS (api_key 'IST.wix-emulator-api-key');")

    def tearDown(self):
        # no worker left connected to the database the next test drops
        query("SELECT wix_admin.drop_mirror(mirror) FROM wix_admin.mirrors")

    def mirror(self, table, refresh_every):
        return value("SELECT wix_admin.create_mirror('wix.%s', refresh_every => %s, "
                     "target_schema => 'owner_data')" % (table, refresh_every),
                     user="mirror_owner")

    def finished(self, mirror):
        return value("SELECT coalesce(last_finished::text, 'never') FROM wix_admin.mirrors "
                     "WHERE mirror = '%s'::regclass" % mirror)

    def test_worker_refreshes_due_mirrors_as_their_owner(self):
        orders = self.mirror("orders", "'2 seconds'")
        members = self.mirror("members", "NULL")
        wait_for(lambda: self.finished(orders) != "never", "the first refresh")
        self.assertEqual(differing_rows(orders, "wix.orders"), 0)
        # a change in Wix reaches the mirror with no CALL
        order_id = value("SELECT id FROM %s WHERE NOT archived ORDER BY id LIMIT 1" % orders)
        wix(self.emu, "PATCH", "/ecom/v1/orders/" + order_id, {"order": {"archived": True}})
        wait_for(lambda: value("SELECT archived FROM %s WHERE id = '%s'" % (orders, order_id)) == "t",
                 "the change in the mirror")
        # with the owner's user mapping (an API key; ours is OAuth)
        self.emu.reset_log()
        last = self.finished(orders)
        wait_for(lambda: self.finished(orders) != last, "another refresh")
        kinds = {r["headers"]["authorization"] for r in self.emu.requests(ORDERS_SEARCH)}
        self.assertEqual(kinds, {"api_key"})
        # refresh_every NULL: never by the worker
        self.assertEqual(value("SELECT last_started IS NULL AND rows IS NULL FROM wix_admin.mirrors "
                               "WHERE mirror = '%s'::regclass" % members), "t")
        # the owner without a user mapping: the worker's refresh fails as them
        query("DROP USER MAPPING FOR mirror_owner SERVER emu")
        wait_for(lambda: "has no user mapping" in value(
            "SELECT coalesce(last_error, '-') FROM wix_admin.mirrors "
            "WHERE mirror = '%s'::regclass" % orders),
            "the owner's missing user mapping")
        self.assertEqual(mirror_status(orders)["state"], "failed")

    def test_worker_full_refresh_every(self):
        query("ALTER DATABASE %s SET wix_admin.mirror_full_refresh_every = '3s'" % DB)
        products = self.mirror("products", "'1 second'")
        wait_for(lambda: self.finished(products) != "never", "the first refresh")
        gone = value("SELECT id FROM %s ORDER BY id LIMIT 1" % products)
        wix(self.emu, "DELETE", "/stores/v3/products/" + gone)
        # incremental refreshes keep it; the first full one removes it
        wait_for(lambda: value("SELECT count(*) FROM %s WHERE id = '%s'" % (products, gone)) == "0",
                 "the full refresh")
        self.assertEqual(differing_rows(products, "wix.products"), 0)
        self.assertNotEqual(value("SELECT last_full_refresh FROM wix_admin.mirrors"), "")


if __name__ == "__main__":
    unittest.main(verbosity=2)
