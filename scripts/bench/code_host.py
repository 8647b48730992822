"""Serves code packages from an emulator's S3 the way S3 serves a pre-signed URL: it forwards
GETs to the emulator with an S3 credential scope (moto routes requests by it and answers an
unsigned GET with 403). Point LOPS_CODE_DOWNLOAD_BASE at http://127.0.0.1:PORT/BUCKET.

Usage: code_host.py PORT UPSTREAM
"""
import http.server
import sys
import urllib.request

UPSTREAM = sys.argv[2].rstrip("/")
AUTH = "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0"


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        req = urllib.request.Request(UPSTREAM + self.path, headers={"Authorization": AUTH})
        try:
            with urllib.request.urlopen(req) as r:
                body = r.read()
                self.send_response(r.status)
        except urllib.error.HTTPError as e:
            body = e.read()
            self.send_response(e.code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_):
        pass


http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
