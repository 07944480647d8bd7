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
type RecordError struct {
	Key    string
	Field  string
	Reason string
}

func (e *RecordError) Error() string {
	if e.Field == "" {
		return e.Reason
	}
	return e.Field + ": " + e.Reason
}

// lookupField follows a dot path into nested objects.
func lookupField(fields map[string]any, path string) (any, bool) {
	var cur any = fields
	for _, part := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[part]; !ok {
			return nil, false
		}
	}
	return cur, true
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
		raw, ok = lookupField(r.Fields, v.Field)
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
			return nil, &RecordError{Field: target, Reason: fmt.Sprintf("source code %q (field %s) is not in the lookup table", s, v.Field)}
		}
		s = label
	}
	if v.Date != "" {
		d, err := parseDate(s, v.Date)
		if err != nil {
			return nil, &RecordError{Field: target, Reason: fmt.Sprintf("%q (field %s) is not a date", s, v.Field)}
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
		return nil, &RecordError{Field: "key", Reason: fmt.Sprintf("a key field (%s) is missing or empty", strings.Join(m.Key, ", "))}
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
		return fail(&RecordError{Field: "holder.id", Reason: fmt.Sprintf("the holder's id (field %s) is missing or empty", m.Holder.ID.Field)})
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
		v, _ := lookupField(r.Fields, s.Field)
		code := trimAll(text(v))
		st, ok := s.Values[code]
		if !ok {
			return fail(&RecordError{Field: "status", Reason: fmt.Sprintf("source status %q (field %s) is not mapped", code, s.Field)})
		}
		status = st
	}
	canon, _ := json.Marshal(req)
	sum := sha256.Sum256(canon)
	return &Mapped{Key: key, Request: req, Status: status, ContentHash: hex.EncodeToString(sum[:])}, nil
}
