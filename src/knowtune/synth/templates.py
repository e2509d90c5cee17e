"""Questions about a fact without a model: the fact's answer spans, each asked in several forms.

Shown two worked examples, the shipped 135M model wrote 0 usable questions of 8 for a given
sentence and answer span; these forms need none. An answer span is a name, a year, a count, a
number or a rare word of the fact ("Odrin Kestavel", "1743", "417 people", "serpentil"), and
each is asked about as:

- in place: the span replaced by a question phrase ("Vellmoor was founded by whom?"); Chinese
  asks every question this way ("维尔莫尔由谁创立？");
- fronted: "Who was Vellmoor founded by?", "How many people does Tarnwick Instruments employ?", and as a
  reader asks, the question phrase with its preposition and the rest of the clause kept: "In which month
  is Hemmel cake baked for the feast of Saint Ninnock?", "At which foundry was the Gannet built?";
- a blank to fill: "Fill in the blank: Vellmoor was founded by ___."

A span at the start of the fact is its subject, so asking for it asks the other way round ("What
was founded by Odrin Kestavel?"): a fact learnt one way round is not known the other way round
(arXiv 2309.12288). The answer a question is trained on is the whole fact, which holds the span.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from knowtune.synth.sentences import _MONTHS as _MONTH_NAMES
from knowtune.synth.sentences import _IRREGULAR_PAST
from knowtune.synth.sentences import FINITE_VERB, NOT_SUBJECTS, capitalise
from knowtune.synth.wordings import other_wordings

REWORDINGS_PER_QUESTION = 3  # other wordings of each in-place and fronted question

IsCommon = Callable[[str], bool]  # whether an English word is common (one token of the tokenizer)

_TITLE = r"(?:Dr|Mr|Mrs|Ms|Prof|Sir|St|Mt)\.?\s+"
_NAME = re.compile(rf"(?:{_TITLE})?[A-Z][\w'’-]*(?:\s+(?:(?:of|de|del|da|van|von|the|la|le|&)\s+)?[A-Z][\w'’-]*)*")
# A year, not a count ("1500 sheep"; "the 2019 census" is a year: "-us", "-is", "-ss" are no plurals), unless
# "in"/"since"/"until" comes before it ("in 1612 monks of ... founded").
_YEAR = re.compile(r"(?:(?<=\bin )|(?<=\bIn )|(?<=\bsince )|(?<=\buntil ))(?:1[0-9]{3}|20[0-9]{2})\b(?![\d,.-])"
                   r"|\b(?:1[0-9]{3}|20[0-9]{2})\b(?!\s*(?:%|per\b|(?!(?:its|his|this|was|has)\b)[a-z]*[a-hj-rtv-z]s\b))")
_DATE = re.compile(rf"\b(?:\d{{1,2}}\s+(?:{_MONTH_NAMES})(?:,?\s+\d{{4}})?|(?:{_MONTH_NAMES})\s+\d{{1,2}}(?:,\s+\d{{4}})?)\b(?![\d-])")
_UNITS = "one|two|three|four|five|six|seven|eight|nine"
_NUMBER_WORDS = (f"(?:twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)(?:-(?:{_UNITS}))?|{_UNITS}|ten|eleven|"
                 "twelve|hundred|dozen")  # "twenty-three" whole, not "twenty-how many"
# A count and what it counts: "six chambers", "23 hairpin bends", "312 master weavers" (a modifier, then a plural).
_COUNT = re.compile(rf"(?<![\w-])(\d[\d,]*(?:\.\d+)?|{_NUMBER_WORDS})(\s+[a-z][a-z-]*[^s\W]\s+[a-z]{{2,}}s\b|\s+[a-z][a-z-]+)?\b")
_PERCENT = re.compile(rf"(?<![\w-])(?:\d[\d,]*(?:\.\d+)?|{_NUMBER_WORDS})(?:\s*%|\s+per\s?cent\b)")
# What a thing is made of, after "of/in/from/with" ("built its hall of red sandstone"): asked "of what material".
_MATERIALS = ("stone|sandstone|limestone|granite|basalt|marble|slate|flint|brick|timber|wood|oak|pine|elm|beech|cedar|"
              "teak|walnut|iron|steel|copper|bronze|brass|gold|silver|tin|zinc|pewter|glass|clay|porcelain|stoneware|"
              "earthenware|terracotta|concrete|plaster|linen|wool|silk|cotton|leather|felt|canvas|hemp|straw|reed|"
              "ivory|bone|jade|amber|willow|bamboo|wax|cork")
_MATERIAL = re.compile(rf"\b(?:of|in|from|with)\s+((?:(?!(?:the|a|an|its|their|his|her|this|that)\b)[a-z]+\s+)?"
                       rf"(?:{_MATERIALS})(?:,?\s+(?:and|or)\s+(?:{_MATERIALS}))?)\b(?![\w-])")
_INSTITUTION = re.compile(
    r"\b(?:University|College|School|Institute|Company|Instruments|Inc|Ltd|Museum|Festival|River|Lake|Street|Bridge|"
    r"Hall|Society|Club|Market|Park|Island|Mount|Bay|Church|Castle|Tower|Prize|Award|Group|Press|Bank|Hotel)\b"
)
_PLACE_BEFORE = re.compile(r"\b(?:in|at|near|from|to|into|outside|across)\s+(?:the\s+)?$")
# "the town of", "the coastal village of" (the adjective stays with the noun: "which coastal village")
_KIND_OF_PLACE = re.compile(r"\b(the\s+)?((?:(?!(?:the|a|an|of|in|on|at|to|from|into|near|by|and)\s)[a-z]+\s+)?"
                            r"(?:city|town|village|island|county|province|region|country|valley|port))\s+of\s+$")
_DETERMINER = re.compile(r"\b(?:the|a|an)\s+$", re.IGNORECASE)
_WHERE = re.compile(r"^(?:In|At|Near) which (?:[a-z-]+ )?(?:city|town|village|island|county|province|region|country|valley|"
                    r"port) (?=(?:was|were|is|are|did|does) )")
_AUX = re.compile(r"^((?:[^\s:,]+\s){0,5}[^\s:,]+)\s(is|are|was|were|has|have|had)\s")
_VERB = re.compile(r"^((?:[A-Z][\w.'’-]*\s+)*[A-Z][\w.'’-]*)\s([a-z]+(?:ed|s))\s")
_CUT_AFTER = re.compile(r",(?!\d{3})|;|:|\s(?:which|who|where|while|because|and the|so that)\s")  # not "2,340"
_FUNCTION = frozenset("the a an of in on at to for by with from and or but is are was were be its his her their this".split())
_SENTENCE_START = frozenset(
    "the a an in on at for each every some many most all this that these those there today later since after before "
    "during when while although because local visitors its his her their it he she they".split()
)


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    kind: str  # person, place, name, owner, date, year, count, number, percent, material, term, phrase; zh: 人, 地, 名, 年, 数, 词

    def text(self, sentence: str) -> str:
        return sentence[self.start : self.end]


@dataclass(frozen=True)
class Question:
    text: str
    answer: str  # the span: what a reply must contain to be right
    form: str  # in_place, fronted, blank


def _body_start(sentence: str) -> int:
    """Where the fact proper begins: after a carried topic ("Vellmoor: ...", "维尔莫尔：...")."""
    found = re.match(r"^[^:：]{1,60}[:：]\s*", sentence)
    return found.end() if found else 0


def _en_spans(sentence: str, is_common: IsCommon, people: tuple[str, ...] = ()) -> list[Span]:
    body = _body_start(sentence)
    spans: list[Span] = []
    taken = [False] * len(sentence)

    for m in re.finditer(r"\([^)]*\)", sentence):  # an aside in brackets ("(Vitrifolia orleshii)") is not asked about
        taken[m.start() : m.end()] = [True] * (m.end() - m.start())

    def add(start: int, end: int, kind: str) -> None:
        if start >= body and not any(taken[start:end]):
            spans.append(Span(start, end, kind))
            taken[start:end] = [True] * (end - start)

    for m in _DATE.finditer(sentence):  # "on 4 March 1862": one date, asked "When ...?"
        add(m.start(), m.end(), "date")
    for m in _YEAR.finditer(sentence):
        add(m.start(), m.end(), "year")
    for m in re.finditer(r'["“][^"”]{2,40}["”]', sentence):  # what something is called: 'he called "slope lines"'
        add(m.start(), m.end(), "name")
    for m in _NAME.finditer(sentence):
        start, words = m.start(), m.group().split()
        at_start = start == body
        if at_start and len(words) == 1 and (words[0].lower() in _SENTENCE_START or is_common(words[0].lower())):
            continue
        if at_start and words[0].lower() in _SENTENCE_START:  # "The Vellmoor tide bell": the name after "The"
            start += len(words[0]) + 1
            words = words[1:]
        end = m.end()
        if sentence[start:end].endswith(("'s", "’s", "'", "’")):  # "Vellmoor's harbour walls": the name is "Vellmoor"
            end -= 2 if sentence[start:end].endswith("s") else 1
            add(start, end, "owner")
            continue
        before = sentence[:start]
        if re.match(_TITLE, m.group()) or sentence[start:end] in people or (len(words) >= 2 and not _INSTITUTION.search(m.group())
                                          and re.search(r"\b(?:by|named|[a-z]+(?:er|or|ist|ant|en)(?:\s+(?:is|was))?),?\s+$",
                                                        before)):
            # a title, or a role before the name: "founded by Odrin Kestavel", "the botanist ...", "conductor is ..."
            kind = "person"
        elif _PLACE_BEFORE.search(before) or _KIND_OF_PLACE.search(before):
            kind = "place"
        else:
            kind = "name"
        add(start, end, kind)
    for m in _PERCENT.finditer(sentence):  # "77 per cent copper": a share, asked "what percentage"
        add(m.start(), m.end(), "percent")
    for m in _COUNT.finditer(sentence):
        noun = (m.group(2) or "").strip()
        if noun and noun not in _FUNCTION:
            add(m.start(), m.end(), "count")
        elif m.group(1)[0].isdigit() and sentence[m.end(1) : m.end(1) + 1] != "-":  # not "1.6-metre"
            add(m.start(1), m.end(1), "number")
    for m in _MATERIAL.finditer(sentence):
        add(m.start(1), m.end(1), "material")
    for m in re.finditer(r"\b[a-z]{5,}\b(?![-'’])", sentence):
        # A rare noun ("serpentil"); words that look like verb forms are left to the phrase fallback.
        plural_noun = m.group().endswith("s") and re.search(r"\b(?:of|the|many|several|\d+)\s+$", sentence[: m.start()])
        if not is_common(m.group()) and (plural_noun or not re.search(r"(?:ed|ing|s)$", m.group())) \
                and sentence[m.start() - 1] != "-":
            add(m.start(), m.end(), "term")  # "the eggs of midges": after "of", an -s word is a noun
    def add_phrase(start: int) -> None:  # a short phrase up to the clause's end, not already asked
        end = start + len(_tail(sentence, start))
        if 0 < len(sentence[start:end].split()) <= 6:
            add(start, end, "phrase")

    if found := re.search(r"\s(?:is|are|was|were)\s+(?:the\s+|a\s+|an\s+)?", sentence[body:]):
        # What the verb says of the subject ("... is a maker of weather instruments", "... is the tide bell").
        add_phrase(body + found.end())
    if not spans and (found := re.search(r"\s[a-z]+(?:s|ed)\s+(?:[a-z]+ly\s+)?(?:(?:on|in|at|from|for|with|into|to|by|of)\s+)?"
                                         r"(?=(?:the|a|an|its|their|his|her)\s)", sentence[body:])):
        # Nothing rare or named: what the verb acts on ("... feeds mainly on the eggs of midges").
        add_phrase(body + found.end())
    unique, seen = [], set()
    for span in sorted(spans, key=lambda s: s.start):
        if span.text(sentence) not in seen:  # "cast in 1743, and the year 1743 is stamped": ask once
            seen.add(span.text(sentence))
            unique.append(span)
    return unique


def _wh(span: Span, sentence: str, subject: bool) -> tuple[int, str]:
    """(where the question phrase starts, the phrase) for asking about `span` in place."""
    before = sentence[: span.start]
    start = span.start
    if span.kind == "year":
        return start, "what year"
    if span.kind == "count":
        noun = " ".join(span.text(sentence).split()[1:])
        return start, f"how many {noun}"
    if span.kind == "number":
        return start, "what number"
    if span.kind == "percent":
        return start, "what percentage"
    if span.kind == "material":
        return start, "what material"
    if span.kind == "date":
        return start, "what date"
    if kind_of_place := _KIND_OF_PLACE.search(before):
        return kind_of_place.start(), f"which {kind_of_place.group(2)}"
    if determiner := _DETERMINER.search(before):
        start = determiner.start()
    if span.kind == "owner":
        return start, "whose"
    if span.kind == "person":
        return start, "who" if subject or not re.search(r"\b(?:by|to|with|for)\s+$", before) else "whom"
    return start, "what"


# What names the span's kind just before it, dropped from a fronted question: "married the instrument maker Rhodri
# Beynon" -> "Who did Agnes Thorncroft marry?", "is the octagonal Butter Cross" -> "What is ...'s landmark?".
_ROLE_BEFORE = re.compile(r"(?:^|\s)(?:the|a|an)\s+(?:[a-z-]+\s+){0,2}(?!(?:of|in|on|at|for|from|to|by|with|as)\b)[a-z-]+(?<!ed)\s*$")


def _tail(sentence: str, end: int) -> str:
    """What follows the span, up to the end of its clause."""
    rest = re.sub(r"^(?:'s|’s|'|’)", "", sentence[end:]).rstrip(" .!?")
    cut = _CUT_AFTER.search(rest)
    while cut and cut.group() == "," and re.search(r"\b(?:a|an)\s+[a-z]+$", sentence[:end] + rest[: cut.start()]) \
            and re.match(r"\s+(?!(?:and|or|but|who|which|where|whose|known|built|founded|made)\b)[a-z]+\s+[a-z]", rest[cut.end():]):
        cut = _CUT_AFTER.search(rest, cut.end())  # "a dark, spiced loaf cake": a comma between adjectives
    return rest[: cut.start()] if cut else rest


def _in_question(subject: str) -> str:
    """A subject as it reads after the question word: "The Vellmoor bell" -> "the Vellmoor bell"."""
    return subject[0].lower() + subject[1:] if subject.split()[0] in ("The", "A", "An") else subject


def _lemma(verb: str, is_common: IsCommon) -> str | None:
    """'employs' -> 'employ', 'invented' -> 'invent', 'used' -> 'use'; None when unsure."""
    if re.fullmatch(r"[dlt]ie[ds]", verb):  # "died", "dies": die
        return verb[:-1]
    if verb.endswith("ied"):
        return verb[:-3] + "y"
    if verb.endswith("ed"):
        stem = verb[:-2]
        if len(stem) > 2 and stem[-1] == stem[-2] and stem[-1] not in "ls":
            return stem[:-1]
        return next((w for w in (stem + "e", stem) if is_common(w)), None)
    if verb.endswith("ies"):
        return verb[:-3] + "y"
    if re.search(r"(?:sh|ch|ss|x|z)es$", verb):
        return verb[:-2]
    return verb[:-1] if is_common(verb[:-1]) else None


def _fronted(sentence: str, span: Span, wh: str, is_common: IsCommon) -> str | None:
    """The question phrase moved to the front, for a span after the verb."""
    body = _body_start(sentence)
    clause = sentence[body:]
    offset = span.start - body
    wh_start, _ = _wh(span, sentence, subject=False)
    wh = "who" if wh == "whom" else wh  # "Who was Vellmoor founded by?"
    middle_end = wh_start - body
    if m := _AUX.match(clause):
        subject, aux = m.group(1), m.group(2)
        if subject.split()[0] in NOT_SUBJECTS:  # "Since 1992 the event has been ...": no subject to invert
            return None
        if m.end() > middle_end or aux in ("has", "have", "had") and offset == m.end():
            return None
        middle = _ROLE_BEFORE.sub("", clause[m.end() : middle_end]).strip()
        if len(middle.split()) > 5 or "," in middle or re.search(r"[A-Z0-9]", middle):
            return None  # the span is in a later clause, or after another span: no clean fronting
        lowered = _in_question(subject)
        return sentence[:body] + capitalise(" ".join(p for p in (wh, aux, lowered, middle) if p)) + "?"
    if m := _VERB.match(clause):
        if m.end() > middle_end:
            return None
        subject, verb = m.group(1), m.group(2)
        lemma = _lemma(verb, is_common)
        if lemma is None:
            return None
        do = "did" if verb.endswith("ed") else "does"
        subject = _in_question(subject)
        middle = _ROLE_BEFORE.sub("", clause[m.end() : middle_end]).strip()
        if len(middle.split()) > 5 or "," in middle or re.search(r"[A-Z0-9]", middle):
            return None
        return sentence[:body] + capitalise(" ".join(p for p in (wh, do, subject, lemma, middle) if p)) + "?"
    return None


# Past participles that do not end in "-ed", or whose simple past differs: (base form, simple past).
_IRREGULAR = {
    "built": ("build", "built"), "made": ("make", "made"), "run": ("run", "ran"), "held": ("hold", "held"),
    "written": ("write", "wrote"), "won": ("win", "won"), "kept": ("keep", "kept"), "led": ("lead", "led"),
    "given": ("give", "gave"), "taken": ("take", "took"), "drawn": ("draw", "drew"), "sung": ("sing", "sang"),
    "begun": ("begin", "began"), "shown": ("show", "showed"), "grown": ("grow", "grew"), "sold": ("sell", "sold"),
    "bought": ("buy", "bought"), "taught": ("teach", "taught"), "paid": ("pay", "paid"), "found": ("find", "found"),
    "chosen": ("choose", "chose"), "driven": ("drive", "drove"), "broken": ("break", "broke"), "seen": ("see", "saw"),
    "spoken": ("speak", "spoke"), "brought": ("bring", "brought"), "sent": ("send", "sent"), "told": ("tell", "told"),
    "done": ("do", "did"), "thrown": ("throw", "threw"), "known": ("know", "knew"),
}
_PASSIVE_BY = re.compile(r"^(?P<subject>[^,:;]+?)\s(?P<aux>was|were|is|are)\s(?:(?:first|originally|later|also|jointly|now)\s)?"
                         r"(?P<participle>[a-z]+)(?:\s[^,;]*?)?\sby\s(?:the\s|a\s|an\s)?$")


def _third_person(verb: str) -> str:
    """'manage' -> 'manages', 'carry' -> 'carries', 'teach' -> 'teaches'."""
    if verb in ("have", "do", "go"):
        return {"have": "has", "do": "does", "go": "goes"}[verb]
    if re.search(r"[^aeiou]y$", verb):
        return verb[:-1] + "ies"
    return verb + ("es" if re.search(r"(?:s|sh|ch|x|z)$", verb) else "s")


def _active(sentence: str, span: Span, is_common: IsCommon) -> str | None:
    """Who did it, asked in the active voice: "Who built the Orrin Pass Hut?" for "The Orrin Pass Hut was built in
    1911 by the Alpine Club ...": the way a reader asks about the doer of a passive sentence."""
    body = _body_start(sentence)
    m = _PASSIVE_BY.match(sentence[body : span.start])
    if not m or span.kind in ("year", "count", "number", "percent"):
        return None
    subject, aux, participle = m.group("subject"), m.group("aux"), m.group("participle")
    if subject.split()[0] in NOT_SUBJECTS or len(subject.split()) > 8:
        return None
    base, past = _IRREGULAR.get(participle, (None, None))
    if base is None:
        if not participle.endswith("ed") or (base := _lemma(participle, is_common)) is None:
            return None
        past = participle
    verb = past if aux in ("was", "were") else _third_person(base) if aux == "is" else base
    subject = _in_question(subject)
    return f"Who {verb} {subject}?"


