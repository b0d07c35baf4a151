#include "tests/okta_emulator/search_expr.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <optional>

namespace og::test::emulator {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

class Parser {
 public:
  explicit Parser(std::string_view text) : s_(text) {}

  ParseResult run() {
    ParseResult r;
    auto e = parse_or();
    skip_ws();
    if (e && pos_ != s_.size()) fail("unexpected text at offset " + std::to_string(pos_));
    if (!error_.empty()) {
      r.error = error_;
      return r;
    }
    r.expr = std::make_unique<Expr>(std::move(*e));
    return r;
  }

 private:
  void fail(std::string msg) {
    if (error_.empty()) error_ = std::move(msg);
  }
  void skip_ws() {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_])))
      ++pos_;
  }
  // A bare word (attribute path, operator or keyword).
  std::string_view word() {
    skip_ws();
    std::size_t start = pos_;
    while (pos_ < s_.size()) {
      char c = s_[pos_];
      if (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-' || c == ':') {
        ++pos_;
      } else {
        break;
      }
    }
    return s_.substr(start, pos_ - start);
  }
  bool peek_keyword(std::string_view kw) {
    std::size_t save = pos_;
    auto w = word();
    bool ok = lower(w) == kw;
    pos_ = save;
    return ok;
  }

  std::optional<Expr> parse_or() {
    auto left = parse_and();
    if (!left) return std::nullopt;
    while (peek_keyword("or")) {
      word();
      auto right = parse_and();
      if (!right) return std::nullopt;
      Expr e;
      e.kind = Expr::Kind::or_;
      e.children.push_back(std::move(*left));
      e.children.push_back(std::move(*right));
      left = std::move(e);
    }
    return left;
  }
  std::optional<Expr> parse_and() {
    auto left = parse_unary();
    if (!left) return std::nullopt;
    while (peek_keyword("and")) {
      word();
      auto right = parse_unary();
      if (!right) return std::nullopt;
      Expr e;
      e.kind = Expr::Kind::and_;
      e.children.push_back(std::move(*left));
      e.children.push_back(std::move(*right));
      left = std::move(e);
    }
    return left;
  }
  std::optional<Expr> parse_unary() {
    skip_ws();
    if (pos_ < s_.size() && s_[pos_] == '(') {
      ++pos_;
      auto inner = parse_or();
      if (!inner) return std::nullopt;
      skip_ws();
      if (pos_ >= s_.size() || s_[pos_] != ')') {
        fail("missing ')'");
        return std::nullopt;
      }
      ++pos_;
      return inner;
    }
    if (peek_keyword("not")) {
      word();
      auto inner = parse_unary();
      if (!inner) return std::nullopt;
      Expr e;
      e.kind = Expr::Kind::not_;
      e.children.push_back(std::move(*inner));
      return e;
    }
    auto path = word();
    if (path.empty()) {
      fail("expected an attribute at offset " + std::to_string(pos_));
      return std::nullopt;
    }
    auto op_word = lower(word());
    static const std::pair<const char*, Op> kOps[] = {{"eq", Op::eq}, {"ne", Op::ne}, {"gt", Op::gt}, {"ge", Op::ge},
                                                      {"lt", Op::lt}, {"le", Op::le}, {"sw", Op::sw}, {"ew", Op::ew},
                                                      {"co", Op::co}, {"pr", Op::pr}};
    std::optional<Op> op;
    for (const auto& [name, o] : kOps)
      if (op_word == name) op = o;
    if (!op) {
      fail("unknown operator '" + op_word + "'");
      return std::nullopt;
    }
    Expr e;
    e.path = std::string(path);
    e.op = *op;
    if (*op != Op::pr) {
      auto v = value();
      if (!v) return std::nullopt;
      e.value = std::move(*v);
    }
    return e;
  }
  std::optional<Json> value() {
    skip_ws();
    if (pos_ >= s_.size()) {
      fail("expected a value");
      return std::nullopt;
    }
    if (s_[pos_] == '"') {
      ++pos_;
      std::string out;
      while (pos_ < s_.size() && s_[pos_] != '"') {
        if (s_[pos_] == '\\') {
          if (pos_ + 1 >= s_.size()) break;
          char n = s_[pos_ + 1];
          if (n != '"' && n != '\\') {
            fail("bad escape '\\" + std::string(1, n) + "'");
            return std::nullopt;
          }
          out.push_back(n);
          pos_ += 2;
        } else {
          out.push_back(s_[pos_++]);
        }
      }
      if (pos_ >= s_.size()) {
        fail("unterminated string");
        return std::nullopt;
      }
      ++pos_;
      return Json(std::move(out));
    }
    auto w = word();
    auto lw = lower(w);
    if (lw == "true") return Json(true);
    if (lw == "false") return Json(false);
    if (lw == "null") return Json();
    std::int64_t i = 0;
    auto [p, ec] = std::from_chars(w.data(), w.data() + w.size(), i);
    if (!w.empty() && ec == std::errc() && p == w.data() + w.size()) return Json(i);
    double d = 0;
    auto [p2, ec2] = std::from_chars(w.data(), w.data() + w.size(), d);
    if (!w.empty() && ec2 == std::errc() && p2 == w.data() + w.size()) return Json(d);
    fail("bad value '" + std::string(w) + "'");
    return std::nullopt;
  }

  std::string_view s_;
  std::size_t pos_ = 0;
  std::string error_;
};

