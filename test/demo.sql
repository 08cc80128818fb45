-- The demo of demo.sh: credentials come from the environment through psql
-- variables, so they appear in no command line and no log line.
\getenv site_id WIX_SITE_ID
\getenv base_url WIX_BASE_URL
\getenv client_id WIX_CLIENT_ID
\getenv client_secret WIX_CLIENT_SECRET
\getenv api_key WIX_API_KEY
\pset footer off

CREATE EXTENSION wix_admin;
CREATE SERVER shop FOREIGN DATA WRAPPER wix_admin
  OPTIONS (site_id :'site_id', base_url :'base_url');
SELECT :{?api_key} AS use_api_key \gset
\if :use_api_key
CREATE USER MAPPING FOR CURRENT_USER SERVER shop OPTIONS (api_key :'api_key');
\else
CREATE USER MAPPING FOR CURRENT_USER SERVER shop
  OPTIONS (client_id :'client_id', client_secret :'client_secret');
\endif
CREATE SCHEMA wix;
IMPORT FOREIGN SCHEMA wix FROM SERVER shop INTO wix;

\echo '\n== The latest orders'
SELECT number, created_date, status, payment_status, total, currency
  FROM wix.orders ORDER BY created_date DESC LIMIT 5;
\echo '\n== Revenue by payment status'
SELECT payment_status, count(*), sum(total) AS total
  FROM wix.orders GROUP BY 1 ORDER BY 3 DESC NULLS LAST;
\echo '\n== Members'
SELECT login_email, status, first_name, last_name, created_date
  FROM wix.members ORDER BY created_date DESC LIMIT 5;
\echo '\n== Products'
SELECT name, price, currency, visible, inventory_status
  FROM wix.products ORDER BY price DESC NULLS LAST LIMIT 5;
\echo '\n== Upcoming bookings'
SELECT start_date, status, contact_email, total_participants
  FROM wix.bookings ORDER BY start_date DESC LIMIT 5;
\echo '\n== Revenue by SKU per month (order_line_items: no request beyond the orders pages)'
SELECT date_trunc('month', order_created_date)::date AS month, sku,
       sum(quantity) AS units, sum(total_price_after_tax) AS revenue, currency
  FROM wix.order_line_items
 WHERE order_created_date >= '2026-01-01'
 GROUP BY 1, 2, 5 ORDER BY 1 DESC, 4 DESC NULLS LAST LIMIT 8;
\echo '\n== Refunds by reason (order_refunds: the orders pages + one list-by-ids per 100 orders)'
SELECT coalesce(reason, '(no reason given)') AS reason, count(*) AS refunds,
       sum(amount) AS refunded
  FROM wix.order_refunds GROUP BY 1 ORDER BY 3 DESC NULLS LAST;
\echo '\n== Repeat-customer rate (paid orders per buyer)'
SELECT count(*) AS customers,
       count(*) FILTER (WHERE paid_orders > 1) AS repeat_customers,
       round(100.0 * count(*) FILTER (WHERE paid_orders > 1) / nullif(count(*), 0), 1)
         AS repeat_rate_pct
  FROM (SELECT buyer_email, count(*) AS paid_orders
          FROM wix.orders
         WHERE payment_status IN ('PAID', 'PARTIALLY_REFUNDED', 'FULLY_REFUNDED')
         GROUP BY 1) AS buyers;
\echo '\n== What a scan sends to Wix'
EXPLAIN (ANALYZE, VERBOSE, COSTS OFF, TIMING OFF, SUMMARY OFF)
  SELECT number, total FROM wix.orders;