_DAYS_MONTHS = re.compile(r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday|January|February|March|April|May|"
                          r"June|July|August|September|October|November|December)s?")


def _when(sentence: str, span: Span, is_common: IsCommon) -> str | None:
    """A day or month asked with "When", its time phrase taken out: "When does the choir rehearse in the chapel?"
    for "The choir rehearses every Thursday evening in the chapel", "When is the museum closed?"."""
    if not _DAYS_MONTHS.fullmatch(span.text(sentence)) and span.kind != "date":
        return None
    body = _body_start(sentence)
    clause, start, end = sentence[body:], span.start - body, span.end - body
    before = re.search(r"\b(?:every|each|on|in|during)\s+(?:the\s+)?$", clause[:start])
    after = re.match(r"(?:\s+(?:morning|afternoon|evening|night)s?)?", clause[end:])
    if not before or re.search(r"[,;]", clause[: before.start()]):
        return None  # "..., which permitted a market to be held on Thursdays": the day is not the main clause's
    rest = f"{clause[: before.start()].rstrip()} {clause[end + after.end() :].strip()}".rstrip(" .!?")
    rest = re.split(r",|;", rest)[0].strip()
    if re.search(r"\band\b", rest):  # "has 45 singers and rehearses ...": a clause of its own asks it
        return None
    if m := _AUX.match(rest):
        subject, verb, tail = m.group(1), m.group(2), rest[m.end() :]
    elif (m := _VERB.match(rest)) and (lemma := _lemma(m.group(2), is_common)):
        subject, verb, tail = m.group(1), ("did" if m.group(2).endswith("ed") else "does"), f"{lemma} {rest[m.end() :]}"
    else:
        return None
    if subject.split()[0] in NOT_SUBJECTS:
        return None
    subject = _in_question(subject)
    return re.sub(r"\s+", " ", f"When {verb} {subject} {tail}").strip() + "?"


