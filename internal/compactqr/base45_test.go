package compactqr

import (
	"bytes"
	"testing"
)

func TestBase45RFC9285Vectors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, out string }{
		{"AB", "BB8"},
		{"Hello!!", "%69 VD92EX0"},
		{"base-45", "UJCLQE7W581"},
		{"ietf!", "QED8WEX0"},
		{"", ""},
	} {
		t.Run(tc.in, func(t *testing.T) {
			if got := base45Encode([]byte(tc.in)); got != tc.out {
				t.Fatalf("encode %q = %q, want %q", tc.in, got, tc.out)
			}
			got, err := base45Decode(tc.out)
			if err != nil || string(got) != tc.in {
				t.Fatalf("decode %q = %q, %v; want %q", tc.out, got, err, tc.in)
			}
		})
	}
}

func TestBase45RejectsBadInput(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, in string }{
		{"lower case", "bb8"},
		{"outside alphabet", "BB#"},
		{"one char left over", "BB8A"},
		{"single char", "A"},
		{"triple over 65535", "GGW"}, // 16+16*45+32*2025 = 65536
		{"pair over 255", "::"},
		{"utf-8", "B中"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, err := base45Decode(tc.in); err == nil {
				t.Fatalf("decode %q = %x, want an error", tc.in, got)
			}
		})
	}
}

func TestBase45RoundTripsAllBytes(t *testing.T) {
	t.Parallel()
	b := make([]byte, 0, 513)
	for i := range 513 {
		b = append(b, byte(i*7))
	}
	for n := range len(b) {
		got, err := base45Decode(base45Encode(b[:n]))
		if err != nil || !bytes.Equal(got, b[:n]) {
			t.Fatalf("length %d: round trip failed: %v", n, err)
		}
	}
}
