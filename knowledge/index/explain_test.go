package index

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/cityline/cityline/knowledge"
	"github.com/cityline/cityline/knowledge/examplecity"
)

// TestExplainMisses prints, for labelled messages whose target is not the
// best hit, what matched where. Run with EXPLAIN=file.jsonl.
func TestExplainMisses(t *testing.T) {
	file := os.Getenv("EXPLAIN")
	if file == "" {
		t.Skip("set EXPLAIN=testdata file")
	}
	var fsys = examplecity.FS()
	if d := os.Getenv("PACK"); d != "" {
		fsys = os.DirFS(d)
	}
	p, err := knowledge.Load(fsys)
	if err != nil {
		t.Fatal(err)
	}
	ix, err := Build(p)
	if err != nil {
		t.Fatal(err)
	}
	li := ix.langs["en"]
	f, _ := os.Open(file)
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		var tc struct{ Text, Kind, ID string }
		json.Unmarshal(sc.Bytes(), &tc)
		if tc.ID == "" {
			continue
		}
		r, _ := ix.Search(context.Background(), tc.Text, "en", 40)
		rank := -1
		for i, h := range r.Hits {
			if h.ID == tc.ID {
				rank = i
			}
		}
		if rank == 0 {
			continue
		}
		n++
		if n > 60 {
			break
		}
		fmt.Printf("\n%q want %s rank %d\n  terms %v related %v corrected %v\n", tc.Text, tc.ID, rank, r.Terms, r.Related, r.Corrected)
		show := func(h knowledge.Hit) {
			kind := "service"
			if _, ok := p.Article(h.ID, "en"); ok {
				kind = "article"
			}
			d := li.docs[kind+":"+h.ID]
			var m []string
			for _, term := range append(append([]string{}, r.Terms...), r.Related...) {
				for i, f := range d.fields {
					if f[term] {
						m = append(m, fmt.Sprintf("%s@%s", term, fields[i].name))
						break
					}
				}
			}
			sort.Strings(m)
			fmt.Printf("   %-28s cov=%.2f name=%.2f phr=%.2f bleve=%.2f  %s\n", h.ID, h.Coverage, h.Name, h.Phrase, h.Score, strings.Join(m, " "))
		}
		for i, h := range r.Hits {
			if i < 2 || i == rank {
				show(h)
			}
		}
		if rank < 0 {
			fmt.Println("   (target not retrieved)")
		}
	}
}
