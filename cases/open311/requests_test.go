package open311_test

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cityline/cityline/cases"
	"github.com/cityline/cityline/cases/casetest"
)

// getIDs fetches a requests.json URL and returns the ids, in order.
func getIDs(t testing.TB, u string) (int, []string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return resp.StatusCode, nil
	}
	var list []struct {
		ID string `json:"service_request_id"`
	}
	if err := json.Unmarshal(body, &list); err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	ids := make([]string, len(list))
	for i, r := range list {
		ids[i] = r.ID
	}
	return resp.StatusCode, ids
}

// TestRequestFilters: GET requests honours each filter of the
// specification, its defaults (the last 90 days), and the common
// extensions page/page_size and lat/long/radius.
func TestRequestFilters(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			clock := casetest.Clock(t)
			s, _ := b.open(t, clock.Now)
			center := cases.Point{Lat: 43.6532, Long: -79.3832}
			near := cases.Point{Lat: 43.6535, Long: -79.3832} // about 33 m north
			far := cases.Point{Lat: 43.6532, Long: -79.3580}  // about 2 km east
			now := casetest.Epoch.Truncate(time.Second)
			day := 24 * time.Hour
			for _, c := range []struct {
				code   string
				ago    time.Duration
				status cases.Status
				loc    *cases.Point
			}{
				{"POTHOLE", 1 * time.Hour, "", &center},            // EX-000001
				{"GRAFFITI", 2 * time.Hour, "closed", &near},       // EX-000002
				{"POTHOLE", 3 * day, "", &far},                     // EX-000003
				{"TREE", 10 * day, "closed", nil},                  // EX-000004
				{"POTHOLE", 100 * day, "", &center},                // EX-000005: older than 90 days
				{"GRAFFITI", 30 * time.Minute, "", &cases.Point{}}, // EX-000006
			} {
				if err := s.Create(t.Context(), &cases.Case{ServiceCode: c.code, ServiceName: c.code,
					Requested: now.Add(-c.ago), Status: c.status, Location: c.loc, Address: "somewhere"}); err != nil {
					t.Fatal(err)
				}
			}
			srv := startServer(t, s, clock.Now)
			r := func(ns ...int) []string {
				out := []string{}
				for _, n := range ns {
					out = append(out, cases.FormatRef(casetest.Prefix, int64(n)))
				}
				return out
			}
			for _, tt := range []struct {
				query  string
				status int
				want   []string
			}{
				{"", 200, r(6, 1, 2, 3, 4)},
				{"status=open", 200, r(6, 1, 3)},
				{"status=closed", 200, r(2, 4)},
				{"status=open,closed", 200, r(6, 1, 2, 3, 4)},
				{"status=Closed", 200, r(2, 4)},
				{"service_code=POTHOLE", 200, r(1, 3)},
				{"service_code=GRAFFITI,TREE", 200, r(6, 2, 4)},
				{"service_code=GRAFFITI&status=open", 200, r(6)},
				{"service_code=", 200, r(6, 1, 2, 3, 4)}, // empty is absent
				{"start_date=2026-03-05T00:00:00Z", 200, r(6, 1, 2, 3)},
				{"start_date=2026-03-11T00:00:00-04:00&end_date=2026-03-14T08:00:00-04:00", 200, r(3)},
				{"start_date=2026-03-11", 200, r(6, 1, 2, 3)},                 // a date alone: midnight in the city
				{"end_date=2026-03-05T00:00:00Z", 200, r(4)},                  // the 90 days before end_date
				{"start_date=2025-01-01T00:00:00Z", 200, r(6, 1, 2, 3, 4, 5)}, // further back when asked
				{"service_request_id=EX-000005,ex-2", 200, r(2, 5)},           // overrides the rest
				{"service_request_id=EX-000005&status=closed&service_code=TREE", 200, r(5)},
				{"page_size=2", 200, r(6, 1)},
				{"page_size=2&page=2", 200, r(2, 3)},
				{"page_size=2&page=3", 200, r(4)},
				{"page_size=2&page=4", 200, r()},
				{"lat=43.6532&long=-79.3832&radius=100", 200, r(1, 2)},
				{"lat=43.6532&long=-79.3832&radius=10", 200, r(1)},
				{"lat=43.6532&long=-79.3832", 200, r(1, 2)}, // radius defaults to 1 km
				{"lat=43.6532&long=-79.3832&radius=3000&status=open", 200, r(1, 3)},
				{"lat=0&long=0&radius=5", 200, r(6)},
				{"status=fixed", 400, nil},
				{"start_date=last+week", 400, nil},
				{"start_date=2026-03-14T00:00:00Z&end_date=2026-03-01T00:00:00Z", 400, nil},
				{"page=-1", 400, nil},
				{"page_size=zero", 400, nil},
				{"lat=43.65", 400, nil},
				{"lat=99&long=0", 400, nil},
				{"lat=43.65&long=-79.38&radius=-5", 400, nil},
				{"lat=43.65&long=-79.38&radius=900000", 400, nil},
			} {
				status, got := getIDs(t, srv.URL+"/open311/v2/requests.json?"+tt.query)
				if status != tt.status || (status == 200 && !slices.Equal(got, tt.want)) {
					t.Errorf("requests.json?%s: %d %v, want %d %v", tt.query, status, got, tt.status, tt.want)
				}
			}
		})
	}
}

