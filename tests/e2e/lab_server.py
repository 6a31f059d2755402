"""Start and stop a private JupyterLab server for the browser tests.

The server runs from the project's ``.venv`` on 127.0.0.1, on a free port, with a random
token, over a temporary copy of ``lab/``, the students' working copy that ``make lab``
serves (made from ``notebooks/`` by ``make lab-copy``), so the tests open what a student
opens and their autosaves land in neither folder. Its user settings, workspaces, config and
runtime folders are temporary too, so nothing on the machine (an old workspace layout, a
user setting, a news pop-up) changes what the tests see, and the tests change nothing there.

Settings written for the run:

* notebook windowing mode ``none``, so every cell is in the DOM (JupyterLab otherwise
  attaches only the cells in the viewport, and a screenshot or a query misses the rest);
* no kernel-restart confirmation dialog, so "Restart Kernel and Run All" runs at once;
* no news fetch and no update check (the machine may be offline; a toast would cover cells).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
JUPYTER = REPO / ".venv" / "bin" / "jupyter"
# Developers may point the tests at another folder of notebooks (a scratch lesson, say).
NOTEBOOKS_ENV = "GOQUEUE_E2E_NOTEBOOKS"
#: The working copy ``make lab`` serves; the tracked lessons are in ``notebooks/``.
WORKING_COPY = REPO / "lab"
TRACKED = REPO / "notebooks"

# Plugin id -> settings, written as <settings dir>/<package>/<plugin>.jupyterlab-settings.
USER_SETTINGS: dict[str, dict[str, object]] = {
    "@jupyterlab/notebook-extension:tracker": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension:sessionDialogs": {"skipKernelRestartDialog": True},
    "@jupyterlab/apputils-extension:notification": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}


@dataclass(frozen=True)
class LabServer:
    """A running JupyterLab server.

    Attributes:
        base_url: ``http://127.0.0.1:<port>/`` with a trailing slash.
        token: the random token the server accepts.
        root_dir: the temporary copy of ``lab/`` that the server serves.
        process: the server process (started by the fixture, stopped by it).
    """

    base_url: str
    token: str
    root_dir: Path
    process: subprocess.Popen[bytes]

    def url(self, path: str) -> str:
        """Return the absolute URL of ``path`` (no leading slash) with the token.

        Args:
            path: a server path such as ``lab/tree/01.ipynb``.

        Returns:
            The URL with ``token=`` appended as a query parameter.
        """
        sep = "&" if "?" in path else "?"
        return f"{self.base_url}{path}{sep}token={self.token}"

    def api(self, method: str, path: str) -> object:
        """Call the server's REST API and return the decoded JSON (``None`` if empty).

        Args:
            method: ``GET``, ``DELETE`` ...
            path: a path under ``api/``, for example ``api/sessions``.

        Returns:
            The decoded JSON body, or ``None`` for an empty body.

        Raises:
            urllib.error.URLError: if the server does not answer.
        """
        request = urllib.request.Request(
            f"{self.base_url}{path}",
            method=method,
            headers={"Authorization": f"token {self.token}"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body else None

    def shutdown_kernels(self) -> None:
        """Delete every session (and so its kernel) so the next notebook runs alone."""
        sessions = self.api("GET", "api/sessions")
        assert isinstance(sessions, list)
        for session in sessions:
            self.api("DELETE", f"api/sessions/{session['id']}")


def notebooks_dir() -> Path:
    """Return the folder of notebooks to test: ``lab/`` or ``$GOQUEUE_E2E_NOTEBOOKS``."""
    return Path(os.environ.get(NOTEBOOKS_ENV) or WORKING_COPY)


def make_working_copy() -> str:
    """Bring ``lab/`` up to date the way ``make lab`` does (``make lab-copy``: notebooks it
    lacks are copied in, none is overwritten).

    Returns:
        What ``make`` printed (the notebooks it copied, if any).

    Raises:
        subprocess.CalledProcessError: ``make lab-copy`` failed.
    """
    done = subprocess.run(
        ["make", "--no-print-directory", "-s", "lab-copy"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return done.stdout


def stale_copies() -> list[str]:
    """The lessons whose copy in ``lab/`` differs from ``notebooks/`` (edited by a student,
    or copied before the lesson changed): the tests run them as they are in ``lab/``."""
    return [
        path.name
        for path in sorted(TRACKED.glob("[0-9][0-9]_*.ipynb"))
        if (WORKING_COPY / path.name).is_file()
        and (WORKING_COPY / path.name).read_bytes() != path.read_bytes()
    ]


def lesson_notebooks() -> list[str]:
    """Return the file names of the lesson notebooks (``NN_topic.ipynb``), sorted."""
    return sorted(path.name for path in notebooks_dir().glob("[0-9][0-9]_*.ipynb"))


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def write_user_settings(settings_dir: Path) -> None:
    """Write :data:`USER_SETTINGS` as JupyterLab user-settings files under ``settings_dir``."""
    for plugin_id, values in USER_SETTINGS.items():
        package, plugin = plugin_id.split(":")
        target = settings_dir / package / f"{plugin}.jupyterlab-settings"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(values, indent=2))


def start_lab(notebooks: Path, workdir: Path, *, timeout: float = 90.0) -> LabServer:
    """Copy ``notebooks`` into ``workdir`` and start JupyterLab on the copy.

    Args:
        notebooks: the folder of notebooks to serve (copied, never modified).
        workdir: an empty temporary folder for the copy, settings and logs.
        timeout: seconds to wait for ``/api/status`` to answer.

    Returns:
        The running server.

    Raises:
        RuntimeError: if the server exits or does not answer within ``timeout``; the
            message includes the end of its log.
    """
    root = workdir / "notebooks"
    shutil.copytree(notebooks, root, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    settings_dir = workdir / "user-settings"
    write_user_settings(settings_dir)
    env = dict(os.environ)
    env.update(
        JUPYTERLAB_SETTINGS_DIR=str(settings_dir),
        JUPYTERLAB_WORKSPACES_DIR=str(workdir / "workspaces"),
        JUPYTER_CONFIG_DIR=str(workdir / "config"),
        JUPYTER_RUNTIME_DIR=str(workdir / "runtime"),
        # Kernel specs and lab extensions then come from .venv only, not from ~/.local.
        JUPYTER_DATA_DIR=str(workdir / "data"),
        PYTHONUNBUFFERED="1",
    )
    token = secrets.token_hex(16)
    port = free_port()
    log_path = workdir / "jupyterlab.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                str(JUPYTER),
                "lab",
                "--no-browser",
                "--ip=127.0.0.1",
                f"--port={port}",
                "--port-retries=0",
                f"--IdentityProvider.token={token}",
                "--allow-root",
                f"--ServerApp.root_dir={root}",
                "--LabApp.expose_app_in_browser=True",
                "--LabApp.news_url=None",
                "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
                "--ServerApp.open_browser=False",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=root,
            env=env,
        )
    server = LabServer(f"http://127.0.0.1:{port}/", token, root, process)
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(
                f"jupyterlab exited with code {process.returncode}:\n{tail(log_path)}"
            )
        try:
            server.api("GET", "api/status")
            return server
        except (urllib.error.URLError, ConnectionError):
            pass
        if time.monotonic() >= deadline:
            stop_lab(server)
            raise RuntimeError(f"jupyterlab did not answer in {timeout:.0f} s:\n{tail(log_path)}")
        time.sleep(0.25)  # a poll interval, not an ordering device


def stop_lab(server: LabServer, *, timeout: float = 15.0) -> None:
    """Stop the server process that :func:`start_lab` started: terminate, then kill.

    Args:
        server: the server to stop.
        timeout: seconds to wait after SIGTERM before SIGKILL.
    """
    process = server.process
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout)


def tail(path: Path, lines: int = 40) -> str:
    """Return the last ``lines`` lines of the text file at ``path`` ('' if missing)."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


if __name__ == "__main__":  # manual use: python tests/e2e/lab_server.py <notebooks dir>
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        lab = start_lab(Path(sys.argv[1]), Path(tmp))
        print(lab.url("lab"), flush=True)
        try:
            lab.process.wait()
        except KeyboardInterrupt:
            stop_lab(lab)
