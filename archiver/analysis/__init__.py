"""Analysis over the archive: quoted exchanges, paper mentions, topics and summaries.

Each module reads rows and writes derived tables; modules with ``after_fetch(db, changed)`` are
listed in ``archiver.app.ingest.ANALYSIS_HOOKS`` and run incrementally after every fetch.
"""
