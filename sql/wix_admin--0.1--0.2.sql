/* wix_admin--0.1--0.2.sql: ALTER EXTENSION wix_admin UPDATE TO '0.2' */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION wix_admin UPDATE TO '0.2'" to load this file. \quit

-- What 0.2 changes: mirrors.  Rows of an order's lists are refreshed per
-- changed order (mirror_keys.change_column, parent_key); resources Wix sorts
-- but cannot filter are read newest first (mirror_registry.incremental_read);
-- the refresh lock is taken by C functions (mirror_lock, mirror_unlock) that
-- release it when a transaction fails, instead of mirror_lock_key and
-- pg_advisory_lock; the registry names its tables and roles (regclass,
-- regrole instead of oid) and pg_dump dumps its rows, so that a restored
-- mirror is a mirror.  Everything else is as 0.1 made it.  Every object
-- ends as wix_admin--0.2.sql creates it (test/test_upgrade.py compares
-- them); every row is kept.

-- The mirrors view reads the registry, whose columns change: dropped here,
-- created again below once the registry is.
DROP VIEW wix_admin.mirrors;

-- mirror_keys: the change column and parent key of each resource ----------
-- (the column is filled before it gets its default: ADD COLUMN with a
-- default would keep that default as the rows' "missing value", which a
-- fresh install does not have)
ALTER TABLE wix_admin.mirror_keys
  ADD COLUMN change_column name,
  ADD COLUMN parent_key name;
UPDATE wix_admin.mirror_keys
   SET change_column = CASE WHEN resource IN ('order_line_items', 'order_payments',
                                               'order_refunds', 'order_fulfillments')
                            THEN 'order_updated_date' ELSE 'updated_date' END,
       parent_key = CASE WHEN resource IN ('order_line_items', 'order_payments',
                                            'order_refunds', 'order_fulfillments')
                         THEN 'order_id' END;
ALTER TABLE wix_admin.mirror_keys
  ALTER COLUMN change_column SET DEFAULT 'updated_date',
  ALTER COLUMN change_column SET NOT NULL;

-- mirror_registry: incremental_read and parent_key, in their place among
-- the columns (after change_column), and mirror, source and owner by name,
-- so the table is made again and its rows copied.  A 0.1 mirror was incremental only where Wix filters and sorts by
-- updated_date, which 0.2 calls 'batches'; its parent key is its resource's
-- (a 0.1 mirror of an order's list has no change column: it still reads in
-- full, as create_mirror would register it over that foreign table now).
ALTER TABLE wix_admin.mirror_registry RENAME TO mirror_registry_0_1;
ALTER TABLE wix_admin.mirror_registry_0_1
  RENAME CONSTRAINT mirror_registry_pkey TO mirror_registry_0_1_pkey;

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

INSERT INTO wix_admin.mirror_registry
  (mirror, source, owner, resource, key_columns, change_column, incremental_read,
   parent_key, refresh_every, created, watermark, last_started, last_finished,
   last_full_refresh, rows, last_requests, last_changed, last_error,
   progress_pages, progress_rows, progress_total)
SELECT o.mirror, o.source, o.owner, o.resource, o.key_columns, o.change_column,
       CASE WHEN o.change_column IS NOT NULL THEN 'batches' END,
       k.parent_key, o.refresh_every, o.created, o.watermark, o.last_started,
       o.last_finished, o.last_full_refresh, o.rows, o.last_requests, o.last_changed,
       o.last_error, o.progress_pages, o.progress_rows, o.progress_total
  FROM wix_admin.mirror_registry_0_1 o
  LEFT JOIN wix_admin.mirror_keys k ON k.resource = o.resource;
DROP TABLE wix_admin.mirror_registry_0_1;

-- The refresh lock: C functions instead of mirror_lock_key ----------------
DROP FUNCTION wix_admin.mirror_lock_key(oid);

-- A refresh's lock on its mirror, held by the session over the refresh's
-- commits and released by mirror_unlock or when a transaction fails (it
-- shows in pg_locks as advisory lock 0x57584d52 = 1465404754, the
-- mirror's OID).  wait: wait for another session's refresh; else false
-- when there is one.
CREATE FUNCTION wix_admin.mirror_lock(mirror regclass, wait boolean) RETURNS boolean
AS 'MODULE_PATHNAME', 'wix_mirror_lock' LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;
CREATE FUNCTION wix_admin.mirror_unlock() RETURNS void
AS 'MODULE_PATHNAME', 'wix_mirror_unlock' LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;

-- The mirrors view, with incremental_read and parent_key ------------------
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

-- create_mirror: the change column and parent key from mirror_keys, and
-- the way Wix can read changes (incremental_read) from the plan
CREATE OR REPLACE FUNCTION wix_admin.create_mirror(source regclass,
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

-- mirror_read: its arguments and OUT parameters change, so it is dropped
-- and created again
DROP FUNCTION wix_admin.mirror_read(regclass, timestamptz, integer);

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
CREATE OR REPLACE PROCEDURE wix_admin.refresh_one_mirror(mirror regclass, full_read boolean, wait boolean)
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
