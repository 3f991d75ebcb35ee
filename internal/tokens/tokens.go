package tokens

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"slices"
	"strconv"
	"time"
	"unsafe"

	"github.com/VictoriaMetrics/metrics"
	"github.com/golang-jwt/jwt/v5"

	"github.com/ticketvelo/ticketvelo/internal/apperr"
	"github.com/ticketvelo/ticketvelo/internal/promtext"
)

// Audiences and issuer of TicketVelo's tokens.
const (
	Issuer            = "ticketvelo"
	AudienceAccess    = "ticketvelo"
	AudienceAdmission = "booker"
)

// Roles carried by access tokens.
const (
	RoleFan = "fan"
	RoleOps = "ops"
)

// Reasons a token is refused; each is the error code and a metric label.
var (
	ErrMissing   = apperr.New(apperr.Unauthenticated, "token_missing", "send a bearer token in the Authorization header")
	ErrMalformed = apperr.New(apperr.Unauthenticated, "token_malformed", "the token is not a well-formed JWT")
	ErrAlg       = apperr.New(apperr.Unauthenticated, "token_alg", "the token is not signed with an algorithm this kind of token uses")
	ErrKid       = apperr.New(apperr.Unauthenticated, "token_kid", "the token's key id is unknown")
	ErrAudience  = apperr.New(apperr.Unauthenticated, "token_audience", "the token is not meant for this service")
	ErrExpired   = apperr.New(apperr.Unauthenticated, "token_expired", "the token has expired")
	ErrSignature = apperr.New(apperr.Unauthenticated, "token_signature", "the token's signature does not verify")
	ErrClaims    = apperr.New(apperr.Unauthenticated, "token_claims", "the token's claims are missing or invalid")
	// ErrWrongEvent is a genuine admission token presented for another event:
	// the caller is known but not allowed here.
	ErrWrongEvent = apperr.New(apperr.Forbidden, "token_event", "the admission token is for another event")
)

// Access tokens verified, by path: seen (remembered from an earlier
// check), fast (this ring's own HS256 header) or general (everything else,
// refusals included).
var (
	verifiedFamily = promtext.Help("ticketvelo_access_tokens_verified_total", "Access tokens checked, by path: seen (remembered from an earlier check), fast (this ring's own HS256 header) or general.")
	accessSeen     = metrics.NewCounter(verifiedFamily + `{path="seen"}`)
	accessFast     = metrics.NewCounter(verifiedFamily + `{path="fast"}`)
	accessGeneral  = metrics.NewCounter(verifiedFamily + `{path="general"}`)
)

var rejectionsFamily = promtext.Help("ticketvelo_token_rejections_total", "Tokens refused, by reason (the error code the client gets).")

func init() {
	// Every reason's series exists from the start, so rate() sees zeros.
	for _, e := range []*apperr.Error{ErrMissing, ErrMalformed, ErrAlg, ErrSignature, ErrExpired, ErrAudience, ErrClaims, ErrWrongEvent} {
		rejectionCounter(e)
	}
}

func rejectionCounter(e *apperr.Error) *metrics.Counter {
	return metrics.GetOrCreateCounter(rejectionsFamily + `{reason="` + e.Code + `"}`)
}

// rejected counts refused tokens by reason.
func rejected(e *apperr.Error) error {
	rejectionCounter(e).Inc()
	return e
}

// Access is what an access token says about its bearer.
type Access struct {
	UserID    int64
	Role      string
	ExpiresAt time.Time
}

// Admission is what an admission token says: this user may buy for this
// event until ExpiresAt.
type Admission struct {
	UserID    int64
	EventID   int64
	ID        string // jti
	ExpiresAt time.Time
}

type accessClaims struct {
	Role string `json:"role"`
	jwt.RegisteredClaims
}

type admissionClaims struct {
	Event int64 `json:"evt"`
	jwt.RegisteredClaims
}

// IssueAccess signs an access token for a user: HS256 under the signing
// key's derived secret. Only TicketVelo's own processes verify access
// tokens, and they hold the key file, so the secret need not be public; an
// HMAC costs a microsecond where an Ed25519 verification costs ~60, which
// is what a fan's first request to a gateway pays.
func (r *Ring) IssueAccess(userID int64, role string, ttl time.Duration, now time.Time) (string, time.Time, error) {
	exp := now.Add(ttl).Truncate(time.Second)
	k, err := r.Signer()
	if err != nil {
		return "", time.Time{}, err
	}
	t := jwt.NewWithClaims(jwt.SigningMethodHS256, &accessClaims{Role: role, RegisteredClaims: registered(userID, AudienceAccess, now, exp)})
	t.Header["kid"] = k.ID
	tok, err := t.SignedString(k.mac)
	return tok, exp, err
}

// IssueAdmission signs an admission token for one user and one event.
func (r *Ring) IssueAdmission(userID, eventID int64, ttl time.Duration, now time.Time) (string, Admission, error) {
	exp := now.Add(ttl).Truncate(time.Second)
	claims := &admissionClaims{Event: eventID, RegisteredClaims: registered(userID, AudienceAdmission, now, exp)}
	tok, err := r.sign(claims)
	return tok, Admission{UserID: userID, EventID: eventID, ID: claims.ID, ExpiresAt: exp}, err
}

func registered(userID int64, aud string, now, exp time.Time) jwt.RegisteredClaims {
	return jwt.RegisteredClaims{
		Issuer:    Issuer,
		Subject:   strconv.FormatInt(userID, 10),
		Audience:  jwt.ClaimStrings{aud},
		ExpiresAt: jwt.NewNumericDate(exp),
		IssuedAt:  jwt.NewNumericDate(now),
		ID:        newJTI(),
	}
}

