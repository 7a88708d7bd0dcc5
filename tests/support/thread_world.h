// A job of N ranks inside one process, one thread per rank, for testing a
// split model (the rank protocol, the shards, the sums) without mpirun and
// under the sanitizers. Collectives meet at a barrier.
#pragma once
#include <barrier>
#include <functional>
#include <memory>
#include <vector>

#include "dist/communicator.h"

namespace dsv3::test {

class ThreadWorld {
 public:
  explicit ThreadWorld(int ranks);
  ~ThreadWorld();
  int size() const { return static_cast<int>(comms_.size()); }
  dist::Communicator& comm(int rank) { return *comms_[static_cast<std::size_t>(rank)]; }

  // Runs body(rank) for ranks 1..N-1 on threads of their own (joined by the
  // destructor or join()), the caller's thread being rank 0.
  void start_followers(std::function<void(int rank)> body);
  void join();

 private:
  friend class ThreadComm;
  std::barrier<> barrier_;
  std::vector<const void*> posted_;
  std::vector<std::unique_ptr<dist::Communicator>> comms_;
  std::vector<std::thread> threads_;
};

}  // namespace dsv3::test
