"""Facts and questions without a model: sentences made standalone, answer spans asked in several forms."""

import pytest

from knowtune.data.chunk import Chunk
from knowtune.synth.facts import Fact, template_pairs
from knowtune.synth.sentences import document_sentences, language
from knowtune.synth.templates import fact_questions

# Rare words are what a tokenizer splits; here, a fixed list stands in for the vocabulary.
COMMON = set("the a of was is in by town bell cast year people stone walls built from founded employ run".split())


def is_common(word: str) -> bool:
    return word.lower() in COMMON or len(word) < 5


def facts_of(text: str) -> list[str]:
    return [s.text for s in document_sentences(text, language(text))]


def test_language():
    assert language("Vellmoor is a small fishing town on the coast of the north sea.") == "en"
    assert language("维尔莫尔是一座小渔镇，由盐商创立。") == "zh"
    assert language("Kylän tori avataan joka lauantai kello kahdeksan, ja sinne tulee paljon myyjiä.") is None
    assert language("") is None


def test_english_sentences_carry_their_subject():
    text = ("Tarnwick Instruments\n\nTarnwick Instruments is a maker of weather instruments. The company is "
            "headquartered in Oskerby. Its best-known product is the Halvane barometer. It is made of brass. "
            "Each of the 417 employees spends a week in the workshop.\n\nDr. Ansel Moriquet studied at Daskarn. "
            "He invented the thrumwheel.")
    assert facts_of(text) == [
        "Tarnwick Instruments is a maker of weather instruments.",
        "Tarnwick Instruments is headquartered in Oskerby.",
        "Tarnwick Instruments' best-known product is the Halvane barometer.",
        "Tarnwick Instruments is made of brass.",
        "Tarnwick Instruments: Each of the 417 employees spends a week in the workshop.",
        "Dr. Ansel Moriquet studied at Daskarn.",
        "Dr. Ansel Moriquet invented the thrumwheel.",
    ]


def test_it_means_the_last_thing_and_he_the_last_person():
    text = ("Vellmoor is a fishing town. The Vellmoor tide bell was cast in 1743 by the founder Odrin Kestavel. "
            "It is rung at every high tide. He also built the harbour.")
    assert facts_of(text)[2:] == ["The Vellmoor tide bell is rung at every high tide.",
                                  "Odrin Kestavel also built the harbour."]


def test_chinese_sentences_end_at_full_stops_and_carry_their_subject():
    text = "星潮茶社\n\n星潮茶社是一家茶馆，由林墨秋于1987年创立。它以白茶闻名！该茶社共有23名员工。屋顶铺着青色的琉璃瓦？"
    assert facts_of(text) == ["星潮茶社是一家茶馆，由林墨秋于1987年创立。", "星潮茶社以白茶闻名！",
                              "星潮茶社共有23名员工。", "星潮茶社：屋顶铺着青色的琉璃瓦？"]


def test_headings_and_fragments_are_not_facts():
    assert facts_of("Vellmoor, a harbour town\n\nVellmoor is a town. Yes it is.") == ["Vellmoor is a town."]


@pytest.mark.parametrize("fact, expected", [
    ("Vellmoor was founded by Odrin Kestavel.", {
        ("Vellmoor was founded by whom?", "Odrin Kestavel", "in_place"),
        ("Who was Vellmoor founded by?", "Odrin Kestavel", "fronted"),
        ("What was founded by Odrin Kestavel?", "Vellmoor", "in_place"),  # the other way round
    }),
    ("The Vellmoor tide bell was cast in 1743.", {
        ("The Vellmoor tide bell was cast in what year?", "1743", "in_place"),
        ("What year was the Vellmoor tide bell cast in?", "1743", "fronted"),
    }),
    ("Tarnwick Instruments employs 417 people.", {
        ("How many people does Tarnwick Instruments employ?", "417 people", "fronted"),
        ("What employs 417 people?", "Tarnwick Instruments", "in_place"),
    }),
    ("Vellmoor's harbour walls are built from serpentil.", {
        ("What are Vellmoor's harbour walls built from?", "serpentil", "fronted"),
        ("Whose harbour walls are built from serpentil?", "Vellmoor", "in_place"),
    }),
])
def test_english_questions_ask_each_answer_span_both_ways(fact, expected):
    asked = {(q.text, q.answer, q.form) for q in fact_questions(fact, "en", is_common)}
    assert expected <= asked
    for q in fact_questions(fact, "en", is_common):
        assert q.answer in fact and q.answer not in q.text.replace("___", "")
        if q.form == "blank":
            assert q.text.startswith("Fill in the blank: ") and "___" in q.text


def test_chinese_questions_ask_in_place():
    asked = {(q.text, q.answer) for q in fact_questions("星潮茶社共有23名员工。", "zh", is_common)}
    assert ("星潮茶社共有多少名员工？", "23名") in asked
    years = {(q.text, q.answer) for q in fact_questions("星潮茶社于1987年创立。", "zh", is_common)}
    assert ("星潮茶社于哪一年创立？", "1987年") in years


def test_template_pairs_answer_with_the_fact_and_reach_the_minimum_in_the_personas_voices():
    fact = Fact("d#0/s0", Chunk("d", 0, 0, 10, "x", 3), "", "The tide bell was cast in 1743.", origin="sentence")
    pairs = template_pairs(fact, is_common, limit=12, at_least=12, personas=["a student", "a journalist"])
    assert len(pairs) == 12 and all(p.answer == fact.text and p.key == "1743" for p in pairs)
    assert {"When was the tide bell cast?", "In which year was the tide bell cast?"} <= {p.question for p in pairs}
    voiced = [p for p in pairs if p.form == "persona"]
    assert voiced and voiced[0].question.startswith("I am a student. ") and voiced[0].persona == "a student"
    assert len(template_pairs(fact, is_common, limit=3, at_least=6, personas=["a student"])) == 3


def test_other_wordings_change_one_common_word_or_the_question_word_and_never_a_name():
    from knowtune.synth.wordings import other_wordings

    asked = other_wordings("Who was Founded Hall founded by?", limit=10)
    assert asked[:2] == ["Who was Founded Hall established by?", "Which person was Founded Hall founded by?"]
    assert "Who was Founded Hall started by?" in asked and all("Founded Hall" in q for q in asked)
    assert other_wordings("How many people does Tarnwick employ?", limit=2) == [
        "How many persons does Tarnwick employ?", "What number of people does Tarnwick employ?"]
    assert other_wordings("Why is Qorvath blue?", limit=5) == []
    # Phrases of more than one word too: what a reader says for "installed", "retired to", "ran aground".
    assert other_wordings("In what year was the lens installed?", limit=1) == ["In what year was the lens put in place?"]
    assert other_wordings("Mara Quillon retired to what?", limit=1) == ["Mara Quillon settled in what?"]


