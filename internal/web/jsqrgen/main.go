// Command jsqrgen vendors the browser QR decoder the offline verify page
// uses: npm jsqr@1.4.0 (Apache-2.0), fetched with `npm pack`, checked
// against the pinned sha512 integrity (which must also be what `npm view`
// reports), and its dist/jsQR.js written to internal/web/vendor/, which is
// git-ignored and embedded. Run by `go generate ./internal/web/` and by
// .ci/run; a file already in place with the right content is kept, so a
// second run needs no network.
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha512"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

const (
	pkg = "jsqr@1.4.0"
	// integrity is the registry's dist.integrity of jsqr 1.4.0 (SRI sha512
	// of the tarball), pinned so a changed tarball is refused.
	integrity = "sha512-dxLob7q65Xg2DvstYkRpkYtmKm2sPJ9oFhrhmudT1dZvNFFTlroai3AWSpLey/w5vMcLBXRgOJsbXpdN9HzU/A=="
	member    = "package/dist/jsQR.js"
	out       = "vendor/jsQR.js"
	// stamp records the integrity the vendored file came from.
	stamp = "vendor/jsQR.js.integrity"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "jsqrgen:", err)
		os.Exit(1)
	}
}

func run() error {
	if b, err := os.ReadFile(stamp); err == nil && strings.TrimSpace(string(b)) == integrity {
		if _, err := os.Stat(out); err == nil {
			return nil // cached
		}
	}
	view, err := exec.Command("npm", "view", pkg, "dist.integrity").Output()
	if err != nil {
		return fmt.Errorf("npm view %s: %w", pkg, err)
	}
	if got := strings.TrimSpace(string(view)); got != integrity {
		return fmt.Errorf("npm view %s says integrity %q, pinned %q", pkg, got, integrity)
	}
	tmp, err := os.MkdirTemp("", "jsqrgen")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	name, err := exec.Command("npm", "pack", pkg, "--silent", "--pack-destination", tmp).Output()
	if err != nil {
		return fmt.Errorf("npm pack %s: %w", pkg, err)
	}
	tgz, err := os.ReadFile(filepath.Join(tmp, strings.TrimSpace(string(name))))
	if err != nil {
		return err
	}
	sum := sha512.Sum512(tgz)
	if got := "sha512-" + base64.StdEncoding.EncodeToString(sum[:]); got != integrity {
		return fmt.Errorf("tarball integrity %s, want %s", got, integrity)
	}
	js, err := extract(tgz, member)
	if err != nil {
		return err
	}
	if err := os.WriteFile(out, js, 0o644); err != nil {
		return err
	}
	return os.WriteFile(stamp, []byte(integrity+"\n"), 0o644)
}

// extract returns one file of a gzipped tarball.
func extract(tgz []byte, name string) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(tgz))
	if err != nil {
		return nil, err
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil, fmt.Errorf("%s not in the tarball", name)
		}
		if err != nil {
			return nil, err
		}
		if h.Name == name {
			return io.ReadAll(io.LimitReader(tr, 4<<20))
		}
	}
}
