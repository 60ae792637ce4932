"""The use cases: one function per command and what the commands share (ingest, config,
resolve, jsonl). Sources, store and analysis are wired together here; the CLI only
parses arguments and prints."""
