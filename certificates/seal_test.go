package certificates_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"image"
	"image/png"
	"testing"
	"time"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/internal/errs"
	"github.com/certhub/certhub/internal/postgres"
	"github.com/certhub/certhub/internal/s3store"
	"github.com/certhub/certhub/internal/sealimage"
	"github.com/certhub/certhub/internal/testenv"
	"github.com/certhub/certhub/signing"
)

// TestSealImageOnPostgresAndS3: the production pair. A new authority's
// default seal is drawn into the bucket under its content-addressed key;
// an upload replaces it and a second upload of the same bytes meets the
// write-once object already there (S3's If-None-Match) and succeeds; a
// refused picture leaves the seal as it was.
func TestSealImageOnPostgresAndS3(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store, err := postgres.Open(ctx, testenv.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.Close)
	srv := testenv.S3Server(t)
	docs, err := s3store.Open(ctx, s3store.Config{Endpoint: srv.Endpoint, AccessKey: srv.AccessKey, SecretKey: srv.SecretKey, Bucket: testenv.RandomName("t-")})
	if err != nil {
		t.Fatal(err)
	}
	master, _ := signing.GenerateMasterKey()
	keys, err := signing.NewManager(store, map[string]signing.Backend{"local": signing.NewLocalBackend(master)}, "local", time.Now)
	if err != nil {
		t.Fatal(err)
	}
	drawer, err := sealimage.Open("", nil)
	if err != nil {
		t.Fatal(err)
	}
	loc, _ := time.LoadLocation("Asia/Shanghai")
	svc := &certificates.Service{Store: store, Documents: docs, Keys: keys, Vault: signing.NewVault(master), Now: time.Now, Location: loc, Seals: drawer}
	if err := svc.CreateAuthority(ctx, &certificates.Authority{Code: market, Name: "杭州市市场监督管理局"}, "ES256"); err != nil {
		t.Fatal(err)
	}

	seal, data, err := svc.SealImage(ctx, market)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil || img.Bounds() != image.Rect(0, 0, sealimage.Size, sealimage.Size) {
		t.Fatalf("default seal: %v, %v", err, img)
	}
	if drawer.Font() != "" {
		sum := sha256.Sum256(data)
		if seal.Key != certificates.SealKey(market, hex.EncodeToString(sum[:])) {
			t.Fatalf("default seal key %q", seal.Key)
		}
		if stored, err := docs.Get(ctx, seal.Key); err != nil || !bytes.Equal(stored, data) {
			t.Fatalf("default seal not in the bucket: %v", err)
		}
	}

	up, _, err := (&sealimage.Drawer{}).DrawSeal("")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 { // the second time the object already exists
		s, err := svc.SetSealImage(ctx, market, up)
		if err != nil {
			t.Fatalf("upload %d: %v", i+1, err)
		}
		if _, got, err := svc.SealImage(ctx, market); err != nil || !bytes.Equal(got, up) || s.Key == seal.Key {
			t.Fatalf("after upload %d: %v", i+1, err)
		}
	}
	_, err = svc.SetSealImage(ctx, market, []byte("not a PNG"))
	if !errs.Is(err, errs.Invalid) {
		t.Fatalf("not a PNG: %v", err)
	}
	if _, got, _ := svc.SealImage(ctx, market); !bytes.Equal(got, up) {
		t.Fatal("a refused picture changed the seal")
	}
	_, err = svc.SetSealImage(ctx, other, up)
	if !errs.Is(err, errs.NotFound) {
		t.Fatalf("unknown authority: %v", err)
	}
}
