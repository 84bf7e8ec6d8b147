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
#: Both are stored in 64-bit integer columns.
_MAX_STORED = 2**63 - 1


def _storable(value: float, text: str, what: str) -> float:
    if not value <= _MAX_STORED:  # also catches inf
        raise ValueError(f"{what} {text!r} is too large")
    return value


def parse_memory_bytes(text: str) -> int:
    """``"512m"`` → 536870912. Units k/m/g/t/p are binary (1024-based), as upstream torc."""
    match = _MEMORY.match(str(text))
    if not match:
        raise ValueError(f"invalid memory {text!r}: expected a number with an optional unit k, m, g, t (e.g. 512m, 16g)")
    return int(_storable(float(match.group(1)) * _MEMORY_FACTORS[match.group(2).lower()], text, "memory"))


def parse_duration_seconds(text: str) -> int:
    """``"P1DT12H"`` → 129600. Accepts ISO-8601 durations with weeks, days, hours, minutes, seconds."""
    match = _DURATION.match(str(text).strip())
    if not match:
        raise ValueError(f"invalid duration {text!r}: expected ISO-8601 such as PT30M, PT2H, P1DT12H")
    total = sum(float(v) * f for v, f in zip(match.groups(), _DURATION_FACTORS) if v)
    return int(round(_storable(total, text, "duration")))


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


_WALLTIME = re.compile(r"^(?:(\d+)-(\d+)(?::(\d+)(?::(\d+))?)?|(\d+)(?::(\d+)(?::(\d+))?)?)$")


def parse_walltime_seconds(text: str) -> int | None:
    """A Slurm time (``MM``, ``MM:SS``, ``HH:MM:SS``, ``D-HH``, ``D-HH:MM``, ``D-HH:MM:SS``) in seconds;
    None for ``unlimited``/``infinite``."""
    value = str(text).strip()
    if value.lower() in ("unlimited", "infinite"):
        return None
    match = _WALLTIME.match(value)
    if not match:
        raise ValueError(f"invalid walltime {text!r}: expected a Slurm time such as '04:00:00' or '1-12:00:00'")
    days, d_hours, d_minutes, d_seconds, minutes, m_seconds, h_seconds = match.groups()
    if days is not None:
        return int(days) * 86400 + int(d_hours) * 3600 + int(d_minutes or 0) * 60 + int(d_seconds or 0)
    if h_seconds is not None:  # HH:MM:SS
        return int(minutes) * 3600 + int(m_seconds) * 60 + int(h_seconds)
    return int(minutes) * 60 + int(m_seconds or 0)


def parse_time_limit_seconds(text: str) -> int:
    """A time limit given on a command line: ISO-8601 (``PT2H``) or a Slurm time (``02:00:00``)."""
    if str(text).strip().upper().startswith("P"):
        return parse_duration_seconds(text)
    seconds = parse_walltime_seconds(text)
    if seconds is None:
        raise ValueError(f"a time limit must be finite, got {text!r}")
    return seconds
