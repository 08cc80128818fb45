-- Pushdown of WHERE, ORDER BY and LIMIT: EXPLAIN shows what each query sends
-- to Wix; the rows come from the emulator (test/emulator, default seed).
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

-- the latest paid orders: one request for exactly ten rows
EXPLAIN (VERBOSE, COSTS OFF)
SELECT number, total FROM wix.orders
 WHERE payment_status = 'PAID' ORDER BY created_date DESC LIMIT 10;
SELECT number, total FROM wix.orders
 WHERE payment_status = 'PAID' ORDER BY created_date DESC LIMIT 10;

-- each operator
EXPLAIN (COSTS OFF) SELECT id FROM wix.orders WHERE number = 10005;
EXPLAIN (COSTS OFF) SELECT id FROM wix.orders WHERE number <> 10005;
EXPLAIN (COSTS OFF) SELECT id FROM wix.orders WHERE number BETWEEN 10005 AND 10010;
EXPLAIN (COSTS OFF) SELECT id FROM wix.orders WHERE created_date >= '2025-06-01';
EXPLAIN (COSTS OFF) SELECT id FROM wix.orders WHERE created_date > '2025-06-01 00:00:00.0004';
EXPLAIN (COSTS OFF) SELECT id FROM wix.orders WHERE status IN ('PENDING', 'REJECTED');
EXPLAIN (COSTS OFF) SELECT id FROM wix.orders WHERE status NOT IN ('PENDING', 'REJECTED');
EXPLAIN (COSTS OFF) SELECT id FROM wix.orders WHERE buyer_email IS NULL;
EXPLAIN (COSTS OFF) SELECT id FROM wix.orders WHERE buyer_email LIKE 'ann%';
EXPLAIN (COSTS OFF) SELECT id FROM wix.orders WHERE archived;
EXPLAIN (COSTS OFF) SELECT id FROM wix.orders WHERE NOT archived;
EXPLAIN (COSTS OFF) SELECT id FROM wix.orders WHERE total > 100;
EXPLAIN (COSTS OFF) SELECT id FROM wix.orders WHERE status = 'PENDING' OR number < 10003;
EXPLAIN (COSTS OFF) SELECT id FROM wix.members WHERE last_name = 'O''Brien' AND login_email LIKE 'c%';
EXPLAIN (COSTS OFF) SELECT id FROM wix.bookings WHERE service_id = 'x' AND start_date < '2026-01-01';
EXPLAIN (COSTS OFF) SELECT id FROM wix.products WHERE visible AND created_date > '2025-01-01';

-- what Wix cannot evaluate stays here
EXPLAIN (COSTS OFF) SELECT id FROM wix.orders WHERE lower(status) = 'paid' AND status > 'A';
EXPLAIN (COSTS OFF) SELECT id FROM wix.orders WHERE currency = 'USD' ORDER BY total LIMIT 3;

-- results equal those computed locally
SELECT count(*) FROM wix.orders WHERE status IN ('PENDING', 'REJECTED') AND number > 10500;
SET wix_admin.enable_where_pushdown = off;
SELECT count(*) FROM wix.orders WHERE status IN ('PENDING', 'REJECTED') AND number > 10500;
EXPLAIN (COSTS OFF) SELECT id FROM wix.orders WHERE status = 'PENDING';
RESET wix_admin.enable_where_pushdown;
SELECT first_name, last_name FROM wix.members
 WHERE last_name IN ('O''Brien', 'D''Angelo', 'Müller') ORDER BY 1, 2;

-- ORDER BY and LIMIT/OFFSET
EXPLAIN (COSTS OFF) SELECT number FROM wix.orders ORDER BY number LIMIT 3 OFFSET 2;
SELECT number FROM wix.orders ORDER BY number LIMIT 3 OFFSET 2;
EXPLAIN (COSTS OFF) SELECT id FROM wix.members ORDER BY created_date DESC LIMIT 2;
SET wix_admin.enable_limit_pushdown = off;
EXPLAIN (COSTS OFF) SELECT number FROM wix.orders ORDER BY number LIMIT 3;
RESET wix_admin.enable_limit_pushdown;
SET wix_admin.enable_order_by_pushdown = off;
EXPLAIN (COSTS OFF) SELECT number FROM wix.orders ORDER BY number LIMIT 3;
RESET wix_admin.enable_order_by_pushdown;

-- EXPLAIN ANALYZE as PostgreSQL 15 and 17 print it: 18 prints rows=N.00
CREATE FUNCTION explain_analyze(query text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
  line text;
BEGIN
  FOR line IN EXECUTE 'EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) ' || query LOOP
    RETURN NEXT regexp_replace(line, '\(actual rows=(\d+)\.00 ', '(actual rows=\1 ');
  END LOOP;
END $$;

-- no request at all
EXPLAIN (COSTS OFF) SELECT * FROM wix.orders WHERE status = ANY ('{}');
SELECT line AS "QUERY PLAN"
  FROM explain_analyze($$SELECT * FROM wix.orders WHERE status = ANY ('{}')$$) line;
SELECT line AS "QUERY PLAN" FROM explain_analyze('SELECT * FROM wix.orders LIMIT 0') line;

-- parameters: values resolved when the scan starts, generic plans too
SET plan_cache_mode = force_generic_plan;
PREPARE paid(text, bigint) AS
  SELECT count(*) FROM wix.orders WHERE payment_status = $1 AND number > $2;
EXPLAIN (COSTS OFF) EXECUTE paid('PAID', 11000);
EXECUTE paid('PAID', 11000);
EXECUTE paid('NOT_PAID', 11000);
SELECT line AS "QUERY PLAN" FROM explain_analyze($$EXECUTE paid('PAID', 11100)$$) line;
RESET plan_cache_mode;
DROP FUNCTION explain_analyze(text);

DROP SCHEMA wix CASCADE;
DROP SERVER shop CASCADE;
DROP EXTENSION wix_admin;
