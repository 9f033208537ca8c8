package knowledge

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cityline/cityline/cases"
	"gopkg.in/yaml.v3"
)

// Load reads and validates the content pack in fsys. It reports every
// problem it finds, not just the first: when any is an error it returns
// the Problems (with the partly loaded pack, for tools that want it);
// warnings alone are kept in Pack.Warnings.
func Load(fsys fs.FS) (*Pack, error) {
	l := &loader{fsys: fsys, p: &Pack{
		Definitions:            map[string]cases.Definition{},
		ServiceTranslations:    map[string]map[string]cases.Service{},
		DefinitionTranslations: map[string]map[string]cases.Definition{},
		Synonyms:               map[string][][]string{},
		Messages:               map[string]map[string]string{},
	}}
	l.city()
	l.services()
	l.definitions()
	l.articles()
	l.synonyms()
	l.messages()
	l.gazetteer()
	l.p.index()
	l.crossCheck()

	var errs Problems
	for _, pr := range l.problems {
		if pr.Warning {
			l.p.Warnings = append(l.p.Warnings, pr)
		} else {
			errs = append(errs, pr)
		}
	}
	if len(errs) > 0 {
		return l.p, append(errs, l.p.Warnings...)
	}
	return l.p, nil
}

type loader struct {
	fsys     fs.FS
	p        *Pack
	problems []Problem
}

func (l *loader) errorf(file string, line int, format string, args ...any) {
	l.problems = append(l.problems, Problem{File: file, Line: line, Msg: fmt.Sprintf(format, args...)})
}

func (l *loader) warnf(file string, line int, format string, args ...any) {
	l.problems = append(l.problems, Problem{File: file, Line: line, Msg: fmt.Sprintf(format, args...), Warning: true})
}

func (l *loader) city() {
	const file = "city.yaml"
	data, err := fs.ReadFile(l.fsys, file)
	if err != nil {
		l.errorf(file, 0, "cannot read: %v", unwrapPath(err))
		return
	}
	c := &l.p.City
	if err := decodeYAML(data, c); err != nil {
		l.errorf(file, yamlLine(err), "%s", yamlMsg(err))
		return
	}
	if strings.TrimSpace(c.Name) == "" {
		l.errorf(file, 0, "name is missing")
	}
	if len(c.Languages) == 0 {
		c.Languages = []string{"en"}
	}
	if c.TimeZone != "" {
		loc, err := time.LoadLocation(c.TimeZone)
		if err != nil {
			l.errorf(file, 0, "time_zone %q is not a known time zone", c.TimeZone)
		} else {
			c.loc = loc
		}
	}
	for i, h := range c.OfficeHours {
		_, err1 := time.Parse("15:04", h.Open)
		_, err2 := time.Parse("15:04", h.Close)
		if err1 != nil || err2 != nil || h.Close <= h.Open {
			l.errorf(file, 0, "office_hours[%d]: open and close must be HH:MM with close after open", i)
		}
		for _, d := range h.Days {
			if _, ok := weekdays[strings.ToLower(d)]; !ok {
				l.errorf(file, 0, "office_hours[%d]: %q is not a day (mon, tue, ... sun)", i, d)
			}
		}
	}
	if c.ReferencePrefix != "" && !regexp.MustCompile(`^[A-Za-z]{1,6}$`).MatchString(c.ReferencePrefix) {
		l.errorf(file, 0, "reference_prefix %q must be 1 to 6 letters", c.ReferencePrefix)
	}
}

