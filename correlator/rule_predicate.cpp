#include "correlator/rule_predicate.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <re2/re2.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <map>

namespace og::correlator {
namespace {

char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != b[i]) return false;  // b is stored lower-cased
  }
  return true;
}

bool istarts_with(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() && iequals(text.substr(0, prefix.size()), prefix);
}

bool iends_with(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && iequals(text.substr(text.size() - suffix.size()), suffix);
}

bool icontains(std::string_view text, std::string_view needle) {
  if (needle.empty()) return true;
  if (text.size() < needle.size()) return false;
  for (std::size_t i = 0; i + needle.size() <= text.size(); ++i) {
    if (iequals(text.substr(i, needle.size()), needle)) return true;
  }
  return false;
}

std::optional<double> as_number(const FieldView& v) {
  if (v.kind == FieldView::Kind::number || v.kind == FieldView::Kind::boolean) return v.number;
  if (v.kind != FieldView::Kind::string) return std::nullopt;
  double out = 0;
  auto [end, ec] = std::from_chars(v.text.data(), v.text.data() + v.text.size(), out);
  if (ec != std::errc{} || end != v.text.data() + v.text.size()) return std::nullopt;
  return out;
}

bool present(const FieldView& v) {
  if (v.kind == FieldView::Kind::missing || v.kind == FieldView::Kind::null) return false;
  return !(v.kind == FieldView::Kind::string && v.text.empty());
}

bool ops_hold(const std::vector<FieldOp>& ops, const FieldView& v) {
  for (const FieldOp& op : ops) {
    if (!eval_field_op(op, v)) return false;
  }
  return true;
}

bool symbol_equals(const FieldOp& op, Symbol value) {
  return !value.empty() && std::find(op.symbols.begin(), op.symbols.end(), value) != op.symbols.end();
}

struct Evaluator {
  const Event& event;
  PredicateMemo* memo = nullptr;
  std::string scratch;

  bool field(const PredicateNode& node, std::optional<std::size_t> target) {
    if (const Symbol* sym = symbol_field(event, node.field)) {
      for (const FieldOp& op : node.ops) {
        bool holds =
            op.symbols.empty() ? eval_field_op(op, read_field(event, node.field, 0, scratch)) : symbol_equals(op, *sym);
        if (!holds) return false;
      }
      return true;
    }
    if (node.field.per_target()) {
      if (target) return ops_hold(node.ops, read_field(event, node.field, *target, scratch));
      if (event.targets.empty()) return ops_hold(node.ops, FieldView{});
      for (std::size_t i = 0; i < event.targets.size(); ++i) {
        if (ops_hold(node.ops, read_field(event, node.field, i, scratch))) return true;
      }
      return false;
    }
    if (node.field.id == FieldId::ip_chain) {
      if (event.ip_chain.empty()) return ops_hold(node.ops, FieldView{});
      for (std::size_t i = 0; i < event.ip_chain.size(); ++i) {
        if (ops_hold(node.ops, read_field(event, node.field, i, scratch))) return true;
      }
      return false;
    }
    return ops_hold(node.ops, read_field(event, node.field, 0, scratch));
  }

  bool eval(const PredicateNode& node, std::optional<std::size_t> target) {
    if (node.memo && memo && !target) {
      int known = memo->get(node.memo - 1);
      if (known >= 0) return known == 1;
      bool result = eval_node(node, target);
      memo->set(node.memo - 1, result);
      return result;
    }
    return eval_node(node, target);
  }

  bool eval_node(const PredicateNode& node, std::optional<std::size_t> target) {
    switch (node.kind) {
      case PredicateNode::Kind::always:
        return true;
      case PredicateNode::Kind::all:
        for (const PredicateNode& c : node.children) {
          if (!eval(c, target)) return false;
        }
        return true;
      case PredicateNode::Kind::any:
        for (const PredicateNode& c : node.children) {
          if (eval(c, target)) return true;
        }
        return false;
      case PredicateNode::Kind::negate:
        return !eval(node.children.front(), target);
      case PredicateNode::Kind::field:
        return field(node, target);
      case PredicateNode::Kind::any_target:
        for (std::size_t i = 0; i < event.targets.size(); ++i) {
          if (eval(node.children.front(), i)) return true;
        }
        return false;
      case PredicateNode::Kind::all_targets:
        if (event.targets.empty()) return false;
        for (std::size_t i = 0; i < event.targets.size(); ++i) {
          if (!eval(node.children.front(), i)) return false;
        }
        return true;
    }
    return false;
  }
};

