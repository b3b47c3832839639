# Hostile inputs against every function of schema queue and every
# configuration column.
#
# Function matrix: the functions are read from pg_proc (trigger functions
# left out), so a new function or a new argument is covered without editing
# this file. Each call passes one hostile value (per type: NULL, garbage,
# extremes, huge and compressible values read back from a table so that they
# arrive TOASTed, odd Unicode, injection-shaped text, odd arrays, every enum
# label) with valid values for the other arguments, as the role that would
# normally call it, inside a subtransaction that is then rolled back. Every
# call must end either accepted or refused with a specific SQLSTATE that is
# not an internal or system error; the queue's tables and its shared-memory
# counters (stats(), positions, estimates) must read the same after the
# rollback; an accepted call must leave the counters equal to a count of the
# table; no jsonb over settings.max_payload_bytes may be accepted; and the
# server must accept a new connection after each function's block.
#
# Configuration matrix: every column of the tables queue_admin may UPDATE is
# set to extreme values as queue_admin. A refused value must be refused with
# a SQLSTATE of class 22 or 23 and change nothing; after an accepted one,
# every public function must still work (a smoke pass of the whole job life
# cycle whose results are checked for sanity), in the transaction that holds
# the change (the configuration cache follows the transaction's own changes).
#
# Last, is_peak_hour() and effective_limit() are compared with PostgreSQL's
# own time-zone conversion across a year of DST changes in five zones.
#
# A TAP test rather than pgTAP: it must log in as the four roles, see the
# server survive (or crash and restart) between blocks, and read the
# server log, which one pgTAP session cannot.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('hostile');
$node->init(extra => [ '--encoding=UTF8', '--locale=C' ]);
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'queue'
queue.enabled = off
restart_after_crash = on
});
$node->start;

# Extension, login roles for the four queue roles, and the hostile values.
$node->safe_psql('postgres', <<'SQL');
CREATE EXTENSION queue;
CREATE ROLE hostile_app LOGIN IN ROLE queue_app;
CREATE ROLE hostile_worker LOGIN IN ROLE queue_worker;
-- The smoke pass's render worker: a role holding no other worker id, so that
-- it can register one under any accepted max_workers_per_role.
CREATE ROLE hostile_smoke LOGIN IN ROLE queue_worker;
CREATE ROLE hostile_dashboard LOGIN IN ROLE queue_dashboard;
CREATE ROLE hostile_admin LOGIN IN ROLE queue_admin;
CREATE SCHEMA hostile;
GRANT USAGE ON SCHEMA hostile TO PUBLIC;

-- Values read from a table arrive as PostgreSQL stored them: TOASTed
-- (out of line), compressed, or both; a size check on the datum as passed
-- sees the compressed or pointer size, not the document's.
CREATE TABLE hostile.stored (label text PRIMARY KEY, t text, j jsonb, ta text[], ja jsonb[]);
INSERT INTO hostile.stored (label, t) VALUES
    ('1 MB compressible', repeat('x', 1048576)),
    ('1 MB incompressible', (SELECT string_agg(md5(g::text), '') FROM generate_series(1, 32768) g));
INSERT INTO hostile.stored (label, j) VALUES
    ('5 MB compressible', jsonb_build_object('blob', repeat('a', 5000000))),
    ('150 kB compressed inline', jsonb_build_object('blob', repeat('a', 150000))),
    ('nested 10000 deep', (repeat('[', 10000) || repeat(']', 10000))::jsonb),
    ('100000 keys', (SELECT jsonb_object_agg('k' || g, g) FROM generate_series(1, 100000) g));
INSERT INTO hostile.stored (label, ta) VALUES
    ('100000 elements', array_fill('manim'::text, ARRAY[100000])),
    ('1 MB element', ARRAY[repeat('m', 1048576)]);
INSERT INTO hostile.stored (label, ja) VALUES
    ('5 MB element', ARRAY[(SELECT j FROM hostile.stored WHERE label = '5 MB compressible')]),
    ('10001 payloads', array_fill('{}'::jsonb, ARRAY[10001]));
GRANT SELECT ON hostile.stored TO PUBLIC;

-- Hostile values per type, as SQL expressions. raw_bytes: the size of the
-- largest jsonb document in the value. wrong_type: a value of another type,
-- for calls only (a column assignment casts differently).
CREATE TABLE hostile.inputs (
    type_name text NOT NULL, label text NOT NULL, expr text NOT NULL,
    raw_bytes bigint NOT NULL DEFAULT 0, wrong_type boolean NOT NULL DEFAULT false);
