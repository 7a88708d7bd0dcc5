#include "model/rank_steps.h"

#include <chrono>
#include <cstdio>

#include "base/resident.h"
#include <map>
#include <thread>

namespace dsv3 {

namespace {

// What rank 0 announces, as int64 words: cache events first, then one step.
enum Word : int64_t {
  kCreate = 1,  // id dtype
  kClone,       // source id, new id
  kDrop,        // id
  kForward,     // chunks, then per chunk: id start count ids...
  kLogits,      // rows (the hidden rows follow in a second broadcast)
  kReport,      // reset (every rank's RankReport is gathered)
  kTimeSums,    // count floats (every rank sums a buffer count times)
  kFinish,
};

}  // namespace

// The leader's record of its caches: ids for the followers' mirrors, and the
// events (made, forked, dropped) not yet announced. Caches are made, copied
// and dropped on any thread of the engine; events wait here, in order, for
// the next announced step.
class CacheLedger {
 public:
  int64_t created(DType dtype) {
    std::lock_guard lock(mu_);
    const int64_t id = next_++;
    pending_.insert(pending_.end(), {kCreate, id, static_cast<int64_t>(dtype)});
    return id;
  }
  int64_t cloned(int64_t from) {
    std::lock_guard lock(mu_);
    const int64_t id = next_++;
    pending_.insert(pending_.end(), {kClone, from, id});
    return id;
  }
  void dropped(int64_t id) {
    std::lock_guard lock(mu_);
    pending_.insert(pending_.end(), {kDrop, id});
  }
  // Moves the pending events to the front of `words`.
  void take(std::vector<int64_t>& words) {
    std::lock_guard lock(mu_);
    words.insert(words.begin(), pending_.begin(), pending_.end());
    pending_.clear();
  }

 private:
  std::mutex mu_;
  int64_t next_ = 1;
  std::vector<int64_t> pending_;
};

namespace {

// Rank 0's cache: its own rows, under an id the followers' mirrors share.
class MirroredRows final : public ops::RowCache {
 public:
  MirroredRows(std::unique_ptr<ops::RowCache> rows, int64_t id, std::shared_ptr<CacheLedger> ledger)
      : RowCache(rows->owner(), rows->layers(), rows->width(), rows->dtype()),
        rows_(std::move(rows)),
        id_(id),
        ledger_(std::move(ledger)) {
    capacity_ = rows_->capacity();
    written_ = rows_->written();
  }
  ~MirroredRows() override { ledger_->dropped(id_); }

  std::unique_ptr<ops::RowCache> clone() const override {
    auto c = std::make_unique<MirroredRows>(rows_->clone(), ledger_->cloned(id_), ledger_);
    c->written_ = written_;
    return c;
  }
  Status reserve(int64_t n) override {
    Status s = rows_->reserve(n);
    capacity_ = rows_->capacity();
    return s;
  }
  ops::RowCache& storage() override { return *rows_; }
  int64_t id() const { return id_; }

