"""Figures for the book: one function per figure, each returning the matplotlib ``Figure``.

All figures use :func:`use_style` (seaborn's colourblind palette, readable font sizes) and
label every axis with its quantity and unit. Stages add their figures in their own section.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import seaborn as sns

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

    ``series`` is a :class:`synergy_utils.extraction.HeadSeries`; rows run layer-major
    (layer 0 head 0, layer 0 head 1, ...), with layer boundaries marked on the y axis. The
    colour scale is clipped at the 1st and 99th percentiles so a few loud heads do not hide
    the rest.
    """
    import numpy as np

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
    import numpy as np

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
    import numpy as np

    from synergy_utils.extraction import lag1_autocorrelation

    rho = np.nanmean(lag1_autocorrelation(series.values), axis=0)  # (n_layers, n_heads)
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


def plot_gradient_heatmap(gradient, method: str = "luppi", ax=None):
    """Layer x head heatmap of the synergy–redundancy gradient (rank units, 0 = neutral)."""
    import numpy as np

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
    ax.set_title(f"Synergy–redundancy gradient ({method})")
    fig.colorbar(image, ax=ax, label="gradient (rank units; > 0 synergistic)")
    return fig


def plot_layer_profile(
    depth, profile, ci=None, null_band=None, *, label: str = "model", others=None, ax=None
):
    """Scaled layer profile against scaled depth, with bootstrap band and circular-shift null.

    ``others`` maps a label to ``(depth, profile)`` or ``(depth, profile, ci)`` drawn on the
    same axes (e.g. the randomised model or another model).
    """
    import numpy as np

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
    import numpy as np

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
    import numpy as np

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
    import numpy as np

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
    import numpy as np

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


# --- phase transition -------------------------------------------------------------------


def _phase_axes(ax, figsize=(5.5, 3.8)):
    return (ax.figure, ax) if ax is not None else plt.subplots(figsize=figsize)


def _shade_midpoint(ax, fit) -> None:
    """Grey span over the bootstrap CI of the logistic midpoint (clipped to the tested range,
    whose limits then become the x-axis), and integer ticks for the levels."""
    import math

    import numpy as np
    from matplotlib.ticker import MaxNLocator

    levels = np.asarray(fit["levels"], dtype=float)
    pad = 0.5 * float(np.median(np.diff(levels))) if levels.size > 1 else 0.5
    left, right = levels[0] - pad, levels[-1] + pad
    lo, hi = fit["midpoint"]["ci"]
    if math.isfinite(lo) and math.isfinite(hi):
        ax.axvspan(max(lo, left), min(hi, right), color="0.88", zorder=0, label="midpoint 95% CI")
    ax.set_xlim(left, right)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def plot_phase_accuracy(result, *, family: str = "", ax=None):
    """Task accuracy per difficulty level with Wilson 95 % CIs (``result`` from
    :func:`synergy_utils.phase.analyse_sweep`)."""
    import numpy as np
    from matplotlib.ticker import MaxNLocator

    fig, ax = _phase_axes(ax)
    levels, acc = np.asarray(result["levels"]), result["accuracy"]
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    mean = np.asarray(acc["accuracy"], dtype=float)
    if np.isfinite(mean).any():
        err = np.clip(np.vstack([mean - acc["ci_low"], acc["ci_high"] - mean]), 0, None)
        ax.errorbar(levels, mean, yerr=err, marker="o", capsize=3, color=colors(1)[0])
    else:
        ax.text(0.5, 0.5, "no checkable answers", transform=ax.transAxes, ha="center")
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel(f"difficulty ({family})" if family else "difficulty")
    ax.set_ylabel("accuracy (fraction correct)")
    ax.set_title("Accuracy")
    return fig


