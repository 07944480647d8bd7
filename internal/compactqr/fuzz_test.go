package compactqr

import (
	"bytes"
	"compress/zlib"
	"testing"
)

// FuzzVerify feeds Verify arbitrary texts: it must return a reason, never
// panic, and never accept a text that was not signed by the key.
func FuzzVerify(f *testing.F) {
	k := keys(f)[0]
	good, err := Encode(k.signer, k.thumb, typical())
	if err != nil {
		f.Fatal(err)
	}
	var bomb bytes.Buffer
	w, _ := zlib.NewWriterLevel(&bomb, zlib.BestCompression)
	_, _ = w.Write(make([]byte, 1<<20))
	_ = w.Close()
	for _, seed := range []string{
		good,
		good[:len(good)/2],
		"",
		Prefix,
		"HC1:6BFOXN%TS3DH",
		Prefix + "BB8",
		Prefix + base45Encode(bomb.Bytes()),
		wrap([]byte{0xd2, 0x84, 0x40, 0xa0, 0x40, 0x40}),
		wrap([]byte{0xd2, 0x9f, 0xff}),
		wrap(bytes.Repeat([]byte{0x81}, 100)),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, text string) {
		res, err := Verify(text, k.lookup, now)
		if err == nil && text != good {
			// Only re-encodings of good's own bytes could verify.
			if res.Licence.ID != typical().Licence.ID {
				t.Fatalf("accepted a licence it never signed: %+v", res)
			}
		}
		if err != nil && ReasonOf(err) == "" {
			t.Fatalf("error without a reason: %v", err)
		}
	})
}
