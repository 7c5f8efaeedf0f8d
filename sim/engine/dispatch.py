"""The one dispatcher: a task mapped over ranges of draws, in this process or as dask tasks.

:func:`map_ranges` runs ``task(..., first_draw, draws)`` for every range of draws (on block
boundaries, from :func:`draw_ranges` / :func:`chunk_ranges`), in order in this process or as
dask.distributed tasks, and hands every result to ``on_result`` on this process. The task is
usually :func:`sim.evaluation.ranges.evaluate_range`, which calls
:func:`sim.engine.simulation.simulate` with ``first_draw``; by the engine's keying (draw ``i``
depends only on ``(seed, i // block_size, i % block_size)``) the result equals a single-process
run bit for bit, for any number of workers and any split.

``scheduler`` strings: ``"local"`` (a LocalCluster, one single-threaded worker process per core),
``"local:N"`` (N workers) or ``"tcp://HOST:PORT"`` (an existing scheduler); a
:class:`RemoteScheduler` adds TLS certificates for a ``"tls://HOST:PORT"`` scheduler. dask is an
optional extra (``pip install -e '.[distributed]'``), imported only when a scheduler is used.

Security: dask's ``tcp://`` protocol is unauthenticated and unencrypted, and a scheduler runs
whatever code its clients and workers send it. Connect only to a scheduler you trust, on a
network you trust; elsewhere use ``tls://`` with certificates (``--tls-ca-file``,
``--tls-cert``, ``--tls-key``, passed to ``distributed.security.Security``).
"""

from __future__ import annotations

import logging
import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Iterator, Mapping, Sequence, Union

from sim.errors import SimError

NEEDS_DASK = "--scheduler needs dask.distributed: pip install -e '.[distributed]'"



@dataclass(frozen=True)
class RemoteScheduler:
    """An existing scheduler at ``address`` (``tcp://`` or ``tls://``) with TLS certificates.

    ``ca_file`` is the certificate authority that signed the scheduler's certificate; ``cert``
    and ``key`` this client's certificate and private key (both or neither). ``str()`` is the
    address (for the manifest: no file names of keys are recorded).
    """

    address: str
    ca_file: str | None = None
    cert: str | None = None
    key: str | None = None

    def __str__(self) -> str:
        return self.address

    def security(self) -> Any:
        """The ``distributed.security.Security`` of these certificates (None without TLS)."""
        if not self.address.startswith("tls://"):
            return None
        from distributed.security import Security

        return Security(tls_ca_file=self.ca_file, tls_client_cert=self.cert,
                        tls_client_key=self.key, require_encryption=True)


def remote_scheduler(address: str | None, ca_file: str | None = None, cert: str | None = None,
                     key: str | None = None) -> "str | RemoteScheduler | None":
    """The ``scheduler`` of the command-line flags ``--scheduler`` and ``--tls-*``.

    Checks before any work: TLS options need a ``tls://`` address, a ``tls://`` address needs
    ``--tls-ca-file``, ``--tls-cert`` and ``--tls-key`` come together, and the files exist.
    Without TLS options the address string is returned as it is.
    """
    tls = [ca_file, cert, key]
    if address is None:
        if any(tls):
            raise SimError("--tls-ca-file/--tls-cert/--tls-key need --scheduler tls://HOST:PORT")
        return None
    kind, _ = parse_scheduler(address)
    if not any(tls):
        if kind == "tls":
            raise SimError(f"--scheduler {address}: a tls:// scheduler needs --tls-ca-file "
                           "(and, when the scheduler asks for client certificates, --tls-cert "
                           "and --tls-key)")
        return address
    if kind != "tls":
        raise SimError(f"--scheduler {address}: --tls-* options need a tls://HOST:PORT scheduler")
    if not ca_file:
        raise SimError("--tls-cert/--tls-key need --tls-ca-file (the authority that signed the "
                       "scheduler's certificate)")
    if bool(cert) != bool(key):
        raise SimError("--tls-cert and --tls-key go together (this client's certificate and key)")
    for flag, f in (("--tls-ca-file", ca_file), ("--tls-cert", cert), ("--tls-key", key)):
        if f and not Path(f).is_file():
            raise SimError(f"{flag} {f}: no such file")
    return RemoteScheduler(address.strip(), ca_file, cert, key)


#: None (this process), a scheduler string (see :func:`parse_scheduler`), a
#: :class:`RemoteScheduler` or a dask ``Client``
Scheduler = Union[str, RemoteScheduler, Any, None]


def parse_scheduler(scheduler: str) -> tuple[str, int | str]:
    """``"local"`` -> ("local", cores), ``"local:N"`` -> ("local", N), ``"tcp://h:p"`` -> ("tcp", addr),
    ``"tls://h:p"`` -> ("tls", addr)."""
    s = str(scheduler).strip()
    if s == "local":
        return "local", max(1, os.cpu_count() or 1)
    if s.startswith("local:"):
        n = s.split(":", 1)[1]
        if not n.isdigit() or int(n) < 1:
            raise SimError(f"--scheduler {s}: expected local:N with N a whole number of workers >= 1")
        return "local", int(n)
    for kind in ("tcp", "tls"):
        if s.startswith(f"{kind}://") and len(s) > 6:
            return kind, s
    raise SimError(f"--scheduler {s!r}: expected 'local', 'local:N', 'tcp://HOST:PORT' or "
                   "'tls://HOST:PORT'")


def _dask() -> ModuleType:
    try:
        from dask import distributed
    except ImportError:
        raise SimError(NEEDS_DASK) from None
    return distributed


