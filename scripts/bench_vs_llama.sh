#!/usr/bin/env bash
# dsv3 and llama.cpp (tests/peer) timed one after the other on this machine,
# the same prompt length, decode length and threads; prints each engine's
# prefill and decode tokens/s and dsv3's ratio. Only ratios from one run mean
# anything: bandwidth and clock drift from minute to minute.
#   scripts/bench_vs_llama.sh DSV3_MODEL LLAMA_GGUF [PP] [TG] [THREADS] [-- extra dsv3 bench flags]
# DSV3_MODEL may be the same GGUF file or an HF checkpoint directory.
set -euo pipefail
cd "$(dirname "$0")/.."
ours="$1" theirs="$2"
pp="${3:-512}" tg="${4:-64}" threads="${5:-2}"
shift $(( $# < 5 ? $# : 5 ))
[ "${1:-}" = "--" ] && shift
extra=("$@")
d=$(build/dsv3 bench --model "$ours" --threads "$threads" --prompt-tokens "$pp" --gen-tokens "$tg" --json "${extra[@]}")
l=$(NODE_LLAMA_CPP_SKIP_DOWNLOAD=true node tests/peer/bench_llama.mjs --model "$theirs" --threads "$threads" --runs 1 \
  --pp "$pp" --tg "$tg" | tail -1)
node -e '
const d = JSON.parse(process.argv[1]), l = JSON.parse(process.argv[2]);
const lp = l.pp_tok_s[0], lt = l.tg_tok_s[0];
console.log(JSON.stringify({dsv3_model: d.model, flags: process.argv[3], prompt: d.prompt_tokens, gen: d.gen_tokens,
  dsv3_prefill: +d.prefill_tokens_per_s.toFixed(1), llama_prefill: +lp.toFixed(1),
  prefill_ratio: +(d.prefill_tokens_per_s / lp).toFixed(2),
  dsv3_decode: +d.decode_tokens_per_s.toFixed(2), llama_decode: +lt.toFixed(2),
  decode_ratio: +(d.decode_tokens_per_s / lt).toFixed(2),
  dsv3_decode_gib_per_token: +(d.decode_bytes_per_token / 2 ** 30).toFixed(3),
  dsv3_decode_gb_s: +d.decode_gb_per_s.toFixed(1), membw_read_gb_s: +d.membw_read_gb_per_s.toFixed(1)}));
' "$d" "$l" "${extra[*]:-}"
