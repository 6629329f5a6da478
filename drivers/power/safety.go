package power

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"sync"
)

// Safety knows every switch and button of a bench and drives them all to
// their safe state on demand. The zero value is ready to use and it is safe
// for concurrent use.
//
// The bench command uses it three ways, so that an error, a panic and a
// signal all end with every line safe:
//
//	func run(ctx context.Context) (err error) {
//		var safety power.Safety
//		ctx, stop := safety.NotifyContext(ctx) // SIGINT, SIGTERM, SIGHUP, ...
//		defer func() { err = errors.Join(err, stop()) }()
//		defer safety.SafeAllInto(&err) // on return and on panic
//		relay, err := power.NewRelay(...)
//		...
//		safety.Register(`fixture "cam-1" power`, relay)
//		...
//	}
//
// A panic unwinds only its own goroutine's deferred calls before it ends
// the process, so a goroutine that switches power defers SafeAllInto too.
type Safety struct {
	mu    sync.Mutex
	items []registered
}

type registered struct {
	name string
	s    Safer
}

// Register adds s under name (e.g. `fixture "cam-1" power`), which SafeAll's
// errors carry.
func (s *Safety) Register(name string, sf Safer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.items = append(s.items, registered{name, sf})
}

// SafeAll drives every registered switch and button to its safe state, all
// at once, so that a slow one (a PDU command waiting for its timeout) does
// not keep a relay on meanwhile. A switch that fails or panics does not stop
// the others; the errors are joined in registration order, each naming its
// switch.
func (s *Safety) SafeAll() error {
	s.mu.Lock()
	items := append([]registered(nil), s.items...)
	s.mu.Unlock()
	errs := make([]error, len(items))
	var wg sync.WaitGroup
	for i, it := range items {
		wg.Go(func() {
			if err := safeOne(it.s); err != nil {
				errs[i] = fmt.Errorf("safe state of %s: %w", it.name, err)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

func safeOne(sf Safer) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("panic: %v", v)
		}
	}()
	return sf.SafeState()
}

// SafeAllInto calls SafeAll and joins its error into *errp. Deferred, it
// runs whether the function returns or panics (the panic goes on):
//
//	func run() (err error) { defer safety.SafeAllInto(&err); ... }
func (s *Safety) SafeAllInto(errp *error) {
	if err := s.SafeAll(); err != nil {
		*errp = errors.Join(*errp, err)
	}
}

// SignalError is the cause (context.Cause) of a context that NotifyContext
// cancelled.
type SignalError struct{ Signal os.Signal }

func (e *SignalError) Error() string { return "interrupted by signal " + e.Signal.String() }

// Is makes a SignalError match context.Canceled, so callers that treat
// cancellation as "stopped, not failed" need no special case.
func (e *SignalError) Is(target error) bool { return target == context.Canceled }

// NotifyContext returns a copy of parent that is cancelled when one of sigs
// arrives (Signals if none are given), with a *SignalError as its cause;
// right after cancelling, it drives everything registered to its safe
// state. Cancelling first means that no operation of the returned context
// can switch a line back afterwards. After the first signal the default
// handling of SIGINT, SIGTERM and SIGQUIT is restored, so a second Ctrl-C
// ends the process at once (a relay is already safe by then; a PDU command
// may still be switching); the other signals stay caught and are dropped,
// so a closed terminal (SIGHUP) or output pipe (SIGPIPE) does not end the
// process while it goes safe.
//
// stop undoes the signal handling and, if a signal came, waits for its
// SafeAll to finish and returns its error. Call it before exiting.
func (s *Safety) NotifyContext(parent context.Context, sigs ...os.Signal) (ctx context.Context, stop func() error) {
	if len(sigs) == 0 {
		sigs = Signals
	}
	ctx, cancel := context.WithCancelCause(parent)
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, sigs...)
	// drain catches, and drops, the signals other than a person's after
	// the first.
	var rest []os.Signal
	for _, sig := range sigs {
		if !slices.Contains(personSignals, sig) {
			rest = append(rest, sig)
		}
	}
	drain := make(chan os.Signal, 1)
	done := make(chan struct{})
	var safeErr error
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		select {
		case sig := <-ch:
			if len(rest) > 0 {
				signal.Notify(drain, rest...) // before Stop: no gap
			}
			signal.Stop(ch)
			cancel(&SignalError{Signal: sig})
			safeErr = s.SafeAll()
		case <-done:
		}
	}()
	var once sync.Once
	return ctx, func() error {
		once.Do(func() {
			close(done)
			<-finished
			signal.Stop(ch)
			signal.Stop(drain)
			cancel(context.Canceled)
		})
		return safeErr
	}
}
