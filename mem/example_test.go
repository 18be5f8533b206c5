package mem_test

import (
	"fmt"
	"log"
	"os"

	"github.com/sluice/sluice/mem"
)

// Example stages an upload, publishes it, and streams it out as the commit
// path does.
func Example() {
	store, err := mem.New(mem.Config{MaxBytes: 1 << 20, ChunkSize: 4096})
	if err != nil {
		log.Fatal(err)
	}

	w, err := store.Create("boot.bin", mem.Owner{User: "admin", Session: "42"})
	if err != nil {
		log.Fatal(err)
	}
	defer w.Abort() // frees the buffer if anything below fails; no-op after Close

	// SFTP clients may send blocks out of order.
	if _, err := w.WriteAt([]byte("world\n"), 6); err != nil {
		log.Fatal(err)
	}
	if _, err := w.WriteAt([]byte("hello "), 0); err != nil {
		log.Fatal(err)
	}
	if err := w.Close(); err != nil {
		log.Fatal(err)
	}

	f, err := store.Open("boot.bin")
	if err != nil {
		log.Fatal(err)
	}
	if _, err := f.WriteTo(os.Stdout); err != nil {
		log.Fatal(err)
	}
	st := store.Stats()
	fmt.Printf("max=%d req=%d busy=%d\n", st.Max, st.Req, st.Busy)

	// Removing the name while a reader holds the snapshot keeps the memory
	// charged until the reader closes it.
	if err := store.Remove("boot.bin"); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("after remove: req=%d\n", store.Stats().Req)
	if err := f.Close(); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("after close: req=%d\n", store.Stats().Req)
	// Output:
	// hello world
	// max=1048576 req=4096 busy=12
	// after remove: req=4096
	// after close: req=0
}
