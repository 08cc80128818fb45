"""Mirrors carried by logical replication (issue 15): mirror tables are plain
tables with primary keys, so a publication on them reaches a reporting
replica or warehouse.  The publisher is the test cluster when it runs with
wal_level = logical (pg_virtualenv -o wal_level=logical), else a cluster of
this suite's own; the subscriber is a second cluster of the same release this
suite creates in a temporary directory (initdb + pg_ctl, as the postgres
user when run as root) and removes at the end, on a private emulator.

Flow: create_mirror on wix.orders (incremental) and wix.members (full
refresh), first refresh, CREATE PUBLICATION for both tables, the same
tables on the subscriber (pg_dump -s), CREATE SUBSCRIPTION; the initial copy
arrives; then orders are changed and a member deleted in the emulator, the
mirrors refreshed, and the subscriber must receive the changed rows and
lose the deleted one."""
import os
import shutil
import socket
import subprocess
import tempfile
import time
import unittest

from fixtures import Emulator, create_database, psql, server_sql, wix
from wixfault import EmulatorProcess

DB = "wix_mirror_repl"
PUBLICATION = "wix_mirror_pub"
SUBSCRIPTION = "wix_mirror_sub"
TABLES = ("wix_mirror.orders", "wix_mirror.members")
# the programs of the release under test (pg_virtualenv sets PG_CONFIG)
BIN = subprocess.run([os.environ.get("PG_CONFIG", "pg_config"), "--bindir"],
                     check=True, capture_output=True, text=True).stdout.strip()
WAIT = 30          # seconds a change may take to reach the subscriber
# both sides render timestamps the same way for the row checksums
ENV = {"PGTZ": "UTC", "PGDATESTYLE": "ISO"}


def query(sql):
    return psql(sql, db=DB, extra_env=ENV)


def value(sql):
    return query(sql)[0][0]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def checksum_sql(table):
    """Row count and an md5 of every row's text, in key order."""
    return ("SELECT count(*) || ' ' || coalesce(md5(string_agg(t::text, E'\\n' ORDER BY t::text)), '')"
            " FROM %s t" % table)


class Cluster:
    """A cluster of this suite: initdb into a temporary directory, pg_ctl
    start on a free port, listening on a Unix socket in that directory only,
    with the settings given."""

    def __init__(self, name, **settings):
        self.dir = tempfile.mkdtemp(prefix="wix_%s." % name)
        self.data = os.path.join(self.dir, "data")
        self.port = free_port()
        self.started = False
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            shutil.chown(self.dir, "postgres", "postgres")
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        self.env = env
        self.name = name
        options = "-p %d -k %s -c listen_addresses='' -c fsync=off -c TimeZone=UTC" % (
            self.port, self.dir)
        options += "".join(" -c %s=%s" % kv for kv in settings.items())
        try:
            self.run([BIN + "/initdb", "-D", self.data, "-U", "postgres", "-A", "trust",
                      "--no-sync", "-E", "UTF8", "--locale", "C"])
            self.started = True
            self.run([BIN + "/pg_ctl", "-D", self.data, "-l", os.path.join(self.dir, "log"),
                      "-w", "-t", "60", "start", "-o", options])
        except BaseException:
            self.stop()
            raise

    def run(self, cmd, **kw):
        if self.as_postgres:
            cmd = ["runuser", "-u", "postgres", "--"] + cmd
        return subprocess.run(cmd, check=True, capture_output=True, text=True,
                              env=self.env, timeout=120, **kw)

    def psql(self, sql, db=DB, check=True):
        proc = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1",
                               "-h", self.dir, "-p", str(self.port), "-U", "postgres", "-d", db],
                              input=sql, capture_output=True, text=True,
                              env=dict(self.env, **ENV), timeout=120)
        if proc.returncode != 0:
            if check:
                raise AssertionError("%s: %s\n%s" % (self.name, sql, proc.stderr))
            return None
        return [line.split("\t") for line in proc.stdout.splitlines() if line != ""]

    def log(self):
        try:
            with open(os.path.join(self.dir, "log")) as f:
                return f.read()[-3000:]
        except OSError:
            return ""

    def stop(self):
        if self.started:
            subprocess.run((["runuser", "-u", "postgres", "--"] if self.as_postgres else []) +
                           [BIN + "/pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop"],
                           capture_output=True, env=self.env, timeout=60)
            self.started = False
        shutil.rmtree(self.dir, ignore_errors=True)


