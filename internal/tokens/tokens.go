package tokens

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strconv"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/golang-jwt/jwt/v5"

	"github.com/ticketvelo/ticketvelo/internal/apperr"
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
	ErrAlg       = apperr.New(apperr.Unauthenticated, "token_alg", "the token must be signed with EdDSA")
	ErrKid       = apperr.New(apperr.Unauthenticated, "token_kid", "the token's key id is unknown")
	ErrAudience  = apperr.New(apperr.Unauthenticated, "token_audience", "the token is not meant for this service")
	ErrExpired   = apperr.New(apperr.Unauthenticated, "token_expired", "the token has expired")
	ErrSignature = apperr.New(apperr.Unauthenticated, "token_signature", "the token's signature does not verify")
	ErrClaims    = apperr.New(apperr.Unauthenticated, "token_claims", "the token's claims are missing or invalid")
	// ErrWrongEvent is a genuine admission token presented for another event:
	// the caller is known but not allowed here.
	ErrWrongEvent = apperr.New(apperr.Forbidden, "token_event", "the admission token is for another event")
)

// rejected counts refused tokens by reason.
func rejected(e *apperr.Error) error {
	metrics.GetOrCreateCounter(`ticketvelo_token_rejections_total{reason="` + e.Code + `"}`).Inc()
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

// IssueAccess signs an access token for a user.
func (r *Ring) IssueAccess(userID int64, role string, ttl time.Duration, now time.Time) (string, time.Time, error) {
	exp := now.Add(ttl).Truncate(time.Second)
	tok, err := r.sign(&accessClaims{Role: role, RegisteredClaims: registered(userID, AudienceAccess, now, exp)})
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
func (r *Ring) VerifyAccess(token string, now time.Time) (Access, error) {
	var c accessClaims
	if err := r.parse(token, AudienceAccess, now, &c); err != nil {
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
	if err := r.parse(token, AudienceAdmission, now, &c); err != nil {
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

func (r *Ring) parse(token, audience string, now time.Time, claims jwt.Claims) error {
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
	_, err := p.ParseWithClaims(token, claims, func(t *jwt.Token) (any, error) {
		if t.Method != jwt.SigningMethodEdDSA {
			keyErr = ErrAlg
			return nil, ErrAlg
		}
		kid, _ := t.Header["kid"].(string)
		k, ok := r.Lookup(kid)
		if !ok {
			keyErr = ErrKid
			return nil, ErrKid
		}
		return k.Public, nil
	})
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
