"""A sparse TF-IDF + logistic-regression intent classifier that saves plain arrays.

Rasa's own sklearn classifiers save with skops, whose import costs seconds at start-up
beside TensorFlow; this one loads a JSON file and two .npy arrays in milliseconds.
"""
from __future__ import annotations

import json
import logging
from typing import Any, Dict, List, Optional, Text, Type

import numpy as np

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.nlu.tokenizers.tokenizer import Tokenizer
from rasa.shared.nlu.constants import INTENT, TEXT, TEXT_TOKENS
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from miyun.nlu.features import TfidfSpace, analyze

logger = logging.getLogger(__name__)


def _features(message: Message) -> List[str]:
    tokens = message.get(TEXT_TOKENS) or []
    words = [t.text for t in tokens if t.text.strip()]
    return analyze(words, message.get(TEXT) or "")


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class SparseIntentClassifier(GraphComponent, IntentClassifier):
    """Word and character n-gram TF-IDF features, multinomial logistic regression."""

    @classmethod
    def required_components(cls) -> List[Type]:
        return [Tokenizer]

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            # Regularisation strengths tried by cross-validation; the best is kept.
            "c_grid": [10.0, 30.0],
            # Features seen once are mostly noise, and dropping them makes training ~8x faster.
            "min_df": 2,
            # Not "balanced": ask_legal_question really is the most common message, and its
            # prior keeps long, unseen legal stories out of the fallback.
            "class_weight": None,
            "cv_folds": 3,
            "max_iter": 2000,
            "ranking_length": 10,
            "random_state": 42,
        }

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        space: Optional[TfidfSpace] = None,
        coef: Optional[np.ndarray] = None,
        intercept: Optional[np.ndarray] = None,
        classes: Optional[List[str]] = None,
    ) -> None:
        self.config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self.space = space
        self.coef = coef
        self.intercept = intercept
        self.classes = classes or []

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "SparseIntentClassifier":
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import GridSearchCV, StratifiedKFold

        examples = [e for e in training_data.intent_examples if e.get(INTENT) and e.get(TEXT)]
        if not examples:
            return self._resource
        docs = [_features(e) for e in examples]
        labels = [e.get(INTENT) for e in examples]
        self.space = TfidfSpace.fit(docs, min_df=self.config["min_df"])
        X = self.space.transform(docs)
        base = LogisticRegression(max_iter=self.config["max_iter"], class_weight=self.config["class_weight"])
        folds = min(self.config["cv_folds"], min(labels.count(c) for c in set(labels)))
        if folds >= 2 and len(self.config["c_grid"]) > 1:
            search = GridSearchCV(
                base,
                {"C": self.config["c_grid"]},
                cv=StratifiedKFold(folds, shuffle=True, random_state=self.config["random_state"]),
                n_jobs=1,
            )
            search.fit(X, labels)
            model = search.best_estimator_
            logger.info("SparseIntentClassifier: C=%s (cv accuracy %.3f)", search.best_params_["C"], search.best_score_)
        else:
            model = base.set_params(C=self.config["c_grid"][0]).fit(X, labels)
        self.coef = model.coef_.astype(np.float64)
        self.intercept = model.intercept_.astype(np.float64)
        self.classes = [str(c) for c in model.classes_]
        self.persist()
        return self._resource

    def persist(self) -> None:
        with self._model_storage.write_to(self._resource) as directory:
            (directory / "model.json").write_text(
                json.dumps({"classes": self.classes, "vocabulary": self.space.vocabulary}, ensure_ascii=False),
                encoding="utf-8",
            )
            np.save(directory / "idf.npy", self.space.idf, allow_pickle=False)
            np.save(directory / "coef.npy", self.coef, allow_pickle=False)
            np.save(directory / "intercept.npy", self.intercept, allow_pickle=False)

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> "SparseIntentClassifier":
        try:
            with model_storage.read_from(resource) as directory:
                meta = json.loads((directory / "model.json").read_text(encoding="utf-8"))
                space = TfidfSpace(meta["vocabulary"], np.load(directory / "idf.npy", allow_pickle=False))
                coef = np.load(directory / "coef.npy", allow_pickle=False)
                intercept = np.load(directory / "intercept.npy", allow_pickle=False)
        except (ValueError, FileNotFoundError):
            logger.warning("SparseIntentClassifier: no trained model found; predicting nothing.")
            return cls(config, model_storage, resource)
        return cls(config, model_storage, resource, space, coef, intercept, meta["classes"])

    def predict_proba(self, messages: List[Message]) -> np.ndarray:
        X = self.space.transform(_features(m) for m in messages)
        logits = X @ self.coef.T + self.intercept
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return exp / exp.sum(axis=1, keepdims=True)

    def process(self, messages: List[Message]) -> List[Message]:
        if self.space is None or not self.classes:
            return messages
        todo = [m for m in messages if m.get(TEXT)]
        if not todo:
            return messages
        for message, probs in zip(todo, self.predict_proba(todo)):
            order = np.argsort(-probs)
            ranking = [{"name": self.classes[i], "confidence": float(probs[i])} for i in order]
            message.set(INTENT, ranking[0], add_to_output=True)
            message.set("intent_ranking", ranking[: self.config["ranking_length"]], add_to_output=True)
        return messages
