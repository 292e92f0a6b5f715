-- Data subject keys hold no white space anywhere, not only at the ends (src/data/subject-index.ts
-- `subjectKey`): an IBAN typed as printed, 'DE89 3704 0044 0532 0130 00', and the same IBAN
-- stored compact, 'DE89370400440532013000', are one subject, for the subject index as for
-- legal holds on audit payloads. translate() deletes the characters of its second argument that
-- the third does not replace: the white space after A-Z. The function stays equal to
-- subjectKey (a test holds the two equal); the index over it is rebuilt, as its keys change.
CREATE OR REPLACE FUNCTION assay_subject_keys(ids text[]) RETURNS text[] LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT coalesce(array_agg(translate(
           normalize(s, NFC),
           E'ABCDEFGHIJKLMNOPQRSTUVWXYZ\t\n\u000b\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff',
           'abcdefghijklmnopqrstuvwxyz') ORDER BY n), '{}')
    FROM unnest(ids) WITH ORDINALITY AS u(s, n)
$$;

REINDEX INDEX audit_payloads_subject_keys;