func (l *loader) services() {
	const file = "services.json"
	data, err := fs.ReadFile(l.fsys, file)
	if errors.Is(err, fs.ErrNotExist) {
		l.warnf(file, 0, "no service list: the assistant will answer questions but take no requests")
		return
	}
	if err != nil {
		l.errorf(file, 0, "cannot read: %v", unwrapPath(err))
		return
	}
	var lines []int
	l.p.Services, lines, err = decodeServiceList(data)
	if err != nil {
		l.errorf(file, jsonLine(data, err), "%v", err)
		return
	}
	seen := map[string]int{}
	for i, s := range l.p.Services {
		switch {
		case strings.TrimSpace(s.Code) == "":
			l.errorf(file, lines[i], "service %d has no service_code", i+1)
		case seen[s.Code] > 0:
			l.errorf(file, lines[i], "duplicate service_code %q (first on line %d)", s.Code, seen[s.Code])
		default:
			seen[s.Code] = lines[i]
		}
		if strings.TrimSpace(s.Name) == "" {
			l.errorf(file, lines[i], "service %q has no service_name", s.Code)
		}
		switch s.Type {
		case "", "realtime", "batch", "blackbox":
		default:
			l.warnf(file, lines[i], "service %q: type %q is not realtime, batch or blackbox", s.Code, s.Type)
		}
	}
	for _, lang := range l.p.City.Languages {
		tfile := "services." + lang + ".json"
		data, err := fs.ReadFile(l.fsys, tfile)
		if err != nil {
			continue
		}
		list, lines, err := decodeServiceList(data)
		if err != nil {
			l.errorf(tfile, jsonLine(data, err), "%v", err)
			continue
		}
		m := map[string]cases.Service{}
		for i, s := range list {
			if seen[s.Code] == 0 {
				l.errorf(tfile, lines[i], "translation of service %q, which services.json does not list", s.Code)
			}
			m[s.Code] = s
		}
		l.p.ServiceTranslations[lang] = m
	}
}

// decodeServiceList decodes a JSON array of services, remembering the line
// each one starts on so problems can point at it.
func decodeServiceList(data []byte) ([]cases.Service, []int, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return nil, nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return nil, nil, errors.New("want a JSON array of services")
	}
	var list []cases.Service
	var lines []int
	for dec.More() {
		start := lineAt(data, int(dec.InputOffset()))
		var s cases.Service
		if err := dec.Decode(&s); err != nil {
			return nil, nil, err
		}
		list = append(list, s)
		lines = append(lines, start)
	}
	if _, err := dec.Token(); err != nil {
		return nil, nil, err
	}
	return list, lines, nil
}

func (l *loader) definitions() {
	entries, err := fs.ReadDir(l.fsys, "services")
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	if err != nil {
		l.errorf("services/", 0, "cannot read: %v", unwrapPath(err))
		return
	}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".json") {
			continue
		}
		file := "services/" + name
		base := strings.TrimSuffix(name, ".json")
		lang := ""
		if i := strings.LastIndexByte(base, '.'); i >= 0 && l.p.City.Speaks(base[i+1:]) {
			base, lang = base[:i], base[i+1:]
		}
		data, err := fs.ReadFile(l.fsys, file)
		if err != nil {
			l.errorf(file, 0, "cannot read: %v", unwrapPath(err))
			continue
		}
		var d cases.Definition
		if err := json.Unmarshal(data, &d); err != nil {
			l.errorf(file, jsonLine(data, err), "%v", err)
			continue
		}
		if d.Code == "" {
			d.Code = base
		}
		if d.Code != base {
			l.errorf(file, lineOfString(data, `"service_code"`), "service_code %q does not match the file name", d.Code)
		}
		if lang != "" {
			if l.p.DefinitionTranslations[lang] == nil {
				l.p.DefinitionTranslations[lang] = map[string]cases.Definition{}
			}
			l.p.DefinitionTranslations[lang][d.Code] = d
			continue
		}
		l.checkDefinition(file, data, d)
		l.p.Definitions[d.Code] = d
	}
}

