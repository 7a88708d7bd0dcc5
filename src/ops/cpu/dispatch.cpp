#include <atomic>
#include <cstdlib>

#include "ops/cpu/kernels.h"

namespace dsv3::ops::cpu {

namespace {
bool cpu_has(const std::string& isa) {
#if defined(__x86_64__) && defined(__GNUC__)
  if (isa == "avx512")
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
  if (isa == "avx2") return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (isa == "avx512_bf16") return cpu_has("avx512") && __builtin_cpu_supports("avx512bf16");
#endif
  return isa == "generic";
}

const KernelTable* table_for(const std::string& isa) {
#if defined(DSV3_X86_KERNELS)
  if (isa == "avx512") return &avx512::kTable;
  if (isa == "avx2") return &avx2::kTable;
#endif
  if (isa == "generic") return &generic::kTable;
  return nullptr;
}

const KernelTable* initial() {
  if (const char* env = std::getenv("DSV3_ISA"); env != nullptr && cpu_has(env) && table_for(env)) return table_for(env);
  return table_for(available_isas().front());
}

std::atomic<const KernelTable*>& current() {
  static std::atomic<const KernelTable*> t{initial()};
  return t;
}
}  // namespace

std::vector<std::string> available_isas() {
  std::vector<std::string> out;
  for (const char* isa : {"avx512", "avx2", "generic"})
    if (cpu_has(isa) && table_for(isa)) out.emplace_back(isa);
  return out;
}

const KernelTable& kernels() { return *current().load(std::memory_order_relaxed); }

bool force_isa(const std::string& name) {
  if (!cpu_has(name) || table_for(name) == nullptr) return false;
  current().store(table_for(name));
  return true;
}

const Bf16Kernels* bf16_kernels() {
#if defined(DSV3_X86_KERNELS)
  static const bool supported = cpu_has("avx512_bf16");
  if (supported && &kernels() == &avx512::kTable) return &avx512_bf16::kBf16;
#endif
  return nullptr;
}

}  // namespace dsv3::ops::cpu
