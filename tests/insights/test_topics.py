"""Topic discovery recovers known contact reasons from simulated texts."""

from __future__ import annotations

import random
from collections import Counter

import numpy as np
import pytest

from servicepulse.insights.topics import UNASSIGNED, discover_topics

# Five contact reasons, each with its own subjects and first messages; texts mix a subject,
# a greeting, a message, an order number and a sign-off, so no two are alike.
REASONS: dict[str, tuple[list[str], list[str]]] = {
    "delivery": (
        ["Where is my parcel", "Package not delivered", "Delivery is late",
         "Courier never came", "Tracking shows no update"],
        ["my parcel has not arrived yet", "the courier did not deliver the package",
         "tracking number shows no delivery update", "the delivery is a week late",
         "package lost in transit"]),
    "refund": (
        ["Refund request", "Money back please", "Refund not received", "Return and refund",
         "Where is my refund"],
        ["I returned the item and want my refund", "the refund has not reached my card",
         "please refund my money for the return", "I am still waiting for the refund",
         "refund for the returned jacket"]),
    "login": (
        ["Cannot log in", "Password reset not working", "Account locked", "Login problem",
         "Two factor code"],
        ["I cannot log in to my account", "the password reset email never arrives",
         "my account is locked after failed login", "the login page says wrong password",
         "the verification code for login does not work"]),
    "billing": (
        ["Charged twice", "Wrong invoice amount", "Billing question", "Unexpected charge",
         "Invoice error"],
        ["I was charged twice on my credit card", "the invoice amount is wrong",
         "there is an unexpected charge on my bill", "please correct the billing on my invoice",
         "my card was billed two times this month"]),
    "cancel": (
        ["Cancel subscription", "Stop my plan", "Cancellation", "End membership",
         "Unsubscribe"],
        ["I want to cancel my subscription", "please stop my plan at the end of the month",
         "how do I end my membership", "cancel the subscription and stop renewal",
         "I no longer need the plan please cancel"]),
}
GREETINGS = ["Hi team,", "Hello,", "Good morning.", "Dear support,", ""]
SIGN_OFFS = ["Thanks", "Regards", "Please help asap", "Thank you very much", ""]


def simulated_texts(count: int, reasons: list[str], seed: int) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    texts, truth = [], []
    for index in range(count):
        reason = reasons[index % len(reasons)]
        subjects, messages = REASONS[reason]
        texts.append(f"{rng.choice(subjects)}. {rng.choice(GREETINGS)} {rng.choice(messages)}."
                     f" Order {rng.randint(1000, 9999)}. {rng.choice(SIGN_OFFS)}")
        truth.append(reason)
    return texts, truth


def recovery(truth: list[str], assignments: list[int]) -> tuple[float, dict[str, int]]:
    """Share of texts in their reason's topic (each reason's most common topic), and that
    topic per reason; distinct reasons must get distinct topics for this to mean anything."""
    pairs = Counter(zip(truth, assignments, strict=True))
    topic_of = {reason: max((n, topic) for (r, topic), n in pairs.items() if r == reason)[1]
                for reason in set(truth)}
    hits = sum(1 for reason, topic in zip(truth, assignments, strict=True)
               if topic == topic_of[reason])
    return hits / len(truth), topic_of


def test_five_reasons_are_recovered_with_the_number_of_topics_chosen() -> None:
    texts, truth = simulated_texts(300, list(REASONS), seed=7)
    model = discover_topics(texts)
    assert len(model.topics) == 5
    share, topic_of = recovery(truth, model.assignments.tolist())
    assert len(set(topic_of.values())) == 5  # one topic per reason, none merged
    assert share >= 0.85
    # Labels are readable: the delivery topic's label names delivery words.
    delivery = model.topics[topic_of["delivery"]]
    assert any(word in delivery.label for word in ("deliver", "parcel", "package", "courier"))
    assert "hello" not in " ".join(topic.label for topic in model.topics)


def test_four_reasons_with_another_seed() -> None:
    reasons = ["refund", "login", "billing", "cancel"]
    texts, truth = simulated_texts(280, reasons, seed=11)
    model = discover_topics(texts)
    share, topic_of = recovery(truth, model.assignments.tolist())
    assert len(model.topics) == 4
    assert len(set(topic_of.values())) == 4
    assert share >= 0.85


def test_a_fixed_number_of_topics_and_determinism() -> None:
    texts, _ = simulated_texts(120, list(REASONS), seed=3)
    first = discover_topics(texts, n_topics=3)
    second = discover_topics(texts, n_topics=3)
    assert len(first.topics) == 3
    assert first.stability is None
    assert [t.label for t in first.topics] == [t.label for t in second.topics]
    assert first.assignments.tolist() == second.assignments.tolist()


def test_texts_without_words_get_no_topic() -> None:
    model = discover_topics(["12345", "!!!", "42"])
    assert model.topics == []
    assert model.assignments.tolist() == [UNASSIGNED] * 3


def test_nndsvda_start_from_one_svd_equals_scikit_learns(monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    """The start cut from one SVD of the largest k (8) equals scikit-learn's init="nndsvda"
    for each smaller k, computed by scikit-learn itself from an SVD of exactly k triplets
    (both given the exact SVD, so only the construction is compared)."""
    import sklearn.decomposition._nmf as nmf
    from sklearn.feature_extraction.text import TfidfVectorizer

    from servicepulse.insights.topics import _nndsvda

    texts, _ = simulated_texts(200, list(REASONS), seed=3)
    matrix = TfidfVectorizer().fit_transform(texts)
    u, s, vt = np.linalg.svd(matrix.toarray(), full_matrices=False)
    monkeypatch.setattr(nmf, "_randomized_svd",
                        lambda _x, k, random_state=None: (u[:, :k], s[:k], vt[:k]))
    for k in (1, 3, 5, 8):
        w, h = _nndsvda(matrix, (u[:, :8], s[:8], vt[:8]), k)
        expected_w, expected_h = nmf._initialize_nmf(matrix, k, init="nndsvda", random_state=0)
        assert w.shape == expected_w.shape and h.shape == expected_h.shape
        assert np.allclose(w, expected_w, rtol=0, atol=1e-12), k
        assert np.allclose(h, expected_h, rtol=0, atol=1e-12), k


def test_the_number_of_topics_judged_on_a_sample(monkeypatch: pytest.MonkeyPatch) -> None:
    """With k judged on 150 of 300 texts, the same five topics and assignment as judged on
    all of them."""
    from servicepulse.insights import topics

    texts, truth = simulated_texts(300, list(REASONS), seed=7)
    whole = discover_topics(texts)
    monkeypatch.setattr(topics, "SELECTION_SAMPLE", 150)
    sampled = discover_topics(texts)
    assert len(sampled.topics) == 5
    assert sampled.assignments.tolist() == whole.assignments.tolist()
    assert [topic.label for topic in sampled.topics] == [topic.label for topic in whole.topics]
    share, _ = recovery(truth, sampled.assignments.tolist())
    assert share >= 0.85
