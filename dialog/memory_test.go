package dialog_test

import (
	"context"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/cityline/cityline/dialog"
	"github.com/cityline/cityline/dialog/sessiontest"
)

// heapInUse is the live heap after a full collection.
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestMemoryPerIdleConversation holds 100,000 idle conversations in the
// memory session store, each in the middle of a report (a draft with a
// place, details and a description: sessiontest.Typical), and checks what
// one costs the heap: at most 2 KB. It also measures what the replay
// store keeps per remembered SMS reply (24 hours, at most 200,000 of
// them), and logs both.
func TestMemoryPerIdleConversation(t *testing.T) {
	const n = 100_000
	ctx := context.Background()
	store := dialog.NewMemoryStore(time.Hour, nil)
	before := heapInUse()
	for i := range n {
		if err := store.Save(ctx, sessiontest.Typical("sms:+1555"+strconv.Itoa(1000000+i))); err != nil {
			t.Fatal(err)
		}
	}
	perSession := float64(heapInUse()-before) / n
	runtime.KeepAlive(store)

	// A typical SMS reply: a question of the report with its choices.
	eng, _ := sessiontest.Engine(t, nil)
	var reply dialog.Reply
	for i, text := range sessiontest.Report[:4] {
		r, err := eng.Handle(ctx, dialog.Inbound{Channel: dialog.ChannelSMS, ConversationID: "sms:+15550000000",
			Contact: "+15550000000", Text: text, MessageID: "SMx" + strconv.Itoa(i)})
		if err != nil {
			t.Fatal(err)
		}
		reply = r
	}
	replays := dialog.NewMemoryReplays(24*time.Hour, 0, nil)
	before = heapInUse()
	for i := range n {
		if err := replays.Remember(ctx, "SM"+strconv.FormatInt(int64(1e15)+int64(i), 16)+"0123456789abcdef0123", reply); err != nil {
			t.Fatal(err)
		}
	}
	perReply := float64(heapInUse()-before) / n
	runtime.KeepAlive(replays)

	t.Logf("MEMORY: %.0f bytes per idle conversation (session mid-report), %.0f bytes per remembered reply (%d bytes of text)",
		perSession, perReply, len(reply.Text()))
	if perSession > 2048 {
		t.Errorf("an idle conversation holds %.0f bytes of heap; the bar is 2 KB", perSession)
	}
	if perReply > 1024 {
		t.Errorf("a remembered reply holds %.0f bytes of heap; want at most 1 KB", perReply)
	}
}
