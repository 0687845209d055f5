"""Topic discovery for contact drivers: scikit-learn TF-IDF + NMF, deterministic.

Each contact's text (its subject and first customer message) becomes a TF-IDF vector (English
stop words removed, words and two-word phrases, numbers dropped so order numbers do not make
topics). Non-negative matrix factorisation splits the matrix into `k` topics; a contact belongs
to the topic with the largest weight (none if it has no known word). The number of topics,
when not given, is the most stable k in [3, min(max_topics, texts / 30)] (2 only when nothing
larger fits): the one whose grouping changes least when the model is refitted on random
subsamples (near-ties within 0.02: the larger k).
A topic's label is its most characteristic terms (used by many of its contacts and few
others), with a phrase shown instead of the single words it contains.
"""

from __future__ import annotations

import itertools
import re
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

RANDOM_STATE = 0  # NMF's initialisation and the silhouette sample: the same input, same topics
# Topics tried hold this many texts on average at least: the KPI minimum sample (DESIGN §3),
# so a topic is big enough for its KPIs to be judged, and a reason is not split by wording.
MIN_DOCUMENTS_PER_TOPIC = 30
FIT_SAMPLE = 20000  # texts the model is fitted on; every text is then assigned
STABILITY_RUNS = 4
STABILITY_TOLERANCE = 0.02
LABEL_TERMS = 3
TOPIC_TERMS = 8
UNASSIGNED = -1
MAX_DOCUMENT_SHARE = 0.5
_WORD = re.compile(r"\b[^\W\d_][^\W\d_]+\b")  # words of 2+ letters, no numbers
_CLAUSE_BREAK = re.compile(r"[.,;:!?()\[\]\n\r\t\"]+")
# Greetings and courtesy words customers put in every message: they never tell a reason apart.
COURTESY_WORDS = frozenset(
    ["hello", "hi", "hey", "dear", "thanks", "thank", "please", "pls", "regards", "kind",
     "team", "support", "good", "morning", "afternoon", "evening", "asap", "cheers"]
)


@dataclass(frozen=True)
class Topic:
    index: int
    label: str
    terms: list[str]


@dataclass(frozen=True)
class TopicModel:
    topics: list[Topic]
    assignments: NDArray[np.int64]  # per document: topic index, or UNASSIGNED
    stability: float | None  # of the chosen k (None when k was given or could not be judged)


def _readable_terms(ranked: Sequence[str], count: int) -> list[str]:
    """The top `count` terms, skipping a term whose words are all shown already
    ("refund request" after "refund" and "request")."""
    chosen: list[str] = []
    shown: set[str] = set()
    for term in ranked:
        words = set(term.split())
        if words <= shown:
            continue
        chosen.append(term)
        shown |= words
        if len(chosen) == count:
            break
    return chosen


class _Analyzer:
    """Words (2+ letters, no numbers, no stop words) and two-word phrases, phrases only
    within a clause: "no update. Order 1234" must not make the phrase "update order"."""

    def __init__(self, stop_words: frozenset[str]):
        self.stop_words = set(stop_words)

    def clauses(self, text: str) -> list[list[str]]:
        return [[word for word in _WORD.findall(clause) if word not in self.stop_words]
                for clause in _CLAUSE_BREAK.split(text.lower())]

    def drop_ubiquitous(self, texts: Sequence[str], share: float) -> None:
        """Words in more than `share` of the texts tell no reason apart ("order", "issue"):
        they become stop words, so they make no phrases either."""
        counts: Counter[str] = Counter()
        for text in texts:
            counts.update({word for clause in self.clauses(text) for word in clause})
        self.stop_words |= {word for word, n in counts.items() if n > share * len(texts)}

    def __call__(self, text: str) -> list[str]:
        features: list[str] = []
        for words in self.clauses(text):
            features += words
            features += [f"{first} {second}" for first, second in itertools.pairwise(words)]
        return features


