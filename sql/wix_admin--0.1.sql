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
