#!/usr/bin/env python3
"""Drive sluice's FTP gateway with Python's ftplib and print every reply.

Usage: ftplib_replies.py HOST PORT PASSWORD IMAGE APP2 FWOLD FWBAD

IMAGE is a device image (OS_FILE.BIN) that the server's device identity
accepts. APP2 is a newer OS_FILE.BIN that requires DSP.BFW 1.3 or newer;
FWOLD is DSP.BFW 1.2, FWBAD a DSP.BFW 1.3 with a bad CRC (for COHERENCE). The transcript goes to stdout: "> COMMAND" for each command sent
(the password masked), "< LINE" for each reply line, "| LINE" for each line
of a listing received over a data connection, and "# ..." for notes. Parts
that vary from run to run (ports, dates, free space, the uptime) are
replaced by <placeholders> so that the Go test can compare the transcript
with testdata/ftp_replies.golden.
"""

import ftplib
import io
import re
import socket
import sys

HOST, PORT, PASSWORD, IMAGE = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
APP2, FWOLD, FWBAD = sys.argv[5], sys.argv[6], sys.argv[7]


def read(p):
    with open(p, "rb") as fh:
        return fh.read()

out = []


def emit(line):
    out.append(line)
    print(line, flush=True)


PATTERNS = [
    # PASV and EPSV data ports.
    (re.compile(r"^(227 Entering Passive Mode\. \(\d+,\d+,\d+,\d+),\d+,\d+\)$"), r"\1,<p1>,<p2>)"),
    (re.compile(r"^(229 Entering Extended Passive Mode \(\|\|\|)\d+(\|\))$"), r"\1<port>\2"),
    # MDTM.
    (re.compile(r"^213 \d{14}$"), "213 <YYYYMMDDHHMMSS>"),
    # SITE DISKFREE.
    (re.compile(r"\b\d+ bytes free\b"), "<n> bytes free"),
    # SITE WHO: the client's port, idle times.
    (re.compile(r"\b127\.0\.0\.1:\d+\b"), "127.0.0.1:<port>"),
    (re.compile(r"\bidle \d+(\.\d+)?m?s\b"), "idle <t>"),
    # SITE STATS: the start time.
    (re.compile(r"\b(up since|Up since) \S+$"), r"\1 <time>"),
    # Listings: dates.
    (re.compile(r"^( ?\S{10} +\d+ \S+ +\S+ +\d+ )\w{3} [ \d]\d +(?:\d\d:\d\d|\d{4}) (.*)$"), r"\1<date> \2"),
    (re.compile(r"^\d\d-\d\d-\d\d  \d\d:\d\d[AP]M (.*)$"), r"<date> \1"),
    # MLSD/MLST: the file systems' times (the directories' own).
    (re.compile(r"\b(type=[cp]?dir;modify=)\d{14}"), r"\1<time>"),
]


def normalise(line):
    for rx, repl in PATTERNS:
        line = rx.sub(repl, line)
    return line


class RecordingFTP(ftplib.FTP):
    """An ftplib.FTP that records what goes over the control connection."""

    def putcmd(self, line):
        shown = line
        if line.upper().startswith("PASS "):
            shown = "PASS <password>"
        elif len(line) > 200:
            shown = "%s... (%d bytes)" % (line[:16], len(line))
        emit("> " + shown.replace("\0", "<NUL>"))
        super().putcmd(line)

    def getmultiline(self):
        resp = super().getmultiline()
        for l in resp.split("\n"):
            emit("< " + normalise(l))
        return resp


def cmd(f, line):
    """Send one command and read its reply, whatever the code."""
    f.putcmd(line)
    return f.getmultiline()


def note(text):
    emit("# " + text)


def attempt(what, fn):
    """Run a transfer; ftplib raises on 4xx/5xx, which is recorded."""
    try:
        return fn()
    except ftplib.all_errors as e:
        if len(what) > 200:
            what = "%s... (%d bytes)" % (what[:16], len(what))
        emit("! %s: %s" % (what, type(e).__name__))
        return None


def listing(f, command):
    def line(l):
        emit("| " + normalise(l))
    attempt(command, lambda: f.retrlines(command, line))


def store(f, command, data):
    attempt(command, lambda: f.storbinary(command, io.BytesIO(data)))


def retrieve(f, command):
    buf = bytearray()
    attempt(command, lambda: f.retrbinary(command, buf.extend))
    return bytes(buf)


f = RecordingFTP()
f.set_pasv(True)
emit("# connect")
f.connect(HOST, PORT, timeout=30)  # the banner is read and recorded here

