// Starts `dsv3 serve` on the bundled tiny model (random weights: tests check
// shapes, counts, determinism and stop behaviour, never particular text).
import { execFile, spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
export const root = path.resolve(here, "../..");
export const binary = process.env.DSV3_BINARY || path.join(root, "build/dsv3");
export const tinyModel = path.join(root, "tests/data/reference/models/tiny");

// A positive integer from the environment (the settings of support/test_env.h).
function positiveSetting(name, fallback) {
  const v = process.env[name];
  if (v === undefined || v === "") return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer, got '${v}'`);
  return n;
}

// Threads of every dsv3 the tests start (DSV3_TEST_THREADS, default 2).
export const testThreads = positiveSetting("DSV3_TEST_THREADS", 2);

// Resolves to {url, port, proc, stderr(), stop()} once the server prints its
// address. ranks > 0: under `mpirun -np ranks` (one thread per rank).
export function startServer(extraArgs = [], { model = tinyModel, ranks = 0 } = {}) {
  const threads = ranks > 0 ? 1 : testThreads;
  const args = ["serve", "--model", model, "--port", "0", "--threads", threads, ...extraArgs].map(String);
  const proc = ranks > 0
    ? spawn("mpirun", ["--oversubscribe", "-np", String(ranks), binary, ...args],
            { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, ...mpiEnv } })
    : spawn(binary, args, { stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  let exited = null;
  const exit = new Promise((resolve) => proc.on("exit", (code, signal) => { exited = { code, signal }; resolve(exited); }));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { proc.kill("SIGKILL"); reject(new Error("server did not start:\n" + err)); }, deadlineMs);
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
            const t = setTimeout(() => proc.kill("SIGKILL"), deadlineMs);
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

// OpenMPI refuses to run as root (CI containers) unless told.
export const mpiEnv = { OMPI_ALLOW_RUN_AS_ROOT: "1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: "1" };

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// How long any wait for a state may take (DSV3_TEST_DEADLINE_S, as in the C++
// tests' support/test_env.h; default 120 s): tests wait for states, never for
// a fixed time.
export const deadlineMs = positiveSetting("DSV3_TEST_DEADLINE_S", 120) * 1000;

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

// Sends raw bytes and collects whatever comes back until the server closes the
// connection, or the deadline passes: resolves to {out, closed}, where closed
// says the server (not the deadline) ended it, so a stall shows as closed: false.
export function rawRequest(port, chunks, { ms = deadlineMs, endAfter = false } = {}) {
  return new Promise((resolve) => {
    const sock = net.connect(port, "127.0.0.1");
    let out = "";
    let connected = false, closed = false;
    const done = () => { clearTimeout(t); sock.destroy(); resolve({ out, closed }); };
    const t = setTimeout(done, ms);
    const ended = () => { closed = connected; done(); };
    sock.on("data", (d) => { out += d.toString("latin1"); });
    sock.on("end", ended);
    sock.on("close", ended);
    sock.on("error", ended);  // a reset: the server dropped the connection
    sock.on("connect", async () => {
      connected = true;
      for (const c of chunks) {
        if (sock.destroyed) break;
        sock.write(c);
        await sleep(10);
      }
      if (endAfter && !sock.destroyed) sock.end();
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

// Runs `dsv3 ARGS...` to completion and resolves to its stdout; rejects, with
// its stderr, on a non-zero exit or past the deadline.
export function cli(args) {
  return new Promise((resolve, reject) => {
    execFile(binary, args.map(String), { encoding: "utf8", timeout: deadlineMs, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`dsv3 ${args.join(" ")}: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

// The F32 tensors of a safetensors file: {name: {shape, data: Float32Array}}.
// The format: an 8-byte little-endian header length, a JSON header naming each
// tensor's dtype, shape and byte range, then the data.
export function readSafetensors(file) {
  const buf = fs.readFileSync(file);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString("utf8"));
  const out = {};
  for (const [name, t] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    if (t.dtype !== "F32") throw new Error(`${file}: ${name} is ${t.dtype}, not F32`);
    const [begin, end] = t.data_offsets;
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (end - begin !== 4 * count || 8 + n + end > buf.length) throw new Error(`${file}: ${name} has a bad byte range`);
    const data = new Float32Array(count);
    for (let i = 0; i < count; i++) data[i] = buf.readFloatLE(8 + n + begin + 4 * i);
    out[name] = { shape: t.shape, data };
  }
  return out;
}

// log-softmax of one row of f32 logits, in double.
export function logSoftmax(row) {
  let max = -Infinity;
  for (const v of row) max = Math.max(max, v);
  let sum = 0;
  for (const v of row) sum += Math.exp(v - max);
  const logZ = max + Math.log(sum);
  return Float64Array.from(row, (v) => v - logZ);
}

// The k largest entries of a row, best first: [{id, logprob}].
export function topK(row, k) {
  const top = [];
  for (let i = 0; i < row.length; i++) {
    if (top.length === k && row[i] <= top[k - 1].logprob) continue;
    if (top.length === k) top.pop();
    let at = top.findIndex((t) => row[i] > t.logprob);
    if (at < 0) at = top.length;
    top.splice(at, 0, { id: i, logprob: row[i] });
  }
  return top;
}

// What the model itself says about a greedy continuation of `prompt` (token
// ids), by way of the CLI (no server, no batching): the `n` greedy ids and their
// text (`dsv3 generate`), and at each of them the log-softmax, in double here,
// of the logits `dsv3 logits` writes for the whole sequence.
export async function greedyReference(prompt, n) {
  const model = ["--model", tinyModel, "--threads", testThreads];
  const gen = JSON.parse(await cli(["generate", ...model, "--ids", prompt.join(","), "--max-tokens", n, "--temperature", "0", "--json"]));
  const ids = gen.ids;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dsv3-logits-"));
  try {
    const file = path.join(dir, "logits.safetensors");
    await cli(["logits", ...model, "--ids", [...prompt, ...ids.slice(0, -1)].join(","), "--out", file]);
    const { shape, data } = readSafetensors(file).logits;
    const vocab = shape[1];
    if (shape[0] !== prompt.length + ids.length - 1) throw new Error(`logits of ${shape[0]} positions`);
    const rows = ids.map((_, i) => logSoftmax(data.subarray((prompt.length - 1 + i) * vocab, (prompt.length + i) * vocab)));
    return { ids, text: gen.text, finish: gen.finish_reason, rows };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// The ids `dsv3 serve` gives a chat prompt, by way of the CLI: the model's chat
// template (with the assistant's turn opener), then the tokenizer.
export async function chatPromptIds(messages) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dsv3-chat-"));
  try {
    const m = path.join(dir, "messages.json"), t = path.join(dir, "prompt.txt");
    fs.writeFileSync(m, JSON.stringify(messages));
    fs.writeFileSync(t, await cli(["chat-template", "--model", tinyModel, "--messages", m, "--add-generation-prompt"]));
    return JSON.parse(await cli(["tokenize", "--model", tinyModel, "--file", t, "--json"])).ids;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// The bytes of a token of the tiny model, read here from its tokenizer.json:
// byte-level BPE, where each byte is written as one character (GPT-2's
// alphabet: printable bytes stand for themselves, the rest for U+0100 on), and
// added tokens are their UTF-8 text. Ids that name no token have no bytes.
let vocabBytes = null;
export function tokenBytes(id) {
  if (!vocabBytes) {
    const t = JSON.parse(fs.readFileSync(path.join(tinyModel, "tokenizer.json"), "utf8"));
    const toByte = new Map();
    let shifted = 0;
    for (let b = 0; b < 256; b++) {
      const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
      toByte.set(String.fromCodePoint(printable ? b : 256 + shifted++), b);
    }
    const bytes = new Map();
    for (const a of t.added_tokens) bytes.set(a.id, Buffer.from(a.content, "utf8"));
    for (const [s, i] of Object.entries(t.model.vocab)) {
      if (bytes.has(i)) continue;
      bytes.set(i, Buffer.from([...s].map((c) => {
        if (!toByte.has(c)) throw new Error(`token ${i} (${JSON.stringify(s)}) is not byte-level`);
        return toByte.get(c);
      })));
    }
    vocabBytes = bytes;
  }
  return vocabBytes.get(id) ?? Buffer.alloc(0);
}

// Greedy decoding is well defined only where the best token leads the next by
// more than the numerical noise between two paths (measured: under 1e-5); a
// test on greedy ids checks its prompt has no closer call than `gap`.
export function assertNoNearTie(ref, gap = 1e-3) {
  ref.rows.forEach((row, i) => {
    const [a, b] = topK(row, 2);
    if (a.logprob - b.logprob < gap) throw new Error(`near-tie at greedy step ${i} (gap ${a.logprob - b.logprob}): pick another prompt`);
    if (a.id !== ref.ids[i]) throw new Error(`step ${i}: the CLI picked ${ref.ids[i]}, its logits' argmax is ${a.id}`);
  });
}
