"""The set-up every Python test suite shares: psql, the emulators (their
URLs, default credentials, control API and a direct Wix API call), and
databases with the extension, servers, user mappings and imported schemas.

Runs inside pg_virtualenv (PGHOST, PGPORT, PGUSER set) with the emulators
started by test/run_in_cluster.sh (WIX_EMULATOR_URL, WIX_EMULATOR_V1_URL,
WIX_EMULATOR_BIG_URL, WIX_EMULATOR_BIG_V1_URL); suites that need a private
emulator start one with wixfault.EmulatorProcess.  Standard library only.
"""
import json
import os
import subprocess
import urllib.request

EMULATOR_URL = os.environ.get("WIX_EMULATOR_URL", "")
EMULATOR_V1_URL = os.environ.get("WIX_EMULATOR_V1_URL", "")
EMULATOR_BIG_URL = os.environ.get("WIX_EMULATOR_BIG_URL", "")
EMULATOR_BIG_V1_URL = os.environ.get("WIX_EMULATOR_BIG_V1_URL", "")

# The emulator's default credentials (test/emulator/wix_emulator.py).
SITE_ID = "5e2f6a3b-1c4d-4e5f-8a9b-0c1d2e3f4a5b"
CLIENT_ID = "wix-emulator-app"
CLIENT_SECRET = "wix-emulator-secret"
API_KEY = "IST.wix-emulator-api-key"


# -- psql ----------------------------------------------------------------------

class PsqlError(Exception):
    """A psql run that failed; .stderr holds PostgreSQL's message."""

    def __init__(self, stderr):
        super().__init__(stderr)
        self.stderr = stderr


def psql(sql, db="postgres", user=None, check=True, extra_env=None):
    """Run SQL through psql; return the output rows as lists of strings."""
    cmd = ["psql", "-X", "-q", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1",
           "-d", db]
    if user:
        cmd += ["-U", user]
    env = dict(os.environ)
    env.update(extra_env or {})
    proc = subprocess.run(cmd, input=sql, capture_output=True, text=True,
                          env=env, timeout=300)
    if proc.returncode != 0:
        if check:
            raise PsqlError(proc.stderr)
        return proc.stderr
    return [line.split("\t") for line in proc.stdout.splitlines() if line != ""]


def psql_error(sql, db="postgres", user=None):
    """Run SQL that must fail; return psql's stderr."""
    cmd = ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", db,
           "-v", "VERBOSITY=verbose"]
    if user:
        cmd += ["-U", user]
    proc = subprocess.run(cmd, input="\\set VERBOSITY verbose\n" + sql,
                          capture_output=True, text=True, timeout=300)
    if proc.returncode == 0:
        raise AssertionError("expected an error from: " + sql)
    return proc.stderr


# -- the emulators -----------------------------------------------------------------

