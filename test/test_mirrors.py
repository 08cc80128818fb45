"""Local mirrors (issue 15): create_mirror, refresh_mirror (incremental by
updated_date, full reads, resuming after a failure), wix_admin.mirrors,
concurrent refreshes and privileges, on a private emulator with 1,200
orders and 300 members, with the emulator's request log as the judge."""
import math
import subprocess
import time
import unittest

from fixtures import (Emulator, create_database, create_login_role, psql,
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


def psql_session():
    """psql in the background, reading SQL from its stdin."""
    return subprocess.Popen(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", DB],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


class Mirrors(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.proc = EmulatorProcess("--orders", "1200", "--members", "300", "--products", "60",
                                   "--bookings", "5", "--catalog", "V3")
        cls.emu = Emulator(cls.proc.url)

    @classmethod
    def tearDownClass(cls):
        cls.proc.stop()

    def setUp(self):
        self.emu.reset()
        create_database(DB, servers=server_sql("emu", self.proc.url, schema="wix",
                                               catalog_version="V3"))
        # these tests refresh when they say so; MirrorWorker lets the worker
        psql("ALTER DATABASE %s SET wix_admin.refresh_mirrors_in_worker = off" % DB)

    def wix_requests(self, prefix="/"):
        return len([r for r in self.emu.requests(prefix) if "/oauth" not in r["path"]])

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
        self.assertEqual(mirror_status("wix_mirror.order_line_items")["incremental_by"], "")
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
        # nothing is due any more
        self.assertEqual(self.refresh(), 0)

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
        err = psql_error("CALL wix_admin.refresh_mirror(%s)" % mirror_oid, db=DB,
                         user="mirror_other")
        self.assertIn("analyst_data.coupons is not a mirror", err)
        self.assertEqual(query("SELECT mirror FROM wix_admin.mirrors", user="mirror_other"), [])
        query("SELECT wix_admin.drop_mirror('analyst_data.coupons')", user="mirror_analyst")
        self.assertEqual(value("SELECT count(*) FROM wix_admin.mirror_registry"), "0")
        self.assertEqual(value("SELECT to_regclass('analyst_data.coupons') IS NULL"), "t")


if __name__ == "__main__":
    unittest.main(verbosity=2)
