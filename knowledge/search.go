package knowledge

// SearchResult is what a search of a pack found and how it read the
// message. knowledge/index produces it; the router consumes it.
type SearchResult struct {
	Lang string
	// Terms are the message's terms after analysis, correction and
	// synonyms; Related the lexicon's additions.
	Terms     []string
	Related   []string
	Corrected map[string]string // typo -> dictionary word
	// Meaningful counts the message's terms that some document uses and
	// that are not filler: how much there was to go on.
	Meaningful int
	Hits       []Hit
}

// Kinds of searchable documents.
const (
	KindArticle = "article"
	KindService = "service"
)

// Hit is one ranked document.
type Hit struct {
	Kind  string // KindArticle or KindService
	ID    string
	Score float64 // the search engine's own relevance
	// Coverage is the share of the message's meaning (terms weighted by
	// rarity, filler discounted, and by the field they matched in) that
	// this document accounts for, 0..1: unlike BM25 it means the same in
	// any pack, so confidence can be calibrated once.
	Coverage float64
	// Name is the share of the document's name the message mentions.
	Name float64
	// Where says how the message matched: the share of its weight matched
	// directly in the name, keywords, example questions, main text, group
	// and other text, and the share matched only through related words.
	Where [7]float64
	// Phrase is the best share of one of the document's own phrases (its
	// name, a keyword, an example question) that the message contains:
	// "cold weather" half-matched by "weather" is 0.5, "pothole" is 1.
	Phrase float64
}
