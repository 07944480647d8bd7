package web_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/exchange"
	"github.com/certhub/certhub/internal/demo"
	"github.com/certhub/certhub/signing"
)

// TestSM2DocumentOnPages: a document sealed with an SM2 key is valid on the
// clerk's verify page and on the share page like any other; the same
// signature in DER is refused with its precise reason, in words.
func TestSM2DocumentOnPages(t *testing.T) {
	h, _ := demoHub(t)
	ctx := context.Background()
	req := demo.NewGenerator(9, h.Certs.Today()).Property(demo.NewPerson(rand.New(rand.NewPCG(3, 4)), 4343))
	// Every demo authority holds an SM2 key: make it the document key.
	if err := h.Certs.Keys.SetDocumentAlgorithm(ctx, req.Authority, signing.SM2); err != nil {
		t.Fatal(err)
	}
	res, err := h.Certs.Issue(ctx, certificates.Scope{}, req, nil)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(string(res.Document), ".")
	if hdr, _ := base64.RawURLEncoding.DecodeString(parts[0]); !strings.Contains(string(hdr), `"alg":"SM2SM3"`) {
		t.Fatalf("header %s", hdr)
	}

	clerk := sessions(t, h)["clerk"]
	if st, body, _ := clerk.post("/verify/check", url.Values{"input": {string(res.Document)}}); st != 200 || !strings.Contains(body, "有效") || strings.Contains(body, "伪造签名") {
		t.Fatalf("SM2 document on the clerk page: %d", st)
	}
	raw, _ := base64.RawURLEncoding.DecodeString(parts[2])
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1BigInt(new(big.Int).SetBytes(raw[:32]))
		b.AddASN1BigInt(new(big.Int).SetBytes(raw[32:]))
	})
	der := parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(b.BytesOrPanic())
	if st, body, _ := clerk.post("/verify/check", url.Values{"input": {der}}); st != 200 || !strings.Contains(body, "伪造签名") || !strings.Contains(body, "DER 编码") {
		t.Fatalf("DER signature on the clerk page: %d\n%s", st, body)
	}

	_, token, err := h.Shares.Create(ctx, exchange.Holder{Kind: res.Certificate.Holder.Kind, ID: res.Certificate.Holder.ID},
		&exchange.ShareRequest{CertificateID: res.Certificate.ID})
	if err != nil {
		t.Fatal(err)
	}
	r, _ := http.NewRequest("GET", h.Srv.URL+"/s/"+token, nil)
	r.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a struct {
		Valid     bool `json:"valid"`
		SealValid bool `json:"seal_valid"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil || resp.StatusCode != 200 || !a.Valid || !a.SealValid {
		t.Fatalf("share page: %d %+v %v", resp.StatusCode, a, err)
	}
}
