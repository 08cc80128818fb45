"""The site's rate limit and the OAuth token, shared by every backend when
wix_admin is preloaded (issue 15, "Sharing the site's rate limit").

* rate limit: 8 sessions in two databases, through two servers on the same
  site, scan for about 70 s with requests_per_minute 60: the emulator's
  request log shows no more than 60 requests in any 60 seconds (the burst of
  10 is part of the 60: the bucket refills at the other 50 a minute);
* token: 8 new backends on one user mapping cause one token request, new
  backends later cause none, and after the emulator expires its tokens the
  8 sessions renew it once between them.

Without shared_preload_libraries the token test checks the fallback (a
token per backend) and the rate test is skipped (test_faults.py tests the
per-backend limiter).  Runs its own emulator (the request log must hold
only this suite's requests).  About 80 s.
"""
import threading
import time
import unittest

from fixtures import Emulator, create_database, items_of, psql, server_sql
from wixfault import EmulatorProcess, Session

DB = "wix_shared_limit"
DB2 = "wix_shared_limit2"
TOKEN = "/oauth2/token"
PER_MINUTE = 60
SCAN_SECONDS = 70
SESSIONS = 8

emu = None      # EmulatorProcess
E = None        # its control API
ORDERS = None   # orders a scan counts
MEMBERS = None  # members a scan counts
PRELOADED = None    # is wix_admin in shared_preload_libraries?


def setUpModule():
    global emu, E, ORDERS, MEMBERS, PRELOADED
    PRELOADED = psql("SELECT current_setting('shared_preload_libraries') "
                     "~ '(^|[ ,])wix_admin($|[ ,])'") == [["t"]]
    emu = EmulatorProcess("--orders", "300", "--members", "250", "--products", "5",
                          "--bookings", "5", "--seed", "15")
    E = Emulator(emu.url)
    # the databases do not limit; the servers "lim" do, with the same option
    limited = dict(requests_per_minute=str(PER_MINUTE))
    create_database(DB, servers=(
        server_sql("lim", emu.url, schema="lim", tables=("orders",), **limited) +
        server_sql("tok", emu.url, schema="tok", tables=("members",))))
    create_database(DB2, servers=server_sql("lim", emu.url, schema="lim",
                                            tables=("orders",), **limited))
    ORDERS = str(len([o for o in items_of(E.data("orders"), "orders")
                      if o["status"] != "INITIALIZED"]))
    MEMBERS = str(len(items_of(E.data("members"), "members")))


def tearDownModule():
    if emu is not None:
        emu.stop()


def run_together(sessions, sql):
    """Run sql in every session at once; their Results, in order."""
    results = [None] * len(sessions)
    start = threading.Barrier(len(sessions))

    def run(i):
        start.wait()
        results[i] = sessions[i].run(sql)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(sessions))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return results


class SharedTestCase(unittest.TestCase):
    def setUp(self):
        E.clear_faults()
        E.reset_log()

    def sessions(self, dbs):
        out = []
        for db in dbs:
            s = Session(db)
            self.addCleanup(s.close)
            out.append(s)
        return out


