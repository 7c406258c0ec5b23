// Package sign creates and checks container image signatures: signers for
// copy (GPG "simple signing" and sigstore keys) and the standalone sign and
// verify operations on local files.
package sign

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/containers/image/v5/docker/reference"
	"github.com/containers/image/v5/signature/signer"
	"github.com/containers/image/v5/signature/sigstore"
	"github.com/containers/image/v5/signature/simplesigning"
)

var (
	// ErrIdentityWithoutKey reports a signing identity given without any key to sign with.
	ErrIdentityWithoutKey = errors.New("a signing identity (--sign-identity) needs --sign-by or --sign-by-sigstore-private-key")
	// ErrAmbiguousPassphrase reports a passphrase file given while signing with two keys.
	ErrAmbiguousPassphrase = errors.New("only one of --sign-by and --sign-by-sigstore-private-key can be used with --sign-passphrase-file")
)

// Options selects the keys an image is signed with.
type Options struct {
	SignBy             string // GPG key fingerprint (simple signing)
	PassphraseFile     string // file whose first line is the key's passphrase
	SigstorePrivateKey string // path of a sigstore (cosign) private key
	Identity           string // docker reference to sign as, instead of the destination's
}

// Enabled reports whether o asks for any signature.
func (o Options) Enabled() bool {
	return o.SignBy != "" || o.SigstorePrivateKey != ""
}

// Identity returns the parsed signing identity of o, or nil if none was given.
func Identity(o Options) (reference.Named, error) {
	if o.Identity == "" {
		return nil, nil
	}
	if !o.Enabled() {
		return nil, ErrIdentityWithoutKey
	}
	named, err := reference.ParseNormalizedNamed(o.Identity)
	if err != nil {
		return nil, fmt.Errorf("parsing signing identity %q: %w", o.Identity, err)
	}
	return named, nil
}

// Signers returns the signers o asks for (none if o signs nothing) and a
// function that closes them all; the caller must call it when done.
func Signers(ctx context.Context, o Options) ([]*signer.Signer, func(), error) {
	if _, err := Identity(o); err != nil {
		return nil, func() {}, err
	}
	if o.SignBy != "" && o.SigstorePrivateKey != "" && o.PassphraseFile != "" {
		return nil, func() {}, ErrAmbiguousPassphrase
	}
	var (
		passphrase    string
		hasPassphrase bool
	)
	if o.PassphraseFile != "" {
		p, err := ReadPassphraseFile(o.PassphraseFile)
		if err != nil {
			return nil, func() {}, err
		}
		passphrase, hasPassphrase = p, true
	}

	var signers []*signer.Signer
	closeAll := func() {
		for _, s := range signers {
			s.Close()
		}
	}
	if o.SignBy != "" {
		opts := []simplesigning.Option{simplesigning.WithKeyFingerprint(o.SignBy)}
		if hasPassphrase {
			opts = append(opts, simplesigning.WithPassphrase(passphrase))
		}
		s, err := simplesigning.NewSigner(opts...)
		if err != nil {
			return nil, func() {}, fmt.Errorf("preparing to sign with GPG key %s: %w", o.SignBy, err)
		}
		signers = append(signers, s)
	}
	if o.SigstorePrivateKey != "" {
		// Without a passphrase file the key must be encrypted with an empty
		// passphrase; nothing is read from the terminal.
		s, err := sigstore.NewSigner(sigstore.WithPrivateKeyFile(o.SigstorePrivateKey, []byte(passphrase)))
		if err != nil {
			closeAll()
			if !hasPassphrase {
				return nil, func() {}, fmt.Errorf("preparing to sign with sigstore key %s (no passphrase file given, tried an empty passphrase): %w", o.SigstorePrivateKey, err)
			}
			return nil, func() {}, fmt.Errorf("preparing to sign with sigstore key %s: %w", o.SigstorePrivateKey, err)
		}
		signers = append(signers, s)
	}
	return signers, closeAll, nil
}

// ReadPassphraseFile returns the first line of the file at path, without its
// line ending.
func ReadPassphraseFile(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("reading passphrase file: %w", err)
	}
	line, _, _ := strings.Cut(string(data), "\n")
	return strings.TrimSuffix(line, "\r"), nil
}
