// Starts `dsv3 serve` on the bundled tiny model (random weights: tests check
// shapes, counts, determinism and stop behaviour, never particular text).
import { spawn } from "node:child_process";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
export const root = path.resolve(here, "../..");
export const binary = process.env.DSV3_BINARY || path.join(root, "build/dsv3");
export const tinyModel = path.join(root, "tests/data/reference/models/tiny");

// Resolves to {url, port, proc, stderr(), stop()} once the server prints its address.
export function startServer(extraArgs = [], { model = tinyModel } = {}) {
  const args = ["serve", "--model", model, "--port", "0", "--threads", "2", ...extraArgs];
  const proc = spawn(binary, args, { stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  let exited = null;
  const exit = new Promise((resolve) => proc.on("exit", (code, signal) => { exited = { code, signal }; resolve(exited); }));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { proc.kill("SIGKILL"); reject(new Error("server did not start:\n" + err)); }, 60000);
    proc.stderr.on("data", (d) => {
      err += d.toString();
      const m = err.match(/listening on http:\/\/([^\s]+):(\d+)/);
      if (m && timer) {
        clearTimeout(timer);
        const port = Number(m[2]);
        resolve({
          url: `http://127.0.0.1:${port}`,
          port,
          proc,
          exit,
          stderr: () => err,
          async stop(signal = "SIGTERM") {
            if (exited) return exited;
            proc.kill(signal);
            const t = setTimeout(() => proc.kill("SIGKILL"), 20000);
            const r = await exit;
            clearTimeout(t);
            return r;
          },
        });
      }
    });
    proc.on("exit", (code) => { clearTimeout(timer); reject(new Error(`server exited with ${code}:\n${err}`)); });
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// How long any wait for a state may take (DSV3_TEST_DEADLINE_S, as in the C++
// tests' support/test_env.h; default 120 s): tests wait for states, never for
// a fixed time.
export const deadlineMs = (() => {
  const v = process.env.DSV3_TEST_DEADLINE_S;
  if (v === undefined || v === "") return 120000;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`DSV3_TEST_DEADLINE_S must be a positive integer, got '${v}'`);
  return n * 1000;
})();

// Polls the (possibly async) predicate until it returns a truthy value, which
// it resolves to; throws, naming `what`, once the deadline passes.
export async function waitFor(pred, what, { ms = deadlineMs, every = 10 } = {}) {
  const until = Date.now() + ms;
  for (;;) {
    const v = await pred();
    if (v) return v;
    if (Date.now() >= until) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(every);
  }
}

// Sends raw bytes and collects whatever comes back until the server closes or `ms` pass.
export function rawRequest(port, chunks, { ms = 3000, endAfter = false } = {}) {
  return new Promise((resolve) => {
    const sock = net.connect(port, "127.0.0.1");
    let out = "";
    const done = () => { clearTimeout(t); sock.destroy(); resolve(out); };
    const t = setTimeout(done, ms);
    sock.on("data", (d) => { out += d.toString("latin1"); });
    sock.on("close", done);
    sock.on("error", done);
    sock.on("connect", async () => {
      for (const c of chunks) {
        if (sock.destroyed) break;
        sock.write(c);
        await sleep(10);
      }
      if (endAfter) sock.end();
    });
  });
}

// Parses an SSE body into the JSON of its events; checks the framing on the way.
export function parseSse(text) {
  const events = [];
  let done = false;
  for (const block of text.split("\n\n")) {
    if (block === "") continue;
    if (done) throw new Error("data after [DONE]: " + block);
    if (!block.startsWith("data: ")) throw new Error("bad SSE block: " + JSON.stringify(block));
    const data = block.slice(6);
    if (data === "[DONE]") { done = true; continue; }
    events.push(JSON.parse(data));
  }
  if (!text.endsWith("\n\n")) throw new Error("stream does not end with a blank line");
  return { events, done };
}

export async function metric(url, line) {
  const text = await (await fetch(url + "/metrics")).text();
  const m = text.split("\n").find((l) => l.startsWith(line + " "));
  return m === undefined ? 0 : Number(m.slice(line.length + 1));
}
