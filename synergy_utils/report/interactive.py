"""Interactive figures (plotly), shown beside the static matplotlib figures of a chapter.

Each builder is a pure function of the labelled arrays or tables a notebook already has and
returns a :class:`plotly.graph_objects.Figure`; :func:`interactive` wraps a figure for a cell
output. That output carries two representations and never plotly.js itself:

* ``application/vnd.plotly.v1+json``, which JupyterLab draws with the ``jupyterlab-plotly``
  extension that ships inside the plotly wheel;
* ``text/html``, a ``<div>`` and a short script that draws it with the page's ``Plotly``
  object. The book bundles one copy of the installed plotly's ``plotly.min.js`` in its
  ``_static`` folder (:func:`bundle_plotly_js`, called by :mod:`synergy_utils.report.book`),
  and this module's Sphinx hook (:func:`setup`; ``_config.yml`` lists the module as an
  extension) loads it on the pages that draw such a figure, so the figures work offline,
  from ``file://`` as from any static server, and nothing is fetched from a CDN.

The static figures stay the record for print and PDF; these are for finding a head by hovering.
"""

from __future__ import annotations

import hashlib
import html
import json
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

#: File name of the bundled plotly.js, in the installed plotly package and in the book.
PLOTLY_JS = "plotly.min.js"
#: CSS class of every interactive figure's ``<div>`` (the book and its tests look for it).
FIGURE_CLASS = "synergy-interactive"
#: MIME type of plotly's JSON representation.
PLOTLY_MIME = "application/vnd.plotly.v1+json"
#: Options of every figure: resizing with the page, no link to plotly's site and no "Share
#: chart" button (it would upload the figure to Plotly Cloud).
CONFIG: dict[str, Any] = {
    "displaylogo": False,
    "responsive": True,
    "showSendToCloud": False,
    "showLink": False,
    "modeBarButtonsToRemove": ["sendChartToCloud"],
}

_TEMPLATE = "plotly_white"
_DIVERGING = "RdBu_r"  # red: synergistic, blue: redundant (as the static gradient map)
_SEQUENTIAL = "Viridis"
_PALETTE = ("#0173b2", "#de8f05", "#029e73", "#d55e00", "#cc78bc", "#ca9161")  # colorblind


def plotly_js_path() -> Path:
    """Path of ``plotly.min.js`` inside the installed plotly package (the one copy the book
    bundles; its version is the pinned plotly's)."""
    import plotly

    path = Path(plotly.__file__).parent / "package_data" / PLOTLY_JS
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: reinstall plotly (pip install plotly)")
    return path


# --- head map ------------------------------------------------------------------------------

#: Quantities the head map can colour by: column, label, diverging (centred on 0)?
HEAD_MAP_QUANTITIES: dict[str, tuple[str, bool]] = {
    "null_corrected_synergy": ("null-corrected synergy Δsts", True),
    "gradient": ("gradient", True),
    "synergy": ("synergy sts (raw)", False),
    "redundancy": ("redundancy rtr", False),
}


def head_frame(
    table: pd.DataFrame, null_corrected: Any = None, *, gradient_method: str = "luppi"
) -> pd.DataFrame:
    """One row per head: ``layer, head, null_corrected_synergy, synergy, redundancy, gradient``.

    ``table`` is the chapter's head table (``cores.head_scores_table``: ``layer``, ``head``,
    ``synergy``, ``redundancy``, ``gradient_luppi``, ``gradient_diff``); ``null_corrected`` is
    each head's mean null-corrected synergy, an ``(L, H)`` array or DataArray (e.g.
    ``nulls["head_delta"].sel(atom="sts").mean("prompt")``), or None (shown as missing).
    """
    column = f"gradient_{gradient_method}"
    missing = {"layer", "head", "synergy", "redundancy", column} - set(table.columns)
    if missing:
        raise ValueError(f"the head table lacks columns {sorted(missing)}")
    frame = table[["layer", "head", "synergy", "redundancy"]].copy()
    frame["gradient"] = table[column].to_numpy(dtype=np.float64)
    n_layers, n_heads = int(frame["layer"].max()) + 1, int(frame["head"].max()) + 1
    delta = np.full((n_layers, n_heads), np.nan)
    if null_corrected is not None:
        delta = np.asarray(getattr(null_corrected, "values", null_corrected), dtype=np.float64)
        if delta.shape != (n_layers, n_heads):
            raise ValueError(
                f"null_corrected has shape {delta.shape}, the head table {(n_layers, n_heads)}"
            )
    frame["null_corrected_synergy"] = delta[frame["layer"], frame["head"]]
    return frame.reset_index(drop=True)


