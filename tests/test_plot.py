"""tabmfirl.plot: every function draws labelled figures from small synthetic arrays,
writes non-trivial PNGs headless, and rejects bad inputs with ValueError."""
import inspect
import re
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.image import imread  # noqa: E402

from tabmfirl import plot  # noqa: E402

K, T, S, A = 3, 4, 5, 2


def _rng():
    return np.random.default_rng(0)


def _policy(n_actions=A, n_types=K):
    return _rng().dirichlet(np.ones(n_actions), size=(n_types, T, S))


def _mean_field(n_types=K):
    return _rng().dirichlet(np.ones(S), size=(n_types, T + 1))


def _is_colourbar(ax):
    return ax.get_label() == "<colorbar>"


def _check(fig, n_axes, tmp_path=None, name="figure.png", dpi=50):
    """Figure with ``n_axes`` axes, labelled panels and colour bars, and a real PNG.

    Low ``dpi`` keeps the suite fast; the default 150 is exercised once.
    """
    assert isinstance(fig, Figure)
    assert len(fig.axes) == n_axes
    for ax in fig.axes:
        if _is_colourbar(ax):
            assert ax.get_ylabel() or ax.get_xlabel(), "colour bar without a label"
        else:
            assert ax.get_title(), "panel without a title"
            assert ax.get_xlabel(), "panel without an x label"
    assert any(ax.get_ylabel() for ax in fig.axes if not _is_colourbar(ax))
    if tmp_path is None:
        return None
    path = plot.save(fig, tmp_path / "sub" / name, dpi=dpi)
    assert path.exists() and path.stat().st_size > 2000
    pixels = imread(path)
    assert pixels.shape[0] > 100 and pixels.shape[1] > 100
    assert float(pixels[..., :3].std()) > 0.05, "blank image"
    return path


# ------------------------------------------------------------------ rewards
def test_rewards_learned_and_true(tmp_path):
    true = _rng().normal(size=(K, T, S, A))
    fig = plot.plot_rewards(true + 7.0, true, t=2, state_labels=list("abcde"),
                            action_labels=["stay", "go"])
    _check(fig, 2 * K + 2, tmp_path)
    titles = [ax.get_title() for ax in fig.axes if not _is_colourbar(ax)]
    # a constant offset is invisible after centring: correlation exactly 1
    assert all("corr. with true 1.00" in title for title in titles if "learned" in title)
    assert "centred" in fig.get_suptitle()
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["stay", "go"]


def test_rewards_alone_raw_and_single_type(tmp_path):
    fig = plot.plot_rewards(_rng().normal(size=(T, S, A)), center=False,
                            row_labels=("true", ""))
    _check(fig, 2, tmp_path)
    assert "raw" in fig.get_suptitle()
    assert fig.axes[0].get_title() == "true: type 0"


def test_rewards_different_number_of_types(tmp_path):
    learned, true = _rng().normal(size=(2, T, S, A)), _rng().normal(size=(K, T, S, A))
    fig = plot.plot_rewards(learned, true)
    _check(fig, 2 + K + 2)
    assert not any("corr." in ax.get_title() for ax in fig.axes)


def test_rewards_large_table_is_not_annotated():
    fig = plot.plot_rewards(_rng().normal(size=(1, 2, 30, 4)))
    assert not fig.axes[0].texts


# ------------------------------------------------------ flows and policies
def test_mean_fields(tmp_path):
    fig = plot.plot_mean_fields(_mean_field(), type_labels=["x", "y", "z"],
                                state_labels=list("abcde"))
    _check(fig, K + 1, tmp_path)
    assert [ax.get_title() for ax in fig.axes[:K]] == ["x", "y", "z"]


def test_mean_fields_many_types_wrap(tmp_path):
    _check(plot.plot_mean_fields(_mean_field(n_types=6)), 6 + 1)


@pytest.mark.parametrize("n_actions, action, rows", [(2, None, 1), (2, 0, 1), (3, None, 3),
                                                     (3, "all", 3), (3, 2, 1)])
def test_policies(tmp_path, n_actions, action, rows):
    fig = plot.plot_policies(_policy(n_actions), action=action)
    _check(fig, rows * K + 1, tmp_path if action == "all" else None)


def test_policies_fitted_scale():
    fig = plot.plot_policies(np.full((1, T, S, 2), 0.5), vmin=None, vmax=None)
    image = fig.axes[0].images[0]
    assert image.norm.vmin == pytest.approx(0.5)


