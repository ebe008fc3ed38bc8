/**
 * Equality indexes FerretDB 1.24 can read, for the local PostgreSQL (docs/adr/
 * 2026-12-07-replica-name-lookups.md).
 *
 * FerretDB 1.24 pushes a filter's equality on a field down to PostgreSQL as
 * `_jsonb->$1 @> $2` (containment, the field name a parameter), and creates every MongoDB index,
 * `_id` included, as a btree on `(_jsonb -> 'field')`. A btree cannot answer `@>`, so every
 * query is a sequential scan: at 10^6 records a `findOne({_id})` or `findOne({name})` reads
 * every row. A GIN index on the same expression does answer `@>` (PostgreSQL substitutes the
 * field parameter in the custom plans it makes for prepared statements), so this module installs,
 * per database:
 * - an event trigger that gives each single-field btree index FerretDB creates on a collection's
 *   table a GIN twin on the same expression (the twin's name: `tm_eq_` and a hash of table and
 *   field; FerretDB never sees it, and it goes with the table when a collection is dropped);
 * - twins for the indexes that already exist (a database kept from an earlier run);
 * - `plan_cache_mode = force_custom_plan`, so no cached generic plan (which cannot match the
 *   expression) ever replaces the index scan.
 * Installing is idempotent. Compound indexes, and FerretDB's own `_ferretdb_*` tables, are left
 * alone. This is for the local and test stack; docs/deploy.md gives the same SQL to operators
 * who run FerretDB 1.x on their own PostgreSQL.
 */

/** The SQL that installs the twins in the current database (run as a superuser: event triggers need one). */
export function equalityIndexSql(database: string): string {
  return `
CREATE OR REPLACE FUNCTION threatmesh_twin_index(idx regclass) RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
  def text := pg_get_indexdef(idx);
  m text[];
BEGIN
  m := regexp_match(def, '^CREATE (?:UNIQUE )?INDEX \\S+ ON (\\S+) USING btree \\(\\(\\(_jsonb -> ''([^'']+)''::text\\)\\)\\)$');
  IF m IS NULL OR split_part(m[1], '.', 2) LIKE '\\_ferretdb\\_%' THEN RETURN; END IF;
  EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %s USING gin ((_jsonb -> %L))', 'tm_eq_' || left(md5(m[1] || '/' || m[2]), 24), m[1], m[2]);
END
$fn$;
CREATE OR REPLACE FUNCTION threatmesh_twin_indexes() RETURNS event_trigger LANGUAGE plpgsql AS $fn$
DECLARE
  c record;
BEGIN
  FOR c IN SELECT objid FROM pg_event_trigger_ddl_commands() WHERE command_tag = 'CREATE INDEX' AND object_type = 'index' LOOP
    PERFORM threatmesh_twin_index(c.objid::regclass);
  END LOOP;
END
$fn$;
DROP EVENT TRIGGER IF EXISTS threatmesh_twin_indexes;
CREATE EVENT TRIGGER threatmesh_twin_indexes ON ddl_command_end WHEN TAG IN ('CREATE INDEX') EXECUTE FUNCTION threatmesh_twin_indexes();
SELECT threatmesh_twin_index(indexrelid::regclass) FROM pg_index JOIN pg_class ON pg_class.oid = indexrelid JOIN pg_am ON pg_am.oid = relam WHERE amname = 'btree' AND relnamespace NOT IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace, 'pg_toast'::regnamespace);
ALTER DATABASE ${quoteIdent(database)} SET plan_cache_mode = force_custom_plan;
`;
}

function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
