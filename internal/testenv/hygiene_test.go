package testenv

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestHygieneRefusesBinaries runs .ci/hygiene on a scratch repository: a
// compiled binary, an executable that is not a script and a file over 1 MiB
// are each refused, and a clean tree passes.
func TestHygieneRefusesBinaries(t *testing.T) {
	script, err := filepath.Abs("../../.ci/hygiene")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		content []byte
		mode    os.FileMode
		want    string // "" means accepted
	}{
		{"source", []byte("package main\n"), 0o644, ""},
		{"script", []byte("#!/bin/sh\necho hi\n"), 0o755, ""},
		{"elf", append([]byte("\x7fELF\x02\x01\x01"), make([]byte, 64)...), 0o755, "compiled binary"},
		{"elf not executable", append([]byte("\x7fELF\x02\x01\x01"), make([]byte, 64)...), 0o644, "compiled binary"},
		{"executable text", []byte("just text\n"), 0o755, "not a script"},
		{"large", bytes.Repeat([]byte("a"), 1<<20+1), 0o644, "limit 1048576"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			git := func(args ...string) {
				t.Helper()
				cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("git %v: %v\n%s", args, err, out)
				}
			}
			git("init", "-q")
			if err := os.WriteFile(filepath.Join(dir, "f"), tc.content, tc.mode); err != nil {
				t.Fatal(err)
			}
			git("add", "f")
			out, err := exec.Command("bash", script, dir).CombinedOutput()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("clean tree refused: %v\n%s", err, out)
				}
				return
			}
			if err == nil || !strings.Contains(string(out), tc.want) {
				t.Fatalf("want refusal mentioning %q, got err=%v\n%s", tc.want, err, out)
			}
		})
	}
}

// TestRepositoryIsClean runs the same check on this repository.
func TestRepositoryIsClean(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	if err := exec.Command("git", "-C", "../..", "rev-parse").Run(); err != nil {
		t.Skip("not a git checkout")
	}
	out, err := exec.Command("bash", "../../.ci/hygiene").CombinedOutput()
	if err != nil {
		t.Fatalf("the repository tracks build outputs: %v\n%s", err, out)
	}
}
