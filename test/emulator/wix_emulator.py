#!/usr/bin/python3
"""Wix REST API emulator (stdlib only) for the wix_admin PostgreSQL extension tests.

Usage: wix_emulator.py [--port 0] [--seed 1] [--orders N] [--members N] [--products N]
                       [--bookings N] [--catalog V1|V3|NONE] [--verbose] ...
The first line printed on stdout is the port number.
See README.md and PROTOCOL_CHOICES.md in this directory.

This module is the server: the command line, HTTP, authentication, the
rate limit, injected faults, the request log and the control API
(/_emulator/*).  The Wix endpoints are in endpoints.py (the table) and
domains/ (the handlers); the state in state.py.
"""
import argparse
import copy
import json
import math
import os
import re
import sys
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit, unquote

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import endpoints  # noqa: E402
from api import ApiError, Raw, Req, app_error, dumps, validation_error  # noqa: E402
from state import State  # noqa: E402

# ====================================================================== control API
# GET /_emulator/data/{kind}: the index of each kind (products: the catalog's)
DATA_KINDS = {"orders": "orders", "members": "members", "bookings": "bookings", "products": None,
              "inventory-items": "inv", "inventory": "inv1", "contacts": "contacts", "coupons": "coupons",
              "abandoned-checkouts": "checkouts", "plan-orders": "plan-orders", "services": "services"}


def control(st, method, path, params, body):
    """Returns (status, obj)."""
    p = path[len("/_emulator"):]
    if p in ("", "/", "/health") and method == "GET":
        return 200, {"ok": True, "catalog": st.args.catalog}
    if p == "/requests" and method == "GET":
        since = params.get("since", [None])[-1]
        with st.log_lock:
            reqs = list(st.log)
        if since is not None:
            try:
                s = int(since)
                reqs = [x for x in reqs if x["seq"] > s]
            except ValueError:
                pass
        return 200, {"requests": reqs}
    if p == "/requests/reset" and method == "POST":
        with st.log_lock:
            st.log.clear()
        return 200, {}
    m = re.match(r"^/data/([\w-]+)$", p)
    if m and method == "GET":
        kind = m.group(1)
        if kind not in DATA_KINDS:
            return 404, {"message": "unknown data kind %s" % kind}
        index = DATA_KINDS[kind] or ("v1" if st.args.catalog == "V1" else "v3")
        with st.lock:
            objs = st.coll(index).values()
            return 200, {kind: copy.deepcopy(sorted(objs, key=lambda o: o["id"]))}
    if p == "/tokens/expire" and method == "POST":
        with st.lock:
            for k in list(st.tokens):
                st.tokens[k] = (0, st.tokens[k][1])
        return 200, {"expired": len(st.tokens)}
    if p == "/config":
        if method == "POST":
            b = body if isinstance(body, dict) else {}
            with st.lock:
                if "token_ttl" in b:
                    st.token_ttl = int(b["token_ttl"])
                if "rate_limit_per_minute" in b:
                    st.rate_limit = int(b["rate_limit_per_minute"])
                    st.rate_window.clear()
        return 200, {"token_ttl": st.token_ttl, "rate_limit_per_minute": st.rate_limit,
                     "site_id": st.args.site_id, "account_id": st.args.account_id, "catalog": st.args.catalog}
    if p == "/faults":
        if method == "GET":
            with st.lock:
                return 200, {"faults": copy.deepcopy(st.faults)}
        if method == "DELETE":
            with st.lock:
                st.faults.clear()
            return 200, {}
        if method == "POST":
            b = body if isinstance(body, dict) else None
            if not b or not isinstance(b.get("match"), str):
                return 400, {"message": "fault needs a 'match' path prefix"}
            f = {"match": b["match"], "method": (b.get("method") or None), "times": int(b.get("times", 1)),
                 "status": int(b["status"]) if b.get("status") is not None else None,
                 "body": b.get("body"), "headers": b.get("headers") or {}, "delay_ms": int(b.get("delay_ms", 0)),
                 "truncate": bool(b.get("truncate", False)), "hang_ms": int(b.get("hang_ms", 0)),
                 "delay_after_apply_ms": int(b.get("delay_after_apply_ms", 0)),
                 "after": int(b.get("after", 0))}
            if f["method"]:
                f["method"] = f["method"].upper()
            with st.lock:
                st.faults.append(f)
            return 200, {"fault": f}
    if p == "/reset" and method == "POST":
        st.load()
        with st.lock:
            st.faults.clear()
            st.tokens.clear()
            st.cursor_store.clear()
            st.rate_window.clear()
            st.token_ttl = st.args.token_ttl
            st.rate_limit = st.args.rate_limit
        with st.log_lock:
            st.log.clear()
        return 200, {}
    return 404, {"message": "unknown control endpoint"}


