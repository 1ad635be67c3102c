"""Alert sinks: a webhook receiver that fails for a while still gets every alert;
one that refuses, or never answers, leaves them in the dead-letter file with why."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from clearhouse.surveillance.alerts import Alert, alert_decoder, make_alert
from clearhouse.surveillance.sinks import JsonLinesSink, WebhookSink


def alert(seq: int) -> Alert:
    return make_alert(
        "reject_rate",
        seq,
        seq * 1_000,
        score=90,
        accounts=("broken",),
        instruments=("BTC-PERP",),
        evidence=(seq - 1, seq),
        summary="a flood",
    )


class Receiver:
    """A local HTTP receiver answering the statuses queued, then 200."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.received: list[bytes] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                status = owner.statuses.pop(0) if owner.statuses else 200
                if status == 200:
                    owner.received.append(body)
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alerts"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def receiver() -> Iterator[Callable[[list[int]], Receiver]]:
    made: list[Receiver] = []

    def make(statuses: list[int]) -> Receiver:
        made.append(Receiver(statuses))
        return made[-1]

    yield make
    for r in made:
        r.server.shutdown()


def test_a_receiver_failing_for_a_while_gets_every_alert_in_order(
    receiver: Callable[[list[int]], Receiver], tmp_path: Path
) -> None:
    target = receiver([500, 503, 502])
    dead = tmp_path / "dead.jsonl"
    sink = WebhookSink(target.url, dead, backoff_s=0.01)
    for seq in (10, 20, 30):
        sink.emit(alert(seq))
    sink.close()
    assert [alert_decoder.decode(b).seq for b in target.received] == [10, 20, 30]
    assert (sink.delivered, sink.dead) == (3, 0) and not dead.exists()


def test_refused_or_unreachable_alerts_go_to_the_dead_letter_file(
    receiver: Callable[[list[int]], Receiver], tmp_path: Path
) -> None:
    target = receiver([400])
    dead = tmp_path / "dead.jsonl"
    sink = WebhookSink(target.url, dead, backoff_s=0.01)
    sink.emit(alert(10))  # refused: 4xx is not retried
    sink.emit(alert(20))  # delivered
    sink.close()
    nowhere = WebhookSink("http://127.0.0.1:9/alerts", dead, attempts=2, backoff_s=0.01)
    nowhere.emit(alert(30))
    nowhere.close()
    buried = [json.loads(line) for line in dead.read_text().splitlines()]
    assert [(b["alert"]["seq"], b["reason"].split()[0]) for b in buried] == [
        (10, "HTTP"),
        (30, "ConnectError:"),
    ]
    assert "after 1 attempt" in buried[0]["reason"] and "after 2 attempt" in buried[1]["reason"]
    assert [alert_decoder.decode(b).seq for b in target.received] == [20]


def test_json_lines_append_one_alert_a_line(tmp_path: Path) -> None:
    path = tmp_path / "alerts.jsonl"
    for seq in (1, 2):
        sink = JsonLinesSink(path)
        sink.emit(alert(seq + 1))
        sink.close()
    assert [alert_decoder.decode(line).seq for line in path.read_text().splitlines()] == [2, 3]
