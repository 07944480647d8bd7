package connectors

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/certhub/certhub/certificates"
)

// Record is one source record: its fields, and its raw form for quarantine.
type Record struct {
	Fields map[string]any
	Raw    []byte
}

// Mapped is a record turned into a certificate request.
type Mapped struct {
	Key         string
	Request     *certificates.IssueRequest
	Status      string // valid, suspended, revoked, cancelled
	ContentHash string // canonical hash of the request, status excluded
}

// RecordError says why a record cannot be accepted; it goes to quarantine.
// Field is the target ("data.legal_representative", "holder.id", "key"),
// Source the record field(s) it comes from, so that the reason reads
// "data.legal_representative (source fddbr): is required" and the
// department knows which of its own fields to fix.
type RecordError struct {
	Key    string
	Field  string
	Source string
	Reason string
}

func (e *RecordError) Error() string {
	return fieldReason(e.Field, e.Source, e.Reason)
}

func fieldReason(field, source, reason string) string {
	if source != "" {
		field += " (source " + source + ")"
	}
	if field == "" {
		return reason
	}
	return field + ": " + reason
}

// source names the record field(s) a target of the mapping comes from, ""
// for a constant or a target the mapping does not fill. target is a path
// the mapping or the certificates domain reports: key, holder.kind,
// holder.id, holder.name (holder_name on a revision), data.<field>,
// valid_from, valid_until, status.
func (m *Mapping) source(target string) string {
	var v *Value
	switch target {
	case "key":
		return strings.Join(m.Key, ", ")
	case "holder.kind":
		v = &m.Holder.Kind
	case "holder.id":
		v = &m.Holder.ID
	case "holder.name", "holder_name":
		v = &m.Holder.Name
	case "valid_from":
		v = &m.ValidFrom
	case "valid_until":
		v = m.ValidUntil
	case "status":
		if m.Status != nil {
			return m.Status.Field
		}
	default:
		if name, ok := strings.CutPrefix(target, "data."); ok {
			if dv, ok := m.Data[name]; ok {
				v = &dv
			}
		}
	}
	if v == nil {
		return ""
	}
	return v.Field
}

func text(v any) string {
	switch t := v.(type) {
	case nil:
		return ""
	case string:
		return t
	case json.Number:
		return t.String()
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 64)
	case int64:
		return strconv.FormatInt(t, 10)
	case int:
		return strconv.Itoa(t)
	case time.Time:
		return t.Format("2006-01-02")
	case []byte:
		return string(t)
	}
	return fmt.Sprint(v)
}

// trimAll strips ASCII and full-width spaces.
func trimAll(s string) string { return strings.Trim(s, " \t\r\n\u3000\u00a0") }

// dateLayouts are what "auto" tries, in order.
var dateLayouts = []string{"2006-01-02", "20060102", "2006/01/02", "2006/1/2", "2006-1-2", "2006年1月2日", "2006年01月02日", "2006.01.02",
	time.RFC3339, "2006-01-02 15:04:05", "2006-01-02T15:04:05"}

// value resolves one target value from a record; raw is the source value
// before transforms, for the messages.
func (v Value) value(r Record, target string) (any, error) {
	var raw any
	if v.Const != "" {
		raw = v.Const
	} else if v.Field != "" {
		var ok bool
		raw, ok = FieldAt(r.Fields, v.Field)
		if !ok && v.Default == "" {
			return nil, nil
		}
	}
	// Numbers and booleans pass through untouched unless a transform needs text.
	if _, isText := raw.(string); !isText && raw != nil && !v.Trim && !v.Upper && v.Lookup == nil && v.Date == "" {
		return raw, nil
	}
	s := text(raw)
	if v.Trim {
		s = trimAll(s)
	}
	if s == "" {
		s = v.Default
	}
	if s == "" {
		return nil, nil
	}
	if v.Upper {
		s = strings.ToUpper(s)
	}
	if v.Lookup != nil {
		label, ok := v.Lookup[s]
		if !ok {
			return nil, &RecordError{Field: target, Source: v.Field, Reason: fmt.Sprintf("source code %q is not in the lookup table", s)}
		}
		s = label
	}
	if v.Date != "" {
		d, err := parseDate(s, v.Date)
		if err != nil {
			return nil, &RecordError{Field: target, Source: v.Field, Reason: fmt.Sprintf("%q is not a date", s)}
		}
		s = d
	}
	return s, nil
}