def discover_topics(
    texts: Sequence[str],
    n_topics: int | None = None,
    max_topics: int = 12,
) -> TopicModel:
    """Topics of `texts`; `n_topics` fixed, or chosen by stability up to `max_topics`."""
    from sklearn.decomposition import NMF
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer
    from sklearn.metrics import adjusted_rand_score

    documents = len(texts)
    if n_topics is not None and n_topics < 1:
        raise ValueError(f"topics: {n_topics} is not a number of topics; give 1 or more")
    if max_topics < 1:
        raise ValueError(f"max_topics: {max_topics}; give 1 or more")
    analyzer = _Analyzer(ENGLISH_STOP_WORDS | COURTESY_WORDS)
    if documents >= 20:
        analyzer.drop_ubiquitous(texts, MAX_DOCUMENT_SHARE)
    vectorizer = TfidfVectorizer(
        analyzer=analyzer,
        min_df=2 if documents >= 20 else 1,
        sublinear_tf=True,
    )
    try:
        matrix = vectorizer.fit_transform(texts)
    except ValueError:  # no document has a usable word
        return TopicModel([], np.full(documents, UNASSIGNED, dtype=np.int64), None)
    vocabulary = vectorizer.get_feature_names_out()
    rng = np.random.default_rng(RANDOM_STATE)
    # The model is fitted on a sample at most FIT_SAMPLE large, then applied to every text.
    sample = (np.sort(rng.choice(documents, FIT_SAMPLE, replace=False))
              if documents > FIT_SAMPLE else np.arange(documents))
    fitted = matrix[sample]

    def fit(k: int, rows: Any) -> tuple[Any, NDArray[np.float64]]:
        model = NMF(n_components=k, init="nndsvda", random_state=RANDOM_STATE, max_iter=500)
        with warnings.catch_warnings():
            # an unconverged fit of a wrong k is expected while k is being chosen
            warnings.simplefilter("ignore", ConvergenceWarning)
            return model, model.fit_transform(rows)

    def assign(weights: NDArray[np.float64]) -> NDArray[np.int64]:
        labels = weights.argmax(axis=1).astype(np.int64)
        labels[weights.max(axis=1) <= 0] = UNASSIGNED
        return labels

    stability: float | None = None
    if n_topics is not None:
        model, weights = fit(max(1, min(n_topics, len(vocabulary), documents)), fitted)
    else:
        limit = max(1, min(max_topics, len(sample) // MIN_DOCUMENTS_PER_TOPIC, len(vocabulary)))
        # Stability (after Greene, O'Callaghan & Cunningham 2014, "How many topics?"): a k
        # that matches real structure gives the same grouping when the model is refitted on
        # random 80% subsamples; a k too large or too small splits or merges reasons
        # arbitrarily. Agreement is the adjusted Rand index; ties go to the larger k.
        subsamples = [np.sort(rng.choice(len(sample), int(0.8 * len(sample)), replace=False))
                      for _ in range(STABILITY_RUNS)]
        best: tuple[float, Any, NDArray[np.float64]] | None = None
        # k = 2 only when nothing larger fits: splitting off the single most distinct group
        # is stable almost always (a known weakness of stability at k = 2) and tells little.
        for k in range(3 if limit >= 3 else 2, limit + 1):
            model, weights = fit(k, fitted)
            labels = assign(weights)
            agreement = float(np.mean([
                adjusted_rand_score(labels[rows], assign(fit(k, fitted[rows])[1]))
                for rows in subsamples
            ]))
            # near-ties (within STABILITY_TOLERANCE) go to the larger k: finer reasons
            if best is None or agreement >= best[0] - STABILITY_TOLERANCE:
                if best is not None and agreement < best[0]:
                    agreement = best[0]  # keep the level to beat; take the finer model
                best = (agreement, model, weights)
        if best is None:  # too few documents to split: one topic
            model, weights = fit(1, fitted)
        else:
            stability, model, weights = best
    # Texts outside the fitted sample are placed by the fitted model.
    if len(sample) == documents:
        labels = assign(weights)
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            labels = assign(model.transform(matrix))
    # Terms that characterise a topic's contacts: the share of its contacts using the term
    # minus the share of the other contacts using it (the NMF weights favour rare phrases;
    # this favours the words most of the topic's contacts actually use).
    used = (matrix > 0).astype(np.float64).tocsc()
    topics = []
    for index, component in enumerate(model.components_):
        members = labels == index
        inside = np.asarray(used[members].mean(axis=0)).ravel() if members.any() else component
        outside = (np.asarray(used[~members].mean(axis=0)).ravel() if (~members).any()
                   else np.zeros_like(inside))
        distinct = inside - outside
        order = np.lexsort((-component, -distinct))[: TOPIC_TERMS * 3]
        ranked = [str(vocabulary[j]) for j in order if distinct[j] > 0]
        terms = _readable_terms(ranked, TOPIC_TERMS)
        topics.append(Topic(index, " / ".join(terms[:LABEL_TERMS]) or f"topic {index + 1}",
                            terms))
    return TopicModel(topics, labels, stability)