class SharedRateLimitTest(SharedTestCase):
    def setUp(self):
        if not PRELOADED:
            self.skipTest("the bucket is per backend without shared_preload_libraries")
        super().setUp()

    def test_sessions_together_stay_under_the_sites_limit(self):
        # half the sessions in each database: two servers, one site
        sessions = self.sessions([DB, DB2] * (SESSIONS // 2))
        scans = [0] * len(sessions)
        wrong = []
        deadline = time.monotonic() + SCAN_SECONDS

        def scan(i):
            while time.monotonic() < deadline:
                res = sessions[i].run("SELECT count(*) FROM lim.orders", timeout=300)
                if res.error is None:
                    scans[i] += 1
                    if res.rows != [[ORDERS]]:
                        wrong.append(res.rows)
                elif "57014" not in res.error:    # cancelled at the end
                    wrong.append(res.stderr)

        threads = [threading.Thread(target=scan, args=(i,)) for i in range(len(sessions))]
        for t in threads:
            t.start()
        time.sleep(SCAN_SECONDS)
        # the scans still waiting for the bucket are stopped, not awaited
        for s in sessions:
            psql("SELECT pg_cancel_backend(%d)" % s.pid)
        for t in threads:
            t.join(120)
        arrivals = sorted(r["time"] for r in E.requests())

        self.assertEqual(wrong, [])
        self.assertTrue(all(scans), "every session completed a scan: %r" % scans)
        busiest = max(sum(1 for t in arrivals[i:] if t < start + 60)
                      for i, start in enumerate(arrivals))
        self.assertLessEqual(busiest, PER_MINUTE, "requests in the busiest minute")
        # the sessions kept the site at its limit (each alone would send 60
        # a minute): 10 at once, then 50 a minute
        self.assertGreaterEqual(busiest, PER_MINUTE - 5)
        span = arrivals[-1] - arrivals[0]
        print("\n  %d requests in %.1f s, %d in the busiest minute, scans per session %r"
              % (len(arrivals), span, busiest, scans))
        self.assertLessEqual(len(arrivals), 10 + span * 50 / 60 + 1)
        self.assertEqual([r for r in E.requests() if r["status"] != 200], [])


class SharedTokenTest(SharedTestCase):

    def count_members(self, sessions):
        for res in run_together(sessions, "SELECT count(*) FROM tok.members"):
            self.assertIsNone(res.error, res.stderr)
            self.assertEqual(res.rows, [[MEMBERS]])

    def test_one_token_for_all_backends(self):
        # a user mapping nobody has used yet: no token anywhere
        psql("DROP SCHEMA tok CASCADE; DROP SERVER tok CASCADE;" +
             server_sql("tok", emu.url, schema="tok", tables=("members",)), db=DB)
        # (without preloading, each backend fetches its own)
        sessions = self.sessions([DB] * SESSIONS)
        self.count_members(sessions)
        self.assertEqual(len(E.requests(TOKEN)), 1 if PRELOADED else SESSIONS,
                         "8 new backends")

        # a connection pool's next connections: no token request
        E.reset_log()
        self.assertEqual(psql("SELECT count(*) FROM tok.members", db=DB), [[MEMBERS]])
        self.assertEqual(psql("SELECT count(*) FROM tok.members", db=DB), [[MEMBERS]])
        self.assertEqual(len(E.requests(TOKEN)), 0 if PRELOADED else 2)

        # Wix revokes the token: every session sees a 401 with it, and one
        # of them fetches the new one for all.  A 401 only wipes the shared
        # token of the generation that was refused, so a late 401 does not
        # throw away the token another backend just fetched: exactly one.
        E.expire_tokens()
        E.reset_log()
        self.count_members(sessions)
        self.assertEqual(len(E.requests(TOKEN)), 1 if PRELOADED else SESSIONS)
        self.assertGreaterEqual(len([r for r in E.requests() if r["status"] == 401]),
                                SESSIONS)

    def test_changed_credentials_do_not_get_the_old_token(self):
        s = self.sessions([DB])[0]
        self.assertEqual(s.value("SELECT count(*) FROM tok.members"), MEMBERS)
        psql("ALTER USER MAPPING FOR CURRENT_USER SERVER tok "
             "OPTIONS (SET client_secret 'not-it')", db=DB)
        self.addCleanup(psql, "ALTER USER MAPPING FOR CURRENT_USER SERVER tok "
                        "OPTIONS (SET client_secret 'wix-emulator-secret')", db=DB)
        E.reset_log()
        res = s.run("SELECT count(*) FROM tok.members")
        self.assertIn("POST /oauth2/token failed with HTTP 401", res.error or "", res.stderr)
        # a new backend with the new credentials asks too: the shared token
        # belongs to the old ones
        res = Session(DB)
        self.addCleanup(res.close)
        out = res.run("SELECT count(*) FROM tok.members")
        self.assertIn("POST /oauth2/token failed with HTTP 401", out.error or "", out.stderr)
        self.assertEqual([r["status"] for r in E.requests()], [401, 401])


if __name__ == "__main__":
    unittest.main(verbosity=2)
