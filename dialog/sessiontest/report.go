package sessiontest

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/cityline/cityline/dialog"
	"github.com/cityline/cityline/dialog/locale"
	"github.com/cityline/cityline/knowledge"
	"github.com/cityline/cityline/knowledge/examplecity"
	"github.com/cityline/cityline/knowledge/index"
)

var (
	brainOnce sync.Once
	brainPack *knowledge.Pack
	brainIx   *index.Index
	brainCat  *locale.Catalog
	brainErr  error
)

// Example returns the embedded Example City pack, its index and
// catalogue, built once for all tests of a process.
func Example(tb testing.TB) (*knowledge.Pack, *index.Index, *locale.Catalog) {
	tb.Helper()
	brainOnce.Do(func() {
		brainPack, brainErr = knowledge.Load(examplecity.FS())
		if brainErr != nil {
			return
		}
		if brainIx, brainErr = index.Build(brainPack); brainErr != nil {
			return
		}
		brainCat, brainErr = locale.New(brainPack.City.Languages, brainPack.Messages)
	})
	if brainErr != nil {
		tb.Fatal(brainErr)
	}
	return brainPack, brainIx, brainCat
}

// Engine returns an engine over the embedded Example City pack and a
// fresh Desk; edit sets its session parts (Sessions, Locker, Replays).
// Every report of a benchmark is at the same place, so the duplicate
// check is off unless edit turns it on.
func Engine(tb testing.TB, edit func(*dialog.Config)) (*dialog.Engine, *Desk) {
	tb.Helper()
	p, ix, cat := Example(tb)
	d := &Desk{}
	cfg := dialog.Config{Pack: p, Router: dialog.NewRouter(p, ix, cat), Catalog: cat, Cases: d, DuplicateRadius: -1}
	if edit != nil {
		edit(&cfg)
	}
	eng, err := dialog.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return eng, d
}

// Report is the eight turns of dialog/bench_test.go's BenchmarkFullReport:
// greeting, a pothole, the place, three details, confirmation, thanks.
var Report = []string{"hi", "there's a pothole on my street", "12 King St W", "2", "bike lane", "30", "yes", "thanks"}

// FullReport runs the Report as conversation id on the web channel. With
// messageIDs each turn carries a platform message id, as SMS and voice
// turns do, so the engine's replay store is consulted too.
func FullReport(ctx context.Context, eng *dialog.Engine, id string, messageIDs bool) error {
	for i, text := range Report {
		in := dialog.Inbound{Channel: dialog.ChannelWeb, ConversationID: id, Text: text}
		if messageIDs {
			in.MessageID = id + "#" + strconv.Itoa(i)
		}
		if _, err := eng.Handle(ctx, in); err != nil {
			return fmt.Errorf("turn %d (%q): %w", i, text, err)
		}
	}
	return nil
}

// BenchFullReport measures full reports on an engine edit sets up, and
// reports turns per second; every report must file its case.
func BenchFullReport(b *testing.B, edit func(*dialog.Config), messageIDs bool) {
	eng, desk := Engine(b, edit)
	ctx := context.Background()
	prefix := strconv.FormatInt(time.Now().UnixNano(), 36)
	b.ReportAllocs()
	n := 0
	start := time.Now()
	for b.Loop() {
		if err := FullReport(ctx, eng, "bench-"+prefix+"-"+strconv.Itoa(n), messageIDs); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64(n*len(Report))/time.Since(start).Seconds(), "turns/s")
	if desk.Filed() != n {
		b.Fatalf("%d reports filed %d cases", n, desk.Filed())
	}
}
