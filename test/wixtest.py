"""Shared helpers of the Python test suites: psql, the emulator's control
API, and a database with the extension and servers set up.

Runs inside pg_virtualenv (PGHOST, PGPORT, PGUSER set) with the emulators
started by test/run_in_cluster.sh (WIX_EMULATOR_URL, WIX_EMULATOR_V1_URL).
Standard library only.
"""
import json
import os
import subprocess
import urllib.request

EMULATOR_URL = os.environ.get("WIX_EMULATOR_URL", "")
EMULATOR_V1_URL = os.environ.get("WIX_EMULATOR_V1_URL", "")

# The emulator's default credentials (test/emulator/wix_emulator.py).
SITE_ID = "5e2f6a3b-1c4d-4e5f-8a9b-0c1d2e3f4a5b"
CLIENT_ID = "wix-emulator-app"
CLIENT_SECRET = "wix-emulator-secret"
API_KEY = "IST.wix-emulator-api-key"


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


class Emulator:
    """The control API of one emulator instance."""

    def __init__(self, url):
        self.url = url.rstrip("/")

    def _call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as resp:
            text = resp.read().decode()
        return json.loads(text) if text else None

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


def items_of(data, key):
    """The list of objects in an /_emulator/data answer."""
    if isinstance(data, list):
        return data
    for k in (key, "items", "data"):
        if isinstance(data, dict) and isinstance(data.get(k), list):
            return data[k]
    raise AssertionError("unexpected /_emulator/data answer: %r" % (data,))


def create_database(name):
    """A fresh database with the extension, servers "emu" (Catalog V3) and
    "emu_v1" (Catalog V1), OAuth user mappings, and schema wix imported."""
    psql("DROP DATABASE IF EXISTS %s;" % name)
    psql("CREATE DATABASE %s;" % name)
    # the emulator does not throttle; suites that test the rate limiter set it
    psql("ALTER DATABASE %s SET wix_admin.requests_per_minute = 0;" % name)
    psql("""
        CREATE EXTENSION wix_admin;
        CREATE SERVER emu FOREIGN DATA WRAPPER wix_admin
          OPTIONS (site_id '{site}', base_url '{url}');
        CREATE USER MAPPING FOR CURRENT_USER SERVER emu
          OPTIONS (client_id '{cid}', client_secret '{secret}');
        CREATE SCHEMA wix;
        IMPORT FOREIGN SCHEMA wix FROM SERVER emu INTO wix;
        CREATE SERVER emu_v1 FOREIGN DATA WRAPPER wix_admin
          OPTIONS (site_id '{site}', base_url '{url1}');
        CREATE USER MAPPING FOR CURRENT_USER SERVER emu_v1
          OPTIONS (client_id '{cid}', client_secret '{secret}');
        CREATE SCHEMA wix_v1;
        IMPORT FOREIGN SCHEMA wix FROM SERVER emu_v1 INTO wix_v1;
    """.format(site=SITE_ID, url=EMULATOR_URL, url1=EMULATOR_V1_URL,
               cid=CLIENT_ID, secret=CLIENT_SECRET), db=name)
