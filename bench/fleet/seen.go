package fleet

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"time"
)

// seen is the job ids a bench has taken, on disk (one JSON line each,
// fsync'd before the job runs), kept until the job expires: after that a
// copy is refused as expired anyway.
type seen struct {
	path string
	mu   sync.Mutex
	ids  map[string]time.Time
}

type seenLine struct {
	ID      string    `json:"id"`
	Expires time.Time `json:"expires"`
}

func openSeen(path string) (*seen, error) {
	s := &seen{path: path, ids: map[string]time.Time{}}
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("job ids taken: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	now := time.Now()
	for sc.Scan() {
		var l seenLine
		if json.Unmarshal(sc.Bytes(), &l) != nil {
			continue // a line cut off by a crash: its job never ran
		}
		if l.Expires.After(now) {
			s.ids[l.ID] = l.Expires
		}
	}
	f.Close()
	return s, s.rewrite()
}

// take records id; false if it was taken before.
func (s *seen) take(id string, expires, now time.Time) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.ids[id]; ok {
		return false, nil
	}
	f, err := os.OpenFile(s.path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return false, fmt.Errorf("record job id: %w", err)
	}
	defer f.Close()
	b, _ := json.Marshal(seenLine{ID: id, Expires: expires})
	if _, err := f.Write(append(b, '\n')); err != nil {
		return false, fmt.Errorf("record job id: %w", err)
	}
	if err := f.Sync(); err != nil {
		return false, fmt.Errorf("record job id: %w", err)
	}
	s.ids[id] = expires
	return true, nil
}

// rewrite keeps only the ids not expired.
func (s *seen) rewrite() error {
	tmp := s.path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("job ids taken: %w", err)
	}
	for id, exp := range s.ids {
		b, _ := json.Marshal(seenLine{ID: id, Expires: exp})
		f.Write(append(b, '\n'))
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	f.Close()
	return os.Rename(tmp, s.path)
}
