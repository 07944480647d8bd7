package compactqr

import (
	"bytes"
	"compress/zlib"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/veraison/go-cose"
)

var now = time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)

// jwk returns the public JWK members (RFC 7638 order) and the SHA-256
// thumbprint of pub.
func jwk(t testing.TB, pub crypto.PublicKey) (map[string]string, []byte) {
	t.Helper()
	b64 := base64.RawURLEncoding.EncodeToString
	var m map[string]string
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		raw, err := k.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		m = map[string]string{"crv": "P-256", "kty": "EC", "x": b64(raw[1:33]), "y": b64(raw[33:])}
	case ed25519.PublicKey:
		m = map[string]string{"crv": "Ed25519", "kty": "OKP", "x": b64(k)}
	default:
		t.Fatalf("key %T", pub)
	}
	j, _ := json.Marshal(m) // encoding/json sorts keys: the RFC 7638 form
	sum := sha256.Sum256(j)
	return m, sum[:]
}

type testKey struct {
	name   string
	signer crypto.Signer
	jwk    map[string]string
	thumb  []byte
}

func keys(t testing.TB) []testKey {
	t.Helper()
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var out []testKey
	for _, k := range []struct {
		name string
		s    crypto.Signer
	}{{"ES256", ec}, {"EdDSA", ed}} {
		j, th := jwk(t, k.s.Public())
		out = append(out, testKey{k.name, k.s, j, th})
	}
	return out
}

// lookup trusts exactly k.
func (k testKey) lookup(kid []byte) (crypto.PublicKey, error) {
	if !bytes.Equal(kid, k.thumb[:KidSize]) {
		return nil, errors.New("no such key")
	}
	return k.signer.Public(), nil
}

// The demo catalogue's food business licence (食品经营许可证) fields, by
// their numbers (1-based positions in the type's field list).
const (
	foodPermitNo      = 1 // permit_no 许可证编号
	foodLegal         = 2 // legal_representative 法定代表人（负责人）
	foodOperatorType  = 3 // operator_type 主体业态
	foodBusinessItems = 4 // business_items 经营项目
	foodAddress       = 5 // address 经营场所
)

// typical is a realistic licence: a food business licence (食品经营许可证,
// the demo catalogue's type with its five shareable fields, all shared) of
// a Chinese company, its name masked by the share page's helper, with a CJK
// address and business items.
func typical() Input {
	return Input{
		Issuer: "https://zwfw.hangzhou.gov.cn",
		Licence: Licence{
			// certificates.Identifier{TypeCode: "11330100MB1D6543XK002",
			// Issuer: "11330106MB0F2207XL", Serial: "2026000731", Version: 1}
			// (not imported: certificates depends on signing, which uses this
			// package).
			ID:         "1.2.156.3005.2.11330100MB1D6543XK002.11330106MB0F2207XL.2026000731.001.W",
			TypeCode:   "11330100MB1D6543XK002",
			TypeName:   "食品经营许可证",
			IssuerUSCC: "11330106MB0F2207XL",
			Holder:     "杭州*********公司", // certificates.MaskName of 杭州湖畔居餐饮管理有限公司
			ValidFrom:  Date{2026, 3, 15},
			ValidUntil: Date{2031, 3, 14},
			Fields: map[uint64]any{
				foodPermitNo:      "JY13301060012345",
				foodLegal:         "王建国",
				foodOperatorType:  "餐饮服务经营者（中型餐馆）",
				foodBusinessItems: "热食类食品制售；冷食类食品制售；自制饮品制售",
				foodAddress:       "浙江省杭州市西湖区文三路 478 号华星时代广场 A 座 1203 室",
			},
		},
		Status: &StatusRef{Idx: 93172, URI: "https://zwfw.hangzhou.gov.cn/status/tsl/7"},
		Now:    now,
	}
}

