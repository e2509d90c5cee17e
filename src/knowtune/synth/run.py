"""`knowtune generate`: documents -> chunks -> facts -> persona questions -> answers -> curated train/held-out sets.

Read top to bottom: ingest and chunk (no model yet, so input mistakes surface in seconds), then
one model stage at a time (chunk summaries first when a prompt uses them), each a batch of cached
calls, then curation, the split, and the outputs, written atomically. Seed 002's method, with
arXiv 2404.00213's point kept in view: pairs are generated per fact, so every fact is covered,
and the report shows which facts are not.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

from knowtune.data.chunk import Chunk, chunk_document, sentence_spans
from knowtune.data.ingest import Document, Skipped, read_documents
from knowtune.synth import curate
from knowtune.synth.backends import make_backend
from knowtune.synth.calls import Call, Caller, CallCache, warn
from knowtune.synth.config import GenerateConfig
from knowtune.synth.facts import Fact, Pair, passage_pairs, sentence_facts, template_pairs
from knowtune.synth.output import write_outputs
from knowtune.synth.parse import parse_answer, parse_facts, parse_questions, parse_score, parse_summary
from knowtune.synth.sentences import document_sentences, language


@dataclass(frozen=True)
class GenerateResult:
    save_dir: Path
    coverage: dict
    model_calls: int  # calls the model answered in this run; the rest came from the cache


def run(cfg: GenerateConfig) -> GenerateResult:
    documents, skipped_files = read_documents(cfg.data_path, cfg.file_type, cfg.text_field)
    documents, notes = _readable(documents, cfg, skipped_files)
    for s in skipped_files:
        warn(f"skipped {s.source}: {s.reason}")
    tokenizer = _tokenizer(cfg)
    count_tokens = lambda text: len(tokenizer(text, add_special_tokens=False)["input_ids"])  # noqa: E731
    size, overlap = cfg.chunk_size_by_token, cfg.chunk_overlap_by_token
    chunks = [c for d in documents for c in chunk_document(d, count_tokens, size, overlap)]
    sentences = {d.source: document_sentences(d.text, language(d.text) or "en", d.source) for d in documents}
    facts = [f for c in chunks for f in sentence_facts(c, sentences[c.document])]
    pairs: list[Pair] = []
    if "templates" in cfg.questions_from():
        is_common = _common_words(tokenizer)
        at_least = cfg.min_train_pairs_per_fact + cfg.heldout_per_fact
        pairs = [p for f in facts
                 for p in template_pairs(f, is_common, cfg.max_template_pairs_per_fact, at_least, cfg.personas,
                                           span_first=cfg.template_answers == "span_then_fact")]
        pairs += passage_pairs(facts, cfg.seed)

    save_dir = Path(cfg.save_dir)
    caller = None
    if cfg.facts_from_model() or "model" in cfg.questions_from():
        cache = CallCache(save_dir / "cache.sqlite")
        caller = Caller(make_backend(cfg), cache, cfg.max_attempts, cfg.prompts.reask)
        try:
            if cfg.facts_from_model():
                summaries = _summarize(caller, cfg, chunks) if cfg.prompts.use_summary() else [""] * len(chunks)
                model_facts = _extract_facts(caller, cfg, chunks, summaries)
                facts, pairs = _with_uncovered_sentences(model_facts, facts, pairs)
            if "model" in cfg.questions_from():
                pairs += _write_pairs(caller, cfg, [f for f in facts if f.dropped is None])
            if cfg.curation.judge:
                _judge(caller, cfg, [p for p in pairs if p.dropped is None and p.form == "model"])
        finally:
            cache.close()
    _drop_repeated_questions(pairs, cfg.curation.max_question_similarity)
    _cap_per_persona(pairs, cfg.qa_amount_per_fact)
    coverage = write_outputs(save_dir, cfg, documents, chunks, facts, pairs, skipped_files,
                             caller.skipped if caller else [], notes)
    return GenerateResult(save_dir, coverage, caller.model_calls if caller else 0)


def _readable(documents: list[Document], cfg: GenerateConfig, skipped: list[Skipped]) -> tuple[list[Document], list[str]]:
    """Documents that facts can be made from; the others join `skipped`, cut ones are noted."""
    kept, notes = [], []
    for document in documents:
        if not cfg.facts_from_model() and language(document.text) is None:
            skipped.append(Skipped(document.source, "not English or Chinese text, the languages facts are made from "
                                   "without a model (fact_source=model asks the model instead)"))
            continue
        if len(document.text) > cfg.max_document_chars:
            ends = [end for _, end in sentence_spans(document.text[: cfg.max_document_chars])]
            cut = ends[-2] if len(ends) > 1 else cfg.max_document_chars  # the last sentence may be cut mid-way
            notes.append(f"{document.source}: read the first {cut:,} of {len(document.text):,} characters "
                         f"(max_document_chars={cfg.max_document_chars:,})")
            warn(notes[-1])
            document = replace(document, text=document.text[:cut])
        kept.append(document)
    return kept, notes


def _with_uncovered_sentences(model_facts: list[Fact], facts: list[Fact], pairs: list[Pair]):
    """The model's facts, and each sentence fact (with its pairs) that no kept model fact covers."""
    kept_words = {}
    for f in model_facts:
        if f.dropped is None:
            kept_words.setdefault(f.chunk.id, []).append(curate.content_words(f.text))
    uncovered = {
        f.id for f in facts
        if not any(curate.support(curate.content_words(f.text), words) >= 0.6 for words in kept_words.get(f.chunk.id, []))
    }
    return model_facts + [f for f in facts if f.id in uncovered], [p for p in pairs if p.fact.id in uncovered]


