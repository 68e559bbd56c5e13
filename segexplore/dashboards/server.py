"""The Voilà server ``segexplore dashboard`` runs: who may reach it, how many kernels it keeps.

``python -m segexplore.dashboards.server [voila options] NOTEBOOK`` is ``voila`` with three
guards that Voilà 0.5's own application leaves out (it hard-codes
``allow_remote_access=True``, starts one kernel per ``GET`` and never ends the kernels of
pages no browser opened):

- **Host check.** :class:`Voila` passes jupyter-server's ``allow_remote_access``,
  ``local_hostnames`` and ``allow_origin`` to the handlers, with jupyter-server's default:
  remote access only when the server listens beyond loopback. On 127.0.0.1 a request whose
  ``Host`` header names another machine (``Host: evil.example``, a DNS-rebinding page) is
  answered 403 before any kernel starts; websocket and POST requests must come from the
  page's own origin.
- **Token beyond loopback.** Listening beyond loopback (``--Voila.ip=0.0.0.0``) without a
  token is refused at start (:class:`~segexplore.errors.DashboardServerError`);
  ``segexplore dashboard`` generates one and passes it in ``JUPYTER_TOKEN`` (not on the
  command line, where other users of the machine could read it in the process list).
- **Kernels.** :class:`DashboardKernelManager` caps live kernels (``max_kernels``), shuts
  down kernels that no page ever connected to after ``unconnected_timeout`` seconds of
  idleness (a ``curl`` of the page, a link preview, a closed tab whose unload call was
  lost), culls the others after jupyter-server's ``cull_idle_timeout`` (connected or not:
  ``cull_connected`` is on by default here), and, when the cap is reached, ends the
  oldest never-connected kernel to make room or answers 503.

The ``segexplore`` package itself is not imported by the server beyond this module: the
data is read in the kernel (see :func:`segexplore.dashboards.data_sources`).

Examples
--------
>>> is_loopback("127.0.0.1"), is_loopback("::1"), is_loopback("0.0.0.0"), is_loopback("")
(True, True, False, False)
>>> DashboardKernelManager().max_kernels
8
"""

from __future__ import annotations

import ipaddress
import socket
import sys
from datetime import datetime, timedelta, timezone

from jupyter_core.utils import ensure_async
from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from tornado import web
from traitlets import Bool, Integer, List, Unicode, default
from voila.app import Voila as _Voila

from segexplore.errors import DashboardServerError

__all__ = ["DashboardKernelManager", "Voila", "is_loopback", "main"]


def is_loopback(ip: str) -> bool:
    """Whether listening on ``ip`` keeps the server reachable from this machine only.

    ``""`` and ``0.0.0.0`` (all interfaces) are not; a host name is when every address it
    resolves to is a loopback address (the rule jupyter-server applies to
    ``allow_remote_access``).

    Examples
    --------
    >>> is_loopback("localhost")
    True
    """
    if not ip:
        return False
    try:
        return ipaddress.ip_address(ip).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(ip, None, 0, socket.SOCK_STREAM)
    except OSError:
        return False  # unknown name: the listen call will fail anyway
    return bool(infos) and all(
        ipaddress.ip_address(str(info[4][0]).split("%")[0]).is_loopback for info in infos)


