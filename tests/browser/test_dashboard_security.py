"""Dashboards serve only their data, to whom they should (issue 11).

Regression tests for what a probe of ``segexplore dashboard`` found: a request with
``Host: evil.example`` was answered 200 (DNS rebinding); ``?data=/any/path`` loaded any
file the server could read (5 of 8 probed paths outside the data it was started with,
one of them its Export button then returned); every ``GET /`` started a kernel that was
never shut down (20 loads left 29 kernels, after 9 probes). Servers here are real
(``segexplore dashboard``, or ``python -m segexplore.dashboards.server``); kernels are
counted as the ``ipykernel`` processes descending from the server.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.parse
from argparse import Namespace
from pathlib import Path

import pytest

from segexplore.cli import dashboard as dashboard_cli
from segexplore.cli import main
from segexplore.dashboards import (
    DATA_ROOT,
    DATA_SETS,
    choose_data_set,
    data_sources,
)
from segexplore.errors import DashboardStartError, DataSetRefusedError

from .conftest import DASHBOARDS, RENDER_TIMEOUT, CommandServer

#: What a page whose notebook rendered the app holds.
WIDGET = "application/vnd.jupyter.widget-view+json"
REFUSED = "this dashboard does not serve the data named in the address"


# ------------------------------------------------------------------ data on disk
@pytest.fixture(scope="module")
def bases(tmp_path_factory) -> dict[str, Path]:
    """Two data sets a server is started with (``spring``: 300 contacts, ``june``: 200),
    a data root (``q1/`` base, a ``.hidden/`` base, a link leading out of it, a folder of
    notes), and a ``secret`` base outside all of them that no page may open."""
    top = tmp_path_factory.mktemp("bases")
    made = {}
    for name, contacts, fmt in (("spring", 300, "parquet"), ("june", 200, "csv"),
                                ("secret", 150, "csv"), ("root/q1", 120, "parquet"),
                                ("root/.hidden", 110, "parquet")):
        folder = top / name
        assert main(["sample", "--contacts", str(contacts), "--out", str(folder), "--seed",
                     "4", "--format", fmt]) == 0
        made[name] = folder
    root = top / "root"
    (root / "notes").mkdir()
    (root / "notes" / "notes.txt").write_text("call Marie\n", encoding="utf-8")
    (root / "out-link").symlink_to(top / "secret", target_is_directory=True)
    made.update(root=root, top=top)
    return made


def _environ(bases, query: str = "", **extra: str) -> dict[str, str]:
    """The kernel environment ``segexplore dashboard --data spring --data june
    --data-root root`` gives a page whose query string is ``query``."""
    environ = {"SEGEXPLORE_DATA": str(bases["spring"]),
               DATA_SETS: json.dumps({"spring": str(bases["spring"]),
                                      "june": str(bases["june"])}),
               DATA_ROOT: str(bases["root"]), "QUERY_STRING": query}
    environ.update(extra)
    return environ


def _query(value: str, parameter: str = "data") -> str:
    return urllib.parse.urlencode({parameter: value})


def _refused_values(bases) -> list[str]:
    """Every way of naming the secret base (or another file) that a page tried."""
    secret, root = bases["secret"], bases["root"]
    return [str(secret), str(secret / "contacts.csv"), "/etc/passwd",
            f"{bases['spring']}/../secret", "../secret", "q1/../../secret",
            str(root / "out-link"), "out-link", "out-link/contacts.csv", ".hidden",
            str(root / ".hidden"), "missing", "secret", str(root / ".." / "secret"),
            "spr\0ing", str(root)[:-1]]


# ------------------------------------------------------------------ what ?data= may name
def test_the_address_chooses_only_among_the_data_sets_given(bases):
    spring, june, root = bases["spring"], bases["june"], bases["root"]
    assert data_sources(_environ(bases)) == {"contacts": str(spring)}
    assert data_sources(_environ(bases, _query("june"))) == {"contacts": str(june)}
    assert data_sources(_environ(bases, _query(str(june) + "/"))) == {"contacts": str(june)}
    assert data_sources(_environ(bases, _query("q1"))) == {"contacts": str(root / "q1")}
    assert data_sources(_environ(bases, _query("q1/contacts.parquet"))) == {
        "contacts": str(root / "q1" / "contacts.parquet")}
    assert data_sources(_environ(bases, _query(str(root / "notes")))) == {
        "contacts": str(root / "notes")}
    assert data_sources(_environ(bases, "data=&theme=dark")) == {"contacts": str(spring)}


@pytest.mark.parametrize("index", range(16))
def test_anything_else_is_refused_without_repeating_it(bases, index):
    value = _refused_values(bases)[index]
    with pytest.raises(DataSetRefusedError) as refused:
        data_sources(_environ(bases, _query(value)))
    message = str(refused.value)
    assert message.startswith(REFUSED), message
    assert "'june', 'spring'" in message and "data root" in message
    assert value.strip("\0") not in message and "secret" not in message, message
    assert isinstance(refused.value, PermissionError)


def test_without_data_sets_the_address_cannot_change_the_data(bases):
    environ = {"SEGEXPLORE_DATA": str(bases["spring"]), "QUERY_STRING": _query("june")}
    with pytest.raises(DataSetRefusedError, match="serves only the data it was started"):
        data_sources(environ)
    # Its own default, by name or path, stays allowed (the data it was started with).
    assert choose_data_set("spring", environ) == str(bases["spring"])
    with pytest.raises(DataSetRefusedError):
        choose_data_set(str(bases["secret"]), {"QUERY_STRING": ""})


@pytest.mark.parametrize("parameter", ["events", "orders", "segments"])
def test_events_orders_and_segments_cannot_be_named_in_the_address(bases, parameter):
    path = str(bases["secret"] / ("events.csv" if parameter != "segments" else "s.json"))
    with pytest.raises(DataSetRefusedError, match=r"may only choose the data set") as refused:
        data_sources(_environ(bases, _query(path, parameter)))
    assert path not in str(refused.value)


def test_events_and_orders_given_at_start_go_with_the_default_only(bases):
    extra = {"SEGEXPLORE_EVENTS": "/srv/e.csv", "SEGEXPLORE_ORDERS": "/srv/o.csv",
             "SEGEXPLORE_SEGMENTS": "/srv/s.yaml"}
    assert data_sources(_environ(bases, _query("spring"), **extra)) == {
        "contacts": str(bases["spring"]), "events": "/srv/e.csv", "orders": "/srv/o.csv",
        "segments": "/srv/s.yaml"}
    assert data_sources(_environ(bases, _query("june"), **extra)) == {
        "contacts": str(bases["june"]), "segments": "/srv/s.yaml"}


def test_the_command_names_the_data_sets_and_keeps_only_its_own(bases, monkeypatch):
    monkeypatch.setenv(DATA_SETS, json.dumps({"stale": "/"}))
    monkeypatch.setenv(DATA_ROOT, "/")
    args = Namespace(data=[str(bases["spring"]), str(bases["june"] / "contacts.csv")],
                     data_root=None, events=None, orders=None, show_tracebacks=False)
    environment = dashboard_cli.dashboard_environment(args)
    assert environment["SEGEXPLORE_DATA"] == str(bases["spring"].resolve())
    assert json.loads(environment[DATA_SETS]) == {
        "spring": str(bases["spring"].resolve()),
        "contacts.csv": str((bases["june"] / "contacts.csv").resolve())}
    assert DATA_ROOT not in environment  # the inherited root is not this command's
    args.data = [str(bases["spring"]), str(bases["root"] / "q1" / ".." / ".." / "spring")]
    assert len(json.loads(dashboard_cli.dashboard_environment(args)[DATA_SETS])) == 1
    args.data = [str(bases["june"] / "contacts.csv"),
                 str(bases["secret"] / "contacts.csv")]
    with pytest.raises(DashboardStartError, match="both named 'contacts.csv'"):
        dashboard_cli.dashboard_environment(args)
    args.data, args.data_root = None, str(bases["spring"] / "contacts.parquet")
    with pytest.raises(DashboardStartError, match="must be a folder"):
        dashboard_cli.dashboard_environment(args)


# ------------------------------------------------------------------ tokens
def test_beyond_loopback_a_token_is_required():
    assert dashboard_cli.server_token(Namespace(ip="127.0.0.1", token=None)) == ("", False)
    assert dashboard_cli.server_token(Namespace(ip="localhost", token="abc")) == ("abc", False)
    token, generated = dashboard_cli.server_token(Namespace(ip="0.0.0.0", token=None))
    assert generated and re.fullmatch(r"[0-9a-f]{48}", token)
    assert dashboard_cli.server_token(Namespace(ip="0.0.0.0", token="given")) == ("given",
                                                                                  False)
    with pytest.raises(DashboardStartError, match="needs a token"):
        dashboard_cli.server_token(Namespace(ip="0.0.0.0", token=" "))


@pytest.mark.slow
def test_the_server_itself_refuses_to_listen_beyond_loopback_without_a_token():
    """``python -m segexplore.dashboards.server`` run by hand, not by the command."""
    port = dashboard_cli.free_port(19420, host="0.0.0.0")
    command = dashboard_cli.voila_command(DASHBOARDS / "explorer.ipynb", port, ip="0.0.0.0")
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER_TOKEN")}
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120,
                            stdin=subprocess.DEVNULL)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "without a token" in result.stderr, result.stderr[-2000:]
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=5).close()


# ------------------------------------------------------------------ a real server
def _kernels(server: CommandServer) -> int:
    """``ipykernel`` processes descending from the server's process."""
    count = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            if b"ipykernel" not in (entry / "cmdline").read_bytes():
                continue
            pid = int(entry.name)
            while pid > 1:
                if pid == server.process.pid:
                    count += 1
                    break
                stat = Path(f"/proc/{pid}/stat").read_text()
                pid = int(stat.rsplit(")", 1)[1].split()[1])
    return count


