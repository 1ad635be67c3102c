"""A real `clearhouse serve` on a loopback port, in its own process."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

_LISTENING = re.compile(r"listening on (https?://[0-9.]+:\d+)")
START_S = 60.0


class Server:
    def __init__(self, data: Path, *extra: str, surveillance: bool = False) -> None:
        """`surveillance` runs the detectors' follower beside the venue (off by
        default: most tests do not need a third process on two cores)."""
        self.data = data
        self.stderr_path = data.parent / f"{data.name}-serve-{time.monotonic_ns()}.log"
        self._stderr = open(self.stderr_path, "w+b")  # noqa: SIM115
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from clearhouse.cli import main; main()",
                "serve",
                "--port",
                "0",
                "--data",
                str(data),
                "--workers",
                "1",
                "--checkpoint-interval-s",
                "0.1",
                *(() if surveillance else ("--no-surveillance",)),
                *extra,
            ],
            stdout=subprocess.DEVNULL,
            stderr=self._stderr,
        )
        self.url = self._wait_for_address()

    def _wait_for_address(self) -> str:
        deadline = time.monotonic() + START_S
        while time.monotonic() < deadline:
            found = _LISTENING.search(self.log())
            if found:
                return found.group(1)
            if self.process.poll() is not None:
                raise AssertionError(f"clearhouse serve exited early:\n{self.log()}")
            time.sleep(0.05)
        raise AssertionError(f"clearhouse serve did not listen within {START_S} s:\n{self.log()}")

    def log(self) -> str:
        return self.stderr_path.read_bytes().decode(errors="replace")

    def terminate(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=60)

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(timeout=60)

    def close(self) -> None:
        if self.process.poll() is None:
            self.kill()
        self._stderr.close()