# ====================================================================== HTTP
STATUS_TEXT = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
               405: "Method Not Allowed", 409: "Conflict", 428: "Precondition Required", 429: "Too Many Requests",
               500: "Internal Server Error", 501: "Not Implemented", 502: "Bad Gateway", 503: "Service Unavailable",
               504: "Gateway Timeout"}
DEFAULT_FAULT_CODES = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
                       409: "ALREADY_EXISTS", 428: "FAILED_PRECONDITION", 429: "RESOURCE_EXHAUSTED",
                       500: "INTERNAL", 501: "UNIMPLEMENTED", 502: "UNAVAILABLE", 503: "UNAVAILABLE",
                       504: "DEADLINE_EXCEEDED"}


def fault_body(status):
    code = DEFAULT_FAULT_CODES.get(status, "UNKNOWN")
    return {"message": "%s: injected fault" % code,
            "details": {"applicationError": {"code": code, "description": "Injected by the emulator", "data": {}}}}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "WixEmulator/1.0"
    sys_version = ""
    disable_nagle_algorithm = True
    state = None  # set on the class

    def log_message(self, fmt, *a):
        if self.state.args.verbose:
            sys.stderr.write("%s %s\n" % (self.address_string(), fmt % a))

    def do_GET(self):
        self.dispatch()

    do_POST = do_PATCH = do_PUT = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    # -------------------------------------------------------------- io
    def read_body(self):
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            chunks = []
            while True:
                line = self.rfile.readline(65537)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while True:
                        t = self.rfile.readline(65537)
                        if t in (b"\r\n", b"\n", b""):
                            break
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline(65537)
            return b"".join(chunks)
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def send(self, status, payload, headers=None, truncate=False, req_id=None):
        if isinstance(payload, Raw):
            data = payload.s.encode("utf-8")
        elif isinstance(payload, bytes):
            data = payload
        elif isinstance(payload, str):
            data = payload.encode("utf-8")
        else:
            data = dumps(payload).encode("utf-8")
        hdrs = {"Content-Type": "application/json"}
        if headers:
            hdrs.update(headers)
        if req_id:
            hdrs["X-Wix-Request-Id"] = req_id
        clen = len(data)
        if truncate:
            clen = len(data) + 1024 if data else 1024
            data = data[: len(data) // 2]
            self.close_connection = True
        lines = ["HTTP/1.1 %d %s" % (status, STATUS_TEXT.get(status, "Status"))]
        for k, v in hdrs.items():
            if k.lower() == "content-length":
                continue
            lines.append("%s: %s" % (k, v))
        lines.append("Content-Length: %d" % clen)
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")
        try:
            if self.command == "HEAD":
                self.wfile.write(head)
            else:
                self.wfile.write(head + data)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        if self.state.args.verbose:
            sys.stderr.write("%s %s -> %d (%d bytes)\n" % (self.command, self.path, status, len(data)))

    # -------------------------------------------------------------- dispatch
    def dispatch(self):
        st = self.state
        try:
            raw = self.read_body()
        except Exception:
            self.close_connection = True
            return
        u = urlsplit(self.path)
        path = unquote(u.path)
        params = parse_qs(u.query, keep_blank_values=True)
        method = self.command
        if path == "/_emulator" or path.startswith("/_emulator/"):
            body = None
            if raw:
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
            try:
                status, obj = control(st, method, path, params, body)
            except Exception as e:  # pragma: no cover
                status, obj = 500, {"message": "control error: %s" % e}
            self.send(status, obj, req_id=str(uuid.uuid4()))
            return
        req_id = "%s" % uuid.uuid4()
        with st.log_lock:
            st.seq += 1
            seq = st.seq
        entry = {"seq": seq, "time": time.time(), "method": method, "path": path, "query": params,
                 "headers": self.log_headers(path), "body": self.log_body(raw, path), "status": None}
        status, payload, extra_headers, truncate = self.process(st, method, path, params, raw, req_id)
        entry["status"] = status
        with st.log_lock:
            st.log.append(entry)
        self.send(status, payload, extra_headers, truncate, req_id)

    def log_headers(self, path):
        h = {}
        for k, v in self.headers.items():
            h[k.lower()] = v
        h["authorization"] = self.auth_kind()
        return h

    def log_body(self, raw, path):
        if not raw:
            return None
        try:
            b = json.loads(raw)
        except ValueError:
            return re.sub(r"(?i)(client_?secret=)[^&\s]*", r"\1***", raw.decode("utf-8", "replace"))
        if isinstance(b, dict):
            for k in ("client_secret", "clientSecret"):
                if k in b:
                    b[k] = "***"
            if path.startswith("/oauth2/token-info") and "token" in b:
                b["token"] = "***"
        return b

    def raw_auth(self):
        a = self.headers.get("Authorization")
        if a is None:
            return None
        a = a.strip()
        if a[:7].lower() == "bearer ":
            a = a[7:].strip()
        return a

    def auth_kind(self):
        a = self.raw_auth()
        if a is None:
            return "missing"
        if a in self.state.tokens:
            return "token"
        if a == self.state.args.api_key:
            return "api_key"
        return "invalid"

    def check_auth(self, st):
        a = self.raw_auth()
        if a is None or a == "":
            raise app_error(401, "UNAUTHENTICATED", "UNAUTHENTICATED: Missing Authorization header")
        ts = st.token_state(a)
        if ts == "valid":
            return
        if ts == "expired":
            raise app_error(401, "UNAUTHENTICATED", "UNAUTHENTICATED: token expired")
        if a == st.args.api_key:
            site = self.headers.get("wix-site-id")
            acct = self.headers.get("wix-account-id")
            if site is not None and acct is not None:
                raise app_error(400, "INVALID_ARGUMENT",
                                "INVALID_ARGUMENT: send exactly one of wix-site-id or wix-account-id, not both")
            if site is None:
                raise app_error(403, "PERMISSION_DENIED",
                                "PERMISSION_DENIED: a site-level API called with an API key requires the wix-site-id header")
            if site.strip() != st.args.site_id:
                raise app_error(403, "PERMISSION_DENIED", "PERMISSION_DENIED: API key has no access to site %s" % site.strip())
            return
        raise app_error(401, "UNAUTHENTICATED", "UNAUTHENTICATED: invalid access token or API key")

    def process(self, st, method, path, params, raw, req_id):
        """Returns (status, payload, headers, truncate)."""
        extra_headers = {}
        truncate = False
        fault = None
        with st.lock:
            for f in st.faults:
                if path.startswith(f["match"]) and (not f["method"] or f["method"] == method):
                    if f["after"] > 0:
                        f["after"] -= 1
                        break
                    fault = dict(f)
                    f["times"] -= 1
                    if f["times"] <= 0:
                        st.faults.remove(f)
                    break
        if fault:
            wait = (fault["delay_ms"] + fault["hang_ms"]) / 1000.0
            if wait > 0:
                time.sleep(wait)
            extra_headers.update({str(k): str(v) for k, v in fault["headers"].items()})
            truncate = fault["truncate"]
            if fault["status"]:
                payload = fault["body"] if fault["body"] is not None else fault_body(fault["status"])
                return fault["status"], payload, extra_headers, truncate
        # rate limit (per instance, sliding 60 s window)
        if st.rate_limit > 0:
            with st.lock:
                now = time.monotonic()
                w = st.rate_window
                while w and w[0] <= now - 60:
                    w.popleft()
                if len(w) >= st.rate_limit:
                    retry = max(1, int(math.ceil(60 - (now - w[0]))))
                    extra_headers["Retry-After"] = str(retry)
                    return 429, {"message": "RESOURCE_EXHAUSTED: rate limit of %d requests per minute exceeded" % st.rate_limit,
                                 "details": {"applicationError": {"code": "RESOURCE_EXHAUSTED",
                                                                  "description": "Too many requests", "data": {}}}}, \
                        extra_headers, truncate
                w.append(now)
        target, path_known = endpoints.find(method, path)
        if target is None:
            if path_known:
                return 404, {"message": "NOT_FOUND: method %s is not supported on %s" % (method, path),
                             "details": {"applicationError": {"code": "NOT_FOUND", "description": "No such endpoint",
                                                              "data": {}}}}, extra_headers, truncate
            return 404, {"message": "Entity not found", "details": {"applicationError": {
                "code": "NOT_FOUND", "description": "No such endpoint: %s" % path, "data": {}}}}, extra_headers, truncate
        fn, auth, path_params = target
        try:
            if auth:
                self.check_auth(st)
            body = None
            if raw:
                try:
                    body = json.loads(raw)
                except ValueError:
                    raise validation_error("body", "Request body is not valid JSON", "FORMAT",
                                           message="INVALID_ARGUMENT: request body is not valid JSON")
            req = Req()
            req.method, req.path, req.params, req.body, req.raw = method, path, params, body, raw
            req.m = path_params
            req.headers = self.headers
            req.state = st
            with st.lock:
                result = fn(req)
            if fault and fault.get("delay_after_apply_ms"):
                # the change is done; only the answer is late (a timeout after Wix acted)
                time.sleep(fault["delay_after_apply_ms"] / 1000.0)
            if isinstance(result, tuple):
                return result[0], result[1], extra_headers, truncate
            return 200, result, extra_headers, truncate
        except ApiError as e:
            extra_headers.update(e.headers)
            return e.status, e.body, extra_headers, truncate
        except Exception as e:  # internal bug -> 500 with standard body
            if st.args.verbose:
                import traceback
                traceback.print_exc()
            return 500, {"message": "INTERNAL: %s" % e.__class__.__name__,
                         "details": {"applicationError": {"code": "INTERNAL", "description": str(e), "data": {}}}}, \
                extra_headers, truncate


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description="Wix REST API emulator")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--orders", type=int, default=1200)
    ap.add_argument("--members", type=int, default=250)
    ap.add_argument("--products", type=int, default=150)
    ap.add_argument("--bookings", type=int, default=180)
    ap.add_argument("--contacts", type=int, default=300)
    ap.add_argument("--checkouts", type=int, default=150)
    ap.add_argument("--coupons", type=int, default=40)
    ap.add_argument("--plan-orders", type=int, default=120)
    ap.add_argument("--services", type=int, default=30)
    ap.add_argument("--catalog", type=str.upper, choices=("V1", "V3", "NONE"), default="V3")
    ap.add_argument("--site-id", default="5e2f6a3b-1c4d-4e5f-8a9b-0c1d2e3f4a5b")
    ap.add_argument("--client-id", default="wix-emulator-app")
    ap.add_argument("--client-secret", default="wix-emulator-secret")
    ap.add_argument("--api-key", default="IST.wix-emulator-api-key")
    ap.add_argument("--account-id", default="7b1e0c2d-0000-4000-8000-00000000acc1")
    ap.add_argument("--instance-id", default="3c4d5e6f-0000-4000-8000-0000000000i1")
    ap.add_argument("--token-ttl", type=int, default=14400)
    ap.add_argument("--rate-limit", type=int, default=0)
    ap.add_argument("--verbose", action="store_true")
    a = ap.parse_args(argv)
    a.catalog = a.catalog.upper()
    return a


def main(argv=None):
    args = parse_args(argv)
    st = State(args)
    Handler.state = st
    srv = Server(("127.0.0.1", args.port), Handler)
    sys.stdout.write("%d\n" % srv.server_address[1])
    sys.stdout.flush()
    try:
        srv.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        srv.server_close()


if __name__ == "__main__":
    main()