 private:
  std::unique_ptr<ops::RowCache> rows_;
  int64_t id_;
  std::shared_ptr<CacheLedger> ledger_;
};

// One broadcast of the step's size, one of its words.
Status send_words(dist::Communicator& comm, std::vector<int64_t>& words) {
  int64_t size = static_cast<int64_t>(words.size());
  DSV3_RETURN_IF_ERROR(comm.broadcast(&size, sizeof size));
  return comm.broadcast(words.data(), size * static_cast<int64_t>(sizeof(int64_t)));
}

}  // namespace

LeaderForward::LeaderForward(std::unique_ptr<Transformer> local, dist::Communicator& comm, double grace_s)
    : local_(std::move(local)), comm_(comm), grace_s_(grace_s), ledger_(std::make_shared<CacheLedger>()) {}

LeaderForward::~LeaderForward() {
  if (!health().ok()) return;  // the followers are gone or stuck: the job ends by abort
  words_.assign({kFinish});
  if (Status s = announce(words_); !s.ok())
    std::fprintf(stderr, "dsv3: error: could not tell the other ranks to finish: %s\n", s.error().message.c_str());
}

std::string LeaderForward::device() const {
  return fmt::format("{} x {} ranks ({})", local_->device(), comm_.size(), layout_name(local_->shard().layout));
}

LatentCache LeaderForward::make_cache(int64_t capacity, DType dtype) const {
  LatentCache inner = local_->make_cache(0, dtype);
  const DType stored = inner.dtype();
  LatentCache cache(std::make_unique<MirroredRows>(
      std::move(inner).release_rows(), ledger_->created(stored), ledger_));
  if (capacity > 0) (void)cache.reserve(capacity);  // a failure is reported by the pass that needs the room
  return cache;
}

Status LeaderForward::health() const {
  std::lock_guard lock(broken_mu_);
  if (broken_.empty()) return {};
  return Error{broken_};
}

Status LeaderForward::fail(const Error& e) {
  const std::string why = fmt::format("the ranks of this job are out of step: {}", e.message);
  {
    std::lock_guard lock(broken_mu_);
    if (broken_.empty()) broken_ = why;
  }
  comm_.mark_broken();
  std::fprintf(stderr, "dsv3: error: %s; ending all %d ranks in %.0f s\n", why.c_str(), comm_.size(), grace_s_);
  std::fflush(stderr);
  // long enough for a server to answer /health with 503; then every rank ends
  std::thread([&comm = comm_, grace = grace_s_] {
    std::this_thread::sleep_for(std::chrono::duration<double>(grace));
    comm.abort(1);
  }).detach();
  return Error{why};
}

Status LeaderForward::announce(std::vector<int64_t>& words) {
  ledger_->take(words);
  if (Status s = send_words(comm_, words); !s.ok()) return fail(s.error());
  return {};
}

Status LeaderForward::forward(std::span<const SequenceChunk> batch, float* hidden_out, const LayerObserver* observer) {
  DSV3_RETURN_IF_ERROR(health());
  // a batch the model refuses is refused here, before any rank hears of it
  DSV3_ASSIGN_OR_RETURN(const int64_t n, check_batch(config(), batch));
  if (n == 0) return {};
  words_.assign({kForward, 0});
  for (const SequenceChunk& s : batch) {
    if (s.ids.empty()) continue;
    auto* rows = dynamic_cast<MirroredRows*>(&s.cache->rows());
    if (rows == nullptr) return make_error("forward: a cache this model did not make (make_cache)");
    DSV3_RETURN_IF_ERROR(s.cache->reserve(s.start + static_cast<int64_t>(s.ids.size())));
    words_[1] += 1;
    words_.insert(words_.end(), {rows->id(), s.start, static_cast<int64_t>(s.ids.size())});
    words_.insert(words_.end(), s.ids.begin(), s.ids.end());
  }
  DSV3_RETURN_IF_ERROR(announce(words_));
  if (Status s = local_->forward(batch, hidden_out, observer); !s.ok()) return fail(s.error());
  return {};
}

Status LeaderForward::logits(const float* hidden, int64_t n, float* out) {
  DSV3_RETURN_IF_ERROR(health());
  if (n <= 0) return {};
  if (!local_->shard().tensor_parallel()) return local_->logits(hidden, n, out);  // rank 0 holds the head
  words_.assign({kLogits, n});
  DSV3_RETURN_IF_ERROR(announce(words_));
  const int64_t floats = n * config().hidden_size;
  // the followers compute from rank 0's rows (not their own copy of the pass)
  if (Status s = comm_.broadcast(const_cast<float*>(hidden), floats * static_cast<int64_t>(sizeof(float))); !s.ok())
    return fail(s.error());
  if (Status s = local_->logits(hidden, n, out); !s.ok()) return fail(s.error());
  return {};
}

namespace {

// This rank's report, exchanged with every other rank's.
Result<std::vector<RankReport>> exchange_reports(Transformer& local, dist::Communicator& comm, bool reset) {
  RankReport mine;
  const WeightStats ws = weight_stats(local.model().weights, local.config());
  mine.weight_bytes = ws.bytes;
  mine.active_bytes = ws.active_bytes;
  auto resident = resident_bytes_of(local.model().checkpoint.paths());
  mine.resident_bytes = resident.ok() ? *resident : -1;
  mine.collectives = comm.stats();
  std::vector<RankReport> all(static_cast<std::size_t>(comm.size()));
  DSV3_RETURN_IF_ERROR(comm.allgather_bytes(&mine, sizeof mine, all.data()));
  if (reset) comm.reset_stats();
  return all;
}

// count sums of a floats-long buffer over the ranks, back to back.
Status run_sums(dist::Communicator& comm, int64_t count, int64_t floats) {
  std::vector<float> x(static_cast<std::size_t>(floats), 1.0f), scratch;
  for (int64_t k = 0; k < count; ++k) DSV3_RETURN_IF_ERROR(dist::sum_over_ranks(comm, x.data(), floats, scratch));
  return {};
}

}  // namespace

Result<double> LeaderForward::time_sums(int64_t count, int64_t floats) {
  DSV3_RETURN_IF_ERROR(health());
  if (count < 1 || floats < 1) return make_error("time_sums: {} sums of {} floats", count, floats);
  words_.assign({kTimeSums, count, floats});
  DSV3_RETURN_IF_ERROR(announce(words_));
  if (Status s = run_sums(comm_, 1, floats); !s.ok()) return fail(s.error()).error();  // every rank has arrived
  const auto t0 = std::chrono::steady_clock::now();
  if (Status s = run_sums(comm_, count, floats); !s.ok()) return fail(s.error()).error();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / static_cast<double>(count);
}

Result<std::vector<RankReport>> LeaderForward::reports(bool reset) {
  DSV3_RETURN_IF_ERROR(health());
  words_.assign({kReport, reset ? 1 : 0});
  DSV3_RETURN_IF_ERROR(announce(words_));
  auto r = exchange_reports(*local_, comm_, reset);
  if (!r.ok()) return fail(r.error()).error();
  return r;
}

Status follow_leader(Transformer& local, dist::Communicator& comm) {
  const ModelConfig& c = local.config();
  std::map<int64_t, LatentCache> caches;
  std::vector<int64_t> words;
  std::vector<SequenceChunk> chunks;
  std::vector<std::vector<int32_t>> ids;
  std::vector<float> hidden, discard;
  for (;;) {
    int64_t size = 0;
    DSV3_RETURN_IF_ERROR(comm.wait_broadcast(&size, sizeof size));
    if (size < 1 || size > (int64_t{1} << 34)) return make_error("rank 0 announced a step of {} words", size);
    words.resize(static_cast<std::size_t>(size));
    DSV3_RETURN_IF_ERROR(comm.broadcast(words.data(), size * static_cast<int64_t>(sizeof(int64_t))));
    std::size_t at = 0;
    const auto next = [&]() -> Result<int64_t> {
      if (at >= words.size()) return make_error("rank 0's step ends early");
      return words[at++];
    };
    const auto cache_of = [&](int64_t id) -> Result<LatentCache*> {
      auto it = caches.find(id);
      if (it == caches.end()) return make_error("rank 0 named cache {} that this rank does not hold", id);
      return &it->second;
    };
    while (at < words.size()) {
      DSV3_ASSIGN_OR_RETURN(const int64_t op, next());
      switch (op) {
        case kCreate: {
          DSV3_ASSIGN_OR_RETURN(const int64_t id, next());
          DSV3_ASSIGN_OR_RETURN(const int64_t dtype, next());
          caches.insert_or_assign(id, local.make_cache(0, static_cast<DType>(dtype)));
          break;
        }
        case kClone: {
          DSV3_ASSIGN_OR_RETURN(const int64_t from, next());
          DSV3_ASSIGN_OR_RETURN(const int64_t id, next());
          DSV3_ASSIGN_OR_RETURN(LatentCache* src, cache_of(from));
          caches.insert_or_assign(id, LatentCache(*src));
          break;
        }
        case kDrop: {
          DSV3_ASSIGN_OR_RETURN(const int64_t id, next());
          caches.erase(id);
          break;
        }
        case kForward: {
          DSV3_ASSIGN_OR_RETURN(const int64_t count, next());
          chunks.clear();
          ids.resize(static_cast<std::size_t>(std::max<int64_t>(count, 0)));
          int64_t tokens = 0;
          for (int64_t k = 0; k < count; ++k) {
            DSV3_ASSIGN_OR_RETURN(const int64_t id, next());
            DSV3_ASSIGN_OR_RETURN(const int64_t start, next());
            DSV3_ASSIGN_OR_RETURN(const int64_t len, next());
            if (len < 0 || static_cast<std::size_t>(len) > words.size() - at)
              return make_error("rank 0's step names {} tokens past its end", len);
            DSV3_ASSIGN_OR_RETURN(LatentCache* cache, cache_of(id));
            auto& v = ids[static_cast<std::size_t>(k)];
            v.assign(words.begin() + static_cast<std::ptrdiff_t>(at), words.begin() + static_cast<std::ptrdiff_t>(at + len));
            at += static_cast<std::size_t>(len);
            chunks.push_back({v, start, cache});
            tokens += len;
          }
          hidden.resize(static_cast<std::size_t>(tokens * c.hidden_size));
          DSV3_RETURN_IF_ERROR(local.forward(chunks, hidden.data()));
          break;
        }
        case kLogits: {
          DSV3_ASSIGN_OR_RETURN(const int64_t n, next());
          if (n < 1 || n > (int64_t{1} << 24)) return make_error("rank 0 asked for logits of {} rows", n);
          hidden.resize(static_cast<std::size_t>(n * c.hidden_size));
          DSV3_RETURN_IF_ERROR(
              comm.broadcast(hidden.data(), n * c.hidden_size * static_cast<int64_t>(sizeof(float))));
          DSV3_RETURN_IF_ERROR(local.logits(hidden.data(), n, discard.data()));
          break;
        }
        case kReport: {
          DSV3_ASSIGN_OR_RETURN(const int64_t reset, next());
          if (auto r = exchange_reports(local, comm, reset != 0); !r.ok()) return r.error();
          break;
        }
        case kTimeSums: {
          DSV3_ASSIGN_OR_RETURN(const int64_t count, next());
          DSV3_ASSIGN_OR_RETURN(const int64_t floats, next());
          if (count < 1 || count > (1 << 20) || floats < 1 || floats > (int64_t{1} << 28))
            return make_error("rank 0 asked for {} sums of {} floats", count, floats);
          DSV3_RETURN_IF_ERROR(run_sums(comm, 1 + count, floats));
          break;
        }
        case kFinish:
          return {};
        default:
          return make_error("rank 0 announced an unknown step {}", op);
      }
    }
  }
}

}  // namespace dsv3
