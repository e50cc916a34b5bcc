"""Progress bars for the long phases of a job (tqdm: terminals and notebooks alike).

Matching reports its phases as messages (``progress=`` of :func:`crmcore.dedupe`): a phase
starts with a message such as ``"comparing 12,345 candidate pairs"``, and steps inside a phase
read ``"  comparison 2/5: email"``. :class:`ProgressBars` turns them into one bar per phase,
with the counts in its title and the steps as the bar's position.

tqdm is a core dependency: the command line is the main way in for a new user and needs its bars
on a plain ``pip install crmcore``; tqdm is pure Python with no dependencies of its own, and
``tqdm.auto`` draws a widget bar in Jupyter and a text bar in a terminal.
"""

from __future__ import annotations

import importlib.util
import re
import sys
import time
from typing import IO, Any

_STEP = re.compile(r"^\s+(?P<what>.*?)\s*(?P<k>\d+)/(?P<n>\d+)(?::\s*(?P<name>.*))?$")


class ProgressBars:
    """A ``progress=`` callback that draws one bar per phase.

    Args:
        quiet: Draw nothing.
        file: Where bars go (default ``sys.stderr``).
        notebook: Force (True) or forbid (False) notebook widgets; default: tqdm.auto decides.
        always: Draw even when ``file`` is not a terminal (by default bars are drawn only on a
            terminal or in a notebook, so logs and pipes stay clean).

    Example:
        >>> bars = ProgressBars(quiet=True)
        >>> bars("comparing 10 candidate pairs"); bars("  comparison 1/2: email"); bars.close()
        >>> bars.phases
        ['comparing 10 candidate pairs']
    """

    def __init__(
        self,
        *,
        quiet: bool = False,
        file: IO[str] | None = None,
        notebook: bool | None = None,
        always: bool = False,
    ) -> None:
        self.quiet = quiet
        self.file = file if file is not None else sys.stderr
        self.notebook = notebook
        self.always = always
        self.phases: list[str] = []
        self.seconds: list[float] = []
        self._bar: Any = None
        self._start = 0.0

    def _enabled(self) -> bool:
        if self.quiet:
            return False
        if self.always or self.notebook:
            return True
        isatty = getattr(self.file, "isatty", None)
        return bool(isatty and isatty()) or _in_notebook()

    def _open(self, title: str) -> None:
        if not self._enabled():
            return
        widgets = self.notebook or (self.notebook is None and _in_notebook())
        bar_class: Any
        if widgets and importlib.util.find_spec("ipywidgets") is not None:
            from tqdm.notebook import tqdm as bar_class
        else:  # a text bar (in a notebook without ipywidgets it shows as text output)
            from tqdm import tqdm as bar_class
        self._bar = bar_class(total=None, desc=title, file=self.file, leave=True, unit="step",
                         bar_format="{desc} {bar} {n_fmt}/{total_fmt} [{elapsed}]")

    def __call__(self, message: str) -> None:
        """Take one progress message: a new phase, or a step inside the current one."""
        step = _STEP.match(message)
        if step is None:
            self.close()
            self.phases.append(message.strip())
            self._start = time.perf_counter()
            self._open(message.strip())
            return
        if self._bar is not None:
            self._bar.total = int(step["n"])
            self._bar.n = int(step["k"])
            if step["name"]:
                self._bar.set_postfix_str(step["name"], refresh=False)
            self._bar.refresh()

    def close(self) -> None:
        """End the current phase's bar (call once the job is done)."""
        if self.phases and len(self.seconds) < len(self.phases):
            self.seconds.append(time.perf_counter() - self._start)
        if self._bar is not None:
            if self._bar.total is None:
                self._bar.total = 1
                self._bar.n = 1
            else:
                self._bar.n = self._bar.total
            self._bar.refresh()
            self._bar.close()
            self._bar = None


def _in_notebook() -> bool:
    """True inside a Jupyter kernel (IPython with a kernel app)."""
    shell = sys.modules.get("IPython")
    if shell is None:
        return False
    ip = shell.get_ipython() if hasattr(shell, "get_ipython") else None
    return ip is not None and "IPKernelApp" in getattr(ip, "config", {})
