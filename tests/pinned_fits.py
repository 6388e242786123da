"""Small fits of every IRL method whose outputs are pinned (``tests/data/pinned_fits.npz``).

Shared by ``tests/make_pinned_fits.py`` (writes the file) and
``tests/test_pinned_fits.py`` (checks the current code against it).  Each fit is
tiny (virus or malware, 2 types, T = 6, 12 agents per type, 12-30 iterations) so
the whole set runs in a few seconds on the NumPy backend.
"""

import tabmfirl
from tabmfirl import envs

BETA = 0.2
FIELDS = ("reward_params", "posterior", "prior", "mean_field", "reward", "policy",
          "objective_history", "log_likelihood_history", "grad_norm_history", "mi_history",
          "shaping", "encoder", "posterior_mean", "posterior_std", "encoder_params",
          "posterior_change_history")


def _data(game):
    spec = envs.make(game, types=2, horizon=6)
    eq = tabmfirl.solve_equilibrium(spec, temperature=BETA, backend="numpy",
                                    method="fixed_point", damping=0.3, max_iter=3000)
    demos = tabmfirl.generate_demonstrations(spec, eq.policy, 12, seed=1)
    return spec, eq, demos


def run_all():
    """Run every pinned fit; return ``{name: result}``."""
    common = {"temperature": BETA, "backend": "numpy", "warn": False, "seed": 3}
    out = {}
    for game in ("virus", "malware"):
        spec, eq, demos = _data(game)
        out[f"{game}/em_screened"] = tabmfirl.fit_pemmfirl_em(
            spec, demos, 2, max_iter=15, n_warmup=3, **common)
        out[f"{game}/em_additive_kmeans"] = tabmfirl.fit_pemmfirl_em(
            spec, demos, 2, max_iter=12, n_warmup=2, reward_kind="additive", init="kmeans",
            **common)
        out[f"{game}/mfirl"] = tabmfirl.fit_mfirl(spec, demos, max_iter=12, **common)
        out[f"{game}/oracle_mlp"] = tabmfirl.fit_oracle(
            spec, demos, max_iter=12, reward_kind="mlp", hidden_sizes=(4,), **common)
        counts = 10.0 * eq.state_action            # exact expected counts, 10 agents a type
        out[f"{game}/reward"] = tabmfirl.fit_reward(
            spec, counts, eq.mean_field, max_iter=20, learning_rate=0.1,
            temperature=BETA, backend="numpy", warn=False, seed=3)
        adv = dict(common, n_sampler_agents=10)
        out[f"{game}/adversarial"] = tabmfirl.fit_pemmfirl(
            spec, demos, 2, max_iter=12, n_pretrain=5, **adv)
        out[f"{game}/adversarial_expected"] = tabmfirl.fit_pemmfirl(
            spec, demos, 2, max_iter=10, n_pretrain=5, shaping="expected", n_encoder_steps=2,
            **adv)
        out[f"{game}/pemirl"] = tabmfirl.fit_pemirl(spec, demos, 2, max_iter=10, n_pretrain=5,
                                                    **adv)
        out[f"{game}/mf_airl"] = tabmfirl.fit_mf_airl(spec, demos, max_iter=10, **adv)
        out[f"{game}/gaussian"] = tabmfirl.fit_gaussian_types(
            spec, demos, 2, max_iter=10, n_warmup=3, n_prior_samples=4, n_rollouts=2, **common)
    return out
