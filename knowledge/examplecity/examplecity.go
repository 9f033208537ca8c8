// Package examplecity embeds the Example City content pack: the content
// Cityline serves when no --content folder is given, and the pack the
// tests and the demo page use. It is written in our own words to read like
// a real Canadian city's 311 service.
package examplecity

import (
	"embed"
	"io/fs"
)

//go:embed all:pack
var pack embed.FS

// FS returns the pack's files, rooted at the pack folder.
func FS() fs.FS {
	sub, err := fs.Sub(pack, "pack")
	if err != nil {
		panic(err) // the folder is embedded above; it cannot be missing
	}
	return sub
}
