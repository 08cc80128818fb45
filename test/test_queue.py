"""Deferred admin actions (issue 7): wix_admin.defer_actions, wix_enqueue,
the queue, its background worker and CALL wix_admin.process_queue().

Runs inside pg_virtualenv started with shared_preload_libraries=wix_admin
(test/run_all.sh), against the emulator of WIX_EMULATOR_URL.  Databases:
  qtest          the worker delivers (retry delay 200 ms)
  qtest_manual   the worker stays away (wix_admin.deliver_in_worker off):
                 only CALL wix_admin.process_queue() delivers
  qtest_slow     the worker delivers, retry delay 3 s, request timeout 1 s
"""
import json
import os
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixtures import (API_KEY, EMULATOR_URL, Emulator, PsqlError,  # noqa: E402
                      create_database, items_of, psql, psql_error, wix)

emu = Emulator(EMULATOR_URL)
DB = "qtest"
MANUAL = "qtest_manual"
SLOW = "qtest_slow"
taken = set()


def q(sql, db=DB, **kw):
    return psql(sql, db=db, **kw)


def value(sql, db=DB):
    rows = q(sql, db)
    return rows[0][0] if rows else None


def sent(path, method=None):
    """Requests wix_admin sent to path (exact), oldest first."""
    return [r for r in emu.requests()
            if r["path"] == path and (method is None or r["method"] == method)
            and r["headers"].get("user-agent", "").startswith("wix_admin")]


def orders(n, pred=lambda o: o["status"] == "APPROVED"):
    out = []
    for o in items_of(emu.data("orders"), "orders"):
        if o["id"] not in taken and pred(o):
            taken.add(o["id"])
            out.append(o)
            if len(out) == n:
                return out
    raise AssertionError("not enough unused orders")


def paid_order():
    def pred(o):
        if o["status"] != "APPROVED" or o["paymentStatus"] != "PAID":
            return False
        pays = wix(emu, "GET", "/ecom/v1/payments/orders/" + o["id"])["orderTransactions"]["payments"]
        return len(pays) == 1 and not pays[0]["regularPaymentDetails"]["offlinePayment"]
    return orders(1, pred)[0]


def refunds_of(order_id):
    return wix(emu, "GET", "/ecom/v1/payments/orders/" + order_id)["orderTransactions"]["refunds"]


def archive_path(order_id):
    return "/ecom/v1/orders/" + order_id


def enqueue(sql, db=DB, user=None):
    """Run sql (an admin call) deferred in one committed transaction;
    return the queued descriptions."""
    rows = psql("BEGIN; SET LOCAL wix_admin.defer_actions = on;\n%s;\nCOMMIT;" % sql,
                db=db, user=user)
    return [json.loads(r[0]) for r in rows]


def action(action_id, db=DB):
    rows = q("SELECT row_to_json(a) FROM wix_admin.actions a WHERE id = %d" % action_id, db)
    return json.loads(rows[0][0]) if rows else None


def wait_state(action_id, states=("done", "failed"), db=DB, timeout=30):
    deadline = time.time() + timeout
    while True:
        a = action(action_id, db)
        if a and a["state"] in states:
            return a
        if time.time() > deadline:
            raise AssertionError("action %d still %r" % (action_id, a))
        time.sleep(0.1)


def deliver_after_late_answer(path, sql):
    """Queue sql (in the SLOW database, whose requests time out after 1 s);
    the first answer to path comes 2.5 s after the change was made.  Wait
    until the queue is done with the action; return it."""
    emu.fault(match=path, times=1, delay_after_apply_ms=2500)
    try:
        queued = enqueue(sql, db=SLOW)[0]
        return wait_state(queued["id"], db=SLOW, timeout=60)
    finally:
        emu.clear_faults()


def process_queue(db=MANUAL, settings=""):
    q("%sCALL wix_admin.process_queue();" % settings, db)


def setUpModule():
    emu.reset()
    for db in (DB, MANUAL, SLOW):
        create_database(db)
        psql("ALTER DATABASE %s SET wix_admin.default_server = 'emu';" % db)
    psql("ALTER DATABASE %s SET wix_admin.queue_retry_delay = '200ms';" % DB)
    psql("ALTER DATABASE %s SET wix_admin.deliver_in_worker = off;" % MANUAL)
    psql("ALTER DATABASE %s SET wix_admin.queue_retry_delay = '3s';" % SLOW)
    psql("ALTER DATABASE %s SET wix_admin.request_timeout = 1;" % SLOW)


