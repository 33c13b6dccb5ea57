"""Runs the OPEN-1 check over the generated corpus (devtools/photo_corpus.py) and reports: the verdicts
(pass, refused with the right or a wrong reason, review), the done-when figures, precision and recall
per reason code, the confusion table, and failure rates per parameter bin, so that a weakness shows as
a region of the parameter space, not as an anecdote.

    .venv/bin/python -m devtools.photo_eval [--split report|tune] [--per-kind N] [--genuine N]
                                            [--seed-offset N] [--jobs N] [-v] [--against COMMIT]

`--against COMMIT` also runs the check as it was at COMMIT (devtools/photo_baseline.py) on the same
photos, in the same run, and prints both figures side by side ("before" and "after").

A photo "fails" in the parameter table when it is a genuine photo refused, a failing photo passed, or a
failing photo refused for the wrong reason; `review` is counted apart (undecided, not wrong).
"""

from __future__ import annotations

import argparse
import json
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from activities.identity_photo import check_photo
from activities.identity_registry import fingerprint
from devtools import photo_baseline, photo_corpus
from models.activity_io import PhotoCheckResult
from models.policy import AuthenticationPolicy, load_policy

REVIEW = "review"


@dataclass
class Outcome:
    photo: photo_corpus.Photo
    got: str  # pass, review, or the reason code
    seconds: float
    unsure: str = ""  # the cue that sent it to review
    evidence: dict[str, float] = field(default_factory=dict)  # the unsure cue's measures

    @property
    def wrong(self) -> bool:
        return self.got != REVIEW and self.got != self.photo.expect


def evaluate_in_parallel(photos: list[photo_corpus.Photo], jobs: int, against: str = "") -> list[Outcome]:
    """The same as `evaluate`, the photos dealt to `jobs` processes (each loads its own models)."""
    from concurrent.futures import ProcessPoolExecutor

    shards = [photos[i::jobs] for i in range(jobs)]
    with ProcessPoolExecutor(jobs) as pool:
        done = list(pool.map(evaluate, shards, [None] * jobs, [None] * jobs, [against] * jobs))
    by_name = {o.photo.name: o for shard in done for o in shard}
    return [by_name[p.name] for p in photos]


def evaluate(
    photos: list[photo_corpus.Photo],
    policy: AuthenticationPolicy | None = None,
    progress: Callable[[Outcome], None] | None = None,
    against: str = "",
) -> list[Outcome]:
    """Each photo's outcome; with `against` (a commit), the check as it was there instead."""
    policy = policy or load_policy().authentication
    check: Callable[..., PhotoCheckResult] = check_photo
    if against:
        verify = photo_baseline.verify_at(against)

        def check(data: bytes, policy: AuthenticationPolicy, *, id_fingerprint: str) -> PhotoCheckResult:
            return verify(data, policy, id_fingerprint=id_fingerprint).result  # type: ignore[attr-defined,no-any-return]

    out = []
    for p in photos:
        result = check(
            photo_corpus.encoded(p), policy, id_fingerprint=fingerprint("id_card", p.registered_id)
        )
        verdict = result.verdict
        got = verdict if verdict != "refused" else result.refusal.code  # type: ignore[union-attr]
        unsure = result.review.cue if result.review else ""
        evidence = result.review.measures if result.review else {}
        out.append(Outcome(p, got, result.measures.get("seconds", 0.0), unsure, evidence))
        if progress:
            progress(out[-1])
    return out


@dataclass
class Figures:
    photos: int
    genuine: int
    genuine_passed: int
    genuine_refused: int
    failing: int
    failing_passed: int
    reviewed: int
    decided_failures: int
    wrong_reason: int

    @property
    def decided_share(self) -> float:
        return 1 - self.reviewed / max(1, self.photos)

    @property
    def wrong_reason_share(self) -> float:
        return self.wrong_reason / max(1, self.decided_failures)

    def done(self) -> bool:
        """The issue's bar: no genuine photo refused, no failing photo passed, at least 85% decided,
        at most 3% of decided failures with the wrong reason."""
        return (
            self.genuine_refused == 0
            and self.failing_passed == 0
            and self.decided_share >= 0.85
            and self.wrong_reason_share <= 0.03
        )


