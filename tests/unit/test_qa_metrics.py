"""QA metrics against values computed by hand (token counts written out beside each case)."""

import pytest

from knowtune.evaluate.qa_metrics import contains, exact_match, f1, normalize_answer, tokenize


@pytest.mark.parametrize(
    "text, expected",
    [
        ("The Marrowgate  lighthouse!", "marrowgate lighthouse"),
        ("An apple, a pear; the end.", "apple pear end"),
        ("「北京」。", "北京"),
        ("ＡＢＣ！　１８７３", "abc 1873"),  # full-width letters, digits, "!" and space
        ("the北京", "the北京"),  # "the" glued to CJK text is not a separate word
        ("theory", "theory"),  # only whole-word articles go
    ],
)
def test_normalize_answer(text, expected):
    assert normalize_answer(text) == expected


def test_tokenize_splits_cjk_characters_and_whitespace_words():
    assert tokenize("iphone手机 is 好") == ["iphone", "手", "机", "is", "好"]
    assert tokenize("東京タワー") == ["東", "京", "タ", "ワ", "ー"]
    assert tokenize("서울 시") == ["서", "울", "시"]


def test_cjk_partial_credit():
    # 北 京 市 vs 北 京: P = 2/3, R = 1, F1 = 2 * (2/3) / (5/3) = 0.8
    assert f1("北京市", ["北京"]) == pytest.approx(0.8)
    assert exact_match("北京市", ["北京"]) == 0.0
    # Korean likewise: 서 울 시 vs 서 울
    assert f1("서울시", ["서울"]) == pytest.approx(0.8)
    # 東 京 タ ワ ー vs 東 京: P = 2/5, R = 1, F1 = 0.8 / 1.4 = 4/7
    assert f1("東京タワー", ["東京"]) == pytest.approx(4 / 7)
    # 北 京 beijing vs beijing: P = 1/3, R = 1, F1 = 0.5
    assert f1("北京 Beijing", ["Beijing"]) == pytest.approx(0.5)


def test_best_of_several_golds():
    # [in, 1873, it, was, built]: vs [1873] F1 = 2*(1/5)/(6/5) = 1/3; vs [built, 1873] = 2*(2/5)/(7/5) = 4/7
    assert f1("In 1873 it was built", ["1873", "built 1873"]) == pytest.approx(4 / 7)
    assert exact_match("Paris, France.", ["Paris", "paris france"]) == 1.0
    assert f1("Paris, France.", ["Paris"]) == pytest.approx(2 / 3)


def test_punctuation_and_articles_do_not_count():
    assert exact_match("The Halvane!", ["halvane"]) == 1.0
    assert exact_match("an apple", "apple") == 1.0  # a bare string is one gold answer
    assert f1("“Oskerby.”", ["oskerby"]) == 1.0


def test_repeated_tokens_are_counted_once_each():
    # pred [x, x, y], gold [x, y, y]: common = 1 x + 1 y = 2, P = R = 2/3
    assert f1("x x y", ["x y y"]) == pytest.approx(2 / 3)


def test_empty_answers():
    assert f1("", [""]) == 1.0
    assert f1("", ["Oskerby"]) == 0.0
    assert exact_match("!!", ["?"]) == 1.0
    with pytest.raises(ValueError):
        f1("x", [])


def test_contains_matches_whole_tokens():
    assert contains("It was cast in 1743.", ["1743"])
    assert contains("Vellmoor was founded by Odrin Kestavel.", ["Odrin Kestavel"])
    assert not contains("Odrin and Kestavel", ["Odrin Kestavel"])
    assert not contains("It employs 4170 people.", ["417"])
    assert contains("首都是北京市。", ["北京"])
    assert contains("I am not sure; maybe Oskerby?", ["Brellin", "oskerby"])
    assert not contains("The answer is the end.", ["the"])  # a gold that normalises to nothing
