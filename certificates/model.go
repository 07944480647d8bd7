package certificates

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/certhub/certhub/internal/errs"
)

// Authority is an issuing body (颁发机构), identified by its USCC.
type Authority struct {
	Code      string    `json:"code"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// Validate checks the authority's code and name.
func (a *Authority) Validate() error {
	var l errs.List
	if err := ValidateUSCC(a.Code); err != nil {
		l.Add("code", "%s", reason(err))
	}
	checkText(&l, "name", a.Name, 200)
	return l.Err()
}

// HolderKind says whether a holder is a person or an organisation.
type HolderKind string

// Holder kinds.
const (
	Person       HolderKind = "person"
	Organisation HolderKind = "organisation"
)

// ValidateHolderID checks id as an identifier of the kind.
func ValidateHolderID(kind HolderKind, id string) error {
	switch kind {
	case Person:
		return ValidateCitizenID(id)
	case Organisation:
		return ValidateUSCC(id)
	}
	return errs.Field("kind", "holder kind must be person or organisation, got %q", kind)
}

// HolderKindOf guesses the holder kind from the shape of the id.
func HolderKindOf(id string) HolderKind {
	if k, _ := Classify(id); k == KindUSCC {
		return Organisation
	}
	return Person
}

// FieldType is the type of a certificate data field.
type FieldType string

// Field types.
const (
	FieldString  FieldType = "string"
	FieldDate    FieldType = "date"
	FieldNumber  FieldType = "number"
	FieldBoolean FieldType = "boolean"
)

// Field is one entry of a type's data schema. Label is the Chinese label;
// LabelEN, optional, the English one (the licence type catalogue falls back
// to the field's name).
type Field struct {
	Name      string    `json:"name"`
	Label     string    `json:"label"`
	LabelEN   string    `json:"label_en,omitempty"`
	Type      FieldType `json:"type"`
	Required  bool      `json:"required"`
	Shareable bool      `json:"shareable"`
}

// Type is a certificate type (证照类型): a catalog entry with a field schema.
//
// A type is immutable once created (the store has no update): in particular
// its field list never changes order and never loses a field, because a
// field's number (FieldNumber, its 1-based position) is what compact QR
// codes carry instead of its name (docs/compact-qr.md). Should types ever
// become editable, fields may only be appended.
type Type struct {
	Code              string     `json:"code"`
	Name              string     `json:"name"`
	DefiningAuthority string     `json:"defining_authority"`
	HolderKind        HolderKind `json:"holder_kind"`
	Fields            []Field    `json:"fields"`
	MaxValidityDays   *int       `json:"max_validity_days"`
	CreatedAt         time.Time  `json:"created_at"`
}

var fieldName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)

// Validate checks a type definition, listing every problem.
func (t *Type) Validate() error {
	var l errs.List
	if err := ValidateTypeCode(t.Code); err != nil {
		l.Add("code", "%s", reason(err))
	}
	checkText(&l, "name", t.Name, 200)
	if err := ValidateUSCC(t.DefiningAuthority); err != nil {
		l.Add("defining_authority", "%s", reason(err))
	} else if len(t.Code) == 21 && t.Code[:18] != t.DefiningAuthority {
		l.Add("code", "type code must begin with the defining authority's USCC %s", t.DefiningAuthority)
	}
	if t.HolderKind != Person && t.HolderKind != Organisation {
		l.Add("holder_kind", "must be person or organisation, got %q", t.HolderKind)
	}
	if len(t.Fields) == 0 {
		l.Add("fields", "a type needs at least one field")
	}
	if len(t.Fields) > 100 {
		l.Add("fields", "at most 100 fields, got %d", len(t.Fields))
	}
	seen := map[string]bool{}
	for i, f := range t.Fields {
		p := fmt.Sprintf("fields[%d]", i)
		if !fieldName.MatchString(f.Name) {
			l.Add(p+".name", "field name %q must match [a-z][a-z0-9_]{0,63}", f.Name)
		} else if seen[f.Name] {
			l.Add(p+".name", "field name %q is used twice", f.Name)
		}
		seen[f.Name] = true
		checkText(&l, p+".label", f.Label, 100)
		if f.LabelEN != "" {
			checkText(&l, p+".label_en", f.LabelEN, 100)
		}
		switch f.Type {
		case FieldString, FieldDate, FieldNumber, FieldBoolean:
		default:
			l.Add(p+".type", "must be string, date, number or boolean, got %q", f.Type)
		}
	}
	if t.MaxValidityDays != nil && (*t.MaxValidityDays < 1 || *t.MaxValidityDays > 36500) {
		l.Add("max_validity_days", "must be between 1 and 36500, got %d", *t.MaxValidityDays)
	}
	return l.Err()
}

// Field returns the named field.
func (t *Type) Field(name string) (Field, bool) {
	for _, f := range t.Fields {
		if f.Name == name {
			return f, true
		}
	}
	return Field{}, false
}

// FieldNumber is the named field's number: its 1-based position in the
// type's field list, stable for the life of the type (see Type). 0 and
// false if the type has no such field.
func (t *Type) FieldNumber(name string) (uint64, bool) {
	for i, f := range t.Fields {
		if f.Name == name {
			return uint64(i + 1), true
		}
	}
	return 0, false
}

// ValidateData checks certificate data against the schema: no unknown
// fields, required fields present and non-empty, each value of its type.
// field prefixes the reported paths ("data").
func (t *Type) ValidateData(prefix string, data map[string]any, l *errs.List) {
	for name := range data {
		if _, ok := t.Field(name); !ok {
			l.Add(prefix+"."+name, "is not a field of type %s", t.Code)
		}
	}
	for _, f := range t.Fields {
		p := prefix + "." + f.Name
		v, ok := data[f.Name]
		if !ok || v == nil || v == "" {
			if f.Required {
				l.Add(p, "is required")
			}
			continue
		}
		switch f.Type {
		case FieldString:
			s, ok := v.(string)
			if !ok {
				l.Add(p, "must be a string")
			} else if utf8.RuneCountInString(s) > 2000 {
				l.Add(p, "is longer than 2000 characters")
			} else if why := TextProblem(s); why != "" {
				l.Add(p, "%s", why)
			}
		case FieldDate:
			s, ok := v.(string)
			if !ok {
				l.Add(p, "must be a date string YYYY-MM-DD")
			} else if _, err := ParseDate(s); err != nil {
				l.Add(p, "%s", err)
			}
		case FieldNumber:
			if _, ok := v.(json.Number); !ok {
				if _, ok := v.(float64); !ok {
					l.Add(p, "must be a number")
				}
			}
		case FieldBoolean:
			if _, ok := v.(bool); !ok {
				l.Add(p, "must be true or false")
			}
		}
	}
}

// checkText requires a non-empty trimmed line of at most max characters
// that passes LineProblem.
func checkText(l *errs.List, field, s string, max int) {
	switch {
	case strings.TrimSpace(s) == "":
		l.Add(field, "is required")
	case utf8.RuneCountInString(s) > max:
		l.Add(field, "is longer than %d characters", max)
	default:
		if why := LineProblem(s); why != "" {
			l.Add(field, "%s", why)
		}
	}
}

// Holder is the subject a certificate is about. ID is personal data: it is
// stored encrypted and indexed by keyed hash, and never logged.
type Holder struct {
	Kind HolderKind `json:"kind"`
	ID   string     `json:"id,omitempty"`
	Name string     `json:"name"`
}

// State is a certificate version's stored lifecycle state. Expiry is not a
// state: it follows from ValidUntil and the date.
type State string

// Stored states.
const (
	StateValid      State = "valid"
	StateSuspended  State = "suspended"
	StateRevoked    State = "revoked"
	StateSuperseded State = "superseded"
)

// Status is what a certificate version is now, as every API answer reports it.
type Status string

// Reported statuses.
const (
	StatusValid      Status = "valid"
	StatusSuspended  Status = "suspended"
	StatusRevoked    Status = "revoked"
	StatusExpired    Status = "expired"
	StatusSuperseded Status = "superseded"
)

// ParseStatus validates a status filter.
func ParseStatus(s string) (Status, error) {
	switch Status(s) {
	case StatusValid, StatusSuspended, StatusRevoked, StatusExpired, StatusSuperseded:
		return Status(s), nil
	}
	return "", errs.Field("status", "must be one of valid, suspended, revoked, expired, superseded; got %q", s)
}

// Code is the national status code (01 有效, 02 暂扣, 03 撤销, 05 失效);
// a superseded version is reported as 05.
func (s Status) Code() string {
	switch s {
	case StatusValid:
		return "01"
	case StatusSuspended:
		return "02"
	case StatusRevoked:
		return "03"
	}
	return "05"
}

// Label is the Chinese name of the status.
func (s Status) Label() string {
	switch s {
	case StatusValid:
		return "有效"
	case StatusSuspended:
		return "暂扣"
	case StatusRevoked:
		return "撤销"
	case StatusSuperseded:
		return "失效（已变更）"
	}
	return "失效"
}

// Certificate is one version of a licence. The HTTP adapter decides how it
// is shown (and to whom); the domain type has no wire format of its own.
type Certificate struct {
	ID         string
	Ident      Identifier
	Type       string
	Authority  string
	Serial     string
	Version    int
	Holder     Holder
	Data       map[string]any
	ValidFrom  Date
	ValidUntil Date

	State        State
	StateReason  string
	SupersededBy string

	DocumentKey string
	// DocumentOffset and DocumentLength locate the document inside a batch
	// object; length 0 means the object is the document.
	DocumentOffset int64
	DocumentLength int64
	DocumentSHA256 string
	KID            string
	IssuedAt       time.Time
	UpdatedAt      time.Time

	// Seq orders certificates for stable paging; set by the store.
	Seq int64
	// Origin, when set on a write, records which connector record caused it.
	Origin *Origin
	// HolderIndex and HolderSealed protect Holder.ID at rest.
	HolderIndex  string
	HolderSealed []byte
	// Status is the version's entry in the status lists; nil for versions
	// issued before status lists existed (issue 13).
	Status *StatusRef
	// HomeHub is set on a read-only copy of another hub's certificate that
	// this hub keeps (federation, aggregation): the hub that holds it and
	// decides its lifecycle. Never stored with this hub's own.
	HomeHub string
}

// StatusRef is a certificate version's entry in the status lists: list
// number and index within it (internal/statuslist). The same index is used
// in the W3C bitstrings (one per purpose) and the IETF Token Status List.
type StatusRef struct {
	List  int
	Index int
}

// StatusOn returns the certificate's status on a given date.
func (c *Certificate) StatusOn(today Date) Status {
	switch c.State {
	case StateRevoked:
		return StatusRevoked
	case StateSuperseded:
		return StatusSuperseded
	}
	if !c.ValidUntil.IsZero() && c.ValidUntil.Before(today) {
		return StatusExpired
	}
	if c.State == StateSuspended {
		return StatusSuspended
	}
	return StatusValid
}

// MaskName hides all but the first character of a person's name, and the
// middle of an organisation's, for answers that must not identify a holder.
func MaskName(kind HolderKind, name string) string {
	r := []rune(name)
	switch {
	case len(r) == 0:
		return ""
	case kind == Organisation && len(r) > 4:
		return string(r[:2]) + strings.Repeat("*", len(r)-4) + string(r[len(r)-2:])
	case len(r) == 1:
		return "*"
	}
	return string(r[:1]) + strings.Repeat("*", len(r)-1)
}
