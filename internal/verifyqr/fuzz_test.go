package verifyqr_test

import (
	"testing"
	"time"

	"github.com/certhub/certhub/internal/compactqr"
	"github.com/certhub/certhub/internal/statuslist"
	"github.com/certhub/certhub/internal/verifyqr"
	"github.com/certhub/certhub/internal/verifyqr/verifyqrtest"
)

// FuzzVerify feeds Verify arbitrary texts: every report that is not valid
// names a reason with a detail, nothing panics, and only the fixture's own
// QR verifies.
func FuzzVerify(f *testing.F) {
	fx := verifyqrtest.New(f)
	tl, tsl := lists(f, fx)
	v := verifier(f, fx, tl, tsl)
	good := fx.QR(f, fx.ES256, verifyqrtest.Licence("000001", "2029-12-31"), fx.Now, idxValid)
	for _, seed := range []string{good, good[:len(good)/2], "", compactqr.Prefix, compactqr.Prefix + "BB8",
		wrap(make([]byte, 1<<20)), wrap([]byte{0xd2, 0x84, 0x40, 0xa0, 0x40, 0x40})} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, text string) {
		r := v.Verify(text, fx.Now)
		if r.Valid && text != good {
			t.Fatalf("accepted a text it never saw signed: %+v", r)
		}
		if !r.Valid && (r.Reason == "" || len(r.Details) != len(r.Reasons)) {
			t.Fatalf("invalid without a reason: %+v", r)
		}
	})
}

// FuzzParseLists feeds the cached-file parsers arbitrary bytes: an error
// always has a reason, never a panic.
func FuzzParseLists(f *testing.F) {
	fx := verifyqrtest.New(f)
	tl, tsl := lists(f, fx)
	hub, err := verifyqr.ParseHubKey(fx.HubJWK())
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range [][]byte{tl, tsl, fx.HubJWK(), nil, []byte("a.b.c"),
		verifyqrtest.TSL(f, fx.Hub, verifyqrtest.StatusURI(1), 4, map[int]statuslist.Status{1: 3}, fx.Now, fx.Now.Add(time.Hour), 0)} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, err := verifyqr.ParseTrustList(b, hub); err != nil && verifyqr.ReasonOf(err) != verifyqr.BadTrustList {
			t.Fatalf("trust list: %v", err)
		}
		if sl, err := verifyqr.ParseStatusList(b, hub); err != nil && verifyqr.ReasonOf(err) != verifyqr.BadStatusList {
			t.Fatalf("status list: %v", err)
		} else if err == nil {
			sl.Status(uint64(sl.Len()))
			sl.Status(0)
		}
		if _, err := verifyqr.ParseHubKey(b); err != nil && verifyqr.ReasonOf(err) != verifyqr.BadHubKey {
			t.Fatalf("hub key: %v", err)
		}
	})
}

// BenchmarkVerify is the whole offline check of one scan, lists already
// loaded (as a verifier holds them between refreshes): Base45, ZLIB, COSE,
// the kid looked up in the trust list, the ES256 signature, the key's
// validity, the status list entry.
func BenchmarkVerify(b *testing.B) {
	fx := verifyqrtest.New(b)
	tl, tsl := lists(b, fx)
	v := verifier(b, fx, tl, tsl)
	for _, k := range []struct {
		name string
		key  *verifyqrtest.SealKey
	}{{"ES256", fx.ES256}, {"EdDSA", fx.EdDSA}} {
		text := fx.QR(b, k.key, verifyqrtest.Licence("000001", "2029-12-31"), fx.Now, idxValid)
		b.Logf("%s: %d characters", k.name, len(text))
		b.Run(k.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if r := v.Verify(text, fx.Now); !r.Valid {
					b.Fatal(r.Reasons)
				}
			}
		})
	}
}
