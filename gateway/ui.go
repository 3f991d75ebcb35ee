package gateway

import (
	"io/fs"
	"mime"
	"path"
	"strings"

	"github.com/valyala/fasthttp"
)

const notBuiltPage = `<!doctype html><meta charset="utf-8"><title>TicketVelo</title>
<body style="font-family:system-ui;max-width:40em;margin:4em auto">
<h1>TicketVelo</h1><p>The web UI is not built into this binary: run <code>make frontend</code>
(or <code>make run</code>, which builds it) and start again. The API is served as usual under <code>/api/v1</code>.</p>`

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
	ctx.SetContentType("text/html; charset=utf-8")
	ctx.Response.Header.Set("Cache-Control", "no-cache")
	ctx.SetBody(u.index)
	return true
}
