"""Sub-commands that serve the Voilà dashboards: ``dashboard`` and ``report``.

Both start Voilà (:mod:`segexplore.dashboards.server`) on a notebook shipped inside the
package (see :mod:`segexplore.dashboards`), on 127.0.0.1 unless ``--ip`` says otherwise,
pass the data to the notebook through the ``SEGEXPLORE_DATA``, ``SEGEXPLORE_EVENTS``,
``SEGEXPLORE_ORDERS`` (and ``SEGEXPLORE_SEGMENTS``) environment variables, and the engine
holding the base through ``SEGEXPLORE_ENGINE`` (``--engine duckdb``: its tables stay in
DuckDB, for bases larger than memory), print the URL once the dashboard really works and
keep serving until interrupted.

Who can reach a dashboard, and what it serves (issue 11):

- on loopback (the default), requests whose ``Host`` header names another machine get
  403 (DNS rebinding), and websockets and POSTs must come from the page's own origin;
- beyond loopback (``--ip 0.0.0.0``) a token is required: generated and printed once in
  the URL, unless given with ``--token``;
- ``?data=`` in the address may only choose among the data sets given with ``--data``
  (once or several times) or the files and folders under ``--data-root``;
- at most ``--max-kernels`` kernels (one per open page) live at once; kernels of pages
  no browser opened end after two minutes, idle ones after ``--kernel-idle-timeout``.

"Really works" (:func:`wait_until_ready`) means three checks, each failing with its cause
(exit status 2) instead of printing a URL to a broken page:

1. before Voilà starts, the notebook's Jupyter kernel exists and its Python can import
   ``ipykernel`` and ``segexplore`` (:func:`check_kernel`);
2. the server answers (:func:`wait_until_serving`);
3. the page renders: one GET of ``/`` runs the notebook, and the HTML must hold the app's
   widget and no error (:func:`check_page`); the kernel that GET started is shut down.
"""

from __future__ import annotations

import argparse
import contextlib
import html
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from segexplore.cli.data import add_connect_arguments
from segexplore.cli.kernels import check_kernel
from segexplore.dashboards import SHOW_TRACEBACKS
from segexplore.errors import DashboardStartError, closest_name

#: Voilà's own default port; the first free port from here on is used without ``--port``.
DEFAULT_PORT = 8866
#: Seconds to wait for the server to answer before giving up.
START_TIMEOUT = 60.0
#: Seconds of silence allowed while the first page renders (kernel start, data load: a
#: large base takes minutes).
RENDER_TIMEOUT = 600.0
HOST = "127.0.0.1"
#: Most kernels (open pages) alive at once; each holds its own copy of the base.
MAX_KERNELS = 8
#: Seconds without activity after which a page's kernel is shut down (page open or not).
IDLE_TIMEOUT = 3600
#: Seconds a kernel whose page no browser opened (a bare GET) is kept once idle.
UNCONNECTED_TIMEOUT = 120
#: The kernel manager that caps and culls the dashboard's kernels.
KERNEL_MANAGER = "segexplore.dashboards.server.DashboardKernelManager"


