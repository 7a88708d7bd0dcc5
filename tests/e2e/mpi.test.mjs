// `dsv3 serve` split across ranks with mpirun: it answers like one process
// (chat and streaming through the openai client), and a rank that dies or
// stalls turns into an error on rank 0, /health 503 and a non-zero exit
// within seconds, never a hang. Skipped without mpirun or an MPI build.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import { spawnSync } from "node:child_process";
import OpenAI from "openai";
import { startServer, binary, waitFor, sleep } from "./helpers.mjs";

const hasMpirun = spawnSync("sh", ["-c", "command -v mpirun"]).status === 0;
const mpiBuild = (spawnSync(binary, ["--version"]).stdout || "").toString().includes("MPI on");
const skip = !hasMpirun ? "mpirun is not installed" : !mpiBuild ? "dsv3 was built without MPI" : false;

const client = (s) => new OpenAI({ baseURL: s.url + "/v1", apiKey: "none" });
const ask = { model: "tiny", messages: [{ role: "user", content: "Tell me about the sea." }], max_tokens: 24, temperature: 0 };

// The pid of rank `rank` among the job's processes (mpirun's children).
function rankPid(rank) {
  for (const p of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const env = fs.readFileSync(`/proc/${p}/environ`, "latin1");
      const cmd = fs.readFileSync(`/proc/${p}/cmdline`, "latin1");
      if (cmd.startsWith(binary) && env.includes(`\0OMPI_COMM_WORLD_RANK=${rank}\0`)) return Number(p);
    } catch { /* gone, or not ours */ }
  }
  return 0;
}

test("serve under mpirun -np 2 (ep+tp): chat and streaming equal one process", { skip }, async () => {
  const one = await startServer();
  const two = await startServer(["--parallel", "ep+tp"], { ranks: 2 });
  try {
    const a = await client(one).chat.completions.create(ask);
    const b = await client(two).chat.completions.create(ask);
    assert.equal(b.choices[0].message.content, a.choices[0].message.content);
    assert.deepEqual(b.usage, a.usage);
    let streamed = "";
    let finish = null;
    for await (const chunk of await client(two).chat.completions.create({ ...ask, stream: true })) {
      streamed += chunk.choices[0]?.delta?.content ?? "";
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    assert.equal(streamed, a.choices[0].message.content);
    assert.equal(finish, a.choices[0].finish_reason);
    assert.equal((await fetch(two.url + "/health")).status, 200);
  } finally {
    await one.stop();
    await two.stop();
  }
});

// A stream that keeps rank 1 busy until it is killed or stopped.
async function longStream(s) {
  const res = await fetch(s.url + "/v1/chat/completions", {
    method: "POST",
    body: JSON.stringify({ model: "tiny", messages: [{ role: "user", content: "hi" }], max_tokens: 4000, stream: true }),
  });
  assert.equal(res.status, 200);
  const reader = res.body.getReader();
  await reader.read();  // it is generating
  reader.read().catch(() => {});  // keep reading in the background
  return reader;
}

test("a killed rank: rank 0 reports it and the job exits non-zero within 10 s", { skip }, async () => {
  const s = await startServer(["--rank-timeout", "3"], { ranks: 2 });
  await longStream(s);
  const pid = rankPid(1);
  assert.ok(pid > 0, "rank 1 not found");
  const t0 = Date.now();
  process.kill(pid, "SIGKILL");
  const r = await s.exit;
  const took = Date.now() - t0;
  assert.notEqual(r.code, 0, s.stderr());
  assert.ok(took < 10000, `took ${took} ms`);
  assert.match(s.stderr(), /dsv3: error: .*(another rank ended|a rank died or stalled)/);
});

test("a stalled rank: /health turns 503 with the reason, then the job exits non-zero", { skip }, async () => {
  const s = await startServer(["--rank-timeout", "2"], { ranks: 2 });
  await longStream(s);
  const pid = rankPid(1);
  assert.ok(pid > 0, "rank 1 not found");
  const t0 = Date.now();
  process.kill(pid, "SIGSTOP");
  try {
    const health = await waitFor(async () => {
      const res = await fetch(s.url + "/health").catch(() => null);
      return res && res.status === 503 ? res.json() : null;
    }, "/health 503", { ms: 10000 });
    assert.equal(health.status, "unhealthy");
    assert.match(health.error, /rank/);
    const r = await s.exit;
    assert.notEqual(r.code, 0);
    assert.ok(Date.now() - t0 < 10000, `took ${Date.now() - t0} ms`);
    assert.match(s.stderr(), /no answer from the other ranks within 2 s/);
  } finally {
    try { process.kill(pid, "SIGKILL"); } catch { /* already ended by the abort */ }
  }
});