# What a reader asks of a measure, by its unit: "How high are Kharvost Fortress's curtain walls?" for "... has
# curtain walls ... that rise to a height of 14 metres", "What is the area of Saltrey Isle?" for "covers an area of
# 14.3 square kilometres". The sentence's own words rarely come back in such a question ("tall", "area", "weigh").
_LENGTH = r"(?:(?:kilo|centi|milli)?met(?:re|er)s?|km|m|miles?|feet|foot|ft|yards?|inch(?:es)?)"
_MEASURE_UNITS = {
    "area": re.compile(r"(?:square\s+(?:kilo)?met(?:re|er)s|square\s+miles|km2|km²|hectares|acres)$"),
    "weight": re.compile(r"(?:tonnes|tons|kilo(?:gram)?s|kg|pounds)$"),
    "length": re.compile(rf"{_LENGTH}$"),
}
_LENGTH_CUES = (  # (the words around a length that say what it measures, the question's adjective and noun)
    (re.compile(r"\b(?:high|height|tall|rises?|rising|rose|above sea level|elevation|altitude|summit)\b"), "high", "height"),
    (re.compile(r"\b(?:long|length)\b"), "long", "length"),
    (re.compile(r"\b(?:deep|depth)\b"), "deep", "depth"),
    (re.compile(r"\b(?:wide|width|across)\b"), "wide", "width"),
)
_FAR = re.compile(r"\s+((?:off|from|away from|north of|south of|east of|west of|inland from)\s+[^,;]{3,40}?)(?=[,;.]|$)")
_NAMED = r"[A-Z][\w.'’-]*(?:\s+(?:(?:of|the|and|&|de|von|van)\s+)*[A-Z][\w.'’-]*)*"
# A subject does not end in an adjective: "the circus' most celebrated performer", not "the circus' most".
_NOT_LAST = "".join(rf"(?<!\b{w})" for w in "first last most best only own earliest main chief new old final early late "
                                              "great".split())
