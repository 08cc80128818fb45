"""Upgrading and moving wix_admin (issue 16): ALTER EXTENSION wix_admin
UPDATE from 0.1 with data in it (through 0.2 to 0.3), and pg_dump /
pg_restore into a new cluster.

UpgradeFrom01: a database at version 0.1 (CREATE EXTENSION ... VERSION
'0.1') with a server, user mappings, imported foreign tables, mirrors with
rows, action_log rows and queued, done and failed actions is updated; no row
is lost, the registry's new columns get their values, the actions queued
before the update are delivered once (the emulator's request log), done ones
never again, the grant the update cannot keep is named, and every object of
the extension equals a fresh 0.3 install:
catalog_snapshot() below describes each member of the extension (functions
by pg_get_functiondef, views by pg_get_viewdef, tables by their columns,
defaults, constraints, indexes, triggers, comments and ACLs, sequences,
the schema, the wrapper, pg_init_privs, the extension's config tables) and
the data its script installs (mirror_keys).  A database left at 0.1 keeps
working with the new library, its functions lacking the parameters added
since.

DumpRestore: a 0.3 database with servers, user mappings, foreign tables,
mirrors, action_log rows and queued and done actions, dumped with pg_dump
-Fc and restored with pg_restore into a second cluster of the same release
this suite makes (wix_admin preloaded, its worker delivering): the foreign
tables read, the mirrors are mirrors and refresh, the audit log came along,
and no action of the source is sent again from the restored database (the
queue is not dumped: its pending actions stay the source's to deliver).

A private emulator serves both clusters.  Runs inside pg_virtualenv with
shared_preload_libraries=wix_admin (test/run_in_cluster.sh)."""
import difflib
import json
import os
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixtures import (API_KEY, Emulator, create_login_role, items_of,  # noqa: E402
                      mapping_sql, psql, server_sql, wix)
from test_mirror_replication import Cluster  # noqa: E402
from wixfault import EmulatorProcess  # noqa: E402

OLD = "0.1"
NEW = "0.3"
UPDATE_PATH = "0.1--0.2--0.3"
UPDATED = "wix_upgrade_updated"   # created at 0.1, then updated
FRESH = "wix_upgrade_fresh"       # created at 0.3
OLD_FRESH = "wix_upgrade_old"     # created at 0.1, never updated
SOURCE = "wix_dump_source"        # dumped
CLERK = "wix_upgrade_clerk"       # a second role with its own user mapping

emu = None
emu_proc = None
taken = set()


def setUpModule():
    global emu, emu_proc
    emu_proc = EmulatorProcess("--orders", "300", "--members", "60", "--products", "5",
                               "--bookings", "5", "--catalog", "V3")
    emu = Emulator(emu_proc.url)
    for db in (UPDATED, FRESH, OLD_FRESH, SOURCE):   # of an earlier run
        psql("DROP DATABASE IF EXISTS %s;" % db)
    create_login_role(CLERK)


def tearDownModule():
    if emu_proc is not None:
        emu_proc.stop()


def value(sql, db):
    rows = psql(sql, db=db)
    return rows[0][0] if rows else None


def new_database(name, version=None, deliver_in_worker=False):
    """Database name with wix_admin at version (None: the default), the
    worker delivering only when deliver_in_worker, mirrors refreshed only
    when called."""
    psql("DROP DATABASE IF EXISTS %s;" % name)
    psql("CREATE DATABASE %s;" % name)
    psql("ALTER DATABASE %s SET wix_admin.requests_per_minute = 0;" % name)
    psql("ALTER DATABASE %s SET wix_admin.default_server = 'emu';" % name)
    psql("ALTER DATABASE %s SET wix_admin.deliver_in_worker = %s;"
         % (name, "on" if deliver_in_worker else "off"))
    psql("ALTER DATABASE %s SET wix_admin.refresh_mirrors_in_worker = off;" % name)
    psql("CREATE EXTENSION wix_admin%s;" % (" VERSION '%s'" % version if version else ""),
         db=name)


def site_sql():
    """Server emu on the private emulator, the current user's OAuth mapping
    and the clerk's API key mapping, orders, members and line items in
    schema wix, the clerk allowed to archive orders."""
    return (server_sql("emu", emu_proc.url, schema="wix",
                       tables=["orders", "members", "order_line_items"],
                       catalog_version="V3") +
            mapping_sql("emu", {"api_key": API_KEY}, role=CLERK) +
            "GRANT USAGE ON FOREIGN SERVER emu TO %s;\n" % CLERK)


