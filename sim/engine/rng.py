"""Counter-based random numbers: Philox4x32-10 (Random123) in numba, with a NumPy twin.

Every normal variate of a run is a pure function of ``(seed, block, j, k)``:

* ``seed`` — the run's seed, an integer in ``[0, 2**64)``;
* ``block`` — the block of draws (``block = i // block_size`` for global draw ``i``);
* ``j`` — the draw within its block (``i % block_size``);
* ``k`` — the index of the variate within the draw (layout: :mod:`sim.engine.kernels`).

Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11) maps a
128-bit counter and a 64-bit key to 128 random bits. Here::

    key     = (seed mod 2**32, seed // 2**32 mod 2**32)
    counter = (j, g, block mod 2**32, block // 2**32)      with g = k // 4

and the four 32-bit outputs ``(x0, x1, x2, x3)`` become the four normals ``k = 4g .. 4g+3`` by
Box–Muller, using both outputs of each pair::

    u1 = (x0 + 1) / 2**32  in (0, 1]      u2 = x1 / 2**32  in [0, 1)
    z[4g]   = sqrt(-2 log u1) cos(2 pi u2)
    z[4g+1] = sqrt(-2 log u1) sin(2 pi u2)
    (x2, x3) -> z[4g+2], z[4g+3] likewise.

32-bit uniforms bound |z| by sqrt(2 log 2**32) = 6.66; the probability mass beyond is 3e-11.

Because nothing depends on the order in which draws are computed, results are bit-identical
for any number of threads, and draw ``i`` does not change when more draws are requested.

Streams keyed by name (what a run uses)
---------------------------------------
A run does not number its variates across all drivers (adding a series would then shift every
other series' normals). Each simulated quantity has its own *stream*, keyed by its name::

    h(name)        = the 128-bit BLAKE2b digest of "sim.stream:" + name, as four 32-bit words
                     (little-endian) h0 .. h3                                  (stream_hash)
    key(seed, name) = words (x0, x1) of Philox4x32-10(counter = h0..h3, key = split_seed(seed))
    counter        = (j, c, block mod 2**32, block // 2**32)   c = the group within the stream

so the normals of stream ``name`` depend only on ``(seed, name, block, j, c)``: nothing about
the other streams, their number or their order. Which groups ``c`` a run reads and where their
four normals go in a draw's variate vector is the layout of :mod:`sim.engine.kernels`
(``stream_table``). :func:`fill_streams` (numba) and :func:`stream_normals_np` (its NumPy
twin) generate them; their 32-bit words are bit-identical.

The 32x32 -> 64-bit products are formed in ``uint64`` (both factors < 2**32, so they never
wrap); every word is kept in ``[0, 2**32)`` by masking. The NumPy twin (:func:`philox_np`,
:func:`normals_np`) reproduces the 32-bit words and the uniforms bit for bit; its normals equal
the numba ones to within a few ulp (NumPy's SIMD ``log`` may differ from libm's by one ulp).
"""

from __future__ import annotations

import hashlib

import numpy as np
from numba import njit

# Random123 philox.h: multipliers and Weyl key increments of Philox4x32.
PHILOX_M0 = np.uint64(0xD2511F53)
PHILOX_M1 = np.uint64(0xCD9E8D57)
PHILOX_W0 = np.uint64(0x9E3779B9)
PHILOX_W1 = np.uint64(0xBB67AE85)
PHILOX_ROUNDS = 10

_MASK32 = np.uint64(0xFFFFFFFF)
_SHIFT32 = np.uint64(32)
_ONE = np.uint64(1)
_TWO_M32 = 2.0 ** -32
_TWO_PI = 2.0 * np.pi


def split_seed(seed: int) -> tuple[int, int]:
    """Return the Philox key words ``(seed mod 2**32, seed // 2**32)`` of a seed in [0, 2**64)."""
    seed = int(seed)
    if not 0 <= seed < 2 ** 64:
        raise ValueError(f"seed must be in [0, 2**64), got {seed}")
    return seed & 0xFFFFFFFF, (seed >> 32) & 0xFFFFFFFF


def stream_hash(name: str) -> tuple[int, int, int, int]:
    """The four 32-bit words of the 128-bit BLAKE2b digest of ``"sim.stream:" + name``."""
    d = hashlib.blake2b(f"sim.stream:{name}".encode("utf-8"), digest_size=16).digest()
    w = np.frombuffer(d, dtype="<u4")
    return int(w[0]), int(w[1]), int(w[2]), int(w[3])


# --------------------------------------------------------------------------------------------
# numba
# --------------------------------------------------------------------------------------------
@njit(cache=True, inline="always")
def philox4x32_10(c0, c1, c2, c3, k0, k1):
    """Philox4x32-10 of counter ``(c0..c3)`` under key ``(k0, k1)``; all uint64 in [0, 2**32).

    Returns the four output words as uint64 in [0, 2**32).
    """
    for r in range(PHILOX_ROUNDS):
        if r > 0:
            k0 = (k0 + PHILOX_W0) & _MASK32
            k1 = (k1 + PHILOX_W1) & _MASK32
        p0 = PHILOX_M0 * c0
        p1 = PHILOX_M1 * c2
        n0 = (p1 >> _SHIFT32) ^ c1 ^ k0
        n2 = (p0 >> _SHIFT32) ^ c3 ^ k1
        c1 = p1 & _MASK32
        c3 = p0 & _MASK32
        c0 = n0
        c2 = n2
    return c0, c1, c2, c3


