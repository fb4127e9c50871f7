// bench/bench_ort.js — ONNX Runtime's side of `make bench`: one long-lived
// process per model, asked line by line on stdin as bench_cnncam is.
//
//   node bench/bench_ort.js MODEL.onnx INPUT.f32
//
// INPUT.f32 is the normalised 1 x 3 x H x W photo as raw little-endian floats
// (bench.py writes it from the same tensor PyTorch sees). Commands, one per
// line, each answered with one line:
//   threads N        a new session with N intra-op threads (default 1)
//   forward          ms of one forward, batch 1
//   batch8           ms of one forward of the photo 8 times
//   logits           the batch-1 output, space-separated (for the parity check)
//   profile FILE     10 forwards with ONNX Runtime's profiler on; writes its
//                    JSON trace to FILE, answers FILE
//   quit
// Errors answer "error <message>". ONNX Runtime comes from the npm package
// onnxruntime-node that `make bench-deps` installs into build/ort; the
// library and the CLI never need it.
"use strict";
const fs = require("fs");
const path = require("path");
const readline = require("readline");

const ortDir = process.env.CNNCAM_ORT || path.join(__dirname, "..", "build", "ort", "node_modules", "onnxruntime-node");
let ort;
try {
  ort = require(ortDir);
} catch (e) {
  process.stdout.write("error onnxruntime-node not found at " + ortDir + ": run make bench-deps\n");
  process.exit(1);
}

const [modelPath, inputPath] = process.argv.slice(2);
if (!modelPath || !inputPath) {
  process.stderr.write("usage: node bench/bench_ort.js MODEL.onnx INPUT.f32\n");
  process.exit(2);
}
const raw = fs.readFileSync(inputPath);
const photo = new Float32Array(raw.buffer, raw.byteOffset, raw.length / 4);
const side = Math.round(Math.sqrt(photo.length / 3));
const batch8 = new Float32Array(photo.length * 8);
for (let i = 0; i < 8; i++) batch8.set(photo, i * photo.length);

let session = null;
let threads = 1;

async function open(profile) {
  if (session) await session.release();
  // ONNX Runtime's defaults (all graph optimisations, its NCHWc layout
  // transformer), one thread pool of `threads`, nothing run in parallel
  // between nodes: what a deployment gets from a plain session.
  session = await ort.InferenceSession.create(modelPath, {
    intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: "sequential",
    graphOptimizationLevel: "all", enableProfiling: !!profile,
    profileFilePrefix: profile ? profile.replace(/\.json$/, "") : undefined,
  });
}

async function run(data, n) {
  const feeds = {};
  feeds[session.inputNames[0]] = new ort.Tensor("float32", data, [n, 3, side, side]);
  return session.run(feeds);
}

async function timed(data, n) {
  const t = process.hrtime.bigint();
  await run(data, n);
  return Number(process.hrtime.bigint() - t) / 1e6;
}

async function answer(line) {
  const [cmd, arg] = line.trim().split(/\s+/);
  if (cmd === "threads") {
    threads = parseInt(arg, 10);
    await open(null);
    return "ok";
  }
  if (cmd === "forward") return timed(photo, 1).then((ms) => ms.toFixed(3));
  if (cmd === "batch8") return timed(batch8, 8).then((ms) => ms.toFixed(3));
  if (cmd === "logits") {
    const out = await run(photo, 1);
    return Array.from(out[session.outputNames[0]].data, (v) => v.toPrecision(9)).join(" ");
  }
  if (cmd === "profile") {
    await open(arg);
    for (let i = 0; i < 10; i++) await run(photo, 1);
    // The binding's endProfiling returns nothing: ONNX Runtime names the
    // trace PREFIX_<date>.json itself.
    session.endProfiling();
    const prefix = path.basename(arg.replace(/\.json$/, "")) + "_";
    const dir = path.dirname(path.resolve(arg));
    const written = fs.readdirSync(dir).filter((f) => f.startsWith(prefix) && f.endsWith(".json"));
    if (written.length !== 1) throw new Error("profile: expected one " + prefix + "*.json in " + dir);
    fs.renameSync(path.join(dir, written[0]), arg);
    await open(null);
    return arg;
  }
  throw new Error("unknown command " + cmd);
}

async function main() {
  await open(null);
  process.stdout.write("ready\n");
  const rl = readline.createInterface({ input: process.stdin });
  for await (const line of rl) {
    if (line.trim() === "quit") break;
    try {
      process.stdout.write((await answer(line)) + "\n");
    } catch (e) {
      process.stdout.write("error " + String(e.message || e).replace(/\n/g, " ") + "\n");
    }
  }
  if (session) await session.release();
}

main().catch((e) => {
  process.stdout.write("error " + String(e.message || e).replace(/\n/g, " ") + "\n");
  process.exit(1);
});
