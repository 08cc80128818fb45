-- The read path against the emulator (test/emulator, started by
-- test/run_in_cluster.sh with its default seed): the four imported tables,
-- typed columns, raw jsonb, EXPLAIN.
\getenv wix_url WIX_EMULATOR_URL
-- the emulator does not throttle
SET wix_admin.requests_per_minute = 0;
CREATE EXTENSION wix_admin;
CREATE SERVER shop FOREIGN DATA WRAPPER wix_admin
  OPTIONS (site_id '5e2f6a3b-1c4d-4e5f-8a9b-0c1d2e3f4a5b', base_url :'wix_url');
CREATE USER MAPPING FOR CURRENT_USER SERVER shop
  OPTIONS (client_id 'wix-emulator-app', client_secret 'wix-emulator-secret');
CREATE SCHEMA wix;
IMPORT FOREIGN SCHEMA wix FROM SERVER shop INTO wix;
SET timezone = 'UTC';

-- the issue's example query
SELECT number, created_date, payment_status, total
  FROM wix.orders ORDER BY number LIMIT 5;
SELECT status, count(*) FROM wix.orders GROUP BY status ORDER BY status;
SELECT count(*), sum(total), min(created_date), max(created_date) FROM wix.orders;
SELECT pg_typeof(number), pg_typeof(total), pg_typeof(created_date),
       pg_typeof(archived), pg_typeof(line_items)
  FROM wix.orders LIMIT 1;
SELECT number, raw->'priceSummary'->'total'->>'amount' = total::text AS raw_matches,
       jsonb_typeof(line_items) AS line_items
  FROM wix.orders ORDER BY number LIMIT 3;

SELECT status, count(*) FROM wix.members GROUP BY status ORDER BY status;
SELECT first_name, last_name FROM wix.members
  WHERE first_name ~ '[^a-zA-Z ]' ORDER BY first_name, last_name;

SELECT count(*), count(*) FILTER (WHERE visible) AS visible,
       min(price), max(price) FROM wix.products;
SELECT product_type, inventory_status, count(*) FROM wix.products
  GROUP BY 1, 2 ORDER BY 1, 2;

SELECT status, count(*), sum(total_participants) FROM wix.bookings
  GROUP BY status ORDER BY status;

-- EXPLAIN shows the request; never a credential
EXPLAIN (VERBOSE, COSTS OFF) SELECT id FROM wix.bookings;

DROP SCHEMA wix CASCADE;
DROP SERVER shop CASCADE;
DROP EXTENSION wix_admin;
