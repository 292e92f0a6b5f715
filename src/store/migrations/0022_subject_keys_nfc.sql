-- Data subject keys are in Unicode NFC (src/data/subject-index.ts `subjectKey`): 'Zoë' typed as
-- one character and 'Zoë' written decomposed (e + U+0308) by another system are one subject, for
-- the subject index as for legal holds on audit payloads. The function stays equal to
-- subjectKey (a test holds the two equal); the index over it is rebuilt, as its keys change.
-- normalize() is built in (PostgreSQL 13+) and needs a UTF8 database, which Assay's are.
CREATE OR REPLACE FUNCTION assay_subject_keys(ids text[]) RETURNS text[] LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT coalesce(array_agg(translate(
           btrim(normalize(s, NFC), E'\t\n\u000b\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff'),
           'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz') ORDER BY n), '{}')
    FROM unnest(ids) WITH ORDINALITY AS u(s, n)
$$;

REINDEX INDEX audit_payloads_subject_keys;
