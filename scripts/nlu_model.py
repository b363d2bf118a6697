"""Load the trained Rasa model in-process and parse messages with it (for gates and benches)."""
from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Iterable

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "models" / "miyun.tar.gz"


class Parser:
    """The NLU part of the trained model, exactly as `/model/parse` runs it."""

    def __init__(self, model: Path = MODEL) -> None:
        import logging

        from rasa.core.agent import Agent
        from rasa.utils.log_utils import configure_structlog

        configure_structlog(logging.WARNING)  # one debug line per parsed message otherwise

        self.agent = Agent.load(str(model))
        self.loop = asyncio.new_event_loop()

    def parse(self, text: str) -> dict:
        return self.loop.run_until_complete(self.agent.parse_message(text))

    def parse_all(self, texts: Iterable[str]) -> list[dict]:
        return [self.parse(t) for t in texts]
