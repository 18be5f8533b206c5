package image

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

func TestCopy(t *testing.T) {
	data := mustBuild(t, appOpts(), testPayload(5<<20+123))
	im, err := parseBytes(data)
	if err != nil {
		t.Fatal(err)
	}
	readers := map[string]func() io.Reader{
		"bytes":    func() io.Reader { return bytes.NewReader(data) },
		"one byte": func() io.Reader { return iotest.HalfReader(iotest.OneByteReader(bytes.NewReader(data[:3000]))) },
		"half":     func() io.Reader { return iotest.HalfReader(bytes.NewReader(data)) },
		"data+eof": func() io.Reader { return iotest.DataErrReader(bytes.NewReader(data)) },
	}
	for name, r := range readers {
		var out bytes.Buffer
		d := im.NewDigest()
		n, err := Copy(&out, r(), d)
		if err != nil {
			t.Fatalf("%s: Copy: %v", name, err)
		}
		want := data
		if name == "one byte" {
			want = data[:3000]
		}
		if n != int64(len(want)) || !bytes.Equal(out.Bytes(), want) || d.Len() != n {
			t.Fatalf("%s: copied %d bytes, digest saw %d, want %d", name, n, d.Len(), len(want))
		}
		if d.FileSHA256() != sha256.Sum256(want) {
			t.Errorf("%s: file SHA-256 differs", name)
		}
		if name != "one byte" {
			if err := Postcheck(im, d, testDevice(), CheckAll); err != nil {
				t.Errorf("%s: Postcheck: %v", name, err)
			}
		}
	}

	errRead := errors.New("read failed")
	if _, err := Copy(io.Discard, iotest.TimeoutReader(bytes.NewReader(data)), im.NewDigest()); err == nil {
		t.Error("Copy from a failing reader: got nil")
	}
	if _, err := Copy(io.Discard, io.MultiReader(bytes.NewReader(data[:10]), iotest.ErrReader(errRead)), im.NewDigest()); !errors.Is(err, errRead) {
		t.Errorf("Copy = %v, want %v", err, errRead)
	}
	d := im.NewDigest()
	n, err := Copy(&limitWriter{left: 2 << 20}, bytes.NewReader(data), d)
	if err == nil || n != 2<<20 {
		t.Errorf("Copy to a full disk = %d, %v", n, err)
	}
}

// limitWriter fails once left bytes are written, like a full disk.
type limitWriter struct{ left int }

func (w *limitWriter) Write(p []byte) (int, error) {
	if len(p) > w.left {
		n := w.left
		w.left = 0
		return n, errors.New("no space left on device")
	}
	w.left -= len(p)
	return len(p), nil
}