def unused_orders(n):
    out = []
    for o in items_of(emu.data("orders"), "orders"):
        if o["id"] not in taken and o["status"] == "APPROVED" and not o.get("archived"):
            taken.add(o["id"])
            out.append(o["id"])
            if len(out) == n:
                return out
    raise AssertionError("not enough unused orders")


def archive_path(order_id):
    return "/ecom/v1/orders/" + order_id


def patches(order_id):
    """The PATCH requests wix_admin sent for order_id since the last reset."""
    return [r for r in emu.requests(archive_path(order_id))
            if r["method"] == "PATCH" and r["path"] == archive_path(order_id)]


def enqueue(order_id, db, role=None):
    """wix_archive_order(order_id) deferred in a committed transaction (as
    role when given); the queued action's id."""
    rows = psql("BEGIN; SET LOCAL wix_admin.defer_actions = on;%s\n"
                "SELECT wix_archive_order('%s');\nCOMMIT;"
                % (" SET LOCAL ROLE %s;" % role if role else "", order_id), db=db)
    return json.loads(rows[-1][0])["id"]


DIGEST_SETTINGS = "SET TimeZone = 'UTC'; SET DateStyle = 'ISO'; SET IntervalStyle = 'postgres';\n"


def digest_sql(table, columns="t"):
    """Row count and md5 of every row's text (of columns), in text order,
    rendered alike in every cluster."""
    return DIGEST_SETTINGS + ("SELECT count(*) || ' ' || coalesce(md5(string_agg((%s)::text, E'\\n' "
                 "ORDER BY (%s)::text)), '') FROM %s t" % (columns, columns, table))


# the columns an older version had, of tables that gained columns since
COLUMNS_KEPT = {"wix_admin.queue": "to_jsonb(t) - 'via_table'"}   # 0.3


def table_digest(table, db, columns="t"):
    return value(digest_sql(table, columns), db)


# the registry's columns of 0.1
REGISTRY_01_COLUMNS = (
    "mirror::regclass, source::regclass, owner::regrole, resource, key_columns, "
    "change_column, refresh_every, created, watermark, last_started, last_finished, "
    "last_full_refresh, rows, last_requests, last_changed, last_error, "
    "progress_pages, progress_rows, progress_total")
SEQUENCES_SQL = ("SELECT last_value FROM wix_admin.action_log_id_seq UNION ALL "
                 "SELECT last_value FROM wix_admin.queue_id_seq UNION ALL "
                 "SELECT last_value FROM wix_admin.queue_commit_seq")


# -- the extension's objects, described from the catalog ---------------------

