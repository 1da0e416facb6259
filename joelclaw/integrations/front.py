"""Front Core API (`api2.frontapp.com`): conversation lookups for the email notifiers."""

from __future__ import annotations

import time
from typing import Any

import httpx

from joelclaw.integrations.http import ApiClient, RetryPolicy, Sleep, make_client

SERVICE = "front"


class FrontClient:
    """Bearer-token client for the few reads the gateway needs."""

    def __init__(self, token: str, base_url: str = "https://api2.frontapp.com", *,
                 transport: httpx.BaseTransport | None = None, sleep: Sleep = time.sleep,
                 timeout: float = 10.0) -> None:
        self._api = ApiClient(
            make_client(base_url.rstrip("/") + "/", timeout=timeout, transport=transport,
                        headers={"Authorization": f"Bearer {token}",
                                 "Accept": "application/json"}),
            service=SERVICE, policy=RetryPolicy(), sleep=sleep, secrets=(token,),
        )

    def close(self) -> None:
        self._api.close()

    def get_conversation(self, conversation_id: str) -> dict[str, Any]:
        return self._api.request_json("GET", f"conversations/{conversation_id}")
