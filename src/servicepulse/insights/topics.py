"""Topic discovery for contact drivers: group texts the way a person would, and name the groups.

A manager reading contact drivers wants one topic per contact reason: the different ways
customers phrase a refund request in ONE topic (or its repeat rate is split and hidden), and
refunds never in the same topic as deliveries. So the number of topics is not fixed in
advance, nor chosen by a fit statistic; groups are merged while they are alike:

1. Words: each text (subject and first customer message) is cut into clauses, lower-cased,
   its words lemmatised (simplemma's English dictionary, shipped in the package: "refunds",
   "refunded" -> "refund"), English stop words, greetings and generic support words
   ("help", "issue", "please") dropped, numbers dropped (order numbers make no topics); the
   features are the words and the two-word phrases within a clause. Words in more than half
   of the texts tell no reason apart and are dropped too.
2. Vectors: TF-IDF (sublinear), reduced to at most LSA_DIMENSIONS by a truncated SVD (latent
   semantic analysis: words used in the same texts, such as "refund" and "money back", come
   close), unit length. Method "embeddings" uses sentence vectors of each text's content
   words (step 1's lemmas) instead (`servicepulse.insights.embeddings`).
3. Grouping: average-linkage agglomerative clustering by cosine distance on at most
   CLUSTER_SAMPLE texts: every text starts alone, and the two most alike groups merge while
   the mean similarity between their texts is at least MERGE_SIMILARITY. Phrasings of one
   reason share their reason's words and merge; two reasons share only incidental words
   (tone, courtesy) and stay apart. Groups smaller than the minimum topic size then join the
   group they are most like, and at most `max_topics` remain (the most alike merge first).
   `n_topics` given: the tree is cut at exactly that many groups instead.
4. Every text (also those outside the sample) joins the topic whose centre it is most like.
5. Names: a topic's terms are those most of its texts use and few other texts use (share
   inside minus share outside), generic words out; its label is the top LABEL_TERMS of them,
   a phrase shown instead of the words it contains ("password reset", not "password /
   reset"). Its examples are the texts nearest its centre.

Deterministic: the same texts give the same topics (fixed seeds for the sample and the SVD).
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from servicepulse.errors import InvalidRequest

RANDOM_STATE = 0  # the sample and the SVD: the same input, the same topics
METHODS = ("words", "embeddings")
DEFAULT_METHOD: Final = "words"
CLUSTER_SAMPLE = 2500  # texts grouped (the clustering is quadratic); the rest join a topic
LSA_DIMENSIONS = 100
# Two groups merge while the mean cosine similarity of their texts is at least this: tuned on
# the simulator's labelled texts (`servicepulse bench insights --quality`, adjusted Rand index
# against the reasons) and on the three-reason case of tests/insights/test_topics.py.
MERGE_SIMILARITY = 0.125
# The same for static sentence vectors (`embeddings.StaticEncoder`) of a text's content words
# (`_content_words`), whose cosines are higher for any two texts of one language; tuned the
# same way (0.6 on the whole texts gave an index of 0.73-0.76 on the simulator's reasons).
EMBEDDING_MERGE_SIMILARITY = 0.63
# A topic holds at least this share of the grouped texts (and MIN_TOPIC_TEXTS texts): a
# smaller group is a stray phrasing or a mixed text, and joins the group it is most like.
MIN_TOPIC_SHARE = 0.01
MIN_TOPIC_TEXTS = 5
LABEL_TERMS = 3
TOPIC_TERMS = 8
UNASSIGNED = -1
MAX_DOCUMENT_SHARE = 0.5
_WORD = re.compile(r"\b[^\W\d_][^\W\d_']+\b")  # words of 2+ letters, no numbers
_DIGITS = re.compile(r"\d+")
_CLAUSE_BREAK = re.compile(r"[.,;:!?()\[\]\n\r\t\"]+")
# Greetings, courtesy and the generic words of any support request: they never tell a reason
# apart, and a topic named "help / issue" tells a manager nothing. Lemmas (after step 1).
GENERIC_WORDS = frozenset(
    ["hello", "hi", "hey", "dear", "thanks", "thank", "please", "pls", "regards", "kind",
     "team", "support", "good", "morning", "afternoon", "evening", "asap", "cheers", "sir",
     "madam", "hope", "ok", "okay", "help", "issue", "problem", "question", "query",
     "customer", "service", "contact", "need", "want", "like", "would", "could", "get", "know",
     "let", "still", "just", "really", "also", "ago", "today", "yesterday", "tell", "say",
     "ask", "try", "make", "go", "come", "use", "look", "be", "have", "do", "can", "will",
     "much", "appreciate", "advance", "great", "soon", "possible", "thing", "way", "else"])
# Reads as the page's and the CLI's description of how topics were made.
METHOD_NAMES = {"words": "lemmatised words and phrases (TF-IDF + LSA), merged while alike",
                "embeddings": "sentence embeddings, merged while alike"}


@dataclass(frozen=True)
class Topic:
    index: int
    label: str
    terms: list[str]
    examples: list[int] = field(default_factory=list)  # text indices nearest the centre


@dataclass(frozen=True)
class TopicModel:
    topics: list[Topic]
    assignments: NDArray[np.int64]  # per text: topic index, or UNASSIGNED
    # mean similarity of the two groups merged last (None when the count was given)
    stability: float | None = None


@lru_cache(maxsize=1)
def _lemmas() -> Any:
    """simplemma's English lemmatiser (its dictionary loads once, about half a second)."""
    import simplemma

    return simplemma


