// Package filestore is the embedded default's document store: a local
// directory. Objects are written once and never overwritten: each is
// written to a temporary file, fsynced, then hard-linked into place (link
// fails if the name exists, which makes the write atomic and exclusive), and
// the directory is fsynced so the name survives a crash.
package filestore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/internal/errs"
)

// Store keeps objects under a root directory.
type Store struct{ root string }

// Open returns a store rooted at dir, creating it if needed.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(filepath.Join(dir, ".tmp"), 0o750); err != nil {
		return nil, fmt.Errorf("document directory: %w", err)
	}
	return &Store{root: dir}, nil
}

// path maps a key to a file, refusing keys that could escape the root.
func (s *Store) path(key string) (string, error) {
	if key == "" || strings.HasPrefix(key, "/") || strings.Contains(key, "\\") || !fs.ValidPath(key) || strings.HasPrefix(key, ".tmp") {
		return "", errs.Field("key", "invalid object key %q", key)
	}
	return filepath.Join(s.root, filepath.FromSlash(key)), nil
}

// Put implements certificates.DocumentStore.
func (s *Store) Put(_ context.Context, key string, data []byte) error {
	p, err := s.path(key)
	if err != nil {
		return err
	}
	dir := filepath.Dir(p)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return errs.Wrap(err, "create directory")
	}
	tmp, err := os.CreateTemp(filepath.Join(s.root, ".tmp"), "put-*")
	if err != nil {
		return errs.Wrap(err, "create temporary file")
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return errs.Wrap(err, "write object")
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return errs.Wrap(err, "sync object")
	}
	if err := tmp.Close(); err != nil {
		return errs.Wrap(err, "close object")
	}
	if err := os.Link(tmp.Name(), p); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return errs.E(errs.Conflict, "object %s already exists", key)
		}
		return errs.Wrap(err, "link object")
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return errs.Wrap(err, "open directory")
	}
	defer d.Close()
	return errs.Wrap(d.Sync(), "sync directory")
}

// Get implements certificates.DocumentStore.
func (s *Store) Get(_ context.Context, key string) ([]byte, error) {
	p, err := s.path(key)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errs.E(errs.NotFound, "object %s does not exist", key)
	}
	return b, errs.Wrap(err, "read object")
}

// Ping implements certificates.DocumentStore: the directory must be writable.
func (s *Store) Ping(_ context.Context) error {
	f, err := os.CreateTemp(filepath.Join(s.root, ".tmp"), "ping-*")
	if err != nil {
		return errs.E(errs.Unavailable, "document directory is not writable: %v", err)
	}
	f.Close()
	return os.Remove(f.Name())
}

// GetRange implements certificates.DocumentStore.
func (s *Store) GetRange(_ context.Context, key string, offset, length int64) ([]byte, error) {
	p, err := s.path(key)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errs.E(errs.NotFound, "object %s does not exist", key)
	}
	if err != nil {
		return nil, errs.Wrap(err, "open object")
	}
	defer f.Close()
	buf := make([]byte, length)
	if _, err := f.ReadAt(buf, offset); err != nil {
		return nil, errs.Wrap(err, "read object %s at %d", key, offset)
	}
	return buf, nil
}

// List implements certificates.ObjectLister: every object under the root
// (the temporary directory excluded), with its file's
// modification time.
func (s *Store) List(ctx context.Context, prefix string, fn func(certificates.ObjectInfo) error) error {
	return filepath.WalkDir(s.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return errs.Wrap(err, "list objects")
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, err := filepath.Rel(s.root, p)
		if err != nil {
			return errs.Wrap(err, "list objects")
		}
		key := filepath.ToSlash(rel)
		if d.IsDir() {
			if key == ".tmp" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasPrefix(key, prefix) || !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil // deleted since the directory was read
		}
		if err != nil {
			return errs.Wrap(err, "stat object")
		}
		return fn(certificates.ObjectInfo{Key: key, Size: info.Size(), Modified: info.ModTime()})
	})
}

// Delete implements certificates.ObjectLister. Emptied directories are
// left: a later Put recreates what it needs anyway.
func (s *Store) Delete(_ context.Context, key string) error {
	p, err := s.path(key)
	if err != nil {
		return err
	}
	err = os.Remove(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return errs.Wrap(err, "delete object")
	}
	return syncDir(filepath.Dir(p))
}
