"""Querying the emulator's collections, and the paged answers: the
operator sets of field specs, the paging a query asks for (cursor or
offset, with Wix's limits and errors), V1-style queries (filter and sort
as JSON strings), free-text search, the two query engines, and every
paging envelope (cursor metadata, offset metadata, the page's JSON text).
"""
import json

from api import Raw, dumps, from_query_error, need_obj, validation_error
from emu_wql import (F, OPS_EQ, QueryError, compile_filter, first_index, jsonable_key,
                     key_from_json, parse_sort)

# ====================================================================== operator sets of field specs
EQ4 = OPS_EQ
EQ3 = frozenset(("$eq", "$ne", "$in"))
CMP6 = frozenset(("$eq", "$ne", "$gt", "$lt", "$gte", "$lte"))
HAS = frozenset(("$hasSome", "$hasAll"))


# ====================================================================== the paging asked for
CURSOR = ("cursor",)
OFFSET = ("offset",)
EITHER = CURSOR + OFFSET


def paging_kind(q, where, accepts):
    """"cursor" or "offset": the paging query object q (at where) asks for,
    refusing one the endpoint does not accept (CURSOR, OFFSET or EITHER)."""
    if accepts == CURSOR:
        if "paging" in q:
            raise validation_error(where + ".paging", "Offset paging is not supported; use cursorPaging", "OTHER")
        return "cursor"
    if accepts == OFFSET:
        if "cursorPaging" in q:
            raise validation_error(where + ".cursorPaging", "Cursor paging is not supported; use paging", "OTHER")
        return "offset"
    if "paging" in q and "cursorPaging" in q:
        raise validation_error(where, "paging and cursorPaging are mutually exclusive", "OTHER")
    return "offset" if "paging" in q else "cursor"


def get_limit(paging, where, default, maximum):
    lim = paging.get("limit")
    if lim is None:
        return default
    if isinstance(lim, bool) or not isinstance(lim, (int, float, str)):
        raise validation_error(where, "limit must be an integer", "FORMAT")
    try:
        lim = int(lim)
    except ValueError:
        raise validation_error(where, "limit must be an integer", "FORMAT")
    if lim > maximum:
        raise validation_error(where, "Must be less than or equal to %d" % maximum, "MAX")
    if lim < 0:
        raise validation_error(where, "Must be greater than or equal to 0", "MIN")
    return lim or default


def get_offset(paging, where):
    off = paging.get("offset", 0)
    if off is None:
        return 0
    try:
        if isinstance(off, bool):
            raise ValueError
        off = int(off)
    except (ValueError, TypeError):
        raise validation_error(where, "offset must be an integer", "FORMAT")
    if off < 0:
        raise validation_error(where, "Must be greater than or equal to 0", "MIN")
    return off


def cursor_paging(q, where, default=100, maximum=100):
    """(limit, cursor or None) of q's cursorPaging."""
    cp = need_obj(q, "cursorPaging", where + ".cursorPaging")
    limit = get_limit(cp, where + ".cursorPaging.limit", default, maximum)
    return limit, cp.get("cursor") or None


def offset_paging(q, where, default=100, maximum=100):
    """(limit, offset) of q's paging."""
    paging = need_obj(q, "paging", where + ".paging")
    limit = get_limit(paging, where + ".paging.limit", default, maximum)
    return limit, get_offset(paging, where + ".paging.offset")


# ====================================================================== V1-style queries (Stores V1, coupons)
def parse_json_string(v, where):
    if v is None or v == "":
        return None
    if not isinstance(v, str):
        raise validation_error(where, "Expected a string.", "FORMAT", message="Expected a string.")
    try:
        return json.loads(v)
    except ValueError:
        raise validation_error(where, "Invalid JSON in %s" % where, "FORMAT")


def v1_sort_normalise(sort):
    """[{"numericId":"asc"}] or [{"fieldName":..,"order":..}] -> [{fieldName, order}]"""
    if sort is None:
        return None
    if isinstance(sort, dict):
        sort = [sort]
    if not isinstance(sort, list):
        raise validation_error("query.sort", "sort must be a JSON array", "FORMAT")
    out = []
    for s in sort:
        if not isinstance(s, dict) or not s:
            raise validation_error("query.sort", "Invalid sort item", "FORMAT")
        if "fieldName" in s:
            order = str(s.get("order", "ASC")).upper()
            out.append({"fieldName": s["fieldName"], "order": order})
        else:
            if len(s) != 1:
                raise validation_error("query.sort", "Invalid sort item", "FORMAT")
            (k, v), = s.items()
            if not isinstance(v, str) or v.lower() not in ("asc", "desc"):
                raise validation_error("query.sort", "Sort order must be 'asc' or 'desc'", "FORMAT")
            out.append({"fieldName": k, "order": v.upper()})
    return out


