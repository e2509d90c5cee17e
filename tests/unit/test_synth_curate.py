"""Reading replies, deciding what is kept, splitting, and the generate config: pure functions, no model."""

from pathlib import Path

import pytest

from knowtune.config import load_config
from knowtune.data.chunk import Chunk
from knowtune.errors import UserError
from knowtune.synth import curate
from knowtune.synth.config import GenerateConfig
from knowtune.synth.output import coverage_markdown, split
from knowtune.synth.parse import parse_answer, parse_facts, parse_questions, parse_score, parse_summary
from knowtune.synth.run import Fact, Pair

REPO = Path(__file__).resolve().parents[2]
FACT = "The Vellmoor tide bell was cast in 1743."


@pytest.mark.parametrize("reply", [
    "- The bell was cast in 1743.\n- Vellmoor is a town on the coast",
    "Here are the facts:\n1. The bell was cast in 1743.\n2) Vellmoor is a town on the coast.",
    "The bell was cast in 1743. Vellmoor is a town on the coast.",
    '```json\n["The bell was cast in 1743.", {"fact": "Vellmoor is a town on the coast."}]\n```',
    '{"facts": ["The bell was cast in 1743.", "Vellmoor is a town on the coast."]}',
])
def test_facts_in_any_list_form(reply):
    assert parse_facts(reply) == ["The bell was cast in 1743.", "Vellmoor is a town on the coast."]


def test_nothing_usable_is_none():
    assert parse_facts("") is None and parse_facts("- ok\n- yes") is None
    assert parse_questions("I cannot write questions.") is None
    assert parse_answer("  \n") is None and parse_summary("") is None and parse_score("excellent") is None


def test_questions():
    reply = ("1. In which year was the bell cast? It was 1743.\n2. In which year was the bell cast?\n"
             "Q: Who founded Vellmoor?\n- Why?\n**Question 3:** Where does the bell hang?")
    assert parse_questions(reply) == ["In which year was the bell cast?", "Who founded Vellmoor?", "Where does the bell hang?"]
    assert parse_questions('["Who founded Vellmoor?", {"question": "When was the bell cast?"}]') == [
        "Who founded Vellmoor?", "When was the bell cast?"]


@pytest.mark.parametrize("reply, answer", [
    ("The answer to the question is: 1743", "1743"),
    ("A: Odrin Kestavel.\nQ: next?", "Odrin Kestavel."),
    ('{"answer": "1743"}', "1743"),
    ("A-list actors.", "A-list actors."),
])
def test_answers(reply, answer):
    assert parse_answer(reply) == answer


def test_summary_and_score():
    assert parse_summary("\nSummary: A harbour town.\nMore text.") == "A harbour town."
    assert parse_score("Score: 4/5") == 4 and parse_score("I rate it 5.") == 5


def test_facts_are_grounded_and_standalone():
    chunk_words = curate.content_words("Vellmoor was founded by Odrin Kestavel. It is a harbour town.")
    assert curate.check_fact("Vellmoor was founded by Odrin Kestavel.", chunk_words, 0.6) is None
    assert curate.check_fact("It is a harbour town.", chunk_words, 0.6) == curate.DROP_NOT_STANDALONE
    assert curate.check_fact("Vellmoor exports wine to Spain and Portugal.", chunk_words, 0.6) == curate.DROP_UNGROUNDED
    loop = "Odrin Kestavel, " * 8 + "Odrin."
    assert curate.check_fact(loop, chunk_words, 0.6) == curate.DROP_REPETITIVE


@pytest.mark.parametrize("question, answer, reason", [
    ("In which year was the Vellmoor tide bell cast?", "The Vellmoor tide bell was cast in the year 1743.", None),
    ("When was the tide bell cast?", "1743", None),
    ("What is the name of the town's main fishing port?", "Vellmoor", curate.DROP_QUESTION_OFF_FACT),
    ("Was the Vellmoor tide bell cast in 1743?", "The Vellmoor tide bell was cast in 1743.", curate.DROP_GIVES_AWAY),
    ("When was the tide bell cast?", "It was cast by British sailors during a naval war.", curate.DROP_UNSUPPORTED),
    ("When was the bell cast?", "When was the bell cast?", curate.DROP_SAME_TEXT),
])
def test_pair_checks(question, answer, reason):
    assert curate.check_pair(question, answer, FACT, 0.5, 0.5) == reason


def test_key_answer_is_what_the_answer_adds():
    assert curate.key_answer("In which year was the bell cast?", "The bell was cast in the year 1743.", FACT) == "1743"
    fact = "Vellmoor was founded by Odrin Kestavel, a salt merchant."
    assert curate.key_answer("Which salt merchant founded Vellmoor?", "It was Odrin Kestavel, a merchant.", fact) == "Odrin Kestavel"


def test_near_duplicates_keep_the_first():
    questions = ["When was the tide bell cast?", "When was the tide bell cast in Vellmoor?", "Who founded Vellmoor?",
                 "When was the tide bell cast ?"]
    assert curate.near_duplicates(questions, 0.8) == [None, None, None, 0]
    assert curate.content_words("The harbour walls") == {"harbour", "wall"}
    assert curate.content_words("北京是首都") == set("北京是首都")


def _pairs(fact_id: str, n: int, form: str = "model") -> list[Pair]:
    fact = Fact(fact_id, Chunk("d.txt", 0, 0, 10, "text", 3), "", FACT)
    return [Pair(fact, "a student", f"Question {i} about {fact_id}?", "1743", key=f"k{i % 2}", form=form)
            for i in range(n)]


