"""Figures a researcher can trust at a glance (issue 16, item 6).

Learned and true rewards on one colour scale with the spread ratio stated,
the learned equilibrium against the experts' flow and policy in a form chosen
by size (lines for a few states, heatmaps beyond), no zero-width error bars,
no empty panels, and `tabmfirl plot` in true-type order.
"""
import json

import matplotlib.lines
import numpy as np
import pytest

from tabmfirl import plot
from tabmfirl.apps.cli import main


def _colour_limits(fig):
    """(vmin, vmax) of every colour bar of ``fig``."""
    return [(image.norm.vmin, image.norm.vmax) for ax in fig.axes for image in ax.images]


def _lines(ax):
    return [line for line in ax.get_lines() if isinstance(line, matplotlib.lines.Line2D)]


# ------------------------------------------------------------------------- rewards
def test_learned_and_true_rewards_share_one_colour_scale_and_state_the_ratio():
    true = np.random.default_rng(0).normal(size=(2, 3, 4, 2))
    learned = 0.3 * true                       # right shape, three times too small
    fig = plot.plot_rewards(learned, true, t=1)
    limits = set(_colour_limits(fig))
    assert len(limits) == 1                    # every panel, both rows: one scale
    assert "learned spread = 0.30 x true spread" in fig.get_suptitle()
    separate = set(_colour_limits(plot.plot_rewards(learned, true, t=1, shared_scale=False)))
    assert len(separate) == 2                  # the switch does something
    with pytest.raises(ValueError, match="shared_scale"):
        plot.plot_rewards(learned, true, shared_scale="yes")


# ------------------------------------------------------------- flows and policies
def test_a_two_state_flow_is_drawn_as_lines_expert_vs_learned():
    rng = np.random.default_rng(1)
    share = rng.uniform(size=(3, 7))
    expert = np.stack([1 - share, share], axis=-1)
    learned = expert[:, :, ::-1]
    fig = plot.plot_flow_comparison(expert, learned)
    assert len(fig.axes) == 3 and not any(ax.images for ax in fig.axes)
    for m, ax in enumerate(fig.axes):
        solid, dashed = _lines(ax)                             # the second state only
        np.testing.assert_array_equal(solid.get_ydata(), expert[m, :, 1])
        np.testing.assert_array_equal(dashed.get_ydata(), learned[m, :, 1])
        assert dashed.get_linestyle() == "--" and solid.get_linestyle() == "-"


def test_a_large_flow_is_two_rows_of_heatmaps_on_one_scale():
    rng = np.random.default_rng(2)
    expert = rng.dirichlet(np.ones(9), size=(2, 5))
    learned = rng.dirichlet(np.ones(9), size=(2, 5))
    fig = plot.plot_flow_comparison(expert, learned, labels=("E", "L"))
    images = [ax for ax in fig.axes if ax.images]
    assert len(images) == 4 and len(set(_colour_limits(fig))) == 1
    assert [ax.get_title() for ax in images][:2] == ["E: type 0", "E: type 1"]
    with pytest.raises(ValueError, match="one shape"):
        plot.plot_flow_comparison(expert, learned[:1])


def test_policy_comparison_lines_and_heatmaps():
    rng = np.random.default_rng(3)
    expert = rng.dirichlet(np.ones(2), size=(2, 4, 3))
    learned = rng.dirichlet(np.ones(2), size=(2, 4, 3))
    fig = plot.plot_policy_comparison(expert, learned)
    assert len(fig.axes) == 2
    lines = _lines(fig.axes[1])
    assert len(lines) == 6                                     # 3 states x 2 policies
    np.testing.assert_array_equal(lines[0].get_ydata(), expert[1, :, 0, 1])
    np.testing.assert_array_equal(lines[1].get_ydata(), learned[1, :, 0, 1])
    big = rng.dirichlet(np.ones(4), size=(2, 4, 6))
    fig = plot.plot_policy_comparison(big, big, action=2)
    assert sum(bool(ax.images) for ax in fig.axes) == 4
    assert set(_colour_limits(fig)) == {(0.0, 1.0)}
    with pytest.raises(ValueError, match="action"):
        plot.plot_policy_comparison(big, big, action=4)


# ------------------------------------------------------------------------- metrics
@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 6, 8])
def test_single_run_metrics_have_no_error_bars_and_no_empty_panels(n):
    table = {"method": {f"metric {i}": float(i + 1) for i in range(n)}}
    fig = plot.plot_metrics(table)
    assert len(fig.axes) == n
    rows = {round(ax.get_position().y0, 3) for ax in fig.axes}
    cols = {round(ax.get_position().x0, 3) for ax in fig.axes}
    assert len(rows) * len(cols) == n                          # a full grid
    for ax in fig.axes:
        assert not ax.collections and not ax.lines[1:]         # no error bar drawn
    assert "no spread" in fig.get_suptitle()


def test_metrics_with_a_spread_draw_error_bars():
    fig = plot.plot_metrics({"a": {"x": (1.0, 0.2)}, "b": {"x": (2.0, 0.0)}})
    (ax,) = fig.axes
    assert len(ax.collections) == 1                            # one error bar: method a


# ------------------------------------------------------------------ tabmfirl plot
def test_plot_command_draws_in_true_type_order(tmp_path, capsys):
    demos = str(tmp_path / "d.npz")
    run = str(tmp_path / "run")
    assert main(["demos", "--game", "virus", "--types", "2", "--agents", "40", "--horizon",
                 "8", "--beta", "0.2", "--seed", "2", "--out", demos,
                 "--backend", "numpy"]) == 0
    assert main(["fit", "--method", "pemmfirl_em", "--demos", demos, "--out", run,
                 "--iters", "20", "--warmup", "3", "--backend", "numpy",
                 "--progress-every", "0"]) == 0
    assert main(["evaluate", run, "--no-transfer", "--json"]) == 0
    type_map = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["type_map"]
    assert main(["plot", run, "--out", str(tmp_path / "f"), "--dpi", "40"]) == 0
    from tabmfirl.apps import cli

    folder, config, result, demos_, spec = cli._load_run(run, "not a run")
    figures = cli._run_figures(plot, result, demos_, spec, 0, None, config)
    titles = [ax.get_title() for ax in figures["rewards"].axes if ax.images]
    assert titles[0].startswith(f"learned: true type 0 (learned {type_map[0]})")
    assert titles[2].startswith(f"true: true type 0 (learned {type_map[0]})")
    flow_axes = figures["mean_fields"].axes
    assert [ax.get_title() for ax in flow_axes] == [
        f"true type {k} (learned {m})" for k, m in enumerate(type_map)]
    assert not any(ax.images for ax in flow_axes)              # 2 states: lines
