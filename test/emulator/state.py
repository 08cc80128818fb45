"""The emulator's state: the generated data and its indexes, the JSON text
and query caches, cursors kept server-side, tokens, the request log, the
faults and the live settings (token TTL, rate limit).
"""
import base64
import collections
import os
import threading
import time
import uuid

import emu_data as D
from api import app_error, dumps
from emu_wql import decode_cursor, encode_cursor, sort_items

COLL_ALIAS = {"v3s": "v3", "invs": "inv"}
# a kind computed from another: kind -> (source kind, source object -> object)
DERIVED = {"inv1": ("v1", D.v1_inventory_item)}


def _as_stored(obj):
    return obj


class State:
    def __init__(self, args):
        self.args = args
        self.lock = threading.RLock()
        self.log_lock = threading.Lock()
        self.seq = 0
        self.log = collections.deque(maxlen=200000)
        self.faults = []
        self.tokens = {}
        self.cursor_store = collections.OrderedDict()
        self.rate_window = collections.deque()
        self.token_ttl = args.token_ttl
        self.rate_limit = args.rate_limit
        self.load()

    # ---------------------------------------------------------------- data
    def load(self):
        a = self.args
        with self.lock:
            self.members = D.gen_members(a.seed, a.members)
            self.v1 = []
            self.v3 = []
            self.inv = []
            if a.catalog == "V1":
                self.v1 = D.gen_products_v1(a.seed, a.products)
                catalog = self.v1
            elif a.catalog == "V3":
                self.v3, self.inv = D.gen_products_v3(a.seed, a.products)
                catalog = self.v3
            else:
                catalog = []
            self.orders, self.txns, self.fuls = D.gen_orders(a.seed, a.orders, self.members, catalog)
            D.enrich_orders(a.seed, self.orders, self.txns, self.fuls, catalog)
            self.bookings, booked, staff = D.gen_bookings(a.seed, a.bookings, self.members)
            contacts = D.gen_contacts(a.seed, a.contacts, self.members)
            self.plans = D.gen_plans(a.seed)
            self.idx = {}
            for kind, lst in (("orders", self.orders), ("members", self.members), ("v1", self.v1),
                              ("v3", self.v3), ("inv", self.inv), ("bookings", self.bookings),
                              ("contacts", contacts), ("coupons", D.gen_coupons(a.seed, a.coupons)),
                              ("checkouts", D.gen_abandoned_checkouts(a.seed, a.checkouts, contacts, self.members, catalog)),
                              ("plan-orders", D.gen_plan_orders(a.seed, a.plan_orders, self.members, self.plans)),
                              ("services", D.gen_services(a.seed, a.services, booked, staff))):
                self.idx[kind] = {o["id"]: o for o in lst}
            self.derived_at = {}
            self.ver = collections.defaultdict(int)
            self.qcache = collections.OrderedDict()
            self.jcache = collections.defaultdict(dict)

    def coll(self, kind):
        """kind's index {id: object}; a derived kind is recomputed after its
        source changed."""
        if kind in DERIVED:
            src, make = DERIVED[kind]
            if self.derived_at.get(kind) != self.ver[src]:
                self.idx[kind] = {d["id"]: d for d in map(make, self.idx[src].values())}
                self.derived_at[kind] = self.ver[src]
        return self.idx[kind]

    def touch(self, kind, oid=None):
        """Call after mutating an object (or the collection)."""
        self.ver[kind] += 1
        if oid is not None:
            self.jcache[kind].pop(oid, None)
        else:
            self.jcache[kind].clear()

    def add(self, kind, obj):
        self.idx[kind][obj["id"]] = obj
        self.touch(kind, obj["id"])

    def remove(self, kind, oid):
        self.idx[kind].pop(oid, None)
        self.touch(kind, oid)

    def obj_json(self, kind, obj, variant, proj):
        c = self.jcache[kind].get(obj["id"])
        if c is None:
            c = self.jcache[kind][obj["id"]] = {}
        s = c.get(variant)
        if s is None:
            s = c[variant] = dumps(proj(obj))
        return s

    def stored(self, kind, oid, code, noun):
        """The stored object oid of kind, or Wix's 404 answer (code,
        "<noun> <oid> not found")."""
        obj = self.idx[kind].get(oid)
        if obj is None:
            raise app_error(404, code, "%s %s not found" % (noun, oid))
        return obj

    def wire(self, kind, obj):
        """obj's JSON text as stored (cached)."""
        return self.obj_json(kind, obj, "w", _as_stored)

    def sorted_matches(self, kind, filt, sort_raw, extra, pred, sort_fields):
        key = (kind, dumps(filt), dumps(sort_raw), dumps(extra))
        base = COLL_ALIAS.get(kind, kind)
        v = self.ver[DERIVED[base][0] if base in DERIVED else base]
        hit = self.qcache.get(key)
        if hit is not None and hit[0] == v:
            self.qcache.move_to_end(key)
            return hit[1], hit[2]
        objs = self.coll(base).values()
        items = [o for o in objs if pred(o)] if pred else list(objs)
        items, keys = sort_items(items, sort_fields)
        self.qcache[key] = (v, items, keys)
        if len(self.qcache) > 64:
            self.qcache.popitem(last=False)
        return items, keys

    # ---------------------------------------------------------------- cursors
    CURSOR_INLINE_MAX = 4000

    def cursor_make(self, obj):
        """Self-contained base64url cursor; big ones (huge filters) are kept server-side."""
        c = encode_cursor(obj)
        if len(c) <= self.CURSOR_INLINE_MAX:
            return c
        ref = encode_cursor({"ref": uuid.uuid4().hex})
        self.cursor_store[ref] = obj
        if len(self.cursor_store) > 20000:
            self.cursor_store.popitem(last=False)
        return ref

    def cursor_load(self, s):
        if s in self.cursor_store:
            return self.cursor_store[s]
        obj = decode_cursor(s)
        if "ref" in obj:
            raise ValueError("expired cursor")
        return obj

    # ---------------------------------------------------------------- tokens
    def mint(self):
        tok = "OauthNG.JWS." + base64.urlsafe_b64encode(os.urandom(48)).decode().rstrip("=")
        ttl = self.token_ttl
        with self.lock:
            self.tokens[tok] = (time.time() + ttl, int(time.time()))
        return tok, ttl

    def token_state(self, tok):
        t = self.tokens.get(tok)
        if t is None:
            return None
        return "valid" if time.time() < t[0] else "expired"
