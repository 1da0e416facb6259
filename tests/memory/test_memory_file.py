"""MEMORY.md changes atomically: under its section, with a rollback copy, never half-written,
and a hand edit made while a promotion is prepared survives it."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from joelclaw.memory.memoryfile import SECTIONS, MemoryFile, MemoryFileBusy, template


def test_a_bullet_lands_under_its_section_with_a_rollback_copy(tmp_path: Path) -> None:
    memory = MemoryFile(tmp_path / "MEMORY.md")
    assert memory.append("Patterns", "Deploys go out on Tuesdays", "2026-12-01")
    first = memory.path.read_text()
    assert memory.append("Joel", "Joel  prefers\nespresso", "2026-12-02")
    sections = memory.section_of(memory.path.read_text())
    assert sections["Patterns"] == ["Deploys go out on Tuesdays"]
    assert sections["Joel"] == ["Joel prefers espresso"]
    assert "- (2026-12-02) Joel prefers espresso" in memory.path.read_text()
    assert memory.backup.read_text() == first
    assert not memory.append("Joel", "Joel prefers espresso", "2026-12-02"), "no duplicate"
    assert memory.rollback() and memory.path.read_text() == first
    with pytest.raises(ValueError, match=r"unknown MEMORY\.md section"):
        memory.append("Gossip", "x", "2026-12-01")


def test_a_hand_written_file_keeps_its_text_and_gains_a_missing_section(tmp_path: Path) -> None:
    path = tmp_path / "MEMORY.md"
    path.write_text("# My memory\n\nNotes I wrote myself.\n\n## Joel\n- Likes tea\n\n")
    memory = MemoryFile(path)
    memory.append("Joel", "Runs at dawn", "2026-12-01")
    memory.append("Miller Hooks", "Ships the newsletter", "2026-12-01")
    text = path.read_text()
    assert text.startswith("# My memory\n\nNotes I wrote myself.")
    assert memory.section_of(text) == {"Joel": ["Likes tea", "Runs at dawn"],
                                       "Miller Hooks": ["Ships the newsletter"]}


class EditedMidPromote(MemoryFile):
    """The owner saves MEMORY.md in an editor just as a promotion is about to be renamed in."""

    edits = 1

    def _replace(self, before: str, after: str) -> bool:
        if self.edits:
            self.edits -= 1
            self.path.write_text(self.read() + "\n## Joel\n- Hand-written line\n")
        return super()._replace(before, after)


def test_a_hand_edit_during_a_promotion_survives_it(tmp_path: Path) -> None:
    memory = EditedMidPromote(tmp_path / "MEMORY.md")
    memory.path.write_text(template())
    assert memory.append("Patterns", "Promoted line", "2026-12-01")
    text = memory.path.read_text()
    assert "- Hand-written line" in text and "- (2026-12-01) Promoted line" in text


def test_an_editor_that_never_stops_gets_a_clear_error_and_an_untouched_file(
    tmp_path: Path,
) -> None:
    memory = EditedMidPromote(tmp_path / "MEMORY.md")
    memory.edits = 99
    memory.path.write_text(template())
    with pytest.raises(MemoryFileBusy, match="nothing was written"):
        memory.append("Patterns", "Never lands", "2026-12-01")
    assert "Never lands" not in memory.path.read_text()
    assert not list(tmp_path.glob(".MEMORY.md.*.tmp"))


def test_concurrent_promotions_and_readers_never_see_half_a_file(tmp_path: Path) -> None:
    memory = MemoryFile(tmp_path / "MEMORY.md")
    memory.path.write_text(template())
    stop, torn = threading.Event(), []

    def read() -> None:
        while not stop.is_set():
            text = memory.path.read_text()
            if not text.startswith("# MEMORY") or not all(f"## {s}" in text for s in SECTIONS):
                torn.append(text)

    readers = [threading.Thread(target=read) for _ in range(2)]
    for r in readers:
        r.start()
    writers = [threading.Thread(target=lambda i=i: memory.append(
        SECTIONS[i % 6], f"fact number {i}", "2026-12-01")) for i in range(40)]
    for w in writers:
        w.start()
    for w in writers:
        w.join()
    stop.set()
    for r in readers:
        r.join()
    assert torn == []
    assert sorted(memory.bullets()) == sorted(f"fact number {i}" for i in range(40))
