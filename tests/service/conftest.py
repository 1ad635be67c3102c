"""The `serve` fixture: start real servers, and stop whatever a test left running."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from served import Server


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[type[Server]]:
    started: list[Server] = []

    class Started(Server):
        def __init__(
            self, data: Path = tmp_path / "venue", *extra: str, surveillance: bool = False
        ) -> None:
            super().__init__(data, *extra, surveillance=surveillance)
            started.append(self)

    yield Started
    for server in started:
        server.close()
