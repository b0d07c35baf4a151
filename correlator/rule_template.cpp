#include <fmt/format.h>

#include <cmath>

#include "correlator/rule_set.h"

namespace og::correlator {
namespace {

double eval_number(const TemplateExpr& e, const TemplateContext& ctx) {
  switch (e.kind) {
    case TemplateExpr::Kind::number:
      return e.number;
    case TemplateExpr::Kind::variable:
      return e.variable == "risk" ? ctx.risk : 0.0;
    case TemplateExpr::Kind::add:
      return eval_number(e.operands[0], ctx) + eval_number(e.operands[1], ctx);
    case TemplateExpr::Kind::sub:
      return eval_number(e.operands[0], ctx) - eval_number(e.operands[1], ctx);
    case TemplateExpr::Kind::mul:
      return eval_number(e.operands[0], ctx) * eval_number(e.operands[1], ctx);
    case TemplateExpr::Kind::div: {
      double d = eval_number(e.operands[1], ctx);
      return d == 0 ? 0.0 : eval_number(e.operands[0], ctx) / d;
    }
  }
  return 0;
}

}  // namespace

std::string render_template(const Template& t, const TemplateContext& ctx) {
  std::string out;
  for (const Template::Part& part : t.parts) {
    out += part.literal;
    if (!part.expr) continue;
    const TemplateExpr& e = *part.expr;
    if (e.kind == TemplateExpr::Kind::variable && e.variable != "risk") {
      if (e.variable == "detection")
        out += ctx.detection;
      else if (e.variable == "detection_title")
        out += ctx.detection_title;
      else if (e.variable == "user")
        out += ctx.user;
      else if (e.variable == "key")
        out += ctx.key;
      else if (e.variable == "severity")
        out += ctx.severity;
      continue;
    }
    double v = eval_number(e, ctx);
    out += fmt::format("{}", static_cast<long long>(std::llround(std::isfinite(v) ? v : 0.0)));
  }
  return out;
}

}  // namespace og::correlator
