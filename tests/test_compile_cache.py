"""Compiled once per machine: game functions as function pointers, cached kernels, free cores.

The subprocess tests run fresh Python processes, as a user's commands are.
"""
import json
import os
import subprocess
import sys
import textwrap
from unittest import mock

import numba
import numpy as np
import pytest

import tabmfirl
from tabmfirl import config, envs
from tabmfirl.kernels import _backend
from tabmfirl.kernels._functions import function_pointer

JIT = not numba.config.DISABLE_JIT

# Solves virus with the Numba backend, then reports each game-calling kernel's
# cache statistics for this process: (hits, misses).
_SOLVE_AND_REPORT = textwrap.dedent("""
    import json
    import tabmfirl
    from tabmfirl import envs
    from tabmfirl.kernels import _kernels
    spec = envs.make("virus")
    result = tabmfirl.solve_equilibrium(spec, backend="numba")
    tabmfirl.evaluate_model(spec, result.mean_field, backend="numba")
    stats = {name: getattr(_kernels, name).stats
             for name in ("_forward", "_evaluate_model")}
    print(json.dumps({name: [sum(s.cache_hits.values()), sum(s.cache_misses.values())]
                      for name, s in stats.items()}))
""")


def _run(code, env=None):
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


@pytest.mark.skipif(not JIT, reason="Numba compiles nothing under NUMBA_DISABLE_JIT=1")
def test_second_process_loads_the_game_kernels_from_the_cache():
    _run(_SOLVE_AND_REPORT)  # first process: fills the cache if it was empty
    stats = json.loads(_run(_SOLVE_AND_REPORT).stdout.strip().splitlines()[-1])
    for name, (hits, misses) in stats.items():
        assert misses == 0, f"{name} compiled again in a second process"
        assert hits >= 1, f"{name} was not loaded from the cache"


@pytest.mark.skipif(not JIT, reason="Numba compiles nothing under NUMBA_DISABLE_JIT=1")
def test_read_only_install_falls_back_to_a_temporary_cache(tmp_path):
    """No writable ``__pycache__`` nor user cache: a warning, a temporary cache, no crash."""
    code = textwrap.dedent(f"""
        import tempfile, warnings
        from numba.core import caching
        original = caching._CacheLocator.ensure_cache_path
        def read_only(self):
            if not self.get_cache_path().startswith({str(tmp_path)!r}):
                raise PermissionError("read-only file system")
            return original(self)
        caching._CacheLocator.ensure_cache_path = read_only
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            import tabmfirl
            from tabmfirl import envs
        assert any("NUMBA_CACHE_DIR" in str(w.message) for w in caught), caught
        from numba.core import config
        assert config.CACHE_DIR.startswith({str(tmp_path)!r}), config.CACHE_DIR
        result = tabmfirl.solve_equilibrium(envs.make("virus"), backend="numba")
        assert result.converged
    """)
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env["TMPDIR"] = str(tmp_path)
    _run(code, env)


def test_function_pointers_give_the_numpy_twins_tables():
    """The game functions called through pointers fill the same tables as the NumPy path."""
    spec = envs.make("investment")
    policy = np.full((spec.n_contexts, spec.horizon, spec.n_states, spec.n_actions),
                     1.0 / spec.n_actions)
    numpy_flow = tabmfirl.forward_mean_field(spec, policy, backend="numpy")
    numba_flow = tabmfirl.forward_mean_field(spec, policy, backend="numba")
    np.testing.assert_allclose(numba_flow.mean_field, numpy_flow.mean_field, rtol=0,
                               atol=1e-12)
    np.testing.assert_allclose(numba_flow.model.reward, numpy_flow.model.reward, rtol=0,
                               atol=1e-12)


def _fill_reward_in_python(observed, context, out):
    """Plain Python (no Numba): the reward an ``objmode`` block calls back."""
    for s in range(out.shape[0]):
        out[s, :] = observed[s] - 0.3 * context
        out[s, 1] -= 0.2


@numba.njit(cache=False)
def _objmode_reward(t, observed, context, params, out):
    with numba.objmode():
        _fill_reward_in_python(observed, context, out)


@numba.njit(cache=True)
def _jitted_reward(t, observed, context, params, out):
    for s in range(out.shape[0]):
        for a in range(out.shape[1]):
            out[s, a] = observed[s] - 0.3 * context - (0.2 if a == 1 else 0.0)


