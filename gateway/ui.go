package gateway

import (
	"io/fs"
	"mime"
	"path"
	"strings"

	"github.com/valyala/fasthttp"
)

// notBuiltPage has no inline style or script: the UI's policy blocks both.
const notBuiltPage = `<!doctype html><meta charset="utf-8"><title>TicketVelo</title>
<h1>TicketVelo</h1><p>The web UI is not built into this binary: run <code>make frontend</code>
(or <code>make run</code>, which builds it) and start again. The API is served as usual under <code>/api/v1</code>.</p>`

// contentSecurityPolicy lets the UI load only from the gateway itself.
// Vite's build emits module scripts and CSS files under /assets and no
// inline script or style; React sets style props through the DOM, which
// style-src does not govern; small assets may be inlined as data: images.
// frame-ancestors (and X-Frame-Options for older browsers) stop other
// sites framing the checkout to trick clicks.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"

// setUIHeaders adds the browser protections of every UI answer.
func setUIHeaders(h *fasthttp.ResponseHeader) {
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "strict-origin-when-cross-origin")
}

// uiHandler serves the built single-page app: files by path, index.html for
// any other page path so client-side routes survive a reload, and hashed
// assets cached for a year.
type uiHandler struct {
	files fs.FS
	index []byte
}

func newUIHandler(files fs.FS) *uiHandler {
	index, err := fs.ReadFile(files, "index.html")
	if err != nil {
		index = []byte(notBuiltPage)
	}
	return &uiHandler{files: files, index: index}
}

// serve answers GET and HEAD for pages; it reports false for anything else.
func (u *uiHandler) serve(ctx *fasthttp.RequestCtx) bool {
	if !ctx.IsGet() && !ctx.IsHead() {
		return false
	}
	p := string(ctx.Path())
	if strings.HasPrefix(p, "/api/") || p == "/api" {
		return false
	}
	name := strings.TrimPrefix(path.Clean(p), "/")
	if name != "" && name != "index.html" {
		if body, err := fs.ReadFile(u.files, name); err == nil {
			setUIHeaders(&ctx.Response.Header)
			if ct := mime.TypeByExtension(path.Ext(name)); ct != "" {
				ctx.SetContentType(ct)
			}
			if strings.HasPrefix(name, "assets/") {
				ctx.Response.Header.Set("Cache-Control", "public, max-age=31536000, immutable")
			}
			ctx.SetBody(body)
			return true
		}
		if path.Ext(name) != "" {
			return false // a missing file, not a page
		}
	}
	setUIHeaders(&ctx.Response.Header)
	ctx.SetContentType("text/html; charset=utf-8")
	ctx.Response.Header.Set("Cache-Control", "no-cache")
	ctx.SetBody(u.index)
	return true
}
