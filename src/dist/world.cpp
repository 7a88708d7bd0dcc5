#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "dist/communicator.h"
#include "dist/mpi_world.h"

namespace dsv3::dist {

namespace {

// The world of one process: every collective is a copy.
class LocalCommunicator final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  std::string node() const override {
    std::array<char, 256> name{};
    if (::gethostname(name.data(), name.size() - 1) != 0) return "localhost";
    return name.data();
  }
  Status allgather(const float* in, int64_t count, float* out) override {
    if (out != in) std::memmove(out, in, static_cast<std::size_t>(count) * sizeof(float));
    return {};
  }
  Status allgather_bytes(const void* in, int64_t bytes, void* out) override {
    if (out != in) std::memmove(out, in, static_cast<std::size_t>(bytes));
    return {};
  }
  Status broadcast(void*, int64_t) override { return {}; }
  Status wait_broadcast(void*, int64_t) override { return {}; }
  Status alltoall_slices(const float* in, std::span<const int64_t> offsets, float* out) override {
    if (out != in && offsets.size() >= 2)
      std::memmove(out, in + offsets[0], static_cast<std::size_t>(offsets[1] - offsets[0]) * sizeof(float));
    return {};
  }
  Status allgather_slices(float*, std::span<const int64_t>) override { return {}; }
  Status gather(const float* in, std::span<const int64_t> counts, float* out) override {
    if (out != in && !counts.empty()) std::memmove(out, in, static_cast<std::size_t>(counts[0]) * sizeof(float));
    return {};
  }
  [[noreturn]] void abort(int code) override { std::_Exit(code); }
};

Communicator* g_current = nullptr;
bool g_mpi = false;

}  // namespace

Status sum_over_ranks(Communicator& comm, float* x, int64_t n, std::vector<float>& scratch) {
  const int size = comm.size();
  if (size == 1 || n == 0) return {};
  // past 256 KiB of shares per rank, moving N copies costs more than a second collective's latency
  if (n * size * static_cast<int64_t>(sizeof(float)) > (int64_t{256} << 10) && n >= size) {
    std::array<int64_t, 1025> cut{};
    if (size + 1 <= static_cast<int>(cut.size())) {
      for (int r = 0; r <= size; ++r) cut[static_cast<std::size_t>(r)] = n * r / size;
      const std::span<const int64_t> offsets(cut.data(), static_cast<std::size_t>(size) + 1);
      const int me = comm.rank();
      const int64_t b = cut[static_cast<std::size_t>(me)], len = cut[static_cast<std::size_t>(me) + 1] - b;
      const std::size_t need = static_cast<std::size_t>(len) * static_cast<std::size_t>(size);
      if (scratch.size() < need) scratch.resize(need);
      DSV3_RETURN_IF_ERROR(comm.alltoall_slices(x, offsets, scratch.data()));
      std::memcpy(x + b, scratch.data(), static_cast<std::size_t>(len) * sizeof(float));
      for (int r = 1; r < size; ++r) {
        const float* p = scratch.data() + static_cast<std::size_t>(r) * static_cast<std::size_t>(len);
        for (int64_t i = 0; i < len; ++i) x[b + i] += p[i];
      }
      return comm.allgather_slices(x, offsets);
    }
  }
  const std::size_t need = static_cast<std::size_t>(n) * static_cast<std::size_t>(size);
  if (scratch.size() < need) scratch.resize(need);
  DSV3_RETURN_IF_ERROR(comm.allgather(x, n, scratch.data()));
  std::memcpy(x, scratch.data(), static_cast<std::size_t>(n) * sizeof(float));
  for (int r = 1; r < size; ++r) {
    const float* p = scratch.data() + static_cast<std::size_t>(r) * static_cast<std::size_t>(n);
    for (int64_t i = 0; i < n; ++i) x[i] += p[i];
  }
  return {};
}

bool launched_by_mpi() {
  // OpenMPI's mpirun, PMIx launchers (Slurm's srun --mpi=pmix) and MPICH's hydra
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE"})
    if (std::getenv(v) != nullptr) return true;
  return false;
}

World::World(std::unique_ptr<Communicator> comm) : comm_(std::move(comm)) { g_current = comm_.get(); }
World::World(World&&) noexcept = default;
World& World::operator=(World&&) noexcept = default;
World::~World() {
  if (!comm_) return;
  if (comm_->broken()) comm_->abort(1);
  if (g_current == comm_.get()) g_current = nullptr;
  comm_.reset();
  if (g_mpi) {
    finalize_mpi();
    g_mpi = false;
  }
}

Communicator* World::current() { return g_current; }

void World::exit(int code) {
  std::fflush(stdout);
  std::fflush(stderr);
  if (g_mpi) finalize_mpi();
  std::_Exit(code);
}

Result<World> World::open(int* argc, char*** argv) {
  if (!launched_by_mpi() || !built_with_mpi()) return World(std::make_unique<LocalCommunicator>());
  DSV3_ASSIGN_OR_RETURN(std::unique_ptr<Communicator> comm, open_mpi(argc, argv));
  g_mpi = true;
  if (comm->rank() != 0) {
    // rank 0 does all I/O: a follower's output would repeat rank 0's
    if (std::freopen("/dev/null", "w", stdout) == nullptr) std::fclose(stdout);
  }
  return World(std::move(comm));
}

}  // namespace dsv3::dist
