"""Members: query and list (offset paging), get, create, update, delete,
approve and block; fieldsets decide how much of a member is shown."""
import copy
import re

import emu_data as D
from api import (ApiError, app_error, body_obj, body_or_r, bulk_results, check_type, decode_dot_r, entity,
                 list_param, need_obj, new_id, stamp, unique_now_ms, unique_slug, validation_error)
from emu_wql import F, iso_ms, spec
from paging import OFFSET, offset_metadata, offset_paging, paged_answer, paging_kind, run_offset_query

M_OPS = ("$eq", "$ne", "$exists", "$in", "$hasSome", "$startsWith", "$gt", "$gte", "$lt", "$lte")
MEMBER_SPEC = spec(
    F("id", "str", M_OPS), F("loginEmail", "str", M_OPS), F("status", "enum", M_OPS), F("contactId", "str", M_OPS),
    F("contact.firstName", "str", M_OPS, True), F("contact.lastName", "str", M_OPS, True),
    F("profile.nickname", "str", M_OPS, True), F("profile.slug", "str", M_OPS), F("privacyStatus", "enum", M_OPS),
    F("createdDate", "date", (), True, filterable=False), F("updatedDate", "date", (), True, filterable=False),
    F("lastLoginDate", "date", (), True, filterable=False),
)
MEMBER_SEARCH_FIELDS = ("loginEmail", "contact.firstName", "contact.lastName", "profile.title", "profile.nickname", "profile.slug")


# ---------------------------------------------------------------- reads
FIELDSET_LEVEL = {"PUBLIC": 1, "EXTENDED": 2, "FULL": 3}


def fieldset_level(fs, where="fieldsets"):
    if fs is None:
        return 1
    if isinstance(fs, str):
        fs = [fs]
    if not isinstance(fs, list):
        raise validation_error(where, "fieldsets must be an array", "FORMAT")
    if len(fs) > 3:
        raise validation_error(where, "At most 3 fieldsets", "MAX_SIZE")
    lvl = 1
    for f in fs:
        if f not in FIELDSET_LEVEL:
            raise validation_error(where, "Unknown fieldset '%s'" % (f,), "VALIDATION")
        lvl = max(lvl, FIELDSET_LEVEL[f])
    return lvl


def member_proj(level):
    def p(m):
        if level >= 3:
            return m
        out = {"id": m["id"]}
        if level >= 2 and "loginEmail" in m:
            out["loginEmail"] = m["loginEmail"]
        for k in ("status", "contactId", "privacyStatus", "activityStatus", "profile", "createdDate", "updatedDate"):
            if k in ("status", "privacyStatus", "activityStatus"):
                out[k] = m.get(k, "UNKNOWN") if level >= 2 else "UNKNOWN"
            elif k in m:
                out[k] = m[k]
        return out
    return p


MEMBER_PROJ = {lvl: member_proj(lvl) for lvl in (1, 2, 3)}
MEMBER_DEFAULT_SORT = [(MEMBER_SPEC["createdDate"], True)]


def member_search_pred(search):
    if search is None:
        return None
    if not isinstance(search, dict):
        raise validation_error("search", "search must be an object", "FORMAT")
    expr = search.get("expression")
    if not isinstance(expr, str) or not (1 <= len(expr) <= 100):
        raise validation_error("search.expression", "expression must be 1..100 characters", "MAX_LENGTH")
    fields = search.get("fields") or ["profile.nickname"]
    if not isinstance(fields, list) or len(fields) > 4:
        raise validation_error("search.fields", "At most 4 search fields", "MAX_SIZE")
    getters = []
    for f in fields:
        if f not in MEMBER_SEARCH_FIELDS:
            raise validation_error("search.fields", "Field '%s' is not searchable" % (f,), "VALIDATION")
        getters.append(F(f, "str", ()).get)
    e = expr.lower()
    return lambda m: any(isinstance(v, str) and e in v.lower() for v in (g(m) for g in getters))


