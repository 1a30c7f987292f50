"""Figures for the book: one function per figure, each returning the matplotlib ``Figure``.

All figures use :func:`use_style` (seaborn's colourblind palette, readable font sizes) and
label every axis with its quantity and unit. Stages add their figures in their own section.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

from ..stages.extraction import head_persistence

PALETTE = "colorblind"
#: Sequential colour map for heatmaps and ordered levels (perceptually uniform, CVD-safe).
SEQUENTIAL_CMAP = "viridis"
#: Diverging colour map for signed quantities centred on zero (CVD-safe).
DIVERGING_CMAP = "vlag"


def use_style() -> None:
    """Apply the book's plotting style (call once per notebook; idempotent)."""
    sns.set_theme(context="notebook", style="whitegrid", palette=PALETTE)
    plt.rcParams.update({"figure.dpi": 110, "savefig.bbox": "tight", "axes.titleweight": "bold"})


def colors(n: int) -> list[tuple[float, float, float]]:
    """``n`` distinguishable colourblind-safe colours."""
    return sns.color_palette(PALETTE, n)


# --- setup ------------------------------------------------------------------------------


def plot_head_matrix(values, *, colorbar_label: str, title: str, ax=None):
    """Heatmap of one number per head, layers down and heads across; returns the Figure."""
    use_style()
    if ax is None:
        _, ax = plt.subplots(figsize=(6.0, 4.2))
    sns.heatmap(values, cmap=SEQUENTIAL_CMAP, ax=ax, cbar_kws={"label": colorbar_label})
    ax.set_xlabel("head index within layer")
    ax.set_ylabel("layer (0 = closest to the input)")
    ax.set_title(title)
    return ax.figure


# --- extraction -------------------------------------------------------------------------


def _value_label(series) -> str:
    reduction = getattr(series, "metadata", {}).get("reduction", "l2")
    return {
        "l2": "head output L2 norm (activation units)",
        "mean": "head output mean (activation units)",
        "max": "head output max (activation units)",
        "projected": "projected contribution L2 norm (activation units)",
    }.get(reduction, f"{reduction} (activation units)")


def plot_series_heatmap(series, prompt: int = 0, ax=None):
    """Heatmap of one prompt's series: generation step (x) by head (y), heads ordered by layer.

    ``series`` is a :class:`synergy_utils.series.HeadSeries`; rows run layer-major
    (layer 0 head 0, layer 0 head 1, ...), with layer boundaries marked on the y axis. The
    colour scale is clipped at the 1st and 99th percentiles so a few loud heads do not hide
    the rest.
    """

    values = series.flat()[prompt].T  # (n_layers * n_heads, n_steps)
    n_layers, n_heads = series.n_layers, series.n_heads
    fig, ax = (
        (ax.figure, ax)
        if ax is not None
        else plt.subplots(figsize=(7.5, max(3.5, min(9.0, 0.02 * values.shape[0] + 3.0))))
    )
    finite = values[np.isfinite(values)]
    vmin, vmax = np.percentile(finite, [1, 99]) if finite.size else (None, None)
    image = ax.imshow(
        values,
        aspect="auto",
        cmap=SEQUENTIAL_CMAP,
        interpolation="nearest",
        origin="lower",
        vmin=vmin,
        vmax=vmax,
    )
    step = max(1, n_layers // 10)
    ticks = np.arange(0, n_layers, step)
    ax.set_yticks(ticks * n_heads + (n_heads - 1) / 2, [str(t) for t in ticks])
    for boundary in range(1, n_layers):
        ax.axhline(boundary * n_heads - 0.5, color="white", linewidth=0.3, alpha=0.5)
    ax.grid(False)
    ax.set_xlabel("generation step (token index)")
    ax.set_ylabel(f"layer (each band = {n_heads} heads)")
    category = f" [{series.categories[prompt]}]" if series.categories else ""
    ax.set_title(f"Head series of prompt {prompt}{category}")
    fig.colorbar(
        image, ax=ax, label=_value_label(series) + "; clipped at 1st/99th pct", extend="both"
    )
    return fig


def plot_layer_activity(series, ax=None):
    """Mean head value per layer (over prompts and steps); band = spread across the heads."""

    per_head = np.nanmean(series.values, axis=(0, 1))  # (n_layers, n_heads)
    mean = per_head.mean(axis=1)
    low, high = per_head.min(axis=1), per_head.max(axis=1)
    layers = np.arange(series.n_layers)
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(6.5, 3.8))
    color = colors(1)[0]
    ax.fill_between(layers, low, high, color=color, alpha=0.25, label="range over heads")
    ax.plot(layers, mean, marker="o", color=color, label="mean over heads")
    ax.set_xlabel("layer index (0 = first)")
    ax.set_ylabel(_value_label(series))
    ax.set_title("Head activity by layer")
    ax.legend(loc="best")
    return fig