def _request(port: int, path: str = "/", method: str = "GET", headers=None,
             body: bytes | None = None, timeout: float = RENDER_TIMEOUT * 2):
    """One HTTP request, redirects not followed: ``(status, headers, text)``."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return (response.status, dict(response.getheaders()),
                response.read().decode("utf-8", errors="replace"))
    finally:
        connection.close()


def _outputs_html(page: str) -> str:
    return "\n".join(str(o.get("data", {}).get("text/html", ""))
                     for o in dashboard_cli.page_outputs(page))


def _kernel_id(page: str) -> str:
    found = re.search(r'"kernelId":\s*"([0-9a-fA-F-]{36})"', page)
    assert found, page[-2000:]
    return found.group(1)


def _websocket(port: int, kernel_id: str, origin: str, token: str = ""):
    """Open a kernel websocket by hand: ``(status, socket)``; the socket stays open."""
    key = base64.b64encode(secrets.token_bytes(16)).decode()
    path = f"/api/kernels/{kernel_id}/channels?session_id={secrets.token_hex(8)}"
    if token:
        path += f"&token={token}"
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)
    sock.sendall((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                  f"Sec-WebSocket-Version: 13\r\nOrigin: {origin}\r\n\r\n").encode())
    answer = b""
    while b"\r\n\r\n" not in answer:
        chunk = sock.recv(4096)
        if not chunk:
            break
        answer += chunk
    status = int(answer.split(b" ", 2)[1]) if answer else 0
    return status, sock


def _wait_for(condition, timeout: float, message: str):
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s: {message}")
        time.sleep(0.5)
    return result


#: Short enough for the tests to see idle kernels go: pages no browser opened end after
#: this many idle seconds (checked every 2 s).
IDLE = 8
MAX = 3


@pytest.fixture(scope="module")
def server(bases):
    """``segexplore dashboard --data spring --data june --data-root root`` on loopback,
    at most 3 kernels, idle ones ended after 8 s, ``dash.example`` (a reverse proxy's
    name, say) accepted as a Host."""
    port = dashboard_cli.free_port(19300)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("SEGEXPLORE_") and k != "QUERY_STRING"}
    command = CommandServer(
        [sys.executable, "-m", "segexplore", "dashboard", "--data", str(bases["spring"]),
         "--data", str(bases["june"]), "--data-root", str(bases["root"]), "--port",
         str(port), "--no-browser", "--max-kernels", str(MAX), "--kernel-idle-timeout",
         str(IDLE), "--allow-host", "dash.example"], env=env, log_name="dashboard-security")
    try:
        assert command.wait_url(RENDER_TIMEOUT * 2) == f"http://127.0.0.1:{port}/"
        command.port = port
        yield command
    finally:
        assert command.stop() == 0, command.log()


@pytest.mark.slow
@pytest.mark.parametrize("host", ["evil.example", "evil.example:{port}",
                                  "127.0.0.1.evil.example:{port}", "192.168.1.20:{port}"])
def test_a_forged_host_gets_403_and_starts_no_kernel(server, host):
    before = _kernels(server)
    status, _, body = _request(server.port, "/?data=june",
                               headers={"Host": host.format(port=server.port),
                                        "Origin": "http://evil.example"})
    assert status == 403, body[-1000:]
    assert WIDGET not in body and "segexplore" not in body.lower()
    assert _kernels(server) <= before  # none started (idle ones may have ended meanwhile)


@pytest.mark.slow
def test_localhost_is_served_and_other_origins_cannot_use_its_kernel(server):
    status, _, page = _request(server.port, "/?data=june",
                               headers={"Host": f"localhost:{server.port}"})
    assert status == 200 and WIDGET in page and "segexplore-error" not in page, page[-2000:]
    kernel = _kernel_id(page)
    status, _, other = _request(server.port, "/", headers={"Host": "dash.example"})
    assert status == 200 and WIDGET in other, other[-2000:]  # --allow-host
    assert dashboard_cli.shutdown_kernel(server.port, _kernel_id(other))
    # A page elsewhere cannot talk to the kernel, nor shut it down.
    status, sock = _websocket(server.port, kernel, origin="http://evil.example")
    sock.close()
    assert status == 403
    xsrf = secrets.token_hex(8)
    status, _, _ = _request(server.port, f"/voila/api/shutdown/{kernel}", "POST",
                            headers={"Origin": "http://evil.example",
                                     "Cookie": f"_xsrf={xsrf}", "X-XSRFToken": xsrf},
                            body=b"")
    assert status in (403, 404)
    status, sock = _websocket(server.port, kernel, origin=f"http://127.0.0.1:{server.port}")
    sock.close()
    assert status == 101  # its own page can
    assert dashboard_cli.shutdown_kernel(server.port, kernel)


@pytest.mark.slow
@pytest.mark.parametrize("value, parameter", [
    ("{secret}", "data"), ("../secret", "data"), ("out-link", "data"),
    ("{secret}/events.csv", "events")])
def test_data_outside_the_given_sets_is_refused_in_the_page(server, bases, value,
                                                            parameter):
    value = value.format(secret=bases["secret"])
    status, _, page = _request(server.port, "/?" + _query(value, parameter))
    assert status == 200
    box = _outputs_html(page)
    assert 'class="segexplore-error"' in box, page[-2000:]
    assert "does not serve the data" in box or "may only choose the data set" in box, box
    assert WIDGET not in page
    assert value not in page and "secret" not in page  # the probed path is not echoed
    assert urllib.parse.quote(value, safe="") not in page


@pytest.mark.slow
def test_a_data_set_under_the_root_is_the_one_loaded(server, bases):
    """``?data=notes`` (a folder of the data root without contacts) fails with the
    loader's own message naming that folder: the page opened it, and only it."""
    status, _, page = _request(server.port, "/?data=notes")
    assert status == 200
    expected = (f"no contacts file in folder '{bases['root'] / 'notes'}': expected "
                "contacts.parquet, contacts.csv or contacts.xlsx; it holds ['notes.txt']")
    assert expected in _outputs_html(page), page[-2000:]