def h_members_query(req, q=None, fieldsets=None):
    st = req.state
    b = body_or_r(req) if q is None else {}
    if q is None:
        q = need_obj(b, "query")
        fieldsets = b.get("fieldsets")
    paging_kind(q, "query", OFFSET)
    limit, offset = offset_paging(q, "query")
    lvl = fieldset_level(fieldsets)
    sorting = q.get("sorting") if q.get("sorting") is not None else q.get("sort")
    search = b.get("search") if isinstance(b, dict) else None
    items = run_offset_query(st, "members", filt=q.get("filter"), sort_raw=sorting, extra={"search": search},
                             spec_=MEMBER_SPEC, default_sort=MEMBER_DEFAULT_SORT,
                             pred_extra=member_search_pred(search), sort_where="query.sorting")
    page = items[offset:offset + limit]
    proj = MEMBER_PROJ[lvl]
    return paged_answer("members", [st.obj_json("members", m, lvl, proj) for m in page], "metadata",
                        offset_metadata(page, offset, total=len(items)))


def h_members_list(req):
    """GET /members/v1/members (SDK sends .r; flat params also accepted)."""
    d = decode_dot_r(req.params) or {}
    paging = d.get("paging") or {}
    if req.param("paging.limit") is not None:
        paging["limit"] = req.param("paging.limit")
    if req.param("paging.offset") is not None:
        paging["offset"] = req.param("paging.offset")
    fs = d.get("fieldsets") or req.params_list("fieldsets") or None
    q = {"paging": paging}
    if d.get("sorting"):
        q["sorting"] = d["sorting"] if isinstance(d["sorting"], list) else [d["sorting"]]
    return h_members_query(req, q=q, fieldsets=fs)


def get_member(st, mid):
    return st.stored("members", mid, "MEMBER_NOT_FOUND", "Member")


def h_member_get(req):
    st = req.state
    m = get_member(st, req.m["id"])
    lvl = fieldset_level(list_param(req, "fieldsets") or None)
    return entity("member", st.obj_json("members", m, lvl, MEMBER_PROJ[lvl]))


# ---------------------------------------------------------------- changes
CONTACT_STR = ("firstName", "lastName", "birthdate", "company", "jobTitle")
CONTACT_ARR = ("phones", "emails", "addresses")


def apply_member_fields(st, m, u, where="member"):
    c = u.get("contact")
    if c is not None:
        if not isinstance(c, dict):
            raise validation_error(where + ".contact", "Expected an object", "FORMAT")
        mc = m.setdefault("contact", {})
        for k in CONTACT_STR:
            if k in c:
                check_type(c[k], str, "%s.contact.%s" % (where, k), "a string")
                if c[k] in ("", None):
                    mc.pop(k, None)
                else:
                    mc[k] = c[k]
        for k in CONTACT_ARR:
            if k in c:
                if not isinstance(c[k], list):
                    raise validation_error("%s.contact.%s" % (where, k), "Expected an array", "FORMAT")
                if c[k]:
                    mc[k] = copy.deepcopy(c[k])
        if "customFields" in c and isinstance(c["customFields"], dict):
            mc["customFields"] = copy.deepcopy(c["customFields"])
    p = u.get("profile")
    if p is not None:
        if not isinstance(p, dict):
            raise validation_error(where + ".profile", "Expected an object", "FORMAT")
        mp = m.setdefault("profile", {})
        for k in ("nickname", "title"):
            if k in p:
                check_type(p[k], str, "%s.profile.%s" % (where, k), "a string")
                if p[k] in ("", None):
                    mp.pop(k, None)
                else:
                    mp[k] = p[k]
        for k in ("photo", "cover"):
            if k in p:
                if p[k] is None or p[k] == {}:
                    mp.pop(k, None)
                elif isinstance(p[k], dict):
                    mp[k] = copy.deepcopy(p[k])
    if "privacyStatus" in u:
        if u["privacyStatus"] not in ("PUBLIC", "PRIVATE"):
            raise validation_error(where + ".privacyStatus", "privacyStatus must be PUBLIC or PRIVATE", "VALIDATION")
        m["privacyStatus"] = u["privacyStatus"]


def member_full(st, m):
    return entity("member", st.obj_json("members", m, 3, MEMBER_PROJ[3]))