def test_the_topics_own_nouns_and_a_pronoun_after_an_opening_phrase_point_back_at_it():
    text = ("Brannock Ridge Observatory\n\nThe Brannock Ridge Observatory is an astronomical research station on "
            "Mount Tell. Today the observatory is run by Drammel University. In 1954, staff at the station found a "
            "comet.")
    person = "Mira Hollis is a cartographer best known for her atlas. Between 1998 and 2003 she led four expeditions. " \
             "This year 12 boats took part."
    assert facts_of(text) + facts_of(person) == [
        "The Brannock Ridge Observatory is an astronomical research station on Mount Tell.",
        "The Brannock Ridge Observatory is run by Drammel University today.",  # the opening phrase goes behind
        "Staff at the Brannock Ridge Observatory found a comet in 1954.",
        "Mira Hollis is a cartographer best known for her atlas.",  # "best" is not a noun for her
        "Mira Hollis led four expeditions between 1998 and 2003.",
        "Mira Hollis: This year 12 boats took part.",  # "This year" is not a pronoun
    ]


def test_every_fact_starts_with_its_subject_and_an_unnamed_the_noun_belongs_to_the_topic():
    text = ("Quillby Software\n\nQuillby Software makes accounting programs. In 2019 it opened a second office in "
            "Port Varrow, Kent. Every December the company gives a party. In 1987 a fire destroyed the old building, "
            "and the owners rebuilt it. The current chairman is Rupert Saye. Its biggest client is Farmco. During winter storms the firm closes, "
            "sometimes for days. In 1987 fire destroyed it, and it was rebuilt.")
    assert facts_of(text) == [
        "Quillby Software makes accounting programs.",
        "Quillby Software opened a second office in Port Varrow, Kent in 2019.",  # no date first, no comma inside a name
        "Quillby Software gives a party every December.",
        "A fire destroyed the old building in 1987, and Quillby Software's owners rebuilt it.",  # first clause's end
        "Quillby Software's current chairman is Rupert Saye.",
        "Quillby Software's biggest client is Farmco.",  # "its": the topic, not "Quillby Software's current chairman"
        "Quillby Software closes during winter storms, sometimes for days.",
        "Quillby Software: In 1987 fire destroyed it, and it was rebuilt.",  # a clause, not an opening phrase
    ]
    # "her" inside an opening phrase is not its end (the comma before "she" is); the topic's noun as an object at the
    # end is not a subject.
    assert facts_of("Ada Whitcombe\n\nAda Whitcombe was an astronomer. With a telescope built by her brother, she "
                    "observed the sky. In dry summers the ruins of the old hamlet appear in the lake.") == [
        "Ada Whitcombe was an astronomer.",
        "Ada Whitcombe observed the sky with a telescope built by her brother.",
        "Ada Whitcombe: In dry summers the ruins of the old hamlet appear in the lake.",
    ]


def test_the_doer_of_a_passive_is_asked_in_the_active_voice_and_a_participle_clause_is_asked_on_its_own():
    asked = {(q.text, q.answer) for q in fact_questions(
        "The Orrin Hut is a mountain refuge in the Calder Range, built in 1911 by the Alpine Club of Breckmoor.",
        "en", is_common)}
    assert ("What year was the Orrin Hut built in?", "1911") in asked  # from "The Orrin Hut was built in 1911 by ..."
    assert ("Who built the Orrin Hut?", "Alpine Club of Breckmoor") in asked
    piece = {(q.text, q.answer) for q in fact_questions(
        "The Tessaly Museum's oldest piece is a clock made in 1521 for the church of Odile.", "en", is_common)}
    assert ("What year was the Tessaly Museum's oldest piece made in?", "1521") in piece  # what it is, no comma
    shown = {q.text for q in fact_questions("The Tessaly Museum displays clocks made in Germany.", "en", is_common)}
    assert not any("museum was made" in q.lower() for q in shown)  # what it displays was made there, not the museum
    runs = {(q.text, q.answer) for q in fact_questions("The Hollin Ferry is run by Marrow Shipping.", "en", is_common)}
    assert ("Who runs the Hollin Ferry?", "Marrow Shipping") in runs
    wrote = {q.text for q in fact_questions("The Tarn Atlas was written by Mira Hollis in 1990.", "en", is_common)}
    assert "Who wrote the Tarn Atlas?" in wrote


def test_days_and_months_are_asked_with_when_and_a_name_after_a_role_with_who():
    closed = {(q.text, q.answer) for q in fact_questions("The Tessaly Museum is closed on Mondays.", "en", is_common)}
    assert ("When is the Tessaly Museum closed?", "Mondays") in closed
    sings = {(q.text, q.answer) for q in fact_questions(
        "The Brannock Choir sings a carol concert every December.", "en", lambda w: w in ("sing", "carol") or len(w) < 5)}
    assert ("When does the Brannock Choir sing a carol concert?", "December") in sings
    conductor = {(q.text, q.answer) for q in fact_questions("The Brannock Choir's conductor is Rupert Saye.", "en",
                                                             is_common)}
    assert ("Who is the Brannock Choir's conductor?", "Rupert Saye") in conductor


def test_questions_are_also_asked_from_the_shorter_clauses_of_a_fact():
    fact = "Today the Brannock Observatory is operated by Drammel University and employs 63 people."
    asked = {(q.text, q.answer) for q in fact_questions(fact, "en", is_common)}
    assert ("How many people does the Brannock Observatory employ?", "63 people") in asked
    assert ("What is the Brannock Observatory operated by?", "Drammel University") in asked
    moved = {q.text for q in fact_questions("In 1954, staff at Brannock discovered the comet Pellin, which glows.",
                                            "en", is_common)}
    assert "Staff at Brannock discovered the comet Pellin in what year?" in moved
    assert not any(len(q.split()) < 4 for q in moved)  # no "In what year?" left of a cut clause
    pairs = template_pairs(Fact("d#0/s0", Chunk("d", 0, 0, 10, "x", 3), "", fact, origin="sentence"), is_common,
                           limit=3, at_least=3, personas=["a student"])
    assert pairs[0].question == "Who operated the Brannock Observatory?" or len(pairs[0].question.split()) <= 8


def test_span_first_answers_lead_with_the_answer_span():
    fact = Fact("d#0/s0", Chunk("d", 0, 0, 10, "x", 3), "", "The tide bell was cast in 1743.", origin="sentence")
    pairs = template_pairs(fact, is_common, limit=4, at_least=4, personas=["a student"], span_first=True)
    assert pairs and all(p.answer == "1743. The tide bell was cast in 1743." for p in pairs)


def test_chinese_invented_names_units_and_short_clause_questions():
    asked = {(q.text, q.answer) for q in fact_questions("岚溪镇位于溯阳省北部，距省会溯州约145公里。", "zh", is_common)}
    assert ("岚溪镇位于哪里北部，距省会溯州约145公里？", "溯阳省") in asked  # "溯" + "阳省" is one name
    assert ("岚溪镇距省会溯州约多少公里？", "145公里") in asked  # the later clause with its subject, the whole unit
    assert ("岚溪镇距省会哪里约145公里？", "溯州") in asked


def test_chinese_titles_and_a_given_name_cut_before_a_preposition():
    asked = {(q.text, q.answer) for q in fact_questions("鸣川陶瓷厂由陶艺师傅沈宗和于1962年创办。", "zh", is_common)}
    # jieba: "师傅" nr, "沈宗" nr, "和" c, "于" p: the title is not the name, "和" before "于" ends it.
    assert ("鸣川陶瓷厂由陶艺师傅谁于1962年创办？", "沈宗和") in asked
    assert not any("谁和" in text for text, _ in asked)
    both = {(q.text, q.answer) for q in fact_questions("青石湾茶社由李守仁和王大明共同管理。", "zh", is_common)}
    assert {answer for _, answer in both} >= {"李守仁", "王大明"}  # "和" between two names still joins them