def string_query(q, ceiling=None):
    """(filter, sort, limit, offset) of a V1-style query object q: filter and
    sort are JSON strings, offset paging up to 100 a page and, with a
    ceiling, offset + limit at most ceiling."""
    paging_kind(q, "query", OFFSET)
    filt = parse_json_string(q.get("filter"), "query.filter")
    sort = v1_sort_normalise(parse_json_string(q.get("sort"), "query.sort"))
    limit, offset = offset_paging(q, "query")
    if ceiling is not None and offset + limit > ceiling:
        raise validation_error("query.paging.offset",
                               "offset + limit must not exceed %d; use a numericId range filter instead" % ceiling,
                               "MAX")
    return filt, sort, limit, offset


# ====================================================================== free-text search
def text_search_pred(search, searchable, default_fields, where):
    """Predicate of a search object {expression, fields, mode} (None without
    an expression), case-insensitive: with mode OR any word of the
    expression, else every word, must appear in the fields."""
    if search is None:
        return None
    if not isinstance(search, dict):
        raise validation_error(where, "search must be an object", "FORMAT")
    expr = search.get("expression")
    if expr is None or expr == "":
        return None
    if not isinstance(expr, str):
        raise validation_error(where + ".expression", "expression must be a string", "FORMAT")
    mode = search.get("mode") or "AND"
    if mode not in ("AND", "OR"):
        raise validation_error(where + ".mode", "mode must be AND or OR", "VALIDATION")
    getters = []
    for f in search.get("fields") or default_fields:
        if f not in searchable:
            raise validation_error(where + ".fields", "Field '%s' is not searchable" % (f,), "VALIDATION")
        getters.append(F(f, "str", ()).get)
    words = expr.lower().split()
    combine = any if mode == "OR" else all

    def p(o):
        txt = " ".join(v for v in (g(o) for g in getters) if isinstance(v, str)).lower()
        return combine(w in txt for w in words)
    return p


# ====================================================================== query engines
def run_cursor_query(st, kind, *, filt, sort_raw, extra, cursor, limit, spec_, max_sort, default_sort,
                     where, pred_factory=None, nf_msg="Field '%s' is not declared as filterable",
                     ns_msg="Field '%s' is not declared as sortable"):
    """Cursor paging. Returns (page, next_cursor, prev_cursor)."""
    direction = "n"
    key = None
    if cursor is not None:
        try:
            c = st.cursor_load(cursor)
            if c.get("k") != kind:
                raise ValueError("kind")
            filt, sort_raw, extra = c.get("f"), c.get("s"), c.get("x")
            direction = c.get("a", "n")
            key = key_from_json(c["key"])
        except Exception:
            raise validation_error(where + ".cursorPaging.cursor", "Invalid cursor", "FORMAT")
    try:
        pred = compile_filter(filt, spec_, "filter", nf_msg)
        sf = parse_sort(sort_raw, spec_, "sort", max_sort, ns_msg)
    except QueryError as e:
        raise from_query_error(e)
    if not sf:
        sf = default_sort
    preds = [p for p in (pred, pred_factory(filt, extra) if pred_factory else None) if p]
    if len(preds) == 2:
        p0, p1 = preds
        full = lambda o: p0(o) and p1(o)  # noqa: E731
    else:
        full = preds[0] if preds else None
    items, keys = st.sorted_matches(kind, filt, sort_raw, extra, full, sf)
    dirs = [d for _, d in sf]
    if key is None:
        start = 0
        end = min(len(items), limit)
    elif direction == "p":
        end = first_index(keys, key, dirs, strict=False)
        start = max(0, end - limit)
    else:
        start = first_index(keys, key, dirs, strict=True)
        end = min(len(items), start + limit)
    page = items[start:end]
    base = {"k": kind, "f": filt, "s": sort_raw, "x": extra}
    nxt = prv = None
    if end < len(items) and page:
        nxt = st.cursor_make(dict(base, a="n", key=jsonable_key(keys[end - 1])))
    if start > 0 and page:
        prv = st.cursor_make(dict(base, a="p", key=jsonable_key(keys[start])))
    return page, nxt, prv