@lru_cache(maxsize=65536)
def lemma(word: str) -> str:
    """The dictionary form of an English word ("refunds" -> "refund"); unknown words as
    they are."""
    return str(_lemmas().lemmatize(word, lang="en")).lower()


def _readable_terms(ranked: Sequence[str], count: int) -> list[str]:
    """The top `count` terms, a phrase in place of its words: a word already shown in a
    phrase is skipped, and a phrase replaces the words it contains that came before it."""
    chosen: list[str] = []
    for term in ranked:
        words = set(term.split())
        shown = {word for item in chosen for word in item.split()}
        if words <= shown:
            continue
        if len(words) > 1:  # a phrase: it says more than its words alone
            chosen = [item for item in chosen if item not in words]
        chosen.append(term)
        if len(chosen) == count:
            break
    return chosen


class _Analyzer:
    """Lemmatised words (2+ letters, no numbers, no stop or generic words) and two-word
    phrases, phrases only within a clause: "no update. Order 1234" must not make the phrase
    "update order"."""

    def __init__(self, stop_words: frozenset[str]):
        self.stop_words = set(stop_words)

    def clauses(self, text: str) -> list[list[str]]:
        result = []
        for clause in _CLAUSE_BREAK.split(text.lower()):
            words = [word.replace("'", "") for word in _WORD.findall(clause)
                     if word not in self.stop_words]
            result.append([lemma(word) for word in words
                           if lemma(word) not in self.stop_words])
        return result

    def drop_ubiquitous(self, distinct: Sequence[str], rows: NDArray[np.int64],
                        share: float) -> None:
        """Words in more than `share` of the texts (`rows`: each text's index in `distinct`)
        tell no reason apart ("order"): they become stop words, so they make no phrases
        either."""
        repeats = np.bincount(rows, minlength=len(distinct))
        counts: Counter[str] = Counter()
        for text, times in zip(distinct, repeats.tolist(), strict=True):
            for word in {word for clause in self.clauses(text) for word in clause}:
                counts[word] += times
        self.stop_words |= {word for word, n in counts.items() if n > share * len(rows)}

    def __call__(self, text: str) -> list[str]:
        features: list[str] = []
        for words in self.clauses(text):
            features += words
            features += [f"{first} {second}" for first, second in itertools.pairwise(words)]
        return features


