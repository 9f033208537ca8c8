package cases

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// SQLStore is the Store over database/sql shared by the SQLite and
// PostgreSQL packages, which bring the driver, the schema and a Dialect.
// Keeping one implementation means one behaviour: the same contract tests
// pass on both.
type SQLStore struct {
	DB      *sql.DB
	Dialect Dialect
	Prefix  string           // reference prefix, EX in EX-004211
	Now     func() time.Time // the clock

	// queue is on in upstream mode: Create then also queues each new
	// case for the city's upstream Open311 server (see upstream.go).
	queue atomic.Bool
}

// Dialect is what differs between SQL databases.
type Dialect struct {
	Name string
	// Dollar is true for $1 placeholders (PostgreSQL), false for ?.
	Dollar bool
	// Unavailable reports whether an error means the database cannot be
	// reached (rather than a bad query).
	Unavailable func(error) bool
}

const caseColumns = `id, ref, idem_key, token, service_code, service_name, status, status_notes,
	description, agency, notice, requested, updated, expected, address, address_id, zipcode,
	lat, long, media, attributes, channel, lang, phone, email, first_name, last_name,
	device_id, account_id, notify, conversation`

func (s *SQLStore) q(query string) string { return Rebind(query, s.Dialect.Dollar) }

// Rebind rewrites ? placeholders as $1, $2... when dollar is true
// (PostgreSQL); queries here never hold a literal question mark.
func Rebind(query string, dollar bool) string {
	if !dollar {
		return query
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func (s *SQLStore) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *SQLStore) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	if s.Dialect.Unavailable != nil && s.Dialect.Unavailable(err) && !errors.Is(err, ErrUnavailable) {
		return fmt.Errorf("%s: %w: %v", op, ErrUnavailable, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// Create implements Store.
func (s *SQLStore) Create(ctx context.Context, c *Case) error {
	if c.ServiceCode == "" {
		return fmt.Errorf("create case: %w: no service code", ErrInvalid)
	}
	if c.Status == "" {
		c.Status = StatusOpen
	}
	now := s.now()
	if c.Requested.IsZero() {
		c.Requested = now
	}
	if c.Updated.IsZero() {
		c.Updated = c.Requested
	}
	var lat, long any
	if c.Location != nil {
		lat, long = c.Location.Lat, c.Location.Long
	}
	tx, err := s.DB.BeginTx(ctx, nil)
	if err != nil {
		return s.wrap("create case", err)
	}
	defer tx.Rollback()
	var id int64
	err = tx.QueryRowContext(ctx, s.q(`INSERT INTO cases (idem_key, token, service_code, service_name,
		status, status_notes, description, agency, notice, requested, updated, expected, address,
		address_id, zipcode, lat, long, media, attributes, channel, lang, phone, email, first_name,
		last_name, device_id, account_id, notify, conversation)
		VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
		ON CONFLICT (idem_key) DO NOTHING RETURNING id`),
		nullString(c.Key), nullString(c.Token), c.ServiceCode, c.ServiceName, string(c.Status),
		c.StatusNotes, c.Description, c.Agency, c.Notice, FormatTime(c.Requested), FormatTime(c.Updated),
		FormatTime(c.Expected), c.Address, c.AddressID, c.Zipcode, lat, long, EncodeJSON(c.MediaURLs),
		EncodeJSON(c.Attributes), c.Channel, c.Lang, c.Contact.Phone, c.Contact.Email, c.Contact.FirstName,
		c.Contact.LastName, c.Contact.DeviceID, c.Contact.AccountID, boolInt(c.Contact.Notify), c.Conversation,
	).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		// The same submission was filed before: hand back that case.
		tx.Rollback()
		existing, err := s.one(ctx, "WHERE idem_key = ?", c.Key)
		if err != nil {
			return s.wrap("create case: find existing", err)
		}
		*c = *existing
		return fmt.Errorf("create case: key %q: %w", c.Key, ErrConflict)
	}
	if err != nil {
		return s.wrap("create case", err)
	}
	ref := FormatRef(s.Prefix, id)
	if c.Token != "" && c.Ref == "" {
		ref = "" // batch: the reference comes later
	}
	if ref != "" {
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE cases SET ref = ? WHERE id = ?`), ref, id); err != nil {
			return s.wrap("create case: set reference", err)
		}
	}
	if s.queue.Load() {
		// In the same transaction: a case is never stored without being
		// queued for the upstream, nor queued without being stored.
		if err := s.enqueue(ctx, tx, id, c.Status, now); err != nil {
			return s.wrap("create case: queue for upstream", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return s.wrap("create case: commit", err)
	}
	c.ID, c.Ref = id, ref
	return nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Get implements Store.
func (s *SQLStore) Get(ctx context.Context, ref string) (*Case, error) {
	c, err := s.one(ctx, "WHERE ref = ?", NormalizeRef(ref))
	if err != nil {
		return nil, s.wrap("get case "+ref, err)
	}
	return c, nil
}

// GetByToken returns the case filed with an Open311 token.
func (s *SQLStore) GetByToken(ctx context.Context, token string) (*Case, error) {
	c, err := s.one(ctx, "WHERE token = ?", token)
	if err != nil {
		return nil, s.wrap("get case by token", err)
	}
	return c, nil
}

// ResolveToken returns the case filed with an Open311 token, giving it
// its reference first when it has none yet (a batch request becomes a
// numbered case the first time anyone asks).
func (s *SQLStore) ResolveToken(ctx context.Context, token string) (*Case, error) {
	if token == "" {
		return nil, fmt.Errorf("resolve token: %w", ErrNotFound)
	}
	c, err := s.GetByToken(ctx, token)
	if err != nil || c.Ref != "" {
		return c, err
	}
	ref := FormatRef(s.Prefix, c.ID)
	if _, err := s.DB.ExecContext(ctx, s.q(`UPDATE cases SET ref = ? WHERE id = ? AND ref IS NULL`), ref, c.ID); err != nil {
		return nil, s.wrap("resolve token", err)
	}
	// Read it back: a concurrent resolver may have set it first.
	c, err = s.one(ctx, "WHERE id = ?", c.ID)
	if err != nil {
		return nil, s.wrap("resolve token", err)
	}
	return c, nil
}

func (s *SQLStore) one(ctx context.Context, where string, args ...any) (*Case, error) {
	row := s.DB.QueryRowContext(ctx, s.q(`SELECT `+caseColumns+` FROM cases `+where), args...)
	c, err := scanCase(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	return c, err
}

type scanner interface{ Scan(...any) error }

func scanCase(r scanner) (*Case, error) {
	var (
		c                                    Case
		ref, key, token                      sql.NullString
		status, requested, updated, expected string
		lat, long                            sql.NullFloat64
		media, attrs                         string
		notify                               int
	)
	err := r.Scan(&c.ID, &ref, &key, &token, &c.ServiceCode, &c.ServiceName, &status, &c.StatusNotes,
		&c.Description, &c.Agency, &c.Notice, &requested, &updated, &expected, &c.Address, &c.AddressID,
		&c.Zipcode, &lat, &long, &media, &attrs, &c.Channel, &c.Lang, &c.Contact.Phone, &c.Contact.Email,
		&c.Contact.FirstName, &c.Contact.LastName, &c.Contact.DeviceID, &c.Contact.AccountID, &notify, &c.Conversation)
	if err != nil {
		return nil, err
	}
	c.Ref, c.Key, c.Token = ref.String, key.String, token.String
	c.Status = Status(status)
	c.Requested, c.Updated, c.Expected = ParseTime(requested), ParseTime(updated), ParseTime(expected)
	if lat.Valid && long.Valid {
		c.Location = &Point{Lat: lat.Float64, Long: long.Float64}
	}
	c.Contact.Notify = notify != 0
	if err := DecodeJSON(media, &c.MediaURLs); err != nil {
		return nil, fmt.Errorf("case %d media: %w", c.ID, err)
	}
	if err := DecodeJSON(attrs, &c.Attributes); err != nil {
		return nil, fmt.Errorf("case %d attributes: %w", c.ID, err)
	}
	return &c, nil
}

// List implements Store.
func (s *SQLStore) List(ctx context.Context, f Filter) ([]*Case, error) {
	var where []string
	var args []any
	if len(f.Refs) > 0 {
		var ph []string
		for _, r := range f.Refs {
			ph = append(ph, "?")
			args = append(args, NormalizeRef(r))
		}
		where = append(where, "ref IN ("+strings.Join(ph, ",")+")")
	} else {
		if len(f.ServiceCodes) > 0 {
			var ph []string
			for _, c := range f.ServiceCodes {
				ph = append(ph, "?")
				args = append(args, c)
			}
			where = append(where, "service_code IN ("+strings.Join(ph, ",")+")")
		}
		if f.Status != "" {
			where = append(where, "status = ?")
			args = append(args, string(f.Status))
		}
		if !f.Start.IsZero() {
			where = append(where, "requested >= ?")
			args = append(args, FormatTime(f.Start))
		}
		if !f.End.IsZero() {
			where = append(where, "requested < ?")
			args = append(args, FormatTime(f.End))
		}
		if f.Phone != "" {
			where = append(where, "phone = ?")
			args = append(args, f.Phone)
		}
		if f.Near != nil && f.RadiusM > 0 {
			minLat, maxLat, minLong, maxLong := BoundingBox(*f.Near, f.RadiusM)
			where = append(where, "lat BETWEEN ? AND ? AND long BETWEEN ? AND ?")
			args = append(args, minLat, maxLat, minLong, maxLong)
		}
	}
	query := `SELECT ` + caseColumns + ` FROM cases`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 1000
	}
	exact := f.Near != nil && f.RadiusM > 0 && len(f.Refs) == 0
	query += " ORDER BY requested DESC, id DESC"
	if !exact {
		query += " LIMIT ? OFFSET ?"
		args = append(args, limit, f.Offset)
	}
	rows, err := s.DB.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, s.wrap("list cases", err)
	}
	defer rows.Close()
	var out []*Case
	for rows.Next() {
		c, err := scanCase(rows)
		if err != nil {
			return nil, s.wrap("list cases", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap("list cases", err)
	}
	if exact {
		// The box was a coarse filter; keep what is truly within the radius.
		out = slices.DeleteFunc(out, func(c *Case) bool { return DistanceM(*f.Near, *c.Location) > f.RadiusM })
		out = out[min(f.Offset, len(out)):]
		out = out[:min(limit, len(out))]
	}
	return out, nil
}

// Update implements Store. When the status or the notes really change, a
// notification is recorded in the same transaction (see notify.go),
// whichever process makes the change: serve tells whoever asked to hear.
func (s *SQLStore) Update(ctx context.Context, ref string, ch Change) (*Case, error) {
	var set []string
	var args []any
	var status Status
	if ch.Status != nil {
		st, err := ParseStatus(string(*ch.Status))
		if err != nil {
			return nil, fmt.Errorf("update case %s: %w", ref, err)
		}
		status = st
		set = append(set, "status = ?")
		args = append(args, string(st)) // as parsed: " Closed" is stored as closed
	}
	if ch.Notes != nil {
		set = append(set, "status_notes = ?")
		args = append(args, *ch.Notes)
	}
	if ch.Expected != nil {
		set = append(set, "expected = ?")
		args = append(args, FormatTime(*ch.Expected))
	}
	if ch.Ref != nil {
		// Stored as Get will look it up, or the case could not be found again.
		set = append(set, "ref = ?")
		args = append(args, NormalizeRef(*ch.Ref))
	}
	now := s.now()
	set = append(set, "updated = ?")
	args = append(args, FormatTime(now))

	tx, err := s.DB.BeginTx(ctx, nil)
	if err != nil {
		return nil, s.wrap("update case "+ref, err)
	}
	defer tx.Rollback()
	var (
		id            int64
		before, notes string
	)
	lock := ""
	if s.Dialect.Name == "postgres" {
		lock = " FOR UPDATE" // SQLite's transactions already hold the write lock
	}
	err = tx.QueryRowContext(ctx, s.q(`SELECT id, status, status_notes FROM cases WHERE ref = ?`+lock),
		NormalizeRef(ref)).Scan(&id, &before, &notes)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("update case %s: %w", ref, ErrNotFound)
	}
	if err != nil {
		return nil, s.wrap("update case "+ref, err)
	}
	args = append(args, id)
	if _, err := tx.ExecContext(ctx, s.q(`UPDATE cases SET `+strings.Join(set, ", ")+` WHERE id = ?`), args...); err != nil {
		return nil, s.wrap("update case "+ref, err)
	}
	changed := (ch.Status != nil && string(status) != before) || (ch.Notes != nil && *ch.Notes != notes)
	if changed {
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO notifications (case_id, created) VALUES (?, ?)`),
			id, FormatTime(now)); err != nil {
			return nil, s.wrap("update case "+ref+": record notification", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, s.wrap("update case "+ref+": commit", err)
	}
	c, err := s.one(ctx, "WHERE id = ?", id)
	if err != nil {
		return nil, s.wrap("update case "+ref, err)
	}
	return c, nil
}

// Ping implements Store.
func (s *SQLStore) Ping(ctx context.Context) error {
	return s.wrap("ping", s.DB.PingContext(ctx))
}

// Close implements Store.
func (s *SQLStore) Close() error { return s.DB.Close() }

// Migrate applies the numbered .sql files of fsys (001_name.sql, ...) not
// yet applied, each in its own transaction, recording them in
// schema_migrations.
func Migrate(ctx context.Context, db *sql.DB, fsys fs.FS, dollar bool) error {
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	slices.Sort(names)
	for _, name := range names {
		v, err := strconv.Atoi(strings.SplitN(name, "_", 2)[0])
		if err != nil {
			return fmt.Errorf("migrate: %s: name must start with a number", name)
		}
		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		if err := migrateOne(ctx, db, v, string(body), dollar); err != nil {
			return fmt.Errorf("migrate %s: %w", name, err)
		}
	}
	return nil
}

func migrateOne(ctx context.Context, db *sql.DB, v int, body string, dollar bool) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	check := `SELECT COUNT(*) FROM schema_migrations WHERE version = ?`
	ins := `INSERT INTO schema_migrations (version) VALUES (?)`
	if dollar {
		check = strings.Replace(check, "?", "$1", 1)
		ins = strings.Replace(ins, "?", "$1", 1)
	}
	var n int
	if err := tx.QueryRowContext(ctx, check, v).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, body); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, ins, v); err != nil {
		return err
	}
	return tx.Commit()
}
