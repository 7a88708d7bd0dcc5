// Probes of the machine's memory bandwidth: a STREAM-like triad, and a pure
// read (what decoding does to the weights).
#pragma once
#include <cstdint>

namespace dsv3 {
class ThreadPool;

// a[i] = b[i] + s * c[i] over arrays of `bytes_per_array`; best of `reps`
// runs, in GB/s (1e9 bytes), counting 3 arrays of traffic as STREAM does.
double measure_triad_gbps(ThreadPool& pool, int64_t bytes_per_array = int64_t{256} << 20, int reps = 5);

// A sum over `bytes` of floats, each thread reading one contiguous part;
// best of `reps` runs, in GB/s.
double measure_read_gbps(ThreadPool& pool, int64_t bytes = int64_t{512} << 20, int reps = 5);

}  // namespace dsv3
