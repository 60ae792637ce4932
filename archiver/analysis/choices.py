"""The fixed vocabularies the analysis modules accept, in a module that imports nothing, so the
command line can list them (``--kind``, ``--format``) without loading numpy or scikit-learn."""

# Where a quote's source was found (archiver.analysis.exchanges).
EXCHANGE_KINDS = ("parent", "ancestor", "post", "thread", "archive", "external", "unresolved")
# Kinds of topic (archiver.analysis.topics).
TOPIC_KINDS = ("tag", "arxiv", "blog-section", "user", "discovered")
# Report formats (archiver.analysis.report).
REPORT_FORMATS = ("markdown", "html", "json")