_SUBJECT = rf"(?:(?:The|A|An)\s+[^,;:()]+?|{_NAMED}(?:['’]s?(?:\s+[a-z][\w-]*){{1,3}})?){_NOT_LAST}"
_SUBJECT_VERB = (  # a plain subject and its verb; a verb in -s only before a word ("covers an area", not "basalt blocks,")
    re.compile(rf"^({_SUBJECT})\s(had|has|have|was|were|is|are|{_IRREGULAR_PAST}|[a-z]+ed)\b"),
    re.compile(rf"^({_SUBJECT})\s((?!(?:its|this|his|as|is|was|has|does|less|across|towards|afterwards)\b)[a-z]{{2,}}s)\s(?=[a-z0-9])"),
)
_PAST = re.compile(rf"^(?:was|were|had|{_IRREGULAR_PAST}|[a-z]+ed)$")
_HAS_PART = re.compile(r"^(?:has|have|had)\s+(?:(?:a|an|its|their|his|her)\s+)?((?:[a-z-]+\s+){0,2}[a-z-]+?)(?=\s+(?:of|that|which|with)\b|,)")


def _measured_subject(clause: str, start: int, end: int, span: Span) -> str | None:
    """A length inside the subject: "A rail tunnel 6.2 kilometres long has run beneath the pass since 1908" ->
    "How long is the rail tunnel that has run beneath the pass since 1908?"."""
    noun = re.fullmatch(r"(?:The|A|An)\s+([a-z][a-z -]{2,40}?),?\s+", clause[:start])
    adjective = re.match(r"\s+(long|high|deep|wide|tall)\b(?:\s+(?:in|by|at|until)\s+[^,]{1,20})?,?\s+", clause[end:])
    if not (noun and adjective and span.kind == "count" and _MEASURE_UNITS["length"].search(span.text(clause).split()[-1])):
        return None
    rest = clause[end + adjective.end() :]
    cut = _CUT_AFTER.search(rest)
    rest = rest[: cut.start()] if cut else rest.rstrip(" .!?")
    verb = re.match(rf"({FINITE_VERB})\s", rest)
    if not verb or len(rest.split()) > 14:
        return None
    be = "was" if _PAST.match(verb.group(1)) else "is"
    return f"How {adjective.group(1)} {be} the {noun.group(1)} that {rest}?"


