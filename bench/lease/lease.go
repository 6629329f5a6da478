package lease

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// DefaultTTL is how long a lease lives without renewal.
const DefaultTTL = 30 * time.Second

// Holder is what a lease file says of whoever holds it.
type Holder struct {
	Fixture string    `json:"fixture"`
	User    string    `json:"user"`
	Host    string    `json:"host"`
	PID     int       `json:"pid"`
	Start   uint64    `json:"proc_start"` // the process's start time in clock ticks since boot (/proc/PID/stat); 0 when unknown
	Purpose string    `json:"purpose"`    // "bench run", "bench console", ...
	Shared  bool      `json:"shared"`     // a person's manual session: it coexists with other shared ones
	Since   time.Time `json:"since"`
	Expires time.Time `json:"expires"`
	Token   string    `json:"token"` // tells this taker's lease from a later one
}

func (h Holder) String() string {
	return fmt.Sprintf("%s (user %s, host %s, pid %d) since %s", h.Purpose, h.User, h.Host, h.PID, h.Since.Local().Format("15:04:05"))
}

// HeldError is a refusal: the fixture is leased by someone alive.
type HeldError struct{ Holder Holder }

func (e *HeldError) Error() string {
	return fmt.Sprintf("fixture %q is in use by %s: wait for it to finish, or stop it", e.Holder.Fixture, e.Holder)
}

// ErrHeld matches every *HeldError.
var ErrHeld = errors.New("fixture in use")

func (e *HeldError) Is(target error) bool { return target == ErrHeld }

// Dir is a folder of leases: one per bench, shared by everyone who uses it.
type Dir struct {
	Path string
	TTL  time.Duration // zero: DefaultTTL
	sys  system
}

// system is what a lease needs of the machine, so tests can play another
// host or a dead process without one.
type system interface {
	host() string
	pid() int
	start(pid int) (uint64, bool) // false: no such process
	now() time.Time
	user() string
}

// Lease is a held lease. Release it when done; it is renewed until then.
type Lease struct {
	dir    *Dir
	holder Holder
	// TookOver is the stale lease this one replaced, nil if the fixture was
	// free. Its device was left by a holder that did not finish.
	TookOver *Holder
	stop     chan struct{}
	done     chan struct{}
	once     sync.Once
	mu       sync.Mutex
	lost     error
}

// Acquire takes the exclusive lease on fixture for purpose (a run: nobody
// else may touch the fixture), or returns a *HeldError naming a holder. ctx
// bounds only the wait for the folder's lock.
func (d *Dir) Acquire(ctx context.Context, fixture, purpose string) (*Lease, error) {
	return d.acquire(ctx, fixture, purpose, false)
}

// Share takes a shared lease: a person's manual session (`bench console` in
// one terminal, `bench power` in another) coexists with other shared ones,
// and keeps a run off the fixture, as a run keeps it off.
func (d *Dir) Share(ctx context.Context, fixture, purpose string) (*Lease, error) {
	return d.acquire(ctx, fixture, purpose, true)
}

func (d *Dir) acquire(ctx context.Context, fixture, purpose string, shared bool) (*Lease, error) {
	if err := os.MkdirAll(d.Path, 0o775); err != nil {
		return nil, fmt.Errorf("lease fixture %q: %w", fixture, err)
	}
	sys := d.system()
	me := Holder{Fixture: fixture, User: sys.user(), Host: sys.host(), PID: sys.pid(), Purpose: purpose, Shared: shared, Since: sys.now().UTC()}
	me.Start, _ = sys.start(me.PID)
	me.Expires = me.Since.Add(d.ttl())
	var nonce [4]byte
	rand.Read(nonce[:])
	me.Token = strconv.FormatInt(me.Since.UnixNano(), 36) + "-" + strconv.Itoa(me.PID) + "-" + hex.EncodeToString(nonce[:])
	l := &Lease{dir: d, holder: me, stop: make(chan struct{}), done: make(chan struct{})}
	err := d.locked(ctx, func() error {
		holders, err := d.holders(fixture)
		if err != nil {
			return err
		}
		for _, h := range holders {
			if d.stale(h.Holder) {
				if l.TookOver == nil {
					l.TookOver = &h.Holder
				}
				if err := os.Remove(h.path); err != nil && !errors.Is(err, os.ErrNotExist) {
					return err
				}
				continue
			}
			if !shared || !h.Shared {
				return &HeldError{Holder: h.Holder}
			}
		}
		return d.write(me)
	})
	if err != nil {
		var held *HeldError
		if errors.As(err, &held) {
			return nil, err
		}
		return nil, fmt.Errorf("lease fixture %q in %s: %w", fixture, d.Path, err)
	}
	go l.renew()
	return l, nil
}

// Holder is what this lease says of its holder.
func (l *Lease) Holder() Holder { return l.holder }

