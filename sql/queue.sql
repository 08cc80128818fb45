-- Deferred admin actions: the queue's objects and privileges, and what a
-- deferred call does before commit.  The server points at a closed port and
-- every transaction that queues rolls back: nothing is ever delivered.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS wix_admin;
RESET client_min_messages;
CREATE SERVER qadm FOREIGN DATA WRAPPER wix_admin
  OPTIONS (site_id '5e2f6a3b-1c4d-4e5f-8a9b-0c1d2e3f4a5b',
           base_url 'http://127.0.0.1:9');
CREATE USER MAPPING FOR CURRENT_USER SERVER qadm OPTIONS (api_key 'not-used');

-- the queue's objects: nothing for PUBLIC
SELECT c.relname, c.relkind,
       EXISTS (SELECT FROM aclexplode(c.relacl) a WHERE a.grantee = 0) AS public_access
  FROM pg_class c WHERE c.relnamespace = 'wix_admin'::regnamespace
   AND c.relname ~ '^(queue|actions)'
 ORDER BY c.relname;
SELECT p.oid::regprocedure, p.prokind,
       EXISTS (SELECT FROM aclexplode(p.proacl) a WHERE a.grantee = 0) AS public_execute
  FROM pg_proc p
 WHERE p.proname IN ('wix_enqueue', 'process_queue', 'retry_action', 'cancel_action',
                     'queue_committing')
 ORDER BY p.proname;

SHOW wix_admin.defer_actions;

-- a deferred call returns the queued action; the row vanishes on rollback
BEGIN;
SET LOCAL wix_admin.defer_actions = on;
SELECT wix_archive_order('3f1c6a2e-9d1b-4c53-a0e2-7b5f0c2d9a11', server => 'qadm')
       - 'id' AS queued;
SELECT wix_enqueue('wix_refund', '{"order_id": "abc", "amount": 5.5}', 'qadm')
       - 'id' AS queued;
SELECT action, state, attempts, commit_seq IS NULL AS not_committed_yet
  FROM wix_admin.queue ORDER BY id;
ROLLBACK;
SELECT count(*) FROM wix_admin.queue;

-- bad input is still an error, and nothing is queued
SET wix_admin.defer_actions = on;
SELECT wix_archive_order('a/b', server => 'qadm');
SELECT wix_refund('abc', amount => 0, server => 'qadm');
SELECT wix_enqueue('wix_archive_order', '[1]', 'qadm');
SELECT wix_enqueue('wix_archive_order', '{"order_id": 7}', 'qadm');
SELECT wix_enqueue('wix_unknown', '{}');
RESET wix_admin.defer_actions;
SELECT count(*) FROM wix_admin.queue;

-- process_queue commits: not inside a transaction block
BEGIN;
CALL wix_admin.process_queue();
ROLLBACK;
SELECT wix_admin.retry_action(12345);
SELECT wix_admin.cancel_action(12345);

DROP USER MAPPING FOR CURRENT_USER SERVER qadm;
DROP SERVER qadm;
