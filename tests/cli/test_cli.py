"""The ``segexplore`` sub-commands ``sample``, ``segment``, ``profile``, ``dashboard`` and
``report``, through :func:`segexplore.cli.main`, and once as ``python -m segexplore``; how
the dashboards find their data; and that a built wheel ships the dashboards."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import zipfile
from pathlib import Path

import pandas as pd
import pytest

import segexplore as se
from segexplore.cli import dashboard as dashboard_cli
from segexplore.cli import main
from segexplore.dashboards import (
    base_from_environment,
    data_sources,
    find_tables,
    segments_from_environment,
)
from segexplore.errors import DataSetRefusedError, FileFormatError

ROOT = Path(__file__).resolve().parents[2]
LYON_ANDROID = 'city in ("Lyon") and device in ("Android")'


@pytest.fixture(scope="module")
def small_base_dir(tmp_path_factory) -> Path:
    """A generated 300-contact base written by ``segexplore sample``."""
    folder = tmp_path_factory.mktemp("base")
    assert main(["sample", "--contacts", "300", "--out", str(folder), "--seed", "3"]) == 0
    return folder


# ------------------------------------------------------------------ sample
def test_sample_writes_a_seeded_base(small_base_dir, tmp_path, capsys):
    names = sorted(p.name for p in small_base_dir.iterdir())
    assert names == ["contacts.parquet", "events.parquet", "orders.parquet"]
    base = se.read_base(*(small_base_dir / n for n in names))
    assert len(base.contacts) == 300 and len(base.events) > 0
    # same seed, same files; CSV on request
    assert main(["sample", "--contacts", "300", "--out", str(tmp_path), "--seed", "3",
                 "--format", "csv"]) == 0
    printed = capsys.readouterr().out
    assert f"contacts: {tmp_path / 'contacts.csv'}" in printed
    again = pd.read_csv(tmp_path / "contacts.csv")
    first = pd.read_parquet(small_base_dir / "contacts.parquet")
    assert again["email"].tolist() == first["email"].astype(str).tolist()


def test_sample_refuses_a_count_below_one(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["sample", "--contacts", "0", "--out", "x"])
    assert exit_info.value.code == 2
    assert "--contacts" in capsys.readouterr().err


# ------------------------------------------------------------------ segment
def test_segment_prints_the_size_and_writes_the_members(tmp_path, capsys):
    # Every member is written only with --all-members (issue 10: without it, --out writes
    # what `export` would, see tests/cli/test_cli_issue10.py).
    out = tmp_path / "members.csv"
    status = main(["segment", str(se.sample_path()), "--rule", LYON_ANDROID,
                   "--out", str(out), "--all-members"])
    assert status == 0
    printed = capsys.readouterr().out
    expected = se.load_sample().segment(LYON_ANDROID)
    assert printed.split()[0] == str(expected.size)
    assert f"rule: {LYON_ANDROID}" in printed
    written = pd.read_csv(out)
    assert sorted(written["contact_id"]) == sorted(expected.members()["contact_id"])
    assert {"email", "city", "device"} <= set(written.columns)


def test_segment_on_a_contacts_file_with_events(small_base_dir, capsys):
    rule = "count(purchase, last 365 days) >= 1"
    status = main(["segment", str(small_base_dir / "contacts.parquet"),
                   "--events", str(small_base_dir / "events.parquet"),
                   "--orders", str(small_base_dir / "orders.parquet"), "--rule", rule])
    assert status == 0
    base = se.read_base(*(small_base_dir / f"{n}.parquet"
                          for n in ("contacts", "events", "orders")))
    assert capsys.readouterr().out.split()[0] == str(base.segment(rule).size)


def test_segment_with_a_bad_rule_exits_2_with_the_position(capsys):
    assert main(["segment", str(se.sample_path()), "--rule", "city ="]) == 2
    err = capsys.readouterr().err
    assert "segexplore segment:" in err and "position 6" in err
    assert "Traceback" not in err


def test_segment_on_a_missing_file_exits_2(tmp_path, capsys):
    assert main(["segment", str(tmp_path / "nope.csv"), "--rule", "age > 1"]) == 2
    assert "no such file" in capsys.readouterr().err


# ------------------------------------------------------------------ profile
def test_profile_prints_the_summary(small_base_dir, capsys):
    assert main(["profile", str(small_base_dir)]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("Profile('base': 300 contacts")
    lines = printed.splitlines()
    assert lines[1].split()[:3] == ["attribute", "kind", "count"]
    assert any(line.split()[:2] == ["device", "categorical"] for line in lines)


def test_profile_writes_the_offline_html_report(small_base_dir, tmp_path, capsys):
    pytest.importorskip("segexplore.display.html", reason="the HTML report is segexplore.display.html's")
    html = tmp_path / "profile.html"
    assert main(["profile", str(small_base_dir), "--html", str(html)]) == 0
    assert f"HTML report written to {html}" in capsys.readouterr().out
    text = html.read_text(encoding="utf-8")
    assert "<html" in text.lower() and "device" in text
    assert not re.search(r"<script[^>]+src=[\"']https?://", text)  # offline: no CDN


# ------------------------------------------------------------------ data for dashboards
def test_data_sources_let_the_query_string_choose_only_an_allowed_data_set():
    """Issue 11: ``?data=`` used to override the environment with any path; it now only
    chooses among SEGEXPLORE_DATA_SETS (the default's --events go with the default), and
    ``?orders=`` is refused (see tests/browser/test_dashboard_security.py)."""
    environ = {"SEGEXPLORE_DATA": "/env/contacts.csv", "SEGEXPLORE_EVENTS": "/env/e.csv",
               "SEGEXPLORE_DATA_SETS": json.dumps({"contacts.csv": "/env/contacts.csv",
                                                   "c.parquet": "/q/c.parquet"}),
               "QUERY_STRING": "data=%2Fq%2Fc.parquet&events="}
    assert data_sources(environ) == {"contacts": "/q/c.parquet"}
    with pytest.raises(DataSetRefusedError):
        data_sources(dict(environ, QUERY_STRING="data=c.parquet&orders=/q/o.parquet"))
    assert data_sources({"SEGEXPLORE_DATA": "  ", "QUERY_STRING": ""}) == {}


def test_base_from_environment_reads_a_folder_or_files(small_base_dir):
    from_folder = base_from_environment({"SEGEXPLORE_DATA": str(small_base_dir)})
    assert len(from_folder.contacts) == 300 and len(from_folder.events) > 0
    only_contacts = base_from_environment(  # ?data= names a file under the data root
        {"SEGEXPLORE_DATA_ROOT": str(small_base_dir), "QUERY_STRING": "data=contacts.parquet"})
    assert len(only_contacts.contacts) == 300 and only_contacts.events is None
    assert len(base_from_environment({}).contacts) == len(se.load_sample().contacts)


def test_find_tables_names_what_is_missing(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(FileFormatError, match=r"no contacts file.*notes\.txt"):
        find_tables(tmp_path)
    with pytest.raises(FileFormatError, match="no such file"):
        find_tables(tmp_path / "absent.csv")


def test_segments_from_a_json_file_with_a_parent(tmp_path):
    base = se.load_sample()
    android = base.segment('device = "Android"', name="Android")
    entries = [android.to_dict(),
               {"name": "Android in Lyon", "rule": 'city = "Lyon"', "parent": "Android"}]
    path = tmp_path / "segments.json"
    path.write_text(json.dumps(entries), encoding="utf-8")
    fresh = se.load_sample()
    segments = segments_from_environment(fresh, {"SEGEXPLORE_SEGMENTS": str(path)})
    assert [s.name for s in segments] == ["Android", "Android in Lyon"]
    assert segments[1].size == fresh.count(LYON_ANDROID)
    assert set(fresh.segments) == {"Android", "Android in Lyon"}


def test_segments_from_a_catalog(tmp_path):
    from segexplore.delivery.catalog import Catalog

    catalog = Catalog()
    catalog.add("Android", 'device = "Android"')
    catalog.add("Android in Lyon", 'city = "Lyon"', parent="Android")
    path = catalog.save(tmp_path / "catalog.yaml")
    base = se.load_sample()
    segments = segments_from_environment(base, {"SEGEXPLORE_SEGMENTS": str(path)})
    assert [s.name for s in segments] == ["Android", "Android in Lyon"]
    assert segments[1].size == base.count(LYON_ANDROID)


# ------------------------------------------------------------------ dashboard / report
def _environ_of(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    return dict(item.split("=", 1) for item in raw.decode(errors="replace").split("\0")
                if "=" in item)


@pytest.mark.slow
@pytest.mark.parametrize("command, notebook", [("dashboard", "explorer.ipynb"),
                                                ("report", "segment_report.ipynb")])
def test_dashboard_starts_voila_and_prints_the_url(command, notebook, small_base_dir,
                                                   monkeypatch, capsys):
    if not Path("/proc/self/environ").exists():
        pytest.skip("reads the server's environment from /proc")
    seen = {}

    def fake_serve(process):  # instead of waiting for Ctrl+C: look, then stop
        try:
            seen["environ"] = _environ_of(process.pid)
            seen["cmdline"] = Path(f"/proc/{process.pid}/cmdline").read_bytes().split(b"\0")
        finally:
            dashboard_cli.stop(process)
        return 0

    monkeypatch.setattr(dashboard_cli, "serve", fake_serve)
    for variable in ("SEGEXPLORE_DATA", "SEGEXPLORE_EVENTS", "SEGEXPLORE_ORDERS"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.chdir(small_base_dir.parent)
    port = dashboard_cli.free_port(18800)
    status = main([command, "--data", small_base_dir.name, "--port", str(port),
                   "--no-browser"])
    assert status == 0
    assert f"http://127.0.0.1:{port}/" in capsys.readouterr().out
    assert seen["environ"]["SEGEXPLORE_DATA"] == str(small_base_dir.resolve())
    assert "SEGEXPLORE_EVENTS" not in seen["environ"]
    arguments = [a.decode() for a in seen["cmdline"] if a]
    assert arguments[-1].endswith(f"segexplore/dashboards/{notebook}")
    assert "--Voila.ip=127.0.0.1" in arguments and "--strip_sources=True" in arguments


@pytest.mark.slow
def test_dashboard_on_a_busy_port_says_so(capsys):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["dashboard", "--port", str(port), "--no-browser"]) == 2
    # Said before Voilà starts (it used to start and stop: "voila stopped before serving").
    assert f"port {port} is in use by another program" in capsys.readouterr().err


def test_dashboard_refuses_a_missing_data_path(tmp_path, capsys):
    assert main(["dashboard", "--data", str(tmp_path / "absent"), "--no-browser"]) == 2
    assert "no such file or folder" in capsys.readouterr().err


def _read_lines(stream, lines: queue.Queue) -> None:
    for line in stream:
        lines.put(line)


@pytest.mark.slow
def test_python_m_segexplore_dashboard_serves_the_explorer(small_base_dir):
    """The real command in a subprocess: prints the URL, the page runs the notebook on the
    data given, SIGTERM stops the server and its kernel."""
    port = dashboard_cli.free_port(18830)
    process = subprocess.Popen(
        [sys.executable, "-m", "segexplore", "dashboard", "--data", str(small_base_dir),
         "--port", str(port), "--no-browser"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT,
        start_new_session=True)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=_read_lines, args=(process.stdout, lines), daemon=True).start()
    output = []
    try:
        url = None
        deadline = time.monotonic() + 90
        while url is None and time.monotonic() < deadline and process.poll() is None:
            with contextlib.suppress(queue.Empty):
                line = lines.get(timeout=1)
                output.append(line)
                if line.startswith("segexplore explorer: http://"):
                    url = line.split(": ", 1)[1].strip()
        assert url == f"http://127.0.0.1:{port}/", "".join(output)
        with urllib.request.urlopen(url, timeout=120) as response:  # runs the notebook
            page = response.read().decode("utf-8", errors="replace")
        assert "application/vnd.jupyter.widget-view+json" in page, page[-3000:]
        assert "Traceback" not in page and "error when executing" not in page, page[-3000:]
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=10)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)  # the group started above, nothing else


# ------------------------------------------------------------------ packaging
@pytest.mark.slow
def test_a_built_wheel_ships_the_dashboards(tmp_path):
    """``segexplore dashboard`` must work after a plain, non-editable ``pip install``."""
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "segexplore", source / "segexplore",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    from importlib.metadata import version

    # The SPDX ``license = "..."`` needs setuptools >= 77; an older one installed here means
    # building as a plain ``pip install`` does, in an isolated environment.
    recent = int(version("setuptools").split(".")[0]) >= 77
    isolation = ["--no-build-isolation"] if recent else []
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", *isolation,
         "--disable-pip-version-check", "-q", "-w", str(tmp_path / "dist"), str(source)],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    wheel = next((tmp_path / "dist").glob("segexplore-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for notebook in ("explorer.ipynb", "segment_report.ipynb"):
        assert f"segexplore/dashboards/{notebook}" in names
    assert "segexplore/dashboards/__init__.py" in names
    assert "segexplore/cli/dashboard.py" in names


def test_a_dashboard_on_a_port_another_server_holds_is_refused(small_base_dir, monkeypatch,
                                                                     capsys):
    # Found when two test runs shared the machine: our Voilà could not bind the port, and
    # the readiness checks were answered by the dashboard another process served there, so
    # the command printed a URL to someone else's data.
    import http.server

    page = f"<script>{dashboard_cli._WIDGET}</script>".encode()

    class OtherDashboard(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            self.send_response(200)
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args):
            pass

    port = dashboard_cli.free_port(18950)
    other = http.server.ThreadingHTTPServer(("127.0.0.1", port), OtherDashboard)
    thread = threading.Thread(target=other.serve_forever, daemon=True)
    thread.start()
    try:
        monkeypatch.chdir(small_base_dir.parent)
        started = []
        monkeypatch.setattr(dashboard_cli.subprocess, "Popen",
                            lambda *a, **k: started.append(a) or pytest.fail("started"))
        status = main(["dashboard", "--data", small_base_dir.name, "--port", str(port),
                       "--no-browser"])
        assert status == 2
        assert f"port {port} is in use" in capsys.readouterr().err
        assert started == []  # refused before Voilà was started
    finally:
        other.shutdown()
        other.server_close()
