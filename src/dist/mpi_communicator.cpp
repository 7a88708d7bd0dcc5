// The world of an MPI job (OpenMPI, MPICH): non-blocking collectives polled
// with a deadline, so that a rank that died or stalls turns into an error on
// the ranks waiting for it instead of a hang.
#include <mpi.h>

#include <chrono>
#include <climits>
#include <mutex>
#include <thread>

#include "dist/mpi_world.h"

namespace dsv3::dist {

namespace {

using Clock = std::chrono::steady_clock;

std::string mpi_error_text(int code) {
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  if (MPI_Error_string(code, text, &len) != MPI_SUCCESS) return fmt::format("MPI error {}", code);
  return std::string(text, static_cast<std::size_t>(len));
}

class MpiCommunicator final : public Communicator {
 public:
  MpiCommunicator() {
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    char name[MPI_MAX_PROCESSOR_NAME];
    int len = 0;
    MPI_Get_processor_name(name, &len);
    node_.assign(name, static_cast<std::size_t>(len));
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string node() const override { return node_; }

  Status allgather(const float* in, int64_t count, float* out) override {
    DSV3_RETURN_IF_ERROR(check_count("allgather", count));
    std::lock_guard lock(mu_);
    MPI_Request req;
    DSV3_RETURN_IF_ERROR(check("allgather", MPI_Iallgather(in, static_cast<int>(count), MPI_FLOAT, out,
                                                           static_cast<int>(count), MPI_FLOAT, MPI_COMM_WORLD, &req)));
    return wait(req, "allgather", count * 4 * size_, false);
  }

  Status allgather_bytes(const void* in, int64_t bytes, void* out) override {
    DSV3_RETURN_IF_ERROR(check_count("allgather", bytes));
    std::lock_guard lock(mu_);
    MPI_Request req;
    DSV3_RETURN_IF_ERROR(check("allgather", MPI_Iallgather(in, static_cast<int>(bytes), MPI_BYTE, out,
                                                           static_cast<int>(bytes), MPI_BYTE, MPI_COMM_WORLD, &req)));
    return wait(req, "allgather", bytes * size_, false);
  }

  Status broadcast(void* data, int64_t bytes) override { return bcast(data, bytes, false); }
  Status wait_broadcast(void* data, int64_t bytes) override { return bcast(data, bytes, true); }

  Status gather(const float* in, std::span<const int64_t> counts, float* out) override {
    if (static_cast<int>(counts.size()) != size_) return make_error("gather: {} counts for {} ranks", counts.size(), size_);
    counts_.resize(counts.size());
    displs_.resize(counts.size());
    int64_t at = 0;
    for (std::size_t r = 0; r < counts.size(); ++r) {
      DSV3_RETURN_IF_ERROR(check_count("gather", counts[r]));
      DSV3_RETURN_IF_ERROR(check_count("gather", at));
      counts_[r] = static_cast<int>(counts[r]);
      displs_[r] = static_cast<int>(at);
      at += counts[r];
    }
    std::lock_guard lock(mu_);
    MPI_Request req;
    DSV3_RETURN_IF_ERROR(check("gather", MPI_Igatherv(in, counts_[static_cast<std::size_t>(rank_)], MPI_FLOAT, out,
                                                      counts_.data(), displs_.data(), MPI_FLOAT, 0, MPI_COMM_WORLD,
                                                      &req)));
    return wait(req, "gather", at * 4, false);
  }

  Status alltoall_slices(const float* in, std::span<const int64_t> offsets, float* out) override {
    DSV3_RETURN_IF_ERROR(check_offsets("alltoall", offsets));
    const std::size_t n = static_cast<std::size_t>(size_);
    send_counts_.resize(n);
    send_displs_.resize(n);
    counts_.resize(n);
    displs_.resize(n);
    const int mine = static_cast<int>(offsets[static_cast<std::size_t>(rank_) + 1] - offsets[static_cast<std::size_t>(rank_)]);
    for (std::size_t r = 0; r < n; ++r) {
      send_counts_[r] = static_cast<int>(offsets[r + 1] - offsets[r]);
      send_displs_[r] = static_cast<int>(offsets[r]);
      counts_[r] = mine;
      displs_[r] = static_cast<int>(r) * mine;
    }
    std::lock_guard lock(mu_);
    MPI_Request req;
    DSV3_RETURN_IF_ERROR(check("alltoall", MPI_Ialltoallv(in, send_counts_.data(), send_displs_.data(), MPI_FLOAT, out,
                                                          counts_.data(), displs_.data(), MPI_FLOAT, MPI_COMM_WORLD,
                                                          &req)));
    return wait(req, "alltoall", int64_t{mine} * size_ * 4, false);
  }

  Status allgather_slices(float* x, std::span<const int64_t> offsets) override {
    DSV3_RETURN_IF_ERROR(check_offsets("allgather", offsets));
    const std::size_t n = static_cast<std::size_t>(size_);
    counts_.resize(n);
    displs_.resize(n);
    for (std::size_t r = 0; r < n; ++r) {
      counts_[r] = static_cast<int>(offsets[r + 1] - offsets[r]);
      displs_[r] = static_cast<int>(offsets[r]);
    }
    std::lock_guard lock(mu_);
    MPI_Request req;
    DSV3_RETURN_IF_ERROR(check("allgather", MPI_Iallgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, x, counts_.data(),
                                                            displs_.data(), MPI_FLOAT, MPI_COMM_WORLD, &req)));
    return wait(req, "allgather", offsets[n] * 4, false);
  }

