-- Data subject ids are matched by key, not by their exact text: the id without white space or
-- line breaks at either end (the characters JavaScript's trim() removes), ASCII letters in
-- lower case. A legal hold placed for 'Anna@Example.com' must keep the payloads stored for
-- 'anna@example.com ', or the purge would delete evidence under hold. The data module keys its
-- subject index alike (src/data/subject-index.ts `subjectKey`; a test holds the two equal).
-- Only built-in functions inside: an index expression runs with a search_path of pg_catalog
-- alone (PostgreSQL 17), where a call to another of ours would not be found.
CREATE FUNCTION assay_subject_keys(ids text[]) RETURNS text[] LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT coalesce(array_agg(translate(
           btrim(s, E'\t\n\u000b\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff'),
           'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz') ORDER BY n), '{}')
    FROM unnest(ids) WITH ORDINALITY AS u(s, n)
$$;

CREATE FUNCTION assay_subject_key(id text) RETURNS text LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT (assay_subject_keys(ARRAY[id]))[1]
$$;

-- Lookups by subject use the keys; the index on the ids as written served exact matches only.
CREATE INDEX audit_payloads_subject_keys ON audit_payloads USING gin (assay_subject_keys(subject_ids));
DROP INDEX audit_payloads_subjects;