# ------------------------------------------------------------------ training
def test_training(tmp_path):
    n = 40
    history = {"loss": np.linspace(3, 1, n), "log_likelihood": -np.linspace(3, 1, n),
               "mutual_information": np.linspace(0, 1, n), "type_accuracy": np.full(n, 0.9),
               "exploitability": np.logspace(0, -8, n)}
    fig = plot.plot_training(history)
    _check(fig, len(history), tmp_path)
    scales = {ax.get_title(): ax.get_yscale() for ax in fig.axes}
    assert scales == {"loss": "linear", "log likelihood": "linear",
                      "mutual information": "linear", "type accuracy": "linear",
                      "exploitability": "log"}


def test_training_per_type_nan_and_round_off(tmp_path):
    exploitability = np.array([[1.0, 0.5], [1e-3, 1e-4], [-1e-16, 1e-15]])
    loss = np.array([2.0, np.nan, 1.0, np.nan])        # recorded every other step
    fig = plot.plot_training({"exploitability": exploitability, "loss": loss},
                             type_labels=["a", "b"])
    _check(fig, 2, tmp_path)
    ax = fig.axes[0]
    assert ax.get_yscale() == "log" and "values ≤ 0" in ax.get_ylabel()
    assert [text.get_text() for text in ax.get_legend().get_texts()] == ["a", "b"]
    assert len(fig.axes[1].lines[0].get_xdata()) == 2


def test_training_from_a_result_object(tmp_path):
    from tabmfirl import solve_equilibrium
    from tabmfirl.envs import virus

    result = solve_equilibrium(virus.make(types=2, horizon=4), backend="numpy",
                               method="fixed_point")
    fig = plot.plot_training(result)
    _check(fig, 2, tmp_path)
    assert [ax.get_title() for ax in fig.axes] == ["residual", "exploitability"]
    assert fig.axes[0].get_yscale() == "log"
    # the default method never measures the exploitability while it iterates: no panel
    result = solve_equilibrium(virus.make(types=2, horizon=4), backend="numpy")
    titles = [ax.get_title() for ax in plot.plot_training(result).axes]
    assert titles == ["residual", "flow residual"]


def test_training_log_scale_choice():
    history = {"a": np.linspace(1, 2, 5), "residual": np.linspace(1, 2, 5)}
    assert [ax.get_yscale() for ax in plot.plot_training(history, log_scale=False).axes] \
        == ["linear", "linear"]
    assert [ax.get_yscale() for ax in plot.plot_training(history, log_scale=["a"]).axes] \
        == ["log", "linear"]


# ---------------------------------------------------------------- embeddings
def _posterior(n_types, n=60):
    types = np.arange(n) % n_types
    noise = _rng().dirichlet(np.ones(n_types), size=n)
    return 0.5 * noise + 0.5 * np.eye(n_types)[types], types


@pytest.mark.parametrize("n_types", [2, 3, 5])
def test_embeddings_posterior(tmp_path, n_types):
    posterior, types = _posterior(n_types)
    fig = plot.plot_embeddings(posterior, types)
    _check(fig, 1, tmp_path)
    assert len(fig.axes[0].get_legend().get_texts()) == n_types


@pytest.mark.parametrize("dim", [1, 2, 4])
def test_embeddings_latent(tmp_path, dim):
    types = np.arange(60) % 3
    latent = _rng().normal(size=(60, dim)) + types[:, None]
    fig = plot.plot_embeddings(latent, types, type_labels=["p", "q", "r"])
    _check(fig, 1, tmp_path)
    if dim > 2:
        assert "variance" in fig.axes[0].get_xlabel()


def test_embeddings_kind_override():
    posterior, types = _posterior(3)
    fig = plot.plot_embeddings(posterior, types, kind="latent")
    assert "PCA" in fig.axes[0].get_title()


# ------------------------------------------------------------------- metrics
TABLE = {"PEMMFIRL": {"type accuracy": (0.95, 0.02), "reward corr.": (0.9, 0.05),
                      "exploitability": 1e-3},
         "MFIRL": {"reward corr.": (0.6, 0.1), "exploitability": (5e-3, 1e-3)},
         "oracle": {"type accuracy": (1.0, 0.0), "reward corr.": (0.97, 0.01),
                    "exploitability": (5e-4, 1e-4)}}


def test_metrics_panels(tmp_path):
    fig = plot.plot_metrics(TABLE)
    _check(fig, 3, tmp_path)
    assert any(text.get_text() == "n/a" for text in fig.axes[0].texts)


