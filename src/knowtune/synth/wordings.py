"""Other ways a reader asks the same question: common words of factual prose, and question words.

A person who asks about a document rarely uses its words: "Who established Vellmoor?" for "Vellmoor
was founded by ...", "When did the plant open?" for "... opened in 1911", "How many staff ..." for
"... employs 417 people". A small model ties a fact to the words its training questions used, so
each templated question is also asked with these words changed, one change at a time.

The lists are general English (the verbs and nouns of encyclopedic, news and biographical prose),
not any one corpus. Only lowercase whole words are replaced, so names are never touched.
"""

from __future__ import annotations

import re

# word or phrase -> other ways to say it (same part of speech and inflection).
OTHER_WORDS: dict[str, tuple[str, ...]] = {
    # founding, making, building
    "founded": ("established", "started", "set up", "created"),
    "established": ("founded", "set up", "started"),
    "set up": ("founded", "established"),
    "founder": ("creator", "person who founded it"),
    "created": ("made", "developed", "produced"),
    "built": ("constructed", "erected"),
    "erected": ("built", "put up"),
    "formed": ("established", "founded", "created"),
    "installed": ("put in place", "fitted", "set up"),
    "rebuilt": ("reconstructed",),
    "restored": ("renovated", "repaired"),
    "revived": ("brought back", "restored"),
    "demolished": ("torn down", "knocked down"),
    "destroyed": ("ruined", "wrecked"),
    "devised": ("invented", "came up with"),
    "pioneered": ("introduced", "led the way in"),
    "adopted": ("taken up", "embraced"),
    "replaced": ("superseded", "substituted"),
    "withdrawn": ("taken out of service", "retired"),
    "broken up": ("scrapped", "dismantled"),
    "ran aground": ("ran ashore", "was stranded"),
    "sank": ("went down",),
    "constructed": ("built", "erected"),
    "designed": ("created", "drew up", "planned"),
    "invented": ("created", "devised", "came up with"),
    "discovered": ("found", "identified", "first described"),
    "developed": ("created", "devised", "worked out"),
    "made": ("produced", "manufactured", "created"),
    "makes": ("produces", "manufactures"),
    "produces": ("makes", "manufactures"),
    "produced": ("made", "manufactured"),
    "manufactures": ("makes", "produces"),
    # place
    "located": ("situated", "found", "based"),
    "situated": ("located", "found"),
    "based": ("headquartered", "located"),
    "headquartered": ("based", "located"),
    "lies": ("is located", "sits"),
    "stands": ("is located", "sits"),
    # people and work
    "employs": ("has on its staff", "has a staff of"),
    "employed": ("had on its staff", "hired"),
    "employees": ("workers", "staff members", "people on the staff"),
    "workers": ("employees", "staff"),
    "staff": ("employees", "workers"),
    "people": ("persons", "individuals"),
    "residents": ("inhabitants", "people living there"),
    "inhabitants": ("residents", "people"),
    "population": ("number of inhabitants", "number of residents"),
    "visitors": ("tourists", "guests", "people visiting"),
    "members": ("participants",),
    "led": ("headed", "ran", "directed"),
    "leads": ("heads", "runs", "directs"),
    "runs": ("operates", "manages"),
    "operates": ("runs", "manages"),
    "owns": ("possesses", "holds"),
    "owned": ("held", "possessed"),
    "studied": ("trained", "was educated", "learned"),
    "taught": ("instructed", "trained"),
    "worked": ("was employed", "served"),
    "served": ("worked", "acted"),
    "became": ("turned into", "grew into"),
    "joined": ("entered", "became part of"),
    "married": ("wed", "got married to"),
    "born in": ("a native of",),
    "retired to": ("settled in", "withdrew to"),
    "elected": ("chosen", "voted in as"),
    "appointed": ("named", "made"),
    "inherited": ("took over", "received"),
    "passed to": ("went to", "was taken over by"),
    "took over": ("assumed control of", "acquired"),
    "funded": ("paid for", "financed"),
    "paid for": ("funded", "financed"),
    "donated": ("gave", "gifted"),
    "managed": ("run", "administered"),
    "welcomes": ("receives", "hosts"),
    "handed down": ("passed down", "passed on"),
    "died": ("passed away",),
    "retired": ("stepped down",),
    "moved": ("relocated", "went"),
    "wrote": ("authored", "penned", "composed"),
    "written": ("authored", "penned"),
    "published": ("released", "issued", "brought out"),
    "released": ("published", "put out", "launched"),
    "launched": ("introduced", "released", "started"),
    "introduced": ("brought in", "launched"),
    "won": ("received", "earned", "was awarded"),
    "received": ("got", "was given", "earned"),
    "awarded": ("given", "granted"),
    "named": ("called", "titled"),
    "called": ("named", "known as"),
    "known as": ("called", "named"),
    "named after": ("named for", "named in honour of"),
    "known for": ("famous for", "noted for", "recognised for"),
    "known locally as": ("locally called", "called locally"),
    "displayed": ("shown", "exhibited"),
    "hangs": ("is displayed", "is kept"),
    "traditionally": ("customarily", "by tradition"),
    # events and time
    "opened": ("started operating", "opened its doors", "began"),
    "closed": ("shut down", "shut"),
    "began": ("started", "commenced"),
    "begins": ("starts", "commences"),
    "started": ("began", "commenced"),
    "starts": ("begins", "commences"),
    "ended": ("finished", "concluded"),
    "ends": ("finishes", "concludes"),
    "held": ("organised", "staged"),
    "takes place": ("is held", "happens", "occurs"),
    "took place": ("was held", "happened", "occurred"),
    "happened": ("took place", "occurred"),
    "celebrates": ("marks", "commemorates"),
    "first": ("earliest", "initial"),
    "last": ("final", "most recent"),
    "annual": ("yearly",),
    "annually": ("every year", "each year"),
    "every year": ("annually", "each year"),
    "each year": ("every year", "annually"),
    # things and amounts
    "contains": ("holds", "includes", "has"),
    "includes": ("contains", "comprises"),
    "holds": ("contains", "houses"),
    "houses": ("holds", "contains"),
    "consists of": ("is made up of", "comprises"),
    "made of": ("made from", "constructed from"),
    "used": ("employed", "utilised"),
    "uses": ("employs", "relies on"),
    "sold": ("marketed", "offered"),
    "sells": ("markets", "offers"),
    "bought": ("purchased", "acquired"),
    "acquired": ("bought", "purchased"),
    "costs": ("is priced at",),
    "cost": ("price",),
    "grows": ("reaches", "can grow"),
    "reaches": ("grows to", "attains"),
    "measures": ("is", "spans"),
    "weighs": ("has a weight of",),
    "reached": ("rose to", "attained"),
    "raised": ("increased", "lifted"),
    "supplied": ("provided", "furnished"),
    "exported": ("shipped abroad", "sold abroad"),
    "manufacture": ("production", "making"),
    "prospered": ("thrived", "flourished"),
    "matured": ("aged", "ripened"),
    "accompanied by": ("served with", "together with"),
    "allowed": ("permitted",),
    "permitted": ("allowed",),
    "covers": ("spans", "extends over"),
    "attracts": ("draws", "brings in"),
    "draws": ("attracts", "brings in"),
    "carries": ("bears", "has"),
    "shows": ("displays", "depicts"),
    "displays": ("shows", "exhibits"),
    "describes": ("explains", "sets out"),
    "described": ("recorded", "documented"),
    "recorded": ("documented", "noted"),
    "company": ("firm", "business"),
    "firm": ("company", "business"),
    "business": ("company", "firm"),
    "town": ("settlement", "municipality"),
    "village": ("hamlet", "settlement"),
    "city": ("municipality",),
    "building": ("structure", "edifice"),
    "festival": ("celebration", "event"),
    "event": ("occasion", "gathering"),
    "product": ("item", "goods"),
    "school": ("academy",),
    "species": ("kind", "type"),
    "flowers": ("blooms", "blossoms"),
    "leaves": ("foliage",),
    "book": ("work", "volume"),
    "prize": ("award",),
    "award": ("prize", "honour"),
    "largest": ("biggest",),
    "biggest": ("largest",),
    "oldest": ("earliest", "most ancient"),
    "main": ("principal", "chief"),
    "chief": ("main", "principal"),
    "principal": ("main", "chief"),
    "famous": ("well-known", "renowned"),
    "well-known": ("famous", "renowned"),
    "best-known": ("most famous", "best-known"),
    "popular": ("well-liked", "in demand"),
    "tall": ("high",),
    "high": ("tall",),
    "small": ("little",),
    "large": ("big",),
    "big": ("large",),
    "about": ("around", "approximately", "roughly"),
    "around": ("about", "approximately"),
    "nearly": ("almost",),
    "more than": ("over",),
    "over": ("more than",),
}

