// Package vcgo checks certhub's sealed documents with trustbloc/vc-go, an
// independent VC-JWT implementation, in a module of its own so that the
// main module takes neither vc-go's dependency tree nor the json-gold
// replacement it needs. It has tests only. Its go.mod uses the main module
// from this tree (replace ../../..): when the main module's requirements
// change, run `go mod tidy` here too, or its build fails with "updates to
// go.mod needed".
package vcgo
