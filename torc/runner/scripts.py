"""Helper scripts of the worker (recovery scripts, ``run_commands`` actions), bounded in time.

A script that hangs must not hang the worker: it runs in its own process group, and at the
timeout the whole group is killed so that children it started do not linger either.
"""

import os
import signal
import subprocess


def run_script(command: str, cwd: str, env: dict, timeout: float, stdout, stderr=subprocess.STDOUT) -> tuple[int | None, str]:
    """Run ``bash -c command``; return (exit code, problem), with code None when it timed out."""
    process = subprocess.Popen(["bash", "-c", command], cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr, start_new_session=True)
    try:
        code = process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()
        return None, f"timed out after {timeout:g} s and was killed"
    return code, "" if code == 0 else f"exited {code}"
