// Run-time switches for the CUDA fast paths, so that a path that misbehaves
// on a GPU can be turned off without a rebuild:
//   DSV3_CUDA_FAST=0    the first, verified kernels (one-warp-per-row matvec,
//                       one block per (token, head) attention, serial routing)
//   DSV3_CUDA_GRAPHS=0  decode steps launched kernel by kernel, not replayed
// Both default to on; read once per process.
#pragma once

namespace dsv3::cuda {

bool fast_kernels();
bool cuda_graphs();

}  // namespace dsv3::cuda
