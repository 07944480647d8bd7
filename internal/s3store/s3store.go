// Package s3store is the production document store: any S3 server (MinIO,
// Ceph RGW, SeaweedFS, AWS S3 …) through minio-go. Objects are written with
// If-None-Match: * so an object, once written, is never overwritten, even by
// another hub replica.
package s3store

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/internal/errs"
)

// Config addresses a bucket.
type Config struct {
	Endpoint  string // host:port
	Bucket    string
	AccessKey string
	SecretKey string
	Region    string
	UseSSL    bool
}

// Store keeps objects in one bucket.
type Store struct {
	client *minio.Client
	bucket string
}

// Open connects and creates the bucket if it does not exist.
func Open(ctx context.Context, c Config) (*Store, error) {
	if c.Endpoint == "" || c.Bucket == "" {
		return nil, fmt.Errorf("S3 endpoint and bucket are required")
	}
	cl, err := minio.New(c.Endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(c.AccessKey, c.SecretKey, ""),
		Secure: c.UseSSL,
		Region: c.Region,
		// minio-go's default of 10 attempts keeps a request waiting about 8 s
		// when the server is down; three answer 503 within a second and
		// leave the retry to the client, which Retry-After tells when.
		MaxRetries: 3,
	})
	if err != nil {
		return nil, fmt.Errorf("S3 client: %w", err)
	}
	ok, err := cl.BucketExists(ctx, c.Bucket)
	if err != nil {
		return nil, fmt.Errorf("S3 bucket %s: %w", c.Bucket, err)
	}
	if !ok {
		if err := cl.MakeBucket(ctx, c.Bucket, minio.MakeBucketOptions{Region: c.Region}); err != nil {
			if e := minio.ToErrorResponse(err); e.Code != "BucketAlreadyOwnedByYou" && e.Code != "BucketAlreadyExists" {
				return nil, fmt.Errorf("create S3 bucket %s: %w", c.Bucket, err)
			}
		}
	}
	return &Store{client: cl, bucket: c.Bucket}, nil
}

// translate maps S3 errors to errs codes.
func translate(err error, key string) error {
	if err == nil {
		return nil
	}
	e := minio.ToErrorResponse(err)
	switch {
	case e.Code == "NoSuchKey" || e.StatusCode == http.StatusNotFound:
		return &errs.Error{Code: errs.NotFound, Message: fmt.Sprintf("object %s does not exist", key), Err: err}
	case e.Code == "PreconditionFailed" || e.StatusCode == http.StatusPreconditionFailed:
		return &errs.Error{Code: errs.Conflict, Message: fmt.Sprintf("object %s already exists", key), Err: err}
	case e.Code == "InvalidRange" || e.StatusCode == http.StatusRequestedRangeNotSatisfiable:
		// The server is fine; the row's range does not fit its object (see
		// certhub doctor). That is our inconsistency, not an outage.
		return errs.Wrap(err, "object %s has no such byte range", key)
	}
	return &errs.Error{Code: errs.Unavailable, Message: "object storage failed", Err: err}
}

// Put implements certificates.DocumentStore.
func (s *Store) Put(ctx context.Context, key string, data []byte) error {
	opts := minio.PutObjectOptions{ContentType: "application/jose", DisableMultipart: true}
	opts.SetMatchETagExcept("*")
	_, err := s.client.PutObject(ctx, s.bucket, key, bytes.NewReader(data), int64(len(data)), opts)
	return translate(err, key)
}

// Get implements certificates.DocumentStore.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	obj, err := s.client.GetObject(ctx, s.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, translate(err, key)
	}
	defer obj.Close()
	b, err := io.ReadAll(obj)
	if err != nil {
		return nil, translate(err, key)
	}
	return b, nil
}

// Ping implements certificates.DocumentStore.
func (s *Store) Ping(ctx context.Context) error {
	ok, err := s.client.BucketExists(ctx, s.bucket)
	if err != nil {
		return translate(err, "")
	}
	if !ok {
		return errs.E(errs.Unavailable, "S3 bucket %s does not exist", s.bucket)
	}
	return nil
}

// GetRange implements certificates.DocumentStore.
func (s *Store) GetRange(ctx context.Context, key string, offset, length int64) ([]byte, error) {
	opts := minio.GetObjectOptions{}
	if err := opts.SetRange(offset, offset+length-1); err != nil {
		return nil, errs.Wrap(err, "range")
	}
	obj, err := s.client.GetObject(ctx, s.bucket, key, opts)
	if err != nil {
		return nil, translate(err, key)
	}
	defer obj.Close()
	b, err := io.ReadAll(obj)
	if err != nil {
		return nil, translate(err, key)
	}
	if int64(len(b)) != length {
		return nil, errs.Wrap(fmt.Errorf("object %s: read %d bytes at %d, want %d", key, len(b), offset, length), "range read")
	}
	return b, nil
}

// List implements certificates.ObjectLister, in pages of the server's
// (1,000 keys for S3 and MinIO), with each object's Last-Modified.
func (s *Store) List(ctx context.Context, prefix string, fn func(certificates.ObjectInfo) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops minio-go's listing goroutine when fn fails
	for o := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if o.Err != nil {
			return translate(o.Err, prefix)
		}
		if err := fn(certificates.ObjectInfo{Key: o.Key, Size: o.Size, Modified: o.LastModified}); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// Delete implements certificates.ObjectLister; S3 answers a missing
// object's deletion with success too.
func (s *Store) Delete(ctx context.Context, key string) error {
	return translate(s.client.RemoveObject(ctx, s.bucket, key, minio.RemoveObjectOptions{}), key)
}
