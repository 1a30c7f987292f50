"""Interactive figures: what the head map and the layer profile hold, and how they are shown.

The figures are plotly objects built from the chapter's own arrays; a cell output carries
plotly's JSON (JupyterLab) and an HTML fallback that never embeds or fetches plotly.js (the
book loads its one bundled copy). The rendering in a real browser is checked by
``tests/test_browser.py``.
"""

from __future__ import annotations

import json
import re

import nbformat
import numpy as np
import pytest

from synergy_utils.report import interactive as I
from synergy_utils.stages.cores import head_scores_table, layer_depth

N_LAYERS, N_HEADS = 5, 3


@pytest.fixture
def heads():
    rng = np.random.default_rng(1)
    synergy, redundancy = rng.random((N_LAYERS, N_HEADS)), rng.random((N_LAYERS, N_HEADS))
    delta = rng.normal(size=(N_LAYERS, N_HEADS))
    delta[0, 0] = np.nan  # a degenerate head
    table = head_scores_table(synergy, redundancy)
    return table, delta, I.head_frame(table, delta)


def test_head_frame_lines_up_every_head(heads):
    table, delta, frame = heads
    assert len(frame) == N_LAYERS * N_HEADS
    row = frame[(frame["layer"] == 3) & (frame["head"] == 2)].iloc[0]
    source = table[(table["layer"] == 3) & (table["head"] == 2)].iloc[0]
    assert row.null_corrected_synergy == delta[3, 2]
    assert row.synergy == source.synergy and row.redundancy == source.redundancy
    assert row.gradient == source.gradient_luppi
    diff = I.head_frame(table, delta, gradient_method="diff")
    assert diff.gradient.tolist() == table.gradient_diff.tolist()


def test_head_frame_rejects_a_map_of_another_model(heads):
    table, _, _ = heads
    with pytest.raises(ValueError, match="shape"):
        I.head_frame(table, np.zeros((N_LAYERS + 1, N_HEADS)))
    with pytest.raises(ValueError, match="gradient_nope"):
        I.head_frame(table, None, gradient_method="nope")
    assert I.head_frame(table, None).null_corrected_synergy.isna().all()


def test_head_map_hover_names_layer_head_and_the_four_numbers(heads):
    _, delta, frame = heads
    trace = I.head_map(frame).data[0]
    assert trace.type == "heatmap"
    z = np.asarray(trace.z, dtype=float)
    assert z.shape == (N_LAYERS, N_HEADS)
    np.testing.assert_array_equal(z, delta)  # coloured by null-corrected synergy by default
    custom = np.asarray(trace.customdata, dtype=float)
    assert custom.shape == (N_LAYERS, N_HEADS, 4)
    row = frame[(frame["layer"] == 4) & (frame["head"] == 1)].iloc[0]
    expected = [row.null_corrected_synergy, row.synergy, row.redundancy, row.gradient]
    np.testing.assert_allclose(custom[4, 1], expected)
    for words in ("layer %{y}", "head %{x}", "null-corrected synergy", "redundancy", "gradient"):
        assert words in trace.hovertemplate
    for k in range(4):
        assert f"customdata[{k}]" in trace.hovertemplate
    assert trace.zmid == 0 and trace.zmin == -trace.zmax  # diverging, centred on zero


def test_head_map_buttons_switch_the_colour_quantity(heads):
    _, _, frame = heads
    fig = I.head_map(frame, colour="redundancy")
    np.testing.assert_allclose(
        np.asarray(fig.data[0].z, dtype=float),
        frame.pivot(index="layer", columns="head", values="redundancy").to_numpy(),
    )
    buttons = fig.layout.updatemenus[0].buttons
    assert [b.label for b in buttons] == [label for label, _ in I.HEAD_MAP_QUANTITIES.values()]
    gradient = next(b for b in buttons if b.label == "gradient").args[0]
    assert np.asarray(gradient["z"][0]).shape == (N_LAYERS, N_HEADS)
    assert gradient["zmid"] == [0.0] and gradient["zauto"] == [False]
    with pytest.raises(ValueError, match="colour"):
        I.head_map(frame, colour="nothing")


