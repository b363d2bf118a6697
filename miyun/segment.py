"""Jieba segmentation with the project dictionary, shared by NLU and search."""
from __future__ import annotations

import os
import threading
from pathlib import Path

_lock = threading.Lock()
_loaded: set[str] = set()

# Words that carry no meaning for search: particles, pronouns and filler residents add.
STOPWORDS = frozenset(
    """的 了 吗 呢 吧 啊 呀 么 嘛 哦 哈 是 我 你 他 她 它 我们 你们 他们 这 那 这个 那个 在 有 和 与 及 或 就 都 也 还 又
    要 会 能 可以 可不可以 能不能 怎么 怎么办 怎么样 咋 咋办 咋整 如何 什么 啥 哪 哪里 哪儿 吗 请问 一下 一个 一些 没有 没 不 给 被 把
    对 让 去 来 说 想 问 问问 应该 需要 该 如果 但是 可是 因为 所以 然后 现在 已经 自己 人家 这种 那种 情况 问题 怎样 多少 多久 谁
    , . ? ! 、 , 。 ? ! : ; : ; " ' “ ” ‘ ’ ( ) ( ) 《 》 … - ~ ～ /""".split()
)


def load_dictionary(directory: Path) -> None:
    """Load every file of the project dictionary into jieba, once per process."""
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)
    key = str(Path(directory).resolve())
    with _lock:
        if key in _loaded:
            return
        cache_dir = os.environ.get("MIYUN_CACHE_DIR")
        if cache_dir:
            jieba.dt.tmp_dir = cache_dir
        for path in sorted(Path(directory).glob("*.txt")):
            jieba.load_userdict(str(path))
        _loaded.add(key)


def words(text: str) -> list[str]:
    """Segment normalised text into words, dropping whitespace."""
    import jieba

    return [w for w in jieba.lcut(text) if w.strip()]


def terms(text: str) -> list[str]:
    """Search terms: segmented words without stopwords and punctuation."""
    return [w for w in words(text) if w not in STOPWORDS and any(ch.isalnum() for ch in w)]
