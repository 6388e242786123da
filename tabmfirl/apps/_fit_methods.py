r"""Fit methods by name: one calling convention for the CLI and the experiment grid.

:data:`FIT_METHODS` maps a name to a :class:`FitMethod`, called as

.. code-block:: python

    FIT_METHODS[name](spec, demos, n_contexts, **options) -> IRLResult

where ``options`` are keyword arguments of the fit function (``temperature``,
``max_iter``, ``learning_rate``, ``n_warmup``, ``reward_kind``, ``seed``,
``backend``, ``warn``, ``checkpoint``, ``checkpoint_every``, ``callback``,
...).  An option the fit does not take is an error that names the option and
the method (:class:`FitOptionError`), never dropped: the caller asks
:meth:`FitMethod.takes` first, or, for a grid of settings shared by several
methods, :meth:`FitMethod.select` picks the settings a method takes, on
purpose and visibly.  A fit with a ``n_contexts`` parameter learns that many
types; the others (``typed`` false: one shared reward, or the oracle's true
labels) ignore ``n_contexts``.  :func:`register_fit_method` adds a method in
one line.  Built in:

======================  ====================================================
``pemmfirl``            :func:`~tabmfirl.fit_pemmfirl`, the paper's adversarial
                        algorithm (sampled expectations, its default)
``pemmfirl_exact``      the same with ``expectation="exact"``
``pemmfirl_em``         :func:`~tabmfirl.fit_pemmfirl_em`, EM
                        multiple-intention MCE-IRL (Babeş-Vroman et al. 2011)
``pemmfirl_em_no_mi``   the same with ``mi_weight=0`` (uniform posterior:
                        every type fits the pooled data)
``two_stage``           :func:`~tabmfirl.fit_two_stage` (cluster, then one
                        MCE-IRL reward per cluster)
``gaussian_types``      :func:`fit_gaussian_types_discretised`
                        (continuous types, then ``n_contexts`` centres)
``mfirl``               :func:`~tabmfirl.fit_mfirl` (one shared reward)
``oracle``              :func:`~tabmfirl.fit_oracle` (true labels)
``mf_airl``             :func:`~tabmfirl.fit_mf_airl` (one shared reward)
``pemirl``              :func:`~tabmfirl.fit_pemirl` (no mean field in the reward)
======================  ====================================================

(The equilibrium solvers' registry is :data:`tabmfirl.METHODS`, a different
thing: this one holds fits.)
"""
from __future__ import annotations

import dataclasses
import inspect
from dataclasses import dataclass
from types import MappingProxyType
from typing import Callable, Mapping

from tabmfirl import (
    fit_gaussian_types,
    fit_mf_airl,
    fit_mfirl,
    fit_oracle,
    fit_pemirl,
    fit_pemmfirl,
    fit_pemmfirl_em,
    fit_two_stage,
)

__all__ = ["FIT_METHODS", "FitMethod", "FitOptionError", "register_fit_method",
           "fit_gaussian_types_discretised"]

#: Parameters every fit takes positionally (never options).
_POSITIONAL = ("spec", "demos", "n_contexts")


class FitOptionError(ValueError):
    """A fit option that the method does not take (or that the method fixes itself)."""


@dataclass(frozen=True, eq=False)
class FitMethod:
    """A registered fit: ``method(spec, demos, n_contexts, **options) -> IRLResult``.

    Attributes
    ----------
    name : str
        The registry key.
    fit : callable
        The fit function.
    fixed : mapping
        Keyword arguments always passed (e.g. ``mi_weight=0.0``); a caller may
        not pass them.
    options : frozenset of str
        The keyword options a caller may pass (the fit's keyword parameters
        less ``fixed``).
    typed : bool
        Whether ``fit`` takes ``n_contexts`` (learns that many types).
    any_option : bool
        Whether ``fit`` takes ``**kwargs`` (then every option is passed on).
    """

    name: str
    fit: Callable
    fixed: Mapping
    options: frozenset
    typed: bool
    any_option: bool

    def takes(self, option: str) -> bool:
        """Whether a caller may pass ``option``."""
        return option not in self.fixed and (self.any_option or option in self.options)

    def check(self, options) -> None:
        """Raise :class:`FitOptionError` naming the first option this method does not take."""
        for option in options:
            if option in self.fixed:
                raise FitOptionError(
                    f"fit method {self.name!r} fixes {option}={self.fixed[option]!r}; "
                    f"do not pass {option}")
            if not self.takes(option):
                raise FitOptionError(
                    f"fit method {self.name!r} does not take the option {option!r} "
                    f"(it takes: {', '.join(sorted(self.options))})")

    def select(self, settings: Mapping) -> dict:
        """The entries of ``settings`` this method takes (settings shared by several methods).

        Parameters
        ----------
        settings : mapping of str
            Candidate options, e.g. a grid's settings; ``n_warmup`` is taken
            only by the methods with a warm-up.

        Returns
        -------
        dict
        """
        return {key: value for key, value in settings.items() if self.takes(key)}

    def __call__(self, spec, demos, n_contexts: int, **options):
        """Run the fit; :class:`FitOptionError` for an option it does not take."""
        self.check(options)
        kwargs = {**options, **self.fixed}
        if self.typed:
            return self.fit(spec, demos, n_contexts, **kwargs)
        return self.fit(spec, demos, **kwargs)


