package connectors

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/certhub/certhub/internal/errs"
)

// FieldAt follows a dot path ("meta.updated") into a record's nested
// objects, as mappings and incremental cursors do. The second result is
// false when the path does not reach a value.
func FieldAt(fields map[string]any, path string) (any, bool) {
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

// PathProblem says why a field path can never reach a value ("" when it
// can): mappings and cursors name fields as dot paths of non-empty parts.
func PathProblem(path string) string {
	if path == "" {
		return "is empty"
	}
	for _, part := range strings.Split(path, ".") {
		if part == "" {
			return fmt.Sprintf("%q has an empty part: write names joined by single dots, like meta.updated", path)
		}
	}
	return ""
}

// CursorFielder is a source kind whose incremental cursor follows a record
// field (a dot path). Definition.Validate checks that path against the
// mapping's, so a cursor that can never be read fails at apply.
type CursorFielder interface {
	// CursorField returns the setting that names the field (relative to
	// the source settings, e.g. "incremental.field") and the field's path;
	// "" when the source is not incremental.
	CursorField(settings json.RawMessage) (setting, path string)
}

// checkCursor reports a cursor path that no record can satisfy together
// with the mapping: one that reaches inside a field the mapping reads as a
// value, or one the mapping reaches inside (an object, not a time).
func (m *Mapping) checkCursor(l *errs.List, setting, cursor string) {
	if why := PathProblem(cursor); why != "" {
		l.Add(setting, "%s", why)
		return
	}
	for _, mp := range m.paths() {
		switch {
		case strings.HasPrefix(cursor, mp.field+"."):
			l.Add(setting, "%s reaches inside %s, which %s reads as a value; a record cannot have both", cursor, mp.field, mp.at)
			return
		case strings.HasPrefix(mp.field, cursor+"."):
			l.Add(setting, "%s is an object (%s reads %s inside it), not a change time", cursor, mp.at, mp.field)
			return
		}
	}
}

type mappedPath struct{ at, field string }

// paths lists every source field the mapping reads, with where.
func (m *Mapping) paths() []mappedPath {
	var out []mappedPath
	for i, k := range m.Key {
		out = append(out, mappedPath{fmt.Sprintf("mapping.key[%d]", i), k})
	}
	add := func(at string, v *Value) {
		if v != nil && v.Field != "" {
			out = append(out, mappedPath{at, v.Field})
		}
	}
	add("mapping.holder.kind", &m.Holder.Kind)
	add("mapping.holder.id", &m.Holder.ID)
	add("mapping.holder.name", &m.Holder.Name)
	names := make([]string, 0, len(m.Data))
	for name := range m.Data {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		v := m.Data[name]
		add("mapping.data."+name, &v)
	}
	add("mapping.valid_from", &m.ValidFrom)
	add("mapping.valid_until", m.ValidUntil)
	if m.Status != nil && m.Status.Field != "" {
		out = append(out, mappedPath{"mapping.status", m.Status.Field})
	}
	return out
}

// ChangeTimeFormats names what ChangeTime accepts, for messages.
const ChangeTimeFormats = "RFC 3339 (2006-01-02T15:04:05+08:00), 2006-01-02 15:04:05, 20060102150405, or Unix seconds or milliseconds"

// changeLayouts are tried in order; a layout without a zone reads the time
// in the hub's time zone.
var changeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04",
	"2006-01-02 15:04",
	"2006/01/02 15:04:05",
	"2006/1/2 15:04:05",
	"2006-01-02",
}