def plot_order_parameter(result, *, random_result=None, ylabel: str | None = None, ax=None):
    """Order parameter per level (mean, bootstrap 95 % CI), the circular-shift null band, the
    logistic and linear fits, the midpoint CI and, if given, the randomised model."""
    import numpy as np

    from .phase import ORDER_PARAMETER_LABELS, ORDER_PARAMETERS, logistic

    fig, ax = _phase_axes(ax, (6.5, 4.2))
    palette = colors(4)
    levels = np.asarray(result["levels"], dtype=float)
    order, fit, null = result["order"], result["fit"], result["null"]
    _shade_midpoint(ax, fit)
    if null is not None:
        ax.fill_between(
            levels,
            null["low"],
            null["high"],
            color=palette[2],
            alpha=0.25,
            label="circular-shift null (95%)",
        )
    err = np.vstack([order["mean"] - order["ci_low"], order["ci_high"] - order["mean"]])
    err = np.clip(err, 0, None)
    ax.errorbar(
        levels,
        order["mean"],
        yerr=err,
        marker="o",
        capsize=3,
        color=palette[0],
        linestyle="none",
        label="model (mean, 95% CI)",
        zorder=3,
    )
    grid = np.linspace(levels[0], levels[-1], 200)
    ax.plot(
        grid,
        logistic(grid, **fit["logistic"]["params"]),
        color=palette[0],
        label=f"logistic fit (ΔBIC = {fit['delta_bic']:.1f})",
    )
    line = fit["linear"]["params"]
    ax.plot(
        grid,
        line["intercept"] + line["slope"] * grid,
        color=palette[0],
        linestyle=":",
        label="linear fit",
    )
    if random_result is not None:
        ro = random_result["order"]
        rerr = np.clip(np.vstack([ro["mean"] - ro["ci_low"], ro["ci_high"] - ro["mean"]]), 0, None)
        ax.errorbar(
            np.asarray(random_result["levels"]) + 0.05,
            ro["mean"],
            yerr=rerr,
            marker="s",
            capsize=3,
            color=palette[1],
            linestyle="--",
            label="randomised model",
        )
    name = result["order_parameter"]
    ax.set_xlabel("difficulty level")
    ax.set_ylabel(ylabel or ORDER_PARAMETER_LABELS.get(name, name))
    ax.set_title(ORDER_PARAMETERS[name].capitalize(), fontsize=10)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=3, frameon=False)
    return fig


def plot_susceptibility(result, *, ax=None):
    """Across-prompt variance of the order parameter per level (bootstrap 95 % CI) with the
    logistic midpoint's CI shaded."""
    import numpy as np

    fig, ax = _phase_axes(ax)
    levels = np.asarray(result["levels"], dtype=float)
    order = result["order"]
    var = np.asarray(order["variance"], dtype=float)
    err = np.vstack([var - order["variance_ci_low"], order["variance_ci_high"] - var])
    _shade_midpoint(ax, result["fit"])
    ax.errorbar(
        levels,
        var,
        yerr=np.clip(err, 0, None),
        marker="o",
        capsize=3,
        color=colors(3)[2],
        label="variance across prompts",
    )
    ax.set_xlabel("difficulty level")
    ax.set_ylabel("susceptibility\n(variance, squared order-parameter units)")
    ax.set_title("Susceptibility")
    ax.legend(fontsize=8)
    return fig


def plot_level_profiles(profiles, levels, *, family: str = "", ax=None):
    """Scaled layer profile of each difficulty level, coloured by level (sequential map).

    ``profiles`` is (K, L) from :func:`synergy_utils.phase.level_profiles`.
    """
    import matplotlib as mpl
    import numpy as np

    profiles = np.asarray(profiles, dtype=float)
    levels = np.asarray(levels, dtype=float)
    fig, ax = _phase_axes(ax, (6.5, 4.0))
    depth = np.linspace(0, 1, profiles.shape[1])
    cmap = mpl.colormaps[SEQUENTIAL_CMAP]
    norm = mpl.colors.Normalize(vmin=levels.min(), vmax=levels.max())
    for level, profile in zip(levels, profiles, strict=True):
        ax.plot(depth, profile, color=cmap(norm(level)), marker=".", lw=1.6)
    for edge in (1 / 3, 2 / 3):
        ax.axvline(edge, color="0.6", lw=0.8, ls="--")
    bar = fig.colorbar(mpl.cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax)
    bar.set_label(f"difficulty ({family})" if family else "difficulty")
    ax.set_xlabel("layer depth (scaled to [0, 1])")
    ax.set_ylabel("scaled gradient (0 = lowest layer, 1 = highest)")
    ax.set_title("Layer profile per difficulty level")
    return fig


# --- ablation ---------------------------------------------------------------------------


_ABLATION_ORDER_STYLE = {
    "synergy_first": ("synergy first (decreasing gradient)", 0),
    "redundancy_first": ("redundancy first (increasing gradient)", 2),
}


def _prompt_mean_band(values, n_bootstrap: int, seed: int, level: float):
    """Mean over prompts (last axis) and its percentile-bootstrap band, per curve point."""
    import numpy as np

    rng = np.random.default_rng(seed)
    n_prompts = values.shape[-1]
    idx = rng.integers(0, n_prompts, size=(n_bootstrap, n_prompts))
    boot = values[:, idx].mean(axis=-1)  # (points, n_bootstrap)
    alpha = (1 - level) / 2
    return (
        values.mean(axis=-1),
        np.quantile(boot, alpha, axis=1),
        np.quantile(boot, 1 - alpha, axis=1),
    )


