"""Topic discovery for contact drivers, deterministic: TF-IDF + NMF, or sentence embeddings.

Each contact's text (its subject and first customer message) becomes a TF-IDF vector (English
stop words removed, words and two-word phrases, numbers dropped so order numbers do not make
topics).
- method "nmf" (default): non-negative matrix factorisation splits the matrix into `k` topics;
  a contact belongs to the topic with the largest weight (none if it has no known word). The
  number of topics, when not given, is the most stable k in [3, min(max_topics, texts / 30)]
  (2 only when nothing larger fits): the one whose grouping changes least when the model is
  refitted on random subsamples (near-ties within 0.02: the larger k). k is judged on at most
  SELECTION_SAMPLE texts, all fits of one matrix starting from one truncated SVD.
- method "embeddings": sentence vectors of the packaged all-MiniLM-L6-v2
  (`servicepulse.insights.embeddings`) of at most EMBEDDING_SAMPLE texts, clustered by k-means;
  k, when not given, has the best mean cosine silhouette; the other texts join the topic with
  the most similar mean TF-IDF vector.
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
# Topics tried hold this many texts on average at least: the KPI minimum sample (docs/kpis.md),
# so a topic is big enough for its KPIs to be judged, and a reason is not split by wording.
MIN_DOCUMENTS_PER_TOPIC = 30
FIT_SAMPLE = 20000  # texts the model is fitted on; every text is then assigned
SELECTION_SAMPLE = 4000  # texts (of the fitted sample) the number of topics is judged on
EMBEDDING_SAMPLE = 2000  # texts embedded and clustered; the rest join the nearest topic
KMEANS_RUNS = 4  # k-means starts per fit (the best is kept)
METHODS = ("nmf", "embeddings")
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


def _vectorize(texts: Sequence[str]) -> tuple[Any, NDArray[Any]] | None:
    """TF-IDF matrix and vocabulary of `texts`; None when no text has a usable word."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer

    documents = len(texts)
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
        return None
    return matrix, vectorizer.get_feature_names_out()


def _describe(matrix: Any, vocabulary: NDArray[Any], labels: NDArray[np.int64],
              weights: NDArray[np.float64]) -> list[Topic]:
    """A label and terms per topic. Terms that characterise a topic's contacts: the share of
    its contacts using the term minus the share of the other contacts using it (NMF's
    weights favour rare phrases; this favours the words most of the topic's contacts
    actually use). `weights` (topics x terms: NMF's components, or the members' mean TF-IDF)
    break ties and stand in for a topic without members."""
    used = (matrix > 0).astype(np.float64).tocsc()
    topics = []
    for index, component in enumerate(weights):
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
    return topics