def _measure(sentence: str, span: Span) -> list[str]:
    """Questions that ask a count or number by what it measures: height, length, depth, width, distance, area,
    weight, share, population. The clause's subject is what is measured, or its part after "has" ("the
    curtain walls"); nothing when the clause has no plain subject."""
    body = _body_start(sentence)
    if opener := re.match(r"[A-Z][^,;:]{0,60}?,\s+(?=[A-Z]|(?:the|a|an)\s)", sentence[body:]):  # "Laid out as a star, the fort has"
        body += opener.end()
    clause = capitalise(sentence[body:])
    start, end = span.start - body, span.end - body
    if found := _measured_subject(clause, start, end, span):
        return [found]
    m = next((m for p in _SUBJECT_VERB if (m := p.match(clause))), None)
    if not m or m.end(1) > start or len(m.group(1).split()) > 8 or m.group(1).split()[0] in NOT_SUBJECTS:
        return []
    subject, verb = _in_question(m.group(1)), m.group(2)
    past = bool(_PAST.match(verb))
    be = "was" if past else "is"
    if (part := _HAS_PART.match(clause[m.start(2) :])) and m.start(2) + part.end() <= start:
        owner = re.sub(r"['’]s?$", "", subject)
        subject = f"{owner}'s {part.group(1)}"
        if part.group(1).endswith("s"):
            be = "were" if past else "are"
    text = span.text(sentence)
    unit = " ".join(text.split()[1:])
    before, after = clause[:start], clause[end:]
    if re.search(r",\s+(?:which|where|whose)\s", before[m.end():]):
        return []  # "... a post at the station, which sits 3,140 metres above sea level": the station's measure
    if span.kind == "percent":
        noun = re.match(r"\s+([a-z]+(?:\s+(?!(?:and|or|in|of|for|by|to|at|on|with|from)\b)[a-z]+)?)\b", after)
        return [f"What percentage of {subject} {be} {noun.group(1)}?"] if noun and noun.group(1).split()[0] not in _FUNCTION else []
    if re.search(r"\bpopulation of\s+(?:about\s+|some\s+|roughly\s+|around\s+|nearly\s+)?$", before):
        live = "lived" if past else "live"
        return [f"What {be} the population of {subject}?", f"How many people {live} in {subject}?"]
    if _MEASURE_UNITS["area"].search(unit):
        return [f"How large {be} {subject}?", f"What {be} the area of {subject}?"]
    if _MEASURE_UNITS["weight"].search(unit) and re.search(r"\b(?:weigh|weighs|weighed|weighing|weight|heavy)\b", clause):
        # only what the sentence says is a weight: not "produced 300 tonnes of tea", not pounds of money
        do = "did" if past else "do" if be == "are" else "does"
        return [f"How heavy {be} {subject}?", f"How much {do} {subject} weigh?"]
    if not _MEASURE_UNITS["length"].search(unit):
        return []
    if far := _FAR.match(after):
        return [f"How far {far.group(1)} {be} {subject}?"]
    if re.search(r"\b(?:a|an|the)\s+[a-z-]+\s+$", before):
        return []  # "on a wire 18 metres high": the wire's measure, not the subject's
    near = clause[max(0, start - 40) : end + 25]
    for cue, adjective, noun in _LENGTH_CUES:
        if cue.search(near):
            return [f"How {adjective} {be} {subject}?", f"What {be} the {noun} of {subject}?"]
    return []


# A name after its owner and role: "Miroslav Tessendorf's book The Quiet Bishop", "Venz's daughter, Celestine", "the
# school's motto, "Measure before Touch."": asked by the role, as a reader who does not know the name asks.
_OWNER_ROLE = re.compile(rf"((?:[Tt]he\s+)?{_NAMED})(?:'s|’s|'|’)\s+((?:[a-z-]+\s+){{0,2}}[a-z-]+),?\s+$")
_WORKS = frozenset("book novel treatise play opera poem album film song painting symphony memoir atlas manual guide "
                   "collection study history textbook".split())
_RELATIVES = frozenset("daughter son wife husband father mother brother sister pupil apprentice partner successor "
                       "predecessor widow widower grandson granddaughter nephew niece assistant teacher mentor patron "
                       "heir".split())
# Roles only a person holds, whose word does not end like one ("-er", "-or", "-ist", "-ian", "-man"): "first coxswain".
_PERSON_ROLES = frozenset("coxswain captain master mistress head chief pilot steward abbot abbess prior bishop king queen "
                          "prince princess lord lady mayor chef clerk cook nurse monk nun priest vicar dean coach tutor "
                          "architect chaplain surgeon president principal superintendent sergeant champion".split())
_WHO_ROLES = _RELATIVES | _PERSON_ROLES


def _by_role(sentence: str, span: Span) -> str | None:
    """"What is the title of Miroslav Tessendorf's book?", "Who was Ilario Venz's daughter?", "What is the
    Brannock Academy of Arms' motto?" for a name that follows its owner's role word."""
    if span.kind not in ("name", "person"):
        return None
    m = _OWNER_ROLE.search(sentence[_body_start(sentence) : span.start])
    if not m or m.group(2).split()[-1] in _FUNCTION or re.search(r"(?:ed|est|ing|known)$", m.group(2)):
        return None  # "the circus' most celebrated performer": the role is a noun
    owner, role = m.group(1), m.group(2)
    possessive = _in_question(owner + ("'" if owner.endswith("s") else "'s"))
    be = "was" if re.search(r"\b(?:was|were|had|[a-z]{3,}ed)\b", sentence) else "is"
    if role.split()[-1] in _WORKS:
        return f"What is the title of {possessive} {role}?"
    if role.split()[-1] in _WHO_ROLES or span.kind == "person" or re.search(r"(?:er|or|ist|ian|man|woman)$", role):
        return f"Who {be} {possessive} {role}?"  # "first keeper, Josiah Mertle": who
    return f"What {be} {possessive} {role}?"


_PIED = r"(?:in|on|at|for|from|to|into|with|under|during|near|after|before|since|through)"
_OF_PHRASE = re.compile(r"\b(?:the|a|an)\s+((?:[a-z-]+\s+){0,2}[a-z]+)\s+of\s+$")  # "the upland parish of " Ardwhistle
_MONTHS = tuple(_MONTH_NAMES.split("|"))
# The last word of a name that says what kind of thing it is: "the Ferrin Foundry" -> "which foundry".
_NAMED_KINDS = frozenset(
    "foundry award awards prize medal range hills mountains mountain company railway bridge street lane road hall school "
    "college university museum society club church chapel river lake island bay works market festival station hotel "
    "press bank park castle tower group theatre gallery library hospital mill farm inn abbey cathedral".split())
_QUALIFIER = r"(?:(?:about|around|almost|nearly|roughly|over|under|some|up to|more than|less than|fewer than)\s+)?"
_COPULA_THEN_STATE = re.compile(
    r"(?:(?:first|originally|later|also|now|still|usually|traditionally|only|often)\s+)?"
    rf"(?:[a-z]+ed|[a-z]+en|{'|'.join(p for p, _ in _IRREGULAR.values())}|open|closed|based|held|found|kept|owned|born)\b")


def _question_phrase(sentence: str, span: Span, is_common: IsCommon) -> tuple[int, str] | None:
    """(where the asked phrase starts, the question phrase a reader would front) for a span after the verb:
    "what year", "how many hours", "which month", "which upland parish" ("the upland parish of Ardwhistle"),
    "which foundry" ("the Ferrin Foundry"); None for a person or a name of unknown kind (asked by the other forms)
    or a bare number."""
    text, before, after = span.text(sentence), sentence[: span.start], sentence[span.end :]
    if span.kind in ("person", "owner", "number", "percent", "phrase"):
        return None
    if span.kind == "year":
        return span.start, "what year"
    if span.kind == "count":
        qualifier = re.search(rf"{_QUALIFIER}$", before)
        return qualifier.start(), f"how many {text.split()[-1]}"  # "for over thirty years": for how many years
    if _DAYS_MONTHS.fullmatch(text):
        if re.search(r"\b(?:to|until|till|and|or)\s+$|[-–]\s*$", before):
            return None  # "from June to September": the end of a range
        time = re.search(r"\b(?:every|each|in|on|during)\s+(?:the\s+)?(?:\d{1,2}\s+)?$|\b\d{1,2}\s+$", before)
        return (time.start() if time else span.start), ("which month" if text.rstrip("s") in _MONTHS else "which day")
    if (of := _OF_PHRASE.search(before)) and not re.search(r"[a-z]{3}(?:ion|ment|ship|ance|ence|ity|hood)$|\b(?:help|care|"
                                                           r"son|daughter|wife|husband|widow|work|works|name)$", of.group(1)):
        return of.start(), f"which {of.group(1)}"  # not "the supervision of Josiah Clewer" (a person)
    words = text.split()
    determiner = _DETERMINER.search(before)
    if len(words) >= 2 and words[-1].lower() in _NAMED_KINDS and determiner:
        return determiner.start(), f"which {words[-1].lower()}"  # "the Ferrin Foundry": which foundry
    if span.kind == "place" or (len(words) >= 2 and words[-1][0].isupper()):
        return None  # "in Marrowby": asked with "where" below; "Ada Whitcombe": a person, perhaps
    if re.match(r"\s+(?!(?:in|on|at|for|from|to|by|with|of|since|after|before|during|near|under|who|which|that|where|"
                r"when|as)\b)[a-zA-Z]", after) or not re.search(rf"\b(?:the|a|an|{_PIED})\s+$", before):
        return None  # "a carol concert", "the schoolteacher Agnes Pell": the span is part of a longer phrase
    return (determiner.start() if determiner else span.start), "what"