def figures(outcomes: list[Outcome]) -> Figures:
    genuine = [o for o in outcomes if o.photo.expect == "pass"]
    failing = [o for o in outcomes if o.photo.expect != "pass"]
    decided_failures = [o for o in failing if o.got not in ("pass", REVIEW)]
    return Figures(
        photos=len(outcomes),
        genuine=len(genuine),
        genuine_passed=sum(o.got == "pass" for o in genuine),
        genuine_refused=sum(o.got not in ("pass", REVIEW) for o in genuine),
        failing=len(failing),
        failing_passed=sum(o.got == "pass" for o in failing),
        reviewed=sum(o.got == REVIEW for o in outcomes),
        decided_failures=len(decided_failures),
        wrong_reason=sum(o.got != o.photo.expect for o in decided_failures),
    )


def summary(outcomes: list[Outcome]) -> str:
    f = figures(outcomes)
    cues = Counter(o.unsure for o in outcomes if o.got == REVIEW)
    return "\n".join(
        [
            f"photos {f.photos}: genuine {f.genuine} (passed {f.genuine_passed}, refused {f.genuine_refused},"
            f" review {f.genuine - f.genuine_passed - f.genuine_refused}); failing {f.failing} (passed"
            f" {f.failing_passed})",
            f"decided automatically {f.decided_share:.1%} (review {f.reviewed}: "
            + ", ".join(f"{c} {n}" for c, n in cues.most_common())
            + ")",
            f"decided failures with the wrong reason {f.wrong_reason} of {f.decided_failures}"
            f" ({f.wrong_reason_share:.1%})",
            "failing photos passed by kind: "
            + (", ".join(f"{k} {n}" for k, n in sorted(passed_by_kind(outcomes).items())) or "none"),
            f"done-when bar {'met' if f.done() else 'NOT met'}",
        ]
    )


def passed_by_kind(outcomes: list[Outcome]) -> dict[str, int]:
    return dict(Counter(o.photo.kind for o in outcomes if o.photo.expect != "pass" and o.got == "pass"))


def compared(before: list[Outcome], after: list[Outcome]) -> str:
    """The done-when figures before and after, side by side (the same photos)."""
    b, a = figures(before), figures(after)
    rows = [
        ("genuine refused", f"{b.genuine_refused}/{b.genuine}", f"{a.genuine_refused}/{a.genuine}"),
        ("genuine passed", f"{b.genuine_passed}/{b.genuine}", f"{a.genuine_passed}/{a.genuine}"),
        ("failing passed", f"{b.failing_passed}/{b.failing}", f"{a.failing_passed}/{a.failing}"),
        ("decided automatically", f"{b.decided_share:.1%}", f"{a.decided_share:.1%}"),
        (
            "wrong reason (of decided failures)",
            f"{b.wrong_reason}/{b.decided_failures} ({b.wrong_reason_share:.1%})",
            f"{a.wrong_reason}/{a.decided_failures} ({a.wrong_reason_share:.1%})",
        ),
    ]
    kinds = sorted(set(passed_by_kind(before)) | set(passed_by_kind(after)))
    rows += [
        (f"  passed: {k}", str(passed_by_kind(before).get(k, 0)), str(passed_by_kind(after).get(k, 0)))
        for k in kinds
    ]
    lines = [f"{'':<36} {'before':>16} {'after':>16}"]
    lines += [f"{name:<36} {x:>16} {y:>16}" for name, x, y in rows]
    return "\n".join(lines)


def report(outcomes: list[Outcome]) -> str:
    labels = sorted(
        {o.photo.expect for o in outcomes} | {o.got for o in outcomes},
        key=lambda c: (c != "pass", c == REVIEW, c),
    )
    pairs = Counter((o.photo.expect, o.got) for o in outcomes)
    lines = ["verdict                         precision  recall    n"]
    for label in labels:
        tp = pairs[(label, label)]
        given = sum(v for (e, g), v in pairs.items() if g == label)
        actual = sum(v for (e, g), v in pairs.items() if e == label)
        prec = f"{tp / given:.2f}" if given and label != REVIEW else "  - "
        rec = f"{tp / actual:.2f}" if actual else "  - "
        lines.append(f"{label:<30}  {prec:>9}  {rec:>6}  {actual:>3}")
    short = {label: f"{i:>3}" for i, label in enumerate(labels)}
    lines.append("")
    lines.append("confusion (rows expected, columns given; column numbers are the row numbers)")
    lines.append(" " * 33 + " ".join(short[label] for label in labels))
    for label in labels:
        if not any(pairs[(label, g)] for g in labels):
            continue
        row = " ".join(f"{pairs[(label, g)]:>3}" if pairs[(label, g)] else "  ." for g in labels)
        lines.append(f"{short[label]} {label:<29} {row}")
    return "\n".join(lines)