SNAPSHOT_SQL = r"""
WITH ext AS (SELECT oid, extconfig, extcondition FROM pg_extension WHERE extname = 'wix_admin'),
members AS (
  SELECT d.classid, d.objid, d.objsubid
    FROM pg_depend d, ext
   WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = ext.oid AND d.deptype = 'e'),
described AS (
  SELECT o.type || ' ' || o.identity AS object,
         jsonb_build_object(
           'owner', CASE m.classid
                      WHEN 'pg_proc'::regclass THEN (SELECT pg_get_userbyid(proowner) FROM pg_proc WHERE oid = m.objid)
                      WHEN 'pg_class'::regclass THEN (SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = m.objid)
                      WHEN 'pg_namespace'::regclass THEN (SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE oid = m.objid)
                      WHEN 'pg_foreign_data_wrapper'::regclass THEN (SELECT pg_get_userbyid(fdwowner) FROM pg_foreign_data_wrapper WHERE oid = m.objid)
                      WHEN 'pg_type'::regclass THEN (SELECT pg_get_userbyid(typowner) FROM pg_type WHERE oid = m.objid)
                    END,
           'comment', (SELECT description FROM pg_description
                        WHERE objoid = m.objid AND classoid = m.classid AND objsubid = 0),
           'initprivs', (SELECT initprivs::text FROM pg_init_privs
                          WHERE objoid = m.objid AND classoid = m.classid AND objsubid = 0),
           'acl', CASE m.classid
                    WHEN 'pg_proc'::regclass THEN (SELECT proacl::text FROM pg_proc WHERE oid = m.objid)
                  END,
           'definition', CASE m.classid
             WHEN 'pg_proc'::regclass THEN to_jsonb(pg_get_functiondef(m.objid))
             WHEN 'pg_class'::regclass THEN (
               SELECT jsonb_build_object(
                 'relkind', c.relkind, 'persistence', c.relpersistence,
                 'options', c.reloptions, 'acl', c.relacl::text,
                 'columns', (SELECT jsonb_agg(jsonb_build_array(
                                 a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
                                 pg_get_expr(ad.adbin, ad.adrelid), a.attidentity, a.attgenerated,
                                 a.attcompression, a.atthasmissing, a.attmissingval::text,
                                 a.attcollation::regcollation::text, a.attacl::text,
                                 col_description(a.attrelid, a.attnum)) ORDER BY a.attnum)
                               FROM pg_attribute a
                               LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
                              WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped),
                 'constraints', (SELECT jsonb_agg(con.conname || ': ' || pg_get_constraintdef(con.oid)
                                                  ORDER BY con.conname)
                                   FROM pg_constraint con WHERE con.conrelid = c.oid),
                 'indexes', (SELECT jsonb_agg(pg_get_indexdef(i.indexrelid)
                                             ORDER BY pg_get_indexdef(i.indexrelid))
                               FROM pg_index i WHERE i.indrelid = c.oid),
                 'triggers', (SELECT jsonb_agg(pg_get_triggerdef(t.oid) ORDER BY t.tgname)
                                FROM pg_trigger t WHERE t.tgrelid = c.oid AND NOT t.tgisinternal),
                 'view', CASE WHEN c.relkind = 'v' THEN pg_get_viewdef(c.oid) END,
                 'sequence', (SELECT jsonb_build_array(format_type(s.seqtypid, NULL), s.seqstart,
                                                       s.seqincrement, s.seqmax, s.seqmin,
                                                       s.seqcache, s.seqcycle)
                                FROM pg_sequence s WHERE s.seqrelid = c.oid),
                 'owned_by', (SELECT d.refobjid::regclass::text || '.' || a.attname
                                FROM pg_depend d JOIN pg_attribute a
                                  ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
                               WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                                 AND d.refclassid = 'pg_class'::regclass AND d.deptype = 'a'
                                 AND c.relkind = 'S'))
                 FROM pg_class c WHERE c.oid = m.objid)
             WHEN 'pg_namespace'::regclass THEN (
               SELECT jsonb_build_object('acl', nspacl::text) FROM pg_namespace WHERE oid = m.objid)
             WHEN 'pg_foreign_data_wrapper'::regclass THEN (
               SELECT jsonb_build_object('handler', fdwhandler::regproc::text,
                                         'validator', fdwvalidator::regproc::text,
                                         'options', fdwoptions, 'acl', fdwacl::text)
                 FROM pg_foreign_data_wrapper WHERE oid = m.objid)
             -- from 17 on, a table's row type and its array are members too
             WHEN 'pg_type'::regclass THEN (
               SELECT jsonb_build_object('typtype', typtype, 'relation', typrelid::regclass::text,
                                         'element', typelem::regtype::text, 'acl', typacl::text)
                 FROM pg_type WHERE oid = m.objid)
             ELSE to_jsonb('(class ' || m.classid::regclass::text || ' not described)'::text)
           END) AS description
    FROM members m, LATERAL pg_identify_object(m.classid, m.objid, m.objsubid) o)
SELECT object, description::text FROM described
UNION ALL
SELECT 'extension config tables',
       (SELECT jsonb_agg(jsonb_build_array(c.relid::regclass::text, c.condition)
                         ORDER BY c.relid::regclass::text)
          FROM ext, unnest(ext.extconfig, ext.extcondition) AS c(relid, condition))::text
UNION ALL
SELECT 'table contents wix_admin.mirror_keys',
       (SELECT jsonb_agg(to_jsonb(k) ORDER BY k.resource) FROM wix_admin.mirror_keys k)::text
"""


def catalog_snapshot(db):
    """{object: description} of every member of the extension in db, the
    extension's config tables and mirror_keys' rows."""
    snapshot = {}
    for obj, description in psql(SNAPSHOT_SQL, db=db):
        snapshot[obj] = json.loads(description) if description else None
    return snapshot


def snapshot_differences(a, b):
    """The objects in which snapshots a and b differ: {object: (a's, b's)}
    (None where one of them lacks the object)."""
    return {obj: (a.get(obj), b.get(obj)) for obj in sorted(set(a) | set(b))
            if a.get(obj) != b.get(obj)}


def named(snapshot, prefix):
    """The objects of snapshot (or differences) whose names start with prefix."""
    return [obj for obj in snapshot if obj == prefix or
            (prefix.endswith("(") and obj.startswith(prefix))]


def text_lines(description):
    """A description as lines of text, for a diff."""
    if isinstance(description, str):
        return description.splitlines()
    return json.dumps(description, indent=1, sort_keys=True).splitlines()