def h_member_create(req):
    st = req.state
    u = body_obj(req).get("member")
    if not isinstance(u, dict):
        raise validation_error("member", "member is required", "REQUIRED_FIELD")
    email = u.get("loginEmail")
    if not isinstance(email, str) or not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", email):
        raise validation_error("member.loginEmail", "A valid loginEmail is required", "REQUIRED_FIELD" if email is None else "FORMAT")
    low = email.lower()
    if any(x.get("loginEmail", "").lower() == low for x in st.idx["members"].values()):
        raise app_error(409, "ALREADY_EXISTS", "Already exists", "A member with loginEmail %s already exists" % email)
    now = iso_ms(unique_now_ms())
    m = {"id": new_id(), "loginEmail": email, "loginEmailVerified": False, "status": "APPROVED", "contactId": new_id(),
         "privacyStatus": "PUBLIC", "activityStatus": "ACTIVE", "contact": {}, "profile": {}, "createdDate": now, "updatedDate": now}
    apply_member_fields(st, m, u)
    c = m["contact"]
    if "nickname" not in m["profile"]:
        nick = " ".join(x for x in (c.get("firstName"), c.get("lastName")) if x) or email.split("@")[0]
        m["profile"]["nickname"] = nick
    slugs = set(x.get("profile", {}).get("slug") for x in st.idx["members"].values())
    m["profile"]["slug"] = unique_slug(slugs, D.slugify(m["profile"]["nickname"]))
    if not c.get("emails"):
        c["emails"] = [email]
    st.add("members", m)
    return member_full(st, m)


def h_member_update(req):
    st = req.state
    m = get_member(st, req.m["id"])
    u = body_obj(req).get("member")
    if not isinstance(u, dict):
        raise validation_error("member", "member is required", "REQUIRED_FIELD")
    if u.get("id") not in (None, m["id"]):
        raise validation_error("member.id", "member.id does not match the path", "VALIDATION")
    if "loginEmail" in u and u["loginEmail"] != m.get("loginEmail"):
        raise validation_error("member.loginEmail", "loginEmail is immutable", "VALIDATION")
    apply_member_fields(st, m, u)
    stamp(m)
    st.touch("members", m["id"])
    return member_full(st, m)


def h_member_approve(req):
    st = req.state
    m = get_member(st, req.m["id"])
    if m.get("status") != "APPROVED":
        m["status"] = "APPROVED"
        stamp(m)
        st.touch("members", m["id"])
    return member_full(st, m)


def h_member_block(req):
    st = req.state
    m = get_member(st, req.m["id"])
    if m.get("loginEmail") == D.OWNER_EMAIL:
        raise app_error(428, "OWNER_MEMBER_BLOCK_FORBIDDEN", "The site owner's member cannot be blocked")
    if m.get("status") != "BLOCKED":
        m["status"] = "BLOCKED"
        stamp(m)
        st.touch("members", m["id"])
    return member_full(st, m)


def h_member_delete(req):
    delete_member(req.state, get_member(req.state, req.m["id"]))
    return {}


def h_members_bulk_delete(req):
    st = req.state
    ids = body_obj(req).get("memberIds")
    if not isinstance(ids, list) or not (1 <= len(ids) <= 100):
        raise validation_error("memberIds", "memberIds must contain 1..100 ids", "MAX_SIZE")

    def one(mid):
        if not isinstance(mid, str):
            raise validation_error("memberIds", "memberIds must be strings", "FORMAT")
        m = get_member(st, mid)
        delete_member(st, m)
        return m
    return bulk_results(ids, one)


def delete_member(st, m):
    if m.get("loginEmail") == D.OWNER_EMAIL:
        raise ApiError(400, {"message": "The site owner's member cannot be deleted", "details": {"validationError": {"fieldViolations": [
            {"field": "id", "description": "The site owner's member cannot be deleted", "violatedRule": "OTHER",
             "ruleName": "OWNER_OR_CONTRIBUTOR_MEMBER_DELETE_FORBIDDEN", "data": {}}]}}})
    st.remove("members", m["id"])
