-- The action table (src/actions/registry.c) and the extension script agree:
-- every action has a function of that name whose C function is
-- wix_action_call, with the table's parameters and defaults, and nothing is
-- executable by PUBLIC.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS wix_admin;
RESET client_min_messages;

SELECT count(*) AS actions FROM wix_admin.action_signatures();

-- in the table but not in the script, or with other arguments
SELECT a.action, a.arguments AS in_table, pg_get_function_arguments(p.oid) AS in_script
  FROM wix_admin.action_signatures() a
  LEFT JOIN pg_proc p ON p.proname = a.action AND p.prosrc = 'wix_action_call'
 WHERE pg_get_function_arguments(p.oid) IS DISTINCT FROM a.arguments;

-- in the script but not in the table
SELECT p.proname
  FROM pg_proc p
 WHERE p.prosrc = 'wix_action_call'
   AND p.proname NOT IN (SELECT action FROM wix_admin.action_signatures());

-- returns jsonb, volatile, parallel unsafe, not SECURITY DEFINER
SELECT p.proname, p.prorettype::regtype, p.provolatile, p.proparallel, p.prosecdef
  FROM pg_proc p
 WHERE p.prosrc = 'wix_action_call'
   AND (p.prorettype <> 'jsonb'::regtype OR p.provolatile <> 'v'
        OR p.proparallel <> 'u' OR p.prosecdef);

-- executable by PUBLIC: none (an explicit GRANT is needed)
SELECT p.proname
  FROM pg_proc p, aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) acl
 WHERE p.prosrc = 'wix_action_call' AND acl.grantee = 0
   AND acl.privilege_type = 'EXECUTE';

-- a function pointing at wix_action_call under another name is refused
CREATE FUNCTION wix_not_an_action(text, name DEFAULT NULL) RETURNS jsonb
AS '$libdir/wix_admin', 'wix_action_call' LANGUAGE C;
SELECT wix_not_an_action('x');
DROP FUNCTION wix_not_an_action(text, name);

SELECT * FROM wix_admin.action_signatures() ORDER BY action;
