#!/usr/bin/python3
"""Self-test of the Wix emulator (stdlib unittest). Run: /usr/bin/python3 selftest.py"""
import base64
import http.client
import json
import os
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SITE = "5e2f6a3b-1c4d-4e5f-8a9b-0c1d2e3f4a5b"
ACCOUNT = "7b1e0c2d-0000-4000-8000-00000000acc1"
API_KEY = "IST.wix-emulator-api-key"
CLIENT = {"grant_type": "client_credentials", "client_id": "wix-emulator-app", "client_secret": "wix-emulator-secret"}


class Emu:
    def __init__(self, *args):
        self.p = subprocess.Popen([sys.executable, os.path.join(HERE, "wix_emulator.py"), "--port", "0", *args],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        line = self.p.stdout.readline().decode()
        if not line.strip().isdigit():
            raise RuntimeError("emulator did not start: %r %s" % (line, self.p.stderr.read().decode()))
        self.port = int(line)
        self.conn = None
        self.token = None

    def raw(self, method, path, body=None, headers=None):
        hdrs = {"Content-Type": "application/json"} if body is not None else {}
        hdrs.update(headers or {})
        data = body if isinstance(body, (bytes, str)) or body is None else json.dumps(body)
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            try:
                self.conn.request(method, path, data, hdrs)
                r = self.conn.getresponse()
                text = r.read()
                if r.getheader("Connection", "").lower() == "close":
                    self.conn.close()
                    self.conn = None
                return r.status, text, r
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise

    def call(self, method, path, body=None, auth="token", headers=None):
        h = dict(headers or {})
        if auth == "token":
            if self.token is None:
                self.token = self.mint()
            h["Authorization"] = self.token
        elif auth == "key":
            h["Authorization"] = API_KEY
            h["wix-site-id"] = SITE
        elif auth:
            h["Authorization"] = auth
        st, text, r = self.raw(method, path, body, h)
        return st, (json.loads(text) if text else None), r

    def mint(self, body=None):
        st, text, _ = self.raw("POST", "/oauth2/token", body or CLIENT)
        assert st == 200, text
        return json.loads(text)["access_token"]

    def ctl(self, method, path, body=None):
        st, text, _ = self.raw(method, "/_emulator" + path, body)
        assert st == 200, (st, text)
        return json.loads(text) if text else None

    def data(self, kind):
        return self.ctl("GET", "/data/" + kind)[kind]

    def stop(self):
        if self.conn:
            self.conn.close()
        self.p.terminate()
        self.p.wait(5)
        self.p.stdout.close()
        self.p.stderr.close()


E = None


def setUpModule():
    global E
    E = Emu()


def tearDownModule():
    E.stop()


def code_of(b):
    return b["details"]["applicationError"]["code"]


def search_all(emu, filt=None, sort=None, limit=100):
    body = {"search": {"cursorPaging": {"limit": limit}}}
    if filt is not None:
        body["search"]["filter"] = filt
    if sort is not None:
        body["search"]["sort"] = sort
    out = []
    pages = 0
    while True:
        st, b, _ = emu.call("POST", "/ecom/v1/orders/search", body)
        assert st == 200, b
        pages += 1
        out.extend(b["orders"])
        assert b["metadata"]["count"] == len(b["orders"])
        if not b["metadata"]["hasNext"]:
            assert "next" not in b["metadata"]["cursors"]
            break
        body = {"search": {"cursorPaging": {"limit": limit, "cursor": b["metadata"]["cursors"]["next"]}}}
    return out, pages


class T01Auth(unittest.TestCase):
    def test_token_snake_and_camel(self):
        st, text, r = E.raw("POST", "/oauth2/token", CLIENT)
        b = json.loads(text)
        self.assertEqual(st, 200)
        self.assertTrue(b["access_token"].startswith("OauthNG.JWS."))
        self.assertEqual(b["token_type"], "Bearer")
        self.assertEqual(b["expires_in"], 14400)
        st, text, _ = E.raw("POST", "/oauth2/token", {"grantType": "client_credentials", "clientId": "wix-emulator-app",
                                                      "clientSecret": "wix-emulator-secret"})
        self.assertEqual(st, 200)
        self.assertNotIn(b"wix-emulator-secret", text)

    def test_bad_credentials(self):
        st, text, r = E.raw("POST", "/oauth2/token", dict(CLIENT, client_secret="nope"))
        self.assertEqual(st, 401)
        self.assertEqual(code_of(json.loads(text)), "INVALID_CLIENT")
        self.assertNotIn(b"nope", text)
        self.assertTrue(r.getheader("X-Wix-Request-Id"))
        st, text, _ = E.raw("POST", "/oauth2/token", dict(CLIENT, grant_type="password"))
        self.assertEqual(st, 400)

    def test_token_use_and_401s(self):
        tok = E.mint()
        st, b, r1 = E.call("GET", "/stores/v3/provision/version", auth=tok)
        self.assertEqual((st, b), (200, {"catalogVersion": "V3_CATALOG"}))
        st, b, r2 = E.call("GET", "/stores/v3/provision/version", auth="Bearer " + tok)
        self.assertEqual(st, 200)
        self.assertNotEqual(r1.getheader("X-Wix-Request-Id"), r2.getheader("X-Wix-Request-Id"))
        st, b, r = E.call("GET", "/stores/v3/provision/version", auth=None)
        self.assertEqual(st, 401)
        self.assertIn("message", b)
        self.assertTrue(r.getheader("X-Wix-Request-Id"))
        st, b, _ = E.call("GET", "/stores/v3/provision/version", auth="OauthNG.JWS.forged")
        self.assertEqual(st, 401)
        self.assertEqual(code_of(b), "UNAUTHENTICATED")

    def test_api_key_site_header(self):
        st, b, _ = E.call("GET", "/stores/v3/provision/version", auth="key")
        self.assertEqual(st, 200)
        st, b, _ = E.call("GET", "/stores/v3/provision/version", auth=API_KEY)
        self.assertEqual(st, 403)
        st, b, _ = E.call("GET", "/stores/v3/provision/version", auth=API_KEY, headers={"wix-account-id": ACCOUNT})
        self.assertEqual(st, 403)
        st, b, _ = E.call("GET", "/stores/v3/provision/version", auth=API_KEY, headers={"wix-site-id": "other"})
        self.assertEqual(st, 403)

    def test_expire_and_ttl(self):
        emu = Emu("--orders", "5", "--members", "3", "--products", "3", "--bookings", "3", "--token-ttl", "1")
        try:
            tok = emu.mint()
            st, b, _ = emu.call("GET", "/stores/v3/provision/version", auth=tok)
            self.assertEqual(st, 200)
            time.sleep(1.1)
            st, b, _ = emu.call("GET", "/stores/v3/provision/version", auth=tok)
            self.assertEqual(st, 401)
            emu.ctl("POST", "/config", {"token_ttl": 3600})
            tok = emu.mint()
            self.assertEqual(emu.call("GET", "/stores/v3/provision/version", auth=tok)[0], 200)
            emu.ctl("POST", "/tokens/expire")
            self.assertEqual(emu.call("GET", "/stores/v3/provision/version", auth=tok)[0], 401)
            st, b, _ = emu.call("POST", "/oauth2/token-info", {"token": tok}, auth=None)
            self.assertEqual(b, {"active": False})
        finally:
            emu.stop()


class T02Orders(unittest.TestCase):
    def test_paging_all(self):
        data = E.data("orders")
        expect = [o for o in data if o["status"] not in ("INITIALIZED", "PENDING", "REJECTED")]
        got, pages = search_all(E)
        self.assertEqual(len(got), len(expect))
        self.assertEqual(len(set(o["id"] for o in got)), len(got))
        self.assertEqual(pages, -(-len(expect) // 100))
        dates = [o["createdDate"] for o in got]
        self.assertEqual(dates, sorted(dates, reverse=True))
        self.assertEqual(len(set(o["createdDate"] for o in data)), len(data))

    def test_status_visibility(self):
        data = E.data("orders")
        got, _ = search_all(E, {"status": {"$in": ["PENDING", "APPROVED"]}})
        self.assertEqual(len(got), sum(1 for o in data if o["status"] in ("PENDING", "APPROVED")))
        got, _ = search_all(E, {"status": "REJECTED"})
        self.assertEqual(len(got), sum(1 for o in data if o["status"] == "REJECTED"))
        got, _ = search_all(E, {"status": "INITIALIZED"})
        self.assertEqual(got, [])
        init = next(o for o in data if o["status"] == "INITIALIZED")
        st, b, _ = E.call("GET", "/ecom/v1/orders/" + init["id"])
        self.assertEqual((st, b["order"]["id"]), (200, init["id"]))
        st, b, _ = E.call("GET", "/ecom/v1/orders/nope")
        self.assertEqual((st, code_of(b)), (404, "ORDER_NOT_FOUND"))

    def test_cursor_ignores_filter(self):
        st, b, _ = E.call("POST", "/ecom/v1/orders/search", {"search": {"filter": {"paymentStatus": "PAID"}, "cursorPaging": {"limit": 5}}})
        cur = b["metadata"]["cursors"]["next"]
        st, b2, _ = E.call("POST", "/ecom/v1/orders/search", {"search": {"filter": {"paymentStatus": "NOT_PAID"},
                                                                         "sort": [{"fieldName": "number", "order": "ASC"}],
                                                                         "cursorPaging": {"limit": 5, "cursor": cur}}})
        self.assertEqual(st, 200)
        self.assertTrue(all(o["paymentStatus"] == "PAID" for o in b2["orders"]))
        self.assertLess(b2["orders"][0]["createdDate"], b["orders"][-1]["createdDate"])
        prev = b2["metadata"]["cursors"]["prev"]
        st, b3, _ = E.call("POST", "/ecom/v1/orders/search", {"search": {"cursorPaging": {"limit": 5, "cursor": prev}}})
        self.assertEqual([o["id"] for o in b3["orders"]], [o["id"] for o in b["orders"]])
        self.assertIsNone(b["metadata"]["cursors"]["prev"])

    def test_big_filter_cursor(self):
        data = [o for o in E.data("orders") if o["status"] == "APPROVED"]
        ids = [o["id"] for o in data[:600]]
        got, pages = search_all(E, {"id": {"$in": ids}}, limit=50)
        self.assertEqual(sorted(o["id"] for o in got), sorted(ids))
        self.assertEqual(pages, 12)

    def test_limits_and_fields(self):
        for body, field in (({"search": {"cursorPaging": {"limit": 101}}}, "search.cursorPaging.limit"),
                            ({"search": {"sort": [{"fieldName": "number"}] * 5}}, None),
                            ({"search": {"filter": {"nope": 1}}}, "nope"),
                            ({"search": {"filter": {"archived": {"$gt": True}}}}, None),
                            ({"search": {"sort": [{"fieldName": "id"}]}}, None),
                            ({"search": {"paging": {"limit": 10, "offset": 0}}}, None),
                            ({"search": {"cursorPaging": {"cursor": "garbage"}}}, None)):
            st, b, _ = E.call("POST", "/ecom/v1/orders/search", body)
            self.assertEqual(st, 400, body)
            fv = b["details"]["validationError"]["fieldViolations"][0]
            if field:
                self.assertEqual(fv["field"], field)

    def test_filters_and_sorts(self):
        data = [o for o in E.data("orders") if o["status"] not in ("INITIALIZED", "PENDING", "REJECTED")]
        got, _ = search_all(E, {"paymentStatus": {"$in": ["PAID", "PARTIALLY_PAID"]}, "createdDate": {"$gte": "2025-01-01T00:00:00Z"}})
        exp = [o for o in data if o["paymentStatus"] in ("PAID", "PARTIALLY_PAID") and o["createdDate"] >= "2025-01-01T00:00:00.000Z"]
        self.assertEqual(sorted(o["id"] for o in got), sorted(o["id"] for o in exp))
        got, _ = search_all(E, {"priceSummary.total.amount": {"$gt": "100"}}, [{"fieldName": "priceSummary.total.amount", "order": "ASC"}])
        amts = [float(o["priceSummary"]["total"]["amount"]) for o in got]
        self.assertEqual(len(got), sum(1 for o in data if float(o["priceSummary"]["total"]["amount"]) > 100))
        self.assertEqual(amts, sorted(amts))
        got, _ = search_all(E, {"$or": [{"buyerInfo.email": {"$startsWith": "SEAN"}}, {"number": "10002"}]})
        self.assertTrue(got)
        self.assertTrue(all(o["buyerInfo"]["email"].startswith("sean") or o["number"] == "10002" for o in got))
        got, _ = search_all(E, {"$not": {"archived": False}})
        self.assertEqual(len(got), sum(1 for o in data if o["archived"]))
        name = data[0]["lineItems"][0]["productName"]["original"]
        got, _ = search_all(E, {"lineItems.productName.original": {"$hasSome": [name]}})
        self.assertEqual(len(got), sum(1 for o in data if any(li["productName"]["original"] == name for li in o["lineItems"])))
        got, _ = search_all(E, None, [{"fieldName": "number", "order": "ASC"}], limit=37)
        nums = [int(o["number"]) for o in got]
        self.assertEqual(nums, sorted(nums))
        got, _ = search_all(E, None, [{"fieldName": "paymentStatus", "order": "DESC"}, {"fieldName": "createdDate", "order": "ASC"}], 50)
        keys = [(o["paymentStatus"], o["createdDate"]) for o in got]
        self.assertEqual(keys, sorted(sorted(keys, key=lambda k: k[1]), key=lambda k: k[0], reverse=True))


class T03Members(unittest.TestCase):
    def q(self, body):
        st, b, _ = E.call("POST", "/members/v1/members/query", body)
        self.assertEqual(st, 200, b)
        return b

    def test_fieldsets(self):
        b = self.q({"query": {"paging": {"limit": 100}}})
        self.assertEqual(b["metadata"]["total"], len(E.data("members")))
        self.assertEqual(b["metadata"]["tooManyToCount"], False)
        m = b["members"][0]
        self.assertNotIn("loginEmail", m)
        self.assertNotIn("contact", m)
        self.assertEqual(m["status"], "UNKNOWN")
        m = self.q({"query": {"paging": {"limit": 1}}, "fieldsets": ["EXTENDED"]})["members"][0]
        self.assertIn("loginEmail", m)
        self.assertNotEqual(m["status"], "UNKNOWN")
        self.assertNotIn("contact", m)
        m = self.q({"query": {"paging": {"limit": 1}}, "fieldsets": ["FULL"]})["members"][0]
        self.assertIn("contact", m)
        st, b, _ = E.call("GET", "/members/v1/members/%s?fieldsets=FULL" % m["id"])
        self.assertEqual(b["member"]["contact"], m["contact"])
        st, b, _ = E.call("GET", "/members/v1/members/%s" % m["id"])
        self.assertNotIn("contact", b["member"])

    def test_paging_sort_filter(self):
        data = E.data("members")
        seen = []
        for off in range(0, len(data), 100):
            b = self.q({"query": {"paging": {"limit": 100, "offset": off},
                                  "sorting": [{"fieldName": "profile.nickname", "order": "ASC"}]}})
            seen += b["members"]
            self.assertEqual(b["metadata"]["offset"], off)
        nicks = [m["profile"]["nickname"] for m in seen]
        self.assertEqual(nicks, sorted(nicks))
        self.assertEqual(len(set(m["id"] for m in seen)), len(data))
        b = self.q({"query": {"paging": {"limit": 5}, "sort": [{"fieldName": "contact.lastName", "order": "DESC"}]},
                    "fieldsets": ["FULL"]})
        ln = [m["contact"]["lastName"] for m in b["members"]]
        self.assertEqual(ln, sorted(ln, reverse=True))
        b = self.q({"query": {"filter": {"status": "BLOCKED"}, "paging": {"limit": 100}}, "fieldsets": ["EXTENDED"]})
        self.assertEqual(b["metadata"]["total"], sum(1 for m in data if m["status"] == "BLOCKED"))
        for bad in ({"query": {"paging": {"limit": 101}}}, {"query": {"filter": {"createdDate": {"$gt": "2025-01-01"}}}},
                    {"query": {}, "fieldsets": ["ALL"]}):
            st, b, _ = E.call("POST", "/members/v1/members/query", bad)
            self.assertEqual(st, 400, bad)

    def test_tricky_names(self):
        b = self.q({"query": {"filter": {"contact.lastName": "O'Brien"}, "paging": {"limit": 100}}, "fieldsets": ["FULL"]})
        self.assertTrue(b["members"])
        b = self.q({"query": {"filter": {"contact.firstName": "Back\\slash"}}, "fieldsets": ["FULL"]})
        self.assertTrue(b["members"])
        b = self.q({"query": {"filter": {"contact.lastName": {"$startsWith": "100%_"}}}, "fieldsets": ["FULL"]})
        self.assertTrue(b["members"])
        b = self.q({"query": {"filter": {"contact.lastName": "東京"}}, "fieldsets": ["FULL"]})
        self.assertTrue(b["members"])


class T04V1(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.e = Emu("--catalog", "V1", "--products", "10100", "--orders", "20", "--members", "10", "--bookings", "5")
        cls.data = cls.e.data("products")

    @classmethod
    def tearDownClass(cls):
        cls.e.stop()

    def q(self, query, **kw):
        body = {"query": query}
        body.update(kw)
        return self.e.call("POST", "/stores-reader/v1/products/query", body)

    def test_catalog(self):
        self.assertEqual(self.e.call("GET", "/stores/v3/provision/version")[1], {"catalogVersion": "V1_CATALOG"})
        st, b, _ = self.e.call("POST", "/stores/v3/products/query", {"query": {}})
        self.assertEqual(st, 428)

    def test_string_filters(self):
        mid = self.data[len(self.data) // 2]["numericId"]
        for lit in (int(mid), mid):
            st, b, _ = self.q({"filter": json.dumps({"numericId": {"$gt": lit}}), "sort": '[{"numericId": "asc"}]',
                               "paging": {"limit": 10}}, includeHiddenProducts=True)
            self.assertEqual(st, 200, b)
            self.assertEqual(b["totalResults"], sum(1 for p in self.data if int(p["numericId"]) > int(mid)))
            ids = [int(p["numericId"]) for p in b["products"]]
            self.assertEqual(ids, sorted(ids))
            self.assertEqual(b["metadata"], {"items": 10, "offset": 0})
            self.assertNotIn("variants", b["products"][0])
        st, b, _ = self.q({"filter": {"visible": True}})
        self.assertEqual((st, b["message"]), (400, "Expected a string."))
        st, b, _ = self.q({"sort": json.dumps([{"fieldName": "priceData.price", "order": "DESC"}]), "paging": {"limit": 20}})
        prices = [p["priceData"]["price"] for p in b["products"]]
        self.assertEqual(prices, sorted(prices, reverse=True))
        st, b, _ = self.q({"filter": json.dumps({"name": {"$startsWith": "sean o'"}})}, includeHiddenProducts=True)
        self.assertEqual(b["products"][0]["name"], "Sean O'Brien's Mug")

    def test_hidden_and_ceiling(self):
        st, b, _ = self.q({"paging": {"limit": 1}})
        self.assertEqual(b["totalResults"], sum(1 for p in self.data if p["visible"]))
        st, b, _ = self.q({"paging": {"limit": 1}}, includeHiddenProducts=True)
        self.assertEqual(b["totalResults"], len(self.data))
        st, b, _ = self.q({"paging": {"limit": 100, "offset": 9900}}, includeHiddenProducts=True)
        self.assertEqual((st, len(b["products"])), (200, 100))
        st, b, _ = self.q({"paging": {"limit": 100, "offset": 9901}}, includeHiddenProducts=True)
        self.assertEqual(st, 400)
        self.assertEqual(b["details"]["validationError"]["fieldViolations"][0]["field"], "query.paging.offset")
        st, b, _ = self.q({"paging": {"limit": 101}})
        self.assertEqual(st, 400)

    def test_keyset_all(self):
        last, n = None, 0
        while True:
            f = {"numericId": {"$gt": last}} if last else {}
            st, b, _ = self.q({"filter": json.dumps(f), "sort": '[{"numericId":"asc"}]', "paging": {"limit": 100}},
                              includeHiddenProducts=True)
            if not b["products"]:
                break
            n += len(b["products"])
            last = b["products"][-1]["numericId"]
        self.assertEqual(n, 10100)

    def test_admin(self):
        e = self.e
        st, b, _ = e.call("POST", "/stores/v1/products", {"product": {"name": "Test Mug", "productType": "physical",
                                                                      "priceData": {"price": 12.5}, "sku": "TM-1"}})
        self.assertEqual(st, 200, b)
        p = b["product"]
        self.assertEqual(p["priceData"]["price"], 12.5)
        st, b, _ = e.call("POST", "/stores/v1/products", {"product": {"name": "X", "productType": "digital", "priceData": {"price": 1}}})
        self.assertEqual(st, 400)
        st, b, _ = e.call("PATCH", "/stores/v1/products/" + p["id"], {"product": {"priceData": {"price": 9.9}}})
        self.assertEqual(b["product"]["priceData"]["price"], 9.9)
        st, b, _ = e.call("PATCH", "/stores/v2/inventoryItems/product/" + p["id"], {"inventoryItem": {
            "trackQuantity": True, "variants": [{"variantId": "00000000-0000-0000-0000-000000000000", "quantity": 5}]}})
        self.assertEqual((st, b), (200, {}))
        e.call("POST", "/stores/v2/inventoryItems/increment", {"incrementData": [{"productId": p["id"], "incrementBy": 3}]})
        st, b, _ = e.call("POST", "/stores/v2/inventoryItems/decrement", {"decrementData": [{"productId": p["id"], "decrementBy": 2}]})
        self.assertEqual(st, 200)
        st, b, _ = e.call("GET", "/stores-reader/v1/products/" + p["id"])
        self.assertEqual(b["product"]["stock"]["quantity"], 6)
        st, b, _ = e.call("POST", "/stores/v2/inventoryItems/decrement", {"decrementData": [{"productId": p["id"], "decrementBy": 7}]})
        self.assertEqual((st, code_of(b)), (428, "INSUFFICIENT_INVENTORY"))
        st, b, _ = self.q({"filter": json.dumps({"sku": "TM-1"})})
        self.assertEqual(b["products"][0]["stock"]["quantity"], 6)
        self.assertEqual(e.call("DELETE", "/stores/v1/products/" + p["id"])[0], 200)
        self.assertEqual(e.call("GET", "/stores-reader/v1/products/" + p["id"])[0], 404)


class T05V3(unittest.TestCase):
    def test_cursor_paging_and_fields(self):
        data = E.data("products")
        body = {"query": {"sort": [{"fieldName": "slug", "order": "ASC"}], "cursorPaging": {"limit": 40}}, "fields": ["CURRENCY"]}
        got = []
        while True:
            st, b, _ = E.call("POST", "/stores/v3/products/query", body)
            self.assertEqual(st, 200, b)
            got += b["products"]
            if not b["pagingMetadata"]["hasNext"]:
                break
            body = {"query": {"cursorPaging": {"limit": 40, "cursor": b["pagingMetadata"]["cursors"]["next"]}}, "fields": ["CURRENCY"]}
        self.assertEqual(len(got), len(data))
        slugs = [p["slug"] for p in got]
        self.assertEqual(slugs, sorted(slugs))
        self.assertTrue(all(p["currency"] == "USD" and "variantsInfo" not in p for p in got))
        st, b, _ = E.call("POST", "/stores/v3/products/query", {"query": {"cursorPaging": {"limit": 1}}})
        self.assertNotIn("currency", b["products"][0])
        st, b, _ = E.call("GET", "/stores/v3/products/" + got[0]["id"])
        self.assertIn("variantsInfo", b["product"])

    def test_filters_get_r_count_search(self):
        st, b, _ = E.call("POST", "/stores/v3/products/query", {"query": {"filter": {"name": "x"}}})
        self.assertEqual((st, b["message"]), (400, "Field 'name' is not declared as filterable"))
        st, b, _ = E.call("POST", "/stores/v3/products/query", {"query": {"cursorPaging": {"limit": 101}}})
        self.assertEqual(st, 400)
        r = base64.urlsafe_b64encode(json.dumps({"query": {"filter": {"visible": False}, "cursorPaging": {"limit": 100}}}).encode()).decode().rstrip("=")
        st, b, _ = E.call("GET", "/stores/v3/products/query?.r=" + r)
        hidden = [p for p in E.data("products") if not p["visible"]]
        self.assertEqual(len(b["products"]), len(hidden))
        st, b, _ = E.call("POST", "/stores/v3/products/count", {"filter": {"visible": False}})
        self.assertEqual(b, {"count": len(hidden)})
        st, b, _ = E.call("POST", "/stores/v3/products/search", {"search": {"search": {"expression": "tote"}, "cursorPaging": {"limit": 100}}})
        self.assertTrue(b["products"])
        self.assertTrue(all("tote" in p["name"].lower() for p in b["products"]))
        st, b, _ = E.call("POST", "/stores/v3/products/search", {"search": {"filter": {"actualPriceRange.minValue.amount": {"$lt": "10"}},
                                                                            "sort": [{"fieldName": "name", "order": "ASC"}]}})
        self.assertTrue(all(float(p["actualPriceRange"]["minValue"]["amount"]) < 10 for p in b["products"]))

    def test_none_catalog(self):
        emu = Emu("--catalog", "NONE", "--orders", "3", "--members", "3", "--bookings", "3")
        try:
            self.assertEqual(emu.call("GET", "/stores/v3/provision/version")[1], {"catalogVersion": "STORES_NOT_INSTALLED"})
            st, b, _ = emu.call("POST", "/stores/v3/products/query", {})
            self.assertEqual((st, code_of(b)), (428, "REQUIRED_APP_NOT_INSTALLED"))
            st, b, _ = emu.call("POST", "/stores-reader/v1/products/query", {})
            self.assertEqual((st, code_of(b)), (428, "REQUIRED_APP_NOT_INSTALLED"))
        finally:
            emu.stop()

    def test_admin(self):
        st, b, _ = E.call("POST", "/stores/v3/products", {"product": {
            "name": "Self Mug", "productType": "PHYSICAL", "physicalProperties": {},
            "variantsInfo": {"variants": [{"choices": [], "sku": "SM-1", "physicalProperties": {}, "price": {"actualPrice": {"amount": "12.50"}}}]}}})
        self.assertEqual(st, 200, b)
        p = b["product"]
        self.assertEqual(p["revision"], "1")
        st, b, _ = E.call("PATCH", "/stores/v3/products/" + p["id"], {"product": {"id": p["id"], "revision": "7", "name": "Big"}})
        self.assertEqual((st, code_of(b)), (409, "REVISION_MISMATCH"))
        st, b, _ = E.call("PATCH", "/stores/v3/products/" + p["id"], {"product": {"id": p["id"], "revision": "1", "name": "Big Mug"}})
        self.assertEqual((st, b["product"]["revision"], b["product"]["name"]), (200, "2", "Big Mug"))
        st, b, _ = E.call("POST", "/stores/v3/inventory-items/query", {"query": {"filter": {"productId": p["id"]}}})
        it = b["inventoryItems"][0]
        self.assertNotIn("hasNext", b["pagingMetadata"])
        st, b, _ = E.call("PATCH", "/stores/v3/inventory-items/" + it["id"], {"inventoryItem": {"id": it["id"], "revision": it["revision"], "quantity": 4}})
        self.assertEqual((st, b["inventoryItem"]["quantity"]), (200, 4))
        rev = b["inventoryItem"]["revision"]
        self.assertEqual(int(rev), int(it["revision"]) + 1)
        st, b, _ = E.call("PATCH", "/stores/v3/inventory-items/" + it["id"], {"inventoryItem": {"id": it["id"], "revision": it["revision"], "quantity": 1}})
        self.assertEqual(st, 409)
        st, b, _ = E.call("POST", "/stores/v3/bulk/inventory-items/increment", {"incrementData": [{"inventoryItemId": it["id"], "incrementBy": 2}], "returnEntity": True})
        self.assertEqual(b["results"][0]["item"]["quantity"], 6)
        st, b, _ = E.call("POST", "/stores/v3/bulk/inventory-items/decrement", {"decrementData": [{"inventoryItemId": it["id"], "decrementBy": 9}]})
        self.assertEqual(b["results"][0]["itemMetadata"]["error"]["code"], "INSUFFICIENT_INVENTORY")
        self.assertEqual(b["bulkActionMetadata"]["totalFailures"], 1)
        st, b, _ = E.call("GET", "/stores/v3/products/" + p["id"])
        self.assertTrue(b["product"]["variantsInfo"]["variants"][0]["inventoryStatus"]["inStock"])
        self.assertEqual(E.call("DELETE", "/stores/v3/products/" + p["id"])[0], 200)
        self.assertEqual(E.call("GET", "/stores/v3/products/" + p["id"])[0], 404)

    def test_bulk_products(self):
        def product(name, amount="3.00"):
            return {"name": name, "productType": "PHYSICAL", "physicalProperties": {},
                    "variantsInfo": {"variants": [{"choices": [], "price": {"actualPrice": {"amount": amount}}}]}}
        st, b, _ = E.call("POST", "/stores/v3/bulk/products/create",
                          {"products": [product("Bulk A"), product("", "1.00"), product("Bulk C")], "returnEntity": False})
        self.assertEqual(st, 200, b)
        self.assertEqual(b["bulkActionMetadata"], {"totalSuccesses": 2, "totalFailures": 1, "undetailedFailures": 0})
        metas = [r["itemMetadata"] for r in b["results"]]
        self.assertEqual([m["success"] for m in metas], [True, False, True])
        self.assertEqual(metas[1]["error"]["code"], "REQUIRED_FIELD")
        self.assertNotIn("item", b["results"][0])
        ids = [metas[0]["id"], metas[2]["id"]]
        self.assertEqual(E.call("GET", "/stores/v3/products/" + ids[0])[1]["product"]["name"], "Bulk A")
        self.assertEqual(E.call("POST", "/stores/v3/bulk/products/create", {"products": []})[0], 400)
        self.assertEqual(E.call("POST", "/stores/v3/bulk/products/create", {"products": [product("x")] * 101})[0], 400)
        st, b, _ = E.call("POST", "/stores/v3/bulk/products/update", {"returnEntity": True, "products": [
            {"product": {"id": ids[0], "revision": "1", "visible": False}},
            {"product": {"id": ids[1], "revision": "9", "visible": False}}]})
        metas = [r["itemMetadata"] for r in b["results"]]
        self.assertEqual((metas[0]["success"], b["results"][0]["item"]["revision"]), (True, "2"))
        self.assertEqual(metas[1]["error"]["code"], "REVISION_MISMATCH")
        st, b, _ = E.call("POST", "/stores/v3/bulk/products/delete", {"productIds": ids + ["nope"]})
        self.assertEqual([r["itemMetadata"]["success"] for r in b["results"]], [True, True, False])
        self.assertEqual(E.call("GET", "/stores/v3/products/" + ids[1])[0], 404)


class T06Bookings(unittest.TestCase):
    def test_cursor_offset_filters(self):
        data = E.data("bookings")
        body = {"query": {}}
        got = []
        while True:
            st, b, _ = E.call("POST", "/_api/bookings-reader/v2/extended-bookings/query", body)
            self.assertEqual(st, 200, b)
            self.assertNotIn("hasNext", b["pagingMetadata"])
            self.assertLessEqual(len(b["extendedBookings"]), 50)
            self.assertNotIn("allowedActions", b["extendedBookings"][0])
            got += b["extendedBookings"]
            nxt = b["pagingMetadata"]["cursors"].get("next")
            if not nxt:
                break
            body = {"query": {"cursorPaging": {"limit": 50, "cursor": nxt}}}
        self.assertEqual(len(got), len(data))
        st, b, _ = E.call("POST", "/_api/bookings-reader/v2/extended-bookings/query", {"query": {"paging": {"limit": 10, "offset": 5}}})
        self.assertEqual(b["pagingMetadata"]["total"], len(data))
        sid = next(x["bookedEntity"]["slot"]["serviceId"] for x in data if "slot" in x["bookedEntity"])
        st, b, _ = E.call("POST", "/_api/bookings-reader/v2/extended-bookings/query", {
            "query": {"filter": {"bookedEntity.item.slot.serviceId": sid, "status": {"$in": ["CONFIRMED", "PENDING"]}},
                      "sort": [{"fieldName": "startDate", "order": "ASC"}], "cursorPaging": {"limit": 100}},
            "withBookingAllowedActions": True})
        exp = [x for x in data if x["bookedEntity"].get("slot", {}).get("serviceId") == sid and x["status"] in ("CONFIRMED", "PENDING")]
        self.assertEqual(len(b["extendedBookings"]), len(exp))
        self.assertIn("allowedActions", b["extendedBookings"][0])
        sd = [x["booking"]["startDate"] for x in b["extendedBookings"]]
        self.assertEqual(sd, sorted(sd))
        st, b, _ = E.call("POST", "/_api/bookings-reader/v2/extended-bookings/query", {"query": {"filter": {"bookedEntity.slot.serviceId": sid}}})
        self.assertEqual(st, 400)
        st, b, _ = E.call("POST", "/_api/bookings-reader/v2/extended-bookings/query", {"query": {"cursorPaging": {"limit": 101}}})
        self.assertEqual(st, 400)
        st, b, _ = E.call("POST", "/_api/bookings-reader/v2/extended-bookings/count", {"filter": {"status": "CANCELED"}})
        self.assertEqual(b["count"], sum(1 for x in data if x["status"] == "CANCELED"))

    def test_actions(self):
        data = E.data("bookings")
        pend = [x for x in data if x["status"] == "PENDING"]
        b0 = pend[0]
        url = "/_api/bookings-service/v2/bookings/%s/" % b0["id"]
        st, b, _ = E.call("POST", url + "confirm", {})
        self.assertEqual(st, 409)
        st, b, _ = E.call("POST", url + "confirm", {"revision": str(int(b0["revision"]) + 5)})
        self.assertEqual(st, 409)
        st, b, _ = E.call("POST", url + "confirm", {"revision": b0["revision"], "paymentStatus": "PAID"})
        self.assertEqual((st, b["booking"]["status"], b["booking"]["revision"]), (200, "CONFIRMED", str(int(b0["revision"]) + 1)))
        rev = b["booking"]["revision"]
        st, b, _ = E.call("POST", url + "confirm", {"revision": rev})
        self.assertEqual((st, code_of(b)), (428, "FAILED_CONFIRMING_NON_PENDING_BOOKING"))
        st, b, _ = E.call("POST", url + "reschedule", {"revision": rev, "slot": {"startDate": "2026-12-01T10:00:00", "endDate": "2026-12-01T11:00:00",
                                                                                "timezone": "Europe/Rome"}})
        if "slot" in b0["bookedEntity"]:
            self.assertEqual((st, b["booking"]["startDate"]), (200, "2026-12-01T09:00:00.000Z"))
            rev = b["booking"]["revision"]
        st, b, _ = E.call("POST", url + "cancel", {"revision": rev})
        self.assertEqual((st, b["booking"]["status"]), (200, "CANCELED"))
        st, b, _ = E.call("POST", url + "cancel", {"revision": b["booking"]["revision"]})
        self.assertEqual((st, code_of(b)), (428, "INVALID_BOOKING_STATUS"))
        st, b, _ = E.call("POST", "/_api/bookings-reader/v2/extended-bookings/query", {"query": {"filter": {"id": b0["id"]}}})
        self.assertEqual(b["extendedBookings"][0]["booking"]["status"], "CANCELED")
        b1 = pend[1]
        st, b, _ = E.call("POST", "/_api/bookings-service/v2/bookings/%s/decline" % b1["id"], {"revision": b1["revision"]})
        self.assertEqual((st, b["booking"]["status"]), (200, "DECLINED"))
        st, b, _ = E.call("POST", "/_api/bookings-service/v2/bookings/nope/cancel", {"revision": "1"})
        self.assertEqual((st, code_of(b)), (404, "BOOKING_NOT_FOUND"))


class T07Control(unittest.TestCase):
    def test_request_log(self):
        E.ctl("POST", "/requests/reset")
        E.raw("POST", "/oauth2/token", CLIENT)
        E.call("GET", "/stores/v3/provision/version", auth="key")
        E.call("GET", "/stores/v3/provision/version", auth="bad")
        E.call("GET", "/stores/v3/provision/version?x=1", auth=None)
        E.ctl("GET", "/faults")
        reqs = E.ctl("GET", "/requests")["requests"]
        self.assertEqual([r["path"] for r in reqs], ["/oauth2/token"] + ["/stores/v3/provision/version"] * 3)
        self.assertEqual(reqs[0]["body"]["client_secret"], "***")
        self.assertEqual([r["headers"]["authorization"] for r in reqs], ["missing", "api_key", "invalid", "missing"])
        self.assertEqual([r["status"] for r in reqs], [200, 200, 401, 401])
        self.assertEqual(reqs[3]["query"], {"x": ["1"]})
        self.assertEqual(reqs[1]["headers"]["wix-site-id"], SITE)
        self.assertEqual(reqs[1]["method"], "GET")
        seqs = [r["seq"] for r in reqs]
        self.assertEqual(seqs, sorted(seqs))
        E.call("GET", "/stores/v3/provision/version")
        self.assertEqual(E.ctl("GET", "/requests")["requests"][-1]["headers"]["authorization"], "token")

    def test_faults(self):
        E.ctl("POST", "/faults", {"match": "/stores/v3/provision", "times": 2, "status": 503})
        E.ctl("POST", "/faults", {"match": "/stores/v3/provision", "method": "POST", "status": 500})
        self.assertEqual(len(E.ctl("GET", "/faults")["faults"]), 2)
        st, b, r = E.call("GET", "/stores/v3/provision/version")
        self.assertEqual((st, code_of(b)), (503, "UNAVAILABLE"))
        self.assertTrue(r.getheader("X-Wix-Request-Id"))
        self.assertEqual(E.call("GET", "/stores/v3/provision/version")[0], 503)
        self.assertEqual(E.call("GET", "/stores/v3/provision/version")[0], 200)
        E.ctl("DELETE", "/faults")
        self.assertEqual(E.ctl("GET", "/faults")["faults"], [])
        E.ctl("POST", "/faults", {"match": "/stores/v3/provision", "status": 429, "body": "not json", "headers": {"Retry-After": "7"}})
        st, text, r = E.raw("GET", "/stores/v3/provision/version", headers={"Authorization": API_KEY, "wix-site-id": SITE})
        self.assertEqual((st, text, r.getheader("Retry-After")), (429, b"not json", "7"))
        E.ctl("POST", "/faults", {"match": "/stores/v3/provision", "hang_ms": 300})
        t = time.time()
        st, b, _ = E.call("GET", "/stores/v3/provision/version")
        self.assertEqual(st, 200)
        self.assertGreater(time.time() - t, 0.28)
        E.ctl("POST", "/faults", {"match": "/stores/v3/provision", "truncate": True})
        with self.assertRaises(http.client.HTTPException):
            E.call("GET", "/stores/v3/provision/version")
        E.conn.close()
        E.conn = None
        self.assertEqual(E.call("GET", "/stores/v3/provision/version")[0], 200)

    def test_rate_limit(self):
        emu = Emu("--orders", "3", "--members", "3", "--products", "3", "--bookings", "3", "--rate-limit", "3")
        try:
            sts = [emu.call("GET", "/stores/v3/provision/version", auth="key")[0] for _ in range(3)]
            self.assertEqual(sts, [200] * 3)
            st, b, r = emu.call("GET", "/stores/v3/provision/version", auth="key")
            self.assertEqual((st, code_of(b)), (429, "RESOURCE_EXHAUSTED"))
            self.assertGreaterEqual(int(r.getheader("Retry-After")), 1)
            emu.ctl("POST", "/config", {"rate_limit_per_minute": 0})
            self.assertEqual(emu.call("GET", "/stores/v3/provision/version", auth="key")[0], 200)
        finally:
            emu.stop()

    def test_reset_and_determinism(self):
        emu = Emu("--orders", "30", "--members", "10", "--products", "10", "--bookings", "10", "--seed", "7")
        emu2 = Emu("--orders", "30", "--members", "10", "--products", "10", "--bookings", "10", "--seed", "7")
        try:
            before = emu.data("members")
            self.assertEqual(before, emu2.data("members"))
            self.assertEqual(emu.data("orders"), emu2.data("orders"))
            m = next(x for x in before if x["loginEmail"] != "owner@wix-emulator.test")
            self.assertEqual(emu.call("DELETE", "/members/v1/members/" + m["id"])[0], 200)
            self.assertEqual(len(emu.data("members")), len(before) - 1)
            emu.ctl("POST", "/reset")
            self.assertEqual(emu.data("members"), before)
            self.assertEqual(emu.ctl("GET", "/requests")["requests"], [])
        finally:
            emu.stop()
            emu2.stop()


class T08OrderAdmin(unittest.TestCase):
    def test_cancel_archive(self):
        data = E.data("orders")
        o = next(x for x in data if x["status"] == "APPROVED" and x["paymentStatus"] == "NOT_PAID")
        st, b, _ = E.call("POST", "/ecom/v1/orders/%s/cancel" % o["id"], {"sendOrderCanceledEmail": False})
        self.assertEqual((st, b["order"]["status"]), (200, "CANCELED"))
        got, _ = search_all(E, {"id": o["id"]})
        self.assertEqual(got[0]["status"], "CANCELED")
        p = next(x for x in data if x["status"] == "PENDING")
        st, b, _ = E.call("POST", "/ecom/v1/orders/%s/cancel" % p["id"], {})
        self.assertEqual((st, code_of(b)), (428, "ORDER_IS_PENDING"))
        st, b, _ = E.call("PATCH", "/ecom/v1/orders/" + o["id"], {"order": {"id": o["id"], "archived": True}})
        self.assertEqual((st, b["order"]["archived"]), (200, True))
        got, _ = search_all(E, {"archived": True, "id": {"$in": [o["id"]]}})
        self.assertEqual(len(got), 1)
        st, b, _ = E.call("PATCH", "/ecom/v1/orders/" + p["id"], {"order": {"id": p["id"], "archived": True}})
        self.assertEqual((st, code_of(b)), (428, "ORDER_IS_PENDING"))

    def test_refunds(self):
        data = E.data("orders")
        o = next(x for x in data if x["status"] == "APPROVED" and x["paymentStatus"] == "PAID" and "shippingInfo" in x
                 and float(x["priceSummary"]["total"]["amount"]) > 20
                 and all(p["regularPaymentDetails"]["paymentMethod"] == "CreditCard"
                         for p in E.call("GET", "/ecom/v1/payments/orders/" + x["id"])[1]["orderTransactions"]["payments"]))
        st, b, _ = E.call("GET", "/ecom/v1/payments/orders/" + o["id"])
        pays = b["orderTransactions"]["payments"]
        st, rf, _ = E.call("POST", "/ecom/v1/order-billing/get-order-refundability", {"orderId": o["id"]})
        self.assertTrue(rf["payments"][0]["refundable"])
        li = o["lineItems"][0]
        st, b, _ = E.call("POST", "/ecom/v1/order-billing/refund-payments", {
            "orderId": o["id"], "paymentRefunds": [{"paymentId": pays[0]["id"], "amount": {"amount": "5.00"}}],
            "refundItems": {"lineItems": [{"lineItemId": li["id"], "quantity": 1}]}})
        self.assertEqual(st, 200, b)
        self.assertEqual(b["refund"]["transactions"][0]["refundStatus"], "SUCCEEDED")
        st, b, _ = E.call("GET", "/ecom/v1/orders/" + o["id"])
        self.assertEqual(b["order"]["paymentStatus"], "PARTIALLY_REFUNDED")
        st, b, _ = E.call("POST", "/ecom/v1/order-billing/refund-payments", {
            "orderId": o["id"], "paymentRefunds": [{"paymentId": pays[0]["id"], "amount": {"amount": "999999.00"}}]})
        self.assertEqual((st, code_of(b)), (400, "INVALID_PAYMENT_REFUND_AMOUNT"))
        st, b, _ = E.call("POST", "/ecom/v1/order-billing/refund-payments", {
            "orderId": o["id"], "paymentRefunds": [{"paymentId": "nope", "amount": {"amount": "1.00"}}]})
        self.assertEqual((st, code_of(b)), (404, "PAYMENT_NOT_FOUND"))
        st, b, _ = E.call("POST", "/ecom/v1/order-billing/refund-payments", {
            "orderId": o["id"], "paymentRefunds": [{"paymentId": pays[0]["id"], "amount": {"amount": "1.00"}}],
            "refundItems": {"lineItems": [{"lineItemId": li["id"], "quantity": li["quantity"]}]}})
        self.assertEqual((st, code_of(b)), (400, "INVALID_LINE_ITEM_REFUND_QUANTITY"))
        # full remaining refund recipe
        st, rf, _ = E.call("POST", "/ecom/v1/order-billing/get-order-refundability", {"orderId": o["id"]})
        prs = [{"paymentId": p["payment"]["paymentId"], "amount": p["payment"]["monetary"]["maxRefund"]} for p in rf["payments"] if p.get("refundable")]
        items = [{"lineItemId": x["lineItemId"], "quantity": x["availableRefundQuantity"]} for x in rf["lineItems"] if x["availableRefundQuantity"] > 0]
        st, b, _ = E.call("POST", "/ecom/v1/order-billing/refund-payments", {
            "orderId": o["id"], "paymentRefunds": prs,
            "refundItems": {"lineItems": items, "shipping": {"amount": rf["shipping"]["availableRefundAmount"]}}})
        self.assertEqual(st, 200, b)
        got, _ = search_all(E, {"id": o["id"], "paymentStatus": "FULLY_REFUNDED"})
        self.assertEqual(len(got), 1)
        st, rf, _ = E.call("POST", "/ecom/v1/order-billing/get-order-refundability", {"orderId": o["id"]})
        self.assertEqual(rf["payments"][0]["nonRefundable"]["reason"], "ALREADY_REFUNDED")
        self.assertEqual(rf["shipping"]["availableRefundAmount"]["amount"], "0.00")

    def test_fulfillments(self):
        data = E.data("orders")
        o = next(x for x in data if x["status"] == "APPROVED" and x["fulfillmentStatus"] == "NOT_FULFILLED"
                 and sum(li["quantity"] for li in x["lineItems"]) >= 2)
        li = o["lineItems"][0]
        url = "/ecom/v1/fulfillments/orders/%s/create-fulfillment" % o["id"]
        st, b, _ = E.call("POST", url, {"fulfillment": {"lineItems": [{"id": li["id"], "quantity": 1}],
                                                        "trackingInfo": {"trackingNumber": "1ZSELF", "shippingProvider": "ups"}}})
        self.assertEqual(st, 200, b)
        self.assertTrue(b["fulfillmentId"])
        self.assertIn("ups.com", b["orderWithFulfillments"]["fulfillments"][-1]["trackingInfo"]["trackingLink"])
        st, b, _ = E.call("GET", "/ecom/v1/orders/" + o["id"])
        self.assertEqual(b["order"]["fulfillmentStatus"], "PARTIALLY_FULFILLED")
        st, b, _ = E.call("POST", url, {"fulfillment": {"lineItems": [{"id": li["id"]}],
                                                        "trackingInfo": {"trackingNumber": "1ZSELF", "shippingProvider": "ups"}}})
        self.assertEqual((st, code_of(b)), (409, "TRACKING_NUMBER_ALREADY_EXISTS"))
        st, b, _ = E.call("POST", url, {"fulfillment": {"lineItems": [{"id": x["id"]} for x in o["lineItems"] if x["quantity"] > (1 if x is li else 0)][:1] or [{"id": li["id"]}],
                                                        "trackingInfo": {"trackingNumber": "X1", "shippingProvider": "my-courier"}}})
        self.assertEqual(st, 400)
        rest = []
        for x in o["lineItems"]:
            q = x["quantity"] - (1 if x["id"] == li["id"] else 0)
            if q:
                rest.append({"id": x["id"], "quantity": q})
        st, b, _ = E.call("POST", url, {"fulfillment": {"lineItems": rest, "trackingInfo": {
            "trackingNumber": "X2", "shippingProvider": "my-courier", "trackingLink": "https://courier.test/X2"}}})
        self.assertEqual(st, 200, b)
        got, _ = search_all(E, {"id": o["id"], "fulfillmentStatus": "FULFILLED"})
        self.assertEqual(len(got), 1)
        st, b, _ = E.call("GET", "/ecom/v1/fulfillments/orders/" + o["id"])
        self.assertEqual(len(b["orderWithFulfillments"]["fulfillments"]), 2)
        st, b, _ = E.call("POST", url, {"fulfillment": {"lineItems": [{"id": li["id"], "quantity": 1}], "trackingInfo": {
            "trackingNumber": "X3", "shippingProvider": "ups"}}})
        self.assertEqual(st, 400)


class T09MemberAdmin(unittest.TestCase):
    def test_bulk_delete(self):
        ids = []
        for n in (1, 2):
            st, b, _ = E.call("POST", "/members/v1/members", {"member": {"loginEmail": "bulk.%d@example.com" % n}})
            ids.append(b["member"]["id"])
        st, b, _ = E.call("POST", "/members/v1/members/bulk/delete", {"memberIds": ids + ["nope"]})
        self.assertEqual(st, 200, b)
        self.assertEqual([r["itemMetadata"]["success"] for r in b["results"]], [True, True, False])
        self.assertEqual(b["results"][0]["itemMetadata"]["id"], ids[0])
        self.assertEqual(b["results"][2]["itemMetadata"]["error"]["code"], "MEMBER_NOT_FOUND")
        self.assertEqual(b["bulkActionMetadata"], {"totalSuccesses": 2, "totalFailures": 1, "undetailedFailures": 0})
        self.assertEqual(E.call("GET", "/members/v1/members/" + ids[0])[0], 404)
        self.assertEqual(E.call("POST", "/members/v1/members/bulk/delete", {"memberIds": []})[0], 400)

    def test_member_lifecycle(self):
        total = len(E.data("members"))
        st, b, _ = E.call("POST", "/members/v1/members", {"member": {"loginEmail": "new.one@example.com",
                                                                     "contact": {"firstName": "New", "lastName": "One"}}})
        self.assertEqual(st, 200, b)
        m = b["member"]
        st, b, _ = E.call("POST", "/members/v1/members", {"member": {"loginEmail": "NEW.one@example.com"}})
        self.assertEqual(st, 409)
        st, b, _ = E.call("POST", "/members/v1/members/query", {"query": {"paging": {"limit": 1}}})
        self.assertEqual(b["metadata"]["total"], total + 1)
        st, b, _ = E.call("POST", "/members/v1/members/%s/block" % m["id"], {})
        self.assertEqual(b["member"]["status"], "BLOCKED")
        st, b, _ = E.call("POST", "/members/v1/members/query", {"query": {"filter": {"id": m["id"]}}, "fieldsets": ["EXTENDED"]})
        self.assertEqual(b["members"][0]["status"], "BLOCKED")
        st, b, _ = E.call("POST", "/members/v1/members/%s/approve" % m["id"], {"id": m["id"]})
        self.assertEqual(b["member"]["status"], "APPROVED")
        st, b, _ = E.call("PATCH", "/members/v1/members/" + m["id"], {"member": {"id": m["id"], "contact": {"firstName": "Renamed", "lastName": ""}}})
        self.assertEqual(b["member"]["contact"]["firstName"], "Renamed")
        self.assertNotIn("lastName", b["member"]["contact"])
        st, b, _ = E.call("DELETE", "/members/v1/members/" + m["id"])
        self.assertEqual((st, b), (200, {}))
        st, b, _ = E.call("GET", "/members/v1/members/" + m["id"])
        self.assertEqual((st, code_of(b)), (404, "MEMBER_NOT_FOUND"))
        owner = next(x for x in E.data("members") if x["loginEmail"] == "owner@wix-emulator.test")
        st, b, _ = E.call("POST", "/members/v1/members/%s/block" % owner["id"], {})
        self.assertEqual((st, code_of(b)), (428, "OWNER_MEMBER_BLOCK_FORBIDDEN"))
        st, b, _ = E.call("DELETE", "/members/v1/members/" + owner["id"])
        self.assertEqual(st, 400)
        pend = next(x for x in E.data("members") if x["status"] == "PENDING")
        st, b, _ = E.call("POST", "/members/v1/members/%s/approve" % pend["id"], {})
        self.assertEqual(b["member"]["status"], "APPROVED")


class T10Perf(unittest.TestCase):
    def test_page_speed(self):
        body = {"search": {"cursorPaging": {"limit": 100}}}
        E.call("POST", "/ecom/v1/orders/search", body)
        t = time.time()
        for _ in range(20):
            st, text, _ = E.raw("POST", "/ecom/v1/orders/search", body, {"Authorization": E.token or E.mint()})
        self.assertLess((time.time() - t) / 20, 0.05)


def app_code(b):
    return b["details"]["applicationError"]["code"]


def cursor_all(emu, path, key, items_key, body, meta_key):
    """Every item of a cursor-paged query/search, following cursors.next."""
    out = []
    while True:
        st, b, _ = emu.call("POST", path, body)
        assert st == 200, b
        out.extend(b[items_key])
        assert b[meta_key]["count"] == len(b[items_key])
        nxt = b[meta_key]["cursors"].get("next")
        if not nxt:
            return out
        body = {key: {"cursorPaging": {"cursor": nxt, "limit": body[key]["cursorPaging"]["limit"]}}}


class T11OrderBreadth(unittest.TestCase):
    def test_line_items_payments_fulfillments(self):
        orders = E.data("orders")
        lis = [li for o in orders for li in o["lineItems"]]
        self.assertTrue(any("catalogReference" not in li and "custom" in li["itemType"] for li in lis))
        self.assertTrue(any((li.get("catalogReference") or {}).get("options", {}).get("variantId") for li in lis))
        self.assertTrue(any(li.get("depositAmount") for li in lis))
        self.assertTrue(any(d.get("lineType") == "COLOR" for li in lis for d in li.get("descriptionLines", [])))
        for o in orders:
            tax = sum(float(li["taxInfo"]["taxAmount"]["amount"]) for li in o["lineItems"])
            self.assertAlmostEqual(tax, float(o["priceSummary"]["tax"]["amount"]), places=2)
        ids = [o["id"] for o in orders]
        st, b, _ = E.call("POST", "/ecom/v1/payments/list-by-ids", {"orderIds": ids[:101]})
        self.assertEqual((st, b["details"]["validationError"]["fieldViolations"][0]["field"]), (400, "orderIds"))
        st, b, _ = E.call("POST", "/ecom/v1/fulfillments/list-by-ids", {"orderIds": ids[:101]})
        self.assertEqual(st, 400)
        pays, fuls = [], []
        for i in range(0, len(ids), 100):
            st, b, _ = E.call("POST", "/ecom/v1/payments/list-by-ids", {"orderIds": ids[i:i + 100]})
            self.assertEqual(st, 200)
            self.assertEqual([t["orderId"] for t in b["orderTransactions"]], ids[i:i + 100])
            pays += [p for t in b["orderTransactions"] for p in t["payments"]]
            st, b, _ = E.call("POST", "/ecom/v1/fulfillments/list-by-ids", {"orderIds": ids[i:i + 100]})
            self.assertEqual(len(b["ordersWithFulfillments"]), len(ids[i:i + 100]))
            fuls += [x["fulfillments"] for x in b["ordersWithFulfillments"]]
        self.assertTrue(any("giftcardPaymentDetails" in p for p in pays))
        self.assertTrue(any(p.get("regularPaymentDetails", {}).get("creditCardDetails") for p in pays))
        self.assertTrue(any(p["status"] == "PARTIALLY_REFUNDED" for p in pays))
        self.assertTrue(any(p["status"] == "PENDING" and p["regularPaymentDetails"]["offlinePayment"] for p in pays))
        self.assertTrue(any(len(f) >= 2 for f in fuls))
        self.assertTrue(any(f == [] for f in fuls))

    def test_mark_paid(self):
        orders = {o["id"]: o for o in E.data("orders")}
        target = None
        for oid, o in orders.items():
            if o["status"] != "APPROVED":
                continue
            st, b, _ = E.call("GET", "/ecom/v1/payments/orders/" + oid)
            ps = b["orderTransactions"]["payments"]
            if len(ps) == 1 and ps[0]["status"] == "PENDING" and ps[0]["regularPaymentDetails"]["offlinePayment"]:
                target = (oid, ps[0]["id"])
                break
        oid, pid = target
        url = "/ecom/v1/payments/%s/orders/%s/update-payment-transaction-status" % (pid, oid)
        self.assertEqual(E.call("POST", url, {})[0], 400)
        st, b, _ = E.call("POST", url, {"status": "APPROVED"})
        self.assertEqual(st, 200, b)
        self.assertEqual(b["orderTransactions"]["payments"][0]["status"], "APPROVED")
        o = E.call("GET", "/ecom/v1/orders/" + oid)[1]["order"]
        self.assertEqual(o["paymentStatus"], "PAID")
        self.assertEqual(o["balanceSummary"]["balance"]["amount"], "0.00")
        self.assertEqual(E.call("POST", url, {"status": "APPROVED"})[0], 200)
        st, b, _ = E.call("POST", url, {"status": "PENDING"})
        self.assertEqual((st, app_code(b)), (428, "STATUS_NOT_ALLOWED"))
        st, b, _ = E.call("POST", "/ecom/v1/payments/nope/orders/%s/update-payment-transaction-status" % oid,
                          {"status": "APPROVED"})
        self.assertEqual((st, app_code(b)), (404, "PAYMENT_NOT_FOUND"))
        st, b, _ = E.call("POST", "/ecom/v1/bulk/payments/update-payment-transaction-status",
                          {"paymentAndOrderIds": [{"orderId": oid, "paymentId": pid}, {"orderId": oid, "paymentId": "x"}],
                           "status": "APPROVED", "returnFullEntity": True})
        self.assertEqual(b["bulkActionMetadata"], {"totalSuccesses": 1, "totalFailures": 1, "undetailedFailures": 0})
        self.assertEqual(b["results"][1]["itemMetadata"]["error"]["code"], "PAYMENT_NOT_FOUND")
        self.assertEqual(b["results"][0]["item"]["id"], pid)
        # an order without payments: add an offline payment of the total
        oid2 = next(i for i, o in orders.items() if o["status"] == "APPROVED" and o["paymentStatus"] == "NOT_PAID"
                    and not E.call("GET", "/ecom/v1/payments/orders/" + i)[1]["orderTransactions"]["payments"])
        total = orders[oid2]["priceSummary"]["total"]["amount"]
        add = "/ecom/v1/payments/orders/%s/add-payment" % oid2
        self.assertEqual(E.call("POST", add, {"payments": []})[0], 400)
        self.assertEqual(E.call("POST", add, {"payments": [{"amount": {"amount": "1"}}] * 51})[0], 400)
        st, b, _ = E.call("POST", add, {"payments": [{"amount": {"amount": total}, "regularPaymentDetails": {
            "offlinePayment": True, "status": "APPROVED", "paymentMethod": "Offline", "providerTransactionId": "cash-1"}}]})
        self.assertEqual(st, 200, b)
        self.assertEqual(len(b["paymentsIds"]), 1)
        self.assertEqual(b["orderTransactions"]["payments"][0]["status"], "APPROVED")
        self.assertEqual(E.call("GET", "/ecom/v1/orders/" + oid2)[1]["order"]["paymentStatus"], "PAID")
        st, b, _ = E.call("POST", add, {"payments": [{"amount": {"amount": "1"}, "regularPaymentDetails": {
            "providerTransactionId": "cash-1"}}]})
        self.assertEqual((st, app_code(b)), (409, "DUPLICATE_PROVIDER_TRANSACTION_ID"))


class T12AbandonedCheckouts(unittest.TestCase):
    def test_query_search(self):
        data = E.data("abandoned-checkouts")
        self.assertEqual(len(data), 150)
        got = cursor_all(E, "/ecom/v1/abandoned-checkout/query", "query", "abandonedCheckouts",
                         {"query": {"cursorPaging": {"limit": 40}}}, "metadata")
        self.assertEqual(len(got), 150)
        self.assertEqual([a["createdDate"] for a in got], sorted((a["createdDate"] for a in data), reverse=True))
        st, b, _ = E.call("POST", "/ecom/v1/abandoned-checkout/query", {"query": {"cursorPaging": {"limit": 101}}})
        self.assertEqual(st, 400)
        f = {"$and": [{"status": "RECOVERED"}, {"createdDate": {"$gte": "2025-01-01T00:00:00.000Z"}}]}
        got = cursor_all(E, "/ecom/v1/abandoned-checkout/query", "query", "abandonedCheckouts",
                         {"query": {"filter": f, "cursorPaging": {"limit": 10}}}, "metadata")
        want = [a for a in data if a["status"] == "RECOVERED" and a["createdDate"] >= "2025-01-01"]
        self.assertEqual(sorted(a["id"] for a in got), sorted(a["id"] for a in want))
        st, b, _ = E.call("POST", "/ecom/v1/abandoned-checkout/query", {"query": {"paging": {"limit": 5, "offset": 5}}})
        self.assertEqual((b["metadata"]["offset"], b["metadata"]["total"]), (5, 150))
        st, b, _ = E.call("POST", "/ecom/v1/abandoned-checkout/query", {"query": {"filter": {"totalPrice.amount": "1"}}})
        self.assertEqual(st, 400)
        st, b, _ = E.call("POST", "/ecom/v1/abandoned-checkout/query", {"query": {"filter": {"status": {"$startsWith": "A"}}}})
        self.assertEqual(st, 400)
        name = data[0]["contactDetails"]["lastName"]
        got = cursor_all(E, "/ecom/v1/abandoned-checkout/search", "search", "abandonedCheckouts",
                         {"search": {"search": {"expression": name, "fields": ["contactDetails.lastName"]},
                                     "cursorPaging": {"limit": 7}}}, "pagingMetadata")
        self.assertEqual(len(got), sum(name.lower() in a["contactDetails"]["lastName"].lower() for a in data))
        st, b, _ = E.call("POST", "/ecom/v1/abandoned-checkout/search",
                          {"search": {"sort": [{"fieldName": "status"}], "cursorPaging": {"limit": 7}}})
        self.assertEqual(st, 400)
        st, b, _ = E.call("POST", "/ecom/v1/abandoned-checkout/search",
                          {"search": {"filter": {"status": {"$startsWith": "A"}}}})
        self.assertEqual(st, 400)
        self.assertEqual(E.call("GET", "/ecom/v1/abandoned-checkout/" + data[3]["id"])[1]["abandonedCheckout"], data[3])


class T13Contacts(unittest.TestCase):
    def test_paging_1000_and_projection(self):
        emu = Emu("--contacts", "1200", "--orders", "5", "--members", "20", "--products", "5", "--bookings", "5")
        try:
            data = emu.data("contacts")
            self.assertEqual(len(data), 1200)
            body = {"query": {"sort": [{"fieldName": "createdDate", "order": "ASC"}], "paging": {"limit": 1000}}}
            st, b, _ = emu.call("POST", "/contacts/v4/contacts/query", body)
            self.assertEqual(b["pagingMetadata"], {"count": 1000, "offset": 0, "total": 1200, "tooManyToCount": False})
            body["query"]["paging"]["offset"] = 1000
            st, b2, _ = emu.call("POST", "/contacts/v4/contacts/query", body)
            self.assertEqual(b2["pagingMetadata"]["count"], 200)
            self.assertEqual(len({c["id"] for c in b["contacts"] + b2["contacts"]}), 1200)
            body["query"]["paging"]["limit"] = 1001
            st, b, _ = emu.call("POST", "/contacts/v4/contacts/query", body)
            self.assertEqual((st, app_code(b)), (400, "ILLEGAL_LIMIT"))
            st, b, _ = emu.call("POST", "/contacts/v4/contacts/query", {"query": {}})
            self.assertEqual(b["pagingMetadata"]["count"], 50)
            self.assertIsInstance(b["contacts"][0]["revision"], int)
            st, b, _ = emu.call("POST", "/contacts/v4/contacts/query", {"query": {"fieldsets": ["BASIC"], "fields": ["info.company"]}})
            self.assertLessEqual(set(b["contacts"][0]), {"id", "revision", "primaryInfo", "primaryEmail", "primaryPhone", "info"})
            self.assertLessEqual(set(b["contacts"][0]["info"]), {"name", "company"})
        finally:
            emu.stop()

    def test_filters_search_errors(self):
        data = E.data("contacts")
        self.assertEqual(len(data), 300)
        members = E.data("members")
        self.assertLessEqual({m["contactId"] for m in members}, {c["id"] for c in data})

        def q(query, search=None):
            body = {"query": dict(query, paging={"limit": 1000})}
            if search is not None:
                body["search"] = search
            return E.call("POST", "/contacts/v4/contacts/query", body)
        st, b, _ = q({"filter": {"info.labelKeys": {"$hasSome": ["custom.vip"]}}})
        self.assertEqual(b["pagingMetadata"]["total"], sum("custom.vip" in c["info"]["labelKeys"]["items"] for c in data))
        st, b, _ = q({"filter": {"info.name.last": {"$startsWith": "o'b"}}})
        self.assertEqual({c["info"]["name"]["last"] for c in b["contacts"]}, {"O'Brien"})
        st, b, _ = q({}, search="o'brien")
        self.assertTrue(b["contacts"])
        self.assertTrue(all(c["info"]["name"]["last"] == "O'Brien" for c in b["contacts"]))
        for query, code in (({"filter": {"info.nope": "x"}}, "UNSUPPORTED_FILTER_FIELD_UNKNOWN"),
                            ({"filter": {"id": {"$startsWith": "a"}}}, "UNSUPPORTED_FILTER_OPERATOR"),
                            ({"filter": {"createdDate": {"$gt": 5}}}, "UNSUPPORTED_FILTER_VALUE_TYPE"),
                            ({"sort": [{"fieldName": "updatedDate"}]}, "UNSUPPORTED_SORT_FIELD"),
                            ({"sort": [{"fieldName": "createdDate"}, {"fieldName": "info.company"}]}, "UNSUPPORTED_SORT_FIELD")):
            st, b, _ = q(query)
            self.assertEqual((st, app_code(b)), (400, code), query)
        c = data[7]
        self.assertEqual(E.call("GET", "/contacts/v4/contacts/" + c["id"])[1]["contact"], c)


class T14Inventory(unittest.TestCase):
    def test_v1_inventory(self):
        emu = Emu("--catalog", "V1", "--products", "260", "--orders", "5", "--members", "5", "--bookings", "5")
        try:
            prods = emu.data("products")
            inv = emu.data("inventory")
            self.assertEqual(len(inv), 260)
            self.assertEqual({i["productId"] for i in inv}, {p["id"] for p in prods})
            got, offset = [], 0
            while True:
                q = {"query": {"sort": '[{"numericId":"asc"}]', "paging": {"limit": 100, "offset": offset}}}
                st, b, _ = emu.call("POST", "/stores-reader/v2/inventoryItems/query", q)
                self.assertEqual(st, 200, b)
                self.assertEqual(b["totalResults"], 260)
                self.assertEqual(b["metadata"], {"items": len(b["inventoryItems"]), "offset": offset})
                got += b["inventoryItems"]
                offset += 100
                if offset >= 260:
                    break
            self.assertEqual([i["numericId"] for i in got], sorted((i["numericId"] for i in inv), key=int))
            pid = prods[0]["id"]
            f = '{"productId":{"$in":["%s"]}}' % pid
            st, b, _ = emu.call("POST", "/stores-reader/v2/inventoryItems/query", {"query": {"filter": f}})
            self.assertEqual([i["productId"] for i in b["inventoryItems"]], [pid])
            self.assertEqual(emu.call("POST", "/stores-reader/v2/inventoryItems/query",
                                      {"query": {"filter": {"productId": pid}}})[0], 400)
            self.assertEqual(emu.call("POST", "/stores-reader/v2/inventoryItems/query",
                                      {"query": {"paging": {"limit": 101}}})[0], 400)
            self.assertEqual(emu.call("POST", "/stores-reader/v2/inventoryItems/query",
                                      {"query": {"filter": '{"quantity":1}'}})[0], 400)
            st, _, _ = emu.call("PATCH", "/stores/v2/inventoryItems/product/" + pid, {"inventoryItem": {
                "trackQuantity": True, "variants": [{"variantId": v["id"], "quantity": 7} for v in prods[0]["variants"]]}})
            self.assertEqual(st, 200)
            st, b, _ = emu.call("POST", "/stores-reader/v2/inventoryItems/query", {"query": {"filter": f}})
            self.assertEqual({v["quantity"] for v in b["inventoryItems"][0]["variants"]}, {7})
            self.assertEqual(E.call("POST", "/stores-reader/v2/inventoryItems/query", {"query": {}})[0], 428)
        finally:
            emu.stop()

    def test_v3_inventory_search_count(self):
        inv = E.data("inventory-items")
        body = {"search": {"filter": {"trackQuantity": True, "quantity": {"$lte": 5}},
                           "sort": [{"fieldName": "quantity", "order": "ASC"}], "cursorPaging": {"limit": 3}}}
        got = cursor_all(E, "/stores/v3/inventory-items/search", "search", "inventoryItems", body, "pagingMetadata")
        want = [i for i in inv if i["trackQuantity"] and i["quantity"] <= 5]
        self.assertEqual(sorted(i["id"] for i in got), sorted(i["id"] for i in want))
        self.assertEqual([i["quantity"] for i in got], sorted(i["quantity"] for i in want))
        name = inv[0]["product"]["name"]
        st, b, _ = E.call("POST", "/stores/v3/inventory-items/count", {"search": {"expression": name}})
        self.assertEqual(b["count"], sum(name.lower() in i["product"]["name"].lower() for i in inv))
        st, b, _ = E.call("POST", "/stores/v3/inventory-items/search", {"search": {"cursorPaging": {"limit": 1001}}})
        self.assertEqual(st, 400)
        st, b, _ = E.call("POST", "/stores/v3/inventory-items/search", {"search": {"sort": [{"fieldName": "variantId"}]}})
        self.assertEqual(st, 400)
        r = base64.urlsafe_b64encode(json.dumps({"search": {"cursorPaging": {"limit": 2}}}).encode()).decode().rstrip("=")
        st, b, _ = E.call("GET", "/stores/v3/inventory-items/search?.r=" + r)
        self.assertEqual((st, len(b["inventoryItems"]), b["pagingMetadata"]["hasNext"]), (200, 2, True))


class T15Coupons(unittest.TestCase):
    def test_query(self):
        data = E.data("coupons")
        self.assertEqual(len(data), 40)
        kinds = {"moneyOffAmount", "percentOffRate", "freeShipping", "fixedPriceAmount", "buyXGetY"}
        self.assertEqual({k for c in data for k in c["specification"] if k in kinds}, kinds)
        got, offset = [], 0
        while offset < 40:
            st, b, _ = E.call("POST", "/stores/v2/coupons/query",
                              {"query": {"sort": '[{"dateCreated":"desc"}]', "paging": {"limit": 15, "offset": offset}}})
            self.assertEqual((st, b["totalResults"], set(b)), (200, 40, {"coupons", "totalResults"}))
            got += b["coupons"]
            offset += 15
        self.assertEqual([c["dateCreated"] for c in got], sorted((c["dateCreated"] for c in data), key=int, reverse=True))
        st, b, _ = E.call("POST", "/stores/v2/coupons/query", {"query": {"filter": '{"expired":false}'}})
        self.assertEqual(b["totalResults"], sum(not c["expired"] for c in data))
        for f in ('{"scope.namespace":"bookings"}', '{"specification.scope.namespace":"bookings"}'):
            st, b, _ = E.call("POST", "/stores/v2/coupons/query", {"query": {"filter": f}})
            self.assertEqual(b["totalResults"], sum(c["specification"].get("scope", {}).get("namespace") == "bookings"
                                                    for c in data))
        st, b, _ = E.call("POST", "/stores/v2/coupons/query", {"query": {"filter": '{"specification.code":{"$contains":"brien"}}'}})
        self.assertEqual([c["specification"]["code"] for c in b["coupons"]], ["O'BRIEN10"])
        self.assertEqual(E.call("POST", "/stores/v2/coupons/query", {"query": {"filter": '{"numberOfUsages":1}'}})[0], 400)
        self.assertEqual(E.call("POST", "/stores/v2/coupons/query", {"query": {"filter": {"expired": False}}})[0], 400)
        self.assertEqual(E.call("POST", "/stores/v2/coupons/query", {"query": {"paging": {"limit": 101}}})[0], 400)


class T16PlanOrders(unittest.TestCase):
    def test_list_get_mark_paid(self):
        data = E.data("plan-orders")
        self.assertEqual(len(data), 120)
        got, offset = [], 0
        while True:
            st, b, _ = E.call("GET", "/pricing-plans/v2/orders?limit=50&offset=%d" % offset)
            self.assertEqual(st, 200, b)
            got += b["orders"]
            self.assertEqual(b["pagingMetadata"]["total"], 120)
            offset += 50
            if offset >= 120:
                break
        self.assertEqual([o["createdDate"] for o in got], sorted((o["createdDate"] for o in data), reverse=True))
        self.assertNotIn("submissionData", got[0]["formData"])
        self.assertEqual(E.call("GET", "/pricing-plans/v2/orders?limit=51")[0], 400)
        self.assertEqual(E.call("GET", "/pricing-plans/v2/orders?orderStatuses=NOPE")[0], 400)
        st, b, _ = E.call("GET", "/pricing-plans/v2/orders?orderStatuses=ACTIVE&orderStatuses=PAUSED&paymentStatuses=PAID"
                                 "&sorting.fieldName=endDate&sorting.order=ASC&fieldSet=FULL")
        want = [o for o in data if o["status"] in ("ACTIVE", "PAUSED") and o["lastPaymentStatus"] == "PAID"]
        self.assertEqual(b["pagingMetadata"]["total"], len(want))
        self.assertIn("submissionData", b["orders"][0]["formData"])
        r = base64.urlsafe_b64encode(json.dumps({"buyerIds": [data[0]["buyer"]["memberId"]], "limit": 5}).encode()).decode()
        st, b, _ = E.call("GET", "/pricing-plans/v2/orders?.r=" + r.rstrip("="))
        self.assertTrue(b["orders"])
        self.assertTrue(all(o["buyer"]["memberId"] == data[0]["buyer"]["memberId"] for o in b["orders"]))
        unpaid = next(o for o in data if o["type"] == "OFFLINE" and o["lastPaymentStatus"] == "UNPAID")
        url = "/pricing-plans/v2/orders/%s/mark-as-paid" % unpaid["id"]
        self.assertEqual(E.call("POST", url, {})[0], 200)
        o = E.call("GET", "/pricing-plans/v2/orders/" + unpaid["id"])[1]["order"]
        self.assertEqual((o["lastPaymentStatus"], o["status"]), ("PAID", "ACTIVE"))
        st, b, _ = E.call("POST", url, {})
        self.assertEqual((st, app_code(b)), (428, "ORDER_ALREADY_PAID"))
        online = next(o for o in data if o["type"] == "ONLINE")
        st, b, _ = E.call("POST", "/pricing-plans/v2/orders/%s/mark-as-paid" % online["id"], {})
        self.assertEqual((st, app_code(b)), (428, "ORDER_NOT_OFFLINE"))


class T17Services(unittest.TestCase):
    def test_query(self):
        data = E.data("services")
        self.assertEqual(len(data), 30)
        booked = {b["bookedEntity"].get("slot", b["bookedEntity"].get("schedule"))["serviceId"] for b in E.data("bookings")}
        self.assertLessEqual(booked, {s["id"] for s in data})
        got, offset = [], 0
        while offset < 30:
            st, b, _ = E.call("POST", "/_api/bookings/v2/services/query", {"query": {"paging": {"offset": offset, "limit": 12}}})
            self.assertEqual(b["pagingMetadata"]["total"], 30)
            got += b["services"]
            offset += 12
        self.assertEqual([s["createdDate"] for s in got], sorted(s["createdDate"] for s in data))
        staff = data[0]["staffMemberIds"][0]
        f = {"$and": [{"hidden": False}, {"staffMemberIds": {"$hasSome": [staff]}}]}
        st, b, _ = E.call("POST", "/_api/bookings/v2/services/query", {"query": {"filter": f}, "conditionalFields": ["STAFF_MEMBER_DETAILS"]})
        want = [s for s in data if not s["hidden"] and staff in s["staffMemberIds"]]
        self.assertEqual(b["pagingMetadata"]["total"], len(want))
        self.assertEqual(E.call("POST", "/_api/bookings/v2/services/count", {"filter": f})[1], {"count": len(want)})
        self.assertEqual(E.call("POST", "/_api/bookings/v2/services/query", {"query": {"paging": {"limit": 101}}})[0], 400)
        self.assertEqual(E.call("POST", "/_api/bookings/v2/services/query", {"query": {"cursorPaging": {"limit": 5}}})[0], 400)
        self.assertEqual(E.call("POST", "/_api/bookings/v2/services/query", {"query": {"filter": {"payment.rateType": "FIXED"}}})[0], 400)
        self.assertEqual(E.call("POST", "/_api/bookings/v2/services/query", {"conditionalFields": ["NOPE"]})[0], 400)
        self.assertEqual(E.call("GET", "/_api/bookings/v2/services/" + data[2]["id"])[1]["service"], data[2])
        money = [s["payment"]["fixed"]["price"] for s in data if "fixed" in s["payment"]]
        self.assertTrue(money and all(set(m) == {"value", "currency", "formattedValue"} for m in money))



class T18BreadthDeterminism(unittest.TestCase):
    def test_same_seed_same_data(self):
        args = ("--orders", "40", "--members", "15", "--products", "10", "--bookings", "10", "--contacts", "30",
                "--checkouts", "20", "--coupons", "10", "--plan-orders", "20", "--services", "8", "--seed", "5")
        emu, emu2 = Emu(*args), Emu(*args)
        try:
            for kind in ("contacts", "coupons", "abandoned-checkouts", "plan-orders", "services", "orders"):
                self.assertEqual(emu.data(kind), emu2.data(kind), kind)
        finally:
            emu.stop()
            emu2.stop()


if __name__ == "__main__":
    unittest.main(verbosity=2)
