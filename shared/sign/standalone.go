package sign

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/containers/image/v5/docker/reference"
	"github.com/containers/image/v5/signature"
	"github.com/opencontainers/go-digest"
)

// AnyFingerprint, as the only expected fingerprint, accepts any key from the
// public key file given to VerifyManifest.
const AnyFingerprint = "any"

// ErrAnyWithoutKeyFile reports AnyFingerprint used without a public key file.
var ErrAnyWithoutKeyFile = errors.New(`fingerprint "any" needs a public key file`)

// SignOptions describes a standalone signature to create from local files.
type SignOptions struct {
	ManifestPath    string // the image manifest to sign
	DockerReference string // the identity the signature claims for the image
	Fingerprint     string // GPG key to sign with, from the default keyring ($GNUPGHOME)
	OutputPath      string // where the signature is written
	PassphraseFile  string // optional: first line is the key's passphrase
}

// SignManifest writes a simple-signing signature of the manifest at
// o.ManifestPath, claiming o.DockerReference, to o.OutputPath.
func SignManifest(ctx context.Context, o SignOptions) error {
	if _, err := reference.ParseNormalizedNamed(o.DockerReference); err != nil {
		return fmt.Errorf("parsing docker reference %q: %w", o.DockerReference, err)
	}
	manifest, err := os.ReadFile(o.ManifestPath)
	if err != nil {
		return fmt.Errorf("reading manifest: %w", err)
	}
	var opts signature.SignOptions
	if o.PassphraseFile != "" {
		if opts.Passphrase, err = ReadPassphraseFile(o.PassphraseFile); err != nil {
			return err
		}
	}
	mech, err := signature.NewGPGSigningMechanism()
	if err != nil {
		return fmt.Errorf("initializing GPG: %w", err)
	}
	defer mech.Close()
	if err := mech.SupportsSigning(); err != nil {
		return fmt.Errorf("signing not supported: %w", err)
	}
	sig, err := signature.SignDockerManifestWithOptions(manifest, o.DockerReference, mech, o.Fingerprint, &opts)
	if err != nil {
		return fmt.Errorf("creating signature with key %s: %w", o.Fingerprint, err)
	}
	if err := os.WriteFile(o.OutputPath, sig, 0o644); err != nil {
		return fmt.Errorf("writing signature: %w", err)
	}
	return nil
}

// VerifyOptions describes a standalone signature to check against local files.
type VerifyOptions struct {
	ManifestPath    string   // the image manifest the signature must cover
	DockerReference string   // the identity the signature must claim
	Fingerprints    []string // accepted signing keys; []string{AnyFingerprint} accepts any key of PublicKeyFile
	SignaturePath   string
	PublicKeyFile   string // optional: verify with these keys instead of the default keyring
}

// Verified describes a signature that VerifyManifest accepted.
type Verified struct {
	Fingerprint     string        // the key that made the signature
	Digest          digest.Digest // the manifest digest it signs
	DockerReference string        // the identity it claims
}

// VerifyManifest checks the signature at o.SignaturePath: made by one of
// o.Fingerprints, for the manifest at o.ManifestPath, as o.DockerReference.
func VerifyManifest(ctx context.Context, o VerifyOptions) (Verified, error) {
	anyKey := len(o.Fingerprints) == 1 && o.Fingerprints[0] == AnyFingerprint
	if anyKey && o.PublicKeyFile == "" {
		return Verified{}, ErrAnyWithoutKeyFile
	}
	manifest, err := os.ReadFile(o.ManifestPath)
	if err != nil {
		return Verified{}, fmt.Errorf("reading manifest: %w", err)
	}
	unverified, err := os.ReadFile(o.SignaturePath)
	if err != nil {
		return Verified{}, fmt.Errorf("reading signature: %w", err)
	}

	var (
		mech     signature.SigningMechanism
		fileKeys []string
	)
	if o.PublicKeyFile != "" {
		keys, err := os.ReadFile(o.PublicKeyFile)
		if err != nil {
			return Verified{}, fmt.Errorf("reading public key file: %w", err)
		}
		mech, fileKeys, err = signature.NewEphemeralGPGSigningMechanism(keys)
		if err != nil {
			return Verified{}, fmt.Errorf("importing public keys from %s: %w", o.PublicKeyFile, err)
		}
	} else {
		mech, err = signature.NewGPGSigningMechanism()
		if err != nil {
			return Verified{}, fmt.Errorf("initializing GPG: %w", err)
		}
	}
	defer mech.Close()

	expected := o.Fingerprints
	if anyKey {
		expected = fileKeys
	}
	sig, fingerprint, err := signature.VerifyImageManifestSignatureUsingKeyIdentityList(unverified, manifest, o.DockerReference, mech, expected)
	if err != nil {
		return Verified{}, fmt.Errorf("verifying signature: %w", err)
	}
	return Verified{Fingerprint: fingerprint, Digest: sig.DockerManifestDigest, DockerReference: sig.DockerReference}, nil
}