class MirrorReplication(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pub = cls.sub = cls.proc = None
        cls.saved_env = dict(os.environ)
        try:
            if psql("SHOW wal_level")[0][0] != "logical":
                # a publisher of our own; fixtures.psql and pg_dump follow PG*
                cls.pub = Cluster("publisher", wal_level="logical")
                for k in ("PGPASSWORD", "PGSERVICE", "PGDATABASE", "PGSYSCONFDIR"):
                    os.environ.pop(k, None)
                os.environ.update(PGHOST=cls.pub.dir, PGPORT=str(cls.pub.port),
                                  PGUSER="postgres")
            cls.proc = EmulatorProcess("--orders", "300", "--members", "120", "--products", "5",
                                       "--bookings", "5", "--catalog", "V3")
            cls.emu = Emulator(cls.proc.url)
            drop_publisher_side()
            create_database(DB, servers=server_sql("emu", cls.proc.url, schema="wix",
                                                   tables=["orders", "members"]))
            cls.sub = Cluster("subscriber")
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            if cls.sub is not None:
                # drops the publisher's slot too
                cls.sub.psql("DROP SUBSCRIPTION IF EXISTS %s" % SUBSCRIPTION, check=False)
                cls.sub.stop()
            drop_publisher_side()
        finally:
            if cls.proc is not None:
                cls.proc.stop()
            if cls.pub is not None:
                cls.pub.stop()
            os.environ.clear()
            os.environ.update(cls.saved_env)

    def wait_for(self, what, check):
        """Polls check() until it is true, at most WAIT seconds."""
        deadline = time.monotonic() + WAIT
        while True:
            if check():
                return
            if time.monotonic() > deadline:
                self.fail("the subscriber did not get %s within %d s; its log:\n%s"
                          % (what, WAIT, self.sub.log()))
            time.sleep(0.2)

    def same_rows(self, table):
        return self.sub.psql(checksum_sql(table))[0][0] == value(checksum_sql(table))

    def test_subscriber_receives_refreshed_rows(self):
        for table in ("orders", "members"):
            self.assertEqual(value("SELECT wix_admin.create_mirror('wix.%s', refresh_every => NULL)"
                                   % table), "wix_mirror." + table)
        refresh()
        n_orders = int(value("SELECT count(*) FROM wix_mirror.orders"))
        n_members = int(value("SELECT count(*) FROM wix_mirror.members"))
        self.assertGreater(n_orders, 250)
        self.assertEqual(n_members, 120)

        # publisher: a publication on the mirror tables; the keys are their
        # replica identity, so updates and deletes are published
        query("CREATE PUBLICATION %s FOR TABLE %s" % (PUBLICATION, ", ".join(TABLES)))
        self.assertEqual(value("SELECT string_agg(relreplident::text, '') FROM pg_class "
                               "WHERE oid IN ('wix_mirror.orders'::regclass, "
                               "'wix_mirror.members'::regclass)"), "dd")

        # subscriber: the same tables (schema only) and a subscription
        dump = subprocess.run(["pg_dump", "-s", "-x", "-O", "-d", DB] +
                              sum((["-t", t] for t in TABLES), []),
                              capture_output=True, text=True, check=True, timeout=60).stdout
        self.assertIn("PRIMARY KEY (id)", dump)
        self.sub.psql("CREATE DATABASE %s" % DB, db="postgres")
        self.sub.psql("CREATE SCHEMA wix_mirror;\n" + dump)
        conninfo = "host=%s port=%s user=%s dbname=%s" % (
            os.environ.get("PGHOST", "localhost"), os.environ["PGPORT"],
            os.environ.get("PGUSER", "postgres"), DB)
        if os.environ.get("PGPASSWORD"):
            conninfo += " password=" + os.environ["PGPASSWORD"]
        self.sub.psql("CREATE SUBSCRIPTION %s CONNECTION '%s' PUBLICATION %s"
                      % (SUBSCRIPTION, conninfo, PUBLICATION))

        # the initial copy
        self.wait_for("the initial copy",
                      lambda: all(self.same_rows(t) for t in TABLES))
        self.assertEqual(self.sub.psql("SELECT count(*) FROM wix_mirror.orders")[0][0],
                         str(n_orders))

        # changes in Wix: two orders archived, one cancelled, one member deleted
        changed = [r[0] for r in query(
            "SELECT id FROM wix_mirror.orders WHERE status = 'APPROVED' AND NOT archived "
            "AND payment_status = 'PAID' ORDER BY id LIMIT 3")]
        self.assertEqual(len(changed), 3)
        for order_id in changed[:2]:
            wix(self.emu, "PATCH", "/ecom/v1/orders/" + order_id,
                {"order": {"id": order_id, "archived": True}})
        wix(self.emu, "POST", "/ecom/v1/orders/%s/cancel" % changed[2],
            {"sendOrderCanceledEmail": False})
        gone = value("SELECT id FROM wix_mirror.members ORDER BY id LIMIT 1")
        wix(self.emu, "DELETE", "/members/v1/members/" + gone)

        # not refreshed yet: nothing to carry
        time.sleep(1)
        self.assertEqual(self.sub.psql("SELECT count(*) FROM wix_mirror.orders "
                                       "WHERE archived OR status = 'CANCELED'")[0][0],
                         value("SELECT count(*) FROM wix_mirror.orders "
                               "WHERE archived OR status = 'CANCELED'"))
        before = int(value("SELECT count(*) FROM wix_mirror.orders WHERE id IN (%s) "
                           "AND (archived OR status = 'CANCELED')"
                           % ", ".join("'%s'" % i for i in changed)))
        self.assertEqual(before, 0)

        refresh()
        ids = ", ".join("'%s'" % i for i in changed)
        self.assertEqual(value("SELECT count(*) FROM wix_mirror.orders WHERE id IN (%s) "
                               "AND archived" % ids), "2")
        self.assertEqual(value("SELECT status FROM wix_mirror.orders WHERE id = '%s'"
                               % changed[2]), "CANCELED")
        self.assertEqual(value("SELECT count(*) FROM wix_mirror.members WHERE id = '%s'" % gone), "0")

        # ... and the subscriber gets them
        self.wait_for("the refreshed orders",
                      lambda: self.sub.psql("SELECT count(*) FROM wix_mirror.orders WHERE id IN (%s) "
                                            "AND (archived OR status = 'CANCELED')" % ids)[0][0] == "3")
        self.wait_for("the deleted member",
                      lambda: self.sub.psql("SELECT count(*) FROM wix_mirror.members WHERE id = '%s'"
                                            % gone)[0][0] == "0")
        for table in TABLES:
            self.assertTrue(self.same_rows(table), table)
        self.assertEqual(self.sub.psql("SELECT count(*) FROM wix_mirror.members")[0][0],
                         str(n_members - 1))


def refresh():
    """Both mirrors, now (refresh_every NULL: only when called)."""
    for table in TABLES:
        query("CALL wix_admin.refresh_mirror('%s')" % table)


def drop_publisher_side():
    """The publication, slots left by an earlier run, the database."""
    exists = psql("SELECT count(*) FROM pg_database WHERE datname = '%s'" % DB)[0][0] == "1"
    if exists:
        psql("DROP PUBLICATION IF EXISTS %s" % PUBLICATION, db=DB)
    psql("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
         "WHERE database = '%s' AND NOT active" % DB)
    psql("DROP DATABASE IF EXISTS %s" % DB)


if __name__ == "__main__":
    unittest.main(verbosity=2)
