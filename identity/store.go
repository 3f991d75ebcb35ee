// Package identity keeps TicketVelo's accounts: registration with a
// normalised unique email and an argon2id password hash, login, and the
// accounts operators create from the command line.
package identity

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ticketvelo/ticketvelo/internal/tokens"
)

// User is an account.
type User struct {
	ID        int64
	Email     string
	Name      string
	Role      string // tokens.RoleFan or tokens.RoleOps
	CreatedAt time.Time
}

// Registration is what a new account starts from.
type Registration struct {
	Email    string
	Password string
	Name     string
}

// Store reads and writes accounts in the users table.
type Store struct {
	pool   *pgxpool.Pool
	hasher *Hasher
	// decoy is a hash that login checks when the email is unknown, so the
	// answer takes as long as for a known email with a wrong password.
	decoy string
}

// NewStore returns a Store on pool hashing with the costs p, within the
// limits l.
func NewStore(pool *pgxpool.Pool, p Params, l HashLimits) (*Store, error) {
	h := NewHasher(p, l)
	decoy, err := h.Hash(context.Background(), "decoy password that matches no account")
	if err != nil {
		return nil, fmt.Errorf("hashing the decoy password: %w", err)
	}
	return &Store{pool: pool, hasher: h, decoy: decoy}, nil
}

// Register creates a fan account.
func (s *Store) Register(ctx context.Context, r Registration) (User, error) {
	return s.Create(ctx, r, tokens.RoleFan)
}

func checkRole(role string) error {
	if role != tokens.RoleFan && role != tokens.RoleOps {
		return invalid("role", "role must be %q or %q, got %q", tokens.RoleFan, tokens.RoleOps, role)
	}
	return nil
}

// Create creates an account with role after checking the email, the name
// and the password policy.
func (s *Store) Create(ctx context.Context, r Registration, role string) (User, error) {
	if err := checkRole(role); err != nil {
		return User{}, err
	}
	email, err := NormaliseEmail(r.Email)
	if err != nil {
		return User{}, err
	}
	name, err := CleanName(r.Name)
	if err != nil {
		return User{}, err
	}
	if err := CheckPassword(r.Password, email); err != nil {
		return User{}, err
	}
	// Refuse a taken email before paying for the hash; the unique index
	// still decides when two registrations race.
	var exists bool
	if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE email = $1)`, email).Scan(&exists); err != nil {
		return User{}, fmt.Errorf("checking email: %w", err)
	}
	if exists {
		return User{}, ErrEmailTaken
	}
	hash, err := s.hasher.Hash(ctx, r.Password)
	if err != nil {
		return User{}, err
	}
	u := User{Email: email, Name: name, Role: role}
	err = s.pool.QueryRow(ctx, `
		INSERT INTO users (email, name, password_hash, role) VALUES ($1, $2, $3, $4)
		RETURNING id, created_at`, email, name, hash, role).Scan(&u.ID, &u.CreatedAt)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return User{}, ErrEmailTaken
	}
	if err != nil {
		return User{}, fmt.Errorf("creating user: %w", err)
	}
	return u, nil
}

// Login returns the account of email when password is its password. Unknown
// emails and wrong passwords fail alike and take as long.
func (s *Store) Login(ctx context.Context, rawEmail, password string) (User, error) {
	email, err := NormaliseEmail(rawEmail)
	if err != nil || len(password) > 4*MaxPasswordLen {
		return User{}, ErrBadCredentials
	}
	var u User
	var hash string
	err = s.pool.QueryRow(ctx, `SELECT id, email, name, role, created_at, password_hash FROM users WHERE email = $1`, email).
		Scan(&u.ID, &u.Email, &u.Name, &u.Role, &u.CreatedAt, &hash)
	if errors.Is(err, pgx.ErrNoRows) {
		if _, err := s.hasher.Verify(ctx, password, s.decoy); err != nil {
			return User{}, err
		}
		return User{}, ErrBadCredentials
	}
	if err != nil {
		return User{}, fmt.Errorf("finding user: %w", err)
	}
	ok, err := s.hasher.Verify(ctx, password, hash)
	if err != nil {
		return User{}, fmt.Errorf("checking password of user %d: %w", u.ID, err)
	}
	if !ok {
		return User{}, ErrBadCredentials
	}
	return u, nil
}

// ByID returns the account with id.
func (s *Store) ByID(ctx context.Context, id int64) (User, error) {
	var u User
	err := s.pool.QueryRow(ctx, `SELECT id, email, name, role, created_at FROM users WHERE id = $1`, id).
		Scan(&u.ID, &u.Email, &u.Name, &u.Role, &u.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return User{}, ErrUserNotFound
	}
	if err != nil {
		return User{}, fmt.Errorf("finding user %d: %w", id, err)
	}
	return u, nil
}

// Role returns the role the account with id holds now. Ops routes ask it
// rather than trust the role an access token was signed with, which may be
// hours old.
func (s *Store) Role(ctx context.Context, id int64) (string, error) {
	var role string
	err := s.pool.QueryRow(ctx, `SELECT role FROM users WHERE id = $1`, id).Scan(&role)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", ErrUserNotFound
	}
	if err != nil {
		return "", fmt.Errorf("reading the role of user %d: %w", id, err)
	}
	return role, nil
}

// SetRole gives the account of email the role, e.g. to demote an ops
// account. Gateways apply it to ops routes within their role cache's TTL;
// access tokens already signed keep their old role claim until they expire,
// but ops routes do not believe it.
func (s *Store) SetRole(ctx context.Context, rawEmail, role string) (User, error) {
	if err := checkRole(role); err != nil {
		return User{}, err
	}
	email, err := NormaliseEmail(rawEmail)
	if err != nil {
		return User{}, err
	}
	var u User
	err = s.pool.QueryRow(ctx, `UPDATE users SET role = $2 WHERE email = $1 RETURNING id, email, name, role, created_at`, email, role).
		Scan(&u.ID, &u.Email, &u.Name, &u.Role, &u.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return User{}, ErrUserNotFound
	}
	if err != nil {
		return User{}, fmt.Errorf("setting the role of %s: %w", email, err)
	}
	return u, nil
}
