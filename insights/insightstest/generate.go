// Package insightstest makes a city's day of conversations for the tests
// of the insights: Day writes the scripts (a realistic mix of channels,
// languages, questions, reports, status checks, unanswered questions,
// requests for a person...), Play runs them through a real dialog engine,
// turn by turn, on a clock it moves, and New builds that engine over the
// Example City pack and a SQLite case store with the events sink. It is
// imported only by tests.
package insightstest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/cityline/cityline/dialog"
)

// Conversation is one scripted conversation.
type Conversation struct {
	ID      string // the engine's conversation id
	Channel string
	Contact string // the phone number, on phone channels (private)
	Email   string // an e-mail address a web resident gives (private)
	Start   time.Time
	// Plan is what the resident came for: question, report, status,
	// gap, clarify, handoff, greeting, emergency, thanks.
	Plan string
	// Theme is the gap theme, for Plan gap.
	Theme string
	// Says is what the resident writes, in order. A report goes on
	// answering the engine's questions after them (Answers).
	Says []string
}

// Themes are the unanswered questions the generator asks, with their
// phrasings; weights say how often, the first theme the most by far.
var Themes = []struct {
	Name      string
	Weight    int
	Phrasings []string
}{
	{"weather", 34, []string{"whats the weather tomorrow", "weather forecast for the weekend", "what is the weather today",
		"weather this week", "weather forecast tomorrow", "What's the weather like this weekend?"}},
	{"lottery", 14, []string{"where can I buy a lottery ticket", "lottery results", "Lottery results?"}},
	{"hockey", 10, []string{"who won the hockey game last night", "hockey game score", "who won the hockey game"}},
	{"pizza", 8, []string{"best pizza near me", "best pizza downtown", "Best pizza near me?"}},
	{"market", 6, []string{"is the farmers market open on saturday", "Is the farmers market open on Saturday?"}},
	{"life", 2, []string{"what is the meaning of life", "what's the meaning of life"}},
}

var questions = []string{
	"When is garbage day?", "when is my garbage collected", "What goes in the green bin?",
	"How do I pay a parking ticket?", "when are property taxes due", "How do I get a dog licence?",
	"where is the nearest library", "what can I put in recycling", "how do I dispute a parking ticket",
	"Is there a winter parking ban?", "how do I get a building permit", "What are the pool hours?",
	"where is the hazardous waste depot", "how do I pay my water bill", "When is yard waste collected?",
	"what are the rules for fireworks", "how do I register for swimming lessons", "Can I burn leaves in my yard?",
	"How do I get rid of an old couch?", "who is my councillor",
}

var questionsFR = []string{
	"Bonjour, quand est la collecte des ordures?", "Comment payer une contravention de stationnement?",
	"Quand les taxes foncières sont-elles dues?", "Où est la bibliothèque la plus proche?",
}

var reports = []string{
	"There's a big pothole on my street", "pothole on Main St", "My garbage wasn't picked up today",
	"missed recycling pickup", "graffiti on the wall of the community centre", "streetlight out on my street",
	"There's a dead raccoon on the road", "my green bin is broken", "a tree branch fell on the sidewalk",
	"the traffic light at Main and 2nd is not working", "someone dumped a mattress in the lane",
	"water is leaking from a hydrant",
}

var streets = []string{"King St W", "Main St", "Queen St E", "Elm Ave", "Lakeshore Rd", "Maple Dr", "2nd Ave"}

// Channels and their share of a day.
var channelMix = []struct {
	name   string
	weight int
}{{dialog.ChannelWeb, 45}, {dialog.ChannelSMS, 30}, {dialog.ChannelVoice, 18}, {dialog.ChannelWhatsApp, 7}}

// Plans and their share of a day.
var planMix = []struct {
	name   string
	weight int
}{
	{"question", 36}, {"report", 22}, {"gap", 15}, {"status", 5}, {"clarify", 4}, {"handoff", 6},
	{"greeting", 5}, {"thanks", 3}, {"french", 3}, {"emergency", 1},
}

// hourWeights is how a 311 line's day goes: quiet at night, busy in the
// morning and after lunch.
var hourWeights = [24]int{1, 1, 1, 1, 1, 2, 4, 8, 12, 14, 14, 12, 10, 12, 13, 12, 11, 9, 8, 8, 6, 4, 3, 2}

func pick[T any](r *rand.Rand, list []T) T { return list[r.IntN(len(list))] }

func weighted(r *rand.Rand, weights []int) int {
	total := 0
	for _, w := range weights {
		total += w
	}
	n := r.IntN(total)
	for i, w := range weights {
		if n < w {
			return i
		}
		n -= w
	}
	return len(weights) - 1
}

