#!/usr/bin/env python3
"""ABOR with Python's ftplib, as its users do it.

Usage: ftplib_abort.py HOST PORT PASSWORD

Starts RETR /tst/100000000, reads 1 MiB, then calls FTP.abort(), which
sends "ABOR\\r\\n" as TCP urgent data (MSG_OOB). Then ABOR when idle, both
as a plain command and with FTP.abort(). Prints "> COMMAND" and "< REPLY"
lines; a timeout or protocol error is printed as "! ..." and ends the
script with status 1.
"""

import ftplib
import sys

HOST, PORT, PASSWORD = sys.argv[1], int(sys.argv[2]), sys.argv[3]


class RecordingFTP(ftplib.FTP):
    def putcmd(self, line):
        print("> " + ("PASS <password>" if line.startswith("PASS ") else line), flush=True)
        super().putcmd(line)

    def getmultiline(self):
        resp = super().getmultiline()
        for l in resp.split("\n"):
            print("< " + l, flush=True)
        return resp


f = RecordingFTP()
try:
    f.connect(HOST, PORT, timeout=60)  # generous: a -race server on a busy machine checks a password slowly
    f.login("root", PASSWORD)
    f.voidcmd("TYPE I")
    conn = f.transfercmd("RETR /tst/100000000")
    got = 0
    while got < 1 << 20:
        b = conn.recv(65536)
        if not b:
            break
        got += len(b)
    print("# read %d bytes, aborting" % min(got, 1 << 20), flush=True)
    print("> ABOR (FTP.abort: urgent data)", flush=True)
    resp = f.abort()
    if resp.startswith("426"):
        f.getmultiline()  # the 226 that confirms the ABOR
    conn.close()
    f.sendcmd("NOOP")
    f.putcmd("ABOR")
    f.getmultiline()
    f.sendcmd("NOOP")
    print("> ABOR (FTP.abort: urgent data)", flush=True)
    f.abort()
    f.sendcmd("NOOP")
    f.quit()
except Exception as e:  # noqa: BLE001 - the Go test reads the message
    print("! %s: %s" % (type(e).__name__, e), flush=True)
    sys.exit(1)
