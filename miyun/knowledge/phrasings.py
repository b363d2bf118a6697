"""How close a question is to the ways each article says it can be asked.

Built at content build time from every article's title, questions and tags (no Rasa training):
sparse TF-IDF over character 1–3-grams (the intent classifier's technique, without its words),
so a typo, a traditional character left over or a missing word still shares most features.
Features are hashed (crc32) into a fixed space, so the model is a few plain arrays stored in
the content database: it belongs to one content version and is swapped in with it.

A logistic-regression article classifier on the same features took 50 s to train 117 articles
(too slow for a publish or a preview); a linear SVM fits 530 in about 4 s and is fused in as well
(`miyun.knowledge.classifier`). Similarity to the articles' own phrasings is free to "train" and,
fused with BM25 and the classifier by the reranker, does better than any of them alone.
"""
from __future__ import annotations

import math
import zlib
from collections import Counter
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np
from scipy.sparse import csr_matrix


BITS = 20
DIM = 1 << BITS
NGRAMS = (1, 2, 3)


def feature_strings(text: str) -> list[str]:
    """CJK character 1–3-grams of normalised text, and the other alphanumeric runs whole.

    Words from jieba were measured too: no better (recall@1 0.878 vs 0.885 on search_eval) and
    most of the build time, so the model is character n-grams only."""
    out = []
    run = other = ""
    for ch in text + " ":
        if "\u4e00" <= ch <= "\u9fff":
            run += ch
            if other:
                out.append(f"a:{other}")
                other = ""
            continue
        if ch.isalnum():
            other += ch.lower()
        elif other:
            out.append(f"a:{other}")
            other = ""
        for n in NGRAMS:
            out += [f"c{n}:{run[i:i + n]}" for i in range(len(run) - n + 1)]
        run = ""
    return out


def hashed(features: Iterable[str]) -> Counter:
    return Counter(zlib.crc32(f.encode("utf-8")) & (DIM - 1) for f in features)


