package dialog_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/cityline/cityline/dialog"
	"github.com/cityline/cityline/dialog/sessiontest"
)

// BenchmarkFullReport runs a whole eight-turn pothole report in process,
// on the memory session store: greeting, report, place, three details,
// confirmation, thanks. It reports turns per second and, with
// -benchmem, allocations per report (divide by 8 for a turn).
func BenchmarkFullReport(b *testing.B) {
	p, ix, cat := examplePack(b)
	d := &sessiontest.Desk{}
	// Every iteration reports the same pothole: not a duplicate here.
	eng, err := dialog.New(dialog.Config{Pack: p, Router: dialog.NewRouter(p, ix, cat), Catalog: cat, Cases: d,
		Sessions: dialog.NewMemoryStore(30*time.Minute, nil), DuplicateRadius: -1})
	if err != nil {
		b.Fatal(err)
	}
	turns := []string{"hi", "there's a pothole on my street", "12 King St W", "2", "bike lane", "30", "yes", "thanks"}
	ctx := context.Background()
	b.ReportAllocs()
	n := 0
	start := time.Now()
	for b.Loop() {
		id := "bench-" + strconv.Itoa(n)
		n++
		for _, text := range turns {
			if _, err := eng.Handle(ctx, dialog.Inbound{Channel: dialog.ChannelWeb, ConversationID: id, Text: text}); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(n*len(turns))/time.Since(start).Seconds(), "turns/s")
	if len(d.All()) != n {
		b.Fatalf("%d reports filed %d cases", n, len(d.All()))
	}
}
