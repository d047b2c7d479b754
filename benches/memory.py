"""How much memory mindgate keeps after large provider answers.

Usage: python3 benches/memory.py [BINARY] [MINDGATE FLAGS...]
(BINARY defaults to target/release/mindgate; build it first.)

Starts a mock OpenAI provider on 127.0.0.1 and mindgate on a fresh database,
then prints mindgate's resident memory (VmRSS) when idle, after five whole
answers of 20 MB, and after a stream whose one event is 300 MB with no blank
line (mindgate cuts it at --max-event-bytes). Each figure is taken 3 s after
the last answer, when the server idles again.
"""
import http.server
import json
import os
import socket
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

ANSWER = 20_000_000
HUGE_EVENT = 300_000_000
streamed = [0]


class Provider(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        request = json.loads(self.rfile.read(int(self.headers["content-length"])))
        if request.get("stream"):
            self.huge_event()
            return
        body = json.dumps({
            "id": "chatcmpl-memory", "object": "chat.completion", "created": 1, "model": "m",
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": "y" * ANSWER}}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1},
        }).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def huge_event(self):
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()

        def chunk(data):
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

        block = b"x" * (1 << 20)
        try:
            chunk(b"data: ")
            while streamed[0] < HUGE_EVENT:
                chunk(block)
                streamed[0] += len(block)
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.close_connection = True


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else "target/release/mindgate"
    provider = Server(("127.0.0.1", 0), Provider)
    threading.Thread(target=provider.serve_forever, daemon=True).start()
    db = os.path.join(tempfile.mkdtemp(), "memory.db")
    env = dict(os.environ, RUST_LOG="error",
               OPENAI_BASE_URL="http://127.0.0.1:%d/v1" % provider.server_address[1],
               OPENAI_API_KEY="sk-memory-bench-0123456789")
    key = subprocess.check_output([binary, "keys", "create", "--name", "memory", "--db", db],
                                  env=env, stderr=subprocess.DEVNULL).decode().strip()
    base = "http://127.0.0.1:%d" % free_port()
    server = subprocess.Popen([binary, "--listen", base[7:], "--db", db] + sys.argv[2:], env=env)
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/healthz")
                break
            except OSError:
                time.sleep(0.1)

        def memory(what):
            time.sleep(3)
            status = dict(line.split(":", 1) for line in open("/proc/%d/status" % server.pid))
            mib = lambda field: int(status[field].split()[0]) // 1024
            print("%-30s %4d MiB (peak so far %d MiB)" % (what, mib("VmRSS"), mib("VmHWM")))

        def chat(stream):
            body = json.dumps({"model": "gpt-4o", "stream": stream,
                               "messages": [{"role": "user", "content": "Hi"}]}).encode()
            request = urllib.request.Request(base + "/api/v1/chat/completions", body,
                                             {"X-API-KEY": key, "content-type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=120) as response:
                    return response.status, response.read()
            except urllib.error.HTTPError as error:
                return error.code, error.read()

        memory("idle")
        for _ in range(5):
            status, body = chat(False)
            assert status == 200 and len(body) > ANSWER, (status, body[:200])
        memory("after 5 x 20 MB answers")
        status, body = chat(True)
        print("  the 300 MB event: status %d, provider sent %d MB, client got %r"
              % (status, streamed[0] // 1_000_000, body[-160:]))
        memory("after the 300 MB event")
    finally:
        server.terminate()
        server.wait()


main()
