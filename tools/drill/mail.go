package drill

import (
	"context"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ticketvelo/ticketvelo/internal/loop"
)

// mailWatch watches the notifiers' mail directories (their .eml files, one
// per Message-ID) and counts each order's deliveries. A file written again
// is replaced by a rename and gets a new inode; a mail sent by both
// notifiers lands in both directories: either is a mail sent twice.
type mailWatch struct {
	dirs []string
	mu   sync.Mutex
	// byOrder: order id -> what was seen of its confirmation mail.
	byOrder map[string]*delivery
	// versions: directory + file name -> the version last seen there.
	versions map[string]version
}

// delivery is what the watch saw of one order's confirmation mail.
type delivery struct {
	first  time.Time // the first version's modification time
	copies int       // versions seen, across directories: 1 is exactly once
}

// version tells one write of a file from the next: the rename gives it a
// new inode (the temporary file is made while the old one still exists),
// and a new modification time.
type version struct {
	ino   uint64
	mtime time.Time
}

func newMailWatch(dirs []string) *mailWatch {
	return &mailWatch{dirs: dirs, byOrder: map[string]*delivery{}, versions: map[string]version{}}
}

// run scans the directories every 100 ms until ctx ends.
func (w *mailWatch) run(ctx context.Context) {
	for {
		w.scan()
		if !loop.Sleep(ctx, 100*time.Millisecond) {
			return
		}
	}
}

func (w *mailWatch) scan() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, dir := range w.dirs {
		entries, err := os.ReadDir(dir)
		if err != nil {
			continue // not made yet: the notifier makes it on start
		}
		for _, e := range entries {
			order, ok := confirmedOrder(e.Name())
			if !ok {
				continue
			}
			info, err := e.Info()
			if err != nil {
				continue
			}
			st, ok := info.Sys().(*syscall.Stat_t)
			if !ok {
				continue
			}
			key, v := dir+"/"+e.Name(), version{ino: st.Ino, mtime: info.ModTime()}
			if w.versions[key] == v {
				continue
			}
			w.versions[key] = v
			d := w.byOrder[order]
			if d == nil {
				d = &delivery{first: info.ModTime()}
				w.byOrder[order] = d
			}
			d.copies++
		}
	}
}

// confirmedOrder is the order of a confirmation mail's file name,
// confirmed.<order id>@<domain>.eml.
func confirmedOrder(name string) (string, bool) {
	rest, ok := strings.CutPrefix(name, "confirmed.")
	if !ok || !strings.HasSuffix(name, ".eml") {
		return "", false
	}
	order, _, ok := strings.Cut(rest, "@")
	return order, ok
}

// of is what was seen of an order's mail.
func (w *mailWatch) of(order string) (delivery, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	d, ok := w.byOrder[order]
	if !ok {
		return delivery{}, false
	}
	return *d, true
}
