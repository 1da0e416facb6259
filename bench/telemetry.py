"""Telemetry overhead: the cost per execution of a one-step run (as in bench/bus.py), executed
in-process by the bus's executor, with (a) no telemetry hook, (b) the default hook without an
OTLP endpoint (failure events only: the cheap path), (c) spans too, through the SDK's
BatchSpanProcessor (an in-memory exporter, so only our and the SDK's work is counted).

    python bench/telemetry.py [--runs 2000] [--rounds 3]

Starts its own Redis. Prints the median µs per execution of each mode (interleaved run by
run) and the difference.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from joelclaw.bus.execution import TELEMETRY_HOOK, execute  # noqa: E402
from joelclaw.bus.functions import Registry, function  # noqa: E402
from joelclaw.config import Settings  # noqa: E402
from joelclaw.embedded import RedisServer  # noqa: E402
from joelclaw.events.model import Event  # noqa: E402
from joelclaw.runtime import Runtime  # noqa: E402


@function("bench-tel-one-step", trigger="bench/tel.one")
def one_step(ctx):  # type: ignore[no-untyped-def]
    return ctx.step.run("work", lambda: 1)


def measure(rt: Runtime, modes: dict[str, object], runs: int) -> dict[str, list[float]]:
    """Each run executes under the next mode in turn (interleaved: drift hits all alike)."""
    fn = rt.function("bench-tel-one-step")
    ids = [r for result in rt.send([Event(name="bench/tel.one", data={"i": i})
                                    for i in range(runs)]) for r in result.runs]
    rt.redis.delete("celery")  # the broker copies: this benchmark executes in-process
    names = list(modes)
    took: dict[str, list[float]] = {name: [] for name in names}
    for i, run_id in enumerate(ids):
        name = names[i % len(names)]
        hook = modes[name]
        if hook is None:
            rt.hooks.pop(TELEMETRY_HOOK, None)
        else:
            rt.hooks[TELEMETRY_HOOK] = hook
        started = time.perf_counter()
        assert execute(rt, fn, run_id) == "completed"
        took[name].append((time.perf_counter() - started) * 1e6)
    return took


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from joelclaw.telemetry.plugin import Telemetry
    from joelclaw.telemetry.tracing import RunTracer

    with tempfile.TemporaryDirectory() as tmp:
        server = RedisServer(Path(tmp) / "redis")
        url = server.start()
        try:
            settings = Settings(_env_file=None, home=Path(tmp) / "home", redis_url=url)
            rt = Runtime(settings, registry=Registry([one_step]))
            exporter = InMemorySpanExporter()
            tracer = RunTracer(settings, BatchSpanProcessor(exporter))
            modes = {
                "no hook": None,
                "default (no endpoint)": Telemetry(rt),
                "spans (SDK, batch)": Telemetry(rt, tracer),
            }
            measure(rt, modes, 300)  # warm up
            results: dict[str, list[float]] = {name: [] for name in modes}
            for _ in range(args.rounds):
                for name, values in measure(rt, modes, args.runs * len(modes)).items():
                    results[name].extend(values)
                exporter.clear()
            tracer.shutdown()
        finally:
            server.stop()
    base = statistics.median(results["no hook"])
    print(f"one-step run, in-process executor, {args.runs} runs per mode x {args.rounds} "
          "rounds, modes interleaved run by run; median per execution")
    for name, values in results.items():
        median = statistics.median(values)
        print(f"  {name:<24} {median:8.1f} µs/execution  ({median - base:+6.1f} µs, "
              f"{(median / base - 1) * 100:+5.1f} %)")


if __name__ == "__main__":
    main()
