/* wix_admin--0.2--0.3.sql: ALTER EXTENSION wix_admin UPDATE TO '0.3' */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION wix_admin UPDATE TO '0.3'" to load this file. \quit

-- What 0.3 changes: admin actions.  wix_create_product takes product_type
-- (a parameter added last before server, so the function is made anew),
-- and wix_set_in_stock is new.  The queue records the foreign table whose
-- DML queued an action (via_table), whose privileges stand for EXECUTE at
-- delivery.  Everything else is as 0.2 made it.  Every
-- object ends as wix_admin--0.3.sql creates it (test/test_upgrade.py
-- compares them); every row is kept.

-- EXECUTE granted on the old wix_create_product goes with it.  Granting it
-- again here would make the grant part of the extension's initial
-- privileges, which pg_dump leaves out: the roles are named instead.
DO $$
DECLARE
  grantees text;
BEGIN
  SELECT string_agg(DISTINCT a.grantee::regrole::text, ', ')
    INTO grantees
    FROM pg_proc p, aclexplode(p.proacl) a
   WHERE p.oid = 'wix_create_product(text, numeric, text, boolean, text, name)'::regprocedure
     AND a.privilege_type = 'EXECUTE' AND a.grantee <> 0 AND a.grantee <> p.proowner;
  IF grantees IS NOT NULL THEN
    RAISE WARNING 'wix_create_product() gains the parameter product_type: EXECUTE on it is no longer granted to %',
                  grantees
      USING HINT = format('GRANT EXECUTE ON FUNCTION wix_create_product(text, numeric, text, boolean, text, text, name) TO %s;',
                          grantees);
  END IF;
END $$;

DROP FUNCTION wix_create_product(text, numeric, text, boolean, text, name);

CREATE FUNCTION wix_create_product(name text, price numeric, sku text DEFAULT NULL,
                                   visible boolean DEFAULT true,
                                   description text DEFAULT NULL,
                                   product_type text DEFAULT NULL,
                                   server name DEFAULT NULL)
RETURNS jsonb AS 'MODULE_PATHNAME', 'wix_action_call'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION wix_set_in_stock(product_id text, in_stock boolean,
                                 variant_id text DEFAULT NULL,
                                 server name DEFAULT NULL)
RETURNS jsonb AS 'MODULE_PATHNAME', 'wix_action_call'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

REVOKE EXECUTE ON FUNCTION
  wix_create_product(text, numeric, text, boolean, text, text, name),
  wix_set_in_stock(text, boolean, text, name)
FROM PUBLIC;

ALTER TABLE wix_admin.queue ADD COLUMN via_table regclass;

CREATE OR REPLACE VIEW wix_admin.actions WITH (security_barrier) AS
  SELECT id, state, action, role::text AS role, server, target_id, args,
         attempts, last_error, http_status, wix_request_id, outcome_unknown,
         enqueued_at, next_attempt_at, started_at, finished_at, result, via_table
    FROM wix_admin.queue
   WHERE pg_catalog.pg_has_role(role, 'MEMBER');

-- PostgreSQL 18 names NOT NULL constraints.  An install updated from 0.1 has
-- mirror_registry's with a "1" appended (the 0.1 table, renamed aside, still
-- held the names when 0.2 created the new one): give them a fresh install's
-- names.  Before 18 there are no such rows, and nothing is done.
DO $$
DECLARE
  c record;
BEGIN
  FOR c IN SELECT conname FROM pg_catalog.pg_constraint
            WHERE conrelid = 'wix_admin.mirror_registry'::regclass AND contype = 'n'
              AND conname ~ '_not_null1$'
  LOOP
    EXECUTE format('ALTER TABLE wix_admin.mirror_registry RENAME CONSTRAINT %I TO %I',
                   c.conname, regexp_replace(c.conname, '1$', ''));
  END LOOP;
END $$;
