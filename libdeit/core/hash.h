// Small non-cryptographic hashes shared by the training code.
#pragma once

#include <cstddef>
#include <cstdint>

namespace deit {

// splitmix64's finaliser: a bijection of 64-bit values whose outputs look independent; turns counters
// into seeds.
inline uint64_t splitmix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

constexpr uint64_t kGoldenGamma = 0x9e3779b97f4a7c15ULL;  // splitmix64's counter increment

// FNV-1a over bytes, continuing from `h` (start with kFnvOffset).
constexpr uint64_t kFnvOffset = 0xcbf29ce484222325ULL;
inline uint64_t fnv1a(uint64_t h, const void* data, size_t n) {
  const auto* b = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 0x100000001b3ULL;
  return h;
}

}  // namespace deit
