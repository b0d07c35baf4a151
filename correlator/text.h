#pragma once

#include <fmt/format.h>

#include <compare>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <initializer_list>
#include <ostream>
#include <string>
#include <string_view>

namespace og::correlator {

// The text of an Event field. It owns its bytes like std::string, but keeps up to 39 of them
// inline, where std::string keeps 15: uuids (36), Okta ids (20), most logins and emails, session
// and transaction ids and IPv6 addresses fit, so a typical System Log event allocates for its user
// agent and little else. Those allocations, one per field over 15 bytes, were about 7% of the
// time to normalise an event (bench/parse).
//
// It reads as a std::string_view; it is not NUL-terminated.
class Text {
 public:
  static constexpr std::size_t kInlineCapacity = 39;

  Text() noexcept { set_tag(0); }
  Text(std::string_view text) { init(text); }  // NOLINT: implicit, as std::string from a literal
  Text(const char* text) : Text(std::string_view(text)) {}
  Text(const std::string& text) : Text(std::string_view(text)) {}
  Text(const Text& other) { init(other.view()); }
  Text(Text&& other) noexcept {
    std::memcpy(bytes_, other.bytes_, sizeof bytes_);
    other.set_tag(0);
  }
  Text& operator=(const Text& other) {
    if (this != &other) assign(other.view());
    return *this;
  }
  Text& operator=(Text&& other) noexcept {
    if (this != &other) {
      release();
      std::memcpy(bytes_, other.bytes_, sizeof bytes_);
      other.set_tag(0);
    }
    return *this;
  }
  Text& operator=(std::string_view text) {
    assign(text);
    return *this;
  }
  Text& operator=(const char* text) { return *this = std::string_view(text); }
  // `text = {}` clears, as for std::string (without it, {} would pick the const char* overload).
  Text& operator=(std::initializer_list<char> chars) { return *this = std::string_view(chars.begin(), chars.size()); }
  Text& operator=(const std::string& text) { return *this = std::string_view(text); }
  ~Text() { release(); }

  // `text` may point into this Text.
  void assign(std::string_view text) {
    if (text.size() <= capacity()) {
      move_short_or_any(data_mut(), text.data(), text.size());
      set_size(text.size());
      return;
    }
    Text grown(text);
    *this = std::move(grown);
  }
  void clear() noexcept { set_size(0); }

  const char* data() const noexcept { return is_heap() ? heap().data : bytes_; }
  std::size_t size() const noexcept { return is_heap() ? heap().size : tag(); }
  std::size_t length() const noexcept { return size(); }
  bool empty() const noexcept { return size() == 0; }
  const char* begin() const noexcept { return data(); }
  const char* end() const noexcept { return data() + size(); }
  char operator[](std::size_t i) const noexcept { return data()[i]; }
  char front() const noexcept { return data()[0]; }
  char back() const noexcept { return data()[size() - 1]; }

  std::string_view view() const noexcept { return {data(), size()}; }
  operator std::string_view() const noexcept { return view(); }  // NOLINT: reads as a view
  std::string str() const { return std::string(view()); }
  explicit operator std::string() const { return str(); }

  bool starts_with(std::string_view prefix) const noexcept { return view().starts_with(prefix); }
  bool ends_with(std::string_view suffix) const noexcept { return view().ends_with(suffix); }

  // Whether the value lives on the heap (tests and benchmarks).
  bool allocated() const noexcept { return is_heap(); }

  // Templates, so that Text against Text is an exact match and not, as with a string_view
  // parameter, a tie between the operator and its reversed form (ambiguous in ISO C++20).
  template <typename S>
  requires std::convertible_to<const S&, std::string_view>
  friend bool operator==(const Text& a, const S& b) noexcept { return a.view() == std::string_view(b); }
  template <typename S>
  requires std::convertible_to<const S&, std::string_view>
  friend std::strong_ordering operator<=>(const Text& a, const S& b) noexcept {
    return a.view() <=> std::string_view(b);
  }
  friend std::ostream& operator<<(std::ostream& out, const Text& text) { return out << text.view(); }

