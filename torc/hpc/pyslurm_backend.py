"""Placeholder, filled in below."""


def usable() -> bool:
    return False
