"""Reading numbers from the environment, with a message naming the variable when its value is wrong."""

from __future__ import annotations

from typing import Mapping

__all__ = ["env_number"]


def env_number(env: Mapping[str, str], name: str, default: float) -> float:
    """``env[name]`` as a number greater than 0, or ``default`` when unset or blank."""
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r}: expected a number") from None
    if value <= 0:
        raise ValueError(f"{name}={raw!r}: expected a number greater than 0")
    return value
