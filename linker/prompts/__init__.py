"""Prompts: masking, MinHash/LSH template families and intent (``families``), and the
optional semantic stage that joins families by meaning (``semantic`` over the numpy
MiniLM ``encoder``). See docs/prompts.md and docs/semantic-stage.md."""
