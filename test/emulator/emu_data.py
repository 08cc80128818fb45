"""Deterministic fake data for the Wix emulator: orders (with their line items,
transactions and fulfillments), members, products V1/V3, bookings and
services, contacts, abandoned checkouts, coupons and pricing-plan orders.
Each kind draws from its own random stream, so a kind's data depends only on
the seed, its own size and the kinds it refers to."""
import random
import re
import uuid

from emu_wql import iso_ms, parse_date

# Generated data lies in [START_MS, END_MS): 2024-07-01 .. 2026-07-01 (UTC)
START_MS = 1719792000000
END_MS = 1782864000000

STORES_APP_ID = "215238eb-22a5-4c36-9e7b-e7c08025e04e"
ALL_PRODUCTS_COLLECTION = "00000000-000000-000000-000000000001"
DEFAULT_VARIANT_ID = "00000000-0000-0000-0000-000000000000"
OWNER_EMAIL = "owner@wix-emulator.test"
OWNER_USER_ID = "0d3c2b1a-0000-4000-8000-0000000000aa"
SITE_URL = "https://www.wix-emulator-store.test"

FIRST = ["Ann", "Ben", "Carla", "David", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jonas",
         "Kate", "Liam", "Maya", "Noah", "Olga", "Pablo", "Quinn", "Rosa", "Sam", "Tara",
         "Uma", "Victor", "Wendy", "Xavier", "Yara", "Zack", "Aiko", "Bruno", "Chloe", "Dmitri"]
LAST = ["Lee", "Smith", "Garcia", "Brown", "Rossi", "Khan", "Novak", "Tanaka", "Silva", "Jensen",
        "Miller", "Dubois", "Cohen", "Kowalski", "Nguyen", "Okafor", "Larsen", "Moreau", "Ivanova", "Patel"]
CITIES = [("US", "US-NY", "New York", "10001"), ("US", "US-TX", "Austin", "73301"),
          ("US", "US-CA", "San Francisco", "94103"), ("GB", "GB-ENG", "London", "SW1A 1AA"),
          ("DE", "DE-BE", "Berlin", "10115"), ("FR", "FR-IDF", "Paris", "75001"),
          ("IL", "IL-TA", "Tel Aviv", "6100000"), ("JP", "JP-13", "東京", "100-0001"),
          ("IT", "IT-RM", "Rome", "00118"), ("CA", "CA-ON", "Toronto", "M5H 2N2")]
STREETS = ["Main St", "Oak Ave", "High Street", "Hauptstraße", "Rue de Rivoli", "Via Roma", "King St W", "Rothschild Blvd"]
PRODUCT_WORDS = ["Mug", "T-Shirt", "Poster", "Notebook", "Tote Bag", "Candle", "Hoodie", "Cap",
                 "Sticker Pack", "Water Bottle", "Phone Case", "Scarf", "Socks", "Print", "E-Book"]
ADJ = ["Blue", "Classic", "Vintage", "Organic", "Minimal", "Retro", "Deluxe", "Tiny", "Bold", "Soft"]
CURRENCIES = {"USD": "$", "EUR": "€", "GBP": "£"}
# Tricky values used for escaping tests (placed deterministically on the first records)
TRICKY_PEOPLE = [("Sean", "O'Brien"), ("Zoë", "Müller"), ("Back\\slash", "Tester"),
                 ("Percent", "100%_Under"), ("Hana", "東京"), ("Chloë", "D'Angelo")]
TRICKY_PRODUCTS = ["Sean O'Brien's Mug", "Back\\slash Poster", "100% Cotton_Tee",
                   "Zoë Müller Notebook", "東京 Tote Bag"]