class DeferredCalls(unittest.TestCase):

    def test_rolled_back_sends_nothing(self):
        o = orders(1)[0]
        emu.reset_log()
        q("""BEGIN; SET LOCAL wix_admin.defer_actions = on;
             SELECT wix_archive_order('%s');
             ROLLBACK;""" % o["id"])
        q("""BEGIN; SELECT wix_enqueue('wix_archive_order', '{"order_id": "%s"}');
             ROLLBACK;""" % o["id"])
        time.sleep(1.5)
        self.assertEqual(sent(archive_path(o["id"])), [])
        self.assertEqual(value("SELECT count(*) FROM wix_admin.queue WHERE target_id = '%s'"
                               % o["id"]), "0")

    def test_committed_sends_once_and_notifies(self):
        o = orders(1)[0]
        listener = subprocess.Popen(
            ["psql", "-X", "-q", "-d", DB, "-c", "LISTEN wix_admin_actions",
             "-c", "SELECT pg_sleep(4)"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(0.5)
        queued = enqueue("SELECT wix_archive_order('%s')" % o["id"])[0]
        self.assertEqual(queued["state"], "queued")
        self.assertEqual(queued["action"], "wix_archive_order")
        self.assertEqual(queued["target_id"], o["id"])
        self.assertEqual(queued["server"], "emu")
        done = wait_state(queued["id"])
        self.assertEqual(done["state"], "done", done)
        self.assertEqual(done["attempts"], 1)
        self.assertEqual(done["http_status"], 200)
        self.assertTrue(done["wix_request_id"])
        self.assertTrue(done["result"]["archived"])
        out, _ = listener.communicate(timeout=30)
        self.assertIn('"id": %d, "state": "done"' % queued["id"], out)
        time.sleep(0.5)
        patches = sent(archive_path(o["id"]), "PATCH")
        self.assertEqual(len(patches), 1)
        log = q("SELECT role, action, outcome FROM wix_admin.action_log "
                "WHERE target_id = '%s'" % o["id"])
        self.assertEqual(log, [[os.environ.get("PGUSER", "postgres"), "wix_archive_order", "success"]])

    def test_bad_input_errors_before_queueing(self):
        before = value("SELECT count(*) FROM wix_admin.queue")
        for call in ("SELECT wix_archive_order('a/../b')",
                     "SELECT wix_refund('x', amount => -1)",
                     "SELECT wix_api('GET', 'https://evil.example/x')",
                     "SELECT wix_archive_order('x', server => 'nope')"):
            err = psql_error("SET wix_admin.defer_actions = on; " + call, db=DB)
            self.assertIn("ERROR", err)
        err = psql_error("""SELECT wix_enqueue('wix_refund', '{"order_id": ""}')""", db=DB)
        self.assertIn("order_id must not be empty", err)
        err = psql_error("""SELECT wix_enqueue('wix_drop_everything', '{}')""", db=DB)
        self.assertIn("is not a wix_admin admin action", err)
        err = psql_error("""SELECT wix_enqueue('wix_archive_order', '{"order": "x"}')""", db=DB)
        self.assertIn("args has no \"order_id\"", err)
        err = psql_error("""SELECT wix_enqueue('wix_archive_order', '{"order_id": "x", "extra": 1}')""",
                         db=DB)
        self.assertIn("does not take", err)
        self.assertEqual(value("SELECT count(*) FROM wix_admin.queue"), before)

    def test_wix_enqueue_uses_defaults(self):
        o = orders(1)[0]
        rows = q("""SELECT wix_enqueue('wix_cancel_order', '{"order_id": "%s"}')""" % o["id"],
                 db=MANUAL)
        queued = json.loads(rows[0][0])
        self.assertEqual(queued["args"], {"order_id": o["id"], "restock": True,
                                          "notify_customer": False})
        q("SELECT wix_admin.cancel_action(%d)" % queued["id"], db=MANUAL)


class Delivery(unittest.TestCase):

    def test_three_503_then_success_deliver_once(self):
        o = paid_order()
        path = "/ecom/v1/order-billing/refund-payments"
        emu.fault(match=path, times=3, status=503)
        try:
            queued = enqueue("SELECT wix_refund('%s')" % o["id"])[0]
            done = wait_state(queued["id"])
        finally:
            emu.clear_faults()
        self.assertEqual(done["state"], "done", done)
        self.assertEqual(done["attempts"], 4)
        mine = [r for r in sent(path) if r["body"]["orderId"] == o["id"]]
        self.assertEqual([r["status"] for r in mine], [503, 503, 503, 200])
        self.assertEqual(len(refunds_of(o["id"])), 1)

    def test_permanent_4xx_fails_with_wix_error(self):
        queued = enqueue("SELECT wix_cancel_order('no-such-order-7')")[0]
        failed = wait_state(queued["id"])
        self.assertEqual(failed["state"], "failed")
        self.assertEqual(failed["attempts"], 1)
        self.assertEqual(failed["http_status"], 404)
        self.assertIn("404", failed["last_error"])

    def test_attempt_limit(self):
        o = orders(1)[0]
        path = archive_path(o["id"])
        queued = enqueue("SELECT wix_archive_order('%s')" % o["id"], db=MANUAL)[0]
        emu.fault(match=path, times=10, status=503)
        settings = ("SET wix_admin.queue_max_attempts = 3; "
                    "SET wix_admin.queue_retry_delay = 1; SET wix_admin.max_retries = 0;")
        try:
            for _ in range(5):
                process_queue(settings=settings)
                time.sleep(0.05)
        finally:
            emu.clear_faults()
        a = action(queued["id"], MANUAL)
        self.assertEqual(a["state"], "failed")
        self.assertEqual(a["attempts"], 3)
        self.assertIn("gave up after 3 attempts", a["last_error"])
        self.assertEqual(len(sent(path)), 3)

    def test_commit_order(self):
        a, b, c = orders(3)

        def slow_first():
            psql("""BEGIN; SET LOCAL wix_admin.defer_actions = on;
                    SELECT wix_archive_order('%s');
                    SELECT pg_sleep(1.5);
                    COMMIT;""" % a["id"], db=MANUAL)
        t = threading.Thread(target=slow_first)
        t.start()
        time.sleep(0.7)
        enqueue("SELECT wix_archive_order('%s')" % b["id"], db=MANUAL)
        t.join()
        enqueue("SELECT wix_archive_order('%s')" % c["id"], db=MANUAL)
        ids = [r[0] for r in q("SELECT target_id FROM wix_admin.queue WHERE target_id IN "
                               "('%s', '%s', '%s') ORDER BY id" % (a["id"], b["id"], c["id"]),
                               db=MANUAL)]
        self.assertEqual(ids, [a["id"], b["id"], c["id"]])   # queued in this order
        emu.reset_log()
        process_queue()
        order = [r["path"] for r in emu.requests() if r["method"] == "PATCH"]
        self.assertEqual(order, [archive_path(b["id"]), archive_path(a["id"]),
                                 archive_path(c["id"])])   # delivered in commit order

    def test_concurrent_process_queue_never_double_sends(self):
        targets = orders(30)
        enqueue(";\n".join("SELECT wix_archive_order('%s')" % o["id"] for o in targets),
                db=MANUAL)
        emu.reset_log()
        procs = [subprocess.Popen(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", MANUAL,
                                   "-c", "CALL wix_admin.process_queue()"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(2)]
        for p in procs:
            _, err = p.communicate(timeout=120)
            self.assertEqual(p.returncode, 0, err)
        paths = [r["path"] for r in emu.requests() if r["method"] == "PATCH"]
        self.assertEqual(sorted(paths), sorted(archive_path(o["id"]) for o in targets))
        states = q("SELECT state, count(*) FROM wix_admin.queue WHERE target_id IN (%s) "
                   "GROUP BY state" % ", ".join("'%s'" % o["id"] for o in targets), db=MANUAL)
        self.assertEqual(states, [["done", "30"]],
                         q("SELECT last_error FROM wix_admin.queue WHERE state = 'failed'",
                           db=MANUAL))

    def test_process_queue_outside_transaction_only(self):
        err = psql_error("BEGIN; CALL wix_admin.process_queue(); COMMIT;", db=MANUAL)
        self.assertIn("cannot run inside a transaction block", err)

    def test_refund_timeout_after_apply_not_repeated(self):
        o = paid_order()
        path = "/ecom/v1/order-billing/refund-payments"
        done = deliver_after_late_answer(path, "SELECT wix_refund('%s')" % o["id"])
        self.assertEqual(done["state"], "done", done)
        self.assertEqual(done["attempts"], 2)
        self.assertTrue(done["result"]["alreadyRefunded"])
        self.assertTrue(done["outcome_unknown"])   # kept: an attempt was uncertain
        mine = [r for r in sent(path) if r["body"]["orderId"] == o["id"]]
        self.assertEqual(len(mine), 1)
        self.assertEqual(len(refunds_of(o["id"])), 1)

    def test_mark_paid_timeout_after_apply_not_repeated(self):
        """The add-payment reaches Wix but its answer comes too late: the
        second attempt reads the payment in the order's transactions and
        records no second one."""
        o = orders(1, lambda o: o["status"] == "APPROVED" and o["paymentStatus"] == "NOT_PAID")[0]
        path = "/ecom/v1/payments/orders/%s/add-payment" % o["id"]
        done = deliver_after_late_answer(path, "SELECT wix_mark_order_paid('%s')" % o["id"])
        self.assertEqual(done["state"], "done", done)
        self.assertEqual(done["attempts"], 2)
        self.assertTrue(done["result"]["alreadyPaid"])
        self.assertTrue(done["outcome_unknown"])
        self.assertEqual(len(sent(path)), 1)
        pays = wix(emu, "GET", "/ecom/v1/payments/orders/" + o["id"])["orderTransactions"]["payments"]
        self.assertEqual(len(pays), 1)

    def test_booking_timeout_after_apply_not_repeated(self):
        booking = next(b for b in items_of(emu.data("bookings"), "bookings")
                       if b.get("status") == "PENDING" and b["id"] not in taken)
        taken.add(booking["id"])
        path = "/_api/bookings-service/v2/bookings/%s/confirm" % booking["id"]
        done = deliver_after_late_answer(path, "SELECT wix_confirm_booking('%s')" % booking["id"])
        self.assertEqual(done["state"], "done", done)
        self.assertEqual(done["attempts"], 2)
        self.assertEqual(done["result"]["status"], "CONFIRMED")
        self.assertEqual(len(sent(path)), 1)


class Management(unittest.TestCase):

    def test_retry_and_cancel(self):
        queued = enqueue("SELECT wix_cancel_order('no-such-order-8')", db=MANUAL)[0]
        process_queue()
        self.assertEqual(action(queued["id"], MANUAL)["state"], "failed")
        again = json.loads(value("SELECT wix_admin.retry_action(%d)" % queued["id"], MANUAL))
        self.assertEqual((again["state"], again["attempts"]), ("queued", 0))
        cancelled = json.loads(value("SELECT wix_admin.cancel_action(%d)" % queued["id"], MANUAL))
        self.assertEqual(cancelled["state"], "cancelled")
        err = psql_error("SELECT wix_admin.cancel_action(%d)" % queued["id"], db=MANUAL)
        self.assertIn("is cancelled", err)
        emu.reset_log()
        process_queue()
        self.assertEqual(sent("/ecom/v1/orders/no-such-order-8/cancel"), [])
        err = psql_error("SELECT wix_admin.retry_action(999999999)", db=MANUAL)
        self.assertIn("does not exist", err)

    def test_credentials_of_the_enqueuing_role(self):
        o = orders(1)[0]
        q("""DROP ROLE IF EXISTS q_clerk; DROP ROLE IF EXISTS q_nomap;
             CREATE ROLE q_clerk; CREATE ROLE q_nomap;
             GRANT USAGE ON FOREIGN SERVER emu TO q_clerk, q_nomap;
             GRANT EXECUTE ON FUNCTION wix_archive_order(text, boolean, name) TO q_clerk, q_nomap;
             GRANT EXECUTE ON FUNCTION wix_admin.cancel_action(bigint) TO q_nomap;
             CREATE USER MAPPING FOR q_clerk SERVER emu OPTIONS (api_key '%s');""" % API_KEY)
        queued = enqueue("SET LOCAL ROLE q_clerk; SELECT wix_archive_order('%s')" % o["id"])[-1]
        done = wait_state(queued["id"])
        self.assertEqual(done["state"], "done", done)
        self.assertEqual(done["role"], "q_clerk")
        patches = sent(archive_path(o["id"]), "PATCH")
        self.assertEqual([p["headers"]["authorization"] for p in patches], ["api_key"])
        self.assertEqual(q("SELECT role FROM wix_admin.action_log WHERE target_id = '%s'" % o["id"]),
                         [["q_clerk"]])
        # no user mapping: an error when queuing, not a delivery with another's
        err = psql_error("SET ROLE q_nomap; SET wix_admin.defer_actions = on; "
                         "SELECT wix_archive_order('%s')" % o["id"], db=DB)
        self.assertIn('role "q_nomap" has no user mapping', err)
        # nor may another role cancel or see the clerk's actions
        err = psql_error("SET ROLE q_nomap; SELECT wix_admin.cancel_action(%d)" % queued["id"], db=DB)
        self.assertIn("permission denied", err)
        # wix_enqueue needs EXECUTE on the action's own function too
        q("GRANT EXECUTE ON FUNCTION wix_enqueue(text, jsonb, name) TO q_nomap")
        err = psql_error("""SET ROLE q_nomap; SELECT wix_enqueue('wix_delete_member', '{"member_id": "x"}')""",
                         db=DB)
        self.assertIn("permission denied for function wix_delete_member", err)
        err = psql_error("SET ROLE q_nomap; SELECT * FROM wix_admin.queue", db=DB)
        self.assertIn("permission denied", err)
        err = psql_error("SET ROLE q_nomap; CALL wix_admin.process_queue()", db=DB)
        self.assertIn("permission denied", err)

    def test_launcher_survives_reload(self):
        launcher = "SELECT pid FROM pg_stat_activity WHERE backend_type = 'wix_admin launcher'"
        before = value(launcher)
        self.assertIsNotNone(before)
        for _ in range(3):
            psql("SELECT pg_reload_conf()")
            time.sleep(0.3)
        self.assertEqual(value(launcher), before)
        o = orders(1)[0]
        queued = enqueue("SELECT wix_archive_order('%s')" % o["id"])[0]
        self.assertEqual(wait_state(queued["id"])["state"], "done")


class Restart(unittest.TestCase):

    def restart(self):
        datadir = value("SHOW data_directory")
        cluster = os.environ.get("PGCLUSTER", os.environ.get("PGVERSION", "15") + "/regress").split("/")
        ctl = ["pg_ctlcluster", cluster[0], cluster[1]]
        proc = subprocess.run(ctl + ["stop", "-m", "immediate"],
                              capture_output=True, text=True, timeout=120)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        deadline = time.time() + 30
        while subprocess.run(ctl + ["status"], capture_output=True).returncode == 0:
            self.assertLess(time.time(), deadline, "the cluster does not stop")
            time.sleep(0.2)
        proc = subprocess.run(ctl + ["start"], capture_output=True, text=True, timeout=120)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        deadline = time.time() + 60
        while True:
            try:
                psql("SELECT 1")
                return datadir
            except PsqlError:
                if time.time() > deadline:
                    raise
                time.sleep(0.3)

    def test_queued_and_in_flight_actions_survive_restart(self):
        waiting, hanging = orders(2)
        emu.fault(match=archive_path(waiting["id"]), times=1, status=503)
        emu.fault(match=archive_path(hanging["id"]), times=1, hang_ms=4000)
        try:
            w = enqueue("SELECT wix_archive_order('%s')" % waiting["id"], db=SLOW)[0]
            h = enqueue("SELECT wix_archive_order('%s')" % hanging["id"], db=SLOW)[0]
            # one waits for its retry (3 s), the other is in flight: crash now
            wait_state(w["id"], states=("queued",), db=SLOW)
            deadline = time.time() + 10
            while not (action(w["id"], SLOW)["attempts"] == 1 and
                       action(h["id"], SLOW)["state"] == "in_flight"):
                self.assertLess(time.time(), deadline)
                time.sleep(0.05)
            self.restart()
            a = wait_state(w["id"], db=SLOW, timeout=60)
            b = wait_state(h["id"], db=SLOW, timeout=60)
        finally:
            emu.clear_faults()
        self.assertEqual((a["state"], a["attempts"]), ("done", 2), a)
        self.assertEqual(b["state"], "done", b)
        self.assertEqual(len([r for r in sent(archive_path(waiting["id"]), "PATCH")
                              if r["status"] == 200]), 1)


if __name__ == "__main__":
    unittest.main(verbosity=2)
