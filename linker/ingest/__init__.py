"""Ingest: read an input directory into validated tables and a table of rejected rows.

Nothing is lost: every row that fails validation is kept with the file, its row number,
the column, the reason and the record exactly as it was read, and every valid row goes
on (``dataset``). ``readers`` reads csv (``csvreader``), jsonl and parquet, whole or in
batches; ``records`` finds a row's original text again; ``rejected`` is the shape of the
rejected-rows table; ``validation`` checks a table against ``contract``, the data
contract; ``normalise`` canonicalises identifiers and times; ``ipintel`` looks addresses
up in the IP intelligence table."""
