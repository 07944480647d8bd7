package connectors

import (
	"context"
	"time"
)

// Connector is a stored definition with its run state.
type Connector struct {
	Definition *Definition
	Paused     bool
	CreatedAt  time.Time
	UpdatedAt  time.Time
	Cursor     string
	Failures   int
	LastError  string
	NextRunAt  *time.Time
}

// Run is the record of one run.
type Run struct {
	ID         string     `json:"id"`
	Connector  string     `json:"connector"`
	StartedAt  time.Time  `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
	Status     string     `json:"status"` // running, succeeded, failed
	// Pushed marks a batch a department pushed in (POST
	// /api/v1/connectors/{name}/records) rather than a run that pulled from
	// the source. A pushed batch's id starts with "push_".
	Pushed bool `json:"pushed"`
	Counts
	Error      string `json:"error,omitempty"`
	CursorFrom string `json:"cursor_from"`
	CursorTo   string `json:"cursor_to"`
	// LagSeconds is how old the newest change of the last batch was when
	// it was applied (incremental sources).
	LagSeconds float64 `json:"lag_seconds"`
}

// PushedRunPrefix starts the id of every pushed batch's run.
const PushedRunPrefix = "push_"

// Counts are what a run did.
type Counts struct {
	Seen        int64 `json:"seen"`
	Issued      int64 `json:"issued"`
	Revised     int64 `json:"revised"`
	Lifecycle   int64 `json:"lifecycle"`
	Unchanged   int64 `json:"unchanged"`
	Quarantined int64 `json:"quarantined"`
}

func (c *Counts) add(o Counts) {
	c.Seen += o.Seen
	c.Issued += o.Issued
	c.Revised += o.Revised
	c.Lifecycle += o.Lifecycle
	c.Unchanged += o.Unchanged
	c.Quarantined += o.Quarantined
}

// Quarantined is a record a connector could not accept.
type Quarantined struct {
	ID         string     `json:"id"`
	Connector  string     `json:"connector"`
	SourceKey  string     `json:"source_key"`
	Reason     string     `json:"reason"`
	Raw        []byte     `json:"-"` // sealed at rest; personal data
	RawHash    string     `json:"-"`
	CreatedAt  time.Time  `json:"created_at"`
	ResolvedAt *time.Time `json:"resolved_at,omitempty"`
}

// Store keeps connectors, their runs and their quarantine.
type Store interface {
	// SaveConnector creates or replaces a definition (run state is kept).
	SaveConnector(ctx context.Context, name, kind string, definition []byte, at time.Time) (created bool, err error)
	// GetConnector returns a connector's stored definition and state;
	// errs.NotFound if unknown.
	GetConnector(ctx context.Context, name string) (def []byte, c *Connector, err error)
	// ListConnectors lists names in order.
	ListConnectors(ctx context.Context) ([]string, error)
	// SetPaused pauses or resumes; errs.NotFound if unknown.
	SetPaused(ctx context.Context, name string, paused bool) error

	// Lease claims the connector for owner until the given time, unless
	// another owner holds an unexpired lease (errs.Conflict). Renewing
	// one's own lease is allowed.
	Lease(ctx context.Context, name, owner string, now, until time.Time) error
	// Release ends owner's lease, recording the outcome for scheduling.
	Release(ctx context.Context, name, owner string, failed bool, lastError string, nextRun *time.Time) error

	// StartRun records a new run.
	StartRun(ctx context.Context, r *Run) error
	// FinishBatch moves the cursor and adds the batch's counts (and lag) to
	// the run, in one transaction: the cursor never moves without its outcome.
	FinishBatch(ctx context.Context, name, runID, cursor string, c Counts, lagSeconds float64) error
	// FinishRun closes a run.
	FinishRun(ctx context.Context, runID, status, errText string, at time.Time) error
	// ListRuns lists a connector's latest runs, newest first.
	ListRuns(ctx context.Context, name string, limit int) ([]*Run, error)

	// Quarantine stores a record; the same raw record twice is one entry.
	Quarantine(ctx context.Context, q *Quarantined) error
	// ListQuarantine lists open (or all) entries of a connector.
	ListQuarantine(ctx context.Context, name string, all bool) ([]*Quarantined, error)
	// GetQuarantined returns one entry; errs.NotFound if unknown.
	GetQuarantined(ctx context.Context, id string) (*Quarantined, error)
	// ResolveQuarantined marks an entry resolved.
	ResolveQuarantined(ctx context.Context, id string, at time.Time) error

	// MarkSeen records that a reconciliation scan (token) saw these keys.
	MarkSeen(ctx context.Context, name string, keys []string, token string) error
	// Unseen lists the records brought in earlier that the scan did not see.
	Unseen(ctx context.Context, name, token string) ([]Vanished, error)
}

// Vanished is a record the source no longer has.
type Vanished struct {
	SourceKey     string `json:"source_key"`
	CertificateID string `json:"certificate_id"`
}
