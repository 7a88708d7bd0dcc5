// `dsv3 pull` against a local mock of the Hugging Face hub's HTTP API,
// serving the bundled tiny checkpoint: the cache layout huggingface_hub
// uses, resume after a cut connection, a corrupted blob refused, HF_TOKEN,
// HF_HUB_OFFLINE, --include, and --model ORG/NAME through the cache.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { spawn } from "node:child_process";
import { binary, tinyModel } from "./helpers.mjs";

const files = fs.readdirSync(tinyModel).sort();
const bytes = Object.fromEntries(files.map((f) => [f, fs.readFileSync(path.join(tinyModel, f))]));
const lfs = (f) => f.endsWith(".safetensors") || f === "tokenizer.json";
const sha256 = (b) => crypto.createHash("sha256").update(b).digest("hex");
const gitBlob = (b) => crypto.createHash("sha1").update(`blob ${b.length}\0`).update(b).digest("hex");
const commit = "0123456789abcdef0123456789abcdef01234567";

// What the mock does: cut a file's first transfer halfway, corrupt a file,
// demand a token; and what it saw.
const mock = { cutOnce: null, corrupt: null, token: null, requests: [] };
let server, endpoint;

before(async () => {
  server = http.createServer((req, res) => {
    mock.requests.push({ url: req.url, headers: req.headers });
    if (mock.token && req.headers.authorization !== `Bearer ${mock.token}`) {
      res.writeHead(401, { "content-type": "application/json" });
      return res.end(JSON.stringify({ error: "Invalid credentials in Authorization header" }));
    }
    const api = req.url.match(/^\/api\/models\/test\/tiny\/revision\/([^?]+)\?blobs=true$/);
    if (api) {
      const siblings = files.map((f) => ({
        rfilename: f, blobId: gitBlob(bytes[f]), size: bytes[f].length,
        ...(lfs(f) ? { lfs: { sha256: sha256(bytes[f]), size: bytes[f].length, pointerSize: 134 } } : {}),
      }));
      res.writeHead(200, { "content-type": "application/json" });
      return res.end(JSON.stringify({ id: "test/tiny", sha: commit, siblings }));
    }
    const file = req.url.match(/^\/test\/tiny\/resolve\/([0-9a-f]+)\/(.+)$/);
    if (!file || !(decodeURIComponent(file[2]) in bytes)) {
      res.writeHead(404, { "content-type": "application/json" });
      return res.end(JSON.stringify({ error: "Entry not found" }));
    }
    const name = decodeURIComponent(file[2]);
    let body = bytes[name];
    if (mock.corrupt === name) { body = Buffer.from(body); body[body.length >> 1] ^= 0xff; }
    const range = (req.headers.range || "").match(/^bytes=(\d+)-$/);
    const from = range ? Number(range[1]) : 0;
    const part = body.subarray(from);
    const headers = { "content-length": part.length, "accept-ranges": "bytes" };
    if (range) headers["content-range"] = `bytes ${from}-${body.length - 1}/${body.length}`;
    res.writeHead(range ? 206 : 200, headers);
    if (mock.cutOnce === name) {  // half of it, then the connection drops
      mock.cutOnce = null;
      res.write(part.subarray(0, part.length >> 1), () => res.socket.destroy());
      return;
    }
    res.end(part);
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  endpoint = `http://127.0.0.1:${server.address().port}`;
});
after(() => server.close());

function freshHome() { return fs.mkdtempSync(path.join(os.tmpdir(), "dsv3-hf-")); }
// Asynchronous: the mock hub answers from this same event loop.
function dsv3(args, env) {
  return new Promise((resolve) => {
    const p = spawn(binary, args, { env: { ...process.env, HF_ENDPOINT: endpoint, ...env } });
    let out = "", err = "";
    p.stdout.on("data", (d) => { out += d; });
    p.stderr.on("data", (d) => { err += d; });
    p.on("close", (code) => resolve({ code, out, err }));
  });
}
const reset = () => Object.assign(mock, { cutOnce: null, corrupt: null, token: null, requests: [] });

test("pull writes huggingface_hub's cache layout, and --model ORG/NAME finds it", async () => {
  reset();
  const home = freshHome();
  const r = await dsv3(["pull", "test/tiny"], { HF_HOME: home });
  assert.equal(r.code, 0, r.err);
  const repo = path.join(home, "hub", "models--test--tiny");
  const snap = path.join(repo, "snapshots", commit);
  assert.equal(r.out.trim(), snap);
  assert.equal(fs.readFileSync(path.join(repo, "refs", "main"), "utf8"), commit);
  for (const f of files) {
    const link = path.join(snap, f);
    assert.ok(fs.lstatSync(link).isSymbolicLink(), f);
    const target = fs.readlinkSync(link);
    assert.ok(!path.isAbsolute(target) && target.startsWith("../../blobs/"), target);
    const blob = path.basename(target);
    assert.equal(blob, lfs(f) ? sha256(bytes[f]) : gitBlob(bytes[f]));
    assert.ok(fs.readFileSync(link).equals(bytes[f]), f);
  }
  const viaCache = await dsv3(["generate", "-m", "test/tiny", "--ids", "0,5,9", "-n", "3", "-t", "1"], { HF_HOME: home });
  const viaPath = await dsv3(["generate", "-m", tinyModel, "--ids", "0,5,9", "-n", "3", "-t", "1"], {});
  assert.equal(viaCache.code, 0, viaCache.err);
  assert.equal(viaCache.out, viaPath.out);
  // a second pull finds every blob and downloads nothing
  const before = mock.requests.length;
  assert.equal((await dsv3(["pull", "test/tiny"], { HF_HOME: home })).code, 0);
  assert.equal(mock.requests.filter((q) => q.url.includes("/resolve/")).length,
               mock.requests.slice(0, before).filter((q) => q.url.includes("/resolve/")).length);
});

test("a connection cut mid-file is resumed from where it stopped", async () => {
  reset();
  const home = freshHome();
  const big = files.find((f) => f.endsWith(".safetensors") && bytes[f].length > 100000);
  mock.cutOnce = big;
  const r = await dsv3(["pull", "test/tiny"], { HF_HOME: home });
  assert.equal(r.code, 0, r.err);
  const gets = mock.requests.filter((q) => q.url.endsWith("/" + big));
  assert.equal(gets.length, 2);
  assert.match(gets[1].headers.range || "", /^bytes=\d+-$/);
  assert.ok(Number(gets[1].headers.range.match(/\d+/)[0]) > 0);
  const snap = r.out.trim();
  assert.ok(fs.readFileSync(path.join(snap, big)).equals(bytes[big]));
});

test("a corrupted LFS file is refused by its sha256 and not kept", async () => {
  reset();
  const home = freshHome();
  const big = files.find((f) => f.endsWith(".safetensors"));
  mock.corrupt = big;
  const r = await dsv3(["pull", "test/tiny"], { HF_HOME: home });
  assert.equal(r.code, 1);
  assert.match(r.err, /sha256 [0-9a-f]+ does not match the hub's [0-9a-f]+: the download is corrupt and was deleted/);
  const blobs = path.join(home, "hub", "models--test--tiny", "blobs");
  assert.ok(!fs.existsSync(path.join(blobs, sha256(bytes[big]))));
  assert.ok(!fs.existsSync(path.join(blobs, sha256(bytes[big]) + ".incomplete")));
});

test("HF_TOKEN is sent as a bearer token; without it a gated repo says how to fix it", async () => {
  reset();
  mock.token = "hf_secret";
  const home = freshHome();
  const denied = await dsv3(["pull", "test/tiny"], { HF_HOME: home, HF_TOKEN: "" });
  assert.equal(denied.code, 1);
  assert.match(denied.err, /HTTP 401: Invalid credentials.*set HF_TOKEN/);
  const ok = await dsv3(["pull", "test/tiny"], { HF_HOME: home, HF_TOKEN: "hf_secret" });
  assert.equal(ok.code, 0, ok.err);
  assert.ok(mock.requests.every((q) => q.headers.authorization === undefined || q.headers.authorization === "Bearer hf_secret"));
});

test("HF_HUB_OFFLINE uses the cache alone; --include picks files", async () => {
  reset();
  const home = freshHome();
  const missing = await dsv3(["pull", "test/tiny"], { HF_HOME: home, HF_HUB_OFFLINE: "1" });
  assert.equal(missing.code, 1);
  assert.match(missing.err, /is not in the cache/);
  assert.equal(mock.requests.length, 0);
  const some = await dsv3(["pull", "test/tiny", "--include", "*.json"], { HF_HOME: home });
  assert.equal(some.code, 0, some.err);
  const got = fs.readdirSync(some.out.trim()).sort();
  assert.deepEqual(got, files.filter((f) => f.endsWith(".json")));
  const n = mock.requests.length;
  const offline = await dsv3(["pull", "test/tiny"], { HF_HOME: home, HF_HUB_OFFLINE: "1" });
  assert.equal(offline.code, 0, offline.err);
  assert.equal(offline.out, some.out);
  assert.equal(mock.requests.length, n);  // no request
  const none = await dsv3(["pull", "test/tiny", "--include", "*.bin"], { HF_HOME: home });
  assert.equal(none.code, 1);
  assert.match(none.err, /no file matches \*\.bin/);
});

test("--model ORG/NAME that was never pulled says so", async () => {
  const r = await dsv3(["generate", "-m", "test/never-pulled", "--ids", "0"], { HF_HOME: freshHome() });
  assert.equal(r.code, 2);
  assert.match(r.err, /run dsv3 pull test\/never-pulled first/);
});
