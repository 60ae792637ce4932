"""A small archive of forum threads on three themes, built through the real store.

Used by the topic and summary tests. Bodies are HTML as ForumMagnum sends them (paragraphs, lists,
blockquotes, code), so they go through archiver.kernel.text like real threads do.
"""

from __future__ import annotations

from archiver.app.ingest import ingest
from archiver.kernel.records import Comment, Page, Post, Site, Tag

SITE = Site(id="lesswrong", name="LessWrong", url="https://www.lesswrong.com", kind="forummagnum")
INTERP = Tag(id="lesswrong:tag-interp", site_id="lesswrong", name="Interpretability (ML & AI)")
REWARD = Tag(id="lesswrong:tag-reward", site_id="lesswrong", name="Reward Hacking")
FORECAST = Tag(id="lesswrong:tag-forecast", site_id="lesswrong", name="Forecasting")

THEMES = {
    "interp": (INTERP, [
        "Sparse autoencoders decompose residual stream activations into interpretable features.",
        "Dictionary learning on transformer activations recovers monosemantic features.",
        "Feature splitting appears when the sparse autoencoder dictionary grows larger.",
        "Attribution graphs trace how features in one layer drive features in later layers.",
        "Dead latents waste dictionary capacity unless the sparse autoencoder is resampled.",
        "Circuits found with activation patching explain how the model completes the task.",
    ]),
    "reward": (REWARD, [
        "Reward hacking happens when the policy exploits flaws in the learned reward model.",
        "RLHF policies learn sycophancy because human raters reward agreeable answers.",
        "A KL penalty keeps the fine-tuned policy close to the pretrained reference model.",
        "Specification gaming examples show agents optimising the literal reward signal.",
        "Reward model overoptimisation follows predictable scaling laws in Goodhart plots.",
        "Preference data from raters is noisy, so the reward model learns their biases.",
    ]),
    "forecast": (FORECAST, [
        "Forecasting AI timelines relies on compute trends and algorithmic progress estimates.",
        "Prediction markets aggregate forecasts about when transformative AI will arrive.",
        "Biological anchors estimate training compute by comparison with the human brain.",
        "Superforecasters and domain experts disagree sharply on extinction probabilities.",
        "Calibration training improves forecasts on questions that resolve within a year.",
        "Metaculus questions about AGI arrival dates shifted earlier after large models appeared.",
    ]),
}
AUTHORS = ["alice", "bob", "carol", "dave", "erin", "frank"]


def _p(*sentences: str) -> str:
    return "".join(f"<p>{s}</p>" for s in sentences)


def theme_posts(theme: str, count: int = 5, month: int = 1) -> tuple[list[Post], list[Comment]]:
    """``count`` threads on one theme, each with three comments, posted in ``month`` of 2024."""
    tag, pool = THEMES[theme]
    posts, comments = [], []
    for i in range(count):
        post_id = f"lesswrong:{theme}{i}"
        first = pool[i % len(pool)]
        body = _p(first + " " + pool[(i + 1) % len(pool)],
                  pool[(i + 2) % len(pool)] + " This matters for alignment research.")
        posts.append(Post(
            id=post_id, site_id="lesswrong", source_id=f"{theme}{i}",
            url=f"https://www.lesswrong.com/posts/{theme}{i}/slug", title=f"{theme.title()} {i}",
            user_id=None, author=AUTHORS[i % len(AUTHORS)],
            posted_at=f"2024-{month:02d}-{i + 1:02d}T10:00:00Z", score=20 + i,
            body_html=body, tags=[tag]))
        for j in range(3):
            sentence = pool[(i + j + 3) % len(pool)]
            comments.append(Comment(
                id=f"lesswrong:{theme}{i}c{j}", site_id="lesswrong", source_id=f"{theme}{i}c{j}",
                post_id=post_id, author=AUTHORS[(i + j + 1) % len(AUTHORS)],
                url=f"https://www.lesswrong.com/posts/{theme}{i}/slug?commentId={theme}{i}c{j}",
                posted_at=f"2024-{month:02d}-{i + 1:02d}T1{j + 1}:00:00Z", score=j * 3,
                body_html=_p(f"I think {sentence[0].lower()}{sentence[1:]}",
                             "Here is a second point about the same question, with some detail.")))
    return posts, comments


def build(db, themes: tuple[str, ...] = ("interp", "reward", "forecast"), count: int = 5) -> None:
    posts, comments = [], []
    for month, theme in enumerate(themes, 1):
        p, c = theme_posts(theme, count, month)
        posts += p
        comments += c
    ingest(db, [Page(sites=[SITE], posts=posts, comments=comments)], "test", "threads")


def add(db, posts: list[Post] = (), comments: list[Comment] = ()):
    """Save more items the way a fetch does (topics update through after_fetch)."""
    return ingest(db, [Page(sites=[SITE], posts=list(posts), comments=list(comments))], "test", "x")
