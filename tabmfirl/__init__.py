"""tabmfirl: exact reference implementation of inverse RL for finite mean field games.

The public API; see ``docs/`` for the theory and a tutorial.  ``tabmfirl.plot``
(matplotlib) and the CUDA kernels are imported only when used.
"""
from ._io import DEMOS_FORMAT
from ._version import __version__
from .evaluation._check import CheckReport, check_mean_field, check_policy, check_reward
from .evaluation._intervals import (
                               BootstrapInterval,
                               bootstrap_interval,
                               paired_bootstrap_interval,
)
from .evaluation._metrics import (
                               RewardEvaluation,
                               adjusted_rand_index,
                               bayes_log_likelihood,
                               evaluate_reward,
                               mean_field_deviation,
                               normalized_mutual_information,
                               policy_deviation,
                               return_deviation,
)
from .evaluation._shaping import reward_error_up_to_shaping
from .game._arrays import load_spec, save_spec
from .game._spec import MFGSpec, population_coupling
from .irl._adversarial import AdversarialResult, fit_mf_airl, fit_pemirl, fit_pemmfirl
from .irl._adversarial_reward import fit_reward_adversarial
from .irl._demos import Demonstrations, generate_demonstrations
from .irl._driver import DivergenceWarning
from .irl._em import (
                               fit_mfirl,
                               fit_oracle,
                               fit_pemmfirl_em,
                               fit_reward,
                               fit_two_stage,
                               held_out_log_likelihood,
                               predict_types,
)
from .irl._gaussian_types import GaussianTypesResult, fit_gaussian_types
from .irl._heads import ContextEncoder, RewardHead, ShapingHead
from .irl._nn import MLP, SGD, Adam
from .irl._results import IRLResult
from .irl._selection import SelectionResult, agent_folds, select_settings
from .solvers._equilibrium import (
                               EQUILIBRIUM_METHODS,
                               METHODS,
                               ConvergenceWarning,
                               EquilibriumResult,
                               solve_equilibrium,
)
from .solvers._exploitability import best_response, exploitability, regularised_return
from .solvers._mean_field import forward_mean_field, occupancy_measure
from .solvers._model import EvaluatedModel, MeanFieldFlow, evaluate_model, evaluate_step
from .solvers._soft_bellman import BackwardResult, policy_evaluation, soft_bellman_backward

__all__ = [
    "MFGSpec", "population_coupling", "save_spec", "load_spec",
    "EvaluatedModel", "MeanFieldFlow", "evaluate_model", "evaluate_step",
    "forward_mean_field", "occupancy_measure",
    "BackwardResult", "soft_bellman_backward", "policy_evaluation",
    "exploitability", "regularised_return", "best_response",
    "EquilibriumResult", "ConvergenceWarning", "solve_equilibrium", "EQUILIBRIUM_METHODS", "METHODS",
    "RewardHead", "ShapingHead", "ContextEncoder", "MLP", "Adam", "SGD",
    "Demonstrations", "generate_demonstrations", "DEMOS_FORMAT",
    "IRLResult", "fit_pemmfirl_em", "fit_two_stage", "fit_mfirl", "fit_oracle", "fit_reward", "predict_types",
    "held_out_log_likelihood", "SelectionResult", "agent_folds", "select_settings",
    "GaussianTypesResult", "fit_gaussian_types", "DivergenceWarning",
    "AdversarialResult", "fit_pemmfirl", "fit_mf_airl", "fit_pemirl",
    "fit_reward_adversarial",
    "RewardEvaluation", "evaluate_reward", "return_deviation", "mean_field_deviation",
    "policy_deviation", "adjusted_rand_index", "normalized_mutual_information",
    "bayes_log_likelihood",
    "BootstrapInterval", "bootstrap_interval", "paired_bootstrap_interval",
    "reward_error_up_to_shaping",
    "CheckReport", "check_policy", "check_mean_field", "check_reward",
]