// ChangeTime reads a record's change time, the value an incremental cursor
// follows, in the encodings departments' systems write:
//
//   - RFC 3339 with a zone (Z or ±hh:mm), with T or a space, fractions allowed;
//   - the same without a zone ("2006-01-02T15:04:05", "2006-01-02 15:04:05",
//     "2006/01/02 15:04:05", a bare date): the time is in loc, the hub's civil
//     time zone (CERTHUB_TIME_ZONE, Asia/Shanghai by default), because a zoneless
//     time from a Chinese department's system is its wall clock;
//   - digits only, as a JSON number or a string: 10 (or 9) digits are Unix
//     seconds (a fraction allowed), 13 (or 12) digits Unix milliseconds, 14
//     digits 20060102150405 and 8 digits 20060102 (both in loc). Other
//     lengths are refused: they are neither, and guessing would move the
//     cursor to a wrong century;
//   - a time.Time (database drivers), as it is.
func ChangeTime(v any, loc *time.Location) (time.Time, error) {
	if loc == nil {
		loc = time.UTC
	}
	var s string
	switch t := v.(type) {
	case nil:
		return time.Time{}, fmt.Errorf("is empty")
	case time.Time:
		return t, nil
	case string:
		s = strings.TrimSpace(t)
	case json.Number:
		s = t.String()
	case float64:
		s = strconv.FormatFloat(t, 'f', -1, 64)
	case int64:
		s = strconv.FormatInt(t, 10)
	case int:
		s = strconv.Itoa(t)
	case int32:
		s = strconv.FormatInt(int64(t), 10)
	case uint64:
		s = strconv.FormatUint(t, 10)
	default:
		return time.Time{}, fmt.Errorf("is a %T, not a time; write %s", v, ChangeTimeFormats)
	}
	if s == "" {
		return time.Time{}, fmt.Errorf("is empty")
	}
	if isNumber(s) {
		return epochOrCompact(s, loc)
	}
	for _, l := range changeLayouts {
		if t, err := time.ParseInLocation(l, s, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("is not a time; write %s", ChangeTimeFormats)
}

// isNumber reports whether s is digits with at most one decimal point.
func isNumber(s string) bool {
	whole, frac, _ := strings.Cut(s, ".")
	return whole != "" && digits(whole) && digits(frac)
}

func digits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func epochOrCompact(s string, loc *time.Location) (time.Time, error) {
	whole, frac, hasFrac := strings.Cut(s, ".")
	n, err := strconv.ParseInt(whole, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("is not a time: %v", err)
	}
	// nanos turns the fraction's digits into nanoseconds of a unit of 10^exp ns.
	nanos := func(exp int) int64 {
		f := (frac + strings.Repeat("0", exp))[:exp]
		v, _ := strconv.ParseInt(f, 10, 64)
		return v
	}
	switch len(whole) {
	case 9, 10:
		return time.Unix(n, nanos(9)).In(loc), nil
	case 12, 13:
		return time.UnixMilli(n).Add(time.Duration(nanos(6))).In(loc), nil
	case 8, 14:
		if hasFrac {
			break
		}
		layout := "20060102"
		if len(whole) == 14 {
			layout = "20060102150405"
		}
		if t, err := time.ParseInLocation(layout, whole, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("is a number of %d digits, neither Unix seconds (10 digits) nor milliseconds (13) nor 20060102150405", len(whole))
}

// CursorError says a record's change time cannot be read. It fails the run
// (the cursor stays where it was): reading on without it would leave the
// cursor behind and read the whole source again on every run.
type CursorError struct {
	Where  string // the answer or file the record is in (a URL, a file name)
	Index  int    // the record's position in that answer, from 1
	Record Record
	Field  string // the cursor field or column
	Value  any    // what it holds; nil when absent
	Absent bool   // the record has no such field
	Reason string
	// Key is the record's key under the connector's mapping; the engine
	// fills it in.
	Key string
}

func (e *CursorError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "record %d", e.Index)
	if e.Key != "" {
		fmt.Fprintf(&b, " (key %s)", e.Key)
	}
	if e.Where != "" {
		fmt.Fprintf(&b, " of %s", e.Where)
	}
	if e.Absent {
		fmt.Fprintf(&b, ": has no change time %s; every record of an incremental source needs one", e.Field)
		return b.String()
	}
	v := e.Value
	if s, ok := v.(string); ok {
		v = strconv.Quote(s)
	}
	fmt.Fprintf(&b, ": change time %s = %v %s", e.Field, v, e.Reason)
	return b.String()
}
