#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "correlator/event.h"
#include "correlator/fields.h"

namespace re2 {
class RE2;
}

namespace og::correlator {

// An IPv4 or IPv6 network; IPv4 is held as an IPv4-mapped IPv6 address so one compare serves both.
struct Cidr {
  std::array<std::uint8_t, 16> address{};
  std::uint8_t prefix_bits = 128;  // in the 128-bit space
  bool contains(const std::array<std::uint8_t, 16>& ip) const;
};

// Parses "10.0.0.0/8", "2001:db8::/32" or a bare address (a /32 or /128).
std::optional<Cidr> parse_cidr(std::string_view text);
std::optional<std::array<std::uint8_t, 16>> parse_ip(std::string_view text);

// One operator applied to one field value.
struct FieldOp {
  enum class Kind : std::uint8_t {
    equals,  // any of `strings`
    prefix,
    suffix,
    contains,
    regex,
    cidr,
    gt,
    gte,
    lt,
    lte,
    num_equals,   // `number`, or the string form in `strings` for non-number fields
    bool_equals,  // `boolean`, or "true"/"false" text
    exists,       // `boolean`: must exist (true) or must be absent (false)
    negate,       // `group` does not hold
  };
  Kind kind = Kind::equals;
  bool ignore_case = false;
  std::vector<std::string> strings;  // lower-cased when ignore_case; sorted for equals
  std::shared_ptr<const re2::RE2> regex;
  std::vector<Cidr> cidrs;
  double number = 0;
  bool boolean = false;
  std::vector<FieldOp> group;
  // equals (case-sensitive) on a field held as a Symbol: `strings` interned, so a match is a pointer
  // compare (filled by prepare_predicates).
  std::vector<Symbol> symbols;
};

// A compiled predicate over one event. Built by the loader; immutable and shareable across threads.
struct PredicateNode {
  enum class Kind : std::uint8_t { always, all, any, negate, field, any_target, all_targets };
  Kind kind = Kind::always;
  std::vector<PredicateNode> children;
  FieldRef field;
  std::vector<FieldOp> ops;  // kind == field: all must hold
  // 1-based slot in a PredicateMemo, for a subtree that occurs more than once in the rule set
  // (macros are expanded by copy); 0: not memoised.
  std::uint32_t memo = 0;
};

// Per-event results of the memoised subtrees, so a macro shared by several detections is evaluated
// once per event. Clear it before each event.
class PredicateMemo {
 public:
  void clear(std::uint32_t slots) {
    std::size_t words = (std::size_t{slots} + 64) / 64;
    if (known_.size() != words) {
      known_.assign(words, 0);
      values_.assign(words, 0);
    } else {
      std::fill(known_.begin(), known_.end(), 0);
    }
  }
  // -1 unknown, else the result.
  int get(std::uint32_t slot) const {
    std::uint64_t bit = std::uint64_t{1} << (slot % 64);
    if (!(known_[slot / 64] & bit)) return -1;
    return (values_[slot / 64] & bit) ? 1 : 0;
  }
  void set(std::uint32_t slot, bool value) {
    std::uint64_t bit = std::uint64_t{1} << (slot % 64);
    known_[slot / 64] |= bit;
    if (value)
      values_[slot / 64] |= bit;
    else
      values_[slot / 64] &= ~bit;
  }

 private:
  std::vector<std::uint64_t> known_;
  std::vector<std::uint64_t> values_;
};

class Predicate {
 public:
  Predicate() = default;
  explicit Predicate(PredicateNode root) : root_(std::move(root)) {}
  bool matches(const Event& event) const;
  // With the memo of the event being applied (shared by every predicate evaluated on it). Inline:
  // most calls end at the memo, a macro another detection has already evaluated on this event.
  bool matches(const Event& event, PredicateMemo* memo) const {
    if (root_.kind == PredicateNode::Kind::always) return true;
    if (memo && root_.memo) {
      int known = memo->get(root_.memo - 1);
      if (known >= 0) return known == 1;
    }
    return evaluate(event, memo);
  }
  const PredicateNode& root() const { return root_; }
  PredicateNode& mutable_root() { return root_; }
  bool is_always() const { return root_.kind == PredicateNode::Kind::always; }

  // The eventType values an event must have for this predicate to hold; empty when any type may
  // match. Used to index detections by event type.
  std::vector<std::string> required_event_types() const;

 private:
  bool evaluate(const Event& event, PredicateMemo* memo) const;
  PredicateNode root_;
};

// Evaluates one field operator on a value (exposed for tests).
bool eval_field_op(const FieldOp& op, const FieldView& value);

// Compiles the fast paths of a rule set's predicates: interns equals strings on Symbol fields, and
// numbers the subtrees that occur more than once (outside any_target/all_targets, whose children
// depend on the target) as memo slots. Returns the number of slots.
std::uint32_t prepare_predicates(const std::vector<PredicateNode*>& roots);

}  // namespace og::correlator
