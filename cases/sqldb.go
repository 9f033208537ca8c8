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
	"sync"
	"sync/atomic"
	"time"
)

// SQLStore is the Store over database/sql shared by the SQLite and
// PostgreSQL packages, which bring the driver, the schema and a Dialect.
// Keeping one implementation means one behaviour: the same contract tests
// pass on both.
type SQLStore struct {
	DB *sql.DB
	// Reads, when set, answers the queries that only read (cases,
	// opt-outs, followers, handoff threads) while DB does all the writing.
	// SQLite in WAL mode lets readers run beside its one writer, so a
	// resident's message never waits behind another resident's case
	// being synced to disk. Nil: DB does both.
	Reads   *sql.DB
	Dialect Dialect
	Prefix  string           // reference prefix, EX in EX-004211
	Now     func() time.Time // the clock

	// queue is on in upstream mode: Create then also queues each new
	// case for the city's upstream Open311 server (see upstream.go).
	queue atomic.Bool

	// GroupCommit files cases created at the same time in one
	// transaction (see createGrouped); sqlite.Open turns it on.
	GroupCommit bool
	groupOnce   sync.Once
	group       chan *pendingCreate
	groupStop   chan struct{}
	groupDone   chan struct{}
	stopOnce    sync.Once

	// stmts are the prepared statements of the frequent queries, on
	// SQLite, whose driver would otherwise compile each query every time
	// (pgx keeps its own cache).
	stmts  sync.Map // stmtKey -> *sql.Stmt
	nstmts atomic.Int32
}

type stmtKey struct {
	db    *sql.DB
	query string
}

// maxStmts bounds the prepared statements kept (a List with a long list of
// references is a query of its own).
const maxStmts = 64

// reads is the database queries that only read go to.
func (s *SQLStore) reads() *sql.DB {
	if s.Reads != nil {
		return s.Reads
	}
	return s.DB
}

// stmt returns query prepared on db, once, when statements are kept;
// nil otherwise (the caller then runs the query directly).
func (s *SQLStore) stmt(ctx context.Context, db *sql.DB, query string) *sql.Stmt {
	if s.Dialect.Name != "sqlite" {
		return nil
	}
	key := stmtKey{db, query}
	if v, ok := s.stmts.Load(key); ok {
		return v.(*sql.Stmt)
	}
	if s.nstmts.Load() >= maxStmts {
		return nil
	}
	st, err := db.PrepareContext(ctx, query)
	if err != nil {
		return nil // the query run directly reports it
	}
	if v, loaded := s.stmts.LoadOrStore(key, st); loaded {
		st.Close()
		return v.(*sql.Stmt)
	}
	s.nstmts.Add(1)
	return st
}