def _http_json(url, method, body, headers):
    """One HTTP request with a JSON body; the decoded JSON answer (or None
    when the answer is empty)."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method,
                                 headers=dict(headers, **{"Content-Type": "application/json"}))
    with urllib.request.urlopen(req, timeout=30) as resp:
        text = resp.read().decode()
    return json.loads(text) if text else None


class Emulator:
    """The control API of one emulator instance."""

    def __init__(self, url):
        self.url = url.rstrip("/")

    def _call(self, method, path, body=None):
        return _http_json(self.url + path, method, body, {})

    def requests(self, path_prefix=None):
        reqs = self._call("GET", "/_emulator/requests")["requests"]
        if path_prefix:
            reqs = [r for r in reqs if r["path"].startswith(path_prefix)]
        return reqs

    def reset_log(self):
        self._call("POST", "/_emulator/requests/reset", {})

    def data(self, resource):
        return self._call("GET", "/_emulator/data/" + resource)

    def expire_tokens(self):
        self._call("POST", "/_emulator/tokens/expire", {})

    def config(self, **settings):
        self._call("POST", "/_emulator/config", settings)

    def fault(self, **fault):
        self._call("POST", "/_emulator/faults", fault)

    def clear_faults(self):
        self._call("DELETE", "/_emulator/faults")

    def reset(self):
        self._call("POST", "/_emulator/reset", {})


def wix(em, method, path, body=None):
    """Call emulator em's Wix API directly (API key), for test set-up and
    checks; the decoded answer ({} when empty)."""
    return _http_json(em.url + path, method, body,
                      {"Authorization": API_KEY, "wix-site-id": SITE_ID}) or {}


def items_of(data, key):
    """The list of objects in an /_emulator/data answer."""
    if isinstance(data, list):
        return data
    for k in (key, "items", "data"):
        if isinstance(data, dict) and isinstance(data.get(k), list):
            return data[k]
    raise AssertionError("unexpected /_emulator/data answer: %r" % (data,))


# -- databases, servers, user mappings ---------------------------------------------

OAUTH = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
KEY = {"api_key": API_KEY}


def options_sql(options):
    """OPTIONS (...) text of a dict: name 'value', ..."""
    return ", ".join("%s '%s'" % kv for kv in options.items())


def mapping_sql(server, mapping=OAUTH, role="CURRENT_USER"):
    """CREATE USER MAPPING for role on server with the options mapping
    (OAUTH, KEY or any dict)."""
    return "CREATE USER MAPPING FOR %s SERVER %s\n  OPTIONS (%s);\n" % (
        role, server, options_sql(mapping))


def new_mapping_sql(server, mapping=OAUTH):
    """The current user's mapping on server dropped and created again: a
    user mapping no backend holds a token for (with the library preloaded
    backends share one token per user mapping, so a new backend alone no
    longer means a token request)."""
    return "DROP USER MAPPING FOR CURRENT_USER SERVER %s;\n%s" % (
        server, mapping_sql(server, mapping))


def server_sql(name, url=EMULATOR_URL, mapping=OAUTH, schema=None, tables=None,
               **options):
    """CREATE SERVER name on url (None: no base_url, so Wix itself) with
    the extra server options, a user mapping for the current user (mapping
    None: none) and, when schema is given, that schema with the foreign
    tables imported into it (all of them, or LIMIT TO tables)."""
    server_options = {"site_id": SITE_ID}
    if url is not None:
        server_options["base_url"] = url
    server_options.update(options)
    sql = "CREATE SERVER %s FOREIGN DATA WRAPPER wix_admin\n  OPTIONS (%s);\n" % (
        name, options_sql(server_options))
    if mapping is not None:
        sql += mapping_sql(name, mapping)
    if schema is not None:
        limit = " LIMIT TO (%s)" % ", ".join(tables) if tables else ""
        sql += "CREATE SCHEMA %s;\nIMPORT FOREIGN SCHEMA wix%s FROM SERVER %s INTO %s;\n" % (
            schema, limit, name, schema)
    return sql


def standard_servers(suffix="", mapping=OAUTH):
    """The two shared emulators: server "emu<suffix>" (Catalog V3) imported
    into schema "wix<suffix>" and "emu_v1<suffix>" (Catalog V1) into
    "wix_v1<suffix>", both with mapping for the current user."""
    return (server_sql("emu" + suffix, EMULATOR_URL, mapping, schema="wix" + suffix) +
            server_sql("emu_v1" + suffix, EMULATOR_V1_URL, mapping, schema="wix_v1" + suffix))


def create_database(name, servers=None, sql="", requests_per_minute=0):
    """A fresh database name with the extension, then servers (SQL from
    server_sql; default standard_servers(): "emu" and "emu_v1" with OAuth
    mappings and schemas wix and wix_v1), then sql.  The database's
    wix_admin.requests_per_minute is set to requests_per_minute (the
    emulators do not throttle) unless it is None (the default applies)."""
    psql("DROP DATABASE IF EXISTS %s;" % name)
    psql("CREATE DATABASE %s;" % name)
    if requests_per_minute is not None:
        psql("ALTER DATABASE %s SET wix_admin.requests_per_minute = %d;"
             % (name, requests_per_minute))
    if servers is None:
        servers = standard_servers()
    psql("CREATE EXTENSION wix_admin;\n" + servers + sql, db=name)


def create_login_role(name):
    """A login role name, recreated, with the cluster's password (PGPASSWORD)
    when there is one, so that psql -U name can connect."""
    psql("DROP ROLE IF EXISTS %s;" % name)
    password = os.environ.get("PGPASSWORD")
    psql("CREATE ROLE %s LOGIN%s;" % (name, " PASSWORD '%s'" % password if password else ""))
