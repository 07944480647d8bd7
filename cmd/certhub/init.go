package main

import (
	"context"
	"fmt"
	"path/filepath"
)

// InitCmd creates a new hub where there is none: the data directory, the
// master key and bootstrap admin token (unless they are configured), and
// the store's tables. Console commands never create a hub; serve and demo
// create one on first start; init does it on purpose, and says where.
type InitCmd struct {
	StoreConfig
	AdminToken string `name:"admin-token" env:"CERTHUB_ADMIN_TOKEN" help:"Bootstrap admin bearer token; generated into <data>/admin-token if unset."`
}

// Run creates the hub, or refuses if one exists in the configured store.
func (c *InitCmd) Run() error {
	a, err := c.open(context.Background(), newHub)
	if err != nil {
		return err
	}
	defer a.Close()
	if _, err := adminTokenHash(c.Data, c.AdminToken, a.log); err != nil {
		return err
	}
	dir, _ := filepath.Abs(c.Data)
	fmt.Printf("certhub: a new hub, data directory %s\n", dir)
	if c.DatabaseURL != "" {
		fmt.Printf("  metadata     PostgreSQL %s\n", redactURL(c.DatabaseURL))
	} else {
		fmt.Printf("  metadata     %s (SQLite)\n", filepath.Join(dir, "certhub.db"))
	}
	if c.S3Endpoint != "" {
		fmt.Printf("  documents    S3 %s, bucket %s\n", c.S3Endpoint, c.S3Bucket)
	} else {
		fmt.Printf("  documents    %s\n", filepath.Join(dir, "documents"))
	}
	if c.MasterKey != "" {
		fmt.Println("  master key   from --master-key / CERTHUB_MASTER_KEY")
	} else {
		fmt.Printf("  master key   %s: back it up apart from the data; replicas need it as CERTHUB_MASTER_KEY\n", filepath.Join(dir, "master-key"))
	}
	if c.AdminToken != "" {
		fmt.Println("  admin token  from --admin-token / CERTHUB_ADMIN_TOKEN")
	} else {
		fmt.Printf("  admin token  %s\n", filepath.Join(dir, "admin-token"))
	}
	fmt.Printf("Start it with: certhub serve --data %s (and the same store settings)\n", dir)
	return nil
}
