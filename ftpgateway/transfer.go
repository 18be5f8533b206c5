package ftpgateway

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"path"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluice/sluice/image"
	"github.com/sluice/sluice/vfs"
)

// transfer is one data transfer, run by its own goroutine, owned by the
// session (which waits for it on ABOR, QUIT and close).
type transfer struct {
	verb    string
	path    string
	size    int64 // -1 when unknown
	start   time.Time
	ctx     context.Context
	cancel  context.CancelFunc
	done    chan struct{}
	aborted atomic.Bool // ABOR, the control connection gone, or shutdown: an upload is cut
	// timedOut: the peer stopped sending or reading for data_timeout.
	timedOut atomic.Bool
	n        atomic.Int64

	mu   sync.Mutex
	conn net.Conn // the data connection once open
}

func (t *transfer) setConn(c net.Conn) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.aborted.Load() {
		return false
	}
	t.conn = c
	return true
}

// abort stops the transfer: the data connection is closed under it.
func (t *transfer) abort() {
	t.aborted.Store(true)
	t.cancel()
	t.mu.Lock()
	if t.conn != nil {
		t.conn.Close()
	}
	t.mu.Unlock()
}

// countingWriter counts bytes for STAT and the final reply.
type countingWriter struct {
	w io.Writer
	n *atomic.Int64
}

func (cw countingWriter) Write(p []byte) (int, error) {
	n, err := cw.w.Write(p)
	cw.n.Add(int64(n))
	return n, err
}

// countingReader counts as it reads.
type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (cr countingReader) Read(p []byte) (int, error) {
	n, err := cr.r.Read(p)
	cr.n.Add(int64(n))
	return n, err
}

// ReadFrom keeps sendfile (the TCP connection's ReadFrom sees the file
// inside a LimitedReader) while counting in steps, so STAT during a
// transfer shows progress.
func (cw countingWriter) ReadFrom(r io.Reader) (int64, error) {
	lr, ok := r.(*io.LimitedReader)
	if !ok {
		return io.Copy(cw.w, countingReader{r, cw.n})
	}
	const step = 4 << 20
	var total int64
	for lr.N > 0 {
		chunk := &io.LimitedReader{R: lr.R, N: min(lr.N, step)}
		n, err := io.Copy(cw.w, chunk)
		lr.N -= n
		total += n
		cw.n.Add(n)
		if err != nil {
			return total, err
		}
		if n == 0 {
			break
		}
	}
	return total, nil
}

// run starts a transfer. body opens its source or sink (already done by
// the caller) and moves the bytes over the data connection; it returns
// the final reply. The "150" preliminary reply comes first.
// cleanup runs when body does not (no data connection, or aborted first),
// or when it panicked, to release what the command opened.
func (c *session) run(verb, p string, size int64, prelim reply, body func(t *transfer, conn net.Conn) string, cleanup func()) {
	ctx, cancel := context.WithCancel(context.Background())
	t := &transfer{verb: verb, path: p, size: size, start: time.Now(), ctx: ctx, cancel: cancel, done: make(chan struct{})}
	if c.data.passive != nil && c.takeReady() {
		if r, ok := alreadyOpen[prelim]; ok {
			prelim = r
		}
	}
	dsess := c.withData(c.data)
	c.data = dataState{epsvAll: c.data.epsvAll}
	// The audit names the user as of the command: the transfer goroutine
	// must not read login state the control goroutine owns.
	user, sid := "", ""
	if c.vs != nil {
		user, sid = c.vs.User.Name, c.vs.ID
	}
	c.mu.Lock()
	c.xfer = t
	c.mu.Unlock()
	c.send(prelim)
	go func() {
		defer close(t.done)
		defer cancel()
		final, panicked := c.transfer(t, dsess, body, cleanup)
		if t.aborted.Load() {
			final = string(map[string]reply{"RETR": replyAbortRETR, "STOR": replyAbortSTOR, "APPE": replyAbortAPPE,
				"LIST": replyAbortLIST, "NLST": replyAbortNLST, "MLSD": replyAbortMLSD}[verb])
		}
		if t.timedOut.Load() && !t.aborted.Load() {
			c.log.Warn("data connection timed out", "verb", verb, "path", p, "bytes", t.n.Load(),
				"data_timeout", c.srv.dataTimeout().String())
			c.srv.audit.Warn("transfer timeout", "user", user, "session", sid, "remote_addr", c.remote,
				"verb", verb, "path", p, "bytes", t.n.Load(), "data_timeout", c.srv.dataTimeout().String())
		}
		c.mu.Lock()
		c.xfer = nil
		if verb != "LIST" && verb != "NLST" && verb != "MLSD" {
			c.lastFile = p
		}
		c.mu.Unlock()
		if panicked {
			// The transfer's state cannot be trusted: end this session
			// only, telling the client why (RFC 959 §4.2: 421 before the
			// server closes the control connection).
			c.sendLines(final, string(replyServiceNA))
			c.Close()
			return
		}
		c.sendLines(final)
	}()
}