def test_metrics_grouped(tmp_path):
    fig = plot.plot_metrics(TABLE, metrics=["type accuracy", "reward corr."],
                            layout="grouped")
    _check(fig, 1, tmp_path)
    assert len(fig.axes[0].get_legend().get_texts()) == 3


# --------------------------------------------------------------- equilibrium
def test_equilibrium_of_a_solved_game(tmp_path):
    from tabmfirl import solve_equilibrium
    from tabmfirl.envs import virus

    spec = virus.make(types=2, horizon=6)
    result = solve_equilibrium(spec, backend="numpy")
    fig = plot.plot_equilibrium(result, spec)
    _check(fig, 2 * 2 + 2, tmp_path)
    assert "converged" in fig.get_suptitle() and "virus" in fig.get_suptitle()
    assert "distancing cost 0.1" in fig.axes[0].get_title()
    assert "infected" in [t.get_text() for t in fig.axes[0].get_yticklabels()]


def test_equilibrium_of_plain_arrays(tmp_path):
    result = SimpleNamespace(policy=_policy(3, n_types=2), mean_field=_mean_field(n_types=2))
    fig = plot.plot_equilibrium(result, action="all", vmin=0.0, vmax=1.0)
    _check(fig, 2 * (1 + 3) + 2, tmp_path)


# ---------------------------------------------------------------------- save
def test_save_default_dpi(tmp_path):
    fig = plot.plot_training({"loss": np.linspace(1, 0, 5)})
    width_inches = fig.get_size_inches()[0]
    path = plot.save(fig, tmp_path / "loss.png")
    # 150 dpi; bbox "tight" trims or pads the figure by a little
    assert abs(imread(path).shape[1] - 150 * width_inches) < 0.1 * 150 * width_inches


def test_save_creates_folders_and_rejects_non_figures(tmp_path):
    path = plot.save(plot.plot_mean_fields(_mean_field()), tmp_path / "a" / "b" / "c.pdf")
    assert path.exists() and path.read_bytes()[:4] == b"%PDF"
    with pytest.raises(ValueError, match="Figure"):
        plot.save("not a figure", tmp_path / "x.png")


# --------------------------------------------------------------- bad inputs
def _nan(array):
    array = np.array(array, dtype=float)
    array.flat[1] = np.nan
    return array


