// A STREAM-triad-like probe of the machine's memory bandwidth.
#pragma once
#include <cstdint>

namespace dsv3 {
class ThreadPool;

// a[i] = b[i] + s * c[i] over arrays of `bytes_per_array`; best of `reps`
// runs, in GB/s (1e9 bytes), counting 3 arrays of traffic as STREAM does.
double measure_triad_gbps(ThreadPool& pool, int64_t bytes_per_array = int64_t{256} << 20, int reps = 5);

}  // namespace dsv3
