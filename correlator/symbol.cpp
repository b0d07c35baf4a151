#include "correlator/symbol.h"

#include <array>
#include <mutex>
#include <shared_mutex>
#include <unordered_set>

namespace og::correlator {
namespace {

struct TransparentHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

// Sharded so parser threads rarely contend; a shard's set is node-based, so element addresses
// stay valid across rehashing and can be handed out as Symbols.
struct Shard {
  std::shared_mutex mutex;
  std::unordered_set<std::string, TransparentHash, std::equal_to<>> strings;
};

constexpr std::size_t kShards = 16;

std::array<Shard, kShards>& shards() {
  static std::array<Shard, kShards> instance;
  return instance;
}

}  // namespace

const std::string Symbol::kEmpty;

Symbol Symbol::intern(std::string_view text) {
  if (text.empty()) return Symbol{};
  Shard& shard = shards()[TransparentHash{}(text) % kShards];
  {
    std::shared_lock lock(shard.mutex);
    if (auto it = shard.strings.find(text); it != shard.strings.end()) return Symbol{&*it};
  }
  std::unique_lock lock(shard.mutex);
  auto [it, inserted] = shard.strings.emplace(text);
  return Symbol{&*it};
}

std::size_t Symbol::interned_count() {
  std::size_t total = 0;
  for (Shard& shard : shards()) {
    std::shared_lock lock(shard.mutex);
    total += shard.strings.size();
  }
  return total;
}

}  // namespace og::correlator
