package index_test

import (
	"testing/fstest"
)

// mapFS makes an in-memory content pack from file names and contents.
func mapFS(files map[string]string) fstest.MapFS {
	fs := fstest.MapFS{}
	for name, body := range files {
		fs[name] = &fstest.MapFile{Data: []byte(body)}
	}
	return fs
}
