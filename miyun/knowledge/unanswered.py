"""Group the questions the assistant could not answer, so staff see what content is missing."""
from __future__ import annotations

from dataclasses import dataclass, field


def _bigrams(text: str) -> set[str]:
    chars = "".join(ch for ch in text if ch.isalnum())
    return {chars[i : i + 2] for i in range(len(chars) - 1)} or {chars}


@dataclass
class Group:
    example: str
    questions: list[str] = field(default_factory=list)
    last_seen: str = ""

    @property
    def count(self) -> int:
        return len(self.questions)


def group(rows: list[dict], similarity: float = 0.5) -> list[Group]:
    """Greedy grouping by character-bigram Jaccard similarity; largest groups first."""
    groups: list[tuple[set[str], Group]] = []
    for row in rows:
        grams = _bigrams(row["normalized"])
        for seed, g in groups:
            if len(grams & seed) / max(len(grams | seed), 1) >= similarity:
                g.questions.append(row["question"])
                g.last_seen = max(g.last_seen, row["created_at"])
                break
        else:
            groups.append((grams, Group(row["question"], [row["question"]], row["created_at"])))
    return sorted((g for _, g in groups), key=lambda g: (-g.count, g.example))
