package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cityline/cityline/cases"
	"github.com/cityline/cityline/cases/postgres"
	"github.com/cityline/cityline/cases/sqlite"
	"github.com/cityline/cityline/dialog"
	"github.com/cityline/cityline/dialog/locale"
	"github.com/cityline/cityline/knowledge"
	"github.com/cityline/cityline/knowledge/examplecity"
	"github.com/cityline/cityline/knowledge/index"
)

var errUsage = errors.New("usage")

// exitError ends a command with a code and a message.
type exitError struct {
	code int
	msg  string
}

func (e exitError) Error() string { return e.msg }

func asExit(err error, ex *exitError) bool { return errors.As(err, ex) }

// env returns the environment variable, or def.
func env(name, def string) string {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		return v
	}
	return def
}

// newFlags returns a flag set that prints its usage to stderr.
func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("cityline "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parse parses flags wherever they are among the arguments ("test FILE
// --content DIR" works as well as "test --content DIR FILE"); after "--"
// everything is an argument.
func parse(fs *flag.FlagSet, args []string) error {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return exitError{code: 0}
			}
			return errUsage
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			positional = append(positional, rest...)
			break
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
	// Leave the positional arguments where fs.Args() finds them.
	return fs.Parse(append([]string{"--"}, positional...))
}

// contentFlag registers --content (CITYLINE_CONTENT).
func contentFlag(fs *flag.FlagSet) *string {
	return fs.String("content", env("CITYLINE_CONTENT", ""), "content pack folder (default: the embedded Example City pack) [CITYLINE_CONTENT]")
}

// storeFlags are the case store settings every command that touches cases
// shares.
type storeFlags struct {
	data     *string
	postgres *string
}

func addStoreFlags(fs *flag.FlagSet) storeFlags {
	return storeFlags{
		data:     fs.String("data", env("CITYLINE_DATA", defaultDataDir()), "folder for the SQLite case file [CITYLINE_DATA]"),
		postgres: fs.String("postgres", env("CITYLINE_POSTGRES_URL", ""), "PostgreSQL URL; when set, cases live there instead of SQLite [CITYLINE_POSTGRES_URL]"),
	}
}

// defaultDataDir is where cases live when --data is not given: the user's
// data folder ($XDG_DATA_HOME/cityline or ~/.local/share/cityline).
func defaultDataDir() string {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "cityline")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "share", "cityline")
	}
	return "cityline-data"
}

// openStore opens the case store the flags name.
func openStore(ctx context.Context, sf storeFlags, prefix string) (cases.Store, error) {
	if *sf.postgres != "" {
		return openPostgres(ctx, *sf.postgres, prefix)
	}
	path := filepath.Join(*sf.data, "cases.db")
	return sqlite.Open(ctx, path, prefix, nil)
}

// packFS returns the content pack folder, or the embedded Example City.
func packFS(dir string) fs.FS {
	if dir == "" {
		return examplecity.FS()
	}
	return os.DirFS(dir)
}

// loadPack loads and validates a content pack.
func loadPack(dir string) (*knowledge.Pack, error) {
	p, err := knowledge.Load(packFS(dir))
	if err != nil {
		where := dir
		if where == "" {
			where = "embedded Example City pack"
		}
		return nil, fmt.Errorf("load %s: %w", where, err)
	}
	return p, nil
}

// brain is what understanding a message needs: the pack, its index, the
// wording and the router.
type brain struct {
	pack    *knowledge.Pack
	index   *index.Index
	catalog *locale.Catalog
	router  *dialog.Router
}

func newBrain(dir string) (*brain, error) {
	p, err := loadPack(dir)
	if err != nil {
		return nil, err
	}
	ix, err := index.Build(p)
	if err != nil {
		return nil, fmt.Errorf("build index: %w", err)
	}
	cat, err := locale.New(p.City.Languages, p.Messages)
	if err != nil {
		return nil, err
	}
	return &brain{pack: p, index: ix, catalog: cat, router: dialog.NewRouter(p, ix, cat)}, nil
}

// engine builds a dialog engine over the brain.
func (b *brain) engine(desk dialog.CaseDesk, log *slog.Logger, now func() time.Time) (*dialog.Engine, error) {
	return dialog.New(dialog.Config{Pack: b.pack, Router: b.router, Catalog: b.catalog, Cases: desk,
		Logger: log, Now: now})
}

// noCases is the case desk of commands that never file a case (ask).
type noCases struct{}

func (noCases) Create(context.Context, *cases.Case) error { return cases.ErrUnavailable }
func (noCases) Get(_ context.Context, ref string) (*cases.Case, error) {
	return nil, fmt.Errorf("get %s: %w", ref, cases.ErrNotFound)
}
func (noCases) List(context.Context, cases.Filter) ([]*cases.Case, error) { return nil, nil }

// splitList splits a comma-separated setting.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func openPostgres(ctx context.Context, url, prefix string) (cases.Store, error) {
	return postgres.Open(ctx, url, prefix, nil)
}
