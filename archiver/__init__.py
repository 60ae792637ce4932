"""archiver: forum threads, researcher profiles and papers in one SQLite database."""

__version__ = "0.1.0"
