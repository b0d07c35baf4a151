#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace og::correlator {

// An interned string for values that repeat across events (event types, countries, outcome
// reasons, source names). Equal symbols share one stored copy, so comparing two is a pointer
// compare and an Event holding one owns nothing. Interned strings live until process exit.
class Symbol {
 public:
  Symbol() = default;

  static Symbol intern(std::string_view text);

  std::string_view view() const { return *text_; }
  const std::string& str() const { return *text_; }
  bool empty() const { return text_->empty(); }

  friend bool operator==(Symbol a, Symbol b) { return a.text_ == b.text_; }
  std::size_t hash() const { return std::hash<const void*>{}(text_); }

  // How many distinct strings have been interned (exported as a metric).
  static std::size_t interned_count();

 private:
  explicit Symbol(const std::string* text) : text_(text) {}
  static const std::string kEmpty;
  const std::string* text_ = &kEmpty;
};

}  // namespace og::correlator

template <>
struct std::hash<og::correlator::Symbol> {
  std::size_t operator()(og::correlator::Symbol s) const noexcept { return s.hash(); }
};
