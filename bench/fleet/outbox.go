package fleet

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// outbox is the agent's queue on disk of what must reach the broker: each
// sealed run to deliver and each event a controller must not miss (a
// refusal, an interrupted job, a job done). An entry is written and
// fsync'd before anything is published and removed only once the broker
// has acknowledged all of it, so it survives a broker outage and an agent
// restart; a controller may then see it twice and drops the second copy by
// its id (fleet.md, "Delivery").
type outbox struct {
	dir  string
	mu   sync.Mutex
	next int64
	wake chan struct{}
}

// entry is one outbox file.
type entry struct {
	Kind     string `json:"kind"` // entryMessage or entryRun
	Topic    string `json:"topic,omitempty"`
	Retained bool   `json:"retained,omitempty"`
	Payload  []byte `json:"payload,omitempty"`
	Job      string `json:"job,omitempty"`
	Run      string `json:"run,omitempty"`

	file string
}

const (
	entryMessage = "message" // publish Payload on Topic
	entryRun     = "run"     // deliver Run from the archive: its chunks, the delivery, the checkpoint
)

func openOutbox(dir string) (*outbox, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	o := &outbox{dir: dir, wake: make(chan struct{}, 1)}
	es, err := o.list()
	if err != nil {
		return nil, err
	}
	for _, e := range es {
		n, _ := strconv.ParseInt(strings.TrimSuffix(e.file, ".json"), 10, 64)
		o.next = max(o.next, n)
	}
	return o, nil
}

func (o *outbox) add(e entry) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.next++
	name := fmt.Sprintf("%016d.json", o.next)
	b, _ := json.Marshal(e)
	tmp := filepath.Join(o.dir, "."+name+".tmp")
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(o.dir, name))
	}
	if err == nil {
		err = syncDir(o.dir)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("outbox: queue %s: %w", e.Kind, err)
	}
	select {
	case o.wake <- struct{}{}:
	default:
	}
	return nil
}

// list is the entries in the order they were added.
func (o *outbox) list() ([]entry, error) {
	des, err := os.ReadDir(o.dir)
	if err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	var es []entry
	for _, de := range des {
		n := de.Name()
		if strings.HasPrefix(n, ".") || !strings.HasSuffix(n, ".json") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(o.dir, n))
		if err != nil {
			return nil, fmt.Errorf("outbox: %w", err)
		}
		var e entry
		if err := json.Unmarshal(b, &e); err != nil {
			return nil, fmt.Errorf("outbox: %s: %w (move it away to go on)", filepath.Join(o.dir, n), err)
		}
		e.file = n
		es = append(es, e)
	}
	slices.SortFunc(es, func(a, b entry) int { return strings.Compare(a.file, b.file) })
	return es, nil
}

func (o *outbox) done(e entry) error {
	err := os.Remove(filepath.Join(o.dir, e.file))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("outbox: %w", err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
