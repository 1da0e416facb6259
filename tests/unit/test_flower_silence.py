"""Flower's warning per inspect method that no worker answered becomes one line a minute at
most (joelclaw.supervisor.flower.NoWorkerAnswered); its errors pass untouched."""

from __future__ import annotations

import logging

from joelclaw.supervisor.flower import NoWorkerAnswered


class Kept(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def _logger(silence: NoWorkerAnswered) -> tuple[logging.Logger, Kept]:
    logger = logging.getLogger(f"test.flower.inspector.{id(silence)}")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    kept = Kept()
    logger.addHandler(kept)
    logger.addFilter(silence)
    return logger, kept


def test_a_silence_of_every_method_is_one_line():
    logger, kept = _logger(NoWorkerAnswered())
    for method in ("stats", "active_queues", "registered", "conf") * 2:
        logger.warning("Inspect method %s failed", method)
    [said] = kept.records
    assert said.levelno == logging.INFO and "no worker answered" in said.getMessage()


def test_errors_and_other_lines_pass_untouched():
    logger, kept = _logger(NoWorkerAnswered())
    logger.warning("Inspect method %s failed: %s", "stats", "connection refused")
    logger.error("Inspect method %s failed: %s", "conf", "boom")
    logger.info("Visit me at %s", "http://127.0.0.1:5555")
    assert [r.getMessage() for r in kept.records] == [
        "Inspect method stats failed: connection refused", "Inspect method conf failed: boom",
        "Visit me at http://127.0.0.1:5555"]
    assert [r.levelno for r in kept.records] == [logging.WARNING, logging.ERROR, logging.INFO]


def test_a_later_silence_is_said_again_after_the_interval():
    silence = NoWorkerAnswered(every=0.0)
    logger, kept = _logger(silence)
    logger.warning("Inspect method %s failed", "stats")
    logger.warning("Inspect method %s failed", "stats")
    assert len(kept.records) == 2