def plot_autocorrelation_by_layer(series, ax=None, seed: int = 0):
    """Box and strip plot of each head's lag-1 autocorrelation (mean over prompts) by layer.

    Boxes show quartiles over the heads of a layer (whiskers 1.5 IQR); dots are single heads,
    jittered sideways (``seed``).
    """

    rho = head_persistence(series)  # (n_layers, n_heads)
    layers = np.arange(series.n_layers)
    fig, ax = (
        (ax.figure, ax)
        if ax is not None
        else plt.subplots(figsize=(max(6.5, 0.28 * series.n_layers + 2.0), 4.0))
    )
    base, points = colors(2)
    per_layer = [row[np.isfinite(row)] for row in rho]
    boxes = ax.boxplot(
        per_layer,
        positions=layers,
        widths=0.65,
        showfliers=False,
        patch_artist=True,
        medianprops={"color": "0.15"},
    )
    for patch in boxes["boxes"]:
        patch.set(facecolor=base, alpha=0.45)
    jitter = np.random.default_rng(seed).uniform(-0.2, 0.2, size=rho.shape)
    x = layers[:, None] + jitter
    ax.scatter(x.ravel(), rho.ravel(), s=7, color=points, alpha=0.8, label="one head", zorder=3)
    ax.axhline(0.0, color="0.3", linewidth=0.8)
    ax.set_xticks(
        layers, [str(i) if i % max(1, series.n_layers // 15) == 0 else "" for i in layers]
    )
    ax.set_xlabel("layer index (0 = first)")
    ax.set_ylabel("lag-1 autocorrelation (Pearson r)")
    ax.set_title("Persistence of head series by layer")
    ax.legend(loc="best")
    return fig


# --- synergistic cores ------------------------------------------------------------------


def plot_gradient_heatmap(gradient, gradient_method: str = "luppi", ax=None):
    """Layer x head heatmap of the synergy–redundancy gradient (rank units, 0 = neutral)."""

    gradient = np.asarray(gradient, dtype=float)
    fig, ax = (
        (ax.figure, ax)
        if ax is not None
        else plt.subplots(
            figsize=(max(4.0, 0.35 * gradient.shape[1] + 2.5), max(3.5, 0.22 * gradient.shape[0]))
        )
    )
    limit = float(np.nanmax(np.abs(gradient))) or 1.0
    image = ax.imshow(
        gradient,
        aspect="auto",
        cmap=DIVERGING_CMAP,
        vmin=-limit,
        vmax=limit,
        origin="lower",
        interpolation="nearest",
    )
    ax.grid(False)
    ax.set_xlabel("head index")
    ax.set_ylabel("layer index (0 = first)")
    ax.set_title(f"Synergy–redundancy gradient ({gradient_method})")
    fig.colorbar(image, ax=ax, label="gradient (rank units; > 0 synergistic)")
    return fig


def plot_layer_profile(
    depth, profile, ci=None, null_band=None, *, label: str = "model", others=None, ax=None
):
    """Scaled layer profile against scaled depth, with bootstrap band and circular-shift null.

    ``others`` maps a label to ``(depth, profile)`` or ``(depth, profile, ci)`` drawn on the
    same axes (e.g. the randomised model or another model).
    """

    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(7, 4.2))
    palette = colors(2 + len(others or {}))
    if null_band is not None:
        band = np.asarray(null_band)
        ax.fill_between(
            depth,
            band[:, 0],
            band[:, 1],
            color="0.6",
            alpha=0.35,
            hatch="//",
            label="circular-shift null (95 % band)",
            linewidth=0,
        )
        ax.plot(depth, band[:, 0], color="0.35", linewidth=0.8)
        ax.plot(depth, band[:, 1], color="0.35", linewidth=0.8)
    if ci is not None:
        ci = np.asarray(ci)
        ax.fill_between(
            depth,
            ci[:, 0],
            ci[:, 1],
            color=palette[0],
            alpha=0.25,
            label=f"{label}: 95 % bootstrap band",
            linewidth=0,
        )
    ax.plot(depth, profile, "o-", color=palette[0], label=label)
    for k, (name, item) in enumerate((others or {}).items(), start=1):
        colour = palette[k + 1]
        ax.plot(item[0], item[1], "s--", color=colour, label=name, markersize=4)
        if len(item) > 2 and item[2] is not None:
            other_ci = np.asarray(item[2])
            ax.fill_between(
                item[0], other_ci[:, 0], other_ci[:, 1], color=colour, alpha=0.15, linewidth=0
            )
    for edge in (1 / 3, 2 / 3):
        ax.axvline(edge, color="0.3", linewidth=0.8, linestyle=":")
    ax.set_xlabel("layer depth (scaled, 0 = first layer, 1 = last)")
    ax.set_ylabel("mean gradient of the layer (min–max scaled)")
    ax.set_ylim(-0.05, 1.05)
    ax.set_title("Layer profile of the synergy–redundancy gradient")
    ax.legend(
        fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, frameon=False
    )
    return fig


def plot_syn_red_scatter(
    synergy, redundancy, *, units: str = "nats", r: float | None = None, ax=None
):
    """Head synergy against head redundancy, one point per head, coloured by layer."""

    synergy = np.asarray(synergy, dtype=float)
    redundancy = np.asarray(redundancy, dtype=float)
    layers = np.repeat(np.arange(synergy.shape[0]), synergy.shape[1])
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(5.5, 4.2))
    points = ax.scatter(
        redundancy.ravel(),
        synergy.ravel(),
        c=layers,
        cmap=SEQUENTIAL_CMAP,
        s=18,
        alpha=0.85,
        edgecolors="none",
    )
    fig.colorbar(points, ax=ax, label="layer index")
    ax.set_xlabel(f"redundancy: mean rtr over partners ({units})")
    ax.set_ylabel(f"synergy: mean sts over partners ({units})")
    title = "Synergy vs redundancy per head"
    ax.set_title(title + (f" (Pearson r = {r:.2f})" if r is not None else ""))
    return fig


