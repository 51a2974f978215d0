"""`python -m mobeval.matrix.tied PARENT_PID PROGRAM ARGS...`: run PROGRAM so that it gets SIGKILL when
PARENT_PID (the Ray worker) dies, however it dies (Linux PR_SET_PDEATHSIG, kept across exec).

Set here, in the child before exec, rather than in a preexec_fn: a Ray worker has threads, and a
preexec_fn that loads libc between fork and exec can deadlock on a lock another thread held."""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def main(argv: list[str]) -> None:
    parent, program = int(argv[0]), argv[1:]
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG)")
    if os.getppid() != parent:  # the worker died before the signal was armed
        os._exit(137)
    os.execv(program[0], program)


if __name__ == "__main__":
    main(sys.argv[1:])
