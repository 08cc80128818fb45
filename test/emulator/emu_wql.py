"""WQL (Wix API Query Language) filter/sort evaluation for the Wix emulator.

Filters are compiled once per request into predicates; every field must be declared
in a per-endpoint spec (type, allowed operators, sortable), otherwise a QueryError
(-> HTTP 400 validationError) is raised.
"""
import base64
import datetime as _dt
import json

MISSING = object()

OPS_EQ = frozenset(("$eq", "$ne", "$in", "$nin"))
OPS_RANGE = frozenset(("$gt", "$gte", "$lt", "$lte"))
ALL_STR = OPS_EQ | OPS_RANGE | frozenset(("$exists", "$startsWith", "$isEmpty"))
ALL_NUM = OPS_EQ | OPS_RANGE | frozenset(("$exists",))
ALL_DATE = ALL_NUM
ALL_BOOL = OPS_EQ | frozenset(("$exists",))
ALL_ARR = frozenset(("$hasSome", "$hasAll", "$isEmpty", "$exists"))
KNOWN_OPS = ALL_STR | ALL_ARR | frozenset(("$matchItems", "$contains"))


class QueryError(Exception):
    """Becomes a 400 validationError."""

    def __init__(self, field, description, rule="VALIDATION", message=None):
        super().__init__(message or description)
        self.field = field
        self.description = description
        self.rule = rule
        self.message = message or description


# ---------------------------------------------------------------- dates
_DATE_CACHE = {}


def parse_date(s):
    """ISO-8601 string -> epoch microseconds (int). Raises ValueError."""
    r = _DATE_CACHE.get(s)
    if r is not None:
        return r
    if not isinstance(s, str) or len(s) < 10:
        raise ValueError("not a date")
    t = s.strip()
    if t.endswith("Z") or t.endswith("z"):
        t = t[:-1] + "+00:00"
    # fromisoformat in 3.11 handles most ISO forms; normalise fractions >6 digits
    if "." in t:
        head, _, rest = t.partition(".")
        frac = ""
        i = 0
        while i < len(rest) and rest[i].isdigit():
            frac += rest[i]
            i += 1
        tz = rest[i:]
        frac = (frac + "000000")[:6]
        t = head + "." + frac + tz
    d = _dt.datetime.fromisoformat(t)
    if d.tzinfo is None:
        d = d.replace(tzinfo=_dt.timezone.utc)
    delta = d - _EPOCH
    r = (delta.days * 86400 + delta.seconds) * 1000000 + delta.microseconds
    if len(_DATE_CACHE) < 500000:
        _DATE_CACHE[s] = r
    return r


_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)


def iso_ms(epoch_ms):
    d = _EPOCH + _dt.timedelta(milliseconds=epoch_ms)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (epoch_ms % 1000)


# ---------------------------------------------------------------- field specs
class F:
    """A declared field: wql name, json path, type, operators, sortable."""

    __slots__ = ("name", "path", "type", "ops", "sortable", "filterable", "get", "sub")

    def __init__(self, name, type_, ops, sortable=False, path=None, filterable=True, sub=None):
        self.name = name
        self.path = path or name
        self.type = type_  # str enum bool num date arr objarr
        self.ops = frozenset(ops)
        self.sortable = sortable
        self.filterable = filterable
        g = make_getter(self.path.split("."))
        if type_ == "bool":
            # proto3 semantics: an omitted boolean is false
            self.get = lambda o, g=g: False if (v := g(o)) is MISSING else v
        else:
            self.get = g
        self.sub = sub  # spec for $matchItems


def spec(*fields):
    return {f.name: f for f in fields}


def make_getter(parts):
    if len(parts) == 1:
        k = parts[0]

        def g1(o):
            v = o.get(k, MISSING)
            return MISSING if v is None else v
        return g1

    def g(o):
        vals = [o]
        is_list = False
        for p in parts:
            nv = []
            for c in vals:
                if isinstance(c, dict):
                    v = c.get(p, MISSING)
                    if v is MISSING or v is None:
                        continue
                    if isinstance(v, list):
                        is_list = True
                        nv.extend(v)
                    else:
                        nv.append(v)
            vals = nv
            if not vals:
                break
        if is_list:
            return vals
        return vals[0] if vals else MISSING
    return g