# The question word said another way: (pattern, replacements).
OTHER_QUESTION_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (r"^What year (was|were|did|does|is|has) ", ("When \\1 ", "In which year \\1 ", "In what year \\1 ")),
    (r"\bin what year\b", ("in which year",)),
    (r"\bwhat year\b", ("which year",)),
    (r"^How many ", ("What number of ",)),
    (r"\bhow many\b", ("what number of",)),
    (r"^Who (was|were|is|are|did|does|has) ", ("Which person \\1 ",)),
    (r"\bwhom\b", ("which person",)),
    (r"^What number\b", ("Which number",)),
)

_PATTERNS = [(re.compile(rf"\b{re.escape(word)}\b"), others) for word, others in OTHER_WORDS.items()]


def other_wordings(question: str, limit: int) -> list[str]:
    """Up to `limit` rewordings of `question`, each with one change: the first alternative of every word it
    has, then its question word, then the second alternatives, and so on."""
    options: list[list[str]] = []
    for pattern, others in _PATTERNS:
        if pattern.search(question):
            options.append([pattern.sub(other, question, count=1) for other in others if other not in question])
    for pattern, others in OTHER_QUESTION_WORDS:
        if re.search(pattern, question):
            options.insert(min(1, len(options)), [re.sub(pattern, other, question, count=1) for other in others])
    # "What year was the bell cast in?" -> "When was the bell cast?", not "When was the bell cast in?"
    options = [[re.sub(r" in\?$", "?", o) if re.match(r"(?:When|In which year|In what year) ", o) else o for o in alternatives]
               for alternatives in options]
    found, seen = [], {question}
    for round_ in range(max((len(o) for o in options), default=0)):
        for alternatives in options:
            if round_ < len(alternatives) and alternatives[round_] not in seen:
                seen.add(alternatives[round_])
                found.append(alternatives[round_])
    return found[:limit]
