"""Secrets never leak (issue 5, requirement 7).

With the user mappings in place, the server logs at debug5 while a session
(client_min_messages = debug5 too) runs scans of every table through OAuth
and API-key mappings, EXPLAIN VERBOSE / ANALYZE, admin calls and failures
(401s, revoked tokens, 5xx with retries, timeouts, bad credentials,
malformed bodies, unreachable servers).  Then neither the client secret, the
API keys (right and wrong ones) nor any access token the emulator minted
("OauthNG.JWS." prefix) may appear in: the server log written meanwhile,
any message or output the client saw, EXPLAIN output, pg_dump of the
database run by another role, pg_user_mappings and
information_schema.user_mapping_options read by another role.

Runs its own emulator.  About 15 seconds.
"""
import json
import os
import re
import subprocess
import unittest

from fixtures import (API_KEY, CLIENT_ID, CLIENT_SECRET, KEY, Emulator, create_database,
                      create_login_role, items_of, psql, server_sql)
from wixfault import EmulatorProcess, Session, free_port, server_log_path

DB = "wix_secrets"
OTHER = "wix_secrets_auditor"
SEARCH = "/ecom/v1/orders/search"
WRONG_SECRET = "wrong-secret-5d1f8a0c"
WRONG_KEY = "IST.wrong-key-7c2e9b41"
TOKEN_PREFIX = "OauthNG.JWS."
# each credential, and a distinctive part of it (a leak may be partial)
NEEDLES = [CLIENT_SECRET, "emulator-secret", API_KEY, "emulator-api-key",
           WRONG_SECRET, "5d1f8a0c", WRONG_KEY, "7c2e9b41", TOKEN_PREFIX, "OauthNG"]

emu_proc = None
E = None


def mask(line):
    """line with every credential and token replaced by a placeholder."""
    line = re.sub(r"OauthNG\.JWS\.[A-Za-z0-9_\-]*", "<token>", line)
    for needle in sorted(NEEDLES, key=len, reverse=True):
        line = line.replace(needle, "<secret>")
    return line


def setUpModule():
    global emu_proc, E
    emu_proc = EmulatorProcess("--orders", "250", "--members", "40", "--products", "12",
                               "--bookings", "12", "--seed", "11")
    E = Emulator(emu_proc.url)


def tearDownModule():
    if emu_proc is not None:
        emu_proc.stop()


