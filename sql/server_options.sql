-- Options of servers, user mappings, foreign tables and columns: every bad
-- combination is an error that says what is valid.  No request is sent.
CREATE EXTENSION wix_admin;

-- a server needs a site (or an account)
CREATE SERVER bad FOREIGN DATA WRAPPER wix_admin;
CREATE SERVER bad FOREIGN DATA WRAPPER wix_admin OPTIONS (site_id 's', account_id 'a');
-- unknown options list the valid ones
CREATE SERVER bad FOREIGN DATA WRAPPER wix_admin OPTIONS (site_id 's', siteid 'x');
-- secrets never go on a server, whose options everyone can read
CREATE SERVER bad FOREIGN DATA WRAPPER wix_admin OPTIONS (site_id 's', api_key 'k');
CREATE SERVER bad FOREIGN DATA WRAPPER wix_admin OPTIONS (site_id 's', client_secret 'k');
-- plain http only to loopback; https otherwise
CREATE SERVER bad FOREIGN DATA WRAPPER wix_admin OPTIONS (site_id 's', base_url 'http://example.com');
CREATE SERVER bad FOREIGN DATA WRAPPER wix_admin OPTIONS (site_id 's', base_url 'ftp://127.0.0.1/');
CREATE SERVER bad FOREIGN DATA WRAPPER wix_admin OPTIONS (site_id 's', base_url 'not a url');
CREATE SERVER bad FOREIGN DATA WRAPPER wix_admin OPTIONS (site_id 's', base_url 'https://www.wixapis.com?x=1');
CREATE SERVER bad FOREIGN DATA WRAPPER wix_admin OPTIONS (site_id 's', catalog_version 'V2');
CREATE SERVER bad FOREIGN DATA WRAPPER wix_admin OPTIONS (site_id 's', request_timeout '-1');
CREATE SERVER bad FOREIGN DATA WRAPPER wix_admin OPTIONS (site_id 's', connect_timeout 'soon');
CREATE SERVER bad FOREIGN DATA WRAPPER wix_admin OPTIONS (site_id '');
CREATE SERVER bad FOREIGN DATA WRAPPER wix_admin OPTIONS (site_id 's', max_retries '-1');
CREATE SERVER bad FOREIGN DATA WRAPPER wix_admin OPTIONS (site_id 's', requests_per_minute 'lots');

CREATE SERVER good FOREIGN DATA WRAPPER wix_admin OPTIONS (site_id 's');
CREATE SERVER loop4 FOREIGN DATA WRAPPER wix_admin
  OPTIONS (site_id 's', base_url 'http://127.0.0.1:1/', catalog_version 'v1',
           connect_timeout '0.5', request_timeout '30', max_retries '0',
           requests_per_minute '100', max_response_size '1000000');
CREATE SERVER loop6 FOREIGN DATA WRAPPER wix_admin
  OPTIONS (account_id 'a', base_url 'http://[::1]:8080');
CREATE SERVER named FOREIGN DATA WRAPPER wix_admin
  OPTIONS (site_id 's', base_url 'http://localhost:8080/');
ALTER SERVER good OPTIONS (ADD api_key 'k');
ALTER SERVER good OPTIONS (ADD account_id 'a');
ALTER SERVER good OPTIONS (SET site_id 't');

-- a user mapping needs exactly one kind of credentials
CREATE USER MAPPING FOR CURRENT_USER SERVER good;
CREATE USER MAPPING FOR CURRENT_USER SERVER good OPTIONS (client_id 'c');
CREATE USER MAPPING FOR CURRENT_USER SERVER good OPTIONS (client_secret 'c');
CREATE USER MAPPING FOR CURRENT_USER SERVER good
  OPTIONS (client_id 'c', client_secret 's', api_key 'k');
CREATE USER MAPPING FOR CURRENT_USER SERVER good OPTIONS (site_id 's');
CREATE USER MAPPING FOR CURRENT_USER SERVER good OPTIONS (api_key '');
CREATE USER MAPPING FOR CURRENT_USER SERVER good OPTIONS (api_key 'k');
ALTER USER MAPPING FOR CURRENT_USER SERVER good OPTIONS (ADD client_id 'c');
ALTER USER MAPPING FOR CURRENT_USER SERVER good
  OPTIONS (DROP api_key, ADD client_id 'c', ADD client_secret 's', ADD instance_id 'i');

-- foreign tables name a resource; columns may name a path
CREATE FOREIGN TABLE t1 (id text) SERVER good;
CREATE FOREIGN TABLE t1 (id text) SERVER good OPTIONS (resource 'invoices');
CREATE FOREIGN TABLE t1 (id text) SERVER good OPTIONS (resource 'orders', rows 'many');
CREATE FOREIGN TABLE t1 (id text) SERVER good OPTIONS (resource 'orders', use_remote_estimate 'maybe');
CREATE FOREIGN TABLE t1 (id text) SERVER good OPTIONS (resource 'orders', region 'eu');
CREATE FOREIGN TABLE t1 (id text OPTIONS (path '')) SERVER good OPTIONS (resource 'orders');
CREATE FOREIGN TABLE t1 (id text OPTIONS (path 'a..b')) SERVER good OPTIONS (resource 'orders');
CREATE FOREIGN TABLE t1 (id text OPTIONS (path '.a')) SERVER good OPTIONS (resource 'orders');
CREATE FOREIGN TABLE t1 (id text OPTIONS (colname 'x')) SERVER good OPTIONS (resource 'orders');
CREATE FOREIGN TABLE t1 (id text OPTIONS (path 'buyerInfo.email'), doc jsonb OPTIONS (path '$'))
  SERVER good OPTIONS (resource 'orders');
ALTER FOREIGN TABLE t1 OPTIONS (SET resource 'members');
ALTER FOREIGN TABLE t1 OPTIONS (SET resource 'nothing');
ALTER FOREIGN DATA WRAPPER wix_admin OPTIONS (ADD site_id 's');

-- IMPORT FOREIGN SCHEMA: only "wix" exists, and no option value is copied
IMPORT FOREIGN SCHEMA public FROM SERVER good INTO public;
CREATE SCHEMA w;
IMPORT FOREIGN SCHEMA wix LIMIT TO (orders, bookings) FROM SERVER good INTO w;
\det w.*
IMPORT FOREIGN SCHEMA wix EXCEPT (orders, bookings) FROM SERVER good INTO w;
\d+ w.orders
\d+ w.products
SELECT count(*) AS secrets_in_ddl FROM pg_foreign_table ft, pg_attribute a
  WHERE a.attrelid = ft.ftrelid
    AND (array_to_string(ft.ftoptions, ',') ~ '(client|secret|api_key|site_id)'
      OR array_to_string(a.attfdwoptions, ',') ~ '(client|secret|api_key|site_id)');

-- EXPLAIN sends nothing and needs no reachable server
EXPLAIN (COSTS OFF) SELECT * FROM w.orders;
EXPLAIN (COSTS OFF, VERBOSE) SELECT id, login_email FROM w.members;
EXPLAIN (COSTS OFF) SELECT * FROM w.products;

DROP SCHEMA w CASCADE;
DROP SERVER good, loop4, loop6, named CASCADE;
DROP EXTENSION wix_admin;
