package statuslist

import (
	"crypto/rand"
	"testing"
)

// BenchmarkRegenerate1M regenerates a list of 1,048,576 entries with 1 %
// revoked at random indexes, from the rows a store returns (index,
// status) to both encodings: the IETF lst and the two W3C encodedLists.
// It reports the encoded sizes.
func BenchmarkRegenerate1M(b *testing.B) {
	const size = 1 << 20
	seed := make([]byte, SeedSize)
	rand.Read(seed)
	p, _ := NewPermutation(size, seed)
	revoked := make([]int, size/100)
	for c := range revoked {
		revoked[c], _ = p.Index(c)
	}
	var tslBytes, bslBytes int
	b.ResetTimer()
	for b.Loop() {
		l, _ := New(size)
		for _, idx := range revoked {
			if err := l.Set(idx, Invalid); err != nil {
				b.Fatal(err)
			}
		}
		lst, err := l.EncodeTSL()
		if err != nil {
			b.Fatal(err)
		}
		rev, err := l.EncodeBSL(Revocation)
		if err != nil {
			b.Fatal(err)
		}
		sus, err := l.EncodeBSL(Suspension)
		if err != nil {
			b.Fatal(err)
		}
		tslBytes, bslBytes = len(lst), len(rev)+0*len(sus)
	}
	b.ReportMetric(float64(tslBytes), "tsl-lst-bytes")
	b.ReportMetric(float64(bslBytes), "bsl-encodedList-bytes")
}