#: Fit method name -> :class:`FitMethod` (module docstring).
FIT_METHODS = {}


def register_fit_method(name: str, fit: Callable, **fixed) -> FitMethod:
    """Register ``fit`` under ``name`` in :data:`FIT_METHODS` with the common convention.

    Parameters
    ----------
    name : str
    fit : callable
        A fit function returning an :class:`~tabmfirl.IRLResult`; if its
        signature has an ``n_contexts`` parameter it is called as
        ``fit(spec, demos, n_contexts, ...)``, otherwise ``fit(spec, demos, ...)``.
    **fixed
        Keyword arguments always passed (e.g. ``mi_weight=0.0``).

    Returns
    -------
    FitMethod
        The registered method (replacing any of the same name).

    Raises
    ------
    FitOptionError
        ``fixed`` names a parameter that ``fit`` does not take.
    """
    parameters = inspect.signature(fit).parameters
    any_option = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    named = {key for key, p in parameters.items()
             if key not in _POSITIONAL and p.kind in (inspect.Parameter.KEYWORD_ONLY,
                                                      inspect.Parameter.POSITIONAL_OR_KEYWORD)}
    unknown = sorted(set(fixed) - named) if not any_option else []
    if unknown:
        raise FitOptionError(f"{getattr(fit, '__name__', fit)!r} does not take "
                             f"{', '.join(unknown)}; cannot fix them for {name!r}")
    method = FitMethod(name=name, fit=fit, fixed=MappingProxyType(dict(fixed)),
                       options=frozenset(named - set(fixed)), typed="n_contexts" in parameters,
                       any_option=any_option)
    FIT_METHODS[name] = method
    return method


def fit_gaussian_types_discretised(spec, demos, n_contexts: int, *, latent_dim: int = 1,
                                   temperature: float = 1.0, max_iter: int = 200,
                                   learning_rate: float = 0.02, n_warmup: int = 20,
                                   reward_kind: str = "linear", seed: int = 0,
                                   backend: str = "auto", warn: bool = True,
                                   checkpoint=None, checkpoint_every: int = 10,
                                   callback=None):
    """Continuous Gaussian types, then their ``n_contexts`` k-means latent centres.

    :func:`tabmfirl.fit_gaussian_types` with ``latent_dim`` (default 1)
    followed by :meth:`~tabmfirl.GaussianTypesResult.discretise` at
    ``n_contexts`` k-means++ centres of the posterior means (seeded), so the
    discrete metrics of the experiment grid apply.  Other parameters as in
    the fit.

    Returns
    -------
    IRLResult
        ``method="gaussian-types"``; ``seconds``, ``converged`` and
        ``num_iter`` are the continuous fit's.
    """
    fit = fit_gaussian_types(spec, demos, latent_dim, temperature=temperature,
                             max_iter=max_iter, learning_rate=learning_rate, n_warmup=n_warmup,
                             reward_kind=reward_kind, seed=seed, backend=backend,
                             warn=warn, checkpoint=checkpoint,
                             checkpoint_every=checkpoint_every, callback=callback)
    result = fit.discretise(spec, demos, n_contexts, seed=seed, backend=backend)
    return dataclasses.replace(result, seconds=fit.seconds, converged=fit.converged,
                               num_iter=fit.num_iter)


register_fit_method("pemmfirl", fit_pemmfirl)
register_fit_method("pemmfirl_exact", fit_pemmfirl, expectation="exact")
register_fit_method("pemmfirl_em", fit_pemmfirl_em)
register_fit_method("pemmfirl_em_no_mi", fit_pemmfirl_em, mi_weight=0.0)
register_fit_method("two_stage", fit_two_stage)
register_fit_method("gaussian_types", fit_gaussian_types_discretised)
register_fit_method("mfirl", fit_mfirl)
register_fit_method("oracle", fit_oracle)
register_fit_method("mf_airl", fit_mf_airl)
register_fit_method("pemirl", fit_pemirl)
