#!/usr/bin/env python3
"""Screenshots of Outpost pages at phone and desktop widths, for looking at what we build.

Usage: scripts/screenshots.py BASE_URL OUTDIR USERNAME PASSWORD PATH...
Drives Debian's chromium through chromedriver over plain WebDriver (standard library only).
"""
import base64, json, os, socket, subprocess, sys, tempfile, time, urllib.request

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

def call(base, method, path, body=None):
    req = urllib.request.Request(base + path, method=method, data=None if body is None else json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read() or b"{}").get("value")

def main():
    base_url, outdir, user, pw, *paths = sys.argv[1:]
    os.makedirs(outdir, exist_ok=True)
    port = free_port()
    driver = subprocess.Popen(["chromedriver", f"--port={port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wd = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(wd + "/status", timeout=1); break
        except Exception:
            time.sleep(0.1)
    args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--hide-scrollbars", f"--user-data-dir={tempfile.mkdtemp()}"]
    session = call(wd, "POST", "/session", {"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {"binary": "/usr/bin/chromium", "args": args}}}})["sessionId"]
    s = f"/session/{session}"
    try:
        call(wd, "POST", s + "/url", {"url": base_url + "/login"})
        call(wd, "POST", s + "/execute/sync", {"script": "document.getElementById('username').value=arguments[0];document.getElementById('password').value=arguments[1];document.querySelector('form.stack').submit();", "args": [user, pw]})
        time.sleep(1.5)
        for path in paths:
            for name, (w, h) in {"phone": (390, 844), "desktop": (1280, 900)}.items():
                call(wd, "POST", s + "/window/rect", {"width": w, "height": h})
                call(wd, "POST", s + "/url", {"url": base_url + path})
                time.sleep(0.4)
                # The whole page (up to 3,000 px), not only the window: what is below matters too.
                size = call(wd, "POST", s + "/goog/cdp/execute", {"cmd": "Page.getLayoutMetrics", "params": {}})["cssContentSize"]
                clip = {"x": 0, "y": 0, "width": w, "height": min(size["height"], 3000), "scale": 1}
                png = call(wd, "POST", s + "/goog/cdp/execute", {"cmd": "Page.captureScreenshot", "params": {"format": "png", "captureBeyondViewport": True, "clip": clip}})["data"]
                fname = os.path.join(outdir, f"{path.strip('/').replace('/', '_') or 'home'}-{name}.png")
                open(fname, "wb").write(base64.b64decode(png))
                print(fname)
    finally:
        call(wd, "DELETE", s)
        driver.terminate()

if __name__ == "__main__":
    main()
