"""Only a superuser may point a server away from Wix (issue 18).

A role that is no superuser but has USAGE on the wrapper may create servers;
their base_url must be Wix's own or under a prefix of the superuser-only
wix_admin.allowed_base_urls, checked when the server is created or altered
and again whenever a request is about to be sent (a change of owner, or of
the list, takes effect at once).  A plain TCP listener stands in for an
internal service: it must receive nothing from refused servers.

Uses the shared emulator (WIX_EMULATOR_URL).  About 5 seconds.
"""
import socket
import threading
import unittest

from fixtures import (EMULATOR_URL, SITE_ID, Emulator, create_database, create_login_role,
                      mapping_sql, psql, psql_error, server_sql)
from wixfault import Session

DB = "wix_security"
TEAM = "sec_team"
E = Emulator(EMULATOR_URL)


class Listener:
    """A loopback TCP socket that counts the connections it is offered."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.connections = 0
        self.running = True
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.sock.getsockname()[1]

    def _accept(self):
        while self.running:
            try:
                conn, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            self.connections += 1
            conn.close()

    def close(self):
        self.running = False
        self.thread.join()
        self.sock.close()


def team(sql, check=True):
    """Run sql as the non-superuser team role (its own login)."""
    return psql(sql, db=DB, user=TEAM, check=check)


def team_error(sql):
    return psql_error(sql, db=DB, user=TEAM)


def orders_table(schema, server):
    return ("CREATE FOREIGN TABLE %s.orders_%s (id text, number bigint) SERVER %s "
            "OPTIONS (resource 'orders');" % (schema, server, server))


def setUpModule():
    create_database(DB, servers="")
    create_login_role(TEAM)
    psql("""
        GRANT USAGE ON FOREIGN DATA WRAPPER wix_admin TO {r};
        CREATE SCHEMA team AUTHORIZATION {r};
    """.format(r=TEAM), db=DB)


def tearDownModule():
    psql("DROP DATABASE IF EXISTS %s;" % DB)
    psql("DROP ROLE IF EXISTS %s;" % TEAM)


class NonSuperuserServers(unittest.TestCase):

    def setUp(self):
        self.listener = Listener()
        E.reset_log()

    def tearDown(self):
        self.listener.close()
        self.assertEqual(self.listener.connections, 0,
                         "a refused server sent a request to the listener")

    def assertRefusedOption(self, err):
        self.assertIn("42501", err)
        self.assertIn('permission denied to set option "base_url"', err)
        self.assertIn("wix_admin.allowed_base_urls", err)

    def assertRefusedAtUse(self, err, server):
        self.assertIn("42501", err)
        self.assertIn('wix_admin server "%s" may not send requests to its base_url' % server, err)
        self.assertIn("is not a superuser", err)
        self.assertIn("OPTIONS (DROP base_url)", err)

    def test_loopback_http_refused(self):
        err = team_error(server_sql("t_loop", self.listener.url))
        self.assertRefusedOption(err)
        self.assertIn(self.listener.url, err)
        self.assertEqual(team("SELECT count(*) FROM pg_foreign_server WHERE srvname = 't_loop'"),
                         [["0"]])

    def test_other_https_host_refused(self):
        for url in ("https://internal.example.com", "https://10.0.0.1/ecom",
                    "https://www.wixapis.com.evil.example", "https://www.wixapis.com@evil.example",
                    "https://www.wixapis.com:8443"):
            with self.subTest(url=url):
                self.assertRefusedOption(team_error(server_sql("t_https", url)))

    def test_wix_itself_accepted(self):
        team(server_sql("t_wix", "https://www.wixapis.com/") +
             "ALTER SERVER t_wix OPTIONS (SET base_url 'https://www.wixapis.com');"
             "DROP SERVER t_wix CASCADE;")

    def test_alter_server_adding_base_url_refused(self):
        team(server_sql("t_alter", None))
        try:
            err = team_error("ALTER SERVER t_alter OPTIONS (ADD base_url '%s')" % self.listener.url)
            self.assertRefusedOption(err)
            self.assertEqual(team("SELECT srvoptions::text FROM pg_foreign_server "
                                  "WHERE srvname = 't_alter'"),
                             [["{site_id=%s}" % SITE_ID]])
        finally:
            team("DROP SERVER t_alter CASCADE;")

    def test_setting_the_list_needs_superuser(self):
        err = team_error("SET wix_admin.allowed_base_urls = '%s'" % self.listener.url)
        self.assertIn('permission denied to set parameter "wix_admin.allowed_base_urls"', err)
        for bad in ("not-a-url", "ftp://proxy.example.com", "https://proxy.example.com/?q=1"):
            err = psql_error("SET wix_admin.allowed_base_urls = '%s'" % bad, db=DB)
            self.assertIn('"%s" is not an absolute http or https URL' % bad, err)
        err = psql_error("SET wix_admin.allowed_base_urls = 'https://user@proxy.example.com'", db=DB)
        self.assertIn('without user name, query or fragment', err)

    def test_owner_changed_from_superuser_refused_at_use(self):
        # the superuser's server works for the team through its mapping ...
        psql(server_sql("handed", EMULATOR_URL) + mapping_sql("handed", role=TEAM) +
             orders_table("team", "handed") +
             "GRANT USAGE ON FOREIGN SERVER handed TO %s;"
             "GRANT SELECT ON ALL TABLES IN SCHEMA team TO %s;" % (TEAM, TEAM), db=DB)
        psql(server_sql("handed_dead", self.listener.url) + mapping_sql("handed_dead", role=TEAM) +
             orders_table("team", "handed_dead") +
             "GRANT SELECT ON team.orders_handed_dead TO %s;" % TEAM, db=DB)
        try:
            rows = team("SELECT count(*) > 0 FROM team.orders_handed")
            self.assertEqual(rows, [["t"]])
            self.assertGreater(len(E.requests()), 0)
            # ... until it is handed to the team: refused at the next query
            psql("ALTER SERVER handed OWNER TO %s;"
                 "ALTER SERVER handed_dead OWNER TO %s;" % (TEAM, TEAM), db=DB)
            E.reset_log()
            self.assertRefusedAtUse(team_error("SELECT count(*) FROM team.orders_handed"), "handed")
            self.assertRefusedAtUse(team_error("SELECT * FROM team.orders_handed_dead"),
                                    "handed_dead")
            # a superuser's own calls through that server are refused too
            err = psql_error("SELECT wix_api('GET', '/members/v1/members/x', NULL, 'handed_dead')",
                             db=DB)
            self.assertRefusedAtUse(err, "handed_dead")
            self.assertEqual(E.requests(), [])
            # the owner may always return the server to Wix
            team("ALTER SERVER handed_dead OPTIONS (DROP base_url);")
            self.assertEqual(team("SELECT srvoptions::text FROM pg_foreign_server "
                                  "WHERE srvname = 'handed_dead'"),
                             [["{site_id=%s}" % SITE_ID]])
            # and cannot add it back
            self.assertRefusedOption(team_error("ALTER SERVER handed_dead OPTIONS (ADD base_url '%s')"
                                                % self.listener.url))
        finally:
            psql("DROP SERVER IF EXISTS handed CASCADE; DROP SERVER IF EXISTS handed_dead CASCADE;",
                 db=DB)

    def test_allowed_prefix_accepted_then_removed(self):
        prefix = EMULATOR_URL + "/"
        psql("ALTER ROLE %s IN DATABASE %s SET wix_admin.allowed_base_urls = "
             "'https://wix-proxy.example.com/wix, %s'" % (TEAM, DB, prefix), db=DB)
        try:
            self.assertEqual(team("SHOW wix_admin.allowed_base_urls"),
                             [["https://wix-proxy.example.com/wix, %s" % prefix]])
            team(server_sql("allowed", EMULATOR_URL) + orders_table("team", "allowed"))
            rows = team("SELECT count(*) FROM team.orders_allowed")
            self.assertGreater(int(rows[0][0]), 0)
            self.assertGreater(len(E.requests("/ecom/v1/orders/search")), 0)
            # prefixes match whole path segments of the same scheme, host and port
            team(server_sql("proxied", "https://WIX-PROXY.example.com:443/wix/v2/") +
                 "DROP SERVER proxied CASCADE;")
            for url in ("https://wix-proxy.example.com/wixer", "https://wix-proxy.example.com",
                        "https://wix-proxy.example.com/wix/../admin",
                        "https://wix-proxy.example.com/wix/%2e%2e/admin",
                        "https://wix-proxy.example.com:8443/wix",
                        "https://wix-proxy.example.com.evil.example/wix",
                        "https://x@wix-proxy.example.com/wix",
                        self.listener.url):
                with self.subTest(url=url):
                    self.assertRefusedOption(team_error(server_sql("t_prefix", url)))
        finally:
            psql("ALTER ROLE %s IN DATABASE %s RESET wix_admin.allowed_base_urls" % (TEAM, DB),
                 db=DB)
        # the prefix is gone: the team's server is refused at its next query
        E.reset_log()
        self.assertRefusedAtUse(team_error("SELECT count(*) FROM team.orders_allowed"), "allowed")
        self.assertEqual(E.requests(), [])
        team("DROP SERVER allowed CASCADE;")

    def test_list_change_reaches_a_cached_connection(self):
        """One backend: the connection it keeps for the mapping is checked
        again when the list changes (an allowed prefix later removed)."""
        session = Session(DB)
        try:
            for sql in ("SET wix_admin.allowed_base_urls = '%s'" % EMULATOR_URL,
                        "SET ROLE %s" % TEAM,
                        server_sql("cached", EMULATOR_URL) + orders_table("team", "cached")):
                self.assertIsNone(session.run(sql).error, sql)
            self.assertGreater(int(session.value("SELECT count(*) FROM team.orders_cached")), 0)
            self.assertGreater(len(E.requests("/ecom/v1/orders/search")), 0)
            E.reset_log()
            for sql in ("RESET ROLE", "SET wix_admin.allowed_base_urls = ''", "SET ROLE %s" % TEAM):
                self.assertIsNone(session.run(sql).error, sql)
            res = session.run("SELECT count(*) FROM team.orders_cached")
            self.assertEqual(res.sqlstate, "42501", res.stderr)
            self.assertRefusedAtUse(res.stderr, "cached")
            self.assertEqual(E.requests(), [])
        finally:
            session.close()
            psql("DROP SERVER IF EXISTS cached CASCADE;", db=DB)


class SuperuserServers(unittest.TestCase):

    def test_superuser_may_use_any_loopback_url(self):
        psql(server_sql("su_emu", EMULATOR_URL) + orders_table("public", "su_emu"), db=DB)
        try:
            rows = psql("SELECT count(*) > 0 FROM public.orders_su_emu", db=DB)
            self.assertEqual(rows, [["t"]])
        finally:
            psql("DROP SERVER su_emu CASCADE;", db=DB)


if __name__ == "__main__":
    unittest.main(verbosity=2)
