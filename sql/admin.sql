-- Admin functions: their signatures and privileges, the audit table, and
-- the errors that stop a call before any request is sent (bad ids and
-- paths, bad amounts, server choice, credentials, privileges).  The server
-- points at a closed port: a request that got out would show as an error.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS wix_admin;
RESET client_min_messages;
CREATE SERVER adm FOREIGN DATA WRAPPER wix_admin
  OPTIONS (site_id '5e2f6a3b-1c4d-4e5f-8a9b-0c1d2e3f4a5b',
           base_url 'http://127.0.0.1:9');
CREATE USER MAPPING FOR CURRENT_USER SERVER adm OPTIONS (api_key 'not-used');

-- every admin function, and nobody but its owner may execute it; only
-- check_connection, which acts on nothing, is left to PUBLIC
SELECT p.proname, pg_get_function_arguments(p.oid) AS arguments,
       pg_get_function_result(p.oid) AS result, p.proisstrict, p.prosecdef,
       EXISTS (SELECT FROM aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
                WHERE a.grantee = 0) AS public_execute
  FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid AND d.deptype = 'e'
  JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'wix_admin'
 WHERE p.prorettype = 'jsonb'::regtype
 ORDER BY p.proname;

-- the audit table: nobody but its owner may read or write it
SELECT attname, format_type(atttypid, atttypmod), attnotnull
  FROM pg_attribute WHERE attrelid = 'wix_admin.action_log'::regclass AND attnum > 0
 ORDER BY attnum;
SELECT a.privilege_type
  FROM pg_class c, aclexplode(c.relacl) a
 WHERE c.oid = 'wix_admin.action_log'::regclass AND a.grantee <> c.relowner;

-- NULLs and empty strings
SELECT wix_refund(NULL, server => 'adm');
SELECT wix_approve_member('', server => 'adm');
SELECT wix_cancel_order('abc', NULL, server => 'adm');
SELECT wix_set_inventory('abc', NULL, server => 'adm');
SELECT wix_create_member(NULL, server => 'adm');
SELECT wix_reschedule_booking('abc', NULL, server => 'adm');

-- ids that are not ids
SELECT wix_refund('../orders', server => 'adm');
SELECT wix_cancel_order('x?status=CANCELED', server => 'adm');
SELECT wix_archive_order('x#y', server => 'adm');
SELECT wix_block_member('%2F', server => 'adm');
SELECT wix_delete_member('a b', server => 'adm');
SELECT wix_delete_product('..', server => 'adm');
SELECT wix_confirm_booking(E'x\ny', server => 'adm');
SELECT wix_adjust_inventory('abc', 1, 'v/../w', server => 'adm');
SELECT wix_update_product(repeat('a', 201), '{"name": "x"}', server => 'adm');

-- wix_api paths and methods
SELECT wix_api('GET', 'ecom/v1/orders', server => 'adm');
SELECT wix_api('GET', '/ecom/../oauth2/token', server => 'adm');
SELECT wix_api('GET', '/ecom/%2e%2e/oauth2/token', server => 'adm');
SELECT wix_api('GET', '//evil.example/x', server => 'adm');
SELECT wix_api('GET', '/x?y=1#z', server => 'adm');
SELECT wix_api('GET', '/x y', server => 'adm');
SELECT wix_api('CONNECT', '/x', server => 'adm');
SELECT wix_api('GET', '/x', '{"a": 1}', server => 'adm');
SELECT wix_api('POST', '/x', '"text"', server => 'adm');

-- amounts, quantities, dates, product fields
SELECT wix_refund('abc', 0, server => 'adm');
SELECT wix_refund('abc', 'NaN', server => 'adm');
SELECT wix_set_inventory('abc', -1, server => 'adm');
SELECT wix_adjust_inventory('abc', 0, server => 'adm');
SELECT wix_reschedule_booking('abc', '2026-01-01 10:00+00', '2026-01-01 09:00+00', server => 'adm');
SELECT wix_create_product('', 1, server => 'adm');
SELECT wix_create_product('Mug', -1, server => 'adm');
SELECT wix_create_product(repeat('m', 81), 1, server => 'adm');
SELECT wix_update_product('abc', '{}', server => 'adm');
SELECT wix_update_product('abc', '{"id": "other"}', server => 'adm');
SELECT wix_create_member('not-an-email', server => 'adm');
SELECT wix_fulfill_order('abc', '1Z999', server => 'adm');

-- server choice (see test/test_admin.py for the rest)
CREATE FOREIGN DATA WRAPPER adm_other_fdw;
CREATE SERVER adm_other FOREIGN DATA WRAPPER adm_other_fdw;
SELECT wix_approve_member('abc', server => 'adm_other');

-- credentials and privileges
CREATE ROLE regress_wix_admin_clerk;
SET ROLE regress_wix_admin_clerk;
SELECT wix_approve_member('abc', server => 'adm');
RESET ROLE;
GRANT EXECUTE ON FUNCTION wix_approve_member(text, name) TO regress_wix_admin_clerk;
SET ROLE regress_wix_admin_clerk;
SELECT wix_approve_member('abc', server => 'adm');
RESET ROLE;
GRANT USAGE ON FOREIGN SERVER adm TO regress_wix_admin_clerk;
SET ROLE regress_wix_admin_clerk;
SELECT wix_approve_member('abc', server => 'adm');
SELECT count(*) FROM wix_admin.action_log;
RESET ROLE;
BEGIN READ ONLY;
SELECT wix_approve_member('abc', server => 'adm');
ROLLBACK;

-- nothing above succeeded: no audit row
SELECT count(*) FROM wix_admin.action_log;

REVOKE ALL ON FOREIGN SERVER adm FROM regress_wix_admin_clerk;
REVOKE ALL ON FUNCTION wix_approve_member(text, name) FROM regress_wix_admin_clerk;
DROP ROLE regress_wix_admin_clerk;
DROP USER MAPPING FOR CURRENT_USER SERVER adm;
DROP SERVER adm;
DROP FOREIGN DATA WRAPPER adm_other_fdw CASCADE;
