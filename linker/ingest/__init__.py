"""Ingest: read an input directory into validated tables and a table of rejected rows.

Nothing is lost: every row that fails validation is kept with the file, its row number,
the column, the reason and the original record, and every valid row goes on
(``dataset``); ``readers`` reads csv/jsonl/parquet whole or in batches; ``contract``
is the data contract; ``normalise`` canonicalises identifiers; ``ipintel`` looks
addresses up in the IP intelligence table."""
