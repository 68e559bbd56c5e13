"""Dashboards that cannot start say why: in the page, and from ``segexplore dashboard``.

Regression tests for issue 10: a ``--data`` folder with no contacts file showed only
"There was an error when executing cell [2]. Please run Voilà with --show_tracebacks=True"
(a flag the command lacked), and the command printed a URL to that page. Now the page
shows the package's own message (as ``segexplore profile`` prints it), the command exits
2 with it on stderr, and a kernel spec that cannot run the dashboard is refused before
Voilà starts. Every server here is real (``voila`` or the ``segexplore`` command).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from segexplore import sample_path
from segexplore.cli import dashboard as dashboard_cli

from .conftest import DASHBOARDS, RENDER_TIMEOUT, CommandServer, voila_server

pytestmark = [pytest.mark.browser, pytest.mark.slow]

#: Voilà's message when a cell fails and tracebacks are hidden: never what users should see.
VOILA_HIDDEN_ERROR = "There was an error when executing cell"


@pytest.fixture(scope="module")
def notes_folder(tmp_path_factory) -> Path:
    """A folder an analyst might pass as ``--data``: no contacts file, only notes."""
    folder = tmp_path_factory.mktemp("not-a-base")
    (folder / "notes.txt").write_text("call Marie about the May campaign\n", encoding="utf-8")
    return folder


def expected_message(folder: Path) -> str:
    """Written out by hand from the documented message of ``find_tables``."""
    return (f"no contacts file in folder '{folder}': expected contacts.parquet, "
            "contacts.csv or contacts.xlsx; it holds ['notes.txt']")


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("SEGEXPLORE_") and k != "QUERY_STRING"}
    env.update(extra)
    return env


# ------------------------------------------------------------------ in the page
@pytest.mark.parametrize("notebook", ["explorer", "segment_report"])
def test_the_page_names_the_missing_contacts_file(notebook, notes_folder, browser):
    """Voilà as configured by default (tracebacks hidden), data named by the environment
    variable ``segexplore dashboard --data`` sets."""
    with voila_server(DASHBOARDS / f"{notebook}.ipynb",
                      {"SEGEXPLORE_DATA": str(notes_folder)},
                      log_name=f"{notebook}-no-contacts", show_tracebacks=False) as server:
        page, log = browser.open(server, ".segexplore-error")
        try:
            browser.screenshot(page, f"{notebook}-no-contacts-file")
            box = page.inner_text(".segexplore-error")
            body = page.inner_text("body")
        finally:
            page.close()
    assert expected_message(notes_folder) in box, box
    assert "could not start" in box
    assert VOILA_HIDDEN_ERROR not in body and "show_tracebacks" not in body, body
    assert "Traceback" not in body


def test_a_query_string_folder_shows_the_same_message(notes_folder, browser):
    """``?data=...`` in the address (Voilà started with tracebacks on, as for debugging)
    choosing a data set the server offers (issue 11: only those): the message box, not a
    traceback of the loader's internals."""
    offered = json.dumps({notes_folder.name: str(notes_folder)})
    with voila_server(DASHBOARDS / "explorer.ipynb", _clean_env(SEGEXPLORE_DATA_SETS=offered),
                      log_name="explorer-query-no-contacts") as server:
        page, log = browser.open(server, ".segexplore-error",
                                 query=f"?data={notes_folder.name}")
        try:
            box = page.inner_text(".segexplore-error")
            body = page.inner_text("body")
        finally:
            page.close()
    assert expected_message(notes_folder) in box, box
    assert VOILA_HIDDEN_ERROR not in body, body


# ------------------------------------------------------------------ from the command
def _html_outputs(page: str) -> str:
    """The HTML outputs Voilà 0.5 embeds in a page as JSON (its JavaScript draws them)."""
    return "\n".join(str(o.get("data", {}).get("text/html", ""))
                     for o in dashboard_cli.page_outputs(page))


def _run_segexplore(*arguments: str, env: dict[str, str] | None = None,
                    timeout: float = RENDER_TIMEOUT + 60) -> subprocess.CompletedProcess:
    """``python -m segexplore ...`` to its end; on a timeout, its whole process group
    (Voilà, kernels) is killed before failing."""
    command = [sys.executable, "-m", "segexplore", *arguments]
    process = subprocess.Popen(command, env=env or _clean_env(), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
                               start_new_session=True)
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)  # the group started above, nothing else
        stdout, stderr = process.communicate()
        pytest.fail(f"{' '.join(command)} still running after {timeout:.0f} s\n"
                    f"{stdout[-2000:]}\n{stderr[-3000:]}", pytrace=False)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)  # nothing of it may outlive the test
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


def _offering(folder: Path) -> list[str]:
    """``--data`` options serving the bundled sample by default and offering ``folder`` to
    ``?data=`` (which may name nothing else, issue 11)."""
    return ["--data", str(sample_path()), "--data", str(folder)]


