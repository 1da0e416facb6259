"""A calendar feed as providers serve it (`text/calendar`, an ICS body) at a private URL, and a
local program standing for every configured command (git, an exporter, an agent CLI): both
count what reaches them, so a test can say nothing did."""

from __future__ import annotations

import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

PRIVATE_PATH = "/private-8f3a9c/basic.ics"  # a private feed's URL is its secret
PUBLIC_PATH = "/public/agenda.ics"  # the same calendar, published as a document


def ics_for(day: str, *summaries: str) -> str:
    """An ICS body with one timed event per summary on `day` (YYYYMMDD), 09:00 UTC on."""
    events = [f"BEGIN:VEVENT\r\nSUMMARY:{text}\r\nDTSTART:{day}T{9 + i:02d}0000Z\r\n"
              f"DTEND:{day}T{9 + i:02d}3000Z\r\nEND:VEVENT" for i, text in enumerate(summaries)]
    return "\r\n".join(["BEGIN:VCALENDAR", "VERSION:2.0", *events, "END:VCALENDAR"]) + "\r\n"


class FakeCalendar:
    def __init__(self, ics: str) -> None:
        self.ics = ics
        self.hits: list[str] = []
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                """Silent."""

            def do_GET(self) -> None:
                with fake._lock:
                    fake.hits.append(self.path)
                found = self.path in (PRIVATE_PATH, PUBLIC_PATH)
                body = fake.ics.encode() if found else b"not found"
                self.send_response(200 if found else 404)
                self.send_header("Content-Type", "text/calendar; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True

    def start(self) -> FakeCalendar:
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{PRIVATE_PATH}"

    @property
    def public_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{PUBLIC_PATH}"

    def count(self) -> int:
        with self._lock:
            return len(self.hits)


COUNTING_PROGRAM = '''
import sys
with open(sys.argv[1], "a") as log:
    log.write(" ".join(sys.argv[2:]) + "\\n")
print("ran:", " ".join(sys.argv[2:]))
'''


def counting_command(folder: Path) -> tuple[str, Path]:
    """A command line whose every start appends a line to the returned log file."""
    program, log = folder / "counting.py", folder / "starts.log"
    program.write_text(COUNTING_PROGRAM)
    log.touch()
    return f"{sys.executable} {program} {log}", log


def starts(log: Path) -> int:
    return len(log.read_text().splitlines())