// queryRow runs a one-row query on db.
func (s *SQLStore) queryRow(ctx context.Context, db *sql.DB, query string, args ...any) *sql.Row {
	query = s.q(query)
	if st := s.stmt(ctx, db, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return db.QueryRowContext(ctx, query, args...)
}

// query runs a query on db.
func (s *SQLStore) query(ctx context.Context, db *sql.DB, query string, args ...any) (*sql.Rows, error) {
	query = s.q(query)
	if st := s.stmt(ctx, db, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return db.QueryContext(ctx, query, args...)
}

// prepared returns query's statement on db when it has been prepared.
func (s *SQLStore) prepared(db *sql.DB, query string) *sql.Stmt {
	if v, ok := s.stmts.Load(stmtKey{db, query}); ok {
		return v.(*sql.Stmt)
	}
	return nil
}

// Statements Create runs in its transaction. A transaction holds
// SQLite's one writing connection, so they cannot be prepared meanwhile:
// PrepareWrites prepares them beforehand.
const (
	insertCase = `INSERT INTO cases (idem_key, token, service_code, service_name,
		status, status_notes, description, agency, notice, requested, updated, expected, address,
		address_id, zipcode, lat, long, media, attributes, channel, lang, phone, email, first_name,
		last_name, device_id, account_id, notify, conversation)
		VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
		ON CONFLICT (idem_key) DO NOTHING RETURNING id`
	setCaseRef = `UPDATE cases SET ref = ? WHERE id = ?`
)

// PrepareWrites prepares the statements that file a case, on SQLite;
// sqlite.Open calls it. Without it they are compiled on every use.
func (s *SQLStore) PrepareWrites(ctx context.Context) {
	for _, q := range []string{insertCase, setCaseRef} {
		s.stmt(ctx, s.DB, s.q(q))
	}
}

// txQueryRow runs a one-row query in tx (a transaction on DB).
func (s *SQLStore) txQueryRow(ctx context.Context, tx *sql.Tx, query string, args ...any) *sql.Row {
	query = s.q(query)
	if st := s.prepared(s.DB, query); st != nil {
		return tx.StmtContext(ctx, st).QueryRowContext(ctx, args...)
	}
	return tx.QueryRowContext(ctx, query, args...)
}

// txExec runs a statement in tx (a transaction on DB).
func (s *SQLStore) txExec(ctx context.Context, tx *sql.Tx, query string, args ...any) (sql.Result, error) {
	query = s.q(query)
	if st := s.prepared(s.DB, query); st != nil {
		return tx.StmtContext(ctx, st).ExecContext(ctx, args...)
	}
	return tx.ExecContext(ctx, query, args...)
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
	if s.GroupCommit {
		return s.createGrouped(ctx, c, now)
	}
	return s.createOne(ctx, c, now)
}

// createOne files one case in a transaction of its own.
func (s *SQLStore) createOne(ctx context.Context, c *Case, now time.Time) error {
	tx, err := s.DB.BeginTx(ctx, nil)
	if err != nil {
		return s.wrap("create case", err)
	}
	defer tx.Rollback()
	id, ref, err := s.insert(ctx, tx, c, now)
	if errors.Is(err, sql.ErrNoRows) {
		// The same submission was filed before: hand back that case.
		tx.Rollback()
		return s.existing(ctx, c)
	}
	if err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return s.wrap("create case: commit", err)
	}
	c.ID, c.Ref = id, ref
	return nil
}

// insert writes c in tx: the row, its reference, and in upstream mode
// its place in the outbox. sql.ErrNoRows: a case with c's key exists.
func (s *SQLStore) insert(ctx context.Context, tx *sql.Tx, c *Case, now time.Time) (id int64, ref string, err error) {
	var lat, long any
	if c.Location != nil {
		lat, long = c.Location.Lat, c.Location.Long
	}
	err = s.txQueryRow(ctx, tx, insertCase,
		nullString(c.Key), nullString(c.Token), c.ServiceCode, c.ServiceName, string(c.Status),
		c.StatusNotes, c.Description, c.Agency, c.Notice, FormatTime(c.Requested), FormatTime(c.Updated),
		FormatTime(c.Expected), c.Address, c.AddressID, c.Zipcode, lat, long, EncodeJSON(c.MediaURLs),
		EncodeJSON(c.Attributes), c.Channel, c.Lang, c.Contact.Phone, c.Contact.Email, c.Contact.FirstName,
		c.Contact.LastName, c.Contact.DeviceID, c.Contact.AccountID, boolInt(c.Contact.Notify), c.Conversation,
	).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, "", err
	}
	if err != nil {
		return 0, "", s.wrap("create case", err)
	}
	ref = FormatRef(s.Prefix, id)
	if c.Token != "" && c.Ref == "" {
		ref = "" // batch: the reference comes later
	}
	if ref != "" {
		if _, err := s.txExec(ctx, tx, setCaseRef, ref, id); err != nil {
			return 0, "", s.wrap("create case: set reference", err)
		}
	}
	if s.queue.Load() {
		// In the same transaction: a case is never stored without being
		// queued for the upstream, nor queued without being stored.
		if err := s.enqueue(ctx, tx, id, c.Status, now); err != nil {
			return 0, "", s.wrap("create case: queue for upstream", err)
		}
	}
	return id, ref, nil
}

// existing hands back, as c, the case filed before with c's key.
func (s *SQLStore) existing(ctx context.Context, c *Case) error {
	existing, err := s.one(ctx, "WHERE idem_key = ?", c.Key)
	if err != nil {
		return s.wrap("create case: find existing", err)
	}
	*c = *existing
	return fmt.Errorf("create case: key %q: %w", c.Key, ErrConflict)
}

// Group commit. SQLite has one writer, and a commit in synchronous FULL
// waits for the disk. Filed one by one, cases queue for the writing
// connection, each handed over to the next waiter in turn; on a busy
// machine every handover waits for the waiter to be scheduled, and the
// queue grows. With GroupCommit, cases filed at the same time go in one
// transaction: one goroutine takes every case waiting, writes them all,
// commits once, and answers each. Each Create still returns only once its
// case is committed to disk. If anything in a group fails, the group is
// rolled back and each of its cases is filed alone, so one bad case
// never fails another.

