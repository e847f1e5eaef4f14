"""Headless Chromium driven over `--remote-debugging-pipe`: the DevTools
protocol as NUL-terminated JSON on file descriptors 3 (commands in) and 4
(answers out). Enough to load a page, run JavaScript in it and wait for a
condition, with no driver to install."""
import json
import os
import shutil
import subprocess
import time

CHROMIUM = shutil.which("chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


class Browser:
    def __init__(self, profile):
        assert CHROMIUM, "chromium is not installed: run scripts/setup-test-deps"
        commands_in, commands = os.pipe()
        answers, answers_out = os.pipe()

        def on_fds_3_and_4():
            # Copied aside first: a pipe end may itself be descriptor 3 or 4.
            a, b = os.dup(commands_in), os.dup(answers_out)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.proc = subprocess.Popen(
            [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "--remote-debugging-pipe", "about:blank"],
            pass_fds=(commands_in, answers_out, 3, 4), preexec_fn=on_fds_3_and_4,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(commands_in)
        os.close(answers_out)
        self.commands = os.fdopen(commands, "wb", buffering=0)
        self.answers = os.fdopen(answers, "rb", buffering=0)
        self.pending = b""
        self.last = 0
        target = self.send("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]

    def send(self, method, session=None, **params):
        self.last += 1
        message = {"id": self.last, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        self.commands.write(json.dumps(message).encode() + b"\0")
        while True:  # events come in between; skip to this command's answer
            while b"\0" not in self.pending:
                chunk = self.answers.read(65536)
                assert chunk, "chromium closed its DevTools pipe"
                self.pending += chunk
            raw, self.pending = self.pending.split(b"\0", 1)
            answer = json.loads(raw)
            if answer.get("id") == self.last:
                assert "error" not in answer, answer
                return answer["result"]

    def goto(self, url):
        self.send("Page.navigate", self.session, url=url)

    def eval(self, expression):
        """The value of a JavaScript expression in the page (promises awaited)."""
        r = self.send("Runtime.evaluate", self.session, expression=expression,
                      awaitPromise=True, returnByValue=True)
        assert "exceptionDetails" not in r, r["exceptionDetails"]
        return r["result"].get("value")

    def until(self, expression, timeout=20):
        """Waits for `expression` to be truthy (a page loading in between is fine)."""
        deadline = time.time() + timeout
        while True:
            try:
                value = self.eval(expression)
                if value:
                    return value
            except AssertionError:
                pass  # the page went away mid-evaluation: a navigation
            assert time.time() < deadline, f"timed out waiting for: {expression}"
            time.sleep(0.1)

    def close(self):
        try:
            self.send("Browser.close")
        except (AssertionError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