def _grid(frame: pd.DataFrame, column: str, shape: tuple[int, int]) -> np.ndarray:
    grid = np.full(shape, np.nan)
    grid[frame["layer"], frame["head"]] = frame[column].to_numpy(dtype=np.float64)
    return grid


def _colour_settings(values: np.ndarray, diverging: bool) -> dict[str, Any]:
    finite = values[np.isfinite(values)]
    if not diverging:
        return {"colorscale": _SEQUENTIAL, "zauto": True, "zmid": None, "zmin": None, "zmax": None}
    limit = float(np.max(np.abs(finite))) if finite.size else 1.0
    limit = limit or 1.0
    return {"colorscale": _DIVERGING, "zauto": False, "zmid": 0.0, "zmin": -limit, "zmax": limit}


def head_map(
    frame: pd.DataFrame,
    *,
    colour: str = "null_corrected_synergy",
    gradient_method: str = "luppi",
    units: str = "nats",
    title: str | None = None,
) -> go.Figure:
    """Layers up, heads across, one cell per head; hovering shows its layer, head,
    null-corrected synergy, raw synergy, redundancy and gradient.

    ``frame`` comes from :func:`head_frame`. ``colour`` names the quantity of the colours
    (:data:`HEAD_MAP_QUANTITIES`); buttons above the map switch between them.
    """
    if colour not in HEAD_MAP_QUANTITIES:
        raise ValueError(f"colour must be one of {list(HEAD_MAP_QUANTITIES)}, got {colour!r}")
    n_layers, n_heads = int(frame["layer"].max()) + 1, int(frame["head"].max()) + 1
    shape = (n_layers, n_heads)
    grids = {name: _grid(frame, name, shape) for name in HEAD_MAP_QUANTITIES}
    custom = np.stack(
        [grids[n] for n in ("null_corrected_synergy", "synergy", "redundancy", "gradient")],
        axis=-1,
    )
    hover = (
        "layer %{y}, head %{x}<br>"
        f"null-corrected synergy Δsts: %{{customdata[0]:.4f}} {units}<br>"
        f"synergy sts (raw): %{{customdata[1]:.4f}} {units}<br>"
        f"redundancy rtr: %{{customdata[2]:.4f}} {units}<br>"
        f"gradient ({gradient_method}): %{{customdata[3]:.1f}} rank units<extra></extra>"
    )

    def colour_bar(name: str) -> str:
        label, _ = HEAD_MAP_QUANTITIES[name]
        unit = "rank units" if name == "gradient" else units
        return f"{label} ({unit})"

    label, diverging = HEAD_MAP_QUANTITIES[colour]
    trace = go.Heatmap(
        z=grids[colour],
        x=list(range(n_heads)),
        y=list(range(n_layers)),
        customdata=custom,
        hovertemplate=hover,
        hoverongaps=False,
        colorbar={"title": {"text": colour_bar(colour), "side": "right"}},
        xgap=1,
        ygap=1,
        **_colour_settings(grids[colour], diverging),
    )
    buttons = []
    for name, (text, is_diverging) in HEAD_MAP_QUANTITIES.items():
        settings = _colour_settings(grids[name], is_diverging)
        args = {"z": [grids[name]], "colorbar.title.text": colour_bar(name)}
        args.update({key: [value] for key, value in settings.items()})
        buttons.append({"label": text, "method": "restyle", "args": [args]})
    fig = go.Figure(trace)
    fig.update_layout(
        template=_TEMPLATE,
        title={"text": title or f"Heads of the model, coloured by {label}", "x": 0.0},
        xaxis={"title": "head index within layer", "dtick": 1, "constrain": "domain"},
        yaxis={"title": "layer (0 = closest to the input)", "dtick": 5 if n_layers > 12 else 1},
        height=max(420, 16 * n_layers + 190),
        margin={"l": 70, "r": 20, "t": 100, "b": 60},
        updatemenus=[
            {
                "type": "buttons",
                "direction": "right",
                "buttons": buttons,
                "active": list(HEAD_MAP_QUANTITIES).index(colour),
                "x": 0.0,
                "xanchor": "left",
                "y": 1.02,
                "yanchor": "bottom",
                "showactive": True,
                "font": {"size": 11},
            }
        ],
    )
    return fig


