"""Run the code blocks of a Markdown guide in order, as a reader would, and check their output.

Fences in the guides (docs/examples/*.md) say what each block is:

- ```` ```bash env ````: ``export`` lines every later block starts from (data dir, port, URL);
  the test appends its own exports after them (a free port, the data sets' folder), so the
  reader's defaults are shown but never used by the test;
- ```` ```bash ```` and ```` ```python ````: run, in order, in one working directory; a block
  failing fails the guide;
- ```` ```output ````: lines the previous block must print (each a substring of its stdout
  or stderr; a ``...`` line is skipped);
- anything else (```` ```text ````, ```` ```json ````, ```` ```toml ````): shown, not run.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

FENCE = re.compile(r"^```([A-Za-z]*)([^\n`]*)\n(.*?)^```\s*$", re.S | re.M)
RUNNABLE = ("bash", "python")
BLOCK_TIMEOUT = 300.0


@dataclass
class Block:
    """One fenced block: its language, extra info words, text and expected output lines."""

    lang: str
    flags: tuple[str, ...]
    text: str
    line: int
    expected: list[str] = field(default_factory=list)


def parse_blocks(markdown: str) -> list[Block]:
    """Every fenced block of ``markdown``, each ``output`` block attached to the block before."""
    blocks: list[Block] = []
    for match in FENCE.finditer(markdown):
        lang, info, text = match.group(1), match.group(2).split(), match.group(3)
        line = markdown.count("\n", 0, match.start()) + 1
        if lang == "output":
            if not blocks or blocks[-1].lang not in RUNNABLE:
                raise ValueError(f"line {line}: an output block must follow a bash/python block")
            blocks[-1].expected += [
                s.strip() for s in text.splitlines() if s.strip() and s.strip() != "..."
            ]
            continue
        blocks.append(Block(lang, tuple(info), text, line))
    return blocks


@dataclass
class GuideRun:
    """Runs one guide's blocks in ``workdir`` with ``overrides`` exported after its env blocks."""

    path: Path
    workdir: Path
    overrides: dict[str, str]
    prelude: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)

    def _env_script(self) -> str:
        exports = [f"export {k}={_quote(v)}" for k, v in self.overrides.items()]
        return "\n".join(["set -eo pipefail", *self.prelude, *exports, ""])

    def _base_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RECSERVE_")}
        bin_dir = str(Path(sys.executable).parent)
        env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
        env.setdefault("HF_HUB_OFFLINE", "1")
        env.setdefault("OPENBLAS_NUM_THREADS", "1")
        return env

    def _python_env(self) -> dict[str, str]:
        """The environment a reader's shell has after the env blocks: for python blocks."""
        dump = subprocess.run(
            ["bash", "-c", self._env_script() + "env -0"],
            capture_output=True,
            cwd=self.workdir,
            env=self._base_env(),
            check=True,
        )
        pairs = (item.split(b"=", 1) for item in dump.stdout.split(b"\0") if b"=" in item)
        return {k.decode(): v.decode() for k, v in pairs}

    def run_block(self, block: Block) -> str:
        """Run one block; raise AssertionError naming the block when it fails."""
        if block.lang == "bash":
            argv = ["bash", "-c", self._env_script() + block.text]
            env = self._base_env()
        else:
            argv = [sys.executable, "-c", block.text]
            env = self._python_env()
        result = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            cwd=self.workdir,
            env=env,
            timeout=BLOCK_TIMEOUT,
            stdin=subprocess.DEVNULL,
        )
        where = f"{self.path.name}:{block.line}"
        output = result.stdout + result.stderr
        if result.returncode != 0:
            raise AssertionError(f"{where} exited {result.returncode}:\n{output[-6000:]}")
        for expected in block.expected:
            if expected not in output:
                raise AssertionError(f"{where}: {expected!r} not in its output:\n{output[-6000:]}")
        return output

    def run(self) -> list[str]:
        """Every runnable block in order; the outputs, one per block run."""
        for block in parse_blocks(self.path.read_text()):
            if block.lang == "bash" and "env" in block.flags:
                self.prelude.append(block.text)
            elif block.lang in RUNNABLE:
                self.outputs.append(self.run_block(block))
        return self.outputs

    def stop_servers(self) -> None:
        """Terminate a server a guide started and left running (a failed run), by its pid file."""
        for pid_file in self.workdir.rglob("server.pid"):
            with contextlib.suppress(ValueError, ProcessLookupError, PermissionError):
                os.kill(int(pid_file.read_text().strip()), signal.SIGTERM)


def _quote(value: str) -> str:
    return "'" + value.replace("'", "'\\''") + "'"
