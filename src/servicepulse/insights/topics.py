"""Topic discovery for contact drivers: scikit-learn TF-IDF + NMF, deterministic.

Each contact's text (its subject and first customer message) becomes a TF-IDF vector (English
stop words removed, words and two-word phrases, numbers dropped so order numbers do not make
topics). Non-negative matrix factorisation splits the matrix into `k` topics; a contact belongs
to the topic with the largest weight (none if it has no known word). The number of topics,
when not given, is the most stable k in [2, max_topics]: the one whose grouping changes least
when the model is refitted on random subsamples. A topic's label is its
top terms, with a phrase shown instead of the single words it contains.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

RANDOM_STATE = 0  # NMF's initialisation and the silhouette sample: the same input, same topics
MIN_DOCUMENTS_PER_TOPIC = 10
FIT_SAMPLE = 20000  # texts the model is fitted on; every text is then assigned
STABILITY_RUNS = 4
LABEL_TERMS = 3
TOPIC_TERMS = 8
UNASSIGNED = -1
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
    """The top `count` terms, skipping a word already shown inside a phrase and vice versa."""
    chosen: list[str] = []
    for term in ranked:
        words = set(term.split())
        if any(words <= set(other.split()) for other in chosen):
            continue  # "refund" after "refund request": nothing new
        # "refund request" after "refund": replace the word by the more telling phrase
        chosen = [other for other in chosen if not set(other.split()) <= words]
        chosen.append(term)
        if len(chosen) == count:
            break
    return chosen


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
    vectorizer = TfidfVectorizer(
        stop_words=sorted(ENGLISH_STOP_WORDS | COURTESY_WORDS),
        ngram_range=(1, 2),
        min_df=2 if documents >= 20 else 1,
        max_df=0.5 if documents >= 20 else 1.0,
        sublinear_tf=True,
        token_pattern=r"(?u)\b[^\W\d_][^\W\d_]+\b",  # words of 2+ letters, no numbers
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
        for k in range(2, limit + 1):
            model, weights = fit(k, fitted)
            labels = assign(weights)
            agreement = float(np.mean([
                adjusted_rand_score(labels[rows], assign(fit(k, fitted[rows])[1]))
                for rows in subsamples
            ]))
            if best is None or agreement >= best[0]:
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
    topics = []
    for index, component in enumerate(model.components_):
        order = np.argsort(component)[::-1][: TOPIC_TERMS * 3]
        ranked = [str(vocabulary[j]) for j in order if component[j] > 0]
        terms = _readable_terms(ranked, TOPIC_TERMS)
        topics.append(Topic(index, " / ".join(terms[:LABEL_TERMS]) or f"topic {index + 1}",
                            terms))
    return TopicModel(topics, labels, stability)
