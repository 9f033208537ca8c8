package dialog_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cityline/cityline/cases"
	"github.com/cityline/cityline/dialog"
)

func TestPotholeReportFromStartToReference(t *testing.T) {
	c := newConv(t, dialog.ChannelSMS)
	c.say("there's a pothole on my street")
	c.expect(dialog.StateCollecting, "Pothole", "where is it")
	if c.last.Expect != dialog.ExpectLocation {
		t.Errorf("expect = %s, want location", c.last.Expect)
	}
	c.say("12 king st w")
	c.expect(dialog.StateCollecting, "how wide")
	if len(c.last.Choices) != 3 {
		t.Fatalf("size question offers %d choices, want 3", len(c.last.Choices))
	}
	c.say("2")
	c.expect(dialog.StateCollecting, "where is it on the road")
	c.say("bike lane")
	c.expect(dialog.StateCollecting, "how deep")
	if !c.last.Optional {
		t.Error("depth is optional but the reply does not say so")
	}
	c.say("about 30")
	c.expect(dialog.StateConfirming, "12 King Street West", "Dinner plate to car tire size", "In a bike lane", "30",
		"updates: by text to this number", "shall i send it")
	if len(c.desk.All()) != 0 {
		t.Fatal("a case was filed before the resident confirmed")
	}
	c.say("yes")
	c.expect(dialog.StateIdle, "reference number is EX-004200")
	got := c.only()
	if got.ServiceCode != "RD-01" || got.Address != "12 King Street West" || got.Location == nil {
		t.Errorf("filed %s at %q", got.ServiceCode, got.Address)
	}
	want := map[string]string{"SIZE": "M", "POSITION": "BIKE", "DEPTH_CM": "30"}
	for k, v := range want {
		if vals := got.Attributes[k]; len(vals) != 1 || vals[0] != v {
			t.Errorf("attribute %s = %v, want %s", k, vals, v)
		}
	}
	if !got.Contact.Notify || got.Contact.Phone != "+15550001234" || got.Channel != "sms" {
		t.Errorf("contact %+v, channel %s", got.Contact, got.Channel)
	}
	if c.last.Case == nil || c.last.Case.Ref != got.Ref {
		t.Errorf("reply case = %+v, want %s", c.last.Case, got.Ref)
	}
}

func TestSeveralAnswersInOneMessage(t *testing.T) {
	c := newConv(t, dialog.ChannelWeb)
	c.say("pothole at 12 King St W, about 30 cm deep, in the bike lane")
	// Location, position and depth were all given: only the size is left.
	c.expect(dialog.StateCollecting, "how wide")
	c.say("larger than a car tire")
	c.expect(dialog.StateConfirming, "12 King Street West", "In a bike lane", "30", "phone number or e-mail")
	c.say("yes")
	got := c.only()
	if got.Attributes["POSITION"][0] != "BIKE" || got.Attributes["DEPTH_CM"][0] != "30" || got.Attributes["SIZE"][0] != "L" {
		t.Errorf("attributes %v", got.Attributes)
	}
	if got.Description == "" {
		t.Error("the first message should serve as the description")
	}
}

func TestConfusingAnswersAreAskedAgainThenAPersonIsOffered(t *testing.T) {
	c := newConv(t, dialog.ChannelSMS)
	c.say("pothole at 12 king st w")
	c.expect(dialog.StateCollecting, "how wide")
	c.say("purple")
	c.expect(dialog.StateCollecting, "reply with its number (1 to 3)", "how wide")
	c.say("banana")
	c.say("zzz")
	c.expect(dialog.StateCollecting, "bring in a person")
	found := false
	for _, ch := range c.last.Choices {
		found = found || strings.HasPrefix(ch.ID, "handoff")
	}
	if !found {
		t.Errorf("no person choice after three failures: %+v", c.last.Choices)
	}
	c.say("1")
	c.expect(dialog.StateCollecting, "where is it on the road")
}

func TestDatatypesAreValidated(t *testing.T) {
	c := newConv(t, dialog.ChannelSMS)
	c.say("my garbage wasn't picked up")
	c.expect(dialog.StateCollecting, "where is it")
	c.say("45 Elm St")
	c.expect(dialog.StateCollecting, "what was not picked up")
	if c.last.Expect != dialog.ExpectMulti {
		t.Errorf("expect %s, want multichoice", c.last.Expect)
	}
	c.say("garbage and recycling")
	c.expect(dialog.StateCollecting, "curb by 7")
	c.say("yes")
	c.expect(dialog.StateCollecting, "which collection day")
	c.say("sometime")
	c.expect(dialog.StateCollecting, "yesterday at 5pm")
	c.say("yesterday morning")
	c.expect(dialog.StateConfirming, "Garbage (black bin), Recycling (blue bin)")
	c.say("yes")
	got := c.only()
	if s := got.Attributes["STREAM"]; len(s) != 2 {
		t.Errorf("STREAM = %v, want two streams", s)
	}
	if d := got.Attributes["MISSED_DATE"]; len(d) != 1 || d[0] != "2026-12-02T09:00:00-05:00" {
		t.Errorf("MISSED_DATE = %v, want yesterday 09:00 Toronto time with its offset", d)
	}
}