@pytest.mark.slow
def test_twenty_page_loads_do_not_leave_twenty_kernels(server):
    """Before: 20 GETs left 20 more kernels. Now at most --max-kernels live, each load is
    served (the oldest kernel no page opened makes room), and they end once idle."""
    statuses = []
    for _ in range(20):
        status, _, page = _request(server.port, "/")
        statuses.append(status == 200 and WIDGET in page)
        assert _kernels(server) <= MAX
    assert all(statuses), statuses
    left = _kernels(server)
    assert 1 <= left <= MAX
    _wait_for(lambda: _kernels(server) == 0, IDLE * 6, "idle unopened kernels to end")


@pytest.mark.slow
def test_with_every_kernel_in_use_the_next_page_gets_503(server):
    sockets = []
    try:
        for _ in range(MAX):
            status, _, page = _request(server.port, "/")
            assert status == 200, page[-1000:]
            status, sock = _websocket(server.port, _kernel_id(page),
                                      origin=f"http://127.0.0.1:{server.port}")
            sockets.append(sock)
            assert status == 101
        status, _, page = _request(server.port, "/")
        assert status == 503, page[-2000:]
        assert f"Dashboard busy: it already serves {MAX} pages" in page
        assert _kernels(server) == MAX
    finally:
        for sock in sockets:
            sock.close()
    # Pages closed without their shutdown call: idle, they end after the idle timeout.
    _wait_for(lambda: _kernels(server) == 0, IDLE * 6, "idle kernels to be culled")


