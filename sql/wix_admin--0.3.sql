/* wix_admin--0.3.sql: the foreign data wrapper for Wix sites */

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
                                   product_type text DEFAULT NULL,
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

CREATE FUNCTION wix_set_in_stock(product_id text, in_stock boolean,
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
  wix_create_product(text, numeric, text, boolean, text, text, name),
  wix_update_product(text, jsonb, name),
  wix_delete_product(text, name),
  wix_set_inventory(text, integer, text, name),
  wix_set_in_stock(text, boolean, text, name),
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
  result          jsonb,
  via_table       regclass
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
         enqueued_at, next_attempt_at, started_at, finished_at, result, via_table
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

-- Mirrors ------------------------------------------------------------------
--
-- A mirror is a plain table with a foreign table's columns, a primary key
-- and indexes on its date columns, kept up to date by
-- CALL wix_admin.refresh_mirror().  Where Wix filters and sorts a resource
-- by its updated_date, a refresh reads only what changed since the
-- watermark (less wix_admin.mirror_overlap), a batch of rows per
-- transaction, so a failure keeps what was committed and the next refresh
-- resumes from there; otherwise (child tables, resources without a change
-- date) it reads everything, and writes only the rows that differ.
-- Everything runs as the caller (the background worker calls
-- refresh_one_mirror as the mirror's owner, src/queue/worker.c), with the
-- caller's user mapping; the
-- registry is written only through mirror_registry_write (src/queue/mirror.c),
-- which lets a role change only the rows of mirror tables it owns.

-- The primary key of each resource's rows: the Wix id, or for rows of an
-- order's lists the order's id and the item's.  The rows of an order's
-- lists change with their order: a refresh reads those of the orders
-- changed since its watermark, by order_updated_date, and replaces the
-- mirror's rows of those orders (parent_key).
CREATE TABLE wix_admin.mirror_keys (
  resource      text PRIMARY KEY,
  key_columns   name[] NOT NULL,
  change_column name NOT NULL DEFAULT 'updated_date',
  parent_key    name
);
INSERT INTO wix_admin.mirror_keys VALUES
  ('orders', '{id}'), ('members', '{id}'), ('products', '{id}'),
  ('bookings', '{id}'), ('abandoned_checkouts', '{id}'), ('contacts', '{id}'),
  ('coupons', '{id}'), ('booking_services', '{id}'),
  ('pricing_plan_orders', '{id}'), ('inventory_items', '{id,variant_id}');
INSERT INTO wix_admin.mirror_keys VALUES
  ('order_line_items', '{order_id,line_item_id}', 'order_updated_date', 'order_id'),
  ('order_payments', '{order_id,payment_id}', 'order_updated_date', 'order_id'),
  ('order_refunds', '{order_id,refund_id,payment_id}', 'order_updated_date', 'order_id'),
  ('order_fulfillments', '{order_id,fulfillment_id}', 'order_updated_date', 'order_id');
GRANT SELECT ON wix_admin.mirror_keys TO PUBLIC;

CREATE TABLE wix_admin.mirror_registry (
  mirror            regclass PRIMARY KEY, -- the mirror table
  source            regclass NOT NULL,    -- the foreign table it mirrors
  owner             regrole NOT NULL,     -- the mirror table's owner
  resource          text NOT NULL,
  key_columns       name[] NOT NULL,
  change_column     name,                 -- NULL: read in full each refresh
  incremental_read  text CHECK (incremental_read IN ('batches', 'all_changed', 'newest_first')),
  parent_key        name,                 -- rows replaced per changed parent
  refresh_every     interval,             -- NULL: only when called
  created           timestamptz NOT NULL,
  watermark         timestamptz,          -- newest change_column committed
  last_started      timestamptz,
  last_finished     timestamptz,
  last_full_refresh timestamptz,
  rows              bigint,
  last_requests     bigint,
  last_changed      bigint,
  last_error        text,
  progress_pages    bigint,               -- of the running (else the last)
  progress_rows     bigint,               -- refresh, at its last committed
  progress_total    bigint                -- batch; total: as Wix reported it
);
COMMENT ON TABLE wix_admin.mirror_registry IS
  'Local mirrors of wix_admin foreign tables and the state of their refreshes';
REVOKE ALL ON wix_admin.mirror_registry FROM PUBLIC;
-- pg_dump dumps the registry's rows (tables and roles by name, so that a
-- restore finds the restored tables; rows of tables dropped without
-- drop_mirror are left out): a restored mirror stays a mirror
SELECT pg_catalog.pg_extension_config_dump('wix_admin.mirror_registry',
  'WHERE mirror IN (SELECT oid FROM pg_catalog.pg_class) '
  'AND source IN (SELECT oid FROM pg_catalog.pg_class)');

CREATE FUNCTION wix_admin.mirror_registry_write(mirror regclass, changes jsonb)
RETURNS void AS 'MODULE_PATHNAME', 'wix_mirror_registry_write'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

-- The Wix requests this backend's finished scans have sent.
CREATE FUNCTION wix_admin.requests_made() RETURNS bigint
AS 'MODULE_PATHNAME', 'wix_requests_made' LANGUAGE C VOLATILE PARALLEL RESTRICTED;

-- The total Wix reported for the last finished scan's query (NULL: none).
CREATE FUNCTION wix_admin.last_scan_total() RETURNS bigint
AS 'MODULE_PATHNAME', 'wix_last_scan_total' LANGUAGE C VOLATILE PARALLEL RESTRICTED;

-- wix_admin.mirror_full_refresh_every, as an interval.
CREATE FUNCTION wix_admin.mirror_full_refresh_every() RETURNS interval
AS 'MODULE_PATHNAME', 'wix_mirror_full_refresh_every' LANGUAGE C STABLE PARALLEL SAFE;

-- A refresh's lock on its mirror, held by the session over the refresh's
-- commits and released by mirror_unlock or when a transaction fails (it
-- shows in pg_locks as advisory lock 0x57584d52 = 1465404754, the
-- mirror's OID).  wait: wait for another session's refresh; else false
-- when there is one.
CREATE FUNCTION wix_admin.mirror_lock(mirror regclass, wait boolean) RETURNS boolean
AS 'MODULE_PATHNAME', 'wix_mirror_lock' LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;
CREATE FUNCTION wix_admin.mirror_unlock() RETURNS void
AS 'MODULE_PATHNAME', 'wix_mirror_unlock' LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;

CREATE VIEW wix_admin.mirrors WITH (security_barrier) AS
  SELECT r.mirror::regclass AS mirror, r.source::regclass AS source,
         r.refresh_every,
         CASE WHEN EXISTS (SELECT FROM pg_catalog.pg_locks l
                            WHERE l.locktype = 'advisory' AND l.granted
                              AND l.database = (SELECT oid FROM pg_catalog.pg_database
                                                 WHERE datname = current_database())
                              AND l.classid = 1465404754::oid AND l.objid = r.mirror
                              AND l.objsubid = 2)
              THEN 'running'
              WHEN r.last_error IS NOT NULL THEN 'failed'
              ELSE 'idle' END AS state,
         r.last_started, r.last_finished, r.last_full_refresh, r.rows,
         r.last_requests, r.last_changed, r.watermark,
         now() - r.last_finished AS lag, r.last_error,
         CASE WHEN r.refresh_every IS NOT NULL
              THEN coalesce(r.last_finished + r.refresh_every, r.created) END AS next_refresh,
         r.resource, r.key_columns, r.change_column AS incremental_by,
         r.incremental_read, r.parent_key,
         r.owner::regrole AS owner,
         -- the first due refresh that reads everything
         CASE WHEN r.refresh_every IS NOT NULL
              THEN greatest(coalesce(r.last_finished + r.refresh_every, r.created),
                            CASE WHEN r.change_column IS NOT NULL
                                 THEN coalesce(r.last_full_refresh, r.created)
                                      + wix_admin.mirror_full_refresh_every() END)
              END AS next_full_refresh,
         r.progress_pages, r.progress_rows, r.progress_total
    FROM wix_admin.mirror_registry r
   WHERE pg_catalog.pg_has_role(r.owner, 'USAGE');
COMMENT ON VIEW wix_admin.mirrors IS
  'The mirrors of the roles the current role has the privileges of, and their refreshes';
GRANT SELECT ON wix_admin.mirrors TO PUBLIC;

-- create_mirror: the table, its key and indexes, and its registry row.  The
-- first load is the first refresh.
CREATE FUNCTION wix_admin.create_mirror(source regclass,
                                        refresh_every interval DEFAULT '15 minutes',
                                        target_schema name DEFAULT 'wix_mirror')
RETURNS regclass
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  resource_name text;
  keys name[];
  missing name;
  change_column name;
  candidate name;
  incremental_read text;
  parent_key name;
  plan jsonb;
  scan jsonb;
  target regclass;
  date_column name;
  json_column name;
BEGIN
  SELECT option_value INTO resource_name
    FROM pg_foreign_table ft
    JOIN pg_foreign_server s ON s.oid = ft.ftserver
    JOIN pg_foreign_data_wrapper w ON w.oid = s.srvfdw AND w.fdwname = 'wix_admin'
    CROSS JOIN LATERAL pg_options_to_table(ft.ftoptions)
   WHERE ft.ftrelid = source AND option_name = 'resource';
  IF resource_name IS NULL THEN
    RAISE EXCEPTION '% is not a foreign table of a wix_admin server', source
      USING ERRCODE = 'wrong_object_type',
            HINT = 'Mirror a table made by IMPORT FOREIGN SCHEMA or CREATE FOREIGN TABLE ... SERVER <wix_admin server> OPTIONS (resource ''...'').';
  END IF;
  IF NOT has_table_privilege(source, 'SELECT') THEN
    RAISE EXCEPTION 'permission denied for table %', source
      USING ERRCODE = 'insufficient_privilege',
            DETAIL = 'A mirror is refreshed with its owner''s privileges on the source.';
  END IF;

  SELECT k.key_columns, k.change_column, k.parent_key INTO keys, candidate, parent_key
    FROM wix_admin.mirror_keys k WHERE k.resource = resource_name;
  SELECT k INTO missing FROM unnest(keys) k
   WHERE NOT EXISTS (SELECT FROM pg_attribute a WHERE a.attrelid = source
                        AND a.attname = k AND a.attnum > 0 AND NOT a.attisdropped);
  IF keys IS NULL OR missing IS NOT NULL THEN
    RAISE EXCEPTION 'cannot mirror %: it lacks the key column %', source, coalesce(missing, '?')
      USING ERRCODE = 'invalid_table_definition',
            DETAIL = format('A mirror of resource %s is keyed by (%s).', resource_name,
                            array_to_string(keys, ', ')),
            HINT = 'Add the key columns to the foreign table.';
  END IF;

  -- incremental when Wix filters by the change column (the plan's foreign
  -- scan sends the filter; it may recheck it): in batches when Wix also
  -- sorts by it (nothing sorts above the scan), else all changed rows at
  -- once; or, when Wix sorts by it but cannot filter, newest first down to
  -- the watermark
  IF EXISTS (SELECT FROM pg_attribute WHERE attrelid = source AND attname = candidate
                AND atttypid = 'timestamptz'::regtype AND NOT attisdropped) THEN
    EXECUTE format('EXPLAIN (FORMAT JSON) SELECT * FROM %s WHERE %2$I >= now() '
                   'ORDER BY %2$I LIMIT 1000', source, candidate) INTO plan;
    scan := plan -> 0 -> 'Plan';
    incremental_read := 'batches';
    WHILE scan ->> 'Node Type' IN ('Limit', 'Sort') LOOP
      IF scan ->> 'Node Type' = 'Sort' THEN
        incremental_read := 'all_changed';
      END IF;
      scan := scan -> 'Plans' -> 0;
    END LOOP;
    IF scan ->> 'Node Type' = 'Foreign Scan' AND scan ? 'Wix filter' THEN
      change_column := candidate;
      IF NOT scan ? 'Wix sort' THEN
        incremental_read := 'all_changed';
      END IF;
    ELSE
      EXECUTE format('EXPLAIN (FORMAT JSON) SELECT * FROM %s ORDER BY %2$I DESC LIMIT 100 '
                     'OFFSET 100', source, candidate) INTO plan;
      scan := plan -> 0 -> 'Plan';
      IF scan ->> 'Node Type' = 'Limit' THEN
        scan := scan -> 'Plans' -> 0;
      END IF;
      IF scan ->> 'Node Type' = 'Foreign Scan' AND scan ? 'Wix sort' THEN
        change_column := candidate;
        incremental_read := 'newest_first';
      END IF;
    END IF;
  END IF;

  IF to_regnamespace(quote_ident(target_schema)) IS NULL THEN
    EXECUTE format('CREATE SCHEMA %I', target_schema);
  END IF;
  EXECUTE format('CREATE TABLE %I.%I (LIKE %s)', target_schema,
                 (SELECT relname FROM pg_class WHERE oid = source), source);
  target := format('%I.%I', target_schema, (SELECT relname FROM pg_class WHERE oid = source))::regclass;
  EXECUTE format('ALTER TABLE %s ADD PRIMARY KEY (%s)', target,
                 (SELECT string_agg(quote_ident(k), ', ') FROM unnest(keys) k));
  FOR date_column IN
    SELECT attname FROM pg_attribute
     WHERE attrelid = target AND attnum > 0 AND NOT attisdropped
       AND atttypid IN ('timestamptz'::regtype, 'timestamp'::regtype, 'date'::regtype)
       AND attname <> ALL (keys)
     ORDER BY attnum
  LOOP
    EXECUTE format('CREATE INDEX ON %s (%I)', target, date_column);
  END LOOP;
  -- Wix items are kilobytes of JSON: pglz would take most of a first load's
  -- time compressing them; lz4 is several times faster, where built in
  IF EXISTS (SELECT FROM pg_settings
              WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)) THEN
    FOR json_column IN
      SELECT attname FROM pg_attribute
       WHERE attrelid = target AND attnum > 0 AND NOT attisdropped
         AND atttypid = 'jsonb'::regtype
    LOOP
      EXECUTE format('ALTER TABLE %s ALTER COLUMN %I SET COMPRESSION lz4', target, json_column);
    END LOOP;
  END IF;
  EXECUTE format('COMMENT ON TABLE %s IS %L', target,
                 format('Mirror of %s, kept up to date by CALL wix_admin.refresh_mirror()', source));

  PERFORM wix_admin.mirror_registry_write(target, jsonb_build_object(
    'source', source::oid, 'resource', resource_name, 'key_columns', keys,
    'change_column', change_column,
    'incremental_read', CASE WHEN change_column IS NOT NULL THEN incremental_read END,
    'parent_key', parent_key, 'refresh_every', refresh_every,
    'created', now()));
  RETURN target;
END $$;

CREATE FUNCTION wix_admin.drop_mirror(mirror regclass) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF NOT EXISTS (SELECT FROM wix_admin.mirrors m WHERE m.mirror = drop_mirror.mirror) THEN
    RAISE EXCEPTION '% is not a mirror', mirror
      USING ERRCODE = 'wrong_object_type',
            HINT = 'SELECT mirror FROM wix_admin.mirrors lists the mirrors you own.';
  END IF;
  PERFORM wix_admin.mirror_registry_write(mirror, NULL);
  EXECUTE format('DROP TABLE %s', mirror);
END $$;

-- The column list of a mirror, and the key columns, for dynamic statements:
-- "a, b" or, with a prefix, "t.a, t.b".
CREATE FUNCTION wix_admin.mirror_column_list(mirror regclass, prefix text DEFAULT '')
RETURNS text LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
RETURN (SELECT string_agg(prefix || quote_ident(attname), ', ' ORDER BY attnum)
          FROM pg_attribute WHERE attrelid = mirror AND attnum > 0 AND NOT attisdropped);

-- The statement that writes rows "src" (a CTE of the mirror's columns)
-- into the mirror: new rows inserted, changed rows updated, equal rows left
-- alone; its CTE "written" returns one row per row written.
CREATE FUNCTION wix_admin.mirror_upsert_sql(mirror regclass, key_columns name[])
RETURNS text LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
RETURN format('written AS (INSERT INTO %1$s AS t (%2$s) SELECT %2$s FROM src '
              'ON CONFLICT (%3$s) DO UPDATE SET (%2$s) = ROW(%4$s) '
              'WHERE (%5$s) IS DISTINCT FROM (%4$s) RETURNING 1)',
              mirror, wix_admin.mirror_column_list(mirror),
              (SELECT string_agg(quote_ident(k), ', ') FROM unnest(key_columns) k),
              wix_admin.mirror_column_list(mirror, 'EXCLUDED.'),
              wix_admin.mirror_column_list(mirror, 't.'));

-- One read of a mirror's source, written into the mirror (new rows
-- inserted, changed rows updated, equal rows left alone).
--   full_read: every row; rows Wix no longer returns are deleted.
--   Else, as the mirror's incremental_read says:
--   batches: the first batch_size rows changed at or after "since" (all
--     rows when NULL) in change order, Wix filtering and sorting;
--   all_changed: every row changed at or after "since", Wix filtering;
--   newest_first: batch_size rows after the first "skip", newest change
--     first, Wix sorting (it cannot filter).
-- A mirror whose rows belong to parents (parent_key) takes the rows of
-- whole parents only: a full batch leaves out the parents changed at its
-- newest instant, which the next batch reads whole; each parent's rows are
-- replaced, the rows it no longer has deleted.  newest, oldest: the
-- change column's range among the rows read.
CREATE FUNCTION wix_admin.mirror_read(mirror regclass, full_read boolean, since timestamptz,
                                      batch_size integer, skip bigint,
                                      OUT rows bigint, OUT written bigint,
                                      OUT newest timestamptz, OUT oldest timestamptz)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  r wix_admin.mirrors;
  keys_equal text;
  change text;
  selection text;
BEGIN
  SELECT * INTO STRICT r FROM wix_admin.mirrors m WHERE m.mirror = mirror_read.mirror;
  SELECT string_agg(format('src.%1$I = t.%1$I', k), ' AND ') INTO keys_equal
    FROM unnest(r.key_columns) k;
  change := coalesce(quote_ident(r.incremental_by), 'NULL::timestamptz');
  IF full_read THEN
    -- "written" first: it writes rows as they come from Wix, while the
    -- next page is on its way
    EXECUTE format('WITH src AS MATERIALIZED (SELECT %2$s FROM %1$s), %3$s, '
                   'deleted AS (DELETE FROM %4$s t WHERE NOT EXISTS '
                   '  (SELECT FROM src WHERE %5$s) RETURNING 1) '
                   'SELECT (SELECT count(*) FROM written) + (SELECT count(*) FROM deleted), '
                   '(SELECT count(*) FROM src), (SELECT max(%6$s) FROM src), NULL',
                   r.source, wix_admin.mirror_column_list(mirror),
                   wix_admin.mirror_upsert_sql(mirror, r.key_columns), mirror, keys_equal,
                   change)
      INTO written, rows, newest, oldest;
    RETURN;
  END IF;
  selection := CASE r.incremental_read
    WHEN 'newest_first' THEN format('ORDER BY %s DESC LIMIT %s OFFSET %s', change, batch_size, skip)
    WHEN 'batches' THEN concat(CASE WHEN since IS NOT NULL THEN format('WHERE %s >= $1 ', change) END,
                               format('ORDER BY %s LIMIT %s', change, batch_size))
    ELSE CASE WHEN since IS NOT NULL THEN format('WHERE %s >= $1', change) END END;
  -- rows of whole parents: once all are read (a batch that is full leaves
  -- out the parents of its newest instant); else "written" first, as above
  EXECUTE format('WITH read AS MATERIALIZED (SELECT %2$s FROM %1$s %3$s), '
                 'edge AS (SELECT max(%4$s) AS newest, min(%4$s) AS oldest, count(*) AS n FROM read), '
                 'src AS %5$s, %6$s, '
                 'deleted AS (%7$s) '
                 'SELECT (SELECT count(*) FROM written) + (SELECT count(*) FROM deleted), '
                 '(SELECT n FROM edge), (SELECT newest FROM edge), (SELECT oldest FROM edge)',
                 r.source, wix_admin.mirror_column_list(mirror), selection, change,
                 CASE WHEN r.incremental_read = 'batches' AND r.parent_key IS NOT NULL
                      THEN format('MATERIALIZED (SELECT * FROM read WHERE (SELECT n FROM edge) < %s '
                                  'OR %s < (SELECT newest FROM edge))', batch_size, change)
                      -- no second copy of the rows
                      ELSE 'NOT MATERIALIZED (SELECT * FROM read)' END,
                 wix_admin.mirror_upsert_sql(mirror, r.key_columns),
                 CASE WHEN r.parent_key IS NOT NULL
                      THEN format('DELETE FROM %s t WHERE t.%2$I IN (SELECT %2$I FROM src) '
                                  'AND NOT EXISTS (SELECT FROM src WHERE %3$s) RETURNING 1',
                                  mirror, r.parent_key, keys_equal)
                      ELSE 'SELECT WHERE false' END)
    INTO written, rows, newest, oldest USING since;
END $$;

-- One mirror's refresh; wait: when another session is refreshing it, wait
-- for it (else skip).  Each read commits with the watermark it reached, so
-- a failure keeps what was committed; newest_first reads move the
-- watermark only when they reach the old one.  A failure is recorded in
-- the registry and, when wait, raised again.  The procedures have no SET
-- search_path: a SET clause would forbid their COMMITs.
CREATE PROCEDURE wix_admin.refresh_one_mirror(mirror regclass, full_read boolean, wait boolean)
LANGUAGE plpgsql AS $$
DECLARE
  batch_size integer;
  requests_before bigint := wix_admin.requests_made();
  overlap interval := current_setting('wix_admin.mirror_overlap')::interval;
  r wix_admin.mirrors;
  since timestamptz;
  batch record;
  newest timestamptz;
  done boolean;
  rows_read bigint := 0;
  rows_written bigint := 0;
  total bigint;
  started timestamptz := clock_timestamp();
  last_notice timestamptz := clock_timestamp();
  rate numeric;
  error_text text;
  error_state text;
  state text;
BEGIN
  IF NOT wix_admin.mirror_lock(mirror, false) THEN
    IF NOT wait THEN
      RAISE NOTICE 'mirror % is being refreshed by another session: skipped', mirror;
      RETURN;
    END IF;
    RAISE NOTICE 'mirror % is being refreshed by another session: waiting for it', mirror;
    PERFORM wix_admin.mirror_lock(mirror, true);
  END IF;
  SELECT * INTO STRICT r FROM wix_admin.mirrors m WHERE m.mirror = refresh_one_mirror.mirror;
  -- a first read is a full one, unless it can go in batches
  full_read := full_read OR r.incremental_by IS NULL
               OR (r.watermark IS NULL AND r.incremental_read <> 'batches');
  batch_size := CASE WHEN full_read THEN NULL
                     WHEN r.incremental_read = 'batches' THEN 1000
                     -- a page at a time: the page that reaches the
                     -- watermark is the last
                     WHEN r.incremental_read = 'newest_first' THEN 100 END;
  PERFORM wix_admin.mirror_registry_write(mirror, jsonb_build_object(
    'last_started', started, 'progress_pages', 0, 'progress_rows', 0, 'progress_total', NULL));
  COMMIT;

  since := r.watermark - overlap;
  LOOP
    IF batch_size IS NULL AND current_setting('wix_admin.progress_every') = '0' THEN
      -- one statement reads everything: the scan reports its progress
      PERFORM set_config('wix_admin.progress_every', '10s', true);
    END IF;
    BEGIN
      batch := wix_admin.mirror_read(mirror, full_read, since, batch_size, rows_read);
    EXCEPTION WHEN OTHERS OR query_canceled THEN
      GET STACKED DIAGNOSTICS error_text = MESSAGE_TEXT, error_state = RETURNED_SQLSTATE;
    END;
    EXIT WHEN error_text IS NOT NULL;
    -- Wix's total counts the rows from "since" on (or, newest first, all)
    total := CASE WHEN full_read OR r.incremental_read <> 'newest_first'
                  THEN rows_read + wix_admin.last_scan_total() END;
    rows_read := rows_read + batch.rows;
    rows_written := rows_written + batch.written;
    newest := greatest(newest, batch.newest);
    done := batch_size IS NULL OR batch.rows < batch_size
            OR (r.incremental_read = 'newest_first' AND batch.oldest < since);
    IF full_read THEN
      PERFORM wix_admin.mirror_registry_write(mirror, jsonb_build_object(
        'watermark', newest, 'last_full_refresh', clock_timestamp()));
    ELSIF r.incremental_read <> 'newest_first' OR done THEN
      PERFORM wix_admin.mirror_registry_write(mirror, jsonb_build_object(
        'watermark', coalesce(newest, r.watermark)));
    END IF;
    PERFORM wix_admin.mirror_registry_write(mirror, jsonb_build_object(
      'progress_pages', wix_admin.requests_made() - requests_before,
      'progress_rows', rows_read, 'progress_total', total));
    COMMIT;
    EXIT WHEN done;
    IF r.incremental_read = 'newest_first' THEN
      NULL;                     -- the next page
    ELSIF batch.newest = since THEN
      -- a whole batch changed at the same instant: read more at once
      batch_size := batch_size * 2;
    ELSE
      -- many changes (a first load): bigger batches, fewer statements
      -- whose first page waits for Wix with nothing to write meanwhile
      batch_size := least(batch_size * 2, 10000);
      since := batch.newest;
    END IF;
    IF clock_timestamp() - last_notice >= interval '10 seconds' THEN
      rate := rows_read / greatest(extract(epoch FROM clock_timestamp() - started), 0.001);
      RAISE NOTICE '%', format('mirror %s: %s rows read so far (%s a second)%s',
        mirror, rows_read, round(rate),
        CASE WHEN total > rows_read AND rate > 0
             THEN format(', about %s s left of %s', round((total - rows_read) / rate), total)
             ELSE '' END);
      last_notice := clock_timestamp();
    END IF;
  END LOOP;

  state := CASE WHEN error_text IS NULL THEN 'idle' ELSE 'failed' END;
  EXECUTE format('SELECT count(*) FROM %s', mirror) INTO batch;
  PERFORM wix_admin.mirror_registry_write(mirror, jsonb_build_object(
    'last_finished', clock_timestamp(), 'last_error', error_text,
    'rows', batch.count, 'last_changed', rows_written,
    'last_requests', wix_admin.requests_made() - requests_before));
  PERFORM pg_notify('wix_admin_mirror',
                    jsonb_build_object('mirror', mirror::text, 'state', state)::text);
  COMMIT;
  PERFORM wix_admin.mirror_unlock();
  IF error_text IS NOT NULL THEN
    IF wait THEN
      RAISE EXCEPTION 'refresh of mirror % failed: %', mirror, error_text
        USING ERRCODE = error_state,
              DETAIL = 'The mirror keeps the rows of its last committed batch; the next refresh resumes from there.';
    END IF;
    RAISE WARNING 'refresh of mirror % failed: %', mirror, error_text;
  END IF;
END $$;

-- refresh_mirror: one mirror now (waiting for a refresh already running),
-- or with NULL every due mirror of the roles the caller has the privileges
-- of (skipping those being refreshed), in full where its next_full_refresh
-- has come, as the background worker does.  full: read everything and
-- delete rows Wix no longer returns.
CREATE PROCEDURE wix_admin.refresh_mirror(mirror regclass DEFAULT NULL,
                                          full boolean DEFAULT false)
LANGUAGE plpgsql AS $$
DECLARE
  due regclass;
  full_due boolean;
BEGIN
  IF mirror IS NOT NULL THEN
    IF NOT EXISTS (SELECT FROM wix_admin.mirrors m WHERE m.mirror = refresh_mirror.mirror) THEN
      RAISE EXCEPTION '% is not a mirror', mirror
        USING ERRCODE = 'wrong_object_type',
              HINT = 'SELECT mirror FROM wix_admin.mirrors lists the mirrors you own.';
    END IF;
    CALL wix_admin.refresh_one_mirror(mirror, $2, true);
    RETURN;
  END IF;
  FOR due, full_due IN SELECT m.mirror, m.next_full_refresh <= now() FROM wix_admin.mirrors m
                        WHERE m.next_refresh <= now() ORDER BY m.next_refresh
  LOOP
    CALL wix_admin.refresh_one_mirror(due, $2 OR full_due, false);
  END LOOP;
END $$;
