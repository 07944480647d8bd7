package connectors

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	"go.yaml.in/yaml/v3"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/internal/errs"
)

// Definition is a connector as a department writes it (YAML or JSON).
type Definition struct {
	Name      string          `json:"name"`
	Kind      string          `json:"kind"`
	Source    json.RawMessage `json:"source"`
	Type      string          `json:"type"`
	Authority string          `json:"authority"`
	Schedule  Schedule        `json:"schedule"`
	BatchSize int             `json:"batch_size"`
	Mapping   Mapping         `json:"mapping"`
}

// Schedule says when a connector runs inside certhub serve: every
// interval, or at the times a cron expression names (in the hub's time
// zone). Neither: only on demand.
type Schedule struct {
	Every string `json:"every"` // a Go duration, at least 10s ("15m", "1h")
	Cron  string `json:"cron"`  // five fields ("0 2 * * *": 02:00 every day) or @daily, @hourly …
}

var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// Scheduled reports whether the connector runs by itself.
func (s Schedule) Scheduled() bool { return s.Every != "" || s.Cron != "" }

// Next is when the connector is due after a run that ended at t.
func (s Schedule) Next(t time.Time, loc *time.Location) (time.Time, bool) {
	if d, err := time.ParseDuration(s.Every); err == nil && d > 0 {
		return t.Add(d), true
	}
	if c, err := cronParser.Parse(s.Cron); err == nil {
		return c.Next(t.In(loc)).UTC(), true
	}
	return time.Time{}, false
}

// Mapping turns a source record into a certificate.
type Mapping struct {
	// Key names the source field(s) whose values, joined, identify the
	// record for good.
	Key        []string         `json:"key"`
	Holder     HolderMapping    `json:"holder"`
	Data       map[string]Value `json:"data"`
	ValidFrom  Value            `json:"valid_from"`
	ValidUntil *Value           `json:"valid_until"`
	Status     *StatusMapping   `json:"status"`
}

// HolderMapping maps the holder.
type HolderMapping struct {
	Kind Value `json:"kind"`
	ID   Value `json:"id"`
	Name Value `json:"name"`
}

// StatusMapping maps a source status code to a lifecycle status: valid,
// suspended, revoked or cancelled. Codes not listed are an error (the
// record goes to quarantine).
type StatusMapping struct {
	Field  string            `json:"field"`
	Values map[string]string `json:"values"`
}

// Source statuses.
const (
	StatusValid     = "valid"
	StatusSuspended = "suspended"
	StatusRevoked   = "revoked"
	StatusCancelled = "cancelled"
)

// Value is where one target value comes from and how it is cleaned.
type Value struct {
	Field   string            `json:"field"`   // source field (dot path into nested objects)
	Const   string            `json:"const"`   // or a constant
	Trim    bool              `json:"trim"`    // strip spaces (also full-width)
	Upper   bool              `json:"upper"`   // upper-case (USCCs, X in ID numbers)
	Lookup  map[string]string `json:"lookup"`  // code → label; an unknown code is an error
	Date    string            `json:"date"`    // "auto" or a Go layout; output YYYY-MM-DD
	Default string            `json:"default"` // when the source value is empty
}

var namePattern = regexp.MustCompile(`^[a-z][a-z0-9-]{1,62}$`)

// Parse reads a definition from YAML or JSON. Unknown keys are errors.
func Parse(b []byte) (*Definition, error) {
	var generic any
	if err := yaml.Unmarshal(b, &generic); err != nil {
		return nil, errs.Field("definition", "is neither YAML nor JSON: %v", err)
	}
	js, err := json.Marshal(normalize(generic))
	if err != nil {
		return nil, errs.Field("definition", "cannot be read: %v", err)
	}
	var d Definition
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		msg := err.Error()
		if f, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
			return nil, errs.Field(strings.Trim(f, `"`), "is not a known setting")
		}
		return nil, errs.Field("definition", "%s", strings.TrimPrefix(msg, "json: "))
	}
	return &d, nil
}

// normalize turns YAML's map[string]any trees into JSON-encodable ones and
// a single key string into a list.
func normalize(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, vv := range t {
			out[k] = normalize(vv)
		}
		if k, ok := out["key"].(string); ok {
			if _, isMapping := out["holder"]; isMapping {
				out["key"] = []any{k}
			}
		}
		return out
	case map[any]any:
		// YAML reads unquoted codes (01, 2) as numbers: keys are text here.
		out := map[string]any{}
		for k, vv := range t {
			out[fmt.Sprint(k)] = normalize(vv)
		}
		return out
	case []any:
		for i := range t {
			t[i] = normalize(t[i])
		}
	}
	return v
}

// TypeLookup finds types and authorities for validation.
type TypeLookup interface {
	Type(code string) (*certificates.Type, error)
	AuthorityExists(code string) bool
}