def run_search(st, kind, s, *, spec_, searchable, default_fields, default_sort, max_sort, default=100, maximum=100):
    """(page, next cursor, prev cursor) of a Search request's search object
    s: cursor paging only, filter, sort and the free text s.search over the
    searchable fields (default_fields when it names none)."""
    paging_kind(s, "search", CURSOR)
    limit, cursor = cursor_paging(s, "search", default, maximum)

    def pred(search):
        return text_search_pred(search, searchable, default_fields, "search.search")
    pred(s.get("search"))  # validate even when a cursor is used
    return run_cursor_query(
        st, kind, filt=s.get("filter"), sort_raw=s.get("sort"), extra={"search": s.get("search")}, cursor=cursor,
        limit=limit, spec_=spec_, max_sort=max_sort, default_sort=default_sort, where="search",
        pred_factory=lambda f, x: pred((x or {}).get("search")))


def run_offset_query(st, kind, *, filt, sort_raw, extra, spec_, default_sort, pred_extra=None,
                     max_sort=None, nf_msg="Field '%s' is not declared as filterable",
                     ns_msg="Field '%s' is not declared as sortable", sort_where="sort"):
    try:
        pred = compile_filter(filt, spec_, "filter", nf_msg)
        sf = parse_sort(sort_raw, spec_, sort_where, max_sort, ns_msg)
    except QueryError as e:
        raise from_query_error(e)
    if not sf:
        sf = default_sort
    if pred and pred_extra:
        full = lambda o: pred(o) and pred_extra(o)  # noqa: E731
    else:
        full = pred or pred_extra
    return st.sorted_matches(kind, filt, sort_raw, extra, full, sf)[0]


def either_paged_query(st, kind, q, *, spec_, default_sort, default, maximum, prev, with_total):
    """(page, metadata) of query object q over kind, with the offset or the
    cursor paging q asks for (limits default and maximum): offset metadata
    with the total when with_total, cursor metadata with prev as the API
    has it."""
    if paging_kind(q, "query", EITHER) == "offset":
        limit, offset = offset_paging(q, "query", default, maximum)
        items = run_offset_query(st, kind, filt=q.get("filter"), sort_raw=q.get("sort"), extra=None,
                                 spec_=spec_, default_sort=default_sort)
        page = items[offset:offset + limit]
        return page, offset_metadata(page, offset, total=len(items) if with_total else None)
    limit, cursor = cursor_paging(q, "query", default, maximum)
    page, nxt, prv = run_cursor_query(
        st, kind, filt=q.get("filter"), sort_raw=q.get("sort"), extra=None, cursor=cursor,
        limit=limit, spec_=spec_, max_sort=None, default_sort=default_sort, where="query")
    return page, cursor_metadata(page, nxt, prv, prev=prev)


# ====================================================================== paged answers
PREV_ALWAYS = "always"   # cursors.prev always there, null on the first page
PREV_IF_ANY = "if_any"   # cursors.prev only when there is a previous page
PREV_NEVER = "never"     # no cursors.prev


def cursor_metadata(page, nxt, prv, prev=PREV_ALWAYS, has_next=False):
    """Metadata of a cursor-paged answer: count, cursors (next when there is
    a next page; prev as the API has it) and, when has_next, hasNext."""
    cursors = {}
    if nxt:
        cursors["next"] = nxt
    if prev == PREV_ALWAYS or (prev == PREV_IF_ANY and prv):
        cursors["prev"] = prv
    meta = {"count": len(page), "cursors": cursors}
    if has_next:
        meta["hasNext"] = nxt is not None
    return meta


def offset_metadata(page, offset, total=None):
    """Metadata of an offset-paged answer: count, offset and, when total is
    given, total and tooManyToCount."""
    meta = {"count": len(page), "offset": offset}
    if total is not None:
        meta["total"] = total
        meta["tooManyToCount"] = False
    return meta


def paged_answer(items_key, parts, meta_key, meta, **extra):
    """The answer {"<items_key>": [parts...], "<meta_key>": meta, extra...}
    (no metadata object when meta_key is None); parts are the items' JSON
    texts."""
    if meta_key is not None:
        extra = dict({meta_key: meta}, **extra)
    tail = "".join(',"%s":%s' % (k, dumps(v)) for k, v in extra.items())
    return Raw('{"%s":[%s]%s}' % (items_key, ",".join(parts), tail))
