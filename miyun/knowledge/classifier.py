"""A linear article classifier over the phrasing model's features: which article a message is
most like, learnt from every article's phrasings at once rather than one phrasing at a time.

Nearest-phrasing similarity (`phrasings.PhrasingModel`) asks "which single phrasing is closest";
the classifier weighs every character n-gram by how well it tells one article from the others,
so the legal words of a long story count and the story around them does not. Measured on the
calibration sets before it went in: alone as good as the matcher, and right where the matcher is
wrong often enough that fused into the reranker both recall@1 and recall@3 rose.

A linear SVM (liblinear, one article against the rest) fits in seconds at content build time.
Its weights are dense (articles × features); near-zero weights are dropped (on the calibration
sets dropping |w| < 0.02 changed recall@1 by under half a point) so the stored model is a few MB
of sparse arrays, without pickle, in the content database with its version.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
from scipy.sparse import csr_matrix, vstack

from miyun.knowledge.phrasings import PhrasingModel

C = 0.5
PRUNE = 0.02
# Features in fewer phrasings than this are left out (half the fit's memory, same recall).
MIN_ROWS = 2
# One-against-the-rest is exact per article, so articles are fitted in chunks to bound memory.
CHUNK = 128
# Above this many articles the classifier is not built (fit time grows with articles × phrasings);
# the reranker then sees its features as zero.
MAX_ARTICLES = 2000


@dataclass
class ArticleClassifier:
    """Sparse weights (articles × used features) and a bias per article, aligned to the phrasing model's articles."""

    columns: np.ndarray  # the hashed feature buckets the weights are over, sorted
    weights: csr_matrix
    intercept: np.ndarray

    @classmethod
    def fit(cls, model: PhrasingModel) -> Optional["ArticleClassifier"]:
        """Fit on the model's phrasing rows; None when there are too few or too many articles."""
        n_articles = len(model.article_ids)
        if not 3 <= n_articles <= MAX_ARTICLES:
            return None
        from sklearn.svm import LinearSVC  # only at build time: the action server never imports sklearn

        counts = np.bincount(model.matrix.indices, minlength=model.matrix.shape[1])
        columns = np.flatnonzero(counts >= MIN_ROWS).astype(np.int32)
        X = model.matrix[:, columns].tocsr()
        y = np.asarray(model.row_article)
        parts, intercept = [], np.zeros(n_articles, dtype=np.float32)
        for start in range(0, n_articles, CHUNK):
            chunk = np.arange(start, min(start + CHUNK, n_articles))
            labels = np.where(np.isin(y, chunk), y, -1)  # -1: every other article
            svc = LinearSVC(C=C).fit(X, labels)
            coef = svc.coef_ if len(svc.classes_) > 2 else np.vstack([-svc.coef_[0], svc.coef_[0]])
            bias = svc.intercept_ if len(svc.classes_) > 2 else np.array([-svc.intercept_[0], svc.intercept_[0]])
            rows = np.zeros((len(chunk), X.shape[1]), dtype=np.float32)
            for k, label in enumerate(svc.classes_):
                if label >= 0:
                    rows[label - start] = coef[k]
                    intercept[label] = bias[k]
            rows[np.abs(rows) < PRUNE] = 0.0
            parts.append(csr_matrix(rows))
        return cls(columns, vstack(parts).tocsr().astype(np.float32), intercept)

    def __post_init__(self) -> None:
        self._by_feature: Optional[csr_matrix] = None

    def scores(self, q: csr_matrix) -> np.ndarray:
        """One decision value per article for a one-row query (`PhrasingModel.vector`).

        Only the query's own features are looked up (a query has ~100 of the model's ~30,000), in
        the weights stored feature by feature: a few hundred microseconds, not a full product."""
        if self._by_feature is None:
            self._by_feature = self.weights.T.tocsr()
        at = np.searchsorted(self.columns, q.indices)
        at = np.minimum(at, max(len(self.columns) - 1, 0))
        known = (self.columns[at] == q.indices) if len(self.columns) else np.zeros(len(q.indices), bool)
        if not known.any():
            return self.intercept.copy()
        rows = self._by_feature[at[known]]
        return np.asarray(rows.T @ q.data[known]).ravel() + self.intercept

    # --------------------------------------------------------------- storage without pickle

    def to_blobs(self) -> dict[str, bytes]:
        w = self.weights
        return {
            "columns": self.columns.astype(np.int32).tobytes(),
            "indptr": w.indptr.astype(np.int64).tobytes(),
            "indices": w.indices.astype(np.int32).tobytes(),
            "data": w.data.astype(np.float32).tobytes(),
            "intercept": self.intercept.astype(np.float32).tobytes(),
        }

    @classmethod
    def from_blobs(cls, blobs: dict[str, bytes]) -> Optional["ArticleClassifier"]:
        if not blobs.get("indptr"):
            return None
        columns = np.frombuffer(blobs["columns"], dtype=np.int32)
        indptr = np.frombuffer(blobs["indptr"], dtype=np.int64)
        weights = csr_matrix((np.frombuffer(blobs["data"], dtype=np.float32), np.frombuffer(blobs["indices"], dtype=np.int32), indptr),
                             shape=(len(indptr) - 1, len(columns)))
        return cls(columns, weights, np.frombuffer(blobs["intercept"], dtype=np.float32))