# ---------------------------------------------------------------- conversion
def _conv_filter_value(f, v, where):
    """Validate + convert a filter literal for field f."""
    t = f.type
    if t in ("str", "enum", "arr"):
        if not isinstance(v, str):
            raise QueryError(where, "Expected a string value for field '%s'" % f.name)
        return v
    if t == "bool":
        if not isinstance(v, bool):
            raise QueryError(where, "Expected a boolean value for field '%s'" % f.name)
        return v
    if t == "num":
        if isinstance(v, bool):
            raise QueryError(where, "Expected a number for field '%s'" % f.name)
        if isinstance(v, (int, float)):
            return float(v)
        if isinstance(v, str):
            try:
                x = float(v.strip())
            except ValueError:
                raise QueryError(where, "Expected a number for field '%s'" % f.name)
            if x != x or x in (float("inf"), float("-inf")):
                raise QueryError(where, "Expected a number for field '%s'" % f.name)
            return x
        raise QueryError(where, "Expected a number for field '%s'" % f.name)
    if t == "date":
        if not isinstance(v, str):
            raise QueryError(where, "Expected an ISO-8601 date string for field '%s'" % f.name)
        try:
            return parse_date(v)
        except (ValueError, TypeError):
            raise QueryError(where, "Invalid date '%s' for field '%s'" % (v, f.name))
    raise QueryError(where, "Field '%s' does not support this operator" % f.name)


def _conv_stored(t):
    if t == "num":
        def c(v):
            try:
                return float(v)
            except (TypeError, ValueError):
                return MISSING
        return c
    if t == "date":
        def cd(v):
            try:
                return parse_date(v)
            except (TypeError, ValueError):
                return MISSING
        return cd
    return None


def _is_empty(v):
    return v is MISSING or v == "" or (isinstance(v, list) and not v) or (isinstance(v, dict) and not v)


# ---------------------------------------------------------------- compile
def compile_filter(flt, fields, where="filter", not_filterable_msg="Field '%s' is not declared as filterable"):
    """Returns predicate(obj)->bool. fields: dict name->F."""
    if flt is None:
        return None
    if not isinstance(flt, dict):
        raise QueryError(where, "Filter must be an object")
    preds = []
    for key, val in flt.items():
        if key in ("$and", "$or"):
            if not isinstance(val, list) or not val:
                raise QueryError(where + "." + key, "%s expects a non-empty array of filters" % key)
            subs = []
            for i, s in enumerate(val):
                p = compile_filter(s, fields, "%s.%s[%d]" % (where, key, i), not_filterable_msg)
                subs.append(p or (lambda o: True))
            if key == "$and":
                preds.append(lambda o, subs=subs: all(p(o) for p in subs))
            else:
                preds.append(lambda o, subs=subs: any(p(o) for p in subs))
        elif key == "$not":
            if not isinstance(val, dict):
                raise QueryError(where + ".$not", "$not expects a filter object")
            p = compile_filter(val, fields, where + ".$not", not_filterable_msg) or (lambda o: True)
            preds.append(lambda o, p=p: not p(o))
        elif key.startswith("$"):
            raise QueryError(where, "Unknown operator '%s'" % key)
        else:
            f = fields.get(key)
            if f is None or not f.filterable:
                msg = not_filterable_msg % key
                raise QueryError(key, msg, message=msg)
            fw = where + "." + key
            if isinstance(val, dict) and val and all(isinstance(k, str) and k.startswith("$") for k in val):
                for op, arg in val.items():
                    preds.append(_make_op(f, op, arg, fw, not_filterable_msg))
            elif isinstance(val, dict):
                raise QueryError(fw, "Invalid condition for field '%s'" % key)
            elif isinstance(val, list):
                raise QueryError(fw, "Equality with an array is not supported for field '%s'" % key)
            else:
                if val is not None and "$eq" not in f.ops:
                    raise QueryError(fw, "Operator '$eq' is not supported for field '%s'" % key)
                preds.append(_make_op(f, "$eq", val, fw, not_filterable_msg, implicit=True))
    if not preds:
        return None
    if len(preds) == 1:
        return preds[0]
    return lambda o: all(p(o) for p in preds)


