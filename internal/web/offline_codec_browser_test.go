package web_test

import (
	"bytes"
	"compress/zlib"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	crand "crypto/rand"
	"encoding/json"
	"errors"
	"github.com/certhub/certhub/internal/testenv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/fxamacker/cbor/v2"
	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/certhub/certhub/internal/compactqr"
	"github.com/certhub/certhub/internal/hubtest"
)

// b45 is RFC 9285 Base45, written again here so the vectors do not lean
// on the codec under test.
func b45(b []byte) string {
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
	var s strings.Builder
	for i := 0; i+1 < len(b); i += 2 {
		n := int(b[i])<<8 | int(b[i+1])
		s.WriteByte(alphabet[n%45])
		s.WriteByte(alphabet[n/45%45])
		s.WriteByte(alphabet[n/2025])
	}
	if len(b)%2 == 1 {
		n := int(b[len(b)-1])
		s.WriteByte(alphabet[n%45])
		s.WriteByte(alphabet[n/45])
	}
	return s.String()
}

func zlibOf(b []byte) []byte {
	var z bytes.Buffer
	w, _ := zlib.NewWriterLevel(&z, zlib.BestCompression)
	_, _ = w.Write(b)
	_ = w.Close()
	return z.Bytes()
}

// wrapCOSE is the text of raw COSE bytes: prefix, Base45, ZLIB.
func wrapCOSE(raw []byte) string { return compactqr.Prefix + b45(zlibOf(raw)) }

