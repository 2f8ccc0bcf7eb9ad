#!/usr/bin/env python3
"""Writes requests.http and responses.http, the HTTP/1.1 benchmark corpus.

One keep-alive conversation in the style of a capture at a reverse proxy: a browser
loading a shop (navigation, static assets, conditional GETs, XHR/JSON API calls, a CORS
preflight, a login redirect) followed by service-to-service traffic (health checks,
Prometheus scrape, payment API, a chunked upload with Expect: 100-continue). Every host,
token and body is made up. requests.http holds the requests in order; responses.http
the responses in the same order (plus one interim 100 Continue), CRLF line endings.

Regenerate (deterministic; the output is committed):
    python3 tests/bench/corpus/make_corpus.py
"""
import json
import os
import random

HERE = os.path.dirname(os.path.abspath(__file__))
rng = random.Random(20240305)

HOST = "shop.example.com"
ORIGIN = "https://" + HOST
CHROME_UA = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
             "Chrome/122.0.0.0 Safari/537.36")
SEC_CH_UA = '"Chromium";v="122", "Not(A:Brand";v="24", "Google Chrome";v="122"'
COOKIE = ("_ga=GA1.1.1843270211.1709558400; _ga_7QK2B9=GS1.1.1709633701.3.1.1709633702.0.0.0; "
          "session=s%3A8f14e45fceea167a5a36dedd4bea2543.k2Vd0q9Zp1xLr7mT3cYw; cart=3; "
          "consent=analytics%3Dno%26ads%3Dno")
CSRF = "Wq3v9LzT2xN8pR4mK7bY1cH6dF0sJ5gA"

_second = [15 * 60 + 2]