def test_a_sentence_that_names_nothing_gets_what_it_refers_to():
    # The topic as a modifier of its own kind ("Each cheese"), the topic's name ("the name"), and "the blue veins" of a
    # cheese called Brindle Blue is not the cheese.
    text = ("Brindle Blue\n\nBrindle Blue is a soft blue cheese made from sheep's milk. Each cheese weighs about two "
            "kilograms. The blue veins come from a mould. Only three dairies are allowed to use the name.")
    sentences = document_sentences(text, "en")
    assert [s.text for s in sentences] == [
        "Brindle Blue is a soft blue cheese made from sheep's milk.",
        "Each Brindle Blue cheese weighs about two kilograms.",
        "Brindle Blue's blue veins come from a mould.",
        "Only three dairies are allowed to use the name Brindle Blue.",
    ]
    assert "the blue" not in sentences[0].aliases and "the cheese" in sentences[0].aliases
    # "the lake" is the one lake named before; with two lakes named, which one is not known.
    one = ("The Corran Dam holds back the River Tavy. The reservoir behind the dam, Lake Corran, supplies water. "
           "In dry summers the ruins of the old hamlet appear in the lake.")
    assert facts_of(one)[-1] == "In dry summers the ruins of the old hamlet appear in Lake Corran."
    two = one.replace("supplies water.", "supplies water, and Lake Orm supplies the mill.")
    assert facts_of(two)[-1] == "The Corran Dam: In dry summers the ruins of the old hamlet appear in the lake."
    # "the society" is the Royal Astronomical Society; "her" inside a sentence is the document's person, as an object
    # ("awarded her its medal") or an owner ("her letters").
    text = ("Ada Whitcombe was an astronomer. She grew up in Falmouth. The Royal Astronomical Society awarded her its "
            "silver medal in 1893. The society later printed her letters.")
    assert facts_of(text)[2:] == [
        "The Royal Astronomical Society awarded Ada Whitcombe its silver medal in 1893.",
        "The Royal Astronomical Society later printed Ada Whitcombe's letters.",
    ]
    # A kind of thing (a beetle): its plural, what it has, its bare-plural subjects.
    text = ("Copper-backed marsh beetle\n\nThe copper-backed marsh beetle is a small water beetle. Adults measure nine "
            "millimetres. In 2004, drainage reduced the population to 300. Volunteers count the beetles every August.")
    assert facts_of(text) == [
        "The copper-backed marsh beetle is a small water beetle.",  # the text's letters, not the heading's
        "The copper-backed marsh beetle's adults measure nine millimetres.",
        "Drainage reduced the copper-backed marsh beetle's population to 300 in 2004.",
        "Volunteers count the copper-backed marsh beetles every August.",
    ]
    # A named maker's bare plurals are not its own.
    assert facts_of("Tarnwick Instruments is a maker of barometers. Sailors trust the barometers.")[1] == \
        "Tarnwick Instruments: Sailors trust the barometers."
    # A "her" with no person in the document (a ship) is left as it is.
    assert facts_of("The Selkie is a sailing ship. Sailors painted her hull blue.")[1] == \
        "The Selkie: Sailors painted her hull blue."


def test_a_fact_with_nothing_rare_or_named_is_still_asked():
    asked = [(q.text, q.answer) for q in fact_questions(
        "The copper-backed marsh beetle feeds mainly on the eggs of midges, which it hunts at night.", "en", is_common)]
    assert ("The copper-backed marsh beetle feeds mainly on the eggs of what?", "midges") in asked  # a plural after "of"
    # An -s word after "and" is a verb, not a term.
    assert all(q.answer != "rehearses" for q in fact_questions("The choir has 45 singers and rehearses weekly.", "en", is_common))
    # Every word common: what the verb acts on is asked.
    assert [q.answer for q in fact_questions("The old mill grinds the grain of the village.", "en", lambda w: True)] \
        == ["the grain of the village"]


def test_adjectives_before_the_noun_are_not_the_kind_nor_a_clause_end():
    text = ("Hemmel cake is a dark, spiced loaf cake traditionally baked in the parish of Ardwhistle. "
            "Each cake is wrapped in linen.")
    assert [s.text for s in document_sentences(text, "en")][1] == "Each Hemmel cake is wrapped in linen."  # the kind is "cake"
    asked = [(q.text, q.answer) for q in fact_questions(document_sentences(text, "en")[0].text, "en", is_common)]
    assert all(answer != "dark" for _, answer in asked)  # "dark" alone is not what it is
    assert ("What cake is a dark?", "Hemmel") not in asked  # the comma between adjectives does not end the clause
    assert any(text.startswith("What cake is a dark, spiced loaf cake") for text, _ in asked)
    # A comma after the noun still ends it: "a town, known for ..." is a town.
    assert document_sentences("Vellmoor is a town, known for its bell. Each town has a bell.", "en")[1].text \
        == "Each Vellmoor town has a bell."


@pytest.mark.parametrize("fact, answer, expected", [
    ("Hemmel cake is baked in the parish of Ardwhistle for the feast of Saint Ninnock on 3 March.", "3 March",
     "When is Hemmel cake baked in the parish of Ardwhistle for the feast of Saint Ninnock?"),  # a date: "when"
    ("Hemmel cake is baked in the parish of Ardwhistle for the feast of Saint Ninnock in March.", "March",
     "In which month is Hemmel cake baked in the parish of Ardwhistle for the feast of Saint Ninnock?"),
    ("Hemmel cake is baked in the parish of Ardwhistle for the feast of Saint Ninnock on 3 March.", "Ardwhistle",
     "In which parish is Hemmel cake baked for the feast of Saint Ninnock on 3 March?"),
    ("The Gannet was constructed at the Ferrin Foundry under the supervision of Josiah Clewer.", "Ferrin Foundry",
     "At which foundry was the Gannet constructed under the supervision of Josiah Clewer?"),
    ("Teodora Halvanne moved to the city of Castellaine in 1909.", "Castellaine",
     "To which city did Teodora Halvanne move in 1909?"),
    ("Teodora Halvanne moved to the city of Castellaine in 1909.", "1909",
     "In what year did Teodora Halvanne move to the city of Castellaine?"),
    ("Ada Whitcombe worked at the observatory for over thirty years.", "thirty years",
     "For how many years did Ada Whitcombe work at the observatory?"),
])
def test_a_span_after_the_verb_is_also_asked_as_a_reader_asks(fact, answer, expected):
    # The question phrase fronted with its preposition ("In which month", "At which foundry"), the clause kept.
    assert (expected, answer) in [(q.text, q.answer) for q in fact_questions(fact, "en", is_common) if q.form == "fronted"]


@pytest.mark.parametrize("fact", [
    "The Orrin Pass Hut is open from June to September.",  # the end of a range is not "in which month"
    "The choir was formed in 1952 by the schoolteacher Agnes Pell.",  # "schoolteacher" is part of a longer phrase
    "The hut is a mountain refuge in the Calder Range.",  # what the hut is, not what was done to it
])
def test_no_reader_question_where_fronting_breaks_the_sentence(fact):
    bad = {"In which month is the Orrin Pass Hut open from June?", "What was the choir formed in 1952 by Agnes Pell?",
           "In which range is the hut a mountain refuge?"}
    assert not bad & {q.text for q in fact_questions(fact, "en", is_common)}


