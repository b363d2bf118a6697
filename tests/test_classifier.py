"""The linear article classifier: learnt from the articles' phrasings, stored without pickle."""
import numpy as np
import pytest

from miyun.knowledge import classifier as clf_mod
from miyun.knowledge.classifier import ArticleClassifier
from miyun.knowledge.phrasings import PhrasingModel

PHRASINGS = [
    ("wages", "老板拖欠工资不给"), ("wages", "干了三个月工资一分没拿到"), ("wages", "单位欠我两个月工资"),
    ("deposit", "房东扣着押金不退"), ("deposit", "退租的时候押金不给了"), ("deposit", "租房押金要不回来"),
    ("dog", "邻居家的狗把我咬了"), ("dog", "被狗咬伤了主人不赔"), ("dog", "大狗没拴绳咬了孩子"),
]


@pytest.fixture(scope="module")
def model() -> PhrasingModel:
    return PhrasingModel.fit(PHRASINGS)


def test_the_words_that_tell_articles_apart_decide(model):
    c = ArticleClassifier.fit(model)
    for text, want in [("我干活的工资老板一直拖着", "wages"), ("搬家的时候房东不退押金", "deposit"), ("村里的狗咬了俺", "dog")]:
        scores = c.scores(model.vector(text))
        assert model.article_ids[int(np.argmax(scores))] == want, text


def test_blobs_round_trip_to_the_same_scores(model):
    c = ArticleClassifier.fit(model)
    again = ArticleClassifier.from_blobs(c.to_blobs())
    q = model.vector("房东扣押金")
    assert np.allclose(c.scores(q), again.scores(q))
    assert ArticleClassifier.from_blobs({}) is None


def test_small_weights_are_dropped_so_the_model_stays_small(model):
    c = ArticleClassifier.fit(model)
    assert c.weights.nnz and np.abs(c.weights.data).min() >= clf_mod.PRUNE
    assert c.weights.shape == (len(model.article_ids), len(c.columns))


def test_not_built_for_too_few_or_too_many_articles(model, monkeypatch):
    assert ArticleClassifier.fit(PhrasingModel.fit(PHRASINGS[:6])) is None  # two articles: nothing to weigh
    monkeypatch.setattr(clf_mod, "MAX_ARTICLES", 2)
    assert ArticleClassifier.fit(model) is None


def test_chunks_give_the_same_weights_as_one_fit(model, monkeypatch):
    whole = ArticleClassifier.fit(model)
    monkeypatch.setattr(clf_mod, "CHUNK", 1)  # one article per fit, against all the others
    chunked = ArticleClassifier.fit(model)
    q = model.vector("工资押金狗")
    assert np.allclose(whole.scores(q), chunked.scores(q), atol=1e-3)


def test_a_build_reuses_the_published_classifier_when_the_phrasings_are_unchanged(published, tmp_path, monkeypatch):
    """An edit that leaves every article's phrasings alone (a service, an answer text) does not refit."""
    from miyun.knowledge import build, matcher
    from miyun.knowledge.store import ContentStore

    def no_fit(model):
        raise AssertionError("refitted although the phrasings are the same")

    live = ContentStore(published.content_db).blobs(matcher.CLASSIFIER_PREFIX)
    monkeypatch.setattr(build, "_RECENT", [])  # only the published database can spare the fit
    monkeypatch.setattr(ArticleClassifier, "fit", classmethod(lambda cls, model: no_fit(model)))
    build.build(published.content_dir, tmp_path / "again.db", published.dictionary_dir, reuse=published.content_db)
    assert ContentStore(tmp_path / "again.db").blobs(matcher.CLASSIFIER_PREFIX) == live
    # A changed phrasing is a new fit.
    with pytest.raises(AssertionError, match="refitted"):
        path = published.content_dir / "articles" / "labour.yml"
        path.write_text(path.read_text(encoding="utf-8").replace("老板拖着工资不给怎么办", "老板拖着工钱不给怎么办"), encoding="utf-8")
        build.build(published.content_dir, tmp_path / "changed.db", published.dictionary_dir, reuse=published.content_db)


def test_scores_look_up_only_the_query_features_and_equal_the_full_product(model):
    c = ArticleClassifier.fit(model)
    for text in ["老板拖欠工资", "押金", "狗咬人了怎么办", "量子纠缠"]:
        q = model.vector(text)
        full = (q[:, c.columns] @ c.weights.T).toarray().ravel() + c.intercept
        assert np.allclose(c.scores(q), full, atol=1e-5), text
