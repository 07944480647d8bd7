package statuslist

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"encoding/base64"
	"fmt"
	"io"
	"strings"

	"github.com/certhub/certhub/internal/errs"
)

// Multibase is the multibase prefix of base64url without padding, the only
// one a W3C encodedList may use.
const Multibase = "u"

// level is the DEFLATE level of both encodings. Sparse lists are long runs
// of zero bytes, on which level 9 spends its time walking hash chains: at
// 1,048,576 entries level 9 takes about 100 ms per encoding for 10 % less
// output, level 7 about 12 ms (docs/benchmarks.md).
const level = 7

// EncodeTSL returns the list's IETF Token Status List "lst": base64url
// (no padding) of the ZLIB-compressed packed entries.
func (l *List) EncodeTSL() (string, error) {
	var buf bytes.Buffer
	zw, err := zlib.NewWriterLevel(&buf, level)
	if err != nil {
		return "", errs.Wrap(err, "zlib writer")
	}
	if _, err := zw.Write(l.b); err != nil {
		return "", errs.Wrap(err, "zlib")
	}
	if err := zw.Close(); err != nil {
		return "", errs.Wrap(err, "zlib")
	}
	return base64.RawURLEncoding.EncodeToString(buf.Bytes()), nil
}

// Encode returns the W3C "encodedList": multibase base64url (prefix "u",
// no padding) of the GZIP-compressed bitstring.
func (s *Bitstring) Encode() (string, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, level)
	if err != nil {
		return "", errs.Wrap(err, "gzip writer")
	}
	if _, err := zw.Write(s.b); err != nil {
		return "", errs.Wrap(err, "gzip")
	}
	if err := zw.Close(); err != nil {
		return "", errs.Wrap(err, "gzip")
	}
	return Multibase + base64.RawURLEncoding.EncodeToString(buf.Bytes()), nil
}

// EncodeBSL is Bitstring(p) then Encode.
func (l *List) EncodeBSL(p Purpose) (string, error) {
	s, err := l.Bitstring(p)
	if err != nil {
		return "", err
	}
	return s.Encode()
}

// DecodeTSL decodes an IETF Token Status List "lst" of bits (1, 2, 4 or 8)
// bits per entry, refusing lists of more than maxEntries entries before
// decompressing past them (a zlib bomb costs at most maxEntries*bits/8
// bytes). Errors are Invalid naming "lst" or "bits", or TooLarge.
func DecodeTSL(lst string, bits int, maxEntries int) (*List, error) {
	switch bits {
	case 1, 2, 4, 8:
	default:
		return nil, errs.Field("bits", "bits is %d; a Token Status List has 1, 2, 4 or 8 bits per entry", bits)
	}
	if maxEntries <= 0 {
		return nil, errs.Field("maxEntries", "must be positive, not %d", maxEntries)
	}
	raw, err := base64.RawURLEncoding.DecodeString(lst)
	if err != nil {
		return nil, errs.Field("lst", "not base64url without padding: %v", err)
	}
	zr, err := zlib.NewReader(bytes.NewReader(raw))
	if err != nil {
		return nil, errs.Field("lst", "not ZLIB data: %v", err)
	}
	b, err := readCapped(zr, (maxEntries*bits+7)/8, "lst", "ZLIB", maxEntries)
	if err != nil {
		return nil, err
	}
	return &List{bits: bits, n: len(b) * 8 / bits, b: b}, nil
}

// DecodeBSL decodes a W3C "encodedList", refusing bitstrings of more than
// maxEntries entries before decompressing past them. It does not enforce
// the W3C minimum of MinSize entries; a caller that wants it checks Len.
// Errors are Invalid naming "encodedList", or TooLarge.
func DecodeBSL(encodedList string, maxEntries int) (*Bitstring, error) {
	if maxEntries <= 0 {
		return nil, errs.Field("maxEntries", "must be positive, not %d", maxEntries)
	}
	rest, ok := strings.CutPrefix(encodedList, Multibase)
	if !ok {
		return nil, errs.Field("encodedList", "does not start with the multibase prefix %q (base64url without padding)", Multibase)
	}
	raw, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil {
		return nil, errs.Field("encodedList", "not base64url without padding after the prefix: %v", err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		return nil, errs.Field("encodedList", "not GZIP data: %v", err)
	}
	zr.Multistream(false)
	b, err := readCapped(zr, (maxEntries+7)/8, "encodedList", "GZIP", maxEntries)
	if err != nil {
		return nil, err
	}
	return &Bitstring{n: len(b) * 8, b: b}, nil
}

func readCapped(r io.Reader, limit int, field, format string, maxEntries int) ([]byte, error) {
	// One byte past the limit tells a too-large list from a full one; a
	// read that ends before it reached EOF, so the checksum was checked.
	b, err := io.ReadAll(io.LimitReader(r, int64(limit)+1))
	if err != nil {
		return nil, errs.Field(field, "bad %s data: %v", format, err)
	}
	if len(b) > limit {
		return nil, &errs.Error{Code: errs.TooLarge, Field: field,
			Message: fmt.Sprintf("decompresses to more than %d entries", maxEntries)}
	}
	if len(b) == 0 {
		return nil, errs.Field(field, "the list is empty")
	}
	return b, nil
}
