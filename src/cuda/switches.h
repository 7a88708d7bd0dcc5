// Run-time switches for the CUDA fast paths, so that a path that misbehaves
// on a GPU can be turned off without a rebuild:
//   DSV3_CUDA_FAST=0    the first, verified kernels (one-warp-per-row matvec,
//                       one block per (token, head) attention, serial routing)
//   DSV3_CUDA_GRAPHS=0  decode steps launched kernel by kernel, not replayed
//   DSV3_CUDA_TC=0      no tensor-core products (FFMA kernels for every size)
// All default to on; read once per process. DSV3_CUDA_TC_MIN_N is the token
// count from which products go to the tensor cores (default 65: up to 64
// tokens the FFMA matvec measured faster on an H200).
#pragma once

namespace dsv3::cuda {

bool fast_kernels();
bool cuda_graphs();
bool tensor_cores();
int tc_min_tokens();

}  // namespace dsv3::cuda