// large is a business licence (营业执照) whose holder shared everything
// shareable, and a long business scope besides (not shareable in the demo
// catalogue, which is what keeps a licence in budget): the size such a
// text can reach.
func large() Input {
	in := typical()
	in.Licence.TypeCode, in.Licence.TypeName = "11330100MB1D6543XK001", "营业执照"
	in.Licence.Fields = map[uint64]any{
		1: "王建国",
		2: "有限责任公司（自然人投资或控股）",
		3: "伍佰万元整",
		4: Date{2019, 7, 22},
		5: "浙江省杭州市西湖区文三路 478 号华星时代广场 A 座 1203 室",
		6: "一般项目：餐饮管理；食品销售（仅销售预包装食品）；企业管理咨询；会议及展览服务；" +
			"技术服务、技术开发、技术咨询、技术交流、技术转让、技术推广（除依法须经批准的项目外，凭营业执照依法自主开展经营活动）。",
	}
	return in
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	for _, k := range keys(t) {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			in := typical()
			text, err := Encode(k.signer, k.thumb, in)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(text, "CH1:") {
				t.Fatalf("text %q lacks the prefix", text[:8])
			}
			res, err := Verify(text, k.lookup, now)
			if err != nil {
				t.Fatal(err)
			}
			if res.Alg != k.name || !bytes.Equal(res.Kid, k.thumb[:8]) || res.Issuer != in.Issuer || !res.IssuedAt.Equal(now) {
				t.Fatalf("header/claims: %+v", res)
			}
			if want := time.Date(2031, 3, 14, 16, 0, 0, 0, time.UTC); !res.Expires.Equal(want) {
				t.Fatalf("exp %s, want %s (end of 2031-03-14 in China)", res.Expires.UTC(), want)
			}
			if res.Status == nil || *res.Status != *in.Status {
				t.Fatalf("status %+v", res.Status)
			}
			got, _ := json.Marshal(res.Licence)
			want, _ := json.Marshal(in.Licence)
			if !bytes.Equal(got, want) {
				t.Fatalf("licence\n got %s\nwant %s", got, want)
			}
		})
	}
}

