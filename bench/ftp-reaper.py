#!/usr/bin/env python3
"""bench/ftp-reaper.py CMD [ARGS...] — run CMD as a child subreaper.

Used by bench/ftp.sh to count all of vsftpd's CPU. vsftpd forks a
privileged process per session, which forks the unprivileged process that
moves the data; that grandchild is not always reaped by its parent, and an
orphan's CPU time never reaches the listener's cutime/cstime. Under this
wrapper (PR_SET_CHILD_SUBREAPER) orphans are re-parented here and reaped
here, so /proc/<this pid>/stat utime+stime+cutime+cstime plus the living
tree is all the CPU CMD and its descendants used.

SIGTERM and SIGINT are passed on to CMD; the wrapper exits with CMD's
status once no child is left.
"""
import ctypes
import os
import signal
import sys

PR_SET_CHILD_SUBREAPER = 36


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: ftp-reaper.py CMD [ARGS...]")
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        sys.exit("prctl(PR_SET_CHILD_SUBREAPER): %s" % os.strerror(ctypes.get_errno()))
    pid = os.fork()
    if pid == 0:
        try:
            os.execvp(sys.argv[1], sys.argv[1:])
        finally:
            os._exit(127)

    def forward(sig, _frame):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    code = 0
    while True:
        try:
            p, status = os.wait()
        except ChildProcessError:
            break
        if p == pid:
            code = os.waitstatus_to_exitcode(status)
    sys.exit(code if code >= 0 else 128 - code)


if __name__ == "__main__":
    main()