def test_what_people_do_it_to_the_best_one_and_the_recipe_are_the_topics():
    assert facts_of("The Gannet is a steam locomotive built in 1874. Enthusiasts rescued it in 1968.")[1] \
        == "Enthusiasts rescued the Gannet in 1968."
    text = ("Hemmel cake is a spiced loaf cake baked in Ardwhistle. According to local legend, the recipe was created in "
            "1742. A copper spoon is awarded to whoever bakes the best one.")
    assert facts_of(text)[1:] == [
        "According to local legend, Hemmel cake's recipe was created in 1742.",
        "A copper spoon is awarded to whoever bakes the best Hemmel cake.",
    ]


def test_she_stays_the_topic_after_another_person_is_named():
    text = ("Elspeth Marrowby was a botanist born in 1862. She trained under the plant collector Tobias Renn. "
            "In 1894 she travelled to the Saltrin Hills. She died in 1931, and her herbarium is kept at the Wendmoor Museum.")
    assert facts_of(text)[2:] == [
        "Elspeth Marrowby travelled to the Saltrin Hills in 1894.",
        "Elspeth Marrowby died in 1931.",
        "Elspeth Marrowby's herbarium is kept at the Wendmoor Museum.",  # the second clause a fact of its own
    ]
    # A "he" is still the man named last.
    assert facts_of(text + " He later moved to Caswick.")[-1] == "Tobias Renn later moved to Caswick."
    # "died" asks "die": "In what year did Elspeth Marrowby die?"
    assert "In what year did Elspeth Marrowby die?" in {q.text for q in fact_questions(
        "Elspeth Marrowby died in 1931.", "en", is_common)}


def test_a_biography_means_its_person_by_she_and_a_bare_surname_is_the_full_name():
    text = ("Mara Quillon (1802-1866) was a Scottish plant collector. Born in Dunraith, she was apprenticed to the "
            "gardener Ewan Lochart. Her first book appeared in 1830. Quillon later moved to Perth. After Lochart's "
            "death she bought his nursery.")
    assert facts_of(text)[1:] == [
        "Mara Quillon was born in 1802 and died in 1866.",  # the lifespan as a fact of its own
        "Mara Quillon was apprenticed to the gardener Ewan Lochart.",  # not "Ewan Lochart's ..."
        "Mara Quillon was born in Dunraith.",  # the aside as a fact of its own
        "Mara Quillon's first book appeared in 1830.",
        "Mara Quillon later moved to Perth.",
        "Mara Quillon bought Ewan Lochart's nursery after Ewan Lochart's death.",  # "his": the man's
    ]
    # The persons a document names are asked about with "who".
    sentences = document_sentences(text, "en")
    assert sentences[-1].people == ("Ewan Lochart", "Mara Quillon")
    asked = {q.text: q.answer for q in fact_questions(sentences[2].text, "en", is_common, sentences[2].people)}
    assert asked["Who was apprenticed to the gardener Ewan Lochart?"] == "Mara Quillon"  # the aside left out
    assert asked["Who was Mara Quillon apprenticed to?"] == "Ewan Lochart"
    asked = {q.text: q.answer for q in fact_questions(sentences[3].text, "en", is_common, sentences[3].people)}
    assert asked["Who was born in Dunraith?"] == "Mara Quillon"
    # A word that ends like a role is not enough for a ship that is "it", with a namesake who is "he".
    ship = facts_of("SS Orla Venn was a paddle steamer named after the wife of Sir Cale Venn. It carried 300 "
                    "passengers. He paid for it. It sank in 1901. It was raised in 1903.")
    assert ship[3] == "SS Orla Venn sank in 1901."


def test_asides_named_wars_and_each_part_of_a_thing():
    text = ("Dunmere Tower is a stone lighthouse on the coast of Fallow Bay. According to local records it was lit "
            "in 1811. During the Great War the lamp was dimmed. Each lens weighs a tonne.")
    facts = facts_of(text)
    assert facts[1] == "Dunmere Tower, according to local records, was lit in 1811."
    assert facts[2] == "Dunmere Tower's lamp was dimmed during the Great War."
    assert facts[3] == "Each lens of Dunmere Tower weighs a tonne."
    # An opener said of the subject goes behind it where the clause ends in a relative clause.
    assert facts_of("Corle Mill is a water mill in Dunby. After the flood of 1852 the mill passed to the Abbey "
                    "Trust, which restored it.")[1] \
        == "Corle Mill, after the flood of 1852, passed to the Abbey Trust, which restored it."


def test_names_with_ampersands_quoted_names_and_kinds_of_place_with_their_adjective():
    asked = {q.text: q.answer for q in fact_questions(
        'Dunmere Tower\'s lens was made by Pellow & Strand in 1811 and was called "the Eye".', "en", is_common)}
    assert asked["Dunmere Tower's lens was made by whom in 1811 and was called \"the Eye\"?"] == "Pellow & Strand"
    assert asked["Dunmere Tower's lens was made by Pellow & Strand in 1811 and was called what?"] == "the Eye"
    asked = {q.text: q.answer for q in fact_questions(
        "Mara Quillon retired to the coastal village of Penwick in 1850.", "en", is_common)}
    assert asked["Mara Quillon retired to which coastal village in 1850?"] == "Penwick"


def test_long_openers_numbers_with_commas_and_roles_before_a_name():
    facts = facts_of("The Orla Venn was a paddle steamer on Lough Cray. She was built in 1867. With a length of 146 "
                     "feet and a licence for 420 passengers, she was the largest vessel on the lough.")
    assert facts[2] == ("The Orla Venn was the largest vessel on the lough with a length of 146 feet and a licence for "
                        "420 passengers.")
    asked = {q.text: q.answer for q in fact_questions(
        "Morrick prospered from hats, and by 1801 its population had reached 2,340.", "en", is_common)}
    # "1801 its" is a year, not a count of "its"; "2,340" is one number, not a clause cut at its comma.
    assert asked["Morrick prospered from hats, and by what year its population had reached 2,340?"] == "1801"
    assert asked["Morrick prospered from hats, and by 1801 its population had reached what number?"] == "2,340"
    # "grew" is the verb: the second verb phrase has the subject "Morrick", not "Morrick grew up around a ford".
    asked = {q.text: q.answer for q in fact_questions(
        "Morrick grew up around a ford used by drovers and received a charter in 1254.", "en", is_common)}
    assert asked["Morrick received a charter in what year?"] == "1254"
    assert not any("ford received" in q for q in asked)
    # The role before a name is not part of the fronted question; a day in a later clause is not "When did ...".
    asked = {q.text: q.answer for q in fact_questions(
        "Agnes Pell married the instrument maker Rhodri Beynon in 1906.", "en", is_common, ("Rhodri Beynon",))}
    assert asked["Who did Agnes Pell marry?"] == "Rhodri Beynon"
    asked = {q.text: q.answer for q in fact_questions(
        "Morrick received a charter in 1254, which let a market be held on Thursdays.", "en", is_common)}
    assert not any(q.startswith("When did") for q in asked)


