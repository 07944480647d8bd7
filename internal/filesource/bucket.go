package filesource

import (
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// bucketDrop is a bucket prefix where files arrive; finished files move to
// <prefix>done/.
type bucketDrop struct {
	client *minio.Client
	s      *S3
}

func openBucket(ctx context.Context, s *S3) (*bucketDrop, error) {
	access, secret := os.Getenv(s.AccessKeyEnv), os.Getenv(s.SecretKeyEnv)
	if access == "" || secret == "" {
		return nil, fmt.Errorf("environment variables %s and %s must hold the S3 credentials", s.AccessKeyEnv, s.SecretKeyEnv)
	}
	cl, err := minio.New(s.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(access, secret, ""), Secure: s.UseSSL, Region: s.Region})
	if err != nil {
		return nil, fmt.Errorf("S3 client: %w", err)
	}
	if ok, err := cl.BucketExists(ctx, s.Bucket); err != nil || !ok {
		return nil, fmt.Errorf("S3 bucket %s is not reachable: %v", s.Bucket, err)
	}
	return &bucketDrop{client: cl, s: s}, nil
}

func (b *bucketDrop) list(ctx context.Context, pattern string) ([]string, error) {
	var out []string
	for obj := range b.client.ListObjects(ctx, b.s.Bucket, minio.ListObjectsOptions{Prefix: b.s.Prefix}) {
		if obj.Err != nil {
			return nil, obj.Err
		}
		name := strings.TrimPrefix(obj.Key, b.s.Prefix)
		if strings.Contains(name, "/") { // sub-prefixes (done/) are not waiting
			continue
		}
		if ok, _ := path.Match(pattern, name); ok {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out, nil
}

func (b *bucketDrop) open(ctx context.Context, name string) (io.ReadCloser, error) {
	return b.client.GetObject(ctx, b.s.Bucket, b.s.Prefix+name, minio.GetObjectOptions{})
}

func (b *bucketDrop) done(ctx context.Context, name string) error {
	src := minio.CopySrcOptions{Bucket: b.s.Bucket, Object: b.s.Prefix + name}
	dst := minio.CopyDestOptions{Bucket: b.s.Bucket, Object: b.s.Prefix + "done/" + name}
	if _, err := b.client.CopyObject(ctx, dst, src); err != nil {
		return fmt.Errorf("move %s to done/: %w", name, err)
	}
	return b.client.RemoveObject(ctx, b.s.Bucket, b.s.Prefix+name, minio.RemoveObjectOptions{})
}
