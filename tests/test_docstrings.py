"""Every public name has a docstring, and documented parameters match signatures."""
import inspect
import re

import pytest

import tabmfirl
import tabmfirl.interop
import tabmfirl.testing


def _documented_parameters(doc):
    """Names listed in the numpydoc ``Parameters`` section of ``doc``."""
    match = re.search(r"Parameters\n\s*-+\n(.*?)(\n\s*\n\s*[A-Z][a-z]+\n\s*-+\n|\Z)", doc, re.S)
    if not match:
        return None
    names = []
    for line in match.group(1).splitlines():
        if line.strip() and not line[0].isspace():
            head = line.split(":")[0]
            names.extend(n.strip().lstrip("*") for n in head.split(","))
    return names


PUBLIC = [getattr(module, name) for module in (tabmfirl, tabmfirl.testing, tabmfirl.interop)
          for name in module.__all__ if callable(getattr(module, name))]


@pytest.mark.parametrize("obj", PUBLIC, ids=lambda o: getattr(o, "__name__", str(o)))
def test_public_name_is_documented(obj):
    assert inspect.getdoc(obj), f"{obj.__name__} has no docstring"


@pytest.mark.parametrize("obj", [o for o in PUBLIC if inspect.isfunction(o)],
                         ids=lambda o: o.__name__)
def test_documented_parameters_match_signature(obj):
    doc = inspect.getdoc(obj)
    documented = _documented_parameters(doc)
    if documented is None:
        # "Parameters as in :func:`other`": every parameter must be documented there.
        reference = re.search(r"Parameters as in\s+:func:`~?(?:tabmfirl\.)?(\w+)`", doc)
        if reference is None:
            pytest.fail(f"{obj.__name__} has no Parameters section")
        other = _documented_parameters(inspect.getdoc(getattr(tabmfirl, reference.group(1))))
        missing = set(inspect.signature(obj).parameters) - set(other)
        assert not missing, f"{obj.__name__}: {missing} not documented"
        return
    actual = [p for p in inspect.signature(obj).parameters]
    assert documented == actual, f"{obj.__name__}: documented {documented}, signature {actual}"
