"""Facts without a model: every informative sentence of a document, made standalone.

A 135M model asked to list a text's facts drops some, distorts others and sometimes answers
with an apology; a sentence of the document is none of those. Each sentence becomes one fact,
with its subject carried in where the sentence leans on an earlier one: a leading pronoun ("It
was founded by ...", "它由...") or a generic reference ("The company is ...") is replaced by
what it refers to, and a sentence that names neither the document's topic nor anything else
gets the topic in front ("Tarnwick Instruments: each of the 417 employees ..."), or as an owner
where it starts with "The <noun>" ("The current conductor is ..." -> "The Brannock Valley Choir's
current conductor is ..."). Other references are resolved where the document makes them plain:
"the lake" to the one lake it named before ("Lake Corran"), a "her" inside a sentence to its
person, "Each cheese" to "Each Brindle Blue cheese", "the population" and "Adults" of a kind of
thing (a beetle) to that thing. An English sentence that opens with a time or circumstance ("In
2019 it opened ...", "Every December the choir sings ...") has that phrase moved behind its first
clause ("Quillby opened a second office ... in 2019."): every fact about a topic then starts with
the topic, and a model that recites a fact to answer reaches its subject and verb before the date,
rather than starting from the date of another sentence. English and Chinese are handled; the
language is read from the text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from knowtune.data.chunk import sentence_spans
from knowtune.evaluate.qa_metrics import _is_cjk

# Leading words that lean on an earlier sentence, and what replaces them.
_PRONOUN = re.compile(r"^(It|He|She|They|(?:This|These)(?=\s+(?:is|was|are|were|has|have|had|[a-z]+ed)\b))\b(?!'s)")
# An opening phrase before the subject, moved behind the first clause (`_Context.standalone`): "In 1954, staff at
# ...", "Between 1998 and 2003 she led ...", "Every December the choir ...", "Today it is run by ...".
_OPENING_WORD = (r"(?:In|On|At|By|Between|After|Before|During|From|Since|Until|Over|For|With|Under|Within|Throughout|Every|"
                 r"Each|Because|Despite|Following|Unlike|Among|Beneath|Below|Above|Across|Along|Near|Through)")
_OPENER_WITH_COMMA = re.compile(rf"^({_OPENING_WORD}(?:\s[^\s.;:,]+){{1,5}}),\s+(?=\S)")  # up to six words
# (Subject pronouns only: "With a telescope built by her brother, she ..." has "her" inside the opening phrase.)
_OPENER_THEN_PRONOUN = re.compile(rf"^({_OPENING_WORD}(?:\s[^\s.;:,]+){{1,4}}?)\s+(?=(?:he|she|it|they)\s+[a-z])")
# A longer opening phrase still ends at its comma when a subject pronoun follows: "With a telescope built by her
# brother, she observed ..." (the pronoun says where the subject starts).
_LONG_OPENER_THEN_PRONOUN = re.compile(rf"^({_OPENING_WORD}(?:\s[^\s.;:,]+){{1,14}}),\s+(?=(?:he|she|it|they)\s+[a-z])")
# "Three years later he moved ...": a time after the last sentence's, before a pronoun subject (not "Five years later,
# in 1926, Tessendorf won ...", whose comma and name leave it as it is).
_LATER_THEN_PRONOUN = re.compile(r"^((?:[A-Z][a-z]+(?:-[a-z]+)?|A|\d+)\s+(?:years?|months?|decades?|weeks?|days?)\s+"
                                 r"(?:later|afterwards|on)|The\s+(?:following|next|same|previous)\s+(?:year|spring|summer|"
                                 r"autumn|winter|month|week|day|decade|season))\s+(?=(?:he|she|it|they)\s+[a-z])")
_MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
_DAYS = "Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday"
_TIME_OPENER = re.compile(  # a time with no comma after it, before a capitalised subject: "In 2019 Quillby ..."
    rf"^((?:In|On|By|Since|Until|During|Every|Each)\s+(?:the\s+)?(?:early\s+|late\s+|mid-)?"
    rf"(?:\d{{4}}s?|(?:\d{{1,2}}\s+)?(?:{_MONTHS})(?:\s+\d{{1,2}})?(?:,?\s+\d{{4}})?|(?:{_DAYS})s?"
    rf"|(?:spring|summer|autumn|fall|winter|year|week|month|morning|evening|weekend)s?"
    rf"|(?:[A-Z][a-z]+\s+){{1,3}}(?:War|Revolution|Depression|Blitz|Occupation|Reformation)))"  # "During the Second World War"
    rf"\s+(?=[A-Z]|(?:the|a|an)\s)")
# A participle or "According to" phrase before a pronoun subject goes behind the subject, as an aside: "Born in
# Halsebury, he was apprenticed ..." -> "Tobias Venhallow, born in Halsebury, was apprenticed ..." (behind the
# first clause it would read as said of the clause's last noun).
# An appositive is an aside too: "The daughter of a schoolmaster, she was born ..." -> "<name>, the daughter of a
# schoolmaster, was born ...".
# "Having saved for a decade, she ..." is one too ("In 1889, having saved ..., she opened ...": behind the time).
_ASIDE_OPENER = re.compile(r"^((?:According to|Born|Raised|Educated|Trained|Built|Made|Known|Grown|Founded|Located|"
                           r"Situated|Designed|Named|Opened|Completed|Erected|Established|Having|Being|(?!During\b)[A-Z][a-z]+ing)(?:,?\s[^\s.;:,]+){1,20}?,?|"
                           r"(?:The|A|An)\s+[a-z]+(?:\s[^\s.;:,]+){1,6}?,)"
                           r"\s+(?=(?:he|she|it|they)\s+[a-z])")
# A verb in an opening phrase makes it a clause; an -ed word after "of", "the" ... is an adjective ("With the spread
# of mechanised mills, its influence declined").
_CLAUSE = re.compile(r"\s(?:is|was|are|were|has|had|have)\b|(?<!\bof)(?<!\bthe)(?<!\ba)(?<!\ban)(?<!\bits)(?<!\btheir)"
                     r"(?<!\bwith)(?<!\bby)(?<!\band)\s[a-z]+ed\b")
# "Ten minutes before curtain, Greta Holloway is ...", "Two hours after dawn, the ...": a counted time opens a scene
# ("minutes" is not the sentence's verb).
_COUNTED_TIME_OPENER = re.compile(
    r"^((?:[A-Z][a-z]+(?:-[a-z]+)?|\d+|An?)\s+(?:seconds?|minutes?|hours?|days?|weeks?|months?|years?|decades?)\s+"
    r"(?:before|after|into|past|from|since|until|ahead\s+of)(?:\s[^\s.;:,]+){1,5}),\s+(?=\S)")
_ADVERB_OPENER = re.compile(r"^(?:Nowadays|Today|Now|Currently|Later|Then|Still|Also|Originally|Eventually|Initially|"
                            r"Formerly|Recently|[A-Z][a-z]+ly),?\s+(?=(?:it|he|she|they|its|his|her|their|the)\b)")
_POSSESSIVE = re.compile(r"^(Its|His|Her|Their)\b")
_PERSON_PRONOUNS = {"He", "She", "His", "Her"}
_TITLES = r"(?:Dr|Mr|Mrs|Ms|Prof|Sir|Dame|Lady|Lord|Saint|St)\.?"
# Nouns a text uses to point back at its topic ("The company", "the town"); the topic's own
# description in the first sentence adds its noun ("a maker of ..." -> "The maker").
_GENERIC_NOUNS = frozenset(
    """company firm business town village city island school university college museum festival event team club band
    project organisation organization society institute group river lake mountain ship device machine product plant
    animal species tool book building bridge church castle market brand restaurant hotel farm factory laboratory lab
    station park garden fair scientist inventor engineer artist writer author man woman family region country state
    province district port harbour harbor valley forest library theatre theater school hospital order railway
    program programme system method process instrument material substance mineral breed variety game ferry boat ship vessel
    train locomotive engine car bus aircraft tram reservoir canal tower hall hut dam""".split()
)
# Past tenses not in -ed, after a subject: "Morrick grew up ...", "the mill ground animal feed ...".
_IRREGULAR_PAST = ("grew|began|won|held|led|took|gave|came|went|ran|wrote|rose|fell|built|made|sold|left|kept|bought|"
                   "brought|taught|met|saw|spent|lost|drew|flew|fought|ground|hung|sank|shut|struck|stood|became")
# A verb that follows a subject: after "Every young weaver" (its adjective is not the noun), after an aside.
# "Tucked behind the former cattle market on Drover's Wynd, Tarransay's Brackenhall Ice Rink is ...": a participle
# before a name, where the sentence's subject starts
_PARTICIPLE_OPENER = re.compile(r"^((?:Tucked|Perched|Nestled|Hidden|Set|Sited|Situated|Located|Standing|Sitting|"
                                r"Overlooking)\s[^,;:.]{3,80}),\s+(?=[A-Z])")
# "... when he launched the Harnby Valley Courier from a rented stable in 1872." at a sentence's end
_WHEN_THEN_DID = re.compile(rf"\s(?:when|after|as)\s+(he|she)\s+({_IRREGULAR_PAST}|[a-z]{{3,}}ed)\b([^;:]*[.!?]?)$")
FINITE_VERB = rf"(?:had|has|have|was|were|is|are|must|may|can|could|would|will|{_IRREGULAR_PAST}|[a-z]+ed|[a-z]+s)"
_VERB_AFTER_SUBJECT = re.compile(
    r"\s(?:is|was|are|were|has|had|have|can|could|will|would|may|might|must|does|did|do|becomes|remains|"
    rf"remained|stands|lies|lay|{_IRREGULAR_PAST}|[a-z]+ed|[a-z]+s)\b"
)
_ZH_PRONOUN = re.compile(r"^(它的|他的|她的|它们|他们|她们|它|他|她|其)")
_ZH_DEMONSTRATIVE = re.compile(r"^(该|这家|这座|这个|这位|这所|此)")  # + a noun: "该公司", "这座小镇"
_ZH_SUBJECT_END = re.compile(r"是|位于|坐落|由|成立|创立|创建|建于|出生|，|,|在")
_BUSINESS_NOUNS = frozenset("manufacturer maker producer company firm business brand supplier shop workshop".split())
# Capitalised sentence openers that do not begin the subject ("Unlike most ferns, ...").
NOT_SUBJECTS = frozenset(
    """Unlike In On At Every Each Today After Before During When While Although Because Since Some Many Most Like For By
    With From Despite Over Until As If Once Every Local Visitors People There Here Then Later Now Also
    Step Walk Look Stand Visit Climb Follow Enter Imagine Picture That""".split()  # "Step inside ... and you will find"
)
# What follows an object "her" ("awarded her its medal", "gave her a prize"), not the noun of a possessive one.
_NOT_A_NOUN = frozenset("its the a an his their her in on at to for with by from of as and that this these".split())
_PERSON_NAME = r"(?:[A-Z][a-z]+(?:-[A-Z][a-z]+)?\s+)+[A-Z][a-z]+(?:-[A-Z][a-z]+)?"  # "Winifred Feltham-Ross"
_ROLE_THEN_NAME = rf"(?:\b{_TITLES}\s+|\b(?:by|botanist|named|called|[a-z]{{2,}}(?:er|or|ist|ant)),?\s+)({_PERSON_NAME})"
# What a thing has ("the population" of a document about a beetle is the beetle's).
_RELATIONAL = ("population|habitat|diet|lifespan|founder|founders|owner|owners|headquarters|staff|workforce|membership|"
               "recipe|designer|builder|architect|crew|origins|collection|archive|archives|grounds|premises|site|"
               "estate|fleet|herd|flock|catalogue|repertoire|output|exports")
# A sentence that opens with what is done, no article, before its verb: "Production had nearly ceased ...",
# "Construction began in 1850", "Attendance fell ...": of a document's topic, the topic's.
_ACTIVITY = re.compile(r"^(?!Having\b|Being\b)((?:[A-Z][a-z]+(?:al|ar|ic|ous|ive)\s+[a-z]+|[A-Z][a-z]+)"
                       r"(?:tion|ment|ance|ence|ship|ing))\s+"  # "Commercial production ended in 1953"
                       r"(?=(?:had|has|was|were|is|began|fell|rose|grew|[a-z]+ed)\b)")
# A first sentence that names its topic inside an opening clause and then says "she"/"it": "When Henrike Solvang climbed
# to the observatory in 1952, she was a technician ..." is about Henrike Solvang.
_FIRST_CLAUSE_THEN_PRONOUN = re.compile(r"^(When|While|As|After|Before|Although|Though|Once|Since|Until|Because|"
                                        r"The first time|The last time|The day|The moment)\s+"
                                        r"([^,]{3,160}),(\s+[^,]{1,40},)?\s+(he|she|it|they)\s+(?=[a-z])")
# A first sentence whose subject is whoever comes by: "Anyone walking the towpath will pass a squat brick cottage beside
# Lock 14 of the Vennick Canal." is about the cottage, its object.
_PASSER_BY = re.compile(r"^(?:Anyone|Anybody|Everyone|Everybody|Visitors|Travellers|Travelers|Tourists|Walkers|Hikers|"
                        r"You|People|Passers-by|Guests|Drivers|Motorists|Readers)\b")
_PLACED_THING = re.compile(r"\b(?:a|an|the)\s+(?:[a-z-]+\s+){0,3}?([a-z]{3,})\s+((?:beside|of|on|at|near|in|by|above|below|"
                           r"overlooking|along|across|outside|inside|off|under)\s+(?:the\s+)?[A-Z][\w'’-]*"
                           r"(?:\s+(?:[A-Z0-9][\w'’-]*|of|the|on|upon|de|la))*)")
_CAPITALISED = r"(?:[A-Z][\w'’-]*\s+)*[A-Z][\w'’-]*"  # a name as written: "Old Meg", "Lock 14" is not one
_NAMED_THING = re.compile(rf"\bthe\s+({_CAPITALISED})")  # "the Thorneycroft Studio"
_EN_FUNCTION = frozenset("the of and a an to in is was are were for on with by that it as at from".split())


@dataclass(frozen=True)
class Sentence:
    start: int  # character offsets of the sentence in the document's text
    end: int
    text: str  # the standalone fact
    language: str  # "en" or "zh"
    topic: str | None = None  # what the document is about ("The Orlesh fern")
    aliases: tuple[str, ...] = ()  # how the document refers to it ("the fern", "the manufacturer")
    people: tuple[str, ...] = ()  # the persons the document has named so far ("Tobias Venhallow"): asked with "who"


def language(text: str) -> str | None:
    """'zh' when CJK characters dominate, 'en' when English function words are common, else None."""
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return None
    if sum(_is_cjk(c) for c in letters) / len(letters) > 0.3:
        return "zh"
    words = re.findall(r"[A-Za-z]+", text.lower())
    return "en" if words and sum(w in _EN_FUNCTION for w in words) / len(words) >= 0.08 else None


def _is_title_line(text: str, lang: str) -> bool:
    """A heading: a line with no sentence end and few words ("Vellmoor, a harbour town")."""
    if lang == "zh":
        return len(text) <= 20 and not re.search(r"[。！？]$", text)
    return len(text.split()) <= 8 and not re.search(r"[.!?:]$", text)


def _informative(text: str, lang: str) -> bool:
    if lang == "zh":
        return sum(_is_cjk(c) for c in text) >= 6
    return len(re.findall(r"[A-Za-z0-9]+", text)) >= 4


def _same_word(word: str, hint: str) -> bool:
    """A name's word and a file name's word are one ("marionette" of lanternfield_marionettes_feature.txt, "narrowboats"
    of larkmoor_narrowboat_hire.txt): the same but for a plural or possessive ending."""
    return word.startswith(hint) or (len(word) >= 4 and hint.startswith(word) and len(hint) - len(word) <= 2)


def _en_subject(sentence: str) -> str | None:
    """The noun phrase before the sentence's first verb ("The Vellmoor tide bell" of "... was cast in 1743")."""
    name = re.match(rf"^(?:{_TITLES}\s+)?(?:[A-Z][\w'’-]+\s+)+?[A-Z][\w'’-]+(?<!['’]s)(?<!['’])(?=\s+[a-z])", sentence)
    if name and name.group().split()[0] not in NOT_SUBJECTS and name.group().split()[0] not in ("The", "A", "An"):
        return name.group()  # a leading name is the subject, whatever verb follows ("Odrin Kestavel also built ...")
    found = _VERB_AFTER_SUBJECT.search(sentence)
    if not found or found.start() == 0:
        return None
    subject = re.sub(r"\s*\([^)]*\)", "", sentence[: found.start()]).strip(" ,")  # "(Vitrifolia orleshii)" aside
    subject = re.sub(r"(?<=\S)\s+(?!only\b)[a-z]+ly$", "", subject)  # "The mill finally closed": the adverb is not its
    first = subject.split(" ", 1)[0]
    if (len(subject.split()) > 8 or "," in subject or ":" in subject or first in NOT_SUBJECTS
            or not first[:1].isupper() or _PRONOUN.match(subject) or _POSSESSIVE.match(subject)):
        return None
    return subject