# --- layer profile -------------------------------------------------------------------------


def _band_traces(
    depth: np.ndarray, band: np.ndarray, name: str, colour: str, layers: np.ndarray
) -> list[go.Scatter]:
    """Two traces, the lower and the upper edge, filled between (plotly's ``tonexty``)."""
    band = np.asarray(band, dtype=np.float64)
    if band.shape != (len(depth), 2):
        raise ValueError(f"{name}: expected a ({len(depth)}, 2) band, got {band.shape}")
    common = {
        "x": depth,
        "mode": "lines",
        "line": {"width": 0.8, "color": colour},
        "legendgroup": name,
        "customdata": layers,
    }
    lower = go.Scatter(
        y=band[:, 0],
        name=name,
        showlegend=False,
        hovertemplate=f"{name}, low: %{{y:.3f}}<extra></extra>",
        **common,
    )
    upper = go.Scatter(
        y=band[:, 1],
        name=name,
        fill="tonexty",
        fillcolor=_fade(colour),
        hovertemplate=f"{name}, high: %{{y:.3f}}<extra></extra>",
        **common,
    )
    return [lower, upper]


def _fade(colour: str, alpha: float = 0.22) -> str:
    red, green, blue = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({red}, {green}, {blue}, {alpha})"


def layer_profile(
    depth: Sequence[float],
    profile: Sequence[float],
    ci: Any = None,
    null_band: Any = None,
    *,
    label: str = "model",
    others: Mapping[str, tuple] | None = None,
    ylabel: str = "mean gradient of the layer (min–max scaled)",
) -> go.Figure:
    """The layer profile against scaled depth with its 95 % bootstrap band and the
    circular-shift null band (the interactive twin of ``figures.plot_layer_profile``).

    ``ci`` and ``null_band`` are ``(L, 2)`` arrays (or None); ``others`` maps a label to
    ``(depth, profile)`` drawn dashed. Hovering shows the layer, its depth and every value.
    """
    depth = np.asarray(depth, dtype=np.float64)
    profile = np.asarray(profile, dtype=np.float64)
    if profile.shape != depth.shape:
        raise ValueError(f"profile {profile.shape} and depth {depth.shape} differ")
    layers = np.arange(len(depth))
    traces: list[go.Scatter] = []
    if null_band is not None:
        traces += _band_traces(
            depth, null_band, "circular-shift null, 95 % band", "#7f7f7f", layers
        )
    if ci is not None:
        traces += _band_traces(depth, ci, f"{label}: 95 % bootstrap band", _PALETTE[0], layers)
    traces.append(
        go.Scatter(
            x=depth,
            y=profile,
            customdata=layers,
            mode="lines+markers",
            name=label,
            line={"color": _PALETTE[0], "width": 2},
            hovertemplate=f"{label}: %{{y:.3f}} (layer %{{customdata}})<extra></extra>",
        )
    )
    for k, (name, item) in enumerate((others or {}).items(), start=1):
        other_depth = np.asarray(item[0], dtype=np.float64)
        traces.append(
            go.Scatter(
                x=other_depth,
                y=np.asarray(item[1], dtype=np.float64),
                customdata=np.arange(len(other_depth)),
                mode="lines+markers",
                name=name,
                line={"color": _PALETTE[k % len(_PALETTE)], "dash": "dash", "width": 1.5},
                marker={"symbol": "square", "size": 5},
                hovertemplate=f"{name}: %{{y:.3f}} (layer %{{customdata}})<extra></extra>",
            )
        )
    fig = go.Figure(traces)
    for edge in (1 / 3, 2 / 3):
        fig.add_vline(x=edge, line={"color": "#4d4d4d", "width": 1, "dash": "dot"})
    fig.update_layout(
        template=_TEMPLATE,
        title={"text": "Layer profile of the synergy–redundancy gradient", "x": 0.0},
        xaxis={
            "title": "layer depth (scaled, 0 = first layer, 1 = last)",
            "range": [-0.02, 1.02],
            "hoverformat": ".2f",
        },
        yaxis={"title": ylabel},
        hovermode="x unified",
        height=460,
        margin={"l": 70, "r": 20, "t": 60, "b": 60},
        legend={"orientation": "h", "y": -0.2, "x": 0.0},
    )
    return fig


# --- display -------------------------------------------------------------------------------


