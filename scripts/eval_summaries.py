"""ROUGE of archiver's extractive summariser against Lead-k and sumy's LexRank.

Data: no public *thread* summarisation set ships inside a package the registries serve (SAMSum,
DialogSum, Reddit TIFU, BC3, EmailSum, ConvoSumm are all downloads from their own hosts). The
public sets that do ship are in BIG-bench's PyPI sdist (``bigbench==1.0.0``, Apache-2.0):

- ``gem/wikilingua_en`` (WikiHow how-to pages, multi-paragraph, multi-sentence references),
- ``factuality_of_summary/cnn_dm.json`` (150 CNN/DailyMail articles with their highlights),
- ``gem/xsum`` (BBC articles, one-sentence references).

Run (dev only; nothing here is a runtime or test dependency)::

    pip install -e ".[eval]"                    # sumy and rouge-score
    python scripts/eval_summaries.py            # downloads the bigbench sdist once (~360 MB)
    python scripts/eval_summaries.py --data DIR --limit 300

``--data`` points at an unpacked ``bigbench-1.0.0`` folder; without it the sdist is fetched with
``pip download`` into ``~/.cache/archiver-eval`` and the three files are extracted.

sumy needs NLTK's punkt data, which pip does not install; it is given archiver's own sentence
splitter and a regex word tokenizer instead, so all systems see the same sentences.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tarfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from archiver.analysis import sentences as splitter  # noqa: E402
from archiver.analysis import summarize  # noqa: E402

CACHE = Path(os.environ.get("ARCHIVER_EVAL_CACHE", Path.home() / ".cache" / "archiver-eval"))
FILES = {
    "wikilingua_en": "bigbench/benchmark_tasks/gem/wikilingua_en/task.json",
    "cnn_dm": "bigbench/benchmark_tasks/factuality_of_summary/cnn_dm.json",
    "xsum": "bigbench/benchmark_tasks/gem/xsum/task.json",
}
# Sentences per summary: about the references' length.
K = {"wikilingua_en": 3, "cnn_dm": 3, "xsum": 1}


def fetch(data: Path | None) -> Path:
    if data:
        return data
    root = CACHE / "bigbench-1.0.0"
    if all((root / f).exists() for f in FILES.values()):
        return root
    CACHE.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                    "-d", str(CACHE), "bigbench==1.0.0"], check=True)
    with tarfile.open(CACHE / "bigbench-1.0.0.tar.gz") as tar:
        members = [m for m in tar.getmembers()
                   if any(m.name == f"bigbench-1.0.0/{f}" for f in FILES.values())]
        tar.extractall(CACHE, members=members)
    return root


def load(root: Path, name: str, limit: int) -> list[tuple[str, str]]:
    """(document, reference) pairs."""
    path = root / FILES[name]
    pairs = []
    if name == "cnn_dm":
        with open(path, encoding="utf-8") as handle:
            lines = [line for line in handle if not line.startswith("#")]
        for line in lines:
            row = json.loads(line)
            pairs.append((row["source"], row["list_candidates"][row["lbl"]]))
    else:
        for example in json.loads(path.read_text(encoding="utf-8"))["examples"]:
            target = example["target"]
            pairs.append((example["input"], target if isinstance(target, str) else target[0]))
    return pairs[:limit]


def paragraphs(document: str) -> str:
    """WikiLingua separates steps with two spaces; make them paragraphs as a forum body would."""
    return re.sub(r" {2,}", "\n\n", document)


def ours(document: str, k: int) -> list[str]:
    units = summarize.units_from_text(document, "doc")
    for i, unit in enumerate(units):
        unit.order = i
    return [u.text for u in summarize.rank(units, k, max_chars=None)]


def lead(document: str, k: int) -> list[str]:
    return [s.text for s in splitter.split(document) if s.kind in ("prose", "item")][:k]


class Tokenizer:
    """sumy's tokenizer interface without NLTK's punkt data."""

    language = "english"

    def to_sentences(self, paragraph: str) -> list[str]:
        return splitter.split_sentences(paragraph)

    def to_words(self, sentence: str) -> list[str]:
        return re.findall(r"\w+(?:'\w+)?", sentence)


def sumy_lexrank():
    from sumy.nlp.stemmers import Stemmer
    from sumy.parsers.plaintext import PlaintextParser
    from sumy.summarizers.lex_rank import LexRankSummarizer
    from sumy.utils import get_stop_words

    summarizer = LexRankSummarizer(Stemmer("english"))
    summarizer.stop_words = get_stop_words("english")
    tokenizer = Tokenizer()

    def run(document: str, k: int) -> list[str]:
        parsed = PlaintextParser.from_string(document, tokenizer)
        return [str(s) for s in summarizer(parsed.document, k)]

    return run


def evaluate(pairs, k: int, systems: dict) -> dict:
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeLsum"], use_stemmer=True)
    results = {}
    for name, system in systems.items():
        totals = {"rouge1": 0.0, "rouge2": 0.0, "rougeLsum": 0.0}
        started = time.perf_counter()
        for document, reference in pairs:
            summary = "\n".join(system(document, k))
            scores = scorer.score("\n".join(splitter.split_sentences(reference)) or reference,
                                  summary)
            for key in totals:
                totals[key] += scores[key].fmeasure
        elapsed = time.perf_counter() - started
        results[name] = {key: round(100 * v / len(pairs), 2) for key, v in totals.items()}
        results[name]["seconds"] = round(elapsed, 2)
    return results


EVAL_PACKAGES = {"sumy": "sumy", "rouge_score": "rouge-score"}  # module -> distribution


def missing_packages() -> list[str]:
    """The distributions of the eval extra that cannot be imported here."""
    import importlib.util

    return [dist for module, dist in EVAL_PACKAGES.items()
            if importlib.util.find_spec(module) is None]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, help="an unpacked bigbench-1.0.0 folder")
    parser.add_argument("--limit", type=int, default=1000, help="documents per data set")
    parser.add_argument("--skip", type=int, default=0,
                        help="leave out the first N documents (100 were used to tune; CNN/DM 75)")
    parser.add_argument("--sets", default="wikilingua_en,cnn_dm,xsum")
    args = parser.parse_args()
    missing = missing_packages()
    if missing:
        sys.exit(f"eval_summaries.py needs {' and '.join(missing)}: "
                 'pip install -e ".[eval]"')
    root = fetch(args.data)
    systems = {"archiver": ours, "lead-k": lead, "sumy-lexrank": sumy_lexrank()}
    print("| data set | n | k | system | ROUGE-1 | ROUGE-2 | ROUGE-Lsum | seconds |")
    print("|---|---|---|---|---|---|---|---|")
    for name in args.sets.split(","):
        pairs = load(root, name, args.limit + args.skip)
        pairs = pairs[min(args.skip, len(pairs) // 2):]
        if name == "wikilingua_en":
            pairs = [(paragraphs(d), r) for d, r in pairs]
        for system, s in evaluate(pairs, K[name], systems).items():
            print(f"| {name} | {len(pairs)} | {K[name]} | {system} | {s['rouge1']} | "
                  f"{s['rouge2']} | {s['rougeLsum']} | {s['seconds']} |", flush=True)


if __name__ == "__main__":
    main()
