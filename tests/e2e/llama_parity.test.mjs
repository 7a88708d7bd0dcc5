// The same GGUF file in dsv3 and in llama.cpp (tests/peer): files written by
// `dsv3 quantize` load in llama.cpp, and both compute the same logits for the
// golden prompts — to float rounding for f32 files; for quantized files up to
// llama.cpp's own rounding of activations to 8 bits (its Q8_0/Q8_K dot
// products), measured as top-1 agreement and KL divergence.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { binary, logSoftmax, root, tinyModel } from "./helpers.mjs";

const peer = path.join(root, "tests/peer/run_llama.mjs");
const nlc = process.env.NLC_DIR ?? path.join(os.homedir(), ".cache/dsv3-peer/llama/node_modules/node-llama-cpp");
const golden = JSON.parse(fs.readFileSync(path.join(root, "tests/data/reference/goldens/tiny/reference.json"), "utf8"));
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "dsv3-parity-"));
process.on("exit", () => fs.rmSync(tmp, { recursive: true, force: true }));

function readSafetensorsF32(file, name) {
  const b = fs.readFileSync(file);
  const n = Number(b.readBigUInt64LE(0));
  const h = JSON.parse(b.subarray(8, 8 + n).toString("utf8"));
  const [s, e] = h[name].data_offsets;
  const data = b.subarray(8 + n + s, 8 + n + e);
  return { shape: h[name].shape, data: new Float32Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.length)) };
}

function quantize(type) {
  const out = path.join(tmp, `tiny-${type}.gguf`);
  if (!fs.existsSync(out)) execFileSync(binary, ["quantize", "--model", tinyModel, "--type", type, "--out", out]);
  return out;
}

// Rows of logits [positions][vocab] of both engines for one prompt.
function bothLogits(gguf, ids) {
  const ours = path.join(tmp, "ours.safetensors"), theirs = path.join(tmp, "theirs.f32");
  execFileSync(binary, ["logits", "--model", gguf, "--ids", ids.join(","), "--out", ours, "--threads", "2"]);
  execFileSync(process.execPath, [peer, "--model", gguf, "--ids", ids.join(","), "--n", "0", "--all-positions",
    "--logits-out", theirs, "--threads", "2", "--ctx", "512"],
    { env: { ...process.env, NODE_LLAMA_CPP_SKIP_DOWNLOAD: "true", NLC_DIR: nlc }, stdio: ["ignore", "pipe", "pipe"] });
  const a = readSafetensorsF32(ours, "logits");
  const raw = fs.readFileSync(theirs);
  const b = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.length));
  const vocab = a.shape[1];
  assert.equal(b.length, ids.length * vocab, "llama.cpp returned a row per position");
  return { vocab, ours: a.data, theirs: b };
}

function argmax(row) {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}
function top2Gap(row) {
  let a = -Infinity, b = -Infinity;
  for (const v of row) { if (v > a) { b = a; a = v; } else if (v > b) b = v; }
  return a - b;
}

// Every golden prompt with its greedy continuation, teacher-forced.
function compare(gguf) {
  const stats = { rows: 0, maxAbs: 0, agree: 0, klSum: 0, clearRows: 0, clearAgree: 0 };
  for (const p of golden.prompts) {
    const ids = [...p.ids, ...p.greedy].slice(0, 128);
    const { vocab, ours, theirs } = bothLogits(gguf, ids);
    for (let r = 0; r < ids.length; r++) {
      const a = ours.subarray(r * vocab, (r + 1) * vocab), b = theirs.subarray(r * vocab, (r + 1) * vocab);
      for (let j = 0; j < vocab; j++) stats.maxAbs = Math.max(stats.maxAbs, Math.abs(a[j] - b[j]));
      const same = argmax(a) === argmax(b);
      stats.agree += same;
      const la = logSoftmax(a), lb = logSoftmax(b);
      let kl = 0;
      for (let j = 0; j < vocab; j++) kl += Math.exp(la[j]) * (la[j] - lb[j]);
      stats.klSum += kl;
      stats.rows++;
      if (top2Gap(a) > 0.5) { stats.clearRows++; stats.clearAgree += same; }  // no near-tie to flip
    }
  }
  stats.top1 = stats.agree / stats.rows;
  stats.kl = stats.klSum / stats.rows;
  return stats;
}

test("llama.cpp is installed as the peer (scripts/setup.sh)", () => {
  assert.ok(fs.existsSync(path.join(nlc, "dist/index.js")), `${nlc} is missing: run scripts/setup.sh`);
});

test("an f32 GGUF written by dsv3 gives llama.cpp's logits to 1e-3", () => {
  const s = compare(quantize("f32"));
  console.log(`f32: ${s.rows} rows, max |Δ| ${s.maxAbs.toExponential(2)}, top-1 ${s.top1}`);
  assert.ok(s.rows >= 60);
  assert.ok(s.maxAbs <= 1e-3, `max |Δlogit| ${s.maxAbs}`);
  assert.equal(s.top1, 1);
});

test("a Q8_0 GGUF: same top-1 away from near-ties, small KL", () => {
  const s = compare(quantize("q8_0"));
  console.log(`q8_0: ${s.rows} rows, top-1 ${s.top1.toFixed(3)}, clear rows ${s.clearAgree}/${s.clearRows}, ` +
    `mean KL ${s.kl.toExponential(2)}, max |Δ| ${s.maxAbs.toFixed(3)}`);
  // tiny's 32-wide rows are one Q8_0 block each: llama.cpp's 8-bit
  // activations move its logits by up to a few units, so near-ties flip
  assert.ok(s.top1 >= 0.85, `top-1 agreement ${s.top1}`);
  assert.ok(s.clearAgree >= 0.95 * s.clearRows, `top-1 on rows without a near-tie: ${s.clearAgree}/${s.clearRows}`);
  assert.ok(s.kl <= 0.05, `mean KL ${s.kl}`);
});

test("a Q4_K_M GGUF (mixed types) written by dsv3 loads in llama.cpp and agrees", () => {
  const s = compare(quantize("q4_k_m"));
  console.log(`q4_k_m: ${s.rows} rows, top-1 ${s.top1.toFixed(3)}, clear rows ${s.clearAgree}/${s.clearRows}, ` +
    `mean KL ${s.kl.toExponential(2)}, max |Δ| ${s.maxAbs.toFixed(3)}`);
  assert.ok(s.top1 >= 0.8, `top-1 agreement ${s.top1}`);
  assert.ok(s.kl <= 0.1, `mean KL ${s.kl}`);
});
