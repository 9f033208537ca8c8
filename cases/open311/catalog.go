package open311

import (
	"context"
	"fmt"

	"github.com/cityline/cityline/cases"
)

// Catalog is where the service list and definitions come from: the
// content pack (StaticCatalog), or in upstream mode the upstream's
// (Cache).
type Catalog interface {
	// Services returns the service list, in the publisher's order.
	Services(ctx context.Context) ([]cases.Service, error)
	// Definition returns the definition of a service, or an error
	// wrapping cases.ErrNotFound when none was published.
	Definition(ctx context.Context, code string) (cases.Definition, error)
}

// StaticCatalog is a Catalog that does not change while it serves, such
// as a content pack's.
type StaticCatalog struct {
	List        []cases.Service
	Definitions map[string]cases.Definition // by service code
}

var _ Catalog = StaticCatalog{}

// Services implements Catalog.
func (s StaticCatalog) Services(context.Context) ([]cases.Service, error) { return s.List, nil }

// Definition implements Catalog.
func (s StaticCatalog) Definition(_ context.Context, code string) (cases.Definition, error) {
	d, ok := s.Definitions[code]
	if !ok {
		return cases.Definition{}, fmt.Errorf("definition of %q: %w", code, cases.ErrNotFound)
	}
	return d, nil
}

// findService returns the service with code.
func findService(list []cases.Service, code string) (cases.Service, bool) {
	for _, s := range list {
		if s.Code == code {
			return s, true
		}
	}
	return cases.Service{}, false
}