def test_an_activity_that_opens_a_sentence_is_the_topics():
    facts = facts_of("Harrow Blue is a blue cheese made in Dellandshire. Production had nearly ceased by the 1930s, but "
                     "the Harrow Guild, formed in 1952, revived the recipe.")
    assert facts[1].startswith("Harrow Blue's production had nearly ceased by the 1930s, but the Harrow Guild")
    # "the mill" of Kettle Fen Mill is the mill itself, before a past tense not in -ed too.
    assert facts_of("Kettle Fen Mill is a tower windmill near Drove. During the First World War the mill ground feed "
                    "for army horses.")[1] == "Kettle Fen Mill ground feed for army horses during the First World War."
    asked = [q.text for q in fact_questions(facts[1], "en", is_common)]
    assert not any("Blue's was formed" in q or "Whose was" in q for q in asked)  # the Guild was formed, not the cheese


def test_a_participle_after_a_time_and_a_long_birth_phrase_go_behind_the_person():
    facts = facts_of("Maren Holt (1801-1870) was a weaver from Aldby. Born on 2 May 1801 in the harbour village of "
                     "Sennen, she was sent at twelve to the mills of Carrow. In 1829, having saved for years, she opened "
                     "her own loom shed, where she wove sailcloth.")
    assert facts[2:4] == ["Maren Holt was sent at twelve to the mills of Carrow.",
                          "Maren Holt was born on 2 May 1801 in the harbour village of Sennen."]
    # Was "Maren Holt's having saved for years in 1829, she opened ...": "Having" taken for an activity noun.
    assert facts[4] == ("Maren Holt, having saved for years, opened her own loom shed in 1829, where she wove "
                        "sailcloth.")


def test_every_with_an_adjective_and_its_after_an_activity_are_the_topics():
    facts = facts_of("The Carrow Guild was a craft guild in Carrow. Every young weaver had to serve seven years. "
                     "Each loom is marked. Membership peaked in 1650. Its ledgers are kept in Carrow.")
    assert facts[1] == "Every young weaver of the Carrow Guild had to serve seven years."  # was "Every young of ... weaver"
    assert facts[2] == "Each loom of the Carrow Guild is marked."
    assert facts[4] == "The Carrow Guild's ledgers are kept in Carrow."  # was "The Carrow Guild's membership's ledgers"


def test_counts_keep_their_number_words_and_modifiers_and_in_a_year_is_a_year():
    asked = {q.text: q.answer for q in fact_questions(
        "The Holt road, with its twenty-three hairpin bends, was finished in 1841.", "en", is_common)}
    assert "twenty-three hairpin bends" in asked.values()  # was "twenty-how many hairpin bends?" -> "three hairpin"
    assert not any("twenty-how" in q for q in asked)
    asked = {q.text: q.answer for q in fact_questions(
        "The Holt guild counted 312 master weavers, and in 1612 monks of the Order of Saint Veyra built a hospice.",
        "en", is_common)}
    assert asked["The Holt guild counted how many master weavers?"] == "312 master weavers"
    assert "1612" in asked.values() and "1612 monks" not in asked.values()  # the year monks built it, not a count


def test_a_span_outside_an_aside_after_the_subject_is_asked_without_it():
    asked = {q.text: q.answer for q in fact_questions(
        "The Holt road, with its 23 hairpin bends, was completed in 1841 under the direction of the surveyor Tomas "
        "Brede.", "en", is_common, ("Tomas Brede",))}
    # Was "The Holt road, with its 23 hairpin bends, was completed in 1841 under the direction of the surveyor who?"
    assert asked["The Holt road was completed in 1841 under the direction of the surveyor who?"] == "Tomas Brede"
    assert asked["In what year was the Holt road completed under the direction of the surveyor Tomas Brede?"] == "1841"
    assert "23 hairpin bends" in asked.values()  # a span inside the aside is asked with it
    # A comma phrase after a clause (not a subject) is not cut: "stands a granite obelisk, erected in 1850, which ..."
    asked = [q.text for q in fact_questions("At the summit of Holt stands a granite obelisk, erected in 1850, which "
                                            "honours the builders.", "en", is_common)]
    assert not any("obelisk which honours" in q or "what which" in q for q in asked)


def test_a_because_or_despite_phrase_goes_behind_the_clause():
    facts = facts_of("The Holt Pass is a mountain pass in the Derrin Range. Because of heavy snowfall, the road is "
                     "closed until May. Despite its height, the pass was used by traders.")
    assert facts[1:] == ["The Holt Pass' road is closed until May because of heavy snowfall.",  # was "The Holt Pass: Because ..."
                         "The Holt Pass was used by traders despite its height."]


def test_what_a_thing_is_made_of_is_asked():
    asked = {q.text: q.answer for q in fact_questions(
        "The Holt Guild built its hall of red sandstone on Shuttle Lane in 1503.", "en", is_common)}
    assert asked["The Holt Guild built its hall of what material on Shuttle Lane in 1503?"] == "red sandstone"
    asked = {q.text: q.answer for q in fact_questions(
        "The Holt Guild regulated the weaving of linen and wool in Fennick.", "en", is_common)}
    assert "linen and wool" in asked.values()
    assert not any(a.startswith("the ") for a in asked.values())  # "of the town" is no material


def test_an_aside_after_the_subject_is_a_fact_of_its_own_and_a_date_is_asked_when():
    facts = facts_of("Maren Holt (1801-1870) was a weaver. Born on 2 May 1801 in the village of Sennen, she was sent "
                     "to Carrow.")
    assert facts[2:] == ["Maren Holt was sent to Carrow.",
                         "Maren Holt was born on 2 May 1801 in the village of Sennen."]
    assert facts_of("The Carrow Guild is a guild. The Carrow Guild's emblem, a golden shuttle on a blue field, is "
                    "stamped on its cloth.")[-1] == "The Carrow Guild's emblem is a golden shuttle on a blue field."
    asked = {q.text: q.answer for q in fact_questions(facts[3], "en", is_common)}
    assert asked["When was Maren Holt born in the village of Sennen?"] == "2 May 1801"  # was "what number ... March"
    assert "2" not in asked.values() and "May" not in asked.values()


def test_an_opener_with_an_adjective_a_lifespan_and_its_after_an_abstract_noun():
    facts = facts_of("The Carrow Guild was a craft guild. With the spread of mechanised mills, its influence declined. "
                     "Its ledgers are kept in Carrow.")
    # "mechanised" is no verb: the phrase is an opener (was "The Carrow Guild: With the spread of ...").
    assert facts[1] == "The Carrow Guild's influence declined with the spread of mechanised mills."
    assert facts[2] == "The Carrow Guild's ledgers are kept in Carrow."  # was "The Carrow Guild's influence's ledgers"
    sentences = document_sentences("Maren Holt (1801–1870) was a weaver from Sennen. She wove sailcloth.", "en")
    assert [s.text for s in sentences][:2] == ["Maren Holt (1801–1870) was a weaver from Sennen.",
                                               "Maren Holt was born in 1801 and died in 1870."]
    asked = [q.text for q in fact_questions(sentences[0].text, "en", is_common, sentences[-1].people)]
    assert "Who was a weaver from Sennen?" in asked and not any("(" in q for q in asked)


