// The processes of one job and the few collectives a model split across them
// needs. Rank 0 leads (all I/O); the others follow its steps. Without MPI, or
// in a process that mpirun did not start, the world is one rank and every
// collective is a copy.
//
// Collectives wait at most timeout() seconds: a rank that died or stalls
// becomes an error on the ranks that wait for it, never a hang.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"

namespace dsv3::dist {

// Time spent inside collectives (waiting included) and the bytes they moved.
struct CollectiveStats {
  int64_t calls = 0;
  int64_t bytes = 0;
  double seconds = 0.0;
};

class Communicator {
 public:
  virtual ~Communicator() = default;

  virtual int rank() const = 0;
  virtual int size() const = 0;
  // This process's node (MPI's processor name, else the host name).
  virtual std::string node() const = 0;

  // Every rank's `count` floats to every rank, in rank order: out[size][count].
  virtual Status allgather(const float* in, int64_t count, float* out) = 0;
  // Every rank's `bytes` bytes to every rank, in rank order.
  virtual Status allgather_bytes(const void* in, int64_t bytes, void* out) = 0;
  // Rank 0's `bytes` at data to every rank.
  virtual Status broadcast(void* data, int64_t bytes) = 0;
  // A broadcast that a follower waits in between rank 0's steps (as long as
  // rank 0 is idle): no time limit, and it polls gently instead of spinning.
  virtual Status wait_broadcast(void* data, int64_t bytes) = 0;
  // The slices of a vector cut at offsets[0..size] (offsets[r] to
  // offsets[r+1] is rank r's): every rank sends slice j of `in` to rank j
  // and receives rank k's copy of its own slice at out + k * (its length).
  virtual Status alltoall_slices(const float* in, std::span<const int64_t> offsets, float* out) = 0;
  // The same cut: each rank holds its own slice of x correct; afterwards
  // every rank holds every rank's slice (x is complete everywhere).
  virtual Status allgather_slices(float* x, std::span<const int64_t> offsets) = 0;
  // Rank 0 receives counts[r] floats from each rank r, in rank order, into
  // out; `in` holds this rank's counts[rank()] floats. out is unused elsewhere.
  virtual Status gather(const float* in, std::span<const int64_t> counts, float* out) = 0;
  // Ends every process of the job with `code` (after a fatal error on one).
  [[noreturn]] virtual void abort(int code) = 0;

  // After a failed collective the ranks are out of step for good: a world
  // marked broken is aborted, never finalised (that would wait forever).
  void mark_broken() { broken_ = true; }
  bool broken() const { return broken_; }

  void set_timeout(double seconds) { timeout_s_ = seconds; }
  double timeout() const { return timeout_s_; }
  const CollectiveStats& stats() const { return stats_; }
  void reset_stats() { stats_ = {}; }

 protected:
  double timeout_s_ = 60.0;
  CollectiveStats stats_;
  std::atomic<bool> broken_{false};
};

// x[0:n] = the sum over ranks of every rank's x[0:n], added in rank order,
// so each rank holds bitwise the same result (the same routing decisions
// downstream). Small vectors (a decode step's): every rank gathers every
// share, one collective. Large ones (prefill): each rank sums one slice of
// all shares and the slices are gathered (a reduce-scatter and an
// allgather, about 2x the vector's bytes per rank instead of N x).
// scratch grows once and is reused.
Status sum_over_ranks(Communicator& comm, float* x, int64_t n, std::vector<float>& scratch);

// The job this process belongs to. Opened once, at the start of main (MPI
// wants its arguments before anything else runs); closing it finalises MPI.
class World {
 public:
  // Joins mpirun's job when this process was started by it and the binary
  // has MPI; else a world of one. Followers' standard output goes to
  // /dev/null (rank 0 does all I/O).
  static Result<World> open(int* argc, char*** argv);
  World(World&&) noexcept;
  World& operator=(World&&) noexcept;
  ~World();

  Communicator& comm() { return *comm_; }
  // The process's world, once open() has run (null before).
  static Communicator* current();
  // Finalises MPI (where it was started) and exits with `code`: how a follower ends.
  [[noreturn]] static void exit(int code);

 private:
  explicit World(std::unique_ptr<Communicator> comm);
  std::unique_ptr<Communicator> comm_;
};

// Whether this binary was built with MPI (DSV3_MPI).
bool built_with_mpi();
// Whether mpirun (or another launcher of an MPI job) started this process.
bool launched_by_mpi();

}  // namespace dsv3::dist