// alreadyOpen is the 125 reply for each 150 a transfer begins with, for a
// data connection the client made before the command (manual §1.4.3).
var alreadyOpen = map[reply]reply{
	replyFileOpening:    replyFileAlreadyOpen,
	replyCheckedOpening: replyCheckedAlreadyOpen,
	replyListOpening:    replyListAlreadyOpen,
}

// transfer opens the data connection and runs body over it, returning the
// final reply. A panic in it (a bug, reached by a client's input) is
// logged with its stack and ends the transfer with a failure reply; the
// caller then closes the session.
func (c *session) transfer(t *transfer, dsess *session, body func(t *transfer, conn net.Conn) string, cleanup func()) (final string, panicked bool) {
	ran := false
	var dc *dataConn
	defer func() {
		if r := recover(); r != nil {
			c.log.Error("panic in a data transfer; closing the session", "verb", t.verb, "path", t.path,
				"panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			final, panicked = string(replyDataClosed), true
			ran = false // release what the command opened
		}
		if !ran && cleanup != nil {
			cleanup()
		}
		if dc != nil {
			t.timedOut.Store(dc.timedOut.Load())
		}
	}()
	final = string(replyNoDataConn)
	conn, err := dsess.openData(t.ctx)
	if err != nil {
		c.log.Debug("data connection failed", "error", err)
		if isTimeout(err) {
			c.log.Warn("data connection not established in time", "verb", t.verb, "data_timeout", c.srv.dataTimeout().String())
		}
		return final, false
	}
	dc = newDataConn(conn, c.srv.dataTimeout())
	defer dc.Close()
	if !t.setConn(conn) {
		return final, false
	}
	ran = true
	return body(t, dc), false
}

// withData is the session as the transfer goroutine sees it, taken when
// the command runs: its own copy of the data setup, so the control
// goroutine may take new PORT/PASV.
func (c *session) withData(ds dataState) *session {
	cp := &session{srv: c.srv, raw: c.raw, log: c.log, peerIP: c.peerIP, protP: c.protP, keepOn: c.keepOn, data: ds}
	return cp
}

// duringTransfer handles the commands a client may send while a transfer
// runs (RFC 959 §4.1.3): ABOR, STAT, NOOP, QUIT; others are busy.
func (c *session) duringTransfer(cmd command) bool {
	c.mu.Lock()
	t := c.xfer
	c.mu.Unlock()
	switch cmd.verb {
	case "ABOR":
		if t != nil {
			t.abort()
			<-t.done
		}
		c.send(replyAborOK)
	case "STAT":
		if t == nil {
			return c.dispatch(cmd)
		}
		c.sendLines(c.statLines(t)...)
	case "NOOP":
		c.send(replyNoopOK)
	case "QUIT":
		// RFC 959 §4.1.1: the transfer finishes, its reply goes out, then
		// the connection closes (D14).
		if t != nil {
			<-t.done
		}
		return c.cmdQUIT("")
	default:
		if t == nil {
			return c.dispatch(cmd)
		}
		c.send(replyBusy)
	}
	return false
}

// cmdABOR when idle: only the second reply (manual §1.4.2).
func (c *session) cmdABOR(string) bool {
	c.send(replyAborOK)
	return false
}

// abortTransfer stops a running transfer when the session ends.
func (c *session) abortTransfer() {
	c.mu.Lock()
	t := c.xfer
	c.mu.Unlock()
	if t != nil {
		t.abort()
		<-t.done
	}
}

// --- RETR ---

func (c *session) cmdRETR(arg string) bool {
	if !c.dataProtected("RETR") {
		return false
	}
	p, ok := c.resolve(arg)
	if !ok {
		return false
	}
	r, err := c.srv.cfg.Store.OpenRead(c.vs, p)
	if err != nil {
		c.log.Debug("RETR refused", "path", p, "error", err)
		c.sendLines(ftpStatus(opRetr, err))
		return false
	}
	off := c.rest
	c.rest = 0
	if off > r.Size() {
		r.Close()
		c.send(replySeekFailed)
		return false
	}
	ascii := c.ascii
	c.run("RETR", p, r.Size(), replyFileOpening, func(t *transfer, conn net.Conn) string {
		defer r.Close()
		var err error
		if ascii {
			w := bufio.NewWriterSize(countingWriter{conn, &t.n}, 64<<10)
			_, err = io.Copy(&crlfWriter{w: w}, io.NewSectionReader(r, off, r.Size()-off))
			if err == nil {
				err = w.Flush()
			}
		} else {
			_, err = r.CopyTo(countingWriter{conn, &t.n}, off)
		}
		if err != nil {
			c.log.Debug("RETR failed", "path", p, "error", err)
			// The audit's result: ABOR, the control connection gone or
			// shutdown is an abort; a data connection that failed or
			// timed out, an error.
			if t.aborted.Load() {
				r.Abort(err)
			} else {
				r.Fail(err)
			}
			return string(replyDataClosed)
		}
		c.srv.count(func(s *stats) { s.filesSent++; s.bytesSent += t.n.Load() })
		return line1(replyRetrDone, t.n.Load())
	}, func() {
		r.Fail(errNoDataConn)
		r.Close()
	})
	return false
}

// --- STOR and APPE: secure (staging buffer) or direct mode (manual §3.5) ---

// directDirOK reports whether a DIRECT ON STOR argument with a directory
// part names a file in a file system the user sees: "../_85xx/os_file.bin"
// from /dsk names /_85xx, which does not exist (manual §5.1.4).
func (c *session) directDirOK(arg string) bool {
	a := strings.TrimSpace(arg)
	if !strings.Contains(a, "/") {
		return true
	}
	full := a
	if !strings.HasPrefix(full, "/") {
		full = "/" + c.cwd + "/" + full
	}
	full = path.Clean(full)
	dir := path.Dir(full)
	if strings.Count(dir, "/") != 1 || dir == "/" {
		return false
	}
	fs, rest, err := vfs.Split(dir, c.srv.pol().Names.MaxLen)
	if err != nil || fs == "" || rest != "" {
		return false
	}
	_, err = c.srv.cfg.Store.Stat(c.vs, "/"+fs)
	return err == nil
}

func (c *session) cmdSTOR(arg string) bool { return c.store("STOR", arg) }
func (c *session) cmdAPPE(arg string) bool { return c.store("APPE", arg) }

func (c *session) store(verb, arg string) bool {
	if !c.dataProtected(verb) {
		return false
	}
	var p, name, target string
	if c.direct || c.testFS != "" {
		if c.testFS == "" && !c.directDirOK(arg) {
			// A client that sends its local path (manual §5.1.4): there
			// is no such directory on the device.
			c.send(replyOpenFailed)
			return false
		}
		var ok bool
		if p, ok = c.resolve(arg); !ok {
			return false
		}
		name, target = path.Base(p), p
	} else {
		// Secure mode: whatever the current directory, STOR goes to the
		// staging buffer under the last path element; SITE SAVEBUFFER
		// commits it.
		a := strings.TrimSpace(arg)
		full := path.Clean("/" + a)
		name = path.Base(full)
		if strings.Contains(a, "/") {
			// The directory part must name a file system the user sees
			// (file systems are flat, so a relative one counts from the
			// root): "../../x" is refused, not stored as /mem/x.
			fs, rest, err := vfs.Split(path.Dir(full), c.srv.pol().Names.MaxLen)
			if _, serr := c.srv.cfg.Store.Stat(c.vs, "/"+fs); err != nil || fs == "" || rest != "" || serr != nil {
				c.send(replyInvalidPath)
				return false
			}
		}
		if err := vfs.ValidateName(name, c.srv.pol().Names.MaxLen); err != nil {
			c.send(replyInvalidName)
			return false
		}
		p = vfs.StagingPath(name)
		target = p
	}
	// REST + STOR keeps the first REST bytes and writes from there; APPE
	// appends. Both resume an upload cut short in /mem in place.
	rest := c.rest
	c.rest = 0
	mode := vfs.WriteTrunc
	switch {
	case verb == "APPE":
		mode = vfs.WriteAppend
	case rest > 0:
		mode = vfs.WriteKeep
	}
	w, err := c.srv.cfg.Store.OpenWrite(c.vs, target, mode)
	if err != nil && !c.direct && c.testFS == "" {
		if k := vfs.KindOf(err); k == vfs.KindDenied || k == vfs.KindInvalidPath {
			c.send(replySecureFSNotLoaded) // the user may not write the staging buffer
			return false
		}
	}
	commitTo := ""
	if err != nil && vfs.KindOf(err) == vfs.KindCheck && c.direct {
		// DIRECT ON with a known file: stage it and commit through the
		// checks, so the verdict is the STOR reply and the write atomic.
		commitTo, target = p, vfs.StagingPath(name)
		w, err = c.srv.cfg.Store.OpenWrite(c.vs, target, mode)
	}
	if err != nil {
		c.log.Debug(verb+" refused", "path", target, "error", err)
		c.sendLines(ftpStatus(opStor, err))
		return false
	}
	off := int64(0)
	if mode == vfs.WriteKeep {
		// RFC 3659 §5: the data replaces the file from the REST offset on.
		if rest > w.Size() {
			w.Abort()
			c.send(replySeekFailed)
			return false
		}
		if err := w.Truncate(rest); err != nil {
			w.Abort()
			c.sendLines(ftpStatus(opStor, err))
			return false
		}
		off = rest
	}
	ascii := c.ascii
	prelim := replyFileOpening
	if image.IsKnownName(name) && c.testFS == "" {
		// TEST mode is a standard server (manual §3.3): nothing is checked.
		prelim = replyCheckedOpening
	}
	done := replyStorDone
	if verb == "APPE" {
		done = replyAppeDone
	}
	raw := c.raw
	c.run(verb, target, -1, prelim, func(t *transfer, conn net.Conn) string {
		var rerr, werr error
		if ascii {
			lw := &lfWriter{w: io.NewOffsetWriter(w, off)}
			rerr, werr = c.srv.receive(lw, conn, &t.n)
			if rerr == nil && werr == nil {
				werr = lw.flush()
			}
		} else {
			rerr, werr = c.srv.receiveAt(w, off, conn, &t.n)
		}
		switch {
		case werr != nil:
			// A failed write (buffer or disk full, size limit) is sticky:
			// Close discards the upload and reports it.
			_ = w.Close()
			c.log.Info(verb+" failed", "path", target, "error", werr)
			if k := vfs.KindOf(werr); k == vfs.KindNoSpace || k == vfs.KindOffset {
				return ftpStatus(opStor, werr)
			}
			return string(replyDataClosed)
		case t.aborted.Load() && !c.closing():
			// ABOR: the client asked; what this STOR wrote is dropped
			// (an incomplete file it resumed stays incomplete).
			w.Abort()
			return string(replyDataClosed)
		case rerr != nil || t.aborted.Load() || controlGone(raw, graceFor(time.Since(t.start), t.n.Load())):
			// The data connection failed, the session ended under it, or
			// it ended together with the control connection (the client
			// was killed): a cut, never a completion. Into /mem the upload
			// stays incomplete, for REST + STOR or APPE to resume.
			w.Cut(errors.Join(errDataCut, rerr))
			c.log.Info(verb+" cut by the connection", "path", target, "bytes", t.n.Load(), "error", rerr)
			return string(replyDataClosed)
		}
		if err := w.Close(); err != nil {
			return ftpStatus(opStor, err)
		}
		c.srv.count(func(s *stats) { s.filesReceived++; s.bytesReceived += t.n.Load() })
		if commitTo == "" && !c.direct && image.IsKnownName(name) {
			// Secure mode: a known file is checked as soon as it is
			// received (§5.1.6); a bad one is not kept.
			if err := c.srv.cfg.Store.Verify(c.vs, target); err != nil {
				c.discard(target, err)
				return ftpStatus(opStor, err)
			}
		}
		if commitTo != "" {
			if _, err := c.srv.cfg.Store.Rename(c.vs, target, commitTo); err != nil {
				c.discard(target, err)
				return ftpStatus(opStor, err)
			}
		}
		return line1(done, t.n.Load())
	}, w.Abort)
	return false
}

// errDataCut is the cause of a cut FTP upload.
var errDataCut = errors.New("ftp: data connection ended with the control connection, or failed")

// errNoDataConn is the audit's cause of a RETR whose data connection was
// never made (or that was aborted before it was).
var errNoDataConn = errors.New("ftp: no data connection")

// discard has the server remove a staged file it refused.
func (c *session) discard(p string, reason error) {
	if err := c.srv.cfg.Store.Discard(c.vs, p, reason); err != nil {
		c.log.Warn("cannot discard a refused staged file", "path", p, "error", err)
		return
	}
	c.log.Info("refused staged file discarded", "path", p, "error", reason)
}

// --- LIST and NLST ---

func (c *session) cmdLIST(arg string) bool { return c.list(arg, true) }
func (c *session) cmdNLST(arg string) bool { return c.list(arg, false) }

// list sends a listing of the current (or given) file system, filtered by
// a mask, in UNIX or MS-DOS format (manual OS, SITE SYSTMODE).
func (c *session) list(arg string, long bool) bool {
	verb := "LIST"
	if !long {
		verb = "NLST"
	}
	dir, out, ok := c.listEntries(verb, arg)
	if !ok {
		return false
	}
	msdos := c.systMode == "msdos"
	c.run(verb, dir, -1, replyListOpening, func(t *transfer, conn net.Conn) string {
		w := bufio.NewWriter(countingWriter{conn, &t.n})
		for _, i := range out {
			switch {
			case !long:
				fmt.Fprintf(w, "%s\r\n", i.Name)
			case msdos:
				w.WriteString(msdosLine(i))
			default:
				w.WriteString(unixLine(i))
			}
		}
		if err := w.Flush(); err != nil {
			return string(replyDataClosed)
		}
		return string(replyListDone)
	}, nil)
	return false
}

// listEntries is what LIST, NLST and MLSD share before the data
// connection: the PROT P requirement, the argument (the current or a given
// file system, or a mask), the name checks, TEST mode, and the access
// check of the listing. It answers the client itself when ok is false.
func (c *session) listEntries(verb, arg string) (dir string, out []vfs.Info, ok bool) {
	if !c.dataProtected(verb) {
		return "", nil, false
	}
	// Options such as "-la" that clients add are ignored.
	var args []string
	for _, f := range strings.Fields(arg) {
		if !strings.HasPrefix(f, "-") {
			args = append(args, f)
		}
	}
	dir, mask := "/"+c.cwd, ""
	if len(args) > 0 {
		a := args[0]
		if !strings.HasPrefix(a, "/") {
			a = "/" + c.cwd + "/" + a
		}
		a = path.Clean(a)
		for _, seg := range strings.Split(a, "/") {
			if len(seg) > c.srv.pol().Names.MaxLen {
				c.send(replyPathTooLong) // no name can be that long: not an empty listing
				return "", nil, false
			}
		}
		if fs, name, err := vfs.Split(a, 1<<10); err == nil && name == "" {
			dir = "/" + fs
		} else {
			dir, mask = path.Dir(a), path.Base(a)
		}
	}
	if c.testFS != "" && dir != "/"+c.testFS {
		c.send(replyInvalidPath)
		return "", nil, false
	}
	infos, err := c.srv.cfg.Store.List(c.vs, dir)
	if err != nil {
		c.sendLines(ftpStatus(opList, err))
		return "", nil, false
	}
	for _, i := range sortedInfos(infos) {
		if mask != "" {
			if ok, err := path.Match(mask, i.Name); err != nil || !ok {
				continue
			}
		}
		out = append(out, i)
	}
	return dir, out, true
}

// unixLine is an "ls -l" line, as graphical clients parse it.
func unixLine(i vfs.Info) string {
	stamp := i.ModTime.Format("Jan _2 15:04")
	if time.Since(i.ModTime) > 180*24*time.Hour || time.Until(i.ModTime) > time.Hour {
		stamp = i.ModTime.Format("Jan _2  2006")
	}
	if i.IsDir {
		return fmt.Sprintf(listUnixDir, stamp, i.Name) + "\r\n"
	}
	line := fmt.Sprintf(listUnixFile, i.Size, stamp, i.Name)
	if i.Incomplete {
		// An upload cut short: resumable, not readable (as SFTP shows it).
		line = "--w-------" + line[len("-rw-r--r--"):]
	}
	return line + "\r\n"
}

// msdosLine is a "dir" line: date, time, <DIR> or size, name.
func msdosLine(i vfs.Info) string {
	stamp := i.ModTime.Format("01-02-06  03:04PM")
	if i.IsDir {
		return fmt.Sprintf(listDOSDir, stamp, i.Name) + "\r\n"
	}
	return fmt.Sprintf(listDOSFile, stamp, i.Size, i.Name) + "\r\n"
}

// --- TYPE A conversion (RFC 959 §3.1.1.1): CRLF on the wire, LF stored ---

// crlfWriter turns LF into CRLF (a CR already before the LF is kept).
type crlfWriter struct {
	w      io.Writer
	lastCR bool
}

func (c *crlfWriter) Write(p []byte) (int, error) {
	start := 0
	for i, b := range p {
		if b == '\n' && !(i == 0 && c.lastCR || i > 0 && p[i-1] == '\r') {
			if _, err := c.w.Write(p[start:i]); err != nil {
				return 0, err
			}
			if _, err := c.w.Write([]byte("\r\n")); err != nil {
				return 0, err
			}
			start = i + 1
		}
	}
	if _, err := c.w.Write(p[start:]); err != nil {
		return 0, err
	}
	if len(p) > 0 {
		c.lastCR = p[len(p)-1] == '\r'
	}
	return len(p), nil
}

// lfWriter turns CRLF into LF; a CR not followed by LF is kept.
type lfWriter struct {
	w      io.Writer
	heldCR bool
}

func (l *lfWriter) Write(p []byte) (int, error) {
	out := make([]byte, 0, len(p)+1)
	for _, b := range p {
		if l.heldCR {
			l.heldCR = false
			if b != '\n' {
				out = append(out, '\r')
			}
		}
		if b == '\r' {
			l.heldCR = true
			continue
		}
		out = append(out, b)
	}
	if _, err := l.w.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (l *lfWriter) flush() error {
	if l.heldCR {
		l.heldCR = false
		_, err := l.w.Write([]byte{'\r'})
		return err
	}
	return nil
}
