"""GPU pinning: each job gets its own GPU indices, and no two running jobs share a GPU."""

import threading


class GpuPool:
    def __init__(self, gpu_ids: list[int]):
        self._free = sorted(gpu_ids)
        self._lock = threading.Lock()
        self.has_gpus = bool(gpu_ids)

    def acquire(self, count: int) -> list[int] | None:
        """The ``count`` lowest free indices, or None when not enough are free."""
        with self._lock:
            if count > len(self._free):
                return None
            taken, self._free = self._free[:count], self._free[count:]
            return taken

    def release(self, gpu_ids: list[int]) -> None:
        with self._lock:
            self._free = sorted(set(self._free) | set(gpu_ids))

    @property
    def free(self) -> int:
        with self._lock:
            return len(self._free)