BAD = {
    "reward NaN": (plot.plot_rewards, (_nan(np.zeros((K, T, S, A))),), {}, "finite"),
    "reward 2-D": (plot.plot_rewards, (np.zeros((S, A)),), {}, "dimensions"),
    "reward strings": (plot.plot_rewards, ("abc",), {}, "dimensions|numbers"),
    "reward t": (plot.plot_rewards, (np.zeros((K, T, S, A)),), {"t": T}, "t must"),
    "reward true shape": (plot.plot_rewards, (np.zeros((K, T, S, A)), np.zeros((K, T, S, 3))),
                          {}, "same"),
    "reward labels": (plot.plot_rewards, (np.zeros((K, T, S, A)),),
                      {"state_labels": ["a"]}, "state_labels"),
    "reward row labels": (plot.plot_rewards, (np.zeros((K, T, S, A)),),
                          {"row_labels": "learned"}, "row_labels"),
    "reward label string": (plot.plot_rewards, (np.zeros((K, T, S, A)),),
                            {"action_labels": "ab"}, "action_labels"),
    "flow negative": (plot.plot_mean_fields, (-_mean_field(),), {}, "non-negative"),
    "flow NaN": (plot.plot_mean_fields, (_nan(_mean_field()),), {}, "finite"),
    "flow 4-D": (plot.plot_mean_fields, (np.zeros((1, K, T, S)),), {}, "dimensions"),
    "flow type labels": (plot.plot_mean_fields, (_mean_field(),), {"type_labels": ["a"]},
                         "type_labels"),
    "policy sums": (plot.plot_policies, (np.full((K, T, S, A), 0.3),), {}, "sum to 1"),
    "policy range": (plot.plot_policies, (np.full((K, T, S, A), 2.0),), {}, r"\[0, 1\]"),
    "policy NaN": (plot.plot_policies, (_nan(_policy()),), {}, "finite"),
    "policy action": (plot.plot_policies, (_policy(),), {"action": A}, "action"),
    "policy action name": (plot.plot_policies, (_policy(),), {"action": "some"}, "action"),
    "policy scale": (plot.plot_policies, (_policy(),), {"vmin": 1.0, "vmax": 0.5}, "vmax"),
    "history empty": (plot.plot_training, ({},), {}, "non-empty"),
    "history not dict": (plot.plot_training, ([1, 2],), {}, "dict"),
    "history object": (plot.plot_training, (SimpleNamespace(loss=[1.0]),), {}, "_history"),
    "history inf": (plot.plot_training, ({"loss": [1.0, np.inf]},), {}, "finite"),
    "history all NaN": (plot.plot_training, ({"loss": [np.nan, np.nan]},), {}, "recorded"),
    "history 3-D": (plot.plot_training, ({"loss": np.zeros((2, 2, 2))},), {}, "dimensions"),
    "history log": (plot.plot_training, ({"loss": [-1.0, 0.0]},), {"log_scale": True},
                    "positive"),
    "history log key": (plot.plot_training, ({"loss": [1.0]},), {"log_scale": ["nope"]},
                        "not in history"),
    "embedding length": (plot.plot_embeddings, (np.zeros((5, 2)), np.zeros(4, dtype=int)), {},
                         "shape"),
    "embedding types": (plot.plot_embeddings, (np.zeros((4, 2)), [0, 1.5, 0, 1]), {},
                        "integers"),
    "embedding negative types": (plot.plot_embeddings, (np.zeros((4, 2)), [0, -1, 0, 1]), {},
                                 "integers"),
    "embedding NaN": (plot.plot_embeddings, (_nan(np.zeros((4, 2))), [0, 1, 0, 1]), {},
                      "finite"),
    "embedding posterior": (plot.plot_embeddings, (np.ones((4, 2)), [0, 1, 0, 1]),
                            {"kind": "posterior"}, "probability"),
    "embedding kind": (plot.plot_embeddings, (np.ones((4, 2)), [0, 1, 0, 1]),
                       {"kind": "gaussian"}, "kind"),
    "metrics empty": (plot.plot_metrics, ({},), {}, "non-empty"),
    "metrics row": (plot.plot_metrics, ({"m": {}},), {}, "non-empty"),
    "metrics entry": (plot.plot_metrics, ({"m": {"x": "high"}},), {}, "mean, std"),
    "metrics NaN": (plot.plot_metrics, ({"m": {"x": (np.nan, 0.1)}},), {}, "finite"),
    "metrics std": (plot.plot_metrics, ({"m": {"x": (1.0, -0.1)}},), {}, "std >= 0"),
    "metrics unknown": (plot.plot_metrics, ({"m": {"x": 1.0}},), {"metrics": ["y"]},
                        "metrics must"),
    "metrics layout": (plot.plot_metrics, ({"m": {"x": 1.0}},), {"layout": "pie"}, "layout"),
    "equilibrium attrs": (plot.plot_equilibrium, (object(),), {}, "policy"),
    "equilibrium shapes": (plot.plot_equilibrium,
                           (SimpleNamespace(policy=_policy(), mean_field=_mean_field()[:, :T]),),
                           {}, "T\\+1"),
}


@pytest.mark.parametrize("case", list(BAD), ids=list(BAD))
def test_bad_inputs_raise_value_error(case):
    function, args, kwargs, message = BAD[case]
    with pytest.raises(ValueError, match=message):
        function(*args, **kwargs)


# -------------------------------------------------------------- API hygiene
def test_import_tabmfirl_does_not_import_matplotlib():
    code = ("import sys, tabmfirl; assert 'matplotlib' not in sys.modules, 'matplotlib'; "
            "from tabmfirl import plot; assert 'matplotlib.pyplot' not in sys.modules, 'pyplot'")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr


def _documented_parameters(doc):
    """Names in the numpydoc ``Parameters`` section (as in tests/test_docstrings.py)."""
    match = re.search(r"Parameters\n\s*-+\n(.*?)(\n\s*\n\s*[A-Z][a-z]+\n\s*-+\n|\Z)", doc, re.S)
    names = []
    for line in match.group(1).splitlines():
        if line.strip() and not line[0].isspace():
            names.extend(n.strip().lstrip("*") for n in line.split(":")[0].split(","))
    return names


@pytest.mark.parametrize("name", plot.__all__)
def test_documented_parameters_match_signature(name):
    function = getattr(plot, name)
    doc = inspect.getdoc(function)
    for section in ("Parameters", "Returns", "Raises", "Examples"):
        assert section in doc, f"{name} has no {section} section"
    assert _documented_parameters(doc) == list(inspect.signature(function).parameters)