def free_port(start: int = DEFAULT_PORT, attempts: int = 100, host: str = HOST, *,
              required: bool = True) -> int | None:
    """The first port from ``start`` on that nothing listens to on ``host``; when none is
    free, :class:`DashboardStartError` (or None when not ``required``)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for port in range(start, start + attempts):
        with contextlib.closing(socket.socket(family, socket.SOCK_STREAM)) as probe:
            try:
                probe.bind((host, port))
            except OSError:
                continue
            return port
    if not required:
        return None
    raise DashboardStartError(f"no free port between {start} and {start + attempts - 1}")


def voila_command(notebook: str | os.PathLike[str], port: int,
                  show_tracebacks: bool = False, *, ip: str = HOST,
                  token: bool = False, max_kernels: int = MAX_KERNELS,
                  idle_timeout: int = IDLE_TIMEOUT,
                  allow_hosts: tuple[str, ...] = ()) -> list[str]:
    """The command line serving ``notebook`` on ``ip``:``port``, sources hidden.

    It runs :mod:`segexplore.dashboards.server` (Voilà with Host and Origin checks) with
    :class:`~segexplore.dashboards.server.DashboardKernelManager`: at most
    ``max_kernels`` kernels, culled after ``idle_timeout`` idle seconds (pages no browser
    opened: after :data:`UNCONNECTED_TIMEOUT`, or ``idle_timeout`` if shorter). With
    ``token``, the server requires the token found in its ``JUPYTER_TOKEN`` environment
    variable (kept off the command line, which every user of the machine can read).

    Examples
    --------
    >>> command = voila_command("explorer.ipynb", 8866, max_kernels=3, idle_timeout=60)
    >>> command[1:3], command[-1]
    (['-m', 'segexplore.dashboards.server'], 'explorer.ipynb')
    >>> [a for a in command if "cull" in a or "kernels=" in a]   # doctest: +NORMALIZE_WHITESPACE
    ['--DashboardKernelManager.max_kernels=3', '--MappingKernelManager.cull_idle_timeout=60',
     '--MappingKernelManager.cull_interval=15', '--MappingKernelManager.cull_connected=True']
    """
    unconnected = min(UNCONNECTED_TIMEOUT, idle_timeout)
    # Check often enough for the shorter of the two timeouts, at most every 30 s.
    interval = max(1, min(30, unconnected // 4))
    command = [sys.executable, "-m", "segexplore.dashboards.server", "--no-browser",
               f"--port={port}", f"--Voila.ip={ip}", "--Voila.port_retries=0",
               "--strip_sources=True", f"--show_tracebacks={show_tracebacks}",
               f"--VoilaConfiguration.multi_kernel_manager_class={KERNEL_MANAGER}",
               f"--DashboardKernelManager.max_kernels={max_kernels}",
               f"--DashboardKernelManager.unconnected_timeout={unconnected}",
               f"--MappingKernelManager.cull_idle_timeout={idle_timeout}",
               f"--MappingKernelManager.cull_interval={interval}",
               "--MappingKernelManager.cull_connected=True"]
    if token:
        command.append("--Voila.auto_token=True")  # the token itself: JUPYTER_TOKEN
    for name in ("localhost", *allow_hosts):  # a list option replaces the default
        command.append(f"--Voila.local_hostnames={name}")
    return [*command, str(notebook)]


def _existing(option: str, value: str) -> str:
    path = Path(value).expanduser()
    if not path.exists():
        raise DashboardStartError(f"--{option}: no such file or folder: {value!r}")
    return str(path.resolve())


def dashboard_environment(args: argparse.Namespace) -> dict[str, str]:
    """This process's environment plus the data paths (absolute: Voilà runs the kernel in
    the notebook's folder) and the data sets ``?data=`` may choose.

    The first ``--data`` is the page's default (``SEGEXPLORE_DATA``); every ``--data`` is
    listed by name in ``SEGEXPLORE_DATA_SETS``; ``--data-root`` becomes
    ``SEGEXPLORE_DATA_ROOT``. Those two are removed from the inherited environment when
    not given, so that only this command line decides what a page may open.

    Raises
    ------
    DashboardStartError
        A path that does not exist, a ``--data-root`` that is not a folder, or two
        ``--data`` with the same name (``?data=`` could not tell them apart).
    """
    from segexplore.dashboards import (
        CONNECT,
        CONNECT_SCHEMA,
        CONNECT_TABLES,
        DATA_ROOT,
        DATA_SETS,
        ENGINE,
        data_set_name,
    )

    environment = dict(os.environ)
    # Only this command line decides the engine, as it decides the data.
    environment[ENGINE] = getattr(args, "engine", None) or "pandas"
    for variable, option in ((CONNECT, "connect"), (CONNECT_SCHEMA, "schema"),
                             (CONNECT_TABLES, "tables")):
        environment.pop(variable, None)
        if getattr(args, option, None):
            environment[variable] = getattr(args, option)
    if environment.get(CONNECT) and getattr(args, "data", None):
        raise DashboardStartError("--connect reads the tables where they are: drop --data "
                                  "(name the tables with --tables)")
    if getattr(args, "show_tracebacks", False):
        environment[SHOW_TRACEBACKS] = "1"
    else:
        environment.pop(SHOW_TRACEBACKS, None)
    environment.pop(DATA_SETS, None)
    environment.pop(DATA_ROOT, None)
    data = getattr(args, "data", None) or []
    if isinstance(data, str):
        data = [data]
    sets: dict[str, str] = {}
    for value in data:
        path = _existing("data", value)
        name = data_set_name(path)
        if name in sets and sets[name] != path:
            raise DashboardStartError(
                f"--data {sets[name]!r} and --data {path!r} are both named {name!r}: "
                "?data= could not tell them apart; put them in differently named folders, "
                "or under one --data-root")
        sets[name] = path
    if sets:
        environment["SEGEXPLORE_DATA"] = next(iter(sets.values()))
        environment[DATA_SETS] = json.dumps(sets)
    root = getattr(args, "data_root", None)
    if root:
        path = _existing("data-root", root)
        if not Path(path).is_dir():
            raise DashboardStartError(f"--data-root must be a folder: {root!r}")
        environment[DATA_ROOT] = path
    names = {"events": "SEGEXPLORE_EVENTS", "orders": "SEGEXPLORE_ORDERS",
             "segments": "SEGEXPLORE_SEGMENTS"}
    for option, variable in names.items():
        value = getattr(args, option, None)
        if value:
            environment[variable] = _existing(option, value)
    return environment


def _url_host(host: str) -> str:
    """``host`` as it goes in a URL (IPv6 addresses in brackets)."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def connect_host(ip: str) -> str:
    """The address this machine reaches a server listening on ``ip`` at.

    Examples
    --------
    >>> connect_host("0.0.0.0"), connect_host(""), connect_host("::"), connect_host("10.0.0.2")
    ('127.0.0.1', '127.0.0.1', '::1', '10.0.0.2')
    """
    return {"": HOST, "0.0.0.0": HOST, "::": "::1"}.get(ip, ip)


