package filestore_test

import (
	"context"
	"testing"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/internal/errs"
	"github.com/certhub/certhub/internal/filestore"
	"github.com/certhub/certhub/internal/objectstoretest"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	objectstoretest.RunTests(t, func(t *testing.T) certificates.DocumentStore {
		s, err := filestore.Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestKeysCannotEscape(t *testing.T) {
	t.Parallel()
	s, err := filestore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"../x", "/etc/passwd", "a/../../x", "", ".tmp/x", `a\b`} {
		if err := s.Put(context.Background(), key, []byte("x")); !errs.Is(err, errs.Invalid) {
			t.Errorf("Put(%q) = %v, want invalid", key, err)
		}
	}
}
