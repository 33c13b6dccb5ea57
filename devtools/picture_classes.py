"""The picture classes ASSOC-3 is scored on, each with its originals, look-alikes and unrelated pictures
for one split: studio shots (product_corpus.py), flat artwork, smooth photographs (generated:
picture_corpus.py) and real photographs from the scikit-image wheel, sorted by what they look like
(textured, smooth, flat). Used by bench/picture_bench.py and the tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from PIL import Image

from devtools import picture_corpus as pc
from devtools import product_corpus as studio

CLASSES = ("studio", "flat", "smooth", "real textured", "real smooth", "real flat")
# Real files by what they look like (the class a file is scored in; tune and held-out files apart)
REAL_KIND = {
    "astronaut.png": "textured", "brick.png": "textured", "coffee.png": "textured", "coins.png": "textured",
    "grass.png": "textured", "camera.png": "textured", "chelsea.png": "textured", "gravel.png": "textured",
    "hubble_deep_field.jpg": "textured", "motorcycle_left.png": "textured", "rocket.jpg": "textured",
    "clock_motion.png": "smooth", "ihc.png": "smooth", "cell.png": "smooth", "color.png": "smooth",
    "moon.png": "smooth", "retina.jpg": "smooth",
    "logo.png": "flat", "horse.png": "flat", "phantom.png": "flat",
}  # fmt: skip


@dataclass
class Original:
    cls: str
    key: str  # unique name of the original
    seed: int  # the copies' seed
    picture: Callable[[], Image.Image]
    lookalikes: list[Callable[[], Image.Image]]  # in the catalogue
    query_lookalikes: list[Callable[[], Image.Image]]  # asked as queries: must match nothing
    unrelated: Callable[[], Image.Image] | None  # a picture of another template, asked as a query


def _generated(cls: str, n: int, lookalikes: int = 5) -> Original:
    if cls == "studio":

        def draw(v: int) -> Callable[[], Image.Image]:
            return lambda: studio.studio_photo(n, v)

        far: Callable[[], Image.Image] = lambda: studio.studio_photo(n + 10**7)  # noqa: E731
    else:

        def draw(v: int) -> Callable[[], Image.Image]:
            return lambda: pc.picture(cls, n, v)

        far = lambda: pc.picture(cls, n + 10**7)  # noqa: E731
    return Original(cls, f"{cls}:{n}", n, draw(0), [draw(v) for v in (1, 2, 3)],
                    [draw(v) for v in range(4, 4 + lookalikes)], far)  # fmt: skip


def originals(
    split: str, per_class: int, classes: tuple[str, ...] = CLASSES, lookalikes: int = 5, first: int = 0
) -> Iterator[Original]:
    """Each generated original with three look-alikes in the catalogue and `lookalikes` asked as queries."""
    for cls in classes:
        if cls.startswith("real "):
            names = [f for f in pc.real_photos(split) if REAL_KIND[f] == cls[5:]]
            for i, f in enumerate(names):
                yield Original(cls, f"real:{f}", 1000 + i, lambda f=f: pc.real_photo(f), [], [], None)  # type: ignore[misc]
        else:
            for k in range(first, first + per_class):
                n = pc.split(split, k) if cls != "studio" else studio.split(split, k)
                yield _generated(cls, n, lookalikes)
