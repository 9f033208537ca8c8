package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/cityline/cityline/cases"
	"github.com/cityline/cityline/cases/sqlite"
)

func TestFollowers(t *testing.T) {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "cases.db"), "EX", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := &cases.Case{ServiceCode: "RD-01", ServiceName: "Pothole"}
	if err := s.Create(ctx, c); err != nil {
		t.Fatal(err)
	}
	f := cases.Follower{Conversation: "sms:+15550001111", Channel: "sms", Lang: "fr",
		Contact: cases.Contact{Phone: "+15550001111", Notify: true}}
	for range 2 { // following twice is one follower
		if err := s.Follow(ctx, c.Ref, f); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Followers(ctx, c.Ref)
	if err != nil || len(got) != 1 {
		t.Fatalf("Followers = %+v, %v", got, err)
	}
	if g := got[0]; g.Contact.Phone != f.Contact.Phone || !g.Contact.Notify || g.Lang != "fr" || g.Conversation != f.Conversation || g.Since.IsZero() {
		t.Errorf("follower %+v", g)
	}
	if err := s.Follow(ctx, "EX-999999", f); err == nil {
		t.Error("following a case that does not exist worked")
	}
}