def test_layer_profile_draws_the_profile_between_its_bands():
    depth = layer_depth(N_LAYERS)
    profile = np.linspace(0, 1, N_LAYERS)
    ci = np.c_[profile - 0.1, profile + 0.1]
    band = np.c_[np.zeros(N_LAYERS), np.full(N_LAYERS, 0.5)]
    fig = I.layer_profile(depth, profile, ci, band, label="M", others={"diff": (depth, profile)})
    names = [t.name for t in fig.data]
    assert names.count("circular-shift null, 95 % band") == 2  # lower and upper edge
    assert names.count("M: 95 % bootstrap band") == 2
    upper = [t for t in fig.data if t.fill == "tonexty"]
    assert len(upper) == 2
    np.testing.assert_allclose(upper[0].y, band[:, 1])
    np.testing.assert_allclose(upper[1].y, ci[:, 1])
    line = next(t for t in fig.data if t.name == "M")
    np.testing.assert_allclose(line.y, profile)
    assert list(line.customdata) == list(range(N_LAYERS)) and "layer" in line.hovertemplate
    assert "diff" in names
    with pytest.raises(ValueError, match="band"):
        I.layer_profile(depth, profile, ci[:-1])
    only_line = I.layer_profile(depth, profile)
    assert [t.name for t in only_line.data] == ["model"]


def test_cell_output_has_plotly_json_and_an_html_fallback_without_plotly_js(heads):
    _, _, frame = heads
    fig = I.head_map(frame, title="</script><b>heads</b>")
    bundle = I.interactive(fig, "head-map")._repr_mimebundle_()
    assert set(bundle) == {I.PLOTLY_MIME, "text/html", "text/plain"}
    spec = bundle[I.PLOTLY_MIME]
    json.dumps(spec)  # plain JSON, no numpy left
    assert spec["data"][0]["type"] == "heatmap" and spec["config"]["displaylogo"] is False
    assert spec["config"]["showSendToCloud"] is False, "no upload to Plotly Cloud"
    page = bundle["text/html"]
    assert f'class="plotly-graph-div {I.FIGURE_CLASS}"' in page and 'data-kind="head-map"' in page
    assert "Plotly.newPlot" in page
    assert not re.search(r"<script[^>]*\bsrc=", page), "the fallback loads no script file"
    assert "cdn" not in page.lower() and "http" not in page.lower()
    assert len(page) < 200_000, "plotly.js must not be embedded"
    assert page.count("</script>") == 1, "a label must not close the script early"


def test_the_same_figure_gets_the_same_id(heads):
    _, delta, frame = heads
    first = I.interactive(I.head_map(frame), "head-map").div_id()
    assert first == I.interactive(I.head_map(frame), "head-map").div_id()
    other = I.head_frame(head_scores_table(np.ones((2, 2)), np.zeros((2, 2))))
    assert first != I.interactive(I.head_map(other), "head-map").div_id()


def test_plotly_js_is_the_installed_packages_own_copy(tmp_path):
    import plotly

    path = I.plotly_js_path()
    head = path.read_text(errors="replace")[:200]
    assert "plotly.js v" in head
    copy = I.bundle_plotly_js(tmp_path / "_static")
    assert copy == tmp_path / "_static" / I.PLOTLY_JS
    assert copy.read_bytes() == path.read_bytes()
    assert plotly.__version__ == _pinned_plotly(), "pyproject.toml pins the plotly in use"


def _pinned_plotly() -> str:
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text()
    match = re.search(r'"plotly==([^"]+)"', text)
    assert match, "plotly is pinned with == in pyproject.toml"
    return match.group(1)


def test_notebooks_with_a_figure_are_found(heads):
    _, _, frame = heads
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x")]
    assert not I.has_interactive_figure(nb)
    data = I.interactive(I.head_map(frame), "head-map")._repr_mimebundle_()
    nb.cells[0].outputs = [nbformat.v4.new_output("display_data", data=data)]
    assert I.has_interactive_figure(nb)