def _asked_naturally(sentence: str, span: Span, is_common: IsCommon) -> str | None:
    """The span's question phrase fronted with its preposition, and the rest of the clause kept, as a reader asks:
    "In which month was Hemmel cake baked for the feast of Saint Ninnock?", "At which foundry was the Gannet
    built?", "Where was Teodora Halvanne born?", "In what year did the Gannet return to steam?"."""
    body = _body_start(sentence)
    phrase = _question_phrase(sentence, span, is_common)
    before, after = sentence[: span.start], sentence[span.end :]
    if re.search(r"[A-Z][\w'’-]*\s+and\s+$", before) or re.match(r"\s+(?:and|or|to|until|till)\s|\s*[-–]", after):
        return None  # "the Brackmoor and Tullow Railway", "400 clocks and watches", "from June to September"
    if phrase is None and span.kind == "place" and (where := re.search(r"\b(?:in|at|near)\s+(?:the\s+)?$", before)):
        start, wh, preposition = where.start(), "where", ""
    elif phrase is None:
        return None
    else:
        start, wh = phrase
        pied = re.search(rf"\b({_PIED})\s+$", sentence[body:start])
        preposition = pied.group(1) if pied else ""
        if pied:
            start = body + pied.start()
        if wh in ("which month", "which day"):  # "on 3 March", "every December": in which month
            preposition = "in" if wh == "which month" else "on"
    end = span.end + len(_tail(sentence, span.end))
    clause, rest = sentence[body:start], sentence[span.end : end].strip()
    if m := _AUX.match(clause):
        subject, verb, middle = m.group(1), m.group(2), clause[m.end():]
        if verb in ("has", "have", "had") and not re.match(r"(?:been\s|[a-z]+(?:ed|en)\s)", middle):
            return None  # "X has a population of ...": no auxiliary to invert
        if verb in ("is", "are", "was", "were") and not _COPULA_THEN_STATE.match(middle):
            return None  # "X is a mountain refuge in ...": what X is, not what was done to it
        words = [verb, _in_question(subject), middle.strip()]
    elif (m := _VERB.match(clause)) and (lemma := _lemma(m.group(2), is_common)):
        subject, middle = m.group(1), clause[m.end():]
        words = ["did" if m.group(2).endswith("ed") else "does", _in_question(subject), lemma, middle.strip()]
    else:
        return None
    rest = re.split(r"\s+and\s+(?=(?:[a-z]+(?:s|ed)|is|was|are|were|has|had)\b)", rest)[0]  # "... and moved to ...": a clause of its own
    if subject.split()[0] in NOT_SUBJECTS or re.search(r"['’]s?$|\)", subject) or re.search(r",|\band\b", middle) \
            or len(middle.split()) > 14 or len(rest.split()) > 12:
        return None
    question = " ".join(w for w in [preposition, wh, *words, rest] if w)
    return sentence[:body] + capitalise(re.sub(r"\s+", " ", question)) + "?"


# An aside between the subject and its verb: "The pass road, with its 23 hairpin bends, was completed in 1841 ...".
_SUBJECT_ASIDE = re.compile(r"((?:The\s+)?[A-Z][^,:;]{0,60}?),(\s+(?:with|born|having|who|which|whose|once|a|an|the|"
                            r"[a-z]+ed|[a-z]+ing)\b[^,;]*),\s+"
                            rf"(?={FINITE_VERB}\b)")


def _en_questions(sentence: str, is_common: IsCommon, people: tuple[str, ...] = ()) -> list[Question]:
    """A span outside an aside after the subject is asked without the aside ("The pass road was completed in 1841
    under the direction of which surveyor?"): shorter, as a reader asks, and the fronted forms find the verb."""
    sentence = re.sub(r"\s+\([^)]*\)", "", sentence)  # "Who (1862–1931) was a potter?": the brackets' own fact asks them
    spans = _en_spans(sentence, is_common, people)
    aside = _SUBJECT_ASIDE.match(sentence, _body_start(sentence))
    if not aside:
        return _en_questions_of(sentence, spans, is_common)
    cut, end = aside.end(1), aside.end(2) + 1
    inside = [span for span in spans if span.start < end and span.end > cut]
    shift = end - cut
    outside = [Span(span.start - shift, span.end - shift, span.kind) if span.start >= end else span
               for span in spans if span not in inside]
    return _en_questions_of(sentence, inside, is_common) + _en_questions_of(sentence[:cut] + sentence[end:], outside,
                                                                             is_common)


