package dialog

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/cityline/cityline/cases"
)

// status tells a resident where a request stands: by the reference they
// gave, else the cases of this conversation or of their phone number.
func (t *turn) status(ctx context.Context, ref string) error {
	if t.s.State == StateClarifying {
		t.s.State = StateIdle
	}
	if ref != "" {
		c, err := t.e.desk.Get(ctx, cases.NormalizeRef(ref))
		switch {
		case errors.Is(err, cases.ErrNotFound):
			t.add(t.say("status_not_found", "ref", cases.NormalizeRef(ref)))
			t.s.Asked = "status_ref"
			t.reply.Expect = ExpectText
			return nil
		case err != nil:
			return fmt.Errorf("status: %w", err)
		}
		t.describe(c)
		return nil
	}
	found, err := t.myCases(ctx)
	if err != nil {
		return err
	}
	switch len(found) {
	case 0:
		t.add(t.say("status_ask_ref", "prefix", t.e.pack.City.ReferencePrefix))
		t.s.Asked = "status_ref"
		t.reply.Expect = ExpectText
	case 1:
		t.describe(found[0])
	default:
		t.add(t.say("status_several"))
		t.reply.Choices = nil
		for _, c := range found {
			t.reply.Choices = append(t.reply.Choices, Choice{ID: "status:" + c.Ref,
				Label: c.Ref + " " + t.serviceName(c.ServiceCode)})
		}
		t.s.Offered = choiceIDs(t.reply.Choices)
		t.reply.Expect = ExpectChoice
	}
	return nil
}

// myCases are the resident's recent cases: those filed in this
// conversation, and on phone channels those filed from the same number.
func (t *turn) myCases(ctx context.Context) ([]*cases.Case, error) {
	var out []*cases.Case
	seen := map[string]bool{}
	for i := len(t.s.Cases) - 1; i >= 0; i-- {
		c, err := t.e.desk.Get(ctx, t.s.Cases[i])
		if err == nil && !seen[c.Ref] {
			out = append(out, c)
			seen[c.Ref] = true
		}
	}
	if isPhoneChannel(t.s.Channel) && t.s.Contact != "" {
		list, err := t.e.desk.List(ctx, cases.Filter{Phone: t.s.Contact, Limit: 3,
			Start: t.now.AddDate(0, 0, -90)})
		if err != nil {
			return nil, fmt.Errorf("my cases: %w", err)
		}
		for _, c := range list {
			if !seen[c.Ref] {
				out = append(out, c)
				seen[c.Ref] = true
			}
		}
	}
	if len(out) > 3 {
		out = out[:3]
	}
	return out, nil
}

// describe says in plain words what stage a case is at. It says what the
// status and the staff notes say, and never more: "closed" is not "fixed".
func (t *turn) describe(c *cases.Case) {
	name := (t.serviceName(c.ServiceCode))
	where := ""
	if c.Address != "" {
		where = t.say("at_place", "place", c.Address)
	}
	received := t.e.FormatDate(t.lang, c.Requested)
	var b strings.Builder
	if c.Status == cases.StatusClosed {
		b.WriteString(t.say("status_closed", "ref", c.Ref, "service", name, "where", where,
			"received", received, "closed", t.e.FormatDate(t.lang, c.Updated)))
	} else {
		b.WriteString(t.say("status_open", "ref", c.Ref, "service", name, "where", where, "received", received))
		if !c.Updated.IsZero() && c.Updated.Sub(c.Requested) > time.Minute {
			b.WriteString(" " + t.say("status_updated", "updated", t.e.FormatDate(t.lang, c.Updated)))
		}
		if !c.Expected.IsZero() {
			b.WriteString(" " + t.say("status_expected", "expected", t.e.FormatDate(t.lang, c.Expected)))
		}
	}
	if c.StatusNotes != "" {
		b.WriteString("\n" + t.say("status_notes", "notes", c.StatusNotes))
	} else if c.Status == cases.StatusClosed {
		b.WriteString("\n" + t.say("status_closed_no_notes"))
	}
	t.add(b.String())
	t.reply.Case = caseInfo(c)
	t.reply.Expect = ExpectText
}

// DescribeCase is the plain-language status of a case, for notifications.
func (e *Engine) DescribeCase(lang string, c *cases.Case) string {
	t := &turn{e: e, s: &Session{}, lang: lang, l: e.cat.Lang(lang), now: e.now()}
	t.describe(c)
	return t.reply.Text()
}

// FormatDate writes a date the way residents read it, in the city's zone.
func (e *Engine) FormatDate(lang string, ts time.Time) string {
	if ts.IsZero() {
		return ""
	}
	ts = ts.In(e.pack.City.Location())
	month := e.cat.T(lang, "month_"+strings.ToLower(ts.Month().String()[:3]))
	return e.cat.T(lang, "date_format", "month", month, "day", fmt.Sprint(ts.Day()), "year", fmt.Sprint(ts.Year()))
}

// FormatTime writes a stored ISO 8601 datetime for a resident.
func (e *Engine) FormatTime(lang, iso string) string {
	ts, err := time.Parse(time.RFC3339, iso)
	if err != nil {
		return iso
	}
	ts = ts.In(e.pack.City.Location())
	return e.FormatDate(lang, ts) + " " + ts.Format("15:04")
}

var (
	emailRE     = regexp.MustCompile(`[\w.+-]+@[\w-]+(\.[\w-]+)+`)
	phoneScrub  = regexp.MustCompile(`\+?\d[\d\s().-]{6,}\d`)
	houseNumRE  = regexp.MustCompile(`\b\d{1,6}[a-zA-Z]?\b`)
	whitespaces = regexp.MustCompile(`\s+`)
)

// Scrub removes what could identify a resident from a message kept for
// insights: e-mail addresses, phone numbers, house numbers.
func Scrub(text string) string {
	text = emailRE.ReplaceAllString(text, "[email]")
	text = phoneScrub.ReplaceAllString(text, "[phone]")
	text = houseNumRE.ReplaceAllString(text, "#")
	return strings.TrimSpace(whitespaces.ReplaceAllString(text, " "))
}