def test_function_calling_python_back_runs_on_the_numba_backend():
    """A mean field function with an ``objmode`` block (what tabmfirl.interop.from_mfglib
    makes) is not a C callback; it still runs on the Numba kernels, with the numpy twin's
    numbers and those of the same reward written in Numba."""
    base = envs.make("virus", types=2, horizon=6)
    spec = base.replace(reward=_objmode_reward)
    policy = np.full((2, 6, base.n_states, base.n_actions), 1.0 / base.n_actions)
    numba_flow = tabmfirl.forward_mean_field(spec, policy, backend="numba")
    numpy_flow = tabmfirl.forward_mean_field(spec, policy, backend="numpy")
    jitted = tabmfirl.forward_mean_field(base.replace(reward=_jitted_reward), policy,
                                         backend="numba")
    for flow in (numpy_flow, jitted):
        np.testing.assert_allclose(numba_flow.mean_field, flow.mean_field, rtol=0, atol=1e-14)
        np.testing.assert_allclose(numba_flow.model.reward, flow.model.reward, rtol=0,
                                   atol=1e-14)
    assert np.ptp(numba_flow.model.reward) > 0.1        # not a constant table
    if JIT:
        # the cached kernels saw it under the one FunctionType: nothing naming this test
        # module reached the shared cache index, so a fresh process still loads them
        _run(_SOLVE_AND_REPORT)


@pytest.mark.skipif(not JIT, reason="the Python body itself under NUMBA_DISABLE_JIT=1")
def test_function_pointer_is_memoised_per_python_body():
    """Two dispatchers of one function (e.g. two specs of a plain function) share it."""
    spec = envs.make("virus")
    pointer = function_pointer(spec.transition, "transition")
    assert function_pointer(spec.transition, "transition") is pointer
    assert function_pointer(numba.njit(spec.transition.py_func), "transition") is pointer
    assert function_pointer(spec.transition.py_func, "transition") is pointer


@pytest.mark.skipif(not JIT, reason="plain Python accepts any return value")
def test_function_with_wrong_signature_gets_one_clear_error():
    def returns_a_value(t, observed, params, out):
        out[:] = 0.5
        return 1.0

    with pytest.raises(ValueError, match="transition function .*returns_a_value.* does not "
                                         "compile with Numba"):
        function_pointer(returns_a_value, "transition")


def test_parallel_threads_follow_work_and_free_cores():
    with mock.patch.object(config, "NUM_THREADS", None):
        assert _backend.parallel_threads(config.PARALLEL_MIN_WORK - 1) == 1
        with mock.patch.object(_backend.os, "getloadavg", return_value=(1.0, 1.0, 1.0)):
            free = _backend.free_cores()
            expected = min(len(os.sched_getaffinity(0)), numba.config.NUMBA_NUM_THREADS,
                           os.cpu_count())
            assert free == expected
            assert _backend.parallel_threads(config.PARALLEL_MIN_WORK) == expected
        # every other core busy: one thread, the serial kernel
        busy = (float(os.cpu_count()), 0.0, 0.0)
        with mock.patch.object(_backend.os, "getloadavg", return_value=busy):
            assert _backend.free_cores() == 1
            assert not _backend.use_parallel(10 * config.PARALLEL_MIN_WORK)
    with mock.patch.object(config, "NUM_THREADS", 1):
        assert not _backend.use_parallel(10 * config.PARALLEL_MIN_WORK)


def test_auto_asks_no_gpu_without_a_device_file():
    """No ``/dev/nvidia*``: ``auto`` resolves without importing numba.cuda (1-2 s)."""
    _backend.gpu_is_present.cache_clear()
    try:
        with mock.patch.object(_backend, "_no_gpu_device_file", return_value=True), \
                mock.patch.object(_backend, "cuda_is_usable",
                                  side_effect=AssertionError("numba.cuda asked")):
            assert _backend.resolve_backend("auto") == "numba"
    finally:
        _backend.gpu_is_present.cache_clear()


def test_read_only_tables_reach_the_function_pointer_kernels():
    """Read-only views (broadcasts) are fine: the pointers' types take writable arrays."""
    P = np.broadcast_to(np.eye(3)[:, None, :], (3, 2, 3))[None]
    assert not P.flags.writeable
    model = tabmfirl.EvaluatedModel(P, np.zeros((1, 4), dtype=np.int64),
                                    np.broadcast_to(np.zeros(1), (1, 4, 3, 2)))
    policy = np.full((1, 4, 3, 2), 0.5)
    flows = [tabmfirl.occupancy_measure(model, policy, np.full(3, 1 / 3), backend=b)
             for b in ("numpy", "numba")]
    np.testing.assert_allclose(flows[1][0], flows[0][0], rtol=0, atol=1e-15)
    np.testing.assert_allclose(flows[1][0], 1 / 3, rtol=0, atol=1e-15)  # P = identity
