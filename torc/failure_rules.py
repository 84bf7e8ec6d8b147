"""Failure-handler rules: which rule applies to an exit code, and whether it allows a retry.

Pure functions shared by the worker (which retries failed jobs) and the server (which decides
what happens to the jobs of a worker that died).

A rule is ``{exit_codes: [int], match_all_exit_codes: bool, recovery_script: str|None,
max_retries: int}``. A rule listing the exit code wins over a ``match_all_exit_codes`` rule.
``max_retries`` counts retries: with 3, a job runs at most 4 times (attempts 1–4). Upstream
torc allowed a retry only while ``attempt_id < max_retries`` (one retry fewer than its name says).
"""

DEFAULT_MAX_RETRIES = 3


def matching_rule(rules: list[dict], return_code: int) -> dict | None:
    for rule in rules:
        if return_code in (rule.get("exit_codes") or []):
            return rule
    for rule in rules:
        if rule.get("match_all_exit_codes") and return_code != 0:
            return rule
    return None


def may_retry(rule: dict | None, attempt_id: int) -> bool:
    """True when ``rule`` allows another attempt after attempt ``attempt_id`` failed."""
    if rule is None:
        return False
    return attempt_id - 1 < rule.get("max_retries", DEFAULT_MAX_RETRIES)