@pytest.mark.parametrize("command", ["dashboard", "report"])
def test_the_command_exits_2_with_the_cause_instead_of_a_url(command, notes_folder):
    port = dashboard_cli.free_port(18950)
    result = _run_segexplore(command, "--data", str(notes_folder), "--port", str(port),
                             "--no-browser")
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "http://" not in result.stdout, result.stdout
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"segexplore {command}: "), result.stderr
    assert expected_message(notes_folder) in last, result.stderr
    # The server is gone: nothing listens on its port any more.
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=5).close()


def test_show_tracebacks_passes_the_traceback_to_the_page(notes_folder):
    """``--show-tracebacks`` (off by default) is for debugging: message and traceback."""
    port = dashboard_cli.free_port(18960)
    server = CommandServer([sys.executable, "-m", "segexplore", "dashboard", "--port",
                            str(port), "--no-browser", "--show-tracebacks",
                            *_offering(notes_folder)],
                           env=_clean_env(), log_name="dashboard-show-tracebacks")
    try:
        url = server.wait_url(RENDER_TIMEOUT * 2)
        with urllib.request.urlopen(f"{url}?data={notes_folder}",
                                    timeout=RENDER_TIMEOUT) as response:
            page = response.read().decode("utf-8", errors="replace")
    finally:
        status = server.stop()
    assert status == 0, server.log()
    assert 'class="segexplore-error"' in _html_outputs(page)
    assert "Traceback" in page and "find_tables" in page, page[-3000:]


def test_without_the_flag_the_page_keeps_tracebacks_hidden(notes_folder):
    port = dashboard_cli.free_port(18970)
    server = CommandServer([sys.executable, "-m", "segexplore", "dashboard", "--port",
                            str(port), "--no-browser", *_offering(notes_folder)],
                           env=_clean_env(), log_name="dashboard-hidden-tracebacks")
    try:
        url = server.wait_url(RENDER_TIMEOUT * 2)
        with urllib.request.urlopen(f"{url}?data={notes_folder}",
                                    timeout=RENDER_TIMEOUT) as response:
            page = response.read().decode("utf-8", errors="replace")
    finally:
        server.stop()
    assert 'class="segexplore-error"' in _html_outputs(page)
    assert "Traceback" not in page and "find_tables" not in page
    assert VOILA_HIDDEN_ERROR not in page


# ------------------------------------------------------------------ the kernel
def test_a_kernel_spec_running_another_python_is_refused_before_voila_starts(tmp_path):
    """A ``python3`` kernel spec (found first on JUPYTER_PATH) whose interpreter has
    neither ipykernel nor segexplore: Voilà would serve a page that never runs."""
    bare = tmp_path / "bare-venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True,
                   timeout=120)
    python = bare / "bin" / "python"
    kernels = tmp_path / "jupyter" / "kernels" / "python3"
    kernels.mkdir(parents=True)
    (kernels / "kernel.json").write_text(json.dumps({
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (elsewhere)", "language": "python"}), encoding="utf-8")
    port = dashboard_cli.free_port(18980)
    result = _run_segexplore("dashboard", "--port", str(port), "--no-browser",
                             env=_clean_env(JUPYTER_PATH=str(tmp_path / "jupyter")),
                             timeout=120)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "http://" not in result.stdout
    message = result.stderr.strip().splitlines()[-1]
    assert "Jupyter kernel 'python3'" in message and str(python) in message, message
    assert "cannot import ipykernel, segexplore" in message, message
    assert "ipykernel install" in message, message  # names a fix
    assert "[Voila]" not in result.stderr  # refused before starting Voilà


# ------------------------------------------------------------------ no server left behind
def _listening(port: int) -> bool:
    with contextlib.suppress(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        return True
    return False


def test_a_closed_output_pipe_stops_the_server_too():
    """``segexplore dashboard | head -1`` when the reader has already left: printing the
    URL fails (BrokenPipeError) and the command used to return leaving Voilà running."""
    port = dashboard_cli.free_port(18990)
    process = subprocess.Popen(
        [sys.executable, "-m", "segexplore", "dashboard", "--port", str(port),
         "--no-browser"], env=_clean_env(), stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        process.stdout.close()  # nobody reads: the first print fails
        assert process.wait(timeout=RENDER_TIMEOUT + 60) == 0
        deadline = time.monotonic() + 30
        while _listening(port) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not _listening(port), f"Voilà still serves on port {port}"
    finally:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)  # the group started above, nothing else
        process.wait(timeout=10)


def test_sigterm_while_the_page_is_checked_stops_the_server_too():
    """The readiness check renders the page once (minutes on a large base): SIGTERM then
    must stop Voilà as it does while serving, not end the command and leave Voilà."""
    port = dashboard_cli.free_port(18995)
    process = subprocess.Popen(
        [sys.executable, "-m", "segexplore", "dashboard", "--port", str(port),
         "--no-browser"], env=_clean_env(), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True, start_new_session=True)
    try:
        for line in process.stderr:  # Voilà's log, then the command's own line
            if "check that the page renders" in line:
                break
        process.send_signal(signal.SIGTERM)
        stdout, _ = process.communicate(timeout=60)
        assert process.returncode == 130, stdout
        assert "http://" not in stdout
        deadline = time.monotonic() + 30
        while _listening(port) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not _listening(port), f"Voilà still serves on port {port}"
    finally:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)  # the group started above, nothing else
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)
