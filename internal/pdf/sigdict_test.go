package pdf_test

import (
	"bytes"
	"testing"

	pdfread "github.com/digitorus/pdf"
)

// TestSignatureDictionaryParses: the signature dictionary's strings are
// written so a PDF reader parses them. pdfsign does not escape the UTF-16
// bytes of non-ASCII text, and 局 holds 0x5C: with the authority's name as
// /Name, digitorus/pdf panicked on the result and other readers garble it.
func TestSignatureDictionaryParses(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t)
	data := write(t, document(t, ca.key, ca.chain, ""))
	rd, err := pdfread.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	var name, reason, location string
	func() {
		defer func() {
			if v := recover(); v != nil {
				t.Fatalf("reading the signature dictionary panicked: %v", v)
			}
		}()
		v := rd.Trailer().Key("Root").Key("AcroForm").Key("Fields").Index(0).Key("V")
		name, reason, location = v.Key("Name").Text(), v.Key("Reason").Text(), v.Key("Location").Text()
	}()
	if name != issuer {
		t.Fatalf("signature /Name = %q, want the signer's USCC %s", name, issuer)
	}
	if reason != "" || location != "" {
		t.Fatalf("non-ASCII reason %q / location %q written", reason, location)
	}
}