  [[noreturn]] void abort(int code) override {
    std::fflush(stdout);
    std::fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, code);
    std::_Exit(code);  // MPI_Abort does not return; if it did, still end this rank
  }

 private:
  Status bcast(void* data, int64_t bytes, bool idle) {
    DSV3_RETURN_IF_ERROR(check_count("broadcast", bytes));
    std::lock_guard lock(mu_);
    MPI_Request req;
    DSV3_RETURN_IF_ERROR(
        check("broadcast", MPI_Ibcast(data, static_cast<int>(bytes), MPI_BYTE, 0, MPI_COMM_WORLD, &req)));
    return wait(req, "broadcast", bytes, idle);
  }

  Status check_offsets(const char* what, std::span<const int64_t> offsets) const {
    if (static_cast<int>(offsets.size()) != size_ + 1)
      return make_error("{}: {} slice offsets for {} ranks", what, offsets.size(), size_);
    return check_count(what, offsets.back());
  }

  static Status check_count(const char* what, int64_t n) {
    if (n < 0 || n > INT_MAX) return make_error("{}: {} elements is more than one MPI call moves", what, n);
    return {};
  }

  Status check(const char* what, int rc) const {
    if (rc == MPI_SUCCESS) return {};
    return make_error("{} failed on rank {} of {}: {}", what, rank_, size_, mpi_error_text(rc));
  }

  // Polls req to completion. Spins for the first ~50 us (a decode step's
  // collectives finish in microseconds), then sleeps between polls so a
  // waiting rank leaves its core to the ranks still computing; an idle
  // follower (waiting for rank 0's next step) polls every 200 us.
  Status wait(MPI_Request& req, const char* what, int64_t bytes, bool idle) {
    const auto t0 = Clock::now();
    int done = 0;
    for (int64_t polls = 0;; ++polls) {
      DSV3_RETURN_IF_ERROR(check(what, MPI_Test(&req, &done, MPI_STATUS_IGNORE)));
      if (done) break;
      if (polls < 2000) continue;
      std::this_thread::sleep_for(std::chrono::microseconds(idle ? 200 : 20));
      if (!idle && std::chrono::duration<double>(Clock::now() - t0).count() > timeout_s_)
        return make_error(
            "{}: no answer from the other ranks within {:g} s: a rank died or stalled (this is rank {} of {} on {})",
            what, timeout_s_, rank_, size_, node_);
    }
    if (!idle) {
      stats_.calls += 1;
      stats_.bytes += bytes;
      stats_.seconds += std::chrono::duration<double>(Clock::now() - t0).count();
    }
    return {};
  }

  int rank_ = 0, size_ = 1;
  std::string node_;
  std::mutex mu_;  // MPI_THREAD_SERIALIZED: one collective at a time, from any thread
  std::vector<int> counts_, displs_, send_counts_, send_displs_;
};

}  // namespace

bool built_with_mpi() { return true; }

Result<std::unique_ptr<Communicator>> open_mpi(int* argc, char*** argv) {
  int provided = 0;
  if (int rc = MPI_Init_thread(argc, argv, MPI_THREAD_SERIALIZED, &provided); rc != MPI_SUCCESS)
    return make_error("MPI_Init_thread failed: {}", mpi_error_text(rc));
  if (provided < MPI_THREAD_SERIALIZED)
    return make_error("this MPI library offers thread level {} (dsv3 needs MPI_THREAD_SERIALIZED)", provided);
  // errors come back as codes (reported with the rank), not as an abort inside MPI
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  return std::unique_ptr<Communicator>(std::make_unique<MpiCommunicator>());
}

void finalize_mpi() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

}  // namespace dsv3::dist
