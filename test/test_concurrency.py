"""16 sessions at once (issue 5, requirement 8).

pgbench runs 16 clients for WIX_CONCURRENCY_SECONDS (default 60) with two
custom scripts against a private emulator on loopback: filtered scans
(one order by number, a multi-page scan, the members) and actions (wix_api
GET of an order, wix_approve_member).  Meanwhile the emulator keeps
injecting faults that retries must absorb: 503s on the search, 429s on the
GET and on the approve.  Asserted:

* pgbench ends with every client done and no error at all (an error aborts
  a pgbench client): the injected faults were absorbed, nothing else failed;
* the faults were really hit (the emulator answered 503s and 429s);
* no backend crashed: the server log has no "terminated by signal";
* no leaked sockets: sampled every second during the run, no backend holds
  more connections to the emulator than it may have transfers in flight
  (max_concurrent_requests, 4); a session idle after the same workload holds
  exactly one keep-alive connection; after the run nothing is left open by
  the backends that ended, and few connections were ever closed (TIME_WAIT
  under 5% of the requests: keep-alive reuse, not one per request).

About WIX_CONCURRENCY_SECONDS + 10 seconds.
"""
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
import unittest

from fixtures import Emulator, create_database, items_of, psql, server_sql
from wixfault import (EmulatorProcess, Session, local_connections, server_log_path,
                      sockets_of, tcp_connections)

DB = "wix_concurrency"
CLIENTS = 16
DURATION = int(os.environ.get("WIX_CONCURRENCY_SECONDS", "60"))
# a scan may have up to max_concurrent_requests pages in flight, so a busy
# backend may briefly hold that many connections; a leak would exceed it
MAX_SOCKETS_BUSY = 4
SEARCH = "/ecom/v1/orders/search"

SCAN_SCRIPT = """
\\set n random({first}, {last})
SELECT id, total FROM wix.orders WHERE number = :n;
SELECT count(*) FROM wix.orders WHERE payment_status = 'PAID' AND number > :n - 150;
SELECT count(*) FROM wix.members WHERE status = 'APPROVED';
"""

ACTION_SCRIPT = """
\\set k random(1, {orders})
\\set m random(1, {members})
SELECT wix_api('GET', '/ecom/v1/orders/' || id, NULL, 'emu')->'order'->>'number' FROM order_ids WHERE k = :k;
SELECT wix_approve_member(id, server => 'emu')->>'status' FROM member_ids WHERE k = :m;
"""


def pgbench_binary():
    """pgbench on PATH, else the server's own (pg_virtualenv sets PG_CONFIG)."""
    bindir = subprocess.run([os.environ.get("PG_CONFIG", "pg_config"), "--bindir"],
                            capture_output=True, text=True).stdout.strip()
    for candidate in (shutil.which("pgbench"), bindir and os.path.join(bindir, "pgbench")):
        if candidate and os.path.exists(candidate):
            return candidate
    raise unittest.SkipTest("pgbench is not installed")


class ConcurrencyTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.emu_proc = EmulatorProcess("--orders", "600", "--members", "80", "--products", "10",
                                       "--bookings", "10", "--seed", "17")
        cls.E = Emulator(cls.emu_proc.url)
        orders = [o for o in items_of(cls.E.data("orders"), "orders")
                  if o["status"] != "INITIALIZED"]
        members = [m for m in items_of(cls.E.data("members"), "members")
                   if m.get("loginEmail") != "owner@wix-emulator.test"]
        create_database(DB, server_sql("emu", cls.emu_proc.url, schema="wix"), """
            CREATE TABLE order_ids (k int PRIMARY KEY, id text NOT NULL);
            CREATE TABLE member_ids (k int PRIMARY KEY, id text NOT NULL);
            ALTER DATABASE {db} SET wix_admin.retry_base_delay = 20;
            ALTER DATABASE {db} SET wix_admin.retry_max_delay = 200;
        """.format(db=DB))
        values = ",".join("(%d, '%s')" % (i + 1, o["id"]) for i, o in enumerate(orders))
        psql("INSERT INTO order_ids VALUES %s;" % values, db=DB)
        values = ",".join("(%d, '%s')" % (i + 1, m["id"]) for i, m in enumerate(members))
        psql("INSERT INTO member_ids VALUES %s;" % values, db=DB)
        numbers = sorted(int(o["number"]) for o in items_of(cls.E.data("orders"), "orders"))
        cls.dir = tempfile.mkdtemp(prefix="wix_concurrency.")
        cls.scan = os.path.join(cls.dir, "scan.sql")
        cls.action = os.path.join(cls.dir, "action.sql")
        with open(cls.scan, "w") as f:
            f.write(SCAN_SCRIPT.format(first=numbers[0], last=numbers[-1]))
        with open(cls.action, "w") as f:
            f.write(ACTION_SCRIPT.format(orders=len(orders), members=len(members)))
        cls.run_pgbench()

    @classmethod
    def tearDownClass(cls):
        cls.emu_proc.stop()
        shutil.rmtree(cls.dir, ignore_errors=True)

    @classmethod
    def inject_faults(cls, stop):
        """Every half second: retryable faults for whoever comes next."""
        E = cls.E
        while not stop.wait(0.5):
            E.fault(match=SEARCH, status=503, times=2)
            E.fault(match="/ecom/v1/orders/", method="GET", status=429, times=1)
            E.fault(match="/members/v1/members/", method="POST", status=429, times=1,
                    headers={"Retry-After": "0"})

    @classmethod
    def sample_sockets(cls, stop):
        port = cls.emu_proc.port
        while not stop.wait(1.0):
            pids = [int(r[0]) for r in psql(
                "SELECT pid FROM pg_stat_activity WHERE datname = '%s' AND pid <> pg_backend_pid()"
                % DB)]
            for pid in pids:
                try:
                    states = sockets_of(pid, port)
                except OSError:
                    continue        # the backend ended meanwhile
                open_ = [s for s in states if s not in ("TIME_WAIT", "CLOSE")]
                cls.max_sockets = max(cls.max_sockets, len(open_))
                if len(open_) > MAX_SOCKETS_BUSY:
                    cls.socket_excess.append((pid, states))
            cls.samples += 1

    @classmethod
    def run_pgbench(cls):
        cls.log_path = server_log_path()
        log_offset = os.path.getsize(cls.log_path)
        cls.max_sockets = 0
        cls.samples = 0
        cls.socket_excess = []
        stop = threading.Event()
        threads = [threading.Thread(target=cls.inject_faults, args=(stop,), daemon=True),
                   threading.Thread(target=cls.sample_sockets, args=(stop,), daemon=True)]
        for t in threads:
            t.start()
        cmd = [pgbench_binary(), "-n", "-c", str(CLIENTS), "-j", "4", "-T", str(DURATION),
               "-f", cls.scan + "@2", "-f", cls.action + "@1", DB]
        try:
            cls.pgbench = subprocess.run(cmd, capture_output=True, text=True,
                                         timeout=DURATION + 300)
        finally:
            stop.set()
            for t in threads:
                t.join(30)
        cls.E.clear_faults()
        time.sleep(0.5)      # backends exit after pgbench disconnects
        cls.after = tcp_connections(cls.emu_proc.port)
        cls.after_local = local_connections(cls.emu_proc.port)
        cls.requests = cls.E.requests()
        with open(cls.log_path, "rb") as f:
            f.seek(log_offset)
            cls.log_text = f.read().decode("utf-8", "replace")
        print("\npgbench %s\n%s" % (" ".join(cmd[1:]), cls.pgbench.stdout))

    def test_pgbench_finished_without_errors(self):
        out = self.pgbench.stdout + self.pgbench.stderr
        self.assertEqual(self.pgbench.returncode, 0, out[-3000:])
        self.assertNotIn("ERROR", out)
        self.assertNotIn("aborted", out)
        m = re.search(r"number of transactions actually processed: (\d+)", out)
        self.assertTrue(m, out)
        self.assertGreater(int(m.group(1)), CLIENTS * 5)
        m = re.search(r"number of failed transactions: (\d+)", out)
        if m:
            self.assertEqual(int(m.group(1)), 0)

    def test_injected_faults_were_hit_and_absorbed(self):
        statuses = [r["status"] for r in self.requests]
        self.assertGreater(statuses.count(503), 10)
        self.assertGreater(statuses.count(429), 10)
        self.assertGreater(len(statuses), 1000)
        # every approve that Wix answered 429 was sent again and succeeded
        approves = [r for r in self.requests if r["path"].endswith("/approve")]
        self.assertGreater(len([r for r in approves if r["status"] == 200]), 10)

    def test_no_backend_crashed(self):
        self.assertNotIn("terminated by signal", self.log_text)
        self.assertNotIn("was terminated", self.log_text)
        self.assertNotIn("PANIC", self.log_text)
        self.assertNotIn("server closed the connection", self.pgbench.stderr)

    def test_no_backend_accumulates_connections(self):
        self.assertGreater(self.samples, 3)
        self.assertEqual(self.socket_excess[:5], [],
                         "backends holding more than %d connections" % MAX_SOCKETS_BUSY)
        print("most connections one backend held at a sample: %d" % self.max_sockets)
        self.assertGreaterEqual(self.max_sockets, 1)

    def test_no_socket_left_behind(self):
        client_open = [s for _, s in self.after if s not in ("TIME_WAIT", "CLOSE")]
        self.assertEqual(client_open, [], "sockets to the emulator still open after the run")
        # keep-alive: connections are reused, not one per request
        lingering = len(self.after) + len(self.after_local)
        print("TIME_WAIT after the run: %d (backend side %d, emulator side %d) for %d requests"
              % (lingering, len(self.after), len(self.after_local), len(self.requests)))
        self.assertLess(lingering, 0.05 * len(self.requests),
                        "%d sockets in TIME_WAIT for %d requests (%d closed by the backends, "
                        "%d by the emulator)" % (lingering, len(self.requests), len(self.after),
                                                 len(self.after_local)))

    def test_a_session_after_the_run_keeps_one_connection(self):
        s = Session(DB)
        try:
            for _ in range(20):
                res = s.run("SELECT count(*) FROM wix.orders WHERE payment_status = 'PAID';"
                            "SELECT wix_api('GET', '/ecom/v1/orders/' || id, NULL, 'emu') IS NOT NULL "
                            "FROM order_ids WHERE k = 1")
                self.assertIsNone(res.error, res.stderr)
            states = sockets_of(s.pid, self.emu_proc.port)
            self.assertEqual(states, ["ESTABLISHED"])
        finally:
            s.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
