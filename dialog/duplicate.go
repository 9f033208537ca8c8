package dialog

import (
	"context"
	"fmt"
	"time"

	"github.com/cityline/cityline/cases"
)

// Duplicate reports: before a resident spends time on details, open cases
// of the same service close by are looked for; a resident who follows one
// hears about it as if they had filed it, and the crew gets one case.

// followDesk is the ability to add a follower to a case; stores that have
// it (cases.SQLStore) let residents follow instead of filing again.
type followDesk interface {
	Follow(ctx context.Context, ref string, f cases.Follower) error
}

// Defaults for what counts as the same problem.
const (
	defaultDuplicateRadius = 50.0 // metres
	defaultDuplicateAge    = 30 * 24 * time.Hour
)

// checkDuplicate looks for an open case of the draft's service near its
// place, once per report; when it finds one it asks whether to follow it
// and reports true.
func (t *turn) checkDuplicate(ctx context.Context) (bool, error) {
	d := t.s.Draft
	if d.DupChecked || d.Lat == nil || t.e.dupRadius <= 0 {
		return false, nil
	}
	d.DupChecked = true
	found, err := t.e.desk.List(ctx, cases.Filter{ServiceCodes: []string{d.Service}, Status: cases.StatusOpen,
		Near: &cases.Point{Lat: *d.Lat, Long: *d.Long}, RadiusM: t.e.dupRadius, Start: t.now.Add(-t.e.dupAge), Limit: 1})
	if err != nil {
		return false, fmt.Errorf("duplicates: %w", err)
	}
	if len(found) == 0 {
		return false, nil
	}
	c := found[0]
	d.DupRef = c.Ref
	t.s.Asked = "duplicate"
	t.add(t.say("duplicate_offer", "date", t.e.FormatDate(t.lang, c.Requested), "ref", c.Ref,
		"service", t.serviceName(c.ServiceCode)))
	t.yesNoChoices()
	t.reply.Expect = ExpectYesNo
	return true, nil
}

// follow links the resident to the case already reported instead of filing
// a new one.
func (t *turn) follow(ctx context.Context) error {
	d := t.s.Draft
	ref := d.DupRef
	f := cases.Follower{Conversation: t.s.ID, Channel: t.s.Channel, Lang: t.lang, Since: t.now}
	if isPhoneChannel(t.s.Channel) {
		f.Contact.Phone = t.s.Contact
	}
	switch {
	case d.Notify && d.Contact != "" && d.Contact != t.s.Contact:
		f.Contact.Email = d.Contact
		f.Contact.Notify = true
	case t.s.Channel == ChannelSMS || t.s.Channel == ChannelWhatsApp || t.s.Channel == ChannelWeb:
		f.Contact.Notify = true
	}
	if fd, ok := t.e.desk.(followDesk); ok {
		if err := fd.Follow(ctx, ref, f); err != nil {
			return fmt.Errorf("follow %s: %w", ref, err)
		}
	} else {
		f.Contact.Notify = false
	}
	t.s.Draft = nil
	if err := t.s.fire(ctx, EvFollowed); err != nil {
		return err
	}
	t.s.Cases = append(t.s.Cases, ref)
	if len(t.s.Cases) > 3 {
		t.s.Cases = t.s.Cases[1:]
	}
	if f.Contact.Notify {
		t.add(t.say("duplicate_followed", "ref", ref))
	} else {
		t.add(t.say("duplicate_track", "ref", ref))
	}
	t.reply.Expect = ExpectText
	return nil
}
