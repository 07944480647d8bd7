package exchange

import (
	"encoding/json"
	"testing"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/internal/compactqr"
)

// TestCompactFieldValue: each catalogue field type becomes the compact QR
// value its profile names; empty values are left out; a stored value of the
// wrong Go type is an error, never a guess.
func TestCompactFieldValue(t *testing.T) {
	t.Parallel()
	f := func(typ certificates.FieldType) certificates.Field { return certificates.Field{Name: "x", Type: typ} }
	for _, tc := range []struct {
		name  string
		field certificates.Field
		in    any
		want  any
		ok    bool
		bad   bool
	}{
		{"string", f(certificates.FieldString), "杭州", "杭州", true, false},
		{"date", f(certificates.FieldDate), "2020-05-01", compactqr.Date{Year: 2020, Month: 5, Day: 1}, true, false},
		{"integer number", f(certificates.FieldNumber), json.Number("100"), int64(100), true, false},
		{"fractional number", f(certificates.FieldNumber), 89.25, 89.25, true, false},
		{"integral float", f(certificates.FieldNumber), float64(120), int64(120), true, false},
		{"boolean", f(certificates.FieldBoolean), true, true, true, false},
		{"empty", f(certificates.FieldString), "", nil, false, false},
		{"absent", f(certificates.FieldDate), nil, nil, false, false},
		{"bad date", f(certificates.FieldDate), "2020-13-01", nil, false, true},
		{"number as text", f(certificates.FieldNumber), "12", nil, false, true},
		{"string as number", f(certificates.FieldString), 12.0, nil, false, true},
	} {
		got, ok, err := fieldValue(tc.field, tc.in)
		if (err != nil) != tc.bad || ok != tc.ok || got != tc.want {
			t.Errorf("%s: %#v %v %v, want %#v %v (error %v)", tc.name, got, ok, err, tc.want, tc.ok, tc.bad)
		}
	}
}