def _tokenizer(cfg: GenerateConfig):
    from knowtune.models import DEFAULT_MODEL, load_tokenizer, resolve_model

    # An openai model is remote; any tokenizer counts tokens closely enough to size chunks.
    name = cfg.tokenizer or (DEFAULT_MODEL if cfg.model_type == "openai" else cfg.model_name_or_path)
    return load_tokenizer(resolve_model(name))


def _common_words(tokenizer):
    """Whether a word is common: a whole word of the tokenizer's vocabulary ("stone"), not pieces ("serp-ent-il")."""
    cache: dict[str, bool] = {}

    def is_common(word: str) -> bool:
        if word not in cache:
            cache[word] = len(tokenizer(" " + word, add_special_tokens=False)["input_ids"]) == 1
        return cache[word]

    return is_common


def _user(content: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": content}]


def _summarize(caller: Caller, cfg: GenerateConfig, chunks: list[Chunk]) -> list[str]:
    prompt = cfg.prompts.summary
    calls = [Call(f"summary of {c.id}", _user(prompt.template.format(text=c.text)), parse_summary) for c in chunks]
    replies = caller.ask(calls, prompt.max_new_tokens, "summaries", "chunk")
    return [r or "" for r in replies]  # a skipped summary leaves the facts prompt without one


def _extract_facts(caller: Caller, cfg: GenerateConfig, chunks: list[Chunk], summaries: list[str]) -> list[Fact]:
    prompt, min_support = cfg.prompts.facts, cfg.curation.min_fact_support
    calls = [
        Call(
            f"facts of {c.id}",
            _user(prompt.template.format(text=c.text, summary=s)),
            partial(_usable_facts, chunk_words=curate.content_words(c.text), min_support=min_support),
        )
        for c, s in zip(chunks, summaries)
    ]
    replies = caller.ask(calls, prompt.max_new_tokens, "facts", "chunk")
    facts = []
    for chunk, summary, found in zip(chunks, summaries, replies):
        chunk_words = curate.content_words(chunk.text)
        for k, text in enumerate(found or []):
            fact = Fact(f"{chunk.id}/f{k}", chunk, summary, text)
            fact.dropped = curate.check_fact(text, chunk_words, cfg.curation.min_fact_support)
            facts.append(fact)
    # Overlapping chunks, and models, state one fact more than once: keep its first wording.
    by_document: dict[str, list[Fact]] = {}
    for fact in facts:
        if fact.dropped is None:
            by_document.setdefault(fact.chunk.document, []).append(fact)
    for own in by_document.values():
        repeats = curate.near_duplicates([f.text for f in own], cfg.curation.max_question_similarity)
        for fact, earlier in zip(own, repeats):
            if earlier is not None:
                fact.dropped = curate.DROP_DUPLICATE_FACT
    return facts


def _usable_facts(reply: str, chunk_words: set[str], min_support: float) -> list[str] | None:
    """The reply's facts; None (ask again) when none would be kept: a refusal, nonsense, only pronouns."""
    facts = parse_facts(reply) or []
    return facts if any(curate.check_fact(f, chunk_words, min_support) is None for f in facts) else None


def _answer_from_fact(reply: str, fact_words: set[str]) -> str | None:
    """The reply's answer; None (ask again) when it has no word of its fact: no answer to curate."""
    answer = parse_answer(reply)
    return answer if answer and curate.content_words(answer) & fact_words else None


def _write_pairs(caller: Caller, cfg: GenerateConfig, facts: list[Fact]) -> list[Pair]:
    n, n_roles = cfg.qa_amount_per_fact, cfg.role_amount_per_fact
    jobs = [
        (fact, cfg.personas[(g * n_roles + k) % len(cfg.personas)])  # rotate, so personas are used evenly
        for g, fact in enumerate(facts)
        for k in range(n_roles)
    ]
    prompt = cfg.prompts.questions
    calls = [
        Call(
            f"questions on {fact.id} as {persona!r}",
            _user(prompt.template.format(fact=fact.text, persona=persona, n=n, summary=fact.summary)),
            parse_questions,
        )
        for fact, persona in jobs
    ]
    asked = caller.ask(calls, prompt.max_new_tokens * n, "questions", "fact x persona")
    pairs = [Pair(fact, persona, question) for (fact, persona), found in zip(jobs, asked) for question in found or []]
    _drop_repeated_questions(pairs, cfg.curation.max_question_similarity)

    prompt = cfg.prompts.answer
    to_answer = [p for p in pairs if p.dropped is None]
    calls = [
        Call(
            f"answer to {p.question!r} on {p.fact.id}",
            _user(prompt.template.format(fact=p.fact.text, question=p.question, summary=p.fact.summary)),
            partial(_answer_from_fact, fact_words=curate.content_words(p.fact.text)),
        )
        for p in to_answer
    ]
    answers = caller.ask(calls, prompt.max_new_tokens, "answers", "question")
    for pair, answer in zip(to_answer, answers):
        if answer is None:
            pair.dropped = curate.DROP_NO_ANSWER
            continue
        pair.answer = answer
        pair.dropped = curate.check_pair(
            pair.question, answer, pair.fact.text, cfg.curation.min_question_support, cfg.curation.min_answer_support
        )
    return pairs


def _drop_repeated_questions(pairs: list[Pair], threshold: float) -> None:
    """Near-duplicates among one fact's model questions; the same question about two facts (no single answer).

    Templated questions of one fact share their words by design ("Vellmoor was founded by whom?", "Who
    was Vellmoor founded by?"): the word order is the variation, so only their exact repeats go.
    """
    by_fact: dict[str, list[Pair]] = {}
    for p in pairs:
        if p.dropped is None:
            by_fact.setdefault(p.fact.id, []).append(p)
    first_fact: dict[str, str] = {}  # a question's content words -> the fact it was first asked about
    for fact_id, own in by_fact.items():
        asked = [p for p in own if p.form == "model"]
        repeats = {id(p) for p, earlier in zip(asked, curate.near_duplicates([p.question for p in asked], threshold))
                   if earlier is not None}
        seen: set[str] = set()
        for p in own:
            key = " ".join(sorted(curate.content_words(p.question)))
            if id(p) in repeats or p.question in seen or first_fact.setdefault(key, fact_id) != fact_id:
                p.dropped = curate.DROP_DUPLICATE_QUESTION
            seen.add(p.question)


def _judge(caller: Caller, cfg: GenerateConfig, pairs: list[Pair]) -> None:
    prompt = cfg.prompts.judge
    calls = [
        Call(
            f"judge of {p.question!r} on {p.fact.id}",
            _user(prompt.template.format(fact=p.fact.text, question=p.question, answer=p.answer)),
            parse_score,
        )
        for p in pairs
    ]
    for pair, score in zip(pairs, caller.ask(calls, prompt.max_new_tokens, "judge", "pair")):
        pair.score = score
        if score is None:
            pair.dropped = curate.DROP_JUDGE_UNPARSEABLE
        elif score < cfg.curation.judge_min_score:
            pair.dropped = curate.DROP_JUDGE


def _cap_per_persona(pairs: list[Pair], limit: int) -> None:
    """Keep at most `limit` pairs per fact and persona: models often write more than asked."""
    kept: dict[tuple[str, str], int] = {}
    for p in pairs:
        if p.dropped is None and p.persona is not None:
            key = (p.fact.id, p.persona)
            kept[key] = kept.get(key, 0) + 1
            if kept[key] > limit:
                p.dropped = curate.DROP_SURPLUS
