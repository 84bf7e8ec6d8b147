"""Memory sizes (``512k``, ``16g``) and ISO-8601 durations (``PT30M``, ``P1DT12H``) as numbers.

Shared by the spec loader (to reject bad strings early, naming the job) and by the server (which
stores the numbers beside the text so the claim query can compare them).
"""

import re

_MEMORY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgtp]?)(?:i?b)?\s*$", re.IGNORECASE)
_MEMORY_FACTORS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4, "p": 1024**5}

_NUMBER = r"(\d+(?:\.\d+)?)"
_DURATION = re.compile(
    rf"^P(?!$)(?:{_NUMBER}W)?(?:{_NUMBER}D)?(?:T(?=\d)(?:{_NUMBER}H)?(?:{_NUMBER}M)?(?:{_NUMBER}S)?)?$",
    re.IGNORECASE,
)
_DURATION_FACTORS = (7 * 86400, 86400, 3600, 60, 1)


def parse_memory_bytes(text: str) -> int:
    """``"512m"`` → 536870912. Units k/m/g/t/p are binary (1024-based), as upstream torc."""
    match = _MEMORY.match(str(text))
    if not match:
        raise ValueError(f"invalid memory {text!r}: expected a number with an optional unit k, m, g, t (e.g. 512m, 16g)")
    return int(float(match.group(1)) * _MEMORY_FACTORS[match.group(2).lower()])


def parse_duration_seconds(text: str) -> int:
    """``"P1DT12H"`` → 129600. Accepts ISO-8601 durations with weeks, days, hours, minutes, seconds."""
    match = _DURATION.match(str(text).strip())
    if not match:
        raise ValueError(f"invalid duration {text!r}: expected ISO-8601 such as PT30M, PT2H, P1DT12H")
    total = sum(float(v) * f for v, f in zip(match.groups(), _DURATION_FACTORS) if v)
    return int(round(total))


def format_duration(seconds: float) -> str:
    """Seconds as an ISO-8601 duration in upstream's ``P0DT1H30M`` style."""
    seconds = int(round(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"P{days}DT"
    if hours:
        text += f"{hours}H"
    if minutes:
        text += f"{minutes}M"
    if secs or not (hours or minutes):
        text += f"{secs}S"
    return text
