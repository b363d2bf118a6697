"""`content validate`: every error names its file, entry and field."""
from pathlib import Path

import yaml

from miyun.knowledge import content


def _load_articles(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _write(path: Path, data: dict) -> None:
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def _first_article_file(content_dir: Path) -> Path:
    return sorted((content_dir / "articles").glob("*.yml"))[0]


def test_shipped_content_is_valid():
    loaded = content.load(Path(__file__).resolve().parent.parent / "content")
    assert loaded.problems == []
    assert len(loaded.articles) >= 100
    assert {a["category"] for a in loaded.articles} == set(content.CATEGORIES)
    assert {s["town"] for s in loaded.stations if s.get("town")} == set(content.TOWNS)


def test_every_entry_has_source_and_verified_marks():
    loaded = content.load(Path(__file__).resolve().parent.parent / "content")
    for kind, entry in content.all_entries(loaded):
        assert "verified" in entry, (kind, entry["id"])
        assert entry.get("source") or entry.get("verified") is False, (kind, entry["id"])


def _problems_after(content_copy: Path, mutate) -> list[content.Problem]:
    path = _first_article_file(content_copy)
    data = _load_articles(path)
    mutate(data["articles"])
    _write(path, data)
    return content.load(content_copy).problems


def test_missing_legal_basis(content_copy):
    problems = _problems_after(content_copy, lambda arts: arts[0].pop("legal_basis"))
    assert len(problems) == 1
    p = problems[0]
    assert p.field == "legal_basis" and "missing legal basis" in p.message
    assert p.file.endswith(".yml") and p.entry


def test_duplicate_id(content_copy):
    problems = _problems_after(content_copy, lambda arts: arts[1].__setitem__("id", arts[0]["id"]))
    assert [p.field for p in problems] == ["id"]
    assert "duplicate id" in problems[0].message


def test_unknown_category(content_copy):
    problems = _problems_after(content_copy, lambda arts: arts[0].__setitem__("category", "天气"))
    assert [(p.field, "unknown category" in p.message) for p in problems] == [("category", True)]


def test_bad_date(content_copy):
    problems = _problems_after(content_copy, lambda arts: arts[0].__setitem__("updated", "2026-13-45"))
    assert [p.field for p in problems] == ["updated"]
    assert "bad date" in problems[0].message


def test_verified_may_be_false_but_not_garbage(content_copy):
    assert _problems_after(content_copy, lambda arts: arts[0].__setitem__("verified", False)) == []
    problems = _problems_after(content_copy, lambda arts: arts[0].__setitem__("verified", "soon"))
    assert [p.field for p in problems] == ["verified"]


def test_broken_station_reference(content_copy):
    problems = _problems_after(content_copy, lambda arts: arts[0].__setitem__("stations", ["nowhere-town"]))
    assert [p.field for p in problems] == ["stations"]
    assert "broken station reference" in problems[0].message


def test_answer_length_and_question_count(content_copy):
    def mutate(arts):
        arts[0]["answer"] = "太短了"
        arts[0]["questions"] = ["只有一个问题"]

    fields = sorted(p.field for p in _problems_after(content_copy, mutate))
    assert fields == ["answer", "questions"]


def test_up_to_twelve_questions(content_copy):
    from miyun.knowledge.content import QUESTIONS_MAX

    many = [f"第{i}种问法：工资被拖欠了怎么办" for i in range(QUESTIONS_MAX + 1)]
    assert _problems_after(content_copy, lambda arts: arts[0].__setitem__("questions", many[:QUESTIONS_MAX])) == []
    problems = _problems_after(content_copy, lambda arts: arts[0].__setitem__("questions", many))
    assert [p.field for p in problems] == ["questions"] and QUESTIONS_MAX == 16


def test_article_numbers_must_be_integers(content_copy):
    problems = _problems_after(
        content_copy, lambda arts: arts[0].__setitem__("legal_basis", [{"law": "中华人民共和国民法典", "articles": ["第188条"]}])
    )
    assert [p.field for p in problems] == ["legal_basis[1].articles"]


def test_unknown_town_in_stations(content_copy):
    path = content_copy / "stations.yml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["stations"][0]["town"] = "海淀镇"
    _write(path, data)
    problems = content.load(content_copy).problems
    assert any(p.file == "stations.yml" and p.field == "town" and "unknown town" in p.message for p in problems)


def test_broken_yaml_is_reported_not_raised(content_copy):
    _first_article_file(content_copy).write_text("articles:\n  - id: [unclosed\n", encoding="utf-8")
    problems = content.load(content_copy).problems
    assert problems and "invalid YAML" in problems[0].message


def test_problem_text_locates_the_error():
    p = content.Problem("labour.yml", "labour-unpaid-wages", "legal_basis", "缺少法律依据 / missing legal basis")
    assert str(p) == "labour.yml › labour-unpaid-wages › legal_basis: 缺少法律依据 / missing legal basis"