void collect_types(const PredicateNode& node, std::vector<std::string>& out, bool& constrained) {
  switch (node.kind) {
    case PredicateNode::Kind::field:
      if (node.field.id != FieldId::event_type) return;
      for (const FieldOp& op : node.ops) {
        if (op.kind == FieldOp::Kind::equals && !op.ignore_case) {
          out = op.strings;
          constrained = true;
          return;
        }
      }
      return;
    case PredicateNode::Kind::all:
      // Any one constrained conjunct constrains the whole.
      for (const PredicateNode& c : node.children) {
        std::vector<std::string> types;
        bool inner = false;
        collect_types(c, types, inner);
        if (inner) {
          out = std::move(types);
          constrained = true;
          return;
        }
      }
      return;
    case PredicateNode::Kind::any: {
      // A disjunction is constrained only if every branch is; the union is the candidate set.
      std::vector<std::string> all;
      for (const PredicateNode& c : node.children) {
        std::vector<std::string> types;
        bool inner = false;
        collect_types(c, types, inner);
        if (!inner) return;
        all.insert(all.end(), types.begin(), types.end());
      }
      if (node.children.empty()) return;
      std::sort(all.begin(), all.end());
      all.erase(std::unique(all.begin(), all.end()), all.end());
      out = std::move(all);
      constrained = true;
      return;
    }
    default:
      return;
  }
}

bool is_symbol_field(FieldId id) {
  static const Event probe;
  return symbol_field(probe, id) != nullptr;
}

void intern_ops(std::vector<FieldOp>& ops) {
  for (FieldOp& op : ops) {
    if (op.kind == FieldOp::Kind::equals && !op.ignore_case) {
      op.symbols.clear();
      for (const std::string& text : op.strings)
        op.symbols.push_back(Symbol::intern(text));
    }
    intern_ops(op.group);
  }
}

void put_ops(std::string& out, const std::vector<FieldOp>& ops) {
  out += '[';
  for (const FieldOp& op : ops) {
    out += fmt::format("{}:{}:{}:{}:{}", static_cast<int>(op.kind), op.ignore_case, op.number, op.boolean,
                       op.strings.size());
    for (const std::string& text : op.strings)
      out += fmt::format(":{}:{}", text.size(), text);
    if (op.regex) out += fmt::format(":re{}:{}", op.regex->pattern().size(), op.regex->pattern());
    for (const Cidr& c : op.cidrs)
      out += fmt::format(":c{}:{}", fmt::join(c.address, "."), c.prefix_bits);
    put_ops(out, op.group);
    out += ';';
  }
  out += ']';
}

// A text that equal subtrees (and only they) share; `keys` gets each memoisable node's key.
std::string structure(PredicateNode& node, bool in_target, std::vector<std::pair<PredicateNode*, std::string>>& keys) {
  std::string out =
      fmt::format("({}:{}:{}", static_cast<int>(node.kind), static_cast<int>(node.field.id), node.field.extra_slot);
  if (node.kind == PredicateNode::Kind::field) {
    if (is_symbol_field(node.field.id)) intern_ops(node.ops);
    put_ops(out, node.ops);
  }
  bool child_in_target =
      in_target || node.kind == PredicateNode::Kind::any_target || node.kind == PredicateNode::Kind::all_targets;
  for (PredicateNode& c : node.children)
    out += structure(c, child_in_target, keys);
  out += ')';
  node.memo = 0;
  if (!in_target && node.kind != PredicateNode::Kind::always) keys.emplace_back(&node, out);
  return out;
}

}  // namespace

std::uint32_t prepare_predicates(const std::vector<PredicateNode*>& roots) {
  std::vector<std::pair<PredicateNode*, std::string>> keys;
  for (PredicateNode* root : roots)
    structure(*root, false, keys);
  std::map<std::string, std::uint32_t> count;
  for (const auto& [node, key] : keys)
    ++count[key];
  std::map<std::string, std::uint32_t> slot;
  for (const auto& [node, key] : keys) {
    if (count[key] < 2) continue;
    auto [it, inserted] = slot.try_emplace(key, static_cast<std::uint32_t>(slot.size() + 1));
    node->memo = it->second;
  }
  return static_cast<std::uint32_t>(slot.size());
}

bool Cidr::contains(const std::array<std::uint8_t, 16>& ip) const {
  std::size_t full = prefix_bits / 8;
  if (std::memcmp(address.data(), ip.data(), full) != 0) return false;
  unsigned rest = prefix_bits % 8;
  if (rest == 0) return true;
  auto mask = static_cast<std::uint8_t>(0xFF << (8 - rest));
  return (address[full] & mask) == (ip[full] & mask);
}

std::optional<std::array<std::uint8_t, 16>> parse_ip(std::string_view text) {
  if (text.empty() || text.size() > 45) return std::nullopt;
  char buf[64];
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  std::array<std::uint8_t, 16> out{};
  if (text.find(':') == std::string_view::npos) {
    in_addr v4{};
    if (inet_pton(AF_INET, buf, &v4) != 1) return std::nullopt;
    out[10] = 0xFF;
    out[11] = 0xFF;
    std::memcpy(out.data() + 12, &v4, 4);
    return out;
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, buf, &v6) != 1) return std::nullopt;
  std::memcpy(out.data(), &v6, 16);
  return out;
}