@njit(cache=True, inline="always")
def fill_normals(out, g_start, g_stop, k0, k1, block, j):
    """Write normals ``4g .. 4g+3`` for groups ``g_start <= g < g_stop`` into ``out``.

    ``out`` has length >= 4 * g_stop; entries of other groups are left untouched.
    ``k0, k1`` are the key words (:func:`split_seed`), ``block`` and ``j`` non-negative ints.
    """
    c0 = np.uint64(j)
    c2 = np.uint64(block) & _MASK32
    c3 = np.uint64(block) >> _SHIFT32
    kk0 = np.uint64(k0)
    kk1 = np.uint64(k1)
    for g in range(g_start, g_stop):
        x0, x1, x2, x3 = philox4x32_10(c0, np.uint64(g), c2, c3, kk0, kk1)
        r = np.sqrt(-2.0 * np.log((np.float64(x0) + 1.0) * _TWO_M32))
        a = _TWO_PI * (np.float64(x1) * _TWO_M32)
        out[4 * g] = r * np.cos(a)
        out[4 * g + 1] = r * np.sin(a)
        r = np.sqrt(-2.0 * np.log((np.float64(x2) + 1.0) * _TWO_M32))
        a = _TWO_PI * (np.float64(x3) * _TWO_M32)
        out[4 * g + 2] = r * np.cos(a)
        out[4 * g + 3] = r * np.sin(a)


@njit(cache=True)
def stream_keys(s_hash, k0, k1):
    """Key words of every stream: (NS, 2) uint64 from the name hashes ``s_hash`` (NS, 4) uint64
    and the seed's key words ``k0, k1``: words (x0, x1) of Philox(counter = hash, key = seed)."""
    n = s_hash.shape[0]
    out = np.empty((n, 2), np.uint64)
    kk0 = np.uint64(k0)
    kk1 = np.uint64(k1)
    for i in range(n):
        x0, x1, x2, x3 = philox4x32_10(s_hash[i, 0], s_hash[i, 1], s_hash[i, 2], s_hash[i, 3],
                                       kk0, kk1)
        out[i, 0] = x0
        out[i, 1] = x1
    return out


@njit(cache=True, inline="always")
def fill_streams(out, keys, g_stream, g_ctr, g_dest, block, j):
    """Write the normals of one draw's Philox groups into ``out`` (n_var,).

    Row ``r`` of the table is group ``g_ctr[r]`` of stream ``g_stream[r]`` (key ``keys[s]``,
    counter ``(j, g_ctr[r], block)``); its four normals go to ``out[g_dest[r, w]]``, ``w = 0..3``
    (a destination ``-1`` is discarded). Entries no row writes are left untouched.
    """
    c0 = np.uint64(j)
    c2 = np.uint64(block) & _MASK32
    c3 = np.uint64(block) >> _SHIFT32
    for r in range(g_stream.shape[0]):
        s = g_stream[r]
        x0, x1, x2, x3 = philox4x32_10(c0, np.uint64(g_ctr[r]), c2, c3, keys[s, 0], keys[s, 1])
        rad = np.sqrt(-2.0 * np.log((np.float64(x0) + 1.0) * _TWO_M32))
        a = _TWO_PI * (np.float64(x1) * _TWO_M32)
        if g_dest[r, 0] >= 0:
            out[g_dest[r, 0]] = rad * np.cos(a)
        if g_dest[r, 1] >= 0:
            out[g_dest[r, 1]] = rad * np.sin(a)
        rad = np.sqrt(-2.0 * np.log((np.float64(x2) + 1.0) * _TWO_M32))
        a = _TWO_PI * (np.float64(x3) * _TWO_M32)
        if g_dest[r, 2] >= 0:
            out[g_dest[r, 2]] = rad * np.cos(a)
        if g_dest[r, 3] >= 0:
            out[g_dest[r, 3]] = rad * np.sin(a)


@njit(cache=True)
def stream_block_normals(keys, g_stream, g_ctr, g_dest, block, j_start, n, n_var):
    """Normals of draws ``j_start .. j_start+n-1`` of one block under a stream table:
    (n, n_var) float64, 0 where no row of the table writes."""
    out = np.zeros((n, n_var))
    for i in range(n):
        fill_streams(out[i], keys, g_stream, g_ctr, g_dest, block, j_start + i)
    return out


@njit(cache=True)
def philox_words(counters, k0, k1):
    """Philox4x32-10 of each row of ``counters`` (n, 4) uint64 -> (n, 4) uint64 words."""
    n = counters.shape[0]
    out = np.empty((n, 4), np.uint64)
    kk0 = np.uint64(k0)
    kk1 = np.uint64(k1)
    for i in range(n):
        x0, x1, x2, x3 = philox4x32_10(counters[i, 0], counters[i, 1], counters[i, 2],
                                       counters[i, 3], kk0, kk1)
        out[i, 0] = x0
        out[i, 1] = x1
        out[i, 2] = x2
        out[i, 3] = x3
    return out


