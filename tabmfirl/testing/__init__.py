r"""Test other implementations against tabmfirl's exact numbers.

``tabmfirl.testing`` is for people who write their own mean field game solver
(in PyTorch, JAX, MFGLib, ...) and want property-based tests of it against
exact answers (``docs/testing.md`` has a complete example):

* random games: :func:`random_game` (weak or strong mean field coupling,
  dense or sparse, several types, coupled types), :func:`congestion_game`
  (strongly coupled, monotone), and Hypothesis strategies drawing them in
  :mod:`tabmfirl.testing.strategies` (needs ``hypothesis``, a test
  dependency: ``pip install "tabmfirl[test]"``);
* the drawn game for another implementation: :func:`dense_tables` (every
  table at a given flow) and :func:`numpy_game` (the mean field dependence
  as plain NumPy callables);
* assertions in the style of :mod:`numpy.testing`: :func:`assert_equilibrium`,
  :func:`assert_flow`, :func:`assert_soft_best_response`, whose
  :class:`AssertionError` says per type and step what is off.

Importing this module does not import Hypothesis.
"""
from ._assertions import (
    assert_equilibrium,
    assert_flow,
    assert_soft_best_response,
    exploitability_by_step,
)
from ._tables import NumpyGame, dense_tables, numpy_game
from .games import congestion_game, graph_neighbours, random_game, random_policy

__all__ = [
    "assert_equilibrium", "assert_flow", "assert_soft_best_response", "exploitability_by_step",
    "NumpyGame", "numpy_game", "dense_tables",
    "random_game", "random_policy", "congestion_game", "graph_neighbours",
]