func TestOptionalCanBeSkippedRequiredCannot(t *testing.T) {
	c := newConv(t, dialog.ChannelWeb)
	c.say("the streetlight outside 88 Oak Ave is out")
	c.expect(dialog.StateCollecting, "what is the problem with the light")
	c.say("1")
	c.expect(dialog.StateCollecting, "number on the pole", "skip")
	c.say("skip")
	c.expect(dialog.StateCollecting, "how many lights")
	c.say("skip")
	c.expect(dialog.StateConfirming, "88 Oak Ave", "phone number or e-mail")
	c.say("resident@example.org")
	c.expect(dialog.StateConfirming, "Updates: to resident@example.org")
	c.say("yes")
	got := c.only()
	if got.Contact.Email != "resident@example.org" || !got.Contact.Notify {
		t.Errorf("contact %+v", got.Contact)
	}
	if _, ok := got.Attributes["POLE_NUMBER"]; ok {
		t.Errorf("skipped attribute stored: %v", got.Attributes)
	}

	r := newConv(t, dialog.ChannelWeb)
	r.id += "-2"
	r.say("pothole at 12 king st w")
	r.say("skip")
	r.expect(dialog.StateCollecting, "we need this one", "how wide")
}

func TestCancelAbandonsTheReport(t *testing.T) {
	c := newConv(t, dialog.ChannelSMS)
	c.say("pothole at 12 king st w")
	c.say("never mind")
	c.expect(dialog.StateIdle, "cancelled", "nothing was sent")
	if n := len(c.desk.All()); n != 0 {
		t.Errorf("%d cases filed after cancel", n)
	}
}

func TestBackAndCorrections(t *testing.T) {
	c := newConv(t, dialog.ChannelWeb)
	c.say("pothole at 12 king st w")
	c.say("small")
	c.expect(dialog.StateCollecting, "where is it on the road")
	c.say("back")
	c.expect(dialog.StateCollecting, "how wide")
	c.say("large")
	c.say("travel lane")
	c.say("skip")
	c.expect(dialog.StateConfirming, "Larger than a car tire", "In a travel lane")
	c.say("change the address")
	c.expect(dialog.StateCollecting, "where is it")
	c.say("14 King St")
	// King Street has an east and a west part: the resident picks.
	c.expect(dialog.StateCollecting, "which one", "14 King Street West", "14 King Street East")
	c.say("east")
	c.expect(dialog.StateConfirming, "14 King Street East")
	c.say("no")
	c.expect(dialog.StateConfirming, "what would you like to change")
	c.pick("edit:attr:POSITION")
	c.expect(dialog.StateCollecting, "where is it on the road")
	c.say("crosswalk")
	c.expect(dialog.StateConfirming, "In a crosswalk", "14 King Street East")
	c.say("yes")
	got := c.only()
	if got.Address != "14 King Street East" || got.Attributes["POSITION"][0] != "CROSSWALK" || got.Attributes["SIZE"][0] != "L" {
		t.Errorf("filed %q %v", got.Address, got.Attributes)
	}
}

func TestDigressionIsAnsweredAndTheReportResumes(t *testing.T) {
	c := newConv(t, dialog.ChannelWeb)
	c.say("pothole at 12 king st w")
	c.say("small")
	c.expect(dialog.StateCollecting, "where is it on the road")
	c.say("when is garbage day on my street?")
	c.expect(dialog.StateCollecting, "back to your report", "where is it on the road")
	if len(c.last.Messages) == 0 || c.last.Messages[0].Article == nil {
		t.Errorf("the question was not answered from an article: %+v", c.last.Messages)
	}
	c.say("curb")
	c.say("skip")
	c.expect(dialog.StateConfirming, "12 King St", "Smaller than a dinner plate", "Along the curb")
}

func TestEmergencyOverridesAReportInProgress(t *testing.T) {
	c := newConv(t, dialog.ChannelSMS)
	c.say("pothole at 12 king st w")
	c.say("my neighbours house is on fire")
	c.expect(dialog.StateCollecting, "911")
	if !c.last.Messages[0].Emergency {
		t.Error("the emergency message is not marked as one")
	}
	if len(c.desk.All()) != 0 {
		t.Fatal("an emergency must never open a case")
	}
	c.say("2")
	c.expect(dialog.StateCollecting, "where is it on the road")
}

