// Package ofd writes and verifies licence files in OFD (GB/T 33190-2016,
// the national fixed-layout format GB/T 36905 names for electronic licence
// files) sealed with a GB/T 38540 electronic seal.
//
// A package certhub writes is a zip holding
//
//	OFD.xml                              DocInfo (licenceId custom data), DocRoot, Signatures
//	Doc_0/Document.xml                   page area, resources, the pages
//	Doc_0/PublicRes.xml                  the embedded font
//	Doc_0/DocumentRes.xml                the PNG images
//	Doc_0/Res/font_N.ttf, image_N.png    the resource files
//	Doc_0/Pages/Page_N/Content.xml       text and image objects
//	Doc_0/Signs/Signatures.xml           the list of signatures
//	Doc_0/Signs/Sign_0/Signature.xml     SM3 of every file above, the stamp's place
//	Doc_0/Signs/Sign_0/SignedValue.dat   DER SES_Signature over SM3(Signature.xml)
//	Doc_0/Signs/Sign_0/Seal.esl          DER SESeal, taken out of the SES_Signature
//
// Every file outside Doc_0/Signs/ is referenced, with its SM3 digest, in
// Signature.xml; Signatures.xml and the files of Sign_0 are not (a later
// signature can be added without breaking the first). docs/ofd.md says how
// to check a package with unzip and OpenSSL.
package ofd