note("before login")
cmd(f, "PWD")
cmd(f, "SYST")
cmd(f, "NOOP")
cmd(f, "PBSZ 0")
cmd(f, "PROT P")
cmd(f, "ACCT TEST0")
cmd(f, "PASS nouser")

note("login: USER always answers 331; a bad password is refused after a delay")
cmd(f, "USER nosuchuser")
cmd(f, "PASS wrong")
cmd(f, "USER root")
cmd(f, "PASS wrong")
cmd(f, "USER root")
cmd(f, "PASS " + PASSWORD)
cmd(f, "PASS " + PASSWORD)

note("session")
cmd(f, "SYST")
cmd(f, "NOOP")
cmd(f, "HELP")
cmd(f, "HELP USER")
cmd(f, "HELP retr")
cmd(f, "HELP LIST")
cmd(f, "HELP XCRC")
cmd(f, "HELP BOGUS")
cmd(f, "FEAT")
cmd(f, "OPTS UTF8 ON")
cmd(f, "STAT")

note("transfer parameters")
for a in ["TYPE A", "TYPE A N", "TYPE A T", "TYPE A C", "TYPE A X", "TYPE I", "TYPE L 8", "TYPE L 16",
          "TYPE E", "TYPE X", "TYPE", "MODE S", "MODE B", "MODE C", "MODE X", "MODE",
          "STRU F", "STRU R", "STRU P", "STRU X", "STRU"]:
    cmd(f, a)

note("navigation")
cmd(f, "PWD")
cmd(f, "CDUP")
cmd(f, "CWD")
cmd(f, "CWD /")
cmd(f, "CWD dsk")
cmd(f, "PWD")
cmd(f, "XPWD")
cmd(f, "CWD .")
cmd(f, "CWD nosuch")
cmd(f, "CWD /dsk/sub")
cmd(f, "CDUP")
cmd(f, "CDUP")
cmd(f, "CWD ..")
cmd(f, "XCWD /mem")
cmd(f, "XCUP")
cmd(f, "SMNT dsk")
cmd(f, "PWD")
cmd(f, "SMNT nosuch")
cmd(f, "SMNT")
cmd(f, "CWD dsk")
cmd(f, "CWD bio")
cmd(f, "CWD /dsk/x/y")
cmd(f, "CWD nul")
cmd(f, "CWD ..")
cmd(f, "SMNT fda")
cmd(f, "CWD /")

note("answered as the manual says")
for a in ["REST 100", "REST 0", "REST abc", "ALLO 1000", "MKD x", "XMKD x", "RMD x", "XRMD x", "STOU",
          "ABOR"]:
    cmd(f, a)

note("errors")
cmd(f, "BOGUS")
cmd(f, "X" * 10240)
cmd(f, "NOOP")
cmd(f, "NOOP\0x")
cmd(f, "RNTO x")
cmd(f, "RNFR /dsk/nosuch.txt")
cmd(f, "SIZE /dsk/nosuch.txt")
cmd(f, "MDTM /dsk/nosuch.txt")
cmd(f, "XCRC \"/dsk/nosuch.txt\"")
cmd(f, "DELE /dsk/nosuch.txt")
cmd(f, "RETR /dsk/nosuch.txt")
cmd(f, "SIZE /nosuchfs/x")
cmd(f, "PORT 1,2,3")
cmd(f, "PORT 1,2,3,4,5")
cmd(f, "PORT 1,2,3,x,5,6")
cmd(f, "PORT 127,0,0,1,4,x")
cmd(f, "PORT 127,0,0,2,200,1")
cmd(f, "PORT 127,0,0,1,0,25")
cmd(f, "EPRT |3|127.0.0.1|51000|")
cmd(f, "EPRT x")
cmd(f, "EPRT |1|127.0.0.300|51000|")
cmd(f, "EPRT |1|127.0.0.1|99999|")
cmd(f, "EPRT |1|127.0.0.2|51000|")
cmd(f, "EPRT |1|127,0,0,1|51000|")
cmd(f, "EPSV 3")
listing(f, "LIST /dsk/" + "a" * 300)