func parseDate(s, layout string) (string, error) {
	layouts := []string{layout}
	if layout == "auto" {
		layouts = dateLayouts
	}
	for _, l := range layouts {
		if t, err := time.Parse(l, s); err == nil && t.Year() >= 1900 && t.Year() <= 2200 {
			return t.Format("2006-01-02"), nil
		}
	}
	return "", fmt.Errorf("not a date")
}

// Apply maps one record. Errors are *RecordError, with the key when known.
func (d *Definition) Apply(r Record) (*Mapped, error) {
	m := &d.Mapping
	key, ok := d.keyOf(r)
	if !ok {
		return nil, &RecordError{Field: "key", Source: m.source("key"), Reason: "is missing or empty"}
	}
	// The key is stored with the record's origin and shown in listings: it
	// passes the hub's text rule like every other text, as one line. The
	// quarantine lists such a record under its key quoted.
	if why := certificates.LineProblem(key); why != "" {
		return nil, &RecordError{Key: strconv.Quote(key), Field: "key", Source: m.source("key"), Reason: why}
	}
	fail := func(err error) (*Mapped, error) {
		if re, ok := err.(*RecordError); ok {
			re.Key = key
			return nil, re
		}
		return nil, &RecordError{Key: key, Reason: err.Error()}
	}
	str := func(v Value, target string) (string, error) {
		x, err := v.value(r, target)
		if err != nil {
			return "", err
		}
		return text(x), nil
	}
	req := &certificates.IssueRequest{Type: d.Type, Authority: d.Authority, Data: map[string]any{}}
	var err error
	var kind string
	if kind, err = str(m.Holder.Kind, "holder.kind"); err != nil {
		return fail(err)
	}
	req.Holder.Kind = certificates.HolderKind(kind)
	if req.Holder.ID, err = str(m.Holder.ID, "holder.id"); err != nil {
		return fail(err)
	}
	if req.Holder.ID == "" {
		return fail(&RecordError{Field: "holder.id", Source: m.Holder.ID.Field, Reason: "the holder's id is missing or empty"})
	}
	if req.Holder.Name, err = str(m.Holder.Name, "holder.name"); err != nil {
		return fail(err)
	}
	for name, v := range m.Data {
		x, err := v.value(r, "data."+name)
		if err != nil {
			return fail(err)
		}
		if x != nil {
			if f, ok := x.(float64); ok {
				x = json.Number(strconv.FormatFloat(f, 'f', -1, 64))
			}
			req.Data[name] = x
		}
	}
	from, err := str(m.ValidFrom, "valid_from")
	if err != nil {
		return fail(err)
	}
	if from != "" {
		req.ValidFrom, _ = certificates.ParseDate(from)
	}
	if m.ValidUntil != nil {
		until, err := str(*m.ValidUntil, "valid_until")
		if err != nil {
			return fail(err)
		}
		if until != "" {
			req.ValidUntil, _ = certificates.ParseDate(until)
		}
	}
	status := StatusValid
	if s := m.Status; s != nil {
		v, _ := FieldAt(r.Fields, s.Field)
		code := trimAll(text(v))
		st, ok := s.Values[code]
		if !ok {
			return fail(&RecordError{Field: "status", Source: s.Field, Reason: fmt.Sprintf("source status %q is not mapped", code)})
		}
		status = st
	}
	canon, _ := json.Marshal(req)
	sum := sha256.Sum256(canon)
	return &Mapped{Key: key, Request: req, Status: status, ContentHash: hex.EncodeToString(sum[:])}, nil
}