def wait_until_serving(process: subprocess.Popen, port: int,
                     timeout: float = START_TIMEOUT, host: str = HOST) -> None:
    """Poll Voilà's static files (which, unlike ``/``, start no kernel) until it answers."""
    url = f"http://{_url_host(host)}:{port}/voila/static/"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise DashboardStartError(
                f"voila stopped before serving (exit status {process.returncode}); "
                "see its messages above")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return  # the server answers, even if with 404
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    raise DashboardStartError(f"voila did not answer on port {port} within {timeout:.0f} s")




#: What Voilà puts in a page whose notebook failed (tracebacks hidden or shown).
_FAILED_PAGE = (
    ("There was an error when executing cell", "a cell of the dashboard failed"),
    ("An exception occurred at the server", "the server failed while running the dashboard"),
    ("Cell execution timed out", "a cell of the dashboard timed out"),
    ("Traceback (most recent call last)", "a cell of the dashboard failed"),
)
_MESSAGE = re.compile(r'<pre class="segexplore-error-message"[^>]*>(.*?)</pre>', re.S)
_KERNEL_ID = re.compile(r'"kernelId":\s*"([0-9a-fA-F-]{36})"')
#: Voilà 0.5 ships rich outputs as JSON in these scripts (drawn by the page's JavaScript).
_OUTPUT = re.compile(
    r'<script type="application/vnd\.voila\.cell-output\+json">(.*?)</script>', re.S)
_WIDGET = "application/vnd.jupyter.widget-view+json"


def page_outputs(page: str) -> list[dict]:
    """The cell outputs Voilà embedded in a rendered page as JSON.

    Examples
    --------
    >>> page_outputs('<script type="application/vnd.voila.cell-output+json">'
    ...              '{"data": {"text/plain": "1"}, "output_type": "execute_result"}'
    ...              '</script>')
    [{'data': {'text/plain': '1'}, 'output_type': 'execute_result'}]
    """
    outputs = []
    for found in _OUTPUT.finditer(page):
        with contextlib.suppress(ValueError):
            output = json.loads(found.group(1))
            if isinstance(output, dict):
                outputs.append(output)
    return outputs