std::optional<Cidr> parse_cidr(std::string_view text) {
  std::string_view addr = text;
  std::optional<unsigned> bits;
  if (auto slash = text.find('/'); slash != std::string_view::npos) {
    addr = text.substr(0, slash);
    std::string_view b = text.substr(slash + 1);
    unsigned v = 0;
    auto [end, ec] = std::from_chars(b.data(), b.data() + b.size(), v);
    if (ec != std::errc{} || end != b.data() + b.size() || b.empty()) return std::nullopt;
    bits = v;
  }
  auto ip = parse_ip(addr);
  if (!ip) return std::nullopt;
  bool v4 = addr.find(':') == std::string_view::npos;
  unsigned max = v4 ? 32 : 128;
  unsigned b = bits.value_or(max);
  if (b > max) return std::nullopt;
  Cidr c;
  c.address = *ip;
  c.prefix_bits = static_cast<std::uint8_t>(v4 ? b + 96 : b);
  // Zero the host bits so `contains` compares networks.
  for (unsigned i = c.prefix_bits; i < 128; ++i)
    c.address[i / 8] &= static_cast<std::uint8_t>(~(0x80u >> (i % 8)));
  return c;
}

bool eval_field_op(const FieldOp& op, const FieldView& v) {
  if (op.kind == FieldOp::Kind::exists) return present(v) == op.boolean;
  if (op.kind == FieldOp::Kind::negate) return !ops_hold(op.group, v);
  if (!present(v)) return false;
  std::string_view text = v.text;
  switch (op.kind) {
    case FieldOp::Kind::equals:
      if (op.ignore_case) {
        return std::any_of(op.strings.begin(), op.strings.end(),
                           [&](const std::string& s) { return iequals(text, s); });
      }
      if (op.strings.size() > 8) return std::binary_search(op.strings.begin(), op.strings.end(), text);
      return std::any_of(op.strings.begin(), op.strings.end(), [&](const std::string& s) { return text == s; });
    case FieldOp::Kind::prefix:
      return std::any_of(op.strings.begin(), op.strings.end(), [&](const std::string& s) {
        return op.ignore_case ? istarts_with(text, s) : text.substr(0, s.size()) == s;
      });
    case FieldOp::Kind::suffix:
      return std::any_of(op.strings.begin(), op.strings.end(), [&](const std::string& s) {
        return op.ignore_case ? iends_with(text, s)
                              : (text.size() >= s.size() && text.substr(text.size() - s.size()) == s);
      });
    case FieldOp::Kind::contains:
      return std::any_of(op.strings.begin(), op.strings.end(), [&](const std::string& s) {
        return op.ignore_case ? icontains(text, s) : text.find(s) != std::string_view::npos;
      });
    case FieldOp::Kind::regex:
      return re2::RE2::PartialMatch(re2::StringPiece(text.data(), text.size()), *op.regex);
    case FieldOp::Kind::cidr: {
      auto ip = parse_ip(text);
      if (!ip) return false;
      return std::any_of(op.cidrs.begin(), op.cidrs.end(), [&](const Cidr& c) { return c.contains(*ip); });
    }
    case FieldOp::Kind::gt:
    case FieldOp::Kind::gte:
    case FieldOp::Kind::lt:
    case FieldOp::Kind::lte:
    case FieldOp::Kind::num_equals: {
      auto n = as_number(v);
      if (!n) return false;
      switch (op.kind) {
        case FieldOp::Kind::gt:
          return *n > op.number;
        case FieldOp::Kind::gte:
          return *n >= op.number;
        case FieldOp::Kind::lt:
          return *n < op.number;
        case FieldOp::Kind::lte:
          return *n <= op.number;
        default:
          return *n == op.number;
      }
    }
    case FieldOp::Kind::bool_equals:
      if (v.kind == FieldView::Kind::boolean) return v.boolean == op.boolean;
      return iequals(text, op.boolean ? "true" : "false");
    case FieldOp::Kind::exists:
    case FieldOp::Kind::negate:
      break;
  }
  return false;
}

bool Predicate::matches(const Event& event) const {
  return matches(event, nullptr);
}

bool Predicate::evaluate(const Event& event, PredicateMemo* memo) const {
  Evaluator ev{event, memo, {}};
  return ev.eval(root_, std::nullopt);
}

std::vector<std::string> Predicate::required_event_types() const {
  std::vector<std::string> out;
  bool constrained = false;
  collect_types(root_, out, constrained);
  if (!constrained) out.clear();
  return out;
}

}  // namespace og::correlator
