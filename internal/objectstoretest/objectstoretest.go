// Package objectstoretest is the conformance suite of
// certificates.DocumentStore, run against the local directory and a real S3
// server.
package objectstoretest

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/internal/errs"
)

// RunTests runs the suite against fresh, empty stores.
func RunTests(t *testing.T, newStore func(t *testing.T) certificates.DocumentStore) {
	ctx := context.Background()
	t.Run("PutGet", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		data := []byte("eyJhbGciOiJFUzI1NiJ9.签名.sig\x00\xff")
		if err := s.Put(ctx, "documents/a/b/001-abc.jws", data); err != nil {
			t.Fatal(err)
		}
		got, err := s.Get(ctx, "documents/a/b/001-abc.jws")
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("Get = %q, %v", got, err)
		}
		if err := s.Ping(ctx); err != nil {
			t.Fatalf("Ping: %v", err)
		}
	})
	t.Run("Range", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		data := []byte("first-document.second-document.third")
		if err := s.Put(ctx, "batches/b1", data); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetRange(ctx, "batches/b1", 15, 15)
		if err != nil || string(got) != "second-document" {
			t.Fatalf("GetRange = %q, %v", got, err)
		}
		if _, err := s.GetRange(ctx, "batches/none", 0, 3); !errs.Is(err, errs.NotFound) {
			t.Fatalf("GetRange of a missing object: %v", err)
		}
	})
	t.Run("NotFound", func(t *testing.T) {
		t.Parallel()
		_, err := newStore(t).Get(ctx, "documents/none.jws")
		if !errs.Is(err, errs.NotFound) {
			t.Fatalf("err = %v, want not_found", err)
		}
	})
	t.Run("WriteOnce", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		if err := s.Put(ctx, "k/once", []byte("first")); err != nil {
			t.Fatal(err)
		}
		if err := s.Put(ctx, "k/once", []byte("second")); !errs.Is(err, errs.Conflict) {
			t.Fatalf("overwrite: err = %v, want conflict", err)
		}
		if got, _ := s.Get(ctx, "k/once"); string(got) != "first" {
			t.Fatalf("object changed to %q", got)
		}
	})
	t.Run("ListDelete", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		l, ok := s.(certificates.ObjectLister)
		if !ok {
			t.Fatalf("%T does not implement certificates.ObjectLister (the orphan sweep needs it)", s)
		}
		before := time.Now().Add(-time.Minute)
		objects := map[string]string{"documents/a/1.jws": "one", "documents/b/2.jws": "second", "batches/t/a/1.jwsl": "x\ny\n"}
		for k, v := range objects {
			if err := s.Put(ctx, k, []byte(v)); err != nil {
				t.Fatal(err)
			}
		}
		list := func(prefix string) map[string]certificates.ObjectInfo {
			t.Helper()
			got := map[string]certificates.ObjectInfo{}
			if err := l.List(ctx, prefix, func(o certificates.ObjectInfo) error {
				if _, twice := got[o.Key]; twice {
					t.Errorf("%s listed twice", o.Key)
				}
				got[o.Key] = o
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			return got
		}
		got := list("")
		if len(got) != len(objects) {
			t.Fatalf("listed %v, want the %d objects put", got, len(objects))
		}
		for k, v := range objects {
			o := got[k]
			if o.Size != int64(len(v)) || o.Modified.Before(before) || o.Modified.After(time.Now().Add(time.Minute)) {
				t.Errorf("%s listed as %+v", k, o)
			}
		}
		if got := list("documents/"); len(got) != 2 {
			t.Errorf("prefix documents/: %v", got)
		}
		stop := errs.E(errs.Internal, "stop")
		if err := l.List(ctx, "", func(certificates.ObjectInfo) error { return stop }); err != stop {
			t.Errorf("an error from fn: List = %v", err)
		}
		if err := l.Delete(ctx, "documents/a/1.jws"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Get(ctx, "documents/a/1.jws"); !errs.Is(err, errs.NotFound) {
			t.Fatalf("after Delete: %v", err)
		}
		if err := l.Delete(ctx, "documents/a/1.jws"); err != nil {
			t.Fatalf("deleting a missing object: %v", err)
		}
		if got := list(""); len(got) != 2 {
			t.Fatalf("after Delete: %v", got)
		}
		// A deleted key may be written again (the sweep writes back an
		// object found referenced after its deletion).
		if err := s.Put(ctx, "documents/a/1.jws", []byte("one")); err != nil {
			t.Fatalf("Put after Delete: %v", err)
		}
	})
	t.Run("ConcurrentWritersOneWins", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		var wins, conflicts atomic.Int32
		var wg sync.WaitGroup
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := s.Put(ctx, "k/race", []byte(fmt.Sprint("writer", i)))
				switch {
				case err == nil:
					wins.Add(1)
				case errs.Is(err, errs.Conflict):
					conflicts.Add(1)
				default:
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if wins.Load() != 1 || conflicts.Load() != 7 {
			t.Fatalf("wins = %d, conflicts = %d; want 1 and 7", wins.Load(), conflicts.Load())
		}
	})
}
