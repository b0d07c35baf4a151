#include "daemon/applied_offsets.h"

#include <fmt/core.h>

#include <charconv>

namespace og::daemon {
namespace {

constexpr std::string_view kMagic = "OGOFFSETS1\n";

bool parse_int(std::string_view text, std::int64_t& out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

}  // namespace

void AppliedOffsets::add(std::string_view topic, std::int32_t partition, std::int64_t offset) {
  auto& set = ranges_[Key(std::string(topic), partition)];
  auto next = set.upper_bound(offset);  // first range starting after offset
  if (next != set.begin()) {
    auto prev = std::prev(next);
    if (offset <= prev->second) return;  // already in
    if (offset == prev->second + 1) {
      prev->second = offset;
      if (next != set.end() && next->first == offset + 1) {
        prev->second = next->second;
        set.erase(next);
      }
      return;
    }
  }
  if (next != set.end() && next->first == offset + 1) {
    std::int64_t last = next->second;
    set.erase(next);
    set.emplace(offset, last);
    return;
  }
  set.emplace(offset, offset);
  if (partition >= 0 && set.size() > kMaxRanges) set.erase(set.begin());
}

bool AppliedOffsets::contains(std::string_view topic, std::int32_t partition, std::int64_t offset) const {
  auto it = ranges_.find(Key(std::string(topic), partition));
  if (it == ranges_.end()) return false;
  auto next = it->second.upper_bound(offset);
  if (next == it->second.begin()) return false;
  return offset <= std::prev(next)->second;
}

std::optional<std::int64_t> AppliedOffsets::forget_if_past_end(std::string_view topic, std::int32_t partition,
                                                               std::int64_t end_offset) {
  auto it = ranges_.find(Key(std::string(topic), partition));
  if (it == ranges_.end() || it->second.empty()) return std::nullopt;
  const std::int64_t highest = std::prev(it->second.end())->second;
  if (highest < end_offset) return std::nullopt;
  ranges_.erase(it);
  return highest;
}

void AppliedOffsets::forget_if(const std::function<bool(std::string_view, std::int32_t)>& drop) {
  std::erase_if(ranges_, [&](const auto& entry) { return drop(entry.first.first, entry.first.second); });
}

std::size_t AppliedOffsets::ranges(std::string_view topic, std::int32_t partition) const {
  auto it = ranges_.find(Key(std::string(topic), partition));
  return it == ranges_.end() ? 0 : it->second.size();
}

std::string AppliedOffsets::serialize() const {
  std::string out(kMagic);
  for (const auto& [key, set] : ranges_) {
    out += fmt::format("{}\t{}\t", key.first, key.second);
    bool first = true;
    for (const auto& [a, b] : set) {
      out += fmt::format("{}{}-{}", first ? "" : ",", a, b);
      first = false;
    }
    out += '\n';
  }
  return out;
}

bool AppliedOffsets::is_serialized(std::string_view blob) {
  return blob.starts_with(kMagic);
}

std::optional<AppliedOffsets> AppliedOffsets::parse(std::string_view blob) {
  if (!is_serialized(blob)) return std::nullopt;
  blob.remove_prefix(kMagic.size());
  AppliedOffsets out;
  while (!blob.empty()) {
    auto nl = blob.find('\n');
    if (nl == std::string_view::npos) return std::nullopt;
    std::string_view line = blob.substr(0, nl);
    blob.remove_prefix(nl + 1);
    auto t1 = line.find('\t');
    auto t2 = t1 == std::string_view::npos ? t1 : line.find('\t', t1 + 1);
    if (t2 == std::string_view::npos) return std::nullopt;
    std::int64_t partition = 0;
    if (!parse_int(line.substr(t1 + 1, t2 - t1 - 1), partition)) return std::nullopt;
    auto& set = out.ranges_[Key(std::string(line.substr(0, t1)), static_cast<std::int32_t>(partition))];
    std::string_view list = line.substr(t2 + 1);
    while (!list.empty()) {
      auto comma = list.find(',');
      std::string_view range = list.substr(0, comma);
      list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
      auto dash = range.find('-', 1);  // offsets are never negative; skip a sign position anyway
      std::int64_t a = 0, b = 0;
      if (dash == std::string_view::npos || !parse_int(range.substr(0, dash), a) ||
          !parse_int(range.substr(dash + 1), b) || b < a)
        return std::nullopt;
      set.emplace(a, b);
    }
  }
  return out;
}

}  // namespace og::daemon
