/* wix_admin--0.1.sql: the foreign data wrapper for Wix sites */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION wix_admin" to load this file. \quit

CREATE FUNCTION wix_admin_fdw_handler()
RETURNS fdw_handler
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT;

CREATE FUNCTION wix_admin_fdw_validator(text[], oid)
RETURNS void
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT;

CREATE FOREIGN DATA WRAPPER wix_admin
  HANDLER wix_admin_fdw_handler
  VALIDATOR wix_admin_fdw_validator;

COMMENT ON FOREIGN DATA WRAPPER wix_admin IS
  'Wix orders, members, products and bookings as foreign tables';

-- Admin actions ------------------------------------------------------------
--
-- Each function calls Wix at once with the calling role's own user mapping
-- (never SECURITY DEFINER) and returns the resulting Wix entity as jsonb.
-- Every call writes one LOG line; a successful one also inserts a row into
-- wix_admin.action_log in the caller's transaction, as the table's owner, so
-- callers need no privilege on the log and cannot write it directly.
-- EXECUTE is revoked from PUBLIC: GRANT it to the roles that may act.

CREATE SCHEMA wix_admin;
COMMENT ON SCHEMA wix_admin IS 'wix_admin''s audit log of admin actions';

CREATE TABLE wix_admin.action_log (
  id             bigserial PRIMARY KEY,
  at             timestamptz NOT NULL DEFAULT clock_timestamp(),
  role           name NOT NULL,
  server         name NOT NULL,
  action         text NOT NULL,
  target_id      text,
  http_status    integer,
  wix_request_id text,
  outcome        text NOT NULL,
  error          text
);
COMMENT ON TABLE wix_admin.action_log IS
  'Successful wix_admin admin actions of committed transactions (failures are in the server log)';
REVOKE ALL ON TABLE wix_admin.action_log FROM PUBLIC;
REVOKE ALL ON SEQUENCE wix_admin.action_log_id_seq FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('wix_admin.action_log', '');
SELECT pg_catalog.pg_extension_config_dump('wix_admin.action_log_id_seq', '');

-- Admin actions.  Each is a row of the action table (src/actions/registry.c)
-- and runs through the one C function wix_action_call, which finds its row
-- by the function's name; the regression test "actions" checks that names,
-- parameters and defaults here agree with the table.

-- Orders
CREATE FUNCTION wix_refund(order_id text, amount numeric DEFAULT NULL,
                           reason text DEFAULT NULL,
                           restock boolean DEFAULT true,
                           notify_customer boolean DEFAULT false,
                           server name DEFAULT NULL)
RETURNS jsonb AS 'MODULE_PATHNAME', 'wix_action_call'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION wix_cancel_order(order_id text, restock boolean DEFAULT true,
                                 notify_customer boolean DEFAULT false,
                                 server name DEFAULT NULL)
RETURNS jsonb AS 'MODULE_PATHNAME', 'wix_action_call'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION wix_fulfill_order(order_id text,
                                  tracking_number text DEFAULT NULL,
                                  shipping_provider text DEFAULT NULL,
                                  tracking_link text DEFAULT NULL,
                                  server name DEFAULT NULL)
RETURNS jsonb AS 'MODULE_PATHNAME', 'wix_action_call'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION wix_archive_order(order_id text, archived boolean DEFAULT true,
                                  server name DEFAULT NULL)
RETURNS jsonb AS 'MODULE_PATHNAME', 'wix_action_call'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION wix_mark_order_paid(order_id text, server name DEFAULT NULL)
RETURNS jsonb AS 'MODULE_PATHNAME', 'wix_action_call'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

-- Members
CREATE FUNCTION wix_create_member(login_email text, first_name text DEFAULT NULL,
                                  last_name text DEFAULT NULL,
                                  nickname text DEFAULT NULL,
                                  server name DEFAULT NULL)
RETURNS jsonb AS 'MODULE_PATHNAME', 'wix_action_call'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION wix_approve_member(member_id text, server name DEFAULT NULL)
RETURNS jsonb AS 'MODULE_PATHNAME', 'wix_action_call'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION wix_block_member(member_id text, server name DEFAULT NULL)
RETURNS jsonb AS 'MODULE_PATHNAME', 'wix_action_call'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION wix_delete_member(member_id text, server name DEFAULT NULL)
RETURNS jsonb AS 'MODULE_PATHNAME', 'wix_action_call'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