def page_problem(page: str) -> str | None:
    """Why a rendered dashboard page is not the app, or None when it is.

    The dashboard's own message (see :func:`segexplore.dashboards.error_html`) comes
    first; then Voilà's signs of a failed cell; then a page without the app's widget.

    Examples
    --------
    >>> page_problem('<pre class="segexplore-error-message">no file &#x27;a&#x27;</pre>')
    "no file 'a'"
    >>> page_problem("<pre>There was an error when executing cell [2]. Please...</pre>")
    "a cell of the dashboard failed: see voila's messages above, or run with --show-tracebacks to see it in the page"
    >>> page_problem(f'<script>{_WIDGET}</script>') is None
    True
    """
    outputs = page_outputs(page)
    html_parts = [str(o.get("data", {}).get("text/html", "")) for o in outputs]
    for part in (*html_parts, page):
        found = _MESSAGE.search(part)
        if found:
            return html.unescape(found.group(1)).strip()
    if any(o.get("output_type") == "error" for o in outputs):
        return ("a cell of the dashboard failed: see voila's messages above, or run with "
                "--show-tracebacks to see it in the page")
    for marker, problem in _FAILED_PAGE:
        if marker in page:
            return (f"{problem}: see voila's messages above, or run with --show-tracebacks "
                    "to see it in the page")
    if not any(_WIDGET in o.get("data", {}) for o in outputs) and _WIDGET not in page:
        return "the page shows no app (the notebook displayed no widget)"
    return None


def _page_text(page: str, limit: int = 300) -> str:
    """The visible text of an HTML error page, shortened."""
    page = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", page)
    text = re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page))).strip()
    text = text.replace("Voilà requires JavaScript. Please enable it to proceed.", "").strip()
    return text[-limit:]


def check_page(process: subprocess.Popen, port: int,
               timeout: float = RENDER_TIMEOUT, host: str = HOST, token: str = "") -> None:
    """GET the dashboard once, as a browser would, and fail unless it shows the app.

    The GET makes Voilà start a kernel and run the notebook; the page must hold the app's
    widget and no error (see :func:`page_problem`). That kernel, which no browser will
    connect to, is then shut down as the page itself does when closed.

    Raises
    ------
    DashboardStartError
        With the dashboard's own message (a missing contacts file...), the HTTP error
        (500 when Voilà finds no kernel), or the failed cell.
    """
    request = urllib.request.Request(f"http://{_url_host(host)}:{port}/",
                                     headers=_authorization(token))
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            page = response.read().decode("utf-8", errors="replace")
    except urllib.error.HTTPError as error:
        body = error.read().decode("utf-8", errors="replace")
        raise DashboardStartError(
            f"the dashboard page answers {error.code} {error.reason} "
            f"({_page_text(body)}); see voila's messages above") from None
    except (urllib.error.URLError, OSError) as error:
        if process.poll() is not None:
            raise DashboardStartError(
                f"voila stopped while rendering the dashboard (exit status "
                f"{process.returncode}); see its messages above") from None
        raise DashboardStartError(
            f"the dashboard page did not render ({error}; nothing for {timeout:.0f} s)") \
            from None
    kernel = _KERNEL_ID.search(page)
    if kernel:
        shutdown_kernel(port, kernel.group(1), host=host, token=token)
    problem = page_problem(page)
    if problem:
        raise DashboardStartError(f"the dashboard does not render: {problem}")


def _authorization(token: str) -> dict[str, str]:
    """The header authenticating a request with the server's token (none without one):
    a header rather than ``?token=``, which would reach the notebook's query string."""
    return {"Authorization": f"token {token}"} if token else {}


