package dialog

import (
	"context"
	"time"
)

// Event is something worth counting: what residents asked, what the
// assistant decided, what went unanswered. Events never carry contact
// details; Text is scrubbed of phone numbers, e-mails and house numbers.
type Event struct {
	Time         time.Time
	Type         string // started, decision, clarify, fallback, case_opened, handoff, feedback
	Conversation string // the conversation id, hashed by the sink if it stores it
	Channel      string
	Lang         string
	Kind         Kind
	Target       string // article id or service code
	Confidence   float64
	Text         string
	Ref          string
	Elapsed      time.Duration // case_opened: time since the first message
	Helpful      *bool         // feedback
}

// Event types.
const (
	EventStarted  = "started"
	EventDecision = "decision"
	EventClarify  = "clarify"
	EventFallback = "fallback"
	EventCase     = "case_opened"
	EventHandoff  = "handoff"
	EventFeedback = "feedback"
)

// EventSink receives events. Record must not block a turn for long: an
// implementation that writes to a database queues.
type EventSink interface {
	Record(ctx context.Context, ev Event)
}

// NopEvents discards events.
type NopEvents struct{}

// Record implements EventSink.
func (NopEvents) Record(context.Context, Event) {}