def _make_op(f, op, arg, where, nfm, implicit=False):
    if op not in KNOWN_OPS:
        raise QueryError(where, "Unknown operator '%s'" % op)
    if not implicit and op not in f.ops and not (op == "$eq" and arg is None):
        raise QueryError(where, "Operator '%s' is not supported for field '%s'" % (op, f.name))
    get = f.get
    conv = _conv_stored(f.type)
    t = f.type

    def norm(v):
        return conv(v) if conv else v

    if op in ("$eq", "$ne"):
        if arg is None:
            def p_empty(o):
                return _is_empty(get(o))
            return p_empty if op == "$eq" else (lambda o: not p_empty(o))
        if t == "arr":
            raise QueryError(where, "Operator '%s' is not supported for field '%s'" % (op, f.name))
        c = _conv_filter_value(f, arg, where)

        def p_eq(o):
            v = get(o)
            if v is MISSING:
                return False
            if isinstance(v, list):
                return any(norm(e) == c for e in v)
            return norm(v) == c
        return p_eq if op == "$eq" else (lambda o: not p_eq(o))

    if op in OPS_RANGE:
        c = _conv_filter_value(f, arg, where)
        if t == "bool":
            raise QueryError(where, "Operator '%s' is not supported for field '%s'" % (op, f.name))
        cmpf = {"$gt": lambda a: a > c, "$gte": lambda a: a >= c,
                "$lt": lambda a: a < c, "$lte": lambda a: a <= c}[op]

        def p_rng(o):
            v = get(o)
            if v is MISSING:
                return False
            vs = v if isinstance(v, list) else (v,)
            for e in vs:
                x = norm(e)
                if x is MISSING:
                    continue
                try:
                    if cmpf(x):
                        return True
                except TypeError:
                    pass
            return False
        return p_rng

    if op in ("$in", "$nin", "$hasSome", "$hasAll"):
        if not isinstance(arg, list):
            raise QueryError(where, "Operator '%s' expects an array" % op)
        if op in ("$in", "$nin") and t == "arr":
            raise QueryError(where, "Operator '%s' is not supported for field '%s'" % (op, f.name))
        ft = F(f.name, "str" if t == "arr" else t, ())
        cs = set(_conv_filter_value(ft, a, where) for a in arg)
        if op == "$hasAll":
            def p_all(o):
                v = get(o)
                if v is MISSING:
                    return not cs
                vs = v if isinstance(v, list) else [v]
                have = set(norm(e) for e in vs)
                return cs <= have
            return p_all

        def p_in(o):
            v = get(o)
            if v is MISSING:
                return False
            if isinstance(v, list):
                return any(norm(e) in cs for e in v)
            return norm(v) in cs
        return p_in if op in ("$in", "$hasSome") else (lambda o: not p_in(o))

    if op == "$exists":
        if not isinstance(arg, bool):
            raise QueryError(where, "Operator '$exists' expects a boolean")
        return lambda o: (get(o) is not MISSING) == arg

    if op == "$isEmpty":
        if not isinstance(arg, bool):
            raise QueryError(where, "Operator '$isEmpty' expects a boolean")
        return lambda o: _is_empty(get(o)) == arg

    if op in ("$startsWith", "$contains"):
        if not isinstance(arg, str):
            raise QueryError(where, "Operator '%s' expects a string" % op)
        part = arg.lower()
        test = str.startswith if op == "$startsWith" else str.__contains__

        def p_sw(o):
            v = get(o)
            if v is MISSING:
                return False
            vs = v if isinstance(v, list) else (v,)
            return any(isinstance(e, str) and test(e.lower(), part) for e in vs)
        return p_sw

    if op == "$matchItems":
        if f.sub is None:
            raise QueryError(where, "Operator '$matchItems' is not supported for field '%s'" % f.name)
        sp = compile_filter(arg, f.sub, where + ".$matchItems", nfm) or (lambda o: True)

        def p_mi(o):
            v = get(o)
            if v is MISSING:
                return False
            vs = v if isinstance(v, list) else [v]
            return any(isinstance(e, dict) and sp(e) for e in vs)
        return p_mi
    raise QueryError(where, "Unknown operator '%s'" % op)