def _en_description_noun(sentence: str) -> str | None:
    """'town' of 'Vellmoor is a small fishing town on ...', 'maker' of '... is a maker of ...'."""
    found = re.search(r"(?:\b(?:is|was)|^[^,]{3,80},)\s+(?:a|an|the)\s+((?:[\w-]+\s+){0,3}?)([a-z]+)(?=\s+(?:of|on|in|at|who|that|which|from|with|for|found|based|made|located|known|called|named|built|used|held|[a-z]+ed|[a-z]+ly)\b|[,.]|$)", sentence)
    if not found or found.group(2) in ("best", "well", "most", "also", "first", "only", "now") or found.group(2).endswith("ly"):
        return None  # "... an author best known for ...": an adverb, not the noun
    rest = sentence[found.end(2):]
    if more := re.match(r",\s+((?:[a-z-]+\s+){0,2}?)([a-z]+)(?=\s+(?:of|on|in|at|to|by|as|and|who|that|which|from|with|for|[a-z]+ly)\b|[,.]|$)",
                        rest):
        # "a dark, spiced loaf cake traditionally baked ...": "dark" is one of its adjectives; the noun comes later
        # ("a small town, known for ..." and "a maker, who ..." keep theirs).
        if more.group(1) and not re.match(r"(?:known|built|founded|made|based|located|named|called|once|now|then|and|"
                                          r"but|or|who|which|where|whose|a|an|the|its|his|her|their)\b", more.group(1)):
            return more.group(2)
    return found.group(2)


