"""The pages: each is one model function (webhooks.dashboard.models) served twice, as HTML at
its path and as JSON under /api/dashboard/. `?fragment=1` returns only the live part of a page,
which static/live.js swaps in every second or two, so pages update without a reload."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import jsonify, render_template, request

from webhooks.dashboard import models, params
from webhooks.dashboard.blueprint import API_PREFIX, blueprint, rt

Model = Callable[..., dict[str, Any]]


def page(rule: str, name: str, *, fragment: str | None = None
         ) -> Callable[[Model], Model]:
    """Register `build` at `rule` (HTML, template `<name>.html`) and at /api/dashboard<rule>."""

    def decorate(build: Model) -> Model:
        def html(**view_args: Any) -> str:
            data = build(**view_args)
            if fragment is not None and request.args.get("fragment") == "1":
                return render_template(fragment, **data)
            return render_template(f"{name}.html", page=name, **data)

        def api(**view_args: Any) -> Any:
            return jsonify({"ok": True, **build(**view_args)})

        blueprint.add_url_rule(rule, name, html, methods=["GET"])
        api_rule = API_PREFIX + ("/overview" if rule == "/" else rule)
        blueprint.add_url_rule(api_rule, f"api_{name}", api, methods=["GET"])
        return build

    return decorate


@page("/", "overview", fragment="_overview_live.html")
def overview() -> dict[str, Any]:
    return models.overview(rt())


@page("/functions", "functions")
def functions() -> dict[str, Any]:
    return models.functions(rt())


@page("/runs", "runs", fragment="_runs_live.html")
def runs() -> dict[str, Any]:
    return models.runs(rt(), function=params.text("function"), statuses=params.statuses(),
                       event_name=params.text("event"), since=params.moment("since"),
                       until=params.moment("until"), cursor=params.cursor(),
                       size=params.limit())


@page("/runs/<run_id>", "run", fragment="_run_live.html")
def run(run_id: str) -> dict[str, Any]:
    return models.run(rt(), run_id)


@page("/events", "events")
def events() -> dict[str, Any]:
    return models.events(rt(), name=params.text("name"), prefix=params.text("prefix"),
                         query=params.text("q"), since=params.moment("since"),
                         size=params.limit())


@page("/events/<event_id>", "event")
def event(event_id: str) -> dict[str, Any]:
    return models.event(rt(), event_id)


@page("/gateway", "gateway", fragment="_gateway_live.html")
def gateway() -> dict[str, Any]:
    return models.gateway(rt())


@page("/memory", "memory")
def memory() -> dict[str, Any]:
    return models.memory(rt())
