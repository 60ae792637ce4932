"""Archives for the reading-room tests and benchmark: a generated long thread saved through the
real store (so depth, path, exchanges and FTS are what a fetch would produce)."""

from __future__ import annotations

import random

from archiver.app.ingest import ingest
from archiver.kernel.records import Comment, Page, Post, Site, User

SITE = Site(id="lesswrong", name="LessWrong", url="https://www.lesswrong.com", kind="forummagnum")
NAMES = ["Ada Quint", "Ben Okoro", "Chen Wei", "Dara Hollis", "Eli Marsh", "Fay Lund"]
SENTENCES = [
    "The gate decides detection while the magnitude path is left unpenalised entirely.",
    "Feature splitting looks the same because gating only changes the magnitudes.",
    "At matched sparsity the reconstruction gap comes back for most of the features.",
    "Dead latents waste dictionary capacity unless the autoencoder is resampled often.",
    "A lower penalty buys a smaller norm gap by making the code less sparse overall.",
    "Untied weights let the magnitude path learn its own scale for every feature.",
]


def big_thread(db, size: int, post_id: str = "lesswrong:bigThread0001", seed: int = 7) -> str:
    """A post with ``size`` comments, nested up to depth ~10; about a third quote their parent."""
    rng = random.Random(seed)
    users = [User(id=f"lesswrong:u{i}", site_id="lesswrong", source_id=f"u{i}", name=name,
                  slug=name.lower().replace(" ", "-")) for i, name in enumerate(NAMES)]
    source = post_id.split(":", 1)[1]
    post = Post(id=post_id, site_id="lesswrong", source_id=source, title="A long debate",
                url=f"https://www.lesswrong.com/posts/{source}/a-long-debate",
                user_id=users[0].id, author=NAMES[0], posted_at="2024-06-01T00:00:00Z",
                body_html="".join(f"<p>{s}</p>" for s in SENTENCES))
    comments: list[Comment] = []
    depth: dict[str, int] = {}
    for i in range(size):
        parent = None
        if comments and rng.random() < 0.8:
            parent = rng.choice(comments[-50:])
            if depth[parent.id] >= 10:
                parent = None
        said = rng.sample(SENTENCES, 2)
        body = f"<p>{said[0]} {said[1]}</p><p>Comment number {i} adds a point of its own.</p>"
        if parent and rng.random() < 0.35:
            quoted = parent.body_html.split("</p>")[0].removeprefix("<p>").split(". ")[0]
            body = f"<blockquote><p>{quoted}</p></blockquote>" + body
        author = users[i % len(users)]
        comment = Comment(
            id=f"lesswrong:big{i:06d}", site_id="lesswrong", source_id=f"big{i:06d}",
            post_id=post_id, parent_id=parent.id if parent else None, user_id=author.id,
            author=author.name, posted_at=f"2024-06-{1 + i // 1440:02d}T{(i // 60) % 24:02d}:"
            f"{i % 60:02d}:00Z", url=f"{post.url}?commentId=big{i:06d}", score=i % 17,
            body_html=body)
        depth[comment.id] = depth[parent.id] + 1 if parent else 0
        comments.append(comment)
    ingest(db, [Page(sites=[SITE], users=users, posts=[post], comments=comments)], "test",
           "big-thread")
    return post_id