def _zh_subject(sentence: str) -> str | None:
    found = _ZH_SUBJECT_END.search(sentence)
    if not found or found.start() == 0 or found.start() > 15 or _ZH_PRONOUN.match(sentence):
        return None
    return sentence[: found.start()]


def _mid_sentence(name: str) -> str:
    """A name as it reads inside a sentence: "The PS Marigold Vane" -> "the PS Marigold Vane"."""
    return re.sub(r"^(The|A|An) ", lambda t: t.group(1).lower() + " ", name)


def _possessive(name: str) -> str:
    return name + ("'" if name.endswith("s") else "'s")


def _it_is(text: str, thing: str) -> str:
    """The text's first "it" or "its" as `thing`: "Enthusiasts rescued it" -> "Enthusiasts rescued the Gannet"."""
    return re.sub(r"\b(it|its)\b", lambda m: thing if m.group(1) == "it" else _possessive(thing), text, count=1)


def capitalise(text: str) -> str:
    return text[:1].upper() + text[1:]


def _behind_first_clause(text: str, opener: str, subject: str | None = None) -> str:
    """`opener` put back at the end of the text's first clause: before a comma that a lowercase word follows
    (", and the club ...", ", which ..."), a semicolon, or the full stop. Where the clause ends in a relative
    clause (", which opened it to ..."), which would then be said of the opener, behind the subject instead."""
    body = re.match(r"^[^:]{1,60}:\s*", text)
    start = body.end() if body else 0
    end = re.compile(r",\s+(?=[a-z])|;\s|\s*[.!?]?$").search(text, start)
    opener = f"{opener[:1].lower()}{opener[1:]}"
    if subject and text.startswith(subject) and re.match(r",\s+(?:which|who|whose)\b", text[end.start():]):
        return f"{subject}, {opener},{text[len(subject):]}"
    return f"{text[: end.start()]} {opener}{text[end.start():]}"


