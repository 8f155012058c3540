// Command search keeps a tiny inverted index in MiniKV, the way a search
// engine such as MiniSearchDB can use it as its posting store. Documents
// are stored as doc/<id>; each word of a document adds a posting key
// term/<word>/<id> with an empty value. A query scans the prefix
// term/<word>/ of each of its words and keeps the documents found for all
// of them (AND). Re-indexing a document swaps its postings in one atomic
// batch, so a query never sees a document half indexed.
package main

import (
	"fmt"
	"log"
	"os"
	"slices"
	"strings"
	"unicode"

	"github.com/minikv/minikv"
)

var docs = map[string]string{
	"1": "The quick brown fox jumps over the lazy dog",
	"2": "A quick brown dog outpaces a lazy fox",
	"3": "Foxes are quick and clever animals",
	"4": "The dog sleeps all day in the sun",
	"5": "Brown bears and brown foxes share the forest",
}

// words splits text into distinct lower-case words.
func words(text string) []string {
	ws := strings.FieldsFunc(strings.ToLower(text), func(r rune) bool { return !unicode.IsLetter(r) })
	slices.Sort(ws)
	return slices.Compact(ws)
}

// index stores a document and its postings, replacing the postings of a
// previous version of it, in one atomic batch.
func index(db *minikv.DB, id, text string) error {
	b := db.NewBatch()
	if old, err := db.Get("doc/" + id); err == nil {
		for _, w := range words(string(old)) {
			b.Delete("term/" + w + "/" + id)
		}
	}
	b.Set("doc/"+id, []byte(text))
	for _, w := range words(text) {
		b.Set("term/"+w+"/"+id, nil)
	}
	return b.Write()
}

// postings returns the ids of the documents that hold word, in key order.
// The trailing slash keeps "fox" from matching the postings of "foxes".
func postings(db *minikv.DB, word string) ([]string, error) {
	prefix := "term/" + word + "/"
	var ids []string
	for item, err := range db.All(prefix) {
		if err != nil {
			return nil, err
		}
		ids = append(ids, strings.TrimPrefix(item.Key, prefix))
	}
	return ids, nil
}

// search returns the ids of the documents that hold every word of query.
func search(db *minikv.DB, query string) ([]string, error) {
	var result []string
	for i, w := range words(query) {
		ids, err := postings(db, w)
		if err != nil {
			return nil, err
		}
		if i == 0 {
			result = ids
			continue
		}
		result = slices.DeleteFunc(result, func(id string) bool { return !slices.Contains(ids, id) })
	}
	return result, nil
}

func show(db *minikv.DB, query string) {
	ids, err := search(db, query)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%-18q -> %d match(es)\n", query, len(ids))
	for _, id := range ids {
		text, err := db.Get("doc/" + id)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("    doc %s: %s\n", id, text)
	}
}

func main() {
	dir, err := os.MkdirTemp("", "minikv-search-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	db, err := minikv.Open(minikv.Options{Dir: dir})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	ids := make([]string, 0, len(docs))
	for id := range docs {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		if err := index(db, id, docs[id]); err != nil {
			log.Fatal(err)
		}
	}
	terms, err := db.Keys("term/*")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("indexed %d documents, %d postings\n", len(docs), len(terms))

	show(db, "quick fox")
	show(db, "brown")
	show(db, "lazy dog")

	// Glob patterns read the postings the other way round: the words of
	// document 3.
	keys, err := db.Keys("term/*/3")
	if err != nil {
		log.Fatal(err)
	}
	var ws []string
	for _, k := range keys {
		ws = append(ws, strings.Split(k, "/")[1])
	}
	fmt.Printf("words of doc 3: %s\n", strings.Join(ws, " "))

	if err := index(db, "4", "The lazy dog sleeps next to a quick fox"); err != nil {
		log.Fatal(err)
	}
	fmt.Println("after re-indexing doc 4:")
	show(db, "quick fox")
	show(db, "sun")
}