class SecretsTest(unittest.TestCase):
    """One scenario; each test_ method checks one place a secret might show."""

    collected = []          # every text the client saw
    explains = []
    log_text = ""
    log_path = None

    @classmethod
    def setUpClass(cls):
        url = emu_proc.url
        dead = "http://127.0.0.1:%d" % free_port()
        # the mappings exist before logging starts (README: log_statement
        # would log their DDL; that is PostgreSQL's, documented there)
        create_database(DB, requests_per_minute=None, servers=(
            server_sql("oauth", url, schema="wix") +
            server_sql("keyed", url, KEY, schema="keyed") +
            server_sql("badsecret", url, {"client_id": CLIENT_ID, "client_secret": WRONG_SECRET}) +
            server_sql("badkey", url, {"api_key": WRONG_KEY}) +
            server_sql("down", dead, KEY, connect_timeout="1")), sql="""
            CREATE SCHEMA bad;
            CREATE FOREIGN TABLE bad.secret_orders (id text) SERVER badsecret
              OPTIONS (resource 'orders');
            CREATE FOREIGN TABLE bad.key_orders (id text) SERVER badkey
              OPTIONS (resource 'orders');
            CREATE FOREIGN TABLE bad.down_orders (id text) SERVER down
              OPTIONS (resource 'orders');
        """)
        create_login_role(OTHER)
        psql("""
            GRANT USAGE ON SCHEMA wix, keyed, bad, wix_admin TO {r};
            GRANT SELECT ON ALL TABLES IN SCHEMA wix, keyed, bad, wix_admin TO {r};
            GRANT SELECT ON ALL SEQUENCES IN SCHEMA wix_admin TO {r};
        """.format(r=OTHER), db=DB)

        cls.log_path = server_log_path()
        psql("ALTER SYSTEM SET log_min_messages = debug5;"
             "ALTER SYSTEM SET log_error_verbosity = verbose;"
             "ALTER SYSTEM SET log_min_error_statement = debug5;")
        psql("SELECT pg_reload_conf(); SELECT pg_sleep(0.3);")
        offset = os.path.getsize(cls.log_path)
        try:
            cls.run_scenario()
        finally:
            psql("ALTER SYSTEM RESET log_min_messages;"
                 "ALTER SYSTEM RESET log_error_verbosity;"
                 "ALTER SYSTEM RESET log_min_error_statement;")
            psql("SELECT pg_reload_conf();")
            E.clear_faults()
            E.config(token_ttl=14400)
        with open(cls.log_path, "rb") as f:
            f.seek(offset)
            cls.log_text = f.read().decode("utf-8", "replace")

    @classmethod
    def run_scenario(cls):
        members = [m["id"] for m in items_of(E.data("members"), "members")
                   if m.get("loginEmail") != "owner@wix-emulator.test"]
        order = items_of(E.data("orders"), "orders")[0]["id"]
        s = Session(DB)
        cls.session_pid = s.pid

        def run(sql):
            res = s.run(sql)
            cls.collected.append(res.stderr)
            cls.collected.append("\n".join("\t".join(r) for r in res.rows))
            return res

        try:
            run("SET client_min_messages = debug5; SET wix_admin.retry_base_delay = 10;"
                "SET wix_admin.requests_per_minute = 0;")
            # scans, both auth modes
            for schema in ("wix", "keyed"):
                for table in ("orders", "members", "products", "bookings"):
                    run("SELECT count(*) FROM %s.%s" % (schema, table))
                run("SELECT * FROM %s.orders WHERE payment_status = 'PAID' ORDER BY created_date "
                    "DESC LIMIT 3" % schema)
                for explain in ("EXPLAIN VERBOSE", "EXPLAIN (ANALYZE, VERBOSE)"):
                    res = run("%s SELECT id, total FROM %s.orders WHERE status = 'APPROVED' "
                              "AND number > 10010 ORDER BY number LIMIT 5" % (explain, schema))
                    cls.explains.append("\n".join("\t".join(r) for r in res.rows))
            # admin calls, both modes, a success and a Wix error each
            run("SELECT wix_approve_member('%s', server => 'oauth')" % members[0])
            run("SELECT wix_block_member('%s', server => 'keyed')" % members[1])
            run("SELECT wix_api('GET', '/ecom/v1/orders/%s', NULL, 'oauth')" % order)
            run("SELECT wix_api('GET', '/ecom/v1/orders/no-such-order', NULL, 'keyed')")
            run("SELECT wix_api('POST', '/members/v1/members/no-such-member/approve', "
                "'{}'::jsonb, 'oauth')")
            # a 401 mid-scan renews the token; a revoked token too
            E.fault(match=SEARCH, times=1)
            E.fault(match=SEARCH, status=401, times=1)
            run("SELECT count(*) FROM wix.orders")
            E.expire_tokens()
            run("SELECT count(*) FROM wix.members")
            # a token the emulator keeps refusing
            E.fault(match=SEARCH, status=401, times=5)
            run("SELECT count(*) FROM wix.orders")
            run("SELECT count(*) FROM keyed.orders")
            E.clear_faults()
            # 5xx until retries run out, for a read and an action
            E.fault(match=SEARCH, status=500, times=10)
            run("SET wix_admin.max_retries = 2; SELECT count(*) FROM wix.orders")
            E.clear_faults()
            E.fault(match="/members/v1/members/", method="POST", status=503, times=1)
            run("SELECT wix_approve_member('%s', server => 'oauth')" % members[2])
            E.clear_faults()
            # a timeout
            E.fault(match=SEARCH, hang_ms=5000, times=3)
            run("SET wix_admin.request_timeout = 1; SELECT count(*) FROM keyed.orders;"
                "RESET wix_admin.request_timeout")
            E.clear_faults()
            # statement_timeout during a hung request
            E.fault(match=SEARCH, hang_ms=5000, times=1)
            run("SET statement_timeout = '500ms'; SELECT count(*) FROM wix.orders;"
                "RESET statement_timeout")
            E.clear_faults()
            # malformed bodies
            E.fault(match=SEARCH, status=200, body='{"orders": [', times=1)
            run("SELECT count(*) FROM keyed.orders")
            E.fault(match=SEARCH, status=200, body="<html>oops</html>", times=1)
            run("SELECT count(*) FROM wix.orders")
            # wrong credentials, an unreachable server, a bad IMPORT
            run("SELECT count(*) FROM bad.secret_orders")
            run("SELECT count(*) FROM bad.key_orders")
            run("SELECT count(*) FROM bad.down_orders")
            run("CREATE SCHEMA imp; IMPORT FOREIGN SCHEMA nope FROM SERVER oauth INTO imp;")
            run("IMPORT FOREIGN SCHEMA wix FROM SERVER oauth INTO imp;")
            res = run("EXPLAIN VERBOSE SELECT * FROM imp.orders")
            cls.explains.append("\n".join("\t".join(r) for r in res.rows))
            run("DROP SCHEMA imp CASCADE")
            # the session still works, with a fresh token
            E.expire_tokens()
            run("RESET wix_admin.max_retries; SELECT count(*) FROM wix.orders")
            run("SELECT * FROM wix_admin.action_log")
        finally:
            s.close()
        # the same in a fresh backend, with a short-lived token renewed on time
        E.config(token_ttl=2)
        res = subprocess.run(["psql", "-X", "-d", DB, "-v", "VERBOSITY=verbose"],
                             input="SET client_min_messages = debug5;\n"
                                   "SELECT count(*) FROM wix.bookings;\n"
                                   "SELECT pg_sleep(1.2);\n"
                                   "SELECT count(*) FROM wix.bookings;\n",
                             capture_output=True, text=True, timeout=60)
        cls.collected += [res.stdout, res.stderr]

    def assertNoSecret(self, text, where):
        """None of NEEDLES in text; a failure shows where, the secret masked."""
        for needle in NEEDLES:
            lines = [l for l in text.splitlines() if needle in l]
            masked = [mask(l)[:300] for l in lines[:3]]
            if lines:
                self.fail("%s holds a credential (%d line(s)), e.g.:\n%s"
                          % (where, len(lines), "\n".join(masked)))

    # -- sanity: the scenario did what it should, and was logged ----------

    def test_scenario_reached_wix_and_failed_where_expected(self):
        seen = "\n".join(self.collected)
        self.assertIn("HV00M: Wix API request POST %s failed with HTTP 500 after 3 attempts" % SEARCH,
                      seen)
        self.assertIn("Wix API request POST /oauth2/token failed with HTTP", seen)
        self.assertIn("failed with HTTP 401", seen)
        self.assertIn("timed out", seen)
        self.assertIn("canceling statement due to statement timeout", seen)
        self.assertIn("invalid JSON in Wix API response", seen)
        self.assertIn("could not reach Wix", seen)
        self.assertGreater(len(E.requests("/oauth2/token")), 3)
        self.assertEqual({r["headers"]["authorization"] for r in E.requests()
                          if r["path"] != "/oauth2/token"} - {"token", "api_key", "invalid"}, set())

    def test_server_log_was_written_at_debug_level(self):
        self.assertIn("DEBUG:", self.log_text)
        self.assertIn("wix_admin: POST %s" % SEARCH, self.log_text)
        self.assertIn("failed with HTTP 401", self.log_text)
        self.assertIn("[%d]" % self.session_pid, self.log_text)

    # -- where secrets must not be --------------------------------------

    def test_server_log(self):
        self.assertNoSecret(self.log_text, "the server log (%s)" % self.log_path)

    def test_client_messages_and_results(self):
        self.assertNoSecret("\n".join(self.collected), "what the client saw")

    def test_explain_verbose(self):
        self.assertEqual(len(self.explains), 5)
        text = "\n".join(self.explains)
        self.assertIn("Wix request body:", text)
        self.assertNoSecret(text, "EXPLAIN VERBOSE")

    def test_pg_dump_as_another_role(self):
        res = subprocess.run(["pg_dump", "-U", OTHER, "-d", DB], capture_output=True,
                             text=True, timeout=120)
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertIn("CREATE USER MAPPING FOR postgres SERVER oauth", res.stdout)
        self.assertIn("CREATE SERVER keyed", res.stdout)
        self.assertNoSecret(res.stdout + res.stderr, "pg_dump as %s" % OTHER)

    def test_pg_user_mappings_as_another_role(self):
        rows = psql("SELECT srvname, usename, umoptions FROM pg_user_mappings ORDER BY 1",
                    db=DB, user=OTHER)
        self.assertEqual([r[0] for r in rows],
                         ["badkey", "badsecret", "down", "keyed", "oauth"])
        self.assertEqual({r[2] for r in rows}, {""})     # hidden from others
        text = json.dumps(psql("SELECT * FROM pg_user_mappings", db=DB, user=OTHER))
        text += json.dumps(psql("SELECT * FROM information_schema.user_mapping_options",
                                db=DB, user=OTHER))
        self.assertNoSecret(text, "pg_user_mappings as %s" % OTHER)

    def test_another_role_cannot_use_or_see_the_mapping(self):
        res = subprocess.run(["psql", "-X", "-d", DB, "-U", OTHER, "-v", "VERBOSITY=verbose",
                              "-c", "EXPLAIN VERBOSE SELECT * FROM wix.orders",
                              "-c", "SELECT count(*) FROM keyed.orders"],
                             capture_output=True, text=True, timeout=60)
        self.assertIn('role "%s" has no user mapping for server' % OTHER, res.stderr)
        self.assertNoSecret(res.stdout + res.stderr, "%s's queries" % OTHER)


if __name__ == "__main__":
    unittest.main(verbosity=2)