def by_parameter(outcomes: list[Outcome], *, worst: int = 0) -> str:
    """Per parameter bin: photos, wrong (genuine refused, failing passed, wrong reason) and review
    shares. `worst`: only the bins with the highest wrong-or-review share, that many."""
    cells: dict[tuple[str, str], list[Outcome]] = defaultdict(list)
    for o in outcomes:
        for name, value in o.photo.params:
            cells[(name, value)].append(o)
    rows = []
    for (name, value), os in cells.items():
        wrong = sum(o.wrong for o in os) / len(os)
        review = sum(o.got == REVIEW for o in os) / len(os)
        rows.append((name, value, len(os), wrong, review))
    if worst:
        rows = sorted(rows, key=lambda r: (-(r[3] + r[4]), r[0], r[1]))[:worst]
    else:
        rows.sort(key=lambda r: (r[0], r[1]))
    lines = [f"{'parameter':<20} {'bin':<22} {'n':>4} {'wrong':>6} {'review':>7}"]
    lines += [f"{n:<20} {v:<22} {k:>4} {w:>6.0%} {r:>7.0%}" for n, v, k, w, r in rows]
    return "\n".join(lines)


def save(path: Path, outcomes: list[Outcome]) -> None:
    path.write_text(json.dumps([{**asdict(o), "photo": asdict(o.photo)} for o in outcomes]))


def load(path: Path) -> list[Outcome]:
    out = []
    for row in json.loads(path.read_text()):
        photo = row.pop("photo")
        photo["params"] = tuple(tuple(pair) for pair in photo["params"])
        out.append(Outcome(photo=photo_corpus.Photo(**photo), **row))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--split", choices=sorted(photo_corpus.SPLITS), default="report")
    ap.add_argument("--per-kind", type=int, default=2)
    ap.add_argument("--genuine", type=int, default=10)
    ap.add_argument("--seed-offset", type=int, default=0, help="another draw of the split")
    ap.add_argument("--worst", type=int, default=0, help="only the N worst parameter bins")
    ap.add_argument("--jobs", type=int, default=1, help="processes (the photos dealt among them)")
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("--save", type=Path, help="also write every outcome here (JSON), for --combine")
    ap.add_argument("--combine", type=Path, nargs="+", help="report on saved outcomes instead of running")
    ap.add_argument("--against", default="", help="a commit: its check too, on the same photos")
    a = ap.parse_args()
    if a.combine:
        outcomes = [o for path in a.combine for o in load(path)]
        befores = [p.with_suffix(".before.json") for p in a.combine]
        if all(p.exists() for p in befores):
            print(compared([o for p in befores for o in load(p)], outcomes), end="\n\n")
        print(summary(outcomes), report(outcomes), by_parameter(outcomes, worst=a.worst), sep="\n\n")
        return

    def show(o: Outcome) -> None:
        mark = "ok " if o.got == o.photo.expect else "rev" if o.got == REVIEW else "BAD"
        print(
            f"{mark} {o.photo.name:<30} {o.photo.expect:<28} {o.got:<28} {o.unsure:<22}"
            f" {o.photo.design:<9} {o.photo.backdrop:<26} {o.seconds:.2f}s"
            + ("  " + " ".join(f"{k}={v:.2f}" for k, v in o.evidence.items()) if o.evidence else ""),
            flush=True,
        )

    photos = photo_corpus.corpus(a.split, a.per_kind, a.genuine, a.seed_offset)
    if a.jobs > 1:
        outcomes = evaluate_in_parallel(photos, a.jobs)
        if a.verbose:
            for o in outcomes:
                show(o)
    else:
        outcomes = evaluate(photos, progress=show if a.verbose else None)
    if a.save:
        save(a.save, outcomes)
    if a.against:
        before = (
            evaluate_in_parallel(photos, a.jobs, a.against)
            if a.jobs > 1
            else evaluate(photos, against=a.against)
        )
        if a.save:
            save(a.save.with_suffix(".before.json"), before)
        print(f"before: the check at {a.against}; after: this one")
        print(compared(before, outcomes), end="\n\n")
    print(summary(outcomes))
    print()
    print(report(outcomes))
    print()
    print(by_parameter(outcomes, worst=a.worst))


if __name__ == "__main__":
    main()
