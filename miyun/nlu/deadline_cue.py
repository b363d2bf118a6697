"""A dated deadline question is `ask_deadline_date`, whatever the model says.

"我是9月10号收到罚款决定书的，复议最晚哪天？" reads much like a reconsideration question; the
answer it needs is a computed date, so the rule is deterministic: a date the resident wrote
(miyun.deadlines.dates) plus a deadline cue (`regex: deadline_cue` in nlu/deadlines.yml), or a
message that is little more than a date (the reply to "告诉我具体日期"). Runs before
DangerOverride, so danger still wins.
"""
from __future__ import annotations

import datetime as dt
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

from miyun.deadlines import dates

# What may surround a bare date: "是9月10号收到的" is still just a date.
_FILLER = re.compile(r"[我是的了收到那天在就啊呢吧嗯哦对送达签领拿接这个当时。，,.!！？?\s]")


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class DeadlineCue(GraphComponent, IntentClassifier):
    """Sets `ask_deadline_date` for a date plus a deadline cue, or a bare date."""

    @classmethod
    def required_components(cls) -> List[Type]:
        return []

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"regex_name": "deadline_cue", "intent": "ask_deadline_date", "bare_date_max_rest": 2}

    def __init__(self, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
                 patterns: Optional[List[str]] = None) -> None:
        self._config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self.patterns = patterns or []
        self._compiled = re.compile("|".join(f"(?:{p})" for p in self.patterns)) if self.patterns else None

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "DeadlineCue":
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        self.patterns = [r["pattern"] for r in training_data.regex_features if r["name"] == self._config["regex_name"]]
        with self._model_storage.write_to(self._resource) as directory:
            (directory / "deadline_cue.json").write_text(json.dumps({"patterns": self.patterns}, ensure_ascii=False),
                                                         encoding="utf-8")
        return self._resource

    @classmethod
    def load(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> "DeadlineCue":
        try:
            with model_storage.read_from(resource) as directory:
                data = json.loads((directory / "deadline_cue.json").read_text(encoding="utf-8"))
        except (ValueError, FileNotFoundError):
            data = {}
        return cls(config, model_storage, resource, data.get("patterns"))

    def is_deadline_question(self, text: str) -> bool:
        # Which day "today" is does not matter for *whether* a date is there.
        found = dates.find(text, dt.date.today())
        if found is None:
            return False
        if self._compiled and self._compiled.search(text):
            return True
        rest = text[: found.span[0]] + text[found.span[1]:]
        return len(_FILLER.sub("", rest)) <= self._config["bare_date_max_rest"]

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            text = message.get(TEXT) or ""
            if not text or text.startswith("/") or not self.is_deadline_question(text):
                continue
            name = self._config["intent"]
            ranking = [r for r in (message.get("intent_ranking") or []) if r["name"] != name]
            top = {"name": name, "confidence": 1.0}
            message.set(INTENT, top, add_to_output=True)
            message.set("intent_ranking", [top] + ranking, add_to_output=True)
        return messages
