r"""Investment in product quality: firms choose whether to invest.

The investment game of Subramanian & Mahajan (2019, "Reinforcement learning in
stationary mean-field games", AAMAS, section 6), used as a benchmark by the
mean field IRL papers (Chen et al. 2022, "Individual-level inverse
reinforcement learning for mean field games", AAMAS, section 6; Chen et al.
2023, PEMMFIRL).

States :math:`s \in \{0, \dots, 9\}` (quality level), actions
:math:`a \in \{\text{no}=0, \text{invest}=1\}`, mean quality
:math:`\bar m(\mu) = \sum_s s\, \mu(s)`.

Dynamics.  Not investing keeps the quality; investing raises it by a random
amount whose range shrinks when the industry's mean quality is high:

.. math::

    P(s \mid s, \text{no}) = 1, \qquad
    P(s' \mid s, \text{invest}, \mu) =
    \begin{cases}
      \frac{1}{n}\, \mathbb{1}[s \le s' \le 9] & \bar m(\mu) < \theta \\
      \text{half-range rule} & \bar m(\mu) \ge \theta
    \end{cases}

with :math:`n = 10 - s` and the half-range rule (:math:`h = \lfloor n/2
\rfloor`) :math:`P(s') = 2/n` for :math:`s \le s' < s + h`, plus
:math:`P(s + h) = 1/n` when :math:`n` is odd.  Original :math:`\theta = 4`;
variant (the transfer test) :math:`\theta = 6`.

Why 6 (issue 15).  The variant used to be :math:`\theta = 5`, which changed
almost nothing: from :math:`\mu_0` (mean quality 2) the first step's uniform
rule lifts the mean quality to about 5.5 at :math:`t = 1`, and quality never
decreases, so at temperature 0.1 (the results table's) both thresholds
selected the same rule at every step and the two equilibria agreed to
:math:`10^{-10}`; at 0.3 with :math:`T = 20` only the two dearer types
(mean quality 4.9 and 4.5 at :math:`t = 1`) saw a difference.  With
:math:`\theta = 6` the mean quality at :math:`t = 1` (4.2-5.5 under the
variant) is below the threshold for every type, so the variant keeps the
uniform rule until it crosses 6 (at :math:`t = 2` or 3).  Measured
(``tests/test_games.py``): the equilibria differ for every type,
:math:`\max_{t,s} |\Delta\mu_t(s \mid m)| \ge 0.086` and the policies by at
least 0.22 in total variation at some :math:`(t, s)`, at temperature 0.3
with :math:`T = 20` and at 0.1 with :math:`T = 50`.

Reward of type :math:`m`:

.. math::

    r(s, a, \mu, m) = d\, \frac{s}{10} - c\, \bar m(\mu) - \lambda_m \mathbb{1}[a = \text{invest}],
    \qquad d = 0.3,\ c = 0.2,

with investment costs :math:`\lambda = (0.05, 0.2, 1.0)` for the three types
(ours; the source has one type with :math:`\lambda = 0.2`; see
``envs/__init__.py`` for how the types' constants were chosen).

Scale of the competition term (checked): the lineage code of Chen et al.
(2022) computes ``0.3 * s / 10 - 0.2 * mean - 0.2 * a`` with ``mean`` the
*unnormalised* mean quality in :math:`[0, 9]`, so we keep :math:`c\, \bar m`
without dividing by 10 (unlike the malware game).  The term does not depend on
:math:`(s, a)`, so it does not change any policy or equilibrium; it only
shifts returns (by up to :math:`-1.8` a step, much more than the quality term's
:math:`0.27`), which matters for return-based metrics.

The transition jumps when :math:`\bar m(\mu_t)` crosses :math:`\theta`: the
mean quality of the flow is what selects the rule at each step.

Initial distribution (ours): uniform on the low levels :math:`\{0, \dots, 4\}`,
so :math:`\bar m(\mu_0) = 2 < \theta` and the threshold matters.  The lineage
code starts uniform on all ten levels; then :math:`\bar m(\mu_t) \ge 4.5` for
every :math:`t` (quality never decreases) and the original dynamics never leave
the half-range rule, i.e. the game would not be mean-field dependent at all.
Horizon :math:`T = 20` (ours).
"""
from numba import njit