func (l *loader) checkDefinition(file string, data []byte, d cases.Definition) {
	orders := map[int]string{}
	codes := map[string]bool{}
	for _, a := range d.Attributes {
		line := lineOfString(data, strconv.Quote(a.Code))
		switch {
		case a.Code == "":
			l.errorf(file, 0, "an attribute has no code")
		case codes[a.Code]:
			l.errorf(file, line, "duplicate attribute code %q", a.Code)
		}
		codes[a.Code] = true
		if prev, ok := orders[a.Order]; ok {
			l.errorf(file, line, "attribute %q has order %d, like attribute %q", a.Code, a.Order, prev)
		}
		orders[a.Order] = a.Code
		if !a.Variable {
			continue
		}
		if !cases.KnownDatatype(a.Datatype) {
			l.warnf(file, line, "attribute %q: datatype %q is not an Open311 datatype; it will be asked as free text", a.Code, a.Datatype)
		}
		if a.IsList() && len(a.Values) == 0 {
			l.errorf(file, line, "attribute %q is a %s without values", a.Code, a.Datatype)
		}
		if strings.TrimSpace(a.Description) == "" {
			l.errorf(file, line, "attribute %q has no description (the question to ask)", a.Code)
		}
		keys := map[string]bool{}
		for _, v := range a.Values {
			if keys[v.Key] {
				l.errorf(file, line, "attribute %q: duplicate value key %q", a.Code, v.Key)
			}
			keys[v.Key] = true
		}
	}
}

func (l *loader) articles() {
	err := fs.WalkDir(l.fsys, "articles", func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() || path.Ext(p) != ".md" {
			return nil
		}
		data, err := fs.ReadFile(l.fsys, p)
		if err != nil {
			l.errorf(p, 0, "cannot read: %v", unwrapPath(err))
			return nil
		}
		a, line, err := parseArticle(data)
		if err != nil {
			l.errorf(p, line, "%v", err)
			return nil
		}
		a.File = p
		l.p.Articles = append(l.p.Articles, a)
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		l.errorf("articles/", 0, "cannot read: %v", unwrapPath(err))
	}
	seen := map[string]string{}
	for _, a := range l.p.Articles {
		if a.Lang == "" {
			a.Lang = l.p.City.DefaultLang()
		}
		switch {
		case strings.TrimSpace(a.ID) == "":
			l.errorf(a.File, 2, "id is missing")
		case seen[a.Lang+"/"+a.ID] != "":
			l.errorf(a.File, 2, "duplicate article id %q in %s (also in %s)", a.ID, a.Lang, seen[a.Lang+"/"+a.ID])
		default:
			seen[a.Lang+"/"+a.ID] = a.File
		}
		if strings.TrimSpace(a.Title) == "" {
			l.errorf(a.File, 0, "title is missing")
		}
		if strings.TrimSpace(a.Short) == "" {
			l.errorf(a.File, 0, "the answer is empty: the body needs at least one paragraph")
		}
		if !l.p.City.Speaks(a.Lang) {
			l.warnf(a.File, 0, "lang %q is not one of the city's languages %v", a.Lang, l.p.City.Languages)
		}
	}
	slices.SortStableFunc(l.p.Articles, func(a, b *Article) int { return strings.Compare(a.File, b.File) })
}

// crossCheck finds references between files that point nowhere.
func (l *loader) crossCheck() {
	for _, a := range l.p.Articles {
		for _, code := range a.Services {
			if _, ok := l.p.services[code]; !ok {
				l.errorf(a.File, 0, "names service %q, which services.json does not list", code)
			}
		}
	}
	for code := range l.p.Definitions {
		if _, ok := l.p.services[code]; !ok {
			l.errorf("services/"+code+".json", 0, "definition of service %q, which services.json does not list", code)
		}
	}
	for lang, defs := range l.p.DefinitionTranslations {
		for code := range defs {
			if _, ok := l.p.Definitions[code]; !ok {
				l.errorf("services/"+code+"."+lang+".json", 0, "translation of a definition that does not exist")
			}
		}
	}
	for _, s := range l.p.Services {
		_, has := l.p.Definitions[s.Code]
		if s.Metadata && !has {
			l.warnf("services.json", 0, "service %q has metadata true but no services/%s.json: only location and description will be asked", s.Code, s.Code)
		}
	}
	for _, id := range l.p.City.Popular {
		if _, ok := l.p.Resolve(id, l.p.City.DefaultLang()); !ok {
			l.errorf("city.yaml", 0, "popular topic %q is neither an article id nor a service code", id)
		}
	}
}