func newJTI() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (r *Ring) sign(claims jwt.Claims) (string, error) {
	k, err := r.Signer()
	if err != nil {
		return "", err
	}
	t := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
	t.Header["kid"] = k.ID
	return t.SignedString(k.Private)
}

// VerifyAccess checks an access token's signature, audience and expiry.
// HS256 is today's; EdDSA, what access tokens were before, still verifies,
// so tokens signed before the change work until they expire.
func (r *Ring) VerifyAccess(token string, now time.Time) (Access, error) {
	if a, ok := r.fastAccess(token, now); ok {
		return a, nil
	}
	return r.verifyAccessGeneral(token, now)
}

// VerifyAccessBytes is VerifyAccess of a token in a request's buffer: the
// fast path reads it where it lies, and only a token left to the general
// path is copied (golang-jwt may keep parts of it in its errors).
func (r *Ring) VerifyAccessBytes(token []byte, now time.Time) (Access, error) {
	if a, ok := r.fastAccess(unsafe.String(unsafe.SliceData(token), len(token)), now); ok {
		return a, nil
	}
	return r.verifyAccessGeneral(string(token), now)
}

func (r *Ring) verifyAccessGeneral(token string, now time.Time) (Access, error) {
	accessGeneral.Inc()
	var c accessClaims
	if err := r.parse(token, AudienceAccess, now, &c, jwt.SigningMethodHS256, jwt.SigningMethodEdDSA); err != nil {
		return Access{}, err
	}
	uid, err := strconv.ParseInt(c.Subject, 10, 64)
	if err != nil || uid <= 0 || (c.Role != RoleFan && c.Role != RoleOps) {
		return Access{}, rejected(ErrClaims)
	}
	return Access{UserID: uid, Role: c.Role, ExpiresAt: c.ExpiresAt.Time}, nil
}

// VerifyAdmission checks an admission token and that it is for eventID.
func (r *Ring) VerifyAdmission(token string, eventID int64, now time.Time) (Admission, error) {
	var c admissionClaims
	if err := r.parse(token, AudienceAdmission, now, &c, jwt.SigningMethodEdDSA); err != nil {
		return Admission{}, err
	}
	uid, err := strconv.ParseInt(c.Subject, 10, 64)
	if err != nil || uid <= 0 || c.Event <= 0 || c.ID == "" {
		return Admission{}, rejected(ErrClaims)
	}
	if c.Event != eventID {
		return Admission{}, rejected(ErrWrongEvent)
	}
	return Admission{UserID: uid, EventID: c.Event, ID: c.ID, ExpiresAt: c.ExpiresAt.Time}, nil
}

// VerifyAdmissionAsIssued checks an admission token as VerifyAdmission
// does (signature, audience, issuer, event) as of a moment before its
// expiry, so a token whose window has passed still proves which fan and
// admission it was. It is for replaying an answer the token was given
// while it lived, and must grant nothing new.
func (r *Ring) VerifyAdmissionAsIssued(token string, eventID int64) (Admission, error) {
	var c admissionClaims
	if _, _, err := jwt.NewParser().ParseUnverified(token, &c); err != nil || c.ExpiresAt == nil {
		return Admission{}, rejected(ErrMalformed)
	}
	return r.VerifyAdmission(token, eventID, c.ExpiresAt.Add(-time.Millisecond))
}

// parse verifies token with the ring's key of its kid. The key handed to
// the verifier is of the token's method's own kind (the derived HMAC secret
// for HS256, the public key for EdDSA), so no token can make a public key
// serve as an HMAC secret; and a genuine token whose method is not one of
// methods (the kind of token's) is refused after its audience is checked,
// so a token shown to the wrong service is told so.
func (r *Ring) parse(token, audience string, now time.Time, claims jwt.Claims, methods ...jwt.SigningMethod) error {
	if token == "" {
		return rejected(ErrMissing)
	}
	if len(token) > 4096 {
		return rejected(ErrMalformed)
	}
	p := jwt.NewParser(
		jwt.WithAudience(audience),
		jwt.WithIssuer(Issuer),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(func() time.Time { return now }),
		jwt.WithStrictDecoding(),
	)
	var keyErr *apperr.Error
	t, err := p.ParseWithClaims(token, claims, func(t *jwt.Token) (any, error) {
		key, e := r.verifier(t, methods)
		keyErr = e
		if e != nil {
			return nil, e
		}
		return key, nil
	})
	if err == nil && !slices.Contains(methods, t.Method) {
		return rejected(ErrAlg)
	}
	switch {
	case err == nil:
		return nil
	case keyErr != nil:
		return rejected(keyErr)
	case errors.Is(err, jwt.ErrTokenMalformed):
		return rejected(ErrMalformed)
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return rejected(ErrSignature)
	case errors.Is(err, jwt.ErrTokenExpired):
		return rejected(ErrExpired)
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return rejected(ErrAudience)
	default:
		return rejected(ErrClaims)
	}
}

// verifier is the key that checks t's signature, or why there is none: a
// method the ring does not sign with, an unknown kid, or an HS256 token on a
// ring without the key's private half (a door scanner's, say), which can
// only be the wrong kind of token there or a forgery.
func (r *Ring) verifier(t *jwt.Token, methods []jwt.SigningMethod) (any, *apperr.Error) {
	if t.Method != jwt.SigningMethodHS256 && t.Method != jwt.SigningMethodEdDSA {
		return nil, ErrAlg
	}
	kid, _ := t.Header["kid"].(string)
	k, ok := r.Lookup(kid)
	switch {
	case !ok:
		return nil, ErrKid
	case t.Method == jwt.SigningMethodEdDSA:
		return k.Public, nil
	case k.mac != nil:
		return k.mac, nil
	case slices.Contains(methods, t.Method):
		return nil, ErrKid
	default:
		return nil, ErrAlg
	}
}
