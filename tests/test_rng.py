"""Counter-based RNG: Random123 known answers, numba == NumPy twin, stream properties."""

import numpy as np
import pytest

from sim.engine.rng import block_normals, normals_np, philox_np, philox_words, split_seed

# Random123 tests/kat_vectors, the three "philox4x32 10" lines: counter[4], key[2] -> output[4].
KAT = [
    ((0x00000000, 0x00000000, 0x00000000, 0x00000000), (0x00000000, 0x00000000),
     (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF), (0xFFFFFFFF, 0xFFFFFFFF),
     (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
     (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
]


@pytest.mark.parametrize("ctr,key,expected", KAT)
def test_philox_known_answers_numba(ctr, key, expected):
    out = philox_words(np.array([ctr], np.uint64), *key)
    assert tuple(int(v) for v in out[0]) == expected


@pytest.mark.parametrize("ctr,key,expected", KAT)
def test_philox_known_answers_numpy(ctr, key, expected):
    out = philox_np(*(np.array([c], np.uint64) for c in ctr), *key)
    assert tuple(int(v[0]) for v in out) == expected


def test_words_numba_equal_numpy_bit_for_bit():
    rng = np.random.default_rng(3)
    ctr = rng.integers(0, 2 ** 32, size=(5000, 4), dtype=np.uint64)
    for key in ((0, 0), (12345, 0), (0xFFFFFFFF, 0xDEADBEEF)):
        a = philox_words(ctr, *key)
        b = np.stack(philox_np(*ctr.T, *key), axis=1)
        assert a.dtype == b.dtype == np.uint64
        assert np.array_equal(a, b)
        assert a.max() < 2 ** 32


def test_normals_numba_equal_numpy():
    k0, k1 = split_seed(2 ** 40 + 17)
    a = block_normals(k0, k1, 3, 0, 400, 37)
    b = normals_np(k0, k1, 3, np.arange(400), 37)
    # Same words and uniforms; libm vs NumPy-SIMD log/sin/cos may differ by an ulp.
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-14)
    assert np.mean(a == b) > 0.99


def test_normals_skip_groups_and_offset():
    k0, k1 = split_seed(9)
    full = normals_np(k0, k1, 0, np.arange(10, 20), 22)
    part = normals_np(k0, k1, 0, np.arange(10, 20), 22, g_start=2)
    assert np.all(part[:, :8] == 0)
    assert np.array_equal(part[:, 8:], full[:, 8:])
    # draws are addressed by their index in the block, wherever the batch starts
    np.testing.assert_allclose(block_normals(k0, k1, 0, 10, 10, 22), full, rtol=0, atol=1e-14)


def test_streams_differ_by_seed_and_block():
    a = normals_np(*split_seed(1), 0, np.arange(50), 8)
    assert not np.allclose(a, normals_np(*split_seed(2), 0, np.arange(50), 8))
    assert not np.allclose(a, normals_np(*split_seed(1), 1, np.arange(50), 8))
    assert not np.allclose(a, normals_np(*split_seed(1 + 2 ** 32), 0, np.arange(50), 8))


def test_normal_moments():
    # 400,000 variates: mean within 4 SE (4 / sqrt(n) = 0.0063), variance within 4 SE (0.0089),
    # and the tails of a standard normal (P(|z| > 3) = 0.0027, SE 8.2e-5).
    z = block_normals(*split_seed(20240601), 0, 0, 10000, 40).ravel()
    n = z.size
    assert abs(z.mean()) < 4 / np.sqrt(n)
    assert abs(z.var() - 1) < 4 * np.sqrt(2 / n)
    assert abs(np.mean(np.abs(z) > 3) - 0.0027) < 4 * np.sqrt(0.0027 / n)
    assert np.abs(z).max() < 6.7   # 32-bit Box-Muller bound


def test_split_seed():
    assert split_seed(0) == (0, 0)
    assert split_seed(2 ** 32 + 5) == (5, 1)
    with pytest.raises(ValueError):
        split_seed(-1)
    with pytest.raises(ValueError):
        split_seed(2 ** 64)
