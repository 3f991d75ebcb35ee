package gateway

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/ticketvelo/ticketvelo/identity"
	"github.com/ticketvelo/ticketvelo/internal/httpapi"
)

type userJSON struct {
	ID    int64  `json:"id"`
	Email string `json:"email"`
	Name  string `json:"name"`
	Role  string `json:"role"`
}

func userOf(u identity.User) userJSON {
	return userJSON{ID: u.ID, Email: u.Email, Name: u.Name, Role: u.Role}
}

type sessionJSON struct {
	User        userJSON  `json:"user"`
	AccessToken string    `json:"access_token"`
	TokenType   string    `json:"token_type"`
	ExpiresAt   time.Time `json:"expires_at"`
}

type registerBody struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	Name     string `json:"name"`
}

type loginBody struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

// clientIP is the caller's address as the abuse limits see it.
func (g *Gateway) clientIP(ctx *fasthttp.RequestCtx) string {
	return httpapi.ClientIP(ctx, g.d.TrustedProxies).String()
}

// emailKey is the account an auth request is about, for its limit: the
// normalised email, or what was typed when it does not parse.
func emailKey(raw string) string {
	if email, err := identity.NormaliseEmail(raw); err == nil {
		return accountKey(email)
	}
	return accountKey(strings.ToLower(strings.TrimSpace(raw)))
}

func (g *Gateway) register(ctx *fasthttp.RequestCtx) error {
	var b registerBody
	if err := httpapi.DecodeJSON(ctx, &b); err != nil {
		return err
	}
	cfg := g.cfg
	sctx, cancel := g.storeCtx(ctx, cfg.Hashing.Wait) // the wait for a hash slot comes on top
	defer cancel()
	if err := g.limits.check(sctx, limit{scope: scopeRegisterIP, who: g.clientIP(ctx), rule: cfg.RegisterPerIP}, limit{scope: scopeRegisterAccount, who: emailKey(b.Email), rule: cfg.RegisterPerAccount}); err != nil {
		return err
	}
	u, err := g.d.Users.Register(sctx, identity.Registration{Email: b.Email, Password: b.Password, Name: b.Name})
	if err != nil {
		return err
	}
	return g.writeSession(ctx, fasthttp.StatusCreated, u)
}

// login signs a fan in. Three limits stand before the password check: all
// attempts per client address, failed logins per account from this address
// (strict, cleared when the fan gets in) and failed logins per account from
// every address (loose). Counting failures per account and address means a
// stranger guessing from elsewhere cannot lock the owner out on drop day.
// The failure limits are taken before the argon2id check and given back
// unless the password was wrong, so guessing buys no more hashing than
// they allow, however many guesses run at once.
func (g *Gateway) login(ctx *fasthttp.RequestCtx) error {
	var b loginBody
	if err := httpapi.DecodeJSON(ctx, &b); err != nil {
		return err
	}
	cfg, ip, account := g.cfg, g.clientIP(ctx), emailKey(b.Email)
	sctx, cancel := g.storeCtx(ctx, cfg.Hashing.Wait) // the wait for a hash slot comes on top
	defer cancel()
	if err := g.limits.check(sctx, limit{scope: scopeLoginIP, who: ip, rule: cfg.LoginPerIP}); err != nil {
		return err
	}
	// One hash tag, the account, for both counters: the reserve script
	// touches them together.
	tag := "{" + account + "}"
	held, err := g.limits.reserve(sctx,
		limit{scope: scopeLoginFailAccountIP, who: tag + ":" + ip, rule: cfg.LoginPerAccountIP, clearOnSuccess: true},
		limit{scope: scopeLoginFailAccount, who: tag, rule: cfg.LoginPerAccount})
	if err != nil {
		return err
	}
	u, err := g.d.Users.Login(sctx, b.Email, b.Password)
	if errors.Is(err, identity.ErrBadCredentials) {
		return err // a failure: it keeps its unit of both limits
	}
	// A failure to settle costs the fan at most one counted failure until
	// the window ends: not worth refusing a good login or hiding the
	// first error.
	_ = g.limits.settle(context.WithoutCancel(sctx), held, err == nil)
	if err != nil {
		return err
	}
	return g.writeSession(ctx, fasthttp.StatusOK, u)
}

func (g *Gateway) writeSession(ctx *fasthttp.RequestCtx, status int, u identity.User) error {
	tok, exp, err := g.d.Ring.IssueAccess(u.ID, u.Role, g.cfg.AccessTokenTTL, g.d.Now())
	if err != nil {
		return err
	}
	httpapi.WriteJSON(ctx, status, sessionJSON{User: userOf(u), AccessToken: tok, TokenType: "Bearer", ExpiresAt: exp.UTC()})
	return nil
}

func (g *Gateway) me(ctx *fasthttp.RequestCtx) error {
	a, err := g.fan(ctx)
	if err != nil {
		return err
	}
	sctx, cancel := g.storeCtx(ctx, 0)
	defer cancel()
	u, err := g.d.Users.ByID(sctx, a.UserID)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(ctx, fasthttp.StatusOK, map[string]userJSON{"user": userOf(u)})
	return nil
}