class DashboardKernelManager(AsyncMappingKernelManager):
    """jupyter-server's kernel manager, with a cap and a short life for unopened pages.

    Every ``GET`` of a Voilà page starts a kernel that lives until the page's websocket
    closes and the page calls Voilà's shutdown endpoint. A page that was fetched but never
    opened in a browser (no websocket ever connects) used to keep its kernel, and its copy
    of the data, until the server stopped.
    """

    max_kernels = Integer(8, config=True,
                          help="Most kernels alive at once (one per open page); more "
                               "page loads end the oldest never-connected kernel, or get "
                               "503 when every kernel has a page connected.")
    unconnected_timeout = Integer(
        120, config=True,
        help="Seconds of idleness after which a kernel no page ever connected to is shut "
             "down (0: only cull_idle_timeout applies).")

    @default("cull_idle_timeout")
    def _default_cull_idle_timeout(self) -> int:
        return 3600

    @default("cull_interval")
    def _default_cull_interval(self) -> int:
        return 30

    @default("cull_connected")
    def _default_cull_connected(self) -> bool:
        return True  # a tab left open for hours still holds a whole base in memory

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._ever_connected: set[str] = set()
        self._starting = 0  # kernels being started: counted against the cap already
        self._ending: set[str] = set()  # kernels being shut down to make room

    # ------------------------------------------------------------------ connections
    def notify_connect(self, kernel_id: str) -> None:
        """Remember that a page connected to ``kernel_id`` (it is then a real page)."""
        super().notify_connect(kernel_id)
        self._ever_connected.add(kernel_id)

    def remove_kernel(self, kernel_id: str):
        self._ever_connected.discard(kernel_id)
        self._ending.discard(kernel_id)
        return super().remove_kernel(kernel_id)

    def _unconnected(self, kernel_id: str) -> bool:
        return (kernel_id not in self._ever_connected
                and not self._kernel_connections.get(kernel_id, 0))

    # ------------------------------------------------------------------ the cap
    def live_kernels(self) -> int:
        """Kernels alive or starting, not counting those being shut down."""
        return len(set(self.list_kernel_ids()) - self._ending) + self._starting

    def _eviction_candidate(self) -> str | None:
        """The never-connected, idle kernel with the oldest activity, if any."""
        candidates = []
        for kernel_id in self.list_kernel_ids():
            if kernel_id in self._ending or not self._unconnected(kernel_id):
                continue
            kernel = self._kernels.get(kernel_id)
            # A busy or starting kernel is rendering a page right now: keep it.
            if kernel is None or getattr(kernel, "execution_state", "") != "idle":
                continue
            candidates.append((kernel.last_activity, kernel_id))
        return min(candidates)[1] if candidates else None

    async def start_kernel(self, *, kernel_id: str | None = None, path=None, **kwargs) -> str:
        """Start a page's kernel once there is room for it (see :attr:`max_kernels`).

        Raises
        ------
        tornado.web.HTTPError
            503 when :attr:`max_kernels` kernels are alive and each has a page connected
            or is rendering one.
        """
        if kernel_id is None or kernel_id not in self:
            while self.max_kernels > 0 and self.live_kernels() >= self.max_kernels:
                victim = self._eviction_candidate()
                if victim is None:
                    self.log.warning("Refusing a page: %d kernels alive (max_kernels)",
                                     self.live_kernels())
                    # Voilà's error page shows the reason, not the message: both say it.
                    busy = (f"Dashboard busy: it already serves {self.max_kernels} pages, "
                            "the most it runs at once; close one of them (or wait until an "
                            "idle one is ended), then reload this page")
                    raise web.HTTPError(503, "%s", busy, reason=busy)
                self.log.info("Shutting down kernel %s, which no page opened, to make room "
                              "(max_kernels=%d)", victim, self.max_kernels)
                self._ending.add(victim)
                try:
                    await ensure_async(self.shutdown_kernel(victim))
                finally:
                    self._ending.discard(victim)
        self._starting += 1
        try:
            return await super().start_kernel(kernel_id=kernel_id, path=path, **kwargs)
        finally:
            self._starting -= 1

    # ------------------------------------------------------------------ culling
    async def cull_kernel_if_idle(self, kernel_id: str) -> None:
        """jupyter-server's culling, plus: a kernel no page ever connected to is shut down
        after :attr:`unconnected_timeout` idle seconds."""
        kernel = self._kernels.get(kernel_id)
        if (kernel is not None and self.unconnected_timeout > 0
                and self._unconnected(kernel_id)
                and getattr(kernel, "execution_state", "") == "idle"
                and hasattr(kernel, "last_activity")
                and datetime.now(timezone.utc) - kernel.last_activity
                > timedelta(seconds=self.unconnected_timeout)):
            self.log.warning("Culling kernel %s: no page connected to it within %d s",
                             kernel_id, self.unconnected_timeout)
            await ensure_async(self.shutdown_kernel(kernel_id))
            return
        await super().cull_kernel_if_idle(kernel_id)


class Voila(_Voila):
    """Voilà's application with jupyter-server's Host and Origin checks switched on.

    Named ``Voila`` like its parent, so that its log lines (``[Voila] ...``) and its
    configuration section (``--Voila.ip=...``) stay Voilà's own.
    """

    allow_remote_access = Bool(
        config=True,
        help="Answer requests whose Host header names another machine (default: only when "
             "listening beyond loopback, as jupyter-server does).")
    local_hostnames = List(
        Unicode(), ["localhost"], config=True,
        help="Host names accepted as this machine when allow_remote_access is off (a "
             "reverse proxy's name, say); loopback addresses always are.")
    allow_origin = Unicode(
        "", config=True,
        help="Origin allowed for cross-origin websocket and POST requests; '' allows only "
             "the page's own origin.")

    @default("allow_remote_access")
    def _default_allow_remote_access(self) -> bool:
        return not is_loopback(self.ip)

    def init_settings(self) -> dict:
        """Voilà's settings with the checks above; refuses a remote server without token."""
        settings = super().init_settings()
        token = getattr(getattr(self, "identity_provider", None), "token", "")
        if not is_loopback(self.ip) and not token:
            raise DashboardServerError(
                f"the dashboard server would listen on {self.ip or 'all interfaces'!r} "
                "without a token: anyone reaching this machine could open it; give a token "
                "(JUPYTER_TOKEN, or --Voila.token) or listen on 127.0.0.1")
        settings.update(allow_remote_access=self.allow_remote_access,
                        local_hostnames=list(self.local_hostnames),
                        allow_origin=self.allow_origin)
        return settings


def main(argv: list[str] | None = None) -> None:
    """Run :class:`Voila` as ``voila`` would (``python -m segexplore.dashboards.server``)."""
    try:
        Voila.launch_instance(argv)
    except DashboardServerError as error:
        print(f"segexplore dashboard server: {error}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":  # pragma: no cover - run as a program by segexplore dashboard
    main()
