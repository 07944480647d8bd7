package httpapi_test

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
)

// FuzzVerifyDocument feeds arbitrary input to document verification: it must
// always answer (no hub error, no panic), and nothing but the genuine
// document may ever be valid.
func FuzzVerifyDocument(f *testing.F) {
	h := newHub(f)
	h.seed()
	var issued struct{ Document string }
	if st := h.call("POST", "/api/v1/certificates", h.Admin, issueBody(), &issued); st != 201 {
		f.Fatalf("issue: %d", st)
	}
	genuine := issued.Document
	parts := strings.Split(genuine, ".")
	f.Add(genuine)
	f.Add(parts[0] + "." + parts[1] + ".")
	f.Add(parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"id":"x"}`)) + "." + parts[2])
	f.Add("eyJhbGciOiJub25lIiwia2lkIjoieCJ9." + parts[1] + ".")
	f.Add("")
	f.Add("a.b.c")
	f.Add(strings.Repeat(".", 100))
	f.Fuzz(func(t *testing.T, doc string) {
		v, err := h.Certs.VerifyDocument(context.Background(), []byte(doc))
		if err != nil {
			t.Fatalf("VerifyDocument(%q) failed as a hub error: %v", doc, err)
		}
		if v.Valid && doc != genuine {
			t.Fatalf("VerifyDocument(%q) is valid but is not the genuine document", doc)
		}
		if !v.Valid && len(v.Reasons) == 0 {
			t.Fatalf("VerifyDocument(%q): invalid without a reason", doc)
		}
		if doc == genuine && !v.Valid {
			t.Fatalf("genuine document not valid: %v", v.Reasons)
		}
	})
}

// FuzzVerifyID does the same for bare identifiers.
func FuzzVerifyID(f *testing.F) {
	h := newHub(f)
	h.seed()
	var issued struct{ ID string }
	if st := h.call("POST", "/api/v1/certificates", h.Admin, issueBody(), &issued); st != 201 {
		f.Fatalf("issue: %d", st)
	}
	f.Add(issued.ID)
	f.Add(issued.ID[:len(issued.ID)-1] + "0")
	f.Add("1.2.156.3005.2.")
	f.Fuzz(func(t *testing.T, id string) {
		v, err := h.Certs.VerifyID(context.Background(), id)
		if err != nil {
			t.Fatalf("VerifyID(%q): %v", id, err)
		}
		if v.Valid != (id == issued.ID) {
			t.Fatalf("VerifyID(%q).Valid = %v", id, v.Valid)
		}
	})
}
