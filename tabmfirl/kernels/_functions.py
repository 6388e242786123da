r"""A game's mean field functions as first-class function pointers.

The Numba kernels that evaluate a game on the way (the forward pass and
:func:`tabmfirl.evaluate_model`) call the game's transition and reward
functions.  Passed as Numba dispatchers, every game function is a *type* of its
own: the kernels recompile for each game in each process (seconds), and they
cannot be cached (the cache index would pickle a reference to every game
module).  Passed as first-class function pointers of the fixed signatures
below, every game has the *same* type: each kernel compiles once per machine
(``cache=True``), and only the game's own small function is compiled (and
itself cached) per game.

Signatures (``observed`` and ``params`` float64 vectors, C-contiguous)::

    transition(t: int64, observed, params, out: float64[:, :, ::1]) -> None
    transition(t: int64, observed, context: int64, params, out: float64[:, :, ::1]) -> None
    reward(t: int64, observed, context: int64, params, out: float64[:, ::1]) -> None

(the second with ``transition_by_context=True``: kind ``"transition_by_context"``).

Under ``NUMBA_DISABLE_JIT=1`` the kernels are plain Python and receive the
functions' Python bodies.
"""
from __future__ import annotations

import functools

import numba
from numba import types
from numba.experimental.function_type import _get_wrapper_address

__all__ = ["TRANSITION_SIGNATURE", "TRANSITION_BY_CONTEXT_SIGNATURE", "REWARD_SIGNATURE", "FunctionPointer", "function_pointer",
           "no_function"]

_VECTOR = types.float64[::1]
#: Numba signature of a transition mean field function.
TRANSITION_SIGNATURE = types.void(types.int64, _VECTOR, _VECTOR, types.float64[:, :, ::1])
#: Numba signature of a transition mean field function that also takes the type.
TRANSITION_BY_CONTEXT_SIGNATURE = types.void(types.int64, _VECTOR, types.int64, _VECTOR,
                                             types.float64[:, :, ::1])
#: Numba signature of a reward mean field function.
REWARD_SIGNATURE = types.void(types.int64, _VECTOR, types.int64, _VECTOR, types.float64[:, ::1])
_SIGNATURES = {"transition": TRANSITION_SIGNATURE,
               "transition_by_context": TRANSITION_BY_CONTEXT_SIGNATURE,
               "reward": REWARD_SIGNATURE}
_FUNCTION_TYPES = {kind: types.FunctionType(sig) for kind, sig in _SIGNATURES.items()}
#: Compiler options of a game's ``@njit`` that the pointer keeps.
_KEPT_OPTIONS = ("fastmath", "error_model", "boundscheck")


def _no_transition(t, observed, params, out):  # pragma: no cover - never called
    """Placeholder transition for specs whose transition is an array."""
    return


def _no_transition_by_context(t, observed, context, params, out):  # pragma: no cover
    """Placeholder transition (one per type) for specs that do not have one."""
    return


def _no_reward(t, observed, context, params, out):  # pragma: no cover - never called
    """Placeholder reward for specs whose reward is an array."""
    return


_PLACEHOLDERS = {"transition": _no_transition,
                 "transition_by_context": _no_transition_by_context, "reward": _no_reward}


class FunctionPointer(types.WrapperAddressProtocol):
    """A compiled ``cfunc`` as Numba's first-class function, typed without cost.

    ``_numba_type_`` gives Numba the argument type at once; a bare ``CFunc``
    argument builds a new ``FunctionType`` on every call (about 30 us per
    argument, measured: more than a virus forward pass's kernel time).
    """

    def __init__(self, compiled, kind: str, address=None):
        self.compiled = compiled  # keeps the machine code alive
        self._numba_type_ = _FUNCTION_TYPES[kind]
        self._address = compiled.address if address is None else address
        self._signature = _SIGNATURES[kind]

    def __wrapper_address__(self):
        return self._address

    def signature(self):
        return self._signature


def no_function(kind: str):
    """Pointer to the placeholder ``kind`` function (a key of the signatures above)."""
    return function_pointer(_PLACEHOLDERS[kind], kind)


def function_pointer(function, kind: str):
    """``function`` (a dispatcher or plain function) compiled as a first-class function.

    Compiled with ``numba.cfunc(signature, cache=True)`` from the function's
    Python body, so a later process loads it from Numba's cache; functions
    Numba cannot cache (defined in a REPL, by ``exec``) compile without the
    cache.  Memoised per Python body and compiler options (two dispatchers
    of one function share the pointer).

    Parameters
    ----------
    function : callable
        A mean field function (see :class:`tabmfirl.MFGSpec`).
    kind : {"transition", "transition_by_context", "reward"}

    Returns
    -------
    FunctionPointer
        Typed by Numba as ``FunctionType(signature)``; the Python body itself
        when ``NUMBA_DISABLE_JIT=1``.  A function that Numba cannot compile as
        a C callback (one with an ``objmode`` block that calls Python back,
        such as :func:`tabmfirl.interop.from_mfglib`'s) is compiled as a
        dispatcher of the signature, not cached, and handed over by the
        address of its C wrapper.  A function compiled with ``cache=False`` is
        not written to the cache either.

    Raises
    ------
    ValueError
        When the function does not compile for the signature of ``kind``.
    """
    body = getattr(function, "py_func", function)
    if numba.config.DISABLE_JIT:
        return body
    targetoptions = getattr(function, "targetoptions", {})
    options = tuple(sorted((key, value) for key, value in targetoptions.items()
                           if key in _KEPT_OPTIONS and value is not None))
    # a function compiled with ``cache=False`` (e.g. one that calls Python back in an
    # ``objmode`` block, which Numba cannot cache) is compiled without the cache here too
    return _compiled_pointer(body, kind, options, targetoptions.get("cache") is not False)


@functools.lru_cache(maxsize=256)
def _compiled_pointer(body, kind: str, options: tuple, cache: bool = True):
    """:func:`function_pointer` of a Python body, memoised."""
    signature = _SIGNATURES[kind]
    name = getattr(body, "__qualname__", repr(body))
    try:
        try:
            compiled = numba.cfunc(signature, cache=cache, **dict(options))(body)
        except RuntimeError as err:  # no cache locator (REPL, exec): as before, per process
            if "cannot cache" not in str(err):
                raise
            compiled = numba.cfunc(signature, cache=False, **dict(options))(body)
        except TypeError:
            # a body with an ``objmode`` block (it calls Python back, e.g. an MFGLib
            # environment) is not a C callback: compile it as a dispatcher of the
            # signature, per process, and hand over its C wrapper's address under the
            # same FunctionType.  (Never the dispatcher itself: a cached kernel would
            # write an overload keyed on the dispatcher's type, naming its module, to
            # the shared cache index, which other processes then cannot read.)
            dispatcher = numba.njit(signature, cache=False, **dict(options))(body)
            return FunctionPointer(dispatcher, kind, _get_wrapper_address(dispatcher,
                                                                          signature))
    except numba.core.errors.TypingError as err:
        first = str(err).strip().splitlines()
        raise ValueError(
            f"the {kind} function {name!r} does not compile with Numba for the arguments "
            f"{signature.args} returning None: {' '.join(first[1:2]) or first[0]}") from err
    return FunctionPointer(compiled, kind)