func TestReturningResidentIsOfferedToResume(t *testing.T) {
	c := newConv(t, dialog.ChannelSMS)
	c.say("pothole at 12 king st w")
	c.clock.Advance(15 * time.Minute)
	c.say("hello again")
	c.expect(dialog.StateCollecting, "welcome back", "Pothole", "12 King St", "continue")
	c.say("yes")
	c.expect(dialog.StateCollecting, "how wide")
}

func TestIdleConversationsExpire(t *testing.T) {
	c := newConv(t, dialog.ChannelSMS)
	c.say("pothole at 12 king st w")
	c.clock.Advance(31 * time.Minute)
	c.say("large")
	// The report is forgotten: "large" alone is not understood as anything.
	if c.last.State == dialog.StateCollecting {
		t.Errorf("an expired conversation was resumed: %q", c.last.Text())
	}
}

func TestStatusByReferenceAndByContact(t *testing.T) {
	c := newConv(t, dialog.ChannelSMS)
	c.say("pothole at 12 king st w")
	c.say("small")
	c.say("curb")
	c.say("skip")
	c.say("yes")
	ref := c.only().Ref
	c.say("status " + ref)
	c.expect(dialog.StateIdle, ref, "is open", "Dec 3, 2026")

	// Staff close it; the resident hears what happened, never "fixed".
	c.desk.All()[0].Status = cases.StatusClosed
	c.desk.All()[0].StatusNotes = "Crew patched the pothole."
	c.desk.All()[0].Updated = start.Add(48 * time.Hour)
	c.say("any update on my pothole?")
	c.expect(dialog.StateIdle, ref, "was closed on Dec 5, 2026", "Crew patched the pothole.")
	if strings.Contains(strings.ToLower(c.last.Text()), "fixed") {
		t.Errorf("status claims a fix: %q", c.last.Text())
	}
	c.say("status EX-999999")
	c.expect(dialog.StateIdle, "couldn't find", "EX-999999")
}

func TestHandoffWithoutStaffDeskTellsHowToReach311(t *testing.T) {
	c := newConv(t, dialog.ChannelSMS)
	c.say("can I talk to a real person")
	c.expect(dialog.StateIdle, "311")
	if !c.last.Transfer {
		t.Error("a voice channel would not know to transfer")
	}
	c.clock.Advance(8 * time.Hour) // 22:00: the office is closed
	c.say("agent")
	c.expect(dialog.StateIdle, "not in right now", "Mon, Tue, Wed, Thu, Fri 07:00-20:00")
}

func TestSmallTalkAndFallback(t *testing.T) {
	c := newConv(t, dialog.ChannelWeb)
	c.say("hi")
	c.expect(dialog.StateIdle, "Example City 311")
	if len(c.last.Choices) == 0 {
		t.Error("a greeting should offer the popular topics")
	}
	c.say("thanks!")
	c.expect(dialog.StateIdle, "welcome")
	c.say("who won the hockey game last night")
	c.expect(dialog.StateIdle, "not something i can help with")
	c.say("can you book me a flight to paris")
	// A second fallback brings a person.
	c.expect(dialog.StateIdle, "couldn't help", "311")
}

func TestARetriedMessageIsAnsweredTheSameAndFiledOnce(t *testing.T) {
	c := newConv(t, dialog.ChannelSMS)
	for _, s := range []string{"pothole at 12 king st w", "small", "curb", "skip"} {
		c.say(s)
	}
	in := dialog.Inbound{Channel: c.channel, ConversationID: c.id, Contact: c.contact, Text: "yes", MessageID: "SM123"}
	first, err := c.eng.Handle(t.Context(), in)
	if err != nil {
		t.Fatal(err)
	}
	again, err := c.eng.Handle(t.Context(), in)
	if err != nil {
		t.Fatal(err)
	}
	if first.Text() != again.Text() || again.Case == nil || again.Case.Ref != first.Case.Ref {
		t.Errorf("retry answered %q, first %q", again.Text(), first.Text())
	}
	c.only()
}

