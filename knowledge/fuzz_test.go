package knowledge_test

import (
	"bytes"
	"io/fs"
	"testing"
	"testing/fstest"
	"unicode/utf8"

	"github.com/cityline/cityline/knowledge"
	"github.com/cityline/cityline/knowledge/examplecity"
)

// FuzzLoad loads a content pack whose article, service list and service
// definition are any bytes: an article's front matter and Markdown, and
// the Open311 JSON a city drops in. Load never panics, and a pack it
// accepts is one the assistant can say: every title, answer and name is
// valid UTF-8.
//
//	go test ./knowledge -run '^$' -fuzz FuzzLoad -fuzztime 2m
func FuzzLoad(f *testing.F) {
	ex := examplecity.FS()
	read := func(name string) []byte {
		b, err := fstestRead(ex, name)
		if err != nil {
			f.Fatal(err)
		}
		return b
	}
	services := `[{"service_code":"001","service_name":"Streetlight out","description":"A light is out","metadata":true,` +
		`"type":"realtime","keywords":"lamp, dark","group":"Lights"}]`
	definition := `{"service_code":"001","attributes":[{"variable":true,"code":"POLE","datatype":"string","required":false,` +
		`"order":1,"description":"Pole number?"},{"variable":true,"code":"KIND","datatype":"singlevaluelist",` +
		`"required":true,"order":2,"description":"What is wrong?","values":[{"key":"OUT","name":"Out"},{"key":"ON","name":"On all day"}]}]}`
	f.Add(bytes.ReplaceAll(read("articles/potholes.md"), []byte("RD-01, RD-04"), []byte(`"001"`)), []byte(services), []byte(definition))
	f.Add([]byte("---\nid: lights\ntitle: Street lights\nkeywords: [lamp]\nservices: [\"001\"]\n---\nReport a light that is out.\n\nMore *text*."),
		[]byte(services), []byte(definition))
	f.Add([]byte("---\nid: x\ntitle: X\n---\nbody"), []byte(`[]`), []byte(`{}`))
	f.Add([]byte("\ufeff---\r\nid: a\r\ntitle: \"\\xff\"\r\nkeywords: [1, {a: b}]\r\n---\r\n# T\n\n*hi* [x](y)"),
		[]byte(`[{"service_code":1,"service_name":"\ud800","metadata":"true","keywords":["a"]}]`),
		[]byte(`{"service_code":"001","attributes":[{"code":"A","datatype":"multivaluelist","values":[{"key":1,"name":null}]}]}`))
	f.Add([]byte("---\n---\n"), []byte(`[{"service_code":"001"}`), []byte(`nul`))
	city := []byte("name: Tiny Town\nlanguages: [en]\ntime_zone: America/Winnipeg\nreference_prefix: TT\n")
	f.Fuzz(func(t *testing.T, article, services, definition []byte) {
		fsys := fstest.MapFS{
			"city.yaml":         {Data: city},
			"services.json":     {Data: services},
			"services/001.json": {Data: definition},
			"articles/a.md":     {Data: article},
		}
		p, err := knowledge.Load(fsys)
		if err != nil {
			return
		}
		for _, a := range p.Articles {
			for _, s := range []string{a.ID, a.Title, a.Short, a.Body, a.HTML, a.URL} {
				if !utf8.ValidString(s) {
					t.Fatalf("article %q accepted with invalid UTF-8: %q", a.ID, s)
				}
			}
		}
		for _, s := range p.Services {
			for _, v := range []string{s.Code, s.Name, s.Description, s.Group, s.Keywords} {
				if !utf8.ValidString(v) {
					t.Fatalf("service %q accepted with invalid UTF-8: %q", s.Code, v)
				}
			}
		}
		for code, d := range p.Definitions {
			for _, a := range d.Attributes {
				if !utf8.ValidString(a.Description) || !utf8.ValidString(a.Code) {
					t.Fatalf("definition %s accepted with invalid UTF-8: %+v", code, a)
				}
				for _, v := range a.Values {
					if !utf8.ValidString(v.Name) || !utf8.ValidString(v.Key) {
						t.Fatalf("definition %s accepted with invalid UTF-8: %+v", code, v)
					}
				}
			}
		}
	})
}

func fstestRead(fsys fs.FS, name string) ([]byte, error) { return fs.ReadFile(fsys, name) }
