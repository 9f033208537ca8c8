package dialog_test

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/cityline/cityline/cases"
	"github.com/cityline/cityline/dialog"
	"github.com/cityline/cityline/dialog/sessiontest"
)

// BenchmarkRoute is the router's reading of one message (intents, then
// the search index, ranking and confidence), over the labelled dev sets'
// messages in turn: what every first message of a conversation costs.
func BenchmarkRoute(b *testing.B) {
	p, ix, cat := examplePack(b)
	r := dialog.NewRouter(p, ix, cat)
	for _, set := range []struct{ name, file string }{
		{"en", "../testdata/routing/examplecity.jsonl"},
		{"fr", "../testdata/routing/examplecity.fr.jsonl"},
	} {
		texts := devTexts(b, set.file)
		b.Run(set.name, func(b *testing.B) {
			ctx := context.Background()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, err := r.Route(ctx, texts[i%len(texts)], ""); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// BenchmarkTurn is one turn of each kind a storm morning brings, each the
// first of a fresh conversation on the SMS channel (message ids
// included, so replies are remembered as they are for Twilio): a
// question, a status check, the start of a report with its place, small
// talk; and the last turn of a report, which files the case.
func BenchmarkTurn(b *testing.B) {
	eng, desk := sessiontest.Engine(b, func(c *dialog.Config) {
		c.Sessions = dialog.NewMemoryStore(30*time.Minute, nil)
		c.DuplicateRadius = -1 // every report is at one place here
	})
	ctx := context.Background()
	seed := &cases.Case{ServiceCode: "RD-01", Location: &cases.Point{Lat: 44.05, Long: -79.45}}
	if err := desk.Create(ctx, seed); err != nil {
		b.Fatal(err)
	}
	n := 0
	turn := func(b *testing.B, id, text string) dialog.Reply {
		n++
		r, err := eng.Handle(ctx, dialog.Inbound{Channel: dialog.ChannelSMS, ConversationID: id, Contact: "+15551230000",
			Text: text, MessageID: "SM" + strconv.Itoa(n)})
		if err != nil {
			b.Fatal(err)
		}
		return r
	}
	for _, k := range []struct{ name, text string }{
		{"question", "how do I pay my property tax"},
		{"status", "any update on " + seed.Ref + "?"},
		{"report", "There's a big pothole at 123 King St W"},
		{"smalltalk", "thanks"},
	} {
		b.Run(k.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				turn(b, "sms:"+k.name+strconv.Itoa(n), k.text)
			}
		})
	}
	b.Run("file", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			b.StopTimer()
			id := "sms:file" + strconv.Itoa(n)
			for _, text := range sessiontest.Report[:len(sessiontest.Report)-2] {
				turn(b, id, text)
			}
			b.StartTimer()
			if r := turn(b, id, "yes"); r.Case == nil {
				b.Fatalf("the last turn filed nothing: %q", r.Text())
			}
		}
	})
}

func devTexts(tb testing.TB, path string) []string {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m struct{ Text string }
		if err := json.Unmarshal(sc.Bytes(), &m); err == nil && m.Text != "" {
			out = append(out, m.Text)
		}
	}
	return out
}