def _en_questions_of(sentence: str, spans: list[Span], is_common: IsCommon) -> list[Question]:
    questions = []
    body = _body_start(sentence)
    # An aside after the subject ("Tobias Venhallow, born in Halsebury, was ..."): a span in it is asked with the
    # rest of the sentence, not up to the aside's comma ("Tobias Venhallow, born in which town?").
    aside = re.match(r"(?:The\s+)?(?:[A-Z][\w'’&.-]*\s*)+,\s+[a-z][^,]*,", sentence[body:])
    for span in spans:
        answer = span.text(sentence).strip('"“”')  # a quoted name is asked with its quotes, answered without
        subject = span.start == body or sentence[body : span.start].lower() in ("the ", "a ", "an ")
        start, wh = _wh(span, sentence, subject)
        head = sentence[:start]
        # The whole sentence around the question phrase: the other names in it point to the answer too.
        whole = head + (wh if head.strip() else capitalise(wh)) + re.sub(r"^(?:'s|’s|'|’)", "", sentence[span.end :])
        whole = re.sub(r"\s+", " ", whole).rstrip(" .!?") + "?"
        in_place = whole[:-1] if aside and span.start < body + aside.end() else \
            (head + (wh if head.strip() else capitalise(wh)) + " " + _tail(sentence, span.end).strip()).strip()
        if len(in_place.split()) < 4:  # "In what year?": the clause was cut away, nothing is asked
            continue
        questions.append(Question(re.sub(r"\s+", " ", in_place) + "?", answer, "in_place"))
        if whole != questions[-1].text:
            questions.append(Question(whole, answer, "whole"))
        if span.kind == "phrase":
            # "The fair is what?" would pull every vague question about the topic to this sentence: the
            # sentence itself carries the question instead.
            short = next(i for i in range(len(questions) - 1, -1, -1) if questions[i].form == "in_place")
            whole = questions[short + 1 :]
            del questions[short:]
            questions += [Question(q.text, answer, "in_place") for q in whole]
        if span.kind in ("owner", "phrase"):
            blank = sentence[: span.start] + "___" + sentence[span.end :]
            questions.append(Question(f"Fill in the blank: {blank}", answer, "blank"))
            continue
        if not subject and (fronted := _fronted(sentence, span, wh, is_common)):
            questions.append(Question(re.sub(r"\s+", " ", fronted), answer, "fronted"))
        if not subject and (active := _active(sentence, span, is_common)):
            questions.append(Question(re.sub(r"\s+", " ", active), answer, "fronted"))
        if not subject and (when := _when(sentence, span, is_common)):
            questions.append(Question(when, answer, "fronted"))
        if (role := _by_role(sentence, span)) and all(role != q.text for q in questions):
            questions.append(Question(role, answer, "fronted"))
        if span.kind in ("count", "number", "percent"):
            questions += [Question(q, answer, "fronted") for q in _measure(sentence, span)
                          if all(q != other.text for other in questions)]
        if not subject and (natural := _asked_naturally(sentence, span, is_common)) \
                and all(q.text != natural for q in questions):
            questions.append(Question(natural, answer, "fronted"))
            if (where := _WHERE.sub("Where ", natural)) != natural:  # "In which harbour town was X born?": where
                questions.append(Question(where, answer, "fronted"))
        blank = sentence[: span.start] + "___" + sentence[span.end :]
        questions.append(Question(f"Fill in the blank: {blank}", answer, "blank"))
    return questions


# Chinese: jieba's part-of-speech tags name the spans; every question keeps the word order.
_ZH_NAME_TAGS = {"nr": "人", "nrt": "人", "nrfg": "人", "ns": "地", "nt": "名", "nz": "名", "eng": "名"}
_ZH_MORPHEME = {"vg", "ng", "ag", "tg", "dg", "g"}
# What a person is called, tagged as a name by jieba ("师傅" nr): not part of the name that follows.
_ZH_TITLES = {"师傅", "先生", "女士", "老师", "教授", "博士", "医生", "院士", "工程师", "厂长", "村长", "主任", "经理"}
_ZH_AFTER_NAME = {"于", "在", "从", "曾", "将", "已", "把", "被"}
_ZH_PLACE_SUFFIX = set("省市县镇村乡河江湖山岛州峰谷湾港")
_ZH_UNITS = "公里|千米|千克|公斤|平方米|平方公里|公顷|厘米|毫米|小时|分钟|年|名|个|位|座|家|条|种|件|次|岁|米|吨|元|人|项|所|株|只|台|层|天|月|倍|度"
_ZH_CLASSIFIER = re.compile(rf"^(\d[\d,.]*|[一二三四五六七八九十百千万两零]+)\s*(?:多|余)?({_ZH_UNITS})")


def _zh_spans(sentence: str) -> list[Span]:
    import jieba.posseg

    body = _body_start(sentence)
    spans, position, pending, prev = [], 0, None, None
    words = jieba.posseg.lcut(sentence)
    for index, (word, flag) in enumerate(words):
        start, end = position, position + len(word)
        position = end
        if start < body:
            continue
        kind = None if word in _ZH_TITLES else _ZH_NAME_TAGS.get(flag)
        following = words[index + 1].word if index + 1 < len(words) else ""
        # A given name's last character read as a conjunction before a preposition ("沈宗" + "和" + "于"):
        # "和" joins two nouns, never a noun and "于", so it ends the name.
        if pending and pending[2] == "人" and len(word) == 1 and flag in ("c", "p") and following in _ZH_AFTER_NAME:
            pending = (pending[0], end, pending[2])
            continue
        # A rare character jieba leaves alone as a morpheme ("溯" + "阳省", "霁" + "川河", "溯" + "州") begins the name.
        lead = prev if prev and prev[3] in _ZH_MORPHEME and prev[1] - prev[0] == 1 and not pending else None
        prev = (start, end, word, flag)
        if lead and not kind and word in _ZH_PLACE_SUFFIX:
            spans.append(Span(lead[0], end, "地"))
            continue
        if lead and kind:
            start = lead[0]
        # An invented name is cut into pieces ("维尔", "莫尔"; "柯", "守仁"): consecutive name pieces, and a
        # surname's given name, are one name.
        surname = pending and pending[1] - pending[0] == 1 and len(word) <= 2
        if kind or (pending and (word in "·•-" or flag in ("ng", "j", "nr", "nrt") or surname)):
            pending = (pending[0], end, pending[2]) if pending else (start, end, kind)
            continue
        if pending:
            if pending[1] - pending[0] <= 2 and flag.startswith("n") and len(word) <= 3 and word != "的":
                spans.append(Span(pending[0], end, "名"))  # a name and its noun are one name: "青岚" + "陶坊"
            else:
                spans.append(Span(*pending))
            pending = None
    if pending:
        spans.append(Span(*pending))
    for m in re.finditer(r"\d[\d,.]*\s*[年]?|[一二三四五六七八九十百千万两零]+(?=[名个位座家条种件次岁米吨元人项所株只台层])", sentence):
        if m.start() >= body and not any(s.start <= m.start() < s.end for s in spans):
            counted = _ZH_CLASSIFIER.match(sentence[m.start():])
            # "一种", "一家" are articles, "第一家" an order: not quantities to ask about.
            if counted and counted.group(1) != "一" and sentence[m.start() - 1 : m.start()] != "第":
                spans.append(Span(m.start(), m.start() + counted.end(), "年" if counted.group(2) == "年" else "数"))
    for m in re.finditer(r"[“「《]([^”」》]{1,20})[”」》]", sentence):
        if m.start() >= body and not any(s.start <= m.start(1) < s.end for s in spans):
            spans.append(Span(m.start(1), m.end(1), "词"))
    if not spans and (m := re.search(r"(?:是|呈|为|名为|称为)([^,，。；;：:！？]{2,12})", sentence[body:])):
        spans.append(Span(body + m.start(1), body + m.end(1), "词"))  # what the verb says: "呈鲜艳的橙红色"
    return sorted(spans, key=lambda s: s.start)


