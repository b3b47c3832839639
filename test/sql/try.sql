\set ECHO none
-- Included by pg_regress files (\i test/sql/try.sql): a fresh schema qt with
--   qt.try(sql)        "ok", or "SQLSTATE message [| hint]" when the statement fails;
--   qt.try_detail(sql) the same with " | detail" before the hint.
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS qt CASCADE;
CREATE SCHEMA qt;
RESET client_min_messages;
GRANT USAGE ON SCHEMA qt TO PUBLIC;

CREATE FUNCTION qt.try_detail(stmt text, with_detail boolean DEFAULT true) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    state text; message text; detail text; hint text;
BEGIN
    EXECUTE stmt;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT,
                            detail = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
    RETURN state || ' ' || message
        || CASE WHEN with_detail THEN coalesce(' | ' || nullif(detail, ''), '') ELSE '' END
        || coalesce(' | ' || nullif(hint, ''), '');
END
$$;

CREATE FUNCTION qt.try(stmt text) RETURNS text LANGUAGE sql
    AS $$ SELECT qt.try_detail(stmt, false) $$;
\set ECHO all
