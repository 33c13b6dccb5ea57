"""Runs the OPEN-1 check over the generated corpus and reports per reason code: precision, recall and
the confusion table (expected verdict down, given verdict across).

    .venv/bin/python -m devtools.photo_eval [--split report|tune] [--per-kind N] [--genuine N] [--seed-offset N]
"""

from __future__ import annotations

import argparse
from collections import Counter
from dataclasses import dataclass

from activities.identity_photo import check_photo
from activities.identity_registry import fingerprint
from devtools import photo_corpus
from models.policy import AuthenticationPolicy, load_policy


@dataclass
class Outcome:
    photo: photo_corpus.Photo
    got: str
    seconds: float


def evaluate(photos: list[photo_corpus.Photo], policy: AuthenticationPolicy | None = None) -> list[Outcome]:
    policy = policy or load_policy().authentication
    out = []
    for p in photos:
        result = check_photo(
            photo_corpus.jpeg(p), policy, id_fingerprint=fingerprint("id_card", p.registered_id)
        )
        got = "pass" if result.passed else result.refusal.code  # type: ignore[union-attr]
        out.append(Outcome(p, got, result.measures.get("seconds", 0.0)))
    return out


def report(outcomes: list[Outcome]) -> str:
    labels = sorted(
        {o.photo.expect for o in outcomes} | {o.got for o in outcomes}, key=lambda c: (c != "pass", c)
    )
    pairs = Counter((o.photo.expect, o.got) for o in outcomes)
    lines = ["verdict                         precision  recall   n"]
    for label in labels:
        tp = pairs[(label, label)]
        given = sum(v for (e, g), v in pairs.items() if g == label)
        actual = sum(v for (e, g), v in pairs.items() if e == label)
        prec = f"{tp / given:.2f}" if given else "  - "
        rec = f"{tp / actual:.2f}" if actual else "  - "
        lines.append(f"{label:<30}  {prec:>9}  {rec:>6}  {actual:>2}")
    short = {label: f"{i:>2}" for i, label in enumerate(labels)}
    lines.append("")
    lines.append("confusion (rows expected, columns given; column numbers are the row numbers)")
    lines.append(" " * 34 + " ".join(short[label] for label in labels))
    for label in labels:
        row = " ".join(f"{pairs[(label, g)]:>2}" if pairs[(label, g)] else " ." for g in labels)
        lines.append(f"{short[label]} {label:<30} {row}")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--split", choices=sorted(photo_corpus.SPLITS), default="report")
    ap.add_argument("--per-kind", type=int, default=2)
    ap.add_argument("--genuine", type=int, default=10)
    ap.add_argument("--seed-offset", type=int, default=0, help="another draw of the split")
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args()
    outcomes = evaluate(photo_corpus.corpus(a.split, a.per_kind, a.genuine, a.seed_offset))
    if a.verbose:
        for o in outcomes:
            mark = "ok " if o.got == o.photo.expect else "BAD"
            print(
                f"{mark} {o.photo.name:<30} {o.photo.expect:<28} {o.got:<28} {o.photo.design:<9} {o.photo.backdrop:<14} {o.seconds:.2f}s"
            )
    print(report(outcomes))


if __name__ == "__main__":
    main()