def plot_ablation_curves(
    curves,
    metrics: tuple[str, ...] = ("kl_clean_ablated", "kl_ablated_clean"),
    level: float = 0.95,
    n_bootstrap: int = 500,
    seed: int = 0,
):
    """Cumulative ablation curves, one panel per KL direction.

    ``curves`` is :func:`synergy_utils.ablation.ablation_curves`. Synergy- and
    redundancy-first lines carry a bootstrap band over prompts (``level``); random orders
    are drawn thin, with their mean and a band of ± 1 sd across orders.
    """
    import numpy as np

    from .ablation import KL_LABELS, random_orders

    use_style()
    palette = colors(4)
    x = 100 * curves["fraction"].values
    fig, axes = plt.subplots(1, len(metrics), figsize=(5.2 * len(metrics), 4), squeeze=False)
    for ax, metric in zip(axes[0], metrics, strict=True):
        kl = curves["kl"].sel(metric=metric)
        for order, (label, colour) in _ABLATION_ORDER_STYLE.items():
            values = kl.sel(order=order).transpose("n_removed", "prompt").values
            mean, low, high = _prompt_mean_band(values, n_bootstrap, seed, level)
            ax.plot(x, mean, marker="o", ms=3, color=palette[colour], label=label)
            ax.fill_between(x, low, high, color=palette[colour], alpha=0.2, lw=0)
        names = random_orders(curves)
        if names:
            per_order = kl.sel(order=names).mean("prompt").transpose("order", "n_removed").values
            for row in per_order:
                ax.plot(x, row, color=palette[1], lw=0.6, alpha=0.35)
            mean = per_order.mean(axis=0)
            sd = per_order.std(axis=0, ddof=1) if len(names) > 1 else np.zeros_like(mean)
            ax.plot(
                x,
                mean,
                marker="s",
                ms=3,
                color=palette[1],
                label=f"random orders (mean ± sd, n = {len(names)})",
            )
            ax.fill_between(x, mean - sd, mean + sd, color=palette[1], alpha=0.2, lw=0)
        ax.set_xlabel(f"heads removed (% of all {curves.attrs.get('n_total', '?')} heads)")
        ax.set_ylabel(f"{KL_LABELS.get(metric, metric)} (nats per token)")
        ax.set_title(KL_LABELS.get(metric, metric))
    axes[0][0].legend(fontsize="small", loc="upper left")
    fig.suptitle(
        f"Cumulative ablation ({curves.attrs.get('mode', 'zero')}), "
        f"{curves.sizes['prompt']} prompts; bands: {int(100 * level)} % CI over prompts"
    )
    fig.tight_layout()
    return fig


def plot_ablation_accuracy(table, ci: tuple[str, str] = ("ci_low", "ci_high")):
    """Task accuracy by perturbed head group and mode, with error bars from ``ci`` columns.

    ``table`` is :func:`synergy_utils.ablation.accuracy_table` (a DataFrame with ``mode``,
    ``group``, ``accuracy`` and the interval columns); the intact model is a dashed line.
    """
    import numpy as np

    use_style()
    groups = ["synergistic", "redundant", "random"]
    modes = [m for m in dict.fromkeys(table["mode"]) if m != "none"]
    palette = colors(max(len(modes), 1))
    fig, ax = plt.subplots(figsize=(8, 4))
    width = 0.8 / max(len(modes), 1)
    for k, mode in enumerate(modes):
        rows = table[table["mode"] == mode].set_index("group").reindex(groups)
        acc = 100 * rows["accuracy"].to_numpy(float)
        err = np.vstack(
            [acc - 100 * rows[ci[0]].to_numpy(float), 100 * rows[ci[1]].to_numpy(float) - acc]
        )
        pos = np.arange(len(groups)) + (k - (len(modes) - 1) / 2) * width
        ax.bar(pos, acc, width, yerr=err, capsize=3, color=palette[k], label=mode)
        for x_pos, value, top in zip(pos, acc, acc + err[1], strict=True):
            if np.isfinite(value):
                ax.annotate(
                    f"{value:.0f} %",
                    (x_pos, top),
                    xytext=(0, 3),
                    textcoords="offset points",
                    ha="center",
                    va="bottom",
                    fontsize="small",
                )
    intact = table[table["group"] == "intact"]
    if len(intact):
        row = intact.iloc[0]
        ax.axhline(
            100 * row["accuracy"],
            color="0.2",
            ls="--",
            lw=1,
            label=f"intact model ({100 * row['accuracy']:.0f} %)",
        )
        ax.axhspan(100 * row[ci[0]], 100 * row[ci[1]], color="0.5", alpha=0.15, lw=0)
    ax.set_xticks(np.arange(len(groups)))
    ax.set_xticklabels(
        ["synergistic core\n(top 25 %)", "redundant core\n(bottom 25 %)", "random 25 %"]
    )
    ax.set_ylabel("accuracy (% of tasks correct)")
    ax.set_xlabel("heads perturbed")
    ax.set_ylim(0, 112)
    ax.set_yticks(range(0, 101, 20))
    ax.legend(fontsize="small", title="perturbation", loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.tight_layout()
    return fig