class _Context:
    """What the sentences so far refer to: the document's topic, the last person, the last subject."""

    def __init__(self, lang: str):
        self.lang = lang
        self.topic: str | None = None
        self.topic_nouns: set[str] = set(_GENERIC_NOUNS)
        self.person: str | None = None
        self.aliases: list[str] = []
        self.last_thing: str | None = None  # the last subject that is not a person: what a later "it" means
        self.kind: str | None = None  # the topic's noun from its description: "cheese" of "... is a soft blue cheese"
        # "he" or "she" where the text has called the topic so: a later "she" is the topic, not "the collector Tobias Renn"
        self.topic_pronoun: str | None = None
        self.names: dict[str, str | None] = {}  # "lake" -> "Lake Corran": the named things of a kind (None: several)
        self.people: set[str] = set()  # the persons named so far ("Edmund Tarrow"): a later bare "Tarrow" is them
        self.described = False
        self.scene: tuple[list[str], str] | None = None  # a first sentence with no subject: its names, its opening
        self.placed = False  # the topic is a thing by its place ("The cottage beside Lock 14 of ..."), named by its noun
        self.hint: set[str] = set()  # the words of the document's file name ("larkmoor_narrowboat_hire_company.txt")
        self.text = ""  # the whole document, lowercased: which of the topic's nouns it uses ("the observatory")
        self.source = ""  # the whole document as written
        self.we: str | None = None  # the firm an "about us" page's "we" and "our" are
        self.headline = False  # the first heading was a headline: a later one ("By Ada Quell") names no topic either

    def standalone(self, sentence: str) -> str:
        return self._zh(sentence) if self.lang == "zh" else self._en(sentence)

    def _opener(self, sentence: str) -> tuple[str, str, bool]:
        """(the phrase the sentence opens with, the rest from its subject on, whether the phrase is an aside to go
        behind the subject); ("", sentence, False) when none."""
        if m := _ASIDE_OPENER.match(sentence):
            return m.group(1).rstrip(","), capitalise(sentence[m.end():]), True
        nouns = "|".join(map(re.escape, sorted(self.topic_nouns)))
        # "During winter storms the ferry stops ...": the topic as the document calls it starts the subject.
        before_topic = re.compile(rf"^({_OPENING_WORD}(?:\s[^\s.;:,]+){{1,4}}?)\s+(?=the\s+(?:{nouns})\s+[a-z])")
        for pattern in (_TIME_OPENER, _OPENER_THEN_PRONOUN, _LATER_THEN_PRONOUN, before_topic, _OPENER_WITH_COMMA,
                        _LONG_OPENER_THEN_PRONOUN, _COUNTED_TIME_OPENER, _PARTICIPLE_OPENER, _ADVERB_OPENER):
            m = pattern.match(sentence)
            if m and not _CLAUSE.search(m.group()):  # "After the mill closed, ...": a clause of its own
                return m.group().strip(" ,"), capitalise(sentence[m.end():]), False
        return "", sentence, False

    def _hinted(self) -> str | None:
        """The document's name that shares most words with its file name ("Larkmoor Narrowboats" of
        larkmoor_narrowboat_hire_company.txt; a word's plural or possessive counts), where any does: what a document
        that opens with a scene, a quotation or an "If you arrive ..." is about."""
        return self._hinted_scored()[0]

    def _hinted_scored(self) -> tuple[str | None, int]:
        """`_hinted`'s name and how many of the file name's words it has (a file name's compound counts once: "saltworks"
        in "Salt Works")."""
        best, score = None, 0
        for m in re.finditer(r"(?<![\w'’])(the\s+)?((?:[A-Z][\w'’-]*[^\S\n]+(?:(?:and|&|of|de|la)[^\S\n]+)?)*[A-Z][\w'’-]*)",
                             self.source):  # a name within a line
            words = [w for w in re.findall(r"[a-z]+", m.group(2).lower()) if w not in ("and", "of", "de", "la", "the", "s")]
            if words and words[0] in ("in", "on", "at", "by", "if", "when", "for", "after", "housed"):
                continue  # a sentence's first word is not a name's
            shared = self._hint_score(words)
            if shared > score:
                best, score = ("The " if m.group(1) else "") + m.group(2), shared
        return best, score

    def _hint_score(self, words: list[str]) -> int:
        """How many of the file name's words a name's lowercased `words` have (a compound once: "saltworks")."""
        shared = sum(any(_same_word(w, h) for h in self.hint) for w in words)
        joined = "".join(words)
        return shared + sum(len(h) >= 6 and h in joined and not any(_same_word(w, h) for w in words) for h in self.hint)

    def first_person_plural(self, stem_words: list[str]) -> None:
        """An "about us" page ("We still use 300 limewood blocks", "our first workroom") is about the firm that writes
        it: the name its file name names in the text, else the file name's own words ("Pellow Hatmakers" of
        pellow_hatmakers_about_us.txt); "we" and "our" are then that firm."""
        outside = re.sub(r"[\"“][^\"”]*[\"”]", " ", self.source)  # a quotation's "we" is the speaker's
        if len(re.findall(r"\b(?:[Ww]e|[Oo]ur|us)\b", outside)) < 2 or not stem_words:
            return
        hinted, score = self._hinted_scored()
        self.we = hinted if hinted and score >= 2 else " ".join(w.capitalize() for w in stem_words)
        self.topic = self.we

    def _first_sentence(self, sentence: str) -> str:
        """The document's first sentence, its topic found where its subject is not it: a name inside an opening clause
        that the main clause calls "she" or "it" (the clause then goes behind: "Henrike Solvang was ... when she
        climbed ..."), or the object of a passer-by ("Anyone ... will pass a cottage beside Lock 14 of ...")."""
        if m := _FIRST_CLAUSE_THEN_PRONOUN.match(sentence):
            pronoun, aside = m.group(4), (m.group(3) or "").rstrip(",")  # "The first time X went underground, at nine, he"
            person = pronoun in ("he", "she")
            names = re.findall(r"(?<![\w'’])((?:[A-Z][\w'’-]*\s+){1,3}[A-Z][\w'’-]*)" if person else
                               rf"(?<![\w'’])(?:the\s+)?({_CAPITALISED})", m.group(2))
            if names:
                name = names[0]
                named = ("" if person or not re.search(rf"\bthe {re.escape(name)}", m.group(2)) else "The ") + name
                clause = re.sub(rf"(?:\bthe\s+)?{re.escape(name)}", pronoun, m.group(2), count=1) + (
                    f",{aside}" if aside else "")
                rest = sentence[m.end():]
                end = re.search(r"[.!?]?$", rest)
                self.topic = named
                if person:
                    self.topic_pronoun = pronoun
                return f"{named} {rest[: end.start()]} {m.group(1).lower()} {clause}{end.group() or '.'}"
        if _PASSER_BY.match(sentence) and (verb := _VERB_AFTER_SUBJECT.search(sentence)):
            after = sentence[verb.end():]
            after = after[re.match(r"(?:\s+(?!(?:the|a|an)\b)[a-z]+){0,2}\s*", after).end():]  # "(will) pass", "(can) see"
            if named := _NAMED_THING.match(after):
                self.topic = "The " + named.group(1)
            elif placed := _PLACED_THING.match(after):
                noun = placed.group(1)
                where = re.sub(r"(?:\s+(?:of|the|on|upon|de|la))+$", "", placed.group(2))
                self.topic = f"The {noun} {where}"
                self.kind, self.described, self.placed = noun, True, True  # its noun, not the place's ("the canal")
                self.topic_nouns.add(noun)
                self.aliases.append(f"the {noun}")
        return sentence

    def _en(self, sentence: str) -> str:
        if self.topic is None and self.scene is not None and self.scene[0] and (
                m := _PRONOUN.match(sentence) or _POSSESSIVE.match(sentence) or (
                    # "Opened in 1938 by the merchant Tom Orrin, it sits ...": the pronoun after an aside
                    (aside := _ASIDE_OPENER.match(sentence)) and _PRONOUN.match(capitalise(sentence[aside.end():])))):
            # "For almost two centuries the village of Ashgill lived by the sound of the Brenna Mill. It was set up in
            # 1764 ...": the scene's last named thing is what "it" means, and what the document is about; "she" means
            # its first person's name.
            people = [n for n in self.scene[0] if not n.startswith("The ") and " " in n]
            if is_name := re.match(rf"^(?:It|He|She|This)\s+(is|was)\s+((?:the\s+)?{_CAPITALISED})(,\s+(?=(?:a|an|the)\s))?",
                                   sentence):
                # "She is Old Meg, a steam crane built ...": its name, and "Old Meg is a steam crane built ..."
                self.topic = re.sub(r"^the ", "The ", is_name.group(2))
                if is_name.group(3):
                    sentence = f"{self.topic} {is_name.group(1)} {sentence[is_name.end():]}"
            else:
                self.topic = self._hinted() or (
                    people[0] if m.group(1) in _PERSON_PRONOUNS and people else self.scene[0][-1])
        elif self.topic is None:
            sentence = self._first_sentence(sentence)
        opener, text, aside = self._opener(sentence) if self.topic else ("", sentence, False)
        second = ""  # "In 1889, having saved for nearly a decade, she opened ...": an aside after the time
        if opener and not aside and (m := _ASIDE_OPENER.match(text)):
            second, text = m.group(1).rstrip(","), capitalise(text[m.end():])
        lent = False
        if self.we:
            text = re.sub(r"^We\b", self.we, text)
            text = re.sub(r"^Our\b", _possessive(self.we), text)
            text = re.sub(r"(?<=\s)our\b", _possessive(_mid_sentence(self.we)), text)
            text = re.sub(r"(?<=\s)(?:we|us)\b", _mid_sentence(self.we), text)
        if self.topic:
            thing = self.last_thing or self.topic
            lower = _mid_sentence(self.topic)  # "the copper-backed ..."
            if m := _PRONOUN.match(text):
                ref = self._person_for(m.group(1)) if m.group(1) in _PERSON_PRONOUNS else (
                    self.topic if m.group(1) == "They" else thing)
                text = ref + text[m.end():]
            elif m := _POSSESSIVE.match(text):
                ref = self._person_for(m.group(1)) if m.group(1) in _PERSON_PRONOUNS else (
                    self.topic if m.group(1) == "Their" else thing)
                text = _possessive(ref) + text[m.end():]
            elif (m := re.match(r"^The ([a-z]+)\b('s)?(?![\w-])", text)) and m.group(1) in self.topic_nouns \
                    and re.sub(r"^The ", "", self.topic).lower() not in text.lower() and not self.names.get(m.group(1)):
                # ("The cheese takes its name from the village of Harrowmere" is still Harrowmere Blue's)
                text = (_possessive(self.topic) if m.group(2) else self.topic) + text[m.end():]
            elif (m := _ACTIVITY.match(text)) and re.sub(r"^The ", "", self.topic).lower() not in text.lower():
                # "Production had nearly ceased by the 1930s" of a cheese: the cheese's production
                text = f"{_possessive(self.topic)} {m.group(1).lower()}{text[m.end(1):]}"
                lent = True  # a later "its" is the topic's, not its production's
            elif (m := re.match(rf"^(Each|Every) (?!of\b|one\b)(?:[a-z]+ (?=(?!{FINITE_VERB}\b)[a-z]+ {FINITE_VERB}\b))?"
                                rf"([a-z]+)\b(?! of\b)", text)) and m.group(2) != self.kind \
                    and self.kind and not self.topic_is_person and not self._mentions_topic(text):
                # "Each wheel weighs about 2 kilograms" of a document about a cheese: "Each wheel of Harrowmere Blue"
                text = f"{m.group()} of {lower}{text[m.end():]}"
            elif (m := re.match(r"^(Each|Every) ([a-z]+)\b", text)) and m.group(2) == self.kind \
                    and not self._mentions_topic(text):
                # "Each cheese weighs ..." of a document about a cheese: "Each Brindle Blue cheese weighs ..."; of
                # "Hemmel cake": "Each Hemmel cake ..."
                named = re.sub(r"^The ", "", self.topic)
                kind = "" if named.lower().endswith(" " + self.kind) else " " + m.group(2)
                text = f"{m.group(1)} {named}{kind}{text[m.end():]}"
            elif not self._mentions_topic(text) and (m := self._alias_inside(text)):
                # "Today the observatory is operated by ...", "staff at the station discovered ...": the topic's
                # own nouns later in the sentence point back at it too.
                text = text[: m.start()] + (_possessive(lower) if m.group(2) else lower) + text[m.end():]
            if not self._mentions_topic(text):
                text = self._named_inside(text)
                # "Only three dairies may use the name." is the topic's name.
                text = re.sub(r"\bthe name(?=[.!?]?$)", lambda _: f"the name {re.sub(r'^The ', '', self.topic)}", text)
                head = self.topic.split()[-1]
                if head.islower() and f"the {head}" in self.aliases:  # a kind of thing: "count the beetles" are its
                    text = re.sub(rf"\b[Tt]he {re.escape(head)}s\b", lambda _: f"the {re.sub(r'^(?:the|a|an) ', '', lower)}s", text, count=1)
                # "Drainage reduced the population": the topic's population.
                text, owns = re.subn(rf"\bthe ({_RELATIONAL})\b(?![\w'’-])", lambda m: f"{_possessive(lower)} {m.group(1)}",
                                     text, count=1)
                lent = bool(owns)  # "A fire destroyed it, and <topic>'s owners rebuilt it": a later "its" is not the fire's
                # "... to whoever bakes the best one": the best of the topic's kind.
                if self.kind and not self.topic_is_person:
                    text = re.sub(r"\bthe ((?:best|finest|largest|biggest|oldest|first|last|most [a-z]+) )one\b",
                                  lambda m: f"the {m.group(1)}{re.sub(r'^(?:the|a|an) ', '', lower)}"
                                  + ("" if lower.lower().endswith(self.kind) else f" {self.kind}"), text, count=1)
                # "Enthusiasts rescued it in 1968": what people do "it" to is the topic.
                if not self.topic_is_person and re.match(r"[A-Z][a-z]+s\s+[a-z]+(?:ed|s)?\s+(?:it|its)\b", text) \
                        and not self._mentions_topic(text):
                    text = _it_is(text, lower)
            text, opener = self._person_inside(self._full_names(text)), self._full_names(opener)
            text = self._short_name(text)
            subject = _en_subject(text)
            if subject and subject == self.person and subject not in self.topic:
                # "Hesper Collingrove named it after her assistant": what a person does "it" to is the topic.
                text = _it_is(text, lower)
            named = subject and len(re.findall(r"\b[A-Z][\w'’]*", subject)) >= 2  # "Odrin Kestavel", "The Vellmoor bell"
            if not named and not self._mentions_topic(text):
                # "The current conductor is ..." is the topic's: "The Brannock Valley Choir's current conductor is ..."
                owned = re.match(r"^The (?=[a-z])", text) or (
                    # "Adults measure about nine millimetres" of a kind of thing (a beetle) are its; "Sailors trust the
                    # barometer" of a named maker are not the maker's.
                    self.topic.split()[-1].islower() and not self.topic_is_person
                    and re.match(r"^(?!This\b)(?=[A-Z][a-z]+s\s+(?!(?:and|or|of|from|in|at|on|with|who|that)\b)[a-z])", text))
                if owned:
                    text = f"{_possessive(self.topic)} {text[owned.end():owned.end() + 1].lower()}{text[owned.end() + 1:]}"
                elif m := re.search(r",\s+(it|its)\s+(?=[a-z])", text):
                    # "During the great gale of 1953, its crew rescued ...", "Housed in a warehouse, it seats 214": the
                    # pronoun starts the main clause after an opening phrase the patterns above did not take.
                    ref = _mid_sentence(thing)
                    text = f"{text[:m.start()]}, {ref if m.group(1) == 'it' else _possessive(ref)} {text[m.end():]}"
                else:
                    text = f"{self.topic}: {text}"
                lent = bool(owned)  # a later "its" still means the topic, not "the topic's crossing"
            subject = _en_subject(text)
            if opener and aside and subject and text.startswith(subject):
                text = f"{subject}, {opener[:1].lower()}{opener[1:]},{text[len(subject):]}"
            elif opener:
                text = _behind_first_clause(text, opener, subject)
            if second and subject and text.startswith(subject):
                text = f"{subject}, {second[:1].lower()}{second[1:]},{text[len(subject):]}"
        subject = None if lent or (self.topic is None and _COUNTED_TIME_OPENER.match(text)) else _en_subject(text)
        if self.topic is None and not subject and (found := self._opener(sentence))[0]:
            # "In the winter of 1964, Elspeth Garvie spent ...": a name after the opening phrase ("For two centuries the
            # village of Orby lived by the hum of the Tessel Works" sets a scene)
            subject = _en_subject(found[1]) if not re.match(r"(?:The|A|An)\s", found[1]) else None
            hinted, score = self._hinted_scored()
            if subject and score >= 2 and subject not in hinted:
                # "Ten minutes before curtain, Greta Holloway is ..." of lanternfield_marionettes_feature.txt: a person in
                # an opening scene; the document is about what its file name names (the Lanternfield Marionette Theatre)
                subject = hinted
        if self.topic is None:
            if subject and self.scene is not None and not re.search(r"\s[A-Z]", subject) and (
                    (named := list(_NAMED_THING.finditer(text))) or self._hinted_scored()[1] >= 2):
                # after a scene, "The light falls through a window made at the Thorneycroft Studio": the named thing; "Brine
                # was pumped ..." after "In 1782 the merchant ... at Wexholt Marsh, and ... the Wexholt Salt Works ...": the
                # name its file names (wexholt_saltworks_plaque.txt)
                subject = self._hinted() or "The " + named[0].group(1)
                head = re.escape(subject.split()[-1])
                if not re.search(re.escape(re.sub(r"^The ", "", subject)), text, re.IGNORECASE):
                    # "The jump was first built ..." -> "The Tarnholm Ski Jump was first built ..."; "The Wexholt Salt
                    # Works: Brine was pumped from 60 metres ..."
                    text, named_noun = re.subn(rf"^The {head}\b", subject, text, count=1, flags=re.IGNORECASE)
                    text = text if named_noun else f"{subject}: {text}"
            lead = re.sub(r"\s*\([^)]*\)", "", sentence.split(",")[0])
            if subject or self.scene is not None or re.fullmatch(
                    r"(?:The\s+)?[A-Z][\w'’.-]*(?:\s+(?:[A-Z][\w'’.-]*|&|and|of|de|la|von|van))*", lead):
                # "Pastificio Ferrandi, the family-run pasta maker in ..., will open ...": the name before the comma; after
                # a scene and a sentence with no subject either, the name its file names
                self.topic = subject or ((self._hinted() or self.scene[1]) if self.scene is not None else lead)
                hinted, score = self._hinted_scored() if subject and " " not in subject else (None, 0)
                if score >= 2 and re.sub(r"^The ", "", hinted) in sentence and not self._hint_score([subject.lower()]):
                    # "Electric minibuses will begin ... after the Dunmere Valley Community Bus Company secured ..." of
                    # valley-bus-news.txt: a one-word subject the file name does not name; the name it names is the topic
                    self.topic = hinted
            else:
                # A first sentence with no subject of its own sets a scene ("Deep beneath a chalk hillside outside the
                # town of Wrexford, a freezer ..."): the next sentence's subject is the topic, or the scene's last named
                # thing where it says "it"; failing both, the scene's opening words, as before.
                names = [("The " if m.group(1) else "") + m.group(2)
                         for m in re.finditer(rf"(?<=\s)(the\s+)?({_CAPITALISED})", sentence)]
                self.scene = (names, re.sub(r"\s*\([^)]*\)", "", sentence.split(",")[0]))
                return text
        if not self.described:  # the first sentence describes the topic, after a heading too
            self.described = True
            self._add_topic_nouns(sentence)
            self._person_topic(sentence)
        # "The guild's influence declined ...; Its ledgers ...": an abstract thing of the topic's is not what a later
        # "its" means ("The observatory's telescope ... It has a 40 cm lens" is the telescope).
        abstract = self.topic and subject and re.fullmatch(
            rf"{re.escape(_possessive(self.topic))}\s+(?:{_RELATIONAL}|[a-z]+(?:ence|ance|ship|tion|ment|ity))", subject)
        # "An outbreak of disease wiped out the stock, and the Orvasso Silk Farm survived ...; Its reeling mill ...": the
        # topic named after the subject is what a later "its" means.
        later = self.topic and subject and text.startswith(subject) and self._mentions_topic(text[len(subject):])
        if later and subject not in self.topic:
            self.last_thing = None
        elif subject and subject != self.person and not abstract and (
                subject.split()[0] in ("The", "A", "An") or subject in self.topic):
            self.last_thing = subject
        # The last person named, for a later "he"/"she": a title ("Dr. Ansel Moriquet"), or a name after a role
        # ("the botanist Hesper Collingrove", "by Odrin Kestavel").
        for m in re.finditer(_ROLE_THEN_NAME, text):
            self.person = m.group(0).strip() if re.match(_TITLES, m.group(0)) else m.group(1)
            self.people.add(m.group(1))
        # "... was home to Ezra Pennock, who kept the lock ...", "Piet Vandermolen, an itinerant grinder who pushed ...": "who"
        # says the name is a person's.
        for m in re.finditer(rf"(?<![\w'’])({_PERSON_NAME}),?\s+(?:(?:a|an|the)\s+(?:[\w-]+\s+){{0,3}}?[a-z]+,?\s+)?"
                             rf"who\s+(?!is\b|was\b)[a-z]", text):
            if m.group(1).split()[0] not in NOT_SUBJECTS and m.group(1) not in (self.topic or ""):
                self.person = m.group(1)
                self.people.add(m.group(1))
        self._remember_names(text)
        return text

    def _remember_names(self, text: str) -> None:
        """The named things of a common kind in the text ("Lake Corran", "the Royal Astronomical Society"), for a later
        "the lake" or "the society" (a kind named twice is left alone: which one is meant is not known)."""
        for m in re.finditer(r"(?<![\w'’])(?:[A-Z][a-z]+\s+)+[A-Z][a-z]+", text):
            words = m.group().split()
            if words[0] in ("The", "A", "An") or (m.start() == 0 and words[0] in NOT_SUBJECTS):
                words = words[1:]
            name = " ".join(words)
            if len(words) < 2 or (self.topic and name in self.topic):
                continue
            for noun in {words[0].lower(), words[-1].lower()} & _GENERIC_NOUNS:
                if self.names.get(noun, name) != name:
                    self.names[noun] = None
                elif not self.topic or (noun not in self.topic.lower().split() and noun != self.kind
                                        and f"the {noun}" not in self.aliases):  # "the company" of a company: the topic
                    self.names[noun] = name

    def _named_inside(self, text: str) -> str:
        """"... appear in the lake." -> "... appear in Lake Corran." where an earlier sentence named the one lake."""
        for noun, name in self.names.items():
            if name and name not in text:
                replaced = re.sub(rf"\b([Tt]he) {noun}\b(?!['’\w-])(?!\s+[A-Z])",
                                  lambda m: name if name.split()[0].lower() == noun else f"{m.group(1)} {name}", text, count=1)
                if replaced != text:
                    return replaced
        return text

    def _person_inside(self, text: str) -> str:
        """A "him", "her" or "his" inside the sentence named: "The Royal Astronomical Society awarded her its silver
        medal" -> "... awarded Ada Whitcombe its silver medal", where the document's person is known and the sentence
        names no one (a name of its own may be whom the pronoun means)."""
        m = re.search(r"(?<=\s)(him|her|his)\b(\s+\w+)?", text)
        if not m or not (self.person or self.topic_is_person):
            return text
        person = self._person_for(m.group(1))
        if re.search(_ROLE_THEN_NAME, text):
            return text
        names = set(re.findall(r"\b[A-Z][a-z]+", person)) - {"Dr", "Mr", "Mrs", "Ms", "Sir", "Dame", "Lady", "Lord"}
        if names & set(re.findall(r"\b[A-Z][a-z]+", text)):
            return text
        follower = (m.group(2) or "").strip().lower()
        object_ = m.group(1) == "him" or (m.group(1) == "her" and (not follower or follower in _NOT_A_NOUN))
        person = _mid_sentence(person)  # "... of the PS Marigold Vane"
        return text[: m.start()] + (person if object_ else _possessive(person)) + text[m.end(1):]

    def _person_for(self, pronoun: str) -> str:
        """Who a "she"/"he"/"her"/"his" is: the topic where the text has called it so before (a document about a
        woman that names "the plant collector Tobias Renn" goes on about her), else the last person named."""
        gender = "he" if pronoun.lower() in ("he", "his", "him") else "she"
        if self.topic_pronoun == gender:
            return self.topic
        ref = self.person or self.topic
        if ref == self.topic and not self.topic_is_person:
            self.topic_pronoun = gender
        return ref

    def _person_topic(self, first: str) -> None:
        """A document about a person ("Tobias Venhallow (1811-1879) was an English cartographer ...") means them by
        its "he" or "she" (the one it uses more), whoever else it names: its topic's pronoun is known from the start."""
        topic, words = self.topic or "", (self.topic or "").split()
        if not 2 <= len(words) <= 4 or words[0] in ("The", "A", "An") or any(w.lower() in _GENERIC_NOUNS for w in words):
            return
        lifespan = re.match(rf"{re.escape(topic)}\s*\([^)]*\d{{4}}", first)  # "(1811-1879)", "(born 1874)"
        role = self.kind and re.search(r"(?:er|or|ist|ian|ant|ess|wright|smith)$", self.kind)  # "a botanist"
        he, she, it = (len(re.findall(rf"\b(?:{w})\b", self.text)) for w in ("he|him|his", "she|her|hers", "it|its"))
        # "Vashti, 47, worked as ...": an age after the name
        age = re.search(rf"\b{re.escape(words[-1])},\s+(?:aged\s+)?\d{{1,3}},", self.source)
        if (lifespan or role or age) and he != she and he + she > it:  # a ship may be "she" too, or "it" and her namesake "he"
            self.topic_pronoun = "he" if he > she else "she"

    def _full_names(self, text: str) -> str:
        """A person's bare surname as their full name, where the text has named them: "Venhallow moved ..." ->
        "Tobias Venhallow moved ...", "after Tarrow's death" -> "after Edmund Tarrow's death"."""
        people = self.people | ({self.topic} if self.topic_is_person and self.topic else set())
        surnames = [p.split()[-1] for p in people]
        for person in people:
            surname = person.split()[-1]
            if len(person.split()) < 2 or surnames.count(surname) > 1 or person in text:
                continue
            # not inside the topic's own name ("Pellworth & Daye", a firm named after its founder Samuel Pellworth)
            inside = [(t.start(), t.end()) for t in re.finditer(re.escape(re.sub(r"^(?:The|A|An) ", "", self.topic or "-")), text)]
            for m in re.finditer(rf"\b{re.escape(surname)}\b(?!\s+[A-Z])", text):
                before = re.search(r"([A-Z][\w'’.-]*)\s+$", text[: m.start()])
                if any(a <= m.start() < b for a, b in inside) and person not in (self.topic or ""):
                    continue
                if not before or before.group(1) in NOT_SUBJECTS:  # not a name's last word ("Lady Tarrow")
                    return self._full_names(text[: m.start()] + person + text[m.end():])
        return text

    def _short_name(self, text: str) -> str:
        """The topic's first word alone as the subject ("Kharvost withstood a siege", "Kharvost's walls") is the
        topic: its full name, as a reader asks about it."""
        words = re.sub(r"^(?:The|A|An) ", "", self.topic or "").split()
        if self.topic_is_person or len(words) < 2 or not words[0][:1].isupper() or self.topic in text:
            return text
        # a verb follows ("withstood"), not a noun of another name's ("Kharvost family", "Kharvost and ...")
        m = re.match(rf"{re.escape(words[0])}(?:(['’]s)(?=\s+[a-z])|(?=\s+(?!(?:and|or|of|in|on|at|to|for|with|by|from|"
                     rf"family|families|region|area|people)\b)[a-z]{{3,}}\b))", text)
        if not m:
            return text
        return (_possessive(self.topic) if m.group(1) else self.topic) + text[m.end():]

    @property
    def topic_is_person(self) -> bool:
        """The text has called the topic "he" or "she"."""
        return self.topic_pronoun is not None

    def _alias_inside(self, text: str) -> re.Match | None:
        """The first "the <noun>" in the text that the document uses for its topic ("the observatory")."""
        nouns = [a.split()[-1] for a in self.aliases if a.startswith("the ")]
        if not nouns:
            return None
        return re.search(rf"\b[Tt]he ({'|'.join(map(re.escape, nouns))})\b('s)?(?![\w-])", text)

    def _mentions_topic(self, text: str) -> bool:
        """Whether the text names the topic: one of its capitalised words ("Quillmere"), not "a paper lantern"."""
        if self.placed:  # "the Lock Fourteen Trust" is not the cottage beside Lock 14
            return bool(re.search(rf"\b{re.escape(self.kind)}\b", text, re.IGNORECASE))
        names = set(re.findall(r"\b[A-Z][a-z]+", self.topic or "")) - {"The", "A", "An", "Dr", "Mr", "Mrs", "Ms"}
        bare = re.sub(r"^(?:The|A|An) ", "", self.topic or "").lower()  # "The copper-backed marsh beetle" too
        return bool(names & set(re.findall(r"\b[A-Z][a-z]+", text))) or bool(bare and bare in text.lower())

    def _add_topic_nouns(self, text: str) -> None:
        """The nouns a text uses for its topic: its description ("a maker of ..."), the topic's own words ("The fair")."""
        if noun := _en_description_noun(text):
            self.topic_nouns.add(noun)
            self.kind = self.kind or noun
            if not re.search(r"(?:ed|ing)$", noun):
                self.aliases.append(f"the {noun}")
                if noun in _BUSINESS_NOUNS:
                    self.aliases += ["the company", "the firm"]
        # The name's head word, before an "of" part: "Brannock Academy of Arms" -> "the academy".
        if head := re.search(r"\b([A-Za-z]{3,})(?:\s+of\s+(?:the\s+)?[A-Z][\w'’ -]*)?$", re.sub(r"\s*\([^)]*\)", "", self.topic or "")):
            noun = head.group(1).lower()  # "The Orlesh fern" -> "the fern", "Qorvath Ridge Observatory" -> "the observatory"
            # The text refers to it so: "the observatory is ...", "... of the observatory." ("the blue veins" of a
            # cheese called Brindle Blue is not a reference to it).
            if head.group(1).islower() or noun in _GENERIC_NOUNS or re.search(
                    rf"\bthe {noun}(?:['’,.;:!?]|\s+(?:is|was|are|were|has|had|have|can|could|will|would|in|of|on|at|for|"
                    rf"to|and|by|with|from|often|also|still|now|never|always|only|{_IRREGULAR_PAST}|[a-z]+ed|[a-z]+ly)\b)",
                    self.text):
                self.aliases.insert(0, f"the {noun}")
                self.topic_nouns.add(noun)
        self.aliases = list(dict.fromkeys(self.aliases))

    def _zh(self, sentence: str) -> str:
        text = sentence
        if self.topic:
            if m := _ZH_PRONOUN.match(text):
                possessive = m.group(1).endswith("的")
                text = self.topic + ("的" if possessive else "") + text[m.end():]
            elif m := _ZH_DEMONSTRATIVE.match(text):
                import jieba

                noun = next(iter(jieba.lcut(text[m.end():])), "")
                text = self.topic + text[m.end() + len(noun):]
            if not any(self.topic[i : i + 2] in text for i in range(max(len(self.topic) - 1, 1))):
                text = f"{self.topic}：{text}"
        subject = _zh_subject(text)
        if self.topic is None:
            self.topic = subject
        return text

    def title(self, heading: str) -> None:
        """A heading names the topic: "Vellmoor, a harbour town" -> "Vellmoor"."""
        if self.topic is None and not self.headline:
            if heading.isupper() and len(heading.split()) >= 2:  # "MARROWBY OPEN-AIR BATHS"
                heading = re.sub(r"[A-Za-z]+", lambda m: m.group().capitalize(), heading.lower())
            parts = [part.strip() for part in re.split(r"[,:;—–(（，：]| - ", heading) if part.strip()]
            # "Meet the baker: Teodora Vashti", "Obituary - Edith Calloway": the part the text names again, else the first
            named = [part for part in parts if len(re.findall(re.escape(part), self.source, re.IGNORECASE)) >= 2]
            self.topic = (named or parts or [None])[0]
            lower = [w for w in re.findall(r"(?<![\w'’-])[a-z][a-z'’]+", self.topic or "") if w not in _EN_FUNCTION]
            head = lower[-1] if lower and self.topic.split()[-1].islower() else None
            thing = head and re.search(rf"\b(?:the|this|that|its|their)\s+(?:[\w-]+\s+){{0,2}}{re.escape(head)}\b", self.source,
                                       re.IGNORECASE)  # "Knife grinder's barrow" of a label on "This two-wheeled barrow"
            if len(lower) >= 2 and not named and not thing:
                # a headline ("Honey shed opens at Yarrowby") names nothing the text names again: the first sentence says
                # what the document is about
                self.topic, self.headline = None, True
                return
            hinted, score = self._hinted_scored()
            if self.topic and score >= 2 and score > self._hint_score(re.findall(r"[a-z]+", self.topic.lower())):
                # the heading "Marrowby Open-Air Baths" of marrowby_lido_heritage_plaque.txt, whose text says "the Marrowby
                # Lido": the name the file names
                self.topic = hinted
                return
            used = self.topic and not self.topic.startswith("The ") and re.search(
                rf"\b[Tt]he ({re.escape(self.topic)})(?![\w-])", self.source, re.IGNORECASE)
            if used:  # the text says "The Qorvath Ridge Observatory", or "the copper-backed marsh beetle" to a heading's
                self.topic = "The " + used.group(1)  # "Copper-backed marsh beetle": the text's own letters
            self._add_topic_nouns(heading)


