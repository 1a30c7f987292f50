"""Compiled ΦID kernels: the scalar formulas of one pair, and the fused all-pairs CPU
kernels built on them (numba, ``parallel=True``). One module, so that numba's on-disk cache
(keyed on this file) can never mix an edited formula with stale compiled kernels.

Pair formulas
-------------
Every pair function takes and returns plain floats (or tuples of them) and 1-D arrays, so
that the same source also compiles for the CUDA kernels of :mod:`._cuda` (retargeted there,
with ``math.log`` for :func:`fast_log`). The inputs of a pair are the six correlations of
its four variables X1 = x_t, X2 = y_t, Y1 = x_{t+tau}, Y2 = y_{t+tau}:

    p = r(X1, X2)   q = r(Y1, Y2)   a = r(X1, Y1)   b = r(X1, Y2)   c = r(X2, Y1)   d = r(X2, Y2)

and, for CCS, the series of both nodes standardised per window (sample mean, standard
deviation with ddof = 1: the normalisation of the published toolbox) together with each
node's local self-information ``i_t(X1; Y1)`` (see :func:`local_self_information`).
Lattice knowns are 16-tuples in the order of :data:`.lattice.ATOMS`.

All-pairs kernels
-----------------

:func:`pairs_block` takes one *row block* of a chunk of items: source rows ``r0 .. r0 + R``
against target columns ``r0 .. N``, only unordered pairs i < j (j -> i follows from the
x <-> y swap). The parallel loop runs over tasks; each task is a contiguous run of "folded"
rows (row ``h`` of the block with row ``R - 1 - h``, which together always hold the same
number of pairs) of one item, or of all items with ``mean_mode``, so that the static
schedule is balanced and scratch memory is allocated once per task. A row is computed in
tiles of :data:`TILE` targets: a vectorised loop writes the 19 outputs of
:func:`outputs` into a flat scratch, then the selected ones are copied out.

``out`` is (B, S, N, N) with ``mean_mode = False`` (item ``b`` of the chunk goes to
``out[b_out0 + b]``; degenerate pairs are NaN), or (1, S, N, N) running sums with
``mean_mode = True`` (degenerate pairs left out; ``count[i, j]``, i < j, counts the items
in each sum). ``fwd[s]`` is the output index of plane s; ``col[s] >= 0`` asks for the
swapped output to be written into the lower triangle directly (when its partner plane is
not selected); :func:`fill_lower` fills the other lower triangles by a blocked transpose.
"""

from __future__ import annotations

import math

import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.extending import intrinsic

_JIT = {"cache": True, "error_model": "numpy", "nogil": True}
#: Reductions over time need reassociation to be vectorised; nothing assumes finite values.
_FAST = {"reassoc", "contract", "nsz"}
#: Pairs whose 4x4 correlation determinant is at or below this are numerically singular
#: (same value as ``._checks.DET_TOL``; repeated here so that this module stands alone).
DET_TOL = 1e-12


# ------------------------------------------------------------------ a vectorisable log


