package s3store_test

import (
	"context"
	"testing"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/internal/objectstoretest"
	"github.com/certhub/certhub/internal/s3store"
	"github.com/certhub/certhub/internal/testenv"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	objectstoretest.RunTests(t, func(t *testing.T) certificates.DocumentStore {
		srv := testenv.S3Server(t)
		s, err := s3store.Open(context.Background(), s3store.Config{Endpoint: srv.Endpoint, AccessKey: srv.AccessKey,
			SecretKey: srv.SecretKey, Bucket: testenv.RandomName("t-")})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}
