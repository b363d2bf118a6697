"""Sparse text features: jieba words, word bigrams and character 1–4-grams, TF-IDF weighted."""
from __future__ import annotations

import math
from collections import Counter
from typing import Dict, Iterable, List, Sequence

import numpy as np
from scipy.sparse import csr_matrix


LENGTH_BUCKETS = ((4, "xs"), (10, "s"), (20, "m"), (40, "l"))


def length_bucket(text: str) -> str:
    """Residents' long, story-like messages are nearly always legal questions; length is a signal."""
    n = len("".join(text.split()))
    return next((name for limit, name in LENGTH_BUCKETS if n <= limit), "xl")


def analyze(words: Sequence[str], text: str) -> List[str]:
    """Feature strings of one message."""
    feats = [f"w:{w}" for w in words]
    feats += [f"len:{length_bucket(text)}"] * 3
    feats += [f"b:{a}|{b}" for a, b in zip(words, words[1:])]
    chars = "".join(text.split()).lower()
    for n in (1, 2, 3, 4):
        feats += [f"c{n}:{chars[i:i + n]}" for i in range(len(chars) - n + 1)]
    return feats


class TfidfSpace:
    """A fitted vocabulary with smoothed IDF; transforms to L2-normalised sublinear TF-IDF rows."""

    def __init__(self, vocabulary: Dict[str, int], idf: np.ndarray) -> None:
        self.vocabulary = vocabulary
        self.idf = idf

    @classmethod
    def fit(cls, documents: Iterable[List[str]], min_df: int = 1) -> "TfidfSpace":
        docs = list(documents)
        df: Counter = Counter()
        for feats in docs:
            df.update(set(feats))
        kept = sorted(f for f, c in df.items() if c >= min_df)
        vocabulary = {f: i for i, f in enumerate(kept)}
        n = len(docs)
        idf = np.array([math.log((1 + n) / (1 + df[f])) + 1.0 for f in kept], dtype=np.float64)
        return cls(vocabulary, idf)

    def transform(self, documents: Iterable[List[str]]) -> csr_matrix:
        indptr, indices, values = [0], [], []
        for feats in documents:
            counts = Counter(self.vocabulary[f] for f in feats if f in self.vocabulary)
            row = sorted(counts.items())
            weights = np.array([(1.0 + math.log(c)) * self.idf[j] for j, c in row], dtype=np.float64)
            norm = float(np.sqrt((weights ** 2).sum())) or 1.0
            indices.extend(j for j, _ in row)
            values.extend((weights / norm).tolist())
            indptr.append(len(indices))
        return csr_matrix(
            (np.array(values, dtype=np.float64), np.array(indices, dtype=np.int64), np.array(indptr)),
            shape=(len(indptr) - 1, len(self.vocabulary)),
        )