@intrinsic
def _float_bits(typingctx, x):
    sig = types.int64(types.float64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return sig, codegen


@intrinsic
def _bits_float(typingctx, x):
    sig = types.float64(types.int64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return sig, codegen


_LN2_HI = 6.93147180369123816490e-01  # ln 2 split so that e * _LN2_HI is exact
_LN2_LO = 1.90821492927058770002e-10
_SQRT2 = 1.4142135623730951


@njit(inline="always", **_JIT)
def fast_log(x):
    """Natural log of a positive, normal float64 in branch-free arithmetic, so that loops
    calling it vectorise (numba has no vector math library here; ``math.log`` is a scalar
    call). Maximum error ~2e-16 relative (a few ulp). Zero, negative, subnormal, inf and NaN
    arguments give meaningless results: callers flag those pairs as degenerate.

    x = 2^e m with m in [sqrt(1/2), sqrt(2)); ln m = 2 artanh(s), s = (m - 1) / (m + 1),
    |s| < 0.172, summed to s^21.
    """
    bits = _float_bits(x)
    e = ((bits >> 52) & 0x7FF) - 1023
    m = _bits_float((bits & 0x000FFFFFFFFFFFFF) | 0x3FF0000000000000)
    big = m > _SQRT2
    m = m * 0.5 if big else m
    e = e + 1 if big else e
    f = m - 1.0
    s = f / (2.0 + f)
    z = s * s
    poly = 1.0 / 21.0
    poly = poly * z + 1.0 / 19.0
    poly = poly * z + 1.0 / 17.0
    poly = poly * z + 1.0 / 15.0
    poly = poly * z + 1.0 / 13.0
    poly = poly * z + 1.0 / 11.0
    poly = poly * z + 1.0 / 9.0
    poly = poly * z + 1.0 / 7.0
    poly = poly * z + 1.0 / 5.0
    poly = poly * z + 1.0 / 3.0
    return e * _LN2_HI + (2.0 * s + (2.0 * s * z * poly + e * _LN2_LO))


# --------------------------------------------------------------- closed-form knowns


@njit(inline="always", **_JIT)
def closed_form_mi(p, q, a, b, c, d):
    """The seven pair-dependent Gaussian MIs (nats) from the correlations, and det R.

    Returns ``(I(X1;Y2), I(X2;Y1), I(X1X2;Y1), I(X1X2;Y2), I(X1;Y1Y2), I(X2;Y1Y2),
    I(X1X2;Y1Y2), det4)``; ``I(A;B) = 0.5 ln(det R_A det R_B / det R_AB)``, whose 2x2, 3x3
    and 4x4 principal minors are polynomials in the correlations. I(X1;Y1) and I(X2;Y2)
    belong to one node each and are computed once per node.
    """
    one_p = 1.0 - p * p
    one_q = 1.0 - q * q
    aa, bb, cc, dd = a * a, b * b, c * c, d * d
    d3a = one_p - aa - cc + 2.0 * p * a * c  # det R over X1 X2 Y1
    d3b = one_p - bb - dd + 2.0 * p * b * d  # X1 X2 Y2
    d3c = one_q - aa - bb + 2.0 * q * a * b  # X1 Y1 Y2
    d3d = one_q - cc - dd + 2.0 * q * c * d  # X2 Y1 Y2
    ad_bc = a * d - b * c
    det4 = (
        one_p * one_q
        - (aa + bb + cc + dd)
        + ad_bc * ad_bc
        + 2.0 * q * (a * b + c * d)
        + 2.0 * p * (a * c + b * d)
        - 2.0 * p * q * (a * d + b * c)
    )
    i12 = -0.5 * fast_log(1.0 - bb)
    i21 = -0.5 * fast_log(1.0 - cc)
    stx = 0.5 * fast_log(one_p / d3a)
    sty = 0.5 * fast_log(one_p / d3b)
    xts = 0.5 * fast_log(one_q / d3c)
    yts = 0.5 * fast_log(one_q / d3d)
    sts = 0.5 * fast_log(one_p * one_q / det4)
    return i12, i21, stx, sty, xts, yts, sts, det4


@njit(inline="always", **_JIT)
def mmi_knowns(p, q, a, b, c, d, mi_a, mi_d):
    """The 16 MMI lattice knowns (ATOMS order) and det R of one pair; ``mi_a``, ``mi_d`` are
    I(X1;Y1) and I(X2;Y2)."""
    i12, i21, stx, sty, xts, yts, sts, det4 = closed_form_mi(p, q, a, b, c, d)
    return (
        min(min(mi_a, i12), min(i21, mi_d)),  # rtr
        min(mi_a, i21),  # rtx: R(X1, X2 -> Y1)
        min(i12, mi_d),  # rty
        min(xts, yts),  # rts
        min(mi_a, i12),  # xtr: R(Y1, Y2 <- X1)
        mi_a,
        i12,
        xts,
        min(i21, mi_d),  # ytr
        i21,
        mi_d,
        yts,
        min(stx, sty),  # str
        stx,
        sty,
        sts,
    ), det4


# ----------------------------------------------------------------- local (CCS) knowns


@njit(inline="always", **_JIT)
def ccs_redundancy(m1, m2, m12):
    """Local CCS redundancy of two sources about a target (Ince 2017): minus the local
    co-information ``c = m12 - m1 - m2`` where m1, m2, m12 and -c share one sign, else 0."""
    nc = m1 + m2 - m12
    lo = min(min(m1, m2), min(m12, nc))
    hi = max(max(m1, m2), max(m12, nc))
    return nc if (lo > 0.0) | (hi < 0.0) else 0.0


@njit(**_JIT)
def ccs_coefficients(p, q, a, b, c, d, consts):
    """Per-pair coefficients of the local MIs as functions of the four standardised values.

    A local MI is its average plus ``(q_A + q_B - q_AB) / 2`` with ``q_V = z_V^T R_V^-1 z_V``;
    with B given A this is ``(q_B - e^T S^-1 e) / 2``, e the residual of the regression of
    B on A and S its covariance (the Schur complement). The residuals of the future on the
    past, of each future on the past, of each past on the future and of the single pairs
    are all that is needed. ``consts`` are the averages (I(X1;Y2), I(X2;Y1), I(X1X2;Y1),
    I(X1X2;Y2), I(X1;Y1Y2), I(X2;Y1Y2), I(X1X2;Y1Y2)).
    """
    gp = 1.0 / (1.0 - p * p)
    gq = 1.0 / (1.0 - q * q)
    # regression of (Y1, Y2) on (X1, X2): M = P^-1 C; S = Q - C^T M
    m11 = gp * (a - p * c)
    m21 = gp * (c - p * a)
    m12 = gp * (b - p * d)
    m22 = gp * (d - p * b)
    s11 = 1.0 - (a * m11 + c * m21)
    s12 = q - (a * m12 + c * m22)
    s22 = 1.0 - (b * m12 + d * m22)
    gs = 1.0 / (s11 * s22 - s12 * s12)
    # regression of X1 and of X2 on (Y1, Y2)
    g1 = gq * (a - q * b)
    g2 = gq * (b - q * a)
    h1 = gq * (c - q * d)
    h2 = gq * (d - q * c)
    sc = 1.0 - (a * g1 + b * g2)
    sd = 1.0 - (c * h1 + d * h2)
    return (
        m11, m21, m12, m22, g1, g2, h1, h2, b, c,
        0.5 / (1.0 - b * b), 0.5 / (1.0 - c * c), 0.5 / s11, 0.5 / s22, 0.5 / sc, 0.5 / sd,
        0.5 * gq, gq * q, 0.5 * s22 * gs, -s12 * gs, 0.5 * s11 * gs,
        consts[0], consts[1], consts[2], consts[3], consts[4], consts[5], consts[6],
    )  # fmt: skip


@njit(inline="always", **_JIT)
def local_mi_step(k, x1, x2, y1, y2):
    """The seven pair-dependent local MIs at one time step, from :func:`ccs_coefficients`:
    (I(X1;Y2), I(X2;Y1), I(X1X2;Y1), I(X1X2;Y2), I(X1;Y1Y2), I(X2;Y1Y2), I(X1X2;Y1Y2))."""
    ea = y1 - k[0] * x1 - k[1] * x2  # Y1 given X1, X2
    eb = y2 - k[2] * x1 - k[3] * x2  # Y2 given X1, X2
    ec = x1 - k[4] * y1 - k[5] * y2  # X1 given Y1, Y2
    ed = x2 - k[6] * y1 - k[7] * y2  # X2 given Y1, Y2
    rb = y2 - k[8] * x1  # Y2 given X1
    rc = y1 - k[9] * x2  # Y1 given X2
    hy1, hy2 = 0.5 * y1 * y1, 0.5 * y2 * y2
    ea2, eb2 = ea * ea, eb * eb
    return (
        k[21] + hy2 - k[10] * rb * rb,
        k[22] + hy1 - k[11] * rc * rc,
        k[23] + hy1 - k[12] * ea2,
        k[24] + hy2 - k[13] * eb2,
        k[25] + 0.5 * x1 * x1 - k[14] * ec * ec,
        k[26] + 0.5 * x2 * x2 - k[15] * ed * ed,
        k[27] + k[16] * (y1 * y1 + y2 * y2) - k[17] * y1 * y2
        - (k[18] * ea2 + k[19] * ea * eb + k[20] * eb2),
    )  # fmt: skip


@njit(inline="always", **_JIT)
def ccs_step(l11, l12, l21, l22, lstx, lsty, lxts, lyts, lsts):
    """Local CCS redundancies at one step: (rtr, rtx, rty, rts, xtr, ytr, str)."""
    r_tx = ccs_redundancy(l11, l21, lstx)  # R(X1, X2 -> Y1)
    r_ty = ccs_redundancy(l12, l22, lsty)  # R(X1, X2 -> Y2)
    r_ts = ccs_redundancy(lxts, lyts, lsts)  # R(X1, X2 -> Y1 Y2)
    x_tr = ccs_redundancy(l11, l12, lxts)  # R(Y1, Y2 <- X1)
    y_tr = ccs_redundancy(l21, l22, lyts)  # R(Y1, Y2 <- X2)
    s_tr = ccs_redundancy(lstx, lsty, lsts)  # R(Y1, Y2 <- X1 X2)
    dc = (
        lxts + lyts + lstx + lsty - lsts - (l11 + l12 + l21 + l22)
        + (r_tx + r_ty - r_ts) + (x_tr + y_tr - s_tr)
    )  # fmt: skip
    lo = min(min(min(l11, l12), min(l21, l22)), dc)
    hi = max(max(max(l11, l12), max(l21, l22)), dc)
    return dc if (lo > 0.0) | (hi < 0.0) else 0.0, r_tx, r_ty, r_ts, x_tr, y_tr, s_tr


@njit(fastmath=_FAST, **_JIT)
def ccs_local_sums(p, q, a, b, c, d, consts, xi, yi, si, xj, yj, sj):
    """Sums over time of the seven local CCS redundancies of one pair (one vectorised loop).

    ``consts``: the averaged MIs (see :func:`ccs_coefficients`); ``xi``/``yi``: node i's past
    and future window, standardised (ddof = 1); ``si``: its local self-information; likewise
    for node j. Returns the sums of (rtr, rtx, rty, rts, xtr, ytr, str).
    """
    k = ccs_coefficients(p, q, a, b, c, d, consts)
    s0 = s1 = s2 = s3 = s4 = s5 = s6 = 0.0
    for t0 in range(xi.shape[0]):
        t = np.uint64(t0)  # unsigned: no wraparound test, so the loads stay unit-stride
        m = local_mi_step(k, xi[t], xj[t], yi[t], yj[t])
        r = ccs_step(si[t], m[0], m[1], sj[t], m[2], m[3], m[4], m[5], m[6])
        s0 += r[0]
        s1 += r[1]
        s2 += r[2]
        s3 += r[3]
        s4 += r[4]
        s5 += r[5]
        s6 += r[6]
    return s0, s1, s2, s3, s4, s5, s6


@njit(**_JIT)
def ccs_knowns(p, q, a, b, c, d, mi_a, mi_d, xi, yi, si, xj, yj, sj):
    """The 16 CCS lattice knowns (ATOMS order) of one pair and det R: the nine MIs in closed
    form (they are the time averages of the local MIs), the seven redundancies as time
    averages of local CCS values (the toolbox's definition)."""
    i12, i21, stx, sty, xts, yts, sts, det4 = closed_form_mi(p, q, a, b, c, d)
    if det4 > DET_TOL:  # else a singular pair: the caller sets it to NaN
        consts = (i12, i21, stx, sty, xts, yts, sts)
        sums = ccs_local_sums(p, q, a, b, c, d, consts, xi, yi, si, xj, yj, sj)
    else:
        sums = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    inv_n = 1.0 / xi.shape[0]
    return (
        sums[0] * inv_n,  # rtr
        sums[1] * inv_n,  # rtx
        sums[2] * inv_n,  # rty
        sums[3] * inv_n,  # rts
        sums[4] * inv_n,  # xtr
        mi_a,
        i12,
        xts,
        sums[5] * inv_n,  # ytr
        i21,
        mi_d,
        yts,
        sums[6] * inv_n,  # str
        stx,
        sty,
        sts,
    ), det4


# ---------------------------------------------------------------- atoms and measures

#: Number of values :func:`outputs` returns: the 16 atoms, then TDMI, Φ_WMS, Φ_R.
N_OUTPUTS = 19


@njit(inline="always", **_JIT)
def outputs(k):
    """The 16 atoms (Möbius inversion of the knowns ``k``, factorised over the two sides:
    r' = r, x' = x - r, y' = y - r, s' = s - x - y + r), then TDMI = I(X1X2;Y1Y2),
    Φ_WMS = TDMI - I(X1;Y1) - I(X2;Y2) and Φ_R = Φ_WMS + rtr."""
    # future side, per past row
    r0, r1, r2, r3 = k[0], k[1] - k[0], k[2] - k[0], k[3] - k[1] - k[2] + k[0]
    x0, x1, x2, x3 = k[4], k[5] - k[4], k[6] - k[4], k[7] - k[5] - k[6] + k[4]
    y0, y1, y2, y3 = k[8], k[9] - k[8], k[10] - k[8], k[11] - k[9] - k[10] + k[8]
    s0, s1, s2, s3 = k[12], k[13] - k[12], k[14] - k[12], k[15] - k[13] - k[14] + k[12]
    wms = k[15] - k[5] - k[10]
    return (
        r0,
        r1,
        r2,
        r3,
        x0 - r0,
        x1 - r1,
        x2 - r2,
        x3 - r3,
        y0 - r0,
        y1 - r1,
        y2 - r2,
        y3 - r3,
        s0 - x0 - y0 + r0,
        s1 - x1 - y1 + r1,
        s2 - x2 - y2 + r2,
        s3 - x3 - y3 + r3,
        k[15],
        wms,
        wms + k[0],
    )


def local_self_information(past: np.ndarray, future: np.ndarray, rho: np.ndarray) -> np.ndarray:
    """Local I(x_t; x_{t+tau}) of every node (nats), numpy: ``past``/``future`` (..., n)
    standardised windows (ddof = 1), ``rho`` (...,) their correlation."""
    rho = rho[..., None]
    g = 1.0 / (1.0 - rho * rho)
    mean = -0.5 * np.log1p(-rho * rho)
    return mean + g * (rho * past * future - 0.5 * rho * rho * (past * past + future * future))


# ========================================================================= CPU kernels

#: Pairs per tile: a row's outputs go through a (N_OUTPUTS, TILE) scratch whose rows lie at
#: compile-time constant distances, so that the loop over a tile vectorises.
TILE = 64


@njit(**_JIT)
def _task_range(task, n_tasks, n_units):
    lo = (task * n_units) // n_tasks
    hi = ((task + 1) * n_units) // n_tasks
    return lo, hi


@njit(**_JIT)
def _unit(unit, n_half, mean_mode, n_items):
    """Folded row ``h`` of a work unit and the items it covers."""
    if mean_mode:
        return unit, 0, n_items
    b = unit // n_half
    return unit - b * n_half, b, b + 1


@njit(inline="always", **_JIT)
def _store(v, w, o, good):
    """Outputs ``o`` of tile entry ``w`` (unsigned) into the flat tile scratch ``v``; NaN
    for a degenerate pair (so that NaN in any output marks the pair as degenerate)."""
    nan = math.nan
    v[w] = o[0] if good else nan
    v[TILE + w] = o[1] if good else nan
    v[2 * TILE + w] = o[2] if good else nan
    v[3 * TILE + w] = o[3] if good else nan
    v[4 * TILE + w] = o[4] if good else nan
    v[5 * TILE + w] = o[5] if good else nan
    v[6 * TILE + w] = o[6] if good else nan
    v[7 * TILE + w] = o[7] if good else nan
    v[8 * TILE + w] = o[8] if good else nan
    v[9 * TILE + w] = o[9] if good else nan
    v[10 * TILE + w] = o[10] if good else nan
    v[11 * TILE + w] = o[11] if good else nan
    v[12 * TILE + w] = o[12] if good else nan
    v[13 * TILE + w] = o[13] if good else nan
    v[14 * TILE + w] = o[14] if good else nan
    v[15 * TILE + w] = o[15] if good else nan
    v[16 * TILE + w] = o[16] if good else nan
    v[17 * TILE + w] = o[17] if good else nan
    v[18 * TILE + w] = o[18] if good else nan


@njit(**_JIT)
def _emit(v, n, i, j0, b_out, fwd, col, out, count, mean_mode):
    """Write a tile (pairs i -> j0 .. j0 + n - 1) into row i of every output plane; planes
    with ``col[s] >= 0`` also get the swapped output ``col[s]`` (that is, j -> i) in column
    i (the other planes' lower triangles are filled afterwards by :func:`fill_lower`).
    Returns the number of degenerate pairs in the tile. (Unsigned indices: no wraparound
    checks, so that the copies vectorise.)"""
    n_bad = 0
    un = np.uint64(n)
    for w in range(un):
        n_bad += 0 if v[w] == v[w] else 1
    for s in range(fwd.shape[0]):
        cf, cb = np.uint64(fwd[s] * TILE), col[s] * TILE
        if mean_mode:
            row = out[0, s, i, j0:]
            for w in range(un):
                x = v[cf + w]
                row[w] += x if x == x else 0.0
            if cb >= 0:
                plane = out[0, s]
                for w in range(n):
                    x = v[cb + w]
                    if x == x:
                        plane[j0 + w, i] += x
        else:
            row = out[b_out, s, i, j0:]
            for w in range(un):
                row[w] = v[cf + w]
            if cb >= 0:
                plane = out[b_out, s]
                for w in range(n):
                    plane[j0 + w, i] = v[cb + w]
    if mean_mode:
        crow = count[i, j0:]
        for w in range(un):
            crow[w] += 1 if v[w] == v[w] else 0
    return n_bad


@njit(**_JIT)
def _mmi_tile(p_row, q_row, b_row, c_row, d_row, m_row, a, mi_a, jj0, j0, n, v):
    """MMI outputs of source i against targets j0 .. j0 + n - 1 into the tile ``v``
    (vectorised over the tile). ``p_row``, ``q_row``, ``b_row``, ``c_row``: i's rows of the
    past-past, future-future, past-future and future-past correlation blocks (block
    columns jj0 ..); ``d_row``/``m_row``: lag correlation and self-information by node."""
    for w0 in range(n):
        w = np.uint64(w0)
        jj = np.uint64(jj0 + w0)
        j = np.uint64(j0 + w0)
        k, det4 = mmi_knowns(
            p_row[jj], q_row[jj], a, b_row[jj], c_row[jj], d_row[j], mi_a, m_row[j]
        )
        _store(v, w, outputs(k), det4 > DET_TOL)


@njit(**_JIT)
def _ccs_tile(p_row, q_row, b_row, c_row, d_row, m_row, xs, ys, ss, i, jj0, j0, n, v):
    """CCS outputs of source i against targets j0 .. j0 + n - 1 into the tile ``v``."""
    a, mi_a = d_row[i], m_row[i]
    xi, yi, si = xs[i], ys[i], ss[i]
    for w0 in range(n):
        jj = jj0 + w0
        j = j0 + w0
        k, det4 = ccs_knowns(
            p_row[jj], q_row[jj], a, b_row[jj], c_row[jj], d_row[j], mi_a, m_row[j],
            xi, yi, si, xs[j], ys[j], ss[j],
        )  # fmt: skip
        _store(v, np.uint64(w0), outputs(k), det4 > DET_TOL)


@njit(**_JIT)
def _pairs_task(
    task, n_tasks, ccs, cpp, cff, cpf, cfp, rho, mi, xs, ys, ss, r0, fwd, col, out, count,
    b_out0, mean_mode,
):  # fmt: skip
    """One task of :func:`pairs_block`: a contiguous run of its work units."""
    n_items, n_rows, _ = cpp.shape
    n_nodes = rho.shape[1]
    n_half = (n_rows + 1) // 2
    n_units = n_half if mean_mode else n_items * n_half
    lo, hi = _task_range(task, n_tasks, n_units)
    v = np.empty(N_OUTPUTS * TILE)
    bad = 0
    for unit in range(lo, hi):
        h, b_lo, b_hi = _unit(unit, n_half, mean_mode, n_items)
        for side in range(2):
            ii = h if side == 0 else n_rows - 1 - h
            if side == 1 and ii == h:
                break
            i = r0 + ii
            for b in range(b_lo, b_hi):
                rows = cpp[b, ii], cff[b, ii], cpf[b, ii], cfp[b, ii]
                for t0 in range(i + 1, n_nodes, TILE):
                    n = min(TILE, n_nodes - t0)
                    if ccs:
                        _ccs_tile(
                            rows[0], rows[1], rows[2], rows[3], rho[b], mi[b], xs[b], ys[b],
                            ss[b], i, t0 - r0, t0, n, v,
                        )  # fmt: skip
                    else:
                        _mmi_tile(
                            rows[0], rows[1], rows[2], rows[3], rho[b], mi[b], rho[b, i],
                            mi[b, i], t0 - r0, t0, n, v,
                        )  # fmt: skip
                    bad += _emit(v, n, i, t0, b_out0 + b, fwd, col, out, count, mean_mode)
    return bad


@njit(**_JIT)
def _fill_task(task, out, partner):
    """One block row of one plane of one item for :func:`fill_lower`."""
    n_items, n_planes, n_nodes, _ = out.shape
    blk = 32
    n_blk = (n_nodes + blk - 1) // blk
    b = task // (n_planes * n_blk)
    s = (task // n_blk) % n_planes
    jb = task % n_blk
    dst = out[b, s]
    j_lo, j_hi = jb * blk, min(n_nodes, (jb + 1) * blk)
    for j in range(j_lo, j_hi):
        dst[j, j] = math.nan
    if partner[s] < 0:
        return 0
    src = out[b, partner[s]]
    for i_lo in range(0, j_hi, blk):
        i_hi = min(i_lo + blk, j_hi)
        for j in range(j_lo, j_hi):
            row = dst[j]
            col = np.uint64(j)
            for i0 in range(i_lo, min(i_hi, j)):
                i = np.uint64(i0)  # unsigned: no wraparound tests
                row[i] = src[i, col]
    return 0


@njit(parallel=True, **_JIT)
def pairs_block(
    ccs, cpp, cff, cpf, cfp, rho, mi, xs, ys, ss, r0, fwd, col, out, count, b_out0, mean_mode,
    n_threads,
):  # fmt: skip
    """All unordered pairs of one row block (the parallel loop: tasks of folded rows).

    ``ccs``: CCS redundancy (else MMI). Correlation blocks (Bc, R, N - r0): ``cpp[b, ii,
    jj]`` = r(past_i, past_j), ``cff`` future-future, ``cpf`` = r(past_i, future_j),
    ``cfp`` = r(future_i, past_j) for i = r0 + ii, j = r0 + jj; ``rho``/``mi`` (Bc, N):
    lag correlation and self-information of each node, NaN for a node that is constant in
    a window (which makes all its pairs degenerate). For CCS, ``xs``/``ys`` (Bc, N, n) are
    each node's past and future window standardised with ddof = 1 and ``ss`` (Bc, N, n)
    its local self-information (ignored for MMI).
    """
    n_items, n_rows, _ = cpp.shape
    n_half = (n_rows + 1) // 2
    n_units = n_half if mean_mode else n_items * n_half
    n_tasks = min(n_units, 8 * n_threads)
    n_bad = 0
    for task in prange(n_tasks):
        n_bad += _pairs_task(
            np.int64(task), n_tasks, ccs, cpp, cff, cpf, cfp, rho, mi, xs, ys, ss, r0, fwd,
            col, out, count, b_out0, mean_mode,
        )  # fmt: skip
    return n_bad


@njit(parallel=True, **_JIT)
def fill_lower(out, partner):
    """``out[b, s, j, i] = out[b, partner[s], i, j]`` for i < j where ``partner[s] >= 0``
    (the swap of output s is output partner[s]); NaN on the diagonal of every plane.
    Cache-blocked transpose, parallel over (item, plane, block row of 32)."""
    n_items, n_planes, n_nodes, _ = out.shape
    n_blk = (n_nodes + 31) // 32
    done = 0
    for task in prange(n_items * n_planes * n_blk):
        done += _fill_task(np.int64(task), out, partner)
    return done


# ------------------------------------------------------------------------- preparation


@njit(**_JIT)
def _prepare_series(x, b, j, tau, rtol, windows, flat, rho, mi):
    """Windows of series j of item b (see :func:`prepare`)."""
    n_steps = x.shape[1]
    n_nodes = x.shape[2]
    n = n_steps - tau
    peak = 0.0
    for t in range(n_steps):
        peak = max(peak, abs(x[b, t, j]))
    if peak == 0.0:
        is_flat = True
        factor = 1.0
    else:
        is_flat = False
        _, exponent = math.frexp(peak)
        factor = math.ldexp(1.0, -exponent)  # exact rescaling to a peak in [0.5, 1)
    limit = rtol * peak * factor
    norms = np.empty(2)
    means = np.empty(2)
    for side in range(2):
        start = side * tau
        total = 0.0
        for t in range(n):
            total += x[b, start + t, j] * factor
        mean = total / n
        ss = 0.0
        for t in range(n):
            dev = x[b, start + t, j] * factor - mean
            ss += dev * dev
        means[side] = mean
        norms[side] = math.sqrt(ss)
        if math.sqrt(ss / n) <= limit:
            is_flat = True
    flat[b, j] = is_flat
    if is_flat:
        for t in range(n):
            windows[b, t, j] = 0.0
            windows[b, t, n_nodes + j] = 0.0
        rho[b, j] = math.nan
        mi[b, j] = math.nan
        return
    r = 0.0
    inv_p, inv_f = 1.0 / norms[0], 1.0 / norms[1]
    for t in range(n):
        u = (x[b, t, j] * factor - means[0]) * inv_p
        v = (x[b, tau + t, j] * factor - means[1]) * inv_f
        windows[b, t, j] = u
        windows[b, t, n_nodes + j] = v
        r += u * v
    rho[b, j] = r
    mi[b, j] = -0.5 * math.log1p(-r * r)


@njit(parallel=True, **_JIT)
def prepare(x, tau, rtol, windows, flat, rho, mi):
    """Per series of a (B, T, N) stack: rescaled by a power of two to a peak magnitude in
    [0.5, 1) (exact, so that nothing over- or underflows whatever the scale), its past and
    future windows centred and scaled to unit norm, written to ``windows`` (B, n, 2N) (past
    in columns 0..N-1, future in N..2N-1); ``flat`` (B, N): constant in a window (standard
    deviation <= ``rtol`` times the peak; windows 0, ``rho`` and ``mi`` NaN); ``rho``: lag
    correlation; ``mi``: Gaussian self-information."""
    n_items, _, n_nodes = x.shape
    for task in prange(n_items * n_nodes):
        _prepare_series(x, task // n_nodes, task % n_nodes, tau, rtol, windows, flat, rho, mi)
    return 0


@njit(**_JIT)
def prepare_serial(x, tau, rtol, windows, flat, rho, mi):
    """:func:`prepare` on the calling thread (for small stacks: no parallel launch)."""
    n_items, _, n_nodes = x.shape
    for task in range(n_items * n_nodes):
        _prepare_series(x, task // n_nodes, task % n_nodes, tau, rtol, windows, flat, rho, mi)
    return 0


@njit(**_JIT)
def fill_lower_serial(out, partner):
    """:func:`fill_lower` on the calling thread (for small results)."""
    n_items, n_planes, n_nodes, _ = out.shape
    n_blk = (n_nodes + 31) // 32
    for task in range(n_items * n_planes * n_blk):
        _fill_task(task, out, partner)
    return 0


# ================================================================ lag-table kernels
# Circular-shift nulls on the circular closure (driver: ._lagged): a pair's surrogate depends
# only on the two heads' relative offset r; its correlations are the circular
# cross-correlations at lags r and r +- tau, read from ``ccp[i, j, tau + r']``, r' = r - tau
# .. r + tau (the all-lags table padded by tau on both sides, so that the reads are plain
# unit-stride loads).

#: Pseudo-output of the lag kernels beside the 19 of :func:`outputs`: sts / TDMI (NaN where
#: TDMI <= 0), the ``sts_share`` of the nulls.
SHARE_OUTPUT = 19


@njit(inline="always", **_JIT)
def _tile_value(v, code, w):
    """Output ``code`` (or :data:`SHARE_OUTPUT`) of tile entry ``w``."""
    if code == SHARE_OUTPUT:
        tdmi = v[16 * TILE + w]
        return v[15 * TILE + w] / tdmi if tdmi > 0.0 else math.nan
    return v[code * TILE + w]


@njit(inline="always", **_JIT)
def _lag_accumulate(v, ok, n, t0, codes, i, j, back, valid, obs, msum, mcount, psum, pcount,
                    pgreater):  # fmt: skip
    """Add the tile (pair i -> j at relative lags r = t0 .. t0 + n - 1; with ``back``, pair
    j -> i at lags (T - r) mod T, ``codes`` then being the swapped outputs) where ``ok[w]``
    (drawn and not degenerate) to the sums over prompts by lag (``msum`` (S, N, N, T),
    ``mcount`` (N, N, T)) and, where also ``valid`` (a counted surrogate of the pair), to
    this prompt's sums, counts and exceedances of ``obs`` (S, N, N). Branch-free selects
    (the conditions are unpredictable), with the prompt's sums kept in registers."""
    n_steps = valid.shape[2]
    a, b = (j, i) if back else (i, j)
    n_use = 0
    for w in range(n):
        r = t0 + w
        rr = (n_steps - r) % n_steps if back else r
        mcount[a, b, rr] += 1 if ok[w] else 0
        n_use += 1 if ok[w] & valid[a, b, rr] else 0
    pcount[a, b] += n_use
    for s in range(codes.shape[0]):
        code = codes[s]
        bound = obs[s, a, b]
        total, above = 0.0, 0
        for w in range(n):
            r = t0 + w
            rr = (n_steps - r) % n_steps if back else r
            x = _tile_value(v, code, w)
            msum[s, a, b, rr] += x if ok[w] & (x == x) else 0.0
            use = ok[w] & valid[a, b, rr]
            total += x if use else 0.0
            above += 1 if use & (x > bound) else 0
        psum[s, a, b] += total
        pgreater[s, a, b] += above


@njit(**_JIT)
def _lag_self_information(i, j, t0, n, mi_rot, offsets, first, mii, mij):
    """Self-information of heads i and j in the first surrogate that drew each lag t0 ..
    t0 + n - 1 of pair i -> j, rolled as in that surrogate (``mi_rot[o, i]``), so that ties
    of surrogate and observed values (an MMI redundancy equal to a self-information) break
    as in the surrogate-by-surrogate path; a lag never drawn gets the unrolled values."""
    for w in range(n):
        k = first[i, j, t0 + w]
        oi = offsets[k, i] if k >= 0 else 0
        oj = offsets[k, j] if k >= 0 else 0
        mii[w] = mi_rot[oi, i]
        mij[w] = mi_rot[oj, j]


@njit(**_JIT)
def _lag_tile(ccs, i, j, t0, n, tau, ccp, rho, mii, mij, local, first, v, xj, yj, sj):
    """Outputs of pair i -> j at lags t0 .. t0 + n - 1 into the tile ``v`` (MMI: one
    vectorised loop; CCS: one pass over time per drawn lag, NaN for the others; ``local``
    as in :func:`_lag_row`; ``xj``, ``yj``, ``sj`` (T,) scratch)."""
    xs, ys, ss, xs2, ys2, ss2 = local
    row = ccp[i, j]
    a, d = rho[i], rho[j]
    n_steps = first.shape[2]
    if not ccs:
        for w0 in range(n):
            w = np.uint64(w0)
            r = np.uint64(t0 + w0)
            p = row[r + tau]
            k, det4 = mmi_knowns(p, p, a, row[r + 2 * tau], row[r], d, mii[w], mij[w])
            _store(v, w, outputs(k), det4 > DET_TOL)
        return
    for w in range(n):
        r = t0 + w
        p = row[r + tau]
        if first[i, j, r] < 0:
            _store(v, np.uint64(w), outputs((0.0,) * 16), False)
            continue
        for t in range(n_steps):  # head j rolled by r, contiguous (so the pass vectorises)
            xj[t] = xs2[j, r + t]
            yj[t] = ys2[j, r + t]
            sj[t] = ss2[j, r + t]
        k, det4 = ccs_knowns(
            p, p, a, row[r + 2 * tau], row[r], d, mii[w], mij[w], xs[i], ys[i], ss[i], xj, yj,
            sj,
        )  # fmt: skip
        _store(v, np.uint64(w), outputs(k), det4 > DET_TOL)


@njit(**_JIT)
def _lag_row(
    ccs, i, tau, ccp, rho, mi_rot, offsets, local, first, valid, codes, swapped, obs,
    msum, mcount, psum, pcount, pgreater, v, mii, mij, ok, scratch,
):  # fmt: skip
    """Pairs i -> j, j > i, at every drawn lag r, and (swapped) j -> i at lag (T - r) mod T:
    the same surrogates seen from the other head. ``local``: (xs, ys, ss, xs2, ys2, ss2) for
    CCS (see :func:`lag_null_prompt`); ``scratch`` (3, T)."""
    n_nodes, _, n_steps = first.shape
    xj, yj, sj = scratch[0], scratch[1], scratch[2]
    for j in range(i + 1, n_nodes):
        for t0 in range(0, n_steps, TILE):
            n = min(TILE, n_steps - t0)
            _lag_self_information(i, j, t0, n, mi_rot, offsets, first, mii, mij)
            _lag_tile(ccs, i, j, t0, n, tau, ccp, rho, mii, mij, local, first, v, xj, yj, sj)
            for w in range(n):  # drawn, and not degenerate
                ok[w] = (first[i, j, t0 + w] >= 0) & (v[w] == v[w])
            for back in (False, True):
                _lag_accumulate(
                    v, ok, n, t0, swapped if back else codes, i, j, back, valid, obs, msum,
                    mcount, psum, pcount, pgreater,
                )  # fmt: skip


@njit(parallel=True, **_JIT)
def lag_null_prompt(
    ccs, ccp, rho, mi_rot, offsets, xs, ys, ss, xs2, ys2, ss2, first, valid, codes, swapped,
    tau, obs, msum, mcount, psum, pcount, pgreater,
):  # fmt: skip
    """One prompt of a circular-shift null from its lag table, parallel over folded rows.

    ``ccp`` (N, N, T + 2 tau): circular cross-correlations of the unit-norm centred series,
    ``ccp[i, j, tau + r] = sum_t u_i(t) u_j(t + r)`` for r = -tau .. T + tau - 1; ``rho``
    (N,): lag correlations; ``mi_rot`` (T, N): self-information of each head rolled by each
    offset; ``offsets`` (K, N); for CCS ``xs``/``ys``/``ss`` (N, T): each head's
    standardised past and future window and local self-information, and ``xs2``/``ys2``/
    ``ss2`` (N, 2T) the same written twice in a row (so that a rotation is a plain slice).
    ``first`` (N, N, T): the first surrogate that drew each relative lag of each ordered
    pair (-1: none); ``valid``: the lags that count as surrogates (each once). Outputs
    ``codes`` (S,) and their x <-> y swaps ``swapped``; ``obs`` (S, N, N) this prompt's
    observed values. Accumulates in place into ``msum``, ``mcount`` (all prompts) and
    ``psum``, ``pcount``, ``pgreater`` (this prompt).
    """
    n_nodes = first.shape[0]
    n_half = (n_nodes + 1) // 2
    for task in prange(n_half):
        h = np.int64(task)
        v = np.empty(N_OUTPUTS * TILE)
        mii, mij = np.empty(TILE), np.empty(TILE)
        ok = np.empty(TILE, dtype=np.bool_)
        scratch = np.empty((3, first.shape[2]))
        local = (xs, ys, ss, xs2, ys2, ss2)
        for side in range(2):
            i = h if side == 0 else n_nodes - 1 - h
            if side == 1 and i == h:
                break
            _lag_row(
                ccs, i, tau, ccp, rho, mi_rot, offsets, local, first, valid, codes, swapped,
                obs, msum, mcount, psum, pcount, pgreater, v, mii, mij, ok, scratch,
            )  # fmt: skip
    return 0


# ============================================================== cross-block kernel
# Pairs (source head i of one item, target head j of a partner item): the prompt-shuffle
# null (driver: ._cross). Correlation blocks (B, N, M) between the two items' windows.


@njit(**_JIT)
def _cross_row(ccs, b, i, blocks, rho_s, mi_s, rho_t, mi_t, local, codes, out, v):
    """Outputs ``codes`` of source i -> every target j of item b into ``out[b, :, i]``."""
    cpp, cff, cpf, cfp = blocks
    n_targets = cpp.shape[2]
    p_row, q_row, b_row, c_row = cpp[b, i], cff[b, i], cpf[b, i], cfp[b, i]
    a, mi_a = rho_s[b, i], mi_s[b, i]
    rt, mt = rho_t[b], mi_t[b]
    xs_s, ys_s, ss_s, xs_t, ys_t, ss_t = local
    for t0 in range(0, n_targets, TILE):
        n = min(TILE, n_targets - t0)
        if ccs:
            xi, yi, si = xs_s[b, i], ys_s[b, i], ss_s[b, i]
            for w in range(n):
                j = t0 + w
                k, det4 = ccs_knowns(
                    p_row[j], q_row[j], a, b_row[j], c_row[j], rt[j], mi_a, mt[j], xi, yi, si,
                    xs_t[b, j], ys_t[b, j], ss_t[b, j],
                )  # fmt: skip
                _store(v, np.uint64(w), outputs(k), det4 > DET_TOL)
        else:
            for w0 in range(n):
                w = np.uint64(w0)
                j = np.uint64(t0 + w0)
                k, det4 = mmi_knowns(p_row[j], q_row[j], a, b_row[j], c_row[j], rt[j], mi_a, mt[j])
                _store(v, w, outputs(k), det4 > DET_TOL)
        for s in range(codes.shape[0]):
            c = np.uint64(codes[s] * TILE)
            row = out[b, s, i, t0:]
            for w0 in range(n):
                w = np.uint64(w0)
                row[w] = v[c + w]


@njit(parallel=True, **_JIT)
def cross_block(ccs, cpp, cff, cpf, cfp, rho_s, mi_s, rho_t, mi_t, local, codes, out):
    """Outputs ``codes`` (S,) of every pair (source i, target j) of every item b into
    ``out`` (B, S, N, M), NaN for a degenerate pair; parallel over (item, source).

    ``cpp``/``cff``/``cpf``/``cfp`` (B, N, M): correlations of the sources' past with the
    targets' past, future with future, past with future, future with past; ``rho_*``,
    ``mi_*`` (B, N) and (B, M): lag correlation and self-information (NaN: constant);
    ``local``: for CCS the sources' and the targets' standardised windows and local
    self-information, (xs_s, ys_s, ss_s, xs_t, ys_t, ss_t), each (B, nodes, n).
    """
    n_items, n_sources, _ = cpp.shape
    blocks = (cpp, cff, cpf, cfp)
    for task in prange(n_items * n_sources):
        t = np.int64(task)
        v = np.empty(N_OUTPUTS * TILE)
        _cross_row(
            ccs, t // n_sources, t % n_sources, blocks, rho_s, mi_s, rho_t, mi_t, local, codes,
            out, v,
        )  # fmt: skip
    return 0