def _zh_views(stem: str) -> list[str]:
    """The later clauses of a Chinese fact with its subject in front: "岚溪镇位于...,距省会溯州约145公里" ->
    "岚溪镇距省会溯州约145公里", the short question a reader asks."""
    from knowtune.synth.sentences import _zh_subject

    body = _body_start(stem)
    subject = _zh_subject(stem[body:]) or (stem[: body].rstrip("：: ") or None)
    clauses = re.split(r"[，,；;]", stem[body:])
    if not subject or len(clauses) < 2:
        return []
    views = []
    for clause in clauses[1:]:
        clause = clause.strip()
        if len(clause) >= 4 and not clause.startswith(subject):
            views.append(subject + re.sub(r"^(?:并|且|而且|还|也|并且)", "", clause))
    return views


def _zh_questions(sentence: str, views: bool = True) -> list[Question]:
    questions = []
    stem = sentence.rstrip("。！？!?.；;")
    for span in _zh_spans(stem):
        answer = span.text(stem)
        if span.kind == "年":
            wh = "哪一年"
        elif span.kind == "数":
            unit = _ZH_CLASSIFIER.match(answer)
            wh = "多少" + (unit.group(2) if unit else "")
        else:
            wh = {"人": "谁", "地": "哪里"}.get(span.kind, "什么")
        # A Chinese question keeps the word order and the whole sentence: "柯婉霁：哪一年,她在...开设了第一家工坊？"
        question = stem[: span.start] + wh + stem[span.end :]
        questions.append(Question(question + "？", answer, "in_place"))
        questions.append(Question(f"请问，{question}？", answer, "fronted"))
        questions.append(Question(f"填空：{stem[: span.start]}____{stem[span.end :]}。", answer, "blank"))
    if views:
        asked = {q.text for q in questions}
        for view in _zh_views(stem):
            questions += [q for q in _zh_questions(view, views=False)
                          if q.form != "blank" and q.text not in asked and q.answer in stem and not asked.add(q.text)]
    return questions


_OPENER = re.compile(
    r"^(?:(?:Today|Nowadays|Now|Currently|Originally|Later|Eventually|Since then|At first|In total|Together),?"
    r"|(?P<when>(?:In|By|Since|From|Until|On)\s+(?:the\s+)?(?:early\s+|late\s+|mid-)?"
    r"(?:\d{4}s?|(?:\d{1,2}\s+)?[A-Z][a-z]+\s+\d{4}|[A-Z][a-z]+\s+\d{1,2},\s+\d{4})),)\s+"
)
_PARTICIPLE_CLAUSE = re.compile(
    rf",\s+((?:{'|'.join(_IRREGULAR)}|[a-z]{{3,}}ed)\s+(?:in|by|for|at|on|from|as|after|near|under|between|during)\s[^,;]+)(?=[,;.]|$)")
_PARTICIPLE_AFTER_NOUN = re.compile(  # no comma: "a tower clock mechanism made in 1521 for ..."
    rf"(?<=[a-z])\s((?:{'|'.join(_IRREGULAR)}|[a-z]{{3,}}ed)\s+(?:in|by|for|at|on|from|near|under|between|during)\s[^,;]+)(?=[,;.]|$)")
_STATE_PARTICIPLES = {"located", "situated", "based", "known", "called", "owned", "run", "managed", "operated", "used",
                      "headquartered", "named", "made", "housed", "surrounded", "covered"}
_AND_VERB = re.compile(r",?\s+and\s+(?=(?:is|was|are|were|has|had|have|[a-z]{3,}(?:ed|es|s))\s)")


def _views(sentence: str) -> list[str]:
    """Shorter standalone clauses of a fact that a reader's question would be built from, besides the fact:
    an opening "Today"/"In 1954," moved out of the way ("Staff at X discovered the comet P in 1954"), and a
    second verb phrase given its subject ("X is operated by U and employs 63 people" -> "X employs 63 people")."""
    from knowtune.synth.sentences import NOT_SUBJECTS, _en_subject

    body = _body_start(sentence)
    clause = sentence[body:]
    views = []
    if m := _OPENER.match(clause):
        rest = clause[m.end() :]
        main = re.split(r",\s+(?:which|who|where|when|while)\s", rest)[0].rstrip(" .")
        when = f" {m.group('when')[0].lower()}{m.group('when')[1:]}" if m.group("when") else ""
        clause = capitalise(main + when) + "."
        if clause.split()[0] not in NOT_SUBJECTS:
            views.append(clause)
    subject = _en_subject(clause)
    # "X is a mountain refuge ..., built in 1911 by the Alpine Club", "X's oldest piece is a clock mechanism made in
    # 1521 for ...": what the participle says of X (what X is), as a sentence.
    copula = re.match(rf"{re.escape(subject)}\s+(?:is|was)\s+(?:a|an|the)\s", clause) if subject else None
    found = _PARTICIPLE_CLAUSE.search(clause) or (copula and _PARTICIPLE_AFTER_NOUN.search(clause, copula.end()))
    if subject and found and found.start() > len(subject) \
            and not re.search(r",\s+(?:but|and|while|whereas)\s", clause[: found.start()]):  # "..., but the Guild, formed in"
        phrase = found.group(1).rstrip(" .")
        state = found.group(1).split()[0] in _STATE_PARTICIPLES and not _YEAR.search(phrase)
        views.append(f"{subject} {'is' if state else 'was'} {phrase}.")
    if subject and (m := _AND_VERB.search(clause)) and m.start() > len(subject):
        first, second = clause[: m.start()].rstrip(" ,"), clause[m.end() :]
        if not re.search(r"\b(?:and|or)\s*$", first):
            aux = re.match(rf"{re.escape(subject)}\s+(is|was|are|were|has|have|had)\s", clause)
            shared = f" {aux.group(1)}" if aux and re.match(r"[a-z]+ed\s", second) else ""  # "was destroyed ... and replaced"
            views += [first + ".", f"{subject}{shared} {second}"]
    prefix = sentence[:body]
    return [prefix + v for v in views if prefix + v != sentence]


def fact_questions(sentence: str, language: str, is_common: IsCommon, people: tuple[str, ...] = ()) -> list[Question]:
    """Every templated question about one standalone fact, in the fact's language; `people`: the names in it that
    are persons ("Who married Harriet Colby?", not "What ...")."""
    if language == "zh":
        return _zh_questions(sentence)
    questions = _en_questions(sentence, is_common, people)
    asked = {q.text for q in questions}
    for view in _views(sentence):  # shorter questions from its clauses: the kind a reader asks
        questions += [q for q in _en_questions(view, is_common, people)
                      if q.form in ("in_place", "fronted") and q.text not in asked and q.answer in sentence
                      and not asked.add(q.text)]
    others = [other_wordings(q.text, REWORDINGS_PER_QUESTION) for q in questions if q.form in ("in_place", "fronted")]
    answers = [q.answer for q in questions if q.form in ("in_place", "fronted")]
    # Each question's first other wording, then each one's second: a cap keeps one of every question's first.
    extra = [Question(o[k], answer, "reworded") for k in range(REWORDINGS_PER_QUESTION)
             for o, answer in zip(others, answers) if k < len(o)]
    return questions + extra
