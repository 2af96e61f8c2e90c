"""math-verify calls that work on any thread, with timeouts.

On the main thread math-verify's own signal timeouts apply. Signals only work there, so off it
the call goes to a worker process (`python -m` this module) that runs math-verify on its own main
thread with the same timeouts, and is killed and restarted when it overruns them.
"""
from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Optional

TIMEOUT_S = 5    # integer seconds: math-verify's signal timeouts take whole seconds
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])


def _as_float(value) -> Optional[float]:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number == number else None   # NaN


def run_math_verify(op: str, gold: str, pred: str, timeout: int) -> tuple[str, object]:
    """One math-verify computation on this thread: ("ok", value) or ("timeout", None).

    op "verify": verify(parse(gold), parse(pred)) -> bool; op "number": pred's parsed number or None.
    """
    from math_verify import parse, verify
    from math_verify.errors import TimeoutException
    try:
        parsed = parse(pred, parsing_timeout=timeout, raise_on_error=True)
        if op == "number":
            return "ok", _as_float(parsed[0]) if parsed else None
        target = parse(gold, parsing_timeout=timeout, raise_on_error=True)
        return "ok", bool(verify(target, parsed, timeout_seconds=timeout, raise_on_error=True))
    except TimeoutException:   # a BaseException: `except Exception` would miss it
        return "timeout", None
    except Exception:   # math-verify's parse/verify errors: an unreadable answer
        return "ok", None if op == "number" else False


class _Worker:
    """A child process answering one JSON request per line on stdin with one JSON line on stdout."""

    def __init__(self):
        self._lock = threading.Lock()
        self._proc: Optional[subprocess.Popen] = None
        self._buffer = b""

    def _start(self) -> None:
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            p for p in (_PACKAGE_ROOT, os.environ.get("PYTHONPATH")) if p))
        self._proc = subprocess.Popen([sys.executable, "-m", __name__], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
        self._buffer = b""

    def _stop(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            self._proc.stdin.close()
            self._proc.stdout.close()
        self._proc = None

    def _read_line(self, deadline: float) -> Optional[bytes]:
        fd = self._proc.stdout.fileno()
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return None
            chunk = os.read(fd, 65536)
            if not chunk:
                return None   # the worker died
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line

    def call(self, op: str, gold: str, pred: str, timeout: int) -> tuple[str, object]:
        with self._lock:
            fresh = self._proc is None or self._proc.poll() is not None
            if fresh:
                self._stop()
                self._start()
            try:
                self._proc.stdin.write((json.dumps([op, gold, pred, timeout]) + "\n").encode())
                self._proc.stdin.flush()
            except BrokenPipeError:
                self._stop()
                return "died", None
            # two parses and a verify, each under `timeout`; a new worker first imports sympy
            line = self._read_line(time.monotonic() + 3 * timeout + 2 + (60 if fresh else 0))
            if line is None:
                died = self._proc.poll() is not None
                self._stop()
                return ("died" if died else "timeout"), None
            status, value = json.loads(line)
            return status, value

    def close(self) -> None:
        with self._lock:
            self._stop()


_WORKER = _Worker()


def math_verify_call(op: str, gold: str, pred: str, timeout: Optional[int] = None) -> tuple[str, object]:
    """`run_math_verify` here on the main thread, else in the worker process.

    Status "ok", "timeout" (overran `timeout`, default TIMEOUT_S), or "died" (the worker crashed).
    """
    timeout = TIMEOUT_S if timeout is None else timeout
    if threading.current_thread() is threading.main_thread():
        return run_math_verify(op, gold, pred, timeout)
    return _WORKER.call(op, gold, pred, timeout)


def _serve() -> None:
    for line in sys.stdin:
        op, gold, pred, timeout = json.loads(line)
        sys.stdout.write(json.dumps(run_math_verify(op, gold, pred, timeout)) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    _serve()
