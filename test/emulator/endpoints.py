"""Every Wix endpoint the emulator answers, in one table, and the lookup of
a request's endpoint.

An entry is (methods, path pattern, handler, needs auth).  A {name} in the
pattern matches one path segment, handed to the handler as req.m[name].
The first entry whose pattern and method match serves the request, so a
literal segment ("/query") comes before a {name} that would match it.
A handler gets a Req (api.py) and returns a JSON-able object or api.Raw
(status 200), or raises api.ApiError.  A new resource is an entry here,
its handlers in domains/, and its data in emu_data.py.
"""
import re

from domains import bookings, checkouts, contacts, coupons, members, oauth, orders, plans, stores

AUTH = True
NO_AUTH = False

ENDPOINTS = [
    # -- OAuth
    ("POST", "/oauth2/token", oauth.h_token, NO_AUTH),
    ("POST", "/oauth2/token-info", oauth.h_token_info, NO_AUTH),
    # -- eCommerce orders, payments, refunds, fulfillments
    ("POST", "/ecom/v1/orders/search", orders.h_orders_search, AUTH),
    ("GET", "/ecom/v1/orders/{id}", orders.h_order_get, AUTH),
    ("POST", "/ecom/v1/orders/{id}/cancel", orders.h_order_cancel, AUTH),
    ("PATCH", "/ecom/v1/orders/{id}", orders.h_order_update, AUTH),
    ("GET", "/ecom/v1/payments/orders/{orderId}", orders.h_order_payments, AUTH),
    ("POST", "/ecom/v1/payments/list-by-ids", orders.h_payments_by_ids, AUTH),
    ("POST", "/ecom/v1/payments/{paymentId}/orders/{orderId}/update-payment-transaction-status",
     orders.h_payment_status_update, AUTH),
    ("POST", "/ecom/v1/bulk/payments/update-payment-transaction-status", orders.h_payment_status_bulk, AUTH),
    ("POST", "/ecom/v1/payments/orders/{orderId}/add-payment", orders.h_add_payments, AUTH),
    ("POST", "/ecom/v1/order-billing/get-order-refundability", orders.h_refundability, AUTH),
    ("POST", "/ecom/v1/order-billing/refund-payments", orders.h_refund_payments, AUTH),
    ("GET", "/ecom/v1/fulfillments/orders/{orderId}", orders.h_fulfillments_list, AUTH),
    ("POST", "/ecom/v1/fulfillments/list-by-ids", orders.h_fulfillments_by_ids, AUTH),
    ("POST", "/ecom/v1/fulfillments/orders/{orderId}/create-fulfillment", orders.h_fulfillment_create, AUTH),
    ("DELETE", "/ecom/v1/fulfillments/{fid}/orders/{orderId}", orders.h_fulfillment_delete, AUTH),
    # -- eCommerce abandoned checkouts
    ("POST", "/ecom/v1/abandoned-checkout/query", checkouts.h_checkouts_query, AUTH),
    ("POST", "/ecom/v1/abandoned-checkout/search", checkouts.h_checkouts_search, AUTH),
    ("GET", "/ecom/v1/abandoned-checkout/{id}", checkouts.h_checkout_get, AUTH),
    # -- CRM contacts
    ("POST", "/contacts/v4/contacts/query", contacts.h_contacts_query, AUTH),
    ("GET", "/contacts/v4/contacts/{id}", contacts.h_contact_get, AUTH),
    # -- marketing coupons
    ("POST", "/stores/v2/coupons/query", coupons.h_coupons_query, AUTH),
    ("GET", "/stores/v2/coupons/{id}", coupons.h_coupon_get, AUTH),
    # -- pricing-plan orders
    ("GET", "/pricing-plans/v2/orders", plans.h_plan_orders_list, AUTH),
    ("GET", "/pricing-plans/v2/orders/{id}", plans.h_plan_order_get, AUTH),
    ("POST", "/pricing-plans/v2/orders/{id}/mark-as-paid", plans.h_plan_order_mark_paid, AUTH),
    # -- members
    ("POST", "/members/v1/members/query", members.h_members_query, AUTH),
    ("GET", "/members/v1/members", members.h_members_list, AUTH),
    ("GET", "/members/v1/members/{id}", members.h_member_get, AUTH),
    ("POST", "/members/v1/members", members.h_member_create, AUTH),
    ("PATCH", "/members/v1/members/{id}", members.h_member_update, AUTH),
    ("DELETE", "/members/v1/members/{id}", members.h_member_delete, AUTH),
    ("POST", "/members/v1/members/bulk/delete", members.h_members_bulk_delete, AUTH),
    ("POST", "/members/v1/members/{id}/approve", members.h_member_approve, AUTH),
    ("POST", "/members/v1/members/{id}/block", members.h_member_block, AUTH),
    # -- Wix Stores: the catalog version, Catalog V1, Catalog V3
    ("GET", "/stores/v3/provision/version", stores.h_catalog_version, AUTH),
    ("POST", "/stores-reader/v1/products/query", stores.h_v1_query, AUTH),
    ("GET", "/stores-reader/v1/products/{id}", stores.h_v1_get, AUTH),
    ("GET POST", "/stores/v3/products/query", stores.h_v3_query, AUTH),
    ("GET POST", "/stores/v3/products/search", stores.h_v3_search, AUTH),
    ("GET POST", "/stores/v3/products/count", stores.h_v3_count, AUTH),
    ("GET POST", "/stores/v3/inventory-items/query", stores.h_inv_query, AUTH),
    ("GET POST", "/stores/v3/inventory-items/search", stores.h_inv_search, AUTH),
    ("GET POST", "/stores/v3/inventory-items/count", stores.h_inv_count, AUTH),
    ("POST", "/stores-reader/v2/inventoryItems/query", stores.h_v1_inventory_query, AUTH),
    ("GET", "/stores/v3/products/{id}", stores.h_v3_get, AUTH),
    ("GET", "/stores/v3/inventory-items/{id}", stores.h_inv_get, AUTH),
    ("POST", "/stores/v1/products", stores.h_v1_create, AUTH),
    ("PATCH", "/stores/v1/products/{id}", stores.h_v1_update, AUTH),
    ("DELETE", "/stores/v1/products/{id}", stores.h_v1_delete, AUTH),
    ("PATCH", "/stores/v2/inventoryItems/product/{productId}", stores.h_v1_inventory_patch, AUTH),
    ("POST", "/stores/v2/inventoryItems/increment", stores.h_v1_increment, AUTH),
    ("POST", "/stores/v2/inventoryItems/decrement", stores.h_v1_decrement, AUTH),
    ("POST", "/stores/v3/products", stores.h_v3_create, AUTH),
    ("PATCH", "/stores/v3/products/{id}", stores.h_v3_update, AUTH),
    ("DELETE", "/stores/v3/products/{id}", stores.h_v3_delete, AUTH),
    ("POST", "/stores/v3/bulk/products/create", stores.h_v3_bulk_create, AUTH),
    ("POST", "/stores/v3/bulk/products/update", stores.h_v3_bulk_update, AUTH),
    ("POST", "/stores/v3/bulk/products/delete", stores.h_v3_bulk_delete, AUTH),
    ("PATCH", "/stores/v3/inventory-items/{id}", stores.h_inv_update, AUTH),
    ("POST", "/stores/v3/bulk/inventory-items/increment", stores.h_inv_increment, AUTH),
    ("POST", "/stores/v3/bulk/inventory-items/decrement", stores.h_inv_decrement, AUTH),
    # -- bookings
    ("POST", "/_api/bookings-reader/v2/extended-bookings/query", bookings.h_xb_query, AUTH),
    ("POST", "/_api/bookings-reader/v2/extended-bookings/count", bookings.h_xb_count, AUTH),
    ("POST", "/_api/bookings-service/v2/bookings/{id}/confirm", bookings.h_booking_confirm, AUTH),
    ("POST", "/_api/bookings-service/v2/bookings/{id}/decline", bookings.h_booking_decline, AUTH),
    ("POST", "/_api/bookings-service/v2/bookings/{id}/cancel", bookings.h_booking_cancel, AUTH),
    ("POST", "/_api/bookings-service/v2/bookings/{id}/reschedule", bookings.h_booking_reschedule, AUTH),
    ("POST", "/_api/bookings/v2/services/query", bookings.h_services_query, AUTH),
    ("POST", "/bookings/v2/services/query", bookings.h_services_query, AUTH),
    ("POST", "/_api/bookings/v2/services/count", bookings.h_services_count, AUTH),
    ("GET", "/_api/bookings/v2/services/{serviceId}", bookings.h_service_get, AUTH),
]


def _compile(pattern):
    return re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern) + "$")


# (method, regex, handler, needs auth), in table order
ROUTES = [(method, _compile(pattern), handler, auth)
          for methods, pattern, handler, auth in ENDPOINTS for method in methods.split()]


def find(method, path):
    """(handler, needs auth, path parameters) of the endpoint serving
    method and path; (None, path known) when there is none, path known
    telling whether another method would have been served."""
    path_known = False
    for route_method, rx, handler, auth in ROUTES:
        m = rx.match(path)
        if m:
            path_known = True
            if route_method == method:
                return (handler, auth, m.groupdict()), True
    return None, path_known
