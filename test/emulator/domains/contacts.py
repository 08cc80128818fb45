"""CRM contacts (Contacts v4): query (offset paging up to 1,000 a page,
one sort, fieldsets and fields projections, plain-text search) and get.
Query errors are application errors, as the contacts API names them."""
from api import ApiError, app_error, body_obj, entity, need_obj, validation_error
from emu_wql import F, QueryError, compile_filter, parse_sort, spec
from paging import CMP6, HAS, OFFSET, offset_metadata, offset_paging, paged_answer, paging_kind, run_offset_query

C_EQ = ("$eq", "$ne", "$in", "$exists")
C_STR = C_EQ + ("$startsWith",)
CONTACT_SPEC = spec(
    F("id", "str", C_EQ), F("info.locale", "str", C_EQ),
    F("createdDate", "date", CMP6, True), F("info.birthdate", "date", CMP6, True),
    F("lastActivity.activityDate", "date", CMP6, True), F("updatedDate", "date", CMP6),
    F("info.company", "str", C_STR, True), F("info.jobTitle", "str", C_STR, True),
    F("info.name.first", "str", C_STR, True), F("info.name.last", "str", C_STR, True),
    F("primaryInfo.email", "str", C_STR, True), F("primaryInfo.phone", "str", C_STR),
    F("info.labelKeys", "arr", HAS, path="info.labelKeys.items"),
)
CONTACT_DEFAULT_SORT = [(CONTACT_SPEC["createdDate"], False)]
NOT_FILTERABLE = "Field '%s' is not a supported filter field"
NOT_SORTABLE = "Field '%s' is not a supported sort field"
SEARCHED = [F(p, "str", ()).get for p in ("info.name.first", "info.name.last", "info.emails.items.email",
                                          "info.phones.items.phone")]

BASIC = ("id", "revision", "primaryInfo", "primaryEmail", "primaryPhone", "info.name")
FIELDSETS = {"BASIC": BASIC,
             "COMMUNICATION_DETAILS": BASIC + ("info.emails", "info.phones", "info.addresses"),
             "EXTENDED": BASIC + ("info.extendedFields",),
             "FULL": None}


def query_error(e):
    """The application error of a contacts query's filter or sort problem."""
    if e.rule == "MAX_SIZE":
        code = "UNSUPPORTED_SORT_FIELD"
    elif e.message == NOT_FILTERABLE % e.field:
        code = "UNSUPPORTED_FILTER_FIELD_UNKNOWN"
    elif e.message == NOT_SORTABLE % e.field:
        code = "UNSUPPORTED_SORT_FIELD"
    elif "expects" in e.description or e.description.startswith(("Expected", "Invalid date")):
        code = "UNSUPPORTED_FILTER_VALUE_TYPE"
    elif "perator" in e.description:
        code = "UNSUPPORTED_FILTER_OPERATOR"
    else:
        code = "MALFORMED_FILTER"
    return app_error(400, code, e.message, data={"field": e.field})


def search_pred(search):
    """Top-level search: the whole text equals (case-insensitively) a first or
    last name, an email or a phone."""
    if search is None or search == "":
        return None
    if not isinstance(search, str) or len(search) > 100:
        raise validation_error("search", "search must be a string of at most 100 characters", "MAX_LENGTH")
    want = search.lower()

    def p(c):
        for g in SEARCHED:
            v = g(c)
            if any(isinstance(x, str) and x.lower() == want for x in (v if isinstance(v, list) else [v])):
                return True
        return False
    return p


def projected_paths(q):
    """The dotted paths a query returns (None: everything), from
    query.fieldsets and query.fields (their union; FULL when neither)."""
    fieldsets, fields = q.get("fieldsets"), q.get("fields")
    if not fieldsets and not fields:
        return None
    paths = {"id", "revision"}
    for fs in fieldsets or []:
        if fs not in FIELDSETS:
            raise validation_error("query.fieldsets", "Unknown fieldset '%s'" % (fs,), "VALIDATION")
        if FIELDSETS[fs] is None:
            return None
        paths.update(FIELDSETS[fs])
    if not isinstance(fields or [], list) or len(fields or []) > 100:
        raise validation_error("query.fields", "fields must be an array of at most 100 paths", "MAX_SIZE")
    paths.update(f for f in fields or [] if isinstance(f, str))
    return tuple(sorted(paths))


def project(c, paths):
    out = {}
    for path in paths:
        parts = path.split(".")
        src, dst = c, out
        for k in parts[:-1]:
            src = src.get(k) if isinstance(src, dict) else None
            dst = dst.setdefault(k, {})
        if isinstance(src, dict) and parts[-1] in src:
            dst[parts[-1]] = src[parts[-1]]
    return out


def h_contacts_query(req):
    st = req.state
    b = body_obj(req)
    q = need_obj(b, "query")
    paging_kind(q, "query", OFFSET)
    try:
        limit, offset = offset_paging(q, "query", 50, 1000)
    except ApiError as e:
        raise app_error(400, "ILLEGAL_LIMIT", e.body["message"], data={"field": "query.paging"})
    filt, sort = q.get("filter"), q.get("sort")
    try:
        compile_filter(filt, CONTACT_SPEC, "query.filter", NOT_FILTERABLE)
        parse_sort(sort, CONTACT_SPEC, "query.sort", 1, NOT_SORTABLE)
    except QueryError as e:
        raise query_error(e)
    search = b.get("search")
    items = run_offset_query(st, "contacts", filt=filt, sort_raw=sort, extra={"search": search}, spec_=CONTACT_SPEC,
                             default_sort=CONTACT_DEFAULT_SORT, pred_extra=search_pred(search), max_sort=1,
                             sort_where="query.sort")
    page = items[offset:offset + limit]
    paths = projected_paths(q)
    if paths is None:
        parts = [st.wire("contacts", c) for c in page]
    else:
        parts = [st.obj_json("contacts", c, paths, lambda c: project(c, paths)) for c in page]
    return paged_answer("contacts", parts, "pagingMetadata", offset_metadata(page, offset, total=len(items)))


def h_contact_get(req):
    st = req.state
    return entity("contact", st.wire("contacts", st.stored("contacts", req.m["id"], "CONTACT_NOT_FOUND", "Contact")))
