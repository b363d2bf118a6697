"""Graph component that normalises every message before tokenising."""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from miyun.text import normalize, normalize_aligned


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class TextNormalizer(GraphComponent):
    """Traditional → simplified, full-width → half-width, whitespace tidied."""

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "TextNormalizer":
        return cls()

    @staticmethod
    def supported_languages() -> Optional[List[Text]]:
        return ["zh"]

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        # Training examples carry entity offsets, so only the length-preserving part applies.
        for example in training_data.training_examples:
            text = example.get(TEXT)
            if text:
                example.set(TEXT, normalize_aligned(text))
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            text = message.get(TEXT)
            if text and not text.startswith("/"):
                message.set(TEXT, normalize(text))
        return messages