@contextmanager
def connect(scheduler: Scheduler) -> Iterator[Any]:
    """A dask ``Client`` for a scheduler string or :class:`RemoteScheduler` (or pass a Client
    through); closed on exit.

    Local clusters run ``N`` single-threaded worker processes with numba limited to one thread
    each (the workers are the parallelism); no dashboard. A remote scheduler must be trusted
    (module docstring); ``tls://`` connects with the certificates of the RemoteScheduler.
    """
    security = None
    if isinstance(scheduler, RemoteScheduler):
        security = scheduler.security()
        scheduler = scheduler.address
    if not isinstance(scheduler, str):       # an existing Client
        yield scheduler
        return
    kind, arg = parse_scheduler(scheduler)   # a bad string fails before asking for dask
    if kind == "tls" and security is None:
        raise SimError(f"--scheduler {arg}: a tls:// scheduler needs --tls-ca-file")
    distributed = _dask()
    if kind == "local":
        cluster = distributed.LocalCluster(n_workers=int(arg), threads_per_worker=1, processes=True,
                                           dashboard_address=None, silence_logs=logging.ERROR,
                                           env={"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"})
        client = distributed.Client(cluster)
        client._sim_threads = 1
        try:
            yield client
        finally:
            client.close()
            cluster.close()
    else:
        try:
            client = distributed.Client(arg, timeout="20s", security=security)
        except (OSError, TimeoutError) as exc:
            raise SimError(f"--scheduler {arg}: cannot connect ({exc})") from None
        client._sim_threads = None
        try:
            yield client
        finally:
            client.close()


def draw_ranges(draws: int, block_size: int, parts: int, first_draw: int = 0) -> list[tuple[int, int]]:
    """Split ``first_draw .. first_draw+draws`` into about ``parts`` ranges on block boundaries.

    Returns ``[(first_draw, draws), ...]``, consecutive and covering every draw once.
    """
    draws, block_size = int(draws), int(block_size)
    lo, hi = int(first_draw), int(first_draw) + draws
    blocks = -(-hi // block_size) - lo // block_size
    per = max(1, -(-blocks // max(1, parts))) * block_size
    edges = [lo] + list(range((lo // per + 1) * per, hi, per)) + [hi]
    return [(a, b - a) for a, b in zip(edges[:-1], edges[1:]) if b > a]


def chunk_ranges(draws: int, block_size: int, chunk_draws: int,
                 first_draw: int = 0) -> list[tuple[int, int]]:
    """Consecutive ranges of at most ``chunk_draws`` draws (rounded up to whole blocks) when
    ``first_draw`` is on a block boundary; ranges are split on block boundaries."""
    chunk = max(1, -(-int(chunk_draws) // int(block_size))) * int(block_size)
    return draw_ranges(draws, block_size, -(-int(draws) // chunk), first_draw)


def map_ranges(task: Callable[..., Any], ranges: Sequence[tuple[int, int]], *,
               shared: Sequence[Any] = (), args: Sequence[Any] = (),
               kwargs: Mapping[str, Any] | None = None, scheduler: Scheduler = None,
               on_result: Callable[[Any, int, int], object] | None = None,
               items: Sequence[Any] | None = None) -> None:
    """The one dispatcher: ``task(*shared, *args, first_draw, draws, threads=..., **kwargs)`` for
    every ``(first_draw, draws)`` of ``ranges``.

    ``scheduler=None`` runs the ranges in order in this process (``threads=None``: numba uses
    its own thread pool); otherwise (a scheduler string or a dask ``Client``) every range is a
    dask task, ``shared`` objects are scattered once to every worker, and ``threads`` is the
    numba thread count each worker may use. ``on_result(result, first_draw, draws)`` receives
    every result on this process, in completion order, and the task's result is then released,
    so the caller decides what to keep. With ``items`` the task runs once per item and range,
    as ``task(*shared, item, *args, first_draw, draws, ...)`` (e.g. groups of sweep points), all
    dispatched together. A task gets everything it needs in its arguments (e.g. the run's
    vocabulary, :class:`sim.vocabulary.Vocabulary`, a keyword of
    :func:`~sim.evaluation.ranges.evaluate_range`): nothing is installed in a worker's module
    state, so tasks of different runs may share a multi-threaded worker. Because draw ``i`` depends only on
    ``(seed, i // block_size, i % block_size)``, how the ranges are split and where they run
    never changes a result.
    """
    kw = dict(kwargs or {})
    jobs = [(a, n, ()) for a, n in ranges] if items is None else [
        (a, n, (item,)) for item in items for a, n in ranges]
    if scheduler is None:
        for a, n, item in jobs:
            res = task(*shared, *item, *args, a, n, threads=None, **kw)
            if on_result is not None:
                on_result(res, a, n)
        return
    with connect(scheduler) as client:
        distributed = _dask()
        threads = getattr(client, "_sim_threads", None)
        # hash=False: a key of this call's own. With dask's default (a key from the object's
        # hash) successive calls on the same object (adaptive rounds) share one key, and the
        # release of an earlier call's future could drop it under the next call's tasks
        # ("cancelled for reason: lost dependencies")
        scattered = [client.scatter(obj, broadcast=True, hash=False) for obj in shared]
        futures = {client.submit(task, *scattered, *item, *args, a, n,
                                 threads=threads, pure=False, **kw): (a, n) for a, n, item in jobs}
        for fut in distributed.as_completed(futures):
            a, n = futures[fut]
            res = fut.result()
            fut.release()
            if on_result is not None:
                on_result(res, a, n)
            del res
