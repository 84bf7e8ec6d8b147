"""Parsers for the unit-bearing strings of a spec: memory sizes, durations, Slurm walltimes.

They raise ``ValueError`` (not SpecError) because the server reuses them to validate API
input, where there is no spec file or field to report; the spec schema wraps the error
with its location.
"""

from __future__ import annotations

import re

_MEMORY_RE = re.compile(r"(\d+)\s*([kmgt]?)b?", re.IGNORECASE)
_MEMORY_MULTIPLIERS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}

_NUMBER = r"(\d+(?:\.\d+)?)"
_DURATION_RE = re.compile(
    rf"P(?!$)(?:{_NUMBER}Y)?(?:{_NUMBER}M)?(?:{_NUMBER}W)?(?:{_NUMBER}D)?"
    rf"(?:T(?=\d)(?:{_NUMBER}H)?(?:{_NUMBER}M)?(?:{_NUMBER}S)?)?",
    re.IGNORECASE,
)
# Seconds per designator, in the order of the regex groups. Years and months use the
# same average lengths as upstream torc (365.25 and 30.44 days) so runtimes agree.
_DURATION_SECONDS = (31_557_600, 2_629_800, 604_800, 86_400, 3_600, 60, 1)

# Every time format sbatch --time accepts: M, M:S, H:M:S, D-H, D-H:M, D-H:M:S.
_WALLTIME_RE = re.compile(r"\d+(?::\d+){0,2}|\d+-\d+(?::\d+){0,2}|unlimited|infinite", re.IGNORECASE)


def parse_memory_bytes(text: str) -> int:
    """Bytes in a memory string such as ``512k``, ``16g``, ``1T`` or ``2GB``.

    Units are binary (k = 1024) and case-insensitive, a trailing ``b`` is optional and a
    bare number means bytes, matching upstream torc's memory parser.
    """
    match = _MEMORY_RE.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise ValueError(
            f"invalid memory {text!r}: expected an integer with optional unit k, m, g or t "
            "(e.g. '512m', '16g')"
        )
    return int(match.group(1)) * _MEMORY_MULTIPLIERS[match.group(2).lower()]


def parse_duration_seconds(text: str) -> int:
    """Whole seconds in an ISO-8601 duration such as ``PT30M``, ``P1DT12H`` or ``P0DT1M``.

    Fractions are accepted in any component; the total is rounded down like upstream.
    """
    match = _DURATION_RE.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise ValueError(
            f"invalid duration {text!r}: expected ISO-8601 like 'PT30M', 'P1DT12H' or 'P0DT1M'"
        )
    total = sum(
        float(value) * seconds
        for value, seconds in zip(match.groups(), _DURATION_SECONDS)
        if value is not None
    )
    return int(total)


def check_slurm_walltime(text: str) -> str:
    """Return ``text`` if sbatch would accept it as ``--time``, else raise ValueError."""
    if not isinstance(text, str) or _WALLTIME_RE.fullmatch(text.strip()) is None:
        raise ValueError(
            f"invalid walltime {text!r}: expected a Slurm time such as '04:00:00' or '1-12:00:00'"
        )
    return text