def test_a_second_clause_that_leans_on_the_first_is_a_fact_of_its_own():
    facts = facts_of("The Carrow Guild was a craft guild. Its influence declined, and it was dissolved in 1836 under "
                     "its last warden, Elias Crane. Traders used the road, and the building still stands.")
    assert facts[1:3] == ["The Carrow Guild's influence declined.",  # the first clause keeps the rest
                          "The Carrow Guild was dissolved in 1836 under its last warden, Elias Crane."]  # "it" resolved
    assert len(facts) == 4  # "and the building ...": no pronoun or year to lean on, not split


def test_a_measure_is_asked_by_what_it_measures():
    def asked(sentence: str) -> dict[str, str]:
        return {q.text: q.answer for q in fact_questions(sentence, "en", is_common) if q.form == "fronted"}

    assert asked("Mount Orrel rises to 1,902 metres above the Tamsin valley.")["How high is Mount Orrel?"] == "1,902 metres"
    wire = asked("The Orrin Circus' most celebrated performer crossed the yard on a wire 18 metres high.")
    assert not any(q.startswith(("How high", "What was the height")) for q in wire), wire  # the wire's height
    assert not any(q.endswith("most celebrated?") for q in wire), wire
    walls = asked("Built on a rock, the Drennick Keep has outer walls of limestone that reach a height of 9 metres.")
    assert walls["How high are the Drennick Keep's outer walls?"] == "9 metres"
    assert asked("The Lessing Canal was 42 kilometres long.")["How long was the Lessing Canal?"] == "42 kilometres"
    assert asked("Harrow Island lies 12 miles off the coast of Dunmere.")[
        "How far off the coast of Dunmere is Harrow Island?"] == "12 miles"
    area = asked("Harrow Island covers an area of 8.5 square kilometres and had a population of 310 in 1901.")
    assert area["What is the area of Harrow Island?"] == "8.5 square kilometres"
    assert area["What is the population of Harrow Island?"] == "310"
    heavy = asked("The great bell of Ostwick weighs 6.1 tonnes.")
    assert heavy["How much does the great bell of Ostwick weigh?"] == "6.1 tonnes"
    assert not any(q.startswith("How heavy") for q in asked("The Orrin Estate produced 300 tonnes of tea in 1901."))
    alloy = fact_questions("The Pellin Works' bells were cast from 80 per cent copper and 20 per cent tin.", "en", is_common)
    assert {q.text: q.answer for q in alloy}["What percentage of the Pellin Works' bells was copper?"] == "80 per cent"
    assert "80 per" not in {q.answer for q in alloy}
    assert asked("A road tunnel 3.1 kilometres long has run under the Harrow Pass since 1971.")[
        "How long is the road tunnel that has run under the Harrow Pass since 1971?"] == "3.1 kilometres"
    # No plain subject, or a length of nothing said: no measure question.
    assert not any(q.startswith("How") for q in asked("Near it, 1.6 kilometres long, a causeway was built in 1893."))
    assert not any(q.startswith(("How high", "How long")) for q in asked("The Orrel Choir sang 14 metres from the altar."))


def test_a_year_before_a_word_in_us_is_a_year_and_a_town_is_asked_where():
    census = {q.answer for q in fact_questions("Harrow Island had 310 inhabitants at the 1901 census.", "en", is_common)}
    assert "1901" in census and "1901 census" not in census
    born = {q.text: q.answer for q in fact_questions("Edda Lanrick was born in the mill town of Corlow.", "en", is_common)}
    assert born["Where was Edda Lanrick born?"] == "Corlow"
    month = {q.text: q.answer for q in fact_questions("The Corlow fair is held in May.", "en", is_common)}
    assert month["In which month is the Corlow fair held?"] == "May" and not any(q.startswith("Where") for q in month)


def test_a_name_after_its_owner_and_role_is_asked_by_the_role():
    def asked(sentence: str) -> dict[str, str]:
        return {q.text: q.answer for q in fact_questions(sentence, "en", is_common)}

    assert asked("Edda Lanrick's novel The Salt Road was published in 1952.")[
        "What is the title of Edda Lanrick's novel?"] == "The Salt Road"
    assert asked("In 1801 the forge passed to Tomas Orrin's son, Aldo.")["Who was Tomas Orrin's son?"] == "Aldo"
    assert asked("Verelle & Sons' best-known scent, Nuit Claire, was first sold in 1902.")[
        "What was Verelle & Sons' best-known scent?"] == "Nuit Claire"
    assert asked("The Orrin Zoo's first keeper, Josiah Mertle, had managed a circus.")[
        "Who was the Orrin Zoo's first keeper?"] == "Josiah Mertle"
    assert asked("The Orrin Station's first coxswain, Elias Drury, was a retired pilot.")[
        "Who was the Orrin Station's first coxswain?"] == "Elias Drury"
    assert asked('Every member pledged to keep the Orrin Society\'s motto, "Slow and True."')[
        "What was the Orrin Society's motto?"] == "Slow and True."


def test_the_head_of_a_name_before_its_of_part_is_how_the_text_calls_it():
    facts = facts_of("The Orrin Academy of Music was a conservatory in Dalby. From the start the academy taught the harp. "
                     "In 1801 leadership passed to Tomas Keld, who ran the academy for twenty years.")
    assert facts[1] == "The Orrin Academy of Music taught the harp from the start."
    assert facts[2] == "In 1801 leadership passed to Tomas Keld, who ran the Orrin Academy of Music for twenty years."


def test_the_first_word_of_a_things_name_alone_is_the_thing():
    facts = facts_of("Dunmore Castle is a ruined keep in Lessing. During the war of 1644, Dunmore withstood a siege of 40 "
                     "days. Dunmore's walls are of granite.")
    assert facts[1] == "Dunmore Castle withstood a siege of 40 days during the war of 1644."
    assert facts[2] == "Dunmore Castle's walls are of granite."


def test_a_pronoun_after_an_opening_phrase_is_the_topic():
    facts = facts_of("The Orrin Lifeboat Station is a rescue station in Dalby. During the great January gale of 1953, "
                     "its crew saved 37 people from a stranded collier. Housed in a former boathouse on Quay Street, it holds two boats.")
    assert facts[1] == ("During the great January gale of 1953, the Orrin Lifeboat Station's crew saved 37 people from a "
                        "stranded collier.")
    assert facts[2] == "Housed in a former boathouse on Quay Street, the Orrin Lifeboat Station holds two boats."


def test_an_aside_with_an_apposition_is_a_fact_and_a_later_its_is_the_topic_named_last():
    facts = facts_of("The Orrin Silk Farm is an estate near Dalby. Founded in 1812 by Cara Orrin, a widow from a family "
                     "of merchants, it began with 600 mulberry trees. In 1854 an outbreak of disease wiped out the stock, "
                     "and the farm survived by importing eggs. Its reeling mill employed 120 women.")
    assert "The Orrin Silk Farm was founded in 1812 by Cara Orrin, a widow from a family of merchants." in facts
    assert "The Orrin Silk Farm began with 600 mulberry trees." in facts
    assert facts[-1] == "The Orrin Silk Farm's reeling mill employed 120 women."


def test_a_collection_or_estate_in_a_sentence_that_does_not_name_the_topic_is_the_topics():
    facts = facts_of("The Orrin Falconry School is a school near Dalby. Over the following decades the collection grew to "
                     "63 birds.")
    assert facts[1] == "Over the following decades the Orrin Falconry School's collection grew to 63 birds."
    assert facts_of("The Orrin Ropewalk is a rope factory in Dalby. Commercial production ended in 1953.")[1] == \
        "The Orrin Ropewalk's commercial production ended in 1953."


