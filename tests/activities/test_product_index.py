"""ASSOC-3 duplicate distribution and OPEN-3 product checks, on a real SQLite file and real images."""

from __future__ import annotations

import zlib
from datetime import UTC, datetime

import pytest

from activities.identity_registry import linked_accounts
from activities.product_index import list_product
from activities.products.checks import product_refusal
from activities.storage.blobs import put_bytes
from devtools import photo_fixtures, picture_corpus, product_fixtures
from models.activity_io import ListProductInput
from models.contract import ProductInput
from models.policy import load_policy
from tests.support.draws import hex_id

POLICY = load_policy().association
NOW = datetime(2026, 6, 1, tzinfo=UTC)
IMAGE_EVIDENCE = ("local_features", "regions", "perceptual_hash")


def store() -> str:
    return "S" + hex_id(15).upper()


def release(member: str, product: ProductInput) -> object:
    return list_product(
        ListProductInput(
            member_id=member,
            product_id=f"{member}-P{hex_id(6)}",
            product=product,
            at=NOW,
            text_threshold=POLICY.text_similarity_threshold,
            image_max_distance=POLICY.image_hash_max_distance,
        )
    )


def original(n: int) -> tuple[ProductInput, object]:
    img = product_fixtures.image(n)
    return product_fixtures.product(n, put_bytes(product_fixtures.encode(img))), img


@pytest.fixture
def first_store(request: pytest.FixtureRequest) -> tuple[str, int]:
    member = store()
    # A fixed product per test (no unseeded draw); distinct per test so one test's listing is not another's.
    n = zlib.crc32(request.node.name.encode()) % 10**7
    result = release(member, original(n)[0])
    assert result.accepted  # type: ignore[attr-defined]
    return member, n


def test_exact_copy_is_refused_and_the_stores_linked(first_store: tuple[str, int]) -> None:
    owner, n = first_store
    copier = store()
    result = release(copier, original(n)[0])
    assert not result.accepted  # type: ignore[attr-defined]
    assert (result.refusal.rule, result.refusal.code) == ("ASSOC-3", "duplicate_product")  # type: ignore[attr-defined]
    assert owner not in result.refusal.message  # type: ignore[attr-defined] # named to operators only
    assert result.duplicate_of_member_id == owner  # type: ignore[attr-defined]
    assert [(x.rule, x.reason) for x in linked_accounts(copier)] == [("ASSOC-3", "duplicate_product")]


def test_reworded_title_with_a_new_image_is_caught_by_text(first_store: tuple[str, int]) -> None:
    _, n = first_store
    title, description, category = product_fixtures.listing(n)
    title2, description2 = product_fixtures.reworded(title, description)
    other_image = put_bytes(product_fixtures.encode(product_fixtures.image(n + 10**8)))
    result = release(store(), ProductInput(title2, description2, "18.50", category, other_image))
    assert result.refusal and result.refusal.code == "duplicate_product"  # type: ignore[attr-defined]
    assert result.text_similarity >= POLICY.text_similarity_threshold  # type: ignore[attr-defined]
    assert result.evidence == "text"  # type: ignore[attr-defined]


@pytest.mark.parametrize("how", ["resized", "recompressed"])
def test_copied_image_with_new_text_is_caught_by_image(first_store: tuple[str, int], how: str) -> None:
    _, n = first_store
    copy = product_fixtures.copycat_image(product_fixtures.image(n), how)
    title, description, category = product_fixtures.listing(n + 10**8)
    result = release(
        store(), ProductInput(title, description, "9.99", category, put_bytes(product_fixtures.encode(copy)))
    )
    assert result.refusal and result.refusal.code == "duplicate_product"  # type: ignore[attr-defined]
    assert result.image_distance <= POLICY.image_hash_max_distance  # type: ignore[attr-defined]
    assert result.evidence in IMAGE_EVIDENCE  # type: ignore[attr-defined]


def test_copied_flat_artwork_is_refused_naming_the_evidence() -> None:
    """A T-shirt print cropped, mirrored and tagged, listed by another store with its own text: refused,
    and the answer and the stores' link say which evidence decided (operators are shown it)."""
    n = picture_corpus.split("heldout", 13)
    owner, copier = store(), store()
    art = picture_corpus.flat_artwork(n)
    first = ProductInput("Cotton tee", "Printed T-shirt, organic cotton", "19.00", "apparel",
                         put_bytes(product_fixtures.encode(art)))  # fmt: skip
    assert release(owner, first).accepted  # type: ignore[attr-defined]
    copy = picture_corpus.copy_of(art, "crop_mirror_tag", n)
    second = ProductInput("Summer shirt", "Soft tee for the beach, all sizes", "9.00", "apparel",
                          put_bytes(product_fixtures.encode(copy)))  # fmt: skip
    result = release(copier, second)
    assert result.refusal and result.refusal.code == "duplicate_product"  # type: ignore[attr-defined]
    assert result.duplicate_of_member_id == owner  # type: ignore[attr-defined]
    assert result.evidence in IMAGE_EVIDENCE  # type: ignore[attr-defined]
    [link] = linked_accounts(copier)
    assert link.evidence.endswith(f" by {result.evidence}")  # type: ignore[attr-defined]


def test_unrelated_products_pass_and_a_store_may_relist_its_own(first_store: tuple[str, int]) -> None:
    owner, n = first_store
    for k in range(1, 6):
        assert release(store(), original(n + k * 7_919)[0]).accepted  # type: ignore[attr-defined]
    assert release(owner, original(n)[0]).accepted  # type: ignore[attr-defined]
    assert linked_accounts(owner) == []


BAD = {
    "empty title": (dict(title="  "), "empty_title"),
    "long title": (dict(title="x" * 201), "title_too_long"),
    "negative price": (dict(price="-5"), "bad_price"),
    "zero price": (dict(price="0"), "bad_price"),
    "absurd price": (dict(price="99999999"), "bad_price"),
    "not a number": (dict(price="cheap"), "bad_price"),
    "three decimals": (dict(price="1.999"), "bad_price"),
    "infinite": (dict(price="Infinity"), "bad_price"),
    "category": (dict(category="weapons"), "bad_category"),
    "control chars": (dict(title="Lamp\x00"), "control_characters"),
    "image ref": (dict(image_ref="http://example.com/x.jpg"), "bad_image_ref"),
}


@pytest.mark.parametrize("case", BAD, ids=list(BAD))
def test_bad_product_input_is_refused_with_a_reason(case: str) -> None:
    overrides, code = BAD[case]
    good = product_fixtures.product(1, "sha256:" + "a" * 64)
    fields = {**good.__dict__, **overrides}
    refusal = product_refusal(ProductInput(**fields))
    assert refusal is not None and (refusal.rule, refusal.code) == ("OPEN-3", code)
    assert product_refusal(good) is None


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"not an image at all" * 100, "not_an_image"),
        (b"", "image_empty"),
        (photo_fixtures.png_bomb(20_000), "image_too_large"),
        (product_fixtures.encode(product_fixtures.image(5).resize((60, 60))), "image_too_small"),
        (b"\xff\xd8\xff\xe0" + bytes(9_000_000), "image_too_large"),
    ],
    ids=["random", "empty", "bomb", "tiny", "oversize"],
)
def test_bad_product_images_are_refused(data: bytes, code: str) -> None:
    ref = put_bytes(data) if data else put_bytes(b"")
    product = product_fixtures.product(zlib.crc32(data[:64]) % 10**6, ref)
    result = release(store(), product)
    assert result.refusal is not None and result.refusal.code == code  # type: ignore[attr-defined]
