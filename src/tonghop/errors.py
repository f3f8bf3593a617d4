"""Exceptions whose message is meant for a user, in Vietnamese."""

from __future__ import annotations


class TonghopError(Exception):
    """Base of every error a user may see. ``str(err)`` is a complete Vietnamese sentence."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigError(TonghopError):
    """The workspace configuration (tonghop.toml) or the form (form.toml) is wrong."""

    exit_code = 2
