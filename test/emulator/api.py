"""What every endpoint handler of the emulator uses: Wix's error answers,
the request a handler gets (Req), JSON texts (dumps, Raw, entity), reading
request bodies, and the clock, ids, revisions and amounts of stored objects.
"""
import base64
import json
import re
import threading
import time
import uuid

from emu_wql import iso_ms

# ====================================================================== errors


class ApiError(Exception):
    def __init__(self, status, body, headers=None):
        super().__init__(str(body))
        self.status = status
        self.body = body
        self.headers = headers or {}


def app_error(status, code, message, description=None, data=None):
    return ApiError(status, {"message": message, "details": {"applicationError": {
        "code": code, "description": description or message, "data": data or {}}}})


def validation_error(field, description, rule="VALIDATION", message=None):
    return ApiError(400, {"message": message or description, "details": {"validationError": {"fieldViolations": [
        {"field": field, "description": description, "violatedRule": rule, "data": {}}]}}})


def api_error_code(e):
    """(code, description) of an ApiError's body, either error shape."""
    d = e.body.get("details", {})
    if "applicationError" in d:
        return d["applicationError"]["code"], d["applicationError"]["description"]
    v = d.get("validationError", {}).get("fieldViolations", [{}])[0]
    return v.get("violatedRule", "VALIDATION"), "%s: %s" % (v.get("field"), v.get("description"))


def bulk_results(entries, one, item=None):
    """Wix's answer to a bulk call: one(entry) does each entry and returns its object (with its "id");
    an ApiError it raises is that entry's itemMetadata.error and the others are done; with item (the
    request's returnEntity), each done entry's "item" is item(object)."""
    results = []
    ok = bad = 0
    for i, x in enumerate(entries):
        meta = {"originalIndex": i, "success": False}
        entry = {"itemMetadata": meta}
        try:
            obj = one(x)
        except ApiError as e:
            code, description = api_error_code(e)
            meta["error"] = {"code": code, "description": description}
            bad += 1
        else:
            meta["success"] = True
            meta["id"] = obj["id"]
            ok += 1
            if item is not None:
                entry["item"] = item(obj)
        results.append(entry)
    return {"results": results, "bulkActionMetadata": {"totalSuccesses": ok, "totalFailures": bad, "undetailedFailures": 0}}


def from_query_error(e):
    return validation_error(e.field, e.description, e.rule, e.message)


def now_iso():
    return iso_ms(int(time.time() * 1000))


_last_now = [0]
_now_lock = threading.Lock()


def unique_now_ms():
    """Wall-clock ms, strictly increasing across calls (keeps created dates distinct)."""
    with _now_lock:
        t = int(time.time() * 1000)
        if t <= _last_now[0]:
            t = _last_now[0] + 1
        _last_now[0] = t
        return t


def new_id():
    return str(uuid.uuid4())


def cents_of(amount, field):
    """Decimal string/number -> integer cents; raises validation error."""
    try:
        if isinstance(amount, bool):
            raise ValueError
        s = str(amount).strip()
        if not re.match(r"^-?\d+(\.\d+)?$", s):
            raise ValueError
        whole, _, frac = s.partition(".")
        if len(frac) > 2 and frac[2:].strip("0"):
            raise ValueError
        v = abs(int(whole)) * 100 + int((frac + "00")[:2])
        return -v if s.startswith("-") else v
    except (ValueError, TypeError):
        raise validation_error(field, "Invalid decimal amount '%s'" % (amount,), "FORMAT")


def stamp(obj, key="updatedDate"):
    obj[key] = iso_ms(unique_now_ms())


def bump(obj):
    """A changed object with a revision: the next revision, updatedDate now."""
    obj["revision"] = str(int(obj["revision"]) + 1)
    stamp(obj)


def unique_slug(existing, base):
    slug = base
    n = 1
    while slug in existing:
        n += 1
        slug = "%s-%d" % (base, n)
    return slug


# ====================================================================== JSON texts
def dumps(o):
    return json.dumps(o, ensure_ascii=False, separators=(",", ":"))


class Raw:
    """Pre-serialised JSON body."""
    __slots__ = ("s",)

    def __init__(self, s):
        self.s = s


def entity(key, json_text):
    """The answer {"<key>": <json_text>} of an endpoint that returns one object."""
    return Raw('{"%s":%s}' % (key, json_text))


# ====================================================================== requests
class Req:
    __slots__ = ("method", "path", "params", "body", "raw", "m", "headers", "state")

    def param(self, name, default=None):
        v = self.params.get(name)
        return v[-1] if v else default

    def params_list(self, name):
        return self.params.get(name, [])


def decode_dot_r(params):
    r = params.get(".r")
    if not r:
        return None
    s = r[-1]
    try:
        return json.loads(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)).decode())
    except Exception:
        raise validation_error(".r", "Malformed .r parameter", "FORMAT")


def body_or_r(req):
    """POST JSON body, or for GET the SDK's base64url `.r` query parameter."""
    if req.method == "GET":
        d = decode_dot_r(req.params)
        return d if isinstance(d, dict) else {}
    return req.body if isinstance(req.body, dict) else {}


def list_param(req, name):
    """A repeated query parameter (?name=a&name=b), or else the same field
    of the SDK's `.r` parameter."""
    values = req.params_list(name)
    if not values:
        d = decode_dot_r(req.params)
        if isinstance(d, dict):
            values = d.get(name)
    return values


def need_obj(d, key, where=None):
    v = d.get(key)
    if v is None:
        return {}
    if not isinstance(v, dict):
        raise validation_error(where or key, "Expected an object", "FORMAT")
    return v


def body_obj(req):
    return req.body if isinstance(req.body, dict) else {}


def check_type(v, types, field, what):
    if v is None:
        return
    tt = types if isinstance(types, tuple) else (types,)
    if (isinstance(v, bool) and bool not in tt) or not isinstance(v, tt):
        raise validation_error(field, "Expected %s" % what, "FORMAT")
