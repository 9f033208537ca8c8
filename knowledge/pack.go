// Package knowledge is the city's content: the content pack (city.yaml,
// articles, the Open311 service catalogue and definitions, synonyms,
// message overrides), how it is loaded and validated, and the built-in
// language resources the search index uses. It knows nothing of search
// engines or conversations; knowledge/index builds the Bleve index from a
// Pack, and dialog reads the Pack to answer and to ask.
package knowledge

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cityline/cityline/cases"
	"gopkg.in/yaml.v3"
)

// Pack is a loaded content pack.
type Pack struct {
	City     City
	Articles []*Article // every language; a translation shares ID
	Services []cases.Service
	// Definitions by service code.
	Definitions map[string]cases.Definition
	// ServiceTranslations and DefinitionTranslations by language, then code
	// (services.<lang>.json, services/<code>.<lang>.json).
	ServiceTranslations    map[string]map[string]cases.Service
	DefinitionTranslations map[string]map[string]cases.Definition
	// Synonyms by language: groups of equivalent words or phrases, the
	// first of each group canonical.
	Synonyms map[string][][]string
	// Messages by language: overrides of the assistant's own wording.
	Messages map[string]map[string]string
	// Gazetteer is the city's places (nil when the pack has none).
	Gazetteer *Gazetteer
	// Warnings found while loading: worth fixing, not fatal.
	Warnings []Problem

	articles map[string]*Article // lang+"/"+id
	services map[string]int      // code -> index in Services
}

// City is city.yaml.
type City struct {
	Name            string   `yaml:"name"`
	JurisdictionID  string   `yaml:"jurisdiction_id"`
	Languages       []string `yaml:"languages"`
	TimeZone        string   `yaml:"time_zone"`
	Phone           string   `yaml:"phone"`
	PhoneOutside    string   `yaml:"phone_outside"`
	Website         string   `yaml:"website"`
	ReferencePrefix string   `yaml:"reference_prefix"`
	Agency          string   `yaml:"agency"`
	OfficeHours     []Hours  `yaml:"office_hours"`
	// Neighbours are places residents may mean that are not the city,
	// with whom to contact there.
	Neighbours      []Neighbour `yaml:"neighbours"`
	Popular         []string    `yaml:"popular"`
	Greeting        Text        `yaml:"greeting"`
	EmergencyNotice Text        `yaml:"emergency_notice"`

	loc *time.Location
}

// Neighbour is a nearby municipality (or other authority) the city is
// often confused with.
type Neighbour struct {
	Name    string `yaml:"name"`
	Contact Text   `yaml:"contact"`
}

// Hours is one line of office hours: days and a daily opening time.
type Hours struct {
	Days  []string `yaml:"days"`
	Open  string   `yaml:"open"`
	Close string   `yaml:"close"`
}

// Text is a string in several languages. In YAML it is either a plain
// string (the default language) or a map from language to string.
type Text map[string]string

// UnmarshalYAML accepts a string or a language map.
func (t *Text) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*t = Text{"": n.Value}
		return nil
	}
	var m map[string]string
	if err := n.Decode(&m); err != nil {
		return err
	}
	*t = Text(m)
	return nil
}

