-- How a CSV version writes its numbers and dates, as declared at ingest (decimalSeparator,
-- dateFormat, timestampFormat); null: DuckDB's own syntax. The schema's types were inferred by
-- it, and the certified Parquet keeps the values as written, so it is read by it too.
ALTER TABLE dataset_versions ADD COLUMN value_format jsonb;
