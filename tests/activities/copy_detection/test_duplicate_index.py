"""The ASSOC-3 candidate index: what is in the write buffer is found as what is merged (seeded data)."""

from __future__ import annotations

import numpy as np

from activities.copy_detection.duplicate_index import DuplicateIndex
from activities.copy_detection.image_signature import WORD_BITS
from activities.copy_detection.text_signature import BANDS


def test_buffered_and_merged_listings_are_found_alike() -> None:
    rng = np.random.default_rng(20260601)
    n = 3000
    seqs = np.arange(1, n + 1)
    bands = rng.integers(0, 2**32, (n, BANDS), dtype=np.uint32)
    words = [rng.integers(0, 2**WORD_BITS, 48, dtype=np.uint32) for _ in range(n)]
    merged, buffered = DuplicateIndex(), DuplicateIndex()
    merged.add_many(seqs, bands, words)
    buffered.add_many(seqs[:2000], bands[:2000], words[:2000])
    for s, b, w in zip(seqs[2000:].tolist(), bands[2000:], words[2000:], strict=True):
        buffered.add(s, b, w)
    assert len(merged) == len(buffered) == n
    for q in (0, 1999, 2000, 2999):
        probes = np.unique(
            np.concatenate([words[q][:30], rng.integers(0, 2**WORD_BITS, 500, dtype=np.uint32)])
        )
        assert merged.image_candidates(probes)[0] == buffered.image_candidates(probes)[0] == q + 1
        one_band = bands[q].copy()
        one_band[1:] ^= np.uint32(1)  # only band 0 still shared
        assert merged.text_candidates(one_band) == buffered.text_candidates(one_band) == [q + 1]
    buffered.merge()
    assert buffered.size == n and buffered.image_candidates(np.unique(words[2500]))[0] == 2501


def test_products_hit_by_many_words_do_not_crowd_out_the_others() -> None:
    """The candidates are distinct products: a few listings sharing every word with the query (its
    look-alikes on one template) still leave room for the others that share fewer (a vote floor taken
    over postings once returned those few alone)."""
    from activities.copy_detection.duplicate_index import MAX_IMAGE_CANDIDATES

    rng = np.random.default_rng(20260602)
    query = np.unique(rng.integers(0, 2**WORD_BITS, 200, dtype=np.uint32))
    index = DuplicateIndex()
    crowd = [query[:48]] * 4  # seqs 1..4: hit by 48 words each
    crowd += [np.concatenate([query[k : k + 6], rng.integers(0, 2**WORD_BITS, 42, dtype=np.uint32)])
              for k in range(48, 48 + 6 * 20, 6)]  # fmt: skip  # seqs 5..24: 6 words each
    index.add_many(np.arange(1, len(crowd) + 1), np.zeros((len(crowd), BANDS), np.uint32), crowd)
    found = index.image_candidates(query)
    assert set(found[:4]) == {1, 2, 3, 4}
    assert len(found) == MAX_IMAGE_CANDIDATES and len(set(found)) == MAX_IMAGE_CANDIDATES
