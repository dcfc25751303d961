"""The examples in the package's docstrings run and give what they show."""

import doctest

import matdiff
import matdiff._estimators


def test_docstring_examples():
    for module in (matdiff, matdiff._estimators):
        result = doctest.testmod(module)
        assert result.attempted > 0 and result.failed == 0, module.__name__
