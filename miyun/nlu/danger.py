"""Safety net: a message that shows immediate danger is classified `emergency`, whatever the model says.

Patterns live in the NLU data as `regex: danger` entries, so staff can read them;
a miss here could cost a life, a false alarm only costs one extra line.
"""
from __future__ import annotations

import json
import re
from typing import Any, Dict, List, Optional, Text, Type

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

EMERGENCY = "emergency"


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class DangerOverride(GraphComponent, IntentClassifier):
    """Overrides the intent with `emergency` when a danger pattern matches."""

    @classmethod
    def required_components(cls) -> List[Type]:
        return []

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"regex_name": "danger", "exclude_regex_name": "not_danger"}

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        patterns: Optional[List[str]] = None,
        exclusions: Optional[List[str]] = None,
    ) -> None:
        self._config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self.patterns = patterns or []
        self.exclusions = exclusions or []
        self._compiled = re.compile("|".join(f"(?:{p})" for p in self.patterns)) if self.patterns else None
        self._excluded = re.compile("|".join(f"(?:{p})" for p in self.exclusions)) if self.exclusions else None

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "DangerOverride":
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        def named(name: str) -> List[str]:
            return [r["pattern"] for r in training_data.regex_features if r["name"] == name]

        self.patterns = named(self._config["regex_name"])
        self.exclusions = named(self._config["exclude_regex_name"])
        with self._model_storage.write_to(self._resource) as directory:
            (directory / "danger.json").write_text(
                json.dumps({"patterns": self.patterns, "exclusions": self.exclusions}, ensure_ascii=False),
                encoding="utf-8",
            )
        return self._resource

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> "DangerOverride":
        try:
            with model_storage.read_from(resource) as directory:
                data = json.loads((directory / "danger.json").read_text(encoding="utf-8"))
        except (ValueError, FileNotFoundError):
            data = {}
        return cls(config, model_storage, resource, data.get("patterns"), data.get("exclusions"))

    def is_danger(self, text: str) -> bool:
        """True when `text` matches a danger pattern and no exclusion."""
        if not self._compiled or not text or not self._compiled.search(text):
            return False
        return not (self._excluded and self._excluded.search(text))

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            text = message.get(TEXT) or ""
            if text.startswith("/") or not self.is_danger(text):
                continue
            ranking = [r for r in (message.get("intent_ranking") or []) if r["name"] != EMERGENCY]
            top = {"name": EMERGENCY, "confidence": 1.0}
            message.set(INTENT, top, add_to_output=True)
            message.set("intent_ranking", [top] + ranking, add_to_output=True)
        return messages
