package httpapi_test

import (
	"bytes"
	"context"
	"encoding/asn1"
	"strings"
	"testing"
	"time"

	"github.com/certhub/certhub/internal/errs"
	"github.com/certhub/certhub/internal/hubtest"
	"github.com/certhub/certhub/internal/sestest"
	"github.com/certhub/certhub/signing"
)

// TestAuthorityESeal: the hub seals bytes with an authority's GB/T 38540
// electronic seal made of what it holds (the SM2 seal key and its hub-issued
// certificate, the seal CA root as seal maker, the seal picture). certhub's
// verifier says valid and trusted; OpenSSL accepts both signatures; an
// authority without an SM2 key gets a conflict saying what to configure; a
// seal from a foreign CA is not trusted. On SQLite and PostgreSQL.
func TestAuthorityESeal(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		opts []hubtest.Option
	}{{"sqlite", nil}, {"postgres", []hubtest.Option{hubtest.OnPostgres()}}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHub(t, tc.opts...)
			ctx := context.Background()
			if st := h.call("POST", "/api/v1/authorities", h.Admin, map[string]string{"code": marketCode, "name": "杭州市市场监督管理局", "algorithm": "SM2"}, nil); st != 201 {
				t.Fatalf("create SM2 authority: %d", st)
			}
			if st := h.call("POST", "/api/v1/authorities", h.Admin, map[string]string{"code": otherCode, "name": "杭州市规划和自然资源局"}, nil); st != 201 {
				t.Fatalf("create ES256 authority: %d", st)
			}
			data := []byte("<ofd:Signature>the bytes a licence file seals</ofd:Signature>")
			ses, err := h.Certs.ESeal(ctx, marketCode, data, "Doc_0/Signs/Sign_0/Signature.xml")
			if err != nil {
				t.Fatal(err)
			}
			rep, err := h.Certs.Keys.VerifySealedBytes(ctx, ses, data)
			if err != nil || !rep.Valid || rep.Check("trusted") == nil || !rep.Check("trusted").OK {
				t.Fatalf("report: %+v %v", rep, err)
			}
			if !strings.Contains(rep.Signer, "11330100MB0000001R") || rep.SealName != "杭州市市场监督管理局" {
				t.Fatalf("signer %q, seal %q", rep.Signer, rep.SealName)
			}
			if rep, _ := h.Certs.Keys.VerifySealedBytes(ctx, ses, append(data, '!')); rep == nil || rep.Valid {
				t.Fatal("other data verified")
			}

			// Independently: OpenSSL checks the signer's signature over
			// TBS_Sign and the maker's over SES_SealInfo.
			var sig signing.SESSignature
			if _, err := asn1.Unmarshal(ses, &sig); err != nil {
				t.Fatal(err)
			}
			if out, ok := sestest.OpenSSLVerify(t, sig.Cert, sig.ToSign.Raw, sig.Signature.Bytes); !ok {
				t.Fatalf("OpenSSL refused the TBS signature:\n%s", out)
			}
			seal := sig.ToSign.ESeal
			if out, ok := sestest.OpenSSLVerify(t, seal.Cert, seal.SealInfo.Raw, seal.SignedValue.Bytes); !ok {
				t.Fatalf("OpenSSL refused the seal maker's signature:\n%s", out)
			}
			_, png, err := h.Certs.SealImage(ctx, marketCode)
			if err != nil || !bytes.Equal(seal.SealInfo.Picture.Data, png) || seal.SealInfo.Picture.Type != "PNG" {
				t.Fatalf("the seal does not carry the authority's picture (%v)", err)
			}

			if _, err := h.Certs.ESeal(ctx, otherCode, data, "x"); !errs.Is(err, errs.Conflict) || !strings.Contains(err.Error(), `{"algorithm": "SM2"}`) {
				t.Fatalf("authority without SM2: %v", err)
			}

			// A seal whose signer and maker come from a CA the hub does not
			// know verifies as signatures, and is not trusted.
			now := time.Now()
			root := sestest.NewRoot(t, "elsewhere", now)
			signer := root.Issue(t, "someone", now.Add(-time.Hour), now.Add(time.Hour))
			foreignSeal, err := signing.MakeSeal(root.Key, root.Cert, signing.SealSpec{ESID: "X-1", Name: "别处", SignerCerts: [][]byte{signer.Cert},
				Created: now, ValidStart: now.Add(-time.Hour), ValidEnd: now.Add(time.Hour), PNG: sestest.PNG(t), WidthMM: 40, HeightMM: 40})
			if err != nil {
				t.Fatal(err)
			}
			foreign, err := signing.SignSES(signer.Key, signer.Cert, foreignSeal, data, now, "x")
			if err != nil {
				t.Fatal(err)
			}
			rep, err = h.Certs.Keys.VerifySealedBytes(ctx, foreign, data)
			if err != nil || rep.Valid || rep.Check("trusted") == nil || rep.Check("trusted").OK || rep.Check("signature") == nil || !rep.Check("signature").OK {
				t.Fatalf("foreign seal: %+v %v", rep, err)
			}
		})
	}
}
