"""ASSOC-3 candidate index, held in memory by each worker process; the product rows stay in the database.

Per product it keeps 25 text band keys (uint32) and up to 48 image words (20-bit), about 400 bytes, in
flat NumPy arrays: a lookup is a few binary searches and one bincount, whatever the catalogue size.
New products go to a small write buffer that is merged into the sorted arrays when it grows.

Consistency with the database: the index is keyed by ProductSignature.seq (an increasing integer
primary key). A process builds it from that table on first use and, before every lookup, reads the rows
it has not seen in a trailing window of seqs (an index range scan; the window covers transactions that
commit out of order), so products listed by other workers are found too. The index only proposes candidates: whether a candidate is still listed and belongs to
another store is read from the database with the candidate rows, so a take-down needs no index update.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from activities.copy_detection.image_signature import WORD_BITS
from activities.copy_detection.text_signature import BANDS

MERGE_AT = 10_000  # buffered products before the sorted arrays are rebuilt (seconds at 1M listings)
MAX_TEXT_CANDIDATES = 32
MAX_IMAGE_CANDIDATES = 16  # safe with the keypoint check (tune split: 8 kept fewer recoloured copies, no fewer look-alikes)
STOP_FRACTION = 0.002  # an image word in more than this share of products is a stop word (no evidence)


@dataclass
class Candidates:
    text: list[int]
    image: list[int]


@dataclass
class DuplicateIndex:
    """Not thread-safe: the activity's holder (activities/product_index.py) serialises access."""

    # text: per band, sorted keys and the seq of each
    band_keys: list[np.ndarray] = field(default_factory=lambda: [np.zeros(0, np.uint32)] * BANDS)
    band_rows: list[np.ndarray] = field(default_factory=lambda: [np.zeros(0, np.uint32)] * BANDS)
    # image: CSR postings, word -> seqs
    word_offsets: np.ndarray = field(default_factory=lambda: np.zeros((1 << WORD_BITS) + 1, np.int64))
    word_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint32))
    # row -> seq (rows are dense, so votes are a bincount; band entries hold rows too)
    row_seq: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    size: int = 0
    last_seq: int = 0
    _buf_seq: list[int] = field(default_factory=list)
    _buf_bands: list[np.ndarray] = field(default_factory=list)
    _buf_words: list[np.ndarray] = field(default_factory=list)

    def __len__(self) -> int:
        return self.size + len(self._buf_seq)

    # ------------------------------------------------------------ building

    def add(self, seq: int, bands: np.ndarray, image_words: np.ndarray) -> None:
        self._buf_seq.append(seq)
        self._buf_bands.append(bands.astype(np.uint32))
        self._buf_words.append(image_words.astype(np.uint32))
        self.last_seq = max(self.last_seq, seq)
        if len(self._buf_seq) >= MERGE_AT:
            self.merge()

    def add_many(self, seqs: np.ndarray, bands: np.ndarray, words: list[np.ndarray] | np.ndarray) -> None:
        """Bulk load (start-up rebuild, bench): seqs int64[n], bands uint32[n, BANDS], words per product."""
        self.merge()
        self._merge_arrays(np.asarray(seqs, np.int64), np.asarray(bands, np.uint32), words)

    def merge(self) -> None:
        if not self._buf_seq:
            return
        seqs = np.asarray(self._buf_seq, np.int64)
        bands, words = np.stack(self._buf_bands), self._buf_words
        self._buf_seq, self._buf_bands, self._buf_words = [], [], []
        self._merge_arrays(seqs, bands, words)

    def _merge_arrays(
        self, seqs: np.ndarray, bands: np.ndarray, words: list[np.ndarray] | np.ndarray
    ) -> None:
        rows = np.arange(self.size, self.size + len(seqs), dtype=np.uint32)
        for b in range(BANDS):
            keys = np.concatenate([self.band_keys[b], bands[:, b]])
            owners = np.concatenate([self.band_rows[b], rows])
            order = np.argsort(keys, kind="stable")
            self.band_keys[b], self.band_rows[b] = keys[order], owners[order]
        if isinstance(words, np.ndarray):  # one row of words per product (bulk load)
            lengths = np.full(len(words), words.shape[1], np.int64)
            new_words = words.ravel().astype(np.uint32)
        else:
            lengths = np.fromiter((len(w) for w in words), np.int64, len(words))
            new_words = np.concatenate(words).astype(np.uint32) if words else np.zeros(0, np.uint32)
        old_words = np.repeat(np.arange(1 << WORD_BITS, dtype=np.uint32), np.diff(self.word_offsets))
        all_words = np.concatenate([old_words, new_words])
        all_rows = np.concatenate([self.word_rows, np.repeat(rows, lengths)])
        order = np.argsort(all_words, kind="stable")
        self.word_rows = all_rows[order]
        self.word_offsets = np.concatenate([[0], np.cumsum(np.bincount(all_words, minlength=1 << WORD_BITS))])
        self.row_seq = np.concatenate([self.row_seq, seqs])
        self.size += len(seqs)
        if len(seqs):
            self.last_seq = max(self.last_seq, int(seqs.max()))

    # ------------------------------------------------------------ lookup

    def candidates(self, bands: np.ndarray, probes: np.ndarray) -> Candidates:
        return Candidates(self.text_candidates(bands), self.image_candidates(probes))

    def text_candidates(self, bands: np.ndarray) -> list[int]:
        """Products sharing a band with the text, most shared bands first (more bands, higher Jaccard)."""
        found = []
        for b in range(BANDS):
            keys = self.band_keys[b]
            lo, hi = np.searchsorted(keys, bands[b], "left"), np.searchsorted(keys, bands[b], "right")
            if hi > lo:
                found.append(self.row_seq[self.band_rows[b][lo:hi]])
        if self._buf_seq:
            shared = np.count_nonzero(np.stack(self._buf_bands) == bands, axis=1)
            found.append(np.repeat(np.asarray(self._buf_seq, np.int64), shared))
        if not found:
            return []
        seqs, counts = np.unique(np.concatenate(found), return_counts=True)
        top = np.argsort(-counts, kind="stable")[:MAX_TEXT_CANDIDATES]
        return [int(s) for s in seqs[top]]

    def image_candidates(self, probes: np.ndarray) -> list[int]:
        """Products whose words the query's features hit, weighted by rarity (idf), best first."""
        scores: dict[int, float] = {}
        total = max(2, self.size + len(self._buf_seq))
        if len(probes) and self.size:
            p = probes.astype(np.int64)
            lo, hi = self.word_offsets[p], self.word_offsets[p + 1]
            df = hi - lo
            keep = (df > 0) & (df <= max(50, STOP_FRACTION * total))
            lo, hi, df = lo[keep], hi[keep], df[keep]
            if len(df):
                # gather every posting at once: positions lo..hi-1 of each kept word
                starts = np.repeat(lo - np.cumsum(np.concatenate([[0], df[:-1]])), df)
                rows = self.word_rows[starts + np.arange(int(df.sum()))]
                weights = np.repeat(np.log(total / df).astype(np.float32), df)
                votes = np.bincount(rows, weights=weights)
                scores = {int(self.row_seq[r]): float(votes[r]) for r in _best_rows(rows, votes).tolist()}
        if self._buf_seq and len(probes):
            # the write buffer, vectorised: its words, whose product each is, and the same idf weights
            words = np.concatenate(self._buf_words).astype(np.int64)
            owner = np.repeat(np.arange(len(self._buf_words)), [len(w) for w in self._buf_words])
            hit = np.isin(words, probes.astype(np.int64))
            df = self.word_offsets[words[hit] + 1] - self.word_offsets[words[hit]] + 1
            votes = np.bincount(owner[hit], weights=np.log(total / df), minlength=len(self._buf_words))
            for i in np.flatnonzero(votes > 0).tolist():
                scores[self._buf_seq[i]] = float(votes[i])
        best = sorted(scores.items(), key=lambda kv: -kv[1])[:MAX_IMAGE_CANDIDATES]
        return [seq for seq, _ in best]

    def nbytes(self) -> int:
        arrays = [*self.band_keys, *self.band_rows, self.word_offsets, self.word_rows, self.row_seq]
        return sum(a.nbytes for a in arrays)


def _best_rows(rows: np.ndarray, votes: np.ndarray) -> np.ndarray:
    """At least MAX_IMAGE_CANDIDATES distinct rows among those hit (`rows`: one entry per posting, so a
    row hit by many words appears many times), the best voted, without sorting every row hit. A vote
    floor taken over postings would let one much-hit row fill the top entries alone, so the floor is
    lowered until enough distinct rows clear it."""
    hit_votes = votes[rows]
    k = 4 * MAX_IMAGE_CANDIDATES
    while True:
        k = min(len(hit_votes), k)
        floor = np.partition(hit_votes, len(hit_votes) - k)[len(hit_votes) - k]
        best = np.unique(rows[hit_votes >= floor])
        if len(best) >= MAX_IMAGE_CANDIDATES or k == len(hit_votes):
            return best
        k *= 4
