package insights

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cityline/cityline/dialog"
)

// Sink is the dialog.EventSink that keeps events in the case database.
// Record only puts the event on a bounded queue; one goroutine writes the
// queue in batches. A full queue drops the event and counts it (Dropped):
// a slow database never slows a conversation. Close writes what is queued.
type Sink struct {
	st      *Store
	queue   chan dialog.Event
	flushes chan chan struct{}
	stop    chan struct{}
	done    chan struct{}
	batch   int
	every   time.Duration
	timeout time.Duration
	onError func(error)

	closeOnce sync.Once
	closed    atomic.Bool
	dropped   atomic.Int64
	written   atomic.Int64
	failed    atomic.Int64
}

var _ dialog.EventSink = (*Sink)(nil)

// SinkConfig tunes a Sink; zero values have defaults.
type SinkConfig struct {
	// Queue is how many events may wait to be written (4,096).
	Queue int
	// Batch is how many are written in one go (200).
	Batch int
	// Every is the longest an event waits before it is written (1 second).
	Every time.Duration
	// Timeout bounds one write (10 seconds).
	Timeout time.Duration
	// OnError is told when a batch could not be written (its events are
	// lost and counted in Failed); the metrics count store errors with it.
	OnError func(error)
}

// NewSink starts a sink writing to st. Close it to write what is queued.
func (st *Store) NewSink(cfg SinkConfig) *Sink {
	s := &Sink{st: st, batch: cfg.Batch, every: cfg.Every, timeout: cfg.Timeout, onError: cfg.OnError,
		flushes: make(chan chan struct{}), stop: make(chan struct{}), done: make(chan struct{})}
	if cfg.Queue <= 0 {
		cfg.Queue = 4096
	}
	if s.batch <= 0 {
		s.batch = insertBatch
	}
	if s.every <= 0 {
		s.every = time.Second
	}
	if s.timeout <= 0 {
		s.timeout = 10 * time.Second
	}
	s.queue = make(chan dialog.Event, cfg.Queue)
	go s.run()
	return s
}

// Record implements dialog.EventSink: it never blocks.
func (s *Sink) Record(_ context.Context, ev dialog.Event) {
	if s.closed.Load() {
		s.dropped.Add(1)
		return
	}
	select {
	case s.queue <- ev:
	default:
		s.dropped.Add(1)
	}
}

// Dropped is how many events were dropped because the queue was full.
func (s *Sink) Dropped() int64 { return s.dropped.Load() }

// Failed is how many events were lost because the database refused them.
func (s *Sink) Failed() int64 { return s.failed.Load() }

// Written is how many events were written.
func (s *Sink) Written() int64 { return s.written.Load() }

// Queued is how many events wait to be written.
func (s *Sink) Queued() int { return len(s.queue) }

// Flush writes what is queued and returns when it is written (or ctx ends).
func (s *Sink) Flush(ctx context.Context) error {
	ack := make(chan struct{})
	select {
	case s.flushes <- ack:
	case <-s.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-ack:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close writes what is queued and stops the sink; later events are
// dropped. It is safe to call more than once.
func (s *Sink) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		close(s.stop)
	})
	<-s.done
	return nil
}

func (s *Sink) run() {
	defer close(s.done)
	buf := make([]dialog.Event, 0, s.batch)
	timer := time.NewTimer(s.every)
	timer.Stop()
	armed := false
	write := func() {
		if armed {
			timer.Stop()
			armed = false
		}
		if len(buf) == 0 {
			return
		}
		s.write(buf)
		buf = buf[:0]
	}
	drain := func() {
		for {
			select {
			case ev := <-s.queue:
				buf = append(buf, ev)
				if len(buf) >= s.batch {
					write()
				}
			default:
				return
			}
		}
	}
	for {
		select {
		case ev := <-s.queue:
			buf = append(buf, ev)
			if len(buf) >= s.batch {
				write()
			} else if !armed {
				timer.Reset(s.every)
				armed = true
			}
		case <-timer.C:
			armed = false
			write()
		case ack := <-s.flushes:
			drain()
			write()
			close(ack)
		case <-s.stop:
			drain()
			write()
			return
		}
	}
}

func (s *Sink) write(evs []dialog.Event) {
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	if err := s.st.Insert(ctx, evs...); err != nil {
		s.failed.Add(int64(len(evs)))
		s.st.log.Error("insights: events not written", "events", len(evs), "err", err)
		if s.onError != nil {
			s.onError(err)
		}
		return
	}
	s.written.Add(int64(len(evs)))
}

// Tee passes each event to every sink, in order; nil sinks are skipped.
func Tee(sinks ...dialog.EventSink) dialog.EventSink {
	var out tee
	for _, s := range sinks {
		if s != nil {
			out = append(out, s)
		}
	}
	return out
}

type tee []dialog.EventSink

func (t tee) Record(ctx context.Context, ev dialog.Event) {
	for _, s := range t {
		s.Record(ctx, ev)
	}
}