def _content_words(texts: Sequence[str]) -> list[str]:
    """Each text as its lemmatised content words (step 1 without the corpus's ubiquitous
    words): what sentence vectors are made of. Greetings, courtesy and a customer's mood
    ("thanks a lot", "this is terrible") would otherwise pull every text's mean vector the
    same way and blur the reasons apart."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    analyzer = _Analyzer(frozenset(ENGLISH_STOP_WORDS) | GENERIC_WORDS)
    return [" ".join(word for clause in analyzer.clauses(text) for word in clause)
            for text in texts]


def _vectorize(texts: Sequence[str]) -> tuple[Any, NDArray[Any]] | None:
    """TF-IDF matrix and vocabulary of `texts`; None when no text has a usable word.
    Texts that differ only in numbers (order numbers) have the same words: each distinct
    wording is analysed once and its row repeated."""
    from scipy.sparse import csr_matrix
    from sklearn.feature_extraction.text import (
        ENGLISH_STOP_WORDS,
        CountVectorizer,
        TfidfTransformer,
    )

    documents = len(texts)
    wordings: dict[str, int] = {}
    rows = np.array([wordings.setdefault(_DIGITS.sub("", text), len(wordings))
                     for text in texts], dtype=np.int64)
    distinct = list(wordings)
    analyzer = _Analyzer(frozenset(ENGLISH_STOP_WORDS) | GENERIC_WORDS)
    if documents >= 20:
        analyzer.drop_ubiquitous(distinct, rows, MAX_DOCUMENT_SHARE)
    counter = CountVectorizer(analyzer=analyzer)
    try:
        counts = csr_matrix(counter.fit_transform(distinct)[rows])
    except ValueError:  # no text has a usable word
        return None
    vocabulary = counter.get_feature_names_out()
    if documents >= 20:  # words and phrases of one text only make no topic
        kept = np.flatnonzero(np.asarray((counts > 0).sum(axis=0)).ravel() >= 2)
        if len(kept) == 0:
            return None
        counts, vocabulary = csr_matrix(counts[:, kept]), vocabulary[kept]
    matrix = TfidfTransformer(sublinear_tf=True).fit_transform(counts)
    return matrix, vocabulary


def _unit(rows: NDArray[np.float64]) -> NDArray[np.float64]:
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return rows / np.maximum(norms, 1e-12)


def _lsa(matrix: Any, sample: NDArray[np.int64]) -> NDArray[np.float64]:
    """Unit-length LSA vectors of every text, the SVD fitted on the sample."""
    from sklearn.decomposition import TruncatedSVD

    dimensions = min(LSA_DIMENSIONS, matrix.shape[1] - 1, len(sample) - 1)
    if dimensions < 2:
        return _unit(np.asarray(matrix.toarray(), dtype=np.float64))
    svd = TruncatedSVD(dimensions, algorithm="randomized", random_state=RANDOM_STATE)
    svd.fit(matrix[sample])
    return _unit(np.asarray(svd.transform(matrix), dtype=np.float64))


def _merge_tree(vectors: NDArray[np.float64]) -> NDArray[np.float64]:
    """SciPy's linkage matrix of average-linkage clustering by cosine distance."""
    from scipy.cluster.hierarchy import linkage
    from scipy.spatial.distance import pdist

    distances = np.clip(pdist(vectors, metric="cosine"), 0.0, 2.0)
    return np.asarray(linkage(distances, method="average"), dtype=np.float64)


def _cut(tree: NDArray[np.float64], rows: int, groups: int) -> NDArray[np.int64]:
    """Group numbers 0.. of the rows when the tree is cut at `groups` groups."""
    from scipy.cluster.hierarchy import fcluster

    if rows == 1 or groups <= 1:
        return np.zeros(rows, dtype=np.int64)
    labels = fcluster(tree, t=min(groups, rows), criterion="maxclust")
    return np.unique(labels, return_inverse=True)[1].astype(np.int64)


def _group(vectors: NDArray[np.float64], n_topics: int | None, max_topics: int,
           merge_similarity: float) -> tuple[NDArray[np.int64], float | None]:
    """Group the sample's vectors; (group per row, similarity of the last merge made)."""
    rows = len(vectors)
    if rows < 2:
        return np.zeros(rows, dtype=np.int64), None
    tree = _merge_tree(vectors)
    if n_topics is not None:
        return _cut(tree, rows, n_topics), None
    # Merges happen in order of distance; those below 1 - MERGE_SIMILARITY are made.
    made = int(np.sum(tree[:, 2] <= 1.0 - merge_similarity))
    labels = _cut(tree, rows, rows - made)
    labels = _absorb_small(vectors, labels, max(MIN_TOPIC_TEXTS,
                                                int(np.ceil(MIN_TOPIC_SHARE * rows))))
    while labels.max() + 1 > max_topics:
        labels = _merge_closest(vectors, labels)
    last = 1.0 - float(tree[made - 1, 2]) if made else None
    return labels, last


def _centres(vectors: NDArray[np.float64], labels: NDArray[np.int64]) -> NDArray[np.float64]:
    count = int(labels.max()) + 1
    return _unit(np.vstack([vectors[labels == index].mean(axis=0) for index in range(count)]))


def _renumber(labels: NDArray[np.int64]) -> NDArray[np.int64]:
    return np.unique(labels, return_inverse=True)[1].astype(np.int64)


def _absorb_small(vectors: NDArray[np.float64], labels: NDArray[np.int64],
                  minimum: int) -> NDArray[np.int64]:
    """Texts of groups smaller than `minimum` join the large group whose centre they are most
    like (all stay as they are when no group is large)."""
    sizes = np.bincount(labels)
    large = np.flatnonzero(sizes >= minimum)
    if len(large) == 0 or len(large) == len(sizes):
        return labels
    centres = _centres(vectors, labels)[large]
    small = ~np.isin(labels, large)
    labels = labels.copy()
    labels[small] = large[np.argmax(vectors[small] @ centres.T, axis=1)]
    return _renumber(labels)


def _merge_closest(vectors: NDArray[np.float64], labels: NDArray[np.int64]) -> NDArray[np.int64]:
    """The two groups whose texts are most alike on average become one."""
    count = int(labels.max()) + 1
    means = np.vstack([vectors[labels == index].mean(axis=0) for index in range(count)])
    similarity = means @ means.T  # mean pairwise cosine between the groups' unit vectors
    np.fill_diagonal(similarity, -np.inf)
    first, second = np.unravel_index(int(np.argmax(similarity)), similarity.shape)
    labels = labels.copy()
    labels[labels == max(first, second)] = min(first, second)
    return _renumber(labels)


