"""The web app's settings (where it listens, who may call it, the dashboard's sessions) and
Flower's (Celery's stock dashboard)."""

from __future__ import annotations

from pydantic import Field, field_validator

from joelclaw.config.base import Fields


class WebFields(Fields):
    """The web app and the dashboard (`WebSettings`)."""

    api_token: str | None = Field(None, min_length=16)  # `up` generates one when unset
    # Direct loopback requests need no token (an explicit opt-in: unsafe behind a reverse
    # proxy on the same host, which makes every request look local).
    web_open_on_loopback: bool = False
    web_host: str = "127.0.0.1"
    web_port: int = Field(3111, ge=1, le=65535)
    # gunicorn gevent workers: one serves 1000 connections at once (slow clients cost memory,
    # not workers) for ~60 MiB; add one per spare core when CPU-bound requests queue up.
    web_workers: int = Field(1, ge=1, le=64)
    # The front door (issue 9): a request body must arrive within this time, so a client that
    # declares more than it sends holds a connection for a bounded time (answered 408).
    web_body_timeout_seconds: float = Field(10.0, gt=0)
    # The dashboard: how long a login lasts off loopback.
    dashboard_session_hours: float = Field(168.0, gt=0)
    # The dashboard's address as the owner's phone reaches it (https://claw.example.com):
    # Telegram alerts link their runs there. Unset: messages carry run ids only.
    public_url: str | None = None

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        if not value.startswith(("https://", "http://")) or " " in value:
            raise ValueError("expected the dashboard's address, like https://claw.example.com")
        return value.rstrip("/")


class FlowerFields(Fields):
    """Flower: where it listens, its credentials, its address for links (`FlowerSettings`)."""

    flower_address: str = "127.0.0.1"
    flower_port: int = Field(5555, ge=1, le=65535)
    flower_user: str | None = None
    flower_password: str | None = None
    # Where the owner's browser reaches Flower (e.g. http://127.0.0.1:5555): run traces link
    # each Celery task to its Flower page. `joelclaw up` sets it for the Flower it starts.
    flower_url: str | None = None