// Validate checks the whole definition against the target type and the
// source kind, listing every problem with its path.
func (d *Definition) Validate(kinds Kinds, lookup TypeLookup) error {
	var l errs.List
	// Constants of a mapping end up in seals; every other string in logs
	// and pages: the hub's one text rule, with the path of each problem.
	certificates.CheckStrings("", d, &l)
	if !namePattern.MatchString(d.Name) {
		l.Add("name", "must be 2-63 characters of a-z, 0-9 and -, starting with a letter")
	}
	kind, ok := kinds[d.Kind]
	switch {
	case d.Kind == "":
		l.Add("kind", "is required (%s)", kinds.names())
	case !ok:
		l.Add("kind", "unknown kind %q; use one of %s", d.Kind, kinds.names())
	default:
		problems := kind.Validate(d.Source)
		for _, p := range problems {
			l.Add(strings.TrimSuffix("source."+p.Field, "."), "%s", p.Reason)
		}
		if cf, ok := kind.(CursorFielder); ok && len(problems) == 0 {
			if setting, path := cf.CursorField(d.Source); path != "" {
				d.Mapping.checkCursor(&l, "source."+setting, path)
			}
		}
	}
	if d.BatchSize == 0 {
		d.BatchSize = 500
	} else if d.BatchSize < 1 || d.BatchSize > 10000 {
		l.Add("batch_size", "must be between 1 and 10000")
	}
	if d.Schedule.Every != "" {
		if iv, err := time.ParseDuration(d.Schedule.Every); err != nil || iv < 10*time.Second {
			l.Add("schedule.every", "must be a duration of at least 10s, like 15m or 1h")
		}
	}
	if d.Schedule.Cron != "" {
		if d.Schedule.Every != "" {
			l.Add("schedule", "give every or cron, not both")
		} else if _, err := cronParser.Parse(d.Schedule.Cron); err != nil {
			l.Add("schedule.cron", "is not a cron expression (minute hour day month weekday, or @daily): %v", err)
		}
	}
	if !lookup.AuthorityExists(d.Authority) {
		l.Add("authority", "authority %q does not exist", d.Authority)
	}
	t, err := lookup.Type(d.Type)
	if err != nil {
		l.Add("type", "certificate type %q does not exist", d.Type)
	}
	d.Mapping.validate(&l, t)
	return l.Err()
}

func (m *Mapping) validate(l *errs.List, t *certificates.Type) {
	if len(m.Key) == 0 {
		l.Add("mapping.key", "is required: the source field(s) that identify a record for good")
	}
	for i, k := range m.Key {
		if why := PathProblem(k); why != "" {
			l.Add(fmt.Sprintf("mapping.key[%d]", i), "%s", why)
		}
	}
	m.Holder.Kind.validate(l, "mapping.holder.kind", true)
	m.Holder.ID.validate(l, "mapping.holder.id", true)
	m.Holder.Name.validate(l, "mapping.holder.name", true)
	if k := m.Holder.Kind.Const; k != "" && k != string(certificates.Person) && k != string(certificates.Organisation) {
		l.Add("mapping.holder.kind.const", "must be person or organisation")
	} else if t != nil && k != "" && k != string(t.HolderKind) {
		l.Add("mapping.holder.kind.const", "type %s is held by a %s", t.Code, t.HolderKind)
	}
	m.ValidFrom.validate(l, "mapping.valid_from", true)
	if m.ValidFrom.Date == "" && m.ValidFrom.Const == "" {
		l.Add("mapping.valid_from.date", "is required: say how the source writes dates (auto, or a layout like 2006年1月2日)")
	}
	if m.ValidUntil != nil {
		m.ValidUntil.validate(l, "mapping.valid_until", false)
		if m.ValidUntil.Date == "" && m.ValidUntil.Const == "" {
			l.Add("mapping.valid_until.date", "is required: say how the source writes dates")
		}
	} else if t != nil && t.MaxValidityDays != nil {
		l.Add("mapping.valid_until", "is required: type %s has a limited validity", t.Code)
	}
	if t != nil {
		for name, v := range m.Data {
			p := "mapping.data." + name
			f, ok := t.Field(name)
			if !ok {
				l.Add(p, "is not a field of type %s", t.Code)
				continue
			}
			v.validate(l, p, f.Required)
			if f.Type == certificates.FieldDate && v.Date == "" && v.Const == "" {
				l.Add(p+".date", "is required for a date field (auto, or a layout)")
			}
		}
		for _, f := range t.Fields {
			if _, ok := m.Data[f.Name]; f.Required && !ok {
				l.Add("mapping.data."+f.Name, "is required by type %s (%s)", t.Code, f.Label)
			}
		}
	}
	if s := m.Status; s != nil {
		if s.Field == "" {
			l.Add("mapping.status.field", "is required")
		} else if why := PathProblem(s.Field); why != "" {
			l.Add("mapping.status.field", "%s", why)
		}
		if len(s.Values) == 0 {
			l.Add("mapping.status.values", "must map at least one source code")
		}
		for code, st := range s.Values {
			switch st {
			case StatusValid, StatusSuspended, StatusRevoked, StatusCancelled:
			default:
				l.Add("mapping.status.values."+code, "must be valid, suspended, revoked or cancelled, got %q", st)
			}
		}
	}
}

func (v *Value) validate(l *errs.List, path string, required bool) {
	switch {
	case v.Field == "" && v.Const == "" && required:
		l.Add(path, "needs a field or a const")
	case v.Field != "" && v.Const != "":
		l.Add(path, "has both a field and a const; choose one")
	}
	if v.Field != "" {
		if why := PathProblem(v.Field); why != "" {
			l.Add(path+".field", "%s", why)
		}
	}
	if v.Date != "" && v.Date != "auto" {
		probe := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC).Format(v.Date)
		if _, err := time.Parse(v.Date, probe); err != nil || !strings.ContainsAny(v.Date, "2006") {
			l.Add(path+".date", "%q is not a date layout (write 2006-01-02, 20060102 or 2006年1月2日, or auto)", v.Date)
		}
	}
}