# ------------------------------------------------------------------ beyond loopback
@pytest.fixture(scope="module")
def remote_server(bases):
    """``segexplore dashboard --ip 0.0.0.0``: a token is generated and printed."""
    port = dashboard_cli.free_port(19350, host="0.0.0.0")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SEGEXPLORE_", "JUPYTER_TOKEN")) and k != "QUERY_STRING"}
    command = CommandServer(
        [sys.executable, "-m", "segexplore", "dashboard", "--ip", "0.0.0.0", "--data",
         str(bases["spring"]), "--data", str(bases["june"]), "--port", str(port),
         "--no-browser"], env=env, log_name="dashboard-remote")
    try:
        command.wait_url(RENDER_TIMEOUT * 2)
        command.wait_output("Press Ctrl+C to stop.", 30)  # the lines printed under the URL
        command.port = port
        yield command
    finally:
        assert command.stop() == 0, command.log()


@pytest.mark.slow
def test_beyond_loopback_the_page_needs_the_printed_token(remote_server):
    url = urllib.parse.urlparse(remote_server.url)
    assert url.port == remote_server.port and url.hostname == socket.gethostname()
    token = urllib.parse.parse_qs(url.query)["token"][0]
    assert re.fullmatch(r"[0-9a-f]{48}", token)
    output = remote_server.log()
    assert output.count(token) == 1, output  # printed once, in the URL
    assert "?data= may choose: 'spring' (the default), 'june'" in output
    before = _kernels(remote_server)
    for path in ("/", "/?token=wrong", f"/?token={token[:-1]}"):
        status, headers, body = _request(remote_server.port, path)
        assert status in (302, 403), (path, status)
        assert WIDGET not in body
    assert _kernels(remote_server) <= before  # refused before any kernel started
    status, _, page = _request(remote_server.port, f"/?token={token}")
    assert status == 200 and WIDGET in page, page[-2000:]


@pytest.mark.slow
def test_the_token_url_works_in_a_browser_and_chooses_a_data_set(remote_server, browser):
    """Chromium on the printed URL plus ``&data=june``: the app runs (its websocket is
    authenticated by the cookie the token set) on june's 200 contacts."""
    page, log = browser.open(remote_server, ".se-header",
                             query="&data=june")
    try:
        header = page.inner_text(".se-header")
        browser.screenshot(page, "dashboard-token-june")
    finally:
        page.close()
    assert "200 contacts" in header, (header, str(log))
