#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace og::correlator {

// Little-endian binary writer/reader for shard snapshots. The reader never reads past the end:
// every get returns false on truncation so a corrupt snapshot is rejected, not trusted.
class SnapshotWriter {
 public:
  template <typename T>
  void put(T v) {
    char b[sizeof(T)];
    std::memcpy(b, &v, sizeof(T));
    out_.append(b, sizeof(T));
  }
  void put_string(std::string_view s) {
    put<std::uint32_t>(static_cast<std::uint32_t>(s.size()));
    out_.append(s);
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

class SnapshotReader {
 public:
  explicit SnapshotReader(std::string_view in) : in_(in) {}
  template <typename T>
  bool get(T& v) {
    if (in_.size() < sizeof(T)) return fail();
    std::memcpy(&v, in_.data(), sizeof(T));
    in_.remove_prefix(sizeof(T));
    return true;
  }
  bool get_string(std::string& s) {
    std::uint32_t n = 0;
    if (!get(n) || in_.size() < n) return fail();
    s.assign(in_.data(), n);
    in_.remove_prefix(n);
    return true;
  }
  // A count of items that each take at least `min_item` bytes: bounded by what is left.
  bool get_count(std::uint32_t& n, std::size_t min_item) {
    if (!get(n)) return false;
    if (static_cast<std::size_t>(n) * min_item > in_.size()) return fail();
    return true;
  }
  bool ok() const { return ok_; }
  bool at_end() const { return in_.empty(); }

 private:
  bool fail() {
    ok_ = false;
    return false;
  }
  std::string_view in_;
  bool ok_ = true;
};

}  // namespace og::correlator
