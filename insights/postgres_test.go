package insights_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/cityline/cityline/cases/postgres"
	"github.com/cityline/cityline/cases/postgres/pgtest"
	"github.com/cityline/cityline/insights"
	"github.com/cityline/cityline/insights/insightstest"
)

// The same day on PostgreSQL: migration 006, the sink, every query of
// the report, retention and popular topics agree with SQLite. It skips
// when no server is reachable (CITYLINE_TEST_POSTGRES_URL, or the local
// default).

func TestPostgresAgreesWithSQLite(t *testing.T) {
	u := pgtest.FreshDatabase(t)
	clock := insightstest.NewClock(insightstest.Epoch)
	st, err := postgres.Open(t.Context(), u, "EX", clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	pg := insightstest.NewOn(t, st, st.DB, st.Dialect, clock, nil)
	lite := insightstest.New(t, "", insightstest.Epoch, nil)
	var reports []*insights.Report
	for _, e := range []*insightstest.Env{pg, lite} {
		e.PlayDay(t, insightstest.Epoch, 150, 5)
		r, err := e.Insights.Report(t.Context(), insightstest.Epoch, insightstest.Epoch.Add(24*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		r.Generated = time.Time{}
		reports = append(reports, r)
	}
	if !reflect.DeepEqual(reports[0], reports[1]) {
		t.Errorf("PostgreSQL and SQLite disagree:\npostgres %+v\nsqlite   %+v", reports[0], reports[1])
	}
	if reports[0].Conversations != 150 || len(reports[0].Gaps) == 0 || reports[0].CasesFiled == 0 {
		t.Errorf("the day on PostgreSQL: %s", reports[0])
	}

	pop := insights.NewPopular(pg.Insights, pg.Pack, insights.PopularConfig{MinUses: 1})
	if err := pop.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := pop.Topics(t.Context(), "en", 3); len(got) != 3 || got[0].ID == pg.Pack.City.Popular[0] && got[1].ID == pg.Pack.City.Popular[1] {
		t.Errorf("popular topics on PostgreSQL: %+v, still the pack's", got)
	}

	pg.Clock.Set(insightstest.Epoch.Add(400 * insights.Day))
	p, err := pg.Insights.Purge(t.Context(), pg.Clock.Now().Add(-insights.DefaultRetention))
	if err != nil {
		t.Fatal(err)
	}
	if p.Events == 0 {
		t.Errorf("purge on PostgreSQL: %+v", p)
	}
	after, err := pg.Insights.Report(t.Context(), insightstest.Epoch, insightstest.Epoch.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if after.Conversations != reports[0].Conversations || after.Fallbacks != reports[0].Fallbacks || len(after.Gaps) != 0 {
		t.Errorf("after the purge: %s, %d fallbacks, %d gaps", after, after.Fallbacks, len(after.Gaps))
	}
}
