// Package tokens signs and verifies TicketVelo's EdDSA JWTs (access tokens
// for fans and ops, admission tokens for the booker) and ticket codes, from a
// key ring that can hold several keys so they can be rotated: the newest key
// signs, older ones still verify until they are removed from the file.
package tokens

import (
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Key is one Ed25519 key; Private is nil for verify-only keys.
type Key struct {
	ID      string
	Public  ed25519.PublicKey
	Private ed25519.PrivateKey
	// mac is the HMAC-SHA256 secret of access tokens under this key,
	// derived from Private: only processes that hold the key file verify
	// them, and it rotates with the key. Nil for verify-only keys.
	mac []byte
}

// macInfo binds the derived secret to its one use.
const macInfo = "ticketvelo access token HS256 v1"

// withMAC derives k's access-token secret from its private half.
func withMAC(k Key) Key {
	if k.Private == nil || k.mac != nil {
		return k
	}
	secret, err := hkdf.Key(sha256.New, k.Private.Seed(), nil, macInfo, 32)
	if err != nil {
		panic(err) // only for lengths HKDF-SHA256 cannot give; 32 it always can
	}
	k.mac = secret
	return k
}

// Ring holds the keys that verify tokens and the one that signs them.
type Ring struct {
	keys    map[string]Key
	ordered []Key // file order: the last private key signs
	signer  *Key
	// macs are the HS256 secrets of the keys with a private half, by the
	// encoded header their access tokens carry (see fastAccess), and
	// macsByKid the same by key id (place receipts).
	macs, macsByKid map[string]*macKey
	// seen remembers the access tokens verified lately; nil remembers
	// none (RememberAccess).
	seen *seenAccess
}

// NewRing builds a ring from keys; the last key with a private half signs.
func NewRing(keys ...Key) (*Ring, error) {
	r := &Ring{keys: map[string]Key{}, macs: map[string]*macKey{}, macsByKid: map[string]*macKey{}}
	for _, k := range keys {
		k = withMAC(k)
		if k.mac != nil {
			m := newMACKey(k.mac)
			r.macs[accessHeader(k.ID)], r.macsByKid[k.ID] = m, m
		}
		if _, dup := r.keys[k.ID]; dup {
			continue
		}
		r.keys[k.ID] = k
		r.ordered = append(r.ordered, k)
		if k.Private != nil {
			k := k
			r.signer = &k
		}
	}
	if len(r.keys) == 0 {
		return nil, errors.New("key ring is empty")
	}
	return r, nil
}

// RememberAccess makes the ring remember the access tokens it verifies, in
// a table of mb megabytes (64 bytes a token), so a token's later checks
// skip its MAC and claims; mb <= 0 remembers none. Call it before the
// ring verifies anything.
func (r *Ring) RememberAccess(mb int) { r.seen = newSeenAccess(mb) }

// GenerateKey makes a fresh signing key.
func GenerateKey() (Key, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return Key{}, fmt.Errorf("generating Ed25519 key: %w", err)
	}
	return Key{ID: keyID(pub), Public: pub, Private: priv}, nil
}

// keyID derives a key's kid from its public half, so every process that
// loads the same key agrees on its id without storing it.
func keyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return base64.RawURLEncoding.EncodeToString(sum[:12])
}

// LoadOrCreate reads the PEM key file at path; when the file does not exist
// it writes a new key there first (0600), so a local install signs with the
// same key across restarts. Processes racing to create it end up with the
// file that won.
func LoadOrCreate(path string) (*Ring, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		if err := create(path); err != nil {
			return nil, err
		}
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("reading key file: %w", err)
	}
	keys, err := ParsePEM(data)
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	return NewRing(keys...)
}

func create(path string) error {
	k, err := GenerateKey()
	if err != nil {
		return err
	}
	block, err := EncodePEM(k)
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating key directory: %w", err)
	}
	// Write the whole key to a temporary file, then link it into place: a
	// racing process sees either no file or a complete one, never a torn one.
	tmp, err := os.CreateTemp(dir, ".keys-*.pem")
	if err != nil {
		return fmt.Errorf("creating key file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(block); err != nil {
		tmp.Close()
		return fmt.Errorf("writing key file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing key file: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("installing key file: %w", err)
	}
	return nil // a racing process may have won: its key is the one to use
}

// ParsePEM reads PKCS#8 Ed25519 private keys ("PRIVATE KEY") and PKIX public
// keys ("PUBLIC KEY", verify only) in file order.
func ParsePEM(data []byte) ([]Key, error) {
	var keys []Key
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		switch block.Type {
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("parsing private key %d: %w", len(keys)+1, err)
			}
			priv, ok := k.(ed25519.PrivateKey)
			if !ok {
				return nil, fmt.Errorf("private key %d is %T, want Ed25519", len(keys)+1, k)
			}
			pub := priv.Public().(ed25519.PublicKey)
			keys = append(keys, Key{ID: keyID(pub), Public: pub, Private: priv})
		case "PUBLIC KEY":
			k, err := x509.ParsePKIXPublicKey(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("parsing public key %d: %w", len(keys)+1, err)
			}
			pub, ok := k.(ed25519.PublicKey)
			if !ok {
				return nil, fmt.Errorf("public key %d is %T, want Ed25519", len(keys)+1, k)
			}
			keys = append(keys, Key{ID: keyID(pub), Public: pub})
		default:
			return nil, fmt.Errorf("unexpected PEM block %q", block.Type)
		}
	}
	if len(keys) == 0 {
		return nil, errors.New("no keys found")
	}
	return keys, nil
}

// EncodePEM writes k as PEM: its private half when it has one.
func EncodePEM(k Key) ([]byte, error) {
	if k.Private != nil {
		der, err := x509.MarshalPKCS8PrivateKey(k.Private)
		if err != nil {
			return nil, fmt.Errorf("encoding private key: %w", err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
	}
	der, err := x509.MarshalPKIXPublicKey(k.Public)
	if err != nil {
		return nil, fmt.Errorf("encoding public key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// Signer is the key that signs new tokens.
func (r *Ring) Signer() (Key, error) {
	if r.signer == nil {
		return Key{}, errors.New("key ring has no private key to sign with")
	}
	return *r.signer, nil
}

// Lookup finds a verifying key by kid.
func (r *Ring) Lookup(kid string) (Key, bool) {
	k, ok := r.keys[kid]
	return k, ok
}

// JWKS is the ring's public keys as a JSON Web Key Set (RFC 8037 OKP keys).
func (r *Ring) JWKS() ([]byte, error) {
	type jwk struct {
		Kty string `json:"kty"`
		Crv string `json:"crv"`
		X   string `json:"x"`
		Kid string `json:"kid"`
		Alg string `json:"alg"`
		Use string `json:"use"`
	}
	set := struct {
		Keys []jwk `json:"keys"`
	}{Keys: []jwk{}}
	for _, k := range r.ordered {
		set.Keys = append(set.Keys, jwk{Kty: "OKP", Crv: "Ed25519", X: base64.RawURLEncoding.EncodeToString(k.Public), Kid: k.ID, Alg: "EdDSA", Use: "sig"})
	}
	return json.Marshal(set)
}