def _describe(matrix: Any, vocabulary: NDArray[Any], labels: NDArray[np.int64],
              count: int) -> list[tuple[str, list[str]]]:
    """(label, terms) per topic: terms most of its texts use and few others use."""
    used = (matrix > 0).astype(np.float64).tocsc()
    weights = np.asarray(matrix.sum(axis=0)).ravel()
    described = []
    for index in range(count):
        members = labels == index
        others = (labels != index) & (labels != UNASSIGNED)
        inside = np.asarray(used[members].mean(axis=0)).ravel()
        outside = (np.asarray(used[others].mean(axis=0)).ravel() if others.any()
                   else np.zeros_like(inside))
        distinct = inside - outside
        order = np.lexsort((-weights, -distinct))[: TOPIC_TERMS * 3]
        ranked = [str(vocabulary[j]) for j in order if distinct[j] > 0]
        terms = _readable_terms(ranked, TOPIC_TERMS)
        described.append((" / ".join(terms[:LABEL_TERMS]) or f"topic {index + 1}", terms))
    return described


def discover_topics(texts: Sequence[str], n_topics: int | None = None, max_topics: int = 25,
                    method: str = DEFAULT_METHOD, examples: int = 3) -> TopicModel:
    """Topics of `texts`: as many as the texts' reasons (at most `max_topics`), or exactly
    `n_topics`. `method`: "words" (lemmatised TF-IDF + LSA) or "embeddings" (sentence
    vectors). Topics come ordered by size, largest first."""
    if method not in METHODS:
        raise InvalidRequest(f"method: {method!r} is not a topic method; use one of "
                             f"{', '.join(METHODS)}")
    if n_topics is not None and n_topics < 1:
        raise InvalidRequest(f"topics: {n_topics} is not a number of topics; give 1 or more")
    if max_topics < 1:
        raise InvalidRequest(f"max_topics: {max_topics}; give 1 or more")
    assignments = np.full(len(texts), UNASSIGNED, dtype=np.int64)
    vectorized = _vectorize(texts)
    if vectorized is None:
        return TopicModel([], assignments)
    matrix, vocabulary = vectorized
    # Only texts with a usable word get a topic: a topic is described by its words.
    described = np.flatnonzero(matrix.getnnz(axis=1) > 0)
    rng = np.random.default_rng(RANDOM_STATE)
    sample = (np.sort(rng.choice(described, CLUSTER_SAMPLE, replace=False))
              if len(described) > CLUSTER_SAMPLE else described)
    lsa = _lsa(matrix, sample)
    if method == "embeddings":
        from servicepulse.insights.embeddings import embed_texts_fast

        encoded = _unit(embed_texts_fast(_content_words([texts[int(row)] for row in sample]))
                        .astype(np.float64))
        grouping, last = _group(encoded, n_topics, max_topics, EMBEDDING_MERGE_SIMILARITY)
    else:
        grouping, last = _group(lsa[sample], n_topics, max_topics, MERGE_SIMILARITY)
    # Every text joins the topic whose centre (the mean of its grouped texts' vectors) it is
    # most like; for embeddings the centres are taken in the words' space, so the texts
    # outside the sample need no encoding.
    centres = _centres(lsa[sample], grouping)
    similarity = lsa[described] @ centres.T
    assignments[described] = np.argmax(similarity, axis=1)
    if method == "embeddings":  # the grouped texts keep their own group
        assignments[sample] = grouping
    # Largest topic first; ties by first text, so the order is the same on every run.
    count = len(centres)
    sizes = np.bincount(assignments[described], minlength=count)
    order = sorted((index for index in range(count) if sizes[index]),
                   key=lambda index: (-sizes[index],
                                      int(np.argmax(assignments == index))))
    renumber = np.full(count, UNASSIGNED, dtype=np.int64)
    renumber[order] = np.arange(len(order))
    assignments[described] = renumber[assignments[described]]
    names = _describe(matrix, vocabulary, assignments, len(order))
    topics = []
    for new, old in enumerate(order):
        members = described[assignments[described] == new]
        nearest = members[np.argsort(-similarity[np.searchsorted(described, members), old],
                                     kind="stable")]
        shown: dict[str, int] = {}  # distinct texts only: a repeated text says nothing new
        for row in nearest:
            if len(shown) == examples:
                break
            shown.setdefault(texts[int(row)], int(row))
        topics.append(Topic(new, names[new][0], names[new][1], list(shown.values())))
    return TopicModel(topics, assignments, last)