// Err is non-nil when the lease was lost while held: another taker found it
// expired (this process hung longer than the TTL) and took it over.
func (l *Lease) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lost
}

// Release gives the lease up. It removes the file only if it is still this
// lease's, so releasing a lease someone took over leaves theirs alone.
func (l *Lease) Release() error {
	var err error
	l.once.Do(func() {
		close(l.stop)
		<-l.done
		err = l.dir.locked(context.Background(), func() error {
			err := os.Remove(l.dir.file(l.holder))
			if errors.Is(err, os.ErrNotExist) {
				return nil // taken over while this process hung: not ours to remove
			}
			return err
		})
	})
	if err != nil {
		return fmt.Errorf("release lease of fixture %q: %w", l.holder.Fixture, err)
	}
	return nil
}

func (l *Lease) renew() {
	defer close(l.done)
	t := time.NewTicker(l.dir.ttl() / 3)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
		}
		err := l.dir.locked(context.Background(), func() error {
			if _, err := os.Stat(l.dir.file(l.holder)); err != nil {
				return fmt.Errorf("lease of fixture %q was taken over while this process did not renew it: %w", l.holder.Fixture, err)
			}
			l.holder.Expires = l.dir.system().now().UTC().Add(l.dir.ttl())
			return l.dir.write(l.holder)
		})
		if err != nil {
			l.mu.Lock()
			l.lost = err
			l.mu.Unlock()
			return
		}
	}
}

func (d *Dir) ttl() time.Duration {
	if d.TTL > 0 {
		return d.TTL
	}
	return DefaultTTL
}

func (d *Dir) system() system {
	if d.sys != nil {
		return d.sys
	}
	return osSystem{}
}

func (d *Dir) stale(h Holder) bool {
	sys := d.system()
	if sys.now().After(h.Expires) {
		return true
	}
	if h.Host != sys.host() {
		return false // only its expiry can tell
	}
	start, alive := sys.start(h.PID)
	return !alive || (h.Start != 0 && start != 0 && start != h.Start)
}

// file is the holder's lease file: FIXTURE~TOKEN.lease, one per holder, so
// shared holders do not overwrite each other.
func (d *Dir) file(h Holder) string { return filepath.Join(d.Path, h.Fixture+"~"+h.Token+".lease") }

type held struct {
	Holder
	path string
}

// holders reads every lease file of fixture.
func (d *Dir) holders(fixture string) ([]held, error) {
	paths, err := filepath.Glob(filepath.Join(d.Path, globEscape(fixture)+"~*.lease"))
	if err != nil {
		return nil, err
	}
	var out []held
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		var h Holder
		if err := json.Unmarshal(b, &h); err != nil {
			// A half-written file cannot exist (rename); a damaged one
			// names nobody alive, so it is stale.
			h = Holder{Fixture: fixture, Purpose: "unreadable lease file " + p}
		}
		out = append(out, held{h, p})
	}
	return out, nil
}

func globEscape(s string) string {
	r := strings.NewReplacer(`\`, `\\`, "*", `\*`, "?", `\?`, "[", `\[`)
	return r.Replace(s)
}

func (d *Dir) write(h Holder) error {
	b, err := json.MarshalIndent(h, "", "  ")
	if err != nil {
		return err
	}
	tmp := d.file(h) + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o664); err != nil {
		return err
	}
	return os.Rename(tmp, d.file(h))
}

// locked runs fn holding the folder's lock.
func (d *Dir) locked(ctx context.Context, fn func() error) error {
	f, err := os.OpenFile(filepath.Join(d.Path, ".lock"), os.O_RDWR|os.O_CREATE, 0o664)
	if err != nil {
		return err
	}
	defer f.Close()
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			return err
		}
		// Held for a file write at most: poll briefly.
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
	defer syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return fn()
}

type osSystem struct{}

func (osSystem) host() string {
	h, _ := os.Hostname()
	return h
}
func (osSystem) pid() int       { return os.Getpid() }
func (osSystem) now() time.Time { return time.Now() }
func (osSystem) user() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return strconv.Itoa(os.Getuid())
}

// start reads field 22 of /proc/PID/stat: the process's start time, which
// tells a live holder from a new process that was given its PID.
func (osSystem) start(pid int) (uint64, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		if err := syscall.Kill(pid, 0); err == nil || errors.Is(err, syscall.EPERM) {
			return 0, true // alive, no /proc to read
		}
		return 0, false
	}
	// comm (field 2) is in parentheses and may hold spaces: count after it.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, true
	}
	fields := strings.Fields(s[i+1:])
	if len(fields) < 20 {
		return 0, true
	}
	v, err := strconv.ParseUint(fields[19], 10, 64)
	if err != nil {
		return 0, true
	}
	return v, true
}