// In returns the text in lang, else in the default language, else any.
func (t Text) In(lang string) string {
	if s, ok := t[lang]; ok {
		return s
	}
	if s, ok := t[""]; ok {
		return s
	}
	keys := make([]string, 0, len(t))
	for k := range t {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if len(keys) > 0 {
		return t[keys[0]]
	}
	return ""
}

// Location is the city's time zone (UTC when unset).
func (c *City) Location() *time.Location {
	if c.loc == nil {
		return time.UTC
	}
	return c.loc
}

// DefaultLang is the pack's first language.
func (c *City) DefaultLang() string {
	if len(c.Languages) == 0 {
		return "en"
	}
	return c.Languages[0]
}

// Speaks reports whether lang is one of the pack's languages.
func (c *City) Speaks(lang string) bool {
	return slices.Contains(c.Languages, lang)
}

var weekdays = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

// IsOpen reports whether staff are at work at t, by the city's office hours.
// A city without office hours is always open.
func (c *City) IsOpen(t time.Time) bool {
	if len(c.OfficeHours) == 0 {
		return true
	}
	t = t.In(c.Location())
	day := t.Weekday()
	hm := t.Format("15:04")
	for _, h := range c.OfficeHours {
		for _, d := range h.Days {
			if weekdays[strings.ToLower(d)] == day && hm >= h.Open && hm < h.Close {
				return true
			}
		}
	}
	return false
}

// NextOpen returns when staff are next at work after t (t itself when open),
// looking at most a week ahead; ok is false for a city never open.
func (c *City) NextOpen(t time.Time) (next time.Time, ok bool) {
	t = t.In(c.Location())
	if c.IsOpen(t) {
		return t, true
	}
	for i := 0; i <= 7; i++ {
		day := t.AddDate(0, 0, i)
		var best time.Time
		for _, h := range c.OfficeHours {
			open, err := time.ParseInLocation("15:04", h.Open, c.Location())
			if err != nil {
				continue
			}
			at := time.Date(day.Year(), day.Month(), day.Day(), open.Hour(), open.Minute(), 0, 0, c.Location())
			if at.Before(t) {
				continue
			}
			for _, d := range h.Days {
				if weekdays[strings.ToLower(d)] == at.Weekday() && (best.IsZero() || at.Before(best)) {
					best = at
				}
			}
		}
		if !best.IsZero() {
			return best, true
		}
	}
	return time.Time{}, false
}

// Article is one answer of the knowledge base.
type Article struct {
	ID        string   `yaml:"id"`
	Title     string   `yaml:"title"`
	Lang      string   `yaml:"lang"`
	Keywords  []string `yaml:"keywords"`
	Questions []string `yaml:"questions"`
	Services  []string `yaml:"services"`
	URL       string   `yaml:"url"`

	Short string // first paragraph as plain text: the SMS and voice answer
	Body  string // the Markdown body
	HTML  string // the body rendered for the web
	File  string // where it came from, for error messages
}

// Article returns the article id in lang, falling back to the pack's
// default language.
func (p *Pack) Article(id, lang string) (*Article, bool) {
	if a, ok := p.articles[lang+"/"+id]; ok {
		return a, true
	}
	a, ok := p.articles[p.City.DefaultLang()+"/"+id]
	return a, ok
}

// Service returns the service with code, translated to lang when the pack
// has a translation.
func (p *Pack) Service(code, lang string) (cases.Service, bool) {
	i, ok := p.services[code]
	if !ok {
		return cases.Service{}, false
	}
	s := p.Services[i]
	if tr, ok := p.ServiceTranslations[lang][code]; ok {
		if tr.Name != "" {
			s.Name = tr.Name
		}
		if tr.Description != "" {
			s.Description = tr.Description
		}
		if tr.Keywords != "" {
			s.Keywords = tr.Keywords
		}
		if tr.Group != "" {
			s.Group = tr.Group
		}
	}
	return s, true
}

// Definition returns the definition of code, with its questions and value
// names translated to lang where the pack has them. ok is false when the
// service has no published definition.
func (p *Pack) Definition(code, lang string) (cases.Definition, bool) {
	d, ok := p.Definitions[code]
	if !ok {
		return cases.Definition{}, false
	}
	tr, ok := p.DefinitionTranslations[lang][code]
	if !ok {
		return d, true
	}
	out := cases.Definition{Code: d.Code, Attributes: slices.Clone(d.Attributes)}
	for i, a := range out.Attributes {
		for _, ta := range tr.Attributes {
			if ta.Code != a.Code {
				continue
			}
			if ta.Description != "" {
				a.Description = ta.Description
			}
			if ta.DatatypeDescription != "" {
				a.DatatypeDescription = ta.DatatypeDescription
			}
			a.Values = slices.Clone(a.Values)
			for j, v := range a.Values {
				for _, tv := range ta.Values {
					if tv.Key == v.Key && tv.Name != "" {
						a.Values[j].Name = tv.Name
					}
				}
			}
			out.Attributes[i] = a
		}
	}
	return out, true
}

// Topic is a popular topic: an article or a service, by id or code.
type Topic struct {
	Kind  string // "answer" or "service"
	ID    string
	Title string
}

// Resolve turns an id or code into a topic in lang.
func (p *Pack) Resolve(id, lang string) (Topic, bool) {
	if a, ok := p.Article(id, lang); ok {
		return Topic{Kind: "answer", ID: id, Title: a.Title}, true
	}
	if s, ok := p.Service(id, lang); ok {
		return Topic{Kind: "service", ID: id, Title: s.Name}, true
	}
	return Topic{}, false
}

// PopularTopics is the pack's own ordering of popular topics, the default
// before any usage is known.
func (p *Pack) PopularTopics(lang string) []Topic {
	var out []Topic
	for _, id := range p.City.Popular {
		if t, ok := p.Resolve(id, lang); ok {
			out = append(out, t)
		}
	}
	return out
}

func (p *Pack) index() {
	p.articles = make(map[string]*Article, len(p.Articles))
	for _, a := range p.Articles {
		p.articles[a.Lang+"/"+a.ID] = a
	}
	p.services = make(map[string]int, len(p.Services))
	for i, s := range p.Services {
		p.services[s.Code] = i
	}
}

// Problem is something wrong in a content pack, with where it is.
type Problem struct {
	File    string
	Line    int // 0 when unknown
	Msg     string
	Warning bool
}

func (p Problem) String() string {
	kind := "error"
	if p.Warning {
		kind = "warning"
	}
	if p.Line > 0 {
		return fmt.Sprintf("%s:%d: %s: %s", p.File, p.Line, kind, p.Msg)
	}
	return fmt.Sprintf("%s: %s: %s", p.File, kind, p.Msg)
}

// Problems is the error Load returns when a pack has errors.
type Problems []Problem

func (ps Problems) Error() string {
	var b strings.Builder
	n := 0
	for _, p := range ps {
		if !p.Warning {
			n++
		}
	}
	fmt.Fprintf(&b, "content pack has %d problem(s)", n)
	for _, p := range ps {
		if !p.Warning {
			b.WriteString("\n  " + p.String())
		}
	}
	return b.String()
}