// Collects the leaf values at `path`, descending into arrays.
void collect(const Json& node, std::string_view path, std::vector<const Json*>& out) {
  if (node.is_array()) {
    for (const auto& el : node.as_array())
      collect(el, path, out);
    return;
  }
  if (path.empty()) {
    out.push_back(&node);
    return;
  }
  auto dot = path.find('.');
  const Json* child = node.find(path.substr(0, dot));
  if (!child) return;
  collect(*child, dot == std::string_view::npos ? std::string_view{} : path.substr(dot + 1), out);
}

int compare_values(const Json& a, const Json& b, bool ci, bool* comparable) {
  *comparable = true;
  if (a.is_number() && b.is_number()) {
    double x = a.as_double(), y = b.as_double();
    return x < y ? -1 : (x > y ? 1 : 0);
  }
  if (a.is_string() && b.is_string()) {
    auto x = ci ? lower(a.as_string()) : a.as_string();
    auto y = ci ? lower(b.as_string()) : b.as_string();
    return x.compare(y) < 0 ? -1 : (x == y ? 0 : 1);
  }
  if (a.is_bool() && b.is_bool()) return a.as_bool() == b.as_bool() ? 0 : 1;
  if (a.is_null() && b.is_null()) return 0;
  *comparable = false;
  return 1;
}

bool match_leaf(const Json& leaf, Op op, const Json& value, bool ci) {
  bool comparable = false;
  switch (op) {
    case Op::pr:
      return !leaf.is_null();
    case Op::eq:
      return compare_values(leaf, value, ci, &comparable) == 0 && comparable;
    case Op::ne:
      return !(compare_values(leaf, value, ci, &comparable) == 0 && comparable);
    case Op::gt:
      return compare_values(leaf, value, ci, &comparable) > 0 && comparable;
    case Op::ge:
      return compare_values(leaf, value, ci, &comparable) >= 0 && comparable;
    case Op::lt:
      return compare_values(leaf, value, ci, &comparable) < 0 && comparable;
    case Op::le:
      return compare_values(leaf, value, ci, &comparable) <= 0 && comparable;
    case Op::sw:
    case Op::ew:
    case Op::co: {
      if (!leaf.is_string() || !value.is_string()) return false;
      // Okta's sw/co are case-insensitive in both search and filter.
      auto x = lower(leaf.as_string()), y = lower(value.as_string());
      if (op == Op::sw) return x.rfind(y, 0) == 0;
      if (op == Op::ew) return x.size() >= y.size() && x.compare(x.size() - y.size(), y.size(), y) == 0;
      return x.find(y) != std::string::npos;
    }
  }
  return false;
}

}  // namespace

ParseResult parse_expression(std::string_view text) {
  return Parser(text).run();
}

std::string check_rules(const Expr& e, const ExprRules& rules) {
  switch (e.kind) {
    case Expr::Kind::and_:
    case Expr::Kind::or_:
      for (const auto& c : e.children)
        if (auto err = check_rules(c, rules); !err.empty()) return err;
      return {};
    case Expr::Kind::not_:
      if (!rules.allow_not) return "the 'not' operator is not supported";
      return check_rules(e.children.front(), rules);
    case Expr::Kind::compare:
      break;
  }
  bool attr_ok = rules.attributes.empty() || rules.attributes.count(e.path) > 0;
  for (const auto& prefix : rules.attr_prefixes)
    if (e.path.rfind(prefix, 0) == 0) attr_ok = true;
  if (!attr_ok) return "attribute '" + e.path + "' is not supported";
  bool op_ok = rules.ops.count(e.op) > 0;
  if (!op_ok && rules.range_attributes.count(e.path) && rules.range_ops.count(e.op)) op_ok = true;
  if (!op_ok) return "operator not supported for '" + e.path + "'";
  if (e.op == Op::co && !rules.co_attributes.empty() && !rules.co_attributes.count(e.path))
    return "'co' is not supported for '" + e.path + "'";
  return {};
}

bool evaluate(const Expr& e, const Json& doc, bool case_insensitive) {
  switch (e.kind) {
    case Expr::Kind::and_:
      return std::all_of(e.children.begin(), e.children.end(),
                         [&](const Expr& c) { return evaluate(c, doc, case_insensitive); });
    case Expr::Kind::or_:
      return std::any_of(e.children.begin(), e.children.end(),
                         [&](const Expr& c) { return evaluate(c, doc, case_insensitive); });
    case Expr::Kind::not_:
      return !evaluate(e.children.front(), doc, case_insensitive);
    case Expr::Kind::compare:
      break;
  }
  std::vector<const Json*> leaves;
  collect(doc, e.path, leaves);
  if (leaves.empty()) return e.op == Op::ne;
  return std::any_of(leaves.begin(), leaves.end(),
                     [&](const Json* leaf) { return match_leaf(*leaf, e.op, e.value, case_insensitive); });
}

}  // namespace og::test::emulator