func (l *loader) synonyms() {
	const file = "synonyms.yaml"
	data, err := fs.ReadFile(l.fsys, file)
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	if err != nil {
		l.errorf(file, 0, "cannot read: %v", unwrapPath(err))
		return
	}
	syn, err := ParseSynonyms(data)
	if err != nil {
		l.errorf(file, yamlLine(err), "%s", yamlMsg(err))
		return
	}
	l.p.Synonyms = syn
}

// ParseSynonyms reads synonyms.yaml: per language, a list of groups, each a
// YAML list or one comma-separated string.
func ParseSynonyms(data []byte) (map[string][][]string, error) {
	var raw map[string][]yaml.Node
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return nil, err
	}
	out := map[string][][]string{}
	for lang, groups := range raw {
		for _, n := range groups {
			var group []string
			switch n.Kind {
			case yaml.ScalarNode:
				for _, s := range strings.Split(n.Value, ",") {
					group = append(group, s)
				}
			case yaml.SequenceNode:
				if err := n.Decode(&group); err != nil {
					return nil, err
				}
			default:
				return nil, fmt.Errorf("yaml: line %d: a synonym group is a list or a comma-separated string", n.Line)
			}
			var clean []string
			for _, s := range group {
				if s = strings.ToLower(strings.TrimSpace(s)); s != "" {
					clean = append(clean, s)
				}
			}
			if len(clean) < 2 {
				return nil, fmt.Errorf("yaml: line %d: a synonym group needs at least two entries", n.Line)
			}
			out[lang] = append(out[lang], clean)
		}
	}
	return out, nil
}

func (l *loader) messages() {
	entries, err := fs.ReadDir(l.fsys, "messages")
	if err != nil {
		return
	}
	for _, e := range entries {
		lang, ok := strings.CutSuffix(e.Name(), ".yaml")
		if !ok || e.IsDir() {
			continue
		}
		file := "messages/" + e.Name()
		data, err := fs.ReadFile(l.fsys, file)
		if err != nil {
			l.errorf(file, 0, "cannot read: %v", unwrapPath(err))
			continue
		}
		var m map[string]string
		if err := yaml.Unmarshal(data, &m); err != nil {
			l.errorf(file, yamlLine(err), "%s", yamlMsg(err))
			continue
		}
		l.p.Messages[lang] = m
	}
}

// decodeYAML decodes strictly: a misspelled key is an error, not a
// silently ignored setting.
func decodeYAML(data []byte, v any) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil && !errors.Is(err, errEOF) {
		return err
	}
	return nil
}

var yamlLineRE = regexp.MustCompile(`line (\d+)`)

func yamlLine(err error) int {
	m := yamlLineRE.FindStringSubmatch(err.Error())
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// yamlMsg drops the "yaml: line N:" prefix the line number already says.
func yamlMsg(err error) string {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	msg = strings.TrimPrefix(msg, "unmarshal errors:\n  ")
	return regexp.MustCompile(`^line \d+: `).ReplaceAllString(msg, "")
}

func jsonLine(data []byte, err error) int {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return lineAt(data, int(se.Offset))
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return lineAt(data, int(te.Offset))
	}
	return 0
}

func lineAt(data []byte, offset int) int {
	offset = min(max(offset, 0), len(data))
	// The decoder's offset may sit on the whitespace before a value.
	for offset < len(data) && (data[offset] == ' ' || data[offset] == '\n' || data[offset] == '\t' || data[offset] == '\r' || data[offset] == ',') {
		offset++
	}
	return bytes.Count(data[:offset], []byte("\n")) + 1
}

func lineOfString(data []byte, s string) int {
	i := bytes.Index(data, []byte(s))
	if i < 0 {
		return 0
	}
	return lineAt(data, i)
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