# An aside between a subject and its verb, said of the subject: "Ilse Varnholm, born on 4 March 1862 in Skelvik, was
# sent ..." also states "Ilse Varnholm was born on 4 March 1862 in Skelvik." (asked "Where was Ilse Varnholm born?").
_ASIDE_OF_SUBJECT = re.compile(
    r"^((?:The\s+)?[A-Z][^,:;()]{0,60}?),\s+((?:born|built|founded|made|designed|named|located|known|trained|educated|"
    r"raised|established|completed|erected|opened|cast|carved|written|published|a|an|the)\s[^,;]*?"
    r"(?:,\s+(?:a|an|the)\s[^,;]*?)?),\s+"  # "founded in 1812 by Caterina Orvasso, a widow from Genoa, began"
    rf"(?={FINITE_VERB}\b)")


# A second clause that leans on the first: "..., and it was formally dissolved in 1836", "..., and in 1612 monks of
# the Order of Saint Veyra established a hospice ...": a fact of its own too, its "it" resolved like a sentence's.
_SECOND_CLAUSE = re.compile(r",\s+(?:and|but)\s+((?:it|he|she|they|its|his|her|their)\s+[a-z]|"
                            r"(?:in|by|since)\s+\d{4}\s+[a-z])")


def aside_fact(fact: str) -> tuple[str | None, str]:
    """(the aside after a fact's subject as a fact of its own, or None; the fact without it). A person's lifespan is
    one too, and stays in the fact ("Ilse Varnholm (1862–1931) was ..." -> "Ilse Varnholm was born in 1862 and died
    in 1931.")."""
    life = re.match(r"^([A-Z][\w'’.-]*(?:\s+[A-Z][\w'’.-]*)+)\s+\((?:c\.\s*)?(\d{4})\s*[–-]\s*(?:c\.\s*)?(\d{4})\)", fact)
    if life:
        return f"{life.group(1)} was born in {life.group(2)} and died in {life.group(3)}.", fact
    m = _ASIDE_OF_SUBJECT.match(fact)
    if not m or _en_subject(m.group(1) + " was") != m.group(1):
        return None, fact
    present = re.match(r"(?:is|has|(?!was\b)[a-z]+s)\b", fact[m.end():]) and not m.group(2).startswith("born") \
        and not re.match(r"[a-z]+ed\b.*\b(?:1\d|20)\d{2}\b", m.group(2))  # "opened in 1938": past
    verb = "is" if present else "was"  # the sentence's tense
    return f"{m.group(1)} {verb} {m.group(2)}.", f"{m.group(1)} {fact[m.end():]}"