def filter_names_value(flt, field, value):
    """True if any condition on `field` mentions `value` (orders PENDING/REJECTED rule)."""
    if isinstance(flt, dict):
        for k, v in flt.items():
            if k == field:
                if _mentions(v, value):
                    return True
            elif k in ("$and", "$or") and isinstance(v, list):
                if any(filter_names_value(s, field, value) for s in v):
                    return True
            elif k == "$not":
                if filter_names_value(v, field, value):
                    return True
    return False


def _mentions(v, value):
    if v == value:
        return True
    if isinstance(v, dict):
        return any(_mentions(x, value) for x in v.values())
    if isinstance(v, list):
        return any(_mentions(x, value) for x in v)
    return False


# ---------------------------------------------------------------- sort
def parse_sort(sort, fields, where="sort", max_items=None,
               not_sortable_msg="Field '%s' is not declared as sortable"):
    """sort: list of {fieldName, order}. Returns list of (F, desc)."""
    if sort is None:
        return []
    if not isinstance(sort, list):
        raise QueryError(where, "Sort must be an array")
    if max_items is not None and len(sort) > max_items:
        raise QueryError(where, "Sort must contain at most %d items" % max_items, rule="MAX_SIZE")
    out = []
    for i, s in enumerate(sort):
        if not isinstance(s, dict) or not isinstance(s.get("fieldName"), str):
            raise QueryError("%s[%d].fieldName" % (where, i), "fieldName is required", rule="REQUIRED_FIELD")
        name = s["fieldName"]
        order = s.get("order", "ASC")
        if order not in ("ASC", "DESC"):
            raise QueryError("%s[%d].order" % (where, i), "order must be ASC or DESC")
        f = fields.get(name)
        if f is None or not f.sortable:
            msg = not_sortable_msg % name
            raise QueryError(name, msg, message=msg)
        out.append((f, order == "DESC"))
    return out


def _sort_key_fn(f):
    get = f.get
    conv = _conv_stored(f.type)

    def k(o):
        v = get(o)
        if isinstance(v, list):
            v = v[0] if v else MISSING
        if v is MISSING:
            return (0,)
        if conv:
            v = conv(v)
            if v is MISSING:
                return (0,)
        if isinstance(v, (dict, list)):
            return (0,)
        return (1, v)
    return k


def sort_items(items, sort_fields):
    """Stable multi-key sort with final id ASC tie-break. Returns (items, keys)."""
    items = sorted(items, key=lambda o: o["id"])
    kfs = [(_sort_key_fn(f), desc) for f, desc in sort_fields]
    for kf, desc in reversed(kfs):
        items.sort(key=kf, reverse=desc)
    keys = [tuple(kf(o) for kf, _ in kfs) + (o["id"],) for o in items]
    return items, keys


def key_cmp(a, b, dirs):
    for i, d in enumerate(dirs):
        x, y = a[i], b[i]
        if x != y:
            try:
                r = -1 if x < y else 1
            except TypeError:
                r = -1 if str(x) < str(y) else 1
            return -r if d else r
    x, y = a[-1], b[-1]
    if x == y:
        return 0
    return -1 if x < y else 1


def first_index(keys, key, dirs, strict):
    """First index i with keys[i] > key (strict) or >= key."""
    lo, hi = 0, len(keys)
    while lo < hi:
        mid = (lo + hi) // 2
        c = key_cmp(keys[mid], key, dirs)
        if c > 0 or (not strict and c == 0):
            hi = mid
        else:
            lo = mid + 1
    return lo


def jsonable_key(k):
    return [list(x) if isinstance(x, tuple) else x for x in k]


def key_from_json(k):
    if not isinstance(k, list) or not k:
        raise ValueError("bad key")
    out = []
    for x in k[:-1]:
        if not isinstance(x, list) or not x or x[0] not in (0, 1):
            raise ValueError("bad key")
        out.append(tuple(x))
    if not isinstance(k[-1], str):
        raise ValueError("bad key")
    out.append(k[-1])
    return tuple(out)


# ---------------------------------------------------------------- cursors
def encode_cursor(obj):
    raw = json.dumps(obj, separators=(",", ":"), sort_keys=True, ensure_ascii=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(s):
    if not isinstance(s, str) or not s or len(s) > 16000:
        raise ValueError("bad cursor")
    pad = "=" * (-len(s) % 4)
    obj = json.loads(base64.urlsafe_b64decode(s + pad).decode())
    if not isinstance(obj, dict):
        raise ValueError("bad cursor")
    return obj
