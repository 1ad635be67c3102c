"""Where alerts go besides the store: JSON lines, and an HTTP webhook.

JsonLinesSink     one JSON object a line, to stdout or appended to a file,
                  flushed after each alert
WebhookSink       POSTs each alert (JSON) to a URL from a thread of its own, so
                  a slow receiver never holds surveillance back: retried with
                  doubling back-off on a network error or a 5xx answer, and
                  after the last attempt (or a 4xx, which no retry changes, or
                  a full queue) appended to a dead-letter file of JSON lines,
                  each with the reason it was not delivered
"""

from __future__ import annotations

import queue
import sys
import threading
import time
from pathlib import Path
from typing import IO, Protocol

import httpx
import msgspec

from clearhouse.surveillance.alerts import Alert, alert_encoder

WEBHOOK_ATTEMPTS = 5
WEBHOOK_BACKOFF_S = 0.5
WEBHOOK_TIMEOUT_S = 5.0
WEBHOOK_QUEUE_MAX = 10_000


class Sink(Protocol):
    def emit(self, alert: Alert) -> None: ...

    def close(self) -> None: ...


class JsonLinesSink:
    def __init__(self, path: Path | None = None) -> None:
        """To `path` (appended), or to stdout when None."""
        self._file: IO[str] = open(path, "a", encoding="utf-8") if path else sys.stdout  # noqa: SIM115
        self._owned = path is not None

    def emit(self, alert: Alert) -> None:
        self._file.write(alert_encoder.encode(alert).decode() + "\n")
        self._file.flush()

    def close(self) -> None:
        if self._owned:
            self._file.close()


class _DeadLetter(msgspec.Struct):
    reason: str
    alert: Alert


class WebhookSink:
    def __init__(
        self,
        url: str,
        dead_letter: Path,
        *,
        attempts: int = WEBHOOK_ATTEMPTS,
        backoff_s: float = WEBHOOK_BACKOFF_S,
        timeout_s: float = WEBHOOK_TIMEOUT_S,
    ) -> None:
        self.url = url
        self.dead_letter = dead_letter
        self.attempts = attempts
        self.backoff_s = backoff_s
        self.delivered = 0
        self.dead = 0
        self._client = httpx.Client(timeout=timeout_s)
        self._burying = threading.Lock()  # the caller's thread and the sender's
        self._queue: queue.Queue[Alert | None] = queue.Queue(WEBHOOK_QUEUE_MAX)
        self._thread = threading.Thread(target=self._run, name="alert-webhook", daemon=True)
        self._thread.start()

    def emit(self, alert: Alert) -> None:
        try:
            self._queue.put_nowait(alert)
        except queue.Full:
            self._bury(alert, f"more than {WEBHOOK_QUEUE_MAX:,} alerts waiting for {self.url}")

    def close(self) -> None:
        """Deliver (or bury) what is queued, then stop."""
        self._queue.put(None)
        self._thread.join()
        self._client.close()

    def _run(self) -> None:
        while (alert := self._queue.get()) is not None:
            self._deliver(alert)

    def _deliver(self, alert: Alert) -> None:
        body = alert_encoder.encode(alert)
        reason = ""
        for attempt in range(self.attempts):
            if attempt:
                time.sleep(self.backoff_s * 2 ** (attempt - 1))
            try:
                answer = self._client.post(
                    self.url, content=body, headers={"content-type": "application/json"}
                )
            except httpx.HTTPError as exc:
                reason = f"{type(exc).__name__}: {exc}"
                continue
            if answer.is_success:
                self.delivered += 1
                return
            reason = f"HTTP {answer.status_code}"
            if answer.status_code < 500:
                break  # the receiver refuses it: sending again changes nothing
        self._bury(alert, f"{reason} after {attempt + 1} attempt(s)")

    def _bury(self, alert: Alert, reason: str) -> None:
        line = msgspec.json.encode(_DeadLetter(reason, alert)).decode()
        with self._burying, open(self.dead_letter, "a", encoding="utf-8") as file:
            file.write(line + "\n")
            self.dead += 1
