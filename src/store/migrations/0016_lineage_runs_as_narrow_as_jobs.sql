-- A run is part of its job (it shows the job's namespace), so whoever may not see a job must
-- not see its runs either. Until now a run took its classification from its own tags alone:
-- an untagged run of a PHI job was stored `internal` and shown to readers not cleared for PHI.
-- From now on every write raises a run to the narrowest of its own classification and its
-- jobs' (src/lineage/graph-store.ts, inheritJobClassification); this raises the runs already
-- stored the same way. Narrowest: public < internal < confidential < PII < PCI < PHI, the
-- order in which one node's several tags are read (src/lineage/vocabulary.ts, NARROWNESS).
UPDATE lineage_nodes run SET classification = job.classification, updated_at = now()
  FROM (SELECT e.dst AS key,
               (array_agg(j.classification ORDER BY (CASE j.classification WHEN 'public' THEN 0 WHEN 'internal' THEN 1 WHEN 'confidential' THEN 2
                                                       WHEN 'PII' THEN 3 WHEN 'PCI' THEN 4 WHEN 'PHI' THEN 5 END) DESC))[1] AS classification
          FROM lineage_edges e JOIN lineage_nodes j ON j.key = e.src
         WHERE e.type = 'run_of'
         GROUP BY e.dst) job
 WHERE run.key = job.key
   AND (CASE job.classification WHEN 'public' THEN 0 WHEN 'internal' THEN 1 WHEN 'confidential' THEN 2 WHEN 'PII' THEN 3 WHEN 'PCI' THEN 4 WHEN 'PHI' THEN 5 END)
     > (CASE run.classification WHEN 'public' THEN 0 WHEN 'internal' THEN 1 WHEN 'confidential' THEN 2 WHEN 'PII' THEN 3 WHEN 'PCI' THEN 4 WHEN 'PHI' THEN 5 END);
