r"""Games and policies to and from other mean field game libraries.

The peers are optional: importing ``tabmfirl.interop`` imports none of them,
and a function that needs one raises :class:`ImportError` naming the extra to
install (``pip install "tabmfirl[mfglib]"`` for MFGLib and torch,
``pip install "tabmfirl[openspiel]"`` for OpenSpiel).

MFGLib (``mfglib`` 0.3.0; call ``torch.set_default_dtype(torch.float64)``
before building environments):

* :func:`from_mfglib`: any MFGLib environment as a one-type
  :class:`~tabmfirl.MFGSpec` observing the joint state-action distribution;
* :func:`to_mfglib`: any spec as an MFGLib environment (the product game over
  (type, state) pairs for several types; optionally entropy-regularised, so
  that MFGLib's solvers look for tabmfirl's ERMFNE);
* :func:`product_environment`, :func:`entropy_regularised`: the pieces of
  :func:`to_mfglib`, for games written directly in torch;
* :func:`policy_to_mfglib`, :func:`array_from_mfglib`: array layouts.

OpenSpiel (``open-spiel`` 2.0.2), where the game allows it (the crowd
modelling games, whose rules are known in closed form):

* :func:`from_openspiel`, :func:`crowd_modelling_1d`, :func:`crowd_modelling_2d`;
* :func:`openspiel_policy`, :func:`openspiel_mean_field`: a tabmfirl policy
  as an OpenSpiel policy, and OpenSpiel's distribution as a tabmfirl flow;
* the multi-population games, one type per population:
  :func:`predator_prey`, :func:`crowd_avoidance`,
  :func:`populations_from_openspiel`, :func:`openspiel_population_policy`,
  :func:`openspiel_population_mean_field`
  (:mod:`tabmfirl.interop._openspiel_populations`).

Conventions and the exact correspondence are in the docstrings of
:mod:`tabmfirl.interop._mfglib` and :mod:`tabmfirl.interop._openspiel`;
``validation/test_interop_peers.py`` checks every conversion against the peers.
"""
from ._mfglib import (
    array_from_mfglib,
    entropy_regularised,
    from_mfglib,
    policy_to_mfglib,
    product_environment,
    to_mfglib,
)
from ._openspiel import (
    EPSILON,
    EPSILON_FLOAT32,
    crowd_modelling_1d,
    crowd_modelling_2d,
    first_visit_last_action,
    from_openspiel,
    openspiel_mean_field,
    openspiel_policy,
)
from ._openspiel_populations import (
    PREDATOR_PREY_EPSILON,
    crowd_avoidance,
    openspiel_population_mean_field,
    openspiel_population_policy,
    populations_from_openspiel,
    predator_prey,
)

__all__ = [
    "from_mfglib", "to_mfglib", "product_environment", "entropy_regularised",
    "policy_to_mfglib", "array_from_mfglib",
    "from_openspiel", "crowd_modelling_1d", "crowd_modelling_2d", "first_visit_last_action",
    "openspiel_policy", "openspiel_mean_field", "EPSILON", "EPSILON_FLOAT32",
    "predator_prey", "crowd_avoidance", "populations_from_openspiel",
    "openspiel_population_policy", "openspiel_population_mean_field", "PREDATOR_PREY_EPSILON",
]