INSERT INTO hostile.inputs (type_name, label, expr) VALUES
    ('text', 'empty', $v$''$v$),
    ('text', 'blank', $v$' '$v$),
    ('text', 'a job type', $v$'doubt'$v$),
    ('text', 'a resource', $v$'manim'$v$),
    ('text', 'upper case', $v$'DOUBT'$v$),
    ('text', 'trailing space', $v$'doubt '$v$),
    ('text', 'sql injection', $v$'''); DROP TABLE queue.jobs; --'$v$),
    ('text', 'identifier injection', $v$'x" OR 1=1; --'$v$),
    ('text', 'format directives', $v$'%s%s%n%x%d%%'$v$),
    ('text', 'backslashes and quotes', $v$E'\\ \' " \\x00'$v$),
    ('text', 'line breaks', $v$E'doubt\r\n\tdoubt'$v$),
    ('text', 'control characters', $v$chr(1) || chr(27) || chr(127)$v$),
    ('text', 'U+FFFF', $v$chr(65535)$v$),
    ('text', 'U+10FFFF', $v$chr(1114111)$v$),
    ('text', 'byte order mark', $v$chr(65279) || 'doubt'$v$),
    ('text', 'right-to-left mark', $v$chr(8207) || 'doubt'$v$),
    ('text', 'right-to-left override', $v$'doubt' || chr(8238) || 'txt'$v$),
    ('text', 'zero-width joiner', $v$'dou' || chr(8205) || 'bt'$v$),
    ('text', 'combining characters', $v$repeat('e' || chr(769), 100)$v$),
    ('text', 'emoji', $v$chr(128512) || chr(8205) || chr(128187)$v$),
    ('text', '63 emoji (252 bytes)', $v$repeat(chr(128512), 63)$v$),
    ('text', '200 emoji (800 bytes)', $v$repeat(chr(128512), 200)$v$),
    ('text', '63 characters', $v$repeat('a', 63)$v$),
    ('text', '64 characters', $v$repeat('a', 64)$v$),
    ('text', '200 characters', $v$repeat('a', 200)$v$),
    ('text', '201 characters', $v$repeat('a', 201)$v$),
    ('text', '10000 characters', $v$repeat('a', 10000)$v$),
    ('text', '10001 characters', $v$repeat('a', 10001)$v$),
    ('text', '1 MB in memory', $v$repeat('x', 1048576)$v$),
    ('text', '1 MB compressible, stored', $v$(SELECT t FROM hostile.stored WHERE label = '1 MB compressible')$v$),
    ('text', '1 MB incompressible, stored', $v$(SELECT t FROM hostile.stored WHERE label = '1 MB incompressible')$v$),
    ('text', 'zone UTC', $v$'UTC'$v$),
    ('text', 'zone utc', $v$'utc'$v$),
    ('text', 'zone America/New_York', $v$'America/New_York'$v$),
    ('text', 'zone Europe/Dublin (negative DST)', $v$'Europe/Dublin'$v$),
    ('text', 'zone Australia/Lord_Howe (30 min DST)', $v$'Australia/Lord_Howe'$v$),
    ('text', 'zone Asia/Kathmandu (+05:45)', $v$'Asia/Kathmandu'$v$),
    ('text', 'zone Pacific/Kiritimati (+14)', $v$'Pacific/Kiritimati'$v$),
    ('text', 'zone Etc/GMT+12', $v$'Etc/GMT+12'$v$),
    ('text', 'zone posixrules', $v$'posixrules'$v$),
    ('text', 'zone Factory', $v$'Factory'$v$),
    ('text', 'zone Mars/Olympus_Mons', $v$'Mars/Olympus_Mons'$v$),
    ('integer', 'zero', '0'),
    ('integer', 'minus one', '-1'),
    ('integer', 'one', '1'),
    ('integer', 'seven', '7'),
    ('integer', '1000', '1000'),
    ('integer', '1001', '1001'),
    ('integer', '10000', '10000'),
    ('integer', '10001', '10001'),
    ('integer', 'int max', '2147483647'),
    ('integer', 'int min', '(-2147483648)'),
    ('bigint', 'zero', '0'),
    ('bigint', 'minus one', '-1'),
    ('bigint', 'one', '1'),
    ('bigint', 'above int max', '2147483648'),
    ('bigint', 'bigint max', '9223372036854775807'),
    ('bigint', 'bigint min', '(-9223372036854775808)'),
    ('boolean', 'true', 'true'),
    ('boolean', 'false', 'false'),
    ('double precision', 'zero', '0'),
    ('double precision', 'negative zero', $v$'-0'::float8$v$),
    ('double precision', 'minus one', '-1'),
    ('double precision', 'one', '1'),
    ('double precision', 'tiny', '1e-300'),
    ('double precision', '100', '100'),
    ('double precision', 'just above 100', '100.0000001'),
    ('double precision', 'huge', '1e308'),
    ('double precision', 'NaN', $v$'NaN'::float8$v$),
    ('double precision', 'Infinity', $v$'Infinity'::float8$v$),
    ('double precision', '-Infinity', $v$'-Infinity'::float8$v$),
    ('interval', 'zero', $v$'0'::interval$v$),
    ('interval', 'minus a microsecond', $v$'-1 microsecond'::interval$v$),
    ('interval', 'a microsecond', $v$'1 microsecond'::interval$v$),
    ('interval', 'a second', $v$'1 second'::interval$v$),
    ('interval', 'a month', $v$'1 month'::interval$v$),
    -- Mixed signs: an interval comparison counts a year as 360 days, a
    -- conversion to seconds as 365.25, so these compare as 1 day and 1 hour
    -- but convert to minus 4.25 and minus 5.2 days.
    ('interval', 'mixed signs, compares as a day', $v$'-1 year 361 days'::interval$v$),
    ('interval', 'mixed signs, compares as an hour', $v$'-1 year 360 days 01:00:00'::interval$v$),
    ('interval', '7 days and a microsecond', $v$'7 days 00:00:00.000001'::interval$v$),
    ('interval', '30 days', $v$'30 days'::interval$v$),
    ('interval', '365 days', $v$'365 days'::interval$v$),
    ('interval', '10 years', $v$'10 years'::interval$v$),
    ('interval', '10000 years', $v$'10000 years'::interval$v$),
    ('interval', '290000 years', $v$'290000 years'::interval$v$),
    ('interval', '400000 years', $v$'400000 years'::interval$v$),
    ('interval', 'interval max years', $v$'178000000 years'::interval$v$),
    ('interval', 'interval min years', $v$'-178000000 years'::interval$v$),
    ('interval', 'int max days', $v$'2147483647 days'::interval$v$),
    ('interval', 'int min days', $v$'-2147483648 days'::interval$v$),
    ('interval', 'max hours', $v$'2562047788 hours'::interval$v$),
    ('time without time zone', 'midnight', $v$'00:00'::time$v$),
    ('time without time zone', 'a microsecond past midnight', $v$'00:00:00.000001'::time$v$),
    ('time without time zone', 'last microsecond', $v$'23:59:59.999999'::time$v$),
    ('time without time zone', '24:00', $v$'24:00'::time$v$),
    ('time without time zone', 'noon', $v$'12:00'::time$v$),
    ('timestamp with time zone', 'infinity', $v$'infinity'::timestamptz$v$),
    ('timestamp with time zone', '-infinity', $v$'-infinity'::timestamptz$v$),
    ('timestamp with time zone', 'latest', $v$'294276-12-31 23:59:59.999999+00'::timestamptz$v$),
    ('timestamp with time zone', 'earliest', $v$'4714-11-24 00:00:00+00 BC'::timestamptz$v$),
    ('timestamp with time zone', 'epoch', $v$'epoch'::timestamptz$v$),
    ('timestamp with time zone', 'in 1000 years', $v$now() + interval '1000 years'$v$),
    ('timestamp with time zone', 'before spring forward (New York)', $v$'2026-03-08 06:59:59.999999+00'::timestamptz$v$),
    ('timestamp with time zone', 'spring forward (New York)', $v$'2026-03-08 07:00:00+00'::timestamptz$v$),
    ('timestamp with time zone', 'repeated hour, first (New York)', $v$'2026-11-01 05:30:00+00'::timestamptz$v$),
    ('timestamp with time zone', 'repeated hour, second (New York)', $v$'2026-11-01 06:30:00+00'::timestamptz$v$),
    ('text[]', 'empty', $v$'{}'::text[]$v$),
    ('text[]', 'NULL element', $v$'{NULL}'::text[]$v$),
    ('text[]', 'resource and NULL', $v$'{manim,NULL}'::text[]$v$),
    ('text[]', 'two-dimensional', $v$'{{manim,manim},{manim,manim}}'::text[]$v$),
    ('text[]', 'lower bound 0', $v$'[0:1]={manim,manim}'::text[]$v$),
    ('text[]', 'empty element', $v$'{""}'::text[]$v$),
    ('text[]', 'duplicates', $v$'{manim,manim}'::text[]$v$),
    ('text[]', 'unknown resource', $v$'{unknown_resource}'::text[]$v$),
    ('text[]', 'injection element', $v$ARRAY['''); DROP TABLE queue.jobs; --']$v$),
    ('text[]', '100000 elements, stored', $v$(SELECT ta FROM hostile.stored WHERE label = '100000 elements')$v$),
    ('text[]', '1 MB element, stored', $v$(SELECT ta FROM hostile.stored WHERE label = '1 MB element')$v$),
    ('jsonb', 'empty object', $v$'{}'::jsonb$v$),
    ('jsonb', 'json null', $v$'null'::jsonb$v$),
    ('jsonb', 'empty array', $v$'[]'::jsonb$v$),
    ('jsonb', 'string', $v$'"just text"'::jsonb$v$),
    ('jsonb', 'huge number', $v$'{"n": 1e1000}'::jsonb$v$),
    ('jsonb', 'odd Unicode', $v$jsonb_build_object(chr(65535), chr(8207) || chr(1114111) || chr(128512))$v$),
    ('jsonb', 'injection-shaped', $v$jsonb_build_object('q', '''); DROP TABLE queue.jobs; --')$v$),
    ('jsonb', 'nested 10000 deep, stored', $v$(SELECT j FROM hostile.stored WHERE label = 'nested 10000 deep')$v$),
    ('jsonb[]', 'empty', $v$'{}'::jsonb[]$v$),
    ('jsonb[]', 'NULL element', $v$'{NULL}'::jsonb[]$v$),
    ('jsonb[]', 'json null element', $v$ARRAY['null'::jsonb]$v$),
    ('jsonb[]', 'two-dimensional', $v$ARRAY[['{}'::jsonb, '{}'], ['{}', '{}']]$v$),
    ('jsonb[]', 'lower bound 5', $v$'[5:5]={"{}"}'::jsonb[]$v$),
    ('jsonb[]', '10001 payloads, stored', $v$(SELECT ja FROM hostile.stored WHERE label = '10001 payloads')$v$),
    ('name', 'a table', $v$'settings'::name$v$),
    ('name', 'not a table', $v$'jobs'::name$v$),
    ('name', 'truncated', $v$repeat('n', 100)::name$v$),
    ('queue.name_key', 'upper case', $v$'MANIM'$v$),
    ('queue.name_key', 'new name', $v$'hostile_new'$v$),
    ('queue.name_key', 'a job type', $v$'topic_short'$v$);
INSERT INTO hostile.inputs (type_name, label, expr, raw_bytes)
SELECT 'jsonb', v.label, v.expr, octet_length(v.document::text)
  FROM (VALUES
    ('5 MB compressible, stored', $v$(SELECT j FROM hostile.stored WHERE label = '5 MB compressible')$v$,
     (SELECT j FROM hostile.stored WHERE label = '5 MB compressible')),
    ('150 kB compressed inline, stored', $v$(SELECT j FROM hostile.stored WHERE label = '150 kB compressed inline')$v$,
     (SELECT j FROM hostile.stored WHERE label = '150 kB compressed inline')),
    ('100000 keys, stored', $v$(SELECT j FROM hostile.stored WHERE label = '100000 keys')$v$,
     (SELECT j FROM hostile.stored WHERE label = '100000 keys')),
    ('5 MB in memory', $v$jsonb_build_object('blob', repeat('a', 5000000))$v$,
     jsonb_build_object('blob', repeat('a', 5000000)))) AS v(label, expr, document);
INSERT INTO hostile.inputs (type_name, label, expr, raw_bytes) VALUES
    ('jsonb[]', '5 MB element, stored', $v$(SELECT ja FROM hostile.stored WHERE label = '5 MB element')$v$,
     5000012);
INSERT INTO hostile.inputs (type_name, label, expr, wrong_type) VALUES
    ('text', 'wrong type: integer', '42', true),
    ('integer', 'wrong type: numeric', '1.5', true),
    ('bigint', 'wrong type: numeric', '1.5', true),
    ('boolean', 'wrong type: integer', '1', true),
    ('jsonb', 'wrong type: json', $v$'{}'::json$v$, true),
    ('timestamp with time zone', 'wrong type: date', $v$'2026-03-08'::date$v$, true),
    ('text[]', 'wrong type: integer[]', $v$'{1}'::int[]$v$, true);
SQL

# Helpers: who calls a function, valid arguments, a fingerprint of
# everything a refused call must leave alone, and the counter checks.
$node->safe_psql('postgres', <<'SQL');
-- Jobs in every state, by label: the valid and the hostile job ids.
CREATE TABLE hostile.ids (label text PRIMARY KEY, id bigint NOT NULL);
GRANT SELECT ON hostile.ids TO PUBLIC;

-- The role that normally calls a function: the first of app, worker,
-- dashboard and admin that may execute it; NULL (the superuser) if none may.
CREATE FUNCTION hostile.caller_of(fn regprocedure) RETURNS text
LANGUAGE sql AS $$
    SELECT r FROM unnest(ARRAY['hostile_app', 'hostile_worker', 'hostile_dashboard', 'hostile_admin'])
                  WITH ORDINALITY AS u(r, n)
     WHERE has_function_privilege(r, fn, 'EXECUTE') ORDER BY n LIMIT 1
$$;

-- A valid value for an argument, as an SQL expression.
CREATE FUNCTION hostile.valid_value(arg_name text, arg_type oid, caller text) RETURNS text
LANGUAGE sql AS $$
    SELECT format('(%s)::%s', CASE
        WHEN arg_name = 'job_id' AND caller = 'hostile_worker'
            THEN $v$SELECT id FROM hostile.ids WHERE label = 'processing'$v$
        WHEN arg_name = 'job_id' THEN $v$SELECT id FROM hostile.ids WHERE label = 'queued'$v$
        WHEN arg_name = 'job_ids'
            THEN $v$ARRAY(SELECT id FROM hostile.ids WHERE label = 'processing')$v$
        WHEN arg_name = 'worker_id' THEN $v$'w-hostile'$v$
        WHEN arg_name = 'job_type' THEN $v$'doubt'$v$
        WHEN arg_name IN ('error', 'reason') THEN $v$'hostile probe'$v$
        WHEN arg_name = 'batch_key' THEN $v$'hostile-batch-new'$v$
        WHEN arg_name = 'payloads' THEN $v$ARRAY['{}'::jsonb]$v$
        WHEN arg_name = 'config_table' THEN $v$'settings'$v$
        WHEN arg_type = 'boolean'::regtype THEN 'true'
        WHEN arg_type IN ('integer'::regtype, 'bigint'::regtype) THEN '1'
        WHEN arg_type = 'timestamptz'::regtype THEN 'now()'
        WHEN arg_type = 'jsonb'::regtype THEN $v$'{}'$v$
        WHEN arg_type IN ('text'::regtype, 'name'::regtype) THEN $v$'x'$v$
        ELSE 'NULL' END, format_type(arg_type, NULL))
$$;

-- The hostile values for a type: NULL, an untyped garbage literal, the
-- listed ones (of a domain's base type too), and every label of an enum.
CREATE FUNCTION hostile.inputs_for(t oid)
RETURNS TABLE (label text, expr text, raw_bytes bigint, wrong_type boolean)
LANGUAGE sql AS $$
    SELECT 'NULL', 'NULL', 0::bigint, false
    UNION ALL
    SELECT 'garbage literal', quote_literal('{"unbalanced'), 0, false
    UNION ALL
    SELECT i.label, i.expr, i.raw_bytes, i.wrong_type
      FROM hostile.inputs i, pg_type ty
     WHERE ty.oid = t
       AND i.type_name IN (format_type(t, NULL), format_type(nullif(ty.typbasetype, 0), NULL))
    UNION ALL
    SELECT 'label ' || e.enumlabel, quote_literal(e.enumlabel), 0, false
      FROM pg_enum e WHERE e.enumtypid = t
    UNION ALL
    SELECT 'not a label', quote_literal('not_a_label'), 0, false
     WHERE EXISTS (SELECT 1 FROM pg_enum WHERE enumtypid = t)
$$;

CREATE FUNCTION hostile.table_md5(tbl regclass) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    digest text;
BEGIN
    EXECUTE format('SELECT md5(coalesce(string_agg(x::text, %L ORDER BY x::text), %L)) FROM %s x',
                   E'\n', '', tbl) INTO digest;
    RETURN digest;
END
$$;

-- Everything a refused (or rolled back) call must leave as it was: every
-- table of schema queue, and what the shared-memory counters say through
-- stats() and job_status() (positions, estimates, run-time averages).
-- stats().refused_results counts refusals on purpose and is left out.
CREATE FUNCTION hostile.fingerprint() RETURNS text
LANGUAGE sql AS $$
    SELECT string_agg(c.relname || '=' || hostile.table_md5(c.oid), E'\n' ORDER BY c.relname)
           || E'\nstats=' || (SELECT (to_jsonb(s) - 'refused_results')::text FROM queue.stats() s)
           || E'\nstatus=' || (SELECT coalesce(string_agg(js::text, ';' ORDER BY j.id), '')
                                 FROM queue.jobs j, LATERAL queue.job_status(j.id) js)
      FROM pg_class c
     WHERE c.relnamespace = 'queue'::regnamespace AND c.relkind = 'r'
$$;

-- The configuration tables: those queue_admin may UPDATE.
CREATE FUNCTION hostile.config_tables() RETURNS SETOF regclass
LANGUAGE sql AS $$
    SELECT c.oid::regclass FROM pg_class c
     WHERE c.relnamespace = 'queue'::regnamespace AND c.relkind = 'r'
       AND has_table_privilege('queue_admin', c.oid, 'UPDATE')
     ORDER BY c.relname
$$;

CREATE FUNCTION hostile.config_fingerprint() RETURNS text
LANGUAGE sql AS $$
    SELECT string_agg(t::text || '=' || hostile.table_md5(t), E'\n') FROM hostile.config_tables() t
$$;

-- Where the counters disagree with a count of the table, or NULL. A job
-- leaving processing gives its resource slot back at commit, so inside the
-- transaction that ended it, a resource's running count may exceed the
-- table's, never fall below it (the limit would be overshot).
CREATE FUNCTION hostile.counters_problem() RETURNS text
LANGUAGE sql AS $$
    WITH s AS (SELECT to_jsonb(x) AS j FROM queue.stats() x)
    SELECT string_agg(problem, '; ') FROM (
        SELECT format('%s: stats %s, table %s', e.enumlabel, s.j ->> e.enumlabel, c.n) AS problem
          FROM s, pg_enum e,
               LATERAL (SELECT count(*) AS n FROM queue.jobs WHERE status::text = e.enumlabel) c
         WHERE e.enumtypid = 'queue.job_status'::regtype
           AND (s.j ->> e.enumlabel)::bigint IS DISTINCT FROM c.n
        UNION ALL
        SELECT format('queued_%s: stats %s, table %s', e.enumlabel, s.j ->> ('queued_' || e.enumlabel), c.n)
          FROM s, pg_enum e,
               LATERAL (SELECT count(*) AS n FROM queue.jobs
                         WHERE status = 'queued' AND priority::text = e.enumlabel) c
         WHERE e.enumtypid = 'queue.priority'::regtype
           AND (s.j ->> ('queued_' || e.enumlabel))::bigint IS DISTINCT FROM c.n
        UNION ALL
        SELECT format('running %s: stats %s, table %s', r.key, r.value ->> 'running', c.n)
          FROM s, jsonb_each(s.j -> 'processing_by_resource') r,
               LATERAL (SELECT count(*) AS n FROM queue.jobs
                         WHERE status = 'processing' AND resource = r.key) c
         WHERE NOT (r.value ->> 'running')::bigint >= c.n
        UNION ALL
        SELECT format('position of job %s: %s, expected %s', q.id, queue.position(q.id), q.n)
          FROM (SELECT id, row_number() OVER (ORDER BY priority, id) AS n FROM queue.jobs
                 WHERE status = 'queued' AND run_at <= now()) q
         WHERE queue.position(q.id) IS DISTINCT FROM q.n) p
$$;

-- Run one statement as a role, in a subtransaction; the error as
-- 'SQLSTATE message', or NULL.
CREATE FUNCTION hostile.try_as(role text, statement text, OUT result text, OUT error text)
LANGUAGE plpgsql AS $$
DECLARE
    state text;
    message text;
BEGIN
    IF role IS NOT NULL THEN
        EXECUTE format('SET LOCAL ROLE %I', role);
    END IF;
    EXECUTE statement INTO result;
    EXECUTE 'RESET ROLE';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT;
    error := state || ' ' || left(message, 200);
END
$$;

CREATE TABLE hostile.results (
    fn text, arg text, label text, caller text, accepted boolean, sqlstate text,
    message text, changed boolean, counters text, raw_bytes bigint);

-- Call a function with one hostile argument at a time, each call in a
-- subtransaction rolled back afterwards; returns the number of calls.
CREATE FUNCTION hostile.probe_function(fn regprocedure) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    caller text := hostile.caller_of(fn);
    fn_name text;
    arg_names text[];
    arg_types oid[];
    n_in integer;
    n_defaults integer;
    positional boolean;
    baseline text := hostile.fingerprint();
    input record;
    args text[];
    call text;
    result text;
    state text;
    message text;
    accepted boolean;
    counters text;
    calls integer := 0;
BEGIN
    SELECT format('%I.%I', n.nspname, p.proname), p.pronargs, p.pronargdefaults
      INTO fn_name, n_in, n_defaults
      FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE p.oid = fn;
    -- The input arguments, in order (proargtypes lists only those).
    SELECT array_agg(coalesce(p.proargnames[a.n], '') ORDER BY a.n)
               FILTER (WHERE coalesce(p.proargmodes[a.n], 'i') IN ('i', 'b', 'v')),
           array_agg(coalesce(p.proallargtypes[a.n], p.proargtypes[a.n - 1]) ORDER BY a.n)
               FILTER (WHERE coalesce(p.proargmodes[a.n], 'i') IN ('i', 'b', 'v'))
      INTO arg_names, arg_types
      FROM pg_proc p,
           generate_series(1, coalesce(array_length(p.proallargtypes, 1), p.pronargs)) AS a(n)
     WHERE p.oid = fn;
    positional := '' = ANY(coalesce(arg_names, '{}'));

    -- k = 0: one call with valid arguments only.
    FOR k IN 0 .. n_in LOOP
        FOR input IN SELECT * FROM hostile.inputs_for(arg_types[k]) WHERE k > 0
                     UNION ALL SELECT 'all valid', NULL, 0, false WHERE k = 0 LOOP
            args := '{}';
            FOR i IN 1 .. n_in LOOP
                CONTINUE WHEN i <> k AND NOT positional AND i > n_in - n_defaults;  -- its default
                args := args || (CASE WHEN positional THEN '' ELSE quote_ident(arg_names[i]) || ' => ' END
                                 || CASE WHEN i = k THEN input.expr
                                         ELSE hostile.valid_value(arg_names[i], arg_types[i], caller) END);
            END LOOP;
            call := format('SELECT md5(coalesce(string_agg(r::text, %L), %L)) FROM %s(%s) AS r',
                           ',', '', fn_name, array_to_string(args, ', '));
            RAISE NOTICE 'probe %(%) %: %', fn_name, arg_names[k], input.label, left(call, 300);
            accepted := false;
            state := NULL;
            message := NULL;
            counters := NULL;
            BEGIN
                IF caller IS NOT NULL THEN
                    EXECUTE format('SET LOCAL ROLE %I', caller);
                END IF;
                EXECUTE call INTO result;
                EXECUTE 'RESET ROLE';
                accepted := true;
                counters := hostile.counters_problem();
                RAISE EXCEPTION USING ERRCODE = 'QH001';  -- undo the call
            EXCEPTION WHEN OTHERS THEN
                IF NOT accepted THEN
                    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT;
                END IF;
            END;
            INSERT INTO hostile.results
            VALUES (fn::text, coalesce(arg_names[k], '(none)'), input.label, coalesce(caller, current_user), accepted, state,
                    left(message, 300), hostile.fingerprint() IS DISTINCT FROM baseline, counters,
                    input.raw_bytes);
            calls := calls + 1;
        END LOOP;
    END LOOP;
    RETURN calls;
END
$$;
SQL

# The smoke pass and the configuration probe.
$node->safe_psql('postgres', <<'SQL');
-- Run a step as a role; a refusal is a problem.
CREATE FUNCTION hostile.step(INOUT problems text[], role text, what text, statement text,
                             OUT result text)
LANGUAGE plpgsql AS $$
DECLARE
    error text;
BEGIN
    SELECT t.result, t.error INTO result, error FROM hostile.try_as(role, statement) t;
    IF error IS NOT NULL THEN
        problems := problems || format('%s: %s', what, error);
    END IF;
END
$$;

-- A sanity check, as the superuser: the statement ($1: job ids) returns a
-- description of what is wrong, or NULL.
CREATE FUNCTION hostile.expect_nothing(INOUT problems text[], what text, statement text,
                                       ids bigint[] DEFAULT '{}')
LANGUAGE plpgsql AS $$
DECLARE
    found text;
BEGIN
    EXECUTE statement INTO found USING ids;
    IF found IS NOT NULL THEN
        problems := problems || format('%s: %s', what, found);
    END IF;
END
$$;

-- Every public function once, in the order of a job's life, as the roles
-- that call them, with sanity checks of what they return. Returns the
-- problems found, or NULL. The caller's transaction undoes it all.
CREATE FUNCTION hostile.smoke_pass() RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    problems text[] := '{}';
    job_type text;
    enqueued bigint[] := '{}';
    claimed bigint[] := '{}';
    id bigint;
    out text;
BEGIN
    -- The app enqueues one job of every type.
    FOR job_type IN SELECT t.job_type FROM queue.job_types t ORDER BY 1 LOOP
        SELECT * INTO problems, out FROM hostile.step(problems, 'hostile_app', 'enqueue ' || job_type,
            format($s$SELECT queue.enqueue(%L, '{}')$s$, job_type));
        IF out IS NOT NULL THEN
            enqueued := enqueued || out::bigint;
        END IF;
    END LOOP;

    -- The app follows its jobs while they wait.
    FOREACH id IN ARRAY enqueued || ARRAY(SELECT i.id FROM hostile.ids i WHERE i.label = 'queued') LOOP
        SELECT * INTO problems, out FROM hostile.step(problems, 'hostile_app', 'position',
            format('SELECT queue.position(%s)::text', id));
        SELECT * INTO problems, out FROM hostile.step(problems, 'hostile_app', 'job_status',
            format('SELECT s::text FROM queue.job_status(%s) s', id));
    END LOOP;
    SELECT * INTO problems FROM hostile.expect_nothing(problems, 'estimates are not negative',
        $s$SELECT string_agg(format('job %s waits %s, starts %s', j.id, s.estimated_wait, s.estimated_start), ', ')
             FROM queue.jobs j, LATERAL queue.job_status(j.id) s
            WHERE s.status = 'queued' AND (s.estimated_wait < '0' OR s.estimated_start < now())$s$);

    -- A render worker registers, then claims and ends jobs one at a time
    -- until the queue is empty, so that a job of every type runs: the second
    -- one fails, the others complete.
    SELECT * INTO problems, out FROM hostile.step(problems, 'hostile_smoke', 'register_worker',
        $s$SELECT queue.register_worker('smoke-w', NULL, 3)::text$s$);
    SELECT * INTO problems, out FROM hostile.step(problems, 'hostile_smoke', 'heartbeat',
        $s$SELECT count(*)::text FROM queue.heartbeat('smoke-w')$s$);
    FOR round IN 1 .. 20 LOOP
        SELECT * INTO problems, out FROM hostile.step(problems, 'hostile_smoke', 'dequeue',
            $s$SELECT (SELECT id FROM queue.dequeue('smoke-w', 1))::text$s$);
        EXIT WHEN out IS NULL;
        id := out::bigint;
        claimed := claimed || id;
        IF round = 2 THEN
            SELECT * INTO problems, out FROM hostile.step(problems, 'hostile_smoke', 'fail',
                format($s$SELECT queue.fail(%s, 'smoke-w', 'smoke failure')::text$s$, id));
        ELSE
            SELECT * INTO problems, out FROM hostile.step(problems, 'hostile_smoke', 'complete',
                format($s$SELECT queue.complete(%s, 'smoke-w', '{}')::text$s$, id));
            IF out <> 'true' THEN
                problems := problems || format('complete of held job %s returned %s', id, out);
            END IF;
        END IF;
    END LOOP;
    -- An attempt's deadline is its start plus the job's timeout.
    SELECT * INTO problems FROM hostile.expect_nothing(problems, 'claimed attempts end after they start',
        $s$SELECT string_agg(format('job %s (%s) times out after %s', id, job_type, timeout), ', ')
             FROM queue.jobs WHERE id = ANY($1) AND NOT started_at + timeout > started_at$s$, claimed);
    IF cardinality(claimed) = 0 AND cardinality(enqueued) >= 1 THEN
        -- Nothing could be claimed (a limit of 0): the job is not held.
        SELECT * INTO problems, out FROM hostile.step(problems, 'hostile_smoke', 'complete',
            format($s$SELECT queue.complete(%s, 'smoke-w')::text$s$, enqueued[1]));
    END IF;
    IF cardinality(enqueued) >= 1 THEN
        SELECT * INTO problems, out FROM hostile.step(problems, 'hostile_app', 'cancel',
            format($s$SELECT queue.cancel(%s, 'smoke')::text$s$, enqueued[cardinality(enqueued)]));
    END IF;
    SELECT * INTO problems, out FROM hostile.step(problems, 'hostile_app', 'is_peak_hour',
        'SELECT queue.is_peak_hour()::text');

    -- The dashboard.
    SELECT * INTO problems, out FROM hostile.step(problems, 'hostile_dashboard', 'stats',
        'SELECT s::text FROM queue.stats() s');
    SELECT * INTO problems, out FROM hostile.step(problems, 'hostile_dashboard', 'is_peak_hour at DST changes',
        $s$SELECT string_agg(queue.is_peak_hour(at)::text, ',') FROM unnest(ARRAY[
             '2026-03-08 06:59:59.999999+00', '2026-03-08 07:00:00+00', '2026-11-01 05:30:00+00',
             '2026-11-01 06:30:00+00', '2026-06-01 03:59:59.999999+00', '2026-06-01 04:00:00+00']::timestamptz[]) at$s$);
    SELECT * INTO problems, out FROM hostile.step(problems, 'hostile_dashboard', 'effective_limit',
        $s$SELECT string_agg(queue.effective_limit(r)::text, ',')
             FROM (SELECT NULL::text AS r UNION ALL SELECT resource FROM queue.resources) r$s$);
    SELECT * INTO problems FROM hostile.expect_nothing(problems, 'limits are not negative',
        $s$SELECT string_agg(format('%s: %s', coalesce(r, 'global'), queue.effective_limit(r)), ', ')
             FROM (SELECT NULL::text AS r UNION ALL SELECT resource FROM queue.resources) r
            WHERE NOT queue.effective_limit(r) >= 0$s$);
    SELECT * INTO problems, out FROM hostile.step(problems, 'hostile_dashboard', 'views',
        $s$SELECT (SELECT count(*) FROM queue.overview) + (SELECT count(*) FROM queue.alerts)
                + (SELECT count(*) FROM queue.worker_load) + (SELECT count(*) FROM queue.recent_jobs)$s$);

    -- The admin runs maintenance and a batch.
    SELECT * INTO problems, out FROM hostile.step(problems, 'hostile_admin', 'tick',
        'SELECT t::text FROM queue.tick() t');
    SELECT * INTO problems FROM hostile.expect_nothing(problems, 'a worker heard from just now is alive',
        $s$SELECT 'smoke-w is ' || state FROM queue.workers WHERE worker_id = 'smoke-w' AND state = 'dead'$s$);
    SELECT * INTO problems FROM hostile.expect_nothing(problems, 'a job finished just now is kept',
        $s$SELECT format('job %s was pruned', $1[1])
            WHERE cardinality($1) > 0 AND NOT EXISTS (SELECT 1 FROM queue.jobs WHERE id = $1[1])$s$, claimed);
    SELECT * INTO problems, out FROM hostile.step(problems, 'hostile_admin', 'enqueue_batch',
        format($s$SELECT queue.enqueue_batch(%L, 'smoke-batch', ARRAY['{}'::jsonb])::text$s$,
               (SELECT min(t.job_type) FROM queue.job_types t)));
    SELECT * INTO problems, out FROM hostile.step(problems, 'hostile_smoke', 'drain_worker',
        $s$SELECT queue.drain_worker('smoke-w')::text$s$);
    SELECT * INTO problems FROM hostile.expect_nothing(problems, 'counters match the table',
        'SELECT hostile.counters_problem()');
    RETURN nullif(array_to_string(problems, E'\n'), '');
END
$$;

CREATE TABLE hostile.config_results (
    tbl text, col text, label text, accepted boolean, sqlstate text, message text,
    unchanged boolean, smoke text);

-- Set each column of a configuration table to each hostile value of its
-- type, as queue_admin; after an accepted value, run the smoke pass. Each
-- value is undone before the next. Returns the number of values tried.
CREATE FUNCTION hostile.probe_table(tbl regclass) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    target tid;
    col record;
    input record;
    before text;
    accepted boolean;
    state text;
    message text;
    smoke text;
    calls integer := 0;
BEGIN
    EXECUTE format('SELECT ctid FROM %s t ORDER BY t::text LIMIT 1', tbl) INTO target;
    FOR col IN SELECT attname, atttypid FROM pg_attribute
                WHERE attrelid = tbl AND attnum > 0 AND NOT attisdropped ORDER BY attnum LOOP
        FOR input IN SELECT * FROM hostile.inputs_for(col.atttypid) WHERE NOT wrong_type LOOP
            RAISE NOTICE 'probe %.% = %', tbl, col.attname, input.label;
            before := hostile.table_md5(tbl);
            accepted := false;
            state := NULL;
            message := NULL;
            smoke := NULL;
            BEGIN
                BEGIN
                    EXECUTE 'SET LOCAL ROLE hostile_admin';
                    EXECUTE format('UPDATE %s SET %I = %s WHERE ctid = $1', tbl, col.attname, input.expr)
                      USING target;
                    EXECUTE 'RESET ROLE';
                    accepted := true;
                EXCEPTION WHEN OTHERS THEN
                    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT;
                END;
                IF accepted THEN
                    smoke := hostile.smoke_pass();
                END IF;
                RAISE EXCEPTION USING ERRCODE = 'QH001';  -- undo the value
            EXCEPTION
                WHEN SQLSTATE 'QH001' THEN
                    NULL;
                WHEN OTHERS THEN
                    GET STACKED DIAGNOSTICS message = MESSAGE_TEXT;
                    smoke := 'the smoke pass raised ' || message;
            END;
            INSERT INTO hostile.config_results
            VALUES (tbl::text, col.attname, input.label, accepted, state, left(message, 300),
                    accepted OR hostile.table_md5(tbl) = before, smoke);
            calls := calls + 1;
        END LOOP;
    END LOOP;
    RETURN calls;
END
$$;
SQL

# Jobs in every state, owned by the app; one queued job owned by the admin;
# a registered worker holding a job; more queued jobs than free slots, so
# that estimates take several waves. Times of day in New York, for DST.
$node->safe_psql('postgres', <<'SQL');
UPDATE queue.settings SET timezone = 'America/New_York', max_concurrent = 4;
UPDATE queue.job_types SET resource = 'manim' WHERE job_type = 'topic_short';
SET ROLE hostile_worker;
SELECT queue.register_worker('w-hostile', NULL, 4);
SET ROLE hostile_app;
SELECT queue.enqueue('doubt', jsonb_build_object('n', g)) FROM generate_series(1, 4) g;
SELECT queue.enqueue('topic_short', jsonb_build_object('n', g), user_id => 'student-1')
  FROM generate_series(5, 7) g;
SELECT queue.enqueue('daily_ca', jsonb_build_object('n', g), dedupe_key => 'dk-' || g)
  FROM generate_series(8, 10) g;
SELECT queue.enqueue('doubt', '{"later": true}', run_at => now() + interval '1 day');
SET ROLE hostile_worker;
CREATE TEMP TABLE claimed AS SELECT id FROM queue.dequeue('w-hostile', 4);
SELECT queue.complete(min(id), 'w-hostile', '{"url": "done"}') FROM claimed;
SELECT queue.fail((SELECT id FROM claimed ORDER BY id OFFSET 1 LIMIT 1), 'w-hostile', 'broken', retryable => false);
SELECT queue.fail((SELECT id FROM claimed ORDER BY id OFFSET 2 LIMIT 1), 'w-hostile', 'flaky');
RESET ROLE;
SELECT queue.cancel(id, 'changed my mind') FROM queue.jobs
 WHERE status = 'queued' AND job_type = 'daily_ca' ORDER BY id LIMIT 1;
SET ROLE hostile_admin;
SELECT queue.enqueue('doubt', '{"admin": true}');
SELECT queue.enqueue_batch('daily_ca', 'batch-1', ARRAY['{"b": 1}'::jsonb, '{"b": 2}']);
RESET ROLE;
INSERT INTO hostile.ids
SELECT 'queued', min(id) FROM queue.jobs WHERE status = 'queued' AND owner = 'hostile_app'::regrole
UNION ALL SELECT 'processing', min(id) FROM queue.jobs WHERE status = 'processing'
UNION ALL SELECT 'retrying', min(id) FROM queue.jobs WHERE status = 'retrying'
UNION ALL SELECT 'completed', min(id) FROM queue.jobs WHERE status = 'completed'
UNION ALL SELECT 'failed', min(id) FROM queue.jobs WHERE status = 'failed'
UNION ALL SELECT 'cancelled', min(id) FROM queue.jobs WHERE status = 'cancelled'
UNION ALL SELECT 'not due', min(id) FROM queue.jobs WHERE run_at > now() + interval '1 hour'
UNION ALL SELECT 'another role''s', min(id) FROM queue.jobs WHERE owner = 'hostile_admin'::regrole
UNION ALL SELECT 'missing', max(id) + 1000 FROM queue.jobs;
INSERT INTO hostile.inputs (type_name, label, expr)
SELECT 'bigint', 'job ' || label, format('(SELECT id FROM hostile.ids WHERE label = %L)', label)
  FROM hostile.ids;
SQL
is($node->safe_psql('postgres', q{SELECT count(*) FROM hostile.ids WHERE id IS NULL}),
	'0', 'the baseline holds a job in every state');
is($node->safe_psql('postgres', q{SELECT coalesce(hostile.counters_problem(), '')}),
	'', 'the baseline counters match the table');

# A new connection is the proof that the server is still up.
sub server_answers
{
	my ($ret, $out) = $node->psql('postgres', 'SELECT 1');
	return $ret == 0 && $out eq '1';
}

sub rows
{
	my ($sql) = @_;
	return $node->safe_psql('postgres', $sql);
}

# What a check found: the lines a query returns, at most 20 of them, or ''.
sub found
{
	my ($lines) = @_;
	return rows(qq{
SELECT CASE WHEN count(*) > 20 THEN count(*) || E' found, the first 20:\\n' ELSE '' END
       || coalesce(string_agg(line, E'\\n' ORDER BY n) FILTER (WHERE n <= 20), '')
  FROM (SELECT line, row_number() OVER () AS n FROM ($lines) AS f(line)) AS numbered});
}

# Run one probe block; returns its count of calls, or 0 if it did not end.
sub probe
{
	my ($what, $sql) = @_;
	my ($ret, $calls, $stderr) =
	  $node->psql('postgres', $sql, extra_params => [ '-v', 'ON_ERROR_STOP=1' ]);
	my ($last_probe) = ($stderr =~ /.*(NOTICE:  probe [^\n]*)/s);
	ok($ret == 0, "$what: the probe block completed")
	  or diag("last call: " . ($last_probe // '(none)') . "\n" . substr($stderr, -1000));
	ok(server_answers(), "$what: the server accepts a new connection afterwards")
	  or $node->poll_query_until('postgres', 'SELECT true');
	return $ret == 0 ? $calls : 0;
}

###########################################################################
# Function matrix
###########################################################################
my @functions = split /\n/, rows(q{
SELECT p.oid::regprocedure FROM pg_proc p
 WHERE p.pronamespace = 'queue'::regnamespace AND p.prorettype <> 'trigger'::regtype
 ORDER BY 1});
cmp_ok(scalar @functions, '>=', 15, 'the catalog lists the queue functions');
# Internal to dequeue(): refused anywhere else, whatever the arguments.
my %only_inside_dequeue = ('queue.claim_resource_slot(text)' => '55000');
my $matrix_calls = 0;
foreach my $fn (@functions)
{
	$matrix_calls += probe($fn, "SELECT hostile.probe_function('$fn'::regprocedure)");
	my $of_fn = "FROM hostile.results WHERE fn = '" . ($fn =~ s/'/''/gr) . "'";

	if (my $sqlstate = $only_inside_dequeue{$fn})
	{
		is(found(qq{SELECT format('%s %s', sqlstate, message) $of_fn AND label = 'all valid'
		              AND (accepted OR sqlstate <> '$sqlstate')}),
			'', "$fn: a call outside dequeue() is refused with $sqlstate");
	}
	else
	{
		is(found(qq{SELECT format('%s %s', sqlstate, message) $of_fn AND label = 'all valid' AND NOT accepted}),
			'', "$fn: a call with valid arguments is accepted");
	}
	is(found(qq{
SELECT format('%s = %s: %s %s', arg, label, sqlstate, message) $of_fn
   AND NOT accepted AND (sqlstate ~ '^(XX|58)' OR sqlstate IS NULL)}),
		'', "$fn: no call ends in an internal or system error");
	is(found(qq{
SELECT format('%s = %s: %s %s', arg, label, sqlstate, message) $of_fn
   AND NOT accepted AND sqlstate = 'P0001'}),
		'', "$fn: every refusal names a specific SQLSTATE");
	is(found(qq{
SELECT format('%s = %s (%s)', arg, label, CASE WHEN accepted THEN 'accepted' ELSE sqlstate END)
       $of_fn AND changed}),
		'', "$fn: tables and counters read the same after every refused or undone call");
	is(found(qq{SELECT format('%s = %s: %s', arg, label, counters) $of_fn AND accepted AND counters IS NOT NULL}),
		'', "$fn: accepted calls leave the counters equal to a count of the table");
	is(found(qq{
SELECT format('%s = %s (%s bytes)', arg, label, raw_bytes) $of_fn
   AND accepted AND raw_bytes > 2 * (SELECT max_payload_bytes FROM queue.settings)}),
		'', "$fn: no jsonb over settings.max_payload_bytes is accepted");
}
note "function matrix: $matrix_calls calls over " . scalar(@functions) . ' functions';
note rows(q{
SELECT string_agg(format('%s: %s calls, %s accepted, refusals by SQLSTATE: %s', fn, n, a, states), E'\n')
  FROM (SELECT fn, count(*) AS n, count(*) FILTER (WHERE accepted) AS a,
               (SELECT string_agg(format('%s x%s', s, c), ' ' ORDER BY s)
                  FROM (SELECT sqlstate AS s, count(*) AS c FROM hostile.results r2
                         WHERE r2.fn = r.fn AND NOT accepted GROUP BY 1) x) AS states
          FROM hostile.results r GROUP BY fn ORDER BY fn) t});
is(rows(q{SELECT count(DISTINCT fn) FROM hostile.results}), scalar @functions,
	'every function was probed');
ok(rows(q{SELECT count(*) FROM hostile.results WHERE accepted}) > 0
	  && rows(q{SELECT count(*) FROM hostile.results WHERE NOT accepted}) > 0,
	'the matrix has both accepted and refused calls')
  or diag found(q{SELECT DISTINCT sqlstate || ' ' || message FROM hostile.results});

###########################################################################
# Configuration matrix
###########################################################################
is(rows(q{BEGIN; SELECT coalesce(hostile.smoke_pass(), 'nothing wrong'); ROLLBACK}),
	'nothing wrong', 'the smoke pass finds nothing wrong with the baseline configuration');
my $config_before = rows(q{SELECT hostile.config_fingerprint()});
my @tables = split /\n/, rows(q{SELECT t FROM hostile.config_tables() t});
cmp_ok(scalar @tables, '>=', 4, 'the catalog lists the configuration tables');
my $config_calls = 0;
foreach my $tbl (@tables)
{
	$config_calls += probe($tbl, "SELECT hostile.probe_table('$tbl')");
	my $of_tbl = "FROM hostile.config_results WHERE tbl = '$tbl'";

	is(found(qq{
SELECT format('%s = %s: %s %s', col, label, sqlstate, message) $of_tbl
   AND NOT accepted AND sqlstate !~ '^2[23]'}),
		'', "$tbl: refused values are refused as a data exception or a constraint violation (class 22 or 23)");
	is(found(qq{SELECT format('%s = %s', col, label) $of_tbl AND NOT unchanged}),
		'', "$tbl: a refused value changes nothing");
	is(found(qq{
SELECT format(E'%s = %s:\\n    %s', col, label, replace(smoke, E'\\n', E'\\n    ')) $of_tbl
   AND accepted AND smoke IS NOT NULL}),
		'', "$tbl: after every accepted value every function still works");
}
is(rows(q{SELECT hostile.config_fingerprint()}), $config_before,
	'every value was undone: the configuration is as before');
note "configuration matrix: $config_calls values over " . scalar(@tables) . ' tables, '
  . rows(q{SELECT count(*) FILTER (WHERE accepted) || ' accepted, ' || count(*) FILTER (WHERE NOT accepted)
                  || ' refused' FROM hostile.config_results});

###########################################################################
# Peak hours across DST
###########################################################################
# The peak logic sees local times of day; the server converts with the
# zone's rules. Every 7 minutes of 2026 and every minute of two days around
# each DST change of New York, Dublin and Lord Howe, in five zones, against
# PostgreSQL's own conversion (AT TIME ZONE) and the window rules: a window
# covers [starts, ends) modulo one day, 24:00 ends a day, overlaps take the
# largest multiplier.
my $dst = rows(q{
BEGIN;
DELETE FROM queue.peak_windows;
INSERT INTO queue.peak_windows (starts, ends, multiplier) VALUES
    ('01:30', '02:30', 2.0), ('06:00', '09:00', 1.5), ('22:00', '24:00', 3.0), ('23:30', '00:30', 2.5);
UPDATE queue.settings SET max_concurrent = 10;
CREATE TEMP TABLE dst_checked (zone text, at timestamptz, local time, peak boolean, expected_peak boolean,
                               limit_at integer, expected_limit integer);
DO $$
DECLARE
    zone text;
BEGIN
    FOREACH zone IN ARRAY ARRAY['America/New_York', 'Europe/Dublin', 'Australia/Lord_Howe',
                                'Asia/Kathmandu', 'UTC'] LOOP
        UPDATE queue.settings SET timezone = zone;
        INSERT INTO dst_checked
        SELECT zone, i.at, i.local, queue.is_peak_hour(i.at), e.peak,
               queue.effective_limit(NULL, i.at), e.lim
          FROM (SELECT at, (at AT TIME ZONE zone)::time AS local
                  FROM (SELECT generate_series('2026-01-01 00:00+00'::timestamptz,
                                               '2027-01-01 00:00+00', '7 minutes') AS at
                        UNION
                        SELECT generate_series(d - interval '1 day', d + interval '1 day', '1 minute')
                          FROM unnest(ARRAY['2026-03-08', '2026-11-01', '2026-03-29', '2026-10-25',
                                            '2026-04-05', '2026-10-04']::timestamptz[]) d) a) i,
               LATERAL (
                   SELECT count(*) > 0 AS peak,
                          floor(10 * coalesce(max(w.multiplier), 1.0))::integer AS lim
                     FROM queue.peak_windows w
                    WHERE mod(mod(extract(epoch FROM i.local) - extract(epoch FROM w.starts), 86400) + 86400, 86400)
                          < coalesce(nullif(mod(mod(extract(epoch FROM w.ends) - extract(epoch FROM w.starts), 86400)
                                                + 86400, 86400), 0), 86400)) e;
    END LOOP;
END
$$;
SELECT count(*) || ' instants, ' || count(*) FILTER (WHERE expected_peak) || ' at peak, '
       || count(*) FILTER (WHERE peak IS DISTINCT FROM expected_peak
                            OR limit_at IS DISTINCT FROM expected_limit) || ' wrong'
  FROM dst_checked;
SELECT format('%s %s (local %s): peak %s, expected %s; limit %s, expected %s',
              zone, at, local, peak, expected_peak, limit_at, expected_limit)
  FROM dst_checked
 WHERE peak IS DISTINCT FROM expected_peak OR limit_at IS DISTINCT FROM expected_limit
 ORDER BY zone, at LIMIT 5;
ROLLBACK;
});
my ($dst_summary, @dst_wrong) = split /\n/, $dst;
note "peak hours across DST: $dst_summary";
like($dst_summary, qr/^\d{5,} instants, \d+ at peak, 0 wrong$/,
	'is_peak_hour and effective_limit follow local time in every zone, across every DST change')
  or diag join("\n", @dst_wrong);

is(rows(q{SELECT coalesce(hostile.counters_problem(), '')}), '',
	'after everything, the counters match the table exactly');

# Crashes are logged by the postmaster whoever caught the error; failed
# assertions and resource leaks by assert-enabled builds.
my $log = slurp_file($node->logfile);
unlike($log, qr/terminated by signal|PANIC|TRAP:|WARNING:  .*leak/,
	'the server log shows no crash, failed assertion or leak');

done_testing();
