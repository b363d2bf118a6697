"""Chinese article search: normalise, segment with the project dictionary, expand synonyms,
rank with weighted BM25 over FTS5, and decide honestly whether the best hit is good enough."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional

from miyun.knowledge.store import ContentStore
from miyun.text import STOPWORDS, normalize

# Title and the residents' own phrasings say more about an article than its body does.
WEIGHTS = (6.0, 4.0, 1.0)
CANDIDATES = 20
# A term in more than this share of articles barely moves BM25 but makes FTS5 score almost
# every article; leaving it out keeps a search fast at 10,000 articles.
MAX_DOCUMENT_SHARE = 0.2
MIN_QUERY_TERMS = 3
# Long stories yield dozens of terms; the rarest ones carry the topic.
MAX_QUERY_TERMS = 32


def search_terms(text: str) -> list[str]:
    """Words for indexing and querying: jieba's search mode also yields the parts of long words."""
    import jieba

    out: list[str] = []
    for word in jieba.lcut_for_search(text):
        word = word.strip().lower()
        if word and word not in STOPWORDS and any(ch.isalnum() for ch in word):
            out.append(word)
    return out


def char_bigrams(text: str) -> list[str]:
    """Overlapping character pairs of each CJK run: robust to segmentation slips and typos."""
    out: list[str] = []
    run = ""
    for ch in text + " ":
        if "\u4e00" <= ch <= "\u9fff":
            run += ch
            continue
        out += [run[i : i + 2] for i in range(len(run) - 1)]
        run = ""
    return out


def index_terms(text: str) -> list[str]:
    """Words plus character bigrams: what the index and the query are both made of."""
    return search_terms(text) + char_bigrams(text)


def expand(text: str, synonyms: dict[str, str]) -> str:
    """Append the legal term for every colloquial variant found in the text."""
    extra = [term for variant, term in synonyms.items() if variant and variant in text]
    return " ".join([text, *extra]) if extra else text


def selective(terms: list[str], n_docs: int, frequencies: dict[str, int]) -> list[str]:
    """The query terms worth matching: indexed, and not in nearly every article (keep the rarest few)."""
    indexed = [t for t in dict.fromkeys(terms) if frequencies.get(t)]
    kept = [t for t in indexed if frequencies[t] <= MAX_DOCUMENT_SHARE * n_docs]
    if len(kept) < MIN_QUERY_TERMS:
        kept = sorted(indexed, key=lambda t: frequencies[t])[:MIN_QUERY_TERMS]
    return sorted(kept, key=lambda t: frequencies[t])[:MAX_QUERY_TERMS]


def match_expression(terms: list[str]) -> str:
    """An FTS5 OR-query of quoted terms."""
    unique = list(dict.fromkeys(terms))
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in unique)


@dataclass
class Hit:
    article: dict
    score: float


@dataclass
class SearchResult:
    query: str
    terms: list[str]
    hits: list[Hit] = field(default_factory=list)
    confidence: float = 0.0
    confident: bool = False

    @property
    def best(self) -> Optional[Hit]:
        return self.hits[0] if self.hits else None


def confidence(score: float, n_terms: int) -> float:
    """BM25 grows with query length; dividing by sqrt of the term count makes scores comparable."""
    return score / math.sqrt(max(n_terms, 1))


def search(store: ContentStore, text: str, threshold: float, limit: int = 3) -> SearchResult:
    """The best articles for a resident's question, best first."""
    query = normalize(text)
    terms = index_terms(expand(query, store.synonyms()))
    result = SearchResult(query=query, terms=terms)
    if not terms:
        return result
    rows = store.search(match_expression(selective(terms, *store.document_frequencies())), WEIGHTS, CANDIDATES)
    for row in rows[:limit]:
        article = store.article(row["id"])
        if article:
            result.hits.append(Hit(article, float(row["score"])))
    if result.hits:
        result.confidence = confidence(result.hits[0].score, len(set(terms)))
        result.confident = result.confidence >= threshold
    return result


def related(result: SearchResult, threshold: float, limit: int = 2, include_best: bool = False) -> list[Hit]:
    """Other articles close enough to be worth offering as buttons (never as the answer)."""
    if not result.hits:
        return []
    n = len(set(result.terms))
    pool = result.hits if include_best else result.hits[1:]
    return [h for h in pool if confidence(h.score, n) >= threshold * 0.6][:limit]