def http_date():
    s = _second[0]
    _second[0] += rng.choice([0, 0, 1, 1, 2])
    return "Tue, 05 Mar 2024 10:%02d:%02d GMT" % (s // 60 % 60, s % 60)


def request_id():
    return "%08x-%04x-4%03x-%04x-%012x" % (rng.getrandbits(32), rng.getrandbits(16), rng.getrandbits(12),
                                           0x8000 | rng.getrandbits(14), rng.getrandbits(48))


def head(start_line, fields):
    return start_line + "\r\n" + "".join("%s: %s\r\n" % (n, v) for n, v in fields) + "\r\n"


def with_body(start_line, fields, body):
    body = body.encode() if isinstance(body, str) else body
    return head(start_line, fields + [("Content-Length", str(len(body)))]).encode() + body


def chunked(start_line, fields, pieces, trailers=()):
    out = head(start_line, fields + [("Transfer-Encoding", "chunked")]).encode()
    for p in pieces:
        p = p.encode()
        out += b"%x\r\n" % len(p) + p + b"\r\n"
    out += b"0\r\n" + "".join("%s: %s\r\n" % t for t in trailers).encode() + b"\r\n"
    return out


def compact(obj):
    return json.dumps(obj, separators=(",", ":"))


# --- request header sets, in the order each client sends them ---

def chrome_navigate(path, referer=None, site="none"):
    f = [("Host", HOST), ("Connection", "keep-alive"), ("Cache-Control", "max-age=0"),
         ("sec-ch-ua", SEC_CH_UA), ("sec-ch-ua-mobile", "?0"), ("sec-ch-ua-platform", '"Windows"'),
         ("Upgrade-Insecure-Requests", "1"), ("User-Agent", CHROME_UA),
         ("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
                    "image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7"),
         ("Sec-Fetch-Site", site), ("Sec-Fetch-Mode", "navigate"), ("Sec-Fetch-User", "?1"),
         ("Sec-Fetch-Dest", "document")]
    if referer:
        f.append(("Referer", referer))
    f += [("Accept-Encoding", "gzip, deflate, br"), ("Accept-Language", "en-GB,en-US;q=0.9,en;q=0.8,de;q=0.7"),
          ("Cookie", COOKIE)]
    return "GET %s HTTP/1.1" % path, f


def chrome_asset(path, dest, accept, etag=None, modified=None):
    f = [("Host", HOST), ("Connection", "keep-alive"), ("sec-ch-ua", SEC_CH_UA), ("sec-ch-ua-mobile", "?0"),
         ("User-Agent", CHROME_UA), ("sec-ch-ua-platform", '"Windows"'), ("Accept", accept),
         ("Sec-Fetch-Site", "same-origin"), ("Sec-Fetch-Mode", "no-cors"), ("Sec-Fetch-Dest", dest),
         ("Referer", ORIGIN + "/"), ("Accept-Encoding", "gzip, deflate, br"),
         ("Accept-Language", "en-GB,en-US;q=0.9,en;q=0.8,de;q=0.7"), ("Cookie", COOKIE)]
    if etag:
        f.append(("If-None-Match", etag))
    if modified:
        f.append(("If-Modified-Since", modified))
    return "GET %s HTTP/1.1" % path, f


def chrome_fetch(method, path, referer="/", content_type=None, origin=False, extra=()):
    f = [("Host", HOST), ("Connection", "keep-alive")]
    f += [("sec-ch-ua", SEC_CH_UA), ("Accept", "application/json, text/plain, */*")]
    if content_type:
        f.append(("Content-Type", content_type))
    f += [("X-CSRF-Token", CSRF), ("sec-ch-ua-mobile", "?0"), ("User-Agent", CHROME_UA),
          ("sec-ch-ua-platform", '"Windows"')]
    if origin:
        f.append(("Origin", ORIGIN))
    f += [("Sec-Fetch-Site", "same-origin"), ("Sec-Fetch-Mode", "cors"), ("Sec-Fetch-Dest", "empty"),
          ("Referer", ORIGIN + referer), ("Accept-Encoding", "gzip, deflate, br"),
          ("Accept-Language", "en-GB,en-US;q=0.9,en;q=0.8,de;q=0.7"), ("Cookie", COOKIE)]
    f += list(extra)
    return "%s %s HTTP/1.1" % (method, path), f


# --- response header sets ---

def nginx(content_type=None, extra=()):
    f = [("Server", "nginx/1.24.0"), ("Date", http_date())]
    if content_type:
        f.append(("Content-Type", content_type))
    f += [("Connection", "keep-alive")] + list(extra)
    return f


def api(content_type="application/json; charset=utf-8", extra=()):
    # An Express app behind nginx: nginx's fields first, then the app's.
    f = [("Server", "nginx/1.24.0"), ("Date", http_date())]
    if content_type:
        f.append(("Content-Type", content_type))
    f += [("Connection", "keep-alive"), ("Vary", "Origin, Accept-Encoding"),
          ("X-Powered-By", "Express"), ("X-Request-Id", request_id())]
    f += list(extra)
    f += [("Cache-Control", "no-store"), ("Strict-Transport-Security", "max-age=63072000; includeSubDomains"),
          ("X-Content-Type-Options", "nosniff")]
    return f


def static_fields(etag, modified, max_age="31536000, immutable"):
    return [("Last-Modified", modified), ("ETag", etag), ("Cache-Control", "public, max-age=" + max_age),
            ("Strict-Transport-Security", "max-age=63072000; includeSubDomains"),
            ("X-Content-Type-Options", "nosniff"), ("Accept-Ranges", "bytes")]


# --- bodies ---

BOOKS = ["Designing Data-Intensive Applications", "The Pragmatic Programmer", "Structure and "
         "Interpretation of Computer Programs", "Operating Systems: Three Easy Pieces", "Crafting "
         "Interpreters", "Systems Performance", "The Linux Programming Interface", "Database Internals",
         "Release It!", "Site Reliability Engineering", "Computer Networking: A Top-Down Approach",
         "BPF Performance Tools", "Programming Pearls", "The Art of Multiprocessor Programming"]


def product(i):
    title = BOOKS[i % len(BOOKS)]
    return {"id": "BK-%04d" % (1000 + i * 37), "title": title,
            "slug": title.lower().replace(" ", "-").replace(":", "").replace("!", ""),
            "price": {"amount": round(19.9 + (i * 7.3) % 40, 2), "currency": "EUR"},
            "rating": {"average": round(3.6 + (i % 14) / 10, 1), "count": 40 + i * 13},
            "in_stock": i % 5 != 3, "image": "/static/img/products/bk-%04d.webp" % (1000 + i * 37),
            "tags": ["books", "computing"] + (["bestseller"] if i % 4 == 0 else [])}


def html_page():
    parts = ["<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
             "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
             "<title>Books on computing | Example Shop</title>\n"
             "<link rel=\"stylesheet\" href=\"/static/css/main.4f2a9c1e.css\">\n"
             "<link rel=\"icon\" href=\"/favicon.ico\">\n"
             "<script defer src=\"/static/js/runtime.7b1d3e02.js\"></script>\n"
             "<script defer src=\"/static/js/vendor.a81f22c4.js\"></script>\n"
             "<script defer src=\"/static/js/app.9c4e1177.js\"></script>\n</head>\n<body>\n"
             "<header class=\"site-header\"><a class=\"logo\" href=\"/\"><img src=\"/static/img/logo.svg\" "
             "alt=\"Example Shop\" width=\"132\" height=\"32\"></a>\n<nav><ul><li><a href=\"/c/books\">Books</a>"
             "</li><li><a href=\"/c/ebooks\">E-books</a></li><li><a href=\"/c/gifts\">Gifts</a></li><li>"
             "<a href=\"/account\">Account</a></li><li><a href=\"/cart\" class=\"cart\">Cart <span "
             "data-count=\"3\">3</span></a></li></ul></nav></header>\n<main id=\"catalogue\">\n"]
    for i in range(24):
        p = product(i)
        parts.append(
            "<article class=\"product-card\" data-sku=\"%s\">\n  <a href=\"/p/%s\"><img loading=\"lazy\" "
            "src=\"%s\" alt=\"%s\" width=\"180\" height=\"240\"></a>\n  <h2 class=\"title\"><a href=\"/p/%s\">%s"
            "</a></h2>\n  <p class=\"price\">&euro;%.2f</p>\n  <p class=\"rating\" aria-label=\"%.1f out of 5\">"
            "%.1f (%d reviews)</p>\n  <form method=\"post\" action=\"/cart/items\"><input type=\"hidden\" "
            "name=\"sku\" value=\"%s\"><button type=\"submit\"%s>Add to cart</button></form>\n</article>\n"
            % (p["id"], p["slug"], p["image"], p["title"], p["slug"], p["title"], p["price"]["amount"],
               p["rating"]["average"], p["rating"]["average"], p["rating"]["count"], p["id"],
               "" if p["in_stock"] else " disabled"))
    parts.append("</main>\n<footer><p>&copy; 2024 Example Shop GmbH &middot; <a href=\"/imprint\">Imprint</a> "
                 "&middot; <a href=\"/privacy\">Privacy</a></p></footer>\n</body>\n</html>\n")
    return "".join(parts)


def split_stream(text, sizes):
    """Splits text the way a streaming server flushes it: pieces of the given sizes, cycled."""
    out, at, k = [], 0, 0
    while at < len(text):
        out.append(text[at:at + sizes[k % len(sizes)]])
        at += sizes[k % len(sizes)]
        k += 1
    return out


CSS = "".join(
    ".%s{display:%s;margin:0 %dpx;padding:%dpx %dpx;color:#%06x;font:%d%% / 1.4 Inter,system-ui,sans-serif}\n"
    % (name, disp, 4 * i, 2 * i, 3 * i, rng.getrandbits(24), 90 + 5 * (i % 5))
    for i, (name, disp) in enumerate([("site-header", "flex"), ("logo", "inline-block"), ("cart", "inline-flex"),
                                      ("product-card", "grid"), ("title", "block"), ("price", "block"),
                                      ("rating", "block"), ("btn", "inline-block"), ("btn-primary", "inline-block"),
                                      ("pager", "flex"), ("toast", "none"), ("modal", "none"), ("badge", "inline"),
                                      ("footer", "block"), ("breadcrumbs", "flex"), ("search", "flex")] * 3))

RUNTIME_JS = ("(()=>{\"use strict\";var e={},r={};function o(t){var n=r[t];if(void 0!==n)return n.exports;"
              "var a=r[t]={exports:{}};return e[t](a,a.exports,o),a.exports}o.m=e,o.n=e=>{var r=e&&e.__esModule?"
              "()=>e.default:()=>e;return o.d(r,{a:r}),r},o.d=(e,r)=>{for(var t in r)o.o(r,t)&&!o.o(e,t)&&"
              "Object.defineProperty(e,t,{enumerable:!0,get:r[t]})},o.o=(e,r)=>Object.prototype.hasOwnProperty"
              ".call(e,r),o.p=\"/static/\";var t={666:0};o.O=(r,n,a,i)=>{if(!n){var c=1/0;for(f=0;f<e.length;"
              "f++){for(var[n,a,i]=e[f],l=!0,u=0;u<n.length;u++)(!1&i||c>=i)&&Object.keys(o.O).every((e=>o.O[e]"
              "(n[u])))?n.splice(u--,1):(l=!1,i<c&&(c=i));if(l){e.splice(f--,1);var s=a();void 0!==s&&(r=s)}}"
              "return r}i=i||0;for(var f=e.length;f>0&&e[f-1][2]>i;f--)e[f]=e[f-1];e[f]=[n,a,i]}})();\n"
              "//# sourceMappingURL=runtime.7b1d3e02.js.map\n")

LOGO_SVG = ("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"132\" height=\"32\" viewBox=\"0 0 132 32\">"
            "<title>Example Shop</title><g fill=\"none\" fill-rule=\"evenodd\"><rect width=\"32\" height=\"32\" "
            "rx=\"6\" fill=\"#1F6FEB\"/><path d=\"M9 10h14l-1.6 9.2a2 2 0 0 1-2 1.6h-6.8a2 2 0 0 1-2-1.6L9 10zm3 "
            "13.5a1.5 1.5 0 1 0 0 3 1.5 1.5 0 0 0 0-3zm8 0a1.5 1.5 0 1 0 0 3 1.5 1.5 0 0 0 0-3z\" fill=\"#FFF\"/>"
            "<text x=\"40\" y=\"22\" font-family=\"Inter, sans-serif\" font-size=\"16\" font-weight=\"600\" "
            "fill=\"#0D1117\">Example Shop</text></g></svg>\n")

ROBOTS = ("User-agent: *\nDisallow: /account\nDisallow: /cart\nDisallow: /checkout\nDisallow: /api/\n"
          "Allow: /api/v1/products\n\nSitemap: https://shop.example.com/sitemap-index.xml\n")

METRICS = "".join(
    ["# HELP http_requests_total Requests handled, by route and status.\n# TYPE http_requests_total counter\n"]
    + ["http_requests_total{route=\"%s\",method=\"%s\",status=\"%d\"} %d\n" % (r, m, s, rng.randrange(10, 900000))
       for r, m in [("/api/v1/products", "GET"), ("/api/v1/cart", "GET"), ("/api/v1/cart/items", "POST"),
                    ("/api/v2/orders", "POST"), ("/healthz", "GET")] for s in (200, 304, 404, 500)]
    + ["# HELP http_request_duration_seconds Request latency.\n# TYPE http_request_duration_seconds histogram\n"]
    + ["http_request_duration_seconds_bucket{route=\"/api/v1/products\",le=\"%s\"} %d\n" % (le, 1000 * (k + 1) ** 2)
       for k, le in enumerate(["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "+Inf"])]
    + ["http_request_duration_seconds_sum{route=\"/api/v1/products\"} 2391.87\n"
       "http_request_duration_seconds_count{route=\"/api/v1/products\"} 81000\n"
       "process_resident_memory_bytes 1.38412032e+08\nnodejs_eventloop_lag_seconds 0.001873\n"])

NOT_FOUND = ("<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n<center><h1>404 Not Found</h1>"
             "</center>\r\n<hr><center>nginx/1.24.0</center>\r\n</body>\r\n</html>\r\n")
MOVED = ("<html>\r\n<head><title>301 Moved Permanently</title></head>\r\n<body>\r\n<center><h1>301 Moved "
         "Permanently</h1></center>\r\n<hr><center>nginx/1.24.0</center>\r\n</body>\r\n</html>\r\n")


def cart(items):
    lines = [{"id": "ci_%d" % (8811 + k), "sku": product(k * 3)["id"], "title": product(k * 3)["title"],
              "qty": 1 + k % 2, "unit_price": product(k * 3)["price"]} for k in range(items)]
    total = round(sum(l["qty"] * l["unit_price"]["amount"] for l in lines), 2)
    return {"id": "cart_5f1c0b", "customer_id": "c-10293", "items": lines,
            "totals": {"subtotal": total, "shipping": 0.0, "tax": round(total * 0.07, 2), "currency": "EUR"},
            "updated_at": "2024-03-05T10:15:%02dZ" % (_second[0] % 60)}


def build():
    ex = []  # (request bytes, [response bytes...])

    def add(req, *rsps):
        as_bytes = lambda m: m if isinstance(m, bytes) else m.encode()
        ex.append((as_bytes(req), [as_bytes(r) for r in rsps]))

    css_etag, css_mod = '"65e6f1a2-%x"' % len(CSS), "Mon, 04 Mar 2024 16:20:18 GMT"
    js_etag, js_mod = '"65e6f1a2-%x"' % len(RUNTIME_JS), "Mon, 04 Mar 2024 16:20:18 GMT"
    svg_etag = '"65a0c4d1-%x"' % len(LOGO_SVG)

    # 1. Navigation: the catalogue page, streamed by the app with a Server-Timing trailer.
    add(head(*chrome_navigate("/c/books?sort=popular")),
        chunked("HTTP/1.1 200 OK",
                [("Server", "nginx/1.24.0"), ("Date", http_date()), ("Content-Type", "text/html; charset=utf-8"),
                 ("Connection", "keep-alive"), ("Vary", "Accept-Encoding"), ("X-Powered-By", "Express"),
                 ("X-Request-Id", request_id()), ("Cache-Control", "private, no-cache"),
                 ("Set-Cookie", "cart=3; Path=/; Max-Age=2592000; Secure; SameSite=Lax"),
                 ("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; "
                                             "script-src 'self'; frame-ancestors 'none'"),
                 ("Strict-Transport-Security", "max-age=63072000; includeSubDomains"),
                 ("Trailer", "Server-Timing")],
                split_stream(html_page(), [1460, 4096, 2803, 8192, 611]),
                [("Server-Timing", "db;dur=12.4;desc=\"catalogue query\", render;dur=23.1, total;dur=37.9")]))
    # 2-6. Static assets, some revalidated.
    add(head(*chrome_asset("/static/css/main.4f2a9c1e.css", "style", "text/css,*/*;q=0.1")),
        with_body("HTTP/1.1 200 OK", nginx("text/css", static_fields(css_etag, css_mod)), CSS))
    add(head(*chrome_asset("/static/js/runtime.7b1d3e02.js", "script", "*/*")),
        with_body("HTTP/1.1 200 OK", nginx("application/javascript", static_fields(js_etag, js_mod)), RUNTIME_JS))
    add(head(*chrome_asset("/static/js/vendor.a81f22c4.js", "script", "*/*", '"65e6f1a2-2f1c4"',
                           "Mon, 04 Mar 2024 16:20:18 GMT")),
        head("HTTP/1.1 304 Not Modified", nginx(None, [("Last-Modified", "Mon, 04 Mar 2024 16:20:18 GMT"),
                                                        ("ETag", '"65e6f1a2-2f1c4"'),
                                                        ("Cache-Control", "public, max-age=31536000, immutable")])))
    add(head(*chrome_asset("/static/img/logo.svg", "image",
                           "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8")),
        with_body("HTTP/1.1 200 OK",
                  nginx("image/svg+xml", static_fields(svg_etag, "Fri, 12 Jan 2024 09:41:21 GMT", "604800")),
                  LOGO_SVG))
    add(head(*chrome_asset("/static/js/app.9c4e1177.js", "script", "*/*", '"65e6f1a2-1b0e9"',
                           "Mon, 04 Mar 2024 16:20:18 GMT")),
        head("HTTP/1.1 304 Not Modified", nginx(None, [("Last-Modified", "Mon, 04 Mar 2024 16:20:18 GMT"),
                                                        ("ETag", '"65e6f1a2-1b0e9"'),
                                                        ("Cache-Control", "public, max-age=31536000, immutable")])))
    # 7-13. The page's API calls.
    add(head(*chrome_fetch("GET", "/api/v1/session", "/c/books?sort=popular")),
        with_body("HTTP/1.1 200 OK", api(extra=[("ETag", 'W/"8c-Hq2nW0b7mJ9yT1zv"')]),
                  compact({"authenticated": False, "customer_id": None, "cart_items": 3, "locale": "en-GB",
                           "currency": "EUR", "features": ["new-checkout", "reviews-v2"]})))
    add(head(*chrome_fetch("GET", "/api/v1/products?category=books&sort=popular&page=1&per_page=12",
                           "/c/books?sort=popular")),
        with_body("HTTP/1.1 200 OK", api(extra=[("ETag", 'W/"%x-p1"' % 4021), ("X-Total-Count", "214"),
                                                ("Link", "</api/v1/products?category=books&sort=popular&page=2"
                                                         "&per_page=12>; rel=\"next\"")]),
                  compact({"items": [product(i) for i in range(12)], "page": 1, "per_page": 12, "total": 214})))
    add(head("OPTIONS /api/v1/cart/items HTTP/1.1",
             [("Host", "api.example.com"), ("Connection", "keep-alive"), ("Accept", "*/*"),
              ("Access-Control-Request-Method", "POST"),
              ("Access-Control-Request-Headers", "content-type,x-csrf-token"), ("Origin", ORIGIN),
              ("User-Agent", CHROME_UA), ("Sec-Fetch-Mode", "cors"), ("Sec-Fetch-Site", "same-site"),
              ("Sec-Fetch-Dest", "empty"), ("Referer", ORIGIN + "/"), ("Accept-Encoding", "gzip, deflate, br"),
              ("Accept-Language", "en-GB,en-US;q=0.9,en;q=0.8,de;q=0.7")]),
        head("HTTP/1.1 204 No Content",
             [("Server", "nginx/1.24.0"), ("Date", http_date()), ("Connection", "keep-alive"),
              ("X-Powered-By", "Express"), ("Access-Control-Allow-Origin", ORIGIN),
              ("Vary", "Origin, Access-Control-Request-Headers"), ("Access-Control-Allow-Credentials", "true"),
              ("Access-Control-Allow-Methods", "GET,HEAD,PUT,PATCH,POST,DELETE"),
              ("Access-Control-Allow-Headers", "content-type,x-csrf-token"), ("Access-Control-Max-Age", "600")]))
    body = compact({"sku": "BK-1111", "qty": 1, "source": "catalogue-card"})
    add(with_body(*chrome_fetch("POST", "/api/v1/cart/items", "/c/books?sort=popular",
                                "application/json", origin=True), body),
        with_body("HTTP/1.1 201 Created", api(extra=[("Location", "/api/v1/cart/items/ci_8814")]),
                  compact({"id": "ci_8814", "sku": "BK-1111", "qty": 1, "cart_items": 4})))
    add(head(*chrome_fetch("GET", "/api/v1/cart", "/cart")),
        with_body("HTTP/1.1 200 OK", api(extra=[("ETag", 'W/"3f1-c4"')]), compact(cart(4))))
    add(with_body(*chrome_fetch("PUT", "/api/v1/cart/items/ci_8812", "/cart", "application/json", origin=True),
                  compact({"qty": 2})),
        with_body("HTTP/1.1 200 OK", api(), compact({"id": "ci_8812", "sku": "BK-1111", "qty": 2})))
    add(head(*chrome_fetch("DELETE", "/api/v1/cart/items/ci_8813", "/cart", origin=True)),
        head("HTTP/1.1 204 No Content", api(content_type=None)))
    # 14-17. Login: form POST, redirect, the account page (chunked, no trailer), a revalidated font.
    form = "email=jane.doe%40example.org&password=correct+horse+battery+staple&remember=on&_csrf=" + CSRF
    add(with_body(*chrome_fetch("POST", "/account/login", "/account/login", "application/x-www-form-urlencoded",
                                origin=True), form),
        with_body("HTTP/1.1 302 Found",
                  api(content_type="text/plain; charset=utf-8",
                      extra=[("Location", "/account"),
                             ("Set-Cookie", "session=s%3A1b7e4c9d0a2f4e6b8c1d3e5f7a9b0c2d.Qm8Ws1Kp0aZy4Ld7Rt2u; "
                                            "Path=/; Expires=Tue, 19 Mar 2024 10:15:40 GMT; HttpOnly; Secure; "
                                            "SameSite=Lax"),
                             ("Set-Cookie", "remember=1; Path=/; Max-Age=2592000; Secure; SameSite=Lax")]),
                  "Found. Redirecting to /account"))
    account = ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Your account | Example "
               "Shop</title><link rel=\"stylesheet\" href=\"/static/css/main.4f2a9c1e.css\"></head><body>\n"
               "<main class=\"account\"><h1>Hello, Jane</h1>\n<section class=\"orders\"><h2>Recent orders</h2><ul>\n"
               + "".join("<li><a href=\"/account/orders/o-%d\">Order o-%d</a> &middot; %d item(s) &middot; "
                         "&euro;%.2f &middot; <span class=\"status %s\">%s</span></li>\n"
                         % (77000 + 13 * k, 77000 + 13 * k, 1 + k % 3, 24.5 + 11.25 * k, s, s)
                         for k, s in enumerate(["delivered", "delivered", "shipped", "processing"] * 3))
               + "</ul></section>\n</main></body></html>\n")
    add(head(*chrome_navigate("/account", ORIGIN + "/account/login", "same-origin")),
        chunked("HTTP/1.1 200 OK",
                [("Server", "nginx/1.24.0"), ("Date", http_date()), ("Content-Type", "text/html; charset=utf-8"),
                 ("Connection", "keep-alive"), ("Vary", "Accept-Encoding"), ("X-Powered-By", "Express"),
                 ("X-Request-Id", request_id()), ("Cache-Control", "private, no-store")],
                split_stream(account, [1024, 977])))
    add(head(*chrome_asset("/static/fonts/inter-var.5c1f0a.woff2", "font", "*/*", '"65a0c4d1-4b2f8"')),
        head("HTTP/1.1 304 Not Modified", nginx(None, [("ETag", '"65a0c4d1-4b2f8"'),
                                                        ("Cache-Control", "public, max-age=31536000, immutable"),
                                                        ("Access-Control-Allow-Origin", "*")])))
    add(head(*chrome_fetch("GET", "/api/v1/recommendations?for=c-10293&limit=6", "/account")),
        with_body("HTTP/1.1 200 OK", api(), compact({"items": [product(i) for i in (3, 7, 11, 2, 9, 13)],
                                                     "model": "als-2024-02-28", "experiment": "recs-b"})))
    # 19-21. An order.
    order = {"cart_id": "cart_5f1c0b", "shipping_address": {"name": "Jane Doe", "line1": "Lindenstra\u00dfe 12",
                                                           "postal_code": "10969", "city": "Berlin", "country": "DE"},
             "payment_method": "pm_1OqZ3kLx9", "accept_terms": True}
    add(with_body(*chrome_fetch("POST", "/api/v2/orders", "/checkout", "application/json", origin=True,
                                extra=[("Idempotency-Key", "5a0c3e6f-21d4-4b7a-9e8f-0c6a1d2b3e4f")]),
                  compact(order)),
        with_body("HTTP/1.1 201 Created", api(extra=[("Location", "/api/v2/orders/o-77120")]),
                  compact({"order_id": "o-77120", "status": "accepted", "total": {"amount": 71.4, "currency": "EUR"},
                           "estimated_delivery": "2024-03-08"})))
    add(head(*chrome_fetch("GET", "/api/v2/orders/o-77120", "/checkout/done")),
        with_body("HTTP/1.1 200 OK", api(extra=[("ETag", 'W/"1d2-o77120-1"')]),
                  compact({"order_id": "o-77120", "status": "accepted", "items": cart(4)["items"],
                           "created_at": "2024-03-05T10:15:31Z", "events": [
                               {"at": "2024-03-05T10:15:31Z", "type": "created"},
                               {"at": "2024-03-05T10:15:32Z", "type": "payment_authorized"}]})))
    add(head(*chrome_fetch("GET", "/api/v2/orders/o-77120", "/checkout/done",
                           extra=[("If-None-Match", 'W/"1d2-o77120-1"')])),
        head("HTTP/1.1 304 Not Modified", api(content_type=None, extra=[("ETag", 'W/"1d2-o77120-1"')])))
    # 22+. Service-to-service traffic on the same listener.
    add(head("GET /healthz HTTP/1.1", [("Host", "10.42.3.17:8080"), ("User-Agent", "kube-probe/1.28"),
                                       ("Accept", "*/*"), ("Connection", "keep-alive")]),
        with_body("HTTP/1.1 200 OK", [("Content-Type", "text/plain; charset=utf-8"), ("Date", http_date()),
                                      ("Connection", "keep-alive"), ("Keep-Alive", "timeout=5")], "ok"))
    add(head("GET /metrics HTTP/1.1",
             [("Host", "10.42.3.17:9464"), ("User-Agent", "Prometheus/2.48.1"),
              ("Accept", "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
                         "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"),
              ("Accept-Encoding", "gzip"), ("X-Prometheus-Scrape-Timeout-Seconds", "10")]),
        with_body("HTTP/1.1 200 OK", [("Content-Type", "text/plain; version=0.0.4; charset=utf-8"),
                                      ("Date", http_date()), ("Connection", "keep-alive"),
                                      ("Keep-Alive", "timeout=5")], METRICS))
    payment = compact({"amount": 7140, "currency": "eur", "customer": "cus_PfY2kq8Xr", "capture_method": "manual",
                       "metadata": {"order_id": "o-77120", "cart_id": "cart_5f1c0b"}})
    add(with_body("POST /v1/payment_intents HTTP/1.1",
                  [("Host", "payments.internal.example.com"), ("User-Agent", "python-requests/2.31.0"),
                   ("Accept-Encoding", "gzip, deflate"), ("Accept", "*/*"), ("Connection", "keep-alive"),
                   ("Authorization", "Bearer sk_test_51NzQ2cExampleOnlyNotARealKey0000"),
                   ("Idempotency-Key", "o-77120-auth-1"), ("Content-Type", "application/json")], payment),
        with_body("HTTP/1.1 201 Created",
                  [("Date", http_date()), ("Content-Type", "application/json"), ("Connection", "keep-alive"),
                   ("Request-Id", "req_4Kq9ZtY2mB7xW1"), ("Idempotency-Key", "o-77120-auth-1"),
                   ("Strict-Transport-Security", "max-age=63072000; includeSubDomains; preload")],
                  compact({"id": "pi_3OqZ4bLx9kR2", "object": "payment_intent", "amount": 7140, "currency": "eur",
                           "status": "requires_capture", "capture_method": "manual", "customer": "cus_PfY2kq8Xr",
                           "created": 1709633732, "livemode": False,
                           "metadata": {"order_id": "o-77120", "cart_id": "cart_5f1c0b"}})))
    csv = "date,sku,units,revenue_eur\n" + "".join(
        "2024-03-%02d,%s,%d,%.2f\n" % (1 + k % 4, product(k)["id"], 3 + k % 17, (3 + k % 17) * product(k)["price"]["amount"])
        for k in range(120))
    add(chunked("PUT /uploads/reports/sales-2024-03.csv HTTP/1.1",
                [("Host", "files.internal.example.com"), ("User-Agent", "Go-http-client/1.1"),
                 ("Authorization", "Bearer eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJyZXBvcnRlciJ9.bm90LWEtc2lnbmF0dXJl"),
                 ("Content-Type", "text/csv"), ("Expect", "100-continue"), ("Accept-Encoding", "gzip")],
                split_stream(csv, [4096, 1317])),
        head("HTTP/1.1 100 Continue", []),
        with_body("HTTP/1.1 201 Created",
                  [("Content-Type", "application/json"), ("Etag", '"a4f1c2d9e8b7"'),
                   ("Location", "/uploads/reports/sales-2024-03.csv"), ("Date", http_date())],
                  compact({"key": "reports/sales-2024-03.csv", "size": len(csv), "etag": "a4f1c2d9e8b7"}) + "\n"))
    add(head("GET /api/v1/inventory/BK-1111 HTTP/1.1",
             [("Host", "inventory.internal.example.com"), ("Accept", "application/json"),
              ("X-Request-Id", request_id()), ("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
              ("Connection", "Keep-Alive"), ("Accept-Encoding", "gzip"), ("User-Agent", "okhttp/4.12.0")]),
        with_body("HTTP/1.1 200 OK", [("Content-Type", "application/json"), ("Date", http_date()),
                                      ("Connection", "keep-alive"), ("Keep-Alive", "timeout=5")],
                  compact({"sku": "BK-1111", "warehouses": [{"id": "BER-1", "available": 41, "reserved": 3},
                                                            {"id": "HAM-2", "available": 0, "reserved": 0},
                                                            {"id": "MUC-1", "available": 12, "reserved": 1}],
                           "updated_at": "2024-03-05T10:15:33Z"})))
    add(with_body(*chrome_fetch("PATCH", "/api/v1/users/me", "/account/settings", "application/merge-patch+json",
                                origin=True),
                  compact({"newsletter": False, "locale": "de-DE", "marketing": {"email": False, "sms": False}})),
        with_body("HTTP/1.1 200 OK", api(), compact({"id": "u-5521", "email": "jane.doe@example.org",
                                                     "name": "Jane Doe", "newsletter": False, "locale": "de-DE",
                                                     "marketing": {"email": False, "sms": False},
                                                     "updated_at": "2024-03-05T10:15:35Z"})))
    search = compact({"query": "distributed systems", "took_ms": 14,
                      "hits": [dict(product(i), score=round(9.5 - i * 0.37, 2)) for i in range(20)]})
    add(head(*chrome_fetch("GET", "/api/v1/search?q=distributed+systems&limit=20", "/search?q=distributed+systems")),
        chunked("HTTP/1.1 200 OK", api(), split_stream(search, [2048, 2048, 517])))
    add(head(*chrome_fetch("GET", "/api/v1/products/BK-1111/reviews?page=2&per_page=5", "/p/designing-data")),
        with_body("HTTP/1.1 200 OK", api(extra=[("X-Total-Count", "87")]),
                  compact({"page": 2, "per_page": 5, "items": [
                      {"id": "rv_%d" % (5000 + k), "rating": 5 - k % 3, "author": "reader%d" % (k * 17),
                       "title": ["Essential reading", "Dense but rewarding", "Good overview", "A classic",
                                 "Worth it"][k],
                       "body": "Chapter %d alone was worth the price. " % (k + 3) * (2 + k),
                       "created_at": "2024-02-%02dT0%d:12:00Z" % (10 + k, k)} for k in range(5)]})))
    gql = compact({"operationName": "ProductPage", "variables": {"slug": "designing-data-intensive-applications"},
                   "query": "query ProductPage($slug: String!) { product(slug: $slug) { id title price { amount "
                            "currency } rating { average count } related(limit: 4) { id title } } }"})
    add(with_body(*chrome_fetch("POST", "/graphql", "/p/designing-data", "application/json", origin=True), gql),
        with_body("HTTP/1.1 200 OK", api(),
                  compact({"data": {"product": {"id": "BK-1000", "title": BOOKS[0],
                                                "price": {"amount": 19.9, "currency": "EUR"},
                                                "rating": {"average": 3.6, "count": 40},
                                                "related": [{"id": product(i)["id"], "title": product(i)["title"]}
                                                            for i in (1, 5, 6, 12)]}}})))
    add(head("GET /robots.txt HTTP/1.1", [("Host", HOST), ("Connection", "keep-alive"),
                                          ("User-Agent", "Mozilla/5.0 (compatible; Googlebot/2.1; "
                                                         "+http://www.google.com/bot.html)"),
                                          ("Accept", "text/plain,text/html,*/*"), ("Accept-Encoding", "gzip, deflate, br"),
                                          ("From", "googlebot(at)googlebot.com")]),
        with_body("HTTP/1.1 200 OK", nginx("text/plain", static_fields('"65a0c4d1-a5"', "Fri, 12 Jan 2024 09:41:21 "
                                                                       "GMT", "86400")), ROBOTS))
    add(head("GET /sitemap.xml HTTP/1.1", [("Host", HOST), ("Connection", "keep-alive"),
                                           ("User-Agent", "Mozilla/5.0 (compatible; Googlebot/2.1; "
                                                          "+http://www.google.com/bot.html)"),
                                           ("Accept", "text/plain,text/html,*/*"),
                                           ("Accept-Encoding", "gzip, deflate, br"), ("From", "googlebot(at)googlebot.com")]),
        with_body("HTTP/1.1 301 Moved Permanently", nginx("text/html", [("Location", ORIGIN + "/sitemap-index.xml")]),
                  MOVED))
    add(head("GET /wp-login.php HTTP/1.1", [("Host", "203.0.113.10"), ("User-Agent", "Mozilla/5.0 (X11; Linux x86_64; "
                                                                                      "rv:109.0) Gecko/20100101 "
                                                                                      "Firefox/115.0"),
                                            ("Accept", "*/*"), ("Connection", "keep-alive")]),
        with_body("HTTP/1.1 404 Not Found", nginx("text/html"), NOT_FOUND))
    add(head(*chrome_fetch("GET", "/api/v1/flags", "/", extra=[("If-None-Match", 'W/"2b-f19"')])),
        head("HTTP/1.1 304 Not Modified", api(content_type=None, extra=[("ETag", 'W/"2b-f19"')])))
    beacon = compact({"events": [{"t": "view_item", "sku": "BK-1111", "ts": 1709633721000 + 850 * k,
                                  "session": "8f14e45f", "page": "/p/designing-data"} for k in range(6)]})
    add(with_body(*chrome_fetch("POST", "/api/v1/events", "/p/designing-data", "text/plain;charset=UTF-8",
                                origin=True), beacon),
        head("HTTP/1.1 202 Accepted", api(content_type=None, extra=[("Content-Length", "0")])))
    add(head(*chrome_fetch("GET", "/api/v1/cart", "/cart")),
        with_body("HTTP/1.1 200 OK", api(extra=[("ETag", 'W/"2a7-c3"')]), compact(cart(3))))
    add(with_body(*chrome_fetch("POST", "/api/v1/checkout", "/checkout", "application/json", origin=True),
                  compact({"cart_id": "cart_5f1c0b", "shipping_method": "express", "coupon": "SPRING24"})),
        with_body("HTTP/1.1 422 Unprocessable Entity", api(content_type="application/problem+json; charset=utf-8"),
                  compact({"type": "https://shop.example.com/problems/invalid-coupon", "title": "Coupon not valid",
                           "status": 422, "detail": "SPRING24 starts on 2024-03-20.",
                           "instance": "/api/v1/checkout", "errors": [{"field": "coupon", "code": "not_yet_valid"}]})))
    add(head(*chrome_fetch("GET", "/api/v1/products?category=books&sort=popular&page=2&per_page=12",
                           "/c/books?sort=popular&page=2")),
        with_body("HTTP/1.1 429 Too Many Requests",
                  api(extra=[("Retry-After", "2"), ("RateLimit-Limit", "120"), ("RateLimit-Remaining", "0"),
                             ("RateLimit-Reset", "2")]),
                  compact({"error": "rate_limited", "message": "Too many requests, retry in 2 s."})))
    add(head(*chrome_fetch("GET", "/api/v1/products?category=books&sort=popular&page=2&per_page=12",
                           "/c/books?sort=popular&page=2")),
        with_body("HTTP/1.1 200 OK", api(extra=[("X-Total-Count", "214")]),
                  compact({"items": [product(i) for i in range(12, 24)], "page": 2, "per_page": 12, "total": 214})))
    add(head("GET /api/v1/reports/daily?date=2024-03-04 HTTP/1.1",
             [("Host", "reports.internal.example.com"), ("User-Agent", "curl/7.88.1"), ("Accept", "*/*"),
              ("Authorization", "Basic cmVwb3J0czpub3QtYS1yZWFsLXBhc3N3b3Jk")]),
        with_body("HTTP/1.1 503 Service Unavailable",
                  [("Server", "nginx/1.24.0"), ("Date", http_date()), ("Content-Type", "text/plain"),
                   ("Connection", "keep-alive"), ("Retry-After", "30")],
                  "report generation in progress, retry later\n"))
    add(with_body(*chrome_fetch("POST", "/api/v1/cart/items", "/p/designing-data", "application/json", origin=True),
                  compact({"sku": "BK-1222", "qty": 1, "source": "recommendations"})),
        with_body("HTTP/1.1 201 Created", api(extra=[("Location", "/api/v1/cart/items/ci_8815")]),
                  compact({"id": "ci_8815", "sku": "BK-1222", "qty": 1, "cart_items": 4})))
    add(head(*chrome_fetch("GET", "/api/v1/notifications?since=2024-03-05T10%3A00%3A00Z", "/account")),
        with_body("HTTP/1.1 200 OK", api(), compact({"items": [], "next_poll_ms": 30000})))
    add(head("GET /healthz HTTP/1.1", [("Host", "10.42.3.17:8080"), ("User-Agent", "kube-probe/1.28"),
                                       ("Accept", "*/*"), ("Connection", "keep-alive")]),
        with_body("HTTP/1.1 200 OK", [("Content-Type", "text/plain; charset=utf-8"), ("Date", http_date()),
                                      ("Connection", "keep-alive"), ("Keep-Alive", "timeout=5")], "ok"))
    return ex


def main():
    ex = build()
    requests = b"".join(r for r, _ in ex)
    responses = b"".join(b"".join(rs) for _, rs in ex)
    for name, data in (("requests.http", requests), ("responses.http", responses)):
        with open(os.path.join(HERE, name), "wb") as f:
            f.write(data)
    print("requests.http: %d messages, %d bytes; responses.http: %d messages, %d bytes"
          % (len(ex), len(requests), sum(len(rs) for _, rs in ex), len(responses)))


if __name__ == "__main__":
    main()