from tabmfirl import MFGSpec

from . import check_builder_args

N_LEVELS = 10
NO, INVEST = 0, 1
HORIZON = 20
#: Initial distribution (ours): uniform on levels 0..4.
MU0 = (0.2, 0.2, 0.2, 0.2, 0.2, 0.0, 0.0, 0.0, 0.0, 0.0)
#: Weight :math:`d` of the own quality (src).
QUALITY_WEIGHT = 0.3
#: Weight :math:`c` of the mean quality (src; unnormalised, see the docstring).
COMPETITION_WEIGHT = 0.2
#: Investment cost of each type (ours); the source game is type 1 (0.2).
INVEST_COSTS = (0.05, 0.2, 1.0)
#: Investment cost when ``types=1`` (src).
SOURCE_INVEST_COST = 0.2
#: Temperature used in the docs and tests (ours: chosen when the types' costs were
#: 0.1/0.2/0.4, whose policies differed by less than 0.1 in total variation at
#: 1.0; with the current costs they differ by up to 0.22 at 1.0, 0.52 at 0.3).
TEMPERATURE = 0.3
#: Threshold :math:`\theta` on the mean quality of each dynamics.
#: (variant 6, not 5: see the module docstring).
DYNAMICS = {"original": 4.0, "variant": 6.0}


@njit(cache=True)
def transition(t, observed, params, out):
    """Fill ``out[s, a, s_next]``; ``params[0]`` is the threshold :math:`\\theta`."""
    S = out.shape[0]
    mean_quality = 0.0
    for s in range(S):
        mean_quality += s * observed[s]
    uniform = mean_quality < params[0]
    out[:] = 0.0
    for s in range(S):
        out[s, NO, s] = 1.0
        n = S - s
        if uniform:
            for j in range(s, S):
                out[s, INVEST, j] = 1.0 / n
        else:
            h = n // 2
            for j in range(s, s + h):
                out[s, INVEST, j] = 2.0 / n
            if n % 2 == 1:
                out[s, INVEST, s + h] = 1.0 / n


@njit(cache=True)
def reward(t, observed, context, params, out):
    """Fill ``out[s, a]``; ``params = (theta, d, c, lambda_0, ..., lambda_{K-1})``."""
    S = out.shape[0]
    mean_quality = 0.0
    for s in range(S):
        mean_quality += s * observed[s]
    cost = params[3 + context]
    for s in range(S):
        base = params[1] * s / 10.0 - params[2] * mean_quality
        out[s, NO] = base
        out[s, INVEST] = base - cost


def make(types: int = 3, *, dynamics: str = "original", horizon: int = HORIZON,
         invest_costs=None) -> MFGSpec:
    """The investment game with ``types`` agent types.

    Parameters
    ----------
    types : int, default 3
        Number of types: the first ``types`` of ``INVEST_COSTS`` (``types=1``
        is the source game, :math:`\\lambda = 0.2`), unless ``invest_costs``
        is given.
    dynamics : {"original", "variant"}
        Threshold :math:`\\theta = 4` or 6 on the mean quality.
    horizon : int, default 20
    invest_costs : sequence of float, optional
        :math:`\\lambda_m` of each type (overrides ``types``).

    Returns
    -------
    MFGSpec
    """
    costs = check_builder_args(types, dynamics, DYNAMICS, INVEST_COSTS, invest_costs,
                               "invest_costs")
    if invest_costs is None and len(costs) == 1:
        costs = (SOURCE_INVEST_COST,)
    threshold = DYNAMICS[dynamics]
    return MFGSpec(
        n_states=N_LEVELS, n_actions=2, horizon=horizon,
        mu0=MU0, transition=transition, reward=reward,
        n_contexts=len(costs),
        params=(threshold, QUALITY_WEIGHT, COMPETITION_WEIGHT) + tuple(costs),
        name="investment",
        info={"dynamics": dynamics, "threshold": threshold, "invest_costs": list(costs),
              "quality_weight": QUALITY_WEIGHT, "competition_weight": COMPETITION_WEIGHT,
              "states": "quality level 0..9", "actions": ["no", "invest"]})