-- Products and inventory (Stores Catalog V1 and V3)
CREATE FUNCTION wix_create_product(name text, price numeric, sku text DEFAULT NULL,
                                   visible boolean DEFAULT true,
                                   description text DEFAULT NULL,
                                   server name DEFAULT NULL)
RETURNS jsonb AS 'MODULE_PATHNAME', 'wix_action_call'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION wix_update_product(product_id text, changes jsonb,
                                   server name DEFAULT NULL)
RETURNS jsonb AS 'MODULE_PATHNAME', 'wix_action_call'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION wix_delete_product(product_id text, server name DEFAULT NULL)
RETURNS jsonb AS 'MODULE_PATHNAME', 'wix_action_call'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION wix_set_inventory(product_id text, quantity integer,
                                  variant_id text DEFAULT NULL,
                                  server name DEFAULT NULL)
RETURNS jsonb AS 'MODULE_PATHNAME', 'wix_action_call'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION wix_adjust_inventory(product_id text, delta integer,
                                     variant_id text DEFAULT NULL,
                                     server name DEFAULT NULL)
RETURNS jsonb AS 'MODULE_PATHNAME', 'wix_action_call'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

-- Bookings
CREATE FUNCTION wix_confirm_booking(booking_id text, notify boolean DEFAULT false,
                                    server name DEFAULT NULL)
RETURNS jsonb AS 'MODULE_PATHNAME', 'wix_action_call'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION wix_decline_booking(booking_id text, notify boolean DEFAULT false,
                                    server name DEFAULT NULL)
RETURNS jsonb AS 'MODULE_PATHNAME', 'wix_action_call'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION wix_cancel_booking(booking_id text, notify boolean DEFAULT false,
                                   server name DEFAULT NULL)
RETURNS jsonb AS 'MODULE_PATHNAME', 'wix_action_call'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION wix_reschedule_booking(booking_id text, start_date timestamptz,
                                       end_date timestamptz DEFAULT NULL,
                                       server name DEFAULT NULL)
RETURNS jsonb AS 'MODULE_PATHNAME', 'wix_action_call'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

-- Any other call, relative to the server's base_url
CREATE FUNCTION wix_api(method text, path text, body jsonb DEFAULT NULL,
                        server name DEFAULT NULL)
RETURNS jsonb AS 'MODULE_PATHNAME', 'wix_action_call'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

REVOKE EXECUTE ON FUNCTION
  wix_refund(text, numeric, text, boolean, boolean, name),
  wix_cancel_order(text, boolean, boolean, name),
  wix_fulfill_order(text, text, text, text, name),
  wix_archive_order(text, boolean, name),
  wix_mark_order_paid(text, name),
  wix_create_member(text, text, text, text, name),
  wix_approve_member(text, name),
  wix_block_member(text, name),
  wix_delete_member(text, name),
  wix_create_product(text, numeric, text, boolean, text, name),
  wix_update_product(text, jsonb, name),
  wix_delete_product(text, name),
  wix_set_inventory(text, integer, text, name),
  wix_adjust_inventory(text, integer, text, name),
  wix_confirm_booking(text, boolean, name),
  wix_decline_booking(text, boolean, name),
  wix_cancel_booking(text, boolean, name),
  wix_reschedule_booking(text, timestamptz, timestamptz, name),
  wix_api(text, text, jsonb, name)
FROM PUBLIC;

-- Test connection ----------------------------------------------------------
--
-- One authenticated request to Wix with the caller's user mapping; returns
-- {"ok", "server", "base_url", "site_id", "auth", "catalog"}, or on failure
-- "ok": false with "error", "sqlstate", "detail" and "hint" instead of
-- raising.  It only reads, so EXECUTE stays with PUBLIC: a caller needs
-- USAGE on the server (checked by the function), and on the schema
-- wix_admin, which is not granted to PUBLIC.

CREATE FUNCTION wix_admin.check_connection(server name DEFAULT NULL)
RETURNS jsonb AS 'MODULE_PATHNAME', 'wix_check_connection'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION wix_admin.check_connection(name) IS
  'One authenticated Wix request with the caller''s user mapping: auth mode, site, Stores catalog, or the error';