def _candidates(rows: int, max_topics: int, *limits: int) -> list[int]:
    """Numbers of topics tried: 3 up to the limit (2 only when nothing larger fits; none
    when the rows are too few to split)."""
    limit = max(1, min(max_topics, rows // MIN_DOCUMENTS_PER_TOPIC, *limits))
    # k = 2 only when nothing larger fits: splitting off the single most distinct group
    # is stable almost always (a known weakness of stability at k = 2) and tells little.
    return list(range(3 if limit >= 3 else 2, limit + 1))


def _most_stable(candidates: list[int], agreements: list[float]) -> tuple[int, float] | None:
    """The k with the highest agreement; near-ties (within STABILITY_TOLERANCE) go to the
    larger k (finer reasons) while keeping the level to beat."""
    best: tuple[int, float] | None = None
    for k, agreement in zip(candidates, agreements, strict=True):
        if best is None or agreement >= best[1] - STABILITY_TOLERANCE:
            best = (k, max(agreement, best[1]) if best is not None else agreement)
    return best


def _nndsvda(matrix: Any, svd: tuple[NDArray[np.float64], NDArray[np.float64],
                                     NDArray[np.float64]],
             k: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """NNDSVDa start for an NMF with `k` topics (Boutsidis & Gallopoulos 2008), from the
    leading singular triplets of `matrix`: each triplet's larger sign-part (positive or
    negative), scaled; zeros then filled with the matrix mean. scikit-learn's
    init="nndsvda" computes the same from an SVD of exactly k triplets; one SVD for the
    largest k serves every smaller k here."""
    u, s, vt = svd
    rows, columns = matrix.shape
    w = np.zeros((rows, k))
    h = np.zeros((k, columns))
    w[:, 0] = np.sqrt(s[0]) * np.abs(u[:, 0])
    h[0, :] = np.sqrt(s[0]) * np.abs(vt[0, :])
    for j in range(1, k):
        x, y = u[:, j], vt[j, :]
        parts = []
        for sign in (1.0, -1.0):
            xs, ys = np.maximum(sign * x, 0.0), np.maximum(sign * y, 0.0)
            xn, yn = float(np.linalg.norm(xs)), float(np.linalg.norm(ys))
            parts.append((xn * yn, xs, ys, xn, yn))
        sigma, xs, ys, xn, yn = parts[0] if parts[0][0] > parts[1][0] else parts[1]
        scale = np.sqrt(s[j] * sigma)
        if xn > 0 and yn > 0:
            w[:, j] = scale * xs / xn
            h[j, :] = scale * ys / yn
    w[w < 1e-6] = 0.0
    h[h < 1e-6] = 0.0
    mean = float(matrix.sum()) / (rows * columns)
    w[w == 0] = mean
    h[h == 0] = mean
    return w, h


def _assign(weights: NDArray[np.float64]) -> NDArray[np.int64]:
    labels = weights.argmax(axis=1).astype(np.int64)
    labels[weights.max(axis=1) <= 0] = UNASSIGNED
    return labels


def _nmf_topics(matrix: Any, vocabulary: NDArray[Any], n_topics: int | None,
                max_topics: int) -> TopicModel:
    from sklearn.decomposition import NMF
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.metrics import adjusted_rand_score
    from sklearn.utils.extmath import randomized_svd

    documents = matrix.shape[0]
    rng = np.random.default_rng(RANDOM_STATE)
    # The model is fitted on a sample at most FIT_SAMPLE large, then applied to every text.
    sample = (np.sort(rng.choice(documents, FIT_SAMPLE, replace=False))
              if documents > FIT_SAMPLE else np.arange(documents))
    fitted = matrix[sample]

    def fit(k: int, rows: Any, start: tuple[NDArray[np.float64], NDArray[np.float64]] | None
            = None) -> tuple[Any, NDArray[np.float64]]:
        model = NMF(n_components=k, init="custom" if start else "nndsvda",
                    random_state=RANDOM_STATE, max_iter=500)
        with warnings.catch_warnings():
            # an unconverged fit of a wrong k is expected while k is being chosen
            warnings.simplefilter("ignore", ConvergenceWarning)
            if start:
                return model, model.fit_transform(rows, W=start[0], H=start[1])
            return model, model.fit_transform(rows)

    stability: float | None = None
    if n_topics is not None:
        model, weights = fit(max(1, min(n_topics, len(vocabulary), documents)), fitted)
    else:
        # Stability (after Greene, O'Callaghan & Cunningham 2014, "How many topics?"): a k
        # that matches real structure gives the same grouping when the model is refitted on
        # random 80% subsamples; a k too large or too small splits or merges reasons
        # arbitrarily. Agreement is the adjusted Rand index; ties go to the larger k.
        # k is judged on at most SELECTION_SAMPLE texts of the fitted sample.
        chosen = (np.sort(rng.choice(len(sample), SELECTION_SAMPLE, replace=False))
                  if len(sample) > SELECTION_SAMPLE else np.arange(len(sample)))
        judged = fitted[chosen]
        candidates = _candidates(len(chosen), max_topics, len(vocabulary))
        subsample_indices = [np.sort(rng.choice(len(chosen), int(0.8 * len(chosen)),
                                                replace=False))
                             for _ in range(STABILITY_RUNS)]
        subsamples = [judged[rows] for rows in subsample_indices]
        agreements: list[float] = []
        if candidates:
            # One truncated SVD per matrix for the largest k; each k's start is cut from it.
            largest = candidates[-1]
            svds = [randomized_svd(rows, largest, random_state=RANDOM_STATE)
                    for rows in [judged, *subsamples]]
            for k in candidates:
                labels = _assign(fit(k, judged, _nndsvda(judged, svds[0], k))[1])
                agreements.append(float(np.mean([
                    adjusted_rand_score(labels[rows],
                                        _assign(fit(k, sub, _nndsvda(sub, svd, k))[1]))
                    for rows, sub, svd in zip(subsample_indices, subsamples, svds[1:],
                                              strict=True)
                ])))
        best = _most_stable(candidates, agreements)
        if best is None:  # too few documents to split: one topic
            model, weights = fit(1, fitted)
        else:
            # the chosen k is fitted as a fixed k would be (scikit-learn's own start)
            k, stability = best
            model, weights = fit(k, fitted)
    # Texts outside the fitted sample are placed by the fitted model.
    if len(sample) == documents:
        labels = _assign(weights)
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            labels = _assign(model.transform(matrix))
    return TopicModel(_describe(matrix, vocabulary, labels, model.components_), labels,
                      stability)


def _embedding_topics(texts: Sequence[str], matrix: Any, vocabulary: NDArray[Any],
                      n_topics: int | None, max_topics: int) -> TopicModel:
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score, silhouette_score

    from servicepulse.insights.embeddings import embed_texts

    documents = matrix.shape[0]
    labels = np.full(documents, UNASSIGNED, dtype=np.int64)
    # Only texts with a usable word get a topic, as with NMF: a topic is described by words.
    described = np.flatnonzero(matrix.getnnz(axis=1) > 0)
    rng = np.random.default_rng(RANDOM_STATE)
    embedded = (np.sort(rng.choice(described, EMBEDDING_SAMPLE, replace=False))
                if len(described) > EMBEDDING_SAMPLE else described)
    vectors = embed_texts([texts[int(row)] for row in embedded]).astype(np.float64)

    def cluster(k: int, rows: NDArray[np.float64]) -> NDArray[np.int64]:
        model = KMeans(n_clusters=k, n_init=KMEANS_RUNS, random_state=RANDOM_STATE)
        return model.fit_predict(rows).astype(np.int64)

    stability: float | None = None
    if n_topics is not None:
        grouping = cluster(max(1, min(n_topics, len(embedded))), vectors)
    else:
        # k-means on sentence vectors: the k with the best mean silhouette (cosine), the
        # usual criterion for k-means (stability ties at 1.0 for several k here, and the
        # tie-break to the larger k would split a reason by wording). Its stability (as
        # for NMF: agreement with k-means refitted on 80% subsamples) is reported.
        candidates = _candidates(len(embedded), max_topics)
        groupings = {k: cluster(k, vectors) for k in candidates}
        scores = [float(silhouette_score(vectors, groupings[k], metric="cosine"))
                  if len(set(groupings[k].tolist())) > 1 else -1.0 for k in candidates]
        if not candidates:  # too few texts to split: one topic
            grouping = np.zeros(len(embedded), dtype=np.int64)
        else:
            k = candidates[int(np.argmax(scores))]  # ties: the smaller k
            grouping = groupings[k]
            subsamples = [np.sort(rng.choice(len(embedded), int(0.8 * len(embedded)),
                                             replace=False))
                          for _ in range(STABILITY_RUNS)]
            stability = float(np.mean([adjusted_rand_score(grouping[rows],
                                                           cluster(k, vectors[rows]))
                                       for rows in subsamples]))
    labels[embedded] = grouping
    count = int(grouping.max()) + 1 if len(grouping) else 0
    # Each topic's mean TF-IDF row: it breaks ties between terms, and places the texts that
    # were not embedded (more than EMBEDDING_SAMPLE) by cosine similarity to it.
    weights = np.vstack([np.asarray(matrix[embedded[grouping == index]].mean(axis=0)).ravel()
                         for index in range(count)]) if count else np.zeros((0, len(vocabulary)))
    rest = np.setdiff1d(described, embedded)
    if rest.size and count:
        norms = np.linalg.norm(weights, axis=1)
        similarity = np.asarray(matrix[rest] @ (weights / np.maximum(norms, 1e-12)[:, None]).T)
        labels[rest] = _assign(similarity)
    return TopicModel(_describe(matrix, vocabulary, labels, weights), labels, stability)


def discover_topics(
    texts: Sequence[str],
    n_topics: int | None = None,
    max_topics: int = 12,
    method: str = "nmf",
) -> TopicModel:
    """Topics of `texts`; `n_topics` fixed, or chosen by stability up to `max_topics`.
    `method`: "nmf" (TF-IDF + NMF) or "embeddings" (sentence embeddings + k-means)."""
    if method not in METHODS:
        raise ValueError(f"method: {method!r} is not a topic method; use one of "
                         f"{', '.join(METHODS)}")
    if n_topics is not None and n_topics < 1:
        raise ValueError(f"topics: {n_topics} is not a number of topics; give 1 or more")
    if max_topics < 1:
        raise ValueError(f"max_topics: {max_topics}; give 1 or more")
    vectorized = _vectorize(texts)
    if vectorized is None:
        return TopicModel([], np.full(len(texts), UNASSIGNED, dtype=np.int64), None)
    matrix, vocabulary = vectorized
    if method == "embeddings":
        return _embedding_topics(texts, matrix, vocabulary, n_topics, max_topics)
    return _nmf_topics(matrix, vocabulary, n_topics, max_topics)