def document_sentences(text: str, lang: str, name: str | None = None) -> list[Sentence]:
    """Every informative sentence of a document, standalone, in order; headings set the topic, and the document's file
    `name` where its first sentences do not."""
    context = _Context(lang)
    context.text, context.source = text.lower(), text
    stem = re.sub(r"\.[A-Za-z0-9]+$", "", re.split(r"[\\/]", name or "")[-1])
    context.hint = set(re.findall(r"[a-z]{3,}", stem.lower())) - {"the", "and", "doc", "document", "text", "profile",
                                                                  "history", "article", "page", "notes", "draft"}
    if lang == "en":
        context.first_person_plural([w for w in re.findall(r"[a-z]{3,}", stem.lower()) if w in context.hint
                                     and w not in ("about", "our", "who", "are", "home", "index", "info")])
    sentences, year = [], None
    for start, end in sentence_spans(text):
        original = text[start:end].strip()
        if year and (that := re.match(r"(?:In\s+)?that\s+year\b,?\s*", original, re.IGNORECASE)):
            original = f"In {year} {original[that.end():]}"  # a plaque's "1782. In that year the merchant ..."
        year = m.group(1) if (m := re.fullmatch(r"(\d{3,4})\.", original)) else None
        if _is_title_line(original, lang):
            context.title(original)
            continue
        if not _informative(original, lang):
            continue
        fact = context.standalone(original)
        people = context.people | ({context.topic} if context.topic_is_person and context.topic else set())
        # One fact per statement: the aside and a second clause are facts of their own, and the sentence's fact keeps
        # the rest ("Ilse Varnholm was sent ..." and "Ilse Varnholm was born on ..."), so no two facts open alike.
        extra = []
        if lang == "en":
            aside, fact = aside_fact(fact)
            extra += [aside] if aside else []
        second = _SECOND_CLAUSE.search(original) if lang == "en" else None
        rest = original[second.start(1):] if second else ""
        verb = _VERB_AFTER_SUBJECT.search(rest)
        # a clause: its verb not in a relative clause ("and his brother-in-law Arthur Daye, who had ..." is not one)
        if rest and verb and not re.search(r"[;:]", rest) and not re.search(r",\s+(?:who|which|whose|where)\b",
                                                                           rest[: verb.start()]):
            clause = context.standalone(capitalise(rest))
            if len(clause.split()) >= 5 and clause not in fact:
                extra.append(clause)
                if (cut := _SECOND_CLAUSE.search(fact)) and len(fact[: cut.start()].split()) >= 4:
                    fact = fact[: cut.start()] + "."
        if lang == "en" and (when := _WHEN_THEN_DID.search(original)):
            # "That was the promise Ambrose Feltham chalked above the press when he launched the Courier ... in 1872": what
            # the person named before "when he" did is a fact of its own ("Ambrose Feltham launched the Courier ...")
            named = re.findall(rf"(?<![\w'’])({_PERSON_NAME})(?![\w'’])", original[: when.start()])
            named = [n for n in named if n.split()[0] not in NOT_SUBJECTS and n.split()[0] not in ("The", "A", "An")]
            clause = f"{named[-1]} {when.group(2)}{when.group(3)}" if len(named) == 1 else ""
            if len(clause.split()) >= 5 and clause.rstrip(".") not in fact:
                extra.append(context.standalone(clause))
                context.people.add(named[-1])  # "he" says it is a person: "Who launched ...?"
                people = people | {named[-1]}
        for text_ in [fact, *extra]:
            sentences.append(Sentence(start, end, text_, lang, context.topic, tuple(context.aliases), tuple(sorted(people))))
    # a scene-setting first sentence is the topic's too, once the next one has said what the topic is
    return [s if s.topic or not context.topic else replace(s, topic=context.topic, aliases=tuple(context.aliases))
            for s in sentences]