def plot_graph_metrics(graphs):
    """Bars of global efficiency and modularity of the synergy and redundancy graphs."""
    fig, axes = plt.subplots(1, 2, figsize=(7.5, 3.6))
    names = ["synergy", "redundancy"]
    palette = colors(2)
    for ax, key, title in zip(
        axes,
        ["efficiency", "modularity"],
        [
            "global efficiency\n(unweighted hop distances)",
            "modularity\n(weighted, Louvain partition)",
        ],
        strict=True,
    ):
        values = [graphs[name][key] for name in names]
        ax.bar(names, values, color=palette)
        ax.set_ylim(0, 1.2 * max([v for v in values if v == v] + [1e-9]))
        ax.set_title(title, fontsize="small")
        ax.set_ylabel(f"{key} (dimensionless)")
        ax.set_xlabel("graph")
        for i, value in enumerate(values):
            ax.text(i, value, f"{value:.3f}", ha="center", va="bottom", fontsize="small")
    fig.suptitle("Graphs of the strongest 10 % of head pairs")
    fig.tight_layout()
    return fig


def plot_null_distribution(
    null_values, observed: float, *, boot_ci=None, label: str = "inverted-U statistic", ax=None
):
    """Histogram of a null statistic with the observed value (and its bootstrap interval)."""

    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(5.5, 3.5))
    palette = colors(2)
    null_values = np.asarray(null_values, dtype=float)
    ax.hist(
        null_values[np.isfinite(null_values)],
        bins=min(30, max(5, null_values.size // 2)),
        color="0.6",
        label="circular-shift null",
    )
    if boot_ci is not None:
        ax.axvspan(
            boot_ci[0],
            boot_ci[1],
            color=palette[0],
            alpha=0.2,
            label="observed: 95 % bootstrap interval",
        )
    ax.axvline(observed, color=palette[0], linewidth=2, label="observed")
    ax.axvline(0, color="0.2", linewidth=0.8, linestyle=":")
    ax.set_xlabel(f"{label} (scaled-profile units)")
    ax.set_ylabel("number of shuffles")
    ax.legend(fontsize="small")
    return fig


def plot_independent_baseline(observed_matrix, baseline_matrix, *, units: str = "nats", ax=None):
    """Observed pair synergy against the independent-series baseline 2·min(a_x, a_y)."""

    obs = np.asarray(observed_matrix, dtype=float)
    base = np.asarray(baseline_matrix, dtype=float)
    rows, cols = np.triu_indices(obs.shape[0], 1)
    x, y = base[rows, cols], obs[rows, cols]
    ok = np.isfinite(x) & np.isfinite(y)
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(5, 4.2))
    cells = ax.hexbin(x[ok], y[ok], gridsize=40, cmap=SEQUENTIAL_CMAP, bins="log", mincnt=1)
    fig.colorbar(cells, ax=ax, label="number of head pairs (log scale)")
    hi = float(max(np.nanmax(x[ok]), np.nanmax(y[ok]))) if ok.any() else 1.0
    ax.plot([0, hi], [0, hi], color="0.2", linestyle="--", linewidth=1, label="y = x")
    ax.set_xlabel(f"independent-series baseline 2·min(a_x, a_y) ({units})")
    ax.set_ylabel(f"observed pair synergy sts ({units})")
    ax.set_title("How much synergy is autocorrelation?")
    ax.legend(fontsize="small")
    return fig


def plot_profiles_side_by_side(results):
    """One panel per model/condition: scaled layer profile with its bootstrap band.

    ``results`` maps a label to a dict with ``depth``, ``profile``, optional ``profile_ci``
    and ``inverted_u``.
    """

    n = max(1, len(results))
    n_cols = min(3, n)
    n_rows = -(-n // n_cols)
    fig, axes = plt.subplots(
        n_rows, n_cols, figsize=(3.8 * n_cols, 3.3 * n_rows), sharey=True, squeeze=False
    )
    palette = colors(n)
    for ax in axes.ravel()[n:]:
        ax.set_visible(False)
    for k, (ax, (name, res)) in enumerate(zip(axes.ravel(), results.items(), strict=False)):
        depth = np.asarray(res["depth"])
        if res.get("profile_ci") is not None:
            ci = np.asarray(res["profile_ci"])
            ax.fill_between(depth, ci[:, 0], ci[:, 1], color=palette[k], alpha=0.25, linewidth=0)
        ax.plot(depth, res["profile"], "o-", color=palette[k], markersize=3)
        for edge in (1 / 3, 2 / 3):
            ax.axvline(edge, color="0.3", linewidth=0.8, linestyle=":")
        inv = res.get("inverted_u")
        ax.set_title(
            name + (f"\ninverted-U stat {inv:.2f}" if inv is not None else ""), fontsize="small"
        )
        ax.set_xlabel("layer depth (scaled)")
    for row in axes:
        row[0].set_ylabel("layer profile (min–max scaled)")
    fig.tight_layout()
    return fig


# --- the primer -------------------------------------------------------------------------


def plot_independent_ar1_sweep(sweep, ax=None):
    """MMI synergy of two *independent* AR(1) series against their coefficient.

    ``sweep`` is :func:`synergy_utils.phiid.independent_ar1_sweep`'s result (equal
    coefficients); the exact curve ``2·min(a_x, a_y) = -ln(1 - φ²)`` is drawn beside the
    estimates of ``sts`` and ``rtr``.
    """
    use_style()
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(7, 4.2))
    c_pred, c_sts, c_rtr = colors(3)
    phi_grid = np.linspace(0.0, float(np.max(sweep["phi"])), 200)
    ax.plot(
        phi_grid, -np.log1p(-(phi_grid**2)), color=c_pred, lw=2, label="2·min(a_x, a_y) (exact)"
    )
    ax.plot(sweep["phi"], sweep["sts"], "o", color=c_sts, label="sts, estimated")
    ax.plot(sweep["phi"], sweep["rtr"], "s", color=c_rtr, label="rtr, estimated")
    ax.set_xlabel("AR(1) coefficient φ of both independent series")
    ax.set_ylabel("information (nats)")
    ax.set_title("MMI-ΦID reports synergy between unrelated series")
    ax.legend()
    fig.tight_layout()
    return fig
