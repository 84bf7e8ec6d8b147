"""``xargs -P <cores>``: a fork/exec loop with no scheduler at all, the floor for no-op jobs."""

import shutil
import subprocess

from bench.common import CORES, Timer
from bench.peers import Peer


class Xargs(Peer):
    name = f"xargs -P {CORES}"

    def unavailable(self) -> str | None:
        return None if shutil.which("xargs") and shutil.which("seq") else "xargs or seq not found"

    def run_noop(self, jobs: int) -> dict:
        with Timer() as timer:
            subprocess.run(f"seq {jobs} | xargs -P {CORES} -n 1 /bin/true", shell=True, check=True)
        return {"seconds": timer.seconds}