// sign1 builds a tagged COSE_Sign1 by hand; sign, when set, signs the
// Sig_structure (so a payload the encoder would never write can be signed).
func sign1(t *testing.T, prot []byte, unprot any, payload []byte, sign func([]byte) []byte) []byte {
	t.Helper()
	sig := make([]byte, 64)
	if sign != nil {
		tbs, err := cbor.Marshal([]any{"Signature1", prot, []byte{}, payload})
		if err != nil {
			t.Fatal(err)
		}
		sig = sign(tbs)
	}
	b, err := cbor.Marshal(cbor.Tag{Number: 18, Content: []any{prot, unprot, payload, sig}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type testKey struct {
	signer crypto.Signer
	thumb  []byte
	jwk    json.RawMessage
}

func newTestKey(t *testing.T, ed bool) testKey {
	t.Helper()
	var s crypto.Signer
	if ed {
		_, priv, _ := ed25519.GenerateKey(crand.Reader)
		s = priv
	} else {
		priv, _ := ecdsa.GenerateKey(elliptic.P256(), crand.Reader)
		s = priv
	}
	k, err := jwk.Import(s.Public())
	if err != nil {
		t.Fatal(err)
	}
	thumb, err := k.Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(k)
	return testKey{signer: s, thumb: thumb, jwk: b}
}

// TestBrowserOfflineCodecAgrees: the page's verifier (cqr.js, in Chromium)
// and the Go codec (compactqr.Verify) give the same reason for the same
// input: good ES256 and EdDSA codes, each kind of bad input of
// docs/compact-qr.md, and RFC 9285's Base45 vectors.
func TestBrowserOfflineCodecAgrees(t *testing.T) {
	h := hubtest.New(t)
	es, ed := newTestKey(t, false), newTestKey(t, true)
	lookup := func(kid []byte) (crypto.PublicKey, error) {
		for _, k := range []testKey{es, ed} {
			if bytes.Equal(kid, k.thumb[:compactqr.KidSize]) {
				return k.signer.Public(), nil
			}
		}
		return nil, errors.New("no such kid")
	}
	now := time.Now()
	edSign := func(tbs []byte) []byte { return ed25519.Sign(ed.signer.(ed25519.PrivateKey), tbs) }
	protEd, _ := cbor.Marshal(map[int]any{1: -8, 4: ed.thumb[:8]})
	day := func(s string) compactqr.Date { d, _ := compactqr.ParseDate(s); return d }
	in := compactqr.Input{Issuer: h.Srv.URL, Now: now, Licence: compactqr.Licence{ID: "1.2.156.3005.2.x", TypeCode: "11330100MB0000001R002",
		TypeName: "食品经营许可证", IssuerUSCC: "11330100MB0000001R", Holder: "杭州*******公司",
		ValidFrom: day("2026-01-01"), ValidUntil: day("2030-12-31"),
		Fields: map[uint64]any{1: "JY13301020000001", 2: day("2026-01-01"), 3: int64(-42), 4: 3.5, 5: true}}}
	signedClaims := func(claims any) string {
		b, err := cbor.Marshal(claims)
		if err != nil {
			t.Fatal(err)
		}
		return wrapCOSE(sign1(t, protEd, map[any]any{}, b, edSign))
	}
	days := func(n int64) cbor.Tag { return cbor.Tag{Number: 100, Content: n} }
	good := func(k testKey) string {
		s, err := compactqr.Encode(k.signer, k.thumb, in)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	goodES, goodEd := good(es), good(ed)
	stranger := newTestKey(t, true)
	// Nesting in the unprotected header, at the Go codec's limit and one
	// past it (found by asking it), so both sides agree on where it is.
	nested := func(n int) string {
		deep := any([]any{})
		for range n {
			deep = []any{deep}
		}
		return wrapCOSE(sign1(t, protEd, map[any]any{1: deep}, []byte{0xa0}, nil))
	}
	limit := 0
	for n := 0; n < 20; n++ {
		if _, err := compactqr.Verify(nested(n), lookup, now); compactqr.ReasonOf(err) == compactqr.BadCBOR {
			limit = n - 1
			break
		}
	}
	if limit < 1 {
		t.Fatalf("the Go codec refuses nesting at %d", limit+1)
	}
	wide := map[any]any{1: make([]any, 17)}
	mapPairs := func(n int) string {
		m := map[any]any{}
		for i := range n {
			m[i] = 0
		}
		return wrapCOSE(sign1(t, protEd, m, []byte{0xa0}, nil))
	}
	tampered := []byte(goodEd)
	tampered[len(tampered)-5] ^= 1 // near the end: the signature, or the text's Base45
	edByES, _ := compactqr.Encode(ed.signer, es.thumb, in)

	vectors := []struct{ name, text, want string }{
		{"ES256", goodES, ""},
		{"EdDSA", goodEd, ""},
		{"HC1 prefix", "HC1:" + strings.TrimPrefix(goodES, "CH1:"), "bad_prefix"},
		{"bad base45 character", goodES[:20] + "#" + goodES[21:], "bad_base45"},
		{"base45 length", "CH1:BB8A", "bad_base45"},
		{"base45 group out of range", "CH1:GGW", "bad_base45"},
		{"not zlib", "CH1:" + b45([]byte("plain text")), "bad_zlib"},
		{"zlib bomb", "CH1:" + b45(zlibOf(make([]byte, 1<<20))), "too_large"},
		{"longer than a QR code", "CH1:" + strings.Repeat("BB8", 3000), "too_large"},
		{"not CBOR", wrapCOSE([]byte{0xff, 0xff}), "bad_cbor"},
		{"untagged", wrapCOSE(sign1(t, protEd, map[any]any{}, []byte{0xa0}, nil)[1:]), "bad_cbor"},
		{"indefinite length", wrapCOSE([]byte{0xd2, 0x9f, 0xff}), "bad_cbor"},
		{"nesting at the limit", nested(limit), "bad_signature"},
		{"excessive nesting", nested(limit + 1), "bad_cbor"},
		{"array too long", wrapCOSE(sign1(t, protEd, wide, []byte{0xa0}, nil)), "bad_cbor"},
		{"128 map pairs", mapPairs(128), "bad_signature"},
		{"129 map pairs", mapPairs(129), "bad_cbor"},
		{"duplicate header key", wrapCOSE(sign1(t, append(append([]byte{0xa3, 0x01, 0x27, 0x04, 0x48}, ed.thumb[:8]...), 0x01, 0x27), map[any]any{}, []byte{0xa0}, nil)), "bad_cbor"},
		{"no kid", wrapCOSE(sign1(t, []byte{0xa1, 0x01, 0x27}, map[any]any{}, []byte{0xa0}, nil)), "bad_cbor"},
		{"bytes after the message", wrapCOSE(append(sign1(t, protEd, map[any]any{}, []byte{0xa0}, nil), 0x00)), "bad_cbor"},
		{"alg HS256", wrapCOSE(sign1(t, mustCBOR(t, map[int]any{1: 5, 4: ed.thumb[:8]}), map[any]any{}, []byte{0xa0}, nil)), "bad_algorithm"},
		{"EdDSA header, P-256 key", edByES, "bad_algorithm"},
		{"unknown kid", good(stranger), "unknown_key"},
		{"zero signature", wrapCOSE(sign1(t, protEd, map[any]any{}, []byte{0xa0}, nil)), "bad_signature"},
		{"signed duplicate claim", wrapCOSE(sign1(t, protEd, map[any]any{}, []byte{0xa2, 0x06, 0x01, 0x06, 0x02}, edSign)), "bad_cbor"},
		{"signed without licence", wrapCOSE(sign1(t, protEd, map[any]any{}, []byte{0xa1, 0x06, 0x01}, edSign)), "bad_cbor"},
		{"signed invalid UTF-8", wrapCOSE(sign1(t, protEd, map[any]any{}, []byte{0xa2, 0x06, 0x01, 0x3a, 0x00, 0x01, 0x00, 0x00, 0xa1, 0x01, 0x62, 0xff, 0xfe}, edSign)), "bad_cbor"},
		{"date as text", signedClaims(map[int]any{6: 1, -65537: map[int]any{1: "x", 7: "2026-01-01"}}), "bad_cbor"},
		{"date tag out of range", signedClaims(map[int]any{6: 1, -65537: map[int]any{1: "x", 7: days(2932897)}}), "bad_cbor"},
		{"date at the end of year 9999", signedClaims(map[int]any{6: 1, -65537: map[int]any{1: "x", 7: days(2932896)}}), ""},
		{"field number 0", signedClaims(map[int]any{6: 1, -65537: map[int]any{1: "x", 7: days(0), 9: map[int]any{0: "a"}}}), "bad_cbor"},
		{"field named, not numbered", signedClaims(map[int]any{6: 1, -65537: map[int]any{1: "x", 7: days(0), 9: map[string]any{"address": "a"}}}), "bad_cbor"},
		{"field value an array", signedClaims(map[int]any{6: 1, -65537: map[int]any{1: "x", 7: days(0), 9: map[int]any{1: []any{"a"}}}}), "bad_cbor"},
		{"field value another tag", signedClaims(map[int]any{6: 1, -65537: map[int]any{1: "x", 7: days(0), 9: map[int]any{1: cbor.Tag{Number: 1, Content: 0}}}}), "bad_cbor"},
		{"retired key 5 ignored", signedClaims(map[int]any{6: 1, -65537: map[int]any{1: "x", 5: "杭州市市场监督管理局", 7: days(0)}}), ""},
	}
	if t2 := string(tampered); strings.HasPrefix(t2, "CH1:") {
		vectors = append(vectors, struct{ name, text, want string }{"tampered", t2, ""})
	}
	for i := range vectors {
		_, err := compactqr.Verify(vectors[i].text, lookup, now)
		got := string(compactqr.ReasonOf(err))
		if vectors[i].name == "tampered" {
			vectors[i].want = got // whatever one flipped bit does, both must agree
		}
		if got != vectors[i].want {
			t.Fatalf("%s: the Go codec says %q, the vector wants %q (%v)", vectors[i].name, got, vectors[i].want, err)
		}
	}

	ctx := testenv.Browser(t, "")
	run(t, ctx, chromedp.Navigate(h.Srv.URL+"/verify/login"), chromedp.WaitVisible(chromedp.CSS(`body`)))
	texts, _ := json.Marshal(func() []string {
		var s []string
		for _, v := range vectors {
			s = append(s, v.text)
		}
		return s
	}())
	keys, _ := json.Marshal([]json.RawMessage{es.jwk, ed.jwk})
	js := `(async (texts, jwks, now) => {
		await new Promise((ok, bad) => { const s = document.createElement('script'); s.src = '/static/cqr.js'; s.onload = ok; s.onerror = bad; document.head.appendChild(s); });
		const Q = self.CertHubQR, hex = b => Array.from(b, x => x.toString(16).padStart(2, '0')).join('');
		const keys = new Map();
		for (const j of jwks) { const k = await Q.importJWK(j); keys.set(hex(k.thumbprint.subarray(0, 8)), k); }
		const out = [];
		for (const t of texts) {
			try {
				const r = await Q.decode(t, kid => keys.get(kid) || null);
				out.push(r.exp !== undefined && now >= r.exp ? 'expired' : '');
			} catch (e) { out.push(e.reason || 'exception: ' + e); }
		}
		const b45 = [["AB", "BB8"], ["Hello!!", "%69 VD92EX0"], ["base-45", "UJCLQE7W581"], ["ietf!", "QED8WEX0"]]
			.map(([plain, enc]) => new TextDecoder().decode(Q.base45Decode(enc)) === plain);
		return {reasons: out, base45: b45};
	})(` + string(texts) + `, ` + string(keys) + `, ` + jsonInt(now.Unix()) + `)`
	res, err := chromedp.Run(ctx, chromedp.Evaluate[struct {
		Reasons []string `json:"reasons"`
		Base45  []bool   `json:"base45"`
	}](js, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Reasons) != len(vectors) {
		t.Fatalf("%d results for %d vectors", len(res.Reasons), len(vectors))
	}
	for i, v := range vectors {
		if res.Reasons[i] != v.want {
			t.Errorf("%s: the page says %q, the Go codec %q", v.name, res.Reasons[i], v.want)
		}
	}
	for i, ok := range res.Base45 {
		if !ok {
			t.Errorf("RFC 9285 Base45 vector %d decodes wrongly in the page", i)
		}
	}

	// Expiry: the same code, later.
	later, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(async () => {
		const k = await CertHubQR.importJWK(`+string(ed.jwk)+`);
		const r = await CertHubQR.decode(`+jsonString(goodEd)+`, () => k);
		return r.exp <= Date.UTC(2031, 0, 1) / 1000 ? 'expired' : 'not expired';
	})()`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	_, goErr := compactqr.Verify(goodEd, lookup, time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC))
	if later != string(compactqr.ReasonOf(goErr)) {
		t.Fatalf("in 2031 the page says %q, the Go codec %q", later, compactqr.ReasonOf(goErr))
	}
}

func mustCBOR(t *testing.T, v any) []byte {
	t.Helper()
	b, err := cbor.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func jsonString(s string) string { b, _ := json.Marshal(s); return string(b) }
func jsonInt(n int64) string     { b, _ := json.Marshal(n); return string(b) }