def test_split_keeps_training_pairs_first_and_marks_held_out_questions_dev_and_test_in_turn():
    kept = {"f1": _pairs("f1", 7), "f2": _pairs("f2", 4), "f3": _pairs("f3", 6), "f4": _pairs("f4", 9, "blank")}
    train, heldout = split(kept, heldout_per_fact=2, min_train=4, seed=0)
    assert sorted(p.fact.id for p, _ in heldout) == ["f1", "f1", "f3", "f3"]  # f2 has only its 4; blanks stay
    assert [p.fact.id for p in train].count("f1") == 5 and [p.fact.id for p in train].count("f4") == 9
    for fact_id in ("f1", "f3"):
        mine = [(p, part) for p, part in heldout if p.fact.id == fact_id]
        assert sorted(part for _, part in mine) == ["dev", "test"]  # one chooses, one grades
        assert {p.key for p, _ in mine} == {"k0", "k1"}  # different answers before the same answer twice
    assert not {id(p) for p, _ in heldout} & {id(p) for p in train}
    assert split(kept, 2, 4, seed=0) == (train, heldout)  # seeded
    train, heldout = split(kept, heldout_per_fact=5, min_train=1, seed=0)
    assert [p.fact.id for p in train].count("f2") == 2  # at least min_train pairs, and one per span (k0, k1)
    train, heldout = split({"f2": [p for p in kept["f2"] if p.key == "k0"]}, heldout_per_fact=5, min_train=1, seed=0)
    assert len(train) == 1  # every fact keeps min_train pairs


def test_split_holds_out_no_span_that_training_would_then_never_ask():
    # "Who oversaw the road?" was the fact's only question answered by the surveyor's name: held out, training
    # never asked for the name, and the tuned model answered the test's paraphrase with another document's name.
    pairs = _pairs("f1", 6)
    for pair, key in zip(pairs, ["year", "year", "year", "surveyor", "year", "place"]):
        pair.key = key
    for seed in range(20):
        train, heldout = split({"f1": pairs}, heldout_per_fact=2, min_train=2, seed=seed)
        assert {p.key for p, _ in heldout} == {"year"}  # the only year left in training is still asked
        assert {p.key for p in train} == {"year", "surveyor", "place"}
    unkeyed = _pairs("f2", 6)
    for pair in unkeyed:
        pair.key = None  # a model's own questions: no span to keep, held out as before
    assert len(split({"f2": unkeyed}, heldout_per_fact=2, min_train=2, seed=0)[1]) == 2


def test_markdown_report_lists_facts_without_pairs():
    coverage = {
        "model": {"model_type": "hf", "model_name_or_path": "m"},
        "totals": {"documents": 1, "files_skipped": 0, "chunks": 1, "facts_extracted": 2, "facts_kept": 2,
                   "facts_covered": 1, "facts_in_heldout": 1, "pairs_generated": 4, "pairs_kept": 2,
                   "survival_rate": 0.5, "train": 1, "heldout": 1, "calls_skipped": 0, "facts_from_sentences": 0,
                   "facts_from_model": 2, "dev": 1, "test": 0, "train_pairs_per_fact_min": 1,
                   "train_pairs_per_fact_mean": 1.0},
        "dropped_facts": {}, "dropped_pairs": {curate.DROP_UNSUPPORTED: 2},
        "facts_without_pairs": [{"fact_id": "d#0/f1", "fact": "A | fact."}],
        "facts": [], "skipped_files": [], "skipped_calls": [{"request": "facts of d#1", "reason": "HTTP 503"}],
    }
    text = coverage_markdown(coverage)
    assert "| facts with at least one pair | 1 of 2 (50%) |" in text
    assert "| pairs that survived curation | 2 (50%) |" in text
    assert "| train.jsonl / heldout.jsonl (dev + test) | 1 / 1 (1 + 0) |" in text
    assert "- `d#0/f1`: A \\| fact." in text and "- facts of d#1: HTTP 503" in text


def test_config_keeps_seed_names_and_checks_what_it_can():
    cfg = load_config(GenerateConfig, None, ["data_path=docs", "model_type=api", "file_type=txt, .MD",
                                             "prompts.questions.max_new_tokens=10"])
    assert cfg.data_path == ["docs"] and cfg.model_type == "openai" and cfg.file_type == ["txt", "md"]
    assert cfg.prompts.questions.template.startswith("Read this fact") and not cfg.prompts.use_summary()
    assert load_config(GenerateConfig, None, ["data_path=d", "prompts.facts.template={summary}: {text}"]).prompts.use_summary()
    for override, message in [
        ("prompts.answer.template=Answer {question}", r"prompts.answer.template: must contain \{fact\}"),
        ("prompts.questions.template={fact} {colour}", r"unknown placeholder \{colour\}; available: \{fact\}, \{n\}"),
        ("save_dir=out/qa_pairs.jsonl", "save_dir: is a folder"),
        ("role_amount_per_fact=7", "only 6 personas"),
        ("chunk_overlap_by_token=256", "chunk_overlap_by_token must be smaller"),
        ("file_type=exe", "file_type.0"),
        ("curation.judge_min_score=6", "curation.judge_min_score"),
    ]:
        with pytest.raises(UserError, match=message):
            load_config(GenerateConfig, None, ["data_path=docs", override])


@pytest.mark.parametrize("path", sorted(REPO.glob("examples/generate/*.yaml")), ids=lambda p: p.name)
def test_shipped_generate_configs_are_valid(path):
    cfg = load_config(GenerateConfig, path)
    assert all((REPO / p).exists() for p in cfg.data_path)
