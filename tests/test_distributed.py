"""The one dispatcher: draw ranges, local and dask runs bit-identical, adaptive draws."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest

from sim.engine.dispatch import NEEDS_DASK, chunk_ranges, draw_ranges, map_ranges, parse_scheduler
from sim.engine.simulation import simulate
from sim.ensemble import ensemble_of
from sim.errors import SimError
from sim.evaluation import evaluate, evaluate_draws, evaluate_range, run_adaptive, standard_errors
from sim.run.context import RunContext
from sim.testing import synthetic_fitted

TARGETS = ["gdp_2020_fyp13", "co2_intensity_cum_2020_fyp13", "water_intensity_cum_2020_fyp13",
           "affordable_housing_supply_2016_2020_fyp13", "gdp_per_capita_cny_2020_fyp13"]


@pytest.fixture(scope="module")
def ctx(shipped):
    return RunContext.build(shipped["2020"], overrides={"seed": 11, "block_size": 1000},
                            fitted=synthetic_fitted())


@pytest.fixture(scope="module")
def client():
    pytest.importorskip("dask.distributed", reason="dask.distributed not installed (extra 'distributed')")
    from sim.engine.dispatch import connect

    with connect("local:2") as c:
        yield c


def test_draw_ranges_cover_on_block_boundaries():
    r = draw_ranges(2500, 1000, 2)
    assert r == [(0, 2000), (2000, 500)]
    r = draw_ranges(3500, 1000, 10, first_draw=1500)
    assert r[0] == (1500, 500) and sum(n for _, n in r) == 3500
    assert all((a + n) % 1000 == 0 for a, n in r[:-1])
    assert chunk_ranges(2500, 1000, 1500) == [(0, 2000), (2000, 500)]   # rounded up to blocks
    assert chunk_ranges(900, 1000, 100, first_draw=600) == [(600, 900)]     # <= one chunk of draws
    r = chunk_ranges(4500, 1000, 2000, first_draw=1000)
    assert r == [(1000, 1000), (2000, 2000), (4000, 1500)]
    assert all(n <= 2000 for _, n in r) and sum(n for _, n in r) == 4500


def test_map_ranges_runs_every_range_and_item_in_order():
    seen = []

    def task(shared, item, extra, first, n, *, threads, scale):
        return (shared, item, extra, first, n, threads, scale)

    map_ranges(task, [(0, 5), (5, 3)], shared=("S",), items=["a", "b"], args=("x",),
               kwargs={"scale": 2}, on_result=lambda r, a, n: seen.append((r, a, n)))
    assert [r for r, _, _ in seen] == [("S", "a", "x", 0, 5, None, 2), ("S", "a", "x", 5, 3, None, 2),
                                      ("S", "b", "x", 0, 5, None, 2), ("S", "b", "x", 5, 3, None, 2)]
    assert [(a, n) for _, a, n in seen] == [(0, 5), (5, 3), (0, 5), (5, 3)]


def test_ranges_merged_equal_one_pass(ctx):
    """Ranges not aligned to the 1000-draw blocks, evaluated apart and merged, give the table of
    one evaluation of all draws at once (the split never changes a result)."""
    fm, s = ctx.fitted, ctx.settings
    sim = simulate(fm, ctx.levers, draws=1500, first_draw=0, **s.engine_kwargs())
    whole = evaluate(ensemble_of(sim, fm), ctx.catalogue, ctx.target_values)
    parts = []
    map_ranges(evaluate_range, [(700, 800), (0, 700)], shared=(fm,),
               args=(list(ctx.levers), s, ctx.catalogue, None, ctx.target_values,
                     (0.1, 0.5, 0.9), None, {}),
               on_result=lambda res, a, n: parts.append(res[0]))
    merged = parts[0].merge(parts[1])
    assert merged.n == 1500
    got, want = merged.result().table, whole.table
    assert (got["status"] == "evaluated").sum() > 10
    cols = ["scenario", "target_id", "status", "probability", "mc_se", "delta_vs_baseline",
            "delta_se", "median"]
    pd.testing.assert_frame_equal(got[cols], want[cols])
    pd.testing.assert_frame_equal(merged.result().joint, whole.joint)


def test_scheduler_strings():
    assert parse_scheduler("local:3") == ("local", 3)
    assert parse_scheduler("tcp://10.0.0.1:8786") == ("tcp", "tcp://10.0.0.1:8786")
    assert parse_scheduler("local")[0] == "local"
    for bad in ("local:0", "local:x", "remote", "tcp://"):
        with pytest.raises(SimError, match="expected"):
            parse_scheduler(bad)


def test_without_dask_the_flag_explains(monkeypatch):
    monkeypatch.setitem(sys.modules, "dask", None)
    monkeypatch.setitem(sys.modules, "dask.distributed", None)
    with pytest.raises(SimError) as exc:
        map_ranges(lambda a, n, threads: None, [(0, 10)], scheduler="local:2")
    assert str(exc.value) == NEEDS_DASK
    assert NEEDS_DASK == "--scheduler needs dask.distributed: pip install -e '.[distributed]'"


@pytest.mark.dask
@pytest.mark.slow
def test_local_cluster_bit_identical(client, ctx):
    """Every range simulated in a worker equals the same range simulated here, bit for bit, and
    the merged evaluations are equal."""
    fm, s = ctx.fitted, ctx.settings
    ranges = draw_ranges(2500, s.block_size, 3)
    args = (list(ctx.levers), s, ctx.catalogue, None, ctx.target_values, (0.5,), None, {})
    got: dict = {}
    for where, sched in (("here", None), ("dask", client)):
        got[where] = {}
        map_ranges(evaluate_range, ranges, shared=(fm,), args=args, kwargs={"want_dataset": True},
                   scheduler=sched, on_result=lambda res, a, n, w=where: got[w].update({a: res}))
    assert sorted(got["here"]) == sorted(got["dask"]) == [a for a, _ in ranges]
    for a, _ in ranges:
        da, db = got["here"][a][1], got["dask"][a][1]
        assert set(da.data_vars) == set(db.data_vars)
        for v in da.data_vars:
            assert np.array_equal(da[v].values, db[v].values, equal_nan=True), v
    here = [got["here"][a][0] for a, _ in ranges]
    dask = [got["dask"][a][0] for a, _ in ranges]
    for accs in (here, dask):
        for acc in accs[1:]:
            accs[0].merge(acc)
    pd.testing.assert_frame_equal(here[0].result().table, dask[0].result().table)


@pytest.mark.slow
def test_adaptive_stops_below_tolerance_and_equals_fixed_prefix(ctx):
    fm = ctx.fitted
    s = ctx.settings.__class__(**{**ctx.settings.__dict__, "seed": 7, "block_size": 500})
    base = {"baseline": ctx.target_values["baseline"]}
    chosen = ctx.catalogue[ctx.catalogue["id"].isin(TARGETS)]
    res = run_adaptive(fm, ctx.levers[:1], s, chosen, base, tolerance=0.015)
    assert res.converged and np.nanmax(res.se) < 0.015
    assert res.draws % 500 == 0 and res.history[-1][0] == res.draws
    assert all(se >= 0.015 for _, se in res.history[:-1])       # it did not stop early
    fixed = evaluate_draws(fm, ctx.levers[:1], s, chosen, base, [(0, res.draws)])
    assert np.array_equal(res.accumulator.hit_counts(), fixed.hit_counts())
    assert res.accumulator.n == fixed.n == res.draws
    assert np.array_equal(standard_errors(fixed), res.se, equal_nan=True)
    capped = run_adaptive(fm, ctx.levers[:1], s, chosen, base, tolerance=0.001, max_draws=1200)
    assert not capped.converged and capped.draws == 1200
    with pytest.raises(SimError, match="tolerance must be > 0"):
        run_adaptive(fm, ctx.levers[:1], s, chosen, base, tolerance=0.0)


@pytest.mark.dask
@pytest.mark.slow
def test_adaptive_on_cluster_same_draws(client, ctx):
    s = ctx.settings.__class__(**{**ctx.settings.__dict__, "seed": 7, "block_size": 500})
    base = {"baseline": ctx.target_values["baseline"]}
    chosen = ctx.catalogue[ctx.catalogue["id"].isin(TARGETS)]
    a = run_adaptive(ctx.fitted, ctx.levers[:1], s, chosen, base, tolerance=0.02)
    b = run_adaptive(ctx.fitted, ctx.levers[:1], s, chosen, base, tolerance=0.02, scheduler=client)
    assert a.draws == b.draws and np.array_equal(a.accumulator.hit_counts(), b.accumulator.hit_counts())


@pytest.mark.dask
@pytest.mark.slow
def test_full_run_on_cluster_writes_the_same_files(client, shipped, tmp_path):
    """`sim run --scheduler`: chunks simulated and evaluated in the workers, streamed into
    ensemble.nc on the client; targets.csv and ensemble.nc equal the single-process run."""
    import xarray as xr

    from sim.run.pipeline import run_file

    kw = dict(overrides={"draws": 3000, "block_size": 1000}, figures=False)
    run_file(shipped["2020"], out=tmp_path / "one", **kw)
    run_file(shipped["2020"], out=tmp_path / "dask", scheduler=client, **kw)
    assert (tmp_path / "one" / "targets.csv").read_bytes() == (tmp_path / "dask" / "targets.csv").read_bytes()
    a = xr.open_dataset(tmp_path / "one" / "ensemble.nc")
    b = xr.open_dataset(tmp_path / "dask" / "ensemble.nc")
    assert set(a.data_vars) == set(b.data_vars)
    for v in a.data_vars:
        assert np.array_equal(a[v].values, b[v].values, equal_nan=True), v


# --- issue 14: a tcp:// scheduler must be trusted; tls:// with certificates -------------------

def _self_signed(folder):
    """A self-signed certificate and key for 127.0.0.1 (cryptography if installed, else the
    openssl command); skips when neither is available."""
    import shutil
    import subprocess

    cert, key = folder / "cert.pem", folder / "key.pem"
    try:
        import datetime
        import ipaddress

        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.x509.oid import NameOID
    except ImportError:
        if shutil.which("openssl") is None:
            pytest.skip("neither the cryptography package nor the openssl command is available "
                        "to make a test certificate")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
                        "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                       check=True, capture_output=True)
        return cert, key
    k = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    c = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(k.public_key())
         .serial_number(x509.random_serial_number()).not_valid_before(now)
         .not_valid_after(now + datetime.timedelta(days=1))
         .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(
             ipaddress.ip_address("127.0.0.1"))]), critical=False)
         .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
         .sign(k, hashes.SHA256()))
    cert.write_bytes(c.public_bytes(serialization.Encoding.PEM))
    key.write_bytes(k.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.TraditionalOpenSSL,
                                    serialization.NoEncryption()))
    return cert, key


def test_tls_options_are_checked_before_any_work(run_cli, shipped, tmp_path):
    from sim.engine.dispatch import RemoteScheduler, remote_scheduler

    pem = tmp_path / "x.pem"
    pem.write_text("not used")
    assert parse_scheduler("tls://10.0.0.1:8786") == ("tls", "tls://10.0.0.1:8786")
    assert remote_scheduler("tcp://h:1") == "tcp://h:1" and remote_scheduler(None) is None
    r = remote_scheduler("tls://h:1", str(pem), str(pem), str(pem))
    assert isinstance(r, RemoteScheduler) and str(r) == "tls://h:1"
    bad = [
        (["--scheduler", "tls://127.0.0.1:1"], "a tls:// scheduler needs --tls-ca-file"),
        (["--scheduler", "tcp://127.0.0.1:1", "--tls-ca-file", pem], "need a tls://HOST:PORT"),
        (["--tls-ca-file", pem], "need --scheduler tls://HOST:PORT"),
        (["--scheduler", "tls://127.0.0.1:1", "--tls-ca-file", pem, "--tls-cert", pem],
         "--tls-cert and --tls-key go together"),
        (["--scheduler", "tls://127.0.0.1:1", "--tls-ca-file", tmp_path / "none.pem"],
         "none.pem: no such file"),
    ]
    for flags, message in bad:
        code, _, err = run_cli("run", shipped["2020"], "--out", tmp_path / "r", *flags)
        assert code == 2 and message in err, (flags, err)
    assert not (tmp_path / "r").exists()


def test_scheduler_help_says_it_must_be_trusted(capsys):
    from sim.cli import main

    with pytest.raises(SystemExit):
        main(["run", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "must be one you trust" in text and "unauthenticated" in text and "--tls-ca-file" in text


@pytest.mark.dask
@pytest.mark.slow
def test_run_on_a_tls_cluster_with_self_signed_certificates(run_cli, shipped, tmp_path):
    """A LocalCluster speaking tls:// only: `sim run --scheduler tls://... --tls-*` gives the
    targets.csv of a single-process run; the manifest records the address, not the key files."""
    pytest.importorskip("dask.distributed", reason="dask.distributed not installed")
    import json

    from distributed import LocalCluster
    from distributed.security import Security

    cert, key = _self_signed(tmp_path)
    sec = Security(tls_ca_file=str(cert), tls_scheduler_cert=str(cert),
                   tls_scheduler_key=str(key), tls_worker_cert=str(cert),
                   tls_worker_key=str(key), tls_client_cert=str(cert), tls_client_key=str(key),
                   require_encryption=True)
    flags = ["--draws", "1000", "--no-figures", "--quiet"]
    assert run_cli("run", shipped["2020"], "--out", tmp_path / "one", *flags)[0] == 0
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, protocol="tls://",
                      host="127.0.0.1", security=sec, dashboard_address=None) as cluster:
        address = cluster.scheduler_address
        assert address.startswith("tls://")
        code, _, err = run_cli("run", shipped["2020"], "--out", tmp_path / "tls", *flags,
                               "--scheduler", address, "--tls-ca-file", cert,
                               "--tls-cert", cert, "--tls-key", key)
        assert code == 0, err
    assert (tmp_path / "tls" / "targets.csv").read_bytes() == \
        (tmp_path / "one" / "targets.csv").read_bytes()
    manifest = json.loads((tmp_path / "tls" / "manifest.json").read_text())
    assert manifest["scheduler"] == address and "key.pem" not in json.dumps(manifest)