func TestLicenceWithoutExpiryOrStatus(t *testing.T) {
	t.Parallel()
	k := keys(t)[0]
	in := typical()
	in.Licence.ValidUntil, in.Status = Date{}, nil
	text, err := Encode(k.signer, k.thumb, in)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Verify(text, k.lookup, now.AddDate(50, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	if !res.Expires.IsZero() || res.Status != nil {
		t.Fatalf("want no exp and no status, got %+v", res)
	}
}

// TestTypicalLicenceFits measures texts of realistic licences with CJK
// names and addresses. The ≤ 800 character budget (issue 13, QR version 22)
// holds for a food business licence with all five shareable fields; three
// of them, and a business licence with a 100-character scope on top of
// everything shareable, are measured and logged (docs/compact-qr.md,
// "Size").
func TestTypicalLicenceFits(t *testing.T) {
	t.Parallel()
	for _, k := range keys(t) {
		for range 20 { // the signature's random bytes move the length by a few characters
			text, err := Encode(k.signer, k.thumb, typical())
			if err != nil {
				t.Fatal(err)
			}
			if len(text) > 800 {
				t.Fatalf("%s, food licence with 5 shared fields: %d characters, want ≤ 800", k.name, len(text))
			}
		}
		three := typical()
		delete(three.Licence.Fields, foodOperatorType)
		delete(three.Licence.Fields, foodBusinessItems)
		for _, c := range []struct {
			name string
			in   Input
		}{{"food licence, 5 shared fields", typical()}, {"food licence, 3 shared fields", three}, {"business licence, everything shared + scope", large()}} {
			text, err := Encode(k.signer, k.thumb, c.in)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s, %s: %d characters", k.name, c.name, len(text))
		}
	}
}

func TestClaimsAreDeterministic(t *testing.T) {
	t.Parallel()
	in := typical()
	c := claims{Iss: in.Issuer, Iat: 1, Licence: &in.Licence}
	first, err := encMode.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	for range 50 { // map iteration order differs from run to run
		again, _ := encMode.Marshal(c)
		if !bytes.Equal(first, again) {
			t.Fatal("the same claims encoded to different bytes")
		}
	}
	var m map[int64]cbor.RawMessage
	if err := decMode.Unmarshal(first, &m); err != nil {
		t.Fatal(err)
	}
	if _, ok := m[LicenceClaim]; !ok {
		t.Fatalf("no claim %d in %x", LicenceClaim, first)
	}
}

func TestEncodeRefuses(t *testing.T) {
	t.Parallel()
	k := keys(t)[0]
	for _, tc := range []struct {
		name   string
		change func(*Input)
		thumb  []byte
	}{
		{"no identifier", func(in *Input) { in.Licence.ID = "" }, k.thumb},
		{"no issuer", func(in *Input) { in.Licence.IssuerUSCC = "" }, k.thumb},
		{"no validFrom", func(in *Input) { in.Licence.ValidFrom = Date{} }, k.thumb},
		{"bad validFrom", func(in *Input) { in.Licence.ValidFrom = Date{2026, 13, 1} }, k.thumb},
		{"bad validUntil", func(in *Input) { in.Licence.ValidUntil = Date{2026, 2, 30} }, k.thumb},
		{"field number 0", func(in *Input) { in.Licence.Fields[0] = "x" }, k.thumb},
		{"field of another type", func(in *Input) { in.Licence.Fields[7] = []string{"x"} }, k.thumb},
		{"short thumbprint", func(*Input) {}, k.thumb[:4]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := typical()
			tc.change(&in)
			if _, err := Encode(k.signer, tc.thumb, in); err == nil {
				t.Fatal("want an error")
			}
		})
	}
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if _, err := Encode(p384, k.thumb, typical()); err == nil {
		t.Fatal("P-384 key accepted")
	}
}

// wrap packs raw CBOR as a compact QR text without signing it.
func wrap(raw []byte) string {
	var z bytes.Buffer
	w := zlib.NewWriter(&z)
	_, _ = w.Write(raw)
	_ = w.Close()
	return Prefix + base45Encode(z.Bytes())
}

// rawSign1 builds a COSE_Sign1 from parts, signing nothing.
func rawSign1(t testing.TB, protected []byte, unprotected any, payload []byte) []byte {
	t.Helper()
	b, err := cbor.Marshal(cbor.Tag{Number: 18, Content: []any{protected, unprotected, payload, make([]byte, 64)}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// unprotect decodes text's COSE_Sign1 so a test can change it.
func unpack(t testing.TB, text string) cose.Sign1Message {
	t.Helper()
	z, err := base45Decode(strings.TrimPrefix(text, Prefix))
	if err != nil {
		t.Fatal(err)
	}
	r, err := zlib.NewReader(bytes.NewReader(z))
	if err != nil {
		t.Fatal(err)
	}
	var raw bytes.Buffer
	_, _ = raw.ReadFrom(r)
	var m cose.Sign1Message
	if err := m.UnmarshalCBOR(raw.Bytes()); err != nil {
		t.Fatal(err)
	}
	return m
}

func repack(t testing.TB, m cose.Sign1Message) string {
	t.Helper()
	raw, err := m.MarshalCBOR()
	if err != nil {
		t.Fatal(err)
	}
	return wrap(raw)
}

func TestVerifyReasons(t *testing.T) {
	t.Parallel()
	ks := keys(t)
	es, ed := ks[0], ks[1]
	good, err := Encode(es.signer, es.thumb, typical())
	if err != nil {
		t.Fatal(err)
	}

	var bomb bytes.Buffer
	w, _ := zlib.NewWriterLevel(&bomb, zlib.BestCompression)
	_, _ = w.Write(make([]byte, 1<<20)) // 1 MiB of zeros: about 1 KiB compressed
	_ = w.Close()
	if n := len(base45Encode(bomb.Bytes())); n > maxText {
		t.Fatalf("the bomb's text (%d characters) would be refused before decompression", n)
	}

	deep := any([]any{})
	for range 40 {
		deep = []any{deep}
	}
	prot, _ := cbor.Marshal(map[int]any{1: -7, 4: es.thumb[:8]})
	// {1: -7, 4: kid, 1: -7}: alg twice.
	dupProt := append([]byte{0xa3, 0x01, 0x26, 0x04, 0x48}, append(append([]byte{}, es.thumb[:8]...), 0x01, 0x26)...)

	tampered := unpack(t, good)
	tampered.Payload = bytes.Replace(tampered.Payload, []byte("JY133"), []byte("JY134"), 1)
	if bytes.Equal(tampered.Payload, unpack(t, good).Payload) {
		t.Fatal("tampering changed nothing")
	}

	otherKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	forged, _ := Encode(otherKey, es.thumb, typical()) // claims es's kid

	es384 := unpack(t, good)
	es384.Headers.Protected[cose.HeaderLabelAlgorithm] = cose.AlgorithmES384
	es384.Headers.RawProtected = nil

	edByEs, _ := Encode(ed.signer, es.thumb, typical()) // EdDSA header, kid of a P-256 key

	sig, err := sign(es.signer, es.thumb[:8], []byte{0xa2, 0x01, 0x61, 0x61, 0x01, 0x61, 0x62}) // {1:"a", 1:"b"}
	if err != nil {
		t.Fatal(err)
	}
	signedDeep, _ := cbor.Marshal(map[int]any{6: 1, LicenceClaim: deep})
	deepPayload, _ := sign(es.signer, es.thumb[:8], signedDeep)
	noLicence, _ := sign(es.signer, es.thumb[:8], []byte{0xa1, 0x06, 0x01}) // {6: 1}
	licenceWith := func(key int, v any) string {
		l := map[int]any{1: "id", 4: "11330106MB0F2207XL", 7: cbor.Tag{Number: 100, Content: 20000}, key: v}
		p, err := encMode.Marshal(map[int]any{6: 1, LicenceClaim: l})
		if err != nil {
			t.Fatal(err)
		}
		text, err := sign(es.signer, es.thumb[:8], p)
		if err != nil {
			t.Fatal(err)
		}
		return text
	}

	for _, tc := range []struct {
		name string
		text string
		now  time.Time
		want Reason
	}{
		{"empty", "", now, BadPrefix},
		{"HC1", "HC1:" + strings.TrimPrefix(good, Prefix), now, BadPrefix},
		{"lower-case base45", strings.ToLower(good), now, BadPrefix},
		{"bad base45 char", good[:20] + "#" + good[21:], now, BadBase45},
		{"base45 length", Prefix + "BB8A", now, BadBase45},
		{"not zlib", Prefix + base45Encode([]byte("plain text")), now, BadZlib},
		{"truncated zlib", good[:len(Prefix)+(len(good)-len(Prefix))/3*3-30], now, BadZlib},
		{"zlib bomb", Prefix + base45Encode(bomb.Bytes()), now, TooLarge},
		{"longer than any QR code", Prefix + strings.Repeat("BB8", 3000), now, TooLarge},
		{"not CBOR", wrap([]byte{0xff, 0xff}), now, BadCBOR},
		{"untagged", wrap(rawSign1(t, prot, map[any]any{}, []byte{0xa0})[1:]), now, BadCBOR},
		{"wrong tag", wrap(append([]byte{0xd8, 0x62}, rawSign1(t, prot, map[any]any{}, []byte{0xa0})[1:]...)), now, BadCBOR},
		{"excessive nesting", wrap(rawSign1(t, prot, deep, []byte{0xa0})), now, BadCBOR},
		{"duplicate header key", wrap(rawSign1(t, dupProt, map[any]any{}, []byte{0xa0})), now, BadCBOR},
		{"no kid", wrap(rawSign1(t, []byte{0xa1, 0x01, 0x26}, map[any]any{}, []byte{0xa0})), now, BadCBOR},
		{"signed duplicate claim", sig, now, BadCBOR},
		{"signed deep claim", deepPayload, now, BadCBOR},
		{"signed without licence", noLicence, now, BadCBOR},
		{"date as text", licenceWith(7, "2026-03-15"), now, BadCBOR},
		{"date of another tag", licenceWith(8, cbor.Tag{Number: 1004, Content: "2026-03-15"}), now, BadCBOR},
		{"date past year 9999", licenceWith(8, cbor.Tag{Number: 100, Content: 3000000}), now, BadCBOR},
		{"field as bytes", licenceWith(9, map[int]any{1: []byte("x")}), now, BadCBOR},
		{"field of another tag", licenceWith(9, map[int]any{1: cbor.Tag{Number: 1, Content: 5}}), now, BadCBOR},
		{"field number as text", licenceWith(9, map[string]any{"address": "x"}), now, BadCBOR},
		{"unknown kid", wrap(rawSign1(t, mustMarshal(t, map[int]any{1: -7, 4: []byte("whoever!")}), map[any]any{}, []byte{0xa0})), now, UnknownKey},
		{"alg ES384", repack(t, es384), now, BadAlgorithm},
		{"alg HS256", wrap(rawSign1(t, mustMarshal(t, map[int]any{1: 5, 4: es.thumb[:8]}), map[any]any{}, []byte{0xa0})), now, BadAlgorithm},
		{"EdDSA header for a P-256 key", edByEs, now, BadAlgorithm},
		{"tampered payload", repack(t, tampered), now, BadSignature},
		{"signed by another key", forged, now, BadSignature},
		{"zero signature", wrap(rawSign1(t, prot, map[any]any{}, []byte{0xa0})), now, BadSignature},
		{"expired", good, time.Date(2031, 3, 14, 16, 0, 0, 0, time.UTC), Expired},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res, err := Verify(tc.text, es.lookup, tc.now)
			if got := ReasonOf(err); got != tc.want {
				t.Fatalf("reason %q (%v), want %q", got, err, tc.want)
			}
			if tc.want != Expired && res != nil {
				t.Fatalf("a result with a failure: %+v", res)
			}
		})
	}
	if _, err := Verify(good, es.lookup, time.Date(2031, 3, 14, 15, 59, 59, 0, time.UTC)); err != nil {
		t.Fatalf("valid on its last day: %v", err)
	}
}

func mustMarshal(t testing.TB, v any) []byte {
	t.Helper()
	b, err := cbor.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func BenchmarkVerify(b *testing.B) {
	k := keys(b)[0]
	text, err := Encode(k.signer, k.thumb, typical())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Verify(text, k.lookup, now); err != nil {
			b.Fatal(err)
		}
	}
}

// TestFieldValueTypes round-trips every field type a catalogue has:
// string, date (tag 100), integer and fractional numbers, boolean.
func TestFieldValueTypes(t *testing.T) {
	t.Parallel()
	k := keys(t)[0]
	in := typical()
	in.Licence.Fields = map[uint64]any{1: "JY1", 2: Date{1969, 12, 31}, 3: int64(120), 4: 89.5, 5: true, 6: int64(-3)}
	text, err := Encode(k.signer, k.thumb, in)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Verify(text, k.lookup, now)
	if err != nil {
		t.Fatal(err)
	}
	for n, want := range in.Licence.Fields {
		if got := res.Licence.Fields[n]; got != want {
			t.Errorf("field %d: %#v, want %#v", n, got, want)
		}
	}
}