def describe_differences(diffs, names=("updated", "fresh")):
    lines = []
    for obj, (x, y) in diffs.items():
        lines.append("== %s" % obj)
        if x is None or y is None:
            lines.append("   only in %s" % (names[0] if y is None else names[1]))
            continue
        for key in sorted(set(x) | set(y)):
            if x.get(key) != y.get(key):
                lines.append("   %s:" % key)
                lines += ["     " + line for line in difflib.unified_diff(
                    text_lines(x.get(key)), text_lines(y.get(key)), names[0], names[1],
                    n=1, lineterm="")]
    return "\n".join(lines)


# -- ALTER EXTENSION UPDATE --------------------------------------------------

class UpgradeFrom01(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        emu.reset()
        new_database(UPDATED, OLD)
        # wix_create_product gains a parameter in 0.3: the update cannot keep
        # this grant, and says so
        psql(site_sql() +
             "GRANT EXECUTE ON FUNCTION wix_archive_order(text, boolean, name) TO %s;" % CLERK +
             "GRANT EXECUTE ON FUNCTION wix_create_product(text, numeric, text, boolean, text, name) "
             "TO %s;" % CLERK,
             db=UPDATED)
        cls.version_before = value("SELECT extversion FROM pg_extension "
                                   "WHERE extname = 'wix_admin'", UPDATED)
        # mirrors: orders incremental (Wix filters and sorts by updated_date),
        # members and an order's line items read in full
        for table in ("orders", "members", "order_line_items"):
            psql("SELECT wix_admin.create_mirror('wix.%s', refresh_every => NULL)" % table,
                 db=UPDATED)
            psql("CALL wix_admin.refresh_mirror('wix_mirror.%s')" % table, db=UPDATED)
        # an immediate action (action_log), a done, a failed and two queued
        # ones (one the clerk's), committed but not delivered (the worker
        # stays away from this database)
        cls.immediate, cls.done, cls.queued, cls.clerks = unused_orders(4)
        psql("SELECT wix_archive_order('%s')" % cls.immediate, db=UPDATED)
        cls.done_id = enqueue(cls.done, UPDATED)
        psql("BEGIN; SET LOCAL wix_admin.defer_actions = on; "
             "SELECT wix_cancel_order('no-such-order-16'); COMMIT;", db=UPDATED)
        psql("CALL wix_admin.process_queue()", db=UPDATED)
        cls.queued_id = enqueue(cls.queued, UPDATED)
        cls.clerks_id = enqueue(cls.clerks, UPDATED, role=CLERK)

        cls.before = {t: table_digest(t, UPDATED, COLUMNS_KEPT.get(t, "t")) for t in
                      ("wix_admin.action_log", "wix_admin.queue", "wix_admin.mirror_keys",
                       "wix_mirror.orders", "wix_mirror.members", "wix_mirror.order_line_items")}
        cls.registry_before = table_digest("wix_admin.mirror_registry", UPDATED,
                                           REGISTRY_01_COLUMNS)
        cls.sequences_before = psql(SEQUENCES_SQL, db=UPDATED)
        cls.old_snapshot = catalog_snapshot(UPDATED)

        emu.reset_log()
        update = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", UPDATED,
                                 "-c", "ALTER EXTENSION wix_admin UPDATE"],
                                capture_output=True, text=True, timeout=120)
        assert update.returncode == 0, update.stderr
        cls.update_messages = update.stderr
        cls.sent_by_update = emu.requests()
        # the state right after the update (the tests below go on using it)
        cls.after = {t: table_digest(t, UPDATED, COLUMNS_KEPT.get(t, "t")) for t in cls.before}
        cls.registry_after = table_digest("wix_admin.mirror_registry", UPDATED,
                                          REGISTRY_01_COLUMNS)
        cls.sequences_after = psql(SEQUENCES_SQL, db=UPDATED)
        cls.mirrors_after = psql(
            "SELECT mirror, incremental_by, coalesce(incremental_read, '-'), "
            "coalesce(parent_key, '-'), state FROM wix_admin.mirrors ORDER BY mirror::text",
            db=UPDATED)
        cls.action_log_after = value("SELECT count(*) FROM wix_admin.action_log "
                                     "WHERE target_id = '%s'" % cls.immediate, UPDATED)

        # the same grants as in UPDATED, so that their ACLs may be compared
        # (the one on wix_create_product only at 0.1: the update drops it)
        for db, version in ((FRESH, None), (OLD_FRESH, OLD)):
            new_database(db, version)
            psql("GRANT EXECUTE ON FUNCTION wix_archive_order(text, boolean, name) TO %s;"
                 % CLERK, db=db)
        psql("GRANT EXECUTE ON FUNCTION wix_create_product(text, numeric, text, boolean, text, name) "
             "TO %s;" % CLERK, db=OLD_FRESH)

    def test_versions(self):
        self.assertEqual(self.version_before, OLD)
        self.assertEqual(value("SELECT extversion FROM pg_extension WHERE extname = 'wix_admin'",
                               UPDATED), NEW)
        self.assertEqual(value("SELECT extversion FROM pg_extension WHERE extname = 'wix_admin'",
                               FRESH), NEW)
        self.assertEqual(value("SELECT default_version FROM pg_available_extensions "
                               "WHERE name = 'wix_admin'", FRESH), NEW)
        paths = psql("SELECT source || '>' || target || ' ' || coalesce(path, '') "
                     "FROM pg_extension_update_paths('wix_admin') "
                     "WHERE source = '%s' AND target = '%s'" % (OLD, NEW), db=FRESH)
        self.assertEqual(paths, [["%s>%s %s" % (OLD, NEW, UPDATE_PATH)]])

    def test_update_names_the_grant_it_cannot_keep(self):
        self.assertIn("WARNING:  wix_create_product() gains the parameter product_type: EXECUTE on it "
                      "is no longer granted to %s" % CLERK, self.update_messages)
        self.assertIn("HINT:  GRANT EXECUTE ON FUNCTION wix_create_product(text, numeric, text, boolean, "
                      "text, text, name) TO %s;" % CLERK, self.update_messages)
        self.assertEqual(value("SELECT has_function_privilege('%s', 'wix_create_product(text, numeric, "
                               "text, boolean, text, text, name)', 'EXECUTE')" % CLERK, UPDATED), "f")

    def test_functions_of_the_old_version_are_served(self):
        """The new library serves a 0.1 database's functions, which lack
        the parameters added since (they take their defaults), called,
        queued and delivered; an action 0.1 has no function for is an
        error that says to update."""
        psql(server_sql("emu", emu_proc.url, catalog_version="V3"), db=OLD_FRESH)
        created = json.loads(value("SELECT wix_create_product('Old signature mug', 2.5, 'OLD-1')",
                                   OLD_FRESH))
        self.assertEqual((created["name"], created["productType"]), ("Old signature mug", "PHYSICAL"))
        psql("BEGIN; SET LOCAL wix_admin.defer_actions = on;\n"
             "SELECT wix_create_product('Old queued mug', 3, server => 'emu');\nCOMMIT;", db=OLD_FRESH)
        psql("CALL wix_admin.process_queue()", db=OLD_FRESH)
        self.assertEqual(psql("SELECT action, state FROM wix_admin.queue", db=OLD_FRESH),
                         [["wix_create_product", "done"]])
        self.assertEqual(sorted(p["name"] for p in items_of(emu.data("products"), "products")
                                if p["name"].startswith("Old ")),
                         ["Old queued mug", "Old signature mug"])
        err = psql("SELECT wix_enqueue('wix_set_in_stock', '{\"product_id\": \"p\", \"in_stock\": true}')",
                   db=OLD_FRESH, check=False)
        self.assertIn("the wix_admin extension has no function wix_set_in_stock", err)
        self.assertIn("ALTER EXTENSION wix_admin UPDATE", err)

    def test_no_row_lost(self):
        for table, digest in self.before.items():
            if table == "wix_admin.mirror_keys":
                continue    # it gains columns: below
            self.assertEqual(self.after[table], digest, table)
        self.assertEqual(self.sequences_after, self.sequences_before)
        self.assertEqual(value("SELECT count(*) FROM wix_admin.queue WHERE via_table IS NOT NULL", UPDATED),
                         "0")   # queued by functions
        self.assertEqual(self.action_log_after, "1")
        self.assertEqual(self.sent_by_update, [])   # the update itself calls nobody

    def test_registry_rows_kept_and_completed(self):
        self.assertEqual(self.registry_after, self.registry_before)
        self.assertEqual(self.mirrors_after, [
            ["wix_mirror.members", "", "-", "-", "idle"],
            ["wix_mirror.order_line_items", "", "-", "order_id", "idle"],
            ["wix_mirror.orders", "updated_date", "batches", "-", "idle"]])
        self.assertEqual(
            psql("SELECT resource, key_columns, change_column, coalesce(parent_key, '-') "
                 "FROM wix_admin.mirror_keys WHERE resource IN ('orders', 'order_refunds') "
                 "ORDER BY 1", db=UPDATED),
            [["order_refunds", "{order_id,refund_id,payment_id}", "order_updated_date", "order_id"],
             ["orders", "{id}", "updated_date", "-"]])

    def test_queue_delivers_once_after_update(self):
        emu.reset_log()
        psql("CALL wix_admin.process_queue()", db=UPDATED)
        psql("CALL wix_admin.process_queue()", db=UPDATED)
        for order_id in (self.queued, self.clerks):
            sent = patches(order_id)
            self.assertEqual([r["status"] for r in sent], [200], order_id)
        self.assertEqual(patches(self.clerks)[0]["headers"]["authorization"], "api_key")
        self.assertEqual(patches(self.done), [])
        self.assertEqual(patches(self.immediate), [])
        self.assertEqual(psql("SELECT id, state, attempts FROM wix_admin.queue "
                              "WHERE id IN (%d, %d, %d) ORDER BY id"
                              % (self.done_id, self.queued_id, self.clerks_id), db=UPDATED),
                         [[str(self.done_id), "done", "1"], [str(self.queued_id), "done", "1"],
                          [str(self.clerks_id), "done", "1"]])
        self.assertEqual(psql("SELECT role, outcome FROM wix_admin.action_log "
                              "WHERE target_id = '%s'" % self.clerks, db=UPDATED),
                         [[CLERK, "success"]])
        # and what is queued after the update too
        fresh_order = unused_orders(1)[0]
        emu.reset_log()
        enqueue(fresh_order, UPDATED)
        psql("CALL wix_admin.process_queue()", db=UPDATED)
        self.assertEqual(len(patches(fresh_order)), 1)
        self.assertEqual(len(patches(self.queued)), 0)

    def test_mirrors_refresh_after_update(self):
        order_id = value("SELECT id FROM wix_mirror.orders WHERE NOT archived "
                         "AND status = 'APPROVED' ORDER BY id LIMIT 1", UPDATED)
        wix(emu, "PATCH", "/ecom/v1/orders/" + order_id,
            {"order": {"id": order_id, "archived": True}})
        for table in ("orders", "members", "order_line_items"):
            psql("CALL wix_admin.refresh_mirror('wix_mirror.%s')" % table, db=UPDATED)
        self.assertEqual(value("SELECT archived FROM wix_mirror.orders WHERE id = '%s'"
                               % order_id, UPDATED), "t")
        self.assertEqual(psql("SELECT mirror, state, coalesce(last_error, '-') "
                              "FROM wix_admin.mirrors ORDER BY mirror::text", db=UPDATED),
                         [["wix_mirror.members", "idle", "-"],
                          ["wix_mirror.order_line_items", "idle", "-"],
                          ["wix_mirror.orders", "idle", "-"]])
        for table in ("orders", "members"):
            self.assertEqual(value("SELECT count(*) FROM ((TABLE wix_mirror.{0} EXCEPT ALL "
                                   "TABLE wix.{0}) UNION ALL (TABLE wix.{0} EXCEPT ALL "
                                   "TABLE wix_mirror.{0})) d".format(table), UPDATED), "0")

    def test_objects_equal_a_fresh_install(self):
        updated = catalog_snapshot(UPDATED)
        fresh = catalog_snapshot(FRESH)
        diffs = snapshot_differences(updated, fresh)
        self.assertEqual(diffs, {}, "the updated 0.1 install differs from a fresh 0.3 one:\n"
                         + describe_differences(diffs))
        # the snapshot sees what there is to see: every member of the
        # extension, described
        self.assertGreater(len(fresh), 50)
        self.assertFalse([o for o, d in fresh.items() if d is None or
                          "not described" in json.dumps(d)])
        self.assertTrue(named(fresh, "function wix_admin.mirror_lock("))

    def test_snapshot_tells_the_versions_apart(self):
        """0.1 and 0.3 differ where 0.2 and 0.3 changed things: new and
        dropped objects, columns, a view's columns, function bodies of the
        same signature, a function's parameters; and the snapshot of 0.1
        taken before the update is a fresh 0.1's (its data aside)."""
        old = catalog_snapshot(OLD_FRESH)
        self.assertEqual(snapshot_differences(self.old_snapshot, old), {})
        diffs = snapshot_differences(old, catalog_snapshot(FRESH))
        for obj in ("function wix_admin.mirror_lock_key(", "function wix_admin.mirror_lock(",
                    "table wix_admin.mirror_registry", "table wix_admin.mirror_keys",
                    "view wix_admin.mirrors", "function wix_admin.create_mirror(",
                    "function wix_admin.mirror_read(", "procedure wix_admin.refresh_one_mirror(",
                    "table contents wix_admin.mirror_keys", "extension config tables",
                    "function public.wix_create_product(", "function public.wix_set_in_stock(",
                    "table wix_admin.queue", "view wix_admin.actions"):
            self.assertEqual(len(named(diffs, obj)),
                             2 if obj.endswith(("mirror_read(", "wix_create_product(")) else 1, obj)
        self.assertEqual(named(old, "function public.wix_set_in_stock("), [])
        # same signature, other body; and columns of a table
        old_create, new_create = diffs[named(diffs, "function wix_admin.create_mirror(")[0]]
        self.assertNotEqual(old_create["definition"], new_create["definition"])
        self.assertEqual(old_create["acl"], new_create["acl"])
        self.assertNotEqual(diffs["table wix_admin.mirror_keys"][0]["definition"]["columns"],
                            diffs["table wix_admin.mirror_keys"][1]["definition"]["columns"])
        for obj in ("function wix_admin.drop_mirror(", "function public.wix_refund("):
            self.assertEqual(named(diffs, obj), [], obj)
            self.assertEqual(len(named(old, obj)), 1, obj)


