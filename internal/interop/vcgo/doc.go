// Package vcgo checks certhub's sealed documents with trustbloc/vc-go, an
// independent VC-JWT implementation, in a module of its own so that the
// main module takes neither vc-go's dependency tree nor the json-gold
// replacement it needs. It has tests only.
package vcgo
