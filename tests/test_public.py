"""The declared public surface: every name the packages list in __all__ can be had."""

from __future__ import annotations

import importlib

import pytest

import tonghop


@pytest.mark.parametrize(
    "package", ["tonghop", "tonghop.intake", "tonghop.report", "tonghop.watch"]
)
def test_every_declared_name_resolves(package: str) -> None:
    module = importlib.import_module(package)
    for name in module.__all__:
        assert getattr(module, name) is not None, f"{package}.{name}"
    with pytest.raises(AttributeError):
        _ = module.not_a_name


def test_unreadable_is_the_readers_error_in_the_one_tree() -> None:
    assert issubclass(tonghop.Unreadable, tonghop.TonghopError)
    assert tonghop.Unreadable.__module__ == "tonghop.intake._package"