func TestAFailedSubmissionLosesNothing(t *testing.T) {
	c := newConv(t, dialog.ChannelSMS)
	for _, s := range []string{"pothole at 12 king st w", "small", "curb", "skip"} {
		c.say(s)
	}
	c.desk.Err = errDown
	r, err := c.eng.Handle(t.Context(), dialog.Inbound{Channel: c.channel, ConversationID: c.id, Contact: c.contact, Text: "yes"})
	if err == nil {
		t.Fatal("want the store error back for the channel to log")
	}
	if strings.Contains(r.Text(), "database") || !strings.Contains(r.Text(), "311") {
		t.Errorf("resident saw %q", r.Text())
	}
	if r.Case != nil {
		t.Error("a reference was given for a case that was not stored")
	}
	c.desk.Err = nil
	c.say("yes")
	c.expect(dialog.StateIdle, "reference number")
	c.only()
}

func TestSwitchingToAnotherReport(t *testing.T) {
	c := newConv(t, dialog.ChannelWeb)
	c.say("pothole at 12 king st w")
	c.say("theres also a dead raccoon lying in the middle of the road")
	c.expect(dialog.StateCollecting, "drop it", "Dead animal")
	c.say("yes")
	c.expect(dialog.StateCollecting)
	if !strings.Contains(c.last.Text(), "Dead animal") {
		t.Errorf("did not switch: %q", c.last.Text())
	}
}

func TestNoUpdatesOnRequest(t *testing.T) {
	c := newConv(t, dialog.ChannelSMS)
	for _, s := range []string{"pothole at 12 king st w", "small", "curb", "skip"} {
		c.say(s)
	}
	c.expect(dialog.StateConfirming, "updates: by text to this number")
	c.say("no updates please")
	c.expect(dialog.StateConfirming, "shall i send it")
	if strings.Contains(c.last.Text(), "updates: by text to this number") {
		t.Errorf("still promises texts: %q", c.last.Text())
	}
	c.say("yes")
	got := c.only()
	if got.Contact.Notify || got.Contact.Phone != "+15550001234" {
		t.Errorf("contact %+v: the number is kept for staff, without updates", got.Contact)
	}
}

func TestWebAnswersAskWhetherTheyHelped(t *testing.T) {
	c := newConv(t, dialog.ChannelWeb)
	c.say("when is garbage day?")
	var yes string
	for _, ch := range c.last.Choices {
		if strings.HasPrefix(ch.ID, "feedback:yes:") {
			yes = ch.ID
		}
	}
	if yes == "" {
		t.Fatalf("no feedback buttons: %+v", c.last.Choices)
	}
	c.pick(yes)
	c.expect(dialog.StateIdle, "thanks for telling us")
	// SMS answers stay short: no feedback question.
	s := newConv(t, dialog.ChannelSMS)
	s.say("when is garbage day?")
	for _, ch := range s.last.Choices {
		if strings.HasPrefix(ch.ID, "feedback:") {
			t.Errorf("SMS answer offers %q", ch.Label)
		}
	}
}

// A list answered in the resident's own words, which share none with the
// city's names for the choices: the lexicon says what they point to, as
// it does for routing. Each part of the answer counts once it clearly
// points to one choice.
func TestListAnsweredInOwnWords(t *testing.T) {
	for _, tc := range []struct {
		answer string
		want   []string
	}{
		{"my compost and the trash", []string{"ORGANICS", "GARBAGE"}},
		{"the bottles and cans", []string{"RECYCLING"}},
		{"the food scraps", []string{"ORGANICS"}},
	} {
		t.Run(tc.answer, func(t *testing.T) {
			c := newConv(t, dialog.ChannelWeb)
			c.say("my pickup was missed today at 12 King St W")
			c.expect(dialog.StateCollecting, "What was not picked up")
			c.say(tc.answer)
			c.expect(dialog.StateCollecting, "curb by 7")
			c.say("yes")
			c.say("today")
			c.expect(dialog.StateConfirming)
			c.say("yes")
			got := c.only().Attributes["STREAM"]
			slices.Sort(got)
			want := slices.Sorted(slices.Values(tc.want))
			if !slices.Equal(got, want) {
				t.Errorf("STREAM = %v, want %v", got, want)
			}
		})
	}
}

// At the confirmation, "no, it's in the travel lane actually" is not a
// bare no: it corrects an answer taken from the first message, and the
// summary comes back with it. A bare no still asks what to change.
func TestConfirmationTakesACorrectedAnswer(t *testing.T) {
	c := newConv(t, dialog.ChannelWeb)
	c.say("pothole at 12 King St W, about 30 cm deep, in the bike lane")
	c.say("larger than a car tire")
	c.expect(dialog.StateConfirming, "In a bike lane")
	c.say("no, it's in the travel lane actually")
	c.expect(dialog.StateConfirming, "In a travel lane")
	c.say("no")
	c.expect(dialog.StateConfirming, "change")
	if n := len(c.desk.All()); n != 0 {
		t.Fatalf("%d cases filed before a yes", n)
	}
}