 private:
  // Inline: the bytes, then in the last byte their count. Heap: a HeapPart at the start, and
  // kHeapTag in the last byte.
  struct HeapPart {
    char* data;
    std::size_t size;
    std::size_t capacity;
  };
  static constexpr unsigned char kHeapTag = 0xFF;
  static_assert(sizeof(HeapPart) < kInlineCapacity);

  unsigned char tag() const noexcept { return static_cast<unsigned char>(bytes_[kInlineCapacity]); }
  void set_tag(unsigned char tag) noexcept { bytes_[kInlineCapacity] = static_cast<char>(tag); }
  bool is_heap() const noexcept { return tag() == kHeapTag; }
  HeapPart heap() const noexcept {
    HeapPart part;
    std::memcpy(&part, bytes_, sizeof part);
    return part;
  }
  void set_heap(const HeapPart& part) noexcept {
    std::memcpy(bytes_, &part, sizeof part);
    set_tag(kHeapTag);
  }
  std::size_t capacity() const noexcept { return is_heap() ? heap().capacity : kInlineCapacity; }
  char* data_mut() noexcept { return is_heap() ? heap().data : bytes_; }
  void set_size(std::size_t size) noexcept {
    if (is_heap()) {
      HeapPart part = heap();
      part.size = size;
      set_heap(part);
    } else {
      set_tag(static_cast<unsigned char>(size));
    }
  }
  // The first and the last sizeof(Word) of n bytes, n < 2 * sizeof(Word): two overlapping words.
  template <typename Word>
  static void move_ends(char* dst, const char* src, std::size_t n) noexcept {
    Word head, tail;
    std::memcpy(&head, src, sizeof head);
    std::memcpy(&tail, src + n - sizeof tail, sizeof tail);
    std::memcpy(dst, &head, sizeof head);
    std::memcpy(dst + n - sizeof tail, &tail, sizeof tail);
  }
  // memmove for any size, inline for up to 48 bytes: every load before any store, in a few
  // fixed-size (overlapping) pieces. Event fields are mostly short, and for them the call into
  // libc's size-dispatching memmove cost more than the copy (bench/parse).
  static void move_short_or_any(char* dst, const char* src, std::size_t n) noexcept {
    if (n > 48) {
      std::memmove(dst, src, n);
    } else if (n >= 16) {
      char a[16], b[16], c[16];
      std::memcpy(a, src, 16);
      std::memcpy(b, src + (n >= 32 ? 16 : n - 16), 16);
      std::memcpy(c, src + n - 16, 16);
      std::memcpy(dst, a, 16);
      std::memcpy(dst + (n >= 32 ? 16 : n - 16), b, 16);
      std::memcpy(dst + n - 16, c, 16);
    } else if (n >= 8) {
      move_ends<std::uint64_t>(dst, src, n);
    } else if (n >= 4) {
      move_ends<std::uint32_t>(dst, src, n);
    } else if (n > 0) {
      const char a = src[0], b = src[n / 2], c = src[n - 1];
      dst[0] = a;
      dst[n / 2] = b;
      dst[n - 1] = c;
    }
  }
  void init(std::string_view text) {
    if (text.size() <= kInlineCapacity) {
      move_short_or_any(bytes_, text.data(), text.size());
      set_tag(static_cast<unsigned char>(text.size()));
      return;
    }
    char* data = new char[text.size()];
    std::memcpy(data, text.data(), text.size());
    set_heap(HeapPart{data, text.size(), text.size()});
  }
  void release() noexcept {
    if (is_heap()) delete[] heap().data;
  }

  alignas(8) char bytes_[kInlineCapacity + 1];
};

}  // namespace og::correlator

template <>
struct std::hash<og::correlator::Text> {
  std::size_t operator()(const og::correlator::Text& text) const noexcept {
    return std::hash<std::string_view>{}(text.view());
  }
};

template <>
struct fmt::formatter<og::correlator::Text> : fmt::formatter<std::string_view> {
  auto format(const og::correlator::Text& text, fmt::format_context& ctx) const {
    return fmt::formatter<std::string_view>::format(text.view(), ctx);
  }
};
