"""What a question asks for (rag.qtype): pure functions, no model."""

from __future__ import annotations

import pytest

from rag.qtype import asks_definition, expected_type, holds, name_groups, which_head

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(("question", "kind"), [
    ("How much did eBay pay to buy Skype?", "money"),
    ("How many jobs is General Motors cutting?", "count"),
    ("By what percentage did Nvidia's shares fall?", "percent"),
    ("When did Nvidia lose $589 billion?", "date"),
    ("Who criticised the plans?", "person"),
    ("Which Japanese businessman was arrested?", "person"),
    ("Which three Aer Lingus executives were set to leave?", "person"),
    ("What did Tessa Jowell say the bill would ban?", "quote"),
    ("What is the name of Asahi's new drink?", "naming"),
    ("Which two cities will the bus link?", "name"),
    ("Where will Hyundai build its plant?", "place"),
    ("Why was the model so cheap to build?", "reason"),
    ("What kind of company is ASML?", None),
])
def test_expected_type(question, kind):
    assert expected_type(question) == kind


def test_which_head_skips_numbers_and_stops_at_the_verb():
    assert which_head("Which three Aer Lingus executives were set to leave?") == "executives"
    assert which_head("Which UKIP MEP suggested that ...") == "mep"


@pytest.mark.parametrize(("kind", "sentence", "question", "expected"), [
    ("person", "A UK Independence Party MEP suggested Germany saw the EU as an empire.",
     "Which UKIP MEP suggested that Germany saw the EU as an empire?", False),
    ("person", "Pointing to Germany's trade interests, Mr Nattrass said the EU was cheaper.",
     "Which UKIP MEP suggested that Germany saw the EU as an empire?", True),
    ("person", "The top civil servant at the centre of the David Blunkett visa affair was knighted.",
     "Which permanent secretary at the centre of the Blunkett visa affair was knighted?", False),
    ("money", "Almost 83 million people have downloaded the software.", "How much did eBay pay for Skype?", False),
    ("money", "She is seeking $25m in damages.", "How much is Marion Jones seeking?", True),
    ("count", "It is cutting 12,000 jobs in Europe.", "How many jobs is GM cutting?", True),
    ("count", "Profits fell 37% in 2004.", "How many jobs is GM cutting?", False),
    ("count", "Five admitted it had sent out 55,000 promotion packs.", "How many CSI:NY promotion packs did Five "
     "send out?", True),  # the thing counted is any word of the noun phrase, not only its first
    ("count", "Five was contacted by the ASA in 2004.", "How many CSI:NY promotion packs did Five send out?", False),
    ("naming", 'The chosen name, "Shinnama", disguises its nature.', "What is the name of the drink?", True),
    ("naming", 'The market for so-called "beer-like" drinks will grow.', "What is the name of the drink?", False),
    ("place", "The new plant will be built close to the existing one in Chennai.",
     "Where will Hyundai build its second plant in India?", True),
    ("place", "Hyundai plans to build a second plant in India.", "Where will Hyundai build its plant in India?", False),
])
def test_holds(kind, sentence, question, expected):
    assert holds(kind, sentence, question) is expected


def test_names_split_at_possessives_and_include_camel_case():
    assert name_groups("How much does Apple's iPod nano cost?") == [{"appl"}, {"ipod"}]
    assert asks_definition("What kind of company is DeepSeek?") and not asks_definition("Why is it cheap?")