def shutdown_kernel(port: int, kernel_id: str, host: str = HOST, token: str = "") -> bool:
    """Shut a page's kernel down through Voilà's own endpoint (the one the page calls when
    it is closed); True when Voilà confirmed."""
    # Voilà checks a double-submit XSRF token: the same random value as cookie and header.
    xsrf = secrets.token_hex(16)
    request = urllib.request.Request(
        f"http://{_url_host(host)}:{port}/voila/api/shutdown/{kernel_id}", data=b"",
        method="POST",
        headers={"Cookie": f"_xsrf={xsrf}", "X-XSRFToken": xsrf, **_authorization(token)})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status < 300
    except (urllib.error.URLError, OSError):
        return False  # the kernel then ends with the server


def wait_until_ready(process: subprocess.Popen, port: int,
                     timeout: float = START_TIMEOUT,
                     render_timeout: float = RENDER_TIMEOUT, host: str = HOST,
                     token: str = "") -> None:
    """Wait until Voilà serves, then check that the dashboard page really renders."""
    wait_until_serving(process, port, timeout=timeout, host=host)
    check_page(process, port, timeout=render_timeout, host=host, token=token)


def server_token(args: argparse.Namespace) -> tuple[str, bool]:
    """The token the server requires ("" for none) and whether it was generated here.

    On loopback no token is needed (the Host check keeps other sites out) unless
    ``--token`` gives one; beyond loopback one is required: ``--token``, or a new one.

    Raises
    ------
    DashboardStartError
        ``--token ""`` beyond loopback.
    """
    from segexplore.dashboards.server import is_loopback

    ip = getattr(args, "ip", None) or HOST
    given = getattr(args, "token", None)
    if given is not None and given.strip():
        return given.strip(), False
    if is_loopback(ip):
        return "", False
    if given is not None:
        raise DashboardStartError(
            f"--ip {ip} makes the dashboard reachable from other machines: it needs a "
            "token (leave out --token to have one generated)")
    return secrets.token_hex(24), True


def page_url(ip: str, port: int, token: str = "", show_token: bool = True) -> str:
    """The URL users open: this machine's name when listening on all interfaces.

    Examples
    --------
    >>> page_url("127.0.0.1", 8866)
    'http://127.0.0.1:8866/'
    >>> page_url("10.0.0.2", 8866, "abc"), page_url("10.0.0.2", 8866, "abc", show_token=False)
    ('http://10.0.0.2:8866/?token=abc', 'http://10.0.0.2:8866/?token=...')
    """
    host = socket.gethostname() if ip in ("", "0.0.0.0", "::") else ip
    query = f"?token={token if show_token else '...'}" if token else ""
    return f"http://{_url_host(host)}:{port}/{query}"


def start(notebook_name: str, args: argparse.Namespace) -> tuple[subprocess.Popen, str]:
    """Start Voilà on a shipped dashboard; return the process and the URL once the page
    renders (see :func:`wait_until_ready`)."""
    from segexplore.dashboards import dashboard_path

    notebook = dashboard_path(notebook_name)
    environment = dashboard_environment(args)
    ip = getattr(args, "ip", None) or HOST
    token, generated = server_token(args)
    if token:
        environment["JUPYTER_TOKEN"] = token  # read by the server, never on a command line
    check_kernel(notebook)
    host = connect_host(ip)
    if args.port:
        # Another server on that port would answer the checks below for our Voilà, which
        # cannot bind it: the URL would then show someone else's dashboard.
        if free_port(args.port, attempts=1, host=ip or "0.0.0.0", required=False) is None:
            raise DashboardStartError(f"port {args.port} is in use by another program; "
                                      "choose another with --port, or leave --port out")
        port = args.port
    else:
        port = free_port(host=ip or "0.0.0.0")
    show_tracebacks = bool(getattr(args, "show_tracebacks", False))
    command = voila_command(
        notebook, port, show_tracebacks, ip=ip, token=bool(token),
        max_kernels=getattr(args, "max_kernels", None) or MAX_KERNELS,
        idle_timeout=getattr(args, "kernel_idle_timeout", None) or IDLE_TIMEOUT,
        allow_hosts=tuple(getattr(args, "allow_host", None) or ()))
    process = subprocess.Popen(command, env=environment, stdin=subprocess.DEVNULL)
    try:
        wait_until_serving(process, port, host=host)
        print(f"segexplore {notebook_name.replace('_', ' ')}: loading the data once to "
              "check that the page renders...", file=sys.stderr, flush=True)
        check_page(process, port, host=host, token=token)
        if process.poll() is not None:  # what answered was not ours (a port taken since)
            raise DashboardStartError(
                f"voila stopped (exit status {process.returncode}) and another program "
                f"answers on port {port}; choose another with --port")
    except BaseException:
        stop(process)
        raise
    return process, page_url(ip, port, token, show_token=generated)


