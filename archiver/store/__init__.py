"""The store: records in, rows out. It never does HTTP.

``save_page`` writes a ``Page`` in one transaction; the savers of its ``other`` record kinds are
listed in ``archiver.store.save.other_savers``; every table is declared once
(``archiver.store.schema.DECLARED``).
"""

from archiver.store.runs import finish_run, start_run
from archiver.store.save import Counts, other_savers, save_page
from archiver.store.schema import DECLARED, ensure_db_shape, open_db

__all__ = [
    "DECLARED", "Counts", "ensure_db_shape", "finish_run", "open_db", "other_savers",
    "save_page", "start_run",
]