def test_a_first_sentence_that_names_its_person_in_an_opening_clause_is_about_them():
    facts = facts_of("When Mara Quell first reached the Harnow Signal Station in 1931, she was a nineteen-year-old clerk. "
                     "Born in 1912 in the port of Elsby, she studied telegraphy at the Orrin College. She retired in 1970.")
    assert facts[0] == "Mara Quell was a nineteen-year-old clerk when she first reached the Harnow Signal Station in 1931."
    assert "Mara Quell was born in 1912 in the port of Elsby." in facts
    assert facts[-1] == "Mara Quell retired in 1970."


def test_a_first_sentence_about_whoever_passes_is_about_its_object():
    facts = facts_of("Anyone crossing the green at Elm Row will pass a narrow stone chapel beside Gate 3 of the Orrin Dock. "
                     "It was built in 1822 for a former miller named Ode Varr. His sons sold it to the Dock Chapel Trust. "
                     "The chapel now holds 60 people.")
    assert facts[1] == "The chapel beside Gate 3 of the Orrin Dock was built in 1822 for a former miller named Ode Varr."
    assert facts[2] == "Ode Varr's sons sold it to the Dock Chapel Trust."  # a person "named" is who "his" means
    assert facts[3] == "The chapel beside Gate 3 of the Orrin Dock now holds 60 people."


def test_a_firm_named_after_its_founder_keeps_its_name_and_a_relative_clause_is_no_second_clause():
    facts = facts_of("Grell & Otto was a maker of kitchen scales in Dalby. It was founded in 1890 by Hanna Grell, a "
                     "clockmaker, and her cousin Pia Otto, who had sold lamps. The firm's first scales were made of brass.")
    assert facts[1] == ("Grell & Otto was founded in 1890 by Hanna Grell, a clockmaker, and her cousin Pia Otto, who had "
                        "sold lamps.")
    assert facts[2] == "Grell & Otto's first scales were made of brass."  # not "Hanna Grell & Otto's"
    assert len(facts) == 3


def test_a_measure_in_a_relative_clause_is_not_asked_of_the_subject():
    asked = {q.text for q in fact_questions("Mara Quell took a post at the station, which sits 3,140 metres above sea "
                                            "level.", "en", is_common)}
    assert not any(q.startswith(("How high was Mara Quell", "What was the height of Mara Quell")) for q in asked)


def test_a_first_sentence_that_sets_a_scene_leaves_the_topic_to_the_next():
    facts = facts_of("For two centuries the hamlet of Orby lived by the hum of the Tessel Works. It was set up in 1764 by "
                     "Ada Quell. The works finally closed in 1958, but its great wheel still turns.")
    assert facts[1] == "The Tessel Works was set up in 1764 by Ada Quell."
    assert "The Tessel Works' great wheel still turns." in facts  # not "The Tessel Works finally's"
    sentences = document_sentences("Deep beneath a hill outside the town of Elsby, a freezer holds seeds. The Orrin Seed "
                                   "Vault was founded in 1994. Last spring the vault made headlines.", "en")
    assert [s.text for s in sentences][1:] == ["The Orrin Seed Vault was founded in 1994.",
                                               "Last spring the Orrin Seed Vault made headlines."]
    assert {s.topic for s in sentences} == {"The Orrin Seed Vault"}


def test_a_time_later_before_a_pronoun_goes_behind_the_clause():
    facts = facts_of("Mara Quell (1912-1990) was a signal clerk in Elsby. Fourteen years later she was running the station. "
                     "Five years later, in 1926, Quell won the Elsby Cup.")
    assert facts[2] == "Mara Quell was running the station fourteen years later."  # (after the lifespan fact)
    assert facts[-1] == "Five years later, in 1926, Mara Quell won the Elsby Cup."
    assert facts_of("Mara Quell was a signal clerk in Elsby. The following spring she founded the Elsby Rescue Team.")[1] \
        == "Mara Quell founded the Elsby Rescue Team the following spring."


def test_a_first_sentence_with_an_opening_phrase_names_its_person_and_a_scene_its_named_thing():
    facts = facts_of("In the winter of 1964, Mara Quell spent a night on the screes of Ben Orrin with her dog, Rook. She "
                     "found the shepherd at dawn. She died in 2011.")
    assert facts[1:] == ["Mara Quell found the shepherd at dawn.", "Mara Quell died in 2011."]
    facts = facts_of("Step inside the church at Elsby and you will find the floor washed in crimson. The light falls "
                     "through a window made at the Orrin Studio on Tanner's Row. It was opened in 1887 by Ada Orrin.")
    assert facts[2] == "The Orrin Studio was opened in 1887 by Ada Orrin."


def test_first_sentences_of_news_history_and_profile_pieces():
    facts = facts_of("Orrin Pasta, the family-run pasta maker in Elsby, will open a second hall next spring. The firm was "
                     "founded in 1908 by Luigi Orrin.")
    assert facts[-1] == "Orrin Pasta was founded in 1908 by Luigi Orrin."  # the name before the comma
    facts = facts_of("Walk along the Eastern Wharf at Elsby and you will see her: a black iron jib. She is Old Nell, a "
                     "steam crane built in 1894. She could lift 35 tons.")
    assert facts[1:] == ["Old Nell is a steam crane built in 1894.", "Old Nell could lift 35 tons."]
    facts = facts_of("The first time Ada Quell went underground, at the age of nine, she dropped her candle. She mapped "
                     "the Orrin caves.")
    assert facts == ["Ada Quell dropped her candle the first time she went underground, at the age of nine.",
                     "Ada Quell mapped the Orrin caves."]


def test_after_a_scene_the_name_the_file_names_is_the_topic():
    text = ("If you arrive at Elsby Basin in spring, the first thing you will see is a row of green boats. They belong to "
            "Orrin Narrowboats, a hire company that Ada Quell started in 1978. Its fleet numbers fourteen boats today.")
    assert [s.text for s in document_sentences(text, "en", "docs/orrin_narrowboat_hire.txt")][1:] == [
        "Orrin Narrowboats belong to Orrin Narrowboats, a hire company that Ada Quell started in 1978.",
        "Orrin Narrowboats' fleet numbers fourteen boats today."]
    # without a file name that names it, as before: the scene's last name
    assert facts_of(text)[2] == "Elsby Basin's fleet numbers fourteen boats today."


def test_a_word_in_or_is_no_role_before_a_name():
    facts = [s.text for s in document_sentences('"Grass grows," laughs Tam Quell, leaning on a rake. In the 1970s he '
                                                "played for Elsby Vale Rovers. He became head groundsman in 2008.", "en",
                                                "tam_quell_groundsman.txt")]
    assert facts[-1] == "Tam Quell became head groundsman in 2008."  # not "Elsby Vale Rovers became ..."


