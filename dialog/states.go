package dialog

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/looplab/fsm"
)

// Conversation states.
const (
	StateIdle       = "idle"       // nothing in progress
	StateClarifying = "clarifying" // choices offered for an unclear message
	StateCollecting = "collecting" // gathering a report's details
	StateConfirming = "confirming" // summary shown, waiting for yes
	StateHandoff    = "handoff"    // staff own the conversation
)

// Events, named after what the resident (or staff) did.
const (
	EvAsked      = "asked_question"    // a question was answered
	EvReported   = "reported_problem"  // a report started
	EvUnclear    = "was_unclear"       // choices offered
	EvAnswered   = "answered_detail"   // a detail was given
	EvCompleted  = "gave_all_details"  // ready to confirm
	EvConfirmed  = "confirmed"         // said yes: the case is filed
	EvCorrected  = "corrected"         // changed a detail
	EvCancelled  = "cancelled"         // gave up the report
	EvWantPerson = "asked_for_person"  // handoff
	EvStaffDone  = "staff_closed"      // staff gave the conversation back
	EvDigressed  = "digressed"         // asked something else mid-report
	EvResumed    = "resumed"           // came back to a report
	EvFollowed   = "followed_existing" // followed a case already reported
)

var all = []string{StateIdle, StateClarifying, StateCollecting, StateConfirming, StateHandoff}

// transitions is the conversation's state machine; a turn that tries any
// other move is a bug, and the engine reports it.
var transitions = fsm.Events{
	{Name: EvAsked, Src: []string{StateIdle, StateClarifying}, Dst: StateIdle},
	{Name: EvReported, Src: []string{StateIdle, StateClarifying, StateCollecting, StateConfirming}, Dst: StateCollecting},
	{Name: EvUnclear, Src: []string{StateIdle, StateClarifying}, Dst: StateClarifying},
	{Name: EvAnswered, Src: []string{StateCollecting}, Dst: StateCollecting},
	{Name: EvCompleted, Src: []string{StateCollecting, StateConfirming}, Dst: StateConfirming},
	{Name: EvConfirmed, Src: []string{StateConfirming}, Dst: StateIdle},
	{Name: EvCorrected, Src: []string{StateConfirming, StateCollecting}, Dst: StateCollecting},
	{Name: EvCancelled, Src: []string{StateCollecting, StateConfirming, StateClarifying, StateIdle}, Dst: StateIdle},
	{Name: EvWantPerson, Src: all, Dst: StateHandoff},
	{Name: EvStaffDone, Src: []string{StateHandoff}, Dst: StateIdle},
	{Name: EvResumed, Src: []string{StateIdle, StateCollecting, StateConfirming}, Dst: StateCollecting},
	{Name: EvFollowed, Src: []string{StateCollecting, StateConfirming}, Dst: StateIdle},
}

// fire moves the session's state machine by event. A digression is not a
// transition: the conversation stays where it was, which is the point.
func (s *Session) fire(ctx context.Context, event string) error {
	if event == EvDigressed {
		if s.State != StateCollecting && s.State != StateConfirming {
			return fmt.Errorf("event %s in state %s: %w", event, s.State, errBadTransition)
		}
		return nil
	}
	m := machines.Get().(*fsm.FSM)
	defer machines.Put(m)
	m.SetState(s.State)
	err := m.Event(ctx, event)
	var same fsm.NoTransitionError
	if err != nil && !errors.As(err, &same) {
		return fmt.Errorf("event %s in state %s: %w: %v", event, s.State, errBadTransition, err)
	}
	s.State = m.Current()
	return nil
}

// machines are state machines of the transitions, reused: building one
// is most of what a transition costs. Each is set to the session's state
// before use.
var machines = sync.Pool{New: func() any { return fsm.NewFSM(StateIdle, transitions, nil) }}

var errBadTransition = errors.New("bad transition")
