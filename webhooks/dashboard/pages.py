"""The pages: each is one model function (webhooks.dashboard.models) served twice, as HTML at
its path and as JSON under /api/dashboard/. `?fragment=1` returns only the live part of a page,
which static/live.js swaps in every second or two, so pages update without a reload."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import jsonify, redirect, render_template, request, url_for

from joelclaw.insight import needs
from webhooks.dashboard import models, params
from webhooks.dashboard.blueprint import API_PREFIX, SHORTCUTS, blueprint, rt

Model = Callable[..., dict[str, Any]]


def page(rule: str, name: str, *, fragment: str | None = None, **options: Any
         ) -> Callable[[Model], Model]:
    """Register `build` at `rule` (HTML, template `<name>.html`) and at /api/dashboard<rule>."""

    def decorate(build: Model) -> Model:
        def html(**view_args: Any) -> str:
            return render(name, build(**view_args), fragment)

        def api(**view_args: Any) -> Any:
            return jsonify({"ok": True, **build(**view_args)})

        blueprint.add_url_rule(rule, name, html, methods=["GET"], **options)
        blueprint.add_url_rule(API_PREFIX + rule, f"api_{name}", api, methods=["GET"],
                               **options)
        return build

    return decorate


def render(name: str, data: dict[str, Any], fragment: str | None) -> str:
    if fragment is not None and request.args.get("fragment") == "1":
        return render_template(fragment, **data)
    return render_template(f"{name}.html", page=name, **data)


@blueprint.get("/")
def landing() -> Any:
    """The owner's first screen: "needs me" when anything waits on them, else the overview."""
    if request.args.get("fragment") != "1" and needs.pending_count(rt()) > 0:
        return redirect(url_for("dashboard.needs"), 303)
    return render("overview", models.overview(rt()), "_overview_live.html")


@page("/overview", "overview", fragment="_overview_live.html")
def overview() -> dict[str, Any]:
    return models.overview(rt())


@page("/needs-me", "needs", fragment="_needs_live.html")
def needs_me() -> dict[str, Any]:
    return models.needs_me(rt())


@page("/functions", "functions")
def functions() -> dict[str, Any]:
    return models.functions(rt(), query=params.text("q"))


@page("/runs", "runs", fragment="_runs_live.html")
def runs() -> dict[str, Any]:
    return models.runs(rt(), function=params.text("function"), statuses=params.statuses(),
                       event_name=params.text("event"), since=params.moment("since"),
                       until=params.moment("until"), cursor=params.cursor(),
                       size=params.limit())


@page("/runs/<run_id>", "run", fragment="_run_live.html")
def run(run_id: str) -> dict[str, Any]:
    return models.run(rt(), run_id)


@page("/events", "events", fragment="_events_live.html")
def events() -> dict[str, Any]:
    return models.events(rt(), name=params.text("name"), prefix=params.text("prefix"),
                         query=params.text("q"), since=params.moment("since"),
                         size=params.limit(), resend=params.text("resend", 512))


@page("/events/<anyid:event_id>", "event", merge_slashes=False)
def event(event_id: str) -> dict[str, Any]:
    return models.event(rt(), event_id)


@page("/gateway", "gateway", fragment="_gateway_live.html")
def gateway() -> dict[str, Any]:
    return models.gateway(rt())


@page("/memory", "memory")
def memory() -> dict[str, Any]:
    return models.memory(rt())


@blueprint.get("/shortcuts")
def shortcuts() -> str:
    """The `?` page: every keyboard shortcut (desktop)."""
    return render_template("shortcuts.html", page="shortcuts", shortcuts=SHORTCUTS)
