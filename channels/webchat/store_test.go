package webchat

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestMemoryStoreBounds(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	s := NewMemoryStore(30*time.Minute, clk.Now, MemoryLimits{Conversations: 3, Entries: 5, Bytes: 2000})
	for i := range 3 {
		if err := s.Create(ctx, &Conversation{ID: fmt.Sprint("c", i), TokenHash: hashToken("t")}); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Second)
	}

	// The transcript keeps the newest entries, within count and size.
	for i := range 8 {
		if _, err := s.Append(ctx, "c0", Entry{From: FromResident, Text: fmt.Sprint("message ", i+1)}); err != nil {
			t.Fatal(err)
		}
	}
	c, err := s.Get(ctx, "c0")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Entries) != 5 || c.Entries[0].Text != "message 4" || c.Entries[4].Seq != 8 || c.Seq != 8 {
		t.Errorf("entries %+v, seq %d", c.Entries, c.Seq)
	}
	if _, err := s.Append(ctx, "c0", Entry{From: FromAssistant, Text: strings.Repeat("x", 1950)}); err != nil {
		t.Fatal(err)
	}
	c, _ = s.Get(ctx, "c0")
	if len(c.Entries) != 1 || c.Entries[0].Seq != 9 {
		t.Errorf("after a large entry, %d entries; the newest must stay", len(c.Entries))
	}

	// Full: the least recently active conversation makes room (c1; c0
	// was just written to).
	if err := s.Create(ctx, &Conversation{ID: "c3"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "c1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("c1 still there: %v", err)
	}
	for _, id := range []string{"c0", "c2", "c3"} {
		if _, err := s.Get(ctx, id); err != nil {
			t.Errorf("%s: %v", id, err)
		}
	}

	// Idle past the time to live: gone, for every operation.
	clk.Advance(30 * time.Minute)
	if _, err := s.Get(ctx, "c3"); !errors.Is(err, ErrNotFound) {
		t.Errorf("expired conversation: %v", err)
	}
	if err := s.Touch(ctx, "c2"); !errors.Is(err, ErrNotFound) {
		t.Errorf("touch expired: %v", err)
	}
	if _, err := s.Append(ctx, "c0", Entry{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("append expired: %v", err)
	}
}

func TestMemoryStoreTouch(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	s := NewMemoryStore(10*time.Minute, clk.Now, MemoryLimits{})
	s.Create(ctx, &Conversation{ID: "c", TokenHash: hashToken("secret")})
	clk.Advance(9 * time.Minute)
	if err := s.Touch(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	clk.Advance(9 * time.Minute)
	c, err := s.Get(ctx, "c")
	if err != nil {
		t.Fatal(err)
	}
	if !tokenMatches("secret", c.TokenHash) || tokenMatches("Secret", c.TokenHash) || !c.Updated.Equal(clk.Now().Add(-9*time.Minute)) {
		t.Errorf("conversation %+v", c)
	}
}