note("secure mode (DIRECT OFF): STOR goes to the staging buffer")
hello = b"hello, sluice\n" * 100
cmd(f, "CWD dsk")
cmd(f, "SITE STATBUFFER")
cmd(f, "SITE CLEARBUFFER")
cmd(f, "SITE SAVEBUFFER")
cmd(f, "SITE STOREDEVICE")
store(f, "STOR hello.txt", hello)
cmd(f, "SITE STATBUFFER")
cmd(f, "SIZE /mem/hello.txt")
cmd(f, "SIZE hello.txt")
cmd(f, "MDTM /mem/hello.txt")
cmd(f, "XCRC \"/mem/hello.txt\"")
cmd(f, "XCRC \"/mem/hello.txt\" 14")
cmd(f, "XCRC \"/mem/hello.txt\" 14 14")
cmd(f, "XCRC \"/mem/hello.txt\" 2000")
cmd(f, "XCRC \"/mem/hello.txt\" 0 2000")
cmd(f, "XMD5 \"/mem/hello.txt\"")
cmd(f, "XMD5 \"/mem/hello.txt\" 0 14")
listing(f, "LIST /mem")
listing(f, "NLST /mem")
got = retrieve(f, "RETR /mem/hello.txt")
note("RETR /mem/hello.txt returned the bytes stored: %s" % (got == hello))
cmd(f, "SITE CLEARBUFFER")
cmd(f, "SITE CLEARBUFFER")
cmd(f, "SITE STATBUFFER")

note("APPE appends to the staged file; REST then RETR resumes")
store(f, "STOR part.txt", hello[:1000])
store(f, "APPE part.txt", hello[1000:])
cmd(f, "SIZE /mem/part.txt")
cmd(f, "XMD5 \"/mem/part.txt\"")
buf = bytearray()
attempt("REST+RETR", lambda: f.retrbinary("RETR /mem/part.txt", buf.extend, rest=1000))
note("RETR from offset 1000 returned the last %d bytes: %s" % (len(buf), bytes(buf) == hello[1000:]))
cmd(f, "STAT /mem/part.txt")
note("XCRC and XMD5 without a name: the last file transferred")
cmd(f, "XCRC")
cmd(f, "XCRC 1000")
cmd(f, "XMD5 0 14")
cmd(f, "DELE /mem/part.txt")

note("SAVEBUFFER: a file that is not an image is saved as is")
store(f, "STOR hello.txt", hello)
cmd(f, "CWD /")
cmd(f, "SITE STOREDEVICE")
cmd(f, "SITE SAVEBUFFER")
cmd(f, "SITE SAVEBUFFER nosuch")
cmd(f, "SITE SAVEBUFFER mem")
cmd(f, "CWD dsk")
cmd(f, "SITE STOREDEVICE")
cmd(f, "SITE SAVEBUFFER")
cmd(f, "SITE SAVEBUFFER")
cmd(f, "SIZE hello.txt")
cmd(f, "RNFR hello.txt")
cmd(f, "RNTO renamed.txt")
cmd(f, "SIZE renamed.txt")
cmd(f, "DELE renamed.txt")
cmd(f, "DELE renamed.txt")

note("a device image: STOR, then SAVEBUFFER through the checks")
with open(IMAGE, "rb") as fh:
    image = fh.read()
cmd(f, "SITE GETAPPNAME")
cmd(f, "SITE COHERENCE")
store(f, "STOR os_file.bin", image)
cmd(f, "SITE STATBUFFER")
cmd(f, "SITE SAVEBUFFER dsk")
cmd(f, "SITE STATBUFFER")
cmd(f, "SIZE /dsk/OS_FILE.BIN")
cmd(f, "SITE GETAPPNAME")
cmd(f, "SITE GETFILEVER OS_FILE.BIN")
cmd(f, "SITE GETFILEVER \"/dsk/OS_FILE.BIN\"")
cmd(f, "SITE GETFILEVER /dsk/nosuch.bin")
cmd(f, "SITE LISTFIRMWARES")
cmd(f, "SITE COHERENCE")

note("COHERENCE: an application that requires DSP.BFW 1.3; the firmware missing, older, with a bad CRC")
store(f, "STOR os_file.bin", read(APP2))
cmd(f, "SITE SAVEBUFFER dsk")
cmd(f, "SITE LISTFIRMWARES")
cmd(f, "SITE COHERENCE")
cmd(f, "SITE CHECK FIRMWARE OFF")
store(f, "STOR dsp.bfw", read(FWOLD))
cmd(f, "SITE SAVEBUFFER dsk")
cmd(f, "SITE COHERENCE")
cmd(f, "SITE CHECK CRC OFF")
store(f, "STOR dsp.bfw", read(FWBAD))
cmd(f, "SITE SAVEBUFFER dsk")
cmd(f, "SITE CHECK ALL ON")
cmd(f, "SITE COHERENCE")
cmd(f, "DELE /dsk/DSP.BFW")
store(f, "STOR config.cfg", b"set hostname sluice\n")
cmd(f, "SITE SAVEBUFFER")
cmd(f, "SITE GETCFGNAME")

note("DIRECT ON with the client's local path (manual 5.1.4)")
cmd(f, "SITE DIRECT ON")
store(f, "STOR ../_85xx/config.cfg", b"set hostname sluice\n")
cmd(f, "SITE DIRECT OFF")