def money_str(cents):
    neg = cents < 0
    cents = abs(cents)
    s = "%d.%02d" % (cents // 100, cents % 100)
    return "-" + s if neg else s


def dec(cents, style=0):
    """cents as a decimal string the way Wix writes them, not normalised:
    style 0 "25.00", 1 "25" / "25.5", 2 "25.0" / "25.05"."""
    s = money_str(cents)
    if style == 1:
        s = s.rstrip("0").rstrip(".")
    elif style == 2 and s.endswith("0"):
        s = s[:-1]
    return s


def formatted(cents, currency):
    sym = CURRENCIES.get(currency, currency + " ")
    s = money_str(cents)
    return "-" + sym + s[1:] if s.startswith("-") else sym + s


def cents_in(amount):
    """Integer cents of a generated decimal string."""
    return int(round(float(amount) * 100))


def price(cents, currency="USD"):
    return {"amount": money_str(cents), "formattedAmount": formatted(cents, currency)}


def slugify(s):
    s = re.sub(r"[^\w]+", "-", s.lower(), flags=re.UNICODE).strip("-")
    return s or "item"


class G:
    def __init__(self, seed, stream):
        self.r = random.Random("%s/%s" % (seed, stream))

    def uuid(self):
        return str(uuid.UUID(int=self.r.getrandbits(128), version=4))

    def dates(self, n, start=START_MS, end=END_MS):
        return sorted(self.r.sample(range(start, end), n)) if n else []

    def chance(self, p):
        return self.r.random() < p

    def pick(self, seq):
        return seq[self.r.randrange(len(seq))]

    def weighted(self, pairs):
        x = self.r.random() * sum(w for _, w in pairs)
        for v, w in pairs:
            x -= w
            if x < 0:
                return v
        return pairs[-1][0]


def later(g, t, max_delta, min_delta=0):
    """A time after t (by min..max ms) that stays before END_MS when possible."""
    hi = max(min_delta, min(max_delta, END_MS - 1 - t))
    return t + g.r.randint(min(min_delta, hi), hi)


def person(g, i):
    if i < len(TRICKY_PEOPLE):
        return TRICKY_PEOPLE[i]
    return g.pick(FIRST), g.pick(LAST)


def email_for(first, last, i):
    base = re.sub(r"[^a-z0-9]", "", (first + "." + last).lower().encode("ascii", "ignore").decode()) or "user"
    return "%s%d@example.com" % (base, i)


def address(g, i=None):
    c = g.pick(CITIES)
    a = {"country": c[0], "subdivision": c[1], "city": c[2], "postalCode": c[3],
         "addressLine": "%d %s" % (g.r.randint(1, 999), g.pick(STREETS))}
    if g.chance(0.2):
        a["addressLine2"] = "Apt %d" % g.r.randint(1, 60)
    if g.chance(0.5):
        a["formattedAddress"] = "%s, %s %s, %s" % (a["addressLine"], a["city"], a["postalCode"], a["country"])
    if g.chance(0.3):
        a["geocode"] = {"latitude": round(g.r.uniform(-60, 60), 6), "longitude": round(g.r.uniform(-120, 140), 6)}
    return a


# ------------------------------------------------------------------ members
def gen_members(seed, n):
    g = G(seed, "members")
    out = []
    dates = g.dates(n)
    for i in range(n):
        first, last = person(g, i)
        created = dates[i]
        mid = g.uuid()
        email = OWNER_EMAIL if i == 0 else email_for(first, last, i)
        status = "APPROVED" if i == 0 else g.weighted([("APPROVED", 80), ("PENDING", 12), ("BLOCKED", 8)])
        nick = "%s %s" % (first, last)
        m = {"id": mid, "loginEmail": email, "loginEmailVerified": g.chance(0.7),
             "status": status, "contactId": g.uuid(),
             "privacyStatus": g.weighted([("PUBLIC", 70), ("PRIVATE", 30)]),
             "activityStatus": "MUTED" if g.chance(0.04) else "ACTIVE",
             "contact": {"firstName": first, "lastName": last},
             "profile": {"nickname": nick, "slug": slugify(nick) + ("-%d" % i if i else "")},
             "createdDate": iso_ms(created)}
        if g.chance(0.6):
            m["contact"]["phones"] = ["+1-555-%04d" % g.r.randint(0, 9999)]
        m["contact"]["emails"] = [email]
        if g.chance(0.5):
            a = address(g)
            a["id"] = g.uuid()
            m["contact"]["addresses"] = [a]
        if g.chance(0.3):
            m["contact"]["birthdate"] = "%04d-%02d-%02d" % (g.r.randint(1950, 2005), g.r.randint(1, 12), g.r.randint(1, 28))
        if g.chance(0.2):
            m["contact"]["company"] = g.pick(["Acme", "Globex", "Initech", "Smith\\Jones Ltd", "Müller & Söhne"])
        if g.chance(0.15):
            m["contact"]["jobTitle"] = g.pick(["Buyer", "Designer", "CTO", "Chef"])
        if g.chance(0.3):
            m["profile"]["title"] = g.pick(["Collector", "VIP", "Newbie", "Reviewer"])
        if g.chance(0.4):
            m["profile"]["photo"] = {"id": "%032x" % g.r.getrandbits(128), "url": "https://static.wixstatic.com/media/p%d.jpg" % i,
                                     "height": 256, "width": 256}
        upd = later(g, created, 30 * 86400000)
        m["updatedDate"] = iso_ms(upd)
        if status == "APPROVED" and g.chance(0.8):
            m["lastLoginDate"] = iso_ms(later(g, upd, 90 * 86400000))
        out.append(m)
    return out


# ------------------------------------------------------------------ products
def _pname(g, i):
    if i < len(TRICKY_PRODUCTS):
        return TRICKY_PRODUCTS[i]
    return "%s %s %d" % (g.pick(ADJ), g.pick(PRODUCT_WORDS), i)


COLLECTIONS = [ALL_PRODUCTS_COLLECTION, "1a7c3e2f-0b11-4c2e-9a51-6d0f4c1b2a01",
               "2b8d4f30-1c22-4d3f-8b62-7e105d2c3b02", "3c9e5041-2d33-4e40-9c73-8f216e3d4c03"]


def v1_stock_summary(p):
    """Recompute product-level stock from variants (V1)."""
    vs = p.get("variants") or []
    track = p["stock"]["trackInventory"]
    if track:
        qs = [v["stock"].get("quantity", 0) for v in vs]
        total = sum(qs)
        ins = [q > 0 for q in qs]
        p["stock"]["quantity"] = total
    else:
        p["stock"].pop("quantity", None)
        ins = [v["stock"].get("inStock", True) for v in vs]
    p["stock"]["inStock"] = any(ins)
    if all(ins):
        st = "IN_STOCK"
    elif any(ins):
        st = "PARTIALLY_OUT_OF_STOCK"
    else:
        st = "OUT_OF_STOCK"
    p["stock"]["inventoryStatus"] = st


def v1_inventory_item(p):
    """The Catalog V1 inventory item (InventoryItemV2) of product p."""
    track = p["stock"]["trackInventory"]
    return {"id": p["inventoryItemId"], "productId": p["id"], "externalId": p["id"], "trackQuantity": track,
            "variants": [{"variantId": v["id"], "inStock": v["stock"].get("inStock", True),
                          "quantity": v["stock"].get("quantity", 0) if track else None, "availableForPreorder": False}
                         for v in p.get("variants") or []],
            "lastUpdated": p["lastUpdated"], "numericId": p["numericId"],
            "preorderInfo": {"enabled": False, "message": "", "limit": None}}


def v1_price_data(cents, discount_pct=0, currency="USD"):
    p = cents / 100.0
    dp = round(p * (100 - discount_pct) / 100.0, 2)
    sym = CURRENCIES.get(currency, "")
    return {"currency": currency, "price": p, "discountedPrice": dp,
            "formatted": {"price": sym + "%.2f" % p, "discountedPrice": sym + "%.2f" % dp},
            "pricePerUnit": None}


def gen_products_v1(seed, n):
    g = G(seed, "products")
    dates = g.dates(n)
    out = []
    for i in range(n):
        name = _pname(g, i)
        created = dates[i]
        pid = g.uuid()
        ptype = "digital" if g.chance(0.15) else "physical"
        cents = g.r.randint(300, 20000)
        disc = g.pick([10, 20, 25]) if g.chance(0.15) else 0
        pd = v1_price_data(cents, disc)
        pd.pop("pricePerUnit")
        manage = g.chance(0.1)
        track = g.chance(0.6)
        p = {"id": pid, "name": name, "slug": slugify(name) + "-%d" % i, "visible": not g.chance(0.1),
             "productType": ptype,
             "description": "<p>%s — a lovely item.</p>" % name.replace("&", "&amp;").replace("<", "&lt;"),
             "stock": {"trackInventory": track},
             "price": dict(pd), "priceData": pd,
             "priceRange": {"minValue": pd["price"], "maxValue": pd["price"]},
             "discount": {"type": "PERCENT", "value": float(disc)} if disc else {"type": "NONE", "value": 0.0},
             "manageVariants": manage, "productOptions": [],
             "collectionIds": [ALL_PRODUCTS_COLLECTION] + sorted(set(g.pick(COLLECTIONS[1:]) for _ in range(g.r.randint(0, 2)))),
             "media": {"mainMedia": {"id": "m%06d" % i, "mediaType": "image",
                                     "image": {"url": "https://static.wixstatic.com/media/prod%d.jpg" % i, "width": 800, "height": 800}},
                       "items": []},
             "numericId": str(created * 1000),
             "inventoryItemId": g.uuid(),
             "productPageUrl": {"base": SITE_URL + "/", "path": "/product-page/" + slugify(name) + "-%d" % i},
             "customTextFields": [],
             "createdDate": iso_ms(created),
             "lastUpdated": iso_ms(later(g, created, 60 * 86400000))}
        if ptype == "physical":
            p["weight"] = round(g.r.uniform(0.1, 3.0), 2)
        if g.chance(0.3):
            p["ribbon"] = g.pick(["Sale", "New", "Best Seller"])
        if g.chance(0.4):
            p["brand"] = g.pick(["Acme", "Northwind", "Müller"])
        p["media"]["items"] = [p["media"]["mainMedia"]]
        variants = []
        if manage:
            sizes = ["S", "M", "L"][: g.r.randint(2, 3)]
            p["productOptions"] = [{"optionType": "drop_down", "name": "Size",
                                    "choices": [{"value": s, "description": s, "inStock": True, "visible": True} for s in sizes]}]
            for s in sizes:
                vs = {"trackQuantity": track}
                if track:
                    vs["quantity"] = g.r.randint(0, 40)
                    vs["inStock"] = vs["quantity"] > 0
                else:
                    vs["inStock"] = not g.chance(0.2)
                variants.append({"id": g.uuid(), "choices": {"Size": s},
                                 "variant": {"priceData": dict(pd), "weight": p.get("weight", 0),
                                             "sku": "SKU-%d-%s" % (i, s), "visible": True},
                                 "stock": vs})
        else:
            p["sku"] = "SKU-%05d" % i
            vs = {"trackQuantity": track}
            if track:
                vs["quantity"] = g.r.randint(0, 99) if not g.chance(0.1) else 0
                vs["inStock"] = vs["quantity"] > 0
            else:
                vs["inStock"] = not g.chance(0.1)
            variants.append({"id": DEFAULT_VARIANT_ID, "choices": {},
                             "variant": {"priceData": dict(pd), "weight": p.get("weight", 0), "sku": p["sku"], "visible": True},
                             "stock": vs})
        p["variants"] = variants
        v1_stock_summary(p)
        out.append(p)
    return out


V3_FIELDS_EXTRA = ("currency", "url", "plainDescription", "description", "costRange",
                   "directCategoriesInfo", "allCategoriesInfo", "breadcrumbsInfo", "weightMeasurementUnitInfo")


def v3_rich_description(text):
    return {"nodes": [{"type": "PARAGRAPH", "id": "p1", "nodes": [
        {"type": "TEXT", "id": "", "nodes": [], "textData": {"text": text, "decorations": []}}],
        "paragraphData": {}}], "metadata": {"version": 1}, "documentStyle": {}}


def v3_recompute(p, items):
    """Recompute price ranges / availability for a V3 product from variants and inventory items."""
    vs = p["variantsInfo"]["variants"]
    cur = p.get("currency", "USD")
    amounts = [int(round(float(v["price"]["actualPrice"]["amount"]) * 100)) for v in vs] or [0]
    p["actualPriceRange"] = {"minValue": price(min(amounts), cur), "maxValue": price(max(amounts), cur)}
    cmp_ = [int(round(float(v["price"].get("compareAtPrice", v["price"]["actualPrice"])["amount"]) * 100)) for v in vs] or [0]
    p["compareAtPriceRange"] = {"minValue": price(min(cmp_), cur), "maxValue": price(max(cmp_), cur)}
    p["variantSummary"] = {"variantCount": len(vs)}
    mv = min(vs, key=lambda v: float(v["price"]["actualPrice"]["amount"])) if vs else None
    if mv:
        p["minVariantPriceInfo"] = {"sku": mv.get("sku", ""), "minActualPrice": mv["price"]["actualPrice"]}
    ins = []
    for v in vs:
        it = items.get(v["id"])
        if it is None:
            ok = True
        elif it.get("trackQuantity"):
            ok = it.get("quantity", 0) > 0
        else:
            ok = it.get("inStock", True)
        v["inventoryStatus"] = {"inStock": ok, "preorderEnabled": False}
        ins.append(ok)
    if ins and all(ins):
        st = "IN_STOCK"
    elif any(ins):
        st = "PARTIALLY_OUT_OF_STOCK"
    else:
        st = "OUT_OF_STOCK"
    p.setdefault("inventory", {})["availabilityStatus"] = st
    p["inventory"].setdefault("preorderStatus", "DISABLED")


def new_inventory_item(g_uuid, p, v, created, quantity=None, in_stock=None, revision="1"):
    it = {"id": g_uuid, "revision": revision, "createdDate": created, "updatedDate": created,
          "variantId": v["id"], "productId": p["id"], "locationId": V3_LOCATION_ID}
    if quantity is not None:
        it["quantity"] = quantity
        it["trackQuantity"] = True
        it["availabilityStatus"] = "IN_STOCK" if quantity > 0 else "OUT_OF_STOCK"
    else:
        it["inStock"] = True if in_stock is None else bool(in_stock)
        it["trackQuantity"] = False
        it["availabilityStatus"] = "IN_STOCK" if it["inStock"] else "OUT_OF_STOCK"
    it["preorderInfo"] = {"enabled": False}
    it["product"] = {"name": p["name"], "variantName": " / ".join(c.get("choiceName", "") for c in v.get("choices", [])) or "",
                     "variantSku": v.get("sku", ""), "variantVisible": v.get("visible", True),
                     "directCategoryIds": [p["mainCategoryId"]] if p.get("mainCategoryId") else []}
    return it


V3_LOCATION_ID = "8e1c0d4a-7b2f-4d3e-9a10-5c6b7d8e9f01"
V3_CATEGORIES = ["c0a1b2c3-0000-4000-8000-000000000001", "c0a1b2c3-0000-4000-8000-000000000002",
                 "c0a1b2c3-0000-4000-8000-000000000003"]


def gen_products_v3(seed, n):
    g = G(seed, "products")
    dates = g.dates(n)
    prods, items = [], []
    for i in range(n):
        name = _pname(g, i)
        created = dates[i]
        ptype = "DIGITAL" if g.chance(0.15) else "PHYSICAL"
        cents = g.r.randint(300, 20000)
        slug = slugify(name) + "-%d" % i
        rev = g.r.randint(1, 6)
        p = {"id": g.uuid(), "revision": str(rev), "createdDate": iso_ms(created),
             "updatedDate": iso_ms(later(g, created, 60 * 86400000)),
             "name": name, "slug": slug, "handle": "Stores_Handle_%d" % (created % 100000000 + i),
             "visible": not g.chance(0.1), "visibleInPos": True, "productType": ptype,
             "mainCategoryId": g.pick(V3_CATEGORIES),
             "media": {"main": {"id": "m%06d" % i, "url": "https://static.wixstatic.com/media/prod%d.jpg" % i,
                                "altText": name, "displayName": name}},
             "inventory": {"preorderStatus": "DISABLED"},
             "currency": "USD",
             "url": {"relativePath": "/product-page/" + slug, "url": SITE_URL + "/product-page/" + slug},
             "plainDescription": "<p>%s — a lovely item.</p>" % name.replace("&", "&amp;").replace("<", "&lt;"),
             "description": v3_rich_description("%s — a lovely item." % name),
             "directCategoriesInfo": {"categories": [{"id": ALL_PRODUCTS_COLLECTION, "index": i}]},
             "allCategoriesInfo": {"categories": [{"id": ALL_PRODUCTS_COLLECTION, "index": i}]},
             "options": [], "modifiers": []}
        if ptype == "PHYSICAL":
            p["physicalProperties"] = {}
        if g.chance(0.4):
            b = g.pick(["Acme", "Northwind", "Müller"])
            p["brand"] = {"id": "b-" + slugify(b), "name": b}
        if g.chance(0.3):
            r = g.pick(["Sale", "New", "Best Seller"])
            p["ribbon"] = {"id": "r-" + slugify(r), "name": r}
        variants = []
        if g.chance(0.1):
            sizes = ["S", "M", "L"][: g.r.randint(2, 3)]
            opt_id = g.uuid()
            p["options"] = [{"id": opt_id, "name": "Size", "optionRenderType": "TEXT_CHOICES",
                             "choicesSettings": {"choices": [{"choiceId": "ch-" + s, "name": s, "choiceType": "CHOICE_TEXT",
                                                              "inStock": True, "visible": True} for s in sizes]}}]
            for s in sizes:
                vc = cents + g.r.choice([0, 0, 200])
                variants.append({"id": g.uuid(), "visible": True, "sku": "V3SKU-%d-%s" % (i, s),
                                 "choices": [{"optionChoiceIds": {"optionId": opt_id, "choiceId": "ch-" + s},
                                              "optionChoiceNames": {"optionName": "Size", "choiceName": s, "renderType": "TEXT_CHOICES"}}],
                                 "price": {"actualPrice": price(vc)},
                                 "physicalProperties": {} if ptype == "PHYSICAL" else None})
        else:
            v = {"id": g.uuid(), "visible": True, "sku": "V3SKU-%05d" % i, "choices": [],
                 "price": {"actualPrice": price(cents)}}
            if g.chance(0.15):
                v["price"]["compareAtPrice"] = price(cents + 500)
            if g.chance(0.3):
                v["barcode"] = "%013d" % g.r.randint(0, 10 ** 13 - 1)
            if ptype == "PHYSICAL":
                v["physicalProperties"] = {"weight": round(g.r.uniform(0.1, 3.0), 2)}
            variants.append(v)
        for v in variants:
            if v.get("physicalProperties") is None:
                v.pop("physicalProperties", None)
        p["costRange"] = {"minValue": price(cents // 2), "maxValue": price(cents // 2)}
        p["variantsInfo"] = {"variants": variants}
        vitems = {}
        for v in variants:
            if g.chance(0.6):
                q = g.r.randint(0, 60) if not g.chance(0.1) else 0
                it = new_inventory_item(g.uuid(), p, v, p["createdDate"], quantity=q, revision=str(g.r.randint(1, 4)))
            else:
                it = new_inventory_item(g.uuid(), p, v, p["createdDate"], in_stock=not g.chance(0.1), revision=str(g.r.randint(1, 4)))
            vitems[v["id"]] = it
            items.append(it)
        v3_recompute(p, vitems)
        prods.append(p)
    return prods, items


# ------------------------------------------------------------------ orders
SHIP_OPTIONS = [("Standard Shipping", "standard", 500, "3-5 business days"),
                ("Express", "express", 1500, "1-2 business days"),
                ("Free Shipping", "free", 0, "5-8 business days"),
                ("International", "intl", 2500, "7-14 business days")]
PROVIDERS = ["ups", "fedex", "usps", "dhl", "canadaPost"]
TRACK_LINKS = {"ups": "https://www.ups.com/track?tracknum=%s", "fedex": "https://www.fedex.com/fedextrack/?trknbr=%s",
               "usps": "https://tools.usps.com/go/TrackConfirmAction?tLabels=%s", "dhl": "https://www.dhl.com/en/express/tracking.html?AWB=%s",
               "canadaPost": "https://www.canadapost-postescanada.ca/track-reperage/en#/search?searchFor=%s"}


def tracking_link(provider, number):
    t = TRACK_LINKS.get(provider)
    return t % number if t else None


def catalog_entries(g, products):
    """(id, name, sku, PHYSICAL|DIGITAL) of the first 500 products, or of a
    made-up catalog (drawn from g) when the site has none."""
    catalog = [(p["id"], p["name"], p.get("sku") or (p.get("variantsInfo", {}).get("variants") or [{}])[0].get("sku", "SKU"),
                p.get("productType", "physical").upper()) for p in products[:500]]
    if not catalog:
        catalog = [(g.uuid(), "%s %s" % (g.pick(ADJ), w), "SKU-" + w[:3].upper(), "PHYSICAL") for w in PRODUCT_WORDS]
    return catalog


def gen_orders(seed, n, members, products):
    """Returns (orders, transactions{orderId: {payments, refunds}}, fulfillments{orderId: [..]})."""
    g = G(seed, "orders")
    dates = g.dates(n)
    orders, txns, fuls = [], {}, {}
    catalog = catalog_entries(g, products)
    for i in range(n):
        created = dates[i]
        oid = g.uuid()
        status = g.weighted([("APPROVED", 80), ("PENDING", 5), ("REJECTED", 3), ("CANCELED", 7), ("INITIALIZED", 5)])
        cur = g.weighted([("USD", 85), ("EUR", 10), ("GBP", 5)])
        # buyer
        if members and g.chance(0.4):
            m = g.pick(members)
            first, last = m["contact"]["firstName"], m["contact"]["lastName"]
            buyer = {"contactId": m["contactId"], "email": m["loginEmail"], "memberId": m["id"]}
        else:
            first, last = person(g, i)
            buyer = {"contactId": g.uuid(), "email": email_for(first, last, 10000 + i), "visitorId": g.uuid()}
        # line items
        nli = g.weighted([(1, 50), (2, 30), (3, 15), (4, 5)])
        lis = []
        subtotal = 0
        physical = False
        for j in range(nli):
            pid, pname, sku, ptype = g.pick(catalog)
            cents = g.r.randint(300, 15000)
            qty = g.weighted([(1, 70), (2, 20), (3, 10)])
            digital = ptype == "DIGITAL"
            physical = physical or not digital
            tot = cents * qty
            subtotal += tot
            li = {"id": "00000000-0000-0000-0000-%012d" % (j + 1),
                  "productName": {"original": pname, "translated": pname},
                  "catalogReference": {"catalogItemId": pid, "appId": STORES_APP_ID},
                  "quantity": qty,
                  "price": price(cents, cur), "priceBeforeDiscounts": price(cents, cur),
                  "totalPriceBeforeTax": price(tot, cur), "totalPriceAfterTax": price(tot, cur),
                  "totalDiscount": price(0, cur), "lineItemPrice": price(tot, cur),
                  "physicalProperties": {"sku": sku, "shippable": not digital},
                  "itemType": {"preset": "DIGITAL" if digital else "PHYSICAL"},
                  "paymentOption": "FULL_PAYMENT_ONLINE",
                  "image": {"id": "img%d" % j, "url": "https://static.wixstatic.com/media/li%d.jpg" % j, "height": 600, "width": 600}}
            if not digital:
                li["physicalProperties"]["weight"] = round(g.r.uniform(0.1, 2.5), 2)
            if g.chance(0.2):
                li["descriptionLines"] = [{"name": {"original": "Color", "translated": "Color"},
                                           "plainText": {"original": g.pick(["Red", "Blue", "Black"])}, "lineType": "PLAIN_TEXT"}]
            lis.append(li)
        discount = subtotal // 10 if g.chance(0.15) else 0
        ship = None
        ship_cents = 0
        if physical:
            so = g.weighted([(SHIP_OPTIONS[0], 50), (SHIP_OPTIONS[1], 15), (SHIP_OPTIONS[2], 25), (SHIP_OPTIONS[3], 10)])
            ship_cents = so[2]
            ship = {"code": so[1], "title": so[0],
                    "logistics": {"deliveryTime": so[3],
                                  "shippingDestination": {"address": address(g), "contactDetails": {"firstName": first, "lastName": last}}},
                    "cost": {"price": price(ship_cents, cur), "totalPriceBeforeTax": price(ship_cents, cur),
                             "totalPriceAfterTax": price(ship_cents, cur), "discount": price(0, cur)},
                    "region": {"name": "International" if so[1] == "intl" else "Domestic"}}
            if g.chance(0.5):
                ship["carrierId"] = "c8a08776-c095-4dec-8553-8f9698d86adc"
        tax = (subtotal - discount) * 825 // 10000 if g.chance(0.5) else 0
        total = subtotal - discount + ship_cents + tax
        o = {"id": oid, "number": str(10001 + i), "createdDate": iso_ms(created),
             "updatedDate": iso_ms(later(g, created, 20 * 86400000, 1000)),
             "status": status, "currency": cur, "archived": g.chance(0.05),
             "taxIncludedInPrices": False, "seenByAHuman": g.chance(0.8),
             "buyerInfo": buyer, "buyerLanguage": "en", "siteLanguage": "en",
             "weightUnit": g.pick(["KG", "LB"]), "lineItems": lis,
             "priceSummary": {"subtotal": price(subtotal, cur), "shipping": price(ship_cents, cur), "tax": price(tax, cur),
                              "discount": price(discount, cur), "total": price(total, cur), "totalAdditionalFees": price(0, cur)},
             "billingInfo": {"address": address(g), "contactDetails": {"firstName": first, "lastName": last}},
             "channelInfo": {"type": g.weighted([("WEB", 85), ("POS", 6), ("EBAY", 3), ("AMAZON", 3), ("BACKOFFICE_MERCHANT", 3)])},
             "createdBy": {"memberId": buyer["memberId"]} if "memberId" in buyer else {"visitorId": buyer["visitorId"]},
             "checkoutId": g.uuid(), "purchaseFlowId": g.uuid(),
             "taxInfo": {"totalTax": price(tax, cur), "taxExempt": False},
             "businessLocation": {"id": V3_LOCATION_ID, "name": "Main warehouse"} if g.chance(0.3) else None,
             "activities": [{"id": g.uuid(), "createdDate": iso_ms(created), "type": "ORDER_PLACED"}]}
        if o["channelInfo"]["type"] in ("POS", "BACKOFFICE_MERCHANT"):
            o["createdBy"] = {"userId": OWNER_USER_ID}
        if o["businessLocation"] is None:
            del o["businessLocation"]
        if g.chance(0.3):
            o["billingInfo"]["contactDetails"]["phone"] = "+1-555-%04d" % g.r.randint(0, 9999)
        if g.chance(0.1):
            o["billingInfo"]["contactDetails"]["company"] = g.pick(["Acme", "Smith\\Jones Ltd", "O'Reilly & Co"])
        if ship:
            o["shippingInfo"] = ship
            o["recipientInfo"] = {"address": ship["logistics"]["shippingDestination"]["address"],
                                  "contactDetails": {"firstName": first, "lastName": last}}
        if o["channelInfo"]["type"] in ("EBAY", "AMAZON"):
            o["channelInfo"]["externalOrderId"] = "%s-%08d" % (o["channelInfo"]["type"][:2], g.r.randint(0, 10 ** 8))
        if discount:
            o["appliedDiscounts"] = [{"discountType": "GLOBAL", "coupon": {"id": g.uuid(), "code": "SAVE10", "name": "Save 10%"},
                                      "discountRule": None}]
            del o["appliedDiscounts"][0]["discountRule"]
        if g.chance(0.1):
            o["buyerNote"] = g.pick(["Please gift-wrap it", "Leave at the door, it's fine", "Ring twice \\ knock",
                                     "100% sure: use box_2", "Merci beaucoup — Zoë"])
        if status != "INITIALIZED":
            o["purchasedDate"] = iso_ms(created + g.r.randint(0, 5000))
        # payment status
        if status == "APPROVED":
            ps = g.weighted([("PAID", 62), ("NOT_PAID", 10), ("PARTIALLY_PAID", 4), ("PARTIALLY_REFUNDED", 6),
                             ("FULLY_REFUNDED", 5), ("PENDING", 9), ("PENDING_MERCHANT", 2), ("UNSPECIFIED", 2)])
        elif status == "PENDING":
            ps = g.weighted([("PENDING", 60), ("NOT_PAID", 40)])
        elif status == "REJECTED":
            ps = "DECLINED"
        elif status == "CANCELED":
            ps = g.weighted([("NOT_PAID", 40), ("CANCELED", 30), ("FULLY_REFUNDED", 20), ("PAID", 10)])
        else:
            ps = g.weighted([("NOT_PAID", 70), ("UNSPECIFIED", 30)])
        o["paymentStatus"] = ps
        payments, refunds = [], []
        paid = refunded = authorized = pending = 0
        pay_time = created + g.r.randint(1000, 60000)
        offline = g.chance(0.15)

        def mkpay(amount, pstatus, method=None):
            meth = method or ("offline" if offline else g.pick(["CreditCard", "PayPal", "CreditCard"]))
            pay = {"id": g.uuid(), "createdDate": iso_ms(pay_time), "updatedDate": iso_ms(pay_time),
                   "amount": price(amount, cur), "refundDisabled": False, "status": pstatus,
                   "regularPaymentDetails": {"paymentMethod": meth, "offlinePayment": meth == "offline",
                                             "status": pstatus}}
            if meth != "offline":
                pay["regularPaymentDetails"]["providerTransactionId"] = "pi_%024x" % g.r.getrandbits(96)
                pay["regularPaymentDetails"]["gatewayTransactionId"] = g.uuid()
                pay["regularPaymentDetails"]["paymentOrderId"] = g.uuid()
            payments.append(pay)
            return pay
        if ps in ("PAID", "PARTIALLY_REFUNDED", "FULLY_REFUNDED"):
            if total >= 2000 and g.chance(0.1) and not offline:
                gc = total // 4
                mkpay(gc, "APPROVED", "GiftCard")
                mkpay(total - gc, "APPROVED")
            else:
                mkpay(total, "APPROVED")
            paid = total
        elif ps == "PARTIALLY_PAID":
            mkpay(total // 2, "APPROVED")
            paid = total // 2
        elif ps in ("PENDING", "PENDING_MERCHANT"):
            if ps == "PENDING" and not offline and g.chance(0.4):
                mkpay(total, "AUTHORIZED")
                authorized = total
            else:
                mkpay(total, "PENDING")
                pending = total
        elif ps == "DECLINED":
            mkpay(total, "DECLINED")
        elif ps == "CANCELED":
            mkpay(total, "VOIDED" if g.chance(0.5) else "CANCELED")
        state = {"shipping_refunded": 0}
        if ps in ("PARTIALLY_REFUNDED", "FULLY_REFUNDED") and payments:
            pay = payments[-1]
            pamt = int(round(float(pay["amount"]["amount"]) * 100))
            ramt = pamt if ps == "FULLY_REFUNDED" else max(1, pamt // 3)
            if ps == "FULLY_REFUNDED":
                for p2 in payments:
                    p2["status"] = p2["regularPaymentDetails"]["status"] = "REFUNDED"
                ramt_all = paid
            else:
                pay["status"] = pay["regularPaymentDetails"]["status"] = "PARTIALLY_REFUNDED"
                ramt_all = ramt
            items = []
            if ps == "FULLY_REFUNDED":
                for li in lis:
                    li["refundQuantity"] = li["quantity"]
                    items.append({"lineItemId": li["id"], "quantity": li["quantity"]})
                state["shipping_refunded"] = ship_cents
            rtx = []
            for p2 in (payments if ps == "FULLY_REFUNDED" else [pay]):
                amt = int(round(float(p2["amount"]["amount"]) * 100)) if ps == "FULLY_REFUNDED" else ramt
                rtx.append({"paymentId": p2["id"], "amount": price(amt, cur), "refundStatus": "SUCCEEDED",
                            "externalRefund": p2["regularPaymentDetails"]["offlinePayment"]})
            rtime = iso_ms(later(g, pay_time, 20 * 86400000, 60000))
            refunds.append({"id": g.uuid(), "createdDate": rtime, "transactions": rtx,
                            "details": {"items": items, "shippingIncluded": ps == "FULLY_REFUNDED" and ship_cents > 0,
                                        "reason": "Customer request"},
                            "summary": {"requestedRefund": price(ramt_all, cur), "pendingRefund": price(0, cur),
                                        "refunded": price(ramt_all, cur), "failedRefundAmount": price(0, cur), "pending": False}})
            refunded = ramt_all
        o["balanceSummary"] = {"balance": price(total - paid, cur), "paid": price(paid, cur), "refunded": price(refunded, cur),
                               "authorized": price(authorized, cur), "pending": price(pending, cur),
                               "pendingRefund": price(0, cur), "chargeback": price(0, cur)}
        # fulfillment
        fl = []
        if status == "APPROVED" and ps in ("PAID", "PARTIALLY_PAID", "PARTIALLY_REFUNDED") and g.chance(0.6):
            part = g.chance(0.2) and (len(lis) > 1 or lis[0]["quantity"] > 1)
            flis = []
            for k, li in enumerate(lis):
                if part and k == len(lis) - 1:
                    q = li["quantity"] - 1
                else:
                    q = li["quantity"]
                if q > 0:
                    flis.append({"id": li["id"], "quantity": q})
            prov = g.pick(PROVIDERS)
            num = "1Z%016d" % g.r.randint(0, 10 ** 16 - 1)
            fl.append({"id": g.uuid(), "createdDate": iso_ms(later(g, created, 5 * 86400000, 60000)),
                       "lineItems": flis,
                       "trackingInfo": {"trackingNumber": num, "shippingProvider": prov, "trackingLink": tracking_link(prov, num)},
                       "status": "Fulfilled", "completed": True})
        o["fulfillmentStatus"] = fulfillment_status(o, fl)
        orders.append(o)
        txns[oid] = {"payments": payments, "refunds": refunds, "_state": state}
        fuls[oid] = fl
    # tricky buyer names on the first records when enough data
    return orders, txns, fuls


def fulfillment_status(order, fls):
    done = {}
    for f in fls:
        for li in f.get("lineItems", []):
            done[li["id"]] = done.get(li["id"], 0) + int(li.get("quantity", 0))
    total = sum(li["quantity"] for li in order["lineItems"])
    got = sum(min(done.get(li["id"], 0), li["quantity"]) for li in order["lineItems"])
    if got <= 0:
        return "NOT_FULFILLED"
    if got >= total:
        return "FULFILLED"
    return "PARTIALLY_FULFILLED"


# ------------------------------------------------------------------ bookings
SERVICES = [("Yoga Class", "GROUP", 60), ("Personal Training", "INDIVIDUAL", 45), ("Haircut", "INDIVIDUAL", 30),
            ("Pottery Course", "COURSE", 120), ("Massage 60'", "INDIVIDUAL", 60), ("Spanish 101_A", "GROUP", 90)]
STAFF = [("Alice Kim", "alice@wix-emulator.test"), ("Bob O'Neil", "bob@wix-emulator.test"),
         ("Carmen Núñez", "carmen@wix-emulator.test"), ("Dana Back\\Slash", "dana@wix-emulator.test")]
TIMEZONES = ["America/New_York", "Europe/Rome", "Asia/Tokyo", "UTC"]
BOOK_START = 1751328000000  # 2025-07-01
BOOK_END = 1790812800000    # 2026-10-01


def local_iso(epoch_ms, tz):
    """Wall-clock time (no zone) in tz, like Wix slot dates."""
    import datetime as dt
    try:
        from zoneinfo import ZoneInfo
        z = ZoneInfo(tz)
    except Exception:
        z = dt.timezone.utc
    d = dt.datetime.fromtimestamp(epoch_ms / 1000.0, tz=dt.timezone.utc).astimezone(z)
    return d.strftime("%Y-%m-%dT%H:%M:%S")


def gen_bookings(seed, n, members):
    g = G(seed, "bookings")
    svc = []
    for name, typ, dur in SERVICES:
        svc.append({"id": g.uuid(), "name": name, "type": typ, "dur": dur, "scheduleId": g.uuid()})
    staff = [{"id": g.uuid(), "name": nm, "email": em, "scheduleId": g.uuid(), "type": "STAFF"} for nm, em in STAFF]
    starts = g.dates(n, BOOK_START, BOOK_END)
    out = []
    seen = set()
    for i in range(n):
        s = g.pick(svc)
        start = (starts[i] // 900000) * 900000  # quarter hours
        end = start + s["dur"] * 60000
        created = start - g.r.randint(3600000, 60 * 86400000)
        created = created - (created % 1000) + g.r.randint(0, 999)
        while created in seen:
            created += 1
        seen.add(created)
        st = g.weighted([("CONFIRMED", 60), ("PENDING", 12), ("CANCELED", 15), ("DECLINED", 5), ("CREATED", 3), ("WAITING_LIST", 5)])
        first, last = person(g, i)
        tz = g.pick(TIMEZONES)
        b = {"id": g.uuid(), "status": st,
             "paymentStatus": g.weighted([("PAID", 40), ("NOT_PAID", 30), ("UNDEFINED", 10), ("EXEMPT", 10), ("PARTIALLY_PAID", 5), ("REFUNDED", 5)]),
             "selectedPaymentOption": g.weighted([("ONLINE", 40), ("OFFLINE", 40), ("MEMBERSHIP", 15), ("UNDEFINED", 5)]),
             "startDate": iso_ms(start), "endDate": iso_ms(end),
             "createdDate": iso_ms(created),
             "updatedDate": iso_ms(created + g.r.randint(0, max(1, start - created))),
             "revision": str(g.r.randint(1, 6)),
             "totalParticipants": 1 if s["type"] == "INDIVIDUAL" else g.r.randint(1, 4),
             "contactDetails": {"contactId": g.uuid(), "firstName": first, "lastName": last,
                                "email": email_for(first, last, 20000 + i)},
             "doubleBooked": g.chance(0.03)}
        if g.chance(0.5):
            b["contactDetails"]["phone"] = "+1-555-%04d" % g.r.randint(0, 9999)
        if g.chance(0.3):
            b["contactDetails"]["countryCode"] = g.pick(["US", "IT", "JP", "DE"])
        loc = {"locationType": "OWNER_BUSINESS", "id": V3_LOCATION_ID, "name": "Main studio"} if g.chance(0.7) else {"locationType": "CUSTOM", "formattedAddress": "1 Main St, Austin"}
        if s["type"] == "COURSE":
            b["bookedEntity"] = {"schedule": {"scheduleId": s["scheduleId"], "serviceId": s["id"], "location": loc,
                                              "timezone": tz, "firstSessionStart": local_iso(start, tz),
                                              "lastSessionEnd": local_iso(end + 42 * 86400000, tz)},
                                 "title": s["name"], "tags": ["COURSE"]}
        else:
            r = g.pick(staff)
            b["bookedEntity"] = {"slot": {"serviceId": s["id"], "scheduleId": s["scheduleId"],
                                          "eventId": "%032x" % g.r.getrandbits(128),
                                          "startDate": local_iso(start, tz), "endDate": local_iso(end, tz), "timezone": tz,
                                          "resource": {"id": r["id"], "name": r["name"], "email": r["email"], "scheduleId": r["scheduleId"]},
                                          "location": loc},
                                 "title": s["name"], "tags": [s["type"]]}
        if members and g.chance(0.4):
            m = g.pick(members)
            b["createdBy"] = {"memberId": m["id"]}
        elif g.chance(0.5):
            b["createdBy"] = {"anonymousVisitorId": g.uuid()}
        else:
            b["createdBy"] = {"wixUserId": OWNER_USER_ID}
        if g.chance(0.05):
            b["externalUserId"] = "ext-%d" % i
        if b["doubleBooked"] is False and g.chance(0.7):
            del b["doubleBooked"]
        out.append(b)
    return out, svc, staff


# ------------------------------------------------------------------ order line items, payments, fulfillments (breadth)
GIFT_CARD_APP_ID = "4b10fcce-732d-4be3-9d46-801d271acda9"
CUSTOM_ITEMS = ["Gift wrapping", "Engraving: \u201cF\u00fcr Zo\u00eb\u201d", "Custom commission", "Rush handling"]
COLORS = [("Midnight Blue", "#191970"), ("Forest Green", "#228B22"), ("Crimson", "#DC143C")]
CARD_BRANDS = ["Visa", "Mastercard", "Amex"]
METHOD_NAMES = {"CreditCard": "Credit / Debit Card", "PayPal": "PayPal", "offline": "Manual payment"}


def _variant_options(g, p):
    """catalogReference.options of a line item of product p: V3 always
    names a variant; V1 only when the product manages variants."""
    if "variantsInfo" in p:
        return {"variantId": g.pick(p["variantsInfo"]["variants"])["id"]}
    if p.get("manageVariants") and p.get("variants"):
        v = g.pick(p["variants"])
        return {"variantId": v["id"], "options": dict(v["choices"])}
    return None


def _enrich_line_items(g, o, by_id):
    cur = o["currency"]
    lis = o["lineItems"]
    tax = cents_in(o["priceSummary"]["tax"]["amount"])
    base = sum(cents_in(li["totalPriceBeforeTax"]["amount"]) for li in lis)
    left = tax
    if len(lis) >= 2 and g.chance(0.12):
        li = lis[-1]
        del li["catalogReference"]
        del li["image"]
        li["productName"] = {"original": g.pick(CUSTOM_ITEMS)}
        li["productName"]["translated"] = li["productName"]["original"]
        li["itemType"] = {"custom": "custom-item"}
        li["physicalProperties"].pop("sku")
    for k, li in enumerate(lis):
        tot = cents_in(li["totalPriceBeforeTax"]["amount"])
        t = left if k == len(lis) - 1 else tax * tot // base
        left -= t
        li["taxInfo"] = {"taxAmount": price(t, cur), "taxableAmount": price(tot, cur),
                         "taxRate": "0.0825" if tax else "0", "taxIncludedInPrice": False}
        if t:
            li["taxInfo"]["taxBreakdown"] = [{"jurisdiction": "Texas", "jurisdictionType": "STATE", "rate": "0.0825",
                                              "taxAmount": price(t, cur), "taxType": "Sales Tax"}]
        li["totalPriceAfterTax"] = price(tot + t, cur)
        p = by_id.get((li.get("catalogReference") or {}).get("catalogItemId"))
        opts = _variant_options(g, p) if p else None
        if opts:
            li["catalogReference"]["options"] = opts
        if g.chance(0.08):
            li.setdefault("descriptionLines", []).append(
                {"name": {"original": "Color", "translated": "Color"}, "lineType": "COLOR",
                 "colorInfo": dict(zip(("original", "code"), g.pick(COLORS)))})
        if g.chance(0.05):
            li["paymentOption"] = "DEPOSIT_ONLINE"
            li["depositAmount"] = price(tot // 5, cur)
        elif g.chance(0.03):
            li["paymentOption"] = "FULL_PAYMENT_OFFLINE"
        if "businessLocation" in o:
            li["locations"] = [{"id": V3_LOCATION_ID, "quantity": li["quantity"], "name": o["businessLocation"]["name"]}]
        li["fixedQuantity"] = False
        li["priceUndetermined"] = False


def _enrich_payment(g, pay):
    pay["supportReceiptGeneration"] = g.chance(0.5)
    rd = pay["regularPaymentDetails"]
    meth = rd["paymentMethod"]
    if meth == "GiftCard":
        del pay["regularPaymentDetails"]
        pay["giftcardPaymentDetails"] = {"giftCardPaymentId": g.uuid(), "appId": GIFT_CARD_APP_ID,
                                         "obfuscatedCode": "************%04X" % g.r.getrandbits(16)}
        return
    rd["paymentMethodName"] = {"buyerLanguageName": METHOD_NAMES[meth], "siteLanguageName": METHOD_NAMES[meth]}
    if meth == "offline":
        rd["paymentMethodName"]["userDefinedName"] = {"predefined": g.pick(["CASH", "BANK_TRANSFER", "CHECK"])}
        return
    pay["chargeCorrelationId"] = g.uuid()
    rd["savedPaymentMethod"] = g.chance(0.2)
    if meth == "CreditCard":
        rd["creditCardDetails"] = {"lastFourDigits": "%04d" % g.r.randint(0, 9999), "brand": g.pick(CARD_BRANDS)}
    if pay["status"] == "AUTHORIZED":
        rd["authorizationDetails"] = {"delayedCapture": True, "authorizedDate": pay["createdDate"], "captures": []}


def _split_fulfillment(g, fls):
    """Turns an order's one fulfillment of several lines into two."""
    f = fls[0]
    rest = f["lineItems"][1:]
    f["lineItems"] = f["lineItems"][:1]
    second = {"id": g.uuid(), "createdDate": iso_ms(later(g, parse_date(f["createdDate"]) // 1000, 3 * 86400000, 60000)),
              "lineItems": rest}
    if g.chance(0.5):
        second["customInfo"] = {"fieldsData": {"courier": "Bike messenger", "note": "Left with O'Brien"}}
        second["status"] = "Accepted"
    else:
        prov = g.pick(PROVIDERS)
        num = "1Z%016d" % g.r.randint(0, 10 ** 16 - 1)
        second["trackingInfo"] = {"trackingNumber": num, "shippingProvider": prov, "trackingLink": tracking_link(prov, num)}
        second["status"] = "Fulfilled"
        second["completed"] = True
    fls.append(second)


def enrich_orders(seed, orders, txns, fuls, products):
    """Adds what the line-item, payment and fulfillment tables read, from a
    stream of its own (the draws of gen_orders are unchanged): line-item tax,
    variants, custom (non-catalog) items, colour lines, deposits, locations;
    payment details per kind (card, PayPal, offline, gift card); two
    fulfillments on some orders."""
    g = G(seed, "orders-breadth")
    by_id = {p["id"]: p for p in products}
    for o in orders:
        _enrich_line_items(g, o, by_id)
        for pay in txns[o["id"]]["payments"]:
            _enrich_payment(g, pay)
        fls = fuls[o["id"]]
        if len(fls) == 1 and len(fls[0]["lineItems"]) >= 2 and g.chance(0.5):
            _split_fulfillment(g, fls)


# ------------------------------------------------------------------ contacts
LABELS = ["custom.vip", "custom.wholesale", "contacts.contacted-me", "custom.newsletter", "custom.o-brien-list"]
SOURCES = ["ADMIN", "WIX_STORES", "WIX_FORMS", "IMPORT", "WIX_BOOKINGS", "OTHER"]
ACTIVITY_TYPES = ["GENERAL", "CONTACT_CREATED", "FORM_SUBMITTED", "ECOM_PURCHASE", "ECOM_CART_ABANDON",
                  "BOOKINGS_APPOINTMENT", "NEWSLETTER_SUBSCRIPTION_SUBSCRIBE", "INVOICE_PAY"]
SUBSCRIPTION = ["NO_SUBSCRIPTION_STATUS", "NOT_SET", "PENDING", "SUBSCRIBED", "UNSUBSCRIBED"]


def gen_contacts(seed, n, members):
    """n contacts; the first ones are the members' contacts (same contact
    ids, names and emails)."""
    g = G(seed, "contacts")
    dates = g.dates(n)
    out = []
    for i in range(n):
        created = dates[i]
        m = members[i] if i < len(members) else None
        if m:
            cid, first, last = m["contactId"], m["contact"]["firstName"], m["contact"]["lastName"]
            email = m["loginEmail"]
            source = {"sourceType": "WIX_SITE_MEMBERS"}
        else:
            first, last = person(g, i)
            cid = g.uuid()
            email = email_for(first, last, 30000 + i)
            source = {"sourceType": g.pick(SOURCES)}
            if source["sourceType"] == "WIX_STORES":
                source["appId"] = STORES_APP_ID
        upd = later(g, created, 90 * 86400000)
        info = {"name": {"first": first, "last": last},
                "emails": {"items": [{"id": g.uuid(), "tag": "MAIN", "email": email, "primary": True}]},
                "phones": {"items": []}, "addresses": {"items": []},
                "labelKeys": {"items": sorted(set(g.pick(LABELS) for _ in range(g.r.randint(0, 2))))},
                "extendedFields": {"items": {"contacts.displayByFirstName": "%s %s" % (first, last),
                                             "emailSubscriptions.subscriptionStatus": g.pick(SUBSCRIPTION[1:])}}}
        if m:
            info["extendedFields"]["items"]["members.membershipStatus"] = m["status"]
        c = {"id": cid, "revision": g.r.randint(1, 9), "source": source,
             "createdDate": iso_ms(created), "updatedDate": iso_ms(upd),
             "lastActivity": {"activityDate": iso_ms(upd), "activityType": g.pick(ACTIVITY_TYPES)},
             "primaryInfo": {"email": email},
             "primaryEmail": {"email": email, "subscriptionStatus": g.pick(SUBSCRIPTION),
                              "deliverabilityStatus": g.weighted([("VALID", 85), ("NOT_SET", 8), ("BOUNCED", 5), ("SPAM_COMPLAINT", 2)])},
             "info": info}
        if g.chance(0.6):
            local = "555%04d" % g.r.randint(0, 9999)
            ph = {"id": g.uuid(), "tag": g.pick(["MOBILE", "HOME", "WORK"]), "countryCode": "US", "phone": "+1-" + local,
                  "e164Phone": "+1" + local, "primary": True}
            info["phones"]["items"].append(ph)
            c["primaryInfo"]["phone"] = ph["phone"]
            c["primaryPhone"] = {"countryCode": "US", "e164Phone": ph["e164Phone"], "formattedPhone": ph["phone"],
                                 "phone": ph["phone"], "subscriptionStatus": g.pick(SUBSCRIPTION)}
        if g.chance(0.5):
            a = address(g)
            if g.chance(0.3):
                num, name = a.pop("addressLine").split(" ", 1)
                a["streetAddress"] = {"number": num, "name": name}
            a.pop("formattedAddress", None)
            info["addresses"]["items"].append({"id": g.uuid(), "tag": g.pick(["HOME", "WORK", "BILLING", "SHIPPING"]), "address": a})
        if g.chance(0.25):
            info["company"] = g.pick(["Acme", "Globex", "Initech", "Smith\\Jones Ltd", "M\u00fcller & S\u00f6hne"])
        if g.chance(0.15):
            info["jobTitle"] = g.pick(["Buyer", "Designer", "CTO", "Chef"])
        if g.chance(0.5):
            info["locale"] = g.pick(["en-us", "de-de", "fr-fr", "ja-jp"])
        if g.chance(0.3):
            info["birthdate"] = "%04d-%02d-%02d" % (g.r.randint(1950, 2005), g.r.randint(1, 12), g.r.randint(1, 28))
        if g.chance(0.2):
            info["picture"] = {"image": {"id": "%032x" % g.r.getrandbits(128), "height": 256, "width": 256,
                                         "url": "https://static.wixstatic.com/media/c%d.jpg" % i, "altText": first}}
        out.append(c)
    return out


# ------------------------------------------------------------------ abandoned checkouts
AC_ACTIVITIES = ["SCHEDULED", "EMAIL_SENT", "EMAIL_NOT_SENT", "NOTIFICATION_SENT", "TASK_CREATED", "AUTOMATION_SKIPPED"]


def multi_price(cents, currency):
    """An abandoned checkout's MultiCurrencyPrice (no conversion: converted = amount)."""
    s, f = money_str(cents), formatted(cents, currency)
    return {"amount": s, "convertedAmount": s, "formattedAmount": f, "formattedConvertedAmount": f}


def gen_abandoned_checkouts(seed, n, contacts, members, products):
    g = G(seed, "abandoned-checkouts")
    catalog = catalog_entries(g, products)
    member_of = {m["contactId"]: m["id"] for m in members}
    dates = g.dates(n)
    out = []
    for i in range(n):
        created = dates[i]
        cur = g.weighted([("USD", 85), ("EUR", 10), ("GBP", 5)])
        c = g.pick(contacts) if contacts and g.chance(0.8) else None
        if c:
            first, last = c["info"]["name"]["first"], c["info"]["name"]["last"]
            buyer = {"contactId": c["id"], "email": c["primaryInfo"]["email"]}
        else:
            first, last = person(g, i)
            buyer = {"contactId": g.uuid(), "email": email_for(first, last, 40000 + i)}
        mid = member_of.get(buyer["contactId"])
        if mid:
            buyer["memberId"] = mid
        else:
            buyer["visitorId"] = g.uuid()
        lis = []
        sub = 0
        for j in range(g.weighted([(1, 60), (2, 30), (3, 10)])):
            pid, pname, sku, ptype = g.pick(catalog)
            cents = g.r.randint(300, 15000)
            qty = g.weighted([(1, 80), (2, 20)])
            sub += cents * qty
            lis.append({"id": "00000000-0000-0000-0000-%012d" % (j + 1), "quantity": qty,
                        "catalogReference": {"catalogItemId": pid, "appId": STORES_APP_ID},
                        "productName": {"original": pname, "translated": pname},
                        "price": multi_price(cents, cur), "priceBeforeDiscounts": multi_price(cents, cur),
                        "physicalProperties": {"sku": sku, "shippable": ptype != "DIGITAL"}})
        status = g.weighted([("ABANDONED", 75), ("RECOVERED", 25)])
        upd = later(g, created, 10 * 86400000, 1000)
        a = {"id": g.uuid(), "checkoutId": g.uuid(), "cartId": g.uuid(), "createdDate": iso_ms(created),
             "updatedDate": iso_ms(upd), "status": status, "buyerInfo": buyer,
             "contactDetails": {"firstName": first, "lastName": last},
             "currency": cur, "conversionCurrency": cur, "buyerLanguage": "en",
             "subtotalPrice": multi_price(sub, cur), "totalPrice": multi_price(sub, cur),
             "checkoutUrl": SITE_URL + "/checkout?checkoutId=%s&recover=1" % i,
             "activities": [{"createdDate": iso_ms(later(g, created, 86400000, 3600000)), "type": g.pick(AC_ACTIVITIES)}
                            for _ in range(g.r.randint(0, 3))], "lineItems": lis}
        if g.chance(0.3):
            a["contactDetails"]["phone"] = "+1-555-%04d" % g.r.randint(0, 9999)
        if status == "RECOVERED":
            a["checkoutRecoveredDate"] = iso_ms(upd)
        if g.chance(0.15):
            d = sub // 10
            a["appliedDiscounts"] = [{"discountType": "GLOBAL", "lineItemIds": [],
                                      "coupon": {"id": g.uuid(), "code": g.pick(["SAVE10", "WELCOME", "O'BRIEN10"]),
                                                 "name": "Save 10%", "amount": multi_price(d, cur)}}]
            a["totalPrice"] = multi_price(sub - d, cur)
        out.append(a)
    return out


# ------------------------------------------------------------------ coupons
COUPON_KINDS = [("moneyOffAmount", "MoneyOffAmount"), ("percentOffRate", "PercentOffRate"),
                ("freeShipping", "FreeShipping"), ("fixedPriceAmount", "FixedPriceAmount"), ("buyXGetY", "BuyXGetY")]
COUPON_SCOPES = [("stores", "product"), ("stores", "collection"), ("bookings", "service"), ("events", "event"),
                 ("pricingPlans", "plan")]
COUPONS_APP_ID = "1380b703-ce81-ff05-f115-39571d94dfcd"
PAST_MS = 1704067200000      # 2024-01-01: expired coupons end before it
FUTURE_MS = 1830297600000    # 2028-01-01: live coupons end after it


def gen_coupons(seed, n):
    """n coupons cycling through every discount kind; epoch-ms times
    (dateCreated a JSON string, startTime/expirationTime numbers)."""
    g = G(seed, "coupons")
    dates = g.dates(n)
    out = []
    for i in range(n):
        key, typ = COUPON_KINDS[i % len(COUPON_KINDS)]
        code = "O'BRIEN10" if i == 0 else "%s%03d" % (typ[:5].upper(), i)
        sp = {"name": "%s coupon %d" % (typ, i), "code": code, "active": not g.chance(0.15), "type": typ,
              "startTime": dates[i], "limitedToOneItem": g.chance(0.2), "appliesToSubscriptions": False}
        if key == "moneyOffAmount":
            sp[key] = float(g.pick([5, 10, 12.5, 20]))
        elif key == "percentOffRate":
            sp[key] = float(g.pick([10, 15, 25, 50]))
        elif key == "freeShipping":
            sp[key] = True
        elif key == "fixedPriceAmount":
            sp[key] = float(g.pick([9.99, 19, 25.5]))
        else:
            sp[key] = {"x": g.r.randint(2, 3), "y": 1}
        expired = g.chance(0.2)
        if expired:
            sp["startTime"] = START_MS - (n - i) * 86400000
            sp["expirationTime"] = PAST_MS - g.r.randint(0, 86400000 * 30)
        elif g.chance(0.5):
            sp["expirationTime"] = FUTURE_MS + g.r.randint(0, 86400000 * 365)
        if g.chance(0.5):
            sp["usageLimit"] = g.pick([1, 10, 100])
        if g.chance(0.3):
            sp["limitPerCustomer"] = 1
        if g.chance(0.7):
            ns, grp = g.pick(COUPON_SCOPES)
            sp["scope"] = {"namespace": ns}
            if g.chance(0.6):
                sp["scope"]["group"] = {"name": grp, "entityId": g.uuid()}
        else:
            sp["minimumSubtotal"] = float(g.pick([20, 50, 99.99]))
        if key == "percentOffRate" and g.chance(0.3):
            sp["appliesToSubscriptions"] = True
            sp["discountedCycleCount"] = g.r.randint(1, 6)
        uses = g.r.randint(0, sp.get("usageLimit", 40))
        out.append({"id": g.uuid(), "dateCreated": str(min(sp["startTime"], dates[i])), "expired": expired,
                    "numberOfUsages": uses, "appId": COUPONS_APP_ID,
                    "displayData": {"name": sp["name"], "formattedPrice": "$%s" % sp.get(key) if key in ("moneyOffAmount", "fixedPriceAmount") else ""},
                    "specification": sp})
    return out


# ------------------------------------------------------------------ pricing-plan orders
PLANS = [("Gold Membership", "subscription", ("MONTH", 1), 2999), ("Silver Membership", "subscription", ("MONTH", 1), 999),
         ("Yearly Pass", "subscription", ("YEAR", 1), 9900), ("Ten Classes", "singlePaymentForDuration", ("MONTH", 3), 12000),
         ("Lifetime O'Brien Club", "singlePaymentUnlimited", None, 25000), ("Free Tier", "subscription", ("MONTH", 1), 0)]
PLAN_STATUSES = [("ACTIVE", 55), ("PENDING", 10), ("PAUSED", 5), ("ENDED", 15), ("CANCELED", 12), ("DRAFT", 3)]


def gen_plans(seed):
    g = G(seed, "plans")
    return [{"id": g.uuid(), "name": nm, "kind": kind, "duration": dur, "cents": cents, "formId": g.uuid()}
            for nm, kind, dur, cents in PLANS]


def _plan_pricing(g, plan):
    total = dec(plan["cents"], g.r.randint(0, 2))
    pr = {"subtotal": total, "discount": "0", "total": total, "currency": "USD"}
    if plan["cents"] and g.chance(0.4):
        pr["tax"] = {"name": "Sales Tax", "includedInPrice": True, "rate": "7.00",
                     "amount": dec(plan["cents"] * 7 // 107, 1)}
    pricing = {"prices": [{"duration": {"cycleFrom": 1}, "price": pr}]}
    if plan["kind"] == "subscription":
        unit, count = plan["duration"]
        pricing["subscription"] = {"cycleDuration": {"count": count, "unit": unit}, "cycleCount": g.pick([0, 12])}
    elif plan["kind"] == "singlePaymentForDuration":
        pricing["singlePaymentForDuration"] = {"count": plan["duration"][1], "unit": plan["duration"][0]}
        pricing["prices"][0]["duration"]["numberOfCycles"] = 1
    else:
        pricing["singlePaymentUnlimited"] = True
    return pricing, pr


def gen_plan_orders(seed, n, members, plans):
    g = G(seed, "plan-orders")
    dates = g.dates(n)
    out = []
    for i in range(n):
        created = dates[i]
        plan = g.pick(plans)
        m = g.pick(members) if members else None
        buyer = {"memberId": m["id"], "contactId": m["contactId"]} if m else {"memberId": g.uuid(), "contactId": g.uuid()}
        typ = g.weighted([("ONLINE", 70), ("OFFLINE", 25), ("EXTERNAL", 5)])
        status = g.weighted(PLAN_STATUSES)
        if plan["cents"] == 0:
            pay = "NOT_APPLICABLE"
        elif typ == "OFFLINE" and status in ("PENDING", "ACTIVE") and g.chance(0.5):
            pay = "UNPAID"
            status = "PENDING" if g.chance(0.5) else "ACTIVE"
        elif status == "DRAFT":
            pay = "PENDING"
        else:
            pay = g.weighted([("PAID", 85), ("FAILED", 5), ("REFUNDED", 5), ("PENDING", 5)])
        start = later(g, created, 86400000)
        pricing, pr = _plan_pricing(g, plan)
        o = {"id": g.uuid(), "planId": plan["id"], "subscriptionId": g.uuid(), "wixPayOrderId": g.uuid() if typ == "ONLINE" else "",
             "buyer": buyer, "type": typ, "status": status, "lastPaymentStatus": pay,
             "startDate": iso_ms(start), "createdDate": iso_ms(created),
             "updatedDate": iso_ms(later(g, created, 30 * 86400000, 1000)),
             "planName": plan["name"], "planDescription": "%s \u2014 all classes included" % plan["name"],
             "planPrice": pr["total"], "pricing": pricing,
             "priceDetails": dict(pr, planPrice=pr["total"]),
             "currentCycle": {"index": 1, "startedDate": iso_ms(start)},
             "formData": {"formId": plan["formId"], "submissionId": g.uuid(),
                          "submissionData": {"first_name": buyer["memberId"][:8], "notes": "Prefers mornings"}}}
        if plan["kind"] == "subscription":
            o["autoRenewCanceled"] = status == "CANCELED" or g.chance(0.1)
        if plan["kind"] != "singlePaymentUnlimited" and (status in ("ENDED", "CANCELED") or g.chance(0.5)):
            o["endDate"] = iso_ms(later(g, start, 365 * 86400000, 86400000))
            o["earliestEndDate"] = o["endDate"]
        if g.chance(0.15) and plan["kind"] == "subscription":
            o["freeTrialDays"] = g.pick([7, 14, 30])
            o["currentCycle"]["index"] = 0
        if status == "CANCELED":
            o["cancellation"] = {"requestedDate": o["updatedDate"], "effectiveAt": g.pick(["IMMEDIATELY", "NEXT_PAYMENT_DATE"]),
                                 "cause": g.pick(["OWNER_ACTION", "MEMBER_ACTION", "PAYMENT_FAILURE", "UNKNOWN"])}
        if status == "PAUSED":
            o["pausePeriods"] = [{"status": "ACTIVE", "pauseDate": o["updatedDate"]}]
        out.append(o)
    return out


# ------------------------------------------------------------------ bookings services
BOOKINGS_APP_ID = "13d21c63-b5ec-5912-8397-c3a5ddb27a97"
SERVICE_TYPES = {"GROUP": "CLASS", "INDIVIDUAL": "APPOINTMENT", "COURSE": "COURSE"}
SERVICE_CATEGORIES = [("Fitness", 0), ("Beauty & Wellness", 1), ("Classes", 2)]


def gen_services(seed, n, booked, staff):
    """n bookings services (Services V2); the first ones are the services the
    bookings refer to (same ids, names, schedules), the rest are made up."""
    g = G(seed, "services")
    cats = [{"id": g.uuid(), "name": nm, "sortOrder": so} for nm, so in SERVICE_CATEGORIES]
    dates = g.dates(n)
    out = []
    for i in range(n):
        if i < len(booked):
            b = booked[i]
            sid, name, typ, dur, sched = b["id"], b["name"], SERVICE_TYPES[b["type"]], b["dur"], b["scheduleId"]
        else:
            sid, sched = g.uuid(), g.uuid()
            typ = g.pick(["APPOINTMENT", "CLASS", "COURSE"])
            name, dur = "%s %s %d" % (g.pick(ADJ), g.pick(["Session", "Workshop", "Consultation", "Retreat"]), i), g.pick([30, 45, 60, 90])
        slug = slugify(name)
        rate = g.weighted([("FIXED", 60), ("VARIED", 10), ("CUSTOM", 10), ("NO_FEE", 10), ("SUBSCRIPTION", 10)])
        cents = g.r.randint(10, 200) * 50
        money = {"value": dec(cents, g.r.randint(0, 2)), "currency": "USD", "formattedValue": formatted(cents, "USD")}
        payment = {"rateType": rate, "options": {"online": rate != "NO_FEE", "inPerson": g.chance(0.6), "deposit": False,
                                                 "pricingPlan": rate == "SUBSCRIPTION"}, "pricingPlanIds": []}
        if rate == "FIXED":
            payment["fixed"] = {"price": money, "fullUpfrontPaymentAllowed": False}
        elif rate == "VARIED":
            payment["varied"] = {"defaultPrice": money, "minPrice": dict(money), "maxPrice": {"value": dec(cents * 2), "currency": "USD",
                                                                                                "formattedValue": formatted(cents * 2, "USD")}}
        elif rate == "CUSTOM":
            payment["custom"] = {"description": "Price depends on the length of your hair"}
        elif rate == "SUBSCRIPTION":
            payment["pricingPlanIds"] = [g.uuid()]
        created = dates[i]
        first = later(g, created, 30 * 86400000, 86400000)
        s = {"id": sid, "appId": BOOKINGS_APP_ID, "createdByAppId": BOOKINGS_APP_ID, "type": typ, "name": name,
             "description": "%s with our best staff." % name, "tagLine": g.pick(["Feel better", "Learn fast", "Relax"]),
             "sortOrder": i, "defaultCapacity": 1 if typ == "APPOINTMENT" else g.r.randint(5, 30),
             "hidden": g.chance(0.1), "category": dict(g.pick(cats)), "form": {"id": g.uuid()}, "payment": payment,
             "onlineBooking": {"enabled": not g.chance(0.1), "requireManualApproval": g.chance(0.2), "allowMultipleRequests": False},
             "conferencing": {"enabled": g.chance(0.2)},
             "locations": [{"id": V3_LOCATION_ID, "type": "BUSINESS", "business": {"id": V3_LOCATION_ID, "name": "Main studio"}}],
             "schedule": {"id": sched, "firstSessionStart": iso_ms(first),
                          "availabilityConstraints": {"sessionDurations": [dur]}},
             "staffMemberIds": sorted(set(g.pick(staff)["id"] for _ in range(g.r.randint(1, 3)))) if staff else [],
             "mainSlug": {"name": slug, "custom": False, "createdDate": iso_ms(created)},
             "supportedSlugs": [{"name": slug, "custom": False, "createdDate": iso_ms(created)}],
             "media": {"mainMedia": {"image": {"id": "s%06d" % i, "url": "https://static.wixstatic.com/media/svc%d.jpg" % i,
                                               "height": 600, "width": 800}}, "items": []},
             "createdDate": iso_ms(created), "updatedDate": iso_ms(later(g, created, 60 * 86400000, 1000)),
             "revision": str(g.r.randint(1, 9))}
        if typ == "COURSE":
            s["schedule"]["lastSessionEnd"] = iso_ms(first + 42 * 86400000)
        if g.chance(0.2):
            s["locations"].append({"id": g.uuid(), "type": "CUSTOMER"})
        out.append(s)
    return out
