"""Offline language detection: langdetect plus the short-text and hint rules."""

from __future__ import annotations

import pytest

from servicepulse.insights.language import NO_LINGUISTIC_CONTENT, detect_language


@pytest.mark.parametrize(("text", "expected"), [
    ("I was charged twice for my subscription and nobody answers my emails", "en"),
    ("Mi pedido no ha llegado todavía, ¿pueden ayudarme?", "es"),
    ("Mein Paket ist nicht angekommen, das ist schlecht.", "de"),
    ("Merci beaucoup pour votre aide, vous êtes formidables", "fr"),
    ("Il prodotto è arrivato rotto e nessuno risponde", "it"),
])
def test_sentences_in_their_language(text: str, expected: str) -> None:
    assert detect_language(text) == expected


@pytest.mark.parametrize("text", ["ok", "bad", "Password reset link not working",
                                  "login fails", "refund please"])
def test_short_english_texts_are_english(text: str) -> None:
    # langdetect alone says "ok" is Slovak, "bad" Somali and the password text Afrikaans;
    # the short-text rule keeps them English.
    assert detect_language(text) == "en"


@pytest.mark.parametrize(("text", "expected"), [
    ("je suis pas content", "fr"),  # short, but French function words veto the English rule
    ("Ik wil mijn geld terug", "nl"),
])
def test_short_foreign_texts_stay_foreign(text: str, expected: str) -> None:
    assert detect_language(text) == expected


def test_texts_without_words_have_no_language() -> None:
    assert detect_language("👍") == NO_LINGUISTIC_CONTENT
    assert detect_language(":) 123") == NO_LINGUISTIC_CONTENT


def test_the_interactions_language_wins() -> None:
    assert detect_language("Thank you so much, great help", hint="de-AT") == "de"
    assert detect_language("Danke", hint="en_GB") == "en"


def test_detection_is_deterministic() -> None:
    text = "Necesito ayuda con mi pedido"
    assert {detect_language(text) for _ in range(5)} == {"es"}


def test_plainly_english_texts_skip_langdetect(monkeypatch: pytest.MonkeyPatch) -> None:
    from servicepulse.insights import language

    def no_langdetect() -> None:
        raise AssertionError("langdetect was asked")

    monkeypatch.setattr(language, "_factory", no_langdetect)
    # 4 English stop words (i, a, for, the) of 9 words: plainly English.
    assert detect_language("I want a refund for the jacket, order 4412") == "en"
    # A foreign function word ("und") vetoes the fast path: langdetect is asked.
    with pytest.raises(AssertionError, match="langdetect was asked"):
        detect_language("the parcel and the invoice und the refund")
