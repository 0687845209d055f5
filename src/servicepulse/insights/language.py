"""Offline language identification for customer texts (langdetect, seeded: deterministic).

langdetect's character n-gram model needs a few words of evidence: on a one- or two-word
message it guesses wildly ("ok" comes out Slovak, "bad" Somali, "Password reset link not
working" Afrikaans). So the rules, in order:
1. the interaction's own `language` field, when the source gave one, is trusted;
2. a text without letters (emoji, emoticons, numbers) has no language ("zxx", ISO 639-2 "no
   linguistic content"): VADER still reads emoji and emoticons, so it is scored;
3. a text that is plainly English (at least three English stop words making up at least 20%
   of its words, plain ASCII, no function word of another language) is English without
   running langdetect, which costs milliseconds a text;
4. otherwise langdetect's most probable language;
5. except that a short text (at most `SHORT_TEXT_WORDS` words) written in plain ASCII letters
   that contains an English word (scikit-learn's English stop words or a VADER lexicon entry)
   and none of the most frequent function words of the other common customer languages is
   taken as English, which is what such texts almost always are in practice.
"""

from __future__ import annotations

import re
from functools import cache

from langdetect.detector_factory import PROFILES_DIRECTORY, DetectorFactory
from langdetect.lang_detect_exception import LangDetectException

SEED = 0  # langdetect samples n-grams at random: a fixed seed makes results repeatable
SHORT_TEXT_WORDS = 5
NO_LINGUISTIC_CONTENT = "zxx"

_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
# Frequent function words of other common customer languages that are not English words
# ("no" and "as" are, so they are left out): one of them in a short text vetoes rules 3 and 5.
_FUNCTION_WORDS_BY_LANGUAGE = {
    "es": "el la los las un una unos y o que de del con por para mi mis tu su es ha muy pero",
    "fr": "le les des du et est je suis pas une au aux ce cette il elle nous vous avec pour mon",
    "de": "der die das und ist nicht ich ein eine mit fur für zu bitte danke mein meine kein",
    "nl": "het een ik wil niet mijn geen van voor dank",
    "it": "il lo gli che di per non sono mio mia grazie",
    "pt": "os um uma com não nao meu minha obrigado obrigada",
}
_FOREIGN_FUNCTION_WORDS = frozenset(
    word for words in _FUNCTION_WORDS_BY_LANGUAGE.values() for word in words.split()
)


@cache
def _factory() -> DetectorFactory:
    factory = DetectorFactory()
    factory.load_profile(PROFILES_DIRECTORY)
    factory.set_seed(SEED)
    return factory


@cache
def _english_words() -> frozenset[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    lexicon = SentimentIntensityAnalyzer().lexicon
    return frozenset(ENGLISH_STOP_WORDS) | frozenset(w for w in lexicon if w.isalpha())


def primary_subtag(tag: str) -> str:
    """"en-GB" -> "en", "pt_BR" -> "pt": VADER only cares about the language itself."""
    return re.split(r"[-_]", tag.strip(), maxsplit=1)[0].lower()


@cache
def _english_stop_words() -> frozenset[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(ENGLISH_STOP_WORDS)


def _plainly_english(words: list[str]) -> bool:
    """Fast path: most customer messages are plainly English ("I", "my", "the", "is", ...),
    and langdetect costs milliseconds a text. At least three English stop words making up at
    least 20% of the words, no other letters than ASCII, and no function word of another
    language: English without asking langdetect."""
    stop_words = _english_stop_words()
    english = sum(1 for word in words if word in stop_words)
    return (english >= 3 and english >= 0.2 * len(words)
            and all(word.isascii() for word in words)
            and not any(word in _FOREIGN_FUNCTION_WORDS for word in words))


def detect_language(text: str, hint: str | None = None) -> str | None:
    """The ISO 639-1 code of `text` (see the module doc for the rules); None if undetermined."""
    if hint and hint.strip():
        return primary_subtag(hint)
    words = _WORD.findall(text.lower())
    if not words:
        return NO_LINGUISTIC_CONTENT
    if _plainly_english(words):
        return "en"
    detector = _factory().create()
    detector.append(text)
    try:
        detected: str = detector.detect()
    except LangDetectException:
        return None
    detected = primary_subtag(detected)
    if detected == "en":
        return detected
    if (
        len(words) <= SHORT_TEXT_WORDS
        and all(word.isascii() for word in words)
        and any(word in _english_words() for word in words)
        and not any(word in _FOREIGN_FUNCTION_WORDS for word in words)
    ):
        return "en"
    return detected