note("modern clients: MFMT, MLST, MLSD, OPTS MLST")
cmd(f, "MFMT 20190506070809 /dsk/OS_FILE.BIN")
cmd(f, "MFMT 20030201123456.5 config.cfg")
cmd(f, "MFMT 2003020112 config.cfg")
cmd(f, "MFMT 20030201123456")
cmd(f, "MFMT 20030201123456 nosuch.cfg")
cmd(f, "MDTM config.cfg")
cmd(f, "MLST config.cfg")
cmd(f, "MLST /dsk")
cmd(f, "MLST /dsk/nosuch.cfg")
listing(f, "MLSD")
listing(f, "MLSD /")
cmd(f, "OPTS MLST size;type;bogus;")
cmd(f, "MLST /dsk/OS_FILE.BIN")
cmd(f, "OPTS MLST type;size;modify;perm;")

note("the other SITE commands")
for a in ["SITE DIRECT ON", "STAT", "SITE DIRECT OFF", "SITE DIRECT MAYBE", "SITE DIRECT",
          "SITE REPLY ON", "SITE REPLY OFF", "SITE REPLY X",
          "SITE IMMEDIATE OFF", "SITE IMMEDIATE ON", "SITE IMMEDIATE X",
          "SITE KEEPALIVE ON", "SITE KEEPALIVE OFF", "SITE KEEPALIVE X",
          "SITE RELOAD ON", "STAT", "SITE RELOAD OFF", "SITE RELOAD X",
          "SITE COMPATIBLE ON", "STAT", "SITE COMPATIBLE OFF", "STAT", "SITE COMPATIBLE X",
          "SITE SYSTMODE MSDOS", "SYST"]:
    cmd(f, a)
listing(f, "LIST")
for a in ["SITE SYSTMODE UNIX", "SYST", "SITE SYSTMODE VMS",
          "SITE CHECK CRC OFF", "STAT", "SITE CHECK HW SUPPORTED ON", "SITE CHECK HARDWARE OFF", "STAT",
          "SITE CHECK ALL OFF", "STAT", "SITE CHECK ALL ON", "STAT",
          "SITE CHECK BOGUS ON", "SITE CHECK CRC MAYBE", "SITE CHECK CRC",
          "SITE GETBIOSVER", "SITE GETHDWLVL", "SITE SYSTID", "SITE SAVESLAVES",
          "SITE WHO", "SITE STATS", "SITE DISKFREE", "SITE DISKFREE dsk", "SITE DISKFREE nosuch",
          "SITE HELP", "SITE BACKUP", "SITE BOGUS", "SITE", "SITE help"]:
    cmd(f, a)

note("TEST mode")
cmd(f, "ACCT TEST0")
cmd(f, "PWD")
cmd(f, "STAT")
cmd(f, "CWD dsk")
cmd(f, "CWD /dsk")
cmd(f, "CWD /")
cmd(f, "CWD /tst")
cmd(f, "CDUP")
cmd(f, "SMNT dsk")
cmd(f, "SITE DIRECT OFF")
cmd(f, "SIZE /dsk/OS_FILE.BIN")
retrieve(f, "RETR /dsk/OS_FILE.BIN")
store(f, "STOR OS_FILE.BIN", b"not checked in TEST mode" * 10)
got = retrieve(f, "RETR 1234")
note("RETR 1234 returned %d bytes" % len(got))
got = retrieve(f, "RETR /tst/1234")
note("RETR /tst/1234 returned %d bytes" % len(got))
store(f, "STOR upload.dat", b"x" * 5000)
cmd(f, "SIZE upload.dat")
listing(f, "NLST")
listing(f, "LIST /dsk")
cmd(f, "ACCT TEST1")
cmd(f, "PWD")
cmd(f, "ACCT PROD")
cmd(f, "REIN")
cmd(f, "PWD")
cmd(f, "USER root")
cmd(f, "PASS " + PASSWORD)
cmd(f, "PWD")
cmd(f, "STAT")

note("EPSV ALL")
cmd(f, "EPSV ALL")
cmd(f, "PASV")
cmd(f, "PORT 127,0,0,1,200,1")
cmd(f, "EPRT |1|127.0.0.1|51201|")
f.af = socket.AF_INET6  # makes ftplib use EPSV
got = retrieve(f, "RETR /tst/100")
f.af = socket.AF_INET
note("RETR /tst/100 after EPSV ALL returned %d bytes" % len(got))

cmd(f, "QUIT")
try:
    rest = f.sock.recv(1)
    note("after QUIT the connection is %s" % ("closed" if rest == b"" else "open"))
except OSError:
    note("after QUIT the connection is closed")
