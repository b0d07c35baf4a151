#pragma once

#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "tests/okta_emulator/json.h"

namespace og::test::emulator {

// Okta's SCIM-like filter language (`search=`, `filter=` on users and groups, `filter=` on logs):
//   expr   := and ("or" and)*
//   and    := unary ("and" unary)*
//   unary  := "not" unary | "(" expr ")" | path op value | path "pr"
//   op     := eq ne gt ge lt le sw ew co        (case-insensitive)
//   value  := "string with \" and \\ escapes" | number | true | false | null
enum class Op { eq, ne, gt, ge, lt, le, sw, ew, co, pr };

struct Expr {
  enum class Kind { compare, and_, or_, not_ };
  Kind kind = Kind::compare;
  std::string path;
  Op op = Op::eq;
  Json value;
  std::vector<Expr> children;
};

struct ParseResult {
  std::unique_ptr<Expr> expr;  // null on error
  std::string error;
};

ParseResult parse_expression(std::string_view text);

// What a caller allows: Okta restricts which attributes and operators each query kind takes.
struct ExprRules {
  std::set<Op> ops;                     // allowed operators
  std::set<std::string> attributes;     // empty: any
  std::set<std::string> attr_prefixes;  // e.g. "profile." for user search
  bool allow_not = true;
  // `co` only on these attributes (empty: anywhere the op is allowed).
  std::set<std::string> co_attributes;
  // lastUpdated-style attributes that take the ordering operators even where others take only eq.
  std::set<std::string> range_attributes;
  std::set<Op> range_ops;
};

// Empty when e obeys rules, otherwise what is wrong.
std::string check_rules(const Expr& e, const ExprRules& rules);

// Evaluates against a JSON document (user, group, or log event). Paths are dotted; an array on the
// way matches when any element matches (SCIM semantics, used for `target.id` on log events).
// case_insensitive: string values compare case-insensitively (Okta's `search=`); `filter=` is exact.
bool evaluate(const Expr& e, const Json& doc, bool case_insensitive);

}  // namespace og::test::emulator