// seed files n cases, a minute apart going back from the epoch, in a
// shuffled order (so ids do not follow times), and returns their
// references newest first. workers file in parallel: SQLite takes one
// writer at a time anyway, and many waiting writers can starve one past
// its busy timeout on a loaded machine.
func seed(tb testing.TB, s cases.Store, n, workers int) []string {
	tb.Helper()
	start := casetest.Epoch.Truncate(time.Second)
	order := rand.New(rand.NewPCG(1, 2)).Perm(n)
	made := make([]*cases.Case, n)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for k := w; k < n; k += workers {
				i := order[k]
				c := &cases.Case{ServiceCode: "POTHOLE", ServiceName: "Pothole", Requested: start.Add(-time.Duration(i) * time.Minute),
					Description: fmt.Sprintf("Pothole number %d, deep and wide, near the curb.", i), Address: "100 Queen St W",
					Location: &cases.Point{Lat: 43.65 + float64(i%100)/1e4, Long: -79.38}, Agency: "Example City 311",
					Attributes: map[string][]string{"SIZE": {"M"}}, Contact: cases.Contact{Phone: "+15550100000"}}
				if err := s.Create(tb.Context(), c); err != nil {
					tb.Errorf("create %d: %v", i, err)
					return
				}
				made[i] = c
			}
		})
	}
	wg.Wait()
	if tb.Failed() {
		tb.FailNow()
	}
	refs := make([]string, n)
	for i, c := range made {
		refs[i] = c.Ref
	}
	return refs
}

// seedWorkers is how many goroutines seed a backend.
func seedWorkers(name string) int {
	if name == "sqlite" {
		return 1
	}
	return 8
}

// TestPaging10000: paging through 10,000 requests gives each exactly
// once, newest first, whatever the page size.
func TestPaging10000(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 requests: skipped in -short mode")
	}
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			clock := casetest.Clock(t)
			s, _ := b.open(t, clock.Now)
			want := seed(t, s, 10000, seedWorkers(b.name))
			srv := startServer(t, s, clock.Now)
			for _, size := range []int{1000, 333} {
				start := time.Now()
				var got []string
				for page := 1; ; page++ {
					status, ids := getIDs(t, fmt.Sprintf("%s/open311/v2/requests.json?page_size=%d&page=%d", srv.URL, size, page))
					if status != 200 || len(ids) > size {
						t.Fatalf("page %d of %d: status %d, %d ids", page, size, status, len(ids))
					}
					got = append(got, ids...)
					if len(ids) < size {
						break
					}
				}
				took := time.Since(start)
				if !slices.Equal(got, want) {
					seen := map[string]int{}
					for _, r := range got {
						seen[r]++
					}
					t.Errorf("page size %d: %d requests (%d distinct), want each of %d once, newest first", size, len(got), len(seen), len(want))
				}
				t.Logf("%s: 10,000 requests in pages of %d: %v", b.name, size, took)
				if took > 30*time.Second {
					t.Errorf("paging through 10,000 requests took %v", took)
				}
			}
		})
	}
}

// BenchmarkPaging measures one sweep through 10,000 requests in pages of
// 1,000 (requests.json), against a bare net/http handler answering the
// same bytes for each page, measured in the same run: x_bare is the ratio.
func BenchmarkPaging(b *testing.B) {
	for _, be := range backends() {
		b.Run(be.name, func(b *testing.B) {
			clock := casetest.Clock(b)
			s, _ := be.open(b, clock.Now)
			seed(b, s, 10000, seedWorkers(be.name))
			srv := startServer(b, s, clock.Now)
			pages := make([][]byte, 10)
			for i := range pages {
				resp, err := http.Get(fmt.Sprintf("%s/open311/v2/requests.json?page_size=1000&page=%d", srv.URL, i+1))
				if err != nil {
					b.Fatal(err)
				}
				pages[i], _ = io.ReadAll(resp.Body)
				resp.Body.Close()
			}
			bare := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				var p int
				fmt.Sscan(r.URL.Query().Get("page"), &p)
				w.Header().Set("Content-Type", "application/json; charset=utf-8")
				w.Write(pages[p-1])
			}))
			defer bare.Close()
			sweep := func(base string) {
				for p := 1; p <= 10; p++ {
					resp, err := http.Get(fmt.Sprintf("%s/open311/v2/requests.json?page_size=1000&page=%d", base, p))
					if err != nil {
						b.Fatal(err)
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}
			// The bare sweeps run between the measured ones, so both see the
			// same machine (others' tests may be running).
			var bareTotal time.Duration
			for b.Loop() {
				sweep(srv.URL)
				b.StopTimer()
				t0 := time.Now()
				sweep(bare.URL)
				bareTotal += time.Since(t0)
				b.StartTimer()
			}
			perSweep := b.Elapsed() / time.Duration(b.N)
			bareSweep := bareTotal / time.Duration(b.N)
			b.ReportMetric(float64(perSweep.Milliseconds()), "ms/sweep")
			b.ReportMetric(float64(perSweep)/float64(bareSweep), "x_bare")
			b.ReportMetric(float64(bareSweep.Microseconds())/1000, "bare_ms/sweep")
		})
	}
}
