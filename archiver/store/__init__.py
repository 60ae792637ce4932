"""The store: records in, rows out. It never does HTTP.

Importing the package loads every saver module (papers, sections, feeds through ``schema``; rows
here), so ``save_page`` knows every ``Page.other`` key whatever was imported first.
"""

from archiver.store import rows  # noqa: F401  (registers the "rows" saver)
from archiver.store.runs import finish_run, start_run
from archiver.store.save import OTHER_SAVERS, Counts, save_page
from archiver.store.schema import DECLARED, ensure_db_shape, open_db

__all__ = [
    "DECLARED", "OTHER_SAVERS", "Counts", "ensure_db_shape", "finish_run",
    "open_db", "save_page", "start_run",
]