class InteractiveFigure:
    """A figure as a cell output: plotly's JSON for JupyterLab, a ``<div>`` for the book."""

    def __init__(self, figure: go.Figure, kind: str = "figure") -> None:
        self.figure = figure
        self.kind = kind

    def _json(self) -> str:
        return pio.to_json(self.figure, validate=False)

    def div_id(self) -> str:
        """A stable id: the same figure gives the same id in every run."""
        digest = hashlib.sha1(f"{self.kind}:{self._json()}".encode()).hexdigest()[:12]
        return f"{FIGURE_CLASS}-{self.kind}-{digest}"

    def to_html(self) -> str:
        """The ``<div>`` and the script that draws it with the page's ``Plotly`` (never a copy
        of plotly.js, never a URL); without ``Plotly`` the div says what is missing."""
        spec = self._json().replace("</", "<\\/")
        config = json.dumps(CONFIG)
        div_id = self.div_id()
        height = self.figure.layout.height or 450
        return (
            f'<div id="{div_id}" class="plotly-graph-div {FIGURE_CLASS}" '
            f'data-kind="{html.escape(self.kind)}" style="height:{int(height)}px; width:100%;">'
            "</div>\n"
            '<script type="text/javascript">\n(function () {\n'
            f'  var el = document.getElementById("{div_id}");\n'
            "  if (!el) { return; }\n"
            '  if (typeof window.Plotly === "undefined") {\n'
            '    el.style.height = "auto";\n'
            '    el.textContent = "Interactive figure: this page has not loaded plotly.min.js.";\n'
            "    return;\n  }\n"
            f"  var spec = {spec};\n"
            f"  window.Plotly.newPlot(el, spec.data, spec.layout, {config});\n"
            "})();\n</script>\n"
        )

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        spec = json.loads(self._json())
        spec["config"] = dict(CONFIG)
        return {
            PLOTLY_MIME: spec,
            "text/html": self.to_html(),
            "text/plain": f"<interactive {self.kind}: {len(self.figure.data)} trace(s)>",
        }


def interactive(figure: go.Figure, kind: str = "figure") -> InteractiveFigure:
    """Wrap ``figure`` for display in a notebook cell (``kind`` names it in the HTML, e.g.
    ``"head-map"``)."""
    return InteractiveFigure(figure, kind)


# --- the book ------------------------------------------------------------------------------


def _figure_outputs(nb: Any) -> list[Any]:
    outputs = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            text = output.get("data", {}).get("text/html", "")
            if FIGURE_CLASS in ("".join(text) if isinstance(text, list) else str(text)):
                outputs.append(output)
    return outputs


def has_interactive_figure(nb: Any) -> bool:
    """Does a cell output of the notebook ``nb`` hold an interactive figure of this module?"""
    return bool(_figure_outputs(nb))


def prepare_for_book(nb: Any) -> bool:
    """Keep only the HTML of each interactive figure of ``nb`` (in place: the book draws the
    HTML, and myst-nb would warn about plotly's JSON); return whether ``nb`` holds one."""
    outputs = _figure_outputs(nb)
    for output in outputs:
        output["data"].pop(PLOTLY_MIME, None)
    return bool(outputs)


def bundle_plotly_js(static_dir: Path) -> Path:
    """Copy the installed plotly's ``plotly.min.js`` into ``static_dir`` (the book's
    ``_static`` folder, its one copy); return the copy's path."""
    target = Path(static_dir) / PLOTLY_JS
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(plotly_js_path(), target)
    return target


def _load_plotly_where_drawn(
    app: Any, pagename: str, templatename: str, context: dict, doctree: Any
) -> None:
    """Sphinx ``html-page-context`` hook: a page holding an interactive figure loads the
    bundled plotly.js before its body (Sphinx resets the list of scripts after each page)."""
    if FIGURE_CLASS in str(context.get("body", "")):
        app.add_js_file(PLOTLY_JS, priority=200)


def setup(app: Any) -> dict[str, Any]:
    """Sphinx extension entry point: load ``_static/plotly.min.js`` where a figure needs it."""
    app.connect("html-page-context", _load_plotly_where_drawn)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


__all__ = [
    "CONFIG",
    "FIGURE_CLASS",
    "HEAD_MAP_QUANTITIES",
    "PLOTLY_JS",
    "PLOTLY_MIME",
    "InteractiveFigure",
    "bundle_plotly_js",
    "has_interactive_figure",
    "head_frame",
    "head_map",
    "interactive",
    "layer_profile",
    "plotly_js_path",
    "prepare_for_book",
]