-- Deferred admin actions ---------------------------------------------------
--
-- With wix_admin.defer_actions on (or through wix_enqueue), an admin
-- function checks its arguments, server, USAGE and user mapping as an
-- immediate call does, then inserts the action into wix_admin.queue in the
-- caller's transaction instead of calling Wix.  A deferred constraint trigger
-- numbers the action as its transaction commits; wix_admin's background
-- worker (or CALL wix_admin.process_queue()) then delivers committed actions
-- in that order, each with the enqueuing role's user mapping, through the
-- same code as an immediate call.  Actions of rolled-back transactions never
-- exist.  Nothing here is granted to PUBLIC.

CREATE SEQUENCE wix_admin.queue_commit_seq;

CREATE TABLE wix_admin.queue (
  id              bigserial PRIMARY KEY,
  enqueued_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
  role            regrole NOT NULL,
  server          name NOT NULL,
  action          text NOT NULL,
  args            jsonb NOT NULL,
  target_id       text,
  commit_seq      bigint,
  state           text NOT NULL DEFAULT 'queued'
                  CHECK (state IN ('queued', 'in_flight', 'done', 'failed', 'cancelled')),
  attempts        integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  started_at      timestamptz,
  finished_at     timestamptz,
  outcome_unknown boolean NOT NULL DEFAULT false,
  memo            text,
  http_status     integer,
  wix_request_id  text,
  last_error      text,
  result          jsonb
);
COMMENT ON TABLE wix_admin.queue IS
  'Admin actions deferred until commit: queued, in flight, done, failed or cancelled';
CREATE INDEX queue_pending ON wix_admin.queue (commit_seq)
  WHERE state IN ('queued', 'in_flight');
REVOKE ALL ON TABLE wix_admin.queue FROM PUBLIC;
REVOKE ALL ON SEQUENCE wix_admin.queue_id_seq FROM PUBLIC;
REVOKE ALL ON SEQUENCE wix_admin.queue_commit_seq FROM PUBLIC;

-- Number each action as its transaction commits (deferred triggers fire at
-- COMMIT): delivery follows commit order, not insertion order.
CREATE FUNCTION wix_admin.queue_committing() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  UPDATE wix_admin.queue
     SET commit_seq = nextval('wix_admin.queue_commit_seq')
   WHERE id = NEW.id AND commit_seq IS NULL;
  RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION wix_admin.queue_committing() FROM PUBLIC;

CREATE CONSTRAINT TRIGGER queue_commit_order
  AFTER INSERT ON wix_admin.queue
  DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW EXECUTE FUNCTION wix_admin.queue_committing();

-- What a role may see: the actions of the roles it is a member of.
CREATE VIEW wix_admin.actions WITH (security_barrier) AS
  SELECT id, state, action, role::text AS role, server, target_id, args,
         attempts, last_error, http_status, wix_request_id, outcome_unknown,
         enqueued_at, next_attempt_at, started_at, finished_at, result
    FROM wix_admin.queue
   WHERE pg_catalog.pg_has_role(role, 'MEMBER');
COMMENT ON VIEW wix_admin.actions IS
  'Deferred admin actions of the roles the current role is a member of';
REVOKE ALL ON wix_admin.actions FROM PUBLIC;

CREATE FUNCTION wix_enqueue(action text, args jsonb, server name DEFAULT NULL)
RETURNS jsonb AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE PROCEDURE wix_admin.process_queue(max integer DEFAULT NULL)
AS 'MODULE_PATHNAME', 'wix_process_queue' LANGUAGE C;

CREATE FUNCTION wix_admin.retry_action(id bigint) RETURNS jsonb
AS 'MODULE_PATHNAME', 'wix_retry_action' LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION wix_admin.cancel_action(id bigint) RETURNS jsonb
AS 'MODULE_PATHNAME', 'wix_cancel_action' LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;

REVOKE EXECUTE ON FUNCTION
  wix_enqueue(text, jsonb, name),
  wix_admin.retry_action(bigint),
  wix_admin.cancel_action(bigint)
FROM PUBLIC;
REVOKE EXECUTE ON PROCEDURE wix_admin.process_queue(integer) FROM PUBLIC;

-- The action table as SQL signatures (documentation, and the regression
-- test that keeps this script and the table in agreement)
CREATE FUNCTION wix_admin.action_signatures(OUT action text, OUT arguments text)
RETURNS SETOF record AS 'MODULE_PATHNAME', 'wix_action_signatures'
LANGUAGE C STRICT STABLE;