def stop(process: subprocess.Popen, timeout: float = 10.0) -> None:
    """Terminate Voilà (and so its kernels); kill it if it does not stop in time."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout)


def serve(process: subprocess.Popen) -> int:
    """Wait for the server until it stops, Ctrl+C or SIGTERM; return the exit status.

    Voilà (and its kernels) are stopped on the way out, whatever ends the wait.
    """
    with _sigterm_interrupts():
        try:
            return process.wait() or 0
        except KeyboardInterrupt:
            return 0
        finally:
            stop(process)


@contextlib.contextmanager
def _sigterm_interrupts():
    """SIGTERM raises KeyboardInterrupt meanwhile, so ``finally`` blocks stop Voilà (the
    default action would end this process and leave Voilà running)."""
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        yield
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def _run(notebook_name: str, what: str, args: argparse.Namespace) -> int:
    try:
        with _sigterm_interrupts():
            process, url = start(notebook_name, args)  # stops Voilà itself on failure
    except KeyboardInterrupt:
        return 130
    try:
        print(f"segexplore {what}: {url}", flush=True)
        choice = data_choice(args)
        if choice:
            print(choice, flush=True)
        print("Press Ctrl+C to stop.", flush=True)
        if not args.no_browser:
            import webbrowser

            with contextlib.suppress(Exception):
                webbrowser.open(url)
        return serve(process)
    finally:
        stop(process)  # also when printing fails (output pipe closed): no orphan Voilà


def data_choice(args: argparse.Namespace) -> str:
    """What ``?data=`` may name on this server, for the lines printed under the URL.

    Examples
    --------
    >>> data_choice(argparse.Namespace(data=["/srv/spring", "/srv/june.csv"], data_root=None))
    "?data= may choose: 'spring' (the default), 'june.csv'"
    >>> data_choice(argparse.Namespace(data=None, data_root=None))
    ''
    """
    from segexplore.dashboards import data_set_name

    names = [data_set_name(Path(d).expanduser().resolve())
             for d in (getattr(args, "data", None) or [])]
    offers = []
    if len(names) > 1:
        offers.append(", ".join([f"{names[0]!r} (the default)",
                                 *(repr(n) for n in names[1:])]))
    root = getattr(args, "data_root", None)
    if root:
        offers.append(f"a file or folder under {str(Path(root).expanduser().resolve())!r} "
                      "(its path relative to that folder)")
    return f"?data= may choose: {'; or '.join(offers)}" if offers else ""


def _dashboard(args: argparse.Namespace) -> int:
    return _run("explorer", "explorer", args)


def _report(args: argparse.Namespace) -> int:
    return _run("segment_report", "segment report", args)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return value


def engine_name(text: str) -> str:
    """``--engine``'s value: ``pandas`` or ``duckdb`` (any case), else a usage error that
    names the engines and the closest one.

    Examples
    --------
    >>> engine_name("DuckDB")
    'duckdb'
    >>> engine_name("duckbd")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: unknown engine 'duckbd': expected pandas or duckdb; did you mean 'duckdb'?
    """
    from segexplore.dashboards import ENGINES

    name = text.strip().lower()
    if name in ENGINES:
        return name
    guess = closest_name(name, ENGINES)
    hint = f"; did you mean {guess!r}?" if guess else ""
    raise argparse.ArgumentTypeError(f"unknown engine {text!r}: expected "
                                     f"{' or '.join(ENGINES)}{hint}")


def _add_server_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", metavar="PATH", action="append",
                        help="contacts file, or a folder holding contacts/events/orders "
                             "files; default: the bundled sample. Repeat it to offer "
                             "several data sets: the page opens on the first, and "
                             "?data=NAME (the folder or file name) in the address chooses "
                             "another; nothing else can be named there")
    parser.add_argument("--data-root", metavar="DIR",
                        help="a folder whose files and sub-folders ?data=RELATIVE/PATH may "
                             "choose (hidden names and links leading out of it are refused)")
    parser.add_argument("--engine", type=engine_name, default="pandas", metavar="NAME",
                        help="what holds the base: pandas (default; it must fit in memory) "
                             "or duckdb (the tables stay in DuckDB: bases larger than "
                             "memory, and folders of Parquet parts as 'segexplore sample "
                             "--chunk-contacts' writes)")
    parser.add_argument("--events", metavar="PATH", help="events file (of the first --data)")
    parser.add_argument("--orders", metavar="PATH", help="orders file (of the first --data)")
    add_connect_arguments(parser)
    parser.add_argument("--ip", metavar="ADDRESS", default=HOST,
                        help=f"address to listen on; default {HOST} (this machine only). "
                             "Any other (0.0.0.0: every interface) requires a token")
    parser.add_argument("--token", metavar="TOKEN",
                        help="token the page's address must carry (?token=...); beyond "
                             "loopback one is generated and printed in the URL when not "
                             "given")
    parser.add_argument("--allow-host", metavar="NAME", action="append",
                        help="a host name requests may use besides localhost and loopback "
                             "addresses (say, a reverse proxy's); repeatable")
    parser.add_argument("--port", type=int, metavar="N",
                        help=f"port to listen on; default: the first free one from "
                             f"{DEFAULT_PORT}")
    parser.add_argument("--max-kernels", type=_positive, metavar="N", default=MAX_KERNELS,
                        help="most pages open at once (each runs a kernel holding the "
                             f"data); default {MAX_KERNELS}")
    parser.add_argument("--kernel-idle-timeout", type=_positive, metavar="SECONDS",
                        default=IDLE_TIMEOUT,
                        help="shut down a page's kernel after this long without activity "
                             f"(default {IDLE_TIMEOUT}); pages no browser opened: after "
                             f"{UNCONNECTED_TIMEOUT} s, or this if shorter")
    parser.add_argument("--no-browser", action="store_true",
                        help="only print the URL, do not open a browser")
    parser.add_argument("--show-tracebacks", action="store_true",
                        help="show Python tracebacks of failed cells in the page "
                             "(for debugging; off by default)")


def register(commands) -> None:
    dashboard = commands.add_parser(
        "dashboard", help="serve the explorer (Voilà) on a base; print its URL",
        description="Start Voilà on the explorer dashboard (Profile, Build, Compare, Export) "
                    "and print its URL. Stop with Ctrl+C.")
    _add_server_arguments(dashboard)
    dashboard.add_argument("--segments", metavar="FILE",
                           help="segment catalog (.yaml) or JSON list whose segments the "
                                "side list shows, with the size history 'segexplore "
                                "refresh' keeps beside a catalog (CATALOG.history.csv)")
    dashboard.set_defaults(run=_dashboard)

    report = commands.add_parser(
        "report", help="serve the read-only segment report (Voilà); print its URL",
        description="Start Voilà on the segment report (sizes, overlap, differences of "
                    "saved segments, no code shown) and print its URL. Stop with Ctrl+C.")
    _add_server_arguments(report)
    report.add_argument("--segments", metavar="FILE",
                        help="segment catalog (.yaml, see 'segexplore refresh') or JSON "
                             "list of {name, rule, description, parent}; default: example "
                             "segments")
    report.set_defaults(run=_report)