// maxGroup bounds the cases of one transaction.
const maxGroup = 64

type pendingCreate struct {
	ctx  context.Context
	c    *Case
	now  time.Time
	done chan error
}

func (s *SQLStore) createGrouped(ctx context.Context, c *Case, now time.Time) error {
	s.groupOnce.Do(func() {
		s.group = make(chan *pendingCreate)
		s.groupStop = make(chan struct{})
		s.groupDone = make(chan struct{})
		go s.groupCommits()
	})
	if s.group == nil { // closed before the first case
		return fmt.Errorf("create case: %w: the store is closed", ErrUnavailable)
	}
	p := &pendingCreate{ctx: ctx, c: c, now: now, done: make(chan error, 1)}
	select {
	case s.group <- p:
	case <-ctx.Done():
		return s.wrap("create case", ctx.Err())
	case <-s.groupStop:
		return fmt.Errorf("create case: %w: the store is closed", ErrUnavailable)
	}
	// Once taken, the case is written whatever becomes of ctx: the answer
	// says what happened to it.
	return <-p.done
}

// groupCommits takes the cases waiting and writes each group in one
// transaction, until the store closes.
func (s *SQLStore) groupCommits() {
	defer close(s.groupDone)
	for {
		var first *pendingCreate
		select {
		case first = <-s.group:
		case <-s.groupStop:
			return
		}
		group := []*pendingCreate{first}
	more:
		for len(group) < maxGroup {
			select {
			case p := <-s.group:
				group = append(group, p)
			default:
				break more
			}
		}
		s.commitGroup(group)
	}
}

func (s *SQLStore) commitGroup(group []*pendingCreate) {
	// Cases whose filer gave up before the group was written are not filed.
	live := group[:0]
	for _, p := range group {
		if err := p.ctx.Err(); err != nil {
			p.done <- s.wrap("create case", err)
			continue
		}
		live = append(live, p)
	}
	if len(live) == 0 {
		return
	}
	if len(live) == 1 {
		p := live[0]
		p.done <- s.createOne(context.WithoutCancel(p.ctx), p.c, p.now)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	type result struct {
		id       int64
		ref      string
		conflict bool
	}
	results := make([]result, len(live))
	err := func() error {
		tx, err := s.DB.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		for i, p := range live {
			id, ref, err := s.insert(ctx, tx, p.c, p.now)
			switch {
			case errors.Is(err, sql.ErrNoRows):
				results[i].conflict = true
			case err != nil:
				return err
			default:
				results[i] = result{id: id, ref: ref}
			}
		}
		return tx.Commit()
	}()
	if err != nil {
		// Something in the group failed: file each case alone, so that
		// each gets its own answer.
		for _, p := range live {
			p.done <- s.createOne(context.WithoutCancel(p.ctx), p.c, p.now)
		}
		return
	}
	for i, p := range live {
		if results[i].conflict {
			p.done <- s.existing(ctx, p.c)
			continue
		}
		p.c.ID, p.c.Ref = results[i].id, results[i].ref
		p.done <- nil
	}
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
	row := s.queryRow(ctx, s.reads(), `SELECT `+caseColumns+` FROM cases `+where, args...)
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
	if s.Dialect.Name == "sqlite" && f.Near != nil && f.RadiusM > 0 && len(f.ServiceCodes) > 0 && len(f.Refs) == 0 {
		// Near a place, for given services (duplicate detection): without
		// statistics SQLite would rather read every case of the services
		// in date order than the few near the place.
		query += ` INDEXED BY cases_service_place`
	}
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
	rows, err := s.query(ctx, s.reads(), query, args...)
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
func (s *SQLStore) Close() error {
	s.stopOnce.Do(func() {
		s.groupOnce.Do(func() {}) // no group commits start after this
		if s.groupStop != nil {
			close(s.groupStop)
			<-s.groupDone
		}
	})
	s.stmts.Range(func(_, v any) bool {
		v.(*sql.Stmt).Close()
		return true
	})
	var err error
	if s.Reads != nil {
		err = s.Reads.Close()
	}
	return errors.Join(s.DB.Close(), err)
}

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
