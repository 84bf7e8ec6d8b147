"""Start a job's process with ``posix_spawn`` without holding the GIL while the child starts.

``os.posix_spawn`` (CPython 3.11) keeps the GIL for the whole call, and glibc's ``posix_spawn``
returns only once the child has opened its files and exec'd (it shares the parent's memory until
then, as ``vfork`` does): about half a millisecond per job on this kind of machine, during which
no other thread of the worker runs. The exit watcher, which reports ended jobs, and the helper
thread that sends the reports then wait behind every start; with many short jobs that is the
worker's largest cost. Calling glibc's ``posix_spawn`` through ``ctypes`` releases the GIL for the
call, as every ``ctypes`` call does, so those threads run meanwhile.

Only on Linux with glibc, whose ``posix_spawn`` behaves as described and whose flag values are
used below; elsewhere (macOS, musl) :data:`spawn` is ``os.posix_spawn`` with the same arguments.
"""

import ctypes
import os
import signal
import sys

#: Signals Python ignores that a job must get with their default action (as ``Popen`` restores them).
DEFAULT_SIGNALS = tuple(getattr(signal, name) for name in ("SIGPIPE", "SIGXFSZ", "SIGXFZ") if hasattr(signal, name))

_OUTPUT_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC


def _opens(stdout: str, stderr: str) -> tuple:
    """The child's standard streams as ``(fd, path, flags)``, each opened with mode 0o666."""
    return (0, os.devnull, os.O_RDONLY), (1, stdout, _OUTPUT_FLAGS), (2, stderr, _OUTPUT_FLAGS)


def spawn_with_os(program: str, argv: list[str], env: dict, stdout: str, stderr: str) -> int:
    """:data:`spawn` by ``os.posix_spawn``, which holds the GIL until the child has exec'd."""
    actions = [(os.POSIX_SPAWN_OPEN, fd, path, flags, 0o666) for fd, path, flags in _opens(stdout, stderr)]
    return os.posix_spawn(program, argv, env, file_actions=actions, setsid=True, setsigdef=DEFAULT_SIGNALS, setsigmask=())


class GlibcSpawn:
    """:data:`spawn` by glibc's ``posix_spawn`` through ``ctypes``, with the attributes of
    :func:`spawn_with_os`.

    The opaque glibc structures get buffers larger than they are (80, 336 and 128 bytes on x86-64
    and aarch64), so a layout change cannot overrun them. The attributes are the same for every
    job and are built once; the file actions are built per job.
    """

    #: glibc's <spawn.h>
    SETSIGDEF, SETSIGMASK, SETSID = 0x04, 0x08, 0x80

    def __init__(self, libc: ctypes.CDLL):
        self.libc = libc
        self.attributes = ctypes.create_string_buffer(1024)
        empty, defaults = ctypes.create_string_buffer(512), ctypes.create_string_buffer(512)
        libc.sigemptyset(empty)
        libc.sigemptyset(defaults)
        for sig in DEFAULT_SIGNALS:
            libc.sigaddset(defaults, int(sig))
        for error in (
            libc.posix_spawnattr_init(self.attributes),
            libc.posix_spawnattr_setsigdefault(self.attributes, defaults),
            libc.posix_spawnattr_setsigmask(self.attributes, empty),
            libc.posix_spawnattr_setflags(self.attributes, ctypes.c_short(self.SETSIGDEF | self.SETSIGMASK | self.SETSID)),
        ):
            if error:
                raise OSError(error, os.strerror(error), "posix_spawnattr")

    def __call__(self, program: str, argv: list[str], env: dict, stdout: str, stderr: str) -> int:
        libc = self.libc
        actions = ctypes.create_string_buffer(512)
        libc.posix_spawn_file_actions_init(actions)
        try:
            for fd, path, flags in _opens(stdout, stderr):
                error = libc.posix_spawn_file_actions_addopen(actions, fd, os.fsencode(path), flags, 0o666)
                if error:
                    raise OSError(error, os.strerror(error), path)
            entries = [f"{name}={value}".encode("utf-8", "surrogateescape") for name, value in env.items()]
            pid = ctypes.c_int()
            error = libc.posix_spawn(
                ctypes.byref(pid), os.fsencode(program), actions, self.attributes,
                (ctypes.c_char_p * (len(argv) + 1))(*map(os.fsencode, argv), None),
                (ctypes.c_char_p * (len(entries) + 1))(*entries, None),
            )
        finally:
            libc.posix_spawn_file_actions_destroy(actions)
        if error:
            raise OSError(error, os.strerror(error), program)
        return pid.value


def _glibc_spawn() -> GlibcSpawn | None:
    try:
        libc_version = os.confstr("CS_GNU_LIBC_VERSION") or ""
    except (ValueError, OSError):  # not glibc
        return None
    if not (sys.platform.startswith("linux") and libc_version.startswith("glibc")):
        return None
    return GlibcSpawn(ctypes.CDLL(None))


#: ``spawn(program, argv, env, stdout_path, stderr_path) -> pid``: ``program`` in a new session,
#: stdin from /dev/null, stdout and stderr truncated into the files, the signals of
#: :data:`DEFAULT_SIGNALS` at their default action and none blocked. Raises ``OSError`` when the
#: program cannot be executed (the child never runs).
spawn = _glibc_spawn() or spawn_with_os
