"""Dictionary entity extractor: longest match of lookup-table names, mapped through synonyms.

Chinese has no word boundaries, so Rasa's RegexEntityExtractor either misses
"古北口镇的" or over-matches; a longest-match scan over the normalised text does neither.
"""
from __future__ import annotations

import json
from typing import Any, Dict, List, Optional, Text, Tuple

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from miyun.text import normalize

Entry = Tuple[str, str, str]  # surface, entity, value


def find_entities(text: str, entries: List[Entry]) -> List[Dict[str, Any]]:
    """Longest non-overlapping matches of `entries` (sorted longest first) in `text`."""
    found: List[Dict[str, Any]] = []
    taken = [False] * len(text)
    for surface, entity, value in entries:
        start = text.find(surface)
        while start != -1:
            end = start + len(surface)
            if not any(taken[start:end]):
                found.append({"entity": entity, "start": start, "end": end, "value": value})
                for i in range(start, end):
                    taken[i] = True
            start = text.find(surface, end)
    return sorted(found, key=lambda e: e["start"])


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=True)
class GazetteerEntityExtractor(GraphComponent, EntityExtractorMixin):
    """Extracts entities named in lookup tables; synonyms give the canonical value."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"entities": ["town"]}

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        entries: Optional[List[Entry]] = None,
    ) -> None:
        self._config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self.entries = entries or []

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "GazetteerEntityExtractor":
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        wanted = set(self._config["entities"])
        canonical: Dict[str, str] = {}
        entries: Dict[str, Entry] = {}
        for table in training_data.lookup_tables:
            if table["name"] not in wanted:
                continue
            for name in table["elements"]:
                name = normalize(name)
                canonical[name] = table["name"]
                entries[name] = (name, table["name"], name)
        for surface, value in training_data.entity_synonyms.items():
            value = normalize(value)
            if value in canonical:
                surface = normalize(surface)
                entries[surface] = (surface, canonical[value], value)
        self.entries = sorted(entries.values(), key=lambda e: (-len(e[0]), e[0]))
        self.persist()
        return self._resource

    def persist(self) -> None:
        with self._model_storage.write_to(self._resource) as directory:
            (directory / "gazetteer.json").write_text(json.dumps(self.entries, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> "GazetteerEntityExtractor":
        try:
            with model_storage.read_from(resource) as directory:
                entries = [tuple(e) for e in json.loads((directory / "gazetteer.json").read_text(encoding="utf-8"))]
        except (ValueError, FileNotFoundError):
            entries = []
        return cls(config, model_storage, resource, entries)

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            text = message.get(TEXT) or ""
            if text.startswith("/"):
                continue
            found = self.add_extractor_name(find_entities(text, self.entries))
            message.set(ENTITIES, message.get(ENTITIES, []) + found, add_to_output=True)
        return messages
