"""QA and extraction scoring against values worked out by hand (the arithmetic is beside each case)."""

import pytest

from knowtune.evaluate.extraction_metrics import ExtractionScorer, parse_entities
from knowtune.evaluate.qa_metrics import QAScorer


def test_qa_scorer_squad_style_means_over_several_golds():
    scorer = QAScorer()
    # "Denver Broncos" equals the second gold after dropping "The": EM 1, F1 1, contains 1.
    assert scorer.add("Denver Broncos", ["Broncos", "The Denver Broncos"]) == {"exact_match": 1.0, "f1": 1.0, "contains": 1.0}
    # [broncos, of, denver] vs [denver, broncos]: 2 common, P 2/3, R 1, F1 0.8; vs [broncos]: P 1/3, R 1, F1 0.5.
    second = scorer.add("the Broncos of Denver!", ["Denver Broncos", "Broncos"])
    assert second == {"exact_match": 0.0, "f1": pytest.approx(0.8), "contains": 1.0}
    # No overlap at all.
    assert scorer.add("Carolina Panthers", ["Denver Broncos"]) == {"exact_match": 0.0, "f1": 0.0, "contains": 0.0}
    assert scorer.result() == {
        "n": 3,
        "exact_match": pytest.approx(1 / 3),
        "f1": pytest.approx((1 + 0.8 + 0) / 3),
        "contains": pytest.approx(2 / 3),
    }


def test_qa_scorer_chinese_is_scored_per_character():
    scorer = QAScorer()
    # 首 都 是 北 京 市 vs 北 京: P 2/6, R 1, F1 = 2 * (1/3) / (4/3) = 0.5; the gold is a contiguous run: contains.
    assert scorer.add("首都是北京市。", ["北京"]) == {"exact_match": 0.0, "f1": pytest.approx(0.5), "contains": 1.0}
    # 上 海 vs 北 京 / 上 海 市: best is 上 海 vs 上 海 市, P 1, R 2/3, F1 0.8.
    assert scorer.add("上海", ["北京", "上海市"]) == {"exact_match": 0.0, "f1": pytest.approx(0.8), "contains": 0.0}
    assert scorer.result()["f1"] == pytest.approx(0.65)


def test_qa_scorer_needs_a_prediction():
    with pytest.raises(ValueError):
        QAScorer().result()


@pytest.mark.parametrize(
    "output, expected",
    [
        ('[{"type": "PERSON", "value": "Ada"}]', [("PERSON", "Ada")]),
        ('```json\n[{"type": "CITY", "value": "Oslo", "score": 0.9}]\n```', [("CITY", "Oslo")]),
        ('Here are the entities: [{"type": "CITY", "value": "Oslo"}]. Done.', [("CITY", "Oslo")]),
        ("[]", []),
        ("Call <PERSON> Ada Lovelace </PERSON> at <EMAIL>ada@x.org</EMAIL>.", [("PERSON", "Ada Lovelace"), ("EMAIL", "ada@x.org")]),
        ([{"type": "CITY", "value": "Oslo"}], [("CITY", "Oslo")]),
        ('[{"type": "CITY"}]', None),  # no value
        ('{"type": "CITY", "value": "Oslo"}', None),  # an object, not a list
        ("There are no entities.", None),
        ("", None),
        (42, None),
    ],
)
def test_parse_entities(output, expected):
    assert parse_entities(output) == expected


def test_extraction_micro_macro_and_per_type_counts():
    scorer = ExtractionScorer()
    gold1 = [("PERSON", "Ada Lovelace"), ("PERSON", "Charles Babbage"), ("CITY", "London")]
    # "ada  lovelace" matches after case folding and whitespace collapsing; Paris is wrong; two misses.
    assert scorer.add(gold1, parse_entities('[{"type": "person", "value": "ada  lovelace"}, {"type": "CITY", "value": "Paris"}]')) == {
        "tp": 1, "fp": 1, "fn": 2,
    }
    assert scorer.add([("EMAIL", "a@b.c")], parse_entities("<EMAIL>a@b.c</EMAIL> <PERSON>Bob</PERSON>")) == {"tp": 1, "fp": 1, "fn": 0}
    # Unparsable: a miss for every gold entity, and counted.
    assert scorer.add([("PERSON", "Grace Hopper")], parse_entities("I cannot help with that.")) == {"tp": 0, "fp": 0, "fn": 1}
    result = scorer.result()
    # PERSON tp 1 fp 1 fn 2 (P 1/2, R 1/3, F1 0.4); CITY tp 0 fp 1 fn 1 (0, 0, 0); EMAIL tp 1 (1, 1, 1).
    assert result["per_type"] == {
        "CITY": {"precision": 0.0, "recall": 0.0, "f1": 0.0, "tp": 0, "fp": 1, "fn": 1, "support": 1},
        "EMAIL": {"precision": 1.0, "recall": 1.0, "f1": 1.0, "tp": 1, "fp": 0, "fn": 0, "support": 1},
        "PERSON": {"precision": 0.5, "recall": pytest.approx(1 / 3), "f1": pytest.approx(0.4), "tp": 1, "fp": 1, "fn": 2, "support": 3},
    }
    # Micro: tp 2, fp 2, fn 3: P 0.5, R 0.4, F1 0.4 / 0.9.
    assert (result["precision"], result["recall"], result["f1"]) == (0.5, 0.4, pytest.approx(0.4 / 0.9))
    assert result["macro_precision"] == pytest.approx(0.5)
    assert result["macro_recall"] == pytest.approx(4 / 9)
    assert result["macro_f1"] == pytest.approx(1.4 / 3)
    assert (result["n"], result["unparsable"]) == (3, 1)


def test_extraction_counts_repeated_values_as_a_multiset():
    scorer = ExtractionScorer()
    # Gold has "Oslo" twice, the prediction once: one hit, one miss; a third "Oslo" predicted would be a false positive.
    assert scorer.add([("CITY", "Oslo"), ("CITY", "Oslo")], [("CITY", "Oslo")]) == {"tp": 1, "fp": 0, "fn": 1}
    assert scorer.add([("CITY", "Oslo")], [("CITY", "Oslo"), ("CITY", "Oslo")]) == {"tp": 1, "fp": 1, "fn": 0}