@dataclass
class PhrasingModel:
    """IDF over hashed features, and one L2-normalised row per phrasing, labelled by article."""

    idf_index: np.ndarray  # sorted feature buckets that occur in some phrasing
    idf_value: np.ndarray
    matrix: csr_matrix  # phrasings × DIM
    row_article: np.ndarray  # article position of each row
    article_ids: list[str]

    def __post_init__(self) -> None:
        self._centroids = None
        self._inverted = None

    def centroids(self) -> csr_matrix:
        """One L2-normalised mean row per article (computed once per loaded model)."""
        if self._centroids is None:
            n_rows = self.matrix.shape[0]
            owner = csr_matrix((np.ones(n_rows, dtype=np.float32), (self.row_article, np.arange(n_rows))),
                               shape=(len(self.article_ids), n_rows))
            c = (owner @ self.matrix).tocsr()
            norms = np.sqrt(np.asarray(c.multiply(c).sum(axis=1)).ravel())
            norms[norms == 0] = 1.0
            self._centroids = csr_matrix(c.multiply(1.0 / norms[:, None]))
        return self._centroids

    @classmethod
    def fit(cls, phrasings: Sequence[tuple[str, str]]) -> "PhrasingModel":
        """`phrasings`: (article id, normalised text) pairs."""
        ids = list(dict.fromkeys(a for a, _ in phrasings))
        pos = {a: i for i, a in enumerate(ids)}
        counts = [hashed(feature_strings(t)) for _, t in phrasings]
        df: Counter = Counter()
        for c in counts:
            df.update(c.keys())
        n = len(counts)
        idf_index = np.array(sorted(df), dtype=np.int32)
        idf_value = np.array([math.log((1 + n) / (1 + df[int(j)])) + 1.0 for j in idf_index], dtype=np.float32)
        model = cls(idf_index, idf_value, csr_matrix((0, DIM), dtype=np.float32), np.array([pos[a] for a, _ in phrasings], dtype=np.int32), ids)
        model.matrix = model._rows(counts)
        return model

    def _idf(self, buckets: np.ndarray) -> np.ndarray:
        at = np.searchsorted(self.idf_index, buckets)
        at = np.minimum(at, max(len(self.idf_index) - 1, 0))
        known = self.idf_index[at] == buckets if len(self.idf_index) else np.zeros(len(buckets), bool)
        return np.where(known, self.idf_value[at] if len(self.idf_value) else 0.0, 0.0)

    def _rows(self, counts: list[Counter]) -> csr_matrix:
        """Sublinear TF × IDF, L2-normalised, for many documents at once (vectorised: a 10,000-article build)."""
        doc = np.fromiter((i for i, c in enumerate(counts) for _ in c), dtype=np.int64)
        keys = np.fromiter((k for c in counts for k in c), dtype=np.int64)
        tf = np.fromiter((v for c in counts for v in c.values()), dtype=np.float32)
        w = (1.0 + np.log(tf)) * self._idf(keys.astype(np.int32)) if len(keys) else tf
        keep = w > 0
        doc, keys, w = doc[keep], keys[keep], w[keep]
        order = np.lexsort((keys, doc))
        doc, keys, w = doc[order], keys[order], w[order].astype(np.float32)
        norms = np.sqrt(np.bincount(doc, weights=w.astype(np.float64) ** 2, minlength=len(counts)))
        norms[norms == 0] = 1.0
        w = (w / norms[doc]).astype(np.float32)
        indptr = np.concatenate([[0], np.cumsum(np.bincount(doc, minlength=len(counts)))]).astype(np.int64)
        return csr_matrix((w, keys.astype(np.int32), indptr), shape=(len(counts), DIM))

    def vector(self, text: str) -> csr_matrix:
        return self._rows([hashed(feature_strings(text))])

    def _transposed(self) -> tuple[csr_matrix, csr_matrix, np.ndarray]:
        """Feature → rows (an inverted index) for the phrasings and the centroids, and where each
        article's rows start (rows are stored article by article)."""
        if getattr(self, "_inverted", None) is None:
            starts = np.flatnonzero(np.r_[True, self.row_article[1:] != self.row_article[:-1]]) if len(self.row_article) else np.array([], dtype=np.int64)
            self._inverted = (self.matrix.T.tocsr(), self.centroids().T.tocsr(), starts)
        return self._inverted

    @staticmethod
    def _dot_rows(rows: csr_matrix, q: csr_matrix) -> np.ndarray:
        """rows @ q for a one-row query, in O(non-zeros of rows) (no conversion of q to columns)."""
        if rows.shape[0] == 0 or q.nnz == 0:
            return np.zeros(rows.shape[0], dtype=np.float32)
        at = np.minimum(np.searchsorted(q.indices, rows.indices), q.nnz - 1)
        contrib = np.where(q.indices[at] == rows.indices, q.data[at], 0.0) * rows.data
        sums = np.concatenate([[0.0], np.cumsum(contrib, dtype=np.float64)])
        return (sums[rows.indptr[1:]] - sums[rows.indptr[:-1]]).astype(np.float32)

    def similarities(self, q: csr_matrix, positions: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Per article (all, or those at `positions`): best cosine with one of its phrasings,
        and cosine with their mean. `q` is `vector(text)`."""
        n = len(self.article_ids)
        if q.nnz == 0:
            size = n if positions is None else len(positions)
            return np.zeros(size, dtype=np.float32), np.zeros(size, dtype=np.float32)
        if positions is None:
            inverted, inverted_centroids, starts = self._transposed()
            sims = (q @ inverted).toarray().ravel()
            best = np.maximum.reduceat(sims, starts) if len(starts) else np.zeros(0, dtype=np.float32)
            mean = (q @ inverted_centroids).toarray().ravel()
            return best, mean
        _, _, starts = self._transposed()
        ends = np.r_[starts[1:], len(self.row_article)]
        rows = np.concatenate([np.arange(starts[p], ends[p]) for p in positions]) if len(positions) else np.array([], dtype=np.int64)
        sims = self._dot_rows(self.matrix[rows], q)
        lengths = ends[positions] - starts[positions]
        offsets = np.r_[0, np.cumsum(lengths)[:-1]]
        best = np.maximum.reduceat(sims, offsets) if len(rows) else np.zeros(0, dtype=np.float32)
        mean = self._dot_rows(self.centroids()[positions], q)
        return best, mean

    # --------------------------------------------------------------- storage without pickle

    def to_blobs(self) -> dict[str, bytes]:
        m = self.matrix
        return {
            "idf_index": self.idf_index.astype(np.int32).tobytes(),
            "idf_value": self.idf_value.astype(np.float32).tobytes(),
            "indptr": m.indptr.astype(np.int64).tobytes(),
            "indices": m.indices.astype(np.int32).tobytes(),
            "data": m.data.astype(np.float32).tobytes(),
            "row_article": self.row_article.astype(np.int32).tobytes(),
            "article_ids": "\n".join(self.article_ids).encode("utf-8"),
        }

    @classmethod
    def from_blobs(cls, blobs: dict[str, bytes]) -> "PhrasingModel":
        indptr = np.frombuffer(blobs["indptr"], dtype=np.int64)
        matrix = csr_matrix(
            (np.frombuffer(blobs["data"], dtype=np.float32), np.frombuffer(blobs["indices"], dtype=np.int32), indptr),
            shape=(len(indptr) - 1, DIM),
        )
        ids = blobs["article_ids"].decode("utf-8").split("\n") if blobs["article_ids"] else []
        return cls(np.frombuffer(blobs["idf_index"], dtype=np.int32), np.frombuffer(blobs["idf_value"], dtype=np.float32),
                   matrix, np.frombuffer(blobs["row_article"], dtype=np.int32), ids)