# -- pg_dump / pg_restore into a new cluster --------------------------------------

MIRRORS_SQL = ("SELECT mirror, source, owner, resource, key_columns, incremental_by, "
               "incremental_read, parent_key, refresh_every, extract(epoch FROM watermark), "
               "rows FROM wix_admin.mirrors ORDER BY mirror::text")


class DumpRestore(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.target = None
        cls.dir = tempfile.mkdtemp(prefix="wix_dump.")
        emu.reset()
        new_database(SOURCE)
        psql(site_sql() +
             "GRANT EXECUTE ON FUNCTION wix_archive_order(text, boolean, name) TO %s;\n" % CLERK +
             "GRANT USAGE ON SCHEMA wix TO %s;\n" % CLERK +
             "GRANT SELECT ON wix.orders TO %s;\n" % CLERK,
             db=SOURCE)
        for table in ("orders", "order_line_items"):
            psql("SELECT wix_admin.create_mirror('wix.%s', refresh_every => '1 hour')" % table,
                 db=SOURCE)
            psql("CALL wix_admin.refresh_mirror('wix_mirror.%s')" % table, db=SOURCE)
        cls.immediate, cls.done, cls.pending = unused_orders(3)
        psql("SELECT wix_archive_order('%s')" % cls.immediate, db=SOURCE)
        enqueue(cls.done, SOURCE)
        psql("CALL wix_admin.process_queue()", db=SOURCE)
        enqueue(cls.pending, SOURCE)
        cls.source_digests = {t: table_digest(t, SOURCE) for t in
                              ("wix_admin.action_log", "wix_mirror.orders",
                               "wix_mirror.order_line_items")}
        cls.source_mirrors = psql(MIRRORS_SQL, db=SOURCE)

        cls.dump = os.path.join(cls.dir, "source.dump")
        proc = subprocess.run(["pg_dump", "-Fc", "-d", SOURCE, "-f", cls.dump],
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        cls.listing = subprocess.run(["pg_restore", "-l", cls.dump], capture_output=True,
                                     text=True, check=True, timeout=60).stdout
        cls.script = subprocess.run(["pg_restore", "-f", "-", cls.dump], capture_output=True,
                                    text=True, check=True, timeout=60).stdout
        try:
            # a new cluster whose worker delivers and refreshes
            cls.target = Cluster("restore", shared_preload_libraries="wix_admin")
            user = os.environ.get("PGUSER", "postgres")
            roles = [CLERK] + ([user] if user != "postgres" else [])
            cls.target.psql("".join("CREATE ROLE %s LOGIN;\n" % r for r in roles) +
                            "CREATE DATABASE %s;\n" % SOURCE, db="postgres")
            cls.target.psql("ALTER DATABASE %s SET wix_admin.requests_per_minute = 0;"
                            % SOURCE, db="postgres")
            cls.restore = subprocess.run(
                ["pg_restore", "--exit-on-error", "-h", cls.target.dir,
                 "-p", str(cls.target.port), "-U", "postgres", "-d", SOURCE, cls.dump],
                capture_output=True, text=True, env=cls.target.env, timeout=300)
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        if cls.target is not None:
            cls.target.stop()
        subprocess.run(["rm", "-rf", cls.dir])

    def restored(self, sql):
        return self.target.psql(sql, db=SOURCE)

    def test_restores_cleanly(self):
        self.assertEqual(self.restore.returncode, 0, self.restore.stderr)
        self.assertEqual(self.restore.stderr, "")
        self.assertEqual(self.restored("SELECT extversion FROM pg_extension "
                                       "WHERE extname = 'wix_admin'"), [[NEW]])

    def test_dump_contents(self):
        # the extension, not its members; the audit log's and the mirror
        # registry's rows (config tables), not the queue's
        self.assertIn("CREATE EXTENSION IF NOT EXISTS wix_admin", self.script)
        self.assertNotIn("CREATE TABLE wix_admin.", self.script)
        self.assertIn("TABLE DATA wix_admin action_log", self.listing)
        self.assertIn("TABLE DATA wix_admin mirror_registry", self.listing)
        self.assertNotIn("TABLE DATA wix_admin queue", self.listing)
        # user mappings are dumped with their options, secrets included
        # (PostgreSQL's behaviour: pg_dump as a superuser reads them)
        self.assertIn("CREATE USER MAPPING FOR %s SERVER emu OPTIONS (\n    api_key '%s'"
                      % (CLERK, API_KEY), self.script)

    def test_foreign_tables_read(self):
        self.assertEqual(self.restored("SELECT count(*) > 250 FROM wix.orders"), [["t"]])
        self.assertEqual(self.restored(
            "SET ROLE %s; SELECT count(*) > 250 FROM wix.orders" % CLERK), [["t"]])

    def test_mirrors_are_mirrors(self):
        self.assertEqual(self.restored(MIRRORS_SQL), self.source_mirrors)
        for table in ("wix_admin.action_log", "wix_mirror.orders", "wix_mirror.order_line_items"):
            self.assertEqual(self.restored(digest_sql(table))[0][0],
                             self.source_digests[table], table)
        # the restored registry points at the restored tables
        self.assertEqual(self.restored(
            "SELECT count(*) FROM wix_admin.mirror_registry r JOIN pg_class c ON c.oid = r.mirror "
            "JOIN pg_class s ON s.oid = r.source AND s.relkind = 'f'"), [["2"]])
        # ... and refreshes
        order_id = self.restored("SELECT id FROM wix_mirror.orders WHERE NOT archived "
                                 "AND status = 'APPROVED' ORDER BY id DESC LIMIT 1")[0][0]
        wix(emu, "PATCH", "/ecom/v1/orders/" + order_id,
            {"order": {"id": order_id, "archived": True}})
        self.restored("CALL wix_admin.refresh_mirror('wix_mirror.orders')")
        self.restored("CALL wix_admin.refresh_mirror('wix_mirror.order_line_items', full => true)")
        self.assertEqual(self.restored("SELECT archived FROM wix_mirror.orders WHERE id = '%s'"
                                       % order_id), [["t"]])
        self.assertEqual(self.restored("SELECT mirror, state, coalesce(last_error, '-') "
                                       "FROM wix_admin.mirrors ORDER BY mirror::text"),
                         [["wix_mirror.order_line_items", "idle", "-"],
                          ["wix_mirror.orders", "idle", "-"]])

    def test_restored_queue_sends_nothing_again(self):
        self.assertEqual(self.restored("SELECT count(*) FROM wix_admin.queue"), [["0"]])
        # the restored database's worker delivers what is queued there, once
        emu.reset_log()
        new_order = unused_orders(1)[0]
        rows = self.restored("BEGIN; SET LOCAL wix_admin.defer_actions = on;\n"
                             "SELECT wix_archive_order('%s', server => 'emu');\nCOMMIT;"
                             % new_order)
        queued = json.loads(rows[-1][0])["id"]
        deadline = time.time() + 30
        while self.restored("SELECT state FROM wix_admin.queue WHERE id = %d" % queued) \
                != [["done"]]:
            self.assertLess(time.time(), deadline, self.restored(
                "SELECT state, last_error FROM wix_admin.queue"))
            time.sleep(0.2)
        time.sleep(1)
        self.assertEqual(len(patches(new_order)), 1)
        # and nothing of the source's: done, immediate or pending
        for order_id in (self.done, self.immediate, self.pending):
            self.assertEqual(patches(order_id), [], order_id)
        self.assertEqual(value("SELECT state FROM wix_admin.queue WHERE target_id = '%s'"
                               % self.pending, SOURCE), "queued")


if __name__ == "__main__":
    unittest.main(verbosity=2)