@njit(cache=True)
def block_normals(k0, k1, block, j_start, n, n_var):
    """Normals of draws ``j_start .. j_start+n-1`` of one block: (n, n_var) float64."""
    groups = (n_var + 3) // 4
    buf = np.empty(4 * groups)
    out = np.empty((n, n_var))
    for i in range(n):
        fill_normals(buf, 0, groups, k0, k1, block, j_start + i)
        for k in range(n_var):
            out[i, k] = buf[k]
    return out


# --------------------------------------------------------------------------------------------
# NumPy twin
# --------------------------------------------------------------------------------------------
def philox_np(c0, c1, c2, c3, k0, k1):
    """Vectorised Philox4x32-10: arrays (broadcastable) of uint64 words -> four uint64 arrays."""
    c0, c1, c2, c3 = (np.asarray(c, dtype=np.uint64) for c in (c0, c1, c2, c3))
    c0, c1, c2, c3 = np.broadcast_arrays(c0, c1, c2, c3)
    k0 = np.uint64(k0)
    k1 = np.uint64(k1)
    for r in range(PHILOX_ROUNDS):
        if r > 0:
            k0 = (k0 + PHILOX_W0) & _MASK32
            k1 = (k1 + PHILOX_W1) & _MASK32
        p0 = PHILOX_M0 * c0
        p1 = PHILOX_M1 * c2
        c0, c1, c2, c3 = ((p1 >> _SHIFT32) ^ c1 ^ k0, p1 & _MASK32,
                          (p0 >> _SHIFT32) ^ c3 ^ k1, p0 & _MASK32)
    return c0, c1, c2, c3


def normals_np(k0, k1, block, j, n_var, g_start=0):
    """NumPy twin of :func:`block_normals`: normals of draws ``j`` (1-D int array) of one block.

    Returns (len(j), n_var) float64; groups below ``g_start`` (variates ``k < 4 g_start``) are
    not generated and are returned as 0, as in the kernels' buffers.
    """
    j = np.asarray(j, dtype=np.uint64)
    groups = (n_var + 3) // 4
    g = np.arange(g_start, groups, dtype=np.uint64)
    block = int(block)
    x0, x1, x2, x3 = philox_np(j[:, None], g[None, :], np.uint64(block & 0xFFFFFFFF),
                               np.uint64(block >> 32), k0, k1)
    out = np.zeros((j.size, groups, 4))
    for (a, b, col) in ((x0, x1, 0), (x2, x3, 2)):
        r = np.sqrt(-2.0 * np.log((a.astype(np.float64) + 1.0) * _TWO_M32))
        ang = _TWO_PI * (b.astype(np.float64) * _TWO_M32)
        out[:, g_start:, col] = r * np.cos(ang)
        out[:, g_start:, col + 1] = r * np.sin(ang)
    return out.reshape(j.size, 4 * groups)[:, :n_var]


def stream_keys_np(s_hash, k0, k1) -> np.ndarray:
    """NumPy twin of :func:`stream_keys`: (NS, 2) uint64 key words of the streams."""
    h = np.asarray(s_hash, dtype=np.uint64).reshape(-1, 4)
    x0, x1, _, _ = philox_np(h[:, 0], h[:, 1], h[:, 2], h[:, 3], k0, k1)
    return np.stack([x0, x1], axis=1).astype(np.uint64)


def stream_words_np(keys, g_stream, g_ctr, block, j) -> tuple[np.ndarray, ...]:
    """The four Philox words (len(j), G) of every table row for draws ``j`` of ``block``."""
    j = np.asarray(j, dtype=np.uint64)[:, None]
    block = int(block)
    k = np.asarray(keys, dtype=np.uint64)[np.asarray(g_stream, dtype=np.int64)]
    ctr = np.asarray(g_ctr, dtype=np.uint64)[None, :]
    return philox_np(j, ctr, np.uint64(block & 0xFFFFFFFF), np.uint64(block >> 32),
                     k[None, :, 0], k[None, :, 1])


def stream_normals_np(keys, g_stream, g_ctr, g_dest, block, j, n_var) -> np.ndarray:
    """NumPy twin of :func:`stream_block_normals`: (len(j), n_var) normals of draws ``j``."""
    x0, x1, x2, x3 = stream_words_np(keys, g_stream, g_ctr, block, j)
    out = np.zeros((x0.shape[0], int(n_var)))
    dest = np.asarray(g_dest, dtype=np.int64)
    for (a, b, w) in ((x0, x1, 0), (x2, x3, 2)):
        r = np.sqrt(-2.0 * np.log((a.astype(np.float64) + 1.0) * _TWO_M32))
        ang = _TWO_PI * (b.astype(np.float64) * _TWO_M32)
        for col, val in ((w, r * np.cos(ang)), (w + 1, r * np.sin(ang))):
            ok = dest[:, col] >= 0
            out[:, dest[ok, col]] = val[:, ok]
    return out