// Day makes n conversations of the local day that starts at midnight
// (its time zone is the city's), the same ones for the same seed.
func Day(midnight time.Time, n int, seed uint64) []Conversation {
	r := rand.New(rand.NewPCG(seed, seed^0x311))
	var chW, planW, themeW []int
	for _, c := range channelMix {
		chW = append(chW, c.weight)
	}
	for _, p := range planMix {
		planW = append(planW, p.weight)
	}
	for _, t := range Themes {
		themeW = append(themeW, t.Weight)
	}
	out := make([]Conversation, 0, n)
	for i := range n {
		c := Conversation{Channel: channelMix[weighted(r, chW)].name, Plan: planMix[weighted(r, planW)].name}
		hour := weighted(r, hourWeights[:])
		c.Start = midnight.Add(time.Duration(hour)*time.Hour + time.Duration(r.IntN(3600))*time.Second)
		phone := fmt.Sprintf("+1555%07d", 1000000+(i*7919+int(seed%1000)*104729)%8999999) // one number a conversation
		switch c.Channel {
		case dialog.ChannelWeb:
			c.ID = fmt.Sprintf("web:gen%06d%08x", i, r.Uint32())
			c.Email = fmt.Sprintf("resident%d@example.org", i)
		case dialog.ChannelVoice:
			c.ID = fmt.Sprintf("CA%032x", r.Uint64())
			c.Contact = phone
		default:
			c.ID = c.Channel + ":" + phone
			c.Contact = phone
		}
		switch c.Plan {
		case "question":
			c.Says = []string{pick(r, questions)}
			if r.IntN(3) == 0 {
				c.Says = append(c.Says, "thanks")
			}
		case "french":
			c.Says = []string{pick(r, questionsFR)}
		case "report":
			c.Says = []string{pick(r, reports)}
		case "gap":
			t := Themes[weighted(r, themeW)]
			c.Theme = t.Name
			c.Says = []string{pick(r, t.Phrasings)}
			if r.IntN(4) == 0 {
				// Asked again another way: the second miss brings a person.
				c.Says = append(c.Says, pick(r, t.Phrasings))
			}
		case "status":
			c.Says = []string{fmt.Sprintf("status EX-%06d", 1+r.IntN(40))}
		case "clarify":
			c.Says = []string{"pizza delivery", "1"}
		case "handoff":
			c.Says = []string{pick(r, []string{"can I talk to a real person", "I want to speak to someone", "agent"})}
		case "greeting":
			c.Says = []string{pick(r, []string{"hi", "hello", "Hi there"})}
		case "thanks":
			c.Says = []string{"hello", "thanks"}
		case "emergency":
			c.Says = []string{"there is a strong gas smell in my kitchen"}
		}
		out = append(out, c)
	}
	slices.SortStableFunc(out, func(a, b Conversation) int { return a.Start.Compare(b.Start) })
	return out
}

// Clock is a clock the player moves.
type Clock struct{ t time.Time }

// NewClock starts at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now is the clock's time.
func (c *Clock) Now() time.Time { return c.t }

// Set moves the clock.
func (c *Clock) Set(t time.Time) { c.t = t }

// Engine is what Play drives; *dialog.Engine is one.
type Engine interface {
	Handle(ctx context.Context, in dialog.Inbound) (dialog.Reply, error)
}

// Played is what happened in one conversation.
type Played struct {
	Conversation
	Turns int
	Refs  []string // cases filed
}

// Play runs the conversations through the engine one after another, each
// turn a few seconds after the last, moving clock; a report is answered
// question by question until it is filed.
func Play(ctx context.Context, eng Engine, clock *Clock, convs []Conversation) ([]Played, error) {
	var out []Played
	for i, c := range convs {
		r := rand.New(rand.NewPCG(uint64(i), 7))
		p := Played{Conversation: c}
		t := c.Start
		turn := func(text, choice string) (dialog.Reply, error) {
			clock.Set(t)
			t = t.Add(time.Duration(8+r.IntN(40)) * time.Second)
			p.Turns++
			reply, err := eng.Handle(ctx, dialog.Inbound{Channel: c.Channel, ConversationID: c.ID, Contact: c.Contact,
				Text: text, Choice: choice, MessageID: fmt.Sprintf("%s#%d", c.ID, p.Turns)})
			if err != nil {
				return reply, fmt.Errorf("conversation %d (%s), turn %d %q: %w", i, c.Plan, p.Turns, text, err)
			}
			if reply.Case != nil && reply.Case.Ref != "" && !slices.Contains(p.Refs, reply.Case.Ref) && c.Plan == "report" {
				p.Refs = append(p.Refs, reply.Case.Ref)
			}
			return reply, nil
		}
		if c.Channel == dialog.ChannelVoice {
			// A call is answered before the caller says anything.
			if _, err := turn("", ""); err != nil {
				return out, err
			}
		}
		var last dialog.Reply
		for _, s := range c.Says {
			var err error
			if last, err = turn(s, ""); err != nil {
				return out, err
			}
		}
		if c.Plan == "report" {
			for range 14 {
				if len(p.Refs) > 0 || last.State != "collecting" && last.State != "confirming" {
					break
				}
				text, choice := answer(c, last, r)
				var err error
				if last, err = turn(text, choice); err != nil {
					return out, err
				}
			}
		}
		out = append(out, p)
	}
	return out, nil
}

// answer is what a resident says to the engine's question: a place, the
// first choice, yes, a number, or a description.
func answer(c Conversation, r dialog.Reply, rnd *rand.Rand) (text, choice string) {
	first := func() (string, string) {
		if len(r.Choices) == 0 {
			return "1", ""
		}
		if c.Channel == dialog.ChannelWeb {
			return "", r.Choices[0].ID
		}
		return "1", ""
	}
	switch r.Expect {
	case dialog.ExpectLocation:
		return fmt.Sprintf("%d %s", 1+rnd.IntN(400), pick(rnd, streets)), ""
	case dialog.ExpectChoice, dialog.ExpectMulti:
		return first()
	case dialog.ExpectYesNo:
		if c.Channel == dialog.ChannelWeb && len(r.Choices) > 0 {
			return "", "yes"
		}
		return "yes", ""
	case dialog.ExpectNumber:
		return "3", ""
	case dialog.ExpectDate:
		return "today", ""
	case dialog.ExpectPhoto:
		return "skip", ""
	}
	low := strings.ToLower(r.Text())
	switch {
	case strings.Contains(low, "e-mail") || strings.Contains(low, "email") || strings.Contains(low, "reach you"):
		if c.Email != "" {
			return c.Email, ""
		}
		return "yes", ""
	case r.Optional:
		return "skip", ""
	}
	return fmt.Sprintf("It has been like this for a week. Call me at %s if you need more, or write to %s.",
		"555-867-5309", "neighbour@example.net"), ""
}
