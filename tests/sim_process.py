"""Run a simulator of an external system as its own process for a test (shared by the
population-registry and payment-gateway simulators' test support).

``simulator_process(argv, prefix)`` starts ``argv`` (which should pass ``--port 0``), waits for
its ``listening on http://…`` line, yields ``(url, process, log)`` and stops the process at
exit; its stderr (the request log) goes to ``log`` (a temporary file unless one is given).
"""

import contextlib
import os
import re
import select
import subprocess
import tempfile
import time
from pathlib import Path

START_TIMEOUT = 60.0


def options_to_arguments(options: dict) -> list[str]:
    """Keyword options as ``--dashed-options``: a list repeats it, True is a bare flag."""
    args: list[str] = []
    for name, value in options.items():
        flag = "--" + name.replace("_", "-")
        if value is True:
            args.append(flag)
        elif value is False or value is None:
            continue
        elif isinstance(value, list | tuple):
            for v in value:
                args += [flag, str(v)]
        else:
            args += [flag, str(value)]
    return args


def _first_line(process: subprocess.Popen, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], 0.2)
        if ready:
            return process.stdout.readline()
        if process.poll() is not None:
            return ""
    return ""


@contextlib.contextmanager
def simulator_process(argv: list[str], prefix: str, log: Path | None = None):
    temp = None
    if log is None:
        temp = tempfile.NamedTemporaryFile(prefix=prefix, suffix=".log", delete=False)  # noqa: SIM115
        temp.close()
        log = Path(temp.name)
    with log.open("w", encoding="utf-8") as err:
        process = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=err, text=True, env={**os.environ}
        )
        try:
            line = _first_line(process, START_TIMEOUT)
            found = re.search(r"listening on (http://\S+)", line)
            if not found:
                process.kill()
                process.wait()
                raise RuntimeError(
                    f"The simulator did not start: {line!r}\n{log.read_text(encoding='utf-8')}"
                )
            yield found.group(1), process, log
        finally:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            if process.stdout:
                process.stdout.close()
    if temp is not None:
        log.unlink(missing_ok=True)