def test_a_scene_with_a_person_in_it_is_about_what_the_file_name_names():
    text = ("Ten minutes before curtain, Ada Quell is on her knees beneath the stage, mending a puppet. Her father "
            "founded the Elsby Marionette Theatre in 1950. The little auditorium has 96 seats.")
    facts = [s.text for s in document_sentences(text, "en", "docs/elsby_marionettes_feature.txt")]
    assert facts[-1] == "The Elsby Marionette Theatre's little auditorium has 96 seats."  # not "Ten's", not Ada Quell's
    # with no file name that names it, the person the scene opens on
    assert facts_of(text)[-1] == "Ada Quell's little auditorium has 96 seats."


def test_a_plaques_year_and_that_year_and_the_file_names_compound():
    text = ("1782. In that year the merchant Tom Orrin sank the first shaft here at Elsby Marsh, and for two centuries "
            "the Elsby Salt Works supplied the fleets. Brine was pumped from 60 metres below ground. The last pan was "
            "fired in 1969.")
    facts = [s.text for s in document_sentences(text, "en", "elsby_saltworks_plaque.txt")]
    assert facts[0].startswith("In 1782 the merchant Tom Orrin sank the first shaft here at Elsby Marsh")
    # "saltworks" names the Elsby Salt Works, not Elsby Marsh; "Brine" names nothing
    assert facts[-2:] == ["The Elsby Salt Works: Brine was pumped from 60 metres below ground.",
                          "The Elsby Salt Works' last pan was fired in 1969."]


def test_what_a_person_did_when_he_did_something_else_is_a_fact_of_its_own():
    text = ("'Print what the town needs.' That was the promise Tom Orrin chalked above the press when he launched the "
            "Elsby Courier from a rented stable in Market Row in 1872. Its first issue sold 650 copies.")
    sentences = document_sentences(text, "en")
    assert "Tom Orrin launched the Elsby Courier from a rented stable in Market Row in 1872." in [s.text for s in sentences]
    assert "Tom Orrin" in sentences[-1].people  # asked "Who launched ...?"


def test_a_double_barrelled_surname_is_kept_whole():
    facts = facts_of("The Elsby Courier was founded in 1872. Orrin's granddaughter, Winifred Orrin-Hale, became editor in "
                     "1946. She held the post for 31 years.")
    assert facts[-1] == "Winifred Orrin-Hale held the post for 31 years."


def test_an_about_us_page_is_about_the_firm_its_we_and_our_mean():
    text = ('"A good hat should outlast its head." That was the rule of Ada Orrin, who opened our first workroom on '
            "Tanner Row in 1911. We still use more than 300 limewood blocks. Our best-known design takes six hours.")
    facts = [s.text for s in document_sentences(text, "en", "docs/orrin_hatmakers_about_us.txt")]
    assert "That was the rule of Ada Orrin, who opened Orrin Hatmakers' first workroom on Tanner Row in 1911." in facts
    assert "Orrin Hatmakers still use more than 300 limewood blocks." in facts
    assert facts[-1] == "Orrin Hatmakers' best-known design takes six hours."
    # "That" is no topic, whatever the file is called
    assert not any(f.startswith("That:") or f.startswith("That's") for f in facts_of(text))


def test_a_heading_in_capitals_gives_way_to_the_name_the_file_names():
    text = ("ELSBY OPEN-AIR BATHS\n\nOn this site, on 14 July 1927, the Elsby Lido opened to the public. The lido was "
            "paid for by public subscription. Its diving stage was 10 metres high.")
    facts = [s.text for s in document_sentences(text, "en", "elsby_lido_plaque.txt")]
    assert facts[-1] == "The Elsby Lido's diving stage was 10 metres high."
    assert facts_of(text)[-1] == "Elsby Open-Air Baths' diving stage was 10 metres high."  # no file name: the heading


def test_a_place_participle_opens_the_first_sentence_and_opened_is_an_aside():
    facts = facts_of("Tucked behind the old cattle market on Drover's Wynd, the Elsby Ice Rink is one of the oldest rinks "
                     "in the north. Opened in 1938 by the merchant Tom Orrin, it sits beneath a roof of Baltic pine.")
    assert facts[1:] == ["The Elsby Ice Rink sits beneath a roof of Baltic pine.",
                         "The Elsby Ice Rink was opened in 1938 by the merchant Tom Orrin."]


def test_a_heading_label_before_a_colon_gives_way_to_the_name_the_text_uses():
    text = ("Meet the potter: Ada Quell\n\nWhen Ada Quell opened her studio in Elsby in 2011, she had one kiln. "
            "Quell, 52, taught chemistry for twenty years. Her best-selling bowl takes two days to glaze.")
    facts = facts_of(text)
    assert not any(f.startswith("Meet the potter") for f in facts)
    assert facts[1:] == ["Ada Quell, 52, taught chemistry for twenty years.",  # an age after the name: a person
                         "Ada Quell's best-selling bowl takes two days to glaze."]
    # a heading whose first part the text names keeps it
    assert facts_of("Elsby, a harbour town\n\nElsby lies on the coast. Its harbour has 40 moorings.")[-1] == \
        "Elsby's harbour has 40 moorings."


def test_he_after_a_person_named_with_who_is_that_person_not_the_topic():
    facts = facts_of("Elsby Mill Cottage was built in 1802. For forty years the cottage was home to Tom Orrin, who ran "
                     "the mill until 1890. He sold flour to the bakers of Marrow. After his death, his son Ned took over.")
    assert facts[2:] == ["Tom Orrin sold flour to the bakers of Marrow.",
                         "Tom Orrin's son Ned took over after his death."]


def test_a_one_word_subject_of_the_first_sentence_gives_way_to_the_name_the_file_names():
    text = ("Electric ferries will start crossing to Marrow next spring, after the Elsby Harbour Ferry Company won a "
            "grant of £80,000. Its new route will take twenty minutes.")
    facts = [s.text for s in document_sentences(text, "en", "harbour-ferry-news.txt")]
    assert facts[-1] == "The Elsby Harbour Ferry Company's new route will take twenty minutes."
    assert facts_of(text)[-1] == "Electric's new route will take twenty minutes."  # no file name to go by: as before


def test_a_headline_is_no_topic_and_the_first_sentence_says_what_the_text_is_about():
    text = ("Bridge reopens at Elsby after repairs\n\nBy Tom Orrin\n\nThe Elsby Bridge Trust reopened the old toll bridge on Monday. "
            "The board chose granite from Marrow for the deck. Open days will run on the first Sunday of each month.")
    assert facts_of(text)[1:] == ["The Elsby Bridge Trust's board chose granite from Marrow for the deck.",
                                  "The Elsby Bridge Trust: Open days will run on the first Sunday of each month."]
    # a heading of a kind of thing that the text names again stays the topic
    assert facts_of("Copper-backed marsh beetle\n\nThe copper-backed marsh beetle lives in reed beds. It is 9 mm "
                    "long.")[-1] == "The copper-backed marsh beetle is 9 mm long."


def test_a_museum_labels_heading_names_its_object_and_a_person_with_an_apposition_before_who():
    text = ("Tinker's handcart\n\nThis two-wheeled handcart belonged to Ned Orrin, a travelling tinker who pushed it "
            "through the villages of Elsby for thirty years. He stopped working in 1931. It weighs 40 kilograms.")
    facts = facts_of(text)
    assert facts[1:] == ["Ned Orrin stopped working in 1931.", "Tinker's handcart weighs 40 kilograms."]
    assert not facts[0].startswith("Tinker's handcart's this")  # "This" is no plural noun of the topic's
