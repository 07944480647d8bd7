package httpapi_test

import (
	"encoding/base64"
	"encoding/json"
	"math/big"
	"slices"
	"strings"
	"testing"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/certhub/certhub/internal/hubtest"
)

type verifyResult struct {
	Valid   bool
	Reasons []string
	KID     string
	Status  string
}

// TestSM2Authority runs an SM2 authority through the API on both stores:
// its key, the JWKS entry, a document it seals, verification, revocation,
// and rotation to and from SM2.
func TestSM2Authority(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		opts []hubtest.Option
	}{
		{"sqlite", nil},
		{"postgres", []hubtest.Option{hubtest.OnPostgres()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHub(t, tc.opts...)
			h.seedWith("SM2")

			var keys struct {
				Keys []struct{ KID, Alg, Status string }
			}
			if st := h.call("GET", "/api/v1/authorities/"+marketCode+"/keys", h.Admin, nil, &keys); st != 200 || len(keys.Keys) != 1 || keys.Keys[0].Alg != "SM2" {
				t.Fatalf("keys: %d %+v", st, keys)
			}
			kid := keys.Keys[0].KID

			// The JWKS serves the key in the SM2SM3 profile, with its seal
			// certificate in x5c, and parses
			// with jwx like the rest of the set.
			var set struct{ Keys []map[string]any }
			h.call("GET", "/.well-known/jwks.json", "", nil, &set)
			var entry map[string]any
			for _, k := range set.Keys {
				if k["kid"] == kid {
					entry = k
				}
			}
			if entry == nil || entry["kty"] != "EC" || entry["crv"] != "SM2" || entry["alg"] != "SM2SM3" || len(entry) != 8 || entry["x5c"] == nil ||
				len(b64(t, entry["x"])) != 32 || len(b64(t, entry["y"])) != 32 {
				t.Fatalf("JWKS entry for %s = %v", kid, entry)
			}
			if _, ok := h.jwks().LookupKeyID(kid); !ok {
				t.Fatal("jwx does not find the SM2 key in the JWKS")
			}

			var issued struct{ ID, Document, KID string }
			if st := h.call("POST", "/api/v1/certificates", h.Admin, issueBody(), &issued); st != 201 || issued.KID != kid {
				t.Fatalf("issue: %d %+v", st, issued)
			}
			parts := strings.Split(issued.Document, ".")
			var hdr map[string]string
			if err := json.Unmarshal(b64(t, parts[0]), &hdr); err != nil || hdr["alg"] != "SM2SM3" || hdr["kid"] != kid || hdr["typ"] != "vc+jwt" {
				t.Fatalf("protected header %s (%v)", b64(t, parts[0]), err)
			}
			if n := len(b64(t, parts[2])); n != 64 {
				t.Fatalf("signature is %d bytes, want raw r‖s", n)
			}
			var payload struct {
				Context []string `json:"@context"`
				ID      string
			}
			if err := json.Unmarshal(b64(t, parts[1]), &payload); err != nil || payload.ID != issued.ID || payload.Context[0] != "https://www.w3.org/ns/credentials/v2" {
				t.Fatalf("payload %s", b64(t, parts[1]))
			}

			verify := func(doc string) verifyResult {
				t.Helper()
				var v verifyResult
				if st := h.call("POST", "/api/v1/verify", "", map[string]string{"document": doc}, &v); st != 200 {
					t.Fatalf("verify: %d", st)
				}
				return v
			}
			if v := verify(issued.Document); !v.Valid || len(v.Reasons) != 0 || v.KID != kid || v.Status != "valid" {
				t.Fatalf("verify = %+v", v)
			}
			// The same signature as DER (what X.509 would carry) is refused
			// with its precise reason.
			der := rawToDER(b64(t, parts[2]))
			if v := verify(parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(der)); v.Valid ||
				!slices.Equal(v.Reasons, []string{"bad_signature", "der_signature"}) {
				t.Fatalf("DER signature: %+v", v)
			}

			if st := h.call("POST", "/api/v1/certificates/"+issued.ID+"/revoke", h.Admin, map[string]string{"reason": "吊销"}, nil); st != 200 {
				t.Fatalf("revoke: %d", st)
			}
			if v := verify(issued.Document); v.Valid || !slices.Contains(v.Reasons, "revoked") || v.Status != "revoked" {
				t.Fatalf("verify after revocation = %+v", v)
			}

			// Rotation keeps SM2 by default, may switch algorithm, and
			// refuses an unknown one naming the field.
			var k struct{ KID, Alg string }
			if st := h.call("POST", "/api/v1/authorities/"+marketCode+"/keys/rotate", h.Admin, nil, &k); st != 201 || k.Alg != "SM2" || k.KID == kid {
				t.Fatalf("rotate: %d %+v", st, k)
			}
			if st := h.call("POST", "/api/v1/authorities/"+otherCode+"/keys/rotate", h.Admin, map[string]string{"algorithm": "SM2"}, &k); st != 201 || k.Alg != "SM2" {
				t.Fatalf("rotate EdDSA to SM2: %d %+v", st, k)
			}
			var e struct{ Error struct{ Field string } }
			if st := h.call("POST", "/api/v1/authorities/"+otherCode+"/keys/rotate", h.Admin, map[string]string{"algorithm": "SM9"}, &e); st != 400 || e.Error.Field != "algorithm" {
				t.Fatalf("rotate to SM9: %d %+v", st, e)
			}
			// Old documents still verify after rotation (revoked, but the
			// seal is good).
			if v := verify(issued.Document); slices.Contains(v.Reasons, "bad_signature") || slices.Contains(v.Reasons, "unknown_key") {
				t.Fatalf("verify after rotation = %+v", v)
			}
		})
	}
}

