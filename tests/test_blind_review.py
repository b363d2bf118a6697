"""The blind-review figures follow the rubric, and the sample is the one fixed before judging."""
import pytest

from miyun.knowledge import answers
from scripts import blind_review


def test_figures_follow_the_rubric():
    verdicts = (
        [{"verdict": "on_topic_direct"}] * 50 + [{"verdict": "statute_correct"}] * 30
        + [{"verdict": "off_topic"}] * 2 + [{"verdict": "right_fallback"}] * 15 + [{"verdict": "missed_article"}] * 3
    )
    fig = blind_review.figures(verdicts)
    assert fig["useful"] == pytest.approx(0.80)
    assert fig["wrong_confident"] == pytest.approx(2 / 82)
    assert fig["missed"] == pytest.approx(0.03)


def test_an_unknown_verdict_is_refused():
    with pytest.raises(ValueError):
        blind_review.figures([{"verdict": "looks fine"}])


def test_the_sample_is_fixed_and_keys_hide_the_question():
    first, second = blind_review.sample(), blind_review.sample()
    assert len(first) == blind_review.SIZE == 100 and first == second
    assert all(len(blind_review.key(q)) == 10 and blind_review.key(q) not in q for q in first)


def test_the_tier_is_read_off_the_reply():
    assert blind_review.served("这个问题我没有找到有把握的答案，不想给您说错。") == "fallback"
    assert blind_review.served("相关法律规定（法条原文，不是针对您情况的解答）\n《民法典》…") == "statute"
    assert blind_review.served("【老板拖欠工资怎么办】\n按时足额发工资…") == "article"
    assert blind_review.served("您问的可能是下面这个问题（如果不是……）：\n【老板拖欠工资怎么办】") == "likely"
    assert blind_review.served(answers.suggestion_question([{"title": "老板拖欠工资怎么办"}, {"title": "工伤怎么认定"}])) == "suggest"


def test_each_later_round_draws_new_questions():
    first, second = blind_review.sample(1), blind_review.sample(2)
    assert len(second) == 100 and second == blind_review.sample(2) and not set(first) & set(second)
    with pytest.raises(ValueError):
        blind_review.sample(99)


def test_a_repeat_round_asks_the_same_questions_again():
    assert blind_review.sample(6) == blind_review.sample(5)
    assert "round 5's sample again" in blind_review.seed_line(6)


def test_a_bench_run_keeps_the_blind_section():
    text = "# Bench\n\n" + blind_review.BEGIN + "\nfigures\n" + blind_review.END + "\n"
    assert blind_review.kept_section(text) == blind_review.BEGIN + "\nfigures\n" + blind_review.END
    b2, e2 = blind_review.markers(2)
    both = text + "\n" + b2 + "\nround two\n" + e2 + "\n"
    assert blind_review.kept_section(both) == blind_review.BEGIN + "\nfigures\n" + blind_review.END + "\n\n" + b2 + "\nround two\n" + e2
    assert blind_review.kept_section("# Bench only\n") == ""