func b64(t *testing.T, v any) []byte {
	t.Helper()
	s, _ := v.(string)
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("not base64url: %v", v)
	}
	return b
}

func rawToDER(raw []byte) []byte {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1BigInt(new(big.Int).SetBytes(raw[:32]))
		b.AddASN1BigInt(new(big.Int).SetBytes(raw[32:]))
	})
	return b.BytesOrPanic()
}

// TestKeysBesideEachOther: an authority adds an SM2 key beside its ES256
// one, chooses which signs its documents, and rotates each in place.
func TestKeysBesideEachOther(t *testing.T) {
	t.Parallel()
	h := newHub(t)
	h.seed()
	type key struct {
		KID, Alg, Status string
		Documents        bool
	}
	type authority struct {
		Code              string
		DocumentAlgorithm string `json:"document_algorithm"`
	}
	var e struct{ Error struct{ Code, Field string } }
	fail := func(st int, want int, field string) {
		t.Helper()
		if st != want || e.Error.Field != field {
			t.Fatalf("status %d field %q, want %d %q", st, e.Error.Field, want, field)
		}
	}
	keysPath := "/api/v1/authorities/" + marketCode + "/keys"
	var added key
	if st := h.call("POST", keysPath, h.Admin, map[string]string{"algorithm": "SM2"}, &added); st != 201 || added.Alg != "SM2" || added.Documents || added.Status != "active" {
		t.Fatalf("add SM2 key: %d %+v", st, added)
	}
	fail(h.call("POST", keysPath, h.Admin, map[string]string{"algorithm": "SM2"}, &e), 409, "algorithm")
	fail(h.call("POST", keysPath, h.Admin, map[string]string{}, &e), 400, "algorithm")
	fail(h.call("POST", keysPath, h.Admin, map[string]string{"algorithm": "RS256"}, &e), 400, "algorithm")

	docAlg := func() string {
		t.Helper()
		var a authority
		h.call("GET", "/api/v1/authorities/"+marketCode, h.Admin, nil, &a)
		var list struct{ Authorities []authority }
		h.call("GET", "/api/v1/authorities", h.Admin, nil, &list)
		for _, l := range list.Authorities {
			if l.Code == marketCode && l.DocumentAlgorithm != a.DocumentAlgorithm {
				t.Fatalf("list says %s, read says %s", l.DocumentAlgorithm, a.DocumentAlgorithm)
			}
		}
		return a.DocumentAlgorithm
	}
	issueAlg := func() (string, string) {
		t.Helper()
		var issued struct{ Document string }
		if st := h.call("POST", "/api/v1/certificates", h.Admin, issueBody(), &issued); st != 201 {
			t.Fatalf("issue: %d", st)
		}
		var hdr struct{ Alg string }
		_ = json.Unmarshal(b64(t, strings.Split(issued.Document, ".")[0]), &hdr)
		return hdr.Alg, issued.Document
	}
	if got := docAlg(); got != "ES256" {
		t.Fatalf("document_algorithm = %q, want ES256", got)
	}
	esAlg, esDoc := issueAlg()
	if esAlg != "ES256" {
		t.Fatalf("documents sealed with %s after adding an SM2 key", esAlg)
	}

	authPath := "/api/v1/authorities/" + marketCode
	fail(h.call("PATCH", authPath, h.Admin, map[string]string{"document_algorithm": "EdDSA"}, &e), 400, "document_algorithm")
	fail(h.call("PATCH", authPath, h.Admin, map[string]string{"document_algorithm": "SM9"}, &e), 400, "document_algorithm")
	var a authority
	if st := h.call("PATCH", authPath, h.Admin, map[string]string{"document_algorithm": "SM2"}, &a); st != 200 || a.DocumentAlgorithm != "SM2" || docAlg() != "SM2" {
		t.Fatalf("PATCH document_algorithm SM2: %d %+v", st, a)
	}
	smAlg, smDoc := issueAlg()
	if smAlg != "SM2SM3" {
		t.Fatalf("documents sealed with %s after choosing SM2", smAlg)
	}
	for _, d := range []string{esDoc, smDoc} {
		var v verifyResult
		if h.call("POST", "/api/v1/verify", "", map[string]string{"document": d}, &v); !v.Valid {
			t.Fatalf("verify: %+v", v)
		}
	}

	// Rotation replaces the document key in place and leaves the other.
	var rotated key
	if st := h.call("POST", keysPath+"/rotate", h.Admin, nil, &rotated); st != 201 || rotated.Alg != "SM2" || !rotated.Documents || rotated.KID == added.KID {
		t.Fatalf("rotate: %d %+v", st, rotated)
	}
	var keys struct{ Keys []key }
	h.call("GET", keysPath, h.Admin, nil, &keys)
	active := map[string]bool{}
	for _, k := range keys.Keys {
		if k.Status == "active" {
			active[k.Alg] = k.Documents
		}
	}
	if len(keys.Keys) != 3 || len(active) != 2 || !active["SM2"] || active["ES256"] {
		t.Fatalf("keys after rotation: %+v", keys.Keys)
	}
	var set struct{ Keys []map[string]any }
	h.call("GET", "/.well-known/jwks.json", "", nil, &set)
	algs := map[any]int{}
	for _, k := range set.Keys {
		algs[k["alg"]]++
	}
	if algs["SM2SM3"] != 2 || algs["ES256"] != 1 {
		t.Fatalf("JWKS algorithms = %v", algs)
	}
}
